"""Helpers shared by the model definitions."""
from __future__ import annotations


def flatten(x):
    """(N, *rest) -> (N, prod(rest)), as ``torch.flatten(x, 1)``."""
    n = 1
    for s in x.shape[1:]:
        n *= int(s)
    return x.reshape((x.shape[0], n))
