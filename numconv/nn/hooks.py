"""A Module's hooks, as PyTorch's: forward pre-hooks, forward hooks, and full backward (pre-)hooks.

``Module.__call__`` runs, in order:

1. each forward pre-hook ``hook(module, args)`` (or ``hook(module, args, kwargs)``); one may return
   new args (a tuple, or one value) or, with kwargs, ``(args, kwargs)``;
2. with backward hooks, the Tensor arguments that require grad pass through ``_Identity``, whose
   backward sees the gradients with respect to the module's inputs;
3. ``forward(*args, **kwargs)``;
4. each forward hook ``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)``); one
   may return a new output;
5. with backward hooks, the Tensor outputs that require grad pass through ``_Identity`` too.

On backward, the outputs' identity node runs first: the backward pre-hooks
``hook(module, grad_output)`` see (and may replace) the gradients with respect to the outputs.
The inputs' node runs later: the full backward hooks ``hook(module, grad_input, grad_output)``
see (and may replace) the gradients with respect to the inputs. Both tuples hold one entry per
positional argument or output, None where it is not a Tensor, needs no gradient or was not used.
Where no input requires grad, the full backward hooks run from the outputs' node, with grad_input
all None.
"""
from __future__ import annotations

from ..autograd import Function, RemovableHandle, is_grad_enabled
from ..ops import math as ops_math
from ..tensor import Tensor

_HOOKED = ("an in-place change, with autograd recording, of a tensor a module's full backward hook watches (an "
           "input or output of the module): the hook would not see that gradient. clone() it first")

__all__ = ["ModuleHooks", "RemovableHandle"]


class _Hook:
    """A registered hook and how it is called (a distinct object, so ``remove`` takes off this one)."""

    __slots__ = ("fn", "with_kwargs", "always_call")

    def __init__(self, fn, with_kwargs=False, always_call=False):
        if not callable(fn):
            raise TypeError(f"a hook must be callable, got {type(fn).__name__}")
        self.fn, self.with_kwargs, self.always_call = fn, with_kwargs, always_call


class ModuleHooks:
    """The four hook lists of one module, made on its first ``register_*_hook``."""

    def __init__(self):
        self.forward_pre, self.forward, self.backward_pre, self.backward = [], [], [], []

    def add(self, kind, fn, prepend=False, **flags):
        hooks = getattr(self, kind)
        entry = _Hook(fn, **flags)
        hooks.insert(0 if prepend else len(hooks), entry)
        return RemovableHandle(hooks, entry)

    def call(self, module, args, kwargs):
        """``module(*args, **kwargs)`` with the hooks around ``forward``. If anything raises (a pre-hook,
        ``forward``, a forward hook), the ``always_call`` forward hooks that have not run yet still run,
        with the output so far (None before ``forward`` finished), and the first error goes on."""
        result, done = None, set()
        try:
            for h in list(self.forward_pre):
                if h.with_kwargs:
                    res = h.fn(module, args, kwargs)
                    if res is not None:
                        if not (isinstance(res, tuple) and len(res) == 2):
                            raise RuntimeError("a forward pre-hook registered with with_kwargs=True must return "
                                               f"None or a tuple (new_args, new_kwargs), got {_describe(res)}")
                        args, kwargs = res
                else:
                    res = h.fn(module, args)
                    if res is not None:
                        args = res if isinstance(res, tuple) else (res,)
            backward = _BackwardHooks(module, self) if (self.backward or self.backward_pre) and is_grad_enabled() \
                else None
            if backward is not None:
                args = backward.wrap_inputs(args)
            result = module.forward(*args, **kwargs)
            for h in list(self.forward):
                done.add(id(h))
                res = _call_forward_hook(h, module, args, kwargs, result)
                if res is not None:
                    result = res
        except BaseException:
            for h in list(self.forward):
                if h.always_call and id(h) not in done:
                    try:
                        _call_forward_hook(h, module, args, kwargs, result)
                    except Exception:  # noqa: S110 (the first error is the one to see)
                        pass
            raise
        if backward is not None:
            result = backward.wrap_outputs(result)
        return result


def _call_forward_hook(h, module, args, kwargs, result):
    return h.fn(module, args, kwargs, result) if h.with_kwargs else h.fn(module, args, result)


def _describe(x):
    return f"{type(x).__name__} of length {len(x)}" if isinstance(x, (tuple, list)) else type(x).__name__


class _Identity(Function):
    """Passes its Tensors through unchanged; its backward hands the gradients to ``hook``."""

    materialize_grads = False  # an output nothing used reaches the hooks as None, as in PyTorch

    @staticmethod
    def forward(ctx, *arrays, hook):
        ctx.hook = hook
        return arrays

    @staticmethod
    def backward(ctx, *grads):
        return ctx.hook(grads)


class _BackwardHooks:
    """One call's state: where the Tensors sit among the inputs and outputs, and the output gradients."""

    def __init__(self, module, hooks):
        self.module, self.hooks = module, hooks
        self.n_inputs, self.input_slots = 0, None  # input_slots: positions of the wrapped inputs (None: none)
        self.n_outputs, self.output_slots = 0, None
        self.grad_outputs = None

    @staticmethod
    def _wrap(values, hook):
        """``values`` with its Tensors that require grad passed through one ``_Identity`` node."""
        slots = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]
        if not slots:
            return values, None
        outs = _Identity.apply(*(values[i] for i in slots), hook=hook)
        values = list(values)
        for i, out in zip(slots, outs):
            values[i]._alias(out, _HOOKED)  # the same memory: an in-place change through either is seen by both
            values[i] = out
        return tuple(values), slots

    def _pack(self, slots, grads, n):
        packed = [None] * n
        for i, g in zip(slots, grads):
            packed[i] = None if g is None else Tensor._of(g)
        return tuple(packed)

    def _replaced(self, res, expected, what, hook):
        """A hook's replacement for ``expected`` (a tuple of Tensors or None), checked entry by entry."""
        if not isinstance(res, (tuple, list)) or len(res) != len(expected):
            raise RuntimeError(f"backward hook {_name(hook)} returned {_describe(res)} for {what}, expected a tuple "
                               f"of {len(expected)} (one per entry, None where there is no gradient)")
        out = []
        for i, (new, old) in enumerate(zip(res, expected)):
            if new is None and old is not None:  # a gradient taken away is zero, as PyTorch passes it on
                new = Tensor._of(ops_math.zeros_like(old.data))
            elif new is not None:
                if not isinstance(new, Tensor):
                    raise TypeError(f"backward hook {_name(hook)} returned {type(new).__name__} for {what}[{i}], "
                                    "expected a Tensor or None")
                if old is None:
                    raise RuntimeError(f"backward hook {_name(hook)} returned a gradient for {what}[{i}], which has "
                                       "none (not a Tensor, no gradient needed, or not used)")
                if new.shape != old.shape or new.dtype != old.dtype or new.device != old.device:
                    raise RuntimeError(f"backward hook {_name(hook)} changed {what}[{i}] from shape {old.shape} "
                                       f"{old.dtype} on {old.device} to shape {new.shape} {new.dtype} on {new.device}")
            out.append(new)
        return tuple(out)

    def _run_full(self, grad_inputs):
        if self.grad_outputs is None:  # no Tensor output was seen (a dict, a list): PyTorch does not call them
            return grad_inputs
        for h in list(self.hooks.backward):
            res = h.fn(self.module, grad_inputs, self.grad_outputs)
            if res is not None:
                grad_inputs = self._replaced(res, grad_inputs, "grad_input", h.fn)
        return grad_inputs

    def wrap_inputs(self, args):
        self.n_inputs = len(args)
        args, self.input_slots = self._wrap(args, self._input_grads)
        return args

    def wrap_outputs(self, result):
        single = not isinstance(result, tuple)
        values = (result,) if single else result
        self.n_outputs = len(values)
        values, self.output_slots = self._wrap(values, self._output_grads)
        return values[0] if single else values

    def _output_grads(self, grads):
        grad_outputs = self._pack(self.output_slots, grads, self.n_outputs)
        for h in list(self.hooks.backward_pre):
            res = h.fn(self.module, grad_outputs)
            if res is not None:
                grad_outputs = self._replaced(res, grad_outputs, "grad_output", h.fn)
        self.grad_outputs = grad_outputs
        if self.input_slots is None:  # no input takes a gradient: the full hooks run now, on all-None grad_input
            self._run_full((None,) * self.n_inputs)
        return tuple(None if grad_outputs[i] is None else grad_outputs[i].data for i in self.output_slots)

    def _input_grads(self, grads):
        grad_inputs = self._run_full(self._pack(self.input_slots, grads, self.n_inputs))
        return tuple(None if grad_inputs[i] is None else grad_inputs[i].data for i in self.input_slots)


def _name(fn):
    return repr(getattr(fn, "__qualname__", type(fn).__name__))
