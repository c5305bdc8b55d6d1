#!/usr/bin/env bash
# One command from a fresh clone: install the system packages, build, run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --workspace
cargo run --release --example demo -- "${1:-demo-out}" "${2:-1024}"
