"""A caching device-memory pool for Numba CUDA, as a Numba External Memory Management (EMM) plugin.

numba-cuda has no memory pool: every ``cuda.device_array`` is a ``cuMemAlloc`` (0.09 ms for 64 KB,
0.24 ms for 25 MB on an H100) and every freed array a ``cuMemFree``. Each numconv op allocates its
output, so for small kernels allocation costs as much as the kernel. This module keeps freed blocks
and hands them out again.

Two layers:

- :class:`BlockPool` is the pool logic in plain Python: size buckets, per-bucket free lists, stats,
  the out-of-memory retry. It calls an ``alloc(nbytes) -> (address, handle)`` and a
  ``free(handle)`` callable and an ``is_oom(exc)`` predicate, so it is unit-tested on the host
  with fakes (tests/test_cuda_memory.py).
- :class:`CachingMemoryManager` is the EMM plugin (``numba.cuda.HostOnlyCUDAMemoryManager``
  subclass: Numba keeps managing pinned/mapped host memory) that allocates device memory through a
  :class:`BlockPool` over the driver's ``cuMemAlloc``/``cuMemFree``. Numba builds one per CUDA
  context. ``numconv.cuda.require()`` installs it (``numba.cuda.set_memory_manager``) before the
  first context exists; see ``numconv.cuda`` for when it does not.

Rounding: requests are rounded up to a multiple of 512 bytes below 1 MiB and to a multiple of
2 MiB from 1 MiB up; a freed block is reused only by a request of the same rounded size, so the
waste is under 512 bytes, or under 2 MiB for large blocks. Blocks are never split or merged.

Stream safety: a block goes back to the pool as soon as its array is garbage-collected, and the
next allocation of that size may be handed it while a kernel queued earlier still uses it. That
is safe when all work runs on the default stream (the numconv ops do: the legacy default stream
orders it), as it is in PyTorch's caching allocator on one stream. Work on other streams that
outlives the arrays it uses needs a ``cuda.synchronize()`` before the arrays are dropped.

This module imports without numba-cuda; the plugin class is built on first use
(:func:`memory_manager_class`).
"""
from __future__ import annotations

import contextlib
import inspect
import threading
import weakref

KiB = 1024
MiB = 1024 * KiB
SMALL_LIMIT = 1 * MiB  # below: 512-byte granularity; from here up: 2 MiB granularity
SMALL_ROUND = 512
LARGE_ROUND = 2 * MiB


def round_size(nbytes: int) -> int:
    """The bucket (rounded-up size in bytes) a request of ``nbytes`` is served from (>= 512)."""
    nbytes = max(int(nbytes), 1)
    step = SMALL_ROUND if nbytes < SMALL_LIMIT else LARGE_ROUND
    return -(-nbytes // step) * step


class BlockPool:
    """Caching allocator logic: buckets of freed blocks, reused by requests of the same bucket.

    ``alloc(nbytes)`` returns ``(address, handle)`` (address an int; handle whatever ``free``
    takes) or raises; ``is_oom(exc)`` tells an out-of-memory error from others. On out-of-memory,
    every cached block is freed and the allocation retried once.

    Thread-safe; :meth:`release` may run from a garbage-collection finalizer at any point,
    including while this thread is inside another pool method (hence the reentrant lock and the
    list operations that stay consistent under reentry).
    """

    def __init__(self, alloc, free, is_oom=lambda exc: isinstance(exc, MemoryError)):
        self._alloc, self._free, self._is_oom = alloc, free, is_oom
        self._lock = threading.RLock()
        self._free_lists = {}  # bucket -> [(address, handle)]
        self.generation = 0  # bumped by clear(): blocks handed out before are not pooled again
        self.bytes_in_use = 0  # bucket bytes handed out and not yet released
        self.bytes_cached = 0  # bucket bytes in the free lists
        self.peak_bytes_in_use = 0
        self.hits = 0  # served from the free lists
        self.misses = 0  # needed a new device allocation
        self.device_allocs = 0
        self.device_frees = 0
        self.oom_retries = 0

    # ------------------------------------------------------------------ allocate / release
    def acquire(self, nbytes: int):
        """A block of at least ``nbytes``: ``(address, handle, bucket, generation)``."""
        bucket = round_size(nbytes)
        with self._lock:
            blocks = self._free_lists.get(bucket)
            block = None
            if blocks:
                try:
                    block = blocks.pop()
                except IndexError:  # emptied by a reentrant call
                    block = None
            if block is not None:
                self.hits += 1
                self.bytes_cached -= bucket
            else:
                self.misses += 1
                block = self._device_alloc(bucket)
            self.bytes_in_use += bucket
            self.peak_bytes_in_use = max(self.peak_bytes_in_use, self.bytes_in_use)
            return block[0], block[1], bucket, self.generation

    def _device_alloc(self, bucket):
        try:
            block = self._alloc(bucket)
        except Exception as exc:
            if not self._is_oom(exc):
                raise
            self.oom_retries += 1
            self.empty_cache()
            block = self._alloc(bucket)  # a second out-of-memory propagates
        self.device_allocs += 1
        return block

    def release(self, address, handle, bucket, generation) -> None:
        """Give a block back: into its bucket's free list (or freed, if from before a clear())."""
        with self._lock:
            self.bytes_in_use -= bucket
            if generation == self.generation:
                self._free_lists.setdefault(bucket, []).append((address, handle))
                self.bytes_cached += bucket
                return
        self._free_quietly(handle)  # the pool was cleared (context reset) since it was handed out

    # ------------------------------------------------------------------ cache control
    def empty_cache(self) -> int:
        """Free every cached (not in use) block; the number of bytes freed."""
        with self._lock:
            lists, self._free_lists = self._free_lists, {}
            freed = sum(bucket * len(blocks) for bucket, blocks in lists.items())
            self.bytes_cached -= freed
        for blocks in lists.values():
            for _address, handle in blocks:
                self._free_quietly(handle)
        return freed

    def clear(self) -> None:
        """empty_cache(), and blocks still in use are freed, not cached, when released."""
        with self._lock:
            self.generation += 1
        self.empty_cache()

    def _free_quietly(self, handle) -> None:
        try:
            self._free(handle)
            self.device_frees += 1
        except Exception:  # noqa: BLE001 - a dead context or interpreter shutdown: nothing to free
            pass

    def stats(self) -> dict:
        with self._lock:
            return {
                "bytes_in_use": self.bytes_in_use,
                "bytes_cached": self.bytes_cached,
                "peak_bytes_in_use": self.peak_bytes_in_use,
                "cached_blocks": sum(len(b) for b in self._free_lists.values()),
                "hits": self.hits,
                "misses": self.misses,
                "device_allocs": self.device_allocs,
                "device_frees": self.device_frees,
                "oom_retries": self.oom_retries,
            }


# ---------------------------------------------------------------------- the EMM plugin

_managers = []  # weak references to the initialized CachingMemoryManager instances, newest last
_plugin_class = None
_POINTER_TAKES_CONTEXT = True


def active_managers():
    """The live CachingMemoryManager instances (one per CUDA context numba created), oldest first."""
    alive = [ref() for ref in _managers]
    _managers[:] = [ref for ref, m in zip(list(_managers), alive) if m is not None]
    return [m for m in alive if m is not None]


def _driver_hooks():
    """``(alloc, free, is_oom, pointer)`` over the driver binding the installed numba-cuda uses."""
    from numba.cuda.cudadrv import driver as drv

    use_nv = getattr(drv, "USE_NV_BINDING", True)
    api = drv.driver
    if use_nv:  # NVIDIA cuda-python bindings: cuMemAlloc(size) -> CUdeviceptr
        from cuda.bindings import driver as binding  # noqa: F401 - what numba-cuda uses

        def alloc(nbytes):
            ptr = api.cuMemAlloc(nbytes)
            return int(ptr), ptr

        def pointer(address):
            return binding.CUdeviceptr(address)

        oom = binding.CUresult.CUDA_ERROR_OUT_OF_MEMORY
    else:  # numba's ctypes binding: cuMemAlloc(byref(ptr), size)
        from ctypes import byref

        from numba.cuda.cudadrv import drvapi, enums

        def alloc(nbytes):
            ptr = drvapi.cu_device_ptr()
            api.cuMemAlloc(byref(ptr), nbytes)
            return int(ptr.value), ptr

        def pointer(address):
            return drvapi.cu_device_ptr(address)

        oom = enums.CUDA_ERROR_OUT_OF_MEMORY

    def free(handle):
        api.cuMemFree(handle)

    oom_value = int(getattr(oom, "value", oom))

    def is_oom(exc):
        if not isinstance(exc, drv.CudaAPIError):
            return False
        code = exc.code
        return code == oom or int(getattr(code, "value", code)) == oom_value

    return alloc, free, is_oom, pointer


def memory_manager_class():
    """The EMM plugin class (built on first call: it subclasses numba-cuda's base classes)."""
    global _plugin_class
    if _plugin_class is not None:
        return _plugin_class

    from numba.cuda.cudadrv import driver as drv

    def public(name):  # the driver module's class, else numba.cuda's public re-export
        found = getattr(drv, name, None)
        if found is None:
            from numba import cuda as nbcuda

            found = getattr(nbcuda, name)
        return found

    MemoryPointer = public("MemoryPointer")
    HostOnly = public("HostOnlyCUDAMemoryManager")
    global _POINTER_TAKES_CONTEXT
    try:
        params = list(inspect.signature(MemoryPointer.__init__).parameters)
        _POINTER_TAKES_CONTEXT = len(params) < 2 or params[1] == "context"
    except (TypeError, ValueError):
        _POINTER_TAKES_CONTEXT = True
    bases = (drv.GetIpcHandleMixin, HostOnly) if hasattr(drv, "GetIpcHandleMixin") else (HostOnly,)

    class CachingMemoryManager(*bases):
        """Numba EMM plugin: device memory from a :class:`BlockPool` (one per context)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.pool = None
            self._pointer = None
            if self.context is not None:  # set_memory_manager builds one with context=None to check it
                alloc, free, is_oom, self._pointer = _driver_hooks()
                self.pool = BlockPool(alloc, free, is_oom)

        def initialize(self):
            # as numba's own manager: size the pending-deallocations queue of the host allocations
            deallocs = self.deallocations
            if getattr(deallocs, "memory_capacity", None) == getattr(drv, "_SizeNotSet", object()):
                try:
                    deallocs.memory_capacity = self.get_memory_info().total
                except Exception:  # noqa: BLE001 - only the flush threshold of host frees
                    pass
            if not any(m is self for m in active_managers()):
                _managers.append(weakref.ref(self))

        def memalloc(self, size):
            address, handle, bucket, generation = self.pool.acquire(size)
            pool = self.pool

            def finalizer():  # must not reference the MemoryPointer: it runs when that dies
                pool.release(address, handle, bucket, generation)

            ptr = self._pointer(address)
            if _POINTER_TAKES_CONTEXT:
                return MemoryPointer(weakref.proxy(self.context), ptr, size, finalizer=finalizer)
            return MemoryPointer(ptr, size, finalizer=finalizer)  # numba-cuda without the context argument

        def get_memory_info(self):
            """``(free, total)`` from the driver; cached blocks count as used."""
            if getattr(drv, "USE_NV_BINDING", True):
                free, total = drv.driver.cuMemGetInfo()
            else:
                from ctypes import byref, c_size_t

                free, total = c_size_t(), c_size_t()
                drv.driver.cuMemGetInfo(byref(free), byref(total))
                free, total = free.value, total.value
            return drv.MemoryInfo(free=free, total=total)

        if not hasattr(drv, "GetIpcHandleMixin"):
            def get_ipc_handle(self, memory):
                raise NotImplementedError("IPC handles of pooled numconv allocations are not supported")

        def reset(self):
            """Free the cached blocks; blocks still in use are freed (not cached) when released."""
            super().reset()
            if self.pool is not None:
                self.pool.clear()

        @contextlib.contextmanager
        def defer_cleanup(self):
            # pooled device blocks are never freed on release, so there is nothing to defer for
            # them; the host allocations are Numba's and deferred by the base class
            with super().defer_cleanup():
                yield

        def empty_cache(self) -> int:
            return self.pool.empty_cache() if self.pool is not None else 0

        def memory_stats(self) -> dict:
            return self.pool.stats()

        @property
        def interface_version(self):
            return 1

    CachingMemoryManager.__module__ = __name__
    _plugin_class = CachingMemoryManager
    return _plugin_class


def __getattr__(name):  # ``from numconv.cuda_memory import CachingMemoryManager`` builds it lazily
    if name == "CachingMemoryManager":
        return memory_manager_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
