//! pgp-ops on process pools, as one test binary that is also the pools' worker program: `main()`
//! calls `run_if_worker()` first, so workers (copies of this binary) serve blocks instead of
//! running the checks. The checks go through libtest-mimic, so `--list`, filters and `--exact`
//! work as with libtest (and so `cargo nextest` runs them).
// Each file keeps its own `mod common;` so it still reads (and once ran) alone; the shared
// helpers are therefore compiled once per file that uses them.
#![allow(clippy::duplicate_mod)]

#[path = "align_processes.rs"]
mod align_processes;
#[path = "calc_processes.rs"]
mod calc_processes;
#[path = "windows_processes.rs"]
mod windows_processes;
#[path = "zonal_processes.rs"]
mod zonal_processes;

fn main() {
    pgp_exec::worker::run_if_worker();
    let mut args = libtest_mimic::Arguments::from_args();
    // One at a time unless asked otherwise: every check starts worker processes.
    args.test_threads.get_or_insert(1);
    let trials = [
        align_processes::checks(),
        calc_processes::checks(),
        windows_processes::checks(),
        zonal_processes::checks(),
    ]
    .into_iter()
    .flatten()
    .map(|(name, check)| {
        libtest_mimic::Trial::test(name, move || {
            check();
            Ok(())
        })
    })
    .collect();
    libtest_mimic::run(&args, trials).exit()
}
