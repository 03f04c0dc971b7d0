"""Matrix products, CPU: the register-blocked micro-kernels of ``simd.py`` and what is built on them.

- ``panels``: a strip of ``C (+)= W . S`` (outer-product form; W packed by ``pack_rows``, the
  rows of S anywhere through an offset table), every block of rows in one call.
  ``conv_planes``' forward, Winograd's forward GEMMs and the implicit GEMM (``conv_gemm.py``)
  run on it.
- ``dots``: a block of ``C += A . S^T`` (dot-product form, both factors contiguous along the shared
  index). The planes and Winograd weight gradients run on it.
- ``matmul_nt``: ``C = A . B^T`` for ``Linear``'s forward, on ``dots``.
- ``matmul_nn``: ``C = A . B`` with B's rows contiguous (``Linear``'s gradients), on ``panels``.
"""
import numpy as np
from numba import njit, prange
from numba.core import config

from . import FASTMATH, cached, inline, kernel
from .simd import REGISTER_BYTES as _REGISTER_BYTES, make_block, make_dot

NB = 64  # columns of C (rows of B) per task
KB = 512  # shared-index block: a 4 x KB panel of A and an NB x KB panel of B stay in cache


# ----------------------------------------------------------------------------- register-blocked panels
#
# ``panels`` runs the vector micro-kernel of ``simd.py`` over a strip: for each block of up to 8
# rows of C (``row_block``: 8, then 4, 2, 1), blocks of NV vectors of columns (``panel_width``),
# the last one masked. Callers pack the left factor with ``pack_rows``.

NV = 2  # vectors per row: 32 float32 columns with AVX-512
_B8, _B4, _B2, _B1 = (make_block(mr, NV, False) for mr in (8, 4, 2, 1))
_M8, _M4, _M2, _M1 = (make_block(mr, NV, True) for mr in (8, 4, 2, 1))
BOUNDS = bool(config.BOUNDSCHECK)  # tests/_boundscheck_cases.py compiles with the checks below


@inline
def row_block(M, r0):
    """Rows in the block of ``panel`` that starts at row r0 of M: 8, or 4, 2, 1 near the end."""
    left = M - r0
    return 8 if left >= 8 else 4 if left >= 4 else 2 if left >= 2 else 1


@inline
def row_blocks(M):
    """How many ``row_block`` blocks M rows make."""
    r0, count = 0, 0
    while r0 < M:
        r0 += row_block(M, r0)
        count += 1
    return count


@inline
def block_at(M, i):
    """(first row, rows) of block i of M rows, in ``row_block``'s order."""
    r0 = 0
    for _ in range(i):
        r0 += row_block(M, r0)
    return r0, row_block(M, r0)


@inline
def panel_width(itemsize):
    """Columns of one micro-kernel block: NV vectors of elements of ``itemsize`` bytes."""
    return NV * (_REGISTER_BYTES // itemsize)


@inline
def pack_rows(Wp, w0, A, K):
    """Wp[w0 + r0*K + k*mr + r] = A[r0 + r, k] for the row blocks (r0, mr) of A (M, K): the packed
    left factor of ``panel``, each block's ``mr`` weights of one k adjacent."""
    M = A.shape[0]
    r0 = 0
    while r0 < M:
        mr = row_block(M, r0)
        base = w0 + r0 * K
        for k in range(K):
            for r in range(mr):
                Wp[base + k * mr + r] = A[r0 + r, k]
        r0 += mr


@cached(fastmath=FASTMATH)  # not inlined, and given flat arrays: compiled once per dtype
def _panel(C, c0, ldc, W, w0, S, s0, off, K, mr, n, B, b0, init):
    """One block of ``panels``' rows (mr of them), over flat arrays: C's block starts from zero
    (init 0), itself (1) or B[b0 + r] (2)."""
    width = panel_width(C.itemsize)
    if BOUNDS:
        if n < 0 or K > off.size or c0 < 0 or c0 + (mr - 1) * ldc + n > C.size:
            raise IndexError("panel: C block out of range")
        if w0 < 0 or w0 + K * mr > W.size:
            raise IndexError("panel: W block out of range")
        if init == 2 and (b0 < 0 or b0 + mr > B.size):
            raise IndexError("panel: bias out of range")
        for k in range(K):
            if s0 + off[k] < 0 or s0 + off[k] + n > S.size:
                raise IndexError("panel: S row out of range")
    full = n - n % width
    if mr == 8:
        for j in range(0, full, width):
            _B8(C, c0 + j, ldc, W, w0, S, s0 + j, off, K, width, B, b0, init)
        if full < n:
            _M8(C, c0 + full, ldc, W, w0, S, s0 + full, off, K, n - full, B, b0, init)
    elif mr == 4:
        for j in range(0, full, width):
            _B4(C, c0 + j, ldc, W, w0, S, s0 + j, off, K, width, B, b0, init)
        if full < n:
            _M4(C, c0 + full, ldc, W, w0, S, s0 + full, off, K, n - full, B, b0, init)
    elif mr == 2:
        for j in range(0, full, width):
            _B2(C, c0 + j, ldc, W, w0, S, s0 + j, off, K, width, B, b0, init)
        if full < n:
            _M2(C, c0 + full, ldc, W, w0, S, s0 + full, off, K, n - full, B, b0, init)
    else:
        for j in range(0, full, width):
            _B1(C, c0 + j, ldc, W, w0, S, s0 + j, off, K, width, B, b0, init)
        if full < n:
            _M1(C, c0 + full, ldc, W, w0, S, s0 + full, off, K, n - full, B, b0, init)


@cached(fastmath=FASTMATH)  # not inlined, and given flat arrays: compiled once per dtype
def _panels(C, c0, ldc, W, w0, wK, k0, S, s0, off, K, M, n, B, b0, init):
    """``panels`` over flat arrays (init as in ``_panel``)."""
    r0 = 0
    while r0 < M:
        mr = row_block(M, r0)
        _panel(C, c0 + r0 * ldc, ldc, W, w0 + r0 * wK + k0 * mr, S, s0, off, K, mr, n, B, b0 + r0, init)
        r0 += mr


@inline
def panels(C, c0, ldc, W, w0, wK, k0, S, s0, off, K, M, n, init, bias):
    """C.flat[c0 + r*ldc + q] = start[r, q] + sum_{k<K} Wp[r, k0 + k] * S.flat[s0 + off[k] + q]
    for r < M, q < n, with W packed by
    ``pack_rows`` from ``w0``, wK per row; ``start`` is 0 (init 0), C (1) or bias[r] (2): blocks of
    ``panel_width`` columns, each with its accumulators in registers, the last one masked. All the
    row blocks go in one call: one call per block cost a third of ``cifar_stem``'s forward, whose
    blocks have 27 taps (0.55 -> 0.37 ms)."""
    i = np.int64
    _panels(C.reshape(C.size), i(c0), i(ldc), W.reshape(W.size), i(w0), i(wK), i(k0), S.reshape(S.size), i(s0), off,
            i(K), i(M), i(n), bias, i(0), i(init))


_D44, _D41, _D14, _D11 = make_dot(4, 4), make_dot(4, 1), make_dot(1, 4), make_dot(1, 1)


@inline
def dots(C, c0, ldc, A, a0, lda, M, S, s0, off, T, n):
    """C.flat[c0 + r*ldc + c] += sum_{q<n} A.flat[a0 + r*lda + q] * S.flat[s0 + off[c] + q]
    for r < M and c < T: blocks of 4 x 4 dot products, each a vector accumulator along q."""
    i = np.int64
    _dots(C.reshape(C.size), i(c0), i(ldc), A.reshape(A.size), i(a0), i(lda), i(M), S.reshape(S.size), i(s0), off, i(T), i(n))


@cached(fastmath=FASTMATH)  # not inlined, and given flat arrays: compiled once per dtype
def _dots(C, c0, ldc, A, a0, lda, M, S, s0, off, T, n):
    """``dots`` over flat arrays."""
    if BOUNDS:
        if n < 0 or M < 0 or T > off.size or c0 < 0 or c0 + (M - 1) * ldc + T > C.size:
            raise IndexError("dots: C block out of range")
        if a0 < 0 or a0 + (M - 1) * lda + n > A.size:
            raise IndexError("dots: A rows out of range")
        for c in range(T):
            if s0 + off[c] < 0 or s0 + off[c] + n > S.size:
                raise IndexError("dots: S row out of range")
    m4, t4 = M - M % 4, T - T % 4
    for r in range(0, m4, 4):
        for c in range(0, t4, 4):
            _D44(C, c0 + r * ldc + c, ldc, A, a0 + r * lda, lda, S, s0, off[c:], n)
        for c in range(t4, T):
            _D41(C, c0 + r * ldc + c, ldc, A, a0 + r * lda, lda, S, s0, off[c:], n)
    for r in range(m4, M):
        for c in range(0, t4, 4):
            _D14(C, c0 + r * ldc + c, ldc, A, a0 + r * lda, lda, S, s0, off[c:], n)
        for c in range(t4, T):
            _D11(C, c0 + r * ldc + c, ldc, A, a0 + r * lda, lda, S, s0, off[c:], n)


@kernel
def matmul_nt(C, A, B):
    """C[i, j] = sum_k A[i, k] * B[j, k]: C (M, N), A (M, K), B (N, K), all C-contiguous; ``dots``
    over blocks of NB rows of B and KB of the shared index."""
    M, N = C.shape
    K = A.shape[1]
    off = np.arange(N) * K  # row j of B
    ncb = (N + NB - 1) // NB
    for t in prange(ncb):
        c0 = t * NB
        nc = min(NB, N - c0)
        C[:, c0:c0 + nc] = 0.0
        for k0 in range(0, K, KB):
            dots(C, c0, N, A, k0, K, M, B, k0, off[c0:], nc, min(KB, K - k0))


NN_COLS = 256  # columns of C per task of matmul_nn: eight panel widths of float32
NN_ROWS = 64  # rows of C per task: whole blocks of eight, so each task's packed rows are its own


@kernel
def matmul_nn(C, A, B, Wp):
    """C[i, j] = sum_k A[i, k] * B[k, j]: C (M, N), A (M, K), B (K, N), all C-contiguous; A packed
    into ``Wp`` (at least M*K elements) by ``pack_rows``, then ``panels`` over tasks of NN_ROWS rows
    x NN_COLS columns, KB rows of B at a time. B is read in place, so ``x @ W`` needs no transposed
    copy of W (Linear's input gradient: 411 MB for VGG's first classifier layer)."""
    M, N = C.shape
    K = A.shape[1]
    pack_rows(Wp, 0, A, K)
    off = np.arange(K) * N  # row k of B
    Cf, Bf = C.reshape(C.size), B.reshape(B.size)
    ncb = (N + NN_COLS - 1) // NN_COLS
    nrb = (M + NN_ROWS - 1) // NN_ROWS
    for t in prange(ncb * nrb):
        r0, c0 = (t // ncb) * NN_ROWS, (t % ncb) * NN_COLS
        mr, nc = min(NN_ROWS, M - r0), min(NN_COLS, N - c0)
        if K == 0:
            for r in range(mr):
                Cf[(r0 + r) * N + c0:(r0 + r) * N + c0 + nc] = 0.0
        for k0 in range(0, K, KB):
            panels(Cf, r0 * N + c0, N, Wp, r0 * K, K, k0, Bf, c0, off[k0:], min(KB, K - k0), mr, nc,
                   0 if k0 == 0 else 1, Wp)
