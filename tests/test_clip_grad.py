"""Gradient clipping and flat parameter vectors (numconv.nn.utils) against torch.nn.utils, and
against the norm written out in float64."""
from __future__ import annotations

import math

import numpy as np
import pytest

import numconv as nc
from numconv.nn import utils
from conftest import torch_or_fail

SHAPES = [(3, 4), (5,), (2, 2, 2), (1,)]


def _pair(rng, dtype, with_grads=(True, True, False, True)):
    torch = torch_or_fail()
    ours, theirs = [], []
    for shape, has in zip(SHAPES, with_grads):
        v, g = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype) * 3
        p, t = nc.nn.Parameter(v.copy()), torch.nn.Parameter(torch.tensor(v))
        if has:
            p.grad, t.grad = nc.Tensor(g.copy()), torch.tensor(g)
        ours.append(p)
        theirs.append(t)
    return ours, theirs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, "inf", math.inf, 0, -math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_as_torch(norm_type, max_norm, dtype, rng):
    torch = torch_or_fail()
    ours, theirs = _pair(rng, dtype)
    grads = [p.grad.numpy().astype(np.float64).ravel() for p in ours if p.grad is not None]
    p = float(norm_type)
    flat = np.abs(np.concatenate(grads))
    want = {math.inf: flat.max(), -math.inf: min(np.abs(g).min() for g in grads),
            0.0: float(len(grads))}.get(p, (flat ** p).sum() ** (1 / p) if p else None)
    got = utils.clip_grad_norm_((q for q in ours), max_norm, norm_type)  # a generator, as model.parameters()
    ref = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    tol = dict(rtol=2e-6) if dtype == np.float32 else dict(rtol=1e-12)
    assert got.shape == () and got.dtype == dtype
    np.testing.assert_allclose(float(got.numpy()), want, **tol)
    np.testing.assert_allclose(float(got.numpy()), float(ref), **tol)
    for q, t in zip(ours, theirs):
        if t.grad is None:
            assert q.grad is None
        else:
            np.testing.assert_allclose(q.grad.numpy(), t.grad.numpy(), **tol)
    if max_norm < want and p != 0:  # scaled to the limit (a count of non-zeros does not scale)
        np.testing.assert_allclose(float(utils.get_total_norm([q.grad for q in ours if q.grad is not None],
                                                              norm_type).numpy()), max_norm, rtol=1e-5)


def test_clip_grad_norm_edges(rng):
    p = nc.nn.Parameter(np.array([3e20, 4e20], np.float32))  # a float32 sum of squares overflows; float64 does not
    p.grad = nc.Tensor(np.array([3e20, 4e20], np.float32))
    assert float(utils.clip_grad_norm_(p, 1.0).numpy()) == pytest.approx(5e20, rel=1e-6)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-6)
    assert float(utils.clip_grad_norm_([], 1.0).numpy()) == 0.0
    q = nc.nn.Parameter(rng.standard_normal(3))
    q.grad = nc.Tensor(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(RuntimeError, match="non-finite"):
        utils.clip_grad_norm_([q], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(q.grad.numpy(), [1.0, np.nan, 2.0])  # untouched when it raises
    assert math.isnan(float(utils.clip_grad_norm_([q], 1.0).numpy()))  # as torch: scaled by the NaN norm
    for bad, error in (("two", TypeError), (True, TypeError), (float("nan"), TypeError)):
        with pytest.raises(error, match="norm_type"):
            utils.clip_grad_norm_([q], 1.0, bad)
    with pytest.raises(TypeError, match=r"parameters\[1\]"):
        utils.clip_grad_norm_([q, np.ones(3)], 1.0)
    empty = nc.nn.Parameter(np.zeros(0))
    empty.grad = nc.Tensor(np.zeros(0))
    with pytest.raises(ValueError, match="empty gradient"):
        utils.clip_grad_norm_([empty], 1.0, "inf")


def test_clip_grad_value_and_vectors_as_torch(rng):
    torch = torch_or_fail()
    ours, theirs = _pair(rng, np.float64)
    utils.clip_grad_value_(ours, 1.5)
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for q, t in zip(ours, theirs):
        if t.grad is not None:
            np.testing.assert_array_equal(q.grad.numpy(), t.grad.numpy())
    with pytest.raises(ValueError, match="clip_value"):
        utils.clip_grad_value_(ours, -1.0)
    vec = utils.parameters_to_vector(ours)
    np.testing.assert_array_equal(vec.numpy(), torch.nn.utils.parameters_to_vector(theirs).detach().numpy())
    w = rng.standard_normal(vec.shape)
    (vec * nc.Tensor(w)).sum().backward()  # differentiable: each parameter's slice of w
    np.testing.assert_array_equal(ours[0].grad.numpy(), np.clip(theirs[0].grad.numpy(), -1.5, 1.5) + w[:12].reshape(3, 4))
    new = rng.standard_normal(vec.shape)
    utils.vector_to_parameters(nc.Tensor(new), ours)
    np.testing.assert_array_equal(np.concatenate([q.numpy().ravel() for q in ours]), new)
    with pytest.raises(ValueError, match="holds? 26"):
        utils.vector_to_parameters(nc.Tensor(new[:-1]), ours)
