"""Regenerates test/npy/fixtures/*.npy with real numpy (run: python3 test/npy/make-fixtures.py).
The tests check lutc's reader against these files and against the values recomputed here in the test
(arange-based, so the test knows the expected contents without numpy)."""
import os
import numpy as np
from numpy.lib import format as npf

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures')
os.makedirs(here, exist_ok=True)
a = np.arange(24).reshape(2, 3, 4)
cases = {
    'f4_le': a.astype('<f4') / 8,
    'f4_be': (a / 8).astype('>f4'),
    'f8_be': (a / 8).astype('>f8'),
    'f2_le': (a / 8).astype('<f2'),
    'i8_le': (a - 12).astype('<i8'),
    'i8_be': (a - 12).astype('>i8'),
    'u2_be': a.astype('>u2'),
    'i1': (a - 12).astype('i1'),
    'u1': a.astype('u1'),
    'b1': (a % 3 == 0),
    'f4_fortran': np.asfortranarray(a.astype('<f4') / 8),
    'scalar_f4': np.array(2.5, dtype='<f4'),
    'empty_f4': np.zeros((0, 3), dtype='<f4'),
}
for name, arr in cases.items():
    np.save(os.path.join(here, name + '.npy'), arr)
for version in [(2, 0), (3, 0)]:
    with open(os.path.join(here, 'f4_v%d.npy' % version[0]), 'wb') as f:
        npf.write_array(f, a.astype('<f4') / 8, version=version)
