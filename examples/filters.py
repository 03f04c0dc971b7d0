"""Hand-made filters from the notes on real photographs, with numconv's own conv2d.

    python examples/filters.py --out runs/examples

Mean, Gaussian, Sobel x / y, Laplacian, the 8-neighbour edge kernel, sharpen and the 1-d
[1, 0, -1] (``numconv.filters``) applied with ``numconv.filters.apply`` (conv2d, 'same' padding,
reflect borders) to scikit-image's ``camera`` (grey) and ``astronaut`` (RGB, channel by
channel). Writes filters.png: the kernels in the top row, then one row per photo with the
original, each filtered result and the Sobel gradient magnitude sqrt(gx^2 + gy^2). The whole
photo is filtered; the figure shows a 256x256 part of it so that the blurs are visible.
Blur and sharpen results are shown as images (clipped to [0, 1]); edge responses, which sum to
zero over flat regions, are shown as |response| (the largest over the colour channels), black
where the photo is flat and bright on edges.
"""
from __future__ import annotations

import argparse
import os

import numpy as np

import numconv.filters as nf

PHOTOS = ("camera", "astronaut")
# where the pictures zoom in (rows, columns), so that a 5x5 blur is visible at figure size
CROPS = {"camera": (slice(40, 296), slice(150, 406)), "astronaut": (slice(0, 256), slice(100, 356))}


def load_photo(name):
    """A scikit-image sample photo as float32 in [0, 1]: (H, W) grey or (H, W, 3) RGB."""
    from skimage import data

    img = getattr(data, name)()
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[..., :3]
    return img.astype(np.float32) / 255.0


def filter_photo(img, kernels=None):
    """{kernel name: filtered image} for every kernel (default ``numconv.filters.kernels()``), plus 'sobel magnitude'."""
    kernels = nf.kernels() if kernels is None else kernels
    out = {name: nf.apply(img, k) for name, k in kernels.items()}
    gx, gy = nf.apply(img, nf.sobel_x()), nf.apply(img, nf.sobel_y())
    out["sobel magnitude"] = np.sqrt(gx ** 2 + gy ** 2)
    return out


def _is_edge(name, kernels):
    return name == "sobel magnitude" or abs(float(np.sum(kernels[name]))) < 1e-9


def _shown(result, edge):
    if not edge:
        return np.clip(result, 0.0, 1.0)
    mag = np.abs(result)
    if mag.ndim == 3:
        mag = mag.max(axis=2)
    hi = float(np.percentile(mag, 99.5)) or 1.0
    return np.clip(mag / hi, 0.0, 1.0)


def plot(path, photos, kernels):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(kernels) + ["sobel magnitude"]
    ncols = len(names) + 1
    fig = Figure(figsize=(2.1 * ncols, 2.1 * (len(photos) + 1) + 0.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(photos) + 1, ncols, squeeze=False)
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
    axes[0, 0].axis("off")
    axes[0, 0].text(0.5, 0.5, "kernels\n(red +, blue -)", ha="center", va="center", transform=axes[0, 0].transAxes)
    for j, name in enumerate(names, start=1):
        ax = axes[0, j]
        if name == "sobel magnitude":
            ax.axis("off")
            ax.text(0.5, 0.5, "sqrt(sobel_x^2\n+ sobel_y^2)", ha="center", va="center", transform=ax.transAxes)
        else:
            k = np.asarray(kernels[name])
            lim = np.abs(k).max()
            ax.imshow(k, cmap="RdBu_r", vmin=-lim, vmax=lim)
            if k.size <= 9:
                for (a, b), v in np.ndenumerate(k):
                    ax.text(b, a, f"{v:.3g}", ha="center", va="center", fontsize=7)
        ax.set_title(name, fontsize=9)
    for i, (pname, img) in enumerate(photos.items(), start=1):
        grey = img.ndim == 2
        crop = CROPS.get(pname, (slice(None), slice(None)))
        axes[i, 0].imshow(img[crop], cmap="gray" if grey else None, vmin=0, vmax=1)
        h, w = img[crop].shape[:2]
        axes[i, 0].set_title(f"{pname} ({h}x{w} of {img.shape[0]}x{img.shape[1]})", fontsize=8)
        results = filter_photo(img, kernels)  # the whole photo is filtered; the figure shows the crop
        for j, name in enumerate(names, start=1):
            edge = _is_edge(name, kernels)
            shown = _shown(results[name][crop], edge)
            axes[i, j].imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1)
            if edge:
                axes[i, j].set_title("|response|", fontsize=8)
    fig.suptitle("numconv.filters.apply (numconv conv2d, 'same' padding, reflect borders) on scikit-image photos")
    fig.savefig(path, dpi=100)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/examples", help="folder for filters.png")
    ap.add_argument("--photos", nargs="+", default=list(PHOTOS), help="scikit-image sample names (default: camera astronaut)")
    args = ap.parse_args(argv)
    try:
        photos = {name: load_photo(name) for name in args.photos}
    except ImportError:
        print("examples/filters.py needs scikit-image: pip install 'numconv[examples]'")
        return 1
    kernels = nf.kernels()
    for pname, img in photos.items():
        results = filter_photo(img, kernels)
        stats = ", ".join(f"{n} {float(np.abs(r).mean()):.3f}" for n, r in results.items())
        print(f"{pname} {img.shape}: mean |output|: {stats}")
    os.makedirs(args.out, exist_ok=True)
    print(f"wrote {plot(os.path.join(args.out, 'filters.png'), photos, kernels)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
