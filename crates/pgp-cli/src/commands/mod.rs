//! One module per subcommand.

pub mod info;
pub mod report;
pub mod run;

/// What a subcommand returns: errors are printed as one line by `main`.
pub type CmdResult = Result<(), Box<dyn std::error::Error>>;
