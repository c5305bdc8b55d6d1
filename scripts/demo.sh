#!/usr/bin/env bash
# One command from a fresh clone: install the system packages, build, run the demo.
#   scripts/demo.sh [OUT_DIR] [SIZE]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-demo-out}"
SIZE="${2:-1024}"
scripts/install-deps.sh
cargo build --release --workspace --examples

# 1. Seeded sample data, described.
./target/release/examples/demo "$OUT" "$SIZE"

# 2. The incremental pipeline in Rust: run, rerun (all skipped), edit an input, rerun.
./target/release/examples/pipeline "$OUT/rust-pipeline" "$SIZE"

# 3. The same pipeline as a file, from the shell.
mkdir -p "$OUT/file-pipeline/work"
cp examples/pipeline/pipeline.toml "$OUT/file-pipeline/"
rm -rf "$OUT/file-pipeline/data" && cp -r "$OUT/data" "$OUT/file-pipeline/data"
cp "$OUT/rust-pipeline/biophysical.csv" "$OUT/file-pipeline/"
./target/release/pgp run "$OUT/file-pipeline/pipeline.toml"
./target/release/pgp run "$OUT/file-pipeline/pipeline.toml"
sed -i 's/^3,.*/3,0.9/' "$OUT/file-pipeline/biophysical.csv"
./target/release/pgp run --dry-run "$OUT/file-pipeline/pipeline.toml"
./target/release/pgp run "$OUT/file-pipeline/pipeline.toml"
./target/release/pgp info "$OUT/file-pipeline/work/runoff.tif" | head -12

# 4. Hydrology: the sediment model's routing chain (fill, MFD, accumulation, streams, distance), rerun.
./target/release/examples/hydrology "$OUT/hydrology" "$SIZE"
