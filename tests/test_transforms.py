"""numconv.transforms: each transform against loops written from its definition (torchvision's
conventions; the affine and resized-crop geometry was also checked against torchvision 0.29 itself
when written, see the README), the random ones' draws (per image, in range, repeated by a seed), the
array/Tensor and image/batch forms, gradients through them, and every bad argument. The device side
runs in tests/_cuda_training_cases.py (``random_cases``)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F
from conftest import random
from numconv import transforms as T
from numconv.autograd import gradcheck

# ----------------------------------------------------------------------------- the definitions, as loops


def _affine_matrix(angle, scale, shear):
    """torchvision's: scale * R(angle, clockwise as shown with y down) * y-shear * x-shear."""
    a, (sx, sy) = math.radians(angle), np.radians(shear)
    rotation = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return scale * rotation @ np.array([[1.0, 0.0], [-math.tan(sy), 1.0]]) @ np.array([[1.0, -math.tan(sx)], [0.0, 1.0]])


def reference_affine(img, angle, translate, scale, shear, center, interpolation, fill):
    """Output pixel (i, j), centred at p = (j + 0.5, i + 0.5), reads the input at
    q = c + A^-1 (p - c - t): nearest the pixel whose centre is nearest (halves to even), bilinear
    the four around with zeros outside, then m * (value - fill) + fill with m the weight inside."""
    C, H, W = img.shape
    inverse = np.linalg.inv(_affine_matrix(angle, scale, shear))
    c = np.array([W / 2, H / 2]) if center is None else np.asarray(center, np.float64)
    out = np.empty_like(img, dtype=np.float64)
    for i in range(H):
        for j in range(W):
            qx, qy = c + inverse @ (np.array([j + 0.5, i + 0.5]) - c - np.asarray(translate, np.float64))
            px, py = qx - 0.5, qy - 0.5  # in pixel indices
            if interpolation == "nearest":
                xi, yi = int(np.rint(px)), int(np.rint(py))
                out[:, i, j] = img[:, yi, xi] if 0 <= xi < W and 0 <= yi < H else fill
                continue
            x0, y0 = math.floor(px), math.floor(py)
            value, inside = np.zeros(C), 0.0
            for yy, wy in ((y0, 1 - (py - y0)), (y0 + 1, py - y0)):
                for xx, wx in ((x0, 1 - (px - x0)), (x0 + 1, px - x0)):
                    if 0 <= xx < W and 0 <= yy < H:
                        value += wx * wy * img[:, yy, xx]
                        inside += wx * wy
            out[:, i, j] = inside * (value - fill) + fill
    return out


def reference_resized_crop(img, box, size, interpolation):
    """The box cut out, then resized with interpolate (align_corners=False): the definition of
    torchvision's resized_crop(antialias=False)."""
    top, left, h, w = box
    cut = img[None, :, top:top + h, left:left + w]
    return F.interpolate(cut, size=size, mode=interpolation, **({} if interpolation == "nearest" else
                                                                 dict(align_corners=False)))[0]


# ----------------------------------------------------------------------------- geometry


AFFINE_CASES = [
    # (angle, translate, scale, shear, center, interpolation, fill)
    (33.0, (0, 0), 1.0, (0.0, 0.0), None, "nearest", 0.0),
    (-71.0, (2, -1), 0.8, (0.0, 0.0), None, "bilinear", 0.0),
    (140.0, (-3, 2), 1.3, (12.0, 0.0), None, "nearest", 1.5),
    (8.0, (1, 1), 1.1, (-20.0, 14.0), (3.2, 4.7), "bilinear", -0.5),
    (-179.0, (0, 3), 0.7, (5.0, -25.0), (0.0, 0.0), "bilinear", 2.0),
]


@pytest.mark.parametrize("angle, translate, scale, shear, center, interpolation, fill", AFFINE_CASES)
def test_affine_sampling_matches_the_definition(angle, translate, scale, shear, center, interpolation, fill, rng):
    img = random(rng, (2, 9, 11))
    theta = T.affine_theta((9, 11), [angle], [translate], [scale], [shear], center=center)
    got = T._sample(nc.tensor(img[None]), theta, interpolation, fill).numpy()[0]
    np.testing.assert_allclose(got, reference_affine(img, angle, translate, scale, shear, center, interpolation, fill),
                               atol=1e-12)


def test_rotations_by_quarter_turns_and_shifts_are_exact(rng):
    img = random(rng, (3, 6, 6))
    quarter = T.RandomRotation((90, 90))  # counter-clockwise, as torchvision's rotate
    np.testing.assert_array_equal(quarter(img), np.rot90(img, 1, axes=(1, 2)))
    np.testing.assert_array_equal(T.RandomAffine((90, 90))(img), np.rot90(img, -1, axes=(1, 2)))  # affine: clockwise
    np.testing.assert_array_equal(T.RandomRotation((180, 180))(img), img[:, ::-1, ::-1])
    theta = T.affine_theta((6, 6), [0.0], [(2, -1)], [1.0], [(0.0, 0.0)])
    moved = T._sample(nc.tensor(img[None]), theta, "nearest", 7.0).numpy()[0]
    want = np.full_like(img, 7.0)
    want[:, :5, 2:] = img[:, 1:, :4]  # 2 pixels right, 1 up
    np.testing.assert_array_equal(moved, want)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_resized_crop_matches_crop_then_interpolate(interpolation, rng):
    imgs = random(rng, (4, 2, 10, 13))
    boxes = [(0, 0, 10, 13), (2, 3, 4, 5), (5, 1, 5, 12), (1, 9, 7, 2)]
    for size in [(6, 7), (15, 11), (3, 20)]:
        got = T.resized_crop(imgs, *np.array(boxes).T, size, interpolation)
        for n, box in enumerate(boxes):
            np.testing.assert_allclose(got[n], reference_resized_crop(imgs[n], box, size, interpolation), atol=1e-12,
                                       err_msg=f"{box} -> {size}")
    with pytest.raises(ValueError, match="every box must lie inside"):
        T.resized_crop(imgs, 0, 0, 11, 4, 5)


def test_center_crop_and_pad(rng):
    img = random(rng, (2, 5, 8))
    np.testing.assert_array_equal(T.CenterCrop((3, 4))(img), img[:, 1:4, 2:6])
    np.testing.assert_array_equal(T.CenterCrop(2)(img), img[:, 2:4, 3:5])  # round((5 - 2) / 2) = 2
    big = T.CenterCrop((8, 9))(img)  # padded with zeros first, the odd pixel bottom and right
    want = np.zeros((2, 8, 9))
    want[:, 1:6, 0:8] = img
    np.testing.assert_array_equal(big, want)
    for mode, np_mode in (("constant", "constant"), ("edge", "edge"), ("reflect", "reflect")):
        got = T.Pad((1, 2, 3, 4), fill=0.5 if mode == "constant" else 0, padding_mode=mode)(img)
        kw = dict(constant_values=0.5) if mode == "constant" else {}
        np.testing.assert_array_equal(got, np.pad(img, ((0, 0), (2, 4), (1, 3)), mode=np_mode, **kw))
    np.testing.assert_array_equal(T.Pad((1, 2))(img), np.pad(img, ((0, 0), (2, 2), (1, 1))))


def test_normalize(rng):
    imgs = random(rng, (3, 2, 4, 4))
    np.testing.assert_allclose(T.Normalize((0.5, -1.0), (2.0, 0.25))(imgs),
                               (imgs - np.array([0.5, -1.0])[:, None, None]) / np.array([2.0, 0.25])[:, None, None])
    x = nc.tensor(imgs.copy())
    y = T.Normalize(0.5, 2.0, inplace=True)(x)
    assert y is x
    np.testing.assert_allclose(x.numpy(), (imgs - 0.5) / 2.0)
    with pytest.raises(ValueError, match="3 values for images of 2 channels"):
        T.Normalize((1, 2, 3), 1)(imgs)
    with pytest.raises(ValueError, match="std must not be 0"):
        T.Normalize(0, (1, 0))


# ----------------------------------------------------------------------------- random draws


def _windows(padded, crop):
    """Every (top, left) window of ``crop`` size of ``padded`` (C, H, W), by its contents."""
    h, w = crop
    H, W = padded.shape[1:]
    return {padded[:, i:i + h, j:j + w].tobytes(): (i, j) for i in range(H - h + 1) for j in range(W - w + 1)}


def test_random_crop_draws_a_window_per_image(rng):
    img = np.arange(2 * 6 * 7, dtype=np.float64).reshape(2, 6, 7)  # every window's content is its own
    batch = np.broadcast_to(img, (200, 2, 6, 7)).copy()
    nc.manual_seed(11)
    crops = T.RandomCrop((5, 4), padding=(1, 2))(batch)
    windows = _windows(np.pad(img, ((0, 0), (2, 2), (1, 1))), (5, 4))
    places = [windows[c.tobytes()] for c in crops]  # a KeyError: not a window of the padded image
    assert set(places) == set(windows.values())  # every one of the 6 x 4 places drawn
    nc.manual_seed(11)
    np.testing.assert_array_equal(T.RandomCrop((5, 4), padding=(1, 2))(batch), crops)
    small = T.RandomCrop(8, pad_if_needed=True, padding_mode="edge")(img)  # padded by the difference on each side
    assert small.shape == (2, 8, 8)
    assert small.tobytes() in _windows(np.pad(img, ((0, 0), (2, 2), (1, 1)), mode="edge"), (8, 8))
    with pytest.raises(ValueError, match="larger than the"):
        T.RandomCrop(8)(img)


@pytest.mark.parametrize("cls, flip", [(T.RandomHorizontalFlip, lambda a: a[..., ::-1]),
                                       (T.RandomVerticalFlip, lambda a: a[..., ::-1, :])])
def test_random_flips(cls, flip, rng):
    batch = random(rng, (2000, 1, 3, 4))
    out = cls(0.3)(batch)
    same = (out == batch).all(axis=(1, 2, 3))
    flipped = (out == flip(batch)).all(axis=(1, 2, 3))
    assert (same ^ flipped).all()
    assert abs(flipped.mean() - 0.3) < 0.045  # 4 standard deviations
    np.testing.assert_array_equal(cls(0.0)(batch), batch)
    np.testing.assert_array_equal(cls(1.0)(batch), flip(batch))


def test_random_affine_draws(rng):
    t = T.RandomAffine((-10, 30), translate=(0.2, 0.1), scale=(0.5, 2.0), shear=(-5, 5, 10, 20))
    angle, translate, scale, shear = t.draw(4000, (20, 30))
    assert angle.min() >= -10 and angle.max() <= 30 and angle.std() > 5
    assert (np.abs(translate[:, 0]) <= 6).all() and (np.abs(translate[:, 1]) <= 2).all()
    assert (translate == np.round(translate)).all() and len(np.unique(translate[:, 0])) == 13
    assert scale.min() >= 0.5 and scale.max() <= 2.0
    assert shear[:, 0].min() >= -5 and shear[:, 0].max() <= 5 and shear[:, 1].min() >= 10 and shear[:, 1].max() <= 20
    img = random(rng, (50, 1, 5, 5))
    nc.manual_seed(2)
    out = t(img)
    nc.manual_seed(2)
    params = t.draw(50, (5, 5))
    for n in range(50):  # each image its own draw, applied as the definition says
        want = reference_affine(img[n], params[0][n], params[1][n], params[2][n], params[3][n], None, "nearest", 0.0)
        np.testing.assert_allclose(out[n], want, atol=1e-12)


def test_random_resized_crop_draws(rng):
    t = T.RandomResizedCrop(8, scale=(0.2, 0.6), ratio=(0.5, 2.0))
    top, left, h, w = t.draw(3000, (40, 50))
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= 40).all() and (left + w <= 50).all()
    area, ratio = h * w / 2000, w / h
    assert area.min() > 0.17 and area.max() < 0.64  # the draws' ranges, with the rounding to whole pixels
    assert ratio.min() > 0.45 and ratio.max() < 2.2
    top, left, h, w = T.RandomResizedCrop(4, scale=(2.0, 3.0), ratio=(1.0, 1.0)).draw(5, (10, 20))  # never fits
    assert (h == 10).all() and (w == 10).all() and (left == 5).all() and (top == 0).all()  # the centred fallback
    imgs = random(rng, (6, 2, 12, 12))
    nc.manual_seed(8)
    out = t(imgs)
    nc.manual_seed(8)
    boxes = t.draw(6, (12, 12))
    for n in range(6):
        np.testing.assert_allclose(out[n], reference_resized_crop(imgs[n], boxes[:, n], (8, 8), "bilinear"), atol=1e-12)


def test_random_erasing(rng):
    imgs = random(rng, (500, 3, 10, 12))
    t = T.RandomErasing(p=0.7, scale=(0.05, 0.3), ratio=(0.5, 2.0), value=(1.0, 2.0, 3.0))
    out = t(imgs)
    changed = out != imgs
    erased = changed.any(axis=(1, 2, 3))
    assert abs(erased.mean() - 0.7) < 0.09
    for n in np.flatnonzero(erased)[:50]:
        rows, cols = np.flatnonzero(changed[n, 0].any(1)), np.flatnonzero(changed[n, 0].any(0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        np.testing.assert_array_equal(out[n][:, box[0], box[1]], np.broadcast_to([[[1.0]], [[2.0]], [[3.0]]],
                                                                                  (3, rows.size, cols.size)))
        assert 0.04 <= rows.size * cols.size / 120 <= 0.34
        kept = np.ones((10, 12), bool)
        kept[box] = False
        np.testing.assert_array_equal(out[n][:, kept], imgs[n][:, kept])
    noise = T.RandomErasing(p=1.0, value="random")(imgs[:20])
    assert (noise != imgs[:20]).any(axis=(1, 2, 3)).all()


# ----------------------------------------------------------------------------- forms, gradients, errors


def test_forms_arrays_tensors_images_and_seeds(rng):
    aug = T.Compose([T.RandomCrop(6, padding=1), T.RandomHorizontalFlip(), T.RandomAffine(15, scale=(0.9, 1.1)),
                     T.RandomErasing(p=0.5)])
    batch = random(rng, (8, 3, 6, 6)).astype(np.float32)
    nc.manual_seed(3)
    a = aug(batch)
    nc.manual_seed(3)
    t = aug(nc.tensor(batch))
    assert isinstance(a, np.ndarray) and isinstance(t, nc.Tensor) and a.dtype == np.float32 and t.dtype == np.float32
    np.testing.assert_array_equal(a, t.numpy())
    one = aug(batch[0])
    assert one.shape == (3, 6, 6) and isinstance(one, np.ndarray)
    assert "RandomCrop(size=(6, 6)" in repr(aug)


def test_empty_batches_keep_their_output_shape():
    empty = np.zeros((0, 3, 6, 7), np.float32)
    for t, size in [(T.RandomCrop(4, padding=1), (4, 4)), (T.RandomAffine(30, translate=(0.1, 0.1)), (6, 7)),
                    (T.RandomRotation(10), (6, 7)), (T.RandomResizedCrop((5, 2)), (5, 2)), (T.RandomErasing(p=1), (6, 7)),
                    (T.CenterCrop(3), (3, 3)), (T.Pad(1), (8, 9)), (T.RandomHorizontalFlip(), (6, 7))]:
        for images in (empty, nc.tensor(empty)):
            assert t(images).shape == (0, 3) + size, t


def test_nearest_box_positions_are_float32_as_pytorchs(rng):
    """4 rows resized to 188: 47 * float32(4 / 188) rounds onto 1.0 in float32, so PyTorch reads row 1
    there (it computes nearest positions in float32 for every dtype); so does numconv."""
    img = rng.standard_normal((1, 11, 164))
    for dtype in (np.float32, np.float64):
        got = T.resized_crop(img[None].astype(dtype), 7, 119, 4, 8, (188, 242), "nearest")[0]
        np.testing.assert_array_equal(got, reference_resized_crop(img.astype(dtype), (7, 119, 4, 8), (188, 242),
                                                                  "nearest"))


def test_gradients_flow_through(rng):
    x = nc.tensor(random(rng, (2, 2, 5, 6)), requires_grad=True)
    theta = T.affine_theta((5, 6), [20.0, -35.0], [(1, 0), (0, -1)], [1.1, 0.9], [(5.0, 0.0), (0.0, 8.0)])
    assert gradcheck(lambda t: T._sample(t, theta, "bilinear", 0.5), [x])
    assert gradcheck(lambda t: T.resized_crop(t, [0, 1], [1, 2], [4, 3], [5, 3], (7, 4)), [x])
    assert gradcheck(lambda t: T.Normalize((1.0, 2.0), (0.5, 4.0))(T.Pad(1, padding_mode="reflect")(t)), [x])


BAD = [
    (lambda: T.RandomCrop(0), ValueError, "size must be >= 1"),
    (lambda: T.RandomCrop((2, 3, 4)), TypeError, "size must be an int or a sequence"),
    (lambda: T.RandomCrop(4, padding=-1), ValueError, "padding must be >= 0"),
    (lambda: T.Pad((1, 2, 3)), TypeError, "padding must be an int or a sequence of 1, 2 or 4"),
    (lambda: T.Pad(1, padding_mode="symmetric"), ValueError, "padding_mode must be one of"),
    (lambda: T.Pad(1, fill="black"), TypeError, "fill must be a number"),
    (lambda: T.RandomHorizontalFlip(1.5), ValueError, "p"),
    (lambda: T.RandomAffine(-5), ValueError, "degrees must be a finite number >= 0"),
    (lambda: T.RandomAffine((10, -10)), ValueError, "low <= high"),
    (lambda: T.RandomAffine(5, translate=(0.5, 1.5)), ValueError, r"translate values must be in \[0, 1\]"),
    (lambda: T.RandomAffine(5, scale=(0, 1)), ValueError, "scale values must be > 0"),
    (lambda: T.RandomAffine(5, interpolation="bicubic"), ValueError, "interpolation must be"),
    (lambda: T.RandomAffine(5, center=(1,)), TypeError, r"center must be \(x, y\)"),
    (lambda: T.RandomRotation(5, expand=True), ValueError, r"\(expand=True\) is not supported"),
    (lambda: T.RandomResizedCrop(4, ratio=(0, 1)), ValueError, "ratio must be > 0"),
    (lambda: T.RandomErasing(scale=(0.1, 1.5)), ValueError, r"scale must lie in \[0, 1\]"),
    (lambda: T.RandomErasing(value="noise"), TypeError, "value must be a number"),
    (lambda: T.Compose([T.Pad(1), 3]), TypeError, r"transforms\[1\] is a int"),
    (lambda: T.Pad(1)(np.ones((4, 4))), ValueError, r"an image \(C, H, W\) or a batch"),
    (lambda: T.Pad(1)(np.ones((1, 4, 4), np.uint8)), TypeError, "float32 or float64 images"),
    (lambda: T.Pad(1)(np.ones((1, 4, 4), np.float16)), TypeError, "float32 or float64 images"),
    (lambda: T.RandomAffine(float("nan")), ValueError, "degrees must be a finite number"),
    (lambda: T.RandomRotation((-float("inf"), 0)), ValueError, "degrees must be a range"),
    (lambda: T.CenterCrop(3.0), TypeError, "got 3.0"),
    (lambda: T.Normalize("a", 1), TypeError, "mean must be a number or a sequence"),
    (lambda: T.Compose(T.Pad(1)), TypeError, "Compose takes a list"),
    (lambda: T.resized_crop(np.ones((2, 1, 5, 5)), 2**62, 0, 2**62, 3, 2), ValueError, "every box must lie inside"),
    (lambda: T.resized_crop(np.ones((2, 1, 5, 5)), 0.5, 0, 3, 3, 2), TypeError, "top must be an int"),
    (lambda: T.resized_crop(np.ones((2, 1, 5, 5)), [0, 0, 0], 0, 3, 3, 2), TypeError, r"one per image \(2\)"),
    (lambda: T.affine_theta((5, 5), 10, (0, 0), 0.0, (0, 0)), ValueError, "scale must be > 0"),
    (lambda: T.affine_theta((5, 5), [1, 2], (0, 0), 1.0, [(0, 0)] * 3), ValueError, "shear must be finite pairs"),
    (lambda: T.RandomErasing(p=0.0, value=(1.0, 2.0))(np.ones((3, 4, 4))), ValueError, "2 values for images of 3"),
]


@pytest.mark.parametrize("call, error, match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
