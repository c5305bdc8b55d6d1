//! A tiny test runner for test binaries that need their own `main()` (worker processes are
//! copies of the test binary, so it must call `run_if_worker()` before anything else).

use std::panic::{catch_unwind, AssertUnwindSafe};

/// A named check.
pub type Check = (&'static str, fn());

/// Runs the checks whose names contain any non-flag command-line argument (all if none),
/// prints one line each and a closing `N passed, N failed` line, and exits non-zero on failure.
pub fn run(checks: &[Check]) -> ! {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let selected: Vec<&Check> = checks
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} checks", selected.len());
    let (mut passed, mut failed) = (0, 0);
    for (name, check) in selected {
        let started = std::time::Instant::now();
        match catch_unwind(AssertUnwindSafe(check)) {
            Ok(()) => {
                passed += 1;
                println!("check {name} ... ok ({:.2?})", started.elapsed());
            }
            Err(_) => {
                failed += 1;
                println!("check {name} ... FAILED");
            }
        }
    }
    println!("\n{passed} passed, {failed} failed");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
