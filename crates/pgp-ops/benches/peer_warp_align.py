#!/usr/bin/env python3
"""pygeoprocessing's side of the warp/align benchmark (run by benches/warp_align.rs).

    python peer_warp_align.py <data dir> <output dir>

Times the calls the Rust benchmark times, on the same files, and prints one JSON object:
{case: {"seconds": s, "cpu_seconds": s, "outputs": {name: path}}}.
"""
import json
import os
import sys
import time

from osgeo import gdal, osr

import pygeoprocessing

gdal.UseExceptions()


def main():
    data, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    stack = [os.path.join(data, n) for n in ('dem.tif', 'landcover.tif', 'precip.tif')]
    results = {}

    targets = [os.path.join(out, f'peer_{n}_aligned.tif') for n in ('dem', 'landcover', 'precip')]
    t, cpu = time.perf_counter(), time.process_time()
    pygeoprocessing.align_and_resize_raster_stack(
        stack, targets, ['bilinear', 'near', 'bilinear'], (30.0, -30.0), 'intersection',
        raster_align_index=0)
    results['align3'] = {'seconds': time.perf_counter() - t,
                         'cpu_seconds': time.process_time() - cpu,
                         'outputs': dict(zip(('dem', 'landcover', 'precip'), targets))}

    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    for case, n_threads in (('warp_4326', None), ('warp_4326_nthreads2', 2)):
        target = os.path.join(out, f'peer_{case}.tif')
        t, cpu = time.perf_counter(), time.process_time()
        pygeoprocessing.warp_raster(
            stack[0], (0.0003, -0.0003), target, 'bilinear',
            target_projection_wkt=srs.ExportToWkt(), n_threads=n_threads)
        results[case] = {'seconds': time.perf_counter() - t,
                         'cpu_seconds': time.process_time() - cpu,
                         'outputs': {'warped': target}}

    print(json.dumps(results))


if __name__ == '__main__':
    main()
