"""The caching device-memory pool (numconv/cuda_memory.py), on the host: pool logic with fake
alloc/free callables, the EMM plugin's wiring with fake driver hooks, and when numconv.cuda
installs it. No GPU needed; the GPU timing check is runs/gpu_deps/pool_check.py."""
from __future__ import annotations

import ctypes
import gc
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from numconv import cuda_memory
from numconv.cuda_memory import MiB, BlockPool, round_size

ROOT = Path(__file__).resolve().parents[1]


class FakeOOM(Exception):
    pass


class FakeDevice:
    """alloc/free callables over a fake address space with a capacity, counting calls."""

    def __init__(self, capacity=1 << 40):
        self.capacity, self.used, self.next_address = capacity, 0, 0x1000
        self.live = {}  # address -> size
        self.allocs = self.frees = 0

    def alloc(self, nbytes):
        if self.used + nbytes > self.capacity:
            raise FakeOOM(nbytes)
        address, self.next_address = self.next_address, self.next_address + nbytes
        self.live[address] = nbytes
        self.used += nbytes
        self.allocs += 1
        return address, ("handle", address)

    def free(self, handle):
        self.used -= self.live.pop(handle[1])
        self.frees += 1

    def pool(self):
        return BlockPool(self.alloc, self.free, lambda exc: isinstance(exc, FakeOOM))


def test_rounding():
    assert round_size(0) == 512 and round_size(1) == 512 and round_size(512) == 512
    assert round_size(513) == 1024
    assert round_size(64 * 1024) == 64 * 1024
    assert round_size(MiB - 1) == MiB
    assert round_size(MiB) == 2 * MiB  # from 1 MiB up: 2 MiB multiples
    assert round_size(2 * MiB) == 2 * MiB
    assert round_size(25_690_112) == 26 * MiB  # (32, 64, 56, 56) float32
    for n in (1, 777, 4096, 100_000, MiB, 3 * MiB + 5, 10**9):
        r = round_size(n)
        assert r >= n and r - n < (512 if n < MiB else 2 * MiB)


def test_reuse_of_same_bucket_and_stats():
    dev = FakeDevice()
    pool = dev.pool()
    a = pool.acquire(1000)  # bucket 1024
    assert pool.stats()["misses"] == 1 and dev.allocs == 1
    pool.release(*a)
    st = pool.stats()
    assert st["bytes_in_use"] == 0 and st["bytes_cached"] == 1024 and st["cached_blocks"] == 1
    b = pool.acquire(1024)  # same bucket: the cached block, no device allocation
    assert b[0] == a[0] and dev.allocs == 1
    c = pool.acquire(1500)  # another bucket: a new block
    assert c[0] != a[0] and dev.allocs == 2
    st = pool.stats()
    assert st["hits"] == 1 and st["misses"] == 2
    assert st["bytes_in_use"] == 1024 + 1536 and st["bytes_cached"] == 0
    assert st["peak_bytes_in_use"] == 1024 + 1536
    pool.release(*b)
    pool.release(*c)
    assert pool.stats()["bytes_cached"] == 1024 + 1536 and dev.frees == 0  # nothing freed: cached


def test_empty_cache_frees_only_cached_blocks():
    dev = FakeDevice()
    pool = dev.pool()
    held = pool.acquire(3 * MiB)
    for n in (100, 100, 5000):
        pool.release(*pool.acquire(n))
    blocks = [pool.acquire(100), pool.acquire(100)]
    for blk in blocks:
        pool.release(*blk)
    assert pool.stats()["bytes_cached"] == 2 * 512 + 5120
    assert pool.empty_cache() == 2 * 512 + 5120
    assert dev.frees == 3 and set(dev.live) == {held[0]}
    st = pool.stats()
    assert st["bytes_cached"] == 0 and st["cached_blocks"] == 0 and st["bytes_in_use"] == 4 * MiB
    pool.release(*held)  # still pooled after empty_cache
    assert pool.stats()["bytes_cached"] == 4 * MiB and dev.frees == 3


def test_oom_frees_cache_and_retries_once():
    dev = FakeDevice(capacity=10 * MiB)
    pool = dev.pool()
    blocks = [pool.acquire(2 * MiB) for _ in range(4)]  # 8 MiB
    for blk in blocks:
        pool.release(*blk)
    assert dev.used == 8 * MiB
    big = pool.acquire(6 * MiB)  # does not fit beside the cache: cache freed, retried, succeeds
    st = pool.stats()
    assert st["oom_retries"] == 1 and st["bytes_cached"] == 0 and dev.frees == 4
    assert st["bytes_in_use"] == 6 * MiB and dev.used == 6 * MiB
    with pytest.raises(FakeOOM):  # a real out-of-memory (nothing cached to free) propagates
        pool.acquire(6 * MiB)
    assert pool.stats()["oom_retries"] == 2 and pool.stats()["bytes_in_use"] == 6 * MiB
    pool.release(*big)


def test_other_errors_propagate_without_retry():
    calls = []

    def alloc(n):
        calls.append(n)
        raise ValueError("driver broken")

    pool = BlockPool(alloc, lambda h: None, lambda exc: False)
    with pytest.raises(ValueError):
        pool.acquire(10)
    assert calls == [512] and pool.stats()["oom_retries"] == 0 and pool.stats()["bytes_in_use"] == 0


def test_clear_frees_blocks_released_after_it():
    dev = FakeDevice()
    pool = dev.pool()
    a, b = pool.acquire(100), pool.acquire(100)
    pool.release(*a)
    pool.clear()  # context reset: cached freed, a block in use is freed when it comes back
    assert dev.frees == 1
    pool.release(*b)
    assert dev.frees == 2 and dev.live == {} and pool.stats()["bytes_cached"] == 0
    c = pool.acquire(100)  # the pool works on after a clear
    pool.release(*c)
    assert pool.stats()["bytes_cached"] == 512


def test_release_reentering_during_acquire():
    """A GC finalizer may release a block while this thread is inside acquire()."""
    dev = FakeDevice()
    pool = dev.pool()
    pending = [pool.acquire(100)]

    def alloc(n):
        if pending:
            pool.release(*pending.pop())  # as if a finalizer ran during the allocation
        return dev.alloc(n)

    pool._alloc = alloc
    pool.acquire(5000)
    st = pool.stats()
    assert st["bytes_cached"] == 512 and st["bytes_in_use"] == 5120


# ---------------------------------------------------------------------- the plugin, with fakes

cuda_driver = pytest.importorskip("numba.cuda.cudadrv.driver", reason="numba.cuda is not importable")


def test_plugin_memalloc_returns_blocks_through_the_finalizer(monkeypatch):
    dev = FakeDevice()
    monkeypatch.setattr(cuda_memory, "_driver_hooks", lambda: (
        dev.alloc, dev.free, lambda exc: isinstance(exc, FakeOOM), ctypes.c_uint64))
    cls = cuda_memory.memory_manager_class()
    assert cls.__name__ == "CachingMemoryManager" and issubclass(cls, cuda_driver.HostOnlyCUDAMemoryManager)
    assert cls(context=None).interface_version == 1  # what set_memory_manager checks

    class FakeContext:
        pass

    ctx = FakeContext()
    mm = cls(context=ctx)
    mem = mm.memalloc(1000)
    assert isinstance(mem, cuda_driver.MemoryPointer) and mem.size == 1000
    address = mem.device_pointer.value
    assert mm.memory_stats()["bytes_in_use"] == 1024
    del mem
    gc.collect()
    st = mm.memory_stats()
    assert st["bytes_in_use"] == 0 and st["bytes_cached"] == 1024 and dev.frees == 0
    mem2 = mm.memalloc(700)  # same bucket: same block
    assert mem2.device_pointer.value == address and mm.memory_stats()["hits"] == 1
    del mem2
    assert mm.empty_cache() == 1024 and dev.frees == 1
    mem3 = mm.memalloc(100)
    mm.reset()  # context reset: mem3's block is freed, not cached, when mem3 dies
    del mem3
    gc.collect()
    assert dev.live == {} and mm.memory_stats()["bytes_cached"] == 0


def test_plugin_is_a_valid_emm_plugin():
    cls = cuda_memory.memory_manager_class()
    assert not getattr(cls, "__abstractmethods__", None)
    from numconv.cuda_memory import CachingMemoryManager

    assert CachingMemoryManager is cls


# ---------------------------------------------------------------------- installation

def _run(code, **env_updates):
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_ENABLE_CUDASIM", "NUMCONV_CUDA_POOL", "NUMBA_CUDA_MEMORY_MANAGER")}
    env.update(env_updates)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_not_installed_under_the_simulator():
    code = """
import json
import numpy as np
import numconv as nc
from numba import cuda
from numba.cuda.cudadrv import driver as drv
x = cuda.to_device(np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4))
y = nc.F.max_pool2d(x, 2)
ok = np.array_equal(y.copy_to_host(), nc.F.max_pool2d(x.copy_to_host(), 2))
mm = getattr(drv, "_memory_manager", None)
print(json.dumps({"status": nc.cuda.pool_status(), "stats": nc.cuda.memory_stats(),
                  "freed": nc.cuda.empty_cache(), "ok": bool(ok),
                  "plugin": getattr(mm, "__name__", None)}))
"""
    res = _run(code, NUMBA_ENABLE_CUDASIM="1")
    assert res["ok"]
    assert res["status"] == {"installed": False, "reason": "CUDA simulator"}
    assert res["stats"] is None and res["freed"] == 0 and res["plugin"] != "CachingMemoryManager"


_INSTALL = """
import json
import numconv as nc
from numba.cuda.cudadrv import driver as drv
installed = nc.cuda._install_pool()
mm = getattr(drv, "_memory_manager", None)
print(json.dumps({"installed": installed, "status": nc.cuda.pool_status(), "stats": nc.cuda.memory_stats(),
                  "plugin": getattr(mm, "__name__", None)}))
"""


def test_installs_before_any_context():
    # no GPU needed: set_memory_manager only checks the plugin's interface version
    res = _run(_INSTALL)
    assert res["installed"] and res["plugin"] == "CachingMemoryManager"
    assert res["stats"]["bytes_in_use"] == 0 and res["stats"]["hits"] == 0


@pytest.mark.parametrize("env, reason", [
    ({"NUMCONV_CUDA_POOL": "0"}, "disabled by NUMCONV_CUDA_POOL=0"),
    ({"NUMBA_CUDA_MEMORY_MANAGER": "some_plugin_module"}, "NUMBA_CUDA_MEMORY_MANAGER is set"),
])
def test_opt_outs(env, reason):
    res = _run(_INSTALL, **env)
    assert not res["installed"] and res["status"]["reason"] == reason
    assert res["stats"] is None and res["plugin"] != "CachingMemoryManager"


def test_skipped_when_a_manager_was_chosen():
    """After a context, Numba's own allocator stays, and numconv warns; a plugin of the user's own is
    left alone without a warning."""
    for setup, warned in (("drv._memory_manager = drv.NumbaCUDAMemoryManager  # as after a context", True),
                          ("drv._memory_manager = type('Mine', (), {})  # a plugin the user set", False)):
        code = _INSTALL.replace(
            "installed = nc.cuda._install_pool()",
            f"{setup}\nimport warnings\nwith warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n    installed = nc.cuda._install_pool()\n"
            "said = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]")
        code = code.replace('"plugin": getattr(mm, "__name__", None)}', '"plugin": getattr(mm, "__name__", None), "said": said}')
        res = _run(code)
        assert not res["installed"] and res["plugin"] in ("NumbaCUDAMemoryManager", "Mine")
        assert res["stats"] is None
        if warned:
            assert len(res["said"]) == 1 and "numconv.cuda.require()" in res["said"][0], res["said"]
            assert "NUMCONV_CUDA_POOL=0" in res["said"][0]
        else:
            assert res["said"] == []
