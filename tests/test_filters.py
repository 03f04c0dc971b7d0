"""numconv.filters: each kernel's defining property, apply() against a float64 correlation, and the
examples built on them (the notes' edge detection, learning an unknown kernel)."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import numconv.filters as nf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _example(name):
    spec = importlib.util.spec_from_file_location(f"_example_{name}", os.path.join(ROOT, "examples", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ----------------------------------------------------------------------------- kernels


@pytest.mark.parametrize("kernel", [nf.mean(3), nf.mean(5), nf.gaussian(5, 1.0), nf.gaussian(9, 2.0), nf.gaussian(4, 0.7),
                                    nf.moving_average(3), nf.moving_average(7), nf.sharpen(), nf.sharpen(0.5), nf.identity(5)])
def test_blur_and_sharpen_kernels_sum_to_one(kernel):
    assert np.sum(kernel) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("kernel", [nf.sobel_x(), nf.sobel_y(), nf.laplacian(), nf.edge8(), nf.edge_1d()])
def test_edge_kernels_sum_to_zero(kernel):
    assert np.sum(kernel) == pytest.approx(0.0, abs=1e-12)


def test_kernels_are_the_notes_values():
    np.testing.assert_array_equal(nf.laplacian(), [[0, -1, 0], [-1, 4, -1], [0, -1, 0]])
    np.testing.assert_array_equal(nf.edge8(), np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]) / 8)
    np.testing.assert_array_equal(nf.edge_1d(), [1, 0, -1])
    np.testing.assert_array_equal(nf.moving_average(5), [0.2] * 5)
    np.testing.assert_array_equal(nf.mean(3), np.full((3, 3), 1 / 9))
    np.testing.assert_array_equal(nf.sobel_x(), [[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    np.testing.assert_array_equal(nf.sobel_y(), nf.sobel_x().T)
    np.testing.assert_array_equal(nf.sharpen(), [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    # sobel_x is the [1, 0, -1] difference smoothed by [1, 2, 1]: a separable outer product
    np.testing.assert_array_equal(nf.sobel_x(), np.outer([1, 2, 1], nf.edge_1d()))


@pytest.mark.parametrize("size,sigma", [(3, 0.5), (5, 1.0), (9, 2.0), (6, 1.3), (1, 1.0)])
def test_gaussian_is_symmetric_and_matches_the_formula(size, sigma):
    g = nf.gaussian(size, sigma)
    assert g.shape == (size, size)
    np.testing.assert_allclose(g, g[::-1], atol=1e-15)
    np.testing.assert_allclose(g, g[:, ::-1], atol=1e-15)
    np.testing.assert_allclose(g, g.T, atol=1e-15)
    c = (size - 1) / 2
    expected = np.array([[np.exp(-((i - c) ** 2 + (j - c) ** 2) / (2 * sigma**2)) for j in range(size)] for i in range(size)])
    np.testing.assert_allclose(g, expected / expected.sum(), rtol=1e-12)
    if size % 2:  # centre is the maximum; one step away is exp(-1 / (2 sigma^2)) of it
        k = size // 2
        assert g[k, k] == g.max()
        if size > 1:
            assert g[k, k + 1] / g[k, k] == pytest.approx(np.exp(-1 / (2 * sigma**2)), rel=1e-12)


def test_kernel_argument_errors():
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="size"):
            nf.mean(bad)
    with pytest.raises(ValueError, match="sigma"):
        nf.gaussian(5, 0)
    with pytest.raises(ValueError, match="odd"):
        nf.identity(4)


def test_bool_and_non_finite_numbers_are_refused():
    """gaussian(5, True) was the sigma=1 kernel and gaussian(5, inf) a box blur; sharpen took NaN and strings."""
    sigma = float(np.random.default_rng(0).uniform(0.3, 3.0))
    for bad in (True, np.bool_(True), "1.0", None):
        with pytest.raises(TypeError, match="sigma"):
            nf.gaussian(5, bad)
        with pytest.raises(TypeError, match="amount"):
            nf.sharpen(bad)
    for bad in (float("inf"), float("nan"), -float("inf"), -sigma):
        with pytest.raises(ValueError, match="sigma"):
            nf.gaussian(5, bad)
    for bad in (float("inf"), float("nan")):
        with pytest.raises(ValueError, match="amount"):
            nf.sharpen(bad)
    np.testing.assert_array_equal(nf.gaussian(5, np.float32(sigma)), nf.gaussian(5, float(np.float32(sigma))))
    image = np.random.default_rng(1).standard_normal((6, 7, 3))
    for bad in (1.5, True, "0"):
        with pytest.raises(TypeError, match="channel_axis"):
            nf.apply(image, nf.mean(3), channel_axis=bad)
    with pytest.raises(ValueError, match="channel_axis"):  # it was silently ignored for a 1-d signal
        nf.apply(image[:, 0, 0], nf.edge_1d(), channel_axis=0)


# ----------------------------------------------------------------------------- apply vs float64 correlation

_NP_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap", "zeros": "constant", "constant": "constant"}


def correlate_ref(img, kernel, padding="same", mode="reflect"):
    """Direct float64 cross-correlation of a 2-d image, loops over the output."""
    img = np.asarray(img, np.float64)
    k = np.asarray(kernel, np.float64)
    if k.ndim == 1:
        k = k[None]
    kh, kw = k.shape
    if padding == "same":
        pads = (((kh - 1) // 2, kh - 1 - (kh - 1) // 2), ((kw - 1) // 2, kw - 1 - (kw - 1) // 2))
    elif padding == "valid":
        pads = ((0, 0), (0, 0))
    else:
        pads = ((padding, padding), (padding, padding))
    xp = np.pad(img, pads, mode=_NP_MODE[mode])
    oh, ow = xp.shape[0] - kh + 1, xp.shape[1] - kw + 1
    out = np.zeros((oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[i, j] = np.sum(xp[i:i + kh, j:j + kw] * k)
    return out


KERNELS = [nf.mean(3), nf.gaussian(5, 1.0), nf.sobel_x(), nf.sobel_y(), nf.laplacian(), nf.edge8(), nf.sharpen(),
           nf.edge_1d(), nf.moving_average(5), np.arange(6.0).reshape(2, 3) - 2.5]


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: f"k{np.shape(k)}")
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", "zeros"])
def test_apply_grey_equals_float64_correlation(rng, kernel, mode):
    img = rng.random((13, 17))
    got = nf.apply(img, kernel, mode=mode)
    assert got.dtype == np.float64 and got.shape == img.shape
    np.testing.assert_allclose(got, correlate_ref(img, kernel, "same", mode), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding", ["valid", 1, 2])
def test_apply_padding_choices(rng, padding):
    img = rng.random((11, 9))
    got = nf.apply(img, nf.laplacian(), padding=padding, mode="zeros")
    np.testing.assert_allclose(got, correlate_ref(img, nf.laplacian(), padding, "zeros"), rtol=1e-12, atol=1e-12)


def test_apply_rgb_filters_each_channel(rng):
    img = rng.random((10, 12, 3))
    k = nf.sobel_x()
    got = nf.apply(img, k)
    assert got.shape == img.shape
    for c in range(3):
        np.testing.assert_allclose(got[..., c], correlate_ref(img[..., c], k), rtol=1e-12, atol=1e-12)
    chw = np.ascontiguousarray(img.transpose(2, 0, 1))
    np.testing.assert_allclose(nf.apply(chw, k, channel_axis=0), got.transpose(2, 0, 1), rtol=1e-12, atol=1e-12)


def test_apply_dtypes_and_1d_signals(rng):
    img32 = rng.random((8, 8)).astype(np.float32)
    got = nf.apply(img32, nf.gaussian(3, 1.0))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, correlate_ref(img32, nf.gaussian(3, 1.0)), rtol=1e-5, atol=1e-6)
    u8 = (rng.random((8, 8)) * 255).astype(np.uint8)
    got = nf.apply(u8, nf.mean(3))
    assert got.dtype == np.float32  # values unchanged: a blurred uint8 photo stays in 0..255
    np.testing.assert_allclose(got, correlate_ref(u8, nf.mean(3)), rtol=1e-5, atol=1e-3)
    sig = np.arange(10.0)
    np.testing.assert_allclose(nf.apply(sig, nf.moving_average(3), padding="valid"), np.arange(1.0, 9.0))


def test_apply_is_constant_preserving_for_blurs_and_zero_for_edges():
    flat = np.full((9, 9), 0.7)
    for k in (nf.mean(3), nf.gaussian(5, 1.0), nf.sharpen()):
        np.testing.assert_allclose(nf.apply(flat, k), flat, atol=1e-14)
    for k in (nf.sobel_x(), nf.sobel_y(), nf.laplacian(), nf.edge8(), nf.edge_1d()):
        np.testing.assert_allclose(nf.apply(flat, k), 0.0, atol=1e-14)


def test_apply_errors():
    img = np.zeros((4, 4))
    with pytest.raises(ValueError, match="mode"):
        nf.apply(img, nf.mean(3), mode="mirror")
    with pytest.raises(ValueError, match="kernel"):
        nf.apply(img, np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="reflect"):
        nf.apply(img, nf.mean(9))  # reflect padding of 4 on a 4-pixel image
    with pytest.raises(ValueError, match="image"):
        nf.apply(np.zeros((2, 3, 4, 5)), nf.mean(3))
    with pytest.raises(TypeError):
        nf.apply(np.array([["a"]]), nf.mean(1))


def test_apply_runs_numconv_conv2d(monkeypatch):
    import numconv.functional as F

    calls = []
    real = F.conv2d

    def spy(*args, **kwargs):
        calls.append(args[1].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(F, "conv2d", spy)
    nf.apply(np.zeros((6, 6, 3)), nf.sobel_x())
    assert calls == [(3, 1, 3, 3)]  # one depthwise conv2d over the three channels


# ----------------------------------------------------------------------------- examples


def test_edge_example_lights_up_exactly_at_the_boundary():
    ex = _example("edge_detection")
    img = ex.half_image(boundary=30)
    assert (img[:, :30] == 1).all() and (img[:, 30:] == 0).all()
    edge = ex.edge_response(img)
    assert ex.edge_columns(edge).tolist() == [29, 30]  # the two columns touching the boundary
    np.testing.assert_array_equal(edge[:, 29:31], 1.0)
    assert np.count_nonzero(edge) == 2 * img.shape[0]
    lap = ex.edge_response(img, nf.laplacian())
    assert ex.edge_columns(lap).tolist() == [29, 30]
    np.testing.assert_array_equal(lap[:, 29], 1.0)
    np.testing.assert_array_equal(lap[:, 30], -1.0)


def test_learn_kernel_converges():
    ex = _example("learn_kernel")
    learned, true, losses = ex.learn_kernel(n_images=2, size=10, steps=60, lr=0.2, seed=1)
    assert np.abs(learned - true).max() < 1e-3
    assert losses[-1] < 1e-3 * losses[0]
    k = nf.laplacian()  # a given kernel is recovered too
    learned, _, _ = ex.learn_kernel(true_kernel=k, n_images=2, size=10, steps=60, lr=0.2, seed=2)
    assert np.abs(learned - k).max() < 1e-3


def test_filters_and_viz_import_no_plotting_or_image_packages():
    code = ("import sys, numconv.filters, numconv.viz; "
            "print(sorted(m for m in ('matplotlib', 'skimage', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_gaussian_of_a_tiny_sigma_is_never_nan():
    """gaussian(5, 1e-300) was all NaN with RuntimeWarnings (sigma**2 underflows); a narrow even kernel was
    0 / 0 too. Tiny sigmas concentrate the kernel on the grid points nearest the centre."""
    with pytest.raises(ValueError, match="sigma"):
        nf.gaussian(5, 1e-300)
    rng = np.random.default_rng(3)
    for size in (3, 4, 5, 6):
        sigma = float(rng.uniform(0.005, 0.015))  # exp(-0.5 / (2 sigma**2)) underflows to 0
        g = nf.gaussian(size, sigma)
        c = (size - 1) / 2
        near = [[max(abs(i - c), abs(j - c)) <= 0.5 for j in range(size)] for i in range(size)]
        expected = np.where(near, 1.0, 0.0) / np.sum(near)  # the limit: the 1 or 4 nearest points, equally
        np.testing.assert_allclose(g, expected, atol=1e-100)
        assert g.sum() == pytest.approx(1.0, rel=1e-15)


def test_correlate_nchw_wants_an_array():
    with pytest.raises(TypeError, match="x must be a NumPy array or numconv Tensor"):
        nf.correlate_nchw([[[[1.0] * 4] * 4]], nf.mean(3))  # it was AttributeError: 'list' has no 'shape'
