"""pgp.routing's vector-writing and searching functions against pygeoprocessing.routing on the
sample DEM: the GeoPackages are read back by the peer's own OGR and compared feature by feature
(fields and ISO WKB geometries)."""

import json

import pytest

import pgp
from conftest import run_peer

DUMP = """
import json
from osgeo import ogr
def dump(path):
    ds = ogr.Open(path)
    out = []
    for layer in ds:
        feats = []
        for f in layer:
            g = f.GetGeometryRef()
            feats.append([f.GetFID(), f.items(), None if g is None else g.ExportToIsoWkb().hex()])
        out.append([layer.GetName(), feats])
    return out
"""


def chain(r, d, dem, executor=None):
    """The same calls for pgp and the peer (the peer ignores ``executor``)."""
    kw = {} if executor is None else {'executor': executor}
    r.fill_pits((dem, 1), d + '/filled.tif')
    r.flow_dir_d8((d + '/filled.tif', 1), d + '/d8.tif')
    r.flow_dir_mfd((d + '/filled.tif', 1), d + '/mfd.tif')
    r.flow_accumulation_d8((d + '/d8.tif', 1), d + '/acc.tif')
    r.detect_outlets((d + '/d8.tif', 1), 'd8', d + '/outlets_d8.gpkg', **kw)
    r.detect_outlets((d + '/mfd.tif', 1), 'MFD', d + '/outlets_mfd.gpkg', **kw)
    r.extract_strahler_streams_d8((d + '/d8.tif', 1), (d + '/acc.tif', 1),
                                  (d + '/filled.tif', 1), d + '/streams.gpkg',
                                  min_flow_accum_threshold=40, river_order=3, **kw)
    r.calculate_subwatershed_boundary((d + '/d8.tif', 1), d + '/streams.gpkg',
                                      d + '/subwatersheds.gpkg', outlet_at_confluence=True, **kw)
    r.delineate_watersheds_d8((d + '/d8.tif', 1), d + '/outlets_d8.gpkg',
                              d + '/watersheds.gpkg', target_layer_name='ws', **kw)
    return r.detect_lowest_drain_and_sink((dem, 1), **kw)


def test_vectors_and_drain_equal_pygeoprocessing(tmp_path, sample):
    dem = sample['dem']
    ours, peer = tmp_path / 'ours', tmp_path / 'peer'
    ours.mkdir()
    peer.mkdir()
    names = ['outlets_d8', 'outlets_mfd', 'streams', 'subwatersheds', 'watersheds']
    import inspect
    source = inspect.getsource(chain)
    out = run_peer(DUMP + source + f"""
import pygeoprocessing.routing as r
found = chain(r, {str(peer)!r}, {dem!r})
print(json.dumps({{'found': found, 'vectors': {{n: dump({str(peer)!r} + '/' + n + '.gpkg')
                                              for n in {names!r}}}}}))
""", tmp_path)
    theirs = json.loads(out)
    found = chain(pgp.routing, str(ours), dem, executor='threading:2')
    assert json.loads(json.dumps(found)) == theirs['found']
    assert found[0] is not None and found[2] is not None
    mine = json.loads(run_peer(DUMP + f"""
print(json.dumps({{n: dump({str(ours)!r} + '/' + n + '.gpkg') for n in {names!r}}}))
""", tmp_path))
    for name in names:
        assert mine[name] == theirs['vectors'][name], name
        assert sum(len(feats) for _, feats in mine[name]) > 0, name


def test_executors_give_the_same_outlets(tmp_path, sample):
    d8 = str(tmp_path / 'd8.tif')
    pgp.routing.flow_dir_d8((sample['dem'], 1), d8)
    counts = []
    for i, executor in enumerate([None, 'threading:2', 'multiprocessing:2']):
        target = str(tmp_path / f'o{i}.gpkg')
        pgp.routing.detect_outlets((d8, 1), 'd8', target, executor=executor)
        counts.append(pgp.get_vector_info(target)['feature_count'])
    assert counts[0] > 0 and counts == [counts[0]] * 3


def test_bad_arguments_name_themselves(tmp_path, sample):
    d8 = str(tmp_path / 'd8.tif')
    pgp.routing.flow_dir_d8((sample['dem'], 1), d8)
    with pytest.raises(pgp.PgpValueError, match='flow_dir_type'):
        pgp.routing.detect_outlets((d8, 1), 'dinf', str(tmp_path / 'o.gpkg'))
    assert not (tmp_path / 'o.gpkg').exists()
    with pytest.raises(pgp.PgpValueError, match='dem_raster_path_band'):
        pgp.routing.detect_lowest_drain_and_sink(sample['dem'])
    with pytest.raises(FileNotFoundError, match='nostreams.gpkg'):
        pgp.routing.calculate_subwatershed_boundary(
            (d8, 1), str(tmp_path / 'nostreams.gpkg'), str(tmp_path / 's.gpkg'))
    assert not (tmp_path / 's.gpkg').exists()
