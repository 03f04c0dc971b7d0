"""The lean CUDA launch path (numconv/kernels/cuda/fastlaunch.py), without a GPU.

It packs kernel parameters itself instead of letting Numba do it, so what it packs must be what
Numba packs, byte for byte. Here device arrays are built over fake device memory (no driver call
reads it) and both packers run on the same arguments; then ``launch_grid`` runs against a fake
kernel and a fake driver to check that the first launch goes through Numba and later ones through
the driver with the kept handle. On a GPU, ``test_on_a_real_gpu`` (test_cuda_kernels.py) runs every
kernel case through this path and checks that it was taken.
"""
from __future__ import annotations

import ctypes
import importlib.util
import os

import numpy as np
import pytest

if importlib.util.find_spec("numba.cuda") is None:  # pragma: no cover - the cuda extra is part of the test setup
    if os.environ.get("CI") == "true":
        pytest.fail("numba.cuda is not importable: install numba-cuda (pip install -e .[cuda])", pytrace=False)
    pytest.skip("numba.cuda is not importable", allow_module_level=True)

from numba import typeof  # noqa: E402
from numba.cuda import dispatcher  # noqa: E402
from numba.cuda.cudadrv import devicearray  # noqa: E402

from numconv.kernels.cuda import fastlaunch  # noqa: E402


class BindingPointer:
    """Like cuda.bindings' CUdeviceptr: no .value, int() gives the address."""

    def __init__(self, address):
        self.address = address

    def __int__(self):
        return self.address


POINTER_TYPES = [ctypes.c_void_p, ctypes.c_uint64, BindingPointer]  # what numba releases hand out


class FakeMemory:
    """Just enough of Numba's device memory for a DeviceNDArray to sit on it."""

    __cuda_memory__ = True
    pointer_type = ctypes.c_void_p

    def __init__(self, address):
        self.device_pointer = address

    @property
    def device_ctypes_pointer(self):
        return self.pointer_type(self.device_pointer)

    @property
    def handle(self):
        return self.device_ctypes_pointer

    def view(self, start, stop=None):
        return FakeMemory(self.device_pointer + start)


@pytest.fixture(params=POINTER_TYPES, ids=lambda t: t.__name__)
def arrays(monkeypatch, request):
    monkeypatch.setattr(FakeMemory, "pointer_type", request.param)
    if request.param is BindingPointer:  # Numba's own packer then takes the NVIDIA-bindings branch
        from numba.cuda.cudadrv import driver

        monkeypatch.setattr(driver, "USE_NV_BINDING", True)
    monkeypatch.setattr(devicearray._driver, "device_memory_size", lambda mem: 1 << 20)
    rng = np.random.default_rng(7)
    shape = tuple(int(v) for v in rng.integers(2, 6, size=3))

    def device_array(shape, dtype, address):
        strides = np.empty(shape, dtype).strides
        return devicearray.DeviceNDArray(shape=shape, strides=strides, dtype=dtype, gpu_data=FakeMemory(address))

    a = device_array(shape, np.float32, 0x7F0000100000)
    b = device_array((int(rng.integers(3, 9)),), np.float64, 0x7F0000200000)
    idx = device_array(shape[:2], np.int64, 0x7F0000300000)
    return a, b, idx


def _numba_packs(real):
    class KernelStub:
        extensions = []
        _prepare_args = dispatcher._Kernel._prepare_args

    out = []
    for v in real:
        dispatcher._Kernel._prepare_args(KernelStub(), typeof(v), v, 0, [], out)
    return out


def _numba_buffer(params):
    """Numba's ctypes parameters laid out as C lays out a struct of them (how CUDA reads them)."""
    out = bytearray()
    for p in params:
        out += bytes(-len(out) % ctypes.alignment(p))
        out += bytes(p)
    return bytes(out)


def _ours(args):
    """(bytes, parameter count) of our packing of ``args``, and the plan's pointers' offsets."""
    real = tuple(fastlaunch._real(v) for v in args)
    packers, codes = fastlaunch._layout(tuple(typeof(v) for v in real))
    plan = fastlaunch._Plan(0, packers, codes)
    values = []
    fastlaunch._values(packers, args, values)
    plan.struct.pack_into(plan.buffer, 0, *values)
    base = ctypes.addressof(plan.buffer)
    return plan.buffer.raw[:plan.struct.size], [p - base for p in plan.pointers]


def test_packing_matches_numbas_own(arrays):
    a, b, idx = arrays
    args = (a, fastlaunch.flat(a), b, fastlaunch.view(a, (1, a.shape[0], 1, -1)), idx, 7, -3, True, False,
            np.bool_(True), 2.5, np.float32(1.5), np.int32(-9), np.uint64(2**63 + 5), (3, 4, 5), ((1, 2), 9),
            np.float32(0.25), fastlaunch.view(fastlaunch.flat(idx), idx.shape[::-1]))
    real = tuple(fastlaunch._real(v) for v in args)
    assert real[1].shape == (a.size,) and real[3].shape == (1, a.shape[0], 1, a.size // a.shape[0])
    ours, offsets = _ours(args)
    theirs = _numba_packs(real)
    assert ours == _numba_buffer(theirs)
    assert len(offsets) == len(theirs)
    at = 0
    for p, off in zip(theirs, offsets):  # each pointer names where its parameter starts
        at += -at % ctypes.alignment(p)
        assert off == at
        at += ctypes.sizeof(p)


def test_a_view_is_checked_and_becomes_a_reshape_on_numbas_path(arrays):
    a, _, _ = arrays
    v = fastlaunch.view(a, (a.size // a.shape[-1], a.shape[-1]))
    assert (v.shape, v.size, v.dtype, v.ndim) == ((a.size // a.shape[-1], a.shape[-1]), a.size, a.dtype, 2)
    assert fastlaunch.view(v, (-1,)).array is a  # a view of a view views the array
    for bad in ((a.size + 1,), (-1, a.size + 1), (-1, -1), (-a.size,)):
        with pytest.raises(ValueError, match="cannot view"):
            fastlaunch.view(a, bad)
    transposed = devicearray.DeviceNDArray(shape=a.shape[::-1], strides=a.strides[::-1], dtype=a.dtype, gpu_data=a.gpu_data)
    with pytest.raises(ValueError, match="C-contiguous"):
        fastlaunch.view(transposed, (-1,))
    assert fastlaunch._real(v).shape == v.shape and fastlaunch._real(a) is a


def test_a_type_it_does_not_pack_means_numbas_path():
    from numba.core import types

    assert fastlaunch._layout((types.complex128,)) is None
    assert fastlaunch._layout((types.UniTuple(types.complex64, 2),)) is None


def test_launch_grid_first_through_numba_then_the_driver(arrays, monkeypatch):
    a, b, _ = arrays
    launched = []

    class Overload:
        class _codelibrary:
            @staticmethod
            def get_cufunc():
                class CuFunc:
                    handle = ctypes.c_void_p(0x5EED)

                return CuFunc

    class FakeKernel:
        def __init__(self):
            self.overloads = {}

        def typeof_pyval(self, v):
            return typeof(v)

        def __getitem__(self, config):
            def run(*args):
                launched.append(("numba", config, args))
                self.overloads[tuple(typeof(v) for v in args)] = Overload()

            return run

    def fake_driver_launch(handle, gx, gy, gz, bx, by, bz, shared, stream, pointers):
        plan = next(p for p in fastlaunch._plans.values() if p is not None)
        assert ctypes.addressof(pointers) == ctypes.addressof(plan.pointers)
        launched.append(("driver", (handle, gx, gy, gz, bx, by, bz, shared, stream), plan.buffer.raw[:plan.struct.size]))

    monkeypatch.setattr(fastlaunch, "_state", dict(fastlaunch._state, enabled=True, launch_kernel=fake_driver_launch))
    monkeypatch.setattr(fastlaunch, "_plans", {})
    kernel = FakeKernel()
    fastlaunch.launch_grid(kernel, (3, 2), 64, fastlaunch.flat(a), b, 5, True)
    assert launched[0][0] == "numba" and launched[0][1] == ((3, 2), 64)
    assert launched[0][2][0].shape == (a.size,)  # the marker became a real 1-d array for Numba
    fastlaunch.launch_grid(kernel, (3, 2), 64, fastlaunch.flat(a), b, 6, False)
    kind, config, buffer = launched[1]
    assert kind == "driver" and config == (0x5EED, 3, 2, 1, 64, 1, 1, 0, None)
    assert buffer == _numba_buffer(_numba_packs((a.reshape(a.size), b, 6, False)))
    # other argument kinds are a new first launch
    fastlaunch.launch_grid(kernel, 4, 32, a, b, 5, True)
    assert launched[2][0] == "numba"
    assert fastlaunch.status()["fast"] == 1 and fastlaunch.status()["numba"] == 2


def test_a_handle_it_cannot_read_means_numbas_path_for_good(arrays, monkeypatch):
    a, _, _ = arrays
    calls = []

    class KernelWithoutHandle:
        overloads = {}

        def typeof_pyval(self, v):
            return typeof(v)

        def __getitem__(self, config):
            def run(*args):
                calls.append(config)
                self.overloads[tuple(typeof(v) for v in args)] = object()  # no _codelibrary

            return run

    monkeypatch.setattr(fastlaunch, "_state", dict(fastlaunch._state, enabled=True, launch_kernel=None))
    monkeypatch.setattr(fastlaunch, "_plans", {})
    kernel = KernelWithoutHandle()
    fastlaunch.launch_grid(kernel, 2, 32, fastlaunch.flat(a))
    assert fastlaunch.status()["enabled"] is False and "no kernel handle" in fastlaunch.status()["reason"]
    fastlaunch.launch_grid(kernel, 2, 32, a)  # and later launches go through Numba
    assert calls == [(2, 32), (2, 32)]


def test_copy_array_queues_one_driver_copy_or_falls_back_to_numba(arrays, monkeypatch):
    a, b, _ = arrays
    copies = []
    monkeypatch.setattr(fastlaunch, "_state", dict(fastlaunch._state, enabled=True,
                                                   copy=lambda dst, src, n: copies.append((dst, src, n))))
    fastlaunch.copy_array(b, a)
    assert copies == [(fastlaunch._address(b), fastlaunch._address(a), a.size * a.dtype.itemsize)]

    class Target:  # where the lean path is off: Numba's copy
        def copy_to_device(self, src):
            copies.append(("numba", src))

    def failing(dst, src, n):
        raise RuntimeError("cuMemcpyDtoDAsync returned CUDA error 1")

    target = Target()
    monkeypatch.setattr(fastlaunch, "_state", dict(fastlaunch._state, enabled=True, copy=failing))
    monkeypatch.setattr(fastlaunch, "_address", lambda arr: 0x1000)
    fastlaunch.copy_array(target, a)  # a failing driver copy: off for good, and Numba's copy instead
    assert copies[-1] == ("numba", a) and fastlaunch.status()["enabled"] is False
    assert "lean copy failed" in fastlaunch.status()["reason"]
    fastlaunch.copy_array(target, b)
    assert copies[-1] == ("numba", b)


def test_off_under_the_simulator_and_on_request(monkeypatch):
    for env, value in (("NUMBA_ENABLE_CUDASIM", "1"), ("NUMCONV_CUDA_FAST_LAUNCH", "0")):
        monkeypatch.setattr(fastlaunch, "_state", dict(fastlaunch._state, enabled=None))
        monkeypatch.setenv(env, value)
        assert fastlaunch.enabled() is False
        assert value in fastlaunch.status()["reason"] or "simulator" in fastlaunch.status()["reason"]
        monkeypatch.delenv(env)
