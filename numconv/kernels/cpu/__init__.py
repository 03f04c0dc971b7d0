"""CPU kernels: ``@njit(parallel=True, cache=True)`` over NumPy arrays.

Parallel loops run over independent output planes (``prange``), so every element is written
by one thread and results do not depend on the thread count.
"""
import os
import warnings

from numba import njit
from numba.core.errors import NumbaPerformanceWarning

from .. import indexing

# Reassociation lets reductions vectorize; no 'nnan'/'ninf', so NaN and inf propagate as in PyTorch.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


def _sources_stamp():
    """(name, mtime, size) of every source file the CPU kernels compile in: this package's and the
    shared helpers one level up (``scalar.py``, ``indexing.py``)."""
    here = os.path.dirname(os.path.abspath(__file__))
    files = [os.path.join(d, f) for d in (here, os.path.dirname(here)) for f in sorted(os.listdir(d))
             if f.endswith(".py")]
    return tuple((os.path.basename(f), os.stat(f).st_mtime_ns, os.stat(f).st_size) for f in files)


_SOURCES = _sources_stamp()


def cached(**options):
    """``njit(cache=True, **options)``, with a cache that is stale when any kernel source changes.

    Numba checks a cached function against its own file only, so a kernel that inlines helpers
    from other files (the activation formulas of ``scalar.py``, ``vecmath.py``, the GEMM
    micro-kernels) would be loaded stale after an edit, or a ``git pull``, that touched only them.
    Every CPU kernel's cache stamp holds the stamps of all the kernel sources instead."""
    def wrap(fn):
        dispatcher = njit(cache=True, **options)(fn)
        cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
        if cache_file is not None and hasattr(cache_file, "_source_stamp"):
            cache_file._source_stamp = (cache_file._source_stamp, _SOURCES)
        return dispatcher

    return wrap


def kernel(fn):
    """The decorator every CPU kernel uses."""
    return cached(parallel=True, fastmath=FASTMATH)(fn)


def serial(fn):
    """Serial kernel for small work where threading costs more than it saves."""
    return cached(fastmath=FASTMATH)(fn)


def exact_kernel(fn):
    """A parallel kernel compiled without fastmath, for elementwise updates that must round exactly
    as written (the optimizers, which follow PyTorch's). With fastmath, a freshly compiled parallel
    function and the same function loaded from Numba's cache may contract or reorder differently
    (numba#10617), so a run and its resume in a new process would drift apart by an ulp."""
    return cached(parallel=True)(fn)


def exact_serial(fn):
    """``exact_kernel`` without threads."""
    return cached()(fn)


def inline(fn):
    """A helper compiled into the kernels that call it."""
    return njit(inline="always", fastmath=FASTMATH)(fn)


def task(fn):
    """The body of a parallel kernel's loop, a function of its own that the ``prange`` loop calls
    once per task. Numba compiles a ``prange`` body twice (typing the kernel, then again as the
    threads' function); where the body inlines much code, a body that is one call compiles much
    faster (``grid_sample``'s kernels: 77 -> 51 s for all twelve). The task is compiled with Numba's
    parallel passes but none of their transformations: their array analysis drops the index checks
    a loop's bounds make needless, as it did in the loop (without it grid_sample's nearest forward
    ran 35% slower), and the task's array expressions stay serial (it already runs on one of the
    kernel's threads). Where the body is small next to the kernel (the pooling kernels, the implicit
    GEMM's), it does not pay: the pooling kernels' compile took 29 s as loops and 38 s as tasks. A task
    is compiled into the kernel's cached library, so it needs no cache of its own. Pass it a ``prange``
    index as ``np.int64(i)``: the index is an int64 when Numba types the kernel but a uint64 in the
    threads' function, and each type compiles the task again."""
    serial_passes = dict(comprehension=False, reduction=False, inplace_binop=False, setitem=False, numpy=False,
                         stencil=False, fusion=False, prange=False)  # a new dict each time: Numba empties it
    return njit(parallel=serial_passes, fastmath=FASTMATH)(fn)


# A task has no loop of its own to run in parallel, and Numba says so for every one it compiles.
# (pytest resets the warning filters around collection and each test: pyproject.toml repeats this one.)
TASK_WARNING = r"(?s).*no transformation for parallel execution.*numconv.kernels.cpu"
warnings.filterwarnings("ignore", message=TASK_WARNING, category=NumbaPerformanceWarning)


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
