"""CPU kernels: ``@njit(parallel=True, cache=True)`` over NumPy arrays.

Parallel loops run over independent output planes (``prange``), so every element is written
by one thread and results do not depend on the thread count.
"""
from numba import njit

from .. import indexing

# Reassociation lets reductions vectorize; no 'nnan'/'ninf', so NaN and inf propagate as in PyTorch.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


def kernel(fn):
    """The decorator every CPU kernel uses."""
    return njit(parallel=True, cache=True, fastmath=FASTMATH)(fn)


def serial(fn):
    """Serial kernel for small work where threading costs more than it saves."""
    return njit(cache=True, fastmath=FASTMATH)(fn)


def exact_kernel(fn):
    """A parallel kernel compiled without fastmath, for elementwise updates that must round exactly
    as written (the optimizers, which follow PyTorch's). With fastmath, a freshly compiled parallel
    function and the same function loaded from Numba's cache may contract or reorder differently
    (numba#10617), so a run and its resume in a new process would drift apart by an ulp."""
    return njit(parallel=True, cache=True)(fn)


def exact_serial(fn):
    """``exact_kernel`` without threads."""
    return njit(cache=True)(fn)


def inline(fn):
    """A helper compiled into the kernels that call it."""
    return njit(inline="always", fastmath=FASTMATH)(fn)


tap_range = inline(indexing.tap_range)


@inline
def plane_parts(planes):
    """How many parts a parallel loop over ``planes`` independent planes is cut into: enough for
    balance on many threads, few enough that per-part buffers cost nothing. (A constant: asking
    Numba for its thread count inside a kernel would stop the kernel from being cached.)"""
    return min(planes, 64)


@inline
def part_range(part, parts, total):
    """The items [lo, hi) of ``total`` that part ``part`` of ``parts`` (``plane_parts``) covers."""
    return part * total // parts, (part + 1) * total // parts
