"""Define-by-run autograd: ``Function`` (forward and backward side by side), the backward engine
(``backward``, and ``grad`` as ``torch.autograd.grad``), ``no_grad``, ``gradcheck`` and ``gradgradcheck``.

A ``Function`` works on raw arrays: ``forward(ctx, *arrays, **params)`` returns an array (or a
tuple of arrays), ``backward(ctx, *grad_outputs)`` returns one gradient (or None) per positional
input. ``Function.apply`` unwraps Tensors, records the graph, and wraps the results. The engine,
not each op, sums a gradient back to its input's shape when the forward broadcast it, and adds
up gradients that reach one tensor along several paths. Autograd never imports Numba: array
math goes through ``numconv.ops``.

Double backward (``create_graph=True``): the engine passes Tensors instead of arrays and calls
each node's ``graph_backward``, the same backward written with Tensor ops (other Functions), in
grad mode, so the gradients it returns are in a graph of their own and can be differentiated again.
"""
from __future__ import annotations

import functools
import inspect
import numbers
import threading

import numpy as np

from . import ops, shapes

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


class _GradMode:
    """Grad mode ``mode`` for a ``with`` block (re-usable and re-entrant: the mode before each entry
    comes back at its exit), or for each call of a function it decorates, written ``@no_grad()`` or
    ``@no_grad``; a generator function's body runs in the mode too, step by step, as PyTorch's."""

    mode = False

    def __new__(cls, func=None):
        self = super().__new__(cls)
        self._prev = []
        return self if func is None else self(func)

    def __enter__(self):
        self._prev.append(is_grad_enabled())
        _state.enabled = self.mode

    def __exit__(self, *exc):
        _state.enabled = self._prev.pop()

    def _fresh(self):
        return type(self)()

    def __call__(self, fn):
        if not callable(fn):
            raise TypeError(f"{type(self).__name__} decorates a function, got {type(fn).__name__}")
        if inspect.isgeneratorfunction(fn):
            return self._generator(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._fresh():
                return fn(*args, **kwargs)

        return wrapper

    def _generator(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            gen = fn(*args, **kwargs)
            try:
                with self._fresh():
                    response = gen.send(None)
                while True:  # each step of the body in the mode; the caller's code between steps in its own
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self._fresh():
                            gen.close()
                        raise
                    except BaseException as exc:
                        with self._fresh():
                            response = gen.throw(exc)
                    else:
                        with self._fresh():
                            response = gen.send(request)
            except StopIteration as stop:  # the body returned (at any step, the first or after a throw)
                return stop.value

        return wrapper


class no_grad(_GradMode):  # noqa: N801 (PyTorch's name)
    """Inside this block (or decorated function) no graph is recorded (inference, optimizer updates)."""

    mode = False


class enable_grad(_GradMode):  # noqa: N801 (PyTorch's name)
    """Inside this block (or decorated function) graphs are recorded, even within ``no_grad``."""

    mode = True


class set_grad_enabled(_GradMode):  # noqa: N801 (PyTorch's name)
    """``set_grad_enabled(mode)``: turn recording on or off now (a call), or for a ``with`` block,
    after which the mode from before the call comes back, as ``torch.set_grad_enabled``."""

    def __new__(cls, mode):
        return super().__new__(cls)

    def __init__(self, mode):
        self.mode = _mode_flag(mode)
        self.prev = is_grad_enabled()
        _state.enabled = self.mode

    def __enter__(self):
        _state.enabled = self.mode

    def __exit__(self, *exc):
        _state.enabled = self.prev

    def _fresh(self):
        return _GradModeOf(self.mode)

    def __call__(self, fn):
        """As a decorator: the mode for each call of ``fn`` only (the constructor's change is undone)."""
        _state.enabled = self.prev
        return super().__call__(fn)


class _GradModeOf(_GradMode):
    """A given mode, for ``set_grad_enabled``'s decorated functions."""

    def __new__(cls, mode):
        self = super().__new__(cls)
        self.mode = mode
        return self


def _mode_flag(mode, what="set_grad_enabled"):
    if not isinstance(mode, (bool, np.bool_)):
        raise TypeError(f"{what} takes True or False, got {mode!r} ({type(mode).__name__})")
    return bool(mode)


def inference_mode(mode=True):
    """``no_grad()`` (numconv has no separate inference tensors); ``inference_mode(False)`` is
    ``enable_grad()``; ``@inference_mode`` decorates as ``@no_grad``."""
    if callable(mode):
        return no_grad(mode)
    return no_grad() if mode else enable_grad()


class RemovableHandle:
    """What ``Tensor.register_hook`` and a Module's ``register_*_hook`` return: ``remove()`` takes the
    hook off; ``with handle:`` removes it at the block's end."""

    def __init__(self, hooks, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self):
        for i, h in enumerate(self._hooks):  # by identity: the same function registered twice is two hooks
            if h is self._fn:
                del self._hooks[i]
                return

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _run_hooks(hooks, g, shape):
    """``g`` through each hook in turn: a hook sees the gradient as a Tensor and may return a
    replacement of the same shape (or None to keep it). A gradient that is a Tensor (``create_graph``)
    stays one, with the hooks' operations recorded."""
    Tensor = _tensor_class()
    graph = isinstance(g, Tensor)
    for fn in list(hooks):
        out = fn(g if graph else Tensor._of(g))
        if out is not None:
            if not (isinstance(out, Tensor) or hasattr(out, "shape") and hasattr(out, "dtype")):
                raise TypeError(f"a gradient hook must return a Tensor or None, got {type(out).__name__}")
            if graph:
                out = out if isinstance(out, Tensor) else Tensor._of(out)
            else:
                out = out.data if isinstance(out, Tensor) else out
            if tuple(out.shape) != tuple(shape) or out.dtype != g.dtype:
                raise RuntimeError(f"a gradient hook returned shape {tuple(out.shape)} and dtype {out.dtype} for a "
                                   f"gradient of shape {tuple(shape)} and dtype {g.dtype}")
            g = out
    return g


class Context:
    """What a Function's forward leaves for its backward."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.saved = ()
        self.versions = ()  # (counter, version) of each saved array that is a Tensor's: checked before backward
        self.counters = None  # {id(saved array): its tensor's version counter}, for ``input``/``output``

    def save_for_backward(self, *arrays):
        self.saved = arrays

    @property
    def saved_tensors(self):
        return self.saved

    # For ``graph_backward`` (create_graph=True): the forward's arrays as Tensors in the graph, so the
    # gradient it builds from them is differentiable in turn. ``_node`` is set by the engine meanwhile.
    _node = None

    def input(self, i, array=None):
        """Positional input ``i`` of the forward as a Tensor: the leaf itself, or ``array`` (its values,
        which the forward saved) placed at the node that made it; a constant Tensor of ``array`` where
        the input needs no gradient (a Python number stays one; None stays None)."""
        Tensor = _tensor_class()
        t = self._node.inputs[i]
        if t is None:
            return array if array is None or not hasattr(array, "shape") else Tensor._of(array)
        if t._node is None:
            return t
        return self._placed(array, t.shape, t._node, t._index)

    def output(self, i, array):
        """Output ``i`` of the forward (its values ``array``, which the forward saved) as a Tensor made by this node."""
        return self._placed(array, self._node.out_meta[i][0], self._node, i)

    def _placed(self, array, shape, node, index):
        """``array`` as a Tensor of ``shape`` made by output ``index`` of ``node``, sharing the version
        counter of the tensor it was saved from: an op of the second pass that saves it sees an in-place
        change made to that tensor before the second backward."""
        counter = self.counters.get(id(array)) if self.counters else None
        if tuple(array.shape) != tuple(shape):  # saved reshaped (Linear keeps its input as rows, a norm keepdim)
            array = ops.math.reshape(array, shape)
        t = _tensor_class()._of(array, True)
        t._node, t._index = node, index
        if counter is not None:
            t._vc = counter
        return t


class Node:
    """One recorded call: the function, its context, its inputs (leaf Tensors, ``Edge``s or None),
    its outputs' metadata."""

    __slots__ = ("fn", "ctx", "inputs", "out_meta", "hooks")

    def __init__(self, fn, ctx, inputs, out_meta):
        self.fn, self.ctx, self.inputs, self.out_meta = fn, ctx, inputs, out_meta
        self.hooks = None  # {output index: [hook, ...]} from Tensor.register_hook on a non-leaf


class Edge:
    """A non-leaf input as it was when an op used it: the node and output that made it. An in-place
    change later moves the Tensor itself on to a new node (``Tensor._inplace``); the ops that used it
    before must still send their gradients to the node that made the values they read."""

    __slots__ = ("_node", "_index", "shape", "dtype")

    def __init__(self, t):
        self._node, self._index, self.shape, self.dtype = t._node, t._index, tuple(t.data.shape), t.data.dtype


def _input_edge(a, Tensor):
    """What a node records of positional argument ``a``: a leaf Tensor itself (its ``.grad`` is
    where the gradient goes), an Edge for a non-leaf, None for what needs no gradient."""
    if not isinstance(a, Tensor) or not a.requires_grad:
        return None
    return a if a._node is None else Edge(a)


class Function:
    """Subclass with static ``forward(ctx, *args, **kwargs)`` and ``backward(ctx, *grads)``, then call ``apply``.

    Positional arguments that are Tensors take part in differentiation; everything else
    (ints, tuples, specs) is passed through. ``backward`` returns one entry per positional argument.
    """

    differentiable_outputs = None  # None: all floating outputs; or a tuple of output positions
    # True when the output may be a view of the first input's memory (reshape, permute, basic indexing):
    # where it is, the two tensors share one version counter, so an in-place change through either is seen.
    view = False
    # True when ``backward`` returns only arrays it made and holds nowhere else (not a gradient it
    # was given, not a saved array, not a view of either): a leaf's first gradient from it then
    # becomes the leaf's ``.grad`` as it is, without a copy (VGG's 411 MB classifier weight: 24 ms).
    fresh_grads = False
    # False: ``backward`` gets None for an output nothing used, instead of zeros (as PyTorch's
    # ``ctx.set_materialize_grads(False)``).
    materialize_grads = True
    # ``graph_backward(ctx, *grad_outputs)``: the backward again, over Tensors and with other Functions,
    # so that it is recorded (``create_graph=True``: double backward). Its gradients are Tensors; the
    # forward's arrays come back as Tensors in the graph through ``ctx.input`` and ``ctx.output``.
    # None: this Function has no double backward, and create_graph through it raises.
    graph_backward = None

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        Tensor = _tensor_class()
        arrays = [a.data if isinstance(a, Tensor) else a for a in args]
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        record = any(needs) and is_grad_enabled()
        ctx = Context(needs)
        out = cls.forward(ctx, *arrays, **kwargs)
        multi = isinstance(out, tuple)
        outs = out if multi else (out,)
        diff = cls.differentiable_outputs
        node = None
        if record:
            meta = tuple((tuple(o.shape), o.dtype) for o in outs)
            node = Node(cls, ctx, [_input_edge(a, Tensor) for a in args], meta)
        results = []
        for i, o in enumerate(outs):
            grad_ok = record and np.dtype(o.dtype).kind == "f" and (diff is None or i in diff)
            t = Tensor._of(o, grad_ok)
            if grad_ok:
                t._node, t._index = node, i
            results.append(t)
        if cls.view and isinstance(args[0], Tensor) and ops.math.may_share(outs[0], arrays[0]):
            args[0]._view_taken(results[0], cls, args[1:], kwargs)
        if record and ctx.saved:
            ctx.versions, ctx.counters = _versions(ctx.saved, args, results)
        return tuple(results) if multi else results[0]


def _versions(saved, args, results):
    """(counter, version) of each Tensor (an input or an output) whose array a forward saved, or
    saved a view of (a reshape, say): an in-place change to it before backward would make the
    gradient wrong, so backward checks them."""
    Tensor = _tensor_class()
    tensors = [t for t in (*args, *results) if isinstance(t, Tensor)]
    found, counters = [], {}
    for s in saved:
        if s is None or not hasattr(s, "shape"):
            continue
        owner = next((t for t in tensors if t.data is s), None)
        if owner is None:
            owner = next((t for t in tensors if ops.math.may_share(s, t.data)), None)
        if owner is not None:
            counter = owner._counter()
            found.append((counter, counter[0]))
            counters[id(s)] = counter
    return tuple(found), counters


def _check_versions(node):
    for counter, version in node.ctx.versions:
        if counter[0] != version:
            raise RuntimeError(
                f"an array {node.fn.__name__}'s backward needs was modified in place after the forward used it "
                f"(its tensor's version went from {version} to {counter[0]}); change it out of place "
                "(y = y + 1), or clone() it before the in-place change"
            )


_Tensor = None


def _tensor_class():
    """``numconv.tensor.Tensor``, imported on first use (tensor imports this module) and kept."""
    global _Tensor
    if _Tensor is None:
        from .tensor import Tensor

        _Tensor = Tensor
    return _Tensor


def recomputed_grads(ctx, grads, composite, *arrays):
    """A ``graph_backward`` from a second way to compute the forward: ``composite(*inputs)``, the same
    values from differentiable Tensor ops (``arrays``, one per positional input, become Tensors in the
    graph through ``ctx.input``), is differentiated with ``create_graph`` for ``grads``. For fused
    kernels (the norms) whose backward would otherwise need second derivatives written again."""
    inputs = [ctx.input(i, a) for i, a in enumerate(arrays)]
    wanted = [t for t, need in zip(inputs, ctx.needs_input_grad) if need]
    out = composite(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    # no hooks: the inputs are the real leaves and nodes, whose hooks the outer pass runs on the sums
    found = _run([(o, g) for o, g in zip(outs, grads) if g is not None], True, wanted, graph=True, hooks=False)
    got = iter(found.get(id(t)) for t in wanted)
    return tuple(next(got) if need else None for need in ctx.needs_input_grad[:len(arrays)])


def _topological(root_nodes):
    """The nodes ``root_nodes`` lead to, each after every node that uses its outputs (reversed DFS postorder)."""
    order, seen, stack = [], set(), [(n, False) for n in reversed(root_nodes)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for t in node.inputs:
            if t is not None and t._node is not None and id(t._node) not in seen:
                stack.append((t._node, False))
    return order[::-1]  # outputs before inputs


def _accumulate(old, new):
    if old is None:
        return new
    return old + new if isinstance(new, _tensor_class()) else ops.math.add(old, new)


def _graph_flags(retain_graph, create_graph):
    """(retain_graph, create_graph) as booleans (None, a bool or 0/1, as PyTorch takes them);
    retain_graph defaults to create_graph, as PyTorch's."""
    if create_graph is not None and not isinstance(create_graph, (bool, np.bool_, numbers.Integral)):
        raise TypeError(f"create_graph takes True or False, got {create_graph!r} ({type(create_graph).__name__})")
    create_graph = bool(create_graph)
    return (create_graph if retain_graph is None else bool(retain_graph)), create_graph


def _backward_of(node, out_grads, graph):
    """The gradients ``node``'s backward gives its inputs: over arrays, or with ``graph`` over Tensors
    through its ``graph_backward``, recorded (the engine runs in grad mode then)."""
    if not graph:
        return node.fn.backward(node.ctx, *out_grads)
    if node.fn.graph_backward is None:
        raise NotImplementedError(
            f"create_graph=True: {node.fn.__name__} has no double backward yet (its backward is not recorded), so "
            "a gradient through it cannot be differentiated again; the README's 'Double backward' lists the ops "
            "that have one")
    Tensor = _tensor_class()
    grads = [g if g is None or isinstance(g, Tensor) else Tensor._of(g) for g in out_grads]
    node.ctx._node = node
    try:
        return node.fn.graph_backward(node.ctx, *grads)
    finally:
        node.ctx._node = None


def _roots(tensors, grads, what, graph):
    """``tensors`` (one Tensor, or a sequence) and their ``grads`` as [(tensor, seed)], each seed checked
    (``_seed_of``): the engine starts from all of them at once, and the gradients add up where the
    graphs meet, as PyTorch's."""
    from .tensor import Tensor

    if isinstance(tensors, Tensor):
        tensors = [tensors]
        grads = [grads[0] if isinstance(grads, (list, tuple)) and len(grads) == 1 else grads]
    else:
        tensors = list(tensors)
        if not tensors or not all(isinstance(t, Tensor) for t in tensors):
            raise TypeError(f"{what} takes a Tensor or a non-empty sequence of Tensors, got {tensors!r}")
        grads = [None] * len(tensors) if grads is None else list(grads) if isinstance(grads, (list, tuple)) else [grads]
        if len(grads) != len(tensors):
            raise ValueError(f"{what}: {len(tensors)} tensors but {len(grads)} gradients")
    return [(t, _seed_of(t, g, graph)) for t, g in zip(tensors, grads)]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None, *, grad=None):
    """Back-propagate from ``tensors`` (one, or several, whose gradients add up), as
    ``torch.autograd.backward``; leaves that require grad get ``.grad`` (summed over calls), or only
    ``inputs`` (Tensors, leaves or not) when given. ``grad`` is ``grad_tensors``'s older name."""
    retain_graph, create_graph = _graph_flags(retain_graph, create_graph)
    roots = _roots(tensors, grad if grad_tensors is None else grad_tensors, "backward", create_graph)
    if inputs is None:
        _run(roots, retain_graph, None, create_graph)
        return
    inputs = _input_tensors(inputs, "backward")
    found = _run(roots, retain_graph, inputs, create_graph)
    for t in inputs:
        if id(t) in found and not (t._node is not None and t._retains):  # retain_grad's hook has added it
            t._accumulate_grad(found[id(t)])


def _input_tensors(inputs, what):
    from .tensor import Tensor

    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if not inputs:
        raise RuntimeError(f"{what}: inputs is empty; name at least one tensor to differentiate with respect to")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"{what}: input {i} is not a Tensor that requires grad")
    return inputs


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         materialize_grads=False):
    """The gradients of ``outputs`` (one Tensor, or several, whose gradients add up) with respect to
    ``inputs`` (a Tensor or a sequence of them, leaves or not), as ``torch.autograd.grad``: a tuple
    of Tensors, one per input, and no ``.grad`` touched. Only the part of the graph that leads to
    an input is run. An input the output does not depend on raises RuntimeError, or gives None
    with ``allow_unused`` (zeros with ``materialize_grads``). The results are the engine's arrays,
    not copies: a gradient that reaches an input unchanged is the array that was passed in."""
    from .tensor import Tensor

    retain_graph, create_graph = _graph_flags(retain_graph, create_graph)
    allow_unused = materialize_grads if allow_unused is None else allow_unused
    if materialize_grads and not allow_unused:
        raise ValueError("materialize_grads=True needs allow_unused=True (or left unset)")
    roots = _roots(outputs, grad_outputs, "grad", create_graph)
    inputs = _input_tensors(inputs, "grad")
    found = _run(roots, retain_graph, inputs, create_graph)
    result = []
    for i, t in enumerate(inputs):
        g = found.get(id(t))
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) is not used to compute the output; "
                               "pass allow_unused=True to get None for it")
        if g is None and materialize_grads:
            g = ops.math.zeros(t.shape, t.dtype, like=t.data)
        result.append(None if g is None else g if isinstance(g, Tensor) else Tensor(g))
    return tuple(result)


def _seed(tensor, grad):
    """The gradient backward starts from: ones for a one-element ``tensor``, else ``grad`` checked."""
    from .tensor import Tensor

    if not tensor.requires_grad:
        raise RuntimeError("backward() called on a tensor that does not require grad (and has no graph)")
    if grad is None:
        if tensor.numel() != 1:
            raise RuntimeError(f"grad can be implicitly created only for a single-element tensor, got shape {tensor.shape}")
        return ops.math.full_like(tensor.data, 1.0)
    grad = grad.data if isinstance(grad, Tensor) else grad
    if isinstance(grad, (bool, np.bool_)) or not (isinstance(grad, (np.ndarray, numbers.Real))
                                                  or ops.math.is_device_array(grad)):
        kind = f"a {type(grad).__module__}.{type(grad).__name__}" if hasattr(grad, "shape") else repr(grad)
        raise TypeError(f"the gradient to start backward from must be a numconv Tensor, a NumPy or Numba device "
                        f"array or a number, got {kind}")
    if not hasattr(grad, "shape"):  # a Python number
        grad = ops.math.full_like(tensor.data, grad)
    if tuple(grad.shape) != tuple(tensor.shape):
        raise ValueError(f"grad must have the tensor's shape {tensor.shape}, got {tuple(grad.shape)}")
    ops.math.same_device(tensor=tensor.data, grad=grad)  # a gradient on the other device: a ValueError naming both
    if grad.dtype != tensor.dtype:
        grad = ops.math.astype(grad, tensor.dtype)
    return grad


def _seed_of(tensor, grad, graph):
    """``_seed``; with ``graph`` as a Tensor: ``grad`` itself where it is in a graph (the gradients are
    then differentiable in it too, as PyTorch's), else a constant."""
    seed = _seed(tensor, grad)
    if not graph:
        return seed
    Tensor = _tensor_class()
    if isinstance(grad, Tensor) and grad.requires_grad:
        return grad.astype(tensor.dtype)
    return Tensor._of(seed)


def _needed(order, inputs):
    """ids of the nodes of ``order`` whose backward leads to one of ``inputs`` (for ``grad``)."""
    wanted = {id(t) for t in inputs}
    holders = {id(t._node) for t in inputs if t._node is not None}
    needed = set()
    for node in reversed(order):  # inputs before the outputs computed from them
        for t in node.inputs:
            if t is not None and (id(t) in wanted or (t._node is not None and (
                    id(t._node) in needed or id(t._node) in holders))):
                needed.add(id(node))
                break
    return needed


def _run(roots, retain_graph, capture, graph=False, hooks=True):
    """The backward engine, from ``roots`` [(tensor, seed)], in grad mode ``graph`` (as PyTorch's: with
    create_graph every step it takes is recorded, hooks and sums included). ``capture`` None: leaves
    get ``.grad``; else a tuple of Tensors whose gradients are returned as {id(tensor): gradient} and
    no ``.grad`` is touched (``grad``). ``graph``: the gradients are Tensors, each node's
    ``graph_backward`` recorded as it runs. ``hooks`` False: no hook runs (a pass inside another's,
    ``recomputed_grads``, whose partial gradients the outer pass hooks once)."""
    with _GradModeOf(graph):
        return _engine(roots, retain_graph, capture, graph, hooks)


def _engine(roots, retain_graph, capture, graph, hooks):
    Tensor = _tensor_class()
    found = {}
    wanted = None if capture is None else {id(t): t for t in capture}
    hooked = {}  # leaves with hooks: {id: (tensor, gradient summed over the paths)}, hooked once at the end

    def deliver(t, g, owned=False):
        """Gradient ``g`` reaching leaf ``t``: summed for its hooks, captured, or accumulated into ``.grad``."""
        if hooks and t._hooks and (wanted is None or id(t) in wanted):
            prev = hooked.get(id(t))
            hooked[id(t)] = (t, _accumulate(None if prev is None else prev[1], g))
        elif wanted is None:
            t._accumulate_grad(g, owned=owned and not graph)  # a graph's gradient may pass a seed through
        elif id(t) in wanted:
            found[id(t)] = _accumulate(found.get(id(t)), g)

    pending = {}
    for t, seed in roots:
        if t._node is None:
            deliver(t, seed)
        else:
            slot = pending.setdefault(id(t._node), [None] * len(t._node.out_meta))
            slot[t._index] = _accumulate(slot[t._index], seed)
    order = _topological([t._node for t, _ in roots if t._node is not None])
    needed, held = None, {}  # for ``grad``: the nodes to run, and the nodes whose outputs are inputs of it
    if wanted is not None:
        needed = _needed(order, capture)
        for t in capture:
            if t._node is not None:
                held.setdefault(id(t._node), []).append(t)
    for node in order:
        out_grads = pending.pop(id(node), None)
        if out_grads is None:
            continue
        if hooks and node.hooks:
            out_grads = [g if g is None or not node.hooks.get(i) else _run_hooks(node.hooks[i], g, node.out_meta[i][0])
                         for i, g in enumerate(out_grads)]
        for t in held.get(id(node), ()):  # an input of ``grad`` that is not a leaf: its gradient is complete here
            found[id(t)] = out_grads[t._index]
        if needed is not None and id(node) not in needed:
            continue  # (a node ``grad`` does not need may have been freed by an earlier backward)
        if node.ctx is None:
            raise RuntimeError("trying to backward through the graph a second time; pass retain_graph=True the first time")
        if len(out_grads) > 1 and node.fn.materialize_grads:  # zeros for the floating outputs nothing used (integer ones have no gradient)
            out_grads = [g if g is not None or np.dtype(d).kind != "f" else _zeros(s, d, out_grads)
                         for g, (s, d) in zip(out_grads, node.out_meta)]
        if node.ctx.versions:
            _check_versions(node)
        grads = _backward_of(node, out_grads, graph)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) > len(node.inputs) or any(node.ctx.needs_input_grad[len(grads):]):
            raise RuntimeError(f"{node.fn.__name__}.backward returned {len(grads)} gradient(s) for "
                               f"{len(node.inputs)} input(s) of forward; return one per input (None where there "
                               "is none)")
        for i, (t, g) in enumerate(zip(node.inputs, grads)):
            if t is None or g is None:
                continue
            if graph != isinstance(g, Tensor):  # a custom Function written as in PyTorch returns Tensors
                g = Tensor._of(g) if graph else g.data
            shape, dtype = (t.data.shape, t.data.dtype) if t._node is None else (t.shape, t.dtype)
            if g.shape != shape and tuple(g.shape) != tuple(shape):
                if not shapes.broadcasts_to(shape, g.shape):
                    raise RuntimeError(f"{node.fn.__name__}.backward returned a gradient of shape {tuple(g.shape)} "
                                       f"for input {i} of shape {tuple(shape)} (it must have that shape, or one it "
                                       "broadcasts to)")
                g = g.sum_to_size(tuple(shape)) if graph else ops.math.sum_to(g, tuple(shape))
            if g.dtype != dtype:  # e.g. a float32 input mixed with a float64 array
                g = g.astype(dtype) if graph else ops.math.astype(g, dtype)
            if t._node is None:
                deliver(t, g, node.fn.fresh_grads)
            else:
                slot = pending.setdefault(id(t._node), [None] * len(t._node.out_meta))
                slot[t._index] = _accumulate(slot[t._index], g)
        if not retain_graph:  # the saved arrays go; the edges stay, so a later grad() still knows which
            node.ctx = None    # nodes it needs (and refuses only those, as PyTorch)
    for t, g in hooked.values():
        g = _run_hooks(t._hooks, g, t.shape)
        if wanted is None:
            t._accumulate_grad(g)
        else:
            found[id(t)] = g
    return found


def _zeros(shape, dtype, grads):
    """Zeros for an unused output's gradient, on the device (and of the kind: array or Tensor) of ``grads``'."""
    like = next(x for x in grads if x is not None)
    Tensor = _tensor_class()
    if isinstance(like, Tensor):
        return Tensor._of(ops.math.zeros(shape, dtype, like=like.data))
    return ops.math.zeros(shape, dtype, like=like)


def _checked_outputs(out):
    """The floating-point Tensors among ``fn``'s outputs (a Tensor, or a tuple or list of them)."""
    from .tensor import Tensor

    outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return a Tensor or a tuple of Tensors; output {i} is a "
                            f"{type(o).__name__}")
    return [o for o in outs if o.dtype.kind == "f"]


def _float64_copies(inputs, what):
    """``inputs`` with each Tensor copied to float64 (requires_grad kept); at least one must require grad."""
    from .tensor import Tensor

    xs = [Tensor(np.array(t.numpy(), dtype=np.float64), requires_grad=t.requires_grad) if isinstance(t, Tensor) else t
          for t in inputs]
    if not any(isinstance(x, Tensor) and x.requires_grad for x in xs):
        raise ValueError(f"{what}: no input requires grad; pass Tensors with requires_grad=True")
    return xs


def _check_against_differences(what, t, analytic, value, eps, atol, rtol):
    """Compare ``analytic`` (d value / d t, or None for zeros) with central differences of ``value()``
    over each element of Tensor ``t`` (changed in place and restored); AssertionError naming ``what``."""
    analytic = np.zeros(t.shape) if analytic is None else analytic
    numeric = np.zeros(t.shape)
    flat = t.data.reshape(-1)
    for k in range(flat.size):
        orig = flat[k]
        flat[k] = orig + eps
        fp = value()
        flat[k] = orig - eps
        fm = value()
        flat[k] = orig
        numeric.reshape(-1)[k] = (fp - fm) / (2 * eps)
    err = np.abs(analytic - numeric)
    bad = err > atol + rtol * np.abs(numeric)
    if bad.any():
        k = int(np.argmax(err))
        raise AssertionError(
            f"{what} at flat index {k}: analytic {analytic.reshape(-1)[k]:.6g}, "
            f"numeric {numeric.reshape(-1)[k]:.6g} ({int(bad.sum())} of {bad.size} elements off)"
        )


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Compare autograd's gradients of ``fn(*inputs)`` with central differences, in float64.

    ``inputs``: Tensors (those with requires_grad are checked). ``fn`` returns a Tensor or a tuple
    (list) of them; its floating-point outputs are projected on random directions and summed, so
    one backward pass checks every input element against every output. Returns True or raises
    AssertionError naming the input and the worst element.
    """
    from .tensor import Tensor

    xs = _float64_copies(inputs, "gradcheck")
    rng = np.random.default_rng(seed)
    outs = _checked_outputs(fn(*xs))
    projs = [rng.standard_normal(o.shape) for o in outs]

    def objective():
        with no_grad():
            return float(sum((o.numpy() * p).sum() for o, p in zip(_checked_outputs(fn(*xs)), projs)))

    graphed = [(o * Tensor(p)).sum() for o, p in zip(outs, projs) if o.requires_grad]
    if graphed:
        sum(graphed[1:], graphed[0]).backward()
    for i, x in enumerate(xs):
        if isinstance(x, Tensor) and x.requires_grad:
            _check_against_differences(f"gradcheck failed for input {i}", x, None if x.grad is None else x.grad.numpy(),
                                       objective, eps, atol, rtol)
    return True


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Compare autograd's second derivatives of ``fn(*inputs)`` (``create_graph``) with central
    differences of its first ones, in float64, as ``torch.autograd.gradgradcheck``.

    The floating-point outputs are projected on random directions ``p`` (Tensors that take part too),
    L = sum <out, p>; the first gradients dL/dx of the inputs that require grad are projected on
    random ``v``, S = sum <dL/dx, v>, and autograd's dS/dx and dS/dp are checked element by element
    against (S(x + eps) - S(x - eps)) / (2 eps), each S from a first-order backward. Returns True or
    raises AssertionError naming the input (or projection) and the worst element.
    """
    from .tensor import Tensor

    xs = _float64_copies(inputs, "gradgradcheck")
    diff = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
    rng = np.random.default_rng(seed)
    projs = [Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in _checked_outputs(fn(*xs))]
    vs = [rng.standard_normal(x.shape) for x in diff]

    def first(create_graph):
        with enable_grad():
            terms = [(o * p).sum() for o, p in zip(_checked_outputs(fn(*xs)), projs) if o.requires_grad]
            if not terms:
                return [None] * len(diff)
            return grad(sum(terms[1:], terms[0]), diff, create_graph=create_graph, allow_unused=True)

    def objective():
        return sum(float((g.numpy() * v).sum()) for g, v in zip(first(False), vs) if g is not None)

    graphed = [(g * Tensor(v)).sum() for g, v in zip(first(True), vs) if g is not None and g.requires_grad]
    targets = diff + projs
    found = grad(sum(graphed[1:], graphed[0]), targets, allow_unused=True) if graphed else [None] * len(targets)
    for i, (t, g) in enumerate(zip(targets, found)):
        what = (f"input {next(j for j, x in enumerate(xs) if x is t)}" if i < len(diff)
                else f"output projection {i - len(diff)}")
        _check_against_differences(f"gradgradcheck failed for {what}", t, None if g is None else g.numpy(),
                                   objective, eps, atol, rtol)
    return True
