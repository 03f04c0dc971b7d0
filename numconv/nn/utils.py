"""Fully-connected layers rewritten as convolutions, so a classifier slides over larger images.

A ``Linear`` that reads a flattened (C, H, W) feature map computes, for each output, the sum over
c, h, w of ``weight[o, c*H*W + h*W + w] * x[c, h, w]``: a convolution whose kernel is the whole
map. ``linear_to_conv`` makes that ``Conv2d`` (kernel (H, W)); the following Linear layers become
1x1 convolutions. ``make_fully_convolutional`` does it for a whole classifier: on the input size
the network was designed for its output is the original's (as a 1x1 map of scores); on a larger
image it is a grid of scores, one per window of the design size, ``stride`` pixels apart (the
network's total downsampling). The notes' example: VGG-16 designed for 224x224 gives a 12x12 map
on a 384x384 image, and the 7x7 convolution turns it into a 6x6 grid of class scores.

Every grid position equals the original network on the corresponding crop
``x[..., i*stride : i*stride + size, j*stride : j*stride + size]`` exactly when no layer pads with
zeros; with padding (VGG, AlexNet and LeNet-5 pad their convolutions) the crops' borders see their
real neighbours instead of the zeros the original network sees, so only the interior agrees.
"""
from __future__ import annotations

import copy
import math
from collections import OrderedDict

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from .activation import ReLU, Sigmoid, Tanh
from .container import Sequential
from .conv import Conv1d, Conv2d, Conv3d
from .dropout import Dropout, Dropout2d
from .linear import Flatten, Identity, Linear
from .module import Module
from .parameter import Parameter
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d
from .pooling import AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, \
    AdaptiveMaxPool3d

from .clip_grad import (  # noqa: E402,F401 (torch.nn.utils's home for them)
    clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm, parameters_to_vector,
    vector_to_parameters,
)

from .fusion import (  # noqa: E402,F401 (torch.nn.utils's home for them)
    fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights,
)
from .weight_norms import (  # noqa: E402,F401
    remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm,
)

__all__ = ["linear_to_conv", "make_fully_convolutional", "FullyConvolutional", "clip_grad_norm_", "clip_grad_value_",
           "clip_grads_with_norm_", "get_total_norm", "parameters_to_vector", "vector_to_parameters",
           "fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights",
           "weight_norm", "remove_weight_norm", "spectral_norm", "remove_spectral_norm"]

_CONV = {1: Conv1d, 2: Conv2d, 3: Conv3d}
_BN = {1: BatchNorm1d, 2: BatchNorm2d, 3: BatchNorm3d}
_ADAPTIVE = (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d, AdaptiveMaxPool2d,
             AdaptiveMaxPool3d)
_ELEMENTWISE = (Dropout, Dropout2d, Identity, ReLU, Sigmoid, Tanh)


def linear_to_conv(linear, input_shape):
    """The convolution equal to ``linear`` applied to a flattened feature map of shape ``input_shape``.

    ``input_shape``: (C, H, W) (or (C, *spatial) with 1-3 spatial dimensions; an int or (C,) means
    a 1x1 map) with C*H*W == ``linear.in_features``. Returns a ``Conv2d(C, out_features,
    kernel_size=(H, W))`` (Conv1d/Conv3d for other ranks) whose weight is ``linear.weight`` reshaped
    to (out, C, H, W) (a copy) and whose bias is a copy of ``linear.bias``: on that map its output is
    the Linear's, as an (N, out, 1, 1) map; on a larger map, one output per (H, W) window.
    """
    if not isinstance(linear, Linear):
        raise TypeError(f"linear_to_conv expects a numconv.nn.Linear, got {type(linear).__name__}")
    shape = (int(input_shape),) if isinstance(input_shape, (int, np.integer)) else tuple(int(n) for n in input_shape)
    if len(shape) == 1:
        shape = shape + (1, 1)
    nd = len(shape) - 1
    if nd not in _CONV:
        raise ValueError(f"input_shape must be (C, *spatial) with 1 to 3 spatial dimensions, got {tuple(input_shape)}")
    if int(np.prod(shape)) != linear.in_features:
        raise ValueError(f"input_shape {shape} has {int(np.prod(shape))} elements but the Linear layer expects "
                         f"in_features={linear.in_features}")
    w = linear.weight.numpy()
    # Built 1x1 and then given its real weight: initializing a 100M-weight kernel only to overwrite it is slow.
    conv = _CONV[nd](1, 1, kernel_size=1, bias=linear.bias is not None, dtype=w.dtype)
    conv.in_channels, conv.out_channels, conv.kernel_size = shape[0], linear.out_features, tuple(shape[1:])
    conv.weight = Parameter(w.reshape((linear.out_features,) + shape).copy(), requires_grad=linear.weight.requires_grad)
    if linear.bias is not None:
        conv.bias = Parameter(linear.bias.numpy().copy(), requires_grad=linear.bias.requires_grad)
    return conv


def _bn_to_nd(bn, nd):
    """A BatchNorm1d over (N, C) features as the BatchNorm over (N, C, *spatial) maps with the same state."""
    new = _BN[nd](bn.num_features, eps=bn.eps, momentum=bn.momentum, affine=bn.affine,
                  track_running_stats=bn.track_running_stats, dtype=(bn.weight if bn.affine else bn.running_mean).dtype)
    new.load_state_dict(bn.state_dict())
    new.train(bn.training)
    return new


def total_stride(module, nd=2):
    """Product of the strides of the convolutions and pools in ``module`` (a chain): its total downsampling."""
    s = (1,) * nd
    for m in module.modules():
        stride = getattr(m, "stride", None)
        if stride is None or not hasattr(m, "kernel_size"):
            continue
        st = tuple(stride) if isinstance(stride, (tuple, list)) else (stride,) * nd
        if len(st) == nd:
            s = tuple(a * int(b) for a, b in zip(s, st))
    return s


class FullyConvolutional(Module):
    """``features`` then ``head`` (the classifier as convolutions): (N, C, H, W) -> (N, classes, h, w).

    ``window``: the input size the original network was designed for; ``stride``: the distance in
    pixels between neighbouring score positions (the features' total downsampling). Score (i, j)
    covers the input window starting at (i*stride, j*stride).
    """

    def __init__(self, features, head, window=None, stride=None):
        super().__init__()
        self.features = features
        self.head = head
        self.window = window
        self.stride = stride

    def forward(self, x):
        return self.head(self.features(x))

    def extra_repr(self):
        return f"window={self.window}, stride={self.stride}"


def _map_shape(features, pool, linear, input_shape, channels_hint):
    """(C, H, W) of the map that is flattened into ``linear``."""
    if input_shape is not None:
        p = next(iter(features.parameters()), None)
        dtype = p.dtype if p is not None else np.float32
        x = Tensor(np.zeros((1,) + tuple(int(n) for n in input_shape), dtype))
        was = [(m, m.training) for m in features.modules()]
        try:
            features.eval()
            with no_grad():
                y = features(x)
                y_pool = pool(y) if pool is not None else y
        finally:
            for m, t in was:
                m.__dict__["training"] = t
        if pool is not None and tuple(y_pool.shape) != tuple(y.shape):
            raise ValueError(
                f"at the design input {tuple(input_shape)} the pooling layer changes the map {tuple(y.shape[1:])} to "
                f"{tuple(y_pool.shape[1:])}; the fully-convolutional network drops it, which is only equivalent where it is "
                "the identity: pass the input size the network was designed for")
        return tuple(y.shape[1:])
    if pool is not None and isinstance(pool, _ADAPTIVE):
        size = pool.output_size
        nd = 2 if isinstance(pool, (AdaptiveAvgPool2d, AdaptiveMaxPool2d)) else (
            1 if isinstance(pool, (AdaptiveAvgPool1d, AdaptiveMaxPool1d)) else 3)
        size = (size,) * nd if isinstance(size, int) else tuple(size)
        if None not in size:
            c = linear.in_features // int(np.prod(size))
            return (c,) + size
    if channels_hint:
        hw = linear.in_features // channels_hint
        side = math.isqrt(hw)
        if side * side == hw and channels_hint * hw == linear.in_features:
            return (channels_hint, side, side)
    raise ValueError("cannot tell the shape of the feature map the classifier reads; pass input_shape, the "
                     "(C, H, W) input the network was designed for")


def _last_channels(module):
    c = None
    for m in module.modules():
        if isinstance(m, (Conv1d, Conv2d, Conv3d)):
            c = m.out_channels
    return c


def _convert_head(layers, map_shape):
    """Linear -> convolution (the first over the whole map, the rest 1x1), BatchNorm1d -> BatchNorm2d."""
    nd = len(map_shape) - 1
    out, shape, seen_linear = [], tuple(map_shape), False
    for name, m in layers:
        if isinstance(m, Linear):
            out.append((name, linear_to_conv(m, shape)))
            shape = (m.out_features,) + (1,) * nd
            seen_linear = True
        elif isinstance(m, (BatchNorm1d,)) and seen_linear:
            out.append((name, _bn_to_nd(m, nd)))
        elif isinstance(m, Flatten):
            if seen_linear:
                raise ValueError("a Flatten after the first Linear layer cannot be converted")
            out.append((name, Identity()))
        elif isinstance(m, _ELEMENTWISE):
            out.append((name, copy.deepcopy(m)))
        else:
            raise ValueError(f"cannot convert classifier layer {name!r} ({type(m).__name__}) to a convolution; "
                             "supported: Linear, BatchNorm1d, ReLU, Sigmoid, Tanh, Dropout, Identity, Flatten")
    if not seen_linear:
        raise ValueError("the classifier has no Linear layer to convert")
    return Sequential(OrderedDict(out))


def make_fully_convolutional(model, input_shape=None):
    """A copy of classifier ``model`` in which every fully-connected layer is a convolution.

    Supported layouts:

    - a model with ``features`` (a convolutional trunk), an optional ``avgpool`` and a ``classifier``
      ``Sequential`` of Linear / ReLU / Dropout / BatchNorm1d, applied as
      ``classifier(flatten(avgpool(features(x))))``: numconv's (and torchvision's) VGG, AlexNet and
      LeNet-5. The adaptive ``avgpool`` is dropped (at the design input size it is the identity:
      7x7 -> 7x7 for VGG at 224, 6x6 -> 6x6 for AlexNet);
    - an ``nn.Sequential`` whose layers after an ``nn.Flatten`` are such a classifier.

    ``input_shape``: the (C, H, W) the network was designed for; needed when the flattened map's
    shape cannot be read from the model (it can for VGG, AlexNet and LeNet-5). Returns a
    ``FullyConvolutional`` (trunk and head copied; the original is left as it is) whose output is
    (N, num_classes, h, w): 1x1 at the design size, a grid of scores on larger inputs.
    """
    if isinstance(model, Sequential):
        mods = list(model._modules.items())
        flat = [i for i, (_, m) in enumerate(mods) if isinstance(m, Flatten)]
        if not flat:
            raise ValueError("a Sequential classifier must flatten its feature map with nn.Flatten before the Linear layers")
        i = flat[0]
        features = Sequential(OrderedDict((n, copy.deepcopy(m)) for n, m in mods[:i]))
        head_layers = mods[i + 1:]
        pool = None
    elif hasattr(model, "features") and hasattr(model, "classifier") and isinstance(model.classifier, Sequential):
        features = copy.deepcopy(model.features)
        head_layers = list(model.classifier._modules.items())
        pool = getattr(model, "avgpool", None)
        if pool is not None and not isinstance(pool, _ADAPTIVE + (Identity,)):
            raise ValueError(f"cannot drop the pooling layer {type(pool).__name__} between features and classifier")
    else:
        raise ValueError(f"make_fully_convolutional supports models with features/avgpool/classifier (VGG, AlexNet, "
                         f"LeNet-5) and Sequential models with a Flatten, not {type(model).__name__}")
    first = next((m for _, m in head_layers if isinstance(m, Linear)), None)
    if first is None:
        raise ValueError("the classifier has no Linear layer to convert")
    map_shape = _map_shape(features, pool, first, input_shape, _last_channels(features))
    head = _convert_head(head_layers, map_shape)
    stride = total_stride(features, len(map_shape) - 1)
    window = tuple(int(n) for n in input_shape[1:]) if input_shape is not None else None
    fcn = FullyConvolutional(features, head, window=window, stride=stride if len(set(stride)) > 1 else stride[0])
    fcn.train(model.training)
    return fcn
