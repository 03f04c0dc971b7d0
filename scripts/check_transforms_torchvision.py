"""Compare numconv.transforms' deterministic geometry with torchvision's, pixel for pixel, in float64.

Not a test: torchvision needs a newer torch than the test oracle this project pins, so it runs in a
venv of its own (on x86_64, per this machine's notes):

    python -m venv /tmp/tv && /tmp/tv/bin/pip install torch==2.14.1 torchvision==0.29.1 -e .
    /tmp/tv/bin/python scripts/check_transforms_torchvision.py

Cases (random, seeded): ``affine`` (angle, integer translation, scale, x and y shear, a centre,
nearest or bilinear, fill), ``rotate``, ``resized_crop`` (antialias=False, bilinear or nearest, up
and down), ``CenterCrop`` (padding when larger) and ``Pad`` (constant, edge, reflect). Prints the
largest difference per kind and exits 1 if any exceeds 1e-12.
"""
from __future__ import annotations

import sys

import numpy as np
import torch
import torchvision.transforms.v2 as T2
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode

import numconv as nc
from numconv import transforms as T

MODES = {"nearest": InterpolationMode.NEAREST, "bilinear": InterpolationMode.BILINEAR}


def affine_cases(rng, worst):
    for k in range(60):
        H, W = (int(v) for v in rng.integers(5, 14, 2))
        img = rng.standard_normal((2, H, W))
        angle = float(rng.uniform(-180, 180)) if k % 5 else 90.0 * int(rng.integers(-2, 3))
        translate = [int(rng.integers(-3, 4)), int(rng.integers(-3, 4))]
        scale = float(rng.uniform(0.6, 1.5)) if k % 3 else 1.0
        shear = [[0.0, 0.0], [float(rng.uniform(-30, 30)), float(rng.uniform(-30, 30))],
                 [float(rng.uniform(-30, 30)), 0.0], [0.0, 0.0]][k % 4]
        center = None if k % 2 else [float(rng.uniform(0, W)), float(rng.uniform(0, H))]
        mode, fill = ("bilinear" if k % 2 else "nearest"), (0.0 if k % 3 else 1.5)
        want = TF.affine(torch.from_numpy(img), angle=angle, translate=translate, scale=scale, shear=shear,
                         interpolation=MODES[mode], center=center, fill=fill).numpy()
        theta = T.affine_theta((H, W), [angle], [translate], [scale], [shear], center=center)
        got = T._sample(nc.tensor(img[None]), theta, mode, fill).numpy()[0]
        worst["affine"] = max(worst.get("affine", 0.0), float(np.abs(got - want).max()))
    for k in range(20):
        H, W = (int(v) for v in rng.integers(4, 14, 2))
        img = rng.standard_normal((2, H, W))
        angle = float(rng.uniform(-180, 180))
        center = None if k % 2 else [float(rng.uniform(0, W)), float(rng.uniform(0, H))]
        want = TF.rotate(torch.from_numpy(img), angle, interpolation=InterpolationMode.NEAREST, center=center).numpy()
        theta = T.affine_theta((H, W), [-angle], [[0, 0]], [1.0], [[0.0, 0.0]], center=center)  # rotate: counter-clockwise
        got = T._sample(nc.tensor(img[None]), theta, "nearest", 0.0).numpy()[0]
        worst["rotate"] = max(worst.get("rotate", 0.0), float(np.abs(got - want).max()))


def crop_cases(rng, worst):
    for k in range(40):
        H, W = (int(v) for v in rng.integers(4, 20, 2))
        img = rng.standard_normal((3, H, W))
        h, w = int(rng.integers(1, H + 1)), int(rng.integers(1, W + 1))
        top, left = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
        size = [int(rng.integers(1, 25)), int(rng.integers(1, 25))]
        mode = "bilinear" if k % 2 else "nearest"
        want = TF.resized_crop(torch.from_numpy(img), top, left, h, w, size, interpolation=MODES[mode],
                               antialias=False).numpy()
        got = T.resized_crop(img[None], [top], [left], [h], [w], size, mode)[0]
        worst["resized_crop"] = max(worst.get("resized_crop", 0.0), float(np.abs(got - want).max()))
    for k in range(30):
        H, W = (int(v) for v in rng.integers(3, 12, 2))
        img = rng.standard_normal((2, H, W))
        if k < 15:
            size = [int(rng.integers(1, 16)), int(rng.integers(1, 16))]
            kind, theirs, mine = "CenterCrop", T2.CenterCrop(size), T.CenterCrop(size)
        else:
            mode = ("constant", "edge", "reflect")[k % 3]
            pad = [int(v) for v in rng.integers(0, 4, (1, 2, 4)[k % 3])]
            if mode == "reflect":
                pad = [min(p, min(H, W) - 1) for p in pad]
            fill = 1.25 if mode == "constant" else 0
            kind, theirs, mine = "Pad", T2.Pad(pad, fill=fill, padding_mode=mode), T.Pad(pad, fill=fill, padding_mode=mode)
        want, got = theirs(torch.from_numpy(img)).numpy(), mine(img)
        worst[kind] = max(worst.get(kind, 0.0), float(np.abs(got - want).max()) if got.shape == want.shape else np.inf)


def main() -> int:
    rng = np.random.default_rng(0)
    worst = {}
    affine_cases(rng, worst)
    crop_cases(rng, worst)
    for kind, err in worst.items():
        print(f"{kind:14s} largest difference {err:.2e}")
    return 0 if max(worst.values()) <= 1e-12 else 1


if __name__ == "__main__":
    sys.exit(main())
