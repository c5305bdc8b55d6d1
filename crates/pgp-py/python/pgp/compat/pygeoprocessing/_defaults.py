"""``executor=`` defaults for unchanged scripts: the ``PGP_EXECUTOR`` environment variable."""

import functools
import inspect
import os

from ..._executor import kind_of


def default_executor():
    return os.environ.get('PGP_EXECUTOR') or None


def with_default_executor(func, callable_arg=None):
    """``func`` with ``executor`` defaulting to ``$PGP_EXECUTOR``. When ``callable_arg`` names a
    Python-callable argument and the default is a process pool, the call runs on as many
    threads instead (Python callables run on threads only); an explicit executor is kept."""
    signature = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if 'executor' not in kwargs:
            executor = default_executor()
            if executor is not None and callable_arg is not None:
                bound = signature.bind_partial(*args, **kwargs)
                if (callable(bound.arguments.get(callable_arg))
                        and kind_of(executor) in ('multiprocessing', 'slurm')):
                    count = executor.partition(':')[2]
                    executor = f"threading:{count}" if count.isdigit() else 'threading'
            kwargs['executor'] = executor
        return func(*args, **kwargs)

    return wrapper
