//! pgp's LZW encoder writes exactly the bytes its previous version
//! wrote (kept in `support/lzw_dense.rs`), so every file, checksum and golden output pgp
//! produced before stays the same: on tiles of every pixel type and tile side pgp writes, filled
//! the way its outputs are (noisy floats, integer-valued floats, smooth surfaces, byte classes,
//! nodata-padded edges), and on random and low-entropy bytes (proptest).

#[path = "support/lzw_dense.rs"]
mod lzw_dense;

use lzw_dense::DenseLzwEncoder;
use pgp_core::tiles::LzwEncoder;
use proptest::prelude::*;

/// A seeded xorshift stream.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One tile's pixels as f64 values, in one of the shapes pgp's outputs take.
fn pixels(kind: usize, side: usize, seed: u64) -> Vec<f64> {
    let mut n = Noise(seed | 1);
    let valid = side * 3 / 4; // the rest is edge padding, as in a partial tile
    (0..side * side)
        .map(|i| {
            let (r, c) = ((i / side) as f64, (i % side) as f64);
            if kind != 0 && (i / side >= valid || i % side >= valid) {
                return 0.0;
            }
            match kind {
                0 => n.unit() * 1000.0 - 200.0,                   // noisy, full tile
                1 => (r * 0.7 + c * 0.3).sin() * 50.0 + n.unit(), // DEM-like
                2 => ((r - 40.0).hypot(c - 90.0) * 0.37).floor(), // distances, counts
                3 => ((r / 17.0).floor() * 7.0 + (c / 23.0).floor()) % 9.0, // classes
                _ => -9999.0,                                     // all nodata
            }
        })
        .collect()
}

/// The tile's bytes as the TIFF holds them (little-endian samples), for one pixel type.
fn tile_bytes(values: &[f64], type_index: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for &v in values {
        match type_index {
            0 => out.push(v as u8),
            1 => out.push(v as i8 as u8),
            2 => out.extend_from_slice(&(v as u16).to_le_bytes()),
            3 => out.extend_from_slice(&(v as i16).to_le_bytes()),
            4 => out.extend_from_slice(&(v as u32).to_le_bytes()),
            5 => out.extend_from_slice(&(v as i32).to_le_bytes()),
            6 => out.extend_from_slice(&(v as f32).to_le_bytes()),
            _ => out.extend_from_slice(&v.to_le_bytes()),
        }
    }
    out
}

#[test]
fn every_pixel_type_and_tile_side_encodes_as_before() {
    // One encoder of each kind for the whole test, as a worker reuses its own.
    let (mut new, mut old) = (LzwEncoder::new(), DenseLzwEncoder::new());
    let mut tiles = 0;
    for side in [16, 64, 128, 256, 512] {
        for kind in 0..5 {
            let values = pixels(kind, side, 7 + side as u64 * 31 + kind as u64);
            for type_index in 0..8 {
                let bytes = tile_bytes(&values, type_index);
                assert_eq!(
                    new.encode(&bytes),
                    old.encode(&bytes),
                    "tile {side}², shape {kind}, type {type_index}"
                );
                tiles += 1;
            }
        }
    }
    assert_eq!(tiles, 5 * 5 * 8);
}

#[test]
fn pixel_interleaved_bands_encode_as_before() {
    // The window example's output: 3 byte bands interleaved pixel by pixel, 128² tiles.
    let (mut new, mut old) = (LzwEncoder::new(), DenseLzwEncoder::new());
    let mut n = Noise(0x5eed);
    for tile in 0..8 {
        let bytes: Vec<u8> = (0..128 * 128 * 3)
            .map(|i| {
                let (p, b) = (i / 3, i % 3);
                let smooth = ((p / 128) as f64 / (40.0 + 13.0 * b as f64)).sin() * 60.0 + 128.0;
                (smooth + (n.next() % 41) as f64 - 20.0 + tile as f64).clamp(0.0, 255.0) as u8
            })
            .collect();
        assert_eq!(new.encode(&bytes), old.encode(&bytes), "tile {tile}");
    }
}

#[test]
fn empty_and_tiny_inputs_encode_as_before() {
    let (mut new, mut old) = (LzwEncoder::new(), DenseLzwEncoder::new());
    for input in [&[][..], &[0], &[255], &[1, 1], &[0, 1, 0, 1, 0, 1, 0]] {
        assert_eq!(new.encode(input), old.encode(input), "{input:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_bytes_encode_as_before(data in proptest::collection::vec(any::<u8>(), 0..40_000)) {
        prop_assert_eq!(LzwEncoder::new().encode(&data), DenseLzwEncoder::new().encode(&data));
    }

    #[test]
    fn low_entropy_bytes_encode_as_before(
        alphabet in proptest::collection::vec(any::<u8>(), 1..5),
        picks in proptest::collection::vec((0usize..4, 1usize..300), 0..600),
    ) {
        // Runs of a few symbols: long strings, many table hits, resets deep into a tile.
        let data: Vec<u8> = picks
            .iter()
            .flat_map(|&(s, run)| std::iter::repeat_n(alphabet[s % alphabet.len()], run))
            .collect();
        prop_assert_eq!(LzwEncoder::new().encode(&data), DenseLzwEncoder::new().encode(&data));
    }

    #[test]
    fn a_reused_encoder_encodes_as_before(
        inputs in proptest::collection::vec(
            proptest::collection::vec(prop_oneof![Just(0u8), Just(7u8), any::<u8>()], 0..12_000),
            1..6,
        ),
    ) {
        // Tables and buffers carried over from a longer or shorter previous tile change nothing.
        let (mut new, mut old) = (LzwEncoder::new(), DenseLzwEncoder::new());
        for data in &inputs {
            prop_assert_eq!(new.encode(data), old.encode(data));
        }
    }
}
