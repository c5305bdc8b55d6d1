#!/usr/bin/env bash
# One command from a fresh clone: install the system packages, build, run the demo.
#   scripts/demo.sh [OUT_DIR] [SIZE]
# OUT_DIR defaults to demo-out, SIZE (pixels a side of the sample rasters) to $PGP_DEMO_SIZE,
# else 1024. PGP_DEMO_PROFILE picks the cargo profile (default release; CI uses `test`, the
# profile `cargo test` has just built, so the demo costs no second build of the workspace).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-demo-out}"
SIZE="${2:-${PGP_DEMO_SIZE:-1024}}"
PROFILE="${PGP_DEMO_PROFILE:-release}"
case "$PROFILE" in
    release) BIN=target/release ;;
    dev | test) BIN=target/debug ;;
    *) echo "demo: PGP_DEMO_PROFILE must be release, dev or test, got $PROFILE" >&2; exit 2 ;;
esac
scripts/install-deps.sh
# The `pgp` binary as well as the examples: `--examples` alone builds no binaries.
cargo build --profile "$PROFILE" --workspace --bins --examples
PGP="$BIN/pgp"

# 1. Seeded sample data, described.
"$BIN/examples/demo" "$OUT" "$SIZE"

# 2. The incremental pipeline in Rust: run, rerun (all skipped), edit an input, rerun.
"$BIN/examples/pipeline" "$OUT/rust-pipeline" "$SIZE"

# 3. The same pipeline as a file, from the shell.
mkdir -p "$OUT/file-pipeline/work"
cp examples/pipeline/pipeline.toml "$OUT/file-pipeline/"
rm -rf "$OUT/file-pipeline/data" && cp -r "$OUT/data" "$OUT/file-pipeline/data"
cp "$OUT/rust-pipeline/biophysical.csv" "$OUT/file-pipeline/"
"$PGP" run "$OUT/file-pipeline/pipeline.toml"
"$PGP" run "$OUT/file-pipeline/pipeline.toml"
sed -i 's/^3,.*/3,0.9/' "$OUT/file-pipeline/biophysical.csv"
"$PGP" run --dry-run "$OUT/file-pipeline/pipeline.toml"
"$PGP" run "$OUT/file-pipeline/pipeline.toml"
"$PGP" info "$OUT/file-pipeline/work/runoff.tif" | head -12

# 4. Hydrology: the sediment model's routing chain (fill, MFD, accumulation, streams, distance), rerun.
"$BIN/examples/hydrology" "$OUT/hydrology" "$SIZE"

# 5. From Python: the `pgp` package (built into .venv) runs pygeoprocessing's raster_calculator.
if [ "$PROFILE" = release ]; then scripts/python-env.sh --release; else scripts/python-env.sh; fi
"${PGP_VENV:-.venv}/bin/python" examples/python/demo.py "$OUT/data" "$OUT/python"
