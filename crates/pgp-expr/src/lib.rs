//! Raster algebra expressions: a small language for local (per-pixel) operations, with no
//! GDAL and no executor, so it can be used alone (pgp-ops binds it to rasters).
//!
//! ```
//! use pgp_expr::{Expression, Value};
//! use ndarray::array;
//!
//! let e: Expression = "sqrt(a) + b * 2".parse()?;
//! let a = array![[4.0, 9.0]];
//! let out = e.evaluate(&[
//!     ("a", Value::Array { values: a.view(), nodata: None }),
//!     ("b", Value::Scalar(0.5)),
//! ])?;
//! assert_eq!(out.values, array![[3.0, 4.0]]);
//! # Ok::<(), pgp_expr::ExprError>(())
//! ```
//!
//! The language:
//!
//! ```text
//! where(lc == 3, dem * 2.5, -9999)
//! sqrt(a) + log(b)
//! where(isnodata(precip), 0, precip) * 0.5
//! ```
//!
//! * Numbers (`2`, `2.5`, `.5`, `1e-3`), constants `nan`, `inf`, `pi`, `true`, `false`, and
//!   variables (any other name, bound to an input raster or a scalar).
//! * Arithmetic `+ - * / % **` (`%` takes the divisor's sign, `**` is right-associative and
//!   binds tighter than unary minus, as in Python); comparisons `== != < <= > >=` (not chained);
//!   boolean logic `and`/`&&`/`&`, `or`/`||`/`|`, `not`/`!`. Booleans are 1 and 0; any non-zero
//!   value is true.
//! * Functions: `where(c, a, b)`, `min`/`max` (two or more arguments, NaN-propagating), `abs`,
//!   `sqrt`, `exp`, `log`, `log10`, `log2`, `sin`, `cos`, `tan`, `asin`, `acos`, `atan`,
//!   `atan2(y, x)`, `pow(a, b)`, `floor`, `ceil`, `round` (halves to even), `trunc`, `isnan`,
//!   `isinf`, `isnodata(x)`.
//! * Arithmetic is IEEE double precision; the result is converted to the target type at the end.
//!   `sin`, `cos` and `exp` are pgp's vectorised kernels ([`math`]), within 1 ulp of the
//!   correctly rounded result (so they may differ from libm's in the last bit); the other
//!   functions are the platform's libm.
//!
//! **Nodata** flows through the computation: a value computed from a nodata pixel is nodata, so
//! by default a pixel that is nodata in any input used is nodata in the output. An expression
//! handles nodata itself with `isnodata(x)` (true where `x` is nodata, and never nodata itself)
//! and `where`, which takes its validity from the condition and the branch it selects:
//! `where(isnodata(a), 0, a)` turns a's nodata into 0.
//!
//! An [`Expression`] is parsed once (errors point at the column), compiled into a flat register
//! program, and evaluated block by block, one vectorised loop per instruction. It serialises as
//! its source text, so it can be sent to worker processes and written in pipeline files.

#![warn(missing_docs)]

mod ast;
mod compile;
mod lexer;
pub mod math;
mod parser;
mod range;
mod vm;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

pub use compile::{Binding, Program};
pub use vm::InputBlock;

use ast::{Node, NodeKind};

/// A parse or binding error, with the 1-based column (in characters) it points at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExprError {
    source: String,
    column: usize,
    message: String,
}

impl ExprError {
    /// An error at `column` (1-based, in characters) of `source`, for callers that check an
    /// expression against more than its text (the types or sizes of what it is bound to).
    pub fn new(source: &str, column: usize, message: impl Into<String>) -> ExprError {
        ExprError {
            source: source.to_string(),
            column,
            message: message.into(),
        }
    }

    /// The column the error points at (1-based, in characters).
    pub fn column(&self) -> usize {
        self.column
    }

    /// What is wrong, without the location.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The expression's text.
    pub fn source_text(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expression error at column {}: {}\n  {}\n  {}^",
            self.column,
            self.message,
            self.source,
            " ".repeat(self.column.saturating_sub(1))
        )
    }
}

impl std::error::Error for ExprError {}

/// A parsed raster algebra expression (see the [module docs](self) for the language).
///
/// ```
/// use pgp_expr::{Expression, Value};
/// use ndarray::array;
///
/// let e: Expression = "where(lc == 3, dem * 2.5, -9999)".parse()?;
/// assert_eq!(e.variables(), ["lc", "dem"]);
/// let lc = array![[3.0, 1.0, 255.0]];
/// let dem = array![[10.0, 20.0, 30.0]];
/// let out = e.evaluate(&[
///     ("lc", Value::Array { values: lc.view(), nodata: Some(255.0) }),
///     ("dem", Value::Array { values: dem.view(), nodata: None }),
/// ])?;
/// assert_eq!(out.values.row(0).to_vec()[..2], [25.0, -9999.0]);
/// assert_eq!(out.valid.unwrap(), array![[true, true, false]]); // lc is nodata there
/// # Ok::<(), pgp_expr::ExprError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
    root: Node,
    variables: Vec<String>,
}

impl PartialEq for Expression {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// What a variable is bound to in [`Expression::evaluate`].
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// A per-pixel array and its nodata value.
    Array {
        /// The pixels.
        values: ArrayView2<'a, f64>,
        /// Pixels equal to this (or NaN, when it is NaN) are nodata.
        nodata: Option<f64>,
    },
    /// One number for every pixel.
    Scalar(f64),
}

/// The result of [`Expression::evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    /// Computed values (meaningless where not valid).
    pub values: Array2<f64>,
    /// Where the result is valid; `None` when every pixel is.
    pub valid: Option<Array2<bool>>,
}

impl Expression {
    /// Parse and check an expression.
    pub fn parse(source: &str) -> Result<Expression, ExprError> {
        let root = parser::parse(source)?;
        let mut variables = Vec::new();
        collect_variables(&root, &mut variables);
        Ok(Expression {
            source: source.to_string(),
            root,
            variables,
        })
    }

    /// The text it was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Variable names, in order of first appearance.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// Check that every variable is among `names`; the error points at the first unknown one.
    pub fn check_bound<S: AsRef<str>>(&self, names: &[S]) -> Result<(), ExprError> {
        for v in &self.variables {
            if !names.iter().any(|n| n.as_ref() == v) {
                let col = first_column(&self.root, v).unwrap_or(1);
                let known: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
                return Err(ExprError::new(
                    &self.source,
                    col,
                    format!(
                        "`{v}` is not an input (inputs: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        }
        Ok(())
    }

    /// True when the result is an integer wherever every variable for which `integral` says
    /// true is an integer: only integer constants and operations that keep integers integral
    /// (`+ - * %`, `min`, `max`, `abs`, comparisons, logic, `where`, rounding, tests).
    pub fn keeps_integers(&self, integral: &dyn Fn(&str) -> bool) -> bool {
        keeps_integers(&self.root, integral)
    }

    /// The values the expression can produce when each variable takes values in
    /// `var(name)` (`(lo, hi)`; infinite bounds for anything outside integer arithmetic).
    pub fn value_range(&self, var: &dyn Fn(&str) -> (f64, f64)) -> (f64, f64) {
        range::value_range(&self.root, var)
    }

    /// Compile with each variable bound as `bind` says.
    pub fn compile(&self, bind: &dyn Fn(&str) -> Binding) -> Program {
        compile::compile(&self.root, bind)
    }

    /// Evaluate on in-memory arrays (all of one shape) and scalars.
    pub fn evaluate(&self, bindings: &[(&str, Value<'_>)]) -> Result<Evaluated, ExprError> {
        let names: Vec<&str> = bindings.iter().map(|(n, _)| *n).collect();
        self.check_bound(&names)?;
        let map: HashMap<&str, &Value<'_>> = bindings.iter().map(|(n, v)| (*n, v)).collect();
        let mut shape = None;
        for (name, v) in bindings {
            if let Value::Array { values, .. } = v {
                match shape {
                    None => shape = Some(values.dim()),
                    Some(s) if s != values.dim() => {
                        return Err(ExprError::new(
                            &self.source,
                            first_column(&self.root, name).unwrap_or(1),
                            format!("`{name}` has shape {:?}, other inputs {s:?}", values.dim()),
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        let shape = shape.unwrap_or((1, 1));
        let program = self.compile(&|name| match map.get(name) {
            Some(Value::Scalar(v)) => Binding::Scalar(*v),
            _ => Binding::Block,
        });
        let mut owned = Vec::with_capacity(program.inputs.len());
        for name in &program.inputs {
            if let Some(Value::Array { values, nodata }) = map.get(name.as_str()) {
                let values: Vec<f64> = values.iter().copied().collect();
                let valid = nodata.map(|nd| {
                    values
                        .iter()
                        .map(|&v| !(v == nd || (nd.is_nan() && v.is_nan())))
                        .collect::<Vec<bool>>()
                });
                owned.push((values, valid));
            }
        }
        let inputs: Vec<InputBlock<'_>> = owned
            .iter()
            .map(|(v, m)| InputBlock {
                values: v,
                valid: m.as_deref(),
            })
            .collect();
        let n = shape.0 * shape.1;
        let mut out = Vec::new();
        let valid = program.run(&inputs, n, &mut out);
        let to_array = |e: ndarray::ShapeError| {
            ExprError::new(&self.source, 1, format!("internal shape error: {e}"))
        };
        Ok(Evaluated {
            values: Array2::from_shape_vec(shape, out).map_err(to_array)?,
            valid: valid
                .map(|m| Array2::from_shape_vec(shape, m))
                .transpose()
                .map_err(to_array)?,
        })
    }
}

fn collect_variables(n: &Node, out: &mut Vec<String>) {
    match &n.kind {
        NodeKind::Num(_) => {}
        NodeKind::Var(name) => {
            if !out.contains(name) {
                out.push(name.clone());
            }
        }
        NodeKind::Unary(_, x) | NodeKind::IsNodata(x) => collect_variables(x, out),
        NodeKind::Binary(_, a, b) => {
            collect_variables(a, out);
            collect_variables(b, out);
        }
        NodeKind::Where(c, a, b) => {
            collect_variables(c, out);
            collect_variables(a, out);
            collect_variables(b, out);
        }
    }
}

fn keeps_integers(n: &Node, integral: &dyn Fn(&str) -> bool) -> bool {
    use ast::{Bin, Un};
    match &n.kind {
        NodeKind::Num(v) => v.is_finite() && v.fract() == 0.0,
        NodeKind::Var(name) => integral(name),
        NodeKind::IsNodata(_) => true,
        NodeKind::Unary(op, x) => match op {
            Un::IsNan | Un::IsInf | Un::Not => true,
            Un::Floor | Un::Ceil | Un::Round | Un::Trunc => true,
            Un::Neg | Un::Abs => keeps_integers(x, integral),
            _ => false,
        },
        NodeKind::Binary(op, a, b) => {
            if op.is_boolean() {
                return true;
            }
            matches!(
                op,
                Bin::Add | Bin::Sub | Bin::Mul | Bin::Rem | Bin::Min | Bin::Max
            ) && keeps_integers(a, integral)
                && keeps_integers(b, integral)
        }
        NodeKind::Where(_, a, b) => keeps_integers(a, integral) && keeps_integers(b, integral),
    }
}

fn first_column(n: &Node, name: &str) -> Option<usize> {
    match &n.kind {
        NodeKind::Num(_) => None,
        NodeKind::Var(v) => (v == name).then_some(n.col),
        NodeKind::Unary(_, x) | NodeKind::IsNodata(x) => first_column(x, name),
        NodeKind::Binary(_, a, b) => first_column(a, name).or_else(|| first_column(b, name)),
        NodeKind::Where(c, a, b) => first_column(c, name)
            .or_else(|| first_column(a, name))
            .or_else(|| first_column(b, name)),
    }
}

impl FromStr for Expression {
    type Err = ExprError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Expression::parse(s)
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Serialize for Expression {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Expression {
    /// Expressions travel as source text and are parsed (and so checked) on arrival.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Expression::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
