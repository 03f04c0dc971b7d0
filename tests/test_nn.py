"""numconv.nn: Module bookkeeping, state_dict, init, repr, and every layer's forward and gradients
against torch.nn on random inputs (float64, so the comparison is tight)."""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest

import numconv as nc
from numconv import nn
from conftest import assert_close, torch_or_fail


def nc_tensor(a, requires_grad=False):
    return nc.Tensor(np.array(a, copy=True), requires_grad=requires_grad)


def load_from_torch(nc_mod, t_mod):
    """torch -> numconv through {k: v.numpy()}, as a user would convert a checkpoint."""
    return nc_mod.load_state_dict({k: v.detach().numpy() for k, v in t_mod.state_dict().items()})


# ============================================================================= Module bookkeeping


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(3)
        self.register_buffer("scratch", np.zeros(2, np.float32), persistent=False)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 5))
        self.scale = nn.Parameter(np.ones(1, np.float32))

    def forward(self, x):
        return self.head(nc.F.relu(self.bn(self.conv(x)))) * self.scale


def test_registration_and_traversal():
    m = Block()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "conv.weight", "bn.weight", "bn.bias", "head.1.weight", "head.1.bias"]
    assert len(list(m.parameters())) == 6 and len(list(m.parameters(recurse=False))) == 1
    assert [n for n, _ in m.named_buffers()] == ["scratch", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert [n for n, _ in m.named_children()] == ["conv", "bn", "head"]
    assert [n for n, _ in m.named_modules()] == ["", "conv", "bn", "head", "head.0", "head.1"]
    assert m.get_submodule("head.1") is m.head[1]
    # state_dict: parameters then persistent buffers of each module, children after; no 'scratch'
    assert list(m.state_dict()) == ["scale", "conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                                    "bn.num_batches_tracked", "head.1.weight", "head.1.bias"]
    assert all(isinstance(v, np.ndarray) for v in m.state_dict().values())
    # a state_dict is a copy
    sd = m.state_dict()
    sd["scale"][...] = 7
    assert m.scale.numpy()[0] == 1
    # attributes: None parameters, reassignments, deletion
    m.conv.bias = None
    with pytest.raises(TypeError, match="Parameter or None"):
        m.conv.weight = np.zeros((3, 2, 3, 3))
    del m.scale
    assert "scale" not in dict(m.named_parameters())
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = m.nope


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # torch keeps both keys


def test_train_eval_zero_grad_and_to():
    m = Block()
    assert all(mod.training for mod in m.modules())
    assert m.eval() is m and not any(mod.training for mod in m.modules())
    m.train()
    assert m.head[1].training
    for p in m.parameters():
        p.grad = nc.Tensor(np.ones(p.shape, p.dtype))
    m.zero_grad(set_to_none=False)
    assert all(float(np.abs(p.grad.numpy()).sum()) == 0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    assert m.to("cpu") is m
    with pytest.raises(NotImplementedError, match="CUDA"):
        m.to("cuda")
    with pytest.raises(NotImplementedError, match="CUDA"):
        m.cuda()
    with pytest.raises(NotImplementedError, match="CUDA"):
        nn.Linear(2, 2, device="cuda:0")
    w = m.conv.weight
    m.to(np.float64)
    assert m.conv.weight is w and w.dtype == np.float64 and m.bn.running_mean.dtype == np.float64
    assert m.bn.num_batches_tracked.dtype == np.int64
    with pytest.raises(ValueError, match="unknown device 'tpu'"):  # a device name, not a dtype
        m.to("tpu")


def test_sequential_and_module_list():
    a, b, c = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    s = nn.Sequential(a, b)
    assert len(s) == 2 and s[0] is a and s[-1] is b and list(s) == [a, b]
    s.append(c)
    assert s[2] is c and [n for n, _ in s.named_children()] == ["0", "1", "2"]
    assert isinstance(s[1:], nn.Sequential) and list(s[1:]) == [b, c]
    del s[0]
    assert list(s) == [b, c] and [n for n, _ in s.named_children()] == ["0", "1"]
    with pytest.raises(IndexError, match="out of range"):
        s[5]
    named = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 1, 1), act=nn.ReLU()))
    assert list(named.state_dict()) == ["conv.weight", "conv.bias"]
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.Linear(2, 1))
    assert len(ml) == 4 and list(ml.state_dict())[-1] == "3.bias"
    x = nc_tensor(np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32))
    for layer in ml[:3]:
        x = layer(x)
    assert x.shape == (4, 2)


def test_replacing_a_child_or_parameter_keeps_its_place():
    """``s[0] = new``, ``m.weight = Parameter(...)`` and tying weights replace in place, as PyTorch does:
    a replaced first layer used to move to the end, so the Sequential ran its layers out of order."""
    torch = torch_or_fail()
    for lib in (nn, torch.nn):
        s = lib.Sequential(lib.Linear(2, 3), lib.ReLU(), lib.Linear(3, 4))
        s[0] = lib.Linear(2, 3)
        assert [n for n, _ in s.named_children()] == ["0", "1", "2"]
        assert [type(m).__name__ for m in s] == ["Linear", "ReLU", "Linear"]
        lin = lib.Linear(2, 3)
        lin.weight = type(lin.weight)(lin.weight.detach() if lib is torch.nn else lin.weight.numpy())
        assert list(lin.state_dict()) == ["weight", "bias"]
        a, b = lib.Linear(2, 2), lib.Linear(2, 2)
        pair = lib.Sequential(a, b)
        b.weight = a.weight
        assert [n for n, _ in pair.named_parameters(remove_duplicate=False)] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    s = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 4))
    s[0] = nn.Linear(2, 3)
    assert s(nc_tensor(np.ones((1, 2), np.float32))).shape == (1, 4)


def test_register_over_another_kind_of_attribute_is_refused():
    """As PyTorch: register_parameter/buffer/add_module over a plain attribute, or over another kind
    of entry, is a KeyError; assignment replaces (and keeps the position)."""
    m = nn.Linear(2, 2)
    m.scale = 3.0
    with pytest.raises(KeyError, match="scale"):
        m.register_parameter("scale", nn.Parameter(np.ones(1, np.float32)))
    with pytest.raises(KeyError, match="weight"):
        m.register_buffer("weight", np.ones(1, np.float32))
    with pytest.raises(KeyError, match="bias"):
        m.add_module("bias", nn.ReLU())
    m.register_buffer("stat", np.zeros(2, np.float32), persistent=False)
    m.register_buffer("stat", np.ones(2, np.float32))  # re-registered as persistent
    assert "stat" in m.state_dict()


def test_insert_iadd_and_module_dict_as_torch():
    torch = torch_or_fail()
    for lib in (nn, torch.nn):
        s = lib.Sequential(lib.ReLU())
        with pytest.raises(IndexError):
            s.insert(3, lib.Tanh())
        s.insert(-1, lib.Tanh())
        s.insert(2, lib.Sigmoid())
        assert [type(m).__name__ for m in s] == ["Tanh", "ReLU", "Sigmoid"]
        ml = lib.ModuleList([lib.ReLU()])
        ml += [lib.Tanh()]
        assert len(ml) == 2
        d = lib.ModuleDict({"conv": lib.Conv2d(1, 2, 3), "act": lib.ReLU()})
        d["head"] = lib.Linear(2, 3)
        d.update([("act", lib.Tanh())])
        assert list(d) == ["conv", "act", "head"] and isinstance(d["act"], lib.Tanh)
        assert list(d.state_dict()) == ["conv.weight", "conv.bias", "head.weight", "head.bias"]
        assert "head" in d and len(d) == 3
        assert isinstance(d.pop("conv"), lib.Conv2d) and list(d.keys()) == ["act", "head"]
    with pytest.raises(TypeError, match="pairs"):
        nn.ModuleDict([nn.ReLU()])
    with pytest.raises(TypeError, match="strings"):
        nn.ModuleDict({1: nn.ReLU()})


def test_found_by_review_module_machinery_as_torch():
    """A nested child's own train() runs (a frozen norm stays frozen); a failed insert changes
    nothing, and a named Sequential refuses one; PReLU resets; a number is not a buffer."""
    class Frozen(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)

        def train(self, mode=True):
            super().train(mode)
            self.bn.eval()
            return self

    net = nn.Sequential(nn.Sequential(Frozen()), nn.ReLU())
    net.train()
    assert net.training and net[0].training and net[0][0].conv.training and not net[0][0].bn.training
    net.eval()
    assert not any(m.training for m in net.modules())

    seq = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.ReLU())
    with pytest.raises(TypeError, match="int is not a Module"):
        seq.insert(1, 5)
    assert len(seq) == 3 and list(seq._modules) == ["0", "1", "2"]
    named = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 1, 1), act=nn.ReLU()))
    with pytest.raises(KeyError, match="named children"):
        named.insert(0, nn.ReLU())
    assert list(named.state_dict()) == ["conv.weight", "conv.bias"]

    p = nn.PReLU(3, init=0.1)
    p.weight.data[...] = 5.0
    p.reset_parameters()
    np.testing.assert_array_equal(p.weight.numpy(), np.full(3, 0.1, np.float32))

    bn = nn.BatchNorm2d(2)
    with pytest.raises(TypeError, match="cannot assign int as buffer 'running_mean'"):
        bn.running_mean = 5
    with pytest.raises(TypeError, match="as buffer 'extra'"):
        bn.register_buffer("extra", [1.0, 2.0])
    bn.running_mean = np.ones(2, np.float32)  # an array is still welcome
    assert isinstance(bn.running_mean, nc.Tensor)


def test_load_state_dict_counters_and_bfloat16_as_torch(torch):
    """A (1,) num_batches_tracked of older checkpoints loads; only a batch norm's counter may be
    missing; a bfloat16 state_dict loads, widened to float32 as torch does."""
    bn = nn.BatchNorm1d(3)
    sd = bn.state_dict()
    sd["num_batches_tracked"] = np.array([7])
    bn.load_state_dict(sd)
    assert int(bn.num_batches_tracked.item()) == 7 and bn.num_batches_tracked.shape == ()

    class Counting(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("num_batches_tracked", nc.Tensor(np.array(0, np.int64)))

    with pytest.raises(ValueError, match="missing keys .*num_batches_tracked"):
        Counting().load_state_dict({})
    lin, tlin = nn.Linear(3, 2), torch.nn.Linear(3, 2).to(torch.bfloat16)
    lin.load_state_dict(tlin.state_dict())
    np.testing.assert_array_equal(lin.weight.numpy(), tlin.weight.float().detach().numpy())


def test_trunc_normal_in_tails_and_narrow_intervals(rng):
    """Redrawing values outside [a, b] takes forever where [a, b] holds little mass: those draw
    the inverse CDF instead. The draws stay inside, and their mean is the truncated normal's."""
    from statistics import NormalDist

    w = nn.Parameter(np.zeros((100, 100), np.float64))
    N = NormalDist()
    for a, b in [(4.5, 5.0), (0.0, 1e-5), (6.0, 7.0), (-7.0, -6.0), (-0.5, 1.0), (-2.0, 2.0)]:
        nn.init.trunc_normal_(w, 0.0, 1.0, a, b)
        v = w.numpy()
        assert v.min() >= a and v.max() <= b
        mass = N.cdf(b) - N.cdf(a) if b < 3 else N.cdf(-a) - N.cdf(-b)
        mean = (N.pdf(a) - N.pdf(b)) / mass  # the truncated standard normal's mean
        assert v.mean() == pytest.approx(mean, abs=5 * (b - a) / math.sqrt(12 * v.size) + 1e-9), (a, b)
    with pytest.raises(ValueError, match="no mass in float64"):
        nn.init.trunc_normal_(w, 0.0, 1.0, 40.0, 41.0)
    nn.init.trunc_normal_(w, 0.0, 1.0, 0.0, 1e-17)  # narrower than the CDF's resolution: uniform, not refused
    assert w.numpy().min() >= 0.0 and w.numpy().max() <= 1e-17 and np.unique(w.numpy()).size > 100
    scalar = nn.Parameter(np.zeros((), np.float32))
    nn.init.trunc_normal_(scalar, 0.0, 1.0, 3.0, 4.0)  # a 0-d tensor through the inverse CDF
    assert 3.0 <= float(scalar.item()) <= 4.0


def test_module_repr_matches_torch():
    torch = torch_or_fail()
    tn = torch.nn
    t = tn.Sequential(
        tn.Conv2d(1, 6, 5, padding=2), tn.ReLU(inplace=True), tn.MaxPool2d(2, 2),
        tn.Conv2d(6, 16, (3, 5), stride=2, dilation=(1, 2), groups=2, bias=False, padding_mode="reflect"),
        tn.BatchNorm2d(16), tn.Dropout(0.3), tn.AdaptiveAvgPool2d((1, 1)), tn.Flatten(), tn.Linear(16, 10),
        tn.Sequential(tn.Sigmoid(), tn.Tanh(), tn.Softmax(dim=1), tn.LogSoftmax(dim=1), tn.Identity()),
        tn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), tn.Conv1d(2, 3, 3, padding="same"),
        tn.AvgPool2d(3, stride=2, padding=1), tn.MaxUnpool2d(2), tn.BatchNorm1d(4, affine=False, momentum=None),
        tn.BatchNorm2d(2, bias=False),
    )
    m = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, (3, 5), stride=2, dilation=(1, 2), groups=2, bias=False, padding_mode="reflect"),
        nn.BatchNorm2d(16), nn.Dropout(0.3), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(16, 10),
        nn.Sequential(nn.Sigmoid(), nn.Tanh(), nn.Softmax(dim=1), nn.LogSoftmax(dim=1), nn.Identity()),
        nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), nn.Conv1d(2, 3, 3, padding="same"),
        nn.AvgPool2d(3, stride=2, padding=1), nn.MaxUnpool2d(2), nn.BatchNorm1d(4, affine=False, momentum=None),
        nn.BatchNorm2d(2, bias=False),
    )
    assert repr(m) == repr(t)
    pads = [(kind, nd, 2 if nd == 1 else (1, 2) * nd) for kind in ("Zero", "Reflection", "Replication", "Circular")
            for nd in (1, 2, 3)]
    for kind, nd, padding in pads:
        assert repr(getattr(nn, f"{kind}Pad{nd}d")(padding)) == repr(getattr(tn, f"{kind}Pad{nd}d")(padding))
    assert repr(nn.ConstantPad2d(1, 3.5)) == repr(tn.ConstantPad2d(1, 3.5))
    assert repr(nn.ConstantPad3d((1, 0, 2, 1, 0, 1), 2)) == repr(tn.ConstantPad3d((1, 0, 2, 1, 0, 1), 2))
    for layer, args in (("Fold", ((4, 5), 2)), ("Unfold", (3,)), ("ChannelShuffle", (2,))):
        assert repr(getattr(nn, layer)(*args)) == repr(getattr(tn, layer)(*args))
    with pytest.raises(TypeError, match=r"padding must be an int or a tuple of 4 ints"):
        nn.ZeroPad2d((1, 2))
    assert repr(nn.Dropout(0.2, mode="downgrade_in_infer")) == "Dropout(p=0.2, inplace=False, mode='downgrade_in_infer')"
    assert repr(nn.Parameter(np.zeros(2, np.float32))).startswith("Parameter containing:\n")


def chain(m, x):
    """Weights from a ParameterList, biases from a ParameterDict: the same code for either library."""
    for k, w in enumerate(m.weights):
        x = (x @ w.T + m.biases[f"b{k}"]).tanh()
    return x


def test_parameter_list_and_dict_as_torch(rng):
    torch = torch_or_fail()
    sizes = [4, 5, 3]
    theirs = torch.nn.Module()
    theirs.weights = torch.nn.ParameterList([torch.randn(o, i, dtype=torch.float64) for i, o in zip(sizes, sizes[1:])])
    theirs.biases = torch.nn.ParameterDict({f"b{k}": torch.randn(o, dtype=torch.float64) for k, o in enumerate(sizes[1:])})
    ours = nn.Module()
    ours.weights = nn.ParameterList([np.zeros((o, i)) for i, o in zip(sizes, sizes[1:])])
    ours.biases = nn.ParameterDict({f"b{k}": np.zeros(o) for k, o in enumerate(sizes[1:])})
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weights.0", "weights.1", "biases.b0", "biases.b1"]
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((6, 4))
    gy = rng.standard_normal((6, 3))
    yo, yt = chain(ours, nc.Tensor(x)), chain(theirs, torch.tensor(x))
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-12)
    yo.backward(nc.Tensor(gy))
    yt.backward(torch.tensor(gy))
    for (name, p), (tname, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12, err_msg=name)
    assert len(nc.optim.SGD(ours.parameters(), lr=0.1).param_groups[0]["params"]) == 4


def test_parameter_dict_from_a_plain_dict_is_in_sorted_order_as_torch(rng):
    """torch sorts a plain dict's keys (not an OrderedDict's): so must numconv, or the parameters'
    order, and with it a loaded optimizer state, would differ."""
    torch = torch_or_fail()
    values = {"b": rng.standard_normal(2), "a": rng.standard_normal(3), "c": rng.standard_normal(1)}
    ours = nn.ParameterDict({k: v.copy() for k, v in values.items()})
    theirs = torch.nn.ParameterDict({k: torch.tensor(v) for k, v in values.items()})
    assert list(ours.keys()) == list(theirs.keys()) == ["a", "b", "c"]
    ordered = OrderedDict((k, v.copy()) for k, v in values.items())
    assert list(nn.ParameterDict(ordered).keys()) == list(torch.nn.ParameterDict(
        OrderedDict((k, torch.tensor(v)) for k, v in values.items())).keys()) == ["b", "a", "c"]


def test_parameter_list_and_dict_behave_as_containers(rng):
    a, b, c = (nn.Parameter(rng.standard_normal(k)) for k in (2, 3, 4))
    pl = nn.ParameterList([a, nc.Tensor(rng.standard_normal(5))])
    assert pl[0] is a and isinstance(pl[1], nn.Parameter) and pl[1].requires_grad and pl[-1] is pl[1]
    assert [p.shape for p in pl[0:1]] == [(2,)] and pl[0:1][0] is a
    pl.append(b)
    pl += [c]
    assert len(pl) == 4 and pl[2] is b and pl[3] is c
    pl[1] = a.data * 2  # an array becomes a Parameter in place of the old one
    assert list(pl.state_dict()) == ["0", "1", "2", "3"]
    np.testing.assert_allclose(pl[1].numpy(), a.numpy() * 2)
    with pytest.raises(IndexError, match="out of range"):
        pl[4]
    with pytest.raises(TypeError, match="ParameterList\\[5\\]"):
        pl.extend([c.data, "not a parameter"])
    assert len(pl) == 4  # nothing added
    with pytest.raises(RuntimeError, match="should not be called"):
        pl(a)
    pd = nn.ParameterDict({"x": a})
    pd.update([("y", b)])
    pd["z"] = c.data
    assert list(pd) == ["x", "y", "z"] and pd["x"] is a and "y" in pd and pd.get("w") is None
    assert pd.setdefault("x", c) is a and pd.pop("y") is b and list(pd.keys()) == ["x", "z"]
    copy = pd.copy()
    assert copy["x"] is a and copy is not pd
    with pytest.raises(TypeError, match="keys must be strings"):
        pd[3] = a
    with pytest.raises(TypeError, match="ParameterDict\\['q'\\]"):
        pd.update({"p": a, "q": 1.5})
    assert "p" not in pd
    model = nn.Module()
    model.ps, model.pd = pl, pd
    model.to(np.float32)
    assert all(p.dtype == np.float32 for p in model.parameters())
    # pd["x"] is ps[0]: listed once, as torch
    assert [n for n, _ in model.named_parameters()] == ["ps.0", "ps.1", "ps.2", "ps.3", "pd.z"]
    assert list(model.state_dict()) == ["ps.0", "ps.1", "ps.2", "ps.3", "pd.x", "pd.z"]


# ============================================================================= state_dict


def test_state_dict_keys_and_values_match_torch(rng):
    torch = torch_or_fail()
    t = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Linear(2, 2),
                            torch.nn.ConvTranspose1d(2, 3, 2), torch.nn.BatchNorm1d(3, track_running_stats=False),
                            torch.nn.CrossEntropyLoss(weight=torch.ones(3)))
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(2, 2), nn.ConvTranspose1d(2, 3, 2),
                      nn.BatchNorm1d(3, track_running_stats=False), nn.CrossEntropyLoss(weight=np.ones(3, np.float32)))
    tsd = t.state_dict()
    for v in tsd.values():
        if v.dtype.is_floating_point:
            v.copy_(torch.from_numpy(rng.standard_normal(tuple(v.shape)).astype(np.float32)))
    tsd["1.num_batches_tracked"].fill_(7)
    out = load_from_torch(m, t)
    assert out.missing_keys == [] and out.unexpected_keys == []
    msd = m.state_dict()
    assert list(msd) == list(tsd)
    for k in tsd:
        assert msd[k].shape == tuple(tsd[k].shape) and msd[k].dtype == tsd[k].numpy().dtype, k
        np.testing.assert_array_equal(msd[k], tsd[k].numpy(), err_msg=k)
    # torch tensors load directly too
    m.load_state_dict(t.state_dict())


def test_load_state_dict_reports_every_problem_at_once():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(8, 2))
    sd = m.state_dict()
    before = m[0].weight.numpy().copy()
    bad = dict(sd)
    del bad["1.running_var"], bad["2.bias"]
    bad["extra.weight"] = np.zeros(3, np.float32)
    bad["0.weight"] = np.ones((4, 3, 5, 5), np.float32)
    bad["2.weight"] = np.ones((2, 9), np.float32)
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(bad)
    msg = str(info.value)
    assert isinstance(info.value, ValueError)
    for piece in ["Sequential", "missing keys (2)", "'1.running_var'", "'2.bias'", "unexpected keys (1)", "'extra.weight'",
                  "wrongly-shaped keys (2)", "'0.weight': checkpoint shape (4, 3, 5, 5), model shape (4, 3, 3, 3)",
                  "'2.weight': checkpoint shape (2, 9), model shape (2, 8)"]:
        assert piece in msg, (piece, msg)
    np.testing.assert_array_equal(m[0].weight.numpy(), before)  # nothing copied
    # strict=False tolerates missing/unexpected keys but never a wrong shape
    partial = {"0.weight": np.full((4, 3, 3, 3), 2.0), "zzz": np.zeros(1)}
    res = m.load_state_dict(partial, strict=False)
    assert res.unexpected_keys == ["zzz"] and "0.bias" in res.missing_keys
    assert m[0].weight.dtype == np.float32 and float(m[0].weight.numpy().mean()) == 2.0
    with pytest.raises(ValueError, match="wrongly-shaped"):
        m.load_state_dict({"0.weight": np.zeros((1, 1))}, strict=False)
    no_counter = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    assert m.load_state_dict(no_counter) == ([], [])  # as torch: BatchNorm counters may be absent
    with pytest.raises(TypeError, match="numeric"):
        m.load_state_dict({**sd, "0.bias": np.array(["a", "b", "c", "d"])})


# ============================================================================= init


def test_default_init_bounds_and_reproducibility():
    nc.manual_seed(3)
    conv = nn.Conv2d(16, 64, 5)
    fan_in = 16 * 25
    w, b = conv.weight.numpy(), conv.bias.numpy()
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)): gain sqrt(2/6) * sqrt(3/fan_in)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.var() - bound**2 / 3) < 0.05 * bound**2 / 3
    assert abs(w.mean()) < 0.02 * bound
    assert np.abs(b).max() <= bound
    tconv = nn.ConvTranspose2d(16, 8, 3, groups=2)  # fan_in from weight.shape[1] = 8/2
    assert np.abs(tconv.weight.numpy()).max() <= 1 / math.sqrt(4 * 9)
    lin = nn.Linear(300, 200)
    assert np.abs(lin.weight.numpy()).max() <= 1 / math.sqrt(300) and np.abs(lin.bias.numpy()).max() <= 1 / math.sqrt(300)
    nc.manual_seed(3)
    np.testing.assert_array_equal(nn.Conv2d(16, 64, 5).weight.numpy(), w)
    assert conv.weight.dtype == np.float32 and nn.Linear(2, 2, dtype=np.float64).weight.dtype == np.float64


def test_init_functions():
    torch = torch_or_fail()
    for nl, p in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                  ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]:
        assert nn.init.calculate_gain(nl, p) == pytest.approx(torch.nn.init.calculate_gain(nl, p))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        nn.init.calculate_gain("swish")
    nc.manual_seed(0)
    w = nn.Parameter(np.empty((256, 128, 3, 3), np.float32))
    fan_in, fan_out = 128 * 9, 256 * 9
    nn.init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / fan_out)
    a = w.numpy()
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.999 * bound
    nn.init.kaiming_normal_(w, a=0.1, mode="fan_in", nonlinearity="leaky_relu")
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 1.01) / math.sqrt(fan_in), rel=0.01)
    nn.init.xavier_uniform_(w, gain=2.0)
    assert np.abs(w.numpy()).max() <= 2 * math.sqrt(6 / (fan_in + fan_out))
    nn.init.xavier_normal_(w)
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=0.01)
    nn.init.normal_(w, 3.0, 0.5)
    assert w.numpy().mean() == pytest.approx(3.0, abs=0.01) and w.numpy().std() == pytest.approx(0.5, rel=0.01)
    nn.init.trunc_normal_(w, std=1.0, a=-0.5, b=1.0)
    assert w.numpy().min() >= -0.5 and w.numpy().max() <= 1.0
    nn.init.uniform_(w, -2, -1)
    assert w.numpy().min() >= -2 and w.numpy().max() < -1
    nn.init.constant_(w, 0.25)
    assert np.all(w.numpy() == 0.25)
    nn.init.zeros_(w), nn.init.ones_(w.data[0])
    assert w.numpy().sum() == 128 * 9 and w.requires_grad
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(nn.Parameter(np.zeros(3, np.float32)))
    with pytest.raises(ValueError, match="fan_in"):
        nn.init.kaiming_uniform_(w, mode="fan_avg")


@pytest.mark.parametrize("call, dtype, words", [
    (lambda init, w: init.normal_(w, 0.0, float("nan")), np.float64, "std must be finite"),
    (lambda init, w: init.normal_(w, 0.0, -1.0), np.float64, "std must be in [0.0, inf)"),
    (lambda init, w: init.uniform_(w, -math.inf, math.inf), np.float64, "a must be finite"),
    (lambda init, w: init.uniform_(w, 0.0, math.inf), np.float64, "b must be finite"),
    (lambda init, w: init.uniform_(w, math.nan, 1.0), np.float64, "a must be finite"),
    (lambda init, w: init.uniform_(w, 2.0, 1.0), np.float64, "a <= b"),
    (lambda init, w: init.uniform_(w, -1e308, 1e308), np.float64, "b - a within the tensor dtype's range"),
    (lambda init, w: init.uniform_(w, -3e38, 3e38), np.float32, "b - a within the tensor dtype's range"),
    (lambda init, w: init.uniform_(w, 0.0, 1e39), np.float32, "b - a within the tensor dtype's range"),
], ids=["normal_std_nan", "normal_std_negative", "uniform_infinite", "uniform_b_infinite", "uniform_a_nan",
        "uniform_a_above_b", "uniform_width_overflows", "uniform_width_overflows_float32", "uniform_b_above_float32"])
def test_init_refuses_what_torch_refuses(call, dtype, words):
    """Parameters for which torch raises (they filled NaN or inf here): a ValueError naming them, the
    tensor untouched."""
    torch = torch_or_fail()
    w = np.full(3, 7.0, dtype)
    with pytest.raises(ValueError) as info:
        call(nn.init, w)
    assert words in str(info.value), str(info.value)
    np.testing.assert_array_equal(w, 7.0)
    with pytest.raises(RuntimeError):
        call(torch.nn.init, torch.from_numpy(w))


def test_init_at_the_edges_torch_accepts():
    """An interval of one point, and the widest one float32 holds, fill as torch's; constant_, zeros_,
    ones_ and eye_ fill integer and bool tensors too (torch: 2.7 fills an int64 tensor with 2)."""
    torch = torch_or_fail()
    np.testing.assert_array_equal(nn.init.uniform_(np.zeros(4), 1.5, 1.5), np.full(4, 1.5))
    wide = nn.init.uniform_(np.zeros(1000, np.float32), -1e38, 1e38)
    assert np.isfinite(wide).all() and wide.min() < -1e37 and wide.max() > 1e37
    for fill in (lambda i, w: i.constant_(w, 2.7), lambda i, w: i.zeros_(w), lambda i, w: i.ones_(w),
                 lambda i, w: i.eye_(w.reshape(2, 3))):
        for dtype in (np.int64, np.int32, np.bool_):
            ours = fill(nn.init, np.full(6, 5, dtype))
            theirs = fill(torch.nn.init, torch.from_numpy(np.full(6, 5, dtype)))
            assert ours.dtype == dtype
            np.testing.assert_array_equal(ours.reshape(-1), theirs.numpy().reshape(-1))


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4), (1, 1), (0, 2)])
def test_eye_is_the_identity_as_torch(shape):
    torch = torch_or_fail()
    w = nn.Parameter(np.full(shape, 9.0, np.float32))
    assert nn.init.eye_(w) is w and w.requires_grad
    np.testing.assert_array_equal(w.numpy(), np.eye(*shape))
    np.testing.assert_array_equal(w.numpy(), torch.nn.init.eye_(torch.empty(shape)).numpy())


@pytest.mark.parametrize("shape, groups", [((4, 4, 3), 1), ((6, 2, 3, 3), 3), ((3, 5, 2, 4), 1), ((2, 6, 3), 1),
                                           ((4, 2, 3, 3, 3), 2), ((8, 2, 5, 5), 4), ((2, 0, 3), 1)])
def test_dirac_matches_torch(shape, groups):
    torch = torch_or_fail()
    w = np.full(shape, 9.0)
    nn.init.dirac_(w, groups)
    np.testing.assert_array_equal(w, torch.nn.init.dirac_(torch.empty(shape, dtype=torch.float64), groups).numpy())
    assert w.sum() == groups * min(shape[0] // groups, shape[1])
    assert np.array_equal(nn.init.dirac_(np.zeros(shape, np.int32), groups), w)  # any dtype, as torch


@pytest.mark.parametrize("nd, channels, groups", [(1, 3, 1), (2, 4, 1), (2, 6, 3), (3, 4, 2)])
def test_dirac_makes_the_convolution_the_identity(nd, channels, groups, rng):
    """A (C, C / groups, 3, ...) weight from dirac_ with 'same' padding passes every channel through."""
    w = nn.Parameter(np.empty((channels, channels // groups) + (3,) * nd))
    nn.init.dirac_(w, groups)
    x = rng.standard_normal((2, channels) + (5,) * nd)
    conv = getattr(nc.functional, f"conv{nd}d")
    assert_close(conv(x, w.numpy(), padding=1, groups=groups), x, what=f"conv{nd}d, groups={groups}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 7), (7, 3), (5, 5), (6, 2, 3, 3), (20, 2, 2), (1, 4)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape, dtype):
    """W (shape[0], the rest flattened) times gain: W W^T = gain^2 I when it has no more rows than
    columns, W^T W = gain^2 I otherwise; and W is the Q of the Gaussian's QR made unique by a positive
    diagonal of R (so that Q is uniformly distributed): Q^T G is R, upper triangular with that diagonal."""
    gain = 1.5
    w = nn.Parameter(np.empty(shape, dtype))
    assert nn.init.orthogonal_(w, gain, generator=np.random.default_rng(4)) is w
    rows = shape[0]
    flat = w.numpy().reshape(rows, -1).astype(np.float64) / gain
    wide = rows < flat.shape[1]
    gram = flat @ flat.T if wide else flat.T @ flat
    assert_close(gram, np.eye(len(gram)), dtype, what="orthonormal")
    gaussian = np.random.default_rng(4).standard_normal(flat.shape)
    r = flat @ gaussian.T if wide else flat.T @ gaussian
    assert_close(np.tril(r, -1), np.zeros_like(r), dtype, what="R is upper triangular")
    assert (np.diag(r) > 0).all()


def test_orthogonal_is_uniformly_distributed():
    """Each entry of a uniformly random 4x4 orthogonal matrix has mean 0 and variance 1/4 (without the
    sign correction the diagonal's mean would be far from 0)."""
    nc.manual_seed(0)
    draws = np.stack([nn.init.orthogonal_(np.empty((4, 4))) for _ in range(2000)])
    assert np.abs(draws.mean(axis=0)).max() < 0.05
    assert np.abs(draws.var(axis=0) - 0.25).max() < 0.03


@pytest.mark.parametrize("rows, cols, sparsity", [(10, 7, 0.3), (5, 4, 0.0), (6, 3, 1.0), (9, 400, 0.5)])
def test_sparse_zeroes_the_same_count_in_every_column_as_torch(rows, cols, sparsity):
    torch = torch_or_fail()
    w = nn.Parameter(np.empty((rows, cols), np.float32))
    assert nn.init.sparse_(w, sparsity, std=2.0) is w
    zeros = (w.numpy() == 0).sum(axis=0)
    theirs = (torch.nn.init.sparse_(torch.empty(rows, cols), sparsity, std=2.0) == 0).sum(dim=0).numpy()
    np.testing.assert_array_equal(zeros, math.ceil(sparsity * rows))
    np.testing.assert_array_equal(zeros, theirs)
    kept = w.numpy()[w.numpy() != 0]
    if kept.size > 1000:
        assert kept.std() == pytest.approx(2.0, rel=0.05) and abs(kept.mean()) < 0.15
    if cols > 100:  # which rows: a fresh permutation per column, every row about as often
        per_row = (w.numpy() == 0).sum(axis=1)
        assert np.abs(per_row - cols * sparsity).max() < 5 * math.sqrt(cols * sparsity * (1 - sparsity))


@pytest.mark.parametrize("call, error, words", [
    (lambda: nn.init.eye_(np.zeros(3)), ValueError, "eye_ needs a tensor with 2 dimensions, got shape (3,)"),
    (lambda: nn.init.eye_(np.zeros((2, 2, 2))), ValueError, "eye_ needs a tensor with 2 dimensions"),
    (lambda: nn.init.dirac_(np.zeros((3, 2))), ValueError, "3, 4 or 5 dimensions, got shape (3, 2)"),
    (lambda: nn.init.dirac_(np.zeros((3, 2, 3)), 2), ValueError,
     "dimension 0 (3) of shape (3, 2, 3) to be divisible by groups=2"),
    (lambda: nn.init.dirac_(np.zeros((4, 2, 3)), 0), ValueError, "groups"),
    (lambda: nn.init.dirac_(np.zeros((4, 2, 3)), 2.0), TypeError, "groups"),
    (lambda: nn.init.orthogonal_(np.zeros(3)), ValueError, "at least 2 dimensions, got shape (3,)"),
    (lambda: nn.init.orthogonal_(np.zeros((3, 3), np.int64)), TypeError, "floating-point"),
    (lambda: nn.init.orthogonal_(np.zeros((3, 3)), gain=float("nan")), ValueError, "gain"),
    (lambda: nn.init.sparse_(np.zeros((3, 2, 2)), 0.5), ValueError, "2 dimensions, got shape (3, 2, 2)"),
    (lambda: nn.init.sparse_(np.zeros((3, 2)), 1.5), ValueError, "sparsity must be in [0.0, 1.0]"),
    (lambda: nn.init.sparse_(np.zeros((3, 2)), -0.1), ValueError, "sparsity"),
    (lambda: nn.init.sparse_(np.zeros((3, 2)), 0.5, std=-1.0), ValueError, "std"),
    (lambda: nn.init.sparse_(np.zeros((3, 2), np.int32), 0.5), TypeError, "floating-point"),
    (lambda: nn.init.eye_([[0.0]]), TypeError, "Tensor/Parameter or a NumPy array"),
])
def test_new_init_functions_refuse_bad_arguments(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value), str(info.value)


def test_orthogonal_of_an_empty_tensor_is_a_no_op():
    w = np.empty((0, 3))
    assert nn.init.orthogonal_(w) is w


# ============================================================================= layers vs torch


def _pair(name, *args, **kwargs):
    """(numconv layer, torch layer) built with the same arguments."""
    torch = torch_or_fail()
    return getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)


# (id, layer name, args, kwargs, input shape)
LAYERS = [
    ("conv1d", "Conv1d", (3, 4, 3), dict(stride=2, padding=1), (2, 3, 9)),
    ("conv1d_unbatched", "Conv1d", (3, 4, 2), dict(dilation=2), (3, 8)),
    ("conv2d", "Conv2d", (3, 4, 3), dict(padding=1), (2, 3, 7, 6)),
    ("conv2d_groups", "Conv2d", (4, 6, (3, 2)), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2), (2, 4, 7, 8)),
    ("conv2d_same_reflect", "Conv2d", (3, 2, 4), dict(padding="same", padding_mode="reflect"), (2, 3, 6, 7)),
    ("conv2d_circular", "Conv2d", (2, 3, 3), dict(padding=(2, 1), padding_mode="circular"), (1, 2, 5, 6)),
    ("conv2d_replicate_nobias", "Conv2d", (2, 3, 3), dict(padding=1, padding_mode="replicate", bias=False), (2, 2, 5, 5)),
    ("conv2d_valid", "Conv2d", (2, 3, 3), dict(padding="valid", stride=2), (2, 2, 7, 7)),
    ("conv3d", "Conv3d", (2, 3, 3), dict(stride=2, padding=1), (2, 2, 5, 6, 5)),
    ("convT1d", "ConvTranspose1d", (3, 4, 3), dict(stride=2, padding=1, output_padding=1), (2, 3, 5)),
    ("convT2d", "ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, groups=2), (2, 4, 4, 5)),
    ("convT2d_dilated", "ConvTranspose2d", (2, 3, (2, 3)), dict(stride=(1, 2), dilation=2, bias=False), (2, 2, 3, 4)),
    ("convT3d", "ConvTranspose3d", (2, 3, 2), dict(stride=2), (1, 2, 3, 2, 3)),
    ("maxpool1d", "MaxPool1d", (3, 2, 1), {}, (2, 3, 9)),
    ("maxpool2d_ceil", "MaxPool2d", (3, 2, 1), dict(ceil_mode=True), (2, 3, 8, 7)),
    ("maxpool2d_dilated", "MaxPool2d", (2,), dict(dilation=2, stride=1), (2, 2, 6, 6)),
    ("maxpool3d", "MaxPool3d", (2,), {}, (1, 2, 4, 5, 4)),
    ("avgpool1d", "AvgPool1d", (3, 2, 1), {}, (2, 3, 9)),
    ("avgpool2d_excl_pad", "AvgPool2d", (3, 2, 1), dict(count_include_pad=False, ceil_mode=True), (2, 3, 8, 7)),
    ("avgpool2d_divisor", "AvgPool2d", (2,), dict(divisor_override=3), (2, 2, 6, 6)),
    ("avgpool3d", "AvgPool3d", (2,), {}, (1, 2, 4, 5, 4)),
    ("adaptive_avg1d", "AdaptiveAvgPool1d", (4,), {}, (2, 3, 9)),
    ("adaptive_avg2d", "AdaptiveAvgPool2d", ((3, 5),), {}, (2, 3, 7, 11)),
    ("adaptive_avg3d", "AdaptiveAvgPool3d", (2,), {}, (1, 2, 5, 4, 3)),
    ("adaptive_max1d", "AdaptiveMaxPool1d", (4,), {}, (2, 3, 9)),
    ("adaptive_max2d", "AdaptiveMaxPool2d", (3,), {}, (2, 3, 7, 8)),
    ("adaptive_max3d", "AdaptiveMaxPool3d", (2,), {}, (1, 2, 5, 4, 3)),
    ("bn1d_2d_input", "BatchNorm1d", (5,), {}, (6, 5)),
    ("bn1d_3d_input", "BatchNorm1d", (5,), dict(momentum=0.3), (4, 5, 7)),
    ("bn2d", "BatchNorm2d", (3,), {}, (4, 3, 5, 6)),
    ("bn2d_no_affine_cumulative", "BatchNorm2d", (3,), dict(affine=False, momentum=None), (4, 3, 5, 6)),
    ("bn2d_no_tracking", "BatchNorm2d", (3,), dict(track_running_stats=False, eps=1e-3), (4, 3, 5, 6)),
    ("bn3d", "BatchNorm3d", (2,), {}, (3, 2, 3, 4, 2)),
    ("bn2d_no_bias", "BatchNorm2d", (3,), dict(bias=False), (4, 3, 5, 6)),
    ("bn1d_momentum_above_one", "BatchNorm1d", (5,), dict(momentum=1.5), (6, 5)),
    ("bn2d_negative_momentum", "BatchNorm2d", (3,), dict(momentum=-0.5), (4, 3, 2, 3)),
    ("linear", "Linear", (7, 5), {}, (4, 7)),
    ("linear_3d_nobias", "Linear", (7, 5), dict(bias=False), (2, 3, 7)),
    ("flatten", "Flatten", (), {}, (2, 3, 4, 5)),
    ("flatten_mid", "Flatten", (1, 2), {}, (2, 3, 4, 5)),
    ("unflatten", "Unflatten", (1, (3, 4)), {}, (2, 12, 5)),
    ("unflatten_last_inferred", "Unflatten", (-1, (2, -1)), {}, (2, 3, 10)),
    ("identity", "Identity", (), {}, (2, 3)),
    ("relu", "ReLU", (), {}, (3, 4, 5)),
    ("sigmoid", "Sigmoid", (), {}, (3, 4, 5)),
    ("tanh", "Tanh", (), {}, (3, 4, 5)),
    ("softmax", "Softmax", (), dict(dim=1), (3, 4, 5)),
    ("softmax_implicit_dim", "Softmax", (), {}, (3, 4, 5)),
    ("log_softmax", "LogSoftmax", (), dict(dim=-1), (3, 4, 5)),
    ("zeropad1d", "ZeroPad1d", ((2, -1),), {}, (2, 3, 5)),
    ("zeropad2d_unbatched", "ZeroPad2d", (1,), {}, (3, 4, 5)),
    ("constantpad3d", "ConstantPad3d", ((1, 0, 2, 1, 0, 1), 2.5), {}, (1, 2, 3, 2, 3)),
    ("reflectionpad1d", "ReflectionPad1d", (2,), {}, (2, 3, 5)),
    ("reflectionpad2d", "ReflectionPad2d", ((1, 0, 2, 3),), {}, (2, 3, 4, 5)),
    ("reflectionpad3d", "ReflectionPad3d", (1,), {}, (1, 2, 3, 3, 4)),
    ("replicationpad2d", "ReplicationPad2d", ((2, 1, 0, 3),), {}, (2, 3, 4, 5)),
    ("replicationpad3d", "ReplicationPad3d", ((1, 2, 0, 1, 2, 0),), {}, (1, 2, 3, 2, 4)),
    ("circularpad1d", "CircularPad1d", ((3, 1),), {}, (2, 3, 4)),
    ("circularpad2d", "CircularPad2d", (2,), {}, (2, 3, 4, 5)),
    ("unfold", "Unfold", (3,), dict(dilation=(1, 2), padding=1, stride=(2, 1)), (2, 3, 6, 7)),
    ("fold", "Fold", ((5, 6), (2, 3)), dict(stride=(1, 2)), (2, 12, 8)),
    ("channel_shuffle", "ChannelShuffle", (3,), {}, (2, 6, 4, 3)),
]


def _compare_layer(m, t, x, rng, train=True, forward_kwargs=None):
    """Forward and backward (random output gradient) in numconv and torch, float64; compares outputs,
    the input gradient, every parameter gradient and (after forward) every buffer."""
    torch = torch_or_fail()
    forward_kwargs = forward_kwargs or {}
    t.double().train(train)
    m.to(np.float64).train(train)
    load_from_torch(m, t)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    xn = nc_tensor(x, requires_grad=True)
    yt = t(xt, **forward_kwargs)
    yn = m(xn, **forward_kwargs)
    assert isinstance(yn, nc.Tensor)
    assert_close(yn.numpy(), yt.detach().numpy(), what="forward")
    g = rng.standard_normal(tuple(yt.shape))
    yt.backward(torch.from_numpy(g))
    yn.backward(nc.Tensor(g))
    assert_close(xn.grad.numpy(), xt.grad.numpy(), what="input gradient")
    tparams = dict(t.named_parameters())
    for name, p in m.named_parameters():
        assert_close(p.grad.numpy(), tparams[name].grad.numpy(), what=f"gradient of {name}")
    tsd = t.state_dict()
    for name, b in m.state_dict().items():
        assert_close(b, tsd[name].numpy(), what=f"state {name} after forward")


@pytest.mark.filterwarnings("ignore:Implicit dimension choice")  # torch, for Softmax(dim=None)
@pytest.mark.parametrize("case", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_torch(case, rng):
    _, name, args, kwargs, shape = case
    m, t = _pair(name, *args, **kwargs)
    _compare_layer(m, t, rng.standard_normal(shape), rng)


@pytest.mark.parametrize("name", ["BatchNorm1d", "BatchNorm2d"])
def test_batchnorm_train_then_eval(name, rng):
    m, t = _pair(name, 3, momentum=0.2)
    shape = (5, 3, 4) if name == "BatchNorm1d" else (5, 3, 4, 4)
    for _ in range(3):  # running statistics follow torch over several steps
        _compare_layer(m, t, 2 + 3 * rng.standard_normal(shape), rng, train=True)
    assert int(m.num_batches_tracked.item()) == 3
    _compare_layer(m, t, rng.standard_normal(shape), rng, train=False)  # eval: running statistics, no update
    np.testing.assert_array_equal(m.running_mean.numpy(), t.running_mean.numpy())
    assert int(m.num_batches_tracked.item()) == 3
    with pytest.raises(ValueError, match="expects"):
        m(nc_tensor(rng.standard_normal((2, 3, 4, 4, 4))))


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_empty_batch_in_training_as_torch(momentum, rng):
    """An empty batch in training (a detection head given no proposals): an empty output and input
    gradient, zero parameter gradients, the running statistics left as they are and the batch
    counted, as torch; the next batch then updates them as torch's does (the cumulative average of
    momentum=None counts the empty batch too)."""
    torch = torch_or_fail()
    m, t = _pair("BatchNorm2d", 3, momentum=momentum)
    with torch.no_grad():
        t.running_mean.copy_(torch.randn(3))
        t.running_var.copy_(torch.rand(3) + 0.5)
    before = t.running_mean.numpy().copy(), t.running_var.numpy().copy()
    _compare_layer(m, t, np.zeros((0, 3, 4, 4)), rng, train=True)
    np.testing.assert_array_equal(m.running_mean.numpy(), before[0])
    np.testing.assert_array_equal(m.running_var.numpy(), before[1])
    assert int(m.num_batches_tracked.item()) == 1
    np.testing.assert_array_equal(m.weight.grad.numpy(), np.zeros(3))
    _compare_layer(m, t, rng.standard_normal((4, 3, 2, 2)), rng, train=True)
    assert int(m.num_batches_tracked.item()) == 2


@pytest.mark.parametrize("shape", [(2, 3, 0), (0, 3)])
def test_batch_norm_of_no_values_in_training_as_torch(shape, rng):
    """F.batch_norm with no values (no samples, or no positions): the empty output torch gives, its
    gradient flowing back (zeros for weight and bias), the running statistics unchanged; no channels
    too (torch fails there given a weight, an IndexError)."""
    torch = torch_or_fail()
    C = shape[1]
    x, w, b = np.zeros(shape), rng.standard_normal(C), rng.standard_normal(C)
    rm, rv = rng.standard_normal(C), rng.random(C) + 0.5
    kept = rm.copy(), rv.copy()
    leaves = [nc.Tensor(a, requires_grad=True) for a in (x, w, b)]
    y = nc.functional.batch_norm(leaves[0], rm, rv, leaves[1], leaves[2], training=True)
    yt = torch.nn.functional.batch_norm(torch.tensor(x), torch.tensor(rm), torch.tensor(rv), torch.tensor(w),
                                        torch.tensor(b), training=True)
    assert y.shape == tuple(yt.shape) and y.dtype == np.float64
    y.sum().backward()
    assert leaves[0].grad.shape == shape
    for leaf in leaves[1:]:
        np.testing.assert_array_equal(leaf.grad.numpy(), np.zeros(C))
    np.testing.assert_array_equal(rm, kept[0])
    np.testing.assert_array_equal(rv, kept[1])
    no_channels = torch.nn.functional.batch_norm(torch.zeros(4, 0), None, None, training=True)
    assert nc.functional.batch_norm(np.zeros((4, 0)), None, None, training=True).shape == tuple(no_channels.shape)


def test_batchnorm_eps_zero_as_torch(rng):
    """eps = 0 builds and evaluates with the running statistics, as torch; only the training pass, which
    divides by sqrt(var + eps) with var possibly 0, refuses it (torch too, at forward)."""
    torch = torch_or_fail()
    m, t = _pair("BatchNorm1d", 3, eps=0)
    assert m.eps == 0.0
    with torch.no_grad():
        t.running_mean.copy_(torch.randn(3))
        t.running_var.copy_(torch.rand(3) + 0.5)
    _compare_layer(m, t, rng.standard_normal((4, 3)), rng, train=False)
    with pytest.raises(ValueError, match=r"eps \(when training\) must be in \(0.0, inf\), got 0.0"):
        m.train()(nc_tensor(rng.standard_normal((4, 3))))
    with pytest.raises(ValueError, match="eps must be positive during training"):
        t.train()(torch.randn(4, 3, dtype=torch.float64))
    x = rng.standard_normal((5, 3, 2))
    rm, rv = rng.standard_normal(3), rng.random(3) + 0.5
    assert_close(nc.functional.batch_norm(x, rm, rv, eps=0.0),
                 torch.nn.functional.batch_norm(*(torch.tensor(a) for a in (x, rm, rv)), eps=0.0).numpy())


def test_conv_transpose_output_size(rng):
    m, t = _pair("ConvTranspose2d", 3, 2, 3, stride=3, padding=1)
    x = rng.standard_normal((2, 3, 4, 5))
    for size in [(10, 13), (12, 15), [2, 2, 11, 14]]:
        _compare_layer(m, t, x, rng, forward_kwargs=dict(output_size=size))
    with pytest.raises(ValueError, match="valid sizes range from"):
        m(nc_tensor(x), output_size=(13, 13))


def test_max_unpool_roundtrip(rng):
    torch = torch_or_fail()
    x = rng.standard_normal((2, 3, 6, 7))
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    y, idx = pool(nc_tensor(x))
    ty, tidx = torch.nn.MaxPool2d(2, return_indices=True)(torch.from_numpy(x))
    np.testing.assert_array_equal(np.asarray(idx.numpy() if isinstance(idx, nc.Tensor) else idx), tidx.numpy())
    yr = nc_tensor(y.numpy(), requires_grad=True)
    z = unpool(yr, idx, output_size=(6, 7))
    tyr = ty.detach().clone().requires_grad_(True)
    tz = torch.nn.MaxUnpool2d(2)(tyr, tidx, output_size=(6, 7))
    assert_close(z.numpy(), tz.detach().numpy())
    g = rng.standard_normal(z.shape)
    z.backward(nc.Tensor(g))
    tz.backward(torch.from_numpy(g))
    assert_close(yr.grad.numpy(), tyr.grad.numpy())


# ============================================================================= dropout


def test_dropout_train_eval_and_modes():
    nc.manual_seed(1)
    x = nc.Tensor(np.ones((200, 50, 4, 4), np.float32))
    d = nn.Dropout(0.3)
    y = d(x).numpy()
    zero = y == 0
    assert abs(zero.mean() - 0.3) < 0.01
    np.testing.assert_allclose(y[~zero], 1 / 0.7, rtol=1e-6)
    d.eval()
    np.testing.assert_array_equal(d(x).numpy(), x.numpy())
    # downgrade_in_infer: training only zeroes, inference scales by 1 - p
    dd = nn.Dropout(0.3, mode="downgrade_in_infer")
    y = dd(x).numpy()
    assert abs((y == 0).mean() - 0.3) < 0.01 and set(np.unique(y)) <= {0.0, 1.0}
    np.testing.assert_allclose(dd.eval()(x).numpy(), 0.7, rtol=1e-6)
    # Dropout2d zeroes whole channels
    d2 = nn.Dropout2d(0.5)
    y = d2(x).numpy()
    per_channel = y.reshape(200, 50, 16)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    assert abs((per_channel[..., 0] == 0).mean() - 0.5) < 0.03
    np.testing.assert_array_equal(d2.eval()(x).numpy(), x.numpy())
    # gradient flows through the kept elements only
    xr = nc.Tensor(np.ones((8, 8), np.float32), requires_grad=True)
    d.train()
    out = d(xr)
    out.sum().backward()
    np.testing.assert_allclose(xr.grad.numpy(), (out.numpy() != 0) / 0.7, rtol=1e-6)
    nc.manual_seed(5)
    a = nn.Dropout(0.5)(x).numpy()
    nc.manual_seed(5)
    np.testing.assert_array_equal(nn.Dropout(0.5)(x).numpy(), a)
    with pytest.raises(ValueError, match="probability"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="mode"):
        nn.Dropout(0.5, mode="scale")


# ============================================================================= losses


def _loss_case(rng, name, kwargs, input_shape, target):
    torch = torch_or_fail()
    nkw = {k: (np.asarray(v) if k == "weight" else v) for k, v in kwargs.items()}
    tkw = {k: (torch.tensor(v, dtype=torch.float64) if k == "weight" else v) for k, v in kwargs.items()}
    m, t = getattr(nn, name)(**nkw), getattr(torch.nn, name)(**tkw)
    x = rng.standard_normal(input_shape)
    xn, xt = nc_tensor(x, requires_grad=True), torch.from_numpy(x.copy()).requires_grad_(True)
    tn = nc.Tensor(target) if target.dtype.kind == "i" else nc_tensor(target)
    ln, lt = m(xn, tn), t(xt, torch.from_numpy(target.copy()))
    assert_close(ln.numpy(), lt.detach().numpy(), what=f"{name} value")
    g = rng.standard_normal(tuple(lt.shape))
    ln.backward(nc.Tensor(g)) if ln.ndim else ln.backward()
    lt.backward(torch.from_numpy(g)) if lt.ndim else lt.backward()
    assert_close(xn.grad.numpy(), xt.grad.numpy(), what=f"{name} input gradient")


LOSSES = [
    ("ce", "CrossEntropyLoss", {}, (6, 4), "class"),
    ("ce_sum_weighted_ignore", "CrossEntropyLoss", dict(weight=[1.0, 2.0, 0.5, 1.5], ignore_index=2, reduction="sum"),
     (6, 4), "class"),
    ("ce_smoothing_spatial", "CrossEntropyLoss", dict(label_smoothing=0.1), (3, 4, 2, 5), "class"),
    ("ce_none", "CrossEntropyLoss", dict(reduction="none"), (6, 4), "class"),
    ("ce_probabilities", "CrossEntropyLoss", {}, (6, 4), "probs"),
    ("nll", "NLLLoss", {}, (6, 4), "class"),
    ("nll_weighted", "NLLLoss", dict(weight=[1.0, 2.0, 0.5, 1.5], ignore_index=1), (6, 4), "class"),
    ("mse", "MSELoss", {}, (3, 5), "same"),
    ("mse_sum", "MSELoss", dict(reduction="sum"), (3, 5), "same"),
    ("mse_none", "MSELoss", dict(reduction="none"), (3, 5), "same"),
]


@pytest.mark.parametrize("case", LOSSES, ids=[c[0] for c in LOSSES])
def test_loss_matches_torch(case, rng):
    _, name, kwargs, shape, kind = case
    if kind == "class":
        target = rng.integers(0, shape[1], (shape[0],) + shape[2:]).astype(np.int64)
    elif kind == "probs":
        p = rng.random(shape)
        target = p / p.sum(1, keepdims=True)
    else:
        target = rng.standard_normal(shape)
    _loss_case(rng, name, kwargs, shape, target)


def test_loss_arguments_are_checked():
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    assert list(nn.CrossEntropyLoss(weight=np.ones(3)).state_dict()) == ["weight"]
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"


# ============================================================================= argument checks


def test_layer_argument_errors():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="in_channels"):
        nn.Conv2d(0, 4, 3)
    with pytest.raises(TypeError, match="kernel_size"):
        nn.Conv2d(1, 1, (3, 3, 3))
    with pytest.raises(ValueError, match="not supported"):
        nn.ConvTranspose2d(1, 1, 3, padding="same")
    with pytest.raises(ValueError, match="half"):
        nn.MaxPool2d(2, padding=2)
    with pytest.raises(ValueError, match="momentum"):  # any finite number, as torch; never NaN
        nn.BatchNorm2d(3, momentum=float("nan"))
    with pytest.raises(TypeError, match="momentum"):
        nn.BatchNorm2d(3, momentum="0.1")
    with pytest.raises(ValueError, match="eps"):
        nn.BatchNorm2d(3, eps=-1e-5)
    with pytest.raises(ValueError, match="channels"):
        nn.BatchNorm2d(3)(nc.Tensor(np.zeros((2, 4, 3, 3), np.float32)))


def test_channel_shuffle_errors_and_pooling_with_indices_as_torch(rng):
    torch = torch_or_fail()
    x = rng.standard_normal((2, 6, 5, 4))
    with pytest.raises(ValueError, match="C=6 must be a multiple of groups=4"):
        nc.functional.channel_shuffle(x, 4)
    with pytest.raises(ValueError, match="groups must be >= 1"):
        nc.functional.channel_shuffle(x, 0)
    with pytest.raises(ValueError, match="at least one spatial dimension"):
        nc.functional.channel_shuffle(x[0, :, 0], 2)
    for nd in (1, 2, 3):
        xs = rng.standard_normal((2, 3) + (5,) * nd)
        tx = torch.tensor(xs)
        for name, args in ((f"max_pool{nd}d_with_indices", (2,)), (f"adaptive_max_pool{nd}d_with_indices", (2,))):
            out, idx = getattr(nc.functional, name)(xs, *args)
            t_out, t_idx = getattr(torch.nn.functional, name)(tx, *args)
            np.testing.assert_array_equal(out, t_out.numpy(), err_msg=name)
            np.testing.assert_array_equal(idx, t_idx.numpy(), err_msg=name)
