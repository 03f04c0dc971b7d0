"""A layer's weight re-parameterized before each forward, as ``torch.nn.utils.weight_norm`` and
``torch.nn.utils.spectral_norm`` do it: the module keeps the parameters the weight is made from and a
forward pre-hook sets ``module.weight`` from them, so gradients reach those parameters.

    weight_norm      weight = g * v / ||v||, the norm over every dimension but ``dim`` (Salimans and
                     Kingma 2016): parameters ``weight_g`` and ``weight_v``.
    spectral_norm    weight = weight_orig / sigma, sigma its largest singular value (seen as a matrix
                     with dimension ``dim`` as rows), estimated by power iteration on the buffers
                     ``weight_u`` and ``weight_v``, one step per training forward (Miyato et al. 2018):
                     a GAN discriminator's Lipschitz bound.

The parameter and buffer names, and so the state_dict keys, are PyTorch's.
"""
from __future__ import annotations

from .. import functional as F
from .. import random as _random
from ..autograd import no_grad
from ..ops import math as M
from ..tensor import Tensor
from .parameter import Parameter


def _norm_except_dim(v, dim):
    """The 2-norm of v over every dimension but ``dim``, shaped to broadcast against v (dim None: the
    whole tensor's, a 0-d tensor)."""
    if dim is None:
        return (v * v).sum().sqrt()
    axes = tuple(i for i in range(v.ndim) if i != dim)
    return (v * v).sum(dim=axes, keepdim=True).sqrt() if axes else v.abs()


class _WeightNorm:
    def __init__(self, name, dim):
        self.name, self.dim, self.handle = name, dim, None

    def compute(self, module):
        v = getattr(module, self.name + "_v")
        return v * (getattr(module, self.name + "_g") / _norm_except_dim(v, self.dim))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute(module))


def _weight(module, name, what):
    """The Parameter ``module.<name>`` that ``what`` re-parameterizes."""
    for fn in module.__dict__.get("_weight_norms", ()):
        if fn.name == name:
            raise RuntimeError(f"{what}: {name!r} of {type(module).__name__} is already re-parameterized "
                               f"({type(fn).__name__[1:]})")
    if getattr(module, "has_uninitialized_params", lambda: False)():
        raise ValueError(f"{what}: {type(module).__name__} is a lazy layer not sized yet: call it (or the model) once "
                         "on an input first")
    weight = module._parameters.get(name) if hasattr(module, "_parameters") else None
    if not isinstance(weight, Parameter):
        raise ValueError(f"{what}: {type(module).__name__} has no parameter {name!r}")
    return weight


def _register(module, fn):
    """``fn`` as the module's forward pre-hook, and in its list of re-parameterizations."""
    fn.handle = module.register_forward_pre_hook(fn)
    module.__dict__.setdefault("_weight_norms", []).append(fn)


def _unregister(module, name, kind, what):
    """The ``kind`` re-parameterization of ``name``, taken off the module (its hook removed)."""
    for fn in module.__dict__.get("_weight_norms", []):
        if fn.name == name and isinstance(fn, kind):
            fn.handle.remove()
            module.__dict__["_weight_norms"].remove(fn)
            return fn
    raise ValueError(f"{what} of {name!r} not found in {type(module).__name__}")


def _restore(module, name, weight, parameters, buffers=()):
    """``name`` a Parameter of ``weight``'s values again, in place of the re-parameterization's."""
    for member in (*parameters, *buffers):
        delattr(module, member)
    module.__dict__.pop(name, None)  # the weight the hook set, a plain attribute
    module.register_parameter(name, Parameter(weight.data, True))
    return module


def weight_norm(module, name="weight", dim=0):
    """Re-parameterize ``module.<name>`` as g * v / ||v|| (the norm over every dimension but ``dim``;
    dim None, or -1 as in PyTorch, the whole tensor's), as ``torch.nn.utils.weight_norm``. Returns the
    module, with parameters ``<name>_g`` and ``<name>_v`` in place of ``<name>``."""
    weight = _weight(module, name, "weight_norm")
    if dim is not None and not isinstance(dim, int):
        raise TypeError(f"weight_norm: dim must be an int or None, got {dim!r}")
    if dim is not None and dim != -1:
        if not -weight.ndim <= dim < weight.ndim:
            raise ValueError(f"weight_norm: dim={dim} is out of range for a weight of shape {weight.shape}")
        dim %= weight.ndim
    fn = _WeightNorm(name, None if dim == -1 else dim)
    del module._parameters[name]
    with no_grad():
        g = _norm_except_dim(weight, fn.dim)
    module.register_parameter(name + "_g", Parameter(g.detach().data, weight.requires_grad))
    module.register_parameter(name + "_v", Parameter(weight.data, weight.requires_grad))
    setattr(module, name, fn.compute(module))
    _register(module, fn)
    return module


def remove_weight_norm(module, name="weight"):
    """Undo ``weight_norm``: ``<name>`` a Parameter again, holding the weight g * v / ||v|| gives now."""
    fn = _unregister(module, name, _WeightNorm, "weight_norm")
    with no_grad():
        weight = fn.compute(module)
    return _restore(module, name, weight, (name + "_g", name + "_v"))


class _SpectralNorm:
    def __init__(self, name, n_power_iterations, dim, eps):
        self.name, self.n_power_iterations, self.dim, self.eps, self.handle = name, n_power_iterations, dim, eps, None

    def matrix(self, weight):
        """The weight as a matrix with dimension ``dim`` as its rows."""
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return weight.reshape(weight.shape[0], -1)

    def compute(self, module, power_iteration):
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        mat = self.matrix(weight)
        if power_iteration:
            with no_grad():
                for _ in range(self.n_power_iterations):
                    v.copy_(F.normalize(mat.t().mv(u), dim=0, eps=self.eps))
                    u.copy_(F.normalize(mat.mv(v), dim=0, eps=self.eps))
                u, v = u.clone(), v.clone()  # the values this forward used, kept from the next one's update
        return weight / u.dot(mat.mv(v))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute(module, power_iteration=module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Re-parameterize ``module.<name>`` as itself over its largest singular value (estimated by
    ``n_power_iterations`` power-iteration steps per training forward), as
    ``torch.nn.utils.spectral_norm``. ``dim``: the dimension that is the matrix's rows (default 0, 1 for
    a transposed convolution). Returns the module, with parameter ``<name>_orig`` and buffers
    ``<name>_u``, ``<name>_v`` (started at random unit vectors from ``numconv.random.generator()``)."""
    weight = _weight(module, name, "spectral_norm")
    if not isinstance(n_power_iterations, int) or n_power_iterations < 1:
        raise ValueError(f"spectral_norm: n_power_iterations must be a positive int (as PyTorch's), got "
                         f"{n_power_iterations!r}")
    if dim is None:
        dim = 1 if getattr(module, "_transposed", False) else 0
    if not isinstance(dim, int):
        raise TypeError(f"spectral_norm: dim must be an int or None, got {dim!r}")
    if not -weight.ndim <= dim < max(weight.ndim, 1):
        raise ValueError(f"spectral_norm: dim={dim} is out of range for a weight of shape {weight.shape}")
    fn = _SpectralNorm(name, n_power_iterations, dim % max(weight.ndim, 1), float(eps))
    with no_grad():
        mat = fn.matrix(weight)
        h, w = mat.shape
        gen = _random.generator()
        u = F.normalize(Tensor(M.standard_normal(gen, (h,), weight.dtype, like=weight.data)), dim=0, eps=fn.eps)
        v = F.normalize(Tensor(M.standard_normal(gen, (w,), weight.dtype, like=weight.data)), dim=0, eps=fn.eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    setattr(module, name, Tensor(weight.data))
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    _register(module, fn)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo ``spectral_norm``: ``<name>`` a Parameter again, holding weight_orig / sigma as the stored
    u and v give it now."""
    fn = _unregister(module, name, _SpectralNorm, "spectral_norm")
    with no_grad():
        weight = fn.compute(module, power_iteration=False)
    return _restore(module, name, weight, (name + "_orig",), (name + "_u", name + "_v"))
