//! A damaged source (a truncated LZW GeoTIFF, as an interrupted download leaves it) must stop
//! warp and align with an error naming it, on every path: the file copy, the aligned copy and
//! the warper. Nothing may be left at the target.

use std::path::{Path, PathBuf};

use pgp_core::{raster_info, sample};
use pgp_exec::Executor;
use pgp_ops::{
    align_and_resize_raster_stack, warp_raster, AlignOptions, BoundingBoxMode, ResampleMethod,
    WarpOptions, WarpPath,
};

/// A seeded DEM and a copy of it cut to half its bytes: the IFD survives (the file opens and
/// describes itself), the last tiles are gone.
fn dem_and_truncated(dir: &Path) -> (PathBuf, PathBuf) {
    let dem = dir.join("dem.tif");
    sample::dem(&dem, 512, 3).unwrap();
    let bytes = std::fs::read(&dem).unwrap();
    let truncated = dir.join("truncated.tif");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    raster_info(&truncated).expect("the truncated file still opens");
    (dem, truncated)
}

fn own_grid(path: &Path) -> WarpOptions {
    WarpOptions {
        target_bbox: Some(raster_info(path).unwrap().bounding_box),
        ..Default::default()
    }
}

#[test]
fn the_intact_source_takes_the_file_copy() {
    // The cases below only test the file copy if the intact file takes it.
    let dir = tempfile::tempdir().unwrap();
    let (dem, _) = dem_and_truncated(dir.path());
    let out = dir.path().join("out.tif");
    let how = warp_raster(
        &dem,
        (sample::DEM_PIXEL, -sample::DEM_PIXEL),
        &out,
        ResampleMethod::Bilinear,
        &own_grid(&dem),
        &Executor::sync(),
    )
    .unwrap();
    assert_eq!(how, WarpPath::FileCopy);
}

#[test]
fn warp_of_a_truncated_source_fails_on_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let (dem, truncated) = dem_and_truncated(dir.path());
    let info = raster_info(&dem).unwrap();
    let shifted = {
        let mut bb = info.bounding_box;
        bb.xmin += 2.0 * sample::DEM_PIXEL;
        bb
    };
    let px = sample::DEM_PIXEL;
    let cases = [
        ("file copy", own_grid(&dem), px),
        (
            "aligned copy",
            WarpOptions {
                target_bbox: Some(shifted),
                ..Default::default()
            },
            px,
        ),
        ("warper", own_grid(&dem), px * 1.5),
    ];
    for executor in [Executor::sync(), Executor::threads(2).unwrap()] {
        for (label, options, pixel) in &cases {
            let out = dir.path().join("out.tif");
            let e = warp_raster(
                &truncated,
                (*pixel, -*pixel),
                &out,
                ResampleMethod::Bilinear,
                options,
                &executor,
            )
            .expect_err(label);
            assert!(e.to_string().contains("truncated.tif"), "{label}: {e}");
            // GDAL's own reason, also when the warper's worker threads hit it (issue 23 item 3).
            assert!(e.to_string().contains("IReadBlock failed"), "{label}: {e}");
            // The output is named as the caller gave it, never as its hidden temporary.
            assert!(!e.to_string().contains(".pgp-tmp"), "{label}: {e}");
            assert!(!out.exists(), "{label}: no output");
            let left: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n != "dem.tif" && n != "truncated.tif")
                .collect();
            assert!(left.is_empty(), "{label}: left behind {left:?}");
        }
    }
}

#[test]
fn align_snapped_to_a_truncated_raster_fails_and_writes_nothing_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let (dem, truncated) = dem_and_truncated(dir.path());
    let targets = [dir.path().join("a.tif"), dir.path().join("b.tif")];
    let options = AlignOptions {
        raster_align_index: Some(0),
        ..Default::default()
    };
    let e = align_and_resize_raster_stack(
        &[&truncated, &dem],
        &targets,
        &[ResampleMethod::Bilinear, ResampleMethod::Bilinear],
        (sample::DEM_PIXEL, -sample::DEM_PIXEL),
        BoundingBoxMode::Intersection,
        &options,
        &Executor::threads(2).unwrap(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("truncated.tif"), "{e}");
    assert!(!targets[0].exists());
}
