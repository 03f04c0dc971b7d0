"""Batch normalization, CPU: one pass per channel for the statistics and one for the output; and
layer and group normalization, with their affine maps, in one pass each way.

``x`` is viewed as (N, C, S), S the product of the spatial sizes; a task per channel. The sums run
in float64 (m = N*S values per channel, 32768 for a CIFAR batch), the mean first and then the
centred squares, as the textbook two-pass variance. The output and the input gradient are worked
out in float64 too, ``x - mean`` first, and rounded once: with float32 arithmetic, ``x*scale +
shift`` cancels two large terms when a channel's mean is far from zero next to its spread (mean
1e4, spread 0.01: errors of 5e-2 against 1e-7; PyTorch 2.13 loses as much). On these
memory-bound passes the conversions cost nothing measurable (ResNet-18's 64-channel 32x32 layer,
batch 32: forward 0.22-0.34 ms and forward+backward 1.7-1.8 ms either way).

Layer normalization over the last D values of each row of ``x`` (R, D), with weight and bias (D,)
per column (ConvNeXt's layer norm over the channels of an NHWC tensor), is a task per row forward;
group normalization over groups of ``x`` (N, G, Cg, S), weight and bias per channel, a task per
group. The two are one computation (a layer norm is a group norm with a row a group and a
channel per value), written twice: as one kernel, the loops over a row of channels of one value
each stopped vectorizing (0.3 -> 0.8 ms on the NHWC layer norm of docs/performance.md). Their
backward passes take the rows or groups in ``plane_parts`` parts, each adding its weight and bias
gradients into a float64 row of partial sums, which a serial pass then adds in part order: a
result independent of the thread count.
"""
import numpy as np
from numba import prange

from . import kernel, part_range, plane_parts, serial


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


@kernel
def layer_norm_forward(y, mean, invstd, x, weight, bias, has_weight, has_bias, eps):
    """Per row r of x (R, D): mean[r] = sum x / D and invstd[r] = 1 / sqrt(var + eps), var the
    biased variance; then y = (x - mean[r]) * invstd[r] * weight + bias, weight and bias (D,) per
    column. mean, invstd (R,) float64."""
    R, D = x.shape
    for r in prange(R):
        xr, yr = x[r], y[r]
        s = 0.0
        for j in range(D):
            s += xr[j]
        mu = s / D
        s2 = 0.0
        for j in range(D):
            d = xr[j] - mu
            s2 += d * d
        rs = 1.0 / np.sqrt(s2 / D + eps)
        mean[r] = mu
        invstd[r] = rs
        for j in range(D):  # in float64: x - mean before the scaling (see the module docstring)
            v = (np.float64(xr[j]) - mu) * rs
            if has_weight:
                v *= weight[j]
            if has_bias:
                v += bias[j]
            yr[j] = v


def layer_norm_backward(gx, gw, gb, g, x, mean, invstd, weight, has_weight, need_x):
    """With xhat = (x - mean[r]) * invstd[r] and gh = g * weight per row r of x (R, D): gw = sum over
    the rows of g * xhat, gb = sum of g (D,), and, when ``need_x``, gx = invstd[r] * (gh - mean(gh)
    - xhat * mean(gh * xhat)), the means over the row (the gradient through its statistics)."""
    R, D = x.shape
    part = np.empty((plane_parts(R), 2, D), np.float64)
    _layer_norm_backward_parts(gx, part, g, x, mean, invstd, weight, has_weight, need_x)
    _sum_parts(gw, gb, part)


@kernel
def _layer_norm_backward_parts(gx, part, g, x, mean, invstd, weight, has_weight, need_x):
    """gx row by row, and part[p] = (sum g * xhat, sum g) over part p's rows."""
    R, D = x.shape
    parts = part.shape[0]
    for p in prange(parts):
        lo, hi = part_range(p, parts, R)
        pw, pb = part[p, 0], part[p, 1]
        for j in range(D):
            pw[j] = 0.0
            pb[j] = 0.0
        for r in range(lo, hi):
            mu, rs = mean[r], invstd[r]
            gr, xr = g[r], x[r]
            a = 0.0
            b = 0.0
            for j in range(D):
                gv = np.float64(gr[j])
                xh = (np.float64(xr[j]) - mu) * rs
                pw[j] += gv * xh
                pb[j] += gv
                gh = gv * weight[j] if has_weight else gv
                a += gh
                b += gh * xh
            if need_x:
                a /= D
                b /= D
                out = gx[r]
                for j in range(D):
                    gv = np.float64(gr[j])
                    gh = gv * weight[j] if has_weight else gv
                    out[j] = rs * (gh - a - (np.float64(xr[j]) - mu) * rs * b)


@serial
def _sum_parts(gw, gb, part):
    """gw, gb = the parts' sums, added in part order."""
    for j in range(gw.size):
        sw = 0.0
        sb = 0.0
        for p in range(part.shape[0]):
            sw += part[p, 0, j]
            sb += part[p, 1, j]
        gw[j] = sw
        gb[j] = sb


@kernel
def group_norm_forward(y, mean, invstd, x, weight, bias, has_weight, has_bias, eps):
    """Per group (n, g) of x (N, G, Cg, S): mean[n*G + g] and invstd = 1 / sqrt(var + eps) over its
    Cg*S values (var the biased variance); then y = (x - mean) * invstd * weight[c] + bias[c], c =
    g*Cg + k the channel of the group's k-th. mean, invstd (N*G,) float64."""
    N, G, Cg, S = x.shape
    m = Cg * S
    for r in prange(N * G):
        n = r // G
        g = r - n * G
        xb, yb = x[n, g], y[n, g]
        s = 0.0
        for k in range(Cg):
            for i in range(S):
                s += xb[k, i]
        mu = s / m
        s2 = 0.0
        for k in range(Cg):
            for i in range(S):
                d = xb[k, i] - mu
                s2 += d * d
        rs = 1.0 / np.sqrt(s2 / m + eps)
        mean[r] = mu
        invstd[r] = rs
        for k in range(Cg):  # in float64: x - mean before the scaling (see the module docstring)
            scale = rs * (weight[g * Cg + k] if has_weight else 1.0)
            shift = bias[g * Cg + k] if has_bias else 0.0
            for i in range(S):
                yb[k, i] = (np.float64(xb[k, i]) - mu) * scale + shift


def group_norm_backward(gx, gw, gb, g, x, mean, invstd, weight, has_weight, need_x):
    """With xhat = (x - mean) * invstd per group of x (N, G, Cg, S) and gh = g * weight[c]: gw[c] =
    sum of g * xhat over the channel's values in every sample, gb[c] = sum of g, and, when
    ``need_x``, gx = invstd * (gh - mean(gh) - xhat * mean(gh * xhat)), the means over the group
    (the gradient through its statistics)."""
    N, G, Cg, S = x.shape
    part = np.empty((plane_parts(N * G), 2, G * Cg), np.float64)
    _group_norm_backward_parts(gx, part, g, x, mean, invstd, weight, has_weight, need_x)
    _sum_parts(gw, gb, part)


@kernel
def _group_norm_backward_parts(gx, part, g, x, mean, invstd, weight, has_weight, need_x):
    """gx group by group, and part[p] = (sum g * xhat, sum g) per channel over part p's groups."""
    N, G, Cg, S = x.shape
    m = Cg * S
    parts = part.shape[0]
    for p in prange(parts):
        lo, hi = part_range(p, parts, N * G)
        pw, pb = part[p, 0], part[p, 1]
        for c in range(G * Cg):
            pw[c] = 0.0
            pb[c] = 0.0
        for r in range(lo, hi):
            n = r // G
            grp = r - n * G
            mu, rs = mean[r], invstd[r]
            gg, xb = g[n, grp], x[n, grp]
            a = 0.0  # sum gh over the group
            b = 0.0  # sum gh * xhat
            for k in range(Cg):
                sw = 0.0
                sb = 0.0
                for i in range(S):
                    gv = np.float64(gg[k, i])
                    sw += gv * ((np.float64(xb[k, i]) - mu) * rs)
                    sb += gv
                pw[grp * Cg + k] += sw
                pb[grp * Cg + k] += sb
                w = weight[grp * Cg + k] if has_weight else 1.0
                a += w * sb
                b += w * sw
            if need_x:
                a /= m
                b /= m
                out = gx[n, grp]
                for k in range(Cg):
                    w = weight[grp * Cg + k] if has_weight else 1.0
                    for i in range(S):
                        out[k, i] = rs * (np.float64(gg[k, i]) * w - a - (np.float64(xb[k, i]) - mu) * rs * b)
