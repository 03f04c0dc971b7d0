"""More of PyTorch's Tensor methods for shapes and indexing: ``roll``, ``movedim``/``moveaxis``,
``swapaxes``/``swapdims``, ``narrow``, ``select``, ``unflatten``, ``tile``, ``repeat_interleave``,
``masked_select``, ``scatter``/``scatter_add`` (and in place), ``index_add``/``index_copy``/
``index_fill``, ``take``, ``tril``/``triu``, ``diagonal``, ``diag``, ``trace``, ``rot90``,
``fliplr``/``flipud``, ``diff``, ``dot``, ``mv``, ``outer``, ``addmm``, ``count_nonzero``, ``unfold``,
``nelement``, ``new_tensor``, ``type`` and ``byte``. Each against torch on random values in float64,
float32 and int64 (values, dtypes and, for floats, gradients), the gradients in float64 against
central differences too, and bad arguments against the errors that name them. The device side
runs in tests/_cuda_training_cases.py (``shape_method_cases``)."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
from reference import numerical_grad
from conftest import to_torch as _t  # torch's twin of an array, a copy (0-d stays 0-d)


def _same(got, want):
    g, w = got.numpy(), want.detach().numpy()
    assert g.shape == w.shape, (g.shape, w.shape)
    assert g.dtype == w.dtype, (g.dtype, w.dtype)
    if w.dtype.kind in "biu":
        np.testing.assert_array_equal(g, w)
    else:
        np.testing.assert_allclose(g, w, rtol=1e-5 if w.dtype == np.float32 else 1e-12, atol=1e-6, equal_nan=True)


def _run(torch, fn, arrays, rng, grad=True):
    """fn(*tensors) in numconv and torch (float inputs require grad): the same values and dtype, and the
    same gradient of sum(fn * gy) for each float input."""
    floats = [a.dtype.kind == "f" for a in arrays]
    xs = [nc.Tensor(a, requires_grad=f and grad) for a, f in zip(arrays, floats)]
    ts = [_t(torch, a, f and grad) for a, f in zip(arrays, floats)]
    y, yt = fn(*xs), fn(*ts)
    _same(y, yt)
    if not (grad and any(floats) and y.dtype.kind == "f"):
        return
    gy = rng.standard_normal(y.shape).astype(y.dtype)
    (y * nc.Tensor(gy)).sum().backward()
    (yt * _t(torch, gy)).sum().backward()
    for x, t in zip(xs, ts):
        if t.requires_grad:
            want = t.grad.numpy() if t.grad is not None else np.zeros(t.shape, t.dtype.__str__()[6:])
            assert x.grad is not None, "no gradient"
            np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-5 if want.dtype == np.float32 else 1e-12,
                                       atol=1e-6)


def _check_fd(fn, arrays, rng, eps=1e-6):
    """The gradient of sum(fn(*arrays) * gy) for the first array against central differences, float64."""
    first, rest = arrays[0], [nc.Tensor(a) for a in arrays[1:]]
    x = nc.Tensor(first, requires_grad=True)
    y = fn(x, *rest)
    gy = rng.standard_normal(y.shape)
    (y * nc.Tensor(gy)).sum().backward()
    want = numerical_grad(lambda v: fn(nc.Tensor(v), *rest).numpy().copy(), first.copy(), gy, eps)  # not a view of v
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6, atol=1e-7)


def _values(rng, shape, dtype):
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-5, 6, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _unique_rows(rng, rows, k, n):
    """(rows, k) int64 positions, each row k distinct values in [0, n)."""
    return np.stack([rng.permutation(n)[:k] for _ in range(rows)]).astype(np.int64)


I64 = np.int64

# name: (fn(x, *others) with the same method names in numconv and torch, shapes (or int arrays) of the inputs)
CASES = {
    "roll": (lambda x: x.roll(1) + x.roll((1, -5), (0, 1)) * 2 + x.roll(7, -1) * 3, [(3, 4)]),
    "roll 0-d and empty": (lambda x: x[0, 0].roll(3) + x[:0].roll(2, 0).sum(), [(3, 4)]),
    "movedim": (lambda x: x.movedim(0, 2) + x.movedim((0, 1), (2, 0)).movedim(-1, 1), [(2, 2, 2)]),
    "moveaxis": (lambda x: x.moveaxis((2, 0), (0, -1)), [(2, 3, 4)]),
    "swapaxes swapdims": (lambda x: x.swapaxes(0, 2) * 2 + x.swapdims(-1, 0), [(3, 2, 3)]),
    "narrow": (lambda x: x.narrow(1, -3, 2) + x.narrow(1, 0, 2) * 2 + x.narrow(0, 3, 0).sum(), [(3, 4)]),
    "select": (lambda x: x.select(1, -1) * 3 + x.select(1, 0) + x.select(0, 2).sum(), [(3, 4)]),
    "unflatten": (lambda x: x.unflatten(1, (2, -1)) + x.unflatten(-1, [2, 2]) * x.unflatten(0, (3, 1))[:, 0, :2, None],
                  [(3, 4)]),
    "tile": (lambda x: x.tile((2,))[:, :4] + x.tile((2, 1, 2))[1, :3, 4:] + x.tile(()) * 2, [(3, 4)]),
    "repeat_interleave int": (lambda x: x.repeat_interleave(2).reshape(3, 8) + x.repeat_interleave(2, 1), [(3, 4)]),
    "repeat_interleave tensor": (lambda x, r: x.repeat_interleave(r, 0), [(3, 4), np.array([1, 0, 3])]),
    "repeat_interleave one count": (lambda x, r: x.repeat_interleave(r, -1), [(3, 4), np.array([2])]),
    "masked_select": (lambda x, m: x.masked_select(m), [(3, 4), "mask (3, 4)"]),
    "masked_select broadcast": (lambda x, m: x[0].masked_select(m), [(3, 4), "mask (3, 4)"]),
    "masked_select broadcast mask": (lambda x, m: x.masked_select(m[0]), [(3, 4), "mask (3, 4)"]),
    "scatter": (lambda x, s, i: x.scatter(1, i, s), [(3, 5), (2, 2), "unique (2, 2) < 5"]),
    "scatter dim 0": (lambda x, s, i: x.scatter(0, i, s) + x.scatter(0, i, 2), [(5, 3), (3, 2), "unique.T (3, 2) < 5"]),
    "scatter_add": (lambda x, s, i: x.scatter_add(0, i, s), [(4, 5), (3, 5), "random (3, 5) < 4"]),
    "index_add": (lambda x, s, i: x.index_add(1, i, s) + x.index_add(1, i, s, alpha=2),
                  [(3, 4), (3, 3), np.array([0, 3, 0])]),
    "index_add dim 0": (lambda x, s, i: x.index_add(0, i, s), [(3, 4), (4, 4), np.array([2, 2, 0, 1])]),
    "index_copy": (lambda x, s, i: x.index_copy(1, i, s), [(3, 4), (3, 2), np.array([3, 1])]),
    "index_fill": (lambda x, i: x.index_fill(0, i, -3) + x.index_fill(1, i, 2), [(3, 4), np.array([2, -1, 0])]),
    "take": (lambda x, i: x.take(i), [(3, 4), np.array([[0, -1, 5], [11, 5, -12]])]),
    "take 0-d index": (lambda x, i: x.take(i), [(3, 4), np.array(7)]),
    "tril triu": (lambda x: x.tril() + x.tril(-1) * 2 + x.triu(1) * 3 + x.triu(-2) * 5 + x.tril(9), [(2, 3, 4)]),
    "diagonal": (lambda x: x.diagonal(-1, 2, 0) * 2 + x.diagonal()[:1, :1] + x.diagonal(1, -1, 1).sum(), [(2, 3, 2)]),
    "diagonal of a matrix": (lambda x: x.diagonal() + x.diagonal(1) + x.diagonal(-1)[:1], [(3, 4)]),
    "diagonal empty": (lambda x: x.diagonal(5), [(3, 4)]),
    "diag of a vector": (lambda v: v.diag() + v.diag(-2)[2:, :4] + v.diag(1)[:4, 1:] * 2, [(4,)]),
    "diag of a matrix": (lambda x: x.diag(1) * 2 + x.diag(-1)[:2].sum() + x.diag()[:3], [(3, 4)]),
    "trace": (lambda x: x.trace() + x[:, :2].trace() * 2, [(3, 4)]),
    "rot90": (lambda x: x.rot90() + x.rot90(-1, (2, 0)) * 2 + x.rot90(2, (1, 2)) * 3, [(3, 3, 3)]),
    "rot90 3 and 4": (lambda x: x.rot90(3, (0, 1)).T + x.rot90(4) * 2 + x.rot90(7, [1, 0]).T * 3, [(3, 4)]),
    "fliplr flipud": (lambda x: x.fliplr() + x.flipud() * 2, [(3, 4, 2)]),
    "diff": (lambda x: x.diff().sum() + x.diff(2, 0) + x.diff(0)[:1], [(3, 4)]),
    "diff prepend append": (lambda x, p, q: x.diff(dim=1, prepend=p, append=q), [(3, 4), (3, 1), (3, 2)]),
    "diff past the end": (lambda x: x.diff(5, 0), [(3, 4)]),
    "dot": (lambda v, w: v.dot(w), [(5,), (5,)]),
    "mv": (lambda m, v: m.mv(v), [(3, 4), (4,)]),
    "outer": (lambda v, w: v.outer(w), [(3,), (4,)]),
    "addmm": (lambda b, m1, m2: b.addmm(m1, m2) + b.addmm(m1, m2, beta=2, alpha=3), [(3, 4), (3, 2), (2, 4)]),
    "addmm broadcast": (lambda b, m1, m2: b.addmm(m1, m2, alpha=-1), [(4,), (3, 2), (2, 4)]),
    "count_nonzero": (lambda x: x.count_nonzero() + x.count_nonzero(0).sum() * x.count_nonzero((0, -1)),
                      ["zeros (3, 4)"]),
    "count_nonzero dim": (lambda x: x.count_nonzero(1), ["zeros (3, 4)"]),
    "unfold": (lambda x: x.unfold(1, 3, 2), [(3, 7)]),
    "unfold overlapping": (lambda x: x.unfold(0, 2, 1).sum(-1) + x.unfold(1, 7, 1)[:2, :, 0], [(3, 7)]),
    "unfold size 0 and 0-d": (lambda x: x.unfold(1, 0, 3).sum() + x[0, 0].unfold(0, 1, 1), [(3, 7)]),
}
FD = [name for name in CASES if name not in ("diagonal empty", "diff past the end", "count_nonzero",
                                             "count_nonzero dim", "unfold size 0 and 0-d")]


def _inputs(spec, rng, dtype):
    out = []
    for s in spec:
        if isinstance(s, np.ndarray):
            out.append(s.astype(I64))
        elif isinstance(s, tuple):
            out.append(_values(rng, s, dtype))
        elif s.startswith("mask"):
            out.append(rng.random((3, 4)) < 0.5)
        elif s.startswith("zeros"):
            a = _values(rng, (3, 4), dtype)
            a[rng.random((3, 4)) < 0.4] = 0
            a[1, :] = 0
            out.append(a)
        elif s.startswith("unique.T"):
            out.append(np.ascontiguousarray(_unique_rows(rng, 2, 3, 5).T))
        elif s.startswith("unique"):
            out.append(_unique_rows(rng, 2, 2, 5))
        else:  # random (3, 5) < 4
            out.append(rng.integers(0, 4, (3, 5)).astype(I64))
    return out


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
@pytest.mark.parametrize("name", list(CASES))
def test_methods_follow_torch(name, dtype, rng, torch):
    fn, spec = CASES[name]
    _run(torch, fn, _inputs(spec, rng, dtype), rng)


@pytest.mark.parametrize("name", FD)
def test_gradients_against_central_differences(name, rng):
    fn, spec = CASES[name]
    arrays = _inputs(spec, rng, "float64")
    _check_fd(fn, arrays, rng)
    for k in range(1, len(arrays)):  # the other float inputs' gradients too (scatter's src, index_add's source ...)
        if arrays[k].dtype.kind == "f":
            order = [k] + [j for j in range(len(arrays)) if j != k]
            _check_fd(lambda *xs, order=order: fn(*[xs[order.index(j)] for j in range(len(arrays))]),
                      [arrays[j] for j in order], rng)


def test_bool_tensors_follow_torch(rng, torch):
    """Methods that move values around take bool tensors, as torch's; diff of bools is !=, count_nonzero counts."""
    a = rng.random((3, 4)) < 0.5
    i = np.array([[0, 2], [1, 3]])
    for fn in (lambda x: x.roll(1, 0), lambda x: x.movedim(0, 1), lambda x: x.narrow(1, 1, 2), lambda x: x.select(0, 1),
               lambda x: x.unflatten(1, (2, 2)), lambda x: x.tile((2, 1)), lambda x: x.repeat_interleave(2, 0),
               lambda x: x.tril(), lambda x: x.triu(1), lambda x: x.diagonal(), lambda x: x.diag(), lambda x: x.rot90(),
               lambda x: x.fliplr(), lambda x: x.flipud(), lambda x: x.diff(), lambda x: x.diff(dim=0),
               lambda x: x.count_nonzero(0), lambda x: x.unfold(1, 2, 1), lambda x: x.masked_select(x),
               lambda x: x.take(_lib(x).tensor([1, -2]))):
        _run(torch, fn, [a], rng)
    x, t = nc.tensor(a), _t(torch, a)
    _same(x.scatter(1, nc.tensor(i), True), t.scatter(1, _t(torch, i), True))
    _same(x.index_fill(1, nc.tensor([0, 2]), False), t.index_fill(1, torch.tensor([0, 2]), False))
    _same(x.index_copy(0, nc.tensor([2]), x[:1]), t.index_copy(0, torch.tensor([2]), t[:1]))


def _lib(x):
    return nc if isinstance(x, nc.Tensor) else __import__("torch")


def test_scatter_gradient_with_repeated_positions(rng, torch):
    """Where index names a position twice, each of those src entries gets the gradient there (torch's gather)."""
    a, s = rng.standard_normal((3, 4)), rng.standard_normal((2, 3))  # src no larger than index: torch's backward
    i = np.array([[1, 1, 0], [2, 0, 2]])
    x, src = nc.Tensor(a, requires_grad=True), nc.Tensor(s, requires_grad=True)
    tx, ts = _t(torch, a, True), _t(torch, s, True)
    gy = rng.standard_normal((3, 4))
    (x.scatter(1, nc.tensor(i), src) * nc.Tensor(gy)).sum().backward()
    (tx.scatter(1, _t(torch, i), ts) * _t(torch, gy)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(src.grad.numpy(), ts.grad.numpy(), rtol=1e-12)


def test_scatter_src_larger_than_index(rng, torch):
    """src may be larger than index (only its leading block is read): torch's values; the gradient (torch's
    backward refuses this case) is g gathered at index in that block and 0 outside, by central differences."""
    a, s = rng.standard_normal((3, 5)), rng.standard_normal((3, 4))
    i = _unique_rows(rng, 2, 2, 5)
    _run(torch, lambda x, y: x.scatter(1, _lib(x).tensor(i), y), [a, s], rng, grad=False)
    _run(torch, lambda x, y: x.scatter_add(1, _lib(x).tensor(i), y), [a, s], rng, grad=False)
    _check_fd(lambda y, x: x.scatter(1, nc.tensor(i), y), [s, a], rng)
    _check_fd(lambda y, x: x.scatter_add(1, nc.tensor(i), y), [s, a], rng)
    _check_fd(lambda x, y: x.scatter(1, nc.tensor(i), y), [a, s], rng)


def test_in_place_scatter_and_index_ops(rng, torch):
    """scatter_, scatter_add_, index_add_, index_copy_, index_fill_: the out-of-place values written back (views
    see them) and, on a non-leaf, torch's gradients."""
    a, s = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    i, j = _unique_rows(rng, 2, 2, 4), np.array([3, 0, 3])
    ops = [lambda x, y, L: x.scatter_(1, L.tensor(i), y[:2, :2]),
           lambda x, y, L: x.scatter_(1, L.tensor(i), 0.5),
           lambda x, y, L: x.scatter_add_(1, L.tensor(i), y[:2, :2]),
           lambda x, y, L: x.index_add_(1, L.tensor(j), y[:, :3], alpha=-2),
           lambda x, y, L: x.index_copy_(0, L.tensor([2, 0]), y[:2]),
           lambda x, y, L: x.index_fill_(1, L.tensor([1, -1]), 7.0)]
    for op in ops:
        x, view = nc.tensor(a), None
        view = x[1]
        out = op(x, nc.tensor(s), nc)
        assert out is x
        want = op(_t(torch, a), _t(torch, s), torch)
        _same(x, want)
        np.testing.assert_allclose(view.numpy(), want[1].numpy(), rtol=1e-12)
        p, q = nc.Tensor(a, requires_grad=True), nc.Tensor(s, requires_grad=True)
        tp, tq = _t(torch, a, True), _t(torch, s, True)
        y, ty = op(p * 1.0, q * 1.0, nc), op(tp * 1.0, tq * 1.0, torch)
        _same(y, ty)
        gy = rng.standard_normal(y.shape)
        (y * nc.Tensor(gy)).sum().backward()
        (ty * _t(torch, gy)).sum().backward()
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)
        if tq.grad is None:  # value= writes no tensor
            assert q.grad is None
        else:
            np.testing.assert_allclose(q.grad.numpy(), tq.grad.numpy(), rtol=1e-12)


def test_views_copies_and_small_methods(rng, torch):
    a = rng.standard_normal((3, 4))
    x = nc.tensor(a)
    n = x.narrow(1, 1, 2)
    n += 1  # narrow and select are slices (views on the CPU), as PyTorch's
    s = x.select(0, 2)
    s *= 0
    want = a.copy()
    want[:, 1:3] += 1
    want[2] = 0
    np.testing.assert_array_equal(x.numpy(), want)
    assert x.roll(0).data is not x.data and x.rot90(4).data is not x.data  # new tensors, as torch's
    assert x.nelement() == 12 == x.numel()
    t = _t(torch, x.numpy())
    assert x.type() == t.type() == "torch.DoubleTensor" and x.long().type() == "torch.LongTensor"
    assert x.type(np.float64) is x
    _same(x.type(np.int32), t.type(torch.int32))
    _same(x.type("torch.FloatTensor"), t.type("torch.FloatTensor"))
    _same((x.abs() * 9).byte(), (t.abs() * 9).byte())
    for data in ([1.5, 2], [[1, 2], [3, 4]], 3):
        _same(x.long().new_tensor(data), t.long().new_tensor(data))
        _same(x.new_tensor(data), t.new_tensor(data))
        _same(x.new_tensor(data, dtype=np.float32), t.new_tensor(data, dtype=torch.float32))
    y = nc.Tensor(a, requires_grad=True)
    copy = x.new_tensor(y * 2, requires_grad=True)
    assert copy.requires_grad and copy.is_leaf and copy.data is not y.data
    np.testing.assert_array_equal(copy.numpy(), a * 2)
    _same(x.repeat_interleave(nc.tensor(2), 0, output_size=6), t.repeat_interleave(torch.tensor(2), 0, output_size=6))
    _same(x.masked_select(nc.tensor(True)), t.masked_select(torch.tensor(True)))
    _same(x[0, 0].masked_select(nc.tensor(False)), t[0, 0].masked_select(torch.tensor(False)))
    none = np.zeros((3, 0), np.int64)
    _same(x.scatter(1, nc.tensor(none), x), t.scatter(1, _t(torch, none), t))
    _same(x.addmm(x[:, :2], x[:2], beta=0), t.addmm(t[:, :2], t[:2], beta=0))
    nan = nc.full((3, 4), float("nan"), dtype=np.float64)
    assert not np.isnan(nan.addmm(x[:, :2], x[:2], beta=0).numpy()).any()  # beta 0: self is not read


def _x():
    return nc.tensor(np.arange(12.0).reshape(3, 4))


ERRORS = [
    (lambda x: x.roll((1, 2)), ValueError, r"roll: without dims, shifts must be one int"),
    (lambda x: x.roll((1, 2), (0,)), ValueError, r"shifts \(1, 2\) and dims \(0,\)"),
    (lambda x: x.roll(1, 2), IndexError, r"dims 2 is out of range"),
    (lambda x: x.roll(1.5), TypeError, r"roll: shifts must be an int"),
    (lambda x: x[0, 0].roll(1, 0), IndexError, r"roll: dims 0 for a 0-d tensor"),
    (lambda x: x.movedim((0, 1), 1), ValueError, r"movedim: source \(0, 1\) and destination 1"),
    (lambda x: x.movedim((0, 0), (1, 0)), ValueError, r"source \(0, 0\) names a dimension twice"),
    (lambda x: x.movedim(0, 3), IndexError, r"destination 3 is out of range"),
    (lambda x: x.swapaxes(0, 2), IndexError, r"axis1 2 is out of range"),
    (lambda x: x.swapdims(-3, 1), IndexError, r"dim0 -3 is out of range"),
    (lambda x: x.narrow(1, 3, 2), ValueError, r"start \(3\) \+ length \(2\) exceeds the size 4 of dim 1"),
    (lambda x: x.narrow(1, 5, 0), IndexError, r"narrow: start 5 is out of range for dim 1 of size 4"),
    (lambda x: x.narrow(1, 0, -1), ValueError, r"narrow: length must be >= 0, got -1"),
    (lambda x: x[0, 0].narrow(0, 0, 1), IndexError, r"narrow\(\) cannot be applied to a 0-d tensor"),
    (lambda x: x.select(1, 4), IndexError, r"select: index 4 is out of range for dim 1 of size 4"),
    (lambda x: x.select(1, 1.0), TypeError, r"select: index must be an int"),
    (lambda x: x.unflatten(1, (3, -1)), ValueError, r"unflatten: sizes \(3, -1\) .* size 4 of dim 1"),
    (lambda x: x.unflatten(1, ()), ValueError, r"unflatten: sizes \(\)"),
    (lambda x: x.unflatten(1, (-1, -1)), ValueError, r"at most one -1"),
    (lambda x: x.tile((-1, 1)), ValueError, r"tile: dims must be >= 0, got \(-1, 1\)"),
    (lambda x: x.repeat_interleave(-1), ValueError, r"repeat_interleave: repeats must be >= 0, got -1"),
    (lambda x: x.repeat_interleave(nc.tensor([1, 2]), 0), ValueError, r"hold 1 or 3 counts .* got shape \(2,\)"),
    (lambda x: x.repeat_interleave(nc.tensor([1, -1, 2]), 0), ValueError, r"repeats must be >= 0, got -1"),
    (lambda x: x.repeat_interleave(nc.tensor([1.0, 1.0, 1.0]), 0), TypeError, r"integer tensor, got dtype float32"),
    (lambda x: x.repeat_interleave(2, 0, output_size=5), ValueError, r"output_size 5 but the repeats make 6"),
    (lambda x: x.masked_select(nc.tensor(np.ones((3, 4), np.int64))), TypeError,
     r"masked_select: mask must be a boolean tensor, got dtype int64"),
    (lambda x: x.masked_select(nc.tensor(np.ones((2, 4), bool))), ValueError, 
     r"shape \(3, 4\) and the mask's \(2, 4\)"),
    (lambda x: x.scatter(1, nc.tensor([[0, 4]]), x), IndexError, r"scatter: index 4 is out of range .*\[0, 3\]"),
    (lambda x: x.scatter(1, nc.tensor([[0, -1]]), x), IndexError, r"scatter: index -1 is out of range"),
    (lambda x: x.scatter(1, nc.tensor([0, 1]), x), ValueError,
     r"scatter: index must have 2 dimensions, got shape \(2,\)"),
    (lambda x: x.scatter(1, nc.tensor([[0.0, 1.0]]), x), TypeError, r"scatter: index must be an integer tensor"),
    (lambda x: x.scatter(1, nc.tensor(np.zeros((4, 2), np.int64)), nc.zeros(4, 2, dtype=np.float64)), ValueError,
     r"scatter: index shape \(4, 2\) exceeds the tensor's shape \(3, 4\) outside dim 1"),
    (lambda x: x.scatter(1, nc.tensor([[0, 1]]), x[:1, :1]), ValueError,
     r"index shape \(1, 2\) exceeds src's shape \(1, 1\)"),
    (lambda x: x.scatter(1, nc.tensor([[0, 1]]), x.float()), TypeError,
     r"scatter: src's dtype float32 must be the tensor's float64"),
    (lambda x: x.scatter(1, nc.tensor([[0, 1]]), x[0]), ValueError, r"src must have 2 dimensions"),
    (lambda x: x.scatter(1, nc.tensor([[0, 1]])), TypeError, r"give src \(a tensor\) or value"),
    (lambda x: x.scatter(1, nc.tensor([[0, 1]]), x, reduce="multiply"), NotImplementedError, r"reduce='multiply'"),
    (lambda x: x.scatter_add(1, nc.tensor([[0, 1]]), 5), TypeError, r"scatter_add: src must be a Tensor, got int"),
    (lambda x: x[0, 0].scatter(0, nc.tensor(0), x[0, 0]), ValueError, r"at least one dimension"),
    (lambda x: x.index_add(1, nc.tensor([0, 4]), x[:, :2]), IndexError, r"index_add: index 4 is out of range"),
    (lambda x: x.index_add(1, nc.tensor([0, -1]), x[:, :2]), IndexError, r"index_add: index -1 is out of range"),
    (lambda x: x.index_add(1, nc.tensor([0, 0]), x[:, :3]), ValueError,
     r"index_add: source must have shape \(3, 2\) .* got \(3, 3\)"),
    (lambda x: x.index_add(1, nc.tensor([[0, 0]]), x[:, :2]), ValueError, r"index_add: index must have 1 dimension"),
    (lambda x: x.index_add(1, nc.tensor([0, 1]), x[:, :2].float()), TypeError, r"source's dtype float32"),
    (lambda x: x.long().index_add(1, nc.tensor([0]), x.long()[:, :1], alpha=2.5), TypeError,
     r"index_add: alpha must be an integer for a tensor of dtype int64, got 2.5"),
    (lambda x: x.index_copy(1, nc.tensor([4]), x[:, :1]), IndexError, r"index_copy: index 4 is out of range"),
    (lambda x: x.index_fill(1, nc.tensor([-5]), 1.0), IndexError, r"index_fill: index -5 is out of range .*\[-4, 3\]"),
    (lambda x: x.index_fill(1, nc.tensor([1]), x[0]), ValueError,
     r"index_fill: value must be a number or a 0-d tensor"),
    (lambda x: x.take(nc.tensor([12])), IndexError, r"take: index 12 is out of range .*\[-12, 11\]"),
    (lambda x: x.take(nc.tensor([-13])), IndexError, r"take: index -13 is out of range"),
    (lambda x: x.take(nc.tensor([True])), TypeError, r"take: index must be an integer tensor"),
    (lambda x: x[0].tril(), ValueError, r"tril: the tensor must have at least 2 dimensions, got shape \(4,\)"),
    (lambda x: x.triu(0.5), TypeError, r"triu: diagonal must be an int"),
    (lambda x: x.diagonal(0, 0, -2), ValueError, r"diagonal: dim1 0 and dim2 -2 name the same dimension"),
    (lambda x: x[0].diagonal(), ValueError, r"diagonal: the tensor must have at least 2 dimensions"),
    (lambda x: x.reshape(1, 3, 4).diag(), ValueError,
     r"diag: the tensor must have 1 or 2 dimensions, got shape \(1, 3, 4\)"),
    (lambda x: x[0].trace(), ValueError, r"trace: expected a matrix \(2 dimensions\), got shape \(4,\)"),
    (lambda x: (x > 1).trace(), TypeError, r"trace of a bool tensor"),
    (lambda x: x.rot90(1, (0, 0)), ValueError, r"rot90: dims \(0, 0\) name the same dimension twice"),
    (lambda x: x.rot90(1, (0,)), ValueError, r"rot90: dims must be two dimensions, got \(0,\)"),
    (lambda x: x[0].rot90(), ValueError, r"rot90: the tensor must have at least 2 dimensions"),
    (lambda x: x[0].fliplr(), ValueError, r"fliplr: the tensor must have at least 2 dimensions"),
    (lambda x: x[0, 0].flipud(), ValueError, r"flipud: the tensor must have at least 1 dimension"),
    (lambda x: x.diff(-1), ValueError, r"diff: n must be >= 0, got -1"),
    (lambda x: x.diff(prepend=x[:2, :1]), ValueError, r"diff: prepend of shape \(2, 1\) must have the tensor's shape"),
    (lambda x: x.diff(append=1.0), TypeError, r"diff: append must be a Tensor, got float"),
    (lambda x: x[0, 0].diff(), ValueError, r"diff: the tensor must have at least 1 dimension"),
    (lambda x: x[0].dot(x[1, :3]), ValueError,
     r"dot: expected two 1-d tensors of one size, got shapes \(4,\) and \(3,\)"),
    (lambda x: x.dot(x), ValueError, r"dot: expected two 1-d tensors"),
    (lambda x: x[0].dot(x[1].float()), TypeError, r"dot: other's dtype float32 must be the tensor's float64"),
    (lambda x: x.mv(x[0, :3]), ValueError,
     r"mv: expected a matrix \(n, m\) and a vector \(m,\), got shapes \(3, 4\) and \(3,\)"),
    (lambda x: x.outer(x[0]), ValueError, r"outer: expected two 1-d tensors, got shapes \(3, 4\) and \(4,\)"),
    (lambda x: x[0].outer([1.0]), TypeError, r"outer: vec2 must be a Tensor, got list"),
    (lambda x: x[:2].addmm(x[:, :2], x[:2]), ValueError,
     r"addmm: the tensor's shape \(2, 4\) does not broadcast to the product's \(3, 4\)"),
    (lambda x: x.addmm(x[:, :2], x[:3]), ValueError, r"addmm: mat1 and mat2 must be matrices \(n, k\) and \(k, m\)"),
    (lambda x: x.addmm(x[:, :2], x[:2].float()), TypeError, r"addmm: mat2's dtype float32"),
    (lambda x: x.long().addmm(x[:, :2].long(), x[:2].long(), alpha=0.5), TypeError, r"addmm: alpha must be an integer"),
    (lambda x: x.count_nonzero((0, 0)), ValueError, r"names a dimension twice"),
    (lambda x: x.unfold(1, 5, 1), ValueError, r"unfold: size 5 is more than the size 4 of dimension 1"),
    (lambda x: x.unfold(1, 2, 0), ValueError, r"unfold: step must be >= 1, got 0"),
    (lambda x: x.unfold(1, -1, 1), ValueError, r"unfold: size must be >= 0, got -1"),
    (lambda x: x.unfold(2, 1, 1), IndexError, r"dimension 2 is out of range"),
    (lambda x: x.type("torch.cuda.FloatTensor"), ValueError, r"type\(\): unknown type name 'torch.cuda.FloatTensor'"),
    (lambda x: x.long().new_tensor([1], requires_grad=True), TypeError, r"only floating-point tensors can require"),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_bad_arguments_raise_errors_that_name_them(k):
    fn, exc, match = ERRORS[k]
    with pytest.raises(exc, match=match):
        fn(_x())


def test_diagonal_is_a_view_as_torch(rng, torch):
    """diagonal() was a copy: x.diagonal().add_(eps), a common idiom, left x unchanged, silently."""
    x = rng.standard_normal((2, 3, 4))
    ours, theirs = nc.Tensor(x.copy()), torch.from_numpy(x.copy())
    for args in ((), (1,), (-1, 1, 2), (0, 2, 0), (2, -1, -2)):
        ours.diagonal(*args).mul_(3.0)
        theirs.diagonal(*args).mul_(3.0)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    m = nc.Tensor(x[0].copy())
    d = m.diagonal()
    m[1, 1] = 42.0  # and a write to the matrix shows in the diagonal
    assert d.tolist()[1] == 42.0 and m.diag().tolist()[1] == 42.0
    v = m.diagonal()._version
    m.diagonal().zero_()
    assert m._version == v + 1 and not np.diag(m.numpy()).any()


KEYWORD_FORMS = ["X.reshape(shape=(3, 4))", "X.view(size=(4, 3))", "X.permute(dims=(1, 0))", "X.expand(size=(2, 3, 4))",
                 "X.tile(dims=(2,))", "X.repeat(repeats=(2, 1))", "X.flip(dims=(0,))", "X.flip(0, 1)", "X.flip([1])",
                 "X.new_zeros(size=(2,))", "X.new_ones(size=[3, 1])", "L.flip(X, dims=(1,))",
                 "L.permute(X, dims=(1, 0))", "L.reshape(X, shape=(-1,))", "L.tile(X, dims=(1, 2))"]


@pytest.mark.parametrize("form", KEYWORD_FORMS)
def test_shape_arguments_by_keyword_as_torch(form, rng, torch):
    """The shape, dims or sizes of a method by PyTorch's keyword for them (they were positional only)."""
    values = rng.standard_normal((3, 4))
    results = []
    for L in (nc, torch):
        X = L.tensor(values)  # noqa: F841 (read by eval)
        results.append(eval(form))
    _same(*results)


def test_shape_arguments_by_a_wrong_keyword_name_it():
    x = nc.randn(2, 3)
    for call, words in ((lambda: x.view(shape=(3, 2)), "size="), (lambda: x.repeat(sizes=(1, 1)), "repeats="),
                        (lambda: x.reshape((3, 2), shape=(3, 2)), "1 positional")):
        with pytest.raises(TypeError, match=words):
            call()
