"""Resampling (``interpolate``) over arrays: each spatial axis in turn through one sparse-matrix
kernel, with the tables of ``numconv.shapes.resample_table``."""
import numpy as np

from .. import dispatch


def resample_axes(x, tables):
    """``x`` (N, C, *spatial) with spatial axis d resampled by ``tables[d]`` (ptr, idx, wts) of an
    (out, in) matrix; the last axis first (PyTorch's order of the sums). None leaves an axis as it is."""
    dev = dispatch.backend(input=x)
    y = dispatch.contiguous(x, dev)
    for d in reversed(range(len(tables))):
        if tables[d] is None:
            continue
        ptr, idx, wts = dispatch.kept_on_device(tables[d], tables[d], dev)
        shape = tuple(y.shape)
        ax = 2 + d
        P, N, R = int(np.prod(shape[:ax])), shape[ax], int(np.prod(shape[ax + 1:]))
        M = ptr.shape[0] - 1
        out = dispatch.empty(shape[:ax] + (M,) + shape[ax + 1:], y.dtype, dev)
        dispatch.kernels("resample", dev).resample(dispatch.view(out, (P, M, R), dev), dispatch.view(y, (P, N, R), dev),
                                                    ptr, idx, wts)
        y = out
    return y
