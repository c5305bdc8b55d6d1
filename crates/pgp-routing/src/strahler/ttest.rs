//! Student's t-test as scipy's `ttest_ind(a, b, equal_var=True)` gives its p-value, for the
//! flow accumulation autotuning of [`super::extract_strahler_streams_d8`].

/// The two-sided p-value of Student's t-test for equal means with equal variances (scipy's
/// `ttest_ind(a, b, equal_var=True)`): NaN when both samples are constant and equal.
pub(super) fn student_t_test_p(a: &[f64], b: &[f64]) -> f64 {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (ma, mb) = (mean(a), mean(b));
    let ss = |v: &[f64], m: f64| v.iter().map(|x| (x - m) * (x - m)).sum::<f64>();
    let df = na + nb - 2.0;
    let pooled = (ss(a, ma) + ss(b, mb)) / df;
    let t = (ma - mb) / (pooled * (1.0 / na + 1.0 / nb)).sqrt();
    if t.is_nan() {
        return f64::NAN;
    }
    if t.is_infinite() {
        return 0.0;
    }
    regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
}

/// `I_x(a, b)` by Lentz's continued fraction (Numerical Recipes' `betai`).
fn regularized_incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..500 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, 9 terms; about 1e-15 relative).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = G[0];
    for (i, g) in G.iter().enumerate().skip(1) {
        sum += g / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    // p-values of scipy.stats.ttest_ind(a, b, equal_var=True) (scipy 1.x, the peer's).
    #[test]
    fn t_test_p_values_match_scipy() {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs();
        let p = student_t_test_p(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0, 6.0, 9.0]);
        assert!(close(p, 0.1418603602858507), "{p}");
        let p = student_t_test_p(&[0.5, 1.5, 1.0, 2.5, 0.25], &[3.5, 2.0, 4.25]);
        assert!(close(p, 0.026686186332716688), "{p}");
        assert!(student_t_test_p(&[1.0; 3], &[1.0; 3]).is_nan());
        assert_eq!(student_t_test_p(&[1.0; 3], &[2.0; 3]), 0.0);
    }
}
