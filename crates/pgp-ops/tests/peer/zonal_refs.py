"""pygeoprocessing references for pgp's zonal statistics, convolve_2d, distance transform,
slope and kernels.

Run pygeoprocessing 2.4.11 on the seeded inputs pgp's tests generate, and write small JSON
references (per-feature zonal statistics; statistics and sampled pixels of raster outputs;
kernel values) that the Rust tests compare against. Usage, from crates/pgp-ops:

    cargo run -p pgp-ops --example zonal_peer_inputs -- /tmp/pgp-zonal-inputs
    "$PGP_PEER_VENV"/bin/python tests/peer/zonal_refs.py \
        --data /tmp/pgp-zonal-inputs --out tests/peer/zonal

Notes on how the inputs are handed to pygeoprocessing:
- pgp's sample zones layer has geometry type "Unknown" (it mixes polygons and a
  multipolygon), which pygeoprocessing.zonal_statistics refuses; the script copies it into a
  MultiPolygon layer keeping every FID and geometry.
- For the vector in EPSG:4326, pygeoprocessing 2.4.11 computes its disjoint polygon sets on
  the *unprojected* vector with a bounding box in the raster's CRS, finds no polygon, and
  falls back to envelope windows for every feature. The reference therefore reprojects the
  vector first (pygeoprocessing.reproject_vector) and runs zonal_statistics on that, which
  is what "reproject it first" means.
"""
import argparse
import json
import os
import shutil
import tempfile

import numpy
import pygeoprocessing
import pygeoprocessing.kernels
from osgeo import gdal, ogr, osr

gdal.UseExceptions()
gdal.PushErrorHandler('CPLQuietErrorHandler')

N_SAMPLES = 120
COMPACT = dict(separators=(',', ':'), sort_keys=True)


def as_multipolygon_layer(src_path, dst_path):
    """Copy layer 0 of src into a MultiPolygon-typed GPKG layer, keeping FIDs."""
    src = gdal.OpenEx(src_path, gdal.OF_VECTOR)
    layer = src.GetLayer(0)
    drv = ogr.GetDriverByName('GPKG')
    if os.path.exists(dst_path):
        os.remove(dst_path)
    dst = drv.CreateDataSource(dst_path)
    out = dst.CreateLayer('zones', layer.GetSpatialRef(), ogr.wkbMultiPolygon)
    for feature in layer:
        copy = ogr.Feature(out.GetLayerDefn())
        copy.SetFID(feature.GetFID())
        copy.SetGeometry(feature.GetGeometryRef().Clone())
        out.CreateFeature(copy)
    out, dst, layer, src = None, None, None, None


def jsonable(v):
    if v is None:
        return None
    if isinstance(v, (numpy.integer,)):
        return int(v)
    if isinstance(v, (numpy.floating, float)):
        v = float(v)
        return None if numpy.isnan(v) else v
    return v


def zonal(raster, vector, ignore_nodata=True):
    stats = pygeoprocessing.zonal_statistics(
        (raster, 1), vector, ignore_nodata=ignore_nodata)
    # [min, max, sum, count, nodata_count] per FID.
    return {
        str(fid): [jsonable(s[k]) for k in ('min', 'max', 'sum', 'count', 'nodata_count')]
        for fid, s in sorted(stats.items())}


def sample_positions(n_rows, n_cols, seed):
    rng = numpy.random.RandomState(seed)
    pos = [(0, 0), (0, n_cols - 1), (n_rows - 1, 0), (n_rows - 1, n_cols - 1),
           (n_rows // 2, 0), (0, n_cols // 2)]
    pos += list(zip(rng.randint(0, n_rows, N_SAMPLES).tolist(),
                    rng.randint(0, n_cols, N_SAMPLES).tolist()))
    return pos


def raster_summary(path, seed):
    """Output statistics over non-nodata pixels and sampled pixel values."""
    ds = gdal.OpenEx(path, gdal.OF_RASTER)
    band = ds.GetRasterBand(1)
    a = band.ReadAsArray().astype(numpy.float64)
    nodata = band.GetNoDataValue()
    if nodata is None:
        valid = numpy.ones(a.shape, dtype=bool)
    elif numpy.isnan(nodata):
        valid = ~numpy.isnan(a)
    else:
        valid = a != nodata
    v = a[valid]
    finite = numpy.isfinite(v)
    pos = sample_positions(a.shape[0], a.shape[1], seed)
    out = {
        'size': [a.shape[1], a.shape[0]],
        'datatype': gdal.GetDataTypeName(band.DataType),
        'nodata': jsonable(nodata),
        'nodata_count': int((~valid).sum()),
        'nan_count': int((~finite).sum()),
        'min': jsonable(v[finite].min()) if finite.any() else None,
        'max': jsonable(v[finite].max()) if finite.any() else None,
        'sum': jsonable(v[finite].sum()),
        'samples': [[r, c, jsonable(a[r, c]) if valid[r, c] else 'nodata']
                    for r, c in pos],
    }
    stats = band.GetMetadata()
    if 'STATISTICS_MEAN' in stats:
        out['band_statistics'] = {
            k.replace('STATISTICS_', '').lower(): float(v)
            for k, v in stats.items() if k.startswith('STATISTICS_')}
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--data', required=True)
    parser.add_argument('--out', required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix='pgp-zonal-refs-')
    try:
        for size in (300, 513):
            d = os.path.join(args.data, str(size))
            w = os.path.join(work, str(size))
            os.makedirs(w)
            p = lambda name: os.path.join(d, name)
            q = lambda name: os.path.join(w, name)

            # ---- zonal statistics -------------------------------------------
            as_multipolygon_layer(p('zones.gpkg'), q('zones_mp.gpkg'))
            dem_wkt = pygeoprocessing.get_raster_info(p('dem.tif'))['projection_wkt']
            pygeoprocessing.reproject_vector(
                p('zones_4326.gpkg'), dem_wkt, q('zones_4326_utm.gpkg'),
                driver_name='GPKG', copy_fields=False)
            as_multipolygon_layer(q('zones_4326_utm.gpkg'), q('zones_4326_mp.gpkg'))
            zonal_refs = {
                'dem': zonal(p('dem.tif'), q('zones_mp.gpkg')),
                'weight_nan_nodata': zonal(p('weight.tif'), q('zones_mp.gpkg')),
            }
            if size == 513:
                zonal_refs.update({
                    'dem_keep_nodata': zonal(p('dem.tif'), q('zones_mp.gpkg'), False),
                    'dem_no_nodata': zonal(p('dem_nonodata.tif'), q('zones_mp.gpkg')),
                    'landcover_other_grid': zonal(
                        p('landcover.tif'), q('zones_mp.gpkg')),
                    'dem_zones_4326': zonal(p('dem.tif'), q('zones_4326_mp.gpkg')),
                })
            with open(os.path.join(args.out, f'zonal_{size}.json'), 'w') as f:
                json.dump(zonal_refs, f, **COMPACT)

            # ---- convolve_2d -------------------------------------------------
            conv_cases = {
                'dem_gauss13': dict(signal='dem.tif', kernel='gauss13.tif'),
                'dem_gauss13_ignore_nodata': dict(
                    signal='dem.tif', kernel='gauss13.tif',
                    ignore_nodata_and_edges=True),
                'weight_asym': dict(signal='weight.tif', kernel='asym.tif'),
                'nonodata_asym_f32': dict(
                    signal='dem_nonodata.tif', kernel='asym.tif',
                    target_datatype=gdal.GDT_Float32, target_nodata=-1.0),
                'weight_gauss13_fill_holes': dict(
                    signal='weight.tif', kernel='gauss13.tif',
                    ignore_nodata_and_edges=True, mask_nodata=False,
                    normalize_kernel=True),
            }
            conv_refs = {}
            for seed, (name, case) in enumerate(sorted(conv_cases.items())):
                case = dict(case)
                signal = p(case.pop('signal'))
                kernel = p(case.pop('kernel'))
                target = q(f'{name}.tif')
                pygeoprocessing.convolve_2d(
                    (signal, 1), (kernel, 1), target, working_dir=w, **case)
                conv_refs[name] = raster_summary(target, seed)
            with open(os.path.join(args.out, f'convolve_{size}.json'), 'w') as f:
                json.dump(conv_refs, f, **COMPACT)

            # ---- distance transform and slope --------------------------------
            other = {}
            for seed, sampling in enumerate([(1.0, 1.0), (1.5, 3.0)]):
                target = q(f'dist_{seed}.tif')
                pygeoprocessing.distance_transform_edt(
                    (p('mask.tif'), 1), target, sampling_distance=sampling,
                    working_dir=w)
                other[f'distance_{sampling[0]}_{sampling[1]}'] = raster_summary(
                    target, 10 + seed)
            pygeoprocessing.calculate_slope((p('dem.tif'), 1), q('slope.tif'))
            other['slope_dem'] = raster_summary(q('slope.tif'), 20)
            with open(os.path.join(args.out, f'distance_slope_{size}.json'), 'w') as f:
                json.dump(other, f, **COMPACT)

        # ---- kernels (no size dependence) --------------------------------------
        kernels = {}
        k = pygeoprocessing.kernels
        for name, make in [
                ('normal_5_3', lambda t: k.normal_distribution_kernel(t, 5, 3)),
                ('normal_2_3_raw', lambda t: k.normal_distribution_kernel(
                    t, 2, 3, normalize=False)),
                ('dichotomous_3.5', lambda t: k.dichotomous_kernel(t, 3.5)),
                ('exponential_5_2', lambda t: k.exponential_decay_kernel(t, 5, 2)),
                ('linear_4_raw', lambda t: k.linear_decay_kernel(
                    t, 4, normalize=False)),
        ]:
            target = os.path.join(work, f'{name}.tif')
            make(target)
            ds = gdal.Open(target)
            a = ds.GetRasterBand(1).ReadAsArray()
            kernels[name] = {
                'size': [a.shape[1], a.shape[0]],
                'nodata': ds.GetRasterBand(1).GetNoDataValue(),
                'has_geotransform': ds.GetGeoTransform(can_return_null=True) is not None,
                'values': a.astype(float).tolist(),
            }
        with open(os.path.join(args.out, 'kernels.json'), 'w') as f:
            json.dump(kernels, f, **COMPACT)
    finally:
        shutil.rmtree(work)


if __name__ == '__main__':
    main()
