"""A small fully-convolutional encoder-decoder for per-pixel classification (segmentation).

Encoder: two stages of (conv3x3-BN-ReLU x2, 2x2 max pool), then a bottleneck stage.
Decoder: ConvTranspose2d(kernel 2, stride 2) back to each stage's size (``output_size``, so
odd sizes work), each followed by conv3x3-BN-ReLU x2; a 1x1 convolution gives the class scores.
(N, in_channels, H, W) -> (N, num_classes, H, W) for any H, W >= 4.
"""
from __future__ import annotations

from .. import nn
from ._common import no_weights, positive_int

__all__ = ["EncoderDecoder", "encoder_decoder"]


def _double_conv(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class EncoderDecoder(nn.Module):
    """``EncoderDecoder(in_channels=3, num_classes=2, width=16)``: channels width, 2*width, 4*width at 1, 1/2, 1/4 scale."""

    def __init__(self, in_channels=3, num_classes=2, width=16):
        in_channels = positive_int(in_channels, "in_channels", "EncoderDecoder")
        num_classes = positive_int(num_classes, "num_classes", "EncoderDecoder")
        width = positive_int(width, "width", "EncoderDecoder")
        super().__init__()
        w = width
        self.enc1 = _double_conv(in_channels, w)
        self.pool1 = nn.MaxPool2d(2)
        self.enc2 = _double_conv(w, 2 * w)
        self.pool2 = nn.MaxPool2d(2)
        self.bottleneck = _double_conv(2 * w, 4 * w)
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, kernel_size=2, stride=2)
        self.dec2 = _double_conv(2 * w, 2 * w)
        self.up1 = nn.ConvTranspose2d(2 * w, w, kernel_size=2, stride=2)
        self.dec1 = _double_conv(w, w)
        self.head = nn.Conv2d(w, num_classes, kernel_size=1)

    def forward(self, x):
        size1 = x.shape[-2:]
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool1(e1))
        size2 = e2.shape[-2:]
        b = self.bottleneck(self.pool2(e2))
        d2 = self.dec2(self.up2(b, output_size=size2))
        d1 = self.dec1(self.up1(d2, output_size=size1))
        return self.head(d1)


def encoder_decoder(in_channels=3, num_classes=2, width=16, *, weights=None):
    """EncoderDecoder; ``weights`` must be None (numconv ships no pretrained weights)."""
    no_weights(weights, "encoder_decoder")
    return EncoderDecoder(in_channels=in_channels, num_classes=num_classes, width=width)
