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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="numconv", description="Numba-compiled CNN kernels: demo, training and benchmarks.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="convolve and pool a real image, print shapes and timings")
    p.set_defaults(func=demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
