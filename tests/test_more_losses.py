"""soft_margin_loss, multilabel_soft_margin_loss, margin_ranking_loss, hinge_embedding_loss,
cosine_embedding_loss, triplet_margin_loss, poisson_nll_loss, gaussian_nll_loss, multi_margin_loss,
multilabel_margin_loss, triplet_margin_with_distance_loss and their nn modules: values and gradients against torch in float64 (every reduction, a random
upstream gradient) and float32, central differences in float64 (tests/reference.py), and the errors
for bad arguments."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F
import reference as R
from conftest import assert_close
from numconv import nn


def _signs(rng, shape, dtype=np.float64):
    return np.where(rng.random(shape) < 0.5, 1, -1).astype(dtype)


# Each case: rng, dtype -> (float arrays, all differentiated; ours(*xs, reduction); theirs(torch, *ts, reduction);
# whether central differences apply (False where the gradient is not the derivative: the variance clamp)).
def _soft_margin(rng, dt):
    t = _signs(rng, (3, 4), dt)
    return ([rng.standard_normal((3, 4)).astype(dt) * 2],
            lambda x, r: F.soft_margin_loss(x, t, reduction=r),
            lambda T, x, r: T.nn.functional.soft_margin_loss(x, T.from_numpy(t), reduction=r), True)


def _soft_margin_int_broadcast(rng, dt):
    t = _signs(rng, (4,), np.int64)
    return ([rng.standard_normal((3, 4)).astype(dt)],
            lambda x, r: F.soft_margin_loss(x, t, reduction=r),
            lambda T, x, r: T.nn.functional.soft_margin_loss(x, T.from_numpy(t), reduction=r), True)


def _multilabel(rng, dt):
    w = rng.uniform(0.5, 2, size=5).astype(dt)
    return ([rng.standard_normal((3, 5)).astype(dt) * 3, rng.random((3, 5)).astype(dt)],
            lambda x, y, r: F.multilabel_soft_margin_loss(x, y, w, reduction=r),
            lambda T, x, y, r: T.nn.functional.multilabel_soft_margin_loss(x, y, T.from_numpy(w), reduction=r), True)


def _multilabel_int_unbatched(rng, dt):
    t = (rng.random(5) < 0.5).astype(np.int64)
    return ([rng.standard_normal(5).astype(dt)],
            lambda x, r: F.multilabel_soft_margin_loss(x, t, reduction=r),
            lambda T, x, r: T.nn.functional.multilabel_soft_margin_loss(x, T.from_numpy(t), reduction=r), True)


def _multilabel_3d(rng, dt):
    w = rng.uniform(0.5, 2, size=(3, 1)).astype(dt)
    return ([rng.standard_normal((2, 3, 4)).astype(dt), rng.random(4).astype(dt)],
            lambda x, y, r: F.multilabel_soft_margin_loss(x, y, w, reduction=r),
            lambda T, x, y, r: T.nn.functional.multilabel_soft_margin_loss(x, y, T.from_numpy(w), reduction=r), True)


def _ranking(rng, dt):
    xs = [rng.standard_normal(6), rng.standard_normal(6), rng.uniform(-1.5, 1.5, 6)]  # a real-valued target too
    return ([a.astype(dt) for a in xs],
            lambda a, b, t, r: F.margin_ranking_loss(a, b, t, margin=0.3, reduction=r),
            lambda T, a, b, t, r: T.nn.functional.margin_ranking_loss(a, b, t, margin=0.3, reduction=r), True)


def _ranking_broadcast_int(rng, dt):
    t = _signs(rng, (3, 1), np.int64)
    return ([rng.standard_normal((3, 4)).astype(dt), rng.standard_normal((1, 4)).astype(dt)],
            lambda a, b, r: F.margin_ranking_loss(a, b, t, 0.5, reduction=r),
            lambda T, a, b, r: T.nn.functional.margin_ranking_loss(a, b, T.from_numpy(t), 0.5, reduction=r), True)


def _hinge(rng, dt):
    t = _signs(rng, (3, 4), dt)
    t[0, :2] = [0.0, 2.0]  # neither 1 nor -1: both terms, as PyTorch
    return ([rng.standard_normal((3, 4)).astype(dt)],
            lambda x, r: F.hinge_embedding_loss(x, t, margin=0.7, reduction=r),
            lambda T, x, r: T.nn.functional.hinge_embedding_loss(x, T.from_numpy(t), margin=0.7, reduction=r), True)


def _hinge_int_broadcast(rng, dt):
    t = _signs(rng, (4,), np.int64)
    return ([np.abs(rng.standard_normal((3, 4))).astype(dt) * 2],
            lambda x, r: F.hinge_embedding_loss(x, t, reduction=r),
            lambda T, x, r: T.nn.functional.hinge_embedding_loss(x, T.from_numpy(t), reduction=r), True)


def _cosine(rng, dt):
    t = _signs(rng, (4,), np.int64)
    t[0] = 0  # neither: 0
    return ([rng.standard_normal((4, 5)).astype(dt), rng.standard_normal((4, 5)).astype(dt)],
            lambda a, b, r: F.cosine_embedding_loss(a, b, t, margin=-0.2, reduction=r),
            lambda T, a, b, r: T.nn.functional.cosine_embedding_loss(a, b, T.from_numpy(t), margin=-0.2, reduction=r),
            True)


def _cosine_unbatched(rng, dt):
    t = np.array(-1.0, dt)
    a = rng.standard_normal(5).astype(dt)
    return ([a, (a + 0.3 * rng.standard_normal(5)).astype(dt)],  # similar: cos > margin, the -1 term is live
            lambda a, b, r: F.cosine_embedding_loss(a, b, t, 0.1, reduction=r),
            lambda T, a, b, r: T.nn.functional.cosine_embedding_loss(a, b, T.from_numpy(t), 0.1, reduction=r), True)


def _cosine_broadcast(rng, dt):
    t = np.array([1.0, -1.0, 1.0], dt)
    return ([rng.standard_normal((3, 4)).astype(dt), rng.standard_normal((1, 4)).astype(dt)],
            lambda a, b, r: F.cosine_embedding_loss(a, b, t, -0.5, reduction=r),
            lambda T, a, b, r: T.nn.functional.cosine_embedding_loss(a, b, T.from_numpy(t), -0.5, reduction=r), True)


def _triplet(p, swap, shape=(4, 5)):
    def case(rng, dt):
        xs = [rng.standard_normal(shape).astype(dt) for _ in range(3)]
        kw = dict(margin=2.5, p=p, swap=swap)
        return (xs, lambda a, b, c, r: F.triplet_margin_loss(a, b, c, reduction=r, **kw),
                lambda T, a, b, c, r: T.nn.functional.triplet_margin_loss(a, b, c, reduction=r, **kw), True)
    return case


def _poisson(log_input, full, edges=False):
    def case(rng, dt):
        x = rng.standard_normal((3, 4)) if log_input else rng.uniform(0.2, 3, (3, 4))
        t = rng.uniform(0, 6, (3, 4)) if not full else rng.uniform(1.2, 6, (3, 4))
        if edges:  # Stirling's mask at 1 (a step: no central differences), and at 0 (the target's gradient
            t.reshape(-1)[:4] = [0.0, 1.0, 2.0, 0.5]  # there is NaN, 0 * log 0, as PyTorch's)
        return ([x.astype(dt), t.astype(dt)],
                lambda a, b, r: F.poisson_nll_loss(a, b, log_input, full, reduction=r),
                lambda T, a, b, r: T.nn.functional.poisson_nll_loss(a, b, log_input, full, reduction=r), not edges)
    return case


def _poisson_int_counts(rng, dt):
    """Integer counts are the input's dtype in numconv (PyTorch's log of an int64 tensor is float32, which
    would make its float64 Stirling term float32's): compared with PyTorch given the counts as floats."""
    t = rng.integers(0, 6, (2, 3))
    return ([rng.standard_normal((2, 3)).astype(dt)],
            lambda a, r: F.poisson_nll_loss(a, t, full=True, eps=1e-6, reduction=r),
            lambda T, a, r: T.nn.functional.poisson_nll_loss(a, T.from_numpy(t.astype(dt)), full=True, eps=1e-6,
                                                             reduction=r),
            True)


def _gaussian(var_shape, full, clamped=False):
    def case(rng, dt):
        v = rng.uniform(0.2, 2, var_shape)
        if clamped:
            v.reshape(-1)[0] = 1e-9  # below eps: clamped, its gradient passed through as PyTorch's
        return ([rng.standard_normal((3, 4)).astype(dt), rng.standard_normal((3, 4)).astype(dt), v.astype(dt)],
                lambda a, b, c, r: F.gaussian_nll_loss(a, b, c, full=full, reduction=r),
                lambda T, a, b, c, r: T.nn.functional.gaussian_nll_loss(a, b, c, full=full, reduction=r), not clamped)
    return case


def _gaussian_number_var(rng, dt):
    return ([rng.standard_normal((3, 4)).astype(dt), rng.standard_normal(4).astype(dt)],
            lambda a, b, r: F.gaussian_nll_loss(a, b, 0.7, eps=1e-3, reduction=r),
            lambda T, a, b, r: T.nn.functional.gaussian_nll_loss(a, b, 0.7, eps=1e-3, reduction=r), True)


def _multi_margin(p, weighted):
    def case(rng, dt):
        t = rng.integers(0, 5, 4)
        w = rng.uniform(0.5, 2, 5).astype(dt) if weighted else None
        return ([rng.standard_normal((4, 5)).astype(dt)],
                lambda x, r: F.multi_margin_loss(x, t, p, 0.8, w, reduction=r),
                lambda T, x, r: T.nn.functional.multi_margin_loss(x, T.from_numpy(t), p, 0.8,
                                                                  None if w is None else T.from_numpy(w), reduction=r),
                True)
    return case


def _multi_margin_unbatched(rng, dt):
    return ([rng.standard_normal(5).astype(dt)],
            lambda x, r: F.multi_margin_loss(x, np.int64(2), margin=1.5, reduction=r),
            lambda T, x, r: T.nn.functional.multi_margin_loss(x, T.tensor(2), margin=1.5, reduction=r), True)


def _label_lists(rng, n, c):
    """Multi-label targets (n, c): each row some classes (repeats allowed), then -1, then anything."""
    t = rng.integers(0, c, (n, c))
    for row, k in zip(t, rng.integers(0, c + 1, n)):
        if k < c:
            row[k] = -1
    return t


def _multilabel_margin(shape):
    def case(rng, dt):
        t = _label_lists(rng, shape[0] if len(shape) == 2 else 1, shape[-1]).reshape(shape)
        return ([rng.standard_normal(shape).astype(dt)],
                lambda x, r: F.multilabel_margin_loss(x, t, reduction=r),
                lambda T, x, r: T.nn.functional.multilabel_margin_loss(x, T.from_numpy(t), reduction=r), True)
    return case


def _triplet_distance(swap, custom):
    def case(rng, dt):
        d = (lambda a, b: (a - b).abs().sum(-1) + ((a * b).sum(-1)) ** 2) if custom else None
        return ([rng.standard_normal((5, 4)).astype(dt) for _ in range(3)],
                lambda a, p, n, r: F.triplet_margin_with_distance_loss(a, p, n, distance_function=d, margin=1.5,
                                                                      swap=swap, reduction=r),
                lambda T, a, p, n, r: T.nn.functional.triplet_margin_with_distance_loss(
                    a, p, n, distance_function=d, margin=1.5, swap=swap, reduction=r), True)
    return case


CASES = {
    "multilabel_margin": _multilabel_margin((4, 5)), "multilabel_margin_unbatched": _multilabel_margin((6,)),
    "triplet_distance": _triplet_distance(False, False), "triplet_distance_custom_swap": _triplet_distance(True, True),
    "soft_margin": _soft_margin, "soft_margin_int_broadcast": _soft_margin_int_broadcast,
    "multilabel": _multilabel, "multilabel_int_unbatched": _multilabel_int_unbatched, "multilabel_3d": _multilabel_3d,
    "ranking": _ranking, "ranking_broadcast_int": _ranking_broadcast_int,
    "hinge": _hinge, "hinge_int_broadcast": _hinge_int_broadcast,
    "cosine": _cosine, "cosine_unbatched": _cosine_unbatched, "cosine_broadcast": _cosine_broadcast,
    "triplet_p2": _triplet(2, False), "triplet_p2_swap": _triplet(2, True), "triplet_p1": _triplet(1, False),
    "triplet_p3_swap": _triplet(3.0, True), "triplet_p1.5": _triplet(1.5, False),
    "triplet_pinf": _triplet(float("inf"), True), "triplet_unbatched": _triplet(2, True, (6,)),
    "poisson_log": _poisson(True, False), "poisson_log_full": _poisson(True, True),
    "poisson_rate": _poisson(False, False), "poisson_rate_full": _poisson(False, True),
    "poisson_log_full_edges": _poisson(True, True, edges=True), "poisson_rate_full_edges": _poisson(False, True, True),
    "poisson_int_counts": _poisson_int_counts,
    "gaussian": _gaussian((3, 4), False), "gaussian_full_per_sample": _gaussian((3,), True),
    "gaussian_shared_column": _gaussian((3, 1), False), "gaussian_shared_row": _gaussian((1, 4), True),
    "gaussian_clamped": _gaussian((3, 4), False, clamped=True), "gaussian_number_var": _gaussian_number_var,
    "multi_margin_p1": _multi_margin(1, False), "multi_margin_p2_weighted": _multi_margin(2, True),
    "multi_margin_p1_weighted": _multi_margin(1, True), "multi_margin_unbatched": _multi_margin_unbatched,
}


def _run(torch, case, dtype, reduction, rng):
    arrays, ours, theirs, fd = CASES[case](rng, dtype)
    xs = [nc.Tensor(a.copy(), requires_grad=True) for a in arrays]
    with np.errstate(divide="ignore", invalid="ignore"):  # the edge cases' NaN, as PyTorch's
        y = ours(*xs, reduction)
        gy = rng.standard_normal(y.shape).astype(dtype)
        y.backward(nc.Tensor(gy))
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    yt = theirs(torch, *ts, reduction)
    yt.backward(torch.from_numpy(gy))
    return arrays, ours, y, xs, yt, ts, gy, fd


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", CASES)
def test_against_torch_float64(case, reduction, torch, rng):
    _, _, y, xs, yt, ts, _, _ = _run(torch, case, np.float64, reduction, rng)
    assert y.dtype == np.float64 and y.shape == tuple(yt.shape)
    assert_close(y.numpy(), yt.detach().numpy(), what="loss")
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert_close(x.grad.numpy(), t.grad.numpy(), what=f"gradient of input {i}", equal_nan=True)


@pytest.mark.parametrize("case", CASES)
def test_against_torch_float32(case, torch, rng):
    _, _, y, xs, yt, ts, _, _ = _run(torch, case, np.float32, "none", rng)
    assert y.dtype == np.float32
    assert_close(y.numpy(), yt.detach().numpy(), np.float32, what="loss")
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert x.grad.dtype == np.float32
        assert_close(x.grad.numpy(), t.grad.numpy(), np.float32, what=f"gradient of input {i}", equal_nan=True)


# not where the gradient is not the derivative, as PyTorch's: a clamp passing it through, a step
_FD_CASES = [c for c, make in CASES.items() if make(np.random.default_rng(0), np.float64)[3]]


@pytest.mark.parametrize("case", _FD_CASES)
def test_gradients_against_central_differences(case, torch, rng):
    arrays, ours, y, xs, _, _, gy, _ = _run(torch, case, np.float64, "none", rng)
    for i in range(len(arrays)):
        def f(a, i=i):
            args = list(arrays)
            args[i] = a
            return ours(*args, "none")
        assert_close(xs[i].grad.numpy(), R.numerical_grad(f, arrays[i], gy), kind="fd", what=f"input {i}")


# ----------------------------------------------------------------------------- behaviours of their own


def test_soft_margin_loss_stays_finite_where_torchs_overflows(torch):
    x = np.array([-800.0, 800.0, 0.0])
    t = np.array([1.0, -1.0, 1.0])
    xs = nc.Tensor(x, requires_grad=True)
    loss = F.soft_margin_loss(xs, t, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [800.0, 800.0, np.log(2.0)], rtol=1e-15)
    loss.sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), [-1.0, 1.0, -0.5], rtol=1e-15)
    theirs = torch.nn.functional.soft_margin_loss(torch.from_numpy(x), torch.from_numpy(t), reduction="none")
    assert np.isinf(theirs.numpy()[:2]).all()  # log1p(exp(800)): numconv's softplus keeps the value


def test_gaussian_variance_clamp_passes_the_gradient_through(torch):
    var = nc.Tensor(np.array([1e-9, 0.5]), requires_grad=True)
    F.gaussian_nll_loss(nc.Tensor(np.array([0.1, 0.2])), nc.Tensor(np.zeros(2)), var, reduction="sum").backward()
    v = np.array([1e-6, 0.5])  # as clamped: d/dv 0.5 (log v + d^2 / v) at the clamped value
    np.testing.assert_allclose(var.grad.numpy(), 0.5 * (1 / v - np.array([0.01, 0.04]) / v**2), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:Mean of empty slice")
def test_multi_margin_loss_of_no_samples():
    """The mean over no samples is NaN, as every other mean (PyTorch 2.13's CPU kernel returns whatever its
    output's memory held: 0, or 6.9e-310)."""
    x, t = np.zeros((0, 3)), np.zeros(0, np.int64)
    with np.errstate(invalid="ignore"):
        assert np.isnan(F.multi_margin_loss(x, t))
    assert F.multi_margin_loss(x, t, reduction="sum") == 0.0
    assert F.multi_margin_loss(x, t, reduction="none").shape == (0,)


def test_poisson_full_adds_stirling_only_above_1():
    x = np.array([0.3, -0.2, 0.1, 0.4])
    t = np.array([0.0, 1.0, 2.0, 5.0])
    base = np.exp(x) - t * x
    stirling = np.where(t > 1, t * np.log(np.maximum(t, 1)) - t + 0.5 * np.log(2 * np.pi * np.maximum(t, 1)), 0.0)
    assert_close(F.poisson_nll_loss(x, t, full=True, reduction="none"), base + stirling)


def test_arrays_in_arrays_out():
    x, t = np.zeros((2, 3), np.float32), np.array([1, 0])
    for y in (F.soft_margin_loss(x, x), F.multilabel_soft_margin_loss(x, x), F.multi_margin_loss(x, t),
              F.triplet_margin_loss(x, x, x), F.gaussian_nll_loss(x, x, x + 1), F.poisson_nll_loss(x, x),
              F.cosine_embedding_loss(x, x, np.ones(2, np.float32)), F.hinge_embedding_loss(x, x),
              F.margin_ranking_loss(x, x, x)):
        assert isinstance(y, np.ndarray) and y.shape == () and y.dtype == np.float32


# ----------------------------------------------------------------------------- nn modules


def _module_pairs(torch, rng):
    """(ours, theirs, float64 arguments) for every new module with non-default settings."""
    x, y, z = (rng.standard_normal((4, 3)) for _ in range(3))
    w = rng.uniform(0.5, 2, 3)
    T = torch.from_numpy
    s = _signs(rng, (4, 3))
    t = rng.integers(0, 3, 4)
    return [
        (nn.SoftMarginLoss(reduction="sum"), torch.nn.SoftMarginLoss(reduction="sum"), (x, s)),
        (nn.MultiLabelSoftMarginLoss(w), torch.nn.MultiLabelSoftMarginLoss(T(w)), (x, (s > 0).astype(np.float64))),
        (nn.MarginRankingLoss(0.4, reduction="none"), torch.nn.MarginRankingLoss(0.4, reduction="none"),
         (x[:, 0], y[:, 0], s[:, 0])),
        (nn.HingeEmbeddingLoss(0.5), torch.nn.HingeEmbeddingLoss(0.5), (x, s)),
        (nn.CosineEmbeddingLoss(0.1), torch.nn.CosineEmbeddingLoss(0.1), (x, y, s[:, 0])),
        (nn.TripletMarginLoss(2.0, 1.0, 1e-5, True), torch.nn.TripletMarginLoss(2.0, 1.0, 1e-5, True), (x, y, z)),
        (nn.PoissonNLLLoss(False, True, eps=1e-4), torch.nn.PoissonNLLLoss(False, True, eps=1e-4),
         (np.abs(x) + 0.1, np.abs(np.round(y * 3)))),
        (nn.GaussianNLLLoss(full=True, eps=1e-3), torch.nn.GaussianNLLLoss(full=True, eps=1e-3), (x, y, np.abs(z))),
        (nn.MultiMarginLoss(2, 0.7, w), torch.nn.MultiMarginLoss(2, 0.7, T(w)), (x, t)),
        (nn.MultiLabelMarginLoss(reduction="sum"), torch.nn.MultiLabelMarginLoss(reduction="sum"),
         (x, _label_lists(rng, 4, 3))),
        (nn.TripletMarginWithDistanceLoss(distance_function=lambda a, b: (a - b).abs().amax(-1), margin=0.5, swap=True),
         torch.nn.TripletMarginWithDistanceLoss(distance_function=lambda a, b: (a - b).abs().amax(-1), margin=0.5,
                                                swap=True), (x, y, z)),
    ]


def test_modules_against_torch(torch, rng):
    for ours, theirs, args in _module_pairs(torch, rng):
        what = type(ours).__name__
        assert repr(ours) == repr(theirs), what
        assert sorted(ours.state_dict()) == sorted(theirs.state_dict()), what
        for attr in ("reduction", "margin", "p", "eps", "swap", "log_input", "full"):
            if hasattr(theirs, attr):
                assert repr(getattr(ours, attr)) == repr(getattr(theirs, attr)), (what, attr)
        xs = [nc.Tensor(a.copy(), requires_grad=a.dtype.kind == "f" and i == 0) for i, a in enumerate(args)]
        ts = [torch.tensor(a, requires_grad=a.dtype.kind == "f" and i == 0) for i, a in enumerate(args)]
        y, yt = ours(*xs), theirs(*ts)
        y.sum().backward()
        yt.sum().backward()
        assert_close(y.numpy(), yt.detach().numpy(), what=what)
        assert_close(xs[0].grad.numpy(), ts[0].grad.numpy(), what=what)


def test_module_weight_lists_and_double():
    m = nn.MultiMarginLoss(weight=[1.0, 2.0, 0.5])
    assert m.weight.dtype == np.float32 and m(nc.randn(2, 3), np.array([0, 2])).dtype == np.float32
    m = nn.MultiLabelSoftMarginLoss(weight=[1.0, 2.0, 0.5]).double()
    assert m(nc.Tensor(np.zeros((2, 3))), np.ones((2, 3))).dtype == np.float64


# ----------------------------------------------------------------------------- errors


def _a(*shape, dtype=np.float64):
    return np.zeros(shape, dtype)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: F.soft_margin_loss(_a(2, 3), _a(3, 2)), ValueError, r"input of shape \(2, 3\), target of shape \(3, 2\) "
                                                                 "do not broadcast"),
    (lambda: F.soft_margin_loss(_a(2, 3), _a(2, 3, dtype=np.float32)), TypeError, "target has dtype float32"),
    (lambda: F.soft_margin_loss(_a(2, 3), nc.Tensor(_a(2, 3), requires_grad=True)), ValueError,
     "target requires grad.*detach"),
    (lambda: F.soft_margin_loss(_a(2, 3), np.array([["a"] * 3] * 2)), TypeError, "target must be a float or integer"),
    (lambda: F.soft_margin_loss(_a(2, 3, dtype=np.int64), _a(2, 3)), TypeError, "input must be float32 or float64"),
    (lambda: F.soft_margin_loss(_a(2), _a(2), reduction="avg"), ValueError, "reduction must be one of"),
    (lambda: F.multilabel_soft_margin_loss(_a(), _a()), ValueError, "0-d"),
    (lambda: F.multilabel_soft_margin_loss(_a(2, 3), _a(2, 3), np.ones(2)), ValueError,
     r"weight of shape \(2,\) does not broadcast to input's shape \(2, 3\)"),
    (lambda: F.multilabel_soft_margin_loss(_a(2, 3), _a(3, 3)), ValueError, "target of shape"),
    (lambda: F.multilabel_soft_margin_loss(_a(2, 3), _a(2, 3), np.ones(3, np.float32)), TypeError,
     "weight has dtype float32"),
    (lambda: F.margin_ranking_loss(_a(3), _a(3), _a(3), margin="1"), TypeError, "margin must be a real number"),
    (lambda: F.margin_ranking_loss(_a(3), _a(3), _a(3), margin=np.nan), ValueError, "margin must be finite"),
    (lambda: F.margin_ranking_loss(_a(2, 3), _a(3), _a(3)), ValueError,
     r"input1, input2, target must have the same number of dimensions .* \(2, 3\), \(3,\), \(3,\)"),
    (lambda: F.margin_ranking_loss(_a(3), _a(4), _a(3)), ValueError, "do not broadcast"),
    (lambda: F.margin_ranking_loss(_a(3), _a(3, dtype=np.float32), _a(3)), TypeError, "input2 has dtype float32"),
    (lambda: F.hinge_embedding_loss(_a(2, 3), _a(4)), ValueError, "do not broadcast"),
    (lambda: F.hinge_embedding_loss(_a(2, 3), _a(3), margin=None), TypeError, "margin"),
    (lambda: F.cosine_embedding_loss(_a(2, 3), _a(2, 3), _a(2, 1)), ValueError, r"target must be 0-d or 1-d"),
    (lambda: F.cosine_embedding_loss(_a(2, 3, 4), _a(2, 3, 4), _a(2)), ValueError,
     r"a target of shape \(2,\) needs 2-d input1 and input2"),
    (lambda: F.cosine_embedding_loss(_a(2, 3), _a(2, 4), _a(2)), ValueError, "do not broadcast"),
    (lambda: F.cosine_embedding_loss(_a(2, 3), _a(2, 3), _a(3)), ValueError, r"cosine of shape \(2,\), target of"),
    (lambda: F.triplet_margin_loss(_a(2, 3), _a(2, 3), _a(2, 3), margin=0), ValueError,
     r"margin must be in \(0.0, inf\)"),
    (lambda: F.triplet_margin_loss(_a(2, 3), _a(2, 3), _a(2, 3), p=0), ValueError, r"p must be in \(0.0, inf\)"),
    (lambda: F.triplet_margin_loss(_a(2, 3), _a(2, 3), _a(2, 3), swap=1), TypeError, "swap must be True or False"),
    (lambda: F.triplet_margin_loss(_a(2, 3), _a(3), _a(2, 3)), ValueError,
     "anchor, positive, negative must have the same number of dimensions"),
    (lambda: F.triplet_margin_loss(_a(), _a(), _a()), ValueError, "0-d"),
    (lambda: F.triplet_margin_loss(_a(2, 3), _a(2, 3), _a(2, 3, dtype=np.float32)), TypeError, "negative has dtype"),
    (lambda: F.poisson_nll_loss(_a(2), _a(2), log_input=1), TypeError, "log_input must be True or False"),
    (lambda: F.poisson_nll_loss(_a(2), _a(2), eps=None), TypeError, "eps must be a real number"),
    (lambda: F.poisson_nll_loss(_a(2), _a(3)), ValueError, "do not broadcast"),
    (lambda: F.poisson_nll_loss(_a(2), _a(2), reduction="batchmean"), ValueError, "reduction"),
    (lambda: F.gaussian_nll_loss(_a(2, 3), _a(2, 3), -np.ones((2, 3))), ValueError,
     "var must not hold negative entries.*-1.0"),
    (lambda: F.gaussian_nll_loss(_a(2, 3), _a(2, 3), -0.5), ValueError, r"var must be in \[0.0, inf\), got -0.5"),
    (lambda: F.gaussian_nll_loss(_a(2, 3), _a(2, 3), np.ones(3)), ValueError,
     r"var must have input's shape \(2, 3\), that shape without its last dimension \(2,\)"),
    (lambda: F.gaussian_nll_loss(_a(2, 3), _a(2, 3), np.ones(())), ValueError, "var must have input's shape"),
    (lambda: F.gaussian_nll_loss(_a(2, 3), _a(2, 3), np.ones((2, 3), np.float32)), TypeError, "var has dtype float32"),
    (lambda: F.gaussian_nll_loss(_a(2, 3), _a(2, 3), "1"), TypeError, "var must be a real number"),
    (lambda: F.gaussian_nll_loss(_a(2, 3), _a(2, 3), 1.0, full="no"), TypeError, "full must be True or False"),
    (lambda: F.multi_margin_loss(_a(2, 3), np.array([0, 1]), p=3), ValueError, "p must be 1 or 2"),
    (lambda: F.multi_margin_loss(_a(2, 3), np.array([0, 1]), p=1.0), TypeError, "p must be an int"),
    (lambda: F.multi_margin_loss(_a(2, 3, 4), np.array([0, 1])), ValueError,
     r"input must have shape \(N, C\) or \(C,\)"),
    (lambda: F.multi_margin_loss(_a(2, 0), np.array([0, 1])), ValueError, "C >= 1"),
    (lambda: F.multi_margin_loss(_a(2, 3), np.array([0, 3])), ValueError, r"class indices \[3\] outside \[0, 3\) for"),
    (lambda: F.multi_margin_loss(_a(2, 3), np.array([0, -100])), ValueError, r"class indices \[-100\] outside"),
    (lambda: F.multi_margin_loss(_a(2, 3), np.array([0.0, 1.0])), TypeError, "integer class indices"),
    (lambda: F.multi_margin_loss(_a(2, 3), np.array([0, 1, 2])), ValueError, r"target must have shape \(2,\)"),
    (lambda: F.multi_margin_loss(_a(3), np.array([0, 1])), ValueError, "one class index"),
    (lambda: F.multi_margin_loss(_a(2, 3), np.array([0, 1]), weight=np.ones(2)), ValueError,
     r"weight must have shape \(3,\)"),
    (lambda: F.multi_margin_loss(_a(2, 3), np.array([0, 1]), weight=nc.Tensor(np.ones(3), requires_grad=True)),
     ValueError, "weight requires grad"),
    (lambda: F.multi_margin_loss(_a(2, 3), np.array([0, 1]), margin=np.inf), ValueError, "margin must be finite"),
    (lambda: F.multilabel_margin_loss(_a(2, 3), np.array([[0, 3, -1], [1, -1, 0]])), ValueError,
     r"outside \[-1, 3\).*maximum 3"),
    (lambda: F.multilabel_margin_loss(_a(2, 3), np.array([[0, -2, -1], [1, -1, 0]])), ValueError, "minimum -2"),
    (lambda: F.multilabel_margin_loss(_a(2, 3), np.array([[0, 1], [1, -1]])), ValueError,
     r"target must have input's shape \(2, 3\)"),
    (lambda: F.multilabel_margin_loss(_a(2, 3), _a(2, 3)), TypeError, "integer class indices"),
    (lambda: F.multilabel_margin_loss(_a(2, 3, 4), np.zeros((2, 3, 4), np.int64)), ValueError, r"\(N, C\) or \(C,\)"),
    (lambda: F.triplet_margin_with_distance_loss(_a(2, 3), _a(2, 3), _a(2, 3), margin=0.0), ValueError,
     r"margin must be in \(0.0, inf\)"),
    (lambda: F.triplet_margin_with_distance_loss(_a(2, 3), _a(2, 3), _a(3)), ValueError,
     "same number of dimensions"),
    (lambda: F.triplet_margin_with_distance_loss(_a(2, 3), _a(2, 3), _a(2, 3), distance_function="l2"), TypeError,
     "distance_function must be callable"),
    (lambda: nn.TripletMarginWithDistanceLoss(distance_function=3), TypeError, "distance_function"),
    (lambda: nn.MultiMarginLoss(p=3), ValueError, "p must be 1 or 2"),
    (lambda: nn.MultiMarginLoss(weight=np.ones((2, 2))), ValueError, "weight must be a 1-d array"),
    (lambda: nn.TripletMarginLoss(margin=-1.0), ValueError, "margin"),
    (lambda: nn.TripletMarginLoss(p="2"), TypeError, "p must be a real number"),
    (lambda: nn.GaussianNLLLoss(full=True, eps="x"), TypeError, "eps"),
    (lambda: nn.GaussianNLLLoss(reduction="batchmean"), ValueError, "reduction"),
    (lambda: nn.PoissonNLLLoss(log_input="yes"), TypeError, "log_input"),
    (lambda: nn.CosineEmbeddingLoss(margin=None), TypeError, "margin"),
    (lambda: nn.MarginRankingLoss(reduction="avg"), ValueError, "reduction"),
    (lambda: nn.HingeEmbeddingLoss(margin=float("inf")), ValueError, "margin must be finite"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
