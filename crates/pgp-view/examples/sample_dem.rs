//! Write the seeded sample DEM (`pgp_core::sample::dem`) at any size, to time quicklooks on
//! large rasters: `cargo run --release -p pgp-view --example sample_dem -- OUT.tif SIZE`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(out), Some(size)) = (args.next(), args.next()) else {
        return Err("usage: sample_dem OUT.tif SIZE".into());
    };
    let size: usize = size
        .parse()
        .map_err(|_| format!("SIZE `{size}` is not a number"))?;
    pgp_core::sample::dem(&out, size, 1)?;
    Ok(())
}
