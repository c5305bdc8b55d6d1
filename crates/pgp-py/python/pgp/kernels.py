"""pygeoprocessing.kernels on pgp: kernel rasters for ``convolve_2d``."""

import math
import os

import numpy

from . import _pgp


def kernel_from_numpy_array(numpy_array, target_kernel_path):
    """Write a 2-D array as a kernel raster."""
    array = numpy.asarray(numpy_array)
    if array.ndim != 2:
        raise ValueError(f"numpy_array must be 2-D, got {array.ndim} dimension(s)")
    if array.dtype not in (numpy.float32, numpy.float64):
        array = array.astype(numpy.float32)
    _pgp.kernel_from_array(array, os.fspath(target_kernel_path))


def dichotomous_kernel(target_kernel_path, max_distance, normalize=True):
    """1 within ``max_distance`` pixels of the centre, 0 beyond."""
    _pgp.kernel('dichotomous', os.fspath(target_kernel_path), float(max_distance), 0.0,
                bool(normalize))


def exponential_decay_kernel(target_kernel_path, max_distance, expected_distance,
                             normalize=True):
    """``exp(-d / expected_distance)`` within ``max_distance``."""
    _pgp.kernel('exponential_decay', os.fspath(target_kernel_path), float(max_distance),
                float(expected_distance), bool(normalize))


def linear_decay_kernel(target_kernel_path, max_distance, normalize=True):
    """``(max_distance - d) / max_distance`` within ``max_distance``."""
    _pgp.kernel('linear_decay', os.fspath(target_kernel_path), float(max_distance), 0.0,
                bool(normalize))


def normal_distribution_kernel(target_kernel_path, sigma, n_std_dev=3, normalize=True):
    """A Gaussian of ``sigma`` pixels, cut at ``n_std_dev`` standard deviations."""
    _pgp.kernel('normal_distribution', os.fspath(target_kernel_path), float(sigma),
                float(n_std_dev), bool(normalize))


def create_distance_decay_kernel(target_kernel_path, distance_decay_function, max_distance,
                                 normalize=True):
    """A kernel of ``distance_decay_function(dist)`` (a callable on an array of distances, or
    an expression of ``dist`` and ``max_dist`` over numpy's names) within ``max_distance``."""
    if isinstance(distance_decay_function, str):
        code = compile(distance_decay_function, '<string>', 'eval')
        namespace = {name: getattr(numpy, name) for name in dir(numpy)}

        def distance_decay_function(d, _code=code):
            return eval(_code, namespace, {'dist': d, 'max_dist': max_distance})  # noqa: S307

    apothem = math.floor(max_distance)
    rows, cols = numpy.mgrid[-apothem:apothem + 1, -apothem:apothem + 1]
    distance = numpy.hypot(rows, cols)
    valid = distance <= max_distance
    kernel = numpy.zeros(distance.shape, dtype=numpy.float32)
    kernel[valid] = distance_decay_function(distance[valid])
    if normalize:
        kernel /= float(kernel.astype(numpy.float64).sum())
    _pgp.kernel_from_array(kernel, os.fspath(target_kernel_path))
