"""leaky_relu, prelu, elu, celu, selu, gelu (both forms), silu, mish, hardswish, hardsigmoid, hardtanh,
relu6 and softplus: values from their
textbook formulas in float64, values and gradients against torch (at the kinks too, where the
gradient is a convention), central differences in float64, the nn modules, and bad arguments."""
from __future__ import annotations

import math

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F
from conftest import assert_close
from numconv import nn
from numconv.autograd import gradcheck

_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946  # the SELU paper's
_erfc = np.vectorize(math.erfc)  # Phi(x) = erfc(-x / sqrt 2) / 2: 1 + erf(x / sqrt 2) cancels in the left tail


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _gelu_tanh(x):
    """x (1 + tanh(u)) / 2, u = sqrt(2/pi) (x + 0.044715 x^3), written as x / (1 + exp(-2u)): the same
    number, without the cancellation of 1 + tanh(u) where tanh(u) is near -1 (x below -5), which in
    float64 leaves a tenth of the value wrong at x = -7 (PyTorch's float64 has it)."""
    u = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
    with np.errstate(over="ignore"):
        return x / (1.0 + np.exp(-2.0 * u))


# name, numconv call, torch call (on torch.nn.functional), textbook formula in float64, kinks to visit
CASES = {
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda T, x: T.leaky_relu(x, 0.2),
                   lambda x: np.where(x > 0, x, 0.2 * x), [0.0]),
    "elu": (lambda x: F.elu(x, 1.3), lambda T, x: T.elu(x, 1.3),
            lambda x: np.where(x > 0, x, 1.3 * (np.exp(x) - 1)), [0.0]),
    "gelu": (F.gelu, lambda T, x: T.gelu(x),
             lambda x: x * 0.5 * _erfc(-x / math.sqrt(2)), []),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda T, x: T.gelu(x, approximate="tanh"),
                  lambda x: _gelu_tanh(x), []),
    "silu": (F.silu, lambda T, x: T.silu(x), lambda x: x * _sigmoid(x), []),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 0.75), lambda T, x: T.hardtanh(x, -0.5, 0.75),
                 lambda x: np.clip(x, -0.5, 0.75), [-0.5, 0.75]),
    "relu6": (F.relu6, lambda T, x: T.relu6(x), lambda x: np.clip(x, 0, 6), [0.0, 6.0]),
    "softplus": (lambda x: F.softplus(x, 2.0, 3.0), lambda T, x: T.softplus(x, 2.0, 3.0),
                 lambda x: np.where(2 * x > 3, x, np.log(1 + np.exp(2 * x)) / 2), [1.5]),
    "softplus_default": (F.softplus, lambda T, x: T.softplus(x), lambda x: np.where(x > 20, x, np.log1p(np.exp(x))),
                         [20.0]),
    "hardswish": (F.hardswish, lambda T, x: T.hardswish(x), lambda x: x * np.clip(x + 3, 0, 6) / 6, [-3.0, 3.0]),
    "hardsigmoid": (F.hardsigmoid, lambda T, x: T.hardsigmoid(x), lambda x: np.clip(x + 3, 0, 6) / 6, [-3.0, 3.0]),
    "mish": (F.mish, lambda T, x: T.mish(x), lambda x: x * np.tanh(np.log1p(np.exp(x))), []),
    "selu": (F.selu, lambda T, x: T.selu(x), lambda x: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(x)),
             [0.0]),
    "celu": (lambda x: F.celu(x, 0.7), lambda T, x: T.celu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x / 0.7)),
             [0.0]),
}
# torch 2.13's float64 gradients of these use a float32 constant: hardsigmoid's 1/6 (0.1666666716...),
# celu's 1/alpha (``alpha.toFloat()`` in its derivative); compared to that precision (ours are checked
# against the textbook values and central differences above and below)
TORCH_F64_GRAD_RTOL = {"hardsigmoid": 1e-7, "celu": 2e-6}  # celu: exp(x * (1/alpha rounded)), |x| up to 8


def _inputs(rng, kinks, dtype):
    """Values spread over [-8, 8] (both tails of every activation), with the kinks themselves."""
    x = rng.uniform(-8, 8, size=(3, 4, 5))
    x.reshape(-1)[: len(kinks)] = kinks
    return x.astype(dtype)


@pytest.mark.parametrize("name", CASES)
def test_textbook_values(name, rng):
    fn, _, formula, kinks = CASES[name]
    x = _inputs(rng, kinks, np.float64)
    y = fn(x)
    assert isinstance(y, np.ndarray) and y.dtype == np.float64
    assert_close(y, formula(x), what=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_against_torch_with_kinks(name, dtype, rng, torch):
    import torch.nn.functional as TF

    fn, t_fn, _, kinks = CASES[name]
    x = _inputs(rng, kinks, dtype)
    gy = rng.standard_normal(x.shape).astype(dtype)
    xn = nc.Tensor(x, requires_grad=True)
    y = fn(xn)
    y.backward(gy)
    xt = torch.tensor(x, requires_grad=True)
    yt = t_fn(TF, xt)
    yt.backward(torch.from_numpy(gy))
    assert y.dtype == dtype and xn.grad.dtype == dtype
    assert_close(y.numpy(), yt.detach().numpy(), dtype, what=f"{name} forward")
    if dtype == np.float64 and name in TORCH_F64_GRAD_RTOL:
        np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=TORCH_F64_GRAD_RTOL[name], err_msg=name)
    else:
        assert_close(xn.grad.numpy(), xt.grad.numpy(), dtype, what=f"{name} gradient")


@pytest.mark.parametrize("name", CASES)
def test_float32_is_the_float64_value_rounded_once(name, rng):
    """The kernels compute in float64 and round once, so float32 results are the textbook values
    rounded even where a float32 computation overflows inside (x^3 in gelu_tanh beyond 7e12, exp
    beyond 88.7, where PyTorch's float32 gives NaN or inf)."""
    fn, _, formula, kinks = CASES[name]
    x = np.concatenate([_inputs(rng, kinks, np.float64).ravel(), [60.0, -60.0, 1e13, -1e13, 1e30, -1e30]])
    x32 = x.astype(np.float32)
    with np.errstate(all="ignore"):
        want = formula(x32.astype(np.float64)).astype(np.float32)
    got = fn(x32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2 * np.finfo(np.float32).eps, atol=1e-37, err_msg=name)


def test_no_float32_overflow_inside():
    """Where an intermediate overflows float32 the answer is still the float64 one: softplus with a
    threshold past exp's float32 range, and gelu_tanh's gradient at 1e30 (PyTorch: inf and NaN)."""
    x = nc.Tensor(np.array([89.0, 100.0, 1e30, -1e30], np.float32), requires_grad=True)
    g = np.array([0.5, -2.0, 3.0, 4.0], np.float32)
    y = F.softplus(x, threshold=1e4)
    assert np.array_equal(y.numpy(), np.array([89.0, 100.0, 1e30, 0.0], np.float32))  # x above, 0 far below
    y.backward(g)
    assert np.array_equal(x.grad.numpy(), [0.5, -2.0, 3.0, 0.0])  # sigmoid(x): 1 above, 0 far below
    x.grad = None
    F.gelu(x, approximate="tanh").backward(g)
    assert np.array_equal(x.grad.numpy(), [0.5, -2.0, 3.0, 0.0])  # Phi = 1 above, 0 far below


@pytest.mark.parametrize("name", CASES)
def test_nan_and_infinities_as_torch(name, torch):
    """NaN and both infinities, forward and backward, as PyTorch's float64 (its float32 overflows
    inside, see above): NaN gives NaN, +inf the limit, -inf the limit or NaN (-inf * 0) as there."""
    import torch.nn.functional as TF

    fn, t_fn, _, _ = CASES[name]
    x, g = np.array([np.nan, np.inf, -np.inf]), np.array([1.5, -2.0, 0.5])
    xn = nc.Tensor(x, requires_grad=True)
    y = fn(xn)
    y.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    yt = t_fn(TF, xt)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(y.numpy(), yt.detach().numpy(), err_msg=f"{name} forward")
    np.testing.assert_array_equal(xn.grad.numpy(), xt.grad.numpy(), err_msg=f"{name} gradient")


@pytest.mark.parametrize("name", CASES)
def test_gradcheck(name, rng):
    fn, _, _, kinks = CASES[name]
    x = rng.uniform(-4, 4, size=(2, 3, 4))
    for k in kinks:  # central differences are meaningless within eps of a kink
        x[np.abs(x - k) < 1e-3] += 2e-3
    assert gradcheck(fn, [nc.Tensor(x, requires_grad=True)])


@pytest.mark.parametrize("shape, slopes", [((2, 3, 4, 4), 3), ((2, 3, 4, 4), 1), ((5, 3), 3), ((6,), 1),
                                           ((2, 3, 4), ()), ((6,), ()), ((), ())])
def test_prelu_against_torch_and_gradcheck(shape, slopes, rng, torch):
    """One slope per channel, or one shared: (1,) or 0-d, whose gradient is 0-d too (as torch's)."""
    import torch.nn.functional as TF

    x = rng.standard_normal(shape)
    x.reshape(-1)[0] = 0.0
    w = rng.uniform(-0.5, 0.5, size=slopes)
    gy = rng.standard_normal(shape)
    xn, wn = nc.Tensor(x, requires_grad=True), nc.Tensor(w, requires_grad=True)
    F.prelu(xn, wn).backward(gy)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    yt = TF.prelu(xt, wt)
    yt.backward(torch.from_numpy(gy))
    assert_close(F.prelu(x, w), yt.detach().numpy())
    assert_close(xn.grad.numpy(), xt.grad.numpy(), what="input gradient")
    assert_close(wn.grad.numpy(), wt.grad.numpy(), what="slope gradient")
    assert wn.grad.shape == np.shape(w) == tuple(wt.grad.shape)
    assert gradcheck(F.prelu, [nc.Tensor(x + 0.01, requires_grad=True), nc.Tensor(w, requires_grad=True)])


MODULES = [
    (lambda m: m.LeakyReLU(0.1), "LeakyReLU(negative_slope=0.1)"),
    (lambda m: m.ELU(alpha=0.5), "ELU(alpha=0.5)"),
    (lambda m: m.GELU(approximate="tanh"), "GELU(approximate='tanh')"),
    (lambda m: m.SiLU(), "SiLU()"),
    (lambda m: m.Hardtanh(-2.0, 3.0), "Hardtanh(min_val=-2.0, max_val=3.0)"),
    (lambda m: m.ReLU6(), "ReLU6()"),
    (lambda m: m.Softplus(beta=0.5, threshold=10.0), "Softplus(beta=0.5, threshold=10.0)"),
    (lambda m: m.PReLU(3, init=0.1), "PReLU(num_parameters=3)"),
    (lambda m: m.Hardswish(), "Hardswish()"),
    (lambda m: m.Hardsigmoid(inplace=True), "Hardsigmoid()"),  # torch's repr leaves inplace out here
    (lambda m: m.Mish(), "Mish()"),
    (lambda m: m.SELU(inplace=True), "SELU(inplace=True)"),
    (lambda m: m.CELU(alpha=0.5), "CELU(alpha=0.5)"),
]


@pytest.mark.parametrize("make, text", MODULES, ids=[t.split("(")[0] for _, t in MODULES])
def test_modules_against_torch(make, text, rng, torch):
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == text
    x = rng.standard_normal((2, 3, 5)).astype(np.float32) * 4
    theirs_out = theirs(torch.from_numpy(x))
    ours_out = ours(nc.Tensor(x))
    assert_close(ours_out.numpy(), theirs_out.detach().numpy(), np.float32, what=text)
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in state.items()}


def test_prelu_module_learns_its_slopes(rng):
    m = nn.PReLU(2)
    assert np.array_equal(m.weight.numpy(), np.full(2, 0.25, np.float32))
    x = nc.Tensor(-np.abs(rng.standard_normal((4, 2, 3))).astype(np.float32))
    m(x).sum().backward()
    assert_close(m.weight.grad.numpy(), x.numpy().sum(axis=(0, 2)), np.float32)  # d(a x)/da = x where x < 0


def test_inplace_writes_into_the_input_as_torch(torch):
    for m, t in ((nn.LeakyReLU(0.1, inplace=True), torch.nn.LeakyReLU(0.1, inplace=True)),
                 (nn.ELU(inplace=True), torch.nn.ELU(inplace=True)), (nn.SiLU(inplace=True), torch.nn.SiLU(inplace=True)),
                 (nn.ReLU6(inplace=True), torch.nn.ReLU6(inplace=True)), (nn.Mish(inplace=True), torch.nn.Mish(inplace=True)),
                 (nn.CELU(0.5, inplace=True), torch.nn.CELU(0.5, inplace=True))):
        x, xt = nc.Tensor(np.array([-1.0, 2.0, 7.0])), torch.tensor([-1.0, 2.0, 7.0], dtype=torch.float64)
        assert m(x) is x and t(xt) is xt
        np.testing.assert_allclose(x.numpy(), xt.numpy(), rtol=1e-15)
        assert repr(m) == repr(t)
        y = nc.Tensor(np.array([-1.0, 2.0]))
        assert type(m)(inplace=False)(y) is not y


def test_bad_arguments():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(x, approximate="erf")
    with pytest.raises(ValueError, match="min_val must not exceed max_val"):
        F.hardtanh(x, 1.0, -1.0)
    with pytest.raises(ValueError, match="beta must not be 0"):
        F.softplus(x, beta=0)
    with pytest.raises(TypeError, match="negative_slope must be a real number"):
        F.leaky_relu(x, "0.1")
    with pytest.raises(ValueError, match="alpha must be finite"):
        F.elu(x, float("nan"))
    with pytest.raises(TypeError, match="input must be float32 or float64"):
        F.silu(np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="weight must have 1 or C=3"):
        F.prelu(x, np.ones(2, np.float32))
    with pytest.raises(ValueError, match=r"weight must have 0 or 1 dimensions: a slope \(\), \(1,\) or \(C,\)"):
        F.prelu(x, np.ones((1, 1), np.float32))
    with pytest.raises(TypeError, match="weight.*float64.*input.*float32|input.*float32.*weight.*float64"):
        F.prelu(x, np.ones(3, np.float64))
    with pytest.raises(ValueError, match="num_parameters must be a positive int"):
        nn.PReLU(0)
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    for bad in (lambda: F.celu(x, 0.0), lambda: nn.CELU(0)):
        with pytest.raises(ValueError, match="alpha must not be 0"):
            bad()


@pytest.mark.parametrize("name", CASES)
def test_arrays_of_many_chunks_equal_their_pieces(name, rng):
    """The CPU kernels cut an array into chunks of ``CHUNK`` elements, one thread each: an array of
    several chunks (and a ragged end) gives what its pieces give one at a time, forward and backward
    (to the last bits: an element may fall in a loop's vector body in one and its remainder in the
    other), and the textbook values; and the same bits again when run again."""
    from numconv.kernels.cpu.elementwise import CHUNK

    fn, _, formula, kinks = CASES[name]
    n = 3 * CHUNK + 7
    x = rng.uniform(-8, 8, size=n)
    x[: len(kinks)] = kinks
    g = rng.standard_normal(n)
    whole = nc.Tensor(x, requires_grad=True)
    y = fn(whole)
    y.backward(g)
    assert_close(y.numpy(), formula(x), what=name)
    for lo in range(0, n, 1000):
        piece = nc.Tensor(x[lo:lo + 1000], requires_grad=True)
        yp = fn(piece)
        yp.backward(g[lo:lo + 1000])
        np.testing.assert_allclose(yp.numpy(), y.numpy()[lo:lo + 1000], rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(piece.grad.numpy(), whole.grad.numpy()[lo:lo + 1000], rtol=1e-13, atol=1e-14)
    again = nc.Tensor(x, requires_grad=True)
    y2 = fn(again)
    y2.backward(g)
    assert np.array_equal(y2.numpy(), y.numpy()) and np.array_equal(again.grad.numpy(), whole.grad.numpy())


# ----------------------------------------------------------------------------- rrelu


def test_rrelu_in_evaluation_is_torchs_leaky_relu(rng, torch):
    x = rng.standard_normal((3, 40))
    x[0, :3] = 0.0
    results = []
    for L, fn in ((nc, F.rrelu), (torch, torch.nn.functional.rrelu)):
        t = L.tensor(x, requires_grad=True)
        y = fn(t, 0.1, 0.4)
        (y * L.tensor(x[::-1].copy())).sum().backward()
        results.append((y.detach().numpy(), t.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-15)
    assert repr(nn.RReLU(0.1, 0.4)) == repr(torch.nn.RReLU(0.1, 0.4))


def test_rrelu_in_training_draws_a_slope_per_element(rng):
    """Each element at or below 0 takes its own slope from [lower, upper) (the gradient is that slope),
    the slopes average (lower + upper) / 2, positive elements pass; reproducible under manual_seed."""
    x = rng.standard_normal(20000)
    x[:5] = 0.0
    t = nc.Tensor(x, requires_grad=True)
    nc.manual_seed(3)
    y = F.rrelu(t, 0.1, 0.4, training=True)
    y.sum().backward()
    grad, out = t.grad.numpy(), y.detach().numpy()
    low = x <= 0
    np.testing.assert_array_equal(out[~low], x[~low])
    np.testing.assert_array_equal(grad[~low], 1.0)
    assert ((grad[low] >= 0.1) & (grad[low] < 0.4)).all()
    np.testing.assert_allclose(out[low], x[low] * grad[low], rtol=1e-15)
    assert abs(grad[low].mean() - 0.25) < 0.005 and grad[low].std() > 0.08  # uniform: std 0.087
    nc.manual_seed(3)
    np.testing.assert_array_equal(F.rrelu(x, 0.1, 0.4, training=True), out)
    m = nn.RReLU(0.1, 0.4, inplace=True)
    h = nc.Tensor(x.copy())
    assert m(h) is h and (h.numpy()[low] != out[low]).any()  # training by default: new draws
    m.eval()
    np.testing.assert_allclose(m(nc.Tensor(x.copy())).numpy(), np.where(low, 0.25 * x, x), rtol=1e-15)
    with pytest.raises(ValueError, match="lower=0.5 must be at most upper=0.2"):
        F.rrelu(x, 0.5, 0.2, training=True)
    with pytest.raises(ValueError, match="lower=0.5 must be at most upper=0.2"):
        nn.RReLU(0.5, 0.2)
