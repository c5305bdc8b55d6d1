//! Write the inputs of the pygeoprocessing references (see `tests/peer/make_refs.py`):
//! `cargo run -p pgp-ops --example peer_inputs -- <dir>`.

#[path = "../tests/peer/inputs.rs"]
mod inputs;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "peer_inputs".to_string());
    for size in inputs::SIZES {
        let out = inputs::write_inputs(std::path::Path::new(&dir), size);
        println!("{}", out.display());
    }
}
