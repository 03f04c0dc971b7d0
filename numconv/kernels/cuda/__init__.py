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
from .fastlaunch import flat, launch_grid  # noqa: F401 - the launch path every launcher uses

BLOCK = 128  # threads per block: small, so tiny outputs still spread over several blocks


def jit(fn):
    """The decorator every CUDA kernel uses: compiled at first launch, once per argument-type
    signature, and cached on disk as the CPU kernels are."""
    return cuda.jit(cache=True)(fn)


def launch(kernel, n, *args):
    """Run ``kernel(*args)`` on ``n`` threads (flat indices ``0 <= t < n``; the kernel checks ``t < n``)."""
    if n > 0:
        launch_grid(kernel, (n + BLOCK - 1) // BLOCK, BLOCK, *args)


tap_range = cuda.jit(device=True)(indexing.tap_range)
tap_source = cuda.jit(device=True)(indexing.tap_source)
in_window = cuda.jit(device=True)(indexing.in_window)
strided_offset = cuda.jit(device=True)(indexing.strided_offset)
unravel5 = cuda.jit(device=True)(indexing.unravel5)
