"""GDAL pixel type codes, OGR geometry codes and numpy dtypes, without importing GDAL."""

import numpy

# GDAL's GDALDataType codes (gdal.GDT_*), which pygeoprocessing's callers pass.
GDT_Byte, GDT_UInt16, GDT_Int16, GDT_UInt32, GDT_Int32, GDT_Float32, GDT_Float64 = range(1, 8)
GDT_Int8 = 14

_GDAL_CODE_TO_NAME = {
    GDT_Byte: "Byte", GDT_UInt16: "UInt16", GDT_Int16: "Int16", GDT_UInt32: "UInt32",
    GDT_Int32: "Int32", GDT_Float32: "Float32", GDT_Float64: "Float64", GDT_Int8: "Int8",
}
_NAME_TO_GDAL_CODE = {v: k for k, v in _GDAL_CODE_TO_NAME.items()}
# GDAL 3.6 has no Int8 band type: signed bytes are Byte bands with PIXELTYPE=SIGNEDBYTE, and
# GetRasterBand().DataType reports GDT_Byte, as pygeoprocessing's get_raster_info does.
_NAME_TO_GDAL_CODE["Int8"] = GDT_Byte

_NAME_TO_NUMPY = {
    "Byte": numpy.uint8, "Int8": numpy.int8, "UInt16": numpy.uint16, "Int16": numpy.int16,
    "UInt32": numpy.uint32, "Int32": numpy.int32, "Float32": numpy.float32,
    "Float64": numpy.float64,
}
SUPPORTED_DTYPES = tuple(numpy.dtype(t) for t in _NAME_TO_NUMPY.values())

# OGR's wkbGeometryType codes for get_vector_info's 'geometry_type'.
_OGR_GEOMETRY = {
    "Unknown": 0, "Point": 1, "LineString": 2, "Polygon": 3, "MultiPoint": 4,
    "MultiLineString": 5, "MultiPolygon": 6, "GeometryCollection": 7, "None": 100,
}


def datatype_name(datatype):
    """A pixel type given as a GDAL code (``gdal.GDT_Float32``), a name or a numpy dtype."""
    if isinstance(datatype, str):
        return datatype
    if isinstance(datatype, (int, numpy.integer)) and not isinstance(datatype, bool):
        try:
            return _GDAL_CODE_TO_NAME[int(datatype)]
        except KeyError:
            raise ValueError(
                f"datatype {datatype} is not a GDAL pixel type pgp supports "
                f"(GDT_Byte, GDT_Int8, GDT_UInt16, GDT_Int16, GDT_UInt32, GDT_Int32, "
                f"GDT_Float32, GDT_Float64)") from None
    return numpy_dtype_name(datatype)


def numpy_dtype_name(dtype):
    """GDAL's name of a numpy dtype pgp can store."""
    dtype = numpy.dtype(dtype)
    for name, t in _NAME_TO_NUMPY.items():
        if numpy.dtype(t) == dtype:
            return name
    raise ValueError(f"numpy dtype {dtype} has no GDAL pixel type pgp supports")


def gdal_code(name):
    return _NAME_TO_GDAL_CODE[name]


def numpy_type(name):
    return _NAME_TO_NUMPY[name]


def ogr_geometry_code(name):
    base = name.replace(" ", "")
    for suffix in ("25D", "Z", "M", "ZM"):
        if base.endswith(suffix) and base[: -len(suffix)] in _OGR_GEOMETRY:
            base = base[: -len(suffix)]
    return _OGR_GEOMETRY.get(base, 0)
