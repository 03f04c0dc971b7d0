"""More of PyTorch's reductions and tests as Tensor methods: ``norm``, ``logsumexp``, ``nansum``,
``nanmean``, ``nan_to_num``, ``isnan``/``isinf``/``isfinite``/``isposinf``/``isneginf``/``signbit``,
``equal``, ``isclose``/``allclose``, ``aminmax``, ``median``/``nanmedian``/``kthvalue``/``mode``,
``unique``, ``var_mean``/``std_mean`` and ``cummax``/``cummin``; each against torch on random values
(NaN, inf, zeros and ties where they matter), gradients against torch and central differences in
float64, and the errors bad arguments raise. The device side runs in tests/_cuda_training_cases.py
(``reduction_method_cases``)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import numconv as nc
from reference import numerical_grad
from conftest import to_torch as _t  # torch's twin of an array, a copy (0-d stays 0-d)

inf, nan = math.inf, math.nan


def _same(got, want, exact=False, rtol=None):
    g, w = got.numpy(), want.detach().numpy()
    assert g.shape == w.shape, (g.shape, w.shape)
    assert g.dtype == w.dtype, (g.dtype, w.dtype)
    if exact or w.dtype.kind in "biu":
        np.testing.assert_array_equal(g, w)
    else:
        tol = rtol or (2e-6 if w.dtype == np.float32 else 1e-12)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True)


def _grads_match(torch, fn_nc, fn_torch, a, rng, rtol=1e-10):
    """fn(a) and the gradient of sum(fn(a) * gy), numconv against torch (NaN where torch has NaN)."""
    x, t = nc.Tensor(a, requires_grad=True), _t(torch, a, True)
    y, yt = fn_nc(x), fn_torch(t)
    _same(y, yt)
    gy = rng.standard_normal(y.shape).astype(y.dtype)
    (y * nc.Tensor(gy)).sum().backward()
    (yt * _t(torch, gy)).sum().backward()
    want = t.grad.numpy() if t.grad is not None else np.zeros_like(a)  # torch leaves None where it is 0
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=rtol, atol=1e-12, equal_nan=True)


def _check_fd(fn, a, rng, eps=1e-6, rtol=1e-6):
    """The gradient of sum(fn(a) * gy) against central differences, float64."""
    x = nc.Tensor(a, requires_grad=True)
    y = fn(x)
    gy = rng.standard_normal(y.shape)
    (y * nc.Tensor(gy)).sum().backward()
    want = numerical_grad(lambda v: fn(nc.Tensor(v)).numpy(), a.copy(), gy, eps)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=rtol, atol=1e-7)


def _with_edges(rng, shape, dtype=np.float64, nans=2, infs=2, zeros=2):
    a = rng.standard_normal(shape)
    flat = a.reshape(-1)
    spots = rng.permutation(flat.size)
    k = 0
    for value, count in ((nan, nans), (inf, infs // 2), (-inf, infs - infs // 2), (0.0, zeros)):
        flat[spots[k:k + count]] = value
        k += count
    return a.astype(dtype)


# ----------------------------------------------------------------------------- norm

NORM_PS = [2, 1, 0, inf, -inf, 3, 0.5, 1.5, -1, "fro"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_norm_follows_torch(dtype, rng, torch):
    a = rng.standard_normal((3, 4, 5)).astype(dtype)
    a[0, 1] = 0.0  # a line of zeros: norm 0
    a[1, 2, 3] = 0.0
    x, t = nc.tensor(a), _t(torch, a)
    for p in NORM_PS:
        for dim in (None, 1, (0, 2), -1, (2, 0)):
            if p == "fro" and dim is None:
                _same(x.norm(p), t.norm(p), rtol=1e-5 if dtype == np.float32 else None)
            for keepdim in (False, True):
                _same(x.norm(p, dim, keepdim), t.norm(p, dim, keepdim), rtol=1e-5 if dtype == np.float32 else None)
    _same(x.norm(dtype=np.float64), t.norm(dtype=torch.float64))
    _same(nc.tensor(np.float64(3.0)).norm(dim=0), torch.tensor(3.0, dtype=torch.float64).norm(dim=0))
    edges = _with_edges(rng, (4, 6), dtype)
    for p in NORM_PS:
        _same(nc.tensor(edges).norm(p, 1), _t(torch, edges).norm(p, 1), rtol=1e-5 if dtype == np.float32 else None)
    _same(nc.zeros(0, 3, dtype=dtype).norm(dim=0), torch.zeros(0, 3, dtype=t.dtype).norm(dim=0))


def test_norm_gradients_follow_torch_and_central_differences(rng, torch):
    a = rng.standard_normal((4, 5))
    a[1] = 0.0  # norm 0: gradient 0 (p >= 1)
    a[2, 1] = 0.0  # a zero in a line whose norm is not: 0 for p < 1
    a[3, 2] = a[3, 4] = -a[3].__abs__().max() - 1.0  # tied extremes
    for p in NORM_PS:
        for dim in (1, None, (0, 1)):
            _grads_match(torch, lambda v: v.norm(p, dim), lambda v: v.norm(p, dim), a, rng)
    edges = _with_edges(rng, (3, 4), zeros=0)
    for p in (2, 1, inf, 3):
        _grads_match(torch, lambda v: v.norm(p, 1), lambda v: v.norm(p, 1), edges, rng)
    b = rng.standard_normal((3, 4)) + 3.0 * np.sign(rng.standard_normal((3, 4)))  # away from 0 and ties
    for p in (2, 1, inf, -inf, 3, 0.5, 1.5, -1, "fro"):
        _check_fd(lambda v: v.norm(p, 1, keepdim=True), b, rng)
    _check_fd(lambda v: v.norm(), b, rng)


def test_norm_rejects_bad_arguments():
    x = nc.tensor([[1.0, 2.0]])
    with pytest.raises(ValueError, match="'nuc' is not supported"):
        x.norm("nuc")
    with pytest.raises(ValueError, match="at most 2 dimensions"):
        nc.zeros(2, 2, 2).norm("fro", dim=(0, 1, 2))
    with pytest.raises(TypeError, match="p must be a real number"):
        x.norm(True)
    with pytest.raises(ValueError, match="NaN"):
        x.norm(nan)
    with pytest.raises(TypeError, match="floating-point tensor, got dtype int64"):
        nc.tensor([1, 2]).norm()
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        x.norm(dtype=np.int64)
    with pytest.raises(ValueError, match="p=inf norm of nothing"):
        nc.zeros(0, 3).norm(inf, dim=0)
    with pytest.raises(ValueError, match="p=-1 norm of nothing"):
        nc.zeros(0).norm(-1)
    with pytest.raises(IndexError, match="dim 2 is out of range"):
        x.norm(2, dim=2)


# ----------------------------------------------------------------------------- logsumexp, nansum, nanmean, nan_to_num


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_follows_torch(dtype, rng, torch):
    a = (rng.standard_normal((5, 4)) * 300).astype(dtype)  # exp overflows unshifted
    a[0] = -inf
    a[1, 1] = inf
    a[2, :2] = [inf, -inf]
    a[3, 2] = nan
    x, t = nc.tensor(a), _t(torch, a)
    for dim in (1, 0, (0, 1), -1):
        for keepdim in (False, True):
            _same(x.logsumexp(dim, keepdim), t.logsumexp(dim, keepdim), rtol=1e-5 if dtype == np.float32 else None)
    i = rng.integers(-5, 5, (3, 4))
    _same(nc.tensor(i).logsumexp(1), _t(torch, i).logsumexp(1), rtol=1e-6)  # float32, as torch
    _same(nc.zeros(0, 2, dtype=dtype).logsumexp(0), torch.zeros(0, 2, dtype=t.dtype).logsumexp(0))
    _same(nc.tensor(a[0, 0]).logsumexp(0), t[0, 0].logsumexp(0))


def test_logsumexp_gradient_is_the_softmax(rng, torch):
    a = rng.standard_normal((5, 3)) * 3
    a[0] = -inf
    a[1, 1] = inf
    a[2, 0] = nan
    _grads_match(torch, lambda v: v.logsumexp(1), lambda v: v.logsumexp(1), a, rng)
    b = rng.standard_normal((3, 4))
    _check_fd(lambda v: v.logsumexp((0, 1), keepdim=True), b, rng)
    _check_fd(lambda v: v.logsumexp(0), b * 100, rng, rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nansum_and_nanmean_follow_torch(dtype, rng, torch):
    a = _with_edges(rng, (4, 5), dtype, nans=5, infs=0)
    a[2] = nan  # a line of NaN: nansum 0, nanmean NaN
    x, t = nc.tensor(a), _t(torch, a)
    for dim in (None, 0, 1, (0, 1)):
        for keepdim in (False, True):
            _same(x.nansum(dim, keepdim), t.nansum(dim, keepdim), rtol=1e-5 if dtype == np.float32 else None)
            _same(x.nanmean(dim, keepdim), t.nanmean(dim, keepdim), rtol=1e-5 if dtype == np.float32 else None)
    _same(x.nansum(dtype=np.float64), t.nansum(dtype=torch.float64))
    i = rng.integers(-5, 5, (3, 4)).astype(np.int32)
    _same(nc.tensor(i).nansum(1), _t(torch, i).nansum(1))  # int64, as torch
    _same(nc.tensor(i > 0).nansum(), _t(torch, i > 0).nansum())
    _same(nc.zeros(0, dtype=dtype).nanmean(), torch.zeros(0, dtype=t.dtype).nanmean())
    with pytest.raises(TypeError, match="nanmean\\(\\) needs a floating-point tensor, got dtype int32"):
        nc.tensor(i).nanmean()


def test_nansum_and_nanmean_gradients(rng, torch):
    a = _with_edges(rng, (4, 5), nans=5, infs=0)
    a[2] = nan
    for dim in (None, 1, 0):
        _grads_match(torch, lambda v: v.nansum(dim), lambda v: v.nansum(dim), a, rng)
        _grads_match(torch, lambda v: v.nanmean(dim), lambda v: v.nanmean(dim), a, rng)
    b = a.copy()
    b[2] = 1.5  # central differences: no line without a number
    _check_fd(lambda v: v.nansum(1), b, rng)
    _check_fd(lambda v: v.nanmean(0, keepdim=True), b, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_to_num_follows_torch(dtype, rng, torch):
    a = _with_edges(rng, (4, 5), dtype, nans=3, infs=4)
    x, t = nc.tensor(a), _t(torch, a)
    _same(x.nan_to_num(), t.nan_to_num(), exact=True)
    _same(x.nan_to_num(1.5, 2.0, -3.0), t.nan_to_num(1.5, 2.0, -3.0), exact=True)
    _same(x.nan_to_num(nan=1e300, neginf=7), t.nan_to_num(nan=1e300, neginf=7), exact=True)  # inf in float32
    i = rng.integers(-5, 5, (3,))
    y = nc.tensor(i)
    out = y.nan_to_num(1.0, 2.0, 3.0)
    _same(out, _t(torch, i).nan_to_num(1.0, 2.0, 3.0))
    assert out is not y
    _same(nc.tensor([True, False]).nan_to_num(), torch.tensor([True, False]).nan_to_num())
    with pytest.raises(TypeError, match="nan must be a real number"):
        x.nan_to_num("a")
    with pytest.raises(TypeError, match="posinf must be a real number or None"):
        x.nan_to_num(posinf=[1.0])


def test_nan_to_num_gradient_is_zero_where_replaced(rng, torch):
    a = _with_edges(rng, (4, 5), nans=3, infs=4)
    _grads_match(torch, lambda v: v.nan_to_num(), lambda v: v.nan_to_num(), a, rng)
    _grads_match(torch, lambda v: v.nan_to_num(0.5, 1.0, 2.0), lambda v: v.nan_to_num(0.5, 1.0, 2.0), a, rng)
    _check_fd(lambda v: v.nan_to_num() * 2.0, rng.standard_normal((3, 4)), rng)


# ----------------------------------------------------------------------------- elementwise tests and comparisons


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit"])
def test_value_tests_follow_torch(name, rng, torch):
    cases = [
        np.array([nan, -nan, inf, -inf, 0.0, -0.0, 1.0, -2.0, 1e-45, -1e308]),  # -nan: signbit reads its sign
        _with_edges(rng, (3, 4), np.float32),
        _with_edges(rng, (2, 3)),
        rng.integers(-5, 5, (4,)),
        np.array([0, 7, 255], np.uint8),
        np.array([-128, 0, 3], np.int8),
        np.array([True, False]),
        np.array(-0.0),
        np.zeros((0, 2)),
    ]
    for a in cases:
        got = getattr(nc.tensor(a), name)()
        _same(got, getattr(_t(torch, a), name)())
        assert got.dtype == np.bool_ and not got.requires_grad


def test_equal_follows_torch(torch):
    pairs = [
        ([1.0, 2.0], [1.0, 2.0]),
        ([1.0, nan], [1.0, nan]),
        ([0.0, -0.0], [-0.0, 0.0]),
        ([1.0, 2.0], [1.0, 2.5]),
        ([1.0, 2.0], [[1.0, 2.0]]),
        ([], []),
    ]
    for p, q in pairs:
        assert nc.tensor(p).equal(nc.tensor(q)) is torch.tensor(p).equal(torch.tensor(q))
    assert nc.tensor([1.0, 2.0]).equal(nc.tensor([1, 2])) is torch.tensor([1.0, 2.0]).equal(torch.tensor([1, 2]))
    assert nc.tensor(np.array([1.0, 2.0])).equal(nc.tensor([1.0, 2.0]))  # float64 and float32
    with pytest.raises(TypeError, match="equal: other must be a Tensor, got list"):
        nc.tensor([1.0]).equal([1.0])


def test_isclose_and_allclose_follow_torch(rng, torch):
    a = _with_edges(rng, (4, 5), nans=3, infs=4, zeros=3)
    b = a + rng.standard_normal(a.shape) * np.array([0.0, 1e-9, 1e-6, 1e-3, 1.0])  # a few in reach of each tolerance
    b[0, 0], b[1, 1] = -a[0, 0], nan
    for dtype in (np.float32, np.float64):
        x, y, tx, ty = (nc.tensor(a.astype(dtype)), nc.tensor(b.astype(dtype)), _t(torch, a.astype(dtype)),
                        _t(torch, b.astype(dtype)))
        for kw in ({}, {"rtol": 1e-3}, {"atol": 1e-6, "equal_nan": True}, {"rtol": 0.0, "atol": 0.0}, {"rtol": 2.0}):
            _same(x.isclose(y, **kw), tx.isclose(ty, **kw))
            _same(x.isclose(x, **kw), tx.isclose(tx, **kw))
            assert x.allclose(y, **kw) is tx.allclose(ty, **kw)
            assert x.allclose(x, **kw) is tx.allclose(tx, **kw)
        _same(x.isclose(y[0]), tx.isclose(ty[0]))  # broadcast
        assert x[1:].allclose(x[1:2] * 1.0000001) is tx[1:].allclose(tx[1:2] * 1.0000001)
    i, j = rng.integers(-3, 3, (5,)), rng.integers(-3, 3, (5,))
    for kw in ({}, {"rtol": 0.5}, {"atol": 1.0}):
        _same(nc.tensor(i).isclose(nc.tensor(j), **kw), _t(torch, i).isclose(_t(torch, j), **kw))
        _same(nc.tensor(i > 0).isclose(nc.tensor(j > 0), **kw), _t(torch, i > 0).isclose(_t(torch, j > 0), **kw))
    assert nc.tensor([1.0, nan]).allclose(nc.tensor([1.0, nan]), equal_nan=True)


def test_isclose_rejects_bad_arguments():
    x = nc.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="isclose: other must be a Tensor, got float"):
        x.isclose(2.0)
    with pytest.raises(TypeError, match="one dtype, got float32 and int64"):
        x.allclose(nc.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"shapes \(2,\) and \(3,\) do not broadcast"):
        x.allclose(nc.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="rtol must be >= 0, got -1"):
        x.isclose(x, rtol=-1)
    with pytest.raises(ValueError, match="atol must be >= 0, got nan"):
        x.isclose(x, atol=nan)
    with pytest.raises(TypeError, match="equal_nan must be True or False"):
        x.isclose(x, equal_nan="yes")


# ----------------------------------------------------------------------------- aminmax, selections


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_aminmax_follows_torch(dtype, rng, torch):
    a = rng.integers(-3, 3, (3, 4)).astype(dtype)  # ties
    if dtype != np.int64:
        a[1, 2] = nan
    x, t = nc.tensor(a), _t(torch, a)
    for kw in ({}, {"keepdim": True}, {"dim": 1}, {"dim": 0, "keepdim": True}, {"dim": -1}):
        got, want = x.aminmax(**kw), t.aminmax(**kw)
        assert type(got).__name__ == "aminmax" and got._fields == ("min", "max")
        _same(got.min, want.min)
        _same(got.max, want.max)
    _same(nc.tensor(a[0, 0]).aminmax(dim=0).max, t[0, 0].aminmax(dim=0).max)


def test_aminmax_gradient_is_shared_among_ties(rng, torch):
    a = rng.integers(-3, 3, (3, 5)).astype(np.float64)
    for kw in ({}, {"dim": 1}, {"dim": 0, "keepdim": True}):
        _grads_match(torch, lambda v: v.aminmax(**kw).min * 2.0 + v.aminmax(**kw).max,
                     lambda v: v.aminmax(**kw).min * 2.0 + v.aminmax(**kw).max, a, rng)
    with pytest.raises(TypeError, match="dim must be an int or None, got \\(0, 1\\)"):
        nc.tensor(a).aminmax(dim=(0, 1))
    with pytest.raises(ValueError, match="aminmax\\(\\) of an empty tensor"):
        nc.zeros(0, 2).aminmax(dim=0)


def _points_at(result, a, dim, keepdim=False):
    """The indices pick the values (where torch's choice among ties may differ from ours)."""
    v, i = result.values.numpy(), result.indices.numpy()
    if not keepdim:
        v, i = np.expand_dims(v, dim), np.expand_dims(i, dim)
    picked = np.take_along_axis(a, i, dim)
    np.testing.assert_array_equal(picked, v)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_median_nanmedian_kthvalue_follow_torch(dtype, rng, torch):
    distinct = rng.permutation(60)[:42].reshape(6, 7).astype(dtype)  # no ties: torch's indices are ours
    tied = rng.integers(0, 3, (6, 8)).astype(dtype)
    if dtype != np.int32:
        distinct[1, 3] = distinct[2, 0] = distinct[2, 5] = nan
        distinct[3, :] = nan
        tied[0, 1] = tied[0, 4] = nan
    for a in (distinct, tied):
        x, t = nc.tensor(a), _t(torch, a)
        exact = a is distinct
        _same(x.median(), t.median())
        _same(x.nanmedian(), t.nanmedian())
        _same(x[0].median(), t[0].median())
        for dim in (0, 1, -1):
            for keepdim in (False, True):
                for got, want in ((x.median(dim, keepdim), t.median(dim, keepdim)),
                                  (x.nanmedian(dim, keepdim), t.nanmedian(dim, keepdim)),
                                  (x.kthvalue(2, dim, keepdim), t.kthvalue(2, dim, keepdim)),
                                  (x.kthvalue(a.shape[dim], dim, keepdim), t.kthvalue(a.shape[dim], dim, keepdim))):
                    _same(got.values, want.values)
                    assert got.indices.dtype == np.int64
                    _points_at(got, a, dim, keepdim)
                    if exact:  # torch's index among several NaNs is its own choice
                        number = ~np.isnan(want.values.numpy().astype(np.float64))
                        np.testing.assert_array_equal(got.indices.numpy()[number], want.indices.numpy()[number])
    s = nc.tensor(distinct[0, 0])
    assert s.median(0).indices.item() == 0 and s.kthvalue(1).values.item() == s.item() or np.isnan(s.item())
    _same(nc.zeros(0, 3, dtype=dtype).median(1).values, torch.zeros(0, 3, dtype=_t(torch, tied).dtype).median(1).values)
    if dtype != np.int32:
        _same(nc.zeros(0, dtype=dtype).median(), torch.zeros(0, dtype=_t(torch, tied).dtype).median())


def test_mode_follows_torch(rng, torch):
    for a in (rng.integers(0, 4, (5, 9)), rng.integers(0, 3, (4, 6)).astype(np.float64),
              rng.integers(0, 2, (3, 5)) > 0):
        x, t = nc.tensor(a), _t(torch, a)
        for dim in (0, 1):
            for keepdim in (False, True):
                got, want = x.mode(dim, keepdim), t.mode(dim, keepdim)
                _same(got.values, want.values)
                _same(got.indices, want.indices)  # the last occurrence, as torch's
    _same(nc.tensor([[nan, nan, 1.0, 1.0]]).mode().values, torch.tensor([[nan, nan, 1.0, 1.0]]).mode().values)
    _same(nc.tensor(np.float64(2.0)).mode().indices, torch.tensor(2.0).mode().indices)


def test_selections_route_the_gradient_to_the_index(rng, torch):
    a = rng.permutation(35).reshape(5, 7).astype(np.float64) / 7  # no ties
    for fn in (lambda v: v.median(1).values, lambda v: v.nanmedian(0, keepdim=True).values,
               lambda v: v.kthvalue(3, 1).values, lambda v: v.kthvalue(1, 0).values, lambda v: v.median(),
               lambda v: v.nanmedian()):
        _grads_match(torch, fn, fn, a, rng)
        _check_fd(fn, a, rng)
    tied = rng.integers(0, 3, (3, 6)).astype(np.float64)
    tied[0, 2] = nan
    _grads_match(torch, lambda v: v.median(), lambda v: v.median(), tied, rng)  # shared among the equal ones
    _grads_match(torch, lambda v: v.nanmedian(), lambda v: v.nanmedian(), tied, rng)
    _grads_match(torch, lambda v: v[1:].median(), lambda v: v[1:].median(), tied, rng)
    x = nc.Tensor(tied, requires_grad=True)
    m = x.mode(1)
    m.values.sum().backward()
    want = np.zeros_like(tied)
    np.put_along_axis(want, m.indices.numpy()[:, None], 1.0, 1)
    np.testing.assert_array_equal(x.grad.numpy(), want)


def test_selections_reject_bad_arguments():
    x = nc.tensor([[1.0, 2.0, 3.0]])
    with pytest.raises(IndexError, match="k=4 is out of range for the 3 elements along dim=-1"):
        x.kthvalue(4)
    with pytest.raises(IndexError, match="k=0 is out of range"):
        x.kthvalue(0)
    with pytest.raises(TypeError, match="k must be an int, got 1.5"):
        x.kthvalue(1.5)
    with pytest.raises(IndexError, match="dim 2 is out of range"):
        x.median(2)
    with pytest.raises(IndexError, match=r"median\(\): dim=0 of shape \(0, 3\) is empty"):
        nc.zeros(0, 3).median(0)
    with pytest.raises(IndexError, match="kthvalue.*is empty"):
        nc.zeros(2, 0).kthvalue(1)
    with pytest.raises(TypeError, match="median of a bool tensor"):
        nc.tensor([True, False]).median()
    with pytest.raises(TypeError, match="kthvalue of a bool tensor"):
        nc.tensor([True, False]).kthvalue(1)
    with pytest.raises(TypeError, match="keepdim needs a dim"):
        x.median(keepdim=True)
    with pytest.raises(TypeError, match="keepdim must be True or False"):
        x.median(0, keepdim="no")
    with pytest.raises(ValueError, match=r"median\(\) of an empty int64 tensor"):
        nc.tensor(np.zeros(0, np.int64)).median()


# ----------------------------------------------------------------------------- unique, var_mean, cummax


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_unique_follows_torch(dtype, rng, torch):
    a = rng.integers(-3, 4, (4, 5)).astype(dtype)
    if dtype in (np.float32, np.float64):
        a[0, 0] = a[2, 3] = nan  # each NaN a value of its own, as torch's
        a[1, 1] = -inf
    x, t = nc.tensor(a), _t(torch, a)
    for kw in ({}, {"return_inverse": True}, {"return_counts": True},
               {"return_inverse": True, "return_counts": True, "sorted": False}):
        got, want = x.unique(**kw), t.unique(**kw)
        got, want = (got, want) if isinstance(want, tuple) else ((got,), (want,))
        assert len(got) == len(want)
        _same(got[0], want[0], exact=True)
        if kw.get("return_inverse"):  # which NaN slot each NaN maps to is torch's choice: one of its own
            inv, wanted = got[1].numpy(), want[1].numpy()
            nans = np.isnan(a.astype(np.float64))
            np.testing.assert_array_equal(inv[~nans], wanted[~nans])
            assert np.isnan(got[0].numpy()[inv[nans]].astype(np.float64)).all()
            assert len(set(inv[nans].tolist())) == nans.sum()
        if kw.get("return_counts"):
            _same(got[-1], want[-1], exact=True)
    for b in (np.zeros(0, dtype), np.array(a[0, 1])):
        got, want = nc.tensor(b).unique(return_inverse=True, return_counts=True), \
            _t(torch, b).unique(return_inverse=True, return_counts=True)
        for g, w in zip(got, want):
            _same(g, w, exact=True)
    with pytest.raises(NotImplementedError, match="dim=0 is not supported"):
        x.unique(dim=0)
    with pytest.raises(TypeError, match="return_counts must be True or False"):
        x.unique(return_counts=1)


def test_var_mean_and_std_mean_follow_torch(rng, torch):
    a = rng.standard_normal((3, 4))
    x, t = nc.Tensor(a, requires_grad=True), _t(torch, a, True)
    for args, kw in (((), {}), ((1,), {}), ((0,), {"keepdim": True}), ((1,), {"correction": 0}),
                     ((False,), {}), (((0, 1),), {"unbiased": False})):
        for name in ("var_mean", "std_mean"):
            got, want = getattr(x, name)(*args, **kw), getattr(torch, name)(t, *args, **kw)
            assert isinstance(got, tuple) and len(got) == 2
            _same(got[0], want[0])
            _same(got[1], want[1])
    v, m = x.std_mean(1)
    (v * 2.0 + m).sum().backward()
    vt, mt = torch.std_mean(t, 1)
    (vt * 2.0 + mt).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match="correction or unbiased"):
        x.var_mean(0, True, correction=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_cummax_and_cummin_follow_torch(dtype, rng, torch):
    a = rng.integers(-2, 3, (4, 11)).astype(dtype)  # ties: the latest index, as torch's
    if dtype in (np.float32, np.float64):
        a[1, 3] = a[1, 7] = a[2, 0] = nan  # NaN sticks, at the latest NaN
    x, t = nc.tensor(a), _t(torch, a)
    for dim in (0, 1, -1):
        for name in ("cummax", "cummin"):
            got, want = getattr(x, name)(dim), getattr(t, name)(dim)
            _same(got.values, want.values)
            _same(got.indices, want.indices)
    s = nc.tensor(a[0, 0])
    _same(s.cummax(0).indices, _t(torch, a[0, 0]).cummax(0).indices)
    _same(nc.zeros(0, 3).cummin(0).values, torch.zeros(0, 3).cummin(0).values)


def test_cummax_gradient_goes_to_the_running_extreme(rng, torch):
    a = rng.integers(-2, 3, (3, 6)).astype(np.float64)
    a[1, 2] = nan
    for name in ("cummax", "cummin"):
        for dim in (0, 1):
            _grads_match(torch, lambda v: getattr(v, name)(dim).values, lambda v: getattr(v, name)(dim).values, a, rng)
    b = rng.permutation(18).reshape(3, 6) / 3.0  # no ties for central differences
    _check_fd(lambda v: v.cummax(1).values, b, rng)
    _check_fd(lambda v: v.cummin(0).values, b, rng)
    with pytest.raises(IndexError, match="dim 2 is out of range"):
        nc.tensor(b).cummax(2)
    with pytest.raises(TypeError, match="dim must be an int"):
        nc.tensor(b).cummin(None)
