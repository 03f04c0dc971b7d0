"""Where a training step on the GPU spends its time (run on a machine with a GPU):

    python scripts/gpu_step_profile.py [--model resnet18_cifar|lenet5] [--batch 64] [--top 30]

Builds the model on the device, runs a few steps to compile the kernels, then times three steps
phase by phase (forward and loss, backward, optimizer step; a synchronize after each, so each
phase's time includes its GPU work) and prints cProfile's top functions for one more step, by
cumulative and by own time. Time spent in ``synchronize`` or ``copy_to_host`` is time waiting on
the GPU; the rest is host work. This is how the twelfth session found the batch norms'
one-thread-per-channel reductions that took a ResNet-18 step 5 s (docs/gpu.md). Not part of the
test suite.
"""
import argparse
import cProfile
import io
import pstats
import time

import numpy as np

import numconv
from numconv import functional as F
from numconv import models, optim


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="resnet18_cifar", choices=("resnet18_cifar", "lenet5"))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    numconv.cuda.require()  # the caching memory pool, before the first CUDA array
    from numba import cuda

    rng = np.random.default_rng(0)
    model = getattr(models, args.model)()
    model.to("cuda")
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    shape = (args.batch, 3, 32, 32) if args.model == "resnet18_cifar" else (args.batch, 1, 28, 28)
    xb = numconv.Tensor(rng.standard_normal(shape).astype(np.float32)).to("cuda")
    yb = numconv.Tensor(rng.integers(0, 10, args.batch).astype(np.int64)).to("cuda")

    def step(report=False):
        t = [time.perf_counter()]
        loss = F.cross_entropy(model(xb), yb)
        cuda.synchronize()
        t.append(time.perf_counter())
        opt.zero_grad()
        loss.backward()
        cuda.synchronize()
        t.append(time.perf_counter())
        opt.step()
        value = float(loss.item())
        t.append(time.perf_counter())
        if report:
            print(f"forward {1e3 * (t[1] - t[0]):8.1f} ms   backward {1e3 * (t[2] - t[1]):8.1f} ms   "
                  f"step {1e3 * (t[3] - t[2]):6.1f} ms   loss {value:.4f}", flush=True)

    t0 = time.perf_counter()
    step()
    print(f"first step (compiles the kernels): {time.perf_counter() - t0:.1f} s", flush=True)
    step()
    for _ in range(3):
        step(report=True)
    prof = cProfile.Profile()
    prof.enable()
    step()
    prof.disable()
    for key in ("cumtime", "tottime"):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats(key).print_stats(args.top)
        print(f"\n### one step, by {key}\n{out.getvalue()}")


if __name__ == "__main__":
    main()
