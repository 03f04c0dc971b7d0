"""Module hooks (forward pre-hooks, forward hooks, full backward pre-hooks and hooks) against
torch.nn's on the same network, and a gradient a backward hook rescales against finite differences."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
from numconv import nn
from conftest import random, torch_or_fail


def make_pair(torch):
    """The same small CNN in numconv and torch (float64, torch's weights loaded into numconv)."""
    torch.manual_seed(0)
    t = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                            torch.nn.Flatten(), torch.nn.Linear(12, 4)).double()
    n = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 4)).double()
    n.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    return n, t


def attach(model, log, lib):
    """The same hooks on either library's model; they record what they see as NumPy arrays."""

    def arr(x):
        return None if x is None else np.array(x.detach().numpy() if lib == "torch" else x.numpy())

    handles = [
        model[0].register_forward_hook(lambda m, args, out: log.append(("conv out", arr(out)))),
        model[1].register_forward_pre_hook(lambda m, args: (args[0] * 1.5,)),  # scales the ReLU's input
        model[4].register_forward_hook(lambda m, args, out: out - 0.25),  # shifts the logits
        model[1].register_full_backward_pre_hook(lambda m, go: log.append(("relu go", arr(go[0])))),
        model[1].register_full_backward_hook(lambda m, gi, go: (gi[0] * 3,)),  # triples the ReLU's input grad
        model[0].register_full_backward_hook(
            lambda m, gi, go: log.append(("conv gi", arr(gi[0]), "conv go", arr(go[0])))),
    ]
    return handles


def test_hooks_see_and_change_what_torchs_do(rng):
    torch = torch_or_fail()
    n, t = make_pair(torch)
    x = random(rng, (2, 2, 4, 4))
    gy = random(rng, (2, 4))
    logs = {"nc": [], "torch": []}
    attach(n, logs["nc"], "nc")
    attach(t, logs["torch"], "torch")
    xn = nc.Tensor(x.copy(), requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yn, yt = n(xn), t(xt)
    np.testing.assert_allclose(yn.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    yn.backward(nc.Tensor(gy))
    yt.backward(torch.tensor(gy))
    assert [e[0] for e in logs["nc"]] == [e[0] for e in logs["torch"]] == ["conv out", "relu go", "conv gi"]
    for got, want in zip(logs["nc"], logs["torch"]):
        for a, b in zip(got[1::2], want[1::2]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    for (name, p), q in zip(n.named_parameters(), t.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12, atol=1e-12, err_msg=name)


def test_a_backward_hooks_scaling_matches_finite_differences(rng):
    """A full backward hook that scales grad_input by 3 triples the gradient of everything before the module."""
    lin1, lin2 = nn.Linear(5, 4).double(), nn.Linear(4, 3).double()
    act = nn.Tanh()
    model = nn.Sequential(lin1, act, lin2)
    x = random(rng, (6, 5))
    w = random(rng, (6, 3))

    def loss_of(weight):
        with nc.no_grad():
            saved = lin1.weight.numpy().copy()
            lin1.weight.copy_(weight)
            value = float((model(nc.Tensor(x)) * nc.Tensor(w)).sum().item())
            lin1.weight.copy_(saved)
        return value

    w0 = lin1.weight.numpy().copy()
    fd = np.zeros_like(w0)
    eps = 1e-6
    for idx in np.ndindex(w0.shape):
        up, down = w0.copy(), w0.copy()
        up[idx] += eps
        down[idx] -= eps
        fd[idx] = (loss_of(up) - loss_of(down)) / (2 * eps)
    with act.register_full_backward_hook(lambda m, gi, go: (gi[0] * 3,)):
        (model(nc.Tensor(x)) * nc.Tensor(w)).sum().backward()
    np.testing.assert_allclose(lin1.weight.grad.numpy(), 3 * fd, rtol=1e-6, atol=1e-8)
    # the hook is gone: the gradient is the plain one again
    lin1.weight.grad = None
    (model(nc.Tensor(x)) * nc.Tensor(w)).sum().backward()
    np.testing.assert_allclose(lin1.weight.grad.numpy(), fd, rtol=1e-6, atol=1e-8)


class Affine(nn.Module):
    def forward(self, a, k, b, scale=1.0):
        return a * k * scale + b, a.sum()


def test_grad_tuples_have_one_entry_per_argument_and_output(rng):
    seen = []
    m = Affine()
    m.register_full_backward_pre_hook(lambda mod, go: seen.append(("pre", go)))
    m.register_full_backward_hook(lambda mod, gi, go: seen.append(("full", gi, go)))
    a, b = random(rng, (3,)), random(rng, (3,))
    ta = nc.Tensor(a, requires_grad=True)
    out, total = m(ta, 2.0, nc.Tensor(b), scale=0.5)
    assert out.requires_grad and total.requires_grad
    gy = random(rng, (3,))
    out.backward(nc.Tensor(gy))
    (_, go), (_, gi, go2) = seen
    assert go is go2 and len(go) == 2 and go[1] is None  # the unused output: None, as torch
    np.testing.assert_allclose(go[0].numpy(), gy)
    assert len(gi) == 3 and gi[1] is None and gi[2] is None  # a number, and a tensor needing no gradient
    np.testing.assert_allclose(gi[0].numpy(), gy * 2.0 * 0.5)
    np.testing.assert_allclose(ta.grad.numpy(), gy)


def test_full_hooks_run_when_no_input_requires_grad(rng):
    seen = []
    lin = nn.Linear(3, 2)
    lin.register_full_backward_hook(lambda m, gi, go: seen.append((gi, go[0].numpy().copy())))
    gy = random(rng, (4, 2)).astype(np.float32)
    lin(nc.Tensor(random(rng, (4, 3)).astype(np.float32))).backward(nc.Tensor(gy))
    assert len(seen) == 1 and seen[0][0] == (None,)
    np.testing.assert_allclose(seen[0][1], gy)
    assert lin.weight.grad is not None


def test_forward_hook_order_removal_and_prepend(rng):
    calls = []
    m = nn.Identity()
    h1 = m.register_forward_hook(lambda mod, args, out: calls.append(1))
    m.register_forward_hook(lambda mod, args, out: calls.append(2))
    m.register_forward_hook(lambda mod, args, out: calls.append(0), prepend=True)
    x = nc.Tensor(random(rng, (2,)))
    m(x)
    assert calls == [0, 1, 2]
    h1.remove()
    h1.remove()  # twice is harmless
    calls.clear()
    m(x)
    assert calls == [0, 2]


def test_pre_hooks_replace_arguments_and_kwargs(rng):
    m = Affine()
    a, b = random(rng, (3,)), random(rng, (3,))
    m.register_forward_pre_hook(lambda mod, args: args[0])  # one value: becomes the only argument ...
    with pytest.raises(TypeError):  # ... so forward misses k and b
        m(nc.Tensor(a), 2.0, nc.Tensor(b))
    m = Affine()
    m.register_forward_pre_hook(lambda mod, args, kwargs: ((args[0], 4.0, args[2]), {"scale": 0.25}), with_kwargs=True)
    seen = []
    m.register_forward_hook(lambda mod, args, kwargs, out: seen.append((args[1], kwargs)), with_kwargs=True)
    out, _ = m(nc.Tensor(a), 2.0, nc.Tensor(b), scale=3.0)
    np.testing.assert_allclose(out.numpy(), a * 4.0 * 0.25 + b)
    assert seen == [(4.0, {"scale": 0.25})]


def test_bad_hook_results_are_refused(rng):
    x = nc.Tensor(random(rng, (4, 3)).astype(np.float32), requires_grad=True)
    m = Affine()
    m.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match="new_args, new_kwargs"):
        m(x, 1.0, x)
    for bad, match in [(lambda m, gi, go: (gi[0], gi[0]), "tuple of 1"),
                       (lambda m, gi, go: (gi[0][:2],), "changed grad_input"),
                       (lambda m, gi, go: gi[0], "expected a tuple"),
                       (lambda m, gi, go: (gi[0].numpy(),), "expected a Tensor")]:
        lin = nn.Linear(3, 2)
        lin.register_full_backward_hook(bad)
        with pytest.raises((RuntimeError, TypeError), match=match):
            lin(x).sum().backward()
    lin = nn.Linear(3, 2)
    lin.register_full_backward_hook(lambda m, gi, go: (go[0],))  # a gradient where there is none
    with pytest.raises(RuntimeError, match="which has none"):
        lin(nc.Tensor(random(rng, (4, 3)).astype(np.float32))).sum().backward()
    with pytest.raises(TypeError, match="callable"):
        lin.register_forward_hook("not a function")


def test_always_call_runs_after_a_failed_forward(rng):
    class Fails(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    seen = []
    m = Fails()
    m.register_forward_hook(lambda mod, args, out: seen.append("plain"))
    m.register_forward_hook(lambda mod, args, out: seen.append(out), always_call=True)
    with pytest.raises(ValueError, match="boom"):
        m(nc.Tensor(random(rng, (2,))))
    assert seen == [None]


def test_backward_hooks_stay_out_of_no_grad_and_inplace_inputs_are_refused(rng):
    seen = []
    relu = nn.ReLU(inplace=True)
    relu.register_full_backward_hook(lambda m, gi, go: seen.append(gi))
    x = nc.Tensor(random(rng, (5,)), requires_grad=True)
    with nc.no_grad():
        relu(x * 1)
    with pytest.raises(RuntimeError, match="in-place"):  # as torch: the input is seen through the hook's identity
        relu(x * 1)
    assert seen == []


def test_found_by_review_always_call_dict_outputs_and_dropped_gradients(torch, rng):
    """always_call hooks run when a pre-hook or another hook raises; a module whose output is a dict
    does not call its full backward hooks (torch warns and skips them); a backward pre-hook that
    drops a gradient (None) passes zeros on, as torch."""
    for lib, T in ((nn, nc.Tensor), (torch.nn, torch.tensor)):
        for where in ("pre", "forward"):
            seen = []
            m = lib.Identity()
            if where == "pre":
                m.register_forward_pre_hook(lambda mod, args: 1 / 0)
            else:
                m.register_forward_hook(lambda mod, args, out: 1 / 0)
            m.register_forward_hook(lambda mod, args, out: seen.append(out is None), always_call=True)
            with pytest.raises(ZeroDivisionError):
                m(T(np.ones(2)))
            assert seen == [where == "pre"], (lib, where)
    a = rng.standard_normal(2)
    grads = {}
    for lib, T in ((nn, nc.Tensor), (torch.nn, torch.tensor)):
        m = lib.Identity()
        m.register_full_backward_pre_hook(lambda mod, go: (None,))
        x = T(a.copy(), requires_grad=True)
        (m(x) * 2).sum().backward()
        grads[lib] = np.asarray(x.grad.numpy() if lib is nn else x.grad.numpy())
    np.testing.assert_array_equal(grads[nn], grads[torch.nn])
    np.testing.assert_array_equal(grads[nn], [0.0, 0.0])

    class Dict(nn.Module):
        def forward(self, x):
            return {"y": x * 2}

    called = []
    d = Dict()
    d.register_full_backward_hook(lambda m, gi, go: called.append(go))
    x = nc.Tensor(a.copy(), requires_grad=True)
    d(x)["y"].sum().backward()
    assert called == []
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
