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

import numba
import numpy as np
from numba import prange

from . import inline, kernel, part_range, plane_parts, serial
from .gemm import NV, block_at, dots, pack_rows, panel_width, panels, row_block, row_blocks
from .simd import REGISTER_BYTES


def preferred(spec, pass_: str, threads: int) -> bool:
    """Whether this path should run ('forward', 'input_grad' or 'weight_grad'; it can run any):
    when the flat run of positions it sweeps is long enough (L >= MIN_RUN for the forward; the
    weight gradient, whose dot products run along it, and the input gradient, a convolution per
    phase, need LONG_RUN) and there is a task per thread
    (images x groups, or batch slices x groups for the weight gradient). A stride larger than the
    kernel leaves some phase planes unread, and copying them still costs less than the implicit
    GEMM's gather (1x1 stride 2: forward 3.1 against 6.7 ms). Whatever the run, the forward and
    the stride-1 input gradient run here when they would go on blocks of images (``_by_lanes``):
    ResNet-18's 16x16 stride-2 layer, forward 13.6 -> 10.9 ms; its 4x4 layers tie the implicit
    GEMM. Measured against the implicit GEMM in docs/performance.md."""
    if pass_ == "weight_grad":
        tasks = weight_grad_slices(spec) * spec.groups
    else:
        tasks = spec.x_shape[0] * spec.groups
    kernel, stride = spec.w_shape[2:], spec.stride
    if pass_ == "forward" and _by_lanes(spec.y_shape, spec.w_shape, stride, spec.dilation, spec.groups, 4):
        return True
    if pass_ == "input_grad" and stride == (1, 1, 1) and _by_lanes(
            spec.x_shape, (spec.w_shape[1] * spec.groups, spec.w_shape[0] // spec.groups) + kernel, stride,
            spec.dilation, spec.groups, 4):
        return True
    if pass_ == "input_grad":  # stride-1 convolutions writing one phase of x each
        out = tuple(-(-n // s) for n, s in zip(spec.x_shape[2:], stride))
        _, Hq, Wq = (n + d * (-(-k // s) - 1) for n, d, k, s in zip(out, spec.dilation, kernel, stride))
    else:
        out = spec.y_shape[2:]
        _, Hq, Wq = (n + d * (k - 1) // s for n, d, k, s in zip(out, spec.dilation, kernel, stride))
    run = ((out[0] - 1) * Hq + out[1] - 1) * Wq + out[2]
    return run >= (MIN_RUN if pass_ == "forward" else LONG_RUN) and tasks >= threads


MIN_RUN = 48  # 7x7 and 8x8 planes: forward 29 against 38 ms (gemm) at 512 channels; not 4x4 (run 22)
LONG_RUN = 128  # 7x7 input gradient at 512 channels: gemm 33 against 45 ms


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
def _pad_phases(buf, at, plane, pad_lo, stride, Dq, Hq, Wq, phase_stride):
    """The zero-padded ``plane`` (D, H, W) split into its stride phases, written into ``buf`` from
    ``at``; only the plane's own positions are written, so the padding must be zero already.

    Phase (rd, rh, rw), at ``at + ((rd*sh + rh)*sw + rw) * phase_stride``, holds padded position
    ``(md*sd + rd, mh*sh + rh, mw*sw + rw)`` at (md, mh, mw), in a plane of (Dq, Hq, Wq). With
    stride 1 there is one phase: the padded plane itself.
    """
    D, H, W = plane.shape
    pd, ph, pw = pad_lo
    sd, sh, sw = stride
    for rd in range(sd):
        d0, d1 = _first_inside(rd, pd, sd, D, Dq)
        for rh in range(sh):
            h0, h1 = _first_inside(rh, ph, sh, H, Hq)
            for rw in range(sw):
                w0, w1 = _first_inside(rw, pw, sw, W, Wq)
                base = at + ((rd * sh + rh) * sw + rw) * phase_stride
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


def conv_forward_planes(y, x, w, b, has_bias, stride, pad_lo, dilation, groups, wp=None, packed=False):
    """y[n,o,p] = b[o] + sum_{j,k} w[o,j,k] * x[n, g(o)*C/groups + j, p*s + k*d - pad_lo]: over each
    image's padded planes (``_forward_images``), or, for small planes that fill the vectors
    badly, over blocks of LANES images side by side (``_forward_lanes``). ``wp``: scratch for the
    packed weights, at least ``w.size`` elements of its dtype (made here if None; a caller that
    reuses one spares a page fault per 4 KiB of a fresh array: 2,300 for a 512-channel 3x3 weight).
    ``packed``: ``wp`` holds w packed already (``_packed``'s layout), and only w's shape is read."""
    if wp is None:
        wp = np.empty(w.size, w.dtype)
    wp = wp[:w.size]
    if _by_lanes(y.shape, w.shape, stride, dilation, groups, x.itemsize):
        tasks = -(-y.shape[0] // LANES) * groups
        _forward_lanes(y, x, w, b, has_bias, stride, pad_lo, dilation, groups, min(tasks, 4 * numba.get_num_threads()),
                       wp, packed)
    else:
        _forward_images(y, x, w, b, has_bias, stride, pad_lo, dilation, groups, wp, packed)


@kernel
def _forward_images(y, x, w, b, has_bias, stride, pad_lo, dilation, groups, wp, packed):
    """y[n,o,p] = b[o] + sum_{j,k} w[o,j,k] * x[n, g(o)*C/groups + j, p + k*d - pad_lo] (stride 1).

    One task per (image, group): its C/groups input planes are padded once. Then a GEMM over
    (outputs x taps) x (taps x positions) with no gathered patch matrix: ``gemm.panels`` runs KB
    taps at a time for a block of up to eight outputs, with the accumulators in registers; each
    tap's row is a shifted slice of the padded planes (``off``). Usually a chunk of CHUNK flat
    positions goes at a time into ``acc``, whose positions in the padding columns are dropped on
    the way out; when whole vectors fit a row of outputs better than that (``_by_rows``), a row
    at a time straight into ``y``. The bias is the accumulators' start.
    """
    N, O, OD, OH, OW = y.shape
    CPG, KD, KH, KW = w.shape[1], w.shape[2], w.shape[3], w.shape[4]
    opg = O // groups
    Dq, Hq, Wq = _phase_dims((OD, OH, OW), (KD, KH, KW), stride, dilation)
    Pq = Dq * Hq * Wq
    P = stride[0] * stride[1] * stride[2] * Pq  # one channel: all its phase planes
    L = ((OD - 1) * Hq + OH - 1) * Wq + OW  # flat positions from the first output to the last
    off = _tap_offsets(CPG, KD, KH, KW, P, Hq, Wq, Pq, stride, dilation)
    if not packed:
        _packed(wp, w, groups)
    T = N * groups
    parts = plane_parts(T)
    yf = y.reshape(y.size)
    for part in prange(parts):
        xp = np.zeros(CPG * P, x.dtype)  # the padding stays zero: only the planes are rewritten
        acc = np.empty(0 if _by_rows(OW, Wq, x.itemsize) else opg * CHUNK, x.dtype)  # (opg, CHUNK): the chunks' outputs
        for t in range(*part_range(part, parts, T)):
            _forward_task(yf, x, t // groups, t % groups, xp, acc, wp, off, b, has_bias, (O, CPG, opg), stride,
                          pad_lo, (Dq, Hq, Wq), L, (OD, OH, OW))


@inline
def _packed(wp, w, groups):
    """wp = the weights (O, C/groups, KD, KH, KW) packed per group's blocks of outputs
    (``gemm.pack_rows``), a task per block (one thread took 1.6 ms for ResNet-18's 512-channel 3x3
    weight)."""
    O = w.shape[0]
    taps = w.size // O
    opg = O // groups
    w2 = w.reshape((O, taps))
    nb = row_blocks(opg)
    for t in prange(groups * nb):
        g = t // nb
        r0, mr = block_at(opg, t % nb)
        pack_rows(wp, (g * opg + r0) * taps, w2[g * opg + r0:g * opg + r0 + mr], taps)  # one block of mr


# ----------------------------------------------------------------------------- images side by side
#
# On small planes the padding columns and each row's last, part-filled vectors are much of the
# work: LeNet-5's second layer computes 160 positions of its 14-wide padded planes for 100 outputs,
# ResNet-18's last layers 32 for 16. Laid out with LANES images side by side instead, (C/groups,
# phases, Dq, Hq, Wq, LANES), a row of OW outputs is OW*LANES contiguous positions of each phase
# plane, whole vectors with nothing thrown away, and tap k is the same shifted slice for every
# image: the same GEMM, on blocks of images.

LANES = 16  # images per block: one AVX-512 vector of float32
LANES_BYTES = 1 << 22  # at most this in a block's padded planes, and in its outputs
FORCE_LANES = None  # None: by shape (``_by_lanes``); True or False: always or never (for tests)


def _by_lanes(y_shape, w_shape, stride, dilation, groups, itemsize):
    """Whether the forward runs on blocks of images: at least two tasks (blocks x groups), each
    block's buffers within LANES_BYTES, and the vectors of the per-image layout (rows or chunks,
    as ``_forward_images`` would run) at most LANES_FILL full."""
    if FORCE_LANES is not None:
        return FORCE_LANES
    N, O, OD, OH, OW = y_shape
    CPG, k = w_shape[1], w_shape[2:]
    if -(-N // LANES) * groups < 2:
        return False
    Dq, Hq, Wq = (n + d * (kk - 1) // s for n, d, kk, s in zip((OD, OH, OW), dilation, k, stride))
    phases = stride[0] * stride[1] * stride[2]
    blocks = LANES * max(CPG * phases * Dq * Hq * Wq, O // groups * OD * OH * OW) * itemsize
    if blocks > LANES_BYTES:
        return False
    width = NV * REGISTER_BYTES // itemsize  # gemm.panel_width
    L = ((OD - 1) * Hq + OH - 1) * Wq + OW
    images = OD * OH * -(-OW // width) * width if -(-OW // width) * width < Wq else -(-L // width) * width
    lanes = -(-N // LANES) * LANES * OD * OH * OW / N  # per image, with the last block's empty lanes
    return lanes <= LANES_FILL * images


# LeNet-5's second layer (100 of 160 filled) moves, forward 322 -> 218 us; its first (784 of 896,
# 0.875) too, forward 130 -> 115 us at batch 64 (70 -> 62 at 32, 234 -> 205 at 128; alternating
# calls in one process), and a LeNet-5 run then compiles one forward kernel, not two (the first
# training step on a cold cache: 28.9 -> 23.0 s)
LANES_FILL = 0.9


@kernel
def _forward_lanes(y, x, w, b, has_bias, stride, pad_lo, dilation, groups, parts, wp, packed):
    """The forward of ``conv_forward_planes`` on blocks of LANES images: a task per (block,
    group) lays its images' phase planes side by side, zero-padded, then per row of outputs one
    ``_outputs_gemm`` over OW*LANES positions, then the outputs back to each image's planes.
    ``parts`` tasks at a time, each with its own buffers (up to LANES_BYTES each)."""
    N, O, OD, OH, OW = y.shape
    CPG, KD, KH, KW = w.shape[1], w.shape[2], w.shape[3], w.shape[4]
    opg = O // groups
    Dq, Hq, Wq = _phase_dims((OD, OH, OW), (KD, KH, KW), stride, dilation)
    Pq = Dq * Hq * Wq
    P = stride[0] * stride[1] * stride[2] * Pq
    off = _tap_offsets(CPG, KD, KH, KW, P, Hq, Wq, Pq, stride, dilation) * LANES
    if not packed:
        _packed(wp, w, groups)
    T = -(-N // LANES) * groups
    for part in prange(parts):
        xb = np.zeros(CPG * P * LANES, x.dtype)  # the padding stays zero: only the planes are rewritten
        yb = np.empty(opg * OD * OH * OW * LANES, x.dtype)
        for t in range(*part_range(part, parts, T)):
            _lanes_task(y, x, (t // groups) * LANES, t % groups, xb, yb, wp, off, b, has_bias, stride, pad_lo,
                        (Dq, Hq, Wq))


@serial
def _lanes_task(y, x, n0, g, xb, yb, wp, off, b, has_bias, stride, pad_lo, dims):
    """Images [n0, n0 + LANES), group g of ``_forward_lanes``. Lanes past the last image compute
    on whatever the buffer holds and are never written out."""
    N, O, OD, OH, OW = y.shape
    C, D, H, W = x.shape[1], x.shape[2], x.shape[3], x.shape[4]
    Dq, Hq, Wq = dims
    sd, sh, sw = stride
    P = sd * sh * sw * Dq * Hq * Wq
    CPG = xb.size // (P * LANES)
    opg = yb.size // (OD * OH * OW * LANES)
    OP = OD * OH * OW
    nl = min(LANES, N - n0)
    xf = x.reshape((N, C * D * H * W))
    # phase (rd, rh, rw) of channel j holds padded position (md*sd + rd, ...) at (md, mh, mw), as
    # ``_pad_phases``; lanes innermost both ways: a gather, or a scatter, and a whole vector
    # (twice as fast as rows strided by LANES)
    for j in range(CPG):
        for rd in range(sd):
            d0, d1 = _first_inside(rd, pad_lo[0], sd, D, Dq)
            for rh in range(sh):
                h0, h1 = _first_inside(rh, pad_lo[1], sh, H, Hq)
                for rw in range(sw):
                    w0, w1 = _first_inside(rw, pad_lo[2], sw, W, Wq)
                    base = j * P + ((rd * sh + rh) * sw + rw) * Dq * Hq * Wq
                    for md in range(d0, d1):
                        for mh in range(h0, h1):
                            at = (((g * CPG + j) * D + md * sd + rd - pad_lo[0]) * H + mh * sh + rh - pad_lo[1]) * W
                            for mw in range(w0, w1):
                                dst = xb[(base + (md * Hq + mh) * Wq + mw) * LANES:]
                                src = at + mw * sw + rw - pad_lo[2]
                                if nl == LANES:  # a constant trip count: one gather
                                    for lane in range(LANES):
                                        dst[lane] = xf[n0 + lane, src]
                                else:
                                    for lane in range(nl):
                                        dst[lane] = xf[n0 + lane, src]
    # KB taps at a time for every row, the weights' panel in cache across the rows (KB from 64 to
    # 4608 taps made no difference beyond the noise on ResNet-18's 512-channel 4x4 layer)
    taps = off.size
    for k0 in range(0, taps, KB):
        init = 1 if k0 > 0 else 2 if has_bias else 0
        for od in range(OD):
            for oh in range(OH):
                panels(yb, (od * OH + oh) * OW * LANES, OP * LANES, wp, g * opg * taps, taps, k0, xb,
                       (od * Hq + oh) * Wq * LANES, off[k0:], min(KB, taps - k0), opg, OW * LANES, init,
                       b[g * opg:])
    yf = y.reshape((N, O, OP))
    for r in range(opg):
        for p in range(OP):
            src = yb[(r * OP + p) * LANES:]
            if nl == LANES:
                for lane in range(LANES):
                    yf[n0 + lane, g * opg + r, p] = src[lane]
            else:
                for lane in range(nl):
                    yf[n0 + lane, g * opg + r, p] = src[lane]


@serial  # the body of the forward's tasks, compiled once, not inlined into its parallel loop
def _forward_task(yf, x, n, g, xp, acc, wp, off, b, has_bias, channels, stride, pad_lo, phase_dims, L, out):
    """Image n, group g of ``_forward_images``: its planes padded into ``xp``, then its outputs.
    ``channels`` is (O, C/groups, O/groups)."""
    O, CPG, opg = channels
    Dq, Hq, Wq = phase_dims
    OD, OH, OW = out
    Pq = Dq * Hq * Wq
    P = stride[0] * stride[1] * stride[2] * Pq
    D, H, W = x.shape[2], x.shape[3], x.shape[4]
    if ((Dq, Hq, Wq) == (D, H, W) and P == Pq and pad_lo[0] == 0 and pad_lo[1] == 0 and pad_lo[2] == 0
            and CPG * P * x.itemsize <= DIRECT_BYTES):
        # stride 1, no padding: the group's planes are already the padded planes, back to back
        planes = x[n].reshape(x.shape[1] * P)[g * CPG * P:(g + 1) * CPG * P]
    else:
        for j in range(CPG):
            _pad_phases(xp, j * P, x[n, g * CPG + j], pad_lo, stride, Dq, Hq, Wq, Pq)
        planes = xp
    ybase, wbase = (n * O + g * opg) * OD * OH * OW, g * opg * off.size
    if _by_rows(OW, Wq, x.itemsize):
        _rows_into_y(yf, ybase, wp, wbase, planes, off, b, g * opg, has_bias, opg, OD, OH, OW, Hq, Wq)
    else:
        _chunks_into_y(yf, ybase, acc, wp, wbase, planes, off, b, g * opg, has_bias, opg, L, OD, OH, OW, Hq, Wq)


@inline
def _outputs_gemm(C, c0, ldc, wp, wbase, xp, s0, off, b, b0, has_bias, opg, n):
    """C.flat[c0 + r*ldc + q] = b[b0 + r] (with ``has_bias``) + sum over taps k of
    wp(r, k) * xp[s0 + off[k] + q], for r < opg and q < n: KB taps at a time, every row block of
    ``gemm.row_block`` in one ``gemm.panels`` call; the bias is the accumulators' start."""
    taps = off.size
    for k0 in range(0, taps, KB):
        init = 1 if k0 > 0 else 2 if has_bias else 0
        panels(C, c0, ldc, wp, wbase, taps, k0, xp, s0, off[k0:], min(KB, taps - k0), opg, n, init, b[b0:])


@inline
def _by_rows(OW, Wq, itemsize):
    """Whether the forward runs a row at a time: when OW outputs rounded up to whole micro-kernel
    blocks are fewer than the Wq positions a padded row takes in a chunk. The rows path writes
    straight into y but computes the masked lanes of each row's last block; the chunks compute
    the padding columns and copy out. Since ``gemm.panels`` takes a whole strip per call the
    chunks win unless the rows fill their vectors (forward, ms: cifar_stem, 32 wide, 0.52 rows
    against 0.66 chunks; lenet_c1, 28, 0.20 against 0.14; depthwise_3x3, 56, 24.4 against 12.6;
    resnet_3x3_64 20.0 against 18.6)."""
    width = panel_width(itemsize)
    return -(-OW // width) * width < Wq


@serial
def _rows_into_y(yf, ybase, wp, wbase, xp, off, b, b0, has_bias, opg, OD, OH, OW, Hq, Wq):
    """One task's outputs a row at a time, straight into y (no padding columns, no copy): rows
    of ``opg`` output planes from ``yf[ybase]``, weights packed from ``wp[wbase]``, biases
    ``b[b0:]``."""
    OP = OD * OH * OW
    for od in range(OD):
        for oh in range(OH):
            _outputs_gemm(yf, ybase + (od * OH + oh) * OW, OP, wp, wbase, xp, (od * Hq + oh) * Wq, off, b, b0,
                          has_bias, opg, OW)


@serial
def _chunks_into_y(yf, ybase, acc, wp, wbase, xp, off, b, b0, has_bias, opg, L, OD, OH, OW, Hq, Wq):
    """One task's outputs a chunk of CHUNK flat positions at a time into ``acc`` (opg, CHUNK), then
    copied out without the padding columns; arguments as for ``_rows_into_y``."""
    dst = (OD * OH * OW, OH * OW, OW, 1)
    for c0 in range(0, L, CHUNK):
        cl = min(CHUNK, L - c0)
        _outputs_gemm(acc, 0, CHUNK, wp, wbase, xp, c0, off, b, b0, has_bias, opg, cl)
        _copy_out(yf, ybase, dst, acc, c0, cl, opg, OD, OH, OW, Hq, Wq)


@inline
def _copy_out(yf, ybase, dst, acc, c0, cl, rows, OD, OH, OW, Hq, Wq):
    """The chunk of flat positions [c0, c0 + cl) of ``rows`` outputs in ``acc`` (rows, CHUNK), in
    padded planes of (Hq, Wq) rows, to ``yf``: output (r, od, oh, ow) goes to ``yf[ybase + r*dst[0]
    + od*dst[1] + oh*dst[2] + ow*dst[3]]``; the padding columns (ow >= OW) and rows are dropped."""
    plane, row_d, row_h, col = dst
    for row in range(c0 // Wq, (c0 + cl - 1) // Wq + 1):  # by flat offsets: no views per row
        od, oh = row // Hq, row % Hq
        if oh >= OH or od >= OD:
            continue
        lo, hi = max(c0, row * Wq), min(c0 + cl, row * Wq + OW)
        y0 = ybase + od * row_d + oh * row_h + (lo - row * Wq) * col
        for r in range(rows):
            src = acc[r * CHUNK - c0 + lo:]
            if col == 1:
                out = yf[y0 + r * plane:y0 + r * plane + hi - lo]  # views: indices from 0, no wraparound
                for i in range(hi - lo):
                    out[i] = src[i]
            else:
                for i in range(hi - lo):
                    yf[y0 + r * plane + i * col] = src[i]


# Unpadded stride-1 planes are read where they are when a group's fit in L2 (LeNet-5's second
# layer: 252 -> 151 us); larger ones are still copied, which streams them into cache before the
# GEMM's scattered rows read them (256 channels of 56x56, 1x1: 16.6 against 21.4 ms in place).
DIRECT_BYTES = 1 << 18
CHUNK = 256  # flat positions per pass of the forward: the accumulators of a group's outputs stay in L2
KB = 256  # taps per panel pass: the rows they read stay in L1 while every block of outputs runs
WCHUNK = 512  # flat positions per pass of the weight gradient: 4 + 4 rows of them stay in L1


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
    of positions, ``gemm.dots`` takes the products of every output and tap, four by four.
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
    S = part.shape[0]
    for t in prange(S * groups):
        sl = t // groups
        g = t % groups
        xp = np.zeros(CPG * P, x.dtype)  # the padding stays zero: only the planes are rewritten
        gp = np.zeros((opg, L), x.dtype)  # likewise the padding columns
        part[sl, g * opg:(g + 1) * opg, :] = 0.0
        for n in range(sl * N // S, (sl + 1) * N // S):
            for j in range(CPG):
                _pad_phases(xp, j * P, x[n, g * CPG + j], pad_lo, stride, Dq, Hq, Wq, Pq)
            for m in range(opg):
                for od in range(OD):
                    for oh in range(OH):
                        start = (od * Hq + oh) * Wq
                        row = gy[n, g * opg + m, od, oh]
                        for ow in range(OW):
                            gp[m, start + ow] = row[ow]
            for c0 in range(0, L, WCHUNK):
                dots(part, (sl * O + g * opg) * taps, taps, gp, c0, L, opg, xp, c0, off, taps, min(WCHUNK, L - c0))
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


def conv_input_grad_planes(gx, gy, w, b, has_bias, stride, pad_lo, dilation, groups, wt=None, wp=None):
    """gx = the input gradient of the convolution (the transposed convolution of ``gy``, plus ``b``).

    Per phase of the input positions (``_phases_of_dim`` in each dimension), a stride-1
    convolution of ``gy`` with that phase's taps of the weight, flipped and transposed per group.
    Stride 1 has one phase: ``conv_forward_planes`` writes it in place. Strided, every phase runs
    in one kernel (``conv_input_grad_phases``) over one padded copy of ``gy`` per task, each
    phase's outputs going straight to their strided positions of ``gx``; positions no tap reads
    get the bias alone. ``wt`` and ``wp``: scratch of at least ``w.size`` elements each for the
    stride-1 case's flipped weights and their packed form (made here if None); the flipped weights
    go straight to their packed form (``_packed_taps``), and ``wt`` lends the forward only its shape.
    """
    C = gx.shape[1]
    O = w.shape[0]
    opg = O // groups
    plans = [_phases_of_dim(n, k, s, d, p)
             for n, k, s, d, p in zip(gx.shape[2:], w.shape[2:], stride, dilation, pad_lo)]
    if gx.size == 0:
        return
    if all(s == 1 for s in stride):
        (_, _, td, dd, lod), (_, _, th, dh, loh), (_, _, tw, dw, low) = (plan[0] for plan in plans)
        shape = (C, opg, len(td), len(th), len(tw))
        wt = np.empty(shape, w.dtype) if wt is None else wt[:w.size].reshape(shape)
        wp = np.empty(w.size, w.dtype) if wp is None else wp[:w.size]
        _packed_taps(wp, w.reshape(w.shape[:2] + (-1,)), _tap_list(w.shape, td, th, tw), groups)
        conv_forward_planes(gx, gy, wt, b, has_bias, (1, 1, 1), (lod, loh, low), (dd, dh, dw), groups, wp, True)
        return
    # one zero-padded copy of gy serves every phase: padded by the largest left padding of any
    # phase, each phase reading from its own shift, long enough for the farthest tap of any
    pad, dims = [], []
    for plan in plans:
        used = [(M, taps, dp, lo) for _, M, taps, dp, lo in plan if taps is not None and M > 0]
        lo_max = max([0] + [lo for _, _, _, lo in used])
        pad.append(lo_max)
        dims.append(max([1] + [M + lo_max - lo + (len(taps) - 1) * dp for M, taps, dp, lo in used]))
    Qd, Qh, Qw = dims
    combos = [c for c in itertools.product(*plans) if c[0][1] and c[1][1] and c[2][1]]
    tmax = max(1, opg * max(math.prod(len(phase[2] or ()) for phase in combo) for combo in combos))
    phases = np.zeros((len(combos), 7), np.int64)  # first (rd, rh, rw), lengths (Md, Mh, Mw), taps
    off = np.zeros(len(combos) * tmax, np.int64)  # each phase's tap offsets from ph * tmax
    wt = np.zeros((len(combos), C, tmax), gx.dtype)  # each phase's weights, (C, taps)
    for i, ((rd, Md, td, dd, lod), (rh, Mh, th, dh, loh), (rw, Mw, tw, dw, low)) in enumerate(combos):
        phases[i, :6] = rd, rh, rw, Md, Mh, Mw
        if td is None or th is None or tw is None:
            continue  # no tap reads this phase: taps 0, the bias alone
        taps = opg * len(td) * len(th) * len(tw)
        phases[i, 6] = taps
        wt[i, :, :taps] = _phase_weight(w, td, th, tw, groups).reshape((C, taps))
        # tap (j, a, e, f) of output (md, mh, mw) reads padded (md + pad - lo + a*dd, ...) of plane j
        k = 0
        for j in range(opg):
            for a in range(len(td)):
                for e in range(len(th)):
                    for f in range(len(tw)):
                        off[i * tmax + k] = (((j * Qd + pad[0] - lod + a * dd) * Qh + pad[1] - loh + e * dh) * Qw
                                             + pad[2] - low + f * dw)
                        k += 1
    conv_input_grad_phases(gx, gy, wt, off, phases, b, has_bias, stride, tuple(pad), (Qd, Qh, Qw), groups)


def _phase_weight(w, td, th, tw, groups, out=None):
    """The taps (td, th, tw) of w (O, C/groups, KD, KH, KW), flipped orders given, transposed per
    group: (C, O/groups, len(td), len(th), len(tw)), contiguous (in ``out``'s memory if given: at
    least that many elements)."""
    O, CPG, KD, KH, KW = w.shape
    shape = (groups * CPG, O // groups, len(td), len(th), len(tw))
    wt = np.empty(shape, w.dtype) if out is None else out[:math.prod(shape)].reshape(shape)
    _gather_taps(wt.reshape(groups * CPG, -1), w.reshape(O, -1), _tap_list(w.shape, td, th, tw), groups)
    return wt


def _tap_list(w_shape, td, th, tw):
    """Each kept tap's offset in a (KD, KH, KW) block of a weight of shape ``w_shape``, in the order
    (td, th, tw) give."""
    KH, KW = w_shape[3], w_shape[4]
    return np.array([(a * KH + e) * KW + f for a in td for e in th for f in tw], np.int64)


@kernel
def _packed_taps(wp, w, taps, groups):
    """wp = ``_packed`` of ``_phase_weight``'s weight in one pass, for w as (O, C/groups, K). The
    flipped, group-transposed weight's rows are the input channels, so a block of ``mr`` of them
    (from r0) and output channel j read ``mr*K`` contiguous elements of w and write ``T*mr``
    contiguous elements of wp: wp[(g*CPG + r0)*opg*T + (j*T + q)*mr + r] = w[g*opg + j, r0 + r,
    taps[q]]. (ResNet-18's 512-channel 3x3 layer on 4x4 planes: the gather alone took 1.3 ms of a
    9.6 ms input gradient, then the forward packed its result again.)"""
    O, CPG = w.shape[0], w.shape[1]
    T = taps.size
    opg = O // groups
    for o in prange(O):  # a task per row of w, read once, end to end
        g, j = o // opg, o % opg
        src = w[o]
        r0 = 0
        while r0 < CPG:
            mr = row_block(CPG, r0)
            at = (g * CPG + r0) * opg * T + j * T * mr
            for q in range(T):
                tap = taps[q]
                for r in range(mr):
                    wp[at + q * mr + r] = src[r0 + r, tap]
            r0 += mr


@kernel
def _gather_taps(wt, w, taps, groups):
    """wt[g*CPG + c, j*T + q] = w[g*opg + j, c*K + taps[q]] for wt (C, opg*T) and w (O, CPG*K), a
    task per row of wt: the taps ``taps`` (T of each channel's K) of the weight, transposed per
    group. (NumPy's fancy indexing and transpose of ResNet-18's 512-channel weight, 9.4 MB, took
    20 ms on one thread, as long as the convolution it fed; indexing the taps by three index arrays
    in a 5-d loop, 3.5 ms on two.)"""
    C = wt.shape[0]
    T = taps.size
    opg = wt.shape[1] // T
    CPG = C // groups
    K = w.shape[1] // CPG
    for c in prange(C):
        g, cc = c // CPG, c % CPG
        dst = wt[c]
        for j in range(opg):
            src = w[g * opg + j]
            base = cc * K
            for q in range(T):
                dst[j * T + q] = src[base + taps[q]]


@kernel
def conv_input_grad_phases(gx, gy, wt, off, phases, b, has_bias, stride, pad_lo, dims, groups):
    """Every stride phase of the input gradient (``conv_input_grad_planes``), a task per (image,
    group): the group's ``gy`` planes padded once by ``pad_lo`` into planes of ``dims``, then per
    phase a GEMM of its packed weights ``wt[ph]`` (C, taps) over the taps' shifted rows
    (``off[ph * tmax:]``), CHUNK flat positions at a time, each copied out to the phase's
    strided positions of ``gx``. ``phases[ph]`` is (rd, rh, rw, Md, Mh, Mw, taps)."""
    N, C = gx.shape[0], gx.shape[1]
    opg, cpg = gy.shape[1] // groups, C // groups
    nph, tmax = wt.shape[0], wt.shape[2]
    wp = np.empty(nph * C * tmax, gx.dtype)
    for ph in range(nph):
        taps = phases[ph, 6]
        for g in range(groups):
            pack_rows(wp, ph * C * tmax + g * cpg * taps, wt[ph, g * cpg:(g + 1) * cpg, :taps], taps)
    T = N * groups
    parts = plane_parts(T)
    for part in prange(parts):
        xp = np.zeros(opg * dims[0] * dims[1] * dims[2], gx.dtype)  # the padding stays zero
        acc = np.empty(cpg * CHUNK, gx.dtype)
        for t in range(*part_range(part, parts, T)):
            _phases_task(gx, gy, t // groups, t % groups, xp, acc, wp, off, phases, tmax, b, has_bias, (opg, cpg),
                         stride, pad_lo, dims)


@serial
def _phases_task(gx, gy, n, g, xp, acc, wp, off, phases, tmax, b, has_bias, channels, stride, pad_lo, dims):
    """Image n, group g of ``conv_input_grad_phases``; ``channels`` is (O/groups, C/groups)."""
    C, D, H, W = gx.shape[1], gx.shape[2], gx.shape[3], gx.shape[4]
    opg, cpg = channels
    Qd, Qh, Qw = dims
    Pq = Qd * Qh * Qw
    for j in range(opg):
        _pad_phases(xp, j * Pq, gy[n, g * opg + j], pad_lo, (1, 1, 1), Qd, Qh, Qw, Pq)
    gxf = gx.reshape(gx.size)
    sd, sh, sw = stride
    for ph in range(phases.shape[0]):
        rd, rh, rw, Md, Mh, Mw, taps = phases[ph]
        base = ((n * C + g * cpg) * D + rd) * H * W + rh * W + rw
        dst = (D * H * W, sd * H * W, sh * W, sw)
        if taps == 0:
            for r in range(cpg):
                v = b[g * cpg + r] if has_bias else 0.0
                for md in range(Md):
                    for mh in range(Mh):
                        at = base + r * dst[0] + md * dst[1] + mh * dst[2]
                        for mw in range(Mw):
                            gxf[at + mw * sw] = v
            continue
        L = ((Md - 1) * Qh + Mh - 1) * Qw + Mw
        for c0 in range(0, L, CHUNK):
            cl = min(CHUNK, L - c0)
            _outputs_gemm(acc, 0, CHUNK, wp, ph * C * tmax + g * cpg * taps, xp, c0, off[ph * tmax:ph * tmax + taps], b,
                          g * cpg, has_bias, cpg, cl)
            _copy_out(gxf, base, dst, acc, c0, cl, cpg, Md, Mh, Mw, Qh, Qw)
