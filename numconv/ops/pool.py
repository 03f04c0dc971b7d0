"""Pooling and unpooling over arrays (batched n-d layout, window tables from ``shapes``)."""
from __future__ import annotations

import numpy as np

from .. import dispatch
from .. import shapes
from ..shapes import PoolSpec


def _tables(spec: PoolSpec, dev):
    """The window tables (first, count, div, cover_first, cover_count) where the kernels run (on the
    GPU copied once per spec and kept)."""
    return dispatch.kept_on_device(spec, (spec.first, spec.count, spec.div, spec.cover_first, spec.cover_count), dev)


def max_pool_forward(x, spec: PoolSpec, indices: bool = True):
    """(values, indices); indices are int64 flat positions in each input plane, or None when not
    asked for (the kernel then writes the values alone)."""
    dev = dispatch.backend(input=x)
    x5 = dispatch.view(dispatch.contiguous(x, dev), spec.x_shape, dev)
    y = dispatch.empty(spec.y_nd, x5.dtype, dev)
    idx = dispatch.empty(spec.y_nd, np.int64, dev) if indices else None
    idx5 = dispatch.view(idx, spec.y_shape, dev) if indices else dispatch.placeholder(np.int64, dev, (0,) * 5)
    first, count = _tables(spec, dev)[:2]
    dispatch.kernels("pool", dev).max_pool_forward(dispatch.view(y, spec.y_shape, dev), idx5, x5, first, count, spec.step)
    return y, idx


def max_pool_backward(gy, indices, spec: PoolSpec, windowed: bool = True):
    """Route each output gradient to the input position its max came from (summing repeats).
    ``windowed``: every index names a tap of its own window, as ``max_pool_forward``'s do
    (``check_indices`` tells); on the GPU that allows a gather, one thread per input element.
    Other indices take the scatter (one thread per plane)."""
    dev = dispatch.backend(grad_output=gy, indices=indices)
    if dev == dispatch.CUDA and not windowed:
        return _scatter(gy, indices, spec.x_shape, spec.x_nd, accumulate=True)
    gy5 = dispatch.view(dispatch.contiguous(gy, dev), spec.y_shape, dev)
    idx5 = dispatch.view(dispatch.contiguous(indices, dev), spec.y_shape, dev)
    gx = dispatch.empty(spec.x_nd, gy5.dtype, dev)
    cover_first, cover_count = _tables(spec, dev)[3:]
    dispatch.kernels("pool", dev).max_pool_backward(dispatch.view(gx, spec.x_shape, dev), gy5, idx5, cover_first, cover_count)
    return gx


def check_indices(indices, plane_shape, spec: PoolSpec | None = None):
    """(smallest, largest, outside) over integer ``indices`` of shape ``spec.y_shape`` (or any
    shape without a ``spec``), for the checks in ``numconv.functional``; ``plane_shape`` (D, H, W)
    is the plane they index. One kernel pass where the indices live (no copy to the host).
    ``outside`` counts the in-plane indices that are not a tap of their own window; it is counted
    only on the GPU, where the gather in ``max_pool_backward`` needs it, and with a ``spec``; else
    it is None."""
    dev = dispatch.backend(indices=indices)
    idx = dispatch.contiguous(indices, dev)
    windowed = spec is not None and dev == dispatch.CUDA
    plane_shape = (1,) * (3 - len(plane_shape)) + tuple(plane_shape)
    if spec is None:
        idx5, step = dispatch.view(idx, (1, 1, 1, 1, idx.size), dev), (1, 1, 1)
        first = count = _unit_table(dev)
    else:
        idx5, step, (first, count) = dispatch.view(idx, spec.y_shape, dev), spec.step, _tables(spec, dev)[:2]
    info = np.iinfo(np.int64)
    found = dispatch.to_device(np.array([info.max, info.min, 0], np.int64), dev)
    dispatch.kernels("pool", dev).check_indices(found, idx5, first, count, step, plane_shape, windowed)
    lo, hi, outside = (int(v) for v in dispatch.to_host(found))
    return lo, hi, (outside if windowed else None)


_unit_tables = {}


def _unit_table(dev):
    """A (3, 1) window table for ``check_indices`` without windows (never read), kept per device."""
    if dev not in _unit_tables:
        _unit_tables[dev] = dispatch.to_device(np.zeros((3, 1), np.int64), dev)
    return _unit_tables[dev]


def avg_pool_forward(x, spec: PoolSpec, override: float = 0.0):
    dev = dispatch.backend(input=x)
    x5 = dispatch.view(dispatch.contiguous(x, dev), spec.x_shape, dev)
    y = dispatch.empty(spec.y_nd, x5.dtype, dev)
    first, count, div = _tables(spec, dev)[:3]
    dispatch.kernels("pool", dev).avg_pool_forward(dispatch.view(y, spec.y_shape, dev), x5, first, count, spec.step, div, override)
    return y


def avg_pool_backward(gy, spec: PoolSpec, override: float = 0.0):
    dev = dispatch.backend(grad_output=gy)
    gy5 = dispatch.view(dispatch.contiguous(gy, dev), spec.y_shape, dev)
    gx = dispatch.empty(spec.x_nd, gy5.dtype, dev)
    first, count, div, cover_first, cover_count = _tables(spec, dev)
    dispatch.kernels("pool", dev).avg_pool_backward(dispatch.view(gx, spec.x_shape, dev), gy5, first, count, spec.step, div,
                                                    override, cover_first, cover_count)
    return gx


def _scatter(src, indices, out_shape5, out_nd, accumulate):
    dev = dispatch.backend(input=src, indices=indices)
    n, c = out_shape5[:2]
    k = shapes.prod(src.shape[2:])  # sizes spelled out, not -1: an empty batch has no size to infer
    src = dispatch.view(dispatch.contiguous(src, dev), (n, c, k), dev)
    idx = dispatch.view(dispatch.contiguous(indices, dev), (n, c, k), dev)
    out = dispatch.empty(out_nd, src.dtype, dev)
    dispatch.kernels("pool", dev).scatter_plane(dispatch.view(out, (n, c, shapes.prod(out_shape5[2:])), dev), src, idx,
                                                accumulate)
    return out


def max_unpool_forward(x, indices, out_nd):
    """Place each value at its index in a zero plane of spatial shape ``out_nd[2:]``."""
    out5 = tuple(out_nd[:2]) + (1,) * (5 - len(out_nd)) + tuple(out_nd[2:])
    return _scatter(x, indices, out5, tuple(out_nd), accumulate=False)


def max_unpool_backward(gy, indices):
    """dL/dx[p] = dL/dy at the position ``indices[p]`` named (a gather)."""
    dev = dispatch.backend(grad_output=gy, indices=indices)
    n, c = indices.shape[:2]
    gy = dispatch.view(dispatch.contiguous(gy, dev), (n, c, shapes.prod(gy.shape[2:])), dev)
    idx = dispatch.view(dispatch.contiguous(indices, dev), (n, c, shapes.prod(indices.shape[2:])), dev)
    gx = dispatch.empty(tuple(indices.shape), gy.dtype, dev)
    dispatch.kernels("pool", dev).gather_plane(dispatch.view(gx, idx.shape, dev), gy, idx)
    return gx


def fractional_max_pool_forward(x, starts, kernel, y_nd, indices: bool = True):
    """(values, int64 indices or None) of fractional max pooling: ``starts`` (N, C, 3, O) from
    ``shapes.fractional_starts`` (a host array, copied where ``x`` lives), ``kernel`` (kd, kh, kw),
    ``y_nd`` the batched output shape."""
    dev = dispatch.backend(input=x)
    x5 = dispatch.view(dispatch.contiguous(x, dev), _as5(x.shape), dev)
    y_shape = _as5(y_nd)
    y = dispatch.empty(tuple(y_nd), x5.dtype, dev)
    idx = dispatch.empty(tuple(y_nd), np.int64, dev) if indices else None
    idx5 = dispatch.view(idx, y_shape, dev) if indices else dispatch.placeholder(np.int64, dev, (0,) * 5)
    dispatch.kernels("pool", dev).fractional_max_pool_forward(dispatch.view(y, y_shape, dev), idx5, x5,
                                                              dispatch.to_device(starts, dev), *kernel)
    return y, idx


def fractional_max_pool_backward(gy, indices, x_nd):
    """Each output gradient to the input position its max came from, summed (one pass per plane in
    output order: deterministic). The windows are each plane's own, so this is the indices' scatter."""
    return _scatter(gy, indices, _as5(x_nd), tuple(x_nd), accumulate=True)


def _as5(shape):
    """A batched (N, C, *spatial) shape as (N, C, D, H, W)."""
    return tuple(shape[:2]) + shapes.to3(shape[2:], 1)
