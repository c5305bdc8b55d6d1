"""pgp.compat.taskgraph on pgp-graph: crash safety, dry runs, the report, native pgp tasks."""

import json
import os
import subprocess
import sys
import textwrap

import numpy
import pytest

import pgp
import pgp.compat.pygeoprocessing as pygeoprocessing
import pgp.compat.taskgraph as taskgraph
from conftest import write

CALLS = []


def scaled(src, dst, factor):
    CALLS.append(os.path.basename(dst))
    a = pgp.raster_to_numpy_array(src)
    pgp.numpy_array_to_raster(a * factor, None, (1, -1), (0, 0), None, dst)


def write_text_then_fail(dst):
    with open(dst, 'w') as f:
        f.write('half')
    raise ValueError('failed after writing')


def leftovers(folder):
    return [name for name in os.listdir(folder) if name.startswith('.pgp-tmp')]


def test_a_task_that_raises_leaves_no_target_no_record_no_temporaries(tmp_path):
    dst = str(tmp_path / 'out.txt')
    cache = str(tmp_path / 'c')
    for _ in range(2):
        graph = taskgraph.TaskGraph(cache, 1)
        task = graph.add_task(func=write_text_then_fail, args=(dst,), target_path_list=[dst])
        graph.close()
        with pytest.raises(ValueError, match='failed after writing'):
            graph.join()
        # What it wrote went to a temporary path, removed with the failure: no half target.
        assert not os.path.exists(dst)
        assert leftovers(tmp_path) == []
        # And no record: the second round runs it again (and fails again), never skips it.
        assert task.skipped is False


CRASH_SCRIPT = textwrap.dedent('''
    import os, signal, sys
    import pgp.compat.taskgraph as taskgraph

    def write_and_die(dst):
        with open(dst, 'w') as f:
            f.write('written, then killed before the graph recorded it')
        os.kill(os.getpid(), signal.SIGKILL)

    graph = taskgraph.TaskGraph(sys.argv[1], 2)
    graph.add_task(func=write_and_die, args=(sys.argv[2],), target_path_list=[sys.argv[2]],
                   task_name='die')
    graph.close()
    graph.join()
''')


def write_ok(dst):
    CALLS.append('write_ok')
    with open(dst, 'w') as f:
        f.write('ok')


def test_a_killed_run_is_redone_and_its_temporaries_swept(tmp_path):
    dst, cache = str(tmp_path / 'out.txt'), str(tmp_path / 'c')
    script = tmp_path / 'crash.py'
    script.write_text(CRASH_SCRIPT)
    done = subprocess.run([sys.executable, str(script), cache, dst], capture_output=True)
    assert done.returncode == -9
    assert not os.path.exists(dst)
    assert len(leftovers(tmp_path)) == 1  # the killed run's temporary directory
    CALLS.clear()
    graph = taskgraph.TaskGraph(cache, -1)
    task = graph.add_task(func=write_ok, args=(dst,), target_path_list=[dst], task_name='die')
    graph.close()
    graph.join()
    assert (task.skipped, CALLS) == (False, ['write_ok'])
    assert open(dst).read() == 'ok'
    assert leftovers(tmp_path) == []


def chain(graph, src, out):
    t1 = graph.add_task(func=scaled, args=(src, out + '/x2.tif', 2),
                        target_path_list=[out + '/x2.tif'], task_name='x2')
    t2 = graph.add_task(func=scaled, args=(out + '/x2.tif', out + '/x4.tif', 2),
                        target_path_list=[out + '/x4.tif'], task_name='x4')
    return t1, t2


def test_dry_run_says_what_would_run_and_why_and_runs_nothing(tmp_path, rng, capsys):
    src = write(tmp_path / 'src.tif', rng.random((20, 30)).astype(numpy.float32))
    cache, out = str(tmp_path / 'c'), str(tmp_path)
    CALLS.clear()
    graph = taskgraph.TaskGraph(cache, 2, dry_run=True)
    chain(graph, src, out)
    assert [(s['task'], s['action'], s['reason']) for s in graph.dry_run()] == [
        ('x2', 'run', 'new'), ('x4', 'run', "upstream task 'x2' will run first")]
    graph.close()
    assert graph.join()
    assert capsys.readouterr().out.splitlines() == [
        'run      x2  (new)', "run      x4  (upstream task 'x2' will run first)"]
    assert not os.path.exists(out + '/x2.tif') and CALLS == []
    del graph

    graph = taskgraph.TaskGraph(cache, 2)
    chain(graph, src, out)
    graph.close()
    graph.join()
    assert sorted(CALLS) == ['x2.tif', 'x4.tif']
    CALLS.clear()

    write(tmp_path / 'src.tif', rng.random((20, 30)).astype(numpy.float32))
    graph = taskgraph.TaskGraph(cache, 2, dry_run=True)
    chain(graph, src, out)
    plan = graph.dry_run()
    assert plan[0]['action'] == 'run' and plan[0]['reason'] == f'input changed: {src}'
    assert plan[1]['action'] == 'run'
    del graph
    graph = taskgraph.TaskGraph(cache, 2, dry_run=True)
    t1, _ = chain(graph, str(tmp_path / 'src.tif'), out)
    with pytest.raises(RuntimeError, match='dry run'):
        graph.add_task(func=sum, args=([1],), store_result=True).get()
    assert CALLS == []


def test_hash_target_files_false_only_needs_targets_to_exist(tmp_path, rng):
    src = write(tmp_path / 'src.tif', rng.random((20, 30)).astype(numpy.float32))
    dst = str(tmp_path / 'x3.tif')

    def run():
        graph = taskgraph.TaskGraph(str(tmp_path / 'c'), -1)
        task = graph.add_task(func=scaled, args=(src, dst, 3), target_path_list=[dst],
                              hash_target_files=False)
        graph.close()
        graph.join()
        return task

    CALLS.clear()
    assert run().skipped is False
    write(dst, numpy.zeros((20, 30), numpy.float32))  # edited behind the graph's back
    assert run().skipped is True and CALLS == ['x3.tif']
    os.remove(dst)
    assert run().skipped is False and CALLS == ['x3.tif'] * 2


def test_transient_run_and_ignore_path_list(tmp_path):
    side = tmp_path / 'notes.txt'
    side.write_text('one')
    cache = str(tmp_path / 'c')

    def run(**options):
        graph = taskgraph.TaskGraph(cache, 0)
        task = graph.add_task(func=CALLS.append, args=(str(side),), **options)
        graph.close()
        graph.join()
        return task

    CALLS.clear()
    assert [run(transient_run=True).skipped for _ in range(2)] == [False, False]
    assert run(ignore_path_list=[str(side)], task_name='ignoring').skipped is False
    side.write_text('two: an ignored file, so nothing reruns')
    assert run(ignore_path_list=[str(side)], task_name='ignoring').skipped is True
    assert run(task_name='reading').skipped is False
    side.write_text('three: a file it reads')
    assert run(task_name='reading').skipped is False


def write_beside(folder):
    """Writes a target it finds on its own: not among its arguments."""
    with open(os.path.join(folder, 'beside.txt'), 'w') as f:
        f.write('found')


def test_a_target_not_among_the_arguments_is_still_recorded(tmp_path):
    target = str(tmp_path / 'beside.txt')
    for expected in (False, True):
        graph = taskgraph.TaskGraph(str(tmp_path / 'c'), 2)
        task = graph.add_task(func=write_beside, args=(str(tmp_path),),
                              target_path_list=[target])
        graph.close()
        graph.join()
        assert task.skipped is expected and open(target).read() == 'found'


def test_report_is_written_with_each_task_and_its_operation(tmp_path, pair):
    a, b, _, _ = pair
    cache = str(tmp_path / 'c')
    graph = taskgraph.TaskGraph(cache, 2)
    calc = graph.add_task(func=pgp.raster_calculator,
                          args=([(a, 1), (b, 1)], 'a * 2 + b', str(tmp_path / 'calc.tif'),
                                pgp.GDT_Float32, -1), task_name='expression')
    graph.add_task(func=scaled, args=(str(tmp_path / 'calc.tif'), str(tmp_path / 'x.tif'), 2),
                   target_path_list=[str(tmp_path / 'x.tif')], task_name='python')
    graph.join()
    path = graph.report(str(tmp_path / 'mine.html'))
    html = open(path).read()
    assert 'expression' in html and 'pgp.calc' in html and 'fn:python' in html
    assert '2 ran, 0 restored from cache, 0 skipped, 0 failed' in html
    graph.close()
    graph.join()
    # A closed graph writes its report into the cache directory when joined.
    assert os.path.exists(os.path.join(cache, 'report.html'))
    assert calc.op == 'pgp.calc'


def no_python(*args, **kwargs):
    raise AssertionError('a native task called into pgp from Python')


@pytest.mark.parametrize('module', [pgp, pygeoprocessing])
def test_pgp_functions_run_natively_with_the_same_outputs(tmp_path, sample, module,
                                                          monkeypatch):
    out = tmp_path / 'native'
    out.mkdir()
    mine = {k: str(out / f'{k}.tif') for k in ('dem', 'lulc', 'coef', 'runoff')}
    ref = {k: str(tmp_path / f'ref_{k}.tif') for k in mine}
    zonal_ref = None
    table = {float(k): 0.1 * k for k in range(0, 256)}
    pixel = pgp.get_raster_info(sample['dem'])['pixel_size']

    def pipeline(funcs, paths, tg=None):
        """align -> reclassify -> calc -> zonal, directly or as tasks of ``tg``."""
        def call(func, args, kwargs=None, **task):
            if tg is None:
                return func(*args, **(kwargs or {}))
            return tg.add_task(func=func, args=args, kwargs=kwargs or {}, **task)
        tasks = [call(funcs.align_and_resize_raster_stack,
                      ([sample['dem'], sample['landcover']], [paths['dem'], paths['lulc']],
                       ['bilinear', 'near'], pixel, 'intersection'),
                      {'raster_align_index': 0}, task_name='align')]
        tasks.append(call(funcs.reclassify_raster,
                          ((paths['lulc'], 1), table, paths['coef'], pgp.GDT_Float32, -1.0),
                          task_name='reclassify'))
        tasks.append(call(funcs.raster_calculator,
                          ([(paths['dem'], 1), (paths['coef'], 1)], 'a * b', paths['runoff'],
                           pgp.GDT_Float32, -9999.0), task_name='calc'))
        tasks.append(call(funcs.zonal_statistics, ((paths['runoff'], 1), sample['zones']),
                          task_name='zonal', store_result=True))
        return tasks

    *_, zonal_ref = pipeline(pgp, ref)
    for name in ('evaluate_expression', 'reclassify_raster', 'align_and_resize_raster_stack',
                 'zonal_statistics'):
        monkeypatch.setattr(pgp._pgp, name, no_python)
    for expected in (False, True):
        graph = taskgraph.TaskGraph(str(tmp_path / 'c'), 2)
        tasks = pipeline(module, mine, graph)
        graph.close()
        graph.join()
        assert [t.op for t in tasks] == ['pgp.align', 'pgp.reclassify', 'pgp.calc',
                                         'pgp.zonal_stats']
        assert [t.skipped for t in tasks] == [expected] * 4
        assert tasks[-1].get() == zonal_ref
    for k in mine:
        numpy.testing.assert_array_equal(pgp.raster_to_numpy_array(mine[k]),
                                         pgp.raster_to_numpy_array(ref[k]))
    # Another value map is another table: reclassify and what reads its output rerun.
    table[3.0] = 0.9
    graph = taskgraph.TaskGraph(str(tmp_path / 'c'), 2)
    tasks = pipeline(module, mine, graph)
    graph.close()
    graph.join()
    assert [t.skipped for t in tasks] == [True, False, False, False]


def test_a_python_local_op_is_a_python_task(tmp_path, pair):
    a, b, x, y = pair
    target = str(tmp_path / 'py.tif')
    graph = taskgraph.TaskGraph(str(tmp_path / 'c'), 2)
    task = graph.add_task(func=pgp.raster_calculator,
                          args=([(a, 1), (b, 1)], lambda p, q: p + q, target,
                                pgp.GDT_Float32, None),
                          target_path_list=[target], task_name='lambda')
    graph.close()
    graph.join()
    assert task.op == 'fn:lambda'
    numpy.testing.assert_allclose(pgp.raster_to_numpy_array(target), x + y, rtol=1e-6)


def test_a_failing_native_task_fails_its_dependents(tmp_path, pair):
    a, _, _, _ = pair
    graph = taskgraph.TaskGraph(str(tmp_path / 'c'), 2)
    bad = graph.add_task(func=pgp.raster_calculator,
                         args=([(a, 1), (str(tmp_path / 'missing.tif'), 1)], 'a + b',
                               str(tmp_path / 'bad.tif'), pgp.GDT_Float32, -1))
    after = graph.add_task(func=scaled, args=(str(tmp_path / 'bad.tif'),
                                              str(tmp_path / 'after.tif'), 2),
                           target_path_list=[str(tmp_path / 'after.tif')])
    graph.close()
    with pytest.raises(RuntimeError, match='missing.tif'):
        graph.join()
    with pytest.raises(RuntimeError, match='dependency'):
        after.join()
    assert bad.op == 'pgp.calc'
    assert not os.path.exists(tmp_path / 'bad.tif')


def test_zonal_result_json_is_what_get_returns(tmp_path, sample):
    graph = taskgraph.TaskGraph(str(tmp_path / 'c'), -1)
    task = graph.add_task(func=pgp.zonal_statistics, args=((sample['dem'], 1), sample['zones']),
                          store_result=True)
    assert task.get() == pgp.zonal_statistics((sample['dem'], 1), sample['zones'])
    results = os.path.join(str(tmp_path / 'c'), 'pgp_results')
    (stored,) = [f for f in os.listdir(results) if f.endswith('.json')]
    assert set(json.load(open(os.path.join(results, stored)))) == {
        str(fid) for fid in task.get()}
