"""Learning-rate schedules, as ``torch.optim.lr_scheduler``: ``StepLR``, ``CosineAnnealingLR``.

    sched = StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(epochs):
        train(...); opt.step() ...; sched.step()

A scheduler writes ``group['lr']`` of each param group. Creating one records each group's
``initial_lr`` and performs step 0; each ``step()`` then advances one epoch. ``state_dict()``
holds numbers and lists of numbers only.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import shapes

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR"]


def _plain(v):
    if isinstance(v, np.ndarray):
        return v.item() if v.ndim == 0 else [x.item() for x in v.ravel()]
    return v.item() if isinstance(v, np.generic) else v


_WHOLE = {"last_epoch": -1, "_step_count": 0, "step_size": 1, "T_max": 1}  # integer entries, and their least values
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
    if isinstance(mine, list):
        if not isinstance(v, (list, tuple)) or len(v) != len(mine):
            raise ValueError(f"the scheduler state's {name!r} must be a list of {len(mine)} numbers (one per param "
                             f"group), got {v!r}")
        return [_number(x, name, False) for x in v]
    return v


class LRScheduler:
    """Base class: subclasses give ``get_lr()`` (from the groups' current rates, chainable) and
    ``_closed_form_lr()`` (from ``base_lrs`` at ``last_epoch``, used by ``step(epoch)``)."""

    def __init__(self, optimizer, last_epoch=-1):
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{type(optimizer).__name__} is not an optimizer")
        self.optimizer = optimizer
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
        self._step_count = 0
        self._is_initial = True
        self.step()
        self._is_initial = False

    def get_lr(self):
        raise NotImplementedError

    def _closed_form_lr(self):
        return self.get_lr()

    def step(self, epoch=None):
        """Advance one epoch (or jump to the whole number ``epoch``) and write the new rates into the param groups."""
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            raise ValueError(f"the optimizer has {len(groups)} param groups, but this {type(self).__name__} was "
                             f"made for {len(self.base_lrs)}: make the scheduler after add_param_group")
        if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, numbers.Real)
                                  or not math.isfinite(epoch) or epoch != int(epoch)):
            raise ValueError(f"epoch must be a whole number, got {epoch!r}")
        self._step_count += 1
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = int(epoch)
            values = self._closed_form_lr()
        for group, lr in zip(groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in groups]

    def get_last_lr(self):
        """The rates the last ``step()`` set, one per param group."""
        return list(self._last_lr)

    def state_dict(self):
        """Everything but the optimizer: numbers and lists of numbers."""
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore a ``state_dict()``, numconv's or PyTorch's: every entry this scheduler keeps must be
        there, of its kind (whole epochs and counts, finite rates, one per param group), nothing else;
        a ValueError names the first that is not, and nothing changes then."""
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
        self.__dict__.update({k: _like(v, own[k], k) for k, v in saved.items()})


class StepLR(LRScheduler):
    """Multiply each group's rate by ``gamma`` every ``step_size`` epochs: lr = base_lr * gamma^(epoch // step_size)."""

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
