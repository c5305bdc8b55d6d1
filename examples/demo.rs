//! The README's demo: make the seeded sample data and describe it.
//!
//! Usage: `cargo run --release --example demo -- [OUT_DIR] [SIZE]`

use std::path::PathBuf;
use std::time::Instant;

use pgp::core::{raster_info, sample, vector_info, LayerRef};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "demo-out".into()));
    let size: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1024);

    let t = Instant::now();
    let data = sample::generate(out.join("data"), size, 1)?;
    println!(
        "sample data ({size} x {size}) written to {} in {:.2} s",
        out.join("data").display(),
        t.elapsed().as_secs_f64()
    );
    for path in [&data.dem, &data.weight, &data.landcover, &data.precip] {
        let info = raster_info(path)?;
        println!(
            "{:>14}  {:>5} x {:<5} {:>7}  pixel {:>4} m  nodata {:?}  bbox {:?}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            info.raster_size.0,
            info.raster_size.1,
            info.datatype.gdal_name(),
            info.pixel_size.0,
            info.nodata[0],
            info.bounding_box.to_array()
        );
    }
    let zones = vector_info(&data.zones, &LayerRef::default())?;
    println!(
        "{:>14}  {} {} features, fields {:?}",
        "zones.gpkg",
        zones.feature_count,
        zones.geometry_type,
        zones
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
    );
    Ok(())
}
