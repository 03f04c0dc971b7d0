"""grid_sample, CPU: the forward and the grid's gradient a task per run of output rows (each point's
channels in turn), the input's gradient a task per (sample, slice of channels) walking every output
point in order, so that each task alone writes what it writes (no atomics; the same bits on any
thread count). A point's taps are found once for all the channels a task takes. Points are
``numconv.kernels.grid_sample``'s helpers, the CUDA kernels' own, inlined into the task functions
(``task``: compiled apart from the parallel loop that calls them, in a third less time). Tasks
take whole rows, so no point pays for integer divisions (64-bit ones cost about as much as a
bilinear sample).
"""
import numpy as np
from numba import njit, prange

from . import FASTMATH, inline, kernel, part_range, plane_parts, task
from .. import grid_sample as G


# called, not inlined: inlined into every task, unnormalize's float32 roundings took the twelve kernels'
# compile from 65 to 78 s; called, it takes 58 s
_H = G.compiled(inline, njit(fastmath=FASTMATH), ("unnormalize", "reflect", "bounded", "cubic", "cubic_grad"),
                fmod=inline(lambda a, b: np.fmod(a, b)))
_sample_point, _spread_point, _point_grad = _H["sample_point"], _H["spread_point"], _H["point_grad"]


@inline
def _channel_slices(N, C):
    """How many slices the image gradient cuts each sample's C channels into: as few as keep the
    threads busy (``plane_parts`` tasks in all), as each slice finds a point's taps once; N * C > 0."""
    return min(C, max(1, plane_parts(N * C) // N))


@task
def _sample_rows(out, x, grid, lo, hi, mode, padding, align):
    """Rows [lo, hi) of out's (n, h) rows, each point's channels."""
    Ho, Wo = out.shape[2], out.shape[3]
    for row in range(lo, hi):
        n, h = row // Ho, row % Ho
        for w in range(Wo):
            _sample_point(out, x, grid, n, h, w, mode, padding, align)


@task
def _spread_sample(gx, g, grid, n, c0, c1, mode, padding, align):
    """Every output point of sample n sends channels [c0, c1) of its gradient to its taps."""
    for h in range(g.shape[2]):
        for w in range(g.shape[3]):
            _spread_point(gx, g, grid, n, h, w, c0, c1, mode, padding, align)


@task
def _grad_rows(ggrid, g, x, grid, lo, hi, mode, padding, align):
    """The grid's gradient on rows [lo, hi) of the (n, h) rows."""
    Ho, Wo = g.shape[2], g.shape[3]
    for row in range(lo, hi):
        n, h = row // Ho, row % Ho
        for w in range(Wo):
            _point_grad(ggrid, g, x, grid, n, h, w, mode, padding, align)


@kernel
def grid_sample_forward(out, x, grid, mode, padding, align):
    """out (N, C, Ho, Wo) = x (N, C, H, W) sampled at grid (N, Ho, Wo, 2), each point's (x, y) in
    [-1, 1]; mode and padding are ``kernels.grid_sample``'s codes, align whether -1 and 1 are the
    corner pixels' centres."""
    rows = out.shape[0] * out.shape[2]
    parts = plane_parts(rows)
    for part in prange(parts):
        lo, hi = part_range(part, parts, rows)
        _sample_rows(out, x, grid, lo, hi, mode, padding, align)


@kernel
def grid_sample_input_grad(gx, g, grid, mode, padding, align):
    """gx (N, C, H, W), zeros on entry, += what each output point's gradient g (N, C, Ho, Wo) sends
    to the pixels it sampled. A task takes a slice of one sample's channels (``_channel_slices``)."""
    N, C = g.shape[0], g.shape[1]
    if N * C == 0:
        return
    slices = _channel_slices(N, C)
    for t in prange(N * slices):
        c0, c1 = part_range(t % slices, slices, C)
        _spread_sample(gx, g, grid, t // slices, c0, c1, mode, padding, align)


@kernel
def grid_sample_grid_grad(ggrid, g, x, grid, mode, padding, align):
    """ggrid (N, Ho, Wo, 2): each point's gradient, the sum over channels of g times the sample's
    derivative along x and y, times the coordinate's own (0 where the padding clipped it)."""
    rows = g.shape[0] * g.shape[2]
    parts = plane_parts(rows)
    for part in prange(parts):
        lo, hi = part_range(part, parts, rows)
        _grad_rows(ggrid, g, x, grid, lo, hi, mode, padding, align)


_sample_point3, _spread_point3, _point_grad3 = _H["sample_point3"], _H["spread_point3"], _H["point_grad3"]


@task
def _sample_rows3(out, x, grid, lo, hi, mode, padding, align):
    """Rows [lo, hi) of out's (n, d, h) rows."""
    Do, Ho, Wo = out.shape[2], out.shape[3], out.shape[4]
    for row in range(lo, hi):
        n, d, h = row // (Do * Ho), (row // Ho) % Do, row % Ho
        for w in range(Wo):
            _sample_point3(out, x, grid, n, d, h, w, mode, padding, align)


@task
def _spread_sample3(gx, g, grid, n, c0, c1, mode, padding, align):
    """Every output point of sample n sends channels [c0, c1) of its gradient to its voxels."""
    for d in range(g.shape[2]):
        for h in range(g.shape[3]):
            for w in range(g.shape[4]):
                _spread_point3(gx, g, grid, n, d, h, w, c0, c1, mode, padding, align)


@task
def _grad_rows3(ggrid, g, x, grid, lo, hi, mode, padding, align):
    """The grid's gradient on rows [lo, hi) of the (n, d, h) rows."""
    Do, Ho, Wo = g.shape[2], g.shape[3], g.shape[4]
    for row in range(lo, hi):
        n, d, h = row // (Do * Ho), (row // Ho) % Do, row % Ho
        for w in range(Wo):
            _point_grad3(ggrid, g, x, grid, n, d, h, w, mode, padding, align)


@kernel
def grid_sample3d_forward(out, x, grid, mode, padding, align):
    """out (N, C, Do, Ho, Wo) = the volume x (N, C, D, H, W) sampled at grid (N, Do, Ho, Wo, 3)."""
    rows = out.shape[0] * out.shape[2] * out.shape[3]
    parts = plane_parts(rows)
    for part in prange(parts):
        lo, hi = part_range(part, parts, rows)
        _sample_rows3(out, x, grid, lo, hi, mode, padding, align)


@kernel
def grid_sample3d_input_grad(gx, g, grid, mode, padding, align):
    """gx (N, C, D, H, W), zeros on entry, += what each output point's gradient sends to its voxels; a
    task per (sample, slice of channels), as ``grid_sample_input_grad``."""
    N, C = g.shape[0], g.shape[1]
    if N * C == 0:
        return
    slices = _channel_slices(N, C)
    for t in prange(N * slices):
        c0, c1 = part_range(t % slices, slices, C)
        _spread_sample3(gx, g, grid, t // slices, c0, c1, mode, padding, align)


@kernel
def grid_sample3d_grid_grad(ggrid, g, x, grid, mode, padding, align):
    """ggrid (N, Do, Ho, Wo, 3): each point's gradient along x, y and z."""
    rows = g.shape[0] * g.shape[2] * g.shape[3]
    parts = plane_parts(rows)
    for part in prange(parts):
        lo, hi = part_range(part, parts, rows)
        _grad_rows3(ggrid, g, x, grid, lo, hi, mode, padding, align)
