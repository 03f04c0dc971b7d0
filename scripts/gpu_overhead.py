"""Where a numconv CUDA call spends its time beyond its kernel (run on a machine with a GPU):

    python scripts/gpu_overhead.py [--profile]

Prints, per line, microseconds per call of: empty kernel launches (1 array argument, then a conv
kernel's 28), a device-array reshape, an allocation, and numconv's conv2d / max_pool2d at three
levels (the raw kernel launcher, ``ops``, ``functional``), each timed over a loop of calls with one
synchronize at the end (throughput: what Python costs when the GPU keeps up) and with a synchronize
after every call (latency: what the bench sees). ``--profile`` adds cProfile's top functions for 300
``functional`` calls of each. Not part of the test suite; docs/gpu.md records its output.
"""
import argparse
import cProfile
import io
import pstats
import time

import numpy as np

import numconv
from numconv import functional as F
from numconv import ops, shapes


def per_call(fn, n=300, sync_each=False):
    from numba import cuda

    for _ in range(5):
        fn()
    cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
        if sync_each:
            cuda.synchronize()
    cuda.synchronize()
    return (time.perf_counter() - t0) / n * 1e6


def report(name, fn, n=300):
    print(f"{name:58s} {per_call(fn, n):9.1f} us/call async {per_call(fn, n, True):9.1f} us/call synced", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    numconv.cuda.require()
    from numba import cuda

    print("pool:", numconv.cuda.pool_status() if hasattr(numconv.cuda, "pool_status") else "?")

    @cuda.jit
    def k1(a):
        pass

    @cuda.jit
    def k28(y, x, w, b, hb, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18,
            a19, a20, a21, a22):
        pass

    from numconv.kernels.cuda.fastlaunch import launch_grid, status

    a = cuda.device_array(1 << 20, np.float32)
    ints = tuple(range(23))
    report("empty kernel, 1 array arg", lambda: k1[1, 32](a))
    report("empty kernel, 4 arrays + 24 scalars", lambda: k28[1, 32](a, a, a, a, True, *ints))
    report("empty kernel, 1 array arg, launch_grid", lambda: launch_grid(k1, 1, 32, a))
    report("empty kernel, 4 arrays + 24 scalars, launch_grid", lambda: launch_grid(k28, 1, 32, a, a, a, a, True, *ints))
    print("lean launch path:", status())
    try:
        ov = next(iter(k1.overloads.values()))
        cf = ov._codelibrary.get_cufunc()
        print("overload", type(ov).__name__, "cufunc", type(cf).__module__, type(cf).__name__,
              "handle", type(getattr(cf, "handle", None)).__name__)
    except Exception as exc:  # noqa: BLE001
        print("overload introspection:", type(exc).__name__, exc)
    x4 = cuda.device_array((32, 64, 56, 56), np.float32)
    report("device array reshape (4-d -> 5-d)", lambda: x4.reshape((32, 64, 1, 56, 56)))
    report("device array reshape (4-d -> flat)", lambda: x4.reshape(x4.size))
    report("cuda.device_array 25 MB", lambda: cuda.device_array((32, 64, 56, 56), np.float32))
    from numconv import dispatch
    report("dispatch.empty 25 MB", lambda: dispatch.empty((32, 64, 56, 56), np.float32, dispatch.CUDA))

    rng = np.random.default_rng(0)
    x = cuda.to_device(rng.standard_normal((32, 64, 56, 56)).astype(np.float32))
    w = cuda.to_device((rng.standard_normal((64, 64, 3, 3)) / 24).astype(np.float32))
    spec = shapes.conv_spec((32, 64, 56, 56), (64, 64, 3, 3), 2, 1, 1, 1, 1, None)
    from numconv.kernels.cuda import conv as kconv
    x5, w5 = x.reshape(spec.x_shape), w.reshape(spec.w_shape)
    y5 = cuda.device_array(spec.y_shape, np.float32)
    b = cuda.device_array((1,), np.float32)
    report("conv kernel launcher (resnet_3x3_64)",
           lambda: kconv.conv_forward(y5, x5, w5, b, False, spec.stride, spec.pad_lo, spec.dilation, 1))
    report("ops.conv_forward", lambda: ops.conv_forward(x, w, None, spec))
    report("F.conv2d", lambda: F.conv2d(x, w, None, 1, 1))

    xp = cuda.to_device(rng.standard_normal((32, 64, 112, 112)).astype(np.float32))
    pspec = shapes.pool_spec((32, 64, 112, 112), 2, 2, 2, 0, 1, False)
    report("ops.max_pool_forward (max_2x2)", lambda: ops.max_pool_forward(xp, pspec, indices=False))
    report("F.max_pool2d (max_2x2)", lambda: F.max_pool2d(xp, 2))
    report("F.avg_pool2d (avg_2x2)", lambda: F.avg_pool2d(xp, 2))
    xg = cuda.to_device(rng.standard_normal((32, 512, 7, 7)).astype(np.float32))
    report("F.adaptive_avg_pool2d (global_avg)", lambda: F.adaptive_avg_pool2d(xg, 1))
    y, idx = F.max_pool2d(xp, 2, return_indices=True)
    gy = cuda.to_device(rng.standard_normal(y.shape).astype(np.float32))
    report("F.max_pool2d_backward (max_2x2, indices given)", lambda: F.max_pool2d_backward(gy, xp, 2, indices=idx), 30)
    report("F.max_pool2d_backward (max_2x2, indices recomputed)", lambda: F.max_pool2d_backward(gy, xp, 2), 30)

    def bench_row():  # the bench's max_2x2 forward+backward: given indices are checked (a copy to the host)
        _, i = F.max_pool2d(xp, 2, return_indices=True)
        return F.max_pool2d_backward(gy, xp, 2, indices=i)

    report("max_2x2 forward with indices + backward given them", bench_row, 30)

    print("lean launch path:", status())
    if args.profile:
        for name, fn in (("F.conv2d", lambda: F.conv2d(x, w, None, 1, 1)), ("F.max_pool2d", lambda: F.max_pool2d(xp, 2)),
                         ("F.adaptive_avg_pool2d", lambda: F.adaptive_avg_pool2d(xg, 1))):
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(300):
                fn()
            cuda.synchronize()
            prof.disable()
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(25)
            print(f"\n### cProfile: 300 calls of {name}, by own time\n{s.getvalue()}")


if __name__ == "__main__":
    main()
