//! Any bytes given as a TIFF: the directory parser and the tile decoders (LZW, DEFLATE, none;
//! predictors 2 and 3; either byte order; TIFF and BigTIFF) return a layout, `None` or an
//! error naming the file, never a panic, and never allocate more than the file or one tile
//! needs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgp::core::tiles::decode::TiffTiles;
use pgp::core::{Error, Window};

fuzz_target!(|data: &[u8]| {
    let tiles = match TiffTiles::from_source("fuzzed.tif", Box::new(data.to_vec())) {
        Ok(Some(t)) => t,
        Ok(None) => return,
        Err(e) => {
            assert!(e.to_string().contains("fuzzed.tif"), "{e}");
            return;
        }
    };
    let (cols, rows) = tiles.size();
    let (tw, th) = tiles.tile_size();
    // One tile at a time, as the runtime's smallest windows; huge tiles would only test memory.
    if tw.saturating_mul(th) > 1 << 20 {
        return;
    }
    let corners = [(0, 0), (cols.saturating_sub(1) / tw * tw, rows.saturating_sub(1) / th * th)];
    for band in 1..=tiles.band_count().min(3) {
        for (x, y) in corners {
            let w = Window::new(x, y, tw.min(cols - x), th.min(rows - y));
            match tiles.read_window(band, w) {
                Ok(Some(block)) => assert_eq!(block.shape(), w.shape()),
                Ok(None) => {}
                Err(e @ Error::CorruptTiff { .. }) => {
                    assert!(e.to_string().contains("fuzzed.tif"), "{e}")
                }
                Err(e) => panic!("unexpected error kind: {e:?}"),
            }
        }
    }
});
