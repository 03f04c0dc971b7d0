"""Normalization layers, as ``torch.nn``: ``BatchNorm1d``, ``BatchNorm2d``, ``BatchNorm3d``;
``InstanceNorm1d``/``2d``/``3d`` (each sample's channels over their positions, running statistics
optional); ``LayerNorm``, ``GroupNorm``, ``RMSNorm`` (statistics of each sample alone: the same in
training and evaluation, no running statistics); ``LocalResponseNorm`` (across nearby channels).

Batch normalization:

y = (x - mean) / sqrt(var + eps) * weight + bias, per channel (dimension 1); ``affine=False``
drops weight and bias, keyword ``bias=False`` only the bias (as PyTorch 2.13). Training uses the
batch's statistics and updates the running ones:
running = (1 - momentum) * running + momentum * batch (unbiased variance), or a cumulative
average when momentum is None. Eval uses the running statistics (unless track_running_stats=False).
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import shapes
from ..tensor import Tensor
from . import init
from ._utils import factory_dtype, positive_int
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
           "LayerNorm", "GroupNorm", "RMSNorm", "LocalResponseNorm"]


def _eps(eps):
    """eps >= 0, as PyTorch's layers take it (batch norm's training pass needs eps > 0: ``F.batch_norm``)."""
    return shapes.real(eps, "eps", 0.0)


class _BatchNorm(Module):
    _dims = (4,)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features = positive_int(num_features, "num_features")
        if momentum is not None:  # any finite number, as PyTorch's
            momentum = shapes.real(momentum, "momentum (or None)")
        self.eps, self.momentum = _eps(eps), momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dt = factory_dtype(device, dtype)
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(num_features, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dt)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input):
        n = len(input.shape)
        if n not in self._dims:
            expect = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"{type(self).__name__} expects {expect} input, got {n}D input of shape {tuple(input.shape)}")
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}) got an input with {input.shape[1]} channels "
                f"(dimension 1 of shape {tuple(input.shape)})"
            )

    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data[...] += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.item())
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """``BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *, bias=True)``: input (N, C) or (N, C, L)."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """``BatchNorm2d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *, bias=True)``: input (N, C, H, W)."""

    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """``BatchNorm3d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *, bias=True)``: input (N, C, D, H, W)."""

    _dims = (5,)


class _InstanceNorm(_BatchNorm):
    """``F.instance_norm`` of (N, C, *) input, or of one unbatched sample (C, *): each sample's channels
    normalized by their own statistics in training, and in evaluation too unless track_running_stats
    (then by the running statistics, which training updates). affine=False and
    track_running_stats=False by default, as PyTorch's."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False,
                 device=None, dtype=None):
        super().__init__(num_features, eps, momentum, shapes.flag(affine, "affine"),
                         shapes.flag(track_running_stats, "track_running_stats"), device, dtype)

    def forward(self, input):
        n = len(input.shape)
        if n not in self._dims:
            raise ValueError(f"{type(self).__name__} expects {self._dims[0]}D (unbatched) or {self._dims[1]}D input, "
                             f"got {n}D input of shape {tuple(input.shape)}")
        channels = input.shape[n - self._dims[0]]
        if channels != self.num_features and self.affine:  # PyTorch only warns when num_features is unused
            raise ValueError(f"{type(self).__name__}({self.num_features}) got an input with {channels} channels "
                             f"(dimension {n - self._dims[0]} of shape {tuple(input.shape)})")
        unbatched = n == self._dims[0]
        x = input[None] if unbatched else input  # Tensors and arrays alike
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats,
                            0.0 if self.momentum is None else self.momentum, self.eps)
        return y[0] if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """``InstanceNorm1d(num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False)``: input (N, C, L) or (C, L)."""

    _dims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """``InstanceNorm2d(num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False)``: input (N, C, H, W) or (C, H, W)."""

    _dims = (3, 4)


class InstanceNorm3d(_InstanceNorm):
    """``InstanceNorm3d(num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False)``: input (N, C, D, H, W) or (C, D, H, W)."""

    _dims = (4, 5)


class LocalResponseNorm(Module):
    """``LocalResponseNorm(size, alpha=1e-4, beta=0.75, k=1.0)``: ``F.local_response_norm``, each value divided
    by (k + alpha / size * the sum of squares over ``size`` neighbouring channels)^beta (AlexNet's LRN)."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = positive_int(size, "size")
        for v, name in ((alpha, "alpha"), (beta, "beta"), (k, "k")):
            shapes.real(v, name)
        self.alpha, self.beta, self.k = alpha, beta, k  # as given, as PyTorch keeps them

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def _affine_parameters(module, affine, shape, dt, bias=True):
    """weight (ones) and bias (zeros) of ``shape`` as Parameters, or registered as None."""
    module.register_parameter("weight", Parameter(np.ones(shape, dtype=dt)) if affine else None)
    module.register_parameter("bias", Parameter(np.zeros(shape, dtype=dt)) if affine and bias else None)


class LayerNorm(Module):
    """``LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True)``: ``F.layer_norm``
    over the last dimensions of shape ``normalized_shape``, with weight and bias of that shape."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = shapes.sizes(normalized_shape, "normalized_shape")
        self.eps = _eps(eps)
        self.elementwise_affine = shapes.flag(elementwise_affine, "elementwise_affine")
        _affine_parameters(self, self.elementwise_affine, self.normalized_shape, factory_dtype(device, dtype),
                           shapes.flag(bias, "bias"))

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """``GroupNorm(num_groups, num_channels, eps=1e-5, affine=True, *, bias=True)``: ``F.group_norm`` of
    (N, C, *) input with C = num_channels, a multiple of num_groups; weight and bias (C,)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_groups = positive_int(num_groups, "num_groups")
        self.num_channels = positive_int(num_channels, "num_channels")
        if num_channels % num_groups:
            raise ValueError(f"num_channels={num_channels} must be a multiple of num_groups={num_groups}")
        self.eps = _eps(eps)
        self.affine = shapes.flag(affine, "affine")
        _affine_parameters(self, self.affine, (self.num_channels,), factory_dtype(device, dtype),
                           shapes.flag(bias, "bias"))

    reset_parameters = LayerNorm.reset_parameters

    def forward(self, input):
        if len(input.shape) < 2 or input.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm({self.num_groups}, {self.num_channels}) expects input (N, "
                             f"{self.num_channels}, *), got shape {tuple(input.shape)}")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.bias is not None}"


class RMSNorm(Module):
    """``RMSNorm(normalized_shape, eps=None, elementwise_affine=True)``: ``F.rms_norm``, x / rms(x) *
    weight over the last dimensions; eps None is the input dtype's machine epsilon."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = shapes.sizes(normalized_shape, "normalized_shape")
        self.eps = None if eps is None else _eps(eps)
        self.elementwise_affine = shapes.flag(elementwise_affine, "elementwise_affine")
        _affine_parameters(self, self.elementwise_affine, self.normalized_shape, factory_dtype(device, dtype),
                           bias=False)

    reset_parameters = LayerNorm.reset_parameters

    def forward(self, input):
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
