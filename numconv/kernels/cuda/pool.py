"""The one windowed reduction, CUDA: max (with argmax) and average pooling, fixed or adaptive windows.

Window tables come from ``numconv.shapes.pool_spec`` / ``adaptive_pool_spec``: along dimension
``i``, output ``o`` reduces input indices ``first[i,o] + t*step[i]`` for ``t < count[i,o]``
(padding already removed). ``div[i,o]`` multiplies into the average's divisor.
Indices are flat positions in the (D, H, W) plane, as PyTorch returns them.
Shapes: ``x`` (N, C, D, H, W), ``y``/``idx`` (N, C, OD, OH, OW).
Each launcher has the name and signature of its CPU twin in ``numconv.kernels.cpu.pool``.
Backward passes are gathers or one thread per plane: no atomics, deterministic results.
"""
import math

from numba import cuda

from . import in_window, jit, launch, unravel5


def max_pool_forward(y, idx, x, first, count, step):
    """y[n,c,p] = max over the window of p of x[n,c,.]; idx the flat position of that max (NaN wins).
    An ``idx`` of size 0 asks for the values alone."""
    launch(_max_pool_forward, y.size, y, idx, x, first, count, *step)


@jit
def _max_pool_forward(y, idx, x, first, count, sd, sh, sw):
    t = cuda.grid(1)
    if t >= y.size:
        return
    C, OD, OH, OW = y.shape[1], y.shape[2], y.shape[3], y.shape[4]
    H, W = x.shape[3], x.shape[4]
    n, c, od, oh, ow = unravel5(t, C, OD, OH, OW)
    fd, cd = first[0, od], count[0, od]
    fh, ch = first[1, oh], count[1, oh]
    fw, cw = first[2, ow], count[2, ow]
    best = x.dtype.type(-math.inf)
    bi = (fd * H + fh) * W + fw
    for a in range(cd):
        i0 = fd + a * sd
        for e in range(ch):
            i1 = fh + e * sh
            for f in range(cw):
                i2 = fw + f * sw
                v = x[n, c, i0, i1, i2]
                if v > best or v != v:
                    best = v
                    bi = (i0 * H + i1) * W + i2
    y[n, c, od, oh, ow] = best
    if idx.size > 0:
        idx[n, c, od, oh, ow] = bi


def avg_pool_forward(y, x, first, count, step, div, override):
    """y[n,c,p] = sum over the window of p of x[n,c,.] / divisor(p); ``override`` > 0 replaces the divisor."""
    launch(_avg_pool_forward, y.size, y, x, first, count, *step, div, override)


@jit
def _avg_pool_forward(y, x, first, count, sd, sh, sw, div, override):
    t = cuda.grid(1)
    if t >= y.size:
        return
    C, OD, OH, OW = y.shape[1], y.shape[2], y.shape[3], y.shape[4]
    n, c, od, oh, ow = unravel5(t, C, OD, OH, OW)
    fd, cd = first[0, od], count[0, od]
    fh, ch = first[1, oh], count[1, oh]
    fw, cw = first[2, ow], count[2, ow]
    s = 0.0
    for a in range(cd):
        for e in range(ch):
            for f in range(cw):
                s += x[n, c, fd + a * sd, fh + e * sh, fw + f * sw]
    dv = override if override != 0 else div[0, od] * div[1, oh] * div[2, ow]
    y[n, c, od, oh, ow] = s / dv


def avg_pool_backward(gx, gy, first, count, step, div, override):
    """gx[n,c,i] = sum over windows p containing i of gy[n,c,p] / divisor(p)

    One thread per ``gx`` element scans each dimension's windows for those holding its index.
    """
    launch(_avg_pool_backward, gx.size, gx, gy, first, count, *step, div, override)


@jit
def _avg_pool_backward(gx, gy, first, count, sd, sh, sw, div, override):
    t = cuda.grid(1)
    if t >= gx.size:
        return
    C, D, H, W = gx.shape[1], gx.shape[2], gx.shape[3], gx.shape[4]
    OD, OH, OW = gy.shape[2], gy.shape[3], gy.shape[4]
    n, c, i0, i1, i2 = unravel5(t, C, D, H, W)
    s = 0.0
    for od in range(OD):
        if not in_window(i0, first[0, od], count[0, od], sd):
            continue
        for oh in range(OH):
            if not in_window(i1, first[1, oh], count[1, oh], sh):
                continue
            for ow in range(OW):
                if not in_window(i2, first[2, ow], count[2, ow], sw):
                    continue
                dv = override if override != 0 else div[0, od] * div[1, oh] * div[2, ow]
                s += gy[n, c, od, oh, ow] / dv
    gx[n, c, i0, i1, i2] = s


def scatter_plane(out, src, idx, accumulate):
    """out[n,c].flat[idx[n,c,p]] (+)= src[n,c,p]: max-pool backward (accumulate) and max-unpool (assign).

    Positions no index names are zero. A zero fill, then one thread per (n, c) plane walks the
    plane's indices in order, so the result is deterministic (with repeated indices and
    ``accumulate`` False, the last one in row-major order wins). Indices outside the plane are
    skipped rather than written out of bounds; ``numconv.functional`` rejects them beforehand.
    """
    launch(_zero3, out.size, out)
    launch(_scatter_plane, src.shape[0] * src.shape[1], out, src, idx, accumulate)


@jit
def _zero3(out):
    t = cuda.grid(1)
    if t >= out.size:
        return
    C, P = out.shape[1], out.shape[2]
    p = t % P
    r = t // P
    out[r // C, r % C, p] = 0


@jit
def _scatter_plane(out, src, idx, accumulate):
    t = cuda.grid(1)
    C, P, Q = src.shape[1], src.shape[2], out.shape[2]
    if t >= src.shape[0] * C:
        return
    n = t // C
    c = t % C
    for p in range(P):
        k = idx[n, c, p]
        if k >= 0 and k < Q:
            if accumulate:
                out[n, c, k] += src[n, c, p]
            else:
                out[n, c, k] = src[n, c, p]


def gather_plane(out, src, idx):
    """out[n,c,p] = src[n,c].flat[idx[n,c,p]]: the max-unpool backward (zero for an index outside the plane)."""
    launch(_gather_plane, out.size, out, src, idx)


@jit
def _gather_plane(out, src, idx):
    t = cuda.grid(1)
    if t >= out.size:
        return
    C, P, Q = out.shape[1], out.shape[2], src.shape[2]
    n, _, _, c, p = unravel5(t, 1, 1, C, P)
    k = idx[n, c, p]
    if k >= 0 and k < Q:
        out[n, c, p] = src[n, c, k]
    else:
        out[n, c, p] = 0
