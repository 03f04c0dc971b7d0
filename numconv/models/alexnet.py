"""AlexNet in torchvision's layout (Krizhevsky et al., 2012, the one-GPU variant): 61,100,840 parameters."""
from __future__ import annotations

from .. import nn
from ._common import flatten, no_weights, positive_int, probability

__all__ = ["AlexNet", "alexnet"]


class AlexNet(nn.Module):
    """(N, 3, H, W) with H, W >= 63 (224 as designed) -> (N, num_classes); keys as torchvision's."""

    def __init__(self, num_classes=1000, dropout=0.5):
        num_classes = positive_int(num_classes, "num_classes", "AlexNet")
        dropout = probability(dropout, "dropout", "AlexNet")
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        return self.classifier(flatten(self.avgpool(self.features(x))))


def alexnet(num_classes=1000, dropout=0.5, *, weights=None):
    """AlexNet; ``weights`` must be None (torchvision's argument: numconv ships no pretrained weights)."""
    no_weights(weights, "alexnet")
    return AlexNet(num_classes=num_classes, dropout=dropout)
