"""Float64 reference implementations, straight from the textbook definitions.

Plain nested Python loops over n-d index tuples (``itertools.product``): slow, obviously right,
for tiny shapes only. Every function takes batched NumPy arrays ``(N, C, *spatial)`` (any
number of spatial dimensions) and returns float64 arrays. Nothing here imports numconv, and
no function is written in terms of another op's reference except where the definition says
so (a convolution with a padding mode is "pad, then convolve").

Conventions (those of ``torch.nn.functional``):

* convolution weight ``(C_out, C_in/groups, *k)``; transposed convolution weight
  ``(C_in, C_out/groups, *k)``;
* per-dimension parameters are ints or tuples; convolution padding may also be per side,
  ``((lo, hi), ...)``, ``'valid'``, or ``'same'`` (TensorFlow's rule for any stride);
* max pooling indices are flat positions in each input plane.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = [
    "ntuple",
    "conv_padding",
    "same_padding",
    "conv_out_size",
    "conv_nd",
    "conv_transpose_nd",
    "pad_nd",
    "pad",
    "pad_source",
    "pool_out_size",
    "max_pool_nd",
    "avg_pool_nd",
    "adaptive_windows",
    "adaptive_avg_pool_nd",
    "adaptive_max_pool_nd",
    "max_unpool_nd",
    "unfold",
    "fold",
    "interpolate_nd",
    "normalize_groups",
    "layer_norm",
    "rms_norm",
    "pixel_shuffle",
    "lp_pool_nd",
    "embedding_weight_grad",
    "kl_div",
    "numerical_grad",
]


# ----------------------------------------------------------------------------- parameters


def ntuple(value, nd):
    """An int repeated ``nd`` times, or a length-``nd`` sequence as a tuple of ints."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * nd
    value = tuple(int(v) for v in value)
    assert len(value) == nd, (value, nd)
    return value


def _f64(a):
    return np.array(a, dtype=np.float64, copy=True)


def conv_out_size(n, k, s, d, lo, hi):
    """Number of windows of ``k`` taps ``d`` apart, stride ``s``, over ``lo + n + hi`` cells."""
    return (n + lo + hi - d * (k - 1) - 1) // s + 1


def same_padding(sizes, kernel, stride, dilation):
    """TensorFlow's 'same': out = ceil(n / s); total padding makes the last window end at the
    edge; the odd pixel goes on the high side."""
    lo, hi = [], []
    for n, k, s, d in zip(sizes, kernel, stride, dilation):
        out = math.ceil(n / s)
        total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
        lo.append(total // 2)
        hi.append(total - total // 2)
    return tuple(lo), tuple(hi)


def conv_padding(padding, nd, sizes=None, kernel=None, stride=None, dilation=None):
    """``(lo, hi)`` tuples from an int, a tuple of ints, ``((lo, hi), ...)``, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * nd, (0,) * nd
        assert padding == "same", padding
        return same_padding(sizes, kernel, stride, dilation)
    if isinstance(padding, (tuple, list)) and len(padding) and isinstance(padding[0], (tuple, list)):
        assert len(padding) == nd
        return tuple(int(p[0]) for p in padding), tuple(int(p[1]) for p in padding)
    p = ntuple(padding, nd)
    return p, p


# ----------------------------------------------------------------------------- padding


def pad_source(i, n, mode):
    """The input index that padded position ``i`` (in unpadded coordinates) copies, or None.

    constant: None outside [0, n). reflect: mirror about 0 and n-1 without repeating the edge.
    replicate: clamp to the edge. circular: wrap around, i mod n.
    """
    if 0 <= i < n:
        return i
    if mode in ("constant", "zeros"):
        return None
    if mode == "reflect":
        j = -i if i < 0 else 2 * (n - 1) - i
        assert 0 <= j < n, "reflect padding must be smaller than the size"
        return j
    if mode == "replicate":
        return 0 if i < 0 else n - 1
    if mode == "circular":
        assert -n <= i < 2 * n, "circular padding must be at most the size"
        return i % n
    raise ValueError(mode)


def pad_nd(x, lo, hi, mode="constant", value=0.0):
    """Pad the trailing ``len(lo)`` dimensions of ``x`` by ``lo``/``hi``; a negative side crops. Circular
    crops first and wraps around what is left (PyTorch's rule); the other modes index the whole input."""
    x = _f64(x)
    k = len(lo)
    if mode == "circular" and min(lo + hi) < 0:
        crop = tuple(slice(max(-a, 0), n - max(-b, 0)) for a, b, n in zip(lo, hi, x.shape[x.ndim - k:]))
        return pad_nd(x[(Ellipsis,) + crop], tuple(max(a, 0) for a in lo), tuple(max(b, 0) for b in hi), mode)
    lead, sizes = x.shape[: x.ndim - k], x.shape[x.ndim - k:]
    outs = tuple(n + a + b for n, a, b in zip(sizes, lo, hi))
    y = np.empty(lead + outs)
    for q in itertools.product(*map(range, outs)):
        src = tuple(pad_source(qi - a, n, mode) for qi, a, n in zip(q, lo, sizes))
        for l in itertools.product(*map(range, lead)):
            y[l + q] = value if None in src else x[l + src]
    return y


def pad(x, pad, mode="constant", value=0.0):
    """``torch.nn.functional.pad``: ``pad = (last_lo, last_hi, second_last_lo, second_last_hi, ...)``."""
    k = len(pad) // 2
    lo = tuple(pad[2 * i] for i in range(k))[::-1]
    hi = tuple(pad[2 * i + 1] for i in range(k))[::-1]
    return pad_nd(x, lo, hi, mode, value)


# ----------------------------------------------------------------------------- convolution


def conv_nd(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """y[n, o, p] = b[o] + sum_{j, k} w[o, j, k] * xpad[n, g*Cpg + j, p*s + k*d - lo],  g = o // (O/groups).

    ``xpad`` is zero outside the input (padding_mode 'zeros'), or the input padded with
    ``padding_mode`` by ``lo``/``hi`` (then the convolution itself has no padding).
    """
    x, w = _f64(x), _f64(w)
    nd = w.ndim - 2
    N, C = x.shape[:2]
    O, cpg = w.shape[:2]
    kernel = w.shape[2:]
    stride, dilation = ntuple(stride, nd), ntuple(dilation, nd)
    lo, hi = conv_padding(padding, nd, x.shape[2:], kernel, stride, dilation)
    if padding_mode != "zeros":
        x = pad_nd(x, lo, hi, padding_mode)
        lo = hi = (0,) * nd
    sizes = x.shape[2:]
    assert C == cpg * groups and O % groups == 0
    opg = O // groups
    out = tuple(conv_out_size(*a) for a in zip(sizes, kernel, stride, dilation, lo, hi))
    y = np.zeros((N, O) + out)
    for n in range(N):
        for o in range(O):
            g = o // opg
            for p in itertools.product(*map(range, out)):
                acc = 0.0 if b is None else float(b[o])
                for k in itertools.product(*map(range, kernel)):
                    i = tuple(pi * s + ki * d - l for pi, s, ki, d, l in zip(p, stride, k, dilation, lo))
                    if all(0 <= ii < nn for ii, nn in zip(i, sizes)):  # the sum over j = 0..cpg-1 as one dot
                        acc += np.dot(w[(o, slice(None)) + k], x[(n, slice(g * cpg, (g + 1) * cpg)) + i])
                y[(n, o) + p] = acc
    return y


def conv_transpose_nd(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, padding_mode="zeros"):
    """Transposed convolution from its own definition (a scatter):

        y[n, g*Opg + j, p*s + k*d - lo] += w[c, j, k] * x[n, c, p],   g = c // (C_in/groups)

    with output size (n-1)*s - lo - hi + d*(k-1) + output_padding + 1. Taps landing outside the
    output are dropped ('zeros'), or, for another ``padding_mode``, folded back onto the output
    element that padding would have copied there (the adjoint of "pad with that mode, convolve").
    """
    x, w = _f64(x), _f64(w)
    nd = w.ndim - 2
    N, C = x.shape[:2]
    Cw, opg = w.shape[:2]
    assert Cw == C and C % groups == 0
    cpg = C // groups
    kernel = w.shape[2:]
    stride, dilation, opad = ntuple(stride, nd), ntuple(dilation, nd), ntuple(output_padding, nd)
    lo, hi = conv_padding(padding, nd)
    sizes = x.shape[2:]
    out = tuple(
        (n - 1) * s - a - z + d * (k - 1) + op + 1 for n, s, a, z, d, k, op in zip(sizes, stride, lo, hi, dilation, kernel, opad)
    )
    y = np.zeros((N, opg * groups) + out)
    for n in range(N):
        for c in range(C):
            g = c // cpg
            for p in itertools.product(*map(range, sizes)):
                for k in itertools.product(*map(range, kernel)):
                    q = tuple(pi * s + ki * d - l for pi, s, ki, d, l in zip(p, stride, k, dilation, lo))
                    t = tuple(pad_source(qi, m, padding_mode) for qi, m in zip(q, out))
                    if None in t:
                        continue
                    y[(n, slice(g * opg, (g + 1) * opg)) + t] += w[(c, slice(None)) + k] * x[(n, c) + p]  # every j
    if b is not None:
        for o in range(y.shape[1]):
            y[:, o] += b[o]
    return y


# ----------------------------------------------------------------------------- pooling


def pool_out_size(n, k, s, p, d, ceil_mode):
    """floor (or ceil) of (n + 2p - d(k-1) - 1) / s, plus one; with ceil_mode a last window that
    would start in the right padding (at or beyond n + p) is dropped (PyTorch's rule)."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (math.ceil(span / s) if ceil_mode else math.floor(span / s)) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode):
    nd = x.ndim - 2
    kernel = ntuple(kernel_size, nd)
    stride = kernel if stride is None else ntuple(stride, nd)
    padding, dilation = ntuple(padding, nd), ntuple(dilation, nd)
    sizes = x.shape[2:]
    out = tuple(pool_out_size(*a, ceil_mode) for a in zip(sizes, kernel, stride, padding, dilation))
    return kernel, stride, padding, dilation, sizes, out


def _taps(p, kernel, stride, padding, dilation):
    """The window of output ``p``: every tap's input coordinates (padding included)."""
    for k in itertools.product(*map(range, kernel)):
        yield tuple(pi * s - pp + ki * d for pi, s, pp, ki, d in zip(p, stride, padding, k, dilation))


def _inside(i, sizes):
    return all(0 <= ii < n for ii, n in zip(i, sizes))


def _window_max(x, n, c, coords, sizes):
    """PyTorch's scan: start at -inf; take a value if it is larger, or NaN (so the last NaN wins)."""
    best, where = -math.inf, None
    for i in coords:
        v = x[(n, c) + i]
        if where is None or v > best or math.isnan(v):
            best, where = v, int(np.ravel_multi_index(i, sizes))
    return best, where


def max_pool_nd(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """(values, flat indices): the max over each window, implicit -inf padding, NaN propagating."""
    x = _f64(x)
    kernel, stride, padding, dilation, sizes, out = _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode)
    N, C = x.shape[:2]
    y = np.empty((N, C) + out)
    idx = np.empty((N, C) + out, np.int64)
    for n, c in itertools.product(range(N), range(C)):
        for p in itertools.product(*map(range, out)):
            coords = [i for i in _taps(p, kernel, stride, padding, dilation) if _inside(i, sizes)]
            y[(n, c) + p], idx[(n, c) + p] = _window_max(x, n, c, coords, sizes)
    return y, idx


def avg_pool_nd(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                divisor_override=None, dilation=1):
    """Window sum over the taps inside the input, divided by divisor_override, or by the number of
    taps inside the padded input [-p, n+p) (count_include_pad) or inside the input [0, n)."""
    x = _f64(x)
    kernel, stride, padding, dilation, sizes, out = _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode)
    N, C = x.shape[:2]
    y = np.empty((N, C) + out)
    for n, c in itertools.product(range(N), range(C)):
        for p in itertools.product(*map(range, out)):
            total, in_padded, in_input = 0.0, 0, 0
            for i in _taps(p, kernel, stride, padding, dilation):
                if all(-pp <= ii < nn + pp for ii, nn, pp in zip(i, sizes, padding)):
                    in_padded += 1
                if _inside(i, sizes):
                    in_input += 1
                    total += x[(n, c) + i]
            if divisor_override is not None:
                div = divisor_override
            else:
                div = in_padded if count_include_pad else in_input
            y[(n, c) + p] = total / div
    return y


def adaptive_windows(n, out):
    """Window o of ``out`` over ``n`` inputs: [floor(o*n/out), ceil((o+1)*n/out))."""
    return [range((o * n) // out, -(-((o + 1) * n) // out)) for o in range(out)]


def _adaptive(x, output_size):
    nd = x.ndim - 2
    if isinstance(output_size, (int, np.integer)):
        output_size = (output_size,) * nd
    out = tuple(n if o is None else int(o) for o, n in zip(output_size, x.shape[2:]))
    wins = [adaptive_windows(n, o) for n, o in zip(x.shape[2:], out)]
    return out, wins


def adaptive_avg_pool_nd(x, output_size):
    x = _f64(x)
    out, wins = _adaptive(x, output_size)
    N, C = x.shape[:2]
    y = np.empty((N, C) + out)
    for n, c in itertools.product(range(N), range(C)):
        for p in itertools.product(*map(range, out)):
            coords = list(itertools.product(*(wins[a][pa] for a, pa in enumerate(p))))
            y[(n, c) + p] = sum(x[(n, c) + i] for i in coords) / len(coords)
    return y


def adaptive_max_pool_nd(x, output_size):
    x = _f64(x)
    out, wins = _adaptive(x, output_size)
    N, C = x.shape[:2]
    sizes = x.shape[2:]
    y = np.empty((N, C) + out)
    idx = np.empty((N, C) + out, np.int64)
    for n, c in itertools.product(range(N), range(C)):
        for p in itertools.product(*map(range, out)):
            coords = itertools.product(*(wins[a][pa] for a, pa in enumerate(p)))
            y[(n, c) + p], idx[(n, c) + p] = _window_max(x, n, c, coords, sizes)
    return y, idx


def fractional_windows(u, n, out, k):
    """The starts of fractional max pooling's ``out`` windows of ``k`` over ``n`` inputs for the
    plane's sample ``u`` (Graham 2014, section 2, overlapping pseudorandom windows, as PyTorch
    computes them in the sample's own precision): with alpha = (n - k) / (out - 1), window i starts
    at floor((i + u) alpha) - floor(u alpha); the last one ends at the input's end."""
    real = type(u)
    starts = []
    if out > 1:
        alpha = real(n - k) / real(out - 1)
        starts = [int(math.floor((real(i) + u) * alpha)) - int(math.floor(u * alpha)) for i in range(out - 1)]
    return (starts + [n - k])[:out]


def fractional_max_pool_nd(x, kernel, out, samples):
    """(values, flat indices) of fractional max pooling; ``samples`` (N, C, nd), each plane's
    sample for each dimension (PyTorch's order: (W, H) for images, (D, H, W) for volumes)."""
    nd = x.ndim - 2
    N, C = x.shape[:2]
    sizes = x.shape[2:]
    order = [1, 0] if nd == 2 else list(range(nd))
    y = np.empty((N, C) + tuple(out), x.dtype)
    idx = np.empty((N, C) + tuple(out), np.int64)
    for n, c in itertools.product(range(N), range(C)):
        starts = [fractional_windows(samples[n, c, order[a]], sizes[a], out[a], kernel[a]) for a in range(nd)]
        for p in itertools.product(*map(range, out)):
            corner = [starts[a][p[a]] for a in range(nd)]
            coords = itertools.product(*(range(f, f + k) for f, k in zip(corner, kernel)))
            y[(n, c) + p], idx[(n, c) + p] = _window_max(x, n, c, coords, sizes)
    return y, idx


def max_unpool_nd(x, indices, output_size):
    """Zeros of spatial shape ``output_size``; y[n, c, unravel(indices[n, c, p])] = x[n, c, p]."""
    x = _f64(x)
    N, C = x.shape[:2]
    output_size = tuple(output_size)
    y = np.zeros((N, C) + output_size)
    for n, c in itertools.product(range(N), range(C)):
        for p in itertools.product(*map(range, x.shape[2:])):
            y[(n, c) + np.unravel_index(int(indices[(n, c) + p]), output_size)] = x[(n, c) + p]
    return y


# ----------------------------------------------------------------------------- unfold / fold


def _blocks(sizes, kernel_size, dilation, padding, stride):
    kernel, dilation, padding, stride = (ntuple(v, 2) for v in (kernel_size, dilation, padding, stride))
    out = tuple(conv_out_size(n, k, s, d, p, p) for n, k, s, d, p in zip(sizes, kernel, stride, dilation, padding))
    return kernel, dilation, padding, stride, out


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """cols[n, (c*KH + kh)*KW + kw, oh*OW + ow] = x[n, c, oh*s - p + kh*d, ow*s - p + kw*d] (0 outside)."""
    x = _f64(x)
    N, C, H, W = x.shape
    kernel, dilation, padding, stride, out = _blocks((H, W), kernel_size, dilation, padding, stride)
    KH, KW = kernel
    cols = np.zeros((N, C * KH * KW, out[0] * out[1]))
    for n, c, kh, kw, oh, ow in itertools.product(range(N), range(C), range(KH), range(KW), range(out[0]), range(out[1])):
        i = oh * stride[0] - padding[0] + kh * dilation[0]
        j = ow * stride[1] - padding[1] + kw * dilation[1]
        if 0 <= i < H and 0 <= j < W:
            cols[n, (c * KH + kh) * KW + kw, oh * out[1] + ow] = x[n, c, i, j]
    return cols


def fold(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """x[n, c, oh*s - p + kh*d, ow*s - p + kw*d] += cols[n, (c*KH + kh)*KW + kw, oh*OW + ow]."""
    cols = _f64(cols)
    H, W = ntuple(output_size, 2)
    kernel, dilation, padding, stride, out = _blocks((H, W), kernel_size, dilation, padding, stride)
    KH, KW = kernel
    N = cols.shape[0]
    C = cols.shape[1] // (KH * KW)
    x = np.zeros((N, C, H, W))
    for n, c, kh, kw, oh, ow in itertools.product(range(N), range(C), range(KH), range(KW), range(out[0]), range(out[1])):
        i = oh * stride[0] - padding[0] + kh * dilation[0]
        j = ow * stride[1] - padding[1] + kw * dilation[1]
        if 0 <= i < H and 0 <= j < W:
            x[n, c, i, j] += cols[n, (c * KH + kh) * KW + kw, oh * out[1] + ow]
    return x


# ----------------------------------------------------------------------------- interpolation


def _cubic(d, a=-0.75):
    """Keys' cubic convolution kernel W(d) (a = -0.75, as PyTorch and OpenCV)."""
    d = abs(d)
    if d <= 1:
        return (a + 2) * d**3 - (a + 3) * d**2 + 1
    if d < 2:
        return a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
    return 0.0


def _axis_taps(j, n, m, mode, align_corners, scale_factor):
    """[(source index, weight)] of output j along one axis of n inputs and m outputs.

    The source coordinate of output j: j * (n - 1) / (m - 1) with align_corners, else
    (j + 0.5) * s - 0.5 with s = n / m, or 1 / scale_factor when one is given (PyTorch's definition;
    for the nearest modes, PyTorch's s is a float32 number, so it is one here too).
    """
    if mode in ("nearest", "nearest-exact"):
        s = np.float32(1.0 / scale_factor) if scale_factor else np.float32(n) / np.float32(m)
        shift = 0.5 if mode == "nearest-exact" else 0.0
        return [(min(int(math.floor(np.float32(j + shift) * s)), n - 1), 1.0)]
    s = (n - 1) / (m - 1) if m > 1 else 0.0
    if not align_corners:
        s = 1.0 / scale_factor if scale_factor else n / m
    src = s * j if align_corners else s * (j + 0.5) - 0.5
    if mode == "bicubic":
        base = math.floor(src)
        return [(min(max(base + k, 0), n - 1), _cubic(src - (base + k))) for k in (-1, 0, 1, 2)]
    src = max(src, 0.0)
    i0 = min(int(math.floor(src)), n - 1)
    t = src - i0
    return [(i0, 1 - t), (min(i0 + 1, n - 1), t)]


def _antialias_taps(j, n, m, mode, align_corners, scale_factor):
    """[(source index, weight)] of output j with antialias: the interpolation filter (a triangle of
    half-width 1, or Keys' cubic with a = -0.5 and half-width 2) centred at s (j + 0.5) in the
    input's pixel coordinates (pixel i's centre at i + 0.5) and, when s > 1 (downsampling), widened
    s times; the weights at the n input centres, divided by their sum."""
    if align_corners:
        s = (n - 1) / (m - 1) if m > 1 else 0.0
    else:
        s = 1.0 / scale_factor if scale_factor else n / m
    centre, stretch = s * (j + 0.5), max(s, 1.0)

    def filt(u):
        u = abs(u)
        if mode == "bilinear":
            return max(1.0 - u, 0.0)
        return _cubic(u, a=-0.5) if u < 2 else 0.0

    w = [filt((i + 0.5 - centre) / stretch) for i in range(n)]
    total = math.fsum(w)
    return [(i, wi / total) for i, wi in enumerate(w) if wi != 0.0]


def interpolate_nd(x, size, mode, align_corners=False, scale_factors=None, antialias=False):
    """``torch.nn.functional.interpolate`` to spatial ``size``: each output the weighted sum over
    the product of its per-axis taps (for 'area', the mean of its adaptive pooling window)."""
    x = _f64(x)
    N, C, *sizes = x.shape
    if mode == "area":
        return adaptive_avg_pool_nd(x, size)
    scale_factors = scale_factors or (None,) * len(sizes)
    taps = _antialias_taps if antialias else _axis_taps
    out = np.zeros((N, C) + tuple(size))
    for o in itertools.product(*[range(m) for m in size]):
        per_axis = [taps(j, n, m, mode, align_corners, f) for j, n, m, f in zip(o, sizes, size, scale_factors)]
        for combo in itertools.product(*per_axis):
            w = math.prod(t[1] for t in combo)
            out[(slice(None), slice(None)) + o] += w * x[(slice(None), slice(None)) + tuple(t[0] for t in combo)]
    return out


# ----------------------------------------------------------------------------- normalization, rearrangement


def _standardize(values, eps):
    """(v - mean) / sqrt(var + eps) of a list of numbers, var the biased (population) variance."""
    m = math.fsum(values) / len(values)
    var = math.fsum((v - m) ** 2 for v in values) / len(values)
    return [(v - m) / math.sqrt(var + eps) for v in values]


def normalize_groups(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalization of (N, C, *): each sample's channels c in group g = c // (C / G) and all
    their positions standardized together, then weight[c] * v + bias[c]."""
    x = _f64(x)
    N, C = x.shape[:2]
    per = C // num_groups
    out = np.empty_like(x)
    for n in range(N):
        for g in range(num_groups):
            cells = [(c,) + i for c in range(g * per, (g + 1) * per) for i in np.ndindex(*x.shape[2:])]
            for cell, v in zip(cells, _standardize([x[(n,) + cell] for cell in cells], eps)):
                c = cell[0]
                out[(n,) + cell] = v * (1.0 if weight is None else weight[c]) + (0.0 if bias is None else bias[c])
    return out


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Each index of the leading dimensions: its trailing ``normalized_shape`` block standardized,
    then weight * v + bias elementwise over the block."""
    x = _f64(x)
    k = len(normalized_shape)
    out = np.empty_like(x)
    for lead in np.ndindex(*x.shape[:x.ndim - k]):
        cells = list(np.ndindex(*normalized_shape))
        for cell, v in zip(cells, _standardize([x[lead + c] for c in cells], eps)):
            out[lead + cell] = v * (1.0 if weight is None else weight[cell]) + (0.0 if bias is None else bias[cell])
    return out


def rms_norm(x, normalized_shape, weight=None, eps=1e-6):
    """x / sqrt(mean of x^2 over the trailing block + eps) * weight."""
    x = _f64(x)
    k = len(normalized_shape)
    out = np.empty_like(x)
    for lead in np.ndindex(*x.shape[:x.ndim - k]):
        cells = list(np.ndindex(*normalized_shape))
        rms = math.sqrt(math.fsum(x[lead + c] ** 2 for c in cells) / len(cells) + eps)
        for c in cells:
            out[lead + c] = x[lead + c] / rms * (1.0 if weight is None else weight[c])
    return out


def local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0):
    """b[n, c, pos] = a[n, c, pos] / (k + alpha / size * sum of a[n, j, pos]^2 for j from c - size // 2 to
    c + (size - 1) // 2 inside [0, C))^beta: Krizhevsky et al.'s normalization across channels."""
    x = _f64(x)
    C = x.shape[1]
    out = np.empty_like(x)
    for i in np.ndindex(*x.shape):
        n, c, pos = i[0], i[1], i[2:]
        total = sum(x[(n, j) + pos] ** 2 for j in range(c - size // 2, c + (size - 1) // 2 + 1) if 0 <= j < C)
        out[i] = x[i] / (k + alpha / size * total) ** beta
    return out


def pixel_shuffle(x, r):
    """out[..., c, h r + i, w r + j] = x[..., c r^2 + i r + j, h, w]."""
    x = _f64(x)
    *lead, C, H, W = x.shape
    out = np.empty((*lead, C // (r * r), H * r, W * r))
    for idx in np.ndindex(*out.shape):
        *l, c, oh, ow = idx
        out[idx] = x[(*l, c * r * r + (oh % r) * r + ow % r, oh // r, ow // r)]
    return out


def lp_pool_nd(x, p, kernel_size, stride=None):
    """(sum over each window of x^p)^(1/p), windows of ``kernel_size`` every ``stride``, no padding."""
    x = _f64(x)
    nd = x.ndim - 2
    kernel = ntuple(kernel_size, nd)
    stride = kernel if stride is None else ntuple(stride, nd)
    out_sizes = tuple((n - k) // s + 1 for n, k, s in zip(x.shape[2:], kernel, stride))
    out = np.empty(x.shape[:2] + out_sizes)
    for n, c in np.ndindex(*x.shape[:2]):
        for o in np.ndindex(*out_sizes):
            taps = [tuple(oi * s + ki for oi, s, ki in zip(o, stride, k)) for k in np.ndindex(*kernel)]
            out[(n, c) + o] = math.fsum(x[(n, c) + t] ** p for t in taps) ** (1.0 / p)
    return out


def embedding_weight_grad(index, grad_output, num_embeddings, padding_idx=None, scale_grad_by_freq=False):
    """The gradient of out[...] = weight[index[...]]: row v gets the sum of grad_output over the
    positions that picked v (divided by their count with ``scale_grad_by_freq``); padding_idx's
    row none."""
    index = np.asarray(index)
    g = np.asarray(grad_output, np.float64)
    out = np.zeros((num_embeddings, g.shape[-1]))
    counts = np.zeros(num_embeddings)
    for pos in np.ndindex(*index.shape):
        counts[index[pos]] += 1
    for pos in np.ndindex(*index.shape):
        v = index[pos]
        if v != padding_idx:
            out[v] += g[pos] / (counts[v] if scale_grad_by_freq else 1.0)
    return out


def kl_div(log_q, target, log_target=False):
    """Pointwise target * (log target - log_q), 0 where target is 0 (exp(t) * (t - log_q) for a log target)."""
    log_q, target = np.broadcast_arrays(_f64(log_q), _f64(target))
    out = np.empty(log_q.shape)
    for i in np.ndindex(*out.shape):
        q, t = log_q[i], target[i]
        out[i] = math.exp(t) * (t - q) if log_target else (0.0 if t == 0 else t * (math.log(t) - q))
    return out


# ----------------------------------------------------------------------------- gradients


def numerical_grad(f, x, gy, eps=1e-6):
    """Central differences of sum(f(x) * gy) w.r.t. every element of ``x``, in float64.

    The difference f(x+e) - f(x-e) is taken element by element before weighting by ``gy``, which
    keeps the rounding error of a linear ``f`` near 1e-10 instead of |sum| * 1e-10.
    """
    x = _f64(x)
    gy = np.asarray(gy, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        v = x[i]
        x[i] = v + eps
        fp = np.asarray(f(x), np.float64)
        x[i] = v - eps
        fm = np.asarray(f(x), np.float64)
        x[i] = v
        g[i] = np.sum((fp - fm) * gy) / (2 * eps)
    return g
