"""Evidence for docs/differences-from-pygeoprocessing.md: what pygeoprocessing 2.4.11 returns on
small inputs where pgp differs on purpose, against an independent computation (numpy).

    "$PGP_PEER_VENV/bin/python" bench/peer_differences.py     # after bench/peer-setup.sh
"""
import os
import tempfile

import numpy
import pygeoprocessing
from osgeo import gdal, ogr, osr

gdal.UseExceptions()
WORK = tempfile.mkdtemp(prefix="pgp-differences-")
SRS = osr.SpatialReference()
SRS.ImportFromEPSG(32631)


def raster(name, array, nodata, gdal_type=gdal.GDT_Float32, origin=(0.0, 0.0), pixel=(1.0, -1.0)):
    path = os.path.join(WORK, name)
    rows, cols = array.shape
    ds = gdal.GetDriverByName("GTiff").Create(path, cols, rows, 1, gdal_type)
    ds.SetGeoTransform([origin[0], pixel[0], 0, origin[1], 0, pixel[1]])
    ds.SetProjection(SRS.ExportToWkt())
    band = ds.GetRasterBand(1)
    if nodata is not None:
        band.SetNoDataValue(nodata)
    band.WriteArray(array)
    ds = None
    return path


def read(path):
    ds = gdal.Open(path)
    band = ds.GetRasterBand(1)
    return band.ReadAsArray().astype(numpy.float64), band.GetNoDataValue(), ds.GetGeoTransform()


def brute_distance(region, sx, sy):
    pts = numpy.argwhere(region)
    rows, cols = region.shape
    out = numpy.empty(region.shape)
    for r in range(rows):
        for c in range(cols):
            out[r, c] = numpy.min(numpy.hypot(sx * (c - pts[:, 1]), sy * (r - pts[:, 0])))
    return out


def edt_anisotropic():
    rng = numpy.random.default_rng(3)
    region = (rng.uniform(size=(300, 60)) < 0.002).astype(numpy.int16)
    src = raster("region.tif", region, None, gdal.GDT_Int16)
    dst = os.path.join(WORK, "edt.tif")
    pygeoprocessing.distance_transform_edt((src, 1), dst, sampling_distance=(30, 45), working_dir=WORK)
    got, _, _ = read(dst)
    want = brute_distance(region != 0, 30, 45)
    bad = numpy.abs(got - want) > 1e-3
    example = ""
    if bad.any():
        r, c = numpy.argwhere(bad)[numpy.argmin(want[bad])]
        example = f"; e.g. row {r}, column {c}: {got[r, c]:g}, brute force {want[r, c]:g}"
    print(f"edt sampling (30, 45), {int(region.sum())} region pixels in 300 rows x 60 columns: "
          f"{int(bad.sum())} of {got.size} pixels differ from brute force{example}")


def edt_nan_nodata():
    a = numpy.zeros((9, 9), numpy.float32)
    a[0, 0] = 1
    a[8, 8] = numpy.nan
    src = raster("region_nan.tif", a, float("nan"))
    dst = os.path.join(WORK, "edt_nan.tif")
    pygeoprocessing.distance_transform_edt((src, 1), dst, working_dir=WORK)
    got, _, _ = read(dst)
    region = (a != 0) & ~numpy.isnan(a)
    want = brute_distance(region, 1, 1)
    bad = numpy.sum(numpy.abs(got - want) > 1e-3)
    print(f"edt NaN nodata: region pixel at (0, 0), NaN at (8, 8); distance at (8, 8) {got[8, 8]:g}, "
          f"at (7, 7) {got[7, 7]:g} (brute force without the NaN: {want[7, 7]:g}); {bad} of "
          f"{got.size} pixels differ")


def stitch_nan_base():
    base = numpy.full((4, 4), 5.0, numpy.float32)
    base[1:3, 1:3] = numpy.nan
    src = raster("stitch_base.tif", base, float("nan"))
    target = raster("stitch_target.tif", numpy.full((4, 4), -1.0, numpy.float32), -1.0)
    pygeoprocessing.stitch_rasters([(src, 1)], ["near"], (target, 1))
    got, nodata, _ = read(target)
    print(f"stitch NaN-nodata base: {int(numpy.isnan(got).sum())} of 4 NaN (nodata) base pixels "
          f"written into the target as NaN (target nodata {nodata:g}); want 0")


def vector_extents_anchor():
    vec = os.path.join(WORK, "box.gpkg")
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(vec)
    layer = ds.CreateLayer("box", SRS, ogr.wkbPolygon)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(ogr.CreateGeometryFromWkt("POLYGON ((0 0, 100 0, 100 95, 0 95, 0 0))"))
    layer.CreateFeature(feature)
    ds = None
    made = os.path.join(WORK, "from_extents.tif")
    pygeoprocessing.create_raster_from_vector_extents(vec, made, (10, -10), gdal.GDT_Float32, -1)
    _, _, gt = read(made)
    rows = gdal.Open(made).RasterYSize
    base = raster("base95.tif", numpy.ones((19, 20), numpy.float32), -1.0, origin=(0, 95), pixel=(5, -5))
    warped = os.path.join(WORK, "warped.tif")
    pygeoprocessing.warp_raster(base, (10, -10), warped, "near", target_bb=[0, 0, 100, 95])
    _, _, wgt = read(warped)
    wrows = gdal.Open(warped).RasterYSize
    print(f"box 0,0,100,95 at 10 m: create_raster_from_vector_extents rows span y "
          f"{gt[3] + rows * gt[5]:g}..{gt[3]:g}; warp_raster to the same box spans y "
          f"{wgt[3] + wrows * wgt[5]:g}..{wgt[3]:g}")


def warp_nodata():
    a = numpy.full((10, 10), 7.0, numpy.float32)
    src = raster("no_nodata.tif", a, None)
    dst = os.path.join(WORK, "padded.tif")
    pygeoprocessing.warp_raster(src, (1, -1), dst, "near", target_bb=[-5, -15, 15, 5])
    got, nodata, _ = read(dst)
    print(f"warp of a float32 raster without nodata onto a larger box: output nodata {nodata}, "
          f"{int((got == 0).sum())} of {got.size} pixels are padding 0.0 that reads as data")


def reclassify_unmapped():
    a = numpy.array([[1, 2, 3, 4]], numpy.int16)
    src = raster("classes.tif", a, 255, gdal.GDT_Int16)
    dst = os.path.join(WORK, "reclassified.tif")
    pygeoprocessing.reclassify_raster((src, 1), {1: 10, 3: 30, 4: 40}, dst, gdal.GDT_Int16, -1,
                                      values_required=False)
    got, _, _ = read(dst)
    print(f"reclassify {{1: 10, 3: 30, 4: 40}}, values_required=False, pixels [1, 2, 3, 4]: "
          f"{got[0].astype(int).tolist()} (unmapped 2 should be nodata -1)")
    above = raster("classes_above.tif", numpy.array([[1, 5]], numpy.int16), 255, gdal.GDT_Int16)
    try:
        pygeoprocessing.reclassify_raster((above, 1), {1: 10, 3: 30, 4: 40}, dst, gdal.GDT_Int16,
                                          -1, values_required=False)
        print("reclassify, a value above every key: no error")
    except Exception as e:
        print(f"reclassify, a value (5) above every key, values_required=False: "
              f"{type(e).__name__}: {e}")


def raster_map_precision():
    rng = numpy.random.default_rng(1)
    a = rng.uniform(0, 1, (64, 64)).astype(numpy.float32)
    src = raster("small_values.tif", a, -1.0)
    dst = os.path.join(WORK, "mapped.tif")
    pygeoprocessing.raster_map(lambda x: (x + 1e8) - 1e8, [src], dst, target_dtype=numpy.float32)
    got, _, _ = read(dst)
    want = ((a.astype(numpy.float64) + 1e8) - 1e8).astype(numpy.float32)
    print(f"raster_map (x + 1e8) - 1e8 on float32 x in [0, 1): {int((got != want).sum())} of "
          f"{a.size} pixels differ from the float64 result (max |difference| "
          f"{float(numpy.max(numpy.abs(got - want))):g})")


for case in (edt_anisotropic, edt_nan_nodata, stitch_nan_base, vector_extents_anchor, warp_nodata,
             reclassify_unmapped, raster_map_precision):
    try:
        case()
    except Exception as e:  # one case's failure must not hide the others' figures
        print(f"{case.__name__}: failed: {type(e).__name__}: {e}")
