"""The one general convolution, CUDA: forward, input-gradient, weight-gradient, bias-gradient.

Shapes: ``x`` (N, C, D, H, W), ``w`` (O, C/groups, KD, KH, KW), ``y`` (N, O, OD, OH, OW).
Along each dimension, tap ``k`` of output ``o`` reads input ``o*stride + k*dilation - pad_lo``.
Each launcher has the name and signature of its CPU twin in ``numconv.kernels.cpu.conv`` and
runs one thread per element of its first argument. The input-gradient is a gather: the thread
owning ``gx[n,c,i]`` asks each tap which output read ``i`` (``tap_source``), so no atomics.
A transposed convolution is ``conv_input_grad`` (forward) and ``conv_forward`` (its input-gradient).
"""
from numba import cuda

from . import jit, launch, tap_range, tap_source, unravel5


def conv_forward(y, x, w, b, has_bias, stride, pad_lo, dilation, groups):
    """y[n,o,p] = b[o] + sum_{j,k} w[o,j,k] * x[n, g(o)*C/groups + j, p*s + k*d - pad_lo]"""
    launch(_conv_forward, y.size, y, x, w, b, has_bias, *stride, *pad_lo, *dilation, groups)


@jit
def _conv_forward(y, x, w, b, has_bias, sd, sh, sw, pd, ph, pw, dd, dh, dw, groups):
    t = cuda.grid(1)
    if t >= y.size:
        return
    O, OD, OH, OW = y.shape[1], y.shape[2], y.shape[3], y.shape[4]
    D, H, W = x.shape[2], x.shape[3], x.shape[4]
    CPG, KD, KH, KW = w.shape[1], w.shape[2], w.shape[3], w.shape[4]
    n, o, od, oh, ow = unravel5(t, O, OD, OH, OW)
    c0 = (o // (O // groups)) * CPG
    # the taps of this output that land inside the input (tap k reads p*s - pad_lo + k*d)
    bd, bh, bw = od * sd - pd, oh * sh - ph, ow * sw - pw
    kd0, kd1 = tap_range(bd, dd, D, KD)
    kh0, kh1 = tap_range(bh, dh, H, KH)
    kw0, kw1 = tap_range(bw, dw, W, KW)
    acc = b[o] if has_bias else y.dtype.type(0)
    for j in range(CPG):
        for kd in range(kd0, kd1):
            i0 = bd + kd * dd
            for kh in range(kh0, kh1):
                i1 = bh + kh * dh
                for kw in range(kw0, kw1):
                    acc += w[o, j, kd, kh, kw] * x[n, c0 + j, i0, i1, bw + kw * dw]
    y[n, o, od, oh, ow] = acc


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
