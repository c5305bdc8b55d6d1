"""executor= parsing: spec strings, pgp executors, concurrent.futures executors."""

import concurrent.futures
import os

import numpy
import pytest

import pgp
from pgp._executor import describe, executor_arg


@pytest.mark.parametrize('spec, kind, workers', [
    (None, 'sync', 1),
    ('sync', 'sync', 1),
    ('threading:5', 'threading', 5),
    ('Threading:2', 'threading', 2),
    ('multiprocessing:3', 'multiprocessing', 3),
])
def test_spec_strings(spec, kind, workers):
    assert describe(spec) == (kind, workers)


def test_threading_alone_means_every_core():
    assert describe('threading') == ('threading', pgp.available_cores())
    assert pgp.available_cores() == len(os.sched_getaffinity(0))


def test_pgp_executor_object():
    ex = pgp.Executor('threading:3')
    assert (ex.kind, ex.max_workers, ex.spec) == ('threading', 3, 'threading:3')
    assert executor_arg(ex) is ex
    assert repr(ex) == 'pgp.Executor("threading:3")'


def test_concurrent_futures_executors_give_kind_and_size():
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as t:
        assert executor_arg(t) == 'threading:4'
        assert describe(t) == ('threading', 4)
    with concurrent.futures.ProcessPoolExecutor(max_workers=2) as p:
        assert executor_arg(p) == 'multiprocessing:2'


@pytest.mark.parametrize('bad', ['threading:0', 'fibres:2', 'threading:x'])
def test_bad_spec_is_a_value_error_naming_it(bad, pair, tmp_path):
    a_path, _, _, _ = pair
    target = tmp_path / 'out.tif'
    with pytest.raises(pgp.PgpValueError, match='executor'):
        pgp.raster_calculator([(a_path, 1)], 'a + 1', str(target), pgp.GDT_Float32, -1,
                              executor=bad)
    assert not target.exists()


def test_wrong_type_is_a_type_error(pair, tmp_path):
    a_path, _, _, _ = pair
    with pytest.raises(TypeError, match='executor must be'):
        pgp.raster_calculator([(a_path, 1)], 'a + 1', str(tmp_path / 'o.tif'),
                              pgp.GDT_Float32, -1, executor=3.5)


@pytest.mark.parametrize('executor', [
    None, 'threading:2', 'multiprocessing:2', pgp.Executor('threading:3'),
    concurrent.futures.ThreadPoolExecutor(max_workers=2),
])
def test_every_executor_gives_the_same_pixels(executor, pair, tmp_path):
    a_path, b_path, a, b = pair
    target = tmp_path / 'out.tif'
    pgp.raster_calculator([(a_path, 1), (b_path, 1)], 'a * 2 + b', str(target),
                          pgp.GDT_Float32, -1, executor=executor)
    expected = numpy.where((a == -1) | (b == -1), numpy.float32(-1), a * 2 + b)
    numpy.testing.assert_array_equal(pgp.raster_to_numpy_array(str(target)), expected)
