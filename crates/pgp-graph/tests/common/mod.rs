//! Shared helpers of the integration tests.
#![allow(dead_code)]

use pgp_exec::Executor;
use pgp_graph::{Graph, Task, TaskHandle};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        fs::write(env.p("src.txt"), "source").unwrap();
        env
    }

    pub fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn ws(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    pub fn read(&self, name: &str) -> String {
        fs::read_to_string(self.p(name)).unwrap()
    }

    /// A graph on two threads with the default racy window (every fresh file is rehashed).
    pub fn graph(&self) -> Graph {
        Graph::builder(self.ws())
            .executor(threads())
            .open()
            .unwrap()
    }

    /// A graph whose memo trusts any entry hashed after the file's last change: lets tests
    /// exercise the memo itself (they sleep between writes and hashing to stay out of one
    /// timestamp tick).
    pub fn graph_trusting_memo(&self) -> Graph {
        Graph::builder(self.ws())
            .executor(threads())
            .racy_window(Duration::ZERO)
            .open()
            .unwrap()
    }
}

pub fn threads() -> Executor {
    Executor::threads(2).unwrap()
}

/// Copies `input` to the temporary output, transformed by `f`.
pub fn transform(
    g: &Graph,
    name: &str,
    version: u32,
    input: &Path,
    output: &Path,
    f: fn(&str) -> String,
) -> TaskHandle<String> {
    g.add_fn(
        Task::new(name)
            .version(version)
            .reads([input])
            .writes([output]),
        (),
        move |_, io| {
            let text = fs::read_to_string(io.input(0))?;
            let out = f(&text);
            fs::write(io.output(0), &out)?;
            Ok::<_, std::io::Error>(out)
        },
    )
    .unwrap()
}

/// The standard test pipeline:
/// `a` (writes a.txt from its argument) -> `b` (upper-cases a.txt into b.txt);
/// `c` (reverses the user file src.txt into c.txt); `d` (joins b.txt and c.txt into d.txt).
pub struct Pipeline {
    pub a: TaskHandle<()>,
    pub b: TaskHandle<String>,
    pub c: TaskHandle<String>,
    pub d: TaskHandle<String>,
}

pub fn pipeline(g: &Graph, env: &Env, a_arg: &str, b_version: u32) -> Pipeline {
    let a = g
        .add_fn(
            Task::new("a").writes([env.p("a.txt")]),
            a_arg.to_string(),
            |arg, io| fs::write(io.output(0), arg),
        )
        .unwrap();
    let b = transform(g, "b", b_version, &env.p("a.txt"), &env.p("b.txt"), |s| {
        s.to_uppercase()
    });
    let c = transform(g, "c", 1, &env.p("src.txt"), &env.p("c.txt"), |s| {
        s.chars().rev().collect()
    });
    let d = g
        .add_fn(
            Task::new("d")
                .reads([env.p("b.txt"), env.p("c.txt")])
                .writes([env.p("d.txt")]),
            (),
            |_, io| {
                let joined = format!(
                    "{}+{}",
                    fs::read_to_string(io.input(0))?,
                    fs::read_to_string(io.input(1))?
                );
                fs::write(io.output(0), &joined)?;
                Ok::<_, std::io::Error>(joined)
            },
        )
        .unwrap();
    Pipeline { a, b, c, d }
}

pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}
