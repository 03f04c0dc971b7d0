"""numconv.summary: the notes' VGG-16 table (parameters, per-layer activations, memory), the known
parameter counts, MAC formulas, the real graph (residual additions, Inception concatenations) and
the command line."""
from __future__ import annotations

import argparse
import functools

import numpy as np
import pytest

import numconv as nc
from numconv import models, nn
from numconv.models.vgg import cfgs
from numconv.summary import add_cli, summary

# The notes' VGG-16 table (one 224x224 image): every stored layer's output, in order.
NOTES_VGG16 = [
    ("INPUT", 224 * 224 * 3),
    ("CONV3-64", 224 * 224 * 64), ("CONV3-64", 224 * 224 * 64), ("POOL2", 112 * 112 * 64),
    ("CONV3-128", 112 * 112 * 128), ("CONV3-128", 112 * 112 * 128), ("POOL2", 56 * 56 * 128),
    ("CONV3-256", 56 * 56 * 256), ("CONV3-256", 56 * 56 * 256), ("CONV3-256", 56 * 56 * 256), ("POOL2", 28 * 28 * 256),
    ("CONV3-512", 28 * 28 * 512), ("CONV3-512", 28 * 28 * 512), ("CONV3-512", 28 * 28 * 512), ("POOL2", 14 * 14 * 512),
    ("CONV3-512", 14 * 14 * 512), ("CONV3-512", 14 * 14 * 512), ("CONV3-512", 14 * 14 * 512), ("POOL2", 7 * 7 * 512),
    ("FC", 4096), ("FC", 4096), ("FC", 1000),
]
# ... and its weights column (no biases): conv (3*3*C_in)*C_out, FC in*out.
NOTES_VGG16_WEIGHTS = [1_728, 36_864, 73_728, 147_456, 294_912, 589_824, 589_824, 1_179_648, 2_359_296, 2_359_296,
                       2_359_296, 2_359_296, 2_359_296, 102_760_448, 16_777_216, 4_096_000]


@functools.lru_cache(maxsize=None)
def vgg16_summary():
    m = models.vgg16(init_weights=False)  # the counts do not depend on the initialization
    return m, summary(m, (3, 224, 224))


def test_vgg16_reproduces_the_notes_table():
    m, s = vgg16_summary()
    assert s.total_params == 138_357_544 == s.trainable_params
    assert s.input_activations == 224 * 224 * 3 == 150_528
    assert s["features.0"].activations == 3_211_264 and s["features.0"].output_shape == (1, 64, 224, 224)
    # The stored rows are the notes' rows, in order, plus torchvision's AdaptiveAvgPool2d(7) (25,088).
    stored = [r for r in s.rows if r.stored]
    assert [r.activations for r in stored if r.type != "AdaptiveAvgPool2d"] == [n for _, n in NOTES_VGG16[1:]]
    assert [r.type for r in stored if r.type == "AdaptiveAvgPool2d"] == ["AdaptiveAvgPool2d"]
    assert s["avgpool"].activations == 25_088
    notes_total = sum(n for _, n in NOTES_VGG16)
    assert notes_total == 15_237_608  # the sum of the notes' rows (their "24M" total is an arithmetic slip)
    assert s.forward_activations == notes_total + 25_088
    assert s.forward_bytes == 4 * s.forward_activations and s.train_bytes == 2 * s.forward_bytes
    # ReLUs and dropouts are in-place (folded into the layer before, as the notes' table does)
    assert all(not r.stored for r in s.rows if r.type in ("ReLU", "Dropout"))
    # weights per layer, as in the notes (parameters minus biases); most of them in the first FC
    weighted = [r for r in s.rows if r.params]
    bias = [r.output_shape[1] for r in weighted]
    assert [r.params - b for r, b in zip(weighted, bias)] == NOTES_VGG16_WEIGHTS
    assert s["classifier.0"].params - 4096 == 7 * 7 * 512 * 4096 == 102_760_448
    # parameters + optimizer state (float32): SGD momentum 2x, Adam 3x the parameter memory
    assert s.param_bytes == 4 * 138_357_544 == s.grad_bytes
    assert s.sgd_momentum_bytes == 2 * s.param_bytes and s.adam_bytes == 3 * s.param_bytes


def test_vgg16_macs_and_receptive_fields():
    _, s = vgg16_summary()
    # MACs from the formula H_out*W_out*C_in*C_out*k*k, layer by layer, independently of numconv
    size, c_in, expected = 224, 3, 0
    for v in cfgs["D"]:
        if v == "M":
            size //= 2
        else:
            expected += size * size * c_in * v * 9
            c_in = v
    expected += 7 * 7 * 512 * 4096 + 4096 * 4096 + 4096 * 1000
    assert s.total_macs == expected == 15_470_264_320  # torchvision quotes 15.47 GFLOPS (MACs)
    assert s["features.0"].macs == 224 * 224 * 64 * 3 * 9
    # receptive fields: 3, 5, 6 (pool), ..., conv5_3 196, pool5 212 (jump 32)
    assert s["features.0"].rf == (3, 3) and s["features.2"].rf == (5, 5) and s["features.4"].rf == (6, 6)
    assert s["features.28"].rf == (196, 196) and s["features.30"].rf == (212, 212)
    assert s["features.30"].jump == (32, 32) and s["features.30"].start == (15.5, 15.5)
    # the classifier sees the union of all 7x7 units: 212 + 6*32 = 404 pixels
    assert s["classifier.0"].rf == (404, 404) and s.rf == (404, 404)


def test_counting_relu_and_dropout_outputs_too():
    m, _ = vgg16_summary()
    s = summary(m, (3, 224, 224), inplace_activations=False)
    relu = sum(r.activations for r in s.rows if r.type == "ReLU")
    assert relu == 13_547_520 + 2 * 4096
    # the classifier's two Dropout(4096) rows: a new tensor each in training (the trace runs in eval mode)
    assert [r.activations for r in s.rows if r.type == "Dropout" and r.stored] == [4096, 4096]
    assert s.forward_activations == 15_262_696 + relu + 2 * 4096 == 28_826_600


@pytest.mark.parametrize("name, shape, count", [
    ("lenet5", (1, 28, 28), 61_706), ("alexnet", (3, 63, 63), 61_100_840), ("resnet18", (3, 32, 32), 11_689_512),
    ("resnet50", (3, 32, 32), 25_557_032), ("googlenet", (3, 32, 32), 6_624_904),
])
def test_known_parameter_counts(name, shape, count):
    m = models.get_model(name)
    s = summary(m, shape)
    assert s.total_params == count
    assert sum(r.params for r in s.rows) == count  # every parameter is in exactly one row
    assert sum(r.trainable for r in s.rows) == count


@pytest.mark.parametrize("name, gmacs", [("alexnet", 0.71), ("resnet18", 1.81)])
def test_macs_match_torchvision_published_figures(name, gmacs):
    s = summary(models.get_model(name), (3, 224, 224))
    assert round(s.total_macs / 1e9, 2) == gmacs


def test_mac_formulas_for_each_layer_type():
    net = nn.Sequential(
        nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2),   # 6 x 8 x 8 out, C_in/groups = 2
        nn.ConvTranspose2d(6, 9, 3, stride=2, groups=3),                # in 6 x 8 x 8, C_out/groups = 3
        nn.Conv2d(9, 5, 3, dilation=2, bias=False),
        nn.BatchNorm2d(5), nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(5 * 3 * 3, 7),
    )
    s = summary(net, (4, 16, 16), batch_size=3)
    rows = {r.name: r for r in s.rows}
    assert rows["0"].output_shape == (3, 6, 8, 8) and rows["0"].macs == 3 * 6 * 8 * 8 * 2 * 9
    assert rows["1"].output_shape == (3, 9, 17, 17) and rows["1"].macs == 3 * 6 * 8 * 8 * 3 * 9
    assert rows["2"].output_shape == (3, 5, 13, 13) and rows["2"].macs == 3 * 5 * 13 * 13 * 9 * 9
    assert all(rows[k].macs == 0 for k in ("3", "4", "5", "6", "7"))
    assert rows["8"].macs == 3 * 45 * 7  # batch * in * out
    assert s.total_macs == sum(r.macs for r in s.rows)
    assert rows["7"].type == "Flatten" and not rows["7"].stored  # a view


def test_notes_bottleneck_exercise():
    """3x3 conv 256->256 on 100x100 vs a 1x1 reduction to 64 first: 5.9G vs 1.6G multiply-adds."""
    direct = summary(nn.Conv2d(256, 256, 3, padding=1, bias=False), (256, 100, 100))
    bottleneck = summary(nn.Sequential(nn.Conv2d(256, 64, 1, bias=False), nn.Conv2d(64, 256, 3, padding=1, bias=False)),
                         (256, 100, 100))
    assert direct.total_macs == 100 * 100 * 256 * 256 * 9 == 5_898_240_000
    assert bottleneck.total_macs == 100 * 100 * 256 * 64 + 100 * 100 * 64 * 256 * 9 == 1_638_400_000
    assert 3.5 < direct.total_macs / bottleneck.total_macs < 4
    assert direct.rows[0].name == "Conv2d"  # a model that is itself a leaf gets its type as its name


def test_batch_size_scales_activations_and_macs():
    m = models.lenet5()
    one, four = summary(m, (1, 28, 28)), summary(m, (1, 28, 28), batch_size=4)
    assert four.input_shape == (4, 1, 28, 28) and four.output_shape == (4, 10)
    for a, b in zip(one.rows, four.rows):
        assert b.activations == 4 * a.activations and b.macs == 4 * a.macs and b.params == a.params
        assert b.output_shape == (4,) + a.output_shape[1:]
    assert four.forward_activations == 4 * one.forward_activations
    assert four.param_bytes == one.param_bytes


def test_trainable_frozen_buffers_and_dtype():
    m = models.resnet18_cifar()
    for p in m.layer1.parameters():
        p.requires_grad_(False)
    s = summary(m, (3, 16, 16))
    frozen = sum(p.numel() for p in m.layer1.parameters())
    assert s.non_trainable_params == frozen and s.trainable_params == 11_173_962 - frozen
    assert sum(r.non_trainable for r in s.rows) == frozen
    assert s.buffers == sum(b.numel() for b in m.buffers() if b.dtype.kind == "f")  # running mean and var
    assert s.buffers == 2 * sum(r.output_shape[1] for r in s.rows if r.type == "BatchNorm2d")
    assert s.grad_bytes == 4 * s.trainable_params
    s64 = summary(m, (3, 16, 16), dtype=np.float64)
    assert s64.param_bytes == 2 * s.param_bytes and s64.forward_bytes == 2 * s.forward_bytes


def test_residual_additions_are_followed():
    s = summary(models.resnet18(), (3, 64, 64))
    names = [r.name for r in s.rows]
    idx = {n: i for i, n in enumerate(names)}
    # the shared relu runs twice per block: two rows, parameters (none) counted once
    assert "layer1.0.relu#2" in idx
    # relu(bn2(...) + identity): fed by bn2 and by the block's input (the max pool), through the addition
    assert s["layer1.0.relu#2"].parents == tuple(sorted((idx["layer1.0.bn2"], idx["maxpool"])))
    assert s["layer2.0.relu#2"].parents == tuple(sorted((idx["layer2.0.bn2"], idx["layer2.0.downsample.1"])))
    # where the branches meet the field is the larger one (both centred alike)
    assert s["layer2.0.downsample.1"].rf == (43, 43) and s["layer2.0.bn2"].rf == (67, 67)
    assert s["layer2.0.relu#2"].rf == (67, 67)
    assert s["layer4.1.relu#2"].rf == (435, 435) and s["layer4.1.relu#2"].jump == (32, 32)  # ResNet-18's 435
    assert s["fc"].parents == (idx["avgpool"],)  # through flatten


def test_inception_concatenations_are_followed():
    s = summary(models.googlenet(), (3, 32, 32))
    idx = {r.name: i for i, r in enumerate(s.rows)}
    ends = [idx[f"inception3a.{b}"] for b in ("branch1.bn", "branch2.1.bn", "branch3.1.bn", "branch4.1.bn")]
    # the next block's first layers read the concatenation of the four branches (after F.relu)
    assert s["inception3b.branch1.conv"].parents == tuple(sorted(ends))
    assert s["inception3b.branch1.conv"].input_shape == (1, 256, 4, 4)  # 64 + 128 + 32 + 32 channels
    # the concatenation's field is the largest branch's: 1x1 -> 3x3 -> 3x3 branches
    assert s["inception3b.branch1.conv"].rf == max(s.rows[i].rf for i in ends)
    assert s["inception3a.branch1.conv"].rf < s["inception3a.branch3.1.conv"].rf


def test_model_is_left_as_it_was():
    m = models.resnet18_cifar()
    m.train()
    before = {k: v.copy() for k, v in m.state_dict().items()}
    summary(m, (3, 8, 8))
    assert m.training and all(x.training for x in m.modules())
    assert all("forward" not in x.__dict__ for x in m.modules())
    after = m.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)  # BatchNorm statistics untouched (eval pass)


def test_table_and_errors():
    s = summary(models.lenet5(), (1, 28, 28))
    text = str(s)
    assert "features.0" in text and "Conv2d" in text and "61,706" in text and "Adam" in text
    assert text == s.table()
    assert len(s) == 11 and s[0].name == "features.0" and [r.name for r in s][-1] == "classifier.4"
    with pytest.raises(KeyError):
        s["nope"]
    with pytest.raises(ValueError, match="batch_size"):
        summary(models.lenet5(), (1, 28, 28), batch_size=0)
    with pytest.raises(ValueError, match="input_shape"):
        summary(models.lenet5(), (1, 0, 28))
    with pytest.raises(TypeError):
        summary(lambda x: x, (1, 28, 28))


def _reads(maps, o):
    """Brute force along one dimension: the input pixels that unit ``o`` of the last map reads, each map
    a function from one of its units to the units of the map before it that it reads."""
    units = {o}
    for m in reversed(maps):
        units = {i for u in units for i in m(u)}
    return units


@pytest.mark.parametrize("seed", range(3))
def test_receptive_field_columns_through_upsampling_and_lp_pooling(seed):
    """Every unit's field from a row's RF, Jump and Start holds the pixels it reads (the padding's too,
    as the notes count them), by brute force through the index maps, and is at most one input pixel
    wider. Upsample and LPPool were 'global' layers: a jump of 8 placed a unit's field off the image."""
    rng = np.random.default_rng(seed)
    h, w = (int(n) for n in rng.integers(6, 12, 2))
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Upsample(scale_factor=2), nn.Conv2d(2, 2, 3),
                          nn.LPPool2d(2, 2))
    s = summary(model, (1, h, w))
    for dim in (0, 1):
        maps = []
        for row, read in zip(s.rows, [lambda u: range(u - 1, u + 2),                          # 3x3, padding 1
                                      lambda u: [u // 2],                                      # nearest x2
                                      lambda u: range(u, u + 3),                               # 3x3
                                      lambda u: [2 * u, 2 * u + 1]]):                          # LP pool 2
            maps.append(read)
            r, j, c0 = row.rf[dim], row.jump[dim], row.start[dim]
            for o in range(row.output_shape[2 + dim]):
                pixels = _reads(maps, o)
                lo, hi = c0 + o * j - (r - 1) / 2, c0 + o * j + (r - 1) / 2
                assert lo <= min(pixels) and max(pixels) <= hi, (row.name, o)
                assert hi - lo <= max(pixels) - min(pixels) + 1
    assert s.rows[3].jump == (1, 1) and s.rf == s.rows[3].rf  # LPPool: a window of stride 2 at jump 1/2


def test_input_shape_must_be_a_tuple_of_positive_ints():
    """A float size was truncated ((1, 5.9, 5.2) ran as 5x5); a bare int failed with 'int' object is not iterable."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3))
    for bad in [(1, 5.9, 5.2), (1, 6.0, 6), (1, True, 6), (np.float64(1), 6, 6), 6, None]:
        with pytest.raises(TypeError, match="input_shape"):
            summary(model, bad)
    with pytest.raises(ValueError, match="input_shape"):
        summary(model, (1, 6, -6))
    n, m = (int(v) for v in np.random.default_rng(0).integers(3, 20, 2))
    s = summary(model, [np.int64(1), np.int32(n), m])  # NumPy integers and lists are fine
    assert s.input_shape == (1, 1, n, m) and s.output_shape == (1, 2, n - 2, m - 2)


def test_cli(capsys):
    parser = argparse.ArgumentParser(prog="numconv")
    add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["summary", "--model", "lenet5", "--batch-size", "2"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "61,706" in out and "[2, 10]" in out
    args = parser.parse_args(["summary", "--model", "nin", "--input-shape", "3", "16", "16"])
    assert args.func(args) == 0
    assert "[1, 3, 16, 16]" in capsys.readouterr().out


@pytest.mark.parametrize("seed", range(2))
def test_input_shape_without_its_channel_dimension_is_refused_before_any_layer_runs(seed):
    """summary(net, (28, 28)) traced a (1, 28, 28) sample, which Conv2d reads as one unbatched image: rows
    without channels, 1-d fields, batch_size scaling the channel axis; or an error from a later layer that
    did not name input_shape. Now a ValueError naming input_shape, the first layer and the shape given."""
    rng = np.random.default_rng(seed)
    c, h, w = int(rng.integers(1, 4)), int(rng.integers(9, 16)), int(rng.integers(9, 16))
    net = nn.Sequential(nn.Conv2d(c, 4, 3), nn.ReLU(), nn.Conv2d(4, 8, 3, stride=2))
    ran = []
    handle = net[0].register_forward_hook(lambda *a: ran.append(1))
    from numconv.receptive_field import empirical_receptive_field, receptive_field, receptive_region

    for bad, words in [((h, w), r"input_shape must be .*\(C, H, W\).*layer 0 \(Conv2d: %d input channel.*got \(%d, %d\)"
                        % (c, h, w)),
                       ((1, c, h, w), r"input_shape .*batch dimension"),
                       ((c + 1, h, w), r"input_shape \(%d, %d, %d\) has %d channel.*takes %d" % (c + 1, h, w, c + 1, c))]:
        for fn in (summary, receptive_field, receptive_region, empirical_receptive_field):
            with pytest.raises(ValueError, match=words):
                fn(net, bad)
    assert not ran  # refused before the first layer ran
    handle.remove()
    # the right shape, batched as the table says: (N, 8, h', w') with h' = (h - 2 - 3) // 2 + 1
    s = summary(net, (c, h, w), batch_size=8)
    assert s.output_shape == (8, 8, (h - 5) // 2 + 1, (w - 5) // 2 + 1) and s.rf == (5, 5)
    with pytest.raises(ValueError, match=r"input_shape must be .*features\.0 \(Conv2d.*got \(28, 28\)"):
        summary(models.lenet5(), (28, 28))  # it failed in the first Linear, in_features=400
    # layers whose unbatched form is one sample: a Conv1d's (C, L), a Linear's (in_features,)
    assert summary(nn.Sequential(nn.Conv1d(c, 2, 3)), (c, h)).output_shape == (1, 2, h - 2)
    assert summary(nn.Sequential(nn.Linear(h, 3)), (h,)).output_shape == (1, 3)
    with pytest.raises(ValueError, match=r"input_shape \(%d, %d\) does not fit .*in_features=%d" % (h, w, h)):
        summary(nn.Sequential(nn.Linear(h, 3)), (h, w))


def test_cli_names_input_shape():
    parser = argparse.ArgumentParser(prog="numconv")
    add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["summary", "--model", "lenet5", "--input-shape", "28", "28"])
    with pytest.raises(ValueError, match=r"input_shape .*got \(28, 28\)"):
        args.func(args)


def test_optimizer_state_counts_only_trainable_parameters_as_torch_keeps_it(torch):
    """SGD momentum and Adam keep state for the parameters that get a gradient: torch.optim's state after
    one step, in bytes, against the summary's (it was 2x and 3x every parameter, frozen ones too)."""
    rng = np.random.default_rng(0)
    layers = lambda mod: [mod.Conv2d(3, 4, 3), mod.ReLU(), mod.BatchNorm2d(4), mod.Conv2d(4, 6, 3, stride=2),
                          mod.Flatten(), mod.Linear(6 * 3 * 3, 5)]
    net, ref = nn.Sequential(*layers(nn)), torch.nn.Sequential(*layers(torch.nn))
    frozen = rng.random(len(list(net.parameters()))) < 0.5
    for p, q, f in zip(net.parameters(), ref.parameters(), frozen):
        p.requires_grad_(not f)
        q.requires_grad_(not f)
    s = summary(net, (3, 9, 9))
    x = torch.randn(2, 3, 9, 9)
    for opt, got in ((torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9), s.sgd_momentum_bytes),
                     (torch.optim.Adam(ref.parameters()), s.adam_bytes)):
        opt.zero_grad()
        ref(x).sum().backward()
        opt.step()
        state = sum(v.numel() * v.element_size() for st in opt.state.values() for v in st.values()
                    if torch.is_tensor(v) and v.dim() > 0)  # Adam's step counter is a scalar
        params = sum(q.numel() * q.element_size() for q in ref.parameters())
        assert got == params + state and s.param_bytes == params
    assert s.grad_bytes == sum(q.numel() * 4 for q in ref.parameters() if q.requires_grad)


def test_dtype_and_inplace_activations_are_checked():
    """dtype='U' gave 0 bytes, object and int8 were taken; inplace_activations='no' meant True."""
    m = models.lenet5()
    for bad in ("U", object, np.int8, np.float16, "float16", 3):
        with pytest.raises(TypeError, match="dtype"):
            summary(m, (1, 28, 28), dtype=bad)
    for bad in ("no", 0, None):
        with pytest.raises(TypeError, match="inplace_activations"):
            summary(m, (1, 28, 28), inplace_activations=bad)
    s32, s64 = summary(m, (1, 28, 28), dtype="float32"), summary(m, (1, 28, 28), dtype=np.float64)
    assert s64.forward_bytes == 2 * s32.forward_bytes == 8 * s32.forward_activations
    assert s64.dtype == "float64"


def test_tied_parameters_are_in_one_row():
    """A weight shared by two layers was in both rows (64 + 64) while the total said 64."""
    rng = np.random.default_rng(1)
    c, k = (int(v) for v in rng.integers(2, 5, 2))
    a, b = nn.Conv2d(c, c, k, padding="same"), nn.Conv2d(c, c, k, padding="same", bias=False)
    b.weight = a.weight
    s = summary(nn.Sequential(a, nn.ReLU(), b), (c, 8, 8))
    shared = c * c * k * k
    assert s.total_params == shared + c  # the weight once, and a's bias
    assert [r.params for r in s.rows] == [shared + c, 0, 0] and sum(r.params for r in s.rows) == s.total_params
