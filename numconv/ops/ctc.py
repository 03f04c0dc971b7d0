"""The CTC forward and backward recursions over arrays (``kernels/{cpu,cuda}/ctc.py``), on the
arrays' device, in float64 whatever the log-probabilities' dtype: ``F.ctc_loss`` builds the rest
(the emissions, the loss, the gradient) from ``ops.math``."""
import numpy as np

from .. import dispatch
from . import math as M


def _args(em, *masks):
    dev = dispatch.backend(emissions=em)
    return dev, dispatch.contiguous(M.astype(em, np.float64), dev), [dispatch.contiguous(m, dev) for m in masks]


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
