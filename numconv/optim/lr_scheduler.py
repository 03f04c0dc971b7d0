"""Learning-rate schedules, as ``torch.optim.lr_scheduler``: ``LambdaLR``, ``MultiplicativeLR``, ``StepLR``,
``MultiStepLR``, ``ConstantLR``, ``LinearLR``, ``ExponentialLR``, ``PolynomialLR``, ``CosineAnnealingLR``,
``CosineAnnealingWarmRestarts``, ``OneCycleLR``, ``CyclicLR``, ``ReduceLROnPlateau``, ``SequentialLR``,
``ChainedScheduler``.

    sched = StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(epochs):
        train(...); opt.step() ...; sched.step()

A scheduler writes ``group['lr']`` of each param group (``OneCycleLR`` and ``CyclicLR`` also
``group['momentum']``, or ``group['betas'][0]``). Creating one records each group's ``initial_lr`` and
performs step 0; each ``step()`` then advances one epoch (``ReduceLROnPlateau.step(metrics)``: one
epoch's metric; ``OneCycleLR`` and ``CyclicLR``: one batch).

A param group added to the optimizer after the scheduler was made: the recursive schedules (``StepLR``,
``MultiStepLR``, ``ConstantLR``, ``LinearLR``, ``ExponentialLR``, ``PolynomialLR``, ``ChainedScheduler`` of
them, ``SequentialLR`` past its last milestone) multiply its rate at each ``step()`` as they do the others',
as PyTorch's do; ``ReduceLROnPlateau`` reduces it too, down to a single ``min_lr``. Everything else needs a
base rate the new group lacks, and PyTorch fails then, at once or some epochs later: numconv raises a
ValueError at the next step, before any rate changes.
``state_dict()`` has PyTorch's entries, each a number, a string, None, or a list or dict of them (a
lambda that is a callable object adds its ``__dict__``), so ``numconv.checkpoint`` stores it;
``load_state_dict`` also loads PyTorch's.
"""
from __future__ import annotations

import copy
import math
import numbers
import types
from bisect import bisect_right
from collections import Counter

import numpy as np

from .. import shapes

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "OneCycleLR",
           "CyclicLR", "ReduceLROnPlateau", "SequentialLR", "ChainedScheduler"]


def _plain(v):
    if isinstance(v, np.ndarray):
        return v.item() if v.ndim == 0 else [x.item() for x in v.ravel()]
    return v.item() if isinstance(v, np.generic) else v


_WHOLE = {"last_epoch": -1, "_step_count": 0, "step_size": 1, "T_max": 1,  # integer entries, and their least values
          "total_iters": 1, "T_0": 1, "T_i": 1, "T_mult": 1, "total_steps": 1, "patience": 0, "cooldown": 0,
          "cooldown_counter": 0, "num_bad_epochs": 0, "milestones": 0, "_milestones": 0}
_CHOICES = {"mode": ("min", "max"), "threshold_mode": ("rel", "abs"), "_anneal_func_type": ("cos", "linear")}
_IGNORED = ("_get_lr_called_within_step", "verbose")  # PyTorch's bookkeeping, with no meaning here


def _number(v, name, whole):
    """A saved number checked: a finite real (a whole one >= its least value for ``whole`` names), else >= 0."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"the scheduler state's {name!r} must be a finite number, got {v!r}")
    if whole:
        if v != int(v) or v < _WHOLE[name]:
            raise ValueError(f"the scheduler state's {name!r} must be a whole number >= {_WHOLE[name]}, got {v!r}")
        return int(v)
    if v < 0:
        raise ValueError(f"the scheduler state's {name!r} must be >= 0, got {v!r}")
    return v


def _like(v, mine, name):
    """The saved entry ``v`` checked to be of the kind of this scheduler's own entry ``mine``."""
    if isinstance(mine, bool):
        if not isinstance(v, bool):
            raise ValueError(f"the scheduler state's {name!r} must be True or False, got {v!r}")
        return v
    if isinstance(mine, (int, float)):
        return _number(v, name, name in _WHOLE)
    if isinstance(mine, str):
        if not isinstance(v, str) or v not in _CHOICES[name]:
            raise ValueError(f"the scheduler state's {name!r} must be one of {_CHOICES[name]}, got {v!r}")
        return v
    if isinstance(mine, list):
        if not isinstance(v, (list, tuple)) or len(v) != len(mine):
            raise ValueError(f"the scheduler state's {name!r} must be a list of {len(mine)} numbers (one per param "
                             f"group), got {v!r}")
        return [_number(x, name, False) for x in v]
    return v


def _epochs(v, name, count=None):
    """A saved list of whole epochs >= 0 (``count`` of them, if given), sorted."""
    if not isinstance(v, (list, tuple)) or (count is not None and len(v) != count):
        raise ValueError(f"the scheduler state's {name!r} must be a list of "
                         f"{'' if count is None else f'{count} '}whole epochs, got {v!r}")
    epochs = [_number(x, name, True) for x in v]
    if epochs != sorted(epochs):
        raise ValueError(f"the scheduler state's {name!r} must be in increasing order, got {v!r}")
    return epochs


def _optimizer(optimizer):
    if not hasattr(optimizer, "param_groups"):
        raise TypeError(f"{type(optimizer).__name__} is not an optimizer")
    return optimizer


def _per_group(value, name, optimizer, lo=0.0, hi=None, hi_open=False):
    """A number, or a list or tuple of one per param group (PyTorch's ``_format_param``), as a list of floats."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name} must have one value per param group ({n}), got {len(value)}: {value!r}")
        return [shapes.real(v, f"{name}[{i}]", lo, hi, hi_open=hi_open) for i, v in enumerate(value)]
    return [shapes.real(value, name, lo, hi, hi_open=hi_open)] * n


def _whole_epoch(epoch):
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Real) or not math.isfinite(epoch) \
            or epoch != int(epoch):
        raise ValueError(f"epoch must be a whole number, got {epoch!r}")
    return int(epoch)


class LRScheduler:
    """Base class: subclasses give ``get_lr()`` (from the groups' current rates, chainable) and
    ``_closed_form_lr()`` (from ``base_lrs`` at ``last_epoch``, used by ``step(epoch)``)."""

    _held = ("optimizer",)  # attributes that are not saved as they are

    def __init__(self, optimizer, last_epoch=-1):
        self.optimizer = _optimizer(optimizer)
        groups = optimizer.param_groups
        if last_epoch == -1:
            for group in groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param_groups[{i}] has no 'initial_lr' to resume the schedule from "
                                   f"(last_epoch={last_epoch})")
        self.base_lrs = [group["initial_lr"] for group in groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        """Step 0: count steps from here; recursive forms keep the rates as they are (``_is_initial``)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):
        raise NotImplementedError

    def _closed_form_lr(self):
        return self.get_lr()

    # A recursive schedule (each step multiplies every group's current rate) takes a param group added
    # after it along from that group's own rate, as PyTorch's does; the others need a base rate per group.
    _follows_new_groups = False

    def _check_groups(self, closed_form=False):
        """A ValueError, before anything changes, if the optimizer gained a param group this schedule can't
        drive: any schedule on ``step(epoch)`` (its closed form reads ``base_lrs``), the others on ``step()``."""
        groups = self.optimizer.param_groups
        if len(groups) == len(self.base_lrs) or (self._follows_new_groups and not closed_form):
            return
        name = type(self).__name__
        how = "step(epoch) computes each group's rate from its base rate" if self._follows_new_groups else \
            "its rates are computed from each group's base rate"
        raise ValueError(f"the optimizer has {len(groups)} param groups, but this {name} was made for "
                         f"{len(self.base_lrs)} and {how}, which a group added since lacks: make the {name} after "
                         f"the last add_param_group (to carry on at epoch k: set each group's 'initial_lr' and make "
                         f"it with last_epoch=k)")

    def step(self, epoch=None):
        """Advance one epoch (or jump to the whole number ``epoch``) and write the new rates into the param groups."""
        self._check_groups(closed_form=epoch is not None)
        if epoch is not None:
            epoch = _whole_epoch(epoch)
        self._step_count += 1
        try:
            self._update_lr(epoch)
        except BaseException:
            self._step_count -= 1
            raise

    def _update_lr(self, epoch=None):
        """Set ``last_epoch`` (one on, or ``epoch``) and write its rates; if they can't be had, nothing changes."""
        before = self.last_epoch
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                values = self._closed_form_lr()
        except BaseException:
            self.last_epoch = before
            raise
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        """The rates the last ``step()`` set, one per param group."""
        return list(self._last_lr)

    def state_dict(self):
        """Everything but the optimizer, as copies: PyTorch's entries."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k not in self._held}

    def load_state_dict(self, state_dict):
        """Restore a ``state_dict()``, numconv's or PyTorch's: every entry this scheduler keeps must be
        there, of its kind (whole epochs and counts, finite rates, one per param group), nothing else;
        a ValueError names the first that is not, and nothing changes then."""
        self._apply(self._checked(state_dict))

    def _checked(self, state_dict):
        """``state_dict``'s entries, each checked by ``_entry``, for ``_apply``."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"a scheduler state_dict must be a dict, got {type(state_dict).__name__}")
        saved = {("_is_initial" if k == "_initial" else k): _plain(v)  # '_initial': numconv's name until 2026-11
                 for k, v in state_dict.items() if k not in _IGNORED}
        own = self.state_dict()
        missing, unknown = sorted(set(own) - set(saved)), sorted(set(saved) - set(own), key=str)
        if missing or unknown:
            raise ValueError(f"not a {type(self).__name__} state: "
                             + "; ".join(([f"it lacks {missing}"] if missing else [])
                                         + ([f"it has entries {unknown} this scheduler does not"] if unknown else [])))
        return {k: self._entry(k, v, own[k]) for k, v in saved.items()}

    def _entry(self, name, v, mine):
        return _like(v, mine, name)

    def _apply(self, values):
        self.__dict__.update(values)


class _Lambdas:
    """``lr_lambdas``, one per param group, saved as PyTorch does: a plain function as None, a callable
    object as a copy of its ``__dict__`` (loading updates the object's)."""

    _held = ("optimizer", "lr_lambdas")

    def _set_lambdas(self, optimizer, lr_lambda):
        n = len(_optimizer(optimizer).param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"Expected {n} lr_lambdas (one per param group), but got {len(lr_lambda)}")
            lambdas = list(lr_lambda)
        else:
            lambdas = [lr_lambda] * n
        for fn in lambdas:
            if not callable(fn):
                raise TypeError(f"lr_lambda must be a function or a callable object, got {fn!r}")
        self.lr_lambdas = lambdas

    @staticmethod
    def _stateless(fn):
        return isinstance(fn, types.FunctionType) or not hasattr(fn, "__dict__")

    def state_dict(self):
        return {**super().state_dict(),
                "lr_lambdas": [None if self._stateless(fn) else fn.__dict__.copy() for fn in self.lr_lambdas]}

    def _entry(self, name, v, mine):
        if name != "lr_lambdas":
            return super()._entry(name, v, mine)
        if not isinstance(v, (list, tuple)) or len(v) != len(mine):
            raise ValueError(f"the scheduler state's 'lr_lambdas' must be a list of {len(mine)} entries (one per "
                             f"param group), got {v!r}")
        for i, (attrs, fn) in enumerate(zip(v, self.lr_lambdas)):
            if attrs is not None and (not isinstance(attrs, dict) or not all(isinstance(k, str) for k in attrs)):
                raise ValueError(f"the scheduler state's 'lr_lambdas'[{i}] must be None or a dict of attributes, "
                                 f"got {attrs!r}")
            if attrs is not None and self._stateless(fn):
                raise ValueError(f"the scheduler state holds attributes {sorted(attrs)} for lr_lambdas[{i}], which "
                                 "is a plain function here (only a callable object's state is saved)")
        return list(v)

    def _apply(self, values):
        saved = values.pop("lr_lambdas")
        super()._apply(values)
        for fn, attrs in zip(self.lr_lambdas, saved):
            if attrs is not None:
                fn.__dict__.update(attrs)


class LambdaLR(_Lambdas, LRScheduler):
    """Each group's base rate times a function of the epoch: lr = base_lr * lr_lambda(epoch)."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        self._set_lambdas(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_Lambdas, LRScheduler):
    """Multiply each group's rate by a function of the epoch at every step: lr = lr * lr_lambda(epoch).
    ``step(epoch)`` multiplies by ``lr_lambda(epoch)`` too (there is no closed form)."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        self._set_lambdas(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self._is_initial:
            return [group["lr"] for group in groups]
        return [group["lr"] * fn(self.last_epoch) for fn, group in zip(self.lr_lambdas, groups)]


class StepLR(LRScheduler):
    """Multiply each group's rate by ``gamma`` every ``step_size`` epochs: lr = base_lr * gamma^(epoch // step_size)."""

    _follows_new_groups = True

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if int(step_size) != step_size or step_size < 1:
            raise ValueError(f"invalid step_size={step_size!r}: must be a positive integer")
        self.step_size = int(step_size)
        self.gamma = shapes.real(gamma, "gamma", 0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _closed_form_lr(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply each group's rate by ``gamma`` at each milestone (by gamma^k at one given k times):
    lr = base_lr * gamma^(number of milestones <= epoch). The milestones may come in any order, as PyTorch's.

    ``state_dict()['milestones']`` is their sorted list (PyTorch saves a Counter, which loads too).
    """

    _follows_new_groups = True

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        if isinstance(milestones, (str, bytes, dict)) or not hasattr(milestones, "__iter__"):
            raise TypeError(f"milestones must be a list of epochs, got {milestones!r}")
        self.milestones = Counter(shapes.integer(m, f"milestones[{i}]", 0) for i, m in enumerate(milestones))
        self.gamma = shapes.real(gamma, "gamma", 0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self.last_epoch not in self.milestones:
            return [group["lr"] for group in groups]
        return [group["lr"] * self.gamma ** self.milestones[self.last_epoch] for group in groups]

    def _closed_form_lr(self):
        passed = bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [base * self.gamma ** passed for base in self.base_lrs]

    def state_dict(self):
        return {**super().state_dict(), "milestones": sorted(self.milestones.elements())}

    def _entry(self, name, v, mine):
        if name != "milestones":
            return super()._entry(name, v, mine)
        if isinstance(v, dict):  # PyTorch's Counter: {epoch: times}
            for times in v.values():
                if isinstance(times, bool) or not isinstance(times, int) or times < 1:
                    raise ValueError(f"the scheduler state's 'milestones' must count each epoch a whole number "
                                     f">= 1 of times, got {v!r}")
            v = sorted(Counter(v).elements()) if all(isinstance(k, int) for k in v) else list(v)
        return Counter(_epochs(v, "milestones"))


class ConstantLR(LRScheduler):
    """Each group's rate times ``factor`` until epoch ``total_iters``, then its base rate:
    lr = base_lr * (factor if epoch < total_iters else 1).

    ``factor`` is in (0, 1]: PyTorch takes 0 too, then divides by it at ``total_iters``.
    """

    _follows_new_groups = True

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5, last_epoch=-1):
        self.factor = shapes.real(factor, "factor", 0.0, 1.0, lo_open=True)
        self.total_iters = shapes.integer(total_iters, "total_iters", 1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in groups]
        if self.last_epoch != self.total_iters:
            return [group["lr"] for group in groups]
        return [group["lr"] * (1.0 / self.factor) for group in groups]

    def _closed_form_lr(self):
        return [base * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Each group's rate times a factor going linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` epochs: lr = base_lr * (s + (e - s) * min(epoch, total_iters) / total_iters)."""

    _follows_new_groups = True

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        self.start_factor = shapes.real(start_factor, "start_factor", 0.0, 1.0, lo_open=True)
        self.end_factor = shapes.real(end_factor, "end_factor", 0.0, 1.0)
        self.total_iters = shapes.integer(total_iters, "total_iters", 1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups, e, T = self.optimizer.param_groups, self.last_epoch, self.total_iters
        s, d = self.start_factor, self.end_factor - self.start_factor
        if e == 0:
            return [group["lr"] * s for group in groups]
        if self._is_initial or e > T:
            return [group["lr"] for group in groups]
        return [group["lr"] * (1.0 + d / (T * s + (e - 1) * d)) for group in groups]

    def _closed_form_lr(self):
        s, d, T = self.start_factor, self.end_factor - self.start_factor, self.total_iters
        return [base * (s + d * min(T, self.last_epoch) / T) for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply each group's rate by ``gamma`` every epoch: lr = base_lr * gamma^epoch."""

    _follows_new_groups = True

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = shapes.real(gamma, "gamma", 0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _closed_form_lr(self):
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    """Decay each group's rate to 0 over ``total_iters`` epochs: lr = base_lr * (1 - min(epoch, total_iters) /
    total_iters)^power."""

    _follows_new_groups = True

    def __init__(self, optimizer, total_iters=5, power=1.0, last_epoch=-1):
        self.total_iters = shapes.integer(total_iters, "total_iters", 1)
        self.power = shapes.real(power, "power", 0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups, e, T = self.optimizer.param_groups, self.last_epoch, self.total_iters
        if self._is_initial or e > T:
            return [group["lr"] for group in groups]
        decay = ((1.0 - e / T) / (1.0 - (e - 1) / T)) ** self.power
        return [group["lr"] * decay for group in groups]

    def _closed_form_lr(self):
        T = self.total_iters
        return [base * (1.0 - min(T, self.last_epoch) / T) ** self.power for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from each group's base rate to ``eta_min`` over ``T_max`` epochs:
    lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2, continuing periodically.

    ``step()`` uses PyTorch's recursive form (so it composes with other changes to ``group['lr']``).
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if int(T_max) != T_max or T_max < 1:
            raise ValueError(f"invalid T_max={T_max!r}: must be a positive integer")
        self.T_max = int(T_max)
        self.eta_min = shapes.real(eta_min, "eta_min", 0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups, e, T, eta = self.optimizer.param_groups, self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return [group["lr"] for group in groups]
        if self._step_count == 1 and e > 0:
            return [eta + (base - eta) * (1 + math.cos(e * math.pi / T)) / 2 for base in self.base_lrs]
        if (e - 1 - T) % (2 * T) == 0:
            return [group["lr"] + (base - eta) * (1 - math.cos(math.pi / T)) / 2
                    for base, group in zip(self.base_lrs, groups)]
        return [(1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (group["lr"] - eta) + eta
                for group in groups]

    def _closed_form_lr(self):
        e, T, eta = self.last_epoch, self.T_max, self.eta_min
        return [eta + (base - eta) * (1 + math.cos(math.pi * e / T)) / 2 for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing restarted every T_i epochs (SGDR), T_0 first, each period ``T_mult`` times the last:
    lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2, T_cur the epochs since the restart.

    ``step(epoch)`` takes a fractional epoch (steps within an epoch), as PyTorch's; it finds the period with
    PyTorch's floating-point logarithm, so an epoch exactly at a restart may land at the end of the period
    before (lr = eta_min), as it does there. As in PyTorch, ``step()`` leaves ``_step_count`` at 0.
    """

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1):
        self.T_0 = shapes.integer(T_0, "T_0", 1)
        self.T_i = self.T_0
        self.T_mult = shapes.integer(T_mult, "T_mult", 1)
        self.eta_min = shapes.real(eta_min, "eta_min", 0.0)
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        eta = self.eta_min
        return [eta + (base - eta) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2 for base in self.base_lrs]

    def step(self, epoch=None):
        """Advance one step, or go to ``epoch`` (a real number >= 0; a fraction is part of an epoch)."""
        self._check_groups()
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        T_0, T_mult = self.T_0, self.T_mult
        if epoch is None:
            epoch = self.last_epoch + 1
            T_cur, T_i = self.T_cur + 1, self.T_i
            if T_cur >= T_i:
                T_cur, T_i = T_cur % T_i, T_i * T_mult
        else:
            shapes.real(epoch, "epoch", 0.0)
            epoch = _plain(epoch)
            T_i = self.T_i
            if epoch >= T_0:
                if T_mult == 1:
                    T_cur = epoch % T_0
                else:
                    n = int(math.log((epoch / T_0 * (T_mult - 1) + 1), T_mult))
                    T_cur = epoch - T_0 * (T_mult ** n - 1) / (T_mult - 1)
                    T_i = T_0 * T_mult ** n
            else:
                T_i, T_cur = T_0, epoch
        self.T_cur, self.T_i, self.last_epoch = T_cur, T_i, math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]


def _annealing_cos(start, end, pct):
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _annealing_linear(start, end, pct):
    return (end - start) * pct + start


_LR_KEYS, _MOMENTUM_KEYS = ("initial_lr", "max_lr", "min_lr"), ("max_momentum", "base_momentum")


def _momentum_range(optimizer, base_momentum, max_momentum, refusal):
    """(use_beta1, base momentums, max momentums) per group for a schedule that cycles the momentum: the
    optimizer's ``momentum``, or beta1 of its ``betas`` (then each < 1); ValueError ``refusal`` if it has neither."""
    defaults = getattr(optimizer, "defaults", {})
    if "momentum" not in defaults and "betas" not in defaults:
        raise ValueError(refusal)
    use_beta1 = "betas" in defaults
    hi = 1.0 if use_beta1 else None  # beta1 < 1
    return (use_beta1, _per_group(base_momentum, "base_momentum", optimizer, 0.0, hi, hi_open=True),
            _per_group(max_momentum, "max_momentum", optimizer, 0.0, hi, hi_open=True))


def _set_momentum(group, m, use_beta1):
    """A group's cycled momentum: beta1 of its ``betas`` (``use_beta1``) or its ``momentum``."""
    if use_beta1:
        group["betas"] = (m, *group["betas"][1:])
    else:
        group["momentum"] = m


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith): per step, each group's rate goes from ``max_lr / div_factor`` up to
    ``max_lr`` over the first ``pct_start`` of ``total_steps`` (or ``epochs * steps_per_epoch``), then
    down to ``max_lr / div_factor / final_div_factor`` (``three_phase``: back to the start, then down),
    annealing by cosine or linearly; with ``cycle_momentum`` the momentum (SGD, RMSprop) or beta1
    (Adam) goes the other way between ``max_momentum`` and ``base_momentum``.

    Each group keeps ``initial_lr``, ``max_lr``, ``min_lr`` (and ``max_momentum``, ``base_momentum``).
    As in PyTorch, the cycle takes ``total_steps`` steps after step 0, the last one past the end of
    the last phase (its rate extrapolated: below ``min_lr`` when linear); a further step is a
    ValueError, as is a step into a phase of no steps (where PyTorch divides by zero).
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        groups = _optimizer(optimizer).param_groups
        if total_steps is not None:
            total_steps = shapes.integer(total_steps, "total_steps", 1)
        elif epochs is not None and steps_per_epoch is not None:
            total_steps = shapes.integer(epochs, "epochs", 1) * shapes.integer(steps_per_epoch, "steps_per_epoch", 1)
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch), got "
                             f"total_steps=None, epochs={epochs!r}, steps_per_epoch={steps_per_epoch!r}")
        pct_start = shapes.real(pct_start, "pct_start", 0.0, 1.0)
        if not isinstance(anneal_strategy, str) or anneal_strategy not in _CHOICES["_anneal_func_type"]:
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        cycle_momentum = shapes.flag(cycle_momentum, "cycle_momentum")
        three_phase = shapes.flag(three_phase, "three_phase")
        max_lrs = _per_group(max_lr, "max_lr", optimizer)
        div_factor = shapes.real(div_factor, "div_factor", 0.0, lo_open=True)
        final_div_factor = shapes.real(final_div_factor, "final_div_factor", 0.0, lo_open=True)
        up = float(pct_start * total_steps) - 1
        if up == 0:  # step 0 would be 0/0 of the way through the first phase
            raise ValueError(f"pct_start * total_steps must not be 1 (a first phase of no steps), got "
                             f"pct_start={pct_start!r}, total_steps={total_steps}")
        ends = [up, float(2 * pct_start * total_steps) - 2, total_steps - 1] if three_phase else [up, total_steps - 1]
        names = [("initial_lr", "max_lr", "max_momentum", "base_momentum"),
                 ("max_lr", "initial_lr", "base_momentum", "max_momentum"),
                 ("initial_lr", "min_lr", "max_momentum", "max_momentum")] if three_phase else \
                [("initial_lr", "max_lr", "max_momentum", "base_momentum"),
                 ("max_lr", "min_lr", "base_momentum", "max_momentum")]
        if cycle_momentum:
            use_beta1, base_momentums, max_momentums = _momentum_range(
                optimizer, base_momentum, max_momentum, "cycle_momentum=True needs an optimizer with momentum or "
                f"betas, and {type(optimizer).__name__} has neither")
        if last_epoch != -1:
            needs = _LR_KEYS + (_MOMENTUM_KEYS if cycle_momentum else ())
            for i, group in enumerate(groups):
                lacking = [k for k in needs if k not in group]
                if lacking:
                    raise KeyError(f"param_groups[{i}] has no {lacking} to resume the cycle from "
                                   f"(last_epoch={last_epoch})")
        self.total_steps = total_steps
        self._schedule_phases = [dict(end_step=end, start_lr=a, end_lr=b, start_momentum=c, end_momentum=d)
                                 for end, (a, b, c, d) in zip(ends, names)]
        self._anneal_func_type = anneal_strategy
        if last_epoch == -1:
            for group, top in zip(groups, max_lrs):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = use_beta1
            if last_epoch == -1:
                for group, top, low in zip(groups, max_momentums, base_momentums):
                    _set_momentum(group, top, self.use_beta1)
                    group["max_momentum"], group["base_momentum"] = top, low
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"Tried to step {step} times. The specified number of total steps is {self.total_steps}")
        phases, start = self._schedule_phases, 0.0
        for i, phase in enumerate(phases):
            if step <= phase["end_step"] or i == len(phases) - 1:
                break
            start = phase["end_step"]
        if phase["end_step"] == start:
            raise ValueError(f"step {step} falls in phase {i} of the cycle, which has no steps (it starts and ends at "
                             f"{start}; PyTorch divides by zero here): with pct_start=1 the cycle ends a step sooner")
        pct = (step - start) / (phase["end_step"] - start)
        anneal = _annealing_cos if self._anneal_func_type == "cos" else _annealing_linear
        lrs = []
        for group in self.optimizer.param_groups:
            lrs.append(anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
            if self.cycle_momentum:
                _set_momentum(group, anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct),
                              self.use_beta1)
        return lrs

    def _entry(self, name, v, mine):
        if name != "_schedule_phases":
            return super()._entry(name, v, mine)
        keys = {"end_step": None, "start_lr": _LR_KEYS, "end_lr": _LR_KEYS, "start_momentum": _MOMENTUM_KEYS,
                "end_momentum": _MOMENTUM_KEYS}
        for phase in v if isinstance(v, (list, tuple)) and v else [None]:
            if not isinstance(phase, dict) or set(phase) != set(keys) or any(
                    phase[k] not in allowed for k, allowed in keys.items() if allowed) or \
                    isinstance(phase["end_step"], bool) or not isinstance(phase["end_step"], (int, float)) or \
                    not math.isfinite(phase["end_step"]):
                raise ValueError("the scheduler state's '_schedule_phases' must be a list of dicts of a finite "
                                 f"'end_step' and the names of the rates and momenta it goes between, got {v!r}")
        return [dict(phase) for phase in v]


_CYCLIC_MODES, _SCALE_MODES = ("triangular", "triangular2", "exp_range"), ("cycle", "iterations")


class CyclicLR(LRScheduler):
    """Cyclical learning rates (Smith), per step: each group's rate climbs from ``base_lr`` to ``max_lr`` over
    ``step_size_up`` steps and falls back over ``step_size_down`` (default: the same), the amplitude scaled
    by ``mode``: 'triangular' (1), 'triangular2' (halved each cycle: 1 / 2^(cycle - 1)) or 'exp_range'
    (gamma^step), or by ``scale_fn(cycle)`` / ``scale_fn(step)`` (``scale_mode`` 'cycle' / 'iterations'),
    which then replaces ``mode``:

        cycle = floor(1 + step / (up + down));  x = 1 + step / (up + down) - cycle
        f = x / r if x <= r else (x - 1) / (r - 1), r = up / (up + down)
        lr = base_lr + (max_lr - base_lr) * f * scale
        momentum = max_momentum - (max_momentum - base_momentum) * f * scale

    With ``cycle_momentum`` the momentum (SGD, RMSprop) or beta1 (Adam and the others with ``betas``) cycles
    the other way; an optimizer with neither is a ValueError. As in PyTorch, making the scheduler sets each
    group's rate to ``base_lr`` (and momentum to ``max_momentum``) and records ``max_momentum`` and
    ``base_momentum`` in the groups; ``step(epoch)`` goes to that step. ``state_dict()`` holds a
    ``scale_fn`` as PyTorch's does: None for a function, a copy of a callable object's ``__dict__``.
    """

    _held = ("optimizer", "_scale_fn_custom")

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None, mode="triangular",
                 gamma=1.0, scale_fn=None, scale_mode="cycle", cycle_momentum=True, base_momentum=0.8,
                 max_momentum=0.9, last_epoch=-1):
        groups = _optimizer(optimizer).param_groups
        base_lrs = _per_group(base_lr, "base_lr", optimizer)
        max_lrs = _per_group(max_lr, "max_lr", optimizer)
        up = shapes.real(step_size_up, "step_size_up", 0.0, lo_open=True)
        down = up if step_size_down is None else shapes.real(step_size_down, "step_size_down", 0.0)
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"scale_fn must be a function or a callable object, got {scale_fn!r}")
        if not isinstance(mode, str) or (scale_fn is None and mode not in _CYCLIC_MODES):
            raise ValueError(f"mode must be one of {_CYCLIC_MODES} (or anything, with a scale_fn), got {mode!r}")
        if not isinstance(scale_mode, str) or scale_mode not in _SCALE_MODES:
            raise ValueError(f"scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}")
        gamma = shapes.real(gamma, "gamma", 0.0)
        cycle_momentum = shapes.flag(cycle_momentum, "cycle_momentum")
        if cycle_momentum:
            use_beta1, base_momentums, max_momentums = _momentum_range(
                optimizer, base_momentum, max_momentum, "optimizer must support momentum or beta1 with "
                f"`cycle_momentum` option enabled: {type(optimizer).__name__} has neither; pass cycle_momentum=False")
        if last_epoch == -1:
            for group, lr in zip(groups, base_lrs):
                group["lr"] = lr
        self.max_lrs = max_lrs
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        self.mode, self.gamma = mode, gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_fn()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = use_beta1
            self.base_momentums, self.max_momentums = base_momentums, max_momentums
            if last_epoch == -1:
                for group, top, low in zip(groups, max_momentums, base_momentums):
                    _set_momentum(group, top, self.use_beta1)
                    group["max_momentum"], group["base_momentum"] = top, low
        # as PyTorch: step 0 runs from each group's 'initial_lr' (a group that had one from an earlier
        # scheduler keeps it), and base_lr takes over from step 1
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_scale_fn(self):
        """The built-in modes fix ``scale_mode``: 'cycle' for the triangular ones, 'iterations' for exp_range."""
        if self._scale_fn_custom is None:
            self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"

    def scale_fn(self, x):
        """The amplitude's scale at ``x`` (the cycle number, or the step for 'iterations')."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def get_lr(self):
        step = self.last_epoch
        cycle = math.floor(1 + step / self.total_size)
        x = 1.0 + step / self.total_size - cycle
        f = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        at = cycle if self.scale_mode == "cycle" else step
        lrs = [base + (top - base) * f * self.scale_fn(at) for base, top in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:  # all computed (scale_fn may raise) before any group changes
            momenta = [top - (top - low) * f * self.scale_fn(at)
                       for low, top in zip(self.base_momentums, self.max_momentums)]
            for group, m in zip(self.optimizer.param_groups, momenta):
                _set_momentum(group, m, self.use_beta1)
        return lrs

    def state_dict(self):
        fn = self._scale_fn_custom
        return {**super().state_dict(),
                "_scale_fn_custom": None if fn is None or _Lambdas._stateless(fn) else fn.__dict__.copy()}

    def _entry(self, name, v, mine):
        if name == "mode":
            if not isinstance(v, str):
                raise ValueError(f"the scheduler state's 'mode' must be a string, got {v!r}")
            return v
        if name == "scale_mode":
            if not isinstance(v, str) or v not in _SCALE_MODES:
                raise ValueError(f"the scheduler state's 'scale_mode' must be one of {_SCALE_MODES}, got {v!r}")
            return v
        if name in ("total_size", "step_ratio") and (isinstance(v, bool) or not isinstance(v, (int, float))
                                                     or not 0 < v <= (1 if name == "step_ratio" else math.inf)):
            raise ValueError(f"the scheduler state's {name!r} must be in "
                             f"{'(0, 1]' if name == 'step_ratio' else '(0, inf)'}, got {v!r}")
        if name == "_scale_fn_custom":
            fn = self._scale_fn_custom
            if v is not None and (not isinstance(v, dict) or not all(isinstance(k, str) for k in v)):
                raise ValueError(f"the scheduler state's '_scale_fn_custom' must be None or a dict of attributes, "
                                 f"got {v!r}")
            if v is not None and (fn is None or _Lambdas._stateless(fn)):
                raise ValueError(f"the scheduler state holds attributes {sorted(v)} for scale_fn, which is "
                                 f"{'not given' if fn is None else 'a plain function'} here (only a callable "
                                 "object's state is saved)")
            return v
        return super()._entry(name, v, mine)

    def _checked(self, state_dict):
        values = super()._checked(state_dict)
        if self._scale_fn_custom is None and values["mode"] not in _CYCLIC_MODES:
            raise ValueError(f"the scheduler state's 'mode' must be one of {_CYCLIC_MODES} without a scale_fn, "
                             f"got {values['mode']!r}")
        return values

    def _apply(self, values):
        attrs = values.pop("_scale_fn_custom")
        super()._apply(values)
        if attrs is not None:
            self._scale_fn_custom.__dict__.update(attrs)
        self._init_scale_fn()


class ReduceLROnPlateau(LRScheduler):
    """Multiply each group's rate by ``factor`` (down to its ``min_lr``) once a metric has not improved for
    more than ``patience`` epochs, then wait ``cooldown`` epochs. Improved: below best * (1 - threshold)
    (``mode='min'``, ``threshold_mode='rel'``), below best - threshold ('abs'), or above best * (1 + threshold)
    / best + threshold for ``mode='max'``. A change smaller than ``eps`` is not made.

    ``step(metrics)`` takes the epoch's metric (a NaN never improves).
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0, eps=1e-8):
        groups = _optimizer(optimizer).param_groups
        factor = shapes.real(factor, "factor", 0.0, 1.0, hi_open=True)
        if not isinstance(mode, str) or mode not in _CHOICES["mode"]:
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if not isinstance(threshold_mode, str) or threshold_mode not in _CHOICES["threshold_mode"]:
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        patience, cooldown = shapes.integer(patience, "patience", 0), shapes.integer(cooldown, "cooldown", 0)
        threshold, eps = shapes.real(threshold, "threshold", 0.0), shapes.real(eps, "eps", 0.0)
        min_lrs = _per_group(min_lr, "min_lr", optimizer)
        self.factor = factor
        self.optimizer = optimizer
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else min_lrs[0]
        self.min_lrs = min_lrs
        self.patience, self.cooldown, self.eps = patience, cooldown, eps
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in groups]
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode
        self._reset()

    def _reset(self):
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _check_groups(self):
        n = len(self.optimizer.param_groups)
        if n != len(self.min_lrs) and self.default_min_lr is None:
            raise ValueError(f"the optimizer has {n} param groups, but this ReduceLROnPlateau has min_lr for "
                             f"{len(self.min_lrs)}: set its min_lrs to a list of {n} (one per group, the groups added "
                             f"since included), or make it after the last add_param_group")

    def step(self, metrics, epoch=None):
        """Record this epoch's ``metrics`` (a number) and reduce the rates if it has stopped improving."""
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise TypeError(f"metrics must be a number, got {metrics!r}") from None
        self._check_groups()
        self.last_epoch = self.last_epoch + 1 if epoch is None else _whole_epoch(epoch)
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown don't count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):  # groups added since: the one min_lr covers them
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new

    def _is_better(self, a, best):
        if self.mode == "min":
            return a < best * (1.0 - self.threshold) if self.threshold_mode == "rel" else a < best - self.threshold
        return a > best * (self.threshold + 1.0) if self.threshold_mode == "rel" else a > best + self.threshold

    def _entry(self, name, v, mine):
        if name in ("best", "mode_worse"):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
                raise ValueError(f"the scheduler state's {name!r} must be a number, got {v!r}")
            return v
        if name == "default_min_lr" and v is None:
            return v
        return super()._entry(name, v, 0.0 if mine is None else mine)

    def _checked(self, state_dict):
        values = super()._checked(state_dict)
        values["mode_worse"] = math.inf if values["mode"] == "min" else -math.inf  # as PyTorch's load
        return values


class _Container:
    """Schedulers that drive others: their states are saved in ``_schedulers``, a list of state dicts."""

    _held = ("optimizer", "_schedulers")

    def _take(self, schedulers, optimizer, nested):
        """The schedulers, checked (all of ``optimizer``, none stepping on a metric), and that optimizer."""
        if isinstance(schedulers, LRScheduler) or not hasattr(schedulers, "__iter__"):
            raise TypeError(f"schedulers must be a list of schedulers, got {schedulers!r}")
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError(f"{type(self).__name__} expects at least one scheduler, but got no scheduler.")
        for i, s in enumerate(schedulers):
            if not isinstance(s, LRScheduler):
                raise TypeError(f"schedulers[{i}] must be a numconv scheduler, got {type(s).__name__}")
            if isinstance(s, ReduceLROnPlateau) or (isinstance(s, _Container) and not nested):
                raise ValueError(f"{type(self).__name__} does not support a {type(s).__name__} (schedulers[{i}]): "
                                 + ("its step needs the metric" if isinstance(s, ReduceLROnPlateau) else
                                    "it can't restart one at a milestone"))
        optimizer = schedulers[0].optimizer if optimizer is None else optimizer
        for i, s in enumerate(schedulers):
            if s.optimizer is not optimizer:
                raise ValueError(f"{type(self).__name__} expects all schedulers to belong to the same optimizer, but "
                                 f"schedulers[{i}] ({type(s).__name__}) has another")
        return schedulers, optimizer

    def _check_groups(self):
        for s in self._schedulers:
            s._check_groups()

    def state_dict(self):
        return {**super().state_dict(), "_schedulers": [s.state_dict() for s in self._schedulers]}

    def _entry(self, name, v, mine):
        if name != "_schedulers":
            return super()._entry(name, v, mine)
        if not isinstance(v, (list, tuple)) or len(v) != len(self._schedulers):
            raise ValueError(f"the scheduler state's '_schedulers' must be a list of {len(self._schedulers)} "
                             f"scheduler states, got {v!r}")
        values = []
        for i, (s, saved) in enumerate(zip(self._schedulers, v)):
            try:
                values.append(s._checked(saved))
            except (TypeError, ValueError) as e:
                raise type(e)(f"in '_schedulers'[{i}] ({type(s).__name__}): {e}") from None
        return values

    def _apply(self, values):
        saved = values.pop("_schedulers")
        super()._apply(values)
        for s, v in zip(self._schedulers, saved):
            s._apply(v)


class SequentialLR(_Container, LRScheduler):
    """``schedulers[0]`` until epoch ``milestones[0]``, then ``schedulers[1]`` from its own epoch 0 (its
    closed form there), and so on. The schedulers are single ones (not containers), of ``optimizer``."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        schedulers, optimizer = self._take(schedulers, optimizer, nested=False)
        if isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__"):
            raise TypeError(f"milestones must be a list of epochs, got {milestones!r}")
        milestones = [shapes.integer(m, f"milestones[{i}]", 0) for i, m in enumerate(milestones)]
        if milestones != sorted(milestones):
            raise ValueError(f"milestones must be in increasing order, got {milestones}")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError("Sequential Schedulers expects number of schedulers provided to be one more than the "
                             f"number of milestone points, but got number of schedulers {len(schedulers)} and the "
                             f"number of milestones to be equal to {len(milestones)}")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:  # back to the start, undoing each scheduler's step 0
            group["lr"] = group["initial_lr"]
        for s in schedulers:
            s.last_epoch -= 1
        first = schedulers[bisect_right(milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _check_groups(self):
        """A group added since: the scheduler running now takes it along if it can (as PyTorch's), but a
        milestone still ahead restarts the next one from its base rates, which that group lacks (PyTorch
        fails there), so then it is refused at once."""
        ahead = [m for m in self._milestones if m > self.last_epoch]
        if not ahead:
            self._schedulers[-1]._check_groups()
            return
        n = len(self.optimizer.param_groups)
        made = [len(s.base_lrs) for s in self._schedulers]
        if any(k != n for k in made):
            raise ValueError(f"the optimizer has {n} param groups, but this SequentialLR's schedulers were made for "
                             f"{min(made)}, and at milestone {ahead[0]} it restarts the next one from its base rates, "
                             "which a group added since lacks: make the schedulers and the SequentialLR after the "
                             "last add_param_group")

    def step(self):
        """Advance one epoch: the scheduler whose turn it is steps (or starts, at its milestone)."""
        self._check_groups()
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        try:
            if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
                scheduler._update_lr(0)
            else:
                scheduler.step()
        except BaseException:
            self.last_epoch -= 1
            raise
        self._last_lr = scheduler.get_last_lr()

    def _entry(self, name, v, mine):
        if name == "_milestones":
            return _epochs(v, name, len(mine))
        return super()._entry(name, v, mine)


class ChainedScheduler(_Container, LRScheduler):
    """Step every scheduler of ``schedulers`` in turn at each ``step()`` (their changes compose)."""

    def __init__(self, schedulers, optimizer=None):
        self._schedulers, self.optimizer = self._take(schedulers, optimizer, nested=True)
        self._last_lr = [group["lr"] for group in self._schedulers[-1].optimizer.param_groups]

    def step(self):
        """Step each scheduler."""
        self._check_groups()
        for s in self._schedulers:
            s.step()
        self._last_lr = [group["lr"] for group in self._schedulers[-1].optimizer.param_groups]

