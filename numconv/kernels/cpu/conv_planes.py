"""Convolution over zero-padded planes, CPU: the fast path for layers whose planes are large enough
(depthwise, grouped, 1x1, 3x3 and strided alike), a GEMM with no gathered patch matrix.

Each input plane is copied once, zero-padded and split into its stride phases: phase ``r`` of a
dimension holds padded positions ``m*s + r``, in planes of ``(Dq, Hq, Wq)`` with
``Hq = OH + (dh*(KH-1)) // sh`` (likewise D and W; stride 1 has one phase, the padded plane).
Tap ``k`` of output ``o`` reads padded position ``o*s + k*d = (o + (k*d)//s)*s + (k*d)%s``, so in
the flat buffer output ``(od, oh, ow)`` sits at ``q = (od*Hq + oh)*Wq + ow`` of every phase
plane and its tap reads ``q + off`` in the tap's phase. Every tap is then one long contiguous
multiply-add over the whole plane, whatever the row length; positions with ``ow >= OW`` (the
padding columns) are computed and thrown away. The input gradient is, per phase of the input
positions, this stride-1 convolution of ``gy`` with that phase's taps of the flipped,
group-transposed weight (``conv_input_grad_planes``).

Same shapes and signatures as ``conv.py``: ``x`` (N, C, D, H, W), ``w`` (O, C/groups, KD, KH, KW),
``y`` (N, O, OD, OH, OW).
"""
import itertools
import math

import numpy as np
from numba import prange

from . import inline, kernel, part_range, plane_parts
from .gemm import rows4_taps4, rows4_taps8


def preferred(spec, pass_: str, threads: int) -> bool:
    """Whether this path should run ('forward', 'input_grad' or 'weight_grad'; it can run any):
    when the flat run of positions it sweeps is long enough to vectorize (L >= MIN_RUN; 7x7 planes,
    say, are not), every phase plane is read by some tap (stride at most the dilated kernel), and
    there is a task per thread (images x groups, or batch slices x groups for the weight
    gradient). Measured against the implicit GEMM in docs/performance.md."""
    if pass_ == "weight_grad":
        tasks = weight_grad_slices(spec) * spec.groups
    else:
        tasks = spec.x_shape[0] * spec.groups
    kernel, stride = spec.w_shape[2:], spec.stride
    if any(s > d * (k - 1) + 1 for s, d, k in zip(stride, spec.dilation, kernel)):
        return False
    if pass_ == "input_grad":  # stride-1 convolutions writing one phase of x each
        out = tuple(-(-n // s) for n, s in zip(spec.x_shape[2:], stride))
        _, Hq, Wq = (n + d * (-(-k // s) - 1) for n, d, k, s in zip(out, spec.dilation, kernel, stride))
    else:
        out = spec.y_shape[2:]
        _, Hq, Wq = (n + d * (k - 1) // s for n, d, k, s in zip(out, spec.dilation, kernel, stride))
    run = ((out[0] - 1) * Hq + out[1] - 1) * Wq + out[2]
    return run >= MIN_RUN and tasks >= threads


MIN_RUN = 128


@inline
def _phase_dims(out_shape, w_shape, stride, dilation):
    """(Dq, Hq, Wq): the size of each phase plane, enough rows for the outputs plus the farthest tap."""
    OD, OH, OW = out_shape
    KD, KH, KW = w_shape
    sd, sh, sw = stride
    dd, dh, dw = dilation
    return OD + dd * (KD - 1) // sd, OH + dh * (KH - 1) // sh, OW + dw * (KW - 1) // sw


@inline
def _first_inside(r, pad, s, n, m):
    """[lo, hi): the phase indices mm < m whose padded position mm*s + r lies in the input [pad, pad + n)."""
    lo = 0 if r >= pad else (pad - r + s - 1) // s
    last = n - 1 + pad - r
    hi = 0 if last < 0 else min(m, last // s + 1)
    return lo, max(lo, hi)


@inline
def _pad_phases(buf, plane, pad_lo, stride, Dq, Hq, Wq):
    """buf (phases*Dq*Hq*Wq,): the zero-padded ``plane`` (D, H, W) split into its stride phases.

    Phase (rd, rh, rw), at ``((rd*sh + rh)*sw + rw) * Dq*Hq*Wq``, holds padded position
    ``(md*sd + rd, mh*sh + rh, mw*sw + rw)`` at (md, mh, mw). With stride 1 there is one phase:
    the padded plane itself.
    """
    D, H, W = plane.shape
    pd, ph, pw = pad_lo
    sd, sh, sw = stride
    Pq = Dq * Hq * Wq
    buf[:] = 0.0
    for rd in range(sd):
        d0, d1 = _first_inside(rd, pd, sd, D, Dq)
        for rh in range(sh):
            h0, h1 = _first_inside(rh, ph, sh, H, Hq)
            for rw in range(sw):
                w0, w1 = _first_inside(rw, pw, sw, W, Wq)
                base = ((rd * sh + rh) * sw + rw) * Pq
                for md in range(d0, d1):
                    for mh in range(h0, h1):
                        src = plane[md * sd + rd - pd, mh * sh + rh - ph]
                        start = base + (md * Hq + mh) * Wq
                        dst = buf[start + w0:start + w1]
                        if sw == 1:
                            seg = src[w0 + rw - pw:w1 + rw - pw]
                            for i in range(w1 - w0):
                                dst[i] = seg[i]
                        else:
                            for i in range(w1 - w0):
                                dst[i] = src[(w0 + i) * sw + rw - pw]


@inline
def _tap_offsets(CPG, KD, KH, KW, Pc, Hq, Wq, Pq, stride, dilation):
    """Where each tap (j, kd, kh, kw), in the weight's flat order, starts reading in the flat buffer
    of CPG channels of Pc elements each (their phase planes of Pq): tap k of a dimension reads
    padded position o*s + k*d = (o + (k*d)//s)*s + (k*d)%s, phase (k*d)%s at offset (k*d)//s."""
    sd, sh, sw = stride
    dd, dh, dw = dilation
    off = np.empty(CPG * KD * KH * KW, np.int64)
    i = 0
    for j in range(CPG):
        for kd in range(KD):
            for kh in range(KH):
                for kw in range(KW):
                    phase = ((kd * dd % sd) * sh + kh * dh % sh) * sw + kw * dw % sw
                    shift = ((kd * dd // sd) * Hq + kh * dh // sh) * Wq + kw * dw // sw
                    off[i] = j * Pc + phase * Pq + shift
                    i += 1
    return off


CHUNK = 512  # flat positions per pass: four accumulator rows of this stay in L1


@inline
def _tap_slices(xp, off, i, c0, cl):
    """The ``cl`` positions from ``c0`` that taps i..i+3 read: four shifted slices of the padded planes."""
    return (xp[off[i] + c0:off[i] + c0 + cl], xp[off[i + 1] + c0:off[i + 1] + c0 + cl],
            xp[off[i + 2] + c0:off[i + 2] + c0 + cl], xp[off[i + 3] + c0:off[i + 3] + c0 + cl])


@inline
def _four_taps(a, wo, i, xp, off, c0, cl):
    """a[:cl] += the four taps i..i+3 of the output whose flat weight is ``wo``."""
    w0, w1, w2, w3 = wo[i], wo[i + 1], wo[i + 2], wo[i + 3]
    s0, s1, s2, s3 = _tap_slices(xp, off, i, c0, cl)
    for q in range(cl):
        a[q] += w0 * s0[q] + w1 * s1[q] + w2 * s2[q] + w3 * s3[q]


@kernel
def conv_forward_planes(y, x, w, b, has_bias, stride, pad_lo, dilation, groups):
    """y[n,o,p] = b[o] + sum_{j,k} w[o,j,k] * x[n, g(o)*C/groups + j, p + k*d - pad_lo] (stride 1).

    One task per (image, group): its C/groups input planes are padded once. Then, per chunk of
    CHUNK flat positions, four outputs at a time take their taps four at a time: each pass loads
    four shifted slices of the padded planes once for sixteen multiply-adds, and the accumulators
    stay in L1. A GEMM over (outputs x taps) x (taps x positions) with no gathered patch matrix.
    """
    N, O, OD, OH, OW = y.shape
    CPG, KD, KH, KW = w.shape[1], w.shape[2], w.shape[3], w.shape[4]
    opg = O // groups
    Dq, Hq, Wq = _phase_dims((OD, OH, OW), (KD, KH, KW), stride, dilation)
    Pq = Dq * Hq * Wq
    P = stride[0] * stride[1] * stride[2] * Pq  # one channel: all its phase planes
    L = ((OD - 1) * Hq + OH - 1) * Wq + OW  # flat positions from the first output to the last
    off = _tap_offsets(CPG, KD, KH, KW, P, Hq, Wq, Pq, stride, dilation)
    taps = off.size
    fours = taps - taps % 4
    wf = w.reshape((O, taps))
    chunk = CHUNK if opg >= 4 else 4 * CHUNK  # one accumulator row (depthwise) can run longer
    T = N * groups
    parts = plane_parts(T)
    for part in prange(parts):
        xp = np.empty(CPG * P, x.dtype)
        acc = np.empty((4, chunk), x.dtype)
        for t in range(*part_range(part, parts, T)):
            n = t // groups
            g = t % groups
            for j in range(CPG):
                _pad_phases(xp[j * P:(j + 1) * P], x[n, g * CPG + j], pad_lo, stride, Dq, Hq, Wq)
            for o0 in range(g * opg, (g + 1) * opg, 4):
                ob = min(4, (g + 1) * opg - o0)
                for c0 in range(0, L, chunk):
                    cl = min(chunk, L - c0)
                    for r in range(ob):
                        acc[r, :cl] = b[o0 + r] if has_bias else 0.0
                    if ob == 4:
                        a0, a1, a2, a3 = acc[0, :cl], acc[1, :cl], acc[2, :cl], acc[3, :cl]
                        w0, w1, w2, w3 = wf[o0], wf[o0 + 1], wf[o0 + 2], wf[o0 + 3]
                        eights = fours - fours % 8
                        for i in range(0, eights, 8):
                            s0, s1, s2, s3 = _tap_slices(xp, off, i, c0, cl)
                            s4, s5, s6, s7 = _tap_slices(xp, off, i + 4, c0, cl)
                            rows4_taps8(a0, a1, a2, a3, w0, w1, w2, w3, i, s0, s1, s2, s3, s4, s5, s6, s7, cl)
                        for i in range(eights, fours, 4):
                            s0, s1, s2, s3 = _tap_slices(xp, off, i, c0, cl)
                            rows4_taps4(a0, a1, a2, a3, w0, w1, w2, w3, i, s0, s1, s2, s3, cl)
                    else:  # two rows at a time, then one
                        for r in range(0, ob - ob % 2, 2):
                            a0, a1 = acc[r, :cl], acc[r + 1, :cl]
                            w0, w1 = wf[o0 + r], wf[o0 + r + 1]
                            for i in range(0, fours, 4):
                                s0, s1, s2, s3 = _tap_slices(xp, off, i, c0, cl)
                                u0, u1, u2, u3 = w0[i], w0[i + 1], w0[i + 2], w0[i + 3]
                                v0, v1, v2, v3 = w1[i], w1[i + 1], w1[i + 2], w1[i + 3]
                                for q in range(cl):
                                    z0, z1, z2, z3 = s0[q], s1[q], s2[q], s3[q]
                                    a0[q] += u0 * z0 + u1 * z1 + u2 * z2 + u3 * z3
                                    a1[q] += v0 * z0 + v1 * z1 + v2 * z2 + v3 * z3
                        if ob % 2:
                            for i in range(0, fours, 4):
                                _four_taps(acc[ob - 1], wf[o0 + ob - 1], i, xp, off, c0, cl)
                    for r in range(ob):
                        a = acc[r]
                        wo = wf[o0 + r]
                        for i in range(fours, taps):
                            wv = wo[i]
                            s0 = xp[off[i] + c0:off[i] + c0 + cl]
                            for q in range(cl):
                                a[q] += wv * s0[q]
                    # the chunk's outputs (padding columns dropped)
                    for row in range(c0 // Wq, (c0 + cl - 1) // Wq + 1):
                        od, oh = row // Hq, row % Hq
                        if oh >= OH:
                            continue
                        lo, hi = max(c0, row * Wq), min(c0 + cl, row * Wq + OW)
                        for r in range(ob):
                            yr = y[n, o0 + r, od, oh]
                            a = acc[r]
                            for q in range(lo, hi):
                                yr[q - row * Wq] = a[q - c0]


PART_ELEMENTS = 1 << 22  # weight-gradient partial sums: at most this many elements, whatever the batch


def weight_grad_slices(spec) -> int:
    """How many slices of the batch the weight gradient sums separately (then adds in order): up to
    16 for parallelism, bounded so the partial sums stay under PART_ELEMENTS. Depends on the shapes
    only, so the result does not depend on the thread count."""
    O, taps = spec.w_shape[0], spec.w_shape[1] * spec.w_shape[2] * spec.w_shape[3] * spec.w_shape[4]
    return max(1, min(spec.x_shape[0], 16, PART_ELEMENTS // max(1, O * taps)))


@kernel
def conv_weight_grad_planes(gw, x, gy, stride, pad_lo, dilation, groups, part):
    """gw[o,j,k] = sum_{n,p} gy[n,o,p] * x[n, g(o)*C/groups + j, p + k*d - pad_lo] (stride 1).

    One task per (slice of the batch, group), summing into its own rows of ``part`` (slices, O, taps);
    the slices are then added in order. Per image the group's input planes are padded once and
    its ``gy`` planes laid out in the padded width (zeros in the padding columns); then per chunk
    of positions, four outputs and four taps at a time take sixteen dot products in one pass.
    """
    O, CPG, KD, KH, KW = gw.shape
    N = x.shape[0]
    OD, OH, OW = gy.shape[2], gy.shape[3], gy.shape[4]
    opg = O // groups
    Dq, Hq, Wq = _phase_dims((OD, OH, OW), (KD, KH, KW), stride, dilation)
    Pq = Dq * Hq * Wq
    P = stride[0] * stride[1] * stride[2] * Pq
    L = ((OD - 1) * Hq + OH - 1) * Wq + OW
    off = _tap_offsets(CPG, KD, KH, KW, P, Hq, Wq, Pq, stride, dilation)
    taps = off.size
    fours = taps - taps % 4
    S = part.shape[0]
    for t in prange(S * groups):
        sl = t // groups
        g = t % groups
        xp = np.empty(CPG * P, x.dtype)
        gp = np.zeros((opg, L), x.dtype)  # the padding columns stay zero
        acc = part[sl]
        acc[g * opg:(g + 1) * opg, :] = 0.0
        for n in range(sl * N // S, (sl + 1) * N // S):
            for j in range(CPG):
                _pad_phases(xp[j * P:(j + 1) * P], x[n, g * CPG + j], pad_lo, stride, Dq, Hq, Wq)
            for m in range(opg):
                for od in range(OD):
                    for oh in range(OH):
                        start = (od * Hq + oh) * Wq
                        row = gy[n, g * opg + m, od, oh]
                        for ow in range(OW):
                            gp[m, start + ow] = row[ow]
            for c0 in range(0, L, CHUNK):
                cl = min(CHUNK, L - c0)
                for m0 in range(0, opg, 4):
                    mb = min(4, opg - m0)
                    for i in range(0, fours, 4):
                        s0, s1, s2, s3 = _tap_slices(xp, off, i, c0, cl)
                        for r in range(0, mb - mb % 2, 2):  # two outputs by four taps per pass
                            g0 = gp[m0 + r, c0:c0 + cl]
                            g1 = gp[m0 + r + 1, c0:c0 + cl]
                            a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = x.dtype.type(0)
                            for q in range(cl):
                                z0, z1, z2, z3 = s0[q], s1[q], s2[q], s3[q]
                                u, v = g0[q], g1[q]
                                a00 += u * z0
                                a01 += u * z1
                                a02 += u * z2
                                a03 += u * z3
                                a10 += v * z0
                                a11 += v * z1
                                a12 += v * z2
                                a13 += v * z3
                            o = g * opg + m0 + r
                            acc[o, i] += a00
                            acc[o, i + 1] += a01
                            acc[o, i + 2] += a02
                            acc[o, i + 3] += a03
                            acc[o + 1, i] += a10
                            acc[o + 1, i + 1] += a11
                            acc[o + 1, i + 2] += a12
                            acc[o + 1, i + 3] += a13
                        if mb % 2:
                            g0 = gp[m0 + mb - 1, c0:c0 + cl]
                            a00 = a01 = a02 = a03 = x.dtype.type(0)
                            for q in range(cl):
                                u = g0[q]
                                a00 += u * s0[q]
                                a01 += u * s1[q]
                                a02 += u * s2[q]
                                a03 += u * s3[q]
                            o = g * opg + m0 + mb - 1
                            acc[o, i] += a00
                            acc[o, i + 1] += a01
                            acc[o, i + 2] += a02
                            acc[o, i + 3] += a03
                    for i in range(fours, taps):
                        s0 = xp[off[i] + c0:off[i] + c0 + cl]
                        for r in range(mb):
                            g0 = gp[m0 + r, c0:c0 + cl]
                            a00 = x.dtype.type(0)
                            for q in range(cl):
                                a00 += g0[q] * s0[q]
                            acc[g * opg + m0 + r, i] += a00
    gwf = gw.reshape((O, taps))
    for o in prange(O):
        for i in range(taps):
            v = part[0, o, i]
            for sl in range(1, S):
                v += part[sl, o, i]
            gwf[o, i] = v


def _phases_of_dim(n, k, s, d, p):
    """The input gradient along one dimension, split by the phase of the input position.

    The forward reads padded position o*s + k*d, so input h (padded h + p) gets
    sum over taps k with (k*d) % s == (h + p) % s of w[k] * gy[o], o = (h + p - k*d) / s. For the
    input positions h = m*s + r2 of phase r2 that is a stride-1 correlation of gy over the taps
    k of that residue (in flipped order), dilated by d/gcd(s, d), with padding ``lo``. Returns one
    (r2, M, taps or None, dilation, lo) per phase, M the phase's length; taps None: no tap reads it.
    """
    g = math.gcd(s, d)
    out = []
    for r2 in range(s):
        M = -(-(n - r2) // s) if n > r2 else 0
        r, c = (r2 + p) % s, (r2 + p) // s
        ks = [t for t in range(k) if (t * d) % s == r]
        if not ks or M == 0:
            out.append((r2, M, None, 1, 0))
            continue
        dp = d // g
        lo = (ks[0] * d) // s + (len(ks) - 1) * dp - c
        out.append((r2, M, ks[::-1], dp, lo))
    return out


def conv_input_grad_planes(gx, gy, w, b, has_bias, stride, pad_lo, dilation, groups):
    """gx = the input gradient of the convolution (the transposed convolution of ``gy``, plus ``b``).

    Per phase of the input positions (``_phases_of_dim`` in each dimension), a stride-1
    ``conv_forward_planes`` of ``gy`` with that phase's taps of the weight, flipped and transposed
    per group; the phase's outputs are then placed at their strided positions of ``gx`` (stride 1:
    one phase, written in place). Positions no tap reads get the bias alone.
    """
    N, C = gx.shape[0], gx.shape[1]
    O, CPG = w.shape[0], w.shape[1]
    opg = O // groups
    plans = [_phases_of_dim(n, k, s, d, p)
             for n, k, s, d, p in zip(gx.shape[2:], w.shape[2:], stride, dilation, pad_lo)]
    in_place = all(s == 1 for s in stride)
    for pd_, ph_, pw_ in itertools.product(*plans):
        (rd, Md, td, dd, lod), (rh, Mh, th, dh, loh), (rw, Mw, tw, dw, low) = pd_, ph_, pw_
        if Md == 0 or Mh == 0 or Mw == 0:
            continue
        sub = gx[:, :, rd::stride[0], rh::stride[1], rw::stride[2]]
        if td is None or th is None or tw is None:
            sub[...] = b.reshape((1, C, 1, 1, 1)) if has_bias else 0.0
            continue
        wsub = w[:, :, td][:, :, :, th][:, :, :, :, tw]
        k = wsub.shape[2:]
        wt = np.ascontiguousarray(wsub.reshape((groups, opg, CPG) + k).swapaxes(1, 2).reshape((groups * CPG, opg) + k))
        out = gx if in_place else np.empty((N, C, Md, Mh, Mw), gx.dtype)
        conv_forward_planes(out, gy, wt, b, has_bias, (1, 1, 1), (lod, loh, low), (dd, dh, dw), groups)
        if not in_place:
            sub[...] = out
