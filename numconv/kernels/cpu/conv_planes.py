"""Stride-1 convolution over zero-padded planes, CPU: the fast path for depthwise, grouped and
few-channel layers, whose rows are too short for the vector loops of ``conv.py``.

Each input plane is copied once into a zero-padded buffer of ``(Dp, Hp, Wp)`` with
``Hp = OH + dh*(KH-1)`` (likewise D and W). In that buffer output ``(od, oh, ow)`` sits at the flat
position ``q = (od*Hp + oh)*Wp + ow``, and its tap ``(kd, kh, kw)`` reads ``q + off`` with
``off = (kd*dd*Hp + kh*dh)*Wp + kw*dw``. So every tap is one long contiguous multiply-add over the
whole plane, whatever the row length; positions with ``ow >= OW`` (the padding columns) are computed
and thrown away. With stride 1 the input gradient is this convolution of ``gy`` with the flipped,
group-transposed weight (``ops.conv`` arranges it), so two kernels cover the three passes.

Same shapes as ``conv.py``: ``x`` (N, C, D, H, W), ``w`` (O, C/groups, KD, KH, KW), ``y`` (N, O, OD, OH, OW).
"""
import numpy as np
from numba import prange

from . import inline, kernel, plane_parts


def applies(spec) -> bool:
    """Stride 1, and no padding beyond the dilated kernel on either side (so the input gradient,
    a convolution of ``gy`` padded by ``dilation*(k-1) - pad``, is one too)."""
    if any(s != 1 for s in spec.stride):
        return False
    reach = [d * (k - 1) for d, k in zip(spec.dilation, spec.w_shape[2:])]
    return all(0 <= lo <= r and 0 <= hi <= r for lo, hi, r in zip(spec.pad_lo, spec.pad_hi, reach))


def preferred(spec, pass_: str, threads: int) -> bool:
    """Where it applies, whether this path should run: up to 32x32 channel pairs per group (depthwise,
    grouped and few-channel layers; above that the implicit GEMM reuses loads better, and at 64x64
    the two measured even), and for the weight gradient, one task per output channel for each thread."""
    O, CPG = spec.w_shape[0], spec.w_shape[1]
    if CPG * (O // spec.groups) > 1024:
        return False
    return pass_ != "weight_grad" or O >= threads


@inline
def _padded_dims(out_shape, w_shape, dilation):
    OD, OH, OW = out_shape
    KD, KH, KW = w_shape
    dd, dh, dw = dilation
    return OD + dd * (KD - 1), OH + dh * (KH - 1), OW + dw * (KW - 1)


@inline
def _pad_plane(buf, plane, pad_lo, Dp, Hp, Wp):
    """buf (Dp*Hp*Wp,) = ``plane`` (D, H, W) placed at ``pad_lo``, zeros around it."""
    D, H, W = plane.shape
    pd, ph, pw = pad_lo
    buf[:] = 0.0
    for i0 in range(min(D, Dp - pd)):
        for i1 in range(min(H, Hp - ph)):
            start = ((i0 + pd) * Hp + i1 + ph) * Wp + pw
            n = min(W, Wp - pw)
            dst = buf[start:start + n]
            src = plane[i0, i1, :n]
            for i in range(n):
                dst[i] = src[i]


@kernel
def conv_forward_planes(y, x, w, b, has_bias, pad_lo, dilation, groups):
    """y[n,o,p] = b[o] + sum_{j,k} w[o,j,k] * x[n, g(o)*C/groups + j, p + k*d - pad_lo] (stride 1).

    One task per (image, group): its C/groups input planes are padded once, then each of the
    group's outputs accumulates every tap as a contiguous pass over the padded plane.
    """
    N, O, OD, OH, OW = y.shape
    CPG, KD, KH, KW = w.shape[1], w.shape[2], w.shape[3], w.shape[4]
    dd, dh, dw = dilation
    opg = O // groups
    Dp, Hp, Wp = _padded_dims((OD, OH, OW), (KD, KH, KW), dilation)
    L = ((OD - 1) * Hp + OH - 1) * Wp + OW  # flat positions from the first output to the last
    T = N * groups
    parts = plane_parts(T)
    for part in prange(parts):
        xp = np.empty((CPG, Dp * Hp * Wp), x.dtype)
        acc = np.empty(L, x.dtype)
        for t in range(part * T // parts, (part + 1) * T // parts):
            n = t // groups
            g = t % groups
            for j in range(CPG):
                _pad_plane(xp[j], x[n, g * CPG + j], pad_lo, Dp, Hp, Wp)
            for o in range(g * opg, (g + 1) * opg):
                acc[:] = b[o] if has_bias else 0.0
                for j in range(CPG):
                    for kd in range(KD):
                        for kh in range(KH):
                            for kw in range(KW):
                                off = (kd * dd * Hp + kh * dh) * Wp + kw * dw
                                wv = w[o, j, kd, kh, kw]
                                src = xp[j, off:off + L]
                                for q in range(L):
                                    acc[q] += wv * src[q]
                for od in range(OD):
                    for oh in range(OH):
                        start = (od * Hp + oh) * Wp
                        row = y[n, o, od, oh]
                        for ow in range(OW):
                            row[ow] = acc[start + ow]


@kernel
def conv_weight_grad_planes(gw, x, gy, pad_lo, dilation, groups):
    """gw[o,j,k] = sum_{n,p} gy[n,o,p] * x[n, g(o)*C/groups + j, p + k*d - pad_lo] (stride 1).

    One task per output channel: per image, ``gy``'s plane is laid out in the padded width
    (zeros in the padding columns) and each tap is one contiguous dot product with the padded input.
    """
    O, CPG, KD, KH, KW = gw.shape
    N = x.shape[0]
    OD, OH, OW = gy.shape[2], gy.shape[3], gy.shape[4]
    dd, dh, dw = dilation
    opg = O // groups
    Dp, Hp, Wp = _padded_dims((OD, OH, OW), (KD, KH, KW), dilation)
    L = ((OD - 1) * Hp + OH - 1) * Wp + OW
    parts = plane_parts(O)
    for part in prange(parts):
        xp = np.empty(Dp * Hp * Wp, x.dtype)
        gp = np.empty(L, x.dtype)
        s = np.empty((CPG, KD, KH, KW), np.float64)
        for o in range(part * O // parts, (part + 1) * O // parts):
            c0 = (o // opg) * CPG
            s[:] = 0.0
            for n in range(N):
                gp[:] = 0.0
                for od in range(OD):
                    for oh in range(OH):
                        start = (od * Hp + oh) * Wp
                        row = gy[n, o, od, oh]
                        for ow in range(OW):
                            gp[start + ow] = row[ow]
                for j in range(CPG):
                    _pad_plane(xp, x[n, c0 + j], pad_lo, Dp, Hp, Wp)
                    for kd in range(KD):
                        for kh in range(KH):
                            for kw in range(KW):
                                off = (kd * dd * Hp + kh * dh) * Wp + kw * dw
                                src = xp[off:off + L]
                                a = 0.0
                                for q in range(L):
                                    a += gp[q] * src[q]
                                s[j, kd, kh, kw] += a
            for j in range(CPG):
                for kd in range(KD):
                    for kh in range(KH):
                        for kw in range(KW):
                            gw[o, j, kd, kh, kw] = s[j, kd, kh, kw]


def flipped_transposed_weight(w, groups):
    """The weight of the input gradient as a convolution: w (O, C/g, *k) -> (C, O/g, *k), each group's
    (O/g, C/g) block transposed and every kernel flipped in all its dimensions."""
    O, CPG = w.shape[0], w.shape[1]
    opg = O // groups
    k = w.shape[2:]
    wt = w.reshape((groups, opg, CPG) + k).swapaxes(1, 2)[..., ::-1, ::-1, ::-1]
    return np.ascontiguousarray(wt.reshape((groups * CPG, opg) + k))
