"""VGG (Simonyan & Zisserman, 2014) in torchvision's layout: vgg16() has 138,357,544 parameters."""
from __future__ import annotations

from .. import nn
from ._common import flatten, no_weights, positive_int, probability

__all__ = ["VGG", "vgg", "make_layers", "cfgs", "vgg11", "vgg13", "vgg16", "vgg19"]

# Output channels of each 3x3 convolution; "M" is a 2x2 max pool.
cfgs = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
_DEPTHS = {11: "A", 13: "B", 16: "D", 19: "E"}


def make_layers(cfg, batch_norm=False, in_channels=3):
    """The ``features`` Sequential: conv3x3 (+ BatchNorm2d) + ReLU per number, MaxPool2d(2) per 'M'."""
    _check_cfg(cfg)
    in_channels = positive_int(in_channels, "in_channels", "VGG")
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            in_channels = v
    return nn.Sequential(*layers)


def _check_cfg(cfg):
    """``cfg``: a list of positive ints (conv channels) and 'M' (pools), with at least one conv."""
    if not isinstance(cfg, (list, tuple)) or not any(v != "M" for v in cfg):
        raise ValueError(f"VGG: cfg must name a configuration or list conv channels and 'M', got {cfg!r}")
    for i, v in enumerate(cfg):
        if v != "M":
            positive_int(v, f"cfg[{i}] (a conv's channels, or 'M' for a max pool)", "VGG")


class VGG(nn.Module):
    """features -> AdaptiveAvgPool2d(7) -> classifier (4096, 4096, num_classes); keys as torchvision's.

    init_weights (torchvision's): conv kaiming_normal_(fan_out, relu), bias 0; BN 1/0; linear N(0, 0.01), bias 0.
    """

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        if not isinstance(features, nn.Module):
            raise TypeError(f"VGG: features must be a Module (make_layers(cfg)), got {type(features).__name__}")
        num_classes = positive_int(num_classes, "num_classes", "VGG")
        dropout = probability(dropout, "dropout", "VGG")
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(flatten(self.avgpool(self.features(x))))


def vgg(cfg, batch_norm=False, num_classes=1000, init_weights=True, dropout=0.5, in_channels=3, *, weights=None):
    """VGG from ``cfg``: a list of channels and 'M', a letter 'A'/'B'/'D'/'E', or a depth 11/13/16/19.
    ``weights`` must be None (torchvision's argument: numconv ships no pretrained weights)."""
    no_weights(weights, "vgg")
    if isinstance(cfg, int) and cfg in _DEPTHS:
        cfg = _DEPTHS[cfg]
    if isinstance(cfg, str):
        if cfg not in cfgs:
            raise ValueError(f"unknown VGG configuration {cfg!r}; expected one of {sorted(cfgs)}, a depth "
                             f"{sorted(_DEPTHS)} or a list of channels and 'M'")
        cfg = cfgs[cfg]
    _check_cfg(cfg)
    num_classes = positive_int(num_classes, "num_classes", "VGG")
    in_channels = positive_int(in_channels, "in_channels", "VGG")
    dropout = probability(dropout, "dropout", "VGG")
    if [v for v in cfg if v != "M"][-1] != 512:
        raise ValueError(f"the last convolution of cfg must have 512 channels (the classifier expects 512*7*7), got {cfg!r}")
    return VGG(make_layers(cfg, batch_norm, in_channels), num_classes=num_classes, init_weights=init_weights,
               dropout=dropout)


def vgg11(batch_norm=False, *, weights=None, **kwargs):
    no_weights(weights, "vgg11_bn" if batch_norm else "vgg11")
    return vgg("A", batch_norm, **kwargs)


def vgg13(batch_norm=False, *, weights=None, **kwargs):
    no_weights(weights, "vgg13_bn" if batch_norm else "vgg13")
    return vgg("B", batch_norm, **kwargs)


def vgg16(batch_norm=False, *, weights=None, **kwargs):
    no_weights(weights, "vgg16_bn" if batch_norm else "vgg16")
    return vgg("D", batch_norm, **kwargs)


def vgg19(batch_norm=False, *, weights=None, **kwargs):
    no_weights(weights, "vgg19_bn" if batch_norm else "vgg19")
    return vgg("E", batch_norm, **kwargs)
