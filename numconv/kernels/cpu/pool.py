"""The one windowed reduction, CPU: max (with argmax) and average pooling, fixed or adaptive windows.

Window tables come from ``numconv.shapes.pool_spec`` / ``adaptive_pool_spec``: along dimension
``i``, output ``o`` reduces input indices ``first[i,o] + t*step[i]`` for ``t < count[i,o]``
(padding already removed). ``div[i,o]`` multiplies into the average's divisor.
Indices are flat positions in the (D, H, W) plane, as PyTorch returns them.
Shapes: ``x`` (N, C, D, H, W), ``y``/``idx`` (N, C, OD, OH, OW).
"""
import numpy as np
from numba import prange

from .. import indexing
from . import inline, kernel, part_range, plane_parts

in_window = inline(indexing.in_window)
window_argmax = inline(indexing.window_argmax)


@inline
def _combine(acc, v, take_max):
    """One more tap into a window's reduction: the sum, or the maximum where NaN wins (for the
    64-bit keys of ``_key32``, whose ``v != v`` is never true, the plain maximum)."""
    if take_max:
        return v if (v > acc) | (v != v) else acc
    return acc + v


@inline
def _full_run(first, count):
    """The longest run ``[lo, hi)`` of outputs along one dimension whose windows all have the most
    taps ``K`` and start ``S`` apart: ``(lo, hi, S, K)``. Padding and ``ceil_mode`` clip only the
    windows at the ends, so in practice the run is every output but those."""
    n = first.size
    K = 0
    for o in range(n):
        K = max(K, count[o])
    best_lo, best_hi, best_s = 0, 0, 1
    o = 0
    while o < n:
        if count[o] != K:
            o += 1
            continue
        lo = o
        s = first[o + 1] - first[o] if o + 1 < n and count[o + 1] == K else 1
        o += 1
        while o < n and count[o] == K and first[o] - first[o - 1] == s:
            o += 1
        if o - lo > best_hi - best_lo:
            best_lo, best_hi, best_s = lo, o, s
    return best_lo, best_hi, best_s, K


@inline
def _reduce_one(acc, col, first, count, dil, o, take_max):
    """acc[o] from its window's columns, one by one."""
    a = col[first[o]]
    for e in range(1, count[o]):
        a = _combine(a, col[first[o] + e * dil], take_max)
    acc[o] = a


@inline
def _spread_one(dst, g, first, count, dil, o):
    """g[o] into its window's columns of ``dst``, one by one."""
    for e in range(count[o]):
        dst[first[o] + e * dil] += g[o]


@inline
def _fold_into(acc, src, take_max):
    """acc[i] combined with src[i]."""
    for i in range(acc.size):
        acc[i] = _combine(acc[i], src[i], take_max)


@inline
def _add_into(dst, src):
    """dst[i] += src[i]."""
    for i in range(src.size):
        dst[i] += src[i]


@inline
def _run_span(n, K, dil):
    """How many columns ``n`` windows of ``K`` taps ``dil`` apart, starting 2 apart, cover."""
    return 2 * (n - 1) + (K - 1) * dil + 1


# Windows 2 apart (the usual pooling stride) read and write every other column. A loop that does
# that vectorizes only as gathers, or not at all for the adds, so both directions go through
# ``phases`` (2, >= W//2 + 1): the even and odd columns of the run, split or merged by one loop
# that touches every column, in between which tap ``e`` is a contiguous loop over phase
# ``e*dil % 2`` shifted by ``e*dil // 2``.


@inline
def _reduce_columns(acc, col, first, count, dil, run, phases, take_max):
    """acc[o] = the sum (or maximum) of ``col[first[o] + e*dil]`` for ``e < count[o]``, in tap order.

    Outputs outside the ``_full_run``, and every output when its windows start 0 or 3 or more
    apart, reduce one by one; inside the run at stride 1 or 2, tap ``e`` of every window is folded in by one
    contiguous loop over ``col`` shifted by ``e*dil``, or over a phase of it at stride 2.
    """
    lo, hi, S, K = run
    if S != 1 and S != 2:  # windows 3 or more apart, or all at one place: one by one
        lo = hi = 0
    for o in range(acc.size - (hi - lo)):  # the outputs outside the run
        _reduce_one(acc, col, first, count, dil, o if o < lo else o + hi - lo, take_max)
    if hi <= lo:
        return
    av = acc[lo:hi]
    f0 = first[lo]
    if S == 2 and K == 2 and dil == 1:  # the 2x2 stride-2 window: both taps in one pass
        cv = col[f0:f0 + 2 * av.size]
        for i in range(av.size):
            av[i] = cv[2 * i]
            av[i] = _combine(av[i], cv[2 * i + 1], take_max)
        return
    if S == 2:
        span = _run_span(av.size, K, dil)
        cv = col[f0:f0 + span]
        even, odd = phases[0], phases[1]
        for j in range(span // 2):
            even[j] = cv[2 * j]
            odd[j] = cv[2 * j + 1]
        if span % 2:
            even[span // 2] = cv[span - 1]
    for e in range(K):  # stride 1: col itself; stride 2: the phase tap e reads
        src = phases[e * dil % 2, e * dil // 2:] if S == 2 else col[f0 + e * dil:]
        if e == 0:
            for i in range(av.size):
                av[i] = src[i]
        else:
            _fold_into(av, src, take_max)


@inline
def _spread_columns(dst, g, first, count, dil, run, phases):
    """dst[first[o] + e*dil] += g[o] for every tap ``e < count[o]`` of every output ``o``: the
    adjoint of ``_reduce_columns``' sum, the same way round (stride 1 straight into ``dst``)."""
    lo, hi, S, K = run
    if S != 1 and S != 2:  # windows 3 or more apart, or all at one place: one by one
        lo = hi = 0
    for o in range(g.size - (hi - lo)):  # the outputs outside the run
        _spread_one(dst, g, first, count, dil, o if o < lo else o + hi - lo)
    if hi <= lo:
        return
    gv = g[lo:hi]
    f0 = first[lo]
    if S == 2 and K == 2 and dil == 1:
        dv = dst[f0:f0 + 2 * gv.size]
        for i in range(gv.size):
            dv[2 * i] += gv[i]
            dv[2 * i + 1] += gv[i]
    elif S == 2:
        span = _run_span(gv.size, K, dil)
        even, odd = phases[0], phases[1]
        even[:(span + 1) // 2] = 0.0
        odd[:(span + 1) // 2] = 0.0
        for e in range(K):
            m, q = divmod(e * dil, 2)
            _add_into(phases[q, m:], gv)
        dv = dst[f0:f0 + span]
        for j in range(span // 2):
            dv[2 * j] += even[j]
            dv[2 * j + 1] += odd[j]
        if span % 2:
            dv[span - 1] += even[span // 2]
    else:
        for e in range(K):
            _add_into(dst[f0 + e * dil:], gv)


@inline
def _reduce_rows(col, xc, fd, cd, sd, fh, ch, sh, take_max):
    """col[w] = the sum (or maximum) of ``xc[fd + a*sd, fh + b*sh, w]`` over the window's rows, in
    row-major order: the first stage of every separable reduction here."""
    col[:] = xc[fd, fh]
    for a in range(cd):
        for b in range(1 if a == 0 else 0, ch):
            xr = xc[fd + a * sd, fh + b * sh]
            for w in range(col.size):
                col[w] = _combine(col[w], xr[w], take_max)


FUSED_OUTPUTS = 32
# 2x2 max pooling with indices: rows of fewer outputs than this scan both window rows in one loop
# (LeNet-5's 14 and 5: 246 -> 178 and 167 -> 51 us); longer rows vectorize better in two (28: 1.5
# against 2.2 ms on (32, 64, 56, 56)).
SCAN_FUSED = 16


@inline
def _reduce_window(acc, col, xc, fd, cd, sd, fh, ch, sh, first, count, dil, run, phases, take_max):
    """acc[o] = the reduction over output ``o``'s window: ``_reduce_rows`` then ``_reduce_columns``;
    or, when the window has two rows and every output's window is 2 wide and 2 apart (2x2 stride-2
    pooling), both in one pass over the two rows: the same sums or maxima. That pass wins on rows
    of up to ``FUSED_OUTPUTS`` outputs, where per-loop costs dominate (LeNet-5's 14 and 5: 40% less
    time; 20 and 28: 20-40% less), and loses on long ones (56: twice the time)."""
    lo, hi, S, K = run
    if cd * ch == 2 and lo == 0 and hi == acc.size <= FUSED_OUTPUTS and S == 2 and K == 2 and dil == 1:
        x0 = xc[fd, fh][first[0]:]
        x1 = xc[fd + sd, fh][first[0]:] if cd == 2 else xc[fd, fh + sh][first[0]:]
        for i in range(acc.size):
            a = _combine(x0[2 * i], x1[2 * i], take_max)
            b = _combine(x0[2 * i + 1], x1[2 * i + 1], take_max)
            acc[i] = a
            acc[i] = _combine(acc[i], b, take_max)
    else:
        _reduce_rows(col, xc, fd, cd, sd, fh, ch, sh, take_max)
        _reduce_columns(acc, col, first, count, dil, run, phases, take_max)


def max_pool_forward(y, idx, x, first, count, step):
    """y[n,c,p] = max over the window of p of x[n,c,.]; idx the flat position of that max, the first
    in row-major order (NaN wins, the last NaN). An ``idx`` of size 0 asks for the values alone.

    Every variant is separable, so its inner loops run along contiguous rows: per output row it
    reduces down each input column over the window's rows, then each output reduces its window's
    columns of that. With indices, float32 goes through 64-bit keys (``_key32``) whose plain
    maximum is the scan's choice; float64 tracks the winning row beside each column maximum. When a
    row's full windows are 2 wide and 2 apart (2x2 stride-2 pooling, any dtype), ``_max_scan`` runs
    the scan itself, window row by window row, as a vector loop over the outputs.
    """
    if idx.size == 0:
        _max_values(y, x, first, count, step)
    elif _two_by_two(first[2], count[2], step[2]):
        _max_scan(y, idx, x, first, count, step)
    elif x.dtype == np.float32:
        _max_keys32(y, idx, x, first, count, step)
    else:
        _max_rows(y, idx, x, first, count, step)


@kernel
def _max_values(y, x, first, count, step):
    N, C, OD, OH, OW = y.shape
    W = x.shape[4]
    sd, sh, sw = step
    run = _full_run(first[2], count[2])
    P = N * C
    parts = plane_parts(P)
    for part in prange(parts):  # buffers allocated once per part, not per plane
        col = np.empty(W, x.dtype)
        phases = np.empty((2, W // 2 + 1), x.dtype)
        for t in range(*part_range(part, parts, P)):
            n = t // C
            c = t % C
            xc = x[n, c]
            for od in range(OD):
                fd, cd = first[0, od], count[0, od]
                for oh in range(OH):
                    _reduce_window(y[n, c, od, oh], col, xc, fd, cd, sd, first[1, oh], count[1, oh], sh,
                                   first[2], count[2], sw, run, phases, True)


@inline
def _better(best, at, v, p):
    """One step of the row-major scan: (v, p) replaces (best, at) if larger, or NaN (the last NaN wins)."""
    take = (v > best) | (v != v)
    return (v if take else best), (p if take else at)


@inline
def _scan_one(yr, ir, xr, base, first, count, dil, o, start):
    """Output ``o``'s window columns of one input row ``xr`` (flat position ``base``) into the scan."""
    best, at = yr[o], ir[o]
    for e in range(count[o]):
        w = first[o] + e * dil
        if start and e == 0:
            best, at = xr[w], base + w
        else:
            best, at = _better(best, at, xr[w], base + w)
    yr[o], ir[o] = best, at


@inline
def _scan_pairs(yv, iv, xv, base, start):
    """Windows 2 wide, 2 apart: output i scans xv[2i] then xv[2i+1] (flat positions base + ...)."""
    for i in range(yv.size):
        p = base + 2 * i
        best, at = (xv[2 * i], p) if start else _better(yv[i], iv[i], xv[2 * i], p)
        yv[i], iv[i] = _better(best, at, xv[2 * i + 1], p + 1)


@inline
def _scan_quads(yv, iv, x0, x1, base0, base1):
    """Windows 2 x 2, 2 apart along the row, over input rows ``x0`` and ``x1`` (flat positions
    ``base0``, ``base1``): output i scans x0[2i], x0[2i+1], x1[2i], x1[2i+1], in that order."""
    for i in range(yv.size):
        p0, p1 = base0 + 2 * i, base1 + 2 * i
        b0, a0 = _better(x0[2 * i], p0, x0[2 * i + 1], p0 + 1)
        b1, a1 = _better(x1[2 * i], p1, x1[2 * i + 1], p1 + 1)
        yv[i], iv[i] = _better(b0, a0, b1, a1)


def _two_by_two(first, count, dil):
    """Whether a row's longest run of full windows is of 2-wide windows 2 apart."""
    lo, hi, S, K = _full_run(first, count)
    return hi - lo >= 2 and S == 2 and K == 2 and dil == 1


@kernel
def _max_scan(y, idx, x, first, count, step):
    N, C, OD, OH, OW = y.shape
    H, W = x.shape[3], x.shape[4]
    sd, sh, sw = step
    lo, hi, S, K = _full_run(first[2], count[2])
    f0 = first[2, lo]
    P = N * C
    for t in prange(P):
        n = t // C
        c = t % C
        xc = x[n, c]
        for od in range(OD):
            fd, cd = first[0, od], count[0, od]
            for oh in range(OH):
                fh, ch = first[1, oh], count[1, oh]
                yr, ir = y[n, c, od, oh], idx[n, c, od, oh]
                if cd == 1 and ch == 2 and hi - lo < SCAN_FUSED:  # short rows: both window rows in one pass
                    x0, x1 = xc[fd, fh], xc[fd, fh + sh]
                    base0, base1 = (fd * H + fh) * W, (fd * H + fh + sh) * W
                    for o in range(OW - (hi - lo)):
                        oo = o if o < lo else o + hi - lo
                        _scan_one(yr, ir, x0, base0, first[2], count[2], sw, oo, True)
                        _scan_one(yr, ir, x1, base1, first[2], count[2], sw, oo, False)
                    _scan_quads(yr[lo:hi], ir[lo:hi], x0[f0:], x1[f0:], base0 + f0, base1 + f0)
                    continue
                for a in range(cd):
                    for b in range(ch):
                        i0, i1 = fd + a * sd, fh + b * sh
                        xr, base, start = xc[i0, i1], (i0 * H + i1) * W, a == 0 and b == 0
                        for o in range(OW - (hi - lo)):  # the outputs outside the run
                            _scan_one(yr, ir, xr, base, first[2], count[2], sw, o if o < lo else o + hi - lo, start)
                        if start:
                            _scan_pairs(yr[lo:hi], ir[lo:hi], xr[f0:], base + f0, True)
                        else:
                            _scan_pairs(yr[lo:hi], ir[lo:hi], xr[f0:], base + f0, False)


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
    run = _full_run(first[2], count[2])
    P = N * C
    parts = plane_parts(P)
    for part in prange(parts):  # buffers allocated once per part, not per plane
        col = np.empty(W, np.uint64)
        phases = np.empty((2, W // 2 + 1), np.uint64)
        best = np.empty(OW, np.uint64)
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
                    _reduce_columns(best, col, first[2], count[2], sw, run, phases, True)
                    yr = y[n, c, od, oh]
                    ir = idx[n, c, od, oh]
                    for ow in range(OW):
                        low = best[ow] & _LOW
                        pos = low if (best[ow] >> _HALF) == _LOW else _LOW - low
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
        _plane_means(y.reshape(P), x.reshape(P, x.size // max(P, 1)), _divisor(div, override))
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
    run = _full_run(first[2], count[2])
    div_w = np.ones(OW) if override != 0 else div[2].copy()
    P = N * C
    parts = plane_parts(P)
    for part in prange(parts):  # buffers allocated once per part, not per plane
        col = np.empty(W, x.dtype)
        phases = np.empty((2, W // 2 + 1), x.dtype)
        acc = np.empty(OW, np.float64)
        for t in range(*part_range(part, parts, P)):
            n = t // C
            c = t % C
            xc = x[n, c]
            for od in range(OD):
                fd, cd = first[0, od], count[0, od]
                for oh in range(OH):
                    _reduce_window(acc, col, xc, fd, cd, sd, first[1, oh], count[1, oh], sh,
                                   first[2], count[2], sw, run, phases, False)
                    dv = override if override != 0 else div[0, od] * div[1, oh]
                    yr = y[n, c, od, oh]
                    for ow in range(OW):
                        yr[ow] = acc[ow] / (dv * div_w[ow])


def avg_pool_backward(gx, gy, first, count, step, div, override, cover_first, cover_count):
    """gx[n,c,i] = sum over windows p containing i of gy[n,c,p] / divisor(p) (one thread per plane;
    the cover tables are the CUDA gather's and go unused here).

    Per output row, the row's gradients spread along the columns into ``spread``, which is then
    added to each input row of the window. Global pooling fills each plane with its one value.
    """
    if _whole_plane(gy.shape, gx.shape, count):
        P = gy.shape[0] * gy.shape[1]
        _plane_fill(gx.reshape(P, gx.size // max(P, 1)), gy.reshape(P), _divisor(div, override))
    else:
        _avg_backward_windows(gx, gy, first, count, step, div, override)


@kernel
def _avg_backward_windows(gx, gy, first, count, step, div, override):
    N, C, OD, OH, OW = gy.shape
    W = gx.shape[4]
    sd, sh, sw = step
    run = _full_run(first[2], count[2])
    div_w = np.ones(OW) if override != 0 else div[2].copy()
    P = N * C
    parts = plane_parts(P)
    for part in prange(parts):  # buffers allocated once per part, not per plane
        spread = np.empty(W, gx.dtype)
        phases = np.empty((2, W // 2 + 1), gx.dtype)
        g = np.empty(OW, np.float64)
        for t in range(*part_range(part, parts, P)):
            n = t // C
            c = t % C
            gc = gx[n, c]
            gc.ravel()[:] = 0.0
            for od in range(OD):
                fd, cd = first[0, od], count[0, od]
                for oh in range(OH):
                    fh, ch = first[1, oh], count[1, oh]
                    dv = override if override != 0 else div[0, od] * div[1, oh]
                    gyr = gy[n, c, od, oh]
                    for ow in range(OW):
                        g[ow] = gyr[ow] / (dv * div_w[ow])
                    spread[:] = 0.0
                    _spread_columns(spread, g, first[2], count[2], sw, run, phases)
                    for a in range(cd):
                        for b in range(ch):
                            gr = gc[fd + a * sd, fh + b * sh]
                            for w in range(W):
                                gr[w] += spread[w]


def max_pool_backward(gx, gy, idx, cover_first, cover_count):
    """gx[n,c,i] = sum of gy[n,c,p] over the outputs p whose index idx[n,c,p] names i: a scatter,
    one thread per plane (the cover tables are the CUDA gather's and go unused here). A windowed
    kernel in the manner of the average's backward, one masked pass per tap, took twice as long."""
    N, C = gy.shape[0], gy.shape[1]
    plane = max(N * C, 1)  # sizes spelled out, not -1: an empty batch has no size to infer
    scatter_plane(gx.reshape(N, C, gx.size // plane), gy.reshape(N, C, gy.size // plane),
                  idx.reshape(N, C, idx.size // plane), True)


@kernel
def fractional_max_pool_forward(y, idx, x, starts, kd, kh, kw):
    """Fractional max pooling (Graham 2014): y[n,c,od,oh,ow] is the maximum of ``x[n, c]`` over the
    ``kd x kh x kw`` window at ``(starts[n,c,0,od], starts[n,c,1,oh], starts[n,c,2,ow])``, and
    idx (when it is not empty) its flat position in the plane. ``starts`` (N, C, 3, max output
    size) comes from ``numconv.shapes.fractional_starts``: each plane has windows of its own."""
    N, C, OD, OH, OW = y.shape
    with_idx = idx.size > 0
    for t in prange(N * C):
        n = t // C
        c = t % C
        for od in range(OD):
            d0 = starts[n, c, 0, od]
            for oh in range(OH):
                h0 = starts[n, c, 1, oh]
                for ow in range(OW):
                    best, at = window_argmax(x, n, c, d0, h0, starts[n, c, 2, ow], kd, kh, kw)
                    y[n, c, od, oh, ow] = best
                    if with_idx:
                        idx[n, c, od, oh, ow] = at


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


def check_indices(found, idx, first, count, step, plane_shape, windowed):
    """found = [min, max, outside] over ``idx`` (N, C, OD, OH, OW), as the CUDA kernel of this name:
    the smallest and largest index, and (when ``windowed``) how many name an in-plane position that
    is not a tap of their own window. ``found`` comes in as [int64 max, int64 min, 0].

    One parallel pass over the rows of indices (NumPy's ``min`` and ``max`` are two single-threaded
    passes: 5 ms of a 25 ms max-pool forward and backward with its 51 MB of indices).
    """
    if idx.size > 0:
        _check_indices(found, idx, first, count, step, plane_shape, windowed)


@kernel
def _check_indices(found, idx, first, count, step, plane_shape, windowed):
    N, C, OD, OH, OW = idx.shape
    D, H, W = plane_shape
    sd, sh, sw = step
    R = N * C * OD * OH
    parts = plane_parts(R)
    lo = np.empty(parts, np.int64)
    hi = np.empty(parts, np.int64)
    outside = np.zeros(parts, np.int64)
    rows = idx.reshape(R, OW)
    for part in prange(parts):
        a, b = found[0], found[1]
        for r in range(*part_range(part, parts, R)):
            row = rows[r]
            for ow in range(OW):
                a = min(a, row[ow])
                b = max(b, row[ow])
            if windowed:
                oh, od = r % OH, (r // OH) % OD
                for ow in range(OW):
                    k = row[ow]
                    if 0 <= k < D * H * W and not (
                            in_window(k // (W * H), first[0, od], count[0, od], sd)
                            and in_window((k // W) % H, first[1, oh], count[1, oh], sh)
                            and in_window(k % W, first[2, ow], count[2, ow], sw)):
                        outside[part] += 1
        lo[part] = a
        hi[part] = b
    found[0] = lo.min()
    found[1] = hi.max()
    found[2] += outside.sum()
