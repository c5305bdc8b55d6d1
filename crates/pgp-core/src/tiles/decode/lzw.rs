//! TIFF LZW decoding of one whole tile into its buffer, as libtiff decodes it.
//!
//! libtiff (and `weezl`, measured at about half libtiff's speed) walk each code's chain of
//! prefixes byte by byte. Decoding a whole tile into one buffer allows better: every table
//! entry's string already lies in the output (where its prefix was written, plus the next
//! byte), so an entry is an offset and a length, and a code is one copy.
//!
//! The stream: MSB-first codes of 9 to 12 bits, Clear 256, EndOfInformation 257, the code width
//! growing one code early (when the next free code is `2^width - 1`), as libtiff writes.

const CLEAR: u16 = 256;
const EOI: u16 = 257;
const FIRST: usize = 258;
const TABLE: usize = 4096;

/// Decode `raw` into `out`, filling it exactly; a reason when the stream is corrupt or ends
/// before `out` is full. Bytes past what `out` holds are ignored, as libtiff does.
pub(super) fn decode(raw: &[u8], out: &mut [u8]) -> Result<(), String> {
    // Each entry: where its string starts in `out`, and its length.
    let mut table = vec![(0u32, 0u32); TABLE];
    let mut bits = BitReader::new(raw);
    let mut next = FIRST;
    let mut width = 9u32;
    // The previous code's string in `out` (start, length); length 0 right after a Clear.
    let (mut ps, mut pl) = (0usize, 0usize);
    let mut pos = 0usize;
    let end = out.len();
    let mut cleared = false;
    while pos < end {
        let Some(code) = bits.read(width) else {
            break; // libtiff takes a stream without EndOfInformation as ended
        };
        let c = usize::from(code);
        let l;
        if c < 256 {
            if !cleared {
                return Err("LZW stream does not start with a Clear code".into());
            }
            out[pos] = code as u8;
            l = 1;
        } else if c >= FIRST && c < next && pl > 0 {
            let (from, len) = table[c];
            let (from, len) = (from as usize, len as usize);
            l = len;
            if len <= 16 && from + 16 <= end && pos + 16 <= end {
                // One 16-byte copy; what lands past the string is overwritten later (the
                // string itself lies wholly before `pos`).
                let mut v = [0u8; 16];
                v.copy_from_slice(&out[from..from + 16]);
                out[pos..pos + 16].copy_from_slice(&v);
            } else {
                let n = len.min(end - pos);
                out.copy_within(from..from + n, pos);
            }
        } else if c == next && pl > 0 {
            // The string being defined: the previous one plus its own first byte.
            l = pl + 1;
            let n = l.min(end - pos);
            out.copy_within(ps..ps + pl.min(n), pos);
            if n > pl {
                out[pos + pl] = out[ps];
            }
        } else if code == CLEAR {
            next = FIRST;
            width = 9;
            pl = 0;
            cleared = true;
            continue;
        } else if code == EOI {
            break;
        } else if !cleared {
            return Err("LZW stream does not start with a Clear code".into());
        } else if pl == 0 {
            return Err(format!("LZW code {c} right after a Clear code"));
        } else {
            return Err(format!("LZW code {c} beyond the table's {next} entries"));
        }
        if pl > 0 && next < TABLE {
            table[next] = (ps as u32, (pl + 1) as u32);
            next += 1;
            if next == (1 << width) - 1 && width < 12 {
                width += 1;
            }
        }
        ps = pos;
        pl = l;
        pos += l.min(end - pos);
    }
    if pos < end {
        return Err(format!("LZW stream ends after {pos} of {end} bytes"));
    }
    Ok(())
}

/// MSB-first bits of a byte slice.
struct BitReader<'a> {
    bytes: &'a [u8],
    at: usize,
    buf: u64,
    held: u32,
}

impl<'a> BitReader<'a> {
    fn new(bytes: &'a [u8]) -> BitReader<'a> {
        BitReader {
            bytes,
            at: 0,
            buf: 0,
            held: 0,
        }
    }

    #[inline]
    fn read(&mut self, width: u32) -> Option<u16> {
        if self.held < width {
            self.refill();
            if self.held < width {
                return None;
            }
        }
        let code = (self.buf >> (64 - width)) as u16;
        self.buf <<= width;
        self.held -= width;
        Some(code)
    }

    #[inline]
    fn refill(&mut self) {
        if let Some(word) = self.bytes.get(self.at..self.at + 8) {
            // Take whole bytes while they fit in the 64-bit buffer.
            let mut a = [0u8; 8];
            a.copy_from_slice(word);
            let take = (64 - self.held) / 8;
            let fresh = u64::from_be_bytes(a) >> (64 - 8 * take);
            self.buf |= fresh << (64 - self.held - 8 * take);
            self.held += 8 * take;
            self.at += take as usize;
        } else {
            while self.held <= 56 && self.at < self.bytes.len() {
                self.buf |= u64::from(self.bytes[self.at]) << (56 - self.held);
                self.held += 8;
                self.at += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::LzwEncoder;

    #[test]
    fn decodes_what_the_tiff_encoder_writes() {
        let mut x = 7u32;
        let cases: Vec<Vec<u8>> = vec![
            vec![0; 70_000],
            (0..70_000u32).map(|i| (i % 7) as u8).collect(),
            (0..70_000u32)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 24) as u8 & 0x0F
                })
                .collect(),
            vec![1, 1, 1, 1, 1, 1],
            vec![9],
        ];
        let mut enc = LzwEncoder::new();
        for data in cases {
            let encoded = enc.encode(&data);
            let mut out = vec![0u8; data.len()];
            decode(&encoded, &mut out).unwrap();
            assert_eq!(out, data);
            // A shorter buffer takes the first bytes; a longer one is an error.
            let mut head = vec![0u8; data.len() / 2];
            decode(&encoded, &mut head).unwrap();
            assert_eq!(head, data[..data.len() / 2]);
            let mut more = vec![0u8; data.len() + 1];
            assert!(decode(&encoded, &mut more).is_err());
        }
    }

    #[test]
    fn corrupt_streams_are_errors() {
        let mut out = vec![0u8; 64];
        // No Clear first; a code past the table right after a Clear.
        assert!(decode(&[0x00, 0x40, 0x20], &mut out).is_err());
        assert!(decode(&[0x80, 0x40, 0x20, 0x10], &mut out).is_err());
        assert!(decode(&[], &mut out).is_err());
    }
}
