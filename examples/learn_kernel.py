"""Learn an unknown 3x3 kernel from input/output pairs by gradient descent (the notes' X -> Y example).

    python examples/learn_kernel.py --out runs/examples

Y is X correlated with a kernel the learner never sees. A ``numconv.nn.Conv2d(1, 1, 3,
bias=False)`` starts from random weights and is trained with numconv's autograd and
``numconv.optim.SGD`` on the squared error ``mean((conv(X) - Y)**2)``; its weight converges to
the hidden kernel. Random inputs make the problem well conditioned (every 3x3 neighbourhood
pattern occurs), so plain gradient descent recovers the kernel to float32 precision in
about 70 steps. Prints the true and learned kernels side by side and writes learn_kernel.png.
"""
from __future__ import annotations

import argparse
import os

import numpy as np

import numconv as nc
import numconv.functional as F


def learn_kernel(true_kernel=None, n_images=4, size=32, steps=100, lr=0.1, seed=0, log=None):
    """Recover ``true_kernel`` (default: a random 3x3, seeded) from (X, Y = conv2d(X, true_kernel)) pairs.

    Returns (learned (k, k), true (k, k), losses) with ``losses[t]`` the squared error before step t.
    """
    rng = np.random.default_rng(seed)
    if true_kernel is None:
        true_kernel = rng.standard_normal((3, 3))
    true_kernel = np.asarray(true_kernel, np.float64)
    k = true_kernel.shape[0]
    X = rng.standard_normal((n_images, 1, size, size)).astype(np.float32)
    Y = F.conv2d(X, true_kernel.astype(np.float32)[None, None])          # the outputs we observe
    nc.manual_seed(seed)
    layer = nc.nn.Conv2d(1, 1, k, bias=False)                          # random initial kernel
    opt = nc.optim.SGD(layer.parameters(), lr=lr)
    x, y = nc.Tensor(X), nc.Tensor(Y)
    losses = []
    for step in range(steps):
        loss = F.mse_loss(layer(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
        if log is not None and (step % 10 == 0 or step == steps - 1):
            log(f"step {step:3d}: squared error {losses[-1]:.3e}")
    learned = layer.weight.numpy()[0, 0].astype(np.float64)
    return learned, true_kernel, losses


def plot(path, learned, true, losses):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 3.4), layout="constrained")
    FigureCanvasAgg(fig)
    a, b, c = fig.subplots(1, 3)
    lim = np.abs(true).max()
    for ax, kern, title in ((a, true, "true kernel"), (b, learned, "learned kernel")):
        ax.imshow(kern, cmap="RdBu_r", vmin=-lim, vmax=lim)
        for (i, j), v in np.ndenumerate(kern):
            ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=9,
                    color="white" if abs(v) > 0.6 * lim else "black")
        ax.set_title(title)
        ax.set_xticks([]), ax.set_yticks([])
    c.semilogy(losses)
    c.set_xlabel("gradient-descent step")
    c.set_ylabel("squared error")
    c.grid(alpha=0.3)
    c.set_title(f"max |learned - true| = {np.abs(learned - true).max():.1e}")
    fig.savefig(path, dpi=100)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/examples", help="folder for learn_kernel.png")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    learned, true, losses = learn_kernel(steps=args.steps, seed=args.seed, log=print)
    err = np.abs(learned - true).max()
    print("true kernel                    learned kernel")
    for t_row, l_row in zip(true, learned):
        print("  ".join(f"{v:8.4f}" for v in t_row) + "      " + "  ".join(f"{v:8.4f}" for v in l_row))
    print(f"max |learned - true| = {err:.2e}")
    os.makedirs(args.out, exist_ok=True)
    print(f"wrote {plot(os.path.join(args.out, 'learn_kernel.png'), learned, true, losses)}")
    return 0 if err < 1e-3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
