"""Instance normalization and local response normalization: values against the float64 textbook
loops of ``reference.py`` and torch, gradients against torch and central differences (float64),
the running statistics and the layers' behaviour in training and evaluation, and the errors."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F
import reference as ref
from conftest import assert_close
from numconv import nn


def _r(rng, *shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def _grads_match(ours, theirs, arrays, rng, torch, check=True):
    """ours(*Tensors) and theirs(*torch tensors) in float64: values, and every input's gradient for a
    random output gradient; then central differences on ours."""
    leaves = [nc.tensor(a, requires_grad=True) for a in arrays]
    tleaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, t = ours(*leaves), theirs(*tleaves)
    np.testing.assert_allclose(y.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = _r(rng, *y.shape)
    y.backward(nc.tensor(g))
    t.backward(torch.tensor(g))
    for i, (o, tt) in enumerate(zip(leaves, tleaves)):
        np.testing.assert_allclose(o.grad.numpy(), tt.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=f"input {i}")
    if check:
        assert nc.autograd.gradcheck(ours, [nc.tensor(a, requires_grad=True) for a in arrays])


# ----------------------------------------------------------------------------- local response norm


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, size", [((2, 7, 3, 4), 5), ((1, 4, 6), 2), ((2, 3, 2, 2, 2), 4), ((1, 5, 3), 1),
                                         ((2, 3, 4), 9)])
def test_local_response_norm_is_the_textbook_one(shape, size, dtype, rng):
    x = _r(rng, *shape, dtype=dtype) * 2
    alpha, beta, k = rng.uniform(0.1, 2), rng.uniform(0.3, 1.2), rng.uniform(0.5, 2)
    assert_close(F.local_response_norm(x, size, alpha, beta, k), ref.local_response_norm(x, size, alpha, beta, k), dtype)
    assert_close(F.local_response_norm(x, size), ref.local_response_norm(x, size), dtype)


@pytest.mark.parametrize("shape, size", [((2, 6, 3, 2), 3), ((2, 5, 4), 4), ((1, 4, 2, 2, 2), 2)])
def test_local_response_norm_matches_torch_with_gradients(shape, size, rng, torch):
    _grads_match(lambda a: F.local_response_norm(a, size, 0.5, 0.75, 1.5),
                 lambda a: torch.nn.functional.local_response_norm(a, size, 0.5, 0.75, 1.5), [_r(rng, *shape)], rng, torch)


def test_local_response_norm_layer(rng, torch):
    x = _r(rng, 2, 8, 3, 3, dtype=np.float32)
    ours, theirs = nn.LocalResponseNorm(3, alpha=1e-2, beta=0.5, k=2), torch.nn.LocalResponseNorm(3, alpha=1e-2, beta=0.5, k=2)
    assert repr(ours) == repr(theirs)
    np.testing.assert_allclose(ours(nc.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-6, atol=1e-7)
    assert F.local_response_norm(np.zeros((0, 3, 2), np.float32), 2).shape == (0, 3, 2)
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        F.local_response_norm(x[0, 0], 2)
    with pytest.raises(ValueError, match="size"):
        nn.LocalResponseNorm(0)


# ----------------------------------------------------------------------------- instance norm


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(2, 3, 5), (3, 2, 3, 2), (2, 2, 2, 3, 2)])
def test_instance_norm_matches_torch_with_gradients(shape, affine, rng, torch):
    C = shape[1]
    x = _r(rng, *shape) * 3 + 2
    params = [_r(rng, C), _r(rng, C)] if affine else []
    _grads_match(lambda a, *wb: F.instance_norm(a, None, None, *wb, eps=1e-3),
                 lambda a, *wb: torch.nn.functional.instance_norm(a, None, None, *wb, eps=1e-3), [x] + params, rng, torch)


def test_instance_norm_is_each_channel_standardized(rng):
    x = _r(rng, 2, 3, 4, 5) * 4 - 1
    y = F.instance_norm(x, eps=0.0)
    mean, std = x.mean((2, 3), keepdims=True), x.std((2, 3), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / std, rtol=1e-10, atol=1e-12)


def test_instance_norm_running_statistics_and_evaluation_match_torch(rng, torch):
    x = _r(rng, 4, 3, 5, 2) * 2 + 1
    rm, rv = _r(rng, 3), rng.uniform(0.5, 2, 3)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    y = F.instance_norm(x, rm, rv, momentum=0.3)
    t = torch.nn.functional.instance_norm(torch.tensor(x), trm, trv, momentum=0.3)
    np.testing.assert_allclose(y, t.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rm, trm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(rv, trv.numpy(), rtol=1e-12)
    y = F.instance_norm(x, rm, rv, use_input_stats=False)
    t = torch.nn.functional.instance_norm(torch.tensor(x), trm, trv, use_input_stats=False)
    np.testing.assert_allclose(y, t.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls, shape", [("InstanceNorm1d", (3, 4, 6)), ("InstanceNorm1d", (4, 6)),
                                        ("InstanceNorm2d", (2, 4, 3, 3)), ("InstanceNorm2d", (4, 3, 3)),
                                        ("InstanceNorm3d", (2, 4, 2, 3, 2))])
@pytest.mark.parametrize("affine, track", [(False, False), (True, True)])
def test_instance_norm_layers_match_torch(cls, shape, affine, track, rng, torch):
    ours = getattr(nn, cls)(4, momentum=0.2, affine=affine, track_running_stats=track).double()
    theirs = getattr(torch.nn, cls)(4, momentum=0.2, affine=affine, track_running_stats=track).double()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    if affine:
        w, b = _r(rng, 4), _r(rng, 4)
        ours.load_state_dict({**ours.state_dict(), "weight": w, "bias": b})
        theirs.load_state_dict({**theirs.state_dict(), "weight": torch.tensor(w), "bias": torch.tensor(b)})
    for training in (True, True, False):
        ours.train(training)
        theirs.train(training)
        x = _r(rng, *shape) * 2 + 1
        np.testing.assert_allclose(ours(nc.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-10, atol=1e-12)
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), rtol=1e-12, err_msg=name)


def test_instance_norm_errors(rng):
    x = _r(rng, 2, 3, 1, 1)
    with pytest.raises(ValueError, match="more than 1 position per channel"):
        F.instance_norm(x)
    with pytest.raises(ValueError, match="at least one dimension of positions"):
        F.instance_norm(_r(rng, 2, 3))
    with pytest.raises(ValueError, match=r"running_mean must have shape \(3,\)"):
        F.instance_norm(_r(rng, 2, 3, 4), np.zeros(4), np.ones(4))
    with pytest.raises(ValueError, match="expects 3D .* or 4D input"):
        nn.InstanceNorm2d(3)(nc.tensor(_r(rng, 2, 3)))
    with pytest.raises(ValueError, match="got an input with 5 channels"):
        nn.InstanceNorm1d(3, affine=True)(nc.tensor(_r(rng, 2, 5, 4)))
    y = nn.InstanceNorm1d(3)(nc.tensor(_r(rng, 2, 5, 4)))  # num_features unused without affine: PyTorch warns
    assert y.shape == (2, 5, 4)


def test_a_training_step_counts_as_an_in_place_change_of_the_running_statistics(rng, torch):
    """The running statistics are updated in place: a graph that saved them before must refuse to
    backpropagate with the new values, not use them silently. (torch 2.13 does not count the update:
    its backward there silently uses the new values, as the second half shows.)"""
    bn = nc.nn.BatchNorm2d(3)
    w = nc.Tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    y = (w * bn.running_mean).sum() + (w * bn.running_var).sum()  # Mul saves both
    before = bn.running_mean._version
    bn(nc.Tensor(rng.standard_normal((4, 3, 2, 2)).astype(np.float32)))
    assert bn.running_mean._version == before + 1
    with pytest.raises(RuntimeError, match="modified in place after the forward used it"):
        y.backward()
    tbn = torch.nn.BatchNorm2d(3)
    tw = torch.tensor(rng.standard_normal(3), dtype=torch.float32, requires_grad=True)
    ty = (tw * tbn.running_mean).sum()  # the running mean is 0 here
    tbn(torch.tensor(rng.standard_normal((4, 3, 2, 2)), dtype=torch.float32))
    ty.backward()
    assert np.any(tw.grad.numpy() != 0)  # d/dw of w * 0 is 0: torch read the updated values
    bn.eval()
    v = bn.running_var._version
    bn(nc.Tensor(rng.standard_normal((4, 3, 2, 2)).astype(np.float32)))
    assert bn.running_var._version == v  # evaluation reads them only
