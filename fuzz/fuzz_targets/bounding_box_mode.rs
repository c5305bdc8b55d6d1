//! Any text given as a bounding box mode (`pgp align --bounding-box`, `bounding_box_mode` in a
//! pipeline file) parses or fails with an error naming the argument, never a panic; what parses
//! prints back as text that parses to the same mode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgp::ops::BoundingBoxMode;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match text.parse::<BoundingBoxMode>() {
        Ok(mode) => {
            let printed = mode.to_string();
            let again: BoundingBoxMode = printed
                .parse()
                .unwrap_or_else(|e| panic!("{printed:?} was printed but does not parse: {e}"));
            // Compared as text: NaN edges are not equal to themselves.
            assert_eq!(again.to_string(), printed);
        }
        Err(error) => assert!(error.to_string().contains("bounding_box_mode"), "{error}"),
    }
});
