"""Tensor operations and the autograd engine: every op against central differences (float64) and
against torch (values and gradients, float32 and float64); broadcasting, accumulation, graph
lifetime, no_grad, user Functions, dtypes and factories."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
from conftest import assert_close, torch_or_fail
from numconv.autograd import Function, gradcheck

# ----------------------------------------------------------------------------- the op table
# (id, fn(lib, *tensors) written once for numconv and torch alike, input shapes, which inputs must be > 0)

CASES = [
    ("neg", lambda L, a: -a, [(3, 4)], ()),
    ("add", lambda L, a, b: a + b, [(3, 4), (3, 4)], ()),
    ("add_broadcast", lambda L, a, b: a + b, [(3, 1, 4), (2, 1)], ()),
    ("add_scalar_reflected", lambda L, a: 2.5 + a, [(3,)], ()),
    ("sub_broadcast", lambda L, a, b: a - b, [(2, 3), (3,)], ()),
    ("sub_scalar_reflected", lambda L, a: 1.5 - a, [(2, 2)], ()),
    ("mul_broadcast", lambda L, a, b: a * b, [(4,), (2, 3, 4)], ()),
    ("mul_0d_broadcast", lambda L, a, b: a * b, [(), (2, 3)], ()),
    ("mul_scalar_reflected", lambda L, a: 3 * a, [(3,)], ()),
    ("mul_self", lambda L, a: a * a, [(5,)], ()),
    ("div_broadcast", lambda L, a, b: a / b, [(2, 3), (2, 1)], (1,)),
    ("div_scalar_reflected", lambda L, a: 2.0 / a, [(4,)], (0,)),
    ("pow_int", lambda L, a: a ** 3, [(4,)], ()),
    ("pow_float", lambda L, a: a ** 0.5, [(4,)], (0,)),
    ("pow_reflected", lambda L, a: 2.0 ** a, [(4,)], ()),
    ("pow_tensor_broadcast", lambda L, a, b: a ** b, [(2, 3), (3,)], (0,)),
    ("matmul", lambda L, a, b: a @ b, [(3, 4), (4, 2)], ()),
    ("matmul_batch_broadcast", lambda L, a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)], ()),
    ("matvec", lambda L, a, b: a @ b, [(2, 3), (3,)], ()),
    ("vecmat", lambda L, a, b: a @ b, [(3,), (3, 4)], ()),
    ("dot", lambda L, a, b: a @ b, [(3,), (3,)], ()),
    ("batch_matvec", lambda L, a, b: a @ b, [(2, 5, 3), (3,)], ()),
    ("vec_batch", lambda L, a, b: a @ b, [(3,), (2, 3, 4)], ()),
    ("exp", lambda L, a: a.exp(), [(3, 4)], ()),
    ("log", lambda L, a: a.log(), [(3, 4)], (0,)),
    ("sqrt", lambda L, a: a.sqrt(), [(3, 4)], (0,)),
    ("abs", lambda L, a: a.abs(), [(3, 4)], ()),
    ("clamp", lambda L, a: a.clamp(-0.5, 0.7), [(4, 5)], ()),
    ("clamp_min", lambda L, a: a.clamp(min=0.1), [(4, 5)], ()),
    ("relu", lambda L, a: a.relu(), [(4, 5)], ()),
    ("sigmoid", lambda L, a: a.sigmoid(), [(4, 5)], ()),
    ("tanh", lambda L, a: a.tanh(), [(4, 5)], ()),
    ("softmax_1", lambda L, a: a.softmax(1), [(3, 4, 2)], ()),
    ("softmax_0", lambda L, a: a.softmax(0), [(3, 4)], ()),
    ("log_softmax_last", lambda L, a: a.log_softmax(-1), [(3, 5)], ()),
    ("sum", lambda L, a: a.sum(), [(3, 4)], ()),
    ("sum_dim", lambda L, a: a.sum(1), [(3, 4, 2)], ()),
    ("sum_dims_keepdim", lambda L, a: a.sum((0, 2), keepdim=True), [(3, 4, 2)], ()),
    ("mean", lambda L, a: a.mean(), [(3, 4)], ()),
    ("mean_dim_keepdim", lambda L, a: a.mean(-1, keepdim=True), [(3, 4)], ()),
    ("mean_dims", lambda L, a: a.mean((0, 1)), [(2, 3, 4)], ()),
    ("var_dim", lambda L, a: a.var(1), [(3, 5)], ()),
    ("max_all", lambda L, a: a.max(), [(3, 4)], ()),
    ("max_dim", lambda L, a: a.max(1)[0], [(3, 4, 2)], ()),
    ("max_dim_keepdim", lambda L, a: a.max(dim=0, keepdim=True).values, [(3, 4)], ()),
    ("amax_dims", lambda L, a: a.amax((0, 2)), [(3, 4, 2)], ()),
    ("min_dim", lambda L, a: a.min(-1)[0], [(3, 4)], ()),
    ("min_all", lambda L, a: a.min(), [(3, 4)], ()),
    ("reshape", lambda L, a: a.reshape(4, 3) * L.arange(12.0).reshape(4, 3).to(a.dtype), [(3, 4)], ()),
    ("view_neg1", lambda L, a: a.view(-1, 2), [(3, 4)], ()),
    ("flatten", lambda L, a: a.flatten(), [(2, 3, 2)], ()),
    ("flatten_1", lambda L, a: a.flatten(1), [(2, 3, 2)], ()),
    ("flatten_1_2", lambda L, a: a.flatten(1, 2), [(2, 3, 2, 2)], ()),
    ("transpose", lambda L, a: a.transpose(0, 2), [(2, 3, 4)], ()),
    ("permute", lambda L, a: a.permute(2, 0, 1), [(2, 3, 4)], ()),
    ("T", lambda L, a: a.T @ a, [(3, 2)], ()),
    ("unsqueeze_squeeze", lambda L, a: a.unsqueeze(1).squeeze(), [(3, 4)], ()),
    ("expand", lambda L, a: a.expand(2, 3, 4), [(3, 1)], ()),
    ("getitem_int", lambda L, a: a[1], [(3, 4)], ()),
    ("getitem_slices", lambda L, a: a[:, 1:3], [(3, 4)], ()),
    ("getitem_none_ellipsis", lambda L, a: a[None, ..., 0], [(3, 4, 2)], ()),
    ("getitem_step_negative", lambda L, a: a[::2, -1], [(5, 4)], ()),
    ("getitem_int_array_repeats", lambda L, a: a[[0, 2, 0]], [(3, 4)], ()),
    ("getitem_two_arrays", lambda L, a: a[[0, 1, 1], [1, 2, 1]], [(3, 4)], ()),
    ("getitem_bool_mask", lambda L, a: a[np.array([True, False, True])], [(3, 4)], ()),
    ("cat", lambda L, a, b: L.cat([a, b, a], 1), [(2, 3), (2, 1)], ()),
    ("stack", lambda L, a, b: L.stack([a, b], 1), [(2, 3), (2, 3)], ()),
    ("clone", lambda L, a: a.clone() * 2, [(3,)], ()),
    ("cast_roundtrip", lambda L, a: (a.double() * 2).to(a.dtype), [(3,)], ()),
    ("where", lambda L, a, b: L.where(a > 0.2, a, b * 2), [(3, 4), (4,)], ()),
    ("where_scalar_other", lambda L, a: L.where(a < 0, 0.5, a), [(3, 4)], ()),
    ("where_method_broadcast_condition", lambda L, a, b: a.where(b > 0, b), [(3, 1), (2, 3, 4)], ()),
    ("split_sections", lambda L, a: (lambda p, q, r: p * 2 - q.sum(1, keepdim=True) + r)(*a.split([1, 3, 1], 1)),
     [(2, 5)], ()),
    ("split_size", lambda L, a: L.cat(a.split(2)[::-1], 0), [(5, 3)], ()),
    ("chunk", lambda L, a: a.chunk(3, -1)[1] * a.chunk(3, -1)[2], [(2, 6)], ()),
    ("split_function", lambda L, a: L.split(a, 2, 1)[0] + L.chunk(a, 2, 1)[1][:, :2], [(3, 4)], ()),
    ("composite", lambda L, a, b: ((a @ b).tanh() * a.sum(1, keepdim=True)).softmax(1).log(), [(3, 4), (4, 2)], ()),
]
IDS = [c[0] for c in CASES]


def _inputs(rng, shapes, positive, dtype=np.float64):
    out = []
    for i, s in enumerate(shapes):
        a = rng.standard_normal(s)
        if i in positive:
            a = np.abs(a) + 0.5
        out.append(np.asarray(a, dtype))
    return out


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck(case, rng):
    _, fn, shapes, positive = case
    xs = [nc.Tensor(a, requires_grad=True) for a in _inputs(rng, shapes, positive)]
    assert gradcheck(lambda *ts: fn(nc, *ts), xs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_against_torch(case, dtype, rng, torch):
    _, fn, shapes, positive = case
    arrays = _inputs(rng, shapes, positive, dtype)
    xs = [nc.Tensor(a.copy(), requires_grad=True) for a in arrays]
    y = fn(nc, *xs)
    assert y.dtype == dtype, f"output dtype {y.dtype}, expected {np.dtype(dtype)}"
    gy = rng.standard_normal(y.shape).astype(dtype)
    y.backward(gy)
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    yt = fn(torch, *ts)
    yt.backward(torch.from_numpy(gy))
    assert_close(y.numpy(), yt.detach().numpy(), dtype, what="value")
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert x.grad.dtype == dtype
        assert_close(x.grad.numpy(), t.grad.numpy(), dtype, what=f"grad of input {i}")


# ----------------------------------------------------------------------------- ties and special values


def test_max_ties_follow_torch(torch):
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    for fn in (lambda t: t.max(), lambda t: t.max(1)[0].sum(), lambda t: t.amax(1).sum(), lambda t: t.min(0)[0].sum()):
        x, xt = nc.Tensor(a.copy(), requires_grad=True), torch.tensor(a, requires_grad=True)
        fn(x).backward()
        fn(xt).backward()
        np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())
    v, i = nc.Tensor(a).max(1)
    np.testing.assert_array_equal(i.numpy(), [1, 0])
    assert i.dtype == np.int64 and not i.requires_grad


def test_kinks_follow_torch(torch):
    a = np.array([0.0, 1.0, -1.0, 0.5])
    for fn in (lambda t: t.abs(), lambda t: t.relu(), lambda t: t.clamp(-1.0, 0.5), lambda t: t ** 2, lambda t: t ** 0):
        x, xt = nc.Tensor(a.copy(), requires_grad=True), torch.tensor(a, requires_grad=True)
        fn(x).sum().backward()
        fn(xt).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())


def test_softmax_log_softmax_stable_for_huge_logits():
    x = nc.Tensor(np.array([[1000.0, 0.0, -1000.0], [-1e30, 1e30, 0.0]], np.float32), requires_grad=True)
    y = x.log_softmax(1)
    assert np.isfinite(y.numpy()[:, :2]).all() and np.isfinite(x.softmax(1).numpy()).all()
    np.testing.assert_allclose(x.softmax(1).numpy().sum(1), 1.0, rtol=1e-6)
    y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    s = nc.Tensor(np.array([-800.0, 800.0], np.float32)).sigmoid().numpy()
    np.testing.assert_array_equal(s, [0.0, 1.0])


def test_gather(torch, rng):
    a = rng.standard_normal((3, 4))
    idx = np.array([[0, 3, 0], [1, 1, 2], [2, 0, 3]])
    x, xt = nc.Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, yt = x.gather(1, idx), xt.gather(1, torch.from_numpy(idx))
    gy = rng.standard_normal(y.shape)
    y.backward(gy)
    yt.backward(torch.from_numpy(gy))
    assert_close(y.numpy(), yt.detach().numpy())
    assert_close(x.grad.numpy(), xt.grad.numpy(), what="gather gradient (repeated indices add up)")
    assert gradcheck(lambda t: t.gather(0, idx[:, :2] % 3), [nc.Tensor(a, requires_grad=True)])


# ----------------------------------------------------------------------------- the engine


def test_tensor_used_twice_accumulates():
    x = nc.Tensor(np.array([1.0, 2.0, -3.0]), requires_grad=True)
    y = x * x + x * 3 + x.exp().log()  # 2x + 3 + 1
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() + 4)


def test_grads_accumulate_over_backward_calls_and_broadcast():
    x = nc.Tensor(np.ones((1, 3)), requires_grad=True)
    b = nc.Tensor(np.ones(()), requires_grad=True)
    for _ in range(2):
        (x + b * nc.ones(4, 3, dtype=np.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((1, 3), 8.0))
    assert x.grad.shape == (1, 3) and b.grad.shape == ()
    assert b.grad.item() == 24.0


def test_graph_freed_after_backward():
    x = nc.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    z = (x * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * x.numpy() * 3)


# ----------------------------------------------------------------------------- autograd.grad


def _central_differences(fn, x, gy, eps=1e-6):
    """d(sum(fn(x) * gy))/dx by central differences, float64."""
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        p, m = x.copy(), x.copy()
        p[i] += eps
        m[i] -= eps
        out[i] = (np.sum(fn(p) * gy) - np.sum(fn(m) * gy)) / (2 * eps)
    return out


def test_grad_matches_central_differences_and_leaves_grad_alone(rng):
    F = nc.functional
    x0, w0 = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    gy = rng.standard_normal((2, 4, 2, 2))

    def f(x, w):
        return F.max_pool2d(F.conv2d(x, w, padding=1).tanh(), 3, 2)

    x, w = nc.Tensor(x0, requires_grad=True), nc.Tensor(w0, requires_grad=True)
    gx, gw = nc.autograd.grad(f(x, w), (x, w), gy)
    assert x.grad is None and w.grad is None  # no .grad touched
    fx = lambda a: f(nc.Tensor(a), nc.Tensor(w0)).numpy()  # noqa: E731
    fw = lambda a: f(nc.Tensor(x0), nc.Tensor(a)).numpy()  # noqa: E731
    np.testing.assert_allclose(gx.numpy(), _central_differences(fx, x0, gy), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gw.numpy(), _central_differences(fw, w0, gy), rtol=1e-5, atol=1e-7)
    (one,) = nc.autograd.grad(f(x, w), x, gy)  # a single input: a tuple of one
    np.testing.assert_array_equal(one.numpy(), gx.numpy())


def test_grad_of_an_intermediate_and_of_paths_that_meet(rng):
    a0 = rng.standard_normal(5)
    x = nc.Tensor(a0, requires_grad=True)
    h = x * 2 + 1  # not a leaf
    y = (h.tanh() * h).sum() + (h * x).sum()
    gh, gx = nc.autograd.grad(y, [h, x])
    t = np.tanh(2 * a0 + 1)
    np.testing.assert_allclose(gh.numpy(), (1 - t ** 2) * (2 * a0 + 1) + t + a0, rtol=1e-12)
    # x reaches y through h twice and directly once
    np.testing.assert_allclose(gx.numpy(), 2 * ((1 - t ** 2) * (2 * a0 + 1) + t + a0) + (2 * a0 + 1), rtol=1e-12)


def test_grad_runs_only_the_branches_that_lead_to_its_inputs(rng):
    calls = []

    class Counted(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 3

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            return g * 3

    x = nc.Tensor(rng.standard_normal(4), requires_grad=True)
    w = nc.Tensor(rng.standard_normal(4), requires_grad=True)
    y = (x * 2).sum() + Counted.apply(w).sum()
    (gx,) = nc.autograd.grad(y, x, retain_graph=True)
    np.testing.assert_array_equal(gx.numpy(), np.full(4, 2.0))
    assert calls == []
    (gw,) = nc.autograd.grad(y, w)
    np.testing.assert_array_equal(gw.numpy(), np.full(4, 3.0))
    assert calls == [1]
    with pytest.raises(RuntimeError, match="second time"):
        nc.autograd.grad(y, w)


def test_grad_refuses_unused_and_non_grad_inputs(rng):
    x = nc.Tensor(rng.standard_normal(3), requires_grad=True)
    unused = nc.Tensor(rng.standard_normal(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="input 1 .* not used"):
        nc.autograd.grad((x * x).sum(), (x, unused))
    gx, gu = nc.autograd.grad((x * x).sum(), (x, unused), allow_unused=True)
    np.testing.assert_allclose(gx.numpy(), 2 * x.numpy())
    assert gu is None
    with pytest.raises(RuntimeError, match="input 0 is not a Tensor that requires grad"):
        nc.autograd.grad((x * x).sum(), nc.Tensor(np.ones(3)))
    with pytest.raises(RuntimeError, match="single-element"):
        nc.autograd.grad(x * 2, x)


def test_backward_needs_scalar_or_gradient():
    x = nc.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="single-element"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])
    with pytest.raises(ValueError, match="shape"):
        (x * 2).backward(np.ones(2))
    with pytest.raises(RuntimeError, match="does not require grad"):
        nc.Tensor(np.ones(1)).backward()


def test_no_grad_records_nothing():
    x = nc.Tensor(np.ones(3), requires_grad=True)
    with nc.no_grad():
        y = (x * 2).exp().sum()
        assert not nc.autograd.is_grad_enabled()
        with nc.enable_grad():
            z = (x * 2).sum()
    assert nc.autograd.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and y.grad_fn is None
    assert z.requires_grad
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf


def test_user_defined_function():
    class Cube(Function):
        @staticmethod
        def forward(ctx, a, scale=1.0):
            ctx.save_for_backward(a)
            ctx.scale = scale
            return a ** 3 * scale

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return g * 3 * a ** 2 * ctx.scale

    x = nc.Tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    y = Cube.apply(x, scale=2.0)
    assert y.grad_fn is Cube
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy() ** 2)
    assert gradcheck(lambda t: Cube.apply(t * 1.5).sigmoid(), [nc.Tensor(np.array([0.1, -0.4]), requires_grad=True)])


def test_gradcheck_catches_a_wrong_backward():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 3

    with pytest.raises(AssertionError, match="gradcheck failed"):
        gradcheck(lambda t: Wrong.apply(t), [nc.Tensor(np.ones(2), requires_grad=True)])


def test_comparisons_are_bool_without_graph():
    x = nc.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    for r, expect in [(x > 2, [0, 0, 1]), (x >= 2, [0, 1, 1]), (x < 2, [1, 0, 0]), (x <= 2, [1, 1, 0]),
                      (x == 2, [0, 1, 0]), (x != 2, [1, 0, 1]), (2 < x, [0, 0, 1])]:
        assert r.dtype == np.bool_ and not r.requires_grad
        np.testing.assert_array_equal(r.numpy(), np.array(expect, bool))
    assert (x == x).numpy().all()
    assert len({x, x * 1}) == 2  # hashable by identity
    acc = ((x > 1.5).float() == nc.tensor([0.0, 1.0, 1.0])).float().mean()
    assert acc.item() == 1.0 and acc.dtype == np.float32


def test_argmax_argmin():
    a = np.array([[1.0, 5.0, 5.0], [7.0, 0.0, 2.0]])
    x = nc.Tensor(a, requires_grad=True)
    assert x.argmax().item() == 3 and x.argmax().dtype == np.int64
    np.testing.assert_array_equal(x.argmax(1).numpy(), [1, 0])
    np.testing.assert_array_equal(x.argmax(0, keepdim=True).numpy(), [[1, 0, 0]])
    np.testing.assert_array_equal(x.argmin(1).numpy(), [0, 1])
    assert not x.argmax(1).requires_grad


def test_inplace_rules():
    w = nc.Tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(RuntimeError, match="in place"):
        w -= 1.0
    with pytest.raises(RuntimeError, match="in place"):
        w[0] = 2.0
    data = w.data
    with nc.no_grad():
        w -= 0.5 * nc.ones(3)
        w *= 2
        w[1] = 7.0
    assert w.data is data and w.dtype == np.float32
    np.testing.assert_array_equal(w.numpy(), [1.0, 7.0, 1.0])
    acc = nc.zeros(3)
    acc += w * 2  # acc does not require grad: it joins the graph, changed in place
    assert acc.requires_grad
    acc.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 2.0, 2.0])
    w.grad.zero_()
    assert (w.grad.numpy() == 0).all()


# ----------------------------------------------------------------------------- dtypes


def test_dtype_rules():
    f32 = nc.tensor([1.0, 2.0])
    assert f32.dtype == np.float32
    assert nc.Tensor(np.array([1.0, 2.0])).dtype == np.float64
    assert nc.Tensor(np.float64(2.0)).dtype == np.float64 and nc.Tensor(2.0).dtype == np.float32
    assert nc.tensor([1, 2]).dtype == np.int64
    for y in (f32 + 1.5, 1.5 * f32, f32 / np.float64(3.0), f32 ** 2, 2.0 ** f32, f32 - np.int64(1), -f32, f32.exp(),
              f32 * np.array([1, 2]), f32.softmax(0), f32.mean()):
        assert y.dtype == np.float32, y
    f64 = nc.Tensor(np.array([1.0, 2.0]))
    assert (f64 * 2.0).dtype == np.float64 and (f64 + np.float32(1)).dtype == np.float64
    assert (nc.arange(3) * 1.5).dtype == np.float32 and (nc.arange(3) * 2).dtype == np.int64
    x = nc.Tensor(np.ones(2, np.float32), requires_grad=True)
    y = (x * f64).sum()
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float32  # gradients take their input's dtype
    assert x.double().dtype == np.float64 and x.astype("float64").dtype == np.float64 and x.float() is x
    assert x.long().dtype == np.int64 and not x.long().requires_grad
    with pytest.raises(TypeError, match="floating"):
        nc.tensor([1, 2], requires_grad=True)


def test_factories_and_seed():
    assert nc.zeros(2, 3).shape == (2, 3) and nc.zeros((2, 3)).dtype == np.float32
    assert nc.ones(2, dtype=np.float64).dtype == np.float64
    assert nc.zeros_like(nc.ones(2, dtype=np.float64)).dtype == np.float64
    assert nc.ones_like(np.zeros((2, 2), np.float32)).numpy().sum() == 4
    assert nc.full((2,), 3).dtype == np.int64 and nc.full((2,), 3.0).dtype == np.float32
    assert nc.arange(5).dtype == np.int64 and nc.arange(0, 1, 0.25).dtype == np.float32
    np.testing.assert_array_equal(nc.arange(2, 8, 2).numpy(), [2, 4, 6])
    w = nc.randn(3, 2, requires_grad=True)
    assert w.requires_grad and w.dtype == np.float32 and w.is_leaf
    nc.manual_seed(123)
    a, u = nc.randn(1000), nc.rand(1000, dtype=np.float64)
    nc.manual_seed(123)
    np.testing.assert_array_equal(a.numpy(), nc.randn(1000).numpy())
    assert u.dtype == np.float64 and 0 <= u.numpy().min() and u.numpy().max() < 1
    assert abs(a.numpy().mean()) < 0.15 and abs(a.numpy().std() - 1) < 0.1
    assert nc.random.generator() is nc.random.generator()
    p = nc.randperm(10).numpy()
    assert sorted(p.tolist()) == list(range(10))
    r = nc.randint(3, 7, (50,)).numpy()
    assert r.min() >= 3 and r.max() < 7 and r.dtype == np.int64
    src = np.arange(3.0)
    assert nc.tensor(src).data is not src and nc.Tensor(src).data is src  # tensor() copies, Tensor() shares


def test_shape_helpers_and_errors():
    x = nc.randn(2, 3, 4)
    assert x.size() == (2, 3, 4) and x.size(-1) == 4 and x.size == 24 and x.numel() == 24 and x.dim() == 3
    assert len(x) == 2 and [t.shape for t in x] == [(3, 4), (3, 4)]
    assert x.T.shape == (4, 3, 2) and x.flatten(0, 1).shape == (6, 4)
    with pytest.raises(IndexError, match="out of range"):
        x.sum(3)
    with pytest.raises(ValueError, match="permutation"):
        x.permute(0, 0, 1)
    with pytest.raises(ValueError, match="broadcast"):
        x.expand(2, 5, 4)
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    assert float(nc.tensor(2.5)) == 2.5 and "requires_grad=True" in repr(nc.ones(1, requires_grad=True))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_relu_one_pass_kernels_match_numpy_and_torch(dtype):
    """The fused ReLU kernels (ops.math.relu / relu_backward) on a large random array with NaN, +-0
    and inf sprinkled in: forward max(x, 0) with NaN kept, backward 0 where y <= 0 and g elsewhere
    (torch's rule: a NaN output passes g, an infinite g is zeroed); a broadcast gradient takes the general path."""
    from numconv.ops import math as M

    rng = np.random.default_rng(7)
    x = rng.standard_normal(100_003).astype(dtype)
    x[rng.integers(0, x.size, 50)] = np.nan
    x[rng.integers(0, x.size, 50)] = -0.0
    x[rng.integers(0, x.size, 50)] = np.inf
    g = rng.standard_normal(x.size).astype(dtype)
    g[rng.integers(0, x.size, 50)] = -np.inf
    y = M.relu(x)
    np.testing.assert_array_equal(y, np.where(np.isnan(x), x, np.maximum(x, 0)))
    gx = M.relu_backward(g, y)
    np.testing.assert_array_equal(gx, np.where(y <= 0, 0, g))
    torch = torch_or_fail()
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt = torch.relu(xt)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(y, yt.detach().numpy())
    np.testing.assert_array_equal(gx, xt.grad.numpy())
    gb = M.relu_backward(np.float64(2.0) * np.ones((1,), dtype), y[:5])  # broadcast: the general ops
    np.testing.assert_array_equal(gb, np.where(y[:5] <= 0, 0.0, 2.0).astype(dtype))


def test_leaf_gradients_never_alias_what_else_holds_them(rng):
    """Add's backward hands the same array to both inputs, and the seed is the caller's array: each
    leaf's .grad must be its own copy. Changing one .grad in place changes nothing else."""
    a = nc.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = nc.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    gy = rng.standard_normal((3, 4))
    keep = gy.copy()
    (a + b).backward(gy)
    a.grad.data[...] = 7.0
    np.testing.assert_array_equal(b.grad.numpy(), keep)
    np.testing.assert_array_equal(gy, keep)


@pytest.mark.parametrize("op", ["linear", "conv2d", "batch_norm"])
def test_fresh_gradients_kept_without_copy_still_accumulate(op, rng):
    """Functions whose backward makes new arrays (``fresh_grads``) hand them to leaves uncopied: a
    second backward adds to the first, and changing a .grad in place changes no saved array or
    later gradient."""
    import numconv.functional as F

    x = nc.Tensor(rng.standard_normal((4, 3, 5, 5)), requires_grad=True)
    if op == "linear":
        w, b = nc.Tensor(rng.standard_normal((6, 5)), requires_grad=True), nc.Tensor(rng.standard_normal(6), requires_grad=True)
        f = lambda: F.linear(x, w, b)  # noqa: E731
    elif op == "conv2d":
        w, b = nc.Tensor(rng.standard_normal((2, 3, 3, 3)), requires_grad=True), nc.Tensor(rng.standard_normal(2), requires_grad=True)
        f = lambda: F.conv2d(x, w, b, padding=1)  # noqa: E731
    else:
        w, b = nc.Tensor(rng.standard_normal(3) + 2, requires_grad=True), nc.Tensor(rng.standard_normal(3), requires_grad=True)
        f = lambda: F.batch_norm(x, None, None, w, b, training=True)  # noqa: E731
    y = f()
    gy = rng.standard_normal(y.shape)
    y.backward(gy, retain_graph=True)
    first = {name: t.grad.numpy().copy() for name, t in (("x", x), ("w", w), ("b", b))}
    for t in (x, w, b):
        t.grad.data[...] = 0.0  # in place: must reach nothing the graph saved
    y.backward(gy)
    for name, t in (("x", x), ("w", w), ("b", b)):
        np.testing.assert_allclose(t.grad.numpy(), first[name], rtol=1e-12, atol=1e-12, err_msg=name)
    for t in (x, w, b):
        t.grad = None
    f().backward(gy)
    f().backward(gy)
    for name, t in (("x", x), ("w", w), ("b", b)):
        np.testing.assert_allclose(t.grad.numpy(), 2 * first[name], rtol=1e-10, atol=1e-10, err_msg=name)


@pytest.mark.filterwarnings("ignore:divide by zero")  # NumPy's 0 ** -1 warning; the inf is the point
def test_gradients_where_formulas_meet_zero_times_inf_match_torch():
    """PyTorch's rules at the edges a review helper found NaN at: pow at base 0 and exponent 0 (both
    operands, scalar base too), abs at NaN (sgn(NaN) = 0), std of a constant slice (0, not NaN),
    cross-entropy and nll with every target ignored (NaN loss, gradient 0), and float ops of an
    integer tensor (float32, as torch)."""
    torch = torch_or_fail()

    def both(fn, *arrays):
        ours = [nc.Tensor(x.copy(), requires_grad=True) for x in arrays]
        theirs = [torch.tensor(x.copy(), requires_grad=True) for x in arrays]
        fn(*ours).sum().backward()
        fn(*theirs).sum().backward()
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-6, equal_nan=True)

    both(lambda x, y: x ** y, np.array([0., 0., 0., 2., -1.]), np.array([0., -1., 2., 0., 2.]))
    both(lambda y: 0.0 ** y, np.array([1., 0., -1.]))
    both(lambda y: 2.0 ** y, np.array([1., -1.]))
    both(lambda x: x ** -1.0, np.array([0., 2.]))
    both(lambda x: x.abs(), np.array([np.nan, -2., 0., 3.]))
    both(lambda x: x.std(1), np.array([[1., 1., 1.], [1., 2., 3.]]))
    logits = np.random.default_rng(0).standard_normal((3, 4))
    for target in ([-100, -100, -100], [1, -100, 2]):
        for kw in ({}, {"label_smoothing": 0.1}):
            ours = nc.Tensor(logits.copy(), requires_grad=True)
            theirs = torch.tensor(logits.copy(), requires_grad=True)
            lo = nc.F.cross_entropy(ours, np.array(target), **kw)
            lt = torch.nn.functional.cross_entropy(theirs, torch.tensor(target), **kw)
            lo.backward()
            lt.backward()
            np.testing.assert_allclose(lo.item(), lt.item(), rtol=1e-6, equal_nan=True)
            np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6, atol=1e-12)
    ints = np.array([-1, 2])
    for name in ("sigmoid", "tanh", "exp"):
        got = getattr(nc.Tensor(ints), name)()
        assert got.dtype == np.float32, name
        np.testing.assert_allclose(got.numpy(), getattr(torch.tensor(ints), name)().numpy(), rtol=1e-6)


def test_softmax_of_integers_and_over_an_empty_axis(torch):
    """Integers become float32 first (as exp and log do); an empty axis gives an empty result, as in torch."""
    a = np.array([[1, 2, 3], [0, 0, 0]])
    want = torch.softmax(torch.tensor(a, dtype=torch.float32), 1).numpy()
    assert nc.Tensor(a).softmax(1).dtype == np.float32
    assert np.allclose(nc.Tensor(a).softmax(1).numpy(), want, atol=1e-6)
    assert np.allclose(nc.Tensor(a).log_softmax(1).numpy(), np.log(want), atol=1e-6)
    x = nc.Tensor(np.zeros((2, 0, 3)), requires_grad=True)
    y = x.log_softmax(1)
    assert y.shape == (2, 0, 3)
    y.sum().backward()
    assert x.grad.shape == (2, 0, 3)


def test_permute_refuses_dims_out_of_range():
    t = nc.Tensor(np.arange(6.0).reshape(2, 3))
    assert t.permute(-1, 0).shape == (3, 2)
    for dims in [(1, 2), (0, -3)]:
        with pytest.raises(ValueError, match=r"permutation of the 2 dimensions \(each in \[-2, 1\]\)"):
            t.permute(*dims)
    with pytest.raises(ValueError, match="permutation of the 3 dimensions"):
        nc.Tensor(np.zeros((2, 3, 4))).permute(3, 1, 2)


def test_a_cpu_torch_tensor_becomes_numpy_values(torch):
    t = nc.tensor(torch.arange(6.0).reshape(2, 3))
    assert isinstance(t.data, np.ndarray) and t.dtype == np.float32 and t.device == "cpu"
    assert np.array_equal((t + 1).numpy(), np.arange(1.0, 7.0).reshape(2, 3))


def test_clamp_with_tensor_bounds():
    x = nc.Tensor(np.array([-1.0, 0.5, 4.0]), requires_grad=True)
    lo, hi = nc.Tensor(np.array([0.0, 0.0, 0.0])), nc.Tensor(np.array([1.0, 1.0, 3.0]))
    y = x.clamp(lo, hi)
    assert y.numpy().tolist() == [0.0, 0.5, 3.0]
    y.sum().backward()
    assert x.grad.numpy().tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="clamp: max requires grad"):
        x.clamp(max=nc.Tensor(np.ones(3), requires_grad=True))


def test_an_empty_dim_tuple_reduces_everything_as_torch(rng, torch):
    """sum/mean/amax/var over dim=() reduce every dimension, as PyTorch's reductions do; squeeze(())
    keeps every dimension."""
    x = rng.standard_normal((2, 1, 3))
    t = torch.from_numpy(x)
    for name in ("sum", "mean", "amax", "var"):
        for dim in ((), []):
            got = getattr(nc.Tensor(x), name)(dim=dim)
            want = getattr(t, name)(dim=dim).numpy()
            assert got.shape == want.shape and np.allclose(got.numpy(), want), (name, dim)
    assert nc.Tensor(x).squeeze(()).shape == t.squeeze(()).shape == (2, 1, 3)
    g = nc.Tensor(x, requires_grad=True)
    g.sum(dim=()).backward()
    assert np.array_equal(g.grad.numpy(), np.ones_like(x))


def test_single_dim_ops_refuse_a_tuple():
    x = nc.Tensor(np.arange(6.0).reshape(2, 3))
    for call in (lambda: x.softmax((0,)), lambda: x.log_softmax((1,)), lambda: x.argmax((0,)),
                 lambda: nc.cat([x, x], dim=(0,)), lambda: x.transpose((0,), 1), lambda: x.size((1,))):
        with pytest.raises(TypeError, match="must be an int"):
            call()
    s = nc.Tensor(np.array(2.0))
    assert s.transpose(0, -1).shape == () and float(s.softmax(0).numpy()) == 1.0
    with pytest.raises(ValueError, match="0-d tensors cannot be concatenated"):
        nc.cat([s, s])
    with pytest.raises(IndexError, match="no dimensions"):
        s.size(0)


@pytest.mark.parametrize("xs", [[-1.0, -0.2, 0.5, 2.0], [0.0, -1.0, -3.0, 0.0], [np.nan, 1.0, 2.0, -1.0],
                                [np.nan, np.nan, 1.0, 4.0]])
@pytest.mark.parametrize("op", ["clamp", "clamp_both", "max", "min", "amax", "max_dim"])
def test_an_infinite_upstream_gradient_stays_off_what_a_select_drops(op, xs, torch):
    """clamp's and max()'s backward select (PyTorch's where(mask, g, 0)): an inf or NaN gradient from
    above (sqrt at 0, as in the clamp(min=0).sqrt() distance pattern) gave NaN to the entries they
    drop. amax multiplies, as PyTorch's does."""
    calls = {"clamp": lambda t: t.clamp(min=0), "clamp_both": lambda t: t.clamp(-0.5, 0.0),
             "max": lambda t: t.max(), "min": lambda t: t.min(), "amax": lambda t: t.amax(0),
             "max_dim": lambda t: t.max(0)[0]}
    x = nc.Tensor(np.array(xs), requires_grad=True)
    with np.errstate(all="ignore"):
        calls[op](x).abs().sqrt().sum().backward()
    t = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    calls[op](t).abs().sqrt().sum().backward()
    # the point is where NaN and inf land; the finite values may differ in the last bit (torch's
    # vectorized division on some CPUs)
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=4e-16, atol=0)


@pytest.mark.parametrize("kw", [dict(correction=0), dict(correction=2), dict(correction=0.5), dict(unbiased=False), {}])
def test_var_and_std_take_correction_as_torch(kw, rng, torch):
    x = rng.standard_normal((4, 5))
    for name in ("var", "std"):
        ours = nc.Tensor(x, requires_grad=True)
        theirs = torch.tensor(x, requires_grad=True)
        y, ty = getattr(ours, name)(1, **kw), getattr(theirs, name)(1, **kw)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-13)
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="not both"):
        nc.Tensor(x).var(0, unbiased=True, correction=1)
    with pytest.raises(ValueError, match="correction"):
        nc.Tensor(x).std(correction=-1)


# ----------------------------------------------------------------------------- found by the Tensor review

@pytest.mark.parametrize("values", [np.array([0, 5, 3], np.uint8), np.array([np.iinfo(np.int64).min, 0, 5]),
                                    np.array([True, False, True]), np.array([2.5, -1.0, np.nan, -1.0])],
                         ids=["uint8", "int64_min", "bool", "float_nan"])
def test_min_is_its_own_reduction_as_torch(values, torch):
    """min was -(-x).max(): 3 for uint8 [0, 5, 3], 0 for [INT64_MIN, 0, 5], a TypeError for bool."""
    t, tt = nc.Tensor(values), torch.from_numpy(values)
    np.testing.assert_array_equal(t.min().numpy(), tt.min().numpy())
    np.testing.assert_array_equal(t.amin().numpy(), tt.amin().numpy())
    v, i = t.min(0)
    tv, ti = tt.min(0)
    np.testing.assert_array_equal(v.numpy(), tv.numpy())
    if not np.isnan(values.astype(float)).any():  # torch's index of a NaN minimum is its own rule
        assert int(i.item()) == int(ti.item())


def test_min_gradient_and_arg_keepdim_and_empty_reductions_as_torch(rng, torch):
    x = rng.standard_normal((3, 4))
    x[1, 2] = x[1, 0]  # a tie
    for fn in (lambda t: t.min(), lambda t: t.min(1).values, lambda t: t.amin((0,)), lambda t: t.amin((0, 1))):
        ours, theirs = nc.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        g = rng.standard_normal(tuple(fn(theirs).shape))
        fn(ours).backward(nc.Tensor(g))
        fn(theirs).backward(torch.tensor(g))
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-15)
    for name in ("argmax", "argmin"):
        ours, theirs = getattr(nc.Tensor(x), name)(keepdim=True), getattr(torch.tensor(x), name)(keepdim=True)
        assert ours.shape == tuple(theirs.shape) and int(ours.numpy().ravel()[0]) == int(theirs.item())
    empty = nc.Tensor(np.zeros((0, 3)))
    assert empty.max(1).values.shape == (0,) and empty.amin(1).shape == (0,)
    for call in (lambda t: t.max(), lambda t: t.min(0), lambda t: t.amax((0,))):
        with pytest.raises(ValueError, match="of an empty tensor .shape .0, 3.."):
            call(empty)


@pytest.mark.parametrize("index", [
    (0, slice(None), [1, 2]), (np.array(1), slice(None), [2, 0]), (0, None, [1, 2]), (0, Ellipsis, [1, 2]),
    (slice(None), 0, slice(None), [1, 2]), ([0, 1], 0, [1, 2]), ([1, 0], slice(None), 0, [3, 2]),
    (1, slice(None), np.array([True, False, True, True]), 1), (slice(None), [0, 2], 1),
    (slice(None), [0, 1], Ellipsis, [1, 2], slice(None)), ([1, 0], Ellipsis, [2, 1], slice(None), slice(None)),
    (slice(None), [0, 1], Ellipsis, slice(None), [1, 2])],
    ids=["int_slice_array", "0d_slice_array", "int_none_array", "int_ellipsis_array", "slice_int_slice_array",
         "arrays_around_int", "arrays_apart", "bool_mask", "adjacent", "ellipsis_of_nothing_between_arrays",
         "ellipsis_of_nothing_first", "ellipsis_of_one_between_arrays"])
def test_an_integer_apart_from_array_indices_lays_out_as_torch(index, rng, torch):
    """NumPy moves the dimensions of array indices first when an integer stands apart from them
    (x[0, :, [1, 2]] on (2, 3, 4, 5): (2, 3, 5)); PyTorch applies the integer first (3, 2, 5).
    Values, assignment of a value in PyTorch's layout, and both gradients."""
    x = rng.standard_normal((2, 3, 4, 5))
    tindex = tuple(torch.tensor(p) if isinstance(p, (list, np.ndarray)) else p for p in index)
    want = torch.from_numpy(x)[tindex].numpy()
    got = nc.Tensor(x)[index].numpy()
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    value = rng.standard_normal(want.shape)
    ours, theirs = nc.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    v_ours, v_theirs = nc.Tensor(value, requires_grad=True), torch.tensor(value, requires_grad=True)
    a, b = ours * 2.0, theirs * 2.0
    a[index] = v_ours
    b[tindex] = v_theirs
    np.testing.assert_array_equal(a.numpy(), b.detach().numpy())
    g = rng.standard_normal(x.shape)
    (a * nc.Tensor(g)).sum().backward()
    (b * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-15)
    np.testing.assert_allclose(v_ours.grad.numpy(), v_theirs.grad.numpy(), rtol=1e-15)
    read = nc.Tensor(x, requires_grad=True)
    read[index].backward(nc.Tensor(value))
    tread = torch.tensor(x, requires_grad=True)
    tread[tindex].backward(torch.tensor(value))
    np.testing.assert_allclose(read.grad.numpy(), tread.grad.numpy(), rtol=1e-15)


@pytest.mark.parametrize("index", [(True, slice(None), [1, 2]), (0, True, slice(None), [1, 2]),
                                   (np.array(True), slice(None), [0, 2]), (np.bool_(False), 0, slice(None), [1]),
                                   (0, slice(None), True), (0, None, False), (0, slice(None), np.array(True)),
                                   (1, slice(None), slice(None), True, 2)],
                         ids=["true_apart", "int_true_apart", "0d_bool", "false_int", "int_slice_true",
                              "int_none_false", "int_slice_0d_true", "ints_around_true"])
def test_a_boolean_scalar_index_keeps_numpys_and_torchs_layout(index, rng, torch):
    """A boolean scalar is an index of its own (a new dimension of 1 or 0), not an integer: it
    crashed the layout rule for integers apart from array indices; and, apart from an integer, it
    takes its own place in PyTorch's layout (x[0, :, True] is (3, 1, ...), NumPy's (1, 3, ...))."""
    x = rng.standard_normal((2, 3, 4, 5))
    tindex = tuple(torch.tensor(p) if isinstance(p, (list, np.ndarray)) else bool(p) if isinstance(p, np.bool_)
                   else p for p in index)
    want = torch.from_numpy(x)[tindex].numpy()
    got = nc.Tensor(x)[index].numpy()
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    y = nc.Tensor(x.copy())
    y[index] = np.full(want.shape, 7.0)
    t = torch.from_numpy(x.copy())
    t[tindex] = 7.0
    np.testing.assert_array_equal(y.numpy(), t.numpy())


def test_assigned_values_with_leading_ones_and_empty_list_indices_as_torch(rng, torch):
    x = rng.standard_normal((4, 3))
    for index, shape in [(1, (1, 3)), ((1, 2), (1,)), (x > 0, (1, 1))]:
        value = rng.standard_normal(shape)
        ours, theirs = nc.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        v_ours, v_theirs = nc.Tensor(value, requires_grad=True), torch.tensor(value, requires_grad=True)
        a, b = ours * 1.0, theirs * 1.0
        tindex = torch.from_numpy(index) if isinstance(index, np.ndarray) else index
        a[index] = v_ours
        b[tindex] = v_theirs
        np.testing.assert_array_equal(a.numpy(), b.detach().numpy())
        a.sum().backward()
        b.sum().backward()
        np.testing.assert_array_equal(v_ours.grad.numpy(), v_theirs.grad.numpy())
    with pytest.raises(ValueError, match=r"value of shape \(2, 3\) to a region of shape \(3,\)"):
        nc.Tensor(x)[1] = np.ones((2, 3))
    assert nc.Tensor(x)[[]].shape == (0, 3) and nc.Tensor(x)[:, []].shape == (4, 0)


def test_promotion_of_cat_stack_clamp_and_integer_powers_as_torch(torch):
    i, f = np.array([1, 2]), np.array([0.5, 1.5], np.float32)
    for fn in ("cat", "stack"):
        assert getattr(nc, fn)([nc.Tensor(i), nc.Tensor(f)]).dtype == np.float32
    assert nc.Tensor(i).clamp(0.5).dtype == np.float32
    assert nc.Tensor(f).clamp(nc.Tensor(np.array([1, 1]))).dtype == np.float32
    base, exponent = np.array([0, 1, -1, 2, -2, 3, 0, -1, 5]), np.array([-1, -3, -3, -1, -1, -2, 0, -2, 2])
    want = (torch.from_numpy(base) ** torch.from_numpy(exponent)).numpy()
    np.testing.assert_array_equal((nc.Tensor(base) ** nc.Tensor(exponent)).numpy(), want)
    np.testing.assert_array_equal((2 ** nc.Tensor(np.array([-1, 2]))).numpy(), [0, 4])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_dtype_casts_first_as_torch(torch, rng, name):
    """``dtype=``: the input is cast before the op (float32 logits, a float64 result and a float32
    gradient; integer logits allowed), through the Tensor method and ``functional``."""
    x = rng.standard_normal((3, 5)).astype(np.float32)
    gy = rng.standard_normal((3, 5))
    tx = torch.tensor(x, requires_grad=True)
    want = getattr(torch, name)(tx, 1, dtype=torch.float64)
    want.backward(torch.tensor(gy))
    t = nc.Tensor(x.copy(), requires_grad=True)
    got = getattr(t, name)(1, dtype=np.float64)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-15)
    got.backward(nc.Tensor(gy))
    assert t.grad.dtype == np.float32
    np.testing.assert_allclose(t.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-7)
    ints = rng.integers(-3, 4, (2, 4))
    got = getattr(nc.functional, name)(ints, dim=0, dtype="float64")
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    np.testing.assert_allclose(got, getattr(torch, name)(torch.tensor(ints), 0, dtype=torch.float64).numpy(), rtol=1e-12)
    for bad in (np.int64, "complex64", torch.float64):
        with pytest.raises(TypeError, match=f"{name} dtype must be float32 or float64"):
            getattr(nc.functional, name)(x, 1, dtype=bad)


def test_backward_and_grad_arguments_as_torch(torch, rng):
    """torch's positional order (gradient, retain_graph, create_graph, inputs), several roots, ``inputs``."""
    a = rng.standard_normal(3)
    x = nc.Tensor(a.copy(), requires_grad=True)
    (x * 3).sum().backward(None, False, False)  # create_graph=False, not a zero gradient
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0, 3.0])
    with pytest.raises(TypeError, match="gradient to start backward from"):
        (x * 3).sum().backward(False)
    # several roots: their gradients add up; autograd.grad likewise; inputs limits what gets .grad
    w = rng.standard_normal(3)
    ours = {k: nc.Tensor(a.copy(), requires_grad=True) for k in "xy"}
    theirs = {k: torch.tensor(a.copy(), requires_grad=True) for k in "xy"}
    for lib, t, T in ((nc.autograd, ours, nc.Tensor), (torch.autograd, theirs, torch.tensor)):
        u, v = (t["x"] * t["y"]).exp(), (t["x"] * T(w)).sum()
        lib.backward([u, v], [T(w), None], inputs=[t["x"]])
    np.testing.assert_allclose(ours["x"].grad.numpy(), theirs["x"].grad.numpy(), rtol=1e-12)
    assert ours["y"].grad is None and theirs["y"].grad is None
    x, y = nc.Tensor(a.copy(), requires_grad=True), nc.Tensor(w.copy(), requires_grad=True)
    gx, gy, gz = nc.autograd.grad([(x * y).sum(), (x * x).sum()], [x, y, nc.Tensor(a, requires_grad=True)],
                                  materialize_grads=True)
    np.testing.assert_allclose(gx.numpy(), w + 2 * a, rtol=1e-12)
    np.testing.assert_allclose(gy.numpy(), a, rtol=1e-12)
    np.testing.assert_array_equal(gz.numpy(), np.zeros(3))
    with pytest.raises(RuntimeError, match="inputs is empty"):
        nc.autograd.grad((x * 2).sum(), [])


def test_grad_is_accumulated_in_place_and_checked_when_assigned(rng):
    x = nc.Tensor(rng.standard_normal(2), requires_grad=True)
    (x * x).sum().backward()
    g = x.grad
    (x * x).sum().backward()
    assert g is x.grad  # as torch: a reference to .grad sees the sum
    np.testing.assert_allclose(g.numpy(), 4 * x.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        x.grad = nc.zeros(3, 2, dtype=np.float64)
    with pytest.raises(TypeError, match="float32"):
        x.grad = nc.zeros(2, dtype=np.float32)
    with pytest.raises(TypeError, match="Tensor or None"):
        x.grad = [1.0, 2.0]
    frozen = np.broadcast_to(np.ones(1), (2,))  # read-only: the next gradient makes a new .grad
    x.grad = frozen
    (x * 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError, match="not a leaf"):
        y.requires_grad = False  # would cut the graph silently
    with pytest.raises(TypeError, match="floating-point"):
        nc.Tensor(np.arange(3)).requires_grad = True


def test_grad_modes_as_context_managers_and_decorators():
    x = nc.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    cm = nc.set_grad_enabled(False)
    assert nc.autograd.is_grad_enabled() is False  # a call changes the mode at once
    with cm:
        pass
    assert nc.autograd.is_grad_enabled() is True  # the mode from before the call
    with cm:  # entered again: its mode again
        assert not (x * 2).requires_grad
    ng = nc.no_grad()
    with ng:
        with ng:  # one instance, nested
            assert not (x * 2).requires_grad
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad

    @nc.no_grad  # bare, as torch 2 allows
    def bare():
        return (x * 2).requires_grad

    @nc.no_grad()
    def steps():
        yield (x * 2).requires_grad
        yield (x * 3).requires_grad

    it = steps()
    assert next(it) is False
    assert (x * 2).requires_grad  # between steps, the caller's mode
    assert next(it) is False and not bare()

    @nc.inference_mode
    def inferred():
        return (x * 2).requires_grad

    with nc.no_grad():
        assert nc.enable_grad()(lambda: (x * 2).requires_grad)() and not inferred()
    with pytest.raises(TypeError, match="True or False"):
        nc.set_grad_enabled("no")


def test_a_hook_returning_a_number_is_a_type_error():
    x = nc.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x.register_hook(lambda g: 5.0)
    with pytest.raises(TypeError, match="hook must return a Tensor or None"):
        (x * 2).sum().backward()


def test_grad_mode_generators_that_end_at_once_or_after_a_throw():
    @nc.no_grad()
    def empty():
        return
        yield

    @nc.no_grad()
    def catches():
        try:
            yield 1
        except ValueError:
            return 5

    assert list(empty()) == []
    it = catches()
    assert next(it) == 1
    with pytest.raises(StopIteration) as stop:
        it.throw(ValueError())
    assert stop.value.value == 5


# ----------------------------------------------------------------------------- found by the session-24 review


def test_backward_inputs_with_retain_grad_counts_the_gradient_once(rng, torch):
    """backward(inputs=[h]) on a non-leaf h that retains its grad: dL/dh once (it was added twice)."""
    a = rng.standard_normal(3)
    for retain in (False, True):
        x, w = nc.Tensor(a, requires_grad=True), nc.Tensor(a[::-1].copy(), requires_grad=True)
        tx, tw = torch.tensor(a, requires_grad=True), torch.tensor(a[::-1].copy(), requires_grad=True)
        h, th = x * w, tx * tw
        if retain:
            h.retain_grad()
            th.retain_grad()
        h.exp().sum().backward(inputs=[h])
        th.exp().sum().backward(inputs=[th])
        np.testing.assert_allclose(h.grad.numpy(), th.grad.numpy(), rtol=1e-12)
        assert x.grad is None and w.grad is None


def test_index_arrays_changed_after_the_forward_do_not_move_the_gradient(rng):
    """A NumPy index (or index tensor) shuffled in place between forward and backward: the gradient goes
    to the rows the forward read (the index is copied), not to the shuffled ones."""
    a = rng.standard_normal((4, 3))
    gy = rng.standard_normal((3, 3))
    for make in (np.array, lambda v: nc.tensor(v)):
        idx = make([0, 1, 1])
        x = nc.Tensor(a, requires_grad=True)
        y = x[idx]
        if isinstance(idx, nc.Tensor):
            idx[:] = nc.tensor([3, 2, 2])
        else:
            idx[:] = [3, 2, 2]
        (y * nc.Tensor(gy)).sum().backward()
        want = np.zeros_like(a)
        np.add.at(want, [0, 1, 1], gy)
        np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)
    index = np.array([[1], [0], [2]])
    x = nc.Tensor(a[:3], requires_grad=True)
    y = x.gather(1, index)
    index[:] = 0
    y.sum().backward()
    want = np.zeros((3, 3))
    want[[0, 1, 2], [1, 0, 2]] = 1.0
    np.testing.assert_array_equal(x.grad.numpy(), want)


def test_a_custom_backward_with_the_wrong_number_or_shape_of_gradients_is_refused(rng):
    class TooFew(nc.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g

    class BadShape(nc.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g[:2]

    class AsTensor(nc.Function):  # PyTorch's habit: backward returns a Tensor
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return nc.Tensor(g * 2)

    x, w = nc.Tensor(rng.standard_normal(3), requires_grad=True), nc.Tensor(rng.standard_normal(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"TooFew.backward returned 1 gradient\(s\) for 2 input"):
        TooFew.apply(x, w).sum().backward()
    with pytest.raises(RuntimeError, match=r"BadShape.backward returned a gradient of shape \(2,\) for input 0 of "
                                           r"shape \(3,\)"):
        BadShape.apply(x).sum().backward()
    AsTensor.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 2.0))


def test_repeat_is_a_copy_even_of_ones(rng):
    a = rng.standard_normal((2, 3))
    x = nc.tensor(a)
    y = x.repeat(1, 1)
    y.zero_()
    np.testing.assert_array_equal(x.numpy(), a)


def test_gradcheck_takes_tuple_outputs_and_backward_names_a_foreign_seed(rng, torch):
    """gradcheck of a function returning a tuple failed with an AttributeError (it projected only one
    Tensor), and backward(torch_tensor) with another; now the first checks every float output and the
    second is a TypeError that names what was passed."""
    x = nc.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert nc.autograd.gradcheck(lambda t: (t.sin(), t.sum(1), *t.max(1)), [x])  # int64 indices among them
    with pytest.raises(AssertionError, match="gradcheck failed for input 0"):
        nc.autograd.gradcheck(lambda t: (t * 2, nc.Tensor(t.numpy() ** 2) + t), [x])  # the square is off the graph
    with pytest.raises(TypeError, match="output 1 is a ndarray"):
        nc.autograd.gradcheck(lambda t: (t, t.numpy()), [x])
    with pytest.raises(ValueError, match="no input requires grad"):
        nc.autograd.gradcheck(lambda t: t * 2, [nc.Tensor(rng.standard_normal(3))])
    y = x * 2
    with pytest.raises(TypeError, match="must be a numconv Tensor, a NumPy or Numba device array or a number, got a "
                                        "torch.Tensor"):
        y.backward(torch.ones(3, 4, dtype=torch.float64))
    y.backward(np.ones((3, 4)))
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 2.0))
