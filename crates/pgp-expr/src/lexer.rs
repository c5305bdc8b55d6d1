//! Tokens of the expression language, each with the column it starts at.

use super::ExprError;

/// One token. Columns are 1-based and count characters, not bytes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Num(f64),
    Ident(String),
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Power,
    LParen,
    RParen,
    Comma,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Not,
    End,
}

impl Tok {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Num(v) => format!("number {v}"),
            Tok::Ident(s) => format!("`{s}`"),
            Tok::End => "the end of the expression".to_string(),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Power => "**",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Comma => ",",
            Tok::Eq => "==",
            Tok::Ne => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::And => "and",
            Tok::Or => "or",
            Tok::Not => "not",
            Tok::Num(_) | Tok::Ident(_) | Tok::End => "",
        }
    }
}

/// Split `source` into tokens, ending with [`Tok::End`].
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let (value, next) = number(&chars, i, source)?;
            out.push(Token {
                kind: Tok::Num(value),
                col,
            });
            i = next;
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let kind = match word.as_str() {
                "and" => Tok::And,
                "or" => Tok::Or,
                "not" => Tok::Not,
                _ => Tok::Ident(word),
            };
            out.push(Token { kind, col });
            continue;
        }
        let next = chars.get(i + 1).copied();
        let (kind, len) = match (c, next) {
            ('*', Some('*')) => (Tok::Power, 2),
            ('=', Some('=')) => (Tok::Eq, 2),
            ('!', Some('=')) => (Tok::Ne, 2),
            ('<', Some('=')) => (Tok::Le, 2),
            ('>', Some('=')) => (Tok::Ge, 2),
            ('&', Some('&')) => (Tok::And, 2),
            ('|', Some('|')) => (Tok::Or, 2),
            ('+', _) => (Tok::Plus, 1),
            ('-', _) => (Tok::Minus, 1),
            ('*', _) => (Tok::Star, 1),
            ('/', _) => (Tok::Slash, 1),
            ('%', _) => (Tok::Percent, 1),
            ('(', _) => (Tok::LParen, 1),
            (')', _) => (Tok::RParen, 1),
            (',', _) => (Tok::Comma, 1),
            ('<', _) => (Tok::Lt, 1),
            ('>', _) => (Tok::Gt, 1),
            ('&', _) => (Tok::And, 1),
            ('|', _) => (Tok::Or, 1),
            ('!', _) => (Tok::Not, 1),
            ('=', _) => {
                return Err(ExprError::new(
                    source,
                    col,
                    "`=` is not an operator; compare with `==`",
                ))
            }
            ('^', _) => {
                return Err(ExprError::new(
                    source,
                    col,
                    "`^` is not an operator; raise to a power with `**` or pow(a, b)",
                ))
            }
            _ => {
                return Err(ExprError::new(
                    source,
                    col,
                    format!("unexpected character `{c}`"),
                ))
            }
        };
        out.push(Token { kind, col });
        i += len;
    }
    out.push(Token {
        kind: Tok::End,
        col: chars.len() + 1,
    });
    Ok(out)
}

/// A decimal number: digits, optional fraction, optional exponent. Returns the value and the
/// index after it.
fn number(chars: &[char], start: usize, source: &str) -> Result<(f64, usize), ExprError> {
    let mut i = start;
    let digits = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
    };
    digits(&mut i);
    if i < chars.len() && chars[i] == '.' {
        i += 1;
        digits(&mut i);
    }
    if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
        let mut j = i + 1;
        if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
            j += 1;
        }
        if j < chars.len() && chars[j].is_ascii_digit() {
            i = j;
            digits(&mut i);
        } else {
            return Err(ExprError::new(
                source,
                i + 1,
                "a number's exponent needs digits (e.g. 1e-3)",
            ));
        }
    }
    if i < chars.len() && (chars[i].is_alphabetic() || chars[i] == '_') {
        return Err(ExprError::new(
            source,
            i + 1,
            format!("unexpected `{}` right after a number", chars[i]),
        ));
    }
    let text: String = chars[start..i].iter().collect();
    let value = text
        .parse::<f64>()
        .map_err(|e| ExprError::new(source, start + 1, format!("bad number `{text}`: {e}")))?;
    Ok((value, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn operators_numbers_and_words() {
        assert_eq!(
            kinds("a**2 >= .5e1 and !b"),
            vec![
                Tok::Ident("a".into()),
                Tok::Power,
                Tok::Num(2.0),
                Tok::Ge,
                Tok::Num(5.0),
                Tok::And,
                Tok::Not,
                Tok::Ident("b".into()),
                Tok::End
            ]
        );
        assert_eq!(kinds("1e-3")[0], Tok::Num(1e-3));
        assert_eq!(kinds("x_1||y")[1], Tok::Or);
    }

    #[test]
    fn columns_count_characters() {
        let t = tokenize("é + b").unwrap();
        assert_eq!(t[1].col, 3);
        assert_eq!(t[2].col, 5);
        let err = tokenize("a $ b").unwrap_err();
        assert_eq!(err.column(), 3);
        let err = tokenize("a = b").unwrap_err();
        assert!(err.to_string().contains("=="), "{err}");
        let err = tokenize("2e+").unwrap_err();
        assert_eq!(err.column(), 2);
        let err = tokenize("3x").unwrap_err();
        assert_eq!(err.column(), 2);
    }
}
