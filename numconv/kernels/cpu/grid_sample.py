"""grid_sample, CPU: the forward and the grid's gradient a task per output point (its channels in
turn), the input's gradient a task per (sample, channel) plane walking every output point in order,
so that each task alone writes what it writes (no atomics; the same bits on any thread count). Each
task is ``numconv.kernels.grid_sample``'s, the CUDA kernels' own, inlined.
"""
import numpy as np
from numba import njit, prange

from . import FASTMATH, inline, kernel
from .. import grid_sample as G


_H = G.compiled(inline, njit(fastmath=FASTMATH), ("reflect", "bounded", "cubic", "cubic_grad"),
                fmod=inline(lambda a, b: np.fmod(a, b)))
_sample_point, _spread_plane, _point_grad = _H["sample_point"], _H["spread_plane"], _H["point_grad"]


@kernel
def grid_sample_forward(out, x, grid, mode, padding, align):
    """out (N, C, Ho, Wo) = x (N, C, H, W) sampled at grid (N, Ho, Wo, 2), each point's (x, y) in
    [-1, 1]; mode and padding are ``kernels.grid_sample``'s codes, align whether -1 and 1 are the
    corner pixels' centres."""
    N, _, Ho, Wo = out.shape
    for task in prange(N * Ho * Wo):
        _sample_point(out, x, grid, task // (Ho * Wo), (task // Wo) % Ho, task % Wo, mode, padding, align)


@kernel
def grid_sample_input_grad(gx, g, grid, mode, padding, align):
    """gx (N, C, H, W), zeros on entry, += what each output point's gradient g (N, C, Ho, Wo) sends
    to the pixels it sampled."""
    N, C = g.shape[0], g.shape[1]
    for plane in prange(N * C):
        _spread_plane(gx, g, grid, plane // C, plane % C, mode, padding, align)


@kernel
def grid_sample_grid_grad(ggrid, g, x, grid, mode, padding, align):
    """ggrid (N, Ho, Wo, 2): each point's gradient, the sum over channels of g times the sample's
    derivative along x and y, times the coordinate's own (0 where the padding clipped it)."""
    N, _, Ho, Wo = g.shape
    for task in prange(N * Ho * Wo):
        _point_grad(ggrid, g, x, grid, task // (Ho * Wo), (task // Wo) % Ho, task % Wo, mode, padding, align)


_sample_point3, _spread_plane3, _point_grad3 = _H["sample_point3"], _H["spread_plane3"], _H["point_grad3"]


@kernel
def grid_sample3d_forward(out, x, grid, mode, padding, align):
    """out (N, C, Do, Ho, Wo) = the volume x (N, C, D, H, W) sampled at grid (N, Do, Ho, Wo, 3)."""
    N, _, Do, Ho, Wo = out.shape
    for task in prange(N * Do * Ho * Wo):
        n, d, h, w = task // (Do * Ho * Wo), (task // (Ho * Wo)) % Do, (task // Wo) % Ho, task % Wo
        _sample_point3(out, x, grid, n, d, h, w, mode, padding, align)


@kernel
def grid_sample3d_input_grad(gx, g, grid, mode, padding, align):
    """gx (N, C, D, H, W), zeros on entry, += what each output point's gradient sends to its voxels."""
    N, C = g.shape[0], g.shape[1]
    for plane in prange(N * C):
        _spread_plane3(gx, g, grid, plane // C, plane % C, mode, padding, align)


@kernel
def grid_sample3d_grid_grad(ggrid, g, x, grid, mode, padding, align):
    """ggrid (N, Do, Ho, Wo, 3): each point's gradient along x, y and z."""
    N, _, Do, Ho, Wo = g.shape
    for task in prange(N * Do * Ho * Wo):
        n, d, h, w = task // (Do * Ho * Wo), (task // (Ho * Wo)) % Do, (task // Wo) % Ho, task % Wo
        _point_grad3(ggrid, g, x, grid, n, d, h, w, mode, padding, align)
