//! Syntax tree to a flat register program: constants folded, scalar inputs substituted,
//! registers reused. Each instruction of the program is later one vectorised loop over a block.

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
pub(crate) fn compile(root: &Node, bind: &dyn Fn(&str) -> Binding) -> Program {
    let mut c = Compiler {
        inputs: Vec::new(),
        instrs: Vec::new(),
        free: Vec::new(),
        n_regs: 0,
        bind,
    };
    let result = c.node(root);
    let strict = !c
        .instrs
        .iter()
        .any(|i| matches!(i, Instr::Where { .. } | Instr::IsNodata { .. }));
    let cost = c.instrs.iter().map(instr_cost).sum();
    Program {
        inputs: c.inputs,
        instrs: c.instrs,
        n_regs: c.n_regs,
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

struct Compiler<'b> {
    inputs: Vec<String>,
    instrs: Vec<Instr>,
    free: Vec<usize>,
    n_regs: usize,
    bind: &'b dyn Fn(&str) -> Binding,
}

impl Compiler<'_> {
    fn alloc(&mut self) -> usize {
        self.free.pop().unwrap_or_else(|| {
            self.n_regs += 1;
            self.n_regs - 1
        })
    }

    /// Registers hold single-use temporaries (the program is a tree), so an operand's register
    /// is free once the instruction reading it has been emitted.
    fn release(&mut self, args: &[Arg]) {
        for a in args {
            if let Arg::Reg(r) = a {
                self.free.push(*r);
            }
        }
    }

    fn node(&mut self, n: &Node) -> Arg {
        match &n.kind {
            NodeKind::Num(v) => Arg::Const(*v),
            NodeKind::Var(name) => match (self.bind)(name) {
                Binding::Scalar(v) => Arg::Const(v),
                Binding::Block => {
                    let idx = match self.inputs.iter().position(|s| s == name) {
                        Some(i) => i,
                        None => {
                            self.inputs.push(name.clone());
                            self.inputs.len() - 1
                        }
                    };
                    Arg::Input(idx)
                }
            },
            NodeKind::Unary(op, x) => {
                let a = self.node(x);
                if let Arg::Const(v) = a {
                    return Arg::Const(op.apply(v));
                }
                let out = self.alloc();
                self.instrs.push(Instr::Un { op: *op, a, out });
                self.release(&[a]);
                Arg::Reg(out)
            }
            NodeKind::Binary(op, l, r) => {
                let a = self.node(l);
                let b = self.node(r);
                if let (Arg::Const(x), Arg::Const(y)) = (a, b) {
                    return Arg::Const(op.apply(x, y));
                }
                let out = self.alloc();
                self.instrs.push(Instr::Bin { op: *op, a, b, out });
                self.release(&[a, b]);
                Arg::Reg(out)
            }
            NodeKind::Where(cond, t, f) => {
                let c = self.node(cond);
                if let Arg::Const(v) = c {
                    // Constants are always valid: the chosen branch is the whole answer.
                    return if v != 0.0 { self.node(t) } else { self.node(f) };
                }
                let a = self.node(t);
                let b = self.node(f);
                let out = self.alloc();
                self.instrs.push(Instr::Where { c, a, b, out });
                self.release(&[c, a, b]);
                Arg::Reg(out)
            }
            NodeKind::IsNodata(x) => {
                let a = self.node(x);
                if let Arg::Const(_) = a {
                    return Arg::Const(0.0);
                }
                let out = self.alloc();
                self.instrs.push(Instr::IsNodata { a, out });
                self.release(&[a]);
                Arg::Reg(out)
            }
        }
    }
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
