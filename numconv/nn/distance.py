"""Distances, as ``torch.nn``: ``CosineSimilarity`` and ``PairwiseDistance``."""
from __future__ import annotations

from .. import functional as F
from .. import shapes
from .module import Module

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(Module):
    """sum(x1 * x2) / (max(||x1||, eps) max(||x2||, eps)) along ``dim``, which the result drops."""

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = shapes.integer(dim, "dim"), shapes.real(eps, "eps")

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p over the last dimension (kept at size 1 with ``keepdim``)."""

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps = F._norm_order(p), shapes.real(eps, "eps")  # ``norm``: PyTorch's attribute name
        self.keepdim = shapes.flag(keepdim, "keepdim")

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
