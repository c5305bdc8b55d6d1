//! Minimal runner for the test binaries that need their own `main()`: worker processes and
//! crash children are copies of the test binary itself.
#![allow(dead_code)]

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs every `(name, check)` whose name contains one of the non-flag arguments (all when there
/// are none), then prints the closing `N passed, N failed` line and exits accordingly.
pub fn run_checks(checks: &[(&str, fn())]) -> ! {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut results = (0usize, 0usize);
    for (name, check) in checks {
        if !wanted.is_empty() && !wanted.iter().any(|w| name.contains(w.as_str())) {
            continue;
        }
        if catch_unwind(AssertUnwindSafe(check)).is_ok() {
            results.0 += 1;
            println!("check {name} ... ok");
        } else {
            results.1 += 1;
            println!("check {name} ... FAILED");
        }
    }
    println!("\n{} passed, {} failed", results.0, results.1);
    std::process::exit(i32::from(results.1 > 0));
}
