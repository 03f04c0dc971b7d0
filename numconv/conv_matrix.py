"""Convolution as a matrix: ``conv(x) = C @ x.ravel()``, and ``C.T`` is the transposed convolution.

For one sample, a convolution is linear in its input: with ``x`` of shape (C_in, *spatial) and the
output of shape (C_out, *out), ``conv_matrix`` builds the (C_out * prod(out)) x (C_in * prod(spatial))
matrix ``C`` with ``conv(x).ravel() == C @ x.ravel()`` (C-order ravel: channel, then rows, then
columns). Row (o, p) holds the weights of output channel o at output position p, each placed at the
input pixel its tap reads; taps that fall in the zero padding are left out, so ``C`` is sparse:
at most ``C_in/groups * prod(kernel)`` non-zeros per row.

The notes' remark that "forward and backward are transposes": ``C.T @ g`` is the gradient of
``sum(g * conv(x))`` with respect to ``x``, which is both the input-gradient kernel
(``conv2d_backward``) and the transposed convolution with the same weight (``conv_transpose2d``,
with ``output_padding`` restoring the input size when the stride does not divide it).
"""
from __future__ import annotations

import numpy as np

from . import shapes

__all__ = ["conv_matrix"]


def _to_array(weight):
    from .nn import Module

    if isinstance(weight, Module):
        raise TypeError(f"weight must be a weight array or Tensor (C_out, C_in/groups, *kernel), got the module "
                        f"{type(weight).__name__}: pass its .weight (and its stride, padding, dilation, groups)")
    data = getattr(weight, "data", weight)
    if hasattr(data, "numpy") and not isinstance(data, np.ndarray):
        data = data.numpy()
    return np.asarray(data)


def conv_matrix(weight, input_shape, stride=1, padding=0, dilation=1, groups=1, sparse=None):
    """The matrix ``C`` of the convolution with ``weight`` on inputs of shape ``input_shape``.

    weight: (C_out, C_in/groups, *kernel) float32 or float64 array or Tensor (1, 2 or 3 spatial dimensions);
    input_shape: (C_in, *spatial) for one sample (a leading batch dimension of 1 is accepted);
    stride, padding (int, tuple, per-side ((lo, hi), ...), 'valid' or 'same'), dilation, groups
    as ``numconv.functional.conv2d``. Returns a ``scipy.sparse.csr_matrix`` when SciPy is
    importable (``sparse=None`` or True), else (or with ``sparse=False``) a dense NumPy array, of shape
    (C_out * prod(out), C_in * prod(spatial)) and the weight's dtype, such that
    ``conv2d(x[None], weight, ...)[0].ravel() == C @ x.ravel()``.
    """
    w = _to_array(weight)
    if w.ndim not in (3, 4, 5):
        raise ValueError(f"weight must have shape (C_out, C_in/groups, *kernel) with 1-3 spatial dimensions, got {w.shape}")
    if w.dtype not in shapes.FLOAT_DTYPES:
        raise TypeError(f"weight must be float32 or float64, got dtype {w.dtype}")
    nd = w.ndim - 2
    input_shape = shapes.sample_shape(input_shape)
    if len(input_shape) == nd + 2 and input_shape[0] == 1:
        input_shape = input_shape[1:]
    if len(input_shape) != nd + 1:
        raise ValueError(f"input_shape must be (C_in, *spatial) with {nd} spatial dimensions for a weight of shape "
                         f"{w.shape}, got {input_shape}")
    spec = shapes.conv_spec((1,) + input_shape, w.shape, nd, stride, padding, dilation, groups)
    c_in, sizes = input_shape[0], input_shape[1:]
    c_out, cpg = w.shape[:2]
    kernel = w.shape[2:]
    out = spec.y_shape[5 - nd:]
    st, lo, dil = spec.stride[3 - nd:], spec.pad_lo[3 - nd:], spec.dilation[3 - nd:]
    g = spec.groups
    opg = c_out // g

    # Per dimension: input coordinate of (output position, tap), and whether it is inside the image.
    grids_o = np.meshgrid(*[np.arange(n) for n in out], indexing="ij")
    grids_t = np.meshgrid(*[np.arange(k) for k in kernel], indexing="ij")
    P, T = int(np.prod(out)), int(np.prod(kernel))
    coords, valid = [], np.ones((P, T), bool)
    for dim in range(nd):
        o = grids_o[dim].reshape(P, 1)
        t = grids_t[dim].reshape(1, T)
        c = o * st[dim] - lo[dim] + t * dil[dim]
        valid &= (c >= 0) & (c < sizes[dim])
        coords.append(c)
    in_flat = np.zeros((P, T), np.int64)
    for dim in range(nd):
        in_flat = in_flat * sizes[dim] + coords[dim]
    p_idx, t_idx = np.nonzero(valid)  # the (position, tap) pairs that read a pixel
    pix = in_flat[p_idx, t_idx]
    n_in_pix = int(np.prod(sizes))

    co = np.arange(c_out)
    ci_local = np.arange(cpg)
    ci = (co // opg)[:, None] * cpg + ci_local[None, :]  # (C_out, cpg): the input channel of each weight slice
    rows = (co[:, None, None] * P + p_idx[None, None, :])  # (C_out, 1, nnz)
    rows = np.broadcast_to(rows, (c_out, cpg, p_idx.size))
    cols = ci[:, :, None] * n_in_pix + pix[None, None, :]
    vals = w.reshape(c_out, cpg, T)[:, :, t_idx]
    shape = (c_out * P, c_in * n_in_pix)

    if sparse is None or sparse:
        try:
            import scipy.sparse as sp
        except ImportError:
            if sparse:
                raise ImportError("conv_matrix(sparse=True) needs SciPy; pass sparse=False for a dense array") from None
        else:
            return sp.csr_matrix((vals.ravel(), (rows.ravel(), cols.ravel())), shape=shape, dtype=w.dtype)
    dense = np.zeros(shape, w.dtype)
    dense[rows.ravel(), cols.ravel()] = vals.ravel()  # each (row, col) pair occurs once
    return dense
