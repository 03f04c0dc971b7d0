"""The one windowed reduction, CUDA: max (with argmax) and average pooling, fixed or adaptive windows.

Window tables come from ``numconv.shapes.pool_spec`` / ``adaptive_pool_spec``: along dimension
``i``, output ``o`` reduces input indices ``first[i,o] + t*step[i]`` for ``t < count[i,o]``
(padding already removed). ``div[i,o]`` multiplies into the average's divisor.
Indices are flat positions in the (D, H, W) plane, as PyTorch returns them.
Shapes: ``x`` (N, C, D, H, W), ``y``/``idx`` (N, C, OD, OH, OW).
Each launcher has the name and signature of its CPU twin in ``numconv.kernels.cpu.pool``.
Backward passes are gathers, or one thread per plane (``scatter_plane``): no atomics in what they
compute, deterministic results. (``check_indices`` counts with atomics; counts do not depend on order.)
"""
import math

from numba import cuda, int64

from . import in_window, jit, launch, launch_grid, unravel5


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


def avg_pool_backward(gx, gy, first, count, step, div, override, cover_first, cover_count):
    """gx[n,c,i] = sum over windows p containing i of gy[n,c,p] / divisor(p)

    One thread per ``gx`` element gathers from the windows whose span holds its index (the cover
    tables), keeping those that have it as a tap.
    """
    launch(_avg_pool_backward, gx.size, gx, gy, first, count, *step, div, override, cover_first, cover_count)


@jit
def _avg_pool_backward(gx, gy, first, count, sd, sh, sw, div, override, cf, cc):
    t = cuda.grid(1)
    if t >= gx.size:
        return
    C, D, H, W = gx.shape[1], gx.shape[2], gx.shape[3], gx.shape[4]
    n, c, i0, i1, i2 = unravel5(t, C, D, H, W)
    s = 0.0
    for od in range(cf[0, i0], cf[0, i0] + cc[0, i0]):
        if not in_window(i0, first[0, od], count[0, od], sd):
            continue
        for oh in range(cf[1, i1], cf[1, i1] + cc[1, i1]):
            if not in_window(i1, first[1, oh], count[1, oh], sh):
                continue
            for ow in range(cf[2, i2], cf[2, i2] + cc[2, i2]):
                if not in_window(i2, first[2, ow], count[2, ow], sw):
                    continue
                dv = override if override != 0 else div[0, od] * div[1, oh] * div[2, ow]
                s += gy[n, c, od, oh, ow] / dv
    gx[n, c, i0, i1, i2] = s


def max_pool_backward(gx, gy, idx, cover_first, cover_count):
    """gx[n,c,i] = sum of gy[n,c,p] over the outputs p whose index idx[n,c,p] names i.

    One thread per ``gx`` element gathers from the windows whose span holds its index (the cover
    tables), in row-major order, so it adds what ``scatter_plane`` would, in the same order. Only
    for indices inside their own windows (as ``max_pool_forward`` writes them; ``check_indices``
    tells); ``numconv.ops`` sends other indices to ``scatter_plane``.
    """
    launch(_max_pool_backward, gx.size, gx, gy, idx, cover_first, cover_count)


@jit
def _max_pool_backward(gx, gy, idx, cf, cc):
    t = cuda.grid(1)
    if t >= gx.size:
        return
    C, D, H, W = gx.shape[1], gx.shape[2], gx.shape[3], gx.shape[4]
    n, c, i0, i1, i2 = unravel5(t, C, D, H, W)
    me = (i0 * H + i1) * W + i2
    s = gx.dtype.type(0)
    for od in range(cf[0, i0], cf[0, i0] + cc[0, i0]):
        for oh in range(cf[1, i1], cf[1, i1] + cc[1, i1]):
            for ow in range(cf[2, i2], cf[2, i2] + cc[2, i2]):
                if idx[n, c, od, oh, ow] == me:
                    s += gy[n, c, od, oh, ow]
    gx[n, c, i0, i1, i2] = s


CHECK_BLOCKS, CHECK_THREADS = 128, 128  # check_indices: a fixed grid, each thread striding over the indices


def check_indices(found, idx, first, count, step, plane_shape, windowed):
    """found = [min, max, outside] over ``idx`` (N, C, OD, OH, OW): the smallest and largest index,
    and (when ``windowed``) how many name an in-plane position that is not a tap of their own
    window. ``found`` comes in as [int64 max, int64 min, 0]; ``plane_shape`` is (D, H, W).

    Each thread of a fixed grid strides over the indices keeping its own extremes and count; a
    block combines its threads' in shared memory and adds them to ``found`` with one atomic each
    (an atomic per index, all on three addresses, took 10 ms for 6.4 million indices on an H100).
    Minimum, maximum and count do not depend on the order, so the result is the same every run."""
    if idx.size > 0:
        launch_grid(_check_indices, min(CHECK_BLOCKS, (idx.size + CHECK_THREADS - 1) // CHECK_THREADS), CHECK_THREADS,
                    found, idx, first, count, *step, *plane_shape, windowed)


@jit
def _check_indices(found, idx, first, count, sd, sh, sw, D, H, W, windowed):
    s_lo = cuda.shared.array(CHECK_THREADS, int64)
    s_hi = cuda.shared.array(CHECK_THREADS, int64)
    s_out = cuda.shared.array(CHECK_THREADS, int64)
    C, OD, OH, OW = idx.shape[1], idx.shape[2], idx.shape[3], idx.shape[4]
    tid = cuda.threadIdx.x
    lo, hi, outside = found[0], found[1], int64(0)  # the starting values: int64 max, int64 min
    for t in range(cuda.grid(1), idx.size, cuda.gridsize(1)):
        n, c, od, oh, ow = unravel5(t, C, OD, OH, OW)
        k = int64(idx[n, c, od, oh, ow])
        lo = min(lo, k)
        hi = max(hi, k)
        if windowed and 0 <= k < D * H * W:
            i2 = k % W
            i1 = (k // W) % H
            i0 = k // (W * H)
            if not (in_window(i0, first[0, od], count[0, od], sd) and in_window(i1, first[1, oh], count[1, oh], sh)
                    and in_window(i2, first[2, ow], count[2, ow], sw)):
                outside += 1
    s_lo[tid], s_hi[tid], s_out[tid] = lo, hi, outside
    cuda.syncthreads()
    half = CHECK_THREADS // 2
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
