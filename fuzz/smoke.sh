#!/usr/bin/env bash
# A short fuzz run of every target (CI's smoke test; `cargo fuzz run TARGET` for long runs).
#   fuzz/smoke.sh [SECONDS_PER_TARGET]   (default 20)
# Builds with libFuzzer's coverage flags on the stable toolchain, as cargo-fuzz does with
# `--sanitizer none`, so CI needs neither nightly nor `cargo install cargo-fuzz`. Exits
# non-zero on the first crash, leaving the input in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET="${1:-20}"
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
# --target keeps the flags off build scripts and proc macros (they link no libFuzzer).
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions \
-Coverflow-checks" cargo build --release --bins --target "$TRIPLE"
for target in expression pipeline_file cache_size executor_spec tiff_tiles bounding_box_mode; do
    mkdir -p "corpus/$target" "artifacts/$target"
    "target/$TRIPLE/release/$target" -max_total_time="$SECONDS_PER_TARGET" \
        -artifact_prefix="artifacts/$target/" -print_final_stats=1 \
        "corpus/$target" "seeds/$target" 2>&1 | grep -E "^(stat::number_of_executed_units|Done|==|SUMMARY)" || true
    # A crash leaves an artifact; the grep above must not hide it.
    if compgen -G "artifacts/$target/*" >/dev/null; then
        echo "fuzz: $target crashed, inputs in fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
