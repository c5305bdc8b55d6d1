//! TIFF LZW decoding of one whole tile into its buffer, as libtiff decodes it.
//!
//! libtiff (and `weezl`, measured at about half libtiff's speed) walk each code's chain of
//! prefixes byte by byte. Decoding a whole tile into one buffer allows better: every table
//! entry's string already lies in that buffer (where its prefix was written, plus the next
//! byte), so an entry is an offset and a length, and a code is one copy. The buffer starts with
//! the 256 single bytes, so that literal codes are entries like the others, and ends with room
//! for one more string, so that no copy is ever clipped: the loop has almost no branches.
//!
//! The stream: MSB-first codes of 9 to 12 bits, Clear 256, EndOfInformation 257, the code width
//! growing one code early (when the next free code is `2^width - 1`), as libtiff writes.

const CLEAR: usize = 256;
const EOI: usize = 257;
const FIRST: usize = 258;
const TABLE: usize = 4096;
/// Room past the end of the output: the longest string, plus one wide copy.
const SLACK: usize = TABLE + 16;

thread_local! {
    static WORK: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Decode `raw` into `out`, filling it exactly; a reason when the stream is corrupt or ends
/// before `out` is full. Bytes past what `out` holds are ignored, as libtiff does.
pub(super) fn decode(raw: &[u8], out: &mut [u8]) -> Result<(), String> {
    WORK.with(|work| {
        let mut buf = work.borrow_mut();
        buf.resize(256 + out.len() + SLACK, 0);
        let end = decode_in(raw, &mut buf, 256 + out.len())?;
        if end < 256 + out.len() {
            return Err(format!(
                "LZW stream ends after {} of {} bytes",
                end - 256,
                out.len()
            ));
        }
        out.copy_from_slice(&buf[256..256 + out.len()]);
        Ok(())
    })
}

/// Decode into `buf[256..]` until `end` is reached or the stream ends; where it stopped.
fn decode_in(raw: &[u8], buf: &mut [u8], end: usize) -> Result<usize, String> {
    // Each entry: where its string starts in `buf`, and its length.
    let mut table = vec![(0u32, 0u32); TABLE].into_boxed_slice();
    let table: &mut [(u32, u32); TABLE] = match (&mut *table).try_into() {
        Ok(t) => t,
        Err(_) => return Err("LZW table".into()),
    };
    for (c, e) in table.iter_mut().enumerate().take(256) {
        buf[c] = c as u8;
        *e = (c as u32, 1);
    }
    let mut bits = BitReader::new(raw);
    if bits.read(9).map(usize::from) != Some(CLEAR) {
        return Err("LZW stream does not start with a Clear code".into());
    }
    let mut next = FIRST;
    let mut width = 9u32;
    // The previous code's string (start, length); length 0 right after a Clear.
    let (mut ps, mut pl) = (0usize, 0usize);
    let mut pos = 256usize;
    while pos < end {
        let Some(code) = bits.read(width) else {
            break; // libtiff takes a stream without EndOfInformation as ended
        };
        let c = usize::from(code);
        if c >= CLEAR && (c <= EOI || pl == 0) {
            if c == CLEAR {
                next = FIRST;
                width = 9;
                pl = 0;
                continue;
            }
            if c == EOI {
                break;
            }
            return Err(format!("LZW code {c} right after a Clear code"));
        }
        let l;
        if c < next {
            let (from, len) = table[c & (TABLE - 1)];
            let (from, len) = (from as usize, len as usize);
            l = len;
            // Entries are spans written before `pos` (from + len <= pos), at most TABLE long,
            // and `pos < end` with SLACK bytes after `end`: the copy stays inside `buf`.
            if from + len > pos || pos + len > buf.len() {
                return Err(format!("LZW table entry {c} is corrupt"));
            }
            let (head, tail) = buf.split_at_mut(pos);
            let src = &head[from..from + len];
            let dst = &mut tail[..len];
            if len <= 8 {
                for (d, s) in dst.iter_mut().zip(src) {
                    *d = *s;
                }
            } else {
                dst.copy_from_slice(src);
            }
        } else if c == next {
            // The string being defined: the previous one plus its own first byte.
            l = pl + 1;
            buf.copy_within(ps..ps + pl, pos);
            buf[pos + pl] = buf[ps];
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
        pos += l;
    }
    Ok(pos.min(end))
}

/// MSB-first codes of a byte slice: each read is one unaligned 4-byte load, no refill state.
struct BitReader<'a> {
    bytes: &'a [u8],
    /// Bits consumed.
    at: usize,
}

impl<'a> BitReader<'a> {
    fn new(bytes: &'a [u8]) -> BitReader<'a> {
        BitReader { bytes, at: 0 }
    }

    #[inline]
    fn read(&mut self, width: u32) -> Option<u16> {
        if self.at + width as usize > self.bytes.len() * 8 {
            return None;
        }
        let byte = self.at >> 3;
        let word = match self.bytes.get(byte..byte + 4) {
            Some(w) => u32::from_be_bytes([w[0], w[1], w[2], w[3]]),
            None => {
                let mut a = [0u8; 4];
                for (i, b) in self.bytes[byte..].iter().enumerate() {
                    a[i] = *b;
                }
                u32::from_be_bytes(a)
            }
        };
        let code = (word << (self.at & 7)) >> (32 - width);
        self.at += width as usize;
        Some(code as u16)
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
