//! The register machine: runs a [`Program`] over whole blocks. Every instruction is one tight
//! loop over the block (no per-pixel dispatch), carrying a validity mask next to the values
//! only where some operand can be nodata.

use std::cell::RefCell;

use multiversion::multiversion;

use super::ast::{Bin, Un};
use super::compile::{Arg, Instr, Program};

/// One input block as the machine sees it: values, and where they are valid (`None`: all).
#[derive(Debug, Clone, Copy)]
pub struct InputBlock<'a> {
    /// The pixels, in row-major order.
    pub values: &'a [f64],
    /// Where they are valid; `None` when every pixel is.
    pub valid: Option<&'a [bool]>,
}

/// Registers, kept per thread so blocks after the first allocate nothing.
#[derive(Default)]
struct Registers {
    values: Vec<Vec<f64>>,
    valid: Vec<Option<Vec<bool>>>,
}

thread_local! {
    static SCRATCH: RefCell<Registers> = RefCell::new(Registers::default());
}

#[derive(Clone, Copy)]
enum Src<'a> {
    S(&'a [f64]),
    C(f64),
}

impl Program {
    /// Evaluate over `n` pixels. Writes the values into `out` (resized to `n`) and returns the
    /// validity mask (`None` when every pixel is valid).
    pub fn run(
        &self,
        inputs: &[InputBlock<'_>],
        n: usize,
        out: &mut Vec<f64>,
    ) -> Option<Vec<bool>> {
        debug_assert_eq!(inputs.len(), self.inputs.len());
        SCRATCH.with(|cell| {
            let mut guard = cell.borrow_mut();
            let regs = &mut *guard;
            if regs.values.len() < self.n_regs {
                regs.values.resize_with(self.n_regs, Vec::new);
                regs.valid.resize_with(self.n_regs, || None);
            }
            for instr in &self.instrs {
                step(instr, inputs, regs, n);
            }
            out.clear();
            out.resize(n, 0.0);
            let valid = match self.result {
                Arg::Const(v) => {
                    out.fill(v);
                    None
                }
                Arg::Input(i) => {
                    out.copy_from_slice(inputs[i].values);
                    inputs[i].valid.map(<[bool]>::to_vec)
                }
                Arg::Reg(r) => {
                    out.copy_from_slice(&regs.values[r][..n]);
                    regs.valid[r].take()
                }
            };
            // Masks are rebuilt per block; values stay allocated for the next block.
            for v in regs.valid.iter_mut() {
                *v = None;
            }
            valid.filter(|m| m.iter().any(|ok| !ok))
        })
    }
}

fn step(instr: &Instr, inputs: &[InputBlock<'_>], regs: &mut Registers, n: usize) {
    let out_reg = match instr {
        Instr::Un { out, .. }
        | Instr::Bin { out, .. }
        | Instr::Where { out, .. }
        | Instr::IsNodata { out, .. } => *out,
    };
    // Take the output register out of the file so operands can be borrowed alongside it (the
    // compiler never makes an instruction read its own output register).
    let mut values = std::mem::take(&mut regs.values[out_reg]);
    values.resize(n, 0.0);
    let regs_ro = &*regs;
    let src = |a: &Arg| -> Src<'_> {
        match *a {
            Arg::Const(v) => Src::C(v),
            Arg::Input(i) => Src::S(inputs[i].values),
            Arg::Reg(r) => Src::S(&regs_ro.values[r][..n]),
        }
    };
    let mask = |a: &Arg| -> Option<&[bool]> {
        match *a {
            Arg::Const(_) => None,
            Arg::Input(i) => inputs[i].valid,
            Arg::Reg(r) => regs_ro.valid[r].as_deref(),
        }
    };
    let valid = match instr {
        Instr::Un { op, a, .. } => {
            un(*op, src(a), &mut values);
            mask(a).map(<[bool]>::to_vec)
        }
        Instr::Bin { op, a, b, .. } => {
            bin_dispatch(*op, src(a), src(b), &mut values);
            and_masks(mask(a), mask(b))
        }
        Instr::Where { c, a, b, .. } => {
            let (cs, as_, bs) = (src(c), src(a), src(b));
            for (i, o) in values.iter_mut().enumerate() {
                *o = if at(cs, i) != 0.0 {
                    at(as_, i)
                } else {
                    at(bs, i)
                };
            }
            where_mask(cs, mask(c), mask(a), mask(b), n)
        }
        Instr::IsNodata { a, .. } => {
            match mask(a) {
                None => values.fill(0.0),
                Some(m) => {
                    for (o, &ok) in values.iter_mut().zip(m) {
                        *o = if ok { 0.0 } else { 1.0 };
                    }
                }
            }
            None
        }
    };
    regs.values[out_reg] = values;
    regs.valid[out_reg] = valid;
}

#[inline(always)]
fn at(s: Src<'_>, i: usize) -> f64 {
    match s {
        Src::S(v) => v[i],
        Src::C(c) => c,
    }
}

fn and_masks(a: Option<&[bool]>, b: Option<&[bool]>) -> Option<Vec<bool>> {
    match (a, b) {
        (None, None) => None,
        (Some(m), None) | (None, Some(m)) => Some(m.to_vec()),
        (Some(x), Some(y)) => Some(x.iter().zip(y).map(|(p, q)| *p && *q).collect()),
    }
}

/// Valid where the condition is valid and the branch it selects is valid.
fn where_mask(
    c: Src<'_>,
    cm: Option<&[bool]>,
    am: Option<&[bool]>,
    bm: Option<&[bool]>,
    n: usize,
) -> Option<Vec<bool>> {
    if cm.is_none() && am.is_none() && bm.is_none() {
        return None;
    }
    let ok = |m: Option<&[bool]>, i: usize| m.is_none_or(|m| m[i]);
    Some(
        (0..n)
            .map(|i| {
                ok(cm, i)
                    && if at(c, i) != 0.0 {
                        ok(am, i)
                    } else {
                        ok(bm, i)
                    }
            })
            .collect(),
    )
}

#[inline(always)]
fn kernel1(a: Src<'_>, out: &mut [f64], f: impl Fn(f64) -> f64) {
    match a {
        Src::S(x) => {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = f(v);
            }
        }
        Src::C(c) => out.fill(f(c)),
    }
}

#[inline(always)]
fn kernel2(a: Src<'_>, b: Src<'_>, out: &mut [f64], f: impl Fn(f64, f64) -> f64) {
    match (a, b) {
        (Src::S(x), Src::S(y)) => {
            for ((o, &p), &q) in out.iter_mut().zip(x).zip(y) {
                *o = f(p, q);
            }
        }
        (Src::S(x), Src::C(q)) => {
            for (o, &p) in out.iter_mut().zip(x) {
                *o = f(p, q);
            }
        }
        (Src::C(p), Src::S(y)) => {
            for (o, &q) in out.iter_mut().zip(y) {
                *o = f(p, q);
            }
        }
        (Src::C(p), Src::C(q)) => out.fill(f(p, q)),
    }
}

/// pgp's block kernels for the functions it has them for ([`crate::math`]), the generic loops
/// for the rest.
fn un(op: Un, a: Src<'_>, out: &mut [f64]) {
    match (op, a) {
        (Un::Sin, Src::S(x)) => crate::math::sin_slice(x, out),
        (Un::Cos, Src::S(x)) => crate::math::cos_slice(x, out),
        (Un::Exp, Src::S(x)) => crate::math::exp_slice(x, out),
        _ => un_dispatch(op, a, out),
    }
}

/// One monomorphic loop per operation: the operation is a constant inside each closure, so its
/// `match` folds away and simple arithmetic vectorises.
///
/// The loops are compiled for several instruction sets and the best one the CPU has is picked at
/// run time (wider vectors for arithmetic, `sqrt` and rounding), so a generic build runs AVX-512 or
/// AVX2 code where it can. Every version computes the same bits: Rust neither contracts `a * b + c`
/// into a fused multiply-add nor reorders float arithmetic, `sqrt` is correctly rounded at any
/// width, `sin`, `cos` and `exp` go to [`crate::math`] (whose versions agree too), and `log`, `tan`
/// and the like stay the same scalar libm calls.
#[multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn un_dispatch<'a>(op: Un, a: Src<'a>, out: &mut [f64]) {
    macro_rules! go {
        ($($v:ident),*) => {
            match op { $(Un::$v => kernel1(a, out, |x| Un::$v.apply(x)),)* }
        };
    }
    go!(
        Neg, Not, Abs, Sqrt, Exp, Log, Log10, Log2, Sin, Cos, Tan, Asin, Acos, Atan, Floor, Ceil,
        Round, Trunc, IsNan, IsInf
    )
}

/// [`un_dispatch`]'s counterpart for two operands, dispatched the same way.
#[multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn bin_dispatch<'a, 'b>(op: Bin, a: Src<'a>, b: Src<'b>, out: &mut [f64]) {
    macro_rules! go {
        ($($v:ident),*) => {
            match op { $(Bin::$v => kernel2(a, b, out, |x, y| Bin::$v.apply(x, y)),)* }
        };
    }
    go!(Add, Sub, Mul, Div, Rem, Pow, Eq, Ne, Lt, Le, Gt, Ge, And, Or, Min, Max, Atan2)
}
