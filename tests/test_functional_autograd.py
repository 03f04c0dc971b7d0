"""numconv.functional on Tensors: the kernels' ops record a graph (values and gradients against torch,
and central differences in float64), arrays still give arrays; the layers' math (linear,
activations, dropout, batch_norm)."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F
from conftest import assert_close
from numconv.autograd import gradcheck


def _const(L, a):
    """A constant array for either library (numconv takes NumPy arrays; torch needs tensors)."""
    if L is F:
        return a
    import torch

    return torch.from_numpy(a)


def _reflect_conv(L, x, w):
    if L is F:
        return L.conv2d(x, w, padding=(1, 2), padding_mode="reflect")
    return L.conv2d(L.pad(x, (2, 2, 1, 1), mode="reflect"), w)


def _bn_eval(L, x, w, b):
    rm = _const(L, np.array([0.1, -0.2, 0.3]))
    rv = _const(L, np.array([1.5, 0.5, 2.0]))
    return L.batch_norm(x, rm.to(x.dtype) if L is not F else rm.astype(x.dtype),
                        rv.to(x.dtype) if L is not F else rv.astype(x.dtype), w, b, training=False, eps=1e-3)


# (id, fn(lib, *inputs) for lib numconv.functional or torch.nn.functional, input shapes)
CASES = [
    ("conv1d", lambda L, x, w, b: L.conv1d(x, w, b, stride=2, padding=1), [(2, 3, 7), (4, 3, 3), (4,)]),
    ("conv2d_groups_dilation", lambda L, x, w, b: L.conv2d(x, w, b, padding=1, dilation=(1, 2), groups=2),
     [(1, 4, 4, 4), (2, 2, 3, 2), (2,)]),
    ("conv2d_unbatched_no_bias", lambda L, x, w: L.conv2d(x, w, stride=(2, 1)), [(3, 5, 4), (2, 3, 2, 2)]),
    ("conv2d_reflect", _reflect_conv, [(1, 2, 5, 6), (3, 2, 3, 3)]),
    ("conv3d", lambda L, x, w, b: L.conv3d(x, w, b, padding=(0, 1, 1)), [(1, 2, 3, 4, 3), (3, 2, 2, 2, 2), (3,)]),
    ("conv_transpose1d_unbatched", lambda L, x, w: L.conv_transpose1d(x, w, stride=2), [(3, 5), (3, 2, 3)]),
    ("conv_transpose2d", lambda L, x, w, b: L.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
     [(1, 2, 3, 3), (2, 3, 3, 3), (3,)]),
    ("conv_transpose3d_groups", lambda L, x, w: L.conv_transpose3d(x, w, groups=2), [(1, 4, 2, 2, 3), (4, 1, 2, 2, 2)]),
    ("max_pool1d", lambda L, x: L.max_pool1d(x, 3, stride=2, padding=1), [(2, 3, 9)]),
    ("max_pool2d", lambda L, x: L.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True), [(1, 2, 5, 6)]),
    ("max_pool2d_dilation", lambda L, x: L.max_pool2d(x, 2, stride=1, dilation=2), [(1, 2, 5, 5)]),
    ("max_pool3d", lambda L, x: L.max_pool3d(x, 2), [(1, 1, 4, 4, 4)]),
    ("avg_pool1d", lambda L, x: L.avg_pool1d(x, 3, stride=2, padding=1, count_include_pad=False), [(2, 3, 8)]),
    ("avg_pool2d", lambda L, x: L.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
     [(1, 2, 5, 6)]),
    ("avg_pool2d_divisor", lambda L, x: L.avg_pool2d(x, 2, divisor_override=3), [(1, 2, 4, 4)]),
    ("avg_pool3d", lambda L, x: L.avg_pool3d(x, 2, stride=1), [(1, 2, 3, 3, 3)]),
    ("adaptive_avg_pool2d", lambda L, x: L.adaptive_avg_pool2d(x, (3, 2)), [(1, 2, 7, 5)]),
    ("adaptive_max_pool2d", lambda L, x: L.adaptive_max_pool2d(x, (2, 3)), [(1, 2, 5, 7)]),
    ("adaptive_avg_pool1d", lambda L, x: L.adaptive_avg_pool1d(x, 3), [(2, 3, 7)]),
    ("adaptive_max_pool3d", lambda L, x: L.adaptive_max_pool3d(x, 2), [(1, 1, 3, 4, 5)]),
    ("max_unpool2d", lambda L, x: L.max_unpool2d(*L.max_pool2d(x, 2, return_indices=True), 2), [(1, 2, 4, 6)]),
    ("max_unpool1d_output_size", lambda L, x: L.max_unpool1d(*L.max_pool1d(x, 2, return_indices=True), 2,
                                                              output_size=(9,)), [(2, 2, 9)]),
    ("unfold", lambda L, x: L.unfold(x, 2, padding=1, stride=2), [(1, 2, 5, 5)]),
    ("fold", lambda L, x: L.fold(x, (4, 5), 2), [(1, 8, 12)]),
    ("pad_constant", lambda L, x: L.pad(x, (1, 2, 0, 1), value=0.5), [(1, 2, 4, 5)]),
    ("pad_reflect", lambda L, x: L.pad(x, (2, 1, 1, 2), mode="reflect"), [(1, 2, 4, 5)]),
    ("pad_replicate", lambda L, x: L.pad(x, (1, 2), mode="replicate"), [(2, 3, 4)]),
    ("pad_circular", lambda L, x: L.pad(x, (1, 1, 2, 0, 1, 1), mode="circular"), [(1, 2, 3, 4, 3)]),
    ("linear", lambda L, x, w, b: L.linear(x, w, b), [(4, 5), (3, 5), (3,)]),
    ("linear_3d_no_bias", lambda L, x, w: L.linear(x, w), [(2, 4, 5), (3, 5)]),
    ("linear_1d", lambda L, x, w, b: L.linear(x, w, b), [(5,), (3, 5), (3,)]),
    ("linear_into_sum", lambda L, x, w, b: L.linear(x, w, b) * L.linear(x, w, b).sum(), [(2, 3, 5), (4, 5), (4,)]),
    ("relu", lambda L, x: L.relu(x), [(3, 4)]),
    ("sigmoid", lambda L, x: L.sigmoid(x), [(3, 4)]),
    ("tanh", lambda L, x: L.tanh(x), [(3, 4)]),
    ("softmax", lambda L, x: L.softmax(x, dim=1), [(2, 4, 3)]),
    ("log_softmax", lambda L, x: L.log_softmax(x, dim=-1), [(3, 5)]),
    ("batch_norm_train_4d", lambda L, x, w, b: L.batch_norm(x, None, None, w, b, training=True),
     [(3, 2, 2, 3), (2,), (2,)]),
    ("batch_norm_train_2d_no_affine", lambda L, x: L.batch_norm(x, None, None, training=True, eps=1e-3), [(5, 3)]),
    ("batch_norm_train_3d_weight_only", lambda L, x, w: L.batch_norm(x, None, None, w, training=True),
     [(2, 3, 4), (3,)]),
    ("batch_norm_eval", _bn_eval, [(2, 3, 4), (3,), (3,)]),
    ("layer_norm", lambda L, x, w, b: L.layer_norm(x, (3, 4), w, b), [(2, 3, 4), (3, 4), (3, 4)]),
    ("layer_norm_no_affine_eps", lambda L, x: L.layer_norm(x, [6], eps=1e-3), [(5, 6)]),
    ("layer_norm_weight_only", lambda L, x, w: L.layer_norm(x, (2, 3, 2), w), [(2, 3, 2), (2, 3, 2)]),
    ("group_norm", lambda L, x, w, b: L.group_norm(x, 3, w, b), [(2, 6, 3, 2), (6,), (6,)]),
    ("group_norm_instance_3d", lambda L, x: L.group_norm(x, 4, eps=1e-3), [(2, 4, 5)]),
    ("group_norm_one_group", lambda L, x, w: L.group_norm(x, 1, w), [(3, 2, 2, 2, 2), (2,)]),
    ("rms_norm", lambda L, x, w: L.rms_norm(x, (5,), w), [(3, 4, 5), (5,)]),
    ("rms_norm_two_dims_eps", lambda L, x: L.rms_norm(x, (2, 3), eps=1e-2), [(4, 2, 3)]),
    ("pixel_shuffle", lambda L, x: L.pixel_shuffle(x, 2), [(2, 8, 3, 2)]),
    ("pixel_shuffle_unbatched_3", lambda L, x: L.pixel_shuffle(x, 3), [(9, 2, 1)]),
    ("pixel_unshuffle", lambda L, x: L.pixel_unshuffle(x, 2), [(1, 2, 4, 6)]),
    ("pixel_shuffle_roundtrip_5d", lambda L, x: L.pixel_unshuffle(L.pixel_shuffle(x, 2), 2) * x,
     [(2, 1, 4, 2, 3)]),
    ("lp_pool1d", lambda L, x: L.lp_pool1d(x, 2, 3, stride=2, ceil_mode=True), [(2, 3, 8)]),
    ("lp_pool2d_p3", lambda L, x: L.lp_pool2d(x * x + 0.5, 3, (2, 3)), [(1, 2, 4, 7)]),
    ("lp_pool3d", lambda L, x: L.lp_pool3d(x * x + 0.1, 2.5, 2, 1), [(1, 1, 3, 3, 3)]),
    ("kl_div_batchmean", lambda L, x, t: L.kl_div(L.log_softmax(x, 1), L.softmax(t, 1), reduction="batchmean"),
     [(4, 5), (4, 5)]),
    ("kl_div_log_target_none", lambda L, x, t: L.kl_div(L.log_softmax(x, -1), L.log_softmax(t, -1), reduction="none",
                                                        log_target=True), [(2, 3, 4), (2, 3, 4)]),
    ("kl_div_sum_relu_target", lambda L, x, t: L.kl_div(x, L.relu(t), reduction="sum"), [(3, 4), (3, 4)]),
    ("embedding", lambda L, w: L.embedding(_const(L, np.array([[1, 3, 3], [0, 4, 1]])), w), [(5, 3)]),
    ("conv_bn_relu_pool", lambda L, x, w: L.max_pool2d(L.relu(L.batch_norm(L.conv2d(x, w, padding=1), None, None,
                                                                             training=True)), 2),
     [(2, 2, 4, 4), (3, 2, 3, 3)]),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_against_torch(case, dtype, rng, torch):
    import torch.nn.functional as TF

    _, fn, shapes = case
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    xs = [nc.Tensor(a.copy(), requires_grad=True) for a in arrays]
    y = fn(F, *xs)
    assert isinstance(y, nc.Tensor) and y.requires_grad and y.dtype == dtype
    gy = rng.standard_normal(y.shape).astype(dtype)
    y.backward(gy)
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    yt = fn(TF, *ts)
    yt.backward(torch.from_numpy(gy))
    assert_close(y.numpy(), yt.detach().numpy(), dtype, what="value")
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert_close(x.grad.numpy(), t.grad.numpy(), dtype, what=f"grad of input {i}")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck(case, rng):
    _, fn, shapes = case
    xs = [nc.Tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    assert gradcheck(lambda *ts: fn(F, *ts), xs)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_arrays_give_arrays(case, rng):
    _, fn, shapes = case
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    y = fn(F, *arrays)
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    with nc.no_grad():
        yt = fn(F, *[nc.Tensor(a) for a in arrays])
    assert isinstance(yt, nc.Tensor) and not yt.requires_grad
    np.testing.assert_array_equal(y, yt.numpy())


def test_pool_indices_on_tensors(rng, torch):
    import torch.nn.functional as TF

    a = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    x = nc.Tensor(a, requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    assert isinstance(idx, nc.Tensor) and idx.dtype == np.int64 and not idx.requires_grad and y.requires_grad
    np.testing.assert_array_equal(idx.numpy(), TF.max_pool2d(torch.from_numpy(a), 2, return_indices=True)[1].numpy())
    y2, idx2 = F.adaptive_max_pool2d(x, 3, return_indices=True)
    assert idx2.dtype == np.int64
    ya, ia = F.max_pool2d(a, 2, return_indices=True)  # arrays: arrays, as before
    assert isinstance(ya, np.ndarray) and isinstance(ia, np.ndarray)
    (y.sum() + y2.sum()).backward()
    assert x.grad.shape == a.shape


def test_max_pool_backward_checks_only_indices_it_handed_out(rng, monkeypatch):
    """Indices nobody saw go straight to the backward; indices returned to the caller may have been
    changed, so the backward checks them again (an index written out of the plane is an error)."""
    a = rng.standard_normal((2, 3, 6, 6))
    checks = []
    real = nc.ops.check_indices
    monkeypatch.setattr(nc.ops, "check_indices", lambda *args, **kw: checks.append(1) or real(*args, **kw))
    x = nc.Tensor(a, requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    assert checks == []
    _, idx_ref = F.max_pool2d(a, 2, return_indices=True)
    gx_ref = F.max_pool2d_backward(np.ones((2, 3, 3, 3)), a, 2, indices=idx_ref)
    np.testing.assert_array_equal(x.grad.numpy(), gx_ref)
    assert checks == [1]  # the array-level backward was given indices: checked
    checks.clear()
    x = nc.Tensor(a, requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    idx.numpy()[0, 0, 0, 0] = 36
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 36\).*to 36"):
        y.sum().backward()
    assert checks == [1]


def test_conv_backward_computes_only_needed_gradients(rng, monkeypatch):
    x = nc.Tensor(rng.standard_normal((1, 2, 5, 5)).astype(np.float32), requires_grad=True)
    w = nc.Tensor(rng.standard_normal((3, 2, 3, 3)).astype(np.float32))
    b = rng.standard_normal(3).astype(np.float32)
    expect = F.conv2d_backward(np.ones((1, 3, 3, 3), np.float32), x.numpy(), w.numpy(), b)[0]

    def boom(*args, **kwargs):
        raise AssertionError("computed a gradient nobody asked for")

    monkeypatch.setattr(nc.ops, "conv_weight_grad", boom)
    monkeypatch.setattr(nc.ops, "conv_bias_grad", boom)
    F.conv2d(x, w, b).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), expect, rtol=1e-6)
    monkeypatch.undo()
    x.requires_grad_(False)
    w.requires_grad_(True)
    monkeypatch.setattr(nc.ops, "conv_input_grad", boom)
    F.conv2d(x, w, b).sum().backward()
    assert w.grad.shape == w.shape


def test_validation_before_kernels_on_tensors(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a kernel ran before validation")

    monkeypatch.setattr(nc.ops, "conv_forward", boom)
    x = nc.randn(1, 3, 5, 5, requires_grad=True)
    with pytest.raises(ValueError, match="channels|C_in|groups"):
        F.conv2d(x, nc.randn(4, 2, 3, 3))
    with pytest.raises(TypeError, match="dtype"):
        F.conv2d(x, nc.randn(4, 3, 3, 3, dtype=np.float64))
    with pytest.raises(ValueError, match="kernel_size|kernel"):
        F.max_pool2d(x, 7)
    with pytest.raises(ValueError, match="in_features"):
        F.linear(nc.randn(2, 4), nc.randn(3, 5))


def test_functional_array_and_tensor_mixed(rng):
    x = nc.Tensor(rng.standard_normal((1, 2, 4, 4)), requires_grad=True)
    w = rng.standard_normal((3, 2, 3, 3))  # a plain array weight: a constant
    y = F.conv2d(x, w, padding=1)
    assert isinstance(y, nc.Tensor)
    y.sum().backward()
    assert x.grad.shape == x.shape


# ----------------------------------------------------------------------------- dropout


def test_dropout_statistics_and_modes():
    x = np.ones((200, 500), np.float32)
    nc.manual_seed(0)
    y = F.dropout(x, 0.3)
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.02
    nc.manual_seed(0)
    np.testing.assert_array_equal(F.dropout(x, 0.3), y)  # one global generator, reseeded
    d = F.dropout(x, 0.3, mode="downgrade_in_infer")
    assert set(np.unique(d).tolist()) == {0.0, 1.0}
    assert F.dropout(x, 0.3, training=False) is x
    np.testing.assert_allclose(F.dropout(x, 0.3, training=False, mode="downgrade_in_infer"), 0.7)
    assert F.dropout(x, 0.0) is x
    t = nc.Tensor(x)
    assert F.dropout(t, 0.5, training=False) is t


def test_dropout_gradient_is_the_mask():
    x = nc.randn(50, 40, dtype=np.float64, requires_grad=True)
    y = F.dropout(x, 0.25)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), (y.numpy() != 0) / 0.75)
    assert y.dtype == np.float64


def test_dropout2d_drops_whole_channels():
    nc.manual_seed(1)
    x = np.ones((40, 50, 3, 2))
    y = F.dropout2d(x, 0.4)
    per_channel = y.reshape(40, 50, -1)
    assert ((per_channel == 0).all(-1) | (per_channel == 1 / 0.6).all(-1)).all()
    assert abs((per_channel[..., 0] == 0).mean() - 0.4) < 0.03
    u = F.dropout2d(np.ones((30, 4, 4)), 0.5, mode="downgrade_in_infer")  # unbatched (C, H, W)
    assert ((u == 0).all((1, 2)) | (u == 1).all((1, 2))).all()
    with pytest.raises(ValueError, match="dimensions"):
        F.dropout2d(np.ones((3, 4)), 0.5)


@pytest.mark.parametrize("nd", [1, 3])
def test_dropout1d_and_3d_drop_whole_channels(nd, rng):
    nc.manual_seed(2)
    x = rng.random((30, 40) + (3,) * nd) + 0.5
    y = getattr(F, f"dropout{nd}d")(x, 0.25)
    ratio = (y / x).reshape(30, 40, -1)
    assert (np.isclose(ratio, 0).all(-1) | np.isclose(ratio, 1 / 0.75).all(-1)).all()
    assert abs(np.isclose(ratio[..., 0], 0).mean() - 0.25) < 0.04
    unbatched = getattr(F, f"dropout{nd}d")(x[0], 0.5)  # (C, *spatial)
    assert unbatched.shape == x[0].shape
    with pytest.raises(ValueError, match="dimensions"):
        getattr(F, f"dropout{nd}d")(x[0, 0], 0.5)


def test_dropout_inplace_changes_the_input_and_keeps_the_gradient(rng):
    a = rng.standard_normal((20, 30))
    arr = a.copy()
    nc.manual_seed(3)
    out = F.dropout(arr, 0.4, inplace=True)
    assert out is arr  # the array itself, changed
    nc.manual_seed(3)
    np.testing.assert_array_equal(arr, F.dropout(a, 0.4))
    x = nc.Tensor(a.copy(), requires_grad=True)
    h = x * 2.0
    nc.manual_seed(4)
    y = F.dropout(h, 0.4, inplace=True)
    assert y is h and h._version == 1
    (y * y).sum().backward()
    kept = y.numpy() != 0
    np.testing.assert_allclose(x.grad.numpy(), kept * 2 * y.numpy() * 2 / 0.6)  # d(y^2)/dx = 2y * 2 * mask/(1-p)
    model = nc.nn.Sequential(nc.nn.Linear(30, 8), nc.nn.Dropout(0.5, inplace=True)).double()
    t = nc.Tensor(a)
    z = model(t)
    assert repr(model[1]) == "Dropout(p=0.5, inplace=True)"
    assert (z.numpy() == 0).any() and np.array_equal(t.numpy(), a)  # the layer's output changed, not x
    leaf = nc.Tensor(a.copy(), requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):  # as torch: a leaf that requires grad is not changed in place
        F.dropout(leaf, 0.3, inplace=True)
    with pytest.raises(TypeError, match="inplace"):
        F.dropout(a, 0.3, inplace="yes")


@pytest.mark.parametrize("p,error", [(-0.1, ValueError), (1.5, ValueError), (float("nan"), ValueError),
                                     ("0.5", TypeError), (True, TypeError)])
def test_dropout_bad_p(p, error):
    with pytest.raises(error, match="p must be"):
        F.dropout(np.ones(3, np.float32), p)


def test_dropout_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        F.dropout(np.ones(3, np.float32), 0.5, mode="upscale")


# ----------------------------------------------------------------------------- batch norm


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5, 2)])
def test_batch_norm_running_stats_match_torch(shape, dtype, rng, torch):
    import torch.nn.functional as TF

    C = shape[1]
    rm, rv = np.zeros(C, dtype), np.ones(C, dtype)
    rm_tensor, rv_tensor = nc.zeros(C, dtype=dtype), nc.ones(C, dtype=dtype)
    trm, trv = torch.zeros(C, dtype=torch.float32 if dtype == np.float32 else torch.float64), None
    trv = torch.ones_like(trm)
    w, b = rng.standard_normal(C).astype(dtype), rng.standard_normal(C).astype(dtype)
    for step in range(4):
        a = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        y = F.batch_norm(a, rm, rv, w, b, training=True, momentum=0.2)
        yt_ = F.batch_norm(nc.Tensor(a), rm_tensor, rv_tensor, nc.Tensor(w), nc.Tensor(b), training=True, momentum=0.2)
        yt = TF.batch_norm(torch.from_numpy(a), trm, trv, torch.from_numpy(w), torch.from_numpy(b), training=True,
                           momentum=0.2)
        assert_close(y, yt.numpy(), dtype, what=f"step {step} output")
        np.testing.assert_array_equal(y, yt_.numpy())
    assert_close(rm, trm.numpy(), dtype, what="running_mean")
    assert_close(rv, trv.numpy(), dtype, what="running_var")
    np.testing.assert_array_equal(rm_tensor.numpy(), rm)
    a = rng.standard_normal(shape).astype(dtype)
    y = F.batch_norm(a, rm, rv, w, b)  # eval: running statistics, not updated
    yt = TF.batch_norm(torch.from_numpy(a), trm, trv, torch.from_numpy(w), torch.from_numpy(b))
    assert_close(y, yt.numpy(), dtype, what="eval output")
    assert_close(rm, trm.numpy(), dtype, what="running_mean unchanged in eval")


@pytest.mark.parametrize("offset,spread", [(0.0, 1.0), (1e4, 1.0), (1e4, 0.01), (-5e3, 0.05)])
def test_batch_norm_float32_far_from_zero_is_rounded_once(offset, spread, rng):
    """Channels whose mean is far from zero next to their spread (1e4 and 0.01: the output's scale
    is 100): the float32 output, and the input gradient, within a few float32 roundings of the
    float64 definition applied to the same float32 input. Computing x*scale + shift in float32
    lost 5e-2 here (PyTorch 2.13 loses as much); the kernels subtract the mean in float64."""
    x = (offset + spread * rng.standard_normal((6, 3, 5, 4))).astype(np.float32)
    w, b = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    x64 = x.astype(np.float64)
    mu, var = x64.mean((0, 2, 3), keepdims=True), x64.var((0, 2, 3), keepdims=True)
    xhat = (x64 - mu) / np.sqrt(var + 1e-5)
    w4, g64 = w.astype(np.float64).reshape(1, 3, 1, 1), g.astype(np.float64)
    want_y = xhat * w4 + b.reshape(1, 3, 1, 1)
    m = x.size // 3
    want_gx = w4 / np.sqrt(var + 1e-5) * (g64 - g64.mean((0, 2, 3), keepdims=True)
                                          - xhat * (g64 * xhat).sum((0, 2, 3), keepdims=True) / m)
    xt = nc.Tensor(x, requires_grad=True)
    y = F.batch_norm(xt, None, None, nc.Tensor(w), nc.Tensor(b), training=True)
    y.backward(nc.Tensor(g))
    for got, want, what in ((y.numpy(), want_y, "output"), (xt.grad.numpy(), want_gx, "input gradient")):
        err = np.abs(got - want).max() / np.abs(want).max()
        assert err < 1e-6, f"{what}: relative error {err:.2e}"


def test_batch_norm_errors():
    x = np.ones((4, 3, 2), np.float32)
    with pytest.raises(ValueError, match="running_mean must have shape"):
        F.batch_norm(x, np.zeros(2, np.float32), np.ones(3, np.float32))
    with pytest.raises(ValueError, match="training=False"):
        F.batch_norm(x, None, None)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(np.ones((1, 3), np.float32), None, None, training=True)
    with pytest.raises(TypeError, match="dtype"):
        F.batch_norm(x, np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match=r"\(N, C, \*\)"):
        F.batch_norm(np.ones(3, np.float32), None, None, training=True)


def test_linear_with_no_output_features_has_gradients():
    """out_features = 0: an empty output, zero input gradient, empty weight and bias gradients."""
    x = nc.Tensor(np.random.default_rng(0).standard_normal((3, 5)), requires_grad=True)
    w = nc.Tensor(np.zeros((0, 5)), requires_grad=True)
    b = nc.Tensor(np.zeros(0), requires_grad=True)
    y = F.linear(x, w, b)
    assert y.shape == (3, 0)
    y.backward(np.zeros((3, 0)))
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 5)))
    assert w.grad.shape == (0, 5) and b.grad.shape == (0,)


def test_linear_with_no_input_features_is_its_bias(torch):
    """in_features = 0: the output is the bias, as in PyTorch (the sum over no features is 0)."""
    rng = np.random.default_rng(1)
    b = rng.standard_normal(3)
    x = nc.Tensor(np.zeros((2, 4, 0)), requires_grad=True)
    w = nc.Tensor(np.zeros((3, 0)), requires_grad=True)
    bt = nc.Tensor(b, requires_grad=True)
    y = F.linear(x, w, bt)
    g = rng.standard_normal((2, 4, 3))
    y.backward(g)
    tb = torch.tensor(b, requires_grad=True)
    ty = torch.nn.functional.linear(torch.zeros((2, 4, 0), dtype=torch.float64), torch.zeros((3, 0), dtype=torch.float64), tb)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_allclose(bt.grad.numpy(), tb.grad.numpy(), rtol=1e-12)
    assert x.grad.shape == (2, 4, 0) and w.grad.shape == (3, 0)
