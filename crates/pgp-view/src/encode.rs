//! PNG encoding (the `png` crate) and atomic writing.

use std::path::Path;

use crate::{Picture, Result, ViewError};

/// The picture as PNG bytes: 8-bit RGBA, with the value range and unit in text chunks
/// (`pgp:range`, `pgp:unit`). The same picture always gives the same bytes.
pub fn encode_png(picture: &Picture) -> std::result::Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    {
        let width = u32::try_from(picture.width).map_err(|e| e.to_string())?;
        let height = u32::try_from(picture.height).map_err(|e| e.to_string())?;
        let mut enc = png::Encoder::new(&mut bytes, width, height);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Balanced);
        enc.add_text_chunk("Software".into(), "pgp quicklook".into())
            .map_err(|e| e.to_string())?;
        if let Some((lo, hi)) = picture.range {
            enc.add_text_chunk("pgp:range".into(), format!("{lo} {hi}"))
                .map_err(|e| e.to_string())?;
        }
        if let Some(unit) = &picture.unit {
            enc.add_text_chunk("pgp:unit".into(), unit.clone())
                .map_err(|e| e.to_string())?;
        }
        let mut w = enc.write_header().map_err(|e| e.to_string())?;
        w.write_image_data(&picture.rgba)
            .map_err(|e| e.to_string())?;
        w.finish().map_err(|e| e.to_string())?;
    }
    Ok(bytes)
}

/// Write the picture as a PNG at `path`, under a temporary sibling name renamed into place, so
/// a failure never leaves a half-written file that looks complete.
pub fn write_png(picture: &Picture, path: &Path) -> Result<()> {
    let fail = |message: String| ViewError::Write {
        path: path.to_path_buf(),
        message,
    };
    let bytes = encode_png(picture).map_err(|m| fail(format!("encoding the PNG: {m}")))?;
    let tmp = pgp_core::temporary_sibling(path);
    if let Err(e) = std::fs::write(&tmp, &bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e.to_string()));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e.to_string())
    })
}
