"""In-place changes as PyTorch makes them: basic indexing gives views, ``+=`` changes the tensor every name
sees (recorded by autograd), and backward refuses arrays changed in place after the forward saved them."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
from _edits import edit_through_views
from conftest import assert_close, random
from numconv.autograd import gradcheck


def test_edits_through_views_reach_the_tensor_as_in_torch(torch, rng):
    base = random(rng, (3, 4, 5))
    seed = int(rng.integers(1 << 30))
    results = []
    for lib, make in ((nc, lambda a: nc.Tensor(a)), (torch, lambda a: torch.from_numpy(np.array(a)))):
        t = make(base.copy())
        with lib.no_grad():
            seen = edit_through_views(t, make, np.random.default_rng(seed))
        results.append((t.numpy(), seen))
    (got, got_seen), (want, want_seen) = results
    assert not np.allclose(got, base)
    assert_close(got, want, what="tensor after the edits")
    for i, (g, w) in enumerate(zip(got_seen, want_seen)):
        assert_close(g, w, what=f"view {i}")


def test_basic_indexing_is_a_view_and_advanced_indexing_a_copy(rng):
    a = random(rng, (4, 6))
    t = nc.Tensor(a)
    row, item, cols = t[1], t[2, 3], t[..., 1:5:2]
    assert np.shares_memory(row.data, a) and np.shares_memory(item.data, a) and np.shares_memory(cols.data, a)
    assert item.shape == ()
    picked, masked = t[[0, 2]], t[t > 0]
    assert not np.shares_memory(picked.data, a) and not np.shares_memory(masked.data, a)
    before = a.copy()
    with nc.no_grad():
        picked.zero_()  # a copy, as in PyTorch: the tensor keeps its values
        masked.fill_(0.0)
    np.testing.assert_array_equal(a, before)
    with nc.no_grad():
        item.fill_(-7.0)
    assert a[2, 3] == -7.0


def test_init_fills_a_slice_of_a_parameter(rng):
    conv = nc.nn.Conv2d(3, 4, 3)
    before = conv.weight.numpy().copy()
    nc.nn.init.zeros_(conv.weight[0])
    nc.nn.init.normal_(conv.weight[:, 1], generator=np.random.default_rng(int(rng.integers(1 << 30))))
    w = conv.weight.numpy()
    assert (w[0, 0] == 0).all() and (w[0, 2] == 0).all()
    assert (w[:, 1] != before[:, 1]).all()
    np.testing.assert_array_equal(w[1:, 0], before[1:, 0])
    np.testing.assert_array_equal(w[1:, 2], before[1:, 2])


def _augmented(x, w, u):
    """y = x * 1.5, then changed in place through another name inside a function, as user code does."""
    y = x * 1.5

    def add_into(t):
        t += w
        t *= u
        t -= x
        t /= 1.0 + u * u

    alias = y
    add_into(alias)
    return y


def test_augmented_assignment_changes_the_tensor_every_name_sees(torch, rng):
    arrays = [random(rng, (3, 4)) for _ in range(3)]
    outs, grads = [], []
    for lib in (nc, torch):
        ts = [lib.tensor(a, requires_grad=True) if lib is torch else nc.Tensor(a, requires_grad=True) for a in arrays]
        y = _augmented(*ts)
        proj = np.random.default_rng(1).standard_normal(y.shape)
        (y * (lib.tensor(proj) if lib is torch else nc.Tensor(proj))).sum().backward()
        outs.append(y.detach().numpy())
        grads.append([t.grad.numpy() for t in ts])
    assert_close(outs[0], outs[1], what="y")
    for i, (g, w) in enumerate(zip(*grads)):
        assert_close(g, w, what=f"gradient of input {i}")


def test_augmented_assignment_gradients_match_finite_differences(rng):
    ts = [nc.Tensor(random(rng, (2, 3)), requires_grad=True) for _ in range(3)]
    assert gradcheck(_augmented, ts)


def test_augmented_assignment_keeps_the_memory_and_adds_to_itself(rng):
    x = nc.Tensor(random(rng, (5,)), requires_grad=True)
    y = x * 3.0
    data = y.data
    y += y  # the other operand is the tensor itself
    assert y.data is data
    y.sum().backward()
    assert_close(x.grad.numpy(), np.full(5, 6.0))
    acc = nc.zeros(5, dtype=np.float64)  # no grad of its own: it joins the graph
    acc += x * x
    assert acc.requires_grad and acc.grad_fn is not None
    x.grad = None
    acc.sum().backward()
    assert_close(x.grad.numpy(), 2 * x.numpy())


def test_changing_a_saved_array_in_place_fails_backward(rng):
    x = nc.Tensor(random(rng, (4,)))
    w = nc.Tensor(random(rng, (4,)), requires_grad=True)
    loss = (x * w).sum()  # Mul saves x for w's gradient
    with nc.no_grad():
        x.reshape(2, 2)[0].zero_()  # through a view of a view
    with pytest.raises(RuntimeError, match=r"Mul's backward.*modified in place.*version went from 0 to 1"):
        loss.backward()
    s = w.sigmoid()  # Sigmoid saves its output
    s += 1.0
    with pytest.raises(RuntimeError, match="Sigmoid's backward"):
        s.sum().backward()


def test_in_place_change_of_an_unsaved_input_is_fine(rng):
    x = nc.Tensor(random(rng, (4,)))
    w = nc.Tensor(random(rng, (4,)), requires_grad=True)
    loss = (x + w).sum()  # Add saves nothing
    with nc.no_grad():
        x.fill_(3.0)
    loss.backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.ones(4))


def test_an_optimizer_step_counts_as_a_change(rng):
    w = nc.nn.Parameter(random(rng, (3,)))
    x = nc.Tensor(random(rng, (3,)), requires_grad=True)
    loss = (w * x).sum()
    loss.backward(retain_graph=True)
    nc.optim.SGD([w], lr=0.1).step()
    assert w._version == 1
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_in_place_with_grad_on_shared_memory_is_refused(rng):
    x = nc.Tensor(random(rng, (2, 3)), requires_grad=True)
    h = x * 2.0
    row = h[0]
    with pytest.raises(RuntimeError, match="shares"):
        row += 1.0
    with pytest.raises(RuntimeError, match="shares"):
        h += 1.0  # its slice would not see the change in the graph
    with pytest.raises(RuntimeError, match="does not fit the tensor's dtype"):
        i = nc.Tensor(np.arange(3))
        i += 0.5


def _setitem_cases():
    rng = np.random.default_rng(11)
    return {
        "int and slice, a number": (lambda y, v: y.__setitem__((0, slice(1, 3)), 5.0), None),
        "a row from a tensor that requires grad": (lambda y, v: y.__setitem__(1, v[0]), (1, 4)),
        "broadcast value": (lambda y, v: y.__setitem__((slice(None), 2), v[0, 0]), (1, 4)),
        "index array": (lambda y, v: y.__setitem__(np.array([2, 0]), v), (2, 4)),
        "bool mask": (lambda y, v: y.__setitem__(np.arange(12).reshape(3, 4) % 3 == 1, 0.0), None),
        "zero_": (lambda y, v: y.zero_(), None),
        "fill_ with a 0-d tensor that requires grad": (lambda y, v: y.fill_(v[0, 0]), (1, 1)),
        "copy_": (lambda y, v: y.copy_(v), (3, 4)),
        "rng": rng,
    }


@pytest.mark.parametrize("case", [k for k in _setitem_cases() if k != "rng"])
def test_assignment_into_a_tensor_autograd_records_as_torch(case, torch):
    """``y[i] = v``, zero_, fill_ and copy_ on a non-leaf that requires grad (or with a value that does)
    are recorded, as PyTorch: the old values lose their gradient where they were overwritten, the value
    gets the gradient of the places it went to (summed where it broadcast). They raised."""
    cases = _setitem_cases()
    write, vshape = cases[case]
    rng = cases["rng"]
    x, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    v = rng.standard_normal(vshape) if vshape else None

    def run(lib_tensor, wrap):
        xt = lib_tensor(x)
        vt = lib_tensor(v) if v is not None else None
        y = xt * 1.5
        write(y, vt)
        (y * wrap(g)).sum().backward()
        return y, xt.grad, (vt.grad if vt is not None else None)

    ours = run(lambda a: nc.Tensor(a.copy(), requires_grad=True), nc.Tensor)
    theirs = run(lambda a: torch.tensor(a, requires_grad=True), torch.from_numpy)
    np.testing.assert_allclose(ours[0].detach().numpy(), theirs[0].detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(ours[1].numpy(), theirs[1].numpy(), rtol=1e-14)
    if v is not None:
        np.testing.assert_allclose(ours[2].numpy(), theirs[2].numpy(), rtol=1e-14)


def test_assignment_into_a_leaf_that_requires_grad_is_refused():
    w = nc.Tensor(np.ones(3), requires_grad=True)
    for write in (lambda: w.__setitem__(0, 2.0), w.zero_, lambda: w.fill_(1.0), lambda: w.copy_(np.zeros(3))):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
            write()
    with nc.no_grad():
        w[0] = 2.0
    assert w.numpy().tolist() == [2.0, 1.0, 1.0]
