"""Shared fixtures: seeded rasters written through pgp itself, checked against numpy."""

import numpy
import pytest

import pgp


@pytest.fixture
def rng():
    return numpy.random.default_rng(20261203)


def write(path, array, nodata=None, pixel_size=(30.0, -30.0), origin=(1000.0, 2000.0),
          projection_wkt=None):
    pgp.numpy_array_to_raster(array, nodata, pixel_size, origin, projection_wkt, str(path))
    return str(path)


@pytest.fixture
def pair(tmp_path, rng):
    """Two float32 rasters of 600 x 700 (not a multiple of the 256 tiles), some nodata."""
    a = rng.random((600, 700), dtype=numpy.float32) * 100
    b = rng.random((600, 700), dtype=numpy.float32) * 10
    a[rng.random(a.shape) < 0.05] = -1
    return write(tmp_path / 'a.tif', a, -1), write(tmp_path / 'b.tif', b, -1), a, b


def peer_python():
    """The Python of the peer environment (pygeoprocessing 2.4 + taskgraph 0.11, installed by
    bench/peer-setup.sh at $PGP_PEER_VENV), or None when it is not installed."""
    import os
    import subprocess
    venv = os.environ.get('PGP_PEER_VENV', os.path.expanduser('~/.cache/pgp-peer/venv'))
    python = os.path.join(venv, 'bin', 'python')
    if not os.access(python, os.X_OK):
        return None
    ok = subprocess.run([python, '-c', 'import pygeoprocessing, taskgraph'],
                        capture_output=True).returncode == 0
    return python if ok else None


def run_peer(script, cwd):
    """Runs ``script`` with pygeoprocessing in the peer environment (skips the test without
    it); returns its stdout."""
    import subprocess
    python = peer_python()
    if python is None:
        pytest.skip('the peer environment (bench/peer-setup.sh) is not installed')
    done = subprocess.run([python, '-c', script], cwd=str(cwd), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope='session')
def sample(tmp_path_factory):
    """pgp's seeded sample data, 300 x 300: DEM, weights, land cover, precipitation, zones."""
    return pgp.sample_data(tmp_path_factory.mktemp('sample'), 300, 1)
