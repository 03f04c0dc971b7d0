"""``numconv.Tensor``: an array with a gradient and the graph that produced it.

Every differentiable Tensor operation is a ``Function`` below, forward and backward side by
side over raw arrays through ``numconv.ops.math``. Ops never undo broadcasting: the engine
sums each gradient back to its input's shape. Dtypes: float32 by default (Python floats and
lists), float64 stays float64, and a Python scalar never widens a float32 tensor.

Factories (``numconv.tensor``, ``zeros``, ``randn``, ...), ``cat`` and ``stack`` live here too.
"""
from __future__ import annotations

import math
import numbers
from collections import namedtuple

import numpy as np

from . import autograd, dispatch, shapes
from . import random as _random
from .autograd import Function
from .ops import math as M
from .ops import scan as S

float32, float64, int64, int32, bool_ = np.float32, np.float64, np.int64, np.int32, np.bool_
_DEFAULT_DTYPE = np.float32

class _Size(int):
    """``Tensor.size``: an int (the element count) that, called, answers like ``torch.Tensor.size``."""

    def __new__(cls, numel, shape):
        obj = super().__new__(cls, numel)
        obj._shape = shape
        return obj

    def __call__(self, dim=None):
        if dim is None:
            return self._shape
        axis = _axis(dim, len(self._shape))
        if axis is None:
            raise IndexError(f"dim {dim}: a 0-d tensor has no dimensions")
        return self._shape[axis]


ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def _dtype(dtype):
    return None if dtype is None else np.dtype(dtype)


def _axes(dim, ndim, name="dim"):
    """``dim`` (None, int or tuple of ints, negatives allowed) as a sorted tuple of axes, or None for all:
    an empty tuple too, as PyTorch's reductions take it."""
    if dim is None:
        return None
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    if not dims:
        return None
    n = max(ndim, 1)
    out = []
    for d in dims:
        if not isinstance(d, numbers.Integral) or isinstance(d, bool):
            raise TypeError(f"{name} must be an int or a tuple of ints, got {dim!r}")
        if not -n <= d < n:
            raise IndexError(f"{name} {d} is out of range for a tensor with {ndim} dimensions "
                             f"(expected a value in [{-n}, {n - 1}])")
        out.append(int(d) % n)
    if len(set(out)) != len(out):
        raise ValueError(f"{name} {dim!r} names a dimension twice")
    if ndim == 0:
        return None
    return tuple(sorted(out))


def _axis(dim, ndim, name="dim"):
    """One ``dim`` (an int, negatives allowed) as an axis in [0, ndim); None for a 0-d tensor (which
    takes dim 0 or -1, as in PyTorch)."""
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"{name} must be an int, got {dim!r}")
    axes = _axes(dim, ndim, name)
    return None if axes is None else axes[0]


def _shape_args(args, name="shape", keywords=None, method=None):
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` alike -> (2, 3); with ``keywords`` (the method's
    ``**kwargs``), also ``f(name=(2, 3))``, as PyTorch's methods take them."""
    if keywords:
        if set(keywords) != {name} or args:
            raise TypeError(f"{method or name}() takes the {name} as positional ints, a tuple, or {name}=; "
                            f"got {len(args)} positional and keywords {sorted(keywords)}")
        args = (keywords[name],)
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    if not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args):
        raise TypeError(f"{name} must be ints, got {args!r}")
    return tuple(int(a) for a in args)


def _drop_shape(shape, axes):
    """``shape`` without the reduced ``axes`` (None: all)."""
    return () if axes is None else tuple(n for i, n in enumerate(shape) if i not in axes)


def _keep_shape(shape, axes):
    """``shape`` with the reduced ``axes`` (None: all) kept as size 1."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


# ============================================================================= Functions
# ----------------------------------------------------------------------------- arithmetic


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return M.add(a, b)

    @staticmethod
    def backward(ctx, g):
        return g, g

    @staticmethod
    def graph_backward(ctx, g):
        return g, g


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return M.subtract(a, b)

    @staticmethod
    def backward(ctx, g):
        return g, (M.negative(g) if ctx.needs_input_grad[1] else None)

    @staticmethod
    def graph_backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        na, nb = ctx.needs_input_grad
        ctx.save_for_backward(a if nb else None, b if na else None)  # each gradient needs the other side
        return M.multiply(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        return (M.multiply(g, b) if na else None), (M.multiply(g, a) if nb else None)

    @staticmethod
    def graph_backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        return (g * ctx.input(1, b) if na else None), (g * ctx.input(0, a) if nb else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        y = M.divide(a, b)
        ctx.save_for_backward(b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        b, y = ctx.saved
        na, nb = ctx.needs_input_grad
        ga = M.divide(g, b) if na else None
        gb = M.negative(M.divide(M.multiply(g, y), b)) if nb else None  # d(a/b)/db = -y/b
        return ga, gb

    @staticmethod
    def graph_backward(ctx, g):
        b, y = ctx.saved
        na, nb = ctx.needs_input_grad
        bt = ctx.input(1, b)
        return (g / bt if na else None), (-(g * ctx.output(0, y)) / bt if nb else None)


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return M.negative(a)

    @staticmethod
    def backward(ctx, g):
        return M.negative(g)

    @staticmethod
    def graph_backward(ctx, g):
        return -g


class Pow(Function):
    """a ** b; either side may be a Python scalar."""

    @staticmethod
    def forward(ctx, a, b):
        y = M.power(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        """PyTorch's rules where the formulas meet 0 * inf: the gradient is 0 wherever the exponent
        is 0 (for a), and where the base is 0 and the exponent >= 0 (for b)."""
        a, b, y = ctx.saved
        na, nb = ctx.needs_input_grad
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if na:
                if isinstance(b, numbers.Number) and b == 0:
                    ga = M.zeros_like(g)
                else:
                    ga = M.multiply(M.multiply(g, b), M.power(a, b - 1))  # b * a^(b-1)
                    if not isinstance(b, numbers.Number):
                        ga = M.where(M.compare("eq", b, 0), 0.0, ga)
            if nb:
                log_a = Pow._log_of_number(a) if isinstance(a, numbers.Number) else M.log(a)
                gb = M.multiply(M.multiply(g, y), log_a)  # a^b * log(a)
                zero_base = Pow._zero_base(a, b)
                if zero_base is not None:
                    gb = M.where(zero_base, 0.0, gb)
        return ga, gb

    @staticmethod
    def _log_of_number(a):
        return math.log(a) if a > 0 else -math.inf if a == 0 else math.nan

    @staticmethod
    def _zero_base(a, b):
        """Where b's gradient is 0 by PyTorch's rule: the base is 0 and the exponent >= 0 (None: nowhere)."""
        if isinstance(a, numbers.Number):
            return M.compare("ge", b, 0) if a == 0 else None
        zero_base = M.compare("eq", a, 0)
        if not isinstance(b, numbers.Number):
            return M.logical_and(zero_base, M.compare("ge", b, 0))
        return None if b < 0 else zero_base

    @staticmethod
    def graph_backward(ctx, g):
        """The array backward's rules, over Tensors; its masks depend on values only, not differentiably."""
        a, b, y = ctx.saved
        na, nb = ctx.needs_input_grad
        at, bt = ctx.input(0, a), ctx.input(1, b)
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if na:
                if isinstance(b, numbers.Number) and b == 0:
                    ga = Tensor._of(M.zeros_like(g.data))
                else:
                    ga = g * bt * at ** (bt - 1)
                    if not isinstance(b, numbers.Number):
                        ga = where(Tensor._of(M.compare("eq", b, 0)), 0.0, ga)
            if nb:
                log_a = Pow._log_of_number(a) if isinstance(a, numbers.Number) else at.log()
                gb = g * ctx.output(0, y) * log_a
                zero_base = Pow._zero_base(a, b)
                if zero_base is not None:
                    gb = where(Tensor._of(zero_base), 0.0, gb)
        return ga, gb


class MatMul(Function):
    """a @ b with NumPy's rules (1-d operands, batch broadcasting); the engine sums batch dimensions."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return M.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        a2 = M.reshape(a, (1,) + a.shape) if a.ndim == 1 else a  # (..., n, k)
        b2 = M.reshape(b, b.shape + (1,)) if b.ndim == 1 else b  # (..., k, m)
        g2 = g
        if a.ndim == 1:
            g2 = M.reshape(g2, g2.shape[:-1] + (1,) + g2.shape[-1:]) if b.ndim > 1 else M.reshape(g2, g2.shape + (1,))
        if b.ndim == 1:
            g2 = M.reshape(g2, g2.shape + (1,))  # (..., n, m=1)
        ga = gb = None
        if na:
            ga = M.matmul(g2, M.swapaxes(b2, -1, -2))  # (..., n, k)
            if a.ndim == 1:
                ga = M.reshape(ga, ga.shape[:-2] + ga.shape[-1:])
        if nb:
            gb = M.matmul(M.swapaxes(a2, -1, -2), g2)  # (..., k, m)
            if b.ndim == 1:
                gb = M.reshape(gb, gb.shape[:-1])
        return ga, gb

    @staticmethod
    def graph_backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        at, bt = ctx.input(0, a), ctx.input(1, b)
        a2 = at.reshape((1,) + at.shape) if at.ndim == 1 else at
        b2 = bt.reshape(bt.shape + (1,)) if bt.ndim == 1 else bt
        g2 = g
        if at.ndim == 1:
            g2 = g2.reshape(g2.shape[:-1] + (1,) + g2.shape[-1:]) if bt.ndim > 1 else g2.reshape(g2.shape + (1,))
        if bt.ndim == 1:
            g2 = g2.reshape(g2.shape + (1,))
        ga = gb = None
        if na:
            ga = g2 @ b2.swapaxes(-1, -2)
            if at.ndim == 1:
                ga = ga.reshape(ga.shape[:-2] + ga.shape[-1:])
        if nb:
            gb = a2.swapaxes(-1, -2) @ g2
            if bt.ndim == 1:
                gb = gb.reshape(gb.shape[:-1])
        return ga, gb


# ----------------------------------------------------------------------------- elementwise


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        y = M.exp(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return M.multiply(g, ctx.saved[0])

    @staticmethod
    def graph_backward(ctx, g):
        return g * ctx.output(0, ctx.saved[0])


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return M.log(a)

    @staticmethod
    def backward(ctx, g):
        return M.divide(g, ctx.saved[0])

    @staticmethod
    def graph_backward(ctx, g):
        return g / ctx.input(0, ctx.saved[0])


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        y = M.sqrt(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return M.divide(g, M.multiply(ctx.saved[0], 2))

    @staticmethod
    def graph_backward(ctx, g):
        return g / (ctx.output(0, ctx.saved[0]) * 2)


class StdFromVar(Function):
    """sqrt of a variance, with PyTorch's gradient for ``std``: 0 where the result is 0 (a constant
    slice), instead of the inf that 0 * inf makes NaN on the way back to the input."""

    @staticmethod
    def forward(ctx, v):
        y = M.sqrt(v)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            return M.where(M.compare("eq", y, 0), 0.0, M.divide(g, M.multiply(y, 2)))

    @staticmethod
    def graph_backward(ctx, g):
        y = ctx.saved[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            return where(Tensor._of(M.compare("eq", y, 0)), 0.0, g / (ctx.output(0, y) * 2))


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return M.abs(a)

    @staticmethod
    def backward(ctx, g):
        sign = M.sign(ctx.saved[0])  # 0 at 0, and at NaN, as PyTorch's sgn
        return M.multiply(g, M.where(M.compare("ne", sign, sign), 0.0, sign))

    @staticmethod
    def graph_backward(ctx, g):
        sign = M.sign(ctx.saved[0])  # flat almost everywhere: a constant of the second pass
        return g * Tensor._of(M.where(M.compare("ne", sign, sign), 0.0, sign))


class Clamp(Function):
    """min(max(a, lo), hi); the gradient passes where lo <= a <= hi (PyTorch's rule at the bounds)."""

    @staticmethod
    def forward(ctx, a, lo, hi):
        ctx.save_for_backward(a, lo, hi)
        return M.clip(a, lo, hi)

    @staticmethod
    def _kept(ctx):
        """Where lo <= a <= hi (None: everywhere, no bound given)."""
        a, lo, hi = ctx.saved
        keep = None
        if lo is not None:
            keep = M.compare("ge", a, lo)
        if hi is not None:
            le = M.compare("le", a, hi)
            keep = le if keep is None else M.logical_and(keep, le)
        return keep

    @staticmethod
    def backward(ctx, g):
        keep = Clamp._kept(ctx)
        # a select, not a product: 0 outside even where g is inf or NaN (PyTorch's where(mask, g, 0))
        return (g if keep is None else M.where(keep, g, M.zeros((), g.dtype, like=g))), None, None

    @staticmethod
    def graph_backward(ctx, g):
        keep = Clamp._kept(ctx)
        return (g if keep is None else where(Tensor._of(keep), g, 0.0)), None, None


class Relu(Function):
    @staticmethod
    def forward(ctx, a):
        y = M.relu(a) if a.dtype.kind == "f" else M.maximum(a, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return M.relu_backward(g, ctx.saved[0])

    @staticmethod
    def graph_backward(ctx, g):
        return where(Tensor._of(M.compare("gt", ctx.saved[0], 0)), g, 0.0)  # the mask is flat in the input


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        y = M.sigmoid(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved[0]
        return M.multiply(g, M.multiply(y, M.subtract(1, y)))

    @staticmethod
    def graph_backward(ctx, g):
        y = ctx.output(0, ctx.saved[0])
        return g * y * (1 - y)


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        y = M.tanh(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved[0]
        return M.multiply(g, M.subtract(1, M.multiply(y, y)))

    @staticmethod
    def graph_backward(ctx, g):
        y = ctx.output(0, ctx.saved[0])
        return g * (1 - y * y)


class Softmax(Function):
    @staticmethod
    def forward(ctx, a, axis):
        y = M.softmax(a, axis)
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved[0]
        dot = M.sum(M.multiply(g, y), axis=ctx.axis, keepdims=True)
        return M.multiply(y, M.subtract(g, dot))  # y * (g - <g, y>)

    @staticmethod
    def graph_backward(ctx, g):
        y = ctx.output(0, ctx.saved[0])
        return y * (g - (g * y).sum(ctx.axis, keepdim=True))


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, a, axis):
        y = M.log_softmax(a, axis)
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved[0]
        return M.subtract(g, M.multiply(M.exp(y), M.sum(g, axis=ctx.axis, keepdims=True)))  # g - softmax * sum(g)

    @staticmethod
    def graph_backward(ctx, g):
        y = ctx.output(0, ctx.saved[0])
        return g - y.exp() * g.sum(ctx.axis, keepdim=True)


def _writable(a):
    """Whether array ``a`` may be changed in place (a CUDA array always may; an expanded view never)."""
    return not isinstance(a, np.ndarray) or (a.flags.writeable and not M.overlaps_itself(a))


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.dtype = a.dtype
        return M.astype(a, dtype) if a.dtype != dtype else M.copy(a)

    @staticmethod
    def backward(ctx, g):
        return M.astype(g, ctx.dtype) if ctx.dtype.kind == "f" else None

    @staticmethod
    def graph_backward(ctx, g):
        return g.astype(ctx.dtype) if ctx.dtype.kind == "f" else None


class CUDAUnavailableError(NotImplementedError):
    """CUDA was asked for where there is none (a RuntimeError, as NotImplementedError is)."""


def require_cuda(what="cuda"):
    """Raise CUDAUnavailableError, with what to do about it, unless a CUDA GPU (or the simulator) is usable."""
    from . import cuda

    if not cuda.is_available():
        raise CUDAUnavailableError(
            f"{what!r}: CUDA is not available here (numconv.cuda.is_available() is False): install the 'cuda' "
            "extra (pip install numconv[cuda]) on a machine with an NVIDIA GPU and driver, or stay on 'cpu'"
        )


def _is_device(x):
    return isinstance(x, str) and x.split(":")[0] in (dispatch.CPU, dispatch.CUDA) or type(x).__name__ == "device"


def _device_name(device):
    """'cpu' or 'cuda' for 'cpu', 'cuda', 'cuda:0' (one GPU: the index must be 0) or a torch.device."""
    name = str(device)
    base, _, index = name.partition(":")
    if base == dispatch.CPU and not index:
        return dispatch.CPU
    if base == dispatch.CUDA and index in ("", "0"):
        require_cuda(name)
        return dispatch.CUDA
    raise ValueError(f"unknown device {device!r}; expected 'cpu', 'cuda' or 'cuda:0'")


class ToDevice(Function):
    """A copy on another device; the gradient goes back to the input's device."""

    @staticmethod
    def forward(ctx, a, device):
        ctx.device = dispatch.device_of(a)
        return M.to_device(a, device)

    @staticmethod
    def backward(ctx, g):
        return M.to_device(g, ctx.device)

    @staticmethod
    def graph_backward(ctx, g):
        return g.to(ctx.device)


class Clone(Function):
    @staticmethod
    def forward(ctx, a):
        return M.copy(a)

    @staticmethod
    def backward(ctx, g):
        return g

    @staticmethod
    def graph_backward(ctx, g):
        return g


def _zero_gradient(g, a, y):
    return M.zeros_like(g)


def _erf_slope(a):
    return M.multiply(M.exp(M.negative(M.multiply(a, a))), 2 / math.sqrt(math.pi))


# The derivatives of the elementwise functions ``Elementwise`` computes, as g * f'(a) from the
# input a and the output y. Rounding and sign are flat wherever they have a derivative: 0, as PyTorch's.
_DERIVATIVES = {
    "expm1": lambda g, a, y: M.multiply(g, M.add(y, 1)),
    "log1p": lambda g, a, y: M.divide(g, M.add(a, 1)),
    "log2": lambda g, a, y: M.divide(g, M.multiply(a, math.log(2))),
    "log10": lambda g, a, y: M.divide(g, M.multiply(a, math.log(10))),
    "sin": lambda g, a, y: M.multiply(g, M.cos(a)),
    "cos": lambda g, a, y: M.negative(M.multiply(g, M.sin(a))),
    "tan": lambda g, a, y: M.multiply(g, M.add(M.multiply(y, y), 1)),
    "arcsin": lambda g, a, y: M.divide(g, M.sqrt(M.subtract(1, M.multiply(a, a)))),
    "arccos": lambda g, a, y: M.negative(M.divide(g, M.sqrt(M.subtract(1, M.multiply(a, a))))),
    "arctan": lambda g, a, y: M.divide(g, M.add(M.multiply(a, a), 1)),
    "sinh": lambda g, a, y: M.multiply(g, M.cosh(a)),
    "cosh": lambda g, a, y: M.multiply(g, M.sinh(a)),
    "arcsinh": lambda g, a, y: M.divide(g, M.sqrt(M.add(M.multiply(a, a), 1))),
    "arccosh": lambda g, a, y: M.divide(g, M.sqrt(M.multiply(M.subtract(a, 1), M.add(a, 1)))),  # (a-1)(a+1): no
    "arctanh": lambda g, a, y: M.divide(g, M.subtract(1, M.multiply(a, a))),  # cancellation near 1
    "erf": lambda g, a, y: M.multiply(g, _erf_slope(a)),
    "erfc": lambda g, a, y: M.negative(M.multiply(g, _erf_slope(a))),
    "lgamma": lambda g, a, y: M.multiply(g, M.polygamma(0, a)),
    "erfinv": lambda g, a, y: M.multiply(g, M.multiply(M.exp(M.multiply(y, y)), math.sqrt(math.pi) / 2)),
    "floor": _zero_gradient, "ceil": _zero_gradient, "rint": _zero_gradient, "trunc": _zero_gradient,
    "sgn": _zero_gradient,
}


def _f(name, a):
    return Elementwise.apply(a, name)


def _graph_zero(g, a, y):
    return Tensor._of(M.zeros_like(g.data))


# The same derivatives over Tensors, for double backward (``Elementwise.graph_backward``).
_GRAPH_DERIVATIVES = {
    "expm1": lambda g, a, y: g * (y + 1),
    "log1p": lambda g, a, y: g / (a + 1),
    "log2": lambda g, a, y: g / (a * math.log(2)),
    "log10": lambda g, a, y: g / (a * math.log(10)),
    "sin": lambda g, a, y: g * _f("cos", a),
    "cos": lambda g, a, y: -(g * _f("sin", a)),
    "tan": lambda g, a, y: g * (y * y + 1),
    "arcsin": lambda g, a, y: g / (1 - a * a).sqrt(),
    "arccos": lambda g, a, y: -(g / (1 - a * a).sqrt()),
    "arctan": lambda g, a, y: g / (a * a + 1),
    "sinh": lambda g, a, y: g * _f("cosh", a),
    "cosh": lambda g, a, y: g * _f("sinh", a),
    "arcsinh": lambda g, a, y: g / (a * a + 1).sqrt(),
    "arccosh": lambda g, a, y: g / ((a - 1) * (a + 1)).sqrt(),
    "arctanh": lambda g, a, y: g / (1 - a * a),
    "erf": lambda g, a, y: g * (-(a * a)).exp() * (2 / math.sqrt(math.pi)),
    "erfc": lambda g, a, y: -(g * (-(a * a)).exp() * (2 / math.sqrt(math.pi))),
    "lgamma": lambda g, a, y: g * Polygamma.apply(a, n=0),
    "erfinv": lambda g, a, y: g * (y * y).exp() * (math.sqrt(math.pi) / 2),
    "floor": _graph_zero, "ceil": _graph_zero, "rint": _graph_zero, "trunc": _graph_zero, "sgn": _graph_zero,
}


class Elementwise(Function):
    """y = f(a), f the function ``name`` of ``numconv.ops.math`` (sin, erf, floor, ...), with its
    derivative from ``_DERIVATIVES``."""

    @staticmethod
    def forward(ctx, a, name):
        y = getattr(M, name)(a)
        ctx.name = name
        ctx.save_for_backward(a, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, y = ctx.saved
        return _DERIVATIVES[ctx.name](g, a, y)

    @staticmethod
    def graph_backward(ctx, g):
        a, y = ctx.saved
        return _GRAPH_DERIVATIVES[ctx.name](g, ctx.input(0, a), ctx.output(0, y))


class Polygamma(Function):
    """y = the n-th derivative of digamma at a (n = 0: digamma); the gradient is the next one's."""

    @staticmethod
    def forward(ctx, a, n):
        ctx.n = n
        ctx.save_for_backward(a)
        return M.polygamma(n, a)

    @staticmethod
    def backward(ctx, g):
        a, = ctx.saved
        return M.multiply(g, M.polygamma(ctx.n + 1, a))

    @staticmethod
    def graph_backward(ctx, g):
        a, = ctx.saved
        return g * Polygamma.apply(ctx.input(0, a), n=ctx.n + 1)


class Fmod(Function):
    """C's fmod: a - b * trunc(a / b), with a's sign; the gradient 1 to a and -trunc(a / b) to b, as PyTorch's."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return M.fmod(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        return (g if na else None), (M.negative(M.multiply(g, M.trunc(M.divide(a, b)))) if nb else None)

    @staticmethod
    def graph_backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        return (g if na else None), (-(g * Tensor._of(M.trunc(M.divide(a, b)))) if nb else None)  # the quotient: flat


class Atan2(Function):
    """The angle of the point (b, a): atan2(a, b); its gradient is (b, -a) / (a^2 + b^2), and 0 where
    a^2 + b^2 is 0 (at the origin, or where the squares underflow), as PyTorch's."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return M.arctan2(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        square = M.add(M.multiply(a, a), M.multiply(b, b))
        origin = M.compare("eq", square, 0)
        scale = M.where(origin, M.zeros_like(g), M.divide(g, M.where(origin, M.full_like(square, 1), square)))
        return (M.multiply(scale, b) if na else None), (M.negative(M.multiply(scale, a)) if nb else None)

    @staticmethod
    def graph_backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        at, bt = ctx.input(0, a), ctx.input(1, b)
        square = at * at + bt * bt
        origin = M.compare("eq", square.data, 0)
        scale = where(origin, 0.0, g / where(origin, 1.0, square))  # no inf anywhere in the graph
        return (scale * bt if na else None), (-(scale * at) if nb else None)


class Hypot(Function):
    """sqrt(a^2 + b^2) without overflow; its gradient is (a, b) / result (NaN at the origin, as PyTorch's)."""

    @staticmethod
    def forward(ctx, a, b):
        y = M.hypot(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved
        na, nb = ctx.needs_input_grad
        scale = M.divide(g, y)
        return (M.multiply(scale, a) if na else None), (M.multiply(scale, b) if nb else None)

    @staticmethod
    def graph_backward(ctx, g):
        a, b, y = ctx.saved
        na, nb = ctx.needs_input_grad
        scale = g / ctx.output(0, y)
        return (scale * ctx.input(0, a) if na else None), (scale * ctx.input(1, b) if nb else None)


class Copysign(Function):
    """|a| with b's sign; the gradient to a is g * y / a (0 where a is 0), none to b, as PyTorch's."""

    @staticmethod
    def forward(ctx, a, b):
        y = M.copysign(a, b)
        ctx.save_for_backward(a, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, y = ctx.saved
        na, nb = ctx.needs_input_grad
        ga = M.where(M.compare("eq", a, 0), M.zeros((), g.dtype, like=g), M.multiply(g, M.divide(y, a))) if na else None
        return ga, (M.zeros_like(g) if nb else None)

    @staticmethod
    def graph_backward(ctx, g):
        a, y = ctx.saved
        na, nb = ctx.needs_input_grad
        sign = M.where(M.compare("eq", a, 0), M.zeros((), a.dtype, like=a), M.divide(y, a))  # +-1: flat in a
        return (g * Tensor._of(sign) if na else None), (Tensor._of(M.zeros_like(g.data)) if nb else None)


class XLogY(Function):
    """a * log(b), and 0 where a is 0 (unless b is NaN); PyTorch's gradients: log(b) to a (0 where a is 0
    and b <= 0), a / b to b."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        zero = M.logical_and(M.compare("eq", a, 0), M.logical_not(M.isnan(b)))
        return M.where(zero, M.zeros((), a.dtype, like=a), M.multiply(a, M.log(b)))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        flat = M.logical_and(M.compare("eq", a, 0), M.compare("le", b, 0))
        ga = M.where(flat, M.zeros((), g.dtype, like=g), M.multiply(g, M.log(b))) if na else None
        return ga, (M.divide(M.multiply(g, a), b) if nb else None)

    @staticmethod
    def graph_backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        bt = ctx.input(1, b)
        flat = Tensor._of(M.logical_and(M.compare("eq", a, 0), M.compare("le", b, 0)))
        ga = where(flat, 0.0, g * bt.log()) if na else None
        return ga, (g * ctx.input(0, a) / bt if nb else None)


class Logit(Function):
    """log(q / (1 - q)), q = p clamped to [eps, 1 - eps] (p itself where eps is None); PyTorch's gradient
    g / (p (1 - p)), which is 0 outside [eps, 1 - eps], and without eps infinite at 0 and 1 and NaN
    outside [0, 1], where the value is NaN (composed of ops, the gradient was NaN at 0 and 1 and finite
    outside; through a clamp, 0 at a NaN p)."""

    @staticmethod
    def forward(ctx, p, eps):
        ctx.save_for_backward(p)
        ctx.eps = eps
        q = p if eps is None else M.clip(p, eps, 1.0 - eps)
        return M.log(M.divide(q, M.subtract(1.0, q)))

    @staticmethod
    def _outside(ctx, p):
        """(where the gradient is the constant, the constant): outside the range, NaN included (which
        gets NaN either way)."""
        lo, hi = (0.0, 1.0) if ctx.eps is None else (ctx.eps, 1.0 - ctx.eps)
        outside = M.logical_not(M.logical_and(M.compare("ge", p, lo), M.compare("le", p, hi)))
        if ctx.eps is not None:  # a NaN p is not outside [eps, 1 - eps] for PyTorch: its gradient is NaN
            outside = M.logical_and(outside, M.logical_not(M.isnan(p)))
        return outside, (math.nan if ctx.eps is None else 0.0)

    @staticmethod
    def backward(ctx, g):
        (p,) = ctx.saved
        outside, value = Logit._outside(ctx, p)
        return M.where(outside, M.full((), value, g.dtype, like=g), M.divide(g, M.multiply(p, M.subtract(1.0, p)))), None

    @staticmethod
    def graph_backward(ctx, g):
        (p,) = ctx.saved
        pt = ctx.input(0, p)
        outside, value = Logit._outside(ctx, p)
        return where(Tensor._of(outside), value, g / (pt * (1.0 - pt))), None


class LogAddExp(Function):
    """log(exp(a) + exp(b)) without overflow: max(a, b) + log1p(exp(-|a - b|)), and a + log(2) where
    a = b (infinities included); the gradients are PyTorch's, g / (1 + exp(b - a)) and g / (1 + exp(a - b))."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        spread = M.log1p(M.exp(M.negative(M.abs(M.subtract(a, b)))))
        return M.where(M.compare("eq", a, b), M.add(a, math.log(2)), M.add(M.maximum(a, b), spread))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        ga = M.divide(g, M.add(M.exp(M.subtract(b, a)), 1)) if na else None
        gb = M.divide(g, M.add(M.exp(M.subtract(a, b)), 1)) if nb else None
        return ga, gb

    @staticmethod
    def graph_backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        at, bt = ctx.input(0, a), ctx.input(1, b)
        return (g / ((bt - at).exp() + 1) if na else None), (g / ((at - bt).exp() + 1) if nb else None)


# ----------------------------------------------------------------------------- reductions


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdim):
        ctx.shape, ctx.axes = a.shape, axes
        return M.sum(a, axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        return M.broadcast_to(M.reshape(g, _keep_shape(ctx.shape, ctx.axes)), ctx.shape)

    @staticmethod
    def graph_backward(ctx, g):
        return g.reshape(_keep_shape(ctx.shape, ctx.axes)).expand(ctx.shape)


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdim):
        ctx.shape, ctx.axes = a.shape, axes
        ctx.count = int(np.prod([a.shape[i] for i in (range(a.ndim) if axes is None else axes)]))
        return M.mean(a, axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        g = M.divide(M.reshape(g, _keep_shape(ctx.shape, ctx.axes)), ctx.count)
        return M.broadcast_to(g, ctx.shape)

    @staticmethod
    def graph_backward(ctx, g):
        return (g.reshape(_keep_shape(ctx.shape, ctx.axes)) / ctx.count).expand(ctx.shape)


class Amax(Function):
    """Maximum (minimum, not ``largest``) over ``axes``; the gradient is shared evenly among tied
    maxima. As PyTorch's ``amax`` it is ``mask * g / count``; with ``select`` as its ``max()`` (every
    dimension): a NaN maximum's NaNs are its ties, and ``where(mask, g / count, 0)`` gives 0
    elsewhere even where g is inf or NaN."""

    @staticmethod
    def forward(ctx, a, axes, keepdim, select=False, largest=True):
        y = (M.max if largest else M.min)(a, axis=axes, keepdims=True)
        ctx.save_for_backward(a, y)
        ctx.axes, ctx.select = axes, select
        return y if keepdim else M.reshape(y, _drop_shape(a.shape, axes))

    @staticmethod
    def _ties(ctx):
        """(mask of the maxima, their count along the axes, kept) over the saved input."""
        a, y = ctx.saved
        mask = M.compare("eq", a, y)
        if ctx.select:
            mask = M.where(M.compare("ne", y, y), M.compare("ne", a, a), mask)
        return mask, M.sum(mask, axis=ctx.axes, keepdims=True, dtype=a.dtype)

    @staticmethod
    def backward(ctx, g):
        mask, count = Amax._ties(ctx)
        g = M.divide(M.reshape(g, count.shape), count)
        if ctx.select:
            return M.where(mask, g, M.zeros((), g.dtype, like=g))
        return M.multiply(mask, g)

    @staticmethod
    def graph_backward(ctx, g):
        mask, count = Amax._ties(ctx)  # which elements are the maximum is flat in a: constants here
        g = g.reshape(count.shape) / Tensor._of(count)
        return where(Tensor._of(mask), g, 0.0) if ctx.select else g * Tensor._of(mask)


class MaxDim(Function):
    """(values, int64 indices) of the maximum (minimum, not ``largest``) along one axis; the gradient
    goes to that index."""

    @staticmethod
    def forward(ctx, a, axis, keepdim, largest=True):
        idx = (M.argmax if largest else M.argmin)(a, axis=axis, keepdims=True)
        y = M.gather(a, idx, axis)
        ctx.save_for_backward(idx)
        ctx.shape, ctx.dtype, ctx.axis = a.shape, a.dtype, axis
        if not keepdim:
            shape = _drop_shape(a.shape, None if axis is None else (axis,))
            y, idx = M.reshape(y, shape), M.reshape(idx, shape)
        return y, idx

    @staticmethod
    def backward(ctx, g, _):
        (idx,) = ctx.saved
        return M.scatter_add(ctx.shape, idx, M.reshape(g, idx.shape), ctx.axis, ctx.dtype)

    @staticmethod
    def graph_backward(ctx, g, _):
        return _scatter_along(g, ctx.saved[0], ctx.axis, ctx.shape, ctx.dtype)


class Var(Function):
    """sum((a - mean)^2) / max(n - correction, 0) over ``axes`` (every axis: None), n the count there;
    the gradient is PyTorch's 2 (a - mean) / (n - correction) (the deviations sum to 0, so the mean's
    own gradient adds nothing): inf times the deviation where n = correction, and, as PyTorch's, the
    finite negative formula where n < correction, whose variance is inf."""

    @staticmethod
    def forward(ctx, a, axes, keepdim, correction):
        n = int(np.prod([a.shape[i] for i in (range(a.ndim) if axes is None else axes)]))
        d = M.subtract(a, M.mean(a, axis=axes, keepdims=True))
        ctx.save_for_backward(d)
        ctx.keep, ctx.scale = _keep_shape(a.shape, axes), 2.0 / (n - correction) if n != correction else math.inf
        ctx.axes = axes
        return M.divide(M.sum(M.multiply(d, d), axis=axes, keepdims=keepdim), max(n - correction, 0))

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved
        return M.multiply(M.multiply(M.reshape(g, ctx.keep), ctx.scale), d)

    @staticmethod
    def graph_backward(ctx, g):
        """The deviations d = a - mean again as a Tensor: centring them once more changes no value and
        gives the centring's derivative (d sums to 0 along the axes)."""
        (d,) = ctx.saved
        dt = ctx.input(0, d)
        return g.reshape(ctx.keep) * ctx.scale * (dt - dt.mean(ctx.axes, keepdim=True))


class Prod(Function):
    """The product along ``axis`` (of every element: None). Each element's gradient is the product of
    the others, from the exclusive running products from both ends: exact where the line holds
    zeros, with no division."""

    @staticmethod
    def forward(ctx, a, axis, keepdim):
        ctx.save_for_backward(a)
        ctx.axis = axis
        line, ax = (M.reshape(a, (-1,)), 0) if axis is None else (a, axis)
        n = line.shape[ax]
        out_shape = _keep_shape(a.shape, None if axis is None else (axis,)) if keepdim else \
            _drop_shape(a.shape, None if axis is None else (axis,))
        if n == 0:
            return M.full(out_shape, 1, a.dtype, like=a)
        return M.reshape(M.take(S.cumulative(line, ax, S.PROD), n - 1, ax), out_shape)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        line, ax = (M.reshape(a, (-1,)), 0) if ctx.axis is None else (a, ctx.axis)
        others = M.multiply(S.cumulative(line, ax, S.PROD, exclusive=True),
                            S.cumulative(line, ax, S.PROD, reverse=True, exclusive=True))
        g = M.reshape(g, _keep_shape(line.shape, (ax,)))
        return M.reshape(M.multiply(others, g), a.shape)


class CumSum(Function):
    """Running sums along ``axis`` (from the end with ``reverse``): linear, so the backward is the
    running sums the other way."""

    @staticmethod
    def forward(ctx, a, axis, reverse=False):
        ctx.axis, ctx.reverse = axis, reverse
        return S.cumulative(a, axis, S.SUM, reverse=reverse)

    @staticmethod
    def backward(ctx, g):  # each element reaches every later output: the running sums of g from the end
        return S.cumulative(g, ctx.axis, S.SUM, reverse=not ctx.reverse)

    @staticmethod
    def graph_backward(ctx, g):
        return CumSum.apply(g, ctx.axis, reverse=not ctx.reverse)


class CumProd(Function):
    @staticmethod
    def forward(ctx, a, axis):
        ctx.save_for_backward(a)
        ctx.axis = axis
        return S.cumulative(a, axis, S.PROD)

    @staticmethod
    def backward(ctx, g):
        return S.cumprod_backward(g, ctx.saved[0], ctx.axis)


class Sort(Function):
    """(values, int64 indices) of the stable sort along ``axis``, the first ``k`` of them (all: None);
    the gradient goes back to each value's index."""

    @staticmethod
    def forward(ctx, a, axis, descending, k=None):
        values, indices = S.sort(a, axis, descending)
        if k is not None and k != a.shape[axis]:
            first = (slice(None),) * axis + (slice(0, k),)
            values, indices = M.getitem(values, first), M.getitem(indices, first)
        ctx.save_for_backward(indices)
        ctx.shape, ctx.dtype, ctx.axis = a.shape, a.dtype, axis
        return values, indices

    @staticmethod
    def backward(ctx, g, _):
        return M.scatter_add(ctx.shape, ctx.saved[0], g, ctx.axis, ctx.dtype)

    @staticmethod
    def graph_backward(ctx, g, _):
        return _scatter_along(g, ctx.saved[0], ctx.axis, ctx.shape, ctx.dtype)


class Extremum(Function):
    """Elementwise maximum (minimum, not ``largest``) of a and b, NaN propagating; PyTorch's gradient:
    to the larger side, half to each on a tie (and all to both where either is NaN)."""

    @staticmethod
    def forward(ctx, a, b, largest):
        ctx.save_for_backward(a, b)
        ctx.largest = largest
        return (M.maximum if largest else M.minimum)(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        shape = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
        shared = M.where(M.compare("eq", a, b), M.divide(g, 2), g)
        zero = M.zeros((), g.dtype, like=g)
        lose_a, lose_b = ("lt", "gt") if ctx.largest else ("gt", "lt")
        na, nb = ctx.needs_input_grad
        ga = M.where(M.compare(lose_a, a, b), zero, M.broadcast_to(shared, shape)) if na else None
        gb = M.where(M.compare(lose_b, a, b), zero, M.broadcast_to(shared, shape)) if nb else None
        return ga, gb

    @staticmethod
    def graph_backward(ctx, g):
        a, b = ctx.saved
        shared = where(Tensor._of(M.compare("eq", a, b)), g / 2, g)
        lose_a, lose_b = ("lt", "gt") if ctx.largest else ("gt", "lt")
        na, nb = ctx.needs_input_grad
        ga = where(Tensor._of(M.compare(lose_a, a, b)), 0.0, shared) if na else None
        gb = where(Tensor._of(M.compare(lose_b, a, b)), 0.0, shared) if nb else None
        return ga, gb


class Remainder(Function):
    """a % b, with b's sign (Python's and PyTorch's); the gradient 1 to a and -floor(a / b) to b."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return M.remainder(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        return (g if na else None), (M.negative(M.multiply(g, M.floor_divide(a, b))) if nb else None)

    @staticmethod
    def graph_backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        return (g if na else None), (-(g * Tensor._of(M.floor_divide(a, b))) if nb else None)  # the quotient: flat


# ----------------------------------------------------------------------------- norms, selections, value tests


AminMax = namedtuple("aminmax", ["min", "max"])  # torch.return_types.aminmax's fields


def _zero(like):
    """A 0-d zero of ``like``'s dtype on ``like``'s device: an operand for ``M.where``."""
    return M.zeros((), like.dtype, like=like)


def _or(a, b):
    return M.logical_not(M.logical_and(M.logical_not(a), M.logical_not(b)))


def _count(shape, axes):
    """How many elements of ``shape`` a reduction over ``axes`` (None: all) takes together."""
    return int(np.prod([shape[i] for i in (range(len(shape)) if axes is None else axes)]))


def _sgn(a):
    """sign(a), 0 at NaN (PyTorch's ``sgn``, which its norm gradients use; NumPy's gives NaN)."""
    return M.where(M.isnan(a), _zero(a), M.sign(a))


def _positions(a, axis):
    """int64 j at every position of ``a`` along ``axis`` (running sums of ones), on ``a``'s device."""
    return S.cumulative(M.ones(tuple(a.shape), np.int64, like=a), axis, S.SUM, exclusive=True)


class Norm(Function):
    """The vector ``p``-norm over ``axes`` (every axis: None): sum(|a|^p)^(1/p); p = 0 counts the
    nonzero elements, inf and -inf give max and min |a|. The gradient is PyTorch's
    (``linalg_vector_norm_backward``): 0 where the norm is 0 (p >= 1) or where a is 0 (p < 1), split
    evenly among tied maxima (minima) for +-inf, and 0 for p = 0."""

    @staticmethod
    def forward(ctx, a, p, axes, keepdim):
        x = M.abs(a)
        if p == math.inf or p == -math.inf:
            y = (M.max if p > 0 else M.min)(x, axis=axes, keepdims=True)
        elif p == 0:
            y = M.sum(M.compare("ne", a, 0), axis=axes, keepdims=True, dtype=a.dtype)
        elif p == 1:
            y = M.sum(x, axis=axes, keepdims=True)
        elif p == 2:
            y = M.sqrt(M.sum(M.multiply(a, a), axis=axes, keepdims=True))
        else:
            y = M.power(M.sum(M.power(x, p), axis=axes, keepdims=True), 1.0 / p)
        ctx.save_for_backward(a, y)
        ctx.p, ctx.axes = p, axes
        return y if keepdim else M.reshape(y, _drop_shape(a.shape, axes))

    @staticmethod
    def backward(ctx, g):
        a, y = ctx.saved
        p, zero = ctx.p, _zero(a)
        g = M.reshape(g, y.shape)
        if p == 0:
            return M.zeros(tuple(a.shape), a.dtype, like=a)
        if p == math.inf or p == -math.inf:
            mask = M.compare("eq", M.abs(a), y)
            count = M.sum(mask, axis=ctx.axes, keepdims=True, dtype=a.dtype)
            return M.multiply(_sgn(a), M.where(mask, M.divide(g, count), zero))
        if p < 1:
            scaled = M.where(M.compare("eq", a, 0), zero, M.multiply(_sgn(a), M.power(M.abs(a), p - 1)))
            return M.multiply(scaled, M.multiply(g, M.power(y, 1 - p)))
        if p < 2:
            scaled = M.multiply(_sgn(a), M.power(M.abs(a), p - 1))
        elif p == 2:
            scaled = a
        else:
            scaled = M.multiply(a, M.power(M.abs(a), p - 2))
        scale = M.divide(g, y if p == 2 else M.power(y, p - 1))
        return M.multiply(scaled, M.where(M.compare("eq", y, 0), zero, scale))

    @staticmethod
    def graph_backward(ctx, g):
        """p = 1 and p = 2 (the common norms); the others have no double backward yet."""
        a, y = ctx.saved
        p = ctx.p
        g = g.reshape(y.shape)
        if p == 1:
            return g * Tensor._of(_sgn(a))
        if p != 2:
            raise NotImplementedError(f"create_graph=True through a {p}-norm: only the 1- and 2-norms have a double "
                                      "backward; write it as (x.abs() ** p).sum() ** (1 / p)")
        yt = ctx.output(0, y).reshape(y.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            return ctx.input(0, a) * where(Tensor._of(M.compare("eq", y, 0)), 0.0, g / yt)


class LogSumExp(Function):
    """log(sum(exp(a))) over ``axes``, shifted by the maximum (0 where that is +-inf: a line of -inf
    gives -inf, one holding +inf gives +inf); an empty reduction gives -inf. The gradient is
    PyTorch's g * exp(a - result): the softmax."""

    @staticmethod
    def forward(ctx, a, axes, keepdim):
        keep = _keep_shape(a.shape, axes)
        if _count(a.shape, axes) == 0:
            y = M.full(keep, -math.inf, a.dtype, like=a)
        else:
            m = M.max(a, axis=axes, keepdims=True)
            m = M.where(M.compare("eq", M.abs(m), math.inf), _zero(m), m)
            y = M.add(M.log(M.sum(M.exp(M.subtract(a, m)), axis=axes, keepdims=True)), m)
        ctx.save_for_backward(a, y)
        return y if keepdim else M.reshape(y, _drop_shape(a.shape, axes))

    @staticmethod
    def backward(ctx, g):
        a, y = ctx.saved
        return M.multiply(M.reshape(g, y.shape), M.exp(M.subtract(a, y)))

    @staticmethod
    def graph_backward(ctx, g):
        a, y = ctx.saved
        return g.reshape(y.shape) * (ctx.input(0, a) - ctx.output(0, y).reshape(y.shape)).exp()


class NanSum(Function):
    """The sum over ``axes`` with NaN counted as 0; the gradient is PyTorch's g * (a is not NaN)."""

    @staticmethod
    def forward(ctx, a, axes, keepdim):
        nan = M.isnan(a)
        ctx.save_for_backward(nan)
        ctx.axes = axes
        return M.sum(M.where(nan, _zero(a), a), axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        (nan,) = ctx.saved
        g = M.reshape(g, _keep_shape(nan.shape, ctx.axes))
        return M.multiply(g, M.logical_not(nan))

    @staticmethod
    def graph_backward(ctx, g):
        (nan,) = ctx.saved
        return g.reshape(_keep_shape(nan.shape, ctx.axes)) * Tensor._of(M.logical_not(nan))


class NanToNum(Function):
    """NaN, +inf and -inf replaced by the numbers given (in the input's dtype); the gradient is PyTorch's
    g * isfinite(a): 0 where a value was replaced."""

    @staticmethod
    def forward(ctx, a, nan, posinf, neginf):
        finite = M.compare("eq", M.subtract(a, a), 0)
        ctx.save_for_backward(finite)
        out = M.where(M.isnan(a), M.full((), nan, a.dtype, like=a), a)
        out = M.where(M.compare("eq", a, math.inf), M.full((), posinf, a.dtype, like=a), out)
        return M.where(M.compare("eq", a, -math.inf), M.full((), neginf, a.dtype, like=a), out)

    @staticmethod
    def backward(ctx, g):
        return M.multiply(g, ctx.saved[0])

    @staticmethod
    def graph_backward(ctx, g):
        return g * Tensor._of(ctx.saved[0])


class Evenly(Function):
    """``value`` (an array computed from ``a``, 0-d) with PyTorch's ``evenly_distribute_backward``:
    the gradient is shared evenly among the elements of ``a`` equal to it (the NaNs for a NaN)."""

    @staticmethod
    def forward(ctx, a, value):
        ctx.save_for_backward(a, value)
        return M.copy(value)

    @staticmethod
    def _ties(ctx):
        """(mask of the elements equal to the value (the NaNs for a NaN), their count)."""
        a, y = ctx.saved
        mask = M.compare("eq", a, y)
        if np.dtype(a.dtype).kind == "f":
            mask = M.where(M.isnan(y), M.isnan(a), mask)
        return mask, M.sum(mask, dtype=a.dtype)

    @staticmethod
    def backward(ctx, g):
        mask, count = Evenly._ties(ctx)
        return M.where(mask, M.divide(g, count), _zero(ctx.saved[0])), None

    @staticmethod
    def graph_backward(ctx, g):
        mask, count = Evenly._ties(ctx)
        return where(Tensor._of(mask), g / Tensor._of(count), 0.0), None


class Selected(Function):
    """(values, int64 indices) that ``pick(a, axis)`` selects along ``axis`` (both with the axis kept
    at size 1); the gradient goes to the selected index, as PyTorch's ``value_selecting_reduction_backward``."""

    @staticmethod
    def forward(ctx, a, axis, keepdim, pick):
        values, idx = pick(a, axis)
        ctx.save_for_backward(idx)
        ctx.shape, ctx.dtype, ctx.axis = a.shape, a.dtype, axis
        if not keepdim:
            shape = _drop_shape(a.shape, (axis,))
            values, idx = M.reshape(values, shape), M.reshape(idx, shape)
        return values, idx

    @staticmethod
    def backward(ctx, g, _):
        (idx,) = ctx.saved
        return M.scatter_add(ctx.shape, idx, M.reshape(g, idx.shape), ctx.axis, ctx.dtype)

    @staticmethod
    def graph_backward(ctx, g, _):
        return _scatter_along(g, ctx.saved[0], ctx.axis, ctx.shape, ctx.dtype)


def _sorted_at(a, axis, pos):
    """(values, indices) of the stable ascending sort of ``a`` along ``axis`` (NaN last) at the positions
    ``pos`` (int64, ``a``'s shape with the axis 1)."""
    values, indices = S.sort(a, axis)
    return M.gather(values, pos, axis), M.gather(indices, pos, axis)


def _nan_count(a, axis):
    if np.dtype(a.dtype).kind != "f":
        return M.zeros(_keep_shape(a.shape, (axis,)), np.int64, like=a)
    return M.sum(M.isnan(a), axis=axis, keepdims=True, dtype=np.int64)


def _pick_median(a, axis):
    """The lower median along ``axis``, or the first NaN where the line holds one (PyTorch's median)."""
    n, nans = a.shape[axis], _nan_count(a, axis)
    pos = M.where(M.compare("gt", nans, 0), M.subtract(n, nans), M.full((), (n - 1) // 2, np.int64, like=a))
    return _sorted_at(a, axis, pos)


def _pick_nanmedian(a, axis):
    """The lower median of the values that are not NaN along ``axis`` (the first NaN where all are)."""
    valid = M.subtract(a.shape[axis], _nan_count(a, axis))
    pos = M.floor_divide(M.maximum(M.subtract(valid, 1), 0), 2)
    return _sorted_at(a, axis, pos)


def _pick_kth(k):
    def pick(a, axis):  # the k-th smallest (1-based), NaN counting as the largest
        return _sorted_at(a, axis, M.full(_keep_shape(a.shape, (axis,)), k - 1, np.int64, like=a))
    return pick


def _pick_mode(a, axis):
    """The most frequent value along ``axis`` (the smallest among equally frequent ones; NaNs count as
    one value, the largest) and the index of its last occurrence, from runs of the stable sort."""
    values, indices = S.sort(a, axis)
    n = a.shape[axis]
    head = (slice(None),) * axis
    same = M.compare("eq", M.getitem(values, head + (slice(1, n),)), M.getitem(values, head + (slice(0, n - 1),)))
    if np.dtype(a.dtype).kind == "f":
        same = _or(same, M.logical_and(M.isnan(M.getitem(values, head + (slice(1, n),))),
                                       M.isnan(M.getitem(values, head + (slice(0, n - 1),)))))
    starts = M.concatenate([M.full(_keep_shape(a.shape, (axis,)), True, np.bool_, like=a), M.logical_not(same)], axis)
    run = M.subtract(S.cumulative(M.astype(starts, np.int64), axis, S.SUM), 1)  # each position's run, from 0
    counts = M.gather(M.scatter_add(tuple(a.shape), run, M.ones(tuple(a.shape), np.int64, like=a), axis, np.int64),
                      run, axis)
    first = M.argmax(counts, axis=axis, keepdims=True)  # the first position of the first longest run
    last = M.subtract(M.add(first, M.gather(counts, first, axis)), 1)
    return M.gather(values, first, axis), M.gather(indices, last, axis)


def _cum_extreme(a, axis, largest):
    """(values, int64 indices) of the running maximum (minimum) along ``axis``, PyTorch's ``cummax``: the
    latest index among equal values, NaN sticking once seen (at the latest NaN). A log-step scan over
    (value, index) pairs, each step combining every position with the one ``s`` before it."""
    n = a.shape[axis]
    values, indices = a, _positions(a, axis)
    floating = np.dtype(a.dtype).kind == "f"
    head = (slice(None),) * axis
    s = 1
    while s < n:
        lo, hi, keep = head + (slice(0, n - s),), head + (slice(s, n),), head + (slice(0, s),)
        vl, vr = M.getitem(values, lo), M.getitem(values, hi)
        later = M.compare("ge" if largest else "le", vr, vl)  # the later pair wins ties
        if floating:  # NaN wins, the later NaN over an earlier one
            later = _or(M.isnan(vr), M.logical_and(later, M.logical_not(M.isnan(vl))))
        values = M.concatenate([M.getitem(values, keep), M.where(later, vr, vl)], axis)
        indices = M.concatenate([M.getitem(indices, keep), M.where(later, M.getitem(indices, hi),
                                                                  M.getitem(indices, lo))], axis)
        s *= 2
    return M.copy(values), M.copy(indices)


class CumExtreme(Function):
    """(values, indices) of ``_cum_extreme``; the gradient goes to each running extreme's index."""

    @staticmethod
    def forward(ctx, a, axis, largest):
        values, indices = _cum_extreme(a, axis, largest)
        ctx.save_for_backward(indices)
        ctx.shape, ctx.dtype, ctx.axis = a.shape, a.dtype, axis
        return values, indices

    @staticmethod
    def backward(ctx, g, _):
        return M.scatter_add(ctx.shape, ctx.saved[0], g, ctx.axis, ctx.dtype)


def _number(value, name, allow_none=False):
    """``value`` as a float (any real number, inf and NaN too, not a bool), else a TypeError naming ``name``."""
    if value is None and allow_none:
        return None
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number{' or None' if allow_none else ''}, got {value!r} "
                        f"({type(value).__name__})")
    return float(value)


def _in_dtype(value, dtype):
    """A Python float as ``dtype`` holds it (1e300 in float32: inf), without NumPy's overflow warning."""
    with np.errstate(over="ignore"):
        return float(np.asarray(value, np.float64).astype(dtype))


# ----------------------------------------------------------------------------- shape and indexing


# The views (``Function.view``) also say, over arrays, which part of their input they see (``region``)
# and how to write values there (``write``): an in-place change through a view is recorded on its base
# with them (``ViewWrite``). An expand that repeats elements is refused such changes (``_view_taken``).


class Reshape(Function):
    view = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return M.reshape(a, shape)

    @staticmethod
    def backward(ctx, g):
        return M.reshape(g, ctx.shape)

    @staticmethod
    def graph_backward(ctx, g):
        return g.reshape(ctx.shape)

    @staticmethod
    def region(a, shape):
        return M.reshape(a, shape)

    @staticmethod
    def write(a, values, shape):
        M.assign(a, M.reshape(values, a.shape))


class Permute(Function):
    view = True

    @staticmethod
    def forward(ctx, a, axes):
        ctx.inverse = tuple(int(i) for i in np.argsort(axes))
        return M.transpose(a, axes)

    @staticmethod
    def backward(ctx, g):
        return M.transpose(g, ctx.inverse)

    @staticmethod
    def graph_backward(ctx, g):
        return g.permute(ctx.inverse)

    @staticmethod
    def region(a, axes):
        return M.transpose(a, axes)

    @staticmethod
    def write(a, values, axes):
        M.assign(a, M.transpose(values, tuple(int(i) for i in np.argsort(axes))))


class Expand(Function):
    """Broadcast to ``shape`` (on the CPU a view: PyTorch's); the engine sums the gradient back."""

    view = True

    @staticmethod
    def forward(ctx, a, shape):
        return M.expand(a, shape)

    @staticmethod
    def backward(ctx, g):
        return g

    @staticmethod
    def graph_backward(ctx, g):
        return g

    @staticmethod
    def region(a, shape):
        return M.expand(a, shape)

    @staticmethod
    def write(a, values, shape):  # only where no element repeats (Tensor._view_taken refuses the rest)
        M.assign(a, M.reshape(values, a.shape))


class GetItem(Function):
    view = True

    @staticmethod
    def forward(ctx, a, index):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        return M.getitem(a, index)

    @staticmethod
    def backward(ctx, g):
        return M.index_add(ctx.shape, ctx.index, g, ctx.dtype)  # repeated integer indices add up

    @staticmethod
    def graph_backward(ctx, g):
        return IndexPutAdd.apply(Tensor._of(M.zeros(ctx.shape, ctx.dtype, like=g.data)), g, index=ctx.index)

    @staticmethod
    def region(a, index):
        return M.getitem(a, index)

    @staticmethod
    def write(a, values, index):
        M.assign(a, values, index)


class Diagonal(Function):
    """The diagonal ``index`` = (Ellipsis, rows, columns) of the matrices over the last two dimensions,
    as a new last one: on the CPU a strided view (a write through it reaches the matrix, as PyTorch's),
    on a device a copy (``Tensor.diagonal`` carries its writes back). The gradient is g on that diagonal."""
    view = True

    @staticmethod
    def forward(ctx, a, index, offset):
        ctx.shape, ctx.index = a.shape, index
        return M.diagonal(a, offset) if isinstance(a, np.ndarray) else M.getitem(a, index)

    @staticmethod
    def backward(ctx, g):
        out = M.zeros(ctx.shape, g.dtype, like=g)
        M.assign(out, g, ctx.index)
        return out

    @staticmethod
    def graph_backward(ctx, g):
        return SetItem.apply(Tensor._of(M.zeros(ctx.shape, g.dtype, like=g.data)), g, index=ctx.index)

    @staticmethod
    def region(a, index, offset):
        return M.diagonal(a, offset) if isinstance(a, np.ndarray) else M.getitem(a, index)

    @staticmethod
    def write(a, values, index, offset):
        M.assign(a, values, index)


class ViewWrite(Function):
    """A tensor after an in-place change made through a view of it: ``values`` (what the change
    computed from the view's old values) now in the view's place, the rest as it was. The array
    already holds them (the view wrote there), so the forward copies nothing. The gradient is g
    with zeros in the view's place for the old tensor, and g's view for ``values``."""

    @staticmethod
    def forward(ctx, a, values, steps):
        ctx.steps, ctx.values_shape = steps, tuple(values.shape)  # the steps, not the view: no cycle to a
        return a

    @staticmethod
    def backward(ctx, g):
        need_a, need_values = ctx.needs_input_grad
        ga = gv = None
        if need_values:
            gv = M.copy(_view_region(ctx.steps, g))
        if need_a:
            ga = M.copy(g)
            _view_write(ctx.steps, ga, M.zeros(ctx.values_shape, g.dtype, like=g))
        return ga, gv


class SetItem(Function):
    """A copy of ``a`` with ``a[index] = value`` (broadcast, cast to a's dtype): ``t[index] = value``
    recorded. The gradient is g with zeros at ``index`` for ``a``, and g[index] summed to value's shape
    for ``value``."""

    @staticmethod
    def forward(ctx, a, value, index):
        out = M.copy(a)
        M.assign(out, value, index)
        ctx.index = index
        ctx.value_shape, ctx.value_dtype = tuple(np.shape(value)), getattr(value, "dtype", None)
        return out

    @staticmethod
    def backward(ctx, g):
        need_a, need_value = ctx.needs_input_grad
        ga = gv = None
        if need_a:
            ga = M.copy(g)
            M.assign(ga, 0, ctx.index)
        if need_value:
            gv = M.sum_to(M.getitem(g, ctx.index), ctx.value_shape)
            if ctx.value_dtype is not None and gv.dtype != ctx.value_dtype:
                gv = M.astype(gv, ctx.value_dtype)
        return ga, gv

    @staticmethod
    def graph_backward(ctx, g):
        need_a, need_value = ctx.needs_input_grad
        ga = gv = None
        if need_a:
            ga = SetItem.apply(g, M.zeros((), g.dtype, like=g.data), index=ctx.index)
        if need_value:
            gv = GetItem.apply(g, ctx.index).sum_to_size(ctx.value_shape)
            if ctx.value_dtype is not None and gv.dtype != ctx.value_dtype:
                gv = gv.astype(ctx.value_dtype)
        return ga, gv


class Gather(Function):
    """out[i][j][k] = a[i][index[i][j][k]][k] for axis 1 (``torch.gather``)."""

    @staticmethod
    def forward(ctx, a, index, axis):
        ctx.save_for_backward(index)
        ctx.shape, ctx.dtype, ctx.axis = a.shape, a.dtype, axis
        return M.gather(a, index, axis)

    @staticmethod
    def backward(ctx, g):
        return M.scatter_add(ctx.shape, ctx.saved[0], g, ctx.axis, ctx.dtype), None

    @staticmethod
    def graph_backward(ctx, g):
        return _scatter_along(g, ctx.saved[0], ctx.axis, ctx.shape, ctx.dtype), None


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.sizes, ctx.axis = [a.shape[axis] for a in arrays], axis
        return M.concatenate(arrays, axis)

    @staticmethod
    def backward(ctx, g):
        return tuple(M.split(g, ctx.sizes, ctx.axis))

    @staticmethod
    def graph_backward(ctx, g):
        return Split.apply(g, ctx.sizes, ctx.axis)


class Split(Function):
    """Pieces of ``sizes`` along ``axis`` (views on the CPU); the gradient is the pieces' gradients
    concatenated, one pass however many pieces there are."""

    @staticmethod
    def forward(ctx, a, sizes, axis):
        ctx.axis = axis
        return tuple(M.split(a, sizes, axis))

    @staticmethod
    def backward(ctx, *grads):
        return M.concatenate(grads, ctx.axis)

    @staticmethod
    def graph_backward(ctx, *grads):
        return Cat.apply(*grads, axis=ctx.axis)


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.n, ctx.axis = len(arrays), axis
        return M.stack(arrays, axis)

    @staticmethod
    def backward(ctx, g):
        return tuple(M.take(g, i, ctx.axis) for i in range(ctx.n))

    @staticmethod
    def graph_backward(ctx, g):
        return tuple(GetItem.apply(g, (slice(None),) * ctx.axis + (i,)) for i in range(ctx.n))


class Where(Function):
    """cond ? a : b elementwise, broadcast; the gradient goes to the side each element was taken from."""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        return M.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved
        _, na, nb = ctx.needs_input_grad
        zero = M.zeros((), g.dtype, like=g)
        return None, (M.where(cond, g, zero) if na else None), (M.where(cond, zero, g) if nb else None)

    @staticmethod
    def graph_backward(ctx, g):
        (cond,) = ctx.saved
        _, na, nb = ctx.needs_input_grad
        zero = M.zeros((), g.dtype, like=g.data)
        return None, (Where.apply(cond, g, zero) if na else None), (Where.apply(cond, zero, g) if nb else None)


# ----------------------------------------------------------------------------- more shape and indexing


class IndexPutAdd(Function):
    """A copy of ``a`` with ``values`` added at ``index`` (NumPy's index; repeated positions add up):
    ``index_add`` and ``scatter_add``. The gradient is g for ``a`` and g[index] for ``values``."""

    @staticmethod
    def forward(ctx, a, values, index):
        ctx.index = index
        return M.add(a, M.index_add(a.shape, index, values, a.dtype))

    @staticmethod
    def backward(ctx, g):
        na, nv = ctx.needs_input_grad
        return (g if na else None), (M.getitem(g, ctx.index) if nv else None)

    @staticmethod
    def graph_backward(ctx, g):
        na, nv = ctx.needs_input_grad
        return (g if na else None), (GetItem.apply(g, ctx.index) if nv else None)


def _integer_index(t, index, name, what, ndim=None):
    """``index`` (a Tensor, array or list of integers) as an int64 array of its own on ``t``'s device
    (the backward reads it again), checked: an integer dtype (not bool or uint8, which PyTorch would
    read as a mask), ``ndim`` dimensions (None: any; 1: a 0-d index counts as 1-d). A TypeError or
    ValueError naming ``what`` and ``name``."""
    if isinstance(index, Tensor):
        data = index.data
    elif hasattr(index, "shape") and hasattr(index, "dtype"):
        data = index if dispatch.device_of(index) == dispatch.CUDA else np.asarray(index)
    else:
        data = np.asarray(index)
        if data.size == 0 and data.dtype.kind == "f":  # [] selects nothing
            data = data.astype(np.int64)
    kind = np.dtype(data.dtype).kind
    if kind not in "iu" or np.dtype(data.dtype) == np.uint8:
        raise TypeError(f"{what}: {name} must be an integer tensor (int64), got dtype {data.dtype}")
    if ndim == 1 and len(data.shape) == 0:
        data = M.reshape(data, (1,))
    if ndim is not None and len(data.shape) != ndim:
        raise ValueError(f"{what}: {name} must have {ndim} dimension{'s' * (ndim != 1)}, got shape "
                         f"{tuple(data.shape)}")
    if dispatch.device_of(data) != t.device:
        if isinstance(index, Tensor):
            raise ValueError(f"{what}: {name} is on {index.device}, the tensor on {t.device}")
        data = M.to_device(data, t.device)
    out = M.astype(data, np.int64)
    return M.copy(out) if out is data or M.may_share(out, data) else out


def _index_range(index, lo, hi, name, what, error=IndexError):
    """An ``error`` naming ``what`` and ``name`` unless every value of the index array is in [lo, hi)
    (one transfer of two scalars for a device array, before any kernel reads through it)."""
    if index.size:
        low, high = (int(v) for v in M.extremes(index))
        if low < lo or high >= hi:
            raise error(f"{what}: {name} {low if low < lo else high} is out of range (expected values in "
                        f"[{lo}, {hi - 1}])")


def _scatter_along(g, index, axis, shape, dtype):
    """``M.scatter_add`` over Tensors: ``g`` added into zeros of ``shape`` at ``index`` along ``axis``."""
    zeros = Tensor._of(M.zeros(shape, dtype, like=g.data))
    return IndexPutAdd.apply(zeros, g.reshape(tuple(index.shape)), index=_along_axis(index, axis))


def _along_axis(index, axis):
    """NumPy's index tuple that reaches ``out[..., index[..., j, ...], ...]`` along ``axis`` (the position
    ``torch.scatter`` writes to): ``index`` there, aranges broadcasting along the other axes, on
    ``index``'s device."""
    nd, device = len(index.shape), dispatch.device_of(index)
    parts = []
    for d, n in enumerate(index.shape):
        if d == axis:
            parts.append(index)
        else:
            shape = [1] * nd
            shape[d] = n
            parts.append(M.to_device(np.arange(n, dtype=np.int64).reshape(shape), device))
    return tuple(parts)


def _on_device_of(t, array):
    """A Tensor of host ``array`` on ``t``'s device."""
    return Tensor(M.to_device(array, t.device))


_TORCH_TYPES = {np.dtype(k): v for k, v in ((np.float32, "FloatTensor"), (np.float64, "DoubleTensor"),
                                            (np.float16, "HalfTensor"), (np.int64, "LongTensor"),
                                            (np.int32, "IntTensor"), (np.int16, "ShortTensor"),
                                            (np.int8, "CharTensor"), (np.uint8, "ByteTensor"),
                                            (np.bool_, "BoolTensor"))}


# ============================================================================= Tensor


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}  # PyTorch's categories: bool < integer < floating


def _promoted(dims, zero_dims, scalar):
    """PyTorch's result dtype of an op over tensors with dimensions (``dims``: dtypes), 0-d tensors
    (``zero_dims``) and a Python scalar (or None): the dimensioned tensors' common dtype, unless a 0-d
    tensor is of a higher category (bool < integer < floating): then theirs; unless the scalar is of
    a higher one still: then the default dtype of its category (float32, int64)."""
    dtype = None
    for group in (dims, zero_dims):
        if group:  # the widest of the highest category (float32 with int64 is float32, not NumPy's float64)
            top = max(_CATEGORY[np.dtype(d).kind] for d in group)
            common = np.result_type(*[d for d in group if _CATEGORY[np.dtype(d).kind] == top])
            if dtype is None or _CATEGORY[common.kind] > _CATEGORY[dtype.kind]:
                dtype = common
    if scalar is not None and not isinstance(scalar, bool):
        kind = "f" if isinstance(scalar, float) else "i"
        if dtype is None or _CATEGORY[kind] > _CATEGORY[dtype.kind]:
            dtype = np.dtype(_DEFAULT_DTYPE if kind == "f" else np.int64)
    return dtype


def _scalar_as(value, dtype):
    """A Python int as PyTorch casts it to an integer ``dtype``: wrapped modulo 2^bits (1000 is -24 in
    int8), so NumPy's exact comparison or its OverflowError do not differ from PyTorch's result."""
    if isinstance(value, bool) or not isinstance(value, int) or dtype.kind not in "iu":
        return value
    if not -2 ** 63 <= value < 2 ** 64:
        raise ValueError(f"the number {value} is out of range for an integer tensor (at most 64 bits)")
    info = np.iinfo(dtype)
    if info.min <= value <= info.max:
        return value
    return int(np.array(value & 0xFFFFFFFFFFFFFFFF, np.uint64).astype(dtype))


def _operands(t, other, floating=False):
    """(t, other) for a binary op, promoted to one dtype as PyTorch does (``_promoted``): ``other``
    becomes a Tensor or stays a Python scalar (an int wrapped to an integer dtype as PyTorch's, see
    ``_scalar_as``). ``floating``: an integer or bool result is float32 instead (true division)."""
    if isinstance(other, np.generic):
        other = other.item()
    scalar = isinstance(other, (bool, int, float))
    if not scalar and not isinstance(other, Tensor):
        other = Tensor(other)
    tensors = (t,) if scalar else (t, other)
    dtype = _promoted([x.dtype for x in tensors if x.ndim], [x.dtype for x in tensors if not x.ndim],
                      other if scalar else None)
    if floating and dtype.kind != "f":
        dtype = np.dtype(_DEFAULT_DTYPE)
    t = t if t.dtype == dtype else t.astype(dtype)
    if scalar:
        return t, _scalar_as(other, dtype)
    return t, (other if other.dtype == dtype else other.astype(dtype))


class IntegerDivisionByZero(ZeroDivisionError, ValueError):
    """An integer ``//`` or ``%`` whose divisor holds 0 (PyTorch raises too): Python's error for it, and
    numconv's for bad input."""


def _divisible(t, other, op, reflected=False):
    """(t, other) promoted for ``//`` or ``%`` as ``_operands`` gives them (``reflected``: ``other`` is
    the dividend, ``t`` the divisor). Bool operands are refused and an integer divisor must hold no 0,
    as in PyTorch (NumPy would give 0 silently)."""
    a, b = _operands(t, other)
    if a.dtype == np.bool_:
        raise TypeError(f"{op} of bool tensors is not defined (as in PyTorch); cast them first (.long())")
    divisor = a if reflected else b
    if a.dtype.kind in "iu" and (bool((divisor == 0).any()) if isinstance(divisor, Tensor) else divisor == 0):
        raise IntegerDivisionByZero(f"integer {op} by zero: the divisor {'self' if reflected else 'other'} holds 0")
    return a, b


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _floor_divide(a, b):
    """a // b outside the graph: floor is flat wherever it has a derivative (PyTorch refuses to backpropagate it)."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        M.same_device(input=a.data, other=b.data)
    return Tensor(M.floor_divide(_data(a), _data(b)))


def _trunc_divide(a, b):
    """Arrays a / b rounded toward 0: trunc(a / b) for floats, and (a - fmod(a, b)) // b, exact, for integers."""
    if np.dtype(a.dtype if hasattr(a, "dtype") else b.dtype).kind == "f":
        return M.trunc(M.divide(a, b))
    return M.floor_divide(M.subtract(a, M.fmod(a, b)), b)


class RoundedDivide(Function):
    """a / b rounded down (``mode`` "floor") or toward 0 ("trunc"): flat wherever it has a derivative, so
    both gradients are 0, as PyTorch's ``div(rounding_mode=)`` (its ``//`` refuses a gradient)."""

    @staticmethod
    def forward(ctx, a, b, mode):
        return M.floor_divide(a, b) if mode == "floor" else _trunc_divide(a, b)

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        return (M.zeros_like(g) if na else None), (M.zeros_like(g) if nb else None)


def _both_floating(t, other):
    return isinstance(other, Tensor) and t.dtype.kind == "f" and other.dtype.kind == "f"


def _nothing(*args):
    pass


def _splits(old, new):
    """Whether reshaping ``old`` to ``new`` (one -1 allowed) only splits dimensions (and adds or drops
    ones): then any strided view of ``old`` has a view of ``new``; a merge may need a copy."""
    old = [n for n in old if n != 1]
    if -1 in new:
        known = int(np.prod([n for n in new if n != -1]))
        total = int(np.prod(old)) if old else 1
        new = [total // known if n == -1 and known else n for n in new]
    new = [n for n in new if n != 1]
    if 0 in old or 0 in new:
        return True  # nothing to change through it
    k = 0
    for n in old:
        prod = 1
        while prod < n and k < len(new):
            prod *= new[k]
            k += 1
        if prod != n:
            return False
    return k == len(new)


def _matmul_shapes(a, b):
    """(a, b) once their shapes fit ``a @ b`` (NumPy's rules), else a ValueError naming both."""
    sa, sb = a.shape, getattr(b, "shape", ())
    if not sa or not sb:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {sa} and {sb}")
    k_a, k_b = sa[-1], sb[0] if len(sb) == 1 else sb[-2]
    ok = k_a == k_b
    if ok and len(sa) > 2 and len(sb) > 2:
        try:
            np.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            ok = False
    if not ok:
        raise ValueError(f"matmul: shapes {sa} and {sb} do not fit (the first's last dimension must equal the "
                         "second's second-to-last, and batch dimensions must broadcast)")
    return a, b


def _index(index):
    """A Tensor/list-free NumPy index: Tensors become their arrays (device ones stay on the device) and
    lists arrays. Index arrays are copies: the backward reads them again, and the caller's array (a
    reused buffer, shuffled in place) could have changed by then."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if isinstance(p, Tensor):
            if p.dtype == np.uint8:  # PyTorch reads it as a mask (deprecated), NumPy as integers: neither silently
                raise IndexError("a uint8 tensor index is ambiguous (a mask in PyTorch, integer positions in "
                                 "NumPy): use .bool() for a mask or .long() for positions")
            p = M.copy(p.data) if p.ndim else p.data
        elif isinstance(p, list):
            p = np.asarray(p)
            if p.size == 0:  # [] selects nothing: an integer index, not NumPy's float64 array
                p = p.astype(np.int64)
        elif isinstance(p, np.ndarray) or dispatch.device_of(p) == dispatch.CUDA:
            p = M.copy(p)
        out.append(p)
    return tuple(out) if isinstance(index, tuple) else out[0]


def _torch_layout(index, ndim):
    """Where PyTorch lays out ``x[index]`` otherwise than NumPy: None, or ``perm`` with
    ``torch_result = numpy_result.transpose(perm)``.

    Both put the dimensions of the advanced indices (arrays, and boolean scalars, which add a
    dimension of 1 or 0) where those indices stand if they are adjacent, else first. They differ in
    what counts: NumPy counts an integer (or a 0-d index) among the advanced indices once there are
    any, where PyTorch applies it as a basic index that only removes its dimension, and PyTorch drops
    an Ellipsis that stands for no dimension where NumPy's still separates. ``x[0, :, [1, 2]]`` on
    (2, 3, 4) is (2, 3) in NumPy, (3, 2) in PyTorch; ``x[:, [0, 1], ..., [1, 2]]`` (2, 2) either way,
    but transposed."""
    parts = index if isinstance(index, tuple) else (index,)

    def is_bool(p):
        return isinstance(p, (bool, np.bool_)) or (hasattr(p, "dtype") and np.dtype(p.dtype) == np.bool_)

    def rank(p):  # 0 for Python and NumPy scalars
        return getattr(p, "ndim", 0)

    kinds = []  # per part: "int", "adv" (an array or a boolean scalar), or "basic" (slice, None, Ellipsis)
    for p in parts:
        if p is None or p is Ellipsis or isinstance(p, slice):
            kinds.append("basic")
        elif is_bool(p) or rank(p):
            kinds.append("adv")
        else:
            kinds.append("int")
    if "adv" not in kinds:
        return None  # integers and slices alone: basic indexing in both
    consumed = sum((1 if isinstance(p, slice) else 0) if kind == "basic" else rank(p) if is_bool(p) else 1
                   for p, kind in zip(parts, kinds))  # the input dimensions the parts name
    ellipsis = ndim - consumed  # the dimensions an Ellipsis stands for
    nb = max(1 if is_bool(p) else rank(p) for p, kind in zip(parts, kinds) if kind == "adv")

    def basic_dims(k):  # the output dimensions the basic part k gives
        return ellipsis if parts[k] is Ellipsis else 1

    def layout(advanced, skip):
        """The output's dimensions in order: "A" for the advanced block's, basic dimension numbers else,
        ``advanced`` the parts that count as advanced, ``skip`` those that count as nothing."""
        pos = [k for k in range(len(parts)) if k in advanced]
        between = [k for k in range(pos[0], pos[-1] + 1) if k not in advanced and k not in skip]
        before = sum(basic_dims(k) for k in range(pos[0]) if kinds[k] == "basic")
        total = sum(basic_dims(k) for k in range(len(parts)) if kinds[k] == "basic") + \
            (0 if any(p is Ellipsis for p in parts) else ellipsis)  # trailing dimensions no part names
        basics = list(range(total))
        at = 0 if between else before
        return basics[:at] + ["A"] * nb + basics[at:]

    numpy_order = layout({k for k, kind in enumerate(kinds) if kind != "basic"}, set())
    empty_ellipsis = {k for k in range(len(parts)) if parts[k] is Ellipsis and ellipsis == 0}
    torch_order = layout({k for k, kind in enumerate(kinds) if kind == "adv"},
                         {k for k, kind in enumerate(kinds) if kind == "int"} | empty_ellipsis)
    if numpy_order == torch_order:
        return None
    first = numpy_order.index("A")
    where = {d: i for i, d in enumerate(numpy_order) if d != "A"}
    perm, a = [], 0
    for d in torch_order:
        if d == "A":
            perm.append(first + a)
            a += 1
        else:
            perm.append(where[d])
    return tuple(perm)


def _sequence(data):
    """A nested list or tuple as ``torch.tensor`` reads it: (its values as nested lists, whether a float64
    value is among them, so that they stay float64 rather than float32). A one-element Tensor in it is
    a number (its item), a NumPy scalar or array its values."""
    wide = False

    def walk(x):
        nonlocal wide
        if isinstance(x, (list, tuple)):
            return [walk(v) for v in x]
        if isinstance(x, Tensor):
            if x.numel() != 1:
                raise ValueError(f"only one-element tensors can be numbers in a list, got one of shape {x.shape}; "
                                 "use numconv.stack to join tensors")
            wide |= x.dtype == np.float64
            return x.item()
        if isinstance(x, (np.ndarray, np.generic)):
            wide |= x.dtype == np.float64
            return x.tolist()
        return x

    return walk(data), wide


class _View:
    """How a view (reshape, permute, basic indexing, diagonal, expand, a split piece: a tensor over
    part of another's memory, which PyTorch's autograd follows) was taken: from ``base`` (the first
    tensor of the chain that is not itself a view) by ``steps``, each (view Function, args, kwargs).
    Autograd records an in-place change through the view as a change of the base (``ViewWrite``),
    and once the base's graph has moved (its ``_gen`` is past ``gen``), the view's place in the graph
    is taken again from the base's (``Tensor._node``). ``grad_mode``: whether autograd recorded every
    step; ``refusal``: why an in-place change through it cannot be recorded, if it cannot; ``follows``:
    whether it can follow its base (not a tensor a backward hook watches)."""

    __slots__ = ("base", "steps", "grad_mode", "gen", "refusal", "follows")

    def __init__(self, base, steps, grad_mode, refusal=None, follows=True):
        self.base, self.steps, self.grad_mode, self.refusal, self.follows = base, steps, grad_mode, refusal, follows
        self.gen = base._gen

    def then(self, fn, args, kwargs, grad_mode, refusal=None):
        """This view followed by one more step."""
        return _View(self.base, self.steps + ((fn, args, kwargs),), self.grad_mode and grad_mode,
                     self.refusal or refusal, self.follows)

    def taken(self, t):
        """The view taken again from ``t`` (the base, or what stands for its old values), as recorded ops."""
        for fn, args, kwargs in self.steps:
            t = fn.apply(t, *args, **kwargs)
        return t


def _view_region(steps, a):
    """The part of array ``a`` (shaped as a view's base) that the view ``steps`` see."""
    for fn, args, kwargs in steps:
        a = fn.region(a, *args, **kwargs)
    return a


def _view_write(steps, a, values):
    """``values`` written into the part of array ``a`` that the view ``steps`` see: step by step, each
    part written back where it is a copy (a device slice) rather than a view."""
    (fn, args, kwargs), *rest = steps
    if not rest:
        fn.write(a, values, *args, **kwargs)
        return
    part = fn.region(a, *args, **kwargs)
    _view_write(rest, part, values)
    if not M.may_share(part, a):
        fn.write(a, part, *args, **kwargs)


_EXPANDED = ("an expanded tensor is being changed in place with autograd recording: more than one of its "
             "elements is one element of the tensor it was expanded from. clone() it first")


class Tensor:
    """``Tensor(data, *, requires_grad=False, dtype=None)``: wraps a NumPy (or CUDA) array, shared, not copied.

    Python floats and lists become float32 arrays; NumPy arrays and scalars keep their dtype
    (other float widths become float32). Only floating tensors can require gradients.
    """

    __array_priority__ = 1000  # so ndarray <op> Tensor defers to Tensor's reflected operators
    __hash__ = object.__hash__  # identity: __eq__ is elementwise

    def __init__(self, data, *more, requires_grad=False, dtype=None):
        if more:  # torch.Tensor(2, 3): an uninitialized tensor of that shape, which numconv does not make
            raise TypeError(f"Tensor(data, *, requires_grad=False, dtype=None) takes one positional argument, got "
                            f"{1 + len(more)}; for a tensor of a shape use numconv.zeros{(data,) + more}")
        source = None
        if isinstance(data, Tensor):
            source, data = data, data.data
        dtype = _dtype(dtype)
        if dispatch.device_of(data) == dispatch.CPU:
            if type(data).__module__.split(".")[0] == "torch":  # a CPU torch tensor: its values, as NumPy sees them
                data = np.array(data.detach().numpy() if hasattr(data, "detach") else data)
            native = isinstance(data, (np.ndarray, np.generic))
            if isinstance(data, (list, tuple)):
                data, native = _sequence(data)
            arr = np.asarray(data)
            if arr.dtype.byteorder not in "=|":  # big-endian data (from a file, say): the same values, native
                arr = arr.astype(arr.dtype.newbyteorder("="))
            if arr.dtype.kind not in "biuf":  # None, strings, objects, complex: nothing the ops can take
                raise TypeError(f"Tensor data must be booleans, integers or floating-point numbers, got "
                                f"{type(data).__name__} of dtype {arr.dtype}")
            if dtype is not None:
                arr = arr.astype(dtype, copy=False)
            elif arr.dtype.kind == "f" and (arr.dtype not in (np.float32, np.float64) or not native):
                arr = arr.astype(_DEFAULT_DTYPE)  # Python floats, lists, float16
            data = arr
        elif dtype is not None and np.dtype(data.dtype) != dtype:
            raise NotImplementedError("casting a CUDA array in the Tensor constructor is not supported yet")
        if requires_grad and np.dtype(data.dtype).kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {data.dtype}")
        self.data = data
        self._requires_grad = bool(requires_grad)
        self._grad = None
        self._node = None
        self._index = 0
        if source is not None and data is source.data:  # one memory: one version counter
            source._share(self)

    @classmethod
    def _of(cls, data, requires_grad=False):
        """A Tensor around an array an op returned, without the constructor's conversions when it
        needs none (a NumPy array of a Tensor's dtype, or a device array); anything else, a NumPy
        scalar for one, goes through the constructor. Function.apply wraps every output with it."""
        if type(data) is np.ndarray:
            if data.dtype.kind == "f" and data.dtype != np.float32 and data.dtype != np.float64:
                return cls(data, requires_grad=requires_grad)
        elif dispatch.device_of(data) == dispatch.CPU:
            return cls(data, requires_grad=requires_grad)
        t = object.__new__(cls)
        t.data, t._requires_grad, t._grad, t._node_, t._index = data, requires_grad, None, None, 0
        return t

    # ---- metadata
    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return np.dtype(self.data.dtype)

    @property
    def ndim(self):
        return len(self.data.shape)

    @property
    def size(self):
        """The number of elements (an int, as ``ndarray.size``); called, ``t.size()`` is the shape and
        ``t.size(dim)`` one dimension's length, as ``torch.Tensor.size``."""
        return _Size(self.numel(), self.shape)

    def numel(self):
        return int(np.prod(self.data.shape))

    def dim(self):
        return self.ndim

    @property
    def device(self):
        return dispatch.device_of(self.data)

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        return None if self._node is None else self._node.fn

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self):
        a = np.asarray(self.numpy())
        body = np.array2string(a, separator=", ", prefix="tensor(")
        extra = "" if a.dtype == np.float32 else f", dtype={a.dtype}"
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({body}{extra}{grad})"

    # ---- conversion
    def numpy(self):
        return M.to_host(self.data)

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def item(self):
        return self.numpy().item()

    def tolist(self):
        return self.numpy().tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.numel()} elements is ambiguous")
        return bool(self.item())

    def __index__(self):
        """A one-element integer (or bool) tensor as a Python int, where Python asks for an index:
        ``range(t)``, ``seq[t]``, as PyTorch's."""
        if self.dtype.kind not in "biu" or self.numel() != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an index, got dtype "
                            f"{self.dtype} and shape {self.shape}")
        return int(self.item())

    def __format__(self, spec):
        """A 0-d tensor formats as its number (``f"{loss:.4f}"``), as PyTorch's; others as ``str`` (with
        an empty spec only)."""
        if self.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __contains__(self, element):
        """Whether any element equals ``element`` (a number or a tensor, compared by broadcasting)."""
        if not isinstance(element, (Tensor, numbers.Number, np.generic)):
            raise TypeError(f"Tensor.__contains__ takes a tensor or a number, got {type(element).__name__}")
        return bool((self == element).any())

    def __getstate__(self):
        """What pickle and ``copy.deepcopy`` keep: everything but a view's link to the tensor it was taken
        from and a device copy's write-back, since the copy gets memory of its own."""
        state = self.__dict__.copy()
        state.pop("_view", None)
        state.pop("_writeback", None)
        return state

    def detach(self):
        """The same array, cut from the graph."""
        out = Tensor(self.data)
        self._share(out)
        return out

    def clone(self):
        return Clone.apply(self)

    def contiguous(self):
        """This tensor where its memory is C-contiguous, else a copy (with gradient), as PyTorch's: a
        transposed CPU view, or a device copy standing for a strided view of another tensor."""
        if self._writeback is None and (not isinstance(self.data, np.ndarray) or self.data.flags.c_contiguous):
            return self
        return Clone.apply(self)

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def requires_grad(self):
        if self._view is not None and not self._follow_base(strict=False):
            return True  # a view that cannot follow its base's change (as PyTorch's): an op using it raises
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, requires_grad):
        if requires_grad and self.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad = False on a tensor computed by autograd (not a leaf) would cut the "
                               "graph; use y.detach() for a copy outside it")
        self._requires_grad = bool(requires_grad)

    @property
    def grad(self):
        """The gradient backward accumulated here (a leaf's, or a non-leaf's after ``retain_grad``), or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        """None, or a Tensor (or array) of this tensor's shape, dtype and device, as PyTorch checks."""
        if value is not None:
            if not isinstance(value, Tensor):
                if not (hasattr(value, "shape") and hasattr(value, "dtype")):
                    raise TypeError(f"grad must be a Tensor or None, got {type(value).__name__}")
                value = Tensor(value)
            if value.shape != self.shape:
                raise ValueError(f"grad of shape {value.shape} assigned to a tensor of shape {self.shape}")
            if value.dtype != self.dtype:
                raise TypeError(f"grad of dtype {value.dtype} assigned to a tensor of dtype {self.dtype}")
            if value.device != self.device:
                raise ValueError(f"grad on {value.device} assigned to a tensor on {self.device}")
        self._grad = value

    def detach_(self):
        """Cut this tensor from the graph, in place: it becomes a leaf that does not require grad. Not a
        view's (as PyTorch): its base's gradient would miss what an in-place change through it does."""
        if self._view is not None:
            raise RuntimeError("detach_() of a view (a slice, reshape, transpose, ... of another tensor): "
                               "use detach(), which gives a new tensor over the same memory")
        self._node, self._index, self._requires_grad = None, 0, False
        return self

    def t(self):
        """The transpose of a tensor of at most 2 dimensions, as ``torch.Tensor.t``."""
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor of at most 2 dimensions, got shape {self.shape}; use transpose")
        return self._permute(tuple(reversed(range(self.ndim))))

    def astype(self, dtype):
        """This tensor as ``dtype`` (differentiable between float dtypes; ``self`` when it already is)."""
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        return Cast.apply(self, dtype)

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def long(self):
        return self.astype(np.int64)

    def int(self):
        return self.astype(np.int32)

    def bool(self):
        return self.astype(np.bool_)

    def to(self, dtype_or_device=None, dtype=None, device=None):
        """``t.to(dtype)``, ``t.to('cuda')``, ``t.to('cpu')``, ``t.to('cuda', numpy.float64)``: ``t`` itself
        when nothing changes, else a copy (differentiable: the gradient moves back). Asking for CUDA
        where there is none raises RuntimeError."""
        if _is_device(dtype_or_device):
            device = dtype_or_device if device is None else device
        elif dtype is None:
            dtype = dtype_or_device
        out = self
        if device is not None:
            out = ToDevice.apply(out, device=_device_name(device)) if _device_name(device) != self.device else out
        if dtype is not None:
            out = out.astype(dtype)
        return out

    def cuda(self, device=None):
        """This tensor on the GPU (``to('cuda')``)."""
        return self.to(dispatch.CUDA if device is None else f"{dispatch.CUDA}:{device}")

    def cpu(self):
        """This tensor on the CPU (``to('cpu')``)."""
        return self.to(dispatch.CPU)

    @property
    def is_cuda(self):
        return self.device == dispatch.CUDA

    # ---- in-place
    # Tensors over one memory (a tensor, its views and slices, its detach()) share a version counter
    # ``_vc`` = [version, shared]: each in-place change counts in it, and backward refuses to use an
    # array its forward saved once that count moved. ``shared`` says another tensor sees the memory.
    # On CUDA a slice that is not contiguous (or a permute) is a copy, not a view: ``_writeback``
    # (the tensor it came from, and how to write it there) carries in-place changes back.
    _vc = None
    _writeback = None
    # A view's ``_View`` (None: not a view); and on a tensor views are taken from, ``_gen`` counts the
    # in-place changes autograd recorded on it (directly or through a view): its views' places in the
    # graph are taken again from its new one when they are next used.
    _view = None
    _gen = 0

    @property
    def _node(self):
        """The graph node that made this tensor's values (None: a leaf); a view's is brought up to date
        with its base's first."""
        if self._view is not None:
            self._follow_base()
        return self._node_

    @_node.setter
    def _node(self, node):
        self._node_ = node

    def _follow_base(self, strict=True):
        """Take this view's place in the graph again from its base's, once the base's graph has moved on
        (an in-place change autograd recorded); a device copy standing for the view takes the base's
        values too. True when done (or nothing to do); a view that cannot follow raises, or with
        ``strict`` False returns False."""
        view = self._view
        base = view.base
        if view.gen == base._gen:
            return True
        if (not view.follows or not view.grad_mode) and not autograd.is_grad_enabled():
            return True  # under no_grad() nothing is recorded: the view is refused only where it would be
        if self._node_ is None and self._requires_grad:
            why = ("the view was made a leaf that requires grad (requires_grad_()), so its gradient cannot "
                   "also reach its base; take it out of place (v = y[0].detach().requires_grad_())")
        elif not view.follows:
            why = view.refusal
        elif not view.grad_mode:
            why = ("it was taken under no_grad(): which values its gradient should reach is ambiguous (PyTorch "
                   "refuses it too). Take the view outside no_grad(), or detach() it")
        else:
            with autograd.enable_grad():
                again = view.taken(base)
            view.gen = base._gen
            if self._writeback is not None:  # a device copy: the base's values, changed, as its own
                M.assign(self.data, again.data)
            before = (self._node_, self._index)
            self._node_, self._index, self._requires_grad = again._node_, again._index, again._requires_grad
            if self._retains and self._node_ is not None:
                self._move_retain_hook(*before)
            return True
        if not strict:
            return False
        raise RuntimeError("a view is used after the tensor it was taken from was changed in place with autograd "
                           f"recording, and cannot follow that change: {why}")

    def _view_taken(self, out, fn, args, kwargs, write=None):
        """``out`` = ``fn.apply(self, *args, **kwargs)`` is a view of this tensor (or, with ``write``, a
        device copy standing for one, which ``write(base array, own array)`` carries changes back
        from): one memory counter for both, and ``out`` knows how it was taken."""
        if write is None:
            self._share(out)
        else:
            out._copy_of(self, write)
        grad_mode = autograd.is_grad_enabled()
        refusal = _EXPANDED if fn is Expand and out.numel() != self.numel() else None  # elements repeated
        step = (fn, args, kwargs)
        # a view made a leaf (arange(6.).reshape(2, 3).requires_grad_()) is its own views' base, so that
        # changing one of them in place is refused as for any leaf's
        leaf_view = self._view is not None and self._node_ is None and self._requires_grad
        out._view = (_View(self, (step,), grad_mode, refusal) if self._view is None or leaf_view
                     else self._view.then(*step, grad_mode, refusal))

    def _alias(self, out, refusal):
        """``out`` is this tensor again, over the same memory, as an op that must neither be changed in
        place under autograd nor follow an in-place change of this tensor (for ``refusal``)."""
        self._share(out)
        out._view = (_View(self, (), autograd.is_grad_enabled(), refusal, follows=False) if self._view is None
                     else _View(self._view.base, self._view.steps, self._view.grad_mode, refusal, follows=False))

    @property
    def _version(self):
        """How many in-place changes this tensor's memory has had (as ``torch.Tensor._version``)."""
        return 0 if self._vc is None else self._vc[0]

    def _counter(self):
        if self._vc is None:
            self._vc = [0, False]
        return self._vc

    def _share(self, other):
        """``other`` sees this tensor's memory: one counter for both."""
        counter = self._counter()
        counter[1] = True
        other._vc = counter
        if self._writeback is not None:  # a view of a device copy: a change through it goes on to the copy's base
            other._writeback = (self, _nothing)

    def _copy_of(self, base, write):
        """This tensor stands for a view of ``base`` but is a copy: ``write(base array, own array)``
        carries its in-place changes there."""
        base._share(self)
        self._writeback = (base, write)

    def _written(self):
        """Count an in-place change (and carry it to the tensor this is a device copy of, whose counter
        this one shares: it counts there)."""
        if self._writeback is None:
            self._counter()[0] += 1
            return
        base, write = self._writeback
        write(base.data, self.data)
        base._written()

    def _recorded_set(self, index, value):
        """``self[index] = value`` as autograd records it, when it must (``_inplace``); else False."""
        if not self._records_inplace(value):
            return False
        self._inplace(lambda old, v: SetItem.apply(old, v, index=index), value, saves_input=False)
        return True

    def zero_(self):
        if not self._recorded_set(Ellipsis, 0):
            M.assign(self.data, 0)
            self._written()
        return self

    def fill_(self, value):
        if isinstance(value, Tensor) and value.ndim:
            raise ValueError(f"fill_ takes a number or a 0-d tensor, got a tensor of shape {value.shape}")
        if self._recorded_set(Ellipsis, value):
            return self
        M.assign(self.data, value.data if isinstance(value, Tensor) else value)
        self._written()
        return self

    def copy_(self, src):
        shape = tuple(src.shape) if isinstance(src, Tensor) else tuple(np.shape(src))
        if shape != self.shape and np.broadcast_shapes(shape, self.shape) != self.shape:
            raise ValueError(f"copy_: source shape {shape} does not broadcast to {self.shape}")
        if self._recorded_set(Ellipsis, src):
            return self
        M.assign(self.data, src.data if isinstance(src, Tensor) else src)
        self._written()
        return self

    def __setitem__(self, index, value):
        index = _index(index)
        if getattr(value, "ndim", 0):
            value = self._value_for(index, value if isinstance(value, Tensor) else Tensor(value))
        if self._recorded_set(index, value):
            return
        M.assign(self.data, value.data if isinstance(value, Tensor) else value, index)
        self._written()

    def _value_for(self, index, value):
        """``value`` as NumPy assigns it to ``self[index]``, from what PyTorch accepts: leading dimensions
        of size 1 beyond the region's dropped, and the region's dimensions in NumPy's order where
        PyTorch's differs (``_torch_layout``)."""
        perm = _torch_layout(index, self.ndim)
        if all(not getattr(p, "ndim", 0) or isinstance(p, np.ndarray) for p in (index if isinstance(index, tuple)
                                                                                else (index,))):
            region = np.lib.stride_tricks.as_strided(np.zeros(1, np.int8), self.shape, (0,) * self.ndim)[index].shape
            torch_region = region if perm is None else tuple(region[p] for p in perm)
        elif perm is not None:  # device index arrays: their count is on the device, the number of dimensions not
            torch_region = (None,) * len(perm)
        else:
            return value
        extra = value.ndim - len(torch_region)
        if extra > 0:
            if any(n != 1 for n in value.shape[:extra]):
                raise ValueError(f"cannot assign a value of shape {value.shape} to a region of shape {torch_region}")
            value = value.reshape(*value.shape[extra:])
        if perm is not None:  # NumPy's order: the value's dimensions moved with the region's (ones added first)
            value = value.reshape(*(1,) * (len(perm) - value.ndim), *value.shape)
            value = value.permute(*(int(p) for p in np.argsort(perm)))
        return value

    def _inplace(self, op, other, saves_input=None):
        """``self op= other`` in place, as PyTorch: every name for this tensor sees the new values. With
        autograd recording, the op is recorded on a stand-in for the old values and this tensor takes
        over the result's place in the graph; through a view, the change is recorded on the view's base
        (``_inplace_view``). ``saves_input``: whether the op's backward keeps its input (None: all but
        + and - do), which the stand-in must then hold as a copy."""
        recording = self._records_inplace(other)
        if saves_input is None:
            saves_input = op not in (Tensor.__add__, Tensor.__sub__)
        if recording and self._node_ is None and self._requires_grad:
            raise RuntimeError(
                "a leaf tensor that requires grad is being modified in place; "
                "do it inside `with numconv.no_grad():`"
            )
        if recording and self._view is not None:
            return self._inplace_view(op, other, saves_input)
        if recording:
            # the stand-in: this memory for + and - (whose backward saves nothing), else a copy of the old
            # values, which the op's backward may save (mul, div, pow, clamp, log, ...)
            old = self._stand_in(saves_input)
            out = op(old, _with_stand_in(other, self, old))
        else:
            with autograd.no_grad():
                out = op(self, other)
        self._write_result(out)
        if out._node is not None:
            self._take_place(out)
        elif recording and self._node_ is not None:  # a result outside the graph (a comparison, //): so is this
            self._leave_graph()  # tensor now, not its old values' op
        return self

    def _leave_graph(self):
        """This non-leaf tensor, changed in place to values outside the graph, becomes a leaf that does not
        require grad; retain_grad's hook comes off the old values' node (``.grad`` is the newest values')."""
        node, index = self._node_, self._index
        if self._retains:
            hooks = node.hooks.get(index, []) if node.hooks else []
            if self._retain_hook in hooks:
                hooks.remove(self._retain_hook)
            self._retains, self._retain_hook = False, None
        self._node, self._index, self._requires_grad = None, 0, False
        self._gen += 1

    def _records_inplace(self, other):
        """Whether autograd records an in-place change of this tensor by ``other``: it is recording, and
        this tensor, ``other`` or (for a view) the view's base requires grad."""
        if not autograd.is_grad_enabled():
            return False
        if self.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in _operands_of(other)):
            return True
        return self._view is not None and self._view.base.requires_grad

    def _stand_in(self, copy):
        """A tensor for this one's values as they are now, in its place in the graph: a copy of them
        (``copy``), or this memory, counted as this tensor's (a saved array of it would be seen changing)."""
        old = Tensor._of(M.copy(self.data) if copy else self.data, self.requires_grad)
        old._node, old._index = self._node, self._index
        if not copy:
            old._vc = self._counter()
        return old

    def _write_result(self, out):
        if out.shape != self.shape:
            raise RuntimeError(f"in-place result of shape {out.shape} does not fit the tensor's shape {self.shape}")
        if _CATEGORY[out.dtype.kind] > _CATEGORY[self.dtype.kind]:  # a lower one is cast, as PyTorch's
            raise RuntimeError(f"in-place result of dtype {out.dtype} does not fit the tensor's dtype {self.dtype}")
        M.assign(self.data, out.data)
        self._written()

    def _take_place(self, out):
        """This tensor (changed in place) now stands where ``out`` is in the graph; its views follow."""
        before = (self._node_, self._index)
        self._node, self._index, self._requires_grad = out._node, out._index, True
        self._gen += 1
        if self._retains:  # .grad is the gradient of the tensor's newest values (as PyTorch's)
            self._move_retain_hook(*before)

    def _inplace_view(self, op, other, saves_input):
        """``self op= other`` through a view, with autograd recording (as PyTorch's): the op is recorded on
        the view taken again from a stand-in for its base's old values, and the base then stands where
        ``ViewWrite`` of those and the result is; the view (and every other view of the base) follows
        the base when next used."""
        view = self._view
        base = view.base
        if view.refusal is not None:
            raise RuntimeError(view.refusal)
        if not view.grad_mode:
            raise RuntimeError("a view taken under no_grad() is being changed in place with autograd recording: "
                               "which values its gradient should reach is ambiguous (PyTorch refuses it too). "
                               "Take the view outside no_grad(), or change it under no_grad()")
        if base.is_leaf and base.requires_grad:
            raise RuntimeError("a view of a leaf tensor that requires grad is being changed in place; "
                               "do it inside `with numconv.no_grad():`")
        old_base = base._stand_in(copy=False)
        old = view.taken(old_base)  # shares the base's memory on the CPU: a copy where the op keeps it
        if saves_input and M.may_share(old.data, base.data):
            old = old._stand_in(copy=True)
        out = op(old, _with_stand_in(other, self, old))
        self._write_result(out)
        if out._node is not None or old_base.requires_grad:  # a result outside the graph: no gradient there
            base._take_place(ViewWrite.apply(old_base, out, steps=view.steps))
        return self

    def __iadd__(self, other):
        return self._inplace(Tensor.__add__, other)

    def __isub__(self, other):
        return self._inplace(Tensor.__sub__, other)

    def __imul__(self, other):
        return self._inplace(Tensor.__mul__, other)

    def __itruediv__(self, other):
        return self._inplace(Tensor.__truediv__, other)

    def __ifloordiv__(self, other):
        return self._inplace(Tensor.__floordiv__, other)

    def __imod__(self, other):
        return self._inplace(Tensor.__mod__, other)

    def __ipow__(self, other):
        return self._inplace(Tensor.__pow__, other)

    # PyTorch's named in-place methods: each is its out-of-place op written back, as ``+=`` is
    def add_(self, other, alpha=1):
        return self._inplace(Tensor.__add__, other if alpha == 1 else other * shapes.real(alpha, "alpha"))

    def sub_(self, other, alpha=1):
        return self._inplace(Tensor.__sub__, other if alpha == 1 else other * shapes.real(alpha, "alpha"))

    def mul_(self, other):
        return self._inplace(Tensor.__mul__, other)

    def div_(self, other):
        return self._inplace(Tensor.__truediv__, other)

    def pow_(self, exponent):
        return self._inplace(Tensor.__pow__, exponent)

    def clamp_(self, min=None, max=None):  # noqa: A002 (PyTorch's names)
        return self._inplace(lambda t, _: t.clamp(min, max), None)

    clip_ = clamp_

    def masked_fill(self, mask, value):
        """``value`` where ``mask`` (boolean, broadcasting to this shape) holds, else this tensor's values."""
        if isinstance(value, Tensor) and value.ndim:
            raise ValueError(f"masked_fill takes a number or a 0-d tensor, got a tensor of shape {value.shape}")
        if not isinstance(value, (Tensor, numbers.Number, np.generic)):
            raise TypeError(f"masked_fill: value must be a number or a 0-d tensor, got {type(value).__name__}")
        shape, dtype = tuple(getattr(mask, "shape", ())), np.dtype(getattr(mask, "dtype", object))
        if dtype != np.bool_:
            raise TypeError(f"masked_fill: mask must be a boolean tensor, got dtype {dtype}")
        if not shapes.broadcasts_to(shape, self.shape):
            raise ValueError(f"masked_fill: mask of shape {shape} does not broadcast to the tensor's shape {self.shape}")
        out = where(mask, value, self)
        return out if out.dtype == self.dtype else out.astype(self.dtype)

    def masked_fill_(self, mask, value):
        return self._inplace(lambda t, v: t.masked_fill(mask, v), value)

    def _unary_(self, name, saves_input=True):
        return self._inplace(lambda t, _: getattr(t, name)(), None, saves_input)

    def relu_(self):
        return self._unary_("relu", saves_input=False)  # its backward keeps the output

    def exp_(self):
        return self._unary_("exp", saves_input=False)

    def log_(self):
        return self._unary_("log")

    def sqrt_(self):
        return self._unary_("sqrt", saves_input=False)

    def abs_(self):
        return self._unary_("abs")

    def neg_(self):
        return self._unary_("__neg__", saves_input=False)

    def sigmoid_(self):
        return self._unary_("sigmoid", saves_input=False)

    def tanh_(self):
        return self._unary_("tanh", saves_input=False)

    # ---- autograd
    _hooks = None  # a leaf's gradient hooks (a non-leaf's live on its node)
    _retains = False
    _retain_hook = None

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient each backward pass (a leaf's: summed over every
        path, before it is added to ``.grad``); a Tensor it returns replaces the gradient. Returns a
        handle whose ``remove()`` takes the hook off, as ``torch.Tensor.register_hook``."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self._node is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            if self._node.hooks is None:
                self._node.hooks = {}
            hooks = self._node.hooks.setdefault(self._index, [])
        # retain_grad's hook stays the last one, so that .grad holds the gradient the hooks made (as PyTorch's)
        hooks.insert(len(hooks) - 1 if self._retains and hooks else len(hooks), hook)
        return autograd.RemovableHandle(hooks, hook)

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` on backward (summed over calls); a leaf's
        is kept anyway."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        if self._node is not None and not self._retains:
            def keep(g):
                self._accumulate_grad(g)

            self.register_hook(keep)
            self._retains, self._retain_hook = True, keep
        return self

    def _move_retain_hook(self, node, index):
        """retain_grad's hook off the node that made the old values, onto this tensor's node, last."""
        hooks = node.hooks.get(index, []) if node is not None and node.hooks else []
        if self._retain_hook in hooks:
            hooks.remove(self._retain_hook)
        if self._node.hooks is None:
            self._node.hooks = {}
        self._node.hooks.setdefault(self._index, []).append(self._retain_hook)

    @property
    def retains_grad(self):
        return self._retains

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None, *, grad=None):
        """Back-propagate from this tensor (a scalar, or pass ``gradient`` of its shape); leaves get
        ``.grad`` (or only ``inputs``), as ``torch.Tensor.backward``. ``grad`` is ``gradient``'s older name."""
        autograd.backward(self, gradient if gradient is not None else grad, retain_graph, create_graph, inputs)

    def _accumulate_grad(self, g, owned=False):
        """Add ``g`` into ``.grad``, in place as PyTorch does (a reference to ``.grad`` sees the sum);
        ``owned``: nothing else holds ``g`` (``Function.fresh_grads``), so a first gradient is kept as
        it is instead of copied. A Tensor ``g`` in a graph (create_graph) is kept as it is, or added out
        of place, so ``.grad`` stays differentiable as PyTorch's."""
        if isinstance(g, Tensor):
            if g.requires_grad:  # a copy, recorded: g may also be another leaf's gradient, or a caller's seed
                self._grad = g.clone() if self._grad is None else self._grad + g
                return
            g = g.data
        if self._grad is None:
            self._grad = Tensor(g if owned else M.copy(g))
        elif self._grad.shape == tuple(g.shape) and _writable(self._grad.data):
            with autograd.no_grad():
                self._grad.add_(Tensor._of(g))
        else:  # a read-only .grad the user assigned (a broadcast view, say): a new one
            self._grad = Tensor(M.add(self._grad.data, g))

    # ---- arithmetic
    def __add__(self, other):
        a, b = _operands(self, other)
        return Add.apply(a, b)

    def __radd__(self, other):
        a, b = _operands(self, other)
        return Add.apply(b, a)

    def __sub__(self, other):
        a, b = _operands(self, other)
        return Sub.apply(a, b)

    def __rsub__(self, other):
        a, b = _operands(self, other)
        return Sub.apply(b, a)

    def __mul__(self, other):
        a, b = _operands(self, other)
        return Mul.apply(a, b)

    def __rmul__(self, other):
        a, b = _operands(self, other)
        return Mul.apply(b, a)

    def __truediv__(self, other):
        a, b = _operands(self, other, floating=True)
        return Div.apply(a, b)

    def __rtruediv__(self, other):
        a, b = _operands(self, other, floating=True)
        return Div.apply(b, a)

    def __pow__(self, other):
        a, b = _operands(self, other)
        return Pow.apply(a, b)

    def __rpow__(self, other):
        a, b = _operands(self, other)
        return Pow.apply(b, a)

    def __floordiv__(self, other):
        return _floor_divide(*_divisible(self, other, "//"))

    def __rfloordiv__(self, other):
        b, a = _divisible(self, other, "//", reflected=True)
        return _floor_divide(a, b)

    def __mod__(self, other):
        return Remainder.apply(*_divisible(self, other, "%"))

    def __rmod__(self, other):
        b, a = _divisible(self, other, "%", reflected=True)
        return Remainder.apply(a, b)

    def floor_divide(self, other):
        """floor(self / other), as ``//`` and PyTorch's ``floor_divide``: an integer result for integer
        operands (a 0 divisor is an error, as in PyTorch), inf or NaN for a float 0. Not differentiable
        (its gradient is 0 wherever it has one): the result is not part of the graph."""
        return self // other

    def remainder(self, other):
        """self - other * floor(self / other), with other's sign, as ``%`` and PyTorch's ``remainder``."""
        return self % other

    # PyTorch's named arithmetic: the operators above
    def _scaled(self, other, alpha, what, name="alpha"):
        """other * alpha for ``add``/``sub``/``addcmul`` (alpha an int for integer tensors, as PyTorch's)."""
        if isinstance(alpha, numbers.Integral) and not isinstance(alpha, (bool, np.bool_)):
            return other if alpha == 1 else other * int(alpha)
        alpha = shapes.real(alpha, f"{what}: {name}")
        kinds = [self.dtype.kind, other.dtype.kind if isinstance(other, Tensor) else np.asarray(other).dtype.kind]
        if all(k in "biu" for k in kinds):
            raise TypeError(f"{what}: {name} must be an integer for integer tensors, got {alpha!r} (as PyTorch)")
        return other * alpha

    def add(self, other, *, alpha=1):
        """self + alpha * other, in the dtype the two promote to (alpha * other computed in it, as PyTorch's)."""
        a, b = _operands(self, other)
        return a + a._scaled(b, alpha, "add")

    def sub(self, other, *, alpha=1):
        """self - alpha * other, in the dtype the two promote to."""
        a, b = _operands(self, other)
        return a - a._scaled(b, alpha, "sub")

    subtract = sub

    def mul(self, other):
        return self * other

    multiply = mul

    def div(self, other, *, rounding_mode=None):
        """self / other; ``rounding_mode`` None (true division, a float result), "trunc" (toward 0)
        or "floor" (as ``//``), those two in the operands' dtype with gradients 0 (flat wherever
        they have a derivative), as PyTorch's."""
        if rounding_mode is None:
            return self / other
        if rounding_mode not in ("trunc", "floor"):
            raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
        a, b = _divisible(self, other, "div")
        if isinstance(b, Tensor):
            M.same_device(input=a.data, other=b.data)
        return RoundedDivide.apply(a, b, mode=rounding_mode)

    divide = div

    def true_divide(self, other):
        return self / other

    def pow(self, exponent):
        return self ** exponent

    def neg(self):
        return -self

    negative = neg

    def __matmul__(self, other):
        a, b = _operands(self, other)
        return MatMul.apply(*_matmul_shapes(a, b))

    def __rmatmul__(self, other):
        a, b = _operands(self, other)
        return MatMul.apply(*_matmul_shapes(b, a))

    def __neg__(self):
        return Neg.apply(self)

    def __pos__(self):
        return self

    # ---- comparisons: bool tensors, no graph
    def _compare(self, op, other):
        if not isinstance(other, (Tensor, np.ndarray, np.generic, bool, int, float)):
            return NotImplemented  # None, a string, a list: Python's own ==, !=, or a TypeError for <
        a, b = _operands(self, other)
        return Tensor(M.compare(op, a.data, b.data if isinstance(b, Tensor) else b))

    def __eq__(self, other):
        return self._compare("eq", other)

    def __ne__(self, other):
        return self._compare("ne", other)

    def __lt__(self, other):
        return self._compare("lt", other)

    def __le__(self, other):
        return self._compare("le", other)

    def __gt__(self, other):
        return self._compare("gt", other)

    def __ge__(self, other):
        return self._compare("ge", other)

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    # ---- elementwise (exp, log, sqrt, sigmoid and tanh of an integer or bool tensor are float32, as in PyTorch)
    def _floating(self):
        return self if self.dtype.kind == "f" else self.astype(_DEFAULT_DTYPE)

    def exp(self):
        return Exp.apply(self._floating())

    def log(self):
        return Log.apply(self._floating())

    def sqrt(self):
        return Sqrt.apply(self._floating())

    def abs(self):
        return Abs.apply(self)

    absolute = abs

    def clamp(self, min=None, max=None):  # noqa: A002 (PyTorch's names)
        if min is None and max is None:
            raise ValueError("clamp needs at least one of min and max")
        for name, b in (("min", min), ("max", max)):
            if isinstance(b, Tensor) and b.requires_grad:
                raise ValueError(f"clamp: {name} requires grad, but the bounds' gradient is not computed; pass "
                                 f"{name}.detach()")
        bounds = {k: v.data if isinstance(v, Tensor) else v for k, v in (("min", min), ("max", max))}
        M.same_device(input=self.data, **{k: v for k, v in bounds.items() if hasattr(v, "shape")})
        t = self
        for _ in range(2):  # PyTorch's promotion, as for arithmetic; a floating Tensor bound of a floating tensor
            # stays itself (its in-place change after the forward is then caught), NumPy's clip promotes the two
            if min is not None and not _both_floating(t, min):
                t, min = _operands(t, min)
            if max is not None and not _both_floating(t, max):
                t, max = _operands(t, max)
        return Clamp.apply(t, min, max)  # Tensor bounds as they are: an in-place change to one is then caught

    clip = clamp

    def relu(self):
        return Relu.apply(self)

    def sigmoid(self):
        return Sigmoid.apply(self._floating())

    def tanh(self):
        return Tanh.apply(self._floating())

    def _floating_as(self, dtype, what):
        """``_floating()``, or this tensor cast to ``dtype`` first (the ``dtype=`` of softmax, as PyTorch's)."""
        return self._floating() if dtype is None else self.astype(shapes.float_dtype(dtype, f"{what} dtype"))

    def softmax(self, dim, dtype=None):
        return Softmax.apply(self._floating_as(dtype, "softmax"), axis=_axis(dim, self.ndim))

    def log_softmax(self, dim, dtype=None):
        return LogSoftmax.apply(self._floating_as(dtype, "log_softmax"), axis=_axis(dim, self.ndim))

    # ---- more elementwise math, PyTorch's names (integer and bool tensors give float32, as there)
    def _elementwise(self, name):
        return Elementwise.apply(self._floating(), name=name)

    def expm1(self):
        """exp(self) - 1, accurate near 0."""
        return self._elementwise("expm1")

    def log1p(self):
        """log(1 + self), accurate near 0."""
        return self._elementwise("log1p")

    def log2(self):
        return self._elementwise("log2")

    def log10(self):
        return self._elementwise("log10")

    def exp2(self):
        return 2.0 ** self._floating()

    def sin(self):
        return self._elementwise("sin")

    def cos(self):
        return self._elementwise("cos")

    def tan(self):
        return self._elementwise("tan")

    def asin(self):
        return self._elementwise("arcsin")

    def acos(self):
        return self._elementwise("arccos")

    def atan(self):
        return self._elementwise("arctan")

    def sinh(self):
        return self._elementwise("sinh")

    def cosh(self):
        return self._elementwise("cosh")

    def asinh(self):
        return self._elementwise("arcsinh")

    def acosh(self):
        """NaN below 1."""
        return self._elementwise("arccosh")

    def atanh(self):
        """+-inf at +-1, NaN beyond."""
        return self._elementwise("arctanh")

    arcsinh, arccosh, arctanh = asinh, acosh, atanh

    def erf(self):
        return self._elementwise("erf")

    def erfc(self):
        """1 - erf(self), accurate where erf is near 1."""
        return self._elementwise("erfc")

    def erfinv(self):
        """The inverse of erf on [-1, 1] (+-inf at +-1, NaN beyond; ``kernels/special.py``)."""
        return self._elementwise("erfinv")

    def lgamma(self):
        """log |Gamma(self)|: inf at the poles 0, -1, -2, ...; the gradient is digamma."""
        return self._elementwise("lgamma")

    def digamma(self):
        """Gamma'(x) / Gamma(x): -inf at +0, inf at -0, NaN at the negative integers, as PyTorch's."""
        return self.polygamma(0)

    def polygamma(self, n):
        """The ``n``-th derivative of digamma (``n`` = 0: digamma itself), as ``torch.polygamma(n, self)``;
        (-1)^(n+1) inf at the poles."""
        n = shapes.integer(n, "polygamma: n", 0)
        return Polygamma.apply(self._floating(), n=n)

    def mvlgamma(self, p):
        """The log of the multivariate gamma function of dimension ``p``, as ``torch.mvlgamma``: sum over
        i < p of lgamma(self - i/2), plus p (p - 1) / 4 log(pi). Every element must be above (p - 1) / 2."""
        p = shapes.integer(p, "mvlgamma: p", 1)
        x = self._floating()
        if x.numel() and not bool((x > (p - 1) / 2).all()):
            raise ValueError(f"mvlgamma: all elements must be greater than (p - 1) / 2 = {(p - 1) / 2} for p={p}")
        steps = arange(p, dtype=x.dtype).to(x.device) * -0.5
        return (x.unsqueeze(-1) + steps).lgamma().sum(-1) + p * (p - 1) / 4 * math.log(math.pi)

    arcsin, arccos, arctan = asin, acos, atan

    def square(self):
        """self * self (an integer stays an integer, a bool becomes int64, as PyTorch's)."""
        t = self.astype(np.int64) if self.dtype == np.bool_ else self
        return t * t

    def reciprocal(self):
        return 1.0 / self._floating()

    def rsqrt(self):
        """1 / sqrt(self): inf at 0, NaN below."""
        return self.sqrt().reciprocal()

    def sign(self):
        """-1, 0 or 1 in this dtype, 0 for NaN and -0.0 (a bool stays itself), as PyTorch's; its gradient is 0."""
        return Elementwise.apply(self, name="sgn")

    sgn = sign

    def _rounded(self, name):
        if self.dtype == np.bool_:
            raise TypeError(f"{name} of a bool tensor is not defined (as in PyTorch); cast it first (.long())")
        if self.dtype.kind in "iu":
            return self.clone()  # whole already
        return Elementwise.apply(self, name=name)

    def floor(self):
        """The largest whole number <= self (an integer tensor: a copy); its gradient is 0."""
        return self._rounded("floor")

    def ceil(self):
        """The smallest whole number >= self; its gradient is 0."""
        return self._rounded("ceil")

    def trunc(self):
        """self rounded toward 0; its gradient is 0."""
        return self._rounded("trunc")

    fix = trunc

    def round(self, decimals=0):
        """The nearest whole number, a half to the even one (0.5 -> 0, 1.5 -> 2), or with ``decimals``
        digits after the point (before it, if negative), as PyTorch's: rounded self * 10^decimals over
        10^decimals, in this dtype. Its gradient is 0."""
        if isinstance(decimals, bool) or not isinstance(decimals, numbers.Integral):
            raise TypeError(f"round: decimals must be an int, got {decimals!r}")
        if decimals == 0:
            return self._rounded("rint")
        if self.dtype.kind != "f":
            raise TypeError(f"round with decimals={decimals} needs a floating-point tensor, got {self.dtype} (as PyTorch)")
        scale = 10.0 ** abs(int(decimals))
        if decimals > 0:
            return (self * scale)._rounded("rint") / scale
        return (self / scale)._rounded("rint") * scale

    def frac(self):
        """self - trunc(self), with self's sign; its gradient is 1. Floating-point tensors only (as PyTorch)."""
        if self.dtype.kind != "f":
            raise TypeError(f"frac needs a floating-point tensor, got {self.dtype} (as PyTorch)")
        return self - self.trunc()

    def fmod(self, other):
        """self - other * trunc(self / other), with self's sign (C's fmod; ``remainder`` takes other's).
        An integer other must hold no 0 (as PyTorch)."""
        return Fmod.apply(*_divisible(self, other, "fmod"))

    def atan2(self, other):
        """The angle of the point (other, self), in [-pi, pi]."""
        return Atan2.apply(*_operands(self, other, floating=True))

    arctan2 = atan2

    def hypot(self, other):
        """sqrt(self^2 + other^2), without overflow."""
        return Hypot.apply(*_operands(self, other, floating=True))

    def copysign(self, other):
        """|self| with other's sign (-0.0 counts as negative)."""
        return Copysign.apply(*_operands(self, other, floating=True))

    def logaddexp(self, other):
        """log(exp(self) + exp(other)), without overflow."""
        return LogAddExp.apply(*_operands(self, other, floating=True))

    def xlogy(self, other):
        """self * log(other), and 0 where self is 0 (unless other is NaN), as PyTorch's."""
        a, b = _operands(self, other, floating=True)
        b = b if isinstance(b, Tensor) else Tensor(M.full((), b, a.dtype, like=a.data))  # log of a Python float: float64
        return XLogY.apply(a, b)

    def lerp(self, end, weight):
        """self + weight * (end - self), as PyTorch computes it (from end for weight >= 0.5, which
        makes weight 1 give end exactly)."""
        a, b = _operands(self, end)
        if a.dtype.kind != "f":
            raise TypeError(f"lerp needs floating-point tensors, got {a.dtype}")
        d = b - a
        if isinstance(weight, Tensor):
            w = weight if weight.dtype == a.dtype else weight.astype(a.dtype)
            return where(w.abs() < 0.5, a + w * d, b - d * (1 - w))
        w = shapes.real(weight, "weight")
        return a + d * w if abs(w) < 0.5 else b - d * (1 - w)

    def _promoted3(self, tensor1, tensor2):
        """self, tensor1 and tensor2 in the one dtype the three promote to (PyTorch's addcmul computes in it)."""
        a, t1 = _operands(self, tensor1)
        a, t2 = _operands(a, tensor2)
        return a, (t1.astype(a.dtype) if isinstance(t1, Tensor) and t1.dtype != a.dtype else t1), t2

    def addcmul(self, tensor1, tensor2, *, value=1):
        """self + value * tensor1 * tensor2, in the dtype the three promote to."""
        a, t1, t2 = self._promoted3(tensor1, tensor2)
        return a + a._scaled(t1 * t2, value, "addcmul", "value")

    def addcdiv(self, tensor1, tensor2, *, value=1):
        """self + value * tensor1 / tensor2 (a true division: a float result)."""
        a, t1, t2 = self._promoted3(tensor1, tensor2)
        return a + a._scaled(t1 / t2, value, "addcdiv", "value")

    def logaddexp2(self, other):
        """log2(2^self + 2^other), without overflow."""
        a, b = _operands(self, other, floating=True)
        return (a * math.log(2)).logaddexp(b * math.log(2)) * (1 / math.log(2))

    def fmax(self, other):
        """The larger of self and other, the number where one is NaN (NaN where both are); the gradient to
        self where it is taken (ties included), as PyTorch's."""
        a, b = _operands(self, other)
        b = b if isinstance(b, Tensor) else Tensor(M.full((), b, a.dtype, like=a.data))
        return where((a >= b).logical_or(b.isnan()), a, b)

    def fmin(self, other):
        """The smaller of self and other, the number where one is NaN."""
        a, b = _operands(self, other)
        b = b if isinstance(b, Tensor) else Tensor(M.full((), b, a.dtype, like=a.data))
        return where((a <= b).logical_or(b.isnan()), a, b)

    def float_power(self, exponent):
        """self ** exponent in float64, as PyTorch's (both sides cast first)."""
        exponent = exponent.double() if isinstance(exponent, Tensor) else float(shapes.real(exponent, "exponent"))
        return self.double() ** exponent

    def ldexp(self, other):
        """self * 2^other (a float result)."""
        a, b = _operands(self, other, floating=True)
        return a * (2.0 ** b)

    def logit(self, eps=None):
        """log(p / (1 - p)), with p clamped to [eps, 1 - eps] when ``eps`` is given (the gradient 0 outside,
        as PyTorch's)."""
        p = self._floating()
        if eps is not None:
            eps = shapes.real(eps, "eps", 0.0, 0.5)
        return Logit.apply(p, eps)

    def sinc(self):
        """sin(pi x) / (pi x), 1 at 0 (where its gradient is 0)."""
        x = self._floating()
        zero = x == 0
        safe = where(zero, 1.0, x) * math.pi  # no 0 / 0, so no NaN gradient through the branch not taken
        return where(zero, 1.0, safe.sin() / safe)

    def heaviside(self, values):
        """0 where self < 0, ``values`` where self is 0, 1 where self > 0 (not differentiable, as PyTorch's)."""
        values = values if isinstance(values, Tensor) else Tensor(values)
        if values.dtype != self.dtype:
            raise TypeError(f"heaviside: values must have the input's dtype {self.dtype}, got {values.dtype} (as PyTorch)")
        with autograd.no_grad():
            return where(self == 0, values, (self > 0).astype(self.dtype)).astype(self.dtype)

    def clamp_min(self, min):  # noqa: A002 (PyTorch's name)
        return self.clamp(min=min)

    def clamp_max(self, max):  # noqa: A002 (PyTorch's name)
        return self.clamp(max=max)

    # ---- reductions
    def sum(self, dim=None, keepdim=False, *, dtype=None):
        """The sum over ``dim`` (every dimension: None), in ``dtype`` if given (the input cast to it
        first), else in the input's dtype, or int64 for an integer or bool one, as PyTorch's."""
        keepdim = shapes.flag(keepdim, "keepdim")
        t = self.astype(dtype) if dtype is not None else self.astype(np.int64) if self.dtype.kind in "biu" else self
        return Sum.apply(t, axes=_axes(dim, self.ndim), keepdim=keepdim)

    def sum_to_size(self, *size):
        """The sum of this tensor down to ``size``, a shape it broadcasts from (the gradient of that
        broadcast), as ``torch.Tensor.sum_to_size``."""
        shape = _shape_args(size, "size", {}, "sum_to_size")
        if not shapes.broadcasts_to(shape, self.shape) or len(shape) > self.ndim:
            raise ValueError(f"sum_to_size: size {shape} does not broadcast to the tensor's shape {self.shape}")
        lead = self.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and self.shape[lead + i] != 1)
        return (self.sum(axes, keepdim=True) if axes else self).reshape(shape)

    def mean(self, dim=None, keepdim=False, *, dtype=None):
        keepdim = shapes.flag(keepdim, "keepdim")
        t = self if dtype is None else self.astype(dtype)
        if t.dtype.kind != "f":
            raise TypeError(f"mean() needs a floating-point tensor, got dtype {t.dtype}; use .float() or dtype= first")
        return Mean.apply(t, axes=_axes(dim, self.ndim), keepdim=keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """sum((x - mean)^2) / (n - correction) over ``dim``; ``correction`` 1 (Bessel's, the default) or
        any number >= 0, or the older ``unbiased`` (True: 1, False: 0), as PyTorch."""
        if isinstance(dim, (bool, np.bool_)):  # var(False): PyTorch's var(unbiased) overload
            if unbiased is not None:
                raise TypeError(f"var: got unbiased twice (positionally, {dim}, and unbiased={unbiased})")
            dim, unbiased = None, dim
        if unbiased is not None and correction is not None:
            raise ValueError("give correction or unbiased, not both")
        keepdim = shapes.flag(keepdim, "keepdim")
        c = shapes.real(correction, "correction", 0.0) if correction is not None else \
            (1 if unbiased is None else int(bool(unbiased)))
        if self.dtype.kind != "f":
            raise TypeError(f"var() and std() need a floating-point tensor, got dtype {self.dtype}; use .float() first")
        return Var.apply(self, axes=_axes(dim, self.ndim), keepdim=keepdim, correction=c)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return StdFromVar.apply(self.var(dim, unbiased, keepdim, correction=correction))

    def max(self, dim=None, keepdim=False):
        """``max()``: the maximum (gradient shared among ties); ``max(dim)``: (values, indices), the gradient to
        the index; ``max(tuple of dims)``: values, as ``amax``; ``max(other tensor)``: ``maximum``."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        return self._extreme(dim, keepdim, True)

    def min(self, dim=None, keepdim=False):
        """As ``max``, for the minimum (its own reduction: negating would wrap unsigned and INT64_MIN)."""
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        return self._extreme(dim, keepdim, False)

    def maximum(self, other):
        """The elementwise maximum of two tensors (broadcast, promoted), NaN propagating; on a tie the
        gradient is split evenly between them, as PyTorch's."""
        return self._extremum(other, True, "maximum")

    def minimum(self, other):
        return self._extremum(other, False, "minimum")

    def _extremum(self, other, largest, name):
        if not isinstance(other, Tensor):
            raise TypeError(f"{name}: other must be a Tensor, got {type(other).__name__}")
        a, b = _operands(self, other)
        if a.dtype == np.bool_:
            raise TypeError(f"{name} of bool tensors: use | (maximum) or & (minimum)")
        M.same_device(input=a.data, other=b.data)
        return Extremum.apply(a, b, largest=largest)

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        """The product over ``dim`` (one dimension, or every one: None), in ``dtype`` if given, else in
        the input's dtype, or int64 for an integer or bool one, as PyTorch's. The gradient of each
        element is the product of the others, exact where there are zeros."""
        if isinstance(dim, (tuple, list)):
            raise TypeError(f"prod: dim must be one int or None, got {dim!r} (PyTorch's prod takes one dimension)")
        keepdim = shapes.flag(keepdim, "keepdim")
        return Prod.apply(self._accumulating(dtype), axis=None if dim is None else _axis(dim, self.ndim),
                          keepdim=keepdim)

    def cumsum(self, dim, *, dtype=None):
        """Running sums along ``dim``, in ``dtype`` if given, else the input's dtype or int64 for an integer
        or bool one, added left to right, the same order on both backends."""
        return self._running(CumSum, dim, dtype)

    def cumprod(self, dim, *, dtype=None):
        """Running products along ``dim``, as ``cumsum``; the gradient is exact where there are zeros."""
        return self._running(CumProd, dim, dtype)

    def _accumulating(self, dtype):
        """The tensor a sum or product runs on: cast to ``dtype``, or an integer or bool one to int64."""
        if dtype is not None:
            return self.astype(dtype)
        return self.astype(np.int64) if self.dtype.kind in "biu" else self

    def _running(self, fn, dim, dtype):
        t = self._accumulating(dtype)
        axis = _axis(dim, self.ndim)
        if axis is None:  # a 0-d tensor: as one element
            return fn.apply(t.reshape(1), axis=0).reshape(())
        return fn.apply(t, axis=axis)

    def sort(self, dim=-1, descending=False, *, stable=False):
        """(values, int64 indices) along ``dim``: ascending with NaN last, or ``descending`` with NaN first.
        Always stable (equal values keep their order; PyTorch's ``stable=True``, a valid answer to
        ``stable=False``); the gradient goes back to each value's index."""
        return self._sorted(dim, shapes.flag(descending, "descending"), None, "sort")

    def argsort(self, dim=-1, descending=False, *, stable=False):
        """The int64 indices that sort ``dim``, as ``sort(...).indices``."""
        return self._sorted(dim, shapes.flag(descending, "descending"), None, "argsort").indices

    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002 (PyTorch's names)
        """(values, int64 indices) of the ``k`` largest (or smallest, not ``largest``) elements along
        ``dim``, in order (also when ``sorted`` is False, which asks for no order); among equal values
        the first ones, NaN counting as the largest."""
        shapes.flag(sorted, "sorted")
        return self._sorted(dim, shapes.flag(largest, "largest"), shapes.integer(k, "k", lo=0), "topk")

    def _sorted(self, dim, descending, k, name):
        axis = _axis(dim, self.ndim)
        if axis is None:  # a 0-d tensor: as one element
            values, indices = self.reshape(1)._sorted(0, descending, k, name)
            return ValuesIndices(values.reshape(()), indices.reshape(()))
        if self.dtype == np.bool_:
            raise TypeError(f"{name} of a bool tensor: cast it first (.long())")
        if k is not None and k > self.shape[axis]:
            raise ValueError(f"topk: k={k} is more than the {self.shape[axis]} elements along dim={dim} "
                             f"(shape {self.shape})")
        return ValuesIndices(*Sort.apply(self, axis=axis, descending=descending, k=k))

    def nonzero(self, *, as_tuple=False):
        """The positions of the nonzero elements in row-major order: an int64 (count, ndim) tensor, or
        with ``as_tuple`` one int64 tensor of count entries per dimension (a 0-d tensor counts as 1-d)."""
        as_tuple = shapes.flag(as_tuple, "as_tuple")
        rows = M.nonzero(self.data)
        if as_tuple:
            return tuple(Tensor(r) for r in rows)
        if not self.ndim:  # (count, 0), as PyTorch's
            return Tensor(M.zeros((int(rows[0].shape[0]), 0), np.int64, like=self.data))
        return stack([Tensor(r) for r in rows], dim=1)

    def argwhere(self):
        return self.nonzero()

    def _extreme(self, dim, keepdim, largest):
        keepdim = shapes.flag(keepdim, "keepdim")
        axes = _axes(dim, self.ndim) if isinstance(dim, (tuple, list)) else None if dim is None else (_axis(dim, self.ndim),)
        self._nonempty(axes, dim, "max" if largest else "min")
        if dim is None:
            return Amax.apply(self, axes=None, keepdim=keepdim, select=True, largest=largest)
        if isinstance(dim, (tuple, list)):
            return Amax.apply(self, axes=axes, keepdim=keepdim, largest=largest)
        axis = _axis(dim, self.ndim)
        if axis is None:  # a 0-d tensor: itself, at index 0
            return ValuesIndices(Clone.apply(self), Tensor(M.zeros((), np.int64, like=self.data)))
        return ValuesIndices(*MaxDim.apply(self, axis=axis, keepdim=keepdim, largest=largest))

    def _nonempty(self, axes, dim, name):
        """A ValueError naming the call where the reduced dimensions hold nothing (an extreme of nothing)."""
        if self.numel() == 0 and (axes is None or any(a is not None and self.shape[a] == 0 for a in axes)):
            raise ValueError(f"{name}() of an empty tensor (shape {self.shape}) over dim={dim} has no value; give "
                             f"a dim whose size is not 0")

    def amax(self, dim=None, keepdim=False):
        keepdim = shapes.flag(keepdim, "keepdim")
        axes = _axes(dim, self.ndim)
        self._nonempty(axes, dim, "amax")
        return Amax.apply(self, axes=axes, keepdim=keepdim)

    def amin(self, dim=None, keepdim=False):
        keepdim = shapes.flag(keepdim, "keepdim")
        axes = _axes(dim, self.ndim)
        self._nonempty(axes, dim, "amin")
        return Amax.apply(self, axes=axes, keepdim=keepdim, largest=False)

    def argmax(self, dim=None, keepdim=False):
        """int64 index of the first maximum (flat when ``dim`` is None; then ``keepdim`` keeps every
        dimension, at size 1, as PyTorch)."""
        return self._arg(M.argmax, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return self._arg(M.argmin, dim, keepdim)

    def _arg(self, fn, dim, keepdim):
        keepdim = shapes.flag(keepdim, "keepdim")
        if dim is None:
            flat = fn(M.reshape(self.data, (-1,)), axis=0)
            return Tensor(M.reshape(flat, (1,) * self.ndim) if keepdim else flat)
        return Tensor(fn(self.data, axis=_axis(dim, self.ndim), keepdims=keepdim))

    # ---- reductions and tests, more of PyTorch's methods
    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        """The vector ``p``-norm over ``dim`` (every dimension: None): (sum |x|^p)^(1/p) for a number p
        (negative and fractional ones too), the count of nonzero elements for 0, max |x| for inf, min |x|
        for -inf; ``"fro"`` is the 2-norm (over at most 2 dimensions, as PyTorch's). Floating tensors
        only; with ``dtype`` the input is cast to it first. The gradient is PyTorch's (0 where the norm is 0)."""
        if isinstance(p, str):
            if p != "fro":
                raise ValueError(f"norm: p must be a number or 'fro', got {p!r} ('nuc' is not supported)")
            if isinstance(dim, (tuple, list)) and len(dim) > 2:
                raise ValueError(f"norm: p='fro' takes at most 2 dimensions, got dim={dim!r}")
            p = 2
        p = _number(p, "norm: p")
        if math.isnan(p):
            raise ValueError("norm: p must not be NaN")
        t = self if dtype is None else self.astype(shapes.float_dtype(dtype, "norm: dtype"))
        if t.dtype.kind != "f":
            raise TypeError(f"norm needs a floating-point tensor, got dtype {t.dtype}; use .float() or dtype= first")
        axes = _axes(dim, self.ndim)
        if (p < 0 or math.isinf(p)) and _count(self.shape, axes) == 0:
            raise ValueError(f"norm: the p={p:g} norm of nothing (shape {self.shape}, dim={dim}) has no value")
        return Norm.apply(t, p=p, axes=axes, keepdim=shapes.flag(keepdim, "keepdim"))

    def logsumexp(self, dim, keepdim=False):
        """log(sum(exp(x))) over ``dim``, without overflow (an integer tensor as float32); -inf for a line
        of -inf or an empty one, inf where a line holds inf. The gradient is the softmax."""
        return LogSumExp.apply(self._floating(), axes=_axes(dim, self.ndim), keepdim=shapes.flag(keepdim, "keepdim"))

    def nansum(self, dim=None, keepdim=False, *, dtype=None):
        """``sum`` with NaN counted as 0 (the gradient there is 0)."""
        t = self._accumulating(dtype)
        if t.dtype.kind != "f":
            return t.sum(dim, keepdim)
        return NanSum.apply(t, axes=_axes(dim, self.ndim), keepdim=shapes.flag(keepdim, "keepdim"))

    def nanmean(self, dim=None, keepdim=False, *, dtype=None):
        """The mean of the values that are not NaN over ``dim`` (NaN where there are none); floating only."""
        t = self if dtype is None else self.astype(dtype)
        if t.dtype.kind != "f":
            raise TypeError(f"nanmean() needs a floating-point tensor, got dtype {t.dtype}; use .float() or dtype= "
                            "first")
        return t.nansum(dim, keepdim) / t.isnan().logical_not().sum(dim, keepdim)

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        """NaN, inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (None: the dtype's largest and
        lowest finite values); integer and bool tensors are copied unchanged. The gradient is 0 where a
        value was replaced."""
        nan, posinf, neginf = (_number(nan, "nan_to_num: nan"), _number(posinf, "nan_to_num: posinf", True),
                               _number(neginf, "nan_to_num: neginf", True))
        if self.dtype.kind != "f":
            return self.clone()
        info = np.finfo(self.dtype)
        posinf = float(info.max) if posinf is None else posinf
        neginf = float(info.min) if neginf is None else neginf
        return NanToNum.apply(self, nan=_in_dtype(nan, self.dtype), posinf=_in_dtype(posinf, self.dtype),
                              neginf=_in_dtype(neginf, self.dtype))

    def _test(self, floating, otherwise=False):
        """A bool tensor: ``floating(data)`` for a floating tensor, else ``otherwise`` everywhere."""
        if self.dtype.kind == "f":
            return Tensor(floating(self.data))
        return Tensor(M.full(self.shape, otherwise, np.bool_, like=self.data))

    def isnan(self):
        return self._test(M.isnan)

    def isinf(self):
        return self._test(lambda a: M.compare("eq", M.abs(a), math.inf))

    def isposinf(self):
        return self._test(lambda a: M.compare("eq", a, math.inf))

    def isneginf(self):
        return self._test(lambda a: M.compare("eq", a, -math.inf))

    def isfinite(self):
        return self._test(lambda a: M.compare("eq", M.subtract(a, a), 0), True)

    def signbit(self):
        """Whether the sign bit is set: x < 0, -0.0 and a NaN with its sign bit set, as PyTorch's."""
        if self.dtype.kind == "f":
            return Tensor(M.compare("lt", M.copysign(1.0, self.data), 0))
        if self.dtype.kind == "i":
            return Tensor(M.compare("lt", self.data, 0))
        return Tensor(M.full(self.shape, False, np.bool_, like=self.data))

    def _other_tensor(self, other, name):
        if not isinstance(other, Tensor):
            raise TypeError(f"{name}: other must be a Tensor, got {type(other).__name__}")
        M.same_device(input=self.data, other=other.data)
        return other

    def equal(self, other):
        """True if ``other`` has this tensor's shape and equal values (after promotion; NaN is never equal)."""
        other = self._other_tensor(other, "equal")
        if self.shape != other.shape:
            return False
        a, b = _operands(self, other)
        return int(M.to_host(M.sum(M.compare("ne", a.data, b.data), dtype=np.int64))) == 0

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """|self - other| <= atol + rtol * |other| elementwise (or equal: inf with inf), as PyTorch's: both
        tensors of one dtype, broadcast together; NaN is close to NaN only with ``equal_nan``."""
        other = self._other_tensor(other, "isclose")
        rtol, atol = _number(rtol, "isclose: rtol"), _number(atol, "isclose: atol")
        for name, v in (("rtol", rtol), ("atol", atol)):
            if not v >= 0:
                raise ValueError(f"isclose: {name} must be >= 0, got {v}")
        equal_nan = shapes.flag(equal_nan, "equal_nan")
        if self.dtype != other.dtype:
            raise TypeError(f"isclose: self and other must have one dtype, got {self.dtype} and {other.dtype}")
        try:
            np.broadcast_shapes(self.shape, other.shape)
        except ValueError:
            raise ValueError(f"isclose: shapes {self.shape} and {other.shape} do not broadcast together") from None
        a, b = self.data, other.data
        close = M.compare("eq", a, b)
        if equal_nan and self.dtype.kind == "f":
            close = _or(close, M.logical_and(M.isnan(a), M.isnan(b)))
        if rtol == 0 and atol == 0:
            return Tensor(close)
        if self.dtype.kind != "f":  # as PyTorch, in the default float dtype
            a, b = M.astype(a, _DEFAULT_DTYPE), M.astype(b, _DEFAULT_DTYPE)
        error = M.abs(M.subtract(a, b))
        allowed = M.add(M.abs(M.multiply(b, rtol)), atol)
        within = M.logical_and(M.compare("lt", error, math.inf), M.compare("le", error, allowed))
        return Tensor(_or(close, within))

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """Whether ``isclose`` holds everywhere: a Python bool."""
        close = self.isclose(other, rtol, atol, equal_nan)
        return int(M.to_host(M.sum(M.logical_not(close.data), dtype=np.int64))) == 0

    def aminmax(self, *, dim=None, keepdim=False):
        """(min, max) over ``dim`` (one int, or every dimension: None), as ``amin`` and ``amax``."""
        if dim is not None and (not isinstance(dim, numbers.Integral) or isinstance(dim, bool)):
            raise TypeError(f"aminmax: dim must be an int or None, got {dim!r}")
        keepdim = shapes.flag(keepdim, "keepdim")
        self._nonempty(_axes(dim, self.ndim), dim, "aminmax")
        return AminMax(self.amin(dim, keepdim), self.amax(dim, keepdim))

    def _select(self, pick, dim, keepdim, name):
        """(values, indices) of ``pick`` along ``dim``; a 0-d tensor as one element."""
        if self.dtype == np.bool_:
            raise TypeError(f"{name} of a bool tensor: cast it first (.long())")
        keepdim = shapes.flag(keepdim, "keepdim")
        axis = _axis(dim, self.ndim)
        if axis is None:
            values, indices = self.reshape(1)._select(pick, 0, False, name)
            return ValuesIndices(values.reshape(()), indices.reshape(()))
        if self.shape[axis] == 0:
            raise IndexError(f"{name}(): dim={dim} of shape {self.shape} is empty: nothing to select from")
        return ValuesIndices(*Selected.apply(self, axis=axis, keepdim=keepdim, pick=pick))

    def _median_of_all(self, pick, name):
        if self.dtype == np.bool_:
            raise TypeError(f"{name} of a bool tensor: cast it first (.long())")
        if self.numel() == 0:
            if self.dtype.kind != "f":
                raise ValueError(f"{name}() of an empty {self.dtype} tensor has no value")
            return Tensor(M.full((), math.nan, self.dtype, like=self.data))
        flat = M.reshape(self.data, (-1,))
        value = M.reshape(pick(flat, 0)[0], ())
        return Evenly.apply(self, value)

    def median(self, dim=None, keepdim=False):
        """``median()``: the lower median of all values (NaN if there is one), its gradient shared among the
        elements equal to it; ``median(dim)``: (values, indices) along ``dim``, the gradient to the index.
        Among equal values the index is one of theirs (PyTorch's is unspecified too)."""
        if dim is None:
            if keepdim:
                raise TypeError("median: keepdim needs a dim (median() reduces every dimension)")
            return self._median_of_all(_pick_median, "median")
        return self._select(_pick_median, dim, keepdim, "median")

    def nanmedian(self, dim=None, keepdim=False):
        """``median`` of the values that are not NaN (NaN where there are none)."""
        if dim is None:
            if keepdim:
                raise TypeError("nanmedian: keepdim needs a dim (nanmedian() reduces every dimension)")
            return self._median_of_all(_pick_nanmedian, "nanmedian")
        return self._select(_pick_nanmedian, dim, keepdim, "nanmedian")

    def kthvalue(self, k, dim=-1, keepdim=False):
        """(values, indices) of the ``k``-th smallest element (1-based; NaN counts as the largest) along ``dim``."""
        k = shapes.integer(k, "kthvalue: k")
        axis = _axis(dim, self.ndim)
        n = 1 if axis is None else self.shape[axis]
        if not 1 <= k <= n and n:
            raise IndexError(f"kthvalue: k={k} is out of range for the {n} elements along dim={dim} (shape "
                             f"{self.shape}); expected 1 <= k <= {n}")
        return self._select(_pick_kth(k), dim, keepdim, "kthvalue")

    def mode(self, dim=-1, keepdim=False):
        """(values, indices) of the most frequent value along ``dim``: the smallest of equally frequent ones,
        at the index of its last occurrence. NaNs count as one value, larger than any other."""
        if self.dtype == np.bool_:  # as 0 and 1
            values, indices = self.astype(np.int64)._select(_pick_mode, dim, keepdim, "mode")
            return ValuesIndices(values.astype(np.bool_), indices)
        return self._select(_pick_mode, dim, keepdim, "mode")

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
        """The distinct values, ascending (also for ``sorted=False``), 1-d; with ``return_inverse`` each
        element's position among them (the input's shape), with ``return_counts`` how many of each.
        Each NaN is a value of its own, as PyTorch's. Only ``dim=None``; not differentiable. Runs on the
        tensor's device (one count comes back to the host)."""
        if dim is not None:
            raise NotImplementedError(f"unique: dim={dim!r} is not supported; only dim=None (the flattened values)")
        shapes.flag(sorted, "sorted")
        return_inverse, return_counts = shapes.flag(return_inverse, "return_inverse"), \
            shapes.flag(return_counts, "return_counts")
        a = M.reshape(self.data, (-1,))
        n = int(a.shape[0])
        if self.dtype == np.bool_:
            a = M.astype(a, np.int64)
        if n == 0:
            values = a
            inverse = M.zeros(self.shape, np.int64, like=a)
            counts = M.zeros((0,), np.int64, like=a)
        else:
            s, idx = S.sort(a, 0)
            starts = M.concatenate([M.full((1,), True, np.bool_, like=a),
                                    M.compare("ne", M.getitem(s, slice(1, n)), M.getitem(s, slice(0, n - 1)))], 0)
            values = M.getitem(s, starts)
            run = M.subtract(S.cumulative(M.astype(starts, np.int64), 0, S.SUM), 1)
            inverse = M.reshape(M.scatter_add((n,), idx, run, 0, np.int64), self.shape)
            first = M.nonzero(starts)[0]
            ends = M.concatenate([M.getitem(first, slice(1, None)), M.full((1,), n, np.int64, like=a)], 0)
            counts = M.subtract(ends, first)
        if self.dtype == np.bool_:
            values = M.astype(values, np.bool_)
        out = (Tensor(values),) + ((Tensor(inverse),) if return_inverse else ()) + \
            ((Tensor(counts),) if return_counts else ())
        return out if len(out) > 1 else out[0]

    def var_mean(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """(var, mean) over ``dim``, as ``torch.var_mean``, with ``var``'s arguments (``var_mean(False)`` too)."""
        v = self.var(dim, unbiased, keepdim, correction=correction)
        return v, self.mean(None if isinstance(dim, (bool, np.bool_)) else dim, keepdim)

    def std_mean(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """(std, mean) over ``dim``, as ``torch.std_mean``."""
        v = self.std(dim, unbiased, keepdim, correction=correction)
        return v, self.mean(None if isinstance(dim, (bool, np.bool_)) else dim, keepdim)

    def cummax(self, dim):
        """(values, indices) of the running maximum along ``dim``: the latest index among equal values;
        once a NaN is seen it stays (at the latest NaN's index). The gradient goes to those indices."""
        return self._cumulative_extreme(dim, True)

    def cummin(self, dim):
        return self._cumulative_extreme(dim, False)

    def _cumulative_extreme(self, dim, largest):
        axis = _axis(dim, self.ndim)
        if axis is None:
            values, indices = self.reshape(1)._cumulative_extreme(0, largest)
            return ValuesIndices(values.reshape(()), indices.reshape(()))
        return ValuesIndices(*CumExtreme.apply(self, axis=axis, largest=largest))

    # ---- shape
    def reshape(self, *shape, **keywords):
        shape = _shape_args(shape, "shape", keywords, "reshape")
        if any(n < -1 for n in shape) or shape.count(-1) > 1:
            raise ValueError(f"reshape: sizes must be >= 0 with at most one -1, got {shape}")
        if self._writeback is not None and not _splits(self.shape, shape):
            # a device copy standing in for a strided view (a transpose, a stepped slice), or a view of one: a
            # reshape that merges its dimensions copies in PyTorch (where the strides do not line up; numconv
            # does not keep them, and copies always), so the result must not carry changes back
            return Reshape.apply(Clone.apply(self), shape=shape)
        return Reshape.apply(self, shape=shape)

    def view(self, *size, **keywords):
        """``reshape``, as ``torch.Tensor.view`` names its argument (``size``)."""
        return self.reshape(_shape_args(size, "size", keywords, "view"))

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s, e = _axis(start_dim, self.ndim, "start_dim"), _axis(end_dim, self.ndim, "end_dim")
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        shape = self.shape
        return self.reshape(shape[:s] + (int(np.prod(shape[s:e + 1])),) + shape[e + 1:])

    def unsqueeze(self, dim):
        n = self.ndim + 1
        if not -n <= dim < n:
            raise IndexError(f"unsqueeze: dim {dim} out of range for a tensor with {self.ndim} dimensions")
        d = dim % n
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim=None):
        axes = () if isinstance(dim, (tuple, list)) and not dim else _axes(dim, self.ndim)
        axes = range(self.ndim) if axes is None else axes
        drop = {i for i in axes if self.shape[i] == 1}
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in drop))

    def permute(self, *dims, **keywords):
        dims = _shape_args(dims, "dims", keywords, "permute")
        n = self.ndim
        if any(not -max(n, 1) <= d < max(n, 1) for d in dims) or sorted(d % max(n, 1) for d in dims) != list(range(n)):
            raise ValueError(f"permute: dims {dims} must be a permutation of the {n} dimensions (each in "
                             f"[{-n}, {n - 1}])")
        return self._permute(tuple(d % n for d in dims))

    def transpose(self, dim0, dim1):
        axes = list(range(self.ndim))
        i, j = _axis(dim0, self.ndim, "dim0"), _axis(dim1, self.ndim, "dim1")
        if i is None:  # a 0-d tensor
            return self._permute(())
        axes[i], axes[j] = axes[j], axes[i]
        return self._permute(tuple(axes))

    @property
    def T(self):  # noqa: N802 (PyTorch's name)
        return self._permute(tuple(reversed(range(self.ndim))))

    @property
    def mT(self):  # noqa: N802 (PyTorch's name)
        """The last two dimensions swapped (a batch of matrices transposed), as ``torch.Tensor.mT``."""
        if self.ndim < 2:
            raise ValueError(f"mT needs at least 2 dimensions, got shape {self.shape}")
        return self.transpose(-2, -1)

    mH = mT  # the conjugate transpose: the same for real tensors

    def stride(self, dim=None):
        """The steps in elements between neighbours along each dimension (along ``dim``), as
        ``torch.Tensor.stride``: (W * H, W, 1) for a C-contiguous (N, H, W) tensor."""
        steps = tuple(int(b) // self.dtype.itemsize for b in self.data.strides)
        if dim is None:
            return steps
        if not self.ndim:
            raise IndexError(f"stride: a 0-d tensor has no dimension {dim}")
        return steps[_axis(dim, self.ndim)]

    def _permute(self, axes):
        out = Permute.apply(self, axes=axes)
        if out._vc is None and self.device != dispatch.CPU:  # a device copy, not a view
            inverse = tuple(int(i) for i in np.argsort(axes))
            self._view_taken(out, Permute, (), {"axes": axes},
                             write=lambda base, own: M.assign(base, M.transpose(own, inverse)))
        return out

    def expand(self, *size, **keywords):
        shape = _shape_args(size, "size", keywords, "expand")
        lead = len(shape) - self.ndim
        bad = [n for i, n in enumerate(shape) if n < -1 or (n == -1 and i < lead)]
        if lead < 0 or bad:
            raise ValueError(f"expand: shape {shape} for a tensor of shape {self.shape}: sizes must be >= 0, "
                             f"with -1 (keep the size) only for the tensor's own {self.ndim} trailing dimensions")
        shape = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
        try:
            np.broadcast_shapes(self.shape, shape)
        except ValueError:
            raise ValueError(f"expand: shape {self.shape} cannot be broadcast to {shape}") from None
        return Expand.apply(self, shape=shape)

    def __getitem__(self, index):
        index = _index(index)
        out = GetItem.apply(self, index=index)
        perm = _torch_layout(index, self.ndim)
        if perm is not None:  # an integer apart from the array indices: PyTorch's order of the dimensions
            return out.permute(*perm)
        if out._vc is None and M.is_basic(index) and self.device != dispatch.CPU:  # a device copy, not a view
            self._view_taken(out, GetItem, (), {"index": index}, write=lambda base, own: M.assign(base, own, index))
        return out

    def gather(self, dim, index):
        """``torch.gather``: out[..., j, ...] = self[..., index[..., j, ...], ...] along ``dim``."""
        given = index
        index = index.data if isinstance(index, Tensor) else \
            M.copy(index) if dispatch.device_of(index) == dispatch.CUDA else np.array(index)  # kept for backward
        if np.dtype(index.dtype).kind not in "iu" or index.ndim != self.ndim:
            raise TypeError(f"gather: index must be an integer tensor with {self.ndim} dimensions, "
                            f"got dtype {index.dtype} and shape {tuple(index.shape)}")
        axis = _axis(dim, self.ndim)
        if axis is None:
            raise ValueError("gather: the input must have at least one dimension")
        if any(m > n for i, (m, n) in enumerate(zip(index.shape, self.shape)) if i != axis):
            raise ValueError(f"gather: index shape {tuple(index.shape)} exceeds the input's shape {self.shape} "
                             f"outside dim {dim}")
        if index.size:  # on a device, its min and max come back: two scalars, before any kernel reads through it
            lo, hi = (int(v) for v in M.extremes(index))
            if lo < 0 or hi >= self.shape[axis]:
                raise ValueError(f"gather: index values must be in [0, {self.shape[axis]}) along dim {dim}, "
                                 f"got {lo if lo < 0 else hi}")
        return Gather.apply(self, given if isinstance(given, Tensor) else index, axis=axis)


    def split(self, split_size_or_sections, dim=0):
        """Pieces along ``dim``, as ``torch.split``: of ``split_size_or_sections`` each (an int; the
        last one smaller where it does not divide), or of the sizes in a list that sums to the size
        along ``dim``. Each piece is a slice of this tensor (a view on the CPU)."""
        axis = _axis(dim, self.ndim)
        if axis is None:
            raise ValueError("split: the tensor must have at least one dimension")
        n = self.shape[axis]
        if shapes._is_int(split_size_or_sections):
            size = shapes.integer(split_size_or_sections, "split_size", 0)
            if size == 0 and n:
                raise ValueError(f"split: split_size 0 cannot split a dimension of size {n}")
            sizes = [size] * (n // size) + ([n % size] if n % size else []) if n else [0]
        else:
            sizes = list(shapes.sizes(split_size_or_sections, "split_size_or_sections"))
            if sum(sizes) != n:
                raise ValueError(f"split: sections {sizes} must sum to the size {n} of dim {dim}")
        pieces = Split.apply(self, sizes=sizes, axis=axis)
        lead, start = (slice(None),) * axis, 0
        for piece, k in zip(pieces, sizes):  # each is a slice of this tensor, as its basic indexing gives
            index = lead + (slice(start, start + k),)
            write = None if self.device == dispatch.CPU else (  # a device copy: changes go back to this tensor
                lambda base, own, index=index: M.assign(base, own, index))
            self._view_taken(piece, GetItem, (), {"index": index}, write=write)
            start += k
        return pieces

    def chunk(self, chunks, dim=0):
        """``chunks`` pieces along ``dim`` or fewer, as ``torch.chunk``: each of ceil(size / chunks)
        elements, the last one smaller where that does not divide."""
        chunks = shapes.integer(chunks, "chunks", 1)
        axis = _axis(dim, self.ndim)
        if axis is None:
            raise ValueError("chunk: the tensor must have at least one dimension")
        n = self.shape[axis]
        return self.split(-(-n // chunks) if n else [0] * chunks, dim)  # an empty dimension: ``chunks`` empty pieces

    def where(self, condition, other):
        """``numconv.where(condition, self, other)``."""
        return where(condition, self, other)

    def tensor_split(self, indices_or_sections, dim=0):
        """``numconv.tensor_split(self, indices_or_sections, dim)`` (numconv/composite.py)."""
        from .composite import tensor_split

        return tensor_split(self, indices_or_sections, dim)

    def take_along_dim(self, indices, dim=None):
        """``numconv.take_along_dim(self, indices, dim)`` (numconv/composite.py)."""
        from .composite import take_along_dim

        return take_along_dim(self, indices, dim)

    # ---- shape and indexing, more of PyTorch's methods
    def roll(self, shifts, dims=None):
        """The values shifted ``shifts`` places along each of ``dims`` (those leaving one end come back
        at the other); without ``dims``, along the flattened tensor, the shape kept."""
        shifts_t = (shifts,) if shapes._is_int(shifts) else tuple(shifts) if isinstance(shifts, (tuple, list)) else None
        if shifts_t is None or not all(shapes._is_int(s) for s in shifts_t):
            raise TypeError(f"roll: shifts must be an int or a tuple of ints, got {shifts!r}")
        if dims is None:
            if len(shifts_t) != 1:
                raise ValueError(f"roll: without dims, shifts must be one int, got {shifts!r}")
            return self.flatten().roll(shifts_t[0], 0).reshape(self.shape)
        dims_t = (dims,) if shapes._is_int(dims) else tuple(dims) if isinstance(dims, (tuple, list)) else None
        if dims_t is None or not all(shapes._is_int(d) for d in dims_t):
            raise TypeError(f"roll: dims must be an int or a tuple of ints, got {dims!r}")
        if len(shifts_t) != len(dims_t) or not dims_t:
            raise ValueError(f"roll: shifts {shifts!r} and dims {dims!r} must have the same number of entries")
        out = self
        for s, d in zip(shifts_t, dims_t):
            axis = _axis(d, self.ndim, "dims")
            if axis is None:
                raise IndexError(f"roll: dims {d} for a 0-d tensor, which has no dimensions; leave dims out")
            n = self.shape[axis]
            k = s % n if n else 0
            if k:
                out = cat([out.narrow(axis, n - k, k), out.narrow(axis, 0, n - k)], axis)
        return self.clone() if out is self else out

    def movedim(self, source, destination):
        """The dimensions at ``source`` (an int or a tuple) moved to ``destination``, the others kept in order."""
        src = (source,) if shapes._is_int(source) else tuple(source) if isinstance(source, (tuple, list)) else None
        dst = (destination,) if shapes._is_int(destination) else \
            tuple(destination) if isinstance(destination, (tuple, list)) else None
        if src is None or dst is None:
            raise TypeError(f"movedim: source and destination must be ints or tuples of ints, got {source!r} "
                            f"and {destination!r}")
        if len(src) != len(dst):
            raise ValueError(f"movedim: source {source!r} and destination {destination!r} must name as many dims")
        n = self.ndim
        s = [0 if a is None else a for a in (_axis(d, n, "source") for d in src)]
        t = [0 if a is None else a for a in (_axis(d, n, "destination") for d in dst)]
        for name, given, axes in (("source", source, s), ("destination", destination, t)):
            if len(set(axes)) != len(axes):
                raise ValueError(f"movedim: {name} {given!r} names a dimension twice")
        if n == 0:  # a 0-d tensor: dims 0 and -1 name nothing to move
            return self.permute()
        order = [None] * n
        for a, b in zip(s, t):
            order[b] = a
        rest = iter(d for d in range(n) if d not in s)
        return self.permute(*(next(rest) if o is None else o for o in order))

    moveaxis = movedim

    def swapaxes(self, axis0, axis1):
        _axis(axis0, self.ndim, "axis0"), _axis(axis1, self.ndim, "axis1")
        return self.transpose(axis0, axis1)

    def swapdims(self, dim0, dim1):
        return self.transpose(dim0, dim1)

    def _dim_of(self, dim, what):
        axis = _axis(dim, self.ndim)
        if axis is None:
            raise IndexError(f"{what}() cannot be applied to a 0-d tensor")
        return axis

    def narrow(self, dim, start, length):
        """``length`` entries from ``start`` (negative: from the end) along ``dim``: a slice (a view on the CPU)."""
        axis = self._dim_of(dim, "narrow")
        if isinstance(start, Tensor):
            if start.ndim or start.dtype.kind not in "iu":
                raise TypeError(f"narrow: start must be an int or a 0-d integer tensor, got dtype {start.dtype}, "
                                f"shape {start.shape}")
            start = start.item()
        start, length = shapes.integer(start, "narrow: start"), shapes.integer(length, "narrow: length", 0)
        n = self.shape[axis]
        if not -n <= start <= n:
            raise IndexError(f"narrow: start {start} is out of range for dim {dim} of size {n} (expected a value "
                             f"in [{-n}, {n}])")
        start = start + n if start < 0 else start
        if start + length > n:
            raise ValueError(f"narrow: start ({start}) + length ({length}) exceeds the size {n} of dim {dim}")
        return self[(slice(None),) * axis + (slice(start, start + length),)]

    def select(self, dim, index):
        """The slice at ``index`` (negative: from the end) along ``dim``, that dimension removed:
        ``self[..., index, ...]``."""
        axis = self._dim_of(dim, "select")
        if isinstance(index, Tensor) and not index.ndim and index.dtype.kind in "iu":
            index = index.item()
        index = shapes.integer(index, "select: index")
        n = self.shape[axis]
        if not -n <= index < n:
            raise IndexError(f"select: index {index} is out of range for dim {dim} of size {n} (shape {self.shape})")
        return self[(slice(None),) * axis + (index,)]

    def unflatten(self, dim, sizes):
        """Dimension ``dim`` split into ``sizes`` (one of them may be -1: what is left)."""
        axis = self._dim_of(dim, "unflatten")
        if not isinstance(sizes, (tuple, list)) or not all(shapes._is_int(k) for k in sizes):
            raise TypeError(f"unflatten: sizes must be a tuple of ints, got {sizes!r}")
        sizes = tuple(int(k) for k in sizes)
        n = self.shape[axis]
        known = int(np.prod([k for k in sizes if k != -1]))
        if not sizes or sizes.count(-1) > 1 or any(k < -1 for k in sizes) or \
                (known != n if -1 not in sizes else known == 0 or n % known):
            raise ValueError(f"unflatten: sizes {sizes} (non-empty, at most one -1) must multiply to the size {n} "
                             f"of dim {dim}")
        sizes = tuple(n // known if k == -1 else k for k in sizes)
        return self.reshape(self.shape[:axis] + sizes + self.shape[axis + 1:])

    def tile(self, *dims, **keywords):
        """This tensor repeated ``dims[i]`` times along each dimension, as ``repeat``, but with fewer
        ``dims`` than dimensions allowed (1s put in front)."""
        dims = _shape_args(dims, "dims", keywords, "tile")
        if any(k < 0 for k in dims):
            raise ValueError(f"tile: dims must be >= 0, got {dims}")
        return self.repeat(*((1,) * (self.ndim - len(dims)) + dims))

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        """Each entry along ``dim`` (of the flattened tensor: None) repeated ``repeats`` times in place:
        an int, or an integer tensor of one count per entry (or of one count). The gradient sums the copies."""
        src, axis = (self.reshape(-1), 0) if dim is None else (self, self._dim_of(dim, "repeat_interleave"))
        n = src.shape[axis]
        if shapes._is_int(repeats):
            counts = np.full(n, int(repeats), np.int64)
        elif isinstance(repeats, Tensor) or (hasattr(repeats, "shape") and hasattr(repeats, "dtype")):
            r = repeats if isinstance(repeats, Tensor) else Tensor(repeats)
            if r.dtype.kind not in "iu" or r.dtype == np.uint8:
                raise TypeError(f"repeat_interleave: repeats must be an int or an integer tensor, got dtype {r.dtype}")
            if r.ndim > 1 or (r.numel() != 1 and r.numel() != n):
                raise ValueError(f"repeat_interleave: repeats must be 0-d or hold 1 or {n} counts (the size of dim "
                                 f"{dim}), got shape {r.shape}")
            counts = np.broadcast_to(r.numpy().reshape(-1).astype(np.int64), (n,))
        else:
            raise TypeError(f"repeat_interleave: repeats must be an int or an integer tensor, got "
                            f"{type(repeats).__name__}")
        if counts.size and counts.min() < 0:
            raise ValueError(f"repeat_interleave: repeats must be >= 0, got {int(counts.min())}")
        index = np.repeat(np.arange(n, dtype=np.int64), counts)
        if output_size is not None and shapes.integer(output_size, "output_size", 0) != index.size:
            raise ValueError(f"repeat_interleave: output_size {output_size} but the repeats make {index.size}")
        return src.index_select(axis, _on_device_of(self, index))

    def masked_select(self, mask):
        """The entries where ``mask`` (boolean; the two broadcast together) holds, as a 1-d tensor in
        row-major order."""
        mask = mask if isinstance(mask, Tensor) else Tensor(mask if hasattr(mask, "dtype") else np.asarray(mask))
        if mask.dtype != np.bool_:
            raise TypeError(f"masked_select: mask must be a boolean tensor, got dtype {mask.dtype}")
        M.same_device(input=self.data, mask=mask.data)
        try:
            shape = np.broadcast_shapes(self.shape, mask.shape)
        except ValueError:
            raise ValueError(f"masked_select: the tensor's shape {self.shape} and the mask's {mask.shape} do not "
                             "broadcast together") from None
        shape = shape or (1,)  # 0-d: as one element (a 0-d boolean index is CPU-only)
        x = self if self.shape == shape else self.expand(*shape)
        return x[mask if mask.shape == shape else mask.expand(*shape)]

    def _scatter_args(self, dim, index, src, what):
        """(axis, int64 index array, src cut to the index's shape or None) for scatter and scatter_add,
        checked as PyTorch does."""
        axis = _axis(dim, self.ndim)
        if axis is None:
            raise ValueError(f"{what}: the tensor must have at least one dimension")
        idx = _integer_index(self, index, "index", what, self.ndim)
        ishape = tuple(idx.shape)
        if any(m > n for d, (m, n) in enumerate(zip(ishape, self.shape)) if d != axis):
            raise ValueError(f"{what}: index shape {ishape} exceeds the tensor's shape {self.shape} outside dim {dim}")
        if src is not None:
            if src.ndim != self.ndim:
                raise ValueError(f"{what}: src must have {self.ndim} dimensions as index, got shape {src.shape}")
            if src.dtype != self.dtype:
                raise TypeError(f"{what}: src's dtype {src.dtype} must be the tensor's {self.dtype}")
            if any(m > n for m, n in zip(ishape, src.shape)):
                raise ValueError(f"{what}: index shape {ishape} exceeds src's shape {src.shape}")
            M.same_device(input=self.data, src=src.data)
            if src.shape != ishape:
                src = src[tuple(slice(0, m) for m in ishape)]
        _index_range(idx, 0, self.shape[axis], "index", what)
        return axis, idx, src

    def scatter(self, dim, index, src=None, value=None, *, reduce=None):
        """A copy with ``src[..., j, ...]`` (or the number ``value``) written at ``index[..., j, ...]`` along
        ``dim``, as ``torch.scatter``: index no larger than src, nor than this tensor outside ``dim``.
        Where index names a position twice one of the values is kept (PyTorch leaves which unspecified).
        The gradient is 0 at the written positions for this tensor, and g gathered at index for src.
        ``reduce='add'`` is ``scatter_add``."""
        if src is not None and not isinstance(src, Tensor):
            if value is not None or not isinstance(src, (numbers.Number, np.generic)):
                raise TypeError(f"scatter: src must be a Tensor (or give value, a number), got {type(src).__name__}")
            src, value = None, src
        if (src is None) == (value is None):
            raise TypeError("scatter: give src (a tensor) or value (a number), one of them")
        if value is not None and not isinstance(value, (numbers.Number, np.generic)):
            raise TypeError(f"scatter: value must be a number, got {type(value).__name__}")
        if reduce not in (None, "add"):
            raise NotImplementedError(f"scatter: reduce={reduce!r} is not supported (only 'add'); use scatter_add")
        if reduce == "add":
            if src is None:
                shape = _integer_index(self, index, "index", "scatter").shape
                src = self.new_full((1,) * self.ndim, value).expand(*shape)
            return self.scatter_add(dim, index, src)
        axis, idx, src = self._scatter_args(dim, index, src, "scatter")
        return SetItem.apply(self, src if src is not None else value, index=_along_axis(idx, axis))

    def scatter_add(self, dim, index, src):
        """A copy with ``src[..., j, ...]`` added at ``index[..., j, ...]`` along ``dim`` (repeated positions
        add up), as ``torch.scatter_add``; the gradient is g for this tensor, g gathered at index for src."""
        if not isinstance(src, Tensor):
            raise TypeError(f"scatter_add: src must be a Tensor, got {type(src).__name__}")
        axis, idx, src = self._scatter_args(dim, index, src, "scatter_add")
        return IndexPutAdd.apply(self, src, index=_along_axis(idx, axis))

    def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
        if isinstance(src, Tensor):
            return self._inplace(lambda t, s: t.scatter(dim, index, s, reduce=reduce), src)
        return self._inplace(lambda t, _: t.scatter(dim, index, src, value, reduce=reduce), None)

    def scatter_add_(self, dim, index, src):
        return self._inplace(lambda t, s: t.scatter_add(dim, index, s), src)

    def _index_args(self, dim, index, source, what, negative=False):
        """(index tuple along ``dim``, source) for index_add, index_copy and index_fill, checked as PyTorch
        does: a 1-d (or 0-d) integer index; a source of this tensor's dtype and shape but along ``dim``,
        where it has the index's length."""
        axis = _axis(dim, self.ndim)
        idx = _integer_index(self, index, "index", what, 1)
        n = 1 if axis is None else self.shape[axis]
        _index_range(idx, -n if negative else 0, n, "index", what)
        if source is not None:
            if not isinstance(source, Tensor):
                raise TypeError(f"{what}: source must be a Tensor, got {type(source).__name__}")
            want = self.shape[:axis] + (idx.shape[0],) + self.shape[axis + 1:] if axis is not None else \
                (idx.shape[0],) if source.ndim else ()
            if source.shape != want:
                raise ValueError(f"{what}: source must have shape {want} (the tensor's {self.shape} with the "
                                 f"index's length {idx.shape[0]} along dim {dim}), got {source.shape}")
            if source.dtype != self.dtype:
                raise TypeError(f"{what}: source's dtype {source.dtype} must be the tensor's {self.dtype}")
            M.same_device(input=self.data, source=source.data)
        if axis is None:  # a 0-d tensor: as one element
            return None, idx, source
        return (slice(None),) * axis + (idx,), idx, source

    def _as_one(self, fn, source):
        """``fn`` on this 0-d tensor as shape (1,) (and a 0-d source), back to 0-d."""
        out = fn(self.reshape(1), None if source is None else source.reshape(-1))
        return out.reshape(())

    def index_add(self, dim, index, source, *, alpha=1):
        """A copy with ``alpha * source`` added along ``dim`` at the positions ``index`` (1-d; repeats add
        up): out[..., index[i], ...] += alpha * source[..., i, ...]."""
        where_, idx, source = self._index_args(dim, index, source, "index_add")
        if self.dtype.kind in "biu" and not isinstance(alpha, (numbers.Integral, np.integer)):
            raise TypeError(f"index_add: alpha must be an integer for a tensor of dtype {self.dtype}, got {alpha!r}")
        if alpha != 1:
            source = source * alpha
        if where_ is None:
            return self._as_one(lambda t, s: IndexPutAdd.apply(t, s, index=(idx,)), source)
        return IndexPutAdd.apply(self, source, index=where_)

    def index_copy(self, dim, index, source):
        """A copy with ``source``'s slices along ``dim`` written at the positions ``index`` (1-d)."""
        where_, idx, source = self._index_args(dim, index, source, "index_copy")
        if where_ is None:
            return self._as_one(lambda t, s: SetItem.apply(t, s, index=(idx,)), source)
        return SetItem.apply(self, source, index=where_)

    def index_fill(self, dim, index, value):
        """A copy with ``value`` (a number or a 0-d tensor) along ``dim`` at the positions ``index`` (1-d,
        negative ones from the end)."""
        if isinstance(value, Tensor):
            if value.ndim:
                raise ValueError(f"index_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
            M.same_device(input=self.data, value=value.data)
            if value.dtype != self.dtype:
                value = value.astype(self.dtype)
        elif not isinstance(value, (numbers.Number, np.generic)):
            raise TypeError(f"index_fill: value must be a number or a 0-d tensor, got {type(value).__name__}")
        where_, idx, _ = self._index_args(dim, index, None, "index_fill", negative=True)
        if where_ is None:
            return SetItem.apply(self.reshape(1), value, index=(idx,)).reshape(())
        return SetItem.apply(self, value, index=where_)

    def index_add_(self, dim, index, source, *, alpha=1):
        return self._inplace(lambda t, s: t.index_add(dim, index, s, alpha=alpha), source)

    def index_copy_(self, dim, index, source):
        return self._inplace(lambda t, s: t.index_copy(dim, index, s), source)

    def index_fill_(self, dim, index, value):
        return self._inplace(lambda t, v: t.index_fill(dim, index, v), value)

    def take(self, index):
        """The entries of the flattened tensor at ``index`` (any shape, negative from the end), in index's shape."""
        idx = _integer_index(self, index, "index", "take")
        n = self.numel()
        _index_range(idx, -n, n, "index", "take")
        return self.reshape(-1)[Tensor(M.reshape(idx, (-1,)))].reshape(tuple(idx.shape))

    def _triangle(self, diagonal, lower, what):
        if self.ndim < 2:
            raise ValueError(f"{what}: the tensor must have at least 2 dimensions, got shape {self.shape}")
        diagonal = shapes.integer(diagonal, f"{what}: diagonal")
        rows, cols = self.shape[-2:]
        offset = np.arange(cols)[None, :] - np.arange(rows)[:, None]  # j - i
        keep = offset <= diagonal if lower else offset >= diagonal
        return where(_on_device_of(self, keep), self, Tensor(M.zeros((), self.dtype, like=self.data)))

    def tril(self, diagonal=0):
        """The lower triangle of the last two dimensions (j - i <= ``diagonal``), zeros above."""
        return self._triangle(diagonal, True, "tril")

    def triu(self, diagonal=0):
        """The upper triangle of the last two dimensions (j - i >= ``diagonal``), zeros below."""
        return self._triangle(diagonal, False, "triu")

    def _diagonal_index(self, n1, n2, offset):
        """(rows, columns) int64 index arrays of the ``offset`` diagonal of an (n1, n2) matrix, on this device."""
        i0, j0 = max(-offset, 0), max(offset, 0)
        k = np.arange(max(min(n1 - i0, n2 - j0), 0), dtype=np.int64)
        return M.to_device(k + i0, self.device), M.to_device(k + j0, self.device)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        """The ``offset`` diagonal (above the main one: > 0) of the matrices over ``dim1`` and ``dim2``, as the
        last dimension: a view, as PyTorch's (``x.diagonal().add_(eps)`` changes x; on a device a copy
        that carries such changes back, as a device slice does)."""
        if self.ndim < 2:
            raise ValueError(f"diagonal: the tensor must have at least 2 dimensions, got shape {self.shape}")
        offset = shapes.integer(offset, "diagonal: offset")
        a1, a2 = _axis(dim1, self.ndim, "dim1"), _axis(dim2, self.ndim, "dim2")
        if a1 == a2:
            raise ValueError(f"diagonal: dim1 {dim1} and dim2 {dim2} name the same dimension")
        moved = self.permute(*(d for d in range(self.ndim) if d not in (a1, a2)), a1, a2)
        index = (Ellipsis, *self._diagonal_index(self.shape[a1], self.shape[a2], offset))
        out = Diagonal.apply(moved, index=index, offset=offset)
        if out._vc is None and self.device != dispatch.CPU:  # a device copy, not a view
            moved._view_taken(out, Diagonal, (), {"index": index, "offset": offset},
                              write=lambda base, own: M.assign(base, own, index))
        return out

    def diag(self, diagonal=0):
        """A 1-d tensor: the square matrix with it on the ``diagonal`` diagonal, zeros elsewhere; a 2-d one:
        that diagonal of it."""
        diagonal = shapes.integer(diagonal, "diag: diagonal")
        if self.ndim == 2:
            return self.diagonal(diagonal)
        if self.ndim != 1:
            raise ValueError(f"diag: the tensor must have 1 or 2 dimensions, got shape {self.shape}")
        n = self.shape[0] + abs(diagonal)
        base = Tensor(M.zeros((n, n), self.dtype, like=self.data))
        return SetItem.apply(base, self, index=self._diagonal_index(n, n, diagonal))

    def trace(self):
        """The sum of the main diagonal of a matrix (int64 for an integer one)."""
        if self.ndim != 2:
            raise ValueError(f"trace: expected a matrix (2 dimensions), got shape {self.shape}")
        if self.dtype == np.bool_:
            raise TypeError("trace of a bool tensor: cast it first (.long())")
        return self.diagonal().sum()

    def rot90(self, k=1, dims=(0, 1)):
        """Rotated ``k`` quarter turns in the plane of ``dims``, from the first toward the second."""
        k = shapes.integer(k, "rot90: k")
        if not isinstance(dims, (tuple, list)) or len(dims) != 2:
            raise ValueError(f"rot90: dims must be two dimensions, got {dims!r}")
        if self.ndim < 2:
            raise ValueError(f"rot90: the tensor must have at least 2 dimensions, got shape {self.shape}")
        d0, d1 = _axis(dims[0], self.ndim, "dims"), _axis(dims[1], self.ndim, "dims")
        if d0 == d1:
            raise ValueError(f"rot90: dims {tuple(dims)} name the same dimension twice")
        k %= 4
        if k == 1:
            return self.flip(d1).transpose(d0, d1)
        if k == 2:
            return self.flip(d0, d1)
        if k == 3:
            return self.flip(d0).transpose(d0, d1)
        return self.clone()

    def fliplr(self):
        """Reversed along dim 1 (left to right)."""
        if self.ndim < 2:
            raise ValueError(f"fliplr: the tensor must have at least 2 dimensions, got shape {self.shape}")
        return self.flip(1)

    def flipud(self):
        """Reversed along dim 0 (up to down)."""
        if self.ndim < 1:
            raise ValueError("flipud: the tensor must have at least 1 dimension, got a 0-d tensor")
        return self.flip(0)

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        """The ``n``-th forward difference along ``dim``, x[i + 1] - x[i] (for bool, x[i + 1] != x[i]), of
        this tensor with ``prepend`` and ``append`` (tensors of its shape but along ``dim``) around it."""
        if self.ndim == 0:
            raise ValueError("diff: the tensor must have at least 1 dimension, got a 0-d tensor")
        n = shapes.integer(n, "diff: n", 0)
        axis = _axis(dim, self.ndim)
        parts = [self]
        for name, t in (("prepend", prepend), ("append", append)):
            if t is None:
                continue
            if not isinstance(t, Tensor):
                raise TypeError(f"diff: {name} must be a Tensor, got {type(t).__name__}")
            if t.ndim != self.ndim or any(m != k for d, (m, k) in enumerate(zip(t.shape, self.shape)) if d != axis):
                raise ValueError(f"diff: {name} of shape {t.shape} must have the tensor's shape {self.shape} except "
                                 f"along dim {dim}")
            parts.insert(0 if name == "prepend" else len(parts), t)
        x = cat(parts, axis) if len(parts) > 1 else self.clone()
        for _ in range(n):
            m = x.shape[axis]
            if m == 0:
                break
            hi, lo = x.narrow(axis, 1, m - 1), x.narrow(axis, 0, m - 1)
            x = (hi != lo) if x.dtype == np.bool_ else hi - lo
        return x

    def _vector_args(self, what, **named):
        """A ValueError or TypeError unless the named operands are Tensors of this one's dtype."""
        for name, t in named.items():
            if not isinstance(t, Tensor):
                raise TypeError(f"{what}: {name} must be a Tensor, got {type(t).__name__}")
            if t.dtype != self.dtype:
                raise TypeError(f"{what}: {name}'s dtype {t.dtype} must be the tensor's {self.dtype}")
            M.same_device(input=self.data, **{name: t.data})

    def dot(self, other):
        """The inner product of two 1-d tensors of one size and dtype (a 0-d tensor)."""
        self._vector_args("dot", other=other)
        if self.ndim != 1 or other.ndim != 1 or self.shape != other.shape:
            raise ValueError(f"dot: expected two 1-d tensors of one size, got shapes {self.shape} and {other.shape}")
        return self @ other

    def mv(self, vec):
        """The product of this matrix and the 1-d ``vec``."""
        self._vector_args("mv", vec=vec)
        if self.ndim != 2 or vec.ndim != 1 or self.shape[1] != vec.shape[0]:
            raise ValueError(f"mv: expected a matrix (n, m) and a vector (m,), got shapes {self.shape} and {vec.shape}")
        return self @ vec

    def outer(self, vec2):
        """out[i, j] = self[i] * vec2[j], for 1-d tensors (promoted as ``*``)."""
        if not isinstance(vec2, Tensor):
            raise TypeError(f"outer: vec2 must be a Tensor, got {type(vec2).__name__}")
        if self.ndim != 1 or vec2.ndim != 1:
            raise ValueError(f"outer: expected two 1-d tensors, got shapes {self.shape} and {vec2.shape}")
        return self.reshape(-1, 1) * vec2.reshape(1, -1)

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        """beta * self + alpha * (mat1 @ mat2), this tensor broadcast to the product's shape; with beta 0 it
        is not read (NaN there does not propagate). Its gradient is then None (PyTorch's: zeros)."""
        self._vector_args("addmm", mat1=mat1, mat2=mat2)
        if mat1.ndim != 2 or mat2.ndim != 2 or mat1.shape[1] != mat2.shape[0]:
            raise ValueError(f"addmm: mat1 and mat2 must be matrices (n, k) and (k, m), got shapes {mat1.shape} and "
                             f"{mat2.shape}")
        shape = (mat1.shape[0], mat2.shape[1])
        if not shapes.broadcasts_to(self.shape, shape):
            raise ValueError(f"addmm: the tensor's shape {self.shape} does not broadcast to the product's {shape}")
        for name, v in (("beta", beta), ("alpha", alpha)):
            if not isinstance(v, (numbers.Number, np.generic)) or \
                    (self.dtype.kind in "biu" and not isinstance(v, (numbers.Integral, np.integer))):
                raise TypeError(f"addmm: {name} must be {'an integer' if self.dtype.kind in 'biu' else 'a number'} "
                                f"for dtype {self.dtype}, got {v!r}")
        out = mat1 @ mat2
        if alpha != 1:
            out = out * alpha
        if beta == 0:
            return out
        return out + (self if beta == 1 else self * beta)

    def count_nonzero(self, dim=None):
        """The number of nonzero entries (NaN counts) over ``dim`` (an int, a tuple, or every one: None), int64."""
        return (self != 0).sum(dim)

    def unfold(self, dimension, size, step):
        """Every window of ``size`` entries along ``dimension``, ``step`` apart, as a new last dimension:
        dimension ``dimension`` becomes (n - size) // step + 1 long. A copy (PyTorch's is a view); the
        gradient adds up over overlapping windows."""
        size, step = shapes.integer(size, "unfold: size", 0), shapes.integer(step, "unfold: step", 1)
        axis = _axis(dimension, self.ndim, "dimension")
        if axis is None:  # a 0-d tensor: as one element, the result (size,)
            return self.reshape(1).unfold(0, size, step).reshape(size)
        n = self.shape[axis]
        if size > n:
            raise ValueError(f"unfold: size {size} is more than the size {n} of dimension {dimension}")
        count = (n - size) // step + 1
        index = np.arange(count, dtype=np.int64)[:, None] * step + np.arange(size, dtype=np.int64)[None, :]
        windows = self[(slice(None),) * axis + (_on_device_of(self, index),)]  # (..., count, size, ...)
        return windows.movedim(axis + 1, -1)

    def nelement(self):
        return self.numel()

    def new_tensor(self, data, dtype=None, requires_grad=False, *, device=None):
        """A new tensor holding a copy of ``data``, of this tensor's dtype and device (or ``dtype``, ``device``)."""
        dtype = self.dtype if dtype is None else np.dtype(dtype)
        device = _factory_device(device, self.data)
        if isinstance(data, Tensor):
            out = Tensor(M.copy(data.data)).to(device).astype(dtype)
        else:
            out = tensor(data, dtype=dtype).to(device)
        out = Tensor._of(out.data)  # outside any graph
        return out.requires_grad_() if requires_grad else out

    def type(self, dtype=None):  # noqa: A003 (PyTorch's name)
        """With no argument, PyTorch's type name ('torch.FloatTensor', 'torch.cuda.LongTensor', ...); with a
        dtype (or such a name), this tensor cast to it (``self`` when it already is)."""
        if dtype is None:
            name = _TORCH_TYPES.get(self.dtype)
            if name is None:
                raise TypeError(f"type(): no PyTorch type name for dtype {self.dtype}")
            return f"torch.{'cuda.' if self.device == dispatch.CUDA else ''}{name}"
        if isinstance(dtype, str) and dtype.startswith("torch."):
            names = {f"torch.{v}": k for k, v in _TORCH_TYPES.items()}
            if dtype not in names:
                raise ValueError(f"type(): unknown type name {dtype!r} (CPU names such as 'torch.FloatTensor' are "
                                 "taken; move between devices with .to())")
            dtype = names[dtype]
        return self.astype(dtype)

    def byte(self):
        return self.astype(np.uint8)

    # ---- built from the ops above, as PyTorch's methods of the same names
    def __abs__(self):
        return self.abs()

    def is_floating_point(self):
        return self.dtype.kind == "f"

    def is_contiguous(self):
        """Whether the values lie in memory in row-major order without gaps (a CUDA tensor always is)."""
        return not isinstance(self.data, np.ndarray) or self.data.flags.c_contiguous

    def expand_as(self, other):
        return self.expand(*other.shape)

    def reshape_as(self, other):
        return self.reshape(*other.shape)

    view_as = reshape_as

    def type_as(self, other):
        return self.astype(other.dtype)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        """A tensor of ``size`` filled with ``fill_value``, of this tensor's dtype and device (or ``dtype``,
        ``device``)."""
        dtype = np.dtype(dtype) if dtype is not None else self.dtype
        _fill_value(fill_value, dtype, "new_full")
        size = _shape_args((size,) if isinstance(size, numbers.Integral) else tuple(size), "size")
        return Tensor(M.full(size, fill_value, dtype, like=_factory_device(device, self.data)),
                      requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False, **keywords):
        return self.new_full(_shape_args(size, "size", keywords, "new_zeros"), 0, dtype=dtype, device=device,
                             requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False, **keywords):
        return self.new_full(_shape_args(size, "size", keywords, "new_ones"), 1, dtype=dtype, device=device,
                             requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False, **keywords):
        """``new_zeros``: numconv hands out no uninitialized memory (see ``numconv.empty``)."""
        return self.new_full(_shape_args(size, "size", keywords, "new_empty"), 0, dtype=dtype, device=device,
                             requires_grad=requires_grad)

    def unbind(self, dim=0):
        """The slices along ``dim``, as a tuple of views."""
        axis = _axis(dim, self.ndim)
        return tuple(self[(slice(None),) * axis + (i,)] for i in range(self.shape[axis]))

    def index_select(self, dim, index):
        """The entries at ``index`` (1-d integer) along ``dim``, as ``torch.index_select``."""
        axis = _axis(dim, self.ndim)
        idx = index if isinstance(index, Tensor) else Tensor(np.asarray(index))
        if idx.ndim > 1 or idx.dtype.kind not in "iu" or idx.dtype == np.uint8:
            raise TypeError(f"index_select: index must be a 1-d integer tensor, got dtype {idx.dtype}, shape {idx.shape}")
        return self[(slice(None),) * axis + (idx.reshape(-1),)]

    def flip(self, *dims, **keywords):
        """The values in reverse order along each of ``dims``."""
        out = self
        for axis in _axes(_shape_args(dims, "dims", keywords, "flip"), self.ndim) or ():
            n = self.shape[axis]
            out = out.index_select(axis, Tensor(M.arange(n - 1, -1, -1, np.int64)))
        return out

    def repeat(self, *repeats, **keywords):
        """This tensor tiled ``repeats[i]`` times along each dimension (leading new ones allowed), as
        ``torch.Tensor.repeat``: an expand of an interleaved reshape, so the gradient sums the copies."""
        sizes = _shape_args(repeats, "repeats", keywords, "repeat")
        if any(n < 0 for n in sizes):
            raise ValueError(f"repeat: sizes must be >= 0, got {sizes}")
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: {len(sizes)} sizes for a tensor of {self.ndim} dimensions; give at least {self.ndim}")
        shape = (1,) * (len(sizes) - self.ndim) + self.shape
        inter = tuple(n for pair in zip((1,) * len(shape), shape) for n in pair)
        big = tuple(n for pair in zip(sizes, shape) for n in pair)
        out = self.reshape(*inter).expand(*big).reshape(*(r * n for r, n in zip(sizes, shape)))
        return out.clone() if M.may_share(out.data, self.data) else out  # a copy, as PyTorch's, even of 1s

    def mm(self, mat2):
        if self.ndim != 2 or getattr(mat2, "ndim", 0) != 2:
            raise ValueError(f"mm: both operands must be 2-d, got shapes {self.shape} and {tuple(mat2.shape)}")
        return self @ mat2

    def bmm(self, mat2):
        if self.ndim != 3 or getattr(mat2, "ndim", 0) != 3 or self.shape[0] != mat2.shape[0]:
            raise ValueError(f"bmm: both operands must be 3-d with the same batch size, got shapes {self.shape} "
                             f"and {tuple(mat2.shape)}")
        return self @ mat2

    def matmul(self, other):
        return self @ other

    def any(self, dim=None, keepdim=False):
        """Whether any value along ``dim`` (every dimension: None) is nonzero; a bool tensor."""
        return (self != 0).sum(dim, keepdim=keepdim) > 0

    def all(self, dim=None, keepdim=False):
        """Whether every value along ``dim`` (every dimension: None) is nonzero; a bool tensor."""
        return (self == 0).sum(dim, keepdim=keepdim) == 0

    # ---- bitwise and logical: no graph
    def _bitwise(self, other, fn, op, shift=False):
        """fn(self, other) for integer and bool tensors (masks), promoted as arithmetic is (bool & int64:
        int64); shifts of integers only."""
        if not isinstance(other, (Tensor, np.ndarray, np.generic, bool, int)):
            if isinstance(other, float):
                raise TypeError(f"{op} takes integer or bool operands, got the float {other!r}")
            return NotImplemented
        a, b = _operands(self, other)
        if a.dtype.kind not in "biu" or (shift and a.dtype == np.bool_):
            kinds = "integer" if shift else "integer or bool"
            raise TypeError(f"{op} takes {kinds} tensors (as PyTorch), got {self.dtype} and "
                            f"{getattr(other, 'dtype', type(other).__name__)}")
        if isinstance(b, Tensor):
            M.same_device(input=a.data, other=b.data)
        return Tensor(fn(a.data, _data(b)))

    def __and__(self, other):
        return self._bitwise(other, M.bitwise_and, "&")

    def __or__(self, other):
        return self._bitwise(other, M.bitwise_or, "|")

    def __xor__(self, other):
        return self._bitwise(other, M.bitwise_xor, "^")

    def __lshift__(self, other):
        return self._bitwise(other, M.left_shift, "<<", shift=True)

    def __rshift__(self, other):
        return self._bitwise(other, M.right_shift, ">>", shift=True)

    def __rlshift__(self, other):
        return Tensor(np.asarray(other)).to(self.device) << self if isinstance(other, (int, np.integer)) else NotImplemented

    def __rrshift__(self, other):
        return Tensor(np.asarray(other)).to(self.device) >> self if isinstance(other, (int, np.integer)) else NotImplemented

    def __invert__(self):
        if self.dtype.kind not in "biu":
            raise TypeError(f"~ takes an integer or bool tensor (as PyTorch), got {self.dtype}")
        return Tensor(M.invert(self.data))

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__
    bitwise_and, bitwise_or, bitwise_xor, bitwise_not = __and__, __or__, __xor__, __invert__
    bitwise_left_shift, bitwise_right_shift = __lshift__, __rshift__

    def __iand__(self, other):
        return self._inplace(Tensor.__and__, other)

    def __ior__(self, other):
        return self._inplace(Tensor.__or__, other)

    def __ixor__(self, other):
        return self._inplace(Tensor.__xor__, other)

    def __ilshift__(self, other):
        return self._inplace(Tensor.__lshift__, other)

    def __irshift__(self, other):
        return self._inplace(Tensor.__rshift__, other)

    def _truth(self, other):
        """(self != 0, other != 0) as bool tensors, for the logical ops of any dtype (NaN is true)."""
        other = other if isinstance(other, Tensor) else Tensor(np.asarray(other)).to(self.device)
        M.same_device(input=self.data, other=other.data)
        as_bool = lambda t: t if t.dtype == np.bool_ else t != 0  # noqa: E731
        return as_bool(self), as_bool(other)

    def logical_and(self, other):
        a, b = self._truth(other)
        return Tensor(M.logical_and(a.data, b.data))

    def logical_or(self, other):
        a, b = self._truth(other)
        return Tensor(M.logical_not(M.logical_and(M.logical_not(a.data), M.logical_not(b.data))))

    def logical_xor(self, other):
        a, b = self._truth(other)
        return a != b

    def logical_not(self):
        return Tensor(M.logical_not(self.data))


def _operands_of(other):
    """The operands an in-place op takes besides the tensor it changes: ``other``, or a tuple of them."""
    return other if isinstance(other, tuple) else (other,)


def _with_stand_in(other, tensor, old):
    """``other`` (or each operand of a tuple) with ``tensor`` replaced by ``old``, its stand-in."""
    if isinstance(other, tuple):
        return tuple(old if o is tensor else o for o in other)
    return old if other is tensor else other


# PyTorch's comparison names beside the short ones
Tensor.greater, Tensor.greater_equal, Tensor.less, Tensor.less_equal, Tensor.not_equal = \
    Tensor.gt, Tensor.ge, Tensor.lt, Tensor.le, Tensor.ne


def _inplace_twin(name):
    """``Tensor.<name>_``: ``<name>`` written into the tensor, as ``add_`` is: autograd records it (a
    result outside the graph, a comparison's, takes the tensor out of it), and a result of a higher
    dtype category than the tensor's (``int.sin_()``) is an error."""
    method = getattr(Tensor, name)

    def apply(t, operands, kwargs):
        out = method(t, *operands, **kwargs)
        if not isinstance(out, Tensor):  # NotImplemented from an operator method: an operand it cannot take
            raise TypeError(f"{name}_: cannot take {', '.join(type(o).__name__ for o in operands)} as its operand(s)")
        return out

    def twin(self, *args, **kwargs):
        return self._inplace(lambda t, operands: apply(t, operands, kwargs), tuple(args), saves_input=True)

    twin.__name__, twin.__qualname__ = name + "_", f"Tensor.{name}_"
    twin.__doc__ = f"``{name}(...)`` written into this tensor, which is returned (PyTorch's ``{name}_``)."
    return twin


def _fill_random(self, draw, what, generator):
    """This float tensor overwritten (``copy_``, so autograd records it) with ``draw(rng, u_or_n)``."""
    if self.dtype.kind != "f":
        raise TypeError(f"{what} fills a floating-point tensor, got dtype {self.dtype}")
    rng = generator if generator is not None else _random.generator()
    return self.copy_(Tensor(draw(rng)))


def _uniform_(self, a=0.0, b=1.0, *, generator=None):
    """Fill with U[a, b) draws from numconv's generator (on the tensor's device), as ``Tensor.uniform_``."""
    a, b = shapes.real(a, "from"), shapes.real(b, "to")
    if b < a:
        raise ValueError(f"uniform_ expects from <= to, got from={a}, to={b}")
    return _fill_random(self, lambda rng: M.add(M.multiply(M.uniform(rng, self.shape, self.dtype, like=self.data), b - a),
                                                a), "uniform_", generator)


def _normal_(self, mean=0.0, std=1.0, *, generator=None):
    """Fill with N(mean, std^2) draws from numconv's generator, as ``Tensor.normal_``."""
    mean, std = shapes.real(mean, "mean"), shapes.real(std, "std", 0.0)
    return _fill_random(self, lambda rng: M.add(M.multiply(
        M.standard_normal(rng, self.shape, self.dtype, like=self.data), std), mean), "normal_", generator)


Tensor.uniform_, Tensor.normal_ = _uniform_, _normal_
Tensor.uniform_.__name__, Tensor.normal_.__name__ = "uniform_", "normal_"


def _deg2rad(self):
    """Degrees to radians (an integer tensor gives float32, as PyTorch's)."""
    return self._floating() * (math.pi / 180.0)


def _rad2deg(self):
    """Radians to degrees."""
    return self._floating() * (180.0 / math.pi)


Tensor.deg2rad, Tensor.rad2deg = _deg2rad, _rad2deg
Tensor.deg2rad.__name__, Tensor.rad2deg.__name__ = "deg2rad", "rad2deg"
Tensor.ravel = lambda self: self.reshape(-1)  # noqa: E731
Tensor.ravel.__doc__ = "The tensor as one dimension (``reshape(-1)``: a view where the memory allows)."
Tensor.broadcast_to = lambda self, *size: self.expand(*size)  # noqa: E731 (a tuple, or the sizes as arguments)
Tensor.broadcast_to.__doc__ = "``expand(size)``, as ``torch.broadcast_to``."
Tensor.ndimension = Tensor.dim
Tensor.element_size = lambda self: self.dtype.itemsize  # noqa: E731
Tensor.itemsize = property(lambda self: self.dtype.itemsize, doc="Bytes per element.")
Tensor.nbytes = property(lambda self: self.dtype.itemsize * self.numel(), doc="Bytes of the elements.")
Tensor.is_cpu = property(lambda self: self.device == dispatch.CPU, doc="Whether the tensor lives in host memory.")
Tensor.get_device = lambda self: 0 if self.device == dispatch.CUDA else -1  # noqa: E731
Tensor.get_device.__doc__ = "The GPU's index (0) for a CUDA tensor, -1 on the CPU, as PyTorch's."


_INPLACE_TWINS = (
    "absolute", "acos", "arccos", "asin", "arcsin", "atan", "arctan", "atan2", "arctan2", "cos", "cosh", "sin", "sinh",
    "tan", "erf", "erfc", "exp2", "expm1", "log1p", "log2", "log10", "rsqrt", "reciprocal", "sign", "sgn", "square",
    "negative", "ceil", "floor", "round", "trunc", "fix", "frac", "fmod", "remainder", "hypot", "copysign", "xlogy",
    "heaviside", "lerp", "addcmul", "addcdiv", "addmm", "clamp_min", "clamp_max", "nan_to_num", "multiply",
    "subtract", "divide", "true_divide", "floor_divide", "eq", "ne", "lt", "le", "gt", "ge", "greater",
    "greater_equal", "less", "less_equal", "not_equal", "logical_and", "logical_or", "logical_xor", "logical_not",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift",
    "cumsum", "cumprod", "tril", "triu", "deg2rad", "rad2deg", "asinh", "acosh", "atanh", "arcsinh", "arccosh",
    "arctanh", "float_power", "ldexp", "logit", "sinc", "erfinv", "lgamma", "digamma", "polygamma", "mvlgamma",
    # (PyTorch has no logaddexp2_, fmax_, fmin_)
)
for _name in _INPLACE_TWINS:
    assert not hasattr(Tensor, _name + "_"), _name
    setattr(Tensor, _name + "_", _inplace_twin(_name))
del _name


# ============================================================================= functions and factories


def cat(tensors, dim=0):
    """Concatenate along ``dim`` (an existing dimension), as ``torch.cat``."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    if tensors[0].ndim == 0:
        raise ValueError("cat: 0-d tensors cannot be concatenated; stack them, or reshape them to (1,)")
    tensors = _common_dtype(tensors)
    axis = _axis(dim, tensors[0].ndim)
    first = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.ndim != len(first) or any(m != n for d, (m, n) in enumerate(zip(t.shape, first)) if d != axis):
            raise ValueError(f"cat: tensors must have the same shape except along dim {dim}; tensor 0 has shape "
                             f"{first}, tensor {i} has shape {t.shape}")
    return Cat.apply(*tensors, axis=axis)


def stack(tensors, dim=0):
    """Stack along a new dimension ``dim``, as ``torch.stack``."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    tensors = _common_dtype(tensors)
    n = tensors[0].ndim + 1
    if not -n <= dim < n:
        raise IndexError(f"stack: dim {dim} out of range for tensors with {n - 1} dimensions")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: tensors must have the same shape; tensor 0 has shape {tensors[0].shape}, "
                             f"tensor {i} has shape {t.shape}")
    return Stack.apply(*tensors, axis=dim % n)


def _common_dtype(tensors):
    """PyTorch's promotion for cat and stack, as for arithmetic: with any floating tensor, the integer
    and bool ones take the floating ones' common dtype (int64 with float32 is float32, not NumPy's float64)."""
    floats = [t.dtype for t in tensors if t.dtype.kind == "f"]
    if not floats or len(floats) == len(tensors):
        return tensors
    target = np.result_type(*floats)
    return [t if t.dtype.kind == "f" else t.astype(target) for t in tensors]


def split(tensor, split_size_or_sections, dim=0):
    """``Tensor.split`` as a function (``torch.split``)."""
    return _as_tensor(tensor).split(split_size_or_sections, dim)


def chunk(input, chunks, dim=0):  # noqa: A002 (PyTorch's name)
    """``Tensor.chunk`` as a function (``torch.chunk``)."""
    return _as_tensor(input).chunk(chunks, dim)


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _where_operand(x, name):
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, (bool, int, float)):
        return x
    if isinstance(x, numbers.Number) or not (hasattr(x, "shape") and hasattr(x, "dtype")):
        raise TypeError(f"where: {name} must be a tensor, an array or a real number, got {type(x).__name__} {x!r}")
    return _as_tensor(x)


def where(condition, input=None, other=None):  # noqa: A002 (PyTorch's names)
    """``input`` where ``condition`` holds, else ``other``, as ``torch.where``: condition a boolean
    tensor or array, the three broadcast together; input and other tensors, arrays or Python
    numbers, promoted to one dtype as the arithmetic operators do. The gradient flows to each
    element's source. ``where(condition)`` alone is ``condition.nonzero(as_tuple=True)``."""
    if input is None and other is None:
        return _as_tensor(condition).nonzero(as_tuple=True)
    if input is None or other is None:
        raise TypeError("where: give both input and other, or neither (where(condition) gives the positions)")
    cond = condition.data if isinstance(condition, Tensor) else \
        condition if dispatch.device_of(condition) == dispatch.CUDA else np.asarray(condition)
    if np.dtype(cond.dtype) != np.bool_:
        raise TypeError(f"where: condition must be a boolean tensor, got dtype {cond.dtype}; compare first (x > 0)")
    a, b = _where_operand(input, "input"), _where_operand(other, "other")
    if isinstance(a, Tensor):
        a, b = _operands(a, b)
    elif isinstance(b, Tensor):
        b, a = _operands(b, a)
    else:  # two numbers: torch's default dtypes (float32, int64, bool)
        kind = type(a) if type(a) is type(b) else float if float in (type(a), type(b)) else int
        a = Tensor(M.full((), a, _DEFAULT_DTYPE if kind is float else np.int64 if kind is int else np.bool_,
                          like=cond))
        a, b = _operands(a, b)
    M.same_device(condition=cond, **{k: v.data for k, v in (("input", a), ("other", b)) if isinstance(v, Tensor)})
    shape = lambda v: v.shape if isinstance(v, Tensor) else ()  # noqa: E731
    try:
        np.broadcast_shapes(tuple(cond.shape), shape(a), shape(b))
    except ValueError:
        raise ValueError(f"where: condition {tuple(cond.shape)}, input {shape(a)} and other {shape(b)} do not "
                         f"broadcast together") from None
    return Where.apply(condition if isinstance(condition, Tensor) else cond, a, b)


def _factory_device(device, like=None):
    """The device a factory's ``device=`` names, 'cpu' or 'cuda' (asking for CUDA where there is none is
    CUDAUnavailableError); without one, ``like``'s device (the ``*_like`` factories) or the CPU."""
    if device is None:
        return dispatch.CPU if like is None else dispatch.device_of(like)
    return _device_name(device)


def _placed(array, device, requires_grad=False):
    """A new leaf of ``array`` (built on the host) on the factory's ``device``."""
    return Tensor(M.to_device(array, _factory_device(device)), requires_grad=requires_grad)


def tensor(data, dtype=None, requires_grad=False, *, device=None):
    """A new Tensor holding a copy of ``data`` (Python floats -> float32, ints -> int64; arrays keep their
    dtype), on ``device`` (default: ``data``'s device, the CPU for Python data)."""
    if isinstance(data, Tensor):
        data = data.data
    target = _factory_device(device, data)
    if dispatch.device_of(data) == dispatch.CUDA:  # a copy, cast on the device
        data = M.copy(data) if dtype is None or np.dtype(dtype) == np.dtype(data.dtype) else \
            M.astype(data, np.dtype(dtype))
        return Tensor(M.to_device(data, target), requires_grad=requires_grad)
    if isinstance(data, np.ndarray):
        data = data.copy()
    return Tensor(M.to_device(Tensor(data, dtype=dtype).data, target), requires_grad=requires_grad)


def _float_dtype(dtype):
    return np.dtype(_DEFAULT_DTYPE if dtype is None else dtype)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return Tensor(M.zeros(_shape_args(size, "size"), _float_dtype(dtype), like=_factory_device(device)),
                  requires_grad=requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return Tensor(M.ones(_shape_args(size, "size"), _float_dtype(dtype), like=_factory_device(device)),
                  requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False, *, device=None):
    """Filled with ``fill_value``; dtype from it when not given (float -> float32, int -> int64, bool)."""
    if dtype is None:
        dtype = np.bool_ if isinstance(fill_value, bool) else np.int64 if isinstance(fill_value, numbers.Integral) \
            else _DEFAULT_DTYPE
    size = _shape_args((size,) if isinstance(size, numbers.Integral) else tuple(size), "size")
    dtype = np.dtype(dtype)
    _fill_value(fill_value, dtype, "full")
    return Tensor(M.full(size, fill_value, dtype, like=_factory_device(device)), requires_grad=requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    """The ``n`` x ``m`` (default ``n`` x ``n``) matrix with ones on the diagonal, as ``torch.eye``."""
    n = shapes.integer(n, "n", lo=0)
    m = n if m is None else shapes.integer(m, "m", lo=0)
    return _placed(np.eye(n, m, dtype=_float_dtype(dtype)), device, requires_grad)


def _fill_value(value, dtype, where):
    """A ValueError unless ``value`` is an integer in range for an integer ``dtype`` (NumPy would wrap or
    store INT64_MIN for NaN)."""
    if dtype.kind in "iu" and not (isinstance(value, numbers.Integral)
                                   or (isinstance(value, numbers.Real) and float(value).is_integer())):
        raise ValueError(f"{where}: fill_value {value!r} is not an integer, for dtype {dtype}")
    if dtype.kind in "iu" and not np.iinfo(dtype).min <= int(value) <= np.iinfo(dtype).max:
        raise ValueError(f"{where}: fill_value {value!r} is out of range for dtype {dtype}")


def _like(t):
    return t.data if isinstance(t, Tensor) else np.asarray(t)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of ``size`` whose values are not to be relied on, as ``torch.empty``; numconv fills it
    with zeros (uninitialized host memory would hand out what an earlier array left there)."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input, dtype=None, requires_grad=False, *, device=None):  # noqa: A002
    return zeros_like(input, dtype=dtype, requires_grad=requires_grad, device=device)


def zeros_like(input, dtype=None, requires_grad=False, *, device=None):  # noqa: A002
    a = _like(input)
    return Tensor(M.zeros(a.shape, _dtype(dtype) or a.dtype, like=_factory_device(device, a)),
                  requires_grad=requires_grad)


def ones_like(input, dtype=None, requires_grad=False, *, device=None):  # noqa: A002
    a = _like(input)
    return Tensor(M.ones(a.shape, _dtype(dtype) or a.dtype, like=_factory_device(device, a)),
                  requires_grad=requires_grad)


def full_like(input, fill_value, dtype=None, requires_grad=False, *, device=None):  # noqa: A002
    a = _like(input)
    dtype = _dtype(dtype) or np.dtype(a.dtype)
    _fill_value(fill_value, dtype, "full_like")
    return Tensor(M.full(a.shape, fill_value, dtype, like=_factory_device(device, a)), requires_grad=requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Standard normal draws from numconv's global generator (or ``generator``); on a GPU (``device``),
    drawn there from a stream that ``generator`` seeds."""
    rng = generator if generator is not None else _random.generator()
    return Tensor(M.standard_normal(rng, _shape_args(size, "size"), _float_dtype(dtype),
                                    like=_factory_device(device)), requires_grad=requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """U[0, 1) draws from numconv's global generator (or ``generator``); on a GPU (``device``), drawn
    there from a stream that ``generator`` seeds."""
    rng = generator if generator is not None else _random.generator()
    return Tensor(M.uniform(rng, _shape_args(size, "size"), _float_dtype(dtype), like=_factory_device(device)),
                  requires_grad=requires_grad)


def randint(low, high=None, size=(), dtype=np.int64, generator=None, requires_grad=False, *, device=None):
    """Integers in [low, high) (``randint(high, size)`` starts at 0), as ``torch.randint``; ``dtype``
    any integer, float or bool dtype (the integers stored in it)."""
    if isinstance(high, (tuple, list)) and size == ():  # randint(high, size), PyTorch's usual call
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    low, high = shapes.integer(low, "low"), shapes.integer(high, "high")
    if high <= low:
        raise ValueError(f"randint: high must be above low, got low={low}, high={high}")
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf":
        raise TypeError(f"randint: dtype must be an integer, float or bool dtype, got {dtype}")
    rng = generator if generator is not None else _random.generator()
    draws = M.integers(rng, low, high, _shape_args(tuple(size) if not isinstance(size, int) else (size,)),
                       dtype if dtype.kind in "iu" else np.int64, like=_factory_device(device))
    return Tensor(draws if draws.dtype == dtype else M.astype(draws, dtype), requires_grad=requires_grad)


def rand_like(input, dtype=None, requires_grad=False, generator=None, *, device=None):  # noqa: A002
    """U[0, 1) draws of ``input``'s shape, device and float dtype (or ``dtype``, ``device``)."""
    a = _like(input)
    return rand(*a.shape, dtype=_dtype(dtype) or _float_dtype(a.dtype if a.dtype.kind == "f" else None),
                device=_factory_device(device, a), requires_grad=requires_grad, generator=generator)


def randn_like(input, dtype=None, requires_grad=False, generator=None, *, device=None):  # noqa: A002
    """Standard normal draws of ``input``'s shape, device and float dtype (or ``dtype``, ``device``)."""
    a = _like(input)
    return randn(*a.shape, dtype=_dtype(dtype) or _float_dtype(a.dtype if a.dtype.kind == "f" else None),
                 device=_factory_device(device, a), requires_grad=requires_grad, generator=generator)


def linspace(start, end, steps, dtype=None, requires_grad=False, *, device=None):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (float32, or ``dtype``), as
    PyTorch computes them (``_linspace``)."""
    for name, v in (("start", start), ("end", end)):
        shapes.real(v, f"linspace: {name}")
    steps = shapes.integer(steps, "steps", 0)
    dtype = _float_dtype(dtype)
    if dtype.kind in "iu":  # PyTorch truncates the ends first, then each value
        return _placed(np.trunc(np.linspace(int(start), int(end), steps)).astype(dtype), device)
    return _placed(_linspace(float(start), float(end), steps, dtype), device, requires_grad)


def _linspace(start, end, steps, dtype):
    """PyTorch's float linspace, bit for bit: step = (end - start) / (steps - 1) in ``dtype``; the first
    half start + step * i, the rest end - step * (steps - 1 - i), each a fused multiply-add (rounded
    once: computed in a wider type, float64 for float32 and long double for float64, then rounded)."""
    if steps <= 1:
        return np.full(steps, start, dtype)
    s, e = dtype.type(start), dtype.type(end)
    step = (e - s) / dtype.type(steps - 1)
    wide = np.float64 if dtype == np.float32 else np.longdouble
    i = np.arange(steps)
    ends = np.where(i < steps // 2, wide(s) + wide(step) * i, wide(e) - wide(step) * (steps - 1 - i))
    return ends.astype(dtype)


def from_numpy(ndarray):
    """A Tensor sharing ``ndarray``'s memory (its changes show in the tensor and back), as ``torch.from_numpy``."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(ndarray).__name__}")
    if ndarray.dtype.byteorder not in "=|":
        raise ValueError(f"from_numpy: the array's byte order is not native ({ndarray.dtype}); use .astype first")
    if ndarray.dtype.kind == "f" and ndarray.dtype not in (np.float32, np.float64):
        raise TypeError(f"from_numpy: numconv's floating dtypes are float32 and float64, got {ndarray.dtype}")
    return Tensor(ndarray)


def as_tensor(data, dtype=None, device=None):
    """``data`` as a Tensor without a copy where it can be (a Tensor or NumPy array of the dtype and
    device), as ``torch.as_tensor``; anything else as ``tensor(data)``. A Tensor converted stays in
    its graph."""
    if isinstance(data, Tensor):
        data = data if dtype is None else data.astype(dtype)
        return data if device is None else data.to(device)
    if isinstance(data, np.ndarray) and (dtype is None or np.dtype(dtype) == data.dtype) and \
            data.dtype.kind in "biu" + ("f" if data.dtype in (np.float32, np.float64) else ""):
        return Tensor(M.to_device(data, _factory_device(device)))
    if dispatch.device_of(data) == dispatch.CUDA and (dtype is None or np.dtype(dtype) == np.dtype(data.dtype)) \
            and _factory_device(device, data) == dispatch.CUDA:
        return Tensor(data)
    return tensor(data, dtype=dtype, device=device)


def randperm(n, generator=None, *, dtype=np.int64, device=None, requires_grad=False):
    """A random permutation of 0..n-1 (int64, or ``dtype``)."""
    n = shapes.integer(n, "n", lo=0)
    rng = generator if generator is not None else _random.generator()
    return _placed(M.permutation(rng, n).astype(dtype, copy=False), device, requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, *, device=None):
    """[start, end) by ``step``: int64 when all are ints, else float32 (or ``dtype``)."""
    if end is None:
        start, end = 0, start
    for name, v in (("start", start), ("end", end), ("step", step)):
        shapes.real(v, f"arange: {name}")  # a number (TypeError), finite (ValueError)
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = np.int64 if ints else _DEFAULT_DTYPE
    if np.dtype(dtype).kind in "iub":  # PyTorch truncates each toward 0 first: arange(0, 5, 1.5) steps by 1
        given = step
        start, end, step = (int(v) for v in (start, end, step))
        if step == 0 and given != 0:
            raise ValueError(f"arange: step={given!r} truncates to 0 for the integer dtype {np.dtype(dtype)}")
    if step == 0:
        raise ValueError("arange: step must not be zero")
    if (end - start) * step < 0:
        raise ValueError(f"arange: step={step!r} goes away from end={end!r} starting at {start!r}")
    return _placed(M.arange(start, end, step, np.dtype(dtype)), device, requires_grad)


manual_seed = _random.manual_seed
