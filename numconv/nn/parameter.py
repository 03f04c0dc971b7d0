"""``Parameter``: a Tensor that a Module registers as one of its learnable weights."""
from __future__ import annotations

import copy

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

    def __deepcopy__(self, memo):
        """A new Parameter of the same class with a copy of the values and the same ``requires_grad``;
        ``.grad`` and gradient hooks are not copied, as PyTorch's ``Parameter.__deepcopy__``
        (so ``copy.deepcopy(model)`` starts with no gradients)."""
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(copy.deepcopy(self.data, memo), self.requires_grad)
        memo[id(self)] = result
        return result

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
