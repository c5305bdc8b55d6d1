#!/usr/bin/env bash
# Install what pgp needs beyond the Rust toolchain, on Debian or Ubuntu, as root. Idempotent:
# packages already present are not touched, so it is cheap to run before every build.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# libgdal-dev: the GDAL library the gdal crate links (Debian bookworm ships 3.6.2, whose bindings
# the gdal-sys crate carries, so no bindgen/clang is needed); gdal-bin: gdalinfo, used by tests to
# check our raster info against GDAL's own; pkg-config: how gdal-sys finds the library.
# chromium: the run report's test renders the page headless and looks for the thumbnails in the
# screenshot (about a minute to install; the test skips with a message where it is absent).
# python3-venv: the virtual environment the Python package is built and tested in
# (scripts/python-env.sh), where python3 is Debian's.
PKGS=(libgdal-dev gdal-bin pkg-config chromium)
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then PKGS+=(python3-venv); fi
missing=()
for p in "${PKGS[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-deps: apt-get install ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if command -v rustup >/dev/null 2>&1; then
    for c in rustfmt clippy; do
        rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
    done
fi
