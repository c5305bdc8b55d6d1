//! Vector outputs written under a temporary name and moved into place when complete.
//!
//! A vector format may write several files (a shapefile is `.shp`, `.shx`, `.dbf`, `.prj`, ...),
//! so the dataset is created in a fresh hidden directory next to the target, under the target's
//! own file name (so formats that take the layer name from the file name get it right), and on
//! commit every file is moved next to the target, the main file last.

use std::path::{Path, PathBuf};

use pgp_core::gdal::{Dataset, DriverManager};
use pgp_core::temporary_sibling;

use crate::{Error, Result};

/// The OGR driver for a target path: from its extension, else ESRI Shapefile (pygeoprocessing's
/// default driver).
pub fn vector_driver_for(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "gpkg" => "GPKG",
        "geojson" | "json" => "GeoJSON",
        "fgb" => "FlatGeobuf",
        "csv" => "CSV",
        "gml" => "GML",
        "kml" => "KML",
        "sqlite" => "SQLite",
        _ => "ESRI Shapefile",
    }
}

/// A vector being written; see the module docs. Dropping it without [`VectorOutput::commit`]
/// leaves nothing behind.
pub struct VectorOutput {
    dataset: Option<Dataset>,
    tmp_dir: PathBuf,
    tmp_path: PathBuf,
    target: PathBuf,
}

impl VectorOutput {
    /// Create an empty vector dataset with `driver`, to become `target` on commit.
    pub fn create(target: &Path, driver: &str) -> Result<VectorOutput> {
        pgp_core::init();
        let file_name = target.file_name().ok_or_else(|| {
            Error::invalid(
                "target_path",
                format!("{} has no file name", target.display()),
            )
        })?;
        if let Some(dir) = target.parent() {
            if !dir.as_os_str().is_empty() && !dir.is_dir() {
                return Err(pgp_core::Error::io(
                    dir,
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "output directory does not exist",
                    ),
                )
                .into());
            }
        }
        let tmp_dir = temporary_sibling(target);
        std::fs::create_dir(&tmp_dir).map_err(|e| pgp_core::Error::io(&tmp_dir, e))?;
        let tmp_path = tmp_dir.join(file_name);
        let created = DriverManager::get_driver_by_name(driver)
            .and_then(|d| d.create_vector_only(&tmp_path))
            .map_err(|e| pgp_core::Error::gdal(target, format!("creating a {driver} vector"), e));
        match created {
            Ok(ds) => Ok(VectorOutput {
                dataset: Some(ds),
                tmp_dir,
                tmp_path,
                target: target.to_path_buf(),
            }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp_dir);
                Err(e.into())
            }
        }
    }

    /// The dataset being written.
    pub fn dataset(&mut self) -> &mut Dataset {
        // Only commit and drop take the dataset, and both consume self.
        self.dataset
            .as_mut()
            .expect("VectorOutput used after commit")
    }

    /// Close the dataset and move its files into place, replacing older ones.
    pub fn commit(mut self) -> Result<PathBuf> {
        if let Some(ds) = self.dataset.take() {
            ds.close()
                .map_err(|e| pgp_core::Error::gdal(&self.target, "closing the vector", e))?;
        }
        let dest_dir = self
            .target
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        if self.tmp_path.is_dir() {
            // Some drivers make a directory of files; move it as one.
            remove_existing(&self.target)?;
            std::fs::rename(&self.tmp_path, &self.target)
                .map_err(|e| pgp_core::Error::io(&self.target, e))?;
        } else {
            let entries = std::fs::read_dir(&self.tmp_dir)
                .map_err(|e| pgp_core::Error::io(&self.tmp_dir, e))?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p != &self.tmp_path)
                .collect();
            files.sort();
            // Sidecars first, the main file last: once the target path exists it is complete.
            files.push(self.tmp_path.clone());
            for f in files {
                let Some(name) = f.file_name() else { continue };
                let dest = dest_dir.join(name);
                std::fs::rename(&f, &dest).map_err(|e| pgp_core::Error::io(&dest, e))?;
            }
        }
        let _ = std::fs::remove_dir_all(&self.tmp_dir);
        Ok(self.target.clone())
    }
}

fn remove_existing(path: &Path) -> Result<()> {
    let result = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else if path.exists() {
        std::fs::remove_file(path)
    } else {
        Ok(())
    };
    result.map_err(|e| pgp_core::Error::io(path, e).into())
}

impl Drop for VectorOutput {
    fn drop(&mut self) {
        drop(self.dataset.take());
        let _ = std::fs::remove_dir_all(&self.tmp_dir);
    }
}
