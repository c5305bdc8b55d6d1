"""pgp: parallel geoprocessing on GDAL, with pygeoprocessing's API and ``executor=``.

>>> import pgp
>>> pgp.raster_calculator([("dem.tif", 1)], lambda a: a * 2, "out.tif", pgp.GDT_Float32, -1,
...                       executor="threading:4")   # doctest: +SKIP

``pgp.compat.pygeoprocessing`` and ``pgp.compat.taskgraph`` stand in for pygeoprocessing and
taskgraph where a script imports them.
"""

from . import errors
from ._pgp import Executor, available_cores
from ._types import (
    GDT_Byte, GDT_Float32, GDT_Float64, GDT_Int8, GDT_Int16, GDT_Int32, GDT_UInt16, GDT_UInt32)
from .errors import (
    PgpError, PgpFileNotFoundError, PgpValueError, ReclassificationMissingValuesError)
from .geoprocessing import *  # noqa: F401,F403
from .geoprocessing import (
    DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS, INT8_GTIFF_CREATION_TUPLE_OPTIONS,
    SPARSE_CREATION_OPTIONS, array_equals_nodata, choose_dtype, choose_nodata,
    evaluate_raster_calculator_expression, get_raster_info, get_vector_info, iterblocks,
    new_raster_from_base, numpy_array_to_raster, raster_calculator, raster_map, raster_reduce,
    raster_to_numpy_array, reclassify_raster, align_and_resize_raster_stack, calculate_slope,
    convolve_2d, create_raster_from_bounding_box, create_raster_from_vector_extents,
    distance_transform_edt, mask_raster, merge_bounding_box_list, rasterize, reproject_vector,
    sample_data, stitch_rasters, transform_bounding_box, warp_raster, zonal_statistics,
    build_overviews, raster_band_percentile, shapely_geometry_to_vector,
    calculate_disjoint_polygon_set)
from . import kernels, routing  # noqa: E402

__version__ = "0.1.0"
