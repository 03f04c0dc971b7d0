"""Scans and sorts along one axis, CUDA: cumulative sums and products and ``cumprod``'s gradient,
one thread per line ``a[o, :, i]`` of the (outer, n, inner) view, each walking its line in order
with the helpers of ``numconv.kernels.lines`` (the CPU kernels' own), so the two backends agree bit
for bit; and the stable sort, one thread per element, which counts the elements of its line that
precede it and writes itself there: O(n) work per element and no two threads writing one slot,
so no atomics and the same result every run (the CPU sorts with NumPy's stable argsort).
"""
from numba import cuda

from .. import lines, scalar
from . import jit, launch

_cumulative_line = cuda.jit(device=True)(lines.cumulative_line)
_cumprod_grad_line = cuda.jit(device=True)(lines.cumprod_grad_line)
_precedes = cuda.jit(device=True)(lines.precedes)
_sorted_position = cuda.jit(device=True)(scalar.with_primitives(lines.sorted_position, precedes=_precedes))


def cumulative(out, a, op, reverse, exclusive):
    """out[o, j, i] = a[o, 0, i] + ... + a[o, j, i] (``op`` lines.SUM) or their product (lines.PROD), in
    a's dtype; ``reverse`` from the line's end, ``exclusive`` without a[o, j, i] itself. out, a (outer, n, inner)."""
    outer, n, inner = a.shape
    launch(_cumulative, outer * inner, out, a, op, reverse, exclusive)


@jit
def _cumulative(out, a, op, reverse, exclusive):
    t = cuda.grid(1)
    inner = a.shape[2]
    if t < a.shape[0] * inner:
        _cumulative_line(out, a, t // inner, t % inner, op, reverse, exclusive)


def cumprod_backward(gx, g, x):
    """gx = the gradient of cumprod(x) along axis 1 given g, the output's gradient. gx, g, x (outer, n, inner)."""
    outer, n, inner = x.shape
    launch(_cumprod_backward, outer * inner, gx, g, x)


@jit
def _cumprod_backward(gx, g, x):
    t = cuda.grid(1)
    inner = x.shape[2]
    if t < x.shape[0] * inner:
        _cumprod_grad_line(gx, g, x, t // inner, t % inner)


def sort(values, indices, a, descending):
    """values[o, r, i] = a[o, j, i] and indices[o, r, i] = j, r the position of element j in the stable
    sort of its line (``lines.precedes``: NaN last ascending, first descending). All (outer, n, inner)."""
    launch(_sort, a.size, values, indices, a, descending)


@jit
def _sort(values, indices, a, descending):
    t = cuda.grid(1)
    n, inner = a.shape[1], a.shape[2]
    if t < a.shape[0] * n * inner:
        o, j, i = t // (n * inner), (t // inner) % n, t % inner
        r = _sorted_position(a, o, j, i, descending)
        values[o, r, i] = a[o, j, i]
        indices[o, r, i] = j
