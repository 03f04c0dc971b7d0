"""The pool of host memory behind ``dispatch.empty`` on the CPU: an array's block is reused only
once no array views it, at the size it was made for, and no more than the cap waits idle."""
import gc

import numpy as np
import pytest

from numconv import dispatch
from numconv.ops import math as M


@pytest.fixture
def pool(monkeypatch):
    monkeypatch.setattr(dispatch, "_idle", {})
    monkeypatch.setattr(dispatch, "_idle_bytes", [0])
    return dispatch


def test_block_comes_back_only_when_no_view_is_left(pool, rng):
    a = pool.host_empty((300, 1000), np.float32)
    assert a.nbytes >= pool.POOL_MIN_BYTES and a.flags.c_contiguous and a.flags.writeable
    assert a.ctypes.data % 64 == 0
    a[...] = rng.standard_normal(a.shape)
    view = a[7:, ::3].T
    expected = view.copy()
    address = a.ctypes.data
    del a
    gc.collect()
    assert pool._idle_bytes[0] == 0, "the block went back while a view of it was alive"
    other = pool.host_empty((300, 1000), np.float32)  # the same size: must not get the viewed block
    assert other.ctypes.data != address
    other[...] = -1.0
    np.testing.assert_array_equal(view, expected)
    del view
    gc.collect()
    assert pool._idle_bytes[0] == -(-300 * 1000 * 4 // 4096) * 4096  # whole pages
    again = pool.host_empty((1000, 300), np.float32)  # same bytes, another shape: the freed block
    assert again.ctypes.data == address and again.shape == (1000, 300)


def test_small_arrays_and_object_arrays_bypass_the_pool(pool):
    small = pool.host_empty((10, 10), np.float64)
    assert not isinstance(small.base, pool._Lease)
    objects = pool.host_empty((1 << 18,), object)
    assert objects.dtype == object and not isinstance(objects.base, pool._Lease)


def test_idle_bytes_stay_under_the_cap(pool, monkeypatch):
    monkeypatch.setattr(pool, "POOL_IDLE_BYTES", 3 << 20)
    arrays = [pool.host_empty((1 << 20,), np.uint8) for _ in range(5)]
    del arrays
    gc.collect()
    assert pool._idle_bytes[0] == 3 << 20
    pool.empty_cache()
    assert pool._idle_bytes[0] == 0 and not pool._idle


def test_elementwise_results_from_the_pool_are_numpys(pool, rng):
    a = rng.standard_normal((512, 600)).astype(np.float32)
    b = rng.standard_normal((512, 600)).astype(np.float32)
    for got, want in ((M.add(a, b), a + b), (M.multiply(a, b), a * b), (M.exp(a), np.exp(a)),
                      (M.subtract(a, b[0]), a - b[0])):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_the_pool_can_be_turned_off(pool, monkeypatch):
    monkeypatch.setattr(pool, "POOL_ENABLED", False)
    a = pool.host_empty((1 << 20,), np.float32)
    assert a.shape == (1 << 20,) and not isinstance(a.base, pool._Lease)
    del a
    gc.collect()
    assert pool._idle_bytes[0] == 0


def test_environment_variable_turns_the_pool_off():
    import subprocess
    import sys

    code = ("import numpy as np; from numconv import dispatch; "
            "print(dispatch.POOL_ENABLED, type(dispatch.host_empty((1 << 20,), np.float32).base).__name__)")
    env = dict(__import__("os").environ, NUMCONV_HOST_POOL="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "False" and out[1] != "_Lease"
