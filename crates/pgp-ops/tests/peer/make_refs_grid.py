#!/usr/bin/env python3
"""Reference outputs of pygeoprocessing's warp/align functions for pgp's parity test.

Usage (from the repository root, with the peer virtual environment):

    cargo run -p pgp-ops --example peer_inputs -- /tmp/peer_inputs
    "$PGP_PEER_VENV"/bin/python crates/pgp-ops/tests/peer/make_refs_grid.py /tmp/peer_inputs \
        crates/pgp-ops/tests/peer/refs.json

The inputs are pgp's own seeded sample data (so the test can regenerate them); their pixel
checksums are recorded so the test notices when the generator changes. For every output the
JSON holds the grid (size, geotransform), nodata, type, sha256 of band 1's pixels (raw
little-endian, row-major), statistics over valid pixels, and a strided sample of pixel values
(for comparisons with a tolerance).
"""
import hashlib
import json
import math
import os
import re
import sys
import tempfile

import numpy
from osgeo import gdal, osr

import pygeoprocessing

gdal.UseExceptions()

SIZES = [300, 513]
SAMPLES = 120
# Methods whose outputs may differ in the last digits between implementations: their outputs
# carry a pixel sample for a comparison with a tolerance.
INTERPOLATING = {'bilinear', 'cubic', 'cubicspline', 'lanczos', 'average'}


def wkt(epsg):
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs.ExportToWkt()


def describe(path, with_sample=False):
    ds = gdal.Open(path)
    band = ds.GetRasterBand(1)
    arr = band.ReadAsArray()
    nodata = band.GetNoDataValue()
    valid = numpy.ones(arr.shape, dtype=bool)
    if nodata is not None:
        valid = ~numpy.isnan(arr) if math.isnan(nodata) else arr != nodata
    if arr.dtype.kind == 'f':
        valid &= ~numpy.isnan(arr)
    v = arr[valid].astype(numpy.float64)
    flat = arr.ravel()
    stride = max(1, flat.size // SAMPLES)
    sample = [None if (isinstance(x, float) and math.isnan(x)) else x
              for x in flat[::stride].astype(numpy.float64).tolist()]
    return {
        'size': [ds.RasterXSize, ds.RasterYSize],
        'geotransform': list(ds.GetGeoTransform()),
        'nodata': None if nodata is None else (
            'nan' if math.isnan(nodata) else nodata),
        'dtype': gdal.GetDataTypeName(band.DataType),
        'sha256': hashlib.sha256(
            numpy.ascontiguousarray(arr).astype(arr.dtype.newbyteorder('<')).tobytes()
        ).hexdigest(),
        'valid_count': int(valid.sum()),
        'sum': float(v.sum()) if v.size else 0.0,
        'min': float(v.min()) if v.size else None,
        'max': float(v.max()) if v.size else None,
        'sample_stride': stride if with_sample else None,
        'sample': sample if with_sample else None,
    }


def cases(d, ws):
    """name -> (callable producing outputs, {output name: path})."""
    dem, lc, precip = (os.path.join(d, n) for n in ('dem.tif', 'landcover.tif', 'precip.tif'))
    weight = os.path.join(d, 'weight.tif')
    lc_plain = os.path.join(d, 'landcover_plain.tif')
    out = lambda n: os.path.join(ws, n)
    stack = [dem, lc, precip]
    names3 = ['dem', 'landcover', 'precip']
    dem_bb = pygeoprocessing.get_raster_info(dem)['bounding_box']

    def align(name, methods, px, mode, idx):
        targets = [out(f'{name}_{n}.tif') for n in names3]
        return (lambda: pygeoprocessing.align_and_resize_raster_stack(
            stack, targets, methods, px, mode, raster_align_index=idx),
            {n: (t, m in INTERPOLATING) for n, t, m in zip(names3, targets, methods)})

    def warp(name, base, px, method, **kw):
        target = out(f'{name}.tif')
        return (lambda: pygeoprocessing.warp_raster(base, px, target, method, **kw),
                {'out': (target, method in INTERPOLATING)})

    return {
        'align_intersection_idx0': align(
            'a1', ['bilinear', 'near', 'bilinear'], (30, -30), 'intersection', 0),
        'align_intersection_noidx': align(
            'a2', ['bilinear', 'near', 'bilinear'], (30, -30), 'intersection', None),
        'align_union_45': align(
            'a3', ['near', 'mode', 'cubic'], (45, -45), 'union', None),
        'warp_dem_4326_bilinear': warp(
            'w1', dem, (0.0003, -0.0003), 'bilinear', target_projection_wkt=wkt(4326)),
        'warp_dem_4326_near': warp(
            'w2', dem, (0.0003, -0.0003), 'near', target_projection_wkt=wkt(4326)),
        'warp_weight_45_cubic': warp('w3', weight, (45, -45), 'cubic'),
        'warp_landcover_plain_to_dem_box': warp(
            'w4', lc_plain, (30, -30), 'near', target_bb=dem_bb),
    }


def main():
    inputs, out_path = sys.argv[1], sys.argv[2]
    refs = {'pygeoprocessing': pygeoprocessing.__version__,
            'gdal': gdal.__version__, 'sizes': {}}
    for size in SIZES:
        d = os.path.join(inputs, str(size))
        entry = {'inputs': {}, 'cases': {}}
        for name in ('dem', 'landcover', 'precip', 'weight', 'landcover_plain'):
            entry['inputs'][name] = describe(os.path.join(d, f'{name}.tif'))['sha256']
        dem_info = pygeoprocessing.get_raster_info(os.path.join(d, 'dem.tif'))
        entry['transform_bbox_dem_4326'] = pygeoprocessing.transform_bounding_box(
            dem_info['bounding_box'], dem_info['projection_wkt'], wkt(4326))
        with tempfile.TemporaryDirectory() as ws:
            for name, (run, outputs) in cases(d, ws).items():
                run()
                entry['cases'][name] = {
                    k: describe(p, sampled) for k, (p, sampled) in outputs.items()}
        refs['sizes'][str(size)] = entry
    text = json.dumps(refs, indent=1, sort_keys=True, allow_nan=False)
    # One line per list of numbers keeps the file short and readable.
    text = re.sub(r'\[\s+([^\[\]{}]*?)\s+\]',
                  lambda m: '[' + ' '.join(m.group(1).split()) + ']', text)
    with open(out_path, 'w') as f:
        f.write(text + '\n')


if __name__ == '__main__':
    main()
