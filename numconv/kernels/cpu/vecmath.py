"""exp, expm1 and log1p in float64 arithmetic LLVM can vectorize, for the activation kernels.

libm's ``exp`` is a call LLVM cannot vectorize (Numba would use Intel's SVML for it, which needs
an llvmlite built with it), so a loop over ``exp(x)`` runs one element at a time, about 3 ns each
here. These are the textbook constructions, branch-free (every branch is a select), so a loop
calling them vectorizes: exp within 1 ulp of libm, expm1 within 2, log1p within 3.

- ``exp``: x = k ln2 + r with k = round(x / ln2) and |r| <= ln2 / 2 (Cody and Waite: ln2 in two
  parts, the first with trailing zeros so that k * LN2_HI is exact), exp(r) by its Taylor series
  to r^13 (truncation below 1e-17), times 2^k built from its bits. Below 2^-1021 the bits are
  built for 2^(k + 128) and the product scaled by 2^-128, one rounding into the subnormals.
- ``expm1``: its Taylor series to x^18 where |x| < 0.7 (no cancellation), exp(x) - 1 elsewhere.
- ``log1p`` for 0 <= w <= 1 (the softplus's log(1 + exp(-|x|))): 2 atanh(s), s = w / (2 + w) <= 1/3,
  by its series to s^37.

Numba inlines them into the caller, whose fast-math flags they then take: the caller must not
have ``reassoc``, under which LLVM rewrites (x - k LN2_HI) - k LN2_LO as x - k (LN2_HI + LN2_LO)
and loses the reduction's precision (50 ulps), or folds (p * 2) * 2^1023 into p * inf. The
activation kernels compile without it (``cpu/elementwise.py``).
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

LOG2E = 1.4426950408889634
LN2_HI = 0.6931471803691238  # 0x3fe62e42fee00000: ln 2's leading bits, exact times any |k| < 2^11
LN2_LO = 1.9082149292705877e-10  # ln 2 - LN2_HI
TWO_M128 = 2.938735877055719e-39  # 2^-128
_INV_FACTORIAL = tuple(1.0 / math.factorial(n) for n in range(19))
_INV_ODD = tuple(1.0 / (2 * n + 1) for n in range(19))


@intrinsic
def _float64_from_bits(typingctx, bits):
    """The float64 whose IEEE bits are the int64 ``bits`` (a bitcast)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@njit(inline="always")
def exp(x):
    """e^x for a float64 x: inf above 709.78, 0 below -745.13, subnormals between, NaN for NaN."""
    xc = 710.0 if x > 710.0 else x  # NaN passes both clamps
    xc = -790.0 if xc < -790.0 else xc
    kf = math.floor(xc * LOG2E + 0.5)
    kf = kf if kf == kf else 0.0  # NaN: any k will do (p is NaN), but a defined one
    r = (xc - kf * LN2_HI) - kf * LN2_LO
    p = 1.0 / 6227020800.0  # 1/13!, then Horner down to 1 + r
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    small = kf < -1021.0
    biased = np.int64(kf) + (1150 if small else 1022)  # the exponent field of 2^(k - 1), or 2^(k + 127)
    y = (p * 2.0) * _float64_from_bits(biased << 52)
    return y * TWO_M128 if small else y


@njit(inline="always")
def expm1(x):
    """e^x - 1 without cancellation near 0."""
    t = 1.0 / 6402373705728000.0  # 1/18!, Horner down to x (1 + x/2 (1 + ...))
    for n in range(17, 0, -1):  # 1/17!, ..., 1/2!, 1/1!: unrolled by LLVM (a constant trip count)
        t = t * x + _INV_FACTORIAL[n]
    series = t * x
    far = exp(x) - 1.0
    return series if abs(x) < 0.7 else far


@njit(inline="always")
def log1p(w):
    """log(1 + w) for 0 <= w <= 1 (NaN for NaN): 2 atanh(s), s = w / (2 + w)."""
    s = w / (2.0 + w)
    s2 = s * s
    t = _INV_ODD[18]  # 1/37, then 1/35, ..., 1/3, 1
    for n in range(17, -1, -1):
        t = t * s2 + _INV_ODD[n]
    return 2.0 * s * t
