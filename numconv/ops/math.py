"""Elementwise, reduction and shape math over arrays, for autograd, nn and optim.

On the CPU these are NumPy; on CUDA arrays (``numconv.dispatch`` decides from where the arrays
live) they launch the kernels of ``numconv.kernels.cuda`` (elementwise, reduce, gather, linalg),
with the same result shapes and dtypes. Autograd calls these, never NumPy or Numba directly, so
a new backend only adds kernels here. Every function returns an array (never a NumPy scalar,
even for 0-d results) and keeps the dtype NumPy's promotion rules give; Python scalars never
widen a float32 array. An operation without a CUDA kernel raises NotImplementedError naming it.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import dispatch

_a = np.asarray  # NumPy returns scalars for 0-d results; the autograd wants arrays
_builtin_abs, _builtin_max = abs, max

MAXDIM = 8
"""CUDA kernels see every shape padded to this many dimensions (one compiled kernel for all ranks)."""


def _is_array(x):
    return x is not None and not isinstance(x, (numbers.Number, np.generic)) and hasattr(x, "shape")


def _on_cuda(*xs):
    """Whether the array arguments live on the GPU (Python and NumPy scalars go anywhere); mixing
    devices is a ValueError naming the arguments."""
    return dispatch.backend(**{f"arg{i}": x for i, x in enumerate(xs) if _is_array(x)}) == dispatch.CUDA


def _cpu(*arrays, op="this operation"):
    """For operations that have no CUDA kernel yet: a clear NotImplementedError on device arrays."""
    if _on_cuda(*arrays):
        raise NotImplementedError(f"numconv.ops.math.{op} has no CUDA kernel: it is CPU-only for now "
                                  "(move the arrays to the CPU with .cpu() / .to('cpu') first)")


# ----------------------------------------------------------------------------- creation


def zeros(shape, dtype, like=None):
    """Zeros on ``like``'s device (the CPU without ``like``)."""
    if like is not None and _on_cuda(like):
        return _cu_full(shape, 0, dtype)
    return np.zeros(shape, dtype=dtype)


def ones(shape, dtype, like=None):
    if like is not None and _on_cuda(like):
        return _cu_full(shape, 1, dtype)
    return np.ones(shape, dtype=dtype)


def full(shape, value, dtype, like=None):
    if like is not None and _on_cuda(like):
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


def standard_normal(rng, shape, dtype):
    """N(0, 1) draws from the NumPy Generator ``rng`` (float32 drawn natively, not rounded from float64)."""
    return _a(rng.standard_normal(shape, dtype=dtype))


def uniform(rng, shape, dtype):
    """U[0, 1) draws from ``rng``."""
    return _a(rng.random(shape, dtype=dtype))


def integers(rng, low, high, shape, dtype=np.int64):
    return _a(rng.integers(low, high, size=shape, dtype=dtype))


def permutation(rng, n):
    return rng.permutation(n).astype(np.int64)


def astype(a, dtype):
    """``a`` as ``dtype`` (``a`` itself when it already is)."""
    if _on_cuda(a):
        return _cu_cast(a, dtype)
    return a.astype(dtype, copy=False)


def copy(a):
    if _on_cuda(a):
        return dispatch.copy(a, dispatch.CUDA)
    return a.copy()


def assign(dst, src, index=Ellipsis):
    """dst[index] = src, in place. On a device ``dst`` only the whole array (``index`` Ellipsis); a NumPy
    ``src`` is copied to the device first (loading a checkpoint into a model on the GPU)."""
    if _is_array(dst) and dispatch.device_of(dst) == dispatch.CUDA:
        if index is not Ellipsis:
            raise NotImplementedError("numconv.ops.math.assign with an index has no CUDA kernel: it is CPU-only "
                                      "for now (only dst[...] = src works on the GPU)")
        if isinstance(src, np.ndarray):
            src = dispatch.to_device(np.ascontiguousarray(src), dispatch.CUDA)
        _cu_assign(dst, src)
        return
    _cpu(dst, src if hasattr(src, "shape") else None, op="assign")
    dst[index] = src


def to_host(a):
    """A NumPy array with ``a``'s values."""
    return a if isinstance(a, np.ndarray) else a.copy_to_host()


def to_device(a, device):
    """``a`` on ``device`` ('cpu' or 'cuda'): ``a`` itself when it is there already, else a copy."""
    if dispatch.device_of(a) == device:
        return a
    if device == dispatch.CUDA:
        from .. import cuda

        cuda.require()
        return dispatch.to_device(np.ascontiguousarray(a), dispatch.CUDA)
    return to_host(a)


# ----------------------------------------------------------------------------- elementwise
# ``b`` may be an array or a Python scalar (which keeps the array's dtype).


def _binary(code, np_fn):
    """The broadcasting op ``np_fn`` on the CPU, the CUDA kernel ``code`` on device arrays."""

    def op(a, b):
        if _on_cuda(a, b):
            return _cu_binary(code, a, b)
        return _a(np_fn(a, b))

    op.__name__ = op.__qualname__ = np_fn.__name__
    return op


add = _binary("ADD", np.add)
subtract = _binary("SUBTRACT", np.subtract)
multiply = _binary("MULTIPLY", np.multiply)
divide = _binary("DIVIDE", np.true_divide)
power = _binary("POWER", np.power)
maximum = _binary("MAXIMUM", np.maximum)
minimum = _binary("MINIMUM", np.minimum)


def _unary(code, np_fn):
    """The elementwise op ``np_fn`` on the CPU, the CUDA kernel ``code`` on device arrays."""

    def op(a):
        if _on_cuda(a):
            return _cu_unary(code, np_fn, a)
        return _a(np_fn(a))

    op.__name__ = op.__qualname__ = np_fn.__name__
    return op


negative = _unary("NEGATIVE", np.negative)
exp = _unary("EXP", np.exp)
log = _unary("LOG", np.log)
sqrt = _unary("SQRT", np.sqrt)
abs = _unary("ABS", np.abs)  # noqa: A001 (mirrors NumPy's name)
sign = _unary("SIGN", np.sign)
tanh = _unary("TANH", np.tanh)


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
    return _a(np.sum(a, axis=axis, keepdims=keepdims, dtype=dtype))


def mean(a, axis=None, keepdims=False):
    if _on_cuda(a):
        out_dt = np.mean(np.ones(1, a.dtype)).dtype
        return _cu_reduce("sum", _cu_cast(a, out_dt), axis, keepdims, out_dt, 1)
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
    if _on_cuda(a):
        return _cu_softmax(a, axis, False)
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def log_softmax(a, axis):
    """a - max - log(sum(exp(a - max))) along ``axis``: never overflows."""
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


def concatenate(arrays, axis):
    _cpu(*arrays, op="concatenate")
    return np.concatenate(arrays, axis=axis)


def stack(arrays, axis):
    _cpu(*arrays, op="stack")
    return np.stack(arrays, axis=axis)


def split(a, sizes, axis):
    """Pieces of ``a`` along ``axis`` of the given ``sizes`` (views)."""
    _cpu(a, op="split")
    return np.split(a, np.cumsum(sizes)[:-1], axis=axis)


def take(a, index, axis):
    """a.take(index, axis): a copy, index an int or int array."""
    if _on_cuda(a):
        return _cu_take(a, index, axis)
    return _a(np.take(a, index, axis=axis))


def getitem(a, index):
    """a[index] for NumPy-style indices (ints, slices, None, Ellipsis, int or bool arrays); a copy."""
    _cpu(a, op="getitem")
    return np.array(a[index])


def _is_basic(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice)) for p in parts)


def index_add(shape, index, values, dtype):
    """zeros(shape)[index] += values, summing repeated positions (the gradient of ``getitem``)."""
    _cpu(values, op="index_add")
    out = np.zeros(shape, dtype=dtype)
    if _is_basic(index):
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
    """a @ b with NumPy's rules; 2-d float products run on numconv's own GEMM kernel (no BLAS
    threads competing with the kernels' thread pool)."""
    if _on_cuda(a, b):
        return _cu_matmul(a, b)
    if (a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.dtype in (np.float32, np.float64)
            and a.shape[1] == b.shape[0]):
        out = np.empty((a.shape[0], b.shape[1]), a.dtype)
        # b.T of a transposed view (x @ W.T in Linear) is contiguous already: no copy
        dispatch.kernels("gemm", dispatch.CPU).matmul_nt(out, np.ascontiguousarray(a), np.ascontiguousarray(b.T))
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
    return dispatch.contiguous(a, dispatch.CUDA).reshape((int(a.size),))


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


def _cu_binary(op, a, b):
    """Arithmetic in the dtype NumPy's promotion gives (true division of integers: float64)."""
    dt = np.result_type(_dtype_of(a), _dtype_of(b))
    if op == "DIVIDE" and dt.kind in "biu":
        dt = np.dtype(np.float64)
    shape = _out_shape(a, b)
    a, b = _operand(a, dt), _operand(b, dt)
    out = dispatch.empty(shape, dt, dispatch.CUDA)
    k = _kernels("elementwise")
    k.binary(_flat(out), _flat(a), _flat(b), getattr(k, op), _pad(shape), _bstrides(a.shape, shape),
             _bstrides(b.shape, shape))
    return out


def _cu_compare(op, a, b):
    dt = np.result_type(_dtype_of(a), _dtype_of(b))
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
    if len(a.shape) != 2 or len(b.shape) != 2:
        raise NotImplementedError(f"numconv.ops.math.matmul on CUDA multiplies 2-d arrays only (got shapes "
                                  f"{tuple(a.shape)} and {tuple(b.shape)}); batched and 1-d products are CPU-only for now")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not align ({a.shape[1]} != {b.shape[0]})")
    dt = np.result_type(a.dtype, b.dtype)
    a, b = _cu_cast(a, dt), _cu_cast(b, dt)
    out = dispatch.empty((a.shape[0], b.shape[1]), dt, dispatch.CUDA)
    _kernels("linalg").matmul(out, dispatch.contiguous(a, dispatch.CUDA), dispatch.contiguous(b, dispatch.CUDA))
    return out
