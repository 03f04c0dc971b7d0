"""Padding, CUDA, for every mode at once: per-dimension source-index tables from
``numconv.shapes.pad_tables`` say where each output element comes from (-1: the constant).
Shapes: ``x`` (P, D, H, W) with all leading dimensions folded into P, ``y`` (P, OD, OH, OW).
Each launcher has the name and signature of its CPU twin in ``numconv.kernels.cpu.pad``.
"""
from numba import cuda

from . import jit, launch, unravel5


def pad_forward(y, x, src_d, src_h, src_w, value):
    """y[p,i,j,k] = x[p, src_d[i], src_h[j], src_w[k]], or ``value`` where any source is -1."""
    launch(_pad_forward, y.size, y, x, src_d, src_h, src_w, value)


@jit
def _pad_forward(y, x, src_d, src_h, src_w, value):
    t = cuda.grid(1)
    if t >= y.size:
        return
    OD, OH, OW = y.shape[1], y.shape[2], y.shape[3]
    p, _, i, j, k = unravel5(t, 1, OD, OH, OW)
    a, b, e = src_d[i], src_h[j], src_w[k]
    if a < 0 or b < 0 or e < 0:
        y[p, i, j, k] = value
    else:
        y[p, i, j, k] = x[p, a, b, e]


def pad_backward(gx, gy, src_d, src_h, src_w):
    """gx[p,a,b,e] = sum of gy[p,i,j,k] over (i, j, k) with src_d[i] = a, src_h[j] = b, src_w[k] = e

    One thread per ``gx`` element scans the tables for the outputs copied from it.
    """
    launch(_pad_backward, gx.size, gx, gy, src_d, src_h, src_w)


@jit
def _pad_backward(gx, gy, src_d, src_h, src_w):
    t = cuda.grid(1)
    if t >= gx.size:
        return
    D, H, W = gx.shape[1], gx.shape[2], gx.shape[3]
    OD, OH, OW = gy.shape[1], gy.shape[2], gy.shape[3]
    p, _, a, b, e = unravel5(t, 1, D, H, W)
    acc = gx.dtype.type(0)
    for i in range(OD):
        if src_d[i] != a:
            continue
        for j in range(OH):
            if src_h[j] != b:
                continue
            for k in range(OW):
                if src_w[k] == e:
                    acc += gy[p, i, j, k]
    gx[p, a, b, e] = acc
