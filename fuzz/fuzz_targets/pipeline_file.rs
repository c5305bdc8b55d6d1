//! Any text read as a pipeline file loads or fails with an error naming the file (never a
//! panic or a stack overflow).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgp::pipeline::Pipeline;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = Pipeline::parse(std::path::Path::new("fuzz.toml"), text) {
        assert!(e.to_string().starts_with("fuzz.toml"), "{e}");
    }
});
