"""grid_sample, CUDA: the forward and the grid's gradient a thread per output point (its channels in
turn), the input's gradient a thread per (sample, channel) plane walking every output point in order,
so that each thread alone writes what it writes (no atomics: two runs give the same bits). Each
thread's work is ``numconv.kernels.grid_sample``'s, the CPU kernels' own, as device functions.
"""
from numba import cuda

from .. import grid_sample as G
from . import jit, launch

_H = G.compiled(cuda.jit(device=True))
_sample_point, _spread_plane, _point_grad = _H["sample_point"], _H["spread_plane"], _H["point_grad"]


def grid_sample_forward(out, x, grid, mode, padding, align):
    """out (N, C, Ho, Wo) = x (N, C, H, W) sampled at grid (N, Ho, Wo, 2) (``kernels.cpu.grid_sample``)."""
    N, _, Ho, Wo = out.shape
    launch(_forward, N * Ho * Wo, out, x, grid, mode, padding, align)


@jit
def _forward(out, x, grid, mode, padding, align):
    task = cuda.grid(1)
    N, _, Ho, Wo = out.shape
    if task < N * Ho * Wo:
        _sample_point(out, x, grid, task // (Ho * Wo), (task // Wo) % Ho, task % Wo, mode, padding, align)


def grid_sample_input_grad(gx, g, grid, mode, padding, align):
    """gx (N, C, H, W), zeros on entry, += what each output point's gradient g sends to its pixels."""
    launch(_input_grad, g.shape[0] * g.shape[1], gx, g, grid, mode, padding, align)


@jit
def _input_grad(gx, g, grid, mode, padding, align):
    plane = cuda.grid(1)
    C = g.shape[1]
    if plane < g.shape[0] * C:
        _spread_plane(gx, g, grid, plane // C, plane % C, mode, padding, align)


def grid_sample_grid_grad(ggrid, g, x, grid, mode, padding, align):
    """ggrid (N, Ho, Wo, 2): each point's gradient (``kernels.cpu.grid_sample``)."""
    N, _, Ho, Wo = g.shape
    launch(_grid_grad, N * Ho * Wo, ggrid, g, x, grid, mode, padding, align)


@jit
def _grid_grad(ggrid, g, x, grid, mode, padding, align):
    task = cuda.grid(1)
    N, _, Ho, Wo = g.shape
    if task < N * Ho * Wo:
        _point_grad(ggrid, g, x, grid, task // (Ho * Wo), (task // Wo) % Ho, task % Wo, mode, padding, align)


_sample_point3, _spread_plane3, _point_grad3 = _H["sample_point3"], _H["spread_plane3"], _H["point_grad3"]


def grid_sample3d_forward(out, x, grid, mode, padding, align):
    """out (N, C, Do, Ho, Wo) = the volume x sampled at grid (N, Do, Ho, Wo, 3) (``kernels.cpu.grid_sample``)."""
    N, _, Do, Ho, Wo = out.shape
    launch(_forward3, N * Do * Ho * Wo, out, x, grid, mode, padding, align)


@jit
def _forward3(out, x, grid, mode, padding, align):
    task = cuda.grid(1)
    N, _, Do, Ho, Wo = out.shape
    if task < N * Do * Ho * Wo:
        _sample_point3(out, x, grid, task // (Do * Ho * Wo), (task // (Ho * Wo)) % Do, (task // Wo) % Ho, task % Wo,
                       mode, padding, align)


def grid_sample3d_input_grad(gx, g, grid, mode, padding, align):
    """gx (N, C, D, H, W), zeros on entry, += what each output point's gradient sends to its voxels."""
    launch(_input_grad3, g.shape[0] * g.shape[1], gx, g, grid, mode, padding, align)


@jit
def _input_grad3(gx, g, grid, mode, padding, align):
    plane = cuda.grid(1)
    C = g.shape[1]
    if plane < g.shape[0] * C:
        _spread_plane3(gx, g, grid, plane // C, plane % C, mode, padding, align)


def grid_sample3d_grid_grad(ggrid, g, x, grid, mode, padding, align):
    """ggrid (N, Do, Ho, Wo, 3): each point's gradient (``kernels.cpu.grid_sample``)."""
    N, _, Do, Ho, Wo = g.shape
    launch(_grid_grad3, N * Do * Ho * Wo, ggrid, g, x, grid, mode, padding, align)


@jit
def _grid_grad3(ggrid, g, x, grid, mode, padding, align):
    task = cuda.grid(1)
    N, _, Do, Ho, Wo = g.shape
    if task < N * Do * Ho * Wo:
        _point_grad3(ggrid, g, x, grid, task // (Do * Ho * Wo), (task // (Ho * Wo)) % Do, (task // Wo) % Ho,
                     task % Wo, mode, padding, align)
