"""Batch and layer normalization, CUDA: the twin of ``numconv.kernels.cpu.norm``, launcher for
launcher, with its float64 arithmetic.

``x`` is (N, C, S), S the product of the spatial sizes. A channel's sums run over its m = N*S
values in row-major (n, s) order, cut into ``parts`` runs of about BN_CHUNK values each, so that
a channel spreads over several blocks (64 channels alone would fill 64 of an H100's 132
multiprocessors). Block (part, channel) sums its run in float64, thread t taking values t,
t + BN_THREADS, ..., then a tree over the threads in shared memory. A second kernel, a thread per
channel, combines the parts in their order. For the statistics each part gives its mean and its
centred sum of squares (two passes over the run, as the CPU kernel's two passes over the
channel), and the parts combine by Chan, Golub and LeVeque's pairwise update: the variance is never
a sum of squares minus a squared sum. The output and the input gradient are a thread per value,
(s, c) from the block and thread indices and n striding over the grid's z, worked out in float64
from ``x - mean`` and rounded once. Every order is fixed: the same bits on every run, no atomics.

Group normalization over groups of ``x`` (N, G, Cg, S), weight and bias per channel (and a layer
norm, the view (rows, 1, D, 1); the functional layers take this path for groups of at most
``ops.norm.GROUP_NORM_ROW`` values): a group is a row of Cg*S values in memory. A thread per row
for its statistics (and, backward, its two means), a thread per value for the output and the
input gradient, and, for the weight and bias gradients, a thread per (channel, part of the
samples) whose partial sums a thread per channel adds in part order.
"""
import math

import numpy as np
from numba import cuda, float64

from . import device_empty, jit, launch, launch_grid, tree_sum, view

BN_THREADS = 256  # threads of a summing block (a power of two, at most BN_SHARED); the simulator runs use fewer
BN_SHARED = 256  # the summing blocks' shared-memory slots per sum
BN_CHUNK = 8192  # values per part of a channel (the last part takes the rest)
BN_PARTS = 64  # at most this many parts per channel
MAX_GRID = 65535  # the largest grid y and z


_F64 = np.dtype(np.float64)


def _split(m):
    """(parts, run length) for a channel of m values: runs of at least BN_CHUNK, at most BN_PARTS runs,
    none of them empty (the last takes the rest)."""
    if m == 0:
        return 1, 1
    run = -(-m // max(1, min(BN_PARTS, m // BN_CHUNK)))
    return -(-m // run), run


def _sum_grid(parts, C):
    return (parts, min(C, MAX_GRID)), BN_THREADS


def _value_grid(N, C, S):
    """(grid, block) of the per-value kernels: x over S, y over C, z over N (striding past MAX_GRID)."""
    bx = 1
    while bx < min(S, 32):
        bx *= 2
    by = 1
    while by < min(C, 256 // bx):
        by *= 2
    return ((S + bx - 1) // bx, min((C + by - 1) // by, MAX_GRID), max(1, min(N, MAX_GRID))), (bx, by)


def batch_norm_forward(y, mean, invstd, x, weight, bias, has_weight, has_bias, training, eps):
    """Per channel c: when ``training``, mean[c] = sum x / m and invstd[c] = 1 / sqrt(var + eps)
    with var the biased variance (otherwise mean and invstd are given); then
    y = (x - mean[c]) * invstd[c] * weight[c] + bias[c]. y, x (N, C, S); mean, invstd (C,) float64."""
    N, C, S = x.shape
    m = N * S
    if C == 0:
        return
    if training:
        parts, run = _split(m)
        part = device_empty((C, parts, 2), _F64)
        grid, block = _sum_grid(parts, C)
        launch_grid(_stat_parts, grid, block, part, x, run)
        launch(_stat_finish, C, mean, invstd, part, m, run, eps)
    if m:
        grid, block = _value_grid(N, C, S)
        launch_grid(_normalize, grid, block, y, x, mean, invstd, weight, bias, has_weight, has_bias)


def batch_norm_backward(gx, gw, gb, g, x, mean, invstd, weight, has_weight, training, need_x):
    """Per channel c, with xhat = (x - mean[c]) * invstd[c]: gw[c] = sum g*xhat, gb[c] = sum g, and
    gx = weight[c] * invstd[c] * (g - [sum g + xhat * sum g*xhat] / m) when ``training`` (the
    gradient through the batch statistics), weight[c] * invstd[c] * g otherwise."""
    N, C, S = x.shape
    m = N * S
    if C == 0:
        return
    parts, run = _split(m)
    part, coef = device_empty((C, parts, 2), _F64), device_empty((C, 3), _F64)
    grid, block = _sum_grid(parts, C)
    launch_grid(_grad_parts, grid, block, part, g, x, mean, run)
    launch(_grad_finish, C, gw, gb, coef, part, invstd, weight, has_weight, training, m)
    if need_x and m:
        grid, block = _value_grid(N, C, S)
        launch_grid(_input_grad, grid, block, gx, g, x, mean, coef)


def batch_norm_eval_stats(mean, invstd, running_mean, running_var, eps):
    """mean = running_mean and invstd = 1 / sqrt(running_var + eps), in float64 (C,): the statistics
    ``batch_norm_forward`` normalizes with outside training."""
    launch(_eval_stats, mean.size, mean, invstd, running_mean, running_var, eps)


def batch_norm_update_running(running, mean, invstd, momentum, m, eps, variance):
    """running = (1 - momentum) * running + momentum * the batch's statistic, in float64 rounded once:
    the mean, or (``variance``) the unbiased variance (1 / invstd**2 - eps) * m / (m - 1)."""
    launch(_update_running, running.size, running, mean, invstd, momentum, m, eps, variance)


SUM, SQUARES, GRAD = 0, 1, 2  # what ``_run_sums`` adds up


@cuda.jit(device=True)
def _run_sums(x, g, c, lo, hi, mu, what):
    """This thread's float64 sums over its values of run [lo, hi) of channel c, values t, t + T, ...
    of the run (t, T its thread index and count): (sum x, 0) for SUM, (sum (x - mu)**2, 0) for
    SQUARES, (sum g, sum g * (x - mu)) for GRAD. A value's (n, s) steps along without division."""
    N, C, S = x.shape
    t, T = cuda.threadIdx.x, cuda.blockDim.x
    j = lo + t
    n = j // S
    i = j - n * S
    dn = T // S
    di = T - dn * S
    a = 0.0
    b = 0.0
    for _ in range(j, hi, T):
        v = float64(x[n, c, i])  # float64 under the simulator too (0.0 + a float32 is a float32 in NumPy 2)
        if what == SUM:
            a += v
        elif what == SQUARES:
            a += (v - mu) * (v - mu)
        else:
            gv = float64(g[n, c, i])
            a += gv
            b += gv * (v - mu)
        n += dn
        i += di
        if i >= S:
            i -= S
            n += 1
    return a, b


@cuda.jit(device=True)
def _block_run(x, run):
    """[lo, hi): the values of a channel of ``x`` (N, C, S) that this block's run (blockIdx.x) takes."""
    lo = cuda.blockIdx.x * run
    return lo, min(x.shape[0] * x.shape[2], lo + run)


@jit
def _stat_parts(part, x, run):
    """part[c, p] = (mean, centred sum of squares) of run p of channel c (values p*run ... of m)."""
    s = cuda.shared.array(BN_SHARED, float64)
    t, p, (lo, hi) = cuda.threadIdx.x, cuda.blockIdx.x, _block_run(x, run)
    for c in range(cuda.blockIdx.y, x.shape[1], cuda.gridDim.y):
        s[t] = _run_sums(x, x, c, lo, hi, 0.0, SUM)[0]
        tree_sum(s, t)
        mu = s[0] / (hi - lo)
        cuda.syncthreads()  # every thread has read s[0] before it is written again
        s[t] = _run_sums(x, x, c, lo, hi, mu, SQUARES)[0]
        tree_sum(s, t)
        if t == 0:
            part[c, p, 0] = mu
            part[c, p, 1] = s[0]
        cuda.syncthreads()


@jit
def _stat_finish(mean, invstd, part, m, run, eps):
    """Combine a channel's parts in order (Chan et al.): its mean and 1 / sqrt(biased variance + eps)."""
    c = cuda.grid(1)
    if c < mean.size:
        parts = part.shape[1]
        na = float64(min(m, run))
        mu = part[c, 0, 0]
        m2 = part[c, 0, 1]
        for p in range(1, parts):
            nb = float64(min(m, (p + 1) * run) - p * run)
            delta = part[c, p, 0] - mu
            total = na + nb
            mu += delta * (nb / total)
            m2 += part[c, p, 1] + delta * delta * (na * nb / total)
            na = total
        mean[c] = mu
        invstd[c] = 1.0 / math.sqrt(m2 / m + eps)


@jit
def _normalize(y, x, mean, invstd, weight, bias, has_weight, has_bias):
    N, C, S = x.shape
    i = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    c = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
    while c < C:
        if i < S:
            mu = mean[c]
            scale = invstd[c] * (float64(weight[c]) if has_weight else 1.0)
            shift = float64(bias[c]) if has_bias else 0.0
            for n in range(cuda.blockIdx.z, N, cuda.gridDim.z):
                y[n, c, i] = (float64(x[n, c, i]) - mu) * scale + shift
        c += cuda.gridDim.y * cuda.blockDim.y


@jit
def _grad_parts(part, g, x, mean, run):
    """part[c, p] = (sum g, sum g * (x - mean[c])) over run p of channel c."""
    sg = cuda.shared.array(BN_SHARED, float64)
    sx = cuda.shared.array(BN_SHARED, float64)
    t, p, (lo, hi) = cuda.threadIdx.x, cuda.blockIdx.x, _block_run(x, run)
    for c in range(cuda.blockIdx.y, x.shape[1], cuda.gridDim.y):
        sg[t], sx[t] = _run_sums(x, g, c, lo, hi, mean[c], GRAD)
        tree_sum(sg, t)
        tree_sum(sx, t)
        if t == 0:
            part[c, p, 0] = sg[0]
            part[c, p, 1] = sx[0]
        cuda.syncthreads()


@jit
def _grad_finish(gw, gb, coef, part, invstd, weight, has_weight, training, m):
    """gw, gb of a channel from its parts (summed in order), and the input gradient's coefficients
    (k, a, b): gx = k * (g - a - (x - mean) * b)."""
    c = cuda.grid(1)
    if c < gw.size:
        sg = 0.0
        sgx = 0.0
        for p in range(part.shape[1]):
            sg += part[c, p, 0]
            sgx += part[c, p, 1]
        r = invstd[c]
        sgx *= r
        gw[c] = sgx
        gb[c] = sg
        coef[c, 0] = r * (float64(weight[c]) if has_weight else 1.0)
        coef[c, 1] = sg / m if training else 0.0
        coef[c, 2] = sgx / m * r if training else 0.0


@jit
def _input_grad(gx, g, x, mean, coef):
    N, C, S = x.shape
    i = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    c = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
    while c < C:
        if i < S:
            mu, k, a, b = mean[c], coef[c, 0], coef[c, 1], coef[c, 2]
            for n in range(cuda.blockIdx.z, N, cuda.gridDim.z):
                gx[n, c, i] = k * (float64(g[n, c, i]) - a - (float64(x[n, c, i]) - mu) * b)
        c += cuda.gridDim.y * cuda.blockDim.y


@jit
def _eval_stats(mean, invstd, running_mean, running_var, eps):
    c = cuda.grid(1)
    if c < mean.size:
        mean[c] = running_mean[c]
        invstd[c] = 1.0 / math.sqrt(float64(running_var[c]) + eps)


@jit
def _update_running(running, mean, invstd, momentum, m, eps, variance):
    c = cuda.grid(1)
    if c < running.size:
        if variance:
            new = (1.0 / (invstd[c] * invstd[c]) - eps) * (float64(m) / (m - 1))
        else:
            new = mean[c]
        running[c] = (1.0 - momentum) * float64(running[c]) + momentum * new



GN_PARTS = 64  # at most this many parts of the groups for the weight and bias gradients' partial sums
GN_CHANNELS = 32  # channels a block of the partial sums takes


def group_norm_forward(y, mean, invstd, x, weight, bias, has_weight, has_bias, eps):
    """Per group (n, g) of x (N, G, Cg, S): mean[n*G + g] and invstd = 1 / sqrt(var + eps) over its
    Cg*S values (var the biased variance); then y = (x - mean) * invstd * weight[c] + bias[c], c =
    g*Cg + k the channel of the group's k-th. mean, invstd (N*G,) float64. A layer norm over rows of
    D is the view (rows, 1, D, 1): each position of the row a channel of its own."""
    N, G, Cg, S = x.shape
    R, m = N * G, Cg * S
    if R == 0 or m == 0:
        return
    xf = _rows(x, R, m)
    launch(_row_stats, R, mean, invstd, xf, eps)
    grid, block = _value_grid(1, R, m)
    launch_grid(_group_normalize, grid, block, _rows(y, R, m), xf, mean, invstd, weight, bias, has_weight, has_bias,
                G, S)


def group_norm_backward(gx, gw, gb, g, x, mean, invstd, weight, has_weight, need_x):
    """With xhat = (x - mean) * invstd per group of x (N, G, Cg, S) and gh = g * weight[c]: gw[c] =
    sum of g * xhat over the channel's values in every sample, gb[c] = sum of g, and, when
    ``need_x``, gx = invstd * (gh - mean(gh) - xhat * mean(gh * xhat)), the means over the group
    (the gradient through its statistics)."""
    N, G, Cg, S = x.shape
    R, m, C = N * G, Cg * S, G * Cg
    if C == 0:
        return
    xf, gf = _rows(x, R, m), _rows(g, R, m)
    parts = max(1, min(N, GN_PARTS))
    part = device_empty((parts, 2, C), _F64)
    launch_grid(_channel_parts, ((C + GN_CHANNELS - 1) // GN_CHANNELS, parts), GN_CHANNELS, part, gf, xf, mean, invstd,
                G, S)
    launch(_channel_finish, C, gw, gb, part)
    if need_x and R and m:
        coef = device_empty((R, 2), _F64)
        launch(_row_grad_means, R, coef, gf, xf, mean, invstd, weight, has_weight, G, S)
        grid, block = _value_grid(1, R, m)
        launch_grid(_group_input_grad, grid, block, _rows(gx, R, m), gf, xf, mean, invstd, weight, has_weight, coef,
                    G, S)


def layer_norm_forward(y, mean, invstd, x, weight, bias, has_weight, has_bias, eps):
    """Per row r of x (R, D): mean[r] = sum x / D and invstd[r] = 1 / sqrt(var + eps), var the
    biased variance; then y = (x - mean[r]) * invstd[r] * weight + bias, weight and bias (D,) per
    column. mean, invstd (R,) float64. The group norm kernels, a row a group and a value a channel."""
    R, D = x.shape
    group_norm_forward(view(y, (R, 1, D, 1)), mean, invstd, view(x, (R, 1, D, 1)), weight, bias, has_weight, has_bias,
                       eps)


def layer_norm_backward(gx, gw, gb, g, x, mean, invstd, weight, has_weight, need_x):
    """With xhat = (x - mean[r]) * invstd[r] and gh = g * weight per row r of x (R, D): gw = sum over
    the rows of g * xhat, gb = sum of g (D,), and, when ``need_x``, gx = invstd[r] * (gh - mean(gh)
    - xhat * mean(gh * xhat)), the means over the row (the gradient through its statistics)."""
    R, D = x.shape
    rows = (R, 1, D, 1)
    group_norm_backward(view(gx, rows) if need_x else gx, gw, gb, view(g, rows), view(x, rows), mean, invstd, weight,
                        has_weight, need_x)


def _rows(a, R, m):
    """(N, G, Cg, S) seen as (N*G, Cg*S): a group a row (a view marker where the lean launch runs)."""
    return view(a, (R, m))


@cuda.jit(device=True)
def _channel_of(r, j, G, S, Cg):
    """The channel of value j of group row r."""
    return (r % G) * Cg + j // S


@jit
def _row_stats(mean, invstd, x, eps):
    """mean[r], invstd[r] of row r (two passes: the mean, then the centred squares)."""
    r = cuda.grid(1)
    if r < x.shape[0]:
        D = x.shape[1]
        s = 0.0
        for j in range(D):
            s += float64(x[r, j])
        mu = s / D
        s2 = 0.0
        for j in range(D):
            d = float64(x[r, j]) - mu
            s2 += d * d
        mean[r] = mu
        invstd[r] = 1.0 / math.sqrt(s2 / D + eps)


@jit
def _group_normalize(y, x, mean, invstd, weight, bias, has_weight, has_bias, G, S):
    R, m = x.shape
    j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    r = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
    while r < R:
        if j < m:
            c = _channel_of(r, j, G, S, m // S)
            v = (float64(x[r, j]) - mean[r]) * invstd[r]
            if has_weight:
                v *= float64(weight[c])
            if has_bias:
                v += float64(bias[c])
            y[r, j] = v
        r += cuda.gridDim.y * cuda.blockDim.y


@jit
def _channel_parts(part, g, x, mean, invstd, G, S):
    """part[p, :, c] = (sum g * xhat, sum g) over channel c's values in part p of the samples."""
    R, m = x.shape
    Cg = m // S
    c = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    p, parts = cuda.blockIdx.y, cuda.gridDim.y
    if c < G * Cg:
        N = R // G
        grp = c // Cg
        lo = (c - grp * Cg) * S
        sw = 0.0
        sb = 0.0
        for n in range(p * N // parts, (p + 1) * N // parts):
            r = n * G + grp
            mu, rs = mean[r], invstd[r]
            for j in range(lo, lo + S):
                gv = float64(g[r, j])
                sw += gv * ((float64(x[r, j]) - mu) * rs)
                sb += gv
        part[p, 0, c] = sw
        part[p, 1, c] = sb


@jit
def _channel_finish(gw, gb, part):
    c = cuda.grid(1)
    if c < gw.size:
        sw = 0.0
        sb = 0.0
        for p in range(part.shape[0]):
            sw += part[p, 0, c]
            sb += part[p, 1, c]
        gw[c] = sw
        gb[c] = sb


@jit
def _row_grad_means(coef, g, x, mean, invstd, weight, has_weight, G, S):
    """coef[r] = (mean of gh, mean of gh * xhat) over group row r."""
    r = cuda.grid(1)
    if r < x.shape[0]:
        m = x.shape[1]
        mu, rs = mean[r], invstd[r]
        a = 0.0
        b = 0.0
        for j in range(m):
            gh = float64(g[r, j]) * (float64(weight[_channel_of(r, j, G, S, m // S)]) if has_weight else 1.0)
            a += gh
            b += gh * ((float64(x[r, j]) - mu) * rs)
        coef[r, 0] = a / m
        coef[r, 1] = b / m


@jit
def _group_input_grad(gx, g, x, mean, invstd, weight, has_weight, coef, G, S):
    R, m = x.shape
    j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    r = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
    while r < R:
        if j < m:
            rs = invstd[r]
            w = float64(weight[_channel_of(r, j, G, S, m // S)]) if has_weight else 1.0
            gx[r, j] = rs * (float64(g[r, j]) * w - coef[r, 0] - (float64(x[r, j]) - mean[r]) * rs * coef[r, 1])
        r += cuda.gridDim.y * cuda.blockDim.y
