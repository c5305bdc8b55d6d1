//! The one driver of operations that write a raster.

use std::path::Path;

use pgp_core::tiles::FinishFn;
use pgp_core::{block_windows, RasterSpec, Window};
use pgp_exec::Executor;

use super::{map_for, BlockOp, Payload, Runner, Sink};
use crate::{Error, Result};

/// The raster an operation writes.
pub(crate) struct RasterTarget<'a> {
    /// The operation's name, for progress.
    pub operation: &'static str,
    pub path: &'a Path,
    pub spec: &'a RasterSpec,
}

/// Which windows the operation computes, in the order they are written.
pub(crate) enum Windows {
    /// The output's blocks merged up to `largest_block` pixels (pygeoprocessing's `iterblocks`).
    OutputBlocks { largest_block: usize },
    /// These windows, each `step` in size but at the edges (raw tiles only when the step is
    /// made of whole tiles).
    Given {
        step: Option<(usize, usize)>,
        windows: Vec<Window>,
    },
}

/// An output with every block written, not yet in place: [`Written::commit`] puts it there;
/// dropping it removes the temporary file.
pub(crate) struct Written {
    sink: Sink,
    /// How many blocks were written.
    pub blocks: usize,
}

impl Written {
    /// Run `finish` on the output (statistics, metadata) and rename it into place.
    pub(crate) fn commit(self, finish: Option<FinishFn<'_>>) -> Result<()> {
        self.sink.commit(finish)
    }
}

/// Create `target`, compute every window on `exec` (`item` makes the window's item, on this
/// thread, as workers free up), write the blocks in window order and hand each block's side
/// result to `merge` in the same order.
pub(crate) fn write_raster<O: BlockOp>(
    exec: &Executor,
    runner: &Runner<O>,
    target: RasterTarget<'_>,
    windows: Windows,
    mut item: impl FnMut(Window) -> Result<O::Item>,
    mut merge: impl FnMut(O::Side) -> Result<()>,
) -> Result<Written> {
    runner.check(exec, target.operation)?;
    let spec = target.spec;
    let (mut sink, windows) = match windows {
        Windows::OutputBlocks { largest_block } => {
            let mut sink = Sink::create(target.path, spec, None)?;
            let size = (spec.cols, spec.rows);
            let windows: Vec<Window> =
                block_windows(size, sink.block_size()?, largest_block).collect();
            (sink, windows)
        }
        Windows::Given { step, windows } => (Sink::create(target.path, spec, step)?, windows),
    };
    let mut item_error = None;
    let items = windows.iter().map_while(|w| match item(*w) {
        Ok(item) => Some(item),
        Err(e) => {
            item_error = Some(e);
            None
        }
    });
    let mut blocks = 0usize;
    let mut expected = windows.iter();
    let per_task = runner.per_task(&windows, exec.workers());
    let results = map_for(
        exec,
        target.operation,
        runner,
        sink.layout(),
        per_task,
        items,
    )?;
    for block in results {
        let block = block?;
        if expected.next() != Some(&block.window) {
            return Err(Error::internal(format!(
                "{}: block {} came back out of order",
                target.path.display(),
                block.window
            )));
        }
        if let Some(data) = &block.data {
            check_block(spec, block.window, data)?;
            sink.write(block.window, data)?;
        }
        merge(block.side)?;
        blocks += 1;
    }
    if let Some(e) = item_error {
        return Err(e);
    }
    if blocks != windows.len() {
        return Err(Error::internal(format!(
            "{}: {blocks} of {} blocks were computed",
            target.path.display(),
            windows.len()
        )));
    }
    Ok(Written { sink, blocks })
}

/// Pixels must cover their window exactly, in the output's type and band count, whoever
/// computed them.
fn check_block(spec: &RasterSpec, window: Window, data: &Payload) -> Result<()> {
    let bands: &[pgp_core::DynArray] = match data {
        Payload::Pixels(one) => std::slice::from_ref(one),
        Payload::Bands(many) => many,
        // Tiles were encoded for the output's layout, which checks shape and type.
        Payload::Tiles(_) => return Ok(()),
    };
    if bands.len() != spec.bands {
        return Err(Error::internal(format!(
            "{} band(s) computed for a {}-band output",
            bands.len(),
            spec.bands
        )));
    }
    for band in bands {
        if band.shape() != window.shape() || band.data_type() != spec.datatype {
            return Err(Error::internal(format!(
                "{} {:?} pixels computed for window {window} of a {} output",
                band.data_type(),
                band.shape(),
                spec.datatype
            )));
        }
    }
    Ok(())
}
