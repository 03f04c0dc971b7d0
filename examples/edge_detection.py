"""The notes' edge-detection example: the [1, 0, -1] kernel on an image that is white left of column 30.

    python examples/edge_detection.py --out runs/examples

The image is 1.0 (white) in columns 0..29 and 0.0 (black) from column 30 on. Correlating
each row with [1, 0, -1] gives ``x[j-1] - x[j+1]``: 0 wherever the image is flat, and 1 at
columns 29 and 30, the two pixels that touch the boundary. (With 'same' padding in 'reflect'
mode the image border adds no false edge.) The Laplacian [[0,-1,0],[-1,4,-1],[0,-1,0]] responds
with +1 / -1 on either side of the boundary: a zero crossing, the second-derivative view of the
same edge. Prints a crop of one row of each and writes edge_detection.png.
"""
from __future__ import annotations

import argparse
import os

import numpy as np

import numconv.filters as nf


def half_image(height=20, width=60, boundary=30, dtype=np.float64):
    """White (1.0) left of column ``boundary``, black (0.0) from it on: shape (height, width)."""
    img = np.zeros((height, width), dtype)
    img[:, :boundary] = 1.0
    return img


def edge_response(image, kernel=None):
    """``image`` correlated with ``kernel`` (default the notes' [1, 0, -1] along the rows), same size, reflect padding."""
    return nf.apply(image, nf.edge_1d() if kernel is None else kernel, padding="same", mode="reflect")


def edge_columns(response, tol=1e-6):
    """The columns where any row of ``response`` is non-zero."""
    return np.flatnonzero(np.abs(response).max(axis=0) > tol)


def plot(path, image, edge, lap, boundary):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    for ax, a, title, cmap in ((axes[0, 0], image, "image: white left of column 30", "gray"),
                               (axes[0, 1], edge, "[1, 0, -1] response (white = 1)", "gray"),
                               (axes[0, 2], lap, "Laplacian response (red +1, blue -1)", "RdBu_r")):
        lim = max(1e-12, np.abs(a).max())
        ax.imshow(a, cmap=cmap, interpolation="nearest", vmin=-lim if cmap == "RdBu_r" else 0, vmax=lim)
        ax.set_title(title)
        ax.set_xlabel("column")
    cols = np.arange(image.shape[1])
    for ax, a, title in ((axes[1, 0], image, "row 0 of the image"), (axes[1, 1], edge, "row 0, [1, 0, -1]"),
                         (axes[1, 2], lap, "row 0, Laplacian")):
        ax.step(cols, a[0], where="mid")
        ax.axvline(boundary - 0.5, color="C3", ls="--", lw=1, label="boundary")
        ax.set_title(title)
        ax.set_xlabel("column")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    fig.suptitle("the notes' edge detection: the response is non-zero only next to the boundary")
    fig.savefig(path, dpi=100)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/examples", help="folder for edge_detection.png")
    args = ap.parse_args(argv)
    boundary = 30
    img = half_image(boundary=boundary)
    edge = edge_response(img)
    lap = edge_response(img, nf.laplacian())
    crop = slice(boundary - 4, boundary + 4)
    np.set_printoptions(precision=2, suppress=True)
    print(f"image {img.shape}: white (1) in columns 0..{boundary - 1}, black (0) from column {boundary}")
    print(f"columns          {np.arange(img.shape[1])[crop]}")
    print(f"image row        {img[0, crop]}")
    print(f"[1, 0, -1]       {edge[0, crop]}")
    print(f"Laplacian        {lap[0, crop]}")
    print(f"[1, 0, -1] is non-zero in columns {edge_columns(edge).tolist()} and zero everywhere else")
    print(f"Laplacian is non-zero in columns {edge_columns(lap).tolist()} (+1 / -1: a zero crossing at the edge)")
    os.makedirs(args.out, exist_ok=True)
    path = plot(os.path.join(args.out, "edge_detection.png"), img, edge, lap, boundary)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
