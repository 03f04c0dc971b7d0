"""Indexed reads and their gradients, CUDA: ``gather`` (torch.gather / take_along_axis), its
gradient ``scatter_add`` written as a gather (each output element sums the entries that point at
it, in order: no atomics, the same bits every run), and ``take`` along one axis.

Shapes are tuples of ``numconv.ops.math.MAXDIM`` entries, strides in elements of flat C-contiguous
arrays; ``axis`` counts in those padded tuples.
"""
from numba import cuda

from . import jit, launch, strided_offset


def gather(out, a, index, shape, s_a, s_index, axis, a_axis_stride):
    """out[i] = a[i with coordinate ``axis`` replaced by index[i]]: ``shape`` is the index's (and out's)
    shape, ``s_a`` a's strides with 0 on ``axis``, ``a_axis_stride`` a's stride along ``axis``."""
    launch(_gather, out.size, out, a, index, shape, s_a, s_index, axis, a_axis_stride)


@jit
def _gather(out, a, index, shape, s_a, s_index, axis, a_axis_stride):
    t = cuda.grid(1)
    if t < out.size:
        out[t] = a[strided_offset(t, shape, s_a) + index[strided_offset(t, shape, s_index)] * a_axis_stride]


def scatter_add(out, index, values, shape, index_shape, s_index, s_values, axis):
    """out[..., j, ...] = sum of values[..., p, ...] over the positions p along ``axis`` with
    index[..., p, ...] == j (0 outside the index's extent); ``shape`` is out's shape, ``s_index`` and
    ``s_values`` strides of index and values (both of ``index_shape``, values maybe broadcast)."""
    launch(_scatter_add, out.size, out, index, values, shape, index_shape, s_index, s_values, axis)


@jit
def _scatter_add(out, index, values, shape, index_shape, s_index, s_values, axis):
    t = cuda.grid(1)
    if t >= out.size:
        return
    # decode out's coordinates; the position along ``axis`` is the class j, the others must lie in the index
    j = 0
    base_i = 0
    base_v = 0
    inside = True
    r = t
    for k in range(len(shape) - 1, -1, -1):
        c = r % shape[k]
        r //= shape[k]
        if k == axis:
            j = c
        elif c >= index_shape[k]:
            inside = False
        else:
            base_i += c * s_index[k]
            base_v += c * s_values[k]
    acc = out.dtype.type(0)
    if inside:
        for p in range(index_shape[axis]):
            if index[base_i + p * s_index[axis]] == j:
                acc += values[base_v + p * s_values[axis]]
    out[t] = acc


def take(out, a, index, n, inner):
    """out[p, j, q] = a[p, index[j], q] over (outer, m, inner) and (outer, n, inner) views; negative
    indices count from the end."""
    launch(_take, out.size, out, a, index, n, inner)


@jit
def _take(out, a, index, n, inner):
    t = cuda.grid(1)
    if t < out.size:
        m = index.size
        q = t % inner
        r = t // inner
        j = r % m
        p = r // m
        i = index[j]
        if i < 0:
            i += n
        out[t] = a[(p * n + i) * inner + q]
