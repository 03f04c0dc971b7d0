"""``Parameter``: a Tensor that a Module registers as one of its learnable weights."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """``Parameter(data, requires_grad=True)``: assigning one to a Module attribute registers it.

    ``data`` (a NumPy array, shared, not copied; or a Tensor, whose array is shared) keeps its
    float32/float64 dtype; Python floats and lists of them become float32 (integers are refused,
    as only floating-point tensors can require a gradient).
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty(0, dtype=np.float32)
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
