"""pygeoprocessing's raster and vector functions on pgp, each CPU-bound one with ``executor=``.

Signatures, defaults and return values are pygeoprocessing 2.4's; ``executor`` is the last
keyword argument: ``None`` (synchronous), ``"threading:N"``, ``"multiprocessing:N"``,
``"threading"`` (one thread per core), a :class:`pgp.Executor`, or a ``concurrent.futures``
executor (its kind and worker count are used).
"""

import numbers
import os

import numpy

from . import _pgp
from ._executor import executor_arg, kind_of
from ._types import (
    SUPPORTED_DTYPES, datatype_name, gdal_code, numpy_dtype_name, numpy_type, ogr_geometry_code)
from .errors import PgpValueError

DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS = ('GTIFF', (
    'TILED=YES', 'BIGTIFF=YES', 'COMPRESS=LZW', 'BLOCKXSIZE=256', 'BLOCKYSIZE=256'))
INT8_GTIFF_CREATION_TUPLE_OPTIONS = ('GTIFF', (
    'PIXELTYPE=SIGNEDBYTE',) + DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS[1])
SPARSE_CREATION_OPTIONS = ('GTIFF', DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS[1] + ('SPARSE_OK=TRUE',))
_LARGEST_ITERBLOCK = 2 ** 16
_MAX_TIMEOUT = 60.0


def _driver(raster_driver_creation_tuple):
    name, options = raster_driver_creation_tuple
    if name.upper() == 'GTIFF':
        name = 'GTiff'
    return name, [str(o) for o in options]


def _path_band(value, argument):
    if (isinstance(value, (tuple, list)) and len(value) == 2
            and isinstance(value[0], (str, os.PathLike))
            and isinstance(value[1], numbers.Integral) and not isinstance(value[1], bool)):
        return os.fspath(value[0]), int(value[1])
    raise PgpValueError(f"{argument}: expected a (path, band) tuple, got {value!r}")


def _is_raw(value):
    return (isinstance(value, (tuple, list)) and len(value) == 2
            and isinstance(value[1], str) and value[1] == 'raw')


# --- describing -----------------------------------------------------------------------------

def get_raster_info(raster_path):
    """pygeoprocessing's raster properties dictionary (``overviews``: ``(x, y)`` sizes of band
    1's overviews)."""
    info = _pgp.raster_info(os.fspath(raster_path))
    name = info.pop('datatype_name')
    info.pop('datatype_names')
    info['datatype'] = gdal_code(name)
    info['numpy_type'] = numpy_type(name)
    return info


def get_vector_info(vector_path, layer_id=0):
    """pygeoprocessing's vector properties dictionary for one layer (by index or name)."""
    if isinstance(layer_id, str):
        info = _pgp.vector_info(os.fspath(vector_path), None, layer_id)
    else:
        info = _pgp.vector_info(os.fspath(vector_path), int(layer_id), None)
    return {
        'file_list': info['file_list'],
        'projection_wkt': info['projection_wkt'],
        'feature_count': info['feature_count'],
        'geometry_type': ogr_geometry_code(info['geometry_type_name']),
        'bounding_box': info['bounding_box'],
    }


def choose_nodata(dtype):
    """The largest value of ``dtype``: pygeoprocessing's default nodata."""
    try:
        return float(numpy.finfo(dtype).max)
    except ValueError:
        return int(numpy.iinfo(dtype).max)


def choose_dtype(*raster_paths):
    """numpy's promotion of the rasters' first-band types."""
    return numpy.result_type(*[get_raster_info(p)['numpy_type'] for p in raster_paths])


def array_equals_nodata(array, nodata):
    """Where ``array`` is ``nodata``: ``==`` for integers, ``isclose`` (NaN matches) for floats."""
    if nodata is None:
        return numpy.zeros(array.shape, dtype=bool)
    if numpy.issubdtype(array.dtype, numpy.integer):
        return array == nodata
    return numpy.isclose(array, nodata, equal_nan=True)


# --- arrays and blocks ----------------------------------------------------------------------

def _storable(array, argument):
    """``array`` as a 2-D array of a type pgp stores (bool as uint8, int64 as int32 if it fits)."""
    array = numpy.asarray(array)
    if array.dtype == bool:
        return array.astype(numpy.uint8)
    if array.dtype in SUPPORTED_DTYPES:
        return array
    if numpy.issubdtype(array.dtype, numpy.integer):
        info = numpy.iinfo(numpy.int32)
        if array.size == 0 or (array.min() >= info.min and array.max() <= info.max):
            return array.astype(numpy.int32)
        return array.astype(numpy.float64)
    if numpy.issubdtype(array.dtype, numpy.floating):
        return array.astype(numpy.float64)
    raise PgpValueError(f"{argument}: numpy dtype {array.dtype} cannot be stored in a raster")


def numpy_array_to_raster(base_array, target_nodata, pixel_size, origin, projection_wkt,
                          target_path,
                          raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS):
    """Write a 2-D array as a one-band raster (nothing is left at ``target_path`` on failure)."""
    if (origin is None) != (pixel_size is None):
        raise ValueError("Origin and pixel size must both be defined or both be None")
    array = _storable(base_array, 'base_array')
    if array.ndim != 2:
        raise PgpValueError(f"base_array: expected a 2-D array, got {array.ndim} dimension(s)")
    if origin is None:
        origin, pixel_size = (0.0, 0.0), (1.0, 1.0)
    name, options = _driver(raster_driver_creation_tuple)
    nodata = None if target_nodata is None else float(target_nodata)
    _pgp.numpy_array_to_raster(
        array, nodata, (float(pixel_size[0]), float(pixel_size[1])),
        (float(origin[0]), float(origin[1])), projection_wkt, os.fspath(target_path), name,
        options)


def raster_to_numpy_array(raster_path, band_id=1):
    """A whole band as a numpy array of the band's own type."""
    return _pgp.raster_to_numpy_array(os.fspath(raster_path), int(band_id))


def iterblocks(raster_path_band, largest_block=_LARGEST_ITERBLOCK, offset_only=False):
    """The band's blocks, row-major, merged up to ``largest_block`` pixels, as
    ``(offset_dict, array)`` or, with ``offset_only``, ``offset_dict``."""
    path, band = _path_band(raster_path_band, 'raster_path_band')
    offsets = _pgp.block_offsets(path, band, int(largest_block))
    reader = None if offset_only else _pgp.RasterReader(path)
    for xoff, yoff, xsize, ysize in offsets:
        offset = {'xoff': xoff, 'yoff': yoff, 'win_xsize': xsize, 'win_ysize': ysize}
        if offset_only:
            yield offset
        else:
            yield offset, reader.read(band, xoff, yoff, xsize, ysize)


def new_raster_from_base(base_path, target_path, datatype, band_nodata_list,
                         fill_value_list=None, n_rows=None, n_cols=None,
                         raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS):
    """A raster on ``base_path``'s grid, one band per nodata value, optionally filled."""
    name, options = _driver(raster_driver_creation_tuple)
    nodata = [None if v is None else float(v) for v in band_nodata_list]
    fill = None
    if fill_value_list is not None:
        fill = [float('nan') if v is None else float(v) for v in fill_value_list]
    _pgp.new_raster_from_base(
        os.fspath(base_path), os.fspath(target_path), datatype_name(datatype), nodata, fill,
        n_rows, n_cols, name, options)


# --- the raster calculator family -----------------------------------------------------------

_VARIABLE_NAMES = 'abcdefghijklmnopqrstuvwxyz'


def _expression_bindings(inputs):
    """``{name: (path, band) | number}`` or a list (named a, b, c, ... in order)."""
    if isinstance(inputs, dict):
        items = list(inputs.items())
    else:
        if len(inputs) > len(_VARIABLE_NAMES):
            raise PgpValueError("an expression takes at most 26 positional inputs (a to z); "
                                "pass a {name: (path, band)} dict for more")
        items = list(zip(_VARIABLE_NAMES, inputs))
    rasters, scalars = [], []
    for name, value in items:
        if _is_raw(value):
            value = value[0]
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            scalars.append((name, float(value)))
        else:
            path, band = _path_band(value, f"input {name!r}")
            rasters.append((name, path, band))
    return rasters, scalars


def raster_calculator(base_raster_path_band_const_list, local_op, target_raster_path,
                      datatype_target, nodata_target, calc_raster_stats=True,
                      use_shared_memory=False, largest_block=_LARGEST_ITERBLOCK,
                      max_timeout=_MAX_TIMEOUT,
                      raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS,
                      executor=None):
    """Apply ``local_op`` to aligned blocks of the inputs and write ``target_raster_path``.

    ``local_op`` is either

    * a Python callable on numpy arrays, as in pygeoprocessing: it gets one argument per input
      (a block of each ``(path, band)``, the matching slice of each numpy array input, the
      value of each ``(value, 'raw')``). The GIL is held only while it runs: reading, writing,
      statistics and compression run without it, so on ``threading:N`` numpy's own GIL-free
      work overlaps. On a process executor (``"multiprocessing:N"`` or a
      ``ProcessPoolExecutor``) it runs in N Python worker processes if it can be pickled (a
      module-level function); otherwise the call fails before any output exists;
    * a pgp expression string (``"a * 2 + b"``; inputs are named ``a``, ``b``, ... in order, or
      pass a ``{name: (path, band)}`` dict as the first argument), which runs without Python on
      any executor, processes included.

    ``use_shared_memory`` and ``max_timeout`` are accepted and ignored (pgp does not need them).
    Returns None, as pygeoprocessing does.
    """
    del use_shared_memory, max_timeout
    name, options = _driver(raster_driver_creation_tuple)
    dtype = datatype_name(datatype_target)
    nodata = None if nodata_target is None else float(nodata_target)
    target = os.fspath(target_raster_path)
    executor = executor_arg(executor)
    if isinstance(local_op, str):
        rasters, scalars = _expression_bindings(base_raster_path_band_const_list)
        _pgp.evaluate_expression(
            local_op, rasters, scalars, target, dtype, nodata, None, None,
            bool(calc_raster_stats), int(largest_block), name, options, executor)
        return None
    if not callable(local_op):
        raise PgpValueError(
            f"local_op must be a callable or an expression string, got {type(local_op).__name__}")
    original_executor = executor
    if kind_of(executor) == 'slurm':
        raise PgpValueError(
            "raster_calculator: local_op is a Python callable, which cannot run on Slurm "
            "workers; give local_op as a pgp expression string (e.g. 'a * 2 + b')")
    if kind_of(executor) == 'multiprocessing':
        # Worker processes of Python's own, fed by as many pgp threads: pgp reads, converts,
        # compresses and writes; only the call crosses to the processes (pickled by reference,
        # so it must be importable there).
        from ._process_calls import remote_callable
        local_op, executor = remote_callable(local_op, original_executor)
    template, positions, inputs = [], [], []
    for i, value in enumerate(base_raster_path_band_const_list):
        if _is_raw(value):
            template.append(value[0])
        elif isinstance(value, numpy.ndarray):
            array = _storable(value, f"input {i}")
            if array.ndim == 1:
                array = array.reshape(1, -1)
            if array.ndim != 2:
                raise PgpValueError(f"input {i}: arrays must have 1 or 2 dimensions")
            template.append(None)
            positions.append(i)
            inputs.append(('array', array))
        else:
            path, band = _path_band(value, f"input {i} of base_raster_path_band_const_list")
            template.append(None)
            positions.append(i)
            inputs.append(('raster', path, band))

    def block_op(blocks):
        args = list(template)
        for position, block in zip(positions, blocks):
            args[position] = block
        result = numpy.asarray(local_op(*args))
        if result.dtype not in SUPPORTED_DTYPES:
            result = result.astype(numpy.float64)
        return result

    _pgp.raster_calculator_py(
        inputs, block_op, target, dtype, nodata, bool(calc_raster_stats), int(largest_block),
        name, options, executor)
    return None


def evaluate_raster_calculator_expression(
        expression, symbol_to_path_band_map, target_nodata, target_raster_path,
        default_nan=None, default_inf=None,
        raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS, executor=None):
    """pygeoprocessing.symbolic's expression evaluator, on pgp's expression language."""
    rasters, scalars = _expression_bindings(symbol_to_path_band_map)
    name, options = _driver(raster_driver_creation_tuple)
    _pgp.evaluate_expression(
        expression, rasters, scalars, os.fspath(target_raster_path), None,
        None if target_nodata is None else float(target_nodata),
        default_nan, default_inf, True, _LARGEST_ITERBLOCK, name, options,
        executor_arg(executor))


def raster_map(op, rasters, target_path, target_nodata=None, target_dtype=None,
               raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS,
               executor=None):
    """Apply ``op`` to the pixels valid in every raster (1-D arrays of each raster's type);
    nodata wherever any input is nodata. Callables run on threads (not processes)."""
    if kind_of(executor) in ('multiprocessing', 'slurm'):
        raise PgpValueError("raster_map: op is a Python callable, which pgp runs on threads "
                            "only; use executor='threading:N'")
    paths = [os.fspath(r) for r in rasters]
    dtypes = [get_raster_info(p)['numpy_type'] for p in paths]

    def values_op(arrays):
        typed = [a.astype(t, copy=False) for a, t in zip(arrays, dtypes)]
        return numpy.asarray(op(*typed), dtype=numpy.float64).reshape(-1)

    dtype = None if target_dtype is None else numpy_dtype_name(target_dtype)
    name, options = _driver(raster_driver_creation_tuple)
    _pgp.raster_map_py(
        values_op, paths, os.fspath(target_path),
        None if target_nodata is None else float(target_nodata), dtype, name, options,
        executor_arg(executor))


def raster_reduce(function, raster_path_band, initializer, mask_nodata=True,
                  largest_block=_LARGEST_ITERBLOCK, executor=None):
    """Fold ``function(accumulator, block_values)`` over the band's blocks in order (valid
    pixels only when ``mask_nodata``, as a 1-D array of the band's type)."""
    if kind_of(executor) in ('multiprocessing', 'slurm'):
        raise PgpValueError("raster_reduce: function is a Python callable, which pgp runs on "
                            "threads only; use executor='threading:N'")
    path, band = _path_band(raster_path_band, 'raster_path_band')
    dtype = numpy_type(_pgp.raster_info(path)['datatype_names'][band - 1]
                       if band >= 1 else 'Float64')

    def typed(accumulator, values):
        return function(accumulator, values.astype(dtype, copy=False))

    return _pgp.raster_reduce_py(typed, path, band, initializer, bool(mask_nodata),
                                 int(largest_block), executor_arg(executor))


def reclassify_raster(base_raster_path_band, value_map, target_raster_path, target_datatype,
                      target_nodata, values_required=True,
                      raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS,
                      executor=None):
    """Map pixel values through ``value_map``; runs on any executor, processes included.
    With ``values_required``, values missing from the map raise
    :class:`ReclassificationMissingValuesError` listing them, and no output is written."""
    path, band = _path_band(base_raster_path_band, 'base_raster_path_band')
    if not value_map:
        raise PgpValueError("value_map must contain values")
    pairs = [(float(k), float(v)) for k, v in value_map.items()]
    name, options = _driver(raster_driver_creation_tuple)
    _pgp.reclassify_raster(
        path, band, pairs, os.fspath(target_raster_path), datatype_name(target_datatype),
        None if target_nodata is None else float(target_nodata), bool(values_required), name,
        options, executor_arg(executor))


from ._ops import (  # noqa: E402
    DEFAULT_OSR_AXIS_MAPPING_STRATEGY, align_and_resize_raster_stack, calculate_slope,
    convolve_2d, create_raster_from_bounding_box, create_raster_from_vector_extents,
    distance_transform_edt, mask_raster, merge_bounding_box_list, rasterize, reproject_vector,
    stitch_rasters, transform_bounding_box, warp_raster, zonal_statistics)
from ._bands import build_overviews, raster_band_percentile  # noqa: E402
from ._vectors import calculate_disjoint_polygon_set, shapely_geometry_to_vector  # noqa: E402


def sample_data(target_dir, size, seed=1):
    """pgp's seeded sample data in ``target_dir``: ``{'dem', 'weight', 'landcover', 'precip',
    'zones'}`` paths (rasters of ``size`` x ``size``, zone polygons)."""
    return {name: os.fspath(path) for name, path in
            _pgp.sample_data(os.fspath(target_dir), int(size), int(seed))}
