"""Tensor ops built on running sums and sorts, and the division family: ``//`` and ``%``,
``maximum``/``minimum`` (and ``max(other)``), ``prod``, ``cumsum``, ``cumprod``, ``sort``,
``argsort``, ``topk``, ``nonzero``/``where(condition)``, ``var``'s gradient and the ``empty``
factories; each against torch on random values (ties, zeros and NaN where they matter) and, for
gradients, central differences in float64. The CUDA kernels behind them run in
tests/_cuda_cases.py (``scan_cases``) and tests/_cuda_training_cases.py."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
from numconv.tensor import IntegerDivisionByZero
from reference import numerical_grad
from conftest import to_torch as _t  # torch's twin of an array, a copy (0-d stays 0-d)


def _same(got, want, exact=False):
    g, w = got.numpy(), want.detach().numpy()
    assert g.shape == w.shape, (g.shape, w.shape)
    assert g.dtype == w.dtype, (g.dtype, w.dtype)
    if exact or w.dtype.kind in "biu":
        np.testing.assert_array_equal(g, w)
    else:
        np.testing.assert_allclose(g, w, rtol=1e-6 if w.dtype == np.float32 else 1e-12, atol=1e-6, equal_nan=True)


def _grads_match(torch, fn_nc, fn_torch, *arrays, rng):
    """fn(*arrays) and the gradient of sum(fn * gy) for each input, numconv against torch."""
    xs = [nc.Tensor(a, requires_grad=True) for a in arrays]
    ts = [_t(torch, a, True) for a in arrays]
    y, yt = fn_nc(*xs), fn_torch(*ts)
    _same(y, yt)
    gy = rng.standard_normal(y.shape)
    (y * nc.Tensor(gy.astype(y.dtype))).sum().backward()
    (yt * _t(torch, gy.astype(y.dtype))).sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12, equal_nan=True)
    return xs, gy


def _check_fd(fn, a, rng, eps=1e-6):
    """The gradient of sum(fn(a) * gy) against central differences, float64."""
    x = nc.Tensor(a, requires_grad=True)
    y = fn(x)
    gy = rng.standard_normal(y.shape)
    (y * nc.Tensor(gy)).sum().backward()
    want = numerical_grad(lambda v: fn(nc.Tensor(v)).numpy(), a.copy(), gy, eps)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------- // and %


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8"])
def test_floor_divide_and_remainder_follow_torch(dtype, rng, torch):
    """Tensor // tensor, tensor // scalar, scalar // tensor (and %), broadcast, every sign: torch's
    values and dtypes (floor, the divisor's sign)."""
    if dtype.startswith("float"):
        a = (rng.standard_normal((4, 5)) * 7).astype(dtype)
        b = (rng.standard_normal((1, 5)) * 3).astype(dtype)
    else:
        lo = 0 if dtype == "uint8" else -20
        a = rng.integers(lo, 30, (4, 5)).astype(dtype)
        b = rng.integers(1, 7, (1, 5)).astype(dtype) * (1 if dtype == "uint8" else rng.choice([-1, 1], (1, 5)))
        b = b.astype(dtype)
    x, y, tx, ty = nc.tensor(a), nc.tensor(b), _t(torch, a), _t(torch, b)
    for op in (lambda p, q: p // q, lambda p, q: p % q):
        _same(op(x, y), op(tx, ty))
        _same(op(x, 3), op(tx, 3))
        _same(op(17, y), op(17, ty))
        _same(op(x, 2.5), op(tx, 2.5))  # an int tensor with a float scalar: float32, as torch
        _same(op(x[0, 0], y), op(tx[0, 0], ty))  # a 0-d tensor does not widen the other
    _same(x.floor_divide(y), tx.floor_divide(ty))
    _same(x.remainder(y), tx.remainder(ty))


def test_float_division_edges_follow_torch(torch):
    """A float 0 divisor (inf, -inf, NaN), NaN, infinities and -0.0 as torch gives them."""
    a = np.array([5., -7., 3.5, -0.5, 1., -1., 0., np.nan, np.inf, -3., 3., 1e-20, -0.0, 7.])
    b = np.array([2., 2., -1.5, 1., 0., -0., 0., 1., 2., np.inf, -np.inf, -1., 3., -7.])
    for op in (lambda p, q: p // q, lambda p, q: p % q):
        got, want = op(nc.tensor(a), nc.tensor(b)).numpy(), op(_t(torch, a), _t(torch, b)).numpy()
        np.testing.assert_array_equal(got, want)
        number = ~np.isnan(want)
        np.testing.assert_array_equal(np.signbit(got[number]), np.signbit(want[number]))  # -0.0 where torch has it


def test_integer_division_by_zero_is_an_error():
    """torch raises for an integer 0 divisor; NumPy would give 0 silently."""
    a = nc.tensor([5, -7, 3])
    for fn in (lambda: a // nc.tensor([1, 0, 2]), lambda: a % 0, lambda: 4 // nc.tensor([2, 0, 1]),
               lambda: a.remainder(nc.tensor(0))):
        with pytest.raises(IntegerDivisionByZero, match="by zero") as info:
            fn()
        assert isinstance(info.value, ValueError) and isinstance(info.value, ZeroDivisionError)
    with pytest.raises(TypeError, match="bool"):
        nc.tensor([True, False]) // nc.tensor([True, True])


def test_remainder_gradient(rng, torch):
    """d(a % b)/da = 1, d(a % b)/db = -floor(a / b): torch's, and central differences away from the jumps."""
    a, b = rng.standard_normal((3, 4)) * 5, rng.standard_normal((3, 4)) * 2
    _grads_match(torch, lambda p, q: p % q, lambda p, q: p % q, a, b, rng=rng)
    _grads_match(torch, lambda p: p % 1.25, lambda p: p % 1.25, a, rng=rng)
    _check_fd(lambda p: p % nc.tensor(b), a, rng)
    _check_fd(lambda q: nc.tensor(a) % q + 7.5 % q, b, rng)  # torch has no gradient for number % tensor


def test_floor_divide_is_outside_the_graph_and_in_place_ops(rng):
    x = nc.Tensor(rng.standard_normal(5), requires_grad=True)
    assert not (x // 0.5).requires_grad  # floor is flat: PyTorch refuses to backpropagate it
    a = rng.integers(-20, 20, 6)
    t = nc.tensor(a)
    view = t[:3]
    t //= 3
    np.testing.assert_array_equal(t.numpy(), a // 3)
    np.testing.assert_array_equal(view.numpy(), (a // 3)[:3])  # in place: the view sees it
    t %= 4
    np.testing.assert_array_equal(t.numpy(), (a // 3) % 4)


# ----------------------------------------------------------------------------- maximum, minimum


def test_maximum_minimum_follow_torch_with_ties_and_nan(rng, torch):
    """Values (NaN propagating) and gradients (to the larger side, half each on a tie) as torch's."""
    a = rng.standard_normal((3, 4))
    b = rng.standard_normal((1, 4))
    a[0, :] = b[0, :]  # ties
    a[1, 2] = np.nan
    b[0, 3] = np.nan
    _grads_match(torch, lambda p, q: p.maximum(q), lambda p, q: torch.maximum(p, q), a, b, rng=rng)
    _grads_match(torch, lambda p, q: p.minimum(q), lambda p, q: torch.minimum(p, q), a, b, rng=rng)
    _grads_match(torch, lambda p, q: p.max(q) * p.min(q), lambda p, q: p.max(q) * p.min(q), a, b, rng=rng)
    c = rng.standard_normal((3, 4))
    _check_fd(lambda p: p.maximum(nc.tensor(c)) + p.minimum(nc.tensor(c * 0.5)), rng.standard_normal((3, 4)), rng)
    i = nc.tensor(rng.integers(-5, 5, 6))
    _same(i.maximum(nc.tensor([0])), torch.maximum(_t(torch, i.numpy()), torch.tensor([0])))
    with pytest.raises(TypeError, match="other must be a Tensor"):
        i.maximum(3)


# ----------------------------------------------------------------------------- prod, cumsum, cumprod


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
def test_prod_cumsum_cumprod_values_follow_torch(dtype, rng, torch):
    """Every dim (negative too), keepdim, dtype=, 0-d and empty lines; integer and bool inputs give int64."""
    if dtype == "bool":
        a = rng.random((3, 4, 5)) < 0.7
    elif dtype == "int32":
        a = rng.integers(-3, 4, (3, 4, 5)).astype(dtype)
    else:
        a = (rng.standard_normal((3, 4, 5)) + 0.5).astype(dtype)
    x, t = nc.tensor(a), _t(torch, a)
    _same(x.prod(), t.prod())
    for dim in (0, 1, 2, -1):
        _same(x.prod(dim), t.prod(dim))
        _same(x.prod(dim, keepdim=True), t.prod(dim, keepdim=True))
        _same(x.cumsum(dim), t.cumsum(dim))
        _same(x.cumprod(dim), t.cumprod(dim))
    _same(x.prod(1, dtype=nc.float64), t.prod(1, dtype=torch.float64))
    _same(x.cumsum(0, dtype=nc.float64), t.cumsum(0, dtype=torch.float64))
    _same(x[0, 0, 0].cumsum(0), t[0, 0, 0].cumsum(0))
    _same(x[0, 0, 0].prod(0), t[0, 0, 0].prod(0))
    _same(x[:, :0].prod(1), t[:, :0].prod(1))  # the product of nothing: 1
    _same(x[:, :0].cumprod(1), t[:, :0].cumprod(1))
    with pytest.raises(TypeError, match="one int"):
        x.prod((0, 1))
    with pytest.raises((ValueError, IndexError), match="dim"):
        x.cumsum(3)


def test_products_gradients_with_zeros_follow_torch(rng, torch):
    """prod and cumprod along lines with no zero, one and two: torch's gradients (the product of the
    others: no division), and central differences on random values."""
    a = rng.standard_normal((4, 6))
    a[1, 2] = 0.0
    a[2, [0, 4]] = 0.0
    a[3, 5] = 0.0
    for dim in (0, 1):
        _grads_match(torch, lambda p, d=dim: p.prod(d), lambda p, d=dim: p.prod(d), a, rng=rng)
        _grads_match(torch, lambda p, d=dim: p.cumprod(d), lambda p, d=dim: p.cumprod(d), a, rng=rng)
        _grads_match(torch, lambda p, d=dim: p.cumsum(d), lambda p, d=dim: p.cumsum(d), a, rng=rng)
    _grads_match(torch, lambda p: p.prod(), lambda p: p.prod(), a[1:2], rng=rng)
    b = rng.standard_normal((3, 5))
    _check_fd(lambda p: p.prod(1), b, rng)
    _check_fd(lambda p: p.prod(), b[:2], rng)
    _check_fd(lambda p: p.cumprod(0) + p.cumsum(1), b, rng)


def test_running_sums_agree_with_a_textbook_loop(rng):
    """cumsum and cumprod against the definition written out in float64."""
    a = rng.standard_normal((3, 7))
    want_sum, want_prod = np.zeros_like(a), np.zeros_like(a)
    for i in range(3):
        s, p = 0.0, 1.0
        for j in range(7):
            s, p = s + a[i, j], p * a[i, j]
            want_sum[i, j], want_prod[i, j] = s, p
    np.testing.assert_allclose(nc.tensor(a).cumsum(1).numpy(), want_sum, rtol=1e-13)
    np.testing.assert_allclose(nc.tensor(a).cumprod(1).numpy(), want_prod, rtol=1e-13)


# ----------------------------------------------------------------------------- sort, argsort, topk


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "uint8"])
def test_sort_and_argsort_follow_torch_stable(dtype, rng, torch):
    """Stable sorts with ties (and NaN, last ascending and first descending) along every dim."""
    if dtype.startswith("float"):
        a = rng.integers(-3, 4, (4, 5, 6)).astype(dtype) * 0.5  # many ties
        a.reshape(-1)[rng.choice(a.size, 9, replace=False)] = np.nan
        a.reshape(-1)[:2] = [np.inf, -np.inf]
    else:
        a = rng.integers(0, 5, (4, 5, 6)).astype(dtype)
    x, t = nc.tensor(a), _t(torch, a)
    for dim in (0, 1, 2, -1):
        for descending in (False, True):
            got, want = x.sort(dim, descending), t.sort(dim=dim, descending=descending, stable=True)
            _same(got.values, want.values, exact=True)
            _same(got.indices, want.indices)
            _same(x.argsort(dim, descending=descending), t.argsort(dim=dim, descending=descending, stable=True))
    got, want = x[0, 0, 0].sort(), t[0, 0, 0].sort()
    _same(got.values, want.values)
    _same(got.indices, want.indices)


def test_topk_follows_torch(rng, torch):
    """topk's values and indices (distinct values, so the indices are defined), largest and smallest."""
    a = rng.permutation(120).astype(np.float64).reshape(4, 5, 6) / 7
    x, t = nc.tensor(a), _t(torch, a)
    for dim in (0, 1, -1):
        for k in (0, 1, 3):
            for largest in (True, False):
                got, want = x.topk(k, dim, largest), t.topk(k, dim, largest)
                _same(got.values, want.values)
                _same(got.indices, want.indices)
    with pytest.raises(ValueError, match="k=7"):
        x.topk(7)
    with pytest.raises(ValueError, match="k must be >= 0"):
        x.topk(-1)
    with pytest.raises(TypeError, match="largest"):
        x.topk(2, largest="yes")
    with pytest.raises(TypeError, match="bool"):
        nc.tensor([True, False]).sort()


def test_sort_and_topk_gradients(rng, torch):
    """The gradient goes back to each value's index: torch's, and central differences (no ties)."""
    a = rng.standard_normal((3, 6))
    _grads_match(torch, lambda p: p.sort(1, descending=True).values, lambda p: p.sort(dim=1, descending=True).values,
                 a, rng=rng)
    _grads_match(torch, lambda p: p.topk(2, 0).values, lambda p: p.topk(2, 0).values, a, rng=rng)
    _check_fd(lambda p: p.sort(0).values * nc.tensor(np.arange(3.0)[:, None]), a, rng)
    _check_fd(lambda p: p.topk(4, 1, largest=False).values, a, rng)


# ----------------------------------------------------------------------------- nonzero, where(condition), var, empty


def test_nonzero_and_where_of_a_condition_follow_torch(rng, torch):
    a = np.where(rng.random((3, 4, 2)) < 0.4, rng.standard_normal((3, 4, 2)), 0.0)
    a[0, 0, 0] = np.nan  # NaN is nonzero
    x, t = nc.tensor(a), _t(torch, a)
    _same(x.nonzero(), t.nonzero())
    _same(x.argwhere(), t.argwhere())
    for got, want in zip(x.nonzero(as_tuple=True), t.nonzero(as_tuple=True)):
        _same(got, want)
    for got, want in zip(nc.where(x > 0), torch.where(t > 0)):
        _same(got, want)
    for v in (2.0, 0.0):
        _same(nc.tensor(v).nonzero(), torch.tensor(v).nonzero())
    with pytest.raises(TypeError, match="both input and other"):
        nc.where(x > 0, x)


@pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0:UserWarning")  # torch's, about its own call
def test_var_gradient_is_torchs_where_the_correction_meets_the_count(rng, torch):
    """n - correction <= 0: var is inf (NaN for equal values), its gradient inf times the deviation as
    torch's (not the NaN of backpropagating through the mean); elsewhere central differences."""
    a = rng.standard_normal((3, 4))
    a[2] = 1.5  # a row of equal values: NaN variance, NaN gradient
    for kw in (dict(correction=4), dict(correction=6.5), dict(correction=0), dict(correction=1.5)):
        _grads_match(torch, lambda p, kw=kw: p.var(1, **kw), lambda p, kw=kw: p.var(1, **kw), a, rng=rng)
    _grads_match(torch, lambda p: p.var(False) + p.std(False), lambda p: p.var(False) + p.std(False), a, rng=rng)
    _check_fd(lambda p: p.var(0, keepdim=True) + p.var(correction=0.5), rng.standard_normal((3, 4)), rng)
    with pytest.raises(TypeError, match="floating-point"):
        nc.tensor([1, 2, 3]).var()
    with pytest.raises(TypeError, match="unbiased twice"):
        nc.tensor([1.0, 2.0]).var(False, True)


def test_empty_factories_have_the_asked_shape_and_dtype(torch):
    for args, kw in (((2, 3), {}), (((4,),), dict(dtype=nc.float64)), ((0, 5), dict(dtype=nc.int64))):
        got, want = nc.empty(*args, **kw), torch.empty(*args, **{k: getattr(torch, np.dtype(v).name)
                                                                  for k, v in kw.items()})
        assert got.shape == tuple(want.shape) and got.dtype.name == str(want.dtype).split(".")[1]
    like = nc.empty_like(nc.tensor([[1, 2]], dtype=nc.int32))
    assert like.shape == (1, 2) and like.dtype == np.int32
