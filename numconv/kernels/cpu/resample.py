"""Resampling along one axis, CPU: a sparse matrix applied to the middle axis of (P, N, R) arrays.

``interpolate`` in every mode is, along each spatial axis, out[j] = sum_k w_k * in[i_k] with the
taps (i_k, w_k) of output j listed in compressed rows (``numconv.shapes.resample_table``): one
tap for nearest, two for linear, four for cubic. Its gradient is the transposed matrix, applied
by the same kernel with the transposed table, so the backward is a gather as well.
"""
from numba import prange

from . import kernel


@kernel
def resample(out, a, ptr, idx, wts):
    """out[p, j, r] = sum over k in [ptr[j], ptr[j+1]) of wts[k] * a[p, idx[k], r], in k order.

    out (P, M, R), a (P, N, R); ptr (M + 1,), idx and wts (ptr[M],); wts of out's dtype. Along the
    last axis (R = 1) each output is one short sum; otherwise each tap adds a whole row of R, one
    vector loop.
    """
    P, M, R = out.shape
    for pj in prange(P * M):
        p, j = pj // M, pj % M
        lo, hi = ptr[j], ptr[j + 1]
        if R == 1:
            acc = out.dtype.type(0)
            for k in range(lo, hi):
                acc += wts[k] * a[p, idx[k], 0]
            out[p, j, 0] = acc
            continue
        for r in range(R):
            out[p, j, r] = 0
        for k in range(lo, hi):
            w, i = wts[k], idx[k]
            for r in range(R):
                out[p, j, r] += w * a[p, i, r]
