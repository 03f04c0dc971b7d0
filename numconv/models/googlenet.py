"""GoogLeNet / Inception v1 (Szegedy et al., 2014) in torchvision's variant: BasicConv2d =
conv (no bias) + BatchNorm2d(eps=0.001) + ReLU, 3x3 convolutions in the '5x5' branch, no
auxiliary classifiers, no input transform. 6,624,904 parameters with 1000 classes.
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from ..tensor import cat
from ._common import flatten, no_weights, positive_int, probability

__all__ = ["GoogLeNet", "Inception", "BasicConv2d", "googlenet"]


class BasicConv2d(nn.Module):
    """relu(bn(conv(x))): ``conv`` without bias, ``bn`` with eps=0.001; extra arguments go to Conv2d."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four parallel branches concatenated along channels: 1x1 | 1x1->3x3 | 1x1->3x3 | maxpool 3x3->1x1.

    Output channels ch1x1 + ch3x3 + ch5x5 + pool_proj; spatial size unchanged.
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        # torchvision (and its pretrained weights) use 3x3 here, not the paper's 5x5.
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class GoogLeNet(nn.Module):
    """(N, 3, H, W) (224 as designed, >= 15 works) -> (N, num_classes); keys as torchvision's with aux_logits=False.

    init_weights: conv and linear weights ~ N(0, 0.01) truncated to [-2, 2] (torchvision's); BatchNorm 1/0.
    """

    def __init__(self, num_classes=1000, init_weights=True, dropout=0.2):
        num_classes = positive_int(num_classes, "num_classes", "GoogLeNet")
        dropout = probability(dropout, "dropout", "GoogLeNet")
        super().__init__()
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)
        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4c(self.inception4b(self.inception4a(x)))
        x = self.maxpool4(self.inception4e(self.inception4d(x)))
        x = self.inception5b(self.inception5a(x))
        return self.fc(self.dropout(flatten(self.avgpool(x))))


def googlenet(num_classes=1000, *, weights=None, **kwargs):
    """GoogLeNet; ``weights`` must be None (torchvision's argument: numconv ships no pretrained weights)."""
    no_weights(weights, "googlenet")
    return GoogLeNet(num_classes=num_classes, **kwargs)
