"""The README's demo, from Python: pygeoprocessing's raster_calculator on pgp, three ways.

    .venv/bin/python examples/python/demo.py DATA_DIR OUT_DIR

DATA_DIR holds the demo's sample rasters (scripts/demo.sh writes them). The same `a * 2 + b`
runs as a numpy callable synchronously and on two threads, and as a pgp expression on two
worker processes; the three outputs are compared pixel for pixel.
"""

import os
import sys
import time

import numpy

import pgp


def main(data_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    dem, weight = os.path.join(data_dir, 'dem.tif'), os.path.join(data_dir, 'weight.tif')
    info = pgp.get_raster_info(dem)
    print(f"dem.tif: {info['raster_size'][0]} x {info['raster_size'][1]}, "
          f"nodata {info['nodata'][0]}, pixel {info['pixel_size']}")
    inputs = [(dem, 1), (weight, 1)]
    nodata = -9999.0

    def local_op(a, b):
        valid = ~pgp.array_equals_nodata(a, info['nodata'][0]) & ~pgp.array_equals_nodata(
            b, pgp.get_raster_info(weight)['nodata'][0])
        return numpy.where(valid, a.astype(numpy.float64) * 2 + b, nodata)

    outputs = {}
    for label, op, executor in [('numpy callable, sync', local_op, None),
                                ('numpy callable, threading:2', local_op, 'threading:2'),
                                ('expression, multiprocessing:2', 'a * 2 + b',
                                 'multiprocessing:2')]:
        target = os.path.join(out_dir, label.split(',')[0].replace(' ', '-') +
                              f"-{(executor or 'sync').replace(':', '')}.tif")
        start = time.perf_counter()
        pgp.raster_calculator(inputs, op, target, pgp.GDT_Float32, nodata, executor=executor)
        print(f"  {label:32s} {time.perf_counter() - start:6.2f} s -> {os.path.basename(target)}")
        outputs[label] = pgp.raster_to_numpy_array(target)
    first = next(iter(outputs.values()))
    same = all(numpy.array_equal(first, o) for o in outputs.values())
    print(f"  the three outputs are {'identical' if same else 'DIFFERENT'}")
    return 0 if same else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2]))
