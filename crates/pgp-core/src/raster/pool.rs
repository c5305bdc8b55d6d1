//! Per-worker read handles.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::raster::dataset::Raster;
use crate::Result;

/// Read-only handles on a fixed list of rasters, handed out one set per concurrent user.
///
/// GDAL handles must not be shared between threads, and opening a raster per block is slow, so
/// parallel readers borrow a set of handles for the duration of one block and give it back. At
/// most as many sets are ever opened as there were simultaneous users.
#[derive(Debug)]
pub struct RasterPool {
    paths: Vec<PathBuf>,
    free: Mutex<Vec<Vec<Raster>>>,
}

impl RasterPool {
    /// A pool over `paths`; nothing is opened until first use. Open one set now with
    /// [`RasterPool::check`] to surface errors early.
    pub fn new<P: AsRef<Path>>(paths: impl IntoIterator<Item = P>) -> RasterPool {
        RasterPool {
            paths: paths
                .into_iter()
                .map(|p| p.as_ref().to_path_buf())
                .collect(),
            free: Mutex::new(Vec::new()),
        }
    }

    /// The paths, in order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Open one set of handles (and keep it for later use), failing on the first bad path.
    pub fn check(&self) -> Result<()> {
        let set = self.open_set()?;
        self.give_back(set);
        Ok(())
    }

    fn open_set(&self) -> Result<Vec<Raster>> {
        self.paths.iter().map(Raster::open).collect()
    }

    fn take(&self) -> Result<Vec<Raster>> {
        let reused = match self.free.lock() {
            Ok(mut free) => free.pop(),
            Err(poisoned) => poisoned.into_inner().pop(),
        };
        match reused {
            Some(set) => Ok(set),
            None => self.open_set(),
        }
    }

    fn give_back(&self, set: Vec<Raster>) {
        match self.free.lock() {
            Ok(mut free) => free.push(set),
            Err(poisoned) => poisoned.into_inner().push(set),
        }
    }

    /// Run `f` with one handle per path (in the order given to [`RasterPool::new`]).
    pub fn with<R>(&self, f: impl FnOnce(&[Raster]) -> Result<R>) -> Result<R> {
        let set = self.take()?;
        let out = f(&set);
        self.give_back(set);
        out
    }
}
