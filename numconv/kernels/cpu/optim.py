"""Optimizer updates, CPU: one fused elementwise pass over flat (P,) arrays, updated in place.

Each kernel is the per-element body of PyTorch's for-loop optimizer (torch/optim/sgd.py, adam.py,
rmsprop.py, adagrad.py, adamax.py, nadam.py, radam.py, adadelta.py, rprop.py, asgd.py): the same operations in the same
order, in the arrays' dtype. Scalars derived from the
hyperparameters (bias corrections, ``1 - beta``) are computed in float64 first, as Python does in
PyTorch, then cast once. Buffers an option does not use are (0,) arrays and are never read.
Each kernel has a ``*_serial`` twin (the same loop without threads) for arrays too small to pay
for a parallel launch; ``numconv.ops.optim`` picks by size. No fastmath: every build of a kernel
rounds the same way, so a resumed run continues bit for bit.
"""
import math
import types

from numba import njit, prange

from .. import scalar
from . import exact_kernel, exact_serial

lerp = njit(inline="always")(scalar.lerp)
maximum = njit(inline="always")(scalar.maximum)
sign = njit(inline="always")(scalar.sign)
rprop_element = njit(inline="always")(scalar.with_primitives(scalar.rprop_element, sign=sign))
adam_moments = njit(inline="always")(scalar.with_primitives(scalar.adam_moments, lerp=lerp))


@exact_kernel
def sgd_step(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov, first_step):
    """d = g + wd p;  b = d (first step) or m b + (1 - dampening) d;  d = d + m b (nesterov) or b;  p -= lr d."""
    t = param.dtype.type
    lr_, m, keep, wd = t(lr), t(momentum), t(1.0 - dampening), t(weight_decay)
    for i in prange(param.size):
        p = param[i]
        d = grad[i]
        if weight_decay != 0.0:
            d = d + wd * p
        if momentum != 0.0:
            b = d if first_step else buf[i] * m + keep * d
            buf[i] = b
            d = d + m * b if nesterov else b
        param[i] = p - lr_ * d


@exact_kernel
def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
              decoupled, amsgrad, step):
    """m = lerp(m, g, 1-b1);  v = b2 v + (1-b2) g^2;  p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).

    Weight decay adds ``wd p`` to ``g`` (Adam) or scales ``p`` by ``1 - lr wd`` first (AdamW,
    ``decoupled``); ``amsgrad`` normalizes by the running maximum of ``v``. ``step`` counts from 1.
    """
    t = param.dtype.type
    s = float(step)
    neg_step_size = t(-(lr / (1.0 - beta1 ** s)))
    bc2_sqrt = t((1.0 - beta2 ** s) ** 0.5)
    w1, b2, w2 = t(1.0 - beta1), t(beta2), t(1.0 - beta2)
    c1 = t(1.0) - w1
    wd, decay, eps_ = t(weight_decay), t(1.0 - lr * weight_decay), t(eps)
    use_decay = weight_decay != 0.0
    for i in prange(param.size):
        p, g, m, v = adam_moments(param[i], grad[i], exp_avg[i], exp_avg_sq[i], w1, c1, b2, w2, wd, decay,
                                  use_decay, decoupled)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        if amsgrad:
            v = maximum(max_exp_avg_sq[i], v)  # NaN sticks, as in torch.maximum
            max_exp_avg_sq[i] = v
        param[i] = p + neg_step_size * (m / (math.sqrt(v) / bc2_sqrt + eps_))


@exact_kernel
def rmsprop_step(param, grad, square_avg, momentum_buf, grad_avg, lr, alpha, eps, weight_decay, momentum,
                 centered):
    """v = a v + (1-a) g^2;  s = sqrt(v - gbar^2) (centered, gbar = lerp(gbar, g, 1-a)) or sqrt(v);
    b = m b + g / (s + eps), p -= lr b  (momentum > 0)  or  p -= lr g / (s + eps)."""
    t = param.dtype.type
    lr_, a, w, eps_, wd, m = t(lr), t(alpha), t(1.0 - alpha), t(eps), t(weight_decay), t(momentum)
    c = t(1.0) - w
    for i in prange(param.size):
        p = param[i]
        g = grad[i]
        if weight_decay != 0.0:
            g = g + wd * p
        v = square_avg[i] * a + w * g * g
        square_avg[i] = v
        if centered:
            gbar = lerp(grad_avg[i], g, w, c)
            grad_avg[i] = gbar
            v = v - gbar * gbar
        avg = math.sqrt(v) + eps_
        if momentum > 0.0:
            b = momentum_buf[i] * m + g / avg
            momentum_buf[i] = b
            param[i] = p - lr_ * b
        else:
            param[i] = p - lr_ * (g / avg)


@exact_kernel
def adagrad_step(param, grad, state_sum, lr, weight_decay, lr_decay, eps, step):
    """g = g + wd p;  s = s + g^2;  p -= clr g / (sqrt(s) + eps), clr = lr / (1 + (t - 1) lr_decay), t from 1."""
    t = param.dtype.type
    neg_clr, wd, eps_ = t(-(lr / (1.0 + (float(step) - 1.0) * lr_decay))), t(weight_decay), t(eps)
    for i in prange(param.size):
        p = param[i]
        g = grad[i]
        if weight_decay != 0.0:
            g = g + wd * p
        s = state_sum[i] + g * g
        state_sum[i] = s
        param[i] = p + neg_clr * (g / (math.sqrt(s) + eps_))


@exact_kernel
def adamax_step(param, grad, exp_avg, exp_inf, lr, beta1, beta2, eps, weight_decay, step):
    """g = g + wd p;  m = lerp(m, g, 1-b1);  u = max(b2 u, |g| + eps);  p -= lr/(1-b1^t) * m / u, t from 1."""
    t = param.dtype.type
    neg_clr = t(-(lr / (1.0 - beta1 ** float(step))))
    w1, b2, wd, eps_ = t(1.0 - beta1), t(beta2), t(weight_decay), t(eps)
    c1 = t(1.0) - w1
    for i in prange(param.size):
        p = param[i]
        g = grad[i]
        if weight_decay != 0.0:
            g = g + wd * p
        m = lerp(exp_avg[i], g, w1, c1)
        u = maximum(exp_inf[i] * b2, abs(g) + eps_)  # NaN sticks, as in torch.maximum
        exp_avg[i] = m
        exp_inf[i] = u
        param[i] = p + neg_clr * (m / u)


@exact_kernel
def nadam_step(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay, momentum_decay, decoupled,
               mu_product, step):
    """m = lerp(m, g, 1-b1);  v = b2 v + (1-b2) g^2;  d = sqrt(v / (1-b2^t)) + eps;
    p -= lr (1-mu_t) / (1-prod_t) * g / d;  p -= lr mu_{t+1} / (1-prod_t mu_{t+1}) * m / d.

    mu_t = b1 (1 - 0.96^(t md) / 2) and ``mu_product`` is prod_t = mu_1 ... mu_t (this step's
    included). Weight decay adds ``wd p`` to ``g`` or (``decoupled``) scales ``p`` by ``1 - lr wd``.
    """
    t = param.dtype.type
    s = float(step)
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (s * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((s + 1.0) * momentum_decay)))
    c_grad = t(-lr * (1.0 - mu) / (1.0 - mu_product))
    c_avg = t((-lr * mu_next) / (1.0 - mu_product * mu_next))
    bc2 = t(1.0 - beta2 ** s)
    w1, b2, w2 = t(1.0 - beta1), t(beta2), t(1.0 - beta2)
    c1 = t(1.0) - w1
    wd, decay, eps_ = t(weight_decay), t(1.0 - lr * weight_decay), t(eps)
    use_decay = weight_decay != 0.0
    for i in prange(param.size):
        p, g, m, v = adam_moments(param[i], grad[i], exp_avg[i], exp_avg_sq[i], w1, c1, b2, w2, wd, decay,
                                  use_decay, decoupled)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        d = math.sqrt(v / bc2) + eps_
        p = p + c_grad * (g / d)
        param[i] = p + c_avg * (m / d)


@exact_kernel
def radam_step(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay, decoupled, step):
    """m = lerp(m, g, 1-b1);  v = b2 v + (1-b2) g^2;  mh = m / (1-b1^t);
    p -= mh lr (1 / (sqrt(v) + eps)) sqrt(1-b2^t) r_t  where rho_t > 5, else p -= mh lr.

    rho_t = rho_inf - 2 t b2^t / (1-b2^t), rho_inf = 2 / (1-b2) - 1, and the rectification
    r_t = sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t)): which branch depends on
    the step only. Weight decay as in ``nadam_step``.
    """
    t = param.dtype.type
    s = float(step)
    bc1 = 1.0 - beta1 ** s
    bc2 = 1.0 - beta2 ** s
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2.0 * s * (beta2 ** s) / bc2
    rectified = rho_t > 5.0
    rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)) ** 0.5 \
        if rectified else 1.0
    bc1_, lr_, bc2_sqrt, rect_ = t(bc1), t(lr), t(bc2 ** 0.5), t(rect)
    w1, b2, w2 = t(1.0 - beta1), t(beta2), t(1.0 - beta2)
    c1, one = t(1.0) - w1, t(1.0)
    wd, decay, eps_ = t(weight_decay), t(1.0 - lr * weight_decay), t(eps)
    use_decay = weight_decay != 0.0
    for i in prange(param.size):
        p, g, m, v = adam_moments(param[i], grad[i], exp_avg[i], exp_avg_sq[i], w1, c1, b2, w2, wd, decay,
                                  use_decay, decoupled)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        mh = m / bc1_
        if rectified:  # torch's scalar / tensor is the reciprocal times the scalar
            param[i] = p - mh * lr_ * (one / (math.sqrt(v) + eps_) * bc2_sqrt) * rect_
        else:
            param[i] = p - mh * lr_


@exact_kernel
def adadelta_step(param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay):
    """v = rho v + (1-rho) g^2;  d = sqrt(a + eps) / sqrt(v + eps) * g;  a = rho a + (1-rho) d^2;  p -= lr d."""
    t = param.dtype.type
    lr_, r, w, eps_, wd = t(lr), t(rho), t(1.0 - rho), t(eps), t(weight_decay)
    for i in prange(param.size):
        p = param[i]
        g = grad[i]
        if weight_decay != 0.0:
            g = g + wd * p
        v = square_avg[i] * r + w * g * g
        square_avg[i] = v
        d = math.sqrt(acc_delta[i] + eps_) / math.sqrt(v + eps_) * g
        acc_delta[i] = acc_delta[i] * r + w * d * d
        param[i] = p - lr_ * d


@exact_kernel
def rprop_step(param, grad, prev, step_size, etaminus, etaplus, step_size_min, step_size_max):
    """s = sign(g prev): the step size times etaplus (s > 0), etaminus (s < 0; g is then taken as 0) or
    1 (s = 0, NaN included), clamped to [min, max];  p -= sign(g) * step size;  prev = g."""
    t = param.dtype.type
    down, up, lo, hi, one, zero = t(etaminus), t(etaplus), t(step_size_min), t(step_size_max), t(1.0), t(0.0)
    for i in prange(param.size):
        param[i], step_size[i], prev[i] = rprop_element(param[i], grad[i], prev[i], step_size[i], down, up, lo, hi,
                                                        one, zero)


@exact_kernel
def asgd_step(param, grad, ax, eta, lambd, mu, weight_decay):
    """g = g + wd p;  p = p (1 - lambd eta) - eta g;  ax = ax + (p - ax) mu, or ax = p while mu is 1."""
    t = param.dtype.type
    decay, neg_eta, mu_, wd = t(1.0 - lambd * eta), t(-eta), t(mu), t(weight_decay)
    for i in prange(param.size):
        p = param[i]
        g = grad[i]
        if weight_decay != 0.0:
            g = g + wd * p
        p = p * decay
        p = p + neg_eta * g
        param[i] = p
        if mu != 1.0:
            ax[i] = ax[i] + (p - ax[i]) * mu_
        else:
            ax[i] = p


def _serial_twin(parallel):
    """The same Python loop compiled by ``serial``, under its own name (so its cache entry is its own)."""
    fn = parallel.py_func
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__, fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + "_serial"
    twin.__doc__ = fn.__doc__
    return exact_serial(twin)


sgd_step_serial = _serial_twin(sgd_step)
adam_step_serial = _serial_twin(adam_step)
rmsprop_step_serial = _serial_twin(rmsprop_step)
adagrad_step_serial = _serial_twin(adagrad_step)
adamax_step_serial = _serial_twin(adamax_step)
nadam_step_serial = _serial_twin(nadam_step)
radam_step_serial = _serial_twin(radam_step)
adadelta_step_serial = _serial_twin(adadelta_step)
rprop_step_serial = _serial_twin(rprop_step)
asgd_step_serial = _serial_twin(asgd_step)
