"""Batch normalization over arrays, CPU: the fused kernels of ``kernels/cpu/norm.py``.

(CUDA arrays take the composite of ``ops.math`` in ``functional._BatchNorm``.)
"""
import numpy as np

from .. import dispatch


def _view(a):
    """(N, C, S): the spatial axes flattened."""
    return a.reshape(a.shape[0], a.shape[1], int(np.prod(a.shape[2:])))  # not -1: N may be 0


def batch_norm_forward(x, weight, bias, running_mean, running_var, training, eps):
    """(y, mean, invstd): y = (x - mean) * invstd * weight + bias per channel (axis 1), with the
    batch's mean and biased variance when ``training``, else the running ones; mean and invstd are
    float64 (C,), kept for the backward."""
    x = np.ascontiguousarray(x)
    C = x.shape[1]
    y = dispatch.host_empty(x.shape, x.dtype)  # pooled: a fresh activation-sized array is a page fault per 4 KiB
    if training:
        mean, invstd = np.empty(C), np.empty(C)
    else:
        mean = np.asarray(running_mean, np.float64)
        invstd = 1.0 / np.sqrt(np.asarray(running_var, np.float64) + eps)
    w = np.empty(0, x.dtype) if weight is None else np.ascontiguousarray(weight)
    b = np.empty(0, x.dtype) if bias is None else np.ascontiguousarray(bias)
    k = dispatch.kernels("norm", dispatch.CPU)
    k.batch_norm_forward(_view(y), mean, invstd, _view(x), w, b, weight is not None, bias is not None, training, eps)
    return y, mean, invstd


def batch_norm_backward(g, x, mean, invstd, weight, training, need_x):
    """(gx or None, gweight, gbias) of ``batch_norm_forward`` for the output gradient ``g``."""
    g = np.ascontiguousarray(g)
    C = x.shape[1]
    gx = dispatch.host_empty(x.shape, x.dtype) if need_x else np.empty((1, C, 1), x.dtype)
    gw, gb = np.empty(C, x.dtype), np.empty(C, x.dtype)
    w = np.empty(0, x.dtype) if weight is None else np.ascontiguousarray(weight)
    k = dispatch.kernels("norm", dispatch.CPU)
    k.batch_norm_backward(_view(gx) if need_x else gx, gw, gb, _view(g), _view(x), mean, invstd, w,
                          weight is not None, training, need_x)
    return (gx if need_x else None), gw, gb
