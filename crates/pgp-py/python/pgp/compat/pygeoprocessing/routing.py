"""``pygeoprocessing.routing`` on pgp-routing; executor= defaults to ``$PGP_EXECUTOR``."""

from ... import routing as _r
from ._defaults import with_default_executor

fill_pits = with_default_executor(_r.fill_pits)
flow_dir_d8 = with_default_executor(_r.flow_dir_d8)
flow_dir_mfd = with_default_executor(_r.flow_dir_mfd)
flow_accumulation_d8 = with_default_executor(_r.flow_accumulation_d8)
flow_accumulation_mfd = with_default_executor(_r.flow_accumulation_mfd)
extract_streams_d8 = with_default_executor(_r.extract_streams_d8)
extract_streams_mfd = with_default_executor(_r.extract_streams_mfd)
distance_to_channel_d8 = with_default_executor(_r.distance_to_channel_d8)
distance_to_channel_mfd = with_default_executor(_r.distance_to_channel_mfd)
detect_outlets = with_default_executor(_r.detect_outlets)
detect_lowest_drain_and_sink = with_default_executor(_r.detect_lowest_drain_and_sink)
delineate_watersheds_d8 = with_default_executor(_r.delineate_watersheds_d8)
extract_strahler_streams_d8 = with_default_executor(_r.extract_strahler_streams_d8)
calculate_subwatershed_boundary = with_default_executor(_r.calculate_subwatershed_boundary)
