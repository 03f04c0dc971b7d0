"""PyTorch's named in-place twins of the elementwise, comparison, scan and triangle methods
(``x.sin_()``, ``x.eq_(y)``, ``x.addcmul_(a, b)``, ...), ``uniform_``/``normal_``, and the small
methods and aliases beside them: values and dtypes against torch's own in-place methods, gradients
through them (directly and through a view) against torch's, and what leaves the graph."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
from conftest import torch_or_fail
from numconv.autograd import gradgradcheck
from numconv.tensor import _INPLACE_TWINS

# each twin's arguments besides the tensor: "y" a second random tensor of the same shape, "p" a positive one
ARGS = {"atan2": ("y",), "arctan2": ("y",), "fmod": (0.7,), "remainder": ("y",), "hypot": ("y",), "copysign": ("y",),
        "xlogy": ("p",), "heaviside": ("y",), "lerp": ("y", 0.3), "addcmul": ("y", "y"), "addcdiv": ("y", "p"),
        "addmm": ("y", "s"), "clamp_min": (0.1,), "clamp_max": (0.1,), "multiply": ("y",), "subtract": ("y",),
        "divide": ("p",), "true_divide": ("p",), "floor_divide": ("p",), "cumsum": (1,), "cumprod": (0,),
        "tril": (), "triu": (1,), "nan_to_num": (), "logaddexp2": ("y",), "fmax": ("y",), "fmin": ("y",),
        "float_power": (1.5,), "ldexp": ("y",), "logit": (0.05,), "polygamma": (2,), "mvlgamma": (2,)}
COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal")
LOGICAL = ("logical_and", "logical_or", "logical_xor")
BITWISE = ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift")
# results that carry no gradient: torch's twins record a zero gradient, numconv's take the tensor out of the graph
OUTSIDE = COMPARISONS + LOGICAL + ("logical_not", "floor_divide", "heaviside")
DOMAIN = {"acos": 0.9, "arccos": 0.9, "asin": 0.9, "arcsin": 0.9, "atanh": 0.9, "arctanh": 0.9, "log1p": None,
          "log2": None, "log10": None, "rsqrt": None, "acosh": "above 1", "arccosh": "above 1", "float_power": None,
          "logit": "unit", "erfinv": 0.9, "mvlgamma": "above 1"}
# a bound on |x| (arcsin), None: positive inputs, "above 1": inputs above 1


def _operands(name, rng, shape=(3, 4)):
    x = rng.standard_normal(shape) * 1.5
    if name in DOMAIN:
        bound = DOMAIN[name]
        x = np.abs(x) + 1.1 if bound == "above 1" else 1 / (1 + np.exp(-x)) if bound == "unit" else \
            np.clip(x, -bound, bound) if bound else np.abs(x) + 0.1
    table = {"y": rng.standard_normal(shape), "p": np.abs(rng.standard_normal(shape)) + 0.5,
             "s": rng.standard_normal((shape[1], shape[1]))}
    if name in COMPARISONS or name in LOGICAL:
        return x, (np.where(rng.random(shape) < 0.3, x, table["y"]),)
    return x, tuple(table[a] if isinstance(a, str) else a for a in ARGS.get(name, ()))


FLOAT_TWINS = [n for n in _INPLACE_TWINS if n not in BITWISE]


@pytest.mark.parametrize("name", FLOAT_TWINS)
def test_twin_changes_the_tensor_as_torchs(name, rng):
    torch = torch_or_fail()
    x, args = _operands(name, rng)
    ours, theirs = nc.tensor(x.copy()), torch.from_numpy(x.copy())
    wrap = (lambda lib, a: lib.tensor(a) if isinstance(a, np.ndarray) else a)
    assert getattr(ours, name + "_")(*[wrap(nc, a) for a in args]) is ours
    getattr(theirs, name + "_")(*[torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args])
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", BITWISE)
def test_bitwise_twins(name, rng):
    torch = torch_or_fail()
    x = rng.integers(-50, 50, (3, 4))
    y = rng.integers(0, 5, (3, 4))
    args = () if name == "bitwise_not" else (y,)
    ours, theirs = nc.tensor(x.copy()), torch.from_numpy(x.copy())
    getattr(ours, name + "_")(*[nc.tensor(a) for a in args])
    getattr(theirs, name + "_")(*[torch.from_numpy(a) for a in args])
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


# torch 2.13 has no derivative for these in-place twins ("not implemented"): its reference is copy_ of the op
TORCH_HAS_NO_GRADIENT = ("asinh", "acosh", "atanh", "arcsinh", "arccosh", "arctanh")
# (torch's sgn_ gradient is a ZeroTensor that will not convert to NumPy; numconv's is zeros, as sign_'s)
DIFFERENTIABLE = [n for n in FLOAT_TWINS if n not in OUTSIDE and n != "sgn"]


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_twin_gradients_as_torchs(name, rng):
    """y = 2 x, changed in place, summed against random weights: the gradients of x and of the other
    operands equal torch's, directly and when the change goes through a view (rows 1 and 2)."""
    torch = torch_or_fail()
    x, args = _operands(name, rng)
    x = x / 2  # y = 2 x starts where _operands put x
    weights = rng.standard_normal(x.shape)
    for through_view in (False, True):
        grads = []
        for lib in (nc, torch):
            leaf = lib.tensor(x.copy(), requires_grad=True)
            others = [lib.tensor(a.copy(), requires_grad=True) if isinstance(a, np.ndarray) else a for a in args]
            y = leaf * 2
            target = y[1:3] if through_view else y
            picked = [o[1:3] if through_view and isinstance(o, lib.Tensor) and o.shape == y.shape else o for o in others]
            if lib is torch and name in TORCH_HAS_NO_GRADIENT:
                target.copy_(getattr(target.clone(), name)(*picked))  # the same change, written by copy_
            else:
                getattr(target, name + "_")(*picked)
            (y * lib.tensor(weights)).sum().backward()
            grads.append([leaf.grad.numpy()] + [o.grad.numpy() for o in others if isinstance(o, lib.Tensor)])
        rtol = 1e-8 if name == "digamma" else 1e-10  # torch's trigamma (digamma's gradient) is good to 5e-10
        for ours, theirs in zip(*grads):
            np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=1e-12, err_msg=f"view={through_view}")


@pytest.mark.parametrize("name", ["eq", "lt", "logical_not", "floor_divide"])
def test_a_result_outside_the_graph_takes_the_tensor_out(name, rng):
    """Comparisons and // carry no gradient: the changed tensor leaves the graph (backward through it
    alone is an error, not the old values' gradient), and a change through a view sends no gradient
    through the changed region (PyTorch: a zero gradient, or an error for //)."""
    x, args = _operands(name, rng)
    leaf = nc.tensor(x, requires_grad=True)
    y = leaf * 2
    getattr(y, name + "_")(*[nc.tensor(a) if isinstance(a, np.ndarray) else a for a in args])
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()
    y = leaf * 2
    getattr(y[0], name + "_")(*[nc.tensor(a[0]) if isinstance(a, np.ndarray) else a for a in args])
    y.sum().backward()
    want = np.full(x.shape, 2.0)
    want[0] = 0.0
    np.testing.assert_array_equal(leaf.grad.numpy(), want)
    z = leaf * 2
    z //= 3  # the operator form too
    assert not z.requires_grad


def test_twins_refuse_what_they_cannot_take_and_drop_a_stale_retained_grad():
    with pytest.raises(TypeError, match="eq_: cannot take str"):
        nc.tensor([1.0, 2.0]).eq_("a")
    a = nc.tensor([1.0, 2.0], requires_grad=True)
    y = a * 2
    y.retain_grad()
    z = y * 3
    y.eq_(0.0)  # y's values are now outside the graph: its .grad is not the old values' gradient
    z.sum().backward()
    assert y.grad is None and not y.retains_grad
    np.testing.assert_array_equal(a.grad.numpy(), [6.0, 6.0])


def test_twins_refuse_a_wider_result_and_a_leaf():
    with pytest.raises(RuntimeError, match="does not fit the tensor's dtype int64"):
        nc.tensor([1, 2, 3]).sin_()
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        nc.tensor([1.0, 2.0], requires_grad=True).cos_()


def test_uniform_and_normal_fill_in_place():
    nc.manual_seed(4)
    w = nc.zeros(4000)
    assert w.normal_(0.5, 2.0) is w
    assert abs(w.numpy().mean() - 0.5) < 0.15 and abs(w.numpy().std() - 2.0) < 0.1
    w.uniform_(-1.0, 3.0)
    assert w.numpy().min() >= -1.0 and w.numpy().max() < 3.0 and abs(w.numpy().mean() - 1.0) < 0.1
    nc.manual_seed(4)
    again = nc.zeros(4000).normal_(0.5, 2.0)
    nc.manual_seed(4)
    np.testing.assert_array_equal(again.numpy(), nc.zeros(4000).normal_(0.5, 2.0).numpy())
    m = nc.zeros(3, 4)
    m[1].uniform_(5.0, 6.0)  # through a view: only row 1
    assert (m.numpy()[[0, 2]] == 0).all() and (m.numpy()[1] >= 5).all()
    p = nc.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        p.normal_()
    with nc.no_grad():
        p.normal_(0.0, 0.02)  # the DCGAN-style initialisation
    assert p.requires_grad and p.numpy().std() > 0
    with pytest.raises(TypeError, match="fills a floating-point tensor"):
        nc.zeros(3, dtype=np.int64).uniform_()
    with pytest.raises(ValueError, match="from <= to"):
        nc.zeros(3).uniform_(2.0, 1.0)
    with pytest.raises(ValueError, match="std"):
        nc.zeros(3).normal_(0.0, -1.0)


def test_small_methods_and_aliases(rng):
    torch = torch_or_fail()
    x = rng.standard_normal((2, 3))
    t, tt = nc.tensor(x), torch.from_numpy(x)
    np.testing.assert_allclose(nc.deg2rad(t).numpy(), torch.deg2rad(tt).numpy(), rtol=1e-15)
    np.testing.assert_allclose(t.rad2deg().numpy(), tt.rad2deg().numpy(), rtol=1e-15)
    assert nc.tensor([1, 2]).deg2rad().dtype == np.float32
    assert t.ravel().shape == (6,) and nc.ravel(t).shape == (6,)
    assert nc.broadcast_to(nc.tensor([1.0, 2.0, 3.0]), (2, 3)).shape == (2, 3)
    assert (t.ndimension(), t.nbytes, t.itemsize, t.element_size(), t.is_cpu, t.get_device()) == \
        (tt.ndimension(), tt.nbytes, tt.itemsize, tt.element_size(), tt.is_cpu, tt.get_device())
    y = rng.standard_normal((2, 3))
    for name in ("greater", "greater_equal", "less", "less_equal", "not_equal"):
        np.testing.assert_array_equal(getattr(nc, name)(t, nc.tensor(y)).numpy(),
                                      getattr(torch, name)(tt, torch.from_numpy(y)).numpy())


@pytest.mark.parametrize("name", ["fmax", "fmin", "logaddexp2", "ldexp"])
def test_binary_methods_with_nan_and_ties_as_torch(name, rng):
    """fmax/fmin take the number where one side is NaN and send a tie's gradient to self, as PyTorch's."""
    torch = torch_or_fail()
    x, y = rng.standard_normal(12), rng.standard_normal(12)
    x[2], y[5], x[7], y[7], x[9] = np.nan, np.nan, np.nan, np.nan, y[9]
    ours = [nc.tensor(v, requires_grad=True) for v in (x, y)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, y)]
    got, want = getattr(ours[0], name)(ours[1]), getattr(theirs[0], name)(theirs[1])
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-14, equal_nan=True)
    got.backward(nc.tensor(np.ones(12)))
    want.backward(torch.ones(12, dtype=torch.float64))
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-12, equal_nan=True)


def test_logit_sinc_float_power(rng):
    torch = torch_or_fail()
    p = rng.random(10)
    p[:5] = (0.0, 1.0, -0.5, 2.5, np.nan)  # the ends (an infinite gradient without eps), outside, NaN
    for eps in (None, 0.0, 0.1):
        a, t = nc.tensor(p, requires_grad=True), torch.tensor(p, requires_grad=True)
        got, want = a.logit(eps), t.logit(eps)
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-14, equal_nan=True)
        got.sum().backward()
        want.sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12, equal_nan=True)
        assert np.isnan(a.grad.numpy()[4]) and (np.isnan(a.grad.numpy()[2]) == (eps is None))
    inside = nc.tensor(rng.uniform(0.02, 0.98, 6), requires_grad=True)
    for eps in (None, 0.1):
        assert gradgradcheck(lambda q: q.logit(eps), [inside])
    s = rng.standard_normal(10)
    s[3] = 0.0
    a, t = nc.tensor(s, requires_grad=True), torch.tensor(s, requires_grad=True)
    a.sinc().sum().backward()
    t.sinc().sum().backward()
    np.testing.assert_allclose(a.sinc().numpy(), t.sinc().detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert a.grad.numpy()[3] == 0.0
    f = nc.tensor(np.abs(s).astype(np.float32)).float_power(1.5)
    assert f.dtype == np.float64
    np.testing.assert_allclose(f.numpy(), torch.from_numpy(np.abs(s).astype(np.float32)).float_power(1.5).numpy())
    with pytest.raises(ValueError, match="eps"):
        nc.tensor(p).logit(0.7)
