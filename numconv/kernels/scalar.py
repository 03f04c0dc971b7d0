"""Scalar helpers for elementwise kernels, written once in plain Python and wrapped per target
(``njit(inline="always")`` in ``cpu/``, ``cuda.jit(device=True)`` in ``cuda/``)."""
import math
import types

# The functions the formulas call. Plain Python takes these; each target binds its compiled ones
# with ``with_primitives``: the GPU the math module's and its own ``sigmoid``, the CPU its
# vectorizable exp, expm1, log1p and erfc (``cpu/vecmath.py``; log1p is only asked for 0 <= w <= 1).
exp, expm1, log1p, erfc = math.exp, math.expm1, math.log1p, math.erfc


def with_primitives(fn, **primitives):
    """``fn`` with some of its global names (exp, expm1, log1p, erfc, and the helpers the formulas
    call: sigmoid, clip6, tanh_softplus) bound to other functions: each target's compiled ones."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, **primitives}, fn.__name__, fn.__defaults__,
                              fn.__closure__)


def compiled_helpers(namespace, helpers, wrap, called=None, names=(), **primitives):
    """The functions ``helpers`` (names in ``namespace``, each calling only those before it) compiled
    with ``wrap``, a target's decorator for the functions its kernels call, each calling the others'
    compiled forms: {name: compiled function}. ``names`` are compiled with ``called`` instead (the
    CPU's: called, not inlined, to keep kernels' compile time down); ``primitives`` replace functions
    the helpers call."""
    done = dict(primitives)
    for name in helpers:
        done[name] = (called if name in names else wrap)(with_primitives(namespace[name], **done))
    return done


def lerp(start, end, weight, complement):
    """``start + weight * (end - start)`` evaluated as PyTorch's ``lerp`` (exact at both ends);
    ``complement`` is ``1 - weight`` in the same dtype."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * complement



def adam_moments(p, g, m, v, w1, c1, b2, w2, wd, decay, use_decay, decoupled):
    """One element's weight decay and Adam moments, as Adam, NAdam and RAdam take them (PyTorch's order):
    ``use_decay`` adds ``wd p`` to ``g``, or (``decoupled``) scales ``p`` by ``decay`` = 1 - lr wd; then
    m = lerp(m, g, w1) (``c1`` = 1 - w1) and v = b2 v + w2 g^2. Returns (p, g, m, v)."""
    if use_decay:
        if decoupled:
            p = p * decay
        else:
            g = g + wd * p
    return p, g, lerp(m, g, w1, c1), v * b2 + w2 * g * g


def maximum(a, b):
    """The larger of a and b, NaN if either is (``np.maximum``, ``torch.maximum``; Python's ``max``
    and Numba's keep the first argument when the other is NaN)."""
    if a != a or a > b:
        return a
    return b

def sign(x, one, zero):
    """-one, zero or one as x is negative, zero (or NaN, as ``torch.sign``) or positive; ``one`` and
    ``zero`` of the arrays' dtype, so a float32 kernel stays in float32."""
    if x > 0:
        return one
    if x < 0:
        return -one
    return zero

def rprop_element(p, g, prev, step, down, up, lo, hi, one, zero):
    """One element's Rprop update (PyTorch's): s = sign(g prev) scales the step size by ``up`` (s > 0),
    ``down`` (s < 0; g is then taken as 0) or 1, clamped to [lo, hi] (NaN stays NaN, as
    ``torch.clamp_``); p moves by -sign(g) * step. Returns (p, step, the g kept as the next prev)."""
    s = sign(g * prev, one, zero)
    step = step * (up if s > 0 else down if s < 0 else one)
    if step < lo:
        step = lo
    if step > hi:
        step = hi
    if s < 0:
        g = zero
    return p - sign(g, one, zero) * step, step, g


# ----------------------------------------------------------------------------- activations
# y = f(x) and the gradient g * f'(x), one code per activation, with up to two parameters p0, p1.
# Computed in float64 whatever the arrays' dtype, and rounded once on the store: so a float32
# result is the exact one rounded (no float32 overflow inside x^3 or exp), and the CPU, the GPU and
# the CUDA simulator (whose Python math would otherwise mix float32 and float64) agree. NaN in
# gives NaN out; the gradient at a kink is PyTorch's convention. exp is only taken where it cannot
# overflow, or guarded (the simulator's Python math raises there).

LEAKY_RELU, ELU, GELU, GELU_TANH, SILU, HARDTANH, SOFTPLUS, HARDSWISH, HARDSIGMOID, MISH, SELU, CELU = range(12)
ACTIVATIONS = {"leaky_relu": LEAKY_RELU, "elu": ELU, "gelu": GELU, "gelu_tanh": GELU_TANH, "silu": SILU,
               "hardtanh": HARDTANH, "softplus": SOFTPLUS, "hardswish": HARDSWISH, "hardsigmoid": HARDSIGMOID,
               "mish": MISH, "selu": SELU, "celu": CELU}

LOG_MAX = 709.782712893384  # log(largest float64): exp overflows above
SQRT_HALF = 0.7071067811865476  # 1/sqrt(2)
INV_SQRT_2PI = 0.3989422804014327  # 1/sqrt(2 pi)
SQRT_2_OVER_PI = 0.7978845608028654  # sqrt(2/pi)
GELU_CUBIC = 0.044715
SIXTH, THIRD = 1.0 / 6.0, 1.0 / 3.0  # multiplied by, not divided by: the CPU's 'arcp' would turn one into the other
SELU_ALPHA = 1.6732632423543772848170429916717  # Klambauer et al.'s self-normalizing constants
SELU_SCALE = 1.0507009873554804934193349852946


# One function per activation and one per gradient, each taking a float64 x (the callers convert):
# a CPU kernel inlines just its own pair, as a kernel that inlined the whole ``activation`` below
# took ten times as long to compile. ``activation`` and ``activation_grad`` switch on the code, for
# the GPU's one kernel. Every sigmoid is taken from e = exp(-|z|) <= 1: 1 / (1 + e) for z >= 0,
# e / (1 + e) below, so no exp overflows.

def leaky_relu(x, p0, p1):
    """x if x > 0 else p0 x (p0 the negative slope)."""
    return x if x > 0 else x * p0


def leaky_relu_grad(g, x, p0, p1):  # the negative side's slope at 0, as PyTorch
    return g if x > 0 else g * p0


def elu(x, p0, p1):
    """x if x > 0 else p0 (exp(x) - 1) (p0 = alpha)."""
    return p0 * expm1(x) if x <= 0 else x


def elu_grad(g, x, p0, p1):
    return g * (p0 * exp(x)) if x <= 0 else g


def gelu(x, p0, p1):
    """x Phi(x) = x (1 + erf(x / sqrt 2)) / 2, computed as x erfc(-x / sqrt 2) / 2 (no cancellation of
    1 + erf in the left tail)."""
    return 0.5 * x * erfc(-x * SQRT_HALF)


def gelu_grad(g, x, p0, p1):  # Phi(x) + x phi(x)
    cdf = 0.5 * erfc(-x * SQRT_HALF)
    return g * (cdf + x * (INV_SQRT_2PI * exp(-0.5 * x * x)))


def gelu_tanh(x, p0, p1):
    """x (1 + tanh(u)) / 2 with u = sqrt(2/pi) (x + 0.044715 x^3), computed as x sigmoid(2u)."""
    return x * sigmoid(2.0 * SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x))


def gelu_tanh_grad(g, x, p0, p1):  # (1 + t) / 2 + x (1 - t^2) u', t = tanh(u): with s = (1 + t) / 2, s + 2 x s (1 - s) u'
    s = sigmoid(2.0 * SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x))
    inner = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * x * x)
    return g * (s + 2.0 * x * s * (1.0 - s) * inner)


def silu(x, p0, p1):
    """x sigmoid(x)."""
    return x * sigmoid(x)


def silu_grad(g, x, p0, p1):  # s (1 + x (1 - s))
    s = sigmoid(x)
    return g * (s * (1.0 + x * (1.0 - s)))


def hardtanh(x, p0, p1):
    """x clipped to [p0, p1]."""
    if x < p0:
        return p0
    if x > p1:
        return p1
    return x  # NaN too


def hardtanh_grad(g, x, p0, p1):
    if x <= p0 or x >= p1:
        return 0.0  # at and beyond the bounds, even where g is NaN or infinite, as PyTorch's where()
    return g


def softplus(x, p0, p1):
    """log(1 + exp(p0 x)) / p0, computed as (max(p0 x, 0) + log1p(exp(-|p0 x|))) / p0, and x itself
    where p0 x > p1 (p0 = beta, p1 = threshold)."""
    bx = x * p0
    if bx > p1:
        return x
    return ((bx if bx > 0.0 else 0.0) + log1p(exp(-abs(bx)))) / p0


def softplus_grad(g, x, p0, p1):  # g exp(bx) / (exp(bx) + 1) = g sigmoid(bx); g where p0 x > p1
    bx = x * p0
    if bx > p1:
        return g
    return g * sigmoid(bx)


def hardswish(x, p0, p1):
    """x min(max(x + 3, 0), 6) / 6: -inf * 0 is NaN, as PyTorch's; x itself from 3 on (x * 6 / 6 can round)."""
    return x if x >= 3.0 else x * clip6(x + 3.0) * SIXTH


def hardswish_grad(g, x, p0, p1):  # (2x + 3) / 6 inside (-3, 3); PyTorch's: 0 at -3, g at 3 and for NaN
    if x <= -3.0:
        return 0.0
    if x < 3.0:
        return g * (x * THIRD + 0.5)
    return g


def hardsigmoid(x, p0, p1):
    """min(max(x + 3, 0), 6) / 6."""
    return clip6(x + 3.0) * SIXTH


def hardsigmoid_grad(g, x, p0, p1):
    if x > -3.0 and x < 3.0:
        return g * SIXTH
    return 0.0


def mish(x, p0, p1):
    """x tanh(softplus(x)), with tanh(log(1 + e^x)) = (e^2x + 2 e^x) / (e^2x + 2 e^x + 2) (``tanh_softplus``)."""
    t, _ = tanh_softplus(x)
    return x * t


def mish_grad(g, x, p0, p1):  # t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x)), 1 - t^2 = (1 - t)(1 + t)
    t, one_minus_t = tanh_softplus(x)
    return g * (t + x * sigmoid(x) * (one_minus_t * (1.0 + t)))


def selu(x, p0, p1):
    """scale x if x > 0 else scale alpha (exp(x) - 1) (Klambauer et al.'s constants)."""
    return SELU_SCALE * SELU_ALPHA * expm1(x) if x <= 0 else SELU_SCALE * x


def selu_grad(g, x, p0, p1):
    return g * (SELU_SCALE * SELU_ALPHA * exp(x)) if x <= 0 else g * SELU_SCALE


def celu(x, p0, p1):
    """x if x > 0 else p0 (exp(x / p0) - 1) (p0 = alpha)."""
    return p0 * expm1(x / p0) if x <= 0 else x


def celu_grad(g, x, p0, p1):
    return g * exp(x / p0) if x <= 0 else g


# (f, gradient) by code
FORMULAS = ((leaky_relu, leaky_relu_grad), (elu, elu_grad), (gelu, gelu_grad), (gelu_tanh, gelu_tanh_grad),
            (silu, silu_grad), (hardtanh, hardtanh_grad), (softplus, softplus_grad), (hardswish, hardswish_grad),
            (hardsigmoid, hardsigmoid_grad), (mish, mish_grad), (selu, selu_grad), (celu, celu_grad))


def clip6(r):
    """r clipped to [0, 6] (NaN stays NaN)."""
    if r < 0.0:
        return 0.0
    if r > 6.0:
        return 6.0
    return r


def tanh_softplus(x):
    """(tanh(softplus(x)), 1 - tanh(softplus(x))) from e = e^-|x| <= 1, without overflow or cancellation:
    for x >= 0, (1 + 2e) / d and 2e^2 / d with d = 1 + 2e + 2e^2; below, e (e + 2) / d and 2 / d with
    d = e (e + 2) + 2."""
    e = exp(-abs(x))
    if x >= 0:
        d = 1.0 + 2.0 * e + 2.0 * e * e
        return (1.0 + 2.0 * e) / d, 2.0 * e * e / d
    d = e * (e + 2.0) + 2.0
    return e * (e + 2.0) / d, 2.0 / d


def sigmoid(z):
    """1 / (1 + e^-z) from e = e^-|z| <= 1 (no overflow); NaN for NaN."""
    e = exp(-abs(z))
    return 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)


def activation(code, x, p0, p1):
    """f(x) for the activation ``code`` (``FORMULAS``), x taken in float64."""
    x = float(x)
    if code == LEAKY_RELU:
        return leaky_relu(x, p0, p1)
    if code == ELU:
        return elu(x, p0, p1)
    if code == GELU:
        return gelu(x, p0, p1)
    if code == GELU_TANH:
        return gelu_tanh(x, p0, p1)
    if code == SILU:
        return silu(x, p0, p1)
    if code == HARDTANH:
        return hardtanh(x, p0, p1)
    if code == HARDSWISH:
        return hardswish(x, p0, p1)
    if code == HARDSIGMOID:
        return hardsigmoid(x, p0, p1)
    if code == MISH:
        return mish(x, p0, p1)
    if code == SELU:
        return selu(x, p0, p1)
    if code == CELU:
        return celu(x, p0, p1)
    return softplus(x, p0, p1)


def activation_grad(code, g, x, p0, p1):
    """g * f'(x) for the activation ``code`` (``FORMULAS``), g and x taken in float64."""
    g, x = float(g), float(x)
    if code == LEAKY_RELU:
        return leaky_relu_grad(g, x, p0, p1)
    if code == ELU:
        return elu_grad(g, x, p0, p1)
    if code == GELU:
        return gelu_grad(g, x, p0, p1)
    if code == GELU_TANH:
        return gelu_tanh_grad(g, x, p0, p1)
    if code == SILU:
        return silu_grad(g, x, p0, p1)
    if code == HARDTANH:
        return hardtanh_grad(g, x, p0, p1)
    if code == HARDSWISH:
        return hardswish_grad(g, x, p0, p1)
    if code == HARDSIGMOID:
        return hardsigmoid_grad(g, x, p0, p1)
    if code == MISH:
        return mish_grad(g, x, p0, p1)
    if code == SELU:
        return selu_grad(g, x, p0, p1)
    if code == CELU:
        return celu_grad(g, x, p0, p1)
    return softplus_grad(g, x, p0, p1)
