"""Gradient clipping and flat parameter vectors, as ``torch.nn.utils``: ``clip_grad_norm_``,
``get_total_norm``, ``clip_grads_with_norm_``, ``clip_grad_value_``, ``parameters_to_vector`` and
``vector_to_parameters``.

    loss.backward()
    nc.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)   # scale all gradients together
    opt.step()

Norms are taken in float64 on the gradients' device (no copy to the host), so a float32 gradient
of 1e20 has norm 1e20 where a float32 sum of squares would overflow to inf (PyTorch's does, and
then scales every gradient to 0). The result has the gradients' dtype.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import shapes
from ..autograd import no_grad
from ..ops import math as M
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "parameters_to_vector",
           "vector_to_parameters"]


def _tensors(parameters, what="parameters"):
    """A Tensor, or an iterable of them (a generator too), as a list."""
    items = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{what}[{i}] must be a Tensor, got {type(t).__name__}")
    return items


def _norm_type(norm_type):
    if isinstance(norm_type, str) and norm_type in ("inf", "-inf"):
        return float(norm_type)
    if isinstance(norm_type, (bool, np.bool_)) or not isinstance(norm_type, numbers.Real) or math.isnan(norm_type):
        raise TypeError(f"norm_type must be a number (2.0, 1, inf, ...), got {norm_type!r}")
    return float(norm_type)


def _vector_norm(a, p):
    """The p-norm of array ``a``'s elements as a 0-d float64 array on its device (p = 0 counts non-zeros)."""
    x = M.abs(M.astype(a, np.float64))
    if p == math.inf or p == -math.inf:
        if a.size == 0:
            raise ValueError(f"the {p} norm of an empty gradient is not defined (there is no largest or smallest "
                             "element)")
        return M.max(x) if p > 0 else M.min(x)
    if p == 0:
        return M.sum(M.astype(M.compare("ne", x, 0.0), np.float64))
    if p == 1:
        return M.sum(x)
    if p == 2:
        return M.sqrt(M.sum(M.multiply(x, x)))
    return M.power(M.sum(M.power(x, p)), 1.0 / p)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The p-norm of all of ``tensors``' elements together (the norm of their norms), a 0-d Tensor of
    their (promoted) dtype; 0 for no tensors. ``error_if_nonfinite``: a NaN or infinite norm raises
    RuntimeError (this reads the norm on the host). ``foreach`` is accepted and ignored."""
    p = _norm_type(norm_type)
    arrays = [t.data for t in _tensors(tensors, "tensors")]
    if not arrays:
        return Tensor(np.zeros((), np.float32))
    M.same_device(**{f"tensors[{i}]": a for i, a in enumerate(arrays)})
    dtype = np.result_type(*[a.dtype for a in arrays])
    norms = M.stack([_vector_norm(a, p) for a in arrays], 0)
    total = _vector_norm(norms, p)
    if error_if_nonfinite and not math.isfinite(float(M.to_host(total))):
        raise RuntimeError(f"the total norm of order {norm_type} of the gradients is non-finite, so it cannot be "
                           "clipped; to scale the gradients by it anyway pass error_if_nonfinite=False")
    return Tensor(M.astype(total, dtype))


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale every gradient of ``parameters`` by min(1, max_norm / (total_norm + 1e-6)), in place."""
    max_norm = shapes.real(max_norm, "max_norm")
    grads = [p.grad for p in _tensors(parameters) if p.grad is not None]
    if not grads:
        return
    if isinstance(total_norm, Tensor):  # stays on the gradients' device: no copy to the host
        coef = M.minimum(M.divide(max_norm, M.add(M.astype(total_norm.data, np.float64), 1e-6)), 1.0)
    else:
        coef = min(max_norm / (shapes.real(total_norm, "total_norm", 0.0) + 1e-6), 1.0)
    with no_grad():
        for g in grads:
            g.mul_(Tensor(M.astype(coef, g.dtype)) if isinstance(total_norm, Tensor) else coef)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients of ``parameters`` together, in place, so that their total ``norm_type``-norm
    is at most ``max_norm`` (times max_norm / (norm + 1e-6) when larger, as PyTorch); parameters
    without a gradient are skipped. Returns the total norm before clipping (a 0-d Tensor)."""
    parameters = _tensors(parameters)
    max_norm = shapes.real(max_norm, "max_norm")
    grads = [p.grad for p in parameters if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clip every gradient of ``parameters`` to [-clip_value, clip_value], in place."""
    v = shapes.real(clip_value, "clip_value", 0.0)
    with no_grad():
        for p in _tensors(parameters):
            if p.grad is not None:
                p.grad.clamp_(-v, v)


def parameters_to_vector(parameters):
    """The parameters' values in one flat Tensor (differentiable), in order."""
    from .. import cat

    items = _tensors(parameters)
    if not items:
        raise ValueError("parameters_to_vector needs at least one parameter")
    return cat([p.reshape(-1) for p in items])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the flat ``vec`` into ``parameters`` (in place; ``vec`` must hold
    exactly as many values as they do). PyTorch makes each parameter a view of ``vec``; numconv copies."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vec must be a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vec must be one-dimensional, got shape {vec.shape}")
    items = _tensors(parameters)
    need = sum(p.numel() for p in items)
    if vec.numel() != need:
        raise ValueError(f"vec has {vec.numel()} values but the parameters hold {need}")
    start = 0
    with no_grad():
        for p in items:
            p.copy_(vec[start:start + p.numel()].reshape(p.shape))
            start += p.numel()
