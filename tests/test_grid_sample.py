"""grid_sample and affine_grid: against loops written from the definitions below, against PyTorch,
and their gradients (the input's, the grid's, theta's) against central differences, in float64;
volumes (5-d input) against PyTorch and central differences.
The device side runs in tests/_cuda_cases.py (``grid_sample_cases``)."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F
from numconv.autograd import gradcheck

MODES, PADDINGS = ("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection")
COMBOS = list(itertools.product(MODES, PADDINGS, (False, True)))


# ----------------------------------------------------------------------------- the definitions, as loops


def _pixel_index(coord, size, align):
    """Normalized [-1, 1] -> pixel index: -1 and 1 the corner pixels' centres (align) or outer edges."""
    return (coord + 1) / 2 * (size - 1) if align else ((coord + 1) * size - 1) / 2


def _pad(index, size, padding, align):
    """A (real or integer) index moved inside the image as the padding mode says; zeros leaves it."""
    if padding == "zeros":
        return index
    if padding == "reflection":  # mirror at the corner centres (align) or the outer edges, periodically
        lo, hi = (0.0, size - 1.0) if align else (-0.5, size - 0.5)
        if hi > lo:
            period = 2 * (hi - lo)
            r = np.mod(index - lo, period)
            index = lo + (r if r <= hi - lo else period - r)
    return min(max(index, 0.0), size - 1.0)


def _read(img, y, x):
    H, W = img.shape
    return img[int(y), int(x)] if 0 <= y < H and 0 <= x < W else 0.0


def _keys(d):
    """Keys' cubic convolution kernel (a = -0.75) at distance d."""
    a, d = -0.75, abs(d)
    if d <= 1:
        return (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1
    if d < 2:
        return a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a
    return 0.0


def reference_grid_sample(x, grid, mode, padding, align):
    N, C, H, W = x.shape
    _, Ho, Wo, _ = grid.shape
    out = np.zeros((N, C, Ho, Wo))
    for n, i, j in itertools.product(range(N), range(Ho), range(Wo)):
        px, py = _pixel_index(grid[n, i, j, 0], W, align), _pixel_index(grid[n, i, j, 1], H, align)
        for c in range(C):
            img = x[n, c]
            if mode == "bicubic":  # the 16 pixels around, each tap's index padded
                x0, y0 = math.floor(px), math.floor(py)
                out[n, c, i, j] = sum(_keys(px - (x0 + a)) * _keys(py - (y0 + b))
                                      * _read(img, _pad(y0 + b, H, padding, align), _pad(x0 + a, W, padding, align))
                                      for a in range(-1, 3) for b in range(-1, 3))
                continue
            qx, qy = _pad(px, W, padding, align), _pad(py, H, padding, align)
            if mode == "nearest":
                out[n, c, i, j] = _read(img, np.rint(qy), np.rint(qx))
                continue
            x0, y0 = math.floor(qx), math.floor(qy)
            out[n, c, i, j] = sum((1 - abs(qx - (x0 + a))) * (1 - abs(qy - (y0 + b))) * _read(img, y0 + b, x0 + a)
                                  for a in (0, 1) for b in (0, 1))
    return out


def _inputs(rng, N=2, C=3, H=5, W=6, Ho=4, Wo=7, spread=1.3):
    return rng.standard_normal((N, C, H, W)), rng.uniform(-spread, spread, (N, Ho, Wo, 2))


# ----------------------------------------------------------------------------- grid_sample


@pytest.mark.parametrize("mode, padding, align", COMBOS)
def test_grid_sample_matches_the_definition(mode, padding, align, rng):
    x, grid = _inputs(rng, spread=2.5)  # points far outside too: reflected more than once
    got = F.grid_sample(x, grid, mode=mode, padding_mode=padding, align_corners=align)
    np.testing.assert_allclose(got, reference_grid_sample(x, grid, mode, padding, align), rtol=1e-12, atol=1e-12)


def _same_as_torch(torch, x, grid, w, mode, padding, align):
    """grid_sample on both libraries (float64), then backward of the output times w: the outputs and the
    gradients of the input and the grid agree."""
    results = []
    for L in (nc, torch):
        a, g = L.tensor(x, requires_grad=True), L.tensor(grid, requires_grad=True)
        y = (F if L is nc else torch.nn.functional).grid_sample(a, g, mode=mode, padding_mode=padding,
                                                                align_corners=align)
        (y * L.tensor(w)).sum().backward()
        results.append([y.detach().numpy(), a.grad.numpy(), g.grad.numpy()])
    for what, ours, theirs in zip(("output", "input gradient", "grid gradient"), *results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("mode, padding, align", COMBOS)
def test_grid_sample_and_its_gradients_match_torch(mode, padding, align, rng, torch):
    x, grid = _inputs(rng)
    _same_as_torch(torch, x, grid, rng.standard_normal((2, 3, 4, 7)), mode, padding, align)


@pytest.mark.parametrize("N, C", [(40, 3), (20, 5), (1, 70)])
def test_the_input_gradient_over_channel_slices_matches_torch(N, C, rng, torch):
    """The CPU input gradient cuts each sample's channels into slices (``grid_sample_input_grad``):
    one slice of every channel (40 x 3), uneven slices (20 x 5: 2, 1 and 2 channels), a slice per
    channel (1 x 70); images and volumes."""
    x, grid = rng.standard_normal((N, C, 3, 4)), rng.uniform(-1.3, 1.3, (N, 2, 3, 2))
    _same_as_torch(torch, x, grid, rng.standard_normal((N, C, 2, 3)), "bicubic", "zeros", False)
    x, grid = rng.standard_normal((N, C, 2, 2, 3)), rng.uniform(-1.3, 1.3, (N, 1, 2, 2, 3))
    _same_as_torch(torch, x, grid, rng.standard_normal((N, C, 1, 2, 2)), "bilinear", "border", True)


@pytest.mark.parametrize("mode", MODES)
def test_grid_sample_float32_matches_torch(mode, rng, torch):
    x, grid = (a.astype(np.float32) for a in _inputs(rng))
    ours = F.grid_sample(x, grid, mode=mode, padding_mode="reflection")
    theirs = torch.nn.functional.grid_sample(torch.tensor(x), torch.tensor(grid), mode=mode,
                                             padding_mode="reflection", align_corners=False)
    assert ours.dtype == np.float32
    if mode == "nearest":  # the same pixels: the index is rounded as PyTorch's float32 arithmetic rounds it
        np.testing.assert_array_equal(ours, theirs.numpy())
    else:
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("padding, align", list(itertools.product(PADDINGS, (False, True))))
@pytest.mark.parametrize("nd", [2, 3])
def test_float32_points_at_pixel_edges_pick_torchs_pixels(nd, padding, align, rng, torch):
    """Float32 grid points within rounding of a pixel's edge (index k + 1/2: every edge of rows of 2 to
    40 and 97 pixels, the float32 numbers either side of it, and points outside the image, which
    reflection brings back): nearest sampling reads PyTorch's pixel, and bilinear its values, though
    a float64 index would round many of those points the other way (a 2x downsample's grid hits
    them all)."""
    f32 = np.float32
    for W in list(range(2, 41)) + [97]:
        k = np.arange(-3, W + 3) + 0.5
        edges = ((2 * k / (W - 1) - 1) if align else ((2 * k + 1) / W - 1)).astype(f32)
        g = np.concatenate([edges, np.nextafter(edges, f32(2)), np.nextafter(edges, f32(-2)),
                            rng.uniform(-1.5, 1.5, 50).astype(f32)])
        pts = np.stack([g, rng.permutation(g)] + [rng.permutation(g)] * (nd - 2), -1)
        x = rng.standard_normal((1, 2) + (W,) * nd).astype(f32)
        grid = pts.reshape((1,) * nd + (-1, nd))
        for mode in ("nearest", "bilinear"):
            ours = F.grid_sample(x, grid, mode=mode, padding_mode=padding, align_corners=align)
            theirs = torch.nn.functional.grid_sample(torch.tensor(x), torch.tensor(grid), mode=mode,
                                                     padding_mode=padding, align_corners=align).numpy()
            if mode == "nearest":
                np.testing.assert_array_equal(ours, theirs, err_msg=f"{W} pixels")
            else:
                np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=2e-6, err_msg=f"{W} pixels")


@pytest.mark.parametrize("mode, padding, align", [c for c in COMBOS if c[0] != "nearest"])
def test_grid_sample_gradients_match_central_differences(mode, padding, align, rng):
    x, grid = _inputs(rng, N=1, C=2, H=4, W=3, Ho=2, Wo=3)
    args = (nc.Tensor(x, requires_grad=True), nc.Tensor(grid, requires_grad=True))
    assert gradcheck(lambda a, g: F.grid_sample(a, g, mode=mode, padding_mode=padding, align_corners=align), args)


def test_nearest_sends_the_gradient_to_the_pixel_it_read_and_none_to_the_grid(rng):
    x, grid = _inputs(rng, N=1, C=2, H=4, W=3, Ho=2, Wo=3)
    args = (nc.Tensor(x, requires_grad=True), nc.Tensor(grid, requires_grad=True))
    F.grid_sample(*args, mode="nearest").sum().backward()
    assert not args[1].grad.numpy().any()
    assert gradcheck(lambda a: F.grid_sample(a, args[1].detach(), mode="nearest"), (args[0],))


def test_identity_and_shifts_sample_the_image_itself(rng):
    """With align_corners, the identity affine grid reads every pixel's own value; a shift by one pixel
    reads its neighbour's (and the border pixel again at the edge, with border padding)."""
    x = rng.standard_normal((2, 3, 5, 4))
    theta = np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (2, 1, 1))
    for mode in MODES:
        grid = F.affine_grid(theta, x.shape, align_corners=True)
        np.testing.assert_allclose(F.grid_sample(x, grid, mode=mode, align_corners=True), x, atol=1e-13)
    shift = theta.copy()
    shift[:, 0, 2] = 2.0 / 3  # one pixel of 4 along x, with align_corners: 2 / (W - 1)
    grid = F.affine_grid(shift, x.shape, align_corners=True)
    moved = F.grid_sample(x, grid, padding_mode="border", align_corners=True)
    np.testing.assert_allclose(moved[..., :-1], x[..., 1:], atol=1e-12)
    np.testing.assert_allclose(moved[..., -1], x[..., -1], atol=1e-12)


def test_points_outside_and_non_finite_points(rng):
    x = rng.standard_normal((1, 2, 3, 3))
    grid = np.array([[[[5.0, 0.0], [np.nan, 0.0], [0.0, np.inf], [-1e30, 1e30]]]])
    for mode in MODES:
        y = F.grid_sample(x, grid, mode=mode, padding_mode="zeros")
        assert (y[..., 0] == 0).all() and np.isnan(y[..., 1:3]).all() and (y[..., 3] == 0).all(), mode
        b = F.grid_sample(x, grid, mode=mode, padding_mode="border", align_corners=True)
        np.testing.assert_allclose(b[0, :, 0, 0], x[0, :, 1, 2], atol=1e-12)  # clipped to the right edge
        np.testing.assert_allclose(b[0, :, 0, 3], x[0, :, 2, 0], atol=1e-12)  # the bottom-left corner
    for mode in MODES:  # a non-finite point's own gradient is NaN (as PyTorch's; nearest's is 0)
        a, g = nc.Tensor(x, requires_grad=True), nc.Tensor(grid, requires_grad=True)
        F.grid_sample(a, g, mode=mode).sum().backward()
        assert np.isfinite(a.grad.numpy()).all() and not a.grad.numpy().any()  # nothing sampled inside
        gg = g.grad.numpy()[0, 0]
        assert (np.isnan(gg[1:3]).all() if mode != "nearest" else not gg[1:3].any()) and not gg[[0, 3]].any(), mode


def test_reflection_far_outside_mirrors_as_torch(torch):
    """A point 1e8 images away is mirrored from where it is (a clamp before the reflection gave 0)."""
    x = np.arange(8.0).reshape(1, 1, 1, 8)
    grid = np.array([[[[3e8 + 0.1, 0.0], [-7.3e9 - 0.2, 0.5], [4e11 + 0.5, 0.0]]]])
    for mode in MODES:
        for align in (False, True):
            args = dict(mode=mode, padding_mode="reflection", align_corners=align)
            want = torch.nn.functional.grid_sample(torch.tensor(x), torch.tensor(grid), **args).numpy()
            np.testing.assert_allclose(F.grid_sample(x, grid, **args), want, rtol=1e-6, atol=1e-6,
                                       err_msg=f"{mode} align_corners={align}")


def test_empty_grids_and_channels(rng):
    x = rng.standard_normal((2, 3, 4, 4))
    assert F.grid_sample(x, np.zeros((2, 0, 5, 2))).shape == (2, 3, 0, 5)
    assert F.grid_sample(x[:, :0], rng.uniform(-1, 1, (2, 2, 2, 2))).shape == (2, 0, 2, 2)


def test_bad_arguments_are_named(rng):
    x, grid = _inputs(rng)
    cases = [
        (lambda: F.grid_sample(x, grid[:1]), ValueError, "same batch size N, got 1 for the grid and 2"),
        (lambda: F.grid_sample(x, grid[..., :1]), ValueError, r"grid must have shape \(N, H_out, W_out, 2\)"),
        (lambda: F.grid_sample(x[0], grid), ValueError, r"input must have shape \(N, C, H, W\)"),
        (lambda: F.grid_sample(x[..., None], grid), ValueError, r"grid must have shape \(N, D_out, H_out, W_out, 3\)"),
        (lambda: F.grid_sample(x[..., None], grid[..., None, :].repeat(3, -1)[..., :3], mode="bicubic"), ValueError,
         "'bicubic' takes a 4-d input only"),
        (lambda: F.grid_sample(x, grid, mode="linear"), ValueError, "mode must be one of"),
        (lambda: F.grid_sample(x, grid, padding_mode="wrap"), ValueError, "padding_mode must be one of"),
        (lambda: F.grid_sample(x, grid.astype(np.float32)), TypeError, "grid has dtype float32 but input has"),
        (lambda: F.grid_sample(x[:, :, :0], grid), ValueError, "non-empty spatial dimensions"),
        (lambda: F.grid_sample(x.astype(np.int64), grid), TypeError, "input must be float32 or float64"),
        (lambda: F.affine_grid(np.zeros((2, 2, 3)), (3, 1, 4, 4)), ValueError, r"theta must have shape \(3, 2, 3\)"),
        (lambda: F.affine_grid(np.zeros((2, 2, 3)), (2, 1, 4)), ValueError, r"size must be \(N, C, H, W\)"),
        (lambda: F.affine_grid(np.zeros((2, 2, 3)), 4), TypeError, "size must be a tuple of ints"),
        (lambda: F.affine_grid(np.zeros((2, 2, 3)), (2, 3, 0, 4)), ValueError, "sizes must be positive"),
    ]
    for call, error, words in cases:
        with pytest.raises(error, match=words):
            call()


# ----------------------------------------------------------------------------- affine_grid


@pytest.mark.filterwarnings("ignore:Since version 1.3.0, affine_grid")  # torch's, on sizes of 1 with align_corners
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 1, 3), (1, 2, 3, 4, 2), (2, 1, 2, 1, 3)])
@pytest.mark.parametrize("align", [False, True])
def test_affine_grid_and_its_gradient_match_torch(size, align, rng, torch):
    k = len(size) - 2
    theta = rng.standard_normal((size[0], k, k + 1))
    w = rng.standard_normal((size[0], *size[2:], k))
    results = []
    for L in (nc, torch):
        t = L.tensor(theta, requires_grad=True)
        grid = (F if L is nc else torch.nn.functional).affine_grid(t, size, align_corners=align)
        (grid * L.tensor(w)).sum().backward()
        results.append((grid.detach().numpy(), t.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)
    t = nc.Tensor(theta, requires_grad=True)
    assert gradcheck(lambda th: F.affine_grid(th, size, align_corners=align), (t,))


def test_a_spatial_transformer_trains_its_affine_map(rng):
    """A localisation layer's affine map learns, through affine_grid and grid_sample, to undo a shift:
    the loss falls by more than 10x (the shift is recovered)."""
    img = rng.standard_normal((4, 1, 8, 8)).cumsum(2).cumsum(3)  # smooth images: the loss sees a shift
    img /= img.std()
    target = F.grid_sample(img, F.affine_grid(np.tile([[1.0, 0, 0.25], [0, 1.0, -0.2]], (4, 1, 1)), img.shape),
                           padding_mode="border")
    theta = nc.Tensor(np.tile(np.eye(2, 3), (4, 1, 1)), requires_grad=True)
    opt = nc.optim.Adam([theta], lr=0.02)
    losses = []
    for _ in range(150):
        out = F.grid_sample(nc.Tensor(img), F.affine_grid(theta, img.shape), padding_mode="border")
        loss = ((out - nc.Tensor(target)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10
    np.testing.assert_allclose(theta.detach().numpy()[:, :, 2], np.tile([0.25, -0.2], (4, 1)), atol=0.03)


# ----------------------------------------------------------------------------- volumes


VOLUME_COMBOS = list(itertools.product(("bilinear", "nearest"), PADDINGS, (False, True)))


@pytest.mark.parametrize("mode, padding, align", VOLUME_COMBOS)
def test_volumes_and_their_gradients_match_torch(mode, padding, align, rng, torch):
    """A 5-d input sampled at (x, y, z) points: trilinear ('bilinear') or nearest, every padding."""
    x, grid = rng.standard_normal((2, 2, 3, 4, 5)), rng.uniform(-1.6, 1.6, (2, 2, 3, 4, 3))
    _same_as_torch(torch, x, grid, rng.standard_normal((2, 2, 2, 3, 4)), mode, padding, align)


@pytest.mark.parametrize("padding", PADDINGS)
def test_volume_gradients_match_central_differences(padding, rng):
    x, grid = rng.standard_normal((1, 2, 2, 3, 3)), rng.uniform(-1.2, 1.2, (1, 2, 1, 2, 3))
    args = (nc.Tensor(x, requires_grad=True), nc.Tensor(grid, requires_grad=True))
    assert gradcheck(lambda a, g: F.grid_sample(a, g, padding_mode=padding, align_corners=True), args)


def test_the_identity_affine_grid_samples_a_volume_itself(rng):
    x = rng.standard_normal((2, 3, 4, 5, 3))
    theta = np.tile(np.eye(3, 4), (2, 1, 1))
    for mode in ("bilinear", "nearest"):
        grid = F.affine_grid(theta, x.shape, align_corners=True)
        np.testing.assert_allclose(F.grid_sample(x, grid, mode=mode, align_corners=True), x, atol=1e-13)
