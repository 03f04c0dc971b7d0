"""In-place edits through views, slices and transposes, written once for numconv and PyTorch tensors
(the same method names): ``test_inplace.py`` runs them against PyTorch, ``_cuda_training_cases.py``
on the device against the CPU."""
from __future__ import annotations

import numpy as np


def edit_through_views(t, new, rng):
    """Edit ``t`` (float, shape (3, 4, 5), no grad) in place through views of it; ``new(array)`` makes a
    tensor like ``t`` from a NumPy array. Returns the values each view read after its own edit."""
    seen = []
    t[1].zero_()  # a contiguous slice
    t[:, 2].fill_(float(rng.standard_normal()))  # a strided one
    t[2, 1:3, ::2].copy_(new(rng.standard_normal((2, 3))))
    s = t[0, 0, 0]  # 0-d
    s.fill_(float(rng.standard_normal()))
    tt = t.transpose(0, 2)
    tt[0].fill_(float(rng.standard_normal()))  # a view of a transpose
    v = t[2]
    v += new(rng.standard_normal((4, 5)))
    seen.append(v.detach().numpy().copy())
    w = t[:, 1, 1:4]
    w *= float(rng.standard_normal())
    w -= new(rng.standard_normal((3, 3)))
    seen.append(w.detach().numpy().copy())
    u = t.reshape(12, 5)[::3]
    u /= 2.5
    u[1, 2:] = new(rng.standard_normal(3))
    seen.append(u.detach().numpy().copy())
    m = t.transpose(0, 1).reshape(-1)  # a reshape that merges strided dimensions copies: t keeps its values
    m.fill_(float(rng.standard_normal()))
    seen.append(m.detach().numpy().copy())
    p = t[:, ::2].reshape(3, 2, 1, 5)[1:]  # one that only splits (here adds a 1) is a view: the edit reaches t
    p.fill_(float(rng.standard_normal()))
    seen.append(p.detach().numpy().copy())
    q = t.transpose(1, 2)[:, 1:].reshape(3, 2, 2, 4)  # splitting the stepped dimension: a view too
    q[0, 1] = new(rng.standard_normal((2, 4)))
    seen.append(q.detach().numpy().copy())
    return seen
