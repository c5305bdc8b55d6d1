//! Any text given to the expression language parses or fails with an error (never a panic or
//! a stack overflow), and what parses evaluates on a small block with every variable bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ndarray::Array2;
use pgp::ops::expr::{Expression, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expression) = source.parse::<Expression>() else {
        return;
    };
    // A column of ordinary, edge and nodata values, the same for every variable.
    let pixels = Array2::from_shape_vec(
        (1, 6),
        vec![0.0, -1.5, 3.0, f64::NAN, f64::INFINITY, -9999.0],
    )
    .expect("six values in a 1 x 6 block");
    let bindings: Vec<(&str, Value<'_>)> = expression
        .variables()
        .iter()
        .map(|name| {
            let value = Value::Array {
                values: pixels.view(),
                nodata: Some(-9999.0),
            };
            (name.as_str(), value)
        })
        .collect();
    let _ = expression.evaluate(&bindings);
});
