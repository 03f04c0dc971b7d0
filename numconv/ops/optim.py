"""Optimizer updates over arrays: check, flatten, run one fused kernel that updates in place.

``param`` and the state buffers are updated in place; ``grad`` is only read. A buffer an option
does not use may be ``None``. State buffers are made here (``zeros_like``) so they live on the
parameter's device; ``to_host`` / ``from_host`` move them for ``state_dict``.
"""
import numpy as np

from .. import dispatch
from . import math

PARALLEL_MIN_SIZE = 1 << 15
"""Parameters with fewer elements are updated by a backend's ``*_serial`` kernel, where it has one."""


def full_like(a, value):
    """A state buffer of ``value`` with ``a``'s shape and dtype, on ``a``'s device (filled there: no host copy)."""
    if dispatch.device_of(a) == dispatch.CUDA:
        return math.full(tuple(a.shape), value, a.dtype, like=a)
    return dispatch.to_device(np.full(a.shape, value, dtype=a.dtype), dispatch.device_of(a))


def zeros_like(a):
    """A zero state buffer with ``a``'s shape and dtype, on ``a``'s device."""
    return full_like(a, 0)


def negative(a):
    """-a, on ``a``'s device (``maximize=True`` steps on the negated gradient)."""
    return math.negative(a)


def to_host(a):
    """A NumPy copy of a state buffer (for ``state_dict``)."""
    if dispatch.device_of(a) == dispatch.CPU:
        return np.array(a, copy=True)
    return a.copy_to_host()


def from_host(array, like, name="state"):
    """``array`` as a buffer shaped and typed like ``like``, on ``like``'s device (``load_state_dict``)."""
    array = np.asarray(array)
    if tuple(array.shape) != tuple(like.shape):
        raise ValueError(f"{name} has shape {tuple(array.shape)} but its parameter has shape {tuple(like.shape)}")
    return dispatch.to_device(np.array(array, dtype=like.dtype, copy=True), dispatch.device_of(like))


def _run(name, param, grad, buffers, needed, scalars):
    """Check dtypes and shapes, then ``kernel(param, grad, *buffers, *scalars)`` over flat views."""
    for what in needed:
        if buffers[what] is None:
            raise ValueError(f"{name} needs a {what} buffer with these options, got None")
    buffers = {k: (v if k in needed else None) for k, v in buffers.items()}
    dev = dispatch.backend(param=param, grad=grad, **{k: v for k, v in buffers.items() if v is not None})
    if param.dtype.kind != "f":
        raise TypeError(f"optimizers update floating-point parameters, got param dtype {param.dtype}")
    for what, a in (("param", param),) + tuple(buffers.items()):
        if dev == dispatch.CPU and a is not None and not a.flags.writeable:
            raise ValueError(f"{what} is read-only (an array from np.load(mmap_mode='r') or a broadcast, say) and "
                             "the optimizer updates it in place; give the Parameter a writable copy")
    for what, a in (("grad", grad),) + tuple(buffers.items()):
        if a is None:
            continue
        if a.dtype != param.dtype:
            raise TypeError(f"{what} dtype {a.dtype} does not match param dtype {param.dtype}")
        if tuple(a.shape) != tuple(param.shape):
            raise ValueError(f"{what} shape {tuple(a.shape)} does not match param shape {tuple(param.shape)}")
        if what != "grad" and dev == dispatch.CPU and not a.flags.c_contiguous:
            raise ValueError(f"{what} must be C-contiguous (it is updated in place)")
    flat = dispatch.contiguous(param, dev)  # a parameter that is not contiguous is updated on a copy
    copied = flat is not param
    unused = dispatch.placeholder(param.dtype, dev, (0,))  # kept: an empty CUDA array costs Numba's whole allocation path
    g = dispatch.view(dispatch.contiguous(grad, dev), (-1,), dev)
    bufs = [unused if b is None else dispatch.view(b, (-1,), dev) for b in buffers.values()]
    kernels = dispatch.kernels("optim", dev)
    if param.size < PARALLEL_MIN_SIZE and hasattr(kernels, name + "_serial"):
        name += "_serial"  # the same loop without threads: a parallel launch costs more than it saves
    getattr(kernels, name)(dispatch.view(flat, (-1,), dev), g, *bufs, *scalars)
    if copied:
        param[...] = flat.reshape(param.shape)


def sgd_step(param, grad, momentum_buffer, lr, momentum, dampening, weight_decay, nesterov, first_step):
    """One SGD update of ``param`` (and ``momentum_buffer`` when ``momentum != 0``), as torch.optim.SGD.

    ``first_step`` copies the (decayed) gradient into the buffer instead of averaging into it.
    """
    _run("sgd_step", param, grad, {"momentum_buffer": momentum_buffer}, ["momentum_buffer"] if momentum != 0 else [],
         (float(lr), float(momentum), float(dampening), float(weight_decay), bool(nesterov), bool(first_step)))


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
              decoupled, amsgrad, step):
    """One Adam (``decoupled=False``) or AdamW (``decoupled=True``) update; ``step`` counts from 1.

    ``max_exp_avg_sq`` is read and written only with ``amsgrad``.
    """
    _run("adam_step", param, grad,
         {"exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq, "max_exp_avg_sq": max_exp_avg_sq},
         ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if amsgrad else []),
         (float(lr), float(beta1), float(beta2), float(eps), float(weight_decay), bool(decoupled), bool(amsgrad),
          int(step)))


def rmsprop_step(param, grad, square_avg, momentum_buffer, grad_avg, lr, alpha, eps, weight_decay, momentum,
                 centered):
    """One RMSprop update; ``momentum_buffer`` is used when ``momentum > 0``, ``grad_avg`` when ``centered``."""
    _run("rmsprop_step", param, grad,
         {"square_avg": square_avg, "momentum_buffer": momentum_buffer, "grad_avg": grad_avg},
         ["square_avg"] + (["momentum_buffer"] if momentum > 0 else []) + (["grad_avg"] if centered else []),
         (float(lr), float(alpha), float(eps), float(weight_decay), float(momentum), bool(centered)))


def adagrad_step(param, grad, state_sum, lr, weight_decay, lr_decay, eps, step):
    """One Adagrad update of ``param`` and ``state_sum`` (the running sum of squared gradients); ``step`` from 1."""
    _run("adagrad_step", param, grad, {"state_sum": state_sum}, ["state_sum"],
         (float(lr), float(weight_decay), float(lr_decay), float(eps), int(step)))


def adamax_step(param, grad, exp_avg, exp_inf, lr, beta1, beta2, eps, weight_decay, step):
    """One Adamax update of ``param``, ``exp_avg`` and ``exp_inf`` (the decayed infinity norm); ``step`` from 1."""
    _run("adamax_step", param, grad, {"exp_avg": exp_avg, "exp_inf": exp_inf}, ["exp_avg", "exp_inf"],
         (float(lr), float(beta1), float(beta2), float(eps), float(weight_decay), int(step)))


def nadam_mu_product(mu_product, beta1, momentum_decay, step):
    """``mu_product * mu_t``, mu_t = beta1 (1 - 0.96^(t momentum_decay) / 2), rounded as PyTorch's, which
    keeps the product in a float32 0-d tensor (its default scalar dtype): both factors float32 first."""
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (float(step) * momentum_decay)))
    return float(np.float32(mu_product) * np.float32(mu))


def nadam_step(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay, momentum_decay, decoupled,
               mu_product, step):
    """One NAdam update (``decoupled``: decoupled weight decay); ``mu_product`` is the momentum product
    through this step (``nadam_mu_product``), ``step`` counts from 1."""
    _run("nadam_step", param, grad, {"exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}, ["exp_avg", "exp_avg_sq"],
         (float(lr), float(beta1), float(beta2), float(eps), float(weight_decay), float(momentum_decay),
          bool(decoupled), float(mu_product), int(step)))


def radam_step(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay, decoupled, step):
    """One RAdam update (``decoupled``: decoupled weight decay); ``step`` counts from 1."""
    _run("radam_step", param, grad, {"exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}, ["exp_avg", "exp_avg_sq"],
         (float(lr), float(beta1), float(beta2), float(eps), float(weight_decay), bool(decoupled), int(step)))


def adadelta_step(param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay):
    """One Adadelta update of ``param``, ``square_avg`` and ``acc_delta`` (the running mean of squared steps)."""
    _run("adadelta_step", param, grad, {"square_avg": square_avg, "acc_delta": acc_delta},
         ["square_avg", "acc_delta"], (float(lr), float(rho), float(eps), float(weight_decay)))


def rprop_step(param, grad, prev, step_size, etaminus, etaplus, step_size_min, step_size_max):
    """One Rprop update of ``param``, ``prev`` (the last gradient used) and ``step_size`` (each element's)."""
    _run("rprop_step", param, grad, {"prev": prev, "step_size": step_size}, ["prev", "step_size"],
         (float(etaminus), float(etaplus), float(step_size_min), float(step_size_max)))


def asgd_step(param, grad, ax, eta, lambd, mu, weight_decay):
    """One ASGD update of ``param`` and ``ax`` (the average), with this step's rate ``eta`` and averaging
    weight ``mu`` (both as PyTorch keeps them, float32-rounded)."""
    _run("asgd_step", param, grad, {"ax": ax}, ["ax"], (float(eta), float(lambd), float(mu), float(weight_decay)))
