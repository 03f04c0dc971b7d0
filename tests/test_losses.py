"""cross_entropy, nll_loss, mse_loss, l1_loss, smooth_l1_loss, huber_loss, binary_cross_entropy
and binary_cross_entropy_with_logits: values and gradients against torch (class weights,
ignore_index, label_smoothing, pos_weight, every reduction, (N, C) and (N, C, d1, ...)), values
from the textbook formulas, central differences in float64, and the errors for bad targets; the
weight= of mse_loss, l1_loss and huber_loss, and PyTorch's argument order (size_average and reduce
kept in their places and refused)."""
from __future__ import annotations

import contextlib
import inspect

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F
from conftest import assert_close
from numconv import nn
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


# ----------------------------------------------------------------------------- regression and binary losses


def _regression_pair(rng, dtype):
    """Input and target with some differences exactly 0, exactly +-beta (0.5) and +-delta (1.5)."""
    a = rng.standard_normal((3, 4, 2)) * 2
    b = rng.standard_normal((3, 4, 2)) * 2
    flat_a, flat_b = a.reshape(-1), b.reshape(-1)
    for k, d in enumerate([0.0, 0.5, -0.5, 1.5, -1.5]):
        flat_b[k] = flat_a[k] - d
    return a.astype(dtype), b.astype(dtype)


REGRESSION = {
    "l1": (lambda x, y, r: F.l1_loss(x, y, reduction=r), lambda T, x, y, r: T.l1_loss(x, y, reduction=r),
           lambda d: np.abs(d)),
    "smooth_l1": (lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.5),
                  lambda T, x, y, r: T.smooth_l1_loss(x, y, reduction=r, beta=0.5),
                  lambda d: np.where(np.abs(d) < 0.5, 0.5 * d * d / 0.5, np.abs(d) - 0.25)),
    "smooth_l1_beta0": (lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.0),
                        lambda T, x, y, r: T.smooth_l1_loss(x, y, reduction=r, beta=0.0), lambda d: np.abs(d)),
    "huber": (lambda x, y, r: F.huber_loss(x, y, r, delta=1.5),
              lambda T, x, y, r: T.huber_loss(x, y, reduction=r, delta=1.5),
              lambda d: np.where(np.abs(d) < 1.5, 0.5 * d * d, 1.5 * (np.abs(d) - 0.75))),
}


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_losses_textbook(name, rng):
    fn, _, formula = REGRESSION[name]
    a, b = _regression_pair(rng, np.float64)
    assert_close(fn(a, b, "none"), formula(a - b), what=name)
    assert_close(fn(a, b, "sum"), formula(a - b).sum(), what=name)
    assert_close(fn(a, b, "mean"), formula(a - b).mean(), what=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", REGRESSION)
def test_regression_losses_against_torch(name, reduction, dtype, rng, torch):
    import torch.nn.functional as TF

    fn, t_fn, _ = REGRESSION[name]
    a, b = _regression_pair(rng, dtype)
    _compare(torch, lambda x, y: fn(x, y, reduction), lambda x, y: t_fn(TF, x, y, reduction), [a, b], dtype, rng)


def _probabilities(rng, shape, dtype, edges=True):
    p = rng.uniform(0.02, 0.98, size=shape)
    if edges:
        p.reshape(-1)[:2] = [0.0, 1.0]  # the clamped logarithms
    return p.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_against_torch(weighted, reduction, dtype, rng, torch):
    import torch.nn.functional as TF

    shape = (4, 3, 2)
    x = _probabilities(rng, shape, dtype)
    t = _probabilities(rng, shape, dtype, edges=False)
    w = rng.uniform(0.5, 2, size=(3, 1)).astype(dtype) if weighted else None
    tw = torch.from_numpy(w) if weighted else None
    # the target's gradient is infinite where the input is 0 or 1 (as in torch): compare it away from them
    _compare(torch, lambda a: F.binary_cross_entropy(a, t, w, reduction=reduction),
             lambda a: TF.binary_cross_entropy(a, torch.from_numpy(t), tw, reduction=reduction), [x], dtype, rng)
    x_inner = _probabilities(rng, shape, dtype, edges=False)
    _compare(torch, lambda a, b: F.binary_cross_entropy(a, b, w, reduction=reduction),
             lambda a, b: TF.binary_cross_entropy(a, b, tw, reduction=reduction), [x_inner, t], dtype, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weights", ["none", "weight", "pos_weight", "both"])
def test_binary_cross_entropy_with_logits_against_torch(weights, reduction, dtype, rng, torch):
    import torch.nn.functional as TF

    shape = (4, 3, 5)
    x = (rng.standard_normal(shape) * 6).astype(dtype)
    x.reshape(-1)[:3] = [0.0, 80.0, -80.0]  # the kink of max(-x, 0), and saturated logits
    t = _probabilities(rng, shape, dtype)
    w = rng.uniform(0.5, 2, size=(3, 1)).astype(dtype) if weights in ("weight", "both") else None
    pw = rng.uniform(0.5, 3, size=5).astype(dtype) if weights in ("pos_weight", "both") else None
    tw, tpw = (None if a is None else torch.from_numpy(a) for a in (w, pw))
    _compare(torch, lambda a, b: F.binary_cross_entropy_with_logits(a, b, w, reduction=reduction, pos_weight=pw),
             lambda a, b: TF.binary_cross_entropy_with_logits(a, b, tw, reduction=reduction, pos_weight=tpw),
             [x, t], dtype, rng)


def test_binary_losses_textbook_and_gradcheck(rng):
    x = rng.uniform(0.05, 0.95, size=(3, 4))
    t = rng.uniform(size=(3, 4))
    w = rng.uniform(0.5, 2, size=4)
    bce = -w * (t * np.log(x) + (1 - t) * np.log(1 - x))
    assert_close(F.binary_cross_entropy(x, t, w, reduction="none"), bce)
    z = rng.standard_normal((3, 4)) * 3
    pw = rng.uniform(0.5, 3, size=4)
    s = 1 / (1 + np.exp(-z))
    assert_close(F.binary_cross_entropy_with_logits(z, t, w, reduction="none", pos_weight=pw),
                 -w * (pw * t * np.log(s) + (1 - t) * np.log(1 - s)))
    xs, ts, zs = (nc.Tensor(a, requires_grad=True) for a in (x, t, z))
    assert gradcheck(lambda a, b: F.binary_cross_entropy(a, b, w), [xs, ts])
    assert gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, w, pos_weight=pw), [zs, ts])
    a, b = _regression_pair(rng, np.float64)
    d = np.abs(a - b)
    b = np.where((np.abs(d - 0.5) < 1e-3) | (np.abs(d - 1.5) < 1e-3) | (d < 1e-3), b + 0.01, b)  # off the kinks
    for fn in (F.l1_loss, lambda p, q: F.smooth_l1_loss(p, q, beta=0.5), lambda p, q: F.huber_loss(p, q, delta=1.5)):
        assert gradcheck(fn, [nc.Tensor(a, requires_grad=True), nc.Tensor(b, requires_grad=True)])


def test_loss_modules_against_torch(rng, torch):
    x = (rng.standard_normal((4, 3)) * 3).astype(np.float32)
    t = rng.uniform(size=(4, 3)).astype(np.float32)
    w, pw = rng.uniform(0.5, 2, size=3).astype(np.float32), rng.uniform(0.5, 2, size=3).astype(np.float32)
    p = 1 / (1 + np.exp(-x))
    pairs = [
        (nn.L1Loss(reduction="sum"), torch.nn.L1Loss(reduction="sum"), x, t),
        (nn.SmoothL1Loss(beta=0.3), torch.nn.SmoothL1Loss(beta=0.3), x, t),
        (nn.HuberLoss(delta=0.7), torch.nn.HuberLoss(delta=0.7), x, t),
        (nn.BCELoss(weight=w), torch.nn.BCELoss(weight=torch.from_numpy(w)), p, t),
        (nn.BCEWithLogitsLoss(weight=w, pos_weight=pw),
         torch.nn.BCEWithLogitsLoss(weight=torch.from_numpy(w), pos_weight=torch.from_numpy(pw)), x, t),
    ]
    for ours, theirs, a, b in pairs:
        assert_close(ours(nc.Tensor(a), nc.Tensor(b)).numpy(), theirs(torch.from_numpy(a), torch.from_numpy(b)).numpy(),
                     np.float32, what=type(ours).__name__)
        assert sorted(ours.state_dict()) == sorted(theirs.state_dict())


def test_binary_and_regression_loss_errors():
    x = np.full((2, 3), 0.5, np.float32)
    with pytest.raises(ValueError, match=r"input must hold probabilities in \[0, 1\], got values from 0.5 to 1.5"):
        F.binary_cross_entropy(np.array([[0.5, 1.5]], np.float32), np.zeros((1, 2), np.float32))
    with pytest.raises(ValueError, match="probabilities"):
        F.binary_cross_entropy(np.array([np.nan, 0.5], np.float32), np.zeros(2, np.float32))
    with pytest.raises(ValueError, match=r"target must have input's shape \(2, 3\), got \(3,\)"):
        F.binary_cross_entropy_with_logits(x, np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="target must be a float array"):
        F.binary_cross_entropy(x, np.zeros((2, 3), np.int64))
    with pytest.raises(ValueError, match=r"pos_weight of shape \(2,\) does not broadcast to input's shape \(2, 3\)"):
        F.binary_cross_entropy_with_logits(x, x, pos_weight=np.ones(2, np.float32))
    with pytest.raises(ValueError, match="weight requires grad"):
        F.binary_cross_entropy(x, x, weight=nc.Tensor(np.ones(3, np.float32), requires_grad=True))
    with pytest.raises(TypeError, match="float32|float64"):
        F.binary_cross_entropy_with_logits(x, x, weight=np.ones(3, np.float64))
    with pytest.raises(ValueError, match=r"beta must be in \[0.0, inf\)"):
        F.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(ValueError, match=r"delta must be in \(0.0, inf\)"):
        F.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match="does not broadcast"):
        F.l1_loss(x, np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="reduction"):
        nn.HuberLoss(reduction="max")


# ----------------------------------------------------------------------------- found by the losses review

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_an_ignored_row_with_an_infinite_logit_does_not_make_the_loss_nan(reduction, label_smoothing, torch):
    """An ignored target was replaced by class 0 and weighted 0: -(-inf) * 0 = NaN spread to the loss."""
    x = np.array([[-np.inf, 1.0, 2.0], [0.5, -1.0, 0.3], [0.2, np.inf, -0.4]])
    t = np.array([-100, 2, -100])
    ours = nc.Tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    with np.errstate(invalid="ignore"):  # the +inf row's log_softmax: inf - inf (NaN in torch too; ignored)
        a = F.cross_entropy(ours, nc.Tensor(t), reduction=reduction, label_smoothing=label_smoothing)
        a.sum().backward()
    b = torch.nn.functional.cross_entropy(theirs, torch.tensor(t), reduction=reduction, label_smoothing=label_smoothing)
    np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-14)
    b.sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-14)
    logp = np.array([[-np.inf, -1.0, -2.0], [-0.5, -1.0, -0.3]])
    np.testing.assert_allclose(F.nll_loss(nc.Tensor(logp), nc.Tensor(np.array([-100, 2]))).numpy(), 0.3)


@pytest.mark.parametrize("name, kw", [("smooth_l1_loss", dict(beta=0.7)), ("huber_loss", dict(delta=0.7)),
                                      ("smooth_l1_loss", dict(beta=2.0))])
def test_smooth_l1_and_huber_gradients_keep_a_nan_as_torch(name, kw, rng, torch):
    x = np.concatenate([[np.nan, 0.0, 0.7, -0.7], rng.standard_normal(8) * 2])
    y = rng.standard_normal(12) * 0.1
    y[:4] = 0.0
    ours, theirs = nc.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    a = getattr(F, name)(ours, nc.Tensor(y), reduction="none", **kw)
    b = getattr(torch.nn.functional, name)(theirs, torch.tensor(y), reduction="none", **kw)
    np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-14)
    g = rng.standard_normal(12)
    a.backward(nc.Tensor(g))
    b.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-14)
    assert np.isnan(ours.grad.numpy()[0])
    assert gradcheck(lambda v: getattr(F, name)(v, nc.Tensor(y[4:]), **kw), [nc.Tensor(x[4:], requires_grad=True)])


def test_a_class_weight_that_requires_grad_is_refused_not_dropped(rng):
    w = nc.Tensor(np.ones(3), requires_grad=True)
    x, t = nc.Tensor(rng.standard_normal((2, 3))), nc.Tensor(np.array([0, 2]))
    for fn in (F.cross_entropy, F.nll_loss):
        with pytest.raises(ValueError, match="weight requires grad"):
            fn(x, t, weight=w)
    F.cross_entropy(x, t, weight=w.detach())


# ----------------------------------------------------------------------------- found by the second losses review


def _both(torch, nc_fn, t_fn, arrays, gy=None):
    """(loss, gradients) from numconv and from torch for float64 ``arrays`` (all differentiated), with a
    random upstream gradient ``gy`` (ones for a 0-d loss); NaN and inf kept."""
    xs = [nc.Tensor(a.copy(), requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    with np.errstate(divide="ignore", invalid="ignore"):
        y = nc_fn(*xs)
        g = np.ones(y.shape) if gy is None else gy(y.shape)
        y.backward(nc.Tensor(g))
    yt = t_fn(*ts)
    yt.backward(torch.tensor(g))
    return (y.numpy(), [x.grad.numpy() for x in xs]), (yt.detach().numpy(), [t.grad.numpy() for t in ts])


def _same(ours, theirs, rtol=1e-12):
    """Values equal to ``rtol``, NaN and +-inf in the same places."""
    (y, gs), (yt, gts) = ours, theirs
    np.testing.assert_allclose(y, yt, rtol=rtol, atol=1e-14)
    for g, gt in zip(gs, gts):
        np.testing.assert_allclose(g, gt, rtol=rtol, atol=1e-14)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("case", ["weighted_0", "sum_to_0", "sum_to_0_some_ignored", "all_ignored"])
@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 2)], ids=["NC", "NCd"])
def test_mean_when_the_counted_targets_weights_sum_to_0_is_torchs(shape, case, label_smoothing, torch, rng):
    """Only 'every target ignored' is NaN with gradient 0; counted targets whose weights sum to 0 divide
    by that 0, as PyTorch: NaN or inf in the loss and in the gradient (it was a finite gradient)."""
    C = shape[1]
    x = rng.standard_normal(shape)
    t = np.zeros(shape[:1] + shape[2:], np.int64)  # every target class 0
    w = np.array([0.0, 1.0, 0.5])
    if case != "weighted_0":
        w = np.array([1.0, -1.0, 0.5])
        t.reshape(-1)[1::2] = 1  # as many targets of class 0 (weight 1) as of class 1 (weight -1)
        if case == "sum_to_0_some_ignored":
            t = np.concatenate([t, np.full_like(t, -100)])
            x = np.concatenate([x, rng.standard_normal(shape)])
    if case == "all_ignored":
        t[...] = -100
    assert C == len(w)
    for fn, t_fn in ((F.cross_entropy, torch.nn.functional.cross_entropy),
                     (F.nll_loss, torch.nn.functional.nll_loss)):
        kw = dict(label_smoothing=label_smoothing) if fn is F.cross_entropy else {}
        if fn is F.nll_loss and label_smoothing:
            continue
        ours, theirs = _both(torch, lambda a: fn(a, t, w, **kw),
                             lambda a: t_fn(a, torch.from_numpy(t), torch.from_numpy(w), **kw), [x])
        _same(ours, theirs)
        if case == "all_ignored":
            assert np.isnan(ours[0]) and not ours[1][0].any()
        else:
            assert not np.isfinite(ours[0]) and not np.isfinite(ours[1][0]).all()


def test_probability_targets_refuse_a_class_ignore_index_as_torch(torch, rng):
    x = rng.standard_normal((3, 4))
    p = rng.dirichlet(np.ones(4), size=3)
    for ignore_index in (0, 3, 7):
        with pytest.raises(ValueError, match=f"ignore_index={ignore_index} is not supported for a float target"):
            F.cross_entropy(x, p, ignore_index=ignore_index)
        with pytest.raises(RuntimeError, match="ignore_index is not supported"):
            torch.nn.functional.cross_entropy(torch.from_numpy(x), torch.from_numpy(p), ignore_index=ignore_index)
    with pytest.raises(ValueError, match="ignore_index=1"):
        nn.CrossEntropyLoss(ignore_index=1)(nc.Tensor(x), nc.Tensor(p))
    # a negative one names no class: PyTorch takes it, and so does numconv
    ours = F.cross_entropy(x, p, ignore_index=-1, label_smoothing=0.1)
    theirs = torch.nn.functional.cross_entropy(torch.from_numpy(x), torch.from_numpy(p), ignore_index=-1,
                                               label_smoothing=0.1)
    assert_close(ours, theirs.numpy())


@pytest.mark.parametrize("bad", [3.0, -0.1, 1.0 + 1e-12, np.nan, np.inf, -np.inf])
def test_binary_cross_entropy_refuses_a_target_outside_0_1_as_torch(bad, torch):
    x = np.array([0.3, 0.6, 0.5])
    t = np.array([0.2, bad, 1.0])
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        torch.nn.functional.binary_cross_entropy(torch.from_numpy(x), torch.from_numpy(t))
    with pytest.raises(ValueError, match=rf"target must hold probabilities in \[0, 1\], got values .*first outside: "
                                         rf"{np.format_float_positional(bad) if np.isfinite(bad) else bad}"):
        F.binary_cross_entropy(x, t)
    with pytest.raises(ValueError, match="target must hold probabilities"):
        nn.BCELoss()(nc.Tensor(x, requires_grad=True), nc.Tensor(t))
    for edge in (0.0, 1.0):  # the ends are probabilities
        F.binary_cross_entropy(x, np.array([0.2, edge, 1.0]))


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss", "multi_margin_loss"])
def test_uint64_class_indices_are_refused_not_wrapped(fn, torch):
    x = np.zeros((2, 3))
    t = np.array([1, 2**64 - 100], np.uint64)  # wrapped, -100: ignore_index, silently ignored
    with pytest.raises(TypeError, match="target must hold integer class indices .* got dtype uint64"):
        getattr(F, fn)(x, t)
    with pytest.raises(TypeError, match="uint64"):
        getattr(F, fn)(x, np.array([0, 1], np.uint64))
    with pytest.raises(RuntimeError, match="UInt64|Long"):
        getattr(torch.nn.functional, fn)(torch.from_numpy(x), torch.from_numpy(np.array([0, 1], np.uint64)))
    assert getattr(F, fn)(x, np.array([0, 1], np.uint8)).shape == ()  # small unsigned ones still work


@pytest.mark.parametrize("module, kw, target", [
    ("CrossEntropyLoss", dict(weight=[0.2, 0.3, 0.5]), "class"),
    ("NLLLoss", dict(weight=[0.2, 0.3, 0.5]), "class"),
    ("MultiMarginLoss", dict(weight=[0.2, 0.3, 0.5]), "class"),
    ("BCEWithLogitsLoss", dict(weight=[1.0, 0.5, 2.0], pos_weight=[2.0, 1.0, 1.0]), "binary"),
    ("BCELoss", dict(weight=[1.0, 0.5, 2.0]), "probability"),
    ("MultiLabelSoftMarginLoss", dict(weight=[1.0, 0.5, 2.0]), "binary"),
])
def test_loss_weights_given_as_lists_are_float32_and_train_a_float32_model(module, kw, target, torch, rng):
    """A list of Python floats is a float32 buffer, numconv.tensor's (and torch.tensor's) default dtype,
    so a float32 model takes it (it was float64, and a float32 input was refused)."""
    ours = getattr(nn, module)(**kw)
    for name in kw:
        assert getattr(ours, name).dtype == np.float32, name
    model = nn.Linear(4, 3)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    logits = model(nc.Tensor(x))
    t = {"class": rng.integers(0, 3, 5), "binary": (rng.random((5, 3)) < 0.5).astype(np.float32),
         "probability": rng.random((5, 3)).astype(np.float32)}[target]
    out = logits.sigmoid() if target == "probability" else logits
    loss = ours(out, nc.Tensor(t))
    assert loss.dtype == np.float32
    loss.backward()
    assert model.weight.grad.dtype == np.float32 and np.isfinite(model.weight.grad.numpy()).all()
    theirs = getattr(torch.nn, module)(**{k: torch.tensor(v) for k, v in kw.items()})
    assert_close(loss.numpy(), theirs(torch.from_numpy(out.numpy()), torch.from_numpy(t)).numpy(), np.float32)


def test_loss_weight_of_another_dtype_is_refused_and_int_lists_are_float32(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    with pytest.raises(TypeError, match="weight has dtype float64 but input has dtype float32"):
        nn.CrossEntropyLoss(weight=np.ones(3))(nc.Tensor(x), np.array([0, 1]))
    with pytest.raises(TypeError, match="pos_weight has dtype float64 but input has dtype float32"):
        nn.BCEWithLogitsLoss(pos_weight=np.ones(3))(nc.Tensor(x), nc.Tensor(np.zeros((2, 3), np.float32)))
    assert nn.BCEWithLogitsLoss(pos_weight=[2, 1, 1]).pos_weight.dtype == np.float32
    assert nn.CrossEntropyLoss(weight=np.ones(3)).weight.dtype == np.float64  # an array keeps its float dtype
    m = nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0]).double()  # and .double() converts the buffer
    assert m(nc.Tensor(x.astype(np.float64)), np.array([0, 2])).dtype == np.float64


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("target_shape", [(3, 4), (4,)], ids=["same", "broadcast"])
def test_elementwise_weight_against_torch(name, reduction, target_shape, torch, rng):
    """PyTorch 2.13's weight= (input's shape): mse and l1 'mean' divide by sum(weight), huber's is the mean
    of the weighted terms; the gradients reach input, target and weight."""
    x = rng.standard_normal((3, 4))
    y = rng.standard_normal(target_shape)
    w = rng.uniform(0.1, 2, size=(3, 4))
    kw = dict(delta=0.7) if name == "huber_loss" else {}
    fn, t_fn = getattr(F, name), getattr(torch.nn.functional, name)
    gy = lambda shape: rng.standard_normal(shape)  # noqa: E731
    with pytest.warns(UserWarning) if target_shape != (3, 4) else contextlib.nullcontext():  # torch's: broadcasting
        ours, theirs = _both(torch, lambda a, b, c: fn(a, b, reduction=reduction, weight=c, **kw),
                             lambda a, b, c: t_fn(a, b, reduction=reduction, weight=c, **kw), [x, y, w], gy)
    _same(ours, theirs)
    if reduction == "mean" and name == "mse_loss" and target_shape == (3, 4):
        assert_close(ours[0], ((x - y) ** 2 * w).sum() / w.sum())
    assert F.mse_loss(np.array([1.0, 2.0]), np.zeros(2), weight=np.array([2.0, 3.0])) == 2.8  # the review's example


def test_elementwise_weight_errors():
    x = np.zeros((2, 3))
    for fn in (F.mse_loss, F.l1_loss, F.huber_loss):
        with pytest.raises(ValueError, match=r"weight must have input's shape \(2, 3\).*got \(3,\)"):
            fn(x, x, weight=np.ones(3))
        with pytest.raises(TypeError, match="weight has dtype float32 but input has dtype float64"):
            fn(x, x, weight=np.ones((2, 3), np.float32))
        with pytest.raises(TypeError, match="weight must be float32 or float64"):
            fn(x, x, weight=np.ones((2, 3), np.int64))


_LEGACY = {  # every loss with PyTorch's size_average/reduce slots: the position of size_average
    "cross_entropy": 3, "nll_loss": 3, "mse_loss": 2, "l1_loss": 2, "smooth_l1_loss": 2, "kl_div": 2,
    "binary_cross_entropy": 3, "binary_cross_entropy_with_logits": 3, "soft_margin_loss": 2,
    "multilabel_soft_margin_loss": 3, "margin_ranking_loss": 4, "hinge_embedding_loss": 3,
    "cosine_embedding_loss": 4, "triplet_margin_loss": 7, "poisson_nll_loss": 4, "multi_margin_loss": 5,
}
_F_LOSSES = sorted(_LEGACY) + ["huber_loss", "gaussian_nll_loss"]
_MODULES = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss",
            "BCEWithLogitsLoss", "KLDivLoss", "SoftMarginLoss", "MultiLabelSoftMarginLoss", "MarginRankingLoss",
            "HingeEmbeddingLoss", "CosineEmbeddingLoss", "TripletMarginLoss", "PoissonNLLLoss", "GaussianNLLLoss",
            "MultiMarginLoss"]


def _params(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", _F_LOSSES)
def test_functional_loss_signatures_are_torchs(name, torch):
    """Names, order, kinds and defaults: a torch-style positional call lands on the same argument."""
    assert _params(getattr(F, name)) == _params(getattr(torch.nn.functional, name))
    assert name in F.__all__


@pytest.mark.parametrize("name", _MODULES)
def test_loss_module_signatures_are_torchs(name, torch):
    ours, theirs = getattr(nn, name), getattr(torch.nn, name)
    assert _params(ours.__init__) == _params(theirs.__init__)
    assert [p[0] for p in _params(ours.forward)] == [p[0] for p in _params(theirs.forward)]
    assert name in nn.__all__


@pytest.mark.parametrize("name", sorted(_LEGACY))
def test_size_average_and_reduce_are_refused_with_the_way_out(name):
    fn = getattr(F, name)
    for kw in (dict(size_average=False), dict(reduce=False), dict(size_average=True, reduce=True)):
        with pytest.raises(ValueError, match=r"deprecated in PyTorch and not supported by numconv; pass "
                                             r"reduction='mean'\|'sum'\|'none'"):
            fn(*([None] * _LEGACY[name]), **kw)  # refused before anything else is looked at
    with pytest.raises(ValueError, match=r"size_average='sum'.*by keyword"):  # numconv's old positional order
        fn(*([None] * _LEGACY[name]), "sum")


@pytest.mark.parametrize("name", [m for m in _MODULES if m not in ("HuberLoss", "GaussianNLLLoss")])
def test_loss_modules_refuse_size_average_and_reduce(name):
    for kw in (dict(size_average=False), dict(reduce=False)):
        with pytest.raises(ValueError, match="deprecated in PyTorch.*pass reduction="):
            getattr(nn, name)(**kw)


def test_kl_div_names_batchmean_and_huber_has_no_size_average():
    with pytest.raises(ValueError, match=r"reduction='mean'\|'sum'\|'none'\|'batchmean'"):
        nn.KLDivLoss(reduce=False)
    with pytest.raises(ValueError, match="'batchmean'"):
        F.kl_div(np.zeros(2), np.zeros(2), "batchmean")  # numconv's old positional order: now size_average
    with pytest.raises(TypeError, match="size_average"):
        nn.HuberLoss(size_average=False)  # as PyTorch's, which has no such parameter
    with pytest.raises(TypeError, match="size_average"):
        F.huber_loss(np.zeros(2), np.zeros(2), size_average=False)


def test_torch_positional_calls_land_where_they_do_in_torch(torch, rng):
    x = rng.standard_normal((4, 3))
    t = np.array([0, 1, 2, 1])
    w = rng.uniform(0.5, 2, size=3)
    T = torch.from_numpy
    TF = torch.nn.functional
    assert_close(F.cross_entropy(x, t, w, None, 1, None, "sum", 0.1),
                 TF.cross_entropy(T(x), T(t), T(w), None, 1, None, "sum", 0.1).numpy())
    assert_close(F.nll_loss(x, t, w, None, 2, None, "none"),
                 TF.nll_loss(T(x), T(t), T(w), None, 2, None, "none").numpy())
    assert_close(F.mse_loss(x, x * 0.5, None, None, "sum"), TF.mse_loss(T(x), T(x * 0.5), None, None, "sum").numpy())
    assert_close(F.smooth_l1_loss(x, x * 0.5, None, None, "none", 0.3),
                 TF.smooth_l1_loss(T(x), T(x * 0.5), None, None, "none", 0.3).numpy())
    assert_close(F.huber_loss(x, x * 0.5, "sum", 0.3), TF.huber_loss(T(x), T(x * 0.5), "sum", 0.3).numpy())
    for ours, theirs in ((nn.CrossEntropyLoss(w, None, 1), torch.nn.CrossEntropyLoss(T(w), None, 1)),
                         (nn.NLLLoss(w, None, 2, None, "sum"), torch.nn.NLLLoss(T(w), None, 2, None, "sum")),
                         (nn.CrossEntropyLoss(w, None, -100, None, "none", 0.2),
                          torch.nn.CrossEntropyLoss(T(w), None, -100, None, "none", 0.2))):
        assert (ours.ignore_index, ours.reduction) == (theirs.ignore_index, theirs.reduction)
        assert_close(ours(x, t), theirs(T(x), T(t)).numpy())
    with pytest.raises(ValueError, match="size_average=5"):  # torch reads 5 as size_average, not ignore_index
        nn.CrossEntropyLoss(w, 5)


def test_huber_delta_and_smooth_l1_beta_keep_the_value_given(torch):
    for ours, theirs, attr in ((nn.HuberLoss(delta=2), torch.nn.HuberLoss(delta=2), "delta"),
                               (nn.SmoothL1Loss(beta=1), torch.nn.SmoothL1Loss(beta=1), "beta"),
                               (nn.HuberLoss("sum", 0.5), torch.nn.HuberLoss("sum", 0.5), "delta")):
        assert repr(getattr(ours, attr)) == repr(getattr(theirs, attr))
    x = np.array([0.5, 3.0])
    assert_close(nn.HuberLoss(delta=2)(nc.Tensor(x), nc.Tensor(np.zeros(2))).numpy(),
                 torch.nn.HuberLoss(delta=2)(torch.from_numpy(x), torch.zeros(2, dtype=torch.float64)).numpy())
    with pytest.raises(ValueError, match=r"delta must be in \(0.0, inf\), got 0"):
        nn.HuberLoss(delta=0)
    with pytest.raises(TypeError, match="beta must be a real number"):
        nn.SmoothL1Loss(beta="1")
