"""Elementwise, reduction and shape math over arrays, for autograd, nn and optim.

On the CPU these are NumPy; on CUDA arrays (``numconv.dispatch`` decides from where the arrays
live) they launch the kernels of ``numconv.kernels.cuda`` (elementwise, reduce, gather, linalg,
random), with the same result shapes and dtypes. Autograd calls these, never NumPy or Numba
directly, so a new backend only adds kernels here. Every function returns an array (never a NumPy
scalar, even for 0-d results) and keeps the dtype NumPy's promotion rules give; Python scalars
never widen a float32 array. Device results stay on the device: nothing is copied to the host but
the few scalars an op's result shape or error check needs (the number of Trues of a device boolean
index; the min and max of device integer index arrays, checked before any kernel reads through
them). What the device cannot do raises NotImplementedError naming it.

Random draws (``standard_normal``, ``uniform``, ``integers``) with ``like`` a device array are drawn
on the device from a counter-based stream seeded by one 64-bit draw from ``rng``: reproducible
under ``numconv.manual_seed``, but not the numbers the CPU draws for the same seed.
"""
from __future__ import annotations

import builtins
import numbers

import numpy as np

from .. import dispatch
from ..kernels import special as _special_codes  # LGAMMA, POLYGAMMA, ERFINV: the special kernel's codes

_a = np.asarray  # NumPy returns scalars for 0-d results; the autograd wants arrays
_builtin_abs, _builtin_max, _builtin_sum = abs, max, sum

MAXDIM = 8
"""CUDA kernels see every shape padded to this many dimensions (one compiled kernel for all ranks)."""


_HOST_TYPES = (np.ndarray, numbers.Number, np.generic)


def _is_array(x):
    return x is not None and not isinstance(x, (numbers.Number, np.generic)) and hasattr(x, "shape")


def _on_cuda(*xs):
    """Whether the array arguments live on the GPU (Python and NumPy scalars go anywhere); mixing
    devices is a ValueError naming the arguments."""
    if all(x is None or isinstance(x, _HOST_TYPES) for x in xs):  # the common case, without the bookkeeping
        return False
    return dispatch.backend(**{f"arg{i}": x for i, x in enumerate(xs) if _is_array(x)}) == dispatch.CUDA


def _host_index(index):
    """``index`` for NumPy on the CPU, device index arrays copied to the host (Tensor indices keep their
    arrays, wherever they live; a CPU array accepts device index arrays as it always did)."""
    if isinstance(index, tuple):
        return tuple(_host_index(p) for p in index)
    return to_host(index) if _is_array(index) and dispatch.device_of(index) == dispatch.CUDA else index


# ----------------------------------------------------------------------------- creation


def _wants_cuda(like):
    """Whether ``like`` puts a new array on the GPU: an array there, or the device name 'cuda' (the
    factories' ``device=``); None, host arrays and 'cpu' put it on the CPU."""
    if isinstance(like, str):
        return like == dispatch.CUDA
    return like is not None and _on_cuda(like)


def zeros(shape, dtype, like=None):
    """Zeros on ``like``'s device (an array, or a device name; the CPU without ``like``)."""
    if _wants_cuda(like):
        return _cu_full(shape, 0, dtype)
    return np.zeros(shape, dtype=dtype)


def ones(shape, dtype, like=None):
    if _wants_cuda(like):
        return _cu_full(shape, 1, dtype)
    return np.ones(shape, dtype=dtype)


def full(shape, value, dtype, like=None):
    if _wants_cuda(like):
        return _cu_full(shape, value, dtype)
    return np.full(shape, value, dtype=dtype)


def full_like(a, value):
    if _on_cuda(a):
        return _cu_full(a.shape, value, a.dtype)
    return np.full(a.shape, value, dtype=a.dtype)


def zeros_like(a, dtype=None):
    if _on_cuda(a):
        return _cu_full(a.shape, 0, a.dtype if dtype is None else dtype)
    return np.zeros(a.shape, dtype=a.dtype if dtype is None else dtype)


def arange(start, stop, step, dtype):
    return np.arange(start, stop, step, dtype=dtype)


def standard_normal(rng, shape, dtype, like=None):
    """N(0, 1) draws from the NumPy Generator ``rng`` (float32 drawn natively, not rounded from float64);
    on ``like``'s device when it is a device array (a different stream: see the module docstring)."""
    if _wants_cuda(like):
        return _cu_random("normal", rng, shape, dtype)
    return _a(rng.standard_normal(shape, dtype=dtype))


def uniform(rng, shape, dtype, like=None):
    """U[0, 1) draws from ``rng``; on ``like``'s device when it is a device array."""
    if _wants_cuda(like):
        return _cu_random("uniform", rng, shape, dtype)
    return _a(rng.random(shape, dtype=dtype))


def integers(rng, low, high, shape, dtype=np.int64, like=None):
    """Integers in [low, high) from ``rng``; on ``like``'s device when it is a device array."""
    if _wants_cuda(like):
        return _cu_random("integers", rng, shape, dtype, low, high)
    return _a(rng.integers(low, high, size=shape, dtype=dtype))


def permutation(rng, n):
    return rng.permutation(n).astype(np.int64)


def astype(a, dtype):
    """``a`` as ``dtype`` (``a`` itself when it already is)."""
    if _on_cuda(a):
        return _cu_cast(a, dtype)
    return a.astype(dtype, copy=False)


def copy(a):
    """A new array with ``a``'s values (large host copies into reused memory: ``dispatch.copy``)."""
    if _on_cuda(a):
        return dispatch.copy(a, dispatch.CUDA)
    return dispatch.copy(a, dispatch.CPU) if isinstance(a, np.ndarray) else a.copy()


def assign(dst, src, index=Ellipsis):
    """dst[index] = src, in place, with NumPy's indices (where an advanced index names a position twice,
    the last value wins, as NumPy does). On a device ``dst`` a NumPy ``src`` is copied to the device
    first (loading a checkpoint into a model on the GPU); index arrays may live on either side."""
    if _is_array(dst) and dispatch.device_of(dst) == dispatch.CUDA:
        if isinstance(src, np.ndarray):
            src = dispatch.to_device(np.asarray(src, order="C"), dispatch.CUDA)
        if index is Ellipsis:
            _cu_assign(dst, src)
        else:
            _cu_setitem(dst, index, src)
        return
    _on_cuda(dst, src if hasattr(src, "shape") else None)  # a device src into a host dst: the ValueError
    index = _host_index(index)
    _no_internal_overlap(dst if not is_basic(index) else dst[index])
    dst[index] = src


def overlaps_itself(a):
    """Whether array ``a`` names one memory location at several positions: a zero stride along a dimension
    of more than one element, as an ``expand``ed tensor's view."""
    return isinstance(a, np.ndarray) and a.size > 1 and any(s == 0 and n > 1 for s, n in zip(a.strides, a.shape))


def _no_internal_overlap(a):
    """A RuntimeError if writing array ``a`` would be ambiguous (``overlaps_itself``); PyTorch refuses too."""
    if overlaps_itself(a):
        raise RuntimeError(f"cannot write to a tensor of shape {a.shape} whose elements share memory (an expand()ed "
                           "view: more than one element refers to a single memory location); clone() it first")


def is_device_array(a):
    """Whether ``a`` is a CUDA device array (Numba's, or the simulator's)."""
    return dispatch.device_of(a) == dispatch.CUDA


def same_device(**named):
    """The device all the named arrays live on; arrays on different devices are a ValueError naming each."""
    return dispatch.backend(**named)


def to_host(a):
    """A NumPy array with ``a``'s values."""
    return a if isinstance(a, np.ndarray) else dispatch.to_host(a)  # Numba's arrays, and any CUDA array interface


def extremes(a):
    """(min, max) of a non-empty array as NumPy scalars: on a device, reduced there and copied back
    together (one transfer of two values)."""
    if isinstance(a, np.ndarray):
        return a.min(), a.max()
    lo, hi = to_host(stack([min(a), max(a)], 0))
    return lo, hi


def to_device(a, device):
    """``a`` on ``device`` ('cpu' or 'cuda'): ``a`` itself when it is there already, else a copy."""
    if dispatch.device_of(a) == device:
        return a
    if device == dispatch.CUDA:
        from .. import cuda

        cuda.require()
        return dispatch.to_device(np.asarray(a, order="C"), dispatch.CUDA)  # not ascontiguousarray: 0-d stays 0-d
    return to_host(a)


# ----------------------------------------------------------------------------- elementwise
# ``b`` may be an array or a Python scalar (which keeps the array's dtype).


def _pooled_out(a, b=None):
    """An output from ``dispatch``'s pool of host memory for an elementwise op on a large float
    array (and, for a binary op, another of its shape and dtype: the result's), else None."""
    if (type(a) is np.ndarray and a.dtype.kind == "f" and a.nbytes >= dispatch.POOL_MIN_BYTES
            and (b is None or (type(b) is np.ndarray and b.shape == a.shape and b.dtype == a.dtype))):
        return dispatch.host_empty(a.shape, a.dtype)
    return None


def _binary(code, np_fn):
    """The broadcasting op ``np_fn`` on the CPU, the CUDA kernel ``code`` on device arrays. Overflow,
    division by zero and NaN from inf - inf give inf and NaN silently, as PyTorch's (and the GPU's)."""

    def op(a, b):
        if _on_cuda(a, b):
            return _cu_binary(code, a, b)
        out = _pooled_out(a, b)
        with np.errstate(all="ignore"):
            return _a(np_fn(a, b)) if out is None else np_fn(a, b, out=out)

    op.__name__ = op.__qualname__ = np_fn.__name__
    return op


add = _binary("ADD", np.add)
subtract = _binary("SUBTRACT", np.subtract)
multiply = _binary("MULTIPLY", np.multiply)
divide = _binary("DIVIDE", np.true_divide)
_raw_power = _binary("POWER", np.power)


def power(a, b):
    """a ** b; an integer exponent array may hold negative values, as in PyTorch (NumPy refuses
    them, and a GPU's integer power gives garbage): a^b truncated toward 0, so 0 but for a = 1 (1)
    and a = -1 (+-1). ``a`` may be a Python number."""
    a_kind = np.dtype(a.dtype).kind if _is_array(a) else np.asarray(a).dtype.kind
    if not (_is_array(b) and np.dtype(b.dtype).kind in "iu" and a_kind in "iub" and b.size):
        return _raw_power(a, b)
    whole = _raw_power(a, maximum(b, 0))
    flipped = _raw_power(a, maximum(negative(b), 0))  # a^|b| where b < 0: wraps for |a| > 1, but is only kept for |a| = 1
    unit = compare("eq", abs(a), 1) if _is_array(a) else builtins.abs(a) == 1
    inverse = where(unit, flipped, zeros_like(flipped)) if _is_array(a) else (flipped if unit else zeros_like(flipped))
    return where(compare("lt", b, 0), inverse, whole)


maximum = _binary("MAXIMUM", np.maximum)
minimum = _binary("MINIMUM", np.minimum)
floor_divide = _binary("FLOOR_DIVIDE", np.floor_divide)
floor_divide.__doc__ = """floor(a / b) (Python's ``//``: NumPy's and PyTorch's for floats too, inf or NaN where b
is 0). An integer b must hold no 0: the caller checks."""
_remainder = _binary("REMAINDER", np.remainder)


fmod = _binary("FMOD", np.fmod)
fmod.__doc__ = """a - b * trunc(a / b), with a's sign (C's fmod; NaN where a float b is 0). An integer b must hold
no 0: the caller checks."""
arctan2 = _binary("ARCTAN2", np.arctan2)
hypot = _binary("HYPOT", np.hypot)
copysign = _binary("COPYSIGN", np.copysign)
# of integer and bool arrays; NumPy refuses floats with a TypeError, as does ``_cu_binary``
bitwise_and = _binary("BITWISE_AND", np.bitwise_and)
bitwise_or = _binary("BITWISE_OR", np.bitwise_or)
bitwise_xor = _binary("BITWISE_XOR", np.bitwise_xor)
left_shift = _binary("LEFT_SHIFT", np.left_shift)  # by a negative amount or the width or more: 0
right_shift = _binary("RIGHT_SHIFT", np.right_shift)  # ...: the sign (0 or -1), as PyTorch's and NumPy 2's


def remainder(a, b):
    """a - b * floor(a / b), with b's sign (Python's ``%``; NaN where a float b is 0), but a 0 with a's
    sign, as PyTorch's (NumPy's takes b's)."""
    r = _remainder(a, b)
    if not _on_cuda(r) and r.dtype.kind == "f":  # the CUDA kernel does this itself
        np.copysign(r, a, out=r, where=r == 0)
    return r


def _unary(code, np_fn):
    """The elementwise op ``np_fn`` on the CPU, the CUDA kernel ``code`` on device arrays; the log of 0 or
    of a negative number, and exp's overflow, give -inf, NaN and inf silently, as PyTorch's."""

    def op(a):
        if _on_cuda(a):
            return _cu_unary(code, np_fn, a)
        out = _pooled_out(a)
        with np.errstate(all="ignore"):
            return _a(np_fn(a)) if out is None else np_fn(a, out=out)

    op.__name__ = op.__qualname__ = np_fn.__name__
    return op


negative = _unary("NEGATIVE", np.negative)
exp = _unary("EXP", np.exp)
log = _unary("LOG", np.log)
sqrt = _unary("SQRT", np.sqrt)
abs = _unary("ABS", np.abs)  # noqa: A001 (mirrors NumPy's name)
_sign = _unary("SIGN", np.sign)
tanh = _unary("TANH", np.tanh)
log1p = _unary("LOG1P", np.log1p)
expm1 = _unary("EXPM1", np.expm1)
log2 = _unary("LOG2", np.log2)
log10 = _unary("LOG10", np.log10)
sin = _unary("SIN", np.sin)
cos = _unary("COS", np.cos)
tan = _unary("TAN", np.tan)
arcsin = _unary("ARCSIN", np.arcsin)
arccos = _unary("ARCCOS", np.arccos)
arctan = _unary("ARCTAN", np.arctan)
arcsinh = _unary("ARCSINH", np.arcsinh)
arccosh = _unary("ARCCOSH", np.arccosh)
arctanh = _unary("ARCTANH", np.arctanh)
sinh = _unary("SINH", np.sinh)
cosh = _unary("COSH", np.cosh)
# rounding, of float arrays (NumPy's of an integer array is a float one; callers keep integers as they are)
floor = _unary("FLOOR", np.floor)
ceil = _unary("CEIL", np.ceil)
rint = _unary("RINT", np.rint)  # to the nearest whole number, a half to the even one (torch.round)
trunc = _unary("TRUNC", np.trunc)


def sign(a):
    """-1, 0 or 1 in a's dtype, NumPy's: NaN stays NaN, a 0 keeps its sign (``sgn``: PyTorch's)."""
    if _on_cuda(a) and np.dtype(a.dtype).kind in "iu":  # the integer kernel has no SIGN
        return sgn(a)
    return _sign(a)


def sgn(a):
    """PyTorch's sign: (a > 0) - (a < 0) in a's dtype, so 0 for NaN and +0 for -0."""
    if np.dtype(a.dtype) == np.bool_:
        return copy(a)
    return subtract(astype(compare("gt", a, 0), a.dtype), astype(compare("lt", a, 0), a.dtype))


def erf(a):
    """The error function (NumPy has none: a kernel of our own on the CPU); float64 for an integer array."""
    return _erf(a, False)


def erfc(a):
    """1 - erf(a), accurate where erf(a) is near 1."""
    return _erf(a, True)


def _erf(a, complement):
    if np.dtype(a.dtype).kind != "f":
        a = astype(a, np.float64)
    return _flat_kernel("erf", a, a, scalars=(complement,))


def invert(a):
    """~a: bitwise not of an integer array, logical not of a bool one (NumPy's invert); floats refused."""
    if _on_cuda(a):
        if a.dtype == np.bool_:
            return logical_not(a)
        return _cu_unary("INVERT", np.invert, a)  # np.invert refuses a float dtype with a TypeError
    return _a(np.invert(a))


def relu(a):
    """max(a, 0) in one pass (NaN stays NaN); a float array."""
    return _flat_kernel("relu_forward", a, a)


def relu_backward(g, y):
    """0 where the ReLU's output ``y`` <= 0, else g (so a NaN output passes g, as in PyTorch), in one pass."""
    if tuple(g.shape) != tuple(y.shape) or g.dtype != y.dtype:  # broadcast or mixed: the general ops
        return where(compare("le", y, 0), zeros_like(g), g)
    return _flat_kernel("relu_backward", g, g, y)


ACTIVATIONS = tuple(dispatch.ACTIVATIONS)


def activation(name, x, p0=0.0, p1=0.0):
    """The activation ``name`` (one of ACTIVATIONS; formulas in ``numconv.kernels.scalar``) of a
    float array, with parameters p0, p1, in one pass, computed in float64 and stored in x's dtype."""
    return _flat_kernel("activation_forward", x, x, scalars=(_code(name), float(p0), float(p1)))


def activation_backward(name, g, x, p0=0.0, p1=0.0):
    """g * f'(x), f the activation ``name`` and x its input, in one pass."""
    if tuple(g.shape) != tuple(x.shape) or g.dtype != x.dtype:
        raise ValueError(f"activation_backward: g {g.dtype}{tuple(g.shape)} must match x {x.dtype}{tuple(x.shape)}")
    return _flat_kernel("activation_backward", g, g, x, scalars=(_code(name), float(p0), float(p1)))


def _code(name):
    if name not in dispatch.ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {name!r}")
    return dispatch.ACTIVATIONS[name]


def _flat_kernel(name, like, *arrays, scalars=()):
    """The elementwise kernel ``name`` (``kernels.{cpu,cuda}.elementwise``) over flat views of
    same-shape arrays and then ``scalars``, into a new array like ``like``."""
    return _flat_kernel_of("elementwise", name, like, *arrays, scalars=scalars)


def _flat_kernel_of(family, name, like, *arrays, scalars=()):
    """The kernel ``name`` of ``kernels.{cpu,cuda}.<family>`` over flat views of same-shape arrays and
    then ``scalars``, into a new array like ``like``."""
    dev = dispatch.CUDA if _on_cuda(*arrays) else dispatch.CPU
    flat = [dispatch.view(dispatch.contiguous(a, dev), (-1,), dev) for a in arrays]
    out = dispatch.empty(tuple(like.shape), like.dtype, dev)
    getattr(dispatch.kernels(family, dev), name)(dispatch.view(out, (-1,), dev), *flat, *scalars)
    return out


def lgamma(a):
    """log |Gamma(a)| (``kernels/special.py``; float64 for an integer array)."""
    return _special(a, "LGAMMA", 0)


def polygamma(n, a):
    """The n-th derivative of digamma (n = 0: digamma itself) at ``a``."""
    return _special(a, "POLYGAMMA", n)


def erfinv(a):
    """The inverse of erf on [-1, 1]: +-inf at +-1, NaN beyond."""
    return _special(a, "ERFINV", 0)


def _special(a, code, n):
    if np.dtype(a.dtype).kind != "f":
        a = astype(a, np.float64)
    return _flat_kernel_of("special", "special", a, a, scalars=(getattr(_special_codes, code), int(n)))


def sigmoid(a):
    """1 / (1 + exp(-a)), without overflow: exp(-|a|) <= 1 on both branches."""
    if _on_cuda(a):
        return _cu_unary("SIGMOID", lambda x: x, a)
    e = np.exp(-np.abs(a))
    return _a(np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(a.dtype, copy=False))



def clip(a, lo, hi):
    """min(max(a, lo), hi); ``lo``/``hi`` None leaves that side open."""
    if _on_cuda(a):
        out = copy(a) if lo is None else _cu_binary("MAXIMUM", a, lo)
        return out if hi is None else _cu_binary("MINIMUM", out, hi)
    if lo is None and hi is None:
        return a.copy()
    return _a(np.clip(a, lo, hi))


def where(cond, a, b):
    if _on_cuda(cond, a, b):
        return _cu_where(cond, a, b)
    return _a(np.where(cond, a, b))


_COMPARE = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
            "ge": np.greater_equal}


def compare(op, a, b):
    """Boolean array of ``a <op> b``; op one of eq, ne, lt, le, gt, ge."""
    if _on_cuda(a, b):
        if op not in _COMPARE:
            raise ValueError(f"compare: op must be one of {sorted(_COMPARE)}, got {op!r}")
        return _cu_compare(op.upper(), a, b)
    return _a(_COMPARE[op](a, b))


def logical_and(a, b):
    if _on_cuda(a, b):
        return _cu_compare("AND", a, b)
    return _a(np.logical_and(a, b))


def logical_not(a):
    if _on_cuda(a):
        return _cu_compare("EQ", a, False)
    return _a(np.logical_not(a))


def nonzero(a):
    """The positions of ``a``'s nonzero (True, NaN) elements in row-major order: one int64 array per
    dimension (np.nonzero), on a's device; a 0-d ``a`` counts as (1,), as PyTorch's."""
    a = reshape(a, (1,)) if len(a.shape) == 0 else a
    if _on_cuda(a):
        return _cu_nonzero(a if a.dtype == np.bool_ else compare("ne", a, 0))
    return [r.astype(np.int64, copy=False) for r in np.nonzero(a)]


def isnan(a):
    if _on_cuda(a):
        return _cu_compare("NE", a, a)
    return _a(np.isnan(a))


# ----------------------------------------------------------------------------- reductions
# ``axis``: None (all), an int, or a tuple of ints.


def sum(a, axis=None, keepdims=False, dtype=None):  # noqa: A001
    if _on_cuda(a):
        out_dt = np.sum(np.ones(1, a.dtype), dtype=dtype).dtype
        return _cu_reduce("sum", _cu_cast(a, out_dt), axis, keepdims, out_dt, 0)
    with np.errstate(all="ignore"):  # inf + -inf: NaN silently, as PyTorch's
        return _a(np.sum(a, axis=axis, keepdims=keepdims, dtype=dtype))


def mean(a, axis=None, keepdims=False):
    if _on_cuda(a):
        out_dt = np.mean(np.ones(1, a.dtype)).dtype
        return _cu_reduce("sum", _cu_cast(a, out_dt), axis, keepdims, out_dt, 1)
    with np.errstate(all="ignore"):
        return _a(np.mean(a, axis=axis, keepdims=keepdims))


def max(a, axis=None, keepdims=False):  # noqa: A001
    """Maximum; NaN propagates."""
    if _on_cuda(a):
        return _cu_reduce("max", a, axis, keepdims, a.dtype, 1)
    return _a(np.max(a, axis=axis, keepdims=keepdims))


def min(a, axis=None, keepdims=False):  # noqa: A001
    if _on_cuda(a):
        return _cu_reduce("max", a, axis, keepdims, a.dtype, -1)
    return _a(np.min(a, axis=axis, keepdims=keepdims))


def argmax(a, axis=None, keepdims=False):
    """int64 index of the first maximum (NaN counts as the maximum, as in PyTorch)."""
    if _on_cuda(a):
        return _cu_reduce("argmax", a, axis, keepdims, np.dtype(np.int64), 1)
    return _a(np.argmax(a, axis=axis, keepdims=keepdims)).astype(np.int64, copy=False)


def argmin(a, axis=None, keepdims=False):
    if _on_cuda(a):
        return _cu_reduce("argmax", a, axis, keepdims, np.dtype(np.int64), -1)
    return _a(np.argmin(a, axis=axis, keepdims=keepdims)).astype(np.int64, copy=False)


def softmax(a, axis):
    """exp(a - max) / sum(exp(a - max)) along ``axis``."""
    if a.size == 0:  # nothing to normalize (an empty axis too): an empty result, as PyTorch gives
        return zeros_like(a)
    if _on_cuda(a):
        return _cu_softmax(a, axis, False)
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def log_softmax(a, axis):
    """a - max - log(sum(exp(a - max))) along ``axis``: never overflows."""
    if a.size == 0:
        return zeros_like(a)
    if _on_cuda(a):
        return _cu_softmax(a, axis, True)
    s = a - np.max(a, axis=axis, keepdims=True)
    s -= np.log(np.sum(np.exp(s), axis=axis, keepdims=True))
    return s


def sum_to(g, shape):
    """Sum ``g`` down to ``shape``: the gradient of broadcasting an array of ``shape`` to ``g.shape``."""
    if _on_cuda(g):
        shape = tuple(shape)
        extra = len(g.shape) - len(shape)
        axes = tuple(range(extra)) + tuple(i + extra for i, n in enumerate(shape) if n == 1 and g.shape[i + extra] != 1)
        return reshape(sum(g, axis=axes) if axes else g, shape)
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return _a(g).reshape(shape)


# ----------------------------------------------------------------------------- shape and indexing


def reshape(a, shape):
    if _on_cuda(a):
        return dispatch.contiguous(a, dispatch.CUDA).reshape(_resolve_shape(shape, a.size))
    return a.reshape(shape)


def transpose(a, axes):
    if _on_cuda(a):
        return _cu_transpose(a, axes)
    return a.transpose(axes)


def swapaxes(a, i, j):
    if _on_cuda(a):
        axes = list(range(len(a.shape)))
        i, j = i % len(axes), j % len(axes)
        axes[i], axes[j] = axes[j], axes[i]
        return _cu_transpose(a, axes)
    return a.swapaxes(i, j)


def broadcast_to(a, shape):
    """A new (writable, contiguous) array of ``shape`` holding ``a`` broadcast."""
    if _on_cuda(a):
        shape = tuple(int(n) for n in shape)
        np.broadcast_shapes(tuple(a.shape), shape)  # the NumPy error for shapes that do not broadcast
        out = dispatch.empty(shape, a.dtype, dispatch.CUDA)
        _cu_assign(out, a)
        return out
    out = np.empty(shape, dtype=a.dtype)
    out[...] = a
    return out


def diagonal(a, offset):
    """The ``offset`` diagonal of the matrices over a CPU array's last two dimensions, as a new last one:
    a strided view (writable where ``a`` is), as ``np.diagonal``'s but writable."""
    n1, n2 = a.shape[-2:]
    i0, j0 = builtins.max(-offset, 0), builtins.max(offset, 0)
    length = builtins.max(builtins.min(n1 - i0, n2 - j0), 0)
    corner = a[..., builtins.min(i0, n1):, builtins.min(j0, n2):]
    return np.lib.stride_tricks.as_strided(corner, a.shape[:-2] + (length,), a.strides[:-2] + (a.strides[-2] + a.strides[-1],),
                                           writeable=a.flags.writeable)


def expand(a, shape):
    """``a`` broadcast to ``shape`` as ``Tensor.expand`` sees it: on the CPU a view of ``a`` (stride 0
    along the broadcast dimensions, writable where ``a`` is; ``assign`` refuses a write that would
    reach one element twice), on the GPU a new array (``broadcast_to``)."""
    if _on_cuda(a):
        return broadcast_to(a, shape)
    shape = tuple(int(n) for n in shape)
    np.broadcast_shapes(tuple(a.shape), shape)  # the NumPy error for shapes that do not broadcast
    lead = len(shape) - a.ndim
    strides = (0,) * lead + tuple(0 if n == 1 and m != 1 else s for s, n, m in zip(a.strides, a.shape, shape[lead:]))
    return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=a.flags.writeable)


def concatenate(arrays, axis):
    arrays = list(arrays)
    if _on_cuda(*arrays):
        return _cu_concatenate(arrays, axis)
    return np.concatenate(arrays, axis=axis)


def stack(arrays, axis):
    arrays = list(arrays)
    if _on_cuda(*arrays):
        return _cu_stack(arrays, axis)
    return np.stack(arrays, axis=axis)


def split(a, sizes, axis):
    """Pieces of ``a`` along ``axis`` of the given ``sizes`` (views on the CPU, copies on the device)."""
    if _on_cuda(a):
        return _cu_split(a, sizes, axis)
    return np.split(a, np.cumsum(sizes)[:-1], axis=axis)


def take(a, index, axis):
    """a.take(index, axis): a copy, index an int or int array."""
    if _on_cuda(a):
        return _cu_take(a, index, axis)
    return _a(np.take(a, index, axis=axis))


def getitem(a, index):
    """a[index] for NumPy-style indices (ints, slices, None, Ellipsis, int or bool arrays). Basic indices
    (no arrays) give a view of ``a``, as in NumPy and PyTorch, a 0-d one too; on a device only where the
    view is C-contiguous (the kernels' arrays are), else a copy, as advanced indices always give. On a
    device ``a`` the index arrays may be host or device arrays; a 0-d boolean index is CPU-only."""
    if _on_cuda(a):
        return _cu_getitem(a, index)
    index = _host_index(index)
    if is_basic(index):
        parts = index if isinstance(index, tuple) else (index,)
        return a[parts if any(p is Ellipsis for p in parts) else parts + (Ellipsis,)]  # an array even when 0-d
    return np.array(a[index])


def is_basic(index):
    """Whether ``index`` has no index arrays (ints, slices, None and Ellipsis only): NumPy's basic indexing."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice)) for p in parts)


def index_add(shape, index, values, dtype):
    """zeros(shape)[index] += values, summing repeated positions in index order (the gradient of
    ``getitem``). On the device, an index that may repeat a position costs every output element a pass
    over the index entries (``numconv.kernels.cuda.gather.index_scan``); basic indices, boolean masks and
    host index arrays without repeats write each value once."""
    if _on_cuda(values):
        return _cu_index_add(shape, index, values, dtype)
    index = _host_index(index)
    out = np.zeros(shape, dtype=dtype)
    if is_basic(index):
        out[index] = values
    else:
        np.add.at(out, index, values)
    return out


def _along(index, axis):
    """The full index tuple that picks ``index`` along ``axis`` and runs over every other axis of ``index``."""
    grid = list(np.ogrid[tuple(slice(n) for n in index.shape)])
    grid[axis] = index
    return tuple(grid)


def gather(a, index, axis):
    """out[..., j, ...] = a[..., index[..., j, ...], ...] along ``axis`` (``torch.gather``: ``index`` may be
    smaller than ``a`` in the other axes)."""
    if _on_cuda(a, index):
        return _cu_gather(a, index, axis)
    return a[_along(index, axis)]


def scatter_add(shape, index, values, axis, dtype):
    """zeros(shape), then out[..., index[..., j, ...], ...] += values[..., j, ...] (the gradient of ``gather``)."""
    if _on_cuda(index, values):
        return _cu_scatter_add(shape, index, values, axis, dtype)
    out = np.zeros(shape, dtype=dtype)
    values = np.broadcast_to(values, index.shape)
    same = all(n == m for i, (n, m) in enumerate(zip(index.shape, shape)) if i != axis % len(shape))
    if index.shape[axis] == 1 and same:  # one entry per line: no position repeats
        np.put_along_axis(out, index, values, axis=axis)
    else:
        np.add.at(out, _along(index, axis), values)
    return out


def matmul(a, b):
    """a @ b with NumPy's rules (1-d operands, batch dimensions broadcast); 2-d float products run on
    numconv's own GEMM kernel (no BLAS threads competing with the kernels' thread pool), device
    products of any rank on the batched tiled kernel."""
    if _on_cuda(a, b):
        return _cu_matmul(a, b)
    if (a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.dtype in (np.float32, np.float64)
            and a.shape[1] == b.shape[0]):
        out = dispatch.host_empty((a.shape[0], b.shape[1]), a.dtype)
        gemm = dispatch.kernels("gemm", dispatch.CPU)
        a = np.ascontiguousarray(a)  # O(M*K), against the product's O(M*K*N)
        if b.T.flags.c_contiguous and (not b.flags.c_contiguous or b.shape[1] == 1):
            gemm.matmul_nt(out, a, b.T)  # a transposed view (x @ W.T in Linear), or one column: dot products
        else:  # b's rows read in place: no transposed copy of b
            gemm.matmul_nn(out, a, np.ascontiguousarray(b), dispatch.host_empty((a.size,), a.dtype))
        return out
    return _a(np.matmul(a, b))


# ============================================================================= the CUDA side
# Shapes are padded to MAXDIM dimensions and strides counted in elements, so each kernel compiles
# once per dtype signature, whatever the rank. Every device array here is C-contiguous.


def _kernels(family):
    return dispatch.kernels(family, dispatch.CUDA)


def _pad(shape):
    shape = tuple(int(n) for n in shape)
    if len(shape) > MAXDIM:
        raise NotImplementedError(f"CUDA math supports arrays of up to {MAXDIM} dimensions, got shape {shape}")
    return (1,) * (MAXDIM - len(shape)) + shape


def _strides(shape):
    """C-contiguous element strides of ``shape``."""
    out, s = [], 1
    for n in reversed(tuple(shape)):
        out.append(s)
        s *= int(n)
    return tuple(reversed(out))


def _bstrides(shape, out_shape):
    """Padded element strides that read a C-contiguous array of ``shape`` broadcast to ``out_shape``
    (0 along every dimension of length 1)."""
    shape = _pad(shape)
    _pad(out_shape)
    return tuple(0 if n == 1 else s for n, s in zip(shape, _strides(shape)))


def _resolve_shape(shape, size):
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(int(n) for n in shape)
    if shape.count(-1) == 1:
        known = int(np.prod([n for n in shape if n != -1]))
        shape = tuple(size // known if known and n == -1 else (0 if n == -1 else n) for n in shape)
    if int(np.prod(shape)) != size:
        raise ValueError(f"cannot reshape an array of size {size} into shape {shape}")
    return shape


def _flat(a):
    """``a`` as a 1-d kernel argument (``dispatch.view``)."""
    return dispatch.view(dispatch.contiguous(a, dispatch.CUDA), (int(a.size),), dispatch.CUDA)


def _cu_full(shape, value, dtype):
    shape = (int(shape),) if isinstance(shape, numbers.Integral) else tuple(int(n) for n in shape)
    dtype = np.dtype(dtype)
    out = dispatch.empty(shape, dtype, dispatch.CUDA)
    _kernels("elementwise").fill(_flat(out), dtype.type(value))
    return out


def _cu_assign(dst, src):
    """dst[...] = src (broadcast, cast to dst's dtype) on the device; ``src`` a device array or a scalar."""
    if not _is_array(src):
        _kernels("elementwise").fill(_flat(dst), np.dtype(dst.dtype).type(src))
        return
    np.broadcast_shapes(tuple(src.shape), tuple(dst.shape))
    if may_share(dst, src):  # t[1:].copy_(t[:-1]): read all of src before any of it is overwritten, as NumPy does
        src = copy(src)
    _kernels("elementwise").copy(_flat(dst), _flat(src), _pad(dst.shape), _bstrides(src.shape, dst.shape))


def _cu_cast(a, dtype):
    dtype = np.dtype(dtype)
    if np.dtype(a.dtype) == dtype:
        return a
    out = dispatch.empty(tuple(a.shape), dtype, dispatch.CUDA)
    _kernels("elementwise").copy(_flat(out), _flat(a), _pad(a.shape), _bstrides(a.shape, a.shape))
    return out


def _operand(x, dtype):
    """A device array of ``dtype`` for an operand: scalars become 0-d device arrays (filled on the device)."""
    return _cu_full((), x, dtype) if not _is_array(x) else _cu_cast(x, dtype)


def _dtype_of(x):
    return np.dtype(x.dtype) if _is_array(x) else x


def _out_shape(*xs):
    return np.broadcast_shapes(*[tuple(x.shape) for x in xs if _is_array(x)])


_FLOAT_RESULT = ("DIVIDE", "ARCTAN2", "HYPOT", "COPYSIGN")  # of integers: float64, as NumPy's
_INTEGER_ONLY = ("BITWISE_AND", "BITWISE_OR", "BITWISE_XOR", "LEFT_SHIFT", "RIGHT_SHIFT")


def _cu_binary(op, a, b):
    """Arithmetic in the dtype NumPy's promotion gives (true division of integers: float64)."""
    dt = np.result_type(_dtype_of(a), _dtype_of(b))
    if op in _FLOAT_RESULT and dt.kind in "biu":
        dt = np.dtype(np.float64)
    if op in _INTEGER_ONLY and dt.kind not in "biu":
        raise TypeError(f"{op.lower()} takes integer or bool arrays, got dtype {dt}")
    shape = _out_shape(a, b)
    a, b = _operand(a, dt), _operand(b, dt)
    out = dispatch.empty(shape, dt, dispatch.CUDA)
    k = _kernels("elementwise")
    k.binary(_flat(out), _flat(a), _flat(b), getattr(k, op), _pad(shape), _bstrides(a.shape, shape),
             _bstrides(b.shape, shape))
    return out


def _cu_compare(op, a, b):
    dt = np.result_type(_dtype_of(a), _dtype_of(b))
    for x in (a, b):  # an int the integer dtype cannot hold (uint8 < -2): compare in a wider type, exactly, as NumPy
        if isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_)) and dt.kind in "iu" and \
                not np.iinfo(dt).min <= x <= np.iinfo(dt).max:
            dt = np.result_type(dt, np.int64) if np.iinfo(np.int64).min <= x <= np.iinfo(np.int64).max else \
                np.dtype(np.float64)
    shape = _out_shape(a, b)
    a, b = _operand(a, dt), _operand(b, dt)
    out = dispatch.empty(shape, np.bool_, dispatch.CUDA)
    k = _kernels("elementwise")
    k.compare(_flat(out), _flat(a), _flat(b), getattr(k, op), _pad(shape), _bstrides(a.shape, shape),
              _bstrides(b.shape, shape))
    return out


def _cu_unary(op, numpy_fn, a):
    """``op`` on the device in the dtype ``numpy_fn`` gives for ``a``'s dtype."""
    with np.errstate(all="ignore"):
        dt = np.asarray(numpy_fn(np.ones(1, a.dtype))).dtype
    a = _cu_cast(a, dt)
    out = dispatch.empty(tuple(a.shape), dt, dispatch.CUDA)
    k = _kernels("elementwise")
    k.unary(_flat(out), _flat(a), getattr(k, op))
    return out


def _cu_where(cond, a, b):
    dt = np.result_type(_dtype_of(a), _dtype_of(b))
    shape = _out_shape(cond, a, b)
    cond, a, b = _operand(cond, np.bool_), _operand(a, dt), _operand(b, dt)
    out = dispatch.empty(shape, dt, dispatch.CUDA)
    _kernels("elementwise").where(_flat(out), _flat(cond), _flat(a), _flat(b), _pad(shape),
                                  _bstrides(cond.shape, shape), _bstrides(a.shape, shape), _bstrides(b.shape, shape))
    return out


def _cu_transpose(a, axes):
    shape = tuple(a.shape)
    axes = tuple(int(i) % _builtin_max(len(shape), 1) for i in axes)
    if sorted(axes) != list(range(len(shape))):
        raise ValueError(f"axes {axes} are not a permutation of the {len(shape)} dimensions")
    st = _strides(shape)
    out_shape = tuple(shape[i] for i in axes)
    out = dispatch.empty(out_shape, a.dtype, dispatch.CUDA)
    strides = (0,) * (MAXDIM - len(shape)) + tuple(st[i] for i in axes)
    _kernels("elementwise").copy(_flat(out), _flat(a), _pad(out_shape), strides)
    return out


def _reduce_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    n = _builtin_max(ndim, 1)
    out = tuple(sorted({int(i) % n for i in axes}))
    if any(not -n <= int(i) < n for i in axes) or (ndim == 0 and out != (0,)):
        raise ValueError(f"axis {axis} is out of bounds for an array of dimension {ndim}")
    return out if ndim else ()


def _cu_reduce(kind, a, axis, keepdims, out_dtype, flag):
    """sum (flag 1: mean), max/argmax (flag 1) or min/argmin (flag -1) of ``a`` over ``axis``."""
    shape = tuple(a.shape)
    axes = _reduce_axes(axis, len(shape))
    st = _strides(shape)
    kept = [i for i in range(len(shape)) if i not in axes]
    k_shape = tuple(shape[i] for i in kept)
    r_shape = tuple(shape[i] for i in axes)
    count = int(np.prod(r_shape))
    out_shape = tuple(1 if i in axes else n for i, n in enumerate(shape)) if keepdims else k_shape
    if count == 0 and kind != "sum":
        raise ValueError(f"{kind} of an empty array (shape {shape}) over axis {axis} has no identity")
    if count == 0 and flag == 1:  # the mean of nothing: NaN, as NumPy and PyTorch give
        return _cu_full(out_shape, np.nan, out_dtype)
    out = dispatch.empty(out_shape, out_dtype, dispatch.CUDA)
    k_strides = (0,) * (MAXDIM - len(kept)) + tuple(st[i] for i in kept)
    r_strides = (0,) * (MAXDIM - len(axes)) + tuple(st[i] for i in axes)
    args = (_flat(out), _flat(a), _pad(k_shape), k_strides, _pad(r_shape), r_strides, count)
    red = _kernels("reduce")
    if kind == "sum":
        red.sum(*args, float(count if flag == 1 and count else 1))
    else:
        getattr(red, kind)(*args, int(flag))
    return out


def _cu_softmax(a, axis, log):
    shape = tuple(a.shape)
    if axis is None:
        outer, n, inner = 1, int(a.size), 1
    else:
        axis = int(axis) % len(shape)
        outer, n, inner = int(np.prod(shape[:axis])), shape[axis], int(np.prod(shape[axis + 1:]))
    out = dispatch.empty(shape, a.dtype, dispatch.CUDA)
    _kernels("reduce").softmax(_flat(out), _flat(a), outer, n, inner, bool(log))
    return out


def _cu_take(a, index, axis):
    shape = tuple(a.shape)
    axis = int(axis) % len(shape)
    if _is_array(index) and dispatch.device_of(index) == dispatch.CUDA:
        idx, idx_shape = _cu_cast(index, np.int64), tuple(index.shape)
    else:  # a host index (an int or an int array): a small table for the device
        host = np.asarray(index, dtype=np.int64)
        idx, idx_shape = dispatch.to_device(host.reshape(-1), dispatch.CUDA), host.shape
    n = shape[axis]
    out_shape = shape[:axis] + idx_shape + shape[axis + 1:]
    out = dispatch.empty(out_shape, a.dtype, dispatch.CUDA)
    _kernels("gather").take(_flat(out), _flat(a), _flat(idx), n, int(np.prod(shape[axis + 1:])))
    return out


def _cu_gather(a, index, axis):
    shape, ishape = tuple(a.shape), tuple(index.shape)
    axis = int(axis) % len(shape)
    lead = MAXDIM - len(shape)
    st = _strides(shape)
    s_a = (0,) * lead + tuple(0 if k == axis else s for k, s in enumerate(st))
    index = _cu_cast(index, np.int64)
    out = dispatch.empty(ishape, a.dtype, dispatch.CUDA)
    _kernels("gather").gather(_flat(out), _flat(a), _flat(index), _pad(ishape), s_a, _bstrides(ishape, ishape),
                              lead + axis, st[axis])
    return out


def _cu_scatter_add(shape, index, values, axis, dtype):
    shape, ishape = tuple(int(n) for n in shape), tuple(index.shape)
    axis = int(axis) % len(shape)
    index, values = _cu_cast(index, np.int64), _cu_cast(values, dtype)
    out = dispatch.empty(shape, dtype, dispatch.CUDA)
    _kernels("gather").scatter_add(_flat(out), _flat(index), _flat(values), _pad(shape), _pad(ishape),
                                   _bstrides(ishape, ishape), _bstrides(values.shape, ishape),
                                   MAXDIM - len(shape) + axis)
    return out


def _cu_matmul(a, b):
    """NumPy's matmul: a 1-d ``a`` is a row (n = 1), a 1-d ``b`` a column (m = 1), both dropped from the
    result; the batch dimensions (all but the last two) broadcast."""
    sa, sb = tuple(a.shape), tuple(b.shape)
    for i, s in enumerate((sa, sb)):
        if not s:
            raise ValueError(f"matmul: input operand {i} does not have enough dimensions (has 0, needs 1)")
    a2 = sa if len(sa) > 1 else (1,) + sa
    b2 = sb if len(sb) > 1 else sb + (1,)
    n, k = a2[-2:]
    m = b2[-1]
    if k != b2[-2]:
        raise ValueError(f"matmul: shapes {sa} and {sb} do not align ({k} != {b2[-2]})")
    try:
        batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    except ValueError:
        raise ValueError(f"matmul: the batch dimensions of shapes {sa} and {sb} do not broadcast") from None
    out_shape = batch + ((n,) if len(sa) > 1 else ()) + ((m,) if len(sb) > 1 else ())
    dt = np.result_type(a.dtype, b.dtype)
    a, b = _cu_cast(a, dt), _cu_cast(b, dt)
    out = dispatch.empty(out_shape, dt, dispatch.CUDA)
    if out.size:
        # batch strides counted in whole matrices (0 where a or b is broadcast)
        _kernels("linalg").matmul(_flat(out), _flat(a), _flat(b), n, k, m, _pad(batch), _bstrides(a2[:-2], batch),
                                  _bstrides(b2[:-2], batch))
    return out


# ----------------------------------------------------------------------------- random draws on the device


def _cu_random(kind, rng, shape, dtype, low=0, high=None):
    """Draws on the device from the counter-based stream seeded by one uint64 from ``rng``."""
    shape = (int(shape),) if isinstance(shape, numbers.Integral) else tuple(int(n) for n in shape)
    dtype = np.dtype(dtype)
    k = _kernels("random")
    if kind == "integers":
        if dtype.kind not in "iu":
            raise TypeError(f"integers: dtype must be an integer type, got {dtype}")
        low, high = int(low), int(high)
        if low >= high:
            raise ValueError(f"integers: low >= high ({low} >= {high})")
        info = np.iinfo(dtype)
        if low < info.min or high - 1 > info.max:
            raise ValueError(f"integers: [{low}, {high}) does not fit dtype {dtype}")
    elif dtype not in (np.float32, np.float64):
        raise TypeError(f"{kind}: dtype must be float32 or float64, got {dtype}")
    seed = np.uint64(rng.integers(0, 2**64, dtype=np.uint64))
    out = dispatch.empty(shape, dtype, dispatch.CUDA)
    if not out.size:
        return out
    if kind == "uniform":
        bits = 53 if dtype == np.float64 else 24
        k.uniform(_flat(out), seed, bits, 2.0 ** -bits)
    elif kind == "normal":
        k.normal(_flat(out), seed)
    else:
        k.integers(_flat(out), seed, np.int64(low), np.uint64(high - low))
    return out


# ----------------------------------------------------------------------------- concatenate, stack, split


def _axis(axis, ndim):
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise getattr(np, "exceptions", np).AxisError(axis, ndim)
    return axis % ndim


def _cu_put_block(out, a, base, strides):
    """out[base + offset(t)] = a[t] for every element of the C-contiguous ``a``, ``strides`` out's strides
    (elements) along a's dimensions: writes ``a`` into a block of ``out`` (cast to out's dtype)."""
    shape = tuple(a.shape)
    lead = MAXDIM - len(shape)
    zeros = (0,) * MAXDIM
    _kernels("gather").setitem(_flat(out), _flat(a), _NO_INDEX(), int(a.size), 1, 0, int(base), _pad(shape),
                               (0,) * lead + tuple(strides), _bstrides(shape, shape), zeros, zeros, zeros)


def _cu_concatenate(arrays, axis):
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    shapes = [tuple(a.shape) for a in arrays]
    first = shapes[0]
    if not first:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    axis = _axis(axis, len(first))
    for i, s in enumerate(shapes[1:], 1):
        if len(s) != len(first):
            raise ValueError(f"all the input arrays must have same number of dimensions, but the array at index 0 "
                             f"has {len(first)} dimension(s) and the array at index {i} has {len(s)} dimension(s)")
        for d, (n0, n) in enumerate(zip(first, s)):
            if d != axis and n != n0:
                raise ValueError(f"all the input array dimensions except for the concatenation axis must match "
                                 f"exactly, but along dimension {d}, the array at index 0 has size {n0} and the "
                                 f"array at index {i} has size {n}")
    out_shape = first[:axis] + (_builtin_sum(s[axis] for s in shapes),) + first[axis + 1:]
    out = dispatch.empty(out_shape, np.result_type(*[a.dtype for a in arrays]), dispatch.CUDA)
    st = _strides(out_shape)
    offset = 0
    for a, s in zip(arrays, shapes):
        if a.size:
            _cu_put_block(out, dispatch.contiguous(a, dispatch.CUDA), offset * st[axis], st)
        offset += s[axis]
    return out


def _cu_stack(arrays, axis):
    if not arrays:
        raise ValueError("need at least one array to stack")
    shape = tuple(arrays[0].shape)
    if any(tuple(a.shape) != shape for a in arrays):
        raise ValueError("all input arrays must have the same shape")
    axis = _axis(axis, len(shape) + 1)
    expanded = shape[:axis] + (1,) + shape[axis:]
    return _cu_concatenate([reshape(a, expanded) for a in arrays], axis)


def _cu_split(a, sizes, axis):
    shape = tuple(a.shape)
    axis = _axis(axis, len(shape))
    cuts = [0] + [int(c) for c in np.cumsum(sizes)[:-1]] + [shape[axis]]
    before = (slice(None),) * axis
    return [_cu_getitem(a, before + (slice(lo, hi),)) for lo, hi in zip(cuts[:-1], cuts[1:])]


# ----------------------------------------------------------------------------- NumPy indexing on the device


_no_index = []


def _NO_INDEX():  # noqa: N802
    """A placeholder for the index rows of a launch without advanced indices (allocated once)."""
    if not _no_index:
        _no_index.append(dispatch.empty((1,), np.int64, dispatch.CUDA))
    return _no_index[0]


class _IndexPlan:
    """How NumPy's ``a[index]`` reads a C-contiguous array of ``a_shape``, for the gather kernels.

    The result (``shape``) element with coordinates r reads flat position base + sum_d r_d * s_a[d] plus,
    with advanced indices, sum_j wrap(rows[j][b]) * strides of their axes, where b = sum_d r_d * s_b[d] is
    r's position in the broadcast shape ``b_shape`` of the index arrays, whose dimensions sit in the
    result at ``b_pos`` (in place of the first advanced index when they are adjacent, else first).
    ``lattice`` gives, per axis of ``a``, (start, step, count, result dimension or -1): the positions a
    basic index reaches (an int is a count-1 slice; an advanced axis runs over all of it), which the
    gradient kernel inverts. ``rows``: (array, axis size, axis stride, axis, kind), kind 'host'
    (checked), 'device' (int array on the device, checked by ``_cu_index_rows``) or 'mask'.
    """

    def __init__(self, a_shape):
        self.a_shape = a_shape
        self.base = 0
        self.shape, self.s_a, self.s_b = (), (), ()
        self.b_shape, self.b_pos = (), 0
        self.lattice = [(0, 1, n, -1) for n in a_shape]
        self.rows = []
        self.mask_sizes = []  # the number of Trues of each boolean index

    @property
    def nb(self):
        return int(np.prod(self.b_shape))

    def unique(self):
        """Whether no two elements of the indexed result name one position of ``a``."""
        if not self.rows or any(n == self.nb for n in self.mask_sizes):
            return True  # basic indices, or one mask's distinct positions spanning all of B
        if any(dispatch.device_of(arr) == dispatch.CUDA for arr, _, _, _, _ in self.rows):
            return False  # unknown without reading them back
        off = np.zeros(self.b_shape, np.int64)
        for arr, n, stride, _, _ in self.rows:
            off = off + (np.asarray(arr, np.int64) % n) * stride if n else off
        return np.unique(off).size == off.size


def _index_parts(index):
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if p is None or p is Ellipsis or isinstance(p, slice):
            out.append(p)
        elif isinstance(p, (bool, np.bool_)) or (_is_array(p) and np.dtype(p.dtype).kind == "b" and not p.shape):
            raise NotImplementedError("numconv.ops.math.getitem on a CUDA array: a 0-d boolean index (True, False) "
                                      "is CPU-only; index with None or a 1-element boolean array instead")
        elif isinstance(p, numbers.Integral):
            out.append(int(p))
        elif _is_array(p) and dispatch.device_of(p) == dispatch.CUDA:
            if np.dtype(p.dtype).kind not in "biu":
                raise IndexError("arrays used as indices must be of integer (or boolean) type")
            out.append(dispatch.contiguous(p, dispatch.CUDA))  # foreign (CuPy, PyTorch) arrays wrapped
        else:
            if not _is_array(p):
                q = np.asarray(p)
                p = q.astype(np.int64) if q.size == 0 and q.dtype.kind == "f" else q  # [] is an int index
            if np.dtype(p.dtype).kind not in "biu":
                raise IndexError("arrays used as indices must be of integer (or boolean) type")
            if isinstance(p, np.ndarray) and p.dtype.kind == "b" and not p.shape:
                raise NotImplementedError("numconv.ops.math.getitem on a CUDA array: a 0-d boolean index is "
                                          "CPU-only; index with None or a 1-element boolean array instead")
            out.append(p)
    return out


def _index_plan(a_shape, index):
    """The ``_IndexPlan`` of ``a[index]`` for ``a`` of ``a_shape``, with NumPy's rules and errors. Host index
    arrays are checked here; boolean masks become their nonzero rows (on the mask's device)."""
    a_shape = tuple(int(n) for n in a_shape)
    nd, st = len(a_shape), _strides(a_shape)
    parts = _index_parts(index)
    if _builtin_sum(p is Ellipsis for p in parts) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    is_arr = [_is_array(p) for p in parts]
    used = _builtin_sum(len(p.shape) if a and np.dtype(p.dtype).kind == "b" else 1 for p, a in zip(parts, is_arr)
               if a or isinstance(p, (int, slice)))
    if used > nd:
        raise IndexError(f"too many indices for array: array is {nd}-dimensional, but {used} were indexed")
    fill = [slice(None)] * (nd - used)
    if Ellipsis in [p for p in parts if not _is_array(p)]:
        e = next(i for i, p in enumerate(parts) if p is Ellipsis and not _is_array(p))
        parts = parts[:e] + ["..."] + fill + parts[e + 1:]  # the marker keeps apart what it separates
    else:
        parts = parts + fill
    advanced = any(_is_array(p) for p in parts)
    plan = _IndexPlan(a_shape)
    shape, s_a = [], []
    adv_at = []  # positions in ``parts`` of the advanced indices (ints too, when there are arrays)
    b_insert = None
    k = 0
    for pos, p in enumerate(parts):
        if p is None:
            shape.append(1)
            s_a.append(0)
        elif isinstance(p, str):
            continue
        elif isinstance(p, slice):
            start, stop, step = p.indices(a_shape[k])
            count = len(range(start, stop, step))
            plan.lattice[k] = (start, step, count, len(shape))
            if count:
                plan.base += start * st[k]
            shape.append(count)
            s_a.append(step * st[k])
            k += 1
        elif isinstance(p, int):
            n = a_shape[k]
            if not -n <= p < n:
                raise IndexError(f"index {p} is out of bounds for axis {k} with size {n}")
            plan.base += (p % n) * st[k]
            plan.lattice[k] = (p % n, 1, 1, -1)
            if advanced:
                adv_at.append(pos)
                b_insert = len(shape) if b_insert is None else b_insert
            k += 1
        else:
            adv_at.append(pos)
            b_insert = len(shape) if b_insert is None else b_insert
            on_device = dispatch.device_of(p) == dispatch.CUDA
            if np.dtype(p.dtype).kind == "b":
                m = len(p.shape)
                for i in range(m):
                    if p.shape[i] != a_shape[k + i]:
                        raise IndexError(f"boolean index did not match indexed array along axis {k + i}; size of "
                                         f"axis is {a_shape[k + i]} but size of corresponding boolean axis is "
                                         f"{p.shape[i]}")
                rows = _cu_nonzero(p) if on_device else np.nonzero(p)
                plan.mask_sizes.append(int(rows[0].size) if m else 1)
                for i, row in enumerate(rows):
                    plan.rows.append((row, a_shape[k + i], st[k + i], k + i, "mask"))
                k += m
            else:
                n = a_shape[k]
                if not on_device and p.size and (p.min() < -n or p.max() >= n):
                    bad = p.max() if p.max() >= n else p.min()
                    raise IndexError(f"index {bad} is out of bounds for axis {k} with size {n}")
                plan.rows.append((p, n, st[k], k, "device" if on_device else "host"))
                k += 1
    for _, n, _, axis, _ in plan.rows:
        plan.lattice[axis] = (0, 1, n, -1)
    if plan.rows:
        try:
            plan.b_shape = np.broadcast_shapes(*[tuple(r[0].shape) for r in plan.rows])
        except ValueError:
            shapes = " ".join(str(tuple(r[0].shape)) for r in plan.rows)
            raise IndexError(f"shape mismatch: indexing arrays could not be broadcast together with shapes {shapes}") \
                from None
        adjacent = adv_at == list(range(adv_at[0], adv_at[-1] + 1))
        plan.b_pos = b_insert if adjacent else 0
        nb_dims = len(plan.b_shape)
        shape[plan.b_pos:plan.b_pos] = plan.b_shape
        s_a[plan.b_pos:plan.b_pos] = [0] * nb_dims
        plan.s_b = (0,) * plan.b_pos + _strides(plan.b_shape) + (0,) * (len(shape) - plan.b_pos - nb_dims)
        plan.lattice = [(s0, sp, c, d + nb_dims if d >= plan.b_pos else d) for s0, sp, c, d in plan.lattice]
    else:
        plan.s_b = (0,) * len(shape)
    plan.shape, plan.s_a = tuple(shape), tuple(s_a)
    return plan


def _cu_nonzero(mask):
    """np.nonzero of a device boolean array, on the device: one scalar (the count) comes back."""
    shape = tuple(mask.shape)
    flat = _flat(_cu_cast(mask, np.bool_))
    n = int(flat.size)
    chunk = _builtin_max(32, -(-n // 4096))  # about 4096 threads at most, each over a contiguous chunk
    n_chunks = _builtin_max(1, -(-n // chunk))
    counts = dispatch.empty((n_chunks,), np.int64, dispatch.CUDA)
    offsets = dispatch.empty((n_chunks + 1,), np.int64, dispatch.CUDA)
    g = _kernels("gather")
    g.count_true(counts, offsets, flat, chunk)
    count = int(to_host(offsets[n_chunks:])[0])
    rows = dispatch.empty((len(shape), count), np.int64, dispatch.CUDA)
    if count:
        g.nonzero(_flat(rows), flat, offsets, chunk, count, _pad(shape), MAXDIM - len(shape))
    return [rows[d] for d in range(len(shape))]


def _cu_index_rows(plan):
    """(idx, adv_strides, adv_sizes): the plan's advanced index arrays broadcast to its B shape as the rows of
    one flat (k, nb) int64 device array, with their axes' strides and sizes (MAXDIM-padded). Device int
    arrays are checked against their axes here: their min and max are the only values read back."""
    k, nb = len(plan.rows), plan.nb
    pad = (0,) * (MAXDIM - k)
    strides = tuple(r[2] for r in plan.rows) + pad
    sizes = tuple(r[1] for r in plan.rows) + pad
    if not k:
        return _NO_INDEX(), strides, sizes
    if all(dispatch.device_of(r[0]) == dispatch.CPU for r in plan.rows):
        host = np.stack([np.broadcast_to(np.asarray(r[0], np.int64), plan.b_shape).ravel() for r in plan.rows])
        return dispatch.to_device(np.ascontiguousarray(host.ravel()), dispatch.CUDA), strides, sizes
    idx = dispatch.empty((k * _builtin_max(nb, 1),), np.int64, dispatch.CUDA)
    for j, (arr, n, _, axis, kind) in enumerate(plan.rows):
        if kind == "device" and arr.size:
            lo, hi = (int(v) for v in to_host(stack([min(arr), max(arr)], 0)))
            if lo < -n or hi >= n:
                raise IndexError(f"index {hi if hi >= n else lo} is out of bounds for axis {axis} with size {n}")
        if not nb:
            continue
        if dispatch.device_of(arr) == dispatch.CPU:
            arr = dispatch.to_device(np.ascontiguousarray(arr, np.int64), dispatch.CUDA)
        _cu_assign(idx[j * nb:(j + 1) * nb].reshape(plan.b_shape or (1,)), _cu_cast(arr, np.int64))
    return idx, strides, sizes


def _cu_getitem(a, index):
    plan = _index_plan(a.shape, index)
    n = int(np.prod(plan.shape))
    if not plan.rows and n and len(plan.shape) <= MAXDIM and all(  # one C-ordered block of ``a``: a view
            k == 1 or s == c for k, s, c in zip(plan.shape, plan.s_a, _strides(plan.shape))):
        flat = dispatch.contiguous(a, dispatch.CUDA).reshape(int(a.size))
        return flat[plan.base:plan.base + n].reshape(tuple(plan.shape))
    out = dispatch.empty(plan.shape, a.dtype, dispatch.CUDA)
    idx, adv_strides, adv_sizes = _cu_index_rows(plan)
    if out.size:
        lead = (0,) * (MAXDIM - len(plan.shape))
        _kernels("gather").getitem(_flat(out), _flat(a), idx, _builtin_max(plan.nb, 1), len(plan.rows), plan.base,
                                   _pad(plan.shape), lead + plan.s_a, lead + plan.s_b, adv_strides, adv_sizes)
    return out


def _source(src, shape, dtype):
    """``src`` (a device array or a scalar) as a device array that broadcasts to ``shape`` (NumPy's
    assignment rule: leading unit dimensions may go), and its broadcast strides."""
    if not _is_array(src):
        src = _cu_full((), src, dtype)
    s = tuple(src.shape)
    while len(s) > len(shape) and s[0] == 1:
        s = s[1:]
    try:
        ok = len(s) <= len(shape) and np.broadcast_shapes(s, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"could not broadcast input array from shape {tuple(src.shape)} into shape {tuple(shape)}")
    src = reshape(src, s)
    return src, _bstrides(s, shape)


def _cu_scatter_index(out, plan, values, accumulate):
    """out[index] = values (or +=, ``accumulate``) for the plan's index: each value written once where no
    position repeats, else the gather form (``index_scan``), so never a race and the same bits every run."""
    g = _kernels("gather")
    idx, adv_strides, adv_sizes = _cu_index_rows(plan)
    n, nb, k = int(np.prod(plan.shape)), _builtin_max(plan.nb, 1), len(plan.rows)
    if _is_array(values) and _may_overlap(values, out):
        values = copy(values)  # dst[1:] = dst[:-1]: read everything before writing, as NumPy
    if plan.unique():
        values, s_v = _source(values, plan.shape, out.dtype)
        if n:
            lead = (0,) * (MAXDIM - len(plan.shape))
            g.setitem(_flat(out), _flat(values), idx, n, nb, k, plan.base, _pad(plan.shape), lead + plan.s_a,
                      s_v, lead + plan.s_b, adv_strides, adv_sizes)
        return
    values, _ = _source(values, plan.shape, out.dtype)
    if not n:
        return
    if tuple(values.shape) != plan.shape or np.dtype(values.dtype) != np.dtype(out.dtype):
        values = broadcast_to(_cu_cast(values, out.dtype), plan.shape)  # C-contiguous, of the result's shape
    vs = _strides(plan.shape)
    lat = plan.lattice
    lead = MAXDIM - len(lat)
    adv_axis = [0] * len(lat)
    for _, _, stride, axis, _ in plan.rows:
        adv_axis[axis] = stride
    pad0, pad1 = (0,) * lead, (1,) * lead
    after_b = plan.b_pos + len(plan.b_shape)
    g.index_scan(_flat(out), _flat(values), idx, nb, k, _pad(plan.a_shape), pad0 + tuple(x[0] for x in lat),
                 pad1 + tuple(x[1] for x in lat), pad1 + tuple(x[2] for x in lat),
                 pad0 + tuple(vs[x[3]] if x[3] >= 0 else 0 for x in lat), pad0 + tuple(adv_axis), adv_strides,
                 adv_sizes, int(np.prod(plan.shape[after_b:])), bool(accumulate))


def _memory(x):
    """(first, last) byte addresses of a device array, or None when unknown."""
    ary = getattr(x, "_ary", None)  # the CUDA simulator's arrays wrap a NumPy array
    if isinstance(ary, np.ndarray):
        lo, hi = np.lib.array_utils.byte_bounds(ary) if hasattr(np.lib, "array_utils") else np.byte_bounds(ary)
        return lo, hi
    cai = getattr(x, "__cuda_array_interface__", None)
    if cai is None:
        return None
    lo = cai["data"][0]
    return lo, lo + int(np.prod(cai["shape"])) * np.dtype(cai["typestr"]).itemsize


def may_share(a, b):
    """Whether arrays ``a`` and ``b`` may share memory (their byte ranges overlap), on either device."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return np.may_share_memory(a, b)
    if isinstance(a, _HOST_TYPES) or isinstance(b, _HOST_TYPES):
        return False
    return _may_overlap(a, b)


def _may_overlap(x, y):
    mx, my = _memory(x), _memory(y)
    return mx is None or my is None or (mx[0] < my[1] and my[0] < mx[1])


def _cu_setitem(dst, index, src):
    plan = _index_plan(dst.shape, index)
    _cu_scatter_index(dispatch.contiguous(dst, dispatch.CUDA), plan, src, accumulate=False)


def _cu_index_add(shape, index, values, dtype):
    shape = tuple(int(n) for n in shape)
    plan = _index_plan(shape, index)
    out = _cu_full(shape, 0, dtype)
    _cu_scatter_index(out, plan, values, accumulate=True)
    return out
