"""``numconv.nn.init``: fill parameters in place, as ``torch.nn.init``.

Every function writes into ``tensor`` (a Tensor/Parameter, or a NumPy array) without recording
a graph, keeps its dtype, and returns it. Random draws come from numconv's global generator, so
``numconv.manual_seed(s)`` makes layer construction reproducible; pass ``generator=`` (a
``numpy.random.Generator``) to use another.

Fans of a weight of shape (out, in, *kernel): fan_in = in * prod(kernel), fan_out = out * prod(kernel).
"""
from __future__ import annotations

import math
import statistics

import numpy as np

from .. import random as _random
from .. import shapes
from ..tensor import Tensor

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_", "ones_", "eye_", "dirac_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_",
]


def _generator(generator=None):
    return _random.generator() if generator is None else generator


def _array(tensor):
    if isinstance(tensor, Tensor):
        return tensor.data
    if isinstance(tensor, np.ndarray):
        return tensor
    raise TypeError(f"expected a numconv Tensor/Parameter or a NumPy array, got {type(tensor).__name__}")


def _fill(tensor, values):
    arr = _array(tensor)
    if isinstance(arr, np.ndarray):
        arr[...] = values
    else:  # a device array: draw on the host, copy once
        arr.copy_to_device(np.asarray(np.broadcast_to(values, arr.shape), dtype=arr.dtype, order="C"))
    return _written(tensor)


def _written(tensor):
    """``tensor`` after an in-place fill: the change counted (and carried to what it is a slice of)."""
    if isinstance(tensor, Tensor):
        tensor._written()
    return tensor


def _float_dtype(tensor):
    dt = np.dtype(_array(tensor).dtype)
    if dt.kind != "f":
        raise TypeError(f"can only initialize floating-point tensors, got dtype {dt}")
    return dt


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    linear, conv*, sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 + slope^2))
    (slope ``param``, default 0.01); selu: 3/4.
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"unsupported nonlinearity {nonlinearity!r}; expected one of {linear + ('sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu')}"
    )


def _calculate_fan_in_and_fan_out(tensor):
    shape = _array(tensor).shape
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got shape {tuple(shape)}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _draw(tensor, kind, scale, shift, generator):
    """Fill ``tensor`` with U[0, 1) (kind 'random') or N(0, 1) ('standard_normal') times scale plus shift."""
    dt = _float_dtype(tensor)
    draw = getattr(_generator(generator), kind)
    arr = _array(tensor)
    if isinstance(arr, np.ndarray) and arr.flags.c_contiguous and arr.flags.writeable:
        draw(dtype=dt, out=arr)  # in place: no temporary for 100M-element weights
        arr *= dt.type(scale)
        arr += dt.type(shift)
        return _written(tensor)
    values = draw(arr.shape, dtype=dt)
    values *= dt.type(scale)
    values += dt.type(shift)
    return _fill(tensor, values)


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b): a <= b, the bounds and b - a within the tensor's float dtype (as torch)."""
    largest = float(np.finfo(_float_dtype(tensor)).max)
    a, b = shapes.real(a, "a"), shapes.real(b, "b")
    if not a <= b:
        raise ValueError(f"uniform_ needs a <= b, got a={a}, b={b}")
    if max(-a, b, b - a) > largest:
        raise ValueError(f"uniform_ needs a, b and b - a within the tensor dtype's range (at most {largest:g} in "
                         f"magnitude), got a={a}, b={b}")
    return _draw(tensor, "random", b - a, a, generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std^2); mean and std finite, std >= 0."""
    mean, std = shapes.real(mean, "mean"), shapes.real(std, "std", 0.0)
    return _draw(tensor, "standard_normal", std, mean, generator)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std^2) truncated to [a, b] (absolute bounds, as torch).

    Where [a, b] holds at least a tenth of the normal's mass, values outside are drawn again (a
    few rounds); otherwise (a narrow interval, or one in a tail, where redrawing could take
    forever) each value is the normal's inverse CDF at a uniform draw between the bounds' CDFs,
    taken on the side of the mean where those are small numbers, so that they keep their
    precision. One narrower than the CDF's resolution draws uniformly; one whose mass is below
    float64's range (beyond 37 std) is refused.
    """
    dt = _float_dtype(tensor)
    mean, std = shapes.real(mean, "mean"), shapes.real(std, "std", 0.0, lo_open=True)
    if not a < b:
        raise ValueError(f"trunc_normal_ needs a < b, got a={a}, b={b}")
    rng = _generator(generator)
    shape = _array(tensor).shape
    lo, hi = (a - mean) / std, (b - mean) / std
    flip = lo > 0  # in the upper tail: draw -z on [-hi, -lo], where the CDF is small and exact
    if flip:
        lo, hi = -hi, -lo
    cdf_lo, cdf_hi = (0.5 * math.erfc(-v / math.sqrt(2.0)) for v in (lo, hi))
    if cdf_hi <= cdf_lo and hi < -37.0:
        raise ValueError(f"[a, b] = [{a}, {b}] lies where N({mean}, {std}^2) has no mass in float64 (more than 37 std "
                         f"from the mean); nothing can be drawn there")
    if cdf_hi <= cdf_lo:  # narrower than the CDF's resolution there: the density is constant across it
        z = rng.uniform(lo, hi, shape)
    elif cdf_hi - cdf_lo >= 0.1:
        z = rng.standard_normal(shape)
        bad = (z < lo) | (z > hi)
        while bad.any():
            z[bad] = rng.standard_normal(int(bad.sum()))
            bad = (z < lo) | (z > hi)
    else:
        u = np.maximum(rng.uniform(cdf_lo, cdf_hi, shape), np.nextafter(0.0, 1.0))  # inv_cdf(0) is -inf
        z = np.asarray(np.frompyfunc(statistics.NormalDist().inv_cdf, 1, 1)(u), np.float64).reshape(shape)
    if flip:
        z = -z
    return _fill(tensor, np.clip(z * std + mean, a, b).astype(dt))


def constant_(tensor, val):
    """Fill with ``val`` (a tensor of any dtype, as torch: 0.5 fills an integer one with 0)."""
    return _fill(tensor, val)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def eye_(tensor):
    """Fill a 2-d tensor with the identity matrix: ones on the main diagonal, zeros elsewhere (any dtype)."""
    shape = _array(tensor).shape
    if len(shape) != 2:
        raise ValueError(f"eye_ needs a tensor with 2 dimensions, got shape {tuple(shape)}")
    return _fill(tensor, np.eye(*shape))


def dirac_(tensor, groups=1):
    """Fill a convolution weight (out, in, *kernel) of 3, 4 or 5 dimensions with the Dirac delta, so that the
    convolution is the identity on the first channels: in each of ``groups`` groups of out / groups filters,
    filter d is 1 at input channel d and the kernel's centre (index k // 2 along each kernel dimension), for
    d < min(out / groups, in); zeros elsewhere (any dtype)."""
    shape = tuple(_array(tensor).shape)
    if len(shape) not in (3, 4, 5):
        raise ValueError(f"dirac_ needs a tensor with 3, 4 or 5 dimensions, got shape {shape}")
    groups = shapes.integer(groups, "groups", 1)
    if shape[0] % groups:
        raise ValueError(f"dirac_ needs dimension 0 ({shape[0]}) of shape {shape} to be divisible by groups={groups}")
    per_group = shape[0] // groups
    centre = tuple(k // 2 for k in shape[2:])
    values = np.zeros(shape)
    if values.size:  # (a kernel dimension of size 0 has no centre)
        for g in range(groups):
            for d in range(min(per_group, shape[1])):
                values[(g * per_group + d, d) + centre] = 1
    return _fill(tensor, values)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al., 2015); gain = calculate_gain(nonlinearity, a)."""
    fan = _calculate_correct_fan(tensor, mode)
    if fan == 0:
        return tensor
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """N(0, std^2) with std = gain / sqrt(fan); gain = calculate_gain(nonlinearity, a)."""
    fan = _calculate_correct_fan(tensor, mode)
    if fan == 0:
        return tensor
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator)


def orthogonal_(tensor, gain=1.0, generator=None):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2013), as torch: the tensor seen as
    (rows = shape[0], cols = the product of the rest) is the Q of the QR decomposition of a Gaussian
    matrix (of its transpose when rows < cols), each column's sign that of R's diagonal entry, so that
    Q is uniformly distributed. W W^T = gain^2 I when rows <= cols, W^T W = gain^2 I when rows >= cols."""
    _float_dtype(tensor)
    shape = tuple(_array(tensor).shape)
    if len(shape) < 2:
        raise ValueError(f"orthogonal_ needs a tensor with at least 2 dimensions, got shape {shape}")
    gain = shapes.real(gain, "gain")
    if not shapes.prod(shape):
        return tensor
    rows = shape[0]
    cols = shapes.prod(shape) // rows
    wide = rows < cols
    gaussian = _generator(generator).standard_normal((rows, cols))
    q, r = np.linalg.qr(gaussian.T if wide else gaussian)  # q: (max, min) with orthonormal columns
    q *= np.sign(np.diag(r))
    return _fill(tensor, (gain * (q.T if wide else q)).reshape(shape))


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """Fill a 2-d tensor (rows, cols) with N(0, std^2), then zero ceil(sparsity * rows) entries of each column,
    at rows drawn without replacement (Martens, 2010), as torch; sparsity in [0, 1]."""
    _float_dtype(tensor)
    shape = tuple(_array(tensor).shape)
    if len(shape) != 2:
        raise ValueError(f"sparse_ needs a tensor with 2 dimensions, got shape {shape}")
    sparsity = shapes.real(sparsity, "sparsity", 0.0, 1.0)
    std = shapes.real(std, "std", 0.0)
    rng = _generator(generator)
    values = rng.standard_normal(shape) * std
    zeros = math.ceil(sparsity * shape[0])
    rows = np.argsort(rng.random(shape), axis=0)[:zeros]  # each column's first rows of a random permutation
    np.put_along_axis(values, rows, 0.0, axis=0)
    return _fill(tensor, values)
