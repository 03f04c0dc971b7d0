"""The one general convolution, CUDA: forward, input-gradient, weight-gradient, bias-gradient.

Shapes: ``x`` (N, C, D, H, W), ``w`` (O, C/groups, KD, KH, KW), ``y`` (N, O, OD, OH, OW).
Along each dimension, tap ``k`` of output ``o`` reads input ``o*stride + k*dilation - pad_lo``.
Each launcher has the name and signature of its CPU twin in ``numconv.kernels.cpu.conv``. The
forward is a shared-memory tiled implicit GEMM, compiled once per dtype (see ``conv_forward``). The
input-gradient is that same forward, once per phase of the stride, of ``gy`` with the taps of the
weight that reach the phase, flipped and transposed per group (``conv_input_grad``). The weight
gradient is a tiled GEMM over (image, position) with the sum split for parallelism and added in
order (``conv_weight_grad``); nothing uses atomics, so every run gives the same bits.
A transposed convolution is ``conv_input_grad`` (forward) and ``conv_forward`` (its input-gradient).
"""
import functools
import itertools

import numpy as np
from numba import cuda, float64, from_dtype, int64, uint32, uint64

from . import column_row, device_empty, flat, grid3, jit, launch, launch_grid, tap_range, unravel5, view


TQ = 16  # taps per shared-memory step
R = 4  # each thread's outputs per dimension: R x R accumulators in registers
NT = 256  # threads per block of the tiled kernels
FORCE_VARIANT = None  # tests set "tiled64", "tiled16" or "direct" to run one forward kernel everywhere


# the tiled forward kernels: (output channels per tile, outputs per thread per dimension, threads)
# (8 x 8 outputs a thread, in 64 x 64 tiles of 64 threads or 128 x 64 of 128, ran 0.65-0.96x as fast
# as 64 x 64 tiles of 4 x 4 on an H100 on the 3x3 rows; see docs/gpu.md)
TILED = {"tiled64": (64, 4, 256), "tiled16": (16, 4, 256)}
DIRECT_ROWS = 4  # outputs down a column per thread of the direct kernel: its plane found once for them
DIRECT_WEIGHTS = 64  # the direct kernel keeps a channel's weights in registers up to this many


def forward_variant(opg, cpg, taps):
    """Which forward kernel runs for ``opg`` output channels per group over ``cpg`` input channels
    and ``taps`` taps: 'tiled64' (64-channel x 64-position tiles) where a group has the channels to
    fill them, 'tiled16' (16 x 256) for fewer, and 'direct' (one thread per output, for depthwise
    and other tiny groups) where a tile would be mostly empty and the dot products are short."""
    if FORCE_VARIANT is not None:
        return FORCE_VARIANT
    if opg >= 48:
        return "tiled64"
    if opg >= 8 or cpg * taps > 64:
        return "tiled16"
    return "direct"


def conv_forward(y, x, w, b, has_bias, stride, pad_lo, dilation, groups):
    """y[n,o,p] = b[o] + sum_{j,k} w[o,j,k] * x[n, g(o)*C/groups + j, p*s + k*d - pad_lo]

    An implicit GEMM per group, Y[o, (n,p)] = sum_q W[o, q] X^[q, (n,p)] over the flat taps
    ``q = (j, kd, kh, kw)``: a block of 256 threads computes a TM x TP tile of Y (64 x 64, or
    16 x 256 for groups of fewer channels: ``forward_variant``), walking the taps in steps of
    TQ = 16 staged in shared memory (W's tile read from ``w``, X^'s tile gathered from ``x`` with
    zeros in the padding). A step's 16 rows are consecutive taps from each of NT // TP ranges of
    the (padded) tap range, so every thread stages one fixed column of X^ and the next taps of one
    range: its image and input coordinates are computed once per block, and its taps advance by
    carrying digits of (j, kd, kh, kw), without divisions. The next step is loaded into registers
    while the current one is multiplied. Each thread keeps R x R = 4 x 4 outputs in registers,
    strided by the thread grid so neighbouring threads write neighbouring positions. Depthwise and
    other tiny groups run ``_conv_forward_direct``, one thread per output. Stages and accumulates in
    the arrays' dtype (float32 runs FP32 FMAs), in the same order on every run.
    """
    _forward(y, tuple(y.shape[2:]), (1, 1, 1), (0, 0, 0), x, w, b, has_bias, stride, pad_lo, dilation, groups)


def _forward(y, out, ystep, yfirst, x, w, b, has_bias, stride, pad_lo, dilation, groups):
    """``conv_forward`` at ``out`` = (OD, OH, OW) positions, output position ``p`` (per dimension)
    written to ``y[n, o, p*ystep + yfirst]``: all of ``y`` for a convolution, one phase of it for
    the strided input-gradient (``conv_input_grad``)."""
    N, O = y.shape[0], y.shape[1]
    C, D, H, W = x.shape[1], x.shape[2], x.shape[3], x.shape[4]
    OD, OH, OW = out
    NP = N * OD * OH * OW
    opg = O // groups
    if NP == 0 or opg == 0:
        return
    CPG, KD, KH, KW = w.shape[1], w.shape[2], w.shape[3], w.shape[4]
    variant = forward_variant(opg, CPG, KD * KH * KW)
    if variant == "direct":
        grid, block = grid3(OW, (OH + DIRECT_ROWS - 1) // DIRECT_ROWS, N * O * OD)
        launch_grid(_conv_forward_direct(y.dtype, CPG, KD, KH, KW), grid, block, flat(y), flat(x), flat(w), b, has_bias,
                    *stride, *pad_lo, *dilation, groups, N, C, D, H, W, O, *y.shape[2:], OD, OH, OW, *ystep, *yfirst)
        return
    tm, r, nt = TILED[variant]
    tp = nt * r * r // tm
    grid = ((NP + tp - 1) // tp, (opg + tm - 1) // tm, groups)
    launch_grid(_conv_forward(y.dtype, tm, r, nt), grid, nt, flat(y), flat(x), flat(w), b, has_bias,
                *stride, *pad_lo, *dilation, groups, N, C, D, H, W, O, OD, OH, OW, CPG, KD, KH, KW,
                *y.shape[2:], *ystep, *yfirst)


@functools.lru_cache(maxsize=None)
def _conv_forward_direct(dtype, CPG, KD, KH, KW):
    """The textbook sum over the group's ``CPG`` channels and the taps, for DIRECT_ROWS outputs down
    a column a thread, compiled per dtype and weight shape with its loops unrolled. The thread's
    output column and first row come from a ``grid3`` grid, whose z strides over (image, channel,
    depth); it finds those three once for its DIRECT_ROWS outputs, keeps the channel's weights
    in registers (at most DIRECT_WEIGHTS of them) and indexes flat arrays from the plane's start.
    A tap in the padding loads a clamped input element and does not add it: every load is issued
    without a branch, before the sums need them.
    (On an H100, one thread per output that found its plane with five 64-bit divisions and indexed
    5-d arrays ran the depthwise layer at 0.25x cuDNN; one per flat output that also branched around
    padded taps, at 0.23x.)"""
    T = from_dtype(dtype)
    NWT = CPG * KD * KH * KW
    KEEP = NWT <= DIRECT_WEIGHTS  # the weights in registers, else read where they are

    def kernel(y, x, w, b, has_bias, sd, sh, sw, pd, ph, pw, dd, dh, dw, groups, N, C, D, H, W, O, YD, YH, YW,
               OD, OH, OW, ysd, ysh, ysw, yrd, yrh, yrw):
        ow, q = column_row()
        oh0 = q * DIRECT_ROWS
        if ow >= OW or oh0 >= OH:
            return
        opg = O // groups
        wk = cuda.local.array(NWT if KEEP else 1, T)
        for z in range(cuda.blockIdx.z, N * O * OD, cuda.gridDim.z):
            od = z % OD
            o = z // OD
            n = o // O
            o -= n * O
            c0 = (o // opg) * CPG
            wo = uint64(o * NWT)
            if KEEP:
                for t in range(NWT):
                    wk[t] = w[wo + uint64(t)]
            xn = uint64((n * C + c0) * D)  # the group's first input plane, in (D, H, W) slabs
            yo = uint64(((n * O + o) * YD + od * ysd + yrd) * YH)
            for r in range(DIRECT_ROWS):
                oh = oh0 + r
                if oh < OH:
                    acc = b[o] if has_bias else T(0)
                    for j in range(CPG):
                        for kd in range(KD):
                            i0, in0 = _clamped(od * sd + kd * dd - pd, D)
                            for kh in range(KH):
                                i1, in1 = _clamped(oh * sh + kh * dh - ph, H)
                                row = ((xn + uint64(j * D + i0)) * uint64(H) + uint64(i1)) * uint64(W)
                                for kw in range(KW):
                                    i2, in2 = _clamped(ow * sw + kw * dw - pw, W)
                                    t = ((j * KD + kd) * KH + kh) * KW + kw
                                    v = x[row + uint64(i2)]
                                    wv = wk[t] if KEEP else w[wo + uint64(t)]
                                    if in0 and in1 and in2:
                                        acc += wv * v
                    y[(yo + uint64(oh * ysh + yrh)) * uint64(YW) + uint64(ow * ysw + yrw)] = acc

    return jit(kernel)


@cuda.jit(device=True)
def _clamped(i, n):
    """(``i`` clamped into [0, n), whether it was inside): a padded tap loads a real element, and
    the caller adds it only where it was inside, so every load is issued without a branch."""
    return min(max(i, 0), n - 1), 0 <= i < n


@cuda.jit(device=True)
def _tap_digits(q, KD, KH, KW):
    """The flat tap ``q`` as (j, kd, kh, kw)."""
    kw = q % KW
    q //= KW
    kh = q % KH
    q //= KH
    return q // KD, q % KD, kh, kw


@cuda.jit(device=True)
def _next_tap(j, kd, kh, kw, KD, KH, KW):
    """The flat tap after (j, kd, kh, kw), carrying instead of dividing."""
    kw += 1
    if kw == KW:
        kw = 0
        kh += 1
        if kh == KH:
            kh = 0
            kd += 1
            if kd == KD:
                kd = 0
                j += 1
    return j, kd, kh, kw


@functools.lru_cache(maxsize=None)
def _conv_forward(dtype, tm, r=R, nt=NT):
    """The tiled forward kernel for arrays of ``dtype`` with tiles of ``tm`` output channels, ``nt``
    threads each computing ``r`` x ``r`` outputs (one compiled kernel per choice). Arrays are flat."""
    T = from_dtype(np.dtype(dtype))
    R, NT = r, nt  # (the kernel's constants)
    TM, TP = tm, NT * R * R // tm  # the tile: output channels x output positions
    TX, TY = TP // R, TM // R  # the thread grid over it: TX x TY = NT threads
    XL = TQ * TP // NT  # X^ values each thread stages per step: XL consecutive taps of one column
    WL = TQ * TM // NT  # W values each thread stages per step: one tap of WL channels
    W_TILE, X_TILE = TM * TQ, TQ * TP  # shared-memory tile sizes

    def kernel(y, x, w, b, has_bias, sd, sh, sw, pd, ph, pw, dd, dh, dw, groups,
               N, C, D, H, W, O, OD, OH, OW, CPG, KD, KH, KW, YD, YH, YW, ysd, ysh, ysw, yrd, yrh, yrw):
        # Output position (od, oh, ow) goes to y's (od*ysd + yrd, oh*ysh + yrh, ow*ysw + yrw), in y's
        # sizes YD x YH x YW (``_forward``).
        # Shared and flat arrays are indexed with unsigned offsets: no negative-index wraparound code.
        s_w = cuda.shared.array(W_TILE, T)  # W tile, [m * TQ + qq]
        s_x = cuda.shared.array(X_TILE, T)  # X^ tile, [qq * TP + pp]
        acc = cuda.local.array((R, R), T)
        xr = cuda.local.array(XL, T)  # the next step, in registers until it goes to shared memory
        wr = cuda.local.array(WL, T)
        av = cuda.local.array(R, T)
        bv = cuda.local.array(R, T)
        yoff = cuda.local.array(R, int64)
        zero = T(0)
        tid = cuda.threadIdx.x
        tx, ty = tid % TX, tid // TX
        g = cuda.blockIdx.z
        m0 = cuda.blockIdx.y * TM  # first output channel of the tile, within the group
        p0 = cuda.blockIdx.x * TP  # first flat (image, position) of the tile
        P = OD * OH * OW
        NP = N * P
        opg = O // groups
        Q = CPG * KD * KH * KW
        # Row qq of a step's tile is tap (qq // XL) * QR + step * XL + qq % XL: the taps split into
        # NT // TP = TQ // XL ranges of QR, each walked XL taps per step, so that every thread
        # stages consecutive taps from one step to the next.
        QR = (Q + TQ - 1) // TQ * XL
        steps = QR // XL
        # X^ staging: column p0 + xp, rows xq .. xq + XL - 1, i.e. XL taps of range tid // TP
        xp, xq = tid % TP, (tid // TP) * XL
        col = p0 + xp
        col_ok = col < NP
        n = col // P
        p = col - n * P
        od = p // (OH * OW)
        oh = (p // OW) % OH
        ow = p % OW
        i0b, i1b, i2b = od * sd - pd, oh * sh - ph, ow * sw - pw  # input coordinates of tap 0
        xbase = (n * C + g * CPG) * (D * H * W)
        tj, tkd, tkh, tkw = _tap_digits((tid // TP) * QR, KD, KH, KW)  # the next tap this thread stages
        xst = uint64(xq * TP + xp)
        # W staging: row wq of channels m0 + wm + k * (NT // TQ)
        wq, wm = tid % TQ, tid // TQ
        wtap = (wq // XL) * QR + wq % XL  # its tap at step 0
        wbase = (g * opg + m0 + wm) * Q + wtap
        wlim = Q - wtap  # its tap exists while step * XL < wlim
        wrows = opg - m0 - wm  # channels k * (NT // TQ) < wrows exist
        wst = uint64(wm * TQ + wq)
        busy = m0 + ty < opg and p0 + tx < NP  # some of this thread's outputs exist
        for i in range(R):
            for j in range(R):
                acc[i, j] = zero
        # iteration s moves step s - 1 from registers to shared memory, loads step s into
        # registers, then multiplies step s - 1
        for s in range(steps + 1):
            if s > 0:
                for k in range(WL):
                    s_w[wst + uint64(k * (NT // TQ) * TQ)] = wr[k]
                for k in range(XL):
                    s_x[xst + uint64(k * TP)] = xr[k]
                cuda.syncthreads()
            if s < steps:
                w_ok = s * XL < wlim
                for k in range(WL):
                    v = zero
                    if w_ok and k * (NT // TQ) < wrows:
                        v = w[uint64(wbase + k * (NT // TQ) * Q + s * XL)]
                    wr[k] = v
                for k in range(XL):
                    v = zero
                    if col_ok and tj < CPG:
                        i0, i1, i2 = i0b + tkd * dd, i1b + tkh * dh, i2b + tkw * dw
                        if 0 <= i0 < D and 0 <= i1 < H and 0 <= i2 < W:
                            v = x[uint64(xbase + ((tj * D + i0) * H + i1) * W + i2)]
                    xr[k] = v
                    tj, tkd, tkh, tkw = _next_tap(tj, tkd, tkh, tkw, KD, KH, KW)
            if s > 0 and busy:
                wo, xo = uint64(ty * TQ), uint64(tx)  # W[ty, qq] and X^[qq, tx], for qq = 0
                for qq in range(TQ):
                    for i in range(R):
                        av[i] = s_w[wo + uint64(i * TY * TQ)]
                    for j in range(R):
                        bv[j] = s_x[xo + uint64(j * TX)]
                    for i in range(R):
                        for j in range(R):
                            acc[i, j] += av[i] * bv[j]
                    wo += uint64(1)
                    xo += uint64(TP)
            if s > 0:
                cuda.syncthreads()
        YP = YD * YH * YW
        for j in range(R):
            c = p0 + tx + j * TX
            yoff[j] = -1
            if c < NP:
                nn = c // P
                p = c - nn * P
                ow = p % OW
                p //= OW
                yoff[j] = nn * O * YP + (((p // OH) * ysd + yrd) * YH + (p % OH) * ysh + yrh) * YW + ow * ysw + yrw
        for i in range(R):
            m = m0 + ty + i * TY
            if m < opg:
                o = g * opg + m
                bo = b[o] if has_bias else zero
                for j in range(R):
                    if yoff[j] >= 0:
                        y[uint64(yoff[j] + o * YP)] = acc[i, j] + bo

    return jit(kernel)


def conv_input_grad(gx, gy, w, b, has_bias, stride, pad_lo, dilation, groups):
    """gx[n,c,i] = b[c] + sum_{o in group(c), k, p : p*s + k*d - pad_lo = i} w[o, c mod C/groups, k] * gy[n,o,p]

    The bias (of the transposed convolution this kernel is the forward of) is zero for a gradient.
    Split by phase: along a dimension of stride s, the elements ``i = i'*s + r`` of one phase ``r``
    are read only by the taps with ``r + pad_lo - k*d`` a multiple of s, from outputs ``p = i' +
    (r + pad_lo - k*d)/s``. So each phase is a stride-1 convolution of ``gy`` (``_phases``: the
    taps, a dilation and a padding per dimension) with those taps of the weight flipped and
    transposed per group, ``wt[g*C/groups + j, m, t] = w[g*O/groups + m, j, k_last - t*step]``
    (``_flip_transpose``), run by the tiled forward (the same dtype arithmetic, deterministic) with
    its outputs written to every s-th element of ``gx``. Stride 1 is one phase: the forward of ``gy``
    with the whole weight flipped. Phases no tap reaches (a kernel shorter than the stride) are
    zero, or the bias.
    """
    O, CPG = w.shape[0], w.shape[1]
    phases = [_phases(n, k, s, p, d) for n, k, s, p, d in
              zip(gx.shape[2:], w.shape[2:], stride, pad_lo, dilation)]
    live = [[ph for ph in dim if ph[1] > 0] for dim in phases]  # phases with elements
    runs = list(itertools.product(*[[ph for ph in dim if ph[2] > 0] for dim in live]))
    if len(runs) < len(live[0]) * len(live[1]) * len(live[2]):  # some elements no tap reaches
        launch(_fill_zero, gx.size, flat(gx))
        if has_bias:
            add_channel_bias(view(gx, (gx.shape[0], gx.shape[1], -1)), b)
    for phd, phh, phw in runs:
        (rd, cd, td, kd, ed, dd, pd), (rh, ch, th, kh, eh, dh, ph), (rw, cw, tw, kw, ew, dw, pw) = phd, phh, phw
        wt = device_empty((groups * CPG, O // groups, td, th, tw), w.dtype)  # each phase's own: no slicing
        launch(_flip_transpose, wt.size, wt, w, kd, kh, kw, ed, eh, ew)
        _forward(gx, (cd, ch, cw), stride, (rd, rh, rw), gy, wt, b, has_bias, (1, 1, 1), (pd, ph, pw), (dd, dh, dw),
                 groups)


def _phases(n, k, s, p, d):
    """The phases of one dimension of ``conv_input_grad``: for each r < s, (r, elements, taps,
    last tap, tap step, dilation, padding). Elements ``i'*s + r < n``; the taps are ``k_last -
    t*step`` for t < taps; as a forward over ``gy``, element i' reads ``i' + t*dilation - padding``."""
    out = []
    for r in range(s):
        ks = [j for j in range(k) if (r + p - j * d) % s == 0]
        step = ks[1] - ks[0] if len(ks) > 1 else 1
        last = ks[-1] if ks else 0
        out.append((r, max(0, -(-(n - r) // s)), len(ks), last, step, step * d // s, -((r + p - last * d) // s)))
    return out


@jit
def _flip_transpose(wt, w, kd0, kh0, kw0, ed, eh, ew):
    """wt[g*CPG + j, m, td, th, tw] = w[g*opg + m, j, kd0 - td*ed, kh0 - th*eh, kw0 - tw*ew]
    (one thread per ``wt`` element)."""
    t = cuda.grid(1)
    if t >= wt.size:
        return
    opg, KD, KH, KW = wt.shape[1], wt.shape[2], wt.shape[3], wt.shape[4]
    CPG = w.shape[1]
    c, m, td, th, tw = unravel5(t, opg, KD, KH, KW)
    g = c // CPG
    wt[c, m, td, th, tw] = w[g * opg + m, c - g * CPG, kd0 - td * ed, kh0 - th * eh, kw0 - tw * ew]


def conv_weight_grad(gw, x, gy, stride, pad_lo, dilation, groups):
    """gw[o,j,k] = sum_{n,p} gy[n,o,p] * x[n, g(o)*C/groups + j, p*s + k*d - pad_lo]

    A GEMM per group, GW[m, q] = sum_r GY[m, r] X^[q, r] over r = (n, p), tiled like the forward:
    a block of 256 threads sums a 64 x 64 tile of (output channel, tap) over its share of r,
    staging 16 values of r of both factors in shared memory per step (X^ gathered from ``x``,
    zeros in the padding); each thread keeps 4 x 4 sums in float64 registers. The r range is split
    (``_weight_grad_splits``) so that small weights still fill the GPU: each split's block writes its
    partial tile, and a second kernel adds the splits in order, so every run gives the same bits.
    Depthwise and other small groups run ``_weight_grad_reduce`` instead, and below WG_TILED_MIN
    products in all one thread per weight element sums them (``_conv_weight_grad``): see
    ``weight_grad_variant``.
    """
    O, CPG, KD, KH, KW = gw.shape[0], gw.shape[1], gw.shape[2], gw.shape[3], gw.shape[4]
    N, C, D, H, W = x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4]
    OD, OH, OW = gy.shape[2], gy.shape[3], gy.shape[4]
    opg, Q, NP = O // groups, CPG * KD * KH * KW, N * OD * OH * OW
    if gw.size == 0:
        return
    if NP == 0:
        launch(_fill_zero, gw.size, flat(gw))
        return
    variant = weight_grad_variant(opg, Q, gw.size * NP)
    if variant == "elementwise":
        launch(_conv_weight_grad, gw.size, gw, x, gy, *stride, *pad_lo, *dilation, groups)
        return
    if variant == "reduce":
        splits = max(1, min(-(-WG_BLOCKS // O), -(-NP // (WG_REDUCE_THREADS * WG_REDUCE_STEPS))))
        part = device_empty((splits * gw.size,), np.dtype(np.float64))
        nt = WG_REDUCE_THREADS
        launch_grid(_weight_grad_reduce(CPG, KD, KH, KW, nt), (O, splits), nt, part, x, gy, *stride, *pad_lo,
                    *dilation, groups, splits)
    else:
        tiles = groups * ((opg + WG_TILE - 1) // WG_TILE) * ((Q + WG_TILE - 1) // WG_TILE)
        splits = _weight_grad_splits(tiles, NP)
        part = device_empty((splits * gw.size,), np.dtype(np.float64))
        grid = ((Q + WG_TILE - 1) // WG_TILE, (opg + WG_TILE - 1) // WG_TILE, groups * splits)
        launch_grid(_weight_grad_tiled(x.dtype), grid, NT, part, flat(x), flat(gy), *stride, *pad_lo, *dilation,
                    groups, splits, N, C, D, H, W, O, OD, OH, OW, CPG, KD, KH, KW)
    launch(_sum_splits, gw.size, flat(gw), part, splits)


WG_FORCE = None  # tests set "tiled", "reduce" or "elementwise" to run one weight-gradient kernel
WG_REDUCE_MAX = 32  # taps (channels x kernel taps) per output channel up to which "reduce" may run
WG_REDUCE_STEPS = 16  # ... and the fewest (image, position) steps of its block's threads per split
WG_REDUCE_THREADS = NT  # its threads per block, a power of two (the simulator's cases run 32)


def weight_grad_variant(opg, q, products):
    """Which weight-gradient kernel runs for ``opg`` output channels per group over ``q`` taps per
    channel (input channels x kernel taps), ``products`` multiply-adds in all: 'reduce' (a block per
    output channel, each thread summing all ``q`` taps in registers over its share of (image,
    position)) for depthwise and other small groups, where a 64 x 64 tile would be mostly empty;
    'elementwise' (a thread per weight element) for small problems; else 'tiled'."""
    if WG_FORCE is not None:
        return WG_FORCE
    if q <= WG_REDUCE_MAX and opg < 16:
        return "reduce"
    return "elementwise" if products < WG_TILED_MIN else "tiled"


@functools.lru_cache(maxsize=None)
def _weight_grad_reduce(CPG, KD, KH, KW, NTR):
    """part[split, o, j, kd, kh, kw] = sum over the split's share of r = (n, od, oh, ow) of
    gy[n, o, od, oh, ow] * x[n, g(o)*CPG + j, od*sd + kd*dd - pd, ...]: block (o, split); its NTR
    threads walk r in steps of NTR (carrying the step's digits, without divisions), each summing all
    CPG*KD*KH*KW products in float64 registers (the loops unrolled: compiled per weight shape); a
    tree in shared memory then adds the threads' sums in a fixed order, 16 taps at a time. Padded taps load a clamped
    element and do not add it, as in ``_conv_forward_direct``."""
    NQ = CPG * KD * KH * KW
    QC = min(NQ, 16)  # taps reduced together: QC x NTR float64 in shared memory (32 KB at 16 x 256)
    RED = QC * NTR  # (a constant for cuda.shared.array)

    def kernel(part, x, gy, sd, sh, sw, pd, ph, pw, dd, dh, dw, groups, splits):
        acc = cuda.local.array(NQ, float64)
        red = cuda.shared.array(RED, float64)
        tid = cuda.threadIdx.x
        o, split = cuda.blockIdx.x, cuda.blockIdx.y
        N, O, OD, OH, OW = gy.shape[0], gy.shape[1], gy.shape[2], gy.shape[3], gy.shape[4]
        D, H, W = x.shape[2], x.shape[3], x.shape[4]
        c0 = (o // (O // groups)) * CPG
        NP = N * OD * OH * OW
        per = (NP + splits - 1) // splits
        r_lo = split * per
        r_hi = min(NP, r_lo + per)
        for q in range(NQ):
            acc[q] = 0.0
        # r = r_lo + tid as digits (n, od, oh, ow); the step NTR as digits of the same radices
        r = r_lo + tid
        ow = r % OW
        t = r // OW
        oh = t % OH
        t //= OH
        od = t % OD
        n = t // OD
        s_w = NTR % OW
        t = NTR // OW
        s_h = t % OH
        t //= OH
        s_d = t % OD
        s_n = t // OD
        while r < r_hi:
            gv = float64(gy[n, o, od, oh, ow])
            q = 0
            for j in range(CPG):
                for kd in range(KD):
                    i0, in0 = _clamped(od * sd + kd * dd - pd, D)
                    for kh in range(KH):
                        i1, in1 = _clamped(oh * sh + kh * dh - ph, H)
                        for kw in range(KW):
                            i2, in2 = _clamped(ow * sw + kw * dw - pw, W)
                            v = x[n, c0 + j, i0, i1, i2]
                            if in0 and in1 and in2:
                                acc[q] += gv * float64(v)
                            q += 1
            r += NTR
            ow += s_w
            carry = 0
            if ow >= OW:
                ow -= OW
                carry = 1
            oh += s_h + carry
            carry = 0
            if oh >= OH:
                oh -= OH
                carry = 1
            od += s_d + carry
            carry = 0
            if od >= OD:
                od -= OD
                carry = 1
            n += s_n + carry
        # the threads' sums, QC taps at a time: a tree over the threads for all QC at once
        base = (split * O + o) * NQ
        for q0 in range(0, NQ, QC):
            for q in range(QC):
                if q0 + q < NQ:
                    red[q * NTR + tid] = acc[q0 + q]
            half = NTR // 2
            while half > 0:
                cuda.syncthreads()
                if tid < half:
                    for q in range(QC):
                        red[q * NTR + tid] += red[q * NTR + tid + half]
                half //= 2
            cuda.syncthreads()
            if tid < QC and q0 + tid < NQ:
                part[base + q0 + tid] = red[tid * NTR]
            cuda.syncthreads()

    return jit(kernel)


WG_TILE, WG_STEP = 64, 16  # the weight gradient's tile (output channels x taps) and its step along r
WG_BLOCKS = 512  # split r until the weight gradient has about this many blocks
WG_MIN_R = 256  # ... but give each split at least this many values of r
WG_TILED_MIN = 1 << 22  # products (weight elements x (image, position) pairs) from which the tiles pay


def _weight_grad_splits(tiles, NP):
    """How many parts the weight gradient's reduction over r = (image, position) is split into."""
    return max(1, min(-(-WG_BLOCKS // tiles), -(-NP // WG_MIN_R)))


@functools.lru_cache(maxsize=None)
def _weight_grad_tiled(dtype):
    """The tiled weight-gradient kernel for arrays of ``dtype`` (staged in it, summed in float64).
    Arrays are flat; ``part`` is (splits, groups, opg, Q)."""
    T = from_dtype(np.dtype(dtype))

    def kernel(part, x, gy, sd, sh, sw, pd, ph, pw, dd, dh, dw, groups, splits,
               N, C, D, H, W, O, OD, OH, OW, CPG, KD, KH, KW):
        s_g = cuda.shared.array((WG_STEP, WG_TILE), T)  # [r, m]
        s_x = cuda.shared.array((WG_STEP, WG_TILE), T)  # [r, q]
        acc = cuda.local.array((R, R), float64)
        tid = cuda.threadIdx.x
        tx, ty = tid % 16, tid // 16
        g, split = cuda.blockIdx.z // splits, cuda.blockIdx.z % splits
        m0, q0 = cuda.blockIdx.y * WG_TILE, cuda.blockIdx.x * WG_TILE
        opg = O // groups
        P = OD * OH * OW
        NP = N * P
        Q = CPG * KD * KH * KW
        per = (NP + splits - 1) // splits
        r_lo = split * per
        r_hi = min(NP, r_lo + per)
        for i in range(R):
            for jj in range(R):
                acc[i, jj] = 0.0
        # this thread stages row ``sm`` of both tiles (channel m0 + sm of GY, tap q0 + sm of X^)
        # at the four values of r from ``sk`` in each step
        sm, sk = tid // 4, (tid % 4) * 4
        m, q = m0 + sm, q0 + sm
        m_ok, q_ok = m < opg, q < Q
        kw = q % KW
        t = q // KW
        kh = t % KH
        t //= KH
        kd = t % KD
        c = g * CPG + t // KD
        o = g * opg + m
        offd, offh, offw = kd * dd - pd, kh * dh - ph, kw * dw - pw
        uP, uOW, uOH = uint32(P), uint32(OW), uint32(OH)
        zero = T(0)
        for r0 in range(r_lo, r_hi, WG_STEP):
            for i in range(4):
                r = r0 + sk + i
                gv = zero
                xv = zero
                if r < r_hi:
                    ur = uint32(r)
                    n = int64(ur // uP)
                    up = ur % uP
                    p = int64(up)
                    ow = int64(up % uOW)
                    up //= uOW
                    oh = int64(up % uOH)
                    od = int64(up // uOH)
                    if m_ok:
                        gv = gy[uint64((n * O + o) * P + p)]
                    i0, i1, i2 = od * sd + offd, oh * sh + offh, ow * sw + offw
                    if q_ok and 0 <= i0 < D and 0 <= i1 < H and 0 <= i2 < W:
                        xv = x[uint64((((n * C + c) * D + i0) * H + i1) * W + i2)]
                s_g[sk + i, sm] = gv
                s_x[sk + i, sm] = xv
            cuda.syncthreads()
            for kk in range(WG_STEP):
                for i in range(R):
                    a = float64(s_g[kk, ty + 16 * i])
                    for jj in range(R):
                        acc[i, jj] += a * float64(s_x[kk, tx + 16 * jj])
            cuda.syncthreads()
        for i in range(R):
            mm = m0 + ty + 16 * i
            if mm < opg:
                for jj in range(R):
                    qq = q0 + tx + 16 * jj
                    if qq < Q:
                        part[uint64(((split * groups + g) * opg + mm) * Q + qq)] = acc[i, jj]

    return jit(kernel)


@jit
def _conv_weight_grad(gw, x, gy, sd, sh, sw, pd, ph, pw, dd, dh, dw, groups):
    t = cuda.grid(1)
    if t >= gw.size:
        return
    O, CPG, KD, KH, KW = gw.shape[0], gw.shape[1], gw.shape[2], gw.shape[3], gw.shape[4]
    N, D, H, W = x.shape[0], x.shape[2], x.shape[3], x.shape[4]
    OD, OH, OW = gy.shape[2], gy.shape[3], gy.shape[4]
    o, j, kd, kh, kw = unravel5(t, CPG, KD, KH, KW)
    c = (o // (O // groups)) * CPG + j
    offd, offh, offw = kd * dd - pd, kh * dh - ph, kw * dw - pw
    d0, d1 = tap_range(offd, sd, D, OD)
    h0, h1 = tap_range(offh, sh, H, OH)
    w0, w1 = tap_range(offw, sw, W, OW)
    s = 0.0
    for n in range(N):
        for od in range(d0, d1):
            i0 = od * sd + offd
            for oh in range(h0, h1):
                i1 = oh * sh + offh
                for ow in range(w0, w1):
                    s += gy[n, o, od, oh, ow] * x[n, c, i0, i1, ow * sw + offw]
    gw[o, j, kd, kh, kw] = s


@jit
def _sum_splits(gw, part, splits):
    """gw[t] = the splits' partial sums of element t, added in order (float64)."""
    t = cuda.grid(1)
    if t >= gw.size:
        return
    s = 0.0
    for k in range(splits):
        s += part[k * gw.size + t]
    gw[t] = s


@jit
def _fill_zero(a):
    t = cuda.grid(1)
    if t < a.size:
        a[t] = 0


def conv_bias_grad(gb, gy):
    """gb[o] = sum_{n,p} gy[n,o,p] (one thread per channel, float64 sum)"""
    launch(_conv_bias_grad, gb.size, gb, gy)


@jit
def _conv_bias_grad(gb, gy):
    o = cuda.grid(1)
    if o >= gb.size:
        return
    N, P0, P1, P2 = gy.shape[0], gy.shape[2], gy.shape[3], gy.shape[4]
    s = 0.0
    for n in range(N):
        for a in range(P0):
            for e in range(P1):
                for f in range(P2):
                    s += gy[n, o, a, e, f]
    gb[o] = s


def add_channel_bias(y, b):
    """y[n,o,p] += b[o] (in place)"""
    launch(_add_channel_bias, y.size, y, b)


@jit
def _add_channel_bias(y, b):
    t = cuda.grid(1)
    if t >= y.size:
        return
    O, P = y.shape[1], y.shape[2]
    n, _, _, o, p = unravel5(t, 1, 1, O, P)
    y[n, o, p] += b[o]
