"""Compile every CUDA kernel numconv launches to PTX, for every argument-type signature it was
launched with, without a GPU: the type check the CUDA simulator never does.

The simulator (``NUMBA_ENABLE_CUDASIM=1``) runs a kernel's Python function as Python, so a kernel
Numba's CUDA compiler would reject (a typing error, an unsupported function, types that do not
unify) passes there and fails on the first launch on a GPU. Two halves:

* In the simulator process (``tests/_cuda_cases.py``, ``tests/_cuda_training_cases.py``):
  ``start(argv)`` at the start of ``main`` wraps the simulator's kernel class
  (``FakeCUDAKernel.__call__``, at class level, so every launch counts however the launcher got
  its kernel) and records each launch as (the kernel's module and qualname, the Numba type of each
  argument as the real CUDA target types it). Kernels that factories make (a ``def kernel`` inside
  an ``lru_cache``'d function) are recorded with the factory's arguments, caught when the factory
  calls ``cuda.jit``. ``finish(argv)`` at the end writes the deduplicated set as JSON, to
  ``--signatures PATH`` or, by default, ``signatures.json`` beside the ``--json`` report.
* In a process without the simulator (``python tests/_ptx_check.py SIGS.json ...``): each recorded
  (kernel, signature) is compiled by ``numba.cuda.compile_ptx`` (for ``--cc``, default 9.0), with
  the kernel dispatcher's own options, and, where ``ptxas`` is found, assembled by it too
  (that catches what only the assembler refuses, such as too much static shared memory). Needs
  NVVM (the CUDA toolkit's libnvvm), not a GPU or a driver. Exit status: 0 every signature
  compiled, 1 some did not (each printed with its Numba error), 3 NVVM is not available here.

The compiler is whichever numba.cuda this process has: NVIDIA's numba-cuda (what numconv's
``[cuda]`` extra installs for GPUs) or numba's built-in target. The built-in one of numba 0.66+
rejects every two-argument ``min``/``max`` (numba#10753, which numba-cuda does not have); the check
works around that there and says so (``NUMCONV_PTX_NO_WORKAROUNDS=1``: no workaround). ``ptxas``
is looked up as ``_find_ptxas`` says (``NUMCONV_PTXAS=PATH``, or ``0`` for none) and dropped, with a
note, if it refuses a trivial kernel's PTX (a toolkit older than the NVVM). ``--probe``: exit 0
where kernels compile to PTX here, 3 where not.

What the check cannot see: only signatures the cases launch. Module constants the case scripts
shrink for the simulator (``BLOCK``, ``TILE``, ...) are compiled here at their real values, as on a
GPU, but factory arguments derived from them are the simulator run's (``_weight_grad_reduce`` is
checked with ``NTR`` = 32, the simulator's ``WG_REDUCE_THREADS``, not the GPU's 256).
"""
from __future__ import annotations

import base64
import importlib
import importlib.util
import io
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

FORMAT = 1
_lock = threading.Lock()
_state = {"installed": False, "prefix": "numconv."}
_records = {}  # (module, qualname, factory key, signature key) -> record
_factories = {}  # id(FakeCUDAKernel) -> (kernel object, factory record or error string)


# ----------------------------------------------------------------------------- descriptions and pickles


class _Pickler(pickle.Pickler):
    """Pickles simulator kernels (and real dispatchers) by reference: (module, qualname)."""

    def persistent_id(self, obj):
        fn = _py_func_of_kernel_object(obj)
        if fn is not None:
            return ("kernel", fn.__module__, fn.__qualname__)
        return None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        kind, module, qualname = pid
        return _lookup(module, qualname)


def _py_func_of_kernel_object(obj):
    """The Python function of a simulator kernel or a real CUDA dispatcher, else None."""
    cls = type(obj)
    if cls.__name__ in ("FakeCUDAKernel", "CUDADispatcher") and cls.__module__.startswith("numba"):
        return getattr(obj, "py_func", None) or getattr(obj, "fn", None)
    return None


def _dumps(obj) -> str:
    buf = io.BytesIO()
    _Pickler(buf, protocol=4).dump(obj)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _loads(text: str):
    return _Unpickler(io.BytesIO(base64.b64decode(text))).load()


def _lookup(module, qualname):
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _describe(v, depth=0):
    """A comparable description of a closure value, the same in the simulator and in a real process."""
    if depth > 4:
        return "..."
    fn = _py_func_of_kernel_object(v)
    if fn is not None:
        return f"fn:{fn.__module__}.{fn.__qualname__}"
    if v is None or isinstance(v, (bool, int, float, str, bytes)):
        return repr(v)
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(_describe(x, depth + 1) for x in v) + ")"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k!r}: {_describe(x, depth + 1)}" for k, x in sorted(v.items(), key=repr)) + "}"
    mod = type(v).__module__ or ""
    if mod.startswith("numba.core.types") or mod.startswith("numba.core.typing"):
        return f"type:{v}"
    if type(v).__name__ == "dtype" and mod == "numpy" or mod.startswith("numpy.dtypes"):
        return f"dtype:{v}"
    if callable(v) and hasattr(v, "__qualname__") and hasattr(v, "__module__"):
        return f"fn:{v.__module__}.{v.__qualname__}"
    return f"obj:{type(v).__module__}.{type(v).__qualname__}"


def _closure(fn) -> dict:
    out = {}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            out[name] = _describe(cell.cell_contents)
        except ValueError:
            out[name] = "<empty>"
    return out


# ----------------------------------------------------------------------------- the recorder (simulator process)


def _dummyarray():
    """numba.cuda's own device-array layout code, loaded from its file (its package, cudadrv, refuses
    to import under the simulator); None where it is not there."""
    mod = sys.modules.get("_ptx_check_dummyarray")
    if mod is None:
        from numba import cuda

        path = os.path.join(os.path.dirname(cuda.__file__), "cudadrv", "dummyarray.py")
        if not os.path.exists(path):
            return None
        spec = importlib.util.spec_from_file_location("_ptx_check_dummyarray", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        sys.modules["_ptx_check_dummyarray"] = mod
    return mod


def _device_array_type(ary):
    """The Numba type a real DeviceNDArray with ``ary``'s shape, strides and dtype has
    (``DeviceNDArrayBase._numba_type_``): C, F or A by numba.cuda's own flags; never read-only."""
    from numba.core import types
    from numba.np import numpy_support

    dummy = _dummyarray()
    flags = dummy.Array.from_desc(0, ary.shape, ary.strides, ary.dtype.itemsize).flags if dummy else ary.flags
    broadcast = 0 in ary.strides
    if flags["C_CONTIGUOUS"] and not broadcast:
        layout = "C"
    elif flags["F_CONTIGUOUS"] and not broadcast:
        layout = "F"
    else:
        layout = "A"
    return types.Array(numpy_support.from_dtype(ary.dtype), ary.ndim, layout)


def arg_type(v):
    """The Numba type the real CUDA dispatcher gives argument ``v`` (``CUDADispatcher.typeof_pyval``),
    for a value of the simulator run: simulator device arrays as the device arrays they stand for."""
    from numba import typeof
    from numba.core import types
    from numba.core.typing.typeof import Purpose

    cls = type(v)
    if cls.__name__ in ("FakeCUDAArray", "FakeWithinKernelCUDAArray") and hasattr(v, "_ary"):
        inner = v._ary
        if type(inner).__name__ == "FakeCUDAArray":
            inner = inner._ary
        return _device_array_type(inner)
    if isinstance(v, tuple):
        return types.BaseTuple.from_types([arg_type(x) for x in v], type(v))
    return typeof(v, Purpose.argument)


def _factory_of(fn):
    """(factory qualname, args, kwargs) of the call now making kernel ``fn``, found on the stack, or
    raises LookupError."""
    if ".<locals>." not in fn.__qualname__:
        return None
    outer = fn.__qualname__.rsplit(".<locals>.", 1)[0]
    if "<locals>" in outer:
        raise LookupError(f"a kernel made inside a nested function ({fn.__qualname__})")
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        if fn.__code__ in code.co_consts and frame.f_globals.get("__name__") == fn.__module__:
            n = code.co_argcount
            names = code.co_varnames[:n + code.co_kwonlyargcount]
            loc = frame.f_locals
            args = tuple(loc[name] for name in names[:n])
            kwargs = {name: loc[name] for name in names[n:]}
            if code.co_flags & 0x04:  # *args
                args += tuple(loc[code.co_varnames[n + code.co_kwonlyargcount]])
            return outer, args, kwargs
        frame = frame.f_back
    raise LookupError(f"no frame of {fn.__module__}.{outer} made {fn.__qualname__}")


def start(argv=None, prefix="numconv."):
    """Record every kernel launch from now on, in a simulator process (a no-op elsewhere, and when
    ``argv`` names neither ``--signatures`` nor ``--json``)."""
    if argv is not None and "--signatures" not in argv and "--json" not in argv:
        return False
    from numba.core import config

    if not config.ENABLE_CUDASIM:
        return False
    from numba.cuda.simulator.kernel import FakeCUDAKernel

    with _lock:
        if _state["installed"]:
            return True
        _state.update(installed=True, prefix=prefix)
        init, call = FakeCUDAKernel.__init__, FakeCUDAKernel.__call__

        def __init__(self, fn, device, *args, **kwargs):
            init(self, fn, device, *args, **kwargs)
            if not device and getattr(fn, "__module__", "").startswith(_state["prefix"]):
                try:
                    made = _factory_of(fn)
                    info = None if made is None else {
                        "qualname": made[0], "args": _dumps((made[1], made[2])),
                        "repr": ", ".join([_short_repr(a) for a in made[1]] +
                                          [f"{k}={_short_repr(a)}" for k, a in made[2].items()]),
                        "closure": _closure(fn)}
                except Exception as exc:  # noqa: BLE001 - recorded, reported by the check
                    info = f"{type(exc).__name__}: {exc}"
                with _lock:
                    _factories[id(self)] = (self, info)

        def __call__(self, *args):
            if not self._device:
                try:
                    _record(self, args)
                except Exception as exc:  # noqa: BLE001 - never break the simulator run
                    _record_error(self, exc)
            return call(self, *args)

        FakeCUDAKernel.__init__ = __init__
        FakeCUDAKernel.__call__ = __call__
        _state["restore"] = (init, call)
    path = signatures_path(argv) if argv is not None else None
    if path:  # a safety net: written at exit too, should main() raise before ``finish``
        import atexit

        atexit.register(lambda: _state.get("dumped") or dump(path))
    return True


def _short_repr(v):
    d = _describe(v)
    return d[len("dtype:"):] if d.startswith("dtype:") else d


def _record(kernel, args):
    fn = kernel.fn
    module = getattr(fn, "__module__", "") or ""
    if not module.startswith(_state["prefix"]):
        return
    argtypes = tuple(arg_type(a) for a in args)
    factory = None
    if ".<locals>." in fn.__qualname__:
        factory = _factories.get(id(kernel), (None, "made before recording started"))[1]
        if factory is None:
            factory = "made before recording started"
    fkey = json.dumps(factory, sort_keys=True) if factory is not None else ""
    key = (module, fn.__qualname__, fkey, str(argtypes))
    with _lock:
        rec = _records.get(key)
        if rec is None:
            rec = _records[key] = {
                "module": module, "qualname": fn.__qualname__, "factory": factory,
                "signature": "(" + ", ".join(map(str, argtypes)) + ")", "argtypes": _dumps(argtypes),
                "launches": 0}
        rec["launches"] += 1


def _record_error(kernel, exc):
    fn = getattr(kernel, "fn", None)
    key = ("?", getattr(fn, "__qualname__", "?"), "error", f"{type(exc).__name__}: {exc}")
    with _lock:
        _records.setdefault(key, {"module": getattr(fn, "__module__", "?"), "qualname": key[1], "factory": None,
                                  "signature": None, "argtypes": None, "launches": 0,
                                  "record_error": key[3]})["launches"] += 1


def _never_launched():
    """Kernels (not device functions) defined at module level in recorded packages that no case launched."""
    launched = {(r["module"], r["qualname"]) for r in _records.values()}
    out = []
    for name, mod in list(sys.modules.items()):
        if not name.startswith(_state["prefix"]) or mod is None:
            continue
        for attr, obj in list(vars(mod).items()):
            if type(obj).__name__ == "FakeCUDAKernel" and not obj._device:
                fn = obj.fn
                if fn.__module__ == name and fn.__qualname__ == attr and (name, attr) not in launched:
                    out.append(f"{name}.{attr}")
    return sorted(set(out))


def signatures_path(argv):
    """Where ``finish`` writes: ``--signatures PATH``, else ``signatures.json`` beside ``--json PATH``."""
    if "--signatures" in argv:
        return argv[argv.index("--signatures") + 1]
    if "--json" in argv:
        return os.path.join(os.path.dirname(os.path.abspath(argv[argv.index("--json") + 1])), "signatures.json")
    return None


def dump(path):
    """Write the recorded launches to ``path`` (JSON)."""
    with _lock:
        records = sorted(_records.values(), key=lambda r: (r["module"], r["qualname"], r["signature"] or ""))
    data = {"format": FORMAT, "records": records, "never_launched": _never_launched(),
            "kernels": len({(r["module"], r["qualname"]) for r in records}),
            "python": sys.version.split()[0]}
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)
    _state["dumped"] = True
    return data


def finish(argv):
    """Write the recorded launches where ``signatures_path(argv)`` says (nothing if not recording)."""
    path = signatures_path(argv)
    if path and _state["installed"]:
        data = dump(path)
        print(f"ptx signatures: {len(data['records'])} of {data['kernels']} kernels -> {path}", file=sys.stderr)


# ----------------------------------------------------------------------------- the check (real numba.cuda)


class _FakeDevice:
    """Stands in for the current device where numba.cuda asks one only for its compute capability
    (compiling a device function called by a kernel), so that no driver is needed."""

    def __init__(self, cc):
        self.compute_capability = cc


def compiler_name():
    """Which CUDA target compiles here: NVIDIA's numba-cuda package, or numba's built-in numba.cuda."""
    import numba
    from numba import cuda

    if "numba_cuda" in (getattr(cuda, "__file__", "") or ""):
        import numba_cuda

        return f"numba-cuda {numba_cuda.__version__} (numba {numba.__version__})"
    return f"numba {numba.__version__} built-in numba.cuda"


def _probe():  # a kernel with a device function call: what the check needs, in miniature
    from numba import cuda

    @cuda.jit(device=True)
    def twice(x):
        return x + x

    def kernel(a):
        i = cuda.grid(1)
        if i < a.size:
            a[i] = twice(a[i])

    return kernel


def nvvm_problem(cc=(9, 0)):
    """Why kernels cannot be compiled to PTX here (no NVVM, the simulator, ...), or None."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return "NUMBA_ENABLE_CUDASIM=1 in this process: the check needs the real numba.cuda"
    try:
        from numba.core import config

        if config.ENABLE_CUDASIM:
            return "numba.cuda is the simulator in this process"
        from numba import cuda
        from numba.core import types

        _install_fake_device(cc)
        cuda.compile_ptx(_probe(), (types.float64[::1],), cc=cc)
        return None
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {' '.join(_ANSI.sub('', str(exc)).split())[:600]}"


def _install_workarounds():
    """Work around known bugs of the compiler here that the GPU runtime numconv documents
    (numba-cuda) does not have; the notes say which were applied.

    numba#10753: numba's built-in numba.cuda since 0.66 rejects two-argument ``min``/``max`` in
    kernels ("Signature mismatch: 2 argument types given, but function takes 1 arguments"), because
    its CUDADispatcher.get_call_template does not fold ``*args`` of the ``@overload``s that
    implement them. Applied for the built-in target only: fold as numba's CPU dispatcher does."""
    from numba import cuda
    from numba.cuda import dispatcher

    if "numba_cuda" in (getattr(cuda, "__file__", "") or "") or os.environ.get("NUMCONV_PTX_NO_WORKAROUNDS") == "1":
        return []
    cls = dispatcher.CUDADispatcher
    if getattr(cls, "_ptx_check_folds_star_args", False):
        return ["numba#10753 (two-argument min/max on the built-in numba.cuda): *args folded"]
    original = cls.get_call_template

    def get_call_template(self, args, kws):
        params = self._compiler.pysig.parameters.values()
        if any(p.kind is p.VAR_POSITIONAL for p in params):
            pysig, args = self._compiler.fold_argument_types(args, kws)
            template, _, args, kws = original(self, args, {})
            return template, pysig, args, kws
        return original(self, args, kws)

    cls.get_call_template = get_call_template
    cls._ptx_check_folds_star_args = True
    return ["numba#10753 (two-argument min/max on the built-in numba.cuda): *args folded"]


def _find_ptxas():
    """ptxas from NUMCONV_PTXAS (0: none), PATH, CUDA_HOME/CUDA_PATH, /usr/local/cuda or the pip wheel."""
    env = os.environ.get("NUMCONV_PTXAS")
    if env:
        return None if env == "0" else env
    found = shutil.which("ptxas")
    if found:
        return found
    for root in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if root and os.path.exists(os.path.join(root, "bin", "ptxas")):
            return os.path.join(root, "bin", "ptxas")
    try:
        import nvidia.cuda_nvcc as nv  # the pip wheel of the toolkit's compilers

        for base in nv.__path__:
            p = os.path.join(base, "bin", "ptxas")
            if os.path.exists(p):
                return p
    except Exception:  # noqa: BLE001
        pass
    return None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def short_error(text: str) -> str:
    """The gist of a Numba (or ptxas) error: its first real line, the first source location and the
    line Numba points at."""
    lines = [ln.rstrip() for ln in _ANSI.sub("", text).splitlines() if ln.strip()]
    head = [ln for ln in lines if not ln.startswith(("Failed in ", "During:", "    <source elided>"))]
    gist = re.sub(r"'_Z\w+'", "'...'", head[0].strip() if head else (lines[0] if lines else ""))
    where = next((ln.strip() for ln in lines if ln.strip().startswith("File \"")), "")
    src = ""
    if where:
        i = next(k for k, ln in enumerate(lines) if ln.strip() == where)
        near = lines[i + 1:i + 12]
        for k, ln in enumerate(near):
            if ln.strip().startswith("^") and k > 0:  # Numba's caret under the offending line
                src = near[k - 1].strip()
                break
    return " | ".join(x for x in (gist, where.replace(os.getcwd() + os.sep, ""), src) if x)[:600]


def _resolve(rec):
    """The real CUDA dispatcher of a record: its module's attribute, or its factory run again with
    the recorded arguments (whose kernel must close over the same values as the simulator's)."""
    factory = rec["factory"]
    if isinstance(factory, str):
        raise LookupError(f"cannot rebuild the kernel: its factory call was not recorded ({factory})")
    if factory is None:
        disp = _lookup(rec["module"], rec["qualname"])
    else:
        args, kwargs = _loads(factory["args"])
        disp = _lookup(rec["module"], factory["qualname"])(*args, **kwargs)
        got = _closure(disp.py_func)
        if got != factory["closure"]:
            diff = {k: (factory["closure"].get(k), got.get(k)) for k in set(got) | set(factory["closure"])
                    if got.get(k) != factory["closure"].get(k)}
            raise LookupError(f"the factory rebuilt a different kernel (closure simulator vs here: {diff})")
        if disp.py_func.__qualname__ != rec["qualname"]:
            raise LookupError(f"the factory returned {disp.py_func.__qualname__}, not {rec['qualname']}")
    if type(disp).__name__ != "CUDADispatcher":
        raise LookupError(f"{rec['module']}.{rec['qualname']} is a {type(disp).__name__} here, not a CUDA kernel")
    return disp


def _assemble(ptxas, ptx, cc):
    """Run ptxas on ``ptx``; raises RuntimeError with its message where it refuses."""
    with tempfile.NamedTemporaryFile("w", suffix=".ptx", delete=False) as f:
        f.write(ptx)
    try:
        p = subprocess.run([ptxas, f"-arch=sm_{cc[0]}{cc[1]}", "-o", os.devnull, f.name],
                           capture_output=True, text=True, timeout=300)
    finally:
        os.unlink(f.name)
    if p.returncode != 0:
        raise RuntimeError(f"ptxas: {(p.stderr or p.stdout).strip()}")


def _usable_ptxas(ptxas, cc):
    """(ptxas or None, note): None where it refuses the PTX of a trivial kernel (e.g. an older toolkit's
    ptxas than the NVVM that made the PTX), so that its refusals of real kernels mean something."""
    if not ptxas:
        return None, "no ptxas (not found, or turned off): PTX only"
    from numba import cuda
    from numba.core import types

    try:
        ptx, _ = cuda.compile_ptx(_probe(), (types.float64[::1],), cc=cc)
        _assemble(ptxas, ptx, cc)
        return ptxas, ""
    except Exception as exc:  # noqa: BLE001
        return None, f"ptxas {ptxas} not used, it refuses a trivial kernel: {' '.join(str(exc).split())[:300]}"


def compile_record(rec, cc=(9, 0), ptxas=None):
    """Compile one record; a result dict: ok, stage (resolve, compile, ptxas), error, short, seconds."""
    from numba import cuda

    name = f"{rec['module']}.{rec['qualname']}"
    if rec.get("factory") and isinstance(rec["factory"], dict):
        name += f" [{rec['factory']['qualname']}({rec['factory']['repr']})]"
    out = {"kernel": name, "signature": rec["signature"], "ok": False, "stage": "resolve", "error": "",
           "short": "", "seconds": 0.0}
    t0 = time.perf_counter()
    try:
        if rec.get("record_error"):
            raise LookupError(f"the launch could not be recorded: {rec['record_error']}")
        disp = _resolve(rec)
        argtypes = _loads(rec["argtypes"])
        opts = disp.targetoptions
        out["stage"] = "compile"
        ptx, _ = cuda.compile_ptx(disp.py_func, argtypes, cc=cc, fastmath=bool(opts.get("fastmath")),
                                  debug=bool(opts.get("debug")), lineinfo=bool(opts.get("lineinfo")),
                                  opt=opts.get("opt", True) is not False)
        if ptxas:
            out["stage"] = "ptxas"
            _assemble(ptxas, ptx, cc)
        out["ok"], out["stage"] = True, "done"
    except Exception as exc:  # noqa: BLE001 - each failure is a result
        out["error"] = _ANSI.sub("", f"{type(exc).__name__}: {exc}")
        out["short"] = f"{type(exc).__name__}: {short_error(str(exc))}"
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out


def _install_fake_device(cc):
    from numba.cuda import compiler, dispatcher

    dev = _FakeDevice(cc)
    dispatcher.get_current_device = lambda: dev
    compiler.get_current_device = lambda: dev


def load(paths):
    """The records of signature files, deduplicated across them; and the never-launched kernels."""
    seen, records, never = set(), [], set()
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        if data.get("format") != FORMAT:
            raise ValueError(f"{path}: format {data.get('format')}, expected {FORMAT}")
        never.update(data.get("never_launched", []))
        for rec in data["records"]:
            key = (rec["module"], rec["qualname"], json.dumps(rec["factory"], sort_keys=True), rec["signature"],
                   rec.get("record_error"))
            if key not in seen:
                seen.add(key)
                records.append(rec)
    launched = {f"{r['module']}.{r['qualname']}" for r in records}
    return records, sorted(never - launched)


def _worker(job):
    recs, cc, ptxas = job
    _install_fake_device(cc)
    _install_workarounds()
    return [compile_record(r, cc, ptxas) for r in recs]


def check(paths, cc=(9, 0), jobs=1, ptxas="auto", log=None):
    """Compile every record of the signature files ``paths``; a summary dict."""
    problem = nvvm_problem(cc)
    if problem:
        return {"nvvm": problem}
    _install_fake_device(cc)
    workarounds = _install_workarounds()
    ptxas, ptxas_note = _usable_ptxas(_find_ptxas() if ptxas == "auto" else ptxas, cc)
    records, never = load(paths)
    t0 = time.perf_counter()
    if jobs <= 1 or len(records) < 2:
        results = []
        for r in records:
            results.append(compile_record(r, cc, ptxas))
            if log:
                res = results[-1]
                print(f"{'ok  ' if res['ok'] else 'FAIL'} {res['seconds']:6.2f} s  {res['kernel']} {res['signature']}",
                      file=log, flush=True)
    else:
        import multiprocessing as mp

        # the kernels by expected cost, dealt round robin: each worker gets a share of the slow ones
        order = sorted(range(len(records)), key=lambda i: (records[i]["module"], records[i]["qualname"]))
        shares = [[records[i] for i in order[k::jobs]] for k in range(jobs)]
        with mp.get_context("fork").Pool(jobs) as pool:
            parts = pool.map(_worker, [(s, cc, ptxas) for s in shares], chunksize=1)
        by = {}
        for share, part in zip(shares, parts):
            for r, res in zip(share, part):
                by[id(r)] = res
        results = [by[id(r)] for r in records]
    seconds = time.perf_counter() - t0
    failed = [r for r in results if not r["ok"]]
    return {"nvvm": None, "compiler": compiler_name(), "workarounds": workarounds, "cc": list(cc), "ptxas": ptxas,
            "ptxas_note": ptxas_note, "jobs": jobs, "seconds": round(seconds, 2),
            "kernels": len({r["kernel"].split(" [")[0] for r in results}), "signatures": len(results),
            "failed": failed, "results": results, "never_launched": never}


_INT_TO_FLOAT = re.compile(r"cvt\.rn\.f(?:16|32|64)\.[su](?:8|16|32|64)")
INTEGER_DTYPES = ("boolean", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64")


def integer_conversions(cc=(9, 0)):
    """{kernel dtype: how many integer-to-float conversions its PTX has} for the integer elementwise
    kernels (``_integer_binary``, ``_integer_unary_kernel``): 0 everywhere where integer arithmetic
    on the device is exact. A branch returning a float (``x / y``, Numba's float ``x ** y`` of two
    integers, a uint64 mixed with an int64) would make Numba type every result float64, which
    loses an int64's low bits above 2**53 with no error."""
    from numba import cuda
    from numba.core import types

    from numconv.kernels.cuda import elementwise as E

    _install_fake_device(cc)
    _install_workarounds()
    pad = types.UniTuple(types.int64, _maxdim())
    counts = {}
    for name in INTEGER_DTYPES:
        dt = getattr(types, name)
        for kernel, sig in ((E._integer_binary, (dt[::1], dt[::1], dt[::1], types.int64, pad, pad, pad)),
                            (E._integer_unary_kernel, (dt[::1], dt[::1], types.int64))):
            ptx, _ = cuda.compile_ptx(kernel.py_func, sig, cc=cc)
            counts[f"{kernel.py_func.__name__} {name}"] = len(_INT_TO_FLOAT.findall(ptx))
    return counts


def _maxdim():
    from numconv.ops import math as M

    return M.MAXDIM


def report_text(summary) -> str:
    if summary.get("nvvm"):
        return f"NVVM unavailable: {summary['nvvm']}"
    lines = [f"{summary['signatures']} signatures of {summary['kernels']} kernels compiled to PTX for "
             f"cc {summary['cc'][0]}.{summary['cc'][1]}{' and assembled by ptxas' if summary['ptxas'] else ''} "
             f"in {summary['seconds']:.1f} s ({summary['jobs']} process(es)); {len(summary['failed'])} failed; "
             f"compiler: {summary['compiler']}" + "".join(f"; workaround: {w}" for w in summary["workarounds"])
             + (f"; {summary['ptxas_note']}" if summary.get("ptxas_note") else "")]
    for r in summary["failed"]:
        lines.append(f"FAIL [{r['stage']}] {r['kernel']}{r['signature']}\n    {r['short']}")
    if summary["never_launched"]:
        lines.append("not launched by any case, so not checked: " + ", ".join(summary["never_launched"]))
    return "\n".join(lines)


def main(argv) -> int:
    """python tests/_ptx_check.py SIGS.json [SIGS.json ...] [--cc 9.0] [--jobs N] [--no-ptxas] [--json OUT] [-v]
    python tests/_ptx_check.py --probe [--cc 9.0]   (exit 0 where kernels compile to PTX here, else 3)
    python tests/_ptx_check.py --integer-exact      (``integer_conversions`` as JSON on stdout; exit 1 if any)"""
    os.environ.setdefault("NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING", "1")
    paths, cc, jobs, out, ptxas, verbose, probe, integer = [], (9, 0), 1, None, "auto", False, False, False
    it = iter(argv)
    for a in it:
        if a == "--cc":
            cc = tuple(int(x) for x in next(it).split("."))
        elif a == "--jobs":
            jobs = int(next(it))
        elif a == "--json":
            out = next(it)
        elif a == "--no-ptxas":
            ptxas = None
        elif a == "-v":
            verbose = True
        elif a == "--probe":
            probe = True
        elif a == "--integer-exact":
            integer = True
        else:
            paths.append(a)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if probe:
        problem = nvvm_problem(cc)
        print(f"NVVM unavailable: {problem}" if problem else f"ok: {compiler_name()}, ptxas {_find_ptxas()}",
              file=sys.stderr)
        return 3 if problem else 0
    if integer:
        counts = integer_conversions(cc)
        print(json.dumps(counts))
        return 1 if any(counts.values()) else 0
    summary = check(paths, cc=cc, jobs=jobs, ptxas=ptxas, log=sys.stderr if verbose else None)
    if verbose:
        for r in summary.get("failed", []):
            print(f"\n==== {r['kernel']}{r['signature']} [{r['stage']}]\n{r['error']}", file=sys.stderr)
    print(report_text(summary), file=sys.stderr)
    if out:
        with open(out, "w") as f:
            json.dump(summary, f, indent=1)
    if summary.get("nvvm"):
        return 3
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
