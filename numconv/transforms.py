"""Image preprocessing and data augmentation, named and parametrized as ``torchvision.transforms``.

Each transform takes one image (C, H, W) or a batch (N, C, H, W) of floating-point images, a
Tensor or an array, on either device, and returns the same kind, shape class and device. The random
ones draw separately for every image of a batch (torchvision's draw once per call, so a batch
would get one crop for all its images), from ``numconv.random``: ``numconv.manual_seed`` repeats
them, and a training checkpoint's generator state resumes them. The draws are made on the host and
the images are changed where they live, by numconv's ops (``pad``, ``gather``, ``flip``, ``where``,
``affine_grid``, ``grid_sample``), so the gradient flows through every transform.

Pixel coordinates are torchvision's: an image spans [0, W] x [0, H] with pixel (i, j) centred at
(j + 0.5, i + 0.5), y pointing down. Angles are torchvision's too: ``RandomAffine`` (its ``affine``)
turns the image clockwise as shown for a positive angle, ``RandomRotation`` (its ``rotate``)
counter-clockwise.

    augment = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()])
    for xb, yb in loader:
        loss = F.cross_entropy(model(augment(xb)), yb)
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import functional as F
from . import random as nc_random
from . import shapes
from .tensor import Tensor, as_tensor, where

__all__ = ["Compose", "Normalize", "Pad", "CenterCrop", "RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip",
           "RandomAffine", "RandomRotation", "RandomResizedCrop", "RandomErasing", "affine_theta", "resized_crop"]


def _images(images, who):
    """(the images as a (N, C, H, W) Tensor, whether to hand back an array, whether it was one image)."""
    shape = tuple(getattr(images, "shape", ()))
    if not hasattr(images, "shape") or len(shape) not in (3, 4):
        raise ValueError(f"{who} takes an image (C, H, W) or a batch of images (N, C, H, W), got "
                         f"{type(images).__name__} of shape {shape if hasattr(images, 'shape') else 'none'}")
    if np.dtype(images.dtype) not in (np.float32, np.float64):
        raise TypeError(f"{who} takes float32 or float64 images, got dtype {images.dtype}; convert them first, "
                        "e.g. images.astype(numpy.float32) / 255")
    as_array = not isinstance(images, Tensor)
    x = as_tensor(images) if as_array else images
    return (x.unsqueeze(0) if len(shape) == 3 else x), as_array, len(shape) == 3


def _back(y, as_array, single):
    y = y[0] if single else y
    return y.data if as_array else y


def _on(x, array):
    """A host array as a Tensor where ``x`` lives."""
    t = Tensor(np.ascontiguousarray(array))
    return t if x.device == "cpu" else t.to(x.device)


def _size(size, name="size"):
    """(h, w) from an int or a sequence of one or two ints (torchvision's forms)."""
    given = size
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (size, size)
    if not isinstance(size, (tuple, list)) or len(size) not in (1, 2) or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in size):
        raise TypeError(f"{name} must be an int or a sequence of one or two ints (height, width), got {given!r}")
    size = (size[0], size[0]) if len(size) == 1 else tuple(size)
    if min(size) < 1:
        raise ValueError(f"{name} must be >= 1, got {size}")
    return tuple(int(s) for s in size)


def _range(value, name, symmetric=None, lo=-math.inf):
    """(low, high) from a pair, or from one number ``v`` as (-v, v) when ``symmetric`` (v >= 0)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and symmetric:
        if not 0 <= value < math.inf:
            raise ValueError(f"{name} must be a finite number >= 0 as a single number, got {value}")
        return (-float(value), float(value))
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)):
        raise TypeError(f"{name} must be {'a number or ' if symmetric else ''}a pair of numbers (low, high), got {value!r}")
    low, high = float(value[0]), float(value[1])
    if not (math.isfinite(low) and lo <= low <= high < math.inf):
        raise ValueError(f"{name} must be a range low <= high{f' within [{lo}, inf)' if lo > -math.inf else ''}, "
                         f"got {tuple(value)}")
    return low, high


def _probability(p):
    return shapes.real(p, "p", 0.0, 1.0)


def _fill(fill):
    if not isinstance(fill, numbers.Real) or isinstance(fill, bool):
        raise TypeError(f"fill must be a number, got {fill!r}")
    return float(fill)


class Transform:
    """The base: ``__call__`` checks and batches the images, ``apply`` changes a (N, C, H, W) Tensor."""

    def __call__(self, images):
        x, as_array, single = _images(images, type(self).__name__)
        return _back(self.apply(x) if x.shape[0] else self.empty(x), as_array, single)

    def empty(self, x):
        """The output for an empty batch (nothing drawn): ``apply``'s shape."""
        return self.apply(x)

    def apply(self, x):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self):
        return ""


class Compose(Transform):
    """The transforms in order, as ``torchvision.transforms.Compose``."""

    def __init__(self, transforms):
        if not isinstance(transforms, (list, tuple)):
            raise TypeError(f"Compose takes a list of transforms, got {type(transforms).__name__}")
        transforms = list(transforms)
        for i, t in enumerate(transforms):
            if not callable(t):
                raise TypeError(f"Compose: transforms[{i}] is a {type(t).__name__}, not a callable")
        self.transforms = transforms

    def __call__(self, images):
        for t in self.transforms:
            images = t(images)
        return images

    def apply(self, x):
        return self(x)

    def __repr__(self):
        return "Compose(\n" + "".join(f"    {t!r},\n" for t in self.transforms) + ")"


class Normalize(Transform):
    """(x - mean) / std per channel; ``mean`` and ``std`` one number or one per channel."""

    def __init__(self, mean, std, inplace=False):
        values = []
        for name, v in (("mean", mean), ("std", std)):
            try:
                v = np.atleast_1d(np.asarray(v, np.float64))
            except (TypeError, ValueError):
                raise TypeError(f"Normalize: {name} must be a number or a sequence of numbers (one per channel), "
                                f"got {v!r}") from None
            if v.ndim != 1 or not np.isfinite(v).all():
                raise ValueError(f"Normalize: {name} must be finite numbers, one per channel, got {v.tolist()}")
            values.append(v)
        self.mean, self.std = values
        if (self.std == 0).any():
            raise ValueError(f"Normalize: std must not be 0, got {self.std.tolist()}")
        self.inplace = shapes.flag(inplace, "inplace")

    def apply(self, x):
        C = x.shape[1]
        for name, v in (("mean", self.mean), ("std", self.std)):
            if v.size not in (1, C):
                raise ValueError(f"Normalize: {name} has {v.size} values for images of {C} channels")
        mean, std = (_on(x, np.broadcast_to(v, (C,)).astype(x.dtype).reshape(1, C, 1, 1)) for v in (self.mean, self.std))
        return x.sub_(mean).div_(std) if self.inplace else (x - mean) / std

    def extra_repr(self):
        return f"mean={self.mean.tolist()}, std={self.std.tolist()}"


_PAD_MODES = {"constant": "constant", "edge": "replicate", "reflect": "reflect"}


def _padding(padding):
    """(left, top, right, bottom) from torchvision's int, (left/right, top/bottom) or 4-sequence."""
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        padding = (padding,)
    if (not isinstance(padding, (tuple, list)) or len(padding) not in (1, 2, 4)
            or not all(isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in padding)):
        raise TypeError(f"padding must be an int or a sequence of 1, 2 or 4 ints, got {padding!r}")
    padding = tuple(int(p) for p in padding)
    if min(padding) < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    if len(padding) == 1:
        return padding * 4
    return padding * 2 if len(padding) == 2 else padding


def _pad_mode(padding_mode):
    if padding_mode not in _PAD_MODES:
        raise ValueError(f"padding_mode must be one of {sorted(_PAD_MODES)}, got {padding_mode!r}")
    return padding_mode


def _pad(x, ltrb, fill, padding_mode):
    if not any(ltrb):
        return x
    left, top, right, bottom = ltrb
    mode = _PAD_MODES[padding_mode]
    return F.pad(x, (left, right, top, bottom), mode=mode, value=fill if mode == "constant" else None)


class Pad(Transform):
    """Pad each side: ``padding`` an int, (left/right, top/bottom) or (left, top, right, bottom);
    ``padding_mode`` constant (with ``fill``), edge or reflect."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        self.padding, self.fill, self.padding_mode = _padding(padding), _fill(fill), _pad_mode(padding_mode)

    def apply(self, x):
        return _pad(x, self.padding, self.fill, self.padding_mode)

    def extra_repr(self):
        return f"padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode}"


def _crop_each(x, top, left, h, w):
    """Image n's (h, w) window at (top[n], left[n]): two gathers, rows then columns."""
    N, C, H, W = x.shape
    if (top == top[0]).all() and (left == left[0]).all():
        return x[:, :, int(top[0]):int(top[0]) + h, int(left[0]):int(left[0]) + w]
    rows = top[:, None] + np.arange(h)
    x = x.gather(2, _on(x, np.broadcast_to(rows[:, None, :, None], (N, C, h, W))))
    cols = left[:, None] + np.arange(w)
    return x.gather(3, _on(x, np.broadcast_to(cols[:, None, None, :], (N, C, h, w))))


class CenterCrop(Transform):
    """The central (h, w) window (top at round((H - h) / 2)); an image smaller than that is padded
    with zeros first, the odd pixel at the bottom and right, as torchvision's."""

    def __init__(self, size):
        self.size = _size(size)

    def apply(self, x):
        (h, w), (H, W) = self.size, x.shape[2:]
        dh, dw = max(h - H, 0), max(w - W, 0)
        x = _pad(x, (dw // 2, dh // 2, (dw + 1) // 2, (dh + 1) // 2), 0.0, "constant")
        H, W = x.shape[2:]
        top, left = int(round((H - h) / 2.0)), int(round((W - w) / 2.0))
        return x[:, :, top:top + h, left:left + w]

    def extra_repr(self):
        return f"size={self.size}"


class RandomCrop(Transform):
    """A window of ``size`` at a random place in each image, after ``padding`` (as ``Pad``); with
    ``pad_if_needed``, an image smaller than ``size`` is padded by the difference on each side
    first (as torchvision's), else it is a ValueError."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = _size(size)
        self.padding = None if padding is None else _padding(padding)
        self.pad_if_needed = shapes.flag(pad_if_needed, "pad_if_needed")
        self.fill, self.padding_mode = _fill(fill), _pad_mode(padding_mode)

    def apply(self, x):
        if self.padding is not None:
            x = _pad(x, self.padding, self.fill, self.padding_mode)
        (h, w), (H, W) = self.size, x.shape[2:]
        if self.pad_if_needed and (H < h or W < w):
            dh, dw = max(h - H, 0), max(w - W, 0)
            x = _pad(x, (dw, dh, dw, dh), self.fill, self.padding_mode)
            H, W = x.shape[2:]
        if H < h or W < w:
            raise ValueError(f"RandomCrop: the crop size {self.size} is larger than the (padded) image, {(H, W)}; "
                             "pass pad_if_needed=True or more padding")
        if x.shape[0] == 0:
            return x[:, :, :h, :w]
        g = nc_random.generator()
        top, left = g.integers(0, H - h + 1, x.shape[0]), g.integers(0, W - w + 1, x.shape[0])
        return _crop_each(x, top, left, h, w)

    def extra_repr(self):
        return f"size={self.size}, padding={self.padding}"


class _RandomFlip(Transform):
    axis = -1

    def __init__(self, p=0.5):
        self.p = _probability(p)

    def apply(self, x):
        chosen = nc_random.generator().random(x.shape[0]) < self.p
        if not chosen.any():
            return x
        flipped = x.flip(self.axis)
        return flipped if chosen.all() else where(_on(x, chosen.reshape(-1, 1, 1, 1)), flipped, x)

    def extra_repr(self):
        return f"p={self.p}"


class RandomHorizontalFlip(_RandomFlip):
    """Each image mirrored left to right with probability ``p``."""

    axis = -1


class RandomVerticalFlip(_RandomFlip):
    """Each image mirrored top to bottom with probability ``p``."""

    axis = -2


def _sample(x, theta, interpolation, fill):
    """grid_sample of ``x`` at ``affine_grid(theta)`` (align_corners=False) with ``fill`` outside the
    image, as torchvision's: with ``m`` the share of each output pixel's taps inside the image (an
    image of ones sampled alike), nearest takes ``fill`` where m < 1/2 and bilinear gives
    ``m * sample + (1 - m) * fill`` (so an edge pixel is weighted by m twice, once in the zero-padded
    sample and once here, as torchvision's is)."""
    grid = F.affine_grid(_on(x, theta.astype(x.dtype)), x.shape, align_corners=False)
    y = F.grid_sample(x, grid, mode=interpolation, padding_mode="zeros", align_corners=False)
    ones = _on(x, np.ones((x.shape[0], 1) + tuple(x.shape[2:]), x.dtype))
    inside = F.grid_sample(ones, grid, mode=interpolation, padding_mode="zeros", align_corners=False)
    if interpolation == "nearest":
        return y if fill == 0.0 else where(inside < 0.5, _on(x, np.asarray(fill, x.dtype)), y)
    return y * inside if fill == 0.0 else y * inside + (1.0 - inside) * fill


def _interpolation(interpolation):
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    return interpolation


def affine_theta(size, angle, translate, scale, shear, center=None):
    """The (N, 2, 3) ``affine_grid`` matrices (align_corners=False) that sample images of ``size``
    (H, W) moved as ``torchvision.transforms.functional.affine`` moves them: per image an ``angle``
    (degrees, clockwise as shown), ``translate`` (N, 2) (x right, y down, pixels), ``scale`` and
    ``shear`` (N, 2) (degrees along x and along y), about ``center`` (x, y) (default the image's
    centre).

    The move takes input point q to output point p = c + t + A (q - c), with
    A = scale * R(angle) [[1, 0], [-tan sy, 1]] [[1, -tan sx], [0, 1]] and R(a) taking (x, y) to
    (x cos a - y sin a, x sin a + y cos a) (y down, so clockwise as shown). Each output pixel reads
    q = c + A^-1 (p - c - t), in units of the half sizes, the coordinates of ``affine_grid``."""
    H, W = size
    angle = np.atleast_1d(np.asarray(angle, np.float64))
    n = angle.shape[0]
    angle, scale = _per_image(angle, "angle", n, integer=False), _per_image(scale, "scale", n, integer=False)
    if (scale <= 0).any():
        raise ValueError(f"scale must be > 0, got {scale.tolist()}")
    pairs = {}
    for name, v in (("translate", translate), ("shear", shear)):
        v = np.asarray(v, np.float64)
        if v.shape not in ((2,), (n, 2)) or not np.isfinite(v).all():
            raise ValueError(f"{name} must be finite pairs (x, y), one or one per image ({n}), got {v.tolist()}")
        pairs[name] = np.broadcast_to(v, (n, 2))
    translate, shear = pairs["translate"], pairs["shear"]
    a = np.radians(angle)
    tan_x, tan_y = np.tan(np.radians(shear)).T
    one, zero = np.ones_like(a), np.zeros_like(a)

    def matrices(m00, m01, m10, m11):
        return np.stack([np.stack([m00, m01], -1), np.stack([m10, m11], -1)], -2)

    A = scale[:, None, None] * (matrices(np.cos(a), -np.sin(a), np.sin(a), np.cos(a))
                                @ matrices(one, zero, -tan_y, one) @ matrices(one, -tan_x, zero, one))
    inverse = np.linalg.inv(A)
    c = np.zeros(2) if center is None else np.asarray(center, np.float64) - (W / 2, H / 2)  # from the image's centre
    t = np.asarray(translate, np.float64)
    half = np.array([W / 2, H / 2])
    theta = np.empty(a.shape + (2, 3))
    theta[:, :, :2] = inverse * half[None, None, :] / half[None, :, None]
    theta[:, :, 2] = (c - np.einsum("nij,nj->ni", inverse, c + t)) / half
    return theta


class RandomAffine(Transform):
    """Each image turned by an angle from ``degrees`` (a number d: [-d, d]; clockwise, as
    torchvision's ``affine`` takes it), moved by up to
    ``translate`` (fractions of the width and height; whole pixels), scaled by a factor from
    ``scale`` and sheared by angles from ``shear`` (a number s or a pair: along x in that range; four
    numbers: x range, then y range), about ``center`` (x, y) (default the image's centre); pixels
    that come from outside the image take ``fill``. ``interpolation`` nearest or bilinear."""

    def __init__(self, degrees, translate=None, scale=None, shear=None, interpolation="nearest", fill=0, center=None):
        self.degrees = _range(degrees, "degrees", symmetric=True)
        if translate is not None:  # (a, b): the largest moves, fractions of the width and of the height
            if (not isinstance(translate, (tuple, list)) or len(translate) != 2
                    or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in translate)):
                raise TypeError(f"translate must be a pair of numbers (a, b), got {translate!r}")
            if not all(0 <= v <= 1 for v in translate):
                raise ValueError(f"translate values must be in [0, 1], got {tuple(translate)}")
            translate = (float(translate[0]), float(translate[1]))
        self.translate = translate
        self.scale = None if scale is None else _range(scale, "scale", lo=0.0)
        if self.scale is not None and self.scale[0] <= 0:
            raise ValueError(f"scale values must be > 0, got {self.scale}")
        self.shear = None
        if shear is not None:
            if isinstance(shear, (tuple, list)) and len(shear) == 4:
                self.shear = _range(shear[:2], "shear") + _range(shear[2:], "shear")
            else:
                self.shear = _range(shear, "shear", symmetric=True) + (0.0, 0.0)
        self.interpolation, self.fill = _interpolation(interpolation), _fill(fill)
        if center is not None and (not isinstance(center, (tuple, list)) or len(center) != 2 or not all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in center)):
            raise TypeError(f"center must be (x, y), two finite numbers (pixels from the top-left corner), got {center!r}")
        self.center = None if center is None else (float(center[0]), float(center[1]))

    def draw(self, n, size):
        """n images' (angle, translate (n, 2), scale, shear (n, 2)), in torchvision's order of draws per image."""
        g = nc_random.generator()
        H, W = size
        angle = g.uniform(*self.degrees, n)
        if self.translate is not None:
            translate = np.round(np.stack([g.uniform(-self.translate[0] * W, self.translate[0] * W, n),
                                           g.uniform(-self.translate[1] * H, self.translate[1] * H, n)], -1))
        else:
            translate = np.zeros((n, 2))
        scale = g.uniform(*self.scale, n) if self.scale is not None else np.ones(n)
        shear = np.zeros((n, 2))
        if self.shear is not None:
            shear[:, 0] = g.uniform(*self.shear[:2], n)
            if self.shear[2:] != (0.0, 0.0):
                shear[:, 1] = g.uniform(*self.shear[2:], n)
        return angle, translate, scale, shear

    def apply(self, x):
        size = tuple(x.shape[2:])
        theta = affine_theta(size, *self.draw(x.shape[0], size), center=self.center)
        return _sample(x, theta, self.interpolation, self.fill)

    def empty(self, x):
        return x

    def extra_repr(self):
        return (f"degrees={self.degrees}, translate={self.translate}, scale={self.scale}, shear={self.shear}, "
                f"interpolation={self.interpolation}")


class RandomRotation(RandomAffine):
    """Each image turned by an angle from ``degrees`` (counter-clockwise, as torchvision's ``rotate``
    takes it) about ``center``; the output keeps the input's size (``expand=True`` is refused)."""

    def __init__(self, degrees, interpolation="nearest", expand=False, center=None, fill=0):
        if shapes.flag(expand, "expand"):
            raise ValueError("RandomRotation(expand=True) is not supported: every image of a batch keeps its size; "
                             "pad the images first (Pad) so the turned content fits")
        super().__init__(degrees, interpolation=interpolation, fill=fill, center=center)

    def draw(self, n, size):
        """As ``RandomAffine.draw``, the angle counter-clockwise (torchvision's ``rotate``): ``affine``'s negated."""
        angle, translate, scale, shear = super().draw(n, size)
        return -angle, translate, scale, shear

    def extra_repr(self):
        return f"degrees={self.degrees}, interpolation={self.interpolation}"


class RandomResizedCrop(Transform):
    """A random box of each image, of ``scale`` times its area and an aspect ratio from ``ratio``
    (log-uniform), drawn as torchvision draws it (ten tries, then the whole image clipped to the
    ratio and centred), resized to ``size`` by ``resized_crop``: without antialiasing, which
    changes nothing where the box is no larger than ``size`` (the usual case, ``size`` the images'
    own), and gives torchvision's ``antialias=False`` where it is."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), interpolation="bilinear"):
        self.size = _size(size)
        self.scale = _range(scale, "scale", lo=0.0)
        self.ratio = _range(ratio, "ratio", lo=0.0)
        if self.ratio[0] <= 0 or self.scale[1] <= 0:
            raise ValueError(f"scale and ratio must be > 0, got scale={scale}, ratio={ratio}")
        self.interpolation = _interpolation(interpolation)

    def draw(self, n, size):
        """(top, left, height, width) of n boxes, each (n,)."""
        g = nc_random.generator()
        H, W = size
        area = H * W
        log_ratio = np.log(self.ratio)
        boxes = np.empty((n, 4), np.int64)
        for k in range(n):
            for _ in range(10):
                target = area * g.uniform(*self.scale)
                aspect = math.exp(g.uniform(*log_ratio))
                w, h = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
                if 0 < w <= W and 0 < h <= H:
                    boxes[k] = (g.integers(0, H - h + 1), g.integers(0, W - w + 1), h, w)
                    break
            else:  # the whole image, clipped to the ratio range, centred
                aspect = W / H
                w, h = (W, int(round(W / self.ratio[0]))) if aspect < self.ratio[0] else \
                    (int(round(H * self.ratio[1])), H) if aspect > self.ratio[1] else (W, H)
                w, h = min(w, W), min(h, H)
                boxes[k] = ((H - h) // 2, (W - w) // 2, h, w)
        return boxes.T

    def apply(self, x):
        return resized_crop(x, *self.draw(x.shape[0], tuple(x.shape[2:])), self.size, self.interpolation)

    def extra_repr(self):
        return f"size={self.size}, scale={self.scale}, ratio={self.ratio}, interpolation={self.interpolation}"


def _box_source(start, length, out, n, interpolation):
    """Where ``out`` output pixels read along one dimension of ``n`` (grid_sample's [-1, 1] units) for
    boxes [start, start + length) (each (N,)): ``interpolate``'s source positions in the box,
    align_corners=False, clamped to its pixels (so the box's edge pixel repeats, as a resize of the
    cut-out box does); nearest reads floor(j * length / out), in float32 whatever the images' dtype
    (PyTorch's nearest index arithmetic, so a product that rounds onto a whole number lands where
    PyTorch's does)."""
    j = np.arange(out)
    scale = length[:, None] / out
    last = length[:, None] - 1
    if interpolation == "nearest":
        scale32 = length[:, None].astype(np.float32) / np.float32(out)
        src = np.minimum(np.floor(j.astype(np.float32) * scale32).astype(np.float64), last)
    else:
        src = np.clip((j + 0.5) * scale - 0.5, 0, last)
    return (2 * (start[:, None] + src) + 1) / n - 1


def _per_image(values, name, n, integer=True):
    """``values`` (a number, or one per image) as an (n,) array: whole numbers (``integer``) or finite reals."""
    a = np.asarray(values)
    kinds = "iu" if integer else "iuf"
    if a.dtype.kind not in kinds or a.ndim > 1 or (a.ndim == 1 and a.size not in (1, n)):
        raise TypeError(f"{name} must be {'an int' if integer else 'a number'} or one per image ({n}), got {values!r}")
    if not integer and not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite, got {values!r}")
    return np.broadcast_to(a.astype(np.int64 if integer else np.float64), (n,))


def resized_crop(images, top, left, height, width, size, interpolation="bilinear"):
    """Image n's box (top[n], left[n], height[n], width[n]) resized to ``size`` (h, w), as
    ``torchvision.transforms.functional.resized_crop(..., antialias=False)`` does to one image: the
    box's pixels resampled as ``interpolate(mode=interpolation, align_corners=False)`` would resample
    the cut-out box (bilinear or nearest). One ``grid_sample`` for the whole batch."""
    x, as_array, single = _images(images, "resized_crop")
    N, C, H, W = x.shape
    top, left, height, width = (_per_image(v, name, N) for v, name in
                                ((top, "top"), (left, "left"), (height, "height"), (width, "width")))
    if (height < 1).any() or (width < 1).any() or (top < 0).any() or (left < 0).any() or \
            (top > H - height).any() or (left > W - width).any():
        raise ValueError(f"resized_crop: every box must lie inside the {H}x{W} images, got top={top.tolist()}, "
                         f"left={left.tolist()}, height={height.tolist()}, width={width.tolist()}")
    size, interpolation = _size(size), _interpolation(interpolation)
    if N == 0:
        return _back(x[:, :, :1, :1].expand(0, C, *size), as_array, single)
    grid = np.empty((N,) + size + (2,))
    grid[..., 0] = _box_source(left, width, size[1], W, interpolation)[:, None, :]
    grid[..., 1] = _box_source(top, height, size[0], H, interpolation)[:, :, None]
    y = F.grid_sample(x, _on(x, grid.astype(x.dtype)), mode=interpolation, padding_mode="border", align_corners=False)
    return _back(y, as_array, single)


class RandomErasing(Transform):
    """With probability ``p``, a box of each image (its area a fraction from ``scale`` of the image's,
    its aspect ratio from ``ratio``, log-uniform; ten tries, else nothing) set to ``value``: a number,
    one per channel, or 'random' (standard normal noise), as torchvision's (Zhong et al. 2017, cutout)."""

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False):
        self.p = _probability(p)
        self.scale = _range(scale, "scale", lo=0.0)
        if self.scale[1] > 1:
            raise ValueError(f"scale must lie in [0, 1], got {scale}")
        self.ratio = _range(ratio, "ratio", lo=0.0)
        if self.ratio[0] <= 0:
            raise ValueError(f"ratio must be > 0, got {ratio}")
        if not (value == "random" or isinstance(value, numbers.Real) and not isinstance(value, bool)
                or isinstance(value, (tuple, list)) and all(isinstance(v, numbers.Real) for v in value)):
            raise TypeError(f"value must be a number, a sequence of numbers (one per channel) or 'random', got {value!r}")
        self.value = value if isinstance(value, str) else np.atleast_1d(np.asarray(value, np.float64))
        self.inplace = shapes.flag(inplace, "inplace")

    def draw(self, n, size):
        """Each image's box (top, left, height, width); height 0 where nothing is erased."""
        g = nc_random.generator()
        H, W = size
        boxes = np.zeros((n, 4), np.int64)
        log_ratio = np.log(self.ratio)
        for k in range(n):
            if g.random() >= self.p:
                continue
            for _ in range(10):
                target = H * W * g.uniform(*self.scale)
                aspect = math.exp(g.uniform(*log_ratio))
                h, w = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
                if h < H and w < W:
                    boxes[k] = (g.integers(0, H - h + 1), g.integers(0, W - w + 1), h, w)
                    break
        return boxes

    def apply(self, x):
        N, C, H, W = x.shape
        if not isinstance(self.value, str) and self.value.size not in (1, C):
            raise ValueError(f"RandomErasing: value has {self.value.size} values for images of {C} channels")
        boxes = self.draw(N, (H, W))
        if not boxes[:, 2].any():
            return x
        rows, cols = np.arange(H), np.arange(W)
        top, left, h, w = (v[:, None] for v in boxes.T)
        inside = ((rows >= top) & (rows < top + h))[:, :, None] & ((cols >= left) & (cols < left + w))[:, None, :]
        mask = _on(x, inside[:, None])
        if isinstance(self.value, str):
            value = _on(x, nc_random.generator().standard_normal(x.shape).astype(x.dtype))
        else:
            value = _on(x, np.broadcast_to(self.value, (C,)).astype(x.dtype).reshape(1, C, 1, 1))
        y = where(mask, value, x)
        return x.copy_(y) if self.inplace else y

    def extra_repr(self):
        return f"p={self.p}, scale={self.scale}, ratio={self.ratio}, value={self.value}"
