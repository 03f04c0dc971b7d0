"""Matrix multiply, CUDA: out (n, m) = a (n, k) @ b (k, m), a shared-memory tiled kernel.

A block of TILE x TILE threads computes one TILE x TILE tile of ``out``: it walks the k dimension
in TILE-wide steps, each thread loading one element of a's and one of b's tile into shared memory
(zero past the edges, so any n, k, m works), then each thread adds its row-by-column product. The
tiles hold float64, so float32 products accumulate in float64 and are rounded once; the sum runs
in k order, the same every run.
"""
from numba import cuda, float64

from . import jit

TILE = 16


def matmul(out, a, b):
    """out[i, j] = sum_p a[i, p] * b[p, j] over C-contiguous 2-d arrays."""
    n, m = out.shape
    if n == 0 or m == 0:
        return
    grid = ((m + TILE - 1) // TILE, (n + TILE - 1) // TILE)
    _matmul[grid, (TILE, TILE)](out, a, b)


@jit
def _matmul(out, a, b):
    sa = cuda.shared.array((TILE, TILE), float64)
    sb = cuda.shared.array((TILE, TILE), float64)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    col = cuda.blockIdx.x * TILE + tx
    row = cuda.blockIdx.y * TILE + ty
    n, k = a.shape
    m = b.shape[1]
    acc = 0.0
    for p0 in range(0, k, TILE):
        if row < n and p0 + tx < k:
            sa[ty, tx] = a[row, p0 + tx]
        else:
            sa[ty, tx] = 0.0
        if col < m and p0 + ty < k:
            sb[ty, tx] = b[p0 + ty, col]
        else:
            sb[ty, tx] = 0.0
        cuda.syncthreads()
        for q in range(TILE):
            acc += sa[ty, q] * sb[q, tx]
        cuda.syncthreads()
    if row < n and col < m:
        out[row, col] = acc
