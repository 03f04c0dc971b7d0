"""grid_sample over arrays: the forward and the two gradients, on the arrays' device, each one kernel
of ``kernels/{cpu,cuda}/grid_sample.py`` (its ``grid_sample3d_*`` for a volume, x (N, C, D, H, W)). ``mode`` ('bilinear', 'nearest', 'bicubic') and ``padding``
('zeros', 'border', 'reflection') by name, checked by ``shapes.grid_sample_params``; ``align``
align_corners."""
from .. import dispatch
from . import math as M


def _device(**arrays):
    dev = dispatch.backend(**arrays)
    return dev, [dispatch.contiguous(a, dev) for a in arrays.values()]


def _codes(mode, padding, align):
    return dispatch.GRID_SAMPLE_MODES[mode], dispatch.GRID_SAMPLE_PADDINGS[padding], bool(align)


def _kernel(dev, name, x_ndim):
    k = dispatch.kernels("grid_sample", dev)
    return getattr(k, f"grid_sample3d_{name}" if x_ndim == 5 else f"grid_sample_{name}")


def forward(x, grid, mode, padding, align):
    """x (N, C, H, W) sampled at grid (N, Ho, Wo, 2): (N, C, Ho, Wo) of x's dtype; or a volume
    (N, C, D, H, W) at (N, Do, Ho, Wo, 3): (N, C, Do, Ho, Wo)."""
    dev, (x, grid) = _device(input=x, grid=grid)
    out = dispatch.empty((x.shape[0], x.shape[1], *grid.shape[1:-1]), x.dtype, dev)
    _kernel(dev, "forward", len(x.shape))(out, x, grid, *_codes(mode, padding, align))
    return out


def input_grad(g, x_shape, grid, mode, padding, align):
    """The gradient (x_shape, g's dtype) the output gradient g sends into x."""
    dev, (g, grid) = _device(grad_output=g, grid=grid)
    gx = M.zeros(tuple(x_shape), g.dtype, like=g)
    _kernel(dev, "input_grad", len(x_shape))(gx, g, grid, *_codes(mode, padding, align))
    return gx


def grid_grad(g, x, grid, mode, padding, align):
    """The gradient (grid's shape and dtype) of the output with respect to the grid, for g."""
    dev, (g, x, grid) = _device(grad_output=g, input=x, grid=grid)
    gg = dispatch.empty(tuple(grid.shape), grid.dtype, dev)
    _kernel(dev, "grid_grad", len(x.shape))(gg, g, x, grid, *_codes(mode, padding, align))
    return gg
