//! Any text given as a size (`pgp cache gc --max-size`) parses or fails with an error naming it,
//! never a panic or an overflow; what parses is consistent with its unit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgp::graph::cache::parse_size;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_size(text) {
        Ok(bytes) => {
            // Without a unit the number is bytes; a plain integer parses to itself.
            if let Ok(n) = text.trim().parse::<u64>() {
                assert_eq!(bytes, n);
            }
        }
        Err(message) => assert!(message.contains(text), "{message}"),
    }
});
