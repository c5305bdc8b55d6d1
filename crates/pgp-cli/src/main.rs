//! `pgp`: the command-line face of pgp. Parses arguments, calls the library, prints results.
//! Every failure exits non-zero with one line that names the file or argument at fault.

// Doc comments here are clap's `--help` texts, printed as written: `threading[:N]` in them is
// usage syntax for the reader of the help, not a rustdoc link.
#![allow(rustdoc::broken_intra_doc_links)]

mod commands;
mod output;
mod progress;
mod signals;

// Operations allocate and free block- and FFT-sized buffers (hundreds of KiB to MiB) on every
// worker; glibc's allocator hands those back to the kernel and page-faults them in again
// (a fifth of convolve_2d's time was in the kernel). mimalloc keeps them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};

use commands::{one_line_message, CaretError, ERROR_PREFIX};
use output::{errln, StdoutClosed};

/// Parallel geoprocessing and incremental pipelines on GDAL.
#[derive(Debug, Parser)]
#[command(name = "pgp", version, about)]
struct Cli {
    /// How to show progress on stderr: bars on a terminal (auto), plain lines for logs, or off.
    #[arg(long, global = true, value_enum, default_value_t = progress::ProgressMode::Auto)]
    progress: progress::ProgressMode,
    /// Log each operation (start, end, blocks done, seconds) and, for `pgp run`, each task
    /// event as a JSON line on stderr.
    #[arg(short, long, global = true)]
    verbose: bool,
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
    /// Look after a shared result store: stats, gc, verify.
    Cache(commands::cache::CacheArgs),
    /// Raster algebra: evaluate an expression over raster bands into a new raster.
    Calc(commands::calc::CalcArgs),
    /// Put rasters on one common grid (pixel size and extent), each with its resampling method.
    Align(commands::align::AlignArgs),
    /// Resample and reproject one raster.
    Warp(commands::warp::WarpArgs),
    /// Min, max, sum, count and nodata count of a raster under each polygon, as JSON.
    ZonalStats(commands::zonal::ZonalArgs),
    /// Convolve a raster with a kernel raster.
    Convolve(commands::convolve::ConvolveArgs),
    /// Hydrological routing (pygeoprocessing.routing): fill-pits, flow-dir, flow-accum, ...
    Routing(commands::routing::RoutingArgs),
    /// Draw one band of a raster as a PNG, read at reduced resolution (overviews when present).
    Quicklook(commands::quicklook::QuicklookArgs),
}

impl Command {
    /// The subcommand's name as typed.
    fn name(&self) -> &'static str {
        match self {
            Command::Info(_) => "info",
            Command::Run(_) => "run",
            Command::Graph(_) => "graph",
            Command::Cache(_) => "cache",
            Command::Calc(_) => "calc",
            Command::Align(_) => "align",
            Command::Warp(_) => "warp",
            Command::ZonalStats(_) => "zonal-stats",
            Command::Convolve(_) => "convolve",
            Command::Routing(_) => "routing",
            Command::Quicklook(_) => "quicklook",
        }
    }
}

/// A clap usage error as one line: its message without the usage block and the help hint.
fn one_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let message: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    format!("{message} (see --help)")
}

fn main() -> ExitCode {
    // Process-pool workers are copies of this program: serve and exit when started as one.
    pgp::exec::worker::run_if_worker();
    signals::install();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
            _ => {
                errln!("{ERROR_PREFIX}{}", one_line(&e));
                return ExitCode::from(2);
            }
        },
    };
    progress::install(cli.progress, cli.verbose);
    let name = cli.command.name();
    let result = match cli.command {
        Command::Info(args) => commands::info::run(args),
        Command::Run(args) => commands::run::run(args, cli.verbose),
        Command::Graph(args) => commands::run::graph(args),
        Command::Cache(args) => commands::cache::run(args),
        Command::Calc(args) => commands::calc::run(args),
        Command::Align(args) => commands::align::run(args),
        Command::Warp(args) => commands::warp::run(args),
        Command::ZonalStats(args) => commands::zonal::run(args),
        Command::Convolve(args) => commands::convolve::run(args),
        Command::Routing(args) => commands::routing::run(args),
        Command::Quicklook(args) => commands::quicklook::run(args),
    };
    signals::wait_if_stopping();
    // The reader of stdout left (`pgp ... | head`): the work is done and nobody wants the rest.
    let result = match result {
        Err(e) if e.is::<StdoutClosed>() => Ok(()),
        other => other,
    };
    if cli.verbose {
        progress::log_command(name, result.as_ref().err().map(|e| e.to_string()));
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<CaretError>() => {
            errln!("{ERROR_PREFIX}{e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            errln!("{ERROR_PREFIX}{}", one_line_message(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}
