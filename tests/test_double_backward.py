"""Double backward (``create_graph=True``): every op with a ``graph_backward`` is checked by
``autograd.gradgradcheck`` (autograd's second derivatives against central differences of the first
ones, in float64, with respect to the inputs and to the output's projection), the main ones also
against PyTorch's Hessian-vector products; then the engine: ``.grad`` with a graph, hooks,
``retain_graph``'s default, a third derivative, a gradient penalty step, and the refusals."""
from __future__ import annotations

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F
from numconv.autograd import gradgradcheck


def _inputs(rng, shapes, positive=()):
    """Random float64 Tensors that require grad; those at ``positive`` positions drawn in [0.5, 1.5)."""
    out = []
    for i, s in enumerate(shapes):
        a = rng.uniform(0.5, 1.5, s) if i in positive else rng.standard_normal(s)
        out.append(nc.Tensor(a, requires_grad=True))
    return out


def _labels(shape, classes, seed=3):
    return nc.Tensor(np.random.default_rng(seed).integers(0, classes, shape))


def _assigned(a, b):
    """t[index] = value recorded (SetItem), then used."""
    y = a * 2
    y[1:, 0] = b[:2] * y[0, 1:].clone()
    y[0, 2] = 0.5
    return y ** 2


# (id, fn, input shapes, positions drawn positive)
CASES = [
    ("arithmetic", lambda a, b: (a * b - a / b + (-a) * 3) ** 2, [(2, 3), (2, 3)], (1,)),
    ("broadcast", lambda a, b: a * b + b / (a * a + 1), [(2, 3), (3,)], ()),
    ("pow_tensor_exponent", lambda a, b: a ** b, [(2, 3), (2, 3)], (0,)),
    ("pow_scalar", lambda a: a ** 3 + a ** 0.5 + 2 ** a, [(5,)], (0,)),
    ("matmul", lambda a, b, c: (a @ b).tanh() @ c, [(2, 3), (3, 4), (4,)], ()),
    ("batched_matmul", lambda a, b: (a @ b).sigmoid(), [(2, 2, 3), (3, 2)], ()),
    ("unary", lambda a: a.exp() * a.log() + a.sqrt().tanh() + a.abs().sigmoid(), [(6,)], (0,)),
    ("elementwise_functions", lambda a: a.sin() * a.cos() + a.erf() + a.atan() + a.sinh() + a.log1p() + a.expm1(),
     [(5,)], (0,)),
    ("clamp_relu", lambda a: a.clamp(-0.5, 0.7) * a.relu() + a.relu() ** 2, [(8,)], ()),
    ("softmax", lambda a: a.softmax(1) * a.log_softmax(0), [(3, 4)], ()),
    ("reductions", lambda a: a.sum(0) ** 2 + a.mean(1, keepdim=True).exp() + a.var(0) + a.std(1).sum(),
     [(3, 4)], ()),
    ("norms", lambda a: a.norm() ** 3 + a.norm(p=1, dim=1) * a.logsumexp(1), [(3, 4)], ()),
    ("order_statistics", lambda a: (a * a).amax(1) ** 2 + (a * a).max(1)[0] * a.exp().sort(1)[0][:, 0]
     + a.median(1)[0] ** 3 + a.topk(2, 1)[0].sum(1) ** 2 + a.max() ** 2, [(3, 4)], ()),
    ("running_sums_and_nan_aware", lambda a, b: (a * a).cumsum(1).exp() + nc.maximum(a * a, b) ** 2
     + (a * b).nansum(0) ** 2 + (a * a).nan_to_num() ** 2, [(3, 4), (4,)], ()),
    ("binary_functions", lambda a, b: a.atan2(b) ** 2 + a.hypot(b) ** 3 + a.logaddexp(b) ** 2 + a.xlogy(b) ** 2
     + a.fmod(b) ** 2 + (a * 3).remainder(b) ** 2 + a.copysign(b) ** 3, [(2, 3), (2, 3)], (1,)),
    ("diagonal_embedding", lambda a, w: (a.diagonal() ** 2).sum() + (F.embedding(
        nc.Tensor(np.array([[0, 2], [2, 1]])), w).sum(-1) ** 2 * a[0, 0]).sum(),
     [(3, 3), (3, 2)], ()),
    ("shapes", lambda a: a.reshape(4, 3).permute(1, 0).expand(2, 3, 4).sum(0) * a.t().reshape(3, 4), [(3, 4)], ()),
    ("indexing", lambda a: a[1:, ::2] ** 2 + a[np.array([0, 0]), :2] * a[0, 1], [(3, 4)], ()),
    ("setitem", _assigned, [(3, 3), (3,)], ()),
    ("gather_where", lambda a, b: nc.where(a > 0, a * b, b ** 2).gather(1, nc.Tensor(np.array([[0, 2], [1, 1]]))),
     [(2, 3), (2, 3)], ()),
    ("cat_stack_split", lambda a, b: nc.cat([a * b, b], 0).split([1, 3], 0)[1] ** 2 + (nc.stack([a, b], 1) ** 2).sum(),
     [(2, 3), (2, 3)], ()),
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1).tanh(), [(1, 2, 5, 4), (3, 2, 3, 2), (3,)], ()),
    ("conv2d_groups_dilation", lambda x, w: F.conv2d(x, w, stride=(1, 2), dilation=2, groups=2, padding=(2, 1)) ** 2,
     [(1, 4, 5, 5), (2, 2, 2, 2)], ()),
    ("conv2d_reflect", lambda x, w: F.conv2d(x, w, padding=1, padding_mode="reflect").sigmoid(),
     [(1, 1, 4, 3), (2, 1, 3, 3)], ()),
    ("conv1d_unbatched", lambda x, w, b: F.conv1d(x, w, b, padding="same") ** 2, [(2, 6), (2, 2, 3), (2,)], ()),
    ("conv3d", lambda x, w: F.conv3d(x, w, stride=2) ** 2, [(1, 1, 3, 4, 3), (2, 1, 2, 2, 2)], ()),
    ("conv_transpose2d", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2)
     .tanh(), [(1, 2, 3, 2), (2, 2, 2, 3), (4,)], ()),
    ("linear", lambda x, w, b: F.linear(x, w, b).tanh(), [(2, 2, 3), (4, 3), (4,)], ()),
    ("max_pool2d", lambda x: F.max_pool2d(x * x, 2, 1) ** 2 + F.adaptive_max_pool2d(x.exp(), (2, 1)).sum(),
     [(1, 2, 3, 4)], ()),
    ("max_unpool2d", lambda x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2) ** 2, [(1, 1, 4, 4)], ()),
    ("avg_pools", lambda x: F.avg_pool2d(x, 2, 1, 1) ** 2 + F.adaptive_avg_pool2d(x.exp(), 1).sum(), [(1, 2, 3, 3)], ()),
    ("pad_unfold_interpolate", lambda x: F.pad(x, (1, 2, 0, 1), value=0.5).exp().sum()
     + F.pad(x, (1, 1), mode="reflect") ** 2 + (F.unfold(x, 2) ** 2).sum() + F.interpolate(x, scale_factor=2,
     mode="bilinear").sigmoid().sum(), [(1, 1, 3, 3)], ()),
    ("prelu", lambda x, w, v: F.prelu(x, w) ** 2 + F.prelu(x * x - 1, v) ** 3, [(2, 3, 2), (3,), ()], ()),
    ("batch_norm", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True) ** 3, [(3, 2, 2), (2,), (2,)], ()),
    ("batch_norm_eval", lambda x, w: F.batch_norm(x, nc.Tensor(np.array([0.1, -0.2])), nc.Tensor(np.array([1.5, 0.7])),
                                                  w, None) ** 3, [(3, 2, 2), (2,)], ()),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (4,), w, b) ** 3, [(2, 4), (4,), (4,)], ()),
    ("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b) ** 3, [(2, 4, 2), (4,), (4,)], ()),
    ("instance_norm", lambda x, w, b: F.instance_norm(x, weight=w, bias=b) ** 3, [(2, 2, 3), (2,), (2,)], ()),
    ("cross_entropy", lambda x: F.cross_entropy(x, _labels((3,), 4)) * F.nll_loss(x.log_softmax(1), _labels((3,), 4)),
     [(3, 4)], ()),
    ("regression_losses", lambda x, y: F.mse_loss(x, y) * F.l1_loss(x, y) + F.binary_cross_entropy_with_logits(x, y.sigmoid()),
     [(2, 3), (2, 3)], ()),
]
ACTIVATIONS = ["leaky_relu", "elu", "gelu", "silu", "hardtanh", "softplus", "hardswish", "hardsigmoid", "mish", "selu",
               "celu"]


@pytest.mark.parametrize("name, fn, shapes, positive", CASES, ids=[c[0] for c in CASES])
def test_gradgradcheck(name, fn, shapes, positive, rng):
    assert gradgradcheck(fn, _inputs(rng, shapes, positive), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ACTIVATIONS + ["gelu_tanh", "softplus_beta"])
def test_activation_second_derivatives(name, rng):
    """Every activation's f'' against differences of its f'; inputs spread over each formula's pieces."""
    fn = {"gelu_tanh": lambda x: F.gelu(x, approximate="tanh"), "softplus_beta": lambda x: F.softplus(x, 2.0, 3.0),
          "elu": lambda x: F.elu(x, 0.7), "celu": lambda x: F.celu(x, 1.3)}.get(name, getattr(F, name, None))
    x = nc.Tensor(rng.uniform(-4, 4, 12), requires_grad=True)
    assert gradgradcheck(lambda x: fn(x) ** 2, [x], atol=1e-5, rtol=1e-4)


def _hessian_vector(lib, fn, tensors, v, grad):
    gs = grad(fn(*tensors).sum(), tensors, create_graph=True)
    return grad(sum((g * lib(w)).sum() for g, w in zip(gs, v)), tensors)


@pytest.mark.parametrize("case", ["conv_net", "norm_net", "classifier"])
def test_hessian_vector_products_match_torch(case, torch, rng):
    tf = torch.nn.functional
    nets = {
        "conv_net": ([(2, 2, 6, 6), (3, 2, 3, 3), (3,), (4, 12)],
                     lambda m: lambda x, w, b, fc: m.linear(m.max_pool2d(m.leaky_relu(m.conv2d(x, w, b, padding=1), 0.2),
                                                                          3).flatten(1), fc).tanh()),
        "norm_net": ([(3, 2, 4), (2,), (2,), (2, 2, 3)],
                     lambda m: lambda x, w, b, k: m.gelu(m.conv1d(m.batch_norm(x, None, None, w, b, training=True), k))
                     * m.softplus(m.layer_norm(x, (4,)).sum(-1, keepdim=True))),
        "classifier": ([(4, 5), (3, 5)],
                       lambda m: lambda x, w: m.cross_entropy(m.silu(x) @ w.t(), lab(m), reduction="none") ** 2),
    }
    labels = np.array([0, 2, 1, 1])

    def lab(m):
        return torch.tensor(labels) if m is tf else nc.Tensor(labels)

    shapes, make = nets[case]
    arrays = [rng.standard_normal(s) for s in shapes]
    v = [rng.standard_normal(s) for s in shapes]
    ours = _hessian_vector(nc.Tensor, make(F), [nc.Tensor(a, requires_grad=True) for a in arrays], v,
                           nc.autograd.grad)
    theirs = _hessian_vector(torch.tensor, make(tf), [torch.tensor(a, requires_grad=True) for a in arrays], v,
                             torch.autograd.grad)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-9, atol=1e-11)


def test_embedding_padding_row_matches_torch(torch, rng):
    """padding_idx's row gets no gradient, in either pass, as in PyTorch (so its second derivative is not
    the finite differences' of the first: that gradient is not a derivative there)."""
    idx, w, x = np.array([[0, 2], [2, 1]]), rng.standard_normal((3, 2)), rng.standard_normal(2)
    found = []
    for lib, T, fn in ((nc, nc.Tensor, F), (torch, torch.tensor, torch.nn.functional)):
        wt, xt = T(w.copy(), requires_grad=True), T(x.copy(), requires_grad=True)
        (gw,) = lib.autograd.grad((fn.embedding(T(idx), wt, padding_idx=1) ** 3 * xt).sum(), [wt], create_graph=True)
        found.append([g.numpy() for g in lib.autograd.grad((gw * gw).sum(), [wt, xt])])
    for ours, theirs in zip(*found):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_third_derivative_of_a_convolution(rng):
    """The convolution's input and weight gradients are differentiable Functions whose gradients are
    the convolution and each other again: a gradient of a gradient of a gradient."""
    x, w = _inputs(rng, [(1, 1, 4, 4), (2, 1, 2, 2)])

    def first_gradient(x, w):
        return nc.autograd.grad((F.conv2d(x, w, stride=2) ** 3).sum(), [x, w], create_graph=True)

    assert gradgradcheck(lambda x, w: first_gradient(x, w), [x, w], atol=1e-5, rtol=1e-4)


def test_backward_with_create_graph_leaves_a_differentiable_grad(rng):
    """x.grad has a graph; differentiating it accumulates the second derivative, as in PyTorch."""
    a = rng.standard_normal(4)
    x = nc.Tensor(a.copy(), requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    first = x.grad
    assert first.requires_grad and not first.is_leaf
    np.testing.assert_allclose(first.numpy(), 3 * a ** 2, rtol=1e-12)
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * a, rtol=1e-12)
    # a second backward(create_graph=True) adds to a .grad that has a graph, out of place
    y = nc.Tensor(a.copy(), requires_grad=True)
    (y ** 2).sum().backward(create_graph=True)
    g1 = y.grad
    (y ** 3).sum().backward(create_graph=True)
    np.testing.assert_allclose(y.grad.numpy(), 2 * a + 3 * a ** 2, rtol=1e-12)
    np.testing.assert_allclose(g1.numpy(), 2 * a, rtol=1e-12)  # the first .grad is not changed in place
    (gy,) = nc.autograd.grad(y.grad.sum(), [y])
    np.testing.assert_allclose(gy.numpy(), 2 + 6 * a, rtol=1e-12)


def test_create_graph_retains_the_graph_and_follows_hooks(torch, rng):
    a = rng.standard_normal(3)
    x = nc.Tensor(a.copy(), requires_grad=True)
    y = (x * x).sin()
    (g,) = nc.autograd.grad(y.sum(), [x], create_graph=True)
    (again,) = nc.autograd.grad(y.sum(), [x])  # retain_graph defaulted to create_graph: the graph is still there
    np.testing.assert_allclose(again.numpy(), g.numpy(), rtol=1e-14)
    # a hook's operation on a gradient is recorded too, and the hook runs again in the second pass
    found = []
    for lib, T in ((nc, nc.Tensor), (torch, torch.tensor)):
        x2 = T(a.copy(), requires_grad=True)
        h = x2 * x2
        h.register_hook(lambda grad: grad * 2)
        (g2,) = lib.autograd.grad(h.sin().sum(), [x2], create_graph=True)
        (gg,) = lib.autograd.grad(g2.sum(), [x2])
        found.append(gg.detach().numpy())
    np.testing.assert_allclose(found[0], 4 * np.cos(a * a) - 16 * a * a * np.sin(a * a), rtol=1e-12)
    np.testing.assert_allclose(found[0], found[1], rtol=1e-12)
    # a grad_outputs Tensor in a graph is differentiable in turn
    s, x3 = nc.Tensor(a.copy(), requires_grad=True), nc.Tensor(a.copy(), requires_grad=True)
    (gs,) = nc.autograd.grad(x3 * 1.0, [x3], grad_outputs=s * s, create_graph=True)
    (ds,) = nc.autograd.grad(gs.sum(), [s])
    np.testing.assert_allclose(ds.numpy(), 2 * a, rtol=1e-14)


def test_gradient_penalty_training_step_matches_torch(torch, rng):
    """WGAN-GP's penalty, (||d critic(x) / dx|| - 1)^2, on a small convolutional critic: the
    parameters' gradients of it, through create_graph, equal PyTorch's."""
    params = {"w1": rng.standard_normal((4, 1, 3, 3)) * 0.5, "b1": rng.standard_normal(4) * 0.1,
              "w2": rng.standard_normal((1, 36)) * 0.3}
    x = rng.standard_normal((3, 1, 6, 6))

    def penalty(m, lib, p, images):
        images.requires_grad_(True)
        h = m.avg_pool2d(m.leaky_relu(m.conv2d(images, p["w1"], p["b1"], stride=2, padding=1), 0.2), 1)
        score = m.linear(h.flatten(1), p["w2"])
        (g,) = lib.autograd.grad(score.sum(), [images], create_graph=True)
        return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()

    ours = {k: nc.Tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    theirs = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    loss = penalty(F, nc, ours, nc.Tensor(x.copy()))
    loss.backward()
    expected = penalty(torch.nn.functional, torch, theirs, torch.tensor(x.copy()))
    expected.backward()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    for k in params:
        np.testing.assert_allclose(ours[k].grad.numpy(), theirs[k].grad.numpy(), rtol=1e-9, atol=1e-12)


def test_create_graph_through_an_op_without_double_backward_raises(rng):
    x = nc.Tensor(rng.standard_normal(5), requires_grad=True)
    with pytest.raises(NotImplementedError, match="create_graph=True: CumProd has no double backward"):
        nc.autograd.grad(x.cumprod(0).sum(), [x], create_graph=True)
    with pytest.raises(NotImplementedError, match="only the 1- and 2-norms have a double backward"):
        nc.autograd.grad(x.norm(p=3), [x], create_graph=True)
    with pytest.raises(TypeError, match="create_graph takes True or False"):
        (x * 2).sum().backward(create_graph="yes")
    # without create_graph the same ops still differentiate once
    (g,) = nc.autograd.grad(x.cumprod(0).sum(), [x])
    a = x.numpy()
    np.testing.assert_allclose(g.numpy(), [sum(np.prod(np.delete(a[:j + 1], i)) for j in range(i, 5)) for i in range(5)],
                               rtol=1e-12)


def test_gradgradcheck_catches_a_wrong_second_derivative(rng, monkeypatch):
    """The checker is not vacuous: a graph_backward that drops a term fails it."""
    from numconv.tensor import Tanh

    monkeypatch.setattr(Tanh, "graph_backward", staticmethod(lambda ctx, g: g * (1 - ctx.output(0, ctx.saved[0]))))
    x = nc.Tensor(rng.standard_normal(4), requires_grad=True)
    with pytest.raises(AssertionError, match="gradgradcheck failed for input 0"):
        gradgradcheck(lambda x: x.tanh(), [x])


def test_an_in_place_change_between_the_two_passes_raises(rng):
    """The second pass's ops save the forward's arrays with their tensors' version counters: a change
    made to such a tensor after the first backward is refused, as PyTorch refuses it."""
    x = nc.Tensor(rng.standard_normal(3), requires_grad=True)
    h = x.exp()
    (g,) = nc.autograd.grad((h * h).sum(), [x], create_graph=True)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified in place"):
        nc.autograd.grad(g.sum(), [x])


def test_zero_grad_takes_a_graph_gradient_out_of_its_graph(rng):
    """zero_grad(set_to_none=False) on a .grad that has a graph: detached, then zeroed, as PyTorch."""
    m = nc.nn.Linear(3, 2).double()
    opt = nc.optim.SGD(m.parameters(), lr=0.1)
    x = nc.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    for zero in (lambda: opt.zero_grad(set_to_none=False), lambda: m.zero_grad(set_to_none=False)):
        (m(x) ** 2).sum().backward(create_graph=True)
        assert m.weight.grad.requires_grad
        zero()
        assert not m.weight.grad.requires_grad and m.weight.grad.is_leaf
        np.testing.assert_array_equal(m.weight.grad.numpy(), np.zeros((2, 3)))


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph")  # torch's, on its reference cycle
def test_engine_cases_found_by_review_match_torch(torch, rng):
    """Hooks run once on a tensor feeding a norm (whose double backward runs a pass of its own);
    create_graph under no_grad() still records; a .grad never aliases another leaf's or the caller's
    seed; several roots' seeds that require grad get no gradient themselves; create_graph=1 works."""
    a, p = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    found = {}
    for lib, T, fn in ((nc, nc.Tensor, F), (torch, torch.tensor, torch.nn.functional)):
        out = found.setdefault(lib.__name__, [])
        x = T(a.copy(), requires_grad=True)
        x.register_hook(lambda g: g * 2)
        (g,) = lib.autograd.grad((fn.layer_norm(x, (3,)) * T(p)).sum(), x, create_graph=True)
        out.append(g.detach().numpy())
        x = T(a.copy(), requires_grad=True)
        y = x.sin()
        loss = (y * y + y).sum()
        with lib.no_grad():
            (g,) = lib.autograd.grad(loss, x, create_graph=True)
        out.append(lib.autograd.grad(g.sum(), x)[0].numpy())
        x, w = T(a[0].copy(), requires_grad=True), T(a[1].copy(), requires_grad=True)
        ((x + w) ** 2).sum().backward(create_graph=True)
        (x * 10).sum().backward()
        out += [x.grad.detach().numpy(), w.grad.detach().numpy()]
        v = T(p[0].copy())
        b = T(a[1].copy(), requires_grad=True)
        fn.layer_norm(T(a[0].copy(), requires_grad=True), (3,), None, b).backward(v, create_graph=True)
        (b * 10).sum().backward()
        out += [v.numpy(), b.grad.detach().numpy()]
        x = T(a[0].copy(), requires_grad=True)
        s1, s2 = T(p[0].copy(), requires_grad=True), T(p[1].copy(), requires_grad=True)
        lib.autograd.backward([x.sin(), x * x], [s1, s2], create_graph=True)
        assert s1.grad is None and s2.grad is None
        out.append(lib.autograd.grad(x.grad.sum(), [s1])[0].numpy())
        (g,) = lib.autograd.grad((x ** 3).sum(), x, create_graph=1)
        assert g.requires_grad
    for ours, theirs in zip(found["numconv"], found["torch"]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_grad_skips_a_freed_node_it_does_not_need(torch, rng):
    """autograd.grad runs only the part of the graph that leads to its inputs: a node an earlier
    backward freed, but not on that part, is no error (as PyTorch)."""
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    found = []
    for lib, T in ((nc, nc.Tensor), (torch, torch.tensor)):
        x, y = T(a.copy(), requires_grad=True), T(b.copy(), requires_grad=True)
        h = x.exp()
        out = h * y
        h.sum().backward()  # frees exp's node
        found.append(lib.autograd.grad(out.sum(), [y])[0].detach().numpy())
        with pytest.raises(RuntimeError, match="second time"):
            lib.autograd.grad(out.sum(), [x])
    np.testing.assert_allclose(found[0], found[1], rtol=1e-14)
