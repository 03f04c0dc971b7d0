"""interpolate (nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area) and the
Upsample layers: values against the float64 reference in tests/reference.py, values and gradients
against torch, central differences in float64, the array-level backward, and bad arguments."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F
import reference as ref
from conftest import assert_close
from numconv import nn
from numconv.autograd import gradcheck

MODES = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "linear": (1,), "bilinear": (2,), "bicubic": (2,),
         "trilinear": (3,), "area": (1, 2, 3)}
LINEAR = ("linear", "bilinear", "bicubic", "trilinear")


def _config(rng, mode, nd):
    """(input spatial size, keyword arguments): sizes up and down, a scale factor (one or per
    dimension, with or without recompute_scale_factor) or an output size, align_corners either way."""
    spatial = tuple(int(n) for n in rng.integers(1, 7, size=nd))
    while True:
        kw = {}
        if rng.random() < 0.5:
            out = tuple(int(n) for n in rng.integers(1, 10, size=nd))
            kw["size"] = out if nd > 1 or rng.random() < 0.5 else out[0]
        else:
            # 1.3333 only for the linear modes: with it, 2 or 3 pixels stay 2 or 3, and there PyTorch's CPU
            # nearest backward takes each pixel as it is in 1-d and 3-d, unlike its forward (numconv's
            # backward is its forward's transpose: see test_nearest_follows_one_rule)
            choices = [0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0] + ([1.3333] if mode in LINEAR else [])
            factors = tuple(float(f) for f in rng.choice(choices, size=nd))
            kw["scale_factor"] = factors if rng.random() < 0.5 else factors[0]
            factors = factors if isinstance(kw["scale_factor"], tuple) else (factors[0],) * nd
            out = tuple(int(np.floor(n * f)) for n, f in zip(spatial, factors))
            if rng.random() < 0.3 and mode != "area":
                kw["recompute_scale_factor"] = True
        if min(out) >= 1:
            break
    if mode in LINEAR and rng.random() < 0.6:
        kw["align_corners"] = bool(rng.random() < 0.5)
    return spatial, out, kw


def _reference(x, out, mode, kw):
    factors = None
    if "scale_factor" in kw and not kw.get("recompute_scale_factor"):
        f = kw["scale_factor"]
        factors = f if isinstance(f, tuple) else (f,) * (x.ndim - 2)
    return ref.interpolate_nd(x, out, mode, kw.get("align_corners", False), factors)


CONFIGS = [(mode, nd, k) for mode, nds in MODES.items() for nd in nds for k in range(4)]


@pytest.mark.parametrize("mode, nd, k", CONFIGS)
def test_against_reference(mode, nd, k, rng):
    spatial, out, kw = _config(rng, mode, nd)
    x = rng.standard_normal((2, 2) + spatial)
    y = F.interpolate(x, mode=mode, **kw)
    assert y.shape == (2, 2) + out
    assert_close(y, _reference(x, out, mode, kw), what=f"{mode} {spatial} {kw}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode, nd, k", CONFIGS)
def test_against_torch(mode, nd, k, dtype, rng, torch):
    spatial, out, kw = _config(rng, mode, nd)
    x = rng.standard_normal((2, 3) + spatial).astype(dtype)
    xn = nc.Tensor(x, requires_grad=True)
    y = F.interpolate(xn, mode=mode, **kw)
    gy = rng.standard_normal(y.shape).astype(dtype)
    y.backward(gy)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.interpolate(xt, mode=mode, **kw)
    yt.backward(torch.from_numpy(gy))
    assert y.dtype == dtype
    assert_close(y.numpy(), yt.detach().numpy(), dtype, what=f"{mode} {spatial} {kw} forward")
    assert_close(xn.grad.numpy(), xt.grad.numpy(), dtype, what=f"{mode} {spatial} {kw} gradient")


@pytest.mark.parametrize("n, m", [(3, 7), (14, 20), (7, 3), (161, 412), (215, 519)])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear", "bicubic"])
def test_long_rows_read_the_pixels_torch_reads(n, m, mode, torch):
    """Long float32 rows, where a source position computed in float64, or without PyTorch's fused
    multiply-add, lands on another pixel or weight (nearest: j * 0.7f rounds below an integer)."""
    x = np.arange(n, dtype=np.float32)[None, None] * 0.37
    x = x[:, :, None] if mode == "bicubic" else x
    size = (1, m) if mode == "bicubic" else m
    for kw in ({"size": size}, {"scale_factor": (1.0, m / n) if mode == "bicubic" else m / n}):
        got = F.interpolate(x, mode=mode, **kw)
        want = torch.nn.functional.interpolate(torch.from_numpy(x), mode=mode, **kw).numpy()
        assert_close(got, want, np.float32, what=f"{mode} {n}->{m} {kw}")


def test_nearest_follows_one_rule(torch):
    """Three pixels scaled by 1.3333 stay three: in 1-d (and 3-d) output j reads floor(j / 1.3333), as
    PyTorch's forward, and the backward is that map's transpose. (PyTorch's 1-d backward copies pixel j
    instead, so its gradient there is not its own forward's.)"""
    x = np.array([[[1.0, 2.0, 4.0]]])
    y = F.interpolate(x, scale_factor=1.3333)
    want = torch.nn.functional.interpolate(torch.from_numpy(x), scale_factor=1.3333).numpy()
    assert np.array_equal(y, [[[1.0, 1.0, 2.0]]]) and np.array_equal(y, want)
    assert np.array_equal(F.interpolate_backward(np.ones((1, 1, 3)), x, scale_factor=1.3333), [[[2.0, 1.0, 0.0]]])


@pytest.mark.parametrize("factor", [1.05, 1.3333, 1.0000001, 2.0000001, 2.1, (1.05, 2.0000001), (1.0, 3.0)])
def test_2d_nearest_copies_where_a_size_stays_or_doubles_as_torch(factor, rng, torch):
    """PyTorch's 2-d nearest copies pixel j where a size stays and reads j // 2 where it doubles, whatever
    the factor (forward and backward alike): a 5 x 6 image scaled by 1.05 is itself, not shifted."""
    x = rng.standard_normal((2, 3, 5, 6))
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.interpolate(xt, scale_factor=factor)
    xn = nc.Tensor(x, requires_grad=True)
    y = F.interpolate(xn, scale_factor=factor)
    np.testing.assert_array_equal(y.numpy(), yt.detach().numpy())
    gy = rng.standard_normal(y.shape)
    (yt * torch.from_numpy(gy)).sum().backward()
    (y * nc.Tensor(gy)).sum().backward()
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=1e-14)
    if factor == 1.05:
        np.testing.assert_array_equal(y.numpy(), x)


@pytest.mark.parametrize("mode, nd", [(m, nds[0]) for m, nds in MODES.items()])
def test_gradcheck_and_array_level_backward(mode, nd, rng):
    spatial = (3, 4, 2)[:nd]
    kw = {"scale_factor": 1.5} if mode != "area" else {"size": (2,) * nd}
    x = rng.standard_normal((1, 2) + spatial)
    assert gradcheck(lambda t: F.interpolate(t, mode=mode, **kw), [nc.Tensor(x, requires_grad=True)])
    y = F.interpolate(x, mode=mode, **kw)
    gy = rng.standard_normal(y.shape)
    xn = nc.Tensor(x, requires_grad=True)
    F.interpolate(xn, mode=mode, **kw).backward(gy)
    assert_close(F.interpolate_backward(gy, x, mode=mode, **kw), xn.grad.numpy())
    # the backward is the transposed map: <interpolate(x), gy> = <x, interpolate_backward(gy)>
    assert_close(np.sum(y * gy), np.sum(x * xn.grad.numpy()))


def test_upsample_layers_against_torch(rng, torch):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    pairs = [
        (nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2), "Upsample(scale_factor=2.0, mode='nearest')"),
        (nn.Upsample(size=(7, 3), mode="bilinear", align_corners=True),
         torch.nn.Upsample(size=(7, 3), mode="bilinear", align_corners=True),
         "Upsample(size=(7, 3), mode='bilinear', align_corners=True)"),
        (nn.Upsample(scale_factor=1.5, mode="bicubic"), torch.nn.Upsample(scale_factor=1.5, mode="bicubic"), None),
        (nn.UpsamplingNearest2d(size=9), torch.nn.UpsamplingNearest2d(size=9), None),
        (nn.UpsamplingBilinear2d(scale_factor=3), torch.nn.UpsamplingBilinear2d(scale_factor=3), None),
    ]
    for ours, theirs, text in pairs:
        assert_close(ours(nc.Tensor(x)).numpy(), theirs(torch.from_numpy(x)).numpy(), np.float32, what=repr(ours))
        assert ours.state_dict() == {}
        if text:
            assert repr(ours) == text


@pytest.mark.parametrize("args, kw, exc, match", [
    ((), {"size": 4, "mode": "cubic"}, ValueError, "mode must be one of"),
    ((), {"size": 4, "mode": "trilinear"}, ValueError, r"mode='trilinear' needs a 5-d input .* got 4-d"),
    ((), {"size": 4, "scale_factor": 2}, ValueError, "exactly one of size and scale_factor, got both"),
    ((), {}, ValueError, "exactly one of size and scale_factor, got neither"),
    ((), {"size": (4, 4, 4)}, TypeError, "size must be an int or a tuple of 2 ints"),
    ((), {"size": (4, 0)}, ValueError, r"output spatial sizes must be >= 1, got input \(3, 5\) and output \(4, 0\)"),
    ((), {"scale_factor": 0.1}, ValueError, r"output \(0, 0\)"),
    ((), {"scale_factor": -2.0}, ValueError, r"scale_factor must be in \(0.0, inf\)"),
    ((), {"scale_factor": (2.0,)}, TypeError, "scale_factor must be a number or a tuple of 2 numbers"),
    ((), {"scale_factor": 2, "align_corners": True}, ValueError, "align_corners can only be set with the interpolating"),
    ((), {"size": 4, "mode": "bilinear", "align_corners": "yes"}, TypeError, "align_corners must be True or False"),
    ((), {"size": 4, "recompute_scale_factor": True}, ValueError, "recompute_scale_factor=True only applies"),
    ((), {"size": 4, "antialias": True}, ValueError, "antialias=True is for the bilinear and bicubic modes"),
    ((), {"size": 4, "mode": "bilinear", "antialias": 1}, TypeError, "antialias must be True or False"),
])
def test_bad_arguments(args, kw, exc, match):
    with pytest.raises(exc, match=match):
        F.interpolate(np.zeros((1, 2, 3, 5), np.float32), *args, **kw)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"input must have 3 or 4 or 5 dimensions .*got shape \(2, 3\)"):
        F.interpolate(np.zeros((2, 3), np.float32), size=4)
    with pytest.raises(TypeError, match="input must be float32 or float64"):
        F.interpolate(np.zeros((1, 1, 3), np.int64), size=4)
    with pytest.raises(ValueError, match="grad_output must have the forward output's shape"):
        F.interpolate_backward(np.zeros((1, 1, 5), np.float32), np.zeros((1, 1, 3), np.float32), size=4)
    with pytest.raises(ValueError, match="mode must be one of"):
        nn.Upsample(scale_factor=2, mode="box")
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        nn.Upsample()


def test_bicubic_gradient_at_a_kept_size_is_the_transposed_map(rng):
    """scale_factor (1.14, 1.1) keeps 5x7 but moves every sample: the gradient is the forward's
    transpose (central differences agree), where PyTorch's is a copy of the output gradient."""
    x = nc.Tensor(rng.standard_normal((1, 2, 5, 7)), requires_grad=True)
    assert F.interpolate(x, scale_factor=(1.14, 1.1), mode="bicubic").shape == (1, 2, 5, 7)
    assert gradcheck(lambda t: F.interpolate(t, scale_factor=(1.14, 1.1), mode="bicubic"), [x])


def _antialias_config(rng):
    """(spatial, output, kwargs) for antialias=True: shrinking and growing, by size or scale factor."""
    spatial = tuple(int(n) for n in rng.integers(1, 14, size=2))
    while True:
        if rng.random() < 0.5:
            kw = {"size": tuple(int(n) for n in rng.integers(1, 14, size=2))}
            out = kw["size"]
        else:
            factors = tuple(float(f) for f in rng.choice([0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.1], size=2))
            kw = {"scale_factor": factors}
            out = tuple(int(np.floor(n * f)) for n, f in zip(spatial, factors))
        if min(out) >= 1:
            break
    if rng.random() < 0.3:
        kw["align_corners"] = bool(rng.random() < 0.5)
    return spatial, out, kw


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("k", range(6))
def test_antialias_against_reference_and_gradcheck(mode, k, rng):
    spatial, out, kw = _antialias_config(rng)
    x = rng.standard_normal((2, 2) + spatial)
    factors = kw.get("scale_factor")
    want = ref.interpolate_nd(x, out, mode, kw.get("align_corners", False), factors, antialias=True)
    assert_close(F.interpolate(x, mode=mode, antialias=True, **kw), want, what=f"{mode} {spatial} {kw}")
    t = nc.Tensor(x[:1, :1], requires_grad=True)
    assert gradcheck(lambda v: F.interpolate(v, mode=mode, antialias=True, **kw), [t])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("k", range(8))
def test_antialias_against_torch(mode, k, dtype, rng, torch):
    spatial, out, kw = _antialias_config(rng)
    if out[1] == 1 and out[0] != spatial[0]:
        # torch 2.13's CPU forward (not its backward) reads the wrong rows when the width becomes 1
        # and the height changes: (3, 4) -> (2, 1) of 1..12 gives [4, 4], where the definition (and
        # tests/reference.py, and torch's own gradient) give [4, 9]; those cases are in the test above
        out = (out[0], 2)
        kw = {"size": out, **({"align_corners": kw["align_corners"]} if "align_corners" in kw else {})}
    x = rng.standard_normal((2, 3) + spatial).astype(dtype)
    gy = rng.standard_normal((2, 3) + out).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.interpolate(tx, mode=mode, antialias=True, **kw)
    ty.backward(torch.tensor(gy))
    xn = nc.Tensor(x.copy(), requires_grad=True)
    y = F.interpolate(xn, mode=mode, antialias=True, **kw)
    y.backward(nc.Tensor(gy))
    assert y.dtype == dtype
    assert_close(y.numpy(), ty.detach().numpy(), dtype, what=f"{mode} {spatial} {kw}")
    assert_close(xn.grad.numpy(), tx.grad.numpy(), dtype, what=f"grad {mode} {spatial} {kw}")
