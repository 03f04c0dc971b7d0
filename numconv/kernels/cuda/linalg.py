"""Matrix multiply, CUDA: out (n, m) = a (n, k) @ b (k, m), a shared-memory tiled kernel, batched
with NumPy's broadcasting over the leading (batch) dimensions.

A block of TILE x TILE threads computes one TILE x TILE tile of ``out``: it walks the k dimension
in TILE-wide steps, each thread loading one element of a's and one of b's tile into shared memory
(zero past the edges, so any n, k, m works), then each thread adds its row-by-column product. The
tiles hold float64, so float32 products accumulate in float64 and are rounded once; the sum runs
in k order, the same every run. The grid's z dimension walks the batch (blocks stride by the grid
when the batch exceeds the launch limit): batch element z reads the matrices of a and b at
``strided_offset(z, batch_shape, s_a / s_b)`` (strides counted in whole matrices, 0 along a
broadcast dimension; tuples of ``numconv.ops.math.MAXDIM`` entries).
"""
from numba import cuda, float64

from . import jit, launch_grid, strided_offset

TILE = 16
MAX_GRID_Z = 65535


def matmul(out, a, b, n, k, m, batch_shape, s_a, s_b):
    """out[z, i, j] = sum_p a[za, i, p] * b[zb, p, j] over flat C-contiguous arrays, for every z of
    ``batch_shape`` (out is (batch, n, m), a 2-d product a batch of one), with za / zb the matrices of
    a / b that z broadcasts from."""
    nbatch = 1
    for d in batch_shape:
        nbatch *= d
    if n == 0 or m == 0 or nbatch == 0:
        return
    grid = ((m + TILE - 1) // TILE, (n + TILE - 1) // TILE, min(nbatch, MAX_GRID_Z))
    launch_grid(_matmul, grid, (TILE, TILE), out, a, b, n, k, m, nbatch, batch_shape, s_a, s_b)


@jit
def _matmul(out, a, b, n, k, m, nbatch, batch_shape, s_a, s_b):
    sa = cuda.shared.array((TILE, TILE), float64)
    sb = cuda.shared.array((TILE, TILE), float64)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    col = cuda.blockIdx.x * TILE + tx
    row = cuda.blockIdx.y * TILE + ty
    for z in range(cuda.blockIdx.z, nbatch, cuda.gridDim.z):  # the same trip count for a whole block
        a0 = strided_offset(z, batch_shape, s_a) * n * k
        b0 = strided_offset(z, batch_shape, s_b) * k * m
        acc = 0.0
        for p0 in range(0, k, TILE):
            if row < n and p0 + tx < k:
                sa[ty, tx] = a[a0 + row * k + p0 + tx]
            else:
                sa[ty, tx] = 0.0
            if col < m and p0 + ty < k:
                sb[ty, tx] = b[b0 + (p0 + ty) * m + col]
            else:
                sb[ty, tx] = 0.0
            cuda.syncthreads()
            for q in range(TILE):
                acc += sa[ty, q] * sb[q, tx]
            cuda.syncthreads()
        if row < n and col < m:
            out[z * n * m + row * m + col] = acc
