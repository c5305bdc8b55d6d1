"""``pygeoprocessing.geoprocessing`` on pgp."""

import math
import os

import numpy

from ... import _pgp
from ... import geoprocessing as _g
from ...errors import PgpValueError
from ...errors import ReclassificationMissingValuesError  # noqa: F401
from ._defaults import with_default_executor

DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS = _g.DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS
INT8_GTIFF_CREATION_TUPLE_OPTIONS = _g.INT8_GTIFF_CREATION_TUPLE_OPTIONS
SPARSE_CREATION_OPTIONS = _g.SPARSE_CREATION_OPTIONS
DEFAULT_OSR_AXIS_MAPPING_STRATEGY = _g.DEFAULT_OSR_AXIS_MAPPING_STRATEGY
_LARGEST_ITERBLOCK = _g._LARGEST_ITERBLOCK
_MAX_TIMEOUT = _g._MAX_TIMEOUT
UNKNOWN_TYPE, RASTER_TYPE, VECTOR_TYPE = 0, 1, 2

# Functions without an executor: as they are.
array_equals_nodata = _g.array_equals_nodata
choose_dtype = _g.choose_dtype
choose_nodata = _g.choose_nodata
create_raster_from_bounding_box = _g.create_raster_from_bounding_box
create_raster_from_vector_extents = _g.create_raster_from_vector_extents
get_raster_info = _g.get_raster_info
get_vector_info = _g.get_vector_info
iterblocks = _g.iterblocks
mask_raster = _g.mask_raster
merge_bounding_box_list = _g.merge_bounding_box_list
new_raster_from_base = _g.new_raster_from_base
numpy_array_to_raster = _g.numpy_array_to_raster
raster_to_numpy_array = _g.raster_to_numpy_array
rasterize = _g.rasterize
reproject_vector = _g.reproject_vector
transform_bounding_box = _g.transform_bounding_box
shapely_geometry_to_vector = _g.shapely_geometry_to_vector

# CPU-bound functions: executor= defaults to $PGP_EXECUTOR.
raster_calculator = with_default_executor(_g.raster_calculator, 'local_op')
raster_map = with_default_executor(_g.raster_map, 'op')
raster_reduce = with_default_executor(_g.raster_reduce, 'function')
reclassify_raster = with_default_executor(_g.reclassify_raster)
align_and_resize_raster_stack = with_default_executor(_g.align_and_resize_raster_stack)
warp_raster = with_default_executor(_g.warp_raster)
zonal_statistics = with_default_executor(_g.zonal_statistics)
convolve_2d = with_default_executor(_g.convolve_2d)
distance_transform_edt = with_default_executor(_g.distance_transform_edt)
calculate_slope = with_default_executor(_g.calculate_slope)
stitch_rasters = with_default_executor(_g.stitch_rasters)
build_overviews = with_default_executor(_g.build_overviews)
raster_band_percentile = with_default_executor(_g.raster_band_percentile)
calculate_disjoint_polygon_set = with_default_executor(_g.calculate_disjoint_polygon_set)


def align_bbox(geotransform, bbox):
    """``bbox`` grown outward to the pixel edges of ``geotransform``'s grid."""
    x_origin, pixel_width, _, y_origin, _, pixel_height = geotransform
    if pixel_width == 0 or pixel_height == 0:
        raise ValueError('Pixel width and height must not be 0')
    if bbox[2] < bbox[0] or bbox[3] < bbox[1]:
        raise ValueError('bbox must be in order [minX, minY, maxX, maxY]')
    if ((pixel_width > 0 and bbox[0] < x_origin) or (pixel_height > 0 and bbox[1] < y_origin)
            or (pixel_width < 0 and bbox[0] > x_origin)
            or (pixel_height < 0 and bbox[1] > y_origin)):
        raise ValueError('bbox must fall within geotransform grid')
    sx, sy = numpy.sign(pixel_width), numpy.sign(pixel_height)
    return [
        x_origin + abs(pixel_width) * math.floor((bbox[0] - x_origin) / pixel_width * sx),
        y_origin + abs(pixel_height) * math.floor((bbox[1] - y_origin) / pixel_height * sy),
        x_origin + abs(pixel_width) * math.ceil((bbox[2] - x_origin) / pixel_width * sx),
        y_origin + abs(pixel_height) * math.ceil((bbox[3] - y_origin) / pixel_height * sy)]


def get_gis_type(path):
    """``RASTER_TYPE``, ``VECTOR_TYPE``, or both OR-ed; ValueError when GDAL opens neither."""
    gis_type = UNKNOWN_TYPE
    try:
        _pgp.raster_info(os.fspath(path))
        gis_type |= RASTER_TYPE
    except (PgpValueError, FileNotFoundError):
        pass
    try:
        _pgp.vector_info(os.fspath(path), 0, None)
        gis_type |= VECTOR_TYPE
    except (PgpValueError, FileNotFoundError):
        pass
    if gis_type == UNKNOWN_TYPE:
        raise ValueError(f"Could not open {path} as a gdal.OF_RASTER or gdal.OF_VECTOR.")
    return gis_type


NOT_IN_PGP = ('interpolate_points',)


def __getattr__(name):
    if name in NOT_IN_PGP:
        raise NotImplementedError(f"pygeoprocessing.{name} is not implemented by pgp yet")
    raise AttributeError(f"module 'pgp.compat.pygeoprocessing' has no attribute {name!r}")
