"""Resampling (``interpolate``) over arrays: each spatial axis in turn through one sparse-matrix
kernel, with the tables of ``numconv.shapes.resample_table``."""
import numpy as np

from .. import dispatch

_device_tables = {}  # id(table) -> (table, its arrays on the GPU); the tables are memoized per axis


def _on(table, dev):
    if dev == dispatch.CPU:
        return table
    hit = _device_tables.get(id(table))
    if hit is None or hit[0] is not table:
        if len(_device_tables) >= 256:
            _device_tables.clear()
        hit = _device_tables[id(table)] = (table, tuple(dispatch.to_device(t, dev) for t in table))
    return hit[1]


def resample_axes(x, tables):
    """``x`` (N, C, *spatial) with spatial axis d resampled by ``tables[d]`` (ptr, idx, wts) of an
    (out, in) matrix; the last axis first (PyTorch's order of the sums). None leaves an axis as it is."""
    dev = dispatch.backend(input=x)
    y = dispatch.contiguous(x, dev)
    for d in reversed(range(len(tables))):
        if tables[d] is None:
            continue
        ptr, idx, wts = _on(tables[d], dev)
        shape = tuple(y.shape)
        ax = 2 + d
        P, N, R = int(np.prod(shape[:ax])), shape[ax], int(np.prod(shape[ax + 1:]))
        M = ptr.shape[0] - 1
        out = dispatch.empty(shape[:ax] + (M,) + shape[ax + 1:], y.dtype, dev)
        dispatch.kernels("resample", dev).resample(dispatch.view(out, (P, M, R), dev), dispatch.view(y, (P, N, R), dev),
                                                    ptr, idx, wts)
        y = out
    return y
