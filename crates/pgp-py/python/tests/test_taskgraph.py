"""pgp.compat.taskgraph: taskgraph 0.11's API and skip rules, with content digests."""

import os
import time

import numpy
import pytest

import pgp
import pgp.compat.taskgraph as taskgraph
from conftest import write

CALLS = []


def copy_scaled(src, dst, factor):
    CALLS.append(('copy_scaled', os.path.basename(dst)))
    a = pgp.raster_to_numpy_array(src)
    pgp.numpy_array_to_raster(a * factor, None, (1, -1), (0, 0), None, dst)


def add(a, b, dst):
    CALLS.append(('add', os.path.basename(dst)))
    pgp.raster_calculator([(a, 1), (b, 1)], 'a + b', dst, pgp.GDT_Float32, None)


def build(cache, src, out, n_workers):
    graph = taskgraph.TaskGraph(cache, n_workers)
    t1 = graph.add_task(func=copy_scaled, args=(src, out + '/x2.tif', 2),
                        target_path_list=[out + '/x2.tif'], task_name='x2')
    t2 = graph.add_task(func=copy_scaled, args=(src, out + '/x3.tif', 3),
                        target_path_list=[out + '/x3.tif'], task_name='x3')
    t3 = graph.add_task(func=add, args=(out + '/x2.tif', out + '/x3.tif', out + '/sum.tif'),
                        target_path_list=[out + '/sum.tif'], dependent_task_list=[t1, t2],
                        task_name='sum')
    graph.close()
    graph.join()
    return t1, t2, t3


@pytest.mark.parametrize('n_workers', [-1, 0, 2])
def test_skip_rerun_and_edit(tmp_path, rng, n_workers):
    src = write(tmp_path / 'src.tif', rng.random((50, 40)).astype(numpy.float32))
    cache, out = str(tmp_path / 'cache'), str(tmp_path)
    CALLS.clear()
    build(cache, src, out, n_workers)
    assert sorted(CALLS) == [('add', 'sum.tif'), ('copy_scaled', 'x2.tif'),
                             ('copy_scaled', 'x3.tif')]
    a = pgp.raster_to_numpy_array(src)
    numpy.testing.assert_allclose(pgp.raster_to_numpy_array(out + '/sum.tif'), a * 5, rtol=1e-6)
    CALLS.clear()
    tasks = build(cache, src, out, n_workers)
    assert CALLS == [] and all(t.skipped for t in tasks)
    # Same content, new mtime: content keys see no change.
    os.utime(src, (time.time() + 10, time.time() + 10))
    build(cache, src, out, n_workers)
    assert CALLS == []
    # A target edited behind the graph's back is rebuilt; what reads it sees the same content
    # as before, so it is not rerun.
    write(tmp_path / 'x3.tif', numpy.zeros((50, 40), numpy.float32))
    build(cache, src, out, n_workers)
    assert CALLS == [('copy_scaled', 'x3.tif')]
    # An input edited: everything downstream of it reruns.
    CALLS.clear()
    write(tmp_path / 'src.tif', a + 1)
    build(cache, src, out, n_workers)
    assert len(CALLS) == 3


def test_store_result_and_get(tmp_path):
    graph = taskgraph.TaskGraph(str(tmp_path / 'c'), 1)
    t = graph.add_task(func=sum, args=([1, 2, 3],), store_result=True, task_name='sum')
    assert t.get() == 6
    u = graph.add_task(func=max, args=([1, 2],), task_name='max')
    with pytest.raises(ValueError, match='store_result'):
        u.get()
    graph.close()
    graph.join()
    graph = taskgraph.TaskGraph(str(tmp_path / 'c'), -1)
    t = graph.add_task(func=sum, args=([1, 2, 3],), store_result=True, task_name='sum')
    assert t.skipped and t.get() == 6


def failing(dst):
    with open(dst, 'w') as f:
        f.write('half')
    raise ValueError('failed after writing')


def test_failure_is_raised_leaves_no_record_and_stops_dependents(tmp_path):
    dst = str(tmp_path / 'out.txt')
    graph = taskgraph.TaskGraph(str(tmp_path / 'c'), 2)
    bad = graph.add_task(func=failing, args=(dst,), target_path_list=[dst])
    after = graph.add_task(func=CALLS.append, args=('never',), dependent_task_list=[bad])
    graph.close()
    with pytest.raises(ValueError, match='failed after writing'):
        graph.join()
    with pytest.raises(RuntimeError, match='dependency'):
        after.join()
    assert 'never' not in CALLS
    graph = taskgraph.TaskGraph(str(tmp_path / 'c'), -1)
    again = graph.add_task(func=failing, args=(dst,), target_path_list=[dst])
    with pytest.raises(ValueError):
        again.join()
    assert again.skipped is False


def test_missing_target_is_an_error(tmp_path):
    graph = taskgraph.TaskGraph(str(tmp_path / 'c'), -1)
    t = graph.add_task(func=len, args=('abc',), target_path_list=[str(tmp_path / 'nope')])
    with pytest.raises(RuntimeError, match='did not create its targets'):
        t.join()


def test_duplicates_and_two_writers(tmp_path):
    graph = taskgraph.TaskGraph(str(tmp_path / 'c'), 0)
    dst = str(tmp_path / 'a.txt')
    t1 = graph.add_task(func=failing, args=(dst,), target_path_list=[dst])
    assert graph.add_task(func=failing, args=(dst,), target_path_list=[dst]) is t1
    with pytest.raises(RuntimeError, match='one writer'):
        graph.add_task(func=copy_scaled, args=('x', dst, 2), target_path_list=[dst])
    graph.close()
    with pytest.raises(ValueError):
        graph.join()
    with pytest.raises(ValueError, match='closed'):
        graph.add_task(func=len, args=('a',))


def test_function_source_is_part_of_the_key(tmp_path, monkeypatch):
    import importlib
    import sys
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / 'tgmod.py').write_text('def f(x):\n    return x + 1\n')
    import tgmod
    cache = str(tmp_path / 'c')
    first = taskgraph.TaskGraph(cache, -1).add_task(func=tgmod.f, args=(1,), store_result=True)
    assert (first.skipped, first.get()) == (False, 2)
    same = taskgraph.TaskGraph(cache, -1).add_task(func=tgmod.f, args=(1,), store_result=True)
    assert (same.skipped, same.get()) == (True, 2)
    (tmp_path / 'tgmod.py').write_text('def f(x):\n    return x + 10\n')
    importlib.invalidate_caches()
    sys.modules.pop('tgmod')
    import tgmod as changed
    edited = taskgraph.TaskGraph(cache, -1).add_task(func=changed.f, args=(1,),
                                                     store_result=True)
    assert (edited.skipped, edited.get()) == (False, 11)
