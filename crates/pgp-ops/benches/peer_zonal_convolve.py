"""Times pygeoprocessing on the files the zonal_convolve benchmark wrote (same inputs).

Usage: python peer_zonal_convolve.py DATA_DIR WORK_DIR
Prints one JSON object: {case: {wall, cpu}} in seconds. Called by `cargo bench -p pgp-ops --bench zonal_convolve`.
"""
import json
import os
import sys
import time

import pygeoprocessing
import pygeoprocessing.kernels
from osgeo import gdal, ogr

gdal.UseExceptions()
gdal.PushErrorHandler('CPLQuietErrorHandler')


def as_multipolygon_layer(src_path, dst_path):
    """pygeoprocessing refuses layers of type Unknown: copy into a MultiPolygon layer, same FIDs."""
    src = gdal.OpenEx(src_path, gdal.OF_VECTOR)
    layer = src.GetLayer(0)
    if os.path.exists(dst_path):
        os.remove(dst_path)
    dst = ogr.GetDriverByName('GPKG').CreateDataSource(dst_path)
    out = dst.CreateLayer('zones', layer.GetSpatialRef(), ogr.wkbMultiPolygon)
    for feature in layer:
        copy = ogr.Feature(out.GetLayerDefn())
        copy.SetFID(feature.GetFID())
        copy.SetGeometry(feature.GetGeometryRef().Clone())
        out.CreateFeature(copy)


def timed(fn):
    """Wall and CPU seconds (all threads of this process) of fn()."""
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return {'wall': time.perf_counter() - start, 'cpu': time.process_time() - cpu}


def main():
    data, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    dem = os.path.join(data, 'dem.tif')
    kernel = os.path.join(data, 'gauss31.tif')
    zones = os.path.join(work, 'zones_mp.gpkg')
    as_multipolygon_layer(os.path.join(data, 'zones.gpkg'), zones)
    out = {}
    out['zonal_statistics'] = timed(
        lambda: pygeoprocessing.zonal_statistics((dem, 1), zones, working_dir=work))
    out['convolve_2d_gauss31'] = timed(lambda: pygeoprocessing.convolve_2d(
        (dem, 1), (kernel, 1), os.path.join(work, 'conv.tif'), working_dir=work))
    out['convolve_2d_gauss31_ignore_nodata'] = timed(lambda: pygeoprocessing.convolve_2d(
        (dem, 1), (kernel, 1), os.path.join(work, 'conv_ignore.tif'),
        ignore_nodata_and_edges=True, working_dir=work))
    out['calculate_slope'] = timed(lambda: pygeoprocessing.calculate_slope(
        (dem, 1), os.path.join(work, 'slope.tif')))
    mask = os.path.join(data, 'mask.tif')
    out['distance_transform_edt'] = timed(lambda: pygeoprocessing.distance_transform_edt(
        (mask, 1), os.path.join(work, 'dist.tif'), working_dir=work))
    print(json.dumps(out))


if __name__ == '__main__':
    main()
