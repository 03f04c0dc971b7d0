"""numconv.functional (also ``numconv.F``): convolution, pooling, unfold/fold and pad.

Names, argument order, defaults, weight layouts and semantics follow ``torch.nn.functional``;
inputs are float32 or float64 arrays in NCHW layout (N, C, *spatial), or unbatched (C, *spatial).
Beyond PyTorch: ``padding='same'`` with any stride (output = ceil(input / stride), the odd
pixel of padding on the high side), per-side padding ``((lo, hi), ...)``, ``padding_mode`` on
every convolution including the transposed one, ``dilation`` for average pooling and
``divisor_override`` for every average pool.

Every op has an array-level backward, ``<op>_backward(grad_output, <the op's arguments>)``,
returning the gradients of its array inputs, so the kernels are usable without autograd.

Arrays in, arrays out; given any ``numconv.Tensor`` argument an op returns Tensors and records
itself in the graph (one autograd Function per op family, whose backward is the ``*_backward``
above, asked only for the gradients the graph needs). The layers' math (``linear``, activations,
``dropout``, ``batch_norm``) and the losses (``cross_entropy``, ``nll_loss``, ``mse_loss``) follow
the same rule.

Output size along each spatial dimension (k taps, dilation d, stride s, padding lo + hi)::

    out = floor((n + lo + hi - d*(k-1) - 1) / s) + 1                       # convolution, pooling
    out = (n - 1)*s - lo - hi + d*(k-1) + output_padding + 1               # transposed convolution
"""
from __future__ import annotations

import functools
import inspect

import numpy as np

from . import autograd, dispatch, ops, shapes
from . import random as _random
from .autograd import Function
from .ops import math as M
from .shapes import array_info
from .tensor import Gather, GetItem, IndexPutAdd, SetItem, Tensor, _along_axis, where

__all__ = []


def _export(*fns):
    for fn in fns:
        globals()[fn.__name__] = fn
        __all__.append(fn.__name__)


# ----------------------------------------------------------------------------- helpers


def _input(x, nd, name="input"):
    """(batched shape, was batched) for an n-d op's input; validates dtype and rank."""
    shape, _ = array_info(x, name, ndims=(nd + 1, nd + 2), what=f" (N, C, {shapes._spatial_names(nd)}) or unbatched")
    return shapes.batched(shape, nd, name)


def _grad(grad_output, expected_shape, was_batched, dtype):
    shape, gdt = array_info(grad_output, "grad_output")
    expect = tuple(expected_shape) if was_batched else tuple(expected_shape[1:])
    if shape != expect:
        raise ValueError(f"grad_output must have the forward output's shape {expect}, got {shape}")
    shapes.same_dtype([("input", dtype), ("grad_output", gdt)])
    return _shaped(grad_output, expected_shape)


def _shaped(x, shape):
    """``x`` with ``shape``: itself when it has it already (a reshape of a device array builds a new
    array object, which costs microseconds on every call)."""
    return x if tuple(x.shape) == tuple(shape) else x.reshape(shape)


def _unbatch(y, was_batched):
    return y if was_batched else y.reshape(y.shape[1:])


def _flat_pad(lo, hi):
    """Per-dimension (lo, hi) in D, H, W order -> PyTorch's flat pad tuple (last dimension first)."""
    out = []
    for a, b in zip(reversed(lo), reversed(hi)):
        out += [a, b]
    return tuple(out)


# ----------------------------------------------------------------------------- convolution


def _output_mask(output_mask, bias):
    """Which of (grad_input, grad_weight, grad_bias) to compute: all by default; never grad_bias without a bias."""
    if output_mask is None:
        return True, True, bias is not None
    if not isinstance(output_mask, (tuple, list)) or len(output_mask) != 3:
        raise ValueError(f"output_mask must be 3 booleans (input, weight, bias), got {output_mask!r}")
    return bool(output_mask[0]), bool(output_mask[1]), bool(output_mask[2]) and bias is not None


def _conv_setup(nd, input, weight, bias, stride, padding, dilation, groups, padding_mode):
    """Validate; return (x batched, spec, was_batched, mode, pad) with non-zero modes padded in front."""
    xs, batched = _input(input, nd)
    ws, wdt = array_info(weight, "weight", ndims=(nd + 2,), what=f" (C_out, C_in/groups, {shapes._spatial_names(nd)})")
    bs = None
    if bias is not None:
        bs, bdt = array_info(bias, "bias", ndims=(1,))
        shapes.same_dtype([("input", input.dtype), ("weight", wdt), ("bias", bdt)])
    shapes.same_dtype([("input", input.dtype), ("weight", wdt)])
    mode = shapes.conv_padding_mode(padding_mode)
    spec = shapes.conv_spec(xs, ws, nd, stride, padding, dilation, groups, bs)
    x = _shaped(input, xs)
    pad = None
    if mode != "constant" and any(spec.pad_lo + spec.pad_hi):
        pad = _flat_pad(spec.pad_lo[3 - nd:], spec.pad_hi[3 - nd:])
        xp_shape = xs[:2] + tuple(n + a + b for n, a, b in zip(xs[2:], spec.pad_lo[3 - nd:], spec.pad_hi[3 - nd:]))
        spec = shapes.conv_spec(xp_shape, ws, nd, stride, 0, dilation, groups, bs)
    return x, spec, batched, mode, pad


def _make_conv(nd):
    def conv(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
        x, spec, batched, mode, pad = _conv_setup(nd, input, weight, bias, stride, padding, dilation, groups, padding_mode)
        if pad is not None:
            x = ops.pad_forward(x, pad, mode)
        return _unbatch(ops.conv_forward(x, weight, bias, spec), batched)

    def conv_backward(grad_output, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
                      padding_mode="zeros", output_mask=None):
        x, spec, batched, mode, pad = _conv_setup(nd, input, weight, bias, stride, padding, dilation, groups, padding_mode)
        gy = _grad(grad_output, spec.y_nd, batched, input.dtype)
        need_x, need_w, need_b = _output_mask(output_mask, bias)
        gx = gw = gb = None
        if need_x:
            gx = ops.conv_input_grad(gy, weight, spec)
            if pad is not None:
                gx = ops.pad_backward(gx, x.shape, pad, mode)
            gx = _unbatch(gx, batched)
        if need_w:
            xp = ops.pad_forward(x, pad, mode) if pad is not None else x
            gw = ops.conv_weight_grad(xp, gy, spec)
        if need_b:
            gb = ops.conv_bias_grad(gy)
        return gx, gw, gb

    conv.__name__ = conv.__qualname__ = f"conv{nd}d"
    conv.__doc__ = f"""{nd}-d convolution (cross-correlation), as ``torch.nn.functional.conv{nd}d``.

    input (N, C_in, *{nd} sizes) or unbatched; weight (C_out, C_in/groups, *kernel); bias (C_out,) or None.
    padding: int, tuple of {nd} ints, tuple of {nd} (lo, hi) pairs, 'valid' or 'same' (any stride).
    padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'. Returns (N, C_out, *out).
    """
    conv_backward.__name__ = conv_backward.__qualname__ = f"conv{nd}d_backward"
    conv_backward.__doc__ = (
        f"Gradients of ``conv{nd}d`` for ``grad_output``: (grad_input, grad_weight, grad_bias or None). "
        "output_mask (3 bools) skips the gradients not asked for (None in their place)."
    )
    return conv, conv_backward


def _conv_transpose_setup(nd, input, weight, bias, stride, padding, output_padding, groups, dilation, padding_mode):
    xs, batched = _input(input, nd)
    ws, wdt = array_info(weight, "weight", ndims=(nd + 2,), what=f" (C_in, C_out/groups, {shapes._spatial_names(nd)})")
    bs = None
    if bias is not None:
        bs, bdt = array_info(bias, "bias", ndims=(1,))
        shapes.same_dtype([("input", input.dtype), ("weight", wdt), ("bias", bdt)])
    shapes.same_dtype([("input", input.dtype), ("weight", wdt)])
    mode = shapes.conv_padding_mode(padding_mode)
    lo, hi = shapes.conv_transpose_padding(padding, nd)
    pad = None
    if mode != "constant" and any(lo + hi):
        # The transpose of "pad with `mode`, then convolve": a transposed convolution without
        # padding, whose border rows are then folded back the way the padding copied them out.
        pad = _flat_pad(lo, hi)
    spec = shapes.conv_transpose_spec(xs, ws, nd, stride, 0 if pad else padding, output_padding, groups, dilation, bs)
    if pad is not None:
        out_shape = spec.x_nd[:2] + tuple(n - a - b for n, a, b in zip(spec.x_nd[2:], lo, hi))
        if min(out_shape[2:]) < 1:
            raise ValueError(
                f"the output would be empty: padding {padding!r} removes more than the transposed convolution's "
                f"unpadded output {spec.x_nd[2:]} holds (giving {out_shape[2:]})"
            )
        # The padding copies must stay inside the unpadded output (as pad() requires of its input).
        shapes.pad_tables(out_shape, pad, mode)
    else:
        out_shape = spec.x_nd
    return _shaped(input, xs), spec, batched, mode, pad, out_shape


def _make_conv_transpose(nd):
    def conv_transpose(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, padding_mode="zeros"):
        x, spec, batched, mode, pad, out_shape = _conv_transpose_setup(
            nd, input, weight, bias, stride, padding, output_padding, groups, dilation, padding_mode
        )
        if pad is None:
            return _unbatch(ops.conv_transpose_forward(x, weight, bias, spec), batched)
        y = ops.pad_backward(ops.conv_transpose_forward(x, weight, None, spec), out_shape, pad, mode)
        if bias is not None:
            y = ops.add_channel_bias(y, bias)
        return _unbatch(y, batched)

    def conv_transpose_backward(grad_output, input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                                dilation=1, padding_mode="zeros", output_mask=None):
        x, spec, batched, mode, pad, out_shape = _conv_transpose_setup(
            nd, input, weight, bias, stride, padding, output_padding, groups, dilation, padding_mode
        )
        gy = _grad(grad_output, out_shape, batched, input.dtype)
        need_x, need_w, need_b = _output_mask(output_mask, bias)
        gb = ops.conv_bias_grad(gy) if need_b else None
        if pad is not None:
            gy = ops.pad_forward(gy, pad, mode)
        gx = _unbatch(ops.conv_forward(gy, weight, None, spec), batched) if need_x else None  # the forward conv
        gw = ops.conv_weight_grad(gy, x, spec) if need_w else None  # shared weight gradient, input and output swapped
        return gx, gw, gb

    conv_transpose.__name__ = conv_transpose.__qualname__ = f"conv_transpose{nd}d"
    conv_transpose.__doc__ = f"""{nd}-d transposed convolution, as ``torch.nn.functional.conv_transpose{nd}d``.

    input (N, C_in, *{nd} sizes) or unbatched; weight (C_in, C_out/groups, *kernel); bias (C_out,) or None.
    out = (n-1)*stride - lo - hi + dilation*(k-1) + output_padding + 1. padding may be per side ((lo, hi), ...).
    padding_mode other than 'zeros' gives the transpose (adjoint) of conv{nd}d with that padding_mode.
    """
    conv_transpose_backward.__name__ = conv_transpose_backward.__qualname__ = f"conv_transpose{nd}d_backward"
    conv_transpose_backward.__doc__ = (
        f"Gradients of ``conv_transpose{nd}d`` for ``grad_output``: (grad_input, grad_weight, grad_bias or None). "
        "output_mask (3 bools) skips the gradients not asked for."
    )
    return conv_transpose, conv_transpose_backward


for _nd in (1, 2, 3):
    _export(*_make_conv(_nd), *_make_conv_transpose(_nd))


# ----------------------------------------------------------------------------- pooling


def _make_max_pool(nd):
    def setup(input, kernel_size, stride, padding, dilation, ceil_mode):
        xs, batched = _input(input, nd)
        spec = shapes.pool_spec(xs, nd, kernel_size, stride, padding, dilation, ceil_mode)
        return _shaped(input, xs), spec, batched

    def max_pool(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        return_indices = shapes.flag(return_indices, "return_indices")
        x, spec, batched = setup(input, kernel_size, stride, padding, dilation, ceil_mode)
        y, idx = ops.max_pool_forward(x, spec, indices=return_indices)
        return (_unbatch(y, batched), _unbatch(idx, batched)) if return_indices else _unbatch(y, batched)

    def max_pool_backward(grad_output, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, indices=None):
        x, spec, batched = setup(input, kernel_size, stride, padding, dilation, ceil_mode)
        gy = _grad(grad_output, spec.y_nd, batched, input.dtype)
        idx, windowed = (ops.max_pool_forward(x, spec)[1], True) if indices is None else \
            _indices(indices, spec.y_nd, batched, spec.x_shape[2:], spec=spec)
        return _unbatch(ops.max_pool_backward(gy, idx, spec, windowed), batched)

    max_pool.__name__ = max_pool.__qualname__ = f"max_pool{nd}d"
    max_pool.__doc__ = f"""{nd}-d max pooling, as ``torch.nn.functional.max_pool{nd}d``; NaN propagates.

    stride defaults to kernel_size; padding (implicit -inf) at most half the dilated window.
    With return_indices, also the int64 flat position of each max in its input plane.
    """
    max_pool_backward.__name__ = max_pool_backward.__qualname__ = f"max_pool{nd}d_backward"
    max_pool_backward.__doc__ = f"Gradient of ``max_pool{nd}d`` w.r.t. its input (indices are recomputed if not given)."
    return max_pool, max_pool_backward


def _indices(indices, expected_shape, batched, plane_shape, where="an input plane", name="indices", spec=None):
    """Check ``indices`` (shape, integer dtype, values in [0, plane)) before a kernel writes through
    them; the values are checked where they live (no copy to the host). Returns (indices reshaped
    to ``expected_shape``, True where each is known to name a tap of its own window of ``spec``)."""
    if isinstance(indices, _OwnIndices):  # from this op's own forward, never handed out: no pass over them
        return _shaped(indices.array, expected_shape), True
    dtype = shapes.array_dtype(indices, name)
    shape = tuple(indices.shape)
    expect = tuple(expected_shape) if batched else tuple(expected_shape[1:])
    if shape != expect:
        raise ValueError(f"{name} must have shape {expect} (the pooled output's), got {shape}")
    if dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array (as returned by return_indices=True), got dtype {indices.dtype}")
    plane = shapes.prod(plane_shape)
    if isinstance(indices, np.ndarray):
        if indices.dtype.kind == "u" and indices.size and int(indices.max()) >= plane:  # before int64 could wrap it
            raise ValueError(f"{name} must lie in [0, {plane}) (positions in {where} of {plane} elements); "
                             f"got values up to {int(indices.max())}")
        indices = indices.astype(np.int64, copy=False)
    indices = _shaped(indices, expected_shape)
    lo, hi, outside = ops.check_indices(indices, plane_shape, spec) if shapes.prod(shape) else (0, 0, None)
    if lo < 0 or hi >= plane:
        raise ValueError(
            f"{name} must lie in [0, {plane}) (positions in {where} of {plane} elements); "
            f"got values from {lo} to {hi}"
        )
    return indices, outside == 0


def _make_avg_pool(nd):
    def setup(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, dilation):
        xs, batched = _input(input, nd)
        spec = shapes.pool_spec(xs, nd, kernel_size, stride, padding, dilation, ceil_mode, count_include_pad)
        return _shaped(input, xs), spec, batched, shapes.divisor(divisor_override)

    def avg_pool(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None, dilation=1):
        x, spec, batched, override = setup(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                           divisor_override, dilation)
        return _unbatch(ops.avg_pool_forward(x, spec, override), batched)

    def avg_pool_backward(grad_output, input, kernel_size, stride=None, padding=0, ceil_mode=False,
                          count_include_pad=True, divisor_override=None, dilation=1):
        x, spec, batched, override = setup(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                           divisor_override, dilation)
        gy = _grad(grad_output, spec.y_nd, batched, input.dtype)
        return _unbatch(ops.avg_pool_backward(gy, spec, override), batched)

    avg_pool.__name__ = avg_pool.__qualname__ = f"avg_pool{nd}d"
    avg_pool.__doc__ = f"""{nd}-d average pooling, as ``torch.nn.functional.avg_pool{nd}d``, plus ``dilation``.

    The divisor is the number of taps inside the padded input (count_include_pad=True) or inside
    the input (False), or divisor_override.
    """
    avg_pool_backward.__name__ = avg_pool_backward.__qualname__ = f"avg_pool{nd}d_backward"
    avg_pool_backward.__doc__ = f"Gradient of ``avg_pool{nd}d`` w.r.t. its input."
    return avg_pool, avg_pool_backward


def _make_adaptive(nd):
    def setup(input, output_size):
        xs, batched = _input(input, nd)
        return _shaped(input, xs), shapes.adaptive_pool_spec(xs, nd, output_size), batched

    def adaptive_avg_pool(input, output_size):
        x, spec, batched = setup(input, output_size)
        return _unbatch(ops.avg_pool_forward(x, spec), batched)

    def adaptive_avg_pool_backward(grad_output, input, output_size):
        x, spec, batched = setup(input, output_size)
        gy = _grad(grad_output, spec.y_nd, batched, input.dtype)
        return _unbatch(ops.avg_pool_backward(gy, spec), batched)

    def adaptive_max_pool(input, output_size, return_indices=False):
        return_indices = shapes.flag(return_indices, "return_indices")
        x, spec, batched = setup(input, output_size)
        y, idx = ops.max_pool_forward(x, spec, indices=return_indices)
        return (_unbatch(y, batched), _unbatch(idx, batched)) if return_indices else _unbatch(y, batched)

    def adaptive_max_pool_backward(grad_output, input, output_size, indices=None):
        x, spec, batched = setup(input, output_size)
        gy = _grad(grad_output, spec.y_nd, batched, input.dtype)
        idx, windowed = (ops.max_pool_forward(x, spec)[1], True) if indices is None else \
            _indices(indices, spec.y_nd, batched, spec.x_shape[2:], spec=spec)
        return _unbatch(ops.max_pool_backward(gy, idx, spec, windowed), batched)

    fns = (adaptive_avg_pool, adaptive_avg_pool_backward, adaptive_max_pool, adaptive_max_pool_backward)
    for fn in fns:
        name = fn.__name__.replace("_pool", f"_pool{nd}d")
        fn.__name__ = fn.__qualname__ = name
    adaptive_avg_pool.__doc__ = (
        f"{nd}-d adaptive average pooling: window o of n inputs spans [floor(o*n/out), ceil((o+1)*n/out)). "
        "output_size: int or tuple (None keeps that size)."
    )
    adaptive_max_pool.__doc__ = f"{nd}-d adaptive max pooling (same windows as adaptive_avg_pool{nd}d); NaN propagates."
    adaptive_avg_pool_backward.__doc__ = f"Gradient of ``adaptive_avg_pool{nd}d`` w.r.t. its input."
    adaptive_max_pool_backward.__doc__ = f"Gradient of ``adaptive_max_pool{nd}d`` w.r.t. its input."
    return fns


def _make_max_unpool(nd):
    def setup(input, indices, kernel_size, stride, padding, output_size):
        xs, batched = _input(input, nd)
        out = shapes.unpool_output_size(xs, nd, kernel_size, stride, padding, output_size)
        idx, _ = _indices(indices, xs, batched, (1,) * (3 - nd) + tuple(out), f"an unpooled output of spatial size {out}")
        return _shaped(input, xs), idx, xs[:2] + out, batched

    def max_unpool(input, indices, kernel_size, stride=None, padding=0, output_size=None):
        x, idx, out_shape, batched = setup(input, indices, kernel_size, stride, padding, output_size)
        return _unbatch(ops.max_unpool_forward(x, idx, out_shape), batched)

    def max_unpool_backward(grad_output, input, indices, kernel_size, stride=None, padding=0, output_size=None):
        x, idx, out_shape, batched = setup(input, indices, kernel_size, stride, padding, output_size)
        gy = _grad(grad_output, out_shape, batched, input.dtype)
        return _unbatch(ops.max_unpool_backward(gy, idx), batched)

    max_unpool.__name__ = max_unpool.__qualname__ = f"max_unpool{nd}d"
    max_unpool.__doc__ = f"""{nd}-d max unpooling, as ``torch.nn.functional.max_unpool{nd}d``: each value goes to its index.

    Default output size (n-1)*stride - 2*padding + kernel_size; an explicit output_size must be within a stride of it.
    """
    max_unpool_backward.__name__ = max_unpool_backward.__qualname__ = f"max_unpool{nd}d_backward"
    max_unpool_backward.__doc__ = f"Gradient of ``max_unpool{nd}d`` w.r.t. its input (a gather at the indices)."
    return max_unpool, max_unpool_backward


def _fractional_samples(samples, x, xs, nd):
    """The (N, C, nd) host array of fractional pooling's samples: ``samples`` checked (shape,
    dtype, device, values in [0, 1)), or drawn from ``numconv.random.generator()`` (on the host
    whatever the device: the windows are a small host table, and a seed gives the same windows on
    every device)."""
    n = (xs[0], xs[1], nd)
    dtype = np.dtype(x.dtype)
    if samples is None:  # (images are float32 or float64, the dtypes Generator.random draws in [0, 1) directly)
        return _random.generator().random(n, dtype=dtype)
    samples = samples.data if isinstance(samples, Tensor) else samples
    shape, sdt = array_info(samples, "_random_samples")
    dispatch.backend(input=x, _random_samples=samples)
    if shape != n:
        raise ValueError(f"_random_samples must have shape {n} (batch, channels, one per spatial dimension), got {shape}")
    shapes.same_dtype([("input", dtype), ("_random_samples", sdt)])
    u = np.asarray(dispatch.to_host(samples))
    if u.size and not ((u >= 0) & (u < 1)).all():
        bad = u[~((u >= 0) & (u < 1))]
        raise ValueError(f"_random_samples must lie in [0, 1), got {bad.size} values outside it (e.g. {bad.flat[0]!r})")
    return u


def _make_fractional_max_pool(nd):
    def setup(input, kernel_size, output_size, output_ratio):
        xs, batched = _input(input, nd)
        kernel, outs = shapes.fractional_pool_params(xs, nd, kernel_size, output_size, output_ratio)
        return _shaped(input, xs), xs, kernel, xs[:2] + outs, batched

    def fractional_max_pool(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                            _random_samples=None):
        return_indices = shapes.flag(return_indices, "return_indices")
        x, xs, kernel, y_nd, batched = setup(input, kernel_size, output_size, output_ratio)
        starts = shapes.fractional_starts(_fractional_samples(_random_samples, x, xs, nd), xs[2:], y_nd[2:], kernel)
        y, idx = ops.fractional_max_pool_forward(x, starts, shapes.to3(kernel, 1), y_nd, indices=return_indices)
        return (_unbatch(y, batched), _unbatch(idx, batched)) if return_indices else _unbatch(y, batched)

    def fractional_max_pool_backward(grad_output, input, kernel_size, output_size=None, output_ratio=None,
                                     _random_samples=None, indices=None):
        x, xs, kernel, y_nd, batched = setup(input, kernel_size, output_size, output_ratio)
        gy = _grad(grad_output, y_nd, batched, input.dtype)
        if indices is None:
            if _random_samples is None:
                raise ValueError(f"fractional_max_pool{nd}d_backward needs the forward's indices or its _random_samples: "
                                 "without them its random windows are not known")
            idx = fractional_max_pool(x, kernel_size, y_nd[2:], None, True, _random_samples)[1]  # x is batched
        else:
            idx, _ = _indices(indices, y_nd, batched, shapes.to3(xs[2:], 1))
        return _unbatch(ops.fractional_max_pool_backward(gy, idx, xs), batched)

    name = f"fractional_max_pool{nd}d"
    fractional_max_pool.__name__ = fractional_max_pool.__qualname__ = name
    fractional_max_pool.__doc__ = f"""{nd}-d fractional max pooling (Graham 2014), as ``torch.nn.functional.{name}``.

    Windows of ``kernel_size`` start at pseudorandom positions (``numconv.shapes.fractional_starts``)
    so that the output has ``output_size``, or ``int(size * output_ratio)``, elements along each
    dimension: a pooling ratio between 1 and 2. The start positions are drawn per (sample, channel)
    from ``numconv.random`` at each call unless ``_random_samples`` (N, C, {nd}) in [0, 1), of the
    input's dtype, fixes them. NaN propagates. With return_indices, also the int64 flat position of
    each max in its input plane (for ``max_unpool{nd}d``).
    """
    fractional_max_pool_backward.__name__ = fractional_max_pool_backward.__qualname__ = f"{name}_backward"
    fractional_max_pool_backward.__doc__ = (f"Gradient of ``{name}`` w.r.t. its input, from the forward's ``indices`` "
                                            "(or, without them, its ``_random_samples``).")
    return fractional_max_pool, fractional_max_pool_backward


for _nd in (1, 2, 3):
    _export(*_make_max_pool(_nd), *_make_avg_pool(_nd), *_make_adaptive(_nd), *_make_max_unpool(_nd))
for _nd in (2, 3):
    _export(*_make_fractional_max_pool(_nd))


# ----------------------------------------------------------------------------- unfold / fold


def _unfold_setup(input, kernel_size, dilation, padding, stride):
    xs, _ = array_info(input, "input", ndims=(3, 4), what=" (N, C, H, W) or unbatched (C, H, W)")
    xs, batched = shapes.batched(xs, 2, "input")
    kernel, dilation, padding, stride = shapes.unfold_params(kernel_size, dilation, padding, stride)
    outs = shapes.block_counts(xs[2:], kernel, dilation, padding, stride)
    shapes.output_fits((xs[0], xs[1] * shapes.prod(kernel), shapes.prod(outs)), "unfold",
                       f"kernel_size={kernel}, padding={padding}")
    return input.reshape((xs[0], xs[1], 1) + xs[2:]), xs, batched, kernel, dilation, padding, stride, outs


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: (N, C, H, W) -> (N, C*kH*kW, L), each column one sliding block (L = OH*OW), as torch's unfold."""
    x5, xs, batched, k, d, p, s, outs = _unfold_setup(input, kernel_size, dilation, padding, stride)
    cols = ops.unfold_forward(x5, (1,) + k, (1,) + s, (0,) + p, (1,) + d, (1,) + outs)
    return _unbatch(cols.reshape((xs[0], xs[1] * shapes.prod(k), shapes.prod(outs))), batched)


def unfold_backward(grad_output, input, kernel_size, dilation=1, padding=0, stride=1):
    """Gradient of ``unfold`` w.r.t. its input: ``fold`` of the column gradient."""
    x5, xs, batched, k, d, p, s, outs = _unfold_setup(input, kernel_size, dilation, padding, stride)
    gy = _grad(grad_output, (xs[0], xs[1] * shapes.prod(k), shapes.prod(outs)), batched, input.dtype)
    gx = ops.fold_forward(gy.reshape(xs[:2] + (1,) + k + (1,) + outs), x5.shape, (1,) + s, (0,) + p, (1,) + d)
    return _unbatch(gx.reshape(xs), batched)


def _fold_setup(input, output_size, kernel_size, dilation, padding, stride):
    cs, _ = array_info(input, "input", ndims=(2, 3), what=" (N, C*kH*kW, L) or unbatched (C*kH*kW, L)")
    batched = len(cs) == 3
    cs = cs if batched else (1,) + cs
    kernel, dilation, padding, stride = shapes.unfold_params(kernel_size, dilation, padding, stride)
    size = shapes.positive(shapes.ntuple(output_size, 2, "output_size"), "output_size")
    shapes.output_fits((cs[0], cs[1] // shapes.prod(kernel) or 1) + size, "fold", f"output_size={size}")
    outs = shapes.block_counts(size, kernel, dilation, padding, stride, name="output_size")
    kk = shapes.prod(kernel)
    if cs[1] % kk:
        raise ValueError(f"input.shape[1]={cs[1]} must be divisible by the kernel's size prod{kernel}={kk}")
    if cs[2] != shapes.prod(outs):
        raise ValueError(
            f"input.shape[2]={cs[2]} must equal the number of sliding blocks {shapes.prod(outs)} = prod{outs} "
            f"for output_size={size}, kernel_size={kernel}, dilation={dilation}, padding={padding}, stride={stride}"
        )
    C = cs[1] // kk
    cols = input.reshape((cs[0], C, 1) + kernel + (1,) + outs)
    return cols, cs, (cs[0], C, 1) + size, batched, kernel, dilation, padding, stride


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im: (N, C*kH*kW, L) -> (N, C, *output_size), summing overlapping blocks; the adjoint of ``unfold``."""
    cols, cs, x5, batched, k, d, p, s = _fold_setup(input, output_size, kernel_size, dilation, padding, stride)
    x = ops.fold_forward(cols, x5, (1,) + s, (0,) + p, (1,) + d)
    return _unbatch(x.reshape(x5[:2] + x5[3:]), batched)


def fold_backward(grad_output, input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Gradient of ``fold`` w.r.t. its input: ``unfold`` of the output gradient."""
    cols, cs, x5, batched, k, d, p, s = _fold_setup(input, output_size, kernel_size, dilation, padding, stride)
    gy = _grad(grad_output, x5[:2] + x5[3:], batched, input.dtype)
    g = ops.unfold_forward(gy.reshape(x5), (1,) + k, (1,) + s, (0,) + p, (1,) + d, cols.shape[5:])
    return _unbatch(g.reshape(cs), batched)


_export(unfold, unfold_backward, fold, fold_backward)


# ----------------------------------------------------------------------------- pad


def pad(input, pad, mode="constant", value=None):
    """Pad the trailing ``len(pad)//2`` (at most 3) dimensions, as ``torch.nn.functional.pad``.

    pad = (last_lo, last_hi, second_last_lo, second_last_hi, ...); mode 'constant' (negative
    pads crop), 'reflect' (pad < size), 'replicate' or 'circular' (pad <= size).
    """
    array_info(input, "input")
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))):
        raise TypeError(f"value must be a real number (the constant to pad with), got {value!r}")
    if value is not None and value != 0 and mode != "constant":  # PyTorch takes a 0 with any mode
        raise ValueError(f"value={value!r} is only used with mode='constant', got mode={mode!r}")
    return ops.pad_forward(input, pad, mode, 0.0 if value is None else float(value))


def pad_backward(grad_output, input, pad, mode="constant", value=None):
    """Gradient of ``pad`` w.r.t. its input: each output gradient summed back into its source element."""
    xs, dt = array_info(input, "input")
    _, gdt = array_info(grad_output, "grad_output")
    shapes.same_dtype([("input", dt), ("grad_output", gdt)])
    return ops.pad_backward(grad_output, xs, pad, mode)


_export(pad, pad_backward)


# ----------------------------------------------------------------------------- interpolate


def _interpolate_setup(input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias):
    xs, dt = array_info(input, "input", ndims=(3, 4, 5), what=" (N, C, W), (N, C, H, W) or (N, C, D, H, W)")
    antialias = shapes.flag(antialias, "antialias")
    if antialias and mode not in ("bilinear", "bicubic"):
        raise ValueError(f"antialias=True is for the bilinear and bicubic modes (as in PyTorch), got mode={mode!r}")
    out, scales, corners = shapes.interpolate_params(xs[2:], size, scale_factor, mode, align_corners,
                                                     recompute_scale_factor)
    taps = 4 * sum(out) if not antialias else 2 * sum((int(np.ceil(max(n / m, 1) * 2)) * 2 + 1) * m
                                                      for n, m in zip(xs[2:], out))
    shapes.output_fits(xs[:2] + out, "interpolate", f"size={size!r}, scale_factor={scale_factor!r}", taps)
    if mode == "area":
        return xs, out, None
    tables = tuple(shapes.resample_table(n, m, mode, corners, s, np.dtype(dt), antialias)
                   for n, m, s in zip(xs[2:], out, scales))
    return xs, out, tables


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                antialias=False):
    """Resize the spatial dimensions of (N, C, *spatial), as ``torch.nn.functional.interpolate``.

    Give ``size`` (an int, or one per dimension) or ``scale_factor`` (output = floor(input * factor)).
    mode: 'nearest' (PyTorch's index rule, floor(j * in / out)), 'nearest-exact' (pixel centres),
    'linear' (3-d input), 'bilinear' / 'bicubic' (4-d), 'trilinear' (5-d), 'area' (adaptive average
    pooling). ``align_corners`` (linear modes only, default False) maps the corner pixels' centres
    onto each other instead of their outer edges. Every mode reads the pixels PyTorch reads with the
    weights it uses: one linear map per axis (``numconv.shapes.resample_table``), applied last axis first.
    'nearest' with a scale factor that leaves a size as it was (or doubles it) reads floor(j /
    scale_factor) in 1-d and 3-d, and copies pixel j (j // 2) in 2-d, as PyTorch's kernels do.
    ``antialias=True`` (bilinear, bicubic): when downsampling, the
    filter is widened by the shrink factor so every input pixel counts, as PyTorch's.
    """
    xs, out, tables = _interpolate_setup(input, size, scale_factor, mode, align_corners, recompute_scale_factor,
                                         antialias)
    if tables is None:
        return globals()[f"adaptive_avg_pool{len(xs) - 2}d"](input, out)
    return ops.resample_axes(input, tuple(forward for forward, _ in tables))


def interpolate_backward(grad_output, input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                         recompute_scale_factor=None, antialias=False):
    """Gradient of ``interpolate`` w.r.t. its input: each axis's transposed map, first axis first."""
    xs, out, tables = _interpolate_setup(input, size, scale_factor, mode, align_corners, recompute_scale_factor,
                                         antialias)
    if tables is None:
        return globals()[f"adaptive_avg_pool{len(xs) - 2}d_backward"](grad_output, input, out)
    gy = _grad(grad_output, xs[:2] + out, True, input.dtype)
    g = gy
    for d in range(len(tables)):  # the forward's axes in reverse: the last one it did comes first here
        g = ops.resample_axes(g, (None,) * d + (tables[d][1],) + (None,) * (len(tables) - d - 1))
    return g


_export(interpolate, interpolate_backward)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """``interpolate`` under its old name (deprecated in PyTorch, kept there too)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """``interpolate(mode='nearest')`` under its old name."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """``interpolate(mode='bilinear', align_corners=True)``: the old name's alignment, as PyTorch's."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


_export(upsample, upsample_nearest, upsample_bilinear)


# ============================================================================= autograd
# Each op above takes and returns arrays. Given any Tensor argument, it runs as one autograd
# Function per op family instead: the forward is the array op (which validates before any kernel
# runs), the backward its ``*_backward``, asked only for the gradients the graph needs.


def _any_tensor(args, kwargs):
    return any(isinstance(a, Tensor) for a in args) or any(isinstance(v, Tensor) for v in kwargs.values())


class _Conv(Function):
    """conv{1,2,3}d and conv_transpose{1,2,3}d: (input, weight, bias) -> output.

    The output is bilinear in (input, weight), B(x, w), plus the bias. Its double backward uses that:
    the input gradient ``_ConvInputGrad`` (g, w) and the weight gradient ``_ConvWeightGrad`` (x, g) are
    bilinear too, and the gradients of each are the forward and the other one again."""

    fresh_grads = True  # its backward's gradients are new arrays (ops' outputs)

    @staticmethod
    def forward(ctx, input, weight, bias, fn, backward, params):
        ctx.save_for_backward(input, weight, bias)
        ctx.fn, ctx.backward_fn, ctx.params = fn, backward, params
        return fn(input, weight, bias, **params)

    @staticmethod
    def backward(ctx, g):
        x, w, b = ctx.saved
        return ctx.backward_fn(g, x, w, b, output_mask=ctx.needs_input_grad, **ctx.params)

    @staticmethod
    def graph_backward(ctx, g):
        x, w, _ = ctx.saved
        nx, nw, nb = ctx.needs_input_grad
        spec = dict(fn=ctx.fn, backward=ctx.backward_fn, params=ctx.params)
        gx = _ConvInputGrad.apply(g, ctx.input(1, w), x, **spec) if nx else None
        gw = _ConvWeightGrad.apply(ctx.input(0, x), g, w, **spec) if nw else None
        channels = 1 if x.ndim == w.ndim else 0  # unbatched: (C, *sizes)
        gb = g.sum(tuple(a for a in range(g.ndim) if a != channels)) if nb else None
        return gx, gw, gb


class _ConvInputGrad(Function):
    """(grad_output, weight) -> a convolution's input gradient, for double backward: bilinear, as
    <gx(g, w), v> = <B(v, w), g>. ``input`` gives the shape only."""

    fresh_grads = True

    @staticmethod
    def forward(ctx, g, weight, input, fn, backward, params):
        ctx.save_for_backward(g, weight, input)
        ctx.fn, ctx.backward_fn, ctx.params = fn, backward, params
        return backward(g, input, weight, None, output_mask=(True, False, False), **params)[0]

    @staticmethod
    def backward(ctx, v):
        g, w, _ = ctx.saved
        ng, nw, _ = ctx.needs_input_grad
        dg = ctx.fn(v, w, None, **ctx.params) if ng else None  # B(v, w)
        dw = ctx.backward_fn(g, v, w, None, output_mask=(False, True, False), **ctx.params)[1] if nw else None
        return dg, dw, None

    @staticmethod
    def graph_backward(ctx, v):
        g, w, _ = ctx.saved
        ng, nw, _ = ctx.needs_input_grad
        spec = dict(fn=ctx.fn, backward=ctx.backward_fn, params=ctx.params)
        dg = _Conv.apply(v, ctx.input(1, w), None, **spec) if ng else None
        dw = _ConvWeightGrad.apply(v, ctx.input(0, g), w, **spec) if nw else None
        return dg, dw, None


class _ConvWeightGrad(Function):
    """(input, grad_output) -> a convolution's weight gradient, for double backward: bilinear, as
    <gw(x, g), v> = <B(x, v), g>. ``weight`` gives the shape only."""

    fresh_grads = True

    @staticmethod
    def forward(ctx, input, g, weight, fn, backward, params):
        ctx.save_for_backward(input, g, weight)
        ctx.fn, ctx.backward_fn, ctx.params = fn, backward, params
        return backward(g, input, weight, None, output_mask=(False, True, False), **params)[1]

    @staticmethod
    def backward(ctx, v):
        x, g, _ = ctx.saved
        nx, ng, _ = ctx.needs_input_grad
        dx = ctx.backward_fn(g, x, v, None, output_mask=(True, False, False), **ctx.params)[0] if nx else None
        dg = ctx.fn(x, v, None, **ctx.params) if ng else None  # B(x, v)
        return dx, dg, None

    @staticmethod
    def graph_backward(ctx, v):
        x, g, _ = ctx.saved
        nx, ng, _ = ctx.needs_input_grad
        spec = dict(fn=ctx.fn, backward=ctx.backward_fn, params=ctx.params)
        dx = _ConvInputGrad.apply(ctx.input(1, g), v, x, **spec) if nx else None
        dg = _Conv.apply(ctx.input(0, x), v, None, **spec) if ng else None
        return dx, dg, None


class _Window(Function):
    """One-input ops whose backward is ``backward(grad_output, input, **params)``: average and adaptive
    average pooling, unfold, fold, pad, interpolate. Each is linear in its input (pad's fill value
    aside), so its backward is too, and that backward's own gradient is the op again: ``_WindowGrad``."""

    @staticmethod
    def forward(ctx, input, fn, backward, params):
        ctx.save_for_backward(input)
        ctx.fn, ctx.backward_fn, ctx.params = fn, backward, params
        return fn(input, **params)

    @staticmethod
    def backward(ctx, g):
        return ctx.backward_fn(g, ctx.saved[0], **ctx.params)

    @staticmethod
    def graph_backward(ctx, g):
        return _WindowGrad.apply(g, ctx.saved[0], fn=ctx.fn, backward=ctx.backward_fn, params=ctx.params)


class _WindowGrad(Function):
    """A ``_Window`` op's backward as a Function of grad_output (``input`` gives the shape only): its
    gradient is the op, linear (a pad's fill value is 0 there)."""

    @staticmethod
    def forward(ctx, g, input, fn, backward, params):
        ctx.save_for_backward(input)
        ctx.fn, ctx.backward_fn = fn, backward
        ctx.params = dict(params, value=None) if params.get("value") else params
        return backward(g, input, **params)

    @staticmethod
    def backward(ctx, v):
        return ctx.fn(v, **ctx.params), None

    @staticmethod
    def graph_backward(ctx, v):
        return _Window.apply(v, fn=ctx.fn, backward=ctx.backward_fn, params=ctx.params), None


def _planes(shape, nd):
    """(the leading dimensions, the number of elements of a plane) of ``shape`` whose last ``nd`` dimensions
    form the planes a pooling index counts in."""
    return tuple(shape[:len(shape) - nd]), shapes.prod(shape[len(shape) - nd:])


def _scatter_planes(g, indices, shape, nd):
    """``g`` added into zeros of ``shape`` at the flat in-plane ``indices`` (a max pool's backward), as Tensor ops."""
    lead, plane = _planes(shape, nd)
    idx = M.reshape(indices, lead + (shapes.prod(indices.shape[len(lead):]),))
    zeros = Tensor._of(M.zeros(lead + (plane,), g.dtype, like=g.data))
    return IndexPutAdd.apply(zeros, g.reshape(idx.shape), index=_along_axis(idx, len(lead))).reshape(shape)


def _gather_planes(v, indices, nd):
    """``v``'s values at the flat in-plane ``indices`` (a max unpool's backward), as Tensor ops."""
    lead, plane = _planes(v.shape, nd)
    idx = M.reshape(indices, lead + (shapes.prod(indices.shape[len(lead):]),))
    return GetItem.apply(v.reshape(lead + (plane,)), _along_axis(idx, len(lead))).reshape(tuple(indices.shape))


class _OwnIndices:
    """Indices a max pool's forward wrote and nobody else saw (``_MaxPool`` without return_indices):
    its backward takes them without the pass over their values that user-given indices get."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


class _MaxPool(Function):
    """Max and adaptive max pooling: input -> (output, int64 indices); the backward reuses the indices.
    ``own``: the indices are not returned to the caller, so they are still exactly the forward's."""

    @staticmethod
    def forward(ctx, input, fn, backward, params, own=False):
        y, idx = fn(input, return_indices=True, **params)
        ctx.save_for_backward(input, idx)
        ctx.backward_fn, ctx.params, ctx.own = backward, params, own
        ctx.nd = int(fn.__name__[-2])  # max_pool2d, adaptive_max_pool3d, ...: the dimensions a plane has
        return y, idx

    @staticmethod
    def backward(ctx, g, _):
        x, idx = ctx.saved
        return ctx.backward_fn(g, x, indices=_OwnIndices(idx) if ctx.own else idx, **ctx.params)

    @staticmethod
    def graph_backward(ctx, g, _):
        x, idx = ctx.saved  # which element wins is flat in the input: the indices are constants here
        return _scatter_planes(g, idx, tuple(x.shape), ctx.nd)


class _MaxUnpool(Function):
    """(input, indices) -> unpooled output; differentiable in input."""

    @staticmethod
    def forward(ctx, input, indices, fn, backward, params):
        ctx.save_for_backward(input, indices)
        ctx.backward_fn, ctx.params = backward, params
        ctx.nd = int(fn.__name__[-2])
        return fn(input, indices, **params)

    @staticmethod
    def backward(ctx, g):
        x, idx = ctx.saved
        return ctx.backward_fn(g, x, idx, **ctx.params), None

    @staticmethod
    def graph_backward(ctx, g):
        _, idx = ctx.saved
        return _gather_planes(g, idx, ctx.nd), None


def _binder(fn):
    """``bind(args, kwargs)`` -> {name: value} of the arguments passed, as
    ``inspect.signature(fn).bind(*args, **kwargs).arguments``; the signature is read once here, and
    ``inspect`` runs per call only to word the TypeError of a call that does not fit."""
    sig = inspect.signature(fn)
    names = tuple(sig.parameters)
    known = frozenset(names)
    required = tuple(n for n, p in sig.parameters.items() if p.default is inspect.Parameter.empty)
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in sig.parameters.values()), fn

    def bind(args, kwargs):
        params = dict(zip(names, args))
        if len(args) > len(names) or not known.issuperset(kwargs) or not params.keys().isdisjoint(kwargs):
            sig.bind(*args, **kwargs)  # raises the TypeError that names the problem
        params.update(kwargs)
        if len(params) < len(names) and not all(n in params for n in required):
            sig.bind(*args, **kwargs)
        return params

    return bind


def _differentiable(fn, backward, family, arrays):
    """``fn`` unchanged on arrays; with a Tensor argument, ``family.apply`` over the ``arrays`` arguments."""
    bind = _binder(fn)

    @functools.wraps(fn)
    def op(*args, **kwargs):
        if not _any_tensor(args, kwargs):
            return fn(*args, **kwargs)
        params = bind(args, kwargs)
        inputs = [params.pop(name, None) for name in arrays]
        if family is _MaxPool:
            want_indices = params.pop("return_indices", False)
            y, idx = family.apply(*inputs, fn=fn, backward=backward, params=params, own=not want_indices)
            return (y, idx) if want_indices else y
        return family.apply(*inputs, fn=fn, backward=backward, params=params)

    return op


def _wrap(name, family, arrays):
    globals()[name] = _differentiable(globals()[name], globals()[f"{name}_backward"], family, arrays)


for _nd in (1, 2, 3):
    _wrap(f"conv{_nd}d", _Conv, ("input", "weight", "bias"))
    _wrap(f"conv_transpose{_nd}d", _Conv, ("input", "weight", "bias"))
    _wrap(f"max_pool{_nd}d", _MaxPool, ("input",))
    _wrap(f"adaptive_max_pool{_nd}d", _MaxPool, ("input",))
    _wrap(f"avg_pool{_nd}d", _Window, ("input",))
    _wrap(f"adaptive_avg_pool{_nd}d", _Window, ("input",))
    _wrap(f"max_unpool{_nd}d", _MaxUnpool, ("input", "indices"))
for _nd in (2, 3):
    _wrap(f"fractional_max_pool{_nd}d", _MaxPool, ("input",))
for _name in ("unfold", "fold", "pad", "interpolate"):
    _wrap(_name, _Window, ("input",))
del _nd, _name


# ============================================================================= layers' math, activations, losses
# Written over Tensors; given only arrays they run without a graph and return arrays.


def _arrays_in_arrays_out(fn):
    @functools.wraps(fn)
    def op(*args, **kwargs):
        if _any_tensor(args, kwargs):
            return fn(*args, **kwargs)
        with autograd.no_grad():
            out = fn(*args, **kwargs)
        return out.data if isinstance(out, Tensor) else out

    _export(op)
    return op


def _float(x, name, ndims=None, what=""):
    """``x`` (array or Tensor) as a Tensor, after checking it is float32/float64 with one of ``ndims`` dimensions."""
    array_info(x, name, ndims, what)
    return x if isinstance(x, Tensor) else Tensor(x)


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _same_device(**named):
    """Refuse arguments on different devices with a ValueError naming each (None and scalars skipped)."""
    M.same_device(**{k: _raw(v) for k, v in named.items() if hasattr(v, "shape")})


def _implicit_dim(ndim):
    return 0 if ndim in (0, 1, 3) else 1  # PyTorch's legacy choice when dim is None


@_arrays_in_arrays_out
def linear(input, weight, bias=None):
    """y = input @ weight.T + bias, as ``torch.nn.functional.linear``.

    input (*, in_features); weight (out_features, in_features); bias (out_features,) or None. Returns (*, out_features).
    """
    x = _float(input, "input")
    w = _float(weight, "weight", (2,), " (out_features, in_features)")
    _same_device(input=x, weight=w, bias=bias)
    pairs = [("input", x.dtype), ("weight", w.dtype)]
    if bias is not None:
        b = _float(bias, "bias", (1,), " (out_features,)")
        pairs.append(("bias", b.dtype))
        if b.shape[0] != w.shape[0]:
            raise ValueError(f"bias must have shape ({w.shape[0]},) (weight.shape[0]), got {b.shape}")
    shapes.same_dtype(pairs)
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"input's last dimension must be in_features={w.shape[1]} (weight.shape[1]), "
                         f"got input shape {x.shape}")
    return _Linear.apply(x, w, b if bias is not None else None)


class _Linear(Function):
    """(input, weight, bias or None) -> input @ weight.T + bias: one node for what would be a
    reshape, a transpose, a product, an add and a reshape, since a small network's step runs it
    several times and each node costs microseconds of Python."""

    fresh_grads = True  # its backward's gradients are new arrays (ops' outputs)

    @staticmethod
    def forward(ctx, x, w, b):
        x2 = M.reshape(x, (shapes.prod(x.shape[:-1]), w.shape[1]))  # not -1: in_features may be 0
        nx, nw, _ = ctx.needs_input_grad
        ctx.save_for_backward(x2 if nw else None, w if nx else None)  # each gradient needs the other side
        ctx.x_shape, ctx.rows, ctx.out_features = tuple(x.shape), x2.shape[0], w.shape[0]
        y = M.matmul(x2, M.transpose(w, (1, 0)))
        if b is not None:
            y = M.add(y, b)
        return M.reshape(y, ctx.x_shape[:-1] + (w.shape[0],))

    @staticmethod
    def backward(ctx, g):
        x2, w = ctx.saved
        nx, nw, nb = ctx.needs_input_grad
        g2 = M.reshape(g, (ctx.rows, ctx.out_features))  # not -1: out_features may be 0
        gx = M.reshape(M.matmul(g2, w), ctx.x_shape) if nx else None
        gw = M.matmul(M.swapaxes(g2, 0, 1), x2) if nw else None
        gb = M.sum(g2, axis=0) if nb else None
        return gx, gw, gb

    @staticmethod
    def graph_backward(ctx, g):
        x2, w = ctx.saved
        nx, nw, nb = ctx.needs_input_grad
        g2 = g.reshape((ctx.rows, ctx.out_features))
        gx = (g2 @ ctx.input(1, w)).reshape(ctx.x_shape) if nx else None
        gw = g2.swapaxes(0, 1) @ ctx.input(0, x2).reshape(x2.shape) if nw else None
        gb = g2.sum(0) if nb else None
        return gx, gw, gb


def _written_back(x, inplace, fn):
    """``fn(x)``, or with ``inplace`` that result written into ``x``'s memory and ``x`` returned (PyTorch's
    in-place activations; recorded by autograd as ``x.relu_()`` is)."""
    if not shapes.flag(inplace, "inplace"):
        return fn(x)
    return x._inplace(lambda t, _: fn(t), None)


@_arrays_in_arrays_out
def relu(input, inplace=False):
    """max(input, 0); with ``inplace`` written into input, which is returned."""
    x = _float(input, "input")
    return x.relu_() if shapes.flag(inplace, "inplace") else x.relu()


@_arrays_in_arrays_out
def sigmoid(input):
    """1 / (1 + exp(-input)), without overflow."""
    return _float(input, "input").sigmoid()


@_arrays_in_arrays_out
def tanh(input):
    return _float(input, "input").tanh()


def _cast(input, dtype, what):
    """``input`` as a Tensor of floating ``dtype`` (the ``dtype=`` of softmax: cast before the op), or as it is."""
    if dtype is None:
        return input
    dtype = shapes.float_dtype(dtype, f"{what} dtype")
    if not isinstance(input, Tensor):
        if not (hasattr(input, "shape") and hasattr(input, "dtype")):
            raise TypeError(f"input must be an array (numpy.ndarray, numconv.Tensor or CUDA array), got {type(input).__name__}")
        input = Tensor(input)
    return input.astype(dtype)


@_arrays_in_arrays_out
def softmax(input, dim=None, *, dtype=None):
    """exp(x - max) / sum(exp(x - max)) along ``dim`` (None: PyTorch's legacy implicit choice);
    ``dtype``: cast the input to it first."""
    x = _float(_cast(input, dtype, "softmax"), "input")
    return x.softmax(_implicit_dim(x.ndim) if dim is None else dim)


@_arrays_in_arrays_out
def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """A sample from the Gumbel-softmax (concrete) distribution over ``dim``, as
    ``torch.nn.functional.gumbel_softmax``: softmax((logits + g) / tau) with g Gumbel(0, 1) noise
    (from ``numconv.random.generator()``; on a device, drawn there). ``hard``: the one-hot vector of
    its largest entry, with the soft sample's gradient (straight-through). ``eps`` is unused, as in
    PyTorch."""
    x = _float(logits, "logits")
    tau = shapes.real(tau, "tau", 0.0, lo_open=True)
    dim = _dim(dim, x.ndim)
    u = M.uniform(_random.generator(), x.shape, x.dtype, like=x.data)
    tiny = float(np.finfo(x.dtype).tiny)
    exponential = M.maximum(M.negative(M.log1p(M.negative(u))), tiny)  # -log(1 - U) > 0: Exp(1)
    y = ((x + Tensor(M.negative(M.log(exponential)))) / tau).softmax(dim)
    if not shapes.flag(hard, "hard"):
        return y
    one_hot = Tensor(M.zeros(x.shape, x.dtype, like=x.data)).scatter(dim, y.detach().argmax(dim, keepdim=True), 1.0)
    return one_hot - y.detach() + y


@_arrays_in_arrays_out
def log_softmax(input, dim=None, *, dtype=None):
    """x - max - log(sum(exp(x - max))) along ``dim``: stable for any logits; ``dtype``: cast the input to it first."""
    x = _float(_cast(input, dtype, "log_softmax"), "input")
    return x.log_softmax(_implicit_dim(x.ndim) if dim is None else dim)


# ----------------------------------------------------------------------------- more activations
# Each is y = f(x) elementwise, forward and backward one pass of a kernel each, the formula and its
# derivative written once for both backends in ``numconv.kernels.scalar`` (``ops.activation``); the
# gradient at the kinks is PyTorch's.


class _Pointwise(Function):
    """y = ``ops.activation(name, x, *params)``; dx = ``ops.activation_backward(name, g, x, *params)``."""

    fresh_grads = True

    @staticmethod
    def forward(ctx, x, name, params):
        ctx.save_for_backward(x)
        ctx.name, ctx.params = name, params
        return M.activation(name, x, *params)

    @staticmethod
    def backward(ctx, g):
        x = ctx.saved[0]
        if g.dtype != x.dtype:
            g = M.astype(g, x.dtype)
        return M.activation_backward(ctx.name, g, x, *ctx.params)

    @staticmethod
    def graph_backward(ctx, g):
        x = ctx.saved[0]
        return _PointwiseGrad.apply(g.astype(x.dtype), ctx.input(0, x), name=ctx.name, params=ctx.params)


class _PointwiseGrad(Function):
    """(g, x) -> g * f'(x), an activation's backward, for double backward: its gradients are
    v * f'(x) for g and v * g * f''(x) for x (``_second_derivative``). No third derivative."""

    fresh_grads = True

    @staticmethod
    def forward(ctx, g, x, name, params):
        ctx.save_for_backward(g, x)
        ctx.name, ctx.params = name, params
        return M.activation_backward(name, g, x, *params)

    @staticmethod
    def backward(ctx, v):
        g, x = ctx.saved
        ng, nx = ctx.needs_input_grad
        dg = M.activation_backward(ctx.name, v, x, *ctx.params) if ng else None
        dx = M.multiply(M.multiply(v, g), _second_derivative(ctx.name, x, *ctx.params)) if nx else None
        return dg, dx


def _second_derivative(name, x, p0=0.0, p1=0.0):
    """f''(x) of the activation ``name`` (formulas and first derivatives in ``numconv.kernels.scalar``),
    as array ops: 0 for the piecewise-linear ones, and where the first derivative is flat."""
    inside = None  # where a formula holds; 0 elsewhere
    if name in ("leaky_relu", "hardtanh", "hardsigmoid"):
        return M.zeros(tuple(x.shape), x.dtype, like=x)
    if name in ("elu", "selu", "celu"):  # for x <= 0: a exp(x / s); flat above
        a, s = (p0, 1.0) if name == "elu" else (SELU_ALPHA_PRIME, 1.0) if name == "selu" else (1.0 / p0, p0)
        inside = M.compare("le", x, 0)
        value = M.multiply(M.exp(M.divide(M.minimum(x, 0), s)), a)
    elif name == "gelu":  # phi(x) (2 - x^2)
        phi = M.multiply(M.exp(M.multiply(M.multiply(x, x), -0.5)), 1.0 / np.sqrt(2 * np.pi))
        value = M.multiply(phi, M.subtract(2.0, M.multiply(x, x)))
    elif name == "gelu_tanh":  # q (4 u' + 4 x u'^2 (1 - 2s) + 12 c k x^2), s = sigmoid(2u), q = s (1 - s)
        c, k = np.sqrt(2 / np.pi), 0.044715
        x2 = M.multiply(x, x)
        s = M.sigmoid(M.multiply(M.multiply(x, M.add(M.multiply(x2, k), 1.0)), 2 * c))
        q = M.multiply(s, M.subtract(1.0, s))
        du = M.multiply(M.add(M.multiply(x2, 3 * k), 1.0), c)
        value = M.multiply(q, M.add(M.add(M.multiply(du, 4.0), M.multiply(x2, 12 * c * k)),
                                    M.multiply(M.multiply(M.multiply(x, M.multiply(du, du)), 4.0),
                                               M.subtract(1.0, M.multiply(s, 2.0)))))
    elif name == "silu":  # s (1 - s) (2 + x (1 - 2s))
        s = M.sigmoid(x)
        value = M.multiply(M.multiply(s, M.subtract(1.0, s)), M.add(M.multiply(x, M.subtract(1.0, M.multiply(s, 2.0))), 2.0))
    elif name == "softplus":  # beta s (1 - s), s = sigmoid(beta x), where beta x <= threshold
        s = M.sigmoid(M.multiply(x, p0))
        inside = M.compare("le", M.multiply(x, p0), p1)
        value = M.multiply(M.multiply(s, M.subtract(1.0, s)), p0)
    elif name == "hardswish":  # 1/3 inside (-3, 3)
        inside = M.logical_and(M.compare("gt", x, -3.0), M.compare("lt", x, 3.0))
        value = M.full_like(x, 1.0 / 3.0)
    elif name == "mish":  # 2w + x w (1 - s - 2 t s), w = s (1 - t^2), s = sigmoid(x), t = tanh(softplus(x))
        s = M.sigmoid(x)
        t = M.tanh(M.add(M.maximum(x, 0), M.log1p(M.exp(M.negative(M.abs(x))))))
        w = M.multiply(s, M.subtract(1.0, M.multiply(t, t)))
        value = M.add(M.multiply(w, 2.0), M.multiply(M.multiply(x, w),
                                                     M.subtract(M.subtract(1.0, s), M.multiply(M.multiply(t, s), 2.0))))
    else:
        raise NotImplementedError(f"create_graph=True: the activation {name!r} has no second derivative yet")
    value = M.astype(value, x.dtype) if value.dtype != x.dtype else value
    return value if inside is None else M.where(inside, value, M.zeros((), x.dtype, like=x))


def _activation(input, name, *params):
    return _Pointwise.apply(_float(input, "input"), name=name, params=params)


@_arrays_in_arrays_out
def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x where x > 0, else negative_slope * x."""
    slope = shapes.real(negative_slope, "negative_slope")
    return _written_back(_float(input, "input"), inplace, lambda x: _activation(x, "leaky_relu", slope))


@_arrays_in_arrays_out
def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """The randomized leaky ReLU (Xu et al. 2015), as ``torch.nn.functional.rrelu``: in training each
    element at or below 0 is multiplied by its own slope drawn uniformly from [lower, upper) (from
    ``numconv.random.generator()``; on a device, drawn there), the gradient being that slope;
    otherwise a leaky ReLU with slope (lower + upper) / 2."""
    lower, upper = shapes.real(lower, "lower"), shapes.real(upper, "upper")
    if lower > upper:
        raise ValueError(f"rrelu: lower={lower} must be at most upper={upper}")
    x = _float(input, "input")
    if not shapes.flag(training, "training"):
        return leaky_relu(x, (lower + upper) / 2, inplace)
    drawn = M.add(M.multiply(M.uniform(_random.generator(), x.shape, x.dtype, like=x.data), upper - lower), lower)
    slope = Tensor(M.where(M.compare("le", x.data, 0), drawn, M.ones((), x.dtype, like=x.data)))
    return x.mul_(slope) if shapes.flag(inplace, "inplace") else x * slope


@_arrays_in_arrays_out
def elu(input, alpha=1.0, inplace=False):
    """x where x > 0, else alpha * (exp(x) - 1)."""
    alpha = shapes.real(alpha, "alpha")
    return _written_back(_float(input, "input"), inplace, lambda x: _activation(x, "elu", alpha))


GELU_APPROXIMATIONS = ("none", "tanh")


@_arrays_in_arrays_out
def gelu(input, approximate="none"):
    """x * Phi(x), Phi the standard normal CDF (erf); approximate='tanh' uses the tanh approximation."""
    if approximate not in GELU_APPROXIMATIONS:
        raise ValueError(f"approximate must be one of {GELU_APPROXIMATIONS}, got {approximate!r}")
    return _activation(input, "gelu" if approximate == "none" else "gelu_tanh")


@_arrays_in_arrays_out
def silu(input, inplace=False):
    """x * sigmoid(x) (also called swish)."""
    return _written_back(_float(input, "input"), inplace, lambda x: _activation(x, "silu"))


@_arrays_in_arrays_out
def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clipped to [min_val, max_val]; its gradient is 0 at and beyond the bounds."""
    lo, hi = shapes.real(min_val, "min_val"), shapes.real(max_val, "max_val")
    if lo > hi:
        raise ValueError(f"min_val must not exceed max_val, got min_val={min_val!r} and max_val={max_val!r}")
    return _written_back(_float(input, "input"), inplace, lambda x: _activation(x, "hardtanh", lo, hi))


@_arrays_in_arrays_out
def relu6(input, inplace=False):
    """min(max(x, 0), 6): ``hardtanh(input, 0, 6)``."""
    return hardtanh(input, 0.0, 6.0, inplace)


@_arrays_in_arrays_out
def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, a smooth ReLU; x itself where beta * x > threshold."""
    beta = shapes.real(beta, "beta")
    if beta == 0:
        raise ValueError("beta must not be 0 (softplus divides by it)")
    return _activation(input, "softplus", beta, shapes.real(threshold, "threshold"))


@_arrays_in_arrays_out
def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6 (MobileNetV3's cheap swish)."""
    return _written_back(_float(input, "input"), inplace, lambda x: _activation(x, "hardswish"))


@_arrays_in_arrays_out
def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6, a piecewise-linear sigmoid."""
    return _written_back(_float(input, "input"), inplace, lambda x: _activation(x, "hardsigmoid"))


@_arrays_in_arrays_out
def mish(input, inplace=False):
    """x * tanh(softplus(x)) (Misra 2019)."""
    return _written_back(_float(input, "input"), inplace, lambda x: _activation(x, "mish"))


@_arrays_in_arrays_out
def selu(input, inplace=False):
    """scale * (x if x > 0 else alpha * (exp(x) - 1)), alpha and scale the self-normalizing constants."""
    return _written_back(_float(input, "input"), inplace, lambda x: _activation(x, "selu"))


@_arrays_in_arrays_out
def celu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x / alpha) - 1)."""
    alpha = shapes.real(alpha, "alpha")
    if alpha == 0:
        raise ValueError("alpha must not be 0 (celu divides by it)")
    return _written_back(_float(input, "input"), inplace, lambda x: _activation(x, "celu", alpha))


# ----------------------------------------------------------------------------- activations composed from Tensor ops
# As torch.nn.functional's, built from differentiable Tensor operations (no kernels of their own); at
# the kinks (x = threshold, |x| = lambd) the gradient is PyTorch's, 0.


@_arrays_in_arrays_out
def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x) = min(x, 0) - log1p(exp(-|x|)): exact and finite for every finite x."""
    return -_Softplus.apply(-_float(input, "input"))


@_arrays_in_arrays_out
def softsign(input):
    """x / (1 + |x|)."""
    x = _float(input, "input")
    return x / (x.abs() + 1)


@_arrays_in_arrays_out
def tanhshrink(input):
    """x - tanh(x)."""
    x = _float(input, "input")
    return x - x.tanh()


@_arrays_in_arrays_out
def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value (NaN stays NaN, as PyTorch's); with ``inplace`` written into
    input, which is returned."""
    th, value = shapes.real(threshold, "threshold"), shapes.real(value, "value")
    return _written_back(_float(input, "input"), inplace, lambda x: where(M.compare("le", x.data, th), value, x))


def _inplace_twin(fn):
    """PyTorch's ``F.<name>_``: ``fn`` with ``inplace=True``, its other arguments as ``fn``'s."""
    def twin(input, *args, **kwargs):
        if "inplace" in kwargs:
            raise TypeError(f"{fn.__name__}_() changes its input in place; it takes no inplace argument")
        return fn(input, *args, inplace=True, **kwargs)

    twin.__name__ = twin.__qualname__ = fn.__name__ + "_"
    twin.__doc__ = f"``{fn.__name__}(input, ..., inplace=True)``: written into ``input``, which is returned."
    _export(twin)
    return twin


for _fn in (relu, elu, leaky_relu, hardtanh, selu, celu, threshold, rrelu):
    _inplace_twin(_fn)
del _fn


@_arrays_in_arrays_out
def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0 (NaN stays NaN, with a zero gradient, as PyTorch's)."""
    lambd = shapes.real(lambd, "lambd")
    x = _float(input, "input")
    return _nan_kept(x, where(M.compare("gt", M.abs(x.data), lambd), x, 0.0))


def _nan_kept(x, y):
    """``y`` with NaN wherever ``x`` is NaN; no gradient flows there (the shrinks' comparisons sent it to 0)."""
    return where(M.compare("ne", x.data, x.data), np.nan, y)


@_arrays_in_arrays_out
def softshrink(input, lambd=0.5):
    """x - lambd where x > lambd, x + lambd where x < -lambd, else 0 (lambd >= 0; NaN stays NaN, with a
    zero gradient, as PyTorch's)."""
    lambd = shapes.real(lambd, "lambd", 0.0)
    x = _float(input, "input")
    return _nan_kept(x, where(M.compare("gt", x.data, lambd), x - lambd,
                              where(M.compare("lt", x.data, -lambd), x + lambd, 0.0)))


@_arrays_in_arrays_out
def glu(input, dim=-1):
    """a * sigmoid(b), a and b the first and second halves of input along ``dim`` (whose size must be even)."""
    x = _float(input, "input")
    if x.ndim == 0:
        raise ValueError("glu: input must have at least one dimension (it halves one), got a 0-d array")
    axis = _dim(dim, x.ndim)
    size = x.shape[axis]
    if size % 2:
        raise ValueError(f"glu halves dimension {dim} of input, whose size must be even, got {size} "
                         f"(input shape {x.shape})")
    a, b = x.split(size // 2, axis)
    return a * b.sigmoid()


@_arrays_in_arrays_out
def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along ``dim`` (None: PyTorch's legacy implicit choice); ``dtype``: cast the input to it first."""
    x = _float(_cast(input, dtype, "softmin"), "input")
    return (-x).softmax(_implicit_dim(x.ndim) if dim is None else dim)


# ----------------------------------------------------------------------------- norms, one-hot, similarities
# Where a norm is 0 its gradient is PyTorch's subgradient, 0: each power or root is taken of a safe value
# (1) there and its result replaced by a ``where``, so the unused branch gets a zero gradient, not NaN.


def _norm_order(p, name="p"):
    """``p`` as a float: a real number, or +-inf."""
    if isinstance(p, (float, np.floating)) and np.isinf(p):
        return float(p)
    return shapes.real(p, name)


def _safe_pow(t, nonzero, exponent, zero_value=0.0):
    """t ** exponent where ``nonzero`` (an array), else ``zero_value``, with no gradient from the rest."""
    return where(nonzero, where(nonzero, t, 1.0) ** exponent, zero_value)


def _vector_norm(x, p, dim, keepdim):
    """||x||_p over ``dim``, as ``torch.linalg.vector_norm`` (p = 0 counts non-zeros; p < 0 allowed);
    its gradient 0 where the norm is 0."""
    a = x.abs()
    if p == np.inf:
        return a.amax(dim, keepdim)
    if p == -np.inf:
        return a.amin(dim, keepdim)
    if p == 0:  # the count of non-zeros, in the graph (as PyTorch's) with a zero gradient
        nonzero = M.compare("ne", x.data, 0)
        return where(M.logical_not(nonzero), a, M.astype(nonzero, x.dtype)).sum(dim, keepdim)
    if p == 1:
        return a.sum(dim, keepdim)
    if p == 2:
        s = (x * x).sum(dim, keepdim)
    else:
        s = _safe_pow(a, M.compare("gt", a.data, 0), p, 0.0 if p > 0 else np.inf).sum(dim, keepdim)
    if p < 0:
        return s ** (1.0 / p)  # |0|^p = inf gives a norm of 0, as PyTorch's
    return _safe_pow(s, M.compare("gt", s.data, 0), 1.0 / p)


def _dim(dim, ndim, name="dim"):
    axis = shapes.integer(dim, name)
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ValueError(f"{name} must be in [{-max(ndim, 1)}, {max(ndim, 1) - 1}] for a {ndim}-d input, got {dim!r}")
    return axis


@_arrays_in_arrays_out
def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p, eps), the p-norm taken over ``dim``, as ``torch.nn.functional.normalize``."""
    p, eps = _norm_order(p), shapes.real(eps, "eps")
    if out is not None:
        raise ValueError("normalize: out= is not supported; use the returned value")
    x = _float(input, "input")
    dim = _dim(dim, x.ndim)
    if x.ndim == 0:
        x = x.reshape(1)  # a 0-d input is one vector of one element, as PyTorch's norm takes it
        return (x / _vector_norm(x, p, 0, True).clamp(min=eps)).reshape(())
    return x / _vector_norm(x, p, dim, True).clamp(min=eps)


@_arrays_in_arrays_out
def one_hot(tensor, num_classes=-1):
    """int64 array of ``tensor.shape + (num_classes,)``, 1 at each value's index, else 0, as
    ``torch.nn.functional.one_hot``; num_classes=-1: one more than the largest value. tensor: int64 class
    indices in [0, num_classes)."""
    num_classes = shapes.integer(num_classes, "num_classes", -1)
    t = _raw(tensor)
    if not (hasattr(t, "shape") and hasattr(t, "dtype")):
        raise TypeError(f"tensor must be an int64 array or Tensor, got {type(tensor).__name__}")
    if np.dtype(t.dtype) != np.int64:
        raise TypeError(f"one_hot needs int64 class indices (as PyTorch's), got tensor of dtype {t.dtype}")
    if num_classes == -1 and t.size == 0:
        raise ValueError("one_hot cannot infer num_classes from an empty tensor; pass num_classes")
    lo, hi = (int(v) for v in M.extremes(t)) if t.size else (0, -1)  # on a device: reduced there
    if num_classes == -1:
        num_classes = hi + 1
    if lo < 0:
        raise ValueError(f"one_hot class values must be non-negative, got {lo}")
    if hi >= num_classes:
        raise ValueError(f"one_hot class values must be smaller than num_classes={num_classes}, got {hi}")
    shapes.output_fits(tuple(t.shape) + (num_classes,), "one_hot", f"num_classes={num_classes}")
    classes = M.to_device(np.arange(num_classes, dtype=np.int64), dispatch.device_of(t))
    return Tensor(M.astype(M.compare("eq", M.reshape(t, tuple(t.shape) + (1,)), classes), np.int64))


def _straight_clamp(n, eps):
    """max(n, eps) with n's gradient passed through unchanged (PyTorch clamps cosine_similarity's norms
    outside autograd)."""
    return where(M.compare("lt", n.data, eps), n - n.detach() + eps, n)


@_arrays_in_arrays_out
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(||x1||, eps) max(||x2||, eps)) along ``dim`` of the broadcast shape, which the
    result drops, as ``torch.nn.functional.cosine_similarity`` (computed, as PyTorch's, as
    sum((x1 / max(||x1||, eps)) * (x2 / max(||x2||, eps))), the clamps outside autograd)."""
    eps = shapes.real(eps, "eps", 0.0)
    a, b = _floats(x1=x1, x2=x2)
    shape = _broadcast(x1=a, x2=b)
    dim = _dim(dim, len(shape))
    a, b = (t if t.shape == shape else t.expand(*shape) for t in (a, b))
    if len(shape) == 0:
        a, b, dim = a.reshape(1), b.reshape(1), 0
    n1, n2 = (_straight_clamp(_vector_norm(t, 2.0, dim, True), eps) for t in (a, b))
    return ((a / n1) * (b / n2)).sum(dim)


@_arrays_in_arrays_out
def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dimension of the broadcast shape, as
    ``torch.nn.functional.pairwise_distance`` (0-d inputs: |x1 - x2 + eps|)."""
    p, eps, keepdim = _norm_order(p), shapes.real(eps, "eps"), shapes.flag(keepdim, "keepdim")
    a, b = _floats(x1=x1, x2=x2)
    _broadcast(x1=a, x2=b)
    d = a - b + eps
    if d.ndim == 0:
        return _vector_norm(d.reshape(1), p, 0, False)
    return _vector_norm(d, p, -1, keepdim)


@_arrays_in_arrays_out
def pdist(input, p=2.0):
    """The p-norm distance between every pair of rows i < j of ``input`` (N, M), in the order
    (0, 1), (0, 2), ..., (1, 2), ...: N (N - 1) / 2 values, as ``torch.nn.functional.pdist`` (p >= 0;
    the gradient where two rows coincide is 0)."""
    p = _norm_order(p)
    if p < 0:
        raise ValueError(f"pdist: p must be >= 0, got {p}")
    x = _float(input, "input", (2,), " (N, M)")
    first, second = np.triu_indices(x.shape[0], 1)
    rows = lambda idx: Tensor(M.to_device(idx.astype(np.int64), x.device))  # noqa: E731
    d = x.index_select(0, rows(first)) - x.index_select(0, rows(second))
    return _vector_norm(d, p, -1, False)


@_arrays_in_arrays_out
def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o], as
    ``torch.nn.functional.bilinear``: input1 (*, in1), input2 (*, in2) with the same leading
    dimensions, weight (out, in1, in2), bias (out,) or None."""
    w = _float(weight, "weight", (3,), " (out_features, in1_features, in2_features)")
    a, b = _float(input1, "input1"), _float(input2, "input2")
    named = dict(input1=a, input2=b, weight=w) | ({} if bias is None else {"bias": _float(bias, "bias", (1,))})
    shapes.same_dtype([(k, t.dtype) for k, t in named.items()])
    _same_device(**named)
    out, in1, in2 = w.shape
    if a.ndim == 0 or b.ndim == 0 or a.shape[:-1] != b.shape[:-1] or a.shape[-1] != in1 or b.shape[-1] != in2:
        raise ValueError(f"bilinear: input1 {a.shape} and input2 {b.shape} must share their leading dimensions and end "
                         f"in in1_features={in1} and in2_features={in2} (weight {w.shape})")
    if bias is not None and named["bias"].shape != (out,):
        raise ValueError(f"bilinear: bias must have shape ({out},), got {named['bias'].shape}")
    lead = a.shape[:-1]
    n = shapes.prod(lead)
    a2, b2 = a.reshape(n, in1), b.reshape(n, in2)
    mixed = (a2 @ w.permute(1, 0, 2).reshape(in1, out * in2)).reshape(n, out, in2)  # sum_i a_i w[o, i, j]
    y = (mixed * b2.reshape(n, 1, in2)).sum(-1)
    if bias is not None:
        y = y + named["bias"]
    return y.reshape(lead + (out,))


class _Prelu(Function):
    """x where x > 0, else w * x, with ``w`` one slope or one per channel (axis 1)."""

    fresh_grads = True

    @staticmethod
    def forward(ctx, x, w):
        n = shapes.prod(w.shape)
        wb = M.reshape(w, (1, n) + (1,) * (x.ndim - 2)) if x.ndim >= 2 and n > 1 else M.reshape(w, ())
        ctx.save_for_backward(x, wb)
        ctx.w_shape = tuple(w.shape)
        return M.where(M.compare("gt", x, 0), x, M.multiply(x, wb))

    @staticmethod
    def backward(ctx, g):
        x, wb = ctx.saved
        nx, nw = ctx.needs_input_grad
        pos = M.compare("gt", x, 0)
        gx = M.where(pos, g, M.multiply(g, wb)) if nx else None
        gw = None
        if nw:
            gw = M.reshape(M.sum_to(M.where(pos, M.zeros((), g.dtype, like=g), M.multiply(g, x)), wb.shape),
                           ctx.w_shape)
        return gx, gw

    @staticmethod
    def graph_backward(ctx, g):
        x, wb = ctx.saved
        nx, nw = ctx.needs_input_grad
        pos = Tensor._of(M.compare("gt", x, 0))  # which side is flat in x: a constant here
        wt = ctx.input(1, wb).reshape(wb.shape)
        gx = where(pos, g, g * wt) if nx else None
        gw = where(pos, 0.0, g * ctx.input(0, x)).sum_to_size(wb.shape).reshape(ctx.w_shape) if nw else None
        return gx, gw


@_arrays_in_arrays_out
def prelu(input, weight):
    """x where x > 0, else weight * x; weight 0-d or (1,) shared, or (C,) one slope per channel (input's axis 1)."""
    x = _float(input, "input")
    w = _float(weight, "weight", (0, 1), ": a slope (), (1,) or (C,)")
    shapes.same_dtype([("input", x.dtype), ("weight", w.dtype)])
    _same_device(input=x, weight=w)
    channels = x.shape[1] if x.ndim >= 2 else 1
    if w.ndim and w.shape[0] not in (1, channels):
        raise ValueError(f"weight must have 1 or C={channels} (input.shape[1]) elements, got shape {w.shape} "
                         f"for input shape {x.shape}")
    return _Prelu.apply(x, w)


# ----------------------------------------------------------------------------- dropout

DROPOUT_MODES = ("upscale_in_train", "downgrade_in_infer")


def _dropout(input, p, training, inplace, mode, mask_shape):
    p = shapes.real(p, "dropout probability p", 0.0, 1.0)
    if mode not in DROPOUT_MODES:
        raise ValueError(f"mode must be one of {DROPOUT_MODES}, got {mode!r}")
    shapes.flag(training, "training")
    x = input

    def scaled(factor):  # x * factor, or x scaled in place (autograd records it, as PyTorch's inplace=True)
        return x.mul_(factor) if shapes.flag(inplace, "inplace") else x * factor

    if not training:
        return x if mode == "upscale_in_train" or p == 0.0 else scaled(1.0 - p)
    if p == 0.0:
        return x
    if p == 1.0:  # every element dropped, as PyTorch (no 1/(1-p) to scale by)
        return scaled(0.0)
    # on a device input the mask is drawn there (a different stream from the CPU's: numconv.ops.math)
    keep = M.compare("ge", M.uniform(_random.generator(), mask_shape(x.shape), x.dtype, like=_raw(x)), p)
    mask = M.astype(keep, x.dtype)
    if mode == "upscale_in_train":
        mask = M.multiply(mask, 1.0 / (1.0 - p))
    return scaled(Tensor(mask))


@_arrays_in_arrays_out
def dropout(input, p=0.5, training=True, inplace=False, mode="upscale_in_train"):
    """Zero each element with probability ``p`` (draws from ``numconv.random.generator()``; a device input's
    mask is drawn on the device, reproducible under ``numconv.manual_seed`` but not the CPU's mask).

    mode 'upscale_in_train': kept elements scaled by 1/(1-p) in training, identity otherwise (PyTorch's);
    'downgrade_in_infer': no scaling in training, multiplied by (1-p) otherwise. ``inplace``: change
    ``input`` itself and return it.
    """
    return _dropout(_float(input, "input"), p, training, inplace, mode, lambda s: s)


SELU_ALPHA_PRIME = 1.7580993408473766  # SELU's scale * alpha: the value SELU tends to at -infinity, negated


def _alpha_dropout(x, p, training, inplace, mask_shape):
    """SELU's dropout (Klambauer et al. 2017), as PyTorch's: a dropped value becomes SELU's negative
    saturation -alpha', then every value is a * v + b with a and b that keep zero mean and unit
    variance: a = 1 / sqrt((alpha'^2 p + 1)(1 - p)), b = a alpha' p."""
    p = shapes.real(p, "dropout probability p", 0.0, 1.0)
    inplace = shapes.flag(inplace, "inplace")
    if not shapes.flag(training, "training") or p == 0.0 or x.numel() == 0:
        return x
    if p == 1.0:  # every value dropped, as PyTorch (a would be infinite)
        return x.mul_(0.0) if inplace else x * 0.0
    keep = M.astype(M.compare("ge", M.uniform(_random.generator(), mask_shape(x.shape), x.dtype, like=x.data), p),
                    x.dtype)
    a = 1.0 / np.sqrt((SELU_ALPHA_PRIME ** 2 * p + 1.0) * (1.0 - p))
    scale = Tensor(M.multiply(keep, a))
    shift = Tensor(M.add(M.multiply(M.subtract(keep, 1.0), SELU_ALPHA_PRIME * a), SELU_ALPHA_PRIME * a * p))
    return x.mul_(scale).add_(shift) if inplace else x * scale + shift


@_arrays_in_arrays_out
def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for self-normalizing (SELU) networks, as ``torch.nn.functional.alpha_dropout`` (whose
    ``training`` defaults to False): each value dropped with probability p is set to SELU's negative
    saturation, and all are then scaled and shifted to keep zero mean and unit variance."""
    return _alpha_dropout(_float(input, "input"), p, training, inplace, lambda s: s)


@_arrays_in_arrays_out
def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """``alpha_dropout`` of whole channels: one draw per (sample, channel) of input (N, C, *)."""
    x = _float(input, "input")
    if x.ndim < 2:
        raise ValueError(f"feature_alpha_dropout: input must have at least 2 dimensions (N, C, ...), got {x.shape}")
    return _alpha_dropout(x, p, training, inplace, lambda s: s[:2] + (1,) * (len(s) - 2))


def _make_feature_dropout(nd):
    dims = ("L", "H, W", "D, H, W")[nd - 1]

    def feature_dropout(input, p=0.5, training=True, inplace=False, mode="upscale_in_train"):
        x = _float(input, "input", (nd + 1, nd + 2), f" (N, C, {dims}) or unbatched (C, {dims})")
        lead = 2 if x.ndim == nd + 2 else 1
        return _dropout(x, p, training, inplace, mode, lambda s: s[:lead] + (1,) * (len(s) - lead))

    feature_dropout.__name__ = feature_dropout.__qualname__ = f"dropout{nd}d"
    feature_dropout.__doc__ = f"""Zero whole channels with probability ``p``: input (N, C, {dims}) or unbatched
    (C, {dims}); one draw per (sample, channel), the kept channels scaled as ``dropout`` scales them."""
    return _arrays_in_arrays_out(feature_dropout)  # (which exports it under its name)


for _nd in (1, 2, 3):
    _make_feature_dropout(_nd)
del _nd


# ----------------------------------------------------------------------------- batch normalization


class _BatchNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias per channel (axis 1); statistics over every other axis.

    Training: batch statistics (biased variance), running statistics updated in place with the
    unbiased variance; the input gradient flows through the batch mean and variance. Evaluation:
    running statistics, a per-channel affine map. Fused kernels on either device (``ops.norm``);
    the saved statistics are float64.
    """

    fresh_grads = True  # its backward's gradients are new arrays (ops' outputs)

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        ctx.training, ctx.eps, ctx.bias = training, eps, bias
        y, mean, invstd = ops.batch_norm_forward(x, weight, bias, running_mean, running_var, training, eps)
        if training:
            ops.batch_norm_update_running(running_mean, running_var, mean, invstd, x.size // x.shape[1], momentum, eps)
        ctx.save_for_backward(x, mean, invstd, weight)
        return y

    @staticmethod
    def backward(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad
        x, mean, invstd, weight = ctx.saved
        gx, gw, gb = ops.batch_norm_backward(g, x, mean, invstd, weight, ctx.training, need_x)
        return gx, (gw if need_w else None), (gb if need_b else None)

    @staticmethod
    def graph_backward(ctx, g):
        x, mean, invstd, weight = ctx.saved

        def composite(x, weight, bias):
            axes = (0,) + tuple(range(2, x.ndim))
            if ctx.training:
                d = x - x.mean(axes, keepdim=True)
                y = d / ((d * d).mean(axes, keepdim=True) + ctx.eps).sqrt()
            else:
                y = (x - Tensor._of(_per_channel(M.astype(mean, x.dtype), x.ndim))) * \
                    Tensor._of(_per_channel(M.astype(invstd, x.dtype), x.ndim))
            return _channel_affine(y, weight, bias)

        return autograd.recomputed_grads(ctx, (g,), composite, x, weight, ctx.bias)


def _per_channel(a, ndim):
    """A (C,) array or Tensor shaped to broadcast along axis 1 of an ``ndim``-dimensional one."""
    shape = (1, a.shape[0]) + (1,) * (ndim - 2)
    return a.reshape(shape) if isinstance(a, Tensor) else M.reshape(a, shape)


def _channel_affine(y, weight, bias):
    """y * weight + bias along axis 1, as Tensor ops (either may be None)."""
    if weight is not None:
        y = y * _per_channel(weight, y.ndim)
    return y if bias is None else y + _per_channel(bias, y.ndim)


@_arrays_in_arrays_out
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalization over axis 1 of input (N, C, *), as ``torch.nn.functional.batch_norm``.

    running_mean/running_var (C,) arrays or Tensors (or None), updated in place when training:
    r = (1 - momentum) * r + momentum * batch statistic (the variance unbiased). weight/bias (C,) or None.
    """
    x = _float(input, "input")
    if x.ndim < 2:
        raise ValueError(f"input must have shape (N, C, *), got shape {x.shape}")
    C = x.shape[1]
    training = shapes.flag(training, "training")
    _norm_args(x, running_mean, running_var, weight, bias, training)
    if not training and running_mean is None:
        raise ValueError("running_mean and running_var must be given when training=False")
    momentum = shapes.real(momentum, "momentum")  # any finite number, as PyTorch's
    # training divides by sqrt(var + eps) with var possibly 0: eps > 0 there, as in PyTorch; eps >= 0 otherwise
    eps = shapes.real(eps, "eps (when training)" if training else "eps", 0.0, lo_open=training)
    if training and x.shape[0] * shapes.prod(x.shape[2:]) == 1:
        raise ValueError(f"expected more than 1 value per channel when training, got input shape {x.shape}")
    if x.numel() == 0:  # an empty batch: no statistics to take, the running ones left as they are (PyTorch's)
        weight, bias = (v if v is None or isinstance(v, Tensor) else Tensor(v) for v in (weight, bias))
        return _scale_shift(x * 1, weight, bias, (C,) + (1,) * (x.ndim - 2))
    out = _BatchNorm.apply(x, weight, bias, running_mean=_raw(running_mean), running_var=_raw(running_var),
                           training=training, momentum=momentum, eps=eps)
    if training:  # the running statistics changed in place: a graph that saved them must see it (PyTorch's
        # does not count this change, and its backward then silently reads the new values)
        for r in (running_mean, running_var):
            if isinstance(r, Tensor):
                r._written()
    return out


def _norm_args(x, running_mean, running_var, weight, bias, updates):
    """The checks batch_norm and instance_norm share: running_mean, running_var, weight and bias (C,)
    (C = input.shape[1]) or None, of the input's dtype and device, the running statistics both given or
    both None, and writable where the call ``updates`` them."""
    C = x.shape[1]
    pairs = [("input", x.dtype)]
    for name, v in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if v is not None:
            shape, dt = array_info(v, name, (1,))
            if shape != (C,):
                raise ValueError(f"{name} must have shape ({C},) (input.shape[1]), got {shape}")
            pairs.append((name, dt))
    shapes.same_dtype(pairs)
    _same_device(input=x, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    if (running_mean is None) != (running_var is None):
        given = "running_mean" if running_var is None else "running_var"
        raise ValueError(f"running_mean and running_var must either both be None or neither be None, got only {given}")
    for name, v in (("running_mean", running_mean), ("running_var", running_var)):
        if updates and isinstance(_raw(v), np.ndarray) and not _raw(v).flags.writeable:
            raise ValueError(f"{name} is read-only, but training updates it in place; pass a writable copy")

def _instance_running_update(x, running_mean, running_var, momentum):
    """running = (1 - momentum) running + momentum * (the batch's average of each sample's channel mean,
    and unbiased variance, over its positions), in place, as PyTorch's instance_norm updates them."""
    a = M.astype(_raw(x), np.float64)
    axes = tuple(range(2, a.ndim))
    mean = M.mean(a, axis=axes)  # (N, C)
    d = M.subtract(a, M.reshape(mean, tuple(mean.shape) + (1,) * len(axes)))
    var = M.divide(M.sum(M.multiply(d, d), axis=axes), shapes.prod(a.shape[2:]) - 1)
    for running, stat in ((_raw(running_mean), mean), (_raw(running_var), var)):
        new = M.add(M.multiply(M.astype(running, np.float64), 1.0 - momentum), M.multiply(M.mean(stat, axis=0), momentum))
        M.assign(running, M.astype(new, running.dtype))


@_arrays_in_arrays_out
def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalize each sample's channels over their positions, as ``torch.nn.functional.instance_norm``:
    input (N, C, *). ``use_input_stats``: y = (x - mean) / sqrt(var + eps) * weight + bias with each
    (sample, channel)'s own mean and biased variance (a group norm of C groups), and running_mean /
    running_var (C,), when given, updated in place with the batch's averages of those statistics (the
    variance unbiased); otherwise the running statistics, as ``batch_norm`` in evaluation."""
    x = _float(input, "input")
    if x.ndim < 3:
        raise ValueError(f"input must have shape (N, C, *) with at least one dimension of positions, got shape {x.shape}")
    if not shapes.flag(use_input_stats, "use_input_stats"):
        return batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps)
    _norm_args(x, running_mean, running_var, weight, bias, True)
    momentum = shapes.real(momentum, "momentum")
    if shapes.prod(x.shape[2:]) == 1:
        raise ValueError(f"expected more than 1 position per channel when use_input_stats=True, got input shape {x.shape}")
    if running_mean is not None and x.numel():
        _instance_running_update(x, running_mean, running_var, momentum)
    return group_norm(x, x.shape[1], weight, bias, eps)


@_arrays_in_arrays_out
def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Local response normalization across channels (Krizhevsky et al.'s LRN), as
    ``torch.nn.functional.local_response_norm``: input (N, C, *),
    y[c] = x[c] / (k + alpha / size * sum of x[c']^2 over c' in [c - size//2, c + (size-1)//2])^beta,
    channels beyond the edges counting as 0. Built from pad and avg_pool2d."""
    x = _float(input, "input")
    if x.ndim < 3:
        raise ValueError(f"input must have shape (N, C, *) with at least 3 dimensions, got shape {x.shape}")
    size = shapes.integer(size, "size", 1)
    alpha, beta, k = (shapes.real(v, name) for v, name in ((alpha, "alpha"), (beta, "beta"), (k, "k")))
    if x.numel() == 0:
        return x * 1
    N, C = x.shape[:2]
    squares = (x * x).reshape(N, 1, C, -1)  # the positions in one dimension: the window runs over channels only
    window = avg_pool2d(pad(squares, (0, 0, size // 2, (size - 1) // 2)), (size, 1), stride=1)
    return x / (window.reshape(*x.shape) * alpha + k) ** beta


# ----------------------------------------------------------------------------- layer, group and RMS normalization
# Each normalizes runs of elements by their own statistics: batch_norm's training pass (its fused
# kernels, statistics in float64) over the input seen as (1, runs, elements per run), then the
# elementwise affine map.


def _normalize_runs(x, runs, eps):
    """(x - mean) / sqrt(var + eps) over each of ``runs`` equal runs of ``x``'s elements in memory
    order (biased variance), without running statistics or affine map. A run of one element
    normalizes to 0 (NaN where it is not finite), as in PyTorch."""
    per = x.numel() // runs if runs else 0
    if per <= 1:
        with np.errstate(invalid="ignore"):  # inf - inf: NaN, as PyTorch's (without a warning)
            return x - x
    y = _BatchNorm.apply(x.reshape(1, runs, per), None, None, running_mean=None, running_var=None,
                         training=True, momentum=0.0, eps=eps)
    return y.reshape(*x.shape)


def _affine(x, weight, bias, shape, where):
    """The (weight, bias) pair checked against ``shape`` and x's dtype and device, as Tensors or None."""
    pairs, out = [("input", x.dtype)], []
    for name, v in (("weight", weight), ("bias", bias)):
        if v is not None:
            got, dt = array_info(v, name)
            if got != shape:
                raise ValueError(f"{name} must have shape {shape} ({where}), got {got}")
            pairs.append((name, dt))
            v = v if isinstance(v, Tensor) else Tensor(v)
        out.append(v)
    shapes.same_dtype(pairs)
    _same_device(input=x, weight=weight, bias=bias)
    return out


def _scale_shift(y, weight, bias, shape):
    """y * weight + bias, the parameters reshaped to ``shape`` to broadcast over y."""
    if weight is not None:
        y = y * weight.reshape(*shape)
    if bias is not None:
        y = y + bias.reshape(*shape)
    return y


class _ChannelAffine(Function):
    """y = x * weight[c] + bias[c] along axis 1 (either may be None): batch_norm's evaluation kernels
    with mean 0 and invstd 1, one fused pass each way (gweight = sum g x, gbias = sum g)."""

    fresh_grads = True

    @staticmethod
    def forward(ctx, x, weight, bias):
        C = x.shape[1]
        ctx.stats = M.zeros((C,), np.float64, like=x), M.ones((C,), np.float64, like=x)
        ctx.save_for_backward(x, weight)
        ctx.bias = bias
        return ops.channel_affine(x, weight, bias, *ctx.stats)

    @staticmethod
    def backward(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad
        x, weight = ctx.saved
        gx, gw, gb = ops.batch_norm_backward(g, x, *ctx.stats, weight, False, need_x)
        return gx, (gw if need_w else None), (gb if need_b else None)

    @staticmethod
    def graph_backward(ctx, g):
        x, weight = ctx.saved
        return autograd.recomputed_grads(ctx, (g,), _channel_affine, x, weight, ctx.bias)


def _normalized_shape(x, normalized_shape):
    shape = shapes.sizes(normalized_shape, "normalized_shape")
    if not shape or x.shape[x.ndim - len(shape):] != shape or len(shape) > x.ndim:
        raise ValueError(f"normalized_shape {shape} must be the last dimensions of input, got input shape {x.shape}")
    return shape


@_arrays_in_arrays_out
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the last ``len(normalized_shape)`` dimensions, as ``torch.nn.functional.layer_norm``:
    y = (x - mean) / sqrt(var + eps) * weight + bias, mean and (biased) var over those dimensions,
    separately for every index of the leading ones; weight and bias have shape ``normalized_shape``."""
    x = _float(input, "input")
    shape = _normalized_shape(x, normalized_shape)
    weight, bias = _affine(x, weight, bias, shape, "normalized_shape")
    eps = shapes.real(eps, "eps", 0.0)
    D = shapes.prod(shape)
    if 2 <= D <= ops.GROUP_NORM_ROW and x.numel():  # short rows: one fused pass each way
        return _GroupNorm.apply(x, weight, bias, groups=None, shape=shape, eps=eps)
    y = _normalize_runs(x, shapes.prod(x.shape[:x.ndim - len(shape)]), eps)
    return _scale_shift(y, weight, bias, shape)


def _fused_norm(x, groups, per):
    """Whether a group norm over ``groups`` groups of ``per`` values takes the fused kernels
    (``_GroupNorm``) rather than batch norm's runs and then the affine map: groups of 2 to
    ``ops.GROUP_NORM_ROW`` values, and on the CPU longer ones where there are ``ops.GROUP_NORM_TASKS``
    groups per thread or more (on a device the fused kernels take a thread per group's statistics;
    a layer norm's long rows stay with the runs, whose backward sums no per-position weight
    gradient over parts: 3.1 ms against 6.0 forward+backward on (32, 64, 28, 28))."""
    if per < 2:
        return False
    if per <= ops.GROUP_NORM_ROW:
        return True
    return dispatch.device_of(x.data) == dispatch.CPU and groups >= ops.GROUP_NORM_TASKS * dispatch.threads()


class _GroupNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over groups of values: a group norm's groups of
    channels (``groups`` of them, weight and bias per channel), or a layer norm's rows (``groups``
    None; weight and bias per position of the trailing ``shape``). The fused kernels of
    ``ops.norm``, one pass each way; float64 statistics."""

    fresh_grads = True

    @staticmethod
    def forward(ctx, x, weight, bias, groups, shape, eps):
        ctx.groups, ctx.shape, ctx.eps, ctx.bias = groups, shape, eps, bias
        if groups is None:
            y, mean, invstd = ops.layer_norm_forward(x, shapes.prod(shape), weight, bias, eps)
        else:
            y, mean, invstd = ops.group_norm_forward(x, groups, weight, bias, eps)
        ctx.stats = mean, invstd
        ctx.save_for_backward(x, weight)
        return y

    @staticmethod
    def backward(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad
        x, weight = ctx.saved
        if ctx.groups is None:
            gx, gw, gb = ops.layer_norm_backward(g, x, shapes.prod(ctx.shape), *ctx.stats, weight, need_x)
        else:
            gx, gw, gb = ops.group_norm_backward(g, x, ctx.groups, *ctx.stats, weight, need_x)
        return gx, (M.reshape(gw, ctx.shape) if need_w else None), (M.reshape(gb, ctx.shape) if need_b else None)

    @staticmethod
    def graph_backward(ctx, g):
        x, weight = ctx.saved

        def composite(x, weight, bias):
            if ctx.groups is None:  # rows: the trailing ``shape``
                rows = x.reshape(x.shape[:x.ndim - len(ctx.shape)] + (-1,))
            else:
                rows = x.reshape(x.shape[0], ctx.groups, -1)
            d = rows - rows.mean(-1, keepdim=True)
            y = (d / ((d * d).mean(-1, keepdim=True) + ctx.eps).sqrt()).reshape(x.shape)
            if ctx.groups is not None:
                return _channel_affine(y, weight, bias)
            y = y if weight is None else y * weight
            return y if bias is None else y + bias

        return autograd.recomputed_grads(ctx, (g,), composite, x, weight, ctx.bias)


@_arrays_in_arrays_out
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalize groups of channels, as ``torch.nn.functional.group_norm``: input (N, C, *) with C a
    multiple of ``num_groups``; mean and (biased) var over each sample's C / num_groups channels of a
    group and all their positions; then weight and bias (C,) per channel. num_groups=1 is a layer
    norm over (C, *) with per-channel affine, num_groups=C an instance norm."""
    x = _float(input, "input")
    if x.ndim < 2:
        raise ValueError(f"input must have shape (N, C, *), got shape {x.shape}")
    C = x.shape[1]
    num_groups = shapes.integer(num_groups, "num_groups", 1)
    if C % num_groups:
        raise ValueError(f"the number of channels C={C} (input.shape[1]) must be a multiple of num_groups={num_groups}")
    weight, bias = _affine(x, weight, bias, (C,), "one per channel, input.shape[1]")
    eps = shapes.real(eps, "eps", 0.0)
    if x.shape[0] * (C // num_groups) * shapes.prod(x.shape[2:]) == 1:  # PyTorch's condition
        raise ValueError(f"expected more than 1 value per group, got input shape {x.shape} with "
                         f"num_groups={num_groups} (a batch of one value per group)")
    per = x.numel() // (x.shape[0] * num_groups) if x.numel() else 0
    if _fused_norm(x, x.shape[0] * num_groups, per):  # one fused pass each way
        return _GroupNorm.apply(x, weight, bias, groups=num_groups, shape=(C,), eps=eps)
    y = _normalize_runs(x, x.shape[0] * num_groups, eps)
    if weight is None and bias is None:
        return y
    if y.numel() == 0:
        return _scale_shift(y, weight, bias, (C,) + (1,) * (x.ndim - 2))
    return _ChannelAffine.apply(y, weight, bias)


@_arrays_in_arrays_out
def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) * weight over the last ``len(normalized_shape)`` dimensions, as
    ``torch.nn.functional.rms_norm``; eps None is the dtype's machine epsilon. A weight of the other
    float dtype is cast to the input's, the output's dtype."""
    x = _float(input, "input")
    shape = _normalized_shape(x, normalized_shape)
    if weight is not None:  # cast to the input's dtype, which the output keeps, as PyTorch's
        weight = _float(weight, "weight").astype(x.dtype)
    weight, _ = _affine(x, weight, None, shape, "normalized_shape")
    eps = float(np.finfo(x.dtype).eps) if eps is None else shapes.real(eps, "eps", 0.0)
    dims = tuple(range(x.ndim - len(shape), x.ndim))
    y = x / ((x * x).mean(dims, keepdim=True) + eps).sqrt() if x.numel() else x * 1
    return _scale_shift(y, weight, None, shape)


# ----------------------------------------------------------------------------- built from the ops above


def _shuffle_args(input, factor, name):
    x = _float(input, "input")
    if x.ndim < 3:
        raise ValueError(f"input must have shape (*, C, H, W), got shape {x.shape}")
    return x, shapes.integer(factor, name, 1)


@_arrays_in_arrays_out
def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r), as ``torch.nn.functional.pixel_shuffle``: output
    [c, h r + i, w r + j] = input[c r^2 + i r + j, h, w] (the sub-pixel convolution's upsampling)."""
    x, r = _shuffle_args(input, upscale_factor, "upscale_factor")
    *lead, C, H, W = x.shape
    if C % (r * r):
        raise ValueError(f"input's channels C={C} (dimension {x.ndim - 3}) must be a multiple of "
                         f"upscale_factor^2={r * r}")
    n = len(lead)
    y = x.reshape(*lead, C // (r * r), r, r, H, W).permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return y.reshape(*lead, C // (r * r), H * r, W * r)


@_arrays_in_arrays_out
def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of ``pixel_shuffle``, as
    ``torch.nn.functional.pixel_unshuffle``."""
    x, r = _shuffle_args(input, downscale_factor, "downscale_factor")
    *lead, C, H, W = x.shape
    if H % r or W % r:
        raise ValueError(f"input's height {H} and width {W} must be multiples of downscale_factor={r}")
    n = len(lead)
    y = x.reshape(*lead, C, H // r, r, W // r, r).permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return y.reshape(*lead, C * r * r, H // r, W // r)


@_arrays_in_arrays_out
def channel_shuffle(input, groups):
    """(N, C, *) with C = groups * k: channel g * k + i moves to i * groups + g, as
    ``torch.nn.functional.channel_shuffle`` (ShuffleNet's mixing of grouped convolutions' outputs)."""
    x = _float(input, "input")
    if x.ndim < 3:
        raise ValueError(f"input must have shape (N, C, *) with at least one spatial dimension, got shape {x.shape}")
    g = shapes.integer(groups, "groups", 1)
    N, C, *rest = x.shape
    if C % g:
        raise ValueError(f"input's channels C={C} must be a multiple of groups={g}")
    return x.reshape(N, g, C // g, *rest).transpose(1, 2).reshape(N, C, *rest)


def _make_lp_pool(nd):
    avg_pool = globals()[f"avg_pool{nd}d"]

    def lp_pool(input, norm_type, kernel_size, stride=None, ceil_mode=False):
        x = _float(input, "input")
        p = shapes.real(norm_type, "norm_type", 0.0, lo_open=True)
        taps = shapes.prod(shapes.ntuple(kernel_size, nd, "kernel_size"))
        ceil_mode = shapes.flag(ceil_mode, "ceil_mode")
        with np.errstate(invalid="ignore"):  # a negative x to a fractional p: NaN, as PyTorch's (no warning)
            s = avg_pool(x ** p, kernel_size, stride, 0, ceil_mode) * taps
        # a window of zeros gives 0 with a gradient of 0, not the 0 * inf of s^(1/p) there (PyTorch's rule)
        zero = s == 0
        return where(zero, 0.0, where(zero, 1.0, s) ** (1.0 / p))

    lp_pool.__name__ = lp_pool.__qualname__ = f"lp_pool{nd}d"
    lp_pool.__doc__ = f"""{nd}-d power-average pooling, as ``torch.nn.functional.lp_pool{nd}d``:
    (sum over each window of x^norm_type)^(1 / norm_type), no padding; norm_type 1 is sum pooling
    and a large one tends to max pooling. PyTorch's formula: ``avg_pool{nd}d(x^p) * taps``, so
    with ``ceil_mode`` a window cut by the edge is scaled as if it were whole."""
    return _arrays_in_arrays_out(lp_pool)  # (which exports it under its name)


def _make_with_indices(nd):
    max_pool, adaptive = globals()[f"max_pool{nd}d"], globals()[f"adaptive_max_pool{nd}d"]

    def max_pool_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                              return_indices=True):
        return max_pool(input, kernel_size, stride, padding, dilation, ceil_mode=ceil_mode, return_indices=True)

    def adaptive_max_pool_with_indices(input, output_size, return_indices=True):
        return adaptive(input, output_size, return_indices=True)

    fns = [(max_pool_with_indices, f"max_pool{nd}d_with_indices"),
           (adaptive_max_pool_with_indices, f"adaptive_max_pool{nd}d_with_indices")]
    if nd > 1:
        fractional = globals()[f"fractional_max_pool{nd}d"]

        def fractional_max_pool_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                             return_indices=True, _random_samples=None):
            return fractional(input, kernel_size, output_size, output_ratio, True, _random_samples)

        fns.append((fractional_max_pool_with_indices, f"fractional_max_pool{nd}d_with_indices"))
    for fn, name in fns:
        fn.__name__ = fn.__qualname__ = name
        fn.__doc__ = f"``{name[:-13]}`` with ``return_indices=True``: (output, indices), as torch's ``{name}``."
    return tuple(fn for fn, _ in fns)


for _nd in (1, 2, 3):
    _make_lp_pool(_nd)
    _export(*_make_with_indices(_nd))
del _nd


class _Embedding(Function):
    """Rows of ``weight`` (V, D) picked by integer ``index``; the gradient adds up per row, in index
    order (no atomics), and skips ``padding_idx``'s row."""

    fresh_grads = True

    @staticmethod
    def forward(ctx, weight, index, padding_idx, scale_grad_by_freq):
        ctx.save_for_backward(index)  # an index Tensor changed in place before backward is caught
        ctx.shape, ctx.dtype = tuple(weight.shape), weight.dtype
        ctx.padding_idx, ctx.scale = padding_idx, scale_grad_by_freq
        return M.take(weight, index, 0)

    @staticmethod
    def backward(ctx, g):
        V, D = ctx.shape
        flat = M.reshape(ctx.saved[0], (-1,))
        gw = M.index_add(ctx.shape, flat, M.reshape(g, (-1, D)), ctx.dtype)
        if ctx.scale:  # divided by how often each row was picked in this batch
            counts = M.index_add((V,), flat, M.ones(tuple(flat.shape), ctx.dtype, like=g), ctx.dtype)
            gw = M.divide(gw, M.reshape(M.maximum(counts, 1), (V, 1)))
        if ctx.padding_idx is not None:
            M.assign(gw, 0, ctx.padding_idx)
        return gw, None

    @staticmethod
    def graph_backward(ctx, g):
        V, D = ctx.shape
        flat = M.reshape(ctx.saved[0], (-1,))
        zeros = Tensor._of(M.zeros(ctx.shape, ctx.dtype, like=g.data))
        gw = IndexPutAdd.apply(zeros, g.reshape(-1, D), index=flat)
        if ctx.scale:
            counts = M.index_add((V,), flat, M.ones(tuple(flat.shape), ctx.dtype, like=g.data), ctx.dtype)
            gw = gw / Tensor._of(M.reshape(M.maximum(counts, 1), (V, 1)))
        if ctx.padding_idx is not None:
            gw = SetItem.apply(gw, M.zeros((), ctx.dtype, like=g.data), index=ctx.padding_idx)
        return gw, None


def _embedding_index(input, V):
    """The integer index array of ``embedding`` (on its own device), its values checked to lie in [0, V)."""
    index = _raw(input)
    if type(index).__module__.split(".")[0] == "torch":
        raise TypeError(f"input must be a NumPy or device array or a numconv Tensor, got a torch tensor; pass "
                        f"input.numpy()")
    if not hasattr(index, "dtype") or not hasattr(index, "shape"):
        try:
            index = np.asarray(index)
        except ValueError as e:
            raise ValueError(f"input must be a rectangular array of indices: {e}") from None
    if np.dtype(index.dtype).kind not in "iu":
        raise TypeError(f"input must hold integer indices (int64 or int32), got dtype {index.dtype}")
    if shapes.prod(index.shape):
        lo, hi = (int(v) for v in M.extremes(index))
        if lo < 0 or hi >= V:
            raise ValueError(f"input holds index {lo if lo < 0 else hi}, outside [0, {V}) for an embedding of "
                             f"{V} rows (weight.shape[0])")
    return index


def _norm_type(value):
    """embedding's ``norm_type``: the p of a p-norm, any real number or +-inf, as ``torch.norm``'s (NaN refused)."""
    if isinstance(value, (float, np.floating)) and np.isinf(value):
        return float(value)
    return shapes.real(value, "norm_type")


def _row_norms(rows, p):
    """The p-norm of each row of ``rows`` (k, D), as (k, 1), as ``torch.norm``: max |x| for p = inf, min |x|
    for -inf, the number of non-zeros for 0, else sum(|x|^p)^(1/p) (a row holding a 0 is 0 for p < 0)."""
    a = M.abs(rows)
    if np.isinf(p):
        return (M.max if p > 0 else M.min)(a, axis=1, keepdims=True)
    if p == 0:
        return M.sum(M.astype(M.compare("ne", a, 0), rows.dtype), axis=1, keepdims=True)
    with np.errstate(divide="ignore"):  # 0^p = inf for p < 0
        return M.power(M.sum(M.power(a, p), axis=1, keepdims=True), 1.0 / p)


def _renorm_rows(w, index, max_norm, norm_type):
    """Scale, in place and outside the graph, the rows of ``w`` that ``index`` names whose
    ``norm_type``-norm exceeds ``max_norm`` down to ``max_norm`` (as PyTorch, by max_norm / (norm + 1e-7))."""
    flat = M.reshape(index, (-1,))
    rows = M.take(w.data, flat, 0)
    if not shapes.prod(rows.shape):  # no rows, or rows of nothing: nothing to scale
        return
    norms = _row_norms(rows, norm_type)
    scale = M.where(M.compare("gt", norms, max_norm), M.divide(max_norm, M.add(norms, 1e-7)), 1.0)
    M.assign(w.data, M.multiply(rows, M.astype(scale, rows.dtype)), flat)
    w._written()


@_arrays_in_arrays_out
def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` (num_embeddings, embedding_dim) at the integer indices ``input`` (any shape):
    output input.shape + (embedding_dim,), as ``torch.nn.functional.embedding``. ``padding_idx``'s row
    gets no gradient; ``max_norm`` first scales the rows ``input`` names, in place, to a ``norm_type``-norm
    of at most max_norm (norm_type as ``torch.norm``'s p, +-inf included); ``scale_grad_by_freq``
    divides each row's gradient by its count in ``input``. Gradients are dense (``sparse=True`` is refused)."""
    w = _float(weight, "weight", (2,), " (num_embeddings, embedding_dim)")
    V = w.shape[0]
    index = _embedding_index(input, V)
    _same_device(weight=w, input=index)
    if padding_idx is not None:
        padding_idx = shapes.integer(padding_idx, "padding_idx")
        if not -V <= padding_idx < V:
            raise ValueError(f"padding_idx must be in [{-V}, {V}) for an embedding of {V} rows, got {padding_idx}")
        padding_idx %= V
    scale_grad_by_freq = shapes.flag(scale_grad_by_freq, "scale_grad_by_freq")
    if shapes.flag(sparse, "sparse"):
        raise ValueError("sparse=True: numconv's gradients are dense arrays; pass sparse=False")
    if max_norm is not None:
        max_norm = shapes.real(max_norm, "max_norm", 0.0)
        norm_type = _norm_type(norm_type)
        with autograd.no_grad():
            _renorm_rows(w, index, max_norm, norm_type)
    # a Tensor index is version-checked at backward; an array one is copied (nothing could check it)
    index = input if isinstance(input, Tensor) else M.copy(index)
    return _Embedding.apply(w, index, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)


# ----------------------------------------------------------------------------- losses

REDUCTIONS = ("none", "mean", "sum")


def _reduction(reduction, size_average=None, reduce=None, reductions=REDUCTIONS):
    _legacy(size_average, reduce, reductions)
    if reduction not in reductions:
        raise ValueError(f"reduction must be one of {reductions}, got {reduction!r}")
    return reduction


_ORDER = ("mean", "sum", "none", "batchmean")  # the reductions, in the order the messages name them


def _legacy(size_average, reduce, reductions=REDUCTIONS):
    """Refuse PyTorch's deprecated ``size_average``/``reduce`` (kept as parameters, in PyTorch's positions,
    so that a positional call lands on the argument it means): a ValueError saying what to pass instead."""
    given = [f"{n}={v!r}" for n, v in (("size_average", size_average), ("reduce", reduce)) if v is not None]
    if given:
        choices = "|".join(repr(r) for r in _ORDER if r in reductions)
        raise ValueError(f"{' and '.join(given)}: size_average and reduce are deprecated in PyTorch and not "
                         f"supported by numconv; pass reduction={choices} instead (by keyword: it comes after "
                         "size_average and reduce, as in PyTorch)")


def _class_target(target, x, ignore_index):
    """Validated class indices (int64 array) for log-probabilities/logits ``x`` of shape (N, C, *)
    (``ignore_index`` None: every target must be a class)."""
    t = _raw(target)
    if not hasattr(t, "dtype"):
        t = np.asarray(t)
    if np.dtype(t.dtype).kind not in "iu":
        raise TypeError(f"target must hold integer class indices (int64), got dtype {t.dtype}")
    if np.dtype(t.dtype) == np.uint64:  # its values above 2**63 - 1 would wrap to negatives (to ignore_index even)
        raise TypeError("target must hold integer class indices (int64), got dtype uint64, which PyTorch refuses "
                        "too (values above 2**63 - 1 do not fit int64); pass target.astype(numpy.int64)")
    expect = x.shape[:1] + x.shape[2:]
    if tuple(t.shape) != expect:
        raise ValueError(f"target must have shape {expect} for input of shape {x.shape}, got {tuple(t.shape)}")
    t = M.astype(t, np.int64)
    C = x.shape[1]
    if not t.size:
        return t
    if isinstance(t, np.ndarray):
        lo, hi = 0, -1  # checked below, directly
    else:  # min and max of the targets that are not ignore_index, reduced on the device: two scalars come back
        counted = t if ignore_index is None else M.where(M.compare("ne", t, ignore_index), t, 0)
        lo, hi = (int(v) for v in M.extremes(counted))
    if isinstance(t, np.ndarray) or lo < 0 or hi >= C:  # on a device, the whole target only to name the culprits
        h = M.to_host(t)
        bad = (h < 0) | (h >= C)
        if ignore_index is not None:
            bad &= h != ignore_index
        if bad.any():
            also = "" if ignore_index is None else f" (and not ignore_index={ignore_index})"
            raise ValueError(f"target holds class indices {sorted(set(h[bad].tolist()))[:5]} outside [0, {C}){also} "
                             f"for input with C={C} classes")
    return t


def _one_target(target):
    """An unbatched (0-d) target as shape (1,), where it lives."""
    t = _raw(target)
    t = t if hasattr(t, "shape") else np.asarray(t)
    if tuple(t.shape) != ():
        raise ValueError(f"target must be one class index (shape ()) for an unbatched input of shape (C,), "
                         f"got shape {tuple(t.shape)}")
    return M.reshape(t, (1,))


def _class_weight(weight, x):
    if weight is None:
        return None
    if isinstance(weight, Tensor) and weight.requires_grad:  # as the binary losses: refused, not silently dropped
        raise ValueError("weight requires grad, but the class weights' gradient is not computed; pass weight.detach()")
    shape, dt = array_info(weight, "weight", (1,))
    if shape != (x.shape[1],):
        raise ValueError(f"weight must have shape ({x.shape[1]},) (one per class), got {shape}")
    shapes.same_dtype([("input", x.dtype), ("weight", dt)])
    return _raw(weight)


def _batched_classes(input, name="input"):
    """(input as a Tensor of shape (N, C, *), was it batched); an unbatched (C,) input becomes (1, C)."""
    x = _float(input, name)
    if x.ndim == 0:
        raise ValueError(f"{name} must have shape (N, C, *) or (C,), got a 0-d array")
    if x.shape[min(1, x.ndim - 1)] == 0:
        raise ValueError(f"{name} must have at least one class (C >= 1), got shape {tuple(x.shape)}")
    return (x, True) if x.ndim >= 2 else (x.reshape(1, -1), False)


def _nll(logp, target, weight, ignore_index, reduction, label_smoothing=0.0):
    """Negative log-likelihood of class indices ``target`` under log-probabilities ``logp`` (N, C, *)."""
    valid = M.compare("ne", target, ignore_index)
    safe = M.where(valid, target, 0)
    wt = M.astype(valid, logp.dtype)  # per-sample weight: weight[target], 0 where ignored
    if weight is not None:
        wt = M.multiply(wt, M.take(weight, safe, 0))
    # the targets were range-checked already (_class_target): gather without checking them again, which on
    # a device would read their min and max back a second time
    picked = Gather.apply(logp, M.reshape(safe, safe.shape[:1] + (1,) + safe.shape[1:]), axis=1).squeeze(1)
    kept = Tensor(valid)  # a select, not a product: an ignored row's -inf log-probability times 0 would be NaN
    with np.errstate(invalid="ignore"):
        loss = where(kept, -picked * Tensor(wt), 0.0)
    denom = M.sum(wt)
    # 'mean' with every target ignored: as PyTorch, NaN with gradient 0. Counted targets whose weights sum
    # to 0 are not that case: the division by 0 gives PyTorch's NaN or inf, in the loss and the gradient.
    none_counted = None
    if reduction == "mean":
        count = denom if weight is None else M.sum(M.astype(valid, logp.dtype))
        none_counted = M.compare("eq", count, 0)
        if isinstance(none_counted, np.ndarray) and not none_counted:
            none_counted = None  # on the host it is known: the usual case takes no extra node
        else:
            denom = M.where(none_counted, M.ones((), denom.dtype, like=denom), denom)
    if reduction == "sum":
        loss = loss.sum()
    elif reduction == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = loss.sum() / Tensor(denom)
    if label_smoothing:
        C = logp.shape[1]
        chan = (1, C) + (1,) * (logp.ndim - 2)
        per_class = logp * Tensor(M.reshape(weight, chan)) if weight is not None else logp
        with np.errstate(invalid="ignore"):
            smooth = where(kept, -per_class.sum(1), 0.0)
        if reduction == "sum":
            smooth = smooth.sum()
        elif reduction == "mean":
            with np.errstate(divide="ignore", invalid="ignore"):
                smooth = smooth.sum() / Tensor(denom)
        with np.errstate(invalid="ignore"):  # inf * 0 (label_smoothing 1) is NaN, as PyTorch's
            loss = loss * (1.0 - label_smoothing) + smooth * (label_smoothing / C)
    if none_counted is not None:
        nan_or_0 = M.where(none_counted, M.full((), np.nan, logp.dtype, like=denom), M.zeros((), logp.dtype, like=denom))
        loss = loss + Tensor(nan_or_0)
    return loss


@_arrays_in_arrays_out
def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood, as ``torch.nn.functional.nll_loss``.

    input (N, C, *) log-probabilities (or unbatched (C,)); target (N, *) int64 class indices in [0, C)
    or ignore_index; weight (C,) per-class. reduction 'mean' divides by the sum of the counted targets'
    weights (NaN with gradient 0 when every target is ignored; NaN or inf, as PyTorch, when the counted
    targets' weights sum to 0). ``size_average`` and ``reduce`` (deprecated in PyTorch) are refused.
    """
    _reduction(reduction, size_average, reduce)
    ignore_index = shapes.integer(ignore_index, "ignore_index")
    x, batched = _batched_classes(input)
    _same_device(input=x, target=target, weight=weight)
    t = _class_target(target if batched else _one_target(target), x, ignore_index)
    loss = _nll(x, t, _class_weight(weight, x), ignore_index, reduction)
    return loss if batched or reduction != "none" else loss.reshape(())


@_arrays_in_arrays_out
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """Cross-entropy from logits, as ``torch.nn.functional.cross_entropy`` (log_softmax over axis 1, then nll_loss).

    input (N, C, *) or (C,) logits; target (N, *) int64 class indices (ignore_index skipped), or class
    probabilities of input's shape (with ignore_index < 0 only, as PyTorch). label_smoothing eps in
    [0, 1] mixes the target with the uniform distribution: loss = (1 - eps) * nll + eps / C * sum_c -w_c
    log p_c. ``size_average`` and ``reduce`` (deprecated in PyTorch) are refused.
    """
    _reduction(reduction, size_average, reduce)
    label_smoothing = shapes.real(label_smoothing, "label_smoothing", 0.0, 1.0)
    ignore_index = shapes.integer(ignore_index, "ignore_index")
    x, batched = _batched_classes(input)
    _same_device(input=x, target=target, weight=weight)
    w = _class_weight(weight, x)
    logp = x.log_softmax(1)
    t_raw = _raw(target)
    t_dtype = shapes.array_dtype(t_raw, "target") if hasattr(t_raw, "dtype") else np.asarray(t_raw).dtype
    if t_dtype.kind == "f":  # class probabilities
        in_shape = tuple(np.shape(_raw(input)))
        if tuple(np.shape(t_raw)) != in_shape:
            raise TypeError(f"target must hold integer class indices (int64), got dtype {t_dtype} and shape "
                            f"{tuple(np.shape(t_raw))}; a float target of class probabilities needs input's shape "
                            f"{in_shape}")
        if ignore_index >= 0:  # as PyTorch: a negative one can name no class, so it is harmless
            raise ValueError(f"ignore_index={ignore_index} is not supported for a float target of class "
                             "probabilities (as in PyTorch); leave it at its default -100")
        p = _float(target, "target")
        shapes.same_dtype([("input", x.dtype), ("target", p.dtype)])
        p = p.reshape(x.shape)
        if label_smoothing:
            p = p * (1.0 - label_smoothing) + label_smoothing / x.shape[1]
        if w is not None:
            p = p * Tensor(M.reshape(w, (1, x.shape[1]) + (1,) * (x.ndim - 2)))
        loss = -(p * logp).sum(1)
        if reduction == "sum":
            return loss.sum()
        if reduction == "mean":
            return loss.sum() / (loss.numel())
        return loss if batched else loss.reshape(())
    t = _class_target(target if batched else _one_target(target), x, ignore_index)
    loss = _nll(logp, t, w, ignore_index, reduction, label_smoothing)
    return loss if batched or reduction != "none" else loss.reshape(())


def _pair(input, target):
    """(input, target) as Tensors of one float dtype whose shapes broadcast (the regression losses)."""
    x, y = _float(input, "input"), _float(target, "target")
    shapes.same_dtype([("input", x.dtype), ("target", y.dtype)])
    _same_device(input=x, target=y)
    try:
        np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        raise ValueError(f"target shape {y.shape} does not broadcast with input shape {x.shape}") from None
    return x, y


def _reduce(loss, reduction):
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def _elementwise_weight(weight, x):
    """The ``weight=`` of mse_loss, l1_loss and huber_loss: None, or a float Tensor of input's shape and
    dtype (as PyTorch 2.13, which differentiates with respect to it too)."""
    if weight is None:
        return None
    w = _float(weight, "weight")
    _same_device(input=x, weight=w)
    shapes.same_dtype([("input", x.dtype), ("weight", w.dtype)])
    if w.shape != x.shape:
        raise ValueError(f"weight must have input's shape {x.shape} (one per element, as PyTorch), got {w.shape}")
    return w


def _weighted_sum_mean(loss, w, reduction):
    """mse_loss's and l1_loss's reduction with a weight: sum(w * loss), or over sum(w) for 'mean' (PyTorch's)."""
    loss = loss * w
    if reduction == "none":
        return loss
    with np.errstate(divide="ignore", invalid="ignore"):
        return loss.sum() / w.sum() if reduction == "mean" else loss.sum()


@_arrays_in_arrays_out
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error, as ``torch.nn.functional.mse_loss``: (input - target)^2, then the reduction.
    ``weight`` (input's shape) multiplies each term, and 'mean' then divides by sum(weight), as PyTorch
    2.13. ``size_average`` and ``reduce`` (deprecated in PyTorch) are refused."""
    _reduction(reduction, size_average, reduce)
    x, y = _pair(input, target)
    w = _elementwise_weight(weight, x)
    d = x - y
    return _reduce(d * d, reduction) if w is None else _weighted_sum_mean(d * d, w, reduction)


@_arrays_in_arrays_out
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error: |input - target|, then the reduction (gradient 0 where they are equal).
    ``weight`` as mse_loss's."""
    _reduction(reduction, size_average, reduce)
    x, y = _pair(input, target)
    w = _elementwise_weight(weight, x)
    loss = (x - y).abs()
    return _reduce(loss, reduction) if w is None else _weighted_sum_mean(loss, w, reduction)


def _smooth_l1(d, beta):
    return _SmoothL1.apply(d, beta=beta)


class _SmoothL1(Function):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta; the gradient d / beta inside, sign(d)
    outside, as PyTorch's (NaN where d is: abs and clamp, which would build it, give 0 there)."""

    @staticmethod
    def forward(ctx, d, beta):
        ctx.save_for_backward(d)
        ctx.beta = beta
        a = M.abs(d)
        return M.where(M.compare("lt", a, beta), M.multiply(M.multiply(d, d), 0.5 / beta), M.subtract(a, 0.5 * beta))

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved
        inside = M.compare("lt", M.abs(d), ctx.beta)
        return M.multiply(g, M.where(inside, M.divide(d, ctx.beta), M.sign(d)))

    @staticmethod
    def graph_backward(ctx, g):
        (d,) = ctx.saved
        inside = Tensor._of(M.compare("lt", M.abs(d), ctx.beta))
        return where(inside, g * ctx.input(0, d) / ctx.beta, g * Tensor._of(M.sign(d)))


@_arrays_in_arrays_out
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 (input - target)^2 / beta where |input - target| < beta, else |input - target| - 0.5 beta;
    beta=0 is l1_loss. ``size_average`` and ``reduce`` (deprecated in PyTorch) are refused."""
    _reduction(reduction, size_average, reduce)
    beta = shapes.real(beta, "beta", 0.0)
    x, y = _pair(input, target)
    d = x - y
    return _reduce(d.abs() if beta == 0 else _smooth_l1(d, beta), reduction)


@_arrays_in_arrays_out
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 (input - target)^2 where |input - target| < delta, else delta (|input - target| - 0.5 delta):
    ``delta * smooth_l1_loss(beta=delta)``. ``weight`` (input's shape) multiplies each term; 'mean' is
    then the plain mean of the weighted terms (not over sum(weight): PyTorch 2.13's rule)."""
    _reduction(reduction)
    delta = shapes.real(delta, "delta", 0.0, lo_open=True)
    x, y = _pair(input, target)
    w = _elementwise_weight(weight, x)
    loss = _smooth_l1(x - y, delta) * delta
    return _reduce(loss if w is None else loss * w, reduction)


@_arrays_in_arrays_out
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Kullback-Leibler divergence of ``target`` from log-probabilities ``input``, as
    ``torch.nn.functional.kl_div``: target * (log target - input) pointwise (0 where target is 0), or
    exp(target) * (target - input) with ``log_target``; then the reduction, where 'batchmean' (the
    divergence's true value for a batch of distributions) divides the sum by input.shape[0] and
    'mean' by the number of elements, as PyTorch. ``size_average`` and ``reduce`` (deprecated in
    PyTorch) are refused."""
    _reduction(reduction, size_average, reduce, REDUCTIONS + ("batchmean",))
    log_target = shapes.flag(log_target, "log_target")
    x, y = _pair(input, target)
    if log_target:
        loss = y.exp() * (y - x)
    else:  # xlogy(y, y) - y x, with 0 log 0 = 0; the gradient for a target of 0 is NaN, as PyTorch's
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = where(y == 0, 0.0, y * y.log()) - y * x
    if reduction == "batchmean":
        return loss.sum() / (x.shape[0] if x.ndim else 1)
    return _reduce(loss, reduction)


def _binary_args(input, target, weight, pos_weight=None):
    """input and target (Tensors of one float dtype and one shape) and the raw weight arrays, each
    broadcasting to input's shape (as PyTorch's binary losses require)."""
    x = _float(input, "input")
    _same_device(input=x, target=target, weight=weight, pos_weight=pos_weight)
    t = _raw(target)
    t_dtype = np.dtype(getattr(t, "dtype", np.asarray(t).dtype))
    if t_dtype.kind != "f":
        raise TypeError(f"target must be a float array of probabilities in [0, 1], got dtype {t_dtype}")
    y = _float(target, "target")
    shapes.same_dtype([("input", x.dtype), ("target", y.dtype)])
    if y.shape != x.shape:
        raise ValueError(f"target must have input's shape {x.shape}, got {y.shape}")
    raw = []
    for name, w in (("weight", weight), ("pos_weight", pos_weight)):
        if w is None:
            raw.append(None)
            continue
        if isinstance(w, Tensor) and w.requires_grad:
            raise ValueError(f"{name} requires grad, but its gradient is not computed (as in PyTorch); pass "
                             f"{name}.detach()")
        shape, dt = array_info(w, name)
        shapes.same_dtype([("input", x.dtype), (name, dt)])
        if not shapes.broadcasts_to(shape, x.shape):
            raise ValueError(f"{name} of shape {shape} does not broadcast to input's shape {x.shape}")
        raw.append(w)  # a Tensor stays one: an in-place change to it before backward is then caught
    return x, y, raw[0], raw[1]


def _probabilities(x, name="input"):
    """Refuse an input (or target: PyTorch refuses both) outside [0, 1], NaN too: its logarithms
    would be NaN. On a device, its min and max come back to the host: two scalars."""
    a = x.data
    if not a.size:
        return
    lo, hi = (float(v) for v in M.extremes(a))
    if not (lo >= 0 and hi <= 1):
        first = ""
        if isinstance(a, np.ndarray):  # name the first offending value too (a NaN's place, say)
            flat = a.reshape(-1)
            first = f", first outside: {float(flat[~((flat >= 0) & (flat <= 1))][0])!r}"
        hint = " (for logits, use binary_cross_entropy_with_logits)" if name == "input" else ""
        raise ValueError(f"{name} must hold probabilities in [0, 1], got values from {lo} to {hi}{first}{hint}")


_BCE_EPS = float(np.float32(1e-12))  # PyTorch's bound on x (1 - x) in the gradient, a float32 constant


class _BinaryCrossEntropy(Function):
    """-w (y log x + (1 - y) log(1 - x)), each logarithm clamped at -100 as in PyTorch, so x = 0 or 1
    gives a finite loss; dx = w (x - y) / max(x (1 - x), 1e-12), dy = w (log(1 - x) - log x), as PyTorch's."""

    fresh_grads = True

    @staticmethod
    def _logs(x):
        with np.errstate(divide="ignore"):
            return M.maximum(M.log(x), -100.0), M.maximum(M.log1p(M.negative(x)), -100.0)

    @staticmethod
    def forward(ctx, x, y, weight):
        ctx.save_for_backward(x, y, weight)
        log_x, log_1mx = _BinaryCrossEntropy._logs(x)
        loss = M.negative(M.add(M.multiply(y, log_x), M.multiply(M.subtract(1, y), log_1mx)))
        return loss if weight is None else M.multiply(loss, weight)

    @staticmethod
    def backward(ctx, g):
        x, y, weight = ctx.saved
        nx, ny, _ = ctx.needs_input_grad
        if weight is not None:
            g = M.multiply(g, weight)
        gx = gy = None
        if nx:
            gx = M.divide(M.multiply(g, M.subtract(x, y)), M.maximum(M.multiply(x, M.subtract(1, x)), _BCE_EPS))
        if ny:  # PyTorch does not clamp these logarithms: x = 0 or 1 gives an infinite gradient
            with np.errstate(divide="ignore"):
                gy = M.multiply(g, M.subtract(M.log1p(M.negative(x)), M.log(x)))
        return gx, gy, None

    @staticmethod
    def graph_backward(ctx, g):
        x, y, weight = ctx.saved
        nx, ny, _ = ctx.needs_input_grad
        xt = ctx.input(0, x)
        if weight is not None:
            g = g * ctx.input(2, weight)
        gx = g * (xt - ctx.input(1, y)) / (xt * (1 - xt)).clamp(_BCE_EPS, None) if nx else None
        with np.errstate(divide="ignore"):
            gy = g * ((-xt).log1p() - xt.log()) if ny else None
        return gx, gy, None


@_arrays_in_arrays_out
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-weight * (target log(input) + (1 - target) log(1 - input)), then the reduction.

    input and target hold probabilities in [0, 1] (a ValueError otherwise, as PyTorch's error; each
    log is clamped at -100, as in PyTorch); target has input's shape, float; weight broadcasts to
    input's shape. ``size_average`` and ``reduce`` (deprecated in PyTorch) are refused.
    """
    _reduction(reduction, size_average, reduce)
    x, y, w, _ = _binary_args(input, target, weight)
    _probabilities(x)
    _probabilities(y, "target")
    return _reduce(_BinaryCrossEntropy.apply(x, y, w), reduction)


class _BinaryCrossEntropyWithLogits(Function):
    """With s = softplus(-x) = log(1 + exp(-x)) = max(-x, 0) + log1p(exp(-|x|)) and l = 1 + (p - 1) y
    (p the pos_weight, 1 when None): loss = w ((1 - y) x + l s);
    dx = w (l sigmoid(x) - p y), dy = w ((p - 1) s - x)."""

    fresh_grads = True

    @staticmethod
    def _softplus_neg(x):
        return M.add(M.maximum(M.negative(x), 0), M.log1p(M.exp(M.negative(M.abs(x)))))

    @staticmethod
    def forward(ctx, x, y, weight, pos_weight):
        ctx.save_for_backward(x, y, weight, pos_weight)
        s = _BinaryCrossEntropyWithLogits._softplus_neg(x)
        if pos_weight is not None:
            s = M.multiply(s, M.add(M.multiply(M.subtract(pos_weight, 1), y), 1))
        loss = M.add(M.multiply(M.subtract(1, y), x), s)
        return loss if weight is None else M.multiply(loss, weight)

    @staticmethod
    def backward(ctx, g):
        x, y, weight, p = ctx.saved
        nx, ny, _, _ = ctx.needs_input_grad
        if weight is not None:
            g = M.multiply(g, weight)
        gx = gy = None
        if nx:
            sig = M.sigmoid(x)
            if p is None:
                d = M.subtract(sig, y)
            else:
                d = M.subtract(M.multiply(sig, M.add(M.multiply(M.subtract(p, 1), y), 1)), M.multiply(p, y))
            gx = M.multiply(g, d)
        if ny:
            d = M.negative(x)
            if p is not None:
                d = M.add(d, M.multiply(M.subtract(p, 1), _BinaryCrossEntropyWithLogits._softplus_neg(x)))
            gy = M.multiply(g, d)
        return gx, gy, None, None

    @staticmethod
    def graph_backward(ctx, g):
        x, y, weight, p = ctx.saved
        nx, ny, _, _ = ctx.needs_input_grad
        xt, yt, pt = ctx.input(0, x), ctx.input(1, y), ctx.input(3, p)
        if weight is not None:
            g = g * ctx.input(2, weight)
        gx = gy = None
        if nx:
            sig = xt.sigmoid()
            gx = g * (sig - yt if p is None else sig * ((pt - 1) * yt + 1) - pt * yt)
        if ny:
            gy = g * (-xt if p is None else (pt - 1) * _Softplus.apply(-xt) - xt)
        return gx, gy, None, None


@_arrays_in_arrays_out
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """binary_cross_entropy(sigmoid(input), target), computed stably from the logits ``input``.

    target has input's shape, float; weight broadcasts to input's shape; pos_weight (broadcasting
    too, typically one per class along the last axis) weighs the positive term: loss =
    -weight * (pos_weight * target * log sigmoid(x) + (1 - target) * log(1 - sigmoid(x))).
    ``size_average`` and ``reduce`` (deprecated in PyTorch) are refused.
    """
    _reduction(reduction, size_average, reduce)
    x, y, w, p = _binary_args(input, target, weight, pos_weight)
    return _reduce(_BinaryCrossEntropyWithLogits.apply(x, y, w, p), reduction)


# ----------------------------------------------------------------------------- margin, embedding and likelihood losses
# As torch.nn.functional's, composed from differentiable Tensor operations: their gradients and both
# backends come with them.


def _labels(target, x, name="target", ref="input", differentiable=True):
    """``target`` for the float Tensor ``x`` (named ``ref``): a float array or Tensor of x's dtype (a
    Tensor keeps its graph), or integer or boolean labels (+-1, 0/1, counts) as a constant of x's dtype,
    as PyTorch promotes them. ``differentiable=False``: a target that requires grad is refused, as
    PyTorch refuses it where its op has no gradient for the target."""
    raw = _raw(target)
    if not hasattr(raw, "dtype"):
        raw = np.asarray(raw)
    _same_device(**{ref: x, name: raw})
    kind = np.dtype(raw.dtype).kind
    if kind in "biu":
        return Tensor(M.astype(raw, x.dtype))
    if kind != "f":
        raise TypeError(f"{name} must be a float or integer array, got dtype {raw.dtype}")
    y = _float(target if isinstance(target, Tensor) else raw, name)
    shapes.same_dtype([(ref, x.dtype), (name, y.dtype)])
    if not differentiable and y.requires_grad:
        raise ValueError(f"{name} requires grad, but this loss is not differentiable with respect to it (as in "
                         f"PyTorch); pass {name}.detach()")
    return y


def _floats(**named):
    """The named float arrays or Tensors as Tensors of one dtype on one device (errors name them)."""
    ts = {k: _float(v, k) for k, v in named.items()}
    shapes.same_dtype([(k, t.dtype) for k, t in ts.items()])
    _same_device(**ts)
    return tuple(ts.values())


def _broadcast(**named):
    """The broadcast shape of the named Tensors; a ValueError naming their shapes when they do not broadcast."""
    try:
        return np.broadcast_shapes(*(tuple(t.shape) for t in named.values()))
    except ValueError:
        raise ValueError(", ".join(f"{k} of shape {tuple(t.shape)}" for k, t in named.items())
                         + " do not broadcast together") from None


def _same_ndim(**named):
    if len({t.ndim for t in named.values()}) > 1:
        raise ValueError(f"{', '.join(named)} must have the same number of dimensions (as in PyTorch), got shapes "
                         + ", ".join(str(tuple(t.shape)) for t in named.values()))


class _Softplus(Function):
    """log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)): exact, and finite for every finite z; the gradient
    sigmoid(z)."""

    fresh_grads = True

    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return M.add(M.maximum(z, 0), M.log1p(M.exp(M.negative(M.abs(z)))))

    @staticmethod
    def backward(ctx, g):
        return M.multiply(g, M.sigmoid(ctx.saved[0]))

    @staticmethod
    def graph_backward(ctx, g):
        return g * ctx.input(0, ctx.saved[0]).sigmoid()


@_arrays_in_arrays_out
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Two-class logistic loss, as ``torch.nn.functional.soft_margin_loss``: log(1 + exp(-target * input)),
    then the reduction. target (+-1; float of input's dtype, or integers) broadcasts to input's shape
    (PyTorch's output has input's shape, so a target cannot grow it); not differentiable (as PyTorch).
    Computed as a softplus, so it stays finite where PyTorch's log1p(exp(-target * input)) overflows
    (-target * input > 88 in float32, 709 in float64)."""
    _reduction(reduction, size_average, reduce)
    x = _float(input, "input")
    y = _labels(target, x, differentiable=False)
    if _broadcast(input=x, target=y) != x.shape:
        raise ValueError(f"soft_margin_loss: target of shape {y.shape} must broadcast to input's shape {x.shape}")
    return _reduce(_Softplus.apply(-(y * x)), reduction)


@_arrays_in_arrays_out
def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Multi-label one-versus-all logistic loss, as ``torch.nn.functional.multilabel_soft_margin_loss``: per
    sample, the mean over the C classes (input's last dimension) of
    -weight_c (target_c log sigmoid(input_c) + (1 - target_c) log sigmoid(-input_c)), then the reduction.

    input (N, C) or (C,) (or (*, C): one loss per leading index); target (0/1 labels, float or integer,
    or probabilities) and weight broadcast to input's shape.
    """
    _reduction(reduction, size_average, reduce)
    x = _float(input, "input")
    if x.ndim == 0:
        raise ValueError("input must have shape (N, C) or (C,) (classes along the last dimension), got a 0-d array")
    y = _labels(target, x)
    w = None if weight is None else _floats(input=x, weight=weight)[1]
    for name, t in (("target", y), ("weight", w)):
        if t is not None and not shapes.broadcasts_to(t.shape, x.shape):
            raise ValueError(f"{name} of shape {t.shape} does not broadcast to input's shape {x.shape}")
    if y.shape != x.shape:
        y = y.expand(*x.shape)
    loss = _BinaryCrossEntropyWithLogits.apply(x, y, None, None)  # -(y log s(x) + (1 - y) log s(-x)), stably
    if w is not None:
        loss = loss * w
    with np.errstate(invalid="ignore"):  # C = 0: NaN, as PyTorch's
        return _reduce(loss.sum(-1) / x.shape[-1], reduction)


@_arrays_in_arrays_out
def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -target * (input1 - input2) + margin), then the reduction, as
    ``torch.nn.functional.margin_ranking_loss``: target 1 asks input1 to rank above input2 by ``margin``,
    -1 below it. The three have one number of dimensions and broadcast together; target float of the
    inputs' dtype (differentiable, as PyTorch's) or integers."""
    _reduction(reduction, size_average, reduce)
    margin = shapes.real(margin, "margin")
    x1, x2 = _floats(input1=input1, input2=input2)
    y = _labels(target, x1, ref="input1")
    _same_ndim(input1=x1, input2=x2, target=y)
    _broadcast(input1=x1, input2=x2, target=y)
    return _reduce((-y * (x1 - x2) + margin).clamp(min=0), reduction)


@_arrays_in_arrays_out
def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """input where target is 1, max(0, margin - input) where target is -1 (a target of neither value
    adds both terms, as PyTorch's), then the reduction, as ``torch.nn.functional.hinge_embedding_loss``.
    input (distances, typically) and target (+-1, float or integers) broadcast together."""
    _reduction(reduction, size_average, reduce)
    margin = shapes.real(margin, "margin")
    x = _float(input, "input")
    t = _labels(target, x).data  # compared only: no gradient, as PyTorch's
    _broadcast(input=x, target=Tensor(t))
    loss = where(M.compare("ne", t, 1), (margin - x).clamp(min=0), 0.0) + where(M.compare("ne", t, -1), x, 0.0)
    return _reduce(loss, reduction)


_COSINE_EPS = 1e-12  # PyTorch's, added to each squared norm


@_arrays_in_arrays_out
def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(input1, input2) where target is 1, max(0, cos(input1, input2) - margin) where it is -1
    (0 for any other target), then the reduction, as ``torch.nn.functional.cosine_embedding_loss``;
    cos over the last dimension, sum(a b) / sqrt((sum(a^2) + 1e-12) (sum(b^2) + 1e-12)) as PyTorch's.

    input1, input2 (N, D) with target (N,), or (D,) with a 0-d target; target +-1, float or integers.
    """
    _reduction(reduction, size_average, reduce)
    margin = shapes.real(margin, "margin")
    x1, x2 = _floats(input1=input1, input2=input2)
    t = _labels(target, x1, ref="input1").data  # compared only: no gradient, as PyTorch's
    if t.ndim > 1:
        raise ValueError(f"target must be 0-d or 1-d (one +-1 label per pair), got shape {tuple(t.shape)}")
    if x1.ndim != t.ndim + 1 or x2.ndim != t.ndim + 1:
        raise ValueError(f"a target of shape {tuple(t.shape)} needs {t.ndim + 1}-d input1 and input2 ((N, D) for "
                         f"a target (N,), (D,) for a 0-d one), got shapes {x1.shape} and {x2.shape}")
    _broadcast(input1=x1, input2=x2)
    prod = (x1 * x2).sum(-1)
    cos = prod / (((x1 * x1).sum(-1) + _COSINE_EPS) * ((x2 * x2).sum(-1) + _COSINE_EPS)).sqrt()
    _broadcast(cosine=cos, target=Tensor(t))
    loss = where(M.compare("eq", t, 1), 1 - cos, 0.0) + where(M.compare("eq", t, -1), (cos - margin).clamp(min=0), 0.0)
    return _reduce(loss, reduction)


def _pairwise_distance(a, b, p, eps):
    """||a - b + eps||_p over the last dimension, as ``torch.nn.functional.pairwise_distance``."""
    d = a - b + eps
    if p == 2:
        return (d * d).sum(-1).sqrt()
    if p == 1:
        return d.abs().sum(-1)
    if p == np.inf:
        return d.abs().amax(-1)
    return (d.abs() ** p).sum(-1) ** (1.0 / p)


@_arrays_in_arrays_out
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)), then the reduction, as
    ``torch.nn.functional.triplet_margin_loss``; d is the p-norm of a - b + eps over the last dimension
    (p > 0, inf allowed), and ``swap`` takes d(positive, negative) instead where it is smaller.

    anchor, positive, negative: (N, D) or (D,) (one number of dimensions; they broadcast); margin > 0.
    """
    _reduction(reduction, size_average, reduce)
    margin = shapes.real(margin, "margin", 0.0, lo_open=True)
    p = np.inf if isinstance(p, (float, np.floating)) and p == np.inf else shapes.real(p, "p", 0.0, lo_open=True)
    eps = shapes.real(eps, "eps")
    swap = shapes.flag(swap, "swap")
    a, pos, neg = _floats(anchor=anchor, positive=positive, negative=negative)
    _same_ndim(anchor=a, positive=pos, negative=neg)
    if a.ndim == 0:
        raise ValueError("anchor, positive and negative must have shape (N, D) or (D,), got 0-d arrays")
    _broadcast(anchor=a, positive=pos, negative=neg)
    d_pos = _pairwise_distance(a, pos, p, eps)
    d_neg = _pairwise_distance(a, neg, p, eps)
    if swap:
        d_swap = _pairwise_distance(pos, neg, p, eps)
        d_neg = where(d_swap < d_neg, d_swap, d_neg)
    return _reduce((d_pos - d_neg + margin).clamp(min=0), reduction)


@_arrays_in_arrays_out
def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False,
                                      reduction="mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)), then the reduction, as
    ``torch.nn.functional.triplet_margin_with_distance_loss``: d is ``distance_function`` (two Tensors in,
    one distance per sample out; default ``pairwise_distance``), and ``swap`` takes d(positive, negative)
    instead where it is smaller. anchor, positive, negative: one number of dimensions; margin > 0."""
    _reduction(reduction)
    margin = shapes.real(margin, "margin", 0.0, lo_open=True)
    swap = shapes.flag(swap, "swap")
    if distance_function is not None and not callable(distance_function):
        raise TypeError(f"distance_function must be callable (two tensors in, distances out) or None, got "
                        f"{type(distance_function).__name__}")
    d = pairwise_distance if distance_function is None else distance_function
    a, pos, neg = (x if isinstance(x, Tensor) else Tensor(x) for x in (anchor, positive, negative))
    _same_ndim(anchor=a, positive=pos, negative=neg)
    _same_device(anchor=a, positive=pos, negative=neg)
    d_pos, d_neg = d(a, pos), d(a, neg)
    if swap:
        d_neg = d_neg.minimum(d(pos, neg))
    return _reduce((d_pos - d_neg + margin).clamp(min=0), reduction)


@_arrays_in_arrays_out
def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Multi-label hinge loss, as ``torch.nn.functional.multilabel_margin_loss``: per sample, the sum over
    its target classes j and the classes i that are not targets of max(0, 1 - (input_j - input_i)),
    divided by C; then the reduction. ``target`` (input's shape, int64) lists each sample's classes and
    ends at its first -1 (a class listed twice counts twice, as in PyTorch).

    input (N, C) or (C,), float; target the same shape, entries in [-1, C)."""
    _reduction(reduction, size_average, reduce)
    x = _float(input, "input")
    if x.ndim not in (1, 2):
        raise ValueError(f"input must have shape (N, C) or (C,), got {x.shape}")
    _same_device(input=x, target=target)
    t = _raw(target)
    t = t if hasattr(t, "dtype") else np.asarray(t)
    if np.dtype(t.dtype).kind not in "iu" or np.dtype(t.dtype) == np.uint64:
        raise TypeError(f"target must hold integer class indices (int64), got dtype {t.dtype}")
    if tuple(t.shape) != x.shape:
        raise ValueError(f"target must have input's shape {x.shape}, got {tuple(t.shape)}")
    batched = x.ndim == 2
    x2, t2 = (x, t) if batched else (x.reshape(1, -1), M.reshape(t, (1, -1)))
    N, C = x2.shape
    t2 = M.astype(t2, np.int64)
    if t2.size:
        lo, hi = (int(v) for v in M.extremes(t2))
        if lo < -1 or hi >= C:
            raise ValueError(f"target holds entries outside [-1, {C}) (classes, and -1 to end a list): minimum "
                             f"{lo}, maximum {hi}, for input with C={C} classes")
    listed = Tensor(M.compare("ne", t2, -1)).cumprod(1)  # 1 up to each row's first -1
    cls = Tensor(M.maximum(t2, 0))
    is_target = Tensor(M.scatter_add((N, C), cls.data, listed.data, 1, np.int64)) > 0
    x_j = Gather.apply(x2, cls.data, axis=1)  # (N, C): the input at each listed class
    hinge = (1.0 - x_j.reshape(N, C, 1) + x2.reshape(N, 1, C)).relu()  # relu: no gradient at 0, as PyTorch's
    keep = listed.astype(x2.dtype).reshape(N, C, 1) * (~is_target).astype(x2.dtype).reshape(N, 1, C)
    loss = (hinge * keep).sum((1, 2)) / C
    if not batched and reduction == "none":
        return loss.reshape(())
    return _reduce(loss, reduction)


@_arrays_in_arrays_out
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Negative log-likelihood of the counts ``target`` under a Poisson distribution, as
    ``torch.nn.functional.poisson_nll_loss``: exp(input) - target * input when ``log_input`` (input is
    the log-rate), else input - target * log(input + eps); ``full`` adds Stirling's approximation of
    log(target!), target log(target) - target + 0.5 log(2 pi target), where target > 1. Then the
    reduction. target (float of input's dtype, differentiable, or integers) broadcasts with input."""
    _reduction(reduction, size_average, reduce)
    log_input = shapes.flag(log_input, "log_input")
    full = shapes.flag(full, "full")
    eps = shapes.real(eps, "eps")
    x = _float(input, "input")
    y = _labels(target, x)
    _broadcast(input=x, target=y)
    with np.errstate(divide="ignore", invalid="ignore"):  # logarithms of 0 or of negatives: PyTorch's -inf or NaN
        loss = x.exp() - y * x if log_input else x - y * (x + eps).log()
        if full:
            stirling = y * y.log() - y + 0.5 * (y * (2 * np.pi)).log()
            loss = loss + where(y <= 1, 0.0, stirling)
    return _reduce(loss, reduction)


class _ClampedVariance(Function):
    """max(var, eps) with the identity's gradient, as PyTorch's ``var.clamp_(min=eps)`` under no_grad."""

    @staticmethod
    def forward(ctx, var, eps):
        return M.maximum(var, eps)

    @staticmethod
    def backward(ctx, g):
        return g


@_arrays_in_arrays_out
def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Negative log-likelihood of ``target`` under a Gaussian of mean ``input`` and variance ``var``, as
    ``torch.nn.functional.gaussian_nll_loss``: 0.5 (log v + (input - target)^2 / v) with v = max(var, eps)
    (its gradient passed to var unchanged, as PyTorch's clamp under no_grad), + 0.5 log(2 pi) with
    ``full``; then the reduction.

    input and target broadcast; var has input's shape, or input's without the last dimension, or input's
    with one dimension of size 1 (a variance shared along it), or is a number; none of it negative.
    """
    _reduction(reduction)
    full = shapes.flag(full, "full")
    eps = shapes.real(eps, "eps")
    x, y = _floats(input=input, target=target)
    _broadcast(input=x, target=y)
    if not hasattr(var, "shape") or isinstance(var, np.generic):  # a number: the same variance everywhere
        v = Tensor(M.full(x.shape, shapes.real(var, "var", 0.0), x.dtype, like=x.data))
    else:
        v = _floats(input=x, var=var)[1]
        lo = float(M.extremes(v.data)[0]) if v.numel() else 0.0
        if lo < 0:
            raise ValueError(f"var must not hold negative entries (variances), got a minimum of {lo}")
        if v.shape != x.shape:
            if v.shape == x.shape[:-1]:  # one variance per sample, shared along input's last dimension
                v = v.reshape(*v.shape, 1)
            elif not (v.ndim == x.ndim and sum(m for n, m in zip(x.shape, v.shape) if n != m) == 1):
                raise ValueError(f"var must have input's shape {x.shape}, that shape without its last dimension "
                                 f"{x.shape[:-1]}, or it with one dimension of size 1; got {v.shape}")
    v = _ClampedVariance.apply(v, eps=eps)
    d = x - y
    loss = 0.5 * (v.log() + d * d / v)
    if full:
        loss = loss + 0.5 * np.log(2 * np.pi)
    return _reduce(loss, reduction)


@_arrays_in_arrays_out
def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """Multi-class hinge loss, as ``torch.nn.functional.multi_margin_loss``: per sample, the sum over the
    classes i other than y = target of weight_y max(0, margin - input_y + input_i)^p, divided by C;
    then the reduction.

    input (N, C) or (C,); target (N,) or () int64 class indices in [0, C); p 1 or 2; weight (C,) per class.
    """
    _reduction(reduction, size_average, reduce)
    p = shapes.integer(p, "p")
    if p not in (1, 2):
        raise ValueError(f"p must be 1 or 2 (as in PyTorch), got {p}")
    margin = shapes.real(margin, "margin")
    x = _float(input, "input")
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(f"input must have shape (N, C) or (C,) with C >= 1, got {x.shape}")
    _same_device(input=x, target=target, weight=weight)
    batched = x.ndim == 2
    x2 = x if batched else x.reshape(1, -1)
    N, C = x2.shape
    t = target
    if not batched:  # one class index: shape () (or (1,), which PyTorch takes too)
        t = _raw(target)
        t = t if hasattr(t, "shape") else np.asarray(t)
        t = _one_target(t) if tuple(t.shape) != (1,) else t
    t = _class_target(t, x2, None)
    w = _class_weight(weight, x2)
    col = M.reshape(t, (N, 1))
    z = ((margin - Gather.apply(x2, col, axis=1)) + x2).relu()  # (N, C); relu: no gradient at 0, as PyTorch's
    if p == 2:
        z = z * z
    if w is not None:
        z = z * Tensor(M.reshape(M.take(w, t, 0), (N, 1)))
    own = M.compare("ne", M.scatter_add((N, C), col, M.ones((N, 1), x2.dtype, like=col), 1, x2.dtype), 0)
    loss = where(own, 0.0, z).sum(1) / C
    if not batched and reduction == "none":
        return loss.reshape(())
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------- connectionist temporal classification


class _CTC(Function):
    """The CTC negative log-likelihood of each sample (N,): the forward (alpha) recursion over the time
    steps, in log space and float64, a kernel walking each sample's steps (``ops.ctc``); its gradient
    from the backward (beta) recursion: for log_probs[t, n, c], -sum over the positions s holding c of
    exp(alpha_t(s) + beta_t(s) - log_probs[t, n, c] + nll_n), the derivative of -log p with respect to
    each log-probability (PyTorch's CTC gradient instead assumes log_softmax follows and adds
    exp(log_probs); through a log_softmax the two agree).

    ``ext`` (N, L) int64 the extended labels (blank, l1, blank, ..., blank), ``skip`` (N, L) whether
    position s may be reached from s - 2, ``steps`` (N,) each sample's time steps, ``at_end`` (N, L)
    the positions that may end its path (the last blank and the last label); ext is -1 past a sample's
    own positions (padding a shorter target to the longest)."""

    @staticmethod
    def forward(ctx, lp, ext, skip, steps, at_end, zero_infinity):
        T, N, _ = lp.shape
        em = ops.ctc.emissions(lp, ext)  # -inf past each sample's positions: the recursions skip them
        alphas = ops.ctc.alpha(em, skip, steps)  # a sample's alpha stays at its last step: row T - 1 is its end
        ninf = M.full((), -np.inf, np.float64, like=em)
        final = M.where(at_end, M.getitem(alphas, T - 1), ninf)
        top = M.max(final, axis=1, keepdims=True)
        top = M.where(M.compare("eq", top, -np.inf), M.zeros((), np.float64, like=em), top)
        nll = M.negative(M.reshape(M.add(M.log(M.sum(M.exp(M.subtract(final, top)), axis=1, keepdims=True)), top),
                                   (N,)))
        ctx.save_for_backward(em, alphas, ext, skip, steps, at_end, nll)
        ctx.shape, ctx.dtype, ctx.zero_infinity = lp.shape, lp.dtype, zero_infinity
        if zero_infinity:
            nll = M.where(M.compare("eq", nll, np.inf), M.zeros((), nll.dtype, like=nll), nll)
        return M.astype(nll, lp.dtype)

    @staticmethod
    def backward(ctx, g):
        em, alphas, ext, skip, steps, at_end, nll = ctx.saved
        betas = ops.ctc.beta(em, skip, steps, at_end)  # -inf past each sample's end: no gradient there
        scale = M.astype(g, np.float64)
        lost = M.compare("eq", nll, np.inf)  # a target no alignment reaches
        if ctx.zero_infinity:  # no gradient
            scale = M.where(lost, M.zeros((), np.float64, like=em), scale)
        grad = ops.ctc.gradient(alphas, betas, em, ext, nll, scale, ctx.shape[2])
        if not ctx.zero_infinity:  # NaN over its time steps, as PyTorch's (what zero_infinity is there to zero)
            T, N = ctx.shape[0], ctx.shape[1]
            t = M.to_device(np.arange(T, dtype=np.int64).reshape(T, 1), dispatch.device_of(em))
            nan_at = M.reshape(M.logical_and(M.compare("lt", t, steps), lost), (T, N, 1))
            grad = M.where(nan_at, M.full((), np.nan, np.float64, like=em), grad)
        return M.astype(grad, ctx.dtype)


def _lengths(values, name, n, limit, limit_name):
    """``values`` (a sequence, array or Tensor of n integers in [0, limit]) as an int64 host array."""
    v = values.numpy() if isinstance(values, Tensor) else np.asarray(values)
    if v.dtype.kind not in "iu" or v.dtype == np.uint64:
        raise TypeError(f"{name} must hold integers, got dtype {v.dtype}")
    v = v.reshape(-1) if v.ndim == 0 and n == 1 else v
    if v.shape != (n,):
        raise ValueError(f"{name} must hold one length per sample ({n}), got shape {v.shape}")
    if v.size and (v.min() < 0 or v.max() > limit):
        bad = int(v.min()) if v.min() < 0 else int(v.max())
        raise ValueError(f"{name} must be in [0, {limit}] ({limit_name}), got {bad}")
    return v.astype(np.int64)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """The connectionist temporal classification loss, as ``torch.nn.functional.ctc_loss``: the negative
    log-likelihood of each target sequence summed over every alignment of it to the input's time steps
    (repeats collapsed, blanks dropped).

    log_probs (T, N, C) (or (T, C), one sample) log-probabilities, float (log_softmax over C);
    targets (N, S) class indices padded (or 1-d: the sequences concatenated), none of them ``blank``;
    input_lengths and target_lengths (N,) integers (sequences, arrays or Tensors), each input length
    <= T, each target length <= S. reduction 'mean' (each loss divided by its target length, at least 1,
    then the mean), 'sum' or 'none'; ``zero_infinity`` gives 0, and a 0 gradient, where no alignment
    exists (an input too short for its target) instead of inf. Runs on the device the inputs are on."""
    _reduction(reduction)
    x = _float(log_probs, "log_probs")
    if x.ndim not in (2, 3):
        raise ValueError(f"log_probs must have shape (T, N, C) or (T, C), got {x.shape}")
    batched = x.ndim == 3
    x3 = x if batched else x.reshape(x.shape[0], 1, x.shape[1])
    T, N, C = x3.shape
    blank = shapes.integer(blank, "blank")
    if not 0 <= blank < C:
        raise ValueError(f"blank must be a class index in [0, {C}), got {blank}")
    _same_device(log_probs=x, targets=targets)
    tgt = targets.numpy() if isinstance(targets, Tensor) else np.asarray(M.to_host(targets) if hasattr(targets, "shape")
                                                                          else targets)
    if tgt.dtype.kind not in "iu" or tgt.dtype == np.uint64:
        raise TypeError(f"targets must hold integer class indices, got dtype {tgt.dtype}")
    in_len = _lengths(input_lengths, "input_lengths", N, T, "the time steps of log_probs")
    if batched and tgt.ndim == 2:
        if tgt.shape[0] != N:
            raise ValueError(f"targets (N, S) must have N={N} rows, got shape {tgt.shape}")
        tg_len = _lengths(target_lengths, "target_lengths", N, tgt.shape[1], "the columns of targets")
        start = np.arange(N) * tgt.shape[1]  # where each sample's labels begin in the flattened targets
    elif tgt.ndim == 1:
        tg_len = _lengths(target_lengths, "target_lengths", N, tgt.size, "the length of targets")
        if batched and int(tg_len.sum()) != tgt.size:  # unbatched: one sequence, maybe padded
            raise ValueError(f"1-d targets must hold the target sequences one after another: target_lengths sum "
                             f"to {int(tg_len.sum())}, targets has {tgt.size}")
        start = np.concatenate([[0], np.cumsum(tg_len)[:-1]])
    else:
        raise ValueError(f"targets must have shape (N, S) or be 1-d, got {tgt.shape} for log_probs {x.shape}")
    S = int(tg_len.max(initial=0))
    used = np.arange(S) < tg_len[:, None]  # (N, S): which of the padded (N, S) labels are a sample's
    labels = np.full((N, S), blank, np.int64)
    labels[used] = tgt.reshape(-1)[(start[:, None] + np.arange(S))[used]]
    bad = used & ((labels < 0) | (labels >= C) | (labels == blank))
    if bad.any():
        n, i = (int(k[0]) for k in np.nonzero(bad))
        raise ValueError(f"targets of sample {n} hold {labels[n, i]}: classes must be in [0, {C}) and not the "
                         f"blank {blank}")
    L = 2 * S + 1
    ext = np.full((N, L), blank, np.int64)
    ext[:, 1::2] = labels
    skip = np.zeros((N, L), bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    at_end = np.zeros((N, L), bool)
    at_end[np.arange(N), 2 * tg_len] = True  # the last blank
    at_end[np.arange(N), np.maximum(2 * tg_len - 1, 0)] = True  # the last label (the first blank if none)
    ext[np.arange(L) > 2 * tg_len[:, None]] = -1  # past a sample's own positions: no path reaches them
    device = dispatch.device_of(x.data)
    if T == 0 or N == 0:
        raise ValueError(f"log_probs must have time steps and samples, got shape {x.shape}")
    zero_infinity = shapes.flag(zero_infinity, "zero_infinity")
    nll = _CTC.apply(x3, *(M.to_device(a, device) for a in (ext, skip, in_len, at_end)), zero_infinity=zero_infinity)
    if (in_len == 0).any():  # no time steps: the empty target's path has probability 1, any other 0
        none = np.where(tg_len == 0, 0.0, 0.0 if zero_infinity else np.inf).astype(x.dtype)
        nll = where(Tensor(M.to_device(in_len == 0, device)), Tensor(M.to_device(none, device)), nll)
    if reduction == "mean":
        per = nll / Tensor(M.to_device(np.maximum(tg_len, 1).astype(x.dtype), device))
        return per.mean()
    if reduction == "sum":
        return nll.sum()
    return nll if batched else nll.reshape(())


# ----------------------------------------------------------------------------- grid_sample, affine_grid


class _GridSample(Function):
    """input (N, C, H, W) sampled at grid (N, H_out, W_out, 2): the kernels of ``ops.grid_sample``, one
    each way for each argument (the input's gradient a gather per plane, deterministic)."""

    fresh_grads = True

    @staticmethod
    def forward(ctx, x, grid, mode, padding, align):
        ctx.args = mode, padding, align
        ctx.x_shape = tuple(x.shape)
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, grid)
        return ops.grid_sample.forward(x, grid, mode, padding, align)

    @staticmethod
    def backward(ctx, g):
        need_x, need_grid = ctx.needs_input_grad
        x, grid = ctx.saved
        gx = ops.grid_sample.input_grad(g, ctx.x_shape, grid, *ctx.args) if need_x else None
        gg = ops.grid_sample.grid_grad(g, x, grid, *ctx.args) if need_grid else None
        return gx, gg


@_arrays_in_arrays_out
def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """``input`` (N, C, H, W) sampled at the points of ``grid`` (N, H_out, W_out, 2): an output
    (N, C, H_out, W_out), as ``torch.nn.functional.grid_sample``. A grid point (x, y) in [-1, 1]
    names a place in its sample's image, x along the width: -1 and 1 are the corner pixels' outer
    edges, or (``align_corners=True``) their centres. mode 'bilinear', 'nearest' (halves to even) or
    'bicubic' (Keys, a = -0.75); padding_mode says what points outside read: 'zeros', 'border' (the
    nearest edge pixel) or 'reflection' (the image mirrored at its edges). Differentiable in the input
    and in the grid (the grid's gradient is 0 for 'nearest', and where 'border' or 'reflection'
    clipped the point). A non-finite grid coordinate samples NaN. A volume (N, C, D, H, W) takes a grid
    (N, D_out, H_out, W_out, 3) of (x, y, z) points, 'bilinear' then meaning trilinear (no 'bicubic')."""
    x = _float(input, "input")
    g = _float(grid, "grid")
    mode, padding, align = shapes.grid_sample_params(x.shape, g.shape, mode, padding_mode, align_corners)
    shapes.same_dtype([("input", x.dtype), ("grid", g.dtype)])
    _same_device(input=x, grid=g)
    shapes.output_fits(x.shape[:2] + g.shape[1:-1], "grid_sample", f"grid of shape {g.shape}")
    return _GridSample.apply(x, g, mode=mode, padding=padding, align=align)


@_arrays_in_arrays_out
def affine_grid(theta, size, align_corners=None):
    """The sampling grid of the affine maps ``theta`` (N, 2, 3) over images of ``size`` (N, C, H, W)
    (or (N, 3, 4) over (N, C, D, H, W)), as ``torch.nn.functional.affine_grid``: each output pixel's
    normalized coordinates (x, y[, z], 1) times theta's rows, shaped (N, H, W, 2) (or (N, D, H, W, 3))
    for ``grid_sample``. Differentiable in theta."""
    t = _float(theta, "theta")
    size = shapes.affine_grid_size(t.shape, size)
    shapes.output_fits((size[0], *size[2:], len(size) - 2), "affine_grid", f"size={tuple(size)}")
    align = False if align_corners is None else shapes.flag(align_corners, "align_corners")
    spatial = size[2:]

    def axis(n):  # the normalized pixel centres along an axis of n pixels
        if n <= 1:
            return np.zeros(n)
        steps = np.linspace(-1.0, 1.0, n)
        return steps if align else steps * ((n - 1) / n)

    coords = np.meshgrid(*(axis(n) for n in spatial), indexing="ij")  # (z,) y, x: each over the whole grid
    base = np.stack([*reversed(coords), np.ones(spatial)], axis=-1)  # x, y (, z), 1 at each pixel
    base = Tensor(M.to_device(base.reshape(1, -1, len(spatial) + 1).astype(t.dtype), dispatch.device_of(t.data)))
    grid = base @ t.transpose(1, 2)  # (N, points, k + 1) @ (N, k + 1, k)
    return grid.reshape(size[0], *spatial, len(spatial))
