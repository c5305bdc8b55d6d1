"""pygeoprocessing's ``shapely_geometry_to_vector`` and ``calculate_disjoint_polygon_set`` on
pgp (imported into :mod:`pgp.geoprocessing`)."""

import os

from . import _pgp
from ._executor import executor_arg
from .errors import PgpValueError

# OGR's field types pgp writes, and the Python type a value of each becomes.
_FIELD_TYPES = {0: int, 2: float, 4: str, 12: int}  # OFTInteger, OFTReal, OFTString, OFTInteger64
_WKB_POLYGON = 3  # ogr.wkbPolygon


def _wkb(geometry, index):
    """The WKB of a shapely geometry (anything with ``.wkb``) or of WKB bytes given as they are;
    shapely is never imported: its geometries carry their WKB."""
    if isinstance(geometry, (bytes, bytearray, memoryview)):
        return bytes(geometry)
    wkb = getattr(geometry, 'wkb', None)
    if isinstance(wkb, (bytes, bytearray)):
        return bytes(wkb)
    try:
        import shapely  # noqa: F401
        hint = ''
    except ImportError:
        hint = ' (shapely is not installed: pass WKB bytes, or install shapely)'
    raise PgpValueError(f"shapely_geometry_list[{index}]: expected a shapely geometry or WKB "
                        f"bytes, got {type(geometry).__name__}{hint}")


def shapely_geometry_to_vector(shapely_geometry_list, target_vector_path, projection_wkt,
                               vector_format, fields=None, attribute_list=None,
                               ogr_geom_type=_WKB_POLYGON):
    """A vector of one layer (named after the file) holding the geometries (shapely geometries
    or WKB bytes) with ``attribute_list``'s values in ``fields`` (name -> OGR field type:
    integer, integer64, real or string). Everything is checked before anything is written, and
    the vector appears only when complete."""
    geometries = list(shapely_geometry_list)
    fields = {} if fields is None else dict(fields)
    if attribute_list is None:
        attribute_list = [{} for _ in geometries]
    attribute_list = list(attribute_list)
    if len(geometries) != len(attribute_list):
        raise PgpValueError(f"Geometry count ({len(geometries)}) and attribute count "
                            f"({len(attribute_list)}) do not match.")
    for name, kind in fields.items():
        if kind not in _FIELD_TYPES:
            raise PgpValueError(f"fields: {name!r} has OGR field type {kind!r}; pgp writes "
                                "integer (0), integer64 (12), real (2) and string (4) fields")
    names = list(fields)
    features = []
    for index, (geometry, attributes) in enumerate(zip(geometries, attribute_list)):
        if set(fields) != set(attributes):
            raise PgpValueError(
                f"The fields and attributes for feature {index} do not match.  Field "
                f"definitions={fields}. Feature attributes={attributes}.")
        values = []
        for name in names:
            value = attributes[name]
            try:
                values.append(None if value is None else _FIELD_TYPES[fields[name]](value))
            except (TypeError, ValueError):
                raise PgpValueError(f"attribute_list[{index}][{name!r}]: {value!r} does not "
                                    f"fit the field's type") from None
        features.append((_wkb(geometry, index), values))
    target = os.fspath(target_vector_path)
    layer_name = os.path.basename(os.path.splitext(target)[0])
    _pgp.write_vector(target, str(vector_format), layer_name, projection_wkt or None,
                      int(ogr_geom_type), [(n, int(fields[n])) for n in names], features)


def calculate_disjoint_polygon_set(vector_path, layer_id=0, bounding_box=None,
                                   geometries_may_touch=False, executor=None):
    """A list of sets of FIDs whose polygons do not intersect (``geometries_may_touch``: whose
    interiors do not), built greedily as pygeoprocessing builds them, from the features that
    intersect ``bounding_box`` ([minx, miny, maxx, maxy]; default: the layer's extent)."""
    if bounding_box is not None:
        try:
            bounding_box = [float(v) for v in bounding_box]
        except (TypeError, ValueError):
            raise PgpValueError("bounding_box: expected [minx, miny, maxx, maxy]") from None
        if len(bounding_box) != 4:
            raise PgpValueError(
                f"bounding_box: expected [minx, miny, maxx, maxy], got {bounding_box!r}")
    name = layer_id if isinstance(layer_id, str) else None
    index = 0 if name is not None else int(layer_id)
    return _pgp.calculate_disjoint_polygon_set(
        os.fspath(vector_path), index, name, bounding_box, bool(geometries_may_touch),
        executor_arg(executor))
