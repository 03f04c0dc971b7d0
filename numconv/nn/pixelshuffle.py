"""Shuffle layers, as ``torch.nn``: ``PixelShuffle``, ``PixelUnshuffle`` and ``ChannelShuffle`` (no parameters)."""
from __future__ import annotations

from .. import functional as F
from ._utils import positive_int
from .module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle", "ChannelShuffle"]


class PixelShuffle(Module):
    """``PixelShuffle(upscale_factor)``: (*, C r^2, H, W) -> (*, C, H r, W r), ``F.pixel_shuffle``."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = positive_int(upscale_factor, "upscale_factor")

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``PixelUnshuffle(downscale_factor)``: (*, C, H r, W r) -> (*, C r^2, H, W), ``F.pixel_unshuffle``."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = positive_int(downscale_factor, "downscale_factor")

    def forward(self, input):
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """``ChannelShuffle(groups)``: (N, g k, *) -> channel g * k + i to i * groups + g, ``F.channel_shuffle``."""

    def __init__(self, groups):
        super().__init__()
        self.groups = positive_int(groups, "groups")

    def forward(self, input):
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"
