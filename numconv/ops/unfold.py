"""im2col (unfold) and col2im (fold) over arrays; each is the other's adjoint."""
from .. import dispatch


def unfold_forward(x5, kernel3, stride3, pad3, dil3, out3):
    """``x5`` (N, C, D, H, W) -> cols (N, C, KD, KH, KW, OD, OH, OW)."""
    dev = dispatch.backend(input=x5)
    x5 = dispatch.contiguous(x5, dev)
    cols = dispatch.empty(tuple(x5.shape[:2]) + tuple(kernel3) + tuple(out3), x5.dtype, dev)
    dispatch.kernels("unfold", dev).unfold_forward(cols, x5, stride3, pad3, dil3)
    return cols


def fold_forward(cols8, x_shape5, stride3, pad3, dil3):
    """cols (N, C, KD, KH, KW, OD, OH, OW) -> x (N, C, D, H, W), summing overlaps."""
    dev = dispatch.backend(input=cols8)
    cols8 = dispatch.contiguous(cols8, dev)
    x = dispatch.empty(tuple(x_shape5), cols8.dtype, dev)
    dispatch.kernels("unfold", dev).fold_forward(x, cols8, stride3, pad3, dil3)
    return x
