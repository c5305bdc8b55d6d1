//! Crash safety: a child process runs a pipeline and is killed with SIGKILL at many points
//! (from outside after various delays, and from inside at chosen steps: mid-write of an output,
//! right after a task started, right after a task was recorded). The rerun must complete and
//! every output must be exactly right, and a further run must skip everything.
//!
//! The child is this same binary, started with `PGP_GRAPH_CRASH_CHILD` set.

mod runner;

use pgp_exec::Executor;
use pgp_graph::{Event, Graph, Task};
use sha2::{Digest as _, Sha256};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const CHILD_ENV: &str = "PGP_GRAPH_CRASH_CHILD";
/// `mid-write:<task>`, `started:<task>` or `recorded:<task>`: where the child kills itself.
const SELF_KILL_ENV: &str = "PGP_GRAPH_CRASH_AT";
const FANOUT: usize = 6;
const OUTPUT_LEN: usize = 192 * 1024;
const CHUNK: usize = 16 * 1024;

/// `len` pseudo-random bytes determined by `seed` (SHA-256 in counter mode).
fn expand(seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut counter = 0u64;
    while out.len() < len {
        let mut h = Sha256::new();
        h.update(seed);
        h.update(counter.to_le_bytes());
        out.extend_from_slice(&h.finalize());
        counter += 1;
    }
    out.truncate(len);
    out
}

fn seed_of(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().to_vec()
}

fn kill_self() -> ! {
    // SAFETY: sending a signal to our own pid has no memory-safety preconditions.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    unreachable!("SIGKILL returned")
}

/// Writes `data` slowly, in chunks, so that outside kills often land mid-write; kills itself
/// half-way if asked to for this task.
fn write_slowly(path: &Path, data: &[u8], task: &str) -> std::io::Result<()> {
    let mut f = fs::File::create(path)?;
    let mid_write_kill = std::env::var(SELF_KILL_ENV).ok() == Some(format!("mid-write:{task}"));
    for (i, chunk) in data.chunks(CHUNK).enumerate() {
        f.write_all(chunk)?;
        f.flush()?;
        if mid_write_kill && i == data.len() / CHUNK / 2 {
            kill_self();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

struct Layout {
    src: PathBuf,
    first: Vec<PathBuf>,
    second: Vec<PathBuf>,
    last: PathBuf,
}

fn layout(dir: &Path) -> Layout {
    Layout {
        src: dir.join("src.bin"),
        first: (0..FANOUT)
            .map(|i| dir.join(format!("first-{i}.bin")))
            .collect(),
        second: (0..FANOUT)
            .map(|i| dir.join(format!("out/second-{i}.bin")))
            .collect(),
        last: dir.join("out/last.bin"),
    }
}

/// The pipeline: `first-i` from src; `second-i` from `first-i` and `first-(i+1)`; `last` from
/// all `second-*`.
fn build(g: &Graph, l: &Layout) {
    for (i, out) in l.first.iter().enumerate() {
        let name = format!("first-{i}");
        let task = name.clone();
        g.add_fn(
            Task::new(&name).version(1).reads([&l.src]).writes([out]),
            i as u64,
            move |i, io| {
                let seed = seed_of(&[&fs::read(io.input(0))?, b"first", &i.to_le_bytes()]);
                write_slowly(io.output(0), &expand(&seed, OUTPUT_LEN), &task)
            },
        )
        .unwrap();
    }
    for (i, out) in l.second.iter().enumerate() {
        let name = format!("second-{i}");
        let task = name.clone();
        let reads = [&l.first[i], &l.first[(i + 1) % FANOUT]];
        g.add_fn(
            Task::new(&name).version(1).reads(reads).writes([out]),
            (),
            move |_, io| {
                let seed = seed_of(&[&fs::read(io.input(0))?, &fs::read(io.input(1))?, b"second"]);
                write_slowly(io.output(0), &expand(&seed, OUTPUT_LEN), &task)
            },
        )
        .unwrap();
    }
    g.add_fn(
        Task::new("last")
            .version(1)
            .reads(&l.second)
            .writes([&l.last]),
        (),
        |_, io| {
            let contents: Vec<Vec<u8>> =
                io.inputs().iter().map(fs::read).collect::<Result<_, _>>()?;
            let parts: Vec<&[u8]> = contents.iter().map(Vec::as_slice).collect();
            write_slowly(
                io.output(0),
                &expand(&seed_of(&parts), OUTPUT_LEN / 4),
                "last",
            )
        },
    )
    .unwrap();
}

/// What every output must contain, computed without the graph.
fn expected(l: &Layout) -> Vec<(PathBuf, Vec<u8>)> {
    let src = fs::read(&l.src).unwrap();
    let first: Vec<Vec<u8>> = (0..FANOUT as u64)
        .map(|i| expand(&seed_of(&[&src, b"first", &i.to_le_bytes()]), OUTPUT_LEN))
        .collect();
    let second: Vec<Vec<u8>> = (0..FANOUT)
        .map(|i| {
            expand(
                &seed_of(&[&first[i], &first[(i + 1) % FANOUT], b"second"]),
                OUTPUT_LEN,
            )
        })
        .collect();
    let parts: Vec<&[u8]> = second.iter().map(Vec::as_slice).collect();
    let last = expand(&seed_of(&parts), OUTPUT_LEN / 4);
    let mut all: Vec<(PathBuf, Vec<u8>)> = l.first.iter().cloned().zip(first).collect();
    all.extend(l.second.iter().cloned().zip(second));
    all.push((l.last.clone(), last));
    all
}

fn open(dir: &Path, self_kill: Option<String>) -> Graph {
    let mut b = Graph::builder(dir.join("ws")).executor(Executor::threads(2).unwrap());
    if let Some(point) = self_kill {
        b = b.on_event(move |e| match e {
            Event::Started { task, .. } if point == format!("started:{task}") => kill_self(),
            Event::Finished { task, .. } if point == format!("recorded:{task}") => kill_self(),
            _ => {}
        });
    }
    b.open().unwrap()
}

fn child_main(dir: &Path) -> ! {
    let g = open(dir, std::env::var(SELF_KILL_ENV).ok());
    build(&g, &layout(dir));
    let code = i32::from(g.join().is_err());
    drop(g);
    std::process::exit(code);
}

/// Starts the child on `dir`; kills it after `delay` (if given). Returns whether it was still
/// running when killed (or, for self-kill runs, whether it died by SIGKILL).
fn run_child(dir: &Path, delay: Option<Duration>, self_kill: Option<&str>) -> bool {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(CHILD_ENV, dir).stdout(Stdio::null());
    if let Some(point) = self_kill {
        cmd.env(SELF_KILL_ENV, point);
    }
    let mut child = cmd.spawn().unwrap();
    match delay {
        Some(delay) => {
            std::thread::sleep(delay);
            let alive = child.try_wait().unwrap().is_none();
            child.kill().unwrap_or(()); // SIGKILL on Unix; a no-op error if it already exited
            child.wait().unwrap();
            alive
        }
        None => {
            use std::os::unix::process::ExitStatusExt;
            child.wait().unwrap().signal() == Some(libc::SIGKILL)
        }
    }
}

/// The rerun after a crash: completes, writes exactly the right bytes, leaves no temporaries;
/// the run after it skips everything.
fn verify_recovery(dir: &Path) {
    let l = layout(dir);
    {
        let g = open(dir, None);
        build(&g, &l);
        g.join().unwrap();
    }
    for (path, bytes) in expected(&l) {
        assert!(
            fs::read(&path).unwrap() == bytes,
            "{} has wrong content after recovery",
            path.display()
        );
    }
    for sub in [dir.to_path_buf(), dir.join("out"), dir.join("ws/records")] {
        for entry in fs::read_dir(&sub).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with(".pgp-tmp") && !name.starts_with(".tmp-"),
                "leftover {name}"
            );
        }
    }
    let g = open(dir, None);
    build(&g, &l);
    let report = g.join().unwrap();
    assert!(
        report.ran.is_empty(),
        "after recovery, still ran {:?}",
        report.ran
    );
}

fn fresh_dir(src: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("src.bin"), src).unwrap();
    dir
}

fn killed_from_outside_at_many_moments() {
    let delays = [5u64, 30, 60, 90, 130, 170, 220, 300];
    let mut hits = 0;
    for ms in delays {
        let dir = fresh_dir(b"outside");
        hits += usize::from(run_child(dir.path(), Some(Duration::from_millis(ms)), None));
        verify_recovery(dir.path());
    }
    println!(
        "  {hits}/{} outside kills hit a running child",
        delays.len()
    );
    assert!(hits > 0, "no kill landed while the child ran");
}

fn killed_repeatedly_on_one_workspace() {
    // Each attempt gets further; the last verification proves the accumulated state is sound.
    let dir = fresh_dir(b"repeated");
    for ms in [20u64, 45, 70, 95, 120, 150, 180] {
        run_child(dir.path(), Some(Duration::from_millis(ms)), None);
    }
    verify_recovery(dir.path());
    // An input change after all that still propagates.
    fs::write(dir.path().join("src.bin"), b"changed").unwrap();
    run_child(dir.path(), Some(Duration::from_millis(60)), None);
    verify_recovery(dir.path());
}

fn killed_by_itself_at_chosen_steps() {
    for point in [
        "mid-write:first-2",
        "mid-write:last",
        "started:second-3",
        "recorded:first-0",
        "recorded:second-5",
    ] {
        let dir = fresh_dir(b"self");
        assert!(
            run_child(dir.path(), None, Some(point)),
            "child did not die by SIGKILL at {point}"
        );
        verify_recovery(dir.path());
    }
}

fn killed_mid_write_of_a_task_that_had_a_valid_record() {
    // The task's previous outputs and record are valid; the new run changes its input and dies
    // while writing. Neither the old record nor the half-written file may be accepted.
    let dir = fresh_dir(b"v1");
    assert!(!run_child(dir.path(), None, None));
    fs::write(dir.path().join("src.bin"), b"v2").unwrap();
    assert!(run_child(dir.path(), None, Some("mid-write:first-1")));
    verify_recovery(dir.path());
}

/// Temporary directories (`.pgp-tmp-*`) in the layout's output directories.
fn leftovers(dir: &Path) -> Vec<String> {
    [dir.to_path_buf(), dir.join("out")]
        .iter()
        .flat_map(|d| fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".pgp-tmp"))
        .collect()
}

fn killed_task_skipped_by_the_rerun_leaves_no_temporaries() {
    // A task dies mid-write after its input changed; the input is then reverted, so the rerun
    // skips that task (its old record is valid again) and never recreates its temporary
    // directory. The sweep at graph open must remove it: its owner process is gone.
    let dir = fresh_dir(b"v1");
    assert!(!run_child(dir.path(), None, None));
    fs::write(dir.path().join("src.bin"), b"v2").unwrap();
    assert!(run_child(dir.path(), None, Some("mid-write:first-1")));
    assert!(
        !leftovers(dir.path()).is_empty(),
        "the killed task left no temporary directory: nothing to test"
    );
    fs::write(dir.path().join("src.bin"), b"v1").unwrap();
    let g = open(dir.path(), None);
    build(&g, &layout(dir.path()));
    let report = g.join().unwrap();
    assert!(report.skipped.iter().any(|t| t == "first-1"), "{report:?}");
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    drop(g);
    for (path, bytes) in expected(&layout(dir.path())) {
        assert!(fs::read(&path).unwrap() == bytes, "{}", path.display());
    }
}

fn main() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child_main(Path::new(&dir));
    }
    runner::run(&[
        (
            "killed_from_outside_at_many_moments",
            killed_from_outside_at_many_moments,
        ),
        (
            "killed_repeatedly_on_one_workspace",
            killed_repeatedly_on_one_workspace,
        ),
        (
            "killed_by_itself_at_chosen_steps",
            killed_by_itself_at_chosen_steps,
        ),
        (
            "killed_mid_write_of_a_task_that_had_a_valid_record",
            killed_mid_write_of_a_task_that_had_a_valid_record,
        ),
        (
            "killed_task_skipped_by_the_rerun_leaves_no_temporaries",
            killed_task_skipped_by_the_rerun_leaves_no_temporaries,
        ),
    ]);
}
