"""The one general convolution, CPU: forward, input-gradient, weight-gradient, bias-gradient.

Shapes: ``x`` (N, C, D, H, W), ``w`` (O, C/groups, KD, KH, KW), ``y`` (N, O, OD, OH, OW).
Along each dimension, tap ``k`` of output ``o`` reads input ``o*stride + k*dilation - pad_lo``;
taps outside ``[0, n)`` read the zero padding and are skipped by ``tap_range``.
A transposed convolution is ``conv_input_grad`` (forward) and ``conv_forward`` (its input-gradient).
"""
from numba import prange

from . import kernel, tap_range


@kernel
def conv_forward(y, x, w, b, has_bias, stride, pad_lo, dilation, groups):
    """y[n,o,p] = b[o] + sum_{j,k} w[o,j,k] * x[n, g(o)*C/groups + j, p*s + k*d - pad_lo]"""
    N, O, OD, OH, OW = y.shape
    C, D, H, W = x.shape[1], x.shape[2], x.shape[3], x.shape[4]
    CPG, KD, KH, KW = w.shape[1], w.shape[2], w.shape[3], w.shape[4]
    sd, sh, sw = stride
    pd, ph, pw = pad_lo
    dd, dh, dw = dilation
    opg = O // groups
    for t in prange(N * O):
        n = t // O
        o = t % O
        c0 = (o // opg) * CPG
        acc = y[n, o]  # (OD, OH, OW), accumulated in place
        init = b[o] if has_bias else 0.0
        for od in range(OD):
            for oh in range(OH):
                for ow in range(OW):
                    acc[od, oh, ow] = init
        for j in range(CPG):
            xc = x[n, c0 + j]  # (D, H, W)
            for kd in range(KD):
                offd = kd * dd - pd
                d0, d1 = tap_range(offd, sd, D, OD)
                for kh in range(KH):
                    offh = kh * dh - ph
                    h0, h1 = tap_range(offh, sh, H, OH)
                    for kw in range(KW):
                        offw = kw * dw - pw
                        w0, w1 = tap_range(offw, sw, W, OW)
                        wv = w[o, j, kd, kh, kw]
                        for od in range(d0, d1):
                            idd = od * sd + offd
                            for oh in range(h0, h1):
                                # slices indexed from 0: no negative-index wraparound, so LLVM vectorizes
                                yseg = acc[od, oh, w0:w1]
                                xseg = xc[idd, oh * sh + offh, w0 * sw + offw:(w1 - 1) * sw + offw + 1:sw]
                                for i in range(w1 - w0):
                                    yseg[i] += wv * xseg[i]


@kernel
def conv_input_grad(gx, gy, w, b, has_bias, stride, pad_lo, dilation, groups):
    """gx[n,c,i] = b[c] + sum_{o in group(c), k : i = p*s + k*d - pad_lo} w[o, c mod C/groups, k] * gy[n,o,p]

    The bias (of the transposed convolution this kernel is the forward of) is zero for a gradient.
    Each thread owns one (n, c) plane of ``gx`` and scatters into it, so there are no races.
    """
    N, C, D, H, W = gx.shape
    O, OD, OH, OW = gy.shape[1], gy.shape[2], gy.shape[3], gy.shape[4]
    CPG, KD, KH, KW = w.shape[1], w.shape[2], w.shape[3], w.shape[4]
    sd, sh, sw = stride
    pd, ph, pw = pad_lo
    dd, dh, dw = dilation
    opg = O // groups
    for t in prange(N * C):
        n = t // C
        c = t % C
        g = c // CPG
        j = c - g * CPG
        acc = gx[n, c]
        init = b[c] if has_bias else 0.0
        for i0 in range(D):
            for i1 in range(H):
                for i2 in range(W):
                    acc[i0, i1, i2] = init
        for o in range(g * opg, (g + 1) * opg):
            go = gy[n, o]
            for kd in range(KD):
                offd = kd * dd - pd
                d0, d1 = tap_range(offd, sd, D, OD)
                for kh in range(KH):
                    offh = kh * dh - ph
                    h0, h1 = tap_range(offh, sh, H, OH)
                    for kw in range(KW):
                        offw = kw * dw - pw
                        w0, w1 = tap_range(offw, sw, W, OW)
                        wv = w[o, j, kd, kh, kw]
                        for od in range(d0, d1):
                            idd = od * sd + offd
                            for oh in range(h0, h1):
                                xseg = acc[idd, oh * sh + offh, w0 * sw + offw:(w1 - 1) * sw + offw + 1:sw]
                                gseg = go[od, oh, w0:w1]
                                for i in range(w1 - w0):
                                    xseg[i] += wv * gseg[i]


@kernel
def conv_weight_grad(gw, x, gy, stride, pad_lo, dilation, groups):
    """gw[o,j,k] = sum_{n,p} gy[n,o,p] * x[n, g(o)*C/groups + j, p*s + k*d - pad_lo]"""
    O, CPG, KD, KH, KW = gw.shape
    N, D, H, W = x.shape[0], x.shape[2], x.shape[3], x.shape[4]
    OD, OH, OW = gy.shape[2], gy.shape[3], gy.shape[4]
    sd, sh, sw = stride
    pd, ph, pw = pad_lo
    dd, dh, dw = dilation
    opg = O // groups
    for t in prange(O * CPG):
        o = t // CPG
        j = t % CPG
        c = (o // opg) * CPG + j
        for kd in range(KD):
            offd = kd * dd - pd
            d0, d1 = tap_range(offd, sd, D, OD)
            for kh in range(KH):
                offh = kh * dh - ph
                h0, h1 = tap_range(offh, sh, H, OH)
                for kw in range(KW):
                    offw = kw * dw - pw
                    w0, w1 = tap_range(offw, sw, W, OW)
                    s = 0.0
                    for n in range(N):
                        for od in range(d0, d1):
                            idd = od * sd + offd
                            for oh in range(h0, h1):
                                gseg = gy[n, o, od, oh, w0:w1]
                                xseg = x[n, c, idd, oh * sh + offh, w0 * sw + offw:(w1 - 1) * sw + offw + 1:sw]
                                for i in range(w1 - w0):
                                    s += gseg[i] * xseg[i]
                    gw[o, j, kd, kh, kw] = s


@kernel
def conv_bias_grad(gb, gy):
    """gb[o] = sum_{n,p} gy[n,o,p]; ``gy`` C-contiguous, viewed as (N, O, P, 1, 1). Its rows are
    taken from a 2-d view, where Numba knows them contiguous and vectorizes the sum (LeNet-5's
    first layer: 59 -> 8 us)."""
    N, O, P = gy.shape[0], gy.shape[1], gy.shape[2]
    rows = gy.reshape((N * O, P))
    for o in prange(O):
        s = 0.0
        for n in range(N):
            row = rows[n * O + o]
            for p in range(P):
                s += row[p]
        gb[o] = s


@kernel
def add_channel_bias(y, b):
    """y[n,o,p] += b[o] (in place)"""
    N, O = y.shape[0], y.shape[1]
    for t in prange(N * O):
        n = t // O
        o = t % O
        for v in range(y.shape[2]):
            y[n, o, v] += b[o]
