"""The one windowed reduction, CPU: max (with argmax) and average pooling, fixed or adaptive windows.

Window tables come from ``numconv.shapes.pool_spec`` / ``adaptive_pool_spec``: along dimension
``i``, output ``o`` reduces input indices ``first[i,o] + t*step[i]`` for ``t < count[i,o]``
(padding already removed). ``div[i,o]`` multiplies into the average's divisor.
Indices are flat positions in the (D, H, W) plane, as PyTorch returns them.
Shapes: ``x`` (N, C, D, H, W), ``y``/``idx`` (N, C, OD, OH, OW).
"""
from numba import prange

from . import kernel


@kernel
def max_pool_forward(y, idx, x, first, count, step):
    """y[n,c,p] = max over the window of p of x[n,c,.]; idx the flat position of that max (NaN wins)."""
    N, C, OD, OH, OW = y.shape
    H, W = x.shape[3], x.shape[4]
    sd, sh, sw = step
    for t in prange(N * C):
        n = t // C
        c = t % C
        xc = x[n, c]
        for od in range(OD):
            fd, cd = first[0, od], count[0, od]
            for oh in range(OH):
                fh, ch = first[1, oh], count[1, oh]
                for ow in range(OW):
                    fw, cw = first[2, ow], count[2, ow]
                    best = -float("inf")
                    bi = (fd * H + fh) * W + fw
                    for a in range(cd):
                        i0 = fd + a * sd
                        for b in range(ch):
                            i1 = fh + b * sh
                            for e in range(cw):
                                i2 = fw + e * sw
                                v = xc[i0, i1, i2]
                                if v > best or v != v:
                                    best = v
                                    bi = (i0 * H + i1) * W + i2
                    y[n, c, od, oh, ow] = best
                    idx[n, c, od, oh, ow] = bi


@kernel
def avg_pool_forward(y, x, first, count, step, div, override):
    """y[n,c,p] = sum over the window of p of x[n,c,.] / divisor(p); a non-zero ``override`` replaces the divisor."""
    N, C, OD, OH, OW = y.shape
    sd, sh, sw = step
    for t in prange(N * C):
        n = t // C
        c = t % C
        xc = x[n, c]
        for od in range(OD):
            fd, cd = first[0, od], count[0, od]
            for oh in range(OH):
                fh, ch = first[1, oh], count[1, oh]
                for ow in range(OW):
                    fw, cw = first[2, ow], count[2, ow]
                    s = 0.0
                    for a in range(cd):
                        for b in range(ch):
                            for e in range(cw):
                                s += xc[fd + a * sd, fh + b * sh, fw + e * sw]
                    dv = override if override != 0 else div[0, od] * div[1, oh] * div[2, ow]
                    y[n, c, od, oh, ow] = s / dv


@kernel
def avg_pool_backward(gx, gy, first, count, step, div, override):
    """gx[n,c,i] = sum over windows p containing i of gy[n,c,p] / divisor(p) (one thread per plane)."""
    N, C, OD, OH, OW = gy.shape
    sd, sh, sw = step
    for t in prange(N * C):
        n = t // C
        c = t % C
        gc = gx[n, c]
        gc[:] = 0.0
        for od in range(OD):
            fd, cd = first[0, od], count[0, od]
            for oh in range(OH):
                fh, ch = first[1, oh], count[1, oh]
                for ow in range(OW):
                    fw, cw = first[2, ow], count[2, ow]
                    dv = override if override != 0 else div[0, od] * div[1, oh] * div[2, ow]
                    g = gy[n, c, od, oh, ow] / dv
                    for a in range(cd):
                        for b in range(ch):
                            for e in range(cw):
                                gc[fd + a * sd, fh + b * sh, fw + e * sw] += g


@kernel
def scatter_plane(out, src, idx, accumulate):
    """out[n,c].flat[idx[n,c,p]] (+)= src[n,c,p]: max-pool backward (accumulate) and max-unpool (assign).

    Positions no index names are zero. One thread per (n, c) plane, so the result is deterministic
    (with repeated indices and ``accumulate`` False, the last one in row-major order wins).
    """
    N, C = src.shape[0], src.shape[1]
    for t in prange(N * C):
        n = t // C
        c = t % C
        o = out[n, c].ravel()
        o[:] = 0.0
        s = src[n, c].ravel()
        ix = idx[n, c].ravel()
        if accumulate:
            for p in range(s.size):
                o[ix[p]] += s[p]
        else:
            for p in range(s.size):
                o[ix[p]] = s[p]


@kernel
def gather_plane(out, src, idx):
    """out[n,c,p] = src[n,c].flat[idx[n,c,p]]: the max-unpool backward."""
    N, C = out.shape[0], out.shape[1]
    for t in prange(N * C):
        n = t // C
        c = t % C
        o = out[n, c].ravel()
        s = src[n, c].ravel()
        ix = idx[n, c].ravel()
        for p in range(o.size):
            o[p] = s[ix[p]]
