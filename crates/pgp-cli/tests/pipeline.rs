//! `pgp run` and `pgp graph` on the example pipeline file, with generated data.

use std::path::Path;

use assert_cmd::Command;
use pgp::core::sample;

fn pgp() -> Command {
    Command::cargo_bin("pgp").unwrap()
}

fn table(dir: &Path, class3: f64) {
    let mut s = String::from("lucode,coef\n");
    for k in (1..=12).filter(|&k| k != 7) {
        let coef = if k == 3 { class3 } else { 0.1 * k as f64 };
        s.push_str(&format!("{k},{coef}\n"));
    }
    std::fs::write(dir.join("biophysical.csv"), s).unwrap();
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    sample::generate(dir.path().join("data"), 96, 5).unwrap();
    table(dir.path(), 0.3);
    std::fs::create_dir(dir.path().join("work")).unwrap();
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/pipeline/pipeline.toml");
    std::fs::copy(example, dir.path().join("pipeline.toml")).unwrap();
    dir
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.assert().success();
    String::from_utf8_lossy(&out.get_output().stdout).to_string()
}

#[test]
fn run_rerun_edit_and_dry_run() {
    let dir = setup();
    let file = dir.path().join("pipeline.toml");

    let first = stdout(
        pgp()
            .arg("run")
            .arg(&file)
            .args(["--executor", "threading:2"]),
    );
    assert!(first.contains("4 task(s) ran, 0 skipped"), "{first}");
    let zonal: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("work/zonal_runoff.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(zonal.as_object().unwrap().len(), 202);

    let out = pgp()
        .args(["--progress", "lines", "run"])
        .arg(&file)
        .assert()
        .success();
    let second = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let progress = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(progress.contains("pgp: tasks: 4/4 tasks"), "{progress}");
    assert!(
        second.contains("nothing to do: all 4 task(s) up to date"),
        "{second}"
    );

    table(dir.path(), 0.9);
    let plan = stdout(pgp().arg("run").arg("--dry-run").arg(&file));
    let lines: Vec<&str> = plan.lines().collect();
    assert_eq!(lines[0], "skip  align", "{plan}");
    assert!(
        lines[1].starts_with("run   coefficients  (input changed:")
            && lines[1].contains("biophysical.csv"),
        "{plan}"
    );
    assert!(
        lines[2].starts_with("run   runoff  (upstream task 'coefficients'"),
        "{plan}"
    );
    assert!(lines[3].starts_with("run   zonal"), "{plan}");

    let out = pgp()
        .arg("run")
        .arg(&file)
        .args(["--json", "-v"])
        .assert()
        .success();
    let json = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    // -v: every stderr line is a JSON event; tasks and the operations inside them are logged.
    let logs: Vec<serde_json::Value> = String::from_utf8_lossy(&out.get_output().stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let has = |event: &str, key: &str, value: &str| {
        logs.iter()
            .any(|l| l["event"] == event && l[key].as_str() == Some(value))
    };
    assert!(has("skipped", "task", "align"), "{logs:?}");
    assert!(has("finished", "task", "runoff"), "{logs:?}");
    assert!(
        has("operation_finished", "operation", "evaluate"),
        "{logs:?}"
    );
    assert!(has("command_finished", "command", "run"), "{logs:?}");
    assert_eq!(
        v["ran"],
        serde_json::json!(["coefficients", "runoff", "zonal"])
    );
    assert_eq!(v["skipped"], serde_json::json!(["align"]));
    let report = std::fs::read_to_string(dir.path().join(".pgp/report.html")).unwrap();
    assert!(
        report.contains("<svg") && report.contains("coefficients") && report.contains("1 skipped")
    );
}

#[test]
fn graph_prints_dot_with_file_edges() {
    let dir = setup();
    let dot = stdout(pgp().arg("graph").arg(dir.path().join("pipeline.toml")));
    assert!(dot.starts_with("digraph"), "{dot}");
    assert!(dot.contains("label=\"coef.tif\""), "{dot}");
    assert!(dot.trim_end().ends_with('}'));
}

#[test]
fn bad_pipelines_name_the_task_and_key() {
    let dir = setup();
    let file = dir.path().join("pipeline.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("\"@coefficients\"", "\"@coefs\"")).unwrap();
    let out = pgp().arg("run").arg(&file).assert().failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("task `runoff`, key `args.inputs.coef`") && err.contains("coefs"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    std::fs::write(&file, text.replace("pgp.reclassify", "pgp.reclasify")).unwrap();
    let out = pgp().arg("run").arg(&file).assert().failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("unknown operation `pgp.reclasify`") && err.contains("pgp.reclassify"),
        "{err}"
    );

    let out = pgp()
        .arg("run")
        .arg(dir.path().join("missing.toml"))
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("missing.toml"), "{err}");
}

#[test]
fn a_failing_task_fails_its_dependents_and_the_exit_code() {
    let dir = setup();
    std::fs::remove_file(dir.path().join("biophysical.csv")).unwrap();
    let out = pgp()
        .arg("run")
        .arg(dir.path().join("pipeline.toml"))
        .arg("--keep-going")
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("pgp: error: 3 task(s) failed"), "{err}");
    assert!(err.contains("biophysical.csv"), "{err}");
    // align succeeded and is recorded; nothing downstream claims completion.
    let plan = stdout(
        pgp()
            .arg("run")
            .arg("--dry-run")
            .arg(dir.path().join("pipeline.toml")),
    );
    assert!(plan.starts_with("skip  align"), "{plan}");
    assert!(plan.contains("run   coefficients"), "{plan}");
}

/// Every `-v` line on stderr (human `pgp: ` lines aside): a JSON object whose `event` is a
/// plain kind, with `t`.
fn verbose_events(stderr: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| !l.starts_with("pgp: "))
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}"));
            let kind = v["event"]
                .as_str()
                .unwrap_or_else(|| panic!("no event: {l}"));
            assert!(
                !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "the event is a kind, not a debug dump: {l}"
            );
            assert!(v["t"].is_f64(), "{l}");
            v
        })
        .collect()
}

#[test]
fn verbose_warnings_are_json_events_with_their_message() {
    let dir = setup();
    let file = dir.path().join("pipeline.toml");
    pgp().arg("run").arg(&file).assert().success();
    // A damaged digest memo is repaired with a warning.
    std::fs::write(dir.path().join(".pgp/memo.bin"), b"garbage").unwrap();
    let out = pgp()
        .args(["-v", "--progress", "off", "run"])
        .arg(&file)
        .assert()
        .success();
    let events = verbose_events(&out.get_output().stderr);
    let warnings: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["event"] == "warning").collect();
    assert_eq!(warnings.len(), 1, "{events:?}");
    assert!(
        warnings[0]["message"].as_str().unwrap().contains("memo"),
        "{events:?}"
    );
    let kinds: std::collections::BTreeSet<&str> =
        events.iter().filter_map(|e| e["event"].as_str()).collect();
    for kind in ["queued", "skipped", "command_finished"] {
        assert!(kinds.contains(kind), "{kinds:?}");
    }
}

#[test]
fn a_power_chain_in_a_pipeline_is_an_error_not_an_abort() {
    let dir = setup();
    let file = dir.path().join("pipeline.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let chain = vec!["dem"; 25_000].join("**");
    let text = text.replace("precip * coef * (1 + dem / 1000)", &chain);
    assert!(text.contains(&chain));
    std::fs::write(&file, text).unwrap();
    let out = pgp().arg("run").arg(&file).assert().code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("runoff") && err.contains("nested deeper"),
        "{err}"
    );
    assert!(!err.contains("overflow"), "{err}");
}

/// The rows of the report's worker table: (task, state, worker, Slurm job, node).
fn report_workers(report: &str) -> Vec<[String; 5]> {
    let Some(start) = report.find("<table class=\"workers\">") else {
        return Vec::new();
    };
    let table = &report[start..start + report[start..].find("</table>").unwrap()];
    table
        .split("<tr><td>")
        .skip(1)
        .map(|row| {
            let cells: Vec<String> = row
                .trim_end_matches("</td></tr>\n")
                .split("</td><td>")
                .map(str::to_string)
                .collect();
            cells.try_into().unwrap()
        })
        .collect()
}

/// `pgp run --json` and the report say which worker ran each task: the graph's task threads on
/// threading, the pool's worker processes (by pid) on multiprocessing.
#[test]
fn the_json_result_and_the_report_name_the_worker_of_every_task() {
    for executor in ["threading:2", "multiprocessing:2"] {
        let dir = setup();
        let out = pgp()
            .arg("run")
            .arg(dir.path().join("pipeline.toml"))
            .args(["--executor", executor, "--json", "-v"])
            .assert()
            .success();
        let v: serde_json::Value =
            serde_json::from_slice(out.get_output().stdout.as_slice()).unwrap();
        let workers = v["workers"].as_object().unwrap();
        let tasks = ["align", "coefficients", "runoff", "zonal"];
        assert_eq!(
            workers.keys().collect::<Vec<_>>(),
            tasks.iter().collect::<Vec<_>>(),
            "{v}"
        );
        let ran_on: Vec<serde_json::Value> = verbose_events(&out.get_output().stderr)
            .into_iter()
            .filter(|e| e["event"] == "ran_on")
            .collect();
        assert_eq!(ran_on.len(), 4, "{ran_on:?}");
        let report = std::fs::read_to_string(dir.path().join(".pgp/report.html")).unwrap();
        let rows = report_workers(&report);
        assert_eq!(rows.len(), 4, "{report}");
        for task in tasks {
            let worker = &workers[task];
            match executor {
                "threading:2" => {
                    assert_eq!(worker["kind"], "thread", "{task}: {worker}");
                    assert!(
                        worker["name"]
                            .as_str()
                            .unwrap()
                            .starts_with("pgp-graph-task"),
                        "{task}: {worker}"
                    );
                }
                _ => {
                    assert_eq!(worker["kind"], "process", "{task}: {worker}");
                    let pid = worker["pid"].as_u64().unwrap();
                    assert!(pid > 0 && pid != u64::from(std::process::id()));
                    assert!(worker["index"].as_u64().unwrap() < 2, "{worker}");
                }
            }
            assert!(
                ran_on
                    .iter()
                    .any(|e| e["task"] == task && &e["worker"] == worker),
                "{task}: {ran_on:?}"
            );
            let row = rows.iter().find(|r| r[0] == task).unwrap();
            assert_eq!(row[1], "ran");
            let shown = match executor {
                "threading:2" => format!("thread {}", worker["name"].as_str().unwrap()),
                _ => format!("process worker {} (pid {})", worker["index"], worker["pid"]),
            };
            assert_eq!(row[2], shown, "{task}");
            assert_eq!((row[3].as_str(), row[4].as_str()), ("", ""));
        }
    }
}
