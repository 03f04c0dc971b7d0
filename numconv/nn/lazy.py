"""Layers that take their input size from their first input, as PyTorch's ``LazyLinear``,
``LazyConv2d``, ``LazyBatchNorm2d``, ``LazyInstanceNorm2d``, ...: no flatten size to work out by hand.

    net = nn.Sequential(nn.LazyConv2d(16, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
    net(x)              # the first call sizes every lazy layer; they are Conv2d and Linear from then on

Before that call a lazy layer's parameters are empty placeholders, the same Parameter objects it
keeps afterwards (so an optimizer made before the first call trains them); the first call builds the
layer it becomes with the size it reads from the input (initialized as that layer is, from numconv's
generator), moves the values into the placeholders (in their dtype and on their device), and the
module's class becomes that layer's. Load a state dict after that first call.
"""
from __future__ import annotations

import numpy as np

from ..ops import math as M
from ..tensor import Tensor
from ._utils import factory_dtype
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .linear import Linear
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from .parameter import Parameter

_MODULE_STATE = frozenset(Module().__dict__) | {"_module_hooks"}


class _Lazy(Module):
    """A layer of class ``cls_to_become`` whose size ``_size(input)`` comes from its first input, made
    then with ``(size, *args, **kwargs)``; ``_parameter_names`` are its placeholders."""

    cls_to_become = None
    _parameter_names = ("weight", "bias")
    _buffer_names = ()

    def __init__(self, args, kwargs, with_parameters, dtype):
        super().__init__()
        self.__dict__["_lazy"] = (args, kwargs)
        for name in self._parameter_names:
            self.register_parameter(name, Parameter(np.empty(0, dtype)) if with_parameters(name) else None)
        for name in self._buffer_names:
            self.register_buffer(name, Tensor(np.empty(0, dtype)) if with_parameters(name) else None)

    def has_uninitialized_params(self):
        return True

    def _size(self, input):
        raise NotImplementedError

    def forward(self, input, *args, **kwargs):
        args_, kwargs_ = self._lazy
        first = next((p for p in (*self._parameters.values(), *self._buffers.values())
                      if p is not None and p.dtype.kind == "f"), None)
        dtype = first.dtype if first is not None else np.float32
        real = self.cls_to_become(self._size(input), *args_, **{**kwargs_, "dtype": dtype})
        device = None if first is None else first.device
        for name, p in real._parameters.items():
            if p is not None:  # the placeholder takes the values: an optimizer holding it sees them
                self._parameters[name].data = M.to_device(p.data, device) if device else p.data
        for name, b in real._buffers.items():
            if b is not None and b.dtype.kind == "f" and device:
                b = Tensor(M.to_device(b.data, device))
            self._buffers[name] = b
        for key, value in real.__dict__.items():
            if key not in _MODULE_STATE:
                self.__dict__[key] = value
        del self.__dict__["_lazy"]
        cls = self.__class__ = self.cls_to_become
        return cls.forward(self, input, *args, **kwargs)  # not self.forward: a wrapper (summary's) may stand there

    def extra_repr(self):
        args, kwargs = self._lazy
        return ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items() if k != "device"])


def _channels(nd, what):
    def size(self, input):
        shape = tuple(input.shape)
        if len(shape) not in (nd + 1, nd + 2):
            raise ValueError(f"{type(self).__name__}: input must have shape (N, C, *{nd} sizes) or unbatched "
                             f"(C, *{nd} sizes) to infer {what}, got {shape}")
        return shape[0] if len(shape) == nd + 1 else shape[1]

    return size


class LazyLinear(_Lazy):
    """``LazyLinear(out_features, bias=True)``: a ``Linear`` whose in_features is its first input's last size."""

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__((out_features,), {"bias": bias}, lambda name: name == "weight" or bias,
                         factory_dtype(device, dtype))

    def _size(self, input):
        if not tuple(input.shape):
            raise ValueError("LazyLinear: a 0-d input has no in_features to infer")
        return tuple(input.shape)[-1]

    def extra_repr(self):
        (out_features,), kwargs = self._lazy
        return f"in_features=0, out_features={out_features}, bias={kwargs['bias']}"


def _make_lazy_conv(cls, nd, transposed):
    names = ("in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True, "
             "dilation=1, padding_mode='zeros'" if transposed else
             "in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, "
             "padding_mode='zeros'")

    class LazyConv(_Lazy):
        cls_to_become = cls
        _size = _channels(nd, "in_channels")

        def __init__(self, out_channels, kernel_size, *args, device=None, dtype=None, **kwargs):
            bias = args[4] if len(args) > 4 else kwargs.get("bias", True)  # after stride, padding, dilation or
            # output_padding, and groups, in both signatures
            super().__init__((out_channels, kernel_size, *args), kwargs, lambda name: name == "weight" or bias,
                             factory_dtype(device, dtype))

    LazyConv.__name__ = LazyConv.__qualname__ = f"Lazy{cls.__name__}"
    LazyConv.__doc__ = (f"``Lazy{cls.__name__}(out_channels, kernel_size, ...)``: a ``{cls.__name__}`` whose "
                        f"in_channels is its first input's channel count ({cls.__name__}'s arguments: {names}).")
    return LazyConv


LazyConv1d, LazyConv2d, LazyConv3d = (_make_lazy_conv(c, n, False) for c, n in ((Conv1d, 1), (Conv2d, 2), (Conv3d, 3)))
LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d = (
    _make_lazy_conv(c, n, True) for c, n in ((ConvTranspose1d, 1), (ConvTranspose2d, 2), (ConvTranspose3d, 3)))


def _make_lazy_batch_norm(cls, instance=False):
    defaults = (False, False) if instance else (True, True)  # affine, track_running_stats

    class LazyBatchNorm(_Lazy):
        cls_to_become = cls
        _buffer_names = ("running_mean", "running_var")

        def _size(self, input):
            shape = tuple(input.shape)
            if instance:  # (N, C, *spatial) or unbatched (C, *spatial), as the layer takes them
                if len(shape) not in cls._dims:
                    raise ValueError(f"{type(self).__name__}: input must have {cls._dims[0]} (unbatched) or "
                                     f"{cls._dims[1]} dimensions to infer num_features, got shape {shape}")
                return shape[len(shape) - cls._dims[0]]
            if len(shape) < 2:
                raise ValueError(f"{type(self).__name__}: input must have shape (N, C, ...) to infer num_features, "
                                 f"got {shape}")
            return shape[1]

        def __init__(self, eps=1e-5, momentum=0.1, affine=defaults[0], track_running_stats=defaults[1], device=None,
                     dtype=None):
            kwargs = {"eps": eps, "momentum": momentum, "affine": affine, "track_running_stats": track_running_stats}
            super().__init__((), kwargs, lambda name: affine if name in ("weight", "bias") else track_running_stats,
                             factory_dtype(device, dtype))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64)) if track_running_stats else None)

    LazyBatchNorm.__name__ = LazyBatchNorm.__qualname__ = f"Lazy{cls.__name__}"
    LazyBatchNorm.__doc__ = (f"``Lazy{cls.__name__}(eps=1e-5, momentum=0.1, affine={defaults[0]}, "
                             f"track_running_stats={defaults[1]})``: a ``{cls.__name__}`` whose num_features is its "
                             "first input's channel count.")
    return LazyBatchNorm


LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d = (
    _make_lazy_batch_norm(c) for c in (BatchNorm1d, BatchNorm2d, BatchNorm3d))
LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d = (
    _make_lazy_batch_norm(c, instance=True) for c in (InstanceNorm1d, InstanceNorm2d, InstanceNorm3d))
