"""Padding over arrays in every mode, through per-dimension source-index tables."""
import numpy as np

from .. import dispatch
from ..shapes import pad_tables


def _plan(shape, pad, mode):
    tables, outs = pad_tables(shape, pad, mode)
    npad = len(tables)
    unit = np.zeros(1, np.int64)
    tables = [unit] * (3 - npad) + tables
    lead = shape[: len(shape) - npad]
    inner = (1,) * (3 - npad) + tuple(shape[len(shape) - npad:])
    out_inner = (1,) * (3 - npad) + outs
    P = int(np.prod(lead)) if lead else 1
    return tables, (P,) + inner, (P,) + out_inner, tuple(lead) + outs


def pad_forward(x, pad, mode="constant", value=0.0):
    dev = dispatch.backend(input=x)
    tables, in4, out4, out_shape = _plan(tuple(x.shape), pad, mode)
    x4 = dispatch.view(dispatch.contiguous(x, dev), in4, dev)
    y = dispatch.empty(out_shape, x4.dtype, dev)
    t = [dispatch.to_device(a, dev) for a in tables]
    dispatch.kernels("pad", dev).pad_forward(dispatch.view(y, out4, dev), x4, t[0], t[1], t[2], float(value))
    return y


def pad_backward(gy, x_shape, pad, mode="constant"):
    dev = dispatch.backend(grad_output=gy)
    tables, in4, out4, out_shape = _plan(tuple(x_shape), pad, mode)
    if tuple(gy.shape) != out_shape:
        raise ValueError(f"grad_output must have the padded shape {out_shape}, got {tuple(gy.shape)}")
    gy4 = dispatch.view(dispatch.contiguous(gy, dev), out4, dev)
    gx = dispatch.empty(tuple(x_shape), gy4.dtype, dev)
    t = [dispatch.to_device(a, dev) for a in tables]
    dispatch.kernels("pad", dev).pad_backward(dispatch.view(gx, in4, dev), gy4, t[0], t[1], t[2])
    return gx
