"""The CTC recursions, CUDA: a block per sample, its threads over the positions of the extended label
sequence, one time step after another with a barrier between (step t reads step t - 1's row, written
by other threads); the gradient, a thread per (step, sample); with the helpers of
``numconv.kernels.ctc`` (the CPU kernels' own). No atomics: each thread owns what it writes.
"""
from numba import cuda

from .. import ctc, scalar
from . import jit, launch, launch_grid

_emission_at = cuda.jit(device=True)(ctc.emission_at)
_log_add3 = cuda.jit(device=True)(ctc.log_add3)
_alpha_at = cuda.jit(device=True)(scalar.with_primitives(ctc.alpha_at, log_add3=_log_add3))
_beta_at = cuda.jit(device=True)(scalar.with_primitives(ctc.beta_at, log_add3=_log_add3))
_gradient_at = cuda.jit(device=True)(ctc.gradient_at)

THREADS = 256  # the most threads per block: positions beyond them take a second turn


def _threads(size):
    n = 32
    while n < size and n < THREADS:
        n *= 2
    return n


def ctc_emissions(em, lp, ext):
    """em (T, N, L) float64, each position's log-probability at each step, from lp (T, N, C) and the
    extended labels ext (N, L) int64 (-1: past the sample's positions, -inf there). A thread per element."""
    T, N, L = em.shape
    launch(_emissions, T * N * L, em, lp, ext)


@jit
def _emissions(em, lp, ext):
    i = cuda.grid(1)
    T, N, L = em.shape
    if i < T * N * L:
        s = i % L
        n = (i // L) % N
        t = i // (L * N)
        em[t, n, s] = _emission_at(lp, ext, t, n, s)


def ctc_alpha(alpha, em, skip, steps):
    """alpha (T, N, L) float64, the forward variables of every step, from em (T, N, L) float64, skip
    (N, L) bool and steps (N,) int64 (``numconv.kernels.ctc``)."""
    T, N, L = em.shape
    if T and N:
        launch_grid(_alpha, N, _threads(L), alpha, em, skip, steps)


@jit
def _alpha(alpha, em, skip, steps):
    n = cuda.blockIdx.x
    for t in range(em.shape[0]):
        s = cuda.threadIdx.x
        while s < em.shape[2]:
            alpha[t, n, s] = _alpha_at(alpha, em, skip, steps, t, n, s)
            s += cuda.blockDim.x
        cuda.syncthreads()


def ctc_beta(beta, em, skip, steps, at_end):
    """beta (T, N, L) float64, the backward variables of every step (-inf past each sample's end), from
    em, skip, steps and at_end (N, L) bool."""
    T, N, L = em.shape
    if T and N:
        launch_grid(_beta, N, _threads(L), beta, em, skip, steps, at_end)


@jit
def _beta(beta, em, skip, steps, at_end):
    n = cuda.blockIdx.x
    for k in range(em.shape[0]):
        t = em.shape[0] - 1 - k
        s = cuda.threadIdx.x
        while s < em.shape[2]:
            beta[t, n, s] = _beta_at(beta, em, skip, steps, at_end, t, n, s)
            s += cuda.blockDim.x
        cuda.syncthreads()


def ctc_gradient(grad, alpha, beta, em, ext, nll, scale):
    """grad (T, N, C) float64, zeros on entry: minus each class's occupancy at each step, times scale (N,)
    (the loss's gradient); ext (N, L) int64 the extended labels, nll (N,) the losses. A thread per
    (step, sample): it alone writes that row."""
    T, N, _ = em.shape
    launch(_gradient, T * N, grad, alpha, beta, em, ext, nll, scale)


@jit
def _gradient(grad, alpha, beta, em, ext, nll, scale):
    task = cuda.grid(1)
    n_samples = em.shape[1]
    if task < em.shape[0] * n_samples:
        _gradient_at(grad, alpha, beta, em, ext, nll, scale, task // n_samples, task % n_samples)
