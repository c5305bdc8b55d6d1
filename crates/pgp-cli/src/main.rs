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
    /// Run a pipeline file, skipping every task that is up to date.
    Run(commands::run::RunArgs),
    /// Print a pipeline's task graph in Graphviz DOT.
    Graph(commands::run::GraphArgs),
}

fn main() -> ExitCode {
    // Process-pool workers are copies of this program: serve and exit when started as one.
    pgp::exec::worker::run_if_worker();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => commands::info::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Graph(args) => commands::run::graph(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pgp: error: {e}");
            ExitCode::FAILURE
        }
    }
}
