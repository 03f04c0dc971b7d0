"""Helpers shared by the model definitions."""
from __future__ import annotations

import numbers

import numpy as np


def flatten(x):
    """(N, *rest) -> (N, prod(rest)), as ``torch.flatten(x, 1)``."""
    n = 1
    for s in x.shape[1:]:
        n *= int(s)
    return x.reshape((x.shape[0], n))


def positive_int(value, name, model):
    """``value`` as an int when it is a positive integer (not a bool), else a ValueError naming
    ``model``'s argument ``name`` and the value, before any layer is built."""
    if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)) or value < 1:
        raise ValueError(f"{model}: {name} must be a positive int, got {value!r}")
    return int(value)


def probability(value, name, model):
    """``value`` as a float in [0, 1] (a dropout probability); else a TypeError (not a number) or a
    ValueError (out of range) naming ``model``'s argument."""
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{model}: {name} must be a probability (a number between 0 and 1), got {value!r}")
    if not 0.0 <= value <= 1.0:  # NaN too
        raise ValueError(f"{model}: {name} must be a probability between 0 and 1, got {value!r}")
    return float(value)


def no_weights(weights, model):
    """torchvision's ``weights=`` argument: numconv ships no pretrained weights, so only None is accepted."""
    if weights is not None:
        raise ValueError(
            f"{model}: weights={weights!r}, but numconv ships no pretrained weights; pass weights=None and load "
            "torchvision's with model.load_state_dict({k: v.numpy() for k, v in tv_model.state_dict().items()})"
        )
