"""Batch, group and layer normalization over arrays: the fused kernels of ``kernels/{cpu,cuda}/norm.py``,
on the device the arrays live on. The statistics are float64 arrays there (per channel, per
group), kept for the backward."""
import numpy as np

from .. import dispatch
from .. import shapes


def _view(a, dev):
    """(N, C, S): the spatial axes flattened (sizes spelled out, not -1: N may be 0)."""
    return dispatch.view(a, (a.shape[0], a.shape[1], shapes.prod(a.shape[2:])), dev)


def _optional(a, dtype, dev):
    """``a`` contiguous where the kernels run, or an empty placeholder for None (never read)."""
    return dispatch.placeholder(dtype, dev, (0,)) if a is None else dispatch.contiguous(a, dev)


def batch_norm_forward(x, weight, bias, running_mean, running_var, training, eps):
    """(y, mean, invstd): y = (x - mean) * invstd * weight + bias per channel (axis 1), with the
    batch's mean and biased variance when ``training``, else the running ones; mean and invstd are
    float64 (C,), kept for the backward."""
    dev = dispatch.backend(input=x, weight=weight, bias=bias, running_mean=running_mean, running_var=running_var)
    C = x.shape[1]
    mean, invstd = dispatch.empty((C,), np.float64, dev), dispatch.empty((C,), np.float64, dev)
    if not training:
        dispatch.kernels("norm", dev).batch_norm_eval_stats(mean, invstd, dispatch.contiguous(running_mean, dev),
                                                            dispatch.contiguous(running_var, dev), eps)
    return _forward(x, weight, bias, mean, invstd, training, eps, dev), mean, invstd


def channel_affine(x, weight, bias, mean, invstd):
    """y = (x - mean) * invstd * weight + bias per channel (axis 1), mean and invstd given (float64
    (C,)): batch normalization's evaluation pass. With mean 0 and invstd 1 it is the per-channel
    affine map of a group norm, in one pass; ``batch_norm_backward`` with training=False is its gradient."""
    dev = dispatch.backend(input=x, weight=weight, bias=bias, mean=mean)
    return _forward(x, weight, bias, mean, invstd, False, 0.0, dev)


def _forward(x, weight, bias, mean, invstd, training, eps, dev):
    x = dispatch.contiguous(x, dev)
    y = dispatch.empty(x.shape, x.dtype, dev)  # pooled on the CPU: a fresh array is a page fault per 4 KiB
    dispatch.kernels("norm", dev).batch_norm_forward(
        _view(y, dev), mean, invstd, _view(x, dev), _optional(weight, x.dtype, dev), _optional(bias, x.dtype, dev),
        weight is not None, bias is not None, training, eps)
    return y


def batch_norm_update_running(running_mean, running_var, mean, invstd, m, momentum, eps):
    """In place, each that is not None: r = (1 - momentum) * r + momentum * the batch's statistic of
    ``batch_norm_forward`` over m values per channel (the variance unbiased, as PyTorch keeps it)."""
    dev = dispatch.backend(running_mean=running_mean, running_var=running_var, mean=mean)
    k = dispatch.kernels("norm", dev)
    for running, variance in ((running_mean, False), (running_var, True)):
        if running is not None:
            k.batch_norm_update_running(running, mean, invstd, momentum, m, eps, variance)


def batch_norm_backward(g, x, mean, invstd, weight, training, need_x):
    """(gx or None, gweight, gbias) of ``batch_norm_forward`` for the output gradient ``g``."""
    dev = dispatch.backend(grad_output=g, input=x, weight=weight)
    g, x = dispatch.contiguous(g, dev), dispatch.contiguous(x, dev)
    C = x.shape[1]
    gx = dispatch.empty(x.shape, x.dtype, dev) if need_x else None
    gw, gb = dispatch.empty((C,), x.dtype, dev), dispatch.empty((C,), x.dtype, dev)
    k = dispatch.kernels("norm", dev)
    k.batch_norm_backward(_view(gx, dev) if need_x else dispatch.placeholder(x.dtype, dev, (0, 0, 0)), gw, gb,
                          _view(g, dev), _view(x, dev), mean, invstd, _optional(weight, x.dtype, dev),
                          weight is not None, training, need_x)
    return gx, gw, gb


GROUP_NORM_ROW = 4096  # layer and group norms over groups of at most this many values take the kernels below,
# and on the CPU longer groups of a group norm too where there are at least GROUP_NORM_TASKS of them per thread
# (a task per group keeps every thread busy, and a group's second and third pass find its values in the cache:
# 1.3-2.4x faster than batch norm's runs then the affine map on 2 threads)
GROUP_NORM_TASKS = 2


def layer_norm_forward(x, D, weight, bias, eps):
    """(y, mean, invstd): each run of D consecutive values of ``x`` (a row) normalized by its mean
    and biased variance, then y = xhat * weight + bias with weight and bias of D values (any shape)
    per position in the row; mean and invstd are float64 (rows,), kept for the backward."""
    return _norm_forward("layer_norm_forward", x, (x.size // D, D), x.size // D, D, weight, bias, eps)


def layer_norm_backward(g, x, D, mean, invstd, weight, need_x):
    """(gx or None, gweight, gbias) of ``layer_norm_forward`` for the output gradient ``g``; the
    parameter gradients have D values, shaped as the caller's parameters need."""
    return _norm_backward("layer_norm_backward", g, x, (x.size // D, D), D, mean, invstd, weight, need_x)


def group_norm_forward(x, G, weight, bias, eps):
    """(y, mean, invstd): ``x`` (N, C, *) normalized over each sample's groups of C / G channels (the
    mean and biased variance of their values), then y = xhat * weight[c] + bias[c] per channel;
    mean and invstd are float64 (N * G,), kept for the backward."""
    return _norm_forward("group_norm_forward", x, _group_shape(x, G), x.shape[0] * G, x.shape[1], weight, bias, eps)


def group_norm_backward(g, x, G, mean, invstd, weight, need_x):
    """(gx or None, gweight, gbias) of ``group_norm_forward`` for the output gradient ``g``."""
    return _norm_backward("group_norm_backward", g, x, _group_shape(x, G), x.shape[1], mean, invstd, weight, need_x)


def _group_shape(x, G):
    """(N, C, *) as (N, G, C / G, positions)."""
    N, C = x.shape[0], x.shape[1]
    return N, G, C // G, shapes.prod(x.shape[2:])


def _norm_forward(kernel, x, shape, groups, C, weight, bias, eps):
    """The forward ``kernel`` of kernels/*/norm.py on x seen as ``shape``, with ``groups`` statistics
    and C parameters."""
    dev = dispatch.backend(input=x, weight=weight, bias=bias)
    x = dispatch.contiguous(x, dev)
    mean, invstd = dispatch.empty((groups,), np.float64, dev), dispatch.empty((groups,), np.float64, dev)
    y = dispatch.empty(x.shape, x.dtype, dev)
    getattr(dispatch.kernels("norm", dev), kernel)(
        dispatch.view(y, shape, dev), mean, invstd, dispatch.view(x, shape, dev), _channels(weight, C, x.dtype, dev),
        _channels(bias, C, x.dtype, dev), weight is not None, bias is not None, eps)
    return y, mean, invstd


def _norm_backward(kernel, g, x, shape, C, mean, invstd, weight, need_x):
    dev = dispatch.backend(grad_output=g, input=x, weight=weight)
    g, x = dispatch.contiguous(g, dev), dispatch.contiguous(x, dev)
    gx = dispatch.empty(x.shape, x.dtype, dev) if need_x else None
    gw, gb = dispatch.empty((C,), x.dtype, dev), dispatch.empty((C,), x.dtype, dev)
    getattr(dispatch.kernels("norm", dev), kernel)(
        dispatch.view(gx, shape, dev) if need_x else dispatch.placeholder(x.dtype, dev, (0,) * len(shape)), gw, gb,
        dispatch.view(g, shape, dev), dispatch.view(x, shape, dev), mean, invstd, _channels(weight, C, x.dtype, dev),
        weight is not None, need_x)
    return gx, gw, gb


def _channels(a, C, dtype, dev):
    """A parameter seen as (C,), or an empty placeholder for None (never read)."""
    return dispatch.placeholder(dtype, dev, (0,)) if a is None else dispatch.view(dispatch.contiguous(a, dev), (C,), dev)
