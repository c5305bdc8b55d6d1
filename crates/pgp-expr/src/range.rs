//! The range of values an expression can produce, from the ranges of its inputs (interval
//! arithmetic), used to choose an integer output type that holds every result.

use super::ast::{Bin, Node, NodeKind, Un};

/// A closed interval `[lo, hi]`; infinite bounds mean "unbounded".
pub(crate) type Range = (f64, f64);

const ANY: Range = (f64::NEG_INFINITY, f64::INFINITY);
const BOOLEAN: Range = (0.0, 1.0);

/// The values `n` can take when each variable takes values in `var(name)`. Sound for the
/// operations that keep integers integral; other operations give [`ANY`].
pub(crate) fn value_range(n: &Node, var: &dyn Fn(&str) -> Range) -> Range {
    let r = match &n.kind {
        NodeKind::Num(v) if v.is_nan() => ANY,
        NodeKind::Num(v) => (*v, *v),
        NodeKind::Var(name) => var(name),
        NodeKind::IsNodata(_) => BOOLEAN,
        NodeKind::Unary(op, x) => unary(*op, value_range(x, var)),
        NodeKind::Binary(op, a, b) => binary(*op, value_range(a, var), value_range(b, var)),
        NodeKind::Where(_, a, b) => {
            let (a, b) = (value_range(a, var), value_range(b, var));
            (a.0.min(b.0), a.1.max(b.1))
        }
    };
    if r.0.is_nan() || r.1.is_nan() {
        ANY
    } else {
        r
    }
}

fn unary(op: Un, (lo, hi): Range) -> Range {
    match op {
        Un::IsNan | Un::IsInf | Un::Not => BOOLEAN,
        Un::Neg => (-hi, -lo),
        Un::Abs if lo >= 0.0 => (lo, hi),
        Un::Abs if hi <= 0.0 => (-hi, -lo),
        Un::Abs => (0.0, hi.max(-lo)),
        Un::Floor | Un::Ceil | Un::Round | Un::Trunc => (lo.floor(), hi.ceil()),
        _ => ANY,
    }
}

fn binary(op: Bin, a: Range, b: Range) -> Range {
    if op.is_boolean() {
        return BOOLEAN;
    }
    match op {
        Bin::Add => (a.0 + b.0, a.1 + b.1),
        Bin::Sub => (a.0 - b.1, a.1 - b.0),
        Bin::Mul => {
            let p = [a.0 * b.0, a.0 * b.1, a.1 * b.0, a.1 * b.1];
            if p.iter().any(|v| v.is_nan()) {
                return ANY;
            }
            (
                p.iter().copied().fold(f64::INFINITY, f64::min),
                p.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            )
        }
        // Only reached under rounding (`floor(a / b)`): bounded when `b` keeps off zero.
        Bin::Div if b.0 > 0.0 || b.1 < 0.0 => {
            let q = [a.0 / b.0, a.0 / b.1, a.1 / b.0, a.1 / b.1];
            if q.iter().any(|v| v.is_nan()) {
                return ANY;
            }
            (
                q.iter().copied().fold(f64::INFINITY, f64::min),
                q.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            )
        }
        // Python's `%` takes the divisor's sign and is smaller than it in magnitude.
        Bin::Rem if b.0 > 0.0 && a.0 >= 0.0 => (0.0, a.1.min(b.1)),
        Bin::Rem if b.0 > 0.0 => (0.0, b.1),
        Bin::Rem if b.1 < 0.0 => (b.0, 0.0),
        Bin::Rem => (b.0.min(0.0), b.1.max(0.0)),
        Bin::Min => (a.0.min(b.0), a.1.min(b.1)),
        Bin::Max => (a.0.max(b.0), a.1.max(b.1)),
        _ => ANY,
    }
}

#[cfg(test)]
mod tests {
    use crate::Expression;

    fn range(expr: &str) -> (f64, f64) {
        let e = Expression::parse(expr).unwrap();
        e.value_range(&|name| match name {
            "r" | "g" => (0.0, 255.0),
            "s" => (-32768.0, 32767.0),
            _ => (f64::NEG_INFINITY, f64::INFINITY),
        })
    }

    #[test]
    fn ranges_follow_the_operations() {
        assert_eq!(range("r + g"), (0.0, 510.0));
        assert_eq!(range("r - g"), (-255.0, 255.0));
        assert_eq!(range("r * g"), (0.0, 65025.0));
        assert_eq!(range("-s"), (-32767.0, 32768.0));
        assert_eq!(range("abs(r - g)"), (0.0, 255.0));
        assert_eq!(range("r % 7"), (0.0, 7.0));
        assert_eq!(range("s % 7"), (0.0, 7.0));
        assert_eq!(range("min(r, 3)"), (0.0, 3.0));
        assert_eq!(range("max(r, g) * 2"), (0.0, 510.0));
        assert_eq!(range("where(r > g, r, s)"), (-32768.0, 32767.0));
        assert_eq!(range("(r > 3) + (g == 2)"), (0.0, 2.0));
        assert_eq!(range("r / 2"), (0.0, 127.5));
        assert_eq!(range("floor(r / 2)"), (0.0, 128.0));
        assert_eq!(range("r / (g - 1)"), (f64::NEG_INFINITY, f64::INFINITY));
        assert_eq!(range("r * 0 + 2"), (2.0, 2.0));
    }

    proptest::proptest! {
        /// Every value computed from inputs in their ranges lies in the expression's range.
        #[test]
        fn computed_values_lie_in_the_range(r in 0u8..=255, g in 0u8..=255, s in -32768i16..=32767) {
            for expr in ["r + g * s", "r - g - s", "abs(s) % (g + 1)", "max(r - s, g) * -3",
                         "where(r > g, -s, r * g) + (s < 0)", "min(r, g, s) % -5",
                         "floor(s / (g + 1)) - ceil(r / -3)"] {
                let e = Expression::parse(expr).unwrap();
                let (lo, hi) = range(expr);
                let v = e
                    .evaluate(&[
                        ("r", crate::Value::Scalar(f64::from(r))),
                        ("g", crate::Value::Scalar(f64::from(g))),
                        ("s", crate::Value::Scalar(f64::from(s))),
                    ])
                    .unwrap();
                let x = v.values[[0, 0]];
                proptest::prop_assert!(lo <= x && x <= hi, "{expr}: {x} outside {lo}..{hi}");
            }
        }
    }
}
