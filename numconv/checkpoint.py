"""Checkpoints: one ``.npz`` file, written atomically, read with ``allow_pickle=False``.

A checkpoint is a nested structure of dicts, lists, numbers, strings and NumPy arrays (model
and optimizer state dicts, RNG state, metadata). Arrays are stored as ``.npz`` members; the
structure is JSON in the member ``__structure__``, with each array replaced by a reference.
Nothing is ever unpickled, so loading a file cannot run code.

Writes go to a temporary file in the same directory, are flushed to disk, and then renamed over
the target, so a crash mid-write leaves the previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

_STRUCT = "__structure__"
_FORMAT = "numconv-checkpoint-1"


def _flatten(obj, arrays: dict):
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, str):
                raise TypeError(f"checkpoint dict keys must be strings, got {k!r}")
        return {"dict": {k: _flatten(v, arrays) for k, v in obj.items()}}
    if isinstance(obj, (list, tuple)):
        return {"list" if isinstance(obj, list) else "tuple": [_flatten(v, arrays) for v in obj]}
    if isinstance(obj, np.ndarray) or hasattr(obj, "__array__") and not isinstance(obj, (int, float, str)):
        arr = np.asarray(obj)
        if arr.dtype.kind == "O":
            raise TypeError("object arrays cannot be stored in a checkpoint")
        name = f"a{len(arrays)}"
        arrays[name] = arr
        return {"array": name}
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint")


def _unflatten(node, arrays):
    (kind, v), = node.items()
    if kind == "dict":
        return {k: _unflatten(x, arrays) for k, x in v.items()}
    if kind == "list":
        return [_unflatten(x, arrays) for x in v]
    if kind == "tuple":
        return tuple(_unflatten(x, arrays) for x in v)
    if kind == "array":
        return arrays[v]
    if kind == "value":
        return v
    raise ValueError(f"unknown entry kind {kind!r}")


def save(path, obj) -> None:
    """Write ``obj`` to ``path`` atomically (temporary file, fsync, rename)."""
    arrays = {}
    structure = {"format": _FORMAT, "root": _flatten(obj, arrays)}
    arrays[_STRUCT] = np.frombuffer(json.dumps(structure).encode(), dtype=np.uint8)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load(path):
    """Read a checkpoint written by ``save``; a corrupt or truncated file raises ValueError."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
        raise ValueError(f"checkpoint {path} is corrupt or truncated and cannot be read ({type(e).__name__}: {e})") from None
    if _STRUCT not in arrays:
        raise ValueError(f"{path} is not a numconv checkpoint (no {_STRUCT} entry)")
    try:
        structure = json.loads(arrays.pop(_STRUCT).tobytes().decode())
        if structure.get("format") != _FORMAT:
            raise ValueError(f"unknown format {structure.get('format')!r}")
        return _unflatten(structure["root"], arrays)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise ValueError(f"checkpoint {path} is corrupt: its structure cannot be read ({e})") from None
