"""A picklable ``local_op`` on a process executor: the calls run in Python worker processes
(started with ``spawn``: forking a process that runs pgp's threads is unsafe), each block's
arrays sent to a worker and the result sent back, while pgp's threads do all the I/O."""

import concurrent.futures
import multiprocessing
import pickle

from . import _pgp
from ._executor import executor_arg
from .errors import PgpValueError

_POOLS = {}


def _call(payload, args):
    return pickle.loads(payload)(*args)


def _pool(workers):
    pool = _POOLS.get(workers)
    if pool is None:
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context('spawn'))
        _POOLS[workers] = pool
    return pool


def remote_callable(local_op, executor):
    """``(op, executor)``: ``op`` runs ``local_op`` in worker processes, ``executor`` is the
    thread count that keeps them busy. Raises PgpValueError when ``local_op`` cannot be
    pickled, before anything is written."""
    try:
        payload = pickle.dumps(local_op)
        pickle.loads(payload)
    except Exception as error:  # noqa: BLE001 - any pickling failure means the same
        raise PgpValueError(
            f"raster_calculator: local_op {getattr(local_op, '__qualname__', local_op)!r} "
            f"cannot be sent to worker processes ({type(error).__name__}: {error}); use a "
            "module-level function, a pgp expression string (e.g. 'a * 2 + b'), or "
            "executor='threading:N'") from None
    if isinstance(executor, concurrent.futures.ProcessPoolExecutor):
        pool, workers = executor, executor._max_workers
    else:
        spec = executor_arg(executor)
        if isinstance(spec, str):
            count = spec.partition(':')[2]
            workers = int(count) if count.isdigit() else _pgp.available_cores()
        else:
            workers = spec.max_workers
        pool = _pool(workers)

    def op(*args):
        return pool.submit(_call, payload, args).result()

    return op, f"threading:{workers}"
