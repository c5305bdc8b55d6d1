//! `pgp`: the command-line face of pgp. Parses arguments, calls the library, prints results.
//! Every failure exits non-zero with one line that names the file or argument at fault.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Parallel geoprocessing and incremental pipelines on GDAL.
#[derive(Debug, Parser)]
#[command(name = "pgp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Describe a raster or vector as JSON.
    Info(commands::info::InfoArgs),
}

fn main() -> ExitCode {
    // Process-pool workers are copies of this program: serve and exit when started as one.
    pgp::exec::worker::run_if_worker();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => commands::info::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pgp: error: {e}");
            ExitCode::FAILURE
        }
    }
}
