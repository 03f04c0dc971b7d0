"""Tensor semantics that follow PyTorch where NumPy's differ: type promotion (0-d tensors, categories,
true division, integer scalars), sums of small integers, ``expand`` as a view, ``tensor()`` of
sequences, integer ``arange`` and the factories' checks; each against torch on random values."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import numconv as nc
from conftest import torch_or_fail

DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float32", "float64"]


def _draw(rng, dtype, shape):
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("float"):
        return rng.standard_normal(shape).astype(dtype)
    lo, hi = (0, 6) if dtype == "uint8" else (-5, 6)
    return rng.integers(lo, hi, shape).astype(dtype)


OPS = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
       "eq": lambda a, b: a == b, "lt": lambda a, b: a < b}


@pytest.mark.parametrize("op", sorted(OPS))
def test_promotion_of_tensor_pairs_follows_torch(op, rng, torch):
    """Every pair of dtypes, each operand with dimensions or 0-d: the result's dtype and values as torch's
    (a 0-d tensor does not widen a dimensioned one of its category; float32 with int64 is float32;
    integer true division is float32)."""
    fn = OPS[op]
    for da, db, a_shape, b_shape in itertools.product(DTYPES, DTYPES, [(3,), ()], [(3,), ()]):
        if "bool" in (da, db) and op == "div" or (da, db) == ("bool", "bool") and op == "add":
            continue  # torch refuses bool / bool in none of these, but its bool + bool is logical or
        a, b = _draw(rng, da, a_shape), _draw(rng, db, b_shape)
        if op == "div":
            b = np.where(b == 0, 1, b).astype(db)
        want = fn(torch.tensor(a), torch.tensor(b))
        got = fn(nc.tensor(a), nc.tensor(b))
        assert str(got.dtype) == str(want.dtype).removeprefix("torch."), (op, da, a_shape, db, b_shape)
        np.testing.assert_allclose(got.numpy().astype(np.float64), want.numpy().astype(np.float64), rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_promotion_with_python_scalars_follows_torch(dtype, rng, torch):
    """Python bools, ints (in and out of the dtype's range: wrapped, as torch casts them) and floats."""
    a = _draw(rng, dtype, (4,))
    for scalar in (True, 3, -1, 1000, 2 ** 40, 2.5):
        for fn in (lambda x, s: x + s, lambda x, s: s * x, lambda x, s: x == s, lambda x, s: x < s):
            if dtype == "bool" and isinstance(scalar, bool) and fn(1, 1) == 2:
                continue  # bool + True: torch's logical or
            want = fn(torch.tensor(a), scalar)
            got = fn(nc.tensor(a), scalar)
            assert str(got.dtype) == str(want.dtype).removeprefix("torch."), (dtype, scalar)
            np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_true_division_of_integers_is_float32(torch):
    a = np.array([1, 2, 3])
    for got, want in ((nc.tensor(a) / 2, torch.tensor(a) / 2), (2 / nc.tensor(a), 2 / torch.tensor(a)),
                      (nc.tensor(a) / nc.tensor(a[::-1].copy()), torch.tensor(a) / torch.tensor(a[::-1].copy()))):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_in_place_ops_cast_within_a_category_and_refuse_a_higher_one(torch):
    a = nc.tensor(np.array([1, 2], np.uint8))
    a += nc.tensor([300, 2])
    t = torch.tensor(np.array([1, 2], np.uint8))
    t += torch.tensor([300, 2])
    assert a.dtype == np.uint8 and a.tolist() == t.tolist()
    b = nc.tensor([1, 2])
    for op in (lambda: b.__iadd__(nc.tensor(2.5)), lambda: b.__itruediv__(2)):
        with pytest.raises(RuntimeError, match="does not fit the tensor's dtype int64"):
            op()
    assert b.tolist() == [1, 2]


def test_equality_with_other_objects_is_python_s():
    t = nc.tensor([1.0, 2.0])
    assert (t == None) is False and (t != None) is True  # noqa: E711 (the test)
    assert None not in [t] and t in [None, t]
    assert (t == "a") is False
    with pytest.raises(TypeError):
        _ = t < None


def test_integer_sums_are_int64_and_take_a_dtype(rng, torch):
    a = rng.integers(0, 256, (5, 3)).astype(np.uint8)
    for dim in (None, 0, 1):
        got, want = nc.tensor(a).sum(dim), torch.tensor(a).sum(dim)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    x = rng.standard_normal((4, 3)).astype(np.float32)
    got = nc.tensor(x).sum(1, dtype=np.float64)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got.numpy(), torch.tensor(x).sum(1, dtype=torch.float64).numpy(), rtol=1e-12)
    got = nc.tensor(a).mean(0, dtype=np.float64)
    np.testing.assert_allclose(got.numpy(), torch.tensor(a).mean(0, dtype=torch.float64).numpy(), rtol=1e-12)
    with pytest.raises(TypeError, match="floating-point"):
        nc.tensor(a).mean()


# ----------------------------------------------------------------------------- expand: a view


def test_expand_is_a_view_both_ways(rng, torch):
    v = rng.standard_normal(3).astype(np.float32)
    a, t = nc.tensor(v), torch.tensor(v)
    e, f = a.expand(2, 3), t.expand(2, 3)
    e[0, 1] = 7.0
    f[0, 1] = 7.0
    np.testing.assert_array_equal(a.numpy(), t.numpy())
    a += 1
    t += 1
    np.testing.assert_array_equal(e.numpy(), f.numpy())


@pytest.mark.parametrize("write", ["add_", "fill_", "zero_", "setitem_column", "copy_"])
def test_writes_reaching_one_element_twice_are_refused(write, rng):
    a = nc.tensor(rng.standard_normal((1, 3)).astype(np.float32))
    before = a.numpy().copy()
    e = a.expand(4, 3)
    op = {"add_": lambda: e.add_(1.0), "fill_": lambda: e.fill_(2.0), "zero_": lambda: e.zero_(),
          "setitem_column": lambda: e.__setitem__((slice(None), 0), 5.0),
          "copy_": lambda: e.copy_(nc.randn(4, 3))}[write]
    with pytest.raises(RuntimeError, match="share memory"):
        op()
    np.testing.assert_array_equal(a.numpy(), before)


def test_expand_gradient_and_a_later_change_to_its_base(rng, torch):
    v, w = rng.standard_normal((1, 3)), rng.standard_normal((4, 3))
    a = nc.tensor(v, requires_grad=True)
    (a.expand(4, 3) * nc.tensor(w)).sum().backward()
    t = torch.tensor(v, requires_grad=True)
    (t.expand(4, 3) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    b = a * 1
    y = (b.expand(2, 1, 3) ** 2).sum()
    with nc.no_grad():
        b.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


# ----------------------------------------------------------------------------- factories


@pytest.mark.filterwarnings("ignore:Creating a tensor from a list")
def test_tensor_of_sequences_reads_numbers_as_torch(torch):
    cases = [
        lambda L: [L.tensor(0.1, dtype=L.float64), L.tensor(0.2, dtype=L.float64)],
        lambda L: [np.float64(0.1), 2.0],
        lambda L: [np.float32(0.1), 2],
        lambda L: [np.int32(1), 2],
        lambda L: [L.tensor([1.5]), L.tensor([2.5])],
        lambda L: [[L.tensor(1)], [2]],
        lambda L: [np.array([0.1, 0.2]), np.array([0.3, 0.4])],
    ]
    for case in cases:
        got, want = nc.tensor(case(nc)), torch.tensor(case(torch))
        assert got.shape == tuple(want.shape) and str(got.dtype) == str(want.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(ValueError, match="one-element tensors"):
        nc.tensor([nc.tensor([1.0, 2.0])])


def test_big_endian_data_keeps_its_values():
    a = np.array([0.1, 1e300, -3.0], dtype=">f8")
    t = nc.tensor(a)
    assert t.dtype == np.float64
    np.testing.assert_array_equal(t.numpy(), a.astype(np.float64))


def test_integer_arange_truncates_its_arguments_as_torch(rng, torch):
    for _ in range(40):
        start, end = rng.uniform(-6, 6, 2).round(1)
        step = rng.choice([-1.5, -1, 1, 1.7, 2, 2.5])
        if (end - int(start)) * step < 0 or int(step) == 0:
            continue
        try:
            want = torch.arange(float(start), float(end), float(step), dtype=torch.int64)
        except RuntimeError:
            continue
        got = nc.arange(float(start), float(end), float(step), dtype=np.int64)
        np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=str((start, end, step)))
    with pytest.raises(ValueError, match="truncates to 0"):
        nc.arange(0, 2.5, 0.5, dtype=np.int64)


def test_factory_checks():
    with pytest.raises(ValueError, match="full_like: fill_value nan is not an integer"):
        nc.full_like(nc.tensor([1, 2]), float("nan"))
    with pytest.raises(ValueError, match="out of range"):
        nc.full_like(nc.tensor(np.array([1], np.uint8)), 256)
    with pytest.raises(TypeError, match=r"numconv.zeros\(2, 3\)"):
        nc.Tensor(2, 3)
    with pytest.raises(IndexError, match="uint8 tensor index is ambiguous"):
        nc.tensor([10.0, 20.0])[nc.tensor(np.array([1, 0], np.uint8))]
    r = nc.randint(0, 5, (50,), dtype=np.float32)
    assert r.dtype == np.float32 and set(r.tolist()) <= {0.0, 1.0, 2.0, 3.0, 4.0} and len(set(r.tolist())) > 1


# ----------------------------------------------------------------------------- methods built from the ops


METHODS = {
    "flip": lambda L, t: t.flip(0, 2),
    "flip_tuple": lambda L, t: t.flip((1,)),
    "repeat": lambda L, t: t.repeat(2, 1, 3),
    "repeat_new_dim": lambda L, t: t.repeat(2, 1, 1, 2),
    "unbind": lambda L, t: t.unbind(1)[1] * 2 + t.unbind(1)[0],
    "index_select": lambda L, t: t.index_select(2, L.tensor([3, 0, 3])),
    "expand_as": lambda L, t: t[:, :1].expand_as(t) * t,
    "view_as": lambda L, t: t.reshape(-1).view_as(t),
    "bmm": lambda L, t: t.bmm(t.transpose(1, 2)),
    "mm": lambda L, t: t[0].mm(t[1].t()),
    "abs": lambda L, t: abs(t),
}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_methods_match_torch_with_gradients(name, rng, torch):
    fn = METHODS[name]
    x = rng.standard_normal((2, 3, 4))
    a, t = nc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = fn(nc, a), fn(torch, t)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12)
    g = rng.standard_normal(y.shape)
    y.backward(nc.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    assert nc.autograd.gradcheck(lambda v: fn(nc, v), [nc.tensor(x, requires_grad=True)])


def test_masks_and_predicates_match_torch(rng, torch):
    x = rng.standard_normal((3, 4))
    a, t = nc.tensor(x), torch.tensor(x)
    pairs = [
        (a > 0) & (a < 1), (t > 0) & (t < 1), (a > 0) | (a < -1), (t > 0) | (t < -1),
        (a > 0) ^ (a < 0.5), (t > 0) ^ (t < 0.5), ~(a > 0), ~(t > 0),
        (a > 0).any(), (t > 0).any(), (a > -5).all(), (t > -5).all(), (a > 0).any(1, keepdim=True),
        (t > 0).any(1, keepdim=True), a.all(0), t.all(0),
    ]
    for ours, theirs in zip(pairs[::2], pairs[1::2]):
        assert ours.dtype == np.bool_ and ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal((nc.tensor([1, 2]) & nc.tensor([3, 4])).numpy(), [1, 0])  # bitwise, as torch
    with pytest.raises(TypeError, match="integer or bool tensors"):
        _ = a & (a > 0)
    assert a.is_floating_point() and not (a > 0).is_floating_point()
    assert a.is_contiguous() and not a.t().is_contiguous()
    assert a.type_as(nc.tensor([1])).dtype == np.int64
    z = a.new_zeros(2, 3)
    assert z.dtype == np.float64 and z.shape == (2, 3) and not z.numpy().any()
    assert a.new_full((2,), 7).tolist() == [7.0, 7.0] and a.new_ones(1, dtype=np.int64).dtype == np.int64


def test_more_factories_match_torch(rng, torch):
    for start, end, steps in ((0, 1, 5), (-3.5, 7, 101), (2, 2, 3), (0, 1, 0), (5, -5, 1)):
        np.testing.assert_array_equal(nc.linspace(start, end, steps).numpy(), torch.linspace(start, end, steps).numpy())
        np.testing.assert_array_equal(nc.linspace(start * 3, end * 3, steps, dtype=np.int64).numpy(),
                                      torch.linspace(start * 3, end * 3, steps, dtype=torch.int64).numpy())
    # bit for bit, as torch's; float64 needs a long double wider than a double to emulate the fused
    # multiply-add (x86's 80 bits; where it is a double, as on Apple silicon, within an ulp)
    wide = np.finfo(np.longdouble).nmant > np.finfo(np.float64).nmant
    for dtype, tdtype in ((nc.float32, torch.float32), (nc.float64, torch.float64)):
        for _ in range(40):
            start, span, steps = rng.normal() * 10, rng.normal() * 50, int(rng.integers(2, 300))
            got = nc.linspace(start, start + span, steps, dtype=dtype).numpy()
            want = torch.linspace(start, start + span, steps, dtype=tdtype).numpy()
            if dtype == nc.float64 and not wide:
                np.testing.assert_allclose(got, want, rtol=4e-16, atol=1e-300)
            else:
                np.testing.assert_array_equal(got, want)
    a = rng.standard_normal(3)
    t = nc.from_numpy(a)
    a[1] = 42.0
    assert t.dtype == np.float64 and t.tolist()[1] == 42.0
    assert nc.as_tensor(a).data is a and nc.as_tensor([1.5]).dtype == np.float32
    for like in (nc.rand_like, nc.randn_like):
        r = like(nc.zeros(50, 2, dtype=np.float64))
        assert r.shape == (50, 2) and r.dtype == np.float64 and len(set(r.numpy().ravel().tolist())) == 100
    assert nc.rand_like(nc.tensor([1, 2])).dtype == np.float32
    with pytest.raises(TypeError, match="from_numpy expects a numpy.ndarray"):
        nc.from_numpy([1.0])


def test_inf_and_nan_arrive_without_numpy_warnings(rng, torch):
    """Division by zero, log of 0 and of negatives, overflow and inf - inf give torch's values and no
    NumPy RuntimeWarning (torch warns about none of them)."""
    import warnings

    a = rng.standard_normal(6).astype(np.float32)
    a[:3] = [0.0, -1.0, 1e30]
    b = np.array([0.0, 0.0, 1e30, -np.inf, np.inf, 2.0], np.float32)
    x, y, tx, ty = nc.tensor(a), nc.tensor(b), torch.from_numpy(a), torch.from_numpy(b)
    cases = [(lambda p, q: p / q), (lambda p, q: p.log() + q), (lambda p, q: p.sqrt() * q), (lambda p, q: p * 1e30 * q),
             (lambda p, q: (q + q.flip(0)).sum() + p), (lambda p, q: (p * q).exp()), (lambda p, q: p ** q)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fn in cases:
            np.testing.assert_array_equal(fn(x, y).numpy(), fn(tx, ty).numpy())


def test_format_contains_and_index_follow_torch(torch):
    """f"{loss:.4f}" formats a 0-d tensor's number; ``x in t`` compares elementwise; a one-element integer
    tensor is an index (range, list indexing); each against torch."""
    import operator

    for v, spec in ((0.123456, ".3f"), (2.5, ""), (3, "d"), (-7, ">5"), (1e-9, ".2e")):
        assert format(nc.tensor(v), spec) == format(torch.tensor(v), spec)
    assert format(nc.tensor([1.0, 2.0])) == str(nc.tensor([1.0, 2.0]))
    with pytest.raises(TypeError):
        format(nc.tensor([1.0, 2.0]), ".2f")
    a = np.arange(6.0).reshape(2, 3)
    m, tm = nc.tensor(a), torch.tensor(a)
    for element in (2.0, 7, -0.0, np.float64(5.0)):
        assert (element in m) == (element in tm)
    assert (nc.tensor(1.0) in m) and (nc.tensor([9.0, 9.0, 2.0]) in m) and not (nc.tensor([9.0]) in m)
    with pytest.raises(TypeError, match="takes a tensor or a number"):
        "a" in m  # noqa: B015
    for i in (nc.tensor(3), nc.tensor([2]), nc.tensor(1, dtype=np.int32), nc.tensor(True)):
        t = torch.tensor(i.numpy())
        assert operator.index(i) == operator.index(t)
        assert list(range(i)) == list(range(t))
        assert [10, 20, 30, 40][i] == [10, 20, 30, 40][t]
    for bad in (nc.tensor(2.0), nc.tensor([1, 2])):
        with pytest.raises(TypeError, match="only integer tensors of a single element"):
            operator.index(bad)


def test_stride_mT_broadcast_to_and_is_grad_enabled_follow_torch(torch):
    a, t = nc.arange(24.0).reshape(2, 3, 4), torch.arange(24.0).reshape(2, 3, 4)
    for f in (lambda x: x, lambda x: x.transpose(0, 2), lambda x: x[:, ::2], lambda x: x[1]):
        assert f(a).stride() == f(t).stride()
        assert [f(a).stride(d) for d in range(f(a).ndim)] == [f(t).stride(d) for d in range(f(t).ndim)]
    assert a.stride(-1) == t.stride(-1) and nc.tensor(3.0).stride() == torch.tensor(3.0).stride()
    np.testing.assert_array_equal(a.mT.numpy(), t.mT.numpy())
    np.testing.assert_array_equal(a.mH.numpy(), t.mH.numpy())
    with pytest.raises(ValueError, match="mT needs at least 2 dimensions"):
        nc.ones(3).mT
    assert a.broadcast_to(2, 2, 3, 4).shape == tuple(t.broadcast_to((2, 2, 3, 4)).shape) == a.broadcast_to((2, 2, 3, 4)).shape
    assert nc.is_grad_enabled()
    with nc.no_grad():
        assert not nc.is_grad_enabled()
