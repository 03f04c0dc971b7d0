"""Resampling along one axis, CUDA: the twin of ``numconv.kernels.cpu.resample``, one thread per
output element summing its taps in table order (so forward and backward are gathers, with the
CPU's sums in the CPU's order)."""
from numba import cuda

from . import jit, launch


def resample(out, a, ptr, idx, wts):
    """out[p, j, r] = sum over k in [ptr[j], ptr[j+1]) of wts[k] * a[p, idx[k], r]; out (P, M, R), a (P, N, R)."""
    launch(_resample, out.size, out, a, ptr, idx, wts)


@jit
def _resample(out, a, ptr, idx, wts):
    t = cuda.grid(1)
    if t >= out.size:
        return
    M, R = out.shape[1], out.shape[2]
    r = t % R
    pj = t // R
    j = pj % M
    p = pj // M
    acc = out.dtype.type(0)
    for k in range(ptr[j], ptr[j + 1]):
        acc += wts[k] * a[p, idx[k], r]
    out[p, j, r] = acc
