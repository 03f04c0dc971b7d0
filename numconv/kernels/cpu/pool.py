"""The one windowed reduction, CPU: max (with argmax) and average pooling, fixed or adaptive windows.

Window tables come from ``numconv.shapes.pool_spec`` / ``adaptive_pool_spec``: along dimension
``i``, output ``o`` reduces input indices ``first[i,o] + t*step[i]`` for ``t < count[i,o]``
(padding already removed). ``div[i,o]`` multiplies into the average's divisor.
Indices are flat positions in the (D, H, W) plane, as PyTorch returns them.
Shapes: ``x`` (N, C, D, H, W), ``y``/``idx`` (N, C, OD, OH, OW).
"""
import numpy as np
from numba import prange

from . import inline, kernel, part_range, plane_parts


def max_pool_forward(y, idx, x, first, count, step):
    """y[n,c,p] = max over the window of p of x[n,c,.]; idx the flat position of that max, the first
    in row-major order (NaN wins, the last NaN). An ``idx`` of size 0 asks for the values alone.

    Every variant is separable, so its inner loops run along contiguous rows: per output row it
    reduces down each input column over the window's rows, then each output reduces its window's
    columns of that. With indices, float32 goes through 64-bit keys (``_key32``) whose plain
    maximum is the scan's choice; float64 tracks the winning row beside each column maximum.
    """
    if idx.size == 0:
        _max_values(y, x, first, count, step)
    elif x.dtype == np.float32:
        _max_keys32(y, idx, x, first, count, step)
    else:
        _max_rows(y, idx, x, first, count, step)


@kernel
def _max_values(y, x, first, count, step):
    N, C, OD, OH, OW = y.shape
    W = x.shape[4]
    sd, sh, sw = step
    P = N * C
    parts = plane_parts(P)
    for part in prange(parts):  # buffers allocated once per part, not per plane
        col = np.empty(W, x.dtype)
        for t in range(*part_range(part, parts, P)):
            n = t // C
            c = t % C
            xc = x[n, c]
            for od in range(OD):
                fd, cd = first[0, od], count[0, od]
                for oh in range(OH):
                    fh, ch = first[1, oh], count[1, oh]
                    col[:] = xc[fd, fh]
                    for a in range(cd):
                        for b in range(1 if a == 0 else 0, ch):
                            xr = xc[fd + a * sd, fh + b * sh]
                            for w in range(W):
                                v = xr[w]
                                col[w] = v if (v > col[w]) | (v != v) else col[w]
                    yr = y[n, c, od, oh]
                    for ow in range(OW):
                        fw, cw = first[2, ow], count[2, ow]
                        best = col[fw]
                        for e in range(1, cw):
                            v = col[fw + e * sw]
                            best = v if (v > best) | (v != v) else best
                        yr[ow] = best


_LOW = np.uint64(0xFFFFFFFF)
_SIGN = np.uint64(0x80000000)
_ABS = np.uint64(0x7FFFFFFF)
_INF = np.uint64(0x7F800000)
_HALF = np.uint64(32)


@inline
def _key32(bits, pos):
    """A 64-bit key for the float32 with these ``bits`` at flat position ``pos``: the value's order in
    the high half (-0.0 as +0.0, every NaN above +inf), and in the low half the position reversed
    (the first of equal values wins) or, for NaN, as is (the last NaN wins). Its maximum over a
    window is the row-major scan's choice, and 0 is below every key."""
    u = np.uint64(bits)
    u = np.uint64(0) if u == _SIGN else u
    order = (u ^ _LOW) if (u & _SIGN) else (u | _SIGN)
    if (u & _ABS) > _INF:
        return (_LOW << _HALF) | pos
    return (order << _HALF) | (_LOW - pos)


@kernel
def _max_keys32(y, idx, x, first, count, step):
    N, C, OD, OH, OW = y.shape
    H, W = x.shape[3], x.shape[4]
    sd, sh, sw = step
    P = N * C
    parts = plane_parts(P)
    for part in prange(parts):  # buffers allocated once per part, not per plane
        col = np.empty(W, np.uint64)
        for t in range(*part_range(part, parts, P)):
            n = t // C
            c = t % C
            xc = x[n, c]
            bits = xc.view(np.uint32)
            flat = xc.ravel()
            for od in range(OD):
                fd, cd = first[0, od], count[0, od]
                for oh in range(OH):
                    fh, ch = first[1, oh], count[1, oh]
                    col[:] = 0
                    for a in range(cd):
                        i0 = fd + a * sd
                        for b in range(ch):
                            i1 = fh + b * sh
                            br = bits[i0, i1]
                            base = np.uint64((i0 * H + i1) * W)
                            for w in range(W):
                                col[w] = max(col[w], _key32(br[w], base + np.uint64(w)))
                    yr = y[n, c, od, oh]
                    ir = idx[n, c, od, oh]
                    for ow in range(OW):
                        fw, cw = first[2, ow], count[2, ow]
                        best = col[fw]
                        for e in range(1, cw):
                            best = max(best, col[fw + e * sw])
                        low = best & _LOW
                        pos = low if (best >> _HALF) == _LOW else _LOW - low
                        ir[ow] = pos
                        yr[ow] = flat[pos]


@kernel
def _max_rows(y, idx, x, first, count, step):
    """Column maxima with the row each came from; among equal column maxima the earliest row wins
    (then the leftmost), among NaNs the latest row (then the rightmost): the row-major scan's choice."""
    N, C, OD, OH, OW = y.shape
    H, W = x.shape[3], x.shape[4]
    sd, sh, sw = step
    P = N * C
    parts = plane_parts(P)
    for part in prange(parts):  # buffers allocated once per part, not per plane
        col = np.empty(W, x.dtype)
        row_of = np.empty(W, np.int64)
        for t in range(*part_range(part, parts, P)):
            n = t // C
            c = t % C
            xc = x[n, c]
            for od in range(OD):
                fd, cd = first[0, od], count[0, od]
                for oh in range(OH):
                    fh, ch = first[1, oh], count[1, oh]
                    col[:] = xc[fd, fh]
                    row_of[:] = fd * H + fh
                    for a in range(cd):
                        i0 = fd + a * sd
                        for b in range(1 if a == 0 else 0, ch):
                            i1 = fh + b * sh
                            r = i0 * H + i1
                            xr = xc[i0, i1]
                            for w in range(W):
                                v = xr[w]
                                if v > col[w] or v != v:
                                    col[w] = v
                                    row_of[w] = r
                    for ow in range(OW):
                        fw, cw = first[2, ow], count[2, ow]
                        best, br, bw = col[fw], row_of[fw], fw
                        for e in range(1, cw):
                            w = fw + e * sw
                            v, r = col[w], row_of[w]
                            if v != v:
                                if best == best or r >= br:
                                    best, br, bw = v, r, w
                            elif v > best or (v == best and r < br):
                                best, br, bw = v, r, w
                        y[n, c, od, oh, ow] = best
                        idx[n, c, od, oh, ow] = br * W + bw


def _whole_plane(y_shape, x_shape, count):
    """Whether there is one window and it covers the whole plane (global pooling)."""
    return (y_shape[2] * y_shape[3] * y_shape[4] == 1
            and count[0, 0] * count[1, 0] * count[2, 0] == x_shape[2] * x_shape[3] * x_shape[4])


def _divisor(div, override):
    return override if override != 0 else div[0, 0] * div[1, 0] * div[2, 0]


def avg_pool_forward(y, x, first, count, step, div, override):
    """y[n,c,p] = sum over the window of p of x[n,c,.] / divisor(p); a non-zero ``override`` replaces the divisor.

    Separable as ``max_pool_forward``: column sums over the window's rows (in the input's dtype: a
    window has few rows), then each output sums its window's columns in float64. Global pooling
    sums each contiguous plane in one loop.
    """
    if _whole_plane(y.shape, x.shape, count):
        P = y.shape[0] * y.shape[1]
        _plane_means(y.reshape(P), x.reshape(P, -1), _divisor(div, override))
    else:
        _avg_windows(y, x, first, count, step, div, override)


@kernel
def _plane_means(y, x, dv):
    for t in prange(x.shape[0]):
        xr = x[t]
        s = 0.0
        for i in range(xr.size):
            s += xr[i]
        y[t] = s / dv


@kernel
def _plane_fill(gx, gy, dv):
    for t in prange(gx.shape[0]):
        gx[t, :] = gy[t] / dv


@kernel
def _avg_windows(y, x, first, count, step, div, override):
    N, C, OD, OH, OW = y.shape
    W = x.shape[4]
    sd, sh, sw = step
    P = N * C
    parts = plane_parts(P)
    for part in prange(parts):  # buffers allocated once per part, not per plane
        col = np.empty(W, x.dtype)
        for t in range(*part_range(part, parts, P)):
            n = t // C
            c = t % C
            xc = x[n, c]
            for od in range(OD):
                fd, cd = first[0, od], count[0, od]
                for oh in range(OH):
                    fh, ch = first[1, oh], count[1, oh]
                    col[:] = 0.0
                    for a in range(cd):
                        for b in range(ch):
                            xr = xc[fd + a * sd, fh + b * sh]
                            for w in range(W):
                                col[w] += xr[w]
                    for ow in range(OW):
                        fw, cw = first[2, ow], count[2, ow]
                        s = 0.0
                        for e in range(cw):
                            s += col[fw + e * sw]
                        dv = override if override != 0 else div[0, od] * div[1, oh] * div[2, ow]
                        y[n, c, od, oh, ow] = s / dv


def avg_pool_backward(gx, gy, first, count, step, div, override, cover_first, cover_count):
    """gx[n,c,i] = sum over windows p containing i of gy[n,c,p] / divisor(p) (one thread per plane;
    the cover tables are the CUDA gather's and go unused here).

    Per output row, the row's gradients spread along the columns into ``spread``, which is then
    added to each input row of the window. Global pooling fills each plane with its one value.
    """
    if _whole_plane(gy.shape, gx.shape, count):
        P = gy.shape[0] * gy.shape[1]
        _plane_fill(gx.reshape(P, -1), gy.reshape(P), _divisor(div, override))
    else:
        _avg_backward_windows(gx, gy, first, count, step, div, override)


@kernel
def _avg_backward_windows(gx, gy, first, count, step, div, override):
    N, C, OD, OH, OW = gy.shape
    W = gx.shape[4]
    sd, sh, sw = step
    P = N * C
    parts = plane_parts(P)
    for part in prange(parts):  # buffers allocated once per part, not per plane
        spread = np.empty(W, gx.dtype)
        for t in range(*part_range(part, parts, P)):
            n = t // C
            c = t % C
            gc = gx[n, c]
            gc[:] = 0.0
            for od in range(OD):
                fd, cd = first[0, od], count[0, od]
                for oh in range(OH):
                    fh, ch = first[1, oh], count[1, oh]
                    spread[:] = 0.0
                    for ow in range(OW):
                        fw, cw = first[2, ow], count[2, ow]
                        dv = override if override != 0 else div[0, od] * div[1, oh] * div[2, ow]
                        g = gy[n, c, od, oh, ow] / dv
                        for e in range(cw):
                            spread[fw + e * sw] += g
                    for a in range(cd):
                        for b in range(ch):
                            gr = gc[fd + a * sd, fh + b * sh]
                            for w in range(W):
                                gr[w] += spread[w]


def max_pool_backward(gx, gy, idx, cover_first, cover_count):
    """gx[n,c,i] = sum of gy[n,c,p] over the outputs p whose index idx[n,c,p] names i: a scatter,
    one thread per plane (the cover tables are the CUDA gather's and go unused here)."""
    N, C = gy.shape[0], gy.shape[1]
    scatter_plane(gx.reshape(N, C, -1), gy.reshape(N, C, -1), idx.reshape(N, C, -1), True)


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
