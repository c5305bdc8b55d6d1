"""rasterio's concurrent-processing example (thread pool, one reader lock, one writer lock),
with the compute in numpy, as the peer of pgp's `examples/concurrent_windows.rs`.

    python bench/rasterio_windows.py make-input INPUT [--size 3000]
    python bench/rasterio_windows.py run INPUT OUTPUT [-j WORKERS]
    python bench/rasterio_windows.py compare A B

`make-input` writes a seeded 3-band Byte GeoTIFF (tiled 256, LZW, pixel interleaved, nodata 0).
`run` is rasterio's example: the output takes the input's profile with 128 x 128 tiles, and
every output block window is read (under a lock), computed on a thread pool (each value plus
1.0 two thousand times, less 2000, cast back to uint8, bands reversed) and written (under a
lock). `compare` exits 1 unless both rasters have the same profile and the same pixels.

Needs rasterio >= 1.4 and numpy (the peer venv: `pip install rasterio`).
"""

import argparse
import concurrent.futures
import sys
import threading
import time

import numpy as np
import rasterio
from rasterio.transform import from_origin


def compute(data):
    """The fake CPU-heavy work of rasterio's example, step by step in numpy."""
    values = data.astype(np.float64)
    for _ in range(2000):
        values += 1.0
    values -= 2000.0
    return values.astype(np.uint8)[::-1]


def run(infile, outfile, workers):
    with rasterio.open(infile) as src:
        profile = src.profile
        profile.update(blockxsize=128, blockysize=128, tiled=True, driver="GTiff")
        with rasterio.open(outfile, "w", **profile) as dst:
            windows = [window for _, window in dst.block_windows()]
            read_lock = threading.Lock()
            write_lock = threading.Lock()

            def process(window):
                with read_lock:
                    block = src.read(window=window)
                result = compute(block)
                with write_lock:
                    dst.write(result, window=window)

            with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
                # list() re-raises the first error of any window.
                list(pool.map(process, windows))
    return len(windows)


def make_input(path, size):
    rng = np.random.default_rng(18)
    rows, cols = np.mgrid[0:size, 0:size]
    bands = []
    for b in range(3):
        smooth = (np.sin(rows / (40.0 + 13 * b)) + np.cos(cols / (55.0 + 7 * b))) * 60 + 128
        noise = rng.integers(-20, 21, size=(size, size))
        bands.append(np.clip(smooth + noise, 0, 255).astype(np.uint8))
    profile = dict(
        driver="GTiff", dtype="uint8", count=3, width=size, height=size, nodata=0,
        crs="EPSG:32610", transform=from_origin(400000.0, 5000000.0, 30.0, 30.0),
        tiled=True, blockxsize=256, blockysize=256, compress="lzw", interleave="pixel",
    )
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.stack(bands))


def compare(a, b):
    with rasterio.open(a) as ra, rasterio.open(b) as rb:
        pa, pb = dict(ra.profile), dict(rb.profile)
        same_profile = pa == pb
        same_pixels = np.array_equal(ra.read(), rb.read())
    if not same_profile:
        for key in sorted(set(pa) | set(pb)):
            if pa.get(key) != pb.get(key):
                print(f"profile differs at {key}: {pa.get(key)!r} vs {pb.get(key)!r}")
    print(f"same profile: {same_profile}; same pixels: {same_pixels}")
    return 0 if same_profile and same_pixels else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("make-input")
    p.add_argument("input")
    p.add_argument("--size", type=int, default=3000)
    p = sub.add_parser("run")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("-j", "--workers", type=int, default=1)
    p = sub.add_parser("compare")
    p.add_argument("a")
    p.add_argument("b")
    args = parser.parse_args()
    if args.command == "make-input":
        make_input(args.input, args.size)
    elif args.command == "run":
        start = time.perf_counter()
        n = run(args.input, args.output, args.workers)
        print(f"{args.output}: {n} windows on {args.workers} thread(s) in "
              f"{time.perf_counter() - start:.3f} s")
    else:
        sys.exit(compare(args.a, args.b))


if __name__ == "__main__":
    main()
