//! Just enough of the TIFF container to find, and later fill in, the tile offset and byte count
//! arrays of a file GDAL created (classic TIFF and BigTIFF, little-endian).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::{Error, Result};

const TILE_OFFSETS: u16 = 324;
const TILE_BYTE_COUNTS: u16 = 325;

/// Where one array lives and how wide its items are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArrayField {
    /// File offset of the first item (inside the IFD entry when the array fits there).
    pub at: u64,
    /// Bytes per item: 2 (SHORT), 4 (LONG) or 8 (LONG8).
    pub width: u8,
}

/// The tile arrays of a file's first image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TileArrays {
    pub offsets: ArrayField,
    pub byte_counts: ArrayField,
    pub count: u64,
    /// Whether the file is BigTIFF (offsets may exceed 4 GiB).
    pub big: bool,
}

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::Gdal {
        path: path.to_path_buf(),
        operation: "reading the TIFF directory".into(),
        message: message.into(),
    }
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}
fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}
fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(a)
}

fn read_exact_at(file: &mut File, path: &Path, at: u64, len: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    file.seek(SeekFrom::Start(at))
        .and_then(|_| file.read_exact(&mut buf))
        .map_err(|e| Error::io(path, e))?;
    Ok(buf)
}

/// Find the tile arrays of the first image of `path`, and check that it has exactly one image.
pub(crate) fn tile_arrays(file: &mut File, path: &Path) -> Result<TileArrays> {
    let head = read_exact_at(file, path, 0, 16)?;
    if &head[0..2] != b"II" {
        return Err(bad(path, "not a little-endian TIFF"));
    }
    let big = match u16_at(&head, 2) {
        42 => false,
        43 => true,
        v => return Err(bad(path, format!("TIFF version {v}"))),
    };
    let (ifd, count_len, entry_len, inline) = if big {
        (u64_at(&head, 8), 8usize, 20usize, 8usize)
    } else {
        (u64::from(u32_at(&head, 4)), 2, 12, 4)
    };
    let n = read_exact_at(file, path, ifd, count_len)?;
    let n = if big {
        u64_at(&n, 0)
    } else {
        u64::from(u16_at(&n, 0))
    };
    if n == 0 || n > 4096 {
        return Err(bad(path, format!("{n} directory entries")));
    }
    let entries = read_exact_at(
        file,
        path,
        ifd + count_len as u64,
        n as usize * entry_len + 8,
    )?;
    let next = entries.len() - 8;
    let next_ifd = if big {
        u64_at(&entries, next)
    } else {
        u64::from(u32_at(&entries, next))
    };
    if next_ifd != 0 {
        return Err(bad(path, "more than one image in the file"));
    }
    let mut offsets = None;
    let mut counts = None;
    for i in 0..n as usize {
        let e = &entries[i * entry_len..(i + 1) * entry_len];
        let tag = u16_at(e, 0);
        if tag != TILE_OFFSETS && tag != TILE_BYTE_COUNTS {
            continue;
        }
        let width: u8 = match u16_at(e, 2) {
            3 => 2,
            4 => 4,
            16 => 8,
            t => return Err(bad(path, format!("tag {tag} has type {t}"))),
        };
        let count = if big {
            u64_at(e, 4)
        } else {
            u64::from(u32_at(e, 4))
        };
        let value_at =
            ifd + count_len as u64 + (i * entry_len) as u64 + (entry_len - inline) as u64;
        let at = if count * u64::from(width) <= inline as u64 {
            value_at
        } else if big {
            u64_at(e, 12)
        } else {
            u64::from(u32_at(e, 8))
        };
        let field = (ArrayField { at, width }, count);
        if tag == TILE_OFFSETS {
            offsets = Some(field);
        } else {
            counts = Some(field);
        }
    }
    match (offsets, counts) {
        (Some((offsets, a)), Some((byte_counts, b))) if a == b => Ok(TileArrays {
            offsets,
            byte_counts,
            count: a,
            big,
        }),
        _ => Err(bad(
            path,
            "no tile offsets and byte counts of the same length",
        )),
    }
}

/// Write `values` into `field`, refusing values too wide for its items.
pub(crate) fn write_array(
    file: &mut File,
    path: &Path,
    field: ArrayField,
    values: &[u64],
) -> Result<()> {
    let mut bytes = Vec::with_capacity(values.len() * usize::from(field.width));
    for &v in values {
        match field.width {
            2 => bytes.extend_from_slice(
                &u16::try_from(v)
                    .map_err(|_| bad(path, format!("{v} does not fit a SHORT")))?
                    .to_le_bytes(),
            ),
            4 => bytes.extend_from_slice(
                &u32::try_from(v)
                    .map_err(|_| bad(path, format!("{v} does not fit a LONG (file over 4 GiB?)")))?
                    .to_le_bytes(),
            ),
            _ => bytes.extend_from_slice(&v.to_le_bytes()),
        }
    }
    file.seek(SeekFrom::Start(field.at))
        .and_then(|_| file.write_all(&bytes))
        .map_err(|e| Error::io(path, e))
}
