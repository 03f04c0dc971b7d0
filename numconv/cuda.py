"""``numconv.cuda``: is a CUDA GPU usable from here? And the caching device-memory pool.

The pool (``numconv.cuda_memory``): numba-cuda allocates every device array with ``cuMemAlloc``
and frees it with ``cuMemFree``, which costs as much as a small kernel. The first time numconv
needs CUDA (:func:`require`, called by every CUDA op and ``to_device``), it installs a caching
allocator as Numba's External Memory Management plugin (``numba.cuda.set_memory_manager``), which
keeps freed blocks and hands them out again. It is installed only when all of these hold:

- no CUDA context has been created by Numba yet in this process (Numba fixes its memory manager
  when it creates a context): if you created device arrays (``cuda.to_device``,
  ``cuda.device_array``) before the first numconv call, the pool is skipped; call
  ``numconv.cuda.require()`` first, right after importing, to have it (numconv says so with a
  ``RuntimeWarning``);
- the environment does not choose a memory manager itself (``NUMBA_CUDA_MEMORY_MANAGER``) and no
  other plugin was set with ``numba.cuda.set_memory_manager``;
- ``NUMCONV_CUDA_POOL`` is not ``"0"`` (set it to ``0`` to keep Numba's own allocator);
- not under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``).

:func:`memory_stats` reports the pool (``None`` when it is not in use) and :func:`empty_cache`
frees its cached blocks (memory held for reuse; arrays still alive are untouched).
"""
from __future__ import annotations

import os

_pool_state = {"tried": False, "installed": False, "reason": "not tried yet"}


def is_available() -> bool:
    """True when numba-cuda is installed and finds a GPU (or runs the CUDA simulator)."""
    try:
        from numba import cuda
    except Exception:
        return False
    try:
        return bool(cuda.is_available()) or os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
    except Exception:
        return False


_available = []  # [True] once require() has found CUDA: every CUDA op calls it


def require() -> None:
    if _available:
        return
    if not is_available():
        raise RuntimeError(
            "CUDA was asked for but is not available: install the 'cuda' extra (pip install numconv[cuda]) "
            "on a machine with an NVIDIA GPU and driver, or keep the arrays on the CPU"
        )
    problem = compiler_problem()
    if problem:
        raise RuntimeError(problem)
    if not _pool_state["tried"]:
        _install_pool()
    _available.append(True)


def compiler_problem(numba_version=None, has_numba_cuda=None):
    """Why numconv's kernels cannot compile for this GPU, or None: on a real GPU they need numba-cuda
    (the 'cuda' extra). Numba's own CUDA target, deprecated since 0.61, rejects every two-argument
    ``min``/``max`` in a kernel from 0.66 on (numba#10753), so the convolution, pooling and norm
    kernels would fail with a typing traceback at their first launch. The simulator runs either."""
    if _simulated():
        return None
    if has_numba_cuda is None:
        import importlib.util

        has_numba_cuda = importlib.util.find_spec("numba_cuda") is not None
    if has_numba_cuda:
        return None
    if numba_version is None:
        import numba

        numba_version = numba.__version__
    parts = tuple(int(p) for p in numba_version.split(".")[:2] if p.isdigit())
    if parts < (0, 66):
        return None
    return (f"numconv's CUDA kernels need numba-cuda on a GPU: install the 'cuda' extra (pip install "
            f"numconv[cuda], which brings numba-cuda[cu12]); numba {numba_version}'s own CUDA target cannot compile "
            "them (it rejects two-argument min/max, numba#10753)")


def _simulated() -> bool:
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return True
    try:
        from numba import config

        return bool(getattr(config, "ENABLE_CUDASIM", False))
    except Exception:
        return False


def _install_pool() -> bool:
    """Install the caching allocator if it may be (see the module docstring); whether it is."""
    state = _pool_state
    state["tried"] = True
    if os.environ.get("NUMCONV_CUDA_POOL", "1") == "0":
        state["reason"] = "disabled by NUMCONV_CUDA_POOL=0"
        return False
    if _simulated():
        state["reason"] = "CUDA simulator"
        return False
    if os.environ.get("NUMBA_CUDA_MEMORY_MANAGER", "default") not in ("", "default"):
        state["reason"] = "NUMBA_CUDA_MEMORY_MANAGER is set"
        return False
    try:
        from numba.cuda.cudadrv import driver as drv

        chosen = getattr(drv, "_memory_manager", None)
        if chosen is not None:
            # a plugin was set already, or Numba created a context (which fixes its manager)
            state["reason"] = "a memory manager was already chosen (a CUDA context exists or a plugin was set)"
            if chosen is getattr(drv, "NumbaCUDAMemoryManager", None):  # Numba's own: not the user's choice
                _warn_no_pool("a CUDA context was created before numconv's first CUDA call")
            return False
        devices = getattr(drv.driver, "devices", {}) or {}
        if any(getattr(dev, "primary_context", None) is not None for dev in devices.values()):
            state["reason"] = "a CUDA context exists already"
            _warn_no_pool("a CUDA context was created before numconv's first CUDA call")
            return False
        from numba import cuda as nbcuda

        from .cuda_memory import memory_manager_class

        set_mm = getattr(nbcuda, "set_memory_manager", None) or drv.set_memory_manager
        set_mm(memory_manager_class())
    except Exception as exc:  # noqa: BLE001 - never let the pool break CUDA use: fall back to Numba's
        state["reason"] = f"install failed: {type(exc).__name__}: {exc}"
        return False
    state["installed"] = True
    state["reason"] = "installed"
    return True


def _warn_no_pool(why: str) -> None:
    import warnings

    warnings.warn(
        f"numconv's caching CUDA memory pool is off: {why}, and Numba fixes its allocator then. Every "
        "device array is a cuMemAlloc and every free a cuMemFree, each as slow as a small kernel. Call "
        "numconv.cuda.require() before making CUDA arrays, or set NUMCONV_CUDA_POOL=0 to keep Numba's "
        "allocator without this warning.", RuntimeWarning, stacklevel=4)


def pool_status() -> dict:
    """Whether the pool was installed, and why not if it was not."""
    return {"installed": _pool_state["installed"], "reason": _pool_state["reason"]}


def _managers():
    if not _pool_state["installed"]:
        return []
    from .cuda_memory import active_managers

    return active_managers()


def memory_stats():
    """The caching pool's counters (bytes_in_use, bytes_cached, peak_bytes_in_use, cached_blocks,
    hits, misses, device_allocs, device_frees, oom_retries), summed over CUDA contexts; ``None``
    when the pool is not in use. All zero while it is installed but no context exists yet."""
    if not _pool_state["installed"]:
        return None
    total = None
    for manager in _managers():
        stats = manager.memory_stats()
        total = stats if total is None else {k: total[k] + v for k, v in stats.items()}
    if total is None:
        from .cuda_memory import BlockPool

        total = BlockPool(None, None).stats()
    return total


def empty_cache() -> int:
    """Free the pool's cached blocks (device memory held for reuse); the number of bytes freed.
    Arrays still referenced are not touched. 0 when the pool is not in use."""
    return sum(manager.empty_cache() for manager in _managers())
