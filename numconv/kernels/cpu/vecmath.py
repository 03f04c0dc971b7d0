"""exp, expm1, log1p and erfc in float64 arithmetic LLVM can vectorize, for the activation kernels.

libm's ``exp`` is a call LLVM cannot vectorize (Numba would use Intel's SVML for it, which needs
an llvmlite built with it), so a loop over ``exp(x)`` runs one element at a time, about 3 ns each
here. These are the textbook constructions, branch-free (every branch is a select), so a loop
calling them vectorizes: exp within 1 ulp of libm, expm1 within 2, log1p within 3, erfc within 4.

- ``exp``: x = k ln2 + r with k = round(x / ln2) and |r| <= ln2 / 2 (Cody and Waite: ln2 in two
  parts, the first with trailing zeros so that k * LN2_HI is exact), exp(r) by its Taylor series
  to r^13 (truncation below 1e-17), times 2^k built from its bits. Below 2^-1021 the bits are
  built for 2^(k + 128) and the product scaled by 2^-128, one rounding into the subnormals.
- ``expm1``: its Taylor series to x^18 where |x| < 0.7 (no cancellation), exp(x) - 1 elsewhere.
- ``log1p`` for 0 <= w <= 1 (the softplus's log(1 + exp(-|x|))): 2 atanh(s), s = w / (2 + w) <= 1/3,
  by its series to s^37.
- ``erfc`` (gelu's Phi(x) = erfc(-x / sqrt 2) / 2, accurate in relative terms in its left tail):
  for z = |x|, erfc(z) = t exp(g(t) - z^2) with t = 2 / (2 + z), g a Chebyshev series of 30 terms
  in 2t - 1 (``scripts/fit_erfc.py`` prints the coefficients written below), and z^2 split as zh^2 + zl (z + zh) with zh
  z rounded to 12 fraction bits (zh^2 exact), so that exp(-z^2) keeps its precision at large z;
  erfc(-z) = 2 - erfc(z). Within 4 ulps of the true value where it is a normal number.

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
    t = 1.0 / 6402373705728000.0  # 1/18!, then Horner down to x (1 + x/2 (1 + ...)), written out: a loop
    # over a table stays a loop, and an inner loop keeps LLVM from vectorizing the loop over elements
    t = t * x + 1.0 / 355687428096000.0
    t = t * x + 1.0 / 20922789888000.0
    t = t * x + 1.0 / 1307674368000.0
    t = t * x + 1.0 / 87178291200.0
    t = t * x + 1.0 / 6227020800.0
    t = t * x + 1.0 / 479001600.0
    t = t * x + 1.0 / 39916800.0
    t = t * x + 1.0 / 3628800.0
    t = t * x + 1.0 / 362880.0
    t = t * x + 1.0 / 40320.0
    t = t * x + 1.0 / 5040.0
    t = t * x + 1.0 / 720.0
    t = t * x + 1.0 / 120.0
    t = t * x + 1.0 / 24.0
    t = t * x + 1.0 / 6.0
    t = t * x + 1.0 / 2.0
    t = t * x + 1.0 / 1.0
    series = t * x
    far = exp(x) - 1.0
    return series if abs(x) < 0.7 else far


@njit(inline="always")
def log1p(w):
    """log(1 + w) for 0 <= w <= 1 (NaN for NaN): 2 atanh(s), s = w / (2 + w)."""
    s = w / (2.0 + w)
    s2 = s * s
    t = 1.0 / 37.0  # then 1/35, ..., 1/3, 1, written out (see expm1)
    t = t * s2 + 1.0 / 35.0
    t = t * s2 + 1.0 / 33.0
    t = t * s2 + 1.0 / 31.0
    t = t * s2 + 1.0 / 29.0
    t = t * s2 + 1.0 / 27.0
    t = t * s2 + 1.0 / 25.0
    t = t * s2 + 1.0 / 23.0
    t = t * s2 + 1.0 / 21.0
    t = t * s2 + 1.0 / 19.0
    t = t * s2 + 1.0 / 17.0
    t = t * s2 + 1.0 / 15.0
    t = t * s2 + 1.0 / 13.0
    t = t * s2 + 1.0 / 11.0
    t = t * s2 + 1.0 / 9.0
    t = t * s2 + 1.0 / 7.0
    t = t * s2 + 1.0 / 5.0
    t = t * s2 + 1.0 / 3.0
    t = t * s2 + 1.0 / 1.0
    return 2.0 * s * t


@njit(inline="always")
def erfc(x):
    """1 - erf(x), in relative precision for large x (where it is tiny) too."""
    z = abs(x)
    t = 2.0 / (2.0 + z)
    y = 2.0 * t - 1.0
    y2 = 2.0 * y
    b1 = 0.0  # Clenshaw's recurrence for sum c_k T_k(y), k = 29 down to 1, written out (see expm1)
    b2 = 0.0
    b1, b2 = 2.254335849020646e-18 + y2 * b1 - b2, b1
    b1, b2 = -9.666024631619398e-21 + y2 * b1 - b2, b1
    b1, b2 = -2.813870756413238e-17 + y2 * b1 - b2, b1
    b1, b2 = 1.2102032928879454e-16 + y2 * b1 - b2, b1
    b1, b2 = -9.457658425771247e-17 + y2 * b1 - b2, b1
    b1, b2 = -1.5230273230386746e-15 + y2 * b1 - b2, b1
    b1, b2 = 7.10609747757342e-15 + y2 * b1 - b2, b1
    b1, b2 = 3.8109048679522714e-16 + y2 * b1 - b2, b1
    b1, b2 = -1.1270822358703124e-13 + y2 * b1 - b2, b1
    b1, b2 = 3.130921399286456e-13 + y2 * b1 - b2, b1
    b1, b2 = 8.94487927308485e-13 + y2 * b1 - b2, b1
    b1, b2 = -6.886027526496772e-12 + y2 * b1 - b2, b1
    b1, b2 = 2.394038083038881e-12 + y2 * b1 - b2, b1
    b1, b2 = 9.646791102015528e-11 + y2 * b1 - b2, b1
    b1, b2 = -2.2736512229318357e-10 + y2 * b1 - b2, b1
    b1, b2 = -9.91364156493033e-10 + y2 * b1 - b2, b1
    b1, b2 = 5.059343495551469e-09 + y2 * b1 - b2, b1
    b1, b2 = 6.5290544390988515e-09 + y2 * b1 - b2, b1
    b1, b2 = -8.523809591492654e-08 + y2 * b1 - b2, b1
    b1, b2 = 1.5626441722066142e-08 + y2 * b1 - b2, b1
    b1, b2 = 1.3036558355805232e-06 + y2 * b1 - b2, b1
    b1, b2 = -1.6242900046470256e-06 + y2 * b1 - b2, b1
    b1, b2 = -2.0278578112534242e-05 + y2 * b1 - b2, b1
    b1, b2 = 4.252332480690777e-05 + y2 * b1 - b2, b1
    b1, b2 = 0.00036683949785276145 + y2 * b1 - b2, b1
    b1, b2 = -0.0009465953444820369 + y2 * b1 - b2, b1
    b1, b2 = -0.009561514786808632 + y2 * b1 - b2, b1
    b1, b2 = 0.019476473204185836 + y2 * b1 - b2, b1
    b1, b2 = 0.6419697923564902 + y2 * b1 - b2, b1
    g = y * b1 - b2 - 0.5 * 1.3026537197817094  # + c_0 / 2
    zc = 27.5 if z > 27.5 else z  # erfc(27.5) is below the smallest subnormal: 0 from here on
    zh = math.floor(zc * 4096.0 + 0.5) * (1.0 / 4096.0)
    q = (t * exp(g - (zc - zh) * (zc + zh))) * exp(-zh * zh)  # the normal-range factor first
    return q if x >= 0.0 else 2.0 - q  # NaN: 2 - NaN
