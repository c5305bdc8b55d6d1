"""The raster calculator family against independent numpy computations."""

import os
import threading

import numpy
import pytest

import pgp
from conftest import write


def read(path):
    return pgp.raster_to_numpy_array(str(path))


def test_callable_with_raw_and_array_inputs(pair, tmp_path):
    a_path, b_path, a, b = pair
    row = numpy.arange(700, dtype=numpy.float32)
    target = tmp_path / 'out.tif'
    pgp.raster_calculator(
        [(a_path, 1), (b_path, 1), (2.5, 'raw'), row],
        lambda x, y, k, r: x * k + y - r, str(target), pgp.GDT_Float64, -9999,
        executor='threading:2')
    # The callable gets float32 blocks: numpy computes in float32, then it is stored as float64.
    expected = (a * numpy.float32(2.5) + b - row).astype(numpy.float64)
    numpy.testing.assert_array_equal(read(target), expected)
    info = pgp.get_raster_info(str(target))
    assert info['datatype'] == pgp.GDT_Float64 and info['nodata'] == [-9999.0]


def test_callable_runs_off_the_main_thread_on_threads_with_the_gil(pair, tmp_path):
    a_path, _, a, _ = pair
    seen = set()

    def op(x):
        seen.add(threading.get_ident())
        return x + 1

    pgp.raster_calculator([(a_path, 1)], op, str(tmp_path / 'o.tif'), pgp.GDT_Float32, -1,
                          executor='threading:2')
    assert threading.get_ident() not in seen
    numpy.testing.assert_array_equal(read(tmp_path / 'o.tif'), a + 1)


def test_statistics_are_written(pair, tmp_path):
    a_path, _, a, _ = pair
    target = tmp_path / 'o.tif'
    pgp.raster_calculator([(a_path, 1)], 'where(a > 50, a, -1)', str(target),
                          pgp.GDT_Float32, -1, executor='threading:2')
    out = read(target)
    expected = numpy.where(a > 50, a, -1)
    numpy.testing.assert_array_equal(out, expected)


def test_expression_with_dict_bindings_and_scalar(pair, tmp_path):
    a_path, b_path, a, b = pair
    target = tmp_path / 'o.tif'
    pgp.raster_calculator({'dem': (a_path, 1), 'w': (b_path, 1), 'k': 3},
                          'dem * k - w', str(target), pgp.GDT_Float32, -1,
                          executor='multiprocessing:2')
    valid = (a != -1) & (b != -1)
    # pgp evaluates in float64 and rounds once to the output type.
    expected = (a.astype(numpy.float64) * 3 - b).astype(numpy.float32)
    numpy.testing.assert_array_equal(read(target)[valid], expected[valid])
    assert (read(target)[~valid] == -1).all()


def scaled_sum(x, y, k):
    """Module level, so worker processes can import it."""
    return x * k + y


def test_picklable_callable_runs_in_worker_processes(pair, tmp_path):
    import concurrent.futures
    a_path, b_path, a, b = pair
    for executor in ('multiprocessing:2', concurrent.futures.ProcessPoolExecutor(2)):
        target = tmp_path / 'o.tif'
        pgp.raster_calculator([(a_path, 1), (b_path, 1), (3, 'raw')], scaled_sum, str(target),
                              pgp.GDT_Float32, -1, executor=executor)
        numpy.testing.assert_array_equal(read(target), a * 3 + b)
        target.unlink()


def test_unpicklable_callable_on_processes_is_refused_before_any_output(pair, tmp_path):
    a_path, _, _, _ = pair
    target = tmp_path / 'o.tif'
    with pytest.raises(pgp.PgpValueError, match='cannot be sent to worker processes'):
        pgp.raster_calculator([(a_path, 1)], lambda x: x, str(target), pgp.GDT_Float32, -1,
                              executor='multiprocessing:2')
    assert os.listdir(tmp_path) == ['a.tif', 'b.tif']


def test_exception_in_local_op_is_raised_as_is_and_leaves_nothing(pair, tmp_path):
    a_path, _, _, _ = pair
    calls = []

    def op(x):
        calls.append(1)
        if len(calls) == 3:
            raise ZeroDivisionError('block three')
        return x

    with pytest.raises(ZeroDivisionError, match='block three'):
        pgp.raster_calculator([(a_path, 1)], op, str(tmp_path / 'o.tif'), pgp.GDT_Float32,
                              -1, executor='threading:2')
    assert sorted(os.listdir(tmp_path)) == ['a.tif', 'b.tif']


def test_size_mismatch_names_both_rasters(pair, tmp_path):
    a_path, _, _, _ = pair
    small = write(tmp_path / 'small.tif', numpy.zeros((10, 10), numpy.float32))
    with pytest.raises(pgp.PgpValueError) as info:
        pgp.raster_calculator([(a_path, 1), (small, 1)], lambda x, y: x, str(tmp_path / 'o.tif'),
                              pgp.GDT_Float32, -1)
    assert 'small.tif is 10 x 10' in str(info.value) and 'a.tif is 700 x 600' in str(info.value)
    assert not (tmp_path / 'o.tif').exists()


def test_bad_band_names_the_input(pair, tmp_path):
    a_path, _, _, _ = pair
    with pytest.raises(pgp.PgpValueError, match=r'a\.tif: band 2 does not exist'):
        pgp.raster_calculator([(a_path, 2)], lambda x: x, str(tmp_path / 'o.tif'),
                              pgp.GDT_Float32, -1)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.tif: no such file'):
        pgp.raster_calculator([(str(tmp_path / 'nope.tif'), 1)], 'a', str(tmp_path / 'o.tif'),
                              pgp.GDT_Float32, -1)
    with pytest.raises(ValueError):  # pygeoprocessing raises ValueError here: still caught
        pgp.get_raster_info(str(tmp_path / 'nope.tif'))


def test_wrong_shape_from_local_op(pair, tmp_path):
    a_path, _, _, _ = pair
    with pytest.raises(pgp.PgpValueError, match='local operation returned a 1x1 array'):
        pgp.raster_calculator([(a_path, 1)], lambda x: numpy.zeros((1, 1), numpy.float32),
                              str(tmp_path / 'o.tif'), pgp.GDT_Float32, -1)
    assert not (tmp_path / 'o.tif').exists()


def test_expression_syntax_error(pair, tmp_path):
    a_path, _, _, _ = pair
    with pytest.raises(pgp.PgpValueError):
        pgp.raster_calculator([(a_path, 1)], 'a * * 2', str(tmp_path / 'o.tif'),
                              pgp.GDT_Float32, -1)


def test_integer_and_bool_results_are_stored(tmp_path, rng):
    a = rng.integers(0, 100, (300, 300)).astype(numpy.int16)
    path = write(tmp_path / 'i.tif', a, -1)
    pgp.raster_calculator([(path, 1)], lambda x: x > 50, str(tmp_path / 'b.tif'),
                          pgp.GDT_Byte, 255)
    numpy.testing.assert_array_equal(read(tmp_path / 'b.tif'), (a > 50).astype(numpy.uint8))
    pgp.raster_calculator([(path, 1)], lambda x: x.astype(numpy.int64) * 1000,
                          str(tmp_path / 'c.tif'), pgp.GDT_Int32, -1)
    numpy.testing.assert_array_equal(read(tmp_path / 'c.tif'), a.astype(numpy.int32) * 1000)


def test_raster_map_skips_nodata(pair, tmp_path):
    a_path, b_path, a, b = pair
    target = tmp_path / 'm.tif'
    pgp.raster_map(lambda x, y: x * y, [a_path, b_path], str(target), target_nodata=-5,
                   target_dtype=numpy.float32, executor='threading:2')
    valid = (a != -1) & (b != -1)
    out = read(target)
    numpy.testing.assert_array_equal(out[valid], (a * b)[valid])
    assert (out[~valid] == -5).all()


def test_raster_reduce_sums_valid_pixels(pair):
    a_path, _, a, _ = pair
    total = pgp.raster_reduce(lambda acc, v: acc + float(v.astype(numpy.float64).sum()),
                              (a_path, 1), 0.0)
    assert total == pytest.approx(float(a[a != -1].astype(numpy.float64).sum()), rel=1e-12)
    count = pgp.raster_reduce(lambda acc, v: acc + v.size, (a_path, 1), 0, mask_nodata=False)
    assert count == a.size


def test_raster_reduce_reraises(pair):
    a_path, _, _, _ = pair
    with pytest.raises(KeyError):
        pgp.raster_reduce(lambda acc, v: {}['x'], (a_path, 1), 0)


def test_reclassify_and_missing_values(tmp_path, rng):
    lc = rng.integers(1, 4, (300, 260)).astype(numpy.int16)
    lc[0, :5] = 9
    path = write(tmp_path / 'lc.tif', lc, -1)
    value_map = {1: 0.5, 2: 1.5, 3: 2.5}
    with pytest.raises(pgp.ReclassificationMissingValuesError, match='9'):
        pgp.reclassify_raster((path, 1), value_map, str(tmp_path / 'r.tif'),
                              pgp.GDT_Float32, -1, executor='multiprocessing:2')
    assert not (tmp_path / 'r.tif').exists()
    value_map[9] = 9.5
    pgp.reclassify_raster((path, 1), value_map, str(tmp_path / 'r.tif'), pgp.GDT_Float32, -1,
                          executor='threading:2')
    expected = numpy.vectorize(value_map.get)(lc).astype(numpy.float32)
    numpy.testing.assert_array_equal(read(tmp_path / 'r.tif'), expected)


def test_arrays_round_trip_every_type(tmp_path, rng):
    for dtype in (numpy.uint8, numpy.int8, numpy.uint16, numpy.int16, numpy.uint32,
                  numpy.int32, numpy.float32, numpy.float64):
        a = (rng.random((40, 30)) * 100).astype(dtype)
        path = write(tmp_path / f'{numpy.dtype(dtype).name}.tif', a, 7)
        back = pgp.raster_to_numpy_array(path)
        assert back.dtype == numpy.dtype(dtype)
        numpy.testing.assert_array_equal(back, a)
        assert pgp.get_raster_info(path)['numpy_type'] is dtype


def test_iterblocks_covers_the_raster(pair):
    a_path, _, a, _ = pair
    out = numpy.zeros_like(a)
    offsets = list(pgp.iterblocks((a_path, 1), offset_only=True))
    assert len(offsets) == 9 and offsets[1] == {'xoff': 256, 'yoff': 0, 'win_xsize': 256,
                                                'win_ysize': 256}
    for off, block in pgp.iterblocks((a_path, 1)):
        out[off['yoff']:off['yoff'] + off['win_ysize'],
            off['xoff']:off['xoff'] + off['win_xsize']] = block
    numpy.testing.assert_array_equal(out, a)
    assert len(list(pgp.iterblocks((a_path, 1), largest_block=0))) == 9


def test_new_raster_from_base(pair, tmp_path):
    a_path, _, _, _ = pair
    target = tmp_path / 'n.tif'
    pgp.new_raster_from_base(a_path, str(target), pgp.GDT_Int16, [-1, -1], fill_value_list=[3, 4])
    info = pgp.get_raster_info(str(target))
    assert info['n_bands'] == 2 and info['nodata'] == [-1.0, -1.0]
    assert info['raster_size'] == (700, 600) and info['datatype'] == pgp.GDT_Int16
    assert (pgp.raster_to_numpy_array(str(target), 2) == 4).all()
    pgp.new_raster_from_base(a_path, str(tmp_path / 's.tif'), pgp.GDT_Byte, [None],
                             n_rows=10, n_cols=20)
    assert pgp.get_raster_info(str(tmp_path / 's.tif'))['raster_size'] == (20, 10)


def test_nodata_helpers():
    a = numpy.array([1.0, -1.0, -1.000001, numpy.nan])
    numpy.testing.assert_array_equal(pgp.array_equals_nodata(a, -1), [False, True, True, False])
    numpy.testing.assert_array_equal(pgp.array_equals_nodata(a, numpy.nan),
                                     [False, False, False, True])
    assert not pgp.array_equals_nodata(a, None).any()
    numpy.testing.assert_array_equal(pgp.array_equals_nodata(numpy.array([3, 4]), 3),
                                     [True, False])
    assert pgp.choose_nodata(numpy.uint8) == 255
    assert pgp.choose_nodata(numpy.float32) == float(numpy.finfo(numpy.float32).max)
