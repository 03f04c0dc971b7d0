"""numconv.functional (also ``numconv.F``): convolution, pooling, unfold/fold and pad.

Names, argument order, defaults, weight layouts and semantics follow ``torch.nn.functional``;
inputs are float32 or float64 arrays in NCHW layout (N, C, *spatial), or unbatched (C, *spatial).
Beyond PyTorch: ``padding='same'`` with any stride (output = ceil(input / stride), the odd
pixel of padding on the high side), per-side padding ``((lo, hi), ...)``, ``padding_mode`` on
every convolution including the transposed one, ``dilation`` for average pooling and
``divisor_override`` for every average pool.

Every op has an array-level backward, ``<op>_backward(grad_output, <the op's arguments>)``,
returning the gradients of its array inputs, so the kernels are usable without autograd.

Output size along each spatial dimension (k taps, dilation d, stride s, padding lo + hi)::

    out = floor((n + lo + hi - d*(k-1) - 1) / s) + 1                       # convolution, pooling
    out = (n - 1)*s - lo - hi + d*(k-1) + output_padding + 1               # transposed convolution
"""
from __future__ import annotations

import numpy as np

from . import ops, shapes
from .shapes import array_info

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
    return grad_output.reshape(expected_shape)


def _unbatch(y, was_batched):
    return y if was_batched else y.reshape(y.shape[1:])


def _flat_pad(lo, hi):
    """Per-dimension (lo, hi) in D, H, W order -> PyTorch's flat pad tuple (last dimension first)."""
    out = []
    for a, b in zip(reversed(lo), reversed(hi)):
        out += [a, b]
    return tuple(out)


# ----------------------------------------------------------------------------- convolution


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
    x = input.reshape(xs)
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

    def conv_backward(grad_output, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
        x, spec, batched, mode, pad = _conv_setup(nd, input, weight, bias, stride, padding, dilation, groups, padding_mode)
        gy = _grad(grad_output, spec.y_nd, batched, input.dtype)
        xp = ops.pad_forward(x, pad, mode) if pad is not None else x
        gx = ops.conv_input_grad(gy, weight, spec)
        if pad is not None:
            gx = ops.pad_backward(gx, x.shape, pad, mode)
        gw = ops.conv_weight_grad(xp, gy, spec)
        gb = ops.conv_bias_grad(gy) if bias is not None else None
        return _unbatch(gx, batched), gw, gb

    conv.__name__ = conv.__qualname__ = f"conv{nd}d"
    conv.__doc__ = f"""{nd}-d convolution (cross-correlation), as ``torch.nn.functional.conv{nd}d``.

    input (N, C_in, *{nd} sizes) or unbatched; weight (C_out, C_in/groups, *kernel); bias (C_out,) or None.
    padding: int, tuple of {nd} ints, tuple of {nd} (lo, hi) pairs, 'valid' or 'same' (any stride).
    padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'. Returns (N, C_out, *out).
    """
    conv_backward.__name__ = conv_backward.__qualname__ = f"conv{nd}d_backward"
    conv_backward.__doc__ = f"Gradients of ``conv{nd}d`` for ``grad_output``: (grad_input, grad_weight, grad_bias or None)."
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
    pad = None
    if mode != "constant":
        # The transpose of "pad with `mode`, then convolve": a transposed convolution without
        # padding, whose border rows are then folded back the way the padding copied them out.
        lo, hi = shapes.conv_padding(padding, nd)
        if any(lo + hi):
            pad = _flat_pad(lo, hi)
            padding = 0
    spec = shapes.conv_transpose_spec(xs, ws, nd, stride, padding, output_padding, groups, dilation, bs)
    if pad is not None:
        out_shape = spec.x_nd[:2] + tuple(n - a - b for n, a, b in zip(spec.x_nd[2:], lo, hi))
        if min(out_shape[2:]) < 1:
            raise ValueError(f"padding {padding!r} leaves an empty output {out_shape}")
        # The padding copies must stay inside the unpadded output (as pad() requires of its input).
        shapes.pad_tables(out_shape, pad, mode)
    else:
        out_shape = spec.x_nd
    return input.reshape(xs), spec, batched, mode, pad, out_shape


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
                                dilation=1, padding_mode="zeros"):
        x, spec, batched, mode, pad, out_shape = _conv_transpose_setup(
            nd, input, weight, bias, stride, padding, output_padding, groups, dilation, padding_mode
        )
        gy = _grad(grad_output, out_shape, batched, input.dtype)
        gb = ops.conv_bias_grad(gy) if bias is not None else None
        if pad is not None:
            gy = ops.pad_forward(gy, pad, mode)
        gx = ops.conv_forward(gy, weight, None, spec)  # the transposed op's input-gradient is the forward conv
        gw = ops.conv_weight_grad(gy, x, spec)  # shared weight gradient, input and output swapped
        return _unbatch(gx, batched), gw, gb

    conv_transpose.__name__ = conv_transpose.__qualname__ = f"conv_transpose{nd}d"
    conv_transpose.__doc__ = f"""{nd}-d transposed convolution, as ``torch.nn.functional.conv_transpose{nd}d``.

    input (N, C_in, *{nd} sizes) or unbatched; weight (C_in, C_out/groups, *kernel); bias (C_out,) or None.
    out = (n-1)*stride - lo - hi + dilation*(k-1) + output_padding + 1. padding may be per side ((lo, hi), ...).
    padding_mode other than 'zeros' gives the transpose (adjoint) of conv{nd}d with that padding_mode.
    """
    conv_transpose_backward.__name__ = conv_transpose_backward.__qualname__ = f"conv_transpose{nd}d_backward"
    conv_transpose_backward.__doc__ = (
        f"Gradients of ``conv_transpose{nd}d`` for ``grad_output``: (grad_input, grad_weight, grad_bias or None)."
    )
    return conv_transpose, conv_transpose_backward


for _nd in (1, 2, 3):
    _export(*_make_conv(_nd), *_make_conv_transpose(_nd))


# ----------------------------------------------------------------------------- pooling


def _make_max_pool(nd):
    def setup(input, kernel_size, stride, padding, dilation, ceil_mode):
        xs, batched = _input(input, nd)
        spec = shapes.pool_spec(xs, nd, kernel_size, stride, padding, dilation, ceil_mode)
        return input.reshape(xs), spec, batched

    def max_pool(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        x, spec, batched = setup(input, kernel_size, stride, padding, dilation, ceil_mode)
        y, idx = ops.max_pool_forward(x, spec)
        y, idx = _unbatch(y, batched), _unbatch(idx, batched)
        return (y, idx) if return_indices else y

    def max_pool_backward(grad_output, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, indices=None):
        x, spec, batched = setup(input, kernel_size, stride, padding, dilation, ceil_mode)
        gy = _grad(grad_output, spec.y_nd, batched, input.dtype)
        idx = ops.max_pool_forward(x, spec)[1] if indices is None else _indices(indices, spec.y_nd, batched)
        return _unbatch(ops.max_pool_backward(gy, idx, spec), batched)

    max_pool.__name__ = max_pool.__qualname__ = f"max_pool{nd}d"
    max_pool.__doc__ = f"""{nd}-d max pooling, as ``torch.nn.functional.max_pool{nd}d``; NaN propagates.

    stride defaults to kernel_size; padding (implicit -inf) at most half the dilated window.
    With return_indices, also the int64 flat position of each max in its input plane.
    """
    max_pool_backward.__name__ = max_pool_backward.__qualname__ = f"max_pool{nd}d_backward"
    max_pool_backward.__doc__ = f"Gradient of ``max_pool{nd}d`` w.r.t. its input (indices are recomputed if not given)."
    return max_pool, max_pool_backward


def _indices(indices, expected_shape, batched, name="indices"):
    shape = tuple(getattr(indices, "shape", ()))
    expect = tuple(expected_shape) if batched else tuple(expected_shape[1:])
    if shape != expect:
        raise ValueError(f"{name} must have shape {expect} (the pooled output's), got {shape}")
    if np.dtype(indices.dtype).kind not in "iu":
        raise TypeError(f"{name} must be an integer array (as returned by return_indices=True), got dtype {indices.dtype}")
    return indices.reshape(expected_shape).astype(np.int64, copy=False) if isinstance(indices, np.ndarray) else indices.reshape(expected_shape)


def _make_avg_pool(nd):
    def setup(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, dilation):
        xs, batched = _input(input, nd)
        spec = shapes.pool_spec(xs, nd, kernel_size, stride, padding, dilation, ceil_mode, count_include_pad)
        return input.reshape(xs), spec, batched, shapes.divisor(divisor_override)

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
        return input.reshape(xs), shapes.adaptive_pool_spec(xs, nd, output_size), batched

    def adaptive_avg_pool(input, output_size):
        x, spec, batched = setup(input, output_size)
        return _unbatch(ops.avg_pool_forward(x, spec), batched)

    def adaptive_avg_pool_backward(grad_output, input, output_size):
        x, spec, batched = setup(input, output_size)
        gy = _grad(grad_output, spec.y_nd, batched, input.dtype)
        return _unbatch(ops.avg_pool_backward(gy, spec), batched)

    def adaptive_max_pool(input, output_size, return_indices=False):
        x, spec, batched = setup(input, output_size)
        y, idx = ops.max_pool_forward(x, spec)
        y, idx = _unbatch(y, batched), _unbatch(idx, batched)
        return (y, idx) if return_indices else y

    def adaptive_max_pool_backward(grad_output, input, output_size, indices=None):
        x, spec, batched = setup(input, output_size)
        gy = _grad(grad_output, spec.y_nd, batched, input.dtype)
        idx = ops.max_pool_forward(x, spec)[1] if indices is None else _indices(indices, spec.y_nd, batched)
        return _unbatch(ops.max_pool_backward(gy, idx, spec), batched)

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
        idx = _indices(indices, xs, batched)
        out = shapes.unpool_output_size(xs, nd, kernel_size, stride, padding, output_size)
        plane = shapes.prod(out)
        if isinstance(idx, np.ndarray) and idx.size and (idx.min() < 0 or idx.max() >= plane):
            raise ValueError(
                f"indices must lie in [0, {plane}) for an unpooled output of spatial size {out}; "
                f"got values from {idx.min()} to {idx.max()}"
            )
        return input.reshape(xs), idx, xs[:2] + out, batched

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


for _nd in (1, 2, 3):
    _export(*_make_max_pool(_nd), *_make_avg_pool(_nd), *_make_adaptive(_nd), *_make_max_unpool(_nd))


# ----------------------------------------------------------------------------- unfold / fold


def _unfold_setup(input, kernel_size, dilation, padding, stride):
    xs, _ = array_info(input, "input", ndims=(3, 4), what=" (N, C, H, W) or unbatched (C, H, W)")
    xs, batched = shapes.batched(xs, 2, "input")
    kernel, dilation, padding, stride = shapes.unfold_params(kernel_size, dilation, padding, stride)
    outs = shapes.block_counts(xs[2:], kernel, dilation, padding, stride)
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
    if value is not None and mode != "constant":
        raise ValueError(f"value={value!r} is only used with mode='constant', got mode={mode!r}")
    return ops.pad_forward(input, pad, mode, 0.0 if value is None else float(value))


def pad_backward(grad_output, input, pad, mode="constant", value=None):
    """Gradient of ``pad`` w.r.t. its input: each output gradient summed back into its source element."""
    xs, dt = array_info(input, "input")
    _, gdt = array_info(grad_output, "grad_output")
    shapes.same_dtype([("input", dt), ("grad_output", gdt)])
    return ops.pad_backward(grad_output, xs, pad, mode)


_export(pad, pad_backward)
