"""Small argument checks shared by the layers."""
from __future__ import annotations

import numbers

import numpy as np

from .module import _check_device


def positive_int(value, name):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def factory_dtype(device=None, dtype=None):
    """The dtype new parameters get (float32 unless float64 is asked for); only the CPU exists."""
    if device is not None:
        _check_device(device)
    dt = np.dtype(np.float32 if dtype is None else dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def probability(p, name="p"):
    if not isinstance(p, numbers.Real) or isinstance(p, (bool, np.bool_)):
        raise TypeError(f"{name} must be a probability (a number between 0 and 1), got {p!r} ({type(p).__name__})")
    if not 0.0 <= p <= 1.0:  # NaN too
        raise ValueError(f"{name} must be a probability between 0 and 1, got {p!r}")
    return float(p)
