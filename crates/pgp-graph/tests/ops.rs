//! Operations as nodes: a `GraphOp` declares its files once; it runs on threads (called in place)
//! and on processes (sent to workers by name). Worker processes are copies of this binary, hence
//! the custom `main()`.

mod runner;

use pgp_exec::{Executor, RemoteOp};
use pgp_graph::{Graph, GraphError, GraphOp, Task};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

/// Multiplies every number in a text file (one per line) and writes the products; returns the sum.
struct Scale;

#[derive(Clone, Serialize, Deserialize)]
struct ScaleArgs {
    input: PathBuf,
    output: PathBuf,
    factor: i64,
}

impl RemoteOp for Scale {
    const NAME: &'static str = "test::scale";
    type Args = ScaleArgs;
    type Output = i64;
    fn run(args: ScaleArgs) -> Result<i64, String> {
        let text = fs::read_to_string(&args.input)
            .map_err(|e| format!("{}: {e}", args.input.display()))?;
        let values: Vec<i64> = text
            .lines()
            .map(|l| {
                l.trim()
                    .parse::<i64>()
                    .map(|v| v * args.factor)
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        let body: String = values.iter().map(|v| format!("{v}\n")).collect();
        fs::write(&args.output, body).map_err(|e| e.to_string())?;
        Ok(values.iter().sum())
    }
}

impl GraphOp for Scale {
    const VERSION: u32 = 1;
    fn inputs(args: &ScaleArgs) -> Vec<PathBuf> {
        vec![args.input.clone()]
    }
    fn outputs(args: &ScaleArgs) -> Vec<PathBuf> {
        vec![args.output.clone()]
    }
    fn redirect_outputs(args: &ScaleArgs, temps: &[PathBuf]) -> ScaleArgs {
        ScaleArgs {
            output: temps[0].clone(),
            ..args.clone()
        }
    }
}

pgp_exec::register_op!(Scale);
pgp_graph::register_graph_op!(Scale);

fn args(dir: &Path, input: &str, output: &str, factor: i64) -> ScaleArgs {
    ScaleArgs {
        input: dir.join(input),
        output: dir.join(output),
        factor,
    }
}

/// `numbers.txt` -> x3 -> `a.txt` -> x-1 -> `b.txt`, added through the typed API.
fn chain(exec: Executor) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("numbers.txt"), "1\n2\n3\n").unwrap();
    let build = |g: &Graph| {
        let a = g
            .add_op::<Scale>(args(dir.path(), "numbers.txt", "a.txt", 3), Task::default())
            .unwrap();
        let b = g
            .add_op::<Scale>(args(dir.path(), "a.txt", "b.txt", -1), Task::default())
            .unwrap();
        (a, b)
    };
    let g = Graph::open(dir.path().join("ws"), exec.clone()).unwrap();
    let (a, b) = build(&g);
    assert_eq!(a.name(), "test::scale:a.txt");
    let report = g.join().unwrap();
    assert_eq!(report.ran, ["test::scale:a.txt", "test::scale:b.txt"]);
    assert_eq!((a.result().unwrap(), b.result().unwrap()), (18, -18));
    assert_eq!(
        fs::read_to_string(dir.path().join("b.txt")).unwrap(),
        "-3\n-6\n-9\n"
    );
    drop(g);

    let g = Graph::open(dir.path().join("ws"), exec.clone()).unwrap();
    let (_, b) = build(&g);
    assert_eq!(g.join().unwrap().skipped.len(), 2);
    assert_eq!(b.result().unwrap(), -18);
    drop(g);

    fs::write(dir.path().join("numbers.txt"), "10\n").unwrap();
    let g = Graph::open(dir.path().join("ws"), exec).unwrap();
    let (_, b) = build(&g);
    assert_eq!(g.join().unwrap().ran.len(), 2);
    assert_eq!(b.result().unwrap(), -30);
    assert!(dir.path().read_dir().unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with(".pgp-tmp")));
}

fn ops_run_in_place_on_threads() {
    chain(Executor::threads(2).unwrap());
}

fn ops_run_in_worker_processes() {
    chain(Executor::processes(2).unwrap());
}

fn ops_are_added_by_name_from_json() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("numbers.txt"), "4\n").unwrap();
    let g = Graph::open(dir.path().join("ws"), Executor::sync()).unwrap();
    let json = serde_json::json!({
        "input": dir.path().join("numbers.txt"),
        "output": dir.path().join("out.txt"),
        "factor": 5,
    });
    let h = g
        .add_op_json("test::scale", &json, Task::new("from json"))
        .unwrap();
    g.join().unwrap();
    assert_eq!(
        bincode::deserialize::<i64>(&h.result_bytes().unwrap()).unwrap(),
        20
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("out.txt")).unwrap(),
        "20\n"
    );
    assert!(pgp_graph::registered_ops().contains(&"test::scale"));

    assert!(matches!(
        g.add_op_json("no::such", &json, Task::default()),
        Err(GraphError::UnknownOp { .. })
    ));
    let bad = serde_json::json!({ "input": "x" });
    assert!(matches!(
        g.add_op_json("test::scale", &bad, Task::default()),
        Err(GraphError::Args { .. })
    ));
    let bytes = bincode::serialize(&args(dir.path(), "numbers.txt", "other.txt", 2)).unwrap();
    let extra = Task::default().writes([dir.path().join("sidecar")]);
    assert!(matches!(
        g.add_op_bytes("test::scale", bytes, extra),
        Err(GraphError::Args { .. })
    ));
}

fn op_failure_is_reported_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("numbers.txt"), "1\nnot a number\n").unwrap();
    for exec in [Executor::sync(), Executor::processes(1).unwrap()] {
        let g = Graph::open(dir.path().join("ws"), exec).unwrap();
        let h = g
            .add_op::<Scale>(args(dir.path(), "numbers.txt", "a.txt", 2), Task::default())
            .unwrap();
        let err = g.join().unwrap_err();
        assert_eq!(err.failures.len(), 1);
        let message = h.join().unwrap_err().to_string();
        assert!(message.contains("invalid digit"), "{message}");
        assert!(!dir.path().join("a.txt").exists());
    }
}

/// A closure cannot cross a process boundary: on a process-pool graph it runs on a thread of
/// this process, next to operations that go to the workers, and reads their outputs.
fn closures_run_in_the_driver_process_on_process_executors() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("numbers.txt"), "1\n2\n").unwrap();
    let open = || Graph::open(dir.path().join("ws"), Executor::processes(1).unwrap()).unwrap();
    let g = open();
    let scaled = g
        .add_op::<Scale>(
            args(dir.path(), "numbers.txt", "a.txt", 10),
            Task::default(),
        )
        .unwrap();
    let summary = dir.path().join("summary.txt");
    let closure = g
        .add_fn(
            Task::new("summarise")
                .reads([dir.path().join("a.txt")])
                .writes([&summary]),
            (),
            |_, io| {
                let text = fs::read_to_string(io.input(0))?;
                fs::write(io.output(0), text.replace('\n', ","))?;
                Ok::<u32, std::io::Error>(std::process::id())
            },
        )
        .unwrap();
    assert_eq!(g.join().unwrap().ran.len(), 2);
    assert_eq!(scaled.result().unwrap(), 30);
    assert_eq!(closure.result().unwrap(), std::process::id());
    assert_eq!(fs::read_to_string(&summary).unwrap(), "10,20,");
    drop(g);
    let g = open();
    g.add_op::<Scale>(
        args(dir.path(), "numbers.txt", "a.txt", 10),
        Task::default(),
    )
    .unwrap();
    g.add_fn(
        Task::new("summarise")
            .reads([dir.path().join("a.txt")])
            .writes([&summary]),
        (),
        |_, _| Ok::<u32, String>(0),
    )
    .unwrap();
    assert_eq!(g.join().unwrap().skipped.len(), 2);
}

fn main() {
    pgp_exec::worker::run_if_worker();
    runner::run_checks(&[
        ("ops_run_in_place_on_threads", ops_run_in_place_on_threads),
        ("ops_run_in_worker_processes", ops_run_in_worker_processes),
        (
            "ops_are_added_by_name_from_json",
            ops_are_added_by_name_from_json,
        ),
        (
            "op_failure_is_reported_with_its_message",
            op_failure_is_reported_with_its_message,
        ),
        (
            "closures_run_in_the_driver_process_on_process_executors",
            closures_run_in_the_driver_process_on_process_executors,
        ),
    ]);
}
