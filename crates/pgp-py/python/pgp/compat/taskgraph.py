"""``import pgp.compat.taskgraph as taskgraph``: taskgraph 0.11's API, keyed by content.

A Python implementation of taskgraph's ``TaskGraph`` / ``Task`` that keys tasks the way pgp's
task graph does: by SHA-256 digests of the input and output files' contents (pgp's own
``hash_file``, run without the GIL, memoised by file identity), never by size and mtime, so
touching a file reruns nothing and editing it reruns exactly what reads it. A task's record is
written only after its function returned and every target exists and has been digested, in one
SQLite transaction: a crash at any point leaves no record that a rerun would accept.

Differences from taskgraph 0.11, on purpose:

* Tasks run on ``n_workers`` threads of this process (``n_workers < 0``: in ``add_task``;
  ``0``: one thread), not in a process pool: pgp's functions release the GIL, so they run in
  parallel; pure-Python task functions are serialised by the GIL as any threads are.
* ``hash_algorithm`` is accepted and ignored (content digests always; ``hash_target_files=False``
  still means "targets only need to exist").
* A file another task writes is a dependency even when ``dependent_task_list`` omits it, and two
  tasks with different work may not write the same file (RuntimeError naming both).
* ``copy_duplicate_artifact`` / ``hardlink_allowed`` (taskgraph 0.10) are accepted and ignored.
* A failed task's exception is raised again by its ``join()``/``get()`` and by
  ``TaskGraph.join()``; tasks that depend on it fail without running.

Not implemented: taskgraph's ``reporting_interval`` logging and pgp-graph's dry run and HTML
report (those need the task graph in Rust, which runs registered operations, not Python
functions).
"""

import hashlib
import heapq
import inspect
import itertools
import json
import os
import pathlib
import pickle
import sqlite3
import threading
import time

from .. import _pgp

__version__ = '0.11.2+pgp'
_RACY_SECONDS = 2.0  # a file changed this recently may change again within its mtime tick


class _Store:
    """Records (key -> target digests, result) and the digest memo, in one SQLite file."""

    def __init__(self, path):
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute('PRAGMA journal_mode=WAL')
        self._db.execute('CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, '
                         'targets TEXT NOT NULL, result BLOB)')
        self._db.execute('CREATE TABLE IF NOT EXISTS digests (path TEXT PRIMARY KEY, '
                         'identity TEXT NOT NULL, digest TEXT NOT NULL)')

    def digest(self, path):
        """SHA-256 of the file's contents, memoised while its identity (size, mtime, ctime,
        inode) is unchanged and old enough to trust."""
        st = os.stat(path)
        identity = f'{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}'
        with self._lock:
            row = self._db.execute('SELECT identity, digest FROM digests WHERE path = ?',
                                   (path,)).fetchone()
        if row is not None and row[0] == identity:
            return row[1]
        digest = _pgp.hash_file(path)
        if time.time() - st.st_mtime_ns / 1e9 > _RACY_SECONDS:
            with self._lock:
                self._db.execute('INSERT OR REPLACE INTO digests VALUES (?, ?, ?)',
                                 (path, identity, digest))
        return digest

    def lookup(self, key):
        with self._lock:
            row = self._db.execute('SELECT targets, result FROM records WHERE key = ?',
                                   (key,)).fetchone()
        return None if row is None else (json.loads(row[0]), row[1])

    def record(self, key, targets, result):
        with self._lock:
            self._db.execute('INSERT OR REPLACE INTO records VALUES (?, ?, ?)',
                             (key, json.dumps(targets), result))

    def close(self):
        with self._lock:
            self._db.close()


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


def _scrub(value, targets, stores):
    """A JSON-able description of an argument for keys: existing files become their content
    digests (``stores`` digests them), targets a marker, callables their name and source."""
    if isinstance(value, (str, pathlib.PurePath)):
        text = os.fspath(value)
        norm = _norm(text)
        if norm in targets:
            return ['target', norm]
        if stores is not None and os.path.isfile(text):
            return ['file', stores(norm)]
        return text
    if isinstance(value, dict):
        return {str(k): _scrub(v, targets, stores) for k, v in sorted(value.items(), key=str)}
    if isinstance(value, (list, tuple)):
        return [_scrub(v, targets, stores) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_scrub(v, targets, stores) for v in value), key=repr)
    if callable(value):
        return ['callable', getattr(value, '__qualname__', repr(value)), _source_digest(value)]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return repr(value)


class Task:
    """One task of a :class:`TaskGraph`: ``join()`` waits for it, ``get()`` returns its result
    (with ``store_result=True``)."""

    def __init__(self, graph, func, args, kwargs, task_name, targets, ignore, hash_targets,
                 dependencies, ignore_directories, priority, transient_run, store_result):
        self.task_name = task_name
        self._graph = graph
        self._func, self._args, self._kwargs = func, args, kwargs
        self._targets = targets
        self._ignore = ignore
        self._hash_targets = hash_targets
        self._dependencies = dependencies
        self._ignore_directories = ignore_directories
        self.priority = priority
        self._transient_run = transient_run
        self._store_result = store_result
        self._done = threading.Event()
        self._error = None
        self._result = None
        self.skipped = None
        self.identity = hashlib.sha256(json.dumps([
            getattr(func, '__name__', repr(func)), _source_digest(func),
            _scrub([args, kwargs], set(targets), None), sorted(targets)]).encode()).hexdigest()

    def __repr__(self):
        return f'Task({self.task_name!r})'

    def _key(self, store):
        inputs = []
        _walk([self._args, self._kwargs], inputs)
        skip = set(self._targets) | {_norm(p) for p in self._ignore}
        digests = {}
        for path in inputs:
            norm = _norm(path)
            if norm in skip or not os.path.exists(norm):
                continue
            if os.path.isdir(norm):
                if self._ignore_directories:
                    continue
                digests[norm] = 'directory'
            else:
                digests[norm] = store.digest(norm)
        described = _scrub([self._args, self._kwargs], set(self._targets),
                           lambda p: digests.get(p, 'ignored'))
        return hashlib.sha256(json.dumps([
            getattr(self._func, '__name__', repr(self._func)), _source_digest(self._func),
            described, sorted(self._targets), self._store_result]).encode()).hexdigest()

    def _targets_match(self, recorded, store):
        if sorted(recorded) != sorted(self._targets):
            return False
        for path, digest in recorded.items():
            if not os.path.isfile(path):
                return False
            if self._hash_targets and store.digest(path) != digest:
                return False
        return True

    def _run(self):
        store = self._graph._store
        try:
            for dep in self._dependencies:
                dep._done.wait()
                if dep._error is not None:
                    raise RuntimeError(
                        f"task {self.task_name!r} did not run: its dependency "
                        f"{dep.task_name!r} failed: {dep._error!r}") from dep._error
            key = self._key(store)
            found = store.lookup(key)
            if found is not None and self._targets_match(found[0], store):
                self.skipped = True
                if self._store_result and found[1] is not None:
                    self._result = pickle.loads(found[1])
                return
            self.skipped = False
            result = self._func(*self._args, **self._kwargs) if self._func else None
            missing = [p for p in self._targets if not os.path.exists(p)]
            if missing:
                raise RuntimeError(
                    f"task {self.task_name!r} finished but did not create its targets: "
                    f"{', '.join(missing)}")
            self._result = result if self._store_result else None
            if not self._transient_run:
                digests = {p: (store.digest(p) if self._hash_targets else 'exists')
                           for p in self._targets}
                store.record(key, digests,
                             pickle.dumps(result) if self._store_result else None)
        except BaseException as error:  # noqa: BLE001 - handed to whoever joins
            self._error = error
        finally:
            self._done.set()
            self._graph._finished(self)

    def join(self, timeout=None):
        """Waits for the task; True when it finished, False on timeout. Raises its error."""
        if not self._done.wait(timeout):
            return False
        if self._error is not None:
            raise self._error
        return True

    def get(self, timeout=None):
        """The task's return value (needs ``store_result=True``)."""
        if not self._store_result:
            raise ValueError(f"task {self.task_name!r} was added without store_result=True, "
                             "so it has no result to get")
        if not self.join(timeout):
            raise RuntimeError(f"task {self.task_name!r} timed out after {timeout} s")
        return self._result


class TaskGraph:
    """taskgraph's ``TaskGraph(taskgraph_cache_dir_path, n_workers, reporting_interval=None)``."""

    def __init__(self, taskgraph_cache_dir_path, n_workers, reporting_interval=None):
        del reporting_interval
        os.makedirs(taskgraph_cache_dir_path, exist_ok=True)
        self._store = _Store(os.path.join(taskgraph_cache_dir_path, 'pgp_taskgraph.db'))
        self._n_workers = int(n_workers)
        self._lock = threading.Condition()
        self._tasks = []
        self._by_identity = {}
        self._writer_of = {}
        self._ready = []
        self._order = itertools.count()
        self._waiting = {}
        self._closed = False
        self._stopping = False
        self._threads = []
        if self._n_workers >= 0:
            for i in range(max(1, self._n_workers)):
                t = threading.Thread(target=self._worker, name=f'pgp-taskgraph-{i}',
                                     daemon=True)
                t.start()
                self._threads.append(t)

    def add_task(self, func=None, args=None, kwargs=None, task_name=None,
                 target_path_list=None, ignore_path_list=None, hash_target_files=True,
                 dependent_task_list=None, ignore_directories=True, priority=0,
                 hash_algorithm='sizetimestamp', transient_run=False, store_result=False,
                 copy_duplicate_artifact=False, hardlink_allowed=False):
        """Adds a task; returns its :class:`Task` (the existing one for a duplicate)."""
        del hash_algorithm, copy_duplicate_artifact, hardlink_allowed
        if self._closed:
            raise ValueError('add_task called on a closed TaskGraph')
        args = list(args or [])
        kwargs = dict(kwargs or {})
        targets = [_norm(p) for p in (target_path_list or [])]
        name = task_name or getattr(func, '__name__', 'task')
        dependencies = list(dependent_task_list or [])
        with self._lock:
            inputs = []
            _walk([args, kwargs], inputs)
            for path in inputs:
                writer = self._writer_of.get(_norm(path))
                if writer is not None and writer not in dependencies:
                    dependencies.append(writer)
            task = Task(self, func, args, kwargs, name, targets, list(ignore_path_list or []),
                        bool(hash_target_files), dependencies, ignore_directories, priority,
                        bool(transient_run), bool(store_result))
            existing = self._by_identity.get(task.identity)
            if existing is not None:
                return existing
            for path in targets:
                other = self._writer_of.get(path)
                if other is not None:
                    raise RuntimeError(f"{path} is a target of task {other.task_name!r} and "
                                       f"of task {name!r}; a file has one writer")
            self._by_identity[task.identity] = task
            for path in targets:
                self._writer_of[path] = task
            self._tasks.append(task)
            pending = [d for d in dependencies if not d._done.is_set()]
            if self._n_workers >= 0:
                if pending:
                    self._waiting[task] = set(pending)
                else:
                    heapq.heappush(self._ready, (-priority, next(self._order), task))
                    self._lock.notify()
        if self._n_workers < 0:
            task._run()
        return task

    def _finished(self, task):
        with self._lock:
            for waiting, deps in list(self._waiting.items()):
                deps.discard(task)
                if not deps:
                    del self._waiting[waiting]
                    heapq.heappush(self._ready, (-waiting.priority, next(self._order), waiting))
            self._lock.notify_all()

    def _worker(self):
        while True:
            with self._lock:
                # After close(), a worker stays while tasks still wait on running ones.
                while not self._ready and not (self._stopping and not self._waiting):
                    self._lock.wait()
                if not self._ready:
                    return
                _, _, task = heapq.heappop(self._ready)
            task._run()

    def join(self, timeout=None):
        """Waits for every task; True when all finished, False on timeout. Raises the first
        task error."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for task in list(self._tasks):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not task._done.wait(left):
                return False
        for task in self._tasks:
            if task._error is not None:
                raise task._error
        return True

    def close(self):
        """No more tasks; workers stop once the queued ones are done."""
        self._closed = True
        with self._lock:
            self._stopping = True
            self._lock.notify_all()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
