"""The host (Python) time of numconv's CUDA calls, measured without a GPU:

    python scripts/cuda_host_model.py [--cases pool,autograd,batchnorm,step] [--profile CASE]

Needs numba-cuda (the ``cuda`` extra) and a C compiler, no GPU or driver. Every numconv layer a
CUDA call goes through runs as on a GPU machine, over real Numba ``DeviceNDArray`` objects:
``functional``, autograd, ``ops``, ``dispatch``, the kernel launchers and the lean launch path
(``kernels/cuda/fastlaunch.py``), which packs each kernel's parameters as it would for
``cuLaunchKernel``. Three things are stand-ins:

- device memory: numconv's caching pool (``cuda_memory.BlockPool`` inside its Numba memory-manager
  plugin) over a counter in place of ``cuMemAlloc``, reached through Numba's own Python
  (``numba.cuda.device_array`` runs as it would); nothing is ever read or written there (arrays
  whose values the host asks for read as zeros);
- the launch: a C function with ``cuLaunchKernel``'s signature that returns at once, called through
  ctypes as the real one is (and one for ``cuMemcpyDtoDAsync``);
- each kernel's launch plan: built from Numba's typing of the arguments (what the first launch
  through Numba would have left), without compiling the kernel.

So the times are the host's Python and ctypes work per call, without the driver's own (about 9 us
a launch on the H100 machine of docs/gpu.md, whose host also ran Python 1.5-2x slower than the
2-core machine these numbers were first taken on). They say where host time goes and whether a
change saves any; GPU figures need a GPU.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import subprocess
import sys
import tempfile
import threading
import timeit
import weakref

import numpy as np

# ``import numconv`` works from a checkout without installing it
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_C_SOURCE = r"""
int launch(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
           unsigned shared, void *stream, void **params, void **extra) { return 0; }
int copy(unsigned long long dst, unsigned long long src, unsigned long n, void *stream) { return 0; }
"""

LAUNCHES = [0]


def _driver_stand_ins():
    """(launch, copy) with the lean path's signatures, calling no-op C functions through ctypes."""
    workdir = tempfile.mkdtemp(prefix="numconv_host_model_")
    src, lib = os.path.join(workdir, "stub.c"), os.path.join(workdir, "stub.so")
    with open(src, "w") as f:
        f.write(_C_SOURCE)
    subprocess.check_call(["cc", "-O2", "-shared", "-fPIC", "-o", lib, src])
    dll = ctypes.CDLL(lib)
    u = ctypes.c_uint
    dll.launch.argtypes = [ctypes.c_void_p, u, u, u, u, u, u, u, ctypes.c_void_p,
                           ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p]
    dll.launch.restype = ctypes.c_int
    dll.copy.argtypes = [ctypes.c_uint64, ctypes.c_uint64, ctypes.c_size_t, ctypes.c_void_p]
    dll.copy.restype = ctypes.c_int

    def launch(handle, gx, gy, gz, bx, by, bz, shared, stream, pointers):
        if dll.launch(handle, gx, gy, gz, bx, by, bz, shared, stream, pointers, None):
            raise RuntimeError("launch")
        LAUNCHES[0] += 1

    def copy(dst, src, nbytes):
        dll.copy(dst, src, nbytes, None)

    return launch, copy


def install():
    """Patch numconv's CUDA layer onto the stand-ins; returns ``device(numpy array)`` and ``planning(on)``."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        raise SystemExit("run without NUMBA_ENABLE_CUDASIM: the model uses Numba's real device-array classes")
    from numba import cuda as nbcuda
    from numba.cuda.cudadrv import devicearray, devices

    import numconv.cuda
    import numconv.kernels.cuda as kernels_cuda
    from numconv import cuda_memory
    from numconv.kernels.cuda import fastlaunch

    launch, copy = _driver_stand_ins()
    fastlaunch._state.update(enabled=True, reason="host model", launch_kernel=launch, copy=copy)

    class Context:
        pass

    context, next_address = Context(), [1 << 40]
    pointer = cuda_memory._driver_hooks()[3]

    def alloc(nbytes):
        address = next_address[0]
        next_address[0] += -(-nbytes // 4096) * 4096
        return address, pointer(address)

    class Manager(cuda_memory.memory_manager_class()):
        def __init__(self):
            super().__init__(context=None)
            self.context, self._pointer = context, pointer
            self.pool = cuda_memory.BlockPool(alloc, lambda handle: None)

    context.memalloc = Manager().memalloc

    class ModelArray(devicearray.DeviceNDArray):
        """A device array whose values the host reads as zeros, or as ``host`` where it was given."""

        host = None

        def copy_to_host(self, *args, **kwargs):
            return np.zeros(self.shape, self.dtype) if self.host is None else self.host.copy()

    def device(a):
        a = np.ascontiguousarray(a)
        out = ModelArray(a.shape, a.strides if a.size else (a.itemsize,) * a.ndim, a.dtype,
                         gpu_data=context.memalloc(max(a.nbytes, 1)))
        out.host = a
        return out

    nbcuda.to_device = lambda a, *args, **kwargs: device(np.asarray(a))
    devices.get_context = lambda devnum=None: context
    devices._runtime.ensure_context = contextlib.nullcontext  # slicing a device array asks for one
    allocator = getattr(fastlaunch, "_allocator", None)
    if allocator is None:  # before 2026-11-23's sixteenth session the lean allocation lived in dispatch
        from numconv import dispatch

        allocator = dispatch._allocator
    allocator.update(context=context, array=ModelArray)
    numconv.cuda._available.append(True)
    numconv.cuda.is_available = lambda: True
    numconv.cuda._pool_state.update(tried=True, installed=True, reason="host model")

    real_launch_grid = fastlaunch.launch_grid

    def planning_launch_grid(kernel, grid, block, *args):
        key = (id(kernel), tuple(map(fastlaunch._kind, args)))
        if key not in fastlaunch._plans:
            argtypes = tuple(kernel.typeof_pyval(fastlaunch._real(a)) for a in args)
            fastlaunch._plans[key] = fastlaunch._Plan(0x1000, *fastlaunch._layout(argtypes))
        return real_launch_grid(kernel, grid, block, *args)

    kernels_cuda.launch_grid = planning_launch_grid

    def planning(on):
        """Launches through the planner (first calls of each kind) or straight down the lean path."""
        for name, module in list(sys.modules.items()):
            if name.startswith("numconv.kernels.cuda") and hasattr(module, "launch_grid"):
                module.launch_grid = planning_launch_grid if on else real_launch_grid

    return device, planning


def cases(device, which):
    """{name: callable} of the calls to time."""
    import numconv
    from numconv import functional as F
    from numconv import models, nn, optim
    from numconv.autograd import grad
    from numconv.tensor import Tensor

    rng = np.random.default_rng(0)

    def rand(*shape):
        return device(rng.standard_normal(shape, dtype=np.float32))

    out = {}
    x, xg = rand(32, 64, 112, 112), rand(32, 512, 7, 7)
    if "pool" in which:
        out["F.max_pool2d(x, 2), x 32x64x112x112"] = lambda: F.max_pool2d(x, 2)
        out["F.avg_pool2d(x, 2)"] = lambda: F.avg_pool2d(x, 2)
        out["F.max_pool2d(x, 3, 2, 1)"] = lambda: F.max_pool2d(x, 3, 2, 1)
        out["F.adaptive_avg_pool2d(x, 1), x 32x512x7x7"] = lambda: F.adaptive_avg_pool2d(xg, 1)
    if "autograd" in which:
        gy, gyg = Tensor(rand(32, 64, 56, 56)), Tensor(rand(32, 512, 1, 1))

        def max_fb():
            t = Tensor(x, requires_grad=True)
            return grad(F.max_pool2d(t, 2), t, gy)

        def gavg_fb():
            t = Tensor(xg, requires_grad=True)
            return grad(F.adaptive_avg_pool2d(t, 1), t, gyg)

        out["autograd.grad of max_pool2d (the bench's forward+backward)"] = max_fb
        out["autograd.grad of adaptive_avg_pool2d(x, 1)"] = gavg_fb
    if "batchnorm" in which:
        xb, gb = rand(64, 64, 32, 32), Tensor(rand(64, 64, 32, 32))
        bn = nn.BatchNorm2d(64).to("cuda")

        def bn_fb():
            t = Tensor(xb, requires_grad=True)
            bn(t).backward(gb)

        out["BatchNorm2d(64) training forward+backward"] = bn_fb
        bn_eval = nn.BatchNorm2d(64).to("cuda").eval()
        out["BatchNorm2d(64) evaluation forward"] = lambda: bn_eval(Tensor(xb))
    if "step" in which:
        numconv.manual_seed(0)
        model = models.resnet18_cifar().to("cuda")
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        xs = Tensor(rand(64, 3, 32, 32))
        ys = Tensor(device(rng.integers(0, 10, 64)))

        def step():
            opt.zero_grad()
            F.cross_entropy(model(xs), ys).backward()
            opt.step()

        out["ResNet-18 CIFAR training step, batch 64"] = step
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default="pool,autograd,batchnorm,step")
    ap.add_argument("--profile", metavar="NAME", help="cProfile the first case whose name contains NAME")
    args = ap.parse_args(argv)
    device, planning = install()
    calls = cases(device, set(args.cases.split(",")))
    planning(True)
    for fn in calls.values():
        fn()
        fn()
    planning(False)
    print(f"host time per call (best of 5 loops), {threading.active_count()} thread(s), "
          f"Python {sys.version.split()[0]}")
    for name, fn in calls.items():
        before = LAUNCHES[0]
        fn()
        launches = LAUNCHES[0] - before
        number = max(1, int(0.2 / max(min(timeit.repeat(fn, number=1, repeat=3)), 1e-6)))
        best = min(timeit.repeat(fn, number=number, repeat=5)) / number
        print(f"  {name:62s} {best * 1e6:10.1f} us  {launches:4d} launches")
    if args.profile:
        import cProfile
        import pstats

        name = next(n for n in calls if args.profile in n)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(200):
            calls[name]()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
