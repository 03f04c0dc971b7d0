"""Print the Chebyshev coefficients of ``numconv/kernels/cpu/vecmath.py``'s erfc.

erfc(z) = t exp(g(t) - z^2) for z >= 0, t = 2 / (2 + z) in (0, 1]: g is smooth on [0, 1] (it
tends to -log(2 sqrt(pi)) as z grows), so a Chebyshev series in y = 2t - 1 represents it to
float64's precision with 30 terms. The coefficients are those of the interpolant at the 30
Chebyshev points, computed with mpmath at 40 digits (mpmath comes with PyTorch's sympy; it is not
a numconv dependency). Run: python scripts/fit_erfc.py
"""
import mpmath as mp

N = 30
mp.mp.dps = 40


def g(t):
    if t == 0:
        return -mp.log(2 * mp.sqrt(mp.pi))
    z = 2 / t - 2
    return mp.log(mp.erfc(z) / t) + z * z


nodes = [mp.cos(mp.pi * (k + mp.mpf(1) / 2) / N) for k in range(N)]
values = [g((y + 1) / 2) for y in nodes]
coefficients = [2 * mp.fsum(v * mp.cos(mp.pi * j * (k + mp.mpf(1) / 2) / N) for k, v in enumerate(values)) / N
                for j in range(N)]
print("(" + ", ".join(f"{float(c)!r}" for c in coefficients) + ")")
