"""Scans along one axis, CPU: cumulative sums and products (``cumsum``, ``cumprod``, and the exclusive
and reversed ones their gradients and ``prod``'s use) and ``cumprod``'s gradient. Arrays are viewed as
(outer, n, inner) with the axis in the middle; a task per line ``a[o, :, i]``, each walked in order by
the helpers of ``numconv.kernels.lines``, which the CUDA kernels share. Compiled without fastmath,
which could reassociate the running sum: the result is the one sequential order on both backends.
"""
from numba import prange

from . import exact_kernel, inline
from .. import lines

_cumulative_line = inline(lines.cumulative_line)
_cumprod_grad_line = inline(lines.cumprod_grad_line)


@exact_kernel
def cumulative(out, a, op, reverse, exclusive):
    """out[o, j, i] = a[o, 0, i] + ... + a[o, j, i] (``op`` lines.SUM) or their product (lines.PROD), in
    a's dtype; ``reverse`` from the line's end, ``exclusive`` without a[o, j, i] itself. out, a (outer, n, inner)."""
    outer, n, inner = a.shape
    for t in prange(outer * inner):
        _cumulative_line(out, a, t // inner, t % inner, op, reverse, exclusive)


@exact_kernel
def cumprod_backward(gx, g, x):
    """gx = the gradient of cumprod(x) along axis 1 given g, the output's gradient. gx, g, x (outer, n, inner)."""
    outer, n, inner = x.shape
    for t in prange(outer * inner):
        _cumprod_grad_line(gx, g, x, t // inner, t % inner)
