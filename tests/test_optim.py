"""Optimizers and LR schedulers against torch.optim (for-loop implementations), state_dict round trips, errors."""
import copy
import warnings

import numpy as np
import pytest

import numconv as nc
from numconv import optim
from numconv.optim import lr_scheduler

SHAPES = [(3, 4), (7,), (2, 3, 2), ()]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.7, nesterov=True, weight_decay=0.05)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.02, weight_decay=0.1)),
    ("Adam", dict(lr=0.02, amsgrad=True)),
    ("Adam", dict(lr=0.02, betas=(0.3, 0.7), eps=1e-6, weight_decay=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.02)),
    ("AdamW", dict(lr=0.02, betas=(0.3, 0.7), weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.3, centered=True, momentum=0.5, weight_decay=0.1, eps=1e-5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.02, weight_decay=0.05, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.02, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6)),
    ("Adagrad", dict(lr=0.05, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.02, betas=(0.3, 0.7), eps=1e-6, weight_decay=0.1)),
    ("Adamax", dict(lr=0.02, weight_decay=0.05, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.02, weight_decay=0.1, momentum_decay=0.05)),
    ("NAdam", dict(lr=0.02, betas=(0.3, 0.7), eps=1e-6, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.02, weight_decay=0.05, decoupled_weight_decay=True, maximize=True)),
    ("NAdam", dict(lr=0.02, betas=(0.0, 0.0), momentum_decay=0.0)),
    ("RAdam", dict()),  # rho_t > 5 from step 6: both branches
    ("RAdam", dict(lr=0.02, betas=(0.5, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=0.02, eps=1e-6, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.02, betas=(0.8, 0.95), weight_decay=0.05, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.02, betas=(0.9, 0.6))),  # rho_inf = 4: never rectified
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.5, rho=0.95, weight_decay=0.05, maximize=True)),
    ("Adadelta", dict(lr=0.1, rho=1.0)),
    ("Adadelta", dict(lr=0.1, rho=0.0)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2))),  # both clamps reached
    ("Rprop", dict(lr=0.02, maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=5, weight_decay=0.1)),  # averaging from step 6
    ("ASGD", dict(lr=0.05, t0=0, maximize=True)),
]
# one configuration of each optimizer, for the tests too slow to run them all
EACH = [CONFIGS[i] for i in (4, 8, 10, 14, 20, 23, 27, 31, 36, 41, 44)]


def _ids(c):
    def show(v):
        return f"[{','.join(map(show, v))}]" if isinstance(v, list) else str(getattr(v, "__name__", v))

    return c[0] + "-" + "-".join(f"{k}={show(v)}" for k, v in c[1].items())


def _pair(torch, rng, dtype):
    init = [np.asarray(rng.standard_normal(s), dtype=dtype) for s in SHAPES]
    ours = [nc.Tensor(a.copy(), requires_grad=True) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    return ours, theirs


def _set_grads(torch, ours, theirs, grads):
    for p, t, g in zip(ours, theirs, grads):
        p.grad = None if g is None else nc.Tensor(g.copy())
        t.grad = None if g is None else torch.from_numpy(g.copy())


def _grads(rng, dtype, step):
    gs = [np.asarray(rng.standard_normal(s), dtype=dtype) for s in SHAPES]
    if step % 4 == 3:
        gs[1] = None  # a parameter without a gradient is skipped (and its state left alone)
    return gs


def _assert_params(ours, theirs, dtype, what=""):
    for i, (p, t) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(p.data, t.detach().numpy(), err_msg=f"{what} param {i}", **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
def test_matches_torch(torch, rng, config, dtype):
    name, kw = config
    ours, theirs = _pair(torch, rng, dtype)
    opt = getattr(optim, name)(ours, **kw)
    ref = getattr(torch.optim, name)(theirs, foreach=False, **kw)
    for step in range(24):
        _set_grads(torch, ours, theirs, _grads(rng, dtype, step))
        opt.step()
        ref.step()
        _assert_params(ours, theirs, dtype, f"step {step}")
    for p, t in zip(ours, theirs):  # the buffers match too
        for key, buf in opt.state[p].items():
            if key != "step":
                np.testing.assert_allclose(buf, ref.state[t][key].numpy(), err_msg=key, **TOL[dtype])
        assert p.data.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("config", EACH, ids=_ids)
def test_large_parameters_use_the_threaded_kernels(torch, rng, config, dtype):
    from numconv.ops.optim import PARALLEL_MIN_SIZE

    name, kw = config
    init = np.asarray(rng.standard_normal(PARALLEL_MIN_SIZE + 3), dtype=dtype)
    ours, theirs = [nc.Tensor(init.copy(), requires_grad=True)], [torch.tensor(init.copy(), requires_grad=True)]
    opt = getattr(optim, name)(ours, **kw)
    ref = getattr(torch.optim, name)(theirs, foreach=False, **kw)
    for step in range(5):
        _set_grads(torch, ours, theirs, [np.asarray(rng.standard_normal(init.shape), dtype=dtype)])
        opt.step()
        ref.step()
    _assert_params(ours, theirs, dtype)


def test_param_groups_with_own_hyperparameters_and_lr_changes(torch, rng):
    ours, theirs = _pair(torch, rng, np.float64)
    groups = lambda ps: [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.3, "momentum": 0.5, "nesterov": True}]
    opt = optim.SGD(groups(ours), lr=0.1, momentum=0.9, weight_decay=0.01)
    ref = torch.optim.SGD(groups(theirs), lr=0.1, momentum=0.9, weight_decay=0.01, foreach=False)
    assert opt.param_groups[1]["lr"] == 0.3 and opt.param_groups[0]["lr"] == 0.1
    assert opt.param_groups[1]["weight_decay"] == 0.01  # defaults fill what a group does not set
    for step in range(12):
        if step == 6:
            for g in opt.param_groups + ref.param_groups:
                g["lr"] *= 0.5
        _set_grads(torch, ours, theirs, _grads(rng, np.float64, step))
        opt.step()
        ref.step()
    _assert_params(ours, theirs, np.float64)


def test_named_parameters_as_torch(torch, rng, tmp_path):
    """(name, parameter) pairs, as model.named_parameters() gives: the same steps as torch's, the names
    kept as the group's 'param_names' through state_dict, a checkpoint and a torch state dict; the
    state keyed by ints, as torch's."""
    from numconv import checkpoint

    ours, theirs = _pair(torch, rng, np.float64)
    names = [f"p{i}" for i in range(len(ours))]
    opt = optim.Adam(list(zip(names, ours)), lr=0.05, weight_decay=0.1)
    ref = torch.optim.Adam(list(zip(names, theirs)), lr=0.05, weight_decay=0.1, foreach=False)
    for step in range(3):
        _set_grads(torch, ours, theirs, _grads(rng, np.float64, step))
        opt.step()
        ref.step()
    _assert_params(ours, theirs, np.float64)
    sd = opt.state_dict()
    assert sd["param_groups"][0]["param_names"] == ref.state_dict()["param_groups"][0]["param_names"] == names
    assert list(sd["state"]) == list(ref.state_dict()["state"]) == list(range(len(ours)))
    checkpoint.save(tmp_path / "o.npz", sd)
    again = optim.Adam(ours, lr=1.0)
    again.load_state_dict(checkpoint.load(tmp_path / "o.npz"))
    assert again.param_groups[0]["param_names"] == names and again.param_groups[0]["lr"] == 0.05
    from_torch = optim.Adam(ours, lr=1.0)
    from_torch.load_state_dict(ref.state_dict())
    assert from_torch.param_groups[0]["param_names"] == names
    with pytest.raises(ValueError, match="all parameters or all \\(name, parameter\\) pairs"):
        optim.SGD([("a", ours[0]), ours[1]], lr=0.1)


def test_add_param_group(torch, rng):
    ours, theirs = _pair(torch, rng, np.float64)
    opt = optim.Adam(ours[:2], lr=0.01)
    ref = torch.optim.Adam(theirs[:2], lr=0.01, foreach=False)
    opt.add_param_group({"params": ours[2:], "lr": 0.05, "amsgrad": True})
    ref.add_param_group({"params": theirs[2:], "lr": 0.05, "amsgrad": True})
    for step in range(10):
        _set_grads(torch, ours, theirs, _grads(rng, np.float64, step))
        opt.step()
        ref.step()
    _assert_params(ours, theirs, np.float64)
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": [ours[0]]})


def _all_plain(obj):
    if isinstance(obj, dict):
        return all(isinstance(k, (str, int)) and _all_plain(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return all(_all_plain(v) for v in obj)
    return isinstance(obj, (np.ndarray, bool, int, float))


@pytest.mark.parametrize("config", EACH, ids=_ids)
def test_state_dict_round_trip_continues_identically(rng, config, tmp_path):
    name, kw = config
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [_grads(rng, np.float64, k) for k in range(16)]

    def run(params, opt, steps):
        for g in steps:
            for p, gi in zip(params, g):
                p.grad = None if gi is None else nc.Tensor(gi.copy())
            opt.step()

    a = [nc.Tensor(x.copy(), requires_grad=True) for x in init]
    opt_a = getattr(optim, name)(a, **kw)
    run(a, opt_a, grads[:8])
    saved = opt_a.state_dict()
    assert _all_plain(saved)
    snapshot = {k: {n: np.copy(v) for n, v in s.items()} for k, s in saved["state"].items()}
    run(a, opt_a, grads[8:])
    for k, s in saved["state"].items():  # state_dict() holds copies, not the live buffers
        for n, v in s.items():
            np.testing.assert_array_equal(v, snapshot[k][n])

    # a fresh optimizer over the checkpointed parameters, loaded from a file, continues identically
    b = [nc.Tensor(x.copy(), requires_grad=True) for x in init]
    run(b, getattr(optim, name)(b, **kw), grads[:8])
    checkpoint = pytest.importorskip("numconv.checkpoint")
    checkpoint.save(tmp_path / "opt.npz", {"optimizer": saved})
    opt_b = getattr(optim, name)(b, lr=123.0)
    opt_b.load_state_dict(checkpoint.load(tmp_path / "opt.npz")["optimizer"])
    assert opt_b.param_groups[0]["lr"] == kw.get("lr", opt_a.defaults["lr"])
    run(b, opt_b, grads[8:])
    for pa, pb in zip(a, b):
        np.testing.assert_array_equal(pa.data, pb.data)


def test_load_state_dict_checks_structure(rng):
    ps = [nc.Tensor(rng.standard_normal(s), requires_grad=True) for s in SHAPES]
    opt = optim.Adam(ps)
    for p in ps:
        p.grad = nc.Tensor(rng.standard_normal(p.shape))
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="parameters"):
        optim.Adam(ps[:2]).load_state_dict(sd)
    other = [nc.Tensor(rng.standard_normal((5,) + s), requires_grad=True) for s in SHAPES]
    with pytest.raises(ValueError, match="shape"):
        optim.Adam(other).load_state_dict(sd)


def test_zero_grad_skip_and_closure(rng):
    p = nc.Tensor(rng.standard_normal(4), requires_grad=True)
    q = nc.Tensor(rng.standard_normal(4), requires_grad=True)
    q0 = q.data.copy()
    opt = optim.Adam([p, q], lr=0.1)
    p.grad = nc.Tensor(np.ones(4))
    assert opt.step(closure=lambda: 3.5) == 3.5
    np.testing.assert_array_equal(q.data, q0)  # no gradient: untouched, no state
    assert p in opt.state and q not in opt.state
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.data, np.zeros(4))
    opt.zero_grad()
    assert p.grad is None and q.grad is None


def test_updates_in_place_even_for_a_non_contiguous_parameter(rng):
    base = rng.standard_normal((4, 6))
    view = base[:, ::2]
    p = nc.Tensor(np.zeros(1), requires_grad=True)
    p.data = view
    expected = view - 0.1 * np.ones((4, 3))
    p.grad = nc.Tensor(np.ones((4, 3)))
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(base[:, ::2], expected, rtol=1e-15)
    assert p.data is view


def test_gradient_mismatches_are_errors(rng):
    p = nc.Tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="dtype"):  # a Tensor refuses them when assigned, as torch
        p.grad = nc.Tensor(np.ones(3))
    with pytest.raises(ValueError, match="shape"):
        p.grad = nc.Tensor(np.ones(4, np.float32))
    from types import SimpleNamespace  # any object with .data and .grad is a parameter: the step checks it

    q = SimpleNamespace(data=rng.standard_normal(3).astype(np.float32), grad=np.ones(3))  # float64 gradient
    opt = optim.SGD([q], lr=0.1)
    with pytest.raises(TypeError, match="dtype"):
        opt.step()
    q.grad = np.ones(4, np.float32)
    with pytest.raises(ValueError, match="shape"):
        opt.step()


@pytest.mark.parametrize("make, match", [
    (lambda ps: optim.SGD(ps, lr=-0.1), "lr"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-0.5), "momentum"),
    (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-1), "weight_decay"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), "nesterov"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), r"betas\[0\]"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), r"betas\[1\]"),
    (lambda ps: optim.AdamW(ps, lr=-1e-3), "lr"),
    (lambda ps: optim.Adam(ps, eps=-1.0), "eps"),
    (lambda ps: optim.RMSprop(ps, alpha=-0.1), "alpha"),
    (lambda ps: optim.RMSprop(ps, momentum=-0.1), "momentum"),
    (lambda ps: optim.Adagrad(ps, lr_decay=-0.1), "lr_decay"),
    (lambda ps: optim.Adagrad(ps, initial_accumulator_value=-1.0), "initial_accumulator_value"),
    (lambda ps: optim.Adamax(ps, lr=-1e-3), "lr"),
    (lambda ps: optim.Adamax(ps, betas=(0.9, 1.0)), r"betas\[1\]"),
    (lambda ps: optim.Adamax(ps, eps=-1e-8), "eps"),
    (lambda ps: optim.NAdam(ps, momentum_decay=-4e-3), "momentum_decay"),
    (lambda ps: optim.NAdam(ps, betas=(-0.1, 0.999)), r"betas\[0\]"),
    (lambda ps: optim.NAdam(ps, weight_decay=-0.1, decoupled_weight_decay=True), "weight_decay"),
    (lambda ps: optim.RAdam(ps, betas=(0.9, 1.5)), r"betas\[1\]"),
    (lambda ps: optim.RAdam(ps, weight_decay=-0.1), "weight_decay"),
    (lambda ps: optim.RAdam(ps, lr=float("nan")), "lr"),
    (lambda ps: optim.Adadelta(ps, rho=1.1), "rho"),
    (lambda ps: optim.Adadelta(ps, rho=-0.1), "rho"),
    (lambda ps: optim.Adadelta(ps, eps=-1e-6), "eps"),
    (lambda ps: optim.Adadelta(ps, lr=-1.0), "lr"),
    (lambda ps: optim.Rprop(ps, etas=(1.0, 1.2)), "etas must be"),
    (lambda ps: optim.Rprop(ps, etas=(0.5, 0.9)), "etas must be"),
    (lambda ps: optim.Rprop(ps, etas=(0.0, 1.2)), r"etas\[0\]"),
    (lambda ps: optim.Rprop(ps, step_sizes=(1.0, 0.5)), "step_sizes must be"),
    (lambda ps: optim.Rprop(ps, step_sizes=(-1.0, 0.5)), r"step_sizes\[0\]"),
    (lambda ps: optim.ASGD(ps, lambd=-1e-4), "lambd"),
    (lambda ps: optim.ASGD(ps, t0=float("inf")), "t0"),
    (lambda ps: optim.SGD([{"params": ps, "lr": -1.0}], lr=0.1), "lr"),
    (lambda ps: optim.SGD([], lr=0.1), "empty"),
    (lambda ps: optim.SGD(ps + ps[:1], lr=0.1), "more than once"),
])
def test_bad_hyperparameters_raise_value_error(make, match):
    ps = [nc.Tensor(np.zeros(2), requires_grad=True)]
    with pytest.raises(ValueError, match=match):
        make(ps)


@pytest.mark.parametrize("make, match", [
    (lambda ps: optim.Adamax(ps, betas=0.9), "betas must be a pair"),
    (lambda ps: optim.NAdam(ps, betas=(0.9, 0.99, 0.999)), "betas must be a pair"),
    (lambda ps: optim.NAdam(ps, decoupled_weight_decay="yes"), "decoupled_weight_decay"),
    (lambda ps: optim.RAdam(ps, maximize=1), "maximize"),
    (lambda ps: optim.RAdam(ps, eps="1e-8"), "eps"),
    (lambda ps: optim.Adadelta(ps, rho=None), "rho"),
    (lambda ps: optim.Rprop(ps, etas=0.5), "etas must be a pair"),
    (lambda ps: optim.ASGD(ps, alpha="0.75"), "alpha"),
])
def test_hyperparameters_of_the_wrong_kind_raise_type_error(make, match):
    ps = [nc.Tensor(np.zeros(2), requires_grad=True)]
    with pytest.raises(TypeError, match=match):
        make(ps)


FROM_TORCH = [c for c in CONFIGS if c[0] in ("Adamax", "NAdam", "RAdam", "Adadelta") and "maximize" in c[1]] + \
    [CONFIGS[i] for i in (27, 30)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("config", FROM_TORCH, ids=_ids)
def test_a_torch_state_dict_loads_and_the_run_continues_as_torch(torch, rng, config, dtype):
    """torch's state (0-d float32 tensors for ``step`` and NAdam's ``mu_product``, tensor buffers)
    loads into a numconv optimizer made with other hyperparameters; both then go on together, and
    numconv's own state_dict loads back into torch's."""
    name, kw = config
    ours, theirs = _pair(torch, rng, dtype)
    ref = getattr(torch.optim, name)(theirs, foreach=False, **kw)
    for step in range(4):  # RAdam's default betas: unrectified up to step 5, rectified from step 6
        _set_grads(torch, ours, theirs, _grads(rng, dtype, step))
        ref.step()
    for p, t in zip(ours, theirs):
        p.data[...] = t.detach().numpy()
    opt = getattr(optim, name)(ours, lr=123.0)
    opt.load_state_dict(ref.state_dict())
    assert opt.param_groups[0]["lr"] == ref.param_groups[0]["lr"]
    for p, t in zip(ours, theirs):
        assert set(opt.state[p]) == set(ref.state[t])
        assert all(type(v) in (int, float) for k, v in opt.state[p].items() if k not in opt._buffers)
    back = getattr(torch.optim, name)([torch.tensor(p.data.copy(), requires_grad=True) for p in ours],
                                      foreach=False, lr=123.0)
    mine = opt.state_dict()  # torch's int keys (under string ones torch would drop the state silently)
    assert all(type(k) is int for k in mine["state"])
    back.load_state_dict({"param_groups": mine["param_groups"], "state": {  # buffers as tensors, as torch keeps them
        k: {n: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for n, v in s.items()}
        for k, s in mine["state"].items()}})
    for step in range(4, 12):
        grads = _grads(rng, dtype, step)
        _set_grads(torch, ours, theirs, grads)
        for t, g in zip(back.param_groups[0]["params"], grads):
            t.grad = None if g is None else torch.from_numpy(g.copy())
        opt.step()
        ref.step()
        back.step()
        _assert_params(ours, theirs, dtype, f"step {step}")
        _assert_params(ours, back.param_groups[0]["params"], dtype, f"torch from numconv, step {step}")
    for p, t in zip(ours, theirs):
        assert opt.state[p]["step"] == ref.state[t]["step"].item()
        if name == "NAdam":
            assert opt.state[p]["mu_product"] == ref.state[t]["mu_product"].item()  # float32-rounded, as torch's


@pytest.mark.parametrize("value", [float("nan"), "0.5", None, np.array([0.5, 0.5])])
def test_a_nadam_mu_product_that_is_not_a_number_is_refused(value):
    p = nc.nn.Parameter(np.ones(3))
    opt = optim.NAdam([p])
    p.grad = nc.Tensor(np.ones(3))
    opt.step()
    sd = opt.state_dict()
    good = sd["state"][0]["mu_product"]
    sd["state"][0]["mu_product"] = value
    with pytest.raises(ValueError, match="'mu_product'.* must be a finite real number"):
        opt.load_state_dict(sd)
    assert opt.state[p]["mu_product"] == good
    del sd["state"][0]["mu_product"]
    with pytest.raises(ValueError, match=r"lacks \['mu_product'\]"):
        opt.load_state_dict(sd)


# ---------------------------------------------------------------------------- schedulers
def _decay(epoch):
    return 0.9 ** epoch


def _shrink(epoch):
    return 0.8 if epoch % 3 else 1.1


class _Warmup:
    """A callable object: its ``__dict__`` is in the scheduler's state, as torch saves it."""

    def __init__(self, steps):
        self.steps, self.calls = steps, 0

    def __call__(self, epoch):
        self.calls += 1
        return min(1.0, (epoch + 1) / self.steps) * 0.97 ** self.calls

    def __repr__(self):
        return f"Warmup({self.steps})"


def _own(kw):
    """``kw`` with fresh ``_Warmup`` objects: each scheduler counts its own calls."""
    def own(x):
        return _Warmup(x.steps) if isinstance(x, _Warmup) else x

    return {k: [own(x) for x in v] if isinstance(v, list) else own(v) for k, v in kw.items()}


SCHEDULERS = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("StepLR", dict(step_size=1)),
    ("CosineAnnealingLR", dict(T_max=5)),
    ("CosineAnnealingLR", dict(T_max=4, eta_min=0.01)),
    ("MultiStepLR", dict(milestones=[3, 7, 7, 12], gamma=0.5)),  # a repeated milestone: gamma^2 there
    ("MultiStepLR", dict(milestones=[9, 2])),  # any order, as torch's Counter
    ("ExponentialLR", dict(gamma=0.9)),
    ("LambdaLR", dict(lr_lambda=_decay)),
    ("LambdaLR", dict(lr_lambda=[_decay, _Warmup(4)])),
    ("MultiplicativeLR", dict(lr_lambda=_shrink)),
    ("MultiplicativeLR", dict(lr_lambda=[_shrink, _decay])),
    ("ConstantLR", dict()),
    ("ConstantLR", dict(factor=0.5, total_iters=3)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.0, total_iters=10)),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.6, total_iters=4)),
    ("PolynomialLR", dict()),
    ("PolynomialLR", dict(total_iters=8, power=2.0)),
    ("PolynomialLR", dict(total_iters=20, power=0.5)),
    ("CosineAnnealingWarmRestarts", dict(T_0=3)),
    ("CosineAnnealingWarmRestarts", dict(T_0=2, T_mult=2, eta_min=0.01)),  # restarts at 2, 6, 14
    ("OneCycleLR", dict(max_lr=[1.0, 0.5], total_steps=25)),
    ("OneCycleLR", dict(max_lr=0.8, total_steps=25, anneal_strategy="linear", three_phase=True)),
    ("OneCycleLR", dict(max_lr=[0.5, 2.0], epochs=5, steps_per_epoch=5, pct_start=0.4, div_factor=10.0,
                        final_div_factor=100.0, base_momentum=0.8, max_momentum=[0.9, 0.99], three_phase=True)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=30, cycle_momentum=False)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=[0.1, 0.5], step_size_up=3)),
    ("CyclicLR", dict(base_lr=[0.01, 0.05], max_lr=0.2, step_size_up=2, step_size_down=4, mode="triangular2",
                      base_momentum=[0.7, 0.5], max_momentum=0.95)),
    ("CyclicLR", dict(base_lr=0.02, max_lr=0.3, step_size_up=4, mode="exp_range", gamma=0.93)),
    ("CyclicLR", dict(base_lr=0.02, max_lr=0.3, step_size_up=2.5, step_size_down=1.5, scale_fn=_decay,
                      scale_mode="iterations", cycle_momentum=False)),
    ("CyclicLR", dict(base_lr=0.02, max_lr=0.3, step_size_up=3, step_size_down=0, scale_fn=_Warmup(2))),
]


def _two_group_opts(torch):
    p = [nc.Tensor(np.zeros(2), requires_grad=True), nc.Tensor(np.zeros(2), requires_grad=True)]
    t = [torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)]
    opt = optim.SGD([{"params": p[:1]}, {"params": p[1:], "lr": 0.3}], lr=0.1)
    ref = torch.optim.SGD([{"params": t[:1]}, {"params": t[1:], "lr": 0.3}], lr=0.1)
    return opt, ref


@pytest.mark.parametrize("config", SCHEDULERS, ids=_ids)
def test_scheduler_matches_torch(torch, config):
    name, kw = config
    opt, ref = _two_group_opts(torch)
    ours = getattr(lr_scheduler, name)(opt, **_own(kw))
    theirs = getattr(torch.optim.lr_scheduler, name)(ref, **_own(kw))
    assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in range(25):
            opt.step()
            ref.step()
            ours.step()
            theirs.step()
            np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, atol=1e-15)
            assert [g["lr"] for g in opt.param_groups] == ours.get_last_lr()
            # OneCycleLR cycles SGD's momentum (both have the key, so torch cycles it too); the others leave it
            np.testing.assert_allclose([g["momentum"] for g in opt.param_groups],
                                       [g["momentum"] for g in ref.param_groups], rtol=1e-12, atol=1e-15)
        for epoch in (7, 0, 3):  # jumping to an epoch uses the closed form where torch has one
            ours.step(epoch)
            theirs.step(epoch)
            np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, atol=1e-15)
    assert ours.last_epoch == theirs.last_epoch == 3


def _storable(obj):
    """What ``numconv.checkpoint`` stores: numbers, bools, strings, None, lists, and dicts with string keys."""
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _storable(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return all(_storable(v) for v in obj)
    return obj is None or isinstance(obj, (bool, int, float, str))


def _fresh(config):
    """A scheduler of ``config`` over a fresh two-group SGD (the lambdas' objects fresh too)."""
    name, kw = config
    opt = optim.SGD([{"params": [nc.Tensor(np.zeros(2), requires_grad=True)]},
                     {"params": [nc.Tensor(np.zeros(2), requires_grad=True)], "lr": 0.3}], lr=0.1)
    return opt, getattr(lr_scheduler, name)(opt, **_own(kw))


@pytest.mark.parametrize("config", SCHEDULERS, ids=_ids)
def test_scheduler_state_dict_round_trip(config, tmp_path):
    opt_a, a = _fresh(config)
    for _ in range(6):
        a.step()
    sd = a.state_dict()
    assert _storable(sd)
    checkpoint = pytest.importorskip("numconv.checkpoint")
    checkpoint.save(tmp_path / "s.npz", {"scheduler": sd, "optimizer": opt_a.state_dict()})
    back = checkpoint.load(tmp_path / "s.npz")
    opt_b, b = _fresh(config)  # the scheduler first, then the optimizer's state, as torch advises
    opt_b.load_state_dict(back["optimizer"])
    b.load_state_dict(back["scheduler"])
    assert b.state_dict() == sd
    for _ in range(9):
        a.step()
        b.step()
        assert a.get_last_lr() == b.get_last_lr()
        assert [g["momentum"] for g in opt_a.param_groups] == [g["momentum"] for g in opt_b.param_groups]


def test_a_torch_optimizer_state_is_copied_not_shared(torch):
    """Loading a PyTorch Adam's state_dict takes its step counter's value: numconv's ``step += 1``
    used to change torch's own counter tensor in place."""
    tp = torch.nn.Parameter(torch.ones(3))
    topt = torch.optim.Adam([tp], lr=0.1)
    tp.grad = torch.ones(3)
    topt.step()
    p = nc.nn.Parameter(np.ones(3, np.float32))
    opt = optim.Adam([p], lr=0.1)
    opt.load_state_dict(topt.state_dict())
    assert opt.state[p]["step"] == 1 and type(opt.state[p]["step"]) is int
    p.grad = nc.Tensor(np.ones(3, np.float32))
    opt.step()
    opt.step()
    assert topt.state[tp]["step"].item() == 1.0 and opt.state[p]["step"] == 3


@pytest.mark.parametrize("step", [-1, 2.5, "3", True, float("nan"), np.array([1, 2])])
def test_a_step_counter_that_is_not_a_count_is_refused(step):
    p = nc.nn.Parameter(np.ones(3))
    opt = optim.Adam([p], lr=0.1)
    p.grad = nc.Tensor(np.ones(3))
    opt.step()
    sd = opt.state_dict()
    next(iter(sd["state"].values()))["step"] = step
    with pytest.raises(ValueError, match="'step'.* must be a whole number >= 0"):
        opt.load_state_dict(sd)
    assert opt.state[p]["step"] == 1  # unchanged


CROSS = [("StepLR", dict(step_size=3, gamma=0.5)), ("CosineAnnealingLR", dict(T_max=5)),
         ("MultiStepLR", dict(milestones=[2, 5, 5, 9])), ("LinearLR", dict(start_factor=0.25, total_iters=6)),
         ("PolynomialLR", dict(total_iters=9, power=1.5)), ("CosineAnnealingWarmRestarts", dict(T_0=2, T_mult=2)),
         ("OneCycleLR", dict(max_lr=1.0, total_steps=20, three_phase=True)), ("LambdaLR", dict(lr_lambda=[_Warmup(6)])),
         ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=2, step_size_down=3, mode="exp_range", gamma=0.9)),
         ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, scale_fn=_Warmup(3), scale_mode="iterations"))]


@pytest.mark.parametrize("name, kw", CROSS, ids=[_ids(c) for c in CROSS])
def test_scheduler_state_dicts_cross_with_torch_and_are_checked(torch, name, kw):
    """A PyTorch scheduler's state_dict loads into numconv's (and numconv's into PyTorch's, but for
    MultiStepLR's, whose milestones torch keeps as a Counter), and the schedules go on identically
    (a callable lr_lambda's attributes too); entries of the wrong kind are a ValueError naming them,
    and leave the scheduler as it was."""
    tp = torch.nn.Parameter(torch.ones(1))
    topt = torch.optim.SGD([tp], lr=0.1)
    ts = getattr(torch.optim.lr_scheduler, name)(topt, **_own(kw))
    for _ in range(4):
        topt.step()
        ts.step()
    opt = optim.SGD([nc.Tensor(np.zeros(1), requires_grad=True)], lr=0.1)
    ours = getattr(lr_scheduler, name)(opt, **_own(kw))
    ours.load_state_dict(ts.state_dict())
    opt.param_groups[0]["lr"] = topt.param_groups[0]["lr"]
    for _ in range(7):
        topt.step()
        ts.step()
        ours.step()
        assert ours.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-15)
    if name != "MultiStepLR":
        for _ in range(2):
            ours.step()
        ts.load_state_dict(ours.state_dict())
        topt.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
        for _ in range(5):
            topt.step()
            ts.step()
            ours.step()
            assert ours.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-15)
            assert opt.param_groups[0]["momentum"] == pytest.approx(topt.param_groups[0]["momentum"], rel=1e-15)
    good = ours.state_dict()
    for change, words in [(dict(last_epoch=-2), "'last_epoch' must be a whole number >= -1"),
                          (dict(base_lrs=[0.1, 0.2]), "'base_lrs' must be a list of 1"),
                          (dict(_last_lr=[float("nan")]), "'_last_lr' must be a finite number"),
                          (dict(_step_count="2"), "'_step_count' must be a finite number"),
                          (dict(surprise=1), "has entries \\['surprise'\\]")]:
        with pytest.raises(ValueError, match=words):
            ours.load_state_dict({**good, **change})
        assert ours.state_dict() == good
    with pytest.raises(ValueError, match="it lacks \\['last_epoch'\\]"):
        ours.load_state_dict({k: v for k, v in good.items() if k != "last_epoch"})


class _NoMomentum(optim.Optimizer):
    """An optimizer with neither momentum nor betas (as Adagrad and Adadelta), of no class numconv has."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, dict(lr=lr))


def _two_group(name="SGD"):
    ps = [nc.Tensor(np.zeros(2), requires_grad=True) for _ in range(2)]
    make = _NoMomentum if name == "NoMomentum" else getattr(optim, name)
    return make([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.3}], lr=0.1)


BAD_SCHEDULER_ARGS = [  # (scheduler, arguments, optimizer, error, message)
    ("StepLR", dict(step_size=0), "SGD", ValueError, "step_size=0"),
    ("CosineAnnealingLR", dict(T_max=0), "SGD", ValueError, "T_max=0"),
    ("MultiStepLR", dict(milestones=[3, "a"]), "SGD", TypeError, r"milestones\[1\] must be an int, got 'a'"),
    ("MultiStepLR", dict(milestones=[-1, 3]), "SGD", ValueError, r"milestones\[0\] must be >= 0, got -1"),
    ("MultiStepLR", dict(milestones=5), "SGD", TypeError, "milestones must be a list of epochs, got 5"),
    ("MultiStepLR", dict(milestones=[2], gamma=-1), "SGD", ValueError, r"gamma must be in \[0.0, inf\), got -1"),
    ("ExponentialLR", dict(gamma=float("nan")), "SGD", ValueError, "gamma must be finite, got nan"),
    ("ExponentialLR", dict(gamma="0.9"), "SGD", TypeError, "gamma must be a real number, got '0.9'"),
    ("LambdaLR", dict(lr_lambda=[_decay]), "SGD", ValueError, "Expected 2 lr_lambdas .*, but got 1"),
    ("LambdaLR", dict(lr_lambda=0.5), "SGD", TypeError, "lr_lambda must be a function or a callable object, got 0.5"),
    ("MultiplicativeLR", dict(lr_lambda=[_decay, "x"]), "SGD", TypeError, "lr_lambda must be .*, got 'x'"),
    ("ConstantLR", dict(factor=1.5), "SGD", ValueError, r"factor must be in \(0.0, 1.0\], got 1.5"),
    ("ConstantLR", dict(factor=0), "SGD", ValueError, r"factor must be in \(0.0, 1.0\], got 0"),
    ("ConstantLR", dict(total_iters=0), "SGD", ValueError, "total_iters must be >= 1, got 0"),
    ("LinearLR", dict(start_factor=0), "SGD", ValueError, r"start_factor must be in \(0.0, 1.0\], got 0"),
    ("LinearLR", dict(end_factor=1.2), "SGD", ValueError, r"end_factor must be in \[0.0, 1.0\], got 1.2"),
    ("LinearLR", dict(total_iters=2.5), "SGD", TypeError, "total_iters must be an int, got 2.5"),
    ("PolynomialLR", dict(total_iters=0), "SGD", ValueError, "total_iters must be >= 1, got 0"),
    ("PolynomialLR", dict(power=-1.0), "SGD", ValueError, r"power must be in \[0.0, inf\), got -1.0"),
    ("CosineAnnealingWarmRestarts", dict(T_0=0), "SGD", ValueError, "T_0 must be >= 1, got 0"),
    ("CosineAnnealingWarmRestarts", dict(T_0=2.5), "SGD", TypeError, "T_0 must be an int, got 2.5"),
    ("CosineAnnealingWarmRestarts", dict(T_0=2, T_mult=0), "SGD", ValueError, "T_mult must be >= 1, got 0"),
    ("CosineAnnealingWarmRestarts", dict(T_0=2, eta_min=-0.1), "SGD", ValueError, "eta_min .*, got -0.1"),
    ("OneCycleLR", dict(max_lr=1.0), "SGD", ValueError, "total_steps OR .*epochs=None, steps_per_epoch=None"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=0), "SGD", ValueError, "total_steps must be >= 1, got 0"),
    ("OneCycleLR", dict(max_lr=1.0, epochs=0, steps_per_epoch=3), "SGD", ValueError, "epochs must be >= 1, got 0"),
    ("OneCycleLR", dict(max_lr=1.0, epochs=2, steps_per_epoch=1.5), "SGD", TypeError, "steps_per_epoch .*, got 1.5"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=9, pct_start=1.5), "SGD", ValueError, "pct_start .*, got 1.5"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=10, pct_start=0.1), "SGD", ValueError,
     r"pct_start \* total_steps must not be 1 .*pct_start=0.1, total_steps=10"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=9, anneal_strategy="cosine"), "SGD", ValueError,
     "anneal_strategy must be 'cos' or 'linear', got 'cosine'"),
    ("OneCycleLR", dict(max_lr=[1.0], total_steps=9), "SGD", ValueError,
     r"max_lr must have one value per param group \(2\), got 1: \[1.0\]"),
    ("OneCycleLR", dict(max_lr=[1.0, -2.0], total_steps=9), "SGD", ValueError, r"max_lr\[1\] .*, got -2.0"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=9, div_factor=0), "SGD", ValueError, "div_factor .*, got 0"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=9, final_div_factor=-1.0), "SGD", ValueError,
     "final_div_factor .*, got -1.0"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=9, three_phase="yes"), "SGD", TypeError,
     "three_phase must be True or False, got 'yes'"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=9, base_momentum=-0.1), "SGD", ValueError,
     "base_momentum .*, got -0.1"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=9, max_momentum=1.0), "Adam", ValueError,
     r"max_momentum must be in \[0.0, 1.0\), got 1.0"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=9), "NoMomentum", ValueError,
     "cycle_momentum=True needs an optimizer with momentum or betas, and _NoMomentum has neither"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1.0, step_size_up=0), "SGD", ValueError,
     r"step_size_up must be in \(0.0, inf\), got 0"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1.0, step_size_down=-1), "SGD", ValueError, "step_size_down .*, got -1"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1.0, step_size_up="4"), "SGD", TypeError, "step_size_up must be a real"),
    ("CyclicLR", dict(base_lr=[0.1], max_lr=1.0), "SGD", ValueError, r"base_lr must have one value per param group"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=[1.0, float("inf")]), "SGD", ValueError, r"max_lr\[1\] must be finite"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1.0, mode="triangle"), "SGD", ValueError,
     r"mode must be one of \('triangular', 'triangular2', 'exp_range'\) .*, got 'triangle'"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1.0, scale_mode="iteration"), "SGD", ValueError,
     "scale_mode must be 'cycle' or 'iterations', got 'iteration'"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1.0, scale_fn=0.5), "SGD", TypeError, "scale_fn must be a function"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1.0, mode="exp_range", gamma=-0.5), "SGD", ValueError, "gamma .*, got -0.5"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1.0, cycle_momentum=1), "SGD", TypeError, "cycle_momentum must be True"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1.0, max_momentum=1.0), "Adam", ValueError,
     r"max_momentum must be in \[0.0, 1.0\), got 1.0"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1.0, base_momentum=[0.8, -0.1]), "SGD", ValueError,
     r"base_momentum\[1\] .*, got -0.1"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1.0), "Adagrad", ValueError,
     "optimizer must support momentum or beta1 with `cycle_momentum` option enabled: Adagrad has neither"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1.0), "NoMomentum", ValueError, "_NoMomentum has neither"),
    ("ReduceLROnPlateau", dict(factor=1.0), "SGD", ValueError, r"factor must be in \[0.0, 1.0\), got 1.0"),
    ("ReduceLROnPlateau", dict(mode="low"), "SGD", ValueError, "mode must be 'min' or 'max', got 'low'"),
    ("ReduceLROnPlateau", dict(threshold_mode="relative"), "SGD", ValueError,
     "threshold_mode must be 'rel' or 'abs', got 'relative'"),
    ("ReduceLROnPlateau", dict(patience=-1), "SGD", ValueError, "patience must be >= 0, got -1"),
    ("ReduceLROnPlateau", dict(cooldown=1.5), "SGD", TypeError, "cooldown must be an int, got 1.5"),
    ("ReduceLROnPlateau", dict(threshold=-0.1), "SGD", ValueError, "threshold .*, got -0.1"),
    ("ReduceLROnPlateau", dict(min_lr=[0.1]), "SGD", ValueError, r"min_lr must have one value per param group \(2\)"),
    ("ReduceLROnPlateau", dict(min_lr=[0.1, -1]), "SGD", ValueError, r"min_lr\[1\] .*, got -1"),
    ("ReduceLROnPlateau", dict(eps=-1e-8), "SGD", ValueError, "eps .*, got -1e-08"),
]


@pytest.mark.parametrize("name, kw, opt_name, error, match", BAD_SCHEDULER_ARGS,
                         ids=[_ids(c[:2]) for c in BAD_SCHEDULER_ARGS])
def test_scheduler_bad_arguments(name, kw, opt_name, error, match):
    """A ValueError or TypeError naming the argument and the value, raised before the optimizer's
    param groups change (OneCycleLR writes several entries into them)."""
    opt = _two_group(opt_name)
    before = copy.deepcopy([{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups])
    with pytest.raises(error, match=match):
        getattr(lr_scheduler, name)(opt, **kw)
    assert [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups] == before


def test_a_scheduler_needs_an_optimizer():
    for make in (lambda: lr_scheduler.ExponentialLR(object(), 0.9), lambda: lr_scheduler.ReduceLROnPlateau(None),
                 lambda: lr_scheduler.OneCycleLR("sgd", 1.0, total_steps=5)):
        with pytest.raises(TypeError, match="is not an optimizer"):
            make()


@pytest.mark.parametrize("T_0, T_mult", [(3, 1), (2, 2), (1, 3)])
def test_warm_restarts_take_fractional_epochs_as_torch(torch, T_0, T_mult):
    """``step(epoch)`` with fractions of an epoch (steps within it), jumps back and forth, then plain
    steps on from there; T_cur, T_i and last_epoch as torch's. Epoch 121 with T_0=1, T_mult=3 is a
    restart, but torch's floating-point log (log(243, 3) = 4.999...) puts it at the end of the period
    before, lr = eta_min: numconv does the same."""
    opt, ref = _two_group_opts(torch)
    ours = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=T_0, T_mult=T_mult, eta_min=0.005)
    theirs = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(ref, T_0=T_0, T_mult=T_mult, eta_min=0.005)
    epochs = [e + i / 5 for e in range(16) for i in range(5)] + [121, 13, 40.0, 0, 0.5, 6, 14, np.float64(2.25)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in epochs + [None] * 12:
            if epoch is None:
                ours.step()
                theirs.step()
            else:
                ours.step(epoch)
                theirs.step(epoch)
            np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, atol=1e-15)
            assert (ours.T_cur, ours.T_i, ours.last_epoch) == (theirs.T_cur, theirs.T_i, theirs.last_epoch)
            if epoch == 121 and T_mult == 3:
                assert ours.get_last_lr() == pytest.approx([0.005, 0.005], rel=1e-12)
    before = ours.state_dict()
    with pytest.raises(ValueError, match=r"epoch must be in \[0.0, inf\), got -1"):
        ours.step(-1)
    with pytest.raises(TypeError, match="epoch must be a real number"):
        ours.step("3")
    assert ours.state_dict() == before


OPTIMIZERS_FOR_ONE_CYCLE = [("SGD", dict(lr=0.1, momentum=0.9)), ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                            ("Adam", dict(lr=0.01)), ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
                            ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True))]


@pytest.mark.parametrize("config", OPTIMIZERS_FOR_ONE_CYCLE, ids=_ids)
@pytest.mark.parametrize("anneal, three_phase", [("cos", False), ("linear", True)])
def test_one_cycle_drives_momentum_or_beta1_and_the_updates_as_torch(torch, rng, config, anneal, three_phase):
    """OneCycleLR cycles SGD's and RMSprop's momentum and Adam's betas[0] (betas[1] kept) inversely to
    the rate, as torch's; the parameters after a whole cycle of updates match torch's."""
    name, kw = config
    ours, theirs = _pair(torch, rng, np.float64)
    opt = getattr(optim, name)(ours, **kw)
    ref = getattr(torch.optim, name)(theirs, foreach=False, **kw)
    sk = dict(max_lr=0.05, total_steps=12, pct_start=0.25, anneal_strategy=anneal, three_phase=three_phase,
              base_momentum=0.7, max_momentum=0.9)
    sched, tsched = lr_scheduler.OneCycleLR(opt, **sk), torch.optim.lr_scheduler.OneCycleLR(ref, **sk)
    key = "betas" if name.startswith("Adam") else "momentum"
    seen = set()
    for step in range(12):
        _set_grads(torch, ours, theirs, _grads(rng, np.float64, step))
        opt.step()
        ref.step()
        sched.step()
        tsched.step()
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
        mine, want = opt.param_groups[0][key], ref.param_groups[0][key]
        assert mine == pytest.approx(want, rel=1e-12)
        seen.add(round(mine[0] if key == "betas" else mine, 6))
        if key == "betas":
            assert isinstance(mine, tuple) and mine[1] == 0.999
    assert len(seen) >= 3  # it did move
    _assert_params(ours, theirs, np.float64)


@pytest.mark.filterwarnings("ignore")
def test_one_cycle_ends_as_torch_and_refuses_steps_past_it(torch):
    """torch lets the cycle take total_steps steps after step 0: the last is past the end of the last
    phase, its rate extrapolated (linear: below min_lr, here negative), and numconv takes it too; one
    more is torch's ValueError, which numconv raises before counting the step. A phase of no steps
    is where torch divides by zero: at construction (pct_start * total_steps = 1) or at the last
    step (pct_start = 1); numconv raises a ValueError instead, leaving everything as it was."""
    opt, ref = _two_group_opts(torch)
    kw = dict(max_lr=1.0, total_steps=4, anneal_strategy="linear")
    ours, theirs = lr_scheduler.OneCycleLR(opt, **kw), torch.optim.lr_scheduler.OneCycleLR(ref, **kw)
    for _ in range(4):
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
    assert ours.get_last_lr()[0] < 0
    before = (ours.state_dict(), copy.deepcopy([{k: v for k, v in g.items() if k != "params"}
                                                for g in opt.param_groups]))
    with pytest.raises(ValueError, match="Tried to step 5 times. The specified number of total steps is 4"):
        ours.step()
    with pytest.raises(ValueError, match="Tried to step 5 times"):
        theirs.step()
    assert (ours.state_dict(), [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]) == before
    with pytest.raises(ZeroDivisionError):
        torch.optim.lr_scheduler.OneCycleLR(ref, max_lr=1.0, total_steps=10, pct_start=0.1)

    opt, ref = _two_group_opts(torch)
    kw = dict(max_lr=1.0, total_steps=4, pct_start=1.0)
    ours, theirs = lr_scheduler.OneCycleLR(opt, **kw), torch.optim.lr_scheduler.OneCycleLR(ref, **kw)
    for _ in range(3):
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
    before = ours.state_dict()
    with pytest.raises(ValueError, match="step 4 falls in phase 1 of the cycle, which has no steps"):
        ours.step()
    with pytest.raises(ZeroDivisionError):
        theirs.step()
    assert ours.state_dict() == before and ours.get_last_lr() == [1.0, 1.0]


def _halving(cycle):
    return 0.5 ** (cycle - 1)


def _cyclic_kw(rng, mode, n_groups, betas):
    """Random CyclicLR arguments for ``mode`` (a built-in mode, or 'fn-cycle' / 'fn-iterations' for a scale_fn):
    rates and momenta per group or shared, whole or fractional step sizes, the down side sometimes left out."""
    def per_group(lo, hi):
        v = rng.uniform(lo, hi, n_groups).tolist()
        return v if rng.random() < 0.5 else v[0]

    up = int(rng.integers(1, 6)) if rng.random() < 0.7 else float(rng.uniform(0.5, 5))
    kw = dict(base_lr=per_group(1e-4, 0.05), max_lr=per_group(0.05, 1.0), step_size_up=up,
              base_momentum=per_group(0.5, 0.85), max_momentum=per_group(0.85, 0.99))
    if rng.random() < 0.7:
        kw["step_size_down"] = int(rng.integers(0, 6)) if rng.random() < 0.7 else float(rng.uniform(0.5, 5))
    if mode.startswith("fn-"):
        kw.update(scale_fn=_halving if mode == "fn-cycle" else _decay, scale_mode=mode[3:])
    else:
        kw["mode"] = mode
        if mode == "exp_range":
            kw["gamma"] = float(rng.uniform(0.8, 1.0))
    if not betas and rng.random() < 0.25:
        kw["cycle_momentum"] = False
    return kw


CYCLIC_OPTIMIZERS = [("SGD", dict(lr=0.1, momentum=0.9)), ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                     ("RMSprop", dict(lr=0.01, momentum=0.5)), ("Adam", dict(lr=0.01)),
                     ("NAdam", dict(lr=0.01, betas=(0.8, 0.99))), ("RAdam", dict(lr=0.01))]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("config", CYCLIC_OPTIMIZERS, ids=_ids)
@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range", "fn-cycle", "fn-iterations"])
def test_cyclic_lr_matches_torch_step_by_step(torch, rng, config, mode):
    """Random hyperparameters over two param groups: each group's rate and momentum (SGD, RMSprop) or
    betas[0] (Adam, NAdam, RAdam; betas[1] kept) at every step of four cycles and more, and the
    parameters they update, as torch's; then step(epoch) jumps, and steps on from there."""
    name, okw = config
    ours, theirs = _pair(torch, rng, np.float64)
    groups = [dict(params=[0, 1]), dict(params=[2, 3], lr=okw["lr"] * 2)]
    opt = getattr(optim, name)([{**g, "params": [ours[i] for i in g["params"]]} for g in groups], **okw)
    ref = getattr(torch.optim, name)([{**g, "params": [theirs[i] for i in g["params"]]} for g in groups],
                                     foreach=False, **okw)
    betas = "betas" in opt.defaults
    kw = _cyclic_kw(rng, mode, 2, betas)
    sched, tsched = lr_scheduler.CyclicLR(opt, **kw), torch.optim.lr_scheduler.CyclicLR(ref, **kw)
    key = "betas" if betas else "momentum"

    def same(where):
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12, atol=1e-15, err_msg=where)
        assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
        for g, t in zip(opt.param_groups, ref.param_groups):
            mine, want = g[key], t[key]
            if betas:
                assert isinstance(mine, tuple) and mine[1] == want[1] == okw.get("betas", (0.9, 0.999))[1]
                mine, want = mine[0], want[0]
            assert mine == pytest.approx(want, rel=1e-12, abs=1e-15), where
            for k in ("max_momentum", "base_momentum", "initial_lr"):
                assert g.get(k) == t.get(k), (where, k)

    same("step 0")
    period = 2 * kw["step_size_up"] if kw.get("step_size_down") is None else kw["step_size_up"] + kw["step_size_down"]
    for step in range(int(4 * period) + 3):
        _set_grads(torch, ours, theirs, _grads(rng, np.float64, step))
        opt.step()
        ref.step()
        sched.step()
        tsched.step()
        same(f"step {step + 1}")
    _assert_params(ours, theirs, np.float64)
    for epoch in (2, int(3 * period) + 1, 0):
        sched.step(epoch)
        tsched.step(epoch)
        same(f"step({epoch})")
    for step in range(3):
        sched.step()
        tsched.step()
        same(f"step {step + 1} after step(0)")
    assert sched.last_epoch == tsched.last_epoch == 3 and sched._step_count == tsched._step_count


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range", "fn-cycle", "fn-iterations", "object"])
def test_cyclic_lr_state_dict_round_trips_and_crosses_with_torch(torch, rng, mode, tmp_path):
    """numconv's state through a checkpoint into a new scheduler, torch's into numconv's and numconv's into
    torch's: all go on as the first. A scale_fn that is a function is saved as None (torch's rule), a
    callable object as a copy of its attributes, loaded back into the new scheduler's object."""
    checkpoint = pytest.importorskip("numconv.checkpoint")
    kw = _cyclic_kw(rng, "fn-iterations" if mode == "object" else mode, 2, False)
    if mode == "object":
        kw["scale_fn"] = _Warmup(3)
    opts = [_two_group_opts(torch) for _ in range(3)]
    (opt, ref), (opt_b, ref_b), (opt_c, _) = opts
    ours, theirs = lr_scheduler.CyclicLR(opt, **_own(kw)), torch.optim.lr_scheduler.CyclicLR(ref, **_own(kw))
    for _ in range(7):
        ours.step()
        theirs.step()
    sd = ours.state_dict()
    assert _storable(sd) and set(sd) == set(theirs.state_dict()) - {"_get_lr_called_within_step"}
    assert sd["_scale_fn_custom"] == ({"steps": 3, "calls": theirs._scale_fn_custom.calls} if mode == "object"
                                      else None)
    checkpoint.save(tmp_path / "c.npz", {"scheduler": sd})
    back = lr_scheduler.CyclicLR(opt_b, **_own(kw))
    back.load_state_dict(checkpoint.load(tmp_path / "c.npz")["scheduler"])
    assert back.state_dict() == sd
    from_torch = lr_scheduler.CyclicLR(opt_c, **_own(kw))
    from_torch.load_state_dict(theirs.state_dict())
    into_torch = torch.optim.lr_scheduler.CyclicLR(ref_b, **_own(kw))
    into_torch.load_state_dict(ours.state_dict())
    for _ in range(12):
        for s in (ours, theirs, back, from_torch, into_torch):
            s.step()
        for s, o in ((theirs, ref), (back, opt_b), (from_torch, opt_c), (into_torch, ref_b)):
            np.testing.assert_allclose(s.get_last_lr(), ours.get_last_lr(), rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose([g["momentum"] for g in o.param_groups],
                                       [g["momentum"] for g in opt.param_groups], rtol=1e-12, atol=1e-15)


def test_cyclic_lr_state_entries_are_checked():
    opt = _two_group()
    sched = lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular2")
    sched.step()
    good = sched.state_dict()
    for change, words in [(dict(mode="up"), r"'mode' must be one of \('triangular', 'triangular2', 'exp_range'\) "
                                            "without a scale_fn, got 'up'"),
                          (dict(mode=3), "'mode' must be a string, got 3"),
                          (dict(scale_mode="epochs"), r"'scale_mode' must be one of \('cycle', 'iterations'\)"),
                          (dict(step_ratio=0.0), r"'step_ratio' must be in \(0, 1\], got 0.0"),
                          (dict(step_ratio=1.5), r"'step_ratio' must be in \(0, 1\], got 1.5"),
                          (dict(total_size=-6.0), r"'total_size' must be in \(0, inf\), got -6.0"),
                          (dict(max_momentums=[0.9]), "'max_momentums' must be a list of 2"),
                          (dict(use_beta1=1), "'use_beta1' must be True or False"),
                          (dict(_scale_fn_custom={"calls": 1}), r"attributes \['calls'\] for scale_fn, which is not "
                                                                "given here"),
                          (dict(_scale_fn_custom=[1]), "'_scale_fn_custom' must be None or a dict")]:
        with pytest.raises(ValueError, match=words):
            sched.load_state_dict({**good, **change})
        assert sched.state_dict() == good
    plain = lr_scheduler.CyclicLR(_two_group(), base_lr=0.01, max_lr=0.1, scale_fn=_decay, mode="mine")
    assert plain.state_dict()["mode"] == "mine"  # ignored with a scale_fn, as torch's
    with pytest.raises(ValueError, match="which is a plain function here"):
        plain.load_state_dict({**plain.state_dict(), "_scale_fn_custom": {"calls": 1}})
    no_momentum = lr_scheduler.CyclicLR(_two_group(), base_lr=0.01, max_lr=0.1, cycle_momentum=False)
    with pytest.raises(ValueError, match=r"it has entries \['base_momentums', 'max_momentums', 'use_beta1'\]"):
        no_momentum.load_state_dict(good)


@pytest.mark.filterwarnings("ignore")
def test_cyclic_lr_sets_the_groups_as_torch_and_starts_from_an_earlier_initial_lr(torch):
    """Made fresh, CyclicLR sets each group's lr to base_lr and its momentum to max_momentum (SGD without
    momentum gets one), and records max_momentum and base_momentum. Step 0 runs from the groups'
    'initial_lr', which an earlier scheduler may have set to something else: torch's rate then is that
    one, and base_lr takes over from step 1; numconv's too. An optimizer without momentum or betas is
    refused, as torch refuses it; with cycle_momentum=False it is driven."""
    opt, ref = _two_group_opts(torch)
    lr_scheduler.StepLR(opt, step_size=2)
    torch.optim.lr_scheduler.StepLR(ref, step_size=2)
    kw = dict(base_lr=[0.01, 0.02], max_lr=0.2, step_size_up=2, max_momentum=[0.9, 0.95])
    ours, theirs = lr_scheduler.CyclicLR(opt, **kw), torch.optim.lr_scheduler.CyclicLR(ref, **kw)
    assert ours.get_last_lr() == theirs.get_last_lr() == [0.1, 0.3]  # the earlier 'initial_lr'
    for g, t in zip(opt.param_groups, ref.param_groups):
        assert {k: v for k, v in g.items() if k != "params"} == \
            {k: v for k, v in t.items() if k in g and k != "params"}
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.95]
    for _ in range(5):
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
    assert ours.base_lrs == theirs.base_lrs == [0.01, 0.02]
    p, t = nc.Tensor(np.zeros(2), requires_grad=True), torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1 with `cycle_momentum` option"):
        torch.optim.lr_scheduler.CyclicLR(torch.optim.Adadelta([t]), base_lr=0.01, max_lr=0.1)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1 with `cycle_momentum` option "
                                         "enabled: Adadelta has neither; pass cycle_momentum=False"):
        lr_scheduler.CyclicLR(optim.Adadelta([p]), base_lr=0.01, max_lr=0.1)
    ours = lr_scheduler.CyclicLR(optim.Adadelta([p]), base_lr=0.01, max_lr=0.1, step_size_up=2, cycle_momentum=False)
    theirs = torch.optim.lr_scheduler.CyclicLR(torch.optim.Adadelta([t]), base_lr=0.01, max_lr=0.1, step_size_up=2,
                                               cycle_momentum=False)
    for _ in range(5):
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
    assert "momentum" not in ours.optimizer.param_groups[0] and "max_momentum" not in ours.optimizer.param_groups[0]


PLATEAU = [dict(), dict(mode="max", patience=2, cooldown=1),
           dict(patience=1, threshold=0.05, threshold_mode="abs", cooldown=2, min_lr=[0.02, 0.001], factor=0.5),
           dict(mode="max", threshold_mode="abs", threshold=0.01, patience=0, factor=0.3, min_lr=0.01, eps=1e-3)]


def _metrics(mode):
    v = np.r_[np.linspace(1, 0.5, 8), np.full(6, 0.5), 0.5 + 0.001 * np.arange(5), [np.nan], np.linspace(0.49, 0.3, 5),
              np.full(14, 0.3), 0.3 - 0.01 * np.arange(6)]
    return list(-v if mode == "max" else v)


@pytest.mark.parametrize("kw", PLATEAU, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()) or "defaults")
def test_reduce_lr_on_plateau_matches_torch(torch, kw, tmp_path):
    """Rates, best, bad-epoch and cooldown counts as torch's for a metric that falls, stalls, turns
    NaN and falls again (rises, for mode='max'); its state round-trips through a checkpoint and
    crosses with torch's both ways, going on identically."""
    opt, ref = _two_group_opts(torch)
    ours, theirs = lr_scheduler.ReduceLROnPlateau(opt, **kw), torch.optim.lr_scheduler.ReduceLROnPlateau(ref, **kw)
    metrics = _metrics(kw.get("mode", "min"))

    def same(a, b, oa, ob):
        np.testing.assert_allclose(a.get_last_lr(), b.get_last_lr(), rtol=1e-12)
        assert [g["lr"] for g in oa.param_groups] == a.get_last_lr()
        assert (a.best, a.num_bad_epochs, a.cooldown_counter, a.last_epoch) == \
            (b.best, b.num_bad_epochs, b.cooldown_counter, b.last_epoch)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, m in enumerate(metrics[:30]):
            epoch = 100 if i == 20 else None  # an explicit epoch, as torch's (deprecated) argument
            ours.step(nc.Tensor(np.array(m)) if i % 3 == 0 else m, epoch)
            theirs.step(torch.tensor(m) if i % 3 == 0 else m, epoch)
            same(ours, theirs, opt, ref)
    assert min(ours.get_last_lr()) < 0.1  # it did reduce
    sd = ours.state_dict()
    assert _storable(sd)
    checkpoint = pytest.importorskip("numconv.checkpoint")
    checkpoint.save(tmp_path / "p.npz", {"scheduler": sd})
    opt_b, _ = _two_group_opts(torch)
    back = lr_scheduler.ReduceLROnPlateau(opt_b, **kw)
    back.load_state_dict(checkpoint.load(tmp_path / "p.npz")["scheduler"])
    opt_c, ref_c = _two_group_opts(torch)
    from_torch = lr_scheduler.ReduceLROnPlateau(opt_c, **kw)
    from_torch.load_state_dict(theirs.state_dict())
    into_torch = torch.optim.lr_scheduler.ReduceLROnPlateau(ref_c, **kw)
    into_torch.load_state_dict(ours.state_dict())
    for o in (opt_b, opt_c, ref_c):
        for g, lr in zip(o.param_groups, ours.get_last_lr()):
            g["lr"] = lr
    for m in metrics[30:]:
        for s in (ours, theirs, back, from_torch, into_torch):
            s.step(m)
        same(ours, theirs, opt, ref)
        for s, o in ((back, opt_b), (from_torch, opt_c), (into_torch, ref_c)):
            same(s, ours, o, opt)


def test_reduce_lr_on_plateau_state_and_steps_are_checked():
    opt = _two_group()
    sched = lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.0, 0.01])
    sched.step(1.0)
    good = sched.state_dict()
    for change, words in [(dict(mode="up"), r"'mode' must be one of \('min', 'max'\), got 'up'"),
                          (dict(best=float("nan")), "'best' must be a number, got nan"),
                          (dict(min_lrs=[0.0]), "'min_lrs' must be a list of 2"),
                          (dict(num_bad_epochs=-1), "'num_bad_epochs' must be a whole number >= 0"),
                          (dict(default_min_lr="0"), "'default_min_lr' must be a finite number")]:
        with pytest.raises(ValueError, match=words):
            sched.load_state_dict({**good, **change})
        assert sched.state_dict() == good
    with pytest.raises(TypeError, match="metrics must be a number, got 'low'"):
        sched.step("low")
    opt.add_param_group({"params": [nc.Tensor(np.zeros(1), requires_grad=True)], "lr": 0.2})
    with pytest.raises(ValueError, match="has 3 param groups, but this ReduceLROnPlateau has min_lr for 2: set its "
                                         "min_lrs to a list of 3"):
        sched.step(0.5)
    assert sched.state_dict() == good
    sched.min_lrs = [0.0, 0.01, 0.1]  # as the message says (and torch's)
    sched.step(0.5)
    assert sched.last_epoch == good["last_epoch"] + 1
    sched.min_lrs = good["min_lrs"]
    one = lr_scheduler.ReduceLROnPlateau(_two_group(), patience=0, min_lr=0.05)  # one min_lr covers added groups
    one.optimizer.add_param_group({"params": [nc.Tensor(np.zeros(1), requires_grad=True)], "lr": 0.2})
    one.step(1.0)
    one.step(2.0)
    assert one.get_last_lr() == [0.05, 0.05, 0.05] and one.min_lrs == [0.05, 0.05, 0.05]


def _build(lib, opt, specs):
    return [getattr(lib, name)(opt, **_own(kw)) for name, kw in specs]


SEQUENTIAL = [
    ([("LinearLR", dict(start_factor=0.1, total_iters=4)), ("CosineAnnealingLR", dict(T_max=10))], [5]),
    ([("ConstantLR", dict(factor=0.5, total_iters=2)), ("ExponentialLR", dict(gamma=0.9)),
      ("StepLR", dict(step_size=2, gamma=0.5))], [3, 9]),
    ([("LinearLR", dict(total_iters=3)), ("CosineAnnealingWarmRestarts", dict(T_0=4, T_mult=2))], [3]),
    ([("ExponentialLR", dict(gamma=0.8)), ("MultiStepLR", dict(milestones=[2, 4])),
      ("LambdaLR", dict(lr_lambda=[_decay, _Warmup(3)]))], [0, 7]),
    ([("OneCycleLR", dict(max_lr=1.0, total_steps=8)), ("ConstantLR", dict(factor=0.1, total_iters=100))], [8]),
]


def _seq_id(c):
    return "-".join(name for name, _ in c[0]) + f"-{c[1]}"


@pytest.mark.parametrize("specs, milestones", SEQUENTIAL, ids=[_seq_id(c) for c in SEQUENTIAL])
def test_sequential_lr_matches_torch(torch, specs, milestones, tmp_path):
    """Each scheduler in turn, the next one started at its milestone (its epoch 0), as torch's; the state
    (the schedulers' own inside) round-trips through a checkpoint, and torch's loads and goes on alike
    (numconv's into torch's too, but where a MultiStepLR's milestones are in it)."""
    opt, ref = _two_group_opts(torch)
    ours = lr_scheduler.SequentialLR(opt, _build(lr_scheduler, opt, specs), milestones)
    theirs = torch.optim.lr_scheduler.SequentialLR(ref, _build(torch.optim.lr_scheduler, ref, specs), milestones)

    def same(a, b, oa, ob):
        np.testing.assert_allclose(a.get_last_lr(), b.get_last_lr(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose([g["lr"] for g in oa.param_groups], [g["lr"] for g in ob.param_groups],
                                   rtol=1e-12, atol=1e-15)
        assert a.last_epoch == b.last_epoch
        assert [s.last_epoch for s in a._schedulers] == [s.last_epoch for s in b._schedulers]

    same(ours, theirs, opt, ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(8):
            ours.step()
            theirs.step()
            same(ours, theirs, opt, ref)
        sd = ours.state_dict()
        assert _storable(sd)
        checkpoint = pytest.importorskip("numconv.checkpoint")
        checkpoint.save(tmp_path / "q.npz", {"scheduler": sd, "optimizer": opt.state_dict()})
        opt_b, ref_b = _two_group_opts(torch)
        back = lr_scheduler.SequentialLR(opt_b, _build(lr_scheduler, opt_b, specs), milestones)
        saved = checkpoint.load(tmp_path / "q.npz")
        opt_b.load_state_dict(saved["optimizer"])
        back.load_state_dict(saved["scheduler"])
        assert back.state_dict() == sd
        opt_c, _ = _two_group_opts(torch)
        from_torch = lr_scheduler.SequentialLR(opt_c, _build(lr_scheduler, opt_c, specs), milestones)
        from_torch.load_state_dict(theirs.state_dict())
        into_torch = None
        if "MultiStepLR" not in [name for name, _ in specs]:
            into_torch = torch.optim.lr_scheduler.SequentialLR(
                ref_b, _build(torch.optim.lr_scheduler, ref_b, specs), milestones)
            into_torch.load_state_dict(ours.state_dict())
        for o in (opt_c, ref_b):
            for g, og in zip(o.param_groups, opt.param_groups):
                g.update({k: v for k, v in og.items() if k != "params"})
        for _ in range(12):
            for s in (ours, theirs, back, from_torch) + ((into_torch,) if into_torch else ()):
                s.step()
            same(ours, theirs, opt, ref)
            same(back, ours, opt_b, opt)
            same(from_torch, ours, opt_c, opt)
            if into_torch:
                same(into_torch, ours, ref_b, opt)


CHAINED = [[("ExponentialLR", dict(gamma=0.9)), ("MultiStepLR", dict(milestones=[3, 6]))],
           [("LinearLR", dict(start_factor=0.2, total_iters=4)), ("CosineAnnealingLR", dict(T_max=8, eta_min=0.001))],
           [("ConstantLR", dict(factor=0.5, total_iters=3)), ("MultiplicativeLR", dict(lr_lambda=_shrink)),
            ("PolynomialLR", dict(total_iters=12, power=0.5))]]


@pytest.mark.parametrize("specs", CHAINED, ids=["-".join(n for n, _ in c) for c in CHAINED])
def test_chained_scheduler_matches_torch(torch, specs, tmp_path):
    opt, ref = _two_group_opts(torch)
    ours = lr_scheduler.ChainedScheduler(_build(lr_scheduler, opt, specs))
    theirs = torch.optim.lr_scheduler.ChainedScheduler(_build(torch.optim.lr_scheduler, ref, specs), ref)
    assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(6):
            ours.step()
            theirs.step()
            np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, atol=1e-15)
        sd = ours.state_dict()
        assert _storable(sd) and len(sd["_schedulers"]) == len(specs)
        checkpoint = pytest.importorskip("numconv.checkpoint")
        checkpoint.save(tmp_path / "c.npz", {"scheduler": sd, "optimizer": opt.state_dict()})
        saved = checkpoint.load(tmp_path / "c.npz")
        opt_b, _ = _two_group_opts(torch)
        back = lr_scheduler.ChainedScheduler(_build(lr_scheduler, opt_b, specs), opt_b)
        opt_b.load_state_dict(saved["optimizer"])
        back.load_state_dict(saved["scheduler"])
        opt_c, _ = _two_group_opts(torch)
        from_torch = lr_scheduler.ChainedScheduler(_build(lr_scheduler, opt_c, specs))
        opt_c.load_state_dict(saved["optimizer"])
        from_torch.load_state_dict(theirs.state_dict())
        for _ in range(14):
            for s in (ours, theirs, back, from_torch):
                s.step()
            np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, atol=1e-15)
            assert back.get_last_lr() == ours.get_last_lr()
            np.testing.assert_allclose(from_torch.get_last_lr(), ours.get_last_lr(), rtol=1e-12, atol=1e-15)


RESUMED = [("StepLR", dict(step_size=2)), ("ExponentialLR", dict(gamma=0.9)), ("LinearLR", dict(total_iters=8)),
           ("ConstantLR", dict(total_iters=7)), ("PolynomialLR", dict(total_iters=9)),
           ("MultiplicativeLR", dict(lr_lambda=_shrink)),
           ("CosineAnnealingWarmRestarts", dict(T_0=3)), ("OneCycleLR", dict(max_lr=1.0, total_steps=12)),
           ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular2"))]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("config", RESUMED, ids=_ids)
def test_a_scheduler_made_with_last_epoch_resumes_as_torch(torch, config):
    """``last_epoch=k`` over an optimizer that has run k epochs (its groups keep ``initial_lr``, and
    OneCycleLR's ``max_lr`` ...): step k + 1 keeps the rates, then the schedule goes on, as torch's."""
    name, kw = config
    opt, ref = _two_group_opts(torch)
    getattr(lr_scheduler, name)(opt, **kw)
    first = getattr(torch.optim.lr_scheduler, name)(ref, **kw)
    for _ in range(4):
        first.step()
    for g, t in zip(opt.param_groups, ref.param_groups):
        g.update({k: v for k, v in t.items() if k != "params"})
    ours = getattr(lr_scheduler, name)(opt, last_epoch=4, **kw)
    theirs = getattr(torch.optim.lr_scheduler, name)(ref, last_epoch=4, **kw)
    for _ in range(6):
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, atol=1e-15)
        assert ours.last_epoch == theirs.last_epoch
        ours.step()
        theirs.step()
    with pytest.raises(KeyError, match=r"param_groups\[0\] has no \[?'initial_lr'"):
        getattr(lr_scheduler, name)(_two_group(), last_epoch=3, **kw)


def test_sequential_and_chained_arguments_and_states_are_checked():
    opt, other = _two_group(), _two_group()
    exp, lin = lr_scheduler.ExponentialLR(opt, 0.9), lr_scheduler.LinearLR(opt)
    plateau = lr_scheduler.ReduceLROnPlateau(opt)
    for make, error, words in [
        (lambda: lr_scheduler.SequentialLR(opt, [exp, lin], [3, 5]), ValueError, "one more than the number of "
         "milestone points, but got number of schedulers 2 and the number of milestones to be equal to 2"),
        (lambda: lr_scheduler.SequentialLR(opt, [exp, lin, exp], [5, 2]), ValueError,
         r"milestones must be in increasing order, got \[5, 2\]"),
        (lambda: lr_scheduler.SequentialLR(opt, [exp, lin], ["3"]), TypeError, r"milestones\[0\] must be an int"),
        (lambda: lr_scheduler.SequentialLR(other, [exp, lin], [3]), ValueError,
         r"same optimizer, but schedulers\[0\] \(ExponentialLR\) has another"),
        (lambda: lr_scheduler.SequentialLR(opt, [exp, plateau], [3]), ValueError,
         r"does not support a ReduceLROnPlateau \(schedulers\[1\]\)"),
        (lambda: lr_scheduler.SequentialLR(opt, [lr_scheduler.ChainedScheduler([exp]), lin], [3]), ValueError,
         r"does not support a ChainedScheduler \(schedulers\[0\]\)"),
        (lambda: lr_scheduler.SequentialLR(opt, [], []), ValueError, "expects at least one scheduler"),
        (lambda: lr_scheduler.SequentialLR(opt, [exp, "lin"], [3]), TypeError,
         r"schedulers\[1\] must be a numconv scheduler, got str"),
        (lambda: lr_scheduler.ChainedScheduler([]), ValueError, "expects at least one scheduler"),
        (lambda: lr_scheduler.ChainedScheduler(exp), TypeError, "schedulers must be a list of schedulers"),
        (lambda: lr_scheduler.ChainedScheduler([exp, plateau]), ValueError, "does not support a ReduceLROnPlateau"),
        (lambda: lr_scheduler.ChainedScheduler([exp, lin], other), ValueError, "same optimizer"),
    ]:
        with pytest.raises(error, match=words):
            make()
    seq = lr_scheduler.SequentialLR(opt, [exp, lin], [3])
    seq.step()
    good = seq.state_dict()
    bad_sub = copy.deepcopy(good)
    bad_sub["_schedulers"][1]["total_iters"] = 0
    for state, words in [({**good, "_milestones": [3, 4]}, "'_milestones' must be a list of 1 whole epochs"),
                         ({**good, "_schedulers": good["_schedulers"][:1]}, "'_schedulers' must be a list of 2"),
                         (bad_sub, r"in '_schedulers'\[1\] \(LinearLR\): .*'total_iters' must be a whole number >= 1")]:
        with pytest.raises(ValueError, match=words):
            seq.load_state_dict(state)
        assert seq.state_dict() == good
    # a group added with a milestone still ahead: refused before any of its schedulers steps (torch fails at
    # the milestone); past the last milestone, and in a ChainedScheduler, see the tests of added groups below
    good, lrs = seq.state_dict(), [g["lr"] for g in opt.param_groups]
    opt.add_param_group({"params": [nc.Tensor(np.zeros(1), requires_grad=True)], "lr": 0.2})
    with pytest.raises(ValueError, match="has 3 param groups, but this SequentialLR's schedulers were made for 2, "
                                         "and at milestone 3 it restarts"):
        seq.step()
    assert seq.state_dict() == good and [g["lr"] for g in opt.param_groups] == lrs + [0.2]


def test_lambda_states_hold_only_callable_objects():
    """As torch's: a plain function's entry is None, a callable object's is a copy of its attributes,
    and loading puts them back into the object; attributes saved for what is a plain function here are
    refused. A lambda that raises leaves the schedule as it was."""
    opt = _two_group()
    warm = _Warmup(5)
    sched = lr_scheduler.LambdaLR(opt, [_decay, warm])
    sched.step()
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [None, {"steps": 5, "calls": 2}]
    sd["lr_lambdas"][1]["calls"] = 7
    assert warm.calls == 2  # a copy
    sched.load_state_dict(sd)
    assert warm.calls == 7 and sched.lr_lambdas[1] is warm
    good = sched.state_dict()
    for lambdas, words in [([{"calls": 1}, None], r"attributes \['calls'\] for lr_lambdas\[0\], which is a plain"),
                           ([None], "'lr_lambdas' must be a list of 2 entries"),
                           ([None, 3], r"'lr_lambdas'\[1\] must be None or a dict")]:
        with pytest.raises(ValueError, match=words):
            sched.load_state_dict({**good, "lr_lambdas": lambdas})
        assert sched.state_dict() == good and warm.calls == 7

    def fails(epoch):
        if epoch == 2:
            raise ArithmeticError("no rate at epoch 2")
        return 1.0

    sched = lr_scheduler.MultiplicativeLR(opt, fails)
    sched.step()
    before = (sched.state_dict(), [g["lr"] for g in opt.param_groups])
    with pytest.raises(ArithmeticError):
        sched.step()
    assert (sched.state_dict(), [g["lr"] for g in opt.param_groups]) == before


def test_read_only_parameters_and_running_statistics_are_refused():
    import numconv.functional as F

    w = np.ones((3, 4), np.float32)
    w.setflags(write=False)
    p = nc.nn.Parameter(w)
    p.grad = nc.ones(3, 4)
    with pytest.raises(ValueError, match="param is read-only"):
        nc.optim.SGD([p], lr=0.1).step()
    stats = np.broadcast_to(np.float32(1), (3,))
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="running_mean is read-only"):
        F.batch_norm(x, stats, stats, training=True)
    assert F.batch_norm(x, stats, stats, training=False).shape == x.shape  # read, not written


def test_amsgrad_keeps_a_nan_in_its_running_max_as_torch(torch, rng):
    """torch.maximum propagates NaN; a max that dropped it would leave a state torch never has."""
    ours, theirs = _pair(torch, rng, np.float64)
    opt, ref = optim.Adam(ours, lr=0.02, amsgrad=True), torch.optim.Adam(theirs, lr=0.02, amsgrad=True)
    for step in range(3):
        grads = [rng.standard_normal(s) for s in SHAPES]
        if step == 1:
            grads[0][1, 2] = np.nan
        _set_grads(torch, ours, theirs, grads)
        opt.step()
        ref.step()
    for p, t in zip(ours, theirs):
        want = ref.state[t]["max_exp_avg_sq"].numpy()
        np.testing.assert_allclose(opt.state[p]["max_exp_avg_sq"], want, rtol=1e-12)  # NaN where torch's is
    assert np.isnan(opt.state[ours[0]]["max_exp_avg_sq"][1, 2])


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_an_adam_state_saved_before_decoupled_weight_decay_existed_loads(torch, rng, name):
    """PyTorch before 2.6 saved Adam and AdamW groups without 'decoupled_weight_decay'; PyTorch fills
    in the class's own value, and so does numconv: the run continues as torch's does."""
    ours, theirs = _pair(torch, rng, np.float64)
    ref = getattr(torch.optim, name)(theirs, lr=0.02, weight_decay=0.1)
    for _ in range(2):
        grads = [rng.standard_normal(s) for s in SHAPES]
        _set_grads(torch, ours, theirs, grads)
        ref.step()
    saved = ref.state_dict()
    for group in saved["param_groups"]:
        del group["decoupled_weight_decay"]
    opt = getattr(optim, name)(ours, lr=0.5)
    for p, t in zip(ours, theirs):
        p.data[...] = t.detach().numpy()
    opt.load_state_dict(saved)
    assert opt.param_groups[0]["decoupled_weight_decay"] == (name == "AdamW")
    grads = [rng.standard_normal(s) for s in SHAPES]
    _set_grads(torch, ours, theirs, grads)
    opt.step()
    ref.step()
    _assert_params(ours, theirs, np.float64, name)


def test_a_non_leaf_tensor_is_not_a_parameter(rng):
    w = nc.Tensor(rng.standard_normal(3), requires_grad=True)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2.0], lr=0.1)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        opt.add_param_group({"params": [w + 1.0]})


def _added(opt, ref, torch):
    """Add a third param group, of rate 0.2, to numconv's ``opt`` and torch's ``ref``."""
    opt.add_param_group({"params": [nc.Tensor(np.zeros(1), requires_grad=True)], "lr": 0.2})
    ref.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "lr": 0.2})


FOLLOWING = [[("StepLR", dict(step_size=2))], [("MultiStepLR", dict(milestones=[2, 5, 5]))],
             [("ConstantLR", dict(factor=0.5, total_iters=4))], [("LinearLR", dict(total_iters=5))],
             [("ExponentialLR", dict(gamma=0.8))], [("PolynomialLR", dict(total_iters=6, power=2.0))],
             [("ExponentialLR", dict(gamma=0.9)), ("LinearLR", dict(start_factor=0.2, total_iters=4))]]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("specs", FOLLOWING, ids=["-".join(n for n, _ in c) for c in FOLLOWING])
def test_a_recursive_schedule_takes_a_group_added_after_it_along_as_torch(torch, specs):
    """torch 2.13's recursive schedules multiply every group's current rate at each step(), so a group
    added since follows them from its own rate (a ChainedScheduler of them too); numconv's do the same.
    step(epoch) computes rates from base_lrs, which the new group lacks: torch's strict zip raises a
    ValueError there, numconv one that says why and what to do, before any rate changes."""
    opt, ref = _two_group_opts(torch)
    ours, theirs = _build(lr_scheduler, opt, specs), _build(torch.optim.lr_scheduler, ref, specs)
    if len(specs) > 1:
        ours, theirs = lr_scheduler.ChainedScheduler(ours), torch.optim.lr_scheduler.ChainedScheduler(theirs, ref)
    else:
        ours, theirs = ours[0], theirs[0]
    for step in range(10):
        if step == 2:
            _added(opt, ref, torch)
        ours.step()
        theirs.step()
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, atol=1e-15)
        assert [g["lr"] for g in opt.param_groups] == ours.get_last_lr()
    assert len(ours.get_last_lr()) == 3 and ours.get_last_lr()[2] != 0.2  # it did follow
    if len(specs) == 1:
        before = (ours.state_dict(), [g["lr"] for g in opt.param_groups])
        with pytest.raises(ValueError, match="zip"):
            theirs.step(3)
        with pytest.raises(ValueError, match=rf"has 3 param groups, but this {specs[0][0]} was made for 2 and "
                                             r"step\(epoch\) computes each group's rate from its base rate"):
            ours.step(3)
        assert (ours.state_dict(), [g["lr"] for g in opt.param_groups]) == before


@pytest.mark.filterwarnings("ignore")
def test_a_sequential_lr_past_its_last_milestone_takes_an_added_group_along_as_torch(torch):
    specs = [("LinearLR", dict(start_factor=0.5, total_iters=2)), ("StepLR", dict(step_size=2, gamma=0.5))]
    opt, ref = _two_group_opts(torch)
    ours = lr_scheduler.SequentialLR(opt, _build(lr_scheduler, opt, specs), [3])
    theirs = torch.optim.lr_scheduler.SequentialLR(ref, _build(torch.optim.lr_scheduler, ref, specs), [3])
    for step in range(9):
        if step == 3:  # past milestone 3: StepLR, recursive, runs from here on
            _added(opt, ref, torch)
        ours.step()
        theirs.step()
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, atol=1e-15)
    assert ours.get_last_lr()[2] == pytest.approx(0.2 * 0.5 ** 3)


REFUSING = [("CosineAnnealingLR", dict(T_max=2)), ("CosineAnnealingWarmRestarts", dict(T_0=3)),
            ("LambdaLR", dict(lr_lambda=_decay)), ("MultiplicativeLR", dict(lr_lambda=_shrink)),
            ("OneCycleLR", dict(max_lr=1.0, total_steps=10)), ("CyclicLR", dict(base_lr=0.01, max_lr=0.1))]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("config", REFUSING, ids=_ids)
def test_a_schedule_from_base_rates_refuses_a_group_added_after_it(torch, config):
    """These compute rates from per-group values the new group lacks: torch 2.13 raises (a strict zip's
    ValueError, or OneCycleLR's KeyError: 'initial_lr') at the next step, or for CosineAnnealingLR at the
    first epoch that reads base_lrs (T_max + 1); numconv raises a ValueError at the next step that says
    why and what to do, before any rate changes."""
    name, kw = config
    opt, ref = _two_group_opts(torch)
    ours, theirs = getattr(lr_scheduler, name)(opt, **kw), getattr(torch.optim.lr_scheduler, name)(ref, **kw)
    for sched in (ours, theirs):
        sched.step()
    _added(opt, ref, torch)
    with pytest.raises((ValueError, KeyError)):
        for _ in range(kw.get("T_max", 0) + 1):
            theirs.step()
    before = (ours.state_dict(), [g["lr"] for g in opt.param_groups])
    with pytest.raises(ValueError, match=rf"has 3 param groups, but this {name} was made for 2 and its rates are "
                                         rf"computed from each group's base rate, which a group added since lacks: "
                                         rf"make the {name} after the last add_param_group"):
        ours.step()
    assert (ours.state_dict(), [g["lr"] for g in opt.param_groups]) == before


@pytest.mark.parametrize("make", [lambda o: lr_scheduler.StepLR(o, step_size=2),
                                  lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=2),
                                  lambda o: lr_scheduler.ExponentialLR(o, gamma=0.5),
                                  lambda o: lr_scheduler.LinearLR(o),
                                  lambda o: lr_scheduler.LambdaLR(o, _decay),
                                  lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=10),
                                  lambda o: lr_scheduler.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2)],
                         ids=["step", "cosine", "exponential", "linear", "lambda", "onecycle", "cyclic"])
def test_a_fractional_epoch_is_refused_and_so_is_a_group_added_after_the_scheduler(rng, make):
    """A fractional epoch is refused rather than truncated. A group added after the scheduler: refused by
    step(epoch) in every one (the closed form reads base_lrs), by step() in those that are not recursive."""
    ws = [nc.Tensor(rng.standard_normal(2), requires_grad=True) for _ in range(2)]
    opt = optim.SGD(ws[:1], lr=0.1)
    sched = make(opt)
    with pytest.raises(ValueError, match="epoch must be a whole number, got 2.5"):
        sched.step(2.5)
    sched.step(3)
    before = opt.param_groups[0]["lr"]
    opt.add_param_group({"params": ws[1:], "lr": 0.3})
    with pytest.raises(ValueError, match="has 2 param groups, but this .* was made for 1"):
        sched.step(4)
    if not sched._follows_new_groups:
        with pytest.raises(ValueError, match="has 2 param groups, but this .* was made for 1"):
            sched.step()
    assert opt.param_groups[0]["lr"] == before and opt.param_groups[1]["lr"] == 0.3
