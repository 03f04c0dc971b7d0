"""im2col (unfold) and its adjoint col2im (fold), CPU.

Shapes: ``x`` (N, C, D, H, W); ``cols`` (N, C, KD, KH, KW, OD, OH, OW), which is PyTorch's
(N, C*prod(k), L) once reshaped. Tap ``k`` of block ``p`` reads ``x[p*s + k*d - pad_lo]``.
"""
from numba import prange

from . import kernel, tap_range


@kernel
def unfold_forward(cols, x, stride, pad_lo, dilation):
    """cols[n,c,k,p] = x[n,c,p*s + k*d - pad_lo] (zero in the padding)"""
    N, C, KD, KH, KW, OD, OH, OW = cols.shape
    D, H, W = x.shape[2], x.shape[3], x.shape[4]
    sd, sh, sw = stride
    pd, ph, pw = pad_lo
    dd, dh, dw = dilation
    for t in prange(N * C):
        n = t // C
        c = t % C
        for kd in range(KD):
            offd = kd * dd - pd
            d0, d1 = tap_range(offd, sd, D, OD)
            for kh in range(KH):
                offh = kh * dh - ph
                h0, h1 = tap_range(offh, sh, H, OH)
                for kw in range(KW):
                    offw = kw * dw - pw
                    w0, w1 = tap_range(offw, sw, W, OW)
                    col = cols[n, c, kd, kh, kw]
                    col[:] = 0.0
                    for od in range(d0, d1):
                        for oh in range(h0, h1):
                            for ow in range(w0, w1):
                                col[od, oh, ow] = x[n, c, od * sd + offd, oh * sh + offh, ow * sw + offw]


@kernel
def fold_forward(x, cols, stride, pad_lo, dilation):
    """x[n,c,i] = sum over (k, p) with p*s + k*d - pad_lo = i of cols[n,c,k,p] (one thread per plane)"""
    N, C, KD, KH, KW, OD, OH, OW = cols.shape
    D, H, W = x.shape[2], x.shape[3], x.shape[4]
    sd, sh, sw = stride
    pd, ph, pw = pad_lo
    dd, dh, dw = dilation
    for t in prange(N * C):
        n = t // C
        c = t % C
        xc = x[n, c]
        xc[:] = 0.0
        for kd in range(KD):
            offd = kd * dd - pd
            d0, d1 = tap_range(offd, sd, D, OD)
            for kh in range(KH):
                offh = kh * dh - ph
                h0, h1 = tap_range(offh, sh, H, OH)
                for kw in range(KW):
                    offw = kw * dw - pw
                    w0, w1 = tap_range(offw, sw, W, OW)
                    col = cols[n, c, kd, kh, kw]
                    for od in range(d0, d1):
                        for oh in range(h0, h1):
                            for ow in range(w0, w1):
                                xc[od * sd + offd, oh * sh + offh, ow * sw + offw] += col[od, oh, ow]
