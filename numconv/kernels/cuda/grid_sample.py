"""grid_sample, CUDA: the forward and the grid's gradient a thread per output point (its channels in
turn), the input's gradient a thread per (sample, channel) plane walking every output point in order,
so that each thread alone writes what it writes (no atomics: two runs give the same bits). The
sampling is ``numconv.kernels.grid_sample``'s, the CPU kernels' own, as device functions.
"""
from numba import cuda

from .. import grid_sample as G
from . import jit, launch

_H = G.compiled(cuda.jit(device=True))
_place, _sample, _sample_grad, _spread = _H["place"], _H["sample"], _H["sample_grad"], _H["spread"]


def grid_sample_forward(out, x, grid, mode, padding, align):
    """out (N, C, Ho, Wo) = x (N, C, H, W) sampled at grid (N, Ho, Wo, 2) (``kernels.cpu.grid_sample``)."""
    N, C, Ho, Wo = out.shape
    launch(_forward, N * Ho * Wo, out, x, grid, mode, padding, align)


@jit
def _forward(out, x, grid, mode, padding, align):
    task = cuda.grid(1)
    N, C, Ho, Wo = out.shape
    if task < N * Ho * Wo:
        n, h, w = task // (Ho * Wo), (task // Wo) % Ho, task % Wo
        ix, iy, _, _ = _place(grid[n, h, w, 0], grid[n, h, w, 1], x, mode, padding, align)
        for c in range(C):
            out[n, c, h, w] = _sample(x, n, c, ix, iy, mode, padding, align)


def grid_sample_input_grad(gx, g, grid, mode, padding, align):
    """gx (N, C, H, W), zeros on entry, += what each output point's gradient g sends to its pixels."""
    N, C = g.shape[0], g.shape[1]
    launch(_input_grad, N * C, gx, g, grid, mode, padding, align)


@jit
def _input_grad(gx, g, grid, mode, padding, align):
    plane = cuda.grid(1)
    N, C, Ho, Wo = g.shape
    if plane < N * C:
        n, c = plane // C, plane % C
        for h in range(Ho):
            for w in range(Wo):
                ix, iy, _, _ = _place(grid[n, h, w, 0], grid[n, h, w, 1], gx, mode, padding, align)
                _spread(gx, n, c, ix, iy, float(g[n, c, h, w]), mode, padding, align)


def grid_sample_grid_grad(ggrid, g, x, grid, mode, padding, align):
    """ggrid (N, Ho, Wo, 2): each point's gradient (``kernels.cpu.grid_sample``)."""
    N, _, Ho, Wo = g.shape
    launch(_grid_grad, N * Ho * Wo, ggrid, g, x, grid, mode, padding, align)


@jit
def _grid_grad(ggrid, g, x, grid, mode, padding, align):
    task = cuda.grid(1)
    N, C, Ho, Wo = g.shape
    if task < N * Ho * Wo:
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
