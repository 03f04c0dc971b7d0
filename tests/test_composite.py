"""PyTorch's functions built from Tensor ops (``numconv/composite.py``): ``einsum``, ``tensordot``,
``cdist``, ``meshgrid``, ``broadcast_tensors``/``broadcast_shapes``, ``tensor_split``,
``take_along_dim``, the ``*stack`` and ``atleast_*d`` families; and the factories' ``device=``.

Values against float64 references written here from the definitions (NumPy's ``einsum`` and
``tensordot``, loops for ``cdist``) and against torch, gradients against torch and against central
differences in float64, and bad arguments against the errors that name them. The device side runs
in tests/_cuda_training_cases.py (``composite_cases``)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import numconv as nc
from conftest import to_torch as _t
from reference import numerical_grad


def _check(torch, fn_nc, fn_torch, arrays, rng, rtol=1e-12):
    """The two functions on the arrays (float ones requiring grad): values, dtypes and the gradient of
    sum(y * gy) equal; returns numconv's output."""
    floats = [a.dtype.kind == "f" for a in arrays]
    xs = [nc.Tensor(a, requires_grad=f) for a, f in zip(arrays, floats)]
    ts = [_t(torch, a, f) for a, f in zip(arrays, floats)]
    y, yt = fn_nc(*xs), fn_torch(*ts)
    assert y.shape == tuple(yt.shape), (y.shape, tuple(yt.shape))
    assert y.dtype == np.dtype(str(yt.dtype)[6:]), (y.dtype, yt.dtype)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=rtol, atol=rtol)
    if y.dtype.kind == "f" and any(floats):
        gy = rng.standard_normal(y.shape).astype(y.dtype)
        (y * nc.Tensor(gy)).sum().backward()
        (yt * _t(torch, gy)).sum().backward()
        for i, (x, t) in enumerate(zip(xs, ts)):
            if t.requires_grad:
                want = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
                if x.grad is None:  # an input the output does not depend on: torch leaves its grad None too
                    assert t.grad is None, f"gradient {i}: none, torch has one"
                    continue
                np.testing.assert_allclose(x.grad.numpy(), want, rtol=rtol, atol=rtol, err_msg=f"gradient {i}")
    return y


def _check_fd(fn, arrays, rng):
    """The gradient of every float64 input against central differences."""
    xs = [nc.Tensor(a, requires_grad=True) for a in arrays]
    y = fn(*xs)
    gy = rng.standard_normal(y.shape)
    (y * nc.Tensor(gy)).sum().backward()
    for k, a in enumerate(arrays):
        def f(v, k=k):
            return fn(*[nc.Tensor(v if j == k else b) for j, b in enumerate(arrays)]).numpy().copy()
        np.testing.assert_allclose(xs[k].grad.numpy(), numerical_grad(f, a.copy(), gy), rtol=1e-6, atol=1e-7,
                                   err_msg=f"input {k}")


# ============================================================================= einsum

EINSUM = [  # (equation, operand shapes), each checked against NumPy's einsum too
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bij,bkj->bik", [(2, 3, 4), (2, 5, 4)]),
    ("ii", [(3, 3)]),
    ("ii->i", [(3, 3)]),
    ("iij->j", [(3, 3, 2)]),
    ("iji->j", [(2, 3, 2)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("i,i->", [(4,), (4,)]),
    ("i,j->ij", [(3,), (2,)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("ba", [(2, 3)]),
    ("aB", [(2, 3)]),
    ("Ab,ab->Aa", [(2, 3), (4, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("...ij->...", [(2, 3, 4)]),
    ("...ij->ij", [(2, 3, 4)]),
    ("...i,...i->...", [(2, 3), (3,)]),
    ("i...->...", [(2, 3, 4)]),
    ("...", [(2, 3)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("ijk,jl,kl->il", [(2, 3, 4), (3, 5), (4, 5)]),
    ("ab,ab,ab->a", [(2, 3), (2, 3), (2, 3)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("a,b,c->", [(2,), (3,), (4,)]),
    ("ijk,ikj->", [(2, 3, 4), (2, 4, 3)]),
    ("i j , j k -> k i", [(2, 3), (3, 4)]),
]
BROADCAST_ONES = [  # size-1 dimensions of a letter broadcast, as torch's einsum takes them (NumPy's does not)
    ("ij,ij->ij", [(1, 3), (4, 3)]),
    ("ij,kj->ik", [(2, 1), (4, 3)]),
    ("i,i,i->i", [(3,), (1,), (3,)]),
]


@pytest.mark.parametrize("equation,shapes", EINSUM, ids=[e for e, _ in EINSUM])
def test_einsum_matches_the_definition(equation, shapes, rng):
    arrays = [rng.standard_normal(s) for s in shapes]
    got = nc.einsum(equation, *[nc.Tensor(a) for a in arrays]).numpy()
    if equation == "...ij->ij":  # torch sums broadcast dimensions the output leaves out; NumPy refuses
        want = arrays[0].reshape(-1, *shapes[0][-2:]).sum(0)
    else:
        want = np.einsum(equation.replace(" ", ""), *arrays)
    assert got.shape == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("equation,shapes", EINSUM + BROADCAST_ONES, ids=[e for e, _ in EINSUM + BROADCAST_ONES])
def test_einsum_follows_torch(equation, shapes, dtype, rng, torch):
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    _check(torch, lambda *xs: nc.einsum(equation, *xs), lambda *ts: torch.einsum(equation, *ts), arrays, rng,
           rtol=1e-12 if dtype == "float64" else 2e-5)


@pytest.mark.parametrize("equation,shapes", [c for c in EINSUM + BROADCAST_ONES if c[0] in (
    "bij,bkj->bik", "iij->j", "...ij,...jk->...ik", "ijk,jl,kl->il", "i,i,i->i", "ij,kj->ik", "...ij->ij")])
def test_einsum_gradients_against_central_differences(equation, shapes, rng):
    _check_fd(lambda *xs: nc.einsum(equation, *xs), [rng.standard_normal(s) for s in shapes], rng)


def test_einsum_takes_a_list_and_integer_tensors(rng, torch):
    a, b = rng.integers(-5, 6, (2, 3)), rng.integers(-5, 6, (3, 4))
    got = nc.einsum("ij,jk->ik", [nc.tensor(a), nc.tensor(b)])
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got.numpy(), a @ b)


@pytest.mark.parametrize("equation,shapes,error,words", [
    ("ij,jk->ik", [(2, 3)], ValueError, "2 operand term"),
    ("ij,jk->ik", [(2, 3), (4, 5)], ValueError, "label 'j' has sizes 3 and 4"),
    ("ii->i", [(2, 3)], ValueError, "label 'i' has sizes 2 and 3"),
    ("ij->ii", [(2, 2)], ValueError, "more than once"),
    ("ij->k", [(2, 2)], ValueError, "'k'"),
    ("ij", [(2, 2, 2)], ValueError, "operand 0 has 3 dimensions"),
    ("i1->i", [(2, 2)], ValueError, "letters"),
    ("i....->i", [(2, 2)], ValueError, "letters"),
    ("", [], ValueError, "at least one operand"),
])
def test_einsum_errors_name_the_problem(equation, shapes, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(")):
        nc.einsum(equation, *[nc.ones(*s) for s in shapes])
    with pytest.raises(TypeError, match="equation must be a string"):
        nc.einsum(nc.ones(2), "i")


# ============================================================================= tensordot

TENSORDOT = [((3, 4, 5), (4, 5, 2), 2), ((3, 4), (2, 5), 0), ((3, 4, 5), (5, 2), 1), ((3, 4, 5), (4, 3, 2),
             ([1, 0], [0, 1])), ((3, 4, 5), (2, 5), ([2], [1])), ((3, 4), (4, 3), ([1], [0]))]


@pytest.mark.parametrize("sa,sb,dims", TENSORDOT)
def test_tensordot_matches_numpy_and_torch(sa, sb, dims, rng, torch):
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    got = _check(torch, lambda x, y: nc.tensordot(x, y, dims), lambda x, y: torch.tensordot(x, y, dims), [a, b], rng)
    np.testing.assert_allclose(got.numpy(), np.tensordot(a, b, dims), rtol=1e-12, atol=1e-12)
    _check_fd(lambda x, y: nc.tensordot(x, y, dims), [a, b], rng)


def test_tensordot_errors(rng):
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((4, 3))  # a pair of ints names one dimension each
    np.testing.assert_allclose(nc.tensordot(nc.Tensor(x), nc.Tensor(y), (1, 0)).numpy(), np.tensordot(x, y, (1, 0)))
    a, b = nc.ones(3, 4), nc.ones(5, 3)
    with pytest.raises(ValueError, match="size 4.*size 5"):
        nc.tensordot(a, b, 1)
    with pytest.raises(ValueError, match="exceeds"):
        nc.tensordot(a, b, 3)
    with pytest.raises(ValueError, match="different lengths"):
        nc.tensordot(a, b, ([0, 1], [1]))
    with pytest.raises(IndexError, match="out of range"):
        nc.tensordot(a, b, ([2], [0]))
    with pytest.raises(TypeError, match="dims"):
        nc.tensordot(a, b, "all")


# ============================================================================= cdist


def _cdist_reference(x1, x2, p):
    """float64 loops from the definition: out[..., i, j] = ||x1[..., i, :] - x2[..., j, :]||_p."""
    batch = np.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    a = np.broadcast_to(x1, batch + x1.shape[-2:])
    b = np.broadcast_to(x2, batch + x2.shape[-2:])
    out = np.zeros(batch + (a.shape[-2], b.shape[-2]))
    for idx in itertools.product(*(range(n) for n in batch)):
        for i in range(a.shape[-2]):
            for j in range(b.shape[-2]):
                d = np.abs(a[idx + (i,)] - b[idx + (j,)])
                out[idx + (i, j)] = (np.count_nonzero(d) if p == 0 else d.max() if p == np.inf
                                     else (d ** p).sum() ** (1 / p))
    return out


@pytest.mark.parametrize("p", [0.0, 1.0, 1.5, 2.0, 3.0, np.inf])
@pytest.mark.parametrize("s1,s2", [((5, 3), (4, 3)), ((30, 3), (7, 3)), ((2, 5, 4), (1, 6, 4)), ((4, 1), (3, 1))])
def test_cdist_matches_the_definition_and_torch(s1, s2, p, rng, torch):
    x1, x2 = rng.standard_normal(s1), rng.standard_normal(s2)
    x2[..., 0, :] = x1.reshape(-1, *s1[-2:])[0, 1]  # a zero distance: value 0, gradient 0 (torch's)
    got = _check(torch, lambda a, b: nc.cdist(a, b, p), lambda a, b: torch.cdist(a, b, p), [x1, x2], rng, rtol=1e-9)
    np.testing.assert_allclose(got.numpy(), _cdist_reference(x1, x2, p), rtol=1e-9, atol=1e-9)
    assert got.numpy().reshape(-1, s1[-2], s2[-2])[0, 1, 0] == 0


@pytest.mark.parametrize("mode", ["use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"])
def test_cdist_compute_modes_and_gradient(mode, rng, torch):
    x1, x2 = rng.standard_normal((6, 3)), rng.standard_normal((5, 3))
    _check(torch, lambda a, b: nc.cdist(a, b, compute_mode=mode), lambda a, b: torch.cdist(a, b, compute_mode=mode),
           [x1, x2], rng, rtol=1e-9)
    _check_fd(lambda a, b: nc.cdist(a, b, compute_mode=mode), [x1, x2], rng)


def test_cdist_float32_and_errors(rng, torch):
    x1, x2 = rng.standard_normal((40, 8)).astype(np.float32), rng.standard_normal((3, 8)).astype(np.float32)
    _check(torch, nc.cdist, torch.cdist, [x1, x2], rng, rtol=1e-4)
    with pytest.raises(ValueError, match="same number of features"):
        nc.cdist(nc.ones(3, 2), nc.ones(3, 4))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nc.cdist(nc.ones(3), nc.ones(3, 3))
    with pytest.raises(ValueError, match="p must be"):
        nc.cdist(nc.ones(3, 2), nc.ones(3, 2), p=-1)
    with pytest.raises(ValueError, match="compute_mode"):
        nc.cdist(nc.ones(3, 2), nc.ones(3, 2), compute_mode="fast")
    with pytest.raises(TypeError, match="floating"):
        nc.cdist(nc.tensor([[1, 2]]), nc.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="batch dimensions"):
        nc.cdist(nc.ones(2, 3, 2), nc.ones(3, 3, 2))


# ============================================================================= grids, broadcasting, stacking


@pytest.mark.parametrize("indexing", ["ij", "xy"])
@pytest.mark.parametrize("sizes", [(3,), (3, 2), (3, 2, 4), (3, None)])  # None: a 0-d tensor
def test_meshgrid_matches_numpy_and_torch(sizes, indexing, rng, torch):
    arrays = [rng.standard_normal(()) if n is None else rng.standard_normal(n) for n in sizes]
    want = np.meshgrid(*[np.atleast_1d(a) for a in arrays], indexing=indexing)
    got = nc.meshgrid(*[nc.Tensor(a) for a in arrays], indexing=indexing)
    assert isinstance(got, tuple) and len(got) == len(arrays)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.numpy(), w)
    for k in range(len(arrays)):
        _check(torch, lambda *xs: nc.meshgrid(list(xs), indexing=indexing)[k] * 1.0,
               lambda *ts: torch.meshgrid(*ts, indexing=indexing)[k] * 1.0, arrays, rng)
    with pytest.raises(ValueError, match="indexing"):
        nc.meshgrid(nc.ones(2), indexing="ji")
    with pytest.raises(ValueError, match="0-d or 1-d"):
        nc.meshgrid(nc.ones(2, 2))


def test_broadcast_tensors_and_shapes(rng, torch):
    shapes = [(3, 1, 4), (2, 1), (4,)]
    assert nc.broadcast_shapes(*shapes) == tuple(torch.broadcast_shapes(*shapes)) == (3, 2, 4)
    assert nc.broadcast_shapes(5, (1,)) == (5,)
    arrays = [rng.standard_normal(s) for s in shapes]
    for k in range(3):
        _check(torch, lambda *xs: nc.broadcast_tensors(*xs)[k] * 1.0, lambda *ts: torch.broadcast_tensors(*ts)[k] * 1.0,
               arrays, rng)
    with pytest.raises(ValueError, match=r"\(3,\), \(4,\) do not broadcast"):
        nc.broadcast_shapes((3,), (4,))
    with pytest.raises(ValueError, match="negative"):
        nc.broadcast_shapes((3, -1))
    with pytest.raises(ValueError, match="do not broadcast"):
        nc.broadcast_tensors(nc.ones(2), nc.ones(3))


@pytest.mark.parametrize("name", ["atleast_1d", "atleast_2d", "atleast_3d"])
def test_atleast(name, rng, torch):
    for shape in [(), (3,), (2, 3), (2, 3, 4)]:
        a = rng.standard_normal(shape)
        got, want = getattr(nc, name)(nc.Tensor(a)), getattr(torch, name)(_t(torch, a))
        assert got.shape == tuple(want.shape)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    pair = getattr(nc, name)(nc.ones(2), nc.ones(()))
    assert isinstance(pair, tuple) and [p.shape for p in pair] == [tuple(t.shape) for t in
                                                                   getattr(torch, name)(torch.ones(2), torch.ones(()))]


@pytest.mark.parametrize("name", ["hstack", "vstack", "row_stack", "dstack", "column_stack"])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 2)])
def test_stacks(name, shape, rng, torch):
    if name == "column_stack" and len(shape) > 2:
        shape = (2, 3)
    arrays = [rng.standard_normal(shape), rng.standard_normal(shape)]
    torch_fn = getattr(torch, "vstack" if name == "row_stack" else name)
    _check(torch, lambda *xs: getattr(nc, name)(list(xs)), lambda *ts: torch_fn(list(ts)), arrays, rng)


@pytest.mark.parametrize("cuts", [3, 4, 1, 12, [2, 5], [-3, 20], [7, 3], [0, 0], (1,), []])
def test_tensor_split(cuts, rng, torch):
    a = rng.standard_normal((10, 3))
    for dim in (0, -2):
        got = nc.tensor_split(nc.Tensor(a), cuts, dim)
        want = torch.tensor_split(_t(torch, a), cuts, dim)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w.numpy())
    for k in range(len(want)):
        _check(torch, lambda x: x.tensor_split(cuts, 0)[k] * 2.0,
               lambda t: torch.tensor_split(t, cuts, 0)[k] * 2.0, [a], rng)
    got = nc.Tensor(a).tensor_split(nc.tensor([2, 5]), dim=1)
    assert [g.shape for g in got] == [(10, 2), (10, 1), (10, 0)]


def test_tensor_split_errors():
    with pytest.raises(ValueError, match="sections must be >= 1"):
        nc.tensor_split(nc.ones(4), 0)
    with pytest.raises(TypeError, match="indices_or_sections"):
        nc.tensor_split(nc.ones(4), 1.5)
    with pytest.raises(ValueError, match="at least one dimension"):
        nc.tensor_split(nc.ones(()), 2)
    with pytest.raises(IndexError, match="out of range"):
        nc.tensor_split(nc.ones(4), 2, dim=1)


@pytest.mark.parametrize("xs,js,dim", [((3, 4), (3, 2), 1), ((3, 4), (1, 4), 0), ((3, 4), (5,), None),
                                       ((3, 1, 4), (1, 5, 2), -1), ((2, 3), (2, 3), -2)])
def test_take_along_dim(xs, js, dim, rng, torch):
    a = rng.standard_normal(xs)
    n = a.size if dim is None else xs[dim]
    i = rng.integers(0, n, js)
    _check(torch, lambda x, j: nc.take_along_dim(x, j, dim), lambda x, j: torch.take_along_dim(x, j, dim), [a, i], rng)
    _check(torch, lambda x, j: x.take_along_dim(j, dim), lambda x, j: x.take_along_dim(j, dim), [a, i], rng)
    _check_fd(lambda x: nc.take_along_dim(x, nc.tensor(i), dim), [a], rng)


def test_take_along_dim_errors():
    x = nc.ones(3, 4)
    with pytest.raises(ValueError, match="same number of dimensions"):
        nc.take_along_dim(x, nc.tensor([0, 1]), 1)
    with pytest.raises(TypeError, match="integers"):
        nc.take_along_dim(x, nc.ones(3, 1), 1)
    with pytest.raises(ValueError, match="index values must be in"):
        nc.take_along_dim(x, nc.tensor([[4]]), 1)
    with pytest.raises(ValueError, match="do not broadcast"):
        nc.take_along_dim(x, nc.zeros(2, 1, dtype=np.int64), 1)


def test_is_tensor():
    assert nc.is_tensor(nc.ones(1)) and not nc.is_tensor(np.ones(1)) and not nc.is_tensor(1.0)


# ============================================================================= the factories' device=

FACTORIES = {
    "zeros": lambda **k: nc.zeros(2, 3, **k),
    "ones": lambda **k: nc.ones((2, 3), **k),
    "full": lambda **k: nc.full((2, 3), 1.5, **k),
    "empty": lambda **k: nc.empty(2, **k),
    "eye": lambda **k: nc.eye(3, 2, **k),
    "arange": lambda **k: nc.arange(5, **k),
    "linspace": lambda **k: nc.linspace(0, 1, 5, **k),
    "rand": lambda **k: nc.rand(2, 3, **k),
    "randn": lambda **k: nc.randn(2, 3, **k),
    "randint": lambda **k: nc.randint(0, 5, (4,), **k),
    "randperm": lambda **k: nc.randperm(6, **k),
    "tensor": lambda **k: nc.tensor([1.0, 2.0], **k),
    "as_tensor": lambda **k: nc.as_tensor(np.ones(3), **k),
    "zeros_like": lambda **k: nc.zeros_like(nc.ones(2), **k),
    "ones_like": lambda **k: nc.ones_like(nc.ones(2), **k),
    "full_like": lambda **k: nc.full_like(nc.ones(2), 3.0, **k),
    "empty_like": lambda **k: nc.empty_like(nc.ones(2), **k),
    "rand_like": lambda **k: nc.rand_like(nc.ones(2), **k),
    "randn_like": lambda **k: nc.randn_like(nc.ones(2), **k),
    "new_zeros": lambda **k: nc.ones(2).new_zeros(3, **k),
    "new_ones": lambda **k: nc.ones(2).new_ones((3,), **k),
    "new_full": lambda **k: nc.ones(2).new_full((3,), 2.0, **k),
    "new_empty": lambda **k: nc.ones(2).new_empty(3, **k),
    "new_tensor": lambda **k: nc.ones(2).new_tensor([1, 2], **k),
}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_factories_take_a_device(name, torch):
    """device='cpu' gives what no device gives (seeded draws alike); an unknown device is a ValueError;
    'cuda' is CUDAUnavailableError naming it where there is no GPU (on one: tests/_cuda_training_cases.py)."""
    make = FACTORIES[name]
    nc.manual_seed(3)
    plain = make()
    nc.manual_seed(3)
    placed = make(device="cpu")
    assert placed.device == "cpu" and placed.dtype == plain.dtype
    np.testing.assert_array_equal(placed.numpy(), plain.numpy())
    nc.manual_seed(3)
    np.testing.assert_array_equal(make(device=torch.device("cpu")).numpy(), plain.numpy())
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        make(device="gpu")
    with pytest.raises(ValueError, match="unknown device 'cuda:1'"):
        make(device="cuda:1")
    if not nc.cuda.is_available():
        with pytest.raises(NotImplementedError, match="CUDA is not available"):
            make(device="cuda")


def test_eye_and_randperm_follow_torch(torch):
    for n, m in [(3, None), (2, 4), (4, 2), (0, 3)]:
        np.testing.assert_array_equal(nc.eye(n, m).numpy(), torch.eye(n, m if m is not None else n).numpy())
    assert nc.eye(2, dtype=np.int64).dtype == np.int64
    x = nc.eye(3, requires_grad=True)
    (x * nc.arange(9.0).reshape(3, 3)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(9.0).reshape(3, 3))
    with pytest.raises(ValueError, match="n"):
        nc.eye(-1)
    perm = nc.randperm(7, dtype=np.float32)
    assert perm.dtype == np.float32 and sorted(perm.tolist()) == list(range(7))


def test_tensor_copies_and_casts():
    a = np.arange(3.0)
    t = nc.tensor(a, device="cpu")
    a[0] = 9.0
    assert t.tolist() == [0.0, 1.0, 2.0]
    assert nc.tensor(nc.tensor([1, 2]), dtype=np.float64).dtype == np.float64
    with pytest.raises(TypeError, match="floating-point"):
        nc.tensor([1, 2], requires_grad=True, device="cpu")
    x = nc.ones(2, requires_grad=True)
    y = nc.as_tensor(x, dtype=np.float64, device="cpu")  # converted in the graph, as torch's
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])
