"""shapely_geometry_to_vector against pygeoprocessing: the peer builds shapely geometries and
writes them; pgp writes the same geometries (as objects carrying their ``.wkb``, as shapely's do,
and as WKB bytes) and the peer's OGR reads both vectors back."""

import json

import pytest

import pgp
from conftest import run_peer

WKT = ('PROJCS["WGS 84 / UTM zone 31N",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",'
       '6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],'
       'PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],'
       'PARAMETER["central_meridian",3],PARAMETER["scale_factor",0.9996],'
       'PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1]]')

DUMP = """
import json
from osgeo import ogr
def dump(path):
    ds = ogr.Open(path)
    layer = ds.GetLayer(0)
    defn = layer.GetLayerDefn()
    fields = [(defn.GetFieldDefn(i).GetName(), defn.GetFieldDefn(i).GetType())
              for i in range(defn.GetFieldCount())]
    srs = layer.GetSpatialRef()
    feats = [[f.items(), f.GetGeometryRef().ExportToIsoWkb().hex()] for f in layer]
    return [layer.GetName(), layer.GetGeomType(), fields, srs.ExportToProj4() if srs else None,
            feats]
"""


class Shaped:
    """Stands for a shapely geometry: pgp only uses its ``.wkb``."""

    def __init__(self, wkb):
        self.wkb = wkb


@pytest.mark.parametrize('driver,ext', [('GPKG', 'gpkg'), ('ESRI Shapefile', 'shp')])
def test_vector_equals_pygeoprocessings(tmp_path, driver, ext):
    peer_path = str(tmp_path / f'peer.{ext}')
    out = run_peer(DUMP + f"""
import shapely.geometry, pygeoprocessing
from osgeo import ogr
geoms = [shapely.geometry.box(0, 0, 10, 10), shapely.geometry.Polygon(
    [(20, 0), (30, 0), (25, 8)], holes=None), shapely.geometry.box(-5, -5, -1, -1).buffer(1)]
attrs = [{{'id': 1, 'value': 0.5, 'name': 'a'}}, {{'id': 2, 'value': -3.25, 'name': 'bé'}},
         {{'id': 3, 'value': 1e10, 'name': ''}}]
fields = {{'id': ogr.OFTInteger, 'value': ogr.OFTReal, 'name': ogr.OFTString}}
pygeoprocessing.shapely_geometry_to_vector(geoms, {peer_path!r}, {WKT!r}, {driver!r}, fields,
                                           attrs, ogr.wkbPolygon)
print(json.dumps({{'wkb': [g.wkb_hex for g in geoms], 'attrs': attrs, 'dump': dump({peer_path!r})}}))
""", tmp_path)
    peer = json.loads(out)
    fields = {'id': 0, 'value': 2, 'name': 4}
    ours_path = str(tmp_path / f'ours.{ext}')
    pgp.shapely_geometry_to_vector([Shaped(bytes.fromhex(h)) for h in peer['wkb']], ours_path,
                                   WKT, driver, fields, peer['attrs'])
    raw_path = str(tmp_path / f'raw.{ext}')
    pgp.shapely_geometry_to_vector([bytes.fromhex(h) for h in peer['wkb']], raw_path, WKT,
                                   driver, fields, peer['attrs'])
    mine = json.loads(run_peer(DUMP + f"""
print(json.dumps([dump({ours_path!r}), dump({raw_path!r})]))
""", tmp_path))
    theirs = peer['dump']
    for dumped, layer_name in zip(mine, ('ours', 'raw')):
        assert dumped[0] == layer_name
        assert dumped[1:] == theirs[1:]
    assert len(theirs[4]) == 3


def test_mismatches_are_refused_before_anything_is_written(tmp_path):
    target = tmp_path / 'v.gpkg'
    box = bytes.fromhex('0103000000010000000500000000000000000000000000000000000000000000000000'
                        'f03f0000000000000000000000000000f03f000000000000f03f00000000000000000000'
                        '00000000f03f00000000000000000000000000000000')
    with pytest.raises(pgp.PgpValueError, match='count'):
        pgp.shapely_geometry_to_vector([box, box], str(target), WKT, 'GPKG', {'a': 0}, [{'a': 1}])
    with pytest.raises(pgp.PgpValueError, match='feature 1'):
        pgp.shapely_geometry_to_vector([box, box], str(target), WKT, 'GPKG', {'a': 0},
                                       [{'a': 1}, {'b': 2}])
    with pytest.raises(pgp.PgpValueError, match=r'shapely_geometry_list\[1\]'):
        pgp.shapely_geometry_to_vector([box, 'POLYGON'], str(target), WKT, 'GPKG')
    with pytest.raises(pgp.PgpValueError, match=r'shapely_geometry_list\[0\]'):
        pgp.shapely_geometry_to_vector([b'not wkb'], str(target), WKT, 'GPKG')
    with pytest.raises(pgp.PgpValueError, match="'a'"):
        pgp.shapely_geometry_to_vector([box], str(target), WKT, 'GPKG', {'a': 0},
                                       [{'a': 'x'}])
    assert list(tmp_path.iterdir()) == []
    pgp.shapely_geometry_to_vector([box], str(target), None, 'GPKG')
    info = pgp.get_vector_info(str(target))
    assert (info['feature_count'], info['bounding_box']) == (1, [0.0, 0.0, 1.0, 1.0])


def squares(path, rng, count=120):
    """A GeoPackage of seeded squares, many overlapping, some sharing an edge exactly."""
    features = []
    for i in range(count):
        x, y = (rng.integers(0, 40, 2) * 5).tolist()
        size = int(rng.integers(1, 4)) * 5
        features.append(bytes.fromhex(box_wkb(x, y, x + size, y + size)))
    pgp.shapely_geometry_to_vector(features, str(path), WKT, 'GPKG')
    return str(path)


def box_wkb(x0, y0, x1, y1):
    import struct
    ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    return (struct.pack('<BIII', 1, 3, 1, len(ring))
            + b''.join(struct.pack('<dd', *p) for p in ring)).hex()


def test_disjoint_sets_equal_pygeoprocessings(tmp_path, rng):
    path = squares(tmp_path / 'squares.gpkg', rng)
    cases = [(None, False), (None, True), ([20, 20, 120, 90], False)]
    out = run_peer(f"""
import json, pygeoprocessing
print(json.dumps([sorted(sorted(s) for s in pygeoprocessing.calculate_disjoint_polygon_set(
    {path!r}, bounding_box=bb, geometries_may_touch=touch)) for bb, touch in {cases!r}]))
""", tmp_path)
    theirs = json.loads(out)
    for (bb, touch), expected in zip(cases, theirs):
        for executor in (None, 'threading:2', 'multiprocessing:2'):
            sets = pgp.calculate_disjoint_polygon_set(path, bounding_box=bb,
                                                      geometries_may_touch=touch,
                                                      executor=executor)
            assert all(isinstance(s, set) for s in sets)
            assert sorted(sorted(s) for s in sets) == expected, (bb, touch, executor)
    assert len(theirs[0]) > 2 and len(theirs[1]) < len(theirs[0])


def test_disjoint_sets_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match='none.gpkg'):
        pgp.calculate_disjoint_polygon_set(str(tmp_path / 'none.gpkg'))
    path = str(tmp_path / 'one.gpkg')
    pgp.shapely_geometry_to_vector([bytes.fromhex(box_wkb(0, 0, 1, 1))], path, WKT, 'GPKG')
    with pytest.raises(pgp.PgpValueError, match='layer'):
        pgp.calculate_disjoint_polygon_set(path, layer_id=3)
    with pytest.raises(pgp.PgpValueError, match='bounding_box'):
        pgp.calculate_disjoint_polygon_set(path, bounding_box=[0, 1])
    assert pgp.calculate_disjoint_polygon_set(path, bounding_box=[5, 5, 6, 6]) == []
    assert pgp.calculate_disjoint_polygon_set(path) == [{1}]
