"""The CTC recursions, CPU: a task per sample, walking its time steps in order and, at each, every
position of its extended label sequence, with the helpers of ``numconv.kernels.ctc`` (the CUDA
kernels' own). Compiled without fastmath, so that both backends take the same operations.
"""
from numba import prange

from . import exact_kernel, inline
from .. import ctc, scalar

_emission_at = inline(ctc.emission_at)
_log_add3 = inline(ctc.log_add3)
_alpha_at = inline(scalar.with_primitives(ctc.alpha_at, log_add3=_log_add3))
_beta_at = inline(scalar.with_primitives(ctc.beta_at, log_add3=_log_add3))
_gradient_at = inline(ctc.gradient_at)


@exact_kernel
def ctc_emissions(em, lp, ext):
    """em (T, N, L) float64, each position's log-probability at each step, from lp (T, N, C) and the
    extended labels ext (N, L) int64 (-1: past the sample's positions, -inf there)."""
    T, N, L = em.shape
    for task in prange(T * N):
        t, n = task // N, task % N
        for s in range(L):
            em[t, n, s] = _emission_at(lp, ext, t, n, s)


@exact_kernel
def ctc_alpha(alpha, em, skip, steps):
    """alpha (T, N, L) float64, the forward variables of every step, from em (T, N, L) float64, skip
    (N, L) bool and steps (N,) int64 (``numconv.kernels.ctc``)."""
    T, N, L = em.shape
    for n in prange(N):
        for t in range(T):
            for s in range(L):
                alpha[t, n, s] = _alpha_at(alpha, em, skip, steps, t, n, s)


@exact_kernel
def ctc_beta(beta, em, skip, steps, at_end):
    """beta (T, N, L) float64, the backward variables of every step (-inf past each sample's end), from
    em, skip, steps and at_end (N, L) bool."""
    T, N, L = em.shape
    for n in prange(N):
        for t in range(T - 1, -1, -1):
            for s in range(L):
                beta[t, n, s] = _beta_at(beta, em, skip, steps, at_end, t, n, s)


@exact_kernel
def ctc_gradient(grad, alpha, beta, em, ext, nll, scale):
    """grad (T, N, C) float64, zeros on entry: minus each class's occupancy at each step, times scale (N,)
    (the loss's gradient); ext (N, L) int64 the extended labels, nll (N,) the losses."""
    T, N, _ = em.shape
    for task in prange(T * N):
        _gradient_at(grad, alpha, beta, em, ext, nll, scale, task // N, task % N)
