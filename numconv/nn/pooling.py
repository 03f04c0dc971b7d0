"""Pooling layers, as ``torch.nn``: max, average, adaptive average/max, power-average and max
unpooling, 1/2/3-d; fractional max pooling, 2/3-d.

Each holds its settings and makes one ``numconv.functional`` call; output sizes are those of
the functional ops (floor((n + 2*padding - dilation*(k-1) - 1) / stride) + 1, or ceil with ceil_mode).
"""
from __future__ import annotations

import numbers

from .. import functional as F
from .. import shapes
from .module import Module

__all__ = [
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
    "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "LPPool1d", "LPPool2d", "LPPool3d",
    "FractionalMaxPool2d", "FractionalMaxPool3d",
]


def _named(cls, name, doc):
    cls.__name__ = cls.__qualname__ = name
    cls.__module__ = __name__
    cls.__doc__ = doc
    return cls


def _make_max_pool(nd):
    fn = getattr(F, f"max_pool{nd}d")

    class MaxPool(Module):
        def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
            super().__init__()
            shapes.pool_params(nd, kernel_size, stride, padding, dilation)  # validate now, not at first call
            self.kernel_size = kernel_size
            self.stride = stride if stride is not None else kernel_size
            self.padding, self.dilation = padding, dilation
            self.return_indices, self.ceil_mode = return_indices, ceil_mode

        def forward(self, input):
            return fn(input, self.kernel_size, self.stride, self.padding, self.dilation,
                      ceil_mode=self.ceil_mode, return_indices=self.return_indices)

        def extra_repr(self):
            return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                    f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")

    return _named(MaxPool, f"MaxPool{nd}d", f"""``MaxPool{nd}d(kernel_size, stride=None, padding=0, dilation=1,
    return_indices=False, ceil_mode=False)``: ``F.max_pool{nd}d``; stride defaults to kernel_size.""")


def _make_avg_pool(nd):
    fn = getattr(F, f"avg_pool{nd}d")

    class AvgPool(Module):
        def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                     divisor_override=None):
            super().__init__()
            shapes.pool_params(nd, kernel_size, stride, padding, 1)
            shapes.divisor(divisor_override)
            if nd == 1:  # as torch, which keeps 1-tuples for AvgPool1d
                kernel_size = shapes.ntuple(kernel_size, 1, "kernel_size")
                stride = None if stride is None else shapes.ntuple(stride, 1, "stride")
                padding = shapes.ntuple(padding, 1, "padding")
            self.kernel_size = kernel_size
            self.stride = stride if stride is not None else kernel_size
            self.padding, self.ceil_mode = padding, ceil_mode
            self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

        def forward(self, input):
            return fn(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                      self.divisor_override)

        def extra_repr(self):
            return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    return _named(AvgPool, f"AvgPool{nd}d", f"""``AvgPool{nd}d(kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=True, divisor_override=None)``: ``F.avg_pool{nd}d``; stride defaults to kernel_size.""")


def _make_adaptive(nd, kind):
    fn = getattr(F, f"adaptive_{kind}_pool{nd}d")

    class Adaptive(Module):
        if kind == "max":
            def __init__(self, output_size, return_indices=False):
                super().__init__()
                self.output_size, self.return_indices = output_size, return_indices

            def forward(self, input):
                return fn(input, self.output_size, self.return_indices)
        else:
            def __init__(self, output_size):
                super().__init__()
                self.output_size = output_size

            def forward(self, input):
                return fn(input, self.output_size)

        def extra_repr(self):
            return f"output_size={self.output_size}"

    name = f"Adaptive{kind.capitalize()}Pool{nd}d"
    return _named(Adaptive, name, f"""``{name}(output_size{', return_indices=False' if kind == 'max' else ''})``:
    ``F.adaptive_{kind}_pool{nd}d``; window o of n inputs spans [floor(o*n/out), ceil((o+1)*n/out)).""")


def _make_max_unpool(nd):
    fn = getattr(F, f"max_unpool{nd}d")

    class MaxUnpool(Module):
        def __init__(self, kernel_size, stride=None, padding=0):
            super().__init__()
            self.kernel_size = shapes.ntuple(kernel_size, nd, "kernel_size")
            self.stride = shapes.ntuple(stride if stride is not None else kernel_size, nd, "stride")
            self.padding = shapes.ntuple(padding, nd, "padding")

        def forward(self, input, indices, output_size=None):
            return fn(input, indices, self.kernel_size, self.stride, self.padding, output_size)

        def extra_repr(self):
            return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    return _named(MaxUnpool, f"MaxUnpool{nd}d", f"""``MaxUnpool{nd}d(kernel_size, stride=None, padding=0)``:
    ``forward(input, indices, output_size=None)`` puts each value at its index from ``MaxPool{nd}d(return_indices=True)``.""")


def _make_lp_pool(nd):
    fn = getattr(F, f"lp_pool{nd}d")

    class LPPool(Module):
        def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
            super().__init__()
            shapes.pool_params(nd, kernel_size, stride, 0, 1)
            shapes.real(norm_type, "norm_type", 0.0, lo_open=True)
            self.norm_type, self.kernel_size, self.stride = norm_type, kernel_size, stride
            self.ceil_mode = shapes.flag(ceil_mode, "ceil_mode")

        def forward(self, input):
            return fn(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

        def extra_repr(self):
            return f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, " \
                   f"ceil_mode={self.ceil_mode}"

    return _named(LPPool, f"LPPool{nd}d", f"""``LPPool{nd}d(norm_type, kernel_size, stride=None, ceil_mode=False)``:
    ``F.lp_pool{nd}d``, (sum of x^p over each window)^(1/p); stride defaults to kernel_size.""")


def _make_fractional_max_pool(nd):
    fn = getattr(F, f"fractional_max_pool{nd}d")
    name = f"FractionalMaxPool{nd}d"

    class FractionalMaxPool(Module):
        def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False, _random_samples=None):
            super().__init__()
            self.kernel_size = shapes.positive(shapes.ntuple(kernel_size, nd, "kernel_size"), "kernel_size")
            if (output_size is None) == (output_ratio is None):
                raise ValueError(f"{name} takes exactly one of output_size and output_ratio, got "
                                 f"output_size={output_size!r} and output_ratio={output_ratio!r}")
            self.output_size = None if output_size is None else \
                shapes.non_negative(shapes.ntuple(output_size, nd, "output_size"), "output_size")
            self.output_ratio = None
            if output_ratio is not None:
                real = (lambda r: isinstance(r, numbers.Real) and not isinstance(r, bool))
                ratios = (output_ratio,) * nd if real(output_ratio) else \
                    tuple(output_ratio) if isinstance(output_ratio, (tuple, list)) else ()
                if len(ratios) != nd or not all(real(r) and 0 < r < 1 for r in ratios):
                    raise ValueError(f"output_ratio must be a number or {nd} numbers in (0, 1), got {output_ratio!r}")
                self.output_ratio = tuple(float(r) for r in ratios)
            self.return_indices = shapes.flag(return_indices, "return_indices")
            self.register_buffer("_random_samples", _random_samples)

        def forward(self, input):
            return fn(input, self.kernel_size, self.output_size, self.output_ratio, self.return_indices,
                      _random_samples=self._random_samples)

        def extra_repr(self):
            size = f"output_size={self.output_size}" if self.output_ratio is None else f"output_ratio={self.output_ratio}"
            return f"kernel_size={self.kernel_size}, {size}"

    return _named(FractionalMaxPool, name, f"""``{name}(kernel_size, output_size=None, output_ratio=None,
    return_indices=False, _random_samples=None)``: ``F.fractional_max_pool{nd}d`` (Graham 2014), with
    windows drawn anew at each call unless the ``_random_samples`` buffer fixes them.""")


MaxPool1d, MaxPool2d, MaxPool3d = (_make_max_pool(n) for n in (1, 2, 3))
AvgPool1d, AvgPool2d, AvgPool3d = (_make_avg_pool(n) for n in (1, 2, 3))
AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d = (_make_adaptive(n, "avg") for n in (1, 2, 3))
AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d = (_make_adaptive(n, "max") for n in (1, 2, 3))
MaxUnpool1d, MaxUnpool2d, MaxUnpool3d = (_make_max_unpool(n) for n in (1, 2, 3))
LPPool1d, LPPool2d, LPPool3d = (_make_lp_pool(n) for n in (1, 2, 3))
FractionalMaxPool2d, FractionalMaxPool3d = (_make_fractional_max_pool(n) for n in (2, 3))
