"""Ctrl-C interrupts a long call promptly and leaves no output behind."""

import os
import signal
import subprocess
import sys
import time

import pytest

SLOW_CALLABLE = '''
import sys, time, numpy, pgp
src, dst, executor = sys.argv[1], sys.argv[2], sys.argv[3]
pgp.numpy_array_to_raster(numpy.ones((2048, 2048), numpy.float32), -1, (1, -1), (0, 0), None, src)
def slow(a):
    time.sleep(0.2)  # 64 blocks: 13 s synchronously, 6 s on two threads
    return a
print('ready', flush=True)
try:
    pgp.raster_calculator([(src, 1)], slow, dst, pgp.GDT_Float32, -1, executor=executor)
except KeyboardInterrupt:
    print('interrupted', flush=True)
    sys.exit(3)
print('finished', flush=True)
'''

SLOW_EXPRESSION = '''
import sys, numpy, pgp
src, dst, executor = sys.argv[1], sys.argv[2], sys.argv[3]
pgp.numpy_array_to_raster(numpy.ones((4096, 4096), numpy.float32), -1, (1, -1), (0, 0), None, src)
expr = 'a' + ''.join(' + sqrt(a * %d) * exp(-a / %d)' % (i, i + 1) for i in range(1, 40))
print('ready', flush=True)
try:
    pgp.raster_calculator([(src, 1)], expr, dst, pgp.GDT_Float32, -1, executor=executor)
except KeyboardInterrupt:
    print('interrupted', flush=True)
    sys.exit(3)
print('finished', flush=True)
'''


@pytest.mark.parametrize('script, executor', [
    (SLOW_CALLABLE, 'threading:2'), (SLOW_CALLABLE, 'sync'), (SLOW_EXPRESSION, 'threading:2')])
def test_ctrl_c_stops_the_call_and_cleans_up(tmp_path, script, executor):
    src, dst = str(tmp_path / 'src.tif'), str(tmp_path / 'dst.tif')
    proc = subprocess.Popen([sys.executable, '-c', script, src, dst, executor],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'ready'
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    if 'finished' in out and script is SLOW_EXPRESSION:
        pytest.skip('the expression finished before the signal arrived (a fast build)')
    # Stopped part-way: the call raised KeyboardInterrupt instead of finishing its blocks.
    assert (proc.returncode, out.split()) == (3, ['interrupted']), err
    assert sorted(os.listdir(tmp_path)) == ['src.tif']
