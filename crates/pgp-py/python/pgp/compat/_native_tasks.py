"""pgp's own functions as native task-graph nodes, for :mod:`pgp.compat.taskgraph`.

A task whose ``func`` is ``pgp.raster_calculator`` with an expression string,
``pgp.reclassify_raster``, ``pgp.align_and_resize_raster_stack`` or ``pgp.zonal_statistics``
(or the same function from ``pgp.compat.pygeoprocessing``) becomes the registered pgp-graph
node of that operation (``pgp.calc``, ``pgp.reclassify``, ``pgp.align``, ``pgp.zonal_stats``):
its request is built here once, and the task runs in Rust with no Python in the loop, keyed by
the request and its files' contents. A call this module cannot express as a request (a Python
``local_op``, a vector mask, another driver, ...) returns None and runs as a Python task.
"""

import hashlib
import inspect
import json
import os

from .. import _ops
from .. import geoprocessing as _g
from .._types import datatype_name


class NativeTask:
    """How to add one native task: ``add(graph, name, after, priority, transient)`` adds it
    to a ``pgp._pgp.Graph``; ``targets`` are the files it writes; ``result()`` reads what
    ``Task.get()`` returns once it is done."""

    def __init__(self, op, add, targets, result=None):
        self.op = op
        self.add = add
        self.targets = targets
        self.result = result or (lambda: None)


def _sha(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _write_once(path, text):
    """Writes ``text`` to ``path`` unless it already holds it (atomically: a temporary sibling
    renamed into place), so an unchanged table keeps its identity and skips its readers."""
    try:
        with open(path, encoding='utf-8') as f:
            if f.read() == text:
                return
    except OSError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temp = f'{path}.tmp-{os.getpid()}'
    try:
        with open(temp, 'w', encoding='utf-8') as f:
            f.write(text)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def _calc(a):
    if not isinstance(a['local_op'], str):
        return None
    rasters, scalars = _g._expression_bindings(a['base_raster_path_band_const_list'])
    driver, driver_options = _g._driver(a['raster_driver_creation_tuple'])
    target = os.fspath(a['target_raster_path'])
    nodata = a['nodata_target']

    def add(graph, name, after, priority, transient):
        return graph.add_calc(
            name, a['local_op'], rasters, scalars, target, datatype_name(a['datatype_target']),
            None if nodata is None else float(nodata), bool(a['calc_raster_stats']),
            int(a['largest_block']), driver, driver_options, after, priority, transient)
    return NativeTask('pgp.calc', add, [target])


def _reclassify(a, cache_dir):
    if tuple(a['raster_driver_creation_tuple']) != tuple(_g.DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS):
        return None
    path, band = _g._path_band(a['base_raster_path_band'], 'base_raster_path_band')
    value_map = a['value_map']
    if not value_map:
        return None  # pgp.reclassify_raster's own error, raised when the task runs
    rows = sorted((float(k), float(v)) for k, v in value_map.items())
    text = 'key,value\n' + ''.join(f'{k!r},{v!r}\n' for k, v in rows)
    # The map becomes a file named by its content: editing the map reruns the task, an equal
    # map in another run finds the same file.
    table = os.path.join(cache_dir, 'pgp_tables', hashlib.sha256(text.encode()).hexdigest()
                         + '.csv')
    _write_once(table, text)
    target = os.fspath(a['target_raster_path'])
    nodata = a['target_nodata']

    def add(graph, name, after, priority, transient):
        return graph.add_reclassify(
            name, path, band, table, 'key', 'value', target,
            datatype_name(a['target_datatype']), None if nodata is None else float(nodata),
            bool(a['values_required']), after, priority, transient)
    return NativeTask('pgp.reclassify', add, [target])


def _align(a):
    if (a['base_vector_path_list'] or a['base_projection_wkt_list'] or a['mask_options']
            or a['vector_mask_options'] or a['gdal_warp_options']
            or tuple(a['raster_driver_creation_tuple'])
            != tuple(_g.DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS)):
        return None
    mode = a['bounding_box_mode']
    bbox = mode if isinstance(mode, str) else ','.join(repr(float(v)) for v in mode)
    rasters = [os.fspath(p) for p in a['base_raster_path_list']]
    targets = [os.fspath(p) for p in a['target_raster_path_list']]
    size = a['target_pixel_size']
    index = a['raster_align_index']

    def add(graph, name, after, priority, transient):
        return graph.add_align(
            name, rasters, targets, [str(m) for m in a['resample_method_list']],
            (float(size[0]), float(size[1])), bbox, None if index is None else int(index),
            a['target_projection_wkt'], after, priority, transient)
    return NativeTask('pgp.align', add, targets)


def _zonal(a, cache_dir):
    raster_band = a['base_raster_path_band']
    if a['include_value_counts'] or (raster_band and isinstance(raster_band[0], (tuple, list))):
        return None
    path, band = _ops._path_band(raster_band, 'base_raster_path_band')
    vector = os.fspath(a['aggregate_vector_path'])
    layer = a['aggregate_layer_name']
    layer = None if layer is None else str(layer)
    ignore_nodata = bool(a['ignore_nodata'])
    # The statistics are the task's output file; get() reads them back.
    target = os.path.join(cache_dir, 'pgp_results', _sha(
        ['zonal', os.path.abspath(path), band, os.path.abspath(vector), layer, ignore_nodata])
        + '.json')
    os.makedirs(os.path.dirname(target), exist_ok=True)

    def add(graph, name, after, priority, transient):
        return graph.add_zonal(name, path, band, vector, layer, ignore_nodata, target, after,
                               priority, transient)

    def result():
        with open(target, encoding='utf-8') as f:
            stats = {int(fid): s for fid, s in json.load(f).items()}
        for s in stats.values():
            s['average'] = s['sum'] / s['count'] if s['count'] else None
        return stats
    return NativeTask('pgp.zonal_stats', add, [target], result)


def native_task(func, args, kwargs, cache_dir):
    """The :class:`NativeTask` for ``func(*args, **kwargs)``, or None when it is not one of
    pgp's operations in a form the graph runs natively."""
    base = inspect.unwrap(func) if callable(func) else None
    builders = {
        _g.raster_calculator: _calc,
        _g.reclassify_raster: lambda a: _reclassify(a, cache_dir),
        _g.align_and_resize_raster_stack: _align,
        _g.zonal_statistics: lambda a: _zonal(a, cache_dir),
    }
    builder = builders.get(base)
    if builder is None:
        return None
    try:
        bound = inspect.signature(base).bind(*args, **kwargs)
    except TypeError:
        return None  # the call itself is wrong: let it fail as a Python task, with its message
    bound.apply_defaults()
    return builder(bound.arguments)
