"""Fractional max pooling (2-d and 3-d): against the loops of tests/reference.py and PyTorch with the
same samples, the gradient against central differences in float64, the random windows' properties,
the layers, and every bad argument. The device side runs in tests/_cuda_cases.py (``pool_cases``)."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F
import numconv.nn as nn
import reference as R
from conftest import random, to_torch, torch_or_fail
from numconv.autograd import gradcheck

DTYPES = [np.float64, np.float32]
DTYPE_IDS = ["f64", "f32"]


def _config(rng, nd, torch_3d=False):
    """A random input size, kernel and output size whose windows fit (out + k - 1 <= n; PyTorch's
    3-d op asks for out + k - 1 < n, though windows one apart fit, as its 2-d op knows)."""
    sizes = tuple(int(v) for v in rng.integers(3 if nd == 3 else 4, 7 if nd == 3 else 14, nd))
    kernel = tuple(int(min(v, n - torch_3d)) for v, n in zip(rng.integers(1, 4, nd), sizes))
    out = tuple(int(rng.integers(1, n - k + 2 - torch_3d)) for n, k in zip(sizes, kernel))
    return sizes, kernel, out


def _samples(rng, shape, dtype):
    return rng.random(shape).astype(dtype)


@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_matches_the_reference(nd, dtype, rng):
    pool = getattr(F, f"fractional_max_pool{nd}d")
    for _ in range(6):
        sizes, kernel, out = _config(rng, nd)
        x = random(rng, (2, 3) + sizes, dtype)
        u = _samples(rng, (2, 3, nd), dtype)
        y, idx = pool(x, kernel, output_size=out, return_indices=True, _random_samples=u)
        want, want_idx = R.fractional_max_pool_nd(x, kernel, out, u)
        assert y.dtype == dtype and idx.dtype == np.int64 and y.shape == (2, 3) + out
        np.testing.assert_array_equal(y, want, err_msg=f"{sizes} {kernel} {out}")
        np.testing.assert_array_equal(idx, want_idx)
        np.testing.assert_array_equal(pool(x, kernel, out, _random_samples=u), want)  # values alone


@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_matches_torch(nd, dtype, rng):
    torch = torch_or_fail()
    pool, tpool = getattr(F, f"fractional_max_pool{nd}d"), getattr(torch.nn.functional, f"fractional_max_pool{nd}d")
    for trial in range(8):
        sizes, kernel, out = _config(rng, nd, torch_3d=nd == 3)
        x = random(rng, (3, 2) + sizes, dtype)
        x.flat[rng.integers(x.size)] = np.nan if trial == 0 else x.flat[0]  # NaN propagates; ties keep the first
        u = _samples(rng, (3, 2, nd), dtype)
        leaf = nc.tensor(x, requires_grad=True)
        got = pool(leaf, kernel, out, return_indices=True, _random_samples=u)
        tx = to_torch(torch, x, requires_grad=True)
        want = tpool(tx, kernel, out, return_indices=True, _random_samples=to_torch(torch, u))
        np.testing.assert_array_equal(got[0].numpy(), want[0].detach().numpy())
        np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
        gy = random(rng, want[0].shape, dtype)
        got[0].backward(nc.tensor(gy))
        want[0].backward(to_torch(torch, gy))
        np.testing.assert_allclose(leaf.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("nd", [2, 3])
def test_output_ratio_and_unbatched_match_torch(nd, rng):
    torch = torch_or_fail()
    pool, tpool = getattr(F, f"fractional_max_pool{nd}d"), getattr(torch.nn.functional, f"fractional_max_pool{nd}d")
    sizes = (9, 7, 8)[:nd] if nd == 3 else (13, 10)
    ratio = (0.6, 0.75, 0.5)[:nd]
    x = random(rng, (4,) + sizes)
    u = _samples(rng, (1, 4, nd), np.float64)
    y = pool(x, 2, output_ratio=ratio, _random_samples=u)
    want = tpool(to_torch(torch, x), 2, output_ratio=ratio, _random_samples=to_torch(torch, u))
    assert y.shape == tuple(want.shape) == (4,) + tuple(int(n * r) for n, r in zip(sizes, ratio))
    np.testing.assert_array_equal(y, want.numpy())


@pytest.mark.parametrize("nd", [2, 3])
def test_gradient_by_central_differences(nd, rng):
    pool = getattr(F, f"fractional_max_pool{nd}d")
    sizes, kernel, out = ((7, 9), (3, 2), (5, 6)) if nd == 2 else ((5, 4, 6), (2, 2, 3), (3, 3, 4))  # overlapping windows
    x = nc.tensor(random(rng, (2, 2) + sizes), requires_grad=True)
    u = _samples(rng, (2, 2, nd), np.float64)
    assert gradcheck(lambda t: pool(t, kernel, out, _random_samples=u), [x])
    gy = random(rng, (2, 2) + out)
    backward = getattr(F, f"fractional_max_pool{nd}d_backward")
    numeric = R.numerical_grad(lambda a: pool(a, kernel, out, _random_samples=u), x.numpy(), gy)
    np.testing.assert_allclose(backward(gy, x.numpy(), kernel, out, _random_samples=u), numeric, atol=1e-8)
    _, idx = pool(x.numpy(), kernel, out, return_indices=True, _random_samples=u)
    np.testing.assert_allclose(backward(gy, x.numpy(), kernel, out, indices=idx), numeric, atol=1e-8)


def test_repeated_maxima_sum_their_gradients(rng):
    """Windows overlap: an input that is the max of several windows gets all their gradients."""
    x = random(rng, (1, 1, 6, 6))
    x[0, 0, 2, 2] = 10.0  # every window over (2, 2) picks it
    u = _samples(rng, (1, 1, 2), np.float64)
    t = nc.tensor(x, requires_grad=True)
    y, idx = F.fractional_max_pool2d(t, 3, output_size=4, return_indices=True, _random_samples=u)
    y.sum().backward()
    hits = int((idx.numpy() == 2 * 6 + 2).sum())
    assert hits >= 2
    assert t.grad.numpy()[0, 0, 2, 2] == hits
    assert t.grad.numpy().sum() == 16


@pytest.mark.parametrize("nd", [2, 3])
def test_random_windows(nd, rng):
    """Without samples the windows are drawn per (sample, channel) from numconv.random: a seed
    repeats them; every window starts inside the input, the first at 0 and the last at n - k, and
    successive windows start 1 or 2 apart when the ratio is between 1/2 and 1."""
    pool = getattr(F, f"fractional_max_pool{nd}d")
    sizes = (11, 13)[:nd] if nd == 2 else (7, 9, 8)
    plane = np.arange(np.prod(sizes), dtype=np.float64).reshape(sizes)  # increasing: each window's max is its last tap
    x = np.broadcast_to(plane, (3, 4) + sizes).copy()
    out = tuple(n // 2 + 1 for n in sizes)
    nc.manual_seed(5)
    y1, idx1 = pool(x, 2, out, return_indices=True)
    y2, idx2 = pool(x, 2, out, return_indices=True)
    nc.manual_seed(5)
    y3, _ = pool(x, 2, out, return_indices=True)
    np.testing.assert_array_equal(y1, y3)
    assert not np.array_equal(y1, y2)
    np.testing.assert_array_equal(y1, np.take(plane, idx1))
    corner = np.stack(np.unravel_index(idx1, sizes)) - 1  # each window's first tap
    for a in range(nd):
        starts = np.moveaxis(corner[a], 2 + a, -1).reshape(-1, out[a])
        assert (starts[:, 0] == 0).all() and (starts[:, -1] == sizes[a] - 2).all()
        assert set(np.unique(np.diff(starts, axis=-1))) <= {1, 2}
    planes = idx1.reshape(12, -1)
    assert len({p.tobytes() for p in planes}) > 1  # planes draw windows of their own


def test_backward_needs_indices_or_samples(rng):
    x, gy = random(rng, (1, 2, 6, 6)), random(rng, (1, 2, 3, 3))
    with pytest.raises(ValueError, match="indices or its _random_samples"):
        F.fractional_max_pool2d_backward(gy, x, 2, 3)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 36\)"):
        F.fractional_max_pool2d_backward(gy, x, 2, 3, indices=np.full((1, 2, 3, 3), 36))
    with pytest.raises(ValueError, match="grad_output must have"):
        F.fractional_max_pool2d_backward(gy[..., :2], x, 2, 3, indices=np.zeros((1, 2, 3, 3), np.int64))


def test_unpool_round_trip(rng):
    """The indices feed max_unpool2d, as with max pooling: each max goes back to its place."""
    x = random(rng, (2, 3, 9, 8))
    u = _samples(rng, (2, 3, 2), np.float64)
    y, idx = F.fractional_max_pool2d_with_indices(x, 2, output_size=(6, 5), _random_samples=u)
    up = F.max_unpool2d(y, idx, 4, stride=1, output_size=(9, 8))  # (6 - 1) * 1 + 4 = 9: the default size
    for n, c in np.ndindex(2, 3):
        picked = np.zeros(72, bool)
        picked[idx[n, c].ravel()] = True
        np.testing.assert_array_equal(up[n, c].ravel()[picked], x[n, c].ravel()[picked])
        assert (up[n, c].ravel()[~picked] == 0).all()


BAD = [
    (dict(kernel_size=2), ValueError, "exactly one of output_size and output_ratio"),
    (dict(kernel_size=2, output_size=3, output_ratio=0.5), ValueError, "exactly one"),
    (dict(kernel_size=0, output_size=3), ValueError, "kernel_size must be >= 1"),
    (dict(kernel_size=3, output_size=7), ValueError, "kernel_size .* too large"),
    (dict(kernel_size=9, output_size=1), ValueError, "too large"),
    (dict(kernel_size=2, output_size=-1), ValueError, "output_size must be >= 0"),
    (dict(kernel_size=2, output_size=(3, 3, 3)), (TypeError, ValueError), "output_size"),
    (dict(kernel_size=2, output_ratio=0), ValueError, "output_ratio must be between 0 and 1"),
    (dict(kernel_size=2, output_ratio=(0.5, 1.5)), ValueError, "output_ratio must be between 0 and 1"),
    (dict(kernel_size=2, output_ratio="half"), TypeError, "output_ratio must be a number"),
    (dict(kernel_size=2, output_size=3, return_indices="yes"), TypeError, "return_indices"),
    (dict(kernel_size=2, output_size=3, _random_samples=np.full((2, 3, 2), 0.5)), ValueError, r"shape \(2, 2, 2\)"),
    (dict(kernel_size=2, output_size=3, _random_samples=np.full((2, 2, 2), 0.5, np.float32)), TypeError, "dtype"),
    (dict(kernel_size=2, output_size=3, _random_samples=np.full((2, 2, 2), 1.0)), ValueError, r"lie in \[0, 1\)"),
    (dict(kernel_size=2, output_size=3, _random_samples=np.full((2, 2, 2), np.nan)), ValueError, r"lie in \[0, 1\)"),
    (dict(kernel_size=2, output_size=3, _random_samples=np.full((2, 2, 2), 3)), TypeError, "float32 or float64"),
]


@pytest.mark.parametrize("kwargs, error, match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_arguments(kwargs, error, match, rng):
    x = random(rng, (2, 2, 8, 8))
    with pytest.raises(error, match=match):
        F.fractional_max_pool2d(x, **kwargs)


def test_bad_inputs(rng):
    with pytest.raises(TypeError, match="float32 or float64"):
        F.fractional_max_pool2d(np.ones((1, 1, 6, 6), np.int32), 2, 3)
    with pytest.raises(ValueError, match="input"):
        F.fractional_max_pool3d(random(rng, (6, 6)), 2, 3)


@pytest.mark.parametrize("nd", [2, 3])
def test_layers(nd, rng):
    layer_cls = getattr(nn, f"FractionalMaxPool{nd}d")
    sizes = (10,) * nd
    x = random(rng, (2, 3) + sizes)
    u = _samples(rng, (2, 3, nd), np.float64)
    layer = layer_cls(3, output_size=5, return_indices=True, _random_samples=nc.tensor(u))
    y, idx = layer(nc.tensor(x))
    want, want_idx = R.fractional_max_pool_nd(x, (3,) * nd, (5,) * nd, u)
    np.testing.assert_array_equal(y.numpy(), want)
    np.testing.assert_array_equal(idx.numpy(), want_idx)
    assert "_random_samples" in layer.state_dict()
    assert repr(layer) == f"FractionalMaxPool{nd}d(kernel_size={(3,) * nd}, output_size={(5,) * nd})"
    half = layer_cls(2, output_ratio=0.5)
    assert half(nc.tensor(x)).shape == (2, 3) + (5,) * nd
    assert "_random_samples" not in half.state_dict()
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        layer_cls(2, output_ratio=1.5)
    with pytest.raises(ValueError, match="exactly one"):
        layer_cls(2)
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        layer_cls(0, output_size=2)


def test_trains_inside_a_network(rng):
    """A small CNN with a fractional pool learns: the loss falls over a few SGD steps."""
    nc.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.FractionalMaxPool2d(2, output_ratio=0.7),
                          nn.Flatten(), nn.LazyLinear(2))
    x = nc.tensor(random(rng, (16, 1, 10, 10)).astype(np.float32))
    target = nc.tensor((x.numpy().mean(axis=(1, 2, 3)) > 0).astype(np.int64))
    model(x)
    opt = nc.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]
