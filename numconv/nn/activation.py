"""Activations, as ``torch.nn``: ``ReLU``, ``LeakyReLU``, ``PReLU``, ``ELU``, ``CELU``, ``SELU``, ``GELU``,
``SiLU``, ``Mish``, ``Hardswish``, ``Hardsigmoid``, ``Hardtanh``, ``ReLU6``, ``Softplus``, ``Sigmoid``,
``Tanh``, ``Softmax``, ``LogSoftmax``, ``LogSigmoid``, ``Softsign``, ``Tanhshrink``, ``Threshold``,
``Hardshrink``, ``Softshrink``, ``GLU``, ``Softmin``, ``Softmax2d``.

``inplace=True`` writes the result into the input and returns it, as PyTorch's. It saves no
memory here: the result is computed out of place, then copied in (and autograd keeps a copy of
the input where the backward needs it).
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import shapes
from . import init
from ._utils import factory_dtype, positive_int
from .module import Module
from .parameter import Parameter

__all__ = ["ReLU", "LeakyReLU", "PReLU", "ELU", "CELU", "SELU", "GELU", "SiLU", "Mish", "Hardswish", "Hardsigmoid",
           "Hardtanh", "ReLU6", "Softplus", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "LogSigmoid", "Softsign",
           "Tanhshrink", "Threshold", "Hardshrink", "Softshrink", "GLU", "Softmin", "Softmax2d"]


def _inplace_repr(module, text=""):
    return ", ".join(p for p in (text, "inplace=True" if module.inplace else "") if p)


class _Stateless(Module):
    """An activation without parameters or settings: ``F.<_fn>(input)``."""

    _fn = "sigmoid"

    def forward(self, input):
        return getattr(F, self._fn)(input)


class _Elementwise(_Stateless):
    """An activation without parameters but ``inplace``: ``F.<_fn>(input, inplace)``."""

    _fn = "relu"

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = shapes.flag(inplace, "inplace")

    def forward(self, input):
        return getattr(F, self._fn)(input, self.inplace)

    def extra_repr(self):
        return _inplace_repr(self)


class ReLU(_Elementwise):
    """max(x, 0); ``inplace=True`` writes it into the input."""

    _fn = "relu"


class LeakyReLU(Module):
    """x where x > 0, else negative_slope * x."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = shapes.real(negative_slope, "negative_slope"), inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return _inplace_repr(self, f"negative_slope={self.negative_slope}")


class RReLU(Module):
    """The randomized leaky ReLU: in training each element at or below 0 takes a slope drawn from
    [lower, upper); in evaluation the slope (lower + upper) / 2 (``F.rrelu``)."""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower, self.upper = shapes.real(lower, "lower"), shapes.real(upper, "upper")
        if self.lower > self.upper:
            raise ValueError(f"RReLU: lower={lower} must be at most upper={upper}")
        self.inplace = inplace

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        return _inplace_repr(self, f"lower={self.lower}, upper={self.upper}")


class PReLU(Module):
    """x where x > 0, else a * x, with the slope ``a`` learned: one (``num_parameters=1``) or one per
    channel (``num_parameters=C``), each starting at ``init``."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = positive_int(num_parameters, "num_parameters")
        self.init = shapes.real(init, "init")
        self.weight = Parameter(np.full(self.num_parameters, self.init, dtype=factory_dtype(device, dtype)))

    def reset_parameters(self):
        init.constant_(self.weight, self.init)  # not weight.fill_: a leaf that requires grad refuses in-place ops

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """x where x > 0, else alpha * (exp(x) - 1)."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = shapes.real(alpha, "alpha"), inplace

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return _inplace_repr(self, f"alpha={self.alpha}")


class GELU(Module):
    """x * Phi(x), Phi the standard normal CDF; ``approximate='tanh'`` for the tanh approximation."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in F.GELU_APPROXIMATIONS:
            raise ValueError(f"approximate must be one of {F.GELU_APPROXIMATIONS}, got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(_Elementwise):
    """x * sigmoid(x)."""

    _fn = "silu"


class Mish(_Elementwise):
    """x * tanh(softplus(x))."""

    _fn = "mish"


class Hardswish(_Elementwise):
    """x * relu6(x + 3) / 6."""

    _fn = "hardswish"

    def extra_repr(self):
        return ""  # as torch's, whose repr leaves inplace out


class Hardsigmoid(_Elementwise):
    """relu6(x + 3) / 6."""

    _fn = "hardsigmoid"

    def extra_repr(self):
        return ""  # as torch's, whose repr leaves inplace out


class SELU(_Elementwise):
    """scale * elu(x, alpha) with the self-normalizing constants."""

    _fn = "selu"


class CELU(Module):
    """x if x > 0 else alpha * (exp(x / alpha) - 1)."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = shapes.real(alpha, "alpha")
        if self.alpha == 0:
            raise ValueError("alpha must not be 0 (celu divides by it)")
        self.inplace = shapes.flag(inplace, "inplace")

    def forward(self, input):
        return F.celu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return _inplace_repr(self, f"alpha={self.alpha}")


class Hardtanh(Module):
    """x clipped to [min_val, max_val]."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        self.min_val, self.max_val = shapes.real(min_val, "min_val"), shapes.real(max_val, "max_val")
        if self.min_val > self.max_val:
            raise ValueError(f"min_val must not exceed max_val, got min_val={min_val!r} and max_val={max_val!r}")
        self.inplace = inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return _inplace_repr(self, f"min_val={self.min_val}, max_val={self.max_val}")


class ReLU6(Hardtanh):
    """min(max(x, 0), 6)."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return _inplace_repr(self)


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta; x itself where beta * x > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = shapes.real(beta, "beta"), shapes.real(threshold, "threshold")
        if self.beta == 0:
            raise ValueError("beta must not be 0 (softplus divides by it)")

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Sigmoid(_Stateless):
    """1 / (1 + exp(-x))."""

    _fn = "sigmoid"


class Tanh(_Stateless):
    """tanh(x)."""

    _fn = "tanh"


def _softmax_dim(dim, ndim):
    """PyTorch's legacy implicit dimension for ``dim=None``: 0 for 0-, 1- and 3-d inputs, else 1."""
    if dim is not None:
        return dim
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """``Softmax(dim=None)``: exp(x_i) / sum_j exp(x_j) along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, _softmax_dim(self.dim, len(input.shape)))

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """``LogSoftmax(dim=None)``: x_i - log(sum_j exp(x_j)) along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.log_softmax(input, _softmax_dim(self.dim, len(input.shape)))

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSigmoid(_Stateless):
    """log(sigmoid(x)), stably."""

    _fn = "logsigmoid"


class Softsign(_Stateless):
    """x / (1 + |x|)."""

    _fn = "softsign"


class Tanhshrink(_Stateless):
    """x - tanh(x)."""

    _fn = "tanhshrink"


class Threshold(Module):
    """x where x > threshold, else value."""

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        shapes.real(threshold, "threshold"), shapes.real(value, "value")
        self.threshold, self.value = threshold, value  # as given: the repr shows them as PyTorch's does
        self.inplace = shapes.flag(inplace, "inplace")

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        return _inplace_repr(self, f"threshold={self.threshold}, value={self.value}")


class Hardshrink(Module):
    """x where |x| > lambd, else 0."""

    def __init__(self, lambd=0.5):
        super().__init__()
        shapes.real(lambd, "lambd")
        self.lambd = lambd

    def forward(self, input):
        return F.hardshrink(input, self.lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """x - lambd where x > lambd, x + lambd where x < -lambd, else 0 (lambd >= 0)."""

    def __init__(self, lambd=0.5):
        super().__init__(lambd)
        shapes.real(lambd, "lambd", 0.0)

    def forward(self, input):
        return F.softshrink(input, self.lambd)


class GLU(Module):
    """a * sigmoid(b), a and b the halves of the input along ``dim``."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = shapes.integer(dim, "dim")

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmin(Module):
    """``Softmin(dim=None)``: softmax(-x) along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmin(input, _softmax_dim(self.dim, len(input.shape)))

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax2d(Module):
    """Softmax over the channels at each location: input (N, C, H, W) or (C, H, W)."""

    def forward(self, input):
        ndim = len(input.shape)
        if ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected a 3-d or 4-d input ((C, H, W) or (N, C, H, W)), got {ndim}-d")
        return F.softmax(input, -3)
