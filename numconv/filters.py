"""Hand-made convolution kernels from the notes, and ``apply`` to run them on images with numconv's conv2d.

    import numconv.filters as nf
    blurred = nf.apply(image, nf.gaussian(5, 1.0))          # (H, W) grey or (H, W, 3) RGB, per channel
    edges = nf.apply(image, nf.sobel_x())

Every kernel is a float64 NumPy array used as deep learning uses it: cross-correlation (no
flip), ``out[i, j] = sum_{a, b} k[a, b] * x[i + a - r, j + b - r]`` for an odd ``k`` of radius
``r``. Blur kernels (``mean``, ``gaussian``, ``moving_average``) sum to 1, so flat regions keep
their value; edge kernels (``sobel_x``, ``sobel_y``, ``laplacian``, ``edge8``, ``edge_1d``) sum
to 0, so flat regions give 0; ``sharpen`` sums to 1 (identity plus the Laplacian).

Sign conventions follow the notes: the 1-d ``[1, 0, -1]`` gives ``x[j-1] - x[j+1]``, positive where
the image gets darker from left to right (the notes' white-left, black-right image lights up
at the boundary), and ``sobel_x`` is that difference smoothed by ``[1, 2, 1]`` down the rows.
``laplacian`` is the notes' ``[[0,-1,0],[-1,4,-1],[0,-1,0]]``, minus the discrete second
derivative ``x(t+1) + x(t-1) - 2x(t)`` summed over both axes.
"""
from __future__ import annotations

import numpy as np

from . import shapes

__all__ = [
    "apply", "correlate_nchw", "edge8", "edge_1d", "gaussian", "identity", "kernels", "laplacian", "mean", "moving_average",
    "sharpen", "sobel_x", "sobel_y",
]

PADDING_MODES = ("reflect", "replicate", "circular", "zeros", "constant")


def _positive_size(size, name="size"):
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"{name} must be a positive int, got {size!r}")
    return int(size)


# ----------------------------------------------------------------------------- kernels


def identity(size=3):
    """A ``size`` x ``size`` kernel that returns the image unchanged (1 at the centre; ``size`` odd)."""
    size = _positive_size(size)
    if size % 2 == 0:
        raise ValueError(f"identity(size) needs an odd size, got {size}")
    k = np.zeros((size, size))
    k[size // 2, size // 2] = 1.0
    return k


def mean(size=3):
    """Box blur: a ``size`` x ``size`` kernel of ``1 / size**2`` (sums to 1)."""
    size = _positive_size(size)
    return np.full((size, size), 1.0 / size**2)


def gaussian(size=5, sigma=1.0):
    """Gaussian blur: ``exp(-(x**2 + y**2) / (2 sigma**2))`` on a ``size`` x ``size`` grid centred at 0, normalized to sum 1.

    ``x`` and ``y`` run over ``arange(size) - (size - 1) / 2``, so the kernel is symmetric under
    flips and transposition for any size.
    """
    size = _positive_size(size)
    sigma = shapes.real(sigma, "sigma", 0.0, lo_open=True)  # not a bool; inf would be a box blur
    if 2.0 * sigma ** 2 == 0.0:  # the exponent divides by 0: every value would be NaN
        raise ValueError(f"sigma is too small: sigma**2 underflows to 0 in float64, got {sigma!r}")
    t = np.arange(size) - (size - 1) / 2.0
    d2 = t[:, None] ** 2 + t[None, :] ** 2
    # measured from the nearest grid point (the same kernel once normalized), so the largest value is 1
    # and a narrow sigma on an even grid gives no 0 / 0
    g = np.exp(-(d2 - d2.min()) / (2.0 * sigma ** 2))
    return g / g.sum()


def sobel_x():
    """``[[1, 0, -1], [2, 0, -2], [1, 0, -1]]``: the horizontal change (left minus right), smoothed down the columns. Sums to 0."""
    return np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])


def sobel_y():
    """``sobel_x().T``: the vertical change (top minus bottom), smoothed along the rows. Sums to 0."""
    return sobel_x().T.copy()


def laplacian():
    """The notes' ``[[0, -1, 0], [-1, 4, -1], [0, -1, 0]]`` (second-derivative edges, sums to 0)."""
    return np.array([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]])


def edge8():
    """The notes' 8-neighbour edge kernel ``[[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]] / 8`` (sums to 0)."""
    k = -np.ones((3, 3))
    k[1, 1] = 8.0
    return k / 8.0


def sharpen(amount=1.0):
    """``identity(3) + amount * laplacian()``; ``amount=1`` is ``[[0, -1, 0], [-1, 5, -1], [0, -1, 0]]`` (sums to 1)."""
    return identity(3) + shapes.real(amount, "amount") * laplacian()


def edge_1d():
    """The notes' 1-d edge kernel ``[1, 0, -1]``; ``apply`` runs a 1-d kernel along the rows of an image."""
    return np.array([1.0, 0.0, -1.0])


def moving_average(k=3):
    """1-d moving average ``[1/k] * k`` (sums to 1)."""
    k = _positive_size(k, "k")
    return np.full(k, 1.0 / k)


def kernels():
    """The named kernels the examples show, in order: {name: 2-d array}."""
    return {
        "mean 5x5": mean(5),
        "gaussian 9x9, sigma 2": gaussian(9, 2.0),
        "sobel x": sobel_x(),
        "sobel y": sobel_y(),
        "laplacian": laplacian(),
        "8-neighbour edge": edge8(),
        "sharpen": sharpen(),
        "[1, 0, -1]": edge_1d()[None, :],
    }


# ----------------------------------------------------------------------------- apply


def _as_float(image):
    a = np.asarray(image)
    if a.dtype in (np.float32, np.float64):
        return a
    if a.dtype.kind in "fiub":
        return a.astype(np.float32)
    raise TypeError(f"image must be a real-valued array, got dtype {a.dtype}")


def _kernel2d(kernel, dtype):
    k = np.asarray(kernel)
    if k.dtype.kind not in "fiu":
        raise TypeError(f"kernel must be a real-valued array, got dtype {k.dtype}")
    if k.ndim == 1:
        k = k[None, :]
    if k.ndim != 2 or k.size == 0:
        raise ValueError(f"kernel must be a non-empty 1-d or 2-d array, got shape {k.shape}")
    return np.ascontiguousarray(k, dtype=dtype)


def correlate_nchw(x, kernel, padding="same", mode="reflect"):
    """Correlate every channel of ``x`` (N, C, H, W) with one 2-d ``kernel`` through ``numconv.functional.conv2d``.

    A depthwise convolution (``groups=C``). ``x`` may be a NumPy array or a numconv Tensor (then
    the result is differentiable). ``padding``, ``mode`` as in ``apply``.
    """
    from . import functional as F
    from .tensor import Tensor

    if not isinstance(x, (np.ndarray, Tensor)) and not hasattr(x, "__cuda_array_interface__"):
        raise TypeError(f"x must be a NumPy array or numconv Tensor (N, C, H, W), got {type(x).__name__}")
    if mode not in PADDING_MODES:
        raise ValueError(f"mode must be one of {', '.join(PADDING_MODES)}, got {mode!r}")
    mode = "zeros" if mode == "constant" else mode
    if len(x.shape) != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {tuple(x.shape)}")
    c = int(x.shape[1])
    dtype = np.dtype(x.dtype)
    k = _kernel2d(kernel, dtype)
    w = np.ascontiguousarray(np.broadcast_to(k, (c, 1) + k.shape))
    if isinstance(padding, str) and padding == "same":
        # explicit (lo, hi) pairs: the odd pixel of an even kernel on the high side, as 'same' does
        pad = tuple(((n - 1) // 2, n - 1 - (n - 1) // 2) for n in k.shape)
        if mode == "reflect":
            h, wd = int(x.shape[2]), int(x.shape[3])
            for (lo, hi), size, name in zip(pad, (h, wd), ("height", "width")):
                if max(lo, hi) >= size:
                    raise ValueError(f"mode='reflect' needs the image {name} ({size}) larger than the padding "
                                     f"({max(lo, hi)}) of a kernel of shape {k.shape}; use mode='replicate' or a smaller kernel")
        padding = pad if any(lo or hi for lo, hi in pad) else 0
    return F.conv2d(x, w, None, 1, padding, 1, c, mode)


def apply(image, kernel, padding="same", mode="reflect", channel_axis=None):
    """Correlate ``image`` with ``kernel`` using numconv's own ``conv2d``; colour images channel by channel.

    image: (H, W) grey, (H, W, C) colour (channels last, as scikit-image and matplotlib store
    them), or any layout with ``channel_axis`` naming the channel axis (``channel_axis=0`` for
    (C, H, W)); a 1-d signal (L,) with a 1-d kernel is filtered along its length. float32 and
    float64 keep their dtype; integer images (uint8 photos) are converted to float32 with their
    values unchanged, so a blurred uint8 photo stays in 0..255.
    kernel: 2-d (kH, kW), or 1-d (K,) applied along the rows (as a (1, K) kernel).
    padding: 'same' (output the size of the input, like a conv layer with p = (k-1)/2), 'valid'
    (no padding, output shrinks by k-1), or an int / pair of ints as in ``conv2d``.
    mode: how the border is filled for padding: 'reflect' (default, mirror without repeating the
    edge pixel), 'replicate', 'circular', or 'zeros' / 'constant'.
    Returns an array of the same layout as ``image`` (cross-correlation: no kernel flip).
    """
    x = _as_float(image)
    if channel_axis is not None:
        shapes.integer(channel_axis, "channel_axis")
        if x.ndim < 3:
            raise ValueError(f"channel_axis={channel_axis} given for a {x.ndim}-d (single-channel) image "
                             f"of shape {x.shape}")
    if x.ndim == 1:
        if np.asarray(kernel).ndim != 1:
            raise ValueError(f"a 1-d signal needs a 1-d kernel, got kernel shape {np.asarray(kernel).shape}")
        return apply(x[None, :], kernel, padding=padding, mode=mode)[0]
    if x.ndim == 2:
        return correlate_nchw(x[None, None], kernel, padding, mode)[0, 0]
    if x.ndim != 3:
        raise ValueError(f"image must be (H, W), (H, W, C) or 1-d, got shape {x.shape}")
    axis = -1 if channel_axis is None else channel_axis
    if not -3 <= axis < 3:
        raise ValueError(f"channel_axis {channel_axis} is out of range for an image of shape {x.shape}")
    chw = np.ascontiguousarray(np.moveaxis(x, axis, 0))
    y = correlate_nchw(chw[None], kernel, padding, mode)[0]
    return np.moveaxis(y, 0, axis)
