#!/usr/bin/env python3
"""The Python peers (pygeoprocessing 2.4, taskgraph 0.11) on pgp's sample data.

Run by `pgp-bench --peer`, one case per process:

    python bench/peer_cases.py CASE --data DIR --out DIR [--workers N]

Prints one JSON line: wall seconds of the peer call only, peak memory (this process and its
children, MiB), and the paths of its outputs, which pgp-bench compares with pgp's before it
reports any time. The operations and formulas are the same as pgp-bench's cases.
"""
import argparse
import csv
import json
import os
import resource
import shutil
import sys
import time

import numpy
from osgeo import gdal, osr

import pygeoprocessing
import pygeoprocessing.kernels
import pygeoprocessing.multiprocessing

gdal.UseExceptions()

# The script's own folder is on sys.path, so the shared case operations import by name.
from case_ops import (
    DEM_NODATA, LULC_NODATA, PRECIP_NODATA, OUT_NODATA, DEM_PIXEL, HEAVY_ITERS, TABLE,
    simple_op, heavy_op, runoff_op, read_table, write_table)


def zonal_json(stats, path):
    def plain(v):
        if v is None:
            return None
        return float(v) if isinstance(v, (float, numpy.floating)) else int(v)
    js = {str(int(fid)): {k: plain(v) for k, v in s.items() if k != 'value_counts'}
          for fid, s in stats.items()}
    with open(path, 'w') as f:
        json.dump(js, f, sort_keys=True)


def polygon_layer(vector, out):
    """A copy of `vector` whose layer is declared MultiPolygon, keeping the feature ids.

    pgp's sample zones mix polygons and multipolygons in a layer of unknown geometry type, which
    pygeoprocessing's zonal_statistics refuses; the copy is made before any timing starts.
    """
    target = os.path.join(out, 'zones_multipolygon.gpkg')
    gdal.VectorTranslate(target, vector, options=gdal.VectorTranslateOptions(
        options=['-preserve_fid'], format='GPKG', geometryType='MULTIPOLYGON'))
    return target


def wkt(epsg):
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs.ExportToWkt()


# Task functions for taskgraph: module level, so its spawned workers can import them.
def tg_align(bases, targets):
    pygeoprocessing.align_and_resize_raster_stack(
        bases, targets, ['bilinear', 'near', 'bilinear'], (DEM_PIXEL, -DEM_PIXEL),
        'intersection', raster_align_index=0)


def tg_calc(dem, lulc, precip, table, target):
    pygeoprocessing.raster_calculator(
        [(dem, 1), (lulc, 1), (precip, 1), (read_table(table), 'raw')],
        runoff_op, target, gdal.GDT_Float32, OUT_NODATA)


def tg_zonal(raster, vector, target):
    zonal_json(pygeoprocessing.zonal_statistics(
        (raster, 1), vector, working_dir=os.path.dirname(target)), target)


def case(name, d, out, workers):
    """Run one case; return (seconds, outputs, phases)."""
    p = lambda f: os.path.join(out, f)
    if name == 'calc_simple':
        t = time.perf_counter()
        pygeoprocessing.raster_calculator(
            [(d['dem'], 1), (d['weight'], 1)], simple_op, p('simple.tif'),
            gdal.GDT_Float32, OUT_NODATA)
        return time.perf_counter() - t, {'simple': p('simple.tif')}, {}
    if name in ('calc_heavy', 'calc_heavy_mp'):
        t = time.perf_counter()
        if name == 'calc_heavy':
            pygeoprocessing.raster_calculator(
                [(d['dem'], 1)], heavy_op, p('heavy.tif'), gdal.GDT_Float32, OUT_NODATA)
        else:
            pygeoprocessing.multiprocessing.raster_calculator(
                [(d['dem'], 1)], heavy_op, p('heavy.tif'), gdal.GDT_Float32, OUT_NODATA,
                n_workers=workers)
        return time.perf_counter() - t, {'heavy': p('heavy.tif')}, {}
    if name == 'align3':
        targets = [p('dem_aligned.tif'), p('landcover_aligned.tif'), p('precip_aligned.tif')]
        t = time.perf_counter()
        pygeoprocessing.align_and_resize_raster_stack(
            [d['dem'], d['landcover'], d['precip']], targets,
            ['bilinear', 'near', 'bilinear'], (DEM_PIXEL, -DEM_PIXEL), 'intersection',
            raster_align_index=0)
        return time.perf_counter() - t, {
            'dem_aligned': targets[0], 'landcover_aligned': targets[1],
            'precip_aligned': targets[2]}, {}
    if name in ('warp_4326', 'warp_4326_threads'):
        t = time.perf_counter()
        pygeoprocessing.warp_raster(
            d['dem'], (0.0003, -0.0003), p('dem_4326.tif'), 'bilinear',
            target_projection_wkt=wkt(4326),
            n_threads=workers if name == 'warp_4326_threads' else None)
        return time.perf_counter() - t, {'dem_4326': p('dem_4326.tif')}, {}
    if name == 'zonal':
        zones = polygon_layer(d['zones'], out)
        t = time.perf_counter()
        stats = pygeoprocessing.zonal_statistics((d['dem'], 1), zones, working_dir=out)
        sec = time.perf_counter() - t
        zonal_json(stats, p('zonal.json'))
        return sec, {'zonal': p('zonal.json')}, {}
    if name in ('convolve_gauss31', 'convolve_gauss31_ignore_nodata'):
        kernel = p('kernel.tif')
        pygeoprocessing.kernels.normal_distribution_kernel(kernel, sigma=5, n_std_dev=3)
        t = time.perf_counter()
        pygeoprocessing.convolve_2d(
            (d['dem'], 1), (kernel, 1), p('convolved.tif'),
            ignore_nodata_and_edges=name.endswith('ignore_nodata'), mask_nodata=True,
            working_dir=out)
        return time.perf_counter() - t, {'convolved': p('convolved.tif')}, {}
    if name.startswith('pipeline'):
        import taskgraph
        table = p('biophysical.csv')
        write_table(table, TABLE)
        aligned = [p('dem_aligned.tif'), p('landcover_aligned.tif'), p('precip_aligned.tif')]
        runoff = p('runoff.tif')
        zonal = p('zonal.json')
        zones = polygon_layer(d['zones'], out)
        n_workers = -1 if name == 'pipeline' else workers

        def run():
            tg = taskgraph.TaskGraph(p('taskgraph_cache'), n_workers)
            a = tg.add_task(func=tg_align, args=([d['dem'], d['landcover'], d['precip']], aligned),
                            target_path_list=aligned, task_name='align')
            c = tg.add_task(func=tg_calc, args=(aligned[0], aligned[1], aligned[2], table, runoff),
                            target_path_list=[runoff], dependent_task_list=[a], task_name='calc')
            tg.add_task(func=tg_zonal, args=(runoff, zones, zonal),
                        target_path_list=[zonal], dependent_task_list=[c], task_name='zonal')
            tg.close()
            tg.join()

        phases = {}
        for phase in ('cold', 'cached', 'changed'):
            if phase == 'changed':
                write_table(table, {**TABLE, 3: 0.9})
            t = time.perf_counter()
            run()
            phases[phase] = time.perf_counter() - t
        return phases['cold'], {'runoff': runoff, 'zonal': zonal}, phases
    raise SystemExit(f'unknown case {name!r}')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('case')
    ap.add_argument('--data', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--workers', type=int, default=2)
    args = ap.parse_args()
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)
    d = {k: os.path.join(args.data, f) for k, f in [
        ('dem', 'dem.tif'), ('weight', 'weight.tif'), ('landcover', 'landcover.tif'),
        ('precip', 'precip.tif'), ('zones', 'zones.gpkg')]}
    seconds, outputs, phases = case(args.case, d, args.out, args.workers)
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024.0
    print(json.dumps({'seconds': seconds, 'peak_rss_mib': rss,
                      'outputs': {k: os.path.abspath(v) for k, v in outputs.items()},
                      'phases': phases}))


if __name__ == '__main__':
    sys.exit(main())
