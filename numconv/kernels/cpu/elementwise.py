"""Elementwise kernels, CPU: the hottest activation, ReLU, forward and backward in one pass each
(NumPy takes two for the backward, a comparison then a product); the other activations, each
forward and backward in one pass (their formulas, written once for both backends, are in
``numconv.kernels.scalar``). Flat (P,) C-contiguous arrays; the rest of the elementwise math runs
in NumPy (``numconv.ops.math``).
"""
from numba import prange

from .. import scalar
from . import inline, kernel

_activation = inline(scalar.activation)
_activation_grad = inline(scalar.activation_grad)


@kernel
def relu_forward(out, x):
    """out = max(x, 0); NaN stays NaN."""
    for i in prange(x.size):
        v = x[i]
        out[i] = 0.0 if v <= 0.0 else v


@kernel
def relu_backward(out, g, y):
    """out = 0 where the forward's output y <= 0, else g (PyTorch's threshold_backward: a NaN output passes g)."""
    for i in prange(g.size):
        out[i] = 0.0 if y[i] <= 0.0 else g[i]


@kernel
def activation_forward(out, x, code, p0, p1):
    """out = f(x), f the activation ``code`` of ``numconv.kernels.scalar`` with parameters p0, p1."""
    for i in prange(x.size):
        out[i] = _activation(code, x[i], p0, p1)


@kernel
def activation_backward(out, g, x, code, p0, p1):
    """out = g * f'(x), f the activation ``code`` (the forward's input x, not its output)."""
    for i in prange(g.size):
        out[i] = _activation_grad(code, g[i], x[i], p0, p1)
