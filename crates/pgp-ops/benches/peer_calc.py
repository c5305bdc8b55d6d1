#!/usr/bin/env python3
"""pygeoprocessing's side of benches/calc.rs: times raster_calculator on the files the bench made.

    python peer_calc.py --dem DEM --weight WEIGHT --out-dir DIR [--cases simple,heavy,heavy_mp2]

Prints one JSON line per case: {"case", "seconds", "cpu", "output"}. The local ops are the peers'
benchmark formulas (simple: a*2+b in float32; heavy: 32 rounds of sin/exp/cos/sqrt in float64),
with output float32 and nodata -9999; statistics on (pygeoprocessing's default).
"""
import argparse
import json
import os
import resource
import time

import numpy
from osgeo import gdal

import pygeoprocessing
import pygeoprocessing.multiprocessing

NODATA = -9999.0


def simple(a, b):
    out = numpy.full(a.shape, NODATA, dtype=numpy.float32)
    ok = (a != NODATA) & ~numpy.isnan(b)
    out[ok] = a[ok] * numpy.float32(2.0) + b[ok]
    return out


def heavy(a):
    out = numpy.full(a.shape, NODATA, dtype=numpy.float32)
    ok = a != NODATA
    x = a[ok].astype(numpy.float64) * 1e-3
    acc = numpy.zeros_like(x)
    for i in range(1, 33):
        acc += numpy.sin(x * i) * numpy.exp(-x / i) + numpy.sqrt(numpy.abs(numpy.cos(x + i)))
    out[ok] = acc
    return out


def cpu_seconds():
    """User + system CPU of this process and its finished children (multiprocessing workers)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        u = resource.getrusage(who)
        total += u.ru_utime + u.ru_stime
    return total


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--dem', required=True)
    p.add_argument('--weight', required=True)
    p.add_argument('--out-dir', required=True)
    p.add_argument('--cases', default='simple,heavy,heavy_mp2')
    p.add_argument('--repeat', type=int, default=1, help='runs per case; the best is reported')
    args = p.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    for case in args.cases.split(','):
        best = None
        for _ in range(max(1, args.repeat)):
            run = run_case(case, args)
            if best is None or run['seconds'] < best['seconds']:
                best = run
        print(json.dumps(best), flush=True)


def run_case(case, args):
    """One timed run of `case`: {"case", "seconds", "cpu", "output"}."""
    out = os.path.join(args.out_dir, f'peer_{case}.tif')
    if os.path.exists(out):
        os.remove(out)
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    if case == 'simple':
        pygeoprocessing.raster_calculator(
            [(args.dem, 1), (args.weight, 1)], simple, out, gdal.GDT_Float32, NODATA)
    elif case == 'heavy':
        pygeoprocessing.raster_calculator(
            [(args.dem, 1)], heavy, out, gdal.GDT_Float32, NODATA)
    elif case == 'heavy_mp2':
        pygeoprocessing.multiprocessing.raster_calculator(
            [(args.dem, 1)], heavy, out, gdal.GDT_Float32, NODATA, n_workers=2)
    else:
        raise SystemExit(f'unknown case {case}')
    seconds = time.perf_counter() - t0
    cpu = cpu_seconds() - c0
    return {'case': case, 'seconds': seconds, 'cpu': cpu, 'output': out}


if __name__ == '__main__':
    main()
