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
bytes; per scalar: one C value; tuples flattened), and call the driver's ``launch_kernel``. The
parameters go into one buffer per kernel and argument kinds, laid out as C lays out a struct of
them (which is how CUDA lays out kernel parameters), by one ``struct.pack_into``; the pointers the
driver reads them through are made once.
``view(a, shape)`` passes a C-contiguous array with another shape (``flat(a)``: as 1-d) without
building a reshaped Numba array object (10 us each on the H100 machine). Views are markers on
every path; where Numba launches, they become real reshapes.

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
import struct
import threading

_state = {"enabled": None, "reason": "not used yet", "fast": 0, "numba": 0}
_plans = {}  # (kernel, argument kinds) -> _Plan, or None (always through Numba)
_lock = threading.Lock()  # a plan's buffer is filled and launched by one thread at a time
_c_strides = {}  # (shape, itemsize) -> C-contiguous strides in bytes


class _View:
    """A C-contiguous device array seen with another ``shape`` of the same size (``view``); ``kind``
    is its argument kind for ``launch_grid``'s plans (as ``_kind`` gives it for an array)."""

    __slots__ = ("array", "shape", "size", "dtype", "ndim", "kind")

    def __init__(self, array, shape):
        self.array, self.shape, self.size, self.dtype, self.ndim = array, shape, array.size, array.dtype, len(shape)
        self.kind = ("array", self.dtype, self.ndim, "C")


def view(a, shape):
    """``a`` (a C-contiguous device array, or a view of one) as a kernel argument of ``shape``
    (one entry may be -1), as ``a.reshape(shape)`` would see it."""
    if type(a) is _View:
        a = a.array
    elif not a.is_c_contiguous():
        raise ValueError(f"a kernel view needs a C-contiguous array, got strides {tuple(a.strides)}")
    if type(shape) is not tuple:
        shape = tuple(shape)
    size, known = a.size, 1
    for n in shape:
        known *= n
    if known != size or -1 in shape:  # (the common case costs one product: shapes come from numconv itself)
        known = -known
        if shape.count(-1) != 1 or known <= 0 or size % known or min(shape) < -1:
            raise ValueError(f"cannot view an array of size {size} as shape {shape}")
        shape = tuple(size // known if n == -1 else n for n in shape)
    return _View(a, shape)


def flat(a):
    """``a`` (C-contiguous) as a 1-d kernel argument."""
    return view(a, (a.size,))


def enabled() -> bool:
    """Whether the lean path is on (decided on the first call: not under the simulator, not with
    NUMCONV_CUDA_FAST_LAUNCH=0, and only where libcuda has cuLaunchKernel)."""
    on = _state["enabled"]
    if on is not None:  # every launch and allocation asks: the settled answer first
        return on
    if _state["enabled"] is None:
        if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
            _disable("CUDA simulator")
        elif os.environ.get("NUMCONV_CUDA_FAST_LAUNCH", "1") == "0":
            _disable("disabled by NUMCONV_CUDA_FAST_LAUNCH=0")
        else:
            try:
                _state["launch_kernel"], _state["copy"] = _driver_launch()
                _state["enabled"], _state["reason"] = True, "on"
            except Exception as exc:  # noqa: BLE001 - any failure means Numba's own path
                _disable(f"no cuLaunchKernel in the CUDA driver library ({type(exc).__name__}: {exc})")
    return _state["enabled"]


def _driver_launch():
    """(``launch(handle, gx, gy, gz, bx, by, bz, shared, stream, pointers)``, ``copy(dst, src, nbytes)``):
    cuLaunchKernel from libcuda, given the array of parameter pointers, and cuMemcpyDtoDAsync on
    the default stream, given device addresses; each raises RuntimeError with the driver's code."""
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

    def launch(handle, gx, gy, gz, bx, by, bz, shared, stream, pointers):
        err = fn(handle, gx, gy, gz, bx, by, bz, shared, stream, pointers, None)
        if err:
            raise RuntimeError(f"cuLaunchKernel returned CUDA error {err}")

    memcpy = lib.cuMemcpyDtoDAsync_v2
    memcpy.argtypes = [ctypes.c_uint64, ctypes.c_uint64, ctypes.c_size_t, ctypes.c_void_p]
    memcpy.restype = ctypes.c_int

    def copy(dst, src, nbytes):
        err = memcpy(dst, src, nbytes, None)
        if err:
            raise RuntimeError(f"cuMemcpyDtoDAsync returned CUDA error {err}")

    return launch, copy


_allocator = {}  # the CUDA context numconv allocates in and Numba's array class, found once (one device)


def device_empty(shape, dtype):
    """``numba.cuda.device_array(shape, dtype)`` (C-contiguous; ``shape`` a tuple, ``dtype`` a NumPy
    dtype) without its two lookups of the current context (a third of a pooled allocation's cost)
    where the lean path is on; Numba's own call elsewhere, and for empty arrays."""
    size = 1
    for n in shape:
        size *= n
    if size == 0 or not enabled():
        from numba import cuda

        return cuda.device_array(shape, dtype=dtype)
    if not _allocator:
        from numba import cuda
        from numba.cuda.cudadrv.devicearray import DeviceNDArray

        _allocator.update(context=cuda.current_context(), array=DeviceNDArray)
    strides = _c_strides.get((shape, dtype.itemsize))
    if strides is None:
        strides = _c_strides[(shape, dtype.itemsize)] = _strides_of(shape, dtype.itemsize)
    return _allocator["array"](shape, strides, dtype, gpu_data=_allocator["context"].memalloc(size * dtype.itemsize))


def copy_array(dst, src):
    """``dst[...] = src`` for C-contiguous device arrays of one size and dtype: one device-to-device
    copy queued on the default stream, so it runs in order with the kernels. Numba's
    ``copy_to_device`` does the same after about 0.5 ms of host work (it checks and wraps both
    arrays through several layers), more than the copy of most arrays takes."""
    if enabled():
        try:
            _state["copy"](_address(dst), _address(src), src.size * src.dtype.itemsize)
            return
        except Exception as exc:  # noqa: BLE001 - then Numba's own path, which raises any real error
            _disable(f"a lean copy failed ({type(exc).__name__}: {exc})")
    dst.copy_to_device(src)


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


def _kind(a):
    t = type(a)
    if t is _View:
        return a.kind
    if hasattr(t, "device_ctypes_pointer"):  # on the class: reading it on the array costs a lookup
        layout = "C" if a.is_c_contiguous() else ("F" if a.is_f_contiguous() else "A")
        return ("array", a.dtype, a.ndim, layout)
    if t is tuple:
        return tuple(_kind(v) for v in a)
    return t


def _real(a):
    """The argument Numba's own path takes for ``a``."""
    if type(a) is _View:
        return a.array.reshape(a.shape)
    return a


_ARRAY, _SCALAR = "array", "scalar"
_INT_CODES = {(8, True): "b", (8, False): "B", (16, True): "h", (16, False): "H",
              (32, True): "i", (32, False): "I", (64, True): "q", (64, False): "Q"}


def _layout(argtypes):
    """(packers, codes) for Numba argument types: per argument _ARRAY, _SCALAR or a tuple of
    packers, and the ``struct`` codes of the flattened C parameters (per array: meminfo, parent,
    nitems, itemsize, data, then ndim shapes and ndim strides); None if a type is not one the lean
    path packs."""
    from numba.core import types

    packers, codes = [], []
    for ty in argtypes:
        if isinstance(ty, types.Array):
            packers.append(_ARRAY)
            codes += ["P", "P", "q", "q", "P"] + ["q"] * (2 * ty.ndim)
        elif isinstance(ty, types.BaseTuple):
            inner = _layout(tuple(ty))
            if inner is None:
                return None
            packers.append(tuple(inner[0]))
            codes += inner[1]
        else:
            if isinstance(ty, types.Boolean):
                code = "?"
            elif isinstance(ty, types.Integer):
                code = _INT_CODES.get((ty.bitwidth, ty.signed))
            else:
                code = {types.float32: "f", types.float64: "d"}.get(ty)
            if code is None:
                return None
            packers.append(_SCALAR)
            codes.append(code)
    return packers, codes


def _offsets(codes):
    """Byte offset of each parameter in a buffer laid out as a C struct of them (natural alignment)."""
    out, at = [], 0
    for c in codes:
        size = struct.calcsize("@" + c)
        at += -at % size
        out.append(at)
        at += size
    return out


class _Plan:
    """A kernel overload's handle and its parameter buffer: ``struct`` packs the arguments into
    ``buffer``; ``pointers`` (made once) hold where each parameter starts, as cuLaunchKernel takes them."""

    __slots__ = ("handle", "packers", "struct", "buffer", "pointers")

    def __init__(self, handle, packers, codes):
        self.handle, self.packers = handle, packers
        self.struct = struct.Struct("@" + "".join(codes))
        self.buffer = ctypes.create_string_buffer(max(self.struct.size, 1))
        base = ctypes.addressof(self.buffer)
        self.pointers = (ctypes.c_void_p * max(len(codes), 1))(*[base + o for o in _offsets(codes)])


def _values(packers, args, out):
    """The flattened C parameter values of ``args`` (the order of ``_layout``'s codes)."""
    for p, a in zip(packers, args):
        if p is _SCALAR:  # the most common parameter first
            out.append(a)
        elif p is _ARRAY:
            if type(a) is _View:
                shape, isz = a.shape, a.dtype.itemsize
                strides = _c_strides.get((shape, isz))
                if strides is None:
                    strides = _c_strides[(shape, isz)] = _strides_of(shape, isz)
                out += (0, 0, a.size, isz, _address(a.array))
                out += shape
                out += strides
            else:
                out += (0, 0, a.size, a.dtype.itemsize, _address(a))
                out += a.shape
                out += a.strides
        else:
            _values(p, a, out)


def _strides_of(shape, itemsize):
    """C-contiguous strides in bytes."""
    out, step = [], itemsize
    for n in reversed(shape):
        out.append(step)
        step *= n
    return tuple(reversed(out))


def _address(a):
    """The array's device address as an int (Numba's handle is a ctypes value, c_void_p or c_uint64
    depending on the release, or, with NVIDIA's bindings, a CUdeviceptr; int() of a ctypes value
    would parse its bytes as text; a null c_void_p's value is None)."""
    p = a.device_ctypes_pointer
    return (p.value or 0) if isinstance(p, ctypes._SimpleCData) else int(p)


def _plan(kernel, real_args):
    """The _Plan of the overload Numba just launched for ``real_args``, or None."""
    try:
        argtypes = tuple(kernel.typeof_pyval(a) for a in real_args)
        overload = kernel.overloads.get(argtypes)
        if overload is None or getattr(overload, "cooperative", False) or getattr(overload, "debug", False) \
                or getattr(overload, "extensions", None):
            return None
        layout = _layout(argtypes)
        if layout is None:
            return None
        return _Plan(_handle_of(overload), *layout)
    except Exception as exc:  # noqa: BLE001 - numba-cuda internals moved: Numba's own path from now on
        _disable(f"could not read a compiled kernel's handle ({type(exc).__name__}: {exc})")
        return None


def launch_grid(kernel, grid, block, *args):
    """``kernel[grid, block](*args)`` (``grid`` and ``block`` ints or tuples of up to 3)."""
    if not enabled():
        kernel[grid, block](*(_real(a) for a in args))
        return
    key = (id(kernel), tuple(map(_kind, args)))  # kernels live as long as their modules
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
    gx, gy, gz = (grid, 1, 1) if type(grid) is int else (tuple(grid) + (1, 1))[:3]
    bx, by, bz = (block, 1, 1) if type(block) is int else (tuple(block) + (1, 1))[:3]
    try:
        values = []
        _values(plan.packers, args, values)
        with _lock:
            plan.struct.pack_into(plan.buffer, 0, *values)
            _state["launch_kernel"](plan.handle, gx, gy, gz, bx, by, bz, 0, None, plan.pointers)
    except Exception as exc:  # noqa: BLE001 - then Numba's own path, which raises any real error
        _disable(f"a lean launch failed ({type(exc).__name__}: {exc})")
        kernel[grid, block](*(_real(a) for a in args))
        return
    _state["fast"] += 1
