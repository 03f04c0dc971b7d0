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

A NaN or an infinity in the input spreads over the whole 4x4 tile of outputs whose patch holds it
(the transforms mix all 36 values of a patch), where the definition's sums spread it only to the
outputs whose window holds it. So each pass counts the values it made that are not finite (about
free: they are counted in buffers already in cache), and ``numconv.ops.conv`` runs the pass again on
``planes`` when the count is not zero; finite results are kept as they are.

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

from . import inline, kernel, part_range, plane_parts, task
from .gemm import BOUNDS, block_at, dots, panels, row_blocks
from .simd import make_combine, make_merge, make_split, merge4, split4

# Toom-Cook matrices of F(4, 3) at the points 0, 1, -1, 1/2, -2, infinity. The transforms apply
# them as they are (``simd.make_combine``; the weight transform in float64), except the weight
# gradient's G^T, spelled out in float64 (``_gt6``). Tests check them against the correlation they
# compute.
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

# Elements in each of V and M: tiles go through the three stages a chunk at a time, small enough
# that a chunk's V and M stay in cache between the stages (resnet_3x3_128's forward: 9.5 ms at 1M
# elements, 11.1 at 4M), but with at least CHUNK_TILES tiles, over which every chunk's GEMMs
# stream the transformed weights once (512 channels on 7x7: 31 ms in chunks of 24 tiles, 16 in one
# of 128). Measured in docs/performance.md.
WORKSPACE = 1 << 20
CHUNK_TILES = 128
TB = 256  # tiles per GEMM task
KB = 256  # input channels per panel pass
JC = 128  # input channels per pass of the weight transform: a block's staged transforms stay in L2


def applies(spec, pass_: str = "forward") -> bool:
    """A 2-d 3x3 convolution with stride 1 (any padding, dilation and groups), for every pass."""
    return (spec.w_shape[2:] == (1, 3, 3) and spec.stride == (1, 1, 1) and spec.x_shape[2] == 1
            and spec.y_shape[2] == 1 and spec.pad_lo[0] == 0)


def preferred(spec, pass_: str) -> bool:
    """Whether to run it for a pass: when it applies with a dilation of 1 or 2 along the rows, each
    group has at least MIN_CHANNELS channels on both sides and there are at least MIN_TILES tiles.

    Since the GEMMs of both Winograd and ``planes`` run on the register-blocked micro-kernel,
    the transforms decide. Written in vector IR (``simd.make_combine``, ``split4``, ``merge4``)
    they cost a third of the Python loops they replaced, and Winograd beats ``planes`` from 32
    channels (forward and backward, ms: 32 channels on 56x56 4.6 against 5.2 and 10.0 against
    12.2; 64 on 56x56 11.0 against 18.6 and 24.6 against 42.5), not at 16 (0.61 against 0.45).
    Dilation splits the rows of tiles by residue; with 2 along the rows the residues' columns are
    split by shuffles too (``simd.make_split(8)``): 64 channels on 56x56, forward 14.5 against
    19.2 ms, backward (the weight gradient on ``planes``) 38.5 against 43.7; the weight gradient
    alone 40 against 49 ms (128 channels on 28x28: 44 against 51). Larger dilations gather their
    columns one by one. Measured in docs/performance.md."""
    if not applies(spec, pass_) or spec.dilation[2] > 2:
        return False
    O, CPG = spec.w_shape[0], spec.w_shape[1]
    opg = O // spec.groups
    if min(CPG, opg) < MIN_CHANNELS:
        return False
    out = spec.x_shape if pass_ == "input_grad" else spec.y_shape
    tiles = out[0] * (-(-out[3] // 4)) * (-(-out[4] // 4))
    return tiles >= MIN_TILES


MIN_CHANNELS = 32
# Tiles it needs to pay for the transforms: at 128 tiles Winograd beat the others at 256 channels
# on 8x8 (forward 6.5 against 9.1 ms on planes), at 32 tiles it lost to gemm at 512 channels on
# 4x4 (forward 35 against 13 ms, weight gradient 32-35 against 18-21 ms; at the sixth session's
# code 13.7 against 10.4 forward, 16.0 against 9.4 input gradient; at the seventh's 10.6 against
# 8.4-11.2 forward: writing and streaming back 37.7 MB of transformed weights for 32 tiles is
# memory-bound; at the tenth's, 8.4 against 7.9 forward, 26 against 15 backward).
MIN_TILES = 128


def workspace_size(w_shape, groups, out_width, dilation_w) -> int:
    """Elements in each of the workspaces V and M: WORKSPACE, or enough for CHUNK_TILES tiles and
    one row of tiles more."""
    O, CPG = w_shape[0], w_shape[1]
    row = out_width // 4 + dilation_w + 1  # at least the tiles in one row, over all residues
    return max(WORKSPACE, groups * 36 * (max(CPG, O // groups) | 1) * (CHUNK_TILES + row + 32))


def conv_input_grad_winograd(gx, gy, w, b, has_bias, pad_lo, dilation, groups, V, M, Up):
    """gx = the input gradient of the convolution (its transposed convolution of ``gy``, plus ``b``).

    With stride 1 it is the convolution of ``gy`` with the flipped weight, transposed per group,
    and padding ``d*2 - pad`` (negative when the forward padded more than the kernel reaches; the
    patch reads check bounds either way). Returns the forward's count of values not finite.
    """
    O, CPG = w.shape[0], w.shape[1]
    opg = O // groups
    wt = np.ascontiguousarray(w[:, :, :, ::-1, ::-1].reshape((groups, opg, CPG, 1, 3, 3))
                              .swapaxes(1, 2).reshape((groups * CPG, opg, 1, 3, 3)))
    pad = (0, 2 * dilation[1] - pad_lo[1], 2 * dilation[2] - pad_lo[2])
    return conv_forward_winograd(gx, gy, wt, b, has_bias, pad, dilation, groups, V, M, Up)


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
def _gather_row(Xf, q, L, xf, row0, h0, dh, H, W, r0, nt, dw):
    """Xb[i, c % 4, q + c // 4] = plane[h0 + dh*i, r0 + dw*c] for i < 6, c < 4*(nt + 1) (zero
    outside the plane), with Xb = Xf viewed as (6, 4, L) and the plane's rows at ``xf[row0 + W*h]``:
    the six input rows under ``nt`` tiles of one residue, with their columns split by position
    mod 4 so that tile jj's column c is phase c % 4 at q + jj + c // 4. Without dilation along the
    row, ``simd.split4`` splits each row four vectors at a time."""
    for i in range(6):
        ih = h0 + dh * i
        inside = 0 <= ih < H
        if dw == 1:  # a row outside the plane is a row of no columns: zeros
            _split4(Xf, 4 * i * L + q, L, xf, row0 + W * ih if inside else 0, r0, W if inside else 0, nt + 1)
        else:
            for m4 in range(nt + 1):
                for r4 in range(4):
                    col = r0 + dw * (4 * m4 + r4)
                    Xf[(4 * i + r4) * L + q + m4] = xf[row0 + W * ih + col] if inside and 0 <= col < W else 0.0


@inline
def _split4(D, d0, dstride, S, s0, c0, W, groups):
    """``simd.split4``, with its ranges checked when Numba's bounds checking is on."""
    if BOUNDS and groups > 0:
        if d0 < 0 or d0 + 3 * dstride + groups > D.size or (W > 0 and (s0 < 0 or s0 + W > S.size)):
            raise IndexError("split4: rows out of range")
    split4(D, d0, dstride, S, s0, c0, W, groups)


_SPLIT8, _MERGE8 = make_split(8), make_merge(8)  # rows dilated by 2: both residues' four phases at once


@inline
def _dilated2_tables(L, res):
    """For rows dilated by 2, the tables ``_SPLIT8`` and ``_MERGE8`` take, the same for every row of
    tiles: tiles of residue r read columns c0 + r + 2*(4g + p4), phase 2*p4 + r of the row's
    columns mod 8. Returns (gather[8*i + 2*p4 + r], scatter[8*a + 2*c + r], gathered groups, tiles
    per phase, largest of each): offsets from a row of tiles' first gathered position
    (``_input_stage``: row i of the patch, residue r's segment) and first tile (the output
    transform's Z2, row a)."""
    gather = np.zeros((6, 8), np.int64)  # flat rows for the kernels' o0: no view per call
    scatter = np.zeros((4, 8), np.int64)
    gcount, tcount = np.zeros(8, np.int64), np.zeros(8, np.int64)
    q = t = 0
    for r in range(min(res.shape[0], 2)):  # other dilations: tables unused (and two residues at most)
        for p4 in range(4):
            for i in range(6):
                gather[i, 2 * p4 + r] = (4 * i + p4) * L + q
            gcount[2 * p4 + r] = res[r, 1] + 1
            tcount[2 * p4 + r] = res[r, 1]
        q += res[r, 1] + 1
        t += res[r, 1]
    t = 0
    for r in range(min(res.shape[0], 2)):
        for c in range(4):
            for a in range(4):
                scatter[a, 2 * c + r] = (4 * a + c) * L + t
        t += res[r, 1]
    return gather.reshape(48), scatter.reshape(32), gcount, tcount, gcount.max(), tcount.max()


@inline
def _gather_rows_dilated2(Xf, q, xf, row0, h0, dh, H, W, c0, gather, gcount, groups):
    """``_gather_row`` for every residue of one row of tiles at once, dilation 2 along the row
    (``_SPLIT8`` with the tables of ``_dilated2_tables``), from gathered position q."""
    for i in range(6):
        ih = h0 + dh * i
        inside = 0 <= ih < H
        if BOUNDS:
            for k in range(8):
                if gcount[k] > 0 and (q + gather[8 * i + k] < 0 or q + gather[8 * i + k] + gcount[k] > Xf.size):
                    raise IndexError("split: rows out of range")
            if inside and (row0 + W * ih < 0 or row0 + W * (ih + 1) > xf.size):
                raise IndexError("split: row out of range")
        _SPLIT8(Xf, q, gather, 8 * i, gcount, xf, row0 + W * ih if inside else 0, c0, W if inside else 0, groups)


@inline
def _combine_checked(D, d0, dstride, drows, dn, S, s0, sstride, sreach, sn):
    """Raise unless a ``simd.make_combine`` map's ``drows`` output rows of ``dn`` elements and its
    input rows (``sn`` elements from up to ``sreach`` past s0) lie inside D and S (bounds checking
    on only)."""
    if BOUNDS and sn > 0:
        if d0 < 0 or d0 + (drows - 1) * dstride + dn > D.size or s0 < 0 or s0 + sreach + sn > S.size:
            raise IndexError("combine: rows out of range")


# B^T down the six gathered rows of one column phase (rows 4L apart), and B along the columns of
# the six rows that gives (each of the six: phases 0-3 at q, phases 0-1 at q + 1) into V's 36 points
_BT_DOWN = make_combine(BT, range(6), (0,) * 6)
_B_ALONG = make_combine(np.kron(np.eye(6), BT), [4 * a + k for a in range(6) for k in (0, 1, 2, 3, 0, 1)],
                        [0, 0, 0, 0, 1, 1] * 6)
_B_ALONG_PACKED = make_combine(np.kron(np.eye(6), BT), [4 * a + k for a in range(6) for k in (0, 1, 2, 3, 0, 1)],
                               [0, 0, 0, 0, 1, 1] * 6, compress=True)


@inline
def _input_transform(Vf, v0, vstride, Xf, Rf, segs, L):
    """V[xi, t] = (B^T d B)[xi] for every tile t of the gathered rows (``Xf`` as (6, 4, L)), with
    V's point xi at ``Vf[v0 + xi*vstride]``: B^T down the six rows, one pass over the whole chunk
    per column phase (into ``Rf``, as (6, 4, L)), then B along the columns straight into V.
    Segment s has ``segs[s]`` tiles, gathered at positions q .. q + segs[s] (one more column
    group than tiles: the last tile's patch reaches into it). When all segments are alike (no
    dilation along the rows) B runs over the whole chunk too, dropping each segment's extra
    position as it stores; else a segment at a time."""
    for r4 in range(4):
        _combine_checked(Rf, r4 * L, 4 * L, 6, L, Xf, r4 * L, 4 * L, 20 * L, L)
        _BT_DOWN(Rf, r4 * L, 4 * L, Xf, r4 * L, 4 * L, L)
    nt = segs[0]
    if L == segs.size * (nt + 1):
        _combine_checked(Vf, v0, vstride, 36, L - segs.size, Rf, 0, L, 23 * L, L)
        _B_ALONG_PACKED(Vf, v0, vstride, Rf, 0, L, L, nt + 1)
        return
    q = t = 0
    for s in range(segs.size):
        nt = segs[s]
        _combine_checked(Vf, v0 + t, vstride, 36, nt, Rf, q, L, 23 * L + 1, nt)
        _B_ALONG(Vf, v0 + t, vstride, Rf, q, L, nt)
        q += nt + 1
        t += nt


_AT_ROWS = make_combine(AT, range(6), (0,) * 6)  # A^T down six rows at a stride (either pass)


@inline
def _output_transform(Mf, m0, mstride, Z1f, Z2f, L):
    """Z2[a, c, q] = (A^T M[:, q] A)[a, c] for every position q < L of the chunk, with M's point xi
    at ``Mf[m0 + xi*mstride]`` and Z1, Z2 = Z1f, Z2f viewed as (4, 6, L) and (4, 4, L): A^T over the
    six row points, then A over the six column points, each pass one loop over the whole chunk."""
    for c in range(6):
        _combine_checked(Z1f, c * L, 6 * L, 4, L, Mf, m0 + c * mstride, 6 * mstride, 30 * mstride, L)
        _AT_ROWS(Z1f, c * L, 6 * L, Mf, m0 + c * mstride, 6 * mstride, L)
    for a in range(4):
        _combine_checked(Z2f, 4 * a * L, L, 4, L, Z1f, 6 * a * L, L, 5 * L, L)
        _AT_ROWS(Z2f, 4 * a * L, L, Z1f, 6 * a * L, L, L)


@inline
def _nonfinite(a, n):
    """1 if a[:n] holds a NaN or an infinity (their sum is then not finite), else 0; a sum past the
    largest float also gives 1, which costs a needless rerun, never a wrong result. One add per
    value, vectorized. (Not v - v != 0: under the kernels' 'reassoc' flag LLVM may cancel an
    expression against itself; the ordered test |s| < inf is false for NaN and infinities.)"""
    total = a.dtype.type(0)
    for i in range(n):
        total += a[i]
    return 0 if abs(total) < a.dtype.type(np.inf) else 1


@inline
def _scatter_row(yf, y0, OH, OW, Z2f, L, q, h0, dh, r0, nt, dw, bias):
    """out[h0 + dh*a, r0 + dw*(4*jj + c)] = Z2[a, c, q + jj] + bias for the ``nt`` tiles of one
    residue of one row of tiles, inside the output only, with out's rows at ``yf[y0 + OW*h]`` and
    Z2 = Z2f viewed as (4, 4, L). Without dilation along the row, ``simd.merge4`` interleaves the
    four column phases four vectors at a time."""
    for a in range(4):
        oh = h0 + dh * a
        if oh >= OH:
            continue
        if dw == 1:
            if BOUNDS and nt > 0:
                if y0 + OW * oh < 0 or y0 + OW * (oh + 1) > yf.size or 4 * a * L + q + 3 * L + nt > Z2f.size:
                    raise IndexError("merge4: rows out of range")
            merge4(yf, y0 + OW * oh, r0, OW, Z2f, 4 * a * L + q, L, nt, bias)
        else:
            for jj in range(nt):
                for c in range(4):
                    col = r0 + dw * (4 * jj + c)
                    if col < OW:
                        yf[y0 + OW * oh + col] = Z2f[(4 * a + c) * L + q + jj] + bias


@inline
def _scatter_rows_dilated2(yf, y0, OH, OW, Z2f, t, h0, dh, scatter, tcount, groups, bias):
    """``_scatter_row`` for every residue of one row of tiles at once, dilation 2 along the row
    (``_MERGE8`` with the tables of ``_dilated2_tables``), from tile t."""
    for a in range(4):
        oh = h0 + dh * a
        if oh >= OH:
            continue
        if BOUNDS:
            for k in range(8):
                if tcount[k] > 0 and (t + scatter[8 * a + k] < 0 or t + scatter[8 * a + k] + tcount[k] > Z2f.size):
                    raise IndexError("merge: rows out of range")
            if y0 + OW * oh < 0 or y0 + OW * (oh + 1) > yf.size:
                raise IndexError("merge: row out of range")
        _MERGE8(yf, y0 + OW * oh, 0, OW, Z2f, t, scatter, 8 * a, tcount, groups, bias)


@kernel
def _input_stage(Vc, x, CPG, row0, rc, TH, TW, hs, res, ph, pw, dh, dw):
    """V[g, xi, j, t] = (B^T d B)[xi] for the 6x6 input patch d of each tile t of the chunk of ``rc``
    rows of tiles from ``row0`` (rows of tiles numbered across the batch); per channel, the whole
    chunk's rows at once."""
    C, H, W = x.shape[1], x.shape[3], x.shape[4]
    xf = x.reshape(x.size)
    Vf = Vc.reshape(Vc.size)
    G36, rv, ld = Vc.shape[1], Vc.shape[2], Vc.shape[3]
    segs = np.empty(rc * res.shape[0], np.int64)  # tiles per segment: per row of tiles, per residue
    for rr in range(rc):
        for r in range(res.shape[0]):
            segs[rr * res.shape[0] + r] = res[r, 1]
    L = rc * (TW + res.shape[0])  # gathered positions: each segment's tiles and one more
    parts = plane_parts(C)
    for part in prange(parts):
        Xf = np.empty(6 * 4 * L, x.dtype)
        Rf = np.empty(6 * 4 * L, x.dtype)
        gather, _, gcount, _, ggroups, _ = _dilated2_tables(L, res)
        for c in range(*part_range(part, parts, C)):
            q = 0
            for rr in range(rc):
                n, th = (row0 + rr) // TH, (row0 + rr) % TH
                if dw == 2:
                    _gather_rows_dilated2(Xf, q, xf, (n * C + c) * H * W, hs[th] - ph, dh, H, W, -pw, gather, gcount,
                                          ggroups)
                    q += TW + res.shape[0]
                    continue
                for r in range(res.shape[0]):
                    _gather_row(Xf, q, L, xf, (n * C + c) * H * W, hs[th] - ph, dh, H, W, res[r, 0] - pw, res[r, 1], dw)
                    q += res[r, 1] + 1
            _input_transform(Vf, ((c // CPG) * G36 * rv + c % CPG) * ld, rv * ld, Xf, Rf, segs, L)


_G_ROWS = make_combine(G, range(3), (0,) * 3)  # G down three rows at a stride (either pass)
_MERGE2 = make_merge(2)  # a block's rows interleaved (8 and 4 rows: _MERGE8, simd.merge4)


@kernel
def _weight_transform(Up, w, groups):
    """U[g, xi, k, j] = (G w[o, j] G^T)[xi] for o = g*opg + k, computed in float64 and written into
    ``Up`` packed for ``gemm.panels`` as ``gemm.pack_rows`` would (each block of the GEMMs' rows, of
    ``gemm.row_block``'s sizes, with its mr rows of one j adjacent). A task per block, JC input
    channels at a time: the taps gathered per output row, G down them and G across (``_G_ROWS``,
    vectors over j), then the block's rows interleaved into ``Up`` by ``simd.make_merge(mr)``."""
    O, CPG = w.shape[0], w.shape[1]
    opg = O // groups
    nb = row_blocks(opg)
    for job in prange(groups * nb):
        g, bi = job // nb, job % nb
        r0, mr = block_at(opg, bi)
        taps = np.empty(9 * JC)  # taps[3*kh + kw, j], float64
        half = np.empty(18 * JC)  # G down the taps' rows: half[a, kw, j]
        full = np.empty(36 * JC)  # G across: full[xi, j]
        stage = np.empty(mr * 36 * JC, w.dtype)  # stage[r, xi, j]
        soff, scount = np.empty(8, np.int64), np.empty(8, np.int64)
        for j0 in range(0, CPG, JC):
            jl = min(JC, CPG - j0)
            for r in range(mr):
                wo = w[g * opg + r0 + r]
                for j in range(jl):
                    for kh in range(3):
                        for kw in range(3):
                            taps[(3 * kh + kw) * JC + j] = wo[j0 + j, 0, kh, kw]
                for kw in range(3):
                    _combine_checked(half, kw * JC, 3 * JC, 6, jl, taps, kw * JC, 3 * JC, 6 * JC, jl)
                    _G_ROWS(half, kw * JC, 3 * JC, taps, kw * JC, 3 * JC, jl)
                for a in range(6):
                    _combine_checked(full, 6 * a * JC, JC, 6, jl, half, 3 * a * JC, JC, 2 * JC, jl)
                    _G_ROWS(full, 6 * a * JC, JC, half, 3 * a * JC, JC, jl)
                sr = stage[r * 36 * JC:]
                for i in range(36 * JC):
                    sr[i] = full[i]
            for r in range(mr):  # row r of the block's stage, from point xi's row
                soff[r] = r * 36 * JC
                scount[r] = jl
            for xi in range(36):
                d0 = ((g * 36 + xi) * opg + r0) * CPG + j0 * mr
                if BOUNDS and (d0 < 0 or d0 + mr * jl > Up.size):
                    raise IndexError("merge: packed weights out of range")
                if mr == 8:
                    _MERGE8(Up, d0, 0, 8 * jl, stage, xi * JC, soff, 0, scount, jl, 0.0)
                elif mr == 4:
                    merge4(Up, d0, 0, 4 * jl, stage, xi * JC, 36 * JC, jl, 0.0)
                elif mr == 2:
                    _MERGE2(Up, d0, 0, 2 * jl, stage, xi * JC, soff, 0, scount, jl, 0.0)
                else:
                    for j in range(jl):
                        Up[d0 + j] = stage[xi * JC + j]


@task
def _output_stage(yf, Mf, b, has_bias, o0, o1, O, opg, rm, ld, row0, rc, TH, TW, hs, res, OH, OW, dh, dw):
    """y[n, o, tile] = A^T M[g, :, k, t] A (+ bias) for the output channels [o0, o1) of the chunk of
    ``rc`` rows of tiles from ``row0``, inside the output only (y's rows at ``yf``, M's points at
    ``Mf``); per channel, the whole chunk at once. Returns how many channels' buffers held a value
    that is not finite (``_nonfinite``)."""
    tc = rc * TW
    Z1f = np.empty(4 * 6 * tc, Mf.dtype)
    Z2f = np.empty(4 * 4 * tc, Mf.dtype)
    _, scatter, _, tcount, _, tgroups = _dilated2_tables(tc, res)
    nonfinite = 0
    for o in range(o0, o1):
        _output_transform(Mf, ((o // opg) * 36 * rm + o % opg) * ld, rm * ld, Z1f, Z2f, tc)
        nonfinite += _nonfinite(Z2f, 16 * tc)
        bias = b[o] if has_bias else Mf.dtype.type(0)
        t = 0
        for rr in range(rc):
            n, th = (row0 + rr) // TH, (row0 + rr) % TH
            if dw == 2:
                _scatter_rows_dilated2(yf, (n * O + o) * OH * OW, OH, OW, Z2f, t, hs[th], dh, scatter, tcount,
                                       tgroups, bias)
                t += TW
                continue
            for r in range(res.shape[0]):
                _scatter_row(yf, (n * O + o) * OH * OW, OH, OW, Z2f, tc, t, hs[th], dh, res[r, 0], res[r, 1], dw, bias)
                t += res[r, 1]
    return nonfinite


@kernel
def conv_forward_winograd(y, x, w, b, has_bias, pad_lo, dilation, groups, V, M, Up):
    """y[n,o,h,w] = b[o] + sum_{j,kh,kw} w[o,j,kh,kw] * x[n, g(o)*C/groups + j, h + kh*dh - ph, w + kw*dw - pw].

    ``V`` and ``M`` are flat workspaces of ``workspace_size`` elements, ``Up`` one of at least
    36 * O * C/groups (the transformed weights). Per chunk of whole rows of tiles, three parallel
    passes: the input transform (a task per input channel, over the whole chunk:
    ``_input_stage``), the GEMMs (group x point x block of tiles, on ``gemm.panels``), the output
    transform (a task per output channel, over the whole chunk).

    Returns a count that is not zero when a transformed tile holds a value that is not finite
    (``_nonfinite`` over the output transform's buffers, positions past the output's edge
    included): the caller then runs the pass on another algorithm (see the module's docstring).
    """
    N, O, OH, OW = y.shape[0], y.shape[1], y.shape[3], y.shape[4]
    CPG = w.shape[1]
    opg = O // groups
    ph, pw = pad_lo[1], pad_lo[2]
    dh, dw = dilation[1], dilation[2]
    hs = _tile_starts(OH, dh)
    res = _residues(OW, dw)
    TH, TW = hs.size, _tile_starts(OW, dw).size
    per, rv, rm, ld = _workspace_layout(V.size, M.size, groups, CPG, opg, N * TH, TW)
    Vc = V[:groups * 36 * rv * ld].reshape((groups, 36, rv, ld))
    Mc = M[:groups * 36 * rm * ld].reshape((groups, 36, rm, ld))
    Mf, yf = M[:groups * 36 * rm * ld], y.reshape(y.size)
    _weight_transform(Up, w, groups)
    voff = np.arange(CPG) * ld  # V's rows of one (g, xi)
    nonfinite = 0
    for row0 in range(0, N * TH, per):
        rc = min(per, N * TH - row0)
        tc = rc * TW
        _input_stage(Vc, x, CPG, row0, rc, TH, TW, hs, res, ph, pw, dh, dw)
        # the GEMMs: M[g, xi, k, t] = sum_j U[g, xi, k, j] V[g, xi, j, t], blocks of TB tiles
        nbc = (tc + TB - 1) // TB
        for job in prange(groups * 36 * nbc):
            gx, blk = job // nbc, job % nbc
            lo = blk * TB
            cl = min(tc, lo + TB) - lo
            for j0 in range(0, CPG, KB):
                panels(Mc, gx * rm * ld + lo, ld, Up, gx * opg * CPG, CPG, j0, Vc, gx * rv * ld + lo, voff[j0:],
                       min(KB, CPG - j0), opg, cl, 1 if j0 > 0 else 0, Up)
        # output transform: y[n, o, tile] = A^T M[g, :, k, t] A (+ bias), inside the output only;
        # per output channel, the whole chunk at once
        parts = plane_parts(O)
        for part in prange(parts):
            o0, o1 = part_range(part, parts, O)
            nonfinite += _output_stage(yf, Mf, b, has_bias, o0, o1, O, opg, rm, ld, row0, rc, TH, TW, hs, res, OH, OW,
                                       dh, dw)
    return nonfinite

# ----------------------------------------------------------------------------- weight gradient
#
# The weight gradient is the adjoint of the forward's middle step. Per tile, y = A^T [U * V] A with
# U = G g G^T, so dL/dg = G^T [ (A dy A^T) * V ] G: the output gradient's 4x4 tile goes through A
# (``_a6``), the products summed over tiles are again 36 GEMMs, now reducing over the tiles, and
# the 6x6 sums come back to 3x3 through G^T (``_gt6``).


@inline
def _gt6(u0, u1, u2, u3, u4, u5):
    """G^T u for one column of six (in float64: it runs once per call, on the summed products)."""
    return (u0 + (u1 - u2) / 3.0 + (-16.0 * u3 + u4) / 15.0,
            (u1 + u2) / 3.0 + (-8.0 * u3 - 2.0 * u4) / 15.0,
            (u1 - u2) / 3.0 + (-4.0 * u3 + 4.0 * u4) / 15.0 + u5)


_A_ROWS = make_combine(AT.T, range(4), (0,) * 4)  # A down four rows at a stride (either pass)


@kernel
def _grad_stage(Mc, gy, opg, row0, rc, TH, TW, hs, res, dh, dw):
    """M[g, xi, k, t] = (A dy A^T)[xi] for the 4x4 output-gradient tile dy of each tile t of the chunk
    (zero past the output's edge), tiles as the forward's output transform places them (``hs``,
    ``res``, dilation (dh, dw)); per output channel, the whole chunk at once: the four rows of
    each row of tiles are gathered with their columns split by position in the tile
    (``simd.split4``; dilation 2 along the row: ``_SPLIT8`` with the output transform's tables;
    larger ones one by one), then A runs down the rows and along the columns, each pass one loop
    over the chunk."""
    O, OH, OW = gy.shape[1], gy.shape[3], gy.shape[4]
    gyf = gy.reshape(gy.size)
    Mf = Mc.reshape(Mc.size)
    rm, ld = Mc.shape[2], Mc.shape[3]
    L = rc * TW
    parts = plane_parts(O)
    for part in prange(parts):
        Gf = np.empty(4 * 4 * L, gy.dtype)  # [row i, column phase c, tile]
        Rf = np.empty(6 * 4 * L, gy.dtype)  # [point a, column phase c, tile]
        _, scatter, _, tcount, _, tgroups = _dilated2_tables(L, res)
        for o in range(*part_range(part, parts, O)):
            for rr in range(rc):
                n, th = (row0 + rr) // TH, (row0 + rr) % TH
                for i in range(4):
                    oh = hs[th] + dh * i
                    inside = oh < OH  # a row past the edge is a row of no columns: zeros
                    row = ((n * O + o) * OH + oh) * OW if inside else 0
                    if dw == 1:
                        _split4(Gf, 4 * i * L + rr * TW, L, gyf, row, 0, OW if inside else 0, TW)
                    elif dw == 2:
                        if BOUNDS:
                            for k in range(8):
                                if tcount[k] > 0 and (rr * TW + scatter[8 * i + k] < 0
                                                      or rr * TW + scatter[8 * i + k] + tcount[k] > Gf.size):
                                    raise IndexError("split: rows out of range")
                            if row < 0 or row + OW > gyf.size:
                                raise IndexError("split: row out of range")
                        _SPLIT8(Gf, rr * TW, scatter, 8 * i, tcount, gyf, row, 0, OW if inside else 0, tgroups)
                    else:
                        t = rr * TW
                        for r in range(res.shape[0]):
                            for jj in range(res[r, 1]):
                                for c in range(4):
                                    col = res[r, 0] + dw * (4 * jj + c)
                                    Gf[(4 * i + c) * L + t + jj] = gyf[row + col] if inside and col < OW else 0.0
                            t += res[r, 1]
            for c in range(4):
                _combine_checked(Rf, c * L, 4 * L, 6, L, Gf, c * L, 4 * L, 12 * L, L)
                _A_ROWS(Rf, c * L, 4 * L, Gf, c * L, 4 * L, L)
            m0 = ((o // opg) * 36 * rm + o % opg) * ld
            for a in range(6):
                _combine_checked(Mf, m0 + 6 * a * rm * ld, rm * ld, 6, L, Rf, 4 * a * L, L, 3 * L, L)
                _A_ROWS(Mf, m0 + 6 * a * rm * ld, rm * ld, Rf, 4 * a * L, L, L)


@task
def _sum_products(P, Mc, Vc, gx, voff, tc):
    """P[g, xi] += M[g, xi] . V[g, xi]^T over the chunk's ``tc`` tiles, for the (group, point) ``gx``,
    in blocks of 2 TB tiles: the 4 + 4 rows of a dots block stay in L1."""
    opg, CPG = P.shape[2], P.shape[3]
    rm, rv, ld = Mc.shape[2], Vc.shape[2], Mc.shape[3]
    for t0 in range(0, tc, 2 * TB):
        dots(P, gx * opg * CPG, CPG, Mc, gx * rm * ld + t0, ld, opg, Vc, gx * rv * ld + t0, voff, CPG,
             min(2 * TB, tc - t0))


@task
def _weight_from_products(gw, P, o):
    """gw[o] = G^T P[g, :, k] G for output channel o = g*opg + k, per input channel, in float64;
    returns how many of its values are not finite."""
    opg, CPG = P.shape[2], P.shape[3]
    g, k = o // opg, o % opg
    half = np.empty((6, 3))
    nonfinite = 0
    for j in range(CPG):
        for a in range(6):
            e0, e1, e2 = _gt6(np.float64(P[g, 6 * a, k, j]), np.float64(P[g, 6 * a + 1, k, j]),
                              np.float64(P[g, 6 * a + 2, k, j]), np.float64(P[g, 6 * a + 3, k, j]),
                              np.float64(P[g, 6 * a + 4, k, j]), np.float64(P[g, 6 * a + 5, k, j]))
            half[a, 0], half[a, 1], half[a, 2] = e0, e1, e2
        for kw in range(3):
            e0, e1, e2 = _gt6(half[0, kw], half[1, kw], half[2, kw], half[3, kw], half[4, kw], half[5, kw])
            gw[o, j, 0, 0, kw], gw[o, j, 0, 1, kw], gw[o, j, 0, 2, kw] = e0, e1, e2
            nonfinite += (not abs(e0) < np.inf) + (not abs(e1) < np.inf) + (not abs(e2) < np.inf)
    return nonfinite


@kernel
def conv_weight_grad_winograd(gw, x, gy, pad_lo, dilation, groups, V, M, U):
    """gw[o,j,kh,kw] = sum_{n,h,w} gy[n,o,h,w] * x[n, g(o)*C/groups + j, h + kh*dh - ph, w + kw*dw - pw]
    (3x3, stride 1).

    ``V`` and ``M`` are flat workspaces of ``workspace_size`` elements, ``U`` one of at least 36 *
    O * C/groups. Per chunk of whole rows of tiles: the input transform (as the forward's), the output gradient's transform, then the 36
    GEMMs P[g, xi, k, j] += sum_t M[g, xi, k, t] V[g, xi, j, t], a task per group and point, the
    chunks added in order, so the result does not depend on the thread count. Last, per weight,
    G^T P G in float64. Returns how many of the weight gradient's values are not finite.
    """
    N, O, OH, OW = gy.shape[0], gy.shape[1], gy.shape[3], gy.shape[4]
    CPG = gw.shape[1]
    opg = O // groups
    ph, pw = pad_lo[1], pad_lo[2]
    dh, dw = dilation[1], dilation[2]
    hs = _tile_starts(OH, dh)
    res = _residues(OW, dw)
    TH, TW = hs.size, _tile_starts(OW, dw).size
    per, rv, rm, ld = _workspace_layout(V.size, M.size, groups, CPG, opg, N * TH, TW)
    Vc = V[:groups * 36 * rv * ld].reshape((groups, 36, rv, ld))
    Mc = M[:groups * 36 * rm * ld].reshape((groups, 36, rm, ld))
    P = U[:groups * 36 * opg * CPG].reshape((groups, 36, opg, CPG))  # the products summed over tiles
    P[...] = 0.0
    voff = np.arange(CPG) * ld  # V's rows of one (g, xi)
    for row0 in range(0, N * TH, per):
        rc = min(per, N * TH - row0)
        tc = rc * TW
        _input_stage(Vc, x, CPG, row0, rc, TH, TW, hs, res, ph, pw, dh, dw)
        _grad_stage(Mc, gy, opg, row0, rc, TH, TW, hs, res, dh, dw)
        for gx in prange(groups * 36):  # blocks of TB tiles: the 4 + 4 rows of a dots block stay in L1
            _sum_products(P, Mc, Vc, np.int64(gx), voff, tc)
    nonfinite = 0
    for o in prange(O):
        nonfinite += _weight_from_products(gw, P, np.int64(o))
    return nonfinite
