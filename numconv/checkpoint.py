"""Checkpoints: one ``.npz`` file, written atomically, read with ``allow_pickle=False``.

A checkpoint is a nested structure of dicts, lists, numbers, strings and NumPy arrays (model
and optimizer state dicts, RNG state, metadata). Arrays are stored as ``.npz`` members; the
structure is JSON in the member ``__structure__``, with each array replaced by a reference.
Nothing is ever unpickled, so loading a file cannot run code.

NumPy scalars (``np.float32(1.5)``, ``np.int64(3)``, ``np.bool_(True)``) come back as the same NumPy
scalars, Python numbers as Python numbers.

Writes go to a temporary file in the same directory, are flushed to disk, and then renamed over
the target, so a crash mid-write leaves the previous checkpoint intact; the directory is then
fsynced (on POSIX), so the rename itself survives a power cut.
"""
from __future__ import annotations

import json
import os
import zipfile
import zlib

import numpy as np

from .atomic import atomic_open

_STRUCT = "__structure__"
_FORMAT = "numconv-checkpoint-1"


def _int_key(k) -> bool:
    return isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))


def _flatten(obj, arrays: dict):
    if isinstance(obj, dict):
        if obj and all(_int_key(k) for k in obj):  # an optimizer's state, keyed by parameter numbers
            return {"intdict": {str(int(k)): _flatten(v, arrays) for k, v in obj.items()}}
        for k in obj:
            if not isinstance(k, str):
                raise TypeError(f"checkpoint dict keys must be all strings or all ints, got {k!r} "
                                f"({type(k).__name__}) among {list(obj)[:5]}")
        return {"dict": {k: _flatten(v, arrays) for k, v in obj.items()}}
    if isinstance(obj, (list, tuple)):
        return {"list" if isinstance(obj, list) else "tuple": [_flatten(v, arrays) for v in obj]}
    if isinstance(obj, np.generic) or isinstance(obj, np.ndarray) or \
            hasattr(obj, "__array__") and not isinstance(obj, (int, float, str)):
        arr = np.asarray(obj)
        if arr.dtype.kind == "O":
            raise TypeError("object arrays cannot be stored in a checkpoint")
        name = f"a{len(arrays)}"
        arrays[name] = arr
        return {"scalar" if isinstance(obj, np.generic) else "array": name}  # a scalar: a 0-d member
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint")


def _unflatten(node, arrays):
    """The object a ``_flatten`` node describes; a node of another shape (a crafted or damaged
    structure) is a ValueError naming what was found."""
    if not isinstance(node, dict) or len(node) != 1:
        raise ValueError(f"an entry must be an object with one key, got {type(node).__name__}")
    (kind, v), = node.items()
    if kind == "dict":
        if not isinstance(v, dict):
            raise ValueError(f"a 'dict' entry holds {type(v).__name__}, not an object")
        return {k: _unflatten(x, arrays) for k, x in v.items()}
    if kind == "intdict":
        if not isinstance(v, dict) or not all(k.lstrip("-").isdigit() for k in v):
            raise ValueError("an 'intdict' entry must be an object whose keys are whole numbers")
        return {int(k): _unflatten(x, arrays) for k, x in v.items()}
    if kind in ("list", "tuple"):
        if not isinstance(v, list):
            raise ValueError(f"a {kind!r} entry holds {type(v).__name__}, not a list")
        items = [_unflatten(x, arrays) for x in v]
        return items if kind == "list" else tuple(items)
    if kind in ("array", "scalar"):
        a = arrays.get(v) if isinstance(v, str) else None
        if not isinstance(a, np.ndarray) or kind == "scalar" and a.ndim != 0:
            raise ValueError(f"an {kind!r} entry names {v!r}, which is not a{' 0-d' if kind == 'scalar' else 'n'} "
                             "array of the file")
        return a[()] if kind == "scalar" else a
    if kind == "value":
        if v is not None and not isinstance(v, (bool, int, float, str)):
            raise ValueError(f"a 'value' entry holds {type(v).__name__}")
        return v
    raise ValueError(f"unknown entry kind {kind!r}")


def save(path, obj) -> None:
    """Write ``obj`` to ``path`` atomically (temporary file, fsync, rename)."""
    arrays = {}
    structure = {"format": _FORMAT, "root": _flatten(obj, arrays)}
    arrays[_STRUCT] = np.frombuffer(json.dumps(structure).encode(), dtype=np.uint8)
    with atomic_open(path, "wb", suffix=".npz") as f:
        np.savez(f, **arrays)
    _fsync_directory(os.path.dirname(os.path.realpath(path)))


def _fsync_directory(directory):
    """Flush a directory's entries (the rename that put a file there) to disk: POSIX only; where a
    directory cannot be opened or synced (Windows, some file systems) the rename is still atomic."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _foreign(head):
    """What a file that is not an .npz archive is, as far as its first bytes tell: a description
    when it is plainly another kind of file, else None (a damaged checkpoint, or unknown)."""
    if head.startswith(b"\x93NUMPY"):
        return "it is a NumPy .npy array file, not an .npz archive"
    if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:  # PROTO opcode, protocols 2 to 5
        return "it is a Python pickle (a legacy torch.save file?), not an .npz archive; numconv never unpickles"
    return None


def _check_sizes(path):
    """Each member's .npy header must declare exactly the bytes the member holds, so a crafted or
    damaged header (a shape of 10**12) is refused before NumPy allocates for it."""
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(f)
                need = f.tell() + int(np.prod(shape, dtype=object)) * dtype.itemsize
                if dtype.hasobject or need != info.file_size:
                    raise ValueError(f"member {info.filename} declares shape {shape} of {dtype} ({need} bytes with its "
                                     f"header) but holds {info.file_size} bytes")


class _NotACheckpoint(ValueError):
    """A file of another kind (a .npy, a pickle, a PyTorch file): said so, not called damaged."""


def load(path):
    """Read a checkpoint written by ``save``. A corrupt or truncated file, or one that is not a numconv
    checkpoint (a directory, a PyTorch ``.pt``, a pickle, a ``.npy``), raises ValueError saying which."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a directory, not a numconv checkpoint (a .npz file)")
    try:
        if not zipfile.is_zipfile(path):  # np.load would read a .npy (or a pickle header) as one array
            with open(path, "rb") as f:
                head = f.read(8)
            what = _foreign(head)
            if what is not None:
                raise _NotACheckpoint(f"{path} is not a numconv checkpoint: {what}")
            if head.startswith(b"PK"):  # a zip archive's start without its end: cut short
                raise ValueError("not an .npz archive (a zip archive's start, but no central directory)")
            raise ValueError("not an .npz archive, so either not a numconv checkpoint or damaged")
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
        if _STRUCT + ".npy" not in names:
            torch = any(n.endswith("data.pkl") for n in names)
            raise _NotACheckpoint(f"{path} is not a numconv checkpoint: "
                                  + ("it is a PyTorch file (torch.save), whose weights are pickled; load it in "
                                     "PyTorch and save its state_dict as NumPy arrays" if torch else
                                     f"a zip archive without the {_STRUCT} entry"))
        _check_sizes(path)
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except _NotACheckpoint:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, zlib.error,
            NotImplementedError, RuntimeError) as e:  # the last two: zipfile on a damaged version or flags byte
        raise ValueError(f"checkpoint {path} is corrupt or truncated and cannot be read ({type(e).__name__}: {e})") from None
    if _STRUCT not in arrays:
        raise ValueError(f"{path} is not a numconv checkpoint (no {_STRUCT} entry)")
    try:
        raw = arrays.pop(_STRUCT)
        if not isinstance(raw, np.ndarray):
            raise ValueError(f"{_STRUCT} is not an array")
        structure = json.loads(raw.tobytes().decode())
        if not isinstance(structure, dict) or structure.get("format") != _FORMAT:
            raise ValueError(f"unknown format {structure.get('format') if isinstance(structure, dict) else structure!r}")
        return _unflatten(structure["root"], arrays)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError) as e:
        raise ValueError(f"checkpoint {path} is corrupt: its structure cannot be read ({e})") from None
