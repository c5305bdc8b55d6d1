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
