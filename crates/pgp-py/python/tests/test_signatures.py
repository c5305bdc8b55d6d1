"""The compat module's functions have pygeoprocessing's parameter names and defaults (pgp adds
only a trailing ``executor=None``), checked against the installed pygeoprocessing."""

import inspect
import json

import pytest

import pgp.compat.pygeoprocessing as pygeoprocessing
from conftest import run_peer

MODULES = {
    '': [n for n in dir(pygeoprocessing) if not n.startswith('_') and callable(
        getattr(pygeoprocessing, n)) and n not in ('GDALUseExceptions', 'gdal_use_exceptions',
                                                   'ReclassificationMissingValuesError')],
    'routing': ['fill_pits', 'flow_dir_d8', 'flow_dir_mfd', 'flow_accumulation_d8',
                'flow_accumulation_mfd', 'extract_streams_d8', 'extract_streams_mfd',
                'distance_to_channel_d8', 'distance_to_channel_mfd', 'detect_outlets',
                'detect_lowest_drain_and_sink', 'delineate_watersheds_d8',
                'extract_strahler_streams_d8', 'calculate_subwatershed_boundary'],
    'kernels': ['kernel_from_numpy_array', 'dichotomous_kernel', 'exponential_decay_kernel',
                'linear_decay_kernel', 'normal_distribution_kernel',
                'create_distance_decay_kernel'],
}


def describe(func):
    try:
        params = inspect.signature(func).parameters.values()
    except ValueError:  # Cython functions without signatures
        return None
    return [[p.name, None if p.default is inspect.Parameter.empty else repr(p.default)]
            for p in params]


def test_signatures_match_pygeoprocessing(tmp_path):
    wanted = json.dumps(MODULES)
    out = run_peer(f"""
import inspect, json, pygeoprocessing, pygeoprocessing.routing, pygeoprocessing.kernels
def describe(func):
    try:
        params = inspect.signature(func).parameters.values()
    except ValueError:
        return None
    return [[p.name, None if p.default is inspect.Parameter.empty else repr(p.default)]
            for p in params]
result = {{}}
for module, names in json.loads({wanted!r}).items():
    m = getattr(pygeoprocessing, module) if module else pygeoprocessing
    for n in names:
        result[module + '.' + n] = describe(getattr(m, n))
print(json.dumps(result))
""", tmp_path)
    peer = json.loads(out)
    mismatched = []
    for key, theirs in peer.items():
        module, name = key.split('.')
        ours = describe(getattr(getattr(pygeoprocessing, module) if module else pygeoprocessing,
                                name))
        if ours and ours[-1][0] == 'executor':
            ours = ours[:-1]
        if theirs is None:  # Cython: its docstring has the signature; names only
            continue
        # Defaults that are gdal/osr constants print differently; compare names and plain
        # (number, string, None, bool, tuple) defaults.
        for (n1, d1), (n2, d2) in zip(ours, theirs):
            plain = d2 is None or d2[0] in "0123456789-'\"(NTF"
            if n1 != n2 or (plain and d1 != d2 and not d2.startswith("('GTIFF'")):
                mismatched.append((key, n1, d1, n2, d2))
        if len(ours) != len(theirs):
            mismatched.append((key, len(ours), len(theirs)))
    assert mismatched == []
