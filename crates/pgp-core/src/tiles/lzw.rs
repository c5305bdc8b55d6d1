//! TIFF's LZW compression (TIFF 6.0 section 13, with libtiff's "early change" code widths).
//!
//! Why our own: compressing the output is most of the cost of a block-wise operation, and
//! libtiff's encoder runs in GDAL's writing thread, probes a hash table and clears it (72 KB)
//! every ~4000 codes. This encoder runs on the executor's workers, block by block, looks strings
//! up in a dense table (one slot per prefix code and byte) and invalidates it by bumping a
//! generation number instead of clearing it. The bit stream follows libtiff's encoder code for
//! code (code widths, when the table is reset, what precedes the end code), so libtiff and
//! GDAL read it back; tests decode it with GDAL and with an independent decoder, and compare it
//! byte for byte with the previous encoder's.
//!
//! Why not a compact hash table (8-32K slots, L1/L2-resident): measured on this encoder's loop,
//! on noisy floats (most float rasters) a code leaves nearly every byte and the probing
//! mispredicts: 0.5-0.8x this dense table's speed. The dense table's misses on noisy data are
//! independent loads that overlap (the next prefix is the input byte, not the loaded entry).
//! Two threads cost it about 4 % per thread, against a compact table's 0 %.

const CLEAR: u32 = 256;
const EOI: u32 = 257;
const FIRST: u32 = 258;
const MIN_BITS: u32 = 9;
const MAX_BITS: u32 = 12;
/// libtiff's `CODE_MAX`: the largest code of `MAX_BITS` bits.
const CODE_MAX: u32 = (1 << MAX_BITS) - 1;
/// The table is reset when the next free code reaches this.
const RESET_AT: u32 = CODE_MAX - 1;

/// One slot per (next byte, prefix code): 256 x 4096. Byte-major, so the strings a run of
/// similar data keeps extending (recent codes, numerically close, followed by the same byte)
/// share cache lines: 2.4x faster than prefix-major on land-cover and distance rasters, the
/// same on noisy floats.
const TABLE_SIZE: usize = 1 << 20;
/// Slots store `generation << CODE_BITS | code`; a slot of another generation is empty.
const CODE_BITS: u32 = 12;
const CODE_MASK: u32 = (1 << CODE_BITS) - 1;
const MAX_GENERATION: u32 = (1 << (32 - CODE_BITS)) - 1;

/// An LZW encoder whose string table and output buffer are reused from call to call.
pub struct LzwEncoder {
    table: Vec<u32>,
    generation: u32,
    /// Room for the worst case, so that writing a code never grows a vector; each call's
    /// result is copied out at its exact size (tiles wait in queues; a 1.5x capacity would too).
    scratch: Vec<u8>,
}

impl Default for LzwEncoder {
    fn default() -> Self {
        LzwEncoder::new()
    }
}

/// MSB-first codes into a buffer with room for the worst case; bytes leave in groups of four.
struct BitWriter<'a> {
    out: &'a mut [u8],
    pos: usize,
    data: u64,
    bits: u32,
}

impl BitWriter<'_> {
    /// Append `code` in `width` bits, most significant first.
    #[inline(always)]
    fn put(&mut self, code: u32, width: u32) {
        self.data = (self.data << width) | u64::from(code);
        self.bits += width;
        if self.bits >= 32 {
            self.bits -= 32;
            let word = (self.data >> self.bits) as u32;
            self.out[self.pos..self.pos + 4].copy_from_slice(&word.to_be_bytes());
            self.pos += 4;
        }
    }

    /// The bytes written, the last one padded with zero bits.
    fn finish(mut self) -> usize {
        while self.bits >= 8 {
            self.bits -= 8;
            self.out[self.pos] = (self.data >> self.bits) as u8;
            self.pos += 1;
        }
        if self.bits > 0 {
            self.out[self.pos] = (self.data << (8 - self.bits)) as u8;
            self.pos += 1;
        }
        self.pos
    }
}

/// Room for the codes of `n` input bytes: at most one code per byte, a Clear every 3836 codes,
/// the first Clear, the last code and the end code, 12 bits each, and a few bytes to spare.
fn worst_case(n: usize) -> usize {
    (n + n / 2048 + 4) * 3 / 2 + 16
}

/// The free code at which the width next changes or the table is reset.
fn next_event(width: u32) -> u32 {
    if width == MAX_BITS {
        RESET_AT
    } else {
        1 << width
    }
}

impl LzwEncoder {
    /// A new encoder (its table is 4 MiB).
    pub fn new() -> LzwEncoder {
        LzwEncoder {
            table: vec![0; TABLE_SIZE],
            generation: 1,
            scratch: Vec::new(),
        }
    }

    /// Forget every string: one increment, and a real clear every million resets.
    fn reset(&mut self) {
        if self.generation == MAX_GENERATION {
            self.table.fill(0);
            self.generation = 1;
        } else {
            self.generation += 1;
        }
    }

    /// Compress `input` as one TIFF strip or tile.
    pub fn encode(&mut self, input: &[u8]) -> Vec<u8> {
        let need = worst_case(input.len());
        if self.scratch.len() < need {
            self.scratch.resize(need, 0);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let n = self.encode_into(input, &mut scratch);
        let bytes = scratch[..n].to_vec();
        self.scratch = scratch;
        bytes
    }

    /// Encode into `out` (at least `worst_case` bytes); the length written.
    fn encode_into(&mut self, input: &[u8], out: &mut [u8]) -> usize {
        let mut w = BitWriter {
            out,
            pos: 0,
            data: 0,
            bits: 0,
        };
        let Some((&first, rest)) = input.split_first() else {
            w.put(CLEAR, MIN_BITS);
            w.put(EOI, MIN_BITS);
            return w.finish();
        };
        self.reset();
        let mut width = MIN_BITS;
        // One comparison per code for both the next width change and the reset.
        let mut event = next_event(width);
        let mut free = FIRST;
        w.put(CLEAR, width);
        let mut prefix = u32::from(first);
        let mut generation = self.generation;
        for &byte in rest {
            let slot = ((usize::from(byte) << 12) | prefix as usize) & (TABLE_SIZE - 1);
            let entry = self.table[slot];
            if entry >> CODE_BITS == generation {
                prefix = entry & CODE_MASK;
                continue;
            }
            w.put(prefix, width);
            prefix = u32::from(byte);
            self.table[slot] = (generation << CODE_BITS) | free;
            free += 1;
            if free >= event {
                if free == RESET_AT {
                    w.put(CLEAR, width);
                    self.reset();
                    generation = self.generation;
                    free = FIRST;
                    width = MIN_BITS;
                } else {
                    width += 1;
                }
                event = next_event(width);
            }
        }
        // The decoder adds one more entry after the last code, and may widen before the end
        // code, exactly as libtiff's LZWPostEncode expects.
        w.put(prefix, width);
        free += 1;
        if free == RESET_AT {
            w.put(CLEAR, width);
            width = MIN_BITS;
        } else if free >= next_event(width) {
            width += 1;
        }
        w.put(EOI, width);
        debug_assert!(width <= MAX_BITS);
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An independent decoder, written from the TIFF 6.0 text (not from the encoder above).
    fn decode(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut table: Vec<Vec<u8>> = Vec::new();
        let reset = |t: &mut Vec<Vec<u8>>| {
            t.clear();
            for b in 0..=255u8 {
                t.push(vec![b]);
            }
            t.push(Vec::new());
            t.push(Vec::new());
        };
        reset(&mut table);
        let (mut pos, mut width) = (0usize, 9u32);
        let mut read = |width: u32| -> Option<u32> {
            let mut v = 0u32;
            for _ in 0..width {
                let byte = *data.get(pos / 8)?;
                v = (v << 1) | u32::from((byte >> (7 - pos % 8)) & 1);
                pos += 1;
            }
            Some(v)
        };
        let mut old: Option<u32> = None;
        while let Some(code) = read(width) {
            if code == EOI {
                break;
            }
            if code == CLEAR {
                reset(&mut table);
                width = 9;
                old = None;
                continue;
            }
            let entry = if (code as usize) < table.len() {
                table[code as usize].clone()
            } else {
                let mut e =
                    table[old.expect("first code after clear is a literal") as usize].clone();
                e.push(e[0]);
                e
            };
            out.extend_from_slice(&entry);
            if let Some(o) = old {
                let mut e = table[o as usize].clone();
                e.push(entry[0]);
                table.push(e);
            }
            old = Some(code);
            // Early change: widen one code before the table fills the current width.
            if table.len() + 1 >= (1 << width) && width < 12 {
                width += 1;
            }
        }
        out
    }

    #[test]
    fn empty_and_one_byte_inputs() {
        let mut e = LzwEncoder::new();
        assert_eq!(decode(&e.encode(&[])), Vec::<u8>::new());
        assert_eq!(decode(&e.encode(&[7])), vec![7]);
    }

    #[test]
    fn long_runs_fill_the_table_and_reset_it() {
        let mut e = LzwEncoder::new();
        // Incompressible bytes fill the 4094-entry table about every 4000 bytes.
        let mut x = 12345u32;
        let noise: Vec<u8> = (0..300_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        assert_eq!(decode(&e.encode(&noise)), noise);
        let zeros = vec![0u8; 1 << 20];
        let packed = e.encode(&zeros);
        assert!(packed.len() < zeros.len() / 100, "{}", packed.len());
        assert_eq!(decode(&packed), zeros);
    }

    #[test]
    fn every_table_size_at_the_end_round_trips() {
        // Inputs ending just before, at and after each width change and the table reset, so
        // the end-of-data handling (one more entry, maybe a wider end code) is exercised.
        let mut e = LzwEncoder::new();
        let mut x = 99u32;
        let noise: Vec<u8> = (0..9000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        for len in (1..9000).step_by(5) {
            let input = &noise[..len];
            assert_eq!(decode(&e.encode(input)), input, "length {len}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(data in proptest::collection::vec(
            prop_oneof![Just(0u8), Just(1u8), any::<u8>()], 0..20_000)) {
            let mut e = LzwEncoder::new();
            prop_assert_eq!(decode(&e.encode(&data)), data.clone());
            // The reused table gives the same bytes as a fresh one.
            prop_assert_eq!(e.encode(&data), LzwEncoder::new().encode(&data));
        }
    }
}
