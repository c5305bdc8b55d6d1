"""The ``executor=`` argument: None, a spec string, a pgp.Executor or a concurrent.futures pool."""

import concurrent.futures

from . import _pgp


def executor_arg(executor):
    """What the extension module takes: None, a spec string or a pgp.Executor.

    A ``concurrent.futures`` executor stands for its kind and worker count: a
    ``ThreadPoolExecutor(max_workers=4)`` is ``"threading:4"``, a ``ProcessPoolExecutor`` is
    ``"multiprocessing:N"``. pgp runs the work on its own pool of that size (the Python pool's
    workers cannot run pgp's compiled blocks), kept for the rest of the process.
    """
    if executor is None or isinstance(executor, (str, _pgp.Executor)):
        return executor
    if isinstance(executor, concurrent.futures.ThreadPoolExecutor):
        return f"threading:{executor._max_workers}"
    if isinstance(executor, concurrent.futures.ProcessPoolExecutor):
        return f"multiprocessing:{executor._max_workers}"
    raise TypeError(
        "executor must be None, a spec string such as 'threading:4', a pgp.Executor or a "
        f"concurrent.futures ThreadPoolExecutor/ProcessPoolExecutor, got {type(executor).__name__}")


def kind_of(executor):
    """'sync', 'threading', 'multiprocessing' or 'slurm', without starting any pool."""
    executor = executor_arg(executor)
    if executor is None:
        return "sync"
    if isinstance(executor, _pgp.Executor):
        return executor.kind
    word = executor.strip().lower().split(":", 1)[0]
    return {"none": "sync", "threads": "threading", "processes": "multiprocessing"}.get(word, word)


def describe(executor):
    """``(kind, max_workers)`` of an ``executor=`` argument (a pool is started if needed)."""
    executor = executor_arg(executor)
    if executor is None:
        return ("sync", 1)
    if isinstance(executor, str):
        executor = _pgp.Executor(executor)
    return (executor.kind, executor.max_workers)
