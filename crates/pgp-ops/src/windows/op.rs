//! The block operation behind [`map_windows`](super::map_windows) and
//! [`fold_windows`](super::fold_windows): read every input's window (grown by the halo), call the
//! user's function, check what it returns.

use std::any::Any;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use ndarray::{Array2, Array3};
use pgp_core::{with_pixel_type, DataType, DynArray, GeoTransform, Pixel, Window};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::halo::{pad, Edge};
use super::WindowData;
use crate::runtime::{BlockOp, Computed, Handles, Payload, RemoteBlockOp};
use crate::{Error, Result};

/// What every window of a call needs to know, whoever computes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// The operation, for errors.
    pub(crate) operation: String,
    pub(crate) inputs: Vec<PathBuf>,
    /// Bands read of each input (all of them, in order).
    pub(crate) bands: Vec<Vec<usize>>,
    /// Fill value of each band of each input, for [`Edge::Nodata`] and [`Edge::Constant`].
    pub(crate) fill: Vec<Vec<f64>>,
    pub(crate) halo: usize,
    pub(crate) edge: Edge,
    /// `(cols, rows)` of every input.
    pub(crate) size: (usize, usize),
    pub(crate) geotransform: GeoTransform,
    /// Bands and type of the output (none for folds).
    pub(crate) output: Option<(usize, DataType)>,
    /// Whether several windows read one block of some input (see `BlockOp::shares_blocks`).
    pub(crate) shares_blocks: bool,
}

impl Plan {
    /// The inputs' bands of `window`, grown by the halo, as `I`.
    fn read<I: Pixel>(&self, handles: &Handles<'_>, window: Window) -> Result<Vec<Array3<I>>> {
        let (cols, rows) = self.size;
        let read = window.expand(self.halo, cols, rows);
        let mut inputs = Vec::with_capacity(self.bands.len());
        for (i, bands) in self.bands.iter().enumerate() {
            let block = handles.read_bands_as::<I>(i, bands, read)?;
            if self.halo == 0 {
                inputs.push(block);
            } else {
                let fill: Vec<I> = self.fill[i].iter().map(|&v| I::from_f64(v)).collect();
                inputs.push(pad(
                    &block, read, window, self.halo, self.size, self.edge, &fill,
                ));
            }
        }
        Ok(inputs)
    }

    /// The geotransform of `window`'s top-left pixel.
    fn geotransform_of(&self, window: Window) -> GeoTransform {
        let (x, y) = self
            .geotransform
            .apply(window.x_off as f64, window.y_off as f64);
        let g = self.geotransform.0;
        GeoTransform([x, g[1], g[2], y, g[4], g[5]])
    }
}

/// One window of a call, as a window function's entry point receives it (see
/// [`RegisteredWindowFn`](super::RegisteredWindowFn)); built by pgp only.
pub struct WindowCall<'a> {
    plan: &'a Plan,
    handles: &'a Handles<'a>,
    index: usize,
    window: Window,
}

/// What a window function gave for one window; built by pgp only.
pub struct WindowOutput(Output);

enum Output {
    Pixels(Payload),
    /// A fold's value, bincode-encoded, with the name of its type.
    Value(Vec<u8>, &'static str),
}

impl WindowCall<'_> {
    /// Read the window as `I`, run `f` on it, catching a panic as an error naming the window.
    fn run<I: Pixel, R>(&self, f: impl Fn(&WindowData<'_, I>) -> Result<R>) -> Result<R> {
        let inputs = self.plan.read::<I>(self.handles, self.window)?;
        let data = WindowData {
            inputs: &inputs,
            window: self.window,
            index: self.index,
            halo: self.plan.halo,
            geotransform: self.plan.geotransform_of(self.window),
        };
        catch_unwind(AssertUnwindSafe(|| f(&data))).unwrap_or_else(|panic| {
            Err(Error::WindowPanicked {
                operation: self.plan.operation.clone(),
                index: self.index,
                window: self.window,
                message: panic_message(panic.as_ref()),
            })
        })
    }

    /// Run a map function: its block must be the output's bands over the window, in its type.
    #[doc(hidden)]
    pub fn map<I: Pixel, O: Pixel>(
        self,
        f: impl Fn(&WindowData<'_, I>) -> Result<Array3<O>>,
    ) -> Result<WindowOutput> {
        let block = self.run(f)?;
        let Some((bands, datatype)) = self.plan.output else {
            return Err(Error::internal("a map function ran for a fold"));
        };
        if O::DATA_TYPE != datatype {
            return Err(Error::internal(format!(
                "a {} function wrote to a {datatype} output",
                O::DATA_TYPE
            )));
        }
        let expected = (bands, self.window.height, self.window.width);
        if block.dim() != expected {
            return Err(Error::WindowShape {
                window: self.window,
                expected,
                actual: block.dim(),
            });
        }
        let mut planes = block
            .outer_iter()
            .map(|plane| dyn_array(plane.to_owned()))
            .collect::<Result<Vec<_>>>()?;
        let payload = if planes.len() == 1 {
            Payload::Pixels(planes.remove(0))
        } else {
            Payload::Bands(planes)
        };
        Ok(WindowOutput(Output::Pixels(payload)))
    }

    /// Run a fold function: its value travels to the caller encoded.
    #[doc(hidden)]
    pub fn fold<I: Pixel, V: Serialize>(
        self,
        f: impl Fn(&WindowData<'_, I>) -> Result<V>,
    ) -> Result<WindowOutput> {
        let value = self.run(f)?;
        let bytes = bincode::serialize(&value).map_err(|e| {
            Error::internal(format!("encoding the value of window {}: {e}", self.window))
        })?;
        Ok(WindowOutput(Output::Value(
            bytes,
            std::any::type_name::<V>(),
        )))
    }
}

/// A typed array as a [`DynArray`], for any pixel type.
fn dyn_array<T: Pixel>(a: Array2<T>) -> Result<DynArray> {
    let boxed: Box<dyn Any> = Box::new(a);
    with_pixel_type!(T::DATA_TYPE, U => boxed
        .downcast::<Array2<U>>()
        .map(|a| DynArray::from(*a))
        .map_err(|_| Error::internal("a pixel type that is not its DATA_TYPE")))
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_string())
}

/// A fold value as the caller decodes it: the type the function returned must be the one the
/// caller folds (bincode alone would decode one as the other).
pub(crate) fn decode_value<V: DeserializeOwned>(
    bytes: &[u8],
    type_name: &str,
    window: Window,
) -> Result<V> {
    if type_name != std::any::type_name::<V>() {
        return Err(Error::invalid(
            "fold",
            format!(
                "the window function returns {type_name} but the fold takes {}",
                std::any::type_name::<V>()
            ),
        ));
    }
    bincode::deserialize(bytes)
        .map_err(|e| Error::internal(format!("decoding the value of window {window}: {e}")))
}

/// A window function, however it was given.
pub trait Kernel: Send + Sync + 'static {
    /// Compute one window.
    fn call(&self, call: WindowCall<'_>) -> Result<WindowOutput>;
}

/// A map closure (sync and threads only).
pub(crate) struct MapClosure<F, I, O> {
    pub f: F,
    pub types: PhantomData<fn(I) -> O>,
}

impl<F, I, O> Kernel for MapClosure<F, I, O>
where
    F: Fn(&WindowData<'_, I>) -> Result<Array3<O>> + Send + Sync + 'static,
    I: Pixel,
    O: Pixel,
{
    fn call(&self, call: WindowCall<'_>) -> Result<WindowOutput> {
        call.map(&self.f)
    }
}

/// A fold closure (sync and threads only).
pub(crate) struct FoldClosure<F, I, V> {
    pub f: F,
    pub types: PhantomData<fn(I) -> V>,
}

impl<F, I, V> Kernel for FoldClosure<F, I, V>
where
    F: Fn(&WindowData<'_, I>) -> Result<V> + Send + Sync + 'static,
    I: Pixel,
    V: Serialize + 'static,
{
    fn call(&self, call: WindowCall<'_>) -> Result<WindowOutput> {
        call.fold(&self.f)
    }
}

/// A registered function, found in worker processes by its marker type `M`.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Registered<M>(PhantomData<fn() -> M>);

impl<M> Registered<M> {
    pub(crate) fn new() -> Registered<M> {
        Registered(PhantomData)
    }
}

impl<M> Clone for Registered<M> {
    fn clone(&self) -> Self {
        Registered(PhantomData)
    }
}

impl<M: super::RegisteredWindowFn> Kernel for Registered<M> {
    fn call(&self, call: WindowCall<'_>) -> Result<WindowOutput> {
        M::call(call)
    }
}

/// The block operation: a plan and a kernel.
#[derive(Clone, Serialize, Deserialize)]
pub struct WindowOp<K> {
    pub(crate) plan: Plan,
    pub(crate) kernel: K,
}

/// A window's value for the caller: an encoded fold value and its type's name.
pub(crate) type Value = Option<(Vec<u8>, String)>;

impl<K: Kernel> BlockOp for WindowOp<K> {
    /// The window's number in the call and the window.
    type Item = (usize, Window);
    type Side = Value;
    type Prepared = ();

    fn inputs(&self) -> Vec<PathBuf> {
        self.plan.inputs.clone()
    }

    fn halo(&self) -> usize {
        self.plan.halo
    }

    fn shares_blocks(&self) -> bool {
        self.plan.halo > 0 || self.plan.shares_blocks
    }

    fn prepare(&self) -> Result<()> {
        Ok(())
    }

    fn compute(
        &self,
        _: &(),
        handles: &Handles<'_>,
        (index, window): (usize, Window),
    ) -> Result<Computed<Value>> {
        let call = WindowCall {
            plan: &self.plan,
            handles,
            index,
            window,
        };
        Ok(match self.kernel.call(call)?.0 {
            Output::Pixels(payload) => Computed {
                window,
                data: Some(payload),
                side: None,
            },
            Output::Value(bytes, type_name) => {
                Computed::side(window, Some((bytes, type_name.to_string())))
            }
        })
    }
}

impl<M: super::RegisteredWindowFn> RemoteBlockOp for WindowOp<Registered<M>> {
    const NAME: &'static str = M::NAME;
}
