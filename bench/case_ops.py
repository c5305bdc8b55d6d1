"""The per-pixel operations and the table of the benchmark cases, shared by the peer script
(bench/peer_cases.py, run with pygeoprocessing) and the Python package's bench
(bench/python_bench.py, run with pgp), so both compute exactly the same thing. numpy only.
"""

import csv

import numpy

DEM_NODATA = -9999.0
LULC_NODATA = 255
PRECIP_NODATA = -32768
OUT_NODATA = -9999.0
DEM_PIXEL = 30.0
HEAVY_ITERS = 32
TABLE = {k: round(0.1 * k, 3) for k in range(1, 13) if k != 7}


def simple_op(a, b):
    out = numpy.full(a.shape, OUT_NODATA, dtype=numpy.float32)
    valid = (a != DEM_NODATA) & ~numpy.isnan(b)
    out[valid] = a[valid] * numpy.float32(2.0) + b[valid]
    return out


def heavy_op(a):
    out = numpy.full(a.shape, OUT_NODATA, dtype=numpy.float32)
    valid = a != DEM_NODATA
    x = a[valid].astype(numpy.float64) * 1e-3
    acc = numpy.zeros_like(x)
    for i in range(1, HEAVY_ITERS + 1):
        acc += numpy.sin(x * i) * numpy.exp(-x / i) + numpy.sqrt(numpy.abs(numpy.cos(x + i)))
    out[valid] = acc
    return out


def runoff_op(dem, lulc, precip, lut):
    out = numpy.full(dem.shape, OUT_NODATA, dtype=numpy.float32)
    coef = lut[lulc]
    valid = ((dem != DEM_NODATA) & (lulc != LULC_NODATA) &
             (precip != PRECIP_NODATA) & ~numpy.isnan(coef))
    out[valid] = (precip[valid].astype(numpy.float32) * coef[valid] *
                  (numpy.float32(1.0) + dem[valid] / numpy.float32(1000.0)))
    return out


def read_table(path):
    lut = numpy.full(256, numpy.nan, dtype=numpy.float32)
    with open(path, newline='') as f:
        for row in csv.DictReader(f):
            lut[int(row['lucode'])] = float(row['coef'])
    return lut


def write_table(path, table):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['lucode', 'coef'])
        for k in sorted(table):
            w.writerow([k, table[k]])
