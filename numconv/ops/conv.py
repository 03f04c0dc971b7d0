"""Convolution and transposed convolution over arrays (batched n-d layout, spec from ``shapes``).

The kernels see 5-d views of the arrays (``dispatch.view``); outputs are made in the shape the
caller gets.
"""
from .. import dispatch
from .. import shapes
from ..shapes import ConvSpec


# Winograd spreads a NaN or infinity of its input over whole tiles of outputs (kernels/cpu/
# conv_winograd.py); when a Winograd pass reports values that are not finite, the pass runs again on
# this algorithm, whose sums follow the definition, so the NaN and infinities land where PyTorch's do.
NONFINITE_FALLBACK = "planes"


def _bias(b, dtype, device):
    if b is not None:
        return dispatch.contiguous(b, device), True
    return dispatch.placeholder(dtype, device), False


def _scratch(name, shape, dtype, device):
    """A scratch array of ``shape``, reused across calls (``dispatch.workspace``): a fresh one would
    cost a page fault per 4 KiB on first touch, 40 ms a call for the 28 MB of a 512-channel
    weight gradient here."""
    size = shapes.prod(shape)
    return dispatch.workspace(name, size, dtype, device)[:size].reshape(shape)


def _winograd_workspaces(wg, spec, out_shape, dtype, device):
    """The Winograd kernel's three scratch arrays, reused across calls: V and M (transformed tiles
    and their products), U (transformed weights, or the weight gradient's summed products)."""
    size = wg.workspace_size(spec.w_shape, spec.groups, out_shape[4], spec.dilation[2])
    u = 36 * spec.w_shape[0] * spec.w_shape[1]
    return (dispatch.workspace("winograd_V", size, dtype, device)[:size],  # exactly: the size sets the chunks
            dispatch.workspace("winograd_M", size, dtype, device)[:size],
            dispatch.workspace("winograd_U", u, dtype, device)[:u])


def conv_forward(x, w, b, spec: ConvSpec):
    """y = conv(x, w) + b; ``x`` (N, C, *spatial) -> (N, O, *out)."""
    dev = dispatch.backend(input=x, weight=w, bias=b)
    x = dispatch.view(dispatch.contiguous(x, dev), spec.x_shape, dev)
    w = dispatch.view(dispatch.contiguous(w, dev), spec.w_shape, dev)
    b, has_bias = _bias(b, x.dtype, dev)
    out = dispatch.empty(spec.y_nd, x.dtype, dev)
    y = dispatch.view(out, spec.y_shape, dev)
    algorithm = dispatch.conv_algorithm(spec, dev, "forward")
    if algorithm == "winograd":
        wg = dispatch.kernels("conv_winograd", dev)
        V, M, U = _winograd_workspaces(wg, spec, spec.y_shape, x.dtype, dev)
        if wg.conv_forward_winograd(y, x, w, b, has_bias, spec.pad_lo, spec.dilation, spec.groups, V, M, U) == 0:
            return out
        algorithm = NONFINITE_FALLBACK
    if algorithm == "planes":
        dispatch.kernels("conv_planes", dev).conv_forward_planes(y, x, w, b, has_bias, spec.stride, spec.pad_lo, spec.dilation,
                                                                 spec.groups, _scratch("planes_wp", (w.size,), x.dtype, dev))
    elif algorithm == "gemm":
        gemm = dispatch.kernels("conv_gemm", dev)
        ws = _scratch("gemm_tiles", gemm.forward_workspace(spec, dispatch.threads()), x.dtype, dev)
        gemm.conv_forward_gemm(y, x, w, b, has_bias, spec.stride, spec.pad_lo, spec.dilation, spec.groups, ws)
    else:
        dispatch.kernels("conv", dev).conv_forward(y, x, w, b, has_bias, spec.stride, spec.pad_lo, spec.dilation, spec.groups)
    return out


def conv_input_grad(gy, w, spec: ConvSpec, b=None):
    """dL/dx from dL/dy (the transposed convolution of ``gy``; ``b`` is that op's bias)."""
    dev = dispatch.backend(grad_output=gy, weight=w, bias=b)
    gy = dispatch.view(dispatch.contiguous(gy, dev), spec.y_shape, dev)
    w = dispatch.view(dispatch.contiguous(w, dev), spec.w_shape, dev)
    b, has_bias = _bias(b, gy.dtype, dev)
    out = dispatch.empty(spec.x_nd, gy.dtype, dev)
    gx = dispatch.view(out, spec.x_shape, dev)
    algorithm = dispatch.conv_algorithm(spec, dev, "input_grad")
    if algorithm == "winograd":
        wg = dispatch.kernels("conv_winograd", dev)
        V, M, U = _winograd_workspaces(wg, spec, spec.x_shape, gy.dtype, dev)
        if wg.conv_input_grad_winograd(gx, gy, w, b, has_bias, spec.pad_lo, spec.dilation, spec.groups, V, M, U) == 0:
            return out
        algorithm = NONFINITE_FALLBACK
    if algorithm == "planes":
        dispatch.kernels("conv_planes", dev).conv_input_grad_planes(
            gx, gy, w, b, has_bias, spec.stride, spec.pad_lo, spec.dilation, spec.groups,
            _scratch("planes_wt", (w.size,), gy.dtype, dev), _scratch("planes_wp", (w.size,), gy.dtype, dev))
    elif algorithm == "gemm":
        gemm = dispatch.kernels("conv_gemm", dev)
        ws = _scratch("gemm_tiles", gemm.input_grad_workspace(spec, dispatch.threads()), gy.dtype, dev)
        gemm.conv_input_grad_gemm(gx, gy, w, b, has_bias, spec.stride, spec.pad_lo, spec.dilation, spec.groups, ws)
    else:
        dispatch.kernels("conv", dev).conv_input_grad(gx, gy, w, b, has_bias, spec.stride, spec.pad_lo, spec.dilation, spec.groups)
    return out


def conv_weight_grad(x, gy, spec: ConvSpec):
    """dL/dw = correlation of the input with dL/dy, shaped like the weight."""
    dev = dispatch.backend(input=x, grad_output=gy)
    x = dispatch.view(dispatch.contiguous(x, dev), spec.x_shape, dev)
    gy = dispatch.view(dispatch.contiguous(gy, dev), spec.y_shape, dev)
    out = dispatch.empty(spec.w_shape[:2] + spec.w_shape[5 - spec.nd:], x.dtype, dev)
    gw = dispatch.view(out, spec.w_shape, dev)
    algorithm = dispatch.conv_algorithm(spec, dev, "weight_grad")
    if algorithm == "winograd":
        wg = dispatch.kernels("conv_winograd", dev)
        V, M, U = _winograd_workspaces(wg, spec, spec.y_shape, x.dtype, dev)
        if wg.conv_weight_grad_winograd(gw, x, gy, spec.pad_lo, spec.dilation, spec.groups, V, M, U) == 0:
            return out
        algorithm = NONFINITE_FALLBACK
    if algorithm == "planes":
        planes = dispatch.kernels("conv_planes", dev)
        part = _scratch("weight_grad_parts", (planes.weight_grad_slices(spec), spec.w_shape[0], shapes.prod(spec.w_shape[1:])),
                        x.dtype, dev)
        planes.conv_weight_grad_planes(gw, x, gy, spec.stride, spec.pad_lo, spec.dilation, spec.groups, part)
    elif algorithm == "gemm":
        gemm = dispatch.kernels("conv_gemm", dev)
        ws_shape, part_shape = gemm.weight_grad_workspace(spec, dispatch.threads())
        ws, part = _scratch("gemm_tiles", ws_shape, x.dtype, dev), _scratch("weight_grad_parts", part_shape, x.dtype, dev)
        gemm.conv_weight_grad_gemm(gw, x, gy, spec.stride, spec.pad_lo, spec.dilation, spec.groups, ws, part)
    else:
        dispatch.kernels("conv", dev).conv_weight_grad(gw, x, gy, spec.stride, spec.pad_lo, spec.dilation, spec.groups)
    return out


def conv_bias_grad(gy):
    """dL/db[o] = sum of dL/dy over everything but the channel axis 1."""
    dev = dispatch.backend(grad_output=gy)
    gy = dispatch.contiguous(gy, dev)
    gy = dispatch.view(gy, (gy.shape[0], gy.shape[1], shapes.prod(gy.shape[2:]), 1, 1), dev)  # not -1: N may be 0
    gb = dispatch.empty((gy.shape[1],), gy.dtype, dev)
    dispatch.kernels("conv", dev).conv_bias_grad(gb, gy)
    return gb


def conv_transpose_forward(x, w, b, spec: ConvSpec):
    """The transposed convolution of ``x`` (shape ``spec.y_nd``) is the convolution's input-gradient."""
    return conv_input_grad(x, w, spec, b)


def add_channel_bias(y, b):
    """y + b over the channel axis 1 (a new array)."""
    dev = dispatch.backend(input=y, bias=b)
    out = dispatch.copy(dispatch.contiguous(y, dev), dev)
    dispatch.kernels("conv", dev).add_channel_bias(dispatch.view(out, (y.shape[0], y.shape[1], shapes.prod(y.shape[2:])), dev),
                                                  dispatch.contiguous(b, dev))
    return out
