"""``Embedding``, as ``torch.nn``: a table of learned vectors looked up by integer index."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import shapes
from ..autograd import no_grad
from ..tensor import Tensor
from . import init
from ._utils import factory_dtype
from .module import Module
from .parameter import Parameter

__all__ = ["Embedding"]


class Embedding(Module):
    """``Embedding(num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
    scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False)``: ``F.embedding`` with a
    weight (num_embeddings, embedding_dim) drawn from N(0, 1), padding_idx's row zero."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = shapes.integer(num_embeddings, "num_embeddings", 0)
        self.embedding_dim = shapes.integer(embedding_dim, "embedding_dim", 0)
        if padding_idx is not None:
            padding_idx = shapes.integer(padding_idx, "padding_idx")
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"padding_idx must be in [{-num_embeddings}, {num_embeddings}), got {padding_idx}")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        self.max_norm = None if max_norm is None else shapes.real(max_norm, "max_norm", 0.0)
        F._norm_type(norm_type)
        self.norm_type = norm_type  # as given, so that repr shows it as PyTorch's does
        self.scale_grad_by_freq = shapes.flag(scale_grad_by_freq, "scale_grad_by_freq")
        if shapes.flag(sparse, "sparse"):
            raise ValueError("sparse=True: numconv's gradients are dense arrays; pass sparse=False")
        self.sparse = False
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is None:
            self.weight = Parameter(np.empty(shape, dtype=factory_dtype(device, dtype)), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            data = _weight.data if isinstance(_weight, Tensor) else np.asarray(_weight)
            if tuple(data.shape) != shape:
                raise ValueError(f"_weight must have shape {shape}, got {tuple(data.shape)}")
            self.weight = Parameter(data, requires_grad=not _freeze)

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        """An Embedding whose weight is ``embeddings`` (2-d), frozen unless ``freeze=False``."""
        shape = tuple(embeddings.shape)
        if len(shape) != 2:
            raise ValueError(f"embeddings must be 2-d (num_embeddings, embedding_dim), got shape {shape}")
        return cls(shape[0], shape[1], padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s
