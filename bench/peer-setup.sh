#!/usr/bin/env bash
# Install the Python peers for `pgp-bench --peer`: pygeoprocessing 2.4.11 and taskgraph 0.11.2
# from PyPI on Debian's GDAL Python bindings, in a virtual environment at
# $PGP_PEER_VENV (default ~/.cache/pgp-peer/venv). Idempotent. Run as root on Debian/Ubuntu.
#
# pygeoprocessing 2.4 ships no Linux wheels: pip builds it from source, which needs Cython 3.0
# (3.1 fails on routing.pyx) and setuptools >= 77, hence --no-build-isolation with both
# pre-installed. Debian's python3-gdal is built against numpy 1.x, hence numpy 1.26.
set -euo pipefail
VENV="${PGP_PEER_VENV:-$HOME/.cache/pgp-peer/venv}"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1

PKGS=(libgdal-dev gdal-bin python3-gdal python3-venv python3-dev g++)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
[ -x "$VENV/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$VENV"
PY="$VENV/bin/python"
if "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('pygeoprocessing') != '2.4.11' or m.version('taskgraph') != '0.11.2')" 2>/dev/null; then
    echo "peer-setup: peers already installed in $VENV"
    exit 0
fi
"$PY" -m pip install -q "numpy==1.26.4" "cython==3.0.12" "setuptools>=77" wheel setuptools_scm
"$PY" -m pip install -q --no-build-isolation "pygeoprocessing==2.4.11" "taskgraph==0.11.2" \
    "scipy==1.17.1" "shapely==2.2.0" "rtree==1.4.1" "psutil==7.2.2" "retrying==1.4.2"
"$PY" -c "import pygeoprocessing, taskgraph; print('peer-setup: pygeoprocessing', pygeoprocessing.__version__, 'taskgraph', taskgraph.__version__)"
