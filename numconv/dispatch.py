"""Which kernel runs: the backend comes from where the arrays live.

NumPy arrays run on the CPU kernels (``numconv.kernels.cpu``); Numba device arrays and any
object exposing ``__cuda_array_interface__`` (CuPy, PyTorch CUDA tensors) run on the CUDA
kernels (``numconv.kernels.cuda``), whose launchers have the same names and signatures.
This is the only module that knows both backends exist.
"""
from __future__ import annotations

import contextlib
import importlib
import math
import os
import threading

import numpy as np

from .kernels.grid_sample import MODES as GRID_SAMPLE_MODES  # noqa: F401 - grid_sample's codes, for ops
from .kernels.grid_sample import PADDINGS as GRID_SAMPLE_PADDINGS  # noqa: F401
from .kernels.scalar import ACTIVATIONS  # noqa: F401 - the elementwise kernels' activation codes, for ops

CPU, CUDA = "cpu", "cuda"
ALGORITHMS = ("direct", "gemm", "planes", "winograd")  # the CPU convolution kernels; see conv_algorithm
_forced_algorithm = None


def device_of(x) -> str:
    if isinstance(x, np.ndarray):
        return CPU
    # the class first: on a Numba array, reading the attribute builds the interface's dict. A CPU torch
    # tensor's class has the attribute too, but reading it on the tensor raises: only the instance tells
    cls = type(x)
    if (hasattr(cls, "__cuda_array_interface__") and cls.__module__.startswith("numba")) \
            or hasattr(x, "__cuda_array_interface__") or getattr(x, "__cuda_ndarray__", False):
        return CUDA  # the last test catches Numba's device arrays under the CUDA simulator too
    return CPU


def backend(**arrays) -> str:
    """The one backend all named arrays live on; mixing devices is a ValueError naming them."""
    found = None
    for a in arrays.values():  # (every op calls this: no dict or set built when the devices agree)
        if a is not None:
            dev = device_of(a)
            if found is None:
                found = dev
            elif dev != found:
                listing = ", ".join(f"{name} on {device_of(v)}" for name, v in arrays.items() if v is not None)
                raise ValueError(f"arrays are on different devices ({listing}); move them to one device first")
    return CPU if found is None else found


_kernel_modules = {}


def kernels(family: str, device: str):
    """The kernel module ``numconv.kernels.<device>.<family>``."""
    if device == CUDA:
        from . import cuda

        cuda.require()
    key = (device, family)
    if key not in _kernel_modules:
        _kernel_modules[key] = importlib.import_module(f"numconv.kernels.{device}.{family}")
    return _kernel_modules[key]


_CONV_FORWARDS = (("conv_planes", "_forward_images"), ("conv_planes", "_forward_lanes"),
                  ("conv_gemm", "conv_forward_gemm"), ("conv_winograd", "conv_forward_winograd"),
                  ("conv", "conv_forward"))


def cpu_kernels_cached():
    """Whether Numba's disk cache holds a build of any CPU convolution forward (which one a model's
    first layer runs depends on its shape and the thread count): False on a machine's first run,
    when the first training step compiles the kernels (tens of seconds); None when it cannot be
    told (Numba's cache internals are not a public API). A True does not promise that every kernel
    a model needs is cached, only that numconv has run here before."""
    try:
        return any(bool(getattr(kernels(family, CPU), name)._cache._cache_file._load_index())
                   for family, name in _CONV_FORWARDS)
    except Exception:  # another Numba's internals, or no cache directory: say nothing
        return None


def empty(shape, dtype, device: str):
    if device == CUDA:
        return _device_empty(tuple(shape), np.dtype(dtype))
    return host_empty(shape, dtype)


# ---------------------------------------------------------------------------- reused host memory
#
# A fresh large NumPy array is memory the kernel maps on first touch, a page fault per 4 KiB (or a
# huge page compacted): about 5 us each here, as much as the op itself for a ReLU of a few MB, and
# glibc hands freed blocks of that size back to the kernel. So op outputs of at least
# POOL_MIN_BYTES come from blocks kept for reuse, as PyTorch's CUDA allocator keeps device memory:
# an array's memory goes back to the pool when the last array viewing it is gone (``_Lease``), for
# the next array of the same size in pages. At most POOL_IDLE_BYTES wait there; ``empty_cache``
# lets them go, and NUMCONV_HOST_POOL=0 turns the pool off (every array from ``np.empty``).

POOL_ENABLED = os.environ.get("NUMCONV_HOST_POOL", "1") != "0"
POOL_MIN_BYTES = 1 << 20
POOL_IDLE_BYTES = 1 << 30
_PAGE = 4096
_ALIGN = 64  # a cache line: vectors of a row start aligned
_idle = {}  # bytes, rounded up to pages -> blocks (uint8 arrays) no array uses
_idle_bytes = [0]


class _Lease:
    """The owner of a pooled block while arrays view it (their ``base``): NumPy keeps it alive
    exactly as long as any of them, and its end gives the block back."""

    __slots__ = ("block", "__array_interface__")

    def __init__(self, block, shape, dtype):
        self.block = block
        start = block.ctypes.data
        start += -start % _ALIGN
        self.__array_interface__ = {"shape": shape, "typestr": dtype.str, "data": (start, False), "version": 3}

    def __del__(self):
        try:
            _give_back(self.block)
        except Exception:  # interpreter shutdown: the module may be half gone; the memory goes with it
            pass


def _give_back(block):
    size = block.size - _ALIGN
    if _idle_bytes[0] + size <= POOL_IDLE_BYTES:
        _idle.setdefault(size, []).append(block)
        _idle_bytes[0] += size


def host_empty(shape, dtype):
    """``np.empty(shape, dtype)``, from the pool when it is at least POOL_MIN_BYTES."""
    dtype = np.dtype(dtype)
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    nbytes = dtype.itemsize * math.prod(shape)
    if nbytes < POOL_MIN_BYTES or dtype.hasobject or not POOL_ENABLED:
        return np.empty(shape, dtype)  # small: what the pool would save costs more than it saves
    shape = tuple(int(n) for n in shape)
    size = -(-nbytes // _PAGE) * _PAGE
    blocks = _idle.get(size)
    if blocks:
        block = blocks.pop()
        _idle_bytes[0] -= size
    else:
        block = np.empty(size + _ALIGN, np.uint8)
    return np.asarray(_Lease(block, shape, dtype))


def empty_cache():
    """Let the idle pooled host blocks go (back to the allocator, and the system)."""
    _idle.clear()
    _idle_bytes[0] = 0


_fast = []  # the module numconv.kernels.cuda.fastlaunch, once a CUDA op has imported it


def _fastlaunch():
    """``numconv.kernels.cuda.fastlaunch`` (which imports numba.cuda), imported on first use: an
    import statement in a function costs about half a microsecond on every call."""
    if _fast:
        return _fast[0]
    from .kernels.cuda import fastlaunch

    _fast.append(fastlaunch)
    return fastlaunch


def _device_empty(shape, dtype):
    """``numba.cuda.device_array(shape, dtype)``, through the lean path's allocation (see
    ``kernels.cuda.fastlaunch.device_empty``)."""
    return _fastlaunch().device_empty(shape, dtype)


_placeholders = {}


def placeholder(dtype, device: str, shape=(1,)):
    """An array passed for an absent optional argument (a bias, indices not asked for), never
    read; kept per dtype, device and shape."""
    key = (np.dtype(dtype), device, tuple(shape))
    if key not in _placeholders:
        _placeholders[key] = empty(shape, dtype, device)
    return _placeholders[key]


def view(x, shape, device: str):
    """``x`` (C-contiguous, as ``contiguous`` gives it) seen with ``shape`` (one entry may be -1), to
    hand to a kernel: a NumPy reshape on the CPU. On CUDA a marker the launch reads
    (``kernels.cuda.fastlaunch.view``: it has ``shape``, ``size``, ``dtype`` and ``ndim``, and nothing
    else to compute with), because a reshaped Numba array object costs 10 us to build, as much as
    a small kernel."""
    if device == CUDA:
        return _fastlaunch().view(x, shape)
    return x.reshape(shape)


_kept_tables = {}  # id(owner) -> (owner, its tables on the GPU); the owners are memoized per shape


def kept_on_device(owner, tables: tuple, device: str) -> tuple:
    """``tables`` (small host arrays that belong to ``owner``, a memoized spec or table) where the
    kernels run: on the GPU copied once per owner and kept, since a host-to-device copy blocks and
    costs more than the pooling or resampling that reads them."""
    if device == CPU:
        return tables
    hit = _kept_tables.get(id(owner))
    if hit is None or hit[0] is not owner:  # holding the owner keeps its id from being reused
        if len(_kept_tables) >= 512:
            _kept_tables.clear()
        hit = _kept_tables[id(owner)] = (owner, tuple(to_device(t, device) for t in tables))
    return hit[1]


def to_device(array: np.ndarray, device: str):
    """A small host table (pooling windows, pad indices) on the device the kernels run on."""
    if device == CUDA:
        from numba import cuda as nbcuda

        return nbcuda.to_device(array)
    return array


def copy(x, device: str):
    """A new array with ``x``'s values, on ``x``'s device."""
    if device == CUDA:
        x = contiguous(x, device)
        out = empty(tuple(x.shape), x.dtype, device)
        if x.size:
            _fastlaunch().copy_array(out, x)
        return out
    if isinstance(x, np.ndarray):  # C-contiguous whatever x's strides, into reused memory: no page faults
        out = host_empty(x.shape, x.dtype)
        np.copyto(out, x)
        return out
    return np.array(x, copy=True)


def to_host(x) -> np.ndarray:
    """A NumPy copy of a device array (the array itself if it already is one); for checks and printing."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "copy_to_host"):
        return x.copy_to_host()
    from numba import cuda as nbcuda

    return nbcuda.as_cuda_array(x).copy_to_host()


def contiguous(x, device: str):
    """C-contiguous ``x`` (copied once on the CPU if it is not); the kernels index raw memory.

    Foreign CUDA arrays (CuPy, PyTorch) are wrapped zero-copy as Numba device arrays.
    """
    if device == CPU:
        return np.asarray(x, order="C")  # ascontiguousarray would make a 0-d array 1-d
    if not hasattr(x, "is_c_contiguous"):
        from numba import cuda as nbcuda

        x = nbcuda.as_cuda_array(x)
    if x.is_c_contiguous():
        return x
    raise ValueError(f"CUDA arrays must be C-contiguous, got one of shape {tuple(x.shape)} with strides "
                     f"{tuple(x.strides)}; make a contiguous copy on the device first")


@contextlib.contextmanager
def use_algorithm(name):
    """Force a convolution algorithm (one of ALGORITHMS) inside the block; tests run every path.
    'winograd' covers 3x3 stride-1 2-d layers only (any padding, dilation and groups); elsewhere
    the usual choice runs."""
    global _forced_algorithm
    if name not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {name!r}")
    prev, _forced_algorithm = _forced_algorithm, name
    try:
        yield
    finally:
        _forced_algorithm = prev


_workspaces = threading.local()  # per thread: {(name, dtype, device): array}


def workspace(name: str, size: int, dtype, device: str):
    """A flat scratch array of at least ``size`` elements, kept and reused across calls (a fresh
    large array costs a page fault per 4 KiB on first touch). One per name, dtype, device and
    thread: an op may fill one in a kernel and read it in the next, so two threads running ops at
    once must not share it (a thread's arrays go when the thread ends)."""
    arrays = getattr(_workspaces, "arrays", None)
    if arrays is None:
        arrays = _workspaces.arrays = {}
    key = (name, np.dtype(dtype), device)
    ws = arrays.get(key)
    if ws is None or ws.size < size:
        ws = arrays[key] = empty((size,), dtype, device)
    return ws


def conv_algorithm(spec, device: str, pass_: str) -> str:
    """The kernel for one convolution pass ('forward', 'input_grad', 'weight_grad'), chosen by shape:
    'winograd' (F(4x4, 3x3)) for 3x3 stride-1 layers with enough channels (and, for the forward and
    input gradient, tiles), else 'planes'
    (whole padded planes split into stride phases) where its flat runs are long, else 'gemm'
    (tiled implicit GEMM) where its dot products are long and rows of outputs share loads, else
    'direct'. CUDA has one kernel per pass. docs/performance.md gives the measurements behind the
    rule. The choice is remembered per shape, pass, forced algorithm and thread count (working it
    out took 4 of the 20 us a small layer's call spends in Python)."""
    if device != CPU:
        return "direct"
    key = (spec, pass_, _forced_algorithm, threads())
    name = _algorithms.get(key)
    if name is None:
        if len(_algorithms) >= 4096:  # a bound for programs that see ever new shapes
            _algorithms.clear()
        name = _algorithms[key] = _choose_algorithm(spec, pass_)
    return name


_algorithms = {}


def _choose_algorithm(spec, pass_: str) -> str:
    """``conv_algorithm``'s rule for the CPU, worked out."""
    from .kernels.cpu import conv_gemm, conv_planes, conv_winograd

    if 0 in spec.w_shape[:2]:  # no input or no output channels: sums over nothing, which the definition's loops give
        return "direct"
    if _forced_algorithm is not None:
        if _forced_algorithm != "winograd":
            return _forced_algorithm
        if conv_winograd.applies(spec, pass_):
            return "winograd"
    elif conv_winograd.preferred(spec, pass_):
        return "winograd"
    if conv_planes.preferred(spec, pass_, threads()):
        return "planes"
    return "gemm" if conv_gemm.use_gemm(spec, pass_, threads()) else "direct"


def threads() -> int:
    """Threads the CPU kernels run on (NUMBA_NUM_THREADS)."""
    import numba

    return numba.get_num_threads()
