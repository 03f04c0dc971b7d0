"""Padding, CPU, for every mode at once: per-dimension source-index tables from
``numconv.shapes.pad_tables`` say where each output element comes from (-1: the constant).
Shapes: ``x`` (P, D, H, W) with all leading dimensions folded into P, ``y`` (P, OD, OH, OW).
"""
from numba import prange

from . import kernel


@kernel
def pad_forward(y, x, src_d, src_h, src_w, value):
    """y[p,i,j,k] = x[p, src_d[i], src_h[j], src_w[k]], or ``value`` where any source is -1."""
    P, OD, OH, OW = y.shape
    for t in prange(P * OD):
        p = t // OD
        i = t % OD
        a = src_d[i]
        for j in range(OH):
            b = src_h[j]
            for k in range(OW):
                e = src_w[k]
                if a < 0 or b < 0 or e < 0:
                    y[p, i, j, k] = value
                else:
                    y[p, i, j, k] = x[p, a, b, e]


@kernel
def pad_backward(gx, gy, src_d, src_h, src_w):
    """gx[p,.] = sum of gy[p,i,j,k] over outputs whose source is that element (one thread per p)."""
    P, OD, OH, OW = gy.shape
    for p in prange(P):
        g = gx[p]
        g[:] = 0.0
        for i in range(OD):
            a = src_d[i]
            if a < 0:
                continue
            for j in range(OH):
                b = src_h[j]
                if b < 0:
                    continue
                for k in range(OW):
                    e = src_w[k]
                    if e >= 0:
                        g[a, b, e] += gy[p, i, j, k]
