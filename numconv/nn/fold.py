"""``Unfold`` (im2col) and ``Fold`` (col2im), as ``torch.nn``: each holds its settings and makes one
``F.unfold`` / ``F.fold`` call; ``Fold`` adds overlapping patches back up, so ``Fold(Unfold(x))``
is x times the number of patches covering each pixel."""
from __future__ import annotations

from .. import functional as F
from .. import shapes
from .module import Module

__all__ = ["Fold", "Unfold"]


class Unfold(Module):
    """``Unfold(kernel_size, dilation=1, padding=0, stride=1)``: (N, C, H, W) -> (N, C kH kW, L), one
    column per sliding-window position (``F.unfold``)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        shapes.unfold_params(kernel_size, dilation, padding, stride)  # validate now, not at first call
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input):
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, stride={self.stride}"


class Fold(Module):
    """``Fold(output_size, kernel_size, dilation=1, padding=0, stride=1)``: (N, C kH kW, L) -> (N, C, H, W),
    each column added back at its window (``F.fold``)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        shapes.unfold_params(kernel_size, dilation, padding, stride)
        self.output_size = output_size
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input):
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
