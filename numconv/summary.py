"""``numconv.summary(model, input_shape)``: the per-layer table the notes compute by hand.

One row per call of a leaf module (a module without children), found by running one forward pass
of a batch of 1 with every leaf's ``forward`` temporarily wrapped (a hook local to this file; the
modules are restored afterwards). The autograd graph recorded during that pass (the input
requires a gradient; nothing is back-propagated) links each call to the calls whose outputs feed
it, through residual additions, Inception concatenations, ``F.relu`` and ``flatten``: the real
graph, not a list of layers.

Per row (``LayerSummary``):

- ``params``: the module's own parameters, counted in the first row that holds them (a module called
  twice, such as ResNet's shared ``relu``, appears twice, the second time as ``name#2``; a parameter
  tied between two modules is in the first one's row); ``trainable`` those
  with ``requires_grad``, ``non_trainable`` the frozen rest; ``buffers``: floating non-learned state
  (BatchNorm's running mean and variance), not parameters. Totals come from ``model.parameters()``
  (each shared parameter once): the counts torchvision quotes. (Parameters held directly by a
  module that also has children are in the totals but in no row; no zoo model has any.)
- ``macs``: multiply-accumulates: convolution ``out_elements * C_in/groups * prod(kernel)``;
  transposed convolution ``in_elements * C_out/groups * prod(kernel)``; linear
  ``out_elements * in_features`` (= batch * in * out); bias additions, BatchNorm, pooling and
  activations count 0 (they are additions, comparisons or per-element work, not MACs).
- ``activations``: elements of the output. The memory totals follow the notes' table: the input
  plus the output of every layer that has to be stored, where the ReLU is folded into the layer
  before it (torchvision's ``inplace=True``; the notes' "CONV3-64" row is the convolution with its
  ReLU), dropout likewise, and ``Identity``/``Flatten`` are views. ``inplace_activations=False``
  counts ReLU and dropout outputs too (dropout's as in training, where it makes a new tensor;
  the trace itself runs in eval mode). Functional operations between modules (residual additions,
  concatenations, ``F.relu``) are not rows and are not counted. ``act_bytes`` is that forward
  memory; ``act_bytes_train`` twice it (every stored value gets a gradient of the same size:
  the notes' "x2 for the backward").
- ``rf``, ``jump``, ``start``: receptive field size, effective stride and the centre of unit 0's
  field, per spatial dimension of the input, propagated through the graph (see
  ``numconv.receptive_field`` for the rules; where branches meet, the union: the largest field).

Totals (``ModelSummary``): parameters, MACs, forward and training activation memory, and the
memory of parameters plus optimizer state: SGD with momentum keeps one extra copy of every
trainable parameter (2x the parameter memory when nothing is frozen), Adam two (3x), as
``torch.optim`` keeps state only for parameters that get a gradient; the gradients (1x the
trainable parameters) are listed apart. ``dtype`` (float32 or float64) sets the bytes per value.

VGG-16 at 3x224x224 (the notes' table): 138,357,544 parameters; conv1 224x224x64 = 3,211,264
values, ..., the first FC 4,096. The notes' rows (input, 13 convolutions, 5 pools, 3 FC) add up to
15,237,608 values (61.0 MB in float32); torchvision's VGG has one more stored layer, the
``AdaptiveAvgPool2d(7)`` (25,088). The notes' total "about 24M values, ~93 MB" does not equal the
sum of their own rows (it is 15.2M, ~61 MB); counting the ReLU outputs as well
(``inplace_activations=False``) gives 28.8M.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import nn, shapes
from .autograd import enable_grad
from .nn.conv import _ConvNd
from .receptive_field import (
    Geometry, _num, apply_geometry, check_input_shape, collapse, input_dims, layer_geometry, union,
)
from .tensor import Tensor

__all__ = ["summary", "LayerSummary", "ModelSummary", "trace", "Trace", "Node", "add_cli"]

# Outputs of these are not stored anew (in-place in torchvision's models, or views of the input).
_DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)
_INPLACE = (nn.ReLU,) + _DROPOUT
_VIEWS = (nn.Identity, nn.Flatten)
_WRITE_IN_PLACE = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.SiLU, nn.Hardtanh)  # with inplace=True they return their input


def _key(t):
    """What identifies a value in the graph: the node and output that made it (a Tensor and the
    ``autograd.Edge``s recorded of it share this), or a leaf's identity."""
    return (id(t._node), t._index) if t._node is not None else id(t)


def _first_tensor(obj):
    if isinstance(obj, Tensor):
        return obj
    if isinstance(obj, (tuple, list)):
        for o in obj:
            if isinstance(o, Tensor):
                return o
    return None


def _is_leaf(m):
    return not any(True for _ in m.children())


# ----------------------------------------------------------------------------- trace


@dataclass
class Node:
    """One node of a traced forward pass: a leaf-module call, or (``module is None``) a marker on a
    tensor made by functional code: the model's output, or a requested module's output."""

    index: int
    name: str
    type: str
    module: object
    in_shape: tuple
    out_shape: tuple
    parents: tuple  # node indices; -1 is the network input
    first_call: bool = True
    same_object: bool = False  # the module returned its input (Identity, dropout in eval)
    geom: Geometry = None
    dims: tuple = None

    @property
    def is_call(self):
        return self.module is not None

    @property
    def rf(self):
        return tuple(_num(d.r) for d in self.dims)

    @property
    def jump(self):
        return tuple(_num(d.j) for d in self.dims)

    @property
    def start(self):
        return tuple(_num(d.start) for d in self.dims)


class Trace:
    """A traced forward pass: ``nodes`` in execution order (every node after its parents),
    ``calls`` the leaf-module calls among them, ``output_node`` and ``target_nodes[name]``."""

    def __init__(self, input_shape):
        self.input_shape = tuple(input_shape)
        self.nodes = []
        self.output_node = None
        self.target_nodes = {}
        self.output_shape = None

    @property
    def calls(self):
        return [n for n in self.nodes if n.is_call]

    @property
    def output_dims(self):
        return self.dims(self.output_node)

    def parents(self, i):
        return self.nodes[i].parents

    def spatial_in(self, i):
        return tuple(self.nodes[i].in_shape[2:])

    def spatial_out(self, i):
        return tuple(self.input_shape[1:]) if i < 0 else tuple(self.nodes[i].out_shape[2:])

    def geometry(self, i):
        return self.nodes[i].geom

    def dims(self, i):
        return input_dims(self.input_shape[1:]) if i < 0 else self.nodes[i].dims


def _merge_dims(tr, parents, in_spatial):
    """The field of a layer's input: the union over the nodes feeding it, each collapsed to global
    first if the spatial shape changed on the way (a flatten)."""
    sets = []
    for p in parents:
        p_shape = tr.spatial_out(p)
        d = tr.dims(p)
        if p_shape != tuple(in_spatial):
            d = collapse(d, p_shape, tuple(in_spatial))
        sets.append(d)
    return union(sets)


class _StopTrace(Exception):
    pass


def trace(model, input_shape, targets=(), stop_at=None):
    """Run ``model`` once on a random batch of 1 of shape (1, *input_shape) and record the graph.

    ``targets``: names of (possibly non-leaf) modules whose outputs get a node too
    (``Trace.target_nodes[name]``; for a module called more than once, its first call).
    ``stop_at``: one of the targets; the pass stops once it has run (no output node then). The
    model runs in eval mode (its modes are restored); the input requires a gradient so the
    autograd graph links the calls (nothing is back-propagated).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a numconv.nn.Module, got {type(model).__name__}")
    input_shape = shapes.sample_shape(input_shape)
    params = list(model.parameters())
    dtype = params[0].dtype if params else np.dtype(np.float32)
    named = dict(model.named_modules())
    targets = tuple(targets) + ((stop_at,) if stop_at is not None and stop_at not in targets else ())
    for t in targets:
        if t not in named:
            raise ValueError(f"no module named {t!r} in {type(model).__name__}")
    stop_module = named[stop_at] if stop_at is not None else None
    target_ids = {id(named[t]): t for t in targets}
    tr = Trace(input_shape)
    known = {}  # _key(tensor) -> node index (-1: the input)
    keep = []  # the traced tensors, alive until the trace ends, so that ids stay unique
    seen_modules = set()
    counts = {}
    checked = []  # the first layer whose type fixes the input's rank has seen input_shape

    def sources(t):
        """The nodes whose outputs ``t`` was computed from, found through the autograd graph."""
        if t is None:  # no tensor argument: assume the previous node feeds it
            return (len(tr.nodes) - 1,)
        found, stack, visited = set(), [t], set()
        while stack:
            u = stack.pop()
            if id(u) in visited:
                continue
            visited.add(id(u))
            if _key(u) in known:
                found.add(known[_key(u)])
                continue
            node = getattr(u, "_node", None)
            if node is not None:
                stack.extend(v for v in node.inputs if v is not None)
        if not found:  # not reached through the graph (a constant): assume the previous node feeds it
            found = {len(tr.nodes) - 1}
        return tuple(sorted(found))

    def add(node, y):
        tr.nodes.append(node)
        if y is not None:
            known[_key(y)] = node.index
            keep.append(y)
        return node.index

    def leaf_wrapper(name, m, orig):
        def forward(*args, **kwargs):
            x = _first_tensor(list(args) + list(kwargs.values()))
            if not checked and x is not None and check_input_shape(m, name, input_shape, x.shape):
                checked.append(name)  # before it runs: (28, 28) is no (1, 28, 28) image for a Conv2d
            parents = sources(x)
            out = orig(*args, **kwargs)
            y = _first_tensor(out)
            counts[name] = counts.get(name, 0) + 1
            label = (name or type(m).__name__) + (f"#{counts[name]}" if counts[name] > 1 else "")
            in_shape = tuple(x.shape) if x is not None else ()
            out_shape = tuple(y.shape) if y is not None else ()
            in_sp, out_sp = in_shape[2:], out_shape[2:]
            geom = layer_geometry(m, in_sp, out_sp, nd=len(in_sp))
            d_in = _merge_dims(tr, parents, in_sp)
            if geom.kind not in ("pass", "global") and len(in_sp) != len(d_in):
                geom = Geometry("global", n_in=in_sp, n_out=out_sp)
            node = Node(len(tr.nodes), label, type(m).__name__, m, in_shape, out_shape, parents,
                        first_call=id(m) not in seen_modules, same_object=y is x, geom=geom,
                        dims=apply_geometry(geom, d_in, out_sp))
            seen_modules.add(id(m))
            add(node, y)
            if id(m) in target_ids and target_ids[id(m)] not in tr.target_nodes:
                tr.target_nodes[target_ids[id(m)]] = node.index
            if m is stop_module:
                raise _StopTrace
            return out
        return forward

    def marker(name, y):
        parents = sources(y)
        sp = tuple(y.shape[2:])
        return add(Node(len(tr.nodes), name or "output", "output" if name is None else type(named[name]).__name__,
                        None, tuple(y.shape), tuple(y.shape), parents, geom=Geometry("pass"),
                        dims=_merge_dims(tr, parents, sp)), y)

    def target_wrapper(name, orig):
        def forward(*args, **kwargs):
            out = orig(*args, **kwargs)
            y = _first_tensor(out)
            if y is not None and name not in tr.target_nodes:
                tr.target_nodes[name] = marker(name, y)
            if name == stop_at:
                raise _StopTrace
            return out
        return forward

    leaves = [(n, m) for n, m in model.named_modules() if _is_leaf(m)]
    leaf_ids = {id(m) for _, m in leaves}
    patched = []
    training = {id(m): m.training for m in model.modules()}
    try:
        model.eval()
        for n, m in leaves:
            patched.append((m, m.__dict__.get("forward")))
            m.__dict__["forward"] = leaf_wrapper(n, m, m.forward)
        for t in targets:
            m = named[t]
            if id(m) not in leaf_ids:
                patched.append((m, m.__dict__.get("forward")))
                m.__dict__["forward"] = target_wrapper(t, m.forward)
        x = Tensor(np.random.default_rng(0).standard_normal((1,) + input_shape).astype(dtype), requires_grad=True)
        known[_key(x)] = -1
        stopped = False
        with enable_grad():
            try:
                out = model(x)
            except _StopTrace:
                stopped = True
        if not stopped:
            y = _first_tensor(out)
            if y is None:
                raise TypeError(f"{type(model).__name__} returned {type(out).__name__}, not a Tensor")
            tr.output_shape = tuple(y.shape)
            tr.output_node = known[_key(y)] if known.get(_key(y), -1) >= 0 else marker(None, y)
        for t in targets:
            if t not in tr.target_nodes:
                raise ValueError(f"module {t!r} was not called in the forward pass")
    finally:
        for m, old in patched:
            if old is None:
                m.__dict__.pop("forward", None)
            else:
                m.__dict__["forward"] = old
        for m in model.modules():
            m.__dict__["training"] = training.get(id(m), m.training)
    return tr


# ----------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class LayerSummary:
    """One row of ``summary``: one call of a leaf module (see the module docstring for each figure)."""

    name: str
    type: str
    input_shape: tuple
    output_shape: tuple
    params: int
    trainable: int
    non_trainable: int
    buffers: int
    macs: int
    activations: int  # elements of the output, for the whole batch
    stored: bool  # counted in the activation memory (not an in-place activation or a view)
    act_bytes: int  # forward activation memory of this row (0 when not stored)
    act_bytes_train: int  # forward + backward: 2 * act_bytes
    rf: tuple  # receptive field size per spatial dimension
    jump: tuple  # effective stride per spatial dimension
    start: tuple  # centre of unit 0's field, input pixel coordinates
    parents: tuple  # row indices feeding this one (-1: the input; functional code in between is skipped)


@dataclass(frozen=True)
class ModelSummary:
    """``rows`` plus totals; ``str()`` is the printed table. Memory in bytes of ``dtype``."""

    model: str
    input_shape: tuple  # with the batch dimension
    output_shape: tuple
    dtype: str
    rows: tuple
    total_params: int
    trainable_params: int
    non_trainable_params: int
    buffers: int
    total_macs: int
    input_activations: int
    forward_activations: int  # input + stored rows, values
    forward_bytes: int
    train_bytes: int  # 2 * forward_bytes
    param_bytes: int
    grad_bytes: int
    sgd_momentum_bytes: int  # parameters + a momentum buffer per trainable parameter
    adam_bytes: int  # parameters + first and second moments of each trainable parameter
    rf: tuple  # receptive field of the output's units
    jump: tuple
    start: tuple

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, key):
        if isinstance(key, str):
            for r in self.rows:
                if r.name == key:
                    return r
            raise KeyError(f"no row named {key!r}")
        return self.rows[key]

    def table(self):
        return _table(self)

    def __str__(self):
        return _table(self)


def _prod(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


def _macs(m, in_shape, out_shape):
    if isinstance(m, _ConvNd):
        k = _prod(m.kernel_size)
        if m._transposed:
            return _prod(in_shape) * (m.out_channels // m.groups) * k
        return _prod(out_shape) * (m.in_channels // m.groups) * k
    if isinstance(m, nn.Linear):
        return _prod(out_shape) * m.in_features
    return 0


def summary(model, input_shape, batch_size=1, dtype=None, inplace_activations=True):
    """Per-layer shapes, parameters, multiply-accumulates, activation memory and receptive fields.

    ``input_shape``: one sample's shape (C, *spatial), e.g. (3, 224, 224), checked against the model's
    first layer before it runs (a Conv2d needs (C, H, W): (28, 28) is refused, not traced as one
    unbatched image). The graph is traced with a batch of 1 (fast); shapes, MACs and activations are
    then given for ``batch_size``. ``dtype``: float32 or float64, the element type for memory figures
    (default: the model's parameters'). ``inplace_activations`` (True or False): whether ReLU and
    dropout outputs are free (in place, as the notes' table) or stored. Returns a ``ModelSummary``
    (``rows`` of ``LayerSummary``; ``print()`` it for the table).

        >>> s = summary(numconv.models.vgg16(), (3, 224, 224))
        >>> s.total_params, s["features.0"].activations
        (138357544, 3211264)
    """
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    batch_size = int(batch_size)
    inplace_activations = shapes.flag(inplace_activations, "inplace_activations")
    if dtype is not None:
        try:
            dt = np.dtype(dtype)
        except TypeError:  # not a dtype at all (and never None here: np.dtype(None) is float64)
            dt = np.dtype(object)
        if dt not in shapes.FLOAT_DTYPES:
            raise TypeError(f"dtype must be float32 or float64 (or None: the model's), got {dtype!r}")
        dtype = dt
    tr = trace(model, input_shape)
    params = list(model.parameters())
    if dtype is None:
        dtype = params[0].dtype if params else np.dtype(np.float32)
    item = np.dtype(dtype).itemsize
    call_rows = {n.index: i for i, n in enumerate(tr.calls)}

    def row_parents(node):
        """Parents as row indices, seen through marker nodes."""
        out, stack = set(), list(node.parents)
        while stack:
            p = stack.pop()
            if p < 0 or p in call_rows:
                out.add(-1 if p < 0 else call_rows[p])
            else:
                stack.extend(tr.nodes[p].parents)
        return tuple(sorted(out))

    def with_batch(shape):
        return (batch_size,) + tuple(shape[1:]) if shape else shape

    rows = []
    counted = set()  # ids of the parameters and buffers already in a row: a shared (tied) one counts once
    for node in tr.calls:
        m = node.module
        own = [p for p in m._parameters.values() if p is not None and id(p) not in counted]
        bufs = [b for b in m._buffers.values() if b is not None and b.dtype.kind == "f" and id(b) not in counted]
        counted.update(id(t) for t in own + bufs)
        n_params = sum(p.numel() for p in own)
        n_train = sum(p.numel() for p in own if p.requires_grad)
        n_buf = sum(b.numel() for b in bufs)
        acts = _prod(node.out_shape) * batch_size if node.out_shape else 0
        # an inplace=True activation returns its input too: counted unless inplace_activations says it is
        # free; so is dropout in training (the trace runs in eval mode, where it returns its input)
        same = node.same_object and not isinstance(m, _WRITE_IN_PLACE + _DROPOUT)
        stored = not (same or isinstance(m, _VIEWS) or (inplace_activations and isinstance(m, _INPLACE)))
        act_bytes = acts * item if stored else 0
        rows.append(LayerSummary(
            name=node.name, type=node.type, input_shape=with_batch(node.in_shape), output_shape=with_batch(node.out_shape),
            params=n_params, trainable=n_train, non_trainable=n_params - n_train, buffers=n_buf,
            macs=_macs(m, node.in_shape, node.out_shape) * batch_size, activations=acts, stored=stored,
            act_bytes=act_bytes, act_bytes_train=2 * act_bytes, rf=node.rf, jump=node.jump, start=node.start,
            parents=row_parents(node),
        ))
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    buffers = sum(b.numel() for b in model.buffers() if b.dtype.kind == "f")
    in_acts = _prod(tr.input_shape) * batch_size
    fwd = in_acts + sum(r.activations for r in rows if r.stored)
    out_dims = tr.output_dims
    return ModelSummary(
        model=type(model).__name__, input_shape=(batch_size,) + tr.input_shape,
        output_shape=with_batch(tr.output_shape), dtype=str(np.dtype(dtype)), rows=tuple(rows),
        total_params=total, trainable_params=trainable, non_trainable_params=total - trainable, buffers=buffers,
        total_macs=sum(r.macs for r in rows), input_activations=in_acts, forward_activations=fwd,
        forward_bytes=fwd * item, train_bytes=2 * fwd * item, param_bytes=total * item, grad_bytes=trainable * item,
        sgd_momentum_bytes=(total + trainable) * item, adam_bytes=(total + 2 * trainable) * item,
        rf=tuple(_num(d.r) for d in out_dims), jump=tuple(_num(d.j) for d in out_dims),
        start=tuple(_num(d.start) for d in out_dims),
    )


# ----------------------------------------------------------------------------- printing


def _fmt_tuple(t):
    if not t:
        return "-"
    vals = [f"{v:g}" if isinstance(v, float) else str(v) for v in t]
    return vals[0] if len(set(vals)) == 1 else "x".join(vals)


def _fmt_bytes(n):
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def _table(s):
    head = ("Layer", "Type", "Output shape", "Params", "MACs", "Activations", "RF", "Jump", "Start")
    lines = []
    for r in s.rows:
        params = f"{r.params:,}" + ("" if r.non_trainable == 0 else f" ({r.non_trainable:,} frozen)")
        acts = f"{r.activations:,}" + ("" if r.stored else " *")
        lines.append((r.name, r.type, str(list(r.output_shape)), params, f"{r.macs:,}", acts,
                      _fmt_tuple(r.rf), _fmt_tuple(r.jump), _fmt_tuple(r.start)))
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(head)]
    right = {3, 4, 5, 6, 7, 8}

    def fmt(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    rule = "-" * len(fmt(head))
    out = [f"{s.model}: input {list(s.input_shape)} -> output {list(s.output_shape)}, {s.dtype}", rule, fmt(head), rule]
    out += [fmt(line) for line in lines]
    out.append(rule)
    out += [
        f"Parameters: {s.total_params:,} (trainable {s.trainable_params:,}, frozen {s.non_trainable_params:,}); "
        f"buffers {s.buffers:,}",
        f"Multiply-accumulates: {s.total_macs:,} ({s.total_macs / 1e9:.2f} G)",
        f"Activations (input + stored layers; * = in-place or view, not counted): {s.forward_activations:,} values, "
        f"forward {_fmt_bytes(s.forward_bytes)}, forward+backward {_fmt_bytes(s.train_bytes)}",
        f"Parameter memory {_fmt_bytes(s.param_bytes)}; + gradients {_fmt_bytes(s.grad_bytes)}; "
        f"with optimizer state: SGD momentum {_fmt_bytes(s.sgd_momentum_bytes)} (+1x trainable), "
        f"Adam {_fmt_bytes(s.adam_bytes)} (+2x trainable)",
        f"Receptive field of the output: {_fmt_tuple(s.rf)} (jump {_fmt_tuple(s.jump)}, start {_fmt_tuple(s.start)})",
    ]
    return "\n".join(out)


# ----------------------------------------------------------------------------- command line


def add_cli(subparsers):
    """Register ``numconv summary --model NAME [--input-shape C H W] [--batch-size N]`` on ``subparsers``."""
    p = subparsers.add_parser("summary", help="per-layer shapes, parameters, MACs, memory and receptive fields of a model")
    p.add_argument("--model", required=True, help="model name (numconv.models.list_models())")
    p.add_argument("--input-shape", type=int, nargs="+", default=None, metavar="N",
                   help="one sample's shape C H W (default: 1 28 28 for lenet5, 3 32 32 for the CIFAR models, 3 64 64 for encoder_decoder, else 3 224 224)")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--all-activations", action="store_true",
                   help="count ReLU and dropout outputs in the activation memory too (default: in-place, as the notes)")
    p.set_defaults(func=_cli)
    return p


_DEFAULT_SHAPES = {"lenet5": (1, 28, 28), "resnet18_cifar": (3, 32, 32), "nin": (3, 32, 32), "encoder_decoder": (3, 64, 64)}


def _cli(args):
    from . import models

    name = args.model.lower()
    shape = tuple(args.input_shape) if args.input_shape else _DEFAULT_SHAPES.get(name, (3, 224, 224))
    model = models.get_model(name)
    print(summary(model, shape, batch_size=args.batch_size, inplace_activations=not args.all_activations))
    return 0
