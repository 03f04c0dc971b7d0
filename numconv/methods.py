"""PyTorch's functions that mirror a Tensor method, ``numconv.sin(x)`` for ``x.sin()``: each is the
method of its first argument, with the same arguments, so there is one implementation (in
``numconv.tensor``) and one place to read it.

    import numconv as nc
    nc.add(x, y, alpha=2)       # x.add(y, alpha=2)
    nc.clamp(x, min=0)          # x.clamp(min=0)

The factories (``nc.zeros``, ``nc.arange``, ...) and the functions of several tensors
(``nc.cat``, ``nc.stack``, ``nc.where``, ...) live in ``numconv.tensor`` itself.
"""
from __future__ import annotations

import numbers

from .tensor import Tensor

NAMES = (
    # arithmetic
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide", "remainder", "fmod",
    "pow", "neg", "negative", "abs", "absolute", "square", "reciprocal", "maximum", "minimum",
    "addcmul", "addcdiv", "lerp",
    # elementwise functions
    "exp", "exp2", "expm1", "log", "log1p", "log2", "log10", "sqrt", "rsqrt", "sign", "sgn", "sin", "cos", "tan",
    "asin", "acos", "atan", "arcsin", "arccos", "arctan", "atan2", "arctan2", "sinh", "cosh", "tanh", "sigmoid",
    "asinh", "acosh", "atanh", "arcsinh", "arccosh", "arctanh",
    "erf", "erfc", "hypot", "copysign", "logaddexp", "xlogy", "heaviside", "relu", "deg2rad", "rad2deg",
    "logaddexp2", "fmax", "fmin", "float_power", "ldexp", "logit", "sinc", "erfinv", "lgamma", "digamma", "mvlgamma",
    "floor", "ceil", "round", "trunc", "fix", "frac", "clamp", "clip", "clamp_min", "clamp_max",
    # bitwise and logical
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift",
    "logical_and", "logical_or", "logical_xor", "logical_not",
    # comparisons
    "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal",
    # reductions, scans and sorts
    "sum", "mean", "prod", "std", "var", "amax", "amin", "argmax", "argmin", "max", "min", "all", "any",
    "cumsum", "cumprod", "sort", "argsort", "topk", "softmax", "log_softmax", "nonzero", "argwhere",
    "norm", "logsumexp", "nansum", "nanmean", "median", "nanmedian", "kthvalue", "mode", "aminmax", "cummax",
    "cummin", "unique", "var_mean", "std_mean", "count_nonzero",
    # tests of values
    "isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit", "nan_to_num", "equal", "isclose", "allclose",
    # shape, indexing and linear algebra
    "reshape", "flatten", "squeeze", "unsqueeze", "transpose", "permute", "t", "flip", "fliplr", "flipud", "rot90",
    "roll", "movedim", "moveaxis", "swapaxes", "swapdims", "narrow", "select", "unflatten", "tile",
    "repeat_interleave", "gather", "index_select", "masked_select", "take", "scatter", "scatter_add", "index_add",
    "index_copy", "index_fill", "tril", "triu", "diagonal", "diag", "trace", "diff", "matmul", "mm", "bmm", "mv",
    "dot", "outer", "addmm", "numel", "clone", "unbind", "ravel", "broadcast_to",
)


def _scaled(t, alpha):
    return t if alpha == 1 else t.mul(alpha)


# A number first and a Tensor second, as PyTorch allows for these: the Tensor's reflected operator,
# which promotes the number as arithmetic does (torch.pow(2, x) is float32 for a float32 x)
_NUMBER_FIRST = {
    "add": lambda s, t, alpha=1: _scaled(t, alpha).__radd__(s),
    "sub": lambda s, t, alpha=1: _scaled(t, alpha).__rsub__(s),
    "mul": lambda s, t: t.__rmul__(s),
    "div": lambda s, t: t.__rtruediv__(s),
    "true_divide": lambda s, t: t.__rtruediv__(s),
    "pow": lambda s, t: t.__rpow__(s),
    "remainder": lambda s, t: t.__rmod__(s),
    "floor_divide": lambda s, t: t.__rfloordiv__(s),
}
_NUMBER_FIRST.update(subtract=_NUMBER_FIRST["sub"], multiply=_NUMBER_FIRST["mul"], divide=_NUMBER_FIRST["div"])


def _function(name):
    method = getattr(Tensor, name)

    def function(input, *args, **kwargs):  # noqa: A002 (PyTorch's name)
        if not isinstance(input, Tensor):
            if name in _NUMBER_FIRST and isinstance(input, numbers.Number) and args and isinstance(args[0], Tensor):
                return _NUMBER_FIRST[name](input, *args, **kwargs)
            raise TypeError(f"numconv.{name}: input must be a Tensor, got {type(input).__name__}")
        return method(input, *args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``input.{name}(...)``: " + (method.__doc__ or f"Tensor.{name}").strip().split("\n")[0]
    return function


globals().update({name: _function(name) for name in NAMES})


def polygamma(n, input):  # noqa: A002 (PyTorch's name and order: the order first)
    """``input.polygamma(n)``: the n-th derivative of digamma, as ``torch.polygamma(n, input)``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"numconv.polygamma: input must be a Tensor, got {type(input).__name__}")
    return input.polygamma(n)


__all__ = [*NAMES, "polygamma"]
