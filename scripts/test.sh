#!/usr/bin/env bash
# The whole test suite: the Rust workspace, then the Python package's tests (pytest) against a
# debug build of it in .venv (scripts/python-env.sh). Arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace "$@"
scripts/python-env.sh
"${PGP_VENV:-.venv}/bin/python" -m pytest -q crates/pgp-py/python/tests
