"""numconv.models: exact parameter counts, torchvision's state_dict key names, and (for LeNet-5 and
ResNet-18) the same logits and gradients as the same architecture written in plain torch.nn."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
from numconv import models, nn
from conftest import torch_or_fail
from numconv.models.vgg import cfgs, make_layers


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


# ----------------------------------------------------------------------------- counts and names


_BUILT = {}


def built(name):
    """Each large model is built once per session (alexnet has 61M parameters)."""
    if name not in _BUILT:
        _BUILT[name] = models.get_model(name)
    return _BUILT[name]


@pytest.mark.parametrize("name, count", [
    ("lenet5", 61_706), ("alexnet", 61_100_840), ("resnet18", 11_689_512), ("resnet34", 21_797_672),
    ("resnet50", 25_557_032), ("resnet18_cifar", 11_173_962), ("googlenet", 6_624_904),
])
def test_parameter_counts(name, count):
    assert n_params(built(name)) == count


def test_vgg16_count_and_torchvision_keys():
    m = models.vgg16()  # 138M parameters: the one VGG built in the tests
    assert n_params(m) == 138_357_544
    keys = list(m.state_dict(keep_vars=True))
    convs = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    expected = [f"features.{i}.{p}" for i in convs for p in ("weight", "bias")] + \
               [f"classifier.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")]
    assert keys == expected
    w = m.classifier[0].weight.numpy()
    assert abs(float(w[:64].std()) - 0.01) < 1e-3  # torchvision's init: N(0, 0.01)
    # the other configurations, by their convolution stacks (the classifier is the same)
    convs = {name: sum(p.numel() for p in make_layers(cfgs[c], bn).parameters())
             for name, c, bn in [("vgg11", "A", False), ("vgg13", "B", False), ("vgg19", "E", False), ("vgg16_bn", "D", True)]}
    head = n_params(m) - n_params(m.features)
    assert {k: v + head for k, v in convs.items()} == {"vgg11": 132_863_336, "vgg13": 133_047_848, "vgg19": 143_667_240,
                                                       "vgg16_bn": 138_365_992}
    bn = make_layers(cfgs["A"], batch_norm=True).state_dict(keep_vars=True)
    assert list(bn)[:7] == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                            "1.num_batches_tracked"] and "4.weight" in bn


def test_torchvision_key_names():
    alex = list(built("alexnet").state_dict(keep_vars=True))
    assert alex == [f"features.{i}.{p}" for i in (0, 3, 6, 8, 10) for p in ("weight", "bias")] + \
                   [f"classifier.{i}.{p}" for i in (1, 4, 6) for p in ("weight", "bias")]
    r50 = built("resnet50").state_dict(keep_vars=True)
    for k in ["conv1.weight", "bn1.num_batches_tracked", "layer1.0.downsample.0.weight", "layer1.0.downsample.1.running_var",
              "layer4.2.conv3.weight", "layer4.2.bn3.bias", "fc.weight"]:
        assert k in r50, k
    assert len(r50) == 320  # torchvision resnet50's state_dict has 320 entries
    g = built("googlenet").state_dict(keep_vars=True)
    assert len(g) == 344  # torchvision googlenet(aux_logits=False)
    for k in ["conv1.conv.weight", "conv1.bn.running_var", "inception3a.branch1.conv.weight",
              "inception3a.branch2.1.bn.weight", "inception4e.branch3.1.conv.weight",
              "inception5b.branch4.1.bn.num_batches_tracked", "fc.weight", "fc.bias"]:
        assert k in g, k
    assert g["inception3a.branch3.1.conv.weight"].shape == (32, 16, 3, 3)  # torchvision's 3x3 '5x5' branch
    assert built("googlenet").conv1.bn.eps == 0.001 and built("googlenet").conv1.conv.bias is None


def test_get_model_errors_and_listing():
    with pytest.raises(ValueError) as info:
        models.get_model("resnet19")
    for name in ["lenet5", "alexnet", "vgg16", "resnet18", "resnet18_cifar", "googlenet", "nin", "encoder_decoder"]:
        assert name in str(info.value) and name in models.list_models()
    assert isinstance(models.get_model("ResNet18", num_classes=3).fc, nn.Linear)
    with pytest.raises(ValueError, match="unknown VGG"):
        models.vgg("Z")


def test_zero_init_residual_zeroes_each_branchs_last_norm_and_skips_one_without_weights():
    from functools import partial

    model = models.resnet18(zero_init_residual=True)
    assert all(not np.any(b.bn2.weight.numpy()) for b in model.modules() if isinstance(b, models.resnet.BasicBlock))
    assert np.all(model.bn1.weight.numpy() == 1)
    model = models.resnet50(zero_init_residual=True)
    assert all(not np.any(b.bn3.weight.numpy()) for b in model.modules() if isinstance(b, models.resnet.Bottleneck))
    plain = models.resnet18(norm_layer=partial(nn.BatchNorm2d, affine=False), zero_init_residual=True)  # raised
    assert plain.layer1[0].bn2.weight is None


# ----------------------------------------------------------------------------- forward passes


def test_small_models_forward_and_backward():
    rng = np.random.default_rng(0)
    x = nc.Tensor(rng.standard_normal((2, 3, 32, 32)).astype(np.float32))
    y = models.nin()(x)
    assert y.shape == (2, 10)
    seg = models.encoder_decoder(in_channels=3, num_classes=4, width=4)
    xs = nc.Tensor(rng.standard_normal((2, 3, 17, 22)).astype(np.float32), requires_grad=True)
    out = seg(xs)
    assert out.shape == (2, 4, 17, 22)  # odd sizes recovered through ConvTranspose2d(output_size=...)
    target = nc.Tensor(rng.integers(0, 4, (2, 17, 22)))
    nc.F.cross_entropy(out, target).backward()
    assert xs.grad.shape == xs.shape and all(p.grad is not None for p in seg.parameters())
    g = built("googlenet").eval()
    assert g(nc.Tensor(rng.standard_normal((1, 3, 48, 48)).astype(np.float32))).shape == (1, 1000)
    assert built("alexnet").eval()(nc.Tensor(rng.standard_normal((1, 3, 63, 63)).astype(np.float32))).shape == (1, 1000)
    r = models.resnet18_cifar()
    assert r.conv1.kernel_size == (3, 3) and r.conv1.stride == (1, 1) and isinstance(r.maxpool, nn.Identity)
    assert r(x).shape == (2, 10)


# ----------------------------------------------------------------------------- against plain torch


def torch_lenet5(torch):
    tn = torch.nn

    class LeNet5(tn.Module):
        def __init__(self):
            super().__init__()
            self.features = tn.Sequential(tn.Conv2d(1, 6, 5, padding=2), tn.ReLU(inplace=True), tn.MaxPool2d(2, 2),
                                          tn.Conv2d(6, 16, 5), tn.ReLU(inplace=True), tn.MaxPool2d(2, 2))
            self.classifier = tn.Sequential(tn.Linear(400, 120), tn.ReLU(inplace=True), tn.Linear(120, 84),
                                            tn.ReLU(inplace=True), tn.Linear(84, 10))

        def forward(self, x):
            return self.classifier(torch.flatten(self.features(x), 1))

    return LeNet5()


def torch_resnet18(torch, num_classes=1000):
    """torchvision's ResNet-18, written out in plain torch.nn (torchvision is not a test dependency)."""
    tn = torch.nn

    class BasicBlock(tn.Module):
        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = tn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = tn.BatchNorm2d(planes)
            self.relu = tn.ReLU(inplace=True)
            self.conv2 = tn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = tn.BatchNorm2d(planes)
            self.downsample = downsample
            self.stride = stride

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + (x if self.downsample is None else self.downsample(x)))

    class ResNet(tn.Module):
        def __init__(self):
            super().__init__()
            self.inplanes = 64
            self.conv1 = tn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = tn.BatchNorm2d(64)
            self.relu = tn.ReLU(inplace=True)
            self.maxpool = tn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = self._make_layer(64, 1)
            self.layer2 = self._make_layer(128, 2)
            self.layer3 = self._make_layer(256, 2)
            self.layer4 = self._make_layer(512, 2)
            self.avgpool = tn.AdaptiveAvgPool2d((1, 1))
            self.fc = tn.Linear(512, num_classes)

        def _make_layer(self, planes, stride):
            down = None
            if stride != 1 or self.inplanes != planes:
                down = tn.Sequential(tn.Conv2d(self.inplanes, planes, 1, stride, bias=False), tn.BatchNorm2d(planes))
            layers = [BasicBlock(self.inplanes, planes, stride, down), BasicBlock(planes, planes)]
            self.inplanes = planes
            return tn.Sequential(*layers)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet()


def _randomize_torch(torch, model, seed):
    """Random weights and non-trivial running statistics, so a mix-up of keys cannot go unnoticed."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, v in model.state_dict().items():
            if name.endswith("running_var"):
                v.copy_(0.5 + torch.rand(v.shape, generator=g))
            elif name.endswith("num_batches_tracked"):
                v.fill_(3)
            elif v.dtype.is_floating_point:
                v.copy_(torch.randn(v.shape, generator=g) * (0.2 if v.ndim > 1 else 0.5))


def test_lenet5_matches_torch():
    torch = torch_or_fail()
    t = torch_lenet5(torch)
    m = models.lenet5()
    assert list(m.state_dict()) == list(t.state_dict())
    assert repr(m).replace("LeNet5", "X") == repr(t).replace("LeNet5", "X")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 1, 28, 28)).astype(np.float32)
    m.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    yt = t(torch.from_numpy(x))
    y = m(nc.Tensor(x))
    assert rel_err(y.numpy(), yt.detach().numpy()) < 1e-4


# Train mode normalizes with the batch's statistics; with 2 samples, layer4's BatchNorm sees 2 values
# per channel and float32 rounding is amplified ~1e5 times (float64 still agrees to 1e-10), so
# float32 train mode uses 3x3x48x48 (12 values per channel in layer4).
@pytest.mark.parametrize("train, dtype, shape, tol", [
    (False, np.float32, (2, 3, 32, 32), 1e-4),
    (True, np.float32, (3, 3, 48, 48), 1e-4),
    (True, np.float64, (2, 3, 32, 32), 1e-9),
], ids=["eval-float32", "train-float32", "train-float64"])
def test_resnet18_matches_torch(train, dtype, shape, tol):
    torch = torch_or_fail()
    t = torch_resnet18(torch, num_classes=10)
    _randomize_torch(torch, t, seed=0)
    m = models.resnet18(num_classes=10)
    assert list(m.state_dict()) == list(t.state_dict())  # same keys, same order
    assert repr(m) == repr(t)
    if dtype == np.float64:
        t.double()
        m.double()
    m.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    t.train(train)
    m.train(train)
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape).astype(dtype)
    labels = rng.integers(0, 10, shape[0])
    yt = t(torch.from_numpy(x))
    y = m(nc.Tensor(x))
    assert y.dtype == dtype
    assert rel_err(y.numpy(), yt.detach().numpy()) < tol
    torch.nn.functional.cross_entropy(yt, torch.from_numpy(labels)).backward()
    nc.F.cross_entropy(y, nc.Tensor(labels)).backward()
    tp = dict(t.named_parameters())
    worst = max((rel_err(p.grad.numpy(), tp[k].grad.numpy()), k) for k, p in m.named_parameters())
    assert worst[0] < 100 * tol, worst  # relative to each gradient's largest entry
    tsd = t.state_dict()
    for k, v in m.state_dict().items():  # running statistics updated (train) or left alone (eval) alike
        if "running" in k:
            assert rel_err(v, tsd[k].numpy()) < tol, k
        elif "num_batches" in k:
            assert int(v) == int(tsd[k]), k
