//! rasterio's concurrent-processing example, with pgp: read a 3-band Byte raster window by
//! window, fake a CPU-heavy computation (each pixel value plus 1.0 two thousand times, less
//! 2000, cast back to Byte), and write the bands in reverse order to a 128 x 128 tiled output
//! with the input's other settings (its profile). The output is the same whatever the executor.
//!
//! Usage: `cargo run --release --example concurrent_windows -- INPUT OUTPUT [--executor SPEC]`
//! where SPEC is `sync`, `threading:N` (default: `threading`, one thread per core) or
//! `multiprocessing:N`.
//!
//! The function is registered (`pgp::register_window_fn!`), so the same code runs on process
//! pools too: worker processes are copies of this binary, which is why `main` first calls
//! `run_if_worker`. Its inner loop is compiled for several instruction sets and the best one
//! the CPU has is picked at run time (`pgp::simd`).

use std::process::ExitCode;
use std::time::Instant;

use pgp::ndarray::Array3;
use pgp::simd::multiversion;
use pgp::{map_windows_registered, WindowData, WindowMap};

/// Values computed together: 64 float64 stay in vector registers (8 AVX-512 or 16 AVX2 ones)
/// through the two thousand additions, as independent chains the CPU overlaps.
const LANES: usize = 64;

/// Each pixel as float64, plus 1.0 two thousand times in the order rasterio's compute adds
/// (exact: every intermediate is a small integer), less 2000, cast back to Byte. Chunk by chunk
/// from `source` into `target`, so no float64 copy of the window is ever allocated (a fresh
/// 128 KiB buffer per window costs page faults, and more so with several threads). Built for
/// AVX-512, AVX2 and SSE4.1, picked at run time.
#[multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn fake_work(source: &[u8], target: &mut [u8]) {
    for (from, to) in source.chunks(LANES).zip(target.chunks_mut(LANES)) {
        // A short last chunk runs the same code on zeros past its end, which are not written.
        let mut lanes = [0.0f64; LANES];
        for (lane, &v) in lanes.iter_mut().zip(from) {
            *lane = f64::from(v);
        }
        for _ in 0..2000 {
            for v in lanes.iter_mut() {
                *v += 1.0;
            }
        }
        for (t, v) in to.iter_mut().zip(&lanes) {
            *t = (v - 2000.0) as u8;
        }
    }
}

/// rasterio's compute for one window: the bands reversed, every value through the fake work.
fn compute(w: &WindowData<'_, u8>) -> pgp::ops::Result<Array3<u8>> {
    // pgp's input arrays are row-major already: this borrows, it does not copy.
    let input = w.inputs[0].as_standard_layout();
    let (bands, rows, cols) = input.dim();
    let source = input
        .as_slice()
        .ok_or_else(|| pgp::ops::Error::internal("a row-major array that is not contiguous"))?;
    let plane = (rows * cols).max(1);
    let mut out = vec![0u8; source.len()];
    for (from, to) in source.chunks(plane).rev().zip(out.chunks_mut(plane)) {
        fake_work(from, to);
    }
    Array3::from_shape_vec((bands, rows, cols), out)
        .map_err(|e| pgp::ops::Error::internal(format!("window {}: {e}", w.window)))
}
pgp::register_window_fn!(Compute = compute);

fn main() -> ExitCode {
    pgp::exec::worker::run_if_worker();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("concurrent_windows: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut paths = Vec::new();
    let mut executor = "threading".to_string();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--executor" => executor = args.next().ok_or("--executor needs a SPEC")?,
            "-h" | "--help" => {
                println!("usage: concurrent_windows INPUT OUTPUT [--executor SPEC]");
                return Ok(());
            }
            _ => paths.push(arg),
        }
    }
    let [input, output] = <[String; 2]>::try_from(paths)
        .map_err(|_| "usage: concurrent_windows INPUT OUTPUT [--executor SPEC]")?;
    let exec = pgp::exec::Executor::from_spec(&executor.parse()?)?;
    let request = WindowMap::new([&input], &output).block_size(128, 128);
    let start = Instant::now();
    let report = map_windows_registered::<Compute>(&request, &exec)?;
    println!(
        "{}: {} x {} x {} bands, {} windows on {} in {:.3} s",
        report.target.display(),
        report.size.0,
        report.size.1,
        report.bands,
        report.windows,
        exec.spec(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
