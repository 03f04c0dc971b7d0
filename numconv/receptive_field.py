"""Receptive fields: the notes' recurrences, a top-down region of one unit, and an empirical check.

Conventions (per spatial dimension, in pixels of the network input, pixel centres at 0, 1, 2, ...):

- ``size`` r: how many input pixels one unit of a layer sees (padding included, so it may exceed
  the image); ``jump`` j: the distance in input pixels between two neighbouring units of the layer
  (its effective stride); ``start``: the input coordinate of the centre of unit 0's field (negative
  or fractional when padding or even windows shift it).
- A layer with kernel k, stride s, left padding p and dilation d (k' = k + (k-1)(d-1)) maps
  ``r -> r + (k'-1) j``, ``j -> j s``, ``start -> start + ((k'-1)/2 - p) j``: the notes' bottom-up
  recurrence ``r_n = r_{n-1} + (k'_n - 1) prod(s_1..s_{n-1})``. The top-down form
  ``RF_i = (RF_{i+1} - 1) s_i + k'_i`` (``receptive_field_topdown``) gives the same size.
- Unit o of a layer sees input pixels ``[start + o j - (r-1)/2, start + o j + (r-1)/2]``.
- Pooling counts as a window (max, average and power-average alike), and so does ``PixelUnshuffle(r)``
  (kernel and stride r); BatchNorm, activations, dropout and other layers that keep the spatial size
  are the identity for receptive fields (in a traced model; a list of layers takes only the layers
  it knows act position by position, see ``receptive_field``).
- Upsampling (``Upsample`` in every mode, ``PixelShuffle``), adaptive pooling and transposed
  convolution read known input pixels per output: output o reads inputs a_o..b_o (the
  interpolation's taps; o // r for pixel shuffle; the adaptive window ``[floor(o n_in/n_out),
  ceil((o+1) n_in/n_out) - 1]``; for a transposed convolution or max unpooling, the inputs i with
  ``o = i s - p + t d``). ``jump`` is the fractional stride j q, q = n_in/n_out (1/s for a
  transposed convolution), and ``size`` and ``start`` bound every unit: with lo = min_o (a_o - o q)
  and hi = max_o (b_o - o q), size r + (hi - lo) j and start shifted by (lo + hi)/2 j, so each
  unit's region contains every input pixel that reaches it (an upper bound, exact for adaptive
  pooling where n_out divides n_in: the window n_in/n_out). Where the offsets a_o - o q vary from
  output to output (uneven adaptive windows, a stride that does not divide a transposed kernel,
  nearest upsampling by s) the region is wider than the exact one (for adaptive pooling and
  nearest upsampling, by less than one jump j of the input at each end). The offsets of a
  transposed convolution repeat with period s, so its bound needs no sizes (outputs that no input
  reaches, when k < s, are left out). ``Upsample(mode='area')`` is adaptive average pooling.
- Where branches meet (a residual addition, an Inception concatenation) the field is the union of
  the branches' fields (their bounding interval): the largest branch field when the branches are
  centred alike, as in every zoo model.
- A tensor whose spatial shape changes outside a layer numconv knows (``flatten`` before a
  ``Linear``, a functional resize), or through a layer it does not model, becomes global: every unit
  sees the union of the fields of all units of the map before it. Its jump is 0 where the new map
  still has several units (they all see the same pixels) and that of one window over the whole map
  (j n) where it has one.
- Padding modes other than zeros are treated as zero padding ('circular' wraps around and is not
  modelled).

``empirical_receptive_field`` back-propagates a unit gradient from one output unit in float64 and
measures the non-zero extent of the input gradient. To make that extent the structural one:
every weight is random and positive (uniform(0.5, 1.5) / fan-in), biases and inputs are positive,
BatchNorm uses running statistics 0 and 1, so every activation is positive and every ReLU passes
its gradient; max pooling (which routes the gradient to a single tap) is evaluated as average
pooling over the same windows (``count_include_pad``), adaptive max as adaptive average. The model's
own weights are swapped in place and restored afterwards (not thread-safe).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from . import dispatch
from . import functional as F
from . import nn, shapes
from .autograd import enable_grad
from .nn.conv import _ConvNd
from .tensor import Tensor

__all__ = [
    "receptive_field", "receptive_field_topdown", "receptive_region", "empirical_receptive_field",
    "ReceptiveField", "RFLayer",
]

_MAXPOOL = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
_AVGPOOL = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
_ADAPTIVE_MAX = (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
_ADAPTIVE = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d) + _ADAPTIVE_MAX
_UNPOOL = (nn.MaxUnpool1d, nn.MaxUnpool2d, nn.MaxUnpool3d)
_LPPOOL = (nn.LPPool1d, nn.LPPool2d, nn.LPPool3d)
_POOL = _MAXPOOL + _AVGPOOL + _LPPOOL
_CONTAINERS = (nn.Sequential, nn.ModuleList)
_GLOBAL = (nn.Flatten, nn.Linear)  # in a list of layers: every unit sees the whole map, as after a flatten
# Layers that act on each position alone (element by element, per channel, across the channels of one
# position): the identity for receptive fields.
_POSITIONWISE = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish,
    nn.Hardsigmoid, nn.Hardtanh, nn.Softplus, nn.Sigmoid, nn.Tanh, nn.LogSigmoid, nn.Softsign, nn.Tanhshrink,
    nn.Threshold, nn.Hardshrink, nn.Softmax2d, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d,
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LocalResponseNorm, nn.ChannelShuffle, nn.Identity,
)
# The modules a list of layers may hold (containers are expanded first).
_LIST_LAYERS = (_ConvNd, nn.Upsample, nn.PixelShuffle, nn.PixelUnshuffle) + _POOL + _ADAPTIVE + _UNPOOL \
    + _GLOBAL + _POSITIONWISE


def _spatial_dims(layer):
    """How many spatial dimensions a layer's type fixes (Conv2d, MaxPool2d, BatchNorm2d: 2), else None."""
    if isinstance(layer, _ConvNd):
        return layer._nd
    for nd, group in enumerate(zip(_MAXPOOL, _AVGPOOL, _LPPOOL, _ADAPTIVE[:3], _ADAPTIVE_MAX, _UNPOOL), 1):
        if isinstance(layer, group):
            return nd
    if isinstance(layer, (nn.BatchNorm2d, nn.BatchNorm3d)):  # BatchNorm1d takes (C,) and (C, L) alike
        return 2 if isinstance(layer, nn.BatchNorm2d) else 3
    return None


def _sample_form(nd):
    return "(C, " + ", ".join(("L",) if nd == 1 else ("H", "W") if nd == 2 else ("D", "H", "W")) + ")"


def check_input_shape(layer, name, input_shape, x_shape):
    """Refuse an ``input_shape`` (one sample's shape, checked by ``shapes.sample_shape``) that the network's
    first layer ``layer`` (called ``name``, about to run on ``x_shape``) cannot take as (C, *spatial): a
    shape without its channel dimension (which a Conv2d would read as one unbatched (C, H, W) sample, so
    the trace ran on the wrong dimensions), with a batch dimension, or with another channel count.
    Returns whether the layer's type fixes what it takes (convolutions, pooling, BatchNorm2d/3d, Linear):
    the first such layer decides; it is checked when it reads the traced input's shape (1, *input_shape)."""
    if not isinstance(layer, nn.Linear) and _spatial_dims(layer) is None:
        return False
    if tuple(x_shape) != (1,) + tuple(input_shape):
        return True
    kind = type(layer).__name__

    def first(detail=""):
        return f"the model's first layer {name or kind} ({kind}{detail})"

    if isinstance(layer, nn.Linear):
        if input_shape[-1] != layer.in_features:
            raise ValueError(f"input_shape {input_shape} does not fit {first(f', in_features={layer.in_features}')}: "
                             f"its last size must be {layer.in_features}")
        return True
    nd = _spatial_dims(layer)
    channels = layer.in_channels if isinstance(layer, _ConvNd) else getattr(layer, "num_features", None)
    if len(input_shape) != nd + 1:
        hint = ""
        if len(input_shape) == nd:
            hint = "; the channel dimension is missing" + ("" if channels is None else f": {(channels,) + input_shape}")
        elif len(input_shape) == nd + 2:
            hint = f"; leave out the batch dimension: {input_shape[1:]}"
        takes = ("" if channels is None else f"{channels} input channel(s) and ") + f"{nd} spatial dimension(s)"
        raise ValueError(f"input_shape must be one sample's shape {_sample_form(nd)} for {first(': ' + takes)}, "
                         f"got {input_shape}{hint}")
    if channels is not None and input_shape[0] != channels:
        raise ValueError(f"input_shape {input_shape} has {input_shape[0]} channel(s), but {first()} takes {channels}")
    return True


def _num(x):
    """A Fraction as an int when whole, else a float (for display and data)."""
    x = Fraction(x)
    return int(x) if x.denominator == 1 else float(x)


def _position(position, shape):
    """``position``, one unit of a layer of spatial ``shape``, as a tuple of ints with 0 <= p < n in
    every dimension (n None: the size is not known, p >= 0 only)."""
    if not isinstance(position, (tuple, list, np.ndarray)) or not all(shapes._is_int(p) for p in position):
        raise TypeError(f"position must be a tuple of ints, one per spatial dimension, got {position!r}")
    position = tuple(int(p) for p in position)
    if len(position) != len(shape):
        raise ValueError(f"position {position} does not match the layer's spatial shape {tuple(shape)}")
    if any(p < 0 or n is not None and p >= n for p, n in zip(position, shape)):
        bounds = ", ".join(f"position[{i}] >= 0" if n is None else f"0 <= position[{i}] < {n}"
                           for i, n in enumerate(shape))
        where = "" if None in shape else f" of spatial shape {tuple(shape)}"
        raise ValueError(f"position {position} is outside the layer's output{where}: need {bounds}")
    return position


def _unit_grid(spatial, nd):
    """A layer's output spatial shape as the ``nd``-dimensional grid of its units: a vector (no spatial
    dimension left, after a flatten) is one unit; None when not known or of another rank."""
    if spatial is None:
        return None
    spatial = tuple(spatial)
    return (1,) * nd if not spatial else spatial if len(spatial) == nd else None


# ----------------------------------------------------------------------------- layer geometry


@dataclass(frozen=True)
class Geometry:
    """How one layer maps positions, per spatial dimension.

    kind: 'window' (convolution, pooling), 'transposed' (transposed convolution, max unpooling),
    'adaptive', 'resample' (upsampling: ``windows[dim][o]`` = (first, last) input read by output o),
    'pass' (spatial size kept, position-wise) or 'global' (mixes every position).
    """

    kind: str
    kernel: tuple = ()
    stride: tuple = ()
    padding: tuple = ()
    dilation: tuple = ()
    n_in: tuple = ()
    n_out: tuple = ()
    windows: tuple = ()


def _tuple(v, nd, name):
    return tuple(int(a) for a in shapes.ntuple(v, nd, name))


def _conv_lo_padding(padding, kernel, stride, dilation, n_in):
    nd = len(kernel)
    pad = shapes.conv_padding(padding, nd)
    if pad == "same":
        if n_in is None:
            raise ValueError("padding='same' needs the input size: pass input_shape")
        return shapes._same_padding(n_in, kernel, stride, dilation)[0]
    return tuple(pad[0])


def _spec_geometry(spec):
    """(k, s, p, d) / (k, s, p) / (k, s) / k / dict(kernel_size=, stride=, padding=, dilation=) as a window."""
    if isinstance(spec, dict):
        unknown = set(spec) - {"kernel_size", "stride", "padding", "dilation"}
        if unknown or "kernel_size" not in spec:
            raise ValueError(f"a layer given as a dict needs kernel_size (and optionally stride, padding, dilation), got {spec!r}")
        k, s, p, d = spec["kernel_size"], spec.get("stride", 1), spec.get("padding", 0), spec.get("dilation", 1)
    else:
        vals = tuple(spec) if isinstance(spec, (tuple, list)) else (spec,)
        if not 1 <= len(vals) <= 4:
            raise ValueError(f"a layer given as a tuple is (kernel, stride=1, padding=0, dilation=1), got {spec!r}")
        k, s, p, d = vals + (1, 0, 1)[len(vals) - 1:]
    return k, s, p, d


def _adaptive_geometry(what, n_in, n_out):
    """The 'adaptive' geometry; an output of size 0 (allowed, as PyTorch's) has no units to bound."""
    if 0 in n_out:
        raise ValueError(f"{what} has an empty output (size {n_out} from {n_in}): no unit after it has a "
                         "receptive field")
    return Geometry("adaptive", n_in=n_in, n_out=n_out)


def _resample_geometry(layer, n_in):
    """The 'resample' geometry of an ``Upsample`` or ``PixelShuffle`` on spatial sizes ``n_in``."""
    if isinstance(layer, nn.PixelShuffle):
        r = layer.upscale_factor
        windows = tuple(tuple((o // r, o // r) for o in range(n * r)) for n in n_in)
        return Geometry("resample", n_in=n_in, n_out=tuple(n * r for n in n_in), windows=windows)
    out, scales, corners = shapes.interpolate_params(n_in, layer.size, layer.scale_factor, layer.mode,
                                                     layer.align_corners, layer.recompute_scale_factor)
    if layer.mode == "area":
        return Geometry("adaptive", n_in=n_in, n_out=out)
    windows = []
    for n, m, s in zip(n_in, out, scales):
        # the taps F.interpolate reads; float32 and float64 may round a position differently: both
        taps = np.concatenate([shapes.resample_table(n, m, layer.mode, corners, s, dt)[0][1].reshape(m, -1)
                               for dt in shapes.FLOAT_DTYPES], axis=1)
        windows.append(tuple(zip(taps.min(axis=1).tolist(), taps.max(axis=1).tolist())))
    return Geometry("resample", n_in=n_in, n_out=out, windows=tuple(windows))


def layer_geometry(layer, n_in=None, n_out=None, nd=None):
    """The ``Geometry`` of a module (or a (k, s, p, d) spec) for input/output spatial sizes ``n_in``/``n_out``.

    Sizes are needed only for padding='same', adaptive pooling and upsampling. Modules that keep the
    spatial size are 'pass'; any other module that changes it is 'global'.
    """
    if nd is None:
        nd = len(n_in) if n_in is not None else 2
    if not isinstance(layer, nn.Module):
        k, s, p, d = _spec_geometry(layer)
        k, s, d = (shapes.positive(_tuple(v, nd, name), name)
                   for v, name in ((k, "kernel_size"), (s, "stride"), (d, "dilation")))
        return Geometry("window", k, s, _conv_lo_padding(p, k, s, d, n_in), d)
    if isinstance(layer, _ConvNd):
        k, s, d = layer.kernel_size, layer.stride, layer.dilation
        if layer._transposed:
            return Geometry("transposed", k, s, tuple(shapes.conv_padding(layer.padding, len(k))[0]), d)
        return Geometry("window", k, s, _conv_lo_padding(layer.padding, k, s, d, n_in), d)
    if isinstance(layer, _MAXPOOL):
        k, s, p, d = shapes.pool_params(nd, layer.kernel_size, layer.stride, layer.padding, layer.dilation)
        return Geometry("window", k, s, p, d)
    if isinstance(layer, _AVGPOOL):
        k, s, p, d = shapes.pool_params(nd, layer.kernel_size, layer.stride, layer.padding, 1)
        return Geometry("window", k, s, p, d)
    if isinstance(layer, _LPPOOL):
        return Geometry("window", *shapes.pool_params(nd, layer.kernel_size, layer.stride, 0, 1))
    if isinstance(layer, nn.PixelUnshuffle) and nd == 2:  # pixel (un)shuffles rearrange (H, W) only
        r = (layer.downscale_factor,) * nd
        return Geometry("window", r, r, (0,) * nd, (1,) * nd)
    if isinstance(layer, nn.Upsample) or (isinstance(layer, nn.PixelShuffle) and nd == 2):
        if n_in is None:
            raise ValueError(f"{type(layer).__name__} needs the input size: pass input_shape")
        return _resample_geometry(layer, tuple(n_in))
    if isinstance(layer, _UNPOOL):
        return Geometry("transposed", layer.kernel_size, layer.stride, layer.padding, (1,) * len(layer.kernel_size))
    if isinstance(layer, _ADAPTIVE):
        if n_in is None or n_out is None:
            raise ValueError(f"{type(layer).__name__} needs the input size: pass input_shape")
        return _adaptive_geometry(type(layer).__name__, tuple(n_in), tuple(n_out))
    if n_in is not None and n_out is not None and tuple(n_in) != tuple(n_out):
        return Geometry("global", n_in=tuple(n_in), n_out=tuple(n_out))
    return Geometry("pass")


def geometry_out_size(layer, geom, n_in):
    """Output spatial sizes of ``layer`` (module or spec) with geometry ``geom`` for input sizes ``n_in``."""
    out = []
    for i, n in enumerate(n_in):
        if geom.kind == "pass":
            out.append(n)
            continue
        if geom.kind in ("adaptive", "resample"):
            return tuple(geom.n_out)
        if geom.kind == "global":
            return (1,) * len(n_in)
        k, s, p, d = geom.kernel[i], geom.stride[i], geom.padding[i], geom.dilation[i]
        if geom.kind == "transposed":
            hi = p
            if isinstance(layer, _ConvNd):
                hi = shapes.conv_padding(layer.padding, len(n_in))[1][i]
                op = layer.output_padding[i]
            else:
                op = 0
            out.append((n - 1) * s - p - hi + d * (k - 1) + op + 1)
        elif isinstance(layer, _POOL):
            out.append(shapes.pool_out_size(n, k, s, p, d, layer.ceil_mode))
        else:
            hi = p
            if isinstance(layer, _ConvNd):
                pad = shapes.conv_padding(layer.padding, len(n_in))
                hi = shapes._same_padding(n_in, geom.kernel, geom.stride, geom.dilation)[1][i] if pad == "same" else pad[1][i]
            elif not isinstance(layer, nn.Module):
                _, _, pspec, _ = _spec_geometry(layer)
                pad = shapes.conv_padding(pspec, len(n_in))
                hi = shapes._same_padding(n_in, geom.kernel, geom.stride, geom.dilation)[1][i] if pad == "same" else pad[1][i]
            out.append((n + p + hi - d * (k - 1) - 1) // s + 1)
    return tuple(out)


def _transposed_inputs(o, k, s, p, d):
    """Input positions i of a transposed convolution that reach output o (o = i s - p + t d, 0 <= t < k)."""
    return [(o + p - t * d) // s for t in range(k) if (o + p - t * d) % s == 0]


def _adaptive_window(o, n, m):
    return (o * n) // m, -(-((o + 1) * n) // m) - 1


# ----------------------------------------------------------------------------- bottom-up (the notes' recurrence)


@dataclass(frozen=True)
class _Dim:
    """One spatial dimension of a tensor's field: size, jump, start, and the union of all its units' fields."""

    r: Fraction
    j: Fraction
    start: Fraction
    full_lo: Fraction
    full_hi: Fraction

    @property
    def lo(self):
        return self.start - (self.r - 1) / 2

    @property
    def hi(self):
        return self.start + (self.r - 1) / 2


def input_dims(n_in):
    """The field of the network input itself: size 1, jump 1, start 0 in every dimension."""
    return tuple(_Dim(Fraction(1), Fraction(1), Fraction(0), Fraction(0), Fraction(n - 1)) for n in n_in)


def collapse(dims, n=None, n_out=None):
    """A map whose positions are all mixed (flatten, global layers): every unit of the result sees the
    union of the fields of all units of the map (``n``: its spatial sizes; ``n_out``: the result's).

    The jump is 0 along a dimension where the result still has several units (they all see the same
    pixels), else that of one window over the whole map (j * n): a vector after a flatten."""
    n = (1,) * len(dims) if n is None or len(n) != len(dims) else n
    n_out = (1,) * len(dims) if n_out is None or len(n_out) != len(dims) else n_out
    return tuple(_Dim(x.full_hi - x.full_lo + 1, x.j * m if m_out == 1 else 0, (x.full_lo + x.full_hi) / 2,
                      x.full_lo, x.full_hi) for x, m, m_out in zip(dims, n, n_out))


def union(dim_sets):
    """The field of a tensor made from several (an addition, a concatenation): the bounding union."""
    dim_sets = [d for d in dim_sets if d is not None]
    if not dim_sets:
        raise ValueError("union() of no fields")
    if len(dim_sets) == 1:
        return dim_sets[0]
    out = []
    for xs in zip(*dim_sets):
        lo, hi = min(x.lo for x in xs), max(x.hi for x in xs)
        out.append(_Dim(hi - lo + 1, max(x.j for x in xs), (lo + hi) / 2,
                        min(x.full_lo for x in xs), max(x.full_hi for x in xs)))
    return tuple(out)


def _offset_bounds(windows, q):
    """(lo, hi) with a_o - o q >= lo and b_o - o q <= hi for every output o reading inputs a_o..b_o
    (``windows[o]``; None: output o reads no input)."""
    offsets = [(a - o * q, b - o * q) for o, w in enumerate(windows) if w is not None for a, b in (w,)]
    return min(a for a, _ in offsets), max(b for _, b in offsets)


def apply_geometry(geom, dims, n_out=None):
    """The field after a layer with geometry ``geom``, given the field ``dims`` of its input."""
    if geom.kind == "pass":
        return dims
    if geom.kind == "global":
        return collapse(dims, geom.n_in, geom.n_out)
    out = []
    for i, x in enumerate(dims):
        m = None if n_out is None else n_out[i]
        if geom.kind == "window":
            k, s, p, d = geom.kernel[i], geom.stride[i], geom.padding[i], geom.dilation[i]
            kk = d * (k - 1) + 1
            r = x.r + (kk - 1) * x.j
            start = x.start + (Fraction(kk - 1, 2) - p) * x.j
            j = x.j * s
            lo0 = start - (r - 1) / 2
            hi_full = lo0 + r - 1 + ((m - 1) * j if m is not None else 0)
            out.append(_Dim(r, j, start, lo0, hi_full))
            continue
        # output o reads inputs a_o..b_o, which lie in [o q + lo, o q + hi]: bound every unit by that
        if geom.kind == "transposed":  # o reads i = (o + p - t d) / s; the offsets repeat with period s
            k, s, p, d = geom.kernel[i], geom.stride[i], geom.padding[i], geom.dilation[i]
            q = Fraction(1, s)
            windows = [(min(ins), max(ins)) if ins else None
                       for ins in (_transposed_inputs(o, k, s, p, d) for o in range(s))]
        else:
            n, mm = geom.n_in[i], geom.n_out[i]
            q = Fraction(n, mm)
            windows = geom.windows[i] if geom.kind == "resample" else [_adaptive_window(o, n, mm) for o in range(mm)]
        lo, hi = _offset_bounds(windows, q)
        out.append(_Dim(x.r + (hi - lo) * x.j, x.j * q, x.start + (lo + hi) / 2 * x.j, x.full_lo, x.full_hi))
    return tuple(out)


# ----------------------------------------------------------------------------- public results


@dataclass(frozen=True)
class RFLayer:
    """The receptive field of one layer's output units: per spatial dimension size, jump and start;
    ``output_size``: the grid of its units, when known."""

    name: str
    type: str
    size: tuple
    jump: tuple
    start: tuple
    output_size: tuple = None

    def region(self, position, input_size=None):
        """Input pixels (lo, hi), inclusive, seen by unit ``position``; clipped to ``input_size`` if given."""
        return _region(self.size, self.jump, self.start, position, input_size, self.output_size)


def _region(size, jump, start, position, input_size, output_size):
    position = position if isinstance(position, (tuple, list, np.ndarray)) else (position,) * len(size)
    position = _position(position, output_size if output_size is not None else (None,) * len(size))
    out = []
    for i, (r, j, s0, o) in enumerate(zip(size, jump, start, position)):
        c = Fraction(s0) + o * Fraction(j)
        lo, hi = c - (Fraction(r) - 1) / 2, c + (Fraction(r) - 1) / 2
        lo, hi = math.floor(lo), math.ceil(hi)
        if input_size is not None:
            lo, hi = max(lo, 0), min(hi, input_size[i] - 1)
        out.append((lo, hi))
    return tuple(out)


@dataclass
class ReceptiveField:
    """``layers``: one ``RFLayer`` per layer (per call, for a traced model); ``size``/``jump``/``start``:
    the field of the final output's units; ``input_size``: the spatial input size, ``output_size`` the
    grid of the output's units, when known."""

    layers: list
    size: tuple
    jump: tuple
    start: tuple
    input_size: tuple = None
    output_size: tuple = None

    def region(self, position, clip=True):
        """Input pixels (lo, hi), inclusive, seen by output unit ``position`` (clipped to the input if known)."""
        return _region(self.size, self.jump, self.start, position, self.input_size if clip else None,
                       self.output_size)

    def __getitem__(self, name):
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r}; names: {[layer.name for layer in self.layers]}")


def _as_layer(dims, name, type_name, output_size=None):
    return RFLayer(name, type_name, tuple(_num(x.r) for x in dims), tuple(_num(x.j) for x in dims),
                   tuple(_num(x.start) for x in dims), _unit_grid(output_size, len(dims)))


def _layer_list(items, prefix=""):
    """[(name, layer)] from (name, layer) pairs in order, with every Sequential or ModuleList replaced by
    its children (named ``'2.0'``, ``'2.1'``, ...: the container's name, a dot, the child's)."""
    out = []
    for name, layer in items:
        name = f"{prefix}{name}"
        if isinstance(layer, _CONTAINERS):
            out += _layer_list(layer.named_children(), name + ".")
        else:
            out.append((name, layer))
    return out


def _what(name, layer):
    return f"layer {name} ({type(layer).__name__})" if isinstance(layer, nn.Module) else f"layer {name} (spec {layer!r})"


def _sequence_geometries(layers, input_shape):
    """[(name, layer, geometry, n_in, n_out)] for a list of modules / specs (containers expanded),
    tracking sizes when input_shape is known; and the number of spatial dimensions."""
    layers = _layer_list(enumerate(layers))
    for name, layer in layers:
        if not isinstance(layer, nn.Module):
            continue
        if any(True for _ in layer.children()):
            raise ValueError(f"{_what(name, layer)} is a module with submodules whose forward receptive_field cannot "
                             f"see as a list: pass it as a model, receptive_field(module, input_shape), which traces it")
        if not isinstance(layer, _LIST_LAYERS):
            raise ValueError(f"{_what(name, layer)} is not a layer receptive_field can analyse in a list of layers "
                             f"(convolutions, pooling, upsampling, Flatten/Linear and position-wise layers are); pass "
                             f"the network as a model, receptive_field(model, input_shape), which traces it")
    given = [(name, layer, _spatial_dims(layer)) for name, layer in layers if isinstance(layer, nn.Module)]
    given = [g for g in given if g[2] is not None]
    if input_shape is not None:
        sizes = shapes.sample_shape(input_shape)[1:]
        if not sizes:
            raise ValueError(f"input_shape must be (C, *spatial) with at least one spatial size, "
                             f"got {tuple(input_shape)}")
        nd = len(sizes)
    else:
        sizes = None
        nd = given[0][2] if given else 2
    for name, layer, layer_nd in given:
        if layer_nd != nd:
            if input_shape is not None:
                raise ValueError(f"input_shape {shapes.sample_shape(input_shape)} has {nd} spatial dimension(s), but "
                                 f"{_what(name, layer)} takes {layer_nd}: input_shape must be one sample's shape "
                                 f"{_sample_form(layer_nd)}")
            raise ValueError(f"{_what(name, layer)} has {layer_nd} spatial dimension(s), but {_what(*given[0][:2])} "
                             f"has {nd}: the layers of one list must agree")
    out = []
    for name, layer in layers:
        if isinstance(layer, _ADAPTIVE):
            if sizes is None:
                raise ValueError(f"{type(layer).__name__} needs the input size: pass input_shape")
            n_out = tuple(n if o is None else int(o) for n, o in
                          zip(sizes, shapes.ntuple(layer.output_size, nd, "output_size")))
            geom = _adaptive_geometry(_what(name, layer), sizes, n_out)
        elif isinstance(layer, _GLOBAL):  # as a traced model after a flatten: every unit sees the whole map
            if sizes is None:
                raise ValueError(f"{_what(name, layer)} makes every unit see the whole map: its field needs "
                                 f"the map's size, pass input_shape")
            geom = Geometry("global", n_in=sizes, n_out=())
            n_out = (1,) * nd
        else:
            geom = layer_geometry(layer, sizes, None, nd=nd)
            n_out = geometry_out_size(layer, geom, sizes) if sizes is not None else None
        if n_out is not None and min(n_out, default=1) < 1:
            raise ValueError(f"{_what(name, layer)} has no output: its input's spatial size {sizes} gives {n_out}")
        out.append((name, layer, geom, sizes, n_out))
        sizes = n_out
    return out, nd


def receptive_field(layers_or_model, input_shape=None):
    """Receptive field of every layer, bottom-up: ``r_n = r_{n-1} + (k'_n - 1) prod(s_1..s_{n-1})``.

    ``layers_or_model``: a Module (traced: runs one forward pass of a batch of 1 on ``input_shape``
    = (C, *spatial), so residual additions and concatenations are followed; one ``RFLayer`` per
    leaf-module call) or a list of layers, each a Module or a spec ``k``, ``(k, s)``, ``(k, s, p)``,
    ``(k, s, p, d)`` or ``dict(kernel_size=, stride=, padding=, dilation=)``, composed in order
    (``input_shape`` then optional, needed for padding='same', adaptive pooling, upsampling, Flatten
    and Linear; an int spec applies to every dimension: 2 unless input_shape or a module says
    otherwise). In a list, a ``Sequential`` or ``ModuleList`` stands for its layers in order (rows
    ``'2.0'``, ``'2.1'``, ...); ``Flatten`` and ``Linear`` make every unit see the union of the whole
    map, as in a traced model; activations, dropout, BatchNorm and other position-wise layers are the
    identity; any other module (one with its own ``forward`` over submodules, a padding layer) is a
    ValueError naming it: trace it as a model instead.

        >>> receptive_field([3, 3, 3]).size         # three 3x3 convolutions
        (7, 7)
    """
    if isinstance(layers_or_model, nn.ModuleList):  # no forward to trace: a list of layers
        layers_or_model = [layers_or_model]
    if isinstance(layers_or_model, nn.Module):
        if input_shape is None:
            raise ValueError("receptive_field(model, input_shape): a model needs input_shape = (C, *spatial)")
        from .summary import trace

        tr = trace(layers_or_model, input_shape)
        rows = [_as_layer(c.dims, c.name, c.type, c.out_shape[2:]) for c in tr.calls]
        final = _as_layer(tr.output_dims, "", "output", tr.output_shape[2:])
        return ReceptiveField(rows, final.size, final.jump, final.start, tr.input_shape[1:], final.output_size)
    if not isinstance(layers_or_model, (list, tuple)):
        raise TypeError(f"receptive_field expects a Module or a list of layers, got {type(layers_or_model).__name__}")
    seq, nd = _sequence_geometries(list(layers_or_model), input_shape)
    n_in = None if input_shape is None else shapes.sample_shape(input_shape)[1:]
    dims = input_dims(n_in if n_in is not None else (1,) * nd)
    rows = []
    for name, layer, geom, _, n_out in seq:
        dims = apply_geometry(geom, dims, n_out)
        rows.append(_as_layer(dims, name, type(layer).__name__ if isinstance(layer, nn.Module) else "spec", n_out))
    last = rows[-1] if rows else _as_layer(dims, "", "input", n_in)
    return ReceptiveField(rows, last.size, last.jump, last.start, n_in, last.output_size)


def receptive_field_topdown(layers, input_shape=None):
    """The notes' top-down form, ``RF_i = (RF_{i+1} - 1) s_i + k'_i`` from ``RF_{L+1} = 1``.

    ``layers``: a list of layers as for ``receptive_field`` (or a ``Sequential``). Returns a list of
    per-dimension tuples, one per layer boundary: element i is how many pixels of layer i's input one
    unit of the last layer sees; element 0 is the network's receptive field, equal to
    ``receptive_field(layers).size`` (window layers only: convolutions and pooling).
    """
    if isinstance(layers, _CONTAINERS):
        layers = [layers]
    elif not isinstance(layers, (list, tuple)):
        raise TypeError(f"receptive_field_topdown expects a list of layers (or a Sequential), got "
                        f"{type(layers).__name__}; for a model with its own forward use receptive_field(model, input_shape)")
    seq, nd = _sequence_geometries(list(layers), input_shape)
    rf = [(1,) * nd]
    for name, layer, geom, _, _ in reversed(seq):
        if geom.kind == "pass":
            rf.append(rf[-1])
            continue
        if geom.kind != "window":
            raise ValueError(f"the top-down recurrence covers convolution and pooling windows, not {_what(name, layer)}")
        rf.append(tuple((r - 1) * s + d * (k - 1) + 1 for r, k, s, d in
                        zip(rf[-1], geom.kernel, geom.stride, geom.dilation)))
    return rf[::-1]


# ----------------------------------------------------------------------------- top-down region of one unit


def _map_back(geom, region, n_in):
    """Input-coordinate interval (per dim) of the units in ``region`` (output coordinates) of a layer."""
    if region is None or geom.kind == "global":
        return None  # everything
    out = []
    for i, (a, b) in enumerate(region):
        if geom.kind == "pass":
            out.append((a, b))
        elif geom.kind == "window":  # unit u reads u s - p + t d, 0 <= t < k: the taps inside the image
            k, s, p, d = geom.kernel[i], geom.stride[i], geom.padding[i], geom.dilation[i]
            taps = np.arange(a, b + 1)[:, None] * s - p + np.arange(k) * d
            taps = taps[(taps >= 0) & (taps < n_in[i])]  # padding is no pixel, nor a dilation gap beyond it
            if not taps.size:
                return ()
            out.append((int(taps.min()), int(taps.max())))
        elif geom.kind in ("adaptive", "resample"):  # windows that move on with the output
            n, m = geom.n_in[i], geom.n_out[i]
            a, b = max(a, 0), min(b, m - 1)
            if a > b:
                return ()
            first, last = (_adaptive_window(o, n, m) if geom.kind == "adaptive" else geom.windows[i][o] for o in (a, b))
            out.append((first[0], last[1]))
        else:  # transposed: only inputs that exist
            k, s, p, d = geom.kernel[i], geom.stride[i], geom.padding[i], geom.dilation[i]
            ins = [x for o in range(a, b + 1) for x in _transposed_inputs(o, k, s, p, d) if 0 <= x < n_in[i]]
            if not ins:
                return ()
            out.append((min(ins), max(ins)))
    return tuple(out)


def _union_region(r1, r2):
    if r1 == ():
        return r2
    if r2 == ():
        return r1
    if r1 is None or r2 is None:
        return None
    return tuple((min(a[0], b[0]), max(a[1], b[1])) for a, b in zip(r1, r2))


def _center(shape):
    return tuple(n // 2 for n in shape)


def receptive_region(model, input_shape, layer=None, position=None, clip=True):
    """Input pixels (lo, hi) per dimension, inclusive, that one unit can depend on, walked top-down.

    ``layer``: a module name (its output; default the model's output); ``position``: the unit's
    spatial index (default the centre). The walk maps the unit back through every traced call (the
    real graph: both sides of an addition or concatenation), through transposed convolutions,
    adaptive pooling and upsampling too, keeping only taps that fall inside each layer's input (not
    its padding, nor a dilated window's taps beyond the border); ``clip`` limits the result to the image.

    It carries one interval per dimension (where branches meet, the union of their intervals): the
    units between the ends of an interval count as reached. So the result is exact (the bounding box
    of the pixels whose gradient can be non-zero, what ``empirical_receptive_field`` measures)
    whenever the units reached at every layer form an unbroken run, as they do after windows with
    kernel >= stride and no dilation, transposed convolutions without dilation, adaptive pooling and
    upsampling by a factor >= 1; a dilated or strided window as the network's first layer is exact
    too (every zoo model is exact). Where a dilated window (or a kernel smaller than its stride)
    leaves gaps between the units it reaches and a layer below it clips its taps at the image
    border, a unit in a gap can widen the result: then it is a superset. Interpolation taps read
    with weight exactly 0 (bilinear at ``align_corners=False``) count as read.
    """
    from .summary import trace

    tr = trace(model, input_shape, stop_at=layer)
    node = tr.output_node if layer is None else tr.target_nodes[layer]
    n_in = tr.input_shape[1:]
    shape = tr.spatial_out(node)
    position = _center(shape) if position is None else _position(position, shape)
    regions = {node: tuple((p, p) for p in position) if shape else None}
    result = ()
    for c in range(node, -1, -1):  # calls are in execution order: parents come first
        if c not in regions:
            continue
        reg = regions.pop(c)
        geom, parents, c_in = tr.geometry(c), tr.parents(c), tr.spatial_in(c)
        back = _map_back(geom, reg, c_in)
        for p in parents:
            p_shape = n_in if p < 0 else tr.spatial_out(p)
            r = back if tuple(p_shape) == tuple(c_in) else None
            if r is None and back != ():
                r = tuple((0, n - 1) for n in p_shape)
            if p < 0:
                result = _union_region(result, r)
            else:
                regions[p] = _union_region(regions.get(p, ()), r)
    if result == ():
        return ()
    if result is None:
        result = tuple((0, n - 1) for n in n_in)
    if clip:
        result = tuple((max(a, 0), min(b, n - 1)) for (a, b), n in zip(result, n_in))
    return result


# ----------------------------------------------------------------------------- empirical


class _Stop(Exception):
    pass


def _positive_(module, rng, dtype, saved):
    """Swap ``module``'s own floating parameters/buffers for positive float64 ones (originals in ``saved``)."""
    for name, p in list(module._parameters.items()):
        if p is None or id(p) in saved:
            continue
        saved[id(p)] = (p, p.data, p.requires_grad)
        p.requires_grad = False  # only the input's gradient is needed
        if isinstance(module, _ConvNd):
            fan = p.shape[0] * int(np.prod(module.kernel_size)) / int(np.prod(module.stride)) if module._transposed \
                else int(np.prod(p.shape[1:]))
        elif p.ndim >= 2:
            fan = int(np.prod(p.shape[1:]))
        else:
            fan = 1
        scale = 1.0 if name != "weight" else 1.0 / max(fan, 1)
        if name == "bias":
            scale = 0.1
        p.data = rng.uniform(0.5, 1.5, p.shape).astype(dtype) * scale
    for name, b in list(module._buffers.items()):
        if b is None or id(b) in saved or b.dtype.kind != "f":
            continue
        saved[id(b)] = (b, b.data, b.requires_grad)
        b.data = (np.ones if name == "running_var" else np.zeros)(b.shape, dtype)


def _avg_instead_of_max(module, args, kwargs):
    """A max pool evaluated as the average over the same windows (every tap gets gradient)."""
    x = args[0]
    nd = len(x.shape) - 2
    if isinstance(module, _MAXPOOL):
        k, s, p, d = shapes.pool_params(nd, module.kernel_size, module.stride, module.padding, module.dilation)
        y = getattr(F, f"avg_pool{nd}d")(x, k, s, p, module.ceil_mode, True, None, d)
        if module.return_indices:
            return y, getattr(F, f"max_pool{nd}d")(x.data, k, s, p, d, module.ceil_mode, True)[1]
        return y
    y = getattr(F, f"adaptive_avg_pool{nd}d")(x, module.output_size)
    if module.return_indices:
        return y, getattr(F, f"adaptive_max_pool{nd}d")(x.data, module.output_size, True)[1]
    return y


def empirical_receptive_field(model, input_shape, layer=None, position=None, draws=1, seed=0):
    """Measure the receptive field: back-propagate a unit gradient from one unit, see which pixels get one.

    Runs ``model`` in eval mode on a positive random float64 input of shape (1, *input_shape) with
    positive random weights (see the module docstring for why); ``layer``: a module name whose
    output holds the unit (the forward stops there), default the model output; ``position``: the
    unit's spatial index (default the centre; all channels); the union over ``draws`` random draws.
    Returns (lo, hi) per spatial dimension, inclusive, of the non-zero input gradient (clipped to
    the image by construction), or () when no pixel reaches it.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a numconv.nn.Module, got {type(model).__name__}; for a list of layers use "
                        f"receptive_field(layers, input_shape)")
    input_shape = shapes.sample_shape(input_shape)
    shapes.integer(draws, "draws", 1)
    if position is not None:  # its range is checked once the forward pass has given the layer's shape
        _position(position, (None,) * len(position) if isinstance(position, (tuple, list, np.ndarray)) else ())
    rng = np.random.default_rng(seed)
    named = dict(model.named_modules())
    if layer is not None and layer not in named:
        raise ValueError(f"no module named {layer!r} in {type(model).__name__}")
    target = named[layer] if layer is not None else None
    leaves = [(n, m) for n, m in model.named_modules() if not any(True for _ in m.children())]
    was_training = {id(m): m.training for m in model.modules()}
    saved, patched, captured = {}, [], {}
    checked = []  # the first layer whose type fixes the input's rank has seen input_shape
    lo_hi = ()

    def wrap(name, m, orig):
        def forward(*args, **kwargs):
            x = args[0] if args else None
            if not checked and isinstance(x, Tensor) and check_input_shape(m, name, input_shape, x.shape):
                checked.append(name)
            _positive_(m, rng, np.float64, saved)
            if isinstance(m, _MAXPOOL + _ADAPTIVE_MAX):
                out = _avg_instead_of_max(m, args, kwargs)
            else:
                out = orig(*args, **kwargs)
            if m is target:
                captured["out"] = out
                raise _Stop
            return out
        return forward

    # Winograd's transforms cancel the inputs outside a tile's windows exactly only in exact
    # arithmetic, so its gradients are not exactly zero there: measure with a kernel that sums
    # the window's taps alone.
    with dispatch.use_algorithm("planes"):
        try:
            model.eval()
            for name, m in dict(leaves + ([(layer, target)] if target is not None else [])).items():
                if any(m is p for p, _ in patched):
                    continue
                patched.append((m, m.__dict__.get("forward")))
                m.__dict__["forward"] = wrap(name, m, m.forward)
            for _ in range(draws):
                for t, data, rg in saved.values():  # fresh positive weights for every draw
                    t.data, t.requires_grad = data, rg
                saved.clear()
                for m in model.modules():  # non-leaf modules with parameters of their own
                    if (m._parameters or m._buffers) and any(True for _ in m.children()):
                        _positive_(m, rng, np.float64, saved)
                x = Tensor(rng.uniform(0.5, 1.5, (1,) + input_shape), requires_grad=True)
                captured.clear()
                with enable_grad():
                    try:
                        out = model(x)
                    except _Stop:
                        out = captured["out"]
                    y = out[0] if isinstance(out, tuple) else out
                    g = np.zeros(y.shape, np.float64)
                    spatial = y.shape[2:]
                    pos = _center(spatial) if position is None else _position(position, spatial)
                    g[(0, slice(None)) + pos] = 1.0
                    y.backward(g)
                grad = np.abs(x.grad.numpy()).sum(axis=(0, 1))
                nz = np.nonzero(grad)
                if nz[0].size:
                    box = tuple((int(a.min()), int(a.max())) for a in nz)
                    lo_hi = _union_region(lo_hi, box)
        finally:
            for m, old in patched:
                if old is None:
                    m.__dict__.pop("forward", None)
                else:
                    m.__dict__["forward"] = old
            for t, data, rg in saved.values():
                t.data, t.requires_grad = data, rg
            for m in model.modules():
                m.__dict__["training"] = was_training.get(id(m), m.training)
    return lo_hi
