"""Argument normalization, output-size and gradient-padding arithmetic, and the errors users see.

Everything here is pure Python over integers and tuples (plus small NumPy index tables for
pooling and padding); no kernel runs until these checks pass. Kernels work on a canonical
5-d layout ``(N, C, D, H, W)``: a 1-d op is a 3-d op with ``D = H = 1``, a 2-d op one with
``D = 1``. The helpers here return per-dimension parameters already padded to 3 entries.

Output size of a window of ``k`` taps spaced ``d`` apart, stride ``s``, padding ``lo, hi``::

    out = floor((n + lo + hi - d*(k-1) - 1) / s) + 1

Understanding the transposed convolution: a convolution maps ``x`` (size ``n``) to ``y``
(size ``out``) by ``y[o] = sum_k w[k] x[o*s + k*d - lo]``. Its input-gradient scatters every
``y[o]`` back along the same taps, so a transposed convolution is the same index relation
read the other way: its input is ``y``, its output is ``x``, of size
``(out-1)*s - lo - hi + d*(k-1) + 1 + output_padding``. Only ``lo`` enters the index
arithmetic; ``hi`` and ``output_padding`` only set how large ``x`` is. The kernels therefore take
``pad_lo`` alone and read sizes off the arrays they are given.
"""
from __future__ import annotations

import functools
import math
import numbers
import os
from dataclasses import dataclass

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
PAD_MODES = ("constant", "reflect", "replicate", "circular")
CONV_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


# ----------------------------------------------------------------------------- scalars


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def ntuple(value, n: int, name: str) -> tuple:
    """``value`` as a tuple of ``n`` ints: an int (or a sequence of one, as PyTorch takes it) is repeated,
    a longer sequence must have length ``n``."""
    if _is_int(value):
        return (int(value),) * n
    if isinstance(value, (tuple, list)) and len(value) in (1, n) and all(_is_int(v) for v in value):
        return tuple(int(v) for v in value) * (n // len(value))
    raise TypeError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")


def real(value, name: str, lo=None, hi=None, lo_open=False, hi_open=False) -> float:
    """``value`` as a float: a finite real number (not a bool) in [lo, hi] (an end excluded when
    ``lo_open`` / ``hi_open``; None: unbounded); else a TypeError (not a number) or ValueError (NaN,
    infinite, out of range) naming ``name`` and the value."""
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and (v >= hi if hi_open else v > hi)):
        left, right = ("(" if lo_open else "[") + ("-inf" if lo is None else f"{lo}"), \
            ("inf)" if hi is None else f"{hi}" + (")" if hi_open else "]"))
        raise ValueError(f"{name} must be in {left}, {right}, got {value!r}")
    return v


def integer(value, name: str, lo=None) -> int:
    """``value`` as an int: an integer (Python's or NumPy's, not a bool) of at least ``lo`` (None:
    unbounded); else a TypeError (not an integer: 1.5, '3', None) or ValueError (below ``lo``)
    naming ``name`` and the value."""
    if not _is_int(value) or isinstance(value, np.bool_):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if lo is not None and value < lo:
        raise ValueError(f"{name} must be >= {lo}, got {value!r}")
    return int(value)


def sizes(value, name: str) -> tuple:
    """``value`` as a tuple of non-negative ints: an int is a tuple of one, a sequence (list, tuple,
    torch.Size) gives one entry each; else a TypeError, or a ValueError for a negative entry."""
    seq = (value,) if _is_int(value) else tuple(value) if isinstance(value, (tuple, list)) or \
        (isinstance(value, np.ndarray) and value.ndim == 1) else None
    if seq is None or not all(_is_int(v) for v in seq):
        raise TypeError(f"{name} must be an int or a sequence of ints, got {value!r}")
    if any(v < 0 for v in seq):
        raise ValueError(f"{name} must not hold a negative size, got {tuple(int(v) for v in seq)}")
    return tuple(int(v) for v in seq)


def broadcasts_to(shape, target) -> bool:
    """Whether an array of ``shape`` broadcasts to exactly ``target`` (NumPy's rules)."""
    try:
        return np.broadcast_shapes(tuple(shape), tuple(target)) == tuple(target)
    except ValueError:
        return False


def flag(value, name: str) -> bool:
    """``value`` as a bool: True or False (NumPy's too); anything else, a truthy string say, is a
    TypeError naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def positive(values: tuple, name: str) -> tuple:
    if any(v < 1 for v in values):
        raise ValueError(f"{name} must be >= 1 in every dimension, got {values}")
    return values


def non_negative(values: tuple, name: str) -> tuple:
    if any(v < 0 for v in values):
        raise ValueError(f"{name} must be >= 0 in every dimension, got {values}")
    return values


def to3(values: tuple, fill: int) -> tuple:
    """Left-pad a per-dimension tuple to 3 entries (the kernels' D, H, W)."""
    return (fill,) * (3 - len(values)) + tuple(values)


def out_size(n: int, k: int, s: int, d: int, lo: int, hi: int) -> int:
    return (n + lo + hi - d * (k - 1) - 1) // s + 1


# ----------------------------------------------------------------------------- arrays


def array_dtype(x, name: str) -> np.dtype:
    """``x``'s dtype as NumPy's; a TypeError naming ``name`` when ``x`` is not an array, or is one whose
    dtype NumPy cannot read (a torch CPU tensor, say)."""
    dtype = getattr(x, "dtype", None)
    if getattr(x, "shape", None) is None or dtype is None:
        raise TypeError(f"{name} must be an array (numpy.ndarray, numconv.Tensor or CUDA array), got {type(x).__name__}")
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be an array (numpy.ndarray, numconv.Tensor or CUDA array), got "
                        f"{type(x).__module__}.{type(x).__name__} of dtype {dtype}; for a torch tensor pass "
                        f"{name}.numpy()") from None


def array_info(x, name: str, ndims: tuple | None = None, what: str = ""):
    """Check that ``x`` is a float32/float64 array with one of ``ndims`` dimensions."""
    dtype = array_dtype(x, name)
    shape = x.shape
    if dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be float32 or float64, got dtype {dtype}; convert it first, e.g. {name}.astype(numpy.float32)"
        )
    if ndims is not None and len(shape) not in ndims:
        expect = " or ".join(str(n) for n in ndims)
        raise ValueError(f"{name} must have {expect} dimensions{what}, got shape {tuple(shape)}")
    return tuple(int(s) for s in shape), dtype


def same_dtype(pairs) -> None:
    """``pairs``: sequence of (name, dtype). All must agree."""
    pairs = [(n, np.dtype(d)) for n, d in pairs if d is not None]
    first_name, first = pairs[0]
    for name, dt in pairs[1:]:
        if dt != first:
            raise TypeError(
                f"{name} has dtype {dt} but {first_name} has dtype {first}; pass arrays of one dtype "
                f"(e.g. {name}.astype(numpy.{first}))"
            )


def sample_shape(value, name: str = "input_shape") -> tuple:
    """``value``, one sample's shape (C, *spatial), as a tuple of positive ints: a sequence of ints,
    never truncated from floats, no bools; a bare int is refused (is 28 a channel count or a width?)."""
    if not isinstance(value, (tuple, list, np.ndarray)) or not all(_is_int(n) for n in value):
        raise TypeError(f"{name} must be a tuple of ints (C, *spatial), got {value!r}")
    shape = tuple(int(n) for n in value)
    if not shape or min(shape) < 1:
        raise ValueError(f"{name} must be (C, *spatial) with positive sizes, got {shape}")
    return shape


def float_dtype(value, name: str) -> np.dtype:
    """``value`` (``numpy.float32``, ``'float64'``, ...) as float32 or float64; anything else a TypeError naming ``name``."""
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64 (numpy.float32, 'float64', ...), got {value!r}")
    return dtype


def batched(shape: tuple, nd: int, name: str) -> tuple[tuple, bool]:
    """Accept ``(N, C, *spatial)`` or unbatched ``(C, *spatial)``; return the batched shape and whether it was."""
    if len(shape) == nd + 2:
        return shape, True
    if len(shape) == nd + 1:
        return (1,) + shape, False
    raise ValueError(
        f"{name} must have shape (N, C, {_spatial_names(nd)}) or (C, {_spatial_names(nd)}) "
        f"for a {nd}-d op, got shape {shape}"
    )


def _spatial_names(nd: int) -> str:
    return ", ".join(("D", "H", "W")[3 - nd:])


# ----------------------------------------------------------------------------- convolution


@dataclass(frozen=True)
class ConvSpec:
    """A convolution in the kernels' 5-d terms.

    ``x_shape`` (N, C, D, H, W) is the convolution's input, ``y_shape`` (N, O, OD, OH, OW) its
    output, ``w_shape`` (O, C/groups, KD, KH, KW). For a transposed convolution ``y`` is its input
    and ``x`` its output. ``pad_lo``/``pad_hi`` are the zero padding on each side of ``x``.
    """

    x_shape: tuple
    w_shape: tuple
    y_shape: tuple
    stride: tuple
    pad_lo: tuple
    pad_hi: tuple
    dilation: tuple
    groups: int
    nd: int = 3

    @property
    def x_nd(self) -> tuple:
        """The convolution input's batched n-d shape (the transposed convolution's output)."""
        return self.x_shape[:2] + self.x_shape[5 - self.nd:]

    @property
    def y_nd(self) -> tuple:
        """The convolution output's batched n-d shape (the transposed convolution's input)."""
        return self.y_shape[:2] + self.y_shape[5 - self.nd:]


def conv_padding(padding, nd: int, name: str = "padding"):
    """Normalize ``padding`` to ``(lo, hi)`` tuples, or return the string ``'same'``.

    Accepts an int, a tuple of ``nd`` ints (symmetric), a tuple of ``nd`` ``(lo, hi)`` pairs,
    ``'valid'`` (no padding) or ``'same'`` (resolved later, it depends on sizes).
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * nd, (0,) * nd
        if padding == "same":
            return "same"
        raise ValueError(f"{name} must be an int, a tuple, 'same' or 'valid', got {padding!r}")
    if isinstance(padding, (tuple, list)) and len(padding) == nd and all(
        isinstance(p, (tuple, list)) for p in padding
    ):
        if not all(len(p) == 2 and _is_int(p[0]) and _is_int(p[1]) for p in padding):
            raise TypeError(f"{name} given per side must be {nd} pairs of ints (lo, hi), got {padding!r}")
        lo = tuple(int(p[0]) for p in padding)
        hi = tuple(int(p[1]) for p in padding)
    else:
        lo = hi = ntuple(padding, nd, name)
    non_negative(lo, name)
    non_negative(hi, name)
    return lo, hi


def _same_padding(sizes, kernel, stride, dilation):
    """TensorFlow's 'same': output = ceil(n / s); the odd pixel of padding goes on the high side."""
    lo, hi = [], []
    for n, k, s, d in zip(sizes, kernel, stride, dilation):
        out = -(-n // s)
        total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
        lo.append(total // 2)
        hi.append(total - total // 2)
    return tuple(lo), tuple(hi)


def _memo(fn):
    """Remember ``fn``'s results per argument values (a training step asks for the same specs every
    iteration). The key is the arguments' ``repr``, which tells 1, 1.0, True and np.int64(1) apart
    (equal in Python, but only some are valid sizes), so a cached result never hides an error;
    errors are not remembered. Arguments whose repr does not pin their value down (arbitrary
    objects, NumPy's summarized long arrays) skip the cache. The specs are shared: nothing may write into their arrays (the kernels only
    read them)."""
    cache = {}

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        key = repr((args, sorted(kwargs.items())))
        if " object at 0x" in key or "..." in key:  # the repr does not pin the value down
            return fn(*args, **kwargs)
        if key not in cache:
            if len(cache) >= 1024:
                cache.clear()
            cache[key] = fn(*args, **kwargs)
        return cache[key]

    wrapper.cache_clear = cache.clear
    return wrapper


@_memo
def conv_spec(x_shape, w_shape, nd, stride, padding, dilation, groups, bias_shape=None) -> ConvSpec:
    """Check a convolution's arguments (batched ``x_shape``) and compute its output shape."""
    N, C = x_shape[:2]
    if len(w_shape) != nd + 2:
        raise ValueError(f"weight must have shape (C_out, C_in/groups, {_spatial_names(nd)}), got {w_shape}")
    O, cpg = w_shape[:2]
    kernel = tuple(w_shape[2:])
    stride = positive(ntuple(stride, nd, "stride"), "stride")
    dilation = positive(ntuple(dilation, nd, "dilation"), "dilation")
    if not _is_int(groups) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    if C % groups:
        raise ValueError(f"groups={groups} must divide the input channels, got C_in={C}")
    if O % groups:
        raise ValueError(f"groups={groups} must divide the output channels (weight.shape[0]={O})")
    if cpg * groups != C:
        raise ValueError(
            f"weight expects {cpg * groups} input channels (weight.shape[1]={cpg} x groups={groups}) "
            f"but input has C_in={C}; input shape {x_shape}, weight shape {w_shape}"
        )
    if min(kernel) < 1 or O < 1:
        raise ValueError(f"weight must have non-empty dimensions, got {w_shape}")
    if bias_shape is not None and tuple(bias_shape) != (O,):
        raise ValueError(f"bias must have shape ({O},) to match weight.shape[0], got {tuple(bias_shape)}")
    sizes = x_shape[2:]
    nonempty_spatial(sizes, x_shape)
    pad = conv_padding(padding, nd)
    lo, hi = _same_padding(sizes, kernel, stride, dilation) if pad == "same" else pad
    out = tuple(out_size(n, k, s, d, a, b) for n, k, s, d, a, b in zip(sizes, kernel, stride, dilation, lo, hi))
    if min(out) < 1:
        raise ValueError(
            f"the output would be empty: input size {sizes} with padding {tuple(zip(lo, hi))} is smaller than "
            f"the dilated kernel {tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))} (kernel {kernel}, dilation {dilation})"
        )
    output_fits((N, O) + out, "convolution", f"padding={tuple(zip(lo, hi))}, stride={stride}")
    return ConvSpec(
        x_shape=(N, C) + to3(sizes, 1),
        w_shape=(O, cpg) + to3(kernel, 1),
        y_shape=(N, O) + to3(out, 1),
        stride=to3(stride, 1),
        pad_lo=to3(lo, 0),
        pad_hi=to3(hi, 0),
        dilation=to3(dilation, 1),
        groups=int(groups),
        nd=nd,
    )


@_memo
def conv_transpose_spec(
    x_shape, w_shape, nd, stride, padding, output_padding, groups, dilation, bias_shape=None
) -> ConvSpec:
    """Check a transposed convolution (input ``x_shape``, batched) and return the spec of the
    convolution it is the transpose of: ``spec.y_shape`` is this op's input, ``spec.x_shape`` its output."""
    N, C = x_shape[:2]
    if len(w_shape) != nd + 2:
        raise ValueError(f"weight must have shape (C_in, C_out/groups, {_spatial_names(nd)}), got {w_shape}")
    ci, opg = w_shape[:2]
    kernel = tuple(w_shape[2:])
    stride = positive(ntuple(stride, nd, "stride"), "stride")
    dilation = positive(ntuple(dilation, nd, "dilation"), "dilation")
    opad = non_negative(ntuple(output_padding, nd, "output_padding"), "output_padding")
    if not _is_int(groups) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    if ci != C:
        raise ValueError(
            f"weight.shape[0]={ci} must equal the input channels C_in={C} (transposed weight is "
            f"(C_in, C_out/groups, ...)); input shape {x_shape}, weight shape {w_shape}"
        )
    if C % groups:
        raise ValueError(f"groups={groups} must divide the input channels, got C_in={C}")
    for op, s, d in zip(opad, stride, dilation):
        if op >= s and op >= d:
            raise ValueError(
                f"output_padding must be smaller than either stride or dilation, got output_padding={opad}, "
                f"stride={stride}, dilation={dilation}"
            )
    O = opg * groups
    if bias_shape is not None and tuple(bias_shape) != (O,):
        raise ValueError(f"bias must have shape ({O},) (weight.shape[1] x groups), got {tuple(bias_shape)}")
    lo, hi = conv_transpose_padding(padding, nd)
    sizes = x_shape[2:]
    nonempty_spatial(sizes, x_shape)
    out = tuple(
        (n - 1) * s - a - b + d * (k - 1) + 1 + op
        for n, s, a, b, d, k, op in zip(sizes, stride, lo, hi, dilation, kernel, opad)
    )
    if min(out) < 1:
        raise ValueError(
            f"the output would be empty: transposed convolution of size {sizes} with stride {stride}, "
            f"kernel {kernel}, dilation {dilation} and padding {tuple(zip(lo, hi))} gives {out}"
        )
    output_fits((N, O) + out, "transposed convolution", f"stride={stride}, dilation={dilation}, kernel {kernel}")
    # The convolution whose input-gradient this is: input `out` (O channels), output `sizes` (C channels).
    return ConvSpec(
        x_shape=(N, O) + to3(out, 1),
        w_shape=(C, opg) + to3(kernel, 1),
        y_shape=(N, C) + to3(sizes, 1),
        stride=to3(stride, 1),
        pad_lo=to3(lo, 0),
        pad_hi=to3(tuple(b - op for b, op in zip(hi, opad)), 0),
        dilation=to3(dilation, 1),
        groups=int(groups),
        nd=nd,
    )


def conv_transpose_padding(padding, nd: int):
    """A transposed convolution's padding as (lo, hi) tuples; 'same'/'valid' are not defined for it."""
    if isinstance(padding, str):
        raise ValueError(f"padding={padding!r} is not defined for a transposed convolution; pass ints or (lo, hi) pairs")
    return conv_padding(padding, nd)


def conv_padding_mode(padding_mode: str) -> str:
    if padding_mode not in CONV_PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {CONV_PADDING_MODES}, got {padding_mode!r}")
    return "constant" if padding_mode == "zeros" else padding_mode


# ----------------------------------------------------------------------------- pooling


@dataclass(frozen=True)
class PoolSpec:
    """A windowed reduction in the kernels' terms.

    For each spatial dimension ``i`` (of D, H, W) and output index ``o``, the window's valid taps
    are ``first[i, o] + t * step[i]`` for ``t < count[i, o]`` (taps in the padding are dropped
    here, once, so kernels never test bounds). ``div[i, o]`` is that dimension's factor of the
    average's divisor; the divisor of a window is the product over dimensions (or ``override``).
    The inverse, for gathers: the windows whose span ``[first, first + (count-1)*step]`` holds
    input index ``j`` of dimension ``i`` are among the outputs ``cover_first[i, j] + u`` for ``u <
    cover_count[i, j]`` (spans move forward with ``o``, so the range is short; see _cover_table).
    """

    x_shape: tuple
    y_shape: tuple
    first: np.ndarray  # (3, max_out) int64
    count: np.ndarray  # (3, max_out) int64
    step: tuple
    div: np.ndarray  # (3, max_out) float64
    nd: int = 3
    cover_first: np.ndarray = None  # (3, max_in) int64; filled in by __post_init__
    cover_count: np.ndarray = None

    def __post_init__(self):
        if self.cover_first is None:
            firsts, counts = zip(*(_cover_table(self.first[i, :o], self.count[i, :o], s, n)
                                   for i, (o, s, n) in enumerate(zip(self.y_shape[2:], self.step, self.x_shape[2:]))))
            object.__setattr__(self, "cover_first", _stack3(firsts, np.int64))
            object.__setattr__(self, "cover_count", _stack3(counts, np.int64))

    @property
    def x_nd(self) -> tuple:
        return self.x_shape[:2] + self.x_shape[5 - self.nd:]

    @property
    def y_nd(self) -> tuple:
        return self.y_shape[:2] + self.y_shape[5 - self.nd:]


def pool_params(nd, kernel_size, stride, padding, dilation):
    kernel = positive(ntuple(kernel_size, nd, "kernel_size"), "kernel_size")
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        stride = kernel
    stride = positive(ntuple(stride, nd, "stride"), "stride")
    padding = non_negative(ntuple(padding, nd, "padding"), "padding")
    dilation = positive(ntuple(dilation, nd, "dilation"), "dilation")
    for p, k, d in zip(padding, kernel, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise ValueError(
                f"padding must be at most half the (dilated) window, got padding={padding} for "
                f"kernel_size={kernel}, dilation={dilation}"
            )
    return kernel, stride, padding, dilation


def pool_out_size(n, k, s, p, d, ceil_mode) -> int:
    """PyTorch's rule: with ``ceil_mode`` the last window may hang over the end but must start
    inside the input or its left padding."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _window_table(n, out, k, s, p, d):
    """Per output ``o`` of one dimension (taps ``o*s - p + t*d``, ``t < k``): its first tap inside
    ``[0, n)`` (0 if none), how many of its taps are inside, and its two divisors: the taps inside
    the padded input (``< n + p``; the left padding counts) and the taps inside the input."""
    start = np.arange(out, dtype=np.int64) * s - p  # tap 0
    t_lo = np.minimum(np.where(start < 0, (-start + d - 1) // d, 0), k)  # the first tap at or after 0
    t_hi = np.clip((n - start + d - 1) // d, 0, k)  # past the last tap before n
    count = np.maximum(t_hi - t_lo, 0)
    first = np.where(count > 0, start + t_lo * d, 0)
    div_in = np.clip((n + p - start + d - 1) // d, 0, k).astype(np.float64)
    return first, count, div_in, count.astype(np.float64)


def _cover_table(first, count, step, n):
    """(cover_first, cover_count) over input indices ``0 .. n-1`` of one dimension: the outputs
    ``cover_first[j] .. cover_first[j] + cover_count[j] - 1`` include every window whose span
    ``[first, first + (count-1)*step]`` holds ``j``. Spans move forward with the output, except that
    dilation with padding can shift a window's first valid tap past its neighbour's, so the range
    runs from the first window whose span ends at or after ``j`` to the last that starts at or
    before it; the kernels check each window they visit."""
    last = first + (count - 1) * step
    end_so_far = np.maximum.accumulate(last)  # nondecreasing: windows before start(j) all end before j
    start_from_here = np.minimum.accumulate(first[::-1])[::-1]  # nondecreasing: windows from stop(j) start after j
    j = np.arange(n)
    start = np.searchsorted(end_so_far, j, side="left")
    stop = np.searchsorted(start_from_here, j, side="right")
    return start.astype(np.int64), np.maximum(stop - start, 0).astype(np.int64)


def _stack3(rows, dtype):
    width = max(len(r) for r in rows)
    table = np.zeros((3, width), dtype)
    for i, r in enumerate(rows):
        table[i, : len(r)] = r
    return table


@_memo
def pool_spec(x_shape, nd, kernel_size, stride, padding, dilation, ceil_mode, count_include_pad=True) -> PoolSpec:
    ceil_mode, count_include_pad = flag(ceil_mode, "ceil_mode"), flag(count_include_pad, "count_include_pad")
    kernel, stride, padding, dilation = pool_params(nd, kernel_size, stride, padding, dilation)
    sizes = x_shape[2:]
    outs = tuple(pool_out_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d in zip(sizes, kernel, stride, padding, dilation))
    if min(outs) < 1:
        raise ValueError(
            f"the output would be empty: input size {sizes} is smaller than the window "
            f"(kernel_size={kernel}, dilation={dilation}, padding={padding})"
        )
    output_fits(x_shape[:2] + outs, "pooling", f"kernel_size={kernel}, stride={stride}, padding={padding}", sum(outs))
    tables = [_window_table(*a) for a in zip(sizes, outs, kernel, stride, padding, dilation)]
    for t, n, k, d, p in zip(tables, sizes, kernel, dilation, padding):
        if (t[1] == 0).any():
            raise ValueError(
                f"a pooling window lies entirely in the padding (input size {n}, kernel_size {k}, dilation {d}, "
                f"padding {p}): every window must cover at least one input element; use less padding"
            )
    unit = (np.zeros(1, np.int64), np.ones(1, np.int64), np.ones(1), np.ones(1))
    tables = [unit] * (3 - nd) + tables
    return PoolSpec(
        x_shape=x_shape[:2] + to3(sizes, 1),
        y_shape=x_shape[:2] + to3(outs, 1),
        first=_stack3([t[0] for t in tables], np.int64),
        count=_stack3([t[1] for t in tables], np.int64),
        step=to3(dilation, 1),
        div=_stack3([t[2] if count_include_pad else t[3] for t in tables], np.float64),
        nd=nd,
    )


def adaptive_output_size(output_size, sizes, nd):
    """``output_size``: int or tuple with ``None`` entries meaning "keep the input size"."""
    if _is_int(output_size) or output_size is None:
        output_size = (output_size,) * nd
    if not isinstance(output_size, (tuple, list)) or len(output_size) != nd:
        raise TypeError(f"output_size must be an int or a tuple of {nd} ints (or None), got {output_size!r}")
    outs = []
    for o, n in zip(output_size, sizes):
        if o is None:
            o = n
        if not _is_int(o):
            raise TypeError(f"output_size must be an int or a tuple of {nd} ints (or None), got {tuple(output_size)}")
        if o < 0:  # 0 gives an empty output, as PyTorch's
            raise ValueError(f"output_size must be >= 0 in every dimension, got {tuple(output_size)}")
        outs.append(int(o))
    return tuple(outs)


@_memo
def adaptive_pool_spec(x_shape, nd, output_size) -> PoolSpec:
    """Window ``o`` of ``out`` over ``n`` inputs spans ``[floor(o*n/out), ceil((o+1)*n/out))``."""
    sizes = x_shape[2:]
    if min(sizes) < 1:
        raise ValueError(f"input must have non-empty spatial dimensions, got shape {x_shape}")
    outs = adaptive_output_size(output_size, sizes, nd)
    output_fits(x_shape[:2] + outs, "adaptive pooling", f"output_size={output_size!r}", sum(outs))
    firsts, counts = [], []
    for n, out in zip(sizes, outs):
        o = np.arange(out + 1, dtype=np.int64 if (out + 1) * n < 2**63 else object)
        start = (o[:-1] * n) // out
        end = -(-(o[1:] * n) // out)
        firsts.append(start.astype(np.int64))
        counts.append((end - start).astype(np.int64))
    pad_unit = 3 - nd
    firsts = [np.zeros(1, np.int64)] * pad_unit + firsts
    counts = [np.ones(1, np.int64)] * pad_unit + counts
    return PoolSpec(
        x_shape=x_shape[:2] + to3(sizes, 1),
        y_shape=x_shape[:2] + to3(outs, 1),
        first=_stack3(firsts, np.int64),
        count=_stack3(counts, np.int64),
        step=(1, 1, 1),
        div=_stack3(counts, np.float64),
        nd=nd,
    )


@_memo
def fractional_pool_params(x_shape, nd, kernel_size, output_size, output_ratio):
    """(kernel, output sizes) of fractional max pooling over an input of batched shape ``x_shape``:
    exactly one of ``output_size`` (ints >= 0) and ``output_ratio`` (numbers in (0, 1); the size is
    ``int(n * ratio)``, as PyTorch's) is given, and every window of ``kernel`` fits: ``k <= n`` and
    ``out + k - 1 <= n`` (windows start at distinct positions)."""
    name = f"fractional_max_pool{nd}d"
    kernel = positive(ntuple(kernel_size, nd, "kernel_size"), "kernel_size")
    sizes = tuple(x_shape[2:])
    if (output_size is None) == (output_ratio is None):
        raise ValueError(f"{name} takes exactly one of output_size and output_ratio, got output_size={output_size!r} "
                         f"and output_ratio={output_ratio!r}")
    if output_size is not None:
        outs = non_negative(ntuple(output_size, nd, "output_size"), "output_size")
    else:
        ratios = (output_ratio,) * nd if isinstance(output_ratio, numbers.Real) else output_ratio
        if (not isinstance(ratios, (tuple, list)) or len(ratios) != nd
                or not all(isinstance(r, numbers.Real) and not isinstance(r, bool) for r in ratios)):
            raise TypeError(f"output_ratio must be a number or a tuple of {nd} numbers, got {output_ratio!r}")
        if not all(0 < r < 1 for r in ratios):  # an output smaller than the input, as PyTorch's layers require
            raise ValueError(f"output_ratio must be between 0 and 1 (exclusive) in every dimension, got {output_ratio!r}")
        outs = tuple(int(n * r) for n, r in zip(sizes, ratios))
    for n, o, k, dim in zip(sizes, outs, kernel, _spatial_names(nd).split(", ")):
        if k > n or o + k - 1 > n:
            raise ValueError(f"{name}: kernel_size {kernel} is too large for output size {outs} from input size {sizes}: "
                             f"along {dim}, the window ({k}) and the output ({o}) need kernel + output - 1 <= {n}")
    output_fits(tuple(x_shape[:2]) + outs, name, f"output_size={outs}")
    return kernel, outs


def fractional_starts(samples, sizes, outs, kernel):
    """The first input index of every window of fractional max pooling, (N, C, 3, max(outs)) int64
    (the D, H, W rows; unit dimensions padded in front start at 0), from ``samples`` (N, C, nd) in
    [0, 1), one per plane and dimension, of the input's dtype.

    Along a dimension of ``n`` inputs, ``o`` outputs and windows of ``k``, with ``alpha = (n - k) /
    (o - 1)`` and the plane's sample ``u``, window ``i < o - 1`` starts at ``int((i + u) * alpha) -
    int(u * alpha)`` and the last at ``n - k`` (Graham 2014, "pseudorandom" overlapping windows),
    computed in the samples' dtype, as PyTorch computes them. Which sample goes to which dimension
    also follows PyTorch: (W, H) for images, (D, H, W) for volumes."""
    N, C, nd = samples.shape
    real = samples.dtype.type
    table = np.zeros((N, C, 3, max(max(outs), 1)), np.int64)
    for i, (n, o, k) in enumerate(zip(sizes, outs, kernel)):
        if o == 0:
            continue
        row = table[:, :, 3 - nd + i]
        if o > 1:
            u = samples[:, :, nd - 1 - i if nd == 2 else i][:, :, None]
            alpha = real(n - k) / real(o - 1)
            steps = np.arange(o - 1).astype(samples.dtype)
            row[:, :, :o - 1] = ((steps + u) * alpha).astype(np.int64) - (u * alpha).astype(np.int64)
        row[:, :, o - 1] = n - k
        if row.size and (row[:, :, :o].min() < 0 or row[:, :, :o].max() > n - k):  # rounding cannot get here from [0, 1)
            raise ValueError(f"_random_samples give fractional pooling windows outside the input ({n} along one "
                             f"dimension, windows of {k}); the samples must lie in [0, 1)")
    return table


def divisor(divisor_override) -> float:
    """0.0 means "use the window's own divisor"."""
    if divisor_override is None:
        return 0.0
    if not _is_int(divisor_override) or divisor_override == 0:
        raise ValueError(f"divisor_override must be a non-zero int or None, got {divisor_override!r}")
    return float(divisor_override)


def unpool_output_size(x_shape, nd, kernel_size, stride, padding, output_size):
    """Default ``(n-1)*s - 2p + k``; an explicit ``output_size`` must lie strictly within a stride of it."""
    kernel = positive(ntuple(kernel_size, nd, "kernel_size"), "kernel_size")
    stride = kernel if stride is None else positive(ntuple(stride, nd, "stride"), "stride")
    padding = non_negative(ntuple(padding, nd, "padding"), "padding")
    default = tuple((n - 1) * s - 2 * p + k for n, s, p, k in zip(x_shape[2:], stride, padding, kernel))
    if output_size is None:
        out = default
    else:
        if _is_int(output_size):
            output_size = (output_size,) * nd
        output_size = tuple(output_size)
        if len(output_size) == nd + 2:
            output_size = output_size[2:]
        out = ntuple(output_size, nd, "output_size")
        for o, dflt, s in zip(out, default, stride):
            if not (dflt - s < o < dflt + s):
                raise ValueError(
                    f"output_size {out} must be within one stride of the default {default} (stride {stride})"
                )
    if min(out) < 1:
        raise ValueError(f"the unpooled output would be empty: {out}")
    output_fits(tuple(x_shape[:2]) + out, "max_unpool", f"kernel_size={kernel}, stride={stride}")
    return out


# ----------------------------------------------------------------------------- pad


def pad_tables(sizes, pad, mode):
    """Source index per output index, for each padded (trailing) dimension; -1 means "the constant".

    ``pad`` is PyTorch's flat form: (last_lo, last_hi, second_last_lo, second_last_hi, ...).
    A negative pad crops, in every mode (circular wraps around what the crop leaves, as PyTorch).
    """
    if mode not in PAD_MODES:
        raise ValueError(f"mode must be one of {PAD_MODES}, got {mode!r}")
    if not isinstance(pad, (tuple, list)) or len(pad) % 2 or not all(_is_int(p) for p in pad):
        raise TypeError(f"pad must be a tuple of an even number of ints, got {pad!r}")
    npad = len(pad) // 2
    if npad > 3 or npad > len(sizes):
        raise ValueError(f"pad {tuple(pad)} pads {npad} dimensions; at most 3 trailing dimensions of the input {sizes}")
    pairs = [(int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(npad)][::-1]  # outermost first
    dims = sizes[len(sizes) - npad:]
    padded = tuple(max(n + lo + hi, 0) for n, (lo, hi) in zip(dims, pairs))
    output_fits(tuple(sizes[:len(sizes) - npad]) + padded, "pad", f"pad={tuple(pad)}", sum(padded))
    tables, outs = [], []
    for n, (lo, hi) in zip(dims, pairs):
        out = n + lo + hi
        if out < 1:
            raise ValueError(f"pad {tuple(pad)} would make a dimension of size {n} empty ({out})")
        if n + lo < 0 or n + hi < 0:
            raise ValueError(f"pad {tuple(pad)} crops more than the {n} elements of a dimension (a negative pad "
                             f"crops, at most the dimension's size)")
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ValueError(f"reflect padding must be smaller than the dimension it pads: pad={tuple(pad)}, size {n}")
        kept = n - max(-lo, 0) - max(-hi, 0)  # circular: what the negative sides leave, which the padding wraps
        if mode == "circular" and (lo > kept or hi > kept):
            raise ValueError(f"circular padding must be at most the dimension it pads: pad={tuple(pad)}, size {n}"
                             + (f" ({kept} after cropping)" if kept != n else ""))
        i = np.arange(out, dtype=np.int64) - lo
        if mode == "constant":
            src = np.where((i >= 0) & (i < n), i, -1)
        elif mode == "reflect":
            src = np.abs(i)
            src = np.where(src >= n, 2 * (n - 1) - src, src)
        elif mode == "replicate":
            src = np.clip(i, 0, n - 1)
        else:  # crop the negative sides, then wrap around what is left, as PyTorch
            first = max(-lo, 0)
            src = first + np.mod(np.arange(out, dtype=np.int64) - max(lo, 0), kept)
        tables.append(src.astype(np.int64))
        outs.append(out)
    return tables, tuple(outs)


# ----------------------------------------------------------------------------- unfold / fold


def unfold_params(kernel_size, dilation, padding, stride, nd=2):
    kernel = positive(ntuple(kernel_size, nd, "kernel_size"), "kernel_size")
    dilation = positive(ntuple(dilation, nd, "dilation"), "dilation")
    padding = non_negative(ntuple(padding, nd, "padding"), "padding")
    stride = positive(ntuple(stride, nd, "stride"), "stride")
    return kernel, dilation, padding, stride


def block_counts(sizes, kernel, dilation, padding, stride, name="input"):
    nonempty_spatial(sizes, sizes, f"{name} spatial size")
    outs = tuple(out_size(n, k, s, d, p, p) for n, k, s, d, p in zip(sizes, kernel, stride, dilation, padding))
    if min(outs) < 1:
        raise ValueError(
            f"{name} spatial size {tuple(sizes)} with padding {padding} is smaller than the dilated kernel "
            f"(kernel_size={kernel}, dilation={dilation}): no sliding blocks"
        )
    return outs


def nonempty_spatial(sizes, shape, name="input") -> None:
    """Raise unless every spatial size is at least 1 (the batch and channels may be 0, as in PyTorch:
    a window over a dimension of no elements would read padding alone)."""
    if min(sizes, default=1) < 1:
        raise ValueError(f"{name} has an empty spatial dimension, shape {tuple(shape)}: only the batch and channel "
                         f"dimensions may be 0")


def prod(values) -> int:
    return int(math.prod(values))


@functools.lru_cache(maxsize=1)
def memory_bytes() -> int:
    """This machine's physical memory in bytes (2**63 where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 2**63


TABLE_ENTRY_BYTES = 64  # an index table's entry: its int64 arrays and the temporaries that build them


def output_fits(shape, what: str, because: str, table_entries: int = 0) -> None:
    """Refuse, before any table is built or memory allocated, an output that could not fit in this
    machine's memory even in float32 (4 bytes an element), with ``table_entries`` entries of index
    tables beside it: a size typed wrong, not a big batch."""
    need = prod(shape) * 4 + table_entries * TABLE_ENTRY_BYTES
    if need > memory_bytes():
        tables = " with its index tables" if table_entries else ""
        raise ValueError(f"{what}: the output would have shape {tuple(shape)}, {need / 2**30:.3g} GiB{tables} even "
                         f"in float32, more than this machine's {memory_bytes() / 2**30:.3g} GiB of memory ({because})")


# ----------------------------------------------------------------------------- grid_sample

GRID_SAMPLE_MODES = ("bilinear", "nearest", "bicubic")
GRID_SAMPLE_PADDINGS = ("zeros", "border", "reflection")


def grid_sample_params(x_shape, grid_shape, mode, padding_mode, align_corners):
    """(mode, padding_mode, align_corners as a bool) for ``grid_sample`` of an input of ``x_shape``
    (N, C, H, W) at a grid of ``grid_shape`` (N, H_out, W_out, 2), or (N, C, D, H, W) at
    (N, D_out, H_out, W_out, 3), with PyTorch's rules: the same N, a last grid dimension of 2 (x, y)
    or 3 (x, y, z), a non-empty image, no bicubic volume; align_corners None is False."""
    if len(x_shape) not in (4, 5):
        raise ValueError(f"grid_sample: input must have shape (N, C, H, W) or (N, C, D, H, W), got {tuple(x_shape)}")
    k = len(x_shape) - 2
    if len(grid_shape) != k + 2 or grid_shape[-1] != k:
        want = "(N, H_out, W_out, 2)" if k == 2 else "(N, D_out, H_out, W_out, 3)"
        raise ValueError(f"grid_sample: grid must have shape {want} for a {k + 2}-d input, got {tuple(grid_shape)}")
    if grid_shape[0] != x_shape[0]:
        raise ValueError(f"grid_sample: grid and input must have the same batch size N, got {grid_shape[0]} for the "
                         f"grid and {x_shape[0]} for the input")
    if k == 3 and mode == "bicubic":
        raise ValueError("grid_sample: mode='bicubic' takes a 4-d input only (PyTorch's too); use 'bilinear' "
                         "(trilinear) or 'nearest' for a volume")
    if min(x_shape[2:]) < 1:
        raise ValueError(f"grid_sample: the input must have non-empty spatial dimensions, got shape {tuple(x_shape)}")
    if mode not in GRID_SAMPLE_MODES:
        raise ValueError(f"grid_sample: mode must be one of {GRID_SAMPLE_MODES}, got {mode!r}")
    if padding_mode not in GRID_SAMPLE_PADDINGS:
        raise ValueError(f"grid_sample: padding_mode must be one of {GRID_SAMPLE_PADDINGS}, got {padding_mode!r}")
    return mode, padding_mode, False if align_corners is None else flag(align_corners, "align_corners")


def affine_grid_size(theta_shape, size):
    """``size`` (N, C, H, W) or (N, C, D, H, W) as a tuple of ints, checked against ``theta_shape``
    (N, 2, 3) or (N, 3, 4), for ``affine_grid``."""
    if not isinstance(size, (tuple, list)) or not all(_is_int(n) for n in size):
        raise TypeError(f"affine_grid: size must be a tuple of ints (N, C, H, W) or (N, C, D, H, W), got {size!r}")
    size = tuple(int(n) for n in size)
    if len(size) not in (4, 5):
        raise ValueError(f"affine_grid: size must be (N, C, H, W) or (N, C, D, H, W), got {size}")
    want = (size[0], 2, 3) if len(size) == 4 else (size[0], 3, 4)
    if tuple(theta_shape) != want:
        raise ValueError(f"affine_grid: theta must have shape {want} for size {size}, got {tuple(theta_shape)}")
    if any(n < 1 for n in size):
        raise ValueError(f"affine_grid: sizes must be positive (as PyTorch's), got {size}")
    return size


# ----------------------------------------------------------------------------- interpolate

INTERPOLATE_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
_LINEAR_MODES = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}  # each for one spatial rank


def interpolate_params(spatial, size, scale_factor, mode, align_corners, recompute_scale_factor):
    """(output spatial sizes, per-dimension scale factors to resample with (None: input / output),
    align_corners as a bool) for ``interpolate``, with PyTorch's rules:

    - exactly one of ``size`` (an int, or one per spatial dimension) and ``scale_factor`` (a positive
      number, or one per dimension); the output is floor(input * scale_factor) then;
    - the linear modes need their rank (linear 1-d, bilinear and bicubic 2-d, trilinear 3-d) and alone
      take ``align_corners`` (default False);
    - the given scale factor positions the samples, unless ``recompute_scale_factor`` is True, when
      input / output does (as it always does with ``size``), and but for 2-d 'nearest' along an axis
      whose size stays or doubles, as PyTorch's 2-d kernels special-case those.
    """
    nd = len(spatial)
    if mode not in INTERPOLATE_MODES:
        raise ValueError(f"mode must be one of {INTERPOLATE_MODES}, got {mode!r}")
    if mode in _LINEAR_MODES and _LINEAR_MODES[mode] != nd:
        raise ValueError(f"mode={mode!r} needs a {_LINEAR_MODES[mode] + 2}-d input (N, C, "
                         f"{_spatial_names(_LINEAR_MODES[mode])}), got {nd + 2}-d (spatial size {spatial})")
    if align_corners is not None:
        if mode not in _LINEAR_MODES:
            raise ValueError(f"align_corners can only be set with the interpolating modes (linear, bilinear, "
                             f"bicubic, trilinear), got mode={mode!r}")
        align_corners = flag(align_corners, "align_corners")
    if (size is None) == (scale_factor is None):
        raise ValueError("give exactly one of size and scale_factor, got "
                         + ("both" if size is not None else "neither"))
    if recompute_scale_factor is not None:
        recompute_scale_factor = flag(recompute_scale_factor, "recompute_scale_factor")
        if recompute_scale_factor and size is not None:
            raise ValueError("recompute_scale_factor=True only applies with scale_factor, got size")
    if size is not None:
        sizes = (size,) * nd if _is_int(size) else size
        if not isinstance(sizes, (tuple, list)) or len(sizes) != nd or not all(_is_int(s) for s in sizes):
            raise TypeError(f"size must be an int or a tuple of {nd} ints (one per spatial dimension), got {size!r}")
        out = tuple(int(s) for s in sizes)
        scales = (None,) * nd
    else:
        factors = (scale_factor,) * nd if isinstance(scale_factor, numbers.Real) else scale_factor
        if not isinstance(factors, (tuple, list)) or len(factors) != nd:
            raise TypeError(f"scale_factor must be a number or a tuple of {nd} numbers (one per spatial "
                            f"dimension), got {scale_factor!r}")
        factors = tuple(real(f, "scale_factor", 0.0, lo_open=True) for f in factors)
        out = tuple(int(math.floor(n * f)) for n, f in zip(spatial, factors))
        scales = (None,) * nd if recompute_scale_factor else factors
        if mode == "nearest" and nd == 2:  # PyTorch's 2-d kernels copy pixel j where a size stays, j // 2 where it
            # doubles, whatever the factor (its 1-d and 3-d ones read floor(j / factor) there too): input / output
            scales = tuple(None if m in (n, 2 * n) else s for n, m, s in zip(spatial, out, scales))
    if any(n < 1 for n in spatial) or any(m < 1 for m in out):
        raise ValueError(f"input and output spatial sizes must be >= 1, got input {tuple(spatial)} and output {out}"
                         + (f" (scale_factor={scale_factor!r})" if scale_factor is not None else ""))
    return out, scales, bool(align_corners)


_CUBIC_A = -0.75  # PyTorch's (and OpenCV's) bicubic convolution constant


def _cubic(a, T):
    """Keys' cubic convolution kernel with constant ``a``, in arithmetic of type ``T``: (near, far),
    the pieces for |u| <= 1 and 1 < |u| < 2."""
    a = T(a)
    near = lambda u: ((a + T(2)) * u - (a + T(3))) * u * u + T(1)  # noqa: E731
    far = lambda u: ((a * u - T(5) * a) * u + T(8) * a) * u - T(4) * a  # noqa: E731
    return near, far


def _antialias_rows(n_in, n_out, mode, align_corners, scale_factor, T):
    """PyTorch's antialiased rows (``antialias=True``, its CPU kernels' arithmetic in ``T``): output j
    averages the inputs under the interpolation filter (a triangle, or the cubic with a = -0.5) centred
    at s (j + 0.5) and, when downsampling (s > 1), stretched by s; each row's weights sum to 1.
    Returns (row lengths, taps, weights), rows one after another."""
    if align_corners:
        s = T(n_in - 1) / T(n_out - 1) if n_out > 1 else T(0)
    else:
        s = T(1.0 / scale_factor) if scale_factor else T(n_in) / T(n_out)
    width = 2 if mode == "bilinear" else 4  # the filter's support, in input pixels at s <= 1
    support = T(width * 0.5 * np.float64(s)) if s >= 1 else T(width * 0.5)
    inv = T(1.0 / np.float64(s)) if s >= 1 else T(1)
    if mode == "bilinear":
        def filt(u):
            u = np.abs(u)
            return np.where(u < T(1), T(1) - u, T(0)).astype(T)
    else:
        near, far = _cubic(-0.5, T)

        def filt(u):
            u = np.abs(u)
            return np.where(u < T(1), near(u), np.where(u < T(2), far(u), T(0))).astype(T)
    most = int(np.ceil(support)) * 2 + 1
    centre = (np.float64(s) * (np.arange(n_out) + 0.5)).astype(T)
    first = np.maximum(((centre - support).astype(np.float64) + 0.5).astype(np.int64), 0)  # C's truncation
    last = np.minimum(((centre + support).astype(np.float64) + 0.5).astype(np.int64), n_in)
    count = np.clip(last - first, 0, most)
    k = np.arange(most)
    taps = first[:, None] + k
    u = (((taps.astype(T) - centre[:, None]).astype(np.float64) + 0.5) * np.float64(inv)).astype(T)
    w = np.where(k < count[:, None], filt(u), T(0)).astype(T)
    total = np.zeros(n_out, T)
    for c in range(most):  # summed in tap order, as the kernel's loop
        total = (total + w[:, c]).astype(T)
    w = np.where(total[:, None] != 0, w / np.where(total != 0, total, T(1))[:, None], w).astype(T)
    used = k < count[:, None]
    return count, taps[used], w[used]


@functools.lru_cache(maxsize=512)
def resample_table(n_in: int, n_out: int, mode: str, align_corners: bool, scale_factor, dtype, antialias=False):
    """Interpolation along one axis as a sparse (n_out, n_in) matrix R: output j = sum_k w_k * input i_k.

    Returns (ptr, idx, wts) of R in compressed rows (row j's entries are ptr[j]:ptr[j+1]) and the
    same of R's transpose, the backward (each input's list of the outputs that read it, in output
    order). Positions follow PyTorch's kernels, in its arithmetic (float32 for the nearest modes;
    the input's float type for the others), so the same pixels are read with the same weights:

    - nearest: i = min(floor(j * s), n_in - 1); nearest-exact: i = min(floor((j + 0.5) * s), n_in - 1);
      s = 1 / scale_factor when one is given, else n_in / n_out;
    - linear: x = s * j with align_corners (s = (n_in - 1) / (n_out - 1)), else max(s (j + 0.5) - 0.5, 0);
      taps i = floor(x) and i + 1 (clamped) with weights 1 - t and t, t = x - i;
    - bicubic: the same x, unclamped; taps floor(x) - 1 ... floor(x) + 2 (clamped to the edge) with
      Keys' cubic convolution weights (a = -0.75);
    - ``antialias`` (bilinear and bicubic): ``_antialias_rows``, rows of varying length.
    """
    T = np.float64 if np.dtype(dtype) == np.float64 else np.float32
    j = np.arange(n_out, dtype=np.int64)
    if antialias:
        counts, taps, wts = _antialias_rows(n_in, n_out, mode, align_corners, scale_factor, T)
        return _compressed(n_in, n_out, counts, taps, wts)
    if mode in ("nearest", "nearest-exact"):
        s = np.float32(1.0 / scale_factor) if scale_factor else np.float32(n_in) / np.float32(n_out)
        jf = j.astype(np.float32) + np.float32(0.5 if mode == "nearest-exact" else 0.0)
        src = np.minimum(np.floor(jf * s).astype(np.int64), n_in - 1)
        taps, wts = src[:, None], np.ones((n_out, 1), T)
    else:
        if align_corners:
            s = T(n_in - 1) / T(n_out - 1) if n_out > 1 else T(0)
        else:
            s = T(1.0 / scale_factor) if scale_factor else T(n_in) / T(n_out)
        # s (j + 0.5) - 0.5 rounded once, as the fused multiply-add PyTorch's compiled kernels use: exact
        # in float64 for a float32 s, then rounded to T (float64 inputs: float64 throughout)
        x = (np.float64(s) * j if align_corners else np.float64(s) * (j + 0.5) - 0.5).astype(T)
        if mode != "bicubic":
            x = np.maximum(x, T(0))
        i0 = np.minimum(np.floor(x).astype(np.int64), n_in - 1)
        t = np.clip(x - i0.astype(T), T(0), T(1)).astype(T)
        if mode == "bicubic":
            near, far = _cubic(_CUBIC_A, T)
            wts = np.stack([far(t + T(1)), near(t), near(T(1) - t), far(T(2) - t)], axis=1).astype(T)
            taps = np.clip(i0[:, None] + np.arange(-1, 3), 0, n_in - 1)
        elif n_out == n_in:  # PyTorch's identity: the same element twice, weights 1 and 0
            taps, wts = np.stack([j, j], axis=1), np.stack([np.ones(n_out, T), np.zeros(n_out, T)], axis=1)
        else:
            i1 = i0 + (i0 < n_in - 1)
            taps, wts = np.stack([i0, i1], axis=1), np.stack([T(1) - t, t], axis=1).astype(T)
    return _compressed(n_in, n_out, np.full(n_out, taps.shape[1]), taps.reshape(-1), wts.reshape(-1))


def _compressed(n_in, n_out, counts, taps, wts):
    """The (ptr, idx, wts) rows of R (output j reads ``counts[j]`` taps, listed row after row) and of R's
    transpose, read-only."""
    fwd = (np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), np.ascontiguousarray(taps, np.int64),
           np.ascontiguousarray(wts))
    order = np.argsort(fwd[1], kind="stable")  # by input, and within one input by output
    rows = np.repeat(np.arange(n_out, dtype=np.int64), counts)
    bwd = (np.concatenate([[0], np.cumsum(np.bincount(fwd[1], minlength=n_in))]).astype(np.int64), rows[order],
           fwd[2][order])
    for a in (*fwd, *bwd):
        a.setflags(write=False)
    return fwd, bwd
