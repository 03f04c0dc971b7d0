"""The CTC forward and backward recursions and the gradient over arrays (``kernels/{cpu,cuda}/ctc.py``),
on the arrays' device, in float64 whatever the log-probabilities' dtype: ``F.ctc_loss`` builds the
rest (the emissions, the loss) from ``ops.math``."""
import numpy as np

from .. import dispatch
from . import math as M


def _args(em, *masks):
    dev = dispatch.backend(emissions=em)
    return dev, dispatch.contiguous(M.astype(em, np.float64), dev), [dispatch.contiguous(m, dev) for m in masks]


def emissions(lp, ext):
    """em (T, N, L) float64: lp (T, N, C)'s log-probability of each extended label ext (N, L) int64 at each
    step, -inf where ext is -1."""
    dev = dispatch.backend(log_probs=lp, ext=ext)
    lp, ext = dispatch.contiguous(lp, dev), dispatch.contiguous(ext, dev)
    out = dispatch.empty((lp.shape[0], lp.shape[1], ext.shape[1]), np.float64, dev)
    dispatch.kernels("ctc", dev).ctc_emissions(out, lp, ext)
    return out


def alpha(em, skip, steps):
    """The forward variables (T, N, L) float64 of every step, from the emissions ``em`` (T, N, L),
    ``skip`` (N, L) bool and ``steps`` (N,) int64 (``numconv.kernels.ctc`` says what each holds)."""
    dev, em, (skip, steps) = _args(em, skip, steps)
    out = dispatch.empty(tuple(em.shape), np.float64, dev)
    dispatch.kernels("ctc", dev).ctc_alpha(out, em, skip, steps)
    return out


def beta(em, skip, steps, at_end):
    """The backward variables (T, N, L) float64 of every step, -inf past each sample's last step."""
    dev, em, (skip, steps, at_end) = _args(em, skip, steps, at_end)
    out = dispatch.empty(tuple(em.shape), np.float64, dev)
    dispatch.kernels("ctc", dev).ctc_beta(out, em, skip, steps, at_end)
    return out


def gradient(alpha, beta, em, ext, nll, scale, num_classes):
    """The loss's gradient (T, N, C) float64 with respect to the log-probabilities: minus each class's
    occupancy, times ``scale`` (N,) (the upstream gradient; 0 skips a sample)."""
    dev, em, (alpha, beta, ext) = _args(em, alpha, beta, ext)
    nll, scale = (dispatch.contiguous(M.astype(v, np.float64), dev) for v in (nll, scale))
    T, N, _ = em.shape
    out = M.zeros((T, N, num_classes), np.float64, like=em)
    dispatch.kernels("ctc", dev).ctc_gradient(out, alpha, beta, em, ext, nll, scale)
    return out
