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

NOT_IN_PGP = ('extract_strahler_streams_d8', 'calculate_subwatershed_boundary',
              'detect_lowest_drain_and_sink', 'detect_outlets', 'delineate_watersheds_d8')


def __getattr__(name):
    if name in NOT_IN_PGP:
        raise NotImplementedError(f"pygeoprocessing.routing.{name} is not implemented by pgp yet")
    raise AttributeError(f"module 'pgp.compat.pygeoprocessing.routing' has no attribute {name!r}")
