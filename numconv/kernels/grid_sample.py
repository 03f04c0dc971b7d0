"""``grid_sample``'s sampling, one output point at a time, written once for both backends: the CPU
kernels (``kernels/cpu/grid_sample.py``) compile these helpers in, the CUDA kernels
(``kernels/cuda/grid_sample.py``) call them as device functions. In float64 throughout, except that
a float32 grid's pixel index is rounded as PyTorch's float32 arithmetic rounds it (``unnormalize``),
so that nearest sampling picks the same pixel at a tie. A point's taps along x and along y (``axis_taps``: pixels and weights) are found once; each channel is then a
weighted sum over them (``weighted``).

The input x is (N, C, H, W); a grid point (gx, gy) in [-1, 1] names a place in it: -1 and 1 are the
centres of the corner pixels (``align`` True) or their outer edges (False). ``source_index`` turns a
coordinate into a pixel index and applies the padding mode to it (for bilinear and nearest; bicubic
pads each of its 16 taps instead, as PyTorch does). Taps outside the image read 0.

    bilinear  the 4 pixels around (ix, iy), weighted by (1 - tx)(1 - ty), tx(1 - ty), (1 - tx)ty, tx ty
    nearest   the pixel at (round(ix), round(iy)), halves to even
    bicubic   the 4 x 4 pixels around it, weighted by Keys' cubic convolution (a = -0.75) in x and y

A coordinate that is not finite samples NaN, sends no gradient into x, and gets a NaN gradient itself
(0 for nearest). Volumes (N, C, D, H, W) take trilinear and nearest sampling the same way, a third axis
(``*3`` below).
"""
import math

from .scalar import compiled_helpers

BILINEAR, NEAREST, BICUBIC = 0, 1, 2
ZEROS, BORDER, REFLECTION = 0, 1, 2
MODES = {"bilinear": BILINEAR, "nearest": NEAREST, "bicubic": BICUBIC}
PADDINGS = {"zeros": ZEROS, "border": BORDER, "reflection": REFLECTION}
CUBIC_A = -0.75
fmod = math.fmod  # the C fmod (exact); the CPU binds NumPy's, as Numba's CPU target has no math.fmod
FAR = 1073741824.0  # 2**30: a coordinate beyond this is outside any image, and still fits an int


def rounded(v, dtype):
    """v rounded to ``dtype`` (an array's: float32, or float64, a no-op compiled away), as a float again."""
    return float(dtype.type(v))


def unnormalize(coord, size, align, dtype, fused):
    """The pixel index of a normalized coordinate along an axis of ``size`` pixels, in ``dtype`` (each
    step rounded to it) as PyTorch's CPU kernels compute it: its 2-d kernel (``fused``) as
    ``(coord + 1) * (size / 2) - 1/2`` with one fused multiply-add, its volume kernel step by step as
    ``((coord + 1) * size - 1) / 2``. Nearest sampling rounds the index, so a float32 point within
    rounding of a pixel's edge picks the pixel PyTorch's picks only when the index is rounded as
    PyTorch's is."""
    shifted = rounded(coord + 1.0, dtype)
    if align:  # (coord + 1) * ((size - 1) / 2): the halving is exact
        return rounded(shifted * (0.5 * (size - 1)), dtype)
    if fused:  # a float32 product is exact in float64: one rounding, as an fma's
        return rounded(shifted * (0.5 * size) - 0.5, dtype)
    return rounded(rounded(shifted * size, dtype) - 1.0, dtype) * 0.5


def unnormalize_grad(size, align):
    """d(index) / d(coordinate) of ``unnormalize``."""
    if align:
        return 0.5 * (size - 1)
    return 0.5 * size


def clip(index, size):
    """``index`` clipped to [0, size - 1]."""
    if index <= 0.0:
        return 0.0
    if index >= size - 1:
        return float(size - 1)
    return index


def clip_grad(index, size):
    """d(clip) / d(index): 1 strictly inside, 0 at and beyond the ends (PyTorch's)."""
    if index <= 0.0 or index >= size - 1:
        return 0.0
    return 1.0


def reflect(index, size, align, dtype):
    """``index`` reflected into the image: about the corner pixels' centres (``align``) or their
    outer edges, as often as it takes; and the sign d(reflect) / d(index). Each step rounded to
    ``dtype``, as PyTorch's arithmetic rounds it."""
    if align:
        low, span = 0.0, float(size - 1)
    else:
        low, span = -0.5, float(size)
    if span <= 0.0:
        return 0.0, 0.0
    d = rounded(index - low, dtype)
    sign = 1.0
    if d < 0.0:
        sign = -1.0
        d = -d
    extra = fmod(d, span)
    q = rounded(d / span, dtype)
    flips = q - fmod(q, 1.0)  # floor(d / span) as PyTorch takes it, kept a float: no integer to overflow
    if fmod(flips, 2.0) == 0.0:
        return rounded(extra + low, dtype), sign
    return rounded(rounded(span - extra, dtype) + low, dtype), -sign


def nearest(v):
    """The integer nearest v, halves to even (``rint``), as an int."""
    f = math.floor(v)
    d = v - f
    if d > 0.5 or (d == 0.5 and f % 2 != 0):
        return int(f) + 1
    return int(f)


def source_index(coord, size, padding, align, dtype, fused):
    """The pixel index a coordinate samples (padding applied), and its derivative with respect to the
    coordinate; in ``dtype``, as ``unnormalize``."""
    index = unnormalize(coord, size, align, dtype, fused)
    grad = unnormalize_grad(size, align)
    if padding == BORDER:
        grad *= clip_grad(index, size)
        index = clip(index, size)
    elif padding == REFLECTION:
        index, sign = reflect(index, size, align, dtype)
        grad *= sign * clip_grad(index, size)
        index = clip(index, size)
    else:  # zeros: far outside stays far outside, in the range of an int
        index = min(max(index, -FAR), FAR)
    return index, grad


def bounded(index, size, padding, align, dtype):
    """A bicubic tap's pixel: ``index`` (a whole number, as a float: it may lie far outside) with the
    padding mode applied; -1 for a pixel outside the image (zeros)."""
    if padding == BORDER:
        return int(clip(index, size))
    if padding == REFLECTION:
        return int(clip(reflect(index, size, align, dtype)[0], size))
    if 0.0 <= index < size:
        return int(index)
    return -1


def cubic(t, k):
    """Tap k (0..3, at offsets -1, 0, 1, 2 from the floor) of Keys' cubic convolution at fraction t."""
    a = CUBIC_A
    if k == 0:
        s = t + 1.0
        return ((a * s - 5.0 * a) * s + 8.0 * a) * s - 4.0 * a
    if k == 1:
        return ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0
    if k == 2:
        s = 1.0 - t
        return ((a + 2.0) * s - (a + 3.0)) * s * s + 1.0
    s = 2.0 - t
    return ((a * s - 5.0 * a) * s + 8.0 * a) * s - 4.0 * a


def cubic_grad(t, k):
    """d(cubic(t, k)) / dt."""
    a = CUBIC_A
    if k == 0:
        s = t + 1.0
        return (3.0 * a * s - 10.0 * a) * s + 8.0 * a
    if k == 1:
        return (3.0 * (a + 2.0) * t - 2.0 * (a + 3.0)) * t
    if k == 2:
        s = 1.0 - t
        return -(3.0 * (a + 2.0) * s - 2.0 * (a + 3.0)) * s
    s = 2.0 - t
    return -((3.0 * a * s - 10.0 * a) * s + 8.0 * a)


def place(gx, gy, x, mode, padding, align):
    """Where grid point (gx, gy) samples x: (ix, iy, dix, diy), the indices and their derivatives with
    respect to gx and gy; bicubic's unpadded, a non-finite coordinate NaN."""
    H, W = x.shape[2], x.shape[3]
    if not (abs(gx) < math.inf and abs(gy) < math.inf):
        return math.nan, math.nan, 0.0, 0.0
    if mode == BICUBIC:  # its taps are padded one by one (axis_taps), wherever the point is
        ix, iy = unnormalize(gx, W, align, x.dtype, True), unnormalize(gy, H, align, x.dtype, True)
        dix, diy = unnormalize_grad(W, align), unnormalize_grad(H, align)
    else:
        ix, dix = source_index(gx, W, padding, align, x.dtype, True)
        iy, diy = source_index(gy, H, padding, align, x.dtype, True)
    return ix, iy, dix, diy


def linear_taps(index, size, mode):
    """``axis_taps`` for nearest and bilinear (all a volume takes): ``index`` is inside [-FAR, FAR]
    (``source_index``), so its floor fits an int."""
    if mode == NEAREST:
        k = nearest(index)
        return 1, (k if 0 <= k < size else -1, -1, -1, -1), (1.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0)
    f = math.floor(index)
    t = index - f
    f = int(f)
    a = f if 0 <= f < size else -1
    b = f + 1 if 0 <= f + 1 < size else -1
    return 2, (a, b, -1, -1), (1.0 - t, t, 0.0, 0.0), (-1.0, 1.0, 0.0, 0.0)


def axis_taps(index, size, mode, padding, align, dtype):
    """The taps along one axis of ``size`` pixels of a sample at ``index`` (from ``place``, finite):
    (count, (pixel0..3), (weight0..3), (d weight / d index, 0..3)); a pixel -1 lies outside the image
    and reads 0. Nearest takes 1 tap, bilinear 2, bicubic 4 (each padded as the padding mode says, in
    the dtype of the image x)."""
    if mode != BICUBIC:
        return linear_taps(index, size, mode)
    r = fmod(index, 1.0)  # bicubic: the floor kept a float, as the point may be anywhere
    f = index - r - (1.0 if r < 0.0 else 0.0)
    t = index - f
    p0, p1 = bounded(f - 1.0, size, padding, align, dtype), bounded(f, size, padding, align, dtype)
    p2, p3 = bounded(f + 1.0, size, padding, align, dtype), bounded(f + 2.0, size, padding, align, dtype)
    return (4, (p0, p1, p2, p3), (cubic(t, 0), cubic(t, 1), cubic(t, 2), cubic(t, 3)),
            (cubic_grad(t, 0), cubic_grad(t, 1), cubic_grad(t, 2), cubic_grad(t, 3)))


def weighted(x, n, c, ky, ys, wy, kx, xs, wx):
    """The sum over the taps of wy[j] * (the sum of wx[i] * x[n, c, ys[j], xs[i]]), rows first; taps
    outside the image add nothing."""
    total = 0.0
    for j in range(ky):
        if ys[j] >= 0:
            row = 0.0
            for i in range(kx):
                if xs[i] >= 0:
                    row += wx[i] * x[n, c, ys[j], xs[i]]
            total += wy[j] * row
    return total


# ----------------------------------------------------------------------------- what a kernel's task does


def sample_point(out, x, grid, n, h, w, mode, padding, align):
    """out[n, :, h, w]: every channel of x sampled at grid point (n, h, w) (the forward's task): the
    taps found once, then each channel's weighted sum."""
    ix, iy, _, _ = place(grid[n, h, w, 0], grid[n, h, w, 1], x, mode, padding, align)
    if ix != ix or iy != iy:
        for c in range(out.shape[1]):
            out[n, c, h, w] = math.nan
        return
    kx, xs, wx, _ = axis_taps(ix, x.shape[3], mode, padding, align, x.dtype)
    ky, ys, wy, _ = axis_taps(iy, x.shape[2], mode, padding, align, x.dtype)
    for c in range(out.shape[1]):
        out[n, c, h, w] = weighted(x, n, c, ky, ys, wy, kx, xs, wx)


def spread_point(gx, g, grid, n, h, w, c0, c1, mode, padding, align):
    """gx[n, c] += what the output gradient g[n, c, h, w] sends to the pixels grid point (n, h, w)
    sampled (g times each tap's weight), for the channels c0 <= c < c1: the taps found once, then
    each channel's."""
    ix, iy, _, _ = place(grid[n, h, w, 0], grid[n, h, w, 1], gx, mode, padding, align)
    if ix != ix or iy != iy:
        return
    kx, xs, wx, _ = axis_taps(ix, gx.shape[3], mode, padding, align, gx.dtype)
    ky, ys, wy, _ = axis_taps(iy, gx.shape[2], mode, padding, align, gx.dtype)
    for c in range(c0, c1):
        gv = float(g[n, c, h, w])
        for j in range(ky):
            if ys[j] >= 0:
                for i in range(kx):
                    if xs[i] >= 0:
                        gx[n, c, ys[j], xs[i]] += gv * (wy[j] * wx[i])


def spread_plane(gx, g, grid, n, c, mode, padding, align):
    """gx[n, c] += what g[n, c] at every grid point sends to the pixels the point sampled, the points
    in order (a task that alone writes plane (n, c))."""
    for h in range(g.shape[2]):
        for w in range(g.shape[3]):
            spread_point(gx, g, grid, n, h, w, c, c + 1, mode, padding, align)


def point_grad(ggrid, g, x, grid, n, h, w, mode, padding, align):
    """ggrid[n, h, w] = the sum over channels of g times the sample's derivative along x and y, times
    the coordinates' own (0 where the padding clipped them) (the grid gradient's task)."""
    ix, iy, dix, diy = place(grid[n, h, w, 0], grid[n, h, w, 1], x, mode, padding, align)
    sx = 0.0
    sy = 0.0
    if mode != NEAREST and (ix != ix or iy != iy):  # a non-finite point: its gradient is NaN, as PyTorch's
        sx = math.nan
        sy = math.nan
    elif mode != NEAREST:
        kx, xs, wx, dwx = axis_taps(ix, x.shape[3], mode, padding, align, x.dtype)
        ky, ys, wy, dwy = axis_taps(iy, x.shape[2], mode, padding, align, x.dtype)
        for c in range(g.shape[1]):
            gv = float(g[n, c, h, w])
            sx += gv * weighted(x, n, c, ky, ys, wy, kx, xs, dwx)
            sy += gv * weighted(x, n, c, ky, ys, dwy, kx, xs, wx)
    ggrid[n, h, w, 0] = sx * dix
    ggrid[n, h, w, 1] = sy * diy


# ----------------------------------------------------------------------------- volumes: x (N, C, D, H, W)
# A grid point (gx, gy, gz) along W, H and D; trilinear ('bilinear') or nearest, as PyTorch's 5-d input.


def place3(gx, gy, gz, x, mode, padding, align):
    """Where grid point (gx, gy, gz) samples the volume x: (ix, iy, iz, dix, diy, diz)."""
    if not (abs(gx) < math.inf and abs(gy) < math.inf and abs(gz) < math.inf):
        return math.nan, math.nan, math.nan, 0.0, 0.0, 0.0
    ix, dix = source_index(gx, x.shape[4], padding, align, x.dtype, False)
    iy, diy = source_index(gy, x.shape[3], padding, align, x.dtype, False)
    iz, diz = source_index(gz, x.shape[2], padding, align, x.dtype, False)
    return ix, iy, iz, dix, diy, diz


def weighted3(x, n, c, kz, zs, wz, ky, ys, wy, kx, xs, wx):
    """``weighted`` over a volume's taps: planes, then rows, then pixels."""
    total = 0.0
    for k in range(kz):
        if zs[k] >= 0:
            plane = 0.0
            for j in range(ky):
                if ys[j] >= 0:
                    row = 0.0
                    for i in range(kx):
                        if xs[i] >= 0:
                            row += wx[i] * x[n, c, zs[k], ys[j], xs[i]]
                    plane += wy[j] * row
            total += wz[k] * plane
    return total


def sample_point3(out, x, grid, n, d, h, w, mode, padding, align):
    """out[n, :, d, h, w]: every channel of the volume x sampled at grid point (n, d, h, w)."""
    ix, iy, iz, _, _, _ = place3(grid[n, d, h, w, 0], grid[n, d, h, w, 1], grid[n, d, h, w, 2], x, mode, padding,
                                 align)
    if ix != ix or iy != iy or iz != iz:
        for c in range(out.shape[1]):
            out[n, c, d, h, w] = math.nan
        return
    kx, xs, wx, _ = linear_taps(ix, x.shape[4], mode)
    ky, ys, wy, _ = linear_taps(iy, x.shape[3], mode)
    kz, zs, wz, _ = linear_taps(iz, x.shape[2], mode)
    for c in range(out.shape[1]):
        out[n, c, d, h, w] = weighted3(x, n, c, kz, zs, wz, ky, ys, wy, kx, xs, wx)


def spread_point3(gx, g, grid, n, d, h, w, c0, c1, mode, padding, align):
    """gx[n, c] += what g[n, c, d, h, w] sends to the voxels grid point (n, d, h, w) sampled, for the
    channels c0 <= c < c1 (``spread_point`` for a volume)."""
    ix, iy, iz, _, _, _ = place3(grid[n, d, h, w, 0], grid[n, d, h, w, 1], grid[n, d, h, w, 2], gx, mode, padding,
                                 align)
    if ix != ix or iy != iy or iz != iz:
        return
    kx, xs, wx, _ = linear_taps(ix, gx.shape[4], mode)
    ky, ys, wy, _ = linear_taps(iy, gx.shape[3], mode)
    kz, zs, wz, _ = linear_taps(iz, gx.shape[2], mode)
    for c in range(c0, c1):
        gv = float(g[n, c, d, h, w])
        for k in range(kz):
            if zs[k] >= 0:
                for j in range(ky):
                    if ys[j] >= 0:
                        for i in range(kx):
                            if xs[i] >= 0:
                                gx[n, c, zs[k], ys[j], xs[i]] += gv * (wz[k] * (wy[j] * wx[i]))


def spread_plane3(gx, g, grid, n, c, mode, padding, align):
    """gx[n, c] += what g[n, c] at every grid point sends to the voxels the point sampled, in order."""
    for d in range(g.shape[2]):
        for h in range(g.shape[3]):
            for w in range(g.shape[4]):
                spread_point3(gx, g, grid, n, d, h, w, c, c + 1, mode, padding, align)


def point_grad3(ggrid, g, x, grid, n, d, h, w, mode, padding, align):
    """ggrid[n, d, h, w]: the grid point's gradient along x, y and z (``point_grad`` for a volume)."""
    ix, iy, iz, dix, diy, diz = place3(grid[n, d, h, w, 0], grid[n, d, h, w, 1], grid[n, d, h, w, 2], x, mode,
                                       padding, align)
    sx = 0.0
    sy = 0.0
    sz = 0.0
    if mode != NEAREST and (ix != ix or iy != iy or iz != iz):
        sx = math.nan
        sy = math.nan
        sz = math.nan
    elif mode != NEAREST:
        kx, xs, wx, dwx = linear_taps(ix, x.shape[4], mode)
        ky, ys, wy, dwy = linear_taps(iy, x.shape[3], mode)
        kz, zs, wz, dwz = linear_taps(iz, x.shape[2], mode)
        for c in range(g.shape[1]):
            gv = float(g[n, c, d, h, w])
            sx += gv * weighted3(x, n, c, kz, zs, wz, ky, ys, wy, kx, xs, dwx)
            sy += gv * weighted3(x, n, c, kz, zs, wz, ky, ys, dwy, kx, xs, wx)
            sz += gv * weighted3(x, n, c, kz, zs, dwz, ky, ys, wy, kx, xs, wx)
    ggrid[n, d, h, w, 0] = sx * dix
    ggrid[n, d, h, w, 1] = sy * diy
    ggrid[n, d, h, w, 2] = sz * diz


HELPERS = ("rounded", "unnormalize", "unnormalize_grad", "clip", "clip_grad", "reflect", "nearest", "source_index", "bounded",
           "cubic", "cubic_grad", "place", "linear_taps", "axis_taps", "weighted", "sample_point", "spread_point", "spread_plane",
           "point_grad", "place3", "weighted3", "sample_point3", "spread_point3", "spread_plane3", "point_grad3")  # each after
# those it calls


def compiled(wrap, called=None, names=(), **primitives):
    """Every helper above compiled with ``wrap`` (a target's decorator for functions its kernels call),
    each calling the others' compiled forms: {name: compiled function}. ``names`` are compiled with
    ``called`` instead (the CPU's: called, not inlined, to keep the kernels' compile time down);
    ``primitives`` replace the functions the helpers call (``fmod``)."""
    return compiled_helpers(globals(), HELPERS, wrap, called, names, **primitives)
