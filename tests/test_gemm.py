"""The vector kernels of ``kernels/cpu/simd.py``: the register-blocked micro-kernels through their
wrappers in ``kernels/cpu/gemm.py``, against float64 products written out in NumPy (every row block
8, 4, 2, 1, full and partial (masked) vectors, rows read through shifted, overlapping offsets);
the linear maps down rows and the column-phase split and merge of Winograd's transforms, against
loops written from their definitions, at lengths around whole vectors."""
import numpy as np
import pytest

from numconv.kernels.cpu import gemm

RNG = np.random.default_rng(7)


def _rows(S, s0, off, n):
    """The rows the kernels read: S.flat[s0 + off[k] : s0 + off[k] + n], as a (K, n) matrix."""
    return np.stack([S.ravel()[s0 + o:s0 + o + n] for o in off]).astype(np.float64)


def _offsets(K, n, shift):
    """K row offsets into a flat buffer: a stride that lets rows overlap, plus a shift per row."""
    return (np.arange(K) * max(1, n // 3) + RNG.integers(0, shift + 1, K)).astype(np.int64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M,K,n", [(1, 1, 1), (3, 5, 7), (8, 9, 32), (13, 17, 45), (15, 40, 64), (22, 3, 100)])
@pytest.mark.parametrize("init", [0, 1, 2], ids=["zero", "accumulate", "bias"])
def test_panels_is_the_product(dtype, M, K, n, init):
    """Every row block of M, K taps from the middle of longer packed rows (as the callers' chunks
    of KB taps), C from a row offset and longer than the block, each way of starting C."""
    k0, extra = 2, 3  # the taps used are k0 .. k0+K of rows packed K + extra long
    A = RNG.standard_normal((M, K + extra)).astype(dtype)
    off = _offsets(K, n, 5)
    s0 = 3
    S = RNG.standard_normal(int(s0 + off.max() + n + 2)).astype(dtype)
    ldc = n + 5  # C's rows longer than the block: nothing past column n may change
    C = RNG.standard_normal((M + 1, ldc)).astype(dtype)
    if init != 1:
        C[1:, :n] = np.nan  # whatever C held is ignored
    C0 = C.copy()
    Wp = np.full(4 + M * (K + extra), np.nan, dtype)
    gemm.pack_rows(Wp, 4, A, K + extra)
    assert not np.isnan(Wp[4:]).any()
    bias = RNG.standard_normal(M + 3).astype(dtype)
    gemm.panels(C, ldc, ldc, Wp, 4, K + extra, k0, S, s0, off, K, M, n, init, bias[3:])
    want = A[:, k0:k0 + K].astype(np.float64) @ _rows(S, s0, off, n)
    if init == 1:
        want += C0[1:, :n]
    elif init == 2:
        want += bias[3:3 + M, None]
    tol = 1e-5 * K if dtype == np.float32 else 1e-12 * K
    np.testing.assert_allclose(C[1:, :n], want, rtol=tol, atol=tol)
    np.testing.assert_array_equal(C[1:, n:], C0[1:, n:])
    np.testing.assert_array_equal(C[0], C0[0])
    for M_, r0 in ((M, 0), (13, 8), (7, 4), (3, 2), (1, 0)):
        mr = gemm.row_block(M_, r0)
        assert mr in (8, 4, 2, 1) and r0 + mr <= M_ and (mr == 8 or M_ - r0 < 2 * mr)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M,T,n", [(1, 1, 1), (3, 5, 7), (4, 4, 16), (6, 9, 45), (9, 13, 130), (5, 2, 0)])
def test_dots_is_the_product(dtype, M, T, n):
    lda = n + 3
    A = RNG.standard_normal((M, lda)).astype(dtype)
    off = _offsets(T, max(n, 1), 4)
    s0 = 2
    S = RNG.standard_normal(int(s0 + off.max() + n + 2)).astype(dtype)
    ldc = T + 2
    C = RNG.standard_normal((M, ldc)).astype(dtype)
    C0 = C.copy()
    gemm.dots(C, 0, ldc, A, 1, lda, M, S, s0, off, T, n)  # A's rows from column 1
    want = C0[:, :T] + A[:, 1:1 + n].astype(np.float64) @ _rows(S, s0, off, n).T
    tol = 1e-5 * max(n, 1) if dtype == np.float32 else 1e-12 * max(n, 1)
    np.testing.assert_allclose(C[:, :T], want, rtol=tol, atol=tol)
    np.testing.assert_array_equal(C[:, T:], C0[:, T:])


_COMBINE_MATRIX = RNG.standard_normal((5, 7)).round(1)
_COMBINE_MATRIX[1, 2] = _COMBINE_MATRIX[2, :] = 0.0  # zeros skipped, a row of them stores zeros
_COMBINE_MATRIX[0, 0], _COMBINE_MATRIX[0, 3], _COMBINE_MATRIX[3, 1] = 1.0, -1.0, -1.0  # additions
_COMBINE_ROWS, _COMBINE_SHIFTS = (0, 3, 1, 2, 0, 4, 1), (0, 0, 2, 0, 1, 0, 5)


def _simd_wrappers():
    """The intrinsics inside jitted functions (an intrinsic is only callable from Numba code)."""
    from numba import njit

    from numconv.kernels.cpu import simd

    combine = simd.make_combine(_COMBINE_MATRIX, _COMBINE_ROWS, _COMBINE_SHIFTS)

    @njit
    def run_combine(D, d0, dstride, S, s0, sstride, n):
        combine(D, d0, dstride, S, s0, sstride, n)

    @njit
    def run_split4(D, d0, dstride, S, s0, c0, W, groups):
        simd.split4(D, d0, dstride, S, s0, c0, W, groups)

    @njit
    def run_merge4(D, d0, c0, W, S, s0, sstride, groups, bias):
        simd.merge4(D, d0, c0, W, S, s0, sstride, groups, bias)

    return run_combine, run_split4, run_merge4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, 15, 16, 17, 33, 70])
def test_combine_is_the_matrix_down_rows(dtype, n):
    """D[d0 + a*dstride + q] = sum_i matrix[a, i] * S[s0 + rows[i]*sstride + shifts[i] + q]; nothing
    outside the n columns of the matrix's rows is written."""
    run_combine = _simd_wrappers()[0]
    sstride, dstride, s0, d0 = n + 6, n + 3, 4, 2
    S = RNG.standard_normal(s0 + 5 * sstride + n + 6).astype(dtype)
    D = np.full(d0 + 5 * dstride + 4, np.nan, dtype)
    run_combine(D, d0, dstride, S, s0, sstride, n)
    rows = np.stack([S[s0 + r * sstride + k:s0 + r * sstride + k + n] for r, k in zip(_COMBINE_ROWS, _COMBINE_SHIFTS)])
    want = _COMBINE_MATRIX @ rows.astype(np.float64)
    got = np.stack([D[d0 + a * dstride:d0 + a * dstride + n] for a in range(5)])
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    written = np.zeros(D.size, bool)
    for a in range(5):
        written[d0 + a * dstride:d0 + a * dstride + n] = True
    assert np.isnan(D[~written]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,period", [(0, 3), (5, 3), (16, 3), (40, 5), (49, 7), (100, 2), (33, 17), (64, 16), (7, 8),
                                      (45, 1 + 14)])
def test_combine_packed_drops_the_last_of_each_period(dtype, n, period):
    """make_combine(..., compress=True): column q goes to q - q // period, unless it is the last of
    its period; nothing past the packed columns is written."""
    from numba import njit

    from numconv.kernels.cpu import simd

    combine = simd.make_combine(_COMBINE_MATRIX, _COMBINE_ROWS, _COMBINE_SHIFTS, compress=True)

    @njit
    def run(D, d0, dstride, S, s0, sstride, n, period):
        combine(D, d0, dstride, S, s0, sstride, n, period)

    sstride, dstride, s0, d0 = n + 6, n + 3, 4, 2
    S = RNG.standard_normal(s0 + 5 * sstride + n + 6).astype(dtype)
    D = np.full(d0 + 5 * dstride + 4, np.nan, dtype)
    run(D, d0, dstride, S, s0, sstride, n, period)
    rows = np.stack([S[s0 + r * sstride + k:s0 + r * sstride + k + n] for r, k in zip(_COMBINE_ROWS, _COMBINE_SHIFTS)])
    kept = [q for q in range(n) if q % period != period - 1]
    want = np.full(D.size, np.nan)
    for a in range(5):
        want[d0 + a * dstride:d0 + a * dstride + len(kept)] = (_COMBINE_MATRIX[a] @ rows.astype(np.float64))[kept]
    tol = 1e-5 if dtype == np.float32 else 1e-13
    assert (np.isnan(D) == np.isnan(want)).all()
    np.testing.assert_allclose(D[~np.isnan(want)], want[~np.isnan(want)], rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("W,c0,groups", [(28, -1, 8), (28, 0, 7), (56, -1, 15), (5, -3, 3), (100, 2, 20), (30, -1, 0),
                                         (9, 0, 0), (70, -2, 19), (12, 20, 4), (0, 0, 5)])
def test_split4_splits_by_column_phase(dtype, W, c0, groups):
    """D[d0 + p*dstride + g] = row[c0 + 4g + p], zero outside the row (before it too), for p < 4."""
    run_split4 = _simd_wrappers()[1]
    S = RNG.standard_normal(W + 9).astype(dtype)
    D = np.full(3 + 4 * (groups + 5), np.nan, dtype)
    run_split4(D, 3, groups + 5, S, 4, c0, W, groups)
    want = np.full(D.size, np.nan, dtype)
    for p in range(4):
        for g in range(groups):
            c = c0 + 4 * g + p
            want[3 + p * (groups + 5) + g] = S[4 + c] if 0 <= c < W else 0.0
    np.testing.assert_array_equal(D, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("W,c0,groups", [(28, 0, 7), (28, -1, 8), (30, 0, 8), (5, -3, 3), (100, 4, 20), (56, 0, 14),
                                         (9, 0, 0), (70, 0, 17), (40, -5, 12)])
def test_merge4_interleaves_column_phases(dtype, W, c0, groups):
    """row[c0 + 4g + p] = D[s0 + p*sstride + g] + bias inside the row; nothing else written."""
    run_merge4 = _simd_wrappers()[2]
    S = RNG.standard_normal(2 + 4 * (groups + 3)).astype(dtype)
    D = np.full(W + 10, np.nan, dtype)
    bias = dtype(RNG.standard_normal())
    run_merge4(D, 5, c0, W, S, 2, groups + 3, groups, bias)
    want = np.full(D.size, np.nan, dtype)
    for p in range(4):
        for g in range(groups):
            c = c0 + 4 * g + p
            if 0 <= c < W:
                want[5 + c] = S[2 + p * (groups + 3) + g] + bias
    np.testing.assert_array_equal(D, want)


_SPLIT_CASES = [(56, -2, (7, 7, 7, 7, 6, 6, 6, 6)), (28, 0, (3, 0, 3, 0, 3, 0, 3, 0)), (7, -1, (1,) * 8),
                (100, -3, (13, 12, 13, 12, 13, 12, 13, 12)), (3, 0, (0,) * 8), (200, 5, (25, 20, 19, 18, 17, 16, 3, 1)),
                (40, -1, (5, 3, 5, 3)), (9, 0, (3, 2, 2, 2))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("W,c0,counts", _SPLIT_CASES)
def test_split_splits_by_column_phase_to_places(dtype, W, c0, counts):
    """make_split(K): D[d0 + doff[p] + g] = row[c0 + K*g + p] (zero outside the row) for g < dcount[p];
    nothing else written."""
    from numba import njit

    from numconv.kernels.cpu import simd

    K = len(counts)
    split = simd.make_split(K)

    @njit
    def run(D, d0, doff, o0, dcount, S, s0, c0, W, groups):
        split(D, d0, doff, o0, dcount, S, s0, c0, W, groups)

    counts = np.array(counts, np.int64)
    G = int(counts.max())
    doff = (RNG.permutation(K) * (G + 3) + 2).astype(np.int64)  # phases to places in any order
    S = RNG.standard_normal(W + 9).astype(dtype)
    D = np.full(K * (G + 3) + 7, np.nan, dtype)
    run(D, 3, np.concatenate([[-99, -99], doff]), 2, counts, S, 4, c0, W, G)  # the table's row from entry 2
    want = np.full(D.size, np.nan, dtype)
    for p in range(K):
        for g in range(counts[p]):
            c = c0 + K * g + p
            want[3 + doff[p] + g] = S[4 + c] if 0 <= c < W else 0.0
    np.testing.assert_array_equal(D, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("W,c0,counts", _SPLIT_CASES)
def test_merge_interleaves_phases_from_places(dtype, W, c0, counts):
    """make_merge(K): row[c0 + K*g + p] = S[s0 + soff[p] + g] + bias for the columns inside the row, which
    here end where the first phase runs out of groups; nothing outside the row written."""
    from numba import njit

    from numconv.kernels.cpu import simd

    K = len(counts)
    merge = simd.make_merge(K)

    @njit
    def run(D, d0, c0, W, S, s0, soff, o0, scount, groups, bias):
        merge(D, d0, c0, W, S, s0, soff, o0, scount, groups, bias)

    counts = np.array(counts, np.int64)
    G = int(counts.max())
    W = max(0, min([W] + [c0 + K * int(counts[p]) + p for p in range(K)]))  # no column past a phase's groups
    soff = (RNG.permutation(K) * (G + 3) + 2).astype(np.int64)
    S = RNG.standard_normal(K * (G + 3) + 6).astype(dtype)
    D = np.full(W + 10, np.nan, dtype)
    bias = dtype(RNG.standard_normal())
    run(D, 3, c0, W, S, 2, np.concatenate([[-99], soff]), 1, counts, G, bias)  # the table's row from entry 1
    want = np.full(D.size, np.nan, dtype)
    for p in range(K):
        for g in range(G):
            c = c0 + K * g + p
            if 0 <= c < W:
                want[3 + c] = S[2 + soff[p] + g] + bias
    np.testing.assert_array_equal(D, want)


def test_panel_width_is_whole_vectors():
    from numconv.kernels.cpu import simd

    for itemsize in (4, 8):
        w = gemm.panel_width(itemsize)
        assert w == gemm.NV * simd.REGISTER_BYTES // itemsize and w >= 2


@pytest.mark.parametrize("width", ["16", "32"])
def test_narrower_vectors_of_other_hosts(width, tmp_path):
    """AVX2 (32-byte) and SSE/NEON (16-byte) widths, forced here with NUMCONV_SIMD_BYTES in a fresh
    process (the width is fixed at import): the same products, masked tails, lane sums and shuffles, in
    float32 (float64 runs the same code with half the lanes, compiled again at some cost)."""
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, NUMCONV_SIMD_BYTES=width, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
    tests = ("(test_panels_is_the_product or test_dots_is_the_product or test_combine or test_split or test_merge)"
             " and float32")  # float64: same code
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", os.path.abspath(__file__),
                           "-k", tests], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
    check = subprocess.run([sys.executable, "-c", "from numconv.kernels.cpu import simd; print(simd.REGISTER_BYTES)"],
                           cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert check.stdout.strip() == width, check.stdout + check.stderr  # the override really took


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M,K,N", [(1, 1, 1), (3, 5, 7), (8, 600, 33), (70, 9, 300), (130, 520, 17), (2, 0, 5)])
def test_matmul_nn_is_the_product(dtype, M, K, N):
    """C = A @ B with B's rows read in place: tasks of rows and columns past one block, the shared
    index past one KB block, partial row blocks and masked vectors; C fully overwritten."""
    A = RNG.standard_normal((M, K)).astype(dtype)
    B = RNG.standard_normal((K, N)).astype(dtype)
    C = np.full((M, N), np.nan, dtype)
    Wp = np.full(M * K + 3, np.nan, dtype)
    gemm.matmul_nn(C, A, B, Wp)
    ref = A.astype(np.float64) @ B.astype(np.float64)
    tol = (1e-5 if dtype == np.float32 else 1e-12) * (1 + np.abs(A).astype(np.float64) @ np.abs(B).astype(np.float64))
    assert np.all(np.abs(C - ref) <= tol)


@pytest.mark.parametrize("layout", ["a @ b", "a @ b.T", "a.T @ b", "a.T @ b.T"])
def test_ops_matmul_takes_every_layout(layout):
    """ops.math.matmul on 2-d float arrays: the product whichever operand is a transposed view
    (matmul_nt for b.T views, matmul_nn otherwise), against float64 NumPy."""
    from numconv.ops import math as M

    a = RNG.standard_normal((37, 70)).astype(np.float32)
    b = RNG.standard_normal((70, 45)).astype(np.float32)
    x = a.T.copy().T if layout.startswith("a.T") else a
    y = b.T.copy().T if layout.endswith("b.T") else b
    assert x.flags.c_contiguous != layout.startswith("a.T") and y.flags.c_contiguous != layout.endswith("b.T")
    out = M.matmul(x, y)
    np.testing.assert_allclose(out, a.astype(np.float64) @ b.astype(np.float64), rtol=1e-4, atol=1e-4)
