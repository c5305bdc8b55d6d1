//! The syntax tree, and the functions and operators of the language.

/// A node of the syntax tree; `col` is where it starts in the source (1-based).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub kind: NodeKind,
    pub col: usize,
    /// Levels of nodes below and including this one (a leaf is 1).
    pub height: usize,
}

impl Node {
    /// A node; its height is computed from its children.
    pub fn new(kind: NodeKind, col: usize) -> Node {
        let below = match &kind {
            NodeKind::Num(_) | NodeKind::Var(_) => 0,
            NodeKind::Unary(_, x) | NodeKind::IsNodata(x) => x.height,
            NodeKind::Binary(_, a, b) => a.height.max(b.height),
            NodeKind::Where(c, a, b) => c.height.max(a.height).max(b.height),
        };
        Node {
            kind,
            col,
            height: below + 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeKind {
    Num(f64),
    Var(String),
    Unary(Un, Box<Node>),
    Binary(Bin, Box<Node>, Box<Node>),
    Where(Box<Node>, Box<Node>, Box<Node>),
    IsNodata(Box<Node>),
}

/// One-operand operations (operators and functions of one argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Un {
    Neg,
    Not,
    Abs,
    Sqrt,
    Exp,
    Log,
    Log10,
    Log2,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Floor,
    Ceil,
    Round,
    Trunc,
    IsNan,
    IsInf,
}

/// Two-operand operations (operators and functions of two arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Min,
    Max,
    Atan2,
}

/// How a function name is called.
pub(crate) enum Callee {
    Unary(Un),
    Binary(Bin),
    /// `min`/`max`: two or more arguments, folded left.
    Variadic(Bin),
    Where,
    IsNodata,
}

/// Every function the language knows, with its calling shape.
pub(crate) const FUNCTIONS: &[(&str, &str)] = &[
    ("where", "where(condition, if_true, if_false)"),
    ("min", "min(a, b, ...)"),
    ("max", "max(a, b, ...)"),
    ("abs", "abs(x)"),
    ("sqrt", "sqrt(x)"),
    ("exp", "exp(x)"),
    ("log", "log(x)  (natural logarithm)"),
    ("log10", "log10(x)"),
    ("log2", "log2(x)"),
    ("sin", "sin(x)"),
    ("cos", "cos(x)"),
    ("tan", "tan(x)"),
    ("asin", "asin(x)"),
    ("acos", "acos(x)"),
    ("atan", "atan(x)"),
    ("atan2", "atan2(y, x)"),
    ("pow", "pow(base, exponent)"),
    ("floor", "floor(x)"),
    ("ceil", "ceil(x)"),
    ("round", "round(x)  (halves to even, like numpy)"),
    ("trunc", "trunc(x)"),
    ("isnan", "isnan(x)"),
    ("isinf", "isinf(x)"),
    (
        "isnodata",
        "isnodata(x)  (true where x is nodata; never nodata itself)",
    ),
];

/// Names that are constants, so they cannot name inputs.
#[cfg(test)]
pub(crate) const CONSTANTS: &[&str] = &["nan", "inf", "pi", "true", "false"];

pub(crate) fn constant(name: &str) -> Option<f64> {
    Some(match name {
        "nan" => f64::NAN,
        "inf" => f64::INFINITY,
        "pi" => std::f64::consts::PI,
        "true" => 1.0,
        "false" => 0.0,
        _ => return None,
    })
}

pub(crate) fn callee(name: &str) -> Option<Callee> {
    use Callee::*;
    Some(match name {
        "where" => Where,
        "isnodata" => IsNodata,
        "min" => Variadic(Bin::Min),
        "max" => Variadic(Bin::Max),
        "pow" => Binary(Bin::Pow),
        "atan2" => Binary(Bin::Atan2),
        "abs" => Unary(Un::Abs),
        "sqrt" => Unary(Un::Sqrt),
        "exp" => Unary(Un::Exp),
        "log" => Unary(Un::Log),
        "log10" => Unary(Un::Log10),
        "log2" => Unary(Un::Log2),
        "sin" => Unary(Un::Sin),
        "cos" => Unary(Un::Cos),
        "tan" => Unary(Un::Tan),
        "asin" => Unary(Un::Asin),
        "acos" => Unary(Un::Acos),
        "atan" => Unary(Un::Atan),
        "floor" => Unary(Un::Floor),
        "ceil" => Unary(Un::Ceil),
        "round" => Unary(Un::Round),
        "trunc" => Unary(Un::Trunc),
        "isnan" => Unary(Un::IsNan),
        "isinf" => Unary(Un::IsInf),
        _ => return None,
    })
}

impl Un {
    /// The operation on one value.
    #[inline(always)]
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Un::Neg => -x,
            Un::Not => truth(x == 0.0),
            Un::Abs => x.abs(),
            Un::Sqrt => x.sqrt(),
            Un::Exp => crate::math::exp(x),
            Un::Log => x.ln(),
            Un::Log10 => x.log10(),
            Un::Log2 => x.log2(),
            Un::Sin => crate::math::sin(x),
            Un::Cos => crate::math::cos(x),
            Un::Tan => x.tan(),
            Un::Asin => x.asin(),
            Un::Acos => x.acos(),
            Un::Atan => x.atan(),
            Un::Floor => x.floor(),
            Un::Ceil => x.ceil(),
            Un::Round => x.round_ties_even(),
            Un::Trunc => x.trunc(),
            Un::IsNan => truth(x.is_nan()),
            Un::IsInf => truth(x.is_infinite()),
        }
    }
}

impl Bin {
    /// The operation on two values. Booleans are 1 and 0; any non-zero value (NaN too) is true,
    /// as in numpy. `%` takes the sign of the divisor (Python's rule); `min`/`max` propagate NaN
    /// (numpy's `minimum`/`maximum`).
    #[inline(always)]
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Bin::Add => a + b,
            Bin::Sub => a - b,
            Bin::Mul => a * b,
            Bin::Div => a / b,
            Bin::Rem => floor_rem(a, b),
            Bin::Pow => a.powf(b),
            Bin::Eq => truth(a == b),
            Bin::Ne => truth(a != b),
            Bin::Lt => truth(a < b),
            Bin::Le => truth(a <= b),
            Bin::Gt => truth(a > b),
            Bin::Ge => truth(a >= b),
            Bin::And => truth(a != 0.0 && b != 0.0),
            Bin::Or => truth(a != 0.0 || b != 0.0),
            Bin::Min => {
                if a.is_nan() || b.is_nan() {
                    f64::NAN
                } else if b < a {
                    b
                } else {
                    a
                }
            }
            Bin::Max => {
                if a.is_nan() || b.is_nan() {
                    f64::NAN
                } else if b > a {
                    b
                } else {
                    a
                }
            }
            Bin::Atan2 => a.atan2(b),
        }
    }

    /// True for operations whose result is always 0 or 1.
    pub fn is_boolean(self) -> bool {
        matches!(
            self,
            Bin::Eq | Bin::Ne | Bin::Lt | Bin::Le | Bin::Gt | Bin::Ge | Bin::And | Bin::Or
        )
    }
}

#[inline(always)]
fn truth(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

#[inline(always)]
fn floor_rem(a: f64, b: f64) -> f64 {
    let r = a % b;
    if r != 0.0 && ((r < 0.0) != (b < 0.0)) {
        r + b
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_style_remainder_and_nan_propagating_min_max() {
        assert_eq!(Bin::Rem.apply(-7.0, 3.0), 2.0);
        assert_eq!(Bin::Rem.apply(7.0, -3.0), -2.0);
        assert_eq!(Bin::Rem.apply(7.0, 3.0), 1.0);
        assert!(Bin::Min.apply(f64::NAN, 1.0).is_nan());
        assert!(Bin::Max.apply(1.0, f64::NAN).is_nan());
        assert_eq!(Bin::Max.apply(1.0, 2.0), 2.0);
        assert_eq!(Un::Round.apply(2.5), 2.0);
        assert_eq!(Un::Round.apply(3.5), 4.0);
        assert_eq!(Bin::And.apply(f64::NAN, 2.0), 1.0);
        assert_eq!(Un::Not.apply(0.0), 1.0);
    }

    #[test]
    fn every_listed_function_resolves() {
        for (name, _) in FUNCTIONS {
            assert!(callee(name).is_some(), "{name}");
        }
        for name in CONSTANTS {
            assert!(constant(name).is_some(), "{name}");
        }
    }
}
