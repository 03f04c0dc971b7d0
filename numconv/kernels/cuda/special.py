"""The special functions, CUDA: lgamma, digamma/polygamma and erfinv, a thread per element, each
``numconv.kernels.special``'s formula (the CPU kernel's own) as a device function.
"""
from numba import cuda

from .. import special as S
from . import jit, launch

_special = S.compiled(cuda.jit(device=True))["special"]


def special(out, x, code, n):
    """out = f(x) over flat (P,) arrays, f the function ``code`` (``kernels.special``), in float64."""
    launch(_special_kernel, out.size, out, x, code, n)


@jit
def _special_kernel(out, x, code, n):
    t = cuda.grid(1)
    if t < out.size:
        out[t] = _special(code, n, float(x[t]))
