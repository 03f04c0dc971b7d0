"""Elementwise kernels, CPU: the hottest activation, ReLU, forward and backward in one pass each
(NumPy takes two for the backward, a comparison then a product), and the error function, which
NumPy lacks (GELU's exact form). Flat (P,) C-contiguous arrays; the rest of the elementwise math
runs in NumPy (``numconv.ops.math``).
"""
import math

from numba import prange

from . import kernel


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
def erf(out, x):
    """out = erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt."""
    for i in prange(x.size):
        out[i] = math.erf(x[i])
