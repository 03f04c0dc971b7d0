"""Scans and sorts along one axis over arrays: cumulative sums and products (and the exclusive and
reversed ones their gradients use), ``cumprod``'s gradient, and the stable sort; the kernels of
``kernels/{cpu,cuda}/scan.py`` (the CPU sorts with NumPy's stable argsort), on the arrays' device.
The axis is already a non-negative int; the kernels see the array as (outer, n, inner) around it."""
import numpy as np

from .. import dispatch, shapes
from ..kernels.lines import PROD, SUM  # noqa: F401 - the ops' names for ``cumulative``


def _lines(a, axis, dev):
    """(a C-contiguous on ``dev``, its (outer, n, inner) shape around ``axis``)."""
    shape = tuple(a.shape)
    return dispatch.contiguous(a, dev), (shapes.prod(shape[:axis]), shape[axis], shapes.prod(shape[axis + 1:]))


def cumulative(a, axis, op, reverse=False, exclusive=False):
    """Running sums (``op`` SUM) or products (PROD) of ``a`` along ``axis``, in a's dtype; ``reverse``
    from the end, ``exclusive`` leaving each element itself out."""
    dev = dispatch.backend(input=a)
    a, lines = _lines(a, axis, dev)
    out = dispatch.empty(tuple(a.shape), a.dtype, dev)
    if a.size:
        dispatch.kernels("scan", dev).cumulative(dispatch.view(out, lines, dev), dispatch.view(a, lines, dev),
                                                 op, reverse, exclusive)
    return out


def cumprod_backward(g, x, axis):
    """The gradient of cumprod(x) along ``axis``, given g (x's shape and dtype): exact where x holds zeros."""
    dev = dispatch.backend(grad_output=g, input=x)
    x, lines = _lines(x, axis, dev)
    g = dispatch.contiguous(g, dev)
    gx = dispatch.empty(tuple(x.shape), x.dtype, dev)
    if x.size:
        dispatch.kernels("scan", dev).cumprod_backward(*(dispatch.view(v, lines, dev) for v in (gx, g, x)))
    return gx


def sort(a, axis, descending=False):
    """(values, int64 indices) of the stable sort of ``a`` along ``axis``: ascending with NaN last, or
    ``descending`` with NaN first and equal values in their order, as PyTorch's ``sort(stable=True)``."""
    dev = dispatch.backend(input=a)
    if dev == dispatch.CPU:
        a = np.asarray(a)
        if descending:  # the ascending stable sort of the reversed line, reversed: ties keep their order, NaN first
            flipped = np.flip(a, axis)
            idx = np.flip(np.argsort(flipped, axis=axis, kind="stable"), axis)
            idx = a.shape[axis] - 1 - idx
        else:
            idx = np.argsort(a, axis=axis, kind="stable")
        idx = np.ascontiguousarray(idx, dtype=np.int64)
        return np.ascontiguousarray(np.take_along_axis(a, idx, axis)), idx
    a, lines = _lines(a, axis, dev)
    values = dispatch.empty(tuple(a.shape), a.dtype, dev)
    indices = dispatch.empty(tuple(a.shape), np.int64, dev)
    if a.size:
        dispatch.kernels("scan", dev).sort(dispatch.view(values, lines, dev), dispatch.view(indices, lines, dev),
                                           dispatch.view(a, lines, dev), descending)
    return values, indices
