"""In-place changes as PyTorch makes them: basic indexing gives views, ``+=`` changes the tensor every name
sees (recorded by autograd), and backward refuses arrays changed in place after the forward saved them."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F
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


def test_edits_through_views_with_autograd_match_torch(torch, rng):
    """The same edits through slices, transposes and reshapes as above, with autograd recording: on a
    non-leaf that requires grad, with values that require grad too. Each is recorded on the tensor the
    view was taken from (PyTorch's CopySlices); they were refused."""
    x0, w0 = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 4, 5))
    seed = int(rng.integers(1 << 30))

    def run(lib, make):
        x = make(x0.copy(), True)
        t, leaves = x * 1.0, []

        def new(a):
            leaves.append(make(np.array(a), True))
            return leaves[-1]

        seen = edit_through_views(t, new, np.random.default_rng(seed))
        assert t.requires_grad
        (t * make(w0, False)).sum().backward()
        return [t.detach().numpy(), x.grad.numpy(), *(leaf.grad.numpy() for leaf in leaves), *seen]

    ours = run(nc, lambda a, g: nc.Tensor(a, requires_grad=g))
    theirs = run(torch, lambda a, g: torch.tensor(a, requires_grad=g))
    assert len(ours) == len(theirs) == 13
    for i, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15, err_msg=f"item {i}")


def _through_views(x, w, L=nc):
    """In-place changes through views of y = x * 1.5 (4 x 4), w (4,): one after another, each view of the
    one memory. PyTorch's backward refuses what an op saved of y once anything changes y later, so the
    only op that saves its own result (exp) comes last."""
    y = x * 1.5
    y[0] *= w  # a row times a vector
    col = y[1:, 1]  # taken now, changed last: it follows its base through the changes until then
    y.t()[2, 1:] += w[1:]  # a transposed view
    d = y[2:, 2:].diagonal()
    d.mul_(w[2:])
    y.reshape(-1)[4:8:3].sub_(w.sum())  # a view of a reshape
    piece = y.split([1, 3])[0] if L is nc else y.narrow(0, 0, 1)  # torch refuses a split piece
    piece.div_(w[1] + 3.0)
    col.exp_()
    return (y * y).sum() + (col * w[1:]).sum() + d.sum()


def _squared_through_a_view(x, w, L=nc):
    y = x * w
    v = y[1:, :3]
    v *= v if L is nc else v.clone()  # other is self: its old values squared (torch refuses v *= v)
    return (y * y).sum() + v.sum()


@pytest.mark.parametrize("fn", [_through_views, _squared_through_a_view])
def test_in_place_changes_through_views_match_finite_differences_and_torch(fn, torch, rng):
    X, W = rng.standard_normal((4, 4)), rng.standard_normal(4)
    assert gradcheck(fn, (nc.Tensor(X, requires_grad=True), nc.Tensor(W, requires_grad=True)))
    ours, theirs = _both(torch, lambda L, x, w: fn(x, w, L).backward(), X, W)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_views_follow_their_base_through_in_place_changes(torch, rng):
    """Views taken before an in-place change of their base (directly, or through another view) take their
    place in the graph from the base's new one when next used, as PyTorch's: a view of a tensor that did
    not require grad starts to, and gradients reach what the change brought in."""
    X, W = rng.standard_normal((3, 4)), rng.standard_normal(4)

    def run(L, x, w):
        y = L.zeros(3, 4, dtype=L.float64)
        row0, col, t = y[0], y[:, 1:3], y.t()
        assert not row0.requires_grad
        y[1] += w  # through a view of y
        assert row0.requires_grad and col.requires_grad and row0.grad_fn is not None
        y.mul_(x)  # y itself
        t[3] -= x[:, 2] * w[0]  # through the transpose taken at the start
        h = x * 2
        first, last = h[0], h[-1]
        h.add_(w)
        (col * col).sum().backward(retain_graph=True)
        ((row0 * w + first * last).sum() + t[1].sum()).backward()

    ours, theirs = _both(torch, run, X, W)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_in_place_changes_through_views_autograd_cannot_record_are_refused(rng):
    w = nc.Tensor(random(rng, (2, 3)), requires_grad=True)
    h = w * 2.0
    with pytest.raises(RuntimeError, match="view of a leaf tensor that requires grad"):
        w[0].mul_(2.0)
    with nc.no_grad():
        quiet = h[0]
    with pytest.raises(RuntimeError, match="taken under no_grad"):
        quiet += 1.0
    h.mul_(3.0)  # the base's graph moves on: the view taken under no_grad cannot follow it
    with pytest.raises(RuntimeError, match="taken under no_grad"):
        quiet + 1.0
    with pytest.raises(RuntimeError, match="expanded"):
        (h[0:1] * 1).expand(4, 3).add_(w[0])
    with pytest.raises(RuntimeError, match="detach"):
        h[1].detach_()
    v = h[1]
    loss = (v * v).sum()  # keeps v's values
    h.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()
    with nc.no_grad():
        w[0].mul_(2.0)  # what an optimizer does
        quiet += 1.0
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


# ----------------------------------------------------------------------------- found by the graph-semantics review
# Each case runs the same code on numconv and torch (float64) and compares every leaf's gradient.


def _both(torch, fn, *arrays):
    """fn(lib, leaf tensors...) on both libraries; the leaves' gradients (None where unreached)."""
    out = []
    for lib, make in ((nc, lambda a: nc.Tensor(a.copy(), requires_grad=True)),
                      (torch, lambda a: torch.tensor(a.copy(), requires_grad=True))):
        leaves = [make(a) for a in arrays]
        fn(lib, *leaves)
        out.append([None if t.grad is None else t.grad.numpy() for t in leaves])
    return out


def _mean0(y):
    return y.mean(0)


USED_BEFORE_CHANGED = [
    ("used_then_scaled", lambda L, x, v: ((lambda y: (y, y + 0))(x * 2)), lambda y, z: y.__imul__(3),
     lambda y, z: z.sum() + y.sum()),
    ("centred_in_place", lambda L, x, v: (x * 1, None), lambda y, z: y.__isub__(_mean0(y)), lambda y, z: (y * y).sum()),
    ("normalized_in_place", lambda L, x, v: (x * 1, None), lambda y, z: y.__itruediv__(y.sum(1, keepdim=True)),
     lambda y, z: (y * y).sum()),
    ("reduced_then_added_to", lambda L, x, v: ((lambda y: (y, (y.sum(), v)))(x * 1)),
     lambda y, z: y.__iadd__(z[1]), lambda y, z: z[0] + (y * 0).sum()),
    ("masked_update", lambda L, x, v: (x * 1, None), lambda y, z: y.__setitem__(y > 0, y[y > 0] * 2),
     lambda y, z: (y * y).sum()),
    ("row_from_another_row", lambda L, x, v: (x * 1, None), lambda y, z: y.__setitem__([1], y[[0]] * 2),
     lambda y, z: (y * y).sum()),
    ("row_from_its_sum", lambda L, x, v: (x * 1, None), lambda y, z: y.__setitem__(0, y.sum(0)), lambda y, z: (y * y).sum()),
    ("repeated_index_added", lambda L, x, v: (x * 1, None), lambda y, z: y.__setitem__([0, 0], y[[0, 0]] + 1),
     lambda y, z: (y * y).sum()),
]


@pytest.mark.parametrize("case", USED_BEFORE_CHANGED, ids=[c[0] for c in USED_BEFORE_CHANGED])
def test_ops_that_used_a_tensor_before_an_in_place_change_send_their_gradient_to_its_old_values(case, torch, rng):
    """An op records the node that made the values it read, not the Tensor: ``z = y + 0; y *= 3`` leaves z's
    gradient going to the old y (it went through y *= 3 before, or was lost in a cycle)."""
    _, make, change, loss = case

    def run(L, x, v):
        y, z = make(L, x, v)
        change(y, z)
        loss(y, z).backward()

    ours, theirs = _both(torch, run, rng.standard_normal((3, 4)), rng.standard_normal((3, 4)))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert (a is None) == (b is None), f"leaf {i}: numconv {a is not None}, torch {b is not None}"
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=f"leaf {i}")


CHANGED_SAVED = {
    "amax_output": lambda x, o: (lambda m: (m.__iadd__(1), m.sum()))(x.amax(dim=1))[1],
    "max_output": lambda x, o: (lambda m: (m.__iadd__(1), m))(x.max())[1],
    "max_dim_indices": lambda x, o: (lambda vi: (vi[1].zero_(), vi[0].sum()))(x.max(dim=1))[1],
    "linear_input_reshaped": lambda x, o: (lambda h: (lambda y: (h.__iadd__(1), y.sum()))(F.linear(h, o)))(x * 1)[1],
    "gather_index": lambda x, o: (lambda i: (lambda y: (i.zero_(), y.sum()))(x.gather(1, i)))(
        nc.Tensor(np.array([[0, 2], [1, 1], [3, 0]])))[1],
    "clamp_bound": lambda x, o: (lambda lo: (lambda y: (lo.fill_(-10.0), y.sum()))(x.clamp(min=lo)))(nc.zeros(4))[1],
    "bce_weight": lambda x, o: (lambda w: (lambda y: (w.zero_(), y))(
        F.binary_cross_entropy(x.sigmoid(), o[:3].sigmoid().detach(), weight=w)))(nc.ones(4, dtype=nc.float64))[1],
    "where_condition": lambda x, o: (lambda m: (lambda y: (m.fill_(True), y.sum()))(nc.where(m, x, x * 0)))(
        nc.Tensor(x.numpy() > 0))[1],
    "an_alias_made_by_the_constructor": lambda x, o: (lambda y: (nc.Tensor(y).zero_(), y.sum()))(x.exp())[1],
}


@pytest.mark.parametrize("name", list(CHANGED_SAVED))
def test_changing_what_a_backward_saved_through_a_view_or_argument_fails_backward(name, rng):
    """A saved reshape of an input, an index or bound or weight passed in, a Tensor made over another's
    memory: each is version-checked, as PyTorch's (before, backward silently used the new values)."""
    x = nc.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    other = nc.Tensor(rng.standard_normal((4, 4)), requires_grad=True)
    loss = CHANGED_SAVED[name](x, other)
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_a_multiply_keeps_only_the_side_a_gradient_needs(rng):
    """z = y * 3 saves nothing of y (the gradient is 3): changing y afterwards is fine, as in PyTorch."""
    x = nc.Tensor(rng.standard_normal(4), requires_grad=True)
    y = x * 2
    z = y * 3
    with nc.no_grad():
        y.zero_()
    z.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 6.0)


def test_named_in_place_methods_match_torch(torch, rng):
    X, W = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    mask = X > 0.3
    changes = [lambda L, y: y.add_(y * 2, alpha=0.5), lambda L, y: y.sub_(1.5), lambda L, y: y.mul_(y * 1),
               lambda L, y: y.div_(2.0), lambda L, y: y.pow_(2), lambda L, y: y.__ipow__(3),
               lambda L, y: y.clamp_(-0.2, 0.4), lambda L, y: y.masked_fill_(L.tensor(mask), 0.7),
               lambda L, y: y.relu_(), lambda L, y: y.exp_(), lambda L, y: y.abs_().log_(),
               lambda L, y: y.abs_().sqrt_(), lambda L, y: y.neg_(), lambda L, y: y.sigmoid_(), lambda L, y: y.tanh_()]
    for i, change in enumerate(changes):
        def run(L, x):
            y = x * 1
            assert change(L, y) is y
            (y * L.tensor(W)).sum().backward()
        ours, theirs = _both(torch, run, X)
        np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-12, err_msg=f"change {i}")
    np.testing.assert_array_equal(nc.Tensor(X).masked_fill(nc.Tensor(mask), 2.0).numpy(),
                                  torch.tensor(X).masked_fill(torch.tensor(mask), 2.0).numpy())


@pytest.mark.parametrize("layer", ["ReLU", "LeakyReLU", "ELU", "SiLU", "Hardtanh", "ReLU6"])
def test_inplace_activations_write_into_their_input_as_torch(layer, torch, rng):
    X, W = rng.standard_normal((3, 4)) * 3, rng.standard_normal((3, 4))

    def run(L, x):
        y = x * 1
        assert getattr(L.nn, layer)(inplace=True)(y) is y
        (y * L.tensor(W)).sum().backward()

    ours, theirs = _both(torch, run, X)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-12)
    a = X.copy()
    assert F.relu(a, inplace=True) is a and (a >= 0).all()


def test_contiguous_copies_a_transposed_view_as_torch(rng):
    x = nc.Tensor(rng.standard_normal((2, 3)))
    c = x.transpose(0, 1).contiguous()
    c += 100
    assert x.numpy().max() < 100
    assert x.contiguous() is x


def test_hooks_and_retain_grad_as_torch(torch, rng):
    X = rng.standard_normal((3, 4))

    def run(L, x, record):
        x.register_hook(lambda g: record.append(g.numpy().copy()))
        y = x * 2
        y.retain_grad()
        z = (y * y).sum(0)
        z.retain_grad()
        handle = y.register_hook(lambda g: g * 3)  # registered after retain_grad: .grad still sees it
        w = (z * L.tensor(X[0])).sum() + (x * 5).sum()
        w.backward(retain_graph=True)
        first = [t.grad.numpy().copy() for t in (x, y, z)]
        handle.remove()
        w.backward()
        return first + [t.grad.numpy().copy() for t in (x, y, z)] + [record[0], record[1], len(record)]

    ours = run(nc, nc.Tensor(X.copy(), requires_grad=True), [])
    theirs = run(torch, torch.tensor(X.copy(), requires_grad=True), [])
    for i, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-12, err_msg=f"item {i}")
    x = nc.Tensor(X, requires_grad=True)
    x.register_hook(lambda g: g * 0 + 1)  # a leaf's hook sees its gradient summed over paths, once
    (x * x + x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 1.0)
    with pytest.raises(RuntimeError, match="does not require grad"):
        nc.zeros(2).register_hook(print)


def test_grad_mode_helpers_and_small_methods(rng):
    with nc.set_grad_enabled(False):
        assert not nc.autograd.is_grad_enabled()
    assert nc.autograd.is_grad_enabled()
    nc.set_grad_enabled(False)
    try:
        assert (nc.Tensor(np.ones(2), requires_grad=True) * 2).grad_fn is None
    finally:
        nc.set_grad_enabled(True)
    with nc.inference_mode():
        assert not nc.autograd.is_grad_enabled()
    x = nc.Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="not a leaf"):
        y.requires_grad_(False)
    assert y.detach_() is y and y.is_leaf and not y.requires_grad
    np.testing.assert_array_equal(x.t().numpy(), x.numpy().T)
    v, i = nc.tensor(3.0).max(0)
    assert float(v) == 3.0 and int(i) == 0


def test_retain_grad_follows_the_tensor_through_in_place_changes_and_stays_the_last_hook(torch):
    """.grad is the gradient of the tensor's newest values, after every hook registered on them (a second
    look at the hooks found both wrong: the old values' gradient, and hooks run out of order)."""
    for change in (lambda L, y: y.mul_(2), lambda L, y: (F if L is nc else torch.nn.functional).silu(y, inplace=True)):
        results = []
        for L in (nc, torch):
            x = L.tensor([1.0, 2.0], dtype=L.float64, requires_grad=True)
            y = x * 1
            y.retain_grad()
            change(L, y)
            y.register_hook(lambda g: g * 10)
            y.register_hook(lambda g: g + 1)
            (y * y).sum().backward()
            results.append((x.grad.numpy(), y.grad.numpy()))
        for a, b in zip(*results):
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_a_hook_must_keep_the_gradients_dtype():
    x = nc.Tensor(np.ones(3), requires_grad=True)
    x.register_hook(lambda g: g.float())
    with pytest.raises(RuntimeError, match="dtype float32"):
        (x * 2).sum().backward()


def test_grad_mode_as_a_decorator_and_inference_mode_off():
    @nc.set_grad_enabled(False)
    def doubled(t):
        return t * 2

    x = nc.Tensor(np.ones(2), requires_grad=True)
    assert nc.autograd.is_grad_enabled() and not doubled(x).requires_grad and (x * 2).requires_grad
    with nc.no_grad():
        with nc.inference_mode(False):
            assert (x * 2).requires_grad


def test_linear_keeps_only_what_its_gradients_need(rng):
    """A weight changed after a forward whose input needs no gradient is fine, as in PyTorch (only the
    weight's gradient is needed, and it reads the input)."""
    w = nc.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    y = F.linear(nc.ones(2, 4, dtype=nc.float64), w)
    with nc.no_grad():
        w.mul_(0.5)
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), 2.0)


def test_an_embedding_index_changed_before_backward(rng):
    table = rng.standard_normal((4, 2))
    w = nc.Tensor(table, requires_grad=True)
    index = nc.tensor([0, 1])
    y = F.embedding(index, w)
    index[0] = 3
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()
    w.grad = None
    raw = np.array([0, 1])  # an array cannot be checked: it is copied, so the gradient goes to the rows read
    y = F.embedding(raw, w)
    raw[0] = 3
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[1, 1], [1, 1], [0, 0], [0, 0]])


def test_contiguous_is_c_contiguous_and_then_itself(rng):
    for t in (nc.randn(2, 3).t(), nc.randn(2, 3, 4).permute(2, 0, 1), nc.randn(4, 6)[:, ::2]):
        c = t.contiguous()
        assert c.data.flags.c_contiguous and c.contiguous() is c
        np.testing.assert_array_equal(c.numpy(), t.numpy())


# ----------------------------------------------------------------------------- found by the review of views


def test_found_by_the_views_review(torch, rng):
    """A view given requires_grad_() (a leaf) whose base then changed; a deep copy of a view; a cycle that
    kept a changed tensor alive until the garbage collector ran; an expand that must follow its base,
    and one that repeats nothing changed in place; a view taken under no_grad printed."""
    import copy
    import gc
    import weakref

    x = nc.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    y = nc.zeros(3, 4, dtype=nc.float64)
    v = y[0]
    v.requires_grad_()
    z = (v * 3).sum()
    y.add_(x)  # the leaf v cannot also be y's row in the graph (it gave x a wrong gradient)
    with pytest.raises(RuntimeError, match="leaf that requires grad"):
        z.backward()
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        v.mul_(x[0])

    w = nc.Tensor(np.array([3.0, 3.0]), requires_grad=True)
    c = copy.deepcopy(nc.zeros(4, dtype=nc.float64)[:2])  # memory of its own: no longer a view
    c.add_(1.0)
    c.mul_(w)
    c.sum().backward()
    np.testing.assert_array_equal(c.detach().numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0])

    gc.disable()
    try:
        def changed_through_a_view():
            h = nc.Tensor(rng.standard_normal((50, 50)), requires_grad=True) * 2
            h[0].mul_(3.0)
            return weakref.ref(h)

        assert changed_through_a_view()() is None  # freed at once, without gc.collect()
    finally:
        gc.enable()

    results = []
    for L in (nc, torch):
        a = L.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
        b = a * 1
        e = b.expand(2, 3)
        b.mul_(2)
        s = b.expand(3)  # the same shape: no element repeats, so it may change in place
        s.mul_(a)
        ((e * e).sum() + s.sum()).backward()
        results.append(a.grad.numpy())
    np.testing.assert_allclose(*results, rtol=1e-14)

    h = x * 2
    with nc.no_grad():
        quiet = h[0]
    h.mul_(2)
    assert quiet.requires_grad and "requires_grad=True" in repr(quiet)  # as torch's; using it raises
    with pytest.raises(RuntimeError, match="no_grad"):
        quiet * 1


@pytest.mark.parametrize("change", [lambda a: a[0].add_(1), lambda a: a.view(6).mul_(2), lambda a: a.t().zero_(),
                                    lambda a: a[:, 1].fill_(3), lambda a: a.select(0, 1).add_(1),
                                    lambda a: a.unbind(0)[0].add_(1)])
def test_a_view_made_a_leaf_refuses_changes_through_its_views(change, torch):
    """arange(6.).reshape(2, 3).requires_grad_() is a leaf like any other: changing it in place through a
    view of it raises (as in torch) and leaves its values alone; under no_grad() it goes through."""
    a = nc.arange(6.0).reshape(2, 3).requires_grad_()
    t = torch.arange(6.0).reshape(2, 3).requires_grad_()
    with pytest.raises(RuntimeError):
        change(t)
    with pytest.raises(RuntimeError, match="a view of a leaf tensor that requires grad"):
        change(a)
    np.testing.assert_array_equal(a.detach().numpy(), np.arange(6.0).reshape(2, 3))
    with nc.no_grad(), torch.no_grad():
        change(a)
        change(t)
    np.testing.assert_array_equal(a.detach().numpy(), t.detach().numpy())
    (a * a).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), 2 * t.detach().numpy())
