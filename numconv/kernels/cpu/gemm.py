"""Matrix products, CPU: one register-blocked micro-kernel, ``mm_nt``, and the matmul built on it.

``mm_nt`` computes a block of ``C (+)= A . B^T`` with the rows of A and B contiguous: 4x4 dot
products at a time, so each loaded row is used four times and the loop over the shared index
vectorizes. The convolution fast paths (``conv_gemm.py``) and ``Linear`` both run on it.
"""
from numba import njit, prange

from . import FASTMATH, inline, kernel

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



@inline
def rows4_taps4(a0, a1, a2, a3, w0, w1, w2, w3, i, s0, s1, s2, s3, n):
    """a_r[:n] += sum_{k<4} w_r[i+k] * s_k[:n] for four accumulator rows: the AXPY form of a 4x4
    block of a GEMM, sixteen multiply-adds per four loads of ``s``, vectorized along the rows.
    ``conv_planes`` (s: shifted slices of padded planes) and ``conv_winograd`` (s: rows of
    transformed tiles) run on it."""
    u0, u1, u2, u3 = w0[i], w0[i + 1], w0[i + 2], w0[i + 3]
    v0, v1, v2, v3 = w1[i], w1[i + 1], w1[i + 2], w1[i + 3]
    e0, e1, e2, e3 = w2[i], w2[i + 1], w2[i + 2], w2[i + 3]
    f0, f1, f2, f3 = w3[i], w3[i + 1], w3[i + 2], w3[i + 3]
    for q in range(n):
        z0, z1, z2, z3 = s0[q], s1[q], s2[q], s3[q]
        a0[q] += u0 * z0 + u1 * z1 + u2 * z2 + u3 * z3
        a1[q] += v0 * z0 + v1 * z1 + v2 * z2 + v3 * z3
        a2[q] += e0 * z0 + e1 * z1 + e2 * z2 + e3 * z3
        a3[q] += f0 * z0 + f1 * z1 + f2 * z2 + f3 * z3


@inline
def rows4_taps8(a0, a1, a2, a3, w0, w1, w2, w3, i, s0, s1, s2, s3, s4, s5, s6, s7, n):
    """``rows4_taps4`` over eight taps ``i .. i+7``: thirty-two multiply-adds per pass over the four
    accumulator rows instead of sixteen, so a third less load and store traffic per multiply-add."""
    u0, u1, u2, u3, u4, u5, u6, u7 = w0[i], w0[i + 1], w0[i + 2], w0[i + 3], w0[i + 4], w0[i + 5], w0[i + 6], w0[i + 7]
    v0, v1, v2, v3, v4, v5, v6, v7 = w1[i], w1[i + 1], w1[i + 2], w1[i + 3], w1[i + 4], w1[i + 5], w1[i + 6], w1[i + 7]
    e0, e1, e2, e3, e4, e5, e6, e7 = w2[i], w2[i + 1], w2[i + 2], w2[i + 3], w2[i + 4], w2[i + 5], w2[i + 6], w2[i + 7]
    f0, f1, f2, f3, f4, f5, f6, f7 = w3[i], w3[i + 1], w3[i + 2], w3[i + 3], w3[i + 4], w3[i + 5], w3[i + 6], w3[i + 7]
    for q in range(n):
        z0, z1, z2, z3, z4, z5, z6, z7 = s0[q], s1[q], s2[q], s3[q], s4[q], s5[q], s6[q], s7[q]
        a0[q] += u0 * z0 + u1 * z1 + u2 * z2 + u3 * z3 + u4 * z4 + u5 * z5 + u6 * z6 + u7 * z7
        a1[q] += v0 * z0 + v1 * z1 + v2 * z2 + v3 * z3 + v4 * z4 + v5 * z5 + v6 * z6 + v7 * z7
        a2[q] += e0 * z0 + e1 * z1 + e2 * z2 + e3 * z3 + e4 * z4 + e5 * z5 + e6 * z6 + e7 * z7
        a3[q] += f0 * z0 + f1 * z1 + f2 * z2 + f3 * z3 + f4 * z4 + f5 * z5 + f6 * z6 + f7 * z7


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
