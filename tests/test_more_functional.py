"""logsigmoid, softsign, tanhshrink, threshold, hardshrink, softshrink, glu, softmin, normalize, one_hot,
cosine_similarity and pairwise_distance: values and gradients against torch in float64 (zero vectors and
the kinks included), float32 values, central differences, the nn modules' reprs, and bad arguments."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F
from conftest import assert_close, torch_or_fail
from numconv import nn
from numconv.autograd import gradcheck


def _with_kinks(rng, shape, kinks):
    x = rng.standard_normal(shape) * 2
    flat = x.reshape(-1)
    flat[:len(kinks)] = kinks
    return x


# name: (numconv call, torch call on torch.nn.functional, number of inputs, shape, kinks / zero rows)
CASES = {
    "logsigmoid": (F.logsigmoid, lambda T, x: T.logsigmoid(x), [(3, 5)], [0.0, -30.0, 30.0]),
    "softsign": (F.softsign, lambda T, x: T.softsign(x), [(3, 5)], [0.0]),
    "tanhshrink": (F.tanhshrink, lambda T, x: T.tanhshrink(x), [(3, 5)], [0.0]),
    "threshold": (lambda x: F.threshold(x, 0.5, -2.0), lambda T, x: T.threshold(x, 0.5, -2.0), [(3, 5)], [0.5, 0.0]),
    "hardshrink": (lambda x: F.hardshrink(x, 0.5), lambda T, x: T.hardshrink(x, 0.5), [(3, 5)],
                   [0.5, -0.5, 0.0]),
    "hardshrink_default": (F.hardshrink, lambda T, x: T.hardshrink(x), [(4,)], [0.5, -0.5]),
    "softshrink": (lambda x: F.softshrink(x, 0.7), lambda T, x: T.softshrink(x, 0.7), [(3, 5)], [0.7, -0.7, 0.0]),
    "softshrink_zero": (lambda x: F.softshrink(x, 0.0), lambda T, x: T.softshrink(x, 0.0), [(3, 5)], [0.0]),
    "glu": (F.glu, lambda T, x: T.glu(x), [(3, 6)], []),
    "glu_dim0": (lambda x: F.glu(x, 0), lambda T, x: T.glu(x, 0), [(4, 3)], []),
    "softmin": (lambda x: F.softmin(x, 1), lambda T, x: T.softmin(x, 1), [(3, 5)], []),
    "normalize": (F.normalize, lambda T, x: T.normalize(x), [(4, 3)], "zero"),
    "normalize_p1_dim0": (lambda x: F.normalize(x, 1.0, 0), lambda T, x: T.normalize(x, 1.0, 0), [(3, 4)], "zero"),
    "normalize_p3": (lambda x: F.normalize(x, 3.0, -1), lambda T, x: T.normalize(x, 3.0, -1), [(4, 3)], "zero"),
    "normalize_p05": (lambda x: F.normalize(x, 0.5), lambda T, x: T.normalize(x, 0.5), [(4, 3)], "zero"),
    "normalize_inf": (lambda x: F.normalize(x, float("inf")), lambda T, x: T.normalize(x, float("inf")), [(4, 3)],
                      "zero"),
    "normalize_pneg": (lambda x: F.normalize(x, -1.5), lambda T, x: T.normalize(x, -1.5), [(4, 3)], "zero"),
    "normalize_ninf": (lambda x: F.normalize(x, -float("inf")), lambda T, x: T.normalize(x, -float("inf")),
                       [(4, 3)], "zero"),
    "normalize_1d": (lambda x: F.normalize(x, dim=0), lambda T, x: T.normalize(x, dim=0), [(5,)], []),
    "cosine_similarity": (F.cosine_similarity, lambda T, a, b: T.cosine_similarity(a, b), [(4, 3), (4, 3)], "zero"),
    "cosine_broadcast": (lambda a, b: F.cosine_similarity(a, b, -1, 1e-3),
                         lambda T, a, b: T.cosine_similarity(a, b, -1, 1e-3), [(3, 1, 4), (2, 4)], []),
    "cosine_bcast_dim": (lambda a, b: F.cosine_similarity(a, b, 1), lambda T, a, b: T.cosine_similarity(a, b, 1),
                         [(3, 1), (3, 4)], []),
    "pairwise_distance": (F.pairwise_distance, lambda T, a, b: T.pairwise_distance(a, b), [(4, 3), (4, 3)], "zero"),
    "pairwise_p1_keepdim": (lambda a, b: F.pairwise_distance(a, b, 1.0, keepdim=True),
                            lambda T, a, b: T.pairwise_distance(a, b, 1.0, keepdim=True), [(4, 3), (4, 3)], "zero"),
    "pairwise_p3": (lambda a, b: F.pairwise_distance(a, b, 3.0), lambda T, a, b: T.pairwise_distance(a, b, 3.0),
                    [(4, 3), (3,)], "zero"),
    "pairwise_inf": (lambda a, b: F.pairwise_distance(a, b, float("inf")),
                     lambda T, a, b: T.pairwise_distance(a, b, float("inf")), [(4, 3), (4, 3)], []),
    "pairwise_pneg": (lambda a, b: F.pairwise_distance(a, b, -1.0),
                      lambda T, a, b: T.pairwise_distance(a, b, -1.0), [(4, 3), (4, 3)], "zero"),
    "pairwise_1d": (F.pairwise_distance, lambda T, a, b: T.pairwise_distance(a, b), [(5,), (5,)], []),
}


def _inputs(rng, name):
    _, _, shapes_, special = CASES[name]
    xs = [_with_kinks(rng, s, special if isinstance(special, list) else []) for s in shapes_]
    if special == "zero":  # a zero vector along the reduced dimension (pairwise: x1 - x2 = -eps exactly)
        if name.startswith("pairwise"):
            xs[0][0] = 0.0
            xs[1][..., :] = 0.0
            xs[1][0] = 1e-6
        elif name.startswith("cosine"):
            xs[0][0] = 0.0
            xs[1][1] = 0.0
            xs[0][2] = 1e-9 * xs[0][2]  # norm in (0, eps): the clamp outside autograd
        elif "dim0" in name:
            xs[0][:, 0] = 0.0
        else:
            xs[0][0] = 0.0
    return xs


@pytest.mark.parametrize("name", CASES)
def test_against_torch_float64(name, rng, torch):
    fn, tfn, _, _ = CASES[name]
    xs = _inputs(rng, name)
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    ty = tfn(torch.nn.functional, *ts)
    gy = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(gy))
    ns = [nc.Tensor(x, requires_grad=True) for x in xs]
    y = fn(*ns)
    assert y.shape == tuple(ty.shape)
    assert_close(y.numpy(), ty.detach().numpy(), what=f"{name} value")
    (y * nc.Tensor(gy)).sum().backward()
    for i, (n, t) in enumerate(zip(ns, ts)):
        assert np.all(np.isfinite(n.grad.numpy())), f"{name} grad {i} not finite"
        assert_close(n.grad.numpy(), t.grad.numpy(), what=f"{name} grad {i}")


@pytest.mark.parametrize("name", CASES)
def test_float32_values_and_arrays(name, rng, torch):
    fn, tfn, _, _ = CASES[name]
    xs = [x.astype(np.float32) for x in _inputs(rng, name)]
    y = fn(*xs)  # arrays in, an array out
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    assert_close(y, tfn(torch.nn.functional, *map(torch.tensor, xs)).numpy(), np.float32, "f32", what=name)


@pytest.mark.parametrize("name", CASES)
def test_gradcheck(name, rng):
    fn = CASES[name][0]
    xs = [rng.standard_normal(s) + 0.1 for s in CASES[name][2]]  # away from the kinks
    if "shrink" in name or "threshold" in name:
        xs = [np.where(np.abs(np.abs(x) - 0.6) < 0.05, x + 0.2, x) for x in xs]
    assert gradcheck(fn, [nc.Tensor(x, requires_grad=True) for x in xs])


def test_logsigmoid_precision(torch):
    x = np.concatenate([np.linspace(-800, 800, 4001), [0.0, -1e-300, 1e-300, 36.0, 37.0, -745.0]])
    t = torch.tensor(x, requires_grad=True)
    torch.nn.functional.logsigmoid(t).sum().backward()
    n = nc.Tensor(x, requires_grad=True)
    y = F.logsigmoid(n)
    y.sum().backward()
    expected = torch.nn.functional.logsigmoid(torch.tensor(x)).numpy()
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(n.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-300)
    assert np.all(np.isfinite(y.numpy()))


def test_threshold_inplace(rng, torch):
    x = rng.standard_normal((3, 4))
    a = x.copy()
    out = F.threshold(a, 0.1, 5.0, inplace=True)
    assert out is a
    assert_close(a, torch.nn.functional.threshold(torch.tensor(x), 0.1, 5.0).numpy())


@pytest.mark.filterwarnings("ignore:Implicit dimension")
def test_softmin_implicit_dim(rng, torch):
    for shape in ((3,), (2, 3), (2, 3, 4), (2, 3, 4, 5)):
        x = rng.standard_normal(shape)
        assert_close(F.softmin(x), torch.nn.functional.softmin(torch.tensor(x)).numpy(), what=str(shape))


def test_softmin_dtype(rng, torch):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    y = F.softmin(x, 1, dtype=np.float64)
    assert y.dtype == np.float64
    assert_close(y, torch.nn.functional.softmin(torch.tensor(x), 1, dtype=torch.float64).numpy())


def test_zero_order_norms(rng, torch):
    """p = 0 counts the non-zeros: values as PyTorch's, in the graph with a zero gradient through the count."""
    T = torch.nn.functional
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    x[0, 1] = 0.0
    pairs = [(lambda a, b: F.normalize(a, 0.0) * b, lambda a, b: T.normalize(a, 0.0) * b),
             (lambda a, b: F.pairwise_distance(a, b, 0.0), lambda a, b: T.pairwise_distance(a, b, 0.0))]
    for fn, tfn in pairs:
        ts = [torch.tensor(a, requires_grad=True) for a in (x, y)]
        ns = [nc.Tensor(a, requires_grad=True) for a in (x, y)]
        ty, ny = tfn(*ts), fn(*ns)
        assert_close(ny.numpy(), ty.detach().numpy())
        ty.sum().backward()
        ny.sum().backward()
        for n, t in zip(ns, ts):
            assert_close(n.grad.numpy(), np.zeros((3, 4)) if t.grad is None else t.grad.numpy())
    assert_close(F.pairwise_distance(np.array(1.0), np.array(3.0)),
                 T.pairwise_distance(torch.tensor(np.array(1.0)), torch.tensor(np.array(3.0))).numpy())


def test_one_hot(rng, torch):
    idx = rng.integers(0, 5, (3, 4)).astype(np.int64)
    for k in (-1, 7):
        got = F.one_hot(idx, k)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, torch.nn.functional.one_hot(torch.tensor(idx), k).numpy())
    t = F.one_hot(nc.Tensor(np.array(2)))
    assert isinstance(t, nc.Tensor) and t.tolist() == [0, 0, 1]
    assert F.one_hot(np.zeros(0, np.int64), 3).shape == (0, 3)


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.one_hot(np.array([1, -1])), ValueError, "non-negative, got -1"),
    (lambda: F.one_hot(np.array([1, 3]), 3), ValueError, "num_classes=3, got 3"),
    (lambda: F.one_hot(np.zeros(0, np.int64)), ValueError, "empty"),
    (lambda: F.one_hot(np.array([1.0])), TypeError, "float64"),
    (lambda: F.one_hot(np.array([1], np.int32)), TypeError, "int32"),
    (lambda: F.one_hot(np.array([1]), 2.0), TypeError, "num_classes"),
    (lambda: F.one_hot(np.array([1]), -2), ValueError, "num_classes"),
    (lambda: F.softshrink(np.ones(3), -1.0), ValueError, "lambd"),
    (lambda: F.softshrink(np.ones(3), float("nan")), ValueError, "lambd"),
    (lambda: F.hardshrink(np.ones(3), "a"), TypeError, "lambd"),
    (lambda: F.threshold(np.ones(3), None, 1.0), TypeError, "threshold"),
    (lambda: F.threshold(np.ones(3), 0.0, "x"), TypeError, "value"),
    (lambda: F.threshold(np.ones(3), 0.0, 1.0, inplace=1), TypeError, "inplace"),
    (lambda: F.glu(np.ones(3)), ValueError, "even, got 3"),
    (lambda: F.glu(np.array(1.0)), ValueError, "0-d"),
    (lambda: F.glu(np.ones((2, 4)), 2), ValueError, "dim"),
    (lambda: F.logsigmoid(np.array([1, 2])), TypeError, "input"),
    (lambda: F.normalize(np.ones((2, 3)), dim=2), ValueError, "dim"),
    (lambda: F.normalize(np.ones((2, 3)), p="2"), TypeError, "p"),
    (lambda: F.normalize(np.ones((2, 3)), eps=None), TypeError, "eps"),
    (lambda: F.cosine_similarity(np.ones((3, 4)), np.ones((2, 4))), ValueError, "x1 of shape (3, 4)"),
    (lambda: F.cosine_similarity(np.ones((3, 4)), np.ones((3, 4)), dim=2), ValueError, "dim"),
    (lambda: F.cosine_similarity(np.ones(3), np.ones(3, np.float32)), TypeError, "x2"),
    (lambda: F.pairwise_distance(np.ones(3), np.ones(3), keepdim=1), TypeError, "keepdim"),
    (lambda: F.pairwise_distance(np.ones(3), np.ones(3), eps="a"), TypeError, "eps"),
    (lambda: nn.Softmax2d()(np.ones((3, 4))), ValueError, "3-d or 4-d"),
])
def test_errors(call, error, words):
    with pytest.raises(error, match=None) as info:
        call()
    assert words in str(info.value), str(info.value)


MODULES = [
    ("LogSigmoid", (), {}), ("Softsign", (), {}), ("Tanhshrink", (), {}), ("Threshold", (0.1, 20), {}),
    ("Threshold", (0.1, 20.0, True), {}), ("Hardshrink", (), {}), ("Hardshrink", (1,), {}),
    ("Softshrink", (0.3,), {}), ("GLU", (), {}), ("GLU", (0,), {}), ("Softmin", (), {}), ("Softmin", (1,), {}),
    ("Softmax2d", (), {}), ("CosineSimilarity", (), {}), ("CosineSimilarity", (0, 1e-3), {}),
    ("PairwiseDistance", (), {}), ("PairwiseDistance", (1,), {"keepdim": True}),
]


@pytest.mark.filterwarnings("ignore:Implicit dimension")
@pytest.mark.parametrize("name, args, kwargs", MODULES)
def test_modules_repr_and_forward(name, args, kwargs, rng, torch):
    m, tm = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(m) == repr(tm)
    assert name in nn.__all__
    xs = [rng.standard_normal((2, 4, 3, 2)) for _ in range(2 if name in ("CosineSimilarity", "PairwiseDistance") else 1)]
    if name == "Threshold" and len(args) == 3:
        xs = [x.copy() for x in xs]
    expected = tm(*map(torch.tensor, xs)).numpy()
    assert_close(m(*[nc.Tensor(x) for x in xs]).numpy(), expected, what=name)


def test_softmax2d_3d(rng, torch):
    x = rng.standard_normal((3, 2, 4))
    assert_close(nn.Softmax2d()(x), torch.nn.Softmax2d()(torch.tensor(x)).numpy())


INPLACE_TWINS = [("relu_", ()), ("elu_", (0.7,)), ("leaky_relu_", (0.2,)), ("hardtanh_", (-0.5, 0.5)), ("selu_", ()),
                 ("celu_", (1.3,)), ("threshold_", (0.1, -2.0))]


@pytest.mark.parametrize("name, args", INPLACE_TWINS, ids=[n for n, _ in INPLACE_TWINS])
def test_inplace_twins_change_their_input_as_torch(name, args, rng):
    """F.<name>_ writes into its input (an array or a Tensor) and returns it; under autograd the
    change is recorded, so the gradient through it equals torch's."""
    torch = torch_or_fail()
    x = rng.standard_normal((3, 5))
    a = x.copy()
    assert getattr(F, name)(a, *args) is a
    want = torch.from_numpy(x.copy())
    getattr(torch.nn.functional, name)(want, *args)
    np.testing.assert_allclose(a, want.numpy(), rtol=1e-12, atol=1e-14)
    leaf, tleaf = nc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = leaf * 2.0
    assert getattr(F, name)(y, *args) is y
    ty = getattr(torch.nn.functional, name)(tleaf * 2.0, *args)
    gy = rng.standard_normal((3, 5))
    y.backward(nc.tensor(gy))
    ty.backward(torch.from_numpy(gy))
    # torch's float64 celu gradient is off by up to 4e-8 relative (exp(x / alpha) against 50-digit
    # arithmetic); numconv's is within an ulp there
    np.testing.assert_allclose(leaf.grad.numpy(), tleaf.grad.numpy(), rtol=1e-7 if name == "celu_" else 1e-12,
                               atol=1e-14)
    with pytest.raises(TypeError, match="takes no inplace argument"):
        getattr(F, name)(a, *args, inplace=False)


def test_rrelu_inplace_twin(rng):
    x = nc.tensor(rng.standard_normal(200))
    before = x.numpy().copy()
    assert F.rrelu_(x, 0.1, 0.3, training=True) is x
    ratio = x.numpy()[before < 0] / before[before < 0]
    assert ((ratio >= 0.1) & (ratio < 0.3)).all() and np.array_equal(x.numpy()[before >= 0], before[before >= 0])


@pytest.mark.filterwarnings("ignore:`nn.functional.upsample.*` is deprecated")  # torch's own, for its old names
@pytest.mark.parametrize("name, kw", [("upsample", dict(size=(5, 7), mode="bicubic", align_corners=False)),
                                      ("upsample", dict(scale_factor=2)), ("upsample_nearest", dict(size=6)),
                                      ("upsample_bilinear", dict(scale_factor=1.5))])
def test_deprecated_upsample_names_are_interpolate(name, kw, rng):
    torch = torch_or_fail()
    x = rng.standard_normal((2, 3, 4, 4))
    want = getattr(torch.nn.functional, name)(torch.from_numpy(x), **kw).numpy()
    np.testing.assert_allclose(getattr(F, name)(x, **kw), want, rtol=1e-12, atol=1e-13)


def test_bilinear_matches_torch_and_its_definition(rng):
    torch = torch_or_fail()
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 5))
    w, bias = rng.standard_normal((6, 4, 5)), rng.standard_normal(6)
    want = np.einsum("...i,oij,...j->...o", a, w, b) + bias  # the definition
    np.testing.assert_allclose(F.bilinear(a, b, w, bias), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(F.bilinear(a, b, w), want - bias, rtol=1e-12, atol=1e-12)
    ts = [torch.tensor(v, requires_grad=True) for v in (a, b, w, bias)]
    ours = [nc.tensor(v, requires_grad=True) for v in (a, b, w, bias)]
    gy = rng.standard_normal((2, 3, 6))
    F.bilinear(*ours).backward(nc.tensor(gy))
    torch.nn.functional.bilinear(*ts).backward(torch.from_numpy(gy))
    for o, t in zip(ours, ts):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert gradcheck(F.bilinear, [nc.tensor(v, requires_grad=True) for v in (a[0, :2], b[0, :2], w, bias)])
    layer = nn.Bilinear(4, 5, 6)
    assert repr(layer) == "Bilinear(in1_features=4, in2_features=5, out_features=6, bias=True)"
    assert layer.weight.shape == (6, 4, 5) and np.abs(layer.weight.numpy()).max() <= 0.5
    assert layer(nc.tensor(a.astype(np.float32)), nc.tensor(b.astype(np.float32))).shape == (2, 3, 6)
    with pytest.raises(ValueError, match="must share their leading dimensions"):
        F.bilinear(a, b[:1], w)
    with pytest.raises(ValueError, match=r"bias must have shape \(6,\)"):
        F.bilinear(a, b, w, bias[:4])


@pytest.mark.parametrize("p", [2.0, 1.0, 0.5, 3.0, float("inf"), 0.0])
def test_pdist_matches_torch(p, rng):
    torch = torch_or_fail()
    x = rng.standard_normal((6, 4))
    x[4] = x[1]  # two equal rows: a zero distance, whose gradient is 0
    ours, theirs = nc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = F.pdist(ours, p), torch.nn.functional.pdist(theirs, p)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    gy = rng.standard_normal(y.shape)
    y.backward(nc.tensor(gy))
    ty.backward(torch.from_numpy(gy))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
    naive = [np.linalg.norm(x[i] - x[j], ord=p) for i in range(6) for j in range(i + 1, 6)]
    np.testing.assert_allclose(F.pdist(x, p), naive, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="p must be >= 0"):
        F.pdist(x, -1.0)
    with pytest.raises(ValueError, match=r"\(N, M\)"):
        F.pdist(x[0], p)


@pytest.mark.parametrize("name", ["threshold", "hardshrink", "softshrink"])
def test_nan_and_infinities_pass_through_as_torchs(name, rng, torch):
    """NaN stays NaN (it is not above the threshold, nor at most it), with torch's gradient there."""
    ours, theirs = CASES[name][:2]
    a = rng.standard_normal(9)
    a[:4] = [np.nan, np.inf, -np.inf, 0.5]
    x = nc.Tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    y, yt = ours(x), theirs(torch.nn.functional, t)
    np.testing.assert_array_equal(y.numpy(), yt.detach().numpy())
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
