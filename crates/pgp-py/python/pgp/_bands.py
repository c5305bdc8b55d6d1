"""pygeoprocessing's whole-band functions on pgp: ``build_overviews`` and
``raster_band_percentile`` (imported into :mod:`pgp.geoprocessing`)."""

import logging
import os

from . import _pgp
from ._executor import executor_arg
from .errors import PgpValueError

LOGGER = logging.getLogger('pgp')


def build_overviews(raster_path, internal=False, resample_method='near', overwrite=False,
                    levels='auto', executor=None):
    """Overviews of every band at ``levels`` (``'auto'``: factors 2, 4, 8, ... until both
    sides of the overview fit in 256 pixels), inside the file (``internal``) or in a ``.ovr``
    beside it. Existing overviews raise ValueError unless ``overwrite``."""
    if isinstance(levels, str):
        if levels != 'auto':
            raise PgpValueError(f"levels: expected 'auto' or a sequence of ints, got {levels!r}")
        levels = None
    else:
        try:
            levels = [int(level) for level in levels]
        except (TypeError, ValueError):
            raise PgpValueError(
                f"levels: expected 'auto' or a sequence of ints, got {levels!r}") from None
    _pgp.build_overviews(os.fspath(raster_path), bool(internal), str(resample_method),
                         bool(overwrite), levels, executor_arg(executor))


def raster_band_percentile(base_raster_path_band, working_sort_directory, percentile_list,
                           heap_buffer_size=2**28, ffi_buffer_size=2**10,
                           geographic_crs_warn=False, executor=None):
    """The values at ``percentile_list`` (sorted, each in [0, 100]) of the band's valid pixels
    (finite, not ``isclose`` to nodata), by pygeoprocessing's "higher" rule: ints for an
    integer band, floats for a float band. Exact and out of core by selection, so
    ``working_sort_directory`` (never created), ``heap_buffer_size`` and ``ffi_buffer_size``
    are accepted and unused."""
    del working_sort_directory, heap_buffer_size, ffi_buffer_size
    from .geoprocessing import _path_band
    path, band = _path_band(base_raster_path_band, 'base_raster_path_band')
    try:
        percentiles = [float(p) for p in percentile_list]
    except (TypeError, ValueError):
        raise PgpValueError(
            f"percentile_list: expected a list of numbers, got {percentile_list!r}") from None
    if geographic_crs_warn:
        wkt = _pgp.raster_info(path)['projection_wkt'] or ''
        if wkt.startswith(('GEOGCS', 'GEOGCRS')):
            LOGGER.warning(
                f'Raster {path} has a geographic CRS. Because `raster_band_percentile` '
                'calculates percentiles of pixel values, percentile results may be skewed.')
    return _pgp.raster_band_percentile(path, band, percentiles, executor_arg(executor))
