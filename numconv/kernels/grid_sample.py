"""``grid_sample``'s sampling, one output point and channel at a time, written once for both
backends: the CPU kernels (``kernels/cpu/grid_sample.py``) inline these helpers, the CUDA kernels
(``kernels/cuda/grid_sample.py``) call them as device functions. In float64 throughout.

The input x is (N, C, H, W); a grid point (gx, gy) in [-1, 1] names a place in it: -1 and 1 are the
centres of the corner pixels (``align`` True) or their outer edges (False). ``source_index`` turns a
coordinate into a pixel index and applies the padding mode to it (for bilinear and nearest; bicubic
pads each of its 16 taps instead, as PyTorch does). Taps outside the image read 0.

    bilinear  the 4 pixels around (ix, iy), weighted by (1 - tx)(1 - ty), tx(1 - ty), (1 - tx)ty, tx ty
    nearest   the pixel at (round(ix), round(iy)), halves to even
    bicubic   the 4 x 4 pixels around it, weighted by Keys' cubic convolution (a = -0.75) in x and y

A coordinate that is not finite samples NaN (and sends no gradient into x).
"""
import math

from .scalar import with_primitives

BILINEAR, NEAREST, BICUBIC = 0, 1, 2
ZEROS, BORDER, REFLECTION = 0, 1, 2
MODES = {"bilinear": BILINEAR, "nearest": NEAREST, "bicubic": BICUBIC}
PADDINGS = {"zeros": ZEROS, "border": BORDER, "reflection": REFLECTION}
CUBIC_A = -0.75
FAR = 1073741824.0  # 2**30: a coordinate beyond this is outside any image, and still fits an int


def unnormalize(coord, size, align):
    """The pixel index of a normalized coordinate along an axis of ``size`` pixels."""
    if align:
        return (coord + 1.0) * 0.5 * (size - 1)
    return ((coord + 1.0) * size - 1.0) * 0.5


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


def reflect(index, size, align):
    """``index`` reflected into the image: about the corner pixels' centres (``align``) or their
    outer edges, as often as it takes; and the sign d(reflect) / d(index)."""
    if align:
        low, span = 0.0, float(size - 1)
    else:
        low, span = -0.5, float(size)
    if span <= 0.0:
        return 0.0, 0.0
    d = index - low
    sign = 1.0
    if d < 0.0:
        sign = -1.0
        d = -d
    flips = math.floor(d / span)
    extra = d - flips * span
    if flips % 2 == 0:
        return extra + low, sign
    return span - extra + low, -sign


def nearest(v):
    """The integer nearest v, halves to even (``rint``), as an int."""
    f = math.floor(v)
    d = v - f
    if d > 0.5 or (d == 0.5 and f % 2 != 0):
        return int(f) + 1
    return int(f)


def source_index(coord, size, padding, align):
    """The pixel index a coordinate samples (padding applied), and its derivative with respect to the
    coordinate."""
    index = min(max(unnormalize(coord, size, align), -FAR), FAR)
    grad = unnormalize_grad(size, align)
    if padding == BORDER:
        grad *= clip_grad(index, size)
        index = clip(index, size)
    elif padding == REFLECTION:
        index, sign = reflect(index, size, align)
        grad *= sign * clip_grad(index, size)
        index = clip(index, size)
    return index, grad


def bounded(index, size, padding, align):
    """An integer tap index of bicubic with the padding mode applied (itself for zeros)."""
    if padding == BORDER:
        return int(clip(float(index), size))
    if padding == REFLECTION:
        return int(clip(reflect(float(index), size, align)[0], size))
    return index


def pixel(x, n, c, iy, ix):
    """x[n, c, iy, ix] in float64, 0 outside the image."""
    if 0 <= iy < x.shape[2] and 0 <= ix < x.shape[3]:
        return float(x[n, c, iy, ix])
    return 0.0


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
    if mode == BICUBIC:
        ix, iy = min(max(unnormalize(gx, W, align), -FAR), FAR), min(max(unnormalize(gy, H, align), -FAR), FAR)
        dix, diy = unnormalize_grad(W, align), unnormalize_grad(H, align)
    else:
        ix, dix = source_index(gx, W, padding, align)
        iy, diy = source_index(gy, H, padding, align)
    return ix, iy, dix, diy


def sample(x, n, c, ix, iy, mode, padding, align):
    """The value x[n, c] shows at (ix, iy) (from ``place``)."""
    if ix != ix or iy != iy:
        return math.nan
    if mode == NEAREST:
        return pixel(x, n, c, nearest(iy), nearest(ix))
    x0, y0 = math.floor(ix), math.floor(iy)
    tx, ty = ix - x0, iy - y0
    x0, y0 = int(x0), int(y0)
    if mode == BILINEAR:
        return ((pixel(x, n, c, y0, x0) * (1.0 - tx) + pixel(x, n, c, y0, x0 + 1) * tx) * (1.0 - ty)
                + (pixel(x, n, c, y0 + 1, x0) * (1.0 - tx) + pixel(x, n, c, y0 + 1, x0 + 1) * tx) * ty)
    H, W = x.shape[2], x.shape[3]
    total = 0.0
    for j in range(4):
        yy = bounded(y0 - 1 + j, H, padding, align)
        row = 0.0
        for i in range(4):
            row += cubic(tx, i) * pixel(x, n, c, yy, bounded(x0 - 1 + i, W, padding, align))
        total += cubic(ty, j) * row
    return total


def sample_grad(x, n, c, ix, iy, mode, padding, align):
    """(d value / d ix, d value / d iy) of ``sample``: 0 for nearest."""
    if mode == NEAREST or ix != ix or iy != iy:
        return 0.0, 0.0
    x0, y0 = math.floor(ix), math.floor(iy)
    tx, ty = ix - x0, iy - y0
    x0, y0 = int(x0), int(y0)
    if mode == BILINEAR:
        nw, ne = pixel(x, n, c, y0, x0), pixel(x, n, c, y0, x0 + 1)
        sw, se = pixel(x, n, c, y0 + 1, x0), pixel(x, n, c, y0 + 1, x0 + 1)
        return (ne - nw) * (1.0 - ty) + (se - sw) * ty, (sw - nw) * (1.0 - tx) + (se - ne) * tx
    H, W = x.shape[2], x.shape[3]
    dx = 0.0
    dy = 0.0
    for j in range(4):
        yy = bounded(y0 - 1 + j, H, padding, align)
        row = 0.0
        drow = 0.0
        for i in range(4):
            v = pixel(x, n, c, yy, bounded(x0 - 1 + i, W, padding, align))
            row += cubic(tx, i) * v
            drow += cubic_grad(tx, i) * v
        dx += cubic(ty, j) * drow
        dy += cubic_grad(ty, j) * row
    return dx, dy


def spread(gx, n, c, ix, iy, g, mode, padding, align):
    """gx[n, c] += g times each tap's weight at (ix, iy): the gradient ``sample`` sends into x (taps
    outside the image get nothing)."""
    if ix != ix or iy != iy:
        return
    H, W = gx.shape[2], gx.shape[3]
    if mode == NEAREST:
        yy, xx = nearest(iy), nearest(ix)
        if 0 <= yy < H and 0 <= xx < W:
            gx[n, c, yy, xx] += g
        return
    x0, y0 = math.floor(ix), math.floor(iy)
    tx, ty = ix - x0, iy - y0
    x0, y0 = int(x0), int(y0)
    if mode == BILINEAR:
        for j in range(2):
            wy = ty if j else 1.0 - ty
            yy = y0 + j
            for i in range(2):
                xx = x0 + i
                if 0 <= yy < H and 0 <= xx < W:
                    gx[n, c, yy, xx] += g * (wy * (tx if i else 1.0 - tx))
        return
    for j in range(4):
        yy = bounded(y0 - 1 + j, H, padding, align)
        wy = cubic(ty, j)
        for i in range(4):
            xx = bounded(x0 - 1 + i, W, padding, align)
            if 0 <= yy < H and 0 <= xx < W:
                gx[n, c, yy, xx] += g * (wy * cubic(tx, i))


# ----------------------------------------------------------------------------- what a kernel's task does


def sample_point(out, x, grid, n, h, w, mode, padding, align):
    """out[n, :, h, w]: every channel of x sampled at grid point (n, h, w) (the forward's task)."""
    ix, iy, _, _ = place(grid[n, h, w, 0], grid[n, h, w, 1], x, mode, padding, align)
    for c in range(out.shape[1]):
        out[n, c, h, w] = sample(x, n, c, ix, iy, mode, padding, align)


def spread_plane(gx, g, grid, n, c, mode, padding, align):
    """gx[n, c] += what the output gradient g[n, c] at every grid point sends to the pixels the point
    sampled, the points in order (the image gradient's task: it alone writes plane (n, c))."""
    for h in range(g.shape[2]):
        for w in range(g.shape[3]):
            ix, iy, _, _ = place(grid[n, h, w, 0], grid[n, h, w, 1], gx, mode, padding, align)
            spread(gx, n, c, ix, iy, float(g[n, c, h, w]), mode, padding, align)


def point_grad(ggrid, g, x, grid, n, h, w, mode, padding, align):
    """ggrid[n, h, w] = the sum over channels of g times the sample's derivative along x and y, times
    the coordinates' own (0 where the padding clipped them) (the grid gradient's task)."""
    ix, iy, dix, diy = place(grid[n, h, w, 0], grid[n, h, w, 1], x, mode, padding, align)
    sx = 0.0
    sy = 0.0
    for c in range(g.shape[1]):
        gv = float(g[n, c, h, w])
        dx, dy = sample_grad(x, n, c, ix, iy, mode, padding, align)
        sx += gv * dx
        sy += gv * dy
    ggrid[n, h, w, 0] = sx * dix
    ggrid[n, h, w, 1] = sy * diy


HELPERS = ("unnormalize", "unnormalize_grad", "clip", "clip_grad", "reflect", "nearest", "source_index", "bounded",
           "pixel", "cubic", "cubic_grad", "place", "sample", "sample_grad", "spread", "sample_point", "spread_plane",
           "point_grad")  # each after those it calls


def compiled(wrap, called=None, names=()):
    """Every helper above compiled with ``wrap`` (a target's decorator for functions its kernels call),
    each calling the others' compiled forms: {name: compiled function}. ``names`` are compiled with
    ``called`` instead (the CPU's: called, not inlined, to keep the kernels' compile time down)."""
    done = {}
    for name in HELPERS:
        done[name] = (called if name in names else wrap)(with_primitives(globals()[name], **done))
    return done
