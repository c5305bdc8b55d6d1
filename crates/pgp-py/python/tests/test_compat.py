"""pgp.compat.pygeoprocessing runs pygeoprocessing scripts unchanged; pgp.compat.taskgraph
behaves as taskgraph 0.11 with content keys."""

import os
import subprocess
import sys
import time

import numpy
import pytest

import pgp
from conftest import peer_python, run_peer

SCRIPT = '''
import os, sys
import numpy
{import_line}
from osgeo import gdal
''' if False else '''
import os, sys
import numpy
{import_line}
GDT_Float32, GDT_Int16 = 6, 3
data, out = sys.argv[1], sys.argv[2]
dem, lc = os.path.join(data, 'dem.tif'), os.path.join(data, 'landcover.tif')
info = pygeoprocessing.get_raster_info(dem)
aligned = [os.path.join(out, 'dem_a.tif'), os.path.join(out, 'lc_a.tif')]
pygeoprocessing.align_and_resize_raster_stack(
    [dem, lc], aligned, ['bilinear', 'near'], info['pixel_size'], 'intersection')
pygeoprocessing.reclassify_raster((aligned[1], 1), {{v: v * 0.5 for v in range(256)}},
                                  os.path.join(out, 'coef.tif'), GDT_Float32, -1.0)
nodata = info['nodata'][0]
def runoff(d, c):
    valid = (d != nodata) & (c != -1)
    result = numpy.full(d.shape, -1.0, dtype=numpy.float32)
    result[valid] = d[valid] * c[valid] + 1
    return result
pygeoprocessing.raster_calculator([(aligned[0], 1), (os.path.join(out, 'coef.tif'), 1)], runoff,
                                  os.path.join(out, 'runoff.tif'), GDT_Float32, -1.0)
pygeoprocessing.kernels.normal_distribution_kernel(os.path.join(out, 'k.tif'), 2)
pygeoprocessing.convolve_2d((os.path.join(out, 'runoff.tif'), 1), (os.path.join(out, 'k.tif'), 1),
                            os.path.join(out, 'smooth.tif'), ignore_nodata_and_edges=True)
pygeoprocessing.routing.fill_pits((dem, 1), os.path.join(out, 'filled.tif'))
print(sorted(pygeoprocessing.zonal_statistics(
    (os.path.join(out, 'runoff.tif'), 1), os.path.join(data, 'zones.shp')).items())[:3])
'''


@pytest.fixture(scope='module')
def script_data(tmp_path_factory):
    d = tmp_path_factory.mktemp('scriptdata')
    paths = pgp.sample_data(d, 200, 3)
    pgp.reproject_vector(paths['zones'], pgp.get_vector_info(paths['zones'])['projection_wkt'],
                         str(d / 'zones.shp'))
    return str(d)


def run_script(python, import_line, data, out, env=None):
    os.makedirs(out, exist_ok=True)
    done = subprocess.run([python, '-c', SCRIPT.format(import_line=import_line), data, str(out)],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_script_runs_unchanged_with_the_compat_import(script_data, tmp_path):
    printed = run_script(sys.executable, 'import pgp.compat.pygeoprocessing as pygeoprocessing',
                         script_data, tmp_path / 'ours')
    assert printed.startswith('[(0, {')  # a shapefile's FIDs start at 0
    smooth = pgp.raster_to_numpy_array(str(tmp_path / 'ours' / 'smooth.tif'))
    assert smooth.shape == pgp.raster_to_numpy_array(str(tmp_path / 'ours' / 'runoff.tif')).shape


def test_script_outputs_equal_pygeoprocessings(script_data, tmp_path):
    if peer_python() is None:
        pytest.skip('the peer environment (bench/peer-setup.sh) is not installed')
    run_script(sys.executable, 'import pgp.compat.pygeoprocessing as pygeoprocessing',
               script_data, tmp_path / 'ours')
    run_script(peer_python(), 'import pygeoprocessing, pygeoprocessing.routing, '
               'pygeoprocessing.kernels', script_data, tmp_path / 'peer')
    for name in ('dem_a', 'lc_a', 'coef', 'runoff', 'filled'):
        numpy.testing.assert_array_equal(
            pgp.raster_to_numpy_array(str(tmp_path / 'ours' / f'{name}.tif')),
            pgp.raster_to_numpy_array(str(tmp_path / 'peer' / f'{name}.tif')), err_msg=name)
    numpy.testing.assert_allclose(
        pgp.raster_to_numpy_array(str(tmp_path / 'ours' / 'smooth.tif')),
        pgp.raster_to_numpy_array(str(tmp_path / 'peer' / 'smooth.tif')), rtol=1e-4, atol=1e-3)


def test_pgp_executor_environment_variable(script_data, tmp_path, monkeypatch):
    import pgp.compat.pygeoprocessing as pygeoprocessing
    from pgp import _pgp
    used = []
    real = _pgp.raster_calculator_py

    def spy(*args):
        used.append(args[-1])
        return real(*args)

    monkeypatch.setattr(_pgp, 'raster_calculator_py', spy)
    dem = os.path.join(script_data, 'dem.tif')
    monkeypatch.setenv('PGP_EXECUTOR', 'multiprocessing:2')  # a callable: threading:2
    pygeoprocessing.raster_calculator([(dem, 1)], lambda a: a, str(tmp_path / 'o.tif'), 6, -1)
    monkeypatch.setenv('PGP_EXECUTOR', 'threading:3')
    pygeoprocessing.raster_calculator([(dem, 1)], lambda a: a, str(tmp_path / 'p.tif'), 6, -1)
    pygeoprocessing.raster_calculator([(dem, 1)], lambda a: a, str(tmp_path / 'q.tif'), 6, -1,
                                      executor=None)
    monkeypatch.delenv('PGP_EXECUTOR')
    pygeoprocessing.raster_calculator([(dem, 1)], lambda a: a, str(tmp_path / 'r.tif'), 6, -1)
    assert used == ['threading:2', 'threading:3', None, None]


def test_missing_functions_say_so():
    import pgp.compat.pygeoprocessing as pygeoprocessing
    with pytest.raises(NotImplementedError, match='interpolate_points'):
        pygeoprocessing.interpolate_points
    with pytest.raises(AttributeError):
        pygeoprocessing.routing.no_such_function
    assert callable(pygeoprocessing.routing.delineate_watersheds_d8)
    with pytest.raises(AttributeError):
        pygeoprocessing.no_such_function
    assert pygeoprocessing.align_bbox([0, 10, 0, 100, 0, -10], [5, 5, 25, 95]) == [0, 0, 30, 100]
    assert pygeoprocessing.get_gis_type.__name__ == 'get_gis_type'
