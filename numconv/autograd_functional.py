"""Whole derivatives of a function, as ``torch.autograd.functional``: ``vjp``, ``jvp``, ``jacobian``,
``hessian``, ``vhp`` and ``hvp``, reached as ``numconv.autograd.functional``.

Each is built from ``autograd.grad``: a Jacobian takes one backward pass per output element, a
Hessian one per input element through the gradient's graph (``create_graph``, so every op on the
way needs a double backward), and ``jvp``/``hvp`` use the double-vjp trick (the vjp is linear in
its cotangent u, so the gradient of <vjp(u), v> with respect to u is J v). ``inputs`` is a Tensor
or a tuple of them; the results mirror it (and the outputs' structure), as PyTorch's do. The inputs
are used detached (or, with ``create_graph``, as views in their graph), and the results are
detached unless ``create_graph``.
"""
from __future__ import annotations

import numpy as np

from . import autograd
from .ops import math as M


def _tensor():
    return autograd._tensor_class()


def _as_tuple(x, what, fn_name):
    """(tuple of Tensors, whether ``x`` was a tuple)."""
    Tensor = _tensor()
    is_tuple = isinstance(x, (tuple, list))
    items = tuple(x) if is_tuple else (x,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            where = f"{what} {i}" if is_tuple else what
            raise TypeError(f"{fn_name}: {where} must be a numconv Tensor, got {type(t).__name__}")
    return items, is_tuple


def _prepared(inputs, create_graph):
    """The inputs as tensors the function is run on: views in their graph with ``create_graph`` (so a
    result stays differentiable in them), else detached copies of the values that require grad."""
    out = []
    for t in inputs:
        if t.dtype.kind != "f":
            raise TypeError(f"inputs must be floating-point Tensors, got dtype {t.dtype}")
        if create_graph and t.requires_grad:
            out.append(t.reshape(t.shape))
        else:
            out.append(t.detach().requires_grad_(True))
    return tuple(out)


def _finished(values, create_graph):
    return tuple(v if create_graph or v is None else v.detach() for v in values)


def _grads(outputs, inputs, grad_outputs, create_graph, strict, fn_name, what="output"):
    """autograd.grad of ``outputs`` (summed with ``grad_outputs``) for ``inputs``, with zeros for an
    input they do not depend on (a RuntimeError with ``strict``)."""
    Tensor = _tensor()
    live = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    found = [None] * len(inputs)
    if live:
        found = list(autograd.grad([o for o, _ in live], inputs, [g for _, g in live], retain_graph=True,
                                   create_graph=create_graph, allow_unused=True))
    for i, (g, t) in enumerate(zip(found, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{fn_name}: the {what} does not depend on input {i} (strict=True)")
            found[i] = Tensor._of(M.zeros(t.shape, t.dtype, like=t.data))
        elif strict and create_graph and not g.requires_grad:
            raise RuntimeError(f"{fn_name}: the {what}'s derivative is independent of input {i}, so it cannot be "
                               "differentiated again (strict=True with create_graph=True)")
    return tuple(found)


def _cotangents(v, like, fn_name, what, create_graph):
    """``v`` checked against the shapes of ``like`` (None: allowed only for one single-element Tensor);
    with ``create_graph`` a ``v`` that requires grad stays in its graph (the result is differentiable in it)."""
    Tensor = _tensor()
    if v is None:
        if len(like) != 1 or like[0].numel() != 1:
            raise ValueError(f"{fn_name}: v can be left out only when the {what} is one single-element Tensor")
        return (Tensor._of(M.full_like(like[0].data, 1.0)),)
    vs, _ = _as_tuple(v, "v", fn_name)
    if len(vs) != len(like) or any(a.shape != b.shape for a, b in zip(vs, like)):
        raise ValueError(f"{fn_name}: v must have the {what}'s shapes {[b.shape for b in like]}, got "
                         f"{[a.shape for a in vs]}")
    return tuple(a.reshape(a.shape) if create_graph and a.requires_grad else a.detach() for a in vs)


def _run(func, inputs, fn_name):
    outputs = func(*inputs)
    outs, is_tuple = _as_tuple(outputs, "output", fn_name)
    return outs, is_tuple


def _shaped(items, is_tuple):
    return items if is_tuple else items[0]


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product for cotangent ``v`` (the outputs' shapes)."""
    xs, in_tuple = _as_tuple(inputs, "inputs", "vjp")
    with autograd.enable_grad():
        xs = _prepared(xs, create_graph)
        outs, out_tuple = _run(func, xs, "vjp")
        vs = _cotangents(v, outs, "vjp", "output", create_graph)
        got = _grads(outs, xs, vs, create_graph, strict, "vjp")
    return _shaped(_finished(outs, create_graph), out_tuple), _shaped(_finished(got, create_graph), in_tuple)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product for tangent ``v`` (the inputs' shapes), by the
    double-vjp trick."""
    Tensor = _tensor()
    xs, in_tuple = _as_tuple(inputs, "inputs", "jvp")
    with autograd.enable_grad():
        xs = _prepared(xs, create_graph)
        vs = _cotangents(v, xs, "jvp", "input", create_graph)
        outs, out_tuple = _run(func, xs, "jvp")
        us = tuple(Tensor(M.zeros(o.shape, o.dtype, like=o.data), requires_grad=True) for o in outs)
        g = _grads(outs, xs, us, True, strict, "jvp")
        live = [(a, b) for a, b in zip(g, vs) if a.requires_grad]
        if live:
            got = _grads([a for a, _ in live], us, [b for _, b in live], create_graph, strict, "jvp",
                         "gradient")
        else:
            got = _grads([], us, [], create_graph, strict, "jvp", "gradient")
    return _shaped(_finished(outs, create_graph), out_tuple), _shaped(_finished(got, create_graph), out_tuple)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """d func / d inputs: for one output and one input a Tensor of shape output.shape + input.shape;
    else tuples over the outputs and the inputs, as ``torch.autograd.functional.jacobian``. One
    backward pass per output element (``vectorize`` changes nothing here; only reverse mode)."""
    if strategy != "reverse-mode":
        raise ValueError(f"jacobian: strategy={strategy!r} is not available; numconv's autograd is reverse-mode only")
    xs, in_tuple = _as_tuple(inputs, "inputs", "jacobian")
    with autograd.enable_grad():
        xs = _prepared(xs, create_graph)
        outs, out_tuple = _run(func, xs, "jacobian")
        result = tuple(_jacobian_rows(o, xs, create_graph, strict, "jacobian") for o in outs)
    result = tuple(_shaped(_finished(r, create_graph), in_tuple) for r in result)
    return _shaped(result, out_tuple)


def _jacobian_rows(out, xs, create_graph, strict, fn_name):
    """The Jacobian of one output: per input, output.shape + input.shape, one backward per output element."""
    Tensor = _tensor()
    flat = out.reshape(-1)
    rows = []
    for k in range(flat.shape[0]):
        seed = np.zeros(flat.shape[0], dtype=out.dtype)
        seed[k] = 1.0
        rows.append(_grads([flat], xs, [Tensor(M.to_device(seed, out.device))], create_graph, strict, fn_name))
    from .tensor import stack  # tensor imports autograd, which this module extends

    return tuple((stack([r[i] for r in rows]) if rows else Tensor._of(M.zeros((0,) + x.shape, x.dtype, like=x.data)))
                 .reshape(out.shape + x.shape) for i, x in enumerate(xs))


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of ``func``, which returns one single-element Tensor: for one input a Tensor of shape
    input.shape + input.shape, else a tuple of tuples (the blocks d2f / dx_i dx_j)."""
    if outer_jacobian_strategy != "reverse-mode":
        raise ValueError(f"hessian: outer_jacobian_strategy={outer_jacobian_strategy!r} is not available; "
                         "numconv's autograd is reverse-mode only")
    xs, in_tuple = _as_tuple(inputs, "inputs", "hessian")
    with autograd.enable_grad():
        xs = _prepared(xs, create_graph)
        outs, _ = _run(func, xs, "hessian")
        if len(outs) != 1 or outs[0].numel() != 1:
            raise RuntimeError(f"hessian: func must return one single-element Tensor, got shapes "
                               f"{[o.shape for o in outs]}")
        ones = (_tensor()._of(M.full_like(outs[0].data, 1.0)),)
        first = _grads(outs, xs, ones, True, strict, "hessian")
        blocks = tuple(_jacobian_rows(g, xs, create_graph, strict, "hessian") for g in first)
    blocks = tuple(_shaped(_finished(b, create_graph), in_tuple) for b in blocks)
    return _shaped(blocks, in_tuple)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H): ``func`` returns one single-element Tensor; ``v`` has the inputs' shapes."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v). The Hessian of a twice-differentiable function is symmetric, so this is
    ``vhp``'s product (PyTorch computes it another way, with the same values)."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(func, inputs, v, create_graph, strict, fn_name):
    xs, in_tuple = _as_tuple(inputs, "inputs", fn_name)
    with autograd.enable_grad():
        xs = _prepared(xs, create_graph)
        outs, _ = _run(func, xs, fn_name)
        if len(outs) != 1 or outs[0].numel() != 1:
            raise RuntimeError(f"{fn_name}: func must return one single-element Tensor, got shapes "
                               f"{[o.shape for o in outs]}")
        vs = _cotangents(v, xs, fn_name, "input", create_graph)
        ones = (_tensor()._of(M.full_like(outs[0].data, 1.0)),)
        first = _grads(outs, xs, ones, True, strict, fn_name)
        live = [(g, w) for g, w in zip(first, vs) if g.requires_grad]
        got = _grads([g for g, _ in live], xs, [w for _, w in live], create_graph, strict, fn_name, "gradient")
    return _finished(outs, create_graph)[0], _shaped(_finished(got, create_graph), in_tuple)
