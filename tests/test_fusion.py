"""A convolution or linear layer and the batch norm after it, fused for inference
(``nn.utils.fuse_conv_bn_eval`` and friends): the fused layer gives the pair's outputs, its weights
are PyTorch's fused weights, and bad pairs are refused by name."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
from numconv import nn


def _trained_pair(rng, layer, bn, shape):
    """The layer and batch norm in float64 after a few training batches (running statistics that are
    not 0 and 1), then in eval mode; random affine parameters."""
    layer.to(np.float64), bn.to(np.float64)
    with nc.no_grad():
        bn.weight.copy_(rng.uniform(0.5, 2.0, bn.weight.shape))
        bn.bias.copy_(rng.standard_normal(bn.bias.shape))
        for _ in range(3):
            bn(layer(nc.Tensor(rng.standard_normal(shape) * 2 + 1)))
    layer.eval(), bn.eval()
    return layer, bn


LAYERS = [
    ("conv2d", lambda: nn.Conv2d(4, 6, 3, padding=1), (2, 4, 5, 5)),
    ("conv2d_groups_no_bias", lambda: nn.Conv2d(4, 6, (3, 2), groups=2, bias=False), (2, 4, 5, 6)),
    ("conv1d", lambda: nn.Conv1d(3, 5, 3, stride=2), (2, 3, 9)),
    ("conv3d", lambda: nn.Conv3d(2, 3, 2), (1, 2, 3, 4, 3)),
    ("conv_transpose2d_groups", lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2), (2, 4, 3, 4)),
    ("conv_transpose1d", lambda: nn.ConvTranspose1d(3, 4, 2, stride=2), (2, 3, 5)),
]
BN = {3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}


@pytest.mark.parametrize("name, make, shape", LAYERS, ids=[c[0] for c in LAYERS])
def test_fused_conv_gives_the_pairs_outputs(name, make, shape, rng):
    layer = make()
    layer, bn = _trained_pair(rng, layer, BN[len(shape)](layer.out_channels), shape)
    before = {k: v.copy() for k, v in layer.state_dict().items()}
    fused = nn.utils.fuse_conv_bn_eval(layer, bn)
    assert type(fused) is type(layer) and fused.bias is not None
    x = nc.Tensor(rng.standard_normal(shape))
    np.testing.assert_allclose(fused(x).numpy(), bn(layer(x)).numpy(), rtol=1e-12, atol=1e-12)
    for k, v in layer.state_dict().items():  # the layer given is left as it was
        np.testing.assert_array_equal(v, before[k])


def test_fused_linear_gives_the_pairs_outputs(rng):
    layer, bn = _trained_pair(rng, nn.Linear(5, 4), nn.BatchNorm1d(4), (8, 5))
    fused = nn.utils.fuse_linear_bn_eval(layer, bn)
    x = nc.Tensor(rng.standard_normal((3, 5)))
    np.testing.assert_allclose(fused(x).numpy(), bn(layer(x)).numpy(), rtol=1e-12, atol=1e-12)


def test_fused_weights_are_torchs(rng, torch):
    """The same pairs fused by PyTorch (float32, where it computes): the same weights and bias."""
    for ours, theirs, shape in [((nn.Conv2d, (3, 5, 3)), (torch.nn.Conv2d, (3, 5, 3)), (2, 3, 6, 6)),
                                ((nn.Linear, (4, 3)), (torch.nn.Linear, (4, 3)), (6, 4))]:
        layer, bn = _trained_pair(rng, ours[0](*ours[1]), (nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d)(
            ours[1][1]), shape)
        t_layer, t_bn = theirs[0](*theirs[1]), (torch.nn.BatchNorm2d if len(shape) == 4 else torch.nn.BatchNorm1d)(
            ours[1][1])
        for mod, t_mod in ((layer, t_layer), (bn, t_bn)):
            t_mod.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in mod.state_dict().items()})
            mod.to(np.float32)
        t_layer.eval(), t_bn.eval()
        if len(shape) == 4:
            got, want = nn.utils.fuse_conv_bn_eval(layer, bn), torch.nn.utils.fuse_conv_bn_eval(t_layer, t_bn)
        else:
            got, want = nn.utils.fuse_linear_bn_eval(layer, bn), torch.nn.utils.fuse_linear_bn_eval(t_layer, t_bn)
        assert got.weight.dtype == np.float32
        np.testing.assert_allclose(got.weight.detach().numpy(), want.weight.detach().numpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(got.bias.detach().numpy(), want.bias.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_fusing_what_cannot_be_fused_is_refused(rng):
    conv, bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)
    with pytest.raises(ValueError, match=r"call .eval\(\) on both"):
        nn.utils.fuse_conv_bn_eval(conv, bn)
    conv.eval()
    with pytest.raises(ValueError, match="no running statistics"):
        nn.utils.fuse_conv_bn_eval(conv, nn.BatchNorm2d(4, track_running_stats=False).eval())
    with pytest.raises(ValueError, match="the layer has 4 output channels, the batch norm 5"):
        nn.utils.fuse_conv_bn_eval(conv, nn.BatchNorm2d(5).eval())
