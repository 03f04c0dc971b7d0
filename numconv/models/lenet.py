"""LeNet-5 (LeCun et al., 1998) for 1x28x28 inputs, with ReLU and max pooling: 61,706 parameters."""
from __future__ import annotations

from .. import nn
from ._common import flatten, no_weights, positive_int

__all__ = ["LeNet5", "lenet5"]


class LeNet5(nn.Module):
    """conv 6@5x5 (padding 2) -> pool -> conv 16@5x5 -> pool -> fc 120 -> fc 84 -> fc num_classes.

    (N, in_channels, 28, 28) -> (N, num_classes). Keys: features.{0,3}.*, classifier.{0,2,4}.*.
    """

    def __init__(self, num_classes=10, in_channels=1):
        num_classes = positive_int(num_classes, "num_classes", "LeNet5")
        in_channels = positive_int(in_channels, "in_channels", "LeNet5")
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(inplace=True), nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(inplace=True),
            nn.Linear(120, 84), nn.ReLU(inplace=True),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(flatten(self.features(x)))


def lenet5(num_classes=10, in_channels=1, *, weights=None):
    """LeNet5; ``weights`` must be None (torchvision's argument: numconv ships no pretrained weights)."""
    no_weights(weights, "lenet5")
    return LeNet5(num_classes=num_classes, in_channels=in_channels)
