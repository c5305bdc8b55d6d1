#!/usr/bin/env bash
# The Python side: a virtual environment in .venv (created if missing) with maturin, numpy and
# pytest, and the `pgp` package (crates/pgp-py) built and installed into it.
#   scripts/python-env.sh [--release]
# Default: a debug build (quick, what the tests use); --release for speed (the demo, benchmarks).
# Idempotent: an existing environment is reused and only the package is rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${PGP_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "maturin>=1.9.4,<2" numpy pytest
# `maturin develop` builds in the workspace's target directory and installs the package in
# editable mode; `pip install crates/pgp-py` works too but builds in an isolated copy.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! VIRTUAL_ENV="$PWD/$VENV" "$VENV/bin/maturin" develop -q -m crates/pgp-py/Cargo.toml "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "python-env: building the pgp package failed" >&2
    exit 1
fi
"$VENV/bin/python" -c "import pgp" || { echo "python-env: the pgp package did not install" >&2; exit 1; }
