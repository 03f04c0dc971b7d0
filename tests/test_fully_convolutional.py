"""numconv.nn.utils: a Linear layer as the equivalent convolution, and whole classifiers made fully
convolutional so a larger image gives a grid of class scores (the notes' VGG 224 -> 384 example)."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import numconv as nc
from numconv import models, nn
from numconv.models._common import flatten
from numconv.models.vgg import cfgs, make_layers
from numconv.nn.utils import FullyConvolutional, linear_to_conv, make_fully_convolutional


def run(model, x):
    with nc.no_grad():
        return model(nc.Tensor(np.ascontiguousarray(x))).numpy()


def test_linear_to_conv_equals_the_linear_layer():
    rng = np.random.default_rng(0)
    lin = nn.Linear(4 * 3 * 5, 7).double()
    conv = linear_to_conv(lin, (4, 3, 5))
    assert isinstance(conv, nn.Conv2d) and conv.kernel_size == (3, 5) and conv.weight.shape == (7, 4, 3, 5)
    assert conv.weight.dtype == np.float64
    x = rng.standard_normal((2, 4, 3, 5))
    np.testing.assert_allclose(run(conv, x)[:, :, 0, 0], run(lin, x.reshape(2, -1)), rtol=1e-12, atol=1e-12)
    # on a larger map, one output per 3x5 window: the Linear applied to each window, flattened
    big = rng.standard_normal((1, 4, 6, 7))
    y = run(conv, big)
    assert y.shape == (1, 7, 4, 3)
    for i in range(4):
        for j in range(3):
            np.testing.assert_allclose(y[0, :, i, j], run(lin, big[:, :, i:i + 3, j:j + 5].reshape(1, -1))[0],
                                       rtol=1e-12, atol=1e-12)
    # a copy: changing the conv leaves the Linear alone
    conv.weight.numpy()[...] = 0
    assert np.abs(lin.weight.numpy()).sum() > 0
    # a Linear on a vector is a 1x1 convolution; 1-d maps give a Conv1d
    assert linear_to_conv(nn.Linear(8, 3), 8).kernel_size == (1, 1)
    assert isinstance(linear_to_conv(nn.Linear(12, 3), (4, 3)), nn.Conv1d)
    assert linear_to_conv(nn.Linear(8, 3, bias=False), (8, 1, 1)).bias is None
    with pytest.raises(ValueError, match="in_features"):
        linear_to_conv(lin, (4, 3, 4))
    with pytest.raises(TypeError):
        linear_to_conv(conv, (4, 3, 5))


class NoPadNet(nn.Module):
    """A small VGG-like classifier without padding: features (stride 4) -> flatten -> classifier."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(6, 8, 3), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Linear(8 * 3 * 3, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5),
                                        nn.Linear(16, 5))

    def forward(self, x):
        return self.classifier(flatten(self.features(x)))


def _fill_bn(bn, rng):
    bn.running_mean.numpy()[...] = rng.standard_normal(bn.num_features)
    bn.running_var.numpy()[...] = rng.uniform(0.5, 2, bn.num_features)
    bn.weight.numpy()[...] = rng.standard_normal(bn.num_features)


def test_each_score_equals_the_network_on_its_crop():
    rng = np.random.default_rng(1)
    net = NoPadNet().double().eval()
    _fill_bn(net.classifier[1], rng)
    fcn = make_fully_convolutional(net, input_shape=(3, 20, 20))
    assert isinstance(fcn, FullyConvolutional) and fcn.stride == 4 and fcn.window == (20, 20)
    assert [type(m).__name__ for m in fcn.head] == ["Conv2d", "BatchNorm2d", "ReLU", "Dropout", "Conv2d"]
    x = rng.standard_normal((2, 3, 20 + 4 * 4, 20 + 4 * 3))
    scores = run(fcn, x)
    assert scores.shape == (2, 5, 5, 4)
    S, D = fcn.stride, 20
    crops = np.stack([x[:, :, i * S:i * S + D, j * S:j * S + D] for i in range(5) for j in range(4)], 1)
    expected = run(net, crops.reshape(-1, 3, D, D)).reshape(2, 5, 4, 5).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(scores, expected, rtol=1e-10, atol=1e-12)
    # the same for a Sequential classifier with nn.Flatten
    seq = nn.Sequential(*net.features, nn.Flatten(), *net.classifier).eval()
    np.testing.assert_allclose(run(make_fully_convolutional(seq, (3, 20, 20)), x), expected, rtol=1e-10, atol=1e-12)
    # the original is untouched
    assert all("Linear" in type(m).__name__ for m in (net.classifier[0], net.classifier[4]))


def _vgg16_twin():
    """VGG-16's exact geometry (cfg 'D': 13 3x3 convolutions, 5 pools, avgpool 7, 3 FC) at 1/16 of the width."""
    m = nn.Module()
    m.features = make_layers([v if v == "M" else v // 16 for v in cfgs["D"]])
    m.avgpool = nn.AdaptiveAvgPool2d((7, 7))
    m.classifier = nn.Sequential(nn.Linear(32 * 7 * 7, 64), nn.ReLU(True), nn.Dropout(),
                                 nn.Linear(64, 64), nn.ReLU(True), nn.Dropout(), nn.Linear(64, 10))
    m.forward = lambda x: m.classifier(flatten(m.avgpool(m.features(x))))
    return m.eval()


def test_notes_vgg16_example_224_to_384():
    net = _vgg16_twin()
    fcn = make_fully_convolutional(net)  # the map shape (32, 7, 7) is read from the avgpool and the first Linear
    assert fcn.stride == 32 and fcn.head[0].kernel_size == (7, 7)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    y224 = run(fcn, x)
    assert y224.shape == (1, 10, 1, 1)  # at the design size: the original network's scores
    np.testing.assert_allclose(y224[:, :, 0, 0], run(net, x), rtol=1e-4, atol=1e-5)
    big = rng.standard_normal((1, 3, 384, 384)).astype(np.float32)
    with nc.no_grad():
        feature_map = fcn.features(nc.Tensor(big))
    assert feature_map.shape[2:] == (12, 12)  # 384 / 32
    assert run(fcn, big).shape == (1, 10, 6, 6)  # 12 - 7 + 1


def test_lenet5_and_alexnet():
    lenet = models.lenet5().eval()
    fcn = make_fully_convolutional(lenet)
    assert fcn.stride == 4 and [m.kernel_size for m in fcn.head if isinstance(m, nn.Conv2d)] == [(5, 5), (1, 1), (1, 1)]
    x = np.random.default_rng(3).standard_normal((3, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(run(fcn, x)[:, :, 0, 0], run(lenet, x), rtol=1e-4, atol=1e-5)
    assert run(fcn, np.zeros((1, 1, 44, 44), np.float32)).shape == (1, 10, 5, 5)  # (44 - 28) / 4 + 1
    alex = models.alexnet(num_classes=20).eval()
    fcn = make_fully_convolutional(alex, (3, 224, 224))
    assert fcn.stride == 32 and fcn.head[1].kernel_size == (6, 6)  # after the first Dropout
    x = np.random.default_rng(4).standard_normal((1, 3, 224, 224)).astype(np.float32)
    np.testing.assert_allclose(run(fcn, x)[:, :, 0, 0], run(alex, x), rtol=1e-3, atol=1e-4)
    assert run(fcn, np.zeros((1, 3, 288, 288), np.float32)).shape == (1, 20, 3, 3)


def test_unsupported_models_and_wrong_design_sizes():
    with pytest.raises(ValueError, match="features"):
        make_fully_convolutional(models.resnet18_cifar())
    with pytest.raises(ValueError, match="identity"):
        make_fully_convolutional(_vgg16_twin(), input_shape=(3, 64, 64))  # avgpool would turn 2x2 into 7x7
    with pytest.raises(ValueError, match="Flatten"):
        make_fully_convolutional(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(2, 2)))
    bad = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 4 * 4, 3), nn.Softmax(dim=1))
    with pytest.raises(ValueError, match="Softmax"):
        make_fully_convolutional(bad, (1, 6, 6))
    with pytest.raises(ValueError, match="input_shape"):
        make_fully_convolutional(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 4 * 5, 3)))
