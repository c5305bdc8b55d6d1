//! Per-core speed for your own window functions: run-time instruction-set dispatch.
//!
//! rustc builds for a baseline x86-64 CPU (SSE2) unless told otherwise, so a loop in a window
//! function uses 128-bit vectors even on a machine with AVX2 or AVX-512, where numpy (which
//! picks its kernels at run time) may be faster per core. Two ways to get the machine's best:
//!
//! - **Dispatch at run time** (binaries that run anywhere): mark the hot function with
//!   [`multiversion`](macro@multiversion). It is compiled once per target listed, and the first
//!   target the running CPU supports is chosen on the first call (a cached function pointer
//!   after that). `targets = "simd"` lists common x86-64 and ARM SIMD levels but, in
//!   multiversion 0.8, not AVX-512: list the targets yourself to have it, as pgp's own kernels
//!   do: `targets("x86_64+avx512f+avx512dq+avx512vl+avx2+fma", "x86_64+avx2+fma",
//!   "x86_64+sse4.1")`. Keep the body a plain loop over slices (or small fixed-size arrays, which
//!   stay in vector registers), which the compiler vectorises for each target. On a CPU with
//!   AVX-512, rasterio's compute in `examples/concurrent_windows.rs` runs about twice as fast
//!   with the AVX-512 target listed as with `"simd"`.
//! - **Build for this CPU** (binaries that run where they are built):
//!   `RUSTFLAGS="-C target-cpu=native" cargo build --release`, which lets the compiler use
//!   every instruction the build machine has everywhere in the program. The binary may then
//!   crash with an illegal instruction on an older CPU.
//!
//! Either way, float results are the same on every target: the compiler does not reorder float
//! arithmetic nor fuse a multiply and an add unless the code says so (`f64::mul_add`).
//!
//! ```
//! use pgp::simd::multiversion;
//!
//! /// Adds `step` to every value `times` times, in blocks that stay in the L1 cache.
//! #[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
//! fn add_repeatedly(values: &mut [f64], step: f64, times: usize) {
//!     for chunk in values.chunks_mut(512) {
//!         for _ in 0..times {
//!             for v in chunk.iter_mut() {
//!                 *v += step;
//!             }
//!         }
//!     }
//! }
//!
//! let mut values = vec![1.0; 1000];
//! add_repeatedly(&mut values, 0.5, 4);
//! assert!(values.iter().all(|&v| v == 3.0));
//! ```
//!
//! `examples/concurrent_windows.rs` uses it for rasterio's compute.

/// The `multiversion` crate (its macros' expansions name it), and its attribute.
pub use ::multiversion::{self, multiversion};
