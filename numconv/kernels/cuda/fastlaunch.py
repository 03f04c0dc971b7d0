"""A lean launch path for numconv's CUDA kernels.

Launching through Numba (``kernel[grid, block](*args)``) costs 40 us for a kernel with one array
argument and 150 us for the convolution's 4 arrays and 24 scalars on an H100 machine
(``scripts/gpu_overhead.py``; docs/gpu.md): every call types each argument again, builds a Numba
type object per array, wraps each array and makes a ctypes value per kernel parameter through
several layers. cuDNN's whole pooling call takes less than that.

``launch_grid(kernel, grid, block, *args)`` does the same launch with less. The first call with a
given kernel and argument kinds (array dtype, rank and layout; scalar type) goes through Numba,
which compiles or loads the kernel; then it looks up the overload Numba chose and keeps its
function handle and argument types. Later calls with the same kinds pack the parameters themselves,
exactly as Numba does (per array: meminfo, parent, size, itemsize, data pointer, shape, strides in
bytes; per scalar: one C value; tuples flattened), and call the driver's ``launch_kernel``.
``flat(a)`` passes a C-contiguous array as 1-d without building a reshaped device array.

It calls ``cuLaunchKernel`` from the driver library (libcuda) through ctypes, a stable C API, and
reads one thing inside numba-cuda: the compiled kernel's handle (``_handle_of``). If that cannot
be read or the driver refuses a launch, numconv goes back to Numba's path for good and says why in
``status()``. It is off under the CUDA simulator and with ``NUMCONV_CUDA_FAST_LAUNCH=0``. It
launches on the default stream in the thread's current context, where Numba's first launch
left its context, as numconv always has; numconv uses one device.
"""
from __future__ import annotations

import ctypes
import os

import numpy as np

_state = {"enabled": None, "reason": "not used yet", "fast": 0, "numba": 0}
_plans = {}  # (kernel, argument kinds) -> (function handle, packers) or None (always through Numba)
_NULL = ctypes.c_void_p(0)
_SSIZE = ctypes.c_ssize_t
_itemsizes = {}  # dtype -> c_ssize_t(itemsize), shared by every launch (the driver copies parameters)


class _Flat:
    """A C-contiguous device array to pass as 1-d (``flat``)."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


def enabled() -> bool:
    if _state["enabled"] is None:
        if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
            _disable("CUDA simulator")
        elif os.environ.get("NUMCONV_CUDA_FAST_LAUNCH", "1") == "0":
            _disable("disabled by NUMCONV_CUDA_FAST_LAUNCH=0")
        else:
            try:
                _state["launch_kernel"] = _driver_launch()
                _state["enabled"], _state["reason"] = True, "on"
            except Exception as exc:  # noqa: BLE001 - any failure means Numba's own path
                _disable(f"no cuLaunchKernel in the CUDA driver library ({type(exc).__name__}: {exc})")
    return _state["enabled"]


def _driver_launch():
    """``launch(handle, gx, gy, gz, bx, by, bz, shared, stream, params)``: cuLaunchKernel from libcuda,
    on a list of ctypes parameter values; raises RuntimeError with the driver's code on failure."""
    import ctypes.util
    import sys

    names = ["nvcuda.dll"] if sys.platform == "win32" else ["libcuda.so.1", "libcuda.so", ctypes.util.find_library("cuda")]
    lib, errors = None, []
    for name in names:
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError as exc:
            errors.append(str(exc))
    if lib is None:
        raise OSError("; ".join(errors) or "libcuda not found")
    fn = lib.cuLaunchKernel
    u = ctypes.c_uint
    fn.argtypes = [ctypes.c_void_p, u, u, u, u, u, u, u, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p]
    fn.restype = ctypes.c_int
    addressof = ctypes.addressof

    def launch(handle, gx, gy, gz, bx, by, bz, shared, stream, params):
        ptrs = (ctypes.c_void_p * len(params))(*[addressof(p) for p in params])
        err = fn(handle, gx, gy, gz, bx, by, bz, shared, stream, ptrs, None)
        if err:
            raise RuntimeError(f"cuLaunchKernel returned CUDA error {err}")

    return launch


def _handle_of(overload):
    """The raw CUfunction (or CUkernel, which cuLaunchKernel also takes) of a compiled kernel, as an
    int; where numba-cuda keeps it has moved between releases, so a few places are tried."""
    tried = []
    for path, get in (("_codelibrary.get_cufunc().handle", lambda o: o._codelibrary.get_cufunc().handle),
                      ("_codelibrary.get_cufunc()._handle", lambda o: o._codelibrary.get_cufunc()._handle),
                      ("library.get_cufunc().handle", lambda o: o.library.get_cufunc().handle)):
        try:
            obj = get(overload)
        except Exception as exc:  # noqa: BLE001
            tried.append(f"{path}: {type(exc).__name__}")
            continue
        value = obj.value if isinstance(obj, ctypes.c_void_p) else obj
        try:
            value = int(value)
        except (TypeError, ValueError):
            tried.append(f"{path}: {type(obj).__name__} is not an address")
            continue
        if value:
            return value
        tried.append(f"{path}: null")
    raise AttributeError("no kernel handle found (" + "; ".join(tried) + ")")


def _disable(reason: str) -> None:
    _state["enabled"], _state["reason"] = False, reason
    _plans.clear()


def status() -> dict:
    """Whether the lean path is on (and why not), and how many launches took each path."""
    return {k: _state[k] for k in ("enabled", "reason", "fast", "numba")}


def flat(a):
    """``a`` (C-contiguous) as a 1-d kernel argument: a marker for the lean path, else a reshape."""
    if enabled():
        return _Flat(a)
    return a.reshape(a.size)


def _kind(a):
    t = type(a)
    if t is _Flat:
        return ("flat", a.array.dtype)
    if hasattr(a, "device_ctypes_pointer"):
        layout = "C" if a.is_c_contiguous() else ("F" if a.is_f_contiguous() else "A")
        return ("array", a.dtype, a.ndim, layout)
    if t is tuple:
        return tuple(_kind(v) for v in a)
    return t


def _real(a):
    """The argument Numba's own path takes for ``a``."""
    if type(a) is _Flat:
        return a.array.reshape(a.array.size)
    return a


def _scalar_packer(ty):
    from numba.core import types

    if isinstance(ty, types.Boolean):
        return lambda v: ctypes.c_uint8(int(v))
    if isinstance(ty, types.Integer):
        return getattr(ctypes, f"c_{ty}")
    if ty == types.float64:
        return ctypes.c_double
    if ty == types.float32:
        return ctypes.c_float
    return None


def _packers(argtypes):
    """One packer per argument: 'array', a ctypes constructor, or a tuple of packers; None if an
    argument's type is not one the lean path packs."""
    from numba.core import types

    out = []
    for ty in argtypes:
        if isinstance(ty, types.Array):
            out.append("array")
        elif isinstance(ty, types.BaseTuple):
            inner = _packers(tuple(ty))
            if inner is None:
                return None
            out.append(tuple(inner))
        else:
            p = _scalar_packer(ty)
            if p is None:
                return None
            out.append(p)
    return out


def _pack(packers, args, params):
    for p, a in zip(packers, args):
        if p == "array":
            if type(a) is _Flat:
                a = a.array
                isz = _itemsize(a.dtype)
                params += (_NULL, _NULL, _SSIZE(a.size), isz, _pointer(a), _SSIZE(a.size), isz)
            else:
                params += (_NULL, _NULL, _SSIZE(a.size), _itemsize(a.dtype), _pointer(a))
                params += [_SSIZE(s) for s in a.shape]
                params += [_SSIZE(s) for s in a.strides]
        elif type(p) is tuple:
            _pack(p, a, params)
        else:
            params.append(p(a))


def _pointer(a):
    """The array's device address as a ctypes pointer (Numba's handle is a ctypes value, c_void_p
    or c_uint64 depending on the release, or, with NVIDIA's bindings, a CUdeviceptr; int() of a
    ctypes value would parse its bytes as text)."""
    p = a.device_ctypes_pointer
    return ctypes.c_void_p(p.value if isinstance(p, ctypes._SimpleCData) else int(p))


def _itemsize(dtype):
    c = _itemsizes.get(dtype)
    if c is None:
        c = _itemsizes[dtype] = _SSIZE(np.dtype(dtype).itemsize)
    return c


def _plan(kernel, real_args):
    """(handle, packers) for the overload Numba just launched for ``real_args``, or None."""
    try:
        argtypes = tuple(kernel.typeof_pyval(a) for a in real_args)
        overload = kernel.overloads.get(argtypes)
        if overload is None or getattr(overload, "cooperative", False) or getattr(overload, "debug", False) \
                or getattr(overload, "extensions", None):
            return None
        packers = _packers(argtypes)
        if packers is None:
            return None
        return _handle_of(overload), packers
    except Exception as exc:  # noqa: BLE001 - numba-cuda internals moved: Numba's own path from now on
        _disable(f"could not read a compiled kernel's handle ({type(exc).__name__}: {exc})")
        return None


def launch_grid(kernel, grid, block, *args):
    """``kernel[grid, block](*args)`` (``grid`` and ``block`` ints or tuples of up to 3)."""
    if not enabled():
        kernel[grid, block](*args)
        return
    key = (id(kernel), tuple(_kind(a) for a in args))  # kernels live as long as their modules
    plan = _plans.get(key, False)
    if plan is False:  # first launch with these kinds: through Numba, then read what it compiled
        real = tuple(_real(a) for a in args)
        kernel[grid, block](*real)
        _state["numba"] += 1
        _plans[key] = _plan(kernel, real)
        return
    if plan is None:
        kernel[grid, block](*(_real(a) for a in args))
        _state["numba"] += 1
        return
    handle, packers = plan
    gx, gy, gz = (grid, 1, 1) if type(grid) is int else (tuple(grid) + (1, 1))[:3]
    bx, by, bz = (block, 1, 1) if type(block) is int else (tuple(block) + (1, 1))[:3]
    try:
        params = []
        _pack(packers, args, params)
        _state["launch_kernel"](handle, gx, gy, gz, bx, by, bz, 0, None, params)
    except Exception as exc:  # noqa: BLE001 - then Numba's own path, which raises any real error
        _disable(f"a lean launch failed ({type(exc).__name__}: {exc})")
        kernel[grid, block](*(_real(a) for a in args))
        return
    _state["fast"] += 1
