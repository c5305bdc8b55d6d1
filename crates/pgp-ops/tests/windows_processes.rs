//! Window functions on a process pool (part of the `processes` test binary, which is its own
//! worker program): registered functions give the same bytes as sync and threads, folds the
//! same values, and closures, panics and mismatched folds fail clearly without leftovers.

#[path = "common/window_inputs.rs"]
mod window_inputs;

use ndarray::Array3;
use pgp_exec::{ExecError, Executor};
use pgp_ops::windows::{
    fold_windows_registered, map_windows, map_windows_registered, Edge, WindowData, WindowFold,
    WindowMap,
};
use pgp_ops::Error;
use window_inputs::*;

pgp_ops::register_window_fn!(Burn = burn);
pgp_ops::register_fold_fn!(Histogram = histogram);

fn shifted(w: &WindowData<'_, u8>) -> pgp_ops::Result<Array3<i16>> {
    // Each pixel less its left neighbour: needs the halo, so the worker's kept handle serves
    // overlapping reads.
    let (h, wd) = w.window.shape();
    let a = &w.inputs[0];
    Ok(Array3::from_shape_fn((1, h, wd), |(_, r, c)| {
        i16::from(a[[0, r + 1, c + 1]]) - i16::from(a[[0, r + 1, c]])
    }))
}
pgp_ops::register_window_fn!(Shifted = shifted);

/// The checks of this file (run by `processes.rs`, whose `main()` is the workers' too).
pub fn checks() -> Vec<(&'static str, fn())> {
    vec![
        (
            "windows_same_bytes_on_every_executor",
            windows_same_bytes_on_every_executor,
        ),
        ("windows_folds_on_processes", windows_folds_on_processes),
        (
            "windows_closures_panics_and_mismatches_fail_cleanly",
            windows_closures_panics_and_mismatches_fail_cleanly,
        ),
    ]
}

fn windows_same_bytes_on_every_executor() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("rgb.tif");
    let pixels = rgb(&input, 300, 260, 3);
    let want = burned(&pixels);
    let mut digests = Vec::new();
    for spec in ["sync", "threading:2", "multiprocessing:2"] {
        let exec = Executor::from_spec(&spec.parse().unwrap()).unwrap();
        let target = dir
            .path()
            .join(format!("burn-{}.tif", spec.replace(':', "-")));
        let request = WindowMap::new([&input], &target).block_size(128, 128);
        let report = map_windows_registered::<Burn>(&request, &exec).unwrap();
        assert_eq!(report.windows, 9);
        assert_eq!(read_all::<u8>(&target), want, "{spec}");
        let halo = dir
            .path()
            .join(format!("shift-{}.tif", spec.replace(':', "-")));
        let request = WindowMap::new([&input], &halo)
            .block_size(64, 64)
            .bands(1)
            .nodata(None)
            .halo(1, Edge::Replicate);
        map_windows_registered::<Shifted>(&request, &exec).unwrap();
        let got = read_all::<i16>(&halo);
        for ((_, r, c), v) in got.indexed_iter() {
            let left = pixels[[0, r, c.saturating_sub(1)]];
            assert_eq!(
                *v,
                i16::from(pixels[[0, r, c]]) - i16::from(left),
                "{spec} ({r}, {c})"
            );
        }
        digests.push((spec, file_sha256(&target), file_sha256(&halo)));
    }
    for d in &digests[1..] {
        assert_eq!(
            (&d.1, &d.2),
            (&digests[0].1, &digests[0].2),
            "{} differs from sync",
            d.0
        );
    }
}

fn windows_folds_on_processes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("rgb.tif");
    let pixels = rgb(&input, 333, 201, 3);
    let want = full_histograms(&pixels);
    for spec in ["sync", "threading:2", "multiprocessing:2"] {
        let exec = Executor::from_spec(&spec.parse().unwrap()).unwrap();
        let request = WindowFold::new([&input]).block_size(100, 64);
        let got =
            fold_windows_registered::<Histogram, _, _>(&request, Vec::new(), add_histograms, &exec)
                .unwrap();
        assert_eq!(got, want, "{spec}");
    }
}

fn windows_closures_panics_and_mismatches_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("rg.tif");
    rgb(&input, 200, 150, 2);
    let keep = ["rg.tif"];
    let exec = Executor::processes(2).unwrap();
    let target = dir.path().join("out.tif");
    let request = WindowMap::new([&input], &target).block_size(64, 64);

    let copy = |w: &WindowData<'_, u8>| Ok(w.inputs[0].clone());
    match map_windows(&request, copy, &exec) {
        Err(Error::Exec(ExecError::NotSendable { reason })) => {
            assert!(reason.contains("map_windows"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(others(dir.path(), &keep), Vec::<String>::new());

    // `burn` panics on the window at (64, 64) of a two-band input, in the worker.
    match map_windows_registered::<Burn>(&request, &exec) {
        Err(Error::WindowPanicked {
            index,
            window,
            message,
            ..
        }) => {
            assert_eq!((index, window.x_off, window.y_off), (5, 64, 64));
            assert!(message.contains("two bands"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(others(dir.path(), &keep), Vec::<String>::new());
    // The pool survives the panic.
    let sums = WindowFold::new([&input]);
    let got = fold_windows_registered::<Histogram, Vec<Vec<u64>>, _>(
        &sums,
        Vec::new(),
        add_histograms,
        &exec,
    )
    .unwrap();
    assert_eq!(got.len(), 2);

    let err = fold_windows_registered::<Histogram, Vec<u64>, _>(
        &sums,
        0u64,
        |a, v: Vec<u64>| Ok(a + v.len() as u64),
        &exec,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("returns") && err.to_string().contains("Vec<u64>"),
        "{err}"
    );
    let err = map_windows_registered::<Histogram>(&request, &exec).unwrap_err();
    assert!(err.to_string().contains("fold function"), "{err}");
    assert_eq!(others(dir.path(), &keep), Vec::<String>::new());
}
