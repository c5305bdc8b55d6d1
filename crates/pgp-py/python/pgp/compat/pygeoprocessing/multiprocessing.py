"""``pygeoprocessing.multiprocessing``: its raster_calculator's ``n_workers`` become pgp
threads (a callable ``local_op``) or worker processes (an expression string)."""

import multiprocessing as _mp

from ...geoprocessing import DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS, _LARGEST_ITERBLOCK
from ...geoprocessing import raster_calculator as _raster_calculator


def raster_calculator(base_raster_path_band_const_list, local_op, target_raster_path,
                      datatype_target, nodata_target, n_workers=max(1, _mp.cpu_count()),
                      calc_raster_stats=True, use_shared_memory=False,
                      largest_block=_LARGEST_ITERBLOCK,
                      raster_driver_creation_tuple=DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS):
    """pygeoprocessing.multiprocessing.raster_calculator on ``n_workers`` pgp workers."""
    kind = 'multiprocessing' if isinstance(local_op, str) else 'threading'
    return _raster_calculator(
        base_raster_path_band_const_list, local_op, target_raster_path, datatype_target,
        nodata_target, calc_raster_stats=calc_raster_stats,
        use_shared_memory=use_shared_memory, largest_block=largest_block,
        raster_driver_creation_tuple=raster_driver_creation_tuple,
        executor=f"{kind}:{max(1, int(n_workers))}")
