"""Containers: ``Sequential`` (a pipeline), ``ModuleList`` (an indexable list of modules),
``ModuleDict`` (modules by name), and ``ParameterList`` / ``ParameterDict`` (the same for Parameters)."""
from __future__ import annotations

import operator
from collections import OrderedDict

import numpy as np

from ..tensor import Tensor
from .module import Module, _addindent
from .parameter import Parameter

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


def _abs_index(container, idx, n):
    """``idx`` (negative counts from the end) as a position in ``container`` of length ``n``."""
    idx = operator.index(idx)
    if not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range for {type(container).__name__} of length {n}")
    return idx + n if idx < 0 else idx


class _IndexedModules(Module):
    """Children named '0', '1', ... ; shared by Sequential and ModuleList."""

    def _abs_index(self, idx):
        return _abs_index(self, idx, len(self._modules))

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
        if isinstance(idx, slice):  # of a subclass, that subclass (as PyTorch's self.__class__(...))
            return self.__class__(list(self._modules.values())[idx])
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

    def pop(self, key):
        """Remove and return ``self[key]`` (an index, or a slice: a container of those); the rest are
        renumbered '0', '1', ... as after ``del``."""
        value = self[key]
        del self[key]
        return value

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
    ``features.0.weight``. Supports indexing, slicing (a new Sequential, or of a subclass that
    subclass), len, iteration, append, insert, extend, pop, ``+`` and ``+=`` (with another
    Sequential), ``*`` and ``*=`` (a positive int: the same modules repeated), as PyTorch's.
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
        if isinstance(idx, slice):  # of a subclass, that subclass (as PyTorch's self.__class__(...))
            return self.__class__(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)

    def __add__(self, other):
        """A new Sequential of this one's modules, then ``other``'s (the same module objects)."""
        if not isinstance(other, Sequential):
            raise ValueError(f"Sequential + needs another Sequential, got {type(other).__name__}")
        return Sequential(*self, *other)

    def __iadd__(self, other):
        """Append ``other``'s modules (``other`` a Sequential); returns self."""
        if not isinstance(other, Sequential):
            raise ValueError(f"Sequential += needs another Sequential, got {type(other).__name__}")
        offset = len(self)
        for i, m in enumerate(list(other)):
            self.add_module(str(offset + i), m)
        return self

    @staticmethod
    def _factor(n):
        if not isinstance(n, int):
            raise TypeError(f"unsupported operand type(s) for *: 'Sequential' and '{type(n).__name__}'")
        if n <= 0:
            raise ValueError(f"Sequential * needs a positive repetition count, got {n}")
        return n

    def __mul__(self, n):
        """A new Sequential running this one's modules ``n`` times over (the same module objects, so
        their parameters are shared, as PyTorch's)."""
        return Sequential(*(list(self) * self._factor(n)))

    __rmul__ = __mul__

    def __imul__(self, n):
        """Repeat this Sequential's modules ``n`` times, in place; returns self."""
        mods = list(self) * (self._factor(n) - 1)
        offset = len(self)
        for i, m in enumerate(mods):
            self.add_module(str(offset + i), m)
        return self

    def forward(self, input):
        for m in self._modules.values():
            input = m(input)
        return input


class ModuleList(_IndexedModules):
    """``ModuleList([m0, m1, ...])``: registers the modules (so their parameters are found); no forward.

    Its repr prints a run of children with the same repr once, as PyTorch's: ``(0-2): 3 x Linear(...)``.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __add__(self, other):
        return ModuleList(list(self) + list(other))

    def __iadd__(self, modules):
        return self.extend(modules)

    def __repr__(self):
        """PyTorch's: runs of children with the same repr print once, ``(0-2): 3 x Linear(...)``."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        runs = []  # [first index, last index, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = [_addindent(f"({a}): {r}" if a == b else f"({a}-{b}): {b - a + 1} x {r}", 2) for a, b, r in runs]
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


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
        """Add or replace modules from a mapping, or from an iterable of (name, module) pairs.

        As PyTorch: TypeError for something not iterable or an element that is not, ValueError for an
        element whose length is not 2. Every element is checked before any is added.
        """
        if hasattr(modules, "items"):
            pairs = list(modules.items())
        elif not hasattr(modules, "__iter__"):
            raise TypeError(f"ModuleDict.update needs a mapping or an iterable of (name, module) pairs, "
                            f"got {type(modules).__name__}")
        else:
            pairs = list(modules)
            for j, pair in enumerate(pairs):
                if not hasattr(pair, "__iter__") or not hasattr(pair, "__len__"):
                    raise TypeError(f"ModuleDict.update needs (name, module) pairs: sequence element #{j} is "
                                    f"a {type(pair).__name__}")
                if len(pair) != 2:
                    raise ValueError(f"ModuleDict.update sequence element #{j} has length {len(pair)}; "
                                     f"2 is required (name, module)")
            pairs = [tuple(pair) for pair in pairs]
        for key, m in pairs:
            if not isinstance(key, str):
                raise TypeError(f"ModuleDict keys must be strings, got {type(key).__name__}")
            if m is not None and not isinstance(m, Module):
                raise TypeError(f"ModuleDict[{key!r}]: {type(m).__name__} is not a Module subclass")
        for key, m in pairs:
            self[key] = m


def _as_parameter(value, where):
    """A Parameter as it is; a Tensor or floating array as a new Parameter sharing its memory (as
    PyTorch's containers wrap a plain tensor); anything else is refused."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value.data)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return Parameter(value)
    raise TypeError(f"{where} must be a Parameter, a Tensor or a floating-point array, got {type(value).__name__}")


def _parameter_lines(items):
    return [f"({k}): Parameter containing: [{p.dtype} of shape {tuple(p.shape)} on {p.device}]" for k, p in items]


class _ParameterContainer(Module):
    """Holds Parameters only (no forward); its repr lists them one a line."""

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__} should not be called (it only holds parameters)")

    def __len__(self):
        return len(self._parameters)

    def extra_repr(self):
        return "\n".join(_parameter_lines(self._parameters.items()))


class ParameterList(_ParameterContainer):
    """``ParameterList([p0, p1, ...])``: Parameters registered as '0', '1', ... (``state_dict`` keys
    ``name.0``), indexable (negative indices, slices give a new ParameterList of the same
    Parameters), with ``append``, ``extend`` and ``+=``. A Tensor or array becomes a Parameter."""

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx):
        values = list(self._parameters.values())
        if isinstance(idx, slice):
            return ParameterList(values[idx])
        return values[_abs_index(self, idx, len(values))]

    def __setitem__(self, idx, param):
        idx = _abs_index(self, idx, len(self._parameters))
        self.register_parameter(str(idx), _as_parameter(param, f"ParameterList[{idx}]"))

    def __iter__(self):
        return iter(self._parameters.values())

    def append(self, value):
        """Add ``value`` at the end; returns self."""
        n = len(self._parameters)
        self.register_parameter(str(n), _as_parameter(value, f"ParameterList[{n}]"))
        return self

    def extend(self, values):
        if isinstance(values, (Tensor, np.ndarray)) or not hasattr(values, "__iter__"):
            raise TypeError(f"ParameterList.extend needs an iterable of parameters, got {type(values).__name__}")
        values = [_as_parameter(v, f"ParameterList[{len(self) + i}]") for i, v in enumerate(values)]
        for v in values:  # all checked first: a bad entry adds nothing
            self.append(v)
        return self

    def __iadd__(self, values):
        return self.extend(values)

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]


class ParameterDict(_ParameterContainer):
    """``ParameterDict({'name': p, ...})``: Parameters by name (``state_dict`` keys ``name.key``), with a
    dict's methods, in insertion order; a plain dict given to the constructor or ``update`` is taken in
    sorted key order, as PyTorch does. A Tensor or array becomes a Parameter; keys are strings."""

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        return self._parameters[key]

    def __setitem__(self, key, value):
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict keys must be strings, got {type(key).__name__} {key!r}")
        self.register_parameter(key, _as_parameter(value, f"ParameterDict[{key!r}]"))

    def __delitem__(self, key):
        del self._parameters[key]

    def __iter__(self):
        return iter(self._parameters)

    def __reversed__(self):
        return reversed(self._parameters)

    def __contains__(self, key):
        return key in self._parameters

    def keys(self):
        return self._parameters.keys()

    def items(self):
        return self._parameters.items()

    def values(self):
        return self._parameters.values()

    def get(self, key, default=None):
        return self._parameters.get(key, default)

    def setdefault(self, key, default=None):
        if key not in self._parameters:
            self[key] = default
        return self._parameters[key]

    def pop(self, key):
        value = self._parameters[key]
        del self[key]
        return value

    def popitem(self):
        return self._parameters.popitem()

    def clear(self):
        self._parameters.clear()

    def copy(self):
        """A new ParameterDict holding the same Parameters."""
        return ParameterDict(self._parameters.items())

    def update(self, parameters):
        """Add or replace Parameters from a mapping, or from an iterable of (name, value) pairs."""
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            pairs = list(parameters.items())
        elif hasattr(parameters, "items"):  # a plain mapping: by key, as PyTorch (so the order is the same there)
            pairs = sorted(parameters.items(), key=lambda pair: str(pair[0]))
        else:
            pairs = list(parameters)
        checked = []
        for pair in pairs:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"ParameterDict.update needs a mapping or (name, value) pairs, got {pair!r}")
            if not isinstance(pair[0], str):
                raise TypeError(f"ParameterDict keys must be strings, got {type(pair[0]).__name__} {pair[0]!r}")
            checked.append((pair[0], _as_parameter(pair[1], f"ParameterDict[{pair[0]!r}]")))
        for key, value in checked:  # all checked first: a bad entry adds nothing
            self[key] = value
