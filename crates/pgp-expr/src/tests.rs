//! The compiled register machine against a plain per-pixel tree walk of the same syntax tree.

use ndarray::{array, Array2};
use proptest::prelude::*;

use super::ast::{Node, NodeKind};
use super::*;

/// Per-pixel reference: (value, valid), written directly from the language's rules.
fn reference(n: &Node, px: &dyn Fn(&str) -> (f64, bool)) -> (f64, bool) {
    match &n.kind {
        NodeKind::Num(v) => (*v, true),
        NodeKind::Var(name) => px(name),
        NodeKind::Unary(op, x) => {
            let (v, ok) = reference(x, px);
            (op.apply(v), ok)
        }
        NodeKind::Binary(op, a, b) => {
            let (x, xo) = reference(a, px);
            let (y, yo) = reference(b, px);
            (op.apply(x, y), xo && yo)
        }
        NodeKind::Where(c, a, b) => {
            let (cv, co) = reference(c, px);
            let (t, f) = (reference(a, px), reference(b, px));
            let (v, ok) = if cv != 0.0 { t } else { f };
            (v, co && ok)
        }
        NodeKind::IsNodata(x) => {
            let (_, ok) = reference(x, px);
            (if ok { 0.0 } else { 1.0 }, true)
        }
    }
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn check(source: &str, a: &Array2<f64>, b: &Array2<f64>, k: f64) {
    let e = Expression::parse(source).unwrap();
    let nd_a = Some(-9999.0);
    let nd_b = Some(f64::NAN);
    let out = e
        .evaluate(&[
            (
                "a",
                Value::Array {
                    values: a.view(),
                    nodata: nd_a,
                },
            ),
            (
                "b",
                Value::Array {
                    values: b.view(),
                    nodata: nd_b,
                },
            ),
            ("k", Value::Scalar(k)),
        ])
        .unwrap();
    for (idx, &got) in out.values.indexed_iter() {
        let px = |name: &str| match name {
            "a" => (a[idx], a[idx] != -9999.0),
            "b" => (b[idx], !b[idx].is_nan()),
            "k" => (k, true),
            other => panic!("unbound {other}"),
        };
        let (want, want_ok) = reference(&e.root, &px);
        let got_ok = out.valid.as_ref().is_none_or(|m| m[idx]);
        assert_eq!(got_ok, want_ok, "{source} validity at {idx:?}");
        if want_ok {
            assert!(same(got, want), "{source} at {idx:?}: {got} vs {want}");
        }
    }
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("k".to_string()),
        (-5i32..20).prop_map(|v| v.to_string()),
        Just("0.5".to_string()),
        Just("nan".to_string()),
    ]
}

fn expr_strategy() -> impl Strategy<Value = String> {
    leaf().prop_recursive(5, 40, 3, |inner| {
        let bin = prop::sample::select(vec![
            "+", "-", "*", "/", "%", "**", "==", "!=", "<", "<=", ">", ">=", "and", "or",
        ]);
        let fun = prop::sample::select(vec![
            "abs", "sqrt", "exp", "log", "sin", "cos", "floor", "round", "isnan", "isnodata",
        ]);
        prop_oneof![
            (inner.clone(), bin, inner.clone()).prop_map(|(l, op, r)| format!("({l} {op} {r})")),
            (fun, inner.clone()).prop_map(|(f, x)| format!("{f}({x})")),
            inner.clone().prop_map(|x| format!("-{x}")),
            inner.clone().prop_map(|x| format!("(not {x})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, t, f)| format!("where({c}, {t}, {f})")),
            (inner.clone(), inner.clone(), inner)
                .prop_map(|(x, y, z)| format!("max({x}, {y}, {z})")),
        ]
    })
}

fn arrays() -> impl Strategy<Value = (Array2<f64>, Array2<f64>)> {
    let value = prop_oneof![
        Just(-9999.0),
        Just(f64::NAN),
        Just(0.0),
        -100.0..100.0f64,
        (0i32..4).prop_map(f64::from),
    ];
    prop::collection::vec((value.clone(), value), 12).prop_map(|v| {
        let a = Array2::from_shape_fn((3, 4), |(r, c)| v[r * 4 + c].0);
        let b = Array2::from_shape_fn((3, 4), |(r, c)| v[r * 4 + c].1);
        (a, b)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn machine_matches_tree_walk(source in expr_strategy(), (a, b) in arrays(), k in -3.0..3.0f64) {
        check(&source, &a, &b, k);
    }

    /// Repeated subexpressions are computed once and their registers live until their last
    /// reader: the same expression three times over, nested, must still match the tree walk.
    #[test]
    fn shared_subexpressions_match_tree_walk(
        x in expr_strategy(), y in expr_strategy(), (a, b) in arrays(), k in -3.0..3.0f64
    ) {
        let source = format!("where({x}, ({y}) * ({x}), ({x}) - ({y})) + max({y}, {x}, {y})");
        check(&source, &a, &b, k);
    }

    #[test]
    fn any_text_parses_or_errors_inside_it(s in "[a-z0-9 +*/()<>=!,.-]{0,40}") {
        match Expression::parse(&s) {
            Ok(e) => prop_assert_eq!(Expression::parse(e.source()).unwrap(), e),
            Err(err) => prop_assert!(err.column() >= 1 && err.column() <= s.chars().count() + 1),
        }
    }
}

#[test]
fn nodata_propagates_unless_handled() {
    let a = array![[1.0, -9999.0, 3.0]];
    let b = array![[f64::NAN, 2.0, 3.0]];
    let bind = |e: &Expression| {
        e.evaluate(&[
            (
                "a",
                Value::Array {
                    values: a.view(),
                    nodata: Some(-9999.0),
                },
            ),
            (
                "b",
                Value::Array {
                    values: b.view(),
                    nodata: Some(f64::NAN),
                },
            ),
        ])
        .unwrap()
    };
    let out = bind(&"a + b".parse().unwrap());
    assert_eq!(out.valid.unwrap(), array![[false, false, true]]);
    assert_eq!(out.values[[0, 2]], 6.0);
    let out = bind(
        &"where(isnodata(a), 0, a) + where(isnodata(b), 10, b)"
            .parse()
            .unwrap(),
    );
    assert_eq!(out.valid, None);
    assert_eq!(out.values, array![[11.0, 2.0, 6.0]]);
    // `where` only needs the branch it takes.
    let out = bind(&"where(a > 2, a, b)".parse().unwrap());
    assert_eq!(out.valid.unwrap(), array![[false, false, true]]);
    let out = bind(&"where(isnodata(b), a, b)".parse().unwrap());
    assert_eq!(out.valid, None);
    assert_eq!(out.values, array![[1.0, 2.0, 3.0]]);
}

#[test]
fn unbound_variables_point_at_their_first_use() {
    let e: Expression = "dem * 2 + lc".parse().unwrap();
    let err = e.check_bound(&["dem"]).unwrap_err();
    assert_eq!(err.column(), 11);
    assert!(err.message().contains("`lc`") && err.message().contains("dem"));
    let shown = err.to_string();
    assert!(
        shown.ends_with("\n  dem * 2 + lc\n            ^"),
        "{shown}"
    );
}

#[test]
fn serialises_as_its_source() {
    let e: Expression = "sqrt(a) + log(b)".parse().unwrap();
    let json = serde_json::to_string(&e).unwrap();
    assert_eq!(json, "\"sqrt(a) + log(b)\"");
    let back: Expression = serde_json::from_str(&json).unwrap();
    assert_eq!(back, e);
    let bad: Result<Expression, _> = serde_json::from_str("\"sqrt(a\"");
    assert!(bad.unwrap_err().to_string().contains("column"));
}

#[test]
fn heavy_formula_matches_direct_rust() {
    let x = "(a * 1e-3)";
    let terms: Vec<String> = (1..=32)
        .map(|i| format!("(sin({x} * {i}) * exp(-{x} / {i}) + sqrt(abs(cos({x} + {i}))))"))
        .collect();
    let src = format!("0 + {}", terms.join(" + "));
    let e = Expression::parse(&src).unwrap();
    let a = Array2::from_shape_fn((5, 7), |(r, c)| (r * 311 + c * 97) as f64 * 1.37);
    let out = e
        .evaluate(&[(
            "a",
            Value::Array {
                values: a.view(),
                nodata: None,
            },
        )])
        .unwrap();
    for (idx, &v) in a.indexed_iter() {
        let x = v * 1e-3;
        let (mut acc, mut acc_libm) = (0.0f64, 0.0f64);
        for i in 1..=32 {
            let i = f64::from(i);
            acc += math::sin(x * i) * math::exp(-x / i) + math::cos(x + i).abs().sqrt();
            acc_libm += (x * i).sin() * (-x / i).exp() + (x + i).cos().abs().sqrt();
        }
        // Exactly pgp's functions in the same order; libm's differ from them in the last bit
        // now and then, which the sum of 96 terms keeps small.
        assert_eq!(out.values[idx].to_bits(), acc.to_bits(), "{idx:?}");
        assert!((acc - acc_libm).abs() <= 1e-14 * acc_libm.abs(), "{idx:?}");
    }
}
