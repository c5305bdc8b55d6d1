"""pygeoprocessing.routing on pgp-routing (pixel-identical outputs), with ``executor=``.

Every function pgp-routing implements is here; ``raster_driver_creation_tuple`` is accepted and
ignored (routing outputs are always pygeoprocessing's tiled LZW GeoTIFFs). Not implemented in
pgp (so absent): ``extract_strahler_streams_d8``, ``calculate_subwatershed_boundary``,
``detect_lowest_drain_and_sink``, ``detect_outlets``, ``delineate_watersheds_d8``.
"""

import os

from . import _pgp
from ._executor import executor_arg
from ._ops import DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS, _path_band


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
