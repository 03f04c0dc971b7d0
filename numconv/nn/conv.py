"""Convolution layers: ``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d``, as ``torch.nn``.

Weight (C_out, C_in/groups, *kernel) for convolution, (C_in, C_out/groups, *kernel) for the
transposed one; bias (C_out,). Default init as PyTorch's ``reset_parameters``:
weight ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same
bound for the bias, with fan_in = weight.shape[1] * prod(kernel).
"""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from .. import shapes
from . import init
from ._utils import factory_dtype, positive_int
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]


class _ConvNd(Module):
    _nd = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 padding_mode, output_padding=0, device=None, dtype=None):
        super().__init__()
        nd = self._nd
        positive_int(in_channels, "in_channels")
        positive_int(out_channels, "out_channels")
        positive_int(groups, "groups")
        if in_channels % groups:
            raise ValueError(f"in_channels={in_channels} must be divisible by groups={groups}")
        if out_channels % groups:
            raise ValueError(f"out_channels={out_channels} must be divisible by groups={groups}")
        shapes.conv_padding_mode(padding_mode)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = shapes.positive(shapes.ntuple(kernel_size, nd, "kernel_size"), "kernel_size")
        self.stride = shapes.positive(shapes.ntuple(stride, nd, "stride"), "stride")
        self.dilation = shapes.positive(shapes.ntuple(dilation, nd, "dilation"), "dilation")
        if isinstance(padding, str):
            if self._transposed:
                raise ValueError(f"padding={padding!r} is not supported by {type(self).__name__}; pass ints")
            shapes.conv_padding(padding, nd)
            self.padding = padding
        else:
            lo, hi = shapes.conv_padding(padding, nd)
            self.padding = lo if lo == hi else tuple(zip(lo, hi))
        self.output_padding = shapes.non_negative(shapes.ntuple(output_padding, nd, "output_padding"), "output_padding")
        self.padding_mode = padding_mode
        dt = factory_dtype(device, dtype)
        if self._transposed:
            wshape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            wshape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(np.empty(wshape, dtype=dt))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        nd = self._nd
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


def _make_conv(nd):
    fn = getattr(F, f"conv{nd}d")

    class Conv(_ConvNd):
        _nd = nd

        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                     bias=True, padding_mode="zeros", device=None, dtype=None):
            super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                             padding_mode, device=device, dtype=dtype)

        def forward(self, input):
            return fn(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups,
                      padding_mode=self.padding_mode)

    Conv.__name__ = Conv.__qualname__ = f"Conv{nd}d"
    Conv.__doc__ = f"""``Conv{nd}d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
    bias=True, padding_mode='zeros')``: ``F.conv{nd}d`` with a learned weight and bias.

    padding: int, tuple, per-side ((lo, hi), ...), 'valid' or 'same' (any stride: out = ceil(n / stride)).
    padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'.
    Input (N, C_in, *size) or unbatched; output size floor((n + 2*padding - dilation*(k-1) - 1) / stride) + 1.
    """
    return Conv


def _make_conv_transpose(nd):
    fn = getattr(F, f"conv_transpose{nd}d")

    class ConvTranspose(_ConvNd):
        _nd = nd
        _transposed = True

        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                     bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
            super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                             padding_mode, output_padding, device=device, dtype=dtype)

        def _output_padding(self, input, output_size):
            """The output_padding that gives ``output_size`` (spatial, or with the N, C dimensions)."""
            if output_size is None:
                return self.output_padding
            if not isinstance(output_size, (tuple, list)):
                raise TypeError(f"output_size must be a tuple of {nd} (or {nd + 2}) ints, got {output_size!r}")
            size = tuple(shapes.integer(s, "output_size") for s in output_size)
            in_sizes = tuple(input.shape)[-nd:]
            if len(size) in (nd + 1, nd + 2) and len(size) == len(input.shape):
                size = size[-nd:]
            if len(size) != nd:
                raise ValueError(
                    f"output_size must have {nd} (or {nd + 2}) elements, got {len(tuple(output_size))}: {tuple(output_size)}"
                )
            lo, hi = shapes.conv_padding(self.padding, nd)
            mins = tuple((n - 1) * s - a - b + d * (k - 1) + 1 for n, s, a, b, d, k in
                         zip(in_sizes, self.stride, lo, hi, self.dilation, self.kernel_size))
            maxs = tuple(m + s - 1 for m, s in zip(mins, self.stride))
            if any(not a <= n <= b for n, a, b in zip(size, mins, maxs)):
                raise ValueError(
                    f"requested an output size of {size}, but valid sizes range from {mins} to {maxs} "
                    f"(for an input of spatial size {in_sizes})"
                )
            return tuple(n - m for n, m in zip(size, mins))

        def forward(self, input, output_size=None):
            output_padding = self._output_padding(input, output_size)
            return fn(input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
                      self.dilation, padding_mode=self.padding_mode)

    ConvTranspose.__name__ = ConvTranspose.__qualname__ = f"ConvTranspose{nd}d"
    ConvTranspose.__doc__ = f"""``ConvTranspose{nd}d(in_channels, out_channels, kernel_size, stride=1, padding=0,
    output_padding=0, groups=1, bias=True, dilation=1, padding_mode='zeros')``: ``F.conv_transpose{nd}d``.

    ``forward(input, output_size=None)``: output_size (spatial sizes, or the full shape) picks the
    output_padding, as PyTorch. Output size (n-1)*stride - 2*padding + dilation*(k-1) + output_padding + 1.
    """
    return ConvTranspose


Conv1d, Conv2d, Conv3d = (_make_conv(n) for n in (1, 2, 3))
ConvTranspose1d, ConvTranspose2d, ConvTranspose3d = (_make_conv_transpose(n) for n in (1, 2, 3))
for _cls in (Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d):
    _cls.__module__ = __name__
