"""optim.LBFGS: its iterates against torch.optim.LBFGS's (the same algorithm: both line-search modes,
short histories, the stopping rules), convergence to known minima, a small CNN trained full-batch
beside torch's, the state_dict round trip, and bad arguments. The device side runs in
tests/_cuda_training_cases.py (``optim_cases``)."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F
from conftest import random, to_torch, torch_or_fail
from numconv import checkpoint, optim
from numconv.optim.lbfgs import cubic_minimum


def _rosenbrock(x):
    a, b = x[:-1], x[1:]
    return (100 * (b - a * a) ** 2 + (1 - a) ** 2).sum()


def _least_squares(A, y):
    return lambda x: ((A @ x - y) ** 2).sum() * 0.5


def _run(lib, x0, objective, steps, **kw):
    """(iterates after each step, the losses step returned, func_evals) of ``lib``'s LBFGS from x0."""
    x = lib.tensor(x0.copy(), requires_grad=True)
    opt = lib.optim.LBFGS([x], **kw)

    def closure():
        opt.zero_grad()
        loss = objective(x)
        loss.backward()
        return loss

    path, losses = [], []
    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
        path.append(np.array(x.detach().numpy()))
    return path, losses, opt.state[x]["func_evals"]


SETTINGS = [
    dict(),
    dict(line_search_fn="strong_wolfe"),
    dict(lr=0.5, history_size=3, max_iter=7),
    dict(line_search_fn="strong_wolfe", history_size=2, max_iter=9, max_eval=11),
    dict(lr=1.0, tolerance_grad=1e-3, tolerance_change=1e-5, max_iter=50),
]


@pytest.mark.parametrize("kw", SETTINGS, ids=[str(i) for i in range(len(SETTINGS))])
@pytest.mark.parametrize("problem", ["rosenbrock", "least_squares"])
def test_iterates_match_torch(kw, problem, rng):
    """The same operations, with sums in another order: iterates agree to the last bits, and the
    differences grow along Rosenbrock's valley (1e-16 to 1e-13 over 20 iterations, then chaos), so
    there one step of up to 20 iterations is compared; the least-squares runs go on for four steps."""
    torch = torch_or_fail()
    if problem == "rosenbrock":
        x0, steps, ours_objective = np.array([-1.2, 1.0, 0.4, -0.7, 1.3]), 1, _rosenbrock
        torch_objective = _rosenbrock
    else:
        A, y = random(rng, (12, 6)), random(rng, (12,))
        x0, steps = random(rng, (6,)), 4
        ours_objective, torch_objective = _least_squares(nc.tensor(A), nc.tensor(y)), \
            _least_squares(to_torch(torch, A), to_torch(torch, y))
    ours = _run(nc, x0, ours_objective, steps, **kw)
    theirs = _run(torch, x0, torch_objective, steps, **kw)
    assert ours[2] == theirs[2], "a different number of closure calls"
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-10)
    for a, b in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


def test_converges_to_known_minima(rng):
    path, _, _ = _run(nc, np.array([-1.2, 1.0]), _rosenbrock, 10, line_search_fn="strong_wolfe", tolerance_change=0,
                      tolerance_grad=1e-12)
    np.testing.assert_allclose(path[-1], [1.0, 1.0], atol=1e-9)
    A, y = random(rng, (30, 8)), random(rng, (30,))
    path, _, _ = _run(nc, np.zeros(8), _least_squares(nc.tensor(A), nc.tensor(y)), 3, line_search_fn="strong_wolfe",
                      tolerance_change=0, tolerance_grad=1e-12)
    np.testing.assert_allclose(path[-1], np.linalg.lstsq(A, y, rcond=None)[0], atol=1e-8)


def test_a_small_cnn_trains_full_batch_as_torch(rng):
    """Two parameters tensors of a conv net, one flat vector: the losses follow torch's."""
    torch = torch_or_fail()
    x, target = random(rng, (6, 1, 7, 7)), rng.integers(0, 3, 6)
    w, b, v = random(rng, (4, 1, 3, 3)) * 0.5, random(rng, (4,)) * 0.1, random(rng, (3, 4 * 25)) * 0.1

    def losses(lib, fn):
        params = [lib.tensor(a.copy(), requires_grad=True) for a in (w, b, v)]
        opt = lib.optim.LBFGS(params, line_search_fn="strong_wolfe", max_iter=5)
        xs, ts = lib.tensor(x), lib.tensor(target)

        def closure():
            opt.zero_grad()
            h = fn.conv2d(xs, params[0], params[1]).relu().reshape(6, -1)
            loss = fn.cross_entropy(h @ params[2].t(), ts)
            loss.backward()
            return loss

        return [float(opt.step(closure).detach()) for _ in range(4)]

    ours, theirs = losses(nc, F), losses(torch, torch.nn.functional)
    np.testing.assert_allclose(ours, theirs, rtol=1e-7)
    assert ours[-1] < 0.5 * ours[0]


def test_state_dict_round_trip_continues_identically(tmp_path):
    x0 = np.array([-1.2, 1.0, 0.4])

    def make():
        x = nc.tensor(x0.copy(), requires_grad=True)
        opt = optim.LBFGS([x], history_size=4, max_iter=3, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = _rosenbrock(x)
            loss.backward()
            return loss

        return x, opt, closure

    x, opt, closure = make()
    for _ in range(5):
        opt.step(closure)
    want = [float(opt.step(closure)) for _ in range(3)]
    x2, opt2, closure2 = make()
    for _ in range(5):
        opt2.step(closure2)
    checkpoint.save(tmp_path / "opt.npz", opt2.state_dict())
    x3, opt3, closure3 = make()
    with nc.no_grad():
        x3.copy_(x2)
    opt3.load_state_dict(checkpoint.load(tmp_path / "opt.npz"))
    assert [float(opt3.step(closure3)) for _ in range(3)] == want
    np.testing.assert_array_equal(x3.numpy(), x.numpy())


def test_cubic_minimum():
    # f = (t - 0.3)^3 - 2 (t - 0.3) has its local minimum at 0.3 + sqrt(2/3)
    f, g = (lambda t: (t - 0.3) ** 3 - 2 * (t - 0.3)), (lambda t: 3 * (t - 0.3) ** 2 - 2)
    assert cubic_minimum(0.0, f(0.0), g(0.0), 2.0, f(2.0), g(2.0)) == pytest.approx(0.3 + (2 / 3) ** 0.5, rel=1e-12)
    assert cubic_minimum(0.0, f(0.0), g(0.0), 2.0, f(2.0), g(2.0), bounds=(0.0, 1.0)) == 1.0
    assert cubic_minimum(0.0, 0.0, 2.0, 1.0, 4 / 3, 2.0) == 0.5  # a cubic without a minimum: the midpoint


def test_bad_arguments():
    p = nc.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="needs a closure"):
        optim.LBFGS([p]).step()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [p]}, {"params": [nc.tensor(np.ones(2), requires_grad=True)]}])
    with pytest.raises(ValueError, match="line_search_fn"):
        optim.LBFGS([p], line_search_fn="wolfe")
    with pytest.raises(ValueError, match="history_size"):
        optim.LBFGS([p], history_size=0)
    with pytest.raises(ValueError, match="lr"):
        optim.LBFGS([p], lr=-1)
    with pytest.raises(TypeError, match="max_iter"):
        optim.LBFGS([p], max_iter=2.5)
    with pytest.raises(ValueError, match="state 'd' must be a float array of shape"):
        opt = optim.LBFGS([p])
        opt.load_state_dict({"state": {"0": dict(func_evals=1, n_iter=1, d=np.ones(4), prev_flat_grad=np.ones(3),
                                                 old_dirs=np.ones((0, 3)), old_stps=np.ones((0, 3)), ro=np.ones(0),
                                                 t=1.0, H_diag=1.0, prev_loss=0.5)},
                             "param_groups": [opt.state_dict()["param_groups"][0]]})


def test_found_by_review(rng):
    """The line search stops at the step's max_eval and keeps PyTorch's own tolerance_change; a loss
    linear along the line (a zero denominator in the cubic) goes on as PyTorch's does; a frozen
    parameter holding inf stays out of the step; a partial saved history is a ValueError."""
    torch = torch_or_fail()
    counts = []
    for lib in (nc, torch):
        for objective in (lambda x: x.abs().sum(), lambda x: x.sum()):
            x = lib.tensor(np.array([0.7, -0.3]), requires_grad=True)
            opt = lib.optim.LBFGS([x], line_search_fn="strong_wolfe", tolerance_change=0)

            def closure(opt=opt, x=x, objective=objective):
                opt.zero_grad()
                loss = objective(x)
                loss.backward()
                return loss

            opt.step(closure)
            counts.append(opt.state[x]["func_evals"])
    assert counts[:2] == counts[2:] == [26, 26], counts
    a, frozen = nc.tensor([1.0, 2.0], requires_grad=True), nc.tensor([np.inf, 0.0], requires_grad=True)
    opt = optim.LBFGS([a, frozen])

    def closure():
        opt.zero_grad()
        loss = ((a - 3) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(a.numpy(), [3.0, 3.0], rtol=1e-6)
    assert frozen.numpy()[0] == np.inf and frozen.numpy()[1] == 0
    saved = opt.state_dict()
    del saved["state"][0]["H_diag"]
    with pytest.raises(ValueError, match="no 'H_diag'"):
        optim.LBFGS([a, frozen]).load_state_dict(saved)
