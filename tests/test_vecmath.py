"""The CPU activation kernels' exp, expm1, log1p and erfc (``numconv/kernels/cpu/vecmath.py``,
written so that loops over them vectorize) against Python's math module (the C library's, correctly
rounded or within an ulp) or mpmath: over their whole ranges, at the edges of overflow and
underflow, on subnormal results, and on inf, -inf, NaN and signed zeros."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
from numba import njit

from numconv.kernels.cpu import vecmath

TINY = 5e-324  # the smallest subnormal


def _loop(fn):
    @njit
    def run(x):
        out = np.empty_like(x)
        for i in range(x.size):
            out[i] = fn(x[i])
        return out

    return run


def _ulps(got, want):
    """|got - want| in units of want's last place (subnormal results: in units of the smallest subnormal)."""
    spacing = np.maximum(np.spacing(np.abs(want)), TINY)
    return np.abs(got - want) / spacing


def _check(fn, reference, x, max_ulps):
    got = _loop(fn)(x)
    want = np.array([reference(v) for v in x])
    same_special = ~np.isfinite(want) | (want == 0)
    np.testing.assert_array_equal(got[same_special], want[same_special])  # inf, NaN, 0 exactly
    err = _ulps(got[~same_special], want[~same_special])
    worst = int(np.argmax(err)) if err.size else 0
    assert err.size == 0 or err.max() <= max_ulps, (
        f"{err.max():.2f} ulps at x = {x[~same_special][worst]!r}: got {got[~same_special][worst]!r}, "
        f"math gives {want[~same_special][worst]!r}")


def _exp(v):
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


SPECIAL = [0.0, -0.0, math.inf, -math.inf, math.nan, 1e-300, -1e-300, TINY, -TINY]


def test_exp_within_an_ulp_everywhere(rng):
    x = np.concatenate([rng.uniform(-800, 800, 20000), rng.uniform(-1, 1, 5000), SPECIAL,
                        [709.78, 709.7827128933, 709.7827128934, 709.79, 710.0, -700.0, -707.7, -708.4, -708.39,
                         -744.44, -745.13, -745.14, -745.2, -790.0, -1e300, 1e300, 0.5 * math.log(2), -0.5 * math.log(2)]])
    _check(vecmath.exp, _exp, x, 1.0)
    sub = x[(x < -708.4) & (x > -745.2)]  # subnormal results: one rounding, into the subnormal grid
    assert sub.size > 100


def test_expm1_within_two_ulps_and_exact_near_zero(rng):
    x = np.concatenate([rng.uniform(-50, 50, 10000), rng.uniform(-0.4, 0.4, 10000),
                        np.geomspace(1e-300, 0.69, 2000), -np.geomspace(1e-300, 0.69, 2000), SPECIAL,
                        [0.7, -0.7, 0.69999999999999996, 709.78, 710.0, -800.0]])
    _check(vecmath.expm1, lambda v: math.expm1(v) if v < 709.78 else _exp(v), x, 2.0)


def test_log1p_within_three_ulps_on_its_interval(rng):
    w = np.concatenate([rng.uniform(0, 1, 20000), np.geomspace(1e-300, 1, 3000), [0.0, 1.0, TINY, math.nan]])
    _check(vecmath.log1p, math.log1p, w, 3.0)


def test_erfc_within_six_ulps_of_the_true_value(rng):
    """Against mpmath at 40 digits (libm's erfc is itself 2 ulps off here and there): relative
    precision in the right tail down to the subnormals (5.5 ulps at 11.283467781393261, where two
    exps and three products meet), 2 - erfc(-x) on the left."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    x = np.concatenate([rng.uniform(-6, 27.3, 3000), rng.uniform(9, 14, 2000), rng.uniform(-2, 2, 1000), SPECIAL,
                        [11.283467781393261, 26.5, 27.2, 27.3, 27.5, 28.0, -30.0, 0.5, -0.5]])
    _check(vecmath.erfc, lambda v: float(mp.erfc(mp.mpf(v))) if math.isfinite(v) else math.erfc(v), x, 6.0)


def test_the_activation_loops_vectorize():
    """What the module is for: the CPU activation loop (silu's, compiled afresh with the kernels'
    options: the cached kernels keep no assembly) holds packed arithmetic and calls no exp: neither
    libm's, nor a division guarded for ZeroDivisionError, holds it to one element at a time."""
    from numconv.kernels import scalar
    from numconv.kernels.cpu import elementwise as E

    run = E._KERNELS[scalar.SILU][2]
    fresh = njit(**{k: v for k, v in run.targetoptions.items() if k not in ("cache", "nopython")})(run.py_func)
    x = np.linspace(-3, 3, 64).astype(np.float32)
    fresh(np.empty_like(x), x, 0.0, 0.0)
    asm = fresh.inspect_asm(fresh.signatures[0])
    assert re.search(r"vfmadd\w*pd\s+%[yz]mm", asm), "no packed (vector) fused multiply-add of doubles"
    assert "exp@" not in asm and "call\texp" not in asm, "libm's exp is called"


def test_a_kernels_cache_goes_stale_with_the_helpers_it_inlines():
    """Numba checks a cached kernel against its own file only; the activation kernels inline the
    formulas of kernels/scalar.py and this module's functions, so their cache stamp holds every
    kernel source's (a stale kernel kept running old code after an edit of vecmath.py alone)."""
    import numconv.kernels.cpu as cpu
    from numconv.kernels.cpu import conv_gemm, elementwise

    names = {name for name, _, _ in cpu._SOURCES}
    assert {"scalar.py", "indexing.py", "vecmath.py", "simd.py", "elementwise.py"} <= names
    for dispatcher in (*elementwise._KERNELS[0], conv_gemm.conv_forward_gemm):
        assert dispatcher._cache._cache_file._source_stamp[1] == cpu._SOURCES
