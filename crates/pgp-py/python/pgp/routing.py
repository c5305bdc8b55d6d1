"""pygeoprocessing.routing on pgp-routing (pixel-identical outputs), with ``executor=``.

Every public function of pygeoprocessing.routing is here; ``raster_driver_creation_tuple`` is
accepted and ignored (routing outputs are always pygeoprocessing's tiled LZW GeoTIFFs), and so
are the scratch-file arguments of ``delineate_watersheds_d8`` (pgp keeps its scratch data in
unlinked files) and ``osr_axis_mapping_strategy`` (pgp writes coordinates in the raster's own
axis order, which is what pygeoprocessing's default gives). The vector outputs are
GeoPackages equal to pygeoprocessing's (layers, fields, feature ids, geometries).
"""

import os

from . import _pgp
from ._executor import executor_arg
from ._ops import DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS, DEFAULT_OSR_AXIS_MAPPING_STRATEGY, _path_band
from .errors import PgpValueError


def _opt_band(value, argument):
    return None if value is None else _path_band(value, argument)


def fill_pits(dem_raster_path_band, target_filled_dem_raster_path, working_dir=None,
              max_pixel_fill_count=-1, single_outlet_tuple=None,
              raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS, executor=None):
    """Raise every pit to its pour point (pits larger than ``max_pixel_fill_count`` stay)."""
    del working_dir, raster_driver_creation_tuple
    _pgp.fill_pits(_path_band(dem_raster_path_band, 'dem_raster_path_band'),
                   os.fspath(target_filled_dem_raster_path),
                   None if max_pixel_fill_count is None or max_pixel_fill_count < 0
                   else int(max_pixel_fill_count),
                   None if single_outlet_tuple is None else tuple(single_outlet_tuple),
                   executor_arg(executor))


def flow_dir_d8(dem_raster_path_band, target_flow_dir_path, working_dir=None,
                raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS, executor=None):
    """D8 directions (Byte 0-7 counter-clockwise from east, nodata 128)."""
    del working_dir, raster_driver_creation_tuple
    _pgp.flow_dir('d8', _path_band(dem_raster_path_band, 'dem_raster_path_band'),
                  os.fspath(target_flow_dir_path), executor_arg(executor))


def flow_dir_mfd(dem_raster_path_band, target_flow_dir_path, working_dir=None,
                 raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS,
                 executor=None):
    """MFD directions (Int32 of eight 4-bit proportions, nodata 0)."""
    del working_dir, raster_driver_creation_tuple
    _pgp.flow_dir('mfd', _path_band(dem_raster_path_band, 'dem_raster_path_band'),
                  os.fspath(target_flow_dir_path), executor_arg(executor))


def flow_accumulation_d8(flow_dir_raster_path_band, target_flow_accum_raster_path,
                         weight_raster_path_band=None, custom_decay_factor=None,
                         min_decay_proportion=0.001,
                         raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS,
                         executor=None):
    """Upstream pixel count (or weight sum) along D8 directions, optionally decaying."""
    del raster_driver_creation_tuple
    constant = raster = None
    if isinstance(custom_decay_factor, (int, float)):
        constant = float(custom_decay_factor)
    elif custom_decay_factor is not None:
        raster = _path_band(custom_decay_factor, 'custom_decay_factor')
    _pgp.flow_accumulation_d8(
        _path_band(flow_dir_raster_path_band, 'flow_dir_raster_path_band'),
        os.fspath(target_flow_accum_raster_path),
        _opt_band(weight_raster_path_band, 'weight_raster_path_band'), constant, raster,
        float(min_decay_proportion), executor_arg(executor))


def flow_accumulation_mfd(flow_dir_mfd_raster_path_band, target_flow_accum_raster_path,
                          weight_raster_path_band=None,
                          raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS,
                          executor=None):
    """Upstream accumulation along MFD proportions."""
    del raster_driver_creation_tuple
    _pgp.flow_accumulation_mfd(
        _path_band(flow_dir_mfd_raster_path_band, 'flow_dir_mfd_raster_path_band'),
        os.fspath(target_flow_accum_raster_path),
        _opt_band(weight_raster_path_band, 'weight_raster_path_band'), executor_arg(executor))


def extract_streams_d8(flow_accum_raster_path_band, flow_threshold, target_stream_raster_path,
                       raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS,
                       executor=None):
    """1 where accumulation exceeds ``flow_threshold``, 0 elsewhere, 255 nodata."""
    del raster_driver_creation_tuple
    _pgp.extract_streams_d8(
        _path_band(flow_accum_raster_path_band, 'flow_accum_raster_path_band'),
        float(flow_threshold), os.fspath(target_stream_raster_path), executor_arg(executor))


def extract_streams_mfd(flow_accum_raster_path_band, flow_dir_mfd_path_band, flow_threshold,
                        target_stream_raster_path, trace_threshold_proportion=1.0,
                        raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS,
                        executor=None):
    """Streams traced along MFD directions from where accumulation exceeds the threshold."""
    del raster_driver_creation_tuple
    _pgp.extract_streams_mfd(
        _path_band(flow_accum_raster_path_band, 'flow_accum_raster_path_band'),
        _path_band(flow_dir_mfd_path_band, 'flow_dir_mfd_path_band'), float(flow_threshold),
        os.fspath(target_stream_raster_path), float(trace_threshold_proportion),
        executor_arg(executor))


def distance_to_channel_d8(flow_dir_d8_raster_path_band, channel_raster_path_band,
                           target_distance_to_channel_raster_path, weight_raster_path_band=None,
                           raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS,
                           executor=None):
    """Flow-path distance (or weighted distance) to the nearest channel pixel, D8."""
    del raster_driver_creation_tuple
    _pgp.distance_to_channel(
        'd8', _path_band(flow_dir_d8_raster_path_band, 'flow_dir_d8_raster_path_band'),
        _path_band(channel_raster_path_band, 'channel_raster_path_band'),
        os.fspath(target_distance_to_channel_raster_path),
        _opt_band(weight_raster_path_band, 'weight_raster_path_band'), executor_arg(executor))


def distance_to_channel_mfd(flow_dir_mfd_raster_path_band, channel_raster_path_band,
                            target_distance_to_channel_raster_path, weight_raster_path_band=None,
                            raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS,
                            executor=None):
    """Flow-path distance to the nearest channel pixel, MFD."""
    del raster_driver_creation_tuple
    _pgp.distance_to_channel(
        'mfd', _path_band(flow_dir_mfd_raster_path_band, 'flow_dir_mfd_raster_path_band'),
        _path_band(channel_raster_path_band, 'channel_raster_path_band'),
        os.fspath(target_distance_to_channel_raster_path),
        _opt_band(weight_raster_path_band, 'weight_raster_path_band'), executor_arg(executor))


def detect_outlets(flow_dir_raster_path_band, flow_dir_type, target_outlet_vector_path,
                   executor=None):
    """A point at every pixel that drains off the raster or into nodata (fields i, j, ID)."""
    if not isinstance(flow_dir_type, str):
        raise PgpValueError(
            f"flow_dir_type: expected 'd8' or 'mfd', got {flow_dir_type!r}")
    _pgp.detect_outlets(
        _path_band(flow_dir_raster_path_band, 'flow_dir_raster_path_band'), flow_dir_type,
        os.fspath(target_outlet_vector_path), executor_arg(executor))


def detect_lowest_drain_and_sink(dem_raster_path_band, executor=None):
    """``(drain_pixel, drain_height, sink_pixel, sink_height)``: the first lowest pixel that
    drains off the raster (or into nodata) and the first lowest pit, pixels as ``(x, y)``
    (None and ``inf`` when there is none)."""
    return _pgp.detect_lowest_drain_and_sink(
        _path_band(dem_raster_path_band, 'dem_raster_path_band'), executor_arg(executor))


def delineate_watersheds_d8(d8_flow_dir_raster_path_band, outflow_vector_path,
                            target_watersheds_vector_path, working_dir=None,
                            write_diagnostic_vector=False, remove_temp_files=True,
                            target_layer_name='watersheds', executor=None):
    """The watershed of every feature of the outflow vector's first layer, as polygons."""
    del working_dir, write_diagnostic_vector, remove_temp_files
    _pgp.delineate_watersheds_d8(
        _path_band(d8_flow_dir_raster_path_band, 'd8_flow_dir_raster_path_band'),
        os.fspath(outflow_vector_path), os.fspath(target_watersheds_vector_path),
        str(target_layer_name), executor_arg(executor))


def extract_strahler_streams_d8(flow_dir_d8_raster_path_band, flow_accum_raster_path_band,
                                dem_raster_path_band, target_stream_vector_path,
                                min_flow_accum_threshold=100, river_order=5, min_p_val=0.05,
                                autotune_flow_accumulation=False,
                                osr_axis_mapping_strategy=DEFAULT_OSR_AXIS_MAPPING_STRATEGY,
                                executor=None):
    """Stream segments with their Strahler order, river id, drop and accumulations."""
    del osr_axis_mapping_strategy
    _pgp.extract_strahler_streams_d8(
        _path_band(flow_dir_d8_raster_path_band, 'flow_dir_d8_raster_path_band'),
        _path_band(flow_accum_raster_path_band, 'flow_accum_raster_path_band'),
        _path_band(dem_raster_path_band, 'dem_raster_path_band'),
        os.fspath(target_stream_vector_path), int(min_flow_accum_threshold), int(river_order),
        float(min_p_val), bool(autotune_flow_accumulation), executor_arg(executor))


def calculate_subwatershed_boundary(d8_flow_dir_raster_path_band, strahler_stream_vector_path,
                                    target_watershed_boundary_vector_path,
                                    max_steps_per_watershed=1000000,
                                    outlet_at_confluence=False, executor=None):
    """A boundary line around the subwatershed of every stream segment, upstream first."""
    _pgp.calculate_subwatershed_boundary(
        _path_band(d8_flow_dir_raster_path_band, 'd8_flow_dir_raster_path_band'),
        os.fspath(strahler_stream_vector_path),
        os.fspath(target_watershed_boundary_vector_path), int(max_steps_per_watershed),
        bool(outlet_at_confluence), executor_arg(executor))
