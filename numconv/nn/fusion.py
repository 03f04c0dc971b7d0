"""A convolution (or linear layer) and the batch norm after it, fused into one layer for inference, as
``torch.nn.utils.fusion``: in evaluation a batch norm is the affine map
y = (x - running_mean) / sqrt(running_var + eps) * weight + bias per channel, so scaling each output
channel's filter by s = weight / sqrt(running_var + eps) and setting the bias to
(bias - running_mean) * s + bn.bias gives the same outputs with one layer less.

    model.eval()
    fused = nn.utils.fuse_conv_bn_eval(model.conv1, model.bn1)   # a new Conv2d; model unchanged
"""
from __future__ import annotations

import copy

from ..autograd import no_grad
from ..tensor import Tensor
from .parameter import Parameter


def _check_eval(layer, bn, what):
    if layer.training or bn.training:
        raise ValueError(f"{what}: fusing is for evaluation: call .eval() on both the layer and the batch norm "
                         f"(training: layer {layer.training}, batch norm {bn.training})")
    if getattr(bn, "running_mean", None) is None or getattr(bn, "running_var", None) is None:
        raise ValueError(f"{what}: the batch norm keeps no running statistics (track_running_stats=False): it "
                         "normalizes by each batch's own, which no fixed layer can do")


def _fused(w2, b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, what):
    """(weight, bias) Tensors: ``w2`` (out, rest), the layer's weight with its output channels first,
    each row scaled by the batch norm's s; the bias (b, or 0) moved as the batch norm moves it."""
    rm, rv = (t if isinstance(t, Tensor) else Tensor(t) for t in (bn_rm, bn_rv))
    if w2.shape[0] != rm.shape[0]:
        raise ValueError(f"{what}: the layer has {w2.shape[0]} output channels, the batch norm {rm.shape[0]}")
    with no_grad():
        scale = (rv + float(bn_eps)).rsqrt()
        if bn_w is not None:
            scale = scale * bn_w
        bias = ((b if b is not None else rm * 0.0) - rm) * scale
        if bn_b is not None:
            bias = bias + bn_b
        return w2 * scale.reshape(-1, 1), bias


def _parameters(weight, bias, w, b):
    """The fused weight and bias as Parameters of the layer's dtypes, requiring grad as the layer's did."""
    b_dtype, b_grad = (b.dtype, b.requires_grad) if b is not None else (w.dtype, w.requires_grad)
    return Parameter(weight.astype(w.dtype), w.requires_grad), Parameter(bias.astype(b_dtype), b_grad)


def _tensor(a):
    return a if a is None or isinstance(a, Tensor) else Tensor(a)


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False, groups=1):
    """(weight, bias) Parameters of the convolution that equals the given one followed by a batch norm in
    evaluation, as ``torch.nn.utils.fuse_conv_bn_weights``: conv_w (out, in/groups, *k), or with
    ``transpose`` a transposed convolution's (in, out/groups, *k) (``groups`` beyond PyTorch's
    arguments, which take one group there); conv_b and the batch norm's weight and bias may be None."""
    w, b = _tensor(conv_w), _tensor(conv_b)
    if not transpose:
        weight, bias = _fused(w.reshape(w.shape[0], -1), b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, "fuse_conv_bn_weights")
        return _parameters(weight.reshape(*w.shape), bias, w, b)
    cin, per = w.shape[0], w.shape[1]  # output channel g * per + j is column j of group g's rows
    if cin % groups:
        raise ValueError(f"fuse_conv_bn_weights: groups={groups} does not divide the weight's {cin} input channels")
    by_output = w.reshape(groups, cin // groups, per, -1).permute(0, 2, 1, 3).reshape(groups * per, -1)
    weight, bias = _fused(by_output, b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, "fuse_conv_bn_weights")
    weight = weight.reshape(groups, per, cin // groups, -1).permute(0, 2, 1, 3).reshape(*w.shape)
    return _parameters(weight, bias, w, b)


def fuse_conv_bn_eval(conv, bn, transpose=False):
    """A new convolution equal to ``conv`` followed by ``bn``, both in eval mode, as
    ``torch.nn.utils.fuse_conv_bn_eval`` (``conv`` itself is left as it was). A transposed convolution
    (``transpose=True``, or found from the layer) may have groups."""
    _check_eval(conv, bn, "fuse_conv_bn_eval")
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps,
                                                    bn.weight, bn.bias, transpose or getattr(conv, "_transposed", False),
                                                    conv.groups)
    return fused


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """(weight, bias) Parameters of the linear layer that equals the given one followed by a batch norm
    (over its out_features) in evaluation, as ``torch.nn.utils.fuse_linear_bn_weights``."""
    w, b = _tensor(linear_w), _tensor(linear_b)
    return _parameters(*_fused(w, b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, "fuse_linear_bn_weights"), w, b)


def fuse_linear_bn_eval(linear, bn):
    """A new linear layer equal to ``linear`` followed by ``bn`` (a BatchNorm1d over its outputs), both
    in eval mode, as ``torch.nn.utils.fuse_linear_bn_eval``."""
    _check_eval(linear, bn, "fuse_linear_bn_eval")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(linear.weight, linear.bias, bn.running_mean, bn.running_var,
                                                      bn.eps, bn.weight, bn.bias)
    return fused
