"""The register-blocked micro-kernels (``kernels/cpu/simd.py``) through their wrappers in
``kernels/cpu/gemm.py``, against float64 products written out in NumPy: every row block (8, 4, 2,
1), full and partial (masked) vectors, rows read through shifted, overlapping offsets."""
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


def test_panel_width_is_whole_vectors():
    from numconv.kernels.cpu import simd

    for itemsize in (4, 8):
        w = gemm.panel_width(itemsize)
        assert w == gemm.NV * simd.REGISTER_BYTES // itemsize and w >= 2


@pytest.mark.parametrize("width", ["16", "32"])
def test_narrower_vectors_of_other_hosts(width, tmp_path):
    """AVX2 (32-byte) and SSE/NEON (16-byte) widths, forced here with NUMCONV_SIMD_BYTES in a fresh
    process (the width is fixed at import): the same products, masked tails and lane sums, in
    float32 (float64 runs the same code with half the lanes, compiled again at some cost)."""
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, NUMCONV_SIMD_BYTES=width, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
    tests = "(test_panels_is_the_product or test_dots_is_the_product) and float32"  # float64: same code
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", os.path.abspath(__file__),
                           "-k", tests], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
    check = subprocess.run([sys.executable, "-c", "from numconv.kernels.cpu import simd; print(simd.REGISTER_BYTES)"],
                           cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert check.stdout.strip() == width, check.stdout + check.stderr  # the override really took
