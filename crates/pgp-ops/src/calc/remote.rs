//! Calculator blocks on a process pool: each task is a run of consecutive windows plus the
//! kernel as data. The worker opens the rasters, reads and computes its windows, and sends the
//! finished blocks back; the parent writes them in order like any other executor's.

use pgp_core::{DataType, Raster, Window};
use pgp_exec::{Executor, RemoteOp};
use serde::{Deserialize, Serialize};

use super::engine::{self, CalcReport, Computed, Job, Unmapped};
use super::kernel::KernelSpec;
use crate::block_jobs::{Payload, Sink};
use crate::{Error, Result};
use pgp_core::tiles::TileLayout;

/// Arguments of one process-pool task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChunkArgs {
    kernel: KernelSpec,
    windows: Vec<Window>,
    /// Compress blocks into these tiles in the worker (outputs written as raw tiles).
    layout: Option<TileLayout>,
}

/// A block as a worker sent it: pixels must cover its window exactly.
fn checked(c: Computed) -> Result<Computed> {
    match &c.data {
        Payload::Pixels(data) if data.shape() != c.window.shape() => Err(Error::invalid(
            "block",
            format!(
                "worker sent {:?} pixels for window {:?}",
                data.shape(),
                c.window
            ),
        )),
        _ => Ok(c),
    }
}

/// The registered operation: compute a run of windows in a worker process.
pub(crate) struct CalcChunk;

impl RemoteOp for CalcChunk {
    const NAME: &'static str = "pgp_ops::calc::chunk";
    type Args = ChunkArgs;
    type Output = Vec<Computed>;

    fn run(args: ChunkArgs) -> std::result::Result<Vec<Computed>, String> {
        let compute = || -> Result<Vec<Computed>> {
            let prepared = args.kernel.prepare()?;
            let rasters = args
                .kernel
                .raster_paths()
                .iter()
                .map(Raster::open)
                .collect::<pgp_core::Result<Vec<_>>>()?;
            args.windows
                .iter()
                .map(|w| {
                    prepared
                        .compute(&rasters, *w)
                        .and_then(|c| c.encoded(args.layout.as_ref()))
                })
                .collect()
        };
        compute().map_err(|e| e.to_string())
    }
}

pgp_exec::register_op!(CalcChunk);

/// Pixels per process-pool task: large enough that opening the rasters and the round trip are
/// small next to the work, small enough to keep memory bounded (about 8 MB of f64 per task).
const CHUNK_PIXELS: usize = 1 << 20;

pub(crate) fn run_on_processes(
    job: &Job,
    spec: KernelSpec,
    exec: &Executor,
    check_unmapped: impl FnOnce(Unmapped) -> Result<()>,
) -> Result<CalcReport> {
    let (out, windows) = engine::create_output(job)?;
    let layout = out.layout();
    let n = windows.len();
    let per_block = windows.first().map_or(1, Window::area).max(1);
    // At least four tasks per worker, so the last tasks do not leave workers idle.
    let by_balance = n.div_ceil(4 * exec.workers()).max(1);
    let per_chunk = (CHUNK_PIXELS / per_block).clamp(1, by_balance);
    let args: Vec<ChunkArgs> = windows
        .chunks(per_chunk)
        .map(|ws| ChunkArgs {
            kernel: spec.clone(),
            windows: ws.to_vec(),
            layout,
        })
        .collect();
    let results =
        exec.map_ordered_op::<CalcChunk>(args)
            .flat_map(|chunk| -> Vec<Result<Computed>> {
                match chunk {
                    Ok(blocks) => blocks.into_iter().map(checked).collect(),
                    Err(e) => vec![Err(e.into())],
                }
            });
    write_or_datatype_error(job, out, n, results, check_unmapped)
}

fn write_or_datatype_error(
    job: &Job,
    out: Sink,
    n: usize,
    results: impl Iterator<Item = Result<Computed>>,
    check_unmapped: impl FnOnce(Unmapped) -> Result<()>,
) -> Result<CalcReport> {
    let want: DataType = job.datatype();
    let checked = results.map(move |r| {
        r.and_then(|c| {
            let ok = match &c.data {
                Payload::Pixels(d) => d.data_type() == want,
                // Tiles were encoded for the output's layout, which checks the type.
                Payload::Tiles(_) => true,
            };
            if ok {
                Ok(c)
            } else {
                Err(Error::invalid(
                    "block",
                    format!(
                        "worker sent {} pixels for a {} output",
                        match &c.data {
                            Payload::Pixels(d) => d.data_type(),
                            Payload::Tiles(_) => want,
                        },
                        want
                    ),
                ))
            }
        })
    });
    engine::write_blocks(job, out, n, checked, check_unmapped)
}
