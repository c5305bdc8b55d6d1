//! Outputs that never look complete before they are: write under a temporary name, rename on
//! success, delete on failure.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::raster::create::{create_raster, RasterSpec};
use crate::raster::dataset::Raster;
use crate::{Error, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary sibling of `target`: same directory (so the final rename is atomic), same
/// extension (so GDAL picks the same driver), a name no other writer uses.
pub fn temporary_sibling(target: &Path) -> PathBuf {
    let dir = target.parent().unwrap_or_else(|| Path::new(""));
    let stem = target
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".to_string());
    let ext = target
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{stem}.pgp-tmp-{}-{n}{ext}", std::process::id()))
}

/// Check that `target` can be created before any temporary is: its directory exists and is a
/// directory, and `target` is not itself a directory. The error names `target` as given, so a
/// user sees their own path rather than a hidden temporary beside it.
pub fn check_output_path(target: &Path) -> Result<()> {
    let problem = |problem: String| {
        Err(Error::OutputPath {
            path: target.to_path_buf(),
            problem,
        })
    };
    if target.as_os_str().is_empty() {
        return problem("the output path is empty".to_string());
    }
    if target.is_dir() {
        return problem("is a directory, not a file".to_string());
    }
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => return Ok(()),
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => problem(format!("{} is not a directory", dir.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            problem(format!("directory {} does not exist", dir.display()))
        }
        // Another component is not a directory, or permission is denied: say so with the path.
        Err(e) => problem(format!("directory {}: {e}", dir.display())),
    }
}

/// A raster being written. [`OutputRaster::commit`] closes it and renames it into place;
/// dropping it without committing deletes the partial file, so a failure midway leaves
/// nothing at the target path that could pass for a finished output.
#[derive(Debug)]
pub struct OutputRaster {
    raster: Option<Raster>,
    tmp: PathBuf,
    target: PathBuf,
}

impl OutputRaster {
    /// Create the raster described by `spec`, to become `target` on commit.
    pub fn create(target: impl AsRef<Path>, spec: &RasterSpec) -> Result<OutputRaster> {
        let target = target.as_ref().to_path_buf();
        check_output_path(&target)?;
        let tmp = temporary_sibling(&target);
        let raster = create_raster(&tmp, spec)?;
        Ok(OutputRaster {
            raster: Some(raster),
            tmp,
            target,
        })
    }

    /// The open raster, for writing.
    pub fn raster(&mut self) -> &mut Raster {
        // Only `commit` and `drop` take the raster out, and both consume `self`.
        self.raster
            .as_mut()
            .expect("OutputRaster used after commit")
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flush, close, and atomically rename to the target path (replacing any older file).
    pub fn commit(mut self) -> Result<PathBuf> {
        let Some(raster) = self.raster.take() else {
            return Ok(self.target.clone());
        };
        let result = raster
            .close()
            .and_then(|()| rename_into_place(&self.tmp, &self.target));
        if result.is_err() {
            remove_temporary(&self.tmp);
        }
        result.map(|()| self.target.clone())
    }
}

/// Rename a finished temporary file to `target`, with GDAL's sidecar (statistics in .aux.xml
/// for some drivers) if it wrote one; otherwise remove a stale sidecar of the old file.
pub(crate) fn rename_into_place(tmp: &Path, target: &Path) -> Result<()> {
    std::fs::rename(tmp, target).map_err(|e| Error::io(target, e))?;
    let tmp_aux = sidecar(tmp);
    if tmp_aux.exists() {
        std::fs::rename(&tmp_aux, sidecar(target)).map_err(|e| Error::io(target, e))?;
    } else {
        let _ = std::fs::remove_file(sidecar(target));
    }
    Ok(())
}

/// Delete a temporary output and its sidecar, if they exist.
pub(crate) fn remove_temporary(tmp: &Path) {
    let _ = std::fs::remove_file(tmp);
    let _ = std::fs::remove_file(sidecar(tmp));
}

fn sidecar(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".aux.xml");
    PathBuf::from(s)
}

impl Drop for OutputRaster {
    fn drop(&mut self) {
        if let Some(r) = self.raster.take() {
            drop(r);
            remove_temporary(&self.tmp);
        }
    }
}
