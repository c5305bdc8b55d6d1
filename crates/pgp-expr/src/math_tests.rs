//! The kernels against the platform's libm (glibc's `sin`, `cos` and `exp` are correctly
//! rounded in all but rare cases), in ulps, over wide, narrow and special ranges.

use proptest::prelude::*;

use super::*;

/// Distance in units in the last place (0 for two NaNs; huge for NaN against a number).
fn ulps(a: f64, b: f64) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u64::MAX
        };
    }
    // Map the bits onto a line where adjacent doubles are adjacent integers (-0 == +0).
    let key = |v: f64| {
        let b = v.to_bits() as i64;
        if b < 0 {
            i64::MIN - b
        } else {
            b
        }
    };
    key(a).abs_diff(key(b))
}

/// Largest error against libm over `n` evenly spread points of `[lo, hi]`.
fn max_ulps(core: fn(f64) -> f64, libm: fn(f64) -> f64, lo: f64, hi: f64, n: usize) -> u64 {
    (0..=n)
        .map(|i| {
            let x = lo + (hi - lo) * (i as f64 / n as f64);
            ulps(core(x), libm(x))
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn within_one_ulp_of_libm_on_dense_sweeps() {
    let n = 200_000;
    let cases: [(&str, fn(f64) -> f64, fn(f64) -> f64, f64, f64); 8] = [
        ("sin", sin_core, f64::sin, -7.0, 7.0),
        ("sin", sin_core, f64::sin, -1e5, 1e5),
        ("sin", sin_core, f64::sin, 1e8, TRIG_LIMIT),
        ("cos", cos_core, f64::cos, -7.0, 7.0),
        ("cos", cos_core, f64::cos, -1e5, 1e5),
        ("cos", cos_core, f64::cos, -TRIG_LIMIT, -1e8),
        ("exp", exp_core, f64::exp, -1.0, 1.0),
        ("exp", exp_core, f64::exp, -EXP_LIMIT, EXP_LIMIT),
    ];
    for (name, core, libm, lo, hi) in cases {
        let worst = max_ulps(core, libm, lo, hi, n);
        assert!(worst <= 1, "{name} on [{lo}, {hi}]: {worst} ulps");
    }
}

#[test]
fn multiples_of_pi_over_two_keep_their_tiny_remainders() {
    // Where x is closest to a multiple of pi/2 the result is tiny and every bit of the
    // reduction counts.
    for k in 1..=2000i32 {
        let x = f64::from(k) * std::f64::consts::FRAC_PI_2;
        for y in [x, x.next_up(), x.next_down()] {
            assert!(ulps(sin_core(y), y.sin()) <= 1, "sin({y:e})");
            assert!(ulps(cos_core(y), y.cos()) <= 1, "cos({y:e})");
        }
    }
}

#[test]
fn special_values() {
    let specials = [
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        f64::MIN_POSITIVE,
        -f64::MIN_POSITIVE,
        5e-324,
        -5e-324,
        1e-300,
        SIN_TINY,
        -SIN_TINY,
        TRIG_LIMIT,
        TRIG_LIMIT.next_up(),
        1e22,
        f64::MAX,
        -f64::MAX,
        EXP_LIMIT,
        -EXP_LIMIT,
        709.78,
        709.79,
        -745.13,
        -745.14,
        -746.0,
        1000.0,
        -1000.0,
    ];
    for x in specials {
        for (name, got, want) in [
            ("sin", sin(x), x.sin()),
            ("cos", cos(x), x.cos()),
            ("exp", exp(x), x.exp()),
        ] {
            assert!(
                ulps(got, want) <= 1,
                "{name}({x:e}) = {got:e}, libm {want:e}"
            );
        }
    }
    assert_eq!(sin(-0.0).to_bits(), (-0.0f64).to_bits());
    assert_eq!(sin(0.0).to_bits(), 0.0f64.to_bits());
    assert_eq!(sin(-5e-324).to_bits(), (-5e-324f64).to_bits());
    assert_eq!(cos(0.0), 1.0);
    assert_eq!(cos(-0.0), 1.0);
    assert_eq!(exp(0.0), 1.0);
    assert_eq!(exp(-0.0), 1.0);
    assert_eq!(exp(1.0), std::f64::consts::E);
    assert_eq!(exp(f64::INFINITY), f64::INFINITY);
    assert_eq!(exp(f64::NEG_INFINITY), 0.0);
    assert_eq!(exp(710.0), f64::INFINITY);
    assert_eq!(exp(-750.0), 0.0);
    assert!(sin(f64::INFINITY).is_nan() && cos(f64::NEG_INFINITY).is_nan());
    assert!(sin(f64::NAN).is_nan() && cos(f64::NAN).is_nan() && exp(f64::NAN).is_nan());
}

#[test]
fn blocks_compute_what_the_scalar_functions_compute() {
    // Odd lengths exercise the vector loops' remainders; the huge, infinite and NaN lanes
    // take the libm pass.
    let mut x: Vec<f64> = (0..1037).map(|i| (f64::from(i) - 500.0) * 0.37).collect();
    x[3] = f64::NAN;
    x[100] = 1e300;
    x[101] = f64::NEG_INFINITY;
    x[500] = 800.0;
    x[501] = -800.0;
    let mut out = vec![0.0; x.len()];
    let fns: [(fn(&[f64], &mut [f64]), fn(f64) -> f64); 3] =
        [(sin_slice, sin), (cos_slice, cos), (exp_slice, exp)];
    for (block, scalar) in fns {
        block(&x, &mut out);
        for (&v, &o) in x.iter().zip(&out) {
            let want = scalar(v);
            assert!(
                o.to_bits() == want.to_bits() || (o.is_nan() && want.is_nan()),
                "{v:e}: block {o:e}, scalar {want:e}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn sin_cos_within_one_ulp_anywhere(
        x in prop_oneof![
            -10.0..10.0f64,
            -TRIG_LIMIT..TRIG_LIMIT,
            -1e-6..1e-6f64,
            any::<f64>(),
        ]
    ) {
        prop_assert!(ulps(sin(x), x.sin()) <= 1, "sin({:e}): {:e} vs {:e}", x, sin(x), x.sin());
        prop_assert!(ulps(cos(x), x.cos()) <= 1, "cos({:e}): {:e} vs {:e}", x, cos(x), x.cos());
        if trig_in_range(x) {
            prop_assert!(ulps(sin_core(x), x.sin()) <= 1);
            prop_assert!(ulps(cos_core(x), x.cos()) <= 1);
        }
    }

    #[test]
    fn exp_within_one_ulp_anywhere(
        x in prop_oneof![-2.0..2.0f64, -EXP_LIMIT..EXP_LIMIT, -800.0..800.0f64, any::<f64>()]
    ) {
        prop_assert!(ulps(exp(x), x.exp()) <= 1, "exp({:e}): {:e} vs {:e}", x, exp(x), x.exp());
        if exp_in_range(x) {
            prop_assert!(ulps(exp_core(x), x.exp()) <= 1);
        }
    }
}

/// The worst error over a few million points, printed (run with `--ignored --nocapture`).
#[test]
#[ignore]
fn measure_worst_ulps() {
    let n = 4_000_000;
    for (name, core, libm, lo, hi) in [
        (
            "sin",
            sin_core as fn(f64) -> f64,
            f64::sin as fn(f64) -> f64,
            -7.0,
            7.0,
        ),
        ("sin", sin_core, f64::sin, -TRIG_LIMIT, TRIG_LIMIT),
        ("cos", cos_core, f64::cos, -7.0, 7.0),
        ("cos", cos_core, f64::cos, -TRIG_LIMIT, TRIG_LIMIT),
        ("exp", exp_core, f64::exp, -1.0, 1.0),
        ("exp", exp_core, f64::exp, -EXP_LIMIT, EXP_LIMIT),
    ] {
        let mut differ = 0usize;
        let mut worst = 0;
        for i in 0..=n {
            let x = lo + (hi - lo) * (i as f64 / n as f64);
            let u = ulps(core(x), libm(x));
            worst = worst.max(u);
            differ += usize::from(u != 0);
        }
        println!("{name} [{lo:e}, {hi:e}]: max {worst} ulp, {differ} of {n} differ from libm");
    }
}
