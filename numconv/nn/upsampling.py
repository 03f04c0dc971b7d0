"""Upsampling layers, as ``torch.nn``: ``Upsample``, ``UpsamplingNearest2d``, ``UpsamplingBilinear2d``
(each one ``numconv.functional.interpolate`` call; no parameters)."""
from __future__ import annotations

from .. import functional as F
from .. import shapes
from .module import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]


class Upsample(Module):
    """``Upsample(size=None, scale_factor=None, mode='nearest', align_corners=None, recompute_scale_factor=None)``:
    resize (N, C, *spatial) to ``size`` or by ``scale_factor``; the modes of ``F.interpolate``."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
        super().__init__()
        if mode not in shapes.INTERPOLATE_MODES:
            raise ValueError(f"mode must be one of {shapes.INTERPOLATE_MODES}, got {mode!r}")
        if (size is None) == (scale_factor is None):
            raise ValueError("give exactly one of size and scale_factor, got " + ("both" if size is not None else "neither"))
        self.size, self.mode, self.align_corners = size, mode, align_corners
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) and \
            not isinstance(scale_factor, bool) else scale_factor
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self):
        what = f"size={self.size!r}" if self.size is not None else f"scale_factor={self.scale_factor!r}"
        corners = f", align_corners={self.align_corners}" if self.align_corners is not None else ""
        return f"{what}, mode={self.mode!r}{corners}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode='nearest')`` for (N, C, H, W)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode='bilinear', align_corners=True)`` for (N, C, H, W)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
