"""The special functions, CPU: lgamma, digamma/polygamma and erfinv over a flat array, each element
``numconv.kernels.special``'s formula (the CUDA kernel's own). Chunks of elements per thread, so a
result is the same bit for bit on any number of threads.
"""
from numba import njit, prange

from . import cached, part_range, plane_parts
from .. import special as S

_special = S.compiled(njit(error_model="numpy"))["special"]  # no fastmath: the formulas test for inf and NaN

CHUNK = 4096  # elements a thread takes at a time


@cached(parallel=True, error_model="numpy")
def special(out, x, code, n):
    """out = f(x) elementwise over flat (P,) arrays, f the function ``code`` (``kernels.special``: LGAMMA,
    POLYGAMMA of order n, ERFINV), in float64 and stored in out's dtype."""
    parts = plane_parts((x.size + CHUNK - 1) // CHUNK)
    for part in prange(parts):
        lo, hi = part_range(part, parts, x.size)
        for i in range(lo, hi):
            out[i] = _special(code, n, float(x[i]))
