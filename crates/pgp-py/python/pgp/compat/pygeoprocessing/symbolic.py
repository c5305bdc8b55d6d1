"""``pygeoprocessing.symbolic`` on pgp's expression language (``+ - * / ** %``, comparisons,
``where``, ``abs``, ``sqrt``, ``exp``, ``log``, ``min``/``max``, ...), parallel without Python."""

from ...geoprocessing import evaluate_raster_calculator_expression as _evaluate
from ._defaults import with_default_executor

evaluate_raster_calculator_expression = with_default_executor(_evaluate)
