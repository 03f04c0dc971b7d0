"""The special functions, one element at a time, written once for both backends: the CPU kernel
(``kernels/cpu/special.py``) compiles these helpers in, the CUDA kernel (``kernels/cuda/special.py``)
calls them as device functions. Float64 arithmetic throughout (a float32 input is widened).

    lgamma(x)        log |Gamma(x)|; +inf at the poles 0, -1, -2, ...
    polygamma(n, x)  the n-th derivative of digamma(x) = Gamma'(x) / Gamma(x); n = 0 is digamma
    erfinv(y)        the x in (-inf, inf) with erf(x) = y, for y in [-1, 1]

digamma: x < 0 reflects, psi(x) = psi(1 - x) - pi / tan(pi x); then the recurrence psi(x) = psi(x + 1)
- 1/x moves x to 10 or more, where the asymptotic series ln x - 1/(2x) - sum_k B_2k / (2k x^2k) is
exact to a float64's rounding with seven terms. psi(+-0) = -+inf, NaN at the negative integers.

polygamma, n >= 1: (-1)^(n+1) n! zeta(n + 1, x), Hurwitz's zeta(s, x) = sum_k (x + k)^-s. The sum's
terms are added until x + k >= 10 + n, the rest is the Euler-Maclaurin tail (x^(1-s) / (s - 1) +
x^-s / 2 + sum_j B_2j / (2j)! s (s + 1) ... (s + 2j - 2) x^(-s-2j+1), nine terms). At a pole
(0, -1, ...) it is (-1)^(n+1) inf, as PyTorch's.

erfinv: Giles' polynomial approximation ("Approximating the erfinv function", GPU Computing Gems,
2011; about 4e-7 relative error up to |y| = 1 - 2^-24, its float32 range), then four Newton steps:
on erf(x) = y, or where |y| > 1/2 on log erfc(x) = log(1 - |y|) (1 - |y| is exact there, erfc keeps
its relative precision in the tail, and its log is nearly -x^2, so the steps converge from Giles'
start even at 1 - 2^-53, where that start is 10% off: 4e-10 after three steps there, a float64's
rounding after four; they stop once a step is below 1e-9 x, after two of them but in the far tail).
+-inf at +-1, NaN beyond.
"""
import math

from .scalar import compiled_helpers

LGAMMA, POLYGAMMA, ERFINV = 0, 1, 2
LGAMMA_OVERFLOW = 2.55e305  # lgamma(x) > the largest float64 beyond it (Python's math raises there)
TWO_OVER_SQRT_PI = 1.1283791670955126

# B_2j / (2j)!, j = 1..9: the Euler-Maclaurin tail's coefficients
_TAIL = (1.0 / 12.0, -1.0 / 720.0, 1.0 / 30240.0, -1.0 / 1209600.0, 1.0 / 47900160.0,
         -691.0 / 1307674368000.0, 1.0 / 74724249600.0, -3617.0 / 10670622842880000.0,
         43867.0 / 5109094217170944000.0)


WHOLE = 4503599627370496.0  # 2^52: every float64 this large is a whole number


def is_pole(x):
    """Whether x is 0 or a negative integer (or -inf): where Gamma has its poles. (math.floor gives an
    integer, which overflows past 2^63 in Numba and raises at inf in Python: only below 2^52 is it asked.)"""
    return x <= 0.0 and (x <= -WHOLE or x == math.floor(x))


def lgamma(x):
    if x != x:
        return x
    if is_pole(x) or x > LGAMMA_OVERFLOW:
        return math.inf
    return math.lgamma(x)


def digamma(x):
    if x != x:
        return x
    if x == 0.0:
        return math.copysign(math.inf, -x)
    if is_pole(x):
        return math.nan
    result = 0.0
    if x < 0.0:  # tan(pi x) from x's fraction: pi x itself loses x's low bits
        result = -math.pi / math.tan(math.pi * (x - math.floor(x)))
        x = 1.0 - x
    while x < 10.0:
        result -= 1.0 / x
        x += 1.0
    if x == math.inf:
        return x
    z = 1.0 / (x * x)
    series = z * (1.0 / 12 - z * (1.0 / 120 - z * (1.0 / 252 - z * (1.0 / 240 - z * (1.0 / 132 - z * (
        691.0 / 32760 - z / 12.0))))))
    return result + math.log(x) - 0.5 / x - series


def inverse_power(x, k):
    """x^-k for a whole k >= 1, by k multiplications (math.pow costs several times that here)."""
    p = x
    for _ in range(k - 1):
        p *= x
    return 1.0 / p


def hurwitz_zeta(k, x, far):
    """sum_{i >= 0} (x + i)^-k for a whole k >= 2: terms until x + i >= ``far``, then the Euler-Maclaurin
    tail."""
    s = float(k)
    total = 0.0
    while x < far:
        total += inverse_power(x, k)
        x += 1.0
    if x > 1e30:  # x^k would overflow (x^-k underflow) before the sum did
        power = math.pow(x, -s)
        total += math.pow(x, 1.0 - s) / (s - 1.0) + 0.5 * power
    else:
        power = inverse_power(x, k)  # x^-s, then x^(-s-2j+1) for the j-th correction
        total += x * power / (s - 1.0) + 0.5 * power
    rising = s  # s (s + 1) ... (s + 2j - 2)
    power /= x
    for j in range(9):
        total += _TAIL[j] * rising * power
        rising *= (s + 2.0 * j + 1.0) * (s + 2.0 * j + 2.0)
        power /= x * x
    return total


def polygamma(n, x):
    if n == 0:
        return digamma(x)
    if x != x:
        return x
    factorial = 1.0
    for k in range(2, n + 1):
        factorial *= k
    sign = 1.0 if n % 2 == 1 else -1.0
    if is_pole(x):
        return sign * math.inf
    if x == math.inf:
        return sign * 0.0
    return sign * factorial * hurwitz_zeta(n + 1, x, 10.0 + n)


def erfinv(y):
    if not -1.0 <= y <= 1.0:  # NaN too
        return math.nan
    a = abs(y)
    if a == 1.0:
        return math.copysign(math.inf, y)
    w = -math.log((1.0 - a) * (1.0 + a))
    if w < 5.0:
        w -= 2.5
        p = 2.81022636e-08
        p = 3.43273939e-07 + p * w
        p = -3.5233877e-06 + p * w
        p = -4.39150654e-06 + p * w
        p = 0.00021858087 + p * w
        p = -0.00125372503 + p * w
        p = -0.00417768164 + p * w
        p = 0.246640727 + p * w
        p = 1.50140941 + p * w
    else:
        w = math.sqrt(w) - 3.0
        p = -0.000200214257
        p = 0.000100950558 + p * w
        p = 0.00134934322 + p * w
        p = -0.00367342844 + p * w
        p = 0.00573950773 + p * w
        p = -0.0076224613 + p * w
        p = 0.00943887047 + p * w
        p = 1.00167406 + p * w
        p = 2.83297682 + p * w
    x = p * a
    c = 1.0 - a  # exact for a > 1/2
    for _ in range(4):
        slope = TWO_OVER_SQRT_PI * math.exp(-x * x)  # erf'(x)
        if a > 0.5:  # Newton on log erfc(x) = log c, nearly -x^2: quick where the start is far out in the tail
            e = math.erfc(x)
            step = -math.log(e / c) * e / slope
        else:  # Newton on erf(x) = a
            step = (math.erf(x) - a) / slope
        x -= step
        if abs(step) <= 1e-9 * x:  # converging quadratically: the next step would be below x's rounding
            break
    return math.copysign(x, y)


def special(code, n, x):
    """The function ``code`` (LGAMMA, POLYGAMMA with order n, ERFINV) at x."""
    if code == LGAMMA:
        return lgamma(x)
    if code == POLYGAMMA:
        return polygamma(n, x)
    return erfinv(x)


HELPERS = ("is_pole", "lgamma", "digamma", "inverse_power", "hurwitz_zeta", "polygamma", "erfinv", "special")


def compiled(wrap):
    """Every helper above compiled with ``wrap`` (a target's decorator for functions its kernels call),
    each calling the others' compiled forms: {name: compiled function}."""
    return compiled_helpers(globals(), HELPERS, wrap)
