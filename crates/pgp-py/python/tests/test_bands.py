"""build_overviews, get_raster_info's overviews and raster_band_percentile against
pygeoprocessing, and percentiles against numpy's sort."""

import json

import numpy
import pytest

import pgp
from conftest import run_peer, write


def test_overviews_equal_pygeoprocessings(tmp_path, rng):
    data = rng.random((700, 600), dtype=numpy.float32)
    ours = write(tmp_path / 'ours.tif', data, -1)
    peer = write(tmp_path / 'peer.tif', data, -1)
    assert pgp.get_raster_info(ours)['overviews'] == []
    pgp.build_overviews(ours, executor='threading:2')
    out = run_peer(f"""
import json, pygeoprocessing
pygeoprocessing.build_overviews({peer!r})
print(json.dumps(pygeoprocessing.get_raster_info({peer!r})['overviews']))
""", tmp_path)
    theirs = [tuple(x) for x in json.loads(out)]
    assert pgp.get_raster_info(ours)['overviews'] == theirs == [(300, 350)]
    assert (tmp_path / 'ours.tif.ovr').exists()
    with pytest.raises(ValueError, match='overviews'):
        pgp.build_overviews(ours)
    pgp.build_overviews(ours, internal=True, overwrite=True, levels=[2, 4],
                        resample_method='average')
    assert pgp.get_raster_info(ours)['overviews'] == [(300, 350), (150, 175)]


def test_overview_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match='none.tif'):
        pgp.build_overviews(str(tmp_path / 'none.tif'))
    path = write(tmp_path / 'a.tif', numpy.ones((10, 10), numpy.float32), -1)
    with pytest.raises(pgp.PgpValueError, match='resample_method'):
        pgp.build_overviews(path, resample_method='nosuch')
    with pytest.raises(pgp.PgpValueError, match='levels'):
        pgp.build_overviews(path, levels='all')


def numpy_higher(values, percentiles):
    """pygeoprocessing's rule written with numpy: rank i is the first with 100 i / n >= p."""
    values = numpy.sort(values)
    n = values.size
    step = 100.0 / n
    out, i = [], 0
    for p in percentiles:
        while i < n and step * i < p:
            i += 1
        if i >= n:
            out.append(values[-1])
            break
        out.append(values[i])
        i += 1
    return out


@pytest.mark.parametrize('dtype,nodata', [(numpy.float32, -1.0), (numpy.int16, -9),
                                          (numpy.uint8, None)])
def test_percentiles_equal_pygeoprocessing_and_numpy(tmp_path, rng, dtype, nodata):
    data = (rng.random((523, 611)) * 200 - (50 if dtype is not numpy.uint8 else 0)).astype(dtype)
    if nodata is not None:
        data[rng.random(data.shape) < 0.1] = nodata
    path = write(tmp_path / 'a.tif', data, nodata)
    ps = [0, 0.5, 10, 33.3, 50, 50, 90, 99.99, 100]
    ours = pgp.raster_band_percentile((path, 1), str(tmp_path / 'work'), ps,
                                      executor='multiprocessing:2')
    assert not (tmp_path / 'work').exists()
    valid = data[data != nodata] if nodata is not None else data.ravel()
    expected = numpy_higher(valid.astype(numpy.float64), ps)
    assert ours == expected
    kind = float if numpy.issubdtype(dtype, numpy.floating) else int
    assert all(type(v) is kind for v in ours)
    out = run_peer(f"""
import json, pygeoprocessing
print(json.dumps([float(v) for v in pygeoprocessing.raster_band_percentile(
    ({path!r}, 1), {str(tmp_path / 'peerwork')!r}, {ps!r})]))
""", tmp_path)
    assert ours == json.loads(out)


def test_percentiles_of_an_all_nodata_band(tmp_path):
    path = write(tmp_path / 'a.tif', numpy.full((5, 5), -1, numpy.float32), -1)
    assert pgp.raster_band_percentile((path, 1), 'unused', [10, 50]) == [0.0]


def test_percentile_bad_arguments(tmp_path):
    path = write(tmp_path / 'a.tif', numpy.ones((5, 5), numpy.float32), -1)
    with pytest.raises(pgp.PgpValueError, match='percentile_list'):
        pgp.raster_band_percentile((path, 1), 'unused', [])
    with pytest.raises(pgp.PgpValueError, match='band 3'):
        pgp.raster_band_percentile((path, 3), 'unused', [50])
    with pytest.raises(pgp.PgpValueError, match='base_raster_path_band'):
        pgp.raster_band_percentile(path, 'unused', [50])
