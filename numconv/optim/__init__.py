"""Optimizers with PyTorch's names, defaults and update rules: ``SGD``, ``RMSprop``, ``Adagrad``, ``Adadelta``,
``Adam``, ``AdamW``, ``Adamax``, ``NAdam``, ``RAdam``, ``Rprop``, ``ASGD``; ``LBFGS`` (``optim/lbfgs.py``).

    opt = nc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt.zero_grad(); loss.backward(); opt.step()

A parameter is any object with ``.data`` (an array, updated in place) and ``.grad`` (a Tensor, an
array, or None; None is skipped). ``param_groups`` is a list of dicts, each holding ``'params'``
and that group's hyperparameters (edit ``group['lr']`` to change a rate); ``state[param]`` holds a
parameter's buffers on the parameter's device. Each update is one fused kernel per parameter
(``numconv.ops.optim`` -> ``numconv.dispatch`` -> ``numconv.kernels.<device>.optim``).
``maximize=True`` makes the same update on the negated gradient (ascent), as PyTorch's.
``state_dict()`` holds only NumPy arrays, numbers, bools and tuples of numbers, so a checkpoint
can store it in an ``.npz``; its state is keyed by the parameters' int numbers, as PyTorch's (whose
``load_state_dict`` would silently drop state under string keys); ``load_state_dict`` also accepts
string keys and 0-d arrays (what older checkpoints hold).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import shapes
from ..autograd import enable_grad
from ..ops import optim as ops
from . import lr_scheduler

__all__ = ["Optimizer", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam", "RAdam",
           "Rprop", "ASGD", "LBFGS", "lr_scheduler"]


class ParamState:
    """``state[param]`` -> that parameter's dict of buffers (empty on first use), keyed by identity."""

    def __init__(self):
        self._entries = {}  # id(param) -> (param, dict)

    def __getitem__(self, param):
        entry = self._entries.get(id(param))
        if entry is None:
            entry = self._entries[id(param)] = (param, {})
        return entry[1]

    def __contains__(self, param):
        return id(param) in self._entries

    def __len__(self):
        return len(self._entries)

    def items(self):
        return [(p, s) for p, s in self._entries.values()]


def _grad_array(p):
    g = p.grad
    return g if isinstance(g, np.ndarray) or hasattr(g, "__cuda_array_interface__") else g.data


def _plain(v):
    """A hyperparameter loaded back from a file (0-d / 1-d arrays) as Python numbers and tuples; a
    PyTorch tensor as its values too, never the object (numconv's ``step += 1`` would change it)."""
    if hasattr(v, "__array__") and not isinstance(v, (np.ndarray, np.generic)):
        v = np.asarray(v)
    if isinstance(v, np.ndarray):
        return v.item() if v.ndim == 0 else tuple(x.item() for x in v.ravel())
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, list):
        return tuple(_plain(x) for x in v)
    return v


def _step_count(v, where):
    """A saved step counter: a whole number >= 0 (PyTorch saves it as a float tensor), as an int."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0 or v != int(v):
        raise ValueError(f"{where} must be a whole number >= 0 (the steps taken), got {v!r}")
    return int(v)


def _state_number(v, where):
    """A saved number of a parameter's state (NAdam's ``mu_product``): finite and real, as a float."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        raise ValueError(f"{where} must be a finite real number, got {v!r}")
    return float(v)


def _require(ok, message):
    if not ok:
        raise ValueError(message)


def _nonnegative(group, *names):
    """Each named hyperparameter a finite number >= 0 (a float from here on)."""
    for name in names:
        group[name] = shapes.real(group[name], name, 0.0)


def _flags(group, *names):
    for name in names:
        group[name] = shapes.flag(group[name], name)


def _betas(group):
    """``betas``: a pair, each in [0, 1)."""
    betas = group["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    group["betas"] = tuple(shapes.real(b, f"betas[{i}]", 0.0, 1.0, hi_open=True) for i, b in enumerate(betas))


class Optimizer:
    """Base class: param groups, per-parameter state, ``zero_grad``, ``step``, ``state_dict``.

    Subclasses set ``defaults``, check a group's hyperparameters in ``_check(group)``, name their
    array state in ``_buffers``, and write one parameter's update in ``_update(p, grad, state, group)``.
    """

    _buffers: tuple = ()
    _numbers: tuple = ()  # state entries that are plain numbers besides ``step`` (NAdam's ``mu_product``)
    # hyperparameters PyTorch added after some optimizers' states were saved: a saved group that
    # lacks one takes this value, as PyTorch's own ``__setstate__`` fills it in
    _added_later: dict = {"maximize": False}

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = ParamState()
        if hasattr(params, "data") or isinstance(params, dict):
            raise TypeError("params must be an iterable of parameters or of dicts (param groups), "
                            f"got {type(params).__name__}")
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        for group in params if isinstance(params[0], dict) else [{"params": params}]:
            self.add_param_group(group)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])

    def add_param_group(self, group):
        """Add a dict with ``'params'`` and any hyperparameters that differ from the defaults. The params
        may be (name, parameter) pairs, as ``model.named_parameters()`` gives: the group then keeps the
        names as ``'param_names'``, as PyTorch's."""
        if not isinstance(group, dict):
            raise TypeError(f"a param group must be a dict, got {type(group).__name__}")
        group = dict(group)
        params = group.get("params")
        if params is None:
            raise ValueError("a param group needs a 'params' entry")
        if isinstance(params, set):
            raise TypeError("params must be an ordered collection (a set's order changes between runs)")
        params = [params] if hasattr(params, "data") else list(params)
        if any(isinstance(p, tuple) for p in params):  # model.named_parameters(): (name, parameter) pairs
            if not all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in params):
                raise ValueError("params must be all parameters or all (name, parameter) pairs "
                                 "(as model.named_parameters() gives), not a mix")
            group["param_names"] = [name for name, _ in params]
            params = [p for _, p in params]
        for p in params:
            if not hasattr(p, "data") or not hasattr(p, "grad"):
                raise TypeError(f"parameters need .data and .grad, got {type(p).__name__}")
            if not getattr(p, "is_leaf", True):  # its .grad is never filled: it would silently never move
                raise ValueError("can't optimize a non-leaf Tensor (one computed from others); optimize the "
                                 "leaves it came from, or a .detach().requires_grad_() copy")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError("some parameters appear more than once in the optimizer's param groups")
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        group["params"] = params
        self._check(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Drop every gradient (``set_to_none``) or fill it with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif getattr(p.grad, "requires_grad", False):  # a gradient with a graph (create_graph): out of
                    p.grad = p.grad.detach()  # it first, as PyTorch; zero_() counts the change its graph sees
                    p.grad.zero_()
                else:
                    _grad_array(p)[...] = 0

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` re-evaluates and returns the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    grad = _grad_array(p)
                    if group.get("maximize"):  # ascend: the same update on -grad, as PyTorch
                        grad = ops.negative(grad)
                    self._update(p, grad, self.state[p], group)
                    written = getattr(p, "_written", None)  # a Tensor counts the in-place change
                    if written is not None:
                        written()
        return loss

    def _check(self, group):
        pass

    def _update(self, p, grad, state, group):
        raise NotImplementedError

    # ---- checkpoints
    def state_dict(self):
        """``{'state': {'index': {name: array | number}}, 'param_groups': [{..., 'params': [index, ...]}]}``.

        Parameters are numbered in param-group order, and the state keyed by those ints, as in
        PyTorch (so a PyTorch optimizer loads it too); arrays are NumPy copies.
        """
        index, groups = {}, []
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            saved = {k: v for k, v in group.items() if k != "params"}
            groups.append({**saved, "params": [index[id(p)] for p in group["params"]]})
        state = {}
        for p, s in self.state.items():
            if id(p) in index and s:
                state[index[id(p)]] = {k: ops.to_host(v) if k in self._buffers else v for k, v in s.items()}
        return {"state": state, "param_groups": groups}

    def _state_names(self, group):
        """The state a parameter that has taken a step must hold under ``group``'s settings."""
        return ()

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and state saved by ``state_dict`` (for the same parameters, in order).
        Anything missing or of the wrong kind is a ValueError or TypeError, before anything changes."""
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError("an optimizer state_dict is a dict with 'state' and 'param_groups', got "
                             f"{sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__}")
        if not isinstance(state_dict["state"], dict) or not isinstance(state_dict["param_groups"], (list, tuple)):
            raise TypeError("an optimizer state_dict's 'state' must be a dict and its 'param_groups' a list")
        saved_groups = list(state_dict["param_groups"])
        for i, saved in enumerate(saved_groups):
            if not isinstance(saved, dict):
                raise TypeError(f"param group {i} of the state_dict must be a dict, got {type(saved).__name__}")
            saved = saved_groups[i] = {**self._added_later, **saved}
            missing = sorted(set(self.defaults) - set(saved)) + ([] if "params" in saved else ["params"])
            if missing:
                raise ValueError(f"param group {i} of the state_dict lacks {missing}")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"state_dict has {len(saved_groups)} param groups, the optimizer has "
                             f"{len(self.param_groups)}")
        by_index, groups = {}, []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            ids = [int(k) for k in np.asarray(saved["params"]).ravel()]
            if len(ids) != len(group["params"]):
                raise ValueError(f"param group {i} of the state_dict has {len(ids)} parameters, the optimizer's "
                                 f"has {len(group['params'])}")
            by_index.update(zip(ids, group["params"]))
            loaded = {k: _plain(v) for k, v in saved.items() if k != "params"}
            if "param_names" in loaded:
                loaded["param_names"] = list(loaded["param_names"])
            elif "param_names" in group:  # a state saved without names: the group keeps its own, as PyTorch's
                loaded["param_names"] = group["param_names"]
            groups.append({**loaded, "params": group["params"]})
        state = ParamState()
        for key, saved in state_dict["state"].items():
            if not isinstance(saved, dict):
                raise TypeError(f"state[{key!r}] of the state_dict must be a dict, got {type(saved).__name__}")
            p = by_index.get(int(key))
            if p is None:
                raise ValueError(f"state_dict has state for parameter {key}, which no param group lists")
            s = state[p]
            for name, v in saved.items():
                where = f"state[{key}][{name!r}]"
                s[name] = ops.from_host(v, p.data, where) if name in self._buffers else \
                    _step_count(_plain(v), where) if name == "step" else \
                    _state_number(_plain(v), where) if name in self._numbers else _plain(v)
        for group in groups:
            self._check(group)
        for group in groups:
            for p in group["params"]:
                s = state[p] if p in state else {}
                lacking = [name for name in self._state_names(group) if s and name not in s]
                if lacking:
                    raise ValueError(f"the state_dict's state of a parameter lacks {lacking} (has {sorted(s)})")
        self.param_groups, self.state = groups, state



class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum (heavy-ball or Nesterov) and weight decay.

    d = g + weight_decay * p;  b = momentum * b + (1 - dampening) * d  (b = d on the first step);
    d = d + momentum * b (nesterov) or b;  p = p - lr * d.
    """

    _buffers = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def _check(self, group):
        _nonnegative(group, "lr", "momentum", "weight_decay")
        group["dampening"] = shapes.real(group["dampening"], "dampening", 0.0, 1.0)
        _flags(group, "nesterov", "maximize")
        _require(not group["nesterov"] or (group["momentum"] > 0 and group["dampening"] == 0),
                 f"nesterov=True requires momentum > 0 and dampening = 0, got momentum={group['momentum']!r}, "
                 f"dampening={group['dampening']!r}")

    def _update(self, p, grad, state, group):
        first = group["momentum"] != 0 and "momentum_buffer" not in state
        if first:
            state["momentum_buffer"] = ops.zeros_like(p.data)
        ops.sgd_step(p.data, grad, state.get("momentum_buffer"), group["lr"], group["momentum"], group["dampening"],
                     group["weight_decay"], group["nesterov"], first)


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root mean square (optionally centered), with momentum.

    v = alpha * v + (1 - alpha) * g^2;  s = sqrt(v - mean(g)^2) if centered else sqrt(v);
    b = momentum * b + g / (s + eps), p = p - lr * b  (or p = p - lr * g / (s + eps) without momentum).
    """

    _buffers = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
                 maximize=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _check(self, group):
        _nonnegative(group, "lr", "eps", "momentum", "weight_decay")
        group["alpha"] = shapes.real(group["alpha"], "alpha", 0.0, 1.0)
        _flags(group, "centered", "maximize")

    def _state_names(self, group):
        return ("step", "square_avg") + (("momentum_buffer",) if group["momentum"] > 0 else ()) + \
            (("grad_avg",) if group["centered"] else ())

    def _update(self, p, grad, state, group):
        state.setdefault("step", 0)
        for name, used in (("square_avg", True), ("momentum_buffer", group["momentum"] > 0),
                           ("grad_avg", group["centered"])):
            if used and name not in state:
                state[name] = ops.zeros_like(p.data)
        state["step"] += 1
        ops.rmsprop_step(p.data, grad, state["square_avg"], state.get("momentum_buffer"), state.get("grad_avg"),
                         group["lr"], group["alpha"], group["eps"], group["weight_decay"], group["momentum"],
                         group["centered"])


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.): divide by the root of each element's running sum of squared gradients.

    g = g + weight_decay * p;  s = s + g^2;  p = p - clr * g / (sqrt(s) + eps), with the decayed rate
    clr = lr / (1 + (t - 1) * lr_decay) at step t; s starts at ``initial_accumulator_value``.
    """

    _buffers = ("sum",)

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, *,
                 maximize=False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize))

    def _check(self, group):
        _nonnegative(group, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")
        _flags(group, "maximize")

    def _state_names(self, group):
        return ("step", "sum")

    def _update(self, p, grad, state, group):
        if not state:  # as PyTorch, which fills the state when the optimizer is made; here at the first step
            state.update(step=0, sum=ops.full_like(p.data, group["initial_accumulator_value"]))
        state["step"] += 1
        ops.adagrad_step(p.data, grad, state["sum"], group["lr"], group["weight_decay"], group["lr_decay"],
                         group["eps"], state["step"])


class Adadelta(Optimizer):
    """Adadelta (Zeiler): a step scaled by the ratio of running roots of squared steps and gradients.

    g = g + weight_decay * p;  v = rho * v + (1 - rho) * g^2;  d = sqrt(a + eps) / sqrt(v + eps) * g;
    a = rho * a + (1 - rho) * d^2;  p = p - lr * d.
    """

    _buffers = ("square_avg", "acc_delta")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _check(self, group):
        _nonnegative(group, "lr", "eps", "weight_decay")
        group["rho"] = shapes.real(group["rho"], "rho", 0.0, 1.0)
        _flags(group, "maximize")

    def _state_names(self, group):
        return ("step", "square_avg", "acc_delta")

    def _update(self, p, grad, state, group):
        if not state:
            state.update(step=0, square_avg=ops.zeros_like(p.data), acc_delta=ops.zeros_like(p.data))
        state["step"] += 1
        ops.adadelta_step(p.data, grad, state["square_avg"], state["acc_delta"], group["lr"], group["rho"],
                          group["eps"], group["weight_decay"])


class Adam(Optimizer):
    """Adam (Kingma & Ba) with optional AMSGrad; ``decoupled_weight_decay=True`` is AdamW.

    m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2;
    p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps), with v the running max
    of v under amsgrad. Weight decay adds ``weight_decay * p`` to g, or (decoupled) first scales p
    by ``1 - lr * weight_decay``.
    """

    _buffers = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    # decoupled_weight_decay: PyTorch 2.6; AdamW's states had none before
    _added_later = {"maximize": False, "decoupled_weight_decay": False}

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                 decoupled_weight_decay=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _check(self, group):
        _nonnegative(group, "lr", "eps", "weight_decay")
        _flags(group, "amsgrad", "decoupled_weight_decay", "maximize")
        _betas(group)

    def _state_names(self, group):
        return ("step", "exp_avg", "exp_avg_sq")

    def _update(self, p, grad, state, group):
        if not state:
            state.update(step=0, exp_avg=ops.zeros_like(p.data), exp_avg_sq=ops.zeros_like(p.data))
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = ops.zeros_like(p.data)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        ops.adam_step(p.data, grad, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"), group["lr"],
                      beta1, beta2, group["eps"], group["weight_decay"], group["decoupled_weight_decay"],
                      group["amsgrad"], state["step"])


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p = p * (1 - lr * weight_decay) before the step."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay=True, maximize=maximize)

    _added_later = {"maximize": False, "decoupled_weight_decay": True}

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


class Adamax(Optimizer):
    """Adamax (Kingma & Ba): Adam with the infinity norm in place of the second moment.

    g = g + weight_decay * p;  m = beta1 * m + (1 - beta1) * g;  u = max(beta2 * u, |g| + eps);
    p = p - lr / (1 - beta1^t) * m / u.
    """

    _buffers = ("exp_avg", "exp_inf")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _check(self, group):
        _nonnegative(group, "lr", "eps", "weight_decay")
        _flags(group, "maximize")
        _betas(group)

    def _state_names(self, group):
        return ("step", "exp_avg", "exp_inf")

    def _update(self, p, grad, state, group):
        if not state:
            state.update(step=0, exp_avg=ops.zeros_like(p.data), exp_inf=ops.zeros_like(p.data))
        state["step"] += 1
        beta1, beta2 = group["betas"]
        ops.adamax_step(p.data, grad, state["exp_avg"], state["exp_inf"], group["lr"], beta1, beta2, group["eps"],
                        group["weight_decay"], state["step"])


class NAdam(Optimizer):
    """NAdam (Dozat): Adam with Nesterov momentum, its momentum warmed up by ``momentum_decay``.

    mu_t = beta1 * (1 - 0.96^(t * momentum_decay) / 2), prod_t = mu_1 ... mu_t;  m, v as Adam's;
    d = sqrt(v / (1 - beta2^t)) + eps;  p = p - lr * (1 - mu_t) / (1 - prod_t) * g / d
    - lr * mu_{t+1} / (1 - prod_t * mu_{t+1}) * m / d. Weight decay adds ``weight_decay * p`` to g, or
    (``decoupled_weight_decay``) first scales p by ``1 - lr * weight_decay``. ``state[p]['mu_product']``
    is prod_t, a number (float32-rounded, as PyTorch's 0-d tensor).
    """

    _buffers = ("exp_avg", "exp_avg_sq")
    _numbers = ("mu_product",)
    _added_later = {"maximize": False, "decoupled_weight_decay": False}

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _check(self, group):
        _nonnegative(group, "lr", "eps", "weight_decay", "momentum_decay")
        _flags(group, "decoupled_weight_decay", "maximize")
        _betas(group)

    def _state_names(self, group):
        return ("step", "mu_product", "exp_avg", "exp_avg_sq")

    def _update(self, p, grad, state, group):
        if not state:
            state.update(step=0, mu_product=1.0, exp_avg=ops.zeros_like(p.data), exp_avg_sq=ops.zeros_like(p.data))
        state["step"] += 1
        beta1, beta2 = group["betas"]
        state["mu_product"] = ops.nadam_mu_product(state["mu_product"], beta1, group["momentum_decay"], state["step"])
        ops.nadam_step(p.data, grad, state["exp_avg"], state["exp_avg_sq"], group["lr"], beta1, beta2, group["eps"],
                       group["weight_decay"], group["momentum_decay"], group["decoupled_weight_decay"],
                       state["mu_product"], state["step"])


class RAdam(Optimizer):
    """RAdam (Liu et al.): Adam whose adaptive rate is switched on, rectified, once its variance is tractable.

    m, v as Adam's;  rho_inf = 2 / (1 - beta2) - 1,  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t);
    p = p - lr * m / (1 - beta1^t) * sqrt(1 - beta2^t) / (sqrt(v) + eps) * r_t where rho_t > 5, with
    r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t)), else
    p = p - lr * m / (1 - beta1^t). Weight decay as NAdam's.
    """

    _buffers = ("exp_avg", "exp_avg_sq")
    _added_later = {"maximize": False, "decoupled_weight_decay": False}

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def _check(self, group):
        _nonnegative(group, "lr", "eps", "weight_decay")
        _flags(group, "decoupled_weight_decay", "maximize")
        _betas(group)

    def _state_names(self, group):
        return ("step", "exp_avg", "exp_avg_sq")

    def _update(self, p, grad, state, group):
        if not state:
            state.update(step=0, exp_avg=ops.zeros_like(p.data), exp_avg_sq=ops.zeros_like(p.data))
        state["step"] += 1
        beta1, beta2 = group["betas"]
        ops.radam_step(p.data, grad, state["exp_avg"], state["exp_avg_sq"], group["lr"], beta1, beta2, group["eps"],
                       group["weight_decay"], group["decoupled_weight_decay"], state["step"])


def _pair(group, name, check):
    """A (low, high) hyperparameter pair, each checked by ``check(value, 'name[i]')``."""
    pair = group[name]
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"{name} must be a pair, got {pair!r}")
    group[name] = tuple(check(v, f"{name}[{i}]") for i, v in enumerate(pair))


class Rprop(Optimizer):
    """Rprop (Riedmiller & Braun): each element moves by its own step size against the gradient's sign.

    s = sign(g * g_prev);  step = clamp(step * (etaplus if s > 0, etaminus if s < 0, else 1), *step_sizes);
    where s < 0 the gradient counts as 0 (no move, and no sign change next time);  p = p - sign(g) * step.
    Step sizes start at ``lr``. Meant for full-batch gradients: minibatch noise flips the signs.
    """

    _buffers = ("prev", "step_size")

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, maximize=False):
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, maximize=maximize))

    def _check(self, group):
        _nonnegative(group, "lr")
        _flags(group, "maximize")
        _pair(group, "etas", lambda v, name: shapes.real(v, name, 0.0, lo_open=True))
        _pair(group, "step_sizes", lambda v, name: shapes.real(v, name, 0.0))
        etaminus, etaplus = group["etas"]
        _require(etaminus < 1.0 < etaplus, f"etas must be (etaminus, etaplus) with 0 < etaminus < 1 < etaplus, got "
                                           f"{group['etas']}")
        _require(group["step_sizes"][0] <= group["step_sizes"][1],
                 f"step_sizes must be (smallest, largest), got {group['step_sizes']}")

    def _state_names(self, group):
        return ("step", "prev", "step_size")

    def _update(self, p, grad, state, group):
        if not state:
            state.update(step=0, prev=ops.zeros_like(p.data), step_size=ops.full_like(p.data, group["lr"]))
        state["step"] += 1
        etaminus, etaplus = group["etas"]
        ops.rprop_step(p.data, grad, state["prev"], state["step_size"], etaminus, etaplus, *group["step_sizes"])


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky; Bottou's schedule): SGD with a decaying rate, and a running
    average of the iterates from step ``t0`` on, in ``state[p]['ax']`` (copy it into the parameters to
    evaluate the averaged model).

    g = g + weight_decay * p;  p = p * (1 - lambd * eta) - eta * g;  ax = p while mu = 1, else
    ax = ax + mu * (p - ax);  then eta = lr / (1 + lambd * lr * t)^alpha and mu = 1 / max(1, t - t0)
    for the next step. ``eta`` and ``mu`` are numbers rounded to float32, as PyTorch's 0-d tensors.
    """

    _buffers = ("ax",)
    _numbers = ("eta", "mu")

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, *, maximize=False):
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      maximize=maximize))

    def _check(self, group):
        _nonnegative(group, "lr", "lambd", "alpha", "weight_decay")
        group["t0"] = shapes.real(group["t0"], "t0")
        _flags(group, "maximize")

    def _state_names(self, group):
        return ("step", "eta", "mu", "ax")

    def _update(self, p, grad, state, group):
        if not state:
            state.update(step=0, eta=float(np.float32(group["lr"])), mu=1.0, ax=ops.zeros_like(p.data))
        state["step"] += 1
        ops.asgd_step(p.data, grad, state["ax"], state["eta"], group["lambd"], state["mu"], group["weight_decay"])
        lr, step = group["lr"], state["step"]
        state["eta"] = float(np.float32(lr / ((1 + group["lambd"] * lr * step) ** group["alpha"])))
        state["mu"] = float(np.float32(1 / max(1, step - group["t0"])))


from .lbfgs import LBFGS  # noqa: E402 (it subclasses Optimizer)
