"""The threads pgp runs a call on are kept for the next call (GDAL's per-thread PROJ context
stays warm), one per call running at once; a forked child starts its own call threads and
executor pools instead of waiting on its parent's."""

import multiprocessing
import os
import sys
import threading

import numpy
import pytest

import pgp
from pgp.errors import PgpFileNotFoundError

from conftest import write

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith('linux'), reason='counts threads by name in /proc/self/task')

UTM_31N = (
    'PROJCS["WGS 84 / UTM zone 31N",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,'
    '298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],'
    'PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],'
    'PARAMETER["central_meridian",3],PARAMETER["scale_factor",0.9996],'
    'PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1],'
    'AUTHORITY["EPSG","32631"]]')


def call_threads():
    names = []
    for tid in os.listdir('/proc/self/task'):
        try:
            with open(f'/proc/self/task/{tid}/comm') as f:
                names.append(f.read().strip())
        except FileNotFoundError:  # the thread ended while we looked
            pass
    return names.count('pgp-call')


def one_call(src, target):
    pgp.raster_calculator([(src, 1)], 'a * 2', target, pgp.GDT_Float32, -1.0,
                          executor='threading:2')
    return pgp.raster_to_numpy_array(target)


@pytest.fixture
def src(tmp_path, rng):
    array = rng.random((300, 200), dtype=numpy.float32)
    return write(tmp_path / 'src.tif', array, -1, projection_wkt=UTM_31N), array


def test_sequential_calls_share_one_thread(tmp_path, src):
    path, array = src
    numpy.testing.assert_array_equal(one_call(path, str(tmp_path / 'first.tif')), array * 2)
    kept = call_threads()
    assert kept >= 1, 'the call thread ended with the call'
    for i in range(4):
        numpy.testing.assert_array_equal(one_call(path, str(tmp_path / f'o{i}.tif')), array * 2)
    assert call_threads() == kept, 'a call started a thread while one was idle'


def test_failed_and_concurrent_calls_keep_the_threads_usable(tmp_path, src):
    path, array = src
    with pytest.raises(PgpFileNotFoundError, match='missing.tif'):
        one_call(str(tmp_path / 'missing.tif'), str(tmp_path / 'never.tif'))
    assert not os.path.exists(tmp_path / 'never.tif')
    results, errors = {}, []

    def worker(k):
        try:
            results[k] = one_call(path, str(tmp_path / f'c{k}.tif'))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for k in range(3):
        numpy.testing.assert_array_equal(results[k], array * 2)
    # At most one thread per call that ran at once (and those from earlier tests).
    assert call_threads() <= 3 + 1


def _child(path, target, executor, queue):
    pgp.raster_calculator([(path, 1)], 'a * 2', target, pgp.GDT_Float32, -1.0,
                          executor=executor)
    queue.put(float(pgp.raster_to_numpy_array(target).sum()))


@pytest.mark.parametrize('executor', [None, 'threading:2'])
def test_a_forked_child_runs_calls_on_threads_of_its_own(tmp_path, src, executor):
    path, array = src
    # The parent now has an idle call thread and a pool of two threads.
    one_call(path, str(tmp_path / 'parent.tif'))
    ctx = multiprocessing.get_context('fork')
    queue = ctx.Queue()
    child = ctx.Process(target=_child,
                        args=(path, str(tmp_path / 'child.tif'), executor, queue))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        pytest.fail('the forked child hung on the call threads it inherited from its parent')
    assert child.exitcode == 0
    assert queue.get(timeout=5) == pytest.approx(float((array * 2).sum()))
