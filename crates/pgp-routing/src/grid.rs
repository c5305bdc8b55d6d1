//! A raster-sized working grid held as 256x256 tiles in a bounded cache.
//!
//! Routing walks rasters in data-dependent order (breadth-first over plateaus, depth-first up
//! flow paths), so it needs random access to whole rasters. A [`Grid`] gives that access while
//! keeping at most a fixed number of tiles in memory: a tile is created when first touched
//! (filled from a source raster through GDAL, or with an initial value), and when the cache is
//! full the least recently used tile (clock order) leaves. A modified tile is written to an
//! unlinked scratch file first, so it comes back as it left; an unmodified one is simply dropped.
//! Tiles never touched take no memory at all, so sparse working grids (plateau distances, pit
//! masks) cost what they hold.
//!
//! I/O errors are sticky: the first one is kept, accessors return the initial value from then
//! on, and [`Grid::status`] reports it. Steps check it before they write an output.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use pgp_core::{Pixel, Raster, Window};

use crate::error::{Error, Result};

/// Tile edge in pixels, as a power of two (pygeoprocessing's `BLOCK_BITS`).
pub const TILE_BITS: usize = 8;
/// Tile edge in pixels.
pub const TILE: usize = 1 << TILE_BITS;
const TILE_MASK: usize = TILE - 1;
const TILE_AREA: usize = TILE * TILE;
const NO_SLOT: u32 = u32::MAX;

/// A pixel type a [`Grid`] can hold and spill.
pub trait Cell: Pixel + Copy + PartialEq + Send + 'static {
    /// Bytes per value in the scratch file.
    const BYTES: usize;
    /// Append `values` as little-endian bytes.
    fn put(values: &[Self], out: &mut Vec<u8>);
    /// Decode little-endian bytes into `out`.
    fn take(bytes: &[u8], out: &mut [Self]);
}

macro_rules! cell {
    ($($t:ty),*) => {$(
        impl Cell for $t {
            const BYTES: usize = std::mem::size_of::<$t>();
            fn put(values: &[Self], out: &mut Vec<u8>) {
                for v in values {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            fn take(bytes: &[u8], out: &mut [Self]) {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(Self::BYTES)) {
                    let mut a = [0u8; std::mem::size_of::<$t>()];
                    a.copy_from_slice(b);
                    *o = <$t>::from_le_bytes(a);
                }
            }
        }
    )*};
}
cell!(u8, u16, i32, u32, f32, f64);

/// The memory the tile caches of one routing step may use, in bytes: three quarters of the
/// routing cache setting, the other quarter being GDAL's block cache (see [`cache_setting`]).
pub fn cache_budget() -> usize {
    cache_setting() / 4 * 3
}

/// The routing cache setting, in bytes: what a routing step's caches, its working tiles and
/// GDAL's block cache together, may hold.
///
/// Set with the environment variable `PGP_ROUTING_CACHE_MB` (mebibytes, like `GDAL_CACHEMAX`);
/// otherwise a quarter of the memory of the Slurm job the step runs in (the pilot gives GDAL's
/// cache another quarter, leaving half to the operation), and 256 MiB anywhere else. A step
/// divides its tiles' share ([`cache_budget`]) among its working grids by bytes per pixel;
/// while it reads rasters, GDAL's block cache is held to the other quarter unless
/// `GDAL_CACHEMAX` is set, which then rules GDAL's cache ([`GdalCacheCap`]).
pub fn cache_setting() -> usize {
    let set = std::env::var("PGP_ROUTING_CACHE_MB").ok();
    budget_for(set.as_deref(), pgp_exec::allocation_memory_mb())
}

/// [`cache_setting`] from the variable's value and the job's memory (MB), if any.
fn budget_for(set: Option<&str>, job_mb: Option<u64>) -> usize {
    const DEFAULT_MB: usize = 256;
    let mb = set
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|mb| *mb > 0)
        .or_else(|| job_mb.map(|job| (job as usize / 4).max(1)))
        .unwrap_or(DEFAULT_MB);
    mb << 20
}

/// Holds GDAL's block cache to a quarter of [`cache_setting`] while alive (unless the user set
/// `GDAL_CACHEMAX`): GDAL's default, 5% of the machine's memory, would otherwise keep every
/// block a step decodes on top of the step's own tiles. The cap is process-wide, so holders
/// are counted and the first one's view of the previous maximum comes back when the last ends.
pub struct GdalCacheCap(());

static CAP_HOLDERS: std::sync::Mutex<(usize, Option<i64>)> = std::sync::Mutex::new((0, None));

fn cap_holders() -> std::sync::MutexGuard<'static, (usize, Option<i64>)> {
    CAP_HOLDERS.lock().unwrap_or_else(|e| e.into_inner())
}

impl GdalCacheCap {
    /// Caps GDAL's block cache until the returned value is dropped.
    pub fn hold() -> GdalCacheCap {
        let mut holders = cap_holders();
        if holders.0 == 0 && !user_set_gdal_cache() {
            let cap = (cache_setting() / 4) as i64;
            // SAFETY: plain getters/setters of GDAL's global cache size.
            let previous = unsafe { gdal_sys::GDALGetCacheMax64() };
            if previous > cap {
                unsafe { gdal_sys::GDALSetCacheMax64(cap) };
                holders.1 = Some(previous);
            }
        }
        holders.0 += 1;
        GdalCacheCap(())
    }
}

impl Drop for GdalCacheCap {
    fn drop(&mut self) {
        let mut holders = cap_holders();
        holders.0 -= 1;
        if holders.0 == 0 {
            if let Some(previous) = holders.1.take() {
                // SAFETY: as above.
                unsafe { gdal_sys::GDALSetCacheMax64(previous) };
            }
        }
    }
}

/// Whether `GDAL_CACHEMAX` was given, as an environment variable or a GDAL config option.
fn user_set_gdal_cache() -> bool {
    if std::env::var_os("GDAL_CACHEMAX").is_some() {
        return true;
    }
    let key = c"GDAL_CACHEMAX";
    // SAFETY: a NUL-terminated key and a null default; GDAL returns a pointer it owns or null.
    !unsafe { gdal_sys::CPLGetConfigOption(key.as_ptr(), std::ptr::null()) }.is_null()
}

struct Slot<T> {
    tile: usize,
    dirty: bool,
    used: bool,
    data: Box<[T]>,
}

struct Source {
    raster: Raster,
    band: usize,
    _cap: GdalCacheCap,
}

/// A `cols` x `rows` grid of `T` in a bounded tile cache; see the module documentation.
pub struct Grid<T: Cell> {
    cols: usize,
    rows: usize,
    tiles_x: usize,
    init: T,
    table: Vec<u32>,
    spilled: Vec<bool>,
    slots: Vec<Slot<T>>,
    max_slots: usize,
    hand: usize,
    source: Option<Source>,
    scratch: Option<File>,
    scratch_dir: PathBuf,
    bytes: Vec<u8>,
    error: Option<Error>,
}

impl<T: Cell> Grid<T> {
    /// A grid whose untouched pixels are `init`, holding at most `budget` bytes of tiles (never
    /// fewer than 8 tiles). Scratch files, if any, go in `scratch_dir`.
    pub fn new(cols: usize, rows: usize, init: T, budget: usize, scratch_dir: &Path) -> Grid<T> {
        let tiles_x = cols.div_ceil(TILE).max(1);
        let tiles_y = rows.div_ceil(TILE).max(1);
        let max_slots = (budget / (TILE_AREA * T::BYTES)).max(8);
        Grid {
            cols,
            rows,
            tiles_x,
            init,
            table: vec![NO_SLOT; tiles_x * tiles_y],
            spilled: vec![false; tiles_x * tiles_y],
            slots: Vec::new(),
            max_slots,
            hand: 0,
            source: None,
            scratch: None,
            scratch_dir: scratch_dir.to_path_buf(),
            bytes: Vec::new(),
            error: None,
        }
    }

    /// A grid whose untouched tiles are read from `band` of `raster` (converted to `T`), with
    /// `init` beyond the raster's edge.
    pub fn from_raster(
        raster: Raster,
        band: usize,
        init: T,
        budget: usize,
        scratch_dir: &Path,
    ) -> Grid<T> {
        let (cols, rows) = raster.size();
        let mut grid = Grid::new(cols, rows, init, budget, scratch_dir);
        grid.source = Some(Source {
            raster,
            band,
            _cap: GdalCacheCap::hold(),
        });
        grid
    }

    /// `(cols, rows)`.
    pub fn size(&self) -> (usize, usize) {
        (self.cols, self.rows)
    }

    /// Tiles across.
    pub fn tiles_x(&self) -> usize {
        self.tiles_x
    }

    /// The first I/O error met, if any.
    pub fn status(&mut self) -> Result<()> {
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The value at `(x, y)`, which must be inside the grid.
    #[inline]
    pub fn get(&mut self, x: usize, y: usize) -> T {
        let slot = self.slot(x, y);
        let s = &mut self.slots[slot];
        s.used = true;
        s.data[((y & TILE_MASK) << TILE_BITS) | (x & TILE_MASK)]
    }

    /// Set `(x, y)`, which must be inside the grid, to `value`.
    #[inline]
    pub fn set(&mut self, x: usize, y: usize, value: T) {
        let slot = self.slot(x, y);
        let s = &mut self.slots[slot];
        s.used = true;
        s.dirty = true;
        s.data[((y & TILE_MASK) << TILE_BITS) | (x & TILE_MASK)] = value;
    }

    /// The tile with index `tile` (row-major over tiles) as a 256x256 row-major slice, for
    /// writing a whole tile at once; it is marked modified.
    pub fn tile_mut(&mut self, tile: usize) -> &mut [T] {
        let slot = self.load(tile);
        let s = &mut self.slots[slot];
        s.used = true;
        s.dirty = true;
        &mut s.data
    }

    /// The tile with index `tile` (row-major over tiles) as a 256x256 row-major slice, for
    /// reading a whole tile at once.
    pub fn tile(&mut self, tile: usize) -> &[T] {
        let slot = self.load(tile);
        let s = &mut self.slots[slot];
        s.used = true;
        &s.data
    }

    /// Whether tile `tile` was ever touched (read, set or filled).
    pub fn touched(&self, tile: usize) -> bool {
        self.table[tile] != NO_SLOT || self.spilled[tile]
    }

    /// The pixels of `window` (inside one tile) copied out, row-major.
    pub fn read_window(&mut self, window: Window) -> Vec<T> {
        let mut out = Vec::with_capacity(window.area());
        let tile = (window.y_off >> TILE_BITS) * self.tiles_x + (window.x_off >> TILE_BITS);
        let slot = self.load(tile);
        let data = &self.slots[slot].data;
        for y in window.y_off..window.y_off + window.height {
            let start = (y & TILE_MASK) << TILE_BITS | (window.x_off & TILE_MASK);
            out.extend_from_slice(&data[start..start + window.width]);
        }
        out
    }

    #[inline]
    fn slot(&mut self, x: usize, y: usize) -> usize {
        let tile = (y >> TILE_BITS) * self.tiles_x + (x >> TILE_BITS);
        let s = self.table[tile];
        if s != NO_SLOT {
            s as usize
        } else {
            self.load(tile)
        }
    }

    fn load(&mut self, tile: usize) -> usize {
        if self.table[tile] != NO_SLOT {
            return self.table[tile] as usize;
        }
        let slot = if self.slots.len() < self.max_slots {
            self.slots.push(Slot {
                tile,
                dirty: false,
                used: true,
                data: vec![self.init; TILE_AREA].into_boxed_slice(),
            });
            self.slots.len() - 1
        } else {
            let victim = self.victim();
            self.evict(victim);
            victim
        };
        self.fill(tile, slot);
        self.table[tile] = slot as u32;
        let s = &mut self.slots[slot];
        s.tile = tile;
        s.dirty = false;
        s.used = true;
        slot
    }

    fn victim(&mut self) -> usize {
        loop {
            let h = self.hand;
            self.hand = (self.hand + 1) % self.slots.len();
            if self.slots[h].used {
                self.slots[h].used = false;
            } else {
                return h;
            }
        }
    }

    fn evict(&mut self, slot: usize) {
        let tile = self.slots[slot].tile;
        if self.slots[slot].dirty {
            if let Err(e) = self.spill(slot) {
                self.fail(e);
            }
            self.spilled[tile] = true;
        }
        self.table[tile] = NO_SLOT;
    }

    fn offset(tile: usize) -> u64 {
        (tile * TILE_AREA * T::BYTES) as u64
    }

    fn spill(&mut self, slot: usize) -> std::io::Result<()> {
        if self.scratch.is_none() {
            self.scratch = Some(tempfile::tempfile_in(&self.scratch_dir)?);
        }
        let tile = self.slots[slot].tile;
        self.bytes.clear();
        T::put(&self.slots[slot].data, &mut self.bytes);
        let file = self
            .scratch
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no scratch"))?;
        file.seek(SeekFrom::Start(Self::offset(tile)))?;
        file.write_all(&self.bytes)
    }

    fn fill(&mut self, tile: usize, slot: usize) {
        if self.spilled[tile] {
            let result = (|| -> std::io::Result<()> {
                let file = self
                    .scratch
                    .as_mut()
                    .ok_or_else(|| std::io::Error::other("no scratch"))?;
                self.bytes.resize(TILE_AREA * T::BYTES, 0);
                file.seek(SeekFrom::Start(Self::offset(tile)))?;
                file.read_exact(&mut self.bytes)
            })();
            match result {
                Ok(()) => T::take(&self.bytes, &mut self.slots[slot].data),
                Err(e) => {
                    self.slots[slot].data.fill(self.init);
                    self.fail(e);
                }
            }
            return;
        }
        let init = self.init;
        self.slots[slot].data.fill(init);
        let Some(source) = &self.source else {
            return;
        };
        let x0 = (tile % self.tiles_x) * TILE;
        let y0 = (tile / self.tiles_x) * TILE;
        let w = TILE.min(self.cols - x0);
        let h = TILE.min(self.rows - y0);
        match source
            .raster
            .read_as::<T>(source.band, Window::new(x0, y0, w, h))
        {
            Ok(block) => {
                let data = &mut self.slots[slot].data;
                for (r, row) in block.rows().into_iter().enumerate() {
                    for (c, v) in row.iter().enumerate() {
                        data[(r << TILE_BITS) | c] = *v;
                    }
                }
            }
            Err(e) => {
                if self.error.is_none() {
                    self.error = Some(e.into());
                }
            }
        }
    }

    fn fail(&mut self, e: std::io::Error) {
        if self.error.is_none() {
            self.error = Some(Error::Scratch {
                dir: self.scratch_dir.clone(),
                source: e,
            });
        }
    }
}

/// The tile windows of a `cols` x `rows` grid, row-major: the order outputs are written in.
pub fn tile_windows(cols: usize, rows: usize) -> impl Iterator<Item = (usize, Window)> {
    pgp_core::block_windows((cols, rows), (TILE, TILE), 0).enumerate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_budget_follows_the_variable_then_the_job() {
        assert_eq!(budget_for(None, None), 256 << 20);
        assert_eq!(budget_for(Some("64"), Some(16384)), 64 << 20);
        assert_eq!(budget_for(None, Some(16384)), 4096 << 20);
        assert_eq!(budget_for(None, Some(512)), 128 << 20);
        assert_eq!(budget_for(Some("lots"), Some(2)), 1 << 20);
        assert_eq!(budget_for(Some("0"), None), 256 << 20);
    }
    use proptest::prelude::*;

    proptest! {
        // Whatever the budget, a grid reads back what was written (tiles spill and return).
        #[test]
        fn reads_back_what_was_written_under_any_budget(
            cols in 1usize..700, rows in 1usize..700, tiles in 0usize..12,
            writes in proptest::collection::vec((0usize..700, 0usize..700, any::<i32>()), 1..200),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut g = Grid::<i32>::new(cols, rows, -7, tiles * TILE_AREA * 4, dir.path());
            let mut truth = std::collections::HashMap::new();
            for (x, y, v) in writes {
                let (x, y) = (x % cols, y % rows);
                g.set(x, y, v);
                truth.insert((x, y), v);
            }
            for ((x, y), v) in &truth {
                prop_assert_eq!(g.get(*x, *y), *v);
            }
            prop_assert_eq!(g.get(cols - 1, rows - 1), *truth.get(&(cols - 1, rows - 1)).unwrap_or(&-7));
            prop_assert!(g.status().is_ok());
        }
    }
}
