"""Scalar index helpers, written once in plain Python and wrapped per target
(``njit(inline="always")`` in ``cpu/``, ``cuda.jit(device=True)`` in ``cuda/``)."""


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
