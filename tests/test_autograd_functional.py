"""``numconv.autograd.functional`` (vjp, jvp, jacobian, hessian, vhp, hvp): against central differences
in float64, against ``torch.autograd.functional``, and its structure, ``create_graph``, ``strict``
and errors."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F

AF = nc.autograd.functional


def _numeric_jacobian(fn, a, eps=1e-6):
    """d fn / d a by central differences, shape fn(a).shape + a.shape (fn maps arrays to arrays)."""
    out = np.asarray(fn(a))
    jac = np.zeros(out.shape + a.shape)
    for k in np.ndindex(a.shape):
        plus, minus = a.copy(), a.copy()
        plus[k] += eps
        minus[k] -= eps
        jac[(Ellipsis,) + k] = (np.asarray(fn(plus)) - np.asarray(fn(minus))) / (2 * eps)
    return jac


def _net(x):
    w = nc.Tensor(np.linspace(-1, 1, 18).reshape(2, 1, 3, 3))
    return F.max_pool2d(F.gelu(F.conv2d(x, w, padding=1)), 2).flatten(1).softmax(1)


def test_jacobian_and_hessian_equal_central_differences(rng):
    a = rng.standard_normal((1, 1, 4, 4))
    jac = AF.jacobian(_net, nc.Tensor(a))
    assert jac.shape == (1, 8, 1, 1, 4, 4)
    with nc.no_grad():
        np.testing.assert_allclose(jac.numpy(), _numeric_jacobian(lambda v: _net(nc.Tensor(v)).numpy(), a),
                                   rtol=1e-6, atol=1e-8)

    def energy(x):
        return (F.softplus(x @ x.t()) ** 2).sum()

    b = rng.standard_normal((2, 3))
    hess = AF.hessian(energy, nc.Tensor(b))
    assert hess.shape == (2, 3, 2, 3)

    def gradient(v):
        x = nc.Tensor(v, requires_grad=True)
        return nc.autograd.grad(energy(x), [x])[0].numpy()

    np.testing.assert_allclose(hess.numpy(), _numeric_jacobian(gradient, b), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(hess.numpy().reshape(6, 6), hess.numpy().reshape(6, 6).T, rtol=1e-12)


def test_every_product_matches_torch(torch, rng):
    TF = torch.autograd.functional
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(3)
    va, vb, wo = rng.standard_normal((2, 3)), rng.standard_normal(3), (rng.standard_normal(2), rng.standard_normal(3))

    def two(x, y):
        return (x * y).tanh() @ y.exp(), x.sum() * y

    def scalar(x, y):
        return (x * y).sin().sum() * y.norm()

    def ours(*arrays):
        return tuple(nc.Tensor(v.copy()) for v in arrays)

    def theirs(*arrays):
        return tuple(torch.tensor(v.copy()) for v in arrays)

    def same(o, t):
        if isinstance(o, tuple):
            assert isinstance(t, tuple) and len(o) == len(t)
            for p, q in zip(o, t):
                same(p, q)
        else:
            np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-14)

    same(AF.jacobian(two, ours(a, b)), TF.jacobian(two, theirs(a, b)))
    same(AF.jacobian(lambda x: x.exp() * x.sum(), nc.Tensor(b)), TF.jacobian(lambda x: x.exp() * x.sum(), torch.tensor(b)))
    same(AF.hessian(scalar, ours(a, b)), TF.hessian(scalar, theirs(a, b)))
    same(AF.vjp(two, ours(a, b), ours(*wo)), TF.vjp(two, theirs(a, b), theirs(*wo)))
    same(AF.jvp(two, ours(a, b), ours(va, vb)), TF.jvp(two, theirs(a, b), theirs(va, vb)))
    for name in ("vhp", "hvp"):
        same(getattr(AF, name)(scalar, ours(a, b), ours(va, vb)), getattr(TF, name)(scalar, theirs(a, b), theirs(va, vb)))


def test_create_graph_strict_and_errors(rng):
    a = rng.standard_normal(3)
    x = nc.Tensor(a.copy(), requires_grad=True)
    jac = AF.jacobian(lambda t: t ** 3, x)
    assert not jac.requires_grad and x.grad is None  # detached results, no .grad touched
    jac = AF.jacobian(lambda t: t ** 3, x, create_graph=True)
    jac.trace().backward()  # d/dx sum_i 3 x_i^2 = 6 x
    np.testing.assert_allclose(x.grad.numpy(), 6 * a, rtol=1e-12)
    y = nc.Tensor(a.copy())
    np.testing.assert_array_equal(AF.jacobian(lambda s, t: s * 2, (y, y))[1].numpy(), np.zeros((3, 3)))
    with pytest.raises(RuntimeError, match="does not depend on input 1"):
        AF.jacobian(lambda s, t: s * 2, (y, y), strict=True)
    with pytest.raises(RuntimeError, match="one single-element Tensor"):
        AF.hessian(lambda t: t * t, y)
    with pytest.raises(ValueError, match="v must have the input's shapes"):
        AF.hvp(lambda t: (t * t).sum(), y, nc.Tensor(np.ones(2)))
    with pytest.raises(ValueError, match="v can be left out only"):
        AF.vjp(lambda t: t * t, y)
    with pytest.raises(TypeError, match="inputs must be a numconv Tensor"):
        AF.jacobian(lambda t: t, a)
    with pytest.raises(ValueError, match="reverse-mode only"):
        AF.jacobian(lambda t: t, y, strategy="forward-mode")


def test_create_graph_keeps_v_in_its_graph_and_strict_sees_constants(torch, rng):
    """With create_graph a v that requires grad is differentiable through the result (as PyTorch's),
    and strict refuses a derivative that could not be differentiated again."""
    a, w = rng.standard_normal(2), rng.standard_normal(2)
    found = []
    for lib, T in ((nc, nc.Tensor), (torch, torch.tensor)):
        F_ = lib.autograd.functional
        row = []
        for name in ("vjp", "jvp", "vhp", "hvp"):
            v = T(w.copy(), requires_grad=True)
            fn = (lambda x: x * x * x) if name in ("vjp", "jvp") else (lambda x: (x ** 3).sum())
            _, r = getattr(F_, name)(fn, T(a.copy()), v, create_graph=True)
            row.append(lib.autograd.grad(r.sum(), v)[0].detach().numpy())
        found.append(row)
        with pytest.raises(RuntimeError, match="independent"):
            F_.jacobian(lambda x: x * 3, T(a.copy()), create_graph=True, strict=True)
    for ours, theirs in zip(*found):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
