"""Optimizers and LR schedulers against torch.optim (for-loop implementations), state_dict round trips, errors."""
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
]


def _ids(c):
    return c[0] + "-" + "-".join(f"{k}={v}" for k, v in c[1].items())


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
@pytest.mark.parametrize("config", [CONFIGS[4], CONFIGS[8], CONFIGS[10], CONFIGS[14]], ids=_ids)
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


@pytest.mark.parametrize("config", [CONFIGS[4], CONFIGS[8], CONFIGS[10], CONFIGS[14]], ids=_ids)
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
    (lambda ps: optim.SGD([{"params": ps, "lr": -1.0}], lr=0.1), "lr"),
    (lambda ps: optim.SGD([], lr=0.1), "empty"),
    (lambda ps: optim.SGD(ps + ps[:1], lr=0.1), "more than once"),
])
def test_bad_hyperparameters_raise_value_error(make, match):
    ps = [nc.Tensor(np.zeros(2), requires_grad=True)]
    with pytest.raises(ValueError, match=match):
        make(ps)


# ---------------------------------------------------------------------------- schedulers
SCHEDULERS = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("StepLR", dict(step_size=1)),
    ("CosineAnnealingLR", dict(T_max=5)),
    ("CosineAnnealingLR", dict(T_max=4, eta_min=0.01)),
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
    ours = getattr(lr_scheduler, name)(opt, **kw)
    theirs = getattr(torch.optim.lr_scheduler, name)(ref, **kw)
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
        ours.step(7)  # jumping to an epoch uses the closed form, as torch does
        theirs.step(7)
    np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)


@pytest.mark.parametrize("config", SCHEDULERS, ids=_ids)
def test_scheduler_state_dict_round_trip(config, tmp_path):
    name, kw = config

    def fresh():
        return optim.SGD([nc.Tensor(np.zeros(2), requires_grad=True)], lr=0.1)

    opt_a = fresh()
    a = getattr(lr_scheduler, name)(opt_a, **kw)
    for _ in range(6):
        a.step()
    sd = a.state_dict()
    assert _all_plain(sd)
    checkpoint = pytest.importorskip("numconv.checkpoint")
    checkpoint.save(tmp_path / "s.npz", {"scheduler": sd, "optimizer": opt_a.state_dict()})
    back = checkpoint.load(tmp_path / "s.npz")
    opt_b = fresh()
    opt_b.load_state_dict(back["optimizer"])
    b = getattr(lr_scheduler, name)(opt_b, **kw)
    b.load_state_dict(back["scheduler"])
    for _ in range(9):
        a.step()
        b.step()
        assert a.get_last_lr() == b.get_last_lr()


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


@pytest.mark.parametrize("name, kw", [("StepLR", dict(step_size=3, gamma=0.5)), ("CosineAnnealingLR", dict(T_max=5))])
def test_scheduler_state_dicts_cross_with_torch_and_are_checked(torch, name, kw):
    """A PyTorch scheduler's state_dict loads into numconv's (and numconv's into PyTorch's), and the
    schedules go on identically; entries of the wrong kind are a ValueError naming them, and leave
    the scheduler as it was."""
    tp = torch.nn.Parameter(torch.ones(1))
    topt = torch.optim.SGD([tp], lr=0.1)
    ts = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    for _ in range(4):
        topt.step()
        ts.step()
    opt = optim.SGD([nc.Tensor(np.zeros(1), requires_grad=True)], lr=0.1)
    ours = getattr(lr_scheduler, name)(opt, **kw)
    ours.load_state_dict(ts.state_dict())
    opt.param_groups[0]["lr"] = topt.param_groups[0]["lr"]
    for _ in range(7):
        topt.step()
        ts.step()
        ours.step()
        assert ours.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-15)
    ts.load_state_dict(ours.state_dict())
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


def test_scheduler_bad_arguments():
    opt = optim.SGD([nc.Tensor(np.zeros(2), requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="step_size"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=0)


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


@pytest.mark.parametrize("make", [lambda o: lr_scheduler.StepLR(o, step_size=2),
                                  lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=2)], ids=["step", "cosine"])
def test_a_scheduler_refuses_groups_added_after_it_and_fractional_epochs(rng, make):
    """A group added after the scheduler has no base rate in it: torch fails at some later epoch
    (a zip of unequal lengths), numconv at the next step, naming the cause, before any rate changes.
    A fractional epoch is refused rather than truncated."""
    ws = [nc.Tensor(rng.standard_normal(2), requires_grad=True) for _ in range(2)]
    opt = optim.SGD(ws[:1], lr=0.1)
    sched = make(opt)
    with pytest.raises(ValueError, match="epoch must be a whole number, got 2.5"):
        sched.step(2.5)
    sched.step(3)
    before = opt.param_groups[0]["lr"]
    opt.add_param_group({"params": ws[1:], "lr": 0.3})
    with pytest.raises(ValueError, match="has 2 param groups, but this .* was made for 1"):
        sched.step()
    assert opt.param_groups[0]["lr"] == before and opt.param_groups[1]["lr"] == 0.3
