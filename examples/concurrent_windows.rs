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

use pgp::ndarray::{Array3, Axis};
use pgp::simd::multiversion;
use pgp::{map_windows_registered, WindowData, WindowMap};

/// Values computed together: 64 float64 stay in vector registers (8 AVX-512 or 16 AVX2 ones)
/// through the two thousand additions, as independent chains the CPU overlaps.
const LANES: usize = 64;

/// Each value plus 1.0 two thousand times, in the order rasterio's compute adds (exact: every
/// intermediate is a small integer). Built for AVX-512, AVX2 and SSE4.1, picked at run time.
#[multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn add_one_2000_times(values: &mut [f64]) {
    let mut chunks = values.chunks_exact_mut(LANES);
    for chunk in &mut chunks {
        let mut lanes = [0.0f64; LANES];
        lanes.copy_from_slice(chunk);
        for _ in 0..2000 {
            for v in lanes.iter_mut() {
                *v += 1.0;
            }
        }
        chunk.copy_from_slice(&lanes);
    }
    for v in chunks.into_remainder() {
        for _ in 0..2000 {
            *v += 1.0;
        }
    }
}

/// rasterio's compute for one window: the bands reversed, every value through the fake work.
fn compute(w: &WindowData<'_, u8>) -> pgp::ops::Result<Array3<u8>> {
    let input = &w.inputs[0];
    let (bands, rows, cols) = input.dim();
    let mut out = Array3::<u8>::zeros((bands, rows, cols));
    let mut values = Vec::with_capacity(rows * cols);
    for (band, mut target) in input
        .axis_iter(Axis(0))
        .rev()
        .zip(out.axis_iter_mut(Axis(0)))
    {
        values.clear();
        values.extend(band.iter().map(|&v| f64::from(v)));
        add_one_2000_times(&mut values);
        for (t, v) in target.iter_mut().zip(&values) {
            *t = (v - 2000.0) as u8;
        }
    }
    Ok(out)
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
