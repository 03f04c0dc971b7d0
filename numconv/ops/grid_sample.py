"""grid_sample over arrays: the forward and the two gradients, on the arrays' device, each one kernel
of ``kernels/{cpu,cuda}/grid_sample.py``. ``mode`` ('bilinear', 'nearest', 'bicubic') and ``padding``
('zeros', 'border', 'reflection') by name, checked by ``shapes.grid_sample_params``; ``align``
align_corners."""
from .. import dispatch
from . import math as M


def _device(**arrays):
    dev = dispatch.backend(**arrays)
    return dev, [dispatch.contiguous(a, dev) for a in arrays.values()]


def _codes(mode, padding, align):
    return dispatch.GRID_SAMPLE_MODES[mode], dispatch.GRID_SAMPLE_PADDINGS[padding], bool(align)


def forward(x, grid, mode, padding, align):
    """x (N, C, H, W) sampled at grid (N, Ho, Wo, 2): (N, C, Ho, Wo) of x's dtype."""
    dev, (x, grid) = _device(input=x, grid=grid)
    out = dispatch.empty((x.shape[0], x.shape[1], grid.shape[1], grid.shape[2]), x.dtype, dev)
    dispatch.kernels("grid_sample", dev).grid_sample_forward(out, x, grid, *_codes(mode, padding, align))
    return out


def input_grad(g, x_shape, grid, mode, padding, align):
    """The gradient (x_shape, g's dtype) the output gradient g sends into x."""
    dev, (g, grid) = _device(grad_output=g, grid=grid)
    gx = M.zeros(tuple(x_shape), g.dtype, like=g)
    dispatch.kernels("grid_sample", dev).grid_sample_input_grad(gx, g, grid, *_codes(mode, padding, align))
    return gx


def grid_grad(g, x, grid, mode, padding, align):
    """The gradient (grid's shape and dtype) of the output with respect to the grid, for g."""
    dev, (g, x, grid) = _device(grad_output=g, input=x, grid=grid)
    gg = dispatch.empty(tuple(grid.shape), grid.dtype, dev)
    dispatch.kernels("grid_sample", dev).grid_sample_grid_grad(gg, g, x, grid, *_codes(mode, padding, align))
    return gg
