//! Recursive-descent parser: tokens to a syntax tree, with errors that point at a column.
//!
//! Precedence, lowest first (Python's order): `or`, `and`, `not`, comparisons (not chained),
//! `+ -`, `* / %`, unary `-`/`+`, `**` (right-associative; `-a**2` is `-(a**2)`).

use super::ast::{callee, constant, Bin, Callee, Node, NodeKind, Un, FUNCTIONS};
use super::lexer::{tokenize, Tok, Token};
use super::ExprError;

/// Parse a whole expression.
pub(crate) fn parse(source: &str) -> Result<Node, ExprError> {
    let tokens = tokenize(source)?;
    let mut p = Parser {
        source,
        tokens,
        pos: 0,
        depth: 0,
    };
    if p.peek().kind == Tok::End {
        return Err(ExprError::new(source, 1, "the expression is empty"));
    }
    let node = p.or()?;
    let t = p.peek();
    if t.kind != Tok::End {
        let hint = if t.kind == Tok::RParen {
            "unmatched `)`".to_string()
        } else {
            format!(
                "expected an operator or the end, found {}",
                t.kind.describe()
            )
        };
        return Err(ExprError::new(source, t.col, hint));
    }
    Ok(node)
}

struct Parser<'s> {
    source: &'s str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

/// Deepest nesting accepted (parser recursion and tree height), so hostile input cannot
/// overflow the stack.
pub(crate) const MAX_DEPTH: usize = 256;

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn err(&self, col: usize, msg: impl Into<String>) -> ExprError {
        ExprError::new(self.source, col, msg)
    }

    fn binary(&self, op: Bin, l: Node, r: Node) -> Result<Node, ExprError> {
        let col = l.col;
        self.tall(Node::new(
            NodeKind::Binary(op, Box::new(l), Box::new(r)),
            col,
        ))
    }

    /// Refuse trees so tall that walking them recursively could exhaust the stack.
    fn tall(&self, node: Node) -> Result<Node, ExprError> {
        if node.height > MAX_DEPTH {
            return Err(self.err(
                node.col,
                format!("the expression nests more than {MAX_DEPTH} operations deep"),
            ));
        }
        Ok(node)
    }

    /// Run `f` one nesting level deeper (parentheses, unary operators, calls).
    fn nested<T>(
        &mut self,
        col: usize,
        f: impl FnOnce(&mut Self) -> Result<T, ExprError>,
    ) -> Result<T, ExprError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(col, format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn or(&mut self) -> Result<Node, ExprError> {
        let mut l = self.and()?;
        while self.peek().kind == Tok::Or {
            self.next();
            let r = self.and()?;
            l = self.binary(Bin::Or, l, r)?;
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Node, ExprError> {
        let mut l = self.not()?;
        while self.peek().kind == Tok::And {
            self.next();
            let r = self.not()?;
            l = self.binary(Bin::And, l, r)?;
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Node, ExprError> {
        if self.peek().kind == Tok::Not {
            let col = self.next().col;
            let inner = self.nested(col, Self::not)?;
            return self.tall(Node::new(NodeKind::Unary(Un::Not, Box::new(inner)), col));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Node, ExprError> {
        let l = self.additive()?;
        let Some(op) = comparison_op(&self.peek().kind) else {
            return Ok(l);
        };
        self.next();
        let r = self.additive()?;
        let t = self.peek();
        if comparison_op(&t.kind).is_some() {
            return Err(self.err(
                t.col,
                "comparisons cannot be chained; write (a < b) and (b < c)",
            ));
        }
        self.binary(op, l, r)
    }

    fn additive(&mut self) -> Result<Node, ExprError> {
        let mut l = self.term()?;
        loop {
            let op = match self.peek().kind {
                Tok::Plus => Bin::Add,
                Tok::Minus => Bin::Sub,
                _ => return Ok(l),
            };
            self.next();
            let r = self.term()?;
            l = self.binary(op, l, r)?;
        }
    }

    fn term(&mut self) -> Result<Node, ExprError> {
        let mut l = self.unary()?;
        loop {
            let op = match self.peek().kind {
                Tok::Star => Bin::Mul,
                Tok::Slash => Bin::Div,
                Tok::Percent => Bin::Rem,
                _ => return Ok(l),
            };
            self.next();
            let r = self.unary()?;
            l = self.binary(op, l, r)?;
        }
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        match self.peek().kind {
            Tok::Minus => {
                let col = self.next().col;
                let inner = self.nested(col, Self::unary)?;
                self.tall(Node::new(NodeKind::Unary(Un::Neg, Box::new(inner)), col))
            }
            Tok::Plus => {
                let col = self.next().col;
                self.nested(col, Self::unary)
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Result<Node, ExprError> {
        let base = self.primary()?;
        if self.peek().kind == Tok::Power {
            let col = self.next().col;
            // The exponent may carry its own sign (`a ** -2`) and is right-associative: each
            // `**` recurses, so it counts as a nesting level (the tree's height is only known
            // once the recursion returns, too late for `a ** a ** ...` 25,000 long).
            let exponent = self.nested(col, Self::unary)?;
            return self.binary(Bin::Pow, base, exponent);
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let t = self.next();
        match t.kind {
            Tok::Num(v) => Ok(Node::new(NodeKind::Num(v), t.col)),
            Tok::LParen => {
                let inner = self.nested(t.col, Self::or)?;
                let close = self.next();
                if close.kind != Tok::RParen {
                    return Err(self.err(
                        close.col,
                        format!(
                            "expected `)` to close the `(` at column {}, found {}",
                            t.col,
                            close.kind.describe()
                        ),
                    ));
                }
                Ok(inner)
            }
            Tok::Ident(name) => {
                if self.peek().kind == Tok::LParen {
                    self.nested(t.col, |p| p.call(&name, t.col))
                } else if let Some(v) = constant(&name) {
                    Ok(Node::new(NodeKind::Num(v), t.col))
                } else if callee(&name).is_some() {
                    Err(self.err(
                        t.col,
                        format!("`{name}` is a function: call it with arguments in parentheses"),
                    ))
                } else {
                    Ok(Node::new(NodeKind::Var(name), t.col))
                }
            }
            Tok::End => Err(self.err(t.col, "the expression ends where a value was expected")),
            other => Err(self.err(
                t.col,
                format!("expected a value, found {}", other.describe()),
            )),
        }
    }

    fn call(&mut self, name: &str, col: usize) -> Result<Node, ExprError> {
        self.next(); // `(`
        let Some(kind) = callee(name) else {
            let hint = closest_function(name)
                .map(|f| format!(" (did you mean `{f}`?)"))
                .unwrap_or_default();
            let names: Vec<&str> = FUNCTIONS.iter().map(|(n, _)| *n).collect();
            return Err(self.err(
                col,
                format!(
                    "unknown function `{name}`{hint}; functions are: {}",
                    names.join(", ")
                ),
            ));
        };
        let mut args = Vec::new();
        if self.peek().kind != Tok::RParen {
            loop {
                args.push(self.or()?);
                let t = self.next();
                match t.kind {
                    Tok::Comma => continue,
                    Tok::RParen => break,
                    other => {
                        return Err(self.err(
                            t.col,
                            format!(
                                "expected `,` or `)` in the call to {name}, found {}",
                                other.describe()
                            ),
                        ))
                    }
                }
            }
        } else {
            self.next();
        }
        let usage = FUNCTIONS
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(name, |(_, u)| *u);
        let got = plural(args.len());
        let arity_error =
            |expected: &str| self.err(col, format!("{name} takes {expected}, got {got}: {usage}"));
        let node = match kind {
            Callee::Unary(op) => {
                let [x]: [Node; 1] = args.try_into().map_err(|_| arity_error("1 argument"))?;
                NodeKind::Unary(op, Box::new(x))
            }
            Callee::IsNodata => {
                let [x]: [Node; 1] = args.try_into().map_err(|_| arity_error("1 argument"))?;
                NodeKind::IsNodata(Box::new(x))
            }
            Callee::Binary(op) => {
                let [a, b]: [Node; 2] = args.try_into().map_err(|_| arity_error("2 arguments"))?;
                NodeKind::Binary(op, Box::new(a), Box::new(b))
            }
            Callee::Where => {
                let [c, a, b]: [Node; 3] =
                    args.try_into().map_err(|_| arity_error("3 arguments"))?;
                NodeKind::Where(Box::new(c), Box::new(a), Box::new(b))
            }
            Callee::Variadic(op) => {
                if args.len() < 2 {
                    return Err(arity_error("at least 2 arguments"));
                }
                let mut it = args.into_iter();
                let first = it
                    .next()
                    .ok_or_else(|| arity_error("at least 2 arguments"))?;
                let mut acc = first;
                for x in it {
                    acc = self.tall(Node::new(
                        NodeKind::Binary(op, Box::new(acc), Box::new(x)),
                        col,
                    ))?;
                }
                return Ok(acc);
            }
        };
        self.tall(Node::new(node, col))
    }
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 argument".to_string()
    } else {
        format!("{n} arguments")
    }
}

fn comparison_op(t: &Tok) -> Option<Bin> {
    Some(match t {
        Tok::Eq => Bin::Eq,
        Tok::Ne => Bin::Ne,
        Tok::Lt => Bin::Lt,
        Tok::Le => Bin::Le,
        Tok::Gt => Bin::Gt,
        Tok::Ge => Bin::Ge,
        _ => return None,
    })
}

/// The known function nearest to `name` by edit distance, if it is close.
fn closest_function(name: &str) -> Option<&'static str> {
    FUNCTIONS
        .iter()
        .map(|(f, _)| (edit_distance(name, f), *f))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, f)| f)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(n: &Node) -> String {
        match &n.kind {
            NodeKind::Num(v) => format!("{v}"),
            NodeKind::Var(s) => s.clone(),
            NodeKind::Unary(op, x) => format!("{op:?}({})", show(x)),
            NodeKind::Binary(op, a, b) => format!("{op:?}({}, {})", show(a), show(b)),
            NodeKind::Where(c, a, b) => format!("where({}, {}, {})", show(c), show(a), show(b)),
            NodeKind::IsNodata(x) => format!("isnodata({})", show(x)),
        }
    }

    fn p(s: &str) -> String {
        show(&parse(s).unwrap())
    }

    #[test]
    fn precedence_follows_python() {
        assert_eq!(p("a + b * c"), "Add(a, Mul(b, c))");
        assert_eq!(p("a - b - c"), "Sub(Sub(a, b), c)");
        assert_eq!(p("-a ** 2"), "Neg(Pow(a, 2))");
        assert_eq!(p("2 ** 3 ** 2"), "Pow(2, Pow(3, 2))");
        assert_eq!(p("a ** -b"), "Pow(a, Neg(b))");
        assert_eq!(p("-x / i"), "Div(Neg(x), i)");
        assert_eq!(
            p("a < 1 or b > 2 and not c"),
            "Or(Lt(a, 1), And(Gt(b, 2), Not(c)))"
        );
        assert_eq!(p("not a == b"), "Not(Eq(a, b))");
        assert_eq!(p("min(a, b, 3)"), "Min(Min(a, b), 3)");
        assert_eq!(
            p("where(lc == 3, dem * 2.5, -9999)"),
            "where(Eq(lc, 3), Mul(dem, 2.5), Neg(9999))"
        );
        assert_eq!(p("isnodata(a) | (b & c)"), "Or(isnodata(a), And(b, c))");
        assert_eq!(p("pi"), format!("{}", std::f64::consts::PI));
    }

    fn err(s: &str) -> (usize, String) {
        let e = parse(s).unwrap_err();
        (e.column(), e.message().to_string())
    }

    #[test]
    fn errors_point_at_the_column() {
        let (c, m) = err("sqrt(a) + sqr(b)");
        assert_eq!(c, 11);
        assert!(
            m.contains("unknown function `sqr`") && m.contains("`sqrt`"),
            "{m}"
        );
        let (c, m) = err("where(a, b)");
        assert_eq!(c, 1);
        assert!(m.contains("3 arguments") && m.contains("got 2"), "{m}");
        let (c, m) = err("(a + b");
        assert_eq!(c, 7);
        assert!(m.contains("column 1"), "{m}");
        let (c, _) = err("a + * b");
        assert_eq!(c, 5);
        let (c, m) = err("a < b < c");
        assert_eq!(c, 7);
        assert!(m.contains("chained"), "{m}");
        let (c, m) = err("a b");
        assert_eq!(c, 3);
        assert!(m.contains("`b`"), "{m}");
        let (c, _) = err("a)");
        assert_eq!(c, 2);
        let (_, m) = err("sqrt + 1");
        assert!(m.contains("is a function"), "{m}");
        let (_, m) = err("  ");
        assert!(m.contains("empty"), "{m}");
        let (c, _) = err("min(a)");
        assert_eq!(c, 1);
        let (c, _) = err("abs(a, b");
        assert_eq!(c, 9);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let s = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&s).unwrap_err().message().contains("nested"));
        let s = format!("{}a", "-".repeat(10_000));
        assert!(parse(&s).is_err());
        let s = vec!["a"; 10_000].join(" + ");
        assert!(parse(&s).unwrap_err().message().contains("deep"));
        // Long but shallow is fine.
        let s = vec!["a"; 200].join(" + ");
        assert!(parse(&s).is_ok());
    }

    /// Parses `source` on a thread with Rust's default 2 MiB stack, where pipeline tasks and
    /// pool workers parse expressions.
    fn parse_on_a_worker_stack(source: String) -> Result<Node, ExprError> {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || parse(&source))
            .expect("spawning a parser thread")
            .join()
            .expect("the parser thread panicked")
    }

    #[test]
    fn right_associative_power_chains_are_depth_checked() {
        // Used to overflow the stack and abort the process: `**` recursed without a depth check.
        let s = vec!["a"; 25_000].join("**");
        let e = parse_on_a_worker_stack(s).unwrap_err();
        assert!(e.message().contains("nested deeper"), "{}", e.message());
        let s = vec!["a"; 25_000].join("**-");
        assert!(parse_on_a_worker_stack(s).is_err());
        let s = vec!["a"; 100].join(" ** ");
        assert!(parse(&s).is_ok());
    }

    #[test]
    fn the_deepest_accepted_nesting_fits_a_worker_stack() {
        // Every kind of nesting at just under the limit, alone and interleaved.
        let n = MAX_DEPTH - 1;
        let inputs = [
            format!("{}a{}", "(".repeat(n), ")".repeat(n)),
            format!("{}a{}", "abs(".repeat(n), ")".repeat(n)),
            format!("{}a", "not ".repeat(n)),
            format!("{}a", "-".repeat(n)),
            vec!["a"; n].join("**"),
            format!("{}a{}", "(-abs(".repeat(n / 3), "))".repeat(n / 3)),
        ];
        for s in inputs {
            let shown = s.chars().take(12).collect::<String>();
            match parse_on_a_worker_stack(s) {
                Ok(_) => {}
                Err(e) => assert!(e.message().contains("deep"), "{shown}...: {}", e.message()),
            }
        }
    }
}
