"""The one windowed reduction, CUDA: max (with argmax) and average pooling, fixed or adaptive windows.

Window tables come from ``numconv.shapes.pool_spec`` / ``adaptive_pool_spec``: along dimension
``i``, output ``o`` reduces input indices ``first[i,o] + t*step[i]`` for ``t < count[i,o]``
(padding already removed). ``div[i,o]`` multiplies into the average's divisor.
Indices are flat positions in the (D, H, W) plane, as PyTorch returns them.
Shapes: ``x`` (N, C, D, H, W), ``y``/``idx`` (N, C, OD, OH, OW).
Each launcher has the name and signature of its CPU twin in ``numconv.kernels.cpu.pool``.

The grid kernels see the arrays as (P, flat position), P = N*C planes, on a 3-d grid
(``grid3``): x along the columns, y along the rows, z striding over the planes, several of them a
thread (PLANES; FORWARD_PLANES for the forwards), so the window arithmetic is done once for
several loads. A thread's coordinates come from
its block and thread indices, so no thread divides to find them. Where the
windows (or, for the gathers, the covers) have at most UNROLL_TAPS taps, the kernel is compiled
for their largest size (``_bounds``) with the loops unrolled: a short window loads its last tap
again rather than branch, so a thread issues all its loads before it needs the first. (With one
load in flight per thread, the forward ran at 750 GB/s and the gathers at 150-220 GB/s on an H100.)
Windows of many taps (global and adaptive pooling) take a warp per output instead (``_warp``),
the lanes striding over the window's taps and combining in shared memory.
Backward passes are gathers, or one thread per plane (``scatter_plane``): no atomics in what they
compute, deterministic results. (``check_indices`` counts with atomics; counts do not depend on order.)
"""
import functools
import math

import numpy as np
from numba import cuda, float64, from_dtype, int64, uint32, uint64

from . import GRID_THREADS, column_row, grid3, in_window, jit, launch, launch_grid, unravel5, view, window_argmax

WARP_TAPS = 16  # windows averaging this many taps or more take a warp per output
WARPS = 8  # warps (outputs) per block of the warp kernels
PLANES = 4  # planes a grid kernel's thread takes at one position: their loads in flight together
UNROLL_TAPS = 32  # windows (and covers) of at most this many taps get kernels with unrolled loops
# Planes a thread of the forward grid kernel takes, per kind of call ("max": values alone, "max_idx":
# with indices, "avg"). Timed on an H100 over 2, 4 and 8 (docs/gpu.md): 4 for the values (max_2x2
# 63 us, against 70 and 77), 2 with indices (81 us, against 88 and 94; each plane keeps an int64).
FORWARD_PLANES = {"max": 4, "max_idx": 2, "avg": 4}


_maxima = {}  # id(device table) -> (table, its largest count per dimension)


def _bounds(counts):
    """Loop bounds for a kernel over windows (or covers) whose tap counts per dimension the (3, n)
    device table ``counts`` holds: the largest counts when their product is at most UNROLL_TAPS (the
    loops unroll, and a thread issues all its loads before it needs the first), else None (each
    window's own counts). Read from the device once per table; ``numconv.ops`` keeps a pooling
    shape's tables, so once per shape."""
    hit = _maxima.get(id(counts))
    if hit is None or hit[0] is not counts:  # holding the table keeps its id from being reused
        if len(_maxima) >= 512:
            _maxima.clear()
        host = counts.copy_to_host()
        most = tuple(int(v) for v in host.max(axis=1)) if host.size else (0, 0, 0)
        hit = _maxima[id(counts)] = (counts, most if most[0] * most[1] * most[2] <= UNROLL_TAPS else None)
    return hit[1]


def _planes(a):
    """A 5-d (N, C, d, h, w) array as (N*C, d, h, w)."""
    return view(a, (a.shape[0] * a.shape[1],) + tuple(a.shape[2:]))


_placeholders = []


def _no_indices():
    """A (0, 0) int64 device array: the indices argument of the shared kernels where there are none."""
    if not _placeholders:
        _placeholders.append(cuda.device_array((0, 0), np.int64))
    return _placeholders[0]


def _rows(a):
    """A 5-d (N, C, d, h, w) array as (N*C, d*h*w): the grid kernels' planes of flat positions."""
    return view(a, (a.shape[0] * a.shape[1], a.shape[2] * a.shape[3] * a.shape[4]))


def _many_taps(x_shape, y_shape):
    """Whether the average window is WARP_TAPS taps or more (global and adaptive pooling)."""
    return x_shape[2] * x_shape[3] * x_shape[4] >= WARP_TAPS * y_shape[2] * y_shape[3] * y_shape[4]


@cuda.jit(device=True)
def _plane_depth(z, depth):
    """(plane, depth index) of grid slot ``z`` over (plane, depth)."""
    if depth == 1:
        return z, 0
    return z // depth, z % depth


@cuda.jit(device=True)
def _unravel_output(o, OD, OH, OW):
    """(plane, od, oh, ow) of flat output ``o`` (a warp per output: once per warp)."""
    ow = o % OW
    o //= OW
    oh = o % OH
    o //= OH
    return o // OD, o % OD, oh, ow


@cuda.jit(device=True)
def _tap(t, cd, ch, cw):
    """(a, e, f) of flat tap ``t`` of a (cd, ch, cw) window, in 32-bit arithmetic."""
    u, uh, uw = uint32(t), uint32(ch), uint32(cw)
    f = u % uw
    u //= uw
    return int64(u // uh), int64(u % uh), int64(f)


def max_pool_forward(y, idx, x, first, count, step):
    """y[n,c,p] = max over the window of p of x[n,c,.]; idx the flat position of that max (NaN wins).
    An ``idx`` of size 0 asks for the values alone."""
    if y.size == 0:
        return
    N, C, OD, OH, OW = y.shape
    P = N * C
    if _many_taps(x.shape, y.shape):
        idx4 = _planes(idx) if idx.size > 0 else view(idx, (0, 0, 0, 0))
        warps = min(WARPS, y.size)
        launch_grid(_max_pool_forward_warp, (y.size + warps - 1) // warps, (32, warps), _planes(y), idx4, _planes(x),
                    first, count, *step)
    else:
        kind = "max_idx" if idx.size > 0 else "max"
        idx2 = _rows(idx) if idx.size > 0 else view(idx, (0, 0))
        planes = FORWARD_PLANES[kind]
        grid, block = grid3(OW, OH, (P + planes - 1) // planes)
        launch_grid(_pool_forward(_bounds(count), kind, planes), grid, block, _rows(y), idx2, _rows(x),
                    first, count, *step, first, 0.0, OD, OH, OW, x.shape[3], x.shape[4])


@functools.lru_cache(maxsize=None)
def _pool_forward(bounds, kind, planes):
    """The grid kernel of max pooling (``kind`` "max" for the values alone, "max_idx" with their
    indices) or average pooling ("avg") over windows of at most ``bounds`` (KD, KH, KW) taps, its
    loops unrolled, or of any size for None. Arrays are (planes, flat positions); a thread takes
    ``planes`` planes at one output position. Max pooling keeps the first max (or the last NaN)
    and, with indices, its position (compiled without the positions for values alone: their
    registers took a quarter of the kernel's); average pooling sums in float64 and divides."""
    FIXED = bounds is not None
    KD, KH, KW = bounds if FIXED else (0, 0, 0)
    MAX, INDICES, PL = kind != "avg", kind == "max_idx", planes

    def kernel(y, idx, x, first, count, sd, sh, sw, div, override, OD, OH, OW, H, W):
        ow, oh = column_row()
        if ow >= OW or oh >= OH:
            return
        P = y.shape[0]
        fh, ch = first[1, oh], count[1, oh]
        fw, cw = first[2, ow], count[2, ow]
        acc = cuda.local.array(PL, float64)  # the max or the sum; float64 holds every float32 exactly
        at = cuda.local.array(PL if INDICES else 1, int64)
        for od in range(OD):
            fd, cd = first[0, od], count[0, od]
            yo = uint64((od * OH + oh) * OW + ow)
            for p0 in range(cuda.blockIdx.z * PL, P, cuda.gridDim.z * PL):
                for j in range(PL):
                    acc[j] = -math.inf if MAX else 0.0
                    if INDICES:
                        at[j] = (fd * H + fh) * W + fw
                for a in range(KD if FIXED else cd):
                    i0 = fd + min(a, cd - 1) * sd
                    for e in range(KH if FIXED else ch):
                        i1 = fh + min(e, ch - 1) * sh
                        for f in range(KW if FIXED else cw):
                            # past a short window's end, its last tap again: the loads need no branch
                            off = (i0 * H + i1) * W + fw + min(f, cw - 1) * sw
                            ok = a < cd and e < ch and f < cw
                            for j in range(PL):
                                v = float64(x[uint64(min(p0 + j, P - 1)), uint64(off)])
                                if MAX:
                                    if ok and (v > acc[j] or v != v):
                                        acc[j] = v
                                        if INDICES:
                                            at[j] = off
                                elif ok:
                                    acc[j] += v
                dv = 1.0 if MAX else _divisor(div, override, od, oh, ow)
                for j in range(PL):
                    if p0 + j < P:
                        y[uint64(p0 + j), yo] = acc[j] if MAX else acc[j] / dv
                        if INDICES:
                            idx[uint64(p0 + j), yo] = at[j]

    return jit(kernel)


@jit
def _max_pool_forward_warp(y, idx, x, first, count, sd, sh, sw):
    s_best = cuda.shared.array((WARPS, 32), float64)  # float64 holds every float32 and float64 exactly
    s_at = cuda.shared.array((WARPS, 32), int64)
    lane, w = cuda.threadIdx.x, cuda.threadIdx.y
    o = cuda.blockIdx.x * cuda.blockDim.y + w
    OD, OH, OW = y.shape[1], y.shape[2], y.shape[3]
    p = od = oh = ow = fd = cd = fh = ch = fw = cw = n = int64(0)
    # each lane: the first max (or last NaN) of its taps lane, lane+32, ...; ``at`` the tap's order
    best = -math.inf
    at = int64(1) << 62  # a lane with no taps loses every tie
    if o < y.size:  # no return: every thread reaches the block's barriers
        p, od, oh, ow = _unravel_output(o, OD, OH, OW)
        fd, cd = first[0, od], count[0, od]
        fh, ch = first[1, oh], count[1, oh]
        fw, cw = first[2, ow], count[2, ow]
        n = cd * ch * cw
        for t in range(lane, n, 32):
            a, e, f = _tap(t, cd, ch, cw)
            v = float64(x[p, fd + a * sd, fh + e * sh, fw + f * sw])
            if v > best or v != v or t == lane:
                best, at = v, t
    s_best[w, lane], s_at[w, lane] = best, at
    cuda.syncthreads()
    # combine lanes as the row-major scan would: a later NaN wins, else the larger value, else the earlier tap
    half = 16
    while half > 0:
        if lane < half:
            vb, tb = s_best[w, lane + half], s_at[w, lane + half]
            if vb != vb:
                if best == best or tb > at:
                    best, at = vb, tb
            elif best == best and (vb > best or (vb == best and tb < at)):
                best, at = vb, tb
            s_best[w, lane], s_at[w, lane] = best, at
        cuda.syncthreads()
        half //= 2
    if lane == 0 and o < y.size:
        y[p, od, oh, ow] = best
        if idx.size > 0:
            a, e, f = _tap(at, cd, ch, cw)
            idx[p, od, oh, ow] = ((fd + a * sd) * x.shape[2] + fh + e * sh) * x.shape[3] + fw + f * sw


def avg_pool_forward(y, x, first, count, step, div, override):
    """y[n,c,p] = sum over the window of p of x[n,c,.] / divisor(p); ``override`` > 0 replaces the divisor."""
    if y.size == 0:
        return
    N, C, OD, OH, OW = y.shape
    P = N * C
    if _many_taps(x.shape, y.shape):
        warps = min(WARPS, y.size)
        launch_grid(_avg_pool_forward_warp, (y.size + warps - 1) // warps, (32, warps), _planes(y), _planes(x), first,
                    count, *step, div, override)
    else:
        planes = FORWARD_PLANES["avg"]
        grid, block = grid3(OW, OH, (P + planes - 1) // planes)
        launch_grid(_pool_forward(_bounds(count), "avg", planes), grid, block, _rows(y), _no_indices(),
                    _rows(x), first, count, *step, div, override, OD, OH, OW, x.shape[3], x.shape[4])


@cuda.jit(device=True)
def _divisor(div, override, od, oh, ow):
    return override if override != 0 else div[0, od] * div[1, oh] * div[2, ow]


@jit
def _avg_pool_forward_warp(y, x, first, count, sd, sh, sw, div, override):
    s_sum = cuda.shared.array((WARPS, 32), float64)
    lane, w = cuda.threadIdx.x, cuda.threadIdx.y
    o = cuda.blockIdx.x * cuda.blockDim.y + w
    OD, OH, OW = y.shape[1], y.shape[2], y.shape[3]
    p = od = oh = ow = int64(0)
    s = 0.0
    if o < y.size:  # no return: every thread reaches the block's barriers
        p, od, oh, ow = _unravel_output(o, OD, OH, OW)
        fd, cd = first[0, od], count[0, od]
        fh, ch = first[1, oh], count[1, oh]
        fw, cw = first[2, ow], count[2, ow]
        for t in range(lane, cd * ch * cw, 32):
            a, e, f = _tap(t, cd, ch, cw)
            s += x[p, fd + a * sd, fh + e * sh, fw + f * sw]
    s_sum[w, lane] = s
    cuda.syncthreads()
    half = 16
    while half > 0:
        if lane < half:
            s += s_sum[w, lane + half]
            s_sum[w, lane] = s
        cuda.syncthreads()
        half //= 2
    if lane == 0 and o < y.size:
        y[p, od, oh, ow] = s / _divisor(div, override, od, oh, ow)


def avg_pool_backward(gx, gy, first, count, step, div, override, cover_first, cover_count):
    """gx[n,c,i] = sum over windows p containing i of gy[n,c,p] / divisor(p)

    One thread per ``gx`` element (PLANES planes at one position) gathers from the windows whose
    span holds its index (the cover tables), keeping those that have it as a tap.
    """
    if gx.size == 0:
        return
    N, C, D, H, W = gx.shape
    grid, block = grid3(W, H, (N * C + PLANES - 1) // PLANES)
    launch_grid(_pool_backward(_bounds(cover_count), gx.dtype, False), grid, block, _rows(gx), _rows(gy), _no_indices(),
                first, count, *step, div, override, cover_first, cover_count, D, H, W, gy.shape[3], gy.shape[4])


@cuda.jit(device=True)
def _cover(cf, cc, i, d):
    """(first, count, last loadable) of the windows that may hold index ``i`` of dimension ``d``:
    loads past the count repeat the last one (or window 0 where none may hold it)."""
    f, c = cf[d, i], cc[d, i]
    return f, c, max(f + c - 1, 0)


@functools.lru_cache(maxsize=None)
def _pool_backward(bounds, dtype, take_max):
    """The gather of max (``take_max``) or average pooling's backward for covers of at most
    ``bounds`` (CD, CH, CW) windows, its loops unrolled, or any for None; arrays (planes, flat
    positions), PLANES planes a thread. Max adds, in ``dtype``, the outputs whose index names this
    element; average adds, in float64, each window's gradient over its divisor where the element
    is one of its taps. What is the same for all the planes is worked out once."""
    FIXED = bounds is not None
    CD, CH, CW = bounds if FIXED else (0, 0, 0)
    MAX = take_max
    ACC = from_dtype(np.dtype(dtype)) if take_max else float64

    def kernel(gx, gy, idx, first, count, sd, sh, sw, div, override, cf, cc, D, H, W, OH, OW):
        i2, i1 = column_row()
        if i2 >= W or i1 >= H:
            return
        P = gx.shape[0]
        h0, hc, hl = _cover(cf, cc, i1, 1)
        w0, wc, wl = _cover(cf, cc, i2, 2)
        s = cuda.local.array(PLANES, ACC)
        for i0 in range(D):
            d0, dc, dl = _cover(cf, cc, i0, 0)
            me = (i0 * H + i1) * W + i2
            for p0 in range(cuda.blockIdx.z * PLANES, P, cuda.gridDim.z * PLANES):
                for j in range(PLANES):
                    s[j] = 0
                for a in range(CD if FIXED else dc):
                    od = min(d0 + a, dl)
                    for e in range(CH if FIXED else hc):
                        oh = min(h0 + e, hl)
                        for f in range(CW if FIXED else wc):
                            ow = min(w0 + f, wl)
                            ok = a < dc and e < hc and f < wc
                            if not MAX:
                                ok = ok and in_window(i0, first[0, od], count[0, od], sd) \
                                    and in_window(i1, first[1, oh], count[1, oh], sh) \
                                    and in_window(i2, first[2, ow], count[2, ow], sw)
                            dv = 1.0 if MAX else _divisor(div, override, od, oh, ow)
                            go = uint64((od * OH + oh) * OW + ow)
                            for j in range(PLANES):
                                pj = uint64(min(p0 + j, P - 1))
                                g = gy[pj, go]
                                if MAX:
                                    k = idx[pj, go]
                                    if ok and k == me:
                                        s[j] += g
                                elif ok:
                                    s[j] += g / dv
                for j in range(PLANES):
                    if p0 + j < P:
                        gx[uint64(p0 + j), uint64(me)] = s[j]

    return jit(kernel)


def max_pool_backward(gx, gy, idx, cover_first, cover_count):
    """gx[n,c,i] = sum of gy[n,c,p] over the outputs p whose index idx[n,c,p] names i.

    One thread per ``gx`` element (PLANES planes at one position) gathers from the windows whose
    span holds its index (the cover tables), in row-major order, so it adds what ``scatter_plane``
    would, in the same order and the same dtype. Only for indices inside their own windows (as
    ``max_pool_forward`` writes them; ``check_indices`` tells); ``numconv.ops`` sends other
    indices to ``scatter_plane``.
    """
    if gx.size == 0:
        return
    N, C, D, H, W = gx.shape
    grid, block = grid3(W, H, (N * C + PLANES - 1) // PLANES)
    launch_grid(_pool_backward(_bounds(cover_count), gx.dtype, True), grid, block, _rows(gx), _rows(gy), _rows(idx),
                cover_first, cover_count, 1, 1, 1, cover_first, 0.0, cover_first, cover_count, D, H, W, gy.shape[3],
                gy.shape[4])


CHECK_PLANES = 128  # check_indices: grid z; each thread strides over the planes, four at a time


def check_indices(found, idx, first, count, step, plane_shape, windowed):
    """found = [min, max, outside] over ``idx`` (N, C, OD, OH, OW): the smallest and largest index,
    and (when ``windowed``) how many name an in-plane position that is not a tap of their own
    window. ``found`` comes in as [int64 max, int64 min, 0]; ``plane_shape`` is (D, H, W).

    Each thread keeps its own extremes and count over the planes it strides over; a block combines
    its threads' in shared memory and adds them to ``found`` with one atomic each (an atomic per
    index, all on three addresses, took 10 ms for 6.4 million indices on an H100). Minimum,
    maximum and count do not depend on the order, so the result is the same every run."""
    if idx.size > 0:
        idx4 = _planes(idx)
        P, OD, OH, OW = idx4.shape
        grid, block = grid3(OW, OH, P * OD, CHECK_PLANES)
        launch_grid(_check_indices, grid, block, found, idx4, first, count, *step, *plane_shape, windowed)


@jit
def _check_indices(found, idx, first, count, sd, sh, sw, D, H, W, windowed):
    s_lo = cuda.shared.array(GRID_THREADS, int64)
    s_hi = cuda.shared.array(GRID_THREADS, int64)
    s_out = cuda.shared.array(GRID_THREADS, int64)
    P, OD, OH, OW = idx.shape[0], idx.shape[1], idx.shape[2], idx.shape[3]
    ow, oh = column_row()
    tid = cuda.threadIdx.y * cuda.blockDim.x + cuda.threadIdx.x
    lo, hi, outside = found[0], found[1], int64(0)  # the starting values: int64 max, int64 min
    if ow < OW and oh < OH:  # every thread reaches the reduction below
        fh = ch = fw = cw = int64(0)
        if windowed:  # without windows the tables are placeholders
            fh, ch = first[1, oh], count[1, oh]
            fw, cw = first[2, ow], count[2, ow]
        Z = P * OD
        for z0 in range(cuda.blockIdx.z * 4, Z, cuda.gridDim.z * 4):  # four loads in flight, then their checks
            ks = cuda.local.array(4, int64)
            for j in range(4):
                p, od = _plane_depth(min(z0 + j, Z - 1), OD)
                ks[j] = idx[p, od, oh, ow]
            for j in range(min(4, Z - z0)):
                k = ks[j]
                p, od = _plane_depth(z0 + j, OD)
                lo = min(lo, k)
                hi = max(hi, k)
                if windowed and 0 <= k < D * H * W:
                    u, uw, uh = uint32(k), uint32(W), uint32(H)
                    i2 = int64(u % uw)
                    u //= uw
                    i1 = int64(u % uh)
                    i0 = int64(u // uh)
                    if not (in_window(i0, first[0, od], count[0, od], sd) and in_window(i1, fh, ch, sh)
                            and in_window(i2, fw, cw, sw)):
                        outside += 1
    s_lo[tid], s_hi[tid], s_out[tid] = lo, hi, outside
    cuda.syncthreads()
    half = (cuda.blockDim.x * cuda.blockDim.y) // 2
    while half > 0:
        if tid < half:
            s_lo[tid] = min(s_lo[tid], s_lo[tid + half])
            s_hi[tid] = max(s_hi[tid], s_hi[tid + half])
            s_out[tid] += s_out[tid + half]
        cuda.syncthreads()
        half //= 2
    if tid == 0:
        cuda.atomic.min(found, 0, s_lo[0])
        cuda.atomic.max(found, 1, s_hi[0])
        cuda.atomic.add(found, 2, s_out[0])


def fractional_max_pool_forward(y, idx, x, starts, kd, kh, kw):
    """Fractional max pooling over each plane's own windows (``starts``), one thread per output."""
    launch(_fractional_max_pool_forward, y.size, y, idx, x, starts, kd, kh, kw)


@jit
def _fractional_max_pool_forward(y, idx, x, starts, kd, kh, kw):
    t = cuda.grid(1)
    if t >= y.size:
        return
    C, OD, OH, OW = y.shape[1], y.shape[2], y.shape[3], y.shape[4]
    n, c, od, oh, ow = unravel5(t, C, OD, OH, OW)
    best, at = window_argmax(x, n, c, starts[n, c, 0, od], starts[n, c, 1, oh], starts[n, c, 2, ow], kd, kh, kw)
    y[n, c, od, oh, ow] = best
    if idx.size > 0:
        idx[n, c, od, oh, ow] = at


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
