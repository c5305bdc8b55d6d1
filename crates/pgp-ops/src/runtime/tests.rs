use std::path::{Path, PathBuf};

use ndarray::{Array2, Array3};
use pgp_core::{DataType, GeoTransform, OutputRaster, Raster, RasterSpec, Window};
use pgp_exec::{Executor, RemoteOp};
use serde::{Deserialize, Serialize};

use super::*;

/// Every band of a raster, block by block: reads and writes windows as band x row x column.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CopyAll {
    path: PathBuf,
    bands: Vec<usize>,
}

impl BlockOp for CopyAll {
    type Item = Window;
    type Side = u64;
    type Prepared = ();

    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.path.clone()]
    }

    fn prepare(&self) -> Result<()> {
        Ok(())
    }

    fn compute(&self, _: &(), inputs: &Handles<'_>, w: Window) -> Result<Computed<u64>> {
        if w.x_off == 7 {
            return Err(Error::SizeMismatch {
                path: self.path.clone(),
                size: (1, 2),
                reference: self.path.clone(),
                reference_size: (3, 4),
            });
        }
        let block: Array3<u16> = inputs.read_bands(0, &self.bands, w)?;
        let sum = block.iter().map(|&v| u64::from(v)).sum();
        Ok(Computed {
            window: w,
            data: Some(Payload::from_bands(block)),
            side: sum,
        })
    }
}

impl RemoteBlockOp for CopyAll {
    const NAME: &'static str = "pgp_ops::runtime::tests::copy_all";
}

fn three_bands(path: &Path) -> RasterSpec {
    let spec = RasterSpec::new(
        300,
        200,
        DataType::U16,
        GeoTransform::north_up(0.0, 0.0, 1.0, -1.0),
    )
    .bands(3);
    let mut out = OutputRaster::create(path, &spec).unwrap();
    for band in 1..=3 {
        let data = Array2::from_shape_fn((200, 300), |(r, c)| (band * 1000 + r * 3 + c) as u16);
        out.raster().write(band, 0, 0, data.view()).unwrap();
    }
    out.commit().unwrap();
    spec
}

#[test]
fn several_bands_are_read_and_written_as_one_window() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("three.tif");
    let spec = three_bands(&source);
    let target = dir.path().join("copy.tif");
    let op = CopyAll {
        path: source.clone(),
        bands: vec![1, 2, 3],
    };
    let windows = Windows::Given {
        step: Some((64, 64)),
        windows: pgp_core::block_windows((300, 200), (64, 64), 0).collect(),
    };
    let exec = Executor::threads(2).unwrap();
    let mut total = 0u64;
    let out = RasterTarget {
        operation: "test",
        path: &target,
        spec: &spec,
    };
    let written = write_raster(&exec, &Runner::new(op), out, windows, Ok, |sum| {
        total += sum;
        Ok(())
    })
    .unwrap();
    written.commit(None).unwrap();
    let (a, b) = (
        Raster::open(&source).unwrap(),
        Raster::open(&target).unwrap(),
    );
    let mut expected = 0u64;
    for band in 1..=3 {
        let whole = Window::new(0, 0, 300, 200);
        let original = a.read::<u16>(band, whole).unwrap();
        assert_eq!(original, b.read::<u16>(band, whole).unwrap(), "band {band}");
        expected += original.iter().map(|&v| u64::from(v)).sum::<u64>();
    }
    assert_eq!(total, expected);
}

#[test]
fn several_bands_are_compressed_on_the_workers_for_either_interleaving() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("three.tif");
    let base = three_bands(&source);
    let a = Raster::open(&source).unwrap();
    let whole = Window::new(0, 0, 300, 200);
    for interleave in ["PIXEL", "BAND"] {
        let mut spec = base.clone();
        spec.driver = pgp_core::RasterDriver::new(
            "GTiff",
            [
                "TILED=YES",
                "BLOCKXSIZE=64",
                "BLOCKYSIZE=64",
                "COMPRESS=LZW",
                &format!("INTERLEAVE={interleave}"),
            ],
        );
        let mut digests = Vec::new();
        for exec in [Executor::sync(), Executor::threads(2).unwrap()] {
            let target = dir
                .path()
                .join(format!("{interleave}-{}.tif", exec.workers()));
            // The sink takes raw tiles, so workers send compressed tiles, not pixels.
            let sink = Sink::create(&target, &spec, Some((64, 64))).unwrap();
            assert!(matches!(sink, Sink::Raw(_)), "{interleave}");
            drop(sink);
            let op = CopyAll {
                path: source.clone(),
                bands: vec![1, 2, 3],
            };
            let windows = Windows::Given {
                step: Some((64, 64)),
                windows: pgp_core::block_windows((300, 200), (64, 64), 0).collect(),
            };
            let out = RasterTarget {
                operation: "test",
                path: &target,
                spec: &spec,
            };
            write_raster(&exec, &Runner::new(op), out, windows, Ok, |_| Ok(()))
                .unwrap()
                .commit(None)
                .unwrap();
            let b = Raster::open(&target).unwrap();
            for band in 1..=3 {
                assert_eq!(
                    a.read::<u16>(band, whole).unwrap(),
                    b.read::<u16>(band, whole).unwrap(),
                    "{interleave} band {band} on {}",
                    exec.spec()
                );
            }
            digests.push(std::fs::read(&target).unwrap());
        }
        assert!(
            digests[0] == digests[1],
            "{interleave}: sync and threads differ"
        );
    }
}

#[test]
fn a_failed_block_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("three.tif");
    let spec = three_bands(&source);
    let target = dir.path().join("copy.tif");
    let op = CopyAll {
        path: source,
        bands: vec![1, 2, 3],
    };
    // Windows that are not whole tiles (so GDAL writes the output); the raw-tile path's
    // failures are the window tests' (`a_panic_names_its_window...`).
    let windows = Windows::Given {
        step: Some((7, 200)),
        windows: vec![Window::new(0, 0, 7, 200), Window::new(7, 0, 293, 200)],
    };
    let out = RasterTarget {
        operation: "test",
        path: &target,
        spec: &spec,
    };
    let result = write_raster(
        &Executor::sync(),
        &Runner::new(op),
        out,
        windows,
        Ok,
        |_| Ok(()),
    );
    assert!(matches!(result, Err(Error::SizeMismatch { .. })));
    drop(result);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn operation_errors_cross_the_process_boundary_typed() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("three.tif");
    three_bands(&source);
    let task = Task {
        op: CopyAll {
            path: source,
            bands: vec![2],
        },
        dispatch: Dispatch {
            run: run_token(),
            layout: None,
        },
        items: vec![Window::new(0, 0, 5, 5), Window::new(7, 0, 5, 5)],
    };
    // What a worker process sends back, through the bytes it travels as.
    let output = Remote::<CopyAll>::run(task).unwrap();
    let bytes = bincode::serialize(&output).unwrap();
    let back: <Remote<CopyAll> as RemoteOp>::Output = bincode::deserialize(&bytes).unwrap();
    match back {
        Err(Error::SizeMismatch { size, .. }) => assert_eq!(size, (1, 2)),
        other => panic!("{other:?}"),
    }
    let internal = bincode::serialize(&Error::internal("x")).unwrap();
    let internal: Error = bincode::deserialize(&internal).unwrap();
    assert!(matches!(internal, Error::Internal(_)), "{internal}");
}

fn write_constant(path: &Path, value: u16) {
    let spec = RasterSpec::new(
        4,
        3,
        DataType::U16,
        GeoTransform::north_up(0.0, 0.0, 1.0, -1.0),
    );
    let mut out = OutputRaster::create(path, &spec).unwrap();
    out.raster()
        .write(1, 0, 0, Array2::from_elem((3, 4), value).view())
        .unwrap();
    out.commit().unwrap();
}

#[test]
fn worker_state_is_kept_within_a_call_and_reopened_for_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.tif");
    let op = CopyAll {
        path: path.clone(),
        bands: vec![1],
    };
    let read = |run: u64| {
        handles::with_worker_state(run, &op, |_, inputs| {
            inputs.with(
                0,
                |r| Ok(r.read::<u16>(1, Window::new(0, 0, 4, 3))?[[1, 1]]),
            )
        })
        .unwrap()
    };
    write_constant(&path, 1);
    let (first, second) = (run_token(), run_token());
    assert_ne!(first, second);
    assert_eq!(read(first), 1);
    // Rewritten under the same name: the same call keeps its handle, the next call reopens.
    std::fs::remove_file(&path).unwrap();
    write_constant(&path, 2);
    assert_eq!(read(first), 1);
    assert_eq!(read(second), 2);
    // A missing file is an error naming it, not a kept handle.
    std::fs::remove_file(&path).unwrap();
    let err = handles::with_worker_state(run_token(), &op, |_, _| Ok(())).unwrap_err();
    assert!(err.to_string().contains("r.tif"), "{err}");
}
