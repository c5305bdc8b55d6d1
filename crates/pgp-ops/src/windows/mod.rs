//! Your own function, window by window, over multi-band rasters, on any executor.
//!
//! [`map_windows`] is rasterio's concurrent-processing pattern as one call: every input raster
//! (any number of bands each) is read window by window as one band x row x column array per
//! input, your function turns them into the output's window, and the output is written by one
//! writer, windows in order, under a temporary name renamed into place on success. The windows
//! are the output's blocks. [`fold_windows`] does the same for a value per window (a histogram, a
//! model's score), folded on the calling thread in window order. Either way the result does not
//! depend on the executor or its worker count.
//!
//! - On `sync` and `threading` executors, pass a closure.
//! - On a process pool, register a plain function once with [`register_window_fn!`](crate::register_window_fn!) (or
//!   [`register_fold_fn!`](crate::register_fold_fn!) for folds) and pass the marker type it defines
//!   ([`map_windows_registered`], [`fold_windows_registered`]). Each worker process opens every
//!   input once per call and keeps it open for the call's next windows. A closure given to a
//!   process pool is refused with [`ExecError::NotSendable`](pgp_exec::ExecError) before any work.
//!
//! A panic in your function is an [`Error::WindowPanicked`] naming the window; the output is
//! then not written, and no temporary is left behind.
//!
//! ```
//! use ndarray::Array3;
//! use pgp_core::{DataType, GeoTransform, OutputRaster, RasterSpec};
//! use pgp_ops::windows::{fold_windows, map_windows, WindowData, WindowFold, WindowMap};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let rgb = dir.path().join("rgb.tif");
//! let spec = RasterSpec::new(300, 200, DataType::U8, GeoTransform::north_up(0.0, 0.0, 1.0, -1.0)).bands(3);
//! let mut out = OutputRaster::create(&rgb, &spec)?;
//! let pixels = Array3::from_shape_fn((3, 200, 300), |(b, r, c)| (b * 50 + (r + c) % 50) as u8);
//! out.raster().write_bands(&[1, 2, 3], 0, 0, pixels.view())?;
//! out.commit()?;
//!
//! // The bands in reverse order, 128 x 128 tiles, on two threads.
//! let exec = pgp_exec::Executor::threads(2)?;
//! let target = dir.path().join("bgr.tif");
//! let request = WindowMap::new([&rgb], &target).block_size(128, 128);
//! let reverse = |w: &WindowData<'_, u8>| Ok(w.inputs[0].slice(ndarray::s![..;-1, .., ..]).to_owned());
//! let report = map_windows(&request, reverse, &exec)?;
//! assert_eq!(report.windows, 6);
//! let bgr = pgp_core::Raster::open(&target)?;
//! assert_eq!(bgr.read::<u8>(1, pgp_core::Window::new(10, 20, 1, 1))?[[0, 0]], 100 + 30);
//!
//! // A histogram of band 1, folded in window order.
//! let histogram = fold_windows(
//!     &WindowFold::new([&rgb]),
//!     |w: &WindowData<'_, u8>| {
//!         let mut counts = vec![0u64; 256];
//!         w.inputs[0].index_axis(ndarray::Axis(0), 0).iter().for_each(|&v| counts[v as usize] += 1);
//!         Ok(counts)
//!     },
//!     vec![0u64; 256],
//!     |mut total, counts| {
//!         total.iter_mut().zip(counts).for_each(|(t, c)| *t += c);
//!         Ok(total)
//!     },
//!     &exec,
//! )?;
//! assert_eq!(histogram.iter().sum::<u64>(), 60_000);
//! # Ok(())
//! # }
//! ```

mod halo;
mod op;
mod spec;

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use ndarray::{Array3, ArrayView3};
use pgp_core::{block_windows, DataType, GeoTransform, Pixel, Raster, RasterDriver, Window};
use pgp_exec::Executor;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use halo::{Edge, Halo};
pub use op::{WindowCall, WindowOutput};

use crate::runtime::{self, RasterTarget, Runner, Windows};
use crate::{Error, Result};
use op::{FoldClosure, Kernel, MapClosure, Registered, WindowOp};

/// One window as a window function sees it.
#[derive(Debug)]
pub struct WindowData<'a, T> {
    /// One array per input raster, in the order given: all its bands, band x row x column,
    /// covering [`WindowData::window`] grown by [`WindowData::halo`] pixels on every side.
    pub inputs: &'a [Array3<T>],
    /// The output window: where the returned block goes, in pixels of the raster.
    pub window: Window,
    /// The window's number, in write order from 0.
    pub index: usize,
    /// Pixels of overlap around the window in every input array.
    pub halo: usize,
    /// The geotransform of the window: its top-left pixel is `(0, 0)`.
    pub geotransform: GeoTransform,
}

impl<T> WindowData<'_, T> {
    /// Input `i` without its halo: exactly the output window's pixels.
    pub fn core(&self, i: usize) -> Option<ArrayView3<'_, T>> {
        let h = self.halo;
        let (rows, cols) = self.window.shape();
        self.inputs
            .get(i)
            .map(|a| a.slice(ndarray::s![.., h..h + rows, h..h + cols]))
    }
}

/// The output of [`map_windows`]: every setting defaults to the first input's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputOptions {
    /// Number of bands (default: the first input's).
    pub bands: Option<usize>,
    /// Nodata of every band: `Some(None)` for none (default: the first input's band 1 nodata).
    pub nodata: Option<Option<f64>>,
    /// Tile size `(cols, rows)`, which is also the size of the windows (default: the first
    /// input's block size).
    pub block_size: Option<(usize, usize)>,
    /// Driver and creation options (default: the first input's driver, compression and
    /// interleaving when it is a GeoTIFF, pgp's default GeoTIFF options otherwise).
    pub driver: Option<RasterDriver>,
}

/// A [`map_windows`] request: inputs, the output and its options, and the halo. The output's
/// pixel type is the window function's.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowMap {
    /// Input rasters, all of one size.
    pub inputs: Vec<PathBuf>,
    /// The raster written.
    pub target: PathBuf,
    /// Its bands, nodata, blocks and creation options.
    pub output: OutputOptions,
    /// Overlap of the input windows.
    pub halo: Halo,
}

impl WindowMap {
    /// Map `inputs` into `target`, the output like the first input, no halo.
    pub fn new<P: AsRef<Path>>(
        inputs: impl IntoIterator<Item = P>,
        target: impl AsRef<Path>,
    ) -> Self {
        WindowMap {
            inputs: inputs
                .into_iter()
                .map(|p| p.as_ref().to_path_buf())
                .collect(),
            target: target.as_ref().to_path_buf(),
            output: OutputOptions::default(),
            halo: Halo::default(),
        }
    }

    /// The output's number of bands.
    pub fn bands(mut self, bands: usize) -> Self {
        self.output.bands = Some(bands);
        self
    }

    /// The output's nodata (`None`: no nodata).
    pub fn nodata(mut self, nodata: Option<f64>) -> Self {
        self.output.nodata = Some(nodata);
        self
    }

    /// The output's tiles, and so the windows: `cols` x `rows`.
    pub fn block_size(mut self, cols: usize, rows: usize) -> Self {
        self.output.block_size = Some((cols, rows));
        self
    }

    /// The output's driver and creation options.
    pub fn driver(mut self, driver: RasterDriver) -> Self {
        self.output.driver = Some(driver);
        self
    }

    /// Grow every input window by `pixels` on each side, made up as `edge` says beyond the
    /// raster's edges.
    pub fn halo(mut self, pixels: usize, edge: Edge) -> Self {
        self.halo = Halo::new(pixels, edge);
        self
    }
}

/// A [`fold_windows`] request: inputs, window size and halo.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowFold {
    /// Input rasters, all of one size.
    pub inputs: Vec<PathBuf>,
    /// Window size `(cols, rows)` (default: the first input's block size).
    pub block_size: Option<(usize, usize)>,
    /// Overlap of the input windows.
    pub halo: Halo,
}

impl WindowFold {
    /// Fold over `inputs`' windows, the first input's blocks, no halo.
    pub fn new<P: AsRef<Path>>(inputs: impl IntoIterator<Item = P>) -> Self {
        WindowFold {
            inputs: inputs
                .into_iter()
                .map(|p| p.as_ref().to_path_buf())
                .collect(),
            block_size: None,
            halo: Halo::default(),
        }
    }

    /// Windows of `cols` x `rows`.
    pub fn block_size(mut self, cols: usize, rows: usize) -> Self {
        self.block_size = Some((cols, rows));
        self
    }

    /// Grow every input window by `pixels` on each side.
    pub fn halo(mut self, pixels: usize, edge: Edge) -> Self {
        self.halo = Halo::new(pixels, edge);
        self
    }
}

/// What [`map_windows`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowReport {
    /// The output raster.
    pub target: PathBuf,
    /// `(cols, rows)`.
    pub size: (usize, usize),
    /// Number of bands.
    pub bands: usize,
    /// Windows computed (and written, in order).
    pub windows: usize,
}

/// A plain function registered for process pools by [`register_window_fn!`](crate::register_window_fn!) or
/// [`register_fold_fn!`](crate::register_fold_fn!): those macros implement it, not users.
pub trait RegisteredWindowFn: 'static {
    /// The name worker processes find it by.
    const NAME: &'static str;
    /// The pixel type of the blocks it returns (`None` for folds).
    fn output_type() -> Option<DataType>;
    /// Runs it on one window.
    #[doc(hidden)]
    fn call(call: WindowCall<'_>) -> Result<WindowOutput>;
}

/// Registers a plain function `fn(&WindowData<'_, I>) -> pgp_ops::Result<Array3<O>>` for
/// [`map_windows_registered`], as a marker type of the given name: one line at module level.
///
/// ```
/// use ndarray::Array3;
/// use pgp_ops::windows::WindowData;
///
/// fn brighten(w: &WindowData<'_, u8>) -> pgp_ops::Result<Array3<u8>> {
///     Ok(w.inputs[0].mapv(|v| v.saturating_add(10)))
/// }
/// pgp_ops::register_window_fn!(pub Brighten = brighten);
/// ```
///
/// Worker processes find it by the marker's path, so the binary that starts the pool (and whose
/// `main` calls `pgp_exec::worker::run_if_worker()` first) must be the one that registered it.
#[macro_export]
macro_rules! register_window_fn {
    ($vis:vis $marker:ident = $f:path) => {
        #[doc = concat!("`", stringify!($f), "`, registered as a window function for process pools.")]
        #[derive(Debug, Clone, Copy)]
        $vis struct $marker;
        impl $crate::windows::RegisteredWindowFn for $marker {
            const NAME: &'static str = concat!(module_path!(), "::", stringify!($marker));
            fn output_type() -> ::core::option::Option<$crate::__private::DataType> {
                ::core::option::Option::Some($crate::windows::__private::output_type_of(&$f))
            }
            fn call(
                call: $crate::windows::WindowCall<'_>,
            ) -> $crate::Result<$crate::windows::WindowOutput> {
                call.map($f)
            }
        }
        $crate::__private::register_op!($crate::windows::__private::RemoteWindows<$marker>);
    };
}

/// Registers a plain function `fn(&WindowData<'_, I>) -> pgp_ops::Result<V>` for
/// [`fold_windows_registered`], as a marker type of the given name (see
/// [`register_window_fn!`](crate::register_window_fn!)). `V` is what the fold receives for every window.
#[macro_export]
macro_rules! register_fold_fn {
    ($vis:vis $marker:ident = $f:path) => {
        #[doc = concat!("`", stringify!($f), "`, registered as a fold function for process pools.")]
        #[derive(Debug, Clone, Copy)]
        $vis struct $marker;
        impl $crate::windows::RegisteredWindowFn for $marker {
            const NAME: &'static str = concat!(module_path!(), "::", stringify!($marker));
            fn output_type() -> ::core::option::Option<$crate::__private::DataType> {
                ::core::option::Option::None
            }
            fn call(
                call: $crate::windows::WindowCall<'_>,
            ) -> $crate::Result<$crate::windows::WindowOutput> {
                call.fold($f)
            }
        }
        $crate::__private::register_op!($crate::windows::__private::RemoteWindows<$marker>);
    };
}

/// Items the registration macros expand to; not part of the API.
#[doc(hidden)]
pub mod __private {
    use super::*;

    /// The process-pool operation of a registered window function.
    pub type RemoteWindows<M> = crate::runtime::Remote<WindowOp<Registered<M>>>;

    /// The pixel type of the blocks `f` returns.
    pub fn output_type_of<I: Pixel, O: Pixel, F>(_: &F) -> DataType
    where
        F: Fn(&WindowData<'_, I>) -> Result<Array3<O>>,
    {
        O::DATA_TYPE
    }
}

/// Run `f` on every window of the output `request` describes, on `exec` (sync or threads: a
/// process pool needs [`map_windows_registered`]), and write its blocks in window order.
/// Returns once the output is in place; any error leaves no output and no temporary.
pub fn map_windows<I, O, F>(request: &WindowMap, f: F, exec: &Executor) -> Result<WindowReport>
where
    I: Pixel,
    O: Pixel,
    F: Fn(&WindowData<'_, I>) -> Result<Array3<O>> + Send + Sync + 'static,
{
    runtime::require_closures(exec, "map_windows")?;
    let kernel = MapClosure {
        f,
        types: PhantomData,
    };
    run_map(request, O::DATA_TYPE, exec, Runner::in_process, kernel)
}

/// [`map_windows`] with a function registered by [`register_window_fn!`](crate::register_window_fn!): runs on every
/// executor, process pools included.
pub fn map_windows_registered<M: RegisteredWindowFn>(
    request: &WindowMap,
    exec: &Executor,
) -> Result<WindowReport> {
    let datatype = M::output_type().ok_or_else(|| {
        Error::invalid(
            "function",
            format!(
                "{} is a fold function (register_fold_fn!), not a map",
                M::NAME
            ),
        )
    })?;
    run_map(
        request,
        datatype,
        exec,
        remote_runner,
        Registered::<M>::new(),
    )
}

fn remote_runner<M: RegisteredWindowFn>(
    op: WindowOp<Registered<M>>,
) -> Runner<WindowOp<Registered<M>>> {
    // Several windows per task when windows are small, so a cheap function is not dominated
    // by the round trip; the runtime keeps at least four tasks per worker.
    Runner::new(op).batched(pgp_core::LARGEST_BLOCK * 4)
}

fn run_map<K: Kernel>(
    request: &WindowMap,
    datatype: DataType,
    exec: &Executor,
    runner: impl FnOnce(WindowOp<K>) -> Runner<WindowOp<K>>,
    kernel: K,
) -> Result<WindowReport> {
    let first = spec::check_inputs(&request.inputs)?;
    let spec = spec::output_spec(&first, &request.output, datatype, exec)?;
    let plan = spec::plan(
        "map_windows",
        &request.inputs,
        &request.halo,
        &first,
        Some((spec.bands, datatype)),
        spec::tile_size(&spec),
    )?;
    let runner = runner(WindowOp { plan, kernel });
    let target = RasterTarget {
        operation: "map_windows",
        path: &request.target,
        spec: &spec,
    };
    let mut index = 0usize;
    let written = runtime::write_raster(
        exec,
        &runner,
        target,
        Windows::OutputBlocks { largest_block: 0 },
        |w| {
            index += 1;
            Ok((index - 1, w))
        },
        |_| Ok(()),
    )?;
    let windows = written.blocks;
    written.commit(None)?;
    Ok(WindowReport {
        target: request.target.clone(),
        size: (spec.cols, spec.rows),
        bands: spec.bands,
        windows,
    })
}

/// Run `f` on every window of `request`'s inputs on `exec` (sync or threads: a process pool
/// needs [`fold_windows_registered`]) and fold its values in window order:
/// `fold(fold(init, v0), v1)...`, on the calling thread as windows come back.
pub fn fold_windows<I, V, A, F>(
    request: &WindowFold,
    f: F,
    init: A,
    fold: impl FnMut(A, V) -> Result<A>,
    exec: &Executor,
) -> Result<A>
where
    I: Pixel,
    V: Serialize + DeserializeOwned + 'static,
    F: Fn(&WindowData<'_, I>) -> Result<V> + Send + Sync + 'static,
{
    runtime::require_closures(exec, "fold_windows")?;
    let kernel = FoldClosure {
        f,
        types: PhantomData,
    };
    run_fold(request, exec, Runner::in_process, kernel, init, fold)
}

/// [`fold_windows`] with a function registered by [`register_fold_fn!`](crate::register_fold_fn!): runs on every
/// executor, process pools included. `V` must be the type the function returns.
pub fn fold_windows_registered<M: RegisteredWindowFn, V: DeserializeOwned, A>(
    request: &WindowFold,
    init: A,
    fold: impl FnMut(A, V) -> Result<A>,
    exec: &Executor,
) -> Result<A> {
    if M::output_type().is_some() {
        return Err(Error::invalid(
            "function",
            format!(
                "{} is a map function (register_window_fn!), not a fold",
                M::NAME
            ),
        ));
    }
    run_fold(
        request,
        exec,
        remote_runner,
        Registered::<M>::new(),
        init,
        fold,
    )
}

fn run_fold<K: Kernel, V: DeserializeOwned, A>(
    request: &WindowFold,
    exec: &Executor,
    runner: impl FnOnce(WindowOp<K>) -> Runner<WindowOp<K>>,
    kernel: K,
    init: A,
    mut fold: impl FnMut(A, V) -> Result<A>,
) -> Result<A> {
    let first = spec::check_inputs(&request.inputs)?;
    let block = match request.block_size {
        Some(b) => spec::checked_block(b)?,
        None => Raster::open(&first.path)?.block_size(1)?,
    };
    let plan = spec::plan(
        "fold_windows",
        &request.inputs,
        &request.halo,
        &first,
        None,
        Some(block),
    )?;
    let runner = runner(WindowOp { plan, kernel });
    runner.check(exec, "fold_windows")?;
    let windows = block_windows(first.raster_size, block, 0).enumerate();
    let mut acc = init;
    for computed in runtime::map(exec, "fold_windows", &runner, windows)? {
        let computed = computed?;
        let Some((bytes, type_name)) = computed.side else {
            return Err(Error::internal("a fold window came back without a value"));
        };
        acc = fold(acc, op::decode_value(&bytes, &type_name, computed.window)?)?;
    }
    Ok(acc)
}
