"""The special functions (``kernels/special.py``): ``lgamma``, ``digamma``, ``polygamma``, ``erfinv``
and ``mvlgamma``. Values against mpmath's arbitrary-precision definitions (the float64 reference),
against torch in float64 and float32 (values and gradients), at the poles, zeros, infinities, NaN
and erfinv's far tail; gradients against central differences and double backward against
gradgradcheck. The device side runs in tests/_cuda_cases.py (``special_cases``) and
tests/_cuda_training_cases.py (``elementwise_function_cases``)."""
from __future__ import annotations

import mpmath
import numpy as np
import pytest

import numconv as nc
from conftest import to_torch as _t
from numconv.autograd import gradcheck, gradgradcheck
from numconv.ops import math as M


def _mp(fn, values):
    """``fn`` over ``values`` in mpmath at 30 digits, rounded to float64; NaN where mpmath has no value."""
    out = []
    with mpmath.workdps(30):
        for v in values:
            try:
                out.append(float(fn(mpmath.mpf(float(v)))))
            except (ValueError, ZeroDivisionError):
                out.append(np.nan)
    return np.array(out)


def _close(got, want, rtol):
    """Equal where both are NaN or the same infinity; else within ``rtol`` of |want| (or of 1e-300)."""
    both_nan = np.isnan(got) & np.isnan(want)
    same_inf = np.isinf(want) & (got == want)
    with np.errstate(invalid="ignore"):
        near = np.abs(got - want) <= rtol * np.maximum(np.abs(want), 1e-300)
    bad = ~(both_nan | same_inf | near)
    assert not bad.any(), f"{int(bad.sum())} values differ; first: {got[bad][:4]} against {want[bad][:4]}"


def _grid(rng):
    """Positive, negative (between the poles) and large values, off the poles."""
    x = np.concatenate([rng.uniform(1e-3, 30, 300), -rng.uniform(0, 30, 300), 10.0 ** rng.uniform(-8, 8, 100)])
    return x[np.abs(x - np.round(x)) > 1e-3]


def test_lgamma_matches_mpmath(rng):
    x = _grid(rng)
    _close(M.lgamma(x), _mp(lambda v: mpmath.log(abs(mpmath.gamma(v))), x), 1e-13)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 6])
def test_polygamma_matches_mpmath(n, rng):
    x = _grid(rng)
    got, want = M.polygamma(n, x), _mp(lambda v: mpmath.polygamma(n, v), x)
    if n == 0:  # near digamma's roots its value cancels to nothing: compare against the terms' size instead
        scale = np.abs(_mp(mpmath.log, np.abs(x))) + 1 / np.abs(x) + 1
        assert np.all(np.abs(got - want) <= 1e-13 * scale * (1 + 1 / np.abs(np.sin(np.pi * x)))), \
            np.max(np.abs(got - want) / scale)
    else:
        _close(got, want, 1e-12)


def test_erfinv_matches_mpmath(rng):
    y = np.concatenate([rng.uniform(-1, 1, 500), 1 - 10.0 ** -rng.uniform(1, 15.9, 200),
                        [1 - 2.0 ** -53, -(1 - 2.0 ** -53), 1e-300, 0.5, -0.5, 0.49999999]])
    _close(M.erfinv(y), _mp(mpmath.erfinv, y), 1e-14)


def test_edges_follow_torch(torch):
    """Poles, signed zeros, infinities and NaN as PyTorch gives them (and mpmath's limits where torch's
    float64 kernels give garbage: polygamma(1, -k) is inf, not a large finite number, and
    polygamma(n >= 2, inf) is 0, not NaN)."""
    x = np.array([0.0, -0.0, -1.0, -3.0, 1.0, 2.0, np.inf, -np.inf, np.nan, 1e-300, 1e300, -1e300, 2.6e305, -2.5])
    tx = torch.from_numpy(x)
    _close(M.lgamma(x), torch.lgamma(tx).numpy(), 1e-15)
    _close(M.polygamma(0, x), torch.digamma(tx).numpy(), 1e-15)
    assert np.signbit(M.polygamma(0, np.array([0.0]))) and not np.signbit(M.polygamma(0, np.array([-0.0])))
    trigamma = M.polygamma(1, x)
    np.testing.assert_array_equal(trigamma[[2, 3, 7]], [np.inf, np.inf, np.inf])  # the poles and -inf
    keep = [0, 1, 4, 5, 6, 8, 9, 10, 13]
    _close(trigamma[keep], torch.polygamma(1, tx).numpy()[keep], 1e-9)  # torch's trigamma: 1e-10
    for n in (2, 3):
        got = M.polygamma(n, x)
        assert got[6] == 0.0
        keep = [0, 1, 2, 3, 4, 5, 8, 9, 10, 13]
        _close(got[keep], torch.polygamma(n, tx).numpy()[keep], 1e-12)
    y = np.array([1.0, -1.0, 0.0, -0.0, 1.5, -1.5, np.inf, np.nan, 1 - 2.0 ** -53, 0.3])
    _close(M.erfinv(y), torch.erfinv(torch.from_numpy(y)).numpy(), 1e-14)
    assert np.signbit(M.erfinv(np.array([-0.0])))


CASES = {  # name: (numconv, torch, input maker)
    "lgamma": (lambda x: x.lgamma(), lambda t: t.lgamma(), lambda r, s: r.uniform(-4, 6, s)),
    "digamma": (lambda x: x.digamma(), lambda t: t.digamma(), lambda r, s: r.uniform(-4, 6, s)),
    "polygamma1": (lambda x: nc.polygamma(1, x), lambda t: t.polygamma(1), lambda r, s: r.uniform(0.2, 6, s)),
    "polygamma3": (lambda x: x.polygamma(3), lambda t: t.polygamma(3), lambda r, s: r.uniform(-4, 6, s)),
    "erfinv": (lambda x: x.erfinv(), lambda t: t.erfinv(), lambda r, s: r.uniform(-0.999, 0.999, s)),
    "mvlgamma": (lambda x: x.mvlgamma(3), lambda t: t.mvlgamma(3), lambda r, s: r.uniform(1.1, 6, s)),
}


def _off_poles(a):
    return np.where(np.abs(a - np.round(a)) < 0.05, a + 0.3, a)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(CASES))
def test_values_and_gradients_follow_torch(name, dtype, rng, torch):
    ours, theirs, make = CASES[name]
    a = _off_poles(make(rng, (4, 5))).astype(dtype)
    x, t = nc.Tensor(a, requires_grad=True), _t(torch, a, True)
    y, yt = ours(x), theirs(t)
    assert y.dtype == a.dtype and y.shape == tuple(yt.shape)
    rtol = 1e-9 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=rtol, atol=rtol)
    gy = rng.standard_normal(a.shape).astype(dtype)
    (y * nc.Tensor(gy)).sum().backward()
    (yt * _t(torch, gy)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("name", list(CASES))
def test_gradients_against_central_differences(name, rng):
    ours, _, make = CASES[name]
    a = _off_poles(make(rng, (3, 4)))
    assert gradcheck(ours, [nc.Tensor(a, requires_grad=True)])
    assert gradgradcheck(ours, [nc.Tensor(a, requires_grad=True)])


def test_integer_inputs_and_in_place_twins(torch):
    assert nc.tensor([1, 2, 3]).lgamma().dtype == np.float32 == np.dtype(str(torch.tensor([1, 2]).lgamma().dtype)[6:])
    np.testing.assert_allclose(nc.tensor([1, 2, 5]).digamma().numpy(), torch.tensor([1, 2, 5]).digamma().numpy(),
                               rtol=1e-6)  # float32 results; torch's own float32 digamma is 4e-7 off at 1
    for name, args in (("lgamma_", ()), ("digamma_", ()), ("polygamma_", (2,)), ("erfinv_", ()), ("mvlgamma_", (2,))):
        a = np.array([0.7, 0.6, 0.9])
        x, t = nc.tensor(a), torch.tensor(a)
        assert getattr(x, name)(*args) is x
        getattr(t, name)(*args)
        np.testing.assert_allclose(x.numpy(), t.numpy(), rtol=1e-12, err_msg=name)


def test_bad_arguments():
    x = nc.tensor([1.5, 2.5])
    with pytest.raises(ValueError, match="n must be"):
        x.polygamma(-1)
    with pytest.raises(TypeError, match="n must be"):
        x.polygamma(1.5)
    with pytest.raises(TypeError, match="input must be a Tensor"):
        nc.polygamma(1, 2.0)
    with pytest.raises(ValueError, match=r"greater than \(p - 1\) / 2 = 1.5"):
        x.mvlgamma(4)
    with pytest.raises(ValueError, match="p must be"):
        x.mvlgamma(0)
