"""PyTorch's elementwise math on Tensors: rounding (floor, ceil, round with decimals, trunc, frac),
expm1/log1p/log2/log10, the trigonometric and hyperbolic functions, erf/erfc, fmod, atan2,
hypot, copysign, logaddexp, xlogy, lerp, addcmul/addcdiv, heaviside, the named arithmetic (add
with alpha, div with rounding_mode, ...), bitwise and shift operators on integers, logical ops of
any dtype, and ``numconv.<name>(x)`` for each method. Each against torch on random values with
the edges that matter (signed zeros, halves, infinities, NaN, shifts past the width), gradients
against torch and against central differences in float64; the erf kernel against Python's math.
The CUDA kernels behind them run in tests/_cuda_training_cases.py (``elementwise_function_cases``)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import numconv as nc
from numconv.tensor import IntegerDivisionByZero
from reference import numerical_grad
from conftest import to_torch as _t  # torch's twin of an array, a copy (0-d stays 0-d)

EDGES = [0.0, -0.0, 0.5, -0.5, 1.5, -2.5, 2.5, 0.49999999999999994, 1e300, -1e300, 4503599627370497.0, np.inf,
         -np.inf, np.nan, 1.0, -1.0, 720.0, -720.0, 1e-300]

# numconv name -> torch name
UNARY = {"floor": "floor", "ceil": "ceil", "round": "round", "trunc": "trunc", "fix": "fix", "frac": "frac",
         "expm1": "expm1", "log1p": "log1p", "log2": "log2", "log10": "log10", "exp2": "exp2", "sin": "sin",
         "cos": "cos", "tan": "tan", "asin": "asin", "acos": "acos", "atan": "atan", "sinh": "sinh", "cosh": "cosh",
         "erf": "erf", "erfc": "erfc", "sign": "sign", "sgn": "sgn", "square": "square", "reciprocal": "reciprocal",
         "rsqrt": "rsqrt", "neg": "neg", "absolute": "absolute", "asinh": "asinh", "acosh": "acosh",
         "atanh": "atanh", "arcsinh": "arcsinh"}
SMOOTH = ["expm1", "log1p", "log2", "log10", "exp2", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh",
          "erf", "erfc", "square", "reciprocal", "rsqrt", "neg", "frac", "asinh", "acosh", "atanh"]
BINARY = {"fmod": "fmod", "atan2": "atan2", "arctan2": "arctan2", "hypot": "hypot", "copysign": "copysign",
          "logaddexp": "logaddexp", "xlogy": "xlogy"}


def _same(got, want, rtol=None, exact=False):
    g, w = got.numpy(), want.detach().numpy()
    assert g.shape == w.shape, (g.shape, w.shape)
    assert g.dtype == w.dtype, (g.dtype, w.dtype)
    if exact or w.dtype.kind in "biu":
        np.testing.assert_array_equal(g, w)
        if w.dtype.kind == "f":  # the sign of every zero too
            number = ~np.isnan(w)
            np.testing.assert_array_equal(np.signbit(g[number]), np.signbit(w[number]))
    else:
        rtol = rtol or (2e-6 if w.dtype == np.float32 else 1e-13)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-300 if w.dtype == np.float64 else 1e-37, equal_nan=True)


def _interior(rng, shape, name):
    """Random values inside the function's domain, away from where rounding jumps."""
    x = rng.standard_normal(shape) * 2
    if name in ("log1p",):
        x = np.abs(x) - 0.5
    elif name in ("log2", "log10", "rsqrt"):
        x = np.abs(x) + 0.1
    elif name in ("asin", "acos", "atanh"):
        x = np.tanh(x) * 0.9
    elif name == "acosh":
        x = np.abs(x) + 1.1
    elif name == "tan":
        x = np.clip(x, -1.2, 1.2)
    elif name in ("frac", "reciprocal"):
        x = np.where(np.abs(x - np.round(x)) < 0.05, x + 0.1, x) + 0.0
        x = np.where(np.abs(x) < 0.1, 0.3, x)
    return x


# ----------------------------------------------------------------------------- unary


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_functions_follow_torch_at_the_edges(name, dtype, rng, torch):
    with np.errstate(all="ignore"):  # 1e300 as a float32: inf
        x = np.concatenate([np.array(EDGES), rng.standard_normal(31) * 4]).astype(dtype)
        got = getattr(nc.Tensor(x), name)()
    want = getattr(torch, UNARY[name])(_t(torch, x))
    exact = name in ("floor", "ceil", "round", "trunc", "fix", "frac", "sign", "sgn", "neg", "absolute")
    _same(got, want, exact=exact, rtol=4e-6 if dtype == "float32" else 4e-15)


@pytest.mark.parametrize("name", SMOOTH)
def test_unary_gradients_match_torch_and_finite_differences(name, rng, torch):
    x = _interior(rng, (3, 7), name)
    xs = nc.Tensor(x, requires_grad=True)
    xt = _t(torch, x, True)
    y, yt = getattr(xs, name)(), getattr(torch, UNARY[name])(xt)
    gy = rng.standard_normal(y.shape)
    (y * nc.Tensor(gy)).sum().backward()
    (yt * _t(torch, gy)).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-14)
    want = numerical_grad(lambda v: getattr(nc.Tensor(v), name)().numpy(), x.copy(), gy, 1e-6)
    np.testing.assert_allclose(xs.grad.numpy(), want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc", "sign"])
def test_steps_have_zero_gradient_as_torch(name, rng, torch):
    x = rng.standard_normal(9) * 3
    xs, xt = nc.Tensor(x, requires_grad=True), _t(torch, x, True)
    getattr(xs, name)().sum().backward()
    getattr(torch, name)(xt).sum().backward()
    np.testing.assert_array_equal(xs.grad.numpy(), xt.grad.numpy())
    assert not np.any(xs.grad.numpy())


@pytest.mark.parametrize("decimals", [-3, -1, 1, 2, 4])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_round_with_decimals_follows_torch(decimals, dtype, rng, torch):
    x = np.concatenate([rng.standard_normal(40) * 10.0 ** rng.integers(-2, 5, 40), [0.125, -0.125, 1250.0, -1350.0,
                                                                                    2.675, np.nan, np.inf, -0.0]])
    x = x.astype(dtype)
    _same(nc.Tensor(x).round(decimals=decimals), torch.round(_t(torch, x), decimals=decimals), exact=True)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int64"])
def test_integer_inputs_as_torch(dtype, rng, torch):
    x = rng.integers(0 if dtype == "uint8" else -100, 100, 17).astype(dtype)
    for name in ("floor", "ceil", "round", "trunc", "sign", "square", "neg", "absolute"):
        if name == "neg" and dtype == "uint8":
            continue
        _same(getattr(nc.Tensor(x), name)(), getattr(torch, name)(_t(torch, x)))
    for name in ("sin", "erf", "expm1", "log2", "reciprocal", "rsqrt"):  # float32, as torch's
        with np.errstate(all="ignore"):
            got = getattr(nc.Tensor(x), name)()
        _same(got, getattr(torch, name)(_t(torch, x)))
    with pytest.raises(TypeError, match="frac needs a floating-point tensor, got " + dtype):
        nc.Tensor(x).frac()
    with pytest.raises(TypeError, match="round with decimals=2 needs a floating-point tensor"):
        nc.Tensor(x).round(decimals=2)


def test_bool_inputs_as_torch(torch):
    b = np.array([True, False, True])
    _same(nc.Tensor(b).sign(), torch.sign(_t(torch, b)))
    _same(nc.Tensor(b).square(), torch.square(_t(torch, b)))
    with pytest.raises(TypeError, match="floor of a bool tensor"):
        nc.Tensor(b).floor()
    with pytest.raises(TypeError, match="decimals must be an int, got 1.5"):
        nc.tensor([1.0]).round(decimals=1.5)


def test_erf_kernel_matches_the_textbook(rng):
    x = np.concatenate([rng.standard_normal(200) * 3, [0.0, -0.0, 1e-10, 6.0, -6.0, 20.0, np.inf, -np.inf]])
    got, got_c = nc.Tensor(x).erf().numpy(), nc.Tensor(x).erfc().numpy()
    want = np.array([math.erf(v) for v in x])
    want_c = np.array([math.erfc(v) for v in x])
    np.testing.assert_array_equal(got, want)  # the kernel calls the same libm function
    np.testing.assert_array_equal(got_c, want_c)
    assert np.isnan(nc.tensor([np.nan]).erf().item())
    assert got_c[x == 20.0][0] > 0  # erfc keeps the tail that 1 - erf loses


# ----------------------------------------------------------------------------- binary


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_functions_follow_torch_at_the_edges(name, dtype, rng, torch):
    e = np.array(EDGES)
    with np.errstate(all="ignore"):
        a = np.concatenate([np.repeat(e, len(e)), rng.standard_normal(40) * 5]).astype(dtype)
        b = np.concatenate([np.tile(e, len(e)), rng.standard_normal(40) * 5]).astype(dtype)
    if name == "fmod":  # torch computes a - b * trunc(a / b): NaN where a / b overflows; numconv, C's exact fmod
        with np.errstate(all="ignore"):
            keep = ~(np.isinf(a.astype(np.float64) / b) & np.isfinite(a) & (b != 0))
        a, b = a[keep], b[keep]
    with np.errstate(all="ignore"):
        got = getattr(nc.Tensor(a), name)(nc.Tensor(b))
    want = getattr(torch, BINARY[name])(_t(torch, a), _t(torch, b))
    _same(got, want, exact=name in ("fmod", "copysign"), rtol=4e-6 if dtype == "float32" else 4e-15)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradients_broadcast_and_match_torch(name, rng, torch):
    a = rng.standard_normal((3, 4)) * 3
    b = rng.standard_normal((1, 4)) + np.array([2.0, -2.0, 3.0, -1.5])
    if name == "xlogy":
        b = np.abs(b) + 0.1
        a[0, 0] = 0.0  # the branch that gives 0
    xs, ys = nc.Tensor(a, requires_grad=True), nc.Tensor(b, requires_grad=True)
    xt, yt = _t(torch, a, True), _t(torch, b, True)
    y, ty = getattr(xs, name)(ys), getattr(torch, BINARY[name])(xt, yt)
    _same(y, ty)
    gy = rng.standard_normal(y.shape)
    (y * nc.Tensor(gy)).sum().backward()
    (ty * _t(torch, gy)).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ys.grad.numpy(), yt.grad.numpy(), rtol=1e-12, atol=1e-14)
    if name != "copysign":  # its gradient to a is a step at 0
        fa = numerical_grad(lambda v: getattr(nc.Tensor(v), name)(nc.Tensor(b)).numpy(), a.copy(), gy, 1e-6)
        fb = numerical_grad(lambda v: getattr(nc.Tensor(a), name)(nc.Tensor(v)).numpy(), b.copy(), gy, 1e-6)
        np.testing.assert_allclose(xs.grad.numpy(), fa, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(ys.grad.numpy(), fb, rtol=1e-6, atol=1e-7)


def test_fmod_of_integers_and_its_errors(rng, torch):
    a = rng.integers(-50, 50, 40)
    b = rng.integers(1, 9, 40) * rng.choice([-1, 1], 40)
    for dtype in ("int8", "int32", "int64"):
        _same(nc.Tensor(a.astype(dtype)).fmod(nc.Tensor(b.astype(dtype))),
              torch.fmod(_t(torch, a.astype(dtype)), _t(torch, b.astype(dtype))))
    _same(nc.Tensor(a).fmod(2.5), torch.fmod(_t(torch, a), 2.5))
    with pytest.raises(IntegerDivisionByZero, match="integer fmod by zero"):
        nc.tensor([3, 4]).fmod(nc.tensor([1, 0]))
    with pytest.raises(TypeError, match="fmod of bool tensors"):
        nc.tensor([True]).fmod(True)


def test_lerp_addcmul_addcdiv_heaviside_follow_torch(rng, torch):
    a, b, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.random((1, 4)) * 1.4 - 0.2
    for weight in (0.3, 0.5, 1.0, -0.25):
        _same(nc.Tensor(a).lerp(nc.Tensor(b), weight), torch.lerp(_t(torch, a), _t(torch, b), weight))
    xs, ys, ws = (nc.Tensor(v, requires_grad=True) for v in (a, b, w))
    xt, yt, wt = (_t(torch, v, True) for v in (a, b, w))
    gy = rng.standard_normal(a.shape)
    out = xs.lerp(ys, ws) + xs.addcmul(ys, ws, value=-0.5) + xs.addcdiv(ys, ws + 2.0, value=3)
    tout = torch.lerp(xt, yt, wt) + torch.addcmul(xt, yt, wt, value=-0.5) + torch.addcdiv(xt, yt, wt + 2.0, value=3)
    _same(out, tout)
    (out * nc.Tensor(gy)).sum().backward()
    (tout * _t(torch, gy)).sum().backward()
    for mine, theirs in ((xs, xt), (ys, yt), (ws, wt)):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert nc.Tensor(a).lerp(nc.Tensor(b), 1.0).numpy().tolist() == b.tolist()  # exact at weight 1, as torch
    x = np.array([-1.5, 0.0, -0.0, 2.0, np.nan])
    _same(nc.Tensor(x).heaviside(nc.tensor([0.25], dtype=nc.float64)), torch.heaviside(_t(torch, x), _t(torch, np.array([0.25]))))
    with pytest.raises(TypeError, match="heaviside: values must have the input's dtype float64, got float32"):
        nc.Tensor(x).heaviside(nc.tensor([0.5], dtype=nc.float32))
    i, j = nc.tensor([3, -4]), nc.tensor([2, 5])
    _same(i.addcmul(i, j, value=2), torch.addcmul(_t(torch, i.numpy()), _t(torch, i.numpy()), _t(torch, j.numpy()),
                                                   value=2))  # integers stay integers
    with pytest.raises(TypeError, match="addcmul: value must be an integer for integer tensors, got 0.5"):
        i.addcmul(i, j, value=0.5)
    with pytest.raises(TypeError, match="lerp needs floating-point tensors"):
        nc.tensor([1, 2]).lerp(nc.tensor([3, 4]), 0.5)


# ----------------------------------------------------------------------------- named arithmetic


def test_named_arithmetic_follows_torch(rng, torch):
    a, b = rng.standard_normal((2, 5)), rng.standard_normal(5)
    i, j = rng.integers(-20, 20, 12), rng.integers(1, 6, 12) * rng.choice([-1, 1], 12)
    A, B, TA, TB = nc.Tensor(a), nc.Tensor(b), _t(torch, a), _t(torch, b)
    _same(A.add(B, alpha=2.5), TA.add(TB, alpha=2.5))
    _same(A.sub(B, alpha=-3), TA.sub(TB, alpha=-3))
    _same(A.subtract(1.5), TA.subtract(1.5))
    _same(A.mul(B), TA.mul(TB))
    _same(A.multiply(2), TA.multiply(2))
    _same(A.div(B), TA.div(TB))
    _same(A.true_divide(B), TA.true_divide(TB))
    _same(A.pow(2), TA.pow(2))
    _same(A.negative(), TA.negative())
    for mode in ("trunc", "floor"):
        _same(A.div(B, rounding_mode=mode), TA.div(TB, rounding_mode=mode), exact=True)
        _same(A.divide(0.0, rounding_mode=mode), TA.divide(0.0, rounding_mode=mode), exact=True)
        for dtype in ("int32", "int64"):
            _same(nc.Tensor(i.astype(dtype)).div(nc.Tensor(j.astype(dtype)), rounding_mode=mode),
                  _t(torch, i.astype(dtype)).div(_t(torch, j.astype(dtype)), rounding_mode=mode))
        _same(nc.Tensor(i).div(-3, rounding_mode=mode), _t(torch, i).div(-3, rounding_mode=mode))
    _same(nc.Tensor(i).add(nc.Tensor(j), alpha=3), _t(torch, i).add(_t(torch, j), alpha=3))
    with pytest.raises(TypeError, match="add: alpha must be an integer for integer tensors, got 0.5"):
        nc.Tensor(i).add(nc.Tensor(j), alpha=0.5)
    with pytest.raises(ValueError, match="rounding_mode must be None, 'trunc' or 'floor', got 'round'"):
        A.div(B, rounding_mode="round")
    with pytest.raises(IntegerDivisionByZero, match="integer div by zero"):
        nc.Tensor(i).div(0, rounding_mode="trunc")
    x, y = nc.Tensor(a, requires_grad=True), nc.Tensor(b, requires_grad=True)
    for mode in ("trunc", "floor"):  # flat wherever they have a derivative: zero gradients, as torch's
        x.div(y, rounding_mode=mode).sum().backward()
        assert not x.grad.numpy().any() and not y.grad.numpy().any() and y.grad.shape == b.shape
        x.grad = y.grad = None
    x.add(B, alpha=3).sub(B, alpha=0.5).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones_like(a))


# ----------------------------------------------------------------------------- bitwise and logical


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "int64"])
def test_bitwise_and_shifts_follow_torch(dtype, rng, torch):
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max, 40, endpoint=True).astype(dtype)
    b = rng.integers(info.min, info.max, 40, endpoint=True).astype(dtype)
    A, B, TA, TB = nc.Tensor(a), nc.Tensor(b), _t(torch, a), _t(torch, b)
    for op in ("__and__", "__or__", "__xor__"):
        _same(getattr(A, op)(B), getattr(TA, op)(TB))
        _same(getattr(A, op)(5), getattr(TA, op)(5))
    _same(~A, ~TA)
    _same(A.bitwise_not(), TA.bitwise_not())
    amounts = np.array([0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 31, 32, 63, 64, 65, 100] * 3)[:40]
    if info.min < 0:
        amounts[-6:] = [-1, -2, -7, -64, -65, -100]
    amounts = amounts.astype(dtype)
    _same(A << nc.Tensor(amounts), TA << _t(torch, amounts))
    _same(A >> nc.Tensor(amounts), TA >> _t(torch, amounts))
    _same(A.bitwise_left_shift(3), TA.bitwise_left_shift(3))
    _same(A.bitwise_right_shift(2), TA.bitwise_right_shift(2))
    c = A.clone()
    c &= B
    c <<= 1
    t = TA.clone()
    t &= TB
    t <<= 1
    _same(c, t)


def test_bitwise_promotion_bools_and_errors(torch):
    m, n = np.array([True, False, True, False]), np.array([True, True, False, False])
    i = np.array([6, 3, -2, 9])
    _same(nc.Tensor(m) & nc.Tensor(n), _t(torch, m) & _t(torch, n))
    _same(nc.Tensor(m) ^ True, _t(torch, m) ^ True)
    _same(~nc.Tensor(m), ~_t(torch, m))
    _same(nc.Tensor(m) | nc.Tensor(i), _t(torch, m) | _t(torch, i))  # bool | int64: int64
    _same(nc.Tensor(i.astype(np.int32)) & nc.Tensor(i), _t(torch, i.astype(np.int32)) & _t(torch, i))
    _same(nc.Tensor(i.astype(np.uint8)) | 256, _t(torch, i.astype(np.uint8)) | 256)  # 256 wraps to 0, as torch
    _same(3 & nc.Tensor(i), 3 & _t(torch, i))
    _same(1 << nc.Tensor(np.array([0, 3, 62])), 1 << _t(torch, np.array([0, 3, 62])))
    with pytest.raises(TypeError, match=r"& takes integer or bool tensors \(as PyTorch\), got float32 and int64"):
        nc.tensor([1.5]) & nc.tensor([1])
    with pytest.raises(TypeError, match="takes integer or bool operands, got the float 1.5"):
        nc.tensor([1]) | 1.5
    with pytest.raises(TypeError, match="<< takes integer tensors"):
        nc.Tensor(m) << nc.Tensor(n)
    with pytest.raises(TypeError, match="~ takes an integer or bool tensor"):
        ~nc.tensor([1.0])


def test_logical_ops_take_any_dtype(rng, torch):
    a = np.array([0.0, -0.0, 2.5, np.nan, 0.0, 1.0])
    b = np.array([0, 3, 0, 0, -1, 2])
    for name in ("logical_and", "logical_or", "logical_xor"):
        _same(getattr(nc.Tensor(a), name)(nc.Tensor(b)), getattr(torch, name)(_t(torch, a), _t(torch, b)))
        _same(getattr(nc.Tensor(b), name)(1), getattr(torch, name)(_t(torch, b), torch.tensor(1)))
    _same(nc.Tensor(a).logical_not(), torch.logical_not(_t(torch, a)))
    _same(nc.Tensor(b).logical_not(), torch.logical_not(_t(torch, b)))


# ----------------------------------------------------------------------------- numconv.<name>


def test_every_function_is_its_method(rng):
    x = nc.Tensor(rng.standard_normal((3, 4)) + 3.0)
    y = nc.Tensor(rng.standard_normal((3, 4)))
    assert nc.methods.NAMES and set(nc.methods.NAMES) <= set(nc.__all__)
    for name in ("sin", "floor", "exp", "sqrt", "abs", "sigmoid", "frac", "sign", "t", "numel", "flatten"):
        want, got = getattr(x, name)(), getattr(nc, name)(x)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    np.testing.assert_array_equal(nc.add(x, y, alpha=2).numpy(), x.add(y, alpha=2).numpy())
    np.testing.assert_array_equal(nc.clamp(x, min=3.0).numpy(), x.clamp(min=3.0).numpy())
    np.testing.assert_array_equal(nc.max(x, 1).values.numpy(), x.max(1).values.numpy())
    np.testing.assert_array_equal(nc.round(x, decimals=1).numpy(), x.round(decimals=1).numpy())
    assert nc.sum(x).item() == x.sum().item()
    assert nc.sin.__name__ == "sin" and nc.sin.__doc__.startswith("``input.sin(...)``")
    assert "alpha * other" in nc.add.__doc__
    with pytest.raises(TypeError, match="numconv.sin: input must be a Tensor, got list"):
        nc.sin([1.0, 2.0])
    with pytest.raises(TypeError, match="numconv.sin: input must be a Tensor, got float"):
        nc.sin(1.0)
    with pytest.raises(TypeError, match="numconv.atan2: input must be a Tensor, got float"):
        nc.atan2(1.0, x)


def test_functions_take_a_number_first_as_torch(rng, torch):
    x = rng.standard_normal((2, 3)).astype(np.float32) + 3.0
    i = rng.integers(1, 9, 5)
    X, I, TX, TI = nc.Tensor(x), nc.Tensor(i), torch.from_numpy(x), torch.from_numpy(i)
    for name, kw in (("add", {}), ("add", {"alpha": 3}), ("sub", {"alpha": 2}), ("subtract", {}), ("mul", {}),
                     ("multiply", {}), ("div", {}), ("divide", {}), ("true_divide", {}), ("pow", {}),
                     ("remainder", {}), ("floor_divide", {})):
        for ours, theirs in ((X, TX), (I, TI)):
            for number in (2, 2.5):
                _same(getattr(nc, name)(number, ours, **kw), getattr(torch, name)(number, theirs, **kw))


def test_alpha_and_value_scale_in_the_promoted_dtype(torch):
    """add/sub(alpha=) and addcmul multiplied a uint8 operand before promoting it, so it wrapped
    modulo 256; xlogy of a Python number gave float64."""
    x, u = np.array([1.0, 2.0], np.float32), np.array([3, 200], np.uint8)
    i = np.array([1, 2])
    X, U, I, TX, TU, TI = nc.Tensor(x), nc.Tensor(u), nc.Tensor(i), torch.from_numpy(x), torch.from_numpy(u), torch.from_numpy(i)
    _same(X.add(U, alpha=-1), TX.add(TU, alpha=-1))
    _same(X.sub(U, alpha=2), TX.sub(TU, alpha=2))
    _same(I.add(U, alpha=2), TI.add(TU, alpha=2))
    _same(X.addcmul(U, U), torch.addcmul(TX, TU, TU))
    _same(I.addcmul(U, U, value=3), torch.addcmul(TI, TU, TU, value=3))
    _same(nc.Tensor(i.astype(np.int32)).add(nc.tensor([True, False]), alpha=2),
          torch.from_numpy(i.astype(np.int32)).add(torch.tensor([True, False]), alpha=2))
    _same(X.xlogy(3), torch.xlogy(TX, 3))
    _same(I.xlogy(3.0), torch.xlogy(TI, 3.0))


def test_atan2_gradient_at_the_origin_is_zero(torch):
    """At (0, 0), and where a^2 + b^2 underflows, the gradient is 0 (PyTorch's), not 0 * inf = NaN;
    double backward through it stays finite."""
    a, b = np.array([0.0, 1e-170, 0.0, 2.0]), np.array([0.0, 0.0, 1e-170, -3.0])
    x, y = nc.Tensor(a, requires_grad=True), nc.Tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    x.atan2(y).sum().backward()
    tx.atan2(ty).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_array_equal(y.grad.numpy(), ty.grad.numpy())
    np.testing.assert_array_equal(np.signbit(y.grad.numpy()), np.signbit(ty.grad.numpy()))
    x, y = nc.Tensor(a, requires_grad=True), nc.Tensor(b, requires_grad=True)
    gx, = nc.autograd.grad(x.atan2(y).sum(), x, create_graph=True)
    (gx * gx).sum().backward()
    assert np.isfinite(x.grad.numpy()).all() and np.isfinite(y.grad.numpy()).all()
