//! The runner of test binaries that need their own `main()` (worker processes and crash
//! children are copies of the test binary, so it must act on that before anything else). It is
//! libtest's command line (`--list`, filters, `--exact`, `--test-threads`), so `cargo test` and
//! `cargo nextest` run these binaries like any other.
#![allow(dead_code)]

/// A named check.
pub type Check = (&'static str, fn());

/// Runs the selected checks, one at a time unless `--test-threads` says otherwise (they start
/// processes and some time them), and exits with libtest's status.
pub fn run(checks: &[Check]) -> ! {
    let mut args = libtest_mimic::Arguments::from_args();
    args.test_threads.get_or_insert(1);
    let trials = checks
        .iter()
        .map(|&(name, check)| {
            libtest_mimic::Trial::test(name, move || {
                check();
                Ok(())
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit()
}
