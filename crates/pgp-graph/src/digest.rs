//! BLAKE3 digests of bytes and files.
//!
//! BLAKE3 rather than SHA-256: a rerun of a copied project, a restore from the shared cache and
//! `pgp cache verify` all read every byte of their files once, and BLAKE3 hashes those bytes
//! several times faster per core (its SIMD kernels use AVX-512 where present).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// A 256-bit BLAKE3 digest: of a file's content, of a task's arguments, or a task key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The digest of a byte slice.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Digest(*blake3::hash(bytes).as_bytes())
    }

    /// Lower-case hexadecimal form (64 characters).
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            s.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
        }
        s
    }

    /// Parses the [`Digest::to_hex`] form (64 hex characters, either case).
    pub fn from_hex(hex: &str) -> Option<Digest> {
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let nibble = |c: u8| char::from(c).to_digit(16);
            out[i] = u8::try_from(nibble(pair[0])? * 16 + nibble(pair[1])?).ok()?;
        }
        Some(Digest(out))
    }

    /// The first `n` hex characters, for short display names.
    pub fn short_hex(&self, n: usize) -> String {
        let mut s = self.to_hex();
        s.truncate(n.min(64));
        s
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.short_hex(16))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Read size of [`hash_file`]: small enough that what the kernel copies is still in the CPU's L2
/// cache when BLAKE3 reads it, large enough that system calls cost nothing next to the hashing
/// (and a multiple of BLAKE3's 16 KiB SIMD batch).
const HASH_CHUNK: usize = 256 << 10;

/// Streams a file through BLAKE3, in chunks, so big rasters do not sit in memory. Plain reads,
/// not a memory map: a file truncated by someone else while it is mapped would kill the process
/// (SIGBUS) instead of giving an error.
pub fn hash_file(path: &Path) -> io::Result<Digest> {
    let mut file = File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; HASH_CHUNK];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
    }
    Ok(Digest(*hasher.finalize().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_digest_equals_bytes_digest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        assert_eq!(hash_file(&p).unwrap(), Digest::of_bytes(&data));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Whatever the length, and wherever the reads end, the streamed digest is the digest.
        #[test]
        fn file_digest_at_any_length_around_the_chunk_size(
            chunks in 0usize..3,
            offset in -3i64..4,
            seed in 0u8..=255,
        ) {
            let len = (chunks * HASH_CHUNK) as i64 + offset;
            let len = usize::try_from(len.max(0)).unwrap();
            let data: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect();
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("f");
            std::fs::write(&p, &data).unwrap();
            proptest::prop_assert_eq!(hash_file(&p).unwrap(), Digest::of_bytes(&data));
        }
    }

    proptest::proptest! {
        /// Hex prints and parses back; anything else than 64 hex digits is refused.
        #[test]
        fn hex_round_trips(bytes in proptest::array::uniform32(0u8..), cut in 0usize..64) {
            let d = Digest(bytes);
            proptest::prop_assert_eq!(Digest::from_hex(&d.to_hex()), Some(d));
            proptest::prop_assert_eq!(Digest::from_hex(&d.to_hex().to_uppercase()), Some(d));
            proptest::prop_assert_eq!(Digest::from_hex(&d.to_hex()[..cut]), None);
            let mut bad = d.to_hex();
            bad.replace_range(cut..=cut, "g");
            proptest::prop_assert_eq!(Digest::from_hex(&bad), None);
        }
    }

    #[test]
    fn hex_of_known_vectors() {
        // BLAKE3 test vectors (the reference implementation's test_vectors.json): the empty
        // input, and the 1-byte input 0x00.
        assert_eq!(
            Digest::of_bytes(b"").to_hex(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        assert_eq!(
            Digest::of_bytes(&[0]).to_hex(),
            "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"
        );
    }
}
