#!/usr/bin/env python3
"""Writes plateau_reference.json: sha256 of pygeoprocessing.routing 2.4.11's flow directions on
the plateau DEMs (written by the ignored test `write_cases_for_the_peer` of
flow_dir_plateaus.rs), of each DEM and of its pit-filled copy.

    python make_plateau_reference.py CASES_DIR > plateau_reference.json

Digest: band 1's pixels, row-major, little-endian (as the peer benchmark prints them).
"""
import hashlib
import json
import os
import sys
import tempfile

from osgeo import gdal
import pygeoprocessing.routing as routing


def digest(path):
    ds = gdal.Open(path)  # kept alive while its band is read
    arr = ds.GetRasterBand(1).ReadAsArray()
    return hashlib.sha256(arr.astype(arr.dtype.newbyteorder('<')).tobytes()).hexdigest()


def run(case_dir, out):
    dem = (os.path.join(case_dir, 'dem.tif'), 1)

    def o(n):
        return os.path.join(out, n + '.tif')
    routing.fill_pits(dem, o('filled'), working_dir=out)
    routing.flow_dir_d8((o('filled'), 1), o('d8'), working_dir=out)
    routing.flow_dir_mfd((o('filled'), 1), o('mfd'), working_dir=out)
    routing.flow_dir_d8(dem, o('d8_raw'), working_dir=out)
    routing.flow_dir_mfd(dem, o('mfd_raw'), working_dir=out)
    return {n: digest(o(n)) for n in ['d8', 'mfd', 'd8_raw', 'mfd_raw']}


def main():
    cases_dir = sys.argv[1]
    result = {}
    for case in sorted(os.listdir(cases_dir)):
        with tempfile.TemporaryDirectory() as out:
            result[case] = run(os.path.join(cases_dir, case), out)
    print(json.dumps(result, indent=2, sort_keys=True))


if __name__ == '__main__':
    main()
