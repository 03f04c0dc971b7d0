"""Convolution as tiled implicit GEMM, CPU: fast paths for the three ``conv`` kernels.

Same ops and signatures as ``conv.py`` plus a workspace. Per image ``n`` and group ``g``, with
``p`` the flat output position and ``q`` the flat tap ``(j, kd, kh, kw)`` of ``Q = C/groups*KD*KH*KW``::

    X^[p, q] = x[n, g*C/groups + j, p*s + k*d - pad_lo]          im2row (zero in the padding)
    forward:        Y[o, p]  = b[o] + sum_q W[o, q] X^[p, q]
    weight grad:    GW[o, q] = sum_{n,p} GY[o, p] X^[p, q]
    input grad:     GX       = col2im(C),  C[p, q] = sum_o GY[o, p] W[o, q]

``X^`` is gathered one tile of ``PB`` output positions at a time into the thread's slice of the
workspace, so memory stays bounded whatever the batch size. The products run on ``gemm.panels``.
"""
import numpy as np
from numba import njit, prange

from . import FASTMATH, cached
from .gemm import pack_rows, panels, row_block

PB = 256  # output positions per tile (forward, input gradient): small planes fill it several at a time
PAD = 16  # PB + PAD floats: an odd number of cache lines
KB = 256  # taps per panel pass (forward)
QB = 256  # columns of C per panel strip (input and weight gradients, ``_strips``)


@njit(inline="always", fastmath=FASTMATH)
def _tap_table(at, ok, x, n, c0, p0, pn, OD, OH, OW, KD, KH, KW, stride, pad_lo, dilation):
    """Per kernel tap t (kd, kh, kw) and tile position i (output p0+i, counted on into the next
    images: p0+i is position (p0+i) % P of image n + (p0+i) // P, P = OD*OH*OW, so one tile can
    hold several small planes): ``at[t, i]`` the flat offset in ``x`` of what the tap reads in
    channel c0, ``ok[t, i]`` whether that is inside the input (outside, ``at`` is 0). Channel
    c0 + j reads at ``at + j*D*H*W``; ``at`` is uint64 so that this indexing needs no wraparound
    check, and the loops over it vectorize."""
    D, H, W = x.shape[2], x.shape[3], x.shape[4]
    P = OD * OH * OW
    C = x.shape[1]
    for i in range(pn):
        p = p0 + i
        nn = n + p // P
        p = p % P
        od, oh, ow = p // (OW * OH), (p // OW) % OH, p % OW
        t = 0
        for kd in range(KD):
            idd = od * stride[0] - pad_lo[0] + kd * dilation[0]
            for kh in range(KH):
                ih = oh * stride[1] - pad_lo[1] + kh * dilation[1]
                for kw in range(KW):
                    iw = ow * stride[2] - pad_lo[2] + kw * dilation[2]
                    inside = 0 <= idd < D and 0 <= ih < H and 0 <= iw < W
                    at[t, i] = (((nn * C + c0) * D + idd) * H + ih) * W + iw if inside else 0
                    ok[t, i] = inside
                    t += 1


@njit(inline="always", fastmath=FASTMATH)
def _patches(T, at, ok, x, CPG, taps, pn, scatter):
    """Move the patches of a tile's ``pn`` positions between ``x`` and ``T`` through the tables of
    ``_tap_table``, tap q = (j, t) of position i at T[i, q]:
    gather (``scatter`` False): T[i, q] = X^[p0+i, q];
    scatter (``scatter`` True, col2im): x[tap q of p0+i] += T[i, q] for taps inside ``x``.
    """
    xf = x.reshape(x.size)
    plane = np.uint64(x.shape[2] * x.shape[3] * x.shape[4])
    for i in range(pn):
        src, inside = at[:, i], ok[:, i]
        for j in range(CPG):  # a channel's taps together: nearby in x, whatever its planes' size
            seg, jo = T[i, j * taps:(j + 1) * taps], np.uint64(j) * plane
            for t in range(taps):
                if scatter:
                    if inside[t]:
                        xf[src[t] + jo] += seg[t]
                else:
                    seg[t] = xf[src[t] + jo] if inside[t] else 0.0


@njit(inline="always", fastmath=FASTMATH)
def _gather_t(T, at, ok, x, CPG, taps, pn):
    """T[q, i] = X^[p0+i, q] (the gather of ``_patches``, transposed) through the tables of
    ``_tap_table``, a tap q = (j, t) at a time so each row of T is written in order: every
    channel reads at the tap's offsets plus its own, a loop over positions that vectorizes."""
    xf = x.reshape(x.size)
    plane = np.uint64(x.shape[2] * x.shape[3] * x.shape[4])
    for j in range(CPG):
        jo = np.uint64(j) * plane
        for t in range(taps):
            row, src, inside = T[j * taps + t], at[t], ok[t]
            for i in range(pn):
                v = xf[src[i] + jo]
                row[i] = v if inside[i] else 0.0


@njit(inline="always")
def _strips(C, c0, ldc, G, S, s0, off, K, M, N, accumulate):
    """C[r, :N] (+)= sum_k G packed[k, r] * S.flat[s0 + off[k] + :N] for the M rows from ``c0`` (row
    stride ``ldc``): ``gemm.panels`` over columns QB at a time, every block of rows in turn (the
    columns of S read stay in L2 while all rows use them); G packed from 0 by ``pack_rows``' blocks."""
    for q0 in range(0, N, QB):
        panels(C, c0 + q0, ldc, G, 0, K, 0, S, s0 + q0, off, K, M, min(QB, N - q0), 1 if accumulate else 0, G)


@njit(inline="always")
def _tiling(N, groups, P, pb):
    """(tasks, images per tile): planes of at least ``pb`` positions are cut into tiles of ``pb``;
    smaller planes are packed whole, ``pb // P`` images to a tile (no tile splits an image, so
    the input gradient's col2im never races), so the GEMM still sees long tiles."""
    if P >= pb:
        return N * groups * ((P + pb - 1) // pb), 1
    m = pb // P
    return ((N + m - 1) // m) * groups, m


@njit(inline="always")
def _tile(task, N, groups, P, pb, m):
    """(image, group, first position, positions) of a task of ``_tiling``."""
    if m == 1 and P >= pb:
        ntile = (P + pb - 1) // pb
        p0 = (task % ntile) * pb
        return task // (groups * ntile), (task // ntile) % groups, p0, min(pb, P - p0)
    n = (task // groups) * m
    return n, task % groups, 0, min(m, N - n) * P


@cached(parallel=True, fastmath=FASTMATH)
def conv_forward_gemm(y, x, w, b, has_bias, stride, pad_lo, dilation, groups, ws):
    """y[n,o,p] = b[o] + sum_q w[o,q] X^[n,p,q] per group; ``ws`` (threads, Q, PB + PAD): the tile
    gathered transposed, so each tap q is a row of PB positions for ``gemm.panels`` (rows an odd
    number of cache lines apart, so that KB of them do not crowd into a few L1 sets)."""
    N, O, OD, OH, OW = y.shape
    CPG, KD, KH, KW = w.shape[1], w.shape[2], w.shape[3], w.shape[4]
    Q = CPG * KD * KH * KW
    P = OD * OH * OW
    opg = O // groups
    pb, ld = PB, ws.shape[2]
    tasks, m = _tiling(N, groups, P, pb)
    nthreads = ws.shape[0]
    wp = np.empty(O * Q, x.dtype)  # the weights packed per block of outputs (gemm.pack_rows)
    for g in range(groups):
        pack_rows(wp, g * opg * Q, w.reshape((O, Q))[g * opg:(g + 1) * opg], Q)
    off = np.arange(Q) * ld  # tap q's row of the tile
    yflat = y.reshape(N * O * P)
    for th in prange(nthreads):
        T = ws[th]
        Yt = np.empty((opg, ld), y.dtype)  # a tile of several images' outputs
        at = np.empty((KD * KH * KW, pb), np.uint64)
        ok = np.empty((KD * KH * KW, pb), np.bool_)
        for task in range(th, tasks, nthreads):
            n, g, p0, pn = _tile(task, N, groups, P, pb, m)
            _tap_table(at, ok, x, n, g * CPG, p0, pn, OD, OH, OW, KD, KH, KW, stride, pad_lo, dilation)
            _gather_t(T, at, ok, x, CPG, KD * KH * KW, pn)
            for o in range(opg):
                Yt[o, :pn] = b[g * opg + o] if has_bias else 0.0
            for k0 in range(0, Q, KB):
                panels(Yt, 0, ld, wp, g * opg * Q, Q, k0, T, 0, off[k0:], min(KB, Q - k0), opg, pn, 1, b)
            for o in range(opg):  # the tile's outputs to their images
                for i in range(pn):
                    nn, p = n + (p0 + i) // P, (p0 + i) % P
                    yflat[(nn * O + g * opg + o) * P + p] = Yt[o, i]


@cached(parallel=True, fastmath=FASTMATH)
def conv_weight_grad_gemm(gw, x, gy, stride, pad_lo, dilation, groups, ws, part):
    """gw[o,q] = sum_{n,p} gy[n,o,p] X^[n,p,q]; ``ws`` (threads, PB, ld >= Q): the tile gathered
    position-major, each position a row of taps for ``gemm.panels`` (rows an odd number of cache
    lines apart); ``part`` (threads, O, Q) per-thread partial sums added in thread order, so the
    result is deterministic for a given thread count."""
    O, CPG, KD, KH, KW = gw.shape
    N, OD, OH, OW = gy.shape[0], gy.shape[2], gy.shape[3], gy.shape[4]
    Q = CPG * KD * KH * KW
    P = OD * OH * OW
    opg = O // groups
    pb, ld = ws.shape[1], ws.shape[2]
    tasks, m = _tiling(N, groups, P, pb)
    nthreads = ws.shape[0]
    gyflat = gy.reshape(N * O * P)
    off = np.arange(pb) * ld  # position i's row of the tile
    for th in prange(nthreads):
        T = ws[th]
        acc = part[th]
        acc[:] = 0.0
        G = np.empty(opg * pb, gy.dtype)  # the tile's output gradients, packed: rows are outputs
        at = np.empty((KD * KH * KW, pb), np.uint64)
        ok = np.empty((KD * KH * KW, pb), np.bool_)
        for task in range(th, tasks, nthreads):
            n, g, p0, pn = _tile(task, N, groups, P, pb, m)
            _tap_table(at, ok, x, n, g * CPG, p0, pn, OD, OH, OW, KD, KH, KW, stride, pad_lo, dilation)
            _patches(T, at, ok, x, CPG, KD * KH * KW, pn, False)
            r0 = 0
            while r0 < opg:  # G[r0*pn + i*mr + r] = gy[image of p, g*opg + r0 + r, p], p = p0 + i
                mr = row_block(opg, r0)
                for i in range(pn):
                    src = (n + (p0 + i) // P) * O * P + (g * opg + r0) * P + (p0 + i) % P
                    for r in range(mr):
                        G[r0 * pn + i * mr + r] = gyflat[src + r * P]
                r0 += mr
            _strips(acc, g * opg * Q, Q, G, T, 0, off, pn, opg, Q, True)
    gwf = gw.reshape((O, Q))
    for o in prange(O):
        for q in range(Q):
            s = part[0, o, q]
            for th in range(1, nthreads):
                s += part[th, o, q]
            gwf[o, q] = s


@cached(parallel=True, fastmath=FASTMATH)
def conv_input_grad_gemm(gx, gy, w, b, has_bias, stride, pad_lo, dilation, groups, ws):
    """gx = col2im(C) + b, C[p,q] = sum_o gy[n,o,p] w[o,q] per group; one thread per (image, group),
    so the overlapping col2im adds never race. ``ws`` (threads, 2, PB, max(Q, O/groups)): the tile's
    ``gy`` packed for ``gemm.panels`` (positions as its rows), and C."""
    N, C, D, H, W = gx.shape
    O, OD, OH, OW = gy.shape[1], gy.shape[2], gy.shape[3], gy.shape[4]
    CPG, KD, KH, KW = w.shape[1], w.shape[2], w.shape[3], w.shape[4]
    Q = CPG * KD * KH * KW
    P = OD * OH * OW
    opg = O // groups
    pb, ldc = ws.shape[2], ws.shape[3]
    wf = w.reshape((O, Q))
    off = np.arange(opg) * Q  # output o's row of the weight
    gyflat = gy.reshape(N * O * P)
    nthreads = ws.shape[0]
    m = 1 if P >= pb else pb // P  # images per task: whole images, so the col2im adds never race
    tasks = ((N + m - 1) // m) * groups
    ntile = (P + pb - 1) // pb if m == 1 else 1
    for th in prange(nthreads):
        G = ws[th, 0].reshape(pb * ldc)  # gy of the tile, packed: rows are positions
        Ct = ws[th, 1]  # (PB, >= Q)
        at = np.empty((KD * KH * KW, pb), np.uint64)
        ok = np.empty((KD * KH * KW, pb), np.bool_)
        for task in range(th, tasks, nthreads):
            n = (task // groups) * m
            nb = min(m, N - n)
            g = task % groups
            c0 = g * CPG
            for k in range(nb):
                for c in range(c0, c0 + CPG):
                    gx[n + k, c] = b[c] if has_bias else 0.0
            for tile in range(ntile):
                p0 = tile * pb
                pn = min(pb, P - p0) if m == 1 else nb * P
                r0 = 0
                while r0 < pn:  # G[r0*opg + o*mr + r] = gy[image of p, g*opg + o, p], p = p0 + r0 + r
                    mr = row_block(pn, r0)
                    for r in range(mr):
                        i = p0 + r0 + r
                        src = (n + i // P) * O * P + g * opg * P + i % P
                        for o in range(opg):
                            G[r0 * opg + o * mr + r] = gyflat[src + o * P]
                    r0 += mr
                _strips(Ct, 0, ldc, G, wf, g * opg * Q, off, opg, pn, Q, False)
                _tap_table(at, ok, gx, n, c0, p0, pn, OD, OH, OW, KD, KH, KW, stride, pad_lo, dilation)
                _patches(Ct, at, ok, gx, CPG, KD * KH * KW, pn, True)


def forward_workspace(spec, threads):
    O, CPG, KD, KH, KW = spec.w_shape
    return (threads, CPG * KD * KH * KW, PB + PAD)


def weight_grad_workspace(spec, threads):
    O, CPG, KD, KH, KW = spec.w_shape
    Q = CPG * KD * KH * KW
    ld = -(-Q // PAD) * PAD
    ld += PAD * (1 - (ld // PAD) % 2)  # an odd number of 64-byte lines (float32)
    return (threads, PB, ld), (threads, O, Q)


def input_grad_workspace(spec, threads):
    O, CPG, KD, KH, KW = spec.w_shape
    Q = CPG * KD * KH * KW
    opg = O // spec.groups
    return (threads, 2, PB, max(Q, opg))


def use_gemm(spec, pass_: str, threads: int) -> bool:
    """Implicit GEMM pays off when its dot products are long enough and there is a block of
    rows to share loads over; depthwise and few-channel layers stay on the direct kernels.
    The input gradient runs one (image, group) per thread, so it also needs enough of those."""
    O, CPG, KD, KH, KW = spec.w_shape
    Q = CPG * KD * KH * KW
    opg = O // spec.groups
    if pass_ == "forward":
        return Q >= 16 and opg >= 4
    if pass_ == "weight_grad":
        return Q >= 16 and opg >= 4
    return opg >= 16 and Q >= 4 and spec.x_shape[0] * spec.groups >= threads
