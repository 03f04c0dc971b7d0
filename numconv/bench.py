"""Side-by-side measurements against PyTorch, in one process on one machine.

    python -m numconv.bench    # compile time (cold, warm cache), a ResNet layer and a LeNet-5 epoch vs torch

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


def _torch_lenet5(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )


def lenet5_epoch(epochs=2, batch_size=64) -> dict:
    """Seconds per training epoch of LeNet-5 on the 4,000 MNIST training digits (Adam, batch 64),
    numconv and the same network in PyTorch on the same batches, epochs interleaved; best of ``epochs``."""
    from . import data, models, optim
    from . import functional as F
    from .tensor import Tensor

    train_set, _ = data.get_dataset("mnist")
    x_all = np.stack([np.asarray(train_set[i][0]) for i in range(len(train_set))]).astype(np.float32)
    y_all = np.array([int(np.asarray(train_set[i][1])) for i in range(len(train_set))], np.int64)
    order = np.random.default_rng(0).permutation(len(y_all))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    model = models.lenet5()
    opt = optim.Adam(list(model.parameters()), lr=1e-3)

    def numconv_epoch():
        model.train()
        for b in batches:
            loss = F.cross_entropy(model(Tensor(x_all[b])), Tensor(y_all[b]))
            opt.zero_grad()
            loss.backward()
            opt.step()

    runs = {"numconv": numconv_epoch}
    try:
        import torch

        tmodel = _torch_lenet5(torch)
        topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
        tx, ty = torch.from_numpy(x_all), torch.from_numpy(y_all)

        def torch_epoch():
            for b in batches:
                bt = torch.from_numpy(b)
                loss = torch.nn.functional.cross_entropy(tmodel(tx[bt]), ty[bt])
                topt.zero_grad()
                loss.backward()
                topt.step()

        runs["torch"] = torch_epoch
    except ImportError:
        pass
    times = interleaved(runs, repeats=epochs, warmup=0)
    out = {name: {"s_per_epoch": t, "images_per_s": len(y_all) / t} for name, t in times.items()}
    if "torch" in times:
        out["ratio_torch_over_numconv"] = times["torch"] / times["numconv"]
    return out


def machine() -> str:
    import numba

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, numba {numba.__version__}, {platform.python_version()}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m numconv.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write the numbers to this file")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-train", action="store_true", help="skip the LeNet-5 epoch comparison")
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
    if not args.no_train:
        report["lenet5_epoch"] = ep = lenet5_epoch()
        print("LeNet-5 training epoch on 4,000 MNIST digits (Adam, batch 64):")
        for name in ("numconv", "torch"):
            if name in ep:
                print(f"  {name:8s} {ep[name]['s_per_epoch']:7.2f} s/epoch  {ep[name]['images_per_s']:7.0f} images/s")
        if "ratio_torch_over_numconv" in ep:
            print(f"  ratio torch/numconv: {ep['ratio_torch_over_numconv']:.2f} (>1: numconv faster)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
