#!/usr/bin/env python3
"""pgp's Python package against pygeoprocessing 2.4 and taskgraph 0.11, same files, same run.

    scripts/python-env.sh --release && bench/peer-setup.sh
    .venv/bin/python bench/python_bench.py --size 2048 --repeat 3 [--out DIR] [--jsonl FILE]

Cases (pgp side on ``threading:2``; the peer side is ``bench/peer_cases.py`` in the peer
environment, $PGP_PEER_VENV, one process per run):

* ``calc_simple``: ``raster_calculator`` with the numpy callable ``a * 2 + b`` (nodata-aware);
* ``calc_simple_expr``: the same as the pgp expression ``a * 2 + b`` (nodata carried by pgp);
* ``calc_heavy``: a CPU-heavier numpy callable (32 rounds of sin/exp/sqrt/cos per pixel);
* ``pipeline``: align -> calculate (reclassification table as a raw lookup) -> zonal
  statistics, written with ``pgp.compat.taskgraph`` and ``pgp.compat.pygeoprocessing``
  against taskgraph + pygeoprocessing: cold, rerun with nothing changed, rerun after one table
  edit;
* ``pipeline_native``: the same pipeline (same peer run) with pgp's functions themselves as the
  tasks: align -> reclassify (the table as a value map) -> calculate (the expression
  ``precip * coef * (1 + dem / 1000)``) -> zonal statistics, each run by pgp-graph as its
  registered node with no Python in the loop, on 2 graph threads. The expression computes in
  float64 where ``runoff_op`` rounds each step to float32, so rasters match to float round-off.

Every pgp output is compared with the peer's before a time is kept (exact for rasters from the
same formulas, float round-off for the heavy op and zonal sums). Runs alternate pgp / peer;
the fastest of ``--repeat`` runs of each is reported, with the ratio peer / pgp.
"""

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time

import numpy

import pgp
import pgp.compat.pygeoprocessing as pygeoprocessing
import pgp.compat.taskgraph as taskgraph

# The script's own folder is on sys.path, so the shared case operations import by name.
from case_ops import (
    DEM_NODATA, LULC_NODATA, PRECIP_NODATA, OUT_NODATA, HEAVY_ITERS, TABLE,
    simple_op, heavy_op, runoff_op, read_table, write_table)

HERE = os.path.dirname(os.path.abspath(__file__))

EXECUTOR = 'threading:2'


def tg_align(bases, targets):
    pygeoprocessing.align_and_resize_raster_stack(
        bases, targets, ['bilinear', 'near', 'bilinear'], (30.0, -30.0), 'intersection',
        raster_align_index=0, executor=EXECUTOR)


def tg_calc(dem, lulc, precip, table, target):
    pygeoprocessing.raster_calculator(
        [(dem, 1), (lulc, 1), (precip, 1), (read_table(table), 'raw')], runoff_op, target,
        pgp.GDT_Float32, OUT_NODATA, executor=EXECUTOR)


def tg_zonal(raster, vector, target):
    stats = pygeoprocessing.zonal_statistics((raster, 1), vector, executor=EXECUTOR)
    with open(target, 'w') as f:
        json.dump({str(k): v for k, v in stats.items()}, f, sort_keys=True)


def pgp_case(name, d, out):
    """Runs one case with pgp; returns (seconds, outputs, phases)."""
    p = lambda f: os.path.join(out, f)  # noqa: E731
    inputs = [(d['dem'], 1), (d['weight'], 1)]
    if name in ('calc_simple', 'calc_simple_expr'):
        op = simple_op if name == 'calc_simple' else 'a * 2 + b'
        t = time.perf_counter()
        pgp.raster_calculator(inputs, op, p('simple.tif'), pgp.GDT_Float32, OUT_NODATA,
                              executor=EXECUTOR)
        return time.perf_counter() - t, {'simple': p('simple.tif')}, {}
    if name == 'calc_heavy':
        t = time.perf_counter()
        pgp.raster_calculator([(d['dem'], 1)], heavy_op, p('heavy.tif'), pgp.GDT_Float32,
                              OUT_NODATA, executor=EXECUTOR)
        return time.perf_counter() - t, {'heavy': p('heavy.tif')}, {}
    if name in ('pipeline', 'pipeline_native'):
        table = p('biophysical.csv')
        write_table(table, TABLE)
        aligned = [p('dem_aligned.tif'), p('landcover_aligned.tif'), p('precip_aligned.tif')]
        runoff, zonal = p('runoff.tif'), p('zonal.json')
        zones = p('zones_multipolygon.gpkg')
        pgp.reproject_vector(d['zones'], pgp.get_vector_info(d['zones'])['projection_wkt'],
                             zones, driver_name='GPKG')

        def run_native():
            with open(table, newline='') as f:
                value_map = {int(row['lucode']): float(row['coef']) for row in csv.DictReader(f)}
            coef = p('coef.tif')
            tg = taskgraph.TaskGraph(p('taskgraph_cache'), 2)
            tg.add_task(func=pygeoprocessing.align_and_resize_raster_stack,
                        args=([d['dem'], d['landcover'], d['precip']], aligned,
                              ['bilinear', 'near', 'bilinear'], (30.0, -30.0), 'intersection'),
                        kwargs={'raster_align_index': 0}, target_path_list=aligned,
                        task_name='align')
            tg.add_task(func=pygeoprocessing.reclassify_raster,
                        args=((aligned[1], 1), value_map, coef, pgp.GDT_Float32, OUT_NODATA),
                        kwargs={'values_required': False}, target_path_list=[coef],
                        task_name='reclassify')
            tg.add_task(func=pygeoprocessing.raster_calculator,
                        args=({'dem': (aligned[0], 1), 'precip': (aligned[2], 1),
                               'coef': (coef, 1)}, 'precip * coef * (1 + dem / 1000)', runoff,
                              pgp.GDT_Float32, OUT_NODATA),
                        target_path_list=[runoff], task_name='calc')
            zonal_task = tg.add_task(func=pygeoprocessing.zonal_statistics,
                                     args=((runoff, 1), zones), store_result=True,
                                     task_name='zonal')
            tg.close()
            tg.join()
            with open(zonal, 'w') as f:
                json.dump({str(k): v for k, v in zonal_task.get().items()}, f, sort_keys=True)

        def run():
            if name == 'pipeline_native':
                return run_native()
            tg = taskgraph.TaskGraph(p('taskgraph_cache'), -1)
            a = tg.add_task(func=tg_align, args=([d['dem'], d['landcover'], d['precip']],
                                                 aligned),
                            target_path_list=aligned, task_name='align')
            c = tg.add_task(func=tg_calc, args=(*aligned, table, runoff),
                            target_path_list=[runoff], dependent_task_list=[a],
                            task_name='calc')
            tg.add_task(func=tg_zonal, args=(runoff, zones, zonal), target_path_list=[zonal],
                        dependent_task_list=[c], task_name='zonal')
            tg.close()
            tg.join()

        phases = {}
        for phase in ('cold', 'cached', 'changed'):
            if phase == 'changed':
                write_table(table, {**TABLE, 3: 0.9})
            t = time.perf_counter()
            run()
            phases[phase] = time.perf_counter() - t
        return phases['cold'], {'runoff': runoff, 'zonal': zonal}, phases
    raise SystemExit(f'unknown case {name!r}')


def peer_python():
    venv = os.environ.get('PGP_PEER_VENV', os.path.expanduser('~/.cache/pgp-peer/venv'))
    return os.path.join(venv, 'bin', 'python')


def peer_case(name, data, out):
    peer_name = {'calc_simple_expr': 'calc_simple', 'pipeline_native': 'pipeline'}.get(name, name)
    done = subprocess.run([peer_python(), os.path.join(HERE, 'peer_cases.py'), peer_name,
                           '--data', data, '--out', out, '--workers', '2'],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f'peer case {peer_name} failed:\n{done.stderr}')
    row = json.loads(done.stdout.strip().splitlines()[-1])
    return row['seconds'], row['outputs'], row['phases']


def check(name, ours, peers):
    """Raises unless every pgp output equals the peer's."""
    for key, path in ours.items():
        if path.endswith('.json'):
            with open(path) as f:
                a = json.load(f)
            with open(peers[key]) as f:
                b = json.load(f)
            assert set(a) == set(b), f'{name}: zonal feature ids differ'
            for fid in a:
                for k in ('count', 'nodata_count'):
                    assert a[fid][k] == b[fid][k], (name, fid, k)
                assert numpy.isclose(a[fid]['sum'], b[fid]['sum'], rtol=1e-5), (name, fid)
            continue
        x = pgp.raster_to_numpy_array(path)
        y = pgp.raster_to_numpy_array(peers[key])
        if name in ('calc_heavy', 'pipeline_native'):
            assert numpy.array_equal(x == OUT_NODATA, y == OUT_NODATA), f'{name}: {key} nodata'
            assert numpy.allclose(x, y, rtol=1e-5, atol=1e-4), f'{name}: {key} differs'
        else:
            assert numpy.array_equal(x, y), f'{name}: {key} differs from the peer'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--size', type=int, default=2048)
    ap.add_argument('--repeat', type=int, default=1)
    ap.add_argument('--out', default='bench-out/python')
    ap.add_argument('--cases',
                    default='calc_simple,calc_simple_expr,calc_heavy,pipeline,pipeline_native')
    ap.add_argument('--jsonl', default=None, help='append one JSON row per case here')
    args = ap.parse_args()
    data = os.path.join(args.out, f'data-{args.size}')
    if not os.path.exists(os.path.join(data, 'zones.gpkg')):
        pgp.sample_data(data, args.size, 1)
    d = {k: os.path.join(data, f) for k, f in [
        ('dem', 'dem.tif'), ('weight', 'weight.tif'), ('landcover', 'landcover.tif'),
        ('precip', 'precip.tif'), ('zones', 'zones.gpkg')]}
    print(f'{args.size} x {args.size}, pgp on {EXECUTOR}, best of {args.repeat}; '
          f'uptime: {open("/proc/loadavg").read().split()[:3]}')
    print(f'{"case":18s} {"peer s":>8s} {"pgp s":>8s} {"ratio":>6s}')
    for name in args.cases.split(','):
        best_pgp, best_peer, phases_pgp, phases_peer = None, None, {}, {}
        for _ in range(args.repeat):
            ours_dir = os.path.join(args.out, 'pgp', name)
            peer_dir = os.path.join(args.out, 'peer', name)
            for folder in (ours_dir,):
                shutil.rmtree(folder, ignore_errors=True)
                os.makedirs(folder)
            peer_s, peer_out, peer_ph = peer_case(name, os.path.abspath(data), peer_dir)
            pgp_s, pgp_out, pgp_ph = pgp_case(name, d, ours_dir)
            check(name, pgp_out, peer_out)
            if best_pgp is None or pgp_s < best_pgp:
                best_pgp, phases_pgp = pgp_s, pgp_ph
            if best_peer is None or peer_s < best_peer:
                best_peer, phases_peer = peer_s, peer_ph
            for ph in pgp_ph:
                phases_pgp[ph] = min(phases_pgp.get(ph, pgp_ph[ph]), pgp_ph[ph])
                phases_peer[ph] = min(phases_peer.get(ph, peer_ph[ph]), peer_ph[ph])
        print(f'{name:18s} {best_peer:8.2f} {best_pgp:8.2f} {best_peer / best_pgp:5.1f}x')
        for ph in phases_pgp:
            print(f'  {ph:16s} {phases_peer[ph]:8.3f} {phases_pgp[ph]:8.3f} '
                  f'{phases_peer[ph] / max(phases_pgp[ph], 1e-9):5.1f}x')
        if args.jsonl:
            with open(args.jsonl, 'a') as f:
                f.write(json.dumps({'case': name, 'size': args.size, 'executor': EXECUTOR,
                                    'peer_s': best_peer, 'pgp_s': best_pgp,
                                    'phases_peer': phases_peer, 'phases_pgp': phases_pgp,
                                    'repeat': args.repeat}) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
