"""cross_entropy, nll_loss and mse_loss: values and gradients against torch (class weights,
ignore_index, label_smoothing, every reduction, (N, C) and (N, C, d1, ...)), central differences in
float64, and the errors for bad targets."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F
from conftest import assert_close
from numconv.autograd import gradcheck


def _targets(rng, shape, C, ignore_index):
    """Class indices of ``shape`` with about a quarter set to ``ignore_index`` (when given)."""
    t = rng.integers(0, C, size=shape)
    if ignore_index is not None:
        t[rng.random(shape) < 0.25] = ignore_index
        t.reshape(-1)[0] = 0  # never all ignored
    return t.astype(np.int64)


def _compare(torch, nc_fn, t_fn, arrays, dtype, rng):
    """Run both on float inputs ``arrays`` (all require grad); compare values and gradients."""
    xs = [nc.Tensor(a.copy(), requires_grad=True) for a in arrays]
    y = nc_fn(*xs)
    assert y.dtype == dtype
    gy = rng.standard_normal(y.shape).astype(dtype)
    y.backward(gy)
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    yt = t_fn(*ts)
    yt.backward(torch.from_numpy(gy))
    assert_close(y.numpy(), yt.detach().numpy(), dtype, what="loss")
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert_close(x.grad.numpy(), t.grad.numpy(), dtype, what=f"gradient of input {i}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [None, -100, 2])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(6, 5), (2, 4, 3, 2)], ids=["NC", "NCd1d2"])
def test_cross_entropy_against_torch(shape, reduction, ignore_index, weighted, smoothing, dtype, rng, torch):
    import torch.nn.functional as TF

    C = shape[1]
    logits = (rng.standard_normal(shape) * 3).astype(dtype)
    target = _targets(rng, shape[:1] + shape[2:], C, ignore_index)
    weight = rng.random(C).astype(dtype) + 0.5 if weighted else None
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    if ignore_index is not None:
        kw["ignore_index"] = ignore_index
    tw = torch.from_numpy(weight) if weighted else None
    _compare(torch, lambda x: F.cross_entropy(x, target, weight, **kw),
             lambda x: TF.cross_entropy(x, torch.from_numpy(target), tw, **kw), [logits], dtype, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5)], ids=["NC", "NCd"])
def test_cross_entropy_probability_targets_against_torch(shape, reduction, dtype, rng, torch):
    import torch.nn.functional as TF

    logits = rng.standard_normal(shape).astype(dtype)
    probs = rng.random(shape).astype(dtype)
    probs /= probs.sum(1, keepdims=True)
    weight = rng.random(shape[1]).astype(dtype) + 0.5
    kw = dict(reduction=reduction, label_smoothing=0.1)
    _compare(torch, lambda x, p: F.cross_entropy(x, p, weight, **kw),
             lambda x, p: TF.cross_entropy(x, p, torch.from_numpy(weight), **kw), [logits, probs], dtype, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_against_torch(reduction, dtype, rng, torch):
    import torch.nn.functional as TF

    logp = rng.standard_normal((5, 4, 3)).astype(dtype)
    target = _targets(rng, (5, 3), 4, 1)
    weight = rng.random(4).astype(dtype) + 0.5
    _compare(torch, lambda x: F.nll_loss(x, target, weight, ignore_index=1, reduction=reduction),
             lambda x: TF.nll_loss(x, torch.from_numpy(target), torch.from_numpy(weight), ignore_index=1,
                                   reduction=reduction), [logp], dtype, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_against_torch(reduction, dtype, rng, torch):
    import torch.nn.functional as TF

    a, b = rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((3, 4)).astype(dtype)
    _compare(torch, lambda x, y: F.mse_loss(x, y, reduction=reduction),
             lambda x, y: TF.mse_loss(x, y, reduction=reduction), [a, b], dtype, rng)


def test_unbatched_input(torch, rng):
    import torch.nn.functional as TF

    logits = rng.standard_normal(5)
    for reduction in ("mean", "none"):
        y = F.cross_entropy(logits, np.int64(3), reduction=reduction, label_smoothing=0.1)
        yt = TF.cross_entropy(torch.from_numpy(logits), torch.tensor(3), reduction=reduction, label_smoothing=0.1)
        assert y.shape == () and isinstance(y, np.ndarray)
        assert_close(y, yt.numpy())


def test_gradcheck_losses(rng):
    x = nc.Tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    target = np.array([[0, 2], [1, -100], [2, 2], [-100, 0]])
    w = np.array([0.5, 1.0, 2.0])
    assert gradcheck(lambda t: F.cross_entropy(t, target, w, label_smoothing=0.3), [x])
    assert gradcheck(lambda t: F.cross_entropy(t, target, reduction="none"), [x])
    assert gradcheck(lambda t: F.nll_loss(t.log_softmax(1), target, w, reduction="sum"), [x])
    p = nc.Tensor(rng.random((4, 3)), requires_grad=True)
    logits = nc.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    assert gradcheck(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.2), [logits, p])
    y = nc.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    assert gradcheck(lambda a, b: F.mse_loss(a, b), [logits, y])


def test_stable_for_huge_logits():
    x = nc.Tensor(np.array([[1e4, 0.0, -1e4], [0.0, 3e4, 0.0]], np.float32), requires_grad=True)
    loss = F.cross_entropy(x, np.array([0, 0]))
    assert np.isfinite(loss.item()) and abs(loss.item() - 1.5e4) < 1
    loss.backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_arrays_in_arrays_out_and_tensor_targets(rng):
    logits = rng.standard_normal((4, 3)).astype(np.float32)
    target = np.array([0, 1, 2, 1])
    y = F.cross_entropy(logits, target)
    assert isinstance(y, np.ndarray) and y.shape == () and y.dtype == np.float32
    yt = F.cross_entropy(nc.Tensor(logits), nc.tensor(target))
    assert isinstance(yt, nc.Tensor) and yt.item() == y.item()
    assert F.cross_entropy(logits, target.astype(np.int32)).item() == y.item()
    assert isinstance(F.mse_loss(logits, logits), np.ndarray)


def test_all_targets_ignored_gives_nan_like_torch():
    with np.errstate(invalid="ignore"):
        y = F.cross_entropy(np.zeros((2, 3), np.float32), np.array([-100, -100]))
    assert np.isnan(y)


@pytest.mark.parametrize("target, exc, match", [
    (np.array([0.0, 1.0, 2.0, 1.0], np.float32), TypeError, "target must hold integer class indices"),
    (np.array([0, 1, 2]), ValueError, r"target must have shape \(4,\)"),
    (np.array([0, 1, 3, 1]), ValueError, r"class indices \[3\] outside \[0, 3\)"),
    (np.array([0, -1, 2, 1]), ValueError, r"class indices \[-1\] outside"),
    (np.zeros((4, 3), np.float64), TypeError, "dtype"),
])
def test_bad_targets(target, exc, match):
    with pytest.raises(exc, match=match):
        F.cross_entropy(np.zeros((4, 3), np.float32), target)


def test_bad_arguments():
    x, t = np.zeros((4, 3), np.float32), np.array([0, 1, 2, 1])
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, t, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.cross_entropy(x, t, weight=np.ones(4, np.float32))
    with pytest.raises(ValueError, match="class indices"):
        F.nll_loss(x, np.array([0, 1, 5, 1]))
    with pytest.raises(TypeError, match="input must be float32 or float64"):
        F.cross_entropy(t, t)
    with pytest.raises(ValueError, match="does not broadcast"):
        F.mse_loss(x, np.zeros((2, 3), np.float32))
    with pytest.raises(TypeError, match=r"class probabilities needs input's shape \(4, 3\)"):
        F.cross_entropy(np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32))
