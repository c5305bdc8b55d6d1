"""``import pgp.compat.taskgraph as taskgraph``: taskgraph 0.11's API on pgp's task graph.

``TaskGraph`` / ``Task`` as taskgraph 0.11 behaves, run by pgp-graph (the engine behind
``pgp run``) in the cache directory:

* Tasks are keyed by SHA-256 digests of the files they read (pgp-graph hashes them without the
  GIL and memoises digests by file identity), never by size and mtime: touching a file reruns
  nothing, editing it reruns exactly what reads it. A Python function is versioned by its
  source, as taskgraph does.
* Crash safety: a task writes its targets under temporary names beside them (the targets found
  among its arguments are handed to it as those temporary paths); they are renamed into place,
  hashed, and only then recorded, atomically. A task that raises, or a process killed at any
  point, leaves no record a rerun would accept.
* A pgp function as ``func`` (``pgp.raster_calculator`` with an expression string,
  ``reclassify_raster``, ``align_and_resize_raster_stack``, ``zonal_statistics``, also from
  ``pgp.compat.pygeoprocessing``) runs natively as pgp-graph's registered node of that
  operation (``pgp.calc``, ``pgp.reclassify``, ``pgp.align``, ``pgp.zonal_stats``), with no
  Python in the loop; ``Task.op`` says which. Its ``executor=`` is not used: the graph's
  threads are the budget of all its work.
* ``TaskGraph(..., dry_run=True)``: tasks are declared but nothing runs; ``join()`` prints, and
  ``dry_run()`` returns, which tasks would run (and why), be skipped, or be restored.
* ``report(path=None)`` writes pgp-graph's HTML report of the run (graph, timeline, where each
  task ran) to ``path`` (default ``<cache dir>/report.html``).

Differences from taskgraph 0.11, on purpose:

* Tasks run on threads of this process (``n_workers < 0``: each task runs to its end inside
  ``add_task``; ``0``: one thread; ``N``: N threads), never in a process pool: pgp's functions
  and native tasks release the GIL, so they run in parallel; Python code holds the GIL only
  while it runs. With ``n_workers < 0`` a native task parallelises over all cores.
* ``hash_algorithm`` is accepted and ignored (content digests always).
  ``hash_target_files=False`` means targets only need to exist; input files still count by
  content (taskgraph would only check that they exist).
* A file another task writes is a dependency even when ``dependent_task_list`` omits it; a
  task reading a file may not be added after it started when a later task writes that file.
  Two tasks with different work may not write the same file (RuntimeError naming both).
* The task name is part of a Python task's key: renaming a task reruns it once.
* ``copy_duplicate_artifact`` / ``hardlink_allowed`` (taskgraph 0.10) are accepted and
  ignored; ``reporting_interval`` too (see ``report()``).
* A failed task's exception is raised again by its ``join()``/``get()`` and by
  ``TaskGraph.join()``; tasks that depend on it fail without running (RuntimeError naming the
  dependency). A native task's failure is a RuntimeError with pgp's message.
"""

import hashlib
import inspect
import json
import os
import pathlib
import pickle
import shutil
import threading
import warnings
import weakref

from .. import _pgp
from ._native_tasks import native_task

__version__ = '0.11.2+pgp'


def _norm(path):
    return os.path.normcase(os.path.abspath(os.path.normpath(os.fspath(path))))


def _source_digest(func):
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        source = f'{getattr(func, "__module__", "")}.{getattr(func, "__qualname__", func)}'
    return hashlib.sha256(source.encode()).hexdigest()


def _walk(value, found):
    """Collects path-like strings in args/kwargs (lists, tuples, sets, dict values)."""
    if isinstance(value, (str, pathlib.PurePath)):
        found.append(os.fspath(value))
    elif isinstance(value, dict):
        for v in value.values():
            _walk(v, found)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            _walk(v, found)


def _describe(value, places):
    """A JSON-able description of an argument for keys: a file the task reads or writes
    becomes its place (``['input', i]`` / ``['target', i]``, the graph adds the contents),
    an ignored file a marker, a callable its name and source digest."""
    if isinstance(value, (str, pathlib.PurePath)):
        text = os.fspath(value)
        return places.get(_norm(text), text)
    if isinstance(value, dict):
        return {str(k): _describe(v, places) for k, v in sorted(value.items(), key=str)}
    if isinstance(value, (list, tuple)):
        return [_describe(v, places) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_describe(v, places) for v in value), key=repr)
    if callable(value):
        return ['callable', getattr(value, '__qualname__', repr(value)), _source_digest(value)]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return repr(value)


def _substitute(value, temps):
    """``value`` with every target path replaced by its temporary path (same type)."""
    if isinstance(value, (str, pathlib.PurePath)):
        temp = temps.get(_norm(value))
        if temp is None:
            return value
        return temp if isinstance(value, str) else type(value)(temp)
    if isinstance(value, dict):
        return type(value)((k, _substitute(v, temps)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_substitute(v, temps) for v in value)
    if isinstance(value, (set, frozenset)):
        return type(value)(_substitute(v, temps) for v in value)
    return value


class Task:
    """One task of a :class:`TaskGraph`: ``join()`` waits for it, ``get()`` returns its result
    (with ``store_result=True``)."""

    def __init__(self, graph, task_name, store_result, dry_run):
        self.task_name = task_name
        self._graph = weakref.ref(graph)
        self._store_result = store_result
        self._dry_run = dry_run
        self._handle = None
        self._native = None
        self._error = None
        self._outcome = None

    def __repr__(self):
        return f'Task({self.task_name!r})'

    @property
    def op(self):
        """What runs the task: ``pgp.calc``, ``pgp.align``, ... for pgp's own operations (no
        Python runs), ``fn:<task name>`` for a Python function."""
        return self._handle.op

    @property
    def skipped(self):
        """Whether the task was up to date and did not run (None until it is done)."""
        if self._outcome is None:
            status = self._handle.status
            return status == 'skipped' if status in ('skipped', 'completed', 'restored',
                                                       'failed') else None
        return self._outcome[0] == 'skipped'

    def _runner(self, func, args, kwargs, targets):
        """The body pgp-graph calls (on one of its threads, with the GIL) with the temporary
        paths to write the targets to."""
        store_result, name = self._store_result, self.task_name

        def run(temporaries):
            temps = dict(zip(targets, temporaries))
            try:
                result = None
                if func is not None:
                    result = func(*_substitute(args, temps), **_substitute(kwargs, temps))
                for target, temp in temps.items():
                    # A target the function found on its own (not among its arguments) was
                    # written in place: it joins the others before they are renamed back.
                    if not os.path.exists(temp) and os.path.exists(target):
                        os.replace(target, temp)
                missing = [t for t, temp in temps.items() if not os.path.exists(temp)]
                if missing:
                    raise RuntimeError(
                        f"task {name!r} finished but did not create its targets: "
                        f"{', '.join(missing)}")
                return pickle.dumps(result) if store_result else None
            except BaseException as error:  # noqa: BLE001 - raised again by join()
                self._error = error
                raise
        return run

    def _wait(self, timeout=None):
        if self._outcome is None:
            if self._dry_run:
                return ('planned', None, None)
            outcome = self._handle.wait(timeout)
            if outcome is None:
                return None
            self._outcome = outcome
        return self._outcome

    def join(self, timeout=None):
        """Waits for the task; True when it finished, False on timeout. Raises its error."""
        outcome = self._wait(timeout)
        if outcome is None:
            return False
        status, _, message = outcome
        if status == 'failed':
            if self._error is not None:
                raise self._error
            raise RuntimeError(f"task {self.task_name!r} failed: {message}")
        return True

    def get(self, timeout=None):
        """The task's return value (needs ``store_result=True``)."""
        if not self._store_result:
            raise ValueError(f"task {self.task_name!r} was added without store_result=True, "
                             "so it has no result to get")
        if self._dry_run:
            raise RuntimeError(f"task {self.task_name!r} is in a dry run: it has no result")
        if not self.join(timeout):
            raise RuntimeError(f"task {self.task_name!r} timed out after {timeout} s")
        if self._native is not None:
            return self._native.result()
        data = self._outcome[1]
        return pickle.loads(data) if data else None


class TaskGraph:
    """taskgraph's ``TaskGraph(taskgraph_cache_dir_path, n_workers, reporting_interval=None)``;
    ``dry_run=True`` declares tasks without running them (see :meth:`dry_run`)."""

    def __init__(self, taskgraph_cache_dir_path, n_workers, reporting_interval=None,
                 dry_run=False):
        del reporting_interval
        self._cache_dir = os.path.abspath(os.fspath(taskgraph_cache_dir_path))
        os.makedirs(self._cache_dir, exist_ok=True)
        self._n_workers = int(n_workers)
        threads = 0 if self._n_workers < 0 else max(1, self._n_workers)
        self._graph = _pgp.Graph(self._cache_dir, threads)
        self._dry_run = bool(dry_run)
        self._lock = threading.Lock()
        self._tasks = []
        self._by_identity = {}
        self._writer_of = {}
        self._closed = False
        self._plan_printed = False

    def add_task(self, func=None, args=None, kwargs=None, task_name=None,
                 target_path_list=None, ignore_path_list=None, hash_target_files=True,
                 dependent_task_list=None, ignore_directories=True, priority=0,
                 hash_algorithm='sizetimestamp', transient_run=False, store_result=False,
                 copy_duplicate_artifact=False, hardlink_allowed=False):
        """Adds a task; returns its :class:`Task` (the existing one for a duplicate)."""
        del hash_algorithm, copy_duplicate_artifact, hardlink_allowed, ignore_directories
        if self._closed:
            raise ValueError('add_task called on a closed TaskGraph')
        args = list(args or [])
        kwargs = dict(kwargs or {})
        targets = [_norm(p) for p in (target_path_list or [])]
        ignored = {_norm(p) for p in (ignore_path_list or [])}
        name = task_name or getattr(func, '__name__', 'task')
        dependencies = list(dependent_task_list or [])
        with self._lock:
            found = []
            _walk([args, kwargs], found)
            inputs, places = [], {t: ['target', i] for i, t in enumerate(targets)}
            for path in found:
                norm = _norm(path)
                if norm in places:
                    continue
                if norm in ignored:
                    places[norm] = ['ignored']
                elif norm in self._writer_of or os.path.isfile(norm):
                    places[norm] = ['input', len(inputs)]
                    inputs.append(norm)
            source = _source_digest(func) if func is not None else ''
            described = _describe([args, kwargs], places)
            identity = hashlib.sha256(json.dumps([
                getattr(func, '__name__', repr(func)), source, described,
                sorted(targets)]).encode()).hexdigest()
            existing = self._by_identity.get(identity)
            if existing is not None:
                return existing
            for path in targets:
                other = self._writer_of.get(path)
                if other is not None:
                    raise RuntimeError(f"{path} is a target of task {other.task_name!r} and "
                                       f"of task {name!r}; a file has one writer")
            task = Task(self, name, bool(store_result), self._dry_run)
            handles = [d._handle for d in dependencies]
            native = None
            if not ignored and hash_target_files:
                native = native_task(func, args, kwargs, self._cache_dir)
                if native is not None and not set(targets) <= {_norm(t)
                                                               for t in native.targets}:
                    native = None  # targets the operation does not write: run it as Python
            try:
                if native is not None:
                    task._native = native
                    task._handle = native.add(self._graph, name, handles, int(priority),
                                              bool(transient_run))
                    targets = [_norm(t) for t in native.targets]
                else:
                    key = json.dumps([getattr(func, '__name__', repr(func)), source,
                                      described, bool(store_result)]).encode()
                    task._handle = self._graph.add_python(
                        name, task._runner(func, args, kwargs, targets), key, inputs, targets,
                        handles, int(priority), bool(transient_run), not hash_target_files)
            except (RuntimeError, ValueError) as error:
                raise RuntimeError(f"task {name!r} could not be added: {error}") from error
            self._by_identity[identity] = task
            for path in targets:
                self._writer_of[path] = task
            self._tasks.append(task)
            if not self._dry_run:
                self._graph.start()
        if self._n_workers < 0 and not self._dry_run:
            task._wait()
        return task

    def join(self, timeout=None):
        """Waits for every task; True when all finished, False on timeout. Raises the first
        task error. In a dry run, prints the plan (once) instead."""
        if self._dry_run:
            if not self._plan_printed:
                self._plan_printed = True
                for step in self.dry_run():
                    reason = '' if step['action'] == 'skip' else f"  ({step['reason']})"
                    print(f"{step['action']:8s} {step['task']}{reason}")
            return True
        if self._graph is None:
            done = True
        else:
            done = self._graph.join(timeout)
        if not done:
            return False
        try:
            for task in list(self._tasks):
                task._wait()
        finally:
            if self._closed:
                self._release(report=True)
        for task in self._tasks:
            task.join()
        return True

    def close(self):
        """No more tasks; the graph lets go of the cache directory once joined."""
        self._closed = True

    def dry_run(self):
        """What a run would do, in dependency order, without running anything: a list of
        ``{'task', 'action' ('run', 'skip' or 'restore'), 'reason'}``. Meant for
        ``TaskGraph(..., dry_run=True)``, where no task runs."""
        if self._graph is None:
            raise ValueError('the TaskGraph was joined after close(): nothing to plan')
        return [{'task': name, 'action': action, 'reason': reason}
                for name, action, reason in self._graph.dry_run()]

    def report(self, path=None):
        """Writes the HTML report of the run so far (graph, timeline, where each task ran);
        returns its path (default ``<cache dir>/report.html``). A closed graph writes that
        default report itself when joined, before it lets go of the cache directory; after
        that, ``report(path)`` copies it."""
        default = os.path.join(self._cache_dir, 'report.html')
        path = os.path.abspath(os.fspath(path or default))
        if self._graph is not None:
            self._graph.report(path, self._cache_dir)
        elif path != default:
            if not os.path.exists(default):
                raise ValueError(f'the TaskGraph was released without a report ({default})')
            temp = f'{path}.tmp-{os.getpid()}'
            shutil.copyfile(default, temp)
            os.replace(temp, path)
        return path

    def _release(self, report=False):
        graph, self._graph = self._graph, None
        if graph is None:
            return
        try:
            if report:
                try:
                    graph.report(os.path.join(self._cache_dir, 'report.html'), self._cache_dir)
                except RuntimeError as error:  # the run's result comes first
                    warnings.warn(str(error))
        finally:
            graph.release()

    def __del__(self):
        try:
            self._release()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
