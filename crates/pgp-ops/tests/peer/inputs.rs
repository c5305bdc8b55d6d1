//! The inputs of the peer references: pgp's seeded sample data at a few sizes, plus a copy of the
//! land-cover raster without a nodata value (its nodata pixels become class 13, so the copy holds
//! neither 0 nor 255). Used by the `peer_inputs` example (which writes them
//! for `make_refs_grid.py`) and by the parity test (which regenerates them), so both see the same
//! bytes.

use std::path::{Path, PathBuf};

use pgp_core::{raster_info, OutputRaster, Raster, RasterSpec, Window};

/// Seed of every reference input.
pub const SEED: u64 = 20240611;
/// Sizes: one under a block, one not a multiple of the 256 block size.
pub const SIZES: [usize; 2] = [300, 513];

/// Write the inputs for `size` into `dir/<size>/`, returning that directory.
pub fn write_inputs(dir: &Path, size: usize) -> PathBuf {
    let out = dir.join(size.to_string());
    let d = pgp_core::sample::generate(&out, size, SEED).expect("sample data");
    let info = raster_info(&d.landcover).unwrap();
    let spec = RasterSpec::like(&info, info.datatype);
    let mut plain = OutputRaster::create(out.join("landcover_plain.tif"), &spec).unwrap();
    let src = Raster::open(&d.landcover).unwrap();
    let (c, r) = info.raster_size;
    let px = src
        .read::<u8>(1, Window::full(c, r))
        .unwrap()
        .mapv(|v| if v == 255 { 13 } else { v });
    plain.raster().write(1, 0, 0, px.view()).unwrap();
    plain.commit().unwrap();
    out
}
