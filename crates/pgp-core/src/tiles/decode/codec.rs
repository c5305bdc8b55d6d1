//! One tile's bytes to native-endian pixels: decompression (none, LZW, DEFLATE), then the
//! byte order and predictor undone exactly as libtiff does it, so that the pixels are GDAL's.

use std::cell::RefCell;

use libdeflater::Decompressor;

/// Compression tags understood.
pub(super) const NONE: u16 = 1;
pub(super) const LZW: u16 = 5;
pub(super) const DEFLATE: u16 = 8;
pub(super) const DEFLATE_OLD: u16 = 32946;

thread_local! {
    static INFLATE: RefCell<Decompressor> = RefCell::new(Decompressor::new());
    static ROW: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// How one tile was stored.
#[derive(Debug, Clone, Copy)]
pub(super) struct TileCoding {
    pub compression: u16,
    pub predictor: u16,
    pub big_endian: bool,
    /// Bytes per sample.
    pub sample: usize,
    /// Samples per tile row.
    pub row: usize,
}

/// Decode `raw` into `out`, which must be exactly one tile's size; on error, a reason.
pub(super) fn decode_tile(coding: TileCoding, raw: &[u8], out: &mut [u8]) -> Result<(), String> {
    match coding.compression {
        NONE => {
            // libtiff reads the first bytes of a longer tile and refuses a shorter one.
            let Some(head) = raw.get(..out.len()) else {
                return Err(short(raw.len(), out.len()));
            };
            out.copy_from_slice(head);
        }
        LZW => lzw(raw, out)?,
        DEFLATE | DEFLATE_OLD => inflate(raw, out)?,
        c => return Err(format!("compression {c}")),
    }
    let swap = coding.big_endian != cfg!(target_endian = "big") && coding.sample > 1;
    match coding.predictor {
        1 | 2 => {
            if swap {
                swap_bytes(out, coding.sample);
            }
            if coding.predictor == 2 {
                horizontal(out, coding.sample, coding.row);
            }
        }
        // The floating-point predictor leaves the bytes in native order whatever the file's.
        3 => floating(out, coding.sample, coding.row),
        p => return Err(format!("predictor {p}")),
    }
    Ok(())
}

fn short(got: usize, want: usize) -> String {
    format!("{got} bytes where the tile needs {want}")
}

fn lzw(raw: &[u8], out: &mut [u8]) -> Result<(), String> {
    // libtiff's pre-1995 bit-reversed LZW starts so; rare, and GDAL's path reads it.
    if raw.len() >= 2 && raw[0] == 0 && raw[1] & 1 == 1 {
        return Err("old-style LZW".into());
    }
    super::lzw::decode(raw, out)
}

fn inflate(raw: &[u8], out: &mut [u8]) -> Result<(), String> {
    INFLATE.with(|d| {
        // A stream longer than the tile is an error here (libdeflate promises nothing about
        // the buffer then); GDAL's path reads such rare tiles.
        let filled = d
            .borrow_mut()
            .zlib_decompress(raw, out)
            .map_err(|e| format!("DEFLATE: {e}"))?;
        if filled < out.len() {
            return Err(format!(
                "DEFLATE stream ends after {filled} of {} bytes",
                out.len()
            ));
        }
        Ok(())
    })
}

fn swap_bytes(buf: &mut [u8], width: usize) {
    for s in buf.chunks_exact_mut(width) {
        s.reverse();
    }
}

/// Undo TIFF predictor 2: each sample of a row is stored as its difference from the previous
/// one, as an unsigned integer of the sample's width (wrapping), in native order by now.
fn horizontal(buf: &mut [u8], width: usize, row: usize) {
    macro_rules! accumulate {
        ($t:ty) => {{
            const W: usize = std::mem::size_of::<$t>();
            for line in buf.chunks_exact_mut(row * W) {
                let mut acc: $t = 0;
                for s in line.chunks_exact_mut(W) {
                    let mut a = [0u8; W];
                    a.copy_from_slice(s);
                    acc = acc.wrapping_add(<$t>::from_ne_bytes(a));
                    s.copy_from_slice(&acc.to_ne_bytes());
                }
            }
        }};
    }
    match width {
        1 => accumulate!(u8),
        2 => accumulate!(u16),
        4 => accumulate!(u32),
        _ => accumulate!(u64),
    }
}

/// Undo TIFF predictor 3: a row holds each byte plane of its samples (most significant plane
/// first) differenced byte by byte; add up, then interleave the planes back into samples.
fn floating(buf: &mut [u8], width: usize, row: usize) {
    ROW.with(|tmp| {
        let mut tmp = tmp.borrow_mut();
        tmp.resize(row * width, 0);
        for line in buf.chunks_exact_mut(row * width) {
            let mut acc = 0u8;
            for b in line.iter_mut() {
                acc = acc.wrapping_add(*b);
                *b = acc;
            }
            tmp.copy_from_slice(line);
            for (i, s) in line.chunks_exact_mut(width).enumerate() {
                for (byte, v) in s.iter_mut().enumerate() {
                    // Plane 0 is the most significant byte.
                    let plane = if cfg!(target_endian = "big") {
                        byte
                    } else {
                        width - 1 - byte
                    };
                    *v = tmp[plane * row + i];
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floating_predictor_round_trips_a_row() {
        // Encode two rows of f32 as libtiff's fpDiff does, then decode.
        let values = [1.5f32, -2.25, 3.0e10, f32::NAN, 0.0, 7.0];
        let row = 3;
        let mut encoded = Vec::new();
        for line in values.chunks(row) {
            let mut planes = vec![0u8; row * 4];
            for (i, v) in line.iter().enumerate() {
                for (p, b) in v.to_be_bytes().iter().enumerate() {
                    planes[p * row + i] = *b;
                }
            }
            for i in (1..planes.len()).rev() {
                planes[i] = planes[i].wrapping_sub(planes[i - 1]);
            }
            encoded.extend(planes);
        }
        floating(&mut encoded, 4, row);
        let back: Vec<u32> = encoded
            .chunks_exact(4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let want: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
        assert_eq!(back, want);
    }

    #[test]
    fn short_streams_are_errors() {
        let coding = TileCoding {
            compression: LZW,
            predictor: 1,
            big_endian: false,
            sample: 1,
            row: 16,
        };
        let mut out = vec![0u8; 256];
        assert!(decode_tile(coding, &[0x80], &mut out).is_err());
        let none = TileCoding {
            compression: NONE,
            ..coding
        };
        assert!(decode_tile(none, &[0u8; 255], &mut out).is_err());
        let zip = TileCoding {
            compression: DEFLATE,
            ..coding
        };
        assert!(decode_tile(zip, &[0x78, 0x9c, 0x03, 0x00], &mut out).is_err());
    }
}
