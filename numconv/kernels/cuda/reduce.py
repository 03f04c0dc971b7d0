"""Reductions, CUDA: sum/mean, max/min, argmax/argmin over any set of axes, and softmax/log_softmax.

One thread per output element walks its reduced elements in row-major order, so the result does
not depend on the launch and no atomics are needed. ``k_shape``/``k_strides`` describe the kept
axes (the output, flat row-major), ``r_shape``/``r_strides`` the reduced ones, in elements of the
flat C-contiguous input; all are tuples of ``numconv.ops.math.MAXDIM`` entries. Sums accumulate in
float64 and are rounded once to the output's dtype.
"""
import math

from numba import cuda

from . import jit, launch, strided_offset


def sum(out, a, k_shape, k_strides, r_shape, r_strides, count, divisor):  # noqa: A001
    """out[i] = (sum over the ``count`` reduced elements of a) / divisor (1 for a sum, count for a mean)."""
    launch(_sum, out.size, out, a, k_shape, k_strides, r_shape, r_strides, count, divisor)


@jit
def _sum(out, a, k_shape, k_strides, r_shape, r_strides, count, divisor):
    t = cuda.grid(1)
    if t < out.size:
        base = strided_offset(t, k_shape, k_strides)
        acc = 0.0
        for r in range(count):
            acc += a[base + strided_offset(r, r_shape, r_strides)]
        out[t] = acc / divisor


def max(out, a, k_shape, k_strides, r_shape, r_strides, count, sign):  # noqa: A001
    """out[i] = max (sign 1) or min (sign -1) of the reduced elements; NaN propagates."""
    launch(_max, out.size, out, a, k_shape, k_strides, r_shape, r_strides, count, sign)


@jit
def _max(out, a, k_shape, k_strides, r_shape, r_strides, count, sign):
    t = cuda.grid(1)
    if t < out.size:
        base = strided_offset(t, k_shape, k_strides)
        best = a[base]
        for r in range(1, count):
            x = a[base + strided_offset(r, r_shape, r_strides)]
            if best != best:
                break
            if x != x or (sign > 0 and x > best) or (sign < 0 and x < best):
                best = x
        out[t] = best


def argmax(out, a, k_shape, k_strides, r_shape, r_strides, count, sign):
    """out[i] = flat index (among the reduced elements) of the first max (sign 1) or min (sign -1);
    the first NaN counts as the extreme, as NumPy and PyTorch."""
    launch(_argmax, out.size, out, a, k_shape, k_strides, r_shape, r_strides, count, sign)


@jit
def _argmax(out, a, k_shape, k_strides, r_shape, r_strides, count, sign):
    t = cuda.grid(1)
    if t < out.size:
        base = strided_offset(t, k_shape, k_strides)
        best = a[base]
        arg = 0
        for r in range(1, count):
            if best != best:
                break
            x = a[base + strided_offset(r, r_shape, r_strides)]
            if x != x or (sign > 0 and x > best) or (sign < 0 and x < best):
                best = x
                arg = r
        out[t] = arg


def softmax(out, a, outer, n, inner, log):
    """Along the middle axis of a (outer, n, inner) view: out = exp(a - max) / sum(exp(a - max)), or
    with ``log``: out = a - max - log(sum(exp(a - max))). One thread per (outer, inner) line."""
    launch(_softmax, outer * inner, out, a, outer, n, inner, log)


@jit
def _softmax(out, a, outer, n, inner, log):
    t = cuda.grid(1)
    if t < outer * inner:
        base = (t // inner) * n * inner + t % inner
        m = a[base]
        for j in range(1, n):
            x = a[base + j * inner]
            if x != x or x > m:
                m = x
                if x != x:
                    break
        s = 0.0
        for j in range(n):
            d = a[base + j * inner] - m
            if log:
                out[base + j * inner] = d
                s += math.exp(d) if d == d else d
            else:
                e = math.exp(d) if d == d else d
                out[base + j * inner] = e
                s += out[base + j * inner]
        if log:
            lse = math.log(s) if s > 0 else (s if s != s else -math.inf)
            for j in range(n):
                out[base + j * inner] = out[base + j * inner] - lse
        else:
            for j in range(n):
                out[base + j * inner] = out[base + j * inner] / s
