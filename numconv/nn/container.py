"""Containers: ``Sequential`` (a pipeline), ``ModuleList`` (an indexable list of modules) and
``ModuleDict`` (modules by name)."""
from __future__ import annotations

import operator
from collections import OrderedDict

from .module import Module

__all__ = ["Sequential", "ModuleList", "ModuleDict"]


class _IndexedModules(Module):
    """Children named '0', '1', ... ; shared by Sequential and ModuleList."""

    def _abs_index(self, idx):
        idx = operator.index(idx)
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for {type(self).__name__} of length {n}")
        return idx + n if idx < 0 else idx

    def _renumber(self, modules):
        """Children renamed '0', '1', ... (as PyTorch after a deletion), every module checked first."""
        for m in modules:
            if m is not None and not isinstance(m, Module):
                raise TypeError(f"{type(m).__name__} is not a Module subclass")
        self._modules.clear()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return list(self._modules.values())[self._abs_index(idx)]

    def __setitem__(self, idx, module):
        key = list(self._modules)[self._abs_index(idx)]
        self.add_module(key, module)

    def __delitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            del mods[idx]
        else:
            del mods[self._abs_index(idx)]
        self._renumber(mods)

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        """Put ``module`` before position ``index`` (``len(self)`` appends; negative counts from the end)."""
        n = len(self._modules)
        index = operator.index(index)
        if not -n <= index <= n:
            raise IndexError(f"insert index {index} is out of range for {type(self).__name__} of length {n}")
        if list(self._modules) != [str(i) for i in range(n)]:  # PyTorch: a KeyError too
            raise KeyError(f"{type(self).__name__} has named children {list(self._modules)}: inserting by position "
                           "would rename them (and their state_dict keys)")
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._renumber(mods)
        return self

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]


class Sequential(_IndexedModules):
    """``Sequential(m0, m1, ...)`` or ``Sequential(OrderedDict(name=module))``: ``forward`` runs them in order.

    Children are named '0', '1', ... (or by the dict's keys), which gives state_dict keys like
    ``features.0.weight``. Supports indexing, slicing (a new Sequential), len, iteration, append.
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)

    def forward(self, input):
        for m in self._modules.values():
            input = m(input)
        return input


class ModuleList(_IndexedModules):
    """``ModuleList([m0, m1, ...])``: registers the modules (so their parameters are found); no forward."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __add__(self, other):
        return ModuleList(list(self) + list(other))

    def __iadd__(self, modules):
        return self.extend(modules)


class ModuleDict(Module):
    """``ModuleDict({'name': module, ...})``: modules by name, in insertion order, registered as children
    (so ``state_dict`` keys are ``name.weight``); a dict's methods, no forward."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        if not isinstance(key, str):
            raise TypeError(f"ModuleDict keys must be strings, got {type(key).__name__}")
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, key):
        module = self._modules[key]
        del self[key]
        return module

    def clear(self):
        self._modules.clear()

    def update(self, modules):
        """Add or replace modules from a mapping, or from an iterable of (name, module) pairs."""
        for pair in modules.items() if hasattr(modules, "items") else modules:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"ModuleDict.update needs a mapping or (name, module) pairs, got {pair!r}")
            self[pair[0]] = pair[1]
