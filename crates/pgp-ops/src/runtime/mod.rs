#![doc = include_str!("README.md")]

mod driver;
mod handles;
mod sink;

use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;

use pgp_core::tiles::TileLayout;
use pgp_core::Window;
use pgp_exec::{ExecError, Executor, RemoteOp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub(crate) use driver::{write_raster, RasterTarget, Windows, Written};
pub(crate) use handles::{run_token, Handles};
pub(crate) use sink::{
    forget_read_blocks, spec_like, with_compression_threads, DirtyBlocks, Payload, Sink,
};

use crate::progress::Tracker;
use crate::{Error, Result};

/// A block operation: one value for the whole call, applied to many items.
///
/// This and the other runtime types are `pub` only so that the window functions users register
/// (`register_window_fn!`) can name the process-pool operation; they are not reachable by path.
pub trait BlockOp: Send + Sync + 'static {
    /// One unit of work (a window, or a window with data the caller computed).
    type Item: Serialize + DeserializeOwned + Send + 'static;
    /// What a block gives besides its pixels, merged by the caller in block order.
    type Side: Serialize + DeserializeOwned + Send + 'static;
    /// Built once per worker and call from the operation (a compiled program, a kernel).
    type Prepared: Send + Sync + 'static;

    /// The rasters it reads; [`Handles`] holds them in this order.
    fn inputs(&self) -> Vec<PathBuf> {
        Vec::new()
    }

    /// Pixels by which its reads reach beyond an item's window. Blocks then overlap, and the
    /// threads of a call share one handle per input (so each file block is decoded once).
    fn halo(&self) -> usize {
        0
    }

    /// Whether several items read the same file blocks (a halo, or windows smaller than the
    /// inputs' blocks). The threads of a call then share one handle per input and take turns
    /// to read, so each file block is decoded once, not once per thread.
    fn shares_blocks(&self) -> bool {
        self.halo() > 0
    }

    /// Prepare for computing (on the caller for threads, in each worker process otherwise).
    fn prepare(&self) -> Result<Self::Prepared>;

    /// Compute one item.
    fn compute(
        &self,
        prepared: &Self::Prepared,
        inputs: &Handles<'_>,
        item: Self::Item,
    ) -> Result<Computed<Self::Side>>;
}

/// A [`BlockOp`] that is data, so it also runs in worker processes.
pub trait RemoteBlockOp: BlockOp + Clone + Serialize + DeserializeOwned {
    /// The registered name (see [`register_block_op!`]).
    const NAME: &'static str;
}

/// Registers a [`RemoteBlockOp`] with the process pools' worker registry.
macro_rules! register_block_op {
    ($op:ty) => {
        pgp_exec::register_op!($crate::runtime::Remote<$op>);
    };
}
pub(crate) use register_block_op;

/// One computed item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Computed<S> {
    /// Where it goes in the output.
    pub window: Window,
    /// The output's pixels there, if the operation writes a raster.
    pub data: Option<Payload>,
    /// The rest, merged by the caller.
    pub side: S,
}

impl<S> Computed<S> {
    /// A block of pixels for `window` with a side result.
    pub(crate) fn pixels(window: Window, data: impl Into<pgp_core::DynArray>, side: S) -> Self {
        Computed {
            window,
            data: Some(Payload::Pixels(data.into())),
            side,
        }
    }

    /// A side result only.
    pub(crate) fn side(window: Window, side: S) -> Self {
        Computed {
            window,
            data: None,
            side,
        }
    }

    /// Compress the pixels into `layout`'s tiles, on the worker that computed them.
    fn encoded(mut self, layout: Option<&TileLayout>) -> Result<Self> {
        if let Some(data) = self.data.take() {
            self.data = Some(data.encoded(self.window, layout)?);
        }
        Ok(self)
    }
}

/// Computed items in item order.
pub(crate) type Results<'a, S> = Box<dyn Iterator<Item = Result<Computed<S>>> + 'a>;

/// How a call's batches of items reach a process pool, for operations that are data.
type SendFn<O> = for<'a> fn(
    &Executor,
    &O,
    Dispatch,
    Box<dyn Iterator<Item = Vec<<O as BlockOp>::Item>> + 'a>,
) -> Results<'a, <O as BlockOp>::Side>;

/// An operation with what it takes to run it on any executor.
pub(crate) struct Runner<O: BlockOp> {
    op: Arc<O>,
    send: Option<SendFn<O>>,
    /// Pixels per process-pool task when items are batched (see [`Runner::batched`]).
    batch_pixels: Option<usize>,
}

impl<O: RemoteBlockOp> Runner<O> {
    /// Runs on every executor, process pools included.
    pub(crate) fn new(op: O) -> Runner<O> {
        Runner {
            op: Arc::new(op),
            send: Some(send_to_processes::<O>),
            batch_pixels: None,
        }
    }

    /// Sends runs of consecutive windows of about `pixels` pixels as one process-pool task, so
    /// opening the rasters and the round trip stay small next to the work of cheap blocks.
    pub(crate) fn batched(mut self, pixels: usize) -> Runner<O> {
        self.batch_pixels = Some(pixels);
        self
    }
}

impl<O: BlockOp> Runner<O> {
    /// Runs only in this process (sync and threads): it holds a closure. A process pool is
    /// refused, naming `operation`.
    pub(crate) fn in_process(op: O) -> Runner<O> {
        Runner {
            op: Arc::new(op),
            send: None,
            batch_pixels: None,
        }
    }

    /// Items per process-pool task for these windows: one, or a batch of about the batch's
    /// pixels, with at least four tasks per worker so the last ones do not leave workers idle.
    fn per_task(&self, windows: &[Window], workers: usize) -> usize {
        let Some(pixels) = self.batch_pixels else {
            return 1;
        };
        let per_block = windows.first().map_or(1, Window::area).max(1);
        let by_balance = windows.len().div_ceil(4 * workers.max(1)).max(1);
        (pixels / per_block).clamp(1, by_balance)
    }

    /// Fails now, before any work, if `exec` cannot run this operation.
    pub(crate) fn check(&self, exec: &Executor, operation: &str) -> Result<()> {
        match self.send {
            Some(_) => Ok(()),
            None => require_closures(exec, operation),
        }
    }
}

/// Refuses a process pool for `operation`, which was given a Rust closure: call it before any
/// work, so the refusal comes first.
pub(crate) fn require_closures(exec: &Executor, operation: &str) -> Result<()> {
    if exec.runs_closures() {
        return Ok(());
    }
    Err(ExecError::NotSendable {
        reason: format!(
            "{operation} was given a Rust closure, which cannot be sent to the process pool \
             ({}); use a `threading` or `sync` executor, or describe the operation as data: \
             a raster algebra expression (pgp_ops::calc::evaluate) runs on process pools",
            exec.spec()
        ),
    }
    .into())
}

/// What every task of a call carries besides its items.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Dispatch {
    /// The call, for the worker's kept state.
    run: u64,
    /// The output's tiles, when workers compress for it.
    layout: Option<TileLayout>,
}

/// Runs `runner` on every item on `exec`, results in item order; at most about two tasks per
/// worker are in flight, so memory stays bounded however many items there are. Progress is
/// reported as `operation`, one unit per item.
pub(crate) fn map<'a, O: BlockOp>(
    exec: &Executor,
    operation: &'static str,
    runner: &Runner<O>,
    items: impl Iterator<Item = O::Item> + 'a,
) -> Result<Results<'a, O::Side>> {
    map_for(exec, operation, runner, None, 1, items)
}

/// [`map`], compressing pixels for `layout` on the workers.
fn map_for<'a, O: BlockOp>(
    exec: &Executor,
    operation: &'static str,
    runner: &Runner<O>,
    layout: Option<TileLayout>,
    per_task: usize,
    items: impl Iterator<Item = O::Item> + 'a,
) -> Result<Results<'a, O::Side>> {
    runner.check(exec, operation)?;
    let (lower, upper) = items.size_hint();
    let tracker = Tracker::start(operation, "blocks", upper.unwrap_or(lower));
    let dispatch = Dispatch {
        run: run_token(),
        layout,
    };
    let results: Results<'a, O::Side> = match runner.send {
        Some(send) if !exec.runs_closures() => {
            let mut items = items;
            let batches = std::iter::from_fn(move || {
                let batch: Vec<O::Item> = items.by_ref().take(per_task).collect();
                (!batch.is_empty()).then_some(batch)
            });
            send(exec, &runner.op, dispatch, Box::new(batches))
        }
        _ => {
            let op = runner.op.clone();
            let prepared = Arc::new(op.prepare()?);
            let handles = handles::LocalHandles::open(op.inputs(), op.shares_blocks())?;
            Box::new(
                exec.map_ordered(items, move |item| {
                    handles
                        .with(|h| op.compute(&prepared, h, item))?
                        .encoded(layout.as_ref())
                })
                .map(|r| r.map_err(Error::from).and_then(|computed| computed)),
            )
        }
    };
    Ok(Box::new(tracker.track(results)))
}

/// The process-pool form of a [`RemoteBlockOp`]: a batch of items with the operation.
pub struct Remote<O>(PhantomData<O>);

/// Arguments of one [`Remote`] task.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Task<O: RemoteBlockOp> {
    op: O,
    dispatch: Dispatch,
    items: Vec<O::Item>,
}

impl<O: RemoteBlockOp> RemoteOp for Remote<O> {
    const NAME: &'static str = O::NAME;
    type Args = Task<O>;
    /// Operation errors travel as values, typed; only a failure of the transport itself (a
    /// panic, a dead worker) is an executor error.
    type Output = std::result::Result<Vec<Computed<O::Side>>, Error>;

    fn run(task: Task<O>) -> std::result::Result<Self::Output, String> {
        let Task {
            op,
            dispatch,
            items,
        } = task;
        Ok(handles::with_worker_state(
            dispatch.run,
            &op,
            |prepared, inputs| {
                items
                    .into_iter()
                    .map(|item| {
                        op.compute(prepared, inputs, item)?
                            .encoded(dispatch.layout.as_ref())
                    })
                    .collect()
            },
        ))
    }
}

fn send_to_processes<'a, O: RemoteBlockOp>(
    exec: &Executor,
    op: &O,
    dispatch: Dispatch,
    batches: Box<dyn Iterator<Item = Vec<O::Item>> + 'a>,
) -> Results<'a, O::Side> {
    let op = op.clone();
    let tasks = batches.map(move |items| Task {
        op: op.clone(),
        dispatch,
        items,
    });
    Box::new(exec.map_ordered_op::<Remote<O>>(tasks).flat_map(
        |task| -> Vec<Result<Computed<O::Side>>> {
            match task.map_err(Error::from).and_then(|done| done) {
                Ok(blocks) => blocks.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            }
        },
    ))
}

#[cfg(test)]
mod tests;
