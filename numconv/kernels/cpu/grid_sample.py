"""grid_sample, CPU: the forward and the grid's gradient a task per output point (its channels in
turn), the input's gradient a task per (sample, channel) plane walking every output point in order,
so that each task alone writes what it writes (no atomics; the same bits on any thread count). The
sampling itself is ``numconv.kernels.grid_sample``'s, the CUDA kernels' own, inlined.
"""
from numba import prange

from . import inline, kernel
from .. import grid_sample as G

_H = G.compiled(inline)
_place, _sample, _sample_grad, _spread = _H["place"], _H["sample"], _H["sample_grad"], _H["spread"]


@kernel
def grid_sample_forward(out, x, grid, mode, padding, align):
    """out (N, C, Ho, Wo) = x (N, C, H, W) sampled at grid (N, Ho, Wo, 2), each point's (x, y) in
    [-1, 1]; mode and padding are ``kernels.grid_sample``'s codes, align whether -1 and 1 are the
    corner pixels' centres."""
    N, C, Ho, Wo = out.shape
    for task in prange(N * Ho * Wo):
        n, h, w = task // (Ho * Wo), (task // Wo) % Ho, task % Wo
        ix, iy, _, _ = _place(grid[n, h, w, 0], grid[n, h, w, 1], x, mode, padding, align)
        for c in range(C):
            out[n, c, h, w] = _sample(x, n, c, ix, iy, mode, padding, align)


@kernel
def grid_sample_input_grad(gx, g, grid, mode, padding, align):
    """gx (N, C, H, W), zeros on entry, += what each output point's gradient g (N, C, Ho, Wo) sends
    to the pixels it sampled."""
    N, C, Ho, Wo = g.shape
    for plane in prange(N * C):
        n, c = plane // C, plane % C
        for h in range(Ho):
            for w in range(Wo):
                ix, iy, _, _ = _place(grid[n, h, w, 0], grid[n, h, w, 1], gx, mode, padding, align)
                _spread(gx, n, c, ix, iy, float(g[n, c, h, w]), mode, padding, align)


@kernel
def grid_sample_grid_grad(ggrid, g, x, grid, mode, padding, align):
    """ggrid (N, Ho, Wo, 2): each point's gradient, the sum over channels of g times the sample's
    derivative along x and y, times the coordinate's own (0 where the padding clipped it)."""
    N, C, Ho, Wo = g.shape
    for task in prange(N * Ho * Wo):
        n, h, w = task // (Ho * Wo), (task // Wo) % Ho, task % Wo
        ix, iy, dix, diy = _place(grid[n, h, w, 0], grid[n, h, w, 1], x, mode, padding, align)
        sx = 0.0
        sy = 0.0
        for c in range(C):
            gv = float(g[n, c, h, w])
            dx, dy = _sample_grad(x, n, c, ix, iy, mode, padding, align)
            sx += gv * dx
            sy += gv * dy
        ggrid[n, h, w, 0] = sx * dix
        ggrid[n, h, w, 1] = sy * diy
