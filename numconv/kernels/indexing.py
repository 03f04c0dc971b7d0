"""Scalar index helpers, written once in plain Python and wrapped per target
(``njit(inline="always")`` in ``cpu/``, ``cuda.jit(device=True)`` in ``cuda/``)."""
from numba import uint32


def tap_range(offset, stride, n_in, n_out):
    """Output indices ``o`` in ``[lo, hi)`` whose tap ``o*stride + offset`` lands inside ``[0, n_in)``.

    ``offset`` is ``k*dilation - pad_lo`` for tap ``k``. Python's floor division makes this
    right for negative numbers too.
    """
    lo = 0
    if offset < 0:
        lo = (-offset + stride - 1) // stride
    hi = (n_in - 1 - offset) // stride + 1
    if hi > n_out:
        hi = n_out
    if hi < lo:
        hi = lo
    return lo, hi


def tap_source(i, offset, stride, n_out):
    """The output index ``o`` in ``[0, n_out)`` whose tap ``o*stride + offset`` is input ``i``, or -1.

    The gather form of ``tap_range``: a backward pass that owns input element ``i`` asks, tap by
    tap, which output read it. At most one does per tap, and only when ``i - offset`` is a
    non-negative multiple of ``stride``.
    """
    q = i - offset
    if q < 0:
        return -1
    o = q // stride
    if o * stride != q or o >= n_out:
        return -1
    return o


def in_window(i, first, count, step):
    """Whether ``i`` is one of a pooling window's taps ``first + t*step`` for ``0 <= t < count``."""
    q = i - first
    if q < 0:
        return False
    if step == 1:
        return q < count
    # an index along one dimension: 32 bits hold it, and 32-bit division is the cheaper one on both
    # targets (on a GPU, 64-bit division is a long software routine)
    u, us = uint32(q), uint32(step)
    return u % us == 0 and u // us < count


def unravel5(t, d1, d2, d3, d4):
    """Row-major indices (i0, i1, i2, i3, i4) of flat position ``t`` in an array of shape
    (any, d1, d2, d3, d4); arrays of fewer dimensions pass 1 for the leading sizes."""
    i4 = t % d4
    t //= d4
    i3 = t % d3
    t //= d3
    i2 = t % d2
    t //= d2
    return t // d1, t % d1, i2, i3, i4


def strided_offset(t, shape, strides):
    """The memory offset (in elements) of flat row-major index ``t`` of an array of ``shape`` whose
    dimensions step by ``strides`` elements; a stride of 0 repeats the data along that dimension
    (broadcasting), a permuted stride tuple reads a transpose. ``shape`` and ``strides`` are tuples of
    one fixed length (leading unit dimensions pad shorter shapes)."""
    off = 0
    for k in range(len(shape) - 1, -1, -1):
        n = shape[k]
        off += (t % n) * strides[k]
        t //= n
    return off


def window_argmax(x, n, c, d0, h0, w0, kd, kh, kw):
    """(value, flat position in the (D, H, W) plane) of the maximum of ``x[n, c]`` over the window of
    ``kd x kh x kw`` taps whose first corner is ``(d0, h0, w0)``, scanned in row-major order: the
    first maximum, or the last NaN (NaN propagates, as in PyTorch's max pooling)."""
    H, W = x.shape[3], x.shape[4]
    best = x[n, c, d0, h0, w0]
    at = (d0 * H + h0) * W + w0
    for a in range(kd):
        for e in range(kh):
            for f in range(kw):
                v = x[n, c, d0 + a, h0 + e, w0 + f]
                if v > best or v != v:
                    best = v
                    at = ((d0 + a) * H + h0 + e) * W + w0 + f
    return best, at
