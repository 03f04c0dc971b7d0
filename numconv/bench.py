"""Side-by-side measurements against PyTorch, in one process on one machine.

    python -m numconv.bench            # compile time (cold and warm cache) and one ResNet layer vs torch

Ratios are torch_time / numconv_time (> 1: numconv is faster). Timings are medians over
repeats after a warm-up, numconv and torch interleaved so both see the same machine state.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

_COMPILE_SNIPPET = """
import time
t0 = time.perf_counter()
import numpy as np
import numconv.functional as F
x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
w = np.random.default_rng(1).standard_normal((4, 3, 3, 3)).astype(np.float32)
b = np.zeros(4, np.float32)
y = F.conv2d(x, w, b, padding=1)
F.conv2d_backward(np.ones_like(y), x, w, b, padding=1)
print(time.perf_counter() - t0)
"""


def compile_times() -> dict:
    """Seconds for import plus the first conv2d forward+backward in a fresh process, cold and warm cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = {}
        for label in ("cold", "warm"):
            r = subprocess.run([sys.executable, "-c", _COMPILE_SNIPPET], env=env, capture_output=True, text=True, check=True)
            out[label] = float(r.stdout.strip().splitlines()[-1])
        return out


def median_time(fn, repeats=7, warmup=2) -> float:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def interleaved(fns: dict, repeats=7, warmup=2) -> dict:
    """Median seconds per function, calls interleaved round-robin."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    ts = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            ts[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in ts.items()}


def conv_layer(N=32, C=64, H=56, W=56, K=64, k=3, p=1, repeats=7) -> dict:
    """Forward of one conv2d layer, numconv vs torch.nn.functional.conv2d (float32)."""
    from . import functional as F

    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((K, C, k, k)).astype(np.float32)
    fns = {"numconv": lambda: F.conv2d(x, w, padding=p)}
    try:
        import torch

        torch.set_num_threads(int(os.environ.get("NUMCONV_THREADS", os.cpu_count() or 1)))
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)
        fns["torch"] = lambda: torch.nn.functional.conv2d(xt, wt, padding=p)
    except ImportError:
        pass
    ts = interleaved(fns, repeats=repeats)
    flops = 2.0 * N * K * H * W * C * k * k
    res = {name: {"ms": t * 1e3, "gflops": flops / t / 1e9} for name, t in ts.items()}
    if "torch" in ts:
        res["ratio_torch_over_numconv"] = ts["torch"] / ts["numconv"]
    res["shape"] = f"N={N} C={C} H={H} W={W} K={K} k={k} pad={p}"
    return res


def machine() -> str:
    import numba

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, numba {numba.__version__}, {platform.python_version()}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m numconv.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write the numbers to this file")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d")}
    report["compile_s"] = compile_times()
    print(f"machine: {report['machine']}")
    print(f"import + first conv2d forward+backward: cold cache {report['compile_s']['cold']:.1f} s, "
          f"warm cache {report['compile_s']['warm']:.2f} s")
    report["resnet_3x3_64"] = layer = conv_layer(repeats=args.repeats)
    print(f"conv2d forward, {layer['shape']}:")
    for name in ("numconv", "torch"):
        if name in layer:
            print(f"  {name:8s} {layer[name]['ms']:9.2f} ms  {layer[name]['gflops']:7.1f} GFLOP/s")
    if "ratio_torch_over_numconv" in layer:
        print(f"  ratio torch/numconv: {layer['ratio_torch_over_numconv']:.2f} (>1: numconv faster)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
