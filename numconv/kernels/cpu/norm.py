"""Batch normalization, CPU: one pass per channel for the statistics and one for the output.

``x`` is viewed as (N, C, S), S the product of the spatial sizes; a task per channel. The sums run
in float64 (m = N*S values per channel, 32768 for a CIFAR batch), the mean first and then the
centred squares, as the textbook two-pass variance.
"""
import numpy as np
from numba import prange

from . import kernel


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
        scale = invstd[c] * (weight[c] if has_weight else 1.0)
        shift = x.dtype.type((bias[c] if has_bias else 0.0) - mean[c] * scale)
        scale = x.dtype.type(scale)
        for n in range(N):
            xr, yr = x[n, c], y[n, c]
            for i in range(S):
                yr[i] = xr[i] * scale + shift


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
            k = x.dtype.type(r * (weight[c] if has_weight else 1.0))
            a = x.dtype.type(sg / m if training else 0.0)
            bcoef = x.dtype.type(sgx / m * r if training else 0.0)  # (x - mu) * bcoef = xhat * sum g*xhat / m
            mu = x.dtype.type(mu)
            for n in range(N):
                gr, xr, out = g[n, c], x[n, c], gx[n, c]
                for i in range(S):
                    out[i] = k * (gr[i] - a - (xr[i] - mu) * bcoef)
