//! Operations used by the process-pool tests. This test binary is also the worker program, so
//! everything registered here is available in the workers.

use std::time::Duration;

use pgp_exec::RemoteOp;
use serde::{Deserialize, Serialize};

/// x² (wrapping), the plainest op.
pub struct Square;
impl RemoteOp for Square {
    const NAME: &'static str = "test::square";
    type Args = u64;
    type Output = u64;
    fn run(x: u64) -> Result<u64, String> {
        Ok(x.wrapping_mul(x))
    }
}
pgp_exec::register_op!(Square);

/// Returns its argument as an error.
pub struct Fail;
impl RemoteOp for Fail {
    const NAME: &'static str = "test::fail";
    type Args = String;
    type Output = ();
    fn run(message: String) -> Result<(), String> {
        Err(message)
    }
}
pgp_exec::register_op!(Fail);

/// Panics with its argument.
pub struct Panic;
impl RemoteOp for Panic {
    const NAME: &'static str = "test::panic";
    type Args = String;
    type Output = ();
    fn run(message: String) -> Result<(), String> {
        panic!("{message}")
    }
}
pgp_exec::register_op!(Panic);

/// Aborts the worker process.
pub struct Abort;
impl RemoteOp for Abort {
    const NAME: &'static str = "test::abort";
    type Args = ();
    type Output = ();
    fn run(_: ()) -> Result<(), String> {
        std::process::abort()
    }
}
pgp_exec::register_op!(Abort);

/// Exits the worker process with the given status.
pub struct Exit;
impl RemoteOp for Exit {
    const NAME: &'static str = "test::exit";
    type Args = i32;
    type Output = ();
    fn run(code: i32) -> Result<(), String> {
        std::process::exit(code)
    }
}
pgp_exec::register_op!(Exit);

/// Where a [`Napper`] announces itself, and for how long it sleeps.
#[derive(Serialize, Deserialize, Clone)]
pub struct NapArgs {
    /// File the worker writes its pid into once it started (None: no announcement).
    pub pid_file: Option<std::path::PathBuf>,
    pub millis: u64,
}

/// Writes its pid to a file, then sleeps; returns the pid.
pub struct Napper;
impl RemoteOp for Napper {
    const NAME: &'static str = "test::napper";
    type Args = NapArgs;
    type Output = u32;
    fn run(args: NapArgs) -> Result<u32, String> {
        let pid = std::process::id();
        if let Some(path) = &args.pid_file {
            let partial = path.with_extension("partial");
            std::fs::write(&partial, pid.to_string()).map_err(|e| e.to_string())?;
            std::fs::rename(&partial, path).map_err(|e| e.to_string())?;
        }
        std::thread::sleep(Duration::from_millis(args.millis));
        Ok(pid)
    }
}
pgp_exec::register_op!(Napper);

/// Prints to stdout (which in a worker must not corrupt the protocol), then echoes its input.
pub struct Chatty;
impl RemoteOp for Chatty {
    const NAME: &'static str = "test::chatty";
    type Args = Vec<u8>;
    type Output = Vec<u8>;
    fn run(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        println!("this line goes to stderr in a worker, not into the protocol pipe");
        print!("PGPEXEC1 and partial line without newline");
        Ok(bytes)
    }
}
pgp_exec::register_op!(Chatty);

/// Reports what the process it runs in was given: cores, job memory (MB), `GDAL_CACHEMAX`.
pub struct Sizes;
impl RemoteOp for Sizes {
    const NAME: &'static str = "test::sizes";
    type Args = ();
    type Output = (usize, Option<u64>, Option<String>);
    fn run(_: ()) -> Result<(usize, Option<u64>, Option<String>), String> {
        Ok((
            pgp_exec::available_cores(),
            pgp_exec::allocation_memory_mb(),
            std::env::var("GDAL_CACHEMAX").ok(),
        ))
    }
}
pgp_exec::register_op!(Sizes);

/// Reports the pid of the process it runs in.
pub struct WhoAmI;
impl RemoteOp for WhoAmI {
    const NAME: &'static str = "test::whoami";
    type Args = ();
    type Output = u32;
    fn run(_: ()) -> Result<u32, String> {
        Ok(std::process::id())
    }
}
pgp_exec::register_op!(WhoAmI);

/// One node of a random task graph whose results travel through files, as geoprocessing
/// outputs do: reads its dependencies' results, combines them with its seed, writes its own.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct NodeArgs {
    pub dir: std::path::PathBuf,
    pub index: usize,
    pub seed: u64,
    pub deps: Vec<usize>,
}

pub fn node_path(dir: &std::path::Path, index: usize) -> std::path::PathBuf {
    dir.join(format!("node-{index}.txt"))
}

/// The value of a node given its seed and its dependencies' values (pure, used by the model).
pub fn combine(seed: u64, deps: &[u64]) -> u64 {
    deps.iter().fold(
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5555,
        |acc, &d| {
            acc.rotate_left(7)
                .wrapping_add(d)
                .wrapping_mul(0xBF58_476D_1CE4_E5B9)
        },
    )
}

pub struct GraphNode;
impl RemoteOp for GraphNode {
    const NAME: &'static str = "test::graph_node";
    type Args = NodeArgs;
    type Output = u64;
    fn run(args: NodeArgs) -> Result<u64, String> {
        let mut values = Vec::with_capacity(args.deps.len());
        for &dep in &args.deps {
            let path = node_path(&args.dir, dep);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "node {} ran before dependency {dep} finished: {e}",
                    args.index
                )
            })?;
            values.push(text.trim().parse::<u64>().map_err(|e| e.to_string())?);
        }
        let value = combine(args.seed, &values);
        let path = node_path(&args.dir, args.index);
        let partial = path.with_extension("partial");
        std::fs::write(&partial, value.to_string()).map_err(|e| e.to_string())?;
        std::fs::rename(&partial, &path).map_err(|e| e.to_string())?;
        Ok(value)
    }
}
pgp_exec::register_op!(GraphNode);

/// An op the test binary defines but does not register.
pub struct Unregistered;
impl RemoteOp for Unregistered {
    const NAME: &'static str = "test::unregistered";
    type Args = ();
    type Output = ();
    fn run(_: ()) -> Result<(), String> {
        Ok(())
    }
}
