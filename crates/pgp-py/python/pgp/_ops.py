"""pygeoprocessing's warp, align, zonal, convolution, distance, slope, vector and stitch
functions on pgp (imported into :mod:`pgp.geoprocessing`)."""

import json
import os

import numpy

from . import _pgp
from ._executor import executor_arg
from ._types import datatype_name
from .errors import PgpValueError

DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS = ('GTIFF', (
    'TILED=YES', 'BIGTIFF=YES', 'COMPRESS=LZW', 'BLOCKXSIZE=256', 'BLOCKYSIZE=256'))
# osr.OAMS_TRADITIONAL_GIS_ORDER: pgp always uses (x, y) = (lon, lat) order, as this does.
DEFAULT_OSR_AXIS_MAPPING_STRATEGY = 0


def _driver_json(raster_driver_creation_tuple):
    name, options = raster_driver_creation_tuple
    return {'driver': 'GTiff' if name.upper() == 'GTIFF' else name,
            'options': [str(o) for o in options]}


def _path_band(value, argument):
    if isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[1], int):
        return os.fspath(value[0]), int(value[1])
    raise PgpValueError(f"{argument}: expected a (path, band) tuple, got {value!r}")


def _layer(layer):
    if layer is None:
        return {'Index': 0}
    if isinstance(layer, str):
        return {'Name': layer}
    return {'Index': int(layer)}


def _bbox(bb):
    return {'xmin': bb[0], 'ymin': bb[1], 'xmax': bb[2], 'ymax': bb[3]}


def _opts(**kw):
    return json.dumps(kw)


def _overview(level):
    if level is None or level == -1:
        return 'Base'
    if isinstance(level, str):
        text = level.upper()
        if text == 'AUTO':
            return 'Auto'
        if text.startswith('AUTO-'):
            return {'AutoMinus': int(text[5:])}
        if text == 'NONE':
            return 'Base'
    return {'Level': int(level)}


def _warp_mask(vector_mask_options, argument):
    if not vector_mask_options:
        return None
    if 'mask_raster_path' in vector_mask_options:
        return {'Raster': os.fspath(vector_mask_options['mask_raster_path'])}
    if 'mask_vector_path' not in vector_mask_options:
        raise PgpValueError(f"{argument}: needs 'mask_vector_path' (or 'mask_raster_path')")
    layer = vector_mask_options.get('mask_layer_name',
                                    vector_mask_options.get('mask_layer_id'))
    return {'Vector': {'path': os.fspath(vector_mask_options['mask_vector_path']),
                       'layer': _layer(layer),
                       'where_clause': vector_mask_options.get('mask_vector_where_filter')}}


def warp_raster(base_raster_path, target_pixel_size, target_raster_path, resample_method,
                target_bb=None, base_projection_wkt=None, target_projection_wkt=None,
                n_threads=None, mask_options=None, vector_mask_options=None,
                gdal_warp_options=None, working_dir=None, use_overview_level=-1,
                raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS,
                osr_axis_mapping_strategy=DEFAULT_OSR_AXIS_MAPPING_STRATEGY, executor=None):
    """Resample and reproject a raster onto pygeoprocessing's target grid (GDAL's warper
    with pygeoprocessing's arguments; output tiles are compressed on the executor)."""
    del working_dir, osr_axis_mapping_strategy
    options = _opts(
        target_bbox=None if target_bb is None else _bbox(target_bb),
        base_projection=base_projection_wkt, target_projection=target_projection_wkt,
        n_threads=n_threads,
        mask=_warp_mask(vector_mask_options or mask_options, 'vector_mask_options'),
        gdal_warp_options=list(gdal_warp_options or []),
        overview_level=_overview(use_overview_level),
        driver=_driver_json(raster_driver_creation_tuple))
    _pgp.warp_raster(os.fspath(base_raster_path),
                     (float(target_pixel_size[0]), float(target_pixel_size[1])),
                     os.fspath(target_raster_path), resample_method, options,
                     executor_arg(executor))


def align_and_resize_raster_stack(
        base_raster_path_list, target_raster_path_list, resample_method_list,
        target_pixel_size, bounding_box_mode, base_vector_path_list=None,
        raster_align_index=None, base_projection_wkt_list=None, target_projection_wkt=None,
        mask_options=None, vector_mask_options=None, gdal_warp_options=None,
        raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS,
        osr_axis_mapping_strategy=DEFAULT_OSR_AXIS_MAPPING_STRATEGY, working_dir=None,
        executor=None):
    """Warp every raster onto one grid (``'union'``, ``'intersection'`` or a bounding box);
    the warps run at once on the executor."""
    del working_dir, osr_axis_mapping_strategy
    if isinstance(bounding_box_mode, str):
        mode = bounding_box_mode
    else:
        mode = ','.join(repr(float(v)) for v in bounding_box_mode)
    stack_mask = None
    vmask = vector_mask_options or mask_options
    if vmask:
        if 'mask_vector_path' not in vmask:
            raise PgpValueError("vector_mask_options: needs 'mask_vector_path'")
        stack_mask = {
            'vector': os.fspath(vmask['mask_vector_path']),
            'layer': _layer(vmask.get('mask_layer_id', vmask.get('mask_layer_name'))),
            'where_clause': vmask.get('mask_vector_where_filter'),
            'mask_raster': None}
    options = _opts(
        base_vectors=[os.fspath(p) for p in (base_vector_path_list or [])],
        raster_align_index=raster_align_index,
        base_projections=list(base_projection_wkt_list or []),
        target_projection=target_projection_wkt, mask=stack_mask,
        gdal_warp_options=list(gdal_warp_options or []),
        driver=_driver_json(raster_driver_creation_tuple))
    _pgp.align_and_resize_raster_stack(
        [os.fspath(p) for p in base_raster_path_list],
        [os.fspath(p) for p in target_raster_path_list], list(resample_method_list),
        (float(target_pixel_size[0]), float(target_pixel_size[1])), mode, options,
        executor_arg(executor))


def zonal_statistics(base_raster_path_band, aggregate_vector_path, aggregate_layer_name=None,
                     ignore_nodata=True, polygons_might_overlap=True,
                     include_value_counts=False, working_dir=None, executor=None):
    """``{fid: {'min', 'max', 'sum', 'count', 'nodata_count', 'average'}}`` per feature (a list
    of such dicts when given a list of ``(path, band)``), with ``'value_counts'``
    (``{value: pixels}`` of the pixels counted in ``count``; int values for an integer raster)
    when ``include_value_counts``."""
    del polygons_might_overlap, working_dir
    if base_raster_path_band and isinstance(base_raster_path_band[0], (tuple, list)):
        return [zonal_statistics(b, aggregate_vector_path, aggregate_layer_name,
                                 ignore_nodata, include_value_counts=include_value_counts,
                                 executor=executor)
                for b in base_raster_path_band]
    path, band = _path_band(base_raster_path_band, 'base_raster_path_band')
    stats = _pgp.zonal_statistics(
        path, band, os.fspath(aggregate_vector_path),
        _opts(layer=_layer(aggregate_layer_name), ignore_nodata=bool(ignore_nodata),
              include_value_counts=bool(include_value_counts)),
        executor_arg(executor))
    integer = None
    for s in stats.values():
        s['average'] = s['sum'] / s['count'] if s['count'] else None
        if include_value_counts:
            if integer is None:
                name = _pgp.raster_info(path)['datatype_names'][band - 1]
                integer = 'Int' in name or name == 'Byte'
            key = int if integer else float
            s['value_counts'] = {key(v): n for v, n in s['value_counts']}
    return stats


def convolve_2d(signal_path_band, kernel_path_band, target_path, ignore_nodata_and_edges=False,
                mask_nodata=True, normalize_kernel=False, target_datatype=7,
                target_nodata=None, working_dir=None, set_tol_to_zero=1e-8,
                max_timeout=60.0,
                raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS,
                executor=None):
    """FFT convolution of a raster with a kernel raster, pygeoprocessing's rules."""
    del working_dir, max_timeout
    signal, sband = _path_band(signal_path_band, 'signal_path_band')
    kernel, kband = _path_band(kernel_path_band, 'kernel_path_band')
    short = {'Byte': 'U8', 'Int8': 'I8', 'UInt16': 'U16', 'Int16': 'I16', 'UInt32': 'U32',
             'Int32': 'I32', 'Float32': 'F32', 'Float64': 'F64'}
    options = _opts(
        ignore_nodata_and_edges=bool(ignore_nodata_and_edges), mask_nodata=bool(mask_nodata),
        normalize_kernel=bool(normalize_kernel),
        target_datatype=short[datatype_name(target_datatype)],
        target_nodata=None if target_nodata is None else float(target_nodata),
        set_tol_to_zero=set_tol_to_zero, driver=_driver_json(raster_driver_creation_tuple))
    _pgp.convolve_2d(signal, sband, kernel, kband, os.fspath(target_path), options,
                     executor_arg(executor))


def distance_transform_edt(base_region_raster_path_band, target_distance_raster_path,
                           sampling_distance=(1.0, 1.0), working_dir=None,
                           raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS,
                           executor=None):
    """Euclidean distance to the nearest non-zero pixel, in ``sampling_distance`` units."""
    del working_dir
    path, band = _path_band(base_region_raster_path_band, 'base_region_raster_path_band')
    _pgp.distance_transform_edt(
        path, band, os.fspath(target_distance_raster_path),
        _opts(sampling_distance=[float(sampling_distance[0]), float(sampling_distance[1])],
              driver=_driver_json(raster_driver_creation_tuple)),
        executor_arg(executor))


def calculate_slope(base_elevation_raster_path_band, target_slope_path,
                    raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS,
                    executor=None):
    """Slope in percent (Horn's method, as pygeoprocessing)."""
    path, band = _path_band(base_elevation_raster_path_band, 'base_elevation_raster_path_band')
    _pgp.calculate_slope(path, band, os.fspath(target_slope_path),
                         _opts(driver=_driver_json(raster_driver_creation_tuple)),
                         executor_arg(executor))


def mask_raster(base_raster_path_band, mask_vector_path, target_mask_raster_path,
                mask_layer_id=0, target_mask_value=None, working_dir=None, all_touched=False,
                where_clause=None,
                raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS):
    """Copy of the band with pixels outside the vector's polygons set to
    ``target_mask_value`` (default: the band's nodata)."""
    del working_dir
    path, band = _path_band(base_raster_path_band, 'base_raster_path_band')
    _pgp.mask_raster(path, band, os.fspath(mask_vector_path),
                     os.fspath(target_mask_raster_path),
                     _opts(layer=_layer(mask_layer_id),
                           target_mask_value=None if target_mask_value is None
                           else float(target_mask_value),
                           all_touched=bool(all_touched), where_clause=where_clause,
                           driver=_driver_json(raster_driver_creation_tuple)))


def rasterize(vector_path, target_raster_path, burn_values=None, option_list=None, layer_id=0,
              where_clause=None):
    """Burn the layer into an existing raster: ``burn_values``, or the ``ATTRIBUTE=`` of
    ``option_list``; ``ALL_TOUCHED=TRUE`` and ``MERGE_ALG=ADD`` are understood."""
    attribute, all_touched, merge, extra = None, False, 'Replace', []
    for option in option_list or []:
        key, _, value = option.partition('=')
        key = key.strip().upper()
        if key == 'ATTRIBUTE':
            attribute = value
        elif key == 'ALL_TOUCHED':
            all_touched = value.strip().upper() in ('TRUE', 'YES', '1')
        elif key == 'MERGE_ALG':
            merge = 'Add' if value.strip().upper() == 'ADD' else 'Replace'
        else:
            extra.append(option)
    if burn_values is None and attribute is None:
        raise PgpValueError("rasterize: give burn_values or an ATTRIBUTE= option")
    _pgp.rasterize(os.fspath(vector_path), os.fspath(target_raster_path),
                   None if burn_values is None else [float(v) for v in burn_values], attribute,
                   _opts(bands=[1], all_touched=all_touched, layer=_layer(layer_id),
                         where_clause=where_clause, merge=merge, extra_options=extra))


def reproject_vector(base_vector_path, target_projection_wkt, target_path, layer_id=0,
                     driver_name='ESRI Shapefile', copy_fields=True, target_layer_name=None,
                     osr_axis_mapping_strategy=DEFAULT_OSR_AXIS_MAPPING_STRATEGY):
    """Copy the layer's features, transformed to ``target_projection_wkt``."""
    del osr_axis_mapping_strategy
    if copy_fields is True:
        fields = 'All'
    elif not copy_fields:
        fields = 'None'
    else:
        fields = {'Only': list(copy_fields)}
    _pgp.reproject_vector(os.fspath(base_vector_path), target_projection_wkt,
                          os.fspath(target_path),
                          _opts(layer=_layer(layer_id), driver=driver_name, copy_fields=fields,
                                target_layer_name=target_layer_name))


def stitch_rasters(base_raster_path_band_list, resample_method_list,
                   target_stitch_raster_path_band, overlap_algorithm='etch',
                   area_weight_m2_to_wgs84=False,
                   osr_axis_mapping_strategy=DEFAULT_OSR_AXIS_MAPPING_STRATEGY, executor=None):
    """Warp each raster onto an existing target's grid and write its pixels in."""
    del osr_axis_mapping_strategy
    bases = [_path_band(b, 'base_raster_path_band_list') for b in base_raster_path_band_list]
    target = _path_band(target_stitch_raster_path_band, 'target_stitch_raster_path_band')
    rule = {'etch': 'Etch', 'replace': 'Replace', 'add': 'Add'}.get(overlap_algorithm)
    if rule is None:
        raise PgpValueError(f"overlap_algorithm must be 'etch', 'replace' or 'add', got "
                            f"{overlap_algorithm!r}")
    _pgp.stitch_rasters(bases, list(resample_method_list), target,
                        _opts(overlap=rule, area_weight_m2_to_wgs84=bool(area_weight_m2_to_wgs84)),
                        executor_arg(executor))


def create_raster_from_bounding_box(
        target_bounding_box, target_raster_path, target_pixel_size, target_pixel_type,
        target_srs_wkt, target_nodata, fill_value=None,
        raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS):
    """A new raster covering ``[xmin, ymin, xmax, ymax]``."""
    _pgp.create_raster_from_bounding_box(
        [float(v) for v in target_bounding_box], os.fspath(target_raster_path),
        (float(target_pixel_size[0]), float(target_pixel_size[1])),
        datatype_name(target_pixel_type), target_srs_wkt,
        _opts(nodata=None if target_nodata is None else float(target_nodata),
              fill=None if fill_value is None else float(fill_value),
              driver=_driver_json(raster_driver_creation_tuple)))


def create_raster_from_vector_extents(
        base_vector_path, target_raster_path, target_pixel_size, target_pixel_type,
        target_nodata, fill_value=None,
        raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS):
    """A new raster covering the vector's extent, in its projection."""
    _pgp.create_raster_from_vector_extents(
        os.fspath(base_vector_path), os.fspath(target_raster_path),
        (float(target_pixel_size[0]), float(target_pixel_size[1])),
        datatype_name(target_pixel_type),
        _opts(nodata=None if target_nodata is None else float(target_nodata),
              fill=None if fill_value is None else float(fill_value),
              driver=_driver_json(raster_driver_creation_tuple)))


def transform_bounding_box(bounding_box, base_projection_wkt, target_projection_wkt,
                           edge_samples=11,
                           osr_axis_mapping_strategy=DEFAULT_OSR_AXIS_MAPPING_STRATEGY):
    """``[xmin, ymin, xmax, ymax]`` in the target projection, sampling each edge."""
    del osr_axis_mapping_strategy
    return list(_pgp.transform_bounding_box([float(v) for v in bounding_box],
                                            base_projection_wkt, target_projection_wkt,
                                            int(edge_samples)))


def merge_bounding_box_list(bounding_box_list, bounding_box_mode):
    """Union or intersection of ``[xmin, ymin, xmax, ymax]`` boxes."""
    boxes = numpy.asarray(bounding_box_list, dtype=float)
    if bounding_box_mode == 'union':
        merged = [boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()]
    elif bounding_box_mode == 'intersection':
        merged = [boxes[:, 0].max(), boxes[:, 1].max(), boxes[:, 2].min(), boxes[:, 3].min()]
        if merged[0] > merged[2] or merged[1] > merged[3]:
            raise PgpValueError(f"Bounding boxes do not intersect: {bounding_box_list}")
    else:
        raise PgpValueError(f"bounding_box_mode must be 'union' or 'intersection', got "
                            f"{bounding_box_mode!r}")
    return [float(v) for v in merged]
