"""Lazy layers (``nn.LazyLinear``, ``LazyConv*d``, ``LazyConvTranspose*d``, ``LazyBatchNorm*d``): the
first input sizes them, they become the layer they stand for, initialized as that layer is at that
moment, keeping the Parameter objects an optimizer may already hold; PyTorch's sizes and state."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
from numconv import nn

CASES = [
    ("LazyLinear", (5,), {}, "Linear", (7, 5), (3, 7)),
    ("LazyLinear", (4,), dict(bias=False), "Linear", (6, 4), (2, 3, 6)),
    ("LazyConv1d", (4, 3), dict(stride=2), "Conv1d", (3, 4, 3), (2, 3, 9)),
    ("LazyConv2d", (6, 3), dict(padding=1, groups=2), "Conv2d", (4, 6, 3), (2, 4, 5, 5)),
    ("LazyConv2d", (3, 2), dict(bias=False), "Conv2d", (5, 3, 2), (5, 4, 4)),  # unbatched: C first
    ("LazyConv3d", (2, 2), {}, "Conv3d", (3, 2, 2), (1, 3, 3, 4, 3)),
    ("LazyConvTranspose2d", (4, 3), dict(stride=2, groups=2), "ConvTranspose2d", (6, 4, 3), (2, 6, 3, 4)),
    ("LazyConvTranspose1d", (2, 3), {}, "ConvTranspose1d", (3, 2, 3), (2, 3, 5)),
    ("LazyBatchNorm2d", (), dict(momentum=0.3), "BatchNorm2d", (4,), (3, 4, 5, 5)),
    ("LazyBatchNorm1d", (), dict(affine=False), "BatchNorm1d", (6,), (8, 6)),
    ("LazyInstanceNorm2d", (), {}, "InstanceNorm2d", (4,), (3, 4, 5, 5)),
    ("LazyInstanceNorm2d", (), dict(affine=True, track_running_stats=True), "InstanceNorm2d", (4,), (4, 5, 6)),
    ("LazyInstanceNorm1d", (), dict(affine=True), "InstanceNorm1d", (3,), (2, 3, 7)),
    ("LazyInstanceNorm3d", (), dict(momentum=0.2, track_running_stats=True), "InstanceNorm3d", (2,), (1, 2, 3, 3, 4)),
]


@pytest.mark.parametrize("lazy, args, kwargs, real, real_args, shape", CASES, ids=[f"{c[0]}-{i}" for i, c in
                                                                                  enumerate(CASES)])
def test_a_lazy_layer_becomes_the_layer_its_first_input_sizes(lazy, args, kwargs, real, real_args, shape, rng):
    m = getattr(nn, lazy)(*args, **kwargs)
    placeholders = [p for p in m.parameters()]
    x = nc.Tensor(rng.standard_normal(shape).astype(np.float32))
    nc.manual_seed(5)
    y = m(x)
    nc.manual_seed(5)
    want_layer = getattr(nn, real)(*real_args, **kwargs)  # made now, it draws the same initial values
    assert type(m) is type(want_layer)
    assert repr(m) == repr(want_layer)
    assert [p for p in m.parameters()] == placeholders and all(a is b for a, b in zip(m.parameters(), placeholders))
    for (k, v), (k2, v2) in zip(m.state_dict().items(), want_layer.state_dict().items()):
        assert k == k2 and v.shape == v2.shape and v.dtype == v2.dtype
        if k not in ("running_mean", "running_var", "num_batches_tracked"):  # the buffers moved with m's forward
            np.testing.assert_array_equal(v, v2, err_msg=k)
    for p, q in zip(m.parameters(), want_layer.parameters()):  # the same values, so the same outputs
        with nc.no_grad():
            q.copy_(p)
    np.testing.assert_allclose(y.detach().numpy(), want_layer(x).detach().numpy(), rtol=1e-6, atol=1e-6)


def test_an_optimizer_made_before_the_first_call_trains_the_layer(rng):
    net = nn.Sequential(nn.LazyConv2d(4, 3), nn.LazyBatchNorm2d(), nn.ReLU(), nn.Flatten(), nn.LazyLinear(3))
    opt = nc.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x, target = nc.Tensor(rng.standard_normal((8, 2, 6, 6)).astype(np.float32)), nc.Tensor(rng.integers(0, 3, 8))
    losses = []
    for _ in range(20):
        loss = nn.functional.cross_entropy(net(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 4
    assert [type(m).__name__ for m in net] == ["Conv2d", "BatchNorm2d", "ReLU", "Flatten", "Linear"]


def test_lazy_layers_take_their_dtype_and_device_before_the_first_call(rng, torch):
    m = nn.LazyLinear(3).to(np.float64)
    m(nc.Tensor(rng.standard_normal((2, 4))))
    assert m.weight.dtype == np.float64 and m.weight.shape == (3, 4)
    assert repr(nn.LazyLinear(3)) == repr(torch.nn.LazyLinear(3))
    assert sorted(nn.LazyBatchNorm2d().state_dict()) == sorted(torch.nn.LazyBatchNorm2d().state_dict())
    assert sorted(nn.LazyConv2d(3, 2).state_dict()) == sorted(torch.nn.LazyConv2d(3, 2).state_dict())
    for kw in ({}, dict(affine=True, track_running_stats=True)):
        x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
        ours, theirs = nn.LazyInstanceNorm2d(**kw), torch.nn.LazyInstanceNorm2d(**kw)
        if kw:  # (torch 2.13's LazyInstanceNorm2d() lists weight, bias and the running statistics in its state
            # dict even with affine=False and track_running_stats=False; numconv's, as InstanceNorm2d's, has none)
            assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
        else:
            assert not ours.state_dict()
        np.testing.assert_allclose(ours(nc.Tensor(x)).detach().numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                                   rtol=1e-5, atol=1e-5)


def test_lazy_layers_refuse_inputs_they_cannot_size():
    with pytest.raises(ValueError, match=r"LazyConv2d: input must have shape \(N, C, \*2 sizes\)"):
        nn.LazyConv2d(3, 2)(nc.randn(4, 5))
    with pytest.raises(ValueError, match="LazyBatchNorm1d: input must have shape"):
        nn.LazyBatchNorm1d()(nc.randn(4))
    with pytest.raises(ValueError, match="LazyInstanceNorm2d: input must have 3 .unbatched. or 4 dimensions"):
        nn.LazyInstanceNorm2d()(nc.randn(2, 3))


def test_found_by_the_review_of_lazy_layers(rng, torch):
    """summary of a model not yet sized (the layer's forward ran twice through summary's wrapper);
    bias given by position; a batch norm without affine parameters takes its dtype from its buffers;
    re-parameterizing or loading into a layer not yet sized says to call it first."""
    m = nn.Sequential(nn.LazyConv2d(4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(5))
    assert "Linear   [1, 5]" in str(nc.summary(m, (3, 8, 8)))
    assert [type(layer).__name__ for layer in m] == ["Conv2d", "ReLU", "Flatten", "Linear"]
    x = rng.standard_normal((1, 3, 5, 5)).astype(np.float32)
    conv = nn.LazyConv2d(4, 3, 1, 0, 1, 1, False)
    assert conv(nc.Tensor(x)).shape == tuple(torch.nn.LazyConv2d(4, 3, 1, 0, 1, 1, False)(torch.tensor(x)).shape)
    assert conv.bias is None
    bn = nn.LazyBatchNorm2d(affine=False, dtype=np.float64)
    assert bn(nc.Tensor(x.astype(np.float64))).dtype == np.float64 and bn.running_mean.dtype == np.float64
    with pytest.raises(ValueError, match="lazy layer not sized yet: call it"):
        nn.utils.spectral_norm(nn.LazyLinear(3))
    with pytest.raises(ValueError, match="lazy layer not sized yet: call the model once"):
        nn.LazyLinear(3).load_state_dict({"weight": np.zeros((3, 4), np.float32), "bias": np.zeros(3, np.float32)})
