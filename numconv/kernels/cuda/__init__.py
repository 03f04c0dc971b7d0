"""CUDA kernels: ``@cuda.jit`` over Numba device arrays, launched by Python functions with the
same names and signatures as the CPU kernels in ``numconv.kernels.cpu``.

One thread per output element on a 1-d grid over the output's flat (row-major) index. Backward
passes are gathers: the thread that owns an input-gradient element loops over the outputs that
read it, so no two threads write one element, there are no atomics, and every result is the
same bit for bit from run to run. Accumulators follow the CPU kernels: the output's dtype for
sums over channels and taps, float64 for sums over the batch and positions (weight, bias and
average-pool gradients). No ``fastmath``: it would flush denormals and approximate division.
"""
from numba import cuda

from .. import indexing
from .fastlaunch import device_empty, flat, launch_grid, view  # noqa: F401 - the launch path every launcher uses

BLOCK = 128  # threads per block: small, so tiny outputs still spread over several blocks


def jit(fn):
    """The decorator every CUDA kernel uses: compiled at first launch, once per argument-type
    signature, and cached on disk as the CPU kernels are."""
    return cuda.jit(cache=True)(fn)


def launch(kernel, n, *args):
    """Run ``kernel(*args)`` on ``n`` threads (flat indices ``0 <= t < n``; the kernel checks ``t < n``)."""
    if n > 0:
        launch_grid(kernel, (n + BLOCK - 1) // BLOCK, BLOCK, *args)


GRID_THREADS = 256  # threads per block of the kernels on a 3-d grid (``grid3``)
MAX_GRID_Z = 65535  # the largest grid z; those kernels stride over the rest


def _pow2_at_least(n):
    p = 1
    while p < n:
        p *= 2
    return p


def grid3(cols, rows, planes, max_z=None):
    """(grid, block) for a kernel over (planes, rows, cols) outputs: x along the columns, y along the
    rows, z striding over the planes. A block is up to 32 columns by enough rows for GRID_THREADS
    threads (powers of two), sized down to small planes. A thread's column and row come from its
    block and thread indices (``column_row``), with no division. At most ``max_z`` (default
    MAX_GRID_Z) blocks along z."""
    max_z = MAX_GRID_Z if max_z is None else max_z
    bx = min(32, _pow2_at_least(cols))
    by = min(_pow2_at_least(rows), GRID_THREADS // bx)
    return ((cols + bx - 1) // bx, (rows + by - 1) // by, max(1, min(planes, max_z))), (bx, by, 1)


@cuda.jit(device=True)
def column_row():
    """This thread's (column, row) on a ``grid3`` grid."""
    return (cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x,
            cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y)


@cuda.jit(device=True)
def tree_sum(s, t):
    """Add a block's ``s[0:blockDim.x]`` (a shared array each thread ``t`` has written its slot of)
    into ``s[0]`` by a tree, always in the same order; blockDim.x a power of two. Every thread
    returns after the last step, so all may read ``s[0]``."""
    cuda.syncthreads()
    half = cuda.blockDim.x // 2
    while half > 0:
        if t < half:
            s[t] += s[t + half]
        cuda.syncthreads()
        half //= 2


tap_range = cuda.jit(device=True)(indexing.tap_range)
tap_source = cuda.jit(device=True)(indexing.tap_source)
in_window = cuda.jit(device=True)(indexing.in_window)
strided_offset = cuda.jit(device=True)(indexing.strided_offset)
unravel5 = cuda.jit(device=True)(indexing.unravel5)
window_argmax = cuda.jit(device=True)(indexing.window_argmax)
