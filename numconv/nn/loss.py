"""Losses, as ``torch.nn``: ``CrossEntropyLoss``, ``NLLLoss``, ``MSELoss``, ``L1Loss``, ``SmoothL1Loss``,
``HuberLoss``, ``BCELoss``, ``BCEWithLogitsLoss``, ``KLDivLoss``; ``forward(input, target)``."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import shapes
from ..tensor import Tensor
from .module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss",
           "BCEWithLogitsLoss", "KLDivLoss"]

_REDUCTIONS = ("none", "mean", "sum")


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction


def _float_buffer(value):
    """A loss's weight buffer: a float Tensor with ``value``'s values (integers as float32), or None."""
    if value is None:
        return None
    arr = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
    return Tensor(arr if arr.dtype.kind == "f" else arr.astype(np.float32))


class _WeightedLoss(_Loss):
    """Keeps the per-class ``weight`` as a buffer (as PyTorch, so it appears in state_dict)."""

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        weight = _float_buffer(weight)
        if weight is not None and weight.ndim != 1:
            raise ValueError(f"weight must be a 1-d array of per-class weights, got shape {weight.shape}")
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """``CrossEntropyLoss(weight=None, ignore_index=-100, reduction='mean', label_smoothing=0.0)``.

    input: logits (N, C) or (N, C, d1, ...); target: class indices (N, d1, ...) or probabilities
    of the input's shape. loss = -log softmax(input)[target], weighted and reduced.
    """

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(weight, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """``NLLLoss(weight=None, ignore_index=-100, reduction='mean')``: -input[n, target[n]] for log-probabilities."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class MSELoss(_Loss):
    """``MSELoss(reduction='mean')``: (input - target)^2, reduced."""

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class KLDivLoss(_Loss):
    """``KLDivLoss(reduction='mean', log_target=False)``: ``F.kl_div`` of target from the log-probabilities
    input; reduction 'batchmean' (the divergence per sample) as well as 'none', 'mean' and 'sum'."""

    def __init__(self, reduction="mean", log_target=False):
        super().__init__("mean" if reduction == "batchmean" else reduction)
        self.reduction, self.log_target = reduction, shapes.flag(log_target, "log_target")

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class L1Loss(_Loss):
    """``L1Loss(reduction='mean')``: |input - target|, reduced."""

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """``SmoothL1Loss(reduction='mean', beta=1.0)``: quadratic within beta of the target, linear beyond."""

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = shapes.real(beta, "beta", 0.0)

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """``HuberLoss(reduction='mean', delta=1.0)``: 0.5 d^2 within delta of the target, delta (|d| - 0.5 delta) beyond."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = shapes.real(delta, "delta", 0.0, lo_open=True)

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_Loss):
    """``BCELoss(weight=None, reduction='mean')``: binary cross-entropy of probabilities in [0, 1];
    ``weight`` (broadcasting to the input) is a buffer, as in PyTorch."""

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _float_buffer(weight))

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """``BCEWithLogitsLoss(weight=None, reduction='mean', pos_weight=None)``: binary cross-entropy of
    sigmoid(input), computed stably from the logits; ``weight`` and ``pos_weight`` are buffers."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.register_buffer("weight", _float_buffer(weight))
        self.register_buffer("pos_weight", _float_buffer(pos_weight))

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
