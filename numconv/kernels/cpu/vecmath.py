"""exp, expm1, log1p and erfc in float64 arithmetic LLVM can vectorize, for the activation kernels.

libm's ``exp`` is a call LLVM cannot vectorize (Numba would use Intel's SVML for it, which needs
an llvmlite built with it), so a loop over ``exp(x)`` runs one element at a time, about 3 ns each
here. These are the textbook constructions, branch-free (every branch is a select), so a loop
calling them vectorizes: exp within 1 ulp of libm, expm1 within 2, log1p within 3, erfc within 6
of the true value.

- ``exp``: x = k ln2 + r with k = round(x / ln2) and |r| <= ln2 / 2 (Cody and Waite: ln2 in two
  parts, the first with trailing zeros so that k * LN2_HI is exact), exp(r) by its Taylor series
  to r^13 (truncation below 1e-17), times 2^k built from its bits. Below 2^-1021 the bits are
  built for 2^(k + 128) and the product scaled by 2^-128, one rounding into the subnormals.
- ``expm1``: its Taylor series to x^18 where |x| < 0.7 (no cancellation), exp(x) - 1 elsewhere.
- ``log1p`` for 0 <= w <= 1 (the softplus's log(1 + exp(-|x|))): 2 atanh(s), s = w / (2 + w) <= 1/3,
  by its series to s^37.
- ``erfc`` (gelu's Phi(x) = erfc(-x / sqrt 2) / 2, accurate in relative terms in its left tail):
  for z = |x|, erfc(z) = t exp(g - z^2) with t = 2 / (2 + z), y = 2t - 1 and g = (1 - y) h(y),
  h a polynomial of degree 31 in y (``scripts/fit_erfc.py`` prints the coefficients written below;
  1 - y = z t is exact in relative terms, so g is too near z = 0, where it vanishes), and z^2 split
  as zh^2 + zl (z + zh) with zh z rounded to 12 fraction bits (zh^2 exact), so that exp(-z^2)
  keeps its precision at large z; erfc(-z) = 2 - erfc(z). Within 6 ulps of the true value where
  it is a normal number (5.5 at z = 11.28, where erfc is 1e-57: two exps, each within an ulp, and
  three products; 4.8 before the chains).

The series of exp, log1p and erfc are evaluated by Horner's rule split into independent chains:
the even and odd terms, in the square of the variable (erfc's h: four chains, in y^4). A chain is a sequence of dependent
multiply-adds, 4 cycles each here: with one chain a series held the vector units idle most of the
time, and split the chains run side by side (gelu's forward twice as fast as with one chain). Each sum of chains is
added last to the series' leading term (exp: 1 + r (e + r o)), so its roundings stay a fraction
of the result's last place. expm1 keeps one chain: split, it was 3 ulps off near x = -0.69
(one chain: under 2), and elu, its one user, ran no faster.

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
    s = r * r  # exp(r) = 1 + r (e + r o): e and o the even and odd terms of sum r^k / (k + 1)!, in r^2
    e, o = 1.0 / 6227020800.0, 1.0 / 479001600.0  # 1/13! and 1/12!, then Horner down to 1/1! and 1/2!
    e, o = e * s + 1.0 / 39916800.0, o * s + 1.0 / 3628800.0
    e, o = e * s + 1.0 / 362880.0, o * s + 1.0 / 40320.0
    e, o = e * s + 1.0 / 5040.0, o * s + 1.0 / 720.0
    e, o = e * s + 1.0 / 120.0, o * s + 1.0 / 24.0
    e, o = e * s + 1.0 / 6.0, o * s + 1.0 / 2.0
    e = e * s + 1.0 / 1.0
    p = 1.0 + r * (e + r * o)
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
    s4 = s2 * s2  # atanh(s) = s (e + s^2 o): e and o the even and odd terms of sum s^2j / (2j + 1), in s^4
    e, o = 1.0 / 37.0, 1.0 / 35.0  # then Horner down to 1/1 and 1/3
    e, o = e * s4 + 1.0 / 33.0, o * s4 + 1.0 / 31.0
    e, o = e * s4 + 1.0 / 29.0, o * s4 + 1.0 / 27.0
    e, o = e * s4 + 1.0 / 25.0, o * s4 + 1.0 / 23.0
    e, o = e * s4 + 1.0 / 21.0, o * s4 + 1.0 / 19.0
    e, o = e * s4 + 1.0 / 17.0, o * s4 + 1.0 / 15.0
    e, o = e * s4 + 1.0 / 13.0, o * s4 + 1.0 / 11.0
    e, o = e * s4 + 1.0 / 9.0, o * s4 + 1.0 / 7.0
    e, o = e * s4 + 1.0 / 5.0, o * s4 + 1.0 / 3.0
    e = e * s4 + 1.0 / 1.0
    return 2.0 * s * (e + s2 * o)


# h(y) of erfc below, as a polynomial in y (``scripts/fit_erfc.py`` prints it)
ERFC_H = (
    -0.6717940840566923, 0.0008491399209645269, 0.048192446762868546, 0.0012968365316843092,
    -0.008575852834675317, 0.00024908572275424634, 0.0020080192796622406, -0.00033779322791993756,
    -0.00048404007757925767, 0.00018963879520127796, 9.590363672829751e-05, -7.839983646207661e-05,
    -6.998050707339628e-06, 2.4749514956274257e-05, -5.441579438432418e-06, -5.311320858998927e-06,
    3.26074677972148e-06, 3.291870308762071e-07, -9.63103068283711e-07, 2.6145612256426347e-07,
    1.2348520229552343e-07, -9.866397741380468e-08, 2.122791692394652e-08, 2.9691710205568782e-09,
    -1.0489102329545677e-08, 9.210192736990005e-09, 1.4080672897057336e-11, -3.4420301938238733e-09,
    7.550477725874353e-10, 5.333260781439383e-10, -1.3594088321173743e-10, -2.6750227854055675e-11,
)


@njit(inline="always")
def erfc(x):
    """1 - erf(x), in relative precision for large x (where it is tiny) too."""
    z = abs(x)
    z = 27.5 if z > 27.5 else z  # erfc(27.5) is below the smallest subnormal: 0 from here on (NaN passes)
    t = 2.0 / (2.0 + z)
    w = z * t  # 1 - y, y = 2t - 1
    y = 1.0 - w
    u = y * y
    v = u * u  # h(y) = (h0 + y h1) + y^2 (h2 + y h3): chain j Horner's sum of ERFC_H[j + 4i] v^i
    h0, h1, h2, h3 = ERFC_H[28], ERFC_H[29], ERFC_H[30], ERFC_H[31]
    h0, h1, h2, h3 = h0 * v + ERFC_H[24], h1 * v + ERFC_H[25], h2 * v + ERFC_H[26], h3 * v + ERFC_H[27]
    h0, h1, h2, h3 = h0 * v + ERFC_H[20], h1 * v + ERFC_H[21], h2 * v + ERFC_H[22], h3 * v + ERFC_H[23]
    h0, h1, h2, h3 = h0 * v + ERFC_H[16], h1 * v + ERFC_H[17], h2 * v + ERFC_H[18], h3 * v + ERFC_H[19]
    h0, h1, h2, h3 = h0 * v + ERFC_H[12], h1 * v + ERFC_H[13], h2 * v + ERFC_H[14], h3 * v + ERFC_H[15]
    h0, h1, h2, h3 = h0 * v + ERFC_H[8], h1 * v + ERFC_H[9], h2 * v + ERFC_H[10], h3 * v + ERFC_H[11]
    h0, h1, h2, h3 = h0 * v + ERFC_H[4], h1 * v + ERFC_H[5], h2 * v + ERFC_H[6], h3 * v + ERFC_H[7]
    h0, h1, h2, h3 = h0 * v + ERFC_H[0], h1 * v + ERFC_H[1], h2 * v + ERFC_H[2], h3 * v + ERFC_H[3]
    g = w * ((h0 + y * h1) + u * (h2 + y * h3))
    zh = math.floor(z * 4096.0 + 0.5) * (1.0 / 4096.0)
    q = (t * exp(g - (z - zh) * (z + zh))) * exp(-zh * zh)  # the normal-range factor first
    return q if x >= 0.0 else 2.0 - q  # NaN: 2 - NaN

