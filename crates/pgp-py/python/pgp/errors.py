"""pgp's exceptions. Their messages are pgp's own: they name the file, band or argument at fault.

They subclass the built-in exceptions pygeoprocessing raises for the same faults, so code that
catches ``ValueError`` (or ``FileNotFoundError``) keeps working.
"""


class PgpError(Exception):
    """Any error raised by pgp."""


class PgpValueError(PgpError, ValueError):
    """Bad input: a raster of another size, a band that does not exist, a bad argument."""


class PgpFileNotFoundError(PgpValueError, FileNotFoundError):
    """An input file that does not exist."""


class ReclassificationMissingValuesError(PgpValueError):
    """``reclassify_raster`` met raster values that ``value_map`` has no entry for."""
