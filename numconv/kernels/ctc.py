"""The CTC recursions, one position at a time, written once for both backends: the CPU kernels
(``kernels/cpu/ctc.py``) inline them, the CUDA kernels (``kernels/cuda/ctc.py``) call them as
device functions, so the two compute the same operations in the same order (in float64).

The extended label sequence of sample n has L = 2 S + 1 positions: blank, l1, blank, l2, ..., blank
(``ext``; -1 past a shorter sample's own). ``em[t, n, s]`` is the log-probability of position s's class at step t; ``skip[n, s]`` whether
position s may be reached from s - 2 (a label that differs from the one before it);
``steps[n]`` the sample's time steps; ``at_end[n, s]`` whether a path may end at s (the last blank
and the last label). Log space throughout: -inf is probability 0.
"""
import math

NEG_INF = -math.inf


def log_add3(a, b, c):
    """log(exp(a) + exp(b) + exp(c)), -inf where all three are: the largest plus log1p of the other two's
    exp relative to it (two exps and a log1p; NaN anywhere gives NaN)."""
    if a < b:
        a, b = b, a
    if a < c:
        a, c = c, a
    if a == NEG_INF:
        return NEG_INF
    return a + math.log1p(math.exp(b - a) + math.exp(c - a))


def emission_at(lp, ext, t, n, s):
    """em[t, n, s] from the log-probabilities lp (T, N, C) and the extended labels ext (N, L) int64, in
    float64: -inf where ext is -1 (a position past the sample's own, padding a shorter target)."""
    c = ext[n, s]
    if c < 0:
        return NEG_INF
    return float(lp[t, n, c])


def alpha_at(alpha, em, skip, steps, t, n, s):
    """alpha[t, n, s]: the log-probability of the paths through step t that end at position s having
    emitted the labels before it, from alpha[t - 1, n] (a sample's alpha stays at its last step)."""
    if t == 0:
        if s < 2:
            return float(em[0, n, s])
        return NEG_INF
    if t >= steps[n]:
        return alpha[t - 1, n, s]
    if em[t, n, s] == NEG_INF:  # probability 0 (or a position past the sample's labels): no path is here
        return NEG_INF
    b = NEG_INF
    if s >= 1:
        b = alpha[t - 1, n, s - 1]
    c = NEG_INF
    if s >= 2 and skip[n, s]:
        c = alpha[t - 1, n, s - 2]
    return log_add3(alpha[t - 1, n, s], b, c) + em[t, n, s]


def beta_at(beta, em, skip, steps, at_end, t, n, s):
    """beta[t, n, s]: the log-probability of the paths from position s at step t to the end (step t's
    own emission included), from beta[t + 1, n]; -inf past a sample's last step."""
    last = steps[n] - 1
    if t > last:
        return NEG_INF
    if t == last:
        if at_end[n, s]:
            return float(em[t, n, s])
        return NEG_INF
    if em[t, n, s] == NEG_INF:
        return NEG_INF
    size = em.shape[2]
    b = NEG_INF
    if s + 1 < size:
        b = beta[t + 1, n, s + 1]
    c = NEG_INF
    if s + 2 < size and skip[n, s + 2]:
        c = beta[t + 1, n, s + 2]
    return log_add3(beta[t + 1, n, s], b, c) + em[t, n, s]


def gradient_at(grad, alpha, beta, em, ext, nll, scale, t, n):
    """grad[t, n, c] -= scale[n] * the occupancy of class c at step t: the sum over the positions s
    holding c of exp(alpha + beta - em + nll), the probability that a path is at s then (0 where
    alpha or beta is -inf, and nothing for a sample whose scale is 0)."""
    if scale[n] == 0:
        return
    for s in range(em.shape[2]):
        a = alpha[t, n, s]
        b = beta[t, n, s]
        if a != NEG_INF and b != NEG_INF:
            grad[t, n, ext[n, s]] -= scale[n] * math.exp(a + b - em[t, n, s] + nll[n])
