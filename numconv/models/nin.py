"""Network in Network (Lin, Chen & Yan, 2013) for 32x32 images (CIFAR-10 layout).

Three mlpconv blocks (a spatial convolution, then two 1x1 convolutions, each with ReLU), max
pooling and dropout between them; the last 1x1 convolution outputs one map per class and global
average pooling turns the maps into scores: no fully connected layer.
"""
from __future__ import annotations

from .. import nn
from ._common import flatten, no_weights, positive_int, probability

__all__ = ["NIN", "nin", "nin_block"]


def nin_block(in_channels, channels, kernel_size, padding):
    """An 'mlpconv' layer: conv kxk -> ReLU -> conv 1x1 -> ReLU -> conv 1x1 -> ReLU; ``channels`` = the 3 widths."""
    c1, c2, c3 = channels
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, kernel_size, padding=padding), nn.ReLU(inplace=True),
        nn.Conv2d(c1, c2, kernel_size=1), nn.ReLU(inplace=True),
        nn.Conv2d(c2, c3, kernel_size=1), nn.ReLU(inplace=True),
    )


class NIN(nn.Module):
    """(N, in_channels, H, W) (32x32 as designed, >= 8 works) -> (N, num_classes); all convolutions."""

    def __init__(self, num_classes=10, in_channels=3, dropout=0.5):
        num_classes = positive_int(num_classes, "num_classes", "NIN")
        in_channels = positive_int(in_channels, "in_channels", "NIN")
        dropout = probability(dropout, "dropout", "NIN")
        super().__init__()
        self.features = nn.Sequential(
            nin_block(in_channels, (192, 160, 96), kernel_size=5, padding=2),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True), nn.Dropout(dropout),
            nin_block(96, (192, 192, 192), kernel_size=5, padding=2),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True), nn.Dropout(dropout),
            nin_block(192, (192, 192, num_classes), kernel_size=3, padding=1),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))

    def forward(self, x):
        return flatten(self.avgpool(self.features(x)))


def nin(num_classes=10, in_channels=3, dropout=0.5, *, weights=None):
    """NIN; ``weights`` must be None (numconv ships no pretrained weights)."""
    no_weights(weights, "nin")
    return NIN(num_classes=num_classes, in_channels=in_channels, dropout=dropout)
