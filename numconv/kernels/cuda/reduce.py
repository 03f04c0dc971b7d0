"""Reductions, CUDA: sum/mean, max/min, argmax/argmin over any set of axes, and softmax/log_softmax.

Many short reductions (more outputs than each has elements, or fewer than RED_MIN elements): one
thread per output element walks its reduced elements in row-major order. Few long ones (a batch
norm's statistics: 64 channels of 65,536 elements each): a block of RED_THREADS threads per output,
thread t taking elements t, t + RED_THREADS, ... in order, then a tree over the threads in shared
memory, always in the same order. (One thread walking 65,536 elements took tens of milliseconds on
an H100, and a ResNet-18 training step 5 s; see docs/gpu.md.) Either way the result does not depend
on the run and no atomics are needed. ``k_shape``/``k_strides`` describe the kept axes (the output,
flat row-major), ``r_shape``/``r_strides`` the reduced ones, in elements of the flat C-contiguous
input; all are tuples of ``numconv.ops.math.MAXDIM`` entries. Sums accumulate in float64 and are
rounded once to the output's dtype.
"""
import math

import numpy as np
from numba import cuda, float64, int64

from . import jit, launch, launch_grid, strided_offset, tree_sum

RED_MIN = 64  # reductions of at least this many elements, and more elements than outputs, take a block each
RED_THREADS = 256  # threads of such a block (a power of two, at most RED_SHARED); the simulator runs use fewer
RED_SHARED = 256  # the blocks' shared-memory slots


def _by_block(out, a, count):
    """Whether each output takes a block: few long reductions (for max/argmax, of floating arrays:
    the block kernels compare in float64)."""
    return count >= RED_MIN and count >= out.size and np.dtype(a.dtype).kind == "f"


def sum(out, a, k_shape, k_strides, r_shape, r_strides, count, divisor):  # noqa: A001
    """out[i] = (sum over the ``count`` reduced elements of a) / divisor (1 for a sum, count for a mean)."""
    if count >= RED_MIN and count >= out.size:  # sums accumulate in float64 on both paths, any dtype
        launch_grid(_sum_block, out.size, RED_THREADS, out, a, k_shape, k_strides, r_shape, r_strides, count, divisor)
    else:
        launch(_sum, out.size, out, a, k_shape, k_strides, r_shape, r_strides, count, divisor)


@jit
def _sum_block(out, a, k_shape, k_strides, r_shape, r_strides, count, divisor):
    s = cuda.shared.array(RED_SHARED, float64)
    t, o = cuda.threadIdx.x, cuda.blockIdx.x
    base = strided_offset(o, k_shape, k_strides)
    acc = 0.0
    for r in range(t, count, cuda.blockDim.x):
        acc += a[base + strided_offset(r, r_shape, r_strides)]
    s[t] = acc
    tree_sum(s, t)
    if t == 0:
        out[o] = s[0] / divisor


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
    if _by_block(out, a, count):
        launch_grid(_argmax_block, out.size, RED_THREADS, out, a, k_shape, k_strides, r_shape, r_strides, count, sign,
                    False)
    else:
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
    if _by_block(out, a, count):
        launch_grid(_argmax_block, out.size, RED_THREADS, out, a, k_shape, k_strides, r_shape, r_strides, count, sign,
                    True)
    else:
        launch(_argmax, out.size, out, a, k_shape, k_strides, r_shape, r_strides, count, sign)


@cuda.jit(device=True)
def _beats(v, i, best, arg, sign):
    """Whether element ``i`` of value ``v`` comes before (``best``, ``arg``) as the extreme: the first
    NaN, else the larger (sign 1) or smaller (sign -1) value, else, on a tie, the first index."""
    if v != v or best != best:
        return v != v and (best == best or i < arg)
    return (sign > 0 and v > best) or (sign < 0 and v < best) or (v == best and i < arg)


@jit
def _argmax_block(out, a, k_shape, k_strides, r_shape, r_strides, count, sign, want_index):
    s_best = cuda.shared.array(RED_SHARED, float64)  # float64 holds every float32 and float64 exactly
    s_arg = cuda.shared.array(RED_SHARED, int64)
    t, o = cuda.threadIdx.x, cuda.blockIdx.x
    base = strided_offset(o, k_shape, k_strides)
    best = -math.inf if sign > 0 else math.inf
    arg = int64(count)  # a thread with no elements loses every tie
    for r in range(t, count, cuda.blockDim.x):
        v = float64(a[base + strided_offset(r, r_shape, r_strides)])
        if _beats(v, r, best, arg, sign):
            best, arg = v, r
    s_best[t], s_arg[t] = best, arg
    cuda.syncthreads()
    half = cuda.blockDim.x // 2
    while half > 0:
        if t < half and _beats(s_best[t + half], s_arg[t + half], s_best[t], s_arg[t], sign):
            s_best[t], s_arg[t] = s_best[t + half], s_arg[t + half]
        cuda.syncthreads()
        half //= 2
    if t == 0:
        if want_index:
            out[o] = s_arg[0]
        else:
            out[o] = s_best[0]


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
