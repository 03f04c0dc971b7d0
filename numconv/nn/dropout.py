"""``Dropout`` and ``Dropout1d/2d/3d``: zero elements (or whole channels) with probability p while training.

mode='upscale_in_train' (default, PyTorch's): training scales the kept values by 1/(1-p), eval is
the identity. mode='downgrade_in_infer': training only zeroes, eval multiplies by (1-p).
"""
from __future__ import annotations

from .. import functional as F
from .. import shapes
from ._utils import probability
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]

_MODES = F.DROPOUT_MODES


class _DropoutNd(Module):
    _fn_name = "dropout"

    def __init__(self, p=0.5, inplace=False, mode="upscale_in_train"):
        super().__init__()
        self.p = probability(p)
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        self.inplace, self.mode = shapes.flag(inplace, "inplace"), mode

    def forward(self, input):
        return getattr(F, self._fn_name)(input, self.p, self.training, self.inplace, self.mode)

    def extra_repr(self):
        s = f"p={self.p}, inplace={self.inplace}"
        return s if self.mode == "upscale_in_train" else s + f", mode={self.mode!r}"


class Dropout(_DropoutNd):
    """``Dropout(p=0.5, inplace=False, mode='upscale_in_train')``: ``F.dropout`` on every element."""

    _fn_name = "dropout"


class Dropout1d(_DropoutNd):
    """``Dropout1d(p=0.5, inplace=False, mode='upscale_in_train')``: ``F.dropout1d``, zeroes whole channels of (N, C, L)."""

    _fn_name = "dropout1d"


class Dropout2d(_DropoutNd):
    """``Dropout2d(p=0.5, inplace=False, mode='upscale_in_train')``: ``F.dropout2d``, zeroes whole channels of (N, C, H, W)."""

    _fn_name = "dropout2d"


class Dropout3d(_DropoutNd):
    """``Dropout3d(p=0.5, inplace=False, mode='upscale_in_train')``: ``F.dropout3d``, zeroes whole channels of (N, C, D, H, W)."""

    _fn_name = "dropout3d"


class AlphaDropout(Module):
    """``AlphaDropout(p=0.5, inplace=False)``: ``F.alpha_dropout`` while training (SELU networks)."""

    _fn_name = "alpha_dropout"

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p, self.inplace = probability(p), shapes.flag(inplace, "inplace")

    def forward(self, input):
        return getattr(F, self._fn_name)(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class FeatureAlphaDropout(AlphaDropout):
    """``FeatureAlphaDropout(p=0.5, inplace=False)``: ``F.feature_alpha_dropout``, whole channels."""

    _fn_name = "feature_alpha_dropout"
