"""Receptive fields: the notes' bottom-up recurrence and top-down form, and, for every zoo model,
the analytic field equal to the measured one (the non-zero input gradient of one output unit);
every unit of random stacks against torch with all-ones weights; lists of layers."""
from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from numconv import functional as F
from numconv import models, nn
from numconv.models.vgg import cfgs, make_layers
from numconv.receptive_field import (
    empirical_receptive_field, receptive_field, receptive_field_topdown, receptive_region,
)
from numconv.summary import summary, trace


def notes_recurrence(layers):
    """r_n = r_{n-1} + (k'_n - 1) * prod(s_1..s_{n-1}), k' = k + (k-1)(d-1), written out from the notes."""
    r, prod = 1, 1
    for k, s, d in layers:
        r += (k + (k - 1) * (d - 1) - 1) * prod
        prod *= s
    return r


def test_three_stacked_3x3_convolutions_see_7x7():
    assert receptive_field([3, 3, 3]).size == (7, 7)
    assert receptive_field([nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3)]).size == (7, 7)
    assert receptive_field_topdown([3, 3, 3]) == [(7, 7), (5, 5), (3, 3), (1, 1)]
    # ... with 27 C^2 weights against 49 C^2 for one 7x7 layer
    C = 8
    three = sum(p.numel() for m in [nn.Conv2d(C, C, 3, bias=False) for _ in range(3)] for p in m.parameters())
    assert (three, nn.Conv2d(C, C, 7, bias=False).weight.numel()) == (27 * C * C, 49 * C * C)
    assert receptive_field(nn.Sequential(*[nn.Conv2d(C, C, 3) for _ in range(3)]), (C, 16, 16)).size == (7, 7)


def test_dilation_and_stride():
    assert receptive_field([(3, 1, 0, 1), (3, 1, 0, 2), (3, 1, 0, 4)]).size == (15, 15)  # k' = 3, 5, 9
    rf = receptive_field([(3, 2), (3, 2), (3, 1)])
    assert rf.size == (15, 15) and rf.jump == (4, 4)
    assert receptive_field([dict(kernel_size=5, stride=2, padding=2)]).start == (0, 0)
    assert receptive_field([(2, 2)]).start == (0.5, 0.5)  # a 2x2 pool's first unit is centred between pixels


@pytest.mark.parametrize("seed", range(5))
def test_bottom_up_equals_notes_recurrence_and_top_down(seed):
    rng = np.random.default_rng(seed)
    layers = [(int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 4))) for _ in range(6)]
    rf = receptive_field([(k, s, 0, d) for k, s, d in layers])
    expected = notes_recurrence(layers)
    assert rf.size == (expected, expected)
    assert receptive_field_topdown([(k, s, 0, d) for k, s, d in layers])[0] == (expected, expected)
    assert rf.jump == (int(np.prod([s for _, s, _ in layers])),) * 2


def test_known_networks():
    vgg = make_layers(cfgs["D"])
    rf = receptive_field(list(vgg))
    assert rf.size == (212, 212) and rf.jump == (32, 32)  # VGG-16 pool5
    assert rf["28"].size == (196, 196)  # conv5_3
    assert receptive_field_topdown(list(vgg))[0] == (212, 212)
    alex = models.alexnet().features
    assert receptive_field(list(alex)).size == (195, 195)
    assert receptive_field(list(models.lenet5().features)).size == (16, 16)
    # per-dimension kernels and the 'same' padding of a strided layer (needs the input size)
    conv = nn.Conv2d(1, 1, (3, 5), stride=2, padding="same")
    rf = receptive_field([conv], (1, 9, 10))
    assert rf.size == (3, 5) and rf.start == (0, 1)  # 'same' pads (1, 1) and (1, 2): left padding 1 in both
    with pytest.raises(ValueError, match="input"):
        receptive_field([conv])


def test_region_of_a_unit():
    rf = receptive_field([(3, 1, 1), (2, 2)], (1, 10, 10))  # conv pad 1, then 2x2 pool
    assert rf.size == (4, 4) and rf.start == (0.5, 0.5)
    assert rf.region((0, 0), clip=False) == ((-1, 2), (-1, 2))
    assert rf.region((0, 4)) == ((0, 2), (7, 9))


# ----------------------------------------------------------------------------- every zoo model, measured


# VGG: vgg16 is built whole (one 138M-parameter model per file); the other configurations' trunks are
# built with the zoo's own make_layers (their classifier, identical to vgg16's, only makes the field global).
ZOO = {
    "lenet5": ((1, 28, 28), ["features.2", "features", None]),
    "alexnet": ((3, 63, 63), ["features.2", "features"]),  # 63: no pixel dropped by a floor
    "resnet18": ((3, 64, 64), ["layer1", "layer4", None]),
    "resnet34": ((3, 48, 48), ["layer1.0", "layer4"]),
    "resnet50": ((3, 48, 48), ["layer1.0", "layer4"]),
    "resnet18_cifar": ((3, 32, 32), ["layer1.0", "layer4"]),
    "googlenet": ((3, 64, 64), ["inception3a", "inception5b"]),
    "nin": ((3, 32, 32), ["features.0", "features", None]),
    "encoder_decoder": ((3, 48, 48), ["enc2", None]),
}


_VGG = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}


def _build(name):
    if name == "vgg16":
        return models.get_model(name, init_weights=False)
    if name.startswith("vgg"):
        return make_layers(cfgs[_VGG[name.split("_")[0]]], batch_norm=name.endswith("_bn"))
    return models.get_model(name)


def _vgg_layers(model):
    pools = [n for n, m in model.named_modules() if isinstance(m, nn.MaxPool2d)]
    return [pools[1], "features" if hasattr(model, "features") else None]


def bottom_up_region(tr, node, position, n_in):
    """The notes' field (size r, jump j, start) of unit ``position``, clipped to the image."""
    out = []
    for d, o, n in zip(tr.dims(node), position, n_in):
        c = d.start + o * d.j
        lo, hi = c - (d.r - 1) / 2, c + (d.r - 1) / 2
        assert lo.denominator == 1 and hi.denominator == 1
        out.append((max(int(lo), 0), min(int(hi), n - 1)))
    return tuple(out)


def test_zoo_covers_every_model():
    assert set(ZOO) | {n for n in models.list_models() if n.startswith("vgg")} == set(models.list_models())


@pytest.mark.parametrize("name", models.list_models())
def test_analytic_equals_empirical_on_every_zoo_model(name):
    model = _build(name)
    shape, layers = ZOO.get(name, ((3, 32, 32), None))
    if layers is None:
        layers = _vgg_layers(model)
    tr = trace(model, shape, targets=[t for t in layers if t is not None])
    n_in = shape[1:]
    checked_interior = False
    for layer in layers:
        node = tr.output_node if layer is None else tr.target_nodes[layer]
        spatial = tr.spatial_out(node)
        positions = [tuple(n // 2 for n in spatial)]
        if layer == layers[0] and spatial:
            positions.append((0,) * len(spatial))  # a corner: the field hangs over the padding
        for pos in positions if spatial else [()]:
            measured = empirical_receptive_field(model, shape, layer=layer, position=pos or None)
            exact = receptive_region(model, shape, layer=layer, position=pos or None)
            assert measured == exact, (layer, pos)
            if not spatial:  # a vector (the logits): every pixel
                assert measured == tuple((0, n - 1) for n in n_in)
                continue
            analytic = bottom_up_region(tr, node, pos, n_in)
            if name == "encoder_decoder" and layer is None:
                # after transposed convolutions the units are not evenly aligned with the input: the
                # bottom-up field is an upper bound of every unit's; receptive_region above is exact
                assert _contains(analytic, measured), (layer, pos)
            else:
                assert analytic == measured, (layer, pos)
            checked_interior |= all(a > 0 and b < n - 1 for (a, b), n in zip(measured, n_in))
    assert checked_interior  # at least one field lies inside the image: a comparison that can fail


def test_empirical_handles_max_pooling_by_averaging_and_restores_the_model():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(3, stride=2), nn.Conv2d(2, 2, 3))
    model.train()
    before = [p.numpy().copy() for p in model.parameters()]
    # analytic: 3 -> pool 3/2 -> 5 -> conv 3 at jump 2 -> 9
    assert receptive_field(model, (1, 20, 20)).size == (9, 9)
    assert empirical_receptive_field(model, (1, 20, 20), position=(2, 3)) == ((4, 12), (6, 14))
    assert empirical_receptive_field(model, (1, 20, 20), position=(2, 3), draws=3, seed=1) == ((4, 12), (6, 14))
    assert model.training and all(p.dtype == np.float32 and p.requires_grad for p in model.parameters())
    assert all(np.array_equal(a, p.numpy()) for a, p in zip(before, model.parameters()))
    assert all("forward" not in m.__dict__ for m in model.modules())


@pytest.mark.parametrize("stride, kernel, padding", [(2, 3, 1), (3, 4, 1)])
def test_transposed_convolution_region_is_exact(stride, kernel, padding):
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ConvTranspose2d(2, 2, kernel, stride=stride, padding=padding),
                          nn.Conv2d(2, 1, 3))
    shape = (1, 9, 9)
    out = trace(model, shape).output_shape[2:]
    for pos in itertools.product(range(0, out[0], 3), range(1, out[1], 4)):
        assert empirical_receptive_field(model, shape, position=pos) == receptive_region(model, shape, position=pos)


def test_dilated_and_padded_layers_measured():
    model = nn.Sequential(nn.Conv2d(1, 3, 3, dilation=2, padding=2), nn.ReLU(), nn.Conv2d(3, 3, 3, dilation=3, stride=2),
                          nn.AvgPool2d(2), nn.Conv2d(3, 1, (1, 3), padding="same"))
    shape = (1, 40, 40)
    tr = trace(model, shape)
    assert tr.output_dims[0].r == 1 + 4 + 6 * 1 + 2 * 1 + 0 * 4
    assert tr.output_dims[1].r == 1 + 4 + 6 + 2 + 2 * 4
    for pos in [(0, 0), (3, 4), (7, 7)]:
        measured = empirical_receptive_field(model, shape, position=pos)
        assert measured == receptive_region(model, shape, position=pos)
        if pos != (7, 7):
            assert measured == bottom_up_region(tr, tr.output_node, pos, shape[1:])
    # At the last unit the notes' formula also counts the right-hand 'same' padding column of the last
    # layer, whose would-be pixel (39) lies inside the image but is dropped by the strided layer's floor.
    assert bottom_up_region(tr, tr.output_node, (7, 7), shape[1:]) == ((26, 38), (22, 39))
    assert receptive_region(model, shape, position=(7, 7)) == ((26, 38), (22, 38))


def test_branches_take_the_union():
    class TwoBranch(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(1, 2, 7, padding=3)
            self.b = nn.Conv2d(1, 2, 3, padding=1)
            self.c = nn.Conv2d(4, 1, 1)

        def forward(self, x):
            from numconv import cat
            return self.c(cat([self.a(x), self.b(x)], 1)) + self.b(x).sum(1, keepdim=True)

    m = TwoBranch()
    rf = receptive_field(m, (1, 15, 15))
    assert rf["c"].size == (7, 7) and rf.size == (7, 7) and rf["b#2"].size == (3, 3)
    assert empirical_receptive_field(m, (1, 15, 15)) == ((4, 10), (4, 10))
    assert rf.region((7, 7)) == ((4, 10), (4, 10))


def test_adaptive_pooling_with_uneven_windows():
    # 5 -> 3: windows [0, 1], [1, 3], [3, 4]; the largest has 3 pixels, the jump is 5/3
    rf = receptive_field([nn.AdaptiveAvgPool2d(3)], (1, 5, 5))
    assert rf.size == (3, 3) and rf.jump == (float(Fraction(5, 3)),) * 2
    for n, m in [(5, 3), (7, 2), (6, 4), (3, 5), (8, 4)]:  # every unit's region holds its window, PyTorch's rule
        rf = receptive_field([nn.AdaptiveAvgPool1d(m)], (1, n))
        for o in range(m):
            (lo, hi), = rf.region((o,))
            assert lo <= o * n // m and -(-(o + 1) * n // m) - 1 <= hi, (n, m, o)
            if n % m == 0:  # an even split is the window n/m: exactly
                assert (lo, hi) == (o * n // m, (o + 1) * n // m - 1)
    model = nn.Sequential(nn.Conv2d(1, 1, 1), nn.AdaptiveMaxPool2d(3))
    for pos, region in [((0, 1), ((0, 1), (1, 3))), ((2, 2), ((3, 4), (3, 4)))]:
        assert receptive_region(model, (1, 5, 5), position=pos) == region
        assert empirical_receptive_field(model, (1, 5, 5), position=pos) == region


@pytest.mark.parametrize("spec, words", [((0, 1, 0), "kernel_size"), (0, "kernel_size"), ((3, 0), "stride"),
                                         ((3, 1, -1), "padding"), ((3, 1, 0, 0), "dilation"),
                                         (dict(kernel_size=3, stride=-2), "stride")])
def test_impossible_layer_specs_are_refused(spec, words):
    """A spec with a kernel, stride or dilation below 1 (or negative padding) is a ValueError naming
    it; a kernel of 0 gave a field of size 0."""
    with pytest.raises(ValueError, match=words):
        receptive_field([3, spec])


# ----------------------------------------------------------------------------- layers that resample or mix the map


class _Crop(nn.Module):
    """A size-changing leaf numconv does not model (a 'global' layer): drops the first row and column."""

    def forward(self, x):
        return x[:, :, 1:, 1:]


class _FunctionalResize(nn.Module):
    """A resize between two layers in functional code: the spatial shape changes outside any layer."""

    def __init__(self, a, b):
        super().__init__()
        self.a, self.b = a, b

    def forward(self, x):
        return self.b(F.interpolate(self.a(x), scale_factor=2))


def _contains(outer, inner):
    return all(a <= c and d <= b for (a, b), (c, d) in zip(outer, inner))


# (middle layer, channels it takes, channels it gives, whether the walk is exact: every tap reads with a
# non-zero weight; bilinear taps can have weight 0, so the measured region may be smaller)
_MIDDLE = {
    "nearest x2": (lambda rng: nn.Upsample(scale_factor=2), 2, 2, True),
    "nearest to size": (lambda rng: nn.Upsample(size=int(rng.integers(9, 20))), 2, 2, True),
    "nearest x1.5": (lambda rng: nn.Upsample(scale_factor=1.5), 2, 2, True),
    "bilinear": (lambda rng: nn.Upsample(scale_factor=2, mode="bilinear"), 2, 2, False),
    "bilinear corners": (lambda rng: nn.UpsamplingBilinear2d(scale_factor=3), 2, 2, False),
    "area": (lambda rng: nn.Upsample(size=5, mode="area"), 2, 2, True),
    "lppool": (lambda rng: nn.LPPool2d(2, int(rng.integers(2, 4)), int(rng.integers(1, 3))), 2, 2, True),
    "pixel shuffle": (lambda rng: nn.PixelShuffle(2), 4, 1, True),
    "pixel unshuffle": (lambda rng: nn.PixelUnshuffle(2), 1, 4, True),
    "crop (global)": (lambda rng: _Crop(), 2, 2, False),
}


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("middle", list(_MIDDLE))
def test_field_through_resampling_and_unmodelled_layers_contains_the_exact_region(middle, seed):
    """conv -> middle -> conv on a random input size: for random units, the bottom-up field (the
    summary's RF columns) holds the exact top-down region, which holds the measured one (equal to it
    when every tap has a weight). An upsampling layer once gave a field of one pixel off the image."""
    rng = np.random.default_rng(seed)
    make, c_mid, c_out, exact = _MIDDLE[middle]
    k0, s0 = int(rng.integers(1, 4)), int(rng.integers(1, 3))
    n = 2 * int(rng.integers(4, 8)) * s0 + k0 - s0  # an even first output, as PixelUnshuffle(2) needs
    mid = make(rng)
    pad = int(rng.integers(0, 2))
    model = nn.Sequential(nn.Conv2d(1, c_mid, k0, stride=s0), mid, nn.Conv2d(c_out, 1, 3, padding=pad))
    shape = (1, n, n)
    rf = receptive_field(model, shape)
    out = trace(model, shape).output_shape[2:]
    positions = {(0, 0), (out[0] - 1, out[1] - 1)} | {tuple(int(rng.integers(0, m)) for m in out) for _ in range(4)}
    for pos in sorted(positions):
        analytic, walked = rf.region(pos), receptive_region(model, shape, position=pos)
        measured = empirical_receptive_field(model, shape, position=pos)
        assert _contains(analytic, walked) and _contains(walked, measured), (pos, analytic, walked, measured)
        if exact:
            assert walked == measured, pos
        if middle in ("lppool", "pixel unshuffle") and pad == 0:
            # windows: the notes' field is exact (unless a padded layer after them reaches a unit that the
            # window's floor dropped, as in test_dilated_and_padded_layers_measured)
            assert analytic == walked, pos


def test_upsampling_field_is_a_fractional_stride_and_lppool_a_window():
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Upsample(scale_factor=2), nn.Conv2d(1, 1, 3, padding=1))
    rf = receptive_field(model, (1, 8, 8))
    # 3x3 (jump 1) -> nearest x2: output o reads pixel o // 2, jump 1/2, bound o/2 - 1/2 .. o/2: size 3 + 1/2
    # -> 3x3 at jump 1/2: 4.5
    assert rf["1"].jump == (0.5, 0.5) and rf["1"].size == (3.5, 3.5) and rf.size == (4.5, 4.5)
    assert rf.region((2, 2)) == ((0, 3), (0, 3))  # it was ((7, 7), (7, 7)): one pixel, off the exact region
    assert receptive_region(model, (1, 8, 8), position=(2, 2)) == ((0, 2), (0, 2))
    # LPPool is a window like the other pools: the notes' recurrence
    layers = [(3, 1, 1), (3, 2, 1), (3, 1, 1)]
    lp = receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.LPPool2d(2, 3, 2), nn.Conv2d(1, 1, 3)), (1, 20, 20))
    assert lp.size == (notes_recurrence(layers),) * 2 and lp.jump == (2, 2)
    assert lp.region((3, 3)) == ((6, 14), (6, 14))


def test_functional_resize_makes_every_unit_see_the_whole_union():
    model = _FunctionalResize(nn.Conv2d(1, 2, 3, stride=2), nn.Conv2d(2, 1, 3))
    shape = (1, 11, 11)
    rf = receptive_field(model, shape)
    assert rf.jump == (0, 0)  # after the resize every unit sees the same pixels: the union of all fields
    whole = ((0, 10), (0, 10))
    rng = np.random.default_rng(0)
    for pos in [(0, 0), tuple(int(rng.integers(0, n)) for n in trace(model, shape).output_shape[2:])]:
        assert rf.region(pos) == receptive_region(model, shape, position=pos) == whole
        assert _contains(whole, empirical_receptive_field(model, shape, position=pos))


# ----------------------------------------------------------------------------- argument checks


@pytest.mark.parametrize("seed", range(3))
def test_positions_outside_the_output_are_refused_and_inside_all_agree(seed):
    """A unit outside the layer's output (negative, or past its end) is a ValueError naming position in
    every function; NumPy once wrapped -1 to the last unit in one of them and another returned ()."""
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Conv2d(1, 2, int(rng.integers(2, 4)), stride=int(rng.integers(1, 3))), nn.Conv2d(2, 1, 3))
    shape = (1,) + tuple(int(n) for n in rng.integers(10, 16, 2))
    rf = receptive_field(model, shape)
    out = trace(model, shape).output_shape[2:]
    assert rf.output_size == out and rf["0"].output_size == trace(model, shape).calls[0].out_shape[2:]
    inside = tuple(int(rng.integers(0, n)) for n in out)
    assert rf.region(inside) == receptive_region(model, shape, position=inside) \
        == empirical_receptive_field(model, shape, position=inside)
    past = out[0] + int(rng.integers(0, 5))
    for bad in [(-1, inside[1]), (inside[0], out[1]), (past, 0), (-int(rng.integers(1, 9)),) * 2]:
        for fn in (rf.region, lambda p: receptive_region(model, shape, position=p),
                   lambda p: empirical_receptive_field(model, shape, position=p)):
            with pytest.raises(ValueError, match=r"position .*outside"):
                fn(bad)
    with pytest.raises(ValueError, match="position"):
        rf["0"].region((rf["0"].output_size[0], 0))
    with pytest.raises(ValueError, match="position"):
        receptive_field([3, 3]).region((-1, 0))  # sizes unknown: still not negative
    with pytest.raises(TypeError, match="position"):
        receptive_region(model, shape, position=(1.5, 0))
    with pytest.raises(ValueError, match="draws"):
        empirical_receptive_field(model, shape, draws=0)


@pytest.mark.parametrize("seed", range(4))
def test_layer_lists_take_only_possible_input_shapes(seed):
    """receptive_field(list, input_shape) refuses a shape of non-positive or non-integer sizes, and a layer
    whose output would be empty (naming it) exactly where the real convolutions refuse the input."""
    rng = np.random.default_rng(seed)
    with pytest.raises(ValueError, match="input_shape"):
        receptive_field([3], input_shape=(1, -5, 5))
    for bad in [(1, 5.5, 5), (1, True, 5), 5, "1x5x5"]:
        with pytest.raises(TypeError, match="input_shape"):
            receptive_field([3], input_shape=bad)
    model = nn.Sequential(nn.Conv2d(1, 1, 3))
    for fn in (receptive_field, receptive_region, empirical_receptive_field):  # a model's shape, too
        with pytest.raises(TypeError, match="input_shape"):
            fn(model, (1, 9.5, 9))
    specs = [(int(rng.integers(1, 5)), int(rng.integers(1, 3))) for _ in range(4)]
    for n in range(1, 12):
        model = nn.Sequential(*[nn.Conv2d(1, 1, k, stride=s) for k, s in specs])
        try:
            real = model(np.zeros((1, 1, n, n), np.float32)).shape[2:]
        except ValueError:
            real = None
        if real is None:
            with pytest.raises(ValueError, match=r"layer \d \(spec .*no output"):
                receptive_field(specs, input_shape=(1, n, n))
        else:
            assert receptive_field(specs, input_shape=(1, n, n)).output_size == tuple(real)


# ----------------------------------------------------------------------------- every unit against torch


def _layer(kind, *a):
    """A numconv layer (1 channel in and out) of a spec ``(kind, *a)``; ``_torch_op`` is the same layer in torch."""
    if kind == "conv":
        k, s, p, d = a
        return nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False)
    if kind == "maxpool":
        k, s, p, d = a
        return nn.MaxPool2d(k, s, p, d)
    if kind == "adaptive":
        return nn.AdaptiveMaxPool2d(a[0])
    if kind == "area":
        return nn.Upsample(size=a[0], mode="area")
    k, s, p, op, d = a  # transposed
    return nn.ConvTranspose2d(1, 1, k, stride=s, padding=p, output_padding=op, dilation=d, bias=False)


def _torch_op(torch, kind, *a):
    """The torch layer of a spec with all-ones weights: every tap of every window counts, none cancels
    (a max pool, which passes one tap on, as the all-ones sum over its windows)."""
    tf = torch.nn.functional
    if kind in ("conv", "maxpool"):
        k, s, p, d = a
        return lambda x: tf.conv2d(x, torch.ones(1, 1, k, k, dtype=x.dtype), stride=s, padding=p, dilation=d)
    if kind == "adaptive":
        return lambda x: tf.adaptive_avg_pool2d(x, a[0])
    if kind == "area":
        return lambda x: tf.interpolate(x, size=a[0], mode="area")
    k, s, p, op, d = a
    return lambda x: tf.conv_transpose2d(x, torch.ones(1, 1, k, k, dtype=x.dtype), stride=s, padding=p,
                                         output_padding=op, dilation=d)


def torch_regions(torch, specs, n):
    """For the output of every layer of ``specs`` on an n x n image: the exact input region (lo, hi) per
    dimension of every unit (None: no pixel reaches it), from torch. Every pixel's one-hot image goes
    through the all-ones layers at once (a batch of n*n): unit u depends on pixel q iff q's image gives
    u a non-zero value."""
    x = torch.eye(n * n, dtype=torch.float64).reshape(n * n, 1, n, n)
    out = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: on a busy machine, threads waiting for each other stall for seconds
    try:
        for spec in specs:
            x = _torch_op(torch, *spec)(x)
            dep = (x[:, 0] != 0).reshape(n, n, *x.shape[2:]).numpy()  # (pixel row, pixel col, unit row, unit col)
            regions = {}
            for pos in itertools.product(*(range(m) for m in x.shape[2:])):
                rows, cols = (np.nonzero(dep[(slice(None), slice(None)) + pos].any(axis=a))[0] for a in (1, 0))
                regions[pos] = ((rows[0], rows[-1]), (cols[0], cols[-1])) if rows.size else None
            out.append(regions)
    finally:
        torch.set_num_threads(threads)
    return out


def _check_against_torch(torch, specs, n, rng, exact_walk=False):
    """Every unit of every layer: the bottom-up region (the summary's RF/Jump/Start columns, the same
    trace) holds the exact one; for a few units of the last layer receptive_region lies between the
    two (equal to the exact one when ``exact_walk``)."""
    model = nn.Sequential(*[_layer(*spec) for spec in specs])
    shape = (1, n, n)
    rf = receptive_field(model, shape)
    exact = torch_regions(torch, specs, n)
    assert len(rf.layers) == len(exact)
    for row, regions in zip(rf.layers, exact):
        assert row.output_size == tuple(max(p) + 1 for p in zip(*regions))
        for pos, region in regions.items():
            if region is not None:
                assert _contains(row.region(pos, (n, n)), region), (specs, row.name, pos, region)
    units = [pos for pos, region in exact[-1].items() if region is not None]
    for k in rng.choice(len(units), min(3, len(units)), replace=False):
        pos = units[k]
        walked = receptive_region(model, shape, position=pos)
        assert _contains(walked, exact[-1][pos]) and _contains(rf.region(pos), walked), (specs, pos)
        if exact_walk:
            assert walked == exact[-1][pos], (specs, pos)


def test_torch_regions_reference_on_a_known_case(torch):
    # 6x6 -> Conv(k2, s2) -> AdaptivePool(2): unit 1 averages conv outputs 1..2, which read pixels 2..5
    regions = torch_regions(torch, [("conv", 2, 2, 0, 1), ("adaptive", 2)], 6)
    assert regions[1][(1, 1)] == ((2, 5), (2, 5)) and regions[1][(0, 0)] == ((0, 3), (0, 3))


@pytest.mark.parametrize("seed", range(4))
def test_field_after_uneven_adaptive_pooling_holds_every_unit(torch, seed):
    """conv -> adaptive pooling or Upsample(mode='area') to a random size -> conv. The bottom-up field used
    the largest window and the first window's centre: 92 of 630 units missed pixels they read."""
    rng = np.random.default_rng(seed)
    for _ in range(10):
        k0, s0 = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        n = int(rng.integers(6, 15))
        mid = (n - k0) // s0 + 1
        m = int(rng.integers(2, mid + 3))
        specs = [("conv", k0, s0, 0, 1), (str(rng.choice(["adaptive", "area"])), m),
                 ("conv", 3, 1, int(rng.integers(0 if m >= 3 else 1, 2)), 1)]
        _check_against_torch(torch, specs, n, rng, exact_walk=True)


@pytest.mark.parametrize("seed", range(4))
def test_field_after_transposed_convolution_is_an_upper_bound(torch, seed):
    """conv -> transposed conv (random kernel, stride, padding, output padding, dilation) -> conv: every
    unit's bottom-up region holds every pixel that reaches it (the zoo encoder-decoder missed some in
    20 of 48 rows)."""
    rng = np.random.default_rng(seed)
    for _ in range(10):
        k, s, d = int(rng.integers(1, 5)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
        p = int(rng.integers(0, d * (k - 1) + 1))
        op = int(rng.integers(0, max(s, d)))
        n = int(rng.integers(5, 10))
        specs = [("conv", int(rng.integers(1, 4)), int(rng.integers(1, 3)), 1, 1), ("transposed", k, s, p, op, d),
                 ("conv", 3, 1, int(rng.integers(0, 2)), 1)]
        try:
            trace(nn.Sequential(*[_layer(*spec) for spec in specs]), (1, n, n))
        except ValueError:  # an output padding refused, or a map made empty by the padding
            continue
        _check_against_torch(torch, specs, n, rng, exact_walk=d == 1)


@pytest.mark.parametrize("seed", range(4))
def test_region_of_a_dilated_window_clipped_at_the_border_is_exact(torch, seed):
    """A dilated convolution or max pool whose taps straddle the image border, under gap-free layers:
    receptive_region is exact. It clipped the window to the image as a plain interval, counting
    the pixels in the dilation gaps beyond the last tap inside ((23, 28) for (23, 27))."""
    rng = np.random.default_rng(seed)
    for _ in range(6):
        k, d = int(rng.integers(2, 5)), int(rng.integers(2, 4))
        s = int(rng.integers(1, 4))
        kind = str(rng.choice(["conv", "maxpool"]))
        p = int(rng.integers(0, k // 2 + 1 if kind == "maxpool" else d * (k - 1) + 1))
        n = int(rng.integers(d * (k - 1) + 2, 20))
        specs = [(kind, k, s, p, d)]
        for _ in range(int(rng.integers(0, 3))):  # undilated, kernel >= stride: no gaps above
            kk = int(rng.integers(1, 4))
            specs.append(("conv", kk, int(rng.integers(1, kk + 1)), int(rng.integers(0, kk // 2 + 1)), 1))
        try:
            model = nn.Sequential(*[_layer(*spec) for spec in specs])
            trace(model, (1, n, n))
        except ValueError:  # the map became empty
            continue
        _check_against_torch(torch, specs, n, rng, exact_walk=True)


def test_dilated_stack_region_from_the_review(torch):
    """Where gaps lie in the middle the walk is an interval, a superset; this stack is exact now."""
    specs = [("conv", 3, 1, 0, 1), ("conv", 1, 3, 0, 1), ("conv", 5, 3, 2, 1), ("maxpool", 2, 1, 1, 2)]
    exact = torch_regions(torch, specs, 14)[-1][(0, 0)]
    model = nn.Sequential(*[_layer(*spec) for spec in specs])
    assert receptive_region(model, (1, 14, 14), position=(0, 0)) == exact == ((3, 11), (3, 11))
    s, rf = summary(model, (1, 14, 14)), receptive_field(model, (1, 14, 14))  # the summary's columns are these
    assert [(r.rf, r.jump, r.start) for r in s.rows] == [(r.size, r.jump, r.start) for r in rf.layers]


# ----------------------------------------------------------------------------- lists of layers


def test_containers_in_a_list_stand_for_their_layers():
    """[Sequential(conv3, conv3)] was one unknown layer, the identity: a field of (1, 1) for (5, 5)."""
    rng = np.random.default_rng(0)
    k1, k2, s1 = (int(v) for v in rng.integers(1, 5, 3))
    n = int(rng.integers(12, 20))
    block = nn.Sequential(nn.Conv2d(1, 2, k1, stride=s1), nn.ReLU(), nn.Conv2d(2, 1, k2))
    rf = receptive_field([block, nn.ModuleList([nn.MaxPool2d(2)])], (1, n, n))
    assert [row.name for row in rf.layers] == ["0.0", "0.1", "0.2", "1.0"]
    traced = receptive_field(nn.Sequential(*block, nn.MaxPool2d(2)), (1, n, n))
    assert [(r.size, r.jump, r.start) for r in rf.layers] == [(r.size, r.jump, r.start) for r in traced.layers]
    assert rf.size == (notes_recurrence([(k1, s1, 1), (k2, 1, 1), (2, 1, 1)]),) * 2
    pos = tuple(int(rng.integers(0, m)) for m in rf.output_size)
    assert rf.region(pos) == empirical_receptive_field(nn.Sequential(*block, nn.MaxPool2d(2)), (1, n, n), position=pos)
    assert receptive_field_topdown(block)[0] == rf["0.2"].size
    features = models.vgg11().features
    assert receptive_field([features], (3, 64, 64)).size == receptive_field(features, (3, 64, 64)).size == (150, 150)


def test_flatten_and_linear_in_a_list_see_the_whole_map():
    """[conv, Flatten, Linear] gave the conv's 3x3 field: the logits depend on every pixel."""
    rng = np.random.default_rng(1)
    h, w = (int(v) for v in rng.integers(6, 12, 2))
    layers = [nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * (h - 2) * (w - 2), 3), nn.ReLU(), nn.Linear(3, 2)]
    rf = receptive_field(layers, (1, h, w))
    model = nn.Sequential(*layers)
    assert empirical_receptive_field(model, (1, h, w)) == ((0, h - 1), (0, w - 1)) == rf.region((0, 0))
    traced = receptive_field(model, (1, h, w))
    assert [(r.size, r.jump, r.start) for r in rf.layers] == [(r.size, r.jump, r.start) for r in traced.layers]
    with pytest.raises(ValueError, match=r"layer 2 \(Flatten\).*input_shape"):
        receptive_field(layers)  # the whole map's size is needed


@pytest.mark.parametrize("layer, words", [
    (nn.ZeroPad2d(1), r"layer 1 \(ZeroPad2d\)"), (nn.GroupNorm(1, 1), r"layer 1 \(GroupNorm\)"),
    (models.lenet5(), r"layer 1 \(LeNet5\).*submodules"), (_Crop(), r"layer 1 \(_Crop\)"),
])
def test_layers_a_list_cannot_analyse_are_named(layer, words):
    """They were the identity: a custom block or a padding layer left the field unchanged."""
    with pytest.raises(ValueError, match=words):
        receptive_field([nn.Conv2d(1, 1, 3), layer], (1, 28, 28))


def test_list_argument_errors():
    with pytest.raises(ValueError, match=r"layer 1 \(Conv1d\) has 1 spatial dimension.*layer 0 \(Conv2d\) has 2"):
        receptive_field([nn.Conv2d(1, 1, 3), nn.Conv1d(1, 1, 5)])  # it was an IndexError
    with pytest.raises(ValueError, match=r"input_shape \(9, 9\) has 1 spatial dimension.*Conv2d.*\(C, H, W\)"):
        receptive_field([nn.Conv2d(1, 1, 3)], (9, 9))
    with pytest.raises(TypeError, match="list of layers"):
        receptive_field_topdown(models.lenet5())  # 'LeNet5' object is not iterable
    for bad in ("lenet5", [3, 3]):
        with pytest.raises(TypeError, match="model"):
            empirical_receptive_field(bad, (1, 28, 28))
