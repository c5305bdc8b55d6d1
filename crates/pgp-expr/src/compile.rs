//! Syntax tree to a flat register program: constants folded, scalar inputs substituted, repeated
//! subexpressions computed once, registers reused. Each instruction of the program is later one
//! vectorised loop over a block.

use std::collections::HashMap;

use super::ast::{Bin, Node, NodeKind, Un};

/// Where an instruction reads an operand from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Arg {
    /// A temporary register.
    Reg(usize),
    /// An input block, by index into the program's inputs.
    Input(usize),
    /// A constant (always valid).
    Const(f64),
}

/// One vectorised step.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Instr {
    Un { op: Un, a: Arg, out: usize },
    Bin { op: Bin, a: Arg, b: Arg, out: usize },
    Where { c: Arg, a: Arg, b: Arg, out: usize },
    IsNodata { a: Arg, out: usize },
}

/// A compiled expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// Block inputs the program reads, by variable name, in the order [`Arg::Input`] counts.
    pub(crate) inputs: Vec<String>,
    pub(crate) instrs: Vec<Instr>,
    pub(crate) n_regs: usize,
    pub(crate) result: Arg,
    /// No `where` or `isnodata`: a result pixel is valid exactly where every input is valid,
    /// so evaluation may skip the pixels where any input is nodata.
    pub(crate) strict: bool,
    /// Rough cost per pixel (an addition is 1, a transcendental function about 20), to decide
    /// whether skipping nodata pixels pays for gathering the valid ones.
    pub(crate) cost: u32,
}

impl Program {
    /// Block inputs the program reads, by variable name, in the order [`Program::run`] takes
    /// them.
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// True when a result pixel is valid exactly where every input is valid (no `where` or
    /// `isnodata`), so a caller may skip the pixels where any input is nodata.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// Rough cost per pixel: an addition is 1, a transcendental function about 20.
    pub fn cost(&self) -> u32 {
        self.cost
    }
}

/// What a variable name stands for when compiling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Binding {
    /// A per-pixel input block.
    Block,
    /// A constant (a scalar input): folded into the program.
    Scalar(f64),
}

/// Compile `root`. `bind` says what each variable is; every variable of the tree must be bound
/// (the caller checks names first).
///
/// Two steps: the tree becomes a list of distinct computations (a subexpression written twice,
/// like `x` in `sin(x * 2) + cos(x + 1)` with `x = a * 1e-3`, is computed once), then each
/// computation gets a register, freed after its last reader.
pub(crate) fn compile(root: &Node, bind: &dyn Fn(&str) -> Binding) -> Program {
    let mut numbering = Numbering {
        inputs: Vec::new(),
        ops: Vec::new(),
        seen: HashMap::new(),
        bind,
    };
    let result = numbering.node(root);
    let (instrs, n_regs, result) = allocate(&numbering.ops, result);
    let strict = !instrs
        .iter()
        .any(|i| matches!(i, Instr::Where { .. } | Instr::IsNodata { .. }));
    let cost = instrs.iter().map(instr_cost).sum();
    Program {
        inputs: numbering.inputs,
        instrs,
        n_regs,
        result,
        strict,
        cost,
    }
}

fn instr_cost(i: &Instr) -> u32 {
    match i {
        Instr::Un { op, .. } => match op {
            Un::Neg
            | Un::Not
            | Un::Abs
            | Un::Floor
            | Un::Ceil
            | Un::Round
            | Un::Trunc
            | Un::IsNan
            | Un::IsInf => 1,
            Un::Sqrt => 4,
            _ => 20,
        },
        Instr::Bin { op, .. } => match op {
            Bin::Div | Bin::Rem => 4,
            Bin::Pow | Bin::Atan2 => 30,
            _ => 1,
        },
        Instr::Where { .. } | Instr::IsNodata { .. } => 2,
    }
}

/// An operand before register allocation: a computation by its index, an input, a constant
/// (by its bits, so that equal constants are equal keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Operand {
    Op(usize),
    Input(usize),
    Const(u64),
}

/// A computation, identified by what it does to what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Un(Un, Operand),
    Bin(Bin, Operand, Operand),
    Where(Operand, Operand, Operand),
    IsNodata(Operand),
}

impl Op {
    fn operands(&self) -> Vec<Operand> {
        match *self {
            Op::Un(_, a) | Op::IsNodata(a) => vec![a],
            Op::Bin(_, a, b) => vec![a, b],
            Op::Where(c, a, b) => vec![c, a, b],
        }
    }
}

struct Numbering<'b> {
    inputs: Vec<String>,
    ops: Vec<Op>,
    seen: HashMap<Op, usize>,
    bind: &'b dyn Fn(&str) -> Binding,
}

impl Numbering<'_> {
    fn op(&mut self, op: Op) -> Operand {
        if let Some(&i) = self.seen.get(&op) {
            return Operand::Op(i);
        }
        self.ops.push(op);
        self.seen.insert(op, self.ops.len() - 1);
        Operand::Op(self.ops.len() - 1)
    }

    fn node(&mut self, n: &Node) -> Operand {
        let konst = |v: f64| Operand::Const(v.to_bits());
        match &n.kind {
            NodeKind::Num(v) => konst(*v),
            NodeKind::Var(name) => match (self.bind)(name) {
                Binding::Scalar(v) => konst(v),
                Binding::Block => {
                    let idx = match self.inputs.iter().position(|s| s == name) {
                        Some(i) => i,
                        None => {
                            self.inputs.push(name.clone());
                            self.inputs.len() - 1
                        }
                    };
                    Operand::Input(idx)
                }
            },
            NodeKind::Unary(op, x) => match self.node(x) {
                Operand::Const(v) => konst(op.apply(f64::from_bits(v))),
                a => self.op(Op::Un(*op, a)),
            },
            NodeKind::Binary(op, l, r) => {
                let a = self.node(l);
                let b = self.node(r);
                if let (Operand::Const(x), Operand::Const(y)) = (a, b) {
                    return konst(op.apply(f64::from_bits(x), f64::from_bits(y)));
                }
                self.op(Op::Bin(*op, a, b))
            }
            NodeKind::Where(cond, t, f) => {
                let c = self.node(cond);
                if let Operand::Const(v) = c {
                    // Constants are always valid: the chosen branch is the whole answer.
                    return if f64::from_bits(v) != 0.0 {
                        self.node(t)
                    } else {
                        self.node(f)
                    };
                }
                let a = self.node(t);
                let b = self.node(f);
                self.op(Op::Where(c, a, b))
            }
            NodeKind::IsNodata(x) => match self.node(x) {
                Operand::Const(_) => konst(0.0),
                a => self.op(Op::IsNodata(a)),
            },
        }
    }
}

/// Registers for the computations, in order: each gets a free register (never one of its own
/// operands'), and gives it back after the last computation that reads it.
fn allocate(ops: &[Op], result: Operand) -> (Vec<Instr>, usize, Arg) {
    let mut last_read = vec![None; ops.len()];
    for (i, op) in ops.iter().enumerate() {
        for a in op.operands() {
            if let Operand::Op(j) = a {
                last_read[j] = Some(i);
            }
        }
    }
    let mut reg_of = vec![usize::MAX; ops.len()];
    let mut free: Vec<usize> = Vec::new();
    let mut n_regs = 0;
    let mut instrs = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let arg = |a: Operand| match a {
            Operand::Op(j) => Arg::Reg(reg_of[j]),
            Operand::Input(k) => Arg::Input(k),
            Operand::Const(v) => Arg::Const(f64::from_bits(v)),
        };
        let out = free.pop().unwrap_or_else(|| {
            n_regs += 1;
            n_regs - 1
        });
        instrs.push(match *op {
            Op::Un(op, a) => Instr::Un { op, a: arg(a), out },
            Op::Bin(op, a, b) => Instr::Bin {
                op,
                a: arg(a),
                b: arg(b),
                out,
            },
            Op::Where(c, a, b) => Instr::Where {
                c: arg(c),
                a: arg(a),
                b: arg(b),
                out,
            },
            Op::IsNodata(a) => Instr::IsNodata { a: arg(a), out },
        });
        reg_of[i] = out;
        let mut done: Vec<usize> = op
            .operands()
            .into_iter()
            .filter_map(|a| match a {
                Operand::Op(j) if last_read[j] == Some(i) && result != Operand::Op(j) => Some(j),
                _ => None,
            })
            .collect();
        // `x * x` reads x twice and frees it once.
        done.sort_unstable();
        done.dedup();
        free.extend(done.into_iter().map(|j| reg_of[j]));
    }
    let result = match result {
        Operand::Op(j) => Arg::Reg(reg_of[j]),
        Operand::Input(k) => Arg::Input(k),
        Operand::Const(v) => Arg::Const(f64::from_bits(v)),
    };
    (instrs, n_regs, result)
}

#[cfg(test)]
mod tests {
    use super::super::parser::parse;
    use super::*;

    fn all_blocks(_: &str) -> Binding {
        Binding::Block
    }

    #[test]
    fn constants_fold_and_scalars_substitute() {
        let p = compile(&parse("2 * 3 + a").unwrap(), &all_blocks);
        assert_eq!(
            p.instrs,
            vec![Instr::Bin {
                op: Bin::Add,
                a: Arg::Const(6.0),
                b: Arg::Input(0),
                out: 0
            }]
        );
        let k = |name: &str| {
            if name == "k" {
                Binding::Scalar(4.0)
            } else {
                Binding::Block
            }
        };
        let p = compile(&parse("sqrt(k) * 2").unwrap(), &k);
        assert_eq!(p.result, Arg::Const(4.0));
        assert!(p.instrs.is_empty() && p.inputs.is_empty());
        let p = compile(&parse("where(k > 1, a, b)").unwrap(), &k);
        assert_eq!(p.result, Arg::Input(0));
        assert_eq!(p.inputs, vec!["a".to_string()]);
        assert!(p.strict);
    }

    #[test]
    fn repeated_subexpressions_are_computed_once() {
        // x = a * 0.001 three times per term, -x once per term: one multiplication and one
        // negation in all, and 9 other instructions per term.
        let x = "(a * 0.001)";
        let src: Vec<String> = (1..=4)
            .map(|i| format!("(sin({x} * {i}) * exp(-{x} / {i}) + sqrt(abs(cos({x} + {i}))))"))
            .collect();
        let p = compile(&parse(&src.join(" + ")).unwrap(), &all_blocks);
        let count = |want: Bin| {
            p.instrs
                .iter()
                .filter(|i| matches!(i, Instr::Bin { op, b: Arg::Const(c), .. } if *op == want && *c == 0.001))
                .count()
        };
        assert_eq!(count(Bin::Mul), 1, "{:?}", p.instrs);
        let negs = p
            .instrs
            .iter()
            .filter(|i| matches!(i, Instr::Un { op: Un::Neg, .. }))
            .count();
        assert_eq!(negs, 1);
        assert_eq!(p.instrs.len(), 2 + 4 * 10 + 3);
        // That x stays in its register until the last term reads it, `heavy_formula_matches_
        // direct_rust` checks by evaluation.
        // Different constants are different computations; so are 0 and -0.
        let p = compile(&parse("a * 0 + a * -0 + a * 0").unwrap(), &all_blocks);
        assert_eq!(p.instrs.len(), 2 + 1 + 1);
    }

    #[test]
    fn registers_are_reused_and_inputs_deduplicated() {
        let p = compile(
            &parse("sin(a) * exp(-a) + sqrt(abs(cos(a + 1))) + sin(b)").unwrap(),
            &all_blocks,
        );
        assert_eq!(p.inputs, vec!["a".to_string(), "b".to_string()]);
        assert!(p.n_regs <= 3, "{} registers for {:?}", p.n_regs, p.instrs);
        assert!(p.strict);
        let p = compile(&parse("where(isnodata(a), 0, a)").unwrap(), &all_blocks);
        assert!(!p.strict);
    }
}
