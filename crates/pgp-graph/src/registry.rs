//! Type-erased operations: how the graph calls a [`GraphOp`] it knows only by bytes, and the
//! registry that lets pipeline loaders add operations by name.

use crate::task::GraphOp;
use pgp_exec::Executor;
use std::path::PathBuf;

/// Rewrites serialised arguments so that the outputs go to the given temporary paths.
type RedirectFn = fn(&[u8], &[PathBuf]) -> Result<Vec<u8>, String>;

/// The functions of one [`GraphOp`], working on bincode-serialised arguments and outputs.
#[derive(Clone, Copy)]
pub struct OpVtable {
    /// The operation's name (`RemoteOp::NAME`), also its id in task keys.
    pub name: &'static str,
    /// `GraphOp::VERSION`.
    pub version: u32,
    pub(crate) inputs: fn(&[u8]) -> Result<Vec<PathBuf>, String>,
    pub(crate) outputs: fn(&[u8]) -> Result<Vec<PathBuf>, String>,
    pub(crate) redirect: RedirectFn,
    pub(crate) run_on: fn(&[u8], &Executor) -> Result<Vec<u8>, String>,
    pub(crate) args_from_json: fn(&serde_json::Value) -> Result<Vec<u8>, String>,
}

impl std::fmt::Debug for OpVtable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpVtable")
            .field("name", &self.name)
            .field("version", &self.version)
            .finish()
    }
}

fn decode<O: GraphOp>(bytes: &[u8]) -> Result<O::Args, String> {
    bincode::deserialize(bytes).map_err(|e| format!("arguments do not decode: {e}"))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, String> {
    bincode::serialize(value).map_err(|e| format!("value does not encode: {e}"))
}

fn inputs_of<O: GraphOp>(bytes: &[u8]) -> Result<Vec<PathBuf>, String> {
    Ok(O::inputs(&decode::<O>(bytes)?))
}

fn outputs_of<O: GraphOp>(bytes: &[u8]) -> Result<Vec<PathBuf>, String> {
    Ok(O::outputs(&decode::<O>(bytes)?))
}

fn redirect_of<O: GraphOp>(bytes: &[u8], temps: &[PathBuf]) -> Result<Vec<u8>, String> {
    encode(&O::redirect_outputs(&decode::<O>(bytes)?, temps))
}

fn run_on_of<O: GraphOp>(bytes: &[u8], exec: &Executor) -> Result<Vec<u8>, String> {
    encode(&O::run_on(decode::<O>(bytes)?, exec)?)
}

fn json_of<O: GraphOp>(value: &serde_json::Value) -> Result<Vec<u8>, String> {
    let args: O::Args = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    encode(&args)
}

impl OpVtable {
    /// The vtable of `O`.
    pub const fn of<O: GraphOp>() -> Self {
        OpVtable {
            name: O::NAME,
            version: O::VERSION,
            inputs: inputs_of::<O>,
            outputs: outputs_of::<O>,
            redirect: redirect_of::<O>,
            run_on: run_on_of::<O>,
            args_from_json: json_of::<O>,
        }
    }
}

impl OpVtable {
    /// The outputs the operation would write for arguments given as JSON (for pipeline loaders
    /// that let one task refer to another's outputs).
    pub fn outputs_from_json(&self, args: &serde_json::Value) -> Result<Vec<PathBuf>, String> {
        (self.outputs)(&(self.args_from_json)(args)?)
    }

    /// The inputs the operation would read for arguments given as JSON.
    pub fn inputs_from_json(&self, args: &serde_json::Value) -> Result<Vec<PathBuf>, String> {
        (self.inputs)(&(self.args_from_json)(args)?)
    }
}

/// A registered operation (see [`register_graph_op!`](crate::register_graph_op)).
#[derive(Debug)]
pub struct GraphOpEntry(pub OpVtable);

impl GraphOpEntry {
    /// The entry of `O`; used by [`register_graph_op!`](crate::register_graph_op).
    pub const fn of<O: GraphOp>() -> Self {
        GraphOpEntry(OpVtable::of::<O>())
    }
}

inventory::collect!(GraphOpEntry);

/// Finds a registered operation by name.
pub fn lookup(name: &str) -> Option<OpVtable> {
    inventory::iter::<GraphOpEntry>
        .into_iter()
        .find(|e| e.0.name == name)
        .map(|e| e.0)
}

/// Names of all registered graph operations, sorted.
pub fn registered_ops() -> Vec<&'static str> {
    let mut names: Vec<_> = inventory::iter::<GraphOpEntry>
        .into_iter()
        .map(|e| e.0.name)
        .collect();
    names.sort_unstable();
    names
}

/// Registers a [`GraphOp`] so that [`Graph::add_op_bytes`](crate::Graph::add_op_bytes) and
/// [`Graph::add_op_json`](crate::Graph::add_op_json) can add it by name. To run it on a process
/// executor, also register it with `pgp_exec::register_op!`.
#[macro_export]
macro_rules! register_graph_op {
    ($op:ty) => {
        $crate::__inventory::submit! { $crate::GraphOpEntry::of::<$op>() }
    };
}
