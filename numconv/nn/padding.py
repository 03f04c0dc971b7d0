"""Padding layers, as ``torch.nn``: ``ZeroPad``, ``ConstantPad``, ``ReflectionPad``,
``ReplicationPad`` and ``CircularPad``, 1/2/3-d. Each holds its padding and makes one ``F.pad``
call over the last 1, 2 or 3 dimensions.

``padding`` is an int (every side) or a tuple of 2, 4 or 6 ints, last dimension first:
(left, right), (left, right, top, bottom), (left, right, top, bottom, front, back).
"""
from __future__ import annotations

from .. import functional as F
from .. import shapes
from .module import Module

__all__ = [f"{kind}Pad{nd}d" for kind in ("Zero", "Constant", "Reflection", "Replication", "Circular")
           for nd in (1, 2, 3)]


def _padding(padding, nd):
    """``padding`` as a tuple of 2 * nd ints."""
    if shapes._is_int(padding):
        return (int(padding),) * (2 * nd)
    if not isinstance(padding, (tuple, list)) or len(padding) != 2 * nd or not all(shapes._is_int(p) for p in padding):
        raise TypeError(f"padding must be an int or a tuple of {2 * nd} ints (two per padded dimension, last "
                        f"dimension first), got {padding!r}")
    return tuple(int(p) for p in padding)


class _PadNd(Module):
    nd, mode = 1, "reflect"  # set per class below

    def __init__(self, padding):
        super().__init__()
        self.padding = _padding(padding, self.nd)

    def forward(self, input):
        ndim = len(input.shape)
        if ndim not in (self.nd + 1, self.nd + 2):  # as PyTorch's: (C, *) or (N, C, *) with nd spatial dimensions
            raise ValueError(f"{type(self).__name__} expects a {self.nd + 1}-d (unbatched) or {self.nd + 2}-d input, "
                             f"got shape {tuple(input.shape)}")
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    mode = "constant"

    def __init__(self, padding, value):
        super().__init__(padding)
        shapes.real(value, "value")
        self.value = value  # as given, so that the repr shows it as PyTorch's does

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


_KINDS = {
    "Zero": (_ZeroPadNd, "constant", "``(padding)``: pads with zeros; a negative padding crops."),
    "Constant": (_ConstantPadNd, "constant", "``(padding, value)``: pads with ``value``; a negative padding crops."),
    "Reflection": (_PadNd, "reflect", "``(padding)``: mirrors the input without repeating the edge (padding < size)."),
    "Replication": (_PadNd, "replicate", "``(padding)``: repeats the edge value."),
    "Circular": (_PadNd, "circular", "``(padding)``: wraps around, as a periodic signal (padding <= size)."),
}
for _kind, (_base, _mode, _doc) in _KINDS.items():
    for _nd in (1, 2, 3):
        _name = f"{_kind}Pad{_nd}d"
        globals()[_name] = type(_name, (_base,), {"nd": _nd, "mode": _mode, "__module__": __name__,
                                                  "__qualname__": _name, "__doc__": f"``{_name}{_doc[2:]}"})
del _kind, _base, _mode, _doc, _nd, _name
