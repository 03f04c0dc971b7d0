"""Scalar helpers for elementwise kernels, written once in plain Python and wrapped per target
(``njit(inline="always")`` in ``cpu/``, ``cuda.jit(device=True)`` in ``cuda/``)."""


def lerp(start, end, weight, complement):
    """``start + weight * (end - start)`` evaluated as PyTorch's ``lerp`` (exact at both ends);
    ``complement`` is ``1 - weight`` in the same dtype."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * complement
