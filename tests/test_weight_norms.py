"""nn.utils.weight_norm and nn.utils.spectral_norm against PyTorch's, with the same parameters and
buffers loaded into both (their state_dict keys are the same): outputs, the power iteration's
buffers, and the gradients of the parameters the weight is made from; their removal; bad uses."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
from numconv import nn

pytestmark = pytest.mark.filterwarnings("ignore:.*weight_norm. is deprecated:FutureWarning")  # torch's old API

LAYERS = {
    "linear": (lambda L: L.Linear(5, 4), (3, 5)),
    "conv2d": (lambda L: L.Conv2d(3, 4, 3, padding=1), (2, 3, 5, 5)),
    "conv_transpose2d": (lambda L: L.ConvTranspose2d(3, 4, 3, stride=2), (2, 3, 3, 3)),
}


def _pair(torch, name, wrap, rng, **kwargs):
    """(ours, theirs): the layer in float64 re-parameterized by ``wrap``, theirs' state loaded into ours."""
    make, shape = LAYERS[name]
    theirs = getattr(torch.nn.utils, wrap)(make(torch.nn).double(), **kwargs)
    ours = getattr(nn.utils, wrap)(make(nn).to(np.float64), **kwargs)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape))))
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    return ours, theirs, shape


def _step(torch, ours, theirs, shape, rng):
    """One forward and backward on both with the same input and output gradient: the outputs, the
    input's gradient and every parameter's gradient (then zeroed), side by side."""
    x, g = rng.standard_normal(shape), None
    xs, xt = nc.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ys, yt = ours(xs), theirs(xt)
    g = rng.standard_normal(tuple(yt.shape))
    ys.backward(nc.Tensor(g))
    yt.backward(torch.from_numpy(g))
    pairs = [(ys.detach().numpy(), yt.detach().numpy()), (xs.grad.numpy(), xt.grad.numpy())]
    tp = dict(theirs.named_parameters())
    for k, p in ours.named_parameters():
        pairs.append((p.grad.numpy(), tp[k].grad.numpy()))
        p.grad, tp[k].grad = None, None
    return pairs


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_matches_torch(name, dim, rng, torch):
    ours, theirs, shape = _pair(torch, name, "weight_norm", rng, dim=dim)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    for a, b in _step(torch, ours, theirs, shape, rng):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    nn.utils.remove_weight_norm(ours)
    torch.nn.utils.remove_weight_norm(theirs)
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=1e-13)
    assert isinstance(ours.weight, nn.Parameter) and sorted(ours.state_dict()) == sorted(theirs.state_dict())


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("iterations", [1, 3])
def test_spectral_norm_matches_torch(name, iterations, rng, torch):
    """In training each forward takes power-iteration steps (the buffers u and v move, as torch's); in
    evaluation none; gradients reach weight_orig through sigma."""
    ours, theirs, shape = _pair(torch, name, "spectral_norm", rng, n_power_iterations=iterations)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    for training in (True, True, False):
        ours.train(training), theirs.train(training)
        for a, b in _step(torch, ours, theirs, shape, rng):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        for k in ("weight_u", "weight_v"):
            np.testing.assert_allclose(getattr(ours, k).numpy(), getattr(theirs, k).numpy(), rtol=1e-12, atol=1e-14)
    nn.utils.remove_spectral_norm(ours)
    torch.nn.utils.remove_spectral_norm(theirs)
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=1e-12)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())


def test_spectral_norm_makes_the_largest_singular_value_one(rng):
    m = nn.utils.spectral_norm(nn.Linear(6, 5).to(np.float64), n_power_iterations=2)
    for _ in range(30):  # power iteration converges over training forwards
        m(nc.Tensor(rng.standard_normal((2, 6))))
    assert abs(np.linalg.svd(m.weight.detach().numpy(), compute_uv=False)[0] - 1.0) < 1e-6


def test_bad_uses_are_refused():
    m = nn.utils.weight_norm(nn.Linear(3, 2))
    with pytest.raises(RuntimeError, match="already re-parameterized"):
        nn.utils.spectral_norm(m)
    with pytest.raises(ValueError, match="has no parameter 'kernel'"):
        nn.utils.weight_norm(nn.Linear(3, 2), name="kernel")
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        nn.utils.remove_spectral_norm(m)
    with pytest.raises(ValueError, match="dim=2 is out of range"):
        nn.utils.weight_norm(nn.Linear(3, 2), dim=2)
    with pytest.raises(TypeError, match="dim must be an int or None, got 0.5"):
        nn.utils.weight_norm(nn.Linear(3, 2), dim=0.5)
    with pytest.raises(ValueError, match="n_power_iterations must be a positive int"):
        nn.utils.spectral_norm(nn.Linear(3, 2), n_power_iterations=0)
