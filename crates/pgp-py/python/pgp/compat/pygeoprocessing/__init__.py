"""``import pgp.compat.pygeoprocessing as pygeoprocessing``: pygeoprocessing 2.4's API on pgp.

Every public function pgp implements is here under its own name (``.geoprocessing``,
``.routing``, ``.kernels``, ``.symbolic`` and ``.multiprocessing`` as in pygeoprocessing). Not
implemented, so an attribute that raises NotImplementedError: ``interpolate_points``.
"""

from . import geoprocessing, kernels, multiprocessing, routing, symbolic  # noqa: F401
from .geoprocessing import (  # noqa: F401
    DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS, DEFAULT_OSR_AXIS_MAPPING_STRATEGY,
    INT8_GTIFF_CREATION_TUPLE_OPTIONS, NOT_IN_PGP, RASTER_TYPE, SPARSE_CREATION_OPTIONS,
    UNKNOWN_TYPE, VECTOR_TYPE, ReclassificationMissingValuesError,
    align_and_resize_raster_stack, align_bbox, array_equals_nodata, build_overviews,
    calculate_disjoint_polygon_set, calculate_slope, choose_dtype, choose_nodata, convolve_2d, create_raster_from_bounding_box,
    create_raster_from_vector_extents, distance_transform_edt, get_gis_type, get_raster_info,
    get_vector_info, iterblocks, mask_raster, merge_bounding_box_list, new_raster_from_base,
    numpy_array_to_raster, raster_band_percentile, raster_calculator, raster_map, raster_reduce,
    raster_to_numpy_array, rasterize, reclassify_raster, reproject_vector,
    shapely_geometry_to_vector, stitch_rasters, transform_bounding_box,
    warp_raster, zonal_statistics)

__version__ = '2.4.11+pgp'


class GDALUseExceptions:
    """pygeoprocessing's context manager; pgp always reports GDAL failures as exceptions."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def gdal_use_exceptions(func):
    """pygeoprocessing's decorator; nothing to do on pgp."""
    return func


def __getattr__(name):
    return geoprocessing.__getattr__(name)
