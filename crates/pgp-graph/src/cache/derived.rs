//! Small files derived from a blob (the run report's thumbnails of an output), kept in the store
//! beside it: a project that restores the blob finds them too instead of making them again from
//! the restored bytes. Each is filed under the blob's digest and a *kind* (what it is and how it
//! was made, e.g. `thumb-v2-256.png`), framed (magic, version, checksum) so damage is detected
//! and never served, and removed by `gc` once its blob is gone.

use super::{files, Cache};
use crate::digest::Digest;
use crate::fsutil::{frame, unframe};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

const DERIVED_MAGIC: &[u8; 8] = b"PGPCDER\0";
const DERIVED_VERSION: u32 = 1;
/// The store's directory of derived files.
pub(super) const DERIVED_DIR: &str = "derived";

/// Whether `kind` can be part of a file name as it is: letters, digits, `.`, `-`, `_`.
fn valid_kind(kind: &str) -> bool {
    !kind.is_empty()
        && !kind.starts_with('.')
        && kind
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// The blob hex a derived file's name starts with (`<blob hex>.<kind>`).
pub(super) fn blob_hex_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let (hex, _) = name.split_once('.')?;
    Some(hex.to_string())
}

/// Whether a derived file decodes.
pub(super) fn intact(path: &Path) -> bool {
    fs::read(path).is_ok_and(|b| unframe(DERIVED_MAGIC, DERIVED_VERSION, &b).is_ok())
}

impl Cache {
    /// Where the file of `kind` derived from the blob of `of` lives.
    pub fn derived_path(&self, of: &Digest, kind: &str) -> PathBuf {
        let hex = of.to_hex();
        self.root
            .join(DERIVED_DIR)
            .join(&hex[..2])
            .join(format!("{hex}.{kind}"))
    }

    /// The bytes of the file of `kind` derived from the blob of `of`, if the store holds an
    /// intact one. A damaged one is removed (when we may) and is a miss.
    pub fn derived(&self, of: &Digest, kind: &str) -> Option<Vec<u8>> {
        if !valid_kind(kind) {
            return None;
        }
        let path = self.derived_path(of, kind);
        let bytes = fs::read(&path).ok()?;
        match unframe(DERIVED_MAGIC, DERIVED_VERSION, &bytes) {
            Ok(payload) => Some(payload.to_vec()),
            Err(_) => {
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// Keeps `bytes` as the file of `kind` derived from the blob of `of`: written under a
    /// temporary name and renamed into place, so readers see all of it or nothing, and two
    /// writers of the same file leave one of their (identical) copies. Not fsynced: one torn by
    /// a power failure fails its checksum and is made again, and a run that draws a thousand
    /// thumbnails should not wait for two thousand fsyncs.
    pub fn add_derived(&self, of: &Digest, kind: &str, bytes: &[u8]) -> io::Result<()> {
        if !valid_kind(kind) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("derived file kind '{kind}': only letters, digits, '.', '-' and '_'"),
            ));
        }
        let tmp = self.tmp_path("derived");
        let dest = self.derived_path(of, kind);
        let written = fs::write(&tmp, frame(DERIVED_MAGIC, DERIVED_VERSION, bytes))
            .and_then(|()| files::set_mode(&tmp, self.modes.file))
            .and_then(|()| match dest.parent() {
                Some(dir) => self.make_dir(dir),
                None => Ok(()),
            })
            .and_then(|()| fs::rename(&tmp, &dest));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_plain_file_name_parts() {
        assert!(valid_kind("thumb-v2-256.png"));
        for bad in ["", "../x", "a/b", ".hidden", "sp ace"] {
            assert!(!valid_kind(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_derived_file_round_trips_and_damage_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path().join("store")).unwrap();
        let of = Digest::of_bytes(b"some output");
        assert_eq!(cache.derived(&of, "thumb.png"), None);
        cache.add_derived(&of, "thumb.png", b"picture").unwrap();
        assert_eq!(
            cache.derived(&of, "thumb.png").as_deref(),
            Some(&b"picture"[..])
        );
        assert_eq!(cache.derived(&of, "other.png"), None, "kinds are apart");
        assert!(cache.add_derived(&of, "../escape", b"x").is_err());
        let path = cache.derived_path(&of, "thumb.png");
        assert_eq!(blob_hex_of(&path), Some(of.to_hex()));
        let mut bytes = fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        fs::remove_file(&path).unwrap();
        fs::write(&path, &bytes).unwrap();
        assert_eq!(cache.derived(&of, "thumb.png"), None);
        assert!(!path.exists(), "a damaged derived file is removed");
    }
}
