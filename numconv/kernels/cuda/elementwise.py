"""Elementwise kernels, CUDA: fill, strided copy (cast, transpose, broadcast), unary and binary
math with broadcasting, comparisons and ``where``; ReLU, the other activations (their formulas
shared with the CPU in ``numconv.kernels.scalar``), forward and backward.

One thread per output element over the output's flat row-major index. Inputs are flat (1-d)
views of C-contiguous arrays; ``shape`` is the output's shape and ``s_*`` each input's strides in
elements, tuples of ``numconv.ops.math.MAXDIM`` entries (0 where an input is broadcast), so one
compiled kernel serves every rank. Arithmetic runs in the output's dtype (``numconv.ops.math``
casts the inputs first), which gives NumPy's results bit for bit for + - * / // %. The scalar math
below guards the domain edges that Python's ``math`` (the CUDA simulator's) raises on, with the
values a GPU returns there.
"""
import math

from numba import cuda

from .. import scalar
from . import jit, launch, strided_offset

# the formulas and their helpers as device functions, with the math module's exp; one kernel switches on the code
_helpers = dict(sigmoid=cuda.jit(device=True)(scalar.sigmoid), clip6=cuda.jit(device=True)(scalar.clip6),
                tanh_softplus=cuda.jit(device=True)(scalar.tanh_softplus))
_formulas = {fn.__name__: cuda.jit(device=True)(scalar.with_primitives(fn, **_helpers))
             for pair in scalar.FORMULAS for fn in pair}
_activation = cuda.jit(device=True)(scalar.with_primitives(scalar.activation, **_formulas))
_activation_grad = cuda.jit(device=True)(scalar.with_primitives(scalar.activation_grad, **_formulas))

# binary arithmetic: out = a <op> b (the float ones on float arrays, the bitwise ones on integer and bool arrays)
(ADD, SUBTRACT, MULTIPLY, DIVIDE, POWER, MAXIMUM, MINIMUM, FLOOR_DIVIDE, REMAINDER, FMOD, ARCTAN2, HYPOT, COPYSIGN,
 BITWISE_AND, BITWISE_OR, BITWISE_XOR, LEFT_SHIFT, RIGHT_SHIFT) = range(18)
# comparisons and logic: bool out
EQ, NE, LT, LE, GT, GE, AND = range(7)
# unary: out = op(a) (INVERT on integer arrays only)
(NEGATIVE, EXP, LOG, SQRT, ABS, SIGN, TANH, SIGMOID, LOG1P, FLOOR, CEIL, RINT, TRUNC, EXPM1, LOG2, LOG10, SIN, COS,
 TAN, ARCSIN, ARCCOS, ARCTAN, SINH, COSH, ERF, ERFC, INVERT, ARCSINH, ARCCOSH, ARCTANH) = range(30)

_LOG_MAX = scalar.LOG_MAX


@cuda.jit(device=True)
def _exp(x):
    if x != x or x <= _LOG_MAX:
        return math.exp(x)
    return math.inf


@cuda.jit(device=True)
def _log(x):
    if x > 0:
        return math.log(x)
    if x == 0:
        return -math.inf
    return math.nan  # x < 0 or NaN


@cuda.jit(device=True)
def _log1p(x):
    if x > -1:
        return math.log1p(x)
    if x == -1:
        return -math.inf
    return math.nan  # x < -1 or NaN


@cuda.jit(device=True)
def _sqrt(x):
    if x >= 0:
        return math.sqrt(x)
    return math.nan


_TRUNC_ABOVE = 4503599627370496.0  # 2**52: a float64 this large (or a float32 half as) is a whole number
_SINH_DIRECT = 710.0  # |x| above it: math.sinh/cosh overflow (the simulator's raise); e^|x| / 2 is exact there


@cuda.jit(device=True)
def _trunc(x):
    """x rounded toward 0 as a float, the sign of a 0 kept (math.trunc gives an integer, which
    overflows); exact: fmod(x, 1) is x's fraction, exactly."""
    if not abs(x) < _TRUNC_ABOVE:  # whole already, inf or NaN
        return x
    return math.copysign(x - math.fmod(x, 1.0), x)


@cuda.jit(device=True)
def _rint(x):
    """x rounded to the nearest whole number, a half to the even one (np.rint, torch.round)."""
    t = _trunc(x)
    d = abs(x - t)  # NaN for inf and NaN: no branch below
    if d > 0.5 or (d == 0.5 and math.fmod(t, 2.0) != 0):
        return t + math.copysign(1.0, x)
    return t


@cuda.jit(device=True)
def _exp(x):
    if x != x or x <= _LOG_MAX:
        return math.exp(x)
    return math.inf


@cuda.jit(device=True)
def _expm1(x):
    if x != x or x <= _LOG_MAX:
        return math.expm1(x)
    return math.inf


@cuda.jit(device=True)
def _log(x):
    if x > 0:
        return math.log(x)
    if x == 0:
        return -math.inf
    return math.nan  # x < 0 or NaN


@cuda.jit(device=True)
def _log2(x):
    if x > 0:
        return math.log2(x)
    return _log(x)  # -inf at 0, else NaN


@cuda.jit(device=True)
def _log10(x):
    if x > 0:
        return math.log10(x)
    return _log(x)


@cuda.jit(device=True)
def _log1p(x):
    if x > -1:
        return math.log1p(x)
    if x == -1:
        return -math.inf
    return math.nan  # x < -1 or NaN


@cuda.jit(device=True)
def _sqrt(x):
    if x >= 0:
        return math.sqrt(x)
    return math.nan


@cuda.jit(device=True)
def _sinh(x):
    if not abs(x) > _SINH_DIRECT:
        return math.sinh(x)
    return math.copysign(_exp(abs(x) - math.log(2.0)), x)


@cuda.jit(device=True)
def _cosh(x):
    if not abs(x) > _SINH_DIRECT:
        return math.cosh(x)
    return _exp(abs(x) - math.log(2.0))


@cuda.jit(device=True)
def _arith(op, x, y):
    """Float arithmetic (integer arrays take ``_integer_arith``: here an integer would be typed as a
    float64 by the branches that return one, and lose its low bits above 2**53)."""
    if op == ADD:
        return x + y
    if op == SUBTRACT:
        return x - y
    if op == MULTIPLY:
        return x * y
    if op == DIVIDE:
        return x / y
    if op == POWER:
        return x ** y
    if op == MAXIMUM:  # NaN propagates, as np.maximum
        if x != x or x >= y:
            return x
        return y
    if op == FLOOR_DIVIDE:  # Python's // and %, floats too (x / y and NaN for a float 0, the NumPy error model)
        return x // y
    if op == REMAINDER:  # a 0 takes x's sign, as PyTorch's (x * 0: -0.0 for negative x)
        r = x % y
        if r == 0:
            return x * 0
        return r
    if op == FMOD:  # C's fmod: x's sign; NaN for y = 0 or infinite x, x for infinite y
        if y == 0 or math.isinf(x) or x != x or y != y:
            return math.nan
        if math.isinf(y):
            return x
        return math.fmod(x, y)
    if op == ARCTAN2:
        return math.atan2(x, y)
    if op == HYPOT:
        return math.hypot(x, y)
    if op == COPYSIGN:
        return math.copysign(x, y)
    # MINIMUM
    if x != x or x <= y:
        return x
    return y


@cuda.jit(device=True)
def _integer_power(x, y):
    """x ** y for y >= 0 by repeated squaring, wrapping as the integer type does (Numba's ``**``
    of two integers goes through float64)."""
    one = type(y)(1)  # 1s in the operands' types: a literal 1 would make an unsigned one's arithmetic
    r = type(x)(1)  # float64 (Numba promotes uint64 with int64 to float64)
    while y > 0:
        if y & one:
            r = r * x
        x = x * x
        y = y >> one
    return r


@cuda.jit(device=True)
def _integer_arith(op, x, y):
    """Integer and bool arithmetic, exact in the integer type (none of its branches returns a float).
    Shifts follow PyTorch: by a negative amount or one of 64 or more, 0 to the left and the sign to
    the right; narrower types are shifted as int64 and wrap on the store, as theirs do."""
    if op == ADD:
        return x + y
    if op == SUBTRACT:
        return x - y
    if op == MULTIPLY:
        return x * y
    if op == POWER:  # y >= 0 (``numconv.ops.math.power`` resolves negative integer exponents)
        return _integer_power(x, y)
    if op == MAXIMUM:
        return max(x, y)
    if op == MINIMUM:
        return min(x, y)
    if op == FLOOR_DIVIDE:  # y != 0: the caller checks
        return x // y
    if op == REMAINDER:
        return x % y
    if op == FMOD:  # truncated: x's sign
        r = x % y
        if r != 0 and (r < 0) != (x < 0):
            return r - y
        return r
    if op == BITWISE_AND:
        return x & y
    if op == BITWISE_OR:
        return x | y
    if op == BITWISE_XOR:
        return x ^ y
    if y < 0 or y >= 64:  # the shifts, past the width: LLVM leaves such shifts undefined
        if op == RIGHT_SHIFT and x < 0:
            return x >> 63
        return x - x
    if op == LEFT_SHIFT:
        return x << y
    return x >> y  # RIGHT_SHIFT


@cuda.jit(device=True)
def _compare(op, x, y):
    if op == EQ:
        return x == y
    if op == NE:
        return x != y
    if op == LT:
        return x < y
    if op == LE:
        return x <= y
    if op == GT:
        return x > y
    if op == GE:
        return x >= y
    return x != 0 and y != 0  # AND


@cuda.jit(device=True)
def _unary(op, x):
    """Float functions, each guarded where Python's math (the simulator's) raises, with the values a
    GPU gives there (IEEE's: NaN outside the domain, inf past overflow)."""
    if op == NEGATIVE:
        return -x
    if op == EXP:
        return _exp(x)
    if op == LOG:
        return _log(x)
    if op == SQRT:
        return _sqrt(x)
    if op == ABS:
        return abs(x)
    if op == SIGN:
        if x > 0:
            return 1.0
        if x < 0:
            return -1.0
        return x  # 0 (signed) and NaN
    if op == TANH:
        return math.tanh(x)
    if op == LOG1P:
        return _log1p(x)
    if op == FLOOR:
        t = _trunc(x)
        if t > x:
            return t - 1.0
        return t
    if op == CEIL:
        t = _trunc(x)
        if t < x:
            return t + 1.0
        return t
    if op == RINT:
        return _rint(x)
    if op == TRUNC:
        return _trunc(x)
    if op == EXPM1:
        return _expm1(x)
    if op == LOG2:
        return _log2(x)
    if op == LOG10:
        return _log10(x)
    if op == SIN or op == COS or op == TAN:
        if math.isinf(x):
            return math.nan
        if op == SIN:
            return math.sin(x)
        if op == COS:
            return math.cos(x)
        return math.tan(x)
    if op == ARCSIN or op == ARCCOS:
        if not abs(x) <= 1:
            return math.nan
        if op == ARCSIN:
            return math.asin(x)
        return math.acos(x)
    if op == ARCTAN:
        return math.atan(x)
    if op == ARCSINH:
        return math.asinh(x)
    if op == ARCCOSH:  # NaN below 1 (Python's math, the simulator's, raises there)
        if not x >= 1.0:
            return math.nan
        return math.acosh(x)
    if op == ARCTANH:  # +-inf at +-1, NaN beyond
        if x == 1.0 or x == -1.0:
            return math.copysign(math.inf, x)
        if not abs(x) < 1.0:
            return math.nan
        return math.atanh(x)
    if op == SINH:
        return _sinh(x)
    if op == COSH:
        return _cosh(x)
    if op == ERF:
        return math.erf(x)
    if op == ERFC:
        return math.erfc(x)
    # SIGMOID: 1 / (1 + exp(-a)) without overflow: exp(-|a|) <= 1 on both branches
    e = _exp(-abs(x))
    if x >= 0:
        return 1.0 / (1.0 + e)
    return e / (1.0 + e)


@cuda.jit(device=True)
def _integer_unary(op, x):
    """NEGATIVE, ABS and INVERT (~) of an integer, exact in its type; the float functions never see
    an integer array (``numconv.ops.math`` casts it first), nor SIGN (its (x > 0) - (x < 0) is an
    int64, which Numba unifies with a uint64 as a float64)."""
    if op == NEGATIVE:
        return -x
    if op == ABS:
        return abs(x)
    return ~x  # INVERT


def fill(out, value):
    """out[i] = value for every element of the flat ``out`` (``value`` already of out's dtype)."""
    launch(_fill, out.size, out, value)


@jit
def _fill(out, value):
    t = cuda.grid(1)
    if t < out.size:
        out[t] = value


def copy(out, a, shape, s_a):
    """out[i] = a[offset(i)]: a strided read (transpose, broadcast) cast to out's dtype on the store."""
    launch(_copy, out.size, out, a, shape, s_a)


@jit
def _copy(out, a, shape, s_a):
    t = cuda.grid(1)
    if t < out.size:
        out[t] = a[strided_offset(t, shape, s_a)]


def _integer(dtype):
    return dtype.kind in "biu"


def unary(out, a, op):
    """out[i] = op(a[i]) over flat arrays of one dtype (the float results of exp, log, ... stored in it)."""
    launch(_integer_unary_kernel if _integer(out.dtype) else _unary_kernel, out.size, out, a, op)


@jit
def _unary_kernel(out, a, op):
    t = cuda.grid(1)
    if t < out.size:
        out[t] = _unary(op, a[t])


@jit
def _integer_unary_kernel(out, a, op):
    t = cuda.grid(1)
    if t < out.size:
        out[t] = _integer_unary(op, a[t])


def erf(out, x, complement):
    """out = erf(x), or erfc(x) where ``complement`` (flat float arrays, the CPU twin's signature)."""
    unary(out, x, ERFC if complement else ERF)


def binary(out, a, b, op, shape, s_a, s_b):
    """out[i] = a[offset_a(i)] <op> b[offset_b(i)]: arithmetic with broadcasting, in out's dtype."""
    launch(_integer_binary if _integer(out.dtype) else _binary, out.size, out, a, b, op, shape, s_a, s_b)


@jit
def _binary(out, a, b, op, shape, s_a, s_b):
    t = cuda.grid(1)
    if t < out.size:
        out[t] = _arith(op, a[strided_offset(t, shape, s_a)], b[strided_offset(t, shape, s_b)])


@jit
def _integer_binary(out, a, b, op, shape, s_a, s_b):
    t = cuda.grid(1)
    if t < out.size:
        out[t] = _integer_arith(op, a[strided_offset(t, shape, s_a)], b[strided_offset(t, shape, s_b)])


def compare(out, a, b, op, shape, s_a, s_b):
    """out[i] = a[offset_a(i)] <op> b[offset_b(i)] as bool (eq, ne, lt, le, gt, ge, logical and)."""
    launch(_compare_kernel, out.size, out, a, b, op, shape, s_a, s_b)


@jit
def _compare_kernel(out, a, b, op, shape, s_a, s_b):
    t = cuda.grid(1)
    if t < out.size:
        out[t] = _compare(op, a[strided_offset(t, shape, s_a)], b[strided_offset(t, shape, s_b)])


def where(out, cond, a, b, shape, s_c, s_a, s_b):
    """out[i] = a[offset_a(i)] if cond[offset_c(i)] else b[offset_b(i)], with broadcasting."""
    launch(_where, out.size, out, cond, a, b, shape, s_c, s_a, s_b)


@jit
def _where(out, cond, a, b, shape, s_c, s_a, s_b):
    t = cuda.grid(1)
    if t < out.size:
        if cond[strided_offset(t, shape, s_c)]:
            out[t] = a[strided_offset(t, shape, s_a)]
        else:
            out[t] = b[strided_offset(t, shape, s_b)]


def relu_forward(out, x):
    """out = max(x, 0); NaN stays NaN (flat arrays, the CPU twin's signature)."""
    launch(_relu_forward, x.size, out, x)


@jit
def _relu_forward(out, x):
    i = cuda.grid(1)
    if i < x.size:
        v = x[i]
        out[i] = 0.0 if v <= 0.0 else v


def relu_backward(out, g, y):
    """out = 0 where y <= 0, else g (flat arrays)."""
    launch(_relu_backward, g.size, out, g, y)


@jit
def _relu_backward(out, g, y):
    i = cuda.grid(1)
    if i < g.size:
        out[i] = 0.0 if y[i] <= 0.0 else g[i]


def activation_forward(out, x, code, p0, p1):
    """out = f(x), f the activation ``code`` of ``numconv.kernels.scalar`` (flat arrays)."""
    launch(_activation_forward, x.size, out, x, code, p0, p1)


@jit
def _activation_forward(out, x, code, p0, p1):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = _activation(code, x[i], p0, p1)


def activation_backward(out, g, x, code, p0, p1):
    """out = g * f'(x), f the activation ``code`` (flat arrays; x the forward's input)."""
    launch(_activation_backward, g.size, out, g, x, code, p0, p1)


@jit
def _activation_backward(out, g, x, code, p0, p1):
    i = cuda.grid(1)
    if i < g.size:
        out[i] = _activation_grad(code, g[i], x[i], p0, p1)
