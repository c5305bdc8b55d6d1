#!/usr/bin/env python3
"""Reference outputs of pygeoprocessing 2.4 for pgp-ops' calculator tests.

Run with the peer venv (see ../shared/peer/setup.sh):

    "$PGP_PEER_VENV"/bin/python crates/pgp-ops/tests/peer/make_refs.py

Inputs are small rasters defined by integer formulas (see `pixel_*`), which the Rust tests
(tests/calc_peer.rs) rebuild value for value. The script runs pygeoprocessing on them and writes
calc_refs.json next to itself: per case, the output size, type and nodata, the sha256 of the
pixel buffer (little-endian, row-major, band 1), the valid pixel count and the statistics
pygeoprocessing wrote. For the CPU-heavy op (float64 transcendental math) it also stores the
output pixels themselves, so the test can count ulp differences.
"""
import base64
import hashlib
import json
import os
import tempfile

import numpy
from osgeo import gdal, osr

import pygeoprocessing

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_NODATA = -9999.0
A_NODATA = -9999.0
LC_NODATA = 255
SIZES = [(256, 256), (300, 300), (517, 263)]
ORIGIN = (400000.0, 5000000.0)
PIXEL = 30.0


# Input formulas: integer arithmetic, then one exact scaling, so both sides get the same floats.
def pixel_a(r, c):
    v = ((r * 37 + c * 91) % 2003) * 0.25 - 100.0
    return numpy.where((r * 13 + c * 7) % 29 == 0, A_NODATA, v)


def pixel_b(r, c):
    v = ((r * 53 + c * 17) % 977) * 0.125
    return numpy.where((r + 2 * c) % 31 == 0, numpy.nan, v)


def pixel_c(r, c):
    return ((r * 3 + c * 5) % 101) - 50.0


def pixel_lc(r, c):
    v = (r * 7 + c * 3) % 13 + 1
    return numpy.where((r * c) % 23 == 5, LC_NODATA, v)


def write(path, array, dtype, nodata):
    drv = gdal.GetDriverByName('GTiff')
    rows, cols = array.shape
    ds = drv.Create(path, cols, rows, 1, dtype,
                    options=['TILED=YES', 'BLOCKXSIZE=256', 'BLOCKYSIZE=256', 'COMPRESS=LZW'])
    ds.SetGeoTransform([ORIGIN[0], PIXEL, 0.0, ORIGIN[1], 0.0, -PIXEL])
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32631)
    ds.SetProjection(srs.ExportToWkt())
    band = ds.GetRasterBand(1)
    if nodata is not None:
        band.SetNoDataValue(nodata)
    band.WriteArray(array)
    ds = None


def make_inputs(d, size):
    cols, rows = size
    r, c = numpy.mgrid[0:rows, 0:cols].astype(numpy.int64)
    paths = {k: os.path.join(d, f'{k}_{cols}x{rows}.tif') for k in ('a', 'b', 'c', 'lc')}
    write(paths['a'], pixel_a(r, c).astype(numpy.float32), gdal.GDT_Float32, A_NODATA)
    write(paths['b'], pixel_b(r, c).astype(numpy.float32), gdal.GDT_Float32, float('nan'))
    write(paths['c'], pixel_c(r, c).astype(numpy.float32), gdal.GDT_Float32, None)
    write(paths['lc'], pixel_lc(r, c).astype(numpy.uint8), gdal.GDT_Byte, LC_NODATA)
    return paths


# Local operations: the same formulas as ../shared/peer/bench_peer.py where they exist.
def simple_op(a, b):
    out = numpy.full(a.shape, OUT_NODATA, dtype=numpy.float32)
    valid = (a != A_NODATA) & ~numpy.isnan(b)
    out[valid] = a[valid] * numpy.float32(2.0) + b[valid]
    return out


def heavy_op(a):
    out = numpy.full(a.shape, OUT_NODATA, dtype=numpy.float32)
    valid = a != A_NODATA
    x = a[valid].astype(numpy.float64) * 1e-3
    acc = numpy.zeros_like(x)
    for i in range(1, 33):
        acc += (numpy.sin(x * i) * numpy.exp(-x / i) +
                numpy.sqrt(numpy.abs(numpy.cos(x + i))))
    out[valid] = acc
    return out


def no_nodata_op(c):
    return c * numpy.float32(3.0) + numpy.float32(1.0)


def nan_op(b):
    return b * numpy.float32(2.0)


def broadcast_op(a, row, col):
    return (a.astype(numpy.float64) + row * col).astype(numpy.float32)


def to_byte_op(a):
    return a.astype(numpy.float64) / 10.0


def describe(path, keep_pixels=False):
    ds = gdal.Open(path)
    band = ds.GetRasterBand(1)
    arr = band.ReadAsArray()
    nodata = band.GetNoDataValue()
    stats = band.GetStatistics(False, False)
    if nodata is None:
        valid = numpy.ones(arr.shape, bool)
    elif numpy.isnan(nodata):
        valid = ~numpy.isnan(arr)
    else:
        valid = arr != numpy.array(nodata).astype(arr.dtype)
    if arr.dtype.kind == 'f':
        valid &= ~numpy.isnan(arr)
    rec = {
        'size': [ds.RasterXSize, ds.RasterYSize],
        'datatype': gdal.GetDataTypeName(band.DataType),
        'nodata': None if nodata is None else ('nan' if numpy.isnan(nodata) else nodata),
        'geotransform': list(ds.GetGeoTransform()),
        'sha256': hashlib.sha256(arr.astype(arr.dtype.newbyteorder('<')).tobytes()).hexdigest(),
        'valid_count': int(valid.sum()),
        'statistics': None if stats is None or stats == [0, 0, 0, -1] else list(stats),
    }
    if keep_pixels:
        rec['pixels_le_base64'] = base64.b64encode(
            arr.astype(arr.dtype.newbyteorder('<')).tobytes()).decode()
    return rec


def main():
    refs = {'pygeoprocessing': pygeoprocessing.__version__, 'gdal': gdal.__version__,
            'numpy': numpy.__version__, 'cases': {}}
    cases = refs['cases']
    with tempfile.TemporaryDirectory() as d:
        for size in SIZES:
            p = make_inputs(d, size)
            tag = f'{size[0]}x{size[1]}'
            out = os.path.join(d, f'simple_{tag}.tif')
            pygeoprocessing.raster_calculator(
                [(p['a'], 1), (p['b'], 1)], simple_op, out, gdal.GDT_Float32, OUT_NODATA)
            cases[f'simple_{tag}'] = describe(out)

            out = os.path.join(d, f'no_nodata_{tag}.tif')
            pygeoprocessing.raster_calculator(
                [(p['c'], 1)], no_nodata_op, out, gdal.GDT_Float32, None)
            cases[f'no_nodata_{tag}'] = describe(out)

            out = os.path.join(d, f'nan_nodata_{tag}.tif')
            pygeoprocessing.raster_calculator(
                [(p['b'], 1)], nan_op, out, gdal.GDT_Float32, float('nan'))
            cases[f'nan_nodata_{tag}'] = describe(out)

            cols, rows = size
            row = numpy.arange(cols, dtype=numpy.float64) * 0.5
            col = (numpy.arange(rows, dtype=numpy.float64) % 7).reshape((rows, 1))
            out = os.path.join(d, f'broadcast_{tag}.tif')
            pygeoprocessing.raster_calculator(
                [(p['a'], 1), row, col], broadcast_op, out, gdal.GDT_Float32, OUT_NODATA)
            cases[f'broadcast_{tag}'] = describe(out)

            out = os.path.join(d, f'to_byte_{tag}.tif')
            pygeoprocessing.raster_calculator(
                [(p['a'], 1)], to_byte_op, out, gdal.GDT_Byte, 0)
            cases[f'to_byte_{tag}'] = describe(out)

            out = os.path.join(d, f'reclassify_{tag}.tif')
            value_map = {k: k * 1.5 for k in range(1, 14)}
            pygeoprocessing.reclassify_raster(
                (p['lc'], 1), value_map, out, gdal.GDT_Float32, -1.0)
            cases[f'reclassify_{tag}'] = describe(out)

            out = os.path.join(d, f'raster_map_{tag}.tif')
            pygeoprocessing.raster_map(
                lambda a, b: a * numpy.float32(2.0) + b, [p['a'], p['b']], out)
            cases[f'raster_map_{tag}'] = describe(out)

            # Into an integer type numpy truncates (a / 7 has many halves: GDAL would round).
            out = os.path.join(d, f'raster_map_int16_{tag}.tif')
            pygeoprocessing.raster_map(
                lambda a: a / 7, [p['a']], out, target_dtype=numpy.int16)
            cases[f'raster_map_int16_{tag}'] = describe(out)

            cases[f'reduce_sum_{tag}'] = {'value': float(pygeoprocessing.raster_reduce(
                lambda total, block: total + numpy.sum(block.astype(numpy.float64)),
                (p['a'], 1), 0.0))}
            hist = pygeoprocessing.raster_reduce(
                lambda h, block: h + numpy.histogram(block, bins=10, range=(-100, 400))[0],
                (p['a'], 1), numpy.zeros(10, dtype=numpy.int64))
            cases[f'reduce_histogram_{tag}'] = {'value': [int(v) for v in hist]}

        p = make_inputs(d, (64, 48))
        out = os.path.join(d, 'heavy_64x48.tif')
        pygeoprocessing.raster_calculator(
            [(p['a'], 1)], heavy_op, out, gdal.GDT_Float32, OUT_NODATA)
        cases['heavy_64x48'] = describe(out, keep_pixels=True)
    with open(os.path.join(HERE, 'calc_refs.json'), 'w') as f:
        json.dump(refs, f, indent=1, sort_keys=True)
        f.write('\n')


if __name__ == '__main__':
    main()
