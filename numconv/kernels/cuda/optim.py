"""Optimizer updates, CUDA: one thread per element of flat (P,) arrays, updated in place.

The launchers have the names and signatures of ``numconv.kernels.cpu.optim`` and the kernels the
same per-element body, in the same order, in the arrays' dtype. The scalars derived from the
hyperparameters (bias corrections, ``1 - beta``) are computed in float64 on the host, as the CPU
kernels do before their loop, and cast once to the parameter's dtype. Buffers an option does not
use are (0,) arrays and are never read.
"""
from numba import cuda

from .. import scalar
from . import jit, launch
from .elementwise import _sqrt  # NaN for v < 0, as on a GPU (the simulator's math.sqrt raises)

lerp = cuda.jit(device=True)(scalar.lerp)
maximum = cuda.jit(device=True)(scalar.maximum)
sign = cuda.jit(device=True)(scalar.sign)
rprop_element = cuda.jit(device=True)(scalar.with_primitives(scalar.rprop_element, sign=sign))
adam_moments = cuda.jit(device=True)(scalar.with_primitives(scalar.adam_moments, lerp=lerp))


def _t(param):
    return param.dtype.type


def sgd_step(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov, first_step):
    """d = g + wd p;  b = d (first step) or m b + (1 - dampening) d;  d = d + m b (nesterov) or b;  p -= lr d."""
    t = _t(param)
    launch(_sgd, param.size, param, grad, buf, t(lr), t(momentum), t(1.0 - dampening), t(weight_decay),
           momentum != 0.0, weight_decay != 0.0, bool(nesterov), bool(first_step))


@jit
def _sgd(param, grad, buf, lr, m, keep, wd, use_momentum, use_decay, nesterov, first_step):
    i = cuda.grid(1)
    if i < param.size:
        p = param[i]
        d = grad[i]
        if use_decay:
            d = d + wd * p
        if use_momentum:
            b = d if first_step else buf[i] * m + keep * d
            buf[i] = b
            d = d + m * b if nesterov else b
        param[i] = p - lr * d


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
              decoupled, amsgrad, step):
    """m = lerp(m, g, 1-b1);  v = b2 v + (1-b2) g^2;  p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).

    Weight decay adds ``wd p`` to ``g`` (Adam) or scales ``p`` by ``1 - lr wd`` first (AdamW,
    ``decoupled``); ``amsgrad`` normalizes by the running maximum of ``v``. ``step`` counts from 1.
    """
    t = _t(param)
    s = float(step)
    neg_step_size = t(-(lr / (1.0 - beta1 ** s)))
    bc2_sqrt = t((1.0 - beta2 ** s) ** 0.5)
    w1 = t(1.0 - beta1)
    c1 = t(t(1.0) - w1)
    launch(_adam, param.size, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, neg_step_size, bc2_sqrt, w1, c1,
           t(beta2), t(1.0 - beta2), t(eps), t(weight_decay), t(1.0 - lr * weight_decay), weight_decay != 0.0,
           bool(decoupled), bool(amsgrad))


@jit
def _adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, neg_step_size, bc2_sqrt, w1, c1, b2, w2, eps, wd,
          decay, use_decay, decoupled, amsgrad):
    i = cuda.grid(1)
    if i < param.size:
        p, g, m, v = adam_moments(param[i], grad[i], exp_avg[i], exp_avg_sq[i], w1, c1, b2, w2, wd, decay,
                                  use_decay, decoupled)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        if amsgrad:
            v = maximum(max_exp_avg_sq[i], v)  # NaN sticks, as in torch.maximum
            max_exp_avg_sq[i] = v
        param[i] = p + neg_step_size * (m / (_sqrt(v) / bc2_sqrt + eps))


def rmsprop_step(param, grad, square_avg, momentum_buf, grad_avg, lr, alpha, eps, weight_decay, momentum,
                 centered):
    """v = a v + (1-a) g^2;  s = sqrt(v - gbar^2) (centered, gbar = lerp(gbar, g, 1-a)) or sqrt(v);
    b = m b + g / (s + eps), p -= lr b  (momentum > 0)  or  p -= lr g / (s + eps)."""
    t = _t(param)
    w = t(1.0 - alpha)
    launch(_rmsprop, param.size, param, grad, square_avg, momentum_buf, grad_avg, t(lr), t(alpha), w, t(t(1.0) - w),
           t(eps), t(weight_decay), t(momentum), weight_decay != 0.0, momentum > 0.0, bool(centered))


@jit
def _rmsprop(param, grad, square_avg, momentum_buf, grad_avg, lr, a, w, c, eps, wd, m, use_decay, use_momentum,
             centered):
    i = cuda.grid(1)
    if i < param.size:
        p = param[i]
        g = grad[i]
        if use_decay:
            g = g + wd * p
        v = square_avg[i] * a + w * g * g
        square_avg[i] = v
        if centered:
            gbar = lerp(grad_avg[i], g, w, c)
            grad_avg[i] = gbar
            v = v - gbar * gbar
        avg = _sqrt(v) + eps
        if use_momentum:
            b = momentum_buf[i] * m + g / avg
            momentum_buf[i] = b
            param[i] = p - lr * b
        else:
            param[i] = p - lr * (g / avg)


def adagrad_step(param, grad, state_sum, lr, weight_decay, lr_decay, eps, step):
    """g = g + wd p;  s = s + g^2;  p -= clr g / (sqrt(s) + eps), clr = lr / (1 + (t - 1) lr_decay), t from 1."""
    t = _t(param)
    launch(_adagrad, param.size, param, grad, state_sum, t(-(lr / (1.0 + (float(step) - 1.0) * lr_decay))),
           t(weight_decay), t(eps), weight_decay != 0.0)


@jit
def _adagrad(param, grad, state_sum, neg_clr, wd, eps, use_decay):
    i = cuda.grid(1)
    if i < param.size:
        p = param[i]
        g = grad[i]
        if use_decay:
            g = g + wd * p
        s = state_sum[i] + g * g
        state_sum[i] = s
        param[i] = p + neg_clr * (g / (_sqrt(s) + eps))


def adamax_step(param, grad, exp_avg, exp_inf, lr, beta1, beta2, eps, weight_decay, step):
    """g = g + wd p;  m = lerp(m, g, 1-b1);  u = max(b2 u, |g| + eps);  p -= lr/(1-b1^t) * m / u, t from 1."""
    t = _t(param)
    w1 = t(1.0 - beta1)
    launch(_adamax, param.size, param, grad, exp_avg, exp_inf, t(-(lr / (1.0 - beta1 ** float(step)))), w1,
           t(t(1.0) - w1), t(beta2), t(eps), t(weight_decay), weight_decay != 0.0)


@jit
def _adamax(param, grad, exp_avg, exp_inf, neg_clr, w1, c1, b2, eps, wd, use_decay):
    i = cuda.grid(1)
    if i < param.size:
        p = param[i]
        g = grad[i]
        if use_decay:
            g = g + wd * p
        m = lerp(exp_avg[i], g, w1, c1)
        u = maximum(exp_inf[i] * b2, abs(g) + eps)  # NaN sticks, as in torch.maximum
        exp_avg[i] = m
        exp_inf[i] = u
        param[i] = p + neg_clr * (m / u)


def nadam_step(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay, momentum_decay, decoupled,
               mu_product, step):
    """m = lerp(m, g, 1-b1);  v = b2 v + (1-b2) g^2;  d = sqrt(v / (1-b2^t)) + eps;
    p -= lr (1-mu_t) / (1-prod_t) * g / d;  p -= lr mu_{t+1} / (1-prod_t mu_{t+1}) * m / d.

    mu_t = b1 (1 - 0.96^(t md) / 2) and ``mu_product`` is prod_t = mu_1 ... mu_t (this step's
    included). Weight decay adds ``wd p`` to ``g`` or (``decoupled``) scales ``p`` by ``1 - lr wd``.
    """
    t = _t(param)
    s = float(step)
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (s * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((s + 1.0) * momentum_decay)))
    w1 = t(1.0 - beta1)
    launch(_nadam, param.size, param, grad, exp_avg, exp_avg_sq, t(-lr * (1.0 - mu) / (1.0 - mu_product)),
           t((-lr * mu_next) / (1.0 - mu_product * mu_next)), t(1.0 - beta2 ** s), w1, t(t(1.0) - w1), t(beta2),
           t(1.0 - beta2), t(eps), t(weight_decay), t(1.0 - lr * weight_decay), weight_decay != 0.0, bool(decoupled))


@jit
def _nadam(param, grad, exp_avg, exp_avg_sq, c_grad, c_avg, bc2, w1, c1, b2, w2, eps, wd, decay, use_decay,
           decoupled):
    i = cuda.grid(1)
    if i < param.size:
        p, g, m, v = adam_moments(param[i], grad[i], exp_avg[i], exp_avg_sq[i], w1, c1, b2, w2, wd, decay,
                                  use_decay, decoupled)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        d = _sqrt(v / bc2) + eps
        p = p + c_grad * (g / d)
        param[i] = p + c_avg * (m / d)


def radam_step(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay, decoupled, step):
    """m = lerp(m, g, 1-b1);  v = b2 v + (1-b2) g^2;  mh = m / (1-b1^t);
    p -= mh lr (1 / (sqrt(v) + eps)) sqrt(1-b2^t) r_t  where rho_t > 5, else p -= mh lr.

    rho_t = rho_inf - 2 t b2^t / (1-b2^t), rho_inf = 2 / (1-b2) - 1, and the rectification
    r_t = sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t)): which branch depends on
    the step only. Weight decay as in ``nadam_step``.
    """
    t = _t(param)
    s = float(step)
    bc2 = 1.0 - beta2 ** s
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2.0 * s * (beta2 ** s) / bc2
    rectified = rho_t > 5.0
    rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)) ** 0.5 \
        if rectified else 1.0
    w1 = t(1.0 - beta1)
    launch(_radam, param.size, param, grad, exp_avg, exp_avg_sq, t(1.0 - beta1 ** s), t(lr), t(bc2 ** 0.5), t(rect),
           t(1.0), w1, t(t(1.0) - w1), t(beta2), t(1.0 - beta2), t(eps), t(weight_decay), t(1.0 - lr * weight_decay),
           weight_decay != 0.0, bool(decoupled), rectified)


@jit
def _radam(param, grad, exp_avg, exp_avg_sq, bc1, lr, bc2_sqrt, rect, one, w1, c1, b2, w2, eps, wd, decay, use_decay,
           decoupled, rectified):
    i = cuda.grid(1)
    if i < param.size:
        p, g, m, v = adam_moments(param[i], grad[i], exp_avg[i], exp_avg_sq[i], w1, c1, b2, w2, wd, decay,
                                  use_decay, decoupled)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        mh = m / bc1
        if rectified:  # torch's scalar / tensor is the reciprocal times the scalar
            param[i] = p - mh * lr * (one / (_sqrt(v) + eps) * bc2_sqrt) * rect
        else:
            param[i] = p - mh * lr


def adadelta_step(param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay):
    """v = rho v + (1-rho) g^2;  d = sqrt(a + eps) / sqrt(v + eps) * g;  a = rho a + (1-rho) d^2;  p -= lr d."""
    t = _t(param)
    launch(_adadelta, param.size, param, grad, square_avg, acc_delta, t(lr), t(rho), t(1.0 - rho), t(eps),
           t(weight_decay), weight_decay != 0.0)


@jit
def _adadelta(param, grad, square_avg, acc_delta, lr, r, w, eps, wd, use_decay):
    i = cuda.grid(1)
    if i < param.size:
        p = param[i]
        g = grad[i]
        if use_decay:
            g = g + wd * p
        v = square_avg[i] * r + w * g * g
        square_avg[i] = v
        d = _sqrt(acc_delta[i] + eps) / _sqrt(v + eps) * g
        acc_delta[i] = acc_delta[i] * r + w * d * d
        param[i] = p - lr * d


def rprop_step(param, grad, prev, step_size, etaminus, etaplus, step_size_min, step_size_max):
    """s = sign(g prev): the step size times etaplus (s > 0), etaminus (s < 0; g is then taken as 0) or
    1 (s = 0, NaN included), clamped to [min, max];  p -= sign(g) * step size;  prev = g."""
    t = _t(param)
    launch(_rprop, param.size, param, grad, prev, step_size, t(etaminus), t(etaplus), t(step_size_min),
           t(step_size_max), t(1.0), t(0.0))


@jit
def _rprop(param, grad, prev, step_size, down, up, lo, hi, one, zero):
    i = cuda.grid(1)
    if i < param.size:
        param[i], step_size[i], prev[i] = rprop_element(param[i], grad[i], prev[i], step_size[i], down, up, lo, hi,
                                                        one, zero)


def asgd_step(param, grad, ax, eta, lambd, mu, weight_decay):
    """g = g + wd p;  p = p (1 - lambd eta) - eta g;  ax = ax + (p - ax) mu, or ax = p while mu is 1."""
    t = _t(param)
    launch(_asgd, param.size, param, grad, ax, t(1.0 - lambd * eta), t(-eta), t(mu), t(weight_decay),
           weight_decay != 0.0, mu != 1.0)


@jit
def _asgd(param, grad, ax, decay, neg_eta, mu, wd, use_decay, averaging):
    i = cuda.grid(1)
    if i < param.size:
        p = param[i]
        g = grad[i]
        if use_decay:
            g = g + wd * p
        p = p * decay
        p = p + neg_eta * g
        param[i] = p
        if averaging:
            ax[i] = ax[i] + (p - ax[i]) * mu
        else:
            ax[i] = p
