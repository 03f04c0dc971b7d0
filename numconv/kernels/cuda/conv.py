"""The one general convolution, CUDA: forward, input-gradient, weight-gradient, bias-gradient.

Shapes: ``x`` (N, C, D, H, W), ``w`` (O, C/groups, KD, KH, KW), ``y`` (N, O, OD, OH, OW).
Along each dimension, tap ``k`` of output ``o`` reads input ``o*stride + k*dilation - pad_lo``.
Each launcher has the name and signature of its CPU twin in ``numconv.kernels.cpu.conv``. The
forward is a shared-memory tiled implicit GEMM (see ``conv_forward``); the other passes run one
thread per element of their first argument. The input-gradient is a gather: the thread
owning ``gx[n,c,i]`` asks each tap which output read ``i`` (``tap_source``), so no atomics.
A transposed convolution is ``conv_input_grad`` (forward) and ``conv_forward`` (its input-gradient).
"""
from numba import cuda, float64

from . import jit, launch, tap_range, tap_source, unravel5


TM, TP, TQ = 32, 32, 16  # a block's tile: output channels x output positions, taps per shared-memory step
R = 4  # each thread's outputs per dimension: R x R accumulators in registers
THREADS = TM // R  # threads per block dimension (8 x 8)


def conv_forward(y, x, w, b, has_bias, stride, pad_lo, dilation, groups):
    """y[n,o,p] = b[o] + sum_{j,k} w[o,j,k] * x[n, g(o)*C/groups + j, p*s + k*d - pad_lo]

    An implicit GEMM per group, Y[o, (n,p)] = sum_q W[o, q] X^[q, (n,p)] over the flat taps
    ``q = (j, kd, kh, kw)``: a block computes a TM x TP tile of Y, walking q in TQ-wide steps that
    its threads stage in shared memory (W's tile as is, X^'s tile gathered from ``x`` with zeros in
    the padding), and each thread keeps R x R outputs in registers, strided by the thread grid so
    neighbouring threads write neighbouring positions. Accumulates in float64, in q order.
    """
    N, O = y.shape[0], y.shape[1]
    NP = N * y.shape[2] * y.shape[3] * y.shape[4]
    opg = O // groups
    if NP == 0 or opg == 0:
        return
    Q = w.shape[1] * w.shape[2] * w.shape[3] * w.shape[4]
    grid = ((NP + TP - 1) // TP, (opg + TM - 1) // TM, groups)
    _conv_forward[grid, (THREADS, THREADS)](y, x, w.reshape(O, Q), b, has_bias, *stride, *pad_lo, *dilation, groups,
                                            w.shape[1], w.shape[2], w.shape[3], w.shape[4])


@jit
def _conv_forward(y, x, w, b, has_bias, sd, sh, sw, pd, ph, pw, dd, dh, dw, groups, CPG, KD, KH, KW):
    s_w = cuda.shared.array((TQ, TM), float64)
    s_x = cuda.shared.array((TQ, TP), float64)
    acc = cuda.local.array((R, R), float64)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    tid = ty * THREADS + tx
    g = cuda.blockIdx.z
    m0 = cuda.blockIdx.y * TM  # first output channel of the tile, within the group
    p0 = cuda.blockIdx.x * TP  # first flat (image, position) of the tile
    N, O, OD, OH, OW = y.shape[0], y.shape[1], y.shape[2], y.shape[3], y.shape[4]
    D, H, W = x.shape[2], x.shape[3], x.shape[4]
    P = OD * OH * OW
    opg = O // groups
    Q = CPG * KD * KH * KW
    for i in range(R):
        for j in range(R):
            acc[i, j] = 0.0
    for q0 in range(0, Q, TQ):
        for e in range(tid, TQ * TM, THREADS * THREADS):
            qq, mm = e // TM, e % TM
            if m0 + mm < opg and q0 + qq < Q:
                s_w[qq, mm] = w[g * opg + m0 + mm, q0 + qq]
            else:
                s_w[qq, mm] = 0.0
        for e in range(tid, TQ * TP, THREADS * THREADS):
            qq, pp = e // TP, e % TP
            v = 0.0
            col, q = p0 + pp, q0 + qq
            if col < N * P and q < Q:
                n, p = col // P, col % P
                od, oh, ow = p // (OH * OW), (p // OW) % OH, p % OW
                j, kd, kh, kw = q // (KD * KH * KW), (q // (KH * KW)) % KD, (q // KW) % KH, q % KW
                i0, i1, i2 = od * sd + kd * dd - pd, oh * sh + kh * dh - ph, ow * sw + kw * dw - pw
                if 0 <= i0 < D and 0 <= i1 < H and 0 <= i2 < W:
                    v = x[n, g * CPG + j, i0, i1, i2]
            s_x[qq, pp] = v
        cuda.syncthreads()
        for qq in range(TQ):
            for i in range(R):
                a = s_w[qq, ty + i * THREADS]
                for j in range(R):
                    acc[i, j] += a * s_x[qq, tx + j * THREADS]
        cuda.syncthreads()
    for i in range(R):
        m = m0 + ty + i * THREADS
        if m >= opg:
            continue
        o = g * opg + m
        for j in range(R):
            col = p0 + tx + j * THREADS
            if col < N * P:
                n, p = col // P, col % P
                v = acc[i, j] + (b[o] if has_bias else 0.0)
                y[n, o, p // (OH * OW), (p // OW) % OH, p % OW] = v


def conv_input_grad(gx, gy, w, b, has_bias, stride, pad_lo, dilation, groups):
    """gx[n,c,i] = b[c] + sum_{o in group(c), k, p : p*s + k*d - pad_lo = i} w[o, c mod C/groups, k] * gy[n,o,p]

    The bias (of the transposed convolution this kernel is the forward of) is zero for a gradient.
    One thread per ``gx`` element gathers the outputs that read it, checking that ``i - k*d + pad_lo``
    is a multiple of the stride.
    """
    launch(_conv_input_grad, gx.size, gx, gy, w, b, has_bias, *stride, *pad_lo, *dilation, groups)


@jit
def _conv_input_grad(gx, gy, w, b, has_bias, sd, sh, sw, pd, ph, pw, dd, dh, dw, groups):
    t = cuda.grid(1)
    if t >= gx.size:
        return
    C, D, H, W = gx.shape[1], gx.shape[2], gx.shape[3], gx.shape[4]
    O, OD, OH, OW = gy.shape[1], gy.shape[2], gy.shape[3], gy.shape[4]
    CPG, KD, KH, KW = w.shape[1], w.shape[2], w.shape[3], w.shape[4]
    n, c, i0, i1, i2 = unravel5(t, C, D, H, W)
    opg = O // groups
    g = c // CPG
    j = c - g * CPG
    acc = b[c] if has_bias else gx.dtype.type(0)
    for kd in range(KD):
        od = tap_source(i0, kd * dd - pd, sd, OD)
        if od < 0:
            continue
        for kh in range(KH):
            oh = tap_source(i1, kh * dh - ph, sh, OH)
            if oh < 0:
                continue
            for kw in range(KW):
                ow = tap_source(i2, kw * dw - pw, sw, OW)
                if ow < 0:
                    continue
                for o in range(g * opg, (g + 1) * opg):
                    acc += w[o, j, kd, kh, kw] * gy[n, o, od, oh, ow]
    gx[n, c, i0, i1, i2] = acc


def conv_weight_grad(gw, x, gy, stride, pad_lo, dilation, groups):
    """gw[o,j,k] = sum_{n,p} gy[n,o,p] * x[n, g(o)*C/groups + j, p*s + k*d - pad_lo]

    One thread per weight element reduces over the batch and the output positions (float64 sum).
    """
    launch(_conv_weight_grad, gw.size, gw, x, gy, *stride, *pad_lo, *dilation, groups)


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
