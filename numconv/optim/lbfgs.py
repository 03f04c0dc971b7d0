"""L-BFGS with PyTorch's interface and algorithm: ``LBFGS(params, lr=1, max_iter=20, ...)``, stepped with a
closure that re-evaluates the loss, as ``torch.optim.LBFGS``.

Each ``step(closure)`` runs up to ``max_iter`` quasi-Newton iterations over all the parameters as one
flat vector. The direction is the two-loop recursion (Nocedal & Wright, Algorithm 7.4) over the
last ``history_size`` pairs (s, y) of steps and gradient changes, skipping a pair whose curvature
y.s is not above 1e-10, the initial Hessian y.s / y.y times the identity. The step is ``lr``
(the first iteration's min(1, 1 / |g|_1) * lr), or with ``line_search_fn='strong_wolfe'`` the one a
strong-Wolfe line search finds (N&W Algorithms 3.5 and 3.6: bracketing, then zoom by safeguarded
cubic interpolation; c1 = 1e-4, c2 = 0.9, at most 25 evaluations), as minFunc and PyTorch do it. It
stops at ``tolerance_grad`` (largest gradient element), ``tolerance_change`` (largest step element,
or change of the loss), ``max_iter`` or ``max_eval`` closure calls.

The vector math runs on numconv Tensors, so the parameters may live on either device (each dot
product is one number copied to the host). Memory: the history holds 2 * history_size vectors of
the parameters' size.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import shapes
from ..autograd import enable_grad, no_grad
from ..ops import math as M
from . import Optimizer

__all__ = ["LBFGS"]


def _dot(a, b):
    return float((a * b).sum().item())


def _abs_max(a):
    return float(a.abs().max().item()) if a.numel() else 0.0


def cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimizer of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2 (N&W eq. 3.59),
    clipped to ``bounds`` (default the interval between x1 and x2); the bounds' midpoint where the
    cubic has no minimum."""
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    with np.errstate(all="ignore"):  # a zero denominator (a loss linear along the line, x1 = x2) gives inf or
        d1 = g1 + g2 - 3 * (f1 - f2) / np.float64(x1 - x2)  # NaN, as PyTorch's tensor arithmetic does, not an error
        d2_square = d1 * d1 - g1 * g2
        if not d2_square >= 0:
            return (low + high) / 2
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            x = x2 - (x2 - x1) * ((g2 + d2 - d1) / np.float64(g2 - g1 + 2 * d2))
        else:
            x = x1 - (x1 - x2) * ((g1 + d2 - d1) / np.float64(g1 - g2 + 2 * d2))
    return float(min(max(x, low), high))


class _Point:
    """A trial step length with its loss, gradient and directional derivative."""

    __slots__ = ("t", "f", "g", "gtd")

    def __init__(self, t, f, g, gtd):
        self.t, self.f, self.g, self.gtd = t, f, g, gtd


def strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step length along ``d`` from the point with loss ``f``, gradient ``g`` and slope ``gtd`` (< 0)
    meeting the strong Wolfe conditions f(t) <= f + c1 t gtd and |g(t).d| <= c2 |gtd|, starting from
    ``t``; ``evaluate(t)`` gives (loss, gradient) there. Returns (loss, gradient, t, evaluations):
    at most ``max_ls`` tries after the first."""
    d_scale = _abs_max(d)
    start = prev = _Point(0.0, f, g, gtd)
    f_new, g_new = evaluate(t)
    new = _Point(t, f_new, g_new, _dot(g_new, d))
    tries, bracket, done = 0, None, False
    while tries < max_ls:  # bracketing: grow the step until an interval must hold a good one
        if new.f > f + c1 * new.t * gtd or (tries > 1 and new.f >= prev.f):
            bracket = [prev, new]
            break
        if abs(new.gtd) <= -c2 * gtd:
            bracket, done = [new], True
            break
        if new.gtd >= 0:
            bracket = [prev, new]
            break
        t = cubic_minimum(prev.t, prev.f, prev.gtd, new.t, new.f, new.gtd,
                          bounds=(new.t + 0.01 * (new.t - prev.t), new.t * 10))  # extrapolate
        prev = new
        f_new, g_new = evaluate(t)
        new = _Point(t, f_new, g_new, _dot(g_new, d))
        tries += 1
    if bracket is None:  # out of tries while still descending
        bracket = [start, new]
    low, high = (0, 1) if bracket[0].f <= bracket[-1].f else (1, 0)
    stalled = False
    while not done and tries < max_ls:  # zoom: shrink the bracket around a point meeting the conditions
        a, b = bracket
        if abs(b.t - a.t) * d_scale < tolerance_change:
            break
        t = cubic_minimum(a.t, a.f, a.gtd, b.t, b.f, b.gtd)
        lo_t, hi_t = min(a.t, b.t), max(a.t, b.t)
        margin = 0.1 * (hi_t - lo_t)
        if min(hi_t - t, t - lo_t) < margin:  # too near an end: move it in, unless the last try helped
            if stalled or t >= hi_t or t <= lo_t:
                t = hi_t - margin if abs(t - hi_t) < abs(t - lo_t) else lo_t + margin
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        f_new, g_new = evaluate(t)
        new = _Point(t, f_new, g_new, _dot(g_new, d))
        tries += 1
        if new.f > f + c1 * t * gtd or new.f >= bracket[low].f:
            bracket[high] = new
            low, high = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
        else:
            if abs(new.gtd) <= -c2 * gtd:
                done = True
            elif new.gtd * (bracket[high].t - bracket[low].t) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = new
    best = bracket[low]
    return best.f, best.g, best.t, tries + 1


class LBFGS(Optimizer):
    """L-BFGS over all parameters as one vector (one param group), as ``torch.optim.LBFGS``:
    ``step(closure)`` calls ``closure()`` (which zeroes the gradients, computes the loss, calls
    ``backward`` and returns the loss) as often as the iterations and line search need, and returns
    the loss of its first call. ``max_eval`` defaults to ``max_iter * 5 // 4``. ``state_dict`` keeps
    the history as (k, n) arrays."""

    _buffers = ("d", "prev_flat_grad", "old_dirs", "old_stps", "ro")
    _numbers = ("t", "H_diag", "prev_loss")

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        if max_eval is None and shapes._is_int(max_iter):
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))

    def add_param_group(self, group):
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups): it optimizes all "
                             "its parameters as one vector")
        super().add_param_group(group)

    def _check(self, group):
        group["lr"] = shapes.real(group["lr"], "lr", 0.0)
        for name in ("tolerance_grad", "tolerance_change"):
            group[name] = shapes.real(group[name], name, 0.0)
        for name in ("max_iter", "max_eval", "history_size"):
            group[name] = shapes.integer(group[name], name, lo=1)
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"line_search_fn must be None or 'strong_wolfe', got {group['line_search_fn']!r}")
        for p in group["params"]:
            if np.dtype(p.dtype).kind != "f":
                raise TypeError(f"LBFGS optimizes floating-point parameters, got dtype {p.dtype}")

    # ---- the parameters as one flat vector
    @property
    def _params(self):
        return self.param_groups[0]["params"]

    def _flat_grad(self):
        from ..tensor import Tensor, cat

        pieces = []
        for p in self._params:
            g = p.grad
            if g is None:  # zeros (not p * 0: an inf in a frozen parameter would give NaN)
                pieces.append(Tensor(M.zeros((p.numel(),), p.dtype, like=p.data)))
            else:
                pieces.append((g if isinstance(g, Tensor) else Tensor(g)).reshape(-1))
        return cat(pieces) if len(pieces) > 1 else pieces[0].clone()  # (cat's result is new; a lone grad is not)

    def _move(self, t, d):
        """Every parameter += t * its part of ``d``."""
        offset = 0
        with no_grad():
            for p in self._params:
                n = p.numel()
                p.add_(d[offset:offset + n].reshape(p.shape), alpha=t)
                offset += n

    def _values(self):
        with no_grad():
            return [p.detach().clone() for p in self._params]

    def _restore(self, values):
        with no_grad():
            for p, v in zip(self._params, values):
                p.copy_(v)

    def _evaluate_at(self, closure, x, d):
        def evaluate(t):
            self._move(t, d)
            with enable_grad():
                loss = float(closure())
            g = self._flat_grad()
            self._restore(x)
            return loss, g

        return evaluate

    # ---- the iterations
    def step(self, closure=None):
        if closure is None or not callable(closure):
            raise ValueError("LBFGS.step needs a closure: a function that zeroes the gradients, computes the loss, "
                             "calls backward() and returns the loss (it is called several times per step)")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change, history_size = group["tolerance_grad"], group["tolerance_change"], group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with enable_grad():
            first_loss = closure()
        loss = float(first_loss)
        evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if _abs_max(flat_grad) <= tol_grad:
            return first_loss
        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs", []), state.get("old_stps", []), state.get("ro", [])
        H_diag, prev_flat_grad, prev_loss = state.get("H_diag"), state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:  # steepest descent, and an empty history
                d = -flat_grad
                old_dirs, old_stps, ro, H_diag = [], [], [], 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = _dot(y, s)
                if ys > 1e-10:  # a pair with positive curvature joins the history
                    if len(old_dirs) == history_size:
                        old_dirs, old_stps, ro = old_dirs[1:], old_stps[1:], ro[1:]
                    old_dirs, old_stps, ro = old_dirs + [y], old_stps + [s], ro + [1.0 / ys]
                    H_diag = ys / _dot(y, y)
                q = -flat_grad  # two-loop recursion: d = -H g
                alphas = [0.0] * len(old_dirs)
                for i in range(len(old_dirs) - 1, -1, -1):
                    alphas[i] = _dot(old_stps[i], q) * ro[i]
                    q = q - old_dirs[i] * alphas[i]
                d = q * H_diag
                for i in range(len(old_dirs)):
                    beta = _dot(old_dirs[i], d) * ro[i]
                    d = d + old_stps[i] * (alphas[i] - beta)
            prev_flat_grad, prev_loss = flat_grad.clone(), loss
            t = min(1.0, 1.0 / float(flat_grad.abs().sum().item())) * lr if state["n_iter"] == 1 else lr
            gtd = _dot(flat_grad, d)
            if gtd > -tol_change:  # not a descent direction any more
                break
            used, converged = 0, False
            if group["line_search_fn"] is None:
                self._move(t, d)
                if n_iter != max_iter:  # the next iteration needs the gradient here
                    with enable_grad():
                        loss = float(closure())
                    flat_grad = self._flat_grad()
                    converged = _abs_max(flat_grad) <= tol_grad
                    used = 1
            else:
                x = self._values()
                # (PyTorch's search keeps its own tolerance_change, 1e-9, and stops at the step's max_eval)
                loss, flat_grad, t, used = strong_wolfe(self._evaluate_at(closure, x, d), t, d, loss, flat_grad, gtd,
                                                        max_ls=max_eval - evals)
                self._move(t, d)
                converged = _abs_max(flat_grad) <= tol_grad
            evals += used
            state["func_evals"] += used
            if n_iter == max_iter or evals >= max_eval or converged:
                break
            if _abs_max(d) * abs(t) <= tol_change or abs(loss - prev_loss) < tol_change:
                break
        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return first_loss

    # ---- checkpoints: the history as arrays
    def state_dict(self):
        out = {"state": {}, "param_groups": [{**{k: v for k, v in g.items() if k != "params"},
                                              "params": list(range(len(g["params"])))} for g in self.param_groups]}
        state = self.state[self._params[0]] if self._params[0] in self.state else {}
        if state:
            saved = {k: state[k] for k in ("func_evals", "n_iter")}
            if "d" in state:
                n = sum(p.numel() for p in self._params)
                stack = (lambda vs: np.stack([v.numpy() for v in vs]) if vs else np.zeros((0, n), state["d"].dtype))
                saved.update(d=state["d"].numpy(), prev_flat_grad=state["prev_flat_grad"].numpy(),
                             old_dirs=stack(state["old_dirs"]), old_stps=stack(state["old_stps"]),
                             ro=np.asarray(state["ro"], np.float64), t=float(state["t"]), H_diag=float(state["H_diag"]),
                             prev_loss=float(state["prev_loss"]))
            out["state"][0] = saved
        return out

    def load_state_dict(self, state_dict):
        from ..tensor import Tensor

        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError("an optimizer state_dict is a dict with 'state' and 'param_groups'")
        groups = list(state_dict["param_groups"])
        if len(groups) != 1 or not isinstance(groups[0], dict):
            raise ValueError(f"an LBFGS state_dict has one param group, got {len(groups)}")
        saved_group = {k: v for k, v in groups[0].items() if k != "params"}
        missing = sorted(set(self.defaults) - set(saved_group))
        if missing:
            raise ValueError(f"the state_dict's param group lacks {missing}")
        group = {**{k: (v.item() if isinstance(v, np.ndarray) and v.ndim == 0 else v) for k, v in saved_group.items()},
                 "params": self._params}
        self._check(group)
        saved = dict(state_dict["state"].get("0", state_dict["state"].get(0, {})))
        state = {}
        if saved:
            for name in ("func_evals", "n_iter"):
                v = saved.get(name)
                v = v.item() if isinstance(v, np.ndarray) and v.ndim == 0 else v
                if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 0:
                    raise ValueError(f"state {name!r} must be a count >= 0, got {v!r}")
                state[name] = int(v)
            if "d" in saved:
                n = sum(p.numel() for p in self._params)
                like = self._params[0]

                def vector(v, name, rows=None):
                    v = np.asarray(v)
                    want = (n,) if rows is None else (rows, n)
                    if v.shape != want or v.dtype.kind != "f":
                        raise ValueError(f"state {name!r} must be a float array of shape {want}, got {v.shape} {v.dtype}")
                    t = Tensor(v.astype(like.dtype))
                    return t if like.device == "cpu" else t.to(like.device)

                missing = [k for k in ("prev_flat_grad", "old_dirs", "old_stps", "ro") if k not in saved]
                if missing:
                    raise ValueError(f"the state_dict's LBFGS state has a history but lacks {missing}")
                ro = np.asarray(saved["ro"], np.float64).ravel()
                k = ro.size
                dirs, stps = vector(saved["old_dirs"], "old_dirs", k), vector(saved["old_stps"], "old_stps", k)
                state.update(d=vector(saved["d"], "d"), prev_flat_grad=vector(saved["prev_flat_grad"], "prev_flat_grad"),
                             old_dirs=[dirs[i] for i in range(k)], old_stps=[stps[i] for i in range(k)],
                             ro=[float(r) for r in ro])
                for name in ("t", "H_diag", "prev_loss"):
                    if name not in saved:
                        raise ValueError(f"the state_dict's LBFGS state has a history but no {name!r}")
                    state[name] = shapes.real(np.asarray(saved[name]).item(), f"state {name!r}")
        self.param_groups = [group]
        self.state = type(self.state)()
        if state:
            self.state[self._params[0]].update(state)

