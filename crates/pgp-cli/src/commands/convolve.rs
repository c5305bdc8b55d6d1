//! `pgp convolve SIGNAL KERNEL OUT [--normalize] [--ignore-nodata]`: 2-D convolution.

use std::path::PathBuf;

use pgp::ops::request::{ConvolveRequest, Request};

use super::common::{
    output_json, print_outputs, require_file, require_output, ExecutorArg, Stopwatch,
};
use super::CmdResult;

/// Arguments of `pgp convolve`.
#[derive(Debug, clap::Args)]
pub struct ConvolveArgs {
    /// The signal raster (band 1).
    signal: PathBuf,
    /// The kernel raster (band 1).
    kernel: PathBuf,
    /// The output raster (Float64, on the signal's grid).
    output: PathBuf,
    /// Divide the kernel by its sum first.
    #[arg(long)]
    normalize: bool,
    /// Treat nodata and the area beyond the edges as missing rather than as zeros: divide by
    /// the convolution of the valid-pixel mask.
    #[arg(long)]
    ignore_nodata: bool,
    #[command(flatten)]
    executor: ExecutorArg,
    /// Print a JSON summary of the output.
    #[arg(long)]
    json: bool,
}

/// Run `pgp convolve`.
pub fn run(args: ConvolveArgs) -> CmdResult {
    require_file(&args.signal, "SIGNAL")?;
    require_file(&args.kernel, "KERNEL")?;
    require_output(&args.output, "OUT")?;
    let request = ConvolveRequest {
        signal: args.signal.clone(),
        signal_band: 1,
        kernel: args.kernel.clone(),
        kernel_band: 1,
        target: args.output.clone(),
        normalize_kernel: args.normalize,
        ignore_nodata_and_edges: args.ignore_nodata,
        mask_nodata: None,
    };
    let exec = args.executor.build()?;
    let stopwatch = Stopwatch::start();
    request.run(&exec)?;
    let seconds = stopwatch.seconds();
    print_outputs(vec![output_json(&args.output)?], seconds, args.json)?;
    Ok(())
}
