"""Matrix products, CPU: one register-blocked micro-kernel, ``mm_nt``, and the matmul built on it.

``mm_nt`` computes a block of ``C (+)= A . B^T`` with the rows of A and B contiguous: 4x4 dot
products at a time, so each loaded row is used four times and the loop over the shared index
vectorizes. The convolution fast paths (``conv_gemm.py``) and ``Linear`` both run on it.
"""
from numba import njit, prange

from . import FASTMATH, kernel

NB = 64  # columns of C (rows of B) per task
KB = 512  # shared-index block: a 4 x KB panel of A and an NB x KB panel of B stay in cache


@njit(cache=True, fastmath=FASTMATH)  # not inlined: compiled once per signature, not per call site
def mm_nt(C, cr, cc, A, ar, nr, ak, B, br, nc, bk, K, accumulate):
    """C[cr+i, cc+j] (+)= sum_k A[ar+i, ak+k] * B[br+j, bk+k] for i < nr, j < nc (rows contiguous)."""
    i = 0
    while i + 4 <= nr:
        a0 = A[ar + i, ak:ak + K]
        a1 = A[ar + i + 1, ak:ak + K]
        a2 = A[ar + i + 2, ak:ak + K]
        a3 = A[ar + i + 3, ak:ak + K]
        j = 0
        while j + 4 <= nc:
            b0 = B[br + j, bk:bk + K]
            b1 = B[br + j + 1, bk:bk + K]
            b2 = B[br + j + 2, bk:bk + K]
            b3 = B[br + j + 3, bk:bk + K]
            s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = C.dtype.type(0)
            s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = C.dtype.type(0)
            for k in range(K):
                v0 = b0[k]
                v1 = b1[k]
                v2 = b2[k]
                v3 = b3[k]
                u = a0[k]
                s00 += u * v0
                s01 += u * v1
                s02 += u * v2
                s03 += u * v3
                u = a1[k]
                s10 += u * v0
                s11 += u * v1
                s12 += u * v2
                s13 += u * v3
                u = a2[k]
                s20 += u * v0
                s21 += u * v1
                s22 += u * v2
                s23 += u * v3
                u = a3[k]
                s30 += u * v0
                s31 += u * v1
                s32 += u * v2
                s33 += u * v3
            r, c = cr + i, cc + j
            if accumulate:
                s00 += C[r, c]; s01 += C[r, c + 1]; s02 += C[r, c + 2]; s03 += C[r, c + 3]  # noqa: E702
                s10 += C[r + 1, c]; s11 += C[r + 1, c + 1]; s12 += C[r + 1, c + 2]; s13 += C[r + 1, c + 3]  # noqa: E702
                s20 += C[r + 2, c]; s21 += C[r + 2, c + 1]; s22 += C[r + 2, c + 2]; s23 += C[r + 2, c + 3]  # noqa: E702
                s30 += C[r + 3, c]; s31 += C[r + 3, c + 1]; s32 += C[r + 3, c + 2]; s33 += C[r + 3, c + 3]  # noqa: E702
            C[r, c], C[r, c + 1], C[r, c + 2], C[r, c + 3] = s00, s01, s02, s03
            C[r + 1, c], C[r + 1, c + 1], C[r + 1, c + 2], C[r + 1, c + 3] = s10, s11, s12, s13
            C[r + 2, c], C[r + 2, c + 1], C[r + 2, c + 2], C[r + 2, c + 3] = s20, s21, s22, s23
            C[r + 3, c], C[r + 3, c + 1], C[r + 3, c + 2], C[r + 3, c + 3] = s30, s31, s32, s33
            j += 4
        i += 4
    # edges: rows past the last block of 4 (all columns), columns past it (blocked rows)
    for i2 in range(nr):
        j0 = 0 if i2 >= i else (nc // 4) * 4
        arow = A[ar + i2, ak:ak + K]
        for j2 in range(j0, nc):
            brow = B[br + j2, bk:bk + K]
            s = C.dtype.type(0)
            for k in range(K):
                s += arow[k] * brow[k]
            if accumulate:
                s += C[cr + i2, cc + j2]
            C[cr + i2, cc + j2] = s



@kernel
def matmul_nt(C, A, B):
    """C[i, j] = sum_k A[i, k] * B[j, k]: C (M, N), A (M, K), B (N, K), all C-contiguous."""
    M, N = C.shape
    K = A.shape[1]
    ncb = (N + NB - 1) // NB
    for t in prange(ncb):
        c0 = t * NB
        nc = min(NB, N - c0)
        if K == 0:
            for i in range(M):
                for j in range(c0, c0 + nc):
                    C[i, j] = 0.0
        for k0 in range(0, K, KB):
            mm_nt(C, 0, c0, A, 0, M, k0, B, c0, nc, k0, min(KB, K - k0), k0 > 0)
