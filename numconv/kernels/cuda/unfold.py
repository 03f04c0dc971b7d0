"""im2col (unfold) and its adjoint col2im (fold), CUDA.

Shapes: ``x`` (N, C, D, H, W); ``cols`` (N, C, KD, KH, KW, OD, OH, OW), which is PyTorch's
(N, C*prod(k), L) once reshaped. Tap ``k`` of block ``p`` reads ``x[p*s + k*d - pad_lo]``.
Each launcher has the name and signature of its CPU twin in ``numconv.kernels.cpu.unfold``.
"""
from numba import cuda

from . import jit, launch, tap_source, unravel5


def unfold_forward(cols, x, stride, pad_lo, dilation):
    """cols[n,c,k,p] = x[n,c,p*s + k*d - pad_lo] (zero in the padding)"""
    launch(_unfold_forward, cols.size, cols, x, *stride, *pad_lo, *dilation)


@jit
def _unfold_forward(cols, x, sd, sh, sw, pd, ph, pw, dd, dh, dw):
    t = cuda.grid(1)
    if t >= cols.size:
        return
    C, KD, KH, KW = cols.shape[1], cols.shape[2], cols.shape[3], cols.shape[4]
    OD, OH, OW = cols.shape[5], cols.shape[6], cols.shape[7]
    D, H, W = x.shape[2], x.shape[3], x.shape[4]
    nck, _, od, oh, ow = unravel5(t, 1, OD, OH, OW)
    n, c, kd, kh, kw = unravel5(nck, C, KD, KH, KW)
    i0 = od * sd + kd * dd - pd
    i1 = oh * sh + kh * dh - ph
    i2 = ow * sw + kw * dw - pw
    if 0 <= i0 < D and 0 <= i1 < H and 0 <= i2 < W:
        cols[n, c, kd, kh, kw, od, oh, ow] = x[n, c, i0, i1, i2]
    else:
        cols[n, c, kd, kh, kw, od, oh, ow] = 0


def fold_forward(x, cols, stride, pad_lo, dilation):
    """x[n,c,i] = sum over (k, p) with p*s + k*d - pad_lo = i of cols[n,c,k,p]

    One thread per ``x`` element gathers, tap by tap, the block position that read it.
    """
    launch(_fold_forward, x.size, x, cols, *stride, *pad_lo, *dilation)


@jit
def _fold_forward(x, cols, sd, sh, sw, pd, ph, pw, dd, dh, dw):
    t = cuda.grid(1)
    if t >= x.size:
        return
    C, D, H, W = x.shape[1], x.shape[2], x.shape[3], x.shape[4]
    KD, KH, KW = cols.shape[2], cols.shape[3], cols.shape[4]
    OD, OH, OW = cols.shape[5], cols.shape[6], cols.shape[7]
    n, c, i0, i1, i2 = unravel5(t, C, D, H, W)
    acc = x.dtype.type(0)
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
                if ow >= 0:
                    acc += cols[n, c, kd, kh, kw, od, oh, ow]
    x[n, c, i0, i1, i2] = acc
