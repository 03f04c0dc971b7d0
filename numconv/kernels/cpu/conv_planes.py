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


@inline
def _tap_offsets(CPG, KD, KH, KW, P, Hp, Wp, dilation):
    """Where each tap (j, kd, kh, kw), in the weight's flat order, starts reading in the flat buffer
    of CPG padded planes of P elements each."""
    dd, dh, dw = dilation
    off = np.empty(CPG * KD * KH * KW, np.int64)
    i = 0
    for j in range(CPG):
        for kd in range(KD):
            for kh in range(KH):
                for kw in range(KW):
                    off[i] = j * P + (kd * dd * Hp + kh * dh) * Wp + kw * dw
                    i += 1
    return off


@kernel
def conv_forward_planes(y, x, w, b, has_bias, pad_lo, dilation, groups):
    """y[n,o,p] = b[o] + sum_{j,k} w[o,j,k] * x[n, g(o)*C/groups + j, p + k*d - pad_lo] (stride 1).

    One task per (image, group): its C/groups input planes are padded once, then each of the
    group's outputs accumulates its taps four at a time (one load and store of the accumulator per
    four multiply-adds), each a contiguous pass over the padded planes.
    """
    N, O, OD, OH, OW = y.shape
    CPG, KD, KH, KW = w.shape[1], w.shape[2], w.shape[3], w.shape[4]
    opg = O // groups
    Dp, Hp, Wp = _padded_dims((OD, OH, OW), (KD, KH, KW), dilation)
    P = Dp * Hp * Wp
    L = ((OD - 1) * Hp + OH - 1) * Wp + OW  # flat positions from the first output to the last
    off = _tap_offsets(CPG, KD, KH, KW, P, Hp, Wp, dilation)
    taps = off.size
    fours = taps - taps % 4
    T = N * groups
    parts = plane_parts(T)
    for part in prange(parts):
        xp = np.empty(CPG * P, x.dtype)
        acc = np.empty(L, x.dtype)
        for t in range(part * T // parts, (part + 1) * T // parts):
            n = t // groups
            g = t % groups
            for j in range(CPG):
                _pad_plane(xp[j * P:(j + 1) * P], x[n, g * CPG + j], pad_lo, Dp, Hp, Wp)
            for o in range(g * opg, (g + 1) * opg):
                wo = w[o].reshape(taps)
                acc[:] = b[o] if has_bias else 0.0
                for i in range(0, fours, 4):
                    w0, w1, w2, w3 = wo[i], wo[i + 1], wo[i + 2], wo[i + 3]
                    s0 = xp[off[i]:off[i] + L]
                    s1 = xp[off[i + 1]:off[i + 1] + L]
                    s2 = xp[off[i + 2]:off[i + 2] + L]
                    s3 = xp[off[i + 3]:off[i + 3] + L]
                    for q in range(L):
                        acc[q] += w0 * s0[q] + w1 * s1[q] + w2 * s2[q] + w3 * s3[q]
                for i in range(fours, taps):
                    wv = wo[i]
                    s0 = xp[off[i]:off[i] + L]
                    for q in range(L):
                        acc[q] += wv * s0[q]
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
    (zeros in the padding columns) and each tap is a contiguous dot product with the padded input,
    four taps per pass over ``gy``.
    """
    O, CPG, KD, KH, KW = gw.shape
    N = x.shape[0]
    OD, OH, OW = gy.shape[2], gy.shape[3], gy.shape[4]
    opg = O // groups
    Dp, Hp, Wp = _padded_dims((OD, OH, OW), (KD, KH, KW), dilation)
    P = Dp * Hp * Wp
    L = ((OD - 1) * Hp + OH - 1) * Wp + OW
    off = _tap_offsets(CPG, KD, KH, KW, P, Hp, Wp, dilation)
    taps = off.size
    fours = taps - taps % 4
    parts = plane_parts(O)
    for part in prange(parts):
        xp = np.empty(CPG * P, x.dtype)
        gp = np.empty(L, x.dtype)
        s = np.empty(taps, np.float64)
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
                    _pad_plane(xp[j * P:(j + 1) * P], x[n, c0 + j], pad_lo, Dp, Hp, Wp)
                for i in range(0, fours, 4):
                    s0 = xp[off[i]:off[i] + L]
                    s1 = xp[off[i + 1]:off[i + 1] + L]
                    s2 = xp[off[i + 2]:off[i + 2] + L]
                    s3 = xp[off[i + 3]:off[i + 3] + L]
                    a0 = a1 = a2 = a3 = 0.0
                    for q in range(L):
                        g = gp[q]
                        a0 += g * s0[q]
                        a1 += g * s1[q]
                        a2 += g * s2[q]
                        a3 += g * s3[q]
                    s[i] += a0
                    s[i + 1] += a1
                    s[i + 2] += a2
                    s[i + 3] += a3
                for i in range(fours, taps):
                    s0 = xp[off[i]:off[i] + L]
                    a0 = 0.0
                    for q in range(L):
                        a0 += gp[q] * s0[q]
                    s[i] += a0
            gwo = gw[o].reshape(taps)
            for i in range(taps):
                gwo[i] = s[i]


def flipped_transposed_weight(w, groups):
    """The weight of the input gradient as a convolution: w (O, C/g, *k) -> (C, O/g, *k), each group's
    (O/g, C/g) block transposed and every kernel flipped in all its dimensions."""
    O, CPG = w.shape[0], w.shape[1]
    opg = O // groups
    k = w.shape[2:]
    wt = w.reshape((groups, opg, CPG) + k).swapaxes(1, 2)[..., ::-1, ::-1, ::-1]
    return np.ascontiguousarray(wt.reshape((groups * CPG, opg) + k))
