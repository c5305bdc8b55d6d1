"""Warp, align, zonal statistics, convolution, distance, slope, kernels, vector operations and
stitching, against independent numpy computations (and pygeoprocessing where installed)."""

import numpy
import pytest

import pgp
from conftest import run_peer, write

UTM31 = None


def read(path, band=1):
    return pgp.raster_to_numpy_array(str(path), band)


def test_warp_near_doubling_repeats_pixels(tmp_path, sample):
    dem = sample['dem']
    target = tmp_path / 'half.tif'
    pgp.warp_raster(dem, (15, -15), str(target), 'near', executor='threading:2')
    expected = numpy.repeat(numpy.repeat(read(dem), 2, axis=0), 2, axis=1)
    numpy.testing.assert_array_equal(read(target), expected)
    info = pgp.get_raster_info(str(target))
    assert info['pixel_size'] == (15.0, -15.0)
    assert info['bounding_box'] == pgp.get_raster_info(dem)['bounding_box']


def test_warp_with_target_bb_crops(tmp_path, sample):
    dem = sample['dem']
    bb = pgp.get_raster_info(dem)['bounding_box']
    crop = [bb[0] + 300, bb[1] + 600, bb[0] + 3300, bb[1] + 3600]
    target = tmp_path / 'crop.tif'
    pgp.warp_raster(dem, (30, -30), str(target), 'near', target_bb=crop)
    rows = int((bb[3] - crop[3]) / 30)
    numpy.testing.assert_array_equal(read(target), read(dem)[rows:rows + 100, 10:110])


def test_unknown_resample_method_names_it(tmp_path, sample):
    with pytest.raises(pgp.PgpValueError, match='nearest-ish'):
        pgp.warp_raster(sample['dem'], (30, -30), str(tmp_path / 'x.tif'), 'nearest-ish')
    assert not (tmp_path / 'x.tif').exists()


def test_align_intersection_slices(tmp_path, rng):
    a = rng.random((50, 60)).astype(numpy.float32)
    b = rng.random((40, 40)).astype(numpy.float32)
    pa = write(tmp_path / 'a.tif', a, -1, (10, -10), (0, 500))
    pb = write(tmp_path / 'b.tif', b, -1, (10, -10), (100, 400))
    targets = [str(tmp_path / 'a2.tif'), str(tmp_path / 'b2.tif')]
    pgp.align_and_resize_raster_stack([pa, pb], targets, ['near', 'near'], (10, -10),
                                      'intersection', executor='threading:2')
    # Intersection: x 100..500 (a has 0..600, b 100..500), y 0..400 (a 0..500, b 0..400).
    numpy.testing.assert_array_equal(read(targets[0]), a[10:50, 10:50])
    numpy.testing.assert_array_equal(read(targets[1]), b[0:40, 0:40])
    assert pgp.get_raster_info(targets[0])['bounding_box'] == [100.0, 0.0, 500.0, 400.0]


def test_align_length_mismatch_is_an_error(tmp_path, sample):
    with pytest.raises(pgp.PgpValueError, match='same length'):
        pgp.align_and_resize_raster_stack([sample['dem']], [], ['near'], (30, -30), 'union')


def geojson_rectangles(path, rects, origin=(1000.0, 2000.0), pixel=30.0):
    """A GeoJSON of rectangles given as (fid, col0, row0, col1, row1) pixel edges."""
    import json
    features = []
    for fid, c0, r0, c1, r1 in rects:
        x0, x1 = origin[0] + c0 * pixel, origin[0] + c1 * pixel
        y0, y1 = origin[1] - r0 * pixel, origin[1] - r1 * pixel
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        features.append({'type': 'Feature', 'id': fid, 'properties': {'zone': fid},
                         'geometry': {'type': 'Polygon', 'coordinates': [ring]}})
    with open(path, 'w') as f:
        json.dump({'type': 'FeatureCollection', 'features': features}, f)
    return str(path)


def test_zonal_statistics_equal_numpy_over_rectangles(tmp_path, rng):
    values = rng.integers(0, 1000, (40, 50)).astype(numpy.float32)
    values[values > 900] = -1
    raster = write(tmp_path / 'v.tif', values, -1)
    rects = [(1, 2, 3, 7, 9), (2, 5, 0, 11, 5), (3, 45, 35, 49, 39), (4, 60, 60, 70, 70)]
    vector = geojson_rectangles(tmp_path / 'zones.geojson', rects)
    stats = pgp.zonal_statistics((raster, 1), vector, executor='threading:2')
    assert sorted(stats) == [1, 2, 3, 4]
    for fid, c0, r0, c1, r1 in rects[:3]:
        window = values[r0:r1, c0:c1]
        valid = window[window != -1]
        s = stats[fid]
        assert (s['count'], s['nodata_count']) == (valid.size, (window == -1).sum())
        assert (s['min'], s['max']) == (valid.min(), valid.max())
        assert s['sum'] == pytest.approx(float(valid.astype(numpy.float64).sum()))
        assert s['average'] == pytest.approx(s['sum'] / s['count'])
    # Wholly outside the raster: pygeoprocessing's empty record.
    assert stats[4] == {'min': None, 'max': None, 'sum': 0.0, 'count': 0, 'nodata_count': 0,
                        'average': None}


def test_zonal_statistics_equal_pygeoprocessing(tmp_path, sample):
    # pygeoprocessing wants a Polygon layer; the sample's GeoPackage layer is untyped.
    zones = str(tmp_path / 'zones.shp')
    pgp.reproject_vector(sample['zones'], pgp.get_vector_info(sample['zones'])['projection_wkt'],
                         zones)
    out = run_peer(f"""
import json, pygeoprocessing
s = pygeoprocessing.zonal_statistics(({sample['dem']!r}, 1), {zones!r})
print(json.dumps({{str(k): v for k, v in s.items()}}, default=float))
""", tmp_path)
    import json
    peer = {int(k): v for k, v in json.loads(out).items()}
    ours = pgp.zonal_statistics((sample['dem'], 1), zones, executor='threading:2')
    assert set(peer) == set(ours)
    for fid in peer:
        for key in ('min', 'max', 'count', 'nodata_count'):
            assert ours[fid][key] == peer[fid][key], (fid, key)
        assert ours[fid]['sum'] == pytest.approx(peer[fid]['sum'], rel=1e-6)


def test_zonal_value_counts_equal_numpy_and_pygeoprocessing(tmp_path, sample, rng):
    values = rng.integers(0, 6, (40, 50)).astype(numpy.int16)
    raster = write(tmp_path / 'v.tif', values, 5)
    rects = [(1, 2, 3, 7, 9), (2, 5, 0, 11, 5), (4, 60, 60, 70, 70)]
    vector = geojson_rectangles(tmp_path / 'zones.geojson', rects)
    for ignore in (True, False):
        stats = pgp.zonal_statistics((raster, 1), vector, ignore_nodata=ignore,
                                     include_value_counts=True, executor='multiprocessing:2')
        for fid, c0, r0, c1, r1 in rects[:2]:
            window = values[r0:r1, c0:c1]
            counted = window[window != 5] if ignore else window.ravel()
            expected = dict(zip(*(a.tolist() for a in numpy.unique(counted,
                                                                  return_counts=True))))
            assert stats[fid]['value_counts'] == expected
            assert all(type(k) is int for k in stats[fid]['value_counts'])
        assert stats[4]['value_counts'] == {}
    zones = str(tmp_path / 'zones.shp')
    pgp.reproject_vector(sample['zones'], pgp.get_vector_info(sample['zones'])['projection_wkt'],
                         zones)
    out = run_peer(f"""
import json, pygeoprocessing
s = pygeoprocessing.zonal_statistics(({sample['landcover']!r}, 1), {zones!r},
                                     include_value_counts=True)
print(json.dumps({{str(k): {{str(int(v)): int(n) for v, n in s[k]['value_counts'].items()}}
                  for k in s}}))
""", tmp_path)
    import json
    peer = {int(k): {int(v): n for v, n in c.items()} for k, c in json.loads(out).items()}
    ours = pgp.zonal_statistics((sample['landcover'], 1), zones, include_value_counts=True,
                                executor='threading:2')
    assert {fid: s['value_counts'] for fid, s in ours.items()} == peer
    assert sum(len(c) for c in peer.values()) > 100


def direct_convolution(signal, kernel):
    """Zero-padded 'same' convolution by shifted sums (kernel flipped, as numpy's)."""
    kr, kc = kernel.shape
    pad = numpy.pad(signal.astype(numpy.float64), ((kr // 2, kr // 2), (kc // 2, kc // 2)))
    out = numpy.zeros(signal.shape)
    flipped = kernel[::-1, ::-1]
    for i in range(kr):
        for j in range(kc):
            out += flipped[i, j] * pad[i:i + signal.shape[0], j:j + signal.shape[1]]
    return out


def test_convolve_2d_equals_direct_convolution(tmp_path, rng):
    signal = rng.random((70, 90)).astype(numpy.float32)
    kernel = rng.random((5, 7)).astype(numpy.float32)
    ps = write(tmp_path / 's.tif', signal, None)
    pgp.kernels.kernel_from_numpy_array(kernel, str(tmp_path / 'k.tif'))
    pgp.convolve_2d((ps, 1), (str(tmp_path / 'k.tif'), 1), str(tmp_path / 'c.tif'),
                    executor='threading:2')
    numpy.testing.assert_allclose(read(tmp_path / 'c.tif'), direct_convolution(signal, kernel),
                                  rtol=1e-5, atol=1e-5)


def test_distance_transform_is_brute_force_distance(tmp_path, rng):
    region = (rng.random((40, 50)) < 0.02).astype(numpy.uint8)
    region[5, 5] = 1
    path = write(tmp_path / 'r.tif', region, None)
    pgp.distance_transform_edt((path, 1), str(tmp_path / 'd.tif'), sampling_distance=(2.0, 3.0))
    ys, xs = numpy.nonzero(region)
    rr, cc = numpy.mgrid[0:40, 0:50]
    d = numpy.sqrt(((rr[..., None] - ys) * 3.0) ** 2 + ((cc[..., None] - xs) * 2.0) ** 2).min(-1)
    numpy.testing.assert_allclose(read(tmp_path / 'd.tif'), d, rtol=1e-6)


def test_slope_of_a_plane(tmp_path):
    rows, cols = numpy.mgrid[0:30, 0:40]
    dem = (cols * 3.0 + rows * 4.0).astype(numpy.float32)  # per 10 m pixel
    path = write(tmp_path / 'dem.tif', dem, -9999, (10, -10), (0, 300))
    pgp.calculate_slope((path, 1), str(tmp_path / 's.tif'))
    slope = read(tmp_path / 's.tif')
    # dz/dx = 0.3, dz/dy = 0.4 -> 50 % everywhere inside (edges use fewer neighbours).
    numpy.testing.assert_allclose(slope[1:-1, 1:-1], 50.0, rtol=1e-5)


def test_kernels(tmp_path):
    pgp.kernels.dichotomous_kernel(str(tmp_path / 'd.tif'), 3, normalize=False)
    k = read(tmp_path / 'd.tif')
    r, c = numpy.mgrid[-3:4, -3:4]
    numpy.testing.assert_array_equal(k, (numpy.hypot(r, c) <= 3).astype(k.dtype))
    pgp.kernels.normal_distribution_kernel(str(tmp_path / 'n.tif'), 5)
    n = read(tmp_path / 'n.tif')
    assert n.shape == (31, 31) and n.sum() == pytest.approx(1.0, rel=1e-5)
    pgp.kernels.create_distance_decay_kernel(str(tmp_path / 'e.tif'), 'exp(-dist / max_dist)', 4)
    e = read(tmp_path / 'e.tif')
    r, c = numpy.mgrid[-4:5, -4:5]
    dist = numpy.hypot(r, c)
    expected = numpy.where(dist <= 4, numpy.exp(-dist / 4), 0).astype(numpy.float32)
    numpy.testing.assert_allclose(e, expected / expected.astype(numpy.float64).sum(), rtol=1e-6)


def test_mask_raster_keeps_pixels_inside_zones(tmp_path, sample):
    pgp.mask_raster((sample['dem'], 1), sample['zones'], str(tmp_path / 'm.tif'))
    ids = tmp_path / 'ids.tif'
    pgp.new_raster_from_base(sample['dem'], str(ids), pgp.GDT_Byte, [0], fill_value_list=[0])
    pgp.rasterize(sample['zones'], str(ids), burn_values=[1])
    inside = read(ids) == 1
    dem, masked = read(sample['dem']), read(tmp_path / 'm.tif')
    numpy.testing.assert_array_equal(masked[inside], dem[inside])
    assert (masked[~inside] == -9999).all()


def test_create_raster_from_bounding_box_and_vector(tmp_path, sample):
    wkt = pgp.get_raster_info(sample['dem'])['projection_wkt']
    target = tmp_path / 'bb.tif'
    pgp.create_raster_from_bounding_box([0, 0, 100, 50], str(target), (10, -10),
                                        pgp.GDT_Int16, wkt, -1, fill_value=7)
    info = pgp.get_raster_info(str(target))
    assert info['raster_size'] == (10, 5) and info['nodata'] == [-1.0]
    assert (read(target) == 7).all()
    pgp.create_raster_from_vector_extents(sample['zones'], str(tmp_path / 'v.tif'), (100, -100),
                                          pgp.GDT_Float32, -1)
    vb = pgp.get_vector_info(sample['zones'])['bounding_box']
    rb = pgp.get_raster_info(str(tmp_path / 'v.tif'))['bounding_box']
    assert rb[0] == pytest.approx(vb[0])
    assert rb[0] <= vb[0] and rb[1] <= vb[1] and rb[2] >= vb[2] and rb[3] >= vb[3]
    assert rb[2] - rb[0] < vb[2] - vb[0] + 100 and rb[3] - rb[1] < vb[3] - vb[1] + 100


def test_reproject_vector(tmp_path, sample):
    target = tmp_path / 'zones_4326.gpkg'
    pgp.reproject_vector(sample['zones'], 'EPSG:4326', str(target), driver_name='GPKG')
    info = pgp.get_vector_info(str(target))
    assert info['feature_count'] == 202
    lon_min, lat_min, lon_max, lat_max = info['bounding_box']
    assert 1.0 < lon_min < lon_max < 4.0 and 44.0 < lat_min < lat_max < 46.0


def test_stitch_rasters_etch(tmp_path, sample):
    wkt = pgp.get_raster_info(sample['dem'])['projection_wkt']
    target = write(tmp_path / 't.tif', numpy.full((20, 20), -1, numpy.float32), -1,
                   (1, -1), (0, 20), wkt)
    a = write(tmp_path / 'a.tif', numpy.full((5, 5), 3, numpy.float32), -1, (1, -1), (2, 18), wkt)
    b = write(tmp_path / 'b.tif', numpy.full((5, 5), 4, numpy.float32), -1, (1, -1), (4, 16), wkt)
    pgp.stitch_rasters([(a, 1), (b, 1)], ['near', 'near'], (target, 1), executor='threading:2')
    out = read(target)
    expected = numpy.full((20, 20), -1, numpy.float32)
    expected[4:9, 4:9] = 4
    expected[2:7, 2:7] = 3  # etch: the first raster's pixels are not overwritten
    numpy.testing.assert_array_equal(out, expected)


def test_transform_and_merge_bounding_boxes(sample):
    wkt = pgp.get_raster_info(sample['dem'])['projection_wkt']
    bb = pgp.transform_bounding_box([400000, 4994000, 406000, 5000000], wkt, 'EPSG:4326')
    assert 1.7 < bb[0] < bb[2] < 1.9 and 45.0 < bb[1] < bb[3] < 45.2
    assert pgp.merge_bounding_box_list([[0, 0, 2, 2], [1, 1, 3, 3]], 'union') == [0, 0, 3, 3]
    assert pgp.merge_bounding_box_list([[0, 0, 2, 2], [1, 1, 3, 3]], 'intersection') == [1, 1, 2, 2]
