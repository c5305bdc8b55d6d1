//! Any text given as an executor (`--executor`, `executor = ...` in a pipeline file, Python's
//! `executor=`, the Slurm keys such as `time=02:00:00`) parses or fails with an error, never a
//! panic; what parses prints back as text that parses to the same spec.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgp::exec::{parse_slurm_time, ExecutorSpec};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = text.parse::<ExecutorSpec>() {
        let printed = spec.to_string();
        let again: ExecutorSpec = printed
            .parse()
            .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which fails: {e}"));
        assert_eq!(again, spec, "{text:?} -> {printed:?}");
    }
    // A task's walltime in a pipeline file goes through the same time parser.
    let _ = parse_slurm_time("walltime", text);
});
