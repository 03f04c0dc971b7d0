"""``Dropout`` and ``Dropout2d``: zero elements (or whole channels) with probability p while training.

mode='upscale_in_train' (default, PyTorch's): training scales the kept values by 1/(1-p), eval is
the identity. mode='downgrade_in_infer': training only zeroes, eval multiplies by (1-p).
"""
from __future__ import annotations

from .. import functional as F
from ._utils import probability
from .module import Module

__all__ = ["Dropout", "Dropout2d"]

_MODES = ("upscale_in_train", "downgrade_in_infer")


class _DropoutNd(Module):
    _fn_name = "dropout"

    def __init__(self, p=0.5, inplace=False, mode="upscale_in_train"):
        super().__init__()
        self.p = probability(p)
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        self.inplace, self.mode = inplace, mode

    def forward(self, input):
        fn = getattr(F, self._fn_name)
        if self.mode == "upscale_in_train":
            return fn(input, self.p, self.training)
        if self.training:  # fn keeps x / (1-p) with probability 1-p; undo the scaling
            return input * 0.0 if self.p == 1.0 else fn(input, self.p, True) * (1.0 - self.p)
        return input * (1.0 - self.p)

    def extra_repr(self):
        s = f"p={self.p}, inplace={self.inplace}"
        return s if self.mode == "upscale_in_train" else s + f", mode={self.mode!r}"


class Dropout(_DropoutNd):
    """``Dropout(p=0.5, inplace=False, mode='upscale_in_train')``: ``F.dropout`` on every element; inplace is ignored."""

    _fn_name = "dropout"


class Dropout2d(_DropoutNd):
    """``Dropout2d(p=0.5, inplace=False, mode='upscale_in_train')``: ``F.dropout2d``, zeroes whole channels of (N, C, H, W)."""

    _fn_name = "dropout2d"
