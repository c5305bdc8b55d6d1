//! Operations report their progress to an installed reporter: a start with the right total,
//! advances that add up to it, and an end, on every executor that runs in this process.

use std::sync::Arc;

use ndarray::Array2;
use parking_lot::Mutex;
use pgp_core::{sample, DataType};
use pgp_exec::Executor;
use pgp_ops::calc::{raster_calculator, CalcInput, CalcOptions};
use pgp_ops::progress::{with_progress, Progress, ProgressTicker};
use pgp_ops::windows::{fold_windows, map_windows, WindowData, WindowFold, WindowMap};
use pgp_ops::{
    align_and_resize_raster_stack, convolve_2d, warp_raster, AlignOptions, BoundingBoxMode,
    ConvolveOptions, ResampleMethod, WarpOptions,
};

/// One finished operation: name, unit, announced total, units advanced.
type Seen = (String, String, u64, u64);

#[derive(Default, Clone)]
struct Recorder(Arc<Mutex<Vec<Seen>>>);

struct Ticker {
    seen: Arc<Mutex<Vec<Seen>>>,
    entry: Seen,
}

impl ProgressTicker for Ticker {
    fn advance(&mut self, units: u64) {
        self.entry.3 += units;
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.seen.lock().push(self.entry.clone());
    }
}

impl Progress for Recorder {
    fn start(&self, operation: &str, unit: &str, total: u64) -> Box<dyn ProgressTicker> {
        Box::new(Ticker {
            seen: self.0.clone(),
            entry: (operation.to_string(), unit.to_string(), total, 0),
        })
    }
}

impl Recorder {
    fn run<R>(&self, f: impl FnOnce() -> R) -> (R, Vec<Seen>) {
        let r = with_progress(Arc::new(self.clone()), f);
        (r, std::mem::take(&mut *self.0.lock()))
    }
}

fn float_raster(path: &std::path::Path, cols: usize, rows: usize) {
    let data = Array2::from_shape_fn((rows, cols), |(r, c)| (r * cols + c) as f32);
    let spec = pgp_core::RasterSpec::new(
        cols,
        rows,
        DataType::F32,
        pgp_core::GeoTransform::north_up(0.0, 0.0, 10.0, -10.0),
    );
    let mut out = pgp_core::OutputRaster::create(path, &spec).unwrap();
    out.raster().write(1, 0, 0, data.view()).unwrap();
    out.commit().unwrap();
}

#[test]
fn calculator_reports_every_block_on_sync_and_threads() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.tif");
    // 600 x 300 with 256 x 256 tiles: 3 x 2 blocks.
    float_raster(&a, 600, 300);
    for exec in [Executor::sync(), Executor::threads(2).unwrap()] {
        let (report, seen) = Recorder::default().run(|| {
            raster_calculator(
                &[CalcInput::raster(&a, 1)],
                |b| Ok(b.array::<f32>(0)?.mapv(|v| v + 1.0)),
                dir.path().join("out.tif"),
                DataType::F32,
                None,
                &CalcOptions::default(),
                &exec,
            )
            .unwrap()
        });
        assert_eq!(report.blocks, 6);
        assert_eq!(
            seen,
            vec![("raster_calculator".into(), "blocks".into(), 6, 6)],
            "{exec:?}"
        );
    }
}

#[test]
fn a_failed_operation_still_ends_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.tif");
    float_raster(&a, 600, 300);
    let (result, seen) = Recorder::default().run(|| {
        raster_calculator(
            &[CalcInput::raster(&a, 1)],
            |b| {
                if b.window().x_off > 0 {
                    Err(pgp_ops::Error::invalid("test", "refused"))
                } else {
                    Ok(b.array::<f32>(0)?.to_owned())
                }
            },
            dir.path().join("out.tif"),
            DataType::F32,
            None,
            &CalcOptions::default(),
            &Executor::sync(),
        )
    });
    assert!(result.is_err());
    assert_eq!(seen.len(), 1);
    let (name, _, total, done) = &seen[0];
    assert_eq!((name.as_str(), *total), ("raster_calculator", 6));
    assert!(*done < 6, "stopped early: {done} of 6");
}

#[test]
fn convolve_warp_and_align_report_their_units() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample::generate(dir.path().join("data"), 300, 3).unwrap();
    let rec = Recorder::default();

    let kernel = dir.path().join("kernel.tif");
    pgp_ops::kernels::normal_distribution_kernel(&kernel, 1.0, 2.0, true).unwrap();
    let ((), seen) = rec.run(|| {
        convolve_2d(
            &data.dem,
            1,
            &kernel,
            1,
            dir.path().join("conv.tif"),
            &ConvolveOptions::default(),
            &Executor::threads(2).unwrap(),
        )
        .unwrap()
    });
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (name, unit, total, done) = &seen[0];
    assert_eq!((name.as_str(), unit.as_str()), ("convolve_2d", "blocks"));
    assert!(*total >= 1 && done == total, "{seen:?}");

    let (_, seen) = rec.run(|| {
        warp_raster(
            &data.dem,
            (60.0, -60.0),
            dir.path().join("coarse.tif"),
            ResampleMethod::Bilinear,
            &WarpOptions::default(),
            &Executor::sync(),
        )
        .unwrap()
    });
    // The warper's percent, then the compression of its scratch file into the output.
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], ("warp_raster".into(), "percent".into(), 100, 100));
    let (name, unit, total, done) = &seen[1];
    assert_eq!(
        (name.as_str(), unit.as_str()),
        ("warp_raster: compress", "blocks")
    );
    assert!(*total >= 1 && done == total, "{seen:?}");

    let outs: Vec<_> = ["a.tif", "b.tif"]
        .iter()
        .map(|n| dir.path().join(n))
        .collect();
    let (_, seen) = rec.run(|| {
        align_and_resize_raster_stack(
            &[&data.dem, &data.landcover],
            &outs,
            &[ResampleMethod::Bilinear, ResampleMethod::Near],
            (45.0, -45.0),
            BoundingBoxMode::Intersection,
            &AlignOptions::default(),
            &Executor::sync(),
        )
        .unwrap()
    });
    // The stack's own report, plus one per warp that ran on this thread.
    let stack: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.0 == "align_and_resize_raster_stack")
        .collect();
    assert_eq!(
        stack,
        vec![&(
            "align_and_resize_raster_stack".to_string(),
            "rasters".to_string(),
            2,
            2
        )]
    );
}

#[test]
fn window_maps_and_folds_report_every_window_on_sync_and_threads() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.tif");
    // 600 x 300 with 256 x 256 tiles: 3 x 2 windows.
    float_raster(&a, 600, 300);
    for exec in [Executor::sync(), Executor::threads(2).unwrap()] {
        let (report, seen) = Recorder::default().run(|| {
            let request = WindowMap::new([&a], dir.path().join("out.tif"));
            map_windows(
                &request,
                |w: &WindowData<'_, f32>| Ok(w.inputs[0].mapv(|v| v * 2.0)),
                &exec,
            )
            .unwrap()
        });
        assert_eq!(report.windows, 6);
        assert_eq!(
            seen,
            vec![("map_windows".into(), "blocks".into(), 6, 6)],
            "{exec:?}"
        );
        let (count, seen) = Recorder::default().run(|| {
            let count = |w: &WindowData<'_, f32>| Ok(w.inputs[0].len());
            fold_windows(&WindowFold::new([&a]), count, 0, |n, c| Ok(n + c), &exec).unwrap()
        });
        assert_eq!(count, 600 * 300);
        assert_eq!(
            seen,
            vec![("fold_windows".into(), "blocks".into(), 6, 6)],
            "{exec:?}"
        );
    }
}
