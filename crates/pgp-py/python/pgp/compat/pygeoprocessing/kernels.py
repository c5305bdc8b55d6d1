"""``pygeoprocessing.kernels`` on pgp."""

from ...kernels import (  # noqa: F401
    create_distance_decay_kernel, dichotomous_kernel, exponential_decay_kernel,
    kernel_from_numpy_array, linear_decay_kernel, normal_distribution_kernel)
