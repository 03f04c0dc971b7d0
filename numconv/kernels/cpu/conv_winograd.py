"""Winograd convolution F(4x4, 3x3), CPU: 3x3 stride-1 layers in a quarter of the multiplications.

A 4x4 tile of outputs of a 3x3 correlation of a 6x6 input patch ``d`` with the taps ``g`` is
(Lavin & Gray, "Fast algorithms for convolutional neural networks", 2016)::

    Y = A^T [ (G g G^T) * (B^T d B) ] A          (* elementwise, 6x6)

so per tile and channel pair 36 multiplications replace 144. Summed over input channels, the
middle step is 36 independent GEMMs, one per point ``xi`` of the 6x6 transform::

    U[xi][k, c] = (G g[k, c] G^T)[xi]            weight transform, once per call
    V[xi][c, t] = (B^T d[c, t] B)[xi]            input transform of tile t, channel c
    M[xi][k, t] = sum_c U[xi][k, c] V[xi][c, t]  the GEMMs (gemm.panels: eight outputs at a time)
    y[k, tile t] = A^T M[:, k, t] A              output transform

The matrices come from the interpolation points 0, 1, -1, 1/2, -2 and infinity rather than
Lavin's 0, +-1, +-2: in float32 that halves the error (Barabasz et al., "Error analysis and
improving the accuracy of Winograd convolution for deep neural networks", 2020); ``BT`` and
``AT`` are dyadic, so their products are exact. docs/performance.md gives the measured error.

Dilation d needs no change to the arithmetic: a tile takes every d-th output, starting at
``_tile_starts``, and reads every d-th input. Any padding works (the patch is read with bounds
checks), so the input gradient of a 3x3 stride-1 convolution is this kernel too
(``conv_input_grad_winograd``). Tiles are taken a chunk at a time across the batch, so
the workspaces stay bounded whatever its size.

Same shapes as ``conv.py``, for 2-d convolutions: ``x`` (N, C, 1, H, W), ``w`` (O, C/groups, 1, 3, 3),
``y`` (N, O, 1, OH, OW).
"""
import numpy as np
from numba import prange

from . import inline, kernel, part_range, plane_parts
from .gemm import block_at, dots, panels, row_blocks

# Toom-Cook matrices of F(4, 3) at the points 0, 1, -1, 1/2, -2, infinity (the helpers below spell
# out BT and AT; tests check them against these and against the correlation they compute).
AT = np.array([[1, 1, 1, 1, 1, 0],
               [0, 1, -1, 1 / 2, -2, 0],
               [0, 1, 1, 1 / 4, 4, 0],
               [0, 1, -1, 1 / 8, -8, 1]])
G = np.array([[1, 0, 0],
              [1 / 3, 1 / 3, 1 / 3],
              [-1 / 3, 1 / 3, -1 / 3],
              [-16 / 15, -8 / 15, -4 / 15],
              [1 / 15, -2 / 15, 4 / 15],
              [0, 0, 1]])
BT = np.array([[1, -3 / 2, -2, 3 / 2, 1, 0],
               [0, -1, 1 / 2, 5 / 2, 1, 0],
               [0, 1, -5 / 2, 1 / 2, 1, 0],
               [0, -2, -1, 2, 1, 0],
               [0, 1 / 2, -1, -1 / 2, 1, 0],
               [0, 1, -3 / 2, -2, 3 / 2, 1]])

WORKSPACE = 1 << 22  # elements in each of V and M: tiles are processed in chunks that fit
TB = 256  # tiles per GEMM task
KB = 256  # input channels per panel pass
JC = 128  # input channels per pass of the weight transform: a block's staged transforms stay in L2


def applies(spec, pass_: str = "forward") -> bool:
    """A 2-d 3x3 convolution with stride 1 (any padding and groups; any dilation, except for the
    weight gradient)."""
    return (spec.w_shape[2:] == (1, 3, 3) and spec.stride == (1, 1, 1) and spec.x_shape[2] == 1
            and spec.y_shape[2] == 1 and spec.pad_lo[0] == 0
            and (pass_ != "weight_grad" or spec.dilation == (1, 1, 1)))


def preferred(spec, pass_: str) -> bool:
    """Whether to run it for a pass: when it applies without dilation, each group has at least
    MIN_CHANNELS channels on both sides and there are at least MIN_TILES tiles.

    Since the GEMMs of both Winograd and ``planes`` run on the register-blocked micro-kernel,
    the transforms decide: Winograd wins from 128 channels on large planes, ``planes`` at 64
    (forward 21 against 25 ms on ``resnet_3x3_64``); dilation splits the rows of tiles by
    residue, which makes the transforms' runs shorter. Once the weight transform wrote straight
    into the packed workspace, 512 channels on 7x7 planes (128 tiles) went to Winograd too: forward
    22.5 against 28.6 ms on ``planes``, input gradient 24.8 against 31.4 on ``gemm`` (it had
    needed half a tile per channel: 42 against 26 ms before). Measured in docs/performance.md."""
    if not applies(spec, pass_) or spec.dilation != (1, 1, 1):
        return False
    O, CPG = spec.w_shape[0], spec.w_shape[1]
    opg = O // spec.groups
    if min(CPG, opg) < MIN_CHANNELS:
        return False
    out = spec.x_shape if pass_ == "input_grad" else spec.y_shape
    tiles = out[0] * (-(-out[3] // 4)) * (-(-out[4] // 4))
    return tiles >= MIN_TILES


MIN_CHANNELS = 128
# Tiles it needs to pay for the transforms: at 128 tiles Winograd beat the others at 256 channels
# on 8x8 (forward 6.5 against 9.1 ms on planes), at 32 tiles it lost to gemm at 512 channels on
# 4x4 (forward 35 against 13 ms, weight gradient 32-35 against 18-21 ms; at the sixth session's
# code 13.7 against 10.4 forward, 16.0 against 9.4 input gradient; at the seventh's 10.6 against
# 8.4-11.2 forward: writing and streaming back 37.7 MB of transformed weights for 32 tiles is
# memory-bound).
MIN_TILES = 128


def workspace_size(w_shape, groups, out_width, dilation_w) -> int:
    """Elements in each of the workspaces V and M: WORKSPACE, or enough for one row of tiles."""
    O, CPG = w_shape[0], w_shape[1]
    row = out_width // 4 + dilation_w + 1  # at least the tiles in one row, over all residues
    return max(WORKSPACE, groups * 36 * (max(CPG, O // groups) | 1) * (row + 32))


def conv_input_grad_winograd(gx, gy, w, b, has_bias, pad_lo, dilation, groups, V, M, Up):
    """gx = the input gradient of the convolution (its transposed convolution of ``gy``, plus ``b``).

    With stride 1 it is the convolution of ``gy`` with the flipped weight, transposed per group,
    and padding ``d*2 - pad`` (negative when the forward padded more than the kernel reaches; the
    patch reads check bounds either way).
    """
    O, CPG = w.shape[0], w.shape[1]
    opg = O // groups
    wt = np.ascontiguousarray(w[:, :, :, ::-1, ::-1].reshape((groups, opg, CPG, 1, 3, 3))
                              .swapaxes(1, 2).reshape((groups * CPG, opg, 1, 3, 3)))
    pad = (0, 2 * dilation[1] - pad_lo[1], 2 * dilation[2] - pad_lo[2])
    conv_forward_winograd(gx, gy, wt, b, has_bias, pad, dilation, groups, V, M, Up)


@inline
def _g3(g0, g1, g2):
    """G g for one column of three taps (in float64: the weight transform runs once per call)."""
    return (g0,
            (g0 + g1 + g2) / 3.0,
            (-g0 + g1 - g2) / 3.0,
            (-16.0 * g0 - 8.0 * g1 - 4.0 * g2) / 15.0,
            (g0 - 2.0 * g1 + 4.0 * g2) / 15.0,
            g2)


@inline
def _bt6(d0, d1, d2, d3, d4, d5, one):
    """B^T d for one column of six inputs (``one`` of their type keeps the arithmetic in it)."""
    h = one / (one + one)
    return (d0 - (one + h) * d1 - (d2 + d2) + (one + h) * d3 + d4,
            -d1 + h * d2 + (one + one + h) * d3 + d4,
            d1 - (one + one + h) * d2 + h * d3 + d4,
            -(d1 + d1) - d2 + (d3 + d3) + d4,
            h * d1 - d2 - h * d3 + d4,
            d1 - (one + h) * d2 - (d3 + d3) + (one + h) * d4 + d5)


@inline
def _at6(m0, m1, m2, m3, m4, m5, one):
    """A^T m for one column of six transformed products."""
    h = one / (one + one)
    two = one + one
    return (m0 + m1 + m2 + m3 + m4,
            m1 - m2 + h * m3 - two * m4,
            m1 + m2 + (h * h) * m3 + (two * two) * m4,
            m1 - m2 + (h * h * h) * m3 - (two * two * two) * m4 + m5)


@inline
def _tile_starts(n, d):
    """The first output of each tile along a dimension of ``n`` outputs with dilation ``d``: per
    residue r of d, outputs r, r + d, r + 2d, ... taken four at a time."""
    count = 0
    for r in range(min(d, n)):
        count += (-(-(n - r) // d) + 3) // 4
    starts = np.empty(count, np.int64)
    i = 0
    for r in range(min(d, n)):
        for j in range((-(-(n - r) // d) + 3) // 4):
            starts[i] = r + 4 * d * j
            i += 1
    return starts


@inline
def _workspace_layout(v_size, m_size, groups, CPG, opg, rows, TW):
    """(tile rows per chunk, V rows, M rows, row length) for rows of ``TW`` tiles each:
    chunks are whole rows of tiles; V is viewed as (groups, 36, V rows, row length), M likewise.
    The row length is an odd number of cache lines and the row counts are odd, so the 36 points of
    one tile and channel do not all map to one L1 set (a power-of-two stride would)."""
    rv, rm = CPG | 1, opg | 1
    chunk = min(v_size // (groups * 36 * rv), m_size // (groups * 36 * rm)) - 32
    per = max(1, min(rows, chunk // TW))
    ld = per * TW + (-(per * TW)) % 16
    if (ld // 16) % 2 == 0:
        ld += 16
    return per, rv, rm, ld


@inline
def _residues(n, d):
    """(first output, tiles) of each residue of a dimension of ``n`` outputs, dilation ``d``, in
    ``_tile_starts`` order: residue r's tiles start at r + 4*d*j."""
    out = np.empty((min(d, n), 2), np.int64)
    for r in range(min(d, n)):
        out[r, 0] = r
        out[r, 1] = (-(-(n - r) // d) + 3) // 4
    return out


@inline
def _gather_row(Xb, q, plane, h0, dh, r0, nt, dw, zero):
    """Xb[i, c % 4, q + c // 4] = plane[h0 + dh*i, r0 + dw*c] for i < 6, c < 4*(nt + 1) (zero
    outside the plane): the six input rows under ``nt`` tiles of one residue, with their columns
    split by position mod 4 so that tile jj's column c is phase c % 4 at q + jj + c // 4."""
    H, W = plane.shape
    for i in range(6):
        ih = h0 + dh * i
        xr = Xb[i]
        if 0 <= ih < H:
            row = plane[ih]
            if r0 >= 0 and r0 + dw * (4 * nt + 3) < W:  # all columns inside
                for m4 in range(nt + 1):
                    seg = row[r0 + 4 * dw * m4:]
                    xr[0, q + m4], xr[1, q + m4], xr[2, q + m4], xr[3, q + m4] = seg[0], seg[dw], seg[2 * dw], seg[3 * dw]
            else:
                for m4 in range(nt + 1):
                    for r4 in range(4):
                        col = r0 + dw * (4 * m4 + r4)
                        xr[r4, q + m4] = row[col] if 0 <= col < W else zero
        else:
            xr[:, q:q + nt + 1] = zero


@inline
def _input_transform(Vg, j, Xb, Rb, Wb, segs, L, one):
    """V[xi, j, t] = (B^T d B)[xi] for every tile t of the gathered rows: B^T down the six rows, then
    B along the columns, each pass one loop over the whole chunk (runs long enough to vectorize;
    one row of tiles alone is too short), then each segment's tiles copied into V. Segment s has
    ``segs[s]`` tiles, gathered at positions q .. q + segs[s] (one more column group than tiles:
    the last tile's patch reaches into it), so its tiles sit at q .. q + segs[s] - 1 in ``Wb``."""
    for r4 in range(4):
        x0, x1, x2 = Xb[0, r4], Xb[1, r4], Xb[2, r4]
        x3, x4, x5 = Xb[3, r4], Xb[4, r4], Xb[5, r4]
        for q in range(L):
            e0, e1, e2, e3, e4, e5 = _bt6(x0[q], x1[q], x2[q], x3[q], x4[q], x5[q], one)
            Rb[0, r4, q], Rb[1, r4, q], Rb[2, r4, q] = e0, e1, e2
            Rb[3, r4, q], Rb[4, r4, q], Rb[5, r4, q] = e3, e4, e5
    for a in range(6):
        q0, q1, q2, q3 = Rb[a, 0], Rb[a, 1], Rb[a, 2], Rb[a, 3]
        w0, w1, w2 = Wb[6 * a], Wb[6 * a + 1], Wb[6 * a + 2]
        w3, w4, w5 = Wb[6 * a + 3], Wb[6 * a + 4], Wb[6 * a + 5]
        for q in range(L - 1):
            e0, e1, e2, e3, e4, e5 = _bt6(q0[q], q1[q], q2[q], q3[q], q0[q + 1], q1[q + 1], one)
            w0[q], w1[q], w2[q], w3[q], w4[q], w5[q] = e0, e1, e2, e3, e4, e5
    q = t = 0
    for s in range(segs.size):
        nt = segs[s]
        for xi in range(36):
            Vg[xi, j, t:t + nt] = Wb[xi, q:q + nt]
        q += nt + 1
        t += nt


@inline
def _output_transform(Mg, k, Z1, Z2, L, one):
    """Z2[a, c, q] = (A^T M[:, k, q] A)[a, c] for every position q < L of the chunk: A^T over the six
    row points, then A over the six column points, each pass one loop over the whole chunk."""
    for c in range(6):
        m0, m1, m2 = Mg[c, k], Mg[6 + c, k], Mg[12 + c, k]
        m3, m4, m5 = Mg[18 + c, k], Mg[24 + c, k], Mg[30 + c, k]
        for q in range(L):
            e0, e1, e2, e3 = _at6(m0[q], m1[q], m2[q], m3[q], m4[q], m5[q], one)
            Z1[0, c, q], Z1[1, c, q], Z1[2, c, q], Z1[3, c, q] = e0, e1, e2, e3
    for a in range(4):
        z0, z1, z2, z3, z4, z5 = Z1[a, 0], Z1[a, 1], Z1[a, 2], Z1[a, 3], Z1[a, 4], Z1[a, 5]
        for q in range(L):
            e0, e1, e2, e3 = _at6(z0[q], z1[q], z2[q], z3[q], z4[q], z5[q], one)
            Z2[a, 0, q], Z2[a, 1, q], Z2[a, 2, q], Z2[a, 3, q] = e0, e1, e2, e3


@inline
def _scatter_row(out, Z2, q, h0, dh, r0, nt, dw, bias):
    """out[h0 + dh*a, r0 + dw*(4*jj + c)] = Z2[a, c, q + jj] + bias for the ``nt`` tiles of one
    residue of one row of tiles, inside the output only."""
    OH, OW = out.shape
    for a in range(4):
        oh = h0 + dh * a
        if oh >= OH:
            continue
        row = out[oh]
        z0, z1, z2, z3 = Z2[a, 0], Z2[a, 1], Z2[a, 2], Z2[a, 3]
        full = nt if r0 + dw * (4 * nt - 1) < OW else nt - 1  # tiles whose four columns are all inside
        for jj in range(full):
            col = r0 + dw * 4 * jj
            row[col] = z0[q + jj] + bias
            row[col + dw] = z1[q + jj] + bias
            row[col + 2 * dw] = z2[q + jj] + bias
            row[col + 3 * dw] = z3[q + jj] + bias
        for jj in range(full, nt):
            for c in range(4):
                col = r0 + dw * (4 * jj + c)
                if col < OW:
                    row[col] = Z2[a, c, q + jj] + bias


@kernel
def _input_stage(Vc, x, CPG, row0, rc, TH, TW, hs, res, ph, pw, dh, dw):
    """V[g, xi, j, t] = (B^T d B)[xi] for the 6x6 input patch d of each tile t of the chunk of ``rc``
    rows of tiles from ``row0`` (rows of tiles numbered across the batch); per channel, the whole
    chunk's rows at once."""
    C = x.shape[1]
    one, zero = x.dtype.type(1), x.dtype.type(0)
    segs = np.empty(rc * res.shape[0], np.int64)  # tiles per segment: per row of tiles, per residue
    for rr in range(rc):
        for r in range(res.shape[0]):
            segs[rr * res.shape[0] + r] = res[r, 1]
    L = rc * (TW + res.shape[0])  # gathered positions: each segment's tiles and one more
    parts = plane_parts(C)
    for part in prange(parts):
        Xb = np.empty((6, 4, L), x.dtype)
        Rb = np.empty((6, 4, L), x.dtype)
        Wb = np.empty((36, L), x.dtype)
        for c in range(*part_range(part, parts, C)):
            q = 0
            for rr in range(rc):
                n, th = (row0 + rr) // TH, (row0 + rr) % TH
                for r in range(res.shape[0]):
                    _gather_row(Xb, q, x[n, c, 0], hs[th] - ph, dh, res[r, 0] - pw, res[r, 1], dw, zero)
                    q += res[r, 1] + 1
            _input_transform(Vc[c // CPG], c % CPG, Xb, Rb, Wb, segs, L, one)


@kernel
def conv_forward_winograd(y, x, w, b, has_bias, pad_lo, dilation, groups, V, M, Up):
    """y[n,o,h,w] = b[o] + sum_{j,kh,kw} w[o,j,kh,kw] * x[n, g(o)*C/groups + j, h + kh*dh - ph, w + kw*dw - pw].

    ``V`` and ``M`` are flat workspaces of ``workspace_size`` elements, ``Up`` one of at least
    36 * O * C/groups (the transformed weights). Per chunk of whole rows of tiles, three parallel
    passes: the input transform (a task per input channel, over the whole chunk:
    ``_input_stage``), the GEMMs (group x point x block of tiles, on ``gemm.panels``), the output
    transform (a task per output channel, over the whole chunk).
    """
    N, O, OH, OW = y.shape[0], y.shape[1], y.shape[3], y.shape[4]
    CPG = w.shape[1]
    opg = O // groups
    ph, pw = pad_lo[1], pad_lo[2]
    dh, dw = dilation[1], dilation[2]
    one, zero = x.dtype.type(1), x.dtype.type(0)
    hs = _tile_starts(OH, dh)
    res = _residues(OW, dw)
    TH, TW = hs.size, _tile_starts(OW, dw).size
    per, rv, rm, ld = _workspace_layout(V.size, M.size, groups, CPG, opg, N * TH, TW)
    Vc = V[:groups * 36 * rv * ld].reshape((groups, 36, rv, ld))
    Mc = M[:groups * 36 * rm * ld].reshape((groups, 36, rm, ld))
    # weight transform, in float64: U[g, xi, k, j] = (G w[o, j] G^T)[xi], per block of the GEMMs'
    # rows (gemm.row_block's blocks of output channels), JC input channels at a time (the loops over
    # j vectorize), staged, then written into ``Up`` packed for gemm.panels as gemm.pack_rows would:
    # each block's cache lines are written once, by one task
    nb = row_blocks(opg)
    for task in prange(groups * nb):
        g, bi = task // nb, task % nb
        r0, mr = block_at(opg, bi)
        taps = np.empty((9, JC))  # taps[3*kh + kw, j]
        half = np.empty((6, 3, JC))  # G down the taps' rows: half[a, kw, j]
        stage = np.empty((mr, 36, JC), x.dtype)
        for j0 in range(0, CPG, JC):
            jl = min(JC, CPG - j0)
            for r in range(mr):
                wo = w[g * opg + r0 + r]
                for j in range(jl):
                    for kh in range(3):
                        for kw in range(3):
                            taps[3 * kh + kw, j] = wo[j0 + j, 0, kh, kw]
                for kw in range(3):
                    t0, t1, t2 = taps[kw], taps[3 + kw], taps[6 + kw]
                    h0, h1, h2, h3, h4, h5 = half[0, kw], half[1, kw], half[2, kw], half[3, kw], half[4, kw], half[5, kw]
                    for j in range(jl):
                        h0[j], h1[j], h2[j], h3[j], h4[j], h5[j] = _g3(t0[j], t1[j], t2[j])
                for a in range(6):
                    q0, q1, q2 = half[a, 0], half[a, 1], half[a, 2]
                    s0, s1, s2 = stage[r, 6 * a], stage[r, 6 * a + 1], stage[r, 6 * a + 2]
                    s3, s4, s5 = stage[r, 6 * a + 3], stage[r, 6 * a + 4], stage[r, 6 * a + 5]
                    for j in range(jl):
                        s0[j], s1[j], s2[j], s3[j], s4[j], s5[j] = _g3(q0[j], q1[j], q2[j])
            for xi in range(36):
                dst = Up[((g * 36 + xi) * opg + r0) * CPG + j0 * mr:]
                for j in range(jl):
                    for r in range(mr):
                        dst[j * mr + r] = stage[r, xi, j]
    voff = np.arange(CPG) * ld  # V's rows of one (g, xi)
    for row0 in range(0, N * TH, per):
        rc = min(per, N * TH - row0)
        tc = rc * TW
        _input_stage(Vc, x, CPG, row0, rc, TH, TW, hs, res, ph, pw, dh, dw)
        # the GEMMs: M[g, xi, k, t] = sum_j U[g, xi, k, j] V[g, xi, j, t], blocks of TB tiles
        nbc = (tc + TB - 1) // TB
        for task in prange(groups * 36 * nbc):
            gx, blk = task // nbc, task % nbc
            lo = blk * TB
            cl = min(tc, lo + TB) - lo
            for j0 in range(0, CPG, KB):
                panels(Mc, gx * rm * ld + lo, ld, Up, gx * opg * CPG, CPG, j0, Vc, gx * rv * ld + lo, voff[j0:],
                       min(KB, CPG - j0), opg, cl, 1 if j0 > 0 else 0, Up)
        # output transform: y[n, o, tile] = A^T M[g, :, k, t] A (+ bias), inside the output only;
        # per output channel, the whole chunk at once
        parts = plane_parts(O)
        for part in prange(parts):
            Z1 = np.empty((4, 6, tc), x.dtype)
            Z2 = np.empty((4, 4, tc), x.dtype)
            for o in range(*part_range(part, parts, O)):
                _output_transform(Mc[o // opg], o % opg, Z1, Z2, tc, one)
                bias = b[o] if has_bias else zero
                t = 0
                for rr in range(rc):
                    n, th = (row0 + rr) // TH, (row0 + rr) % TH
                    for r in range(res.shape[0]):
                        _scatter_row(y[n, o, 0], Z2, t, hs[th], dh, res[r, 0], res[r, 1], dw, bias)
                        t += res[r, 1]


# ----------------------------------------------------------------------------- weight gradient
#
# The weight gradient is the adjoint of the forward's middle step. Per tile, y = A^T [U * V] A with
# U = G g G^T, so dL/dg = G^T [ (A dy A^T) * V ] G: the output gradient's 4x4 tile goes through A
# (``_a6``), the products summed over tiles are again 36 GEMMs, now reducing over the tiles, and
# the 6x6 sums come back to 3x3 through G^T (``_gt6``).


@inline
def _a6(g0, g1, g2, g3, one):
    """A g for one column of four output gradients (A = AT transposed, 6x4)."""
    h = one / (one + one)
    two = one + one
    return (g0,
            g0 + g1 + g2 + g3,
            g0 - g1 + g2 - g3,
            g0 + h * g1 + (h * h) * g2 + (h * h * h) * g3,
            g0 - two * g1 + (two * two) * g2 - (two * two * two) * g3,
            g3)


@inline
def _gt6(u0, u1, u2, u3, u4, u5):
    """G^T u for one column of six (in float64: it runs once per call, on the summed products)."""
    return (u0 + (u1 - u2) / 3.0 + (-16.0 * u3 + u4) / 15.0,
            (u1 + u2) / 3.0 + (-8.0 * u3 - 2.0 * u4) / 15.0,
            (u1 - u2) / 3.0 + (-4.0 * u3 + 4.0 * u4) / 15.0 + u5)


@kernel
def _grad_stage(Mc, gy, opg, row0, rc, TH, TW, hs):
    """M[g, xi, k, t] = (A dy A^T)[xi] for the 4x4 output-gradient tile dy of each tile t of the chunk
    (zero past the output's edge); per output channel, the whole chunk at once: the four rows of
    each row of tiles are gathered with their columns split by position mod 4, then A runs down
    the rows and along the columns, each pass one loop over the chunk."""
    O, OH, OW = gy.shape[1], gy.shape[3], gy.shape[4]
    one, zero = gy.dtype.type(1), gy.dtype.type(0)
    L = rc * TW
    parts = plane_parts(O)
    for part in prange(parts):
        Gb = np.empty((4, 4, L), gy.dtype)  # [row i, column phase c, tile]
        Rb = np.empty((6, 4, L), gy.dtype)
        for o in range(*part_range(part, parts, O)):
            for rr in range(rc):
                n, th = (row0 + rr) // TH, (row0 + rr) % TH
                t0 = rr * TW
                for i in range(4):
                    oh = hs[th] + i
                    if oh < OH:
                        row = gy[n, o, 0, oh]
                        for jj in range(TW):
                            for c in range(4):
                                col = 4 * jj + c
                                Gb[i, c, t0 + jj] = row[col] if col < OW else zero
                    else:
                        Gb[i, :, t0:t0 + TW] = zero
            for c in range(4):
                g0, g1, g2, g3 = Gb[0, c], Gb[1, c], Gb[2, c], Gb[3, c]
                for q in range(L):
                    e0, e1, e2, e3, e4, e5 = _a6(g0[q], g1[q], g2[q], g3[q], one)
                    Rb[0, c, q], Rb[1, c, q], Rb[2, c, q] = e0, e1, e2
                    Rb[3, c, q], Rb[4, c, q], Rb[5, c, q] = e3, e4, e5
            Mg, k = Mc[o // opg], o % opg
            for a in range(6):
                r0, r1, r2, r3 = Rb[a, 0], Rb[a, 1], Rb[a, 2], Rb[a, 3]
                m0, m1, m2 = Mg[6 * a, k], Mg[6 * a + 1, k], Mg[6 * a + 2, k]
                m3, m4, m5 = Mg[6 * a + 3, k], Mg[6 * a + 4, k], Mg[6 * a + 5, k]
                for q in range(L):
                    e0, e1, e2, e3, e4, e5 = _a6(r0[q], r1[q], r2[q], r3[q], one)
                    m0[q], m1[q], m2[q], m3[q], m4[q], m5[q] = e0, e1, e2, e3, e4, e5


@kernel
def conv_weight_grad_winograd(gw, x, gy, pad_lo, groups, V, M, U):
    """gw[o,j,kh,kw] = sum_{n,h,w} gy[n,o,h,w] * x[n, g(o)*C/groups + j, h + kh - ph, w + kw - pw]
    (3x3, stride 1, no dilation).

    ``V`` and ``M`` are flat workspaces of ``workspace_size`` elements, ``U`` one of at least 36 *
    O * C/groups. Per chunk of whole rows of tiles: the input transform (as the forward's), the output gradient's transform, then the 36
    GEMMs P[g, xi, k, j] += sum_t M[g, xi, k, t] V[g, xi, j, t], a task per group and point, the
    chunks added in order, so the result does not depend on the thread count. Last, per weight,
    G^T P G in float64.
    """
    N, O, OH, OW = gy.shape[0], gy.shape[1], gy.shape[3], gy.shape[4]
    CPG = gw.shape[1]
    opg = O // groups
    ph, pw = pad_lo[1], pad_lo[2]
    hs = _tile_starts(OH, 1)
    res = _residues(OW, 1)
    TH, TW = hs.size, _tile_starts(OW, 1).size
    per, rv, rm, ld = _workspace_layout(V.size, M.size, groups, CPG, opg, N * TH, TW)
    Vc = V[:groups * 36 * rv * ld].reshape((groups, 36, rv, ld))
    Mc = M[:groups * 36 * rm * ld].reshape((groups, 36, rm, ld))
    P = U[:groups * 36 * opg * CPG].reshape((groups, 36, opg, CPG))  # the products summed over tiles
    P[...] = 0.0
    voff = np.arange(CPG) * ld  # V's rows of one (g, xi)
    for row0 in range(0, N * TH, per):
        rc = min(per, N * TH - row0)
        tc = rc * TW
        _input_stage(Vc, x, CPG, row0, rc, TH, TW, hs, res, ph, pw, 1, 1)
        _grad_stage(Mc, gy, opg, row0, rc, TH, TW, hs)
        for gx in prange(groups * 36):  # blocks of TB tiles: the 4 + 4 rows of a dots block stay in L1
            for t0 in range(0, tc, 2 * TB):
                dots(P, gx * opg * CPG, CPG, Mc, gx * rm * ld + t0, ld, opg, Vc, gx * rv * ld + t0, voff, CPG,
                     min(2 * TB, tc - t0))
    for o in prange(O):
        g, k = o // opg, o % opg
        half = np.empty((6, 3))
        for j in range(CPG):
            for a in range(6):
                e0, e1, e2 = _gt6(np.float64(P[g, 6 * a, k, j]), np.float64(P[g, 6 * a + 1, k, j]),
                                  np.float64(P[g, 6 * a + 2, k, j]), np.float64(P[g, 6 * a + 3, k, j]),
                                  np.float64(P[g, 6 * a + 4, k, j]), np.float64(P[g, 6 * a + 5, k, j]))
                half[a, 0], half[a, 1], half[a, 2] = e0, e1, e2
            for kw in range(3):
                e0, e1, e2 = _gt6(half[0, kw], half[1, kw], half[2, kw], half[3, kw], half[4, kw], half[5, kw])
                gw[o, j, 0, 0, kw], gw[o, j, 0, 1, kw], gw[o, j, 0, 2, kw] = e0, e1, e2
