"""Layer, group and RMS normalization, pixel (un)shuffle, power-average pooling, embeddings, the KL
divergence, and ``where`` / ``split`` / ``chunk``: values against the float64 textbook loops of
``reference.py`` (float32 and float64), the layers against torch.nn (initialization, state_dict,
outputs), the edge cases PyTorch defines, and the errors. Gradients are checked against central
differences and torch in ``test_functional_autograd.py`` / ``test_autograd.py``."""
from __future__ import annotations

import math

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F
import reference as ref
from conftest import assert_close
from numconv import nn


def _r(rng, *shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


# ----------------------------------------------------------------------------- values against the textbook


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, groups", [((2, 6, 3, 2), 3), ((3, 4, 5), 4), ((1, 3, 2, 2, 2), 1), ((2, 8), 2)])
def test_group_norm_is_the_textbook_one(shape, groups, dtype, rng):
    x = _r(rng, *shape, dtype=dtype) * 3 + 5  # a mean far from zero
    w, b = _r(rng, shape[1], dtype=dtype), _r(rng, shape[1], dtype=dtype)
    assert_close(F.group_norm(x, groups, w, b, eps=1e-4), ref.normalize_groups(x, groups, w, b, 1e-4), dtype)
    assert_close(F.group_norm(x, groups), ref.normalize_groups(x, groups), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, normalized", [((2, 3, 4), (3, 4)), ((5, 6), (6,)), ((2, 2, 3, 2), (3, 2)), ((4,), (4,))])
def test_layer_and_rms_norm_are_the_textbook_ones(shape, normalized, dtype, rng):
    x = _r(rng, *shape, dtype=dtype)
    w, b = _r(rng, *normalized, dtype=dtype), _r(rng, *normalized, dtype=dtype)
    assert_close(F.layer_norm(x, normalized, w, b), ref.layer_norm(x, normalized, w, b), dtype)
    assert_close(F.layer_norm(x, normalized, eps=0.1), ref.layer_norm(x, normalized, eps=0.1), dtype)
    eps = float(np.finfo(dtype).eps)
    assert_close(F.rms_norm(x, normalized, w), ref.rms_norm(x, normalized, w, eps=eps), dtype)
    assert_close(F.rms_norm(x, normalized, eps=0.5), ref.rms_norm(x, normalized, eps=0.5), dtype)


def test_layer_norm_statistics_in_float64(rng):
    """A float32 block with mean 1e4 and spread 1e-2 normalizes as its float64 value rounded would,
    within float32's error of the input itself (batch_norm's kernels work in float64)."""
    x64 = 1e4 + rng.standard_normal((3, 64)) * 1e-2
    x = x64.astype(np.float32)
    assert_close(F.layer_norm(x, (64,)), ref.layer_norm(x.astype(np.float64), (64,)), np.float32)


def _norm_path(monkeypatch, row_max):
    """Which kernels layer and group norm take: None as chosen; 1 batch norm's runs then the affine
    map; "long" a group norm's fused kernels for groups longer than ``ops.GROUP_NORM_ROW`` (as a CPU
    takes them where there are enough groups)."""
    from numconv import ops

    if row_max is not None:
        monkeypatch.setattr(ops, "GROUP_NORM_ROW", 1)
        monkeypatch.setattr(ops, "GROUP_NORM_TASKS", 0 if row_max == "long" else 1 << 40)


def _norm_matches_torch(ours, theirs, x, params, affine, rng, torch):
    """``ours(x, weight, bias)`` against ``theirs`` (torch's) in float64: the input's and the present
    parameters' gradients for a random output gradient, and central differences."""
    w, b = (p if on else None for p, on in zip(params, affine))
    g = _r(rng, *x.shape)
    leaves = [nc.Tensor(a, requires_grad=True) if a is not None else None for a in (x, w, b)]
    ours(*leaves).backward(nc.Tensor(g))
    tleaves = [torch.tensor(a, requires_grad=True) if a is not None else None for a in (x, w, b)]
    theirs(*tleaves).backward(torch.tensor(g))
    for name, o, t in zip(("input", "weight", "bias"), leaves, tleaves):
        if o is not None:
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)

    def fn(a, *present):
        present = iter(present)
        return ours(a, *(next(present) if on else None for on in affine))

    small = [nc.Tensor(x[:2], requires_grad=True)] + [nc.Tensor(a, requires_grad=True) for a in (w, b) if a is not None]
    assert nc.autograd.gradcheck(fn, small)


@pytest.mark.parametrize("row_max", [None, 1], ids=["row_kernels", "runs_then_affine"])
@pytest.mark.parametrize("shape, normalized, affine", [((2, 5, 5, 8), (8,), (True, True)), ((3, 4, 6), (4, 6), (True, False)),
                                                       ((70, 3), (3,), (False, True)), ((2, 9), (9,), (False, False))])
def test_layer_norm_both_paths_match_torch_with_gradients(row_max, shape, normalized, affine, rng, torch, monkeypatch):
    """Rows of at most ``ops.GROUP_NORM_ROW`` values take the fused row kernels (one pass each way,
    the affine map per column inside), longer ones batch norm's runs and a broadcast affine map:
    both give torch's values and gradients, in float64, and central differences agree."""
    _norm_path(monkeypatch, row_max)
    _norm_matches_torch(lambda a, w, b: F.layer_norm(a, normalized, w, b, eps=1e-3),
                        lambda a, w, b: torch.nn.functional.layer_norm(a, normalized, w, b, eps=1e-3),
                        _r(rng, *shape) * 3 + 5, (_r(rng, *normalized), _r(rng, *normalized)), affine, rng, torch)


@pytest.mark.parametrize("row_max", [None, 1, "long"], ids=["group_kernels", "runs_then_affine", "long_groups_fused"])
@pytest.mark.parametrize("shape, groups, affine", [((2, 6, 3, 2), 3, (True, True)), ((3, 4, 5), 4, (True, False)),
                                                   ((70, 4), 2, (True, True)), ((2, 8, 2, 2, 2), 1, (False, False))])
def test_group_norm_both_paths_match_torch_with_gradients(row_max, shape, groups, affine, rng, torch, monkeypatch):
    """Groups of at most ``ops.GROUP_NORM_ROW`` values take the fused group kernels, larger ones batch
    norm's runs and the channel affine map: torch's values and gradients either way, in float64,
    and central differences agree. (torch itself fails on a bias without a weight; that case is
    checked against the other path.)"""
    _norm_path(monkeypatch, row_max)
    _norm_matches_torch(lambda a, w, b: F.group_norm(a, groups, w, b, eps=1e-3),
                        lambda a, w, b: torch.nn.functional.group_norm(a, groups, w, b, eps=1e-3),
                        _r(rng, *shape) * 3 + 5, (_r(rng, shape[1]), _r(rng, shape[1])), affine, rng, torch)


@pytest.mark.parametrize("threads_worth, fused", [(1, True), (1 << 40, False)])
def test_long_groups_take_the_fused_kernels_where_there_are_enough_of_them(threads_worth, fused, rng, monkeypatch):
    """Group norm's groups longer than ``ops.GROUP_NORM_ROW`` take the fused kernels on the CPU where
    there are ``ops.GROUP_NORM_TASKS`` of them per thread, batch norm's runs otherwise."""
    from numconv import ops

    monkeypatch.setattr(ops, "GROUP_NORM_ROW", 4)
    monkeypatch.setattr(ops, "GROUP_NORM_TASKS", threads_worth)
    x = nc.Tensor(_r(rng, 4, 4, 3), requires_grad=True)  # 8 groups of 6 values, 4 rows of 12
    assert (F.group_norm(x, 2).grad_fn.__name__ == "_GroupNorm") == fused
    assert F.layer_norm(x, (4, 3)).grad_fn.__name__ != "_GroupNorm"  # long rows: the runs, always


def test_a_bias_without_weight_is_the_same_on_both_paths(rng, monkeypatch):
    x, b, g = _r(rng, 3, 4, 5), _r(rng, 4), _r(rng, 3, 4, 5)
    results = []
    for row_max in (None, 1):
        _norm_path(monkeypatch, row_max)
        xs, bs = nc.Tensor(x, requires_grad=True), nc.Tensor(b, requires_grad=True)
        y = F.group_norm(xs, 2, None, bs)
        y.backward(nc.Tensor(g))
        results.append((y.numpy(), xs.grad.numpy(), bs.grad.numpy()))
    for fused, runs in zip(*results):
        np.testing.assert_allclose(fused, runs, rtol=1e-12, atol=1e-13)
    assert_close(results[0][0], ref.normalize_groups(x, 2, None, b), np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, r", [((2, 8, 3, 2), 2), ((9, 2, 1), 3), ((2, 1, 4, 2, 3), 2), ((1, 5, 2, 3), 1)])
def test_pixel_shuffle_is_the_index_formula_and_unshuffle_its_inverse(shape, r, dtype, rng):
    x = _r(rng, *shape, dtype=dtype)
    y = F.pixel_shuffle(x, r)
    np.testing.assert_array_equal(y, ref.pixel_shuffle(x, r).astype(dtype))
    np.testing.assert_array_equal(F.pixel_unshuffle(y, r), x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nd, p, kernel, stride", [(1, 2, 3, 2), (2, 3, (2, 3), None), (2, 1.5, 2, 1), (3, 2, 2, None)])
def test_lp_pool_is_the_power_sum_of_each_window(nd, p, kernel, stride, dtype, rng):
    x = np.abs(_r(rng, 2, 3, *(5,) * nd, dtype=dtype)) + 0.1
    got = getattr(F, f"lp_pool{nd}d")(x, p, kernel, stride)
    assert_close(got, ref.lp_pool_nd(x, p, kernel, stride), dtype)


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
@pytest.mark.parametrize("scale", [False, True])
def test_embedding_rows_and_gradient_are_the_textbook_ones(padding_idx, scale, rng):
    table = _r(rng, 6, 3)
    index = rng.integers(0, 6, size=(4, 5))
    w = nc.Tensor(table.copy(), requires_grad=True)
    y = F.embedding(nc.Tensor(index), w, padding_idx=padding_idx, scale_grad_by_freq=scale)
    np.testing.assert_array_equal(y.numpy(), table[index])
    g = _r(rng, 4, 5, 3)
    y.backward(g)
    pad = None if padding_idx is None else padding_idx % 6
    assert_close(w.grad.numpy(), ref.embedding_weight_grad(index, g, 6, pad, scale))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_is_the_textbook_one_in_every_reduction(log_target, dtype, rng):
    log_q = np.log(rng.dirichlet(np.ones(5), size=4)).astype(dtype)
    target = rng.dirichlet(np.ones(5), size=4)
    target[1, 2] = 0.0  # 0 log 0 = 0
    target = (np.log(target + 0.05) if log_target else target).astype(dtype)
    pointwise = ref.kl_div(log_q, target, log_target)
    for reduction, want in (("none", pointwise), ("sum", pointwise.sum()), ("mean", pointwise.mean()),
                            ("batchmean", pointwise.sum() / 4)):
        assert_close(F.kl_div(log_q, target, reduction=reduction, log_target=log_target), want, dtype, what=reduction)


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_kl_div_gradient_at_a_zero_target_is_torchs(torch):
    """xlogy's rule: where the target is 0 the loss is 0, input's gradient -target = 0 and target's NaN
    (log 0 + 0 / 0), as PyTorch's."""
    x = np.array([[-1.0, -0.5, -2.0]])
    t = np.array([[0.0, 0.4, 0.6]])
    xs, ts = nc.Tensor(x, requires_grad=True), nc.Tensor(t, requires_grad=True)
    F.kl_div(xs, ts, reduction="sum").backward()
    xt, tt = torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)
    torch.nn.functional.kl_div(xt, tt, reduction="sum").backward()
    assert_close(xs.grad.numpy(), xt.grad.numpy())
    assert_close(ts.grad.numpy(), tt.grad.numpy(), equal_nan=True)
    assert np.isnan(ts.grad.numpy()[0, 0])


def test_lp_pool_of_a_window_of_zeros_has_a_zero_gradient_as_torch(torch):
    """(sum x^p)^(1/p) has an infinite slope at 0; PyTorch's formula gives 0 there, not NaN (a second look
    found numconv's NaN reaching the parameters through a multiply)."""
    x = np.array([[[0.0, 0.0, 1.0, 2.0, 0.0, 3.0]]])
    xs, xt = nc.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    F.lp_pool1d(xs, 2, 2).sum().backward()
    torch.nn.functional.lp_pool1d(xt, 2, 2).sum().backward()
    assert_close(xs.grad.numpy(), xt.grad.numpy())
    assert not np.isnan(xs.grad.numpy()).any()


# ----------------------------------------------------------------------------- edge cases as PyTorch


@pytest.mark.parametrize("fn, shape", [
    (lambda L, x: L.layer_norm(x, (1,)), (3, 1)),
    (lambda L, x: L.group_norm(x, 2), (3, 2)),
    (lambda L, x: L.group_norm(x, 3, eps=1e-3), (2, 3, 1, 1)),
    (lambda L, x: L.layer_norm(x, (0,)), (3, 0)),
    (lambda L, x: L.group_norm(x, 1), (0, 2, 3)),
    (lambda L, x: L.layer_norm(x, (2, 3)), (0, 2, 3)),
    (lambda L, x: L.group_norm(x, 4), (1, 4, 2)),
    (lambda L, x: L.group_norm(x, 1), (1, 2)),
], ids=["layer_norm_of_one", "group_norm_of_one", "group_norm_of_one_4d", "layer_norm_of_nothing", "empty_batch",
        "layer_norm_empty_batch", "group_norm_two_values_one_sample", "group_norm_one_sample_two_channels"])
def test_runs_of_one_element_normalize_to_zero_and_empty_stays_empty(fn, shape, rng, torch):
    x = _r(rng, *shape)
    xs, xt = nc.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = fn(F, xs), fn(torch.nn.functional, xt)
    assert_close(y.numpy(), yt.detach().numpy())
    g = _r(rng, *y.shape)
    y.backward(g)
    yt.backward(torch.from_numpy(g))
    assert_close(xs.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize("shape, groups", [((1, 4), 4), ((1, 4, 1), 4), ((1, 1), 1), ((1, 6, 1, 1), 6)])
def test_group_norm_of_one_value_in_all_is_refused_as_torch(shape, groups, torch):
    """A batch of one sample with one value per group (N * C / num_groups * prod(spatial) == 1): a
    ValueError, as torch's (it gave the bias), from the function and the layer alike."""
    x = _r(np.random.default_rng(0), *shape, dtype=np.float32)
    for call in (lambda: F.group_norm(x, groups), lambda: nn.GroupNorm(groups, shape[1])(nc.Tensor(x))):
        with pytest.raises(ValueError, match=r"expected more than 1 value per group, got input shape \(1, "):
            call()
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        torch.nn.functional.group_norm(torch.from_numpy(x), groups)


@pytest.mark.parametrize("row_max", [None, 1], ids=["fused_kernels", "runs_then_affine"])
@pytest.mark.parametrize("op", ["layer_norm", "group_norm"])
def test_eps_zero_is_taken_as_torch(op, row_max, rng, torch, monkeypatch):
    """eps = 0 (refused before): torch's values and gradients on random input, where no variance is 0,
    and central differences agree; a constant row or group is 0 / 0, NaN, as torch's. The layers take it."""

    if row_max is not None:
        _norm_path(monkeypatch, row_max)
    if op == "layer_norm":
        def call(L, a, w, b):
            return L.layer_norm(a, (5,), w, b, eps=0.0)
        params, layers = (_r(rng, 5), _r(rng, 5)), (nn.LayerNorm(5, eps=0), torch.nn.LayerNorm(5, eps=0))
    else:
        def call(L, a, w, b):
            return L.group_norm(a, 2, w, b, eps=0.0)
        params, layers = (_r(rng, 4), _r(rng, 4)), (nn.GroupNorm(2, 4, eps=0), torch.nn.GroupNorm(2, 4, eps=0))
    x = _r(rng, 3, 4, 5) * 3 + 5
    assert_close(call(F, x, *params), call(torch.nn.functional, *(torch.tensor(a) for a in (x,) + params)).numpy())
    _norm_matches_torch(lambda a, w, b: call(F, a, w, b), lambda a, w, b: call(torch.nn.functional, a, w, b),
                        x, params, (True, True), rng, torch)
    constant = np.full((3, 4, 5), 2.0)
    assert np.isnan(call(torch.nn.functional, torch.tensor(constant), None, None).numpy()).all()
    assert np.isnan(call(F, constant, None, None)).all()
    x32 = x.astype(np.float32)
    assert_close(layers[0](nc.Tensor(x32)).numpy(), layers[1](torch.from_numpy(x32)).detach().numpy(), np.float32)


@pytest.mark.filterwarnings("ignore:Mismatch dtype between input and weight")  # torch's, on the unfused path
@pytest.mark.parametrize("x_dtype, w_dtype", [(np.float64, np.float32), (np.float32, np.float64)])
def test_rms_norm_casts_a_weight_of_the_other_dtype_as_torch(x_dtype, w_dtype, rng, torch):
    """The weight cast to the input's dtype, which the output keeps; the weight's gradient in its own
    dtype, the input's in the input's; values as torch's (float32's tolerance)."""
    x, w, g = _r(rng, 3, 2, 4, dtype=x_dtype), _r(rng, 2, 4, dtype=w_dtype), _r(rng, 3, 2, 4, dtype=x_dtype)
    xs, ws = nc.Tensor(x, requires_grad=True), nc.Tensor(w, requires_grad=True)
    y = F.rms_norm(xs, (2, 4), ws)
    y.backward(nc.Tensor(g))
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    yt = torch.nn.functional.rms_norm(xt, (2, 4), wt)
    yt.backward(torch.from_numpy(g))
    assert (y.dtype, xs.grad.dtype, ws.grad.dtype) == (x_dtype, x_dtype, w_dtype)
    for what, ours, theirs in (("output", y, yt), ("input gradient", xs.grad, xt.grad),
                               ("weight gradient", ws.grad, wt.grad)):
        assert str(theirs.dtype) == f"torch.{ours.dtype}", what
        assert_close(ours.numpy(), theirs.detach().numpy(), np.float32, what=what)
    assert_close(F.rms_norm(x, (2, 4), w), yt.detach().numpy(), np.float32, what="arrays in, arrays out")
    layer = nn.RMSNorm((2, 4), dtype=w_dtype)
    assert layer(nc.Tensor(x)).dtype == x_dtype


def test_the_normalization_layers_match_torch_in_init_state_and_output(rng, torch):
    tnn = torch.nn
    pairs = [(nn.LayerNorm((3, 4)), tnn.LayerNorm((3, 4)), (2, 5, 3, 4)),
             (nn.LayerNorm(4, elementwise_affine=False), tnn.LayerNorm(4, elementwise_affine=False), (3, 4)),
             (nn.LayerNorm(4, bias=False), tnn.LayerNorm(4, bias=False), (3, 4)),
             (nn.GroupNorm(2, 6), tnn.GroupNorm(2, 6), (2, 6, 3, 3)),
             (nn.GroupNorm(3, 3, affine=False, eps=1e-3), tnn.GroupNorm(3, 3, affine=False, eps=1e-3), (2, 3, 5)),
             (nn.RMSNorm([2, 4]), tnn.RMSNorm([2, 4]), (3, 2, 4)),
             (nn.RMSNorm(4, eps=1e-2, elementwise_affine=False), tnn.RMSNorm(4, eps=1e-2, elementwise_affine=False),
              (3, 4))]
    for ours, theirs, shape in pairs:
        assert repr(ours) == repr(theirs)
        sd = ours.state_dict()
        assert list(sd) == list(theirs.state_dict())
        for k, v in theirs.state_dict().items():
            np.testing.assert_array_equal(np.asarray(sd[k]), v.numpy(), err_msg=f"{ours} {k}: default init")
        with torch.no_grad():  # trained-looking parameters, loaded into numconv
            for p in theirs.parameters():
                p.copy_(torch.randn(p.shape))
        ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
        x = _r(rng, *shape, dtype=np.float32)
        y = ours(nc.Tensor(x))
        assert_close(y.numpy(), theirs(torch.from_numpy(x)).detach().numpy(), np.float32, what=repr(ours))
        assert_close(ours.eval()(nc.Tensor(x)).numpy(), y.numpy(), np.float32, what="eval is training")


def test_the_other_layers_match_torch(rng, torch):
    tnn = torch.nn
    x = np.abs(_r(rng, 2, 8, 4, 6, dtype=np.float32)) + 0.1
    for ours, theirs in [(nn.PixelShuffle(2), tnn.PixelShuffle(2)), (nn.PixelUnshuffle(2), tnn.PixelUnshuffle(2)),
                         (nn.LPPool2d(2, 3, 2), tnn.LPPool2d(2, 3, 2)), (nn.LPPool2d(1.5, 2), tnn.LPPool2d(1.5, 2)),
                         (nn.LPPool1d(3, 2), tnn.LPPool1d(3, 2))]:
        assert repr(ours) == repr(theirs)
        inp = x.reshape(2, 8, 24) if "1d" in repr(ours) else x
        assert_close(ours(nc.Tensor(inp)).numpy(), theirs(torch.from_numpy(inp)).numpy(), np.float32, what=repr(ours))
    logq, t = np.log(rng.dirichlet(np.ones(4), 3)), rng.dirichlet(np.ones(4), 3)
    for red in ("batchmean", "sum", "none"):
        assert_close(nn.KLDivLoss(reduction=red)(nc.Tensor(logq), nc.Tensor(t)).numpy(),
                     tnn.KLDivLoss(reduction=red)(torch.from_numpy(logq), torch.from_numpy(t)).numpy())


def test_embedding_layer_as_torch(rng, torch):
    e = nn.Embedding(7, 3, padding_idx=-2)
    t = torch.nn.Embedding(7, 3, padding_idx=-2)
    assert repr(e) == repr(t) and e.padding_idx == 5
    for args, kw in (((5, 3), dict(norm_type=1, max_norm=2.0)), ((0, 3), {}), ((3, 0), {})):
        assert repr(nn.Embedding(*args, **kw)) == repr(torch.nn.Embedding(*args, **kw))
    np.testing.assert_array_equal(e.weight.numpy()[5], 0.0)
    assert abs(float(e.weight.numpy().std()) - 1.0) < 0.5  # N(0, 1) rows
    e.load_state_dict({"weight": t.weight.detach().numpy()})
    index = rng.integers(0, 7, size=(2, 4))
    y = e(nc.Tensor(index))
    np.testing.assert_array_equal(y.numpy(), t(torch.from_numpy(index)).detach().numpy())
    pre = _r(rng, 4, 2)
    frozen = nn.Embedding.from_pretrained(pre)
    assert not frozen.weight.requires_grad and list(frozen.parameters())[0] is frozen.weight
    np.testing.assert_array_equal(frozen(np.array([3, 0])).numpy(), pre[[3, 0]])
    assert nn.Embedding.from_pretrained(pre, freeze=False).weight.requires_grad


def test_embedding_max_norm_renormalizes_the_rows_it_reads_in_place(rng, torch):
    table = _r(rng, 6, 4) * 2
    index = np.array([[0, 2, 2], [5, 0, 1]])
    ours, theirs = table.copy(), torch.tensor(table)
    w = nc.Tensor(ours)
    y = F.embedding(nc.Tensor(index), w, max_norm=1.5, norm_type=3.0)
    yt = torch.nn.functional.embedding(torch.from_numpy(index), theirs, max_norm=1.5, norm_type=3.0)
    assert_close(y.numpy(), yt.numpy())
    assert_close(ours, theirs.numpy())  # the table itself changed, only rows 0, 1, 2, 5
    np.testing.assert_array_equal(ours[[3, 4]], table[[3, 4]])
    assert w._version == 1


@pytest.mark.parametrize("norm_type", [math.inf, -math.inf, 0.0, -1.0, 0.5, 1, 3.0])
def test_embedding_max_norm_of_every_norm_type_as_torch(norm_type, rng, torch):
    """norm_type is torch.norm's p: inf the largest |value| (refused before), -inf the smallest, 0 the
    number of non-zeros, a negative p 0 for a row holding a 0; the rows read and the table as torch's."""
    table = _r(rng, 6, 4)
    table = np.sign(table) * (1 + np.abs(table))  # every |value| above 1...
    table[2, 1] = 0.0  # ...but one
    index = np.array([[0, 2, 2], [5, 0, 1]])
    ours, theirs = table.copy(), torch.tensor(table)
    y = F.embedding(index, ours, max_norm=0.2, norm_type=norm_type)
    yt = torch.nn.functional.embedding(torch.from_numpy(index), theirs, max_norm=0.2, norm_type=norm_type)
    assert_close(y, yt.numpy())
    assert_close(ours, theirs.numpy())
    assert not np.array_equal(ours[[0, 1, 5]], table[[0, 1, 5]])
    np.testing.assert_array_equal(ours[[3, 4]], table[[3, 4]])
    assert repr(nn.Embedding(6, 4, max_norm=0.2, norm_type=norm_type)) == \
        repr(torch.nn.Embedding(6, 4, max_norm=0.2, norm_type=norm_type))


def test_where_split_chunk_as_torch(rng, torch):
    c = rng.random((3, 4)) > 0.5
    a = _r(rng, 3, 4)
    for ours, theirs in [(nc.where(c, 1, 2.5), torch.where(torch.from_numpy(c), 1, 2.5)),
                         (nc.where(c, 1, 2), torch.where(torch.from_numpy(c), 1, 2)),
                         (nc.where(c, a.astype(np.float32), 0.0), torch.where(torch.from_numpy(c),
                                                                               torch.from_numpy(a).float(), 0.0)),
                         (nc.where(c, np.arange(4, dtype=np.int32), a),
                          torch.where(torch.from_numpy(c), torch.arange(4, dtype=torch.int32), torch.from_numpy(a)))]:
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    for n in (0, 1, 5, 6, 7):
        for k in (1, 2, 3, 5, 8):
            x = nc.zeros(n, 2)
            assert [p.shape for p in x.chunk(k)] == [tuple(p.shape) for p in torch.zeros(n, 2).chunk(k)]
            assert [p.shape for p in x.split(k)] == [tuple(p.shape) for p in torch.zeros(n, 2).split(k)]
    pieces = nc.Tensor(a).split([1, 3], dim=1)
    pieces[1][0, 0] = 7.0  # a slice: a view of the tensor (which shares a) on the CPU, as PyTorch's
    assert a[0, 1] == 7.0


# ----------------------------------------------------------------------------- errors a person can act on


def _a(*shape):
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.layer_norm(_a(2, 3), (4,)), ValueError, "normalized_shape (4,) must be the last"),
    (lambda: F.layer_norm(_a(3), (2, 3)), ValueError, "normalized_shape"),
    (lambda: F.layer_norm(_a(2, 3), ()), ValueError, "normalized_shape"),
    (lambda: F.layer_norm(_a(2, 3), 3.0), TypeError, "normalized_shape"),
    (lambda: F.layer_norm(_a(2, 3), (3,), _a(2)), ValueError, "weight must have shape (3,)"),
    (lambda: F.layer_norm(_a(2, 3), (3,), None, _a(3).astype(np.float64)), TypeError, "bias has dtype float64"),
    (lambda: F.layer_norm(_a(2, 3), (3,), eps=-1e-5), ValueError, "eps must be in [0.0, inf)"),
    (lambda: F.group_norm(_a(2, 4), 2, eps=float("nan")), ValueError, "eps must be finite"),
    (lambda: nn.LayerNorm(3, eps=-1.0), ValueError, "eps"),
    (lambda: nn.GroupNorm(1, 3, eps=float("inf")), ValueError, "eps"),
    (lambda: nn.RMSNorm(3, eps="0"), TypeError, "eps"),
    (lambda: nn.GroupNorm(4, 4)(nc.Tensor(_a(1, 4))), ValueError, "more than 1 value per group"),
    (lambda: F.layer_norm(np.ones((2, 3), np.int64), (3,)), TypeError, "input must be float32 or float64"),
    (lambda: F.group_norm(_a(2, 6, 2), 4), ValueError, "C=6 (input.shape[1]) must be a multiple of num_groups=4"),
    (lambda: F.group_norm(_a(6), 2), ValueError, "(N, C, *)"),
    (lambda: F.group_norm(_a(2, 6), 0), ValueError, "num_groups"),
    (lambda: F.group_norm(_a(2, 6), 2, _a(3)), ValueError, "weight must have shape (6,)"),
    (lambda: F.rms_norm(_a(2, 3), (3,), eps=-1.0), ValueError, "eps"),
    (lambda: nn.GroupNorm(4, 6), ValueError, "num_channels=6 must be a multiple of num_groups=4"),
    (lambda: nn.GroupNorm(2, 6)(nc.Tensor(_a(2, 4, 3))), ValueError, "expects input (N, 6, *)"),
    (lambda: nn.LayerNorm(-1), ValueError, "negative"),
    (lambda: F.pixel_shuffle(_a(1, 6, 2, 2), 2), ValueError, "C=6 (dimension 1) must be a multiple of upscale_factor^2=4"),
    (lambda: F.pixel_shuffle(_a(4, 2), 2), ValueError, "(*, C, H, W)"),
    (lambda: F.pixel_shuffle(_a(1, 4, 2, 2), 0), ValueError, "upscale_factor"),
    (lambda: F.pixel_unshuffle(_a(1, 1, 3, 4), 2), ValueError, "height 3 and width 4 must be multiples"),
    (lambda: nn.PixelShuffle(1.5), ValueError, "upscale_factor"),
    (lambda: F.lp_pool2d(_a(1, 1, 4, 4), 0, 2), ValueError, "norm_type"),
    (lambda: F.lp_pool2d(_a(1, 1, 4, 4), 2, 5), ValueError, "kernel"),
    (lambda: nn.LPPool2d(2, 0), ValueError, "kernel_size"),
    (lambda: F.kl_div(_a(2, 3), _a(2, 3), "average"), ValueError, "reduction"),
    (lambda: F.embedding(__import__("torch").tensor([1, 2]), _a(5, 2)), TypeError, "input.numpy()"),
    (lambda: F.kl_div(_a(2, 3), _a(3, 3)), ValueError, "does not broadcast"),
    (lambda: F.embedding(np.array([0, 5]), _a(5, 2)), ValueError, "index 5, outside [0, 5)"),
    (lambda: F.embedding(np.array([-1]), _a(5, 2)), ValueError, "index -1"),
    (lambda: F.embedding(np.array([0.0]), _a(5, 2)), TypeError, "integer indices"),
    (lambda: F.embedding(np.array([0]), _a(5)), ValueError, "weight must have 2 dimensions"),
    (lambda: F.embedding(np.array([0]), _a(5, 2), padding_idx=5), ValueError, "padding_idx must be in [-5, 5)"),
    (lambda: F.embedding(np.array([0]), _a(5, 2), sparse=True), ValueError, "sparse=True"),
    (lambda: F.embedding(np.array([0]), _a(5, 2), max_norm=-1.0), ValueError, "max_norm"),
    (lambda: F.embedding(np.array([0]), _a(5, 2), max_norm=1.0, norm_type=float("nan")), ValueError,
     "norm_type must be finite"),
    (lambda: nn.Embedding(5, 2, norm_type="2"), TypeError, "norm_type must be a real number"),
    (lambda: nn.Embedding(-1, 3), ValueError, "num_embeddings"),
    (lambda: F.embedding([[1, 2], [3]], _a(5, 2)), ValueError, "rectangular"),
    (lambda: nc.randn(3).add_(1.0, alpha="x"), TypeError, "alpha"),
    (lambda: nc.randn(3).masked_fill(np.array([True, False]), 1.0), ValueError, "mask of shape (2,)"),
    (lambda: nc.randn(3).masked_fill(np.array([1, 0, 1]), 1.0), TypeError, "mask must be a boolean"),
    (lambda: F.kl_div(_a(2, 3), _a(2, 3), "x"), ValueError, "'batchmean'"),
    (lambda: nn.LPPool1d(2, 2, ceil_mode="y"), TypeError, "ceil_mode"),
    (lambda: nn.Embedding(4, 3, _weight=_a(3, 3)), ValueError, "_weight must have shape (4, 3)"),
    (lambda: nc.where(np.array([1, 0]), _a(2), _a(2)), TypeError, "condition must be a boolean"),
    (lambda: nc.where(np.array([True, False]), _a(3), 0.0), ValueError, "do not broadcast"),
    (lambda: nc.where(np.array([True]), "a", 0.0), TypeError, "input"),
    (lambda: nc.randn(4, 3).split([1, 2]), ValueError, "sections [1, 2] must sum to the size 4"),
    (lambda: nc.randn(4, 3).split(0), ValueError, "split_size 0"),
    (lambda: nc.randn(4, 3).split(2, dim=2), IndexError, "dim"),
    (lambda: nc.randn(4, 3).chunk(0), ValueError, "chunks"),
    (lambda: nc.chunk(nc.tensor(1.0), 2), ValueError, "at least one dimension"),
])
def test_bad_input_is_named(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value), str(info.value)


# ----------------------------------------------------------------------------- alpha dropout


@pytest.mark.parametrize("feature", [False, True])
def test_alpha_dropout_is_the_selu_dropout_torch_draws(feature, rng, torch):
    """Each value is a x + a alpha' p if kept, a alpha' (p - 1) if dropped (a = ((alpha'^2 p + 1)(1 - p))^-1/2,
    alpha' = 1.7581): the same two formulas describe torch's outputs; about p dropped (whole channels for
    the feature form); zero mean and unit variance kept; the gradient a where kept; identity in eval."""
    p, alpha = 0.2, 1.7580993408473766
    a = 1 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    x = rng.standard_normal((400, 50, 2, 2) if feature else (200000,))
    fn, torch_fn = (F.feature_alpha_dropout, torch.nn.functional.feature_alpha_dropout) if feature else \
        (F.alpha_dropout, torch.nn.functional.alpha_dropout)
    t = nc.Tensor(x, requires_grad=True)
    y = fn(t, p, training=True)
    y.backward(nc.ones(*x.shape, dtype=nc.float64))
    for out in (y.detach().numpy(), torch_fn(torch.tensor(x), p, training=True).numpy()):
        kept = np.isclose(out, a * x + a * alpha * p, rtol=0, atol=1e-12)
        dropped = np.isclose(out, a * alpha * (p - 1), rtol=0, atol=1e-12)
        assert (kept ^ dropped).all()
        assert abs(dropped.mean() - p) < 0.01
        if feature:  # a channel is kept or dropped whole
            assert (kept.reshape(400, 50, 4).all(2) | dropped.reshape(400, 50, 4).all(2)).all()
        assert abs(out.mean()) < 0.02 and abs(out.var() - 1) < 0.03
    g = t.grad.numpy()
    np.testing.assert_allclose(g, np.where(np.isclose(y.detach().numpy(), a * alpha * (p - 1), atol=1e-12), 0, a))
    assert fn(x, p) is x or np.array_equal(fn(x, p), x)  # training=False by default, as torch's
    assert not F.alpha_dropout(x[:10], 1.0, training=True).any()
    m = (nn.FeatureAlphaDropout if feature else nn.AlphaDropout)(p)
    assert repr(m) == repr((torch.nn.FeatureAlphaDropout if feature else torch.nn.AlphaDropout)(p))
    assert not np.array_equal(m(nc.Tensor(x)).numpy(), x) and np.array_equal(m.eval()(nc.Tensor(x)).numpy(), x)
    with pytest.raises(ValueError, match="dropout probability p"):
        fn(x, 1.5, training=True)


# ----------------------------------------------------------------------------- gumbel_softmax


def test_gumbel_softmax_samples_the_categorical_and_hard_passes_the_soft_gradient(rng):
    """The Gumbel-max trick: the argmax of logits + Gumbel noise is distributed as softmax(logits), so the
    hard samples' class frequencies approach it; soft samples are probability vectors; hard ones are
    one-hot with the soft sample's gradient (straight-through); reproducible under manual_seed."""
    probs = np.array([0.5, 0.3, 0.15, 0.05])
    logits = np.tile(np.log(probs), (40000, 1))
    nc.manual_seed(7)
    hard = F.gumbel_softmax(logits, tau=0.5, hard=True)
    assert set(np.unique(hard)) == {0.0, 1.0} and (hard.sum(1) == 1).all()
    np.testing.assert_allclose(hard.mean(0), probs, atol=0.01)
    nc.manual_seed(7)
    soft = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(soft.argmax(1), hard.argmax(1))  # the same draws under the same seed
    x = nc.Tensor(logits[:5], requires_grad=True)
    w = nc.Tensor(rng.standard_normal((5, 4)))
    nc.manual_seed(3)
    (F.gumbel_softmax(x, tau=2.0, hard=True) * w).sum().backward()
    g_hard = x.grad.numpy().copy()
    x.grad = None
    nc.manual_seed(3)
    (F.gumbel_softmax(x, tau=2.0) * w).sum().backward()
    np.testing.assert_allclose(g_hard, x.grad.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="tau"):
        F.gumbel_softmax(logits, tau=0.0)


@pytest.mark.parametrize("name,nd", [(f"{kind}Pad{nd}d", nd) for kind in ("Reflection", "Replication", "Circular")
                                     for nd in (1, 2, 3)])
def test_padding_layers_take_the_ranks_torchs_take(name, nd, rng, torch):
    """(C, *) or (N, C, *) with nd spatial dimensions; other ranks are a ValueError naming the layer (torch
    raises too), where numconv used to pad them."""
    ours, theirs = getattr(nn, name)(1), getattr(torch.nn, name)(1)
    for ndim in (nd + 1, nd + 2):
        a = rng.standard_normal((3,) * ndim)
        np.testing.assert_allclose(ours(nc.Tensor(a)).numpy(), theirs(torch.from_numpy(a)).numpy(), rtol=1e-12)
    for ndim in (nd, nd + 3):
        a = rng.standard_normal((3,) * ndim)
        with pytest.raises((RuntimeError, NotImplementedError, ValueError)):
            theirs(torch.from_numpy(a))
        with pytest.raises(ValueError, match=f"{name} expects"):
            ours(nc.Tensor(a))


def test_unflatten_and_unbatched_instance_norm_take_arrays(rng, torch):
    """Layers take NumPy arrays as the functional ops do (an array in, an array out)."""
    a = rng.standard_normal((3, 4)).astype(np.float32)
    out = nn.Unflatten(1, (2, 2))(a)
    assert isinstance(out, np.ndarray) and out.shape == (3, 2, 2)
    np.testing.assert_array_equal(out, a.reshape(3, 2, 2))
    for layer, shape in (("InstanceNorm1d", (3, 7)), ("InstanceNorm2d", (3, 5, 5)), ("InstanceNorm3d", (3, 2, 3, 4))):
        x = rng.standard_normal(shape).astype(np.float32)
        got = getattr(nn, layer)(3)(x)
        want = getattr(torch.nn, layer)(3)(torch.from_numpy(x)).numpy()
        assert isinstance(got, np.ndarray)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(getattr(nn, layer)(3)(nc.Tensor(x)).numpy(), want, rtol=1e-5, atol=1e-5)
