"""``numconv.Tensor``: an array with a gradient and the graph that produced it."""
from __future__ import annotations

import numpy as np

from . import autograd, dispatch

_DEFAULT_DTYPE = np.float32


class Tensor:
    """``Tensor(data, requires_grad=False)``: wraps a NumPy (or CUDA) array.

    Python floats and lists become float32 arrays; float64 arrays stay float64.
    """

    __array_priority__ = 1000  # so ndarray <op> Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad=False):
        if isinstance(data, Tensor):
            data = data.data
        if dispatch.device_of(data) == dispatch.CPU:
            arr = np.asarray(data)
            if arr.dtype.kind in "biu" and requires_grad:
                raise TypeError(f"only floating-point tensors can require gradients, got dtype {arr.dtype}")
            if arr.dtype.kind == "f" and arr.dtype not in (np.float32, np.float64):
                arr = arr.astype(_DEFAULT_DTYPE)
            if not isinstance(data, np.ndarray) and arr.dtype == np.float64:
                arr = arr.astype(_DEFAULT_DTYPE)
            data = arr
        self.data = data
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._node = None
        self._index = 0

    # ---- metadata
    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return len(self.data.shape)

    @property
    def size(self):
        return int(np.prod(self.data.shape))

    @property
    def device(self):
        return dispatch.device_of(self.data)

    @property
    def is_leaf(self):
        return self._node is None

    def __len__(self):
        return self.data.shape[0]

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({np.asarray(self.numpy())!r}{grad})"

    # ---- conversion
    def numpy(self):
        if self.device == dispatch.CPU:
            return self.data
        return self.data.copy_to_host()

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def item(self):
        return self.numpy().item()

    def detach(self):
        return Tensor(self.data)

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    def zero_(self):
        self.data[...] = 0
        return self

    # ---- autograd
    def backward(self, grad=None, retain_graph=False):
        autograd.backward(self, grad, retain_graph)

    def _accumulate_grad(self, g):
        if self.grad is None:
            self.grad = Tensor(g.copy() if dispatch.device_of(g) == dispatch.CPU else g)
        else:
            self.grad = Tensor(autograd.ops.math.add(self.grad.data, g))
