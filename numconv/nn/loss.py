"""Losses, as ``torch.nn``: ``CrossEntropyLoss``, ``NLLLoss``, ``MSELoss``, ``L1Loss``, ``SmoothL1Loss``,
``HuberLoss``, ``BCELoss``, ``BCEWithLogitsLoss``, ``KLDivLoss``, ``SoftMarginLoss``,
``MultiLabelSoftMarginLoss``, ``MarginRankingLoss``, ``HingeEmbeddingLoss``, ``CosineEmbeddingLoss``,
``TripletMarginLoss``, ``PoissonNLLLoss``, ``GaussianNLLLoss``, ``MultiMarginLoss``; each makes one
``numconv.functional`` call in ``forward``.

Constructor arguments are PyTorch's, in PyTorch's order: the deprecated ``size_average`` and
``reduce`` keep their places (so a positional call lands where it would in PyTorch) and are refused
when given, with a ValueError saying to pass ``reduction`` instead.
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import shapes
from ..tensor import Tensor, tensor
from .module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss",
           "BCEWithLogitsLoss", "KLDivLoss", "SoftMarginLoss", "MultiLabelSoftMarginLoss", "MarginRankingLoss",
           "HingeEmbeddingLoss", "CosineEmbeddingLoss", "TripletMarginLoss", "PoissonNLLLoss", "GaussianNLLLoss",
           "MultiMarginLoss"]

_REDUCTIONS = ("none", "mean", "sum")


class _Loss(Module):
    _reductions = _REDUCTIONS

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        F._legacy(size_average, reduce, self._reductions)
        if reduction not in self._reductions:
            raise ValueError(f"reduction must be one of {self._reductions}, got {reduction!r}")
        self.reduction = reduction


def _float_buffer(value):
    """A loss's weight buffer, or None. A Tensor or NumPy array keeps its float dtype; anything else (a
    list, a number) becomes an array by ``numconv.tensor``'s rules, so Python floats give float32, the
    default dtype; integers and booleans become float32."""
    if value is None:
        return None
    t = Tensor(value.numpy()) if isinstance(value, Tensor) else tensor(value)
    return t if t.dtype.kind == "f" else Tensor(t.numpy().astype(np.float32))


class _WeightedLoss(_Loss):
    """Keeps the per-class ``weight`` as a buffer (as PyTorch, so it appears in state_dict)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        weight = _float_buffer(weight)
        if weight is not None and weight.ndim != 1:
            raise ValueError(f"weight must be a 1-d array of per-class weights, got shape {weight.shape}")
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """``CrossEntropyLoss(weight=None, size_average=None, ignore_index=-100, reduce=None, reduction='mean',
    label_smoothing=0.0)``.

    input: logits (N, C) or (N, C, d1, ...); target: class indices (N, d1, ...) or probabilities
    of the input's shape. loss = -log softmax(input)[target], weighted and reduced.
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        shapes.real(label_smoothing, "label_smoothing", 0.0, 1.0)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """``NLLLoss(weight=None, size_average=None, ignore_index=-100, reduce=None, reduction='mean')``:
    -input[n, target[n]] for log-probabilities."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class MSELoss(_Loss):
    """``MSELoss(size_average=None, reduce=None, reduction='mean')``: (input - target)^2, reduced."""

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class KLDivLoss(_Loss):
    """``KLDivLoss(size_average=None, reduce=None, reduction='mean', log_target=False)``: ``F.kl_div`` of
    target from the log-probabilities input; reduction 'batchmean' (the divergence per sample) as well
    as 'none', 'mean' and 'sum'."""

    _reductions = _REDUCTIONS + ("batchmean",)

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = shapes.flag(log_target, "log_target")

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class L1Loss(_Loss):
    """``L1Loss(size_average=None, reduce=None, reduction='mean')``: |input - target|, reduced."""

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """``SmoothL1Loss(size_average=None, reduce=None, reduction='mean', beta=1.0)``: quadratic within beta of
    the target, linear beyond."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        shapes.real(beta, "beta", 0.0)
        self.beta = beta  # as given (PyTorch keeps an int an int)

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """``HuberLoss(reduction='mean', delta=1.0)``: 0.5 d^2 within delta of the target, delta (|d| - 0.5 delta)
    beyond."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        shapes.real(delta, "delta", 0.0, lo_open=True)
        self.delta = delta  # as given (PyTorch keeps an int an int)

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_Loss):
    """``BCELoss(weight=None, size_average=None, reduce=None, reduction='mean')``: binary cross-entropy of
    probabilities in [0, 1]; ``weight`` (broadcasting to the input) is a buffer, as in PyTorch."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _float_buffer(weight))

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """``BCEWithLogitsLoss(weight=None, size_average=None, reduce=None, reduction='mean', pos_weight=None)``:
    binary cross-entropy of sigmoid(input), computed stably from the logits; ``weight`` and ``pos_weight``
    are buffers."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _float_buffer(weight))
        self.register_buffer("pos_weight", _float_buffer(pos_weight))

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class SoftMarginLoss(_Loss):
    """``SoftMarginLoss(size_average=None, reduce=None, reduction='mean')``: log(1 + exp(-target * input)),
    reduced (``F.soft_margin_loss``)."""

    def forward(self, input, target):
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """``MultiLabelSoftMarginLoss(weight=None, size_average=None, reduce=None, reduction='mean')``: per sample,
    the mean over the classes of the weighted logistic losses (``F.multilabel_soft_margin_loss``);
    ``weight`` (C,) is a buffer."""

    def forward(self, input, target):
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """``MarginRankingLoss(margin=0.0, size_average=None, reduce=None, reduction='mean')``:
    max(0, -target * (input1 - input2) + margin), reduced; ``forward(input1, input2, target)``."""

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        shapes.real(margin, "margin")
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """``HingeEmbeddingLoss(margin=1.0, size_average=None, reduce=None, reduction='mean')``: input where target
    is 1, max(0, margin - input) where it is -1, reduced."""

    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        shapes.real(margin, "margin")
        self.margin = margin

    def forward(self, input, target):
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """``CosineEmbeddingLoss(margin=0.0, size_average=None, reduce=None, reduction='mean')``: 1 - cos where target
    is 1, max(0, cos - margin) where it is -1, reduced; ``forward(input1, input2, target)``."""

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        shapes.real(margin, "margin")
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """``TripletMarginLoss(margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None,
    reduction='mean')``: max(0, margin + d(anchor, positive) - d(anchor, negative)) with the p-norm
    distance, reduced; ``forward(anchor, positive, negative)``."""

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        shapes.real(margin, "margin", 0.0, lo_open=True)
        if not (isinstance(p, (float, np.floating)) and p == np.inf):
            shapes.real(p, "p", 0.0, lo_open=True)
        shapes.real(eps, "eps")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, shapes.flag(swap, "swap")

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                     swap=self.swap, reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """``TripletMarginWithDistanceLoss(*, distance_function=None, margin=1.0, swap=False, reduction='mean')``:
    the triplet loss with any distance (``F.triplet_margin_with_distance_loss``; default the pairwise
    2-norm); ``forward(anchor, positive, negative)``."""

    def __init__(self, *, distance_function=None, margin=1.0, swap=False, reduction="mean"):
        super().__init__(None, None, reduction)
        shapes.real(margin, "margin", 0.0, lo_open=True)
        if distance_function is not None and not callable(distance_function):
            raise TypeError(f"distance_function must be callable or None, got {type(distance_function).__name__}")
        self.distance_function, self.margin, self.swap = distance_function, margin, shapes.flag(swap, "swap")

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_with_distance_loss(anchor, positive, negative, distance_function=self.distance_function,
                                                   margin=self.margin, swap=self.swap, reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """``MultiLabelMarginLoss(size_average=None, reduce=None, reduction='mean')``: the multi-label hinge
    loss (``F.multilabel_margin_loss``); each target row lists classes up to its first -1."""

    def forward(self, input, target):
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class CTCLoss(_Loss):
    """``CTCLoss(blank=0, reduction='mean', zero_infinity=False)``: the connectionist temporal
    classification loss (``F.ctc_loss``) of (T, N, C) log-probabilities and unaligned target sequences;
    ``forward(log_probs, targets, input_lengths, target_lengths)``."""

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction=reduction)
        self.blank = shapes.integer(blank, "blank", 0)
        self.zero_infinity = shapes.flag(zero_infinity, "zero_infinity")

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=self.blank,
                          reduction=self.reduction, zero_infinity=self.zero_infinity)


class PoissonNLLLoss(_Loss):
    """``PoissonNLLLoss(log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction='mean')``:
    the Poisson negative log-likelihood of the target counts (``F.poisson_nll_loss``)."""

    def __init__(self, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        shapes.real(eps, "eps")
        self.log_input, self.full = shapes.flag(log_input, "log_input"), shapes.flag(full, "full")
        self.eps = eps

    def forward(self, log_input, target):  # PyTorch's name for the first argument
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full, eps=self.eps,
                                  reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """``GaussianNLLLoss(*, full=False, eps=1e-6, reduction='mean')``: the Gaussian negative log-likelihood of
    the target under mean input and variance var; ``forward(input, target, var)``."""

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction=reduction)
        shapes.real(eps, "eps")
        self.full, self.eps = shapes.flag(full, "full"), eps

    def forward(self, input, target, var):
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """``MultiMarginLoss(p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction='mean')``: the
    multi-class hinge loss (``F.multi_margin_loss``); ``weight`` (C,) is a buffer."""

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        if shapes.integer(p, "p") not in (1, 2):
            raise ValueError(f"p must be 1 or 2 (as in PyTorch), got {p}")
        shapes.real(margin, "margin")
        self.p, self.margin = p, margin

    def forward(self, input, target):
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin, weight=self.weight,
                                   reduction=self.reduction)
