"""Receptive fields: the notes' recurrences, an exact top-down region, and an empirical check.

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
- Pooling counts as a window (max and average alike); BatchNorm, activations, dropout and other
  layers that keep the spatial size are the identity for receptive fields.
- Adaptive pooling whose input size is a multiple of the output size is a window of n/m; otherwise
  its windows differ in size: ``size`` uses the largest, ``jump`` is j n/m (fractional) and ``start``
  the first window's centre.
- Transposed convolution (fractional stride): ``jump`` j/s; ``size`` grows by the largest spread of
  the inputs that reach one output (over output positions); ``start`` is exact for output 0. Units
  of an upsampled map are not evenly aligned with the input, so the bottom-up numbers are an
  approximation there; ``receptive_region`` is exact for any unit.
- Where branches meet (a residual addition, an Inception concatenation) the field is the union of
  the branches' fields (their bounding interval): the largest branch field when the branches are
  centred alike, as in every zoo model.
- A tensor whose spatial shape changes outside a layer numconv knows (``flatten`` before a
  ``Linear``) becomes global: its field is the union of the fields of all units of the map.
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


def _num(x):
    """A Fraction as an int when whole, else a float (for display and data)."""
    x = Fraction(x)
    return int(x) if x.denominator == 1 else float(x)


# ----------------------------------------------------------------------------- layer geometry


@dataclass(frozen=True)
class Geometry:
    """How one layer maps positions, per spatial dimension.

    kind: 'window' (convolution, pooling), 'transposed' (transposed convolution, max unpooling),
    'adaptive', 'pass' (spatial size kept, position-wise) or 'global' (mixes every position).
    """

    kind: str
    kernel: tuple = ()
    stride: tuple = ()
    padding: tuple = ()
    dilation: tuple = ()
    n_in: tuple = ()
    n_out: tuple = ()


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


def layer_geometry(layer, n_in=None, n_out=None, nd=None):
    """The ``Geometry`` of a module (or a (k, s, p, d) spec) for input/output spatial sizes ``n_in``/``n_out``.

    Sizes are needed only for padding='same' and adaptive pooling. Modules that keep the spatial
    size are 'pass'; any other module that changes it is 'global'.
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
    if isinstance(layer, _UNPOOL):
        return Geometry("transposed", layer.kernel_size, layer.stride, layer.padding, (1,) * len(layer.kernel_size))
    if isinstance(layer, _ADAPTIVE):
        if n_in is None or n_out is None:
            raise ValueError(f"{type(layer).__name__} needs the input size: pass input_shape")
        return Geometry("adaptive", n_in=tuple(n_in), n_out=tuple(n_out))
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
        if geom.kind == "adaptive":
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
        elif isinstance(layer, (_MAXPOOL + _AVGPOOL)):
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


def collapse(dims, n=None):
    """A map whose positions are all mixed (flatten, global layers): the union of all its units' fields.

    The jump becomes that of one window over the whole map (j * n, ``n`` its spatial sizes)."""
    n = (1,) * len(dims) if n is None or len(n) != len(dims) else n
    return tuple(_Dim(x.full_hi - x.full_lo + 1, x.j * m, (x.full_lo + x.full_hi) / 2, x.full_lo, x.full_hi)
                 for x, m in zip(dims, n))


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


def apply_geometry(geom, dims, n_out=None):
    """The field after a layer with geometry ``geom``, given the field ``dims`` of its input."""
    if geom.kind == "pass":
        return dims
    if geom.kind == "global":
        return collapse(dims, geom.n_in)
    out = []
    for i, x in enumerate(dims):
        m = None if n_out is None else n_out[i]
        if geom.kind == "adaptive":
            n, mm = geom.n_in[i], geom.n_out[i]
            if n % mm == 0:
                k = s = n // mm
                r, j = x.r + (k - 1) * x.j, x.j * s
                start = x.start + Fraction(k - 1, 2) * x.j
            else:
                wins = [_adaptive_window(o, n, mm) for o in range(mm)]
                kmax = max(b - a + 1 for a, b in wins)
                r, j = x.r + (kmax - 1) * x.j, x.j * Fraction(n, mm)
                start = x.start + Fraction(wins[0][0] + wins[0][1], 2) * x.j
            out.append(_Dim(r, j, start, x.full_lo, x.full_hi))
            continue
        k, s, p, d = geom.kernel[i], geom.stride[i], geom.padding[i], geom.dilation[i]
        kk = d * (k - 1) + 1
        if geom.kind == "window":
            r = x.r + (kk - 1) * x.j
            start = x.start + (Fraction(kk - 1, 2) - p) * x.j
            j = x.j * s
            lo0 = start - (r - 1) / 2
            hi_full = lo0 + r - 1 + ((m - 1) * j if m is not None else 0)
            out.append(_Dim(r, j, start, lo0, hi_full))
        else:  # transposed
            spread = 0
            for o in range(s):
                ins = _transposed_inputs(o, k, s, p, d)
                if ins:
                    spread = max(spread, max(ins) - min(ins))
            ins0 = _transposed_inputs(0, k, s, p, d)
            c0 = Fraction(min(ins0) + max(ins0), 2) if ins0 else (p - Fraction(kk - 1, 2)) / s
            out.append(_Dim(x.r + spread * x.j, x.j / s, x.start + c0 * x.j, x.full_lo, x.full_hi))
    return tuple(out)


# ----------------------------------------------------------------------------- public results


@dataclass(frozen=True)
class RFLayer:
    """The receptive field of one layer's output units: per spatial dimension size, jump and start."""

    name: str
    type: str
    size: tuple
    jump: tuple
    start: tuple

    def region(self, position, input_size=None):
        """Input pixels (lo, hi), inclusive, seen by unit ``position``; clipped to ``input_size`` if given."""
        return _region(self.size, self.jump, self.start, position, input_size)


def _region(size, jump, start, position, input_size):
    position = tuple(position) if isinstance(position, (tuple, list)) else (position,) * len(size)
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
    the field of the final output's units; ``input_size``: the spatial input size, when known."""

    layers: list
    size: tuple
    jump: tuple
    start: tuple
    input_size: tuple = None

    def region(self, position, clip=True):
        """Input pixels (lo, hi), inclusive, seen by output unit ``position`` (clipped to the input if known)."""
        return _region(self.size, self.jump, self.start, position, self.input_size if clip else None)

    def __getitem__(self, name):
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r}; names: {[layer.name for layer in self.layers]}")


def _as_layer(dims, name, type_name):
    return RFLayer(name, type_name, tuple(_num(x.r) for x in dims), tuple(_num(x.j) for x in dims),
                   tuple(_num(x.start) for x in dims))


def _sequence_geometries(layers, input_shape):
    """[(layer, geometry, n_in, n_out)] for a list of modules / specs, tracking sizes when input_shape is known."""
    if input_shape is not None:
        sizes = tuple(int(n) for n in input_shape[1:])
        nd = len(sizes)
    else:
        sizes = None
        nd = None
        for layer in layers:
            k = getattr(layer, "kernel_size", None)
            if isinstance(k, tuple):
                nd = len(k)
                break
        nd = nd or 2
    out = []
    for layer in layers:
        if isinstance(layer, _ADAPTIVE):
            if sizes is None:
                raise ValueError(f"{type(layer).__name__} needs the input size: pass input_shape")
            n_out = tuple(n if o is None else int(o) for n, o in
                          zip(sizes, shapes.ntuple(layer.output_size, nd, "output_size")))
            geom = Geometry("adaptive", n_in=sizes, n_out=n_out)
        else:
            geom = layer_geometry(layer, sizes, None, nd=nd)
            n_out = geometry_out_size(layer, geom, sizes) if sizes is not None else None
        out.append((layer, geom, sizes, n_out))
        sizes = n_out
    return out, nd


def receptive_field(layers_or_model, input_shape=None):
    """Receptive field of every layer, bottom-up: ``r_n = r_{n-1} + (k'_n - 1) prod(s_1..s_{n-1})``.

    ``layers_or_model``: a Module (traced: runs one forward pass of a batch of 1 on ``input_shape``
    = (C, *spatial), so residual additions and concatenations are followed; one ``RFLayer`` per
    leaf-module call) or a list of layers, each a Module or a spec ``k``, ``(k, s)``, ``(k, s, p)``,
    ``(k, s, p, d)`` or ``dict(kernel_size=, stride=, padding=, dilation=)``, composed in order
    (``input_shape`` then optional, needed for padding='same' and adaptive pooling; an int spec
    applies to every dimension: 2 unless input_shape or a module says otherwise).

        >>> receptive_field([3, 3, 3]).size         # three 3x3 convolutions
        (7, 7)
    """
    if isinstance(layers_or_model, nn.Module):
        if input_shape is None:
            raise ValueError("receptive_field(model, input_shape): a model needs input_shape = (C, *spatial)")
        from .summary import trace

        tr = trace(layers_or_model, input_shape)
        rows = [RFLayer(c.name, c.type, c.rf, c.jump, c.start) for c in tr.calls]
        final = _as_layer(tr.output_dims, "", "output")
        return ReceptiveField(rows, final.size, final.jump, final.start, tuple(input_shape[1:]))
    if not isinstance(layers_or_model, (list, tuple)):
        raise TypeError(f"receptive_field expects a Module or a list of layers, got {type(layers_or_model).__name__}")
    if input_shape is not None:
        input_shape = tuple(input_shape)
    seq, nd = _sequence_geometries(list(layers_or_model), input_shape)
    dims = input_dims(input_shape[1:] if input_shape is not None else (1,) * nd)
    rows = []
    for i, (layer, geom, _, n_out) in enumerate(seq):
        dims = apply_geometry(geom, dims, n_out)
        rows.append(_as_layer(dims, str(i), type(layer).__name__ if isinstance(layer, nn.Module) else "spec"))
    last = rows[-1] if rows else _as_layer(dims, "", "input")
    return ReceptiveField(rows, last.size, last.jump, last.start,
                          tuple(input_shape[1:]) if input_shape is not None else None)


def receptive_field_topdown(layers, input_shape=None):
    """The notes' top-down form, ``RF_i = (RF_{i+1} - 1) s_i + k'_i`` from ``RF_{L+1} = 1``.

    Returns a list of per-dimension tuples, one per layer boundary: element i is how many pixels of
    layer i's input one unit of the last layer sees; element 0 is the network's receptive field,
    equal to ``receptive_field(layers).size`` (window layers only: convolutions and pooling).
    """
    seq, nd = _sequence_geometries(list(layers), None if input_shape is None else tuple(input_shape))
    rf = [(1,) * nd]
    for layer, geom, _, _ in reversed(seq):
        if geom.kind == "pass":
            rf.append(rf[-1])
            continue
        if geom.kind != "window":
            raise ValueError(f"the top-down recurrence covers convolution and pooling windows, not {type(layer).__name__}")
        rf.append(tuple((r - 1) * s + d * (k - 1) + 1 for r, k, s, d in
                        zip(rf[-1], geom.kernel, geom.stride, geom.dilation)))
    return rf[::-1]


# ----------------------------------------------------------------------------- exact top-down region of one unit


def _map_back(geom, region, n_in):
    """Input-coordinate interval (per dim) of the units in ``region`` (output coordinates) of a layer."""
    if region is None or geom.kind == "global":
        return None  # everything
    out = []
    for i, (a, b) in enumerate(region):
        if geom.kind == "pass":
            out.append((a, b))
        elif geom.kind == "window":
            k, s, p, d = geom.kernel[i], geom.stride[i], geom.padding[i], geom.dilation[i]
            a, b = max(a * s - p, 0), min(b * s - p + d * (k - 1), n_in[i] - 1)  # padding is no pixel
            if a > b:
                return ()
            out.append((a, b))
        elif geom.kind == "adaptive":
            n, m = geom.n_in[i], geom.n_out[i]
            a, b = max(a, 0), min(b, m - 1)
            if a > b:
                return ()
            out.append((_adaptive_window(a, n, m)[0], _adaptive_window(b, n, m)[1]))
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
    """Exact input pixels (lo, hi) per dimension, inclusive, that one unit can depend on, walked top-down.

    ``layer``: a module name (its output; default the model's output); ``position``: the unit's
    spatial index (default the centre). The walk maps the unit back through every traced call (the
    real graph: both sides of an addition or concatenation), so it is exact for transposed
    convolutions and adaptive pooling too; ``clip`` limits the result to the image.
    """
    from .summary import trace

    tr = trace(model, input_shape, stop_at=layer)
    node = tr.output_node if layer is None else tr.target_nodes[layer]
    n_in = tuple(input_shape[1:])
    shape = tr.spatial_out(node)
    position = _center(shape) if position is None else tuple(position)
    if len(position) != len(shape):
        raise ValueError(f"position {position} does not match the layer's spatial shape {shape}")
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
    input_shape = tuple(int(n) for n in input_shape)
    rng = np.random.default_rng(seed)
    named = dict(model.named_modules())
    if layer is not None and layer not in named:
        raise ValueError(f"no module named {layer!r} in {type(model).__name__}")
    target = named[layer] if layer is not None else None
    leaves = [m for _, m in model.named_modules() if not any(True for _ in m.children())]
    was_training = {id(m): m.training for m in model.modules()}
    saved, patched, captured = {}, [], {}
    lo_hi = ()

    def wrap(m, orig):
        def forward(*args, **kwargs):
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
            for m in set(leaves) | ({target} if target is not None else set()):
                patched.append((m, m.__dict__.get("forward")))
                m.__dict__["forward"] = wrap(m, m.forward)
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
                    pos = _center(spatial) if position is None else tuple(position)
                    if len(pos) != len(spatial):
                        raise ValueError(f"position {pos} does not match the layer's spatial shape {spatial}")
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
