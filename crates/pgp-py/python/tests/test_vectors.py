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
