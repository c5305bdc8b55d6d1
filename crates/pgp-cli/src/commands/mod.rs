//! One module per subcommand.

pub mod align;
pub mod cache;
pub mod calc;
pub mod common;
pub mod convolve;
pub mod info;
pub mod quicklook;
pub mod report_outputs;
pub mod routing;
pub mod run;
pub mod warp;
pub mod zonal;

/// What a subcommand returns: errors are printed as one line by `main`.
pub type CmdResult = Result<(), Box<dyn std::error::Error>>;

/// What `main` prints before an error message (expression errors align their caret past it).
pub const ERROR_PREFIX: &str = "pgp: error: ";

/// An error printed on two lines by design: the message, then a caret under the column at fault
/// (every other error is folded onto one line by `main`).
#[derive(Debug)]
pub struct CaretError(pub String);

impl std::fmt::Display for CaretError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CaretError {}

/// An error message on one line: lines joined with ` | ` (some library messages, such as an
/// expression error met inside a pipeline task, span several lines).
pub fn one_line_message(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines.join(" | ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_fold_onto_one_line() {
        assert_eq!(
            super::one_line_message("bad thing\n  a + \n    ^\n"),
            "bad thing |   a + |     ^"
        );
        assert_eq!(super::one_line_message("plain"), "plain");
    }
}
