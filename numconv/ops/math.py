"""Elementwise, reduction and shape math over arrays, for autograd, nn and optim.

On the CPU these are NumPy; ``numconv.dispatch`` routes other devices to their kernels.
Autograd calls these, never NumPy or Numba directly, so a new backend only adds kernels here.
Every function returns an array (never a NumPy scalar, even for 0-d results) and keeps the
dtype NumPy's promotion rules give; Python scalars never widen a float32 array.
"""
from __future__ import annotations

import numpy as np

from .. import dispatch

_a = np.asarray  # NumPy returns scalars for 0-d results; the autograd wants arrays


def _cpu(*arrays):
    dev = dispatch.backend(**{f"arg{i}": a for i, a in enumerate(arrays)})
    if dev != dispatch.CPU:
        raise NotImplementedError("this operation has no CUDA kernel yet")


# ----------------------------------------------------------------------------- creation


def zeros(shape, dtype, like=None):
    if like is not None:
        _cpu(like)
    return np.zeros(shape, dtype=dtype)


def ones(shape, dtype, like=None):
    if like is not None:
        _cpu(like)
    return np.ones(shape, dtype=dtype)


def full(shape, value, dtype, like=None):
    if like is not None:
        _cpu(like)
    return np.full(shape, value, dtype=dtype)


def full_like(a, value):
    _cpu(a)
    return np.full(a.shape, value, dtype=a.dtype)


def zeros_like(a, dtype=None):
    _cpu(a)
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
    _cpu(a)
    return a.astype(dtype, copy=False)


def copy(a):
    _cpu(a)
    return a.copy()


def assign(dst, src, index=Ellipsis):
    """dst[index] = src, in place."""
    _cpu(dst, src if hasattr(src, "shape") else None)
    dst[index] = src


def to_host(a):
    """A NumPy array with ``a``'s values."""
    return a if isinstance(a, np.ndarray) else a.copy_to_host()


# ----------------------------------------------------------------------------- elementwise
# ``b`` may be an array or a Python scalar (which keeps the array's dtype).


def add(a, b):
    _cpu(a, b)
    return _a(np.add(a, b))


def subtract(a, b):
    _cpu(a, b)
    return _a(np.subtract(a, b))


def multiply(a, b):
    _cpu(a, b)
    return _a(np.multiply(a, b))


def divide(a, b):
    _cpu(a, b)
    return _a(np.true_divide(a, b))


def negative(a):
    _cpu(a)
    return _a(np.negative(a))


def power(a, b):
    _cpu(a, b)
    return _a(np.power(a, b))


def exp(a):
    _cpu(a)
    return _a(np.exp(a))


def log(a):
    _cpu(a)
    return _a(np.log(a))


def sqrt(a):
    _cpu(a)
    return _a(np.sqrt(a))


def abs(a):  # noqa: A001 (mirrors NumPy's name)
    _cpu(a)
    return _a(np.abs(a))


def sign(a):
    _cpu(a)
    return _a(np.sign(a))


def tanh(a):
    _cpu(a)
    return _a(np.tanh(a))


def sigmoid(a):
    """1 / (1 + exp(-a)), without overflow: exp(-|a|) <= 1 on both branches."""
    _cpu(a)
    e = np.exp(-np.abs(a))
    return _a(np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(a.dtype, copy=False))


def maximum(a, b):
    _cpu(a, b)
    return _a(np.maximum(a, b))


def minimum(a, b):
    _cpu(a, b)
    return _a(np.minimum(a, b))


def clip(a, lo, hi):
    """min(max(a, lo), hi); ``lo``/``hi`` None leaves that side open."""
    _cpu(a)
    if lo is None and hi is None:
        return a.copy()
    return _a(np.clip(a, lo, hi))


def where(cond, a, b):
    _cpu(cond, a, b)
    return _a(np.where(cond, a, b))


_COMPARE = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
            "ge": np.greater_equal}


def compare(op, a, b):
    """Boolean array of ``a <op> b``; op one of eq, ne, lt, le, gt, ge."""
    _cpu(a, b)
    return _a(_COMPARE[op](a, b))


def logical_and(a, b):
    _cpu(a, b)
    return _a(np.logical_and(a, b))


def logical_not(a):
    _cpu(a)
    return _a(np.logical_not(a))


def isnan(a):
    _cpu(a)
    return _a(np.isnan(a))


# ----------------------------------------------------------------------------- reductions
# ``axis``: None (all), an int, or a tuple of ints.


def sum(a, axis=None, keepdims=False, dtype=None):  # noqa: A001
    _cpu(a)
    return _a(np.sum(a, axis=axis, keepdims=keepdims, dtype=dtype))


def mean(a, axis=None, keepdims=False):
    _cpu(a)
    return _a(np.mean(a, axis=axis, keepdims=keepdims))


def max(a, axis=None, keepdims=False):  # noqa: A001
    """Maximum; NaN propagates."""
    _cpu(a)
    return _a(np.max(a, axis=axis, keepdims=keepdims))


def min(a, axis=None, keepdims=False):  # noqa: A001
    _cpu(a)
    return _a(np.min(a, axis=axis, keepdims=keepdims))


def argmax(a, axis=None, keepdims=False):
    """int64 index of the first maximum (NaN counts as the maximum, as in PyTorch)."""
    _cpu(a)
    return _a(np.argmax(a, axis=axis, keepdims=keepdims)).astype(np.int64, copy=False)


def argmin(a, axis=None, keepdims=False):
    _cpu(a)
    return _a(np.argmin(a, axis=axis, keepdims=keepdims)).astype(np.int64, copy=False)


def softmax(a, axis):
    """exp(a - max) / sum(exp(a - max)) along ``axis``."""
    _cpu(a)
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def log_softmax(a, axis):
    """a - max - log(sum(exp(a - max))) along ``axis``: never overflows."""
    _cpu(a)
    s = a - np.max(a, axis=axis, keepdims=True)
    s -= np.log(np.sum(np.exp(s), axis=axis, keepdims=True))
    return s


def sum_to(g, shape):
    """Sum ``g`` down to ``shape``: the gradient of broadcasting an array of ``shape`` to ``g.shape``."""
    _cpu(g)
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return _a(g).reshape(shape)


# ----------------------------------------------------------------------------- shape and indexing


def reshape(a, shape):
    _cpu(a)
    return a.reshape(shape)


def transpose(a, axes):
    _cpu(a)
    return a.transpose(axes)


def swapaxes(a, i, j):
    _cpu(a)
    return a.swapaxes(i, j)


def broadcast_to(a, shape):
    """A new (writable, contiguous) array of ``shape`` holding ``a`` broadcast."""
    _cpu(a)
    out = np.empty(shape, dtype=a.dtype)
    out[...] = a
    return out


def concatenate(arrays, axis):
    _cpu(*arrays)
    return np.concatenate(arrays, axis=axis)


def stack(arrays, axis):
    _cpu(*arrays)
    return np.stack(arrays, axis=axis)


def split(a, sizes, axis):
    """Pieces of ``a`` along ``axis`` of the given ``sizes`` (views)."""
    _cpu(a)
    return np.split(a, np.cumsum(sizes)[:-1], axis=axis)


def take(a, index, axis):
    """a.take(index, axis): a copy, index an int or int array."""
    _cpu(a)
    return _a(np.take(a, index, axis=axis))


def getitem(a, index):
    """a[index] for NumPy-style indices (ints, slices, None, Ellipsis, int or bool arrays); a copy."""
    _cpu(a)
    return np.array(a[index])


def _is_basic(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice)) for p in parts)


def index_add(shape, index, values, dtype):
    """zeros(shape)[index] += values, summing repeated positions (the gradient of ``getitem``)."""
    _cpu(values)
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
    _cpu(a, index)
    return a[_along(index, axis)]


def scatter_add(shape, index, values, axis, dtype):
    """zeros(shape), then out[..., index[..., j, ...], ...] += values[..., j, ...] (the gradient of ``gather``)."""
    _cpu(index, values)
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
    _cpu(a, b)
    if (a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.dtype in (np.float32, np.float64)
            and a.shape[1] == b.shape[0]):
        out = np.empty((a.shape[0], b.shape[1]), a.dtype)
        # b.T of a transposed view (x @ W.T in Linear) is contiguous already: no copy
        dispatch.kernels("gemm", dispatch.CPU).matmul_nt(out, np.ascontiguousarray(a), np.ascontiguousarray(b.T))
        return out
    return _a(np.matmul(a, b))
