//! The signal's file blocks, decoded once each and shared by the tiles that overlap them.
//!
//! Tiles overlap by the kernel's reach, so a tile's read spans up to nine file blocks, most of
//! them also read by its neighbours. Reading through one shared GDAL handle decodes each block
//! once but makes the threads take turns for every read, so decoding (libtiff's LZW: about an
//! eighth of a 31 x 31 convolution) ran on one core at a time. Here each thread decodes whole
//! blocks with a handle of its own and leaves them in a cache for the tiles that need them
//! next: each block is still decoded once, and different blocks are decoded at the same time.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use ndarray::{s, Array2};
use pgp_core::{with_pixel_type, DynArray, Pixel, Raster, Window};

use crate::{Error, Result};

/// One cached block: filled by the first thread that needs it (the others wait for it).
type Slot = Arc<Mutex<Option<Arc<DynArray>>>>;

/// Block rows kept above the topmost one a tile asks for: tiles are handed out in row order,
/// so a block this far above every tile in flight is not read again (if it is, it is decoded
/// again: the cache bounds memory, it never decides pixels).
const ROWS_KEPT_ABOVE: usize = 2;

/// Decoded blocks of one band of the signal, shared by the threads of one call (each worker
/// process of a process pool has its own).
pub(crate) struct SignalBlocks {
    path: PathBuf,
    band: usize,
    size: (usize, usize),
    block: (usize, usize),
    /// Handles not in use; a thread takes one for its decoding and puts it back.
    idle: Mutex<Vec<Raster>>,
    cache: Mutex<HashMap<(usize, usize), Slot>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SignalBlocks {
    pub(crate) fn open(path: &std::path::Path, band: usize) -> Result<SignalBlocks> {
        let raster = Raster::open(path)?;
        let block = raster.block_size(band)?;
        if block.0 == 0 || block.1 == 0 {
            return Err(Error::invalid(
                "signal",
                format!("{}: band {band} has an empty block size", path.display()),
            ));
        }
        Ok(SignalBlocks {
            path: path.to_path_buf(),
            band,
            size: raster.size(),
            block,
            idle: Mutex::new(vec![raster]),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// `(cols, rows)` of the raster.
    pub(crate) fn size(&self) -> (usize, usize) {
        self.size
    }

    /// The pixels of `window` (inside the raster) in the band's own type.
    pub(crate) fn read(&self, window: Window) -> Result<DynArray> {
        let (bw, bh) = self.block;
        let (bx0, by0) = (window.x_off / bw, window.y_off / bh);
        let bx1 = (window.x_off + window.width).div_ceil(bw);
        let by1 = (window.y_off + window.height).div_ceil(bh);
        let slots: Vec<((usize, usize), Slot)> = {
            let mut cache = lock(&self.cache);
            cache.retain(|&(_, by), _| by + ROWS_KEPT_ABOVE >= by0);
            (by0..by1)
                .flat_map(|by| (bx0..bx1).map(move |bx| (bx, by)))
                .map(|key| (key, cache.entry(key).or_default().clone()))
                .collect()
        };
        let mut blocks = Vec::with_capacity(slots.len());
        for (key, slot) in slots {
            blocks.push((key, self.block_data(key, &slot)?));
        }
        let first = &blocks
            .first()
            .ok_or_else(|| Error::invalid("window", "empty read window"))?
            .1;
        let dt = first.data_type();
        with_pixel_type!(dt, T => self.assemble::<T>(window, &blocks).map(DynArray::from))
    }

    /// Block `key`'s pixels, decoding them if no thread has yet.
    fn block_data(&self, key: (usize, usize), slot: &Slot) -> Result<Arc<DynArray>> {
        let mut filled = lock(slot);
        if let Some(data) = filled.as_ref() {
            return Ok(data.clone());
        }
        let (bw, bh) = self.block;
        let (x, y) = (key.0 * bw, key.1 * bh);
        let window = Window::new(x, y, bw.min(self.size.0 - x), bh.min(self.size.1 - y));
        let raster = lock(&self.idle).pop();
        let raster = match raster {
            Some(r) => r,
            None => Raster::open(&self.path)?,
        };
        let data = raster.read_dyn(self.band, window);
        // The block lives on here; GDAL's copy would only take cache space.
        crate::runtime::forget_read_blocks(&raster, self.band, window);
        lock(&self.idle).push(raster);
        let data = Arc::new(data?);
        *filled = Some(data.clone());
        Ok(data)
    }

    /// Copies the parts of `blocks` inside `window` into one array.
    fn assemble<T: Pixel>(
        &self,
        window: Window,
        blocks: &[((usize, usize), Arc<DynArray>)],
    ) -> Result<Array2<T>> {
        let (bw, bh) = self.block;
        let mut out = Array2::<T>::default(window.shape());
        for ((bx, by), data) in blocks {
            let block = data
                .view::<T>()
                .ok_or_else(|| Error::invalid("signal", "blocks of one band differ in type"))?;
            let (x0, y0) = (bx * bw, by * bh);
            let (bh_here, bw_here) = block.dim();
            // The overlap of the block and the window, in raster coordinates.
            let cx0 = x0.max(window.x_off);
            let cy0 = y0.max(window.y_off);
            let cx1 = (x0 + bw_here).min(window.x_off + window.width);
            let cy1 = (y0 + bh_here).min(window.y_off + window.height);
            if cx0 >= cx1 || cy0 >= cy1 {
                continue;
            }
            out.slice_mut(s![
                cy0 - window.y_off..cy1 - window.y_off,
                cx0 - window.x_off..cx1 - window.x_off
            ])
            .assign(&block.slice(s![cy0 - y0..cy1 - y0, cx0 - x0..cx1 - x0]));
        }
        Ok(out)
    }
}
