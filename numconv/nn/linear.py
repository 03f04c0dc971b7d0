"""``Linear``, ``Flatten`` and ``Identity``, as ``torch.nn``."""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from .. import shapes
from ..tensor import Tensor
from . import init
from ._utils import factory_dtype, positive_int
from .module import Module
from .parameter import Parameter

__all__ = ["Linear", "Bilinear", "Flatten", "Identity"]


def _weight_and_bias(module, weight_shape, bias, dt):
    """``module.weight`` of ``weight_shape`` and ``module.bias`` (out_features,) (or None) as Parameters of
    dtype ``dt``, then ``module.reset_parameters()`` fills them."""
    module.weight = Parameter(np.empty(weight_shape, dtype=dt))
    if bias:
        module.bias = Parameter(np.empty(weight_shape[0], dtype=dt))
    else:
        module.register_parameter("bias", None)
    module.reset_parameters()


class Linear(Module):
    """``Linear(in_features, out_features, bias=True)``: y = x W^T + b over the last dimension.

    weight (out_features, in_features), bias (out_features,); input (*, in_features) -> (*, out_features).
    Init as PyTorch: weight ~ kaiming_uniform_(a=sqrt(5)), bias ~ U(-1/sqrt(in_features), 1/sqrt(in_features)).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")
        _weight_and_bias(self, (out_features, in_features), bias, factory_dtype(device, dtype))

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """``Bilinear(in1_features, in2_features, out_features, bias=True)``: y = x1^T A x2 + b per output
    (``F.bilinear``). weight (out, in1, in2) and bias (out,) ~ U(-1/sqrt(in1), 1/sqrt(in1)), as PyTorch's."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in1_features = positive_int(in1_features, "in1_features")
        self.in2_features = positive_int(in2_features, "in2_features")
        self.out_features = positive_int(out_features, "out_features")
        _weight_and_bias(self, (out_features, in1_features, in2_features), bias, factory_dtype(device, dtype))

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.in1_features)
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Flatten(Module):
    """``Flatten(start_dim=1, end_dim=-1)``: merge dimensions start_dim..end_dim into one."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = shapes.integer(start_dim, "start_dim"), shapes.integer(end_dim, "end_dim")

    def forward(self, input):
        shape = tuple(input.shape)
        n = len(shape)
        start = self.start_dim + n if self.start_dim < 0 else self.start_dim
        end = self.end_dim + n if self.end_dim < 0 else self.end_dim
        if n == 0:
            return input.reshape((1,))
        if not (0 <= start < n and 0 <= end < n):
            raise IndexError(f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) is out of range for a "
                             f"{n}-d input of shape {shape}")
        if start > end:
            raise ValueError(f"Flatten: start_dim={self.start_dim} comes after end_dim={self.end_dim} for shape {shape}")
        merged = int(np.prod(shape[start:end + 1]))
        return input.reshape(shape[:start] + (merged,) + shape[end + 1:])

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """``Unflatten(dim, unflattened_size)``: split dimension ``dim`` into ``unflattened_size`` (a tuple of
    ints, one of them may be -1), as ``torch.nn.Unflatten``: a decoder's way back from a flat vector."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)) or not all(shapes._is_int(k) for k in unflattened_size):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r}")
        self.dim, self.unflattened_size = shapes.integer(dim, "dim"), tuple(int(k) for k in unflattened_size)

    def forward(self, input):
        if isinstance(input, Tensor):
            return input.unflatten(self.dim, self.unflattened_size)
        return Tensor(input).unflatten(self.dim, self.unflattened_size).data  # an array in, an array (a view) out

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Identity(Module):
    """Returns its input; accepts (and ignores) any constructor arguments, as PyTorch's."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input
