//! The first image file directory of a TIFF or BigTIFF, either byte order: the tags a tiled
//! image's pixels depend on, checked against the file's size so that no field of a corrupt
//! file makes us allocate or read more than the file holds.

use super::{ByteSource, Layout};

/// Tags read (TIFF 6.0 numbers).
mod tag {
    pub const NEW_SUBFILE_TYPE: u16 = 254;
    pub const IMAGE_WIDTH: u16 = 256;
    pub const IMAGE_LENGTH: u16 = 257;
    pub const BITS_PER_SAMPLE: u16 = 258;
    pub const COMPRESSION: u16 = 259;
    pub const PHOTOMETRIC: u16 = 262;
    pub const SAMPLES_PER_PIXEL: u16 = 277;
    pub const PLANAR_CONFIGURATION: u16 = 284;
    pub const PREDICTOR: u16 = 317;
    pub const TILE_WIDTH: u16 = 322;
    pub const TILE_LENGTH: u16 = 323;
    pub const TILE_OFFSETS: u16 = 324;
    pub const TILE_BYTE_COUNTS: u16 = 325;
    pub const SAMPLE_FORMAT: u16 = 339;
}

/// Most entries a directory may have (GDAL writes about 20; libtiff's own limit is 65535).
const MAX_ENTRIES: u64 = 4096;

/// A directory field: its type, count and where its values are.
#[derive(Debug, Clone, Copy)]
struct Field {
    kind: u16,
    count: u64,
    at: u64,
}

/// The byte order and word sizes of a file.
#[derive(Debug, Clone, Copy)]
pub(super) struct Header {
    pub big_endian: bool,
    pub big_tiff: bool,
}

impl Header {
    fn u16(&self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        if self.big_endian {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        }
    }
    fn u32(&self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }
    fn u64(&self, b: &[u8]) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        if self.big_endian {
            u64::from_be_bytes(a)
        } else {
            u64::from_le_bytes(a)
        }
    }
    /// A file offset or count word: 8 bytes in BigTIFF, 4 otherwise.
    fn word(&self, b: &[u8]) -> u64 {
        if self.big_tiff {
            self.u64(b)
        } else {
            u64::from(self.u32(b))
        }
    }
    fn word_len(&self) -> usize {
        if self.big_tiff {
            8
        } else {
            4
        }
    }
}

/// Bytes per value of a TIFF field type, for the integer types this module reads.
fn type_width(kind: u16) -> Option<u64> {
    match kind {
        1 | 6 | 7 => Some(1),  // BYTE, SBYTE, UNDEFINED
        3 | 8 => Some(2),      // SHORT, SSHORT
        4 | 9 | 13 => Some(4), // LONG, SLONG, IFD
        16..=18 => Some(8),    // LONG8, SLONG8, IFD8
        _ => None,
    }
}

/// Parse the first directory of `src` into a [`Layout`]; `Ok(None)` when the image is valid
/// TIFF but not something this decoder handles (strips, JPEG, odd sample sizes...), `Err` with
/// a reason when the file is not a TIFF or is corrupt.
pub(super) fn parse(src: &dyn ByteSource) -> Result<Option<Layout>, String> {
    let len = src.len();
    let head = read(src, 0, 16.min(len) as usize)?;
    if head.len() < 8 {
        return Err("too short for a TIFF header".into());
    }
    let big_endian = match &head[0..2] {
        b"II" => false,
        b"MM" => true,
        _ => return Err("not a TIFF (no II/MM byte order mark)".into()),
    };
    let mut h = Header {
        big_endian,
        big_tiff: false,
    };
    let ifd = match h.u16(&head[2..]) {
        42 => u64::from(h.u32(&head[4..])),
        43 => {
            if head.len() < 16 || h.u16(&head[4..]) != 8 {
                return Err("BigTIFF header with a bad offset size".into());
            }
            h.big_tiff = true;
            h.u64(&head[8..])
        }
        v => return Err(format!("TIFF version {v}")),
    };
    let count_len = if h.big_tiff { 8 } else { 2 };
    let entry_len: u64 = if h.big_tiff { 20 } else { 12 };
    let n = read(src, ifd, count_len)?;
    let n = if h.big_tiff {
        h.u64(&n)
    } else {
        u64::from(h.u16(&n))
    };
    if n == 0 || n > MAX_ENTRIES {
        return Err(format!("{n} directory entries"));
    }
    let entries_at = ifd + count_len as u64;
    let entries = read(src, entries_at, (n * entry_len) as usize)?;
    let mut fields = std::collections::BTreeMap::new();
    for i in 0..n as usize {
        let e = &entries[i * entry_len as usize..(i + 1) * entry_len as usize];
        let tag = h.u16(e);
        let kind = h.u16(&e[2..]);
        let count = h.word(&e[4..]);
        let Some(width) = type_width(kind) else {
            continue; // RATIONAL, ASCII, DOUBLE...: nothing this module reads
        };
        let bytes = count
            .checked_mul(width)
            .ok_or_else(|| format!("tag {tag}: {count} values"))?;
        let value_field = 4 + h.word_len();
        let at = if bytes <= h.word_len() as u64 {
            entries_at + (i as u64) * entry_len + value_field as u64
        } else {
            h.word(&e[value_field..])
        };
        if at.checked_add(bytes).is_none_or(|end| end > len) {
            return Err(format!(
                "tag {tag}: {count} values past the end of the file"
            ));
        }
        fields.insert(tag, Field { kind, count, at });
    }
    let values = |tag: u16| -> Result<Option<Vec<u64>>, String> {
        fields
            .get(&tag)
            .map(|f| read_values(src, &h, *f, tag))
            .transpose()
    };
    // One value, the same for every sample when the tag has one per sample (as libtiff wants).
    let single = |tag: u16, default: Option<u64>| -> Result<Option<u64>, String> {
        match values(tag)? {
            None => Ok(default),
            Some(v) if v.is_empty() => Err(format!("tag {tag} has no value")),
            Some(v) if v.iter().all(|&x| x == v[0]) => Ok(Some(v[0])),
            Some(_) => Ok(None),
        }
    };
    let (Some(width), Some(height)) = (
        single(tag::IMAGE_WIDTH, None)?,
        single(tag::IMAGE_LENGTH, None)?,
    ) else {
        return Err("no image width or length".into());
    };
    let (Some(tile_w), Some(tile_h)) = (
        single(tag::TILE_WIDTH, None)?,
        single(tag::TILE_LENGTH, None)?,
    ) else {
        return Ok(None); // strips
    };
    let supported = |v: Option<u64>, ok: &[u64]| v.filter(|x| ok.contains(x));
    let Some(compression) = supported(single(tag::COMPRESSION, Some(1))?, &[1, 5, 8, 32946]) else {
        return Ok(None);
    };
    let Some(predictor) = supported(single(tag::PREDICTOR, Some(1))?, &[1, 2, 3]) else {
        return Ok(None);
    };
    let Some(bits) = supported(single(tag::BITS_PER_SAMPLE, Some(1))?, &[8, 16, 32, 64]) else {
        return Ok(None);
    };
    let Some(format) = supported(single(tag::SAMPLE_FORMAT, Some(1))?, &[1, 2, 3]) else {
        return Ok(None);
    };
    let Some(planar) = supported(single(tag::PLANAR_CONFIGURATION, Some(1))?, &[1, 2]) else {
        return Ok(None);
    };
    let samples = single(tag::SAMPLES_PER_PIXEL, Some(1))?.unwrap_or(0);
    let subfile = single(tag::NEW_SUBFILE_TYPE, Some(0))?;
    let photometric = single(tag::PHOTOMETRIC, Some(1))?;
    // Masks and reduced images first, 8-bit-less colour models: GDAL's path.
    if subfile != Some(0)
        || !matches!(photometric, Some(1..=3))
        || !(1..=u64::from(u16::MAX)).contains(&samples)
        || (planar == 1 && samples != 1)
        || (predictor == 3 && format != 3)
    {
        return Ok(None);
    }
    let dims = [width, height, tile_w, tile_h];
    if dims.iter().any(|&d| d == 0 || d > u64::from(u32::MAX)) {
        return Err(format!(
            "image {width} x {height} in tiles of {tile_w} x {tile_h}"
        ));
    }
    let tiles = width
        .div_ceil(tile_w)
        .checked_mul(height.div_ceil(tile_h))
        .and_then(|t| t.checked_mul(if planar == 2 { samples } else { 1 }))
        .ok_or_else(|| format!("image {width} x {height} has too many tiles"))?;
    let (Some(offsets), Some(counts)) =
        (values(tag::TILE_OFFSETS)?, values(tag::TILE_BYTE_COUNTS)?)
    else {
        return Err("no tile offsets or byte counts".into());
    };
    if offsets.len() as u64 != tiles || counts.len() as u64 != tiles {
        return Err(format!(
            "{} tile offsets and {} byte counts for {tiles} tiles",
            offsets.len(),
            counts.len()
        ));
    }
    let datatype = match (format, bits) {
        (1, 8) => crate::DataType::U8,
        (2, 8) => crate::DataType::I8,
        (1, 16) => crate::DataType::U16,
        (2, 16) => crate::DataType::I16,
        (1, 32) => crate::DataType::U32,
        (2, 32) => crate::DataType::I32,
        (3, 32) => crate::DataType::F32,
        (3, 64) => crate::DataType::F64,
        _ => return Ok(None),
    };
    Ok(Some(Layout {
        size: (width as usize, height as usize),
        tile: (tile_w as usize, tile_h as usize),
        bands: samples as usize,
        separate: planar == 2,
        datatype,
        compression: compression as u16,
        predictor: predictor as u16,
        big_endian: h.big_endian,
        offsets,
        counts,
    }))
}

fn read(src: &dyn ByteSource, at: u64, len: usize) -> Result<Vec<u8>, String> {
    if at.checked_add(len as u64).is_none_or(|end| end > src.len()) {
        return Err(format!("{len} bytes at {at} past the end of the file"));
    }
    let mut buf = vec![0u8; len];
    src.read_at(at, &mut buf).map_err(|e| e.to_string())?;
    Ok(buf)
}

/// The values of an integer field (its size was checked against the file's).
fn read_values(src: &dyn ByteSource, h: &Header, f: Field, tag: u16) -> Result<Vec<u64>, String> {
    let width = type_width(f.kind).unwrap_or(1) as usize;
    let raw = read(src, f.at, f.count as usize * width)?;
    let signed_negative = |v: i64| -> Result<u64, String> {
        u64::try_from(v).map_err(|_| format!("tag {tag}: negative value {v}"))
    };
    raw.chunks_exact(width)
        .map(|b| match f.kind {
            1 | 7 => Ok(u64::from(b[0])),
            6 => signed_negative(i64::from(b[0] as i8)),
            3 => Ok(u64::from(h.u16(b))),
            8 => signed_negative(i64::from(h.u16(b) as i16)),
            4 | 13 => Ok(u64::from(h.u32(b))),
            9 => signed_negative(i64::from(h.u32(b) as i32)),
            17 => signed_negative(h.u64(b) as i64),
            _ => Ok(h.u64(b)),
        })
        .collect()
}
