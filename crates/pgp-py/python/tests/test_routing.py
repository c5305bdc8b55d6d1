"""pgp.routing: small cases computed by hand with numpy, and the sample DEM against
pygeoprocessing.routing where the peer environment is installed."""

import numpy
import pytest

import pgp
from conftest import run_peer, write


def read(path):
    return pgp.raster_to_numpy_array(str(path))


def test_plane_draining_east(tmp_path):
    rows, cols = numpy.mgrid[0:20, 0:30]
    dem = write(tmp_path / 'dem.tif', (100.0 - cols).astype(numpy.float32), -9999)
    pgp.routing.flow_dir_d8((dem, 1), str(tmp_path / 'd8.tif'), executor='threading:2')
    d8 = read(tmp_path / 'd8.tif')
    assert (d8[1:-1, :-1] == 0).all()  # 0 = east
    pgp.routing.flow_accumulation_d8((str(tmp_path / 'd8.tif'), 1), str(tmp_path / 'acc.tif'))
    acc = read(tmp_path / 'acc.tif')
    numpy.testing.assert_array_equal(acc[1:-1, :], numpy.broadcast_to(cols[0] + 1.0, (18, 30)))
    pgp.routing.extract_streams_d8((str(tmp_path / 'acc.tif'), 1), 10.5,
                                   str(tmp_path / 's.tif'))
    streams = read(tmp_path / 's.tif')
    numpy.testing.assert_array_equal(streams[1:-1], (acc[1:-1] > 10.5).astype(numpy.uint8))
    pgp.routing.distance_to_channel_d8((str(tmp_path / 'd8.tif'), 1),
                                       (str(tmp_path / 's.tif'), 1), str(tmp_path / 'dist.tif'))
    dist = read(tmp_path / 'dist.tif')
    # Pixels west of the first stream pixel (column 10) are 10 - col steps from it.
    numpy.testing.assert_array_equal(dist[5, :11], numpy.arange(10, -1, -1, dtype=float))


def test_fill_pits_raises_a_pit_to_its_pour_point(tmp_path):
    dem = numpy.full((7, 7), 10.0, numpy.float32)
    dem[1:6, 1:6] = 8.0
    dem[3, 3] = 2.0
    dem[3, 6] = 5.0  # the outlet on the east edge
    path = write(tmp_path / 'dem.tif', dem, -9999)
    pgp.routing.fill_pits((path, 1), str(tmp_path / 'f.tif'), executor='threading:2')
    filled = read(tmp_path / 'f.tif')
    expected = dem.copy()
    expected[3, 3] = 8.0
    numpy.testing.assert_array_equal(filled, expected)


def test_missing_dem_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match='nodem.tif'):
        pgp.routing.flow_dir_mfd((str(tmp_path / 'nodem.tif'), 1), str(tmp_path / 'x.tif'))
    assert not (tmp_path / 'x.tif').exists()


def test_routing_chain_equals_pygeoprocessing(tmp_path, sample):
    dem = sample['dem']
    ours, peer = tmp_path / 'ours', tmp_path / 'peer'
    ours.mkdir()
    peer.mkdir()
    run_peer(f"""
import pygeoprocessing.routing as r
d = {str(peer)!r}
r.fill_pits(({dem!r}, 1), d + '/filled.tif')
r.flow_dir_d8((d + '/filled.tif', 1), d + '/d8.tif')
r.flow_dir_mfd((d + '/filled.tif', 1), d + '/mfd.tif')
r.flow_accumulation_d8((d + '/d8.tif', 1), d + '/acc_d8.tif')
r.flow_accumulation_mfd((d + '/mfd.tif', 1), d + '/acc_mfd.tif')
r.extract_streams_d8((d + '/acc_d8.tif', 1), 50, d + '/s_d8.tif')
r.extract_streams_mfd((d + '/acc_mfd.tif', 1), (d + '/mfd.tif', 1), 50, d + '/s_mfd.tif')
r.distance_to_channel_d8((d + '/d8.tif', 1), (d + '/s_d8.tif', 1), d + '/dist_d8.tif')
r.distance_to_channel_mfd((d + '/mfd.tif', 1), (d + '/s_mfd.tif', 1), d + '/dist_mfd.tif')
""", tmp_path)
    d = str(ours)
    r = pgp.routing
    r.fill_pits((dem, 1), d + '/filled.tif', executor='threading:2')
    r.flow_dir_d8((d + '/filled.tif', 1), d + '/d8.tif', executor='threading:2')
    r.flow_dir_mfd((d + '/filled.tif', 1), d + '/mfd.tif', executor='multiprocessing:2')
    r.flow_accumulation_d8((d + '/d8.tif', 1), d + '/acc_d8.tif')
    r.flow_accumulation_mfd((d + '/mfd.tif', 1), d + '/acc_mfd.tif')
    r.extract_streams_d8((d + '/acc_d8.tif', 1), 50, d + '/s_d8.tif')
    r.extract_streams_mfd((d + '/acc_mfd.tif', 1), (d + '/mfd.tif', 1), 50, d + '/s_mfd.tif')
    r.distance_to_channel_d8((d + '/d8.tif', 1), (d + '/s_d8.tif', 1), d + '/dist_d8.tif')
    r.distance_to_channel_mfd((d + '/mfd.tif', 1), (d + '/s_mfd.tif', 1), d + '/dist_mfd.tif')
    for name in ('filled', 'd8', 'mfd', 'acc_d8', 'acc_mfd', 's_d8', 's_mfd', 'dist_d8',
                 'dist_mfd'):
        numpy.testing.assert_array_equal(read(ours / f'{name}.tif'), read(peer / f'{name}.tif'),
                                         err_msg=name)
