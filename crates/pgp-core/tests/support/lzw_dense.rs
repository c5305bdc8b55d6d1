//! pgp's previous TIFF-LZW encoder, kept unchanged as the reference the current one must match
//! byte for byte (tests) and the baseline it is timed against (the `lzw` bench). The same dense
//! table (one slot per (byte, prefix code): 4 MiB, invalidated by a generation number); the
//! current encoder differs in its loop and bit writer.

const CLEAR: u16 = 256;
const EOI: u16 = 257;
const FIRST: u16 = 258;
const MIN_BITS: u32 = 9;
const MAX_BITS: u32 = 12;
/// libtiff's `CODE_MAX`: the largest code of `MAX_BITS` bits.
const CODE_MAX: u16 = (1 << MAX_BITS) - 1;

/// One slot per (next byte, prefix code): 256 x 4096. Byte-major, so the strings a run of
/// similar data keeps extending (recent codes, numerically close, followed by the same byte)
/// share cache lines: 2.4x faster than prefix-major on land-cover and distance rasters, the
/// same on noisy floats.
const TABLE_SIZE: usize = 1 << 20;
/// Slots store `generation << CODE_BITS | code`; a slot of another generation is empty.
const CODE_BITS: u32 = 12;
const CODE_MASK: u32 = (1 << CODE_BITS) - 1;
const MAX_GENERATION: u32 = (1 << (32 - CODE_BITS)) - 1;

/// An LZW encoder whose string table is reused from call to call.
pub struct DenseLzwEncoder {
    table: Vec<u32>,
    generation: u32,
}

impl Default for DenseLzwEncoder {
    fn default() -> Self {
        DenseLzwEncoder::new()
    }
}

struct BitWriter {
    out: Vec<u8>,
    data: u64,
    bits: u32,
}

impl BitWriter {
    /// Append `code` in `width` bits, most significant first; bytes leave in groups of four.
    #[inline]
    fn put(&mut self, code: u16, width: u32) {
        self.data = (self.data << width) | u64::from(code);
        self.bits += width;
        if self.bits >= 32 {
            self.bits -= 32;
            let word = (self.data >> self.bits) as u32;
            self.out.extend_from_slice(&word.to_be_bytes());
        }
    }

    fn finish(mut self) -> Vec<u8> {
        while self.bits >= 8 {
            self.bits -= 8;
            self.out.push((self.data >> self.bits) as u8);
        }
        if self.bits > 0 {
            self.out.push((self.data << (8 - self.bits)) as u8);
        }
        self.out
    }
}

impl DenseLzwEncoder {
    /// A new encoder (its table is 4 MiB).
    pub fn new() -> DenseLzwEncoder {
        DenseLzwEncoder {
            table: vec![0; TABLE_SIZE],
            generation: 1,
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
        let mut w = BitWriter {
            // Incompressible data grows by a few percent; avoid reallocating in that case.
            out: Vec::with_capacity(input.len() + input.len() / 8 + 64),
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
        let mut max_code: u16 = (1 << MIN_BITS) - 1;
        let mut free = FIRST;
        w.put(CLEAR, width);
        let mut prefix = u16::from(first);
        let mut generation = self.generation;
        for &byte in rest {
            let slot = ((usize::from(byte) << 12) | usize::from(prefix)) & (TABLE_SIZE - 1);
            let entry = self.table[slot];
            if entry >> CODE_BITS == generation {
                prefix = (entry & CODE_MASK) as u16;
                continue;
            }
            w.put(prefix, width);
            prefix = u16::from(byte);
            self.table[slot] = (generation << CODE_BITS) | u32::from(free);
            free += 1;
            if free == CODE_MAX - 1 {
                w.put(CLEAR, width);
                self.reset();
                generation = self.generation;
                free = FIRST;
                width = MIN_BITS;
                max_code = (1 << MIN_BITS) - 1;
            } else if free > max_code {
                width += 1;
                max_code = (1 << width) - 1;
            }
        }
        // The decoder adds one more entry after the last code, and may widen before the end
        // code, exactly as libtiff's LZWPostEncode expects.
        w.put(prefix, width);
        free += 1;
        if free == CODE_MAX - 1 {
            w.put(CLEAR, width);
            width = MIN_BITS;
        } else if free > max_code {
            width += 1;
        }
        w.put(EOI, width);
        debug_assert!(width <= MAX_BITS);
        w.finish()
    }
}
