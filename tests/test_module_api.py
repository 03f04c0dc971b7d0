"""Module and container API against torch.nn (2.13): named_modules' memo, get_parameter / get_buffer /
set_submodule, load_state_dict(assign=True), type(), Sequential / ModuleList pop, + , *, +=, *=,
slicing subclasses, ModuleList's compressed repr, deepcopy and .grad, to() with an unknown device,
ModuleDict.update's errors; and the model zoo's argument checks and ``weights=None``.

Each behaviour is asserted on numconv alone, then side by side with torch where torch is installed.
"""
from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest

import numconv as nc
from numconv import models, nn
from conftest import torch_or_fail


def _libs():
    """(numconv.nn, torch.nn), or skip/fail as the other torch comparisons do."""
    torch = torch_or_fail()
    return nn, torch.nn


def _outcome(fn):
    """fn()'s value, or the name of the exception it raised."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - the exception type is what is compared
        return type(exc).__name__


# ----------------------------------------------------------------------------- 1. named_modules(memo=...)


def _memo_net(lib):
    return lib.Sequential(lib.Linear(2, 2), lib.Sequential(lib.ReLU(), lib.Tanh()))


def test_named_modules_memo_is_a_set_of_modules_that_skips_subtrees():
    m = _memo_net(nn)
    assert [k for k, _ in m.named_modules(memo={m[1]})] == ["", "0"]
    memo = set()
    names = [k for k, _ in m.named_modules(memo=memo)]
    assert names == ["", "0", "1", "1.0", "1.1"]
    assert memo == {m, m[0], m[1], m[1][0], m[1][1]}  # the modules, not their ids
    assert list(m.named_modules(memo=memo)) == []  # a caller's memo is honoured on the next call
    # remove_duplicate=False: the memo still skips, but nothing is added to it
    memo = {m[1][0]}
    assert [k for k, _ in m.named_modules(memo=memo, remove_duplicate=False)] == ["", "0", "1", "1.1"]
    assert memo == {m[1][0]}


def test_named_modules_memo_matches_torch():
    for lib in _libs():
        m = _memo_net(lib)
        shared = lib.Linear(2, 2)
        m.append(shared).append(shared)
        runs = []
        for memo in (None, set(), {m[1]}, {m}, {m[1][1], shared}):
            given = None if memo is None else set(memo)
            names = [k for k, _ in m.named_modules(memo=given)]
            held = None if given is None else sorted(type(x).__name__ for x in given)
            dup = [k for k, _ in m.named_modules(memo=None if memo is None else set(memo), remove_duplicate=False)]
            runs.append((names, held, dup))
        if lib is nn:
            ours = runs
        else:
            assert ours == runs


# ----------------------------------------------------------------------------- 2. get_parameter, get_buffer, set_submodule


def _net(lib):
    inner = lib.Sequential(lib.Conv2d(1, 2, 3), lib.BatchNorm2d(2))
    return lib.Sequential(OrderedDict(features=inner, head=lib.Linear(2, 3, bias=False)))


_PARAM_TARGETS = ["features.0.weight", "features.0.bias", "head.weight", "head.bias", "features.1.running_mean",
                  "features.1.weight", "features.2.weight", "nope.weight", "features", "", "features.0.forward"]
_BUFFER_TARGETS = ["features.1.running_mean", "features.1.num_batches_tracked", "features.0.weight",
                   "features.1.nope", "head.bias", "x.y.z", ""]


def test_get_parameter_and_get_buffer():
    m = _net(nn)
    assert m.get_parameter("features.0.weight") is m.features[0].weight
    assert m.get_parameter("head.weight") is m.head.weight
    assert m.get_buffer("features.1.running_var") is m.features[1].running_var
    assert m.get_buffer("features.1.num_batches_tracked").dtype == np.int64
    for bad in ("head.bias", "features.1.running_mean", "features.9.weight", "features.0.forward"):
        with pytest.raises(AttributeError):
            m.get_parameter(bad)
    with pytest.raises(AttributeError, match="not a buffer"):
        m.get_buffer("features.0.weight")
    bn = nn.BatchNorm2d(2, track_running_stats=False)  # buffers registered as None: get_buffer gives None
    assert bn.get_buffer("running_mean") is None


def test_get_parameter_and_get_buffer_match_torch():
    results = []
    for lib in _libs():
        m = _net(lib)
        results.append(
            [_outcome(lambda t=t: tuple(m.get_parameter(t).shape)) for t in _PARAM_TARGETS]
            + [_outcome(lambda t=t: tuple(m.get_buffer(t).shape)) for t in _BUFFER_TARGETS]
        )
    assert results[0] == results[1]


def test_set_submodule():
    m = _net(nn)
    new = nn.Identity()
    m.set_submodule("features.1", new)
    assert m.features[1] is new and [k for k, _ in m.features.named_children()] == ["0", "1"]
    m.set_submodule("features.extra", nn.ReLU())  # not strict: a new child of an existing parent
    assert list(m.features._modules) == ["0", "1", "extra"]
    with pytest.raises(AttributeError):
        m.set_submodule("features.other", nn.ReLU(), strict=True)
    m.set_submodule("features.extra", nn.Tanh(), strict=True)
    assert isinstance(m.features.extra, nn.Tanh)
    for target, module, exc in [("", nn.ReLU(), ValueError), ("head", object(), ValueError),
                                ("nope.x", nn.ReLU(), AttributeError), ("head.weight", nn.ReLU(), AttributeError),
                                ("features.forward", nn.ReLU(), AttributeError)]:
        with pytest.raises(exc):
            m.set_submodule(target, module)
    assert isinstance(m.head.weight, nn.Parameter)


def test_set_submodule_matches_torch():
    results = []
    for lib in _libs():
        calls = [("features.1", lib.Identity(), False), ("features.new", lib.ReLU(), False),
                 ("features.other", lib.ReLU(), True), ("features.0", lib.Tanh(), True), ("", lib.ReLU(), False),
                 ("head", 3, False), ("nope.x", lib.ReLU(), False), ("head.weight", lib.ReLU(), False),
                 ("features.forward", lib.ReLU(), True)]
        m = _net(lib)
        out = [_outcome(lambda c=c: m.set_submodule(c[0], c[1], strict=c[2])) for c in calls]
        out.append([(k, type(v).__name__) for k, v in m.named_modules()])
        out.append(list(m.state_dict()))
        results.append(out)
    assert results[0] == results[1]


# ----------------------------------------------------------------------------- 2. load_state_dict(assign=True)


def test_load_state_dict_assign_uses_the_given_memory_and_dtype_and_keeps_requires_grad():
    m = nn.Linear(2, 3)
    m.weight.requires_grad_(False)
    w = np.arange(6, dtype=np.float64).reshape(3, 2)
    given_bias = nn.Parameter(np.ones(3, np.float32), requires_grad=False)
    old_weight = m.weight
    out = m.load_state_dict({"weight": w, "bias": given_bias}, assign=True)
    assert out.missing_keys == [] and out.unexpected_keys == []
    assert isinstance(m.weight, nn.Parameter) and m.weight is not old_weight
    assert m.weight.dtype == np.float64 and m.weight.requires_grad is False
    w[0, 0] = 7.0
    assert m.weight.numpy()[0, 0] == 7.0  # the checkpoint's array itself
    assert m.bias is given_bias and given_bias.requires_grad is True  # the module's requires_grad wins
    assert list(m.state_dict()) == ["weight", "bias"]  # positions kept

    # buffers: the Tensor given becomes the buffer; a (1,) counter becomes 0-d; a missing counter is tolerated
    bn = nn.BatchNorm1d(2)
    rm = nc.Tensor(np.full(2, 3.0, np.float32))
    bn.load_state_dict({"weight": np.ones(2, np.float32), "bias": np.zeros(2, np.float32), "running_mean": rm,
                        "running_var": np.ones(2, np.float32), "num_batches_tracked": np.array([4])}, assign=True)
    assert bn.running_mean is rm and bn.num_batches_tracked.shape == () and int(bn.num_batches_tracked.item()) == 4
    assert isinstance(bn.weight, nn.Parameter) and bn.weight.requires_grad

    # without assign nothing changes: values are cast and copied in place
    m2 = nn.Linear(2, 3)
    before = m2.weight
    m2.load_state_dict({"weight": w, "bias": np.zeros(3)})
    assert m2.weight is before and m2.weight.dtype == np.float32


def test_load_state_dict_assign_checks_everything_before_assigning():
    m = nn.Linear(2, 3)
    weight, bias = m.weight, m.bias
    with pytest.raises(nn.StateDictError, match="wrongly-shaped"):
        m.load_state_dict({"weight": np.zeros((3, 3), np.float32), "bias": np.zeros(3, np.float32)}, assign=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        m.load_state_dict({"weight": np.zeros((3, 2), np.int64), "bias": np.zeros(3, np.float32)}, assign=True)
    with pytest.raises(RuntimeError, match="missing"):
        m.load_state_dict({"weight": np.zeros((3, 2), np.float32)}, assign=True)
    assert m.weight is weight and m.bias is bias
    out = m.load_state_dict({"weight": np.zeros((3, 2), np.float32), "extra": np.zeros(1)}, strict=False, assign=True)
    assert out.missing_keys == ["bias"] and out.unexpected_keys == ["extra"]
    assert m.weight is not weight and m.bias is bias


def test_load_state_dict_assign_trains_and_matches_torch():
    torch = torch_or_fail()
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 2))  # float64: assign keeps it
    b = rng.standard_normal(3).astype(np.float32)
    seen = []
    for lib in (nn, torch.nn):
        m = lib.Linear(2, 3)
        m.bias.requires_grad_(False)
        wt, bt = (w.copy(), b.copy()) if lib is nn else (torch.from_numpy(w.copy()), torch.from_numpy(b.copy()))
        m.load_state_dict({"weight": wt, "bias": bt}, assign=True)
        wt[0, 0] = 10.0  # shared memory in both
        seen.append((str(m.weight.dtype).replace("torch.", ""), str(m.bias.dtype).replace("torch.", ""),
                     m.weight.requires_grad, m.bias.requires_grad, type(m.weight).__name__,
                     float(m.weight.detach().numpy()[0, 0])))
    assert seen[0] == seen[1]
    # a Parameter given keeps its identity and takes the module's requires_grad, in both
    flags = []
    for lib, P in ((nn, lambda a: nn.Parameter(a, requires_grad=False)),
                   (torch.nn, lambda a: torch.nn.Parameter(torch.from_numpy(a), requires_grad=False))):
        m = lib.Linear(2, 3)
        pw, pb = P(w.astype(np.float32)), P(b)
        m.load_state_dict({"weight": pw, "bias": pb}, assign=True)
        flags.append((m.weight is pw, m.bias is pb, pw.requires_grad, pb.requires_grad))
    assert flags[0] == flags[1] == (True, True, True, True)


# ----------------------------------------------------------------------------- 2. type()


def test_type_casts_floating_parameters_buffers_and_grads():
    m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    m[0].weight.grad = np.ones((2, 2), np.float32)
    weight = m[0].weight
    assert m.type(np.float64) is m
    assert m[0].weight is weight and weight.dtype == np.float64 and weight.grad.dtype == np.float64
    assert m[1].running_mean.dtype == np.float64 and m[1].num_batches_tracked.dtype == np.int64
    m.type("torch.FloatTensor")
    assert weight.dtype == np.float32
    m.type("float64")
    assert weight.dtype == np.float64
    with pytest.raises(TypeError, match="float32 or float64"):
        m.type(np.int32)
    with pytest.raises(TypeError):
        m.type("no-such-type")


def test_type_matches_torch_on_floating_tensors():
    torch = torch_or_fail()
    got = []
    for lib, dt in ((nn, np.float64), (torch.nn, torch.float64)):
        m = lib.Sequential(lib.Linear(2, 2), lib.BatchNorm1d(2))
        m.type(dt)
        got.append([str(p.dtype).replace("torch.", "") for p in list(m.parameters()) + list(m.buffers())[:2]])
    assert got[0] == got[1] == ["float64"] * 6
    m = torch.nn.Sequential(torch.nn.Linear(2, 2))
    m.type(torch.float64)  # torch's own dtype object is understood too
    ours = nn.Sequential(nn.Linear(2, 2)).type(torch.float64)
    assert ours[0].weight.dtype == np.float64


# ----------------------------------------------------------------------------- 2. Sequential / ModuleList operations


def _seq(lib):
    return lib.Sequential(lib.ReLU(), lib.Tanh(), lib.Sigmoid())


def _describe(container):
    """Class name, child names, child classes, and which children are the same object."""
    mods = list(container)
    return (type(container).__name__, list(container._modules), [type(m).__name__ for m in mods],
            [mods.index(m) for m in mods])


def test_sequential_pop_add_mul_iadd_imul():
    s = _seq(nn)
    tanh = s[1]
    assert s.pop(1) is tanh and _describe(s) == ("Sequential", ["0", "1"], ["ReLU", "Sigmoid"], [0, 1])
    popped = _seq(nn).pop(slice(0, 2))
    assert _describe(popped)[:3] == ("Sequential", ["0", "1"], ["ReLU", "Tanh"])
    a, b = nn.Sequential(nn.ReLU()), nn.Sequential(nn.Tanh(), nn.Sigmoid())
    c = a + b
    assert _describe(c) == ("Sequential", ["0", "1", "2"], ["ReLU", "Tanh", "Sigmoid"], [0, 1, 2]) and c[1] is b[0]
    lin = nn.Linear(2, 2)
    d = nn.Sequential(lin, nn.ReLU()) * 3
    assert _describe(d) == ("Sequential", [str(i) for i in range(6)], ["Linear", "ReLU"] * 3, [0, 1, 0, 1, 0, 1])
    assert len(list(d.parameters())) == 2  # the same Linear three times
    assert _describe(2 * nn.Sequential(lin))[3] == [0, 0]
    e = nn.Sequential(nn.ReLU())
    same = e
    e += b
    assert e is same and list(e._modules) == ["0", "1", "2"]
    e *= 2
    assert e is same and len(e) == 6 and e[3] is e[0]
    with pytest.raises(ValueError):
        nn.Sequential() + nn.ModuleList()
    with pytest.raises(ValueError):
        e += [nn.ReLU()]
    with pytest.raises(ValueError):
        e * 0
    with pytest.raises(TypeError):
        e * 1.5
    x = nc.Tensor(np.array([[-1.0, 2.0]], np.float32))
    np.testing.assert_allclose((nn.Sequential(nn.ReLU()) + nn.Sequential(nn.Tanh()))(x).numpy(), np.tanh([[0.0, 2.0]]),
                               rtol=1e-6)


def test_modulelist_pop():
    ml = nn.ModuleList([nn.ReLU(), nn.Tanh(), nn.Sigmoid()])
    first = ml[0]
    assert ml.pop(0) is first and _describe(ml)[:3] == ("ModuleList", ["0", "1"], ["Tanh", "Sigmoid"])
    assert type(ml.pop(slice(0, 1))).__name__ == "ModuleList" and len(ml) == 1
    with pytest.raises(IndexError):
        ml.pop(5)


def test_container_operations_match_torch():
    results = []
    for lib in _libs():
        out = []
        s = _seq(lib)
        out.append(type(s.pop(1)).__name__)
        out.append(_describe(s))
        named = lib.Sequential(OrderedDict(a=lib.ReLU(), b=lib.Tanh()))
        out.append(_describe(named + _seq(lib)))
        out.append(_describe(named * 2))
        out.append(_describe(3 * lib.Sequential(lib.ReLU())))
        t = lib.Sequential(lib.ReLU())
        t += _seq(lib)
        out.append(_describe(t))
        t *= 2
        out.append(_describe(t))
        out.append(_outcome(lambda: lib.Sequential() + lib.ModuleList()))
        out.append(_outcome(lambda: lib.Sequential(lib.ReLU()) * 0))
        out.append(_outcome(lambda: lib.Sequential(lib.ReLU()) * 2.0))
        out.append(_outcome(lambda: lib.Sequential(lib.ReLU()).__iadd__([lib.ReLU()])))
        ml = lib.ModuleList([lib.ReLU(), lib.Tanh(), lib.Sigmoid()])
        out.append(type(ml.pop(-1)).__name__)
        out.append(_describe(ml))
        out.append(_describe(ml.pop(slice(0, 1))))
        out.append(_describe(ml))
        out.append(_describe(lib.ModuleList([lib.ReLU()]) + lib.Sequential(lib.Tanh())))
        results.append(out)
    assert results[0] == results[1]


def _check_subclass_slices(lib):
    class MySeq(lib.Sequential):
        pass

    class MyList(lib.ModuleList):
        pass

    s = MySeq(lib.ReLU(), lib.Tanh(), lib.Sigmoid())
    ml = MyList([lib.ReLU(), lib.Tanh()])
    assert type(s[0:2]) is MySeq and list(s[1:]._modules) == ["1", "2"]
    assert type(ml[0:1]) is MyList and type(ml[:]) is MyList
    assert type(s.pop(slice(0, 1))) is MySeq
    assert type(lib.Sequential(lib.ReLU())[:1]) is lib.Sequential
    assert type(lib.ModuleList([lib.ReLU()])[:1]) is lib.ModuleList


def test_slicing_a_subclass_gives_the_subclass():
    _check_subclass_slices(nn)


def test_slicing_a_subclass_matches_torch():
    _check_subclass_slices(_libs()[1])


# ----------------------------------------------------------------------------- 3. ModuleList repr


def _repr_cases(lib):
    lin = lib.Linear(4, 4)
    return [
        lib.ModuleList([lib.Linear(4, 4) for _ in range(3)]),
        lib.ModuleList(),
        lib.ModuleList([lib.ReLU()]),
        lib.ModuleList([lin, lin, lib.ReLU(), lib.ReLU(), lib.Linear(4, 4), lib.Linear(4, 5), lib.Linear(4, 5)]),
        lib.ModuleList([lib.ReLU(), lib.Tanh(), lib.ReLU(), lib.ReLU()]),
        lib.ModuleList([lib.Sequential(lib.Conv2d(1, 2, 3), lib.BatchNorm2d(2)) for _ in range(2)] + [lib.Tanh()]),
        lib.ModuleList([lib.ModuleList([lib.Tanh(), lib.Tanh(), lib.Dropout(0.1)]) for _ in range(2)]),
        lib.Sequential(lib.Conv2d(3, 8, 3, padding=1, bias=False),
                       lib.ModuleList([lib.Linear(2, 2) for _ in range(4)]), lib.ReLU(), lib.ReLU()),
    ]


def test_modulelist_repr_compresses_runs():
    assert repr(nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])) == (
        "ModuleList(\n  (0-2): 3 x Linear(in_features=4, out_features=4, bias=True)\n)")
    assert repr(nn.ModuleList()) == "ModuleList()"
    assert repr(nn.ModuleList([nn.ReLU(), nn.Tanh(), nn.ReLU(), nn.ReLU()])) == (
        "ModuleList(\n  (0): ReLU()\n  (1): Tanh()\n  (2-3): 2 x ReLU()\n)")
    assert repr(nn.Sequential(nn.ReLU(), nn.ReLU())) == "Sequential(\n  (0): ReLU()\n  (1): ReLU()\n)"  # not compressed

    class Blocks(nn.ModuleList):
        pass

    assert repr(Blocks([nn.ReLU(), nn.ReLU()])) == "Blocks(\n  (0-1): 2 x ReLU()\n)"


def test_modulelist_repr_matches_torch_byte_for_byte():
    ours, theirs = (_repr_cases(lib) for lib in _libs())
    for a, b in zip(ours, theirs):
        assert repr(a) == repr(b)


# ----------------------------------------------------------------------------- 4. deepcopy and .grad


def test_deepcopy_drops_grad_keeps_values_ties_and_requires_grad():
    lin = nn.Linear(2, 1)
    frozen = nn.Linear(1, 1)
    frozen.requires_grad_(False)
    m = nn.Sequential(lin, nn.ReLU(), frozen, lin)
    nn.Sequential(lin, nn.ReLU())(nc.Tensor(np.ones((1, 2), np.float32))).sum().backward()
    assert lin.weight.grad is not None
    c = copy.deepcopy(m)
    assert c[0].weight.grad is None and c[0].bias.grad is None
    assert lin.weight.grad is not None  # the original keeps its gradient
    assert c[0] is c[3] and c[0] is not lin  # ties kept
    assert isinstance(c[0].weight, nn.Parameter) and c[0].weight.requires_grad and not c[2].weight.requires_grad
    np.testing.assert_array_equal(c[0].weight.numpy(), lin.weight.numpy())
    c[0].weight.data[...] = 0  # a copy of the values
    assert np.any(lin.weight.numpy() != 0)
    p = nn.Parameter(np.ones(2, np.float32))
    p.grad = np.ones(2, np.float32)
    q = copy.deepcopy(p)
    assert q.grad is None and type(q) is nn.Parameter and q is not p
    pair = copy.deepcopy([p, p])
    assert pair[0] is pair[1]
    t = nc.Tensor(np.ones(2, np.float32), requires_grad=True)
    t.grad = np.ones(2, np.float32)
    assert copy.deepcopy(t).grad is not None  # a plain Tensor keeps it, as torch's


def test_deepcopy_grad_matches_torch():
    torch = torch_or_fail()
    got = []
    for lib, x in ((nn, nc.Tensor(np.ones((1, 2), np.float32))), (torch.nn, torch.ones(1, 2))):
        m = lib.Linear(2, 1)
        m(x).sum().backward()
        assert m.weight.is_leaf and m.weight.grad is not None
        c = copy.deepcopy(m)
        t = (nc.Tensor if lib is nn else torch.tensor)(np.ones(2, np.float32), requires_grad=True)
        t.grad = (np.ones(2, np.float32) if lib is nn else torch.ones(2))
        got.append((c.weight.grad is None, c.bias.grad is None, m.weight.grad is not None,
                    c.weight.requires_grad, copy.deepcopy(t).grad is not None))
    assert got[0] == got[1] == (True, True, True, True, True)


# ----------------------------------------------------------------------------- 5. to() with an unknown device


def test_to_unknown_device_is_a_value_error_naming_it():
    m = nn.Linear(2, 2)
    for device in ("tpu", "tpu:0", "xla", "mps", "cuda:1"):
        with pytest.raises(ValueError, match=repr(device)):
            m.to(device)
        with pytest.raises(ValueError, match="unknown device"):
            m.to(device=device)
    with pytest.raises(ValueError, match="'tpu'"):
        m.to("tpu", np.float64)
    assert m.weight.dtype == np.float32
    assert m.to("float64").weight.dtype == np.float64  # a dtype name is still a dtype
    assert m.to("cpu", non_blocking=True) is m
    with pytest.raises(TypeError, match="float32 or float64"):
        m.to("int32")


def test_to_unknown_device_is_refused_by_torch_too():
    torch = torch_or_fail()
    with pytest.raises(RuntimeError, match="tpu"):
        torch.nn.Linear(2, 2).to("tpu")
    with pytest.raises(ValueError, match="tpu"):
        nn.Linear(2, 2).to("tpu")


# ----------------------------------------------------------------------------- 6. ModuleDict.update errors


def test_moduledict_update_errors_and_nothing_added():
    d = nn.ModuleDict({"a": nn.ReLU()})
    with pytest.raises(ValueError, match="element #1 has length 3"):
        d.update([("b", nn.Tanh()), ("c", nn.ReLU(), 1)])
    with pytest.raises(TypeError):
        d.update([("b", nn.Tanh()), 5])
    with pytest.raises(TypeError):
        d.update(5)
    with pytest.raises(TypeError):
        d.update([("b", nn.Tanh()), ("c", 3)])
    with pytest.raises(TypeError):
        d.update([(1, nn.Tanh())])
    assert list(d) == ["a"]
    d.update([["b", nn.Tanh()], ("c", nn.ReLU())])
    d.update(OrderedDict(z=nn.Sigmoid()))
    assert list(d) == ["a", "b", "c", "z"]


def test_moduledict_update_errors_match_torch():
    results = []
    for lib in _libs():
        d = lib.ModuleDict()
        results.append([_outcome(lambda arg=arg: d.update(arg)) for arg in (
            [("a", lib.ReLU(), 1)], [("a",)], [5], 5, [("a", 3)], ["ab"], [("a", lib.ReLU())])] + [list(d)])
    assert results[0] == results[1]


# ----------------------------------------------------------------------------- 7. models: argument checks, weights=None


@pytest.mark.parametrize("call, names", [
    (lambda: models.resnet18(num_classes=0), ["ResNet", "num_classes", "0"]),
    (lambda: models.resnet50(groups=0), ["ResNet", "groups", "0"]),
    (lambda: models.resnet50(width_per_group=0), ["ResNet", "width_per_group", "0"]),
    (lambda: models.resnet18_cifar(in_channels=-1), ["ResNet", "in_channels", "-1"]),
    (lambda: models.ResNet(models.BasicBlock, [0, -1, 2, 2]), ["ResNet", "layers[0]", "0"]),
    (lambda: models.ResNet(models.BasicBlock, [2, 2, 2]), ["ResNet", "layers"]),
    (lambda: models.encoder_decoder(width=0), ["EncoderDecoder", "width", "0"]),
    (lambda: models.encoder_decoder(num_classes=True), ["EncoderDecoder", "num_classes", "True"]),
    (lambda: models.vgg16(num_classes=-1), ["VGG", "num_classes", "-1"]),
    (lambda: models.vgg([64, "X", 512]), ["VGG", "cfg[1]", "'X'"]),
    (lambda: models.vgg("A", in_channels=0), ["VGG", "in_channels", "0"]),
    (lambda: models.vgg11(dropout=1.5), ["VGG", "dropout", "1.5"]),
    (lambda: models.nin(num_classes=0), ["NIN", "num_classes", "0"]),
    (lambda: models.lenet5(num_classes=2.5), ["LeNet5", "num_classes", "2.5"]),
    (lambda: models.lenet5(in_channels="1"), ["LeNet5", "in_channels", "'1'"]),
    (lambda: models.alexnet(num_classes=0), ["AlexNet", "num_classes", "0"]),
    (lambda: models.googlenet(num_classes="10"), ["GoogLeNet", "num_classes", "'10'"]),
    (lambda: models.googlenet(dropout=-0.1), ["GoogLeNet", "dropout", "-0.1"]),
])
def test_model_arguments_are_checked_up_front_by_name(call, names):
    with pytest.raises(ValueError) as info:
        call()
    msg = str(info.value)
    assert all(n in msg for n in names), msg
    assert "out_channels" not in msg and "out_features" not in msg


def test_model_dropout_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="dropout"):
        models.nin(dropout="0.5")


def test_get_model_accepts_weights_none_and_refuses_weights():
    m = models.get_model("lenet5", weights=None, num_classes=3)
    assert isinstance(m, models.LeNet5) and m.classifier[4].out_features == 3
    assert isinstance(models.lenet5(weights=None), models.LeNet5)
    assert isinstance(models.get_model("encoder_decoder", weights=None, width=2), models.EncoderDecoder)
    for weights in ("DEFAULT", "IMAGENET1K_V1", True):
        with pytest.raises(ValueError, match="no pretrained weights") as info:
            models.get_model("resnet18", weights=weights)
        assert repr(weights) in str(info.value)
    for builder in (models.resnet18, models.resnet50, models.vgg16, models.alexnet, models.googlenet, models.nin,
                    models.lenet5, models.encoder_decoder, models.resnet18_cifar):
        with pytest.raises(ValueError, match="no pretrained weights"):
            builder(weights="DEFAULT")
    with pytest.raises(ValueError, match="vgg11_bn"):
        models.get_model("VGG11_BN", weights="DEFAULT")


def test_tiny_models_still_build_and_run():
    x = nc.Tensor(np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32))
    assert models.lenet5(num_classes=np.int64(4))(x).shape == (2, 4)
    seg = models.encoder_decoder(in_channels=1, num_classes=np.int32(3), width=2).eval()
    assert seg(nc.Tensor(np.ones((1, 1, 9, 7), np.float32))).shape == (1, 3, 9, 7)
