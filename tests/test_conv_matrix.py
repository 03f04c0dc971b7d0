"""numconv.conv_matrix: convolution as a sparse matrix C with conv(x) = C @ x.ravel(), and C.T as both
the transposed convolution and the input-gradient kernel (the notes' exercise 5-5)."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F
from numconv.conv_matrix import conv_matrix

# (C_in, C_out, spatial, kernel, stride, padding, dilation, groups)
CASES = [
    (1, 1, (5, 5), (3, 3), 1, 0, 1, 1),             # the textbook 3x3 on 5x5
    (3, 4, (7, 9), (3, 3), 1, 1, 1, 1),
    (4, 6, (11, 8), (3, 2), 2, 1, 1, 2),            # stride that does not divide, groups
    (2, 3, (10, 10), (3, 3), 1, 2, 2, 1),           # dilation
    (2, 2, (9, 12), (4, 3), (2, 3), (1, 0), (1, 2), 2),
    (6, 3, (6, 6), (1, 1), 1, 0, 1, 3),             # 1x1, a fully connected layer at every pixel
]


def _rand(rng, *shape):
    return rng.standard_normal(shape)


def _output_padding(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) % s


@pytest.mark.parametrize("case", CASES)
def test_matrix_times_input_is_the_convolution_and_its_transpose_the_backward(case):
    c_in, c_out, size, kernel, stride, padding, dilation, groups = case
    rng = np.random.default_rng(len(str(case)))
    w = _rand(rng, c_out, c_in // groups, *kernel)
    x = _rand(rng, c_in, *size)
    C = conv_matrix(w, (c_in,) + size, stride, padding, dilation, groups)
    y = F.conv2d(x[None], w, None, stride, padding, dilation, groups)[0]
    assert C.shape == (y.size, x.size)
    np.testing.assert_allclose(C @ x.ravel(), y.ravel(), rtol=1e-12, atol=1e-12)
    # C.T g: the input gradient (conv2d_backward) and the transposed convolution with the same weight
    g = _rand(rng, *y.shape)
    gx = F.conv2d_backward(g[None], x[None], w, None, stride, padding, dilation, groups)[0][0]
    np.testing.assert_allclose(C.T @ g.ravel(), gx.ravel(), rtol=1e-12, atol=1e-12)
    st, pd, dl = (np.broadcast_to(v, 2) for v in (stride, padding, dilation))
    op = tuple(_output_padding(n, k, s, p, d) for n, k, s, p, d in zip(size, kernel, st, pd, dl))
    xt = F.conv_transpose2d(g[None], w, None, stride, padding, op, groups, dilation)[0]
    assert xt.shape == x.shape
    np.testing.assert_allclose(C.T @ g.ravel(), xt.ravel(), rtol=1e-12, atol=1e-12)
    # <C x, g> == <x, C.T g>: forward and backward are transposes
    assert np.isclose((C @ x.ravel()) @ g.ravel(), x.ravel() @ (C.T @ g.ravel()))


def test_sparsity_pattern_and_dense_fallback():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(0)
    w = _rand(rng, 2, 3, 3, 3).astype(np.float32)
    C = conv_matrix(w, (3, 6, 6))  # no padding: every tap reads a pixel
    assert scipy_sparse.issparse(C) and C.format == "csr" and C.dtype == np.float32
    assert C.nnz == 2 * 3 * 9 * 4 * 4  # C_out * C_in * k*k per output position
    assert (C.getnnz(axis=1) == 27).all()
    D = conv_matrix(w, (3, 6, 6), sparse=False)
    assert isinstance(D, np.ndarray) and np.array_equal(D, C.toarray())
    # each row is one output: the filter, unrolled onto the input grid (im2col's transpose)
    row = D[0].reshape(3, 6, 6)
    assert np.array_equal(row[:, :3, :3], w[0]) and not row[:, 3:, :].any() and not row[:, :, 3:].any()
    # with padding the taps that read zeros are left out
    Cp = conv_matrix(w, (3, 6, 6), padding=1)
    assert Cp.nnz == sum(2 * 3 * len([1 for a in range(3) if 0 <= i - 1 + a < 6]) *
                         len([1 for b in range(3) if 0 <= j - 1 + b < 6]) for i in range(6) for j in range(6))


def test_without_scipy_a_dense_array(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.sparse", None)  # import scipy.sparse raises ImportError
    rng = np.random.default_rng(1)
    w = _rand(rng, 2, 1, 3, 3)
    x = _rand(rng, 1, 5, 5)
    C = conv_matrix(w, (1, 5, 5), padding="same")
    assert isinstance(C, np.ndarray)
    np.testing.assert_allclose(C @ x.ravel(), F.conv2d(x[None], w, padding="same").ravel(), rtol=1e-12)
    with pytest.raises(ImportError, match="SciPy"):
        conv_matrix(w, (1, 5, 5), sparse=True)


@pytest.mark.parametrize("nd", [1, 3])
def test_one_and_three_dimensions(nd):
    rng = np.random.default_rng(nd)
    size = (9,) if nd == 1 else (4, 5, 6)
    w = _rand(rng, 3, 2, *(3,) * nd)
    x = _rand(rng, 2, *size)
    C = conv_matrix(w, (2,) + size, stride=2, padding=1)
    conv = getattr(F, f"conv{nd}d")
    np.testing.assert_allclose(C @ x.ravel(), conv(x[None], w, None, 2, 1)[0].ravel(), rtol=1e-12, atol=1e-12)


def test_tensor_weight_batch_shape_and_errors():
    w = nc.randn(2, 1, 3, 3)
    C = conv_matrix(w, (1, 1, 6, 6))  # a batch dimension of 1 is accepted; a Tensor weight too
    assert C.shape == (2 * 16, 36)
    with pytest.raises(ValueError, match="input_shape"):
        conv_matrix(w, (6, 6))
    with pytest.raises(ValueError):
        conv_matrix(w, (2, 6, 6))  # channel mismatch
    with pytest.raises(ValueError):
        conv_matrix(np.ones((2, 3)), (1, 6, 6))
    with pytest.raises(TypeError):
        conv_matrix(np.ones((2, 1, 3, 3), np.int64), (1, 6, 6))


def test_input_shape_must_be_a_tuple_of_positive_ints():
    """A float size was truncated ((2, 5.7, 5) built the 5x5 matrix); a bare int failed with 'int' object
    is not iterable. NumPy integers are sizes like any other."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 2, 3, 3))
    h, wd = (int(n) for n in rng.integers(3, 9, 2))
    for bad in [(2, h + 0.7, wd), (2, float(h), wd), (2, True, wd), (2.0, h, wd), h, None]:
        with pytest.raises(TypeError, match="input_shape"):
            conv_matrix(w, bad, sparse=False)
    with pytest.raises(ValueError, match="input_shape"):
        conv_matrix(w, (2, -h, wd), sparse=False)
    C = conv_matrix(w, [np.int64(2), np.int32(h), wd], sparse=False)
    x = rng.standard_normal((2, h, wd))
    np.testing.assert_allclose(C @ x.ravel(), F.conv2d(x[None], w)[0].ravel(), rtol=1e-12, atol=1e-12)


def test_weight_must_be_a_float32_or_float64_array():
    """A float16 weight failed in SciPy (only the dense path took it); a Conv2d module said 'got shape ()'."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((2, 3, 3, 3))
    for dtype in (np.float16, np.int32, np.complex128):
        with pytest.raises(TypeError, match=r"weight must be float32 or float64, got dtype"):
            conv_matrix(w.astype(dtype), (3, 6, 6))
    with pytest.raises(TypeError, match=r"weight .*module Conv2d.*\.weight"):
        conv_matrix(nc.nn.Conv2d(3, 2, 3), (3, 6, 6))
    conv = nc.nn.Conv2d(3, 2, 3, bias=False)
    x = rng.standard_normal((3, 6, 6)).astype(np.float32)
    C = conv_matrix(conv.weight, (3, 6, 6), sparse=False)
    np.testing.assert_allclose(C @ x.ravel(), F.conv2d(x[None], conv.weight.numpy())[0].ravel(), rtol=1e-5, atol=1e-5)
