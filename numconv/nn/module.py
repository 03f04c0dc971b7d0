"""``Module``: the base class of layers and models, with PyTorch's bookkeeping.

Attributes that are Parameters, Modules or registered buffers are tracked in insertion order;
``state_dict`` walks them with PyTorch's dotted key names (``features.0.weight``,
``bn1.running_mean``, ``bn1.num_batches_tracked``), so a PyTorch model's weights, converted
with ``{k: v.numpy() for k, v in sd.items()}``, load into the same numconv model.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from .. import dispatch
from ..autograd import no_grad
from ..ops import math as M
from ..tensor import Tensor, _device_name
from .hooks import ModuleHooks
from .parameter import Parameter

__all__ = ["Module", "StateDictError", "IncompatibleKeys"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class StateDictError(RuntimeError, ValueError):
    """``load_state_dict`` found missing, unexpected or wrongly-shaped keys (catchable as either class)."""


def _addindent(s, n):
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


def _parse_to(args, kwargs):
    """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or keywords -> (device or None, dtype or None).

    A string that is neither a device ('cpu', 'cuda', 'cuda:0') nor a NumPy dtype name is an unknown
    device (ValueError naming it), not a dtype. ``non_blocking`` is accepted and has no effect.
    """
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    if len(args) > 2:
        raise TypeError(f"to() takes at most 2 positional arguments (device, dtype), got {len(args)}")
    for a in args:
        if _is_device(a) or (isinstance(a, str) and not _is_dtype_name(a)):
            device = a
        else:
            dtype = a
    if device is not None:
        device = _target_device(device)
    if dtype is not None:
        dtype = _float_dtype(dtype, "to()")
    return device, dtype


def _is_dtype_name(s):
    try:
        np.dtype(s)
    except TypeError:
        return False
    return True


# PyTorch's names for the two floating dtypes numconv has (``str(torch.float64)``, ``Tensor.type()``'s names).
_TORCH_FLOAT_NAMES = {
    "torch.float32": np.float32, "torch.float": np.float32, "torch.FloatTensor": np.float32,
    "torch.float64": np.float64, "torch.double": np.float64, "torch.DoubleTensor": np.float64,
}


def _float_dtype(dtype, where):
    """``dtype`` (a NumPy dtype or its name, or a torch float32/float64 dtype or tensor type name) as
    float32 or float64; anything else is a TypeError naming it."""
    name = str(dtype)
    if name in _TORCH_FLOAT_NAMES:
        return np.dtype(_TORCH_FLOAT_NAMES[name])
    try:
        dt = np.dtype(dtype)
    except TypeError:
        expected = "a device ('cpu', 'cuda') or a floating dtype" if where == "to()" else "a floating dtype"
        raise TypeError(f"{where} expects {expected} (numpy.float32/float64), got {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"{where} can only convert to float32 or float64, got {dt}")
    return dt


def _is_device(x):
    return isinstance(x, str) and x.split(":")[0] in (dispatch.CPU, dispatch.CUDA) or type(x).__name__ == "device"


def _check_device(device):
    """The device for new parameters (the ``device=`` of a layer's constructor): only the CPU; build
    on the CPU and move the module with ``.to('cuda')``."""
    name = str(device).split(":")[0]
    if name == dispatch.CPU:
        return dispatch.CPU
    if name == dispatch.CUDA:
        raise NotImplementedError(
            f"device={str(device)!r}: layers are created on the CPU; build the model there and move it to "
            "CUDA with model.to('cuda')"
        )
    raise ValueError(f"unknown device {device!r}; expected 'cpu' (or 'cuda' once the CUDA backend exists)")


def _target_device(device):
    """'cpu' or 'cuda' for ``Module.to``; CUDA where there is none raises CUDAUnavailableError (a
    RuntimeError and a NotImplementedError) saying what to do."""
    name = str(device).split(":")[0]
    if name not in (dispatch.CPU, dispatch.CUDA):
        raise ValueError(f"unknown device {device!r}; expected 'cpu', 'cuda' or 'cuda:0'")
    return _device_name(device)


def _buffer_value(value, name):
    """A buffer's value: a Tensor, or an array made one, or None; a number or a list is refused
    (``bn.running_mean = 5`` would otherwise become a 0-d int64 buffer, and fail only in forward)."""
    if value is None or isinstance(value, Tensor):
        return value
    if not (hasattr(value, "shape") and hasattr(value, "dtype")):
        raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} (a Tensor, an array or None expected)")
    return Tensor(value)


def _as_array(value, key):
    """A state_dict value (NumPy array, numconv Tensor, PyTorch tensor, number) as a NumPy array."""
    if isinstance(value, Tensor):
        return np.asarray(value.numpy())
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a PyTorch tensor
        value = value.detach().cpu()
        if "bfloat16" in str(value.dtype):  # NumPy has no bfloat16: widen to float32, as torch loads it
            value = value.float()
        value = value.numpy()
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"state_dict[{key!r}] must be a numeric array, got {type(value).__name__} of dtype {arr.dtype}")
    return arr


def _copy_into(tensor, arr):
    """Overwrite ``tensor``'s values in place (so references to its array stay valid)."""
    with no_grad():
        tensor.copy_(arr.astype(tensor.dtype, copy=False))


class Module:
    """Base class: subclass, assign Parameters and sub-Modules in ``__init__``, define ``forward``.

    ``module(x)`` calls ``forward(x)``. ``training`` is True after construction; ``eval()`` and
    ``train()`` switch it recursively (BatchNorm and Dropout behave differently in each).
    """

    def __init__(self):
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers"] = set()
        d["_modules"] = OrderedDict()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    _module_hooks = None  # a ModuleHooks once a hook is registered

    def __call__(self, *args, **kwargs):
        hooks = self._module_hooks
        if hooks is None:
            return self.forward(*args, **kwargs)
        return hooks.call(self, args, kwargs)

    # ------------------------------------------------------------------ hooks (see nn/hooks.py for the order)

    def _hook_lists(self):
        if self._module_hooks is None:
            object.__setattr__(self, "_module_hooks", ModuleHooks())
        return self._module_hooks

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args)`` before each ``forward`` (``hook(module, args, kwargs)`` with
        ``with_kwargs``); a non-None result replaces the arguments. Returns a handle with ``remove()``."""
        return self._hook_lists().add("forward_pre", hook, prepend, with_kwargs=bool(with_kwargs))

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """Call ``hook(module, args, output)`` after each ``forward`` (``hook(module, args, kwargs, output)``
        with ``with_kwargs``); a non-None result replaces the output. ``always_call``: also when
        ``forward`` raised (with output None). Returns a handle with ``remove()``."""
        return self._hook_lists().add("forward", hook, prepend, with_kwargs=bool(with_kwargs), always_call=bool(always_call))

    def register_full_backward_pre_hook(self, hook, *, prepend=False):
        """Call ``hook(module, grad_output)`` when the gradients with respect to the module's outputs are
        known; a non-None result (a tuple, one entry per output) replaces them."""
        return self._hook_lists().add("backward_pre", hook, prepend)

    def register_full_backward_hook(self, hook, *, prepend=False):
        """Call ``hook(module, grad_input, grad_output)`` when the gradients with respect to the module's
        positional inputs are known; a non-None result (a tuple, one entry per input) replaces
        ``grad_input``. Entries are None where an input is not a Tensor or needs no gradient."""
        return self._hook_lists().add("backward", hook, prepend)

    # ------------------------------------------------------------------ registration

    def _require_init(self, what):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call (call super().__init__() first)")

    @staticmethod
    def _check_name(name, kind):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name must be a str, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{kind} name must be a non-empty string without '.', got {name!r}")

    def _forget(self, name, keep=None):
        """Drop ``name`` from every table but ``keep``, where it is about to be (re)assigned in place, so a
        replaced parameter, buffer or child keeps its position (a Sequential's order, a state_dict's keys)."""
        for d in (self.__dict__, self._parameters, self._buffers, self._modules):
            if d is not keep:
                d.pop(name, None)
        if keep is not self._buffers:
            self._non_persistent_buffers.discard(name)

    def _taken(self, name, table):
        """Whether ``name`` is already something other than an entry of ``table`` (PyTorch's KeyError rule)."""
        return name not in table and (hasattr(type(self), name) or any(
            name in d for d in (self.__dict__, self._parameters, self._buffers, self._modules) if d is not table))

    def register_parameter(self, name, param):
        """Add ``param`` (a Parameter, or None for an absent optional weight such as ``bias``)."""
        self._require_init("parameters")
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} as parameter {name!r} (numconv.nn.Parameter or None expected)")
        if self._taken(name, self._parameters):
            raise KeyError(f"attribute {name!r} already exists on {type(self).__name__}")
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add a non-learnable state array (``running_mean``); persistent ones are saved in ``state_dict``."""
        self._require_init("buffers")
        self._check_name(name, "buffer")
        tensor = _buffer_value(tensor, name)
        if self._taken(name, self._buffers):
            raise KeyError(f"attribute {name!r} already exists on {type(self).__name__}")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name, module):
        self._require_init("submodules")
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if self._taken(name, self._modules):
            raise KeyError(f"attribute {name!r} already exists on {type(self).__name__}")
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            self._require_init("parameters")
            self._forget(name, keep=self._parameters)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} (numconv.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            self._require_init("submodules")
            self._forget(name, keep=self._modules)
            self._modules[name] = value
        elif d.get("_modules") is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r} (Module or None expected)")
            d["_modules"][name] = None
        elif d.get("_buffers") is not None and name in d["_buffers"]:
            d["_buffers"][name] = _buffer_value(value, name)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):  # called only when normal lookup fails
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            t = d.get(table)
            if t is not None and name in t:
                return t[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    # ------------------------------------------------------------------ traversal

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(dotted name, module) for this module (name ``''``) and every descendant, each once.

        ``memo``, as PyTorch's, is a set of modules: those in it are skipped (with their subtrees), and
        with ``remove_duplicate`` each module yielded is added to it.
        """
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, table, prefix, recurse, remove_duplicate):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mod_prefix, m in mods:
            for name, v in getattr(m, table).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), v

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Parameter) pairs, in registration order; shared parameters appear once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target):
        """The module at dotted path ``target`` (``'layer1.0.conv1'``); ``''`` is this module."""
        m = self
        for part in target.split(".") if target else []:
            if part not in m._modules or m._modules[part] is None:
                raise AttributeError(f"{type(m).__name__} has no submodule {part!r} (looking for {target!r})")
            m = m._modules[part]
        return m

    def set_submodule(self, target, module, strict=False):
        """Put ``module`` at dotted path ``target``, whose parent must exist (as PyTorch's): it replaces
        the child there or, unless ``strict``, adds a new one. ValueError for an empty ``target`` or a
        ``module`` that is not a Module; AttributeError for a missing parent, a missing child with
        ``strict``, or a name that holds something other than a Module."""
        if not isinstance(target, str) or not all(target.split(".")):
            raise ValueError(f"set_submodule needs a dotted target name of non-empty parts, got {target!r}")
        if not isinstance(module, Module):
            raise ValueError(f"set_submodule: module must be a numconv.nn.Module, got {type(module).__name__}")
        parent_path, _, name = target.rpartition(".")
        parent = self.get_submodule(parent_path)
        exists = hasattr(parent, name)
        if strict and not exists:
            raise AttributeError(f"{parent._get_name()} has no attribute {name!r} (set_submodule({target!r}, strict=True))")
        if exists and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"{name!r} of {parent._get_name()} is not a Module (set_submodule({target!r}))")
        setattr(parent, name, module)

    def _get_member(self, target, kind):
        """(owning module, local name, value) of the attribute at dotted path ``target``."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(f"{mod._get_name()} has no attribute {name!r} (looking for {kind} {target!r})")
        return mod, name, getattr(mod, name)

    def get_parameter(self, target):
        """The Parameter at dotted path ``target`` (``'layer1.0.conv1.weight'``); AttributeError if the
        path is wrong or names something else (a buffer, an absent ``bias``)."""
        _, name, value = self._get_member(target, "parameter")
        if not isinstance(value, Parameter):
            raise AttributeError(f"{name!r} is not a Parameter (looking for parameter {target!r})")
        return value

    def get_buffer(self, target):
        """The buffer at dotted path ``target`` (``'bn1.running_mean'``; None for a buffer registered as
        None); AttributeError if the path is wrong or names something other than a buffer."""
        mod, name, value = self._get_member(target, "buffer")
        if name not in mod._buffers:
            raise AttributeError(f"{name!r} is not a buffer (looking for buffer {target!r})")
        return value

    def apply(self, fn):
        """Call ``fn(module)`` on every child (recursively), then on this module; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes and state

    def _is_norm_counter(self, key):
        """Whether state_dict key ``key`` is a batch norm's ``num_batches_tracked``."""
        from .normalization import _BatchNorm

        prefix, _, name = key.rpartition(".")
        return name == "num_batches_tracked" and isinstance(self.get_submodule(prefix) if prefix else self, _BatchNorm)

    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError(f"training mode must be a bool, got {mode!r}")
        self.__dict__["training"] = mode
        for m in self.children():  # each child's own train(), as PyTorch: an override (a frozen norm) holds
            m.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Clear every parameter's ``.grad`` (to None, or to zeros with ``set_to_none=False``)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                if p.grad.requires_grad:  # a gradient with a graph (create_graph): out of it first, as PyTorch
                    p.grad = p.grad.detach()
                p.grad.zero_()

    def to(self, *args, **kwargs):
        """``to('cuda')``, ``to('cpu')``, ``to(numpy.float64)``, ``to('cuda', numpy.float32)``; converts in
        place (the Parameter and buffer objects stay, their arrays move), returns self.

        Floating parameters, their gradients and floating buffers move; integer counters
        (``num_batches_tracked``) stay on the host, where the layer updates them. ``to('cuda')``
        where CUDA is not available raises CUDAUnavailableError (a RuntimeError).
        """
        device, dtype = _parse_to(args, dict(kwargs))
        for t in list(self.parameters()) + list(self.buffers()):
            if t.dtype.kind != "f":
                continue
            if dtype is not None and t.dtype != dtype:
                t.data = M.astype(t.data, dtype)
                if t.grad is not None:
                    t.grad = Tensor(M.astype(t.grad.data, dtype))
            if device is not None:
                t.data = M.to_device(t.data, device)
                if t.grad is not None:
                    t.grad = Tensor(M.to_device(t.grad.data, device))
        return self

    def type(self, dst_type):
        """Cast every floating parameter (and its ``.grad``) and floating buffer to ``dst_type``:
        numpy.float32/float64 or their names, or torch's names for them (``torch.float64``,
        ``'torch.DoubleTensor'``); returns self. As ``to(dtype)``, integer buffers
        (``num_batches_tracked``) stay integers (PyTorch's ``type`` casts them too)."""
        return self.to(dtype=_float_dtype(dst_type, "type()"))

    def cpu(self):
        return self.to(dispatch.CPU)

    def cuda(self, device=None):
        return self.to(dispatch.CUDA if device is None else f"{dispatch.CUDA}:{device}")

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    # ------------------------------------------------------------------ state_dict

    def _state_slots(self):
        """key -> (owning module, local name, Tensor) for every parameter and persistent buffer, in
        PyTorch's order (keeps duplicates)."""
        out = OrderedDict()
        for prefix, m in self.named_modules(remove_duplicate=False):
            dot = f"{prefix}." if prefix else ""
            for name, p in m._parameters.items():
                if p is not None:
                    out[dot + name] = (m, name, p)
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent_buffers:
                    out[dot + name] = (m, name, b)
        return out

    def _state_entries(self):
        """key -> Tensor for every parameter and persistent buffer, in PyTorch's order (keeps duplicates)."""
        return OrderedDict((k, t) for k, (_, _, t) in self._state_slots().items())

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """OrderedDict of dotted name -> NumPy array (a copy) for every parameter and persistent buffer.

        ``keep_vars=True`` gives the Parameters and buffer Tensors themselves.
        """
        dest = OrderedDict() if destination is None else destination
        for k, t in self._state_entries().items():
            dest[prefix + k] = t if keep_vars else np.array(t.numpy(), copy=True)
        return dest

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy arrays from ``state_dict`` (NumPy arrays, numconv Tensors or PyTorch tensors) into this module.

        Values are cast to each parameter's dtype and copied in place; a missing ``num_batches_tracked``
        (checkpoints from other tools) keeps its current value, as in PyTorch. Every problem is reported in
        one ``StateDictError`` (a RuntimeError and a ValueError) before anything is copied: missing
        and unexpected keys (when ``strict``) and wrongly-shaped values (always). Returns
        ``IncompatibleKeys(missing_keys, unexpected_keys)``.

        ``assign=True`` (PyTorch's): instead of copying, each parameter and buffer becomes the
        checkpoint's own value, with its dtype and memory: a Parameter given is used as it is, any
        other value is wrapped in a new Parameter sharing its array; either way the parameter keeps the
        module's ``requires_grad``. Buffers become the Tensor given (or one around the array). Make
        the optimizer after such a load: it holds the old Parameters.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"state_dict must be a mapping of names to arrays, got {type(state_dict).__name__}")
        slots = self._state_slots()
        # As PyTorch with a plain dict: a BatchNorm counter absent from the checkpoint keeps its value.
        missing = [k for k in slots if k not in state_dict and not self._is_norm_counter(k)]
        unexpected = [k for k in state_dict if k not in slots]
        values, mismatched, refused = {}, [], []
        for k, (owner, _, t) in slots.items():
            if k not in state_dict:
                continue
            value = state_dict[k]
            if assign and isinstance(value, Tensor):
                arr = value  # its own memory (and device), kept
            else:
                arr = _as_array(value, k)
            if self._is_norm_counter(k) and tuple(arr.shape) == (1,) and t.ndim == 0:  # older checkpoints' (1,)
                arr = arr.reshape(())
            if tuple(arr.shape) != tuple(t.shape):
                lazy = getattr(owner, "has_uninitialized_params", lambda: False)()
                mismatched.append(f"{k!r}: checkpoint shape {tuple(arr.shape)}, model shape {tuple(t.shape)}" + (
                    " (a lazy layer not sized yet: call the model once on an input before loading)" if lazy else ""))
            elif assign and isinstance(t, Parameter) and t.requires_grad and np.dtype(arr.dtype).kind != "f":
                refused.append(f"{k!r}: assign=True would make a parameter that requires grad of dtype {arr.dtype}")
            values[k] = arr
        problems = []
        if strict and missing:
            problems.append(f"missing keys ({len(missing)}): " + ", ".join(repr(k) for k in missing))
        if strict and unexpected:
            problems.append(f"unexpected keys ({len(unexpected)}): " + ", ".join(repr(k) for k in unexpected))
        if mismatched:
            problems.append(f"wrongly-shaped keys ({len(mismatched)}): " + "; ".join(mismatched))
        if refused:
            problems.append(f"integer values for floating parameters ({len(refused)}): " + "; ".join(refused))
        if problems:
            raise StateDictError(f"Error(s) in loading state_dict for {type(self).__name__}:\n  " + "\n  ".join(problems))
        for k, value in values.items():
            module, name, t = slots[k]
            if not assign:
                _copy_into(t, value)
            elif isinstance(t, Parameter):
                if isinstance(value, Parameter):
                    value.requires_grad_(t.requires_grad)
                else:
                    value = Parameter(value.data if isinstance(value, Tensor) else value, requires_grad=t.requires_grad)
                setattr(module, name, value)
            else:
                setattr(module, name, value if isinstance(value, Tensor) else Tensor(value))
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing

    def extra_repr(self):
        """One line (or several) describing this module's settings, shown inside its repr."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(m), 2) for name, m in self._modules.items()]
        lines = extra_lines + child_lines
        s = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                s += extra_lines[0]
            else:
                s += "\n  " + "\n  ".join(lines) + "\n"
        return s + ")"
