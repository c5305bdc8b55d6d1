//! Writes the seeded inputs the zonal / convolution / distance / slope tests use, so that
//! `tests/peer/zonal_refs.py` can run pygeoprocessing on the same files:
//!
//! ```text
//! cargo run -p pgp-ops --example zonal_peer_inputs -- DIR
//! python tests/peer/zonal_refs.py --data DIR --out tests/peer/zonal
//! ```

#[path = "../tests/common/zonal_inputs.rs"]
mod zonal_inputs;

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| {
        eprintln!("usage: zonal_peer_inputs DIR");
        std::process::exit(2)
    });
    for size in [300, 513] {
        let inputs = zonal_inputs::make(&std::path::Path::new(&dir).join(size.to_string()), size);
        println!("{}", inputs.dir.display());
    }
}
