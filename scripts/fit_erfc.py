"""Print the coefficients of ``numconv/kernels/cpu/vecmath.py``'s erfc (``ERFC_H``).

erfc(z) = t exp(g - z^2) for z >= 0, with t = 2 / (2 + z) in (0, 1] and y = 2t - 1 in (-1, 1]:
g is smooth in y, and 0 at y = 1 (z = 0), so it is written g = (1 - y) h(y) with 1 - y = z t,
and h is smooth too, between -0.68 and -0.62 on [-1, 1]. h is interpolated at the n Chebyshev
points of [-1, 1] (mpmath at 50 digits; n = 32 for float64's precision) and the interpolant written as a polynomial in y: its coefficients are small beside h
itself (their absolute values sum to 0.74), so evaluating it in float64 loses nothing, and
g = (z t) h is exact in relative terms, also near z = 0, where g is small. It is printed as the
tuple vecmath evaluates as four Horner chains in y^4 (coefficients k = j, j + 4, j + 8, ... for
chain j), with the interpolant's largest error on [-1, 1] above it. mpmath comes with PyTorch's
sympy; it is not a numconv dependency. Run: python scripts/fit_erfc.py
"""
import mpmath as mp

mp.mp.dps = 50


def h(y):
    """g(y) / (1 - y), with its limit -log(2 sqrt(pi)) / 2 at y = -1 (z = inf)."""
    if y == -1:
        return -mp.log(2 * mp.sqrt(mp.pi)) / 2
    t = (y + 1) / 2
    z = 2 / t - 2
    return (mp.log(mp.erfc(z) / t) + z * z) / (1 - y)


def fit(name, n):
    """Print ``name = (...)``: the polynomial of degree n - 1 interpolating h at n Chebyshev points."""
    nodes = [mp.cos(mp.pi * (k + mp.mpf(1) / 2) / n) for k in range(n)]
    values = [h(y) for y in nodes]
    chebyshev = [2 * mp.fsum(v * mp.cos(mp.pi * j * (k + mp.mpf(1) / 2) / n) for k, v in enumerate(values)) / n
                 for j in range(n)]
    chebyshev[0] /= 2
    powers = [[mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]]  # T_j(y) as coefficients of 1, y, y^2, ...
    for j in range(2, n):
        twice = [mp.mpf(0)] + [2 * c for c in powers[j - 1]]
        powers.append([a - b for a, b in zip(twice, powers[j - 2] + [mp.mpf(0)] * 2)])
    coefficients = [mp.fsum(chebyshev[j] * powers[j][k] for j in range(k, n) if k < len(powers[j])) for k in range(n)]
    grid = [mp.mpf(i) / 500 - 1 for i in range(1000)]  # -1 to 1 - 1/500 (h is 0/0 at y = 1)
    error = max(abs(mp.polyval(coefficients[::-1], y) - h(y)) for y in grid)
    print(f"# largest error of the interpolant on [-1, 1]: {float(error):.2g}; "
          f"sum of |coefficients|: {float(mp.fsum(abs(c) for c in coefficients)):.3f}")
    print(f"{name} = (")
    for k in range(0, n, 4):
        print("    " + ", ".join(f"{float(c)!r}" for c in coefficients[k:k + 4]) + ",")
    print(")")


fit("ERFC_H", 32)
