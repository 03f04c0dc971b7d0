"""Training on the CUDA backend: ``numconv.ops.math`` kernels, optimizer updates, ``Tensor.to`` /
``Module.to`` and a few training steps, device against CPU.

Not a test module (the leading underscore keeps pytest from collecting it):
``test_cuda_training.py`` runs it in a subprocess with ``NUMBA_ENABLE_CUDASIM=1`` (see
``test_cuda_kernels.py`` for why). By hand: ``NUMBA_ENABLE_CUDASIM=1 python tests/_cuda_training_cases.py``,
or without the flag on a machine with a GPU. Writes a JSON report with ``--json PATH``; exit 0
when every case passed. Shapes are tiny (the simulator runs a Python thread per GPU thread);
sizes are chosen not to be multiples of the block or the matmul tile.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from numba import cuda  # noqa: E402

import numconv as nc  # noqa: E402
import numconv.functional as F  # noqa: E402
from numconv import dispatch, nn  # noqa: E402
from numconv.ops import math as M  # noqa: E402
from numconv.ops import optim as O  # noqa: E402

RESULTS: list[dict] = []
RNG = np.random.default_rng(7)


def dev(a):
    return cuda.to_device(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a


def is_device(a):
    return not isinstance(a, np.ndarray) and dispatch.device_of(a) == dispatch.CUDA


def bits(a):
    return np.ascontiguousarray(a.copy_to_host()).tobytes()


@contextlib.contextmanager
def checking(group, name):
    entry = {"group": group, "name": name, "ok": True, "error": ""}
    RESULTS.append(entry)
    try:
        yield
    except Exception:  # noqa: BLE001 - every exception fails this case
        entry["ok"], entry["error"] = False, traceback.format_exc()
        print(f"FAIL [{group}] {name}\n{entry['error']}", file=sys.stderr)


def same(got, want, what, rtol=1e-12, atol=1e-12):
    assert is_device(got), f"{what}: the CUDA path returned {type(got).__name__}, not a device array"
    g, w = got.copy_to_host(), np.asarray(want)
    assert g.shape == w.shape, f"{what}: shape {g.shape}, NumPy {w.shape}"
    assert g.dtype == w.dtype, f"{what}: dtype {g.dtype}, NumPy {w.dtype}"
    if w.dtype.kind in "biu":
        assert np.array_equal(g, w), f"{what}: {g} != {w}"
    else:
        if w.dtype == np.float32:
            rtol, atol = 1e-5, 1e-6
        assert np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True), f"{what}: max error {np.nanmax(np.abs(g - w))}"


def math_case(name, fn, *args, repeat=True, **kw):
    """``fn(*args)`` with NumPy arrays (NumPy) and with device arrays (the CUDA kernels): equal; run twice
    on the device: bit-identical."""
    with checking("math", name):
        want = fn(*args, **kw)
        dargs = [dev(a) for a in args]
        got = fn(*dargs, **kw)
        same(got, want, name)
        if repeat:
            assert bits(fn(*dargs, **kw)) == bits(got), f"{name}: two runs differ bit for bit"


def math_cases():
    r = lambda *s: RNG.standard_normal(s)  # noqa: E731
    a, b, c = r(3, 5, 7), r(5, 1), r(7)
    x32 = r(5, 37).astype(np.float32)
    for op in ("add", "subtract", "multiply", "divide", "maximum", "minimum"):
        f = getattr(M, op)
        math_case(f"{op} broadcast", f, a, b)
        math_case(f"{op} broadcast 1-d", f, c, a)
        math_case(f"{op} scalar", f, a, 0.5)
        math_case(f"{op} scalar left", lambda y, f=f: f(1.5, y), a)
        math_case(f"{op} float32", f, x32, 2.0)
    math_case("power scalar", M.power, np.abs(a) + 0.1, 3)
    math_case("power scalar float", M.power, np.abs(a) + 0.1, -0.5)
    nan = a.copy()
    nan[0, 0, 0] = np.nan
    math_case("maximum NaN", M.maximum, nan, 0.0)
    for op in ("floor_divide", "remainder"):  # Python's // and %: signs, NaN and a float 0 divisor, ints
        f = getattr(M, op)
        math_case(f"{op} broadcast", f, a * 4, b)
        math_case(f"{op} float edges", f, np.array([5., -7., 3.5, -0.5, 1., -1., 0., np.nan, np.inf, -3., 1e-20]),
                  np.array([2., 2., -1.5, 1., 0., -0., 0., 1., 2., np.inf, -1.]))
        math_case(f"{op} float32 scalar", f, x32 * 10, 0.75)
        math_case(f"{op} int64", f, np.array([5, -7, 7, -8, 0, 9]), np.array([2, 2, -2, -3, 5, 9]))
        math_case(f"{op} int32 scalar left", lambda t, f=f: f(-17, t), np.array([3, -4, 5], np.int32))
    math_case("nonzero", lambda t: M.stack(M.nonzero(t), 0), np.where(a > 0.5, a, 0.0))
    math_case("nonzero 0-d", lambda t: M.stack(M.nonzero(t), 0), np.array(2.0))
    for op in ("eq", "ne", "lt", "le", "gt", "ge"):
        math_case(f"compare {op}", lambda p, q, op=op: M.compare(op, p, q), a, b)
    math_case("compare int scalar", lambda t: M.compare("ne", t, -100), np.array([3, -100, 0, 2]))
    u8 = np.array([0, 5, 254, 255], np.uint8)
    for op in ("lt", "ge", "eq", "ne"):  # ints the array's dtype cannot hold compare exactly, as NumPy
        math_case(f"compare uint8 {op} -2", lambda t, op=op: M.compare(op, t, -2), u8)
        math_case(f"compare uint8 {op} 300", lambda t, op=op: M.compare(op, 300, t), u8)
    math_case("compare int8 gt 2**70", lambda t: M.compare("gt", t, 2**70), np.array([-128, 0, 127], np.int8))
    math_case("logical_and", M.logical_and, a > 0, b > 0)
    math_case("logical_not", M.logical_not, a > 0)
    math_case("isnan", M.isnan, nan)
    math_case("where", M.where, a > 0, a, b)
    math_case("where scalar", lambda cnd, t: M.where(cnd, t, 0), np.array([True, False, True]), np.array([4, 5, 6]))
    for name in ("negative", "exp", "log", "sqrt", "abs", "sign", "tanh", "sigmoid"):
        f = getattr(M, name)
        arg = np.abs(a) + 0.5 if name in ("log", "sqrt") else a
        math_case(name, f, arg)
        math_case(f"{name} float32", f, np.abs(x32) + 0.5 if name in ("log", "sqrt") else x32)
    math_case("exp overflow, log of 0 and negatives", lambda t: M.log(M.exp(t)), np.array([1000.0, -1000.0, 0.0, -1.0]))
    math_case("sigmoid extremes", M.sigmoid, np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0]))
    math_case("clip", M.clip, a, -0.5, 0.5)
    math_case("astype bool->float32", lambda t: M.astype(t, np.float32), a > 0)
    math_case("astype float64->float32", lambda t: M.astype(t, np.float32), a)
    math_case("astype int64->float64", lambda t: M.astype(t, np.float64), np.arange(7))
    math_case("copy", M.copy, a)
    math_case("full_like", lambda t: M.full_like(t, 2.5), a)
    math_case("zeros like", lambda t: M.zeros((2, 3), np.float32, like=t), a)
    math_case("ones like", lambda t: M.ones((4,), np.float64, like=t), a)
    math_case("zeros_like", M.zeros_like, a)
    math_case("reshape -1", lambda t: M.reshape(t, (3, -1)), a)
    math_case("transpose", lambda t: M.transpose(t, (2, 0, 1)), a)
    math_case("swapaxes", lambda t: M.swapaxes(t, -1, -2), a)
    math_case("broadcast_to", lambda t: M.broadcast_to(t, (3, 5, 4)), r(5, 1))
    for axis in (None, 0, 1, 2, (0, 2), (1,)):
        for keep in (False, True):
            tag = f"axis={axis} keepdims={keep}"
            math_case(f"sum {tag}", lambda t, axis=axis, keep=keep: M.sum(t, axis=axis, keepdims=keep), a)
            math_case(f"mean {tag}", lambda t, axis=axis, keep=keep: M.mean(t, axis=axis, keepdims=keep), a)
            math_case(f"max {tag}", lambda t, axis=axis, keep=keep: M.max(t, axis=axis, keepdims=keep), a)
            math_case(f"min {tag}", lambda t, axis=axis, keep=keep: M.min(t, axis=axis, keepdims=keep), a)
    for axis in (None, 0, 2):
        math_case(f"argmax axis={axis}", lambda t, axis=axis: M.argmax(t, axis=axis), a)
        math_case(f"argmin axis={axis} keepdims", lambda t, axis=axis: M.argmin(t, axis=axis, keepdims=True), a)
    ties = np.array([[1.0, 3.0, 3.0, np.nan, 2.0], [0.0, 0.0, -1.0, -1.0, 5.0]])
    math_case("argmax ties and NaN", lambda t: M.argmax(t, axis=1), ties)
    math_case("max NaN propagates", lambda t: M.max(t, axis=1), ties)
    # few long reductions take a block per output (kernels/cuda/reduce.py): a batch norm's statistics,
    # whole arrays, long rows with ties and NaN that fall to different threads of the block
    bn, row = r(4, 9, 5, 6), r(3, 150)
    row[0, [7, 100]] = 9.0  # the first of two maxima, in different threads
    row[1, [90, 20]] = np.nan  # the first NaN wins
    row[2, [33, 130]] = -9.0
    for name, fn in (("sum", M.sum), ("mean", M.mean), ("max", M.max), ("min", M.min)):
        math_case(f"{name} batch-norm axes, a block per channel", lambda t, fn=fn: fn(t, axis=(0, 2, 3), keepdims=True), bn)
        math_case(f"{name} of a whole array", fn, bn)
        math_case(f"{name} float32 long rows", lambda t, fn=fn: fn(t, axis=1), row.astype(np.float32))
    for name in ("argmax", "argmin"):
        math_case(f"{name} long rows, ties and NaN", lambda t, name=name: getattr(M, name)(t, axis=1), row)
        math_case(f"{name} of a whole array", lambda t, name=name: getattr(M, name)(t), bn)
    math_case("sum of a long int row", lambda t: M.sum(t, axis=1), np.arange(300).reshape(2, 150))
    math_case("sum bool dtype", lambda t: M.sum(t, axis=1, keepdims=True, dtype=np.float64), a > 0)
    math_case("sum bool", M.sum, a > 0)
    math_case("sum float32", lambda t: M.sum(t, axis=1), x32)
    for axis in (0, 1, 2):
        math_case(f"softmax axis={axis}", lambda t, axis=axis: M.softmax(t, axis), a)
        math_case(f"log_softmax axis={axis}", lambda t, axis=axis: M.log_softmax(t, axis), a)
    math_case("log_softmax large logits", lambda t: M.log_softmax(t, 1), np.array([[1000.0, 0.0, -1000.0]]))
    math_case("softmax float32", lambda t: M.softmax(t, 1), x32)
    for shape in ((3, 5, 7), (5, 7), (7,)):
        math_case(f"sum_to {shape}", lambda g, shape=shape: M.sum_to(g, shape), r(2, 3, 5, 7))
    math_case("sum_to (5, 1)", lambda g: M.sum_to(g, (1, 5, 1)), a)
    idx = RNG.integers(0, 5, (3, 1, 7))
    math_case("gather axis 1", lambda t, i: M.gather(t, i, 1), a, idx)
    small = RNG.integers(0, 7, (2, 4, 3))
    math_case("gather smaller index", lambda t, i: M.gather(t, i, 2), a, small)
    math_case("scatter_add", lambda i, v: M.scatter_add((3, 5, 7), i, v, 1, np.float64), idx, r(3, 1, 7))
    rep = RNG.integers(0, 3, (4, 6))  # repeated positions add up
    math_case("scatter_add repeats", lambda i, v: M.scatter_add((3, 6), i, v, 0, np.float64), rep, r(4, 6))
    math_case("scatter_add smaller", lambda i, v: M.scatter_add((3, 5, 7), i, v, 2, np.float64), small, r(2, 4, 3))
    math_case("take int array", lambda t, i: M.take(t, i, 1), a, np.array([4, 0, -1, 2]))
    math_case("take int", lambda t: M.take(t, 2, 0), a)
    for n, k, m in ((1, 1, 1), (4, 48, 5), (17, 19, 18), (33, 7, 2)):
        math_case(f"matmul {n}x{k}@{k}x{m}", M.matmul, r(n, k), r(k, m))
    math_case("matmul float32", M.matmul, r(9, 21).astype(np.float32), r(21, 11).astype(np.float32))
    indexing_math_cases(r)
    with checking("math", "assign: whole array, scalar, broadcast, from the host"):
        d = dev(np.zeros((3, 4)))
        M.assign(d, 2.0)
        same(d, np.full((3, 4), 2.0), "assign scalar")
        M.assign(d, dev(np.arange(4.0)))
        same(d, np.broadcast_to(np.arange(4.0), (3, 4)), "assign broadcast")
        M.assign(d, np.ones((3, 4)))
        same(d, np.ones((3, 4)), "assign from the host")


# index expressions for a (3, 5, 7) array: basic, advanced (int arrays with repeats and negatives,
# boolean masks) and their mixtures, in both of NumPy's placements of the broadcast index dimensions
_I = np.array([[0, 2, 0], [-1, 1, 2]])  # (2, 3), a repeated position
_J = np.array([4, -5, 4])  # broadcasts against _I, repeats 4
_MASK = np.array([[True, False, True, True, False, False, True]] * 4 + [[False] * 6 + [True]])  # (5, 7)
INDICES = [
    ("int", 1), ("negative int", -1), ("ints", (2, -2)), ("reversed slice", slice(None, None, -2)),
    ("slices and None", (slice(1, 3), None, slice(6, 0, -3))), ("Ellipsis int", (Ellipsis, 3)),
    ("empty slice", (slice(2, 2),)), ("int array", _I), ("list", [2, 0, 2]),
    ("arrays adjacent", (slice(None), _I, _J)), ("arrays apart", (_I, slice(None), _J)),
    ("int then array (apart)", (0, slice(1, 4), _J)), ("slice int array", (slice(None, None, -1), 1, _J)),
    ("mask 2-d", (slice(None), _MASK)), ("mask 1-d with Ellipsis", (np.array([True, False, True]), Ellipsis, 2)),
    ("0-d int array", (np.array(2), None, slice(None), [0, 6])),
]


def indexing_math_cases(r):
    """concatenate, stack, split, getitem, index_add, assign and batched matmul: device against NumPy."""
    a = r(3, 5, 7)
    for dtype in (np.float64, np.float32):
        tag = np.dtype(dtype).name
        x, y, z = (r(*s).astype(dtype) for s in ((3, 1, 7), (3, 4, 7), (3, 2, 7)))
        math_case(f"concatenate axis 1 {tag}", lambda p, q, w: M.concatenate([p, q, w], 1), x, y, z)
        math_case(f"concatenate axis -1 {tag}", lambda p, q: M.concatenate((p, q), -1), y.T, y.T[:, :, :3])
        math_case(f"stack axis 1 {tag}", lambda p, q: M.stack([p, q], 1), y, y * 2)
        math_case(f"stack axis -1 {tag}", lambda p, q: M.stack([p, q, p], -1), x, x - 1)
        with checking("math", f"split into 1, 4, 2 along axis 1 {tag}"):
            whole = np.concatenate([x, y, z], 1)
            pieces = M.split(dev(whole), [1, 4, 2], 1)
            for got, want in zip(pieces, M.split(whole, [1, 4, 2], 1)):
                same(got, np.ascontiguousarray(want), "split")
            assert len(pieces) == 3
    math_case("concatenate float32 with float64", lambda p, q: M.concatenate([p, q], 0), r(2, 3).astype(np.float32),
              r(1, 3))
    ad = a.astype(np.float32)
    for name, index in INDICES:
        src = ad if "mask" in name else a  # both dtypes
        math_case(f"getitem [{name}]", lambda t, index=index: M.getitem(t, index), src)
        arrays = isinstance(index, (np.ndarray, list)) or (isinstance(index, tuple) and any(
            isinstance(p, (np.ndarray, list)) for p in index))
        if arrays:  # the same index arrays on the device
            parts = index if isinstance(index, tuple) else (index,)
            with checking("math", f"getitem [{name}, device index arrays]"):
                dparts = tuple(dev(np.asarray(p)) if isinstance(p, (np.ndarray, list)) else p for p in parts)
                same(M.getitem(dev(src), dparts), M.getitem(src, parts), name)
        g = RNG.standard_normal(np.shape(src[index])).astype(src.dtype)
        math_case(f"index_add [{name}]", lambda v, index=index, dt=src.dtype: M.index_add(src.shape, index, v, dt), g)
        if arrays:
            with checking("math", f"index_add [{name}, device index arrays]: repeats summed in order"):
                dparts = tuple(dev(np.asarray(p)) if isinstance(p, (np.ndarray, list)) else p for p in parts)
                got = M.index_add(src.shape, dparts, dev(g), src.dtype)
                same(got, M.index_add(src.shape, parts, g, src.dtype), name)
                again = M.index_add(src.shape, dparts, dev(g), src.dtype)
                assert bits(got) == bits(again), "two runs differ bit for bit"

        def assigned(d, v, index=index):
            out = M.copy(d)
            M.assign(out, v, index)
            return out

        math_case(f"assign [{name}]", assigned, src, g)
    math_case("assign [slice] a scalar", lambda d: _assigned(d, 2.5, (slice(None), 1)), a)
    math_case("assign [int array] broadcast", lambda d, v: _assigned(d, v, (_I,)), a, r(1, 7))
    math_case("assign [int array] broadcast over repeats", lambda d, v: _assigned(d, v, (slice(None), _I, _J)), a,
              r(3, 1, 3))
    math_case("assign a reversed view of itself", _reverse_in_place, a)
    with checking("math", "assign into itself shifted: reads before it writes"):
        d = dev(np.arange(10.0))
        M.assign(d, d[:-1], slice(1, None))
        same(d, np.array([0.0] + list(range(9)), np.float64), "shifted")
    with checking("math", "index errors as NumPy"):
        for index, kind in [((3,), IndexError), ((0, 0, 0, 0), IndexError), (np.array([0, 3]), IndexError),
                            ((slice(None), np.array([[True, False]])), IndexError),
                            ((np.array([0, 1]), np.array([0, 1, 2])), IndexError), ((Ellipsis, Ellipsis), IndexError)]:
            for device_index in (False, True):
                idx = tuple(dev(p) if device_index and isinstance(p, np.ndarray) else p for p in
                            (index if isinstance(index, tuple) else (index,)))
                try:
                    M.getitem(dev(a), idx)
                except kind:
                    pass
                else:
                    raise AssertionError(f"a[{index}] did not raise {kind.__name__}")
    for sa, sb in [((7,), (7,)), ((2, 7), (7,)), ((5,), (2, 5, 3)), ((3, 1, 2, 5), (2, 5, 3)), ((2, 5, 6), (6, 3)),
                   ((1, 5), (3, 5, 2))]:
        math_case(f"matmul {sa} @ {sb}", M.matmul, r(*sa), r(*sb))
    math_case("matmul batched float32", M.matmul, r(2, 5, 3).astype(np.float32), r(2, 3, 6).astype(np.float32))


def _assigned(d, v, index):
    out = M.copy(d)
    M.assign(out, v, index)
    return out


def _reverse_in_place(d):
    out = M.copy(d)
    M.assign(out, out, (slice(None, None, -1),))  # source and destination overlap
    return out


def elementwise_function_cases():
    """The float functions (rounding, trig, erf, ...) at their domain edges, fmod/atan2/hypot/copysign,
    and the integer kernels (bitwise, shifts, power, fmod, ~, sign) for every integer dtype: device
    against NumPy; then Tensor methods with backward, device against CPU."""
    edges = np.array([0.0, -0.0, 0.5, -0.5, 1.5, -2.5, 2.5, 0.49999999999999994, 1e300, -1e300, 4503599627370497.0,
                      np.inf, -np.inf, np.nan, 1.0, -1.0, 3.7, -3.7, 720.0, -720.0, 1e-300, 2.0 ** 60 + 1.5])
    for dtype in (np.float64, np.float32):
        x = edges.astype(dtype)
        for name in ("floor", "ceil", "rint", "trunc", "expm1", "log2", "log10", "sin", "cos", "tan", "arcsin",
                     "arccos", "arctan", "sinh", "cosh", "erf", "erfc", "sign", "arcsinh", "arccosh", "arctanh"):
            math_case(f"{name} edges {np.dtype(dtype).name}", getattr(M, name), x)
        y = np.roll(x, 3)
        for name in ("fmod", "arctan2", "hypot", "copysign"):
            math_case(f"{name} edges {np.dtype(dtype).name}", getattr(M, name), x, y)
    math_case("erf of int64: float64", M.erf, np.array([-2, 0, 1, 3]))
    math_case("arctan2 of int64: float64", M.arctan2, np.array([-2, 0, 1, 3]), np.array([1, 0, -1, 2]))
    shifts = np.array([0, 1, 3, 7, 8, 15, 31, 63, 64, 70, -1, -5])
    for dtype in (np.int8, np.uint8, np.int16, np.int32, np.int64, np.uint64):
        tag = np.dtype(dtype).name
        info = np.iinfo(dtype)
        v = RNG.integers(info.min // 2, info.max // 2, size=12, endpoint=True).astype(dtype)
        w = RNG.integers(max(info.min, -50), 50, size=12).astype(dtype)
        for name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
            math_case(f"{name} {tag}", getattr(M, name), v, w)
        math_case(f"invert {tag}", M.invert, v)
        math_case(f"sign {tag}", M.sign, v)
        nonzero = np.where(w == 0, 3, w).astype(dtype)
        math_case(f"fmod {tag}", M.fmod, v, nonzero)
        math_case(f"power {tag}", M.power, (v % 5).astype(dtype), np.abs(w % 7).astype(dtype))
        if info.min < 0:  # shift amounts past the width and negative ones; small values (the simulator's ints do not wrap)
            small = np.array([1, -1, 3, -8, 0, 5, -3, 2, 1, -1, 7, -7], dtype)
            math_case(f"right_shift {tag}", M.right_shift, small, shifts.astype(dtype))
            math_case(f"left_shift {tag} past the width", M.left_shift, small[8:], shifts[8:].astype(dtype))
        math_case(f"left_shift {tag} within", M.left_shift, np.array([1, 2, 3], dtype), np.array([0, 1, 4], dtype))
    big = np.array([2 ** 62 + 1, -(2 ** 62) - 3, 2 ** 53 + 1], np.int64)  # above 2**53: exact only in integer arithmetic
    math_case("add int64 above 2**53", M.add, big, np.array([2, 5, 0]))
    math_case("multiply int64 above 2**53", M.multiply, big, np.array([1, 1, 1]))
    math_case("bitwise bool", M.bitwise_xor, np.array([True, False, True]), np.array([True, True, False]))
    math_case("invert bool", M.invert, np.array([True, False]))
    r = lambda *s: RNG.standard_normal(s)  # noqa: E731
    for dtype in (np.float64, np.float32):
        tag = np.dtype(dtype).name
        a, b = r(2, 5).astype(dtype), (r(1, 5) + 3.0).astype(dtype)
        with checking("elementwise", f"functions with backward {tag}"):
            for name in ("expm1", "log1p", "sin", "cos", "tan", "atan", "sinh", "cosh", "erf", "erfc", "floor",
                         "round", "sign"):
                both(lambda x, name=name: getattr(x, name)(), a * 0.5)
            both(lambda x: x.asin() + x.acos(), np.clip(a, -0.9, 0.9))
            both(lambda x: x.asinh() + x.atanh(), np.clip(a, -0.9, 0.9))
            both(lambda x: x.acosh(), np.abs(a) + 1.1)
            both(lambda x: x.log2() + x.log10(), np.abs(a) + 0.1)
            both(lambda x: x.lgamma() + x.digamma() + x.polygamma(2) + x.mvlgamma(2), np.abs(a) + 0.7)
            both(lambda x: x.erfinv(), np.tanh(a))
        with checking("elementwise", f"binary functions with backward {tag}"):
            for name in ("fmod", "atan2", "hypot", "copysign", "logaddexp", "xlogy"):
                both(lambda x, y, name=name: getattr(x, name)(y), a, b)
            both(lambda x, y: x.lerp(y, 0.75) + x.addcdiv(x, y, value=0.5), a, b)
    with checking("elementwise", "bitwise and logical tensors"):
        i, j = nc.Tensor(dev(np.array([5, -8, 3, 12]))), nc.Tensor(dev(np.array([3, 1, 2, 65])))
        same((i & j).data, np.array([5, -8, 3, 12]) & np.array([3, 1, 2, 65]), "&")
        same((i << j).data, np.array([40, -16, 12, 0]), "<<")
        same((i >> j).data, np.array([0, -4, 0, 0]), ">>")
        same((~i).data, ~np.array([5, -8, 3, 12]), "~")
        same(i.div(j, rounding_mode="trunc").data, np.array([1, -8, 1, 0]), "div trunc")
        same(i.logical_xor(j - 1).data, np.array([False, True, False, False]), "logical_xor")  # -8 xor 0


def unsupported_cases():
    with checking("unsupported", "what the device cannot index raises NotImplementedError naming it"):
        d = dev(RNG.standard_normal((2, 3)))
        for name, call in [("getitem", lambda: M.getitem(d, True)), ("getitem", lambda: M.getitem(d, (0, np.False_))),
                           ("dimensions", lambda: M.getitem(d, (None,) * 7))]:
            try:
                call()
            except NotImplementedError as e:
                assert name in str(e), f"{name}: unclear message {e}"
            else:
                raise AssertionError(f"{name} on a device array did not raise NotImplementedError")
    with checking("unsupported", "mixing a device and a host array is a ValueError"):
        try:
            M.add(dev(np.ones(3)), np.ones(3))
        except ValueError as e:
            assert "cuda" in str(e) and "cpu" in str(e), str(e)
        else:
            raise AssertionError("no ValueError")


def optim_cases():
    shapes = (7, 3, 5)
    for dtype in (np.float64, np.float32):
        cases = [
            ("sgd", O.sgd_step, ["momentum_buffer"], dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01,
                                                          nesterov=False, first_step=False)),
            ("sgd nesterov first", O.sgd_step, ["momentum_buffer"], dict(lr=0.1, momentum=0.9, dampening=0.0,
                                                                          weight_decay=0.0, nesterov=True,
                                                                          first_step=True)),
            ("sgd plain", O.sgd_step, [None], dict(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0,
                                                   nesterov=False, first_step=False)),
            ("adam", O.adam_step, ["m", "v", None], dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8,
                                                         weight_decay=0.01, decoupled=False, amsgrad=False, step=3)),
            ("adamw amsgrad", O.adam_step, ["m", "v", "vmax"], dict(lr=1e-2, beta1=0.8, beta2=0.99, eps=1e-8,
                                                                    weight_decay=0.1, decoupled=True, amsgrad=True,
                                                                    step=2)),
            ("rmsprop centered momentum", O.rmsprop_step, ["v", "b", "gbar"],
             dict(lr=1e-2, alpha=0.9, eps=1e-8, weight_decay=0.01, momentum=0.9, centered=True)),
            ("rmsprop", O.rmsprop_step, ["v", None, None],
             dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False)),
            ("adagrad", O.adagrad_step, ["sum"], dict(lr=1e-2, weight_decay=0.01, lr_decay=0.1, eps=1e-10, step=3)),
            ("adamax", O.adamax_step, ["m", "u"], dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01,
                                                       step=3)),
            ("nadam decoupled", O.nadam_step, ["m", "v"], dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                                                                weight_decay=0.01, momentum_decay=4e-3,
                                                                decoupled=True, mu_product=0.7, step=3)),
            ("radam rectified", O.radam_step, ["m", "v"], dict(lr=1e-3, beta1=0.9, beta2=0.9, eps=1e-8,
                                                                weight_decay=0.01, decoupled=False, step=10)),
            ("radam unrectified", O.radam_step, ["m", "v"], dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                                                                  weight_decay=0.01, decoupled=True, step=2)),
            ("adadelta", O.adadelta_step, ["square_avg", "acc_delta"], dict(lr=1.0, rho=0.9, eps=1e-6,
                                                                             weight_decay=0.01)),
            ("rprop", O.rprop_step, ["prev", "step_size"], dict(etaminus=0.5, etaplus=1.2, step_size_min=0.3,
                                                                 step_size_max=1.5)),
            ("asgd averaging", O.asgd_step, ["ax"], dict(eta=0.01, lambd=1e-4, mu=0.25, weight_decay=0.01)),
            ("asgd copy", O.asgd_step, ["ax"], dict(eta=0.01, lambd=1e-4, mu=1.0, weight_decay=0.0)),
        ]
        for name, fn, bufs, kw in cases:
            with checking("optim", f"{name} {np.dtype(dtype).name}"):
                p = RNG.standard_normal(shapes).astype(dtype)
                g = RNG.standard_normal(shapes).astype(dtype)
                hb = [None if b is None else np.abs(RNG.standard_normal(shapes)).astype(dtype) for b in bufs]
                if name == "rprop":  # the last gradient with both signs, a zero and a NaN: every branch
                    hb[0] = RNG.standard_normal(shapes).astype(dtype)
                    hb[0][0, 0, :2] = (0.0, np.nan)
                if "amsgrad" in name:  # a NaN gradient and a NaN running max both stick, as in torch.maximum
                    g[0, 0, 0] = hb[2][0, 0, 1] = np.nan
                db = [None if b is None else dev(b) for b in hb]
                dp = dev(p)
                fn(p, g, *hb, **kw)
                fn(dp, dev(g), *db, **kw)
                tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else {}
                same(dp, p, f"{name}: param", **tol)
                for i, (h, d) in enumerate(zip(hb, db)):
                    if h is not None:
                        same(d, h, f"{name}: buffer {i}", **tol)
    with checking("optim", "LBFGS on the device: the CPU's iterates, its history on the device"):
        A, y, x0 = RNG.standard_normal((9, 4)), RNG.standard_normal(9), RNG.standard_normal(4)
        runs = []
        for device in ("cpu", "cuda"):
            x = nc.Tensor(x0.copy(), requires_grad=True)
            if device == "cuda":
                x = x.cuda().detach().requires_grad_()
            At, yt = nc.Tensor(A).to(device), nc.Tensor(y).to(device)
            opt = nc.optim.LBFGS([x], history_size=3, max_iter=6, line_search_fn="strong_wolfe")

            def closure(opt=opt, x=x, At=At, yt=yt):
                opt.zero_grad()
                loss = ((At @ x - yt) ** 2).sum()
                loss.backward()
                return loss

            losses = [float(opt.step(closure)) for _ in range(2)]
            runs.append((losses, x.numpy(), opt))
        assert np.allclose(runs[0][0], runs[1][0], rtol=1e-12), (runs[0][0], runs[1][0])
        assert np.allclose(runs[0][1], runs[1][1], rtol=1e-10, atol=1e-12)
        opt = runs[1][2]
        state = opt.state[opt.param_groups[0]["params"][0]]
        assert state["d"].device == "cuda" and all(v.device == "cuda" for v in state["old_dirs"])
    with checking("optim", "state buffers live on the parameter's device"):
        z = O.zeros_like(dev(np.ones((2, 3), np.float32)))
        assert is_device(z) and z.dtype == np.float32 and not z.copy_to_host().any()


def tiny_cnn():
    nc.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(32, 3)).double()


def train_steps(device, make_opt, steps=3, model=None):
    model = (model or tiny_cnn()).to(device)
    opt = make_opt(model.parameters())
    rng = np.random.default_rng(1)
    losses = []
    for _ in range(steps):
        x = nc.Tensor(rng.standard_normal((4, 1, 8, 8))).to(device)
        y = nc.Tensor(rng.integers(0, 3, 4)).to(device)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, model, opt


def training_cases():
    opts = {
        "SGD momentum": lambda ps: nc.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
        "Adam": lambda ps: nc.optim.Adam(ps, lr=1e-2),
        "Adam maximize": lambda ps: nc.optim.Adam(ps, lr=1e-2, weight_decay=0.1, maximize=True),
    }
    for name, make in opts.items():
        with checking("training", f"3 steps of a tiny CNN with {name}: the CPU's losses"):
            want, cpu_model, _ = train_steps("cpu", make)
            got, model, opt = train_steps("cuda", make)
            assert np.allclose(got, want, rtol=1e-12, atol=1e-12), f"losses {got} on CUDA, {want} on the CPU"
            for p in model.parameters():
                assert p.device == "cuda" and p.grad.device == "cuda", "a parameter or gradient left the device"
            for s in opt.state.items():
                for k, v in s[1].items():
                    assert not hasattr(v, "shape") or is_device(v), f"optimizer state {k} is not on the device"
            sd, want_sd = model.state_dict(), cpu_model.state_dict()
            for k in want_sd:
                assert np.allclose(sd[k], want_sd[k], rtol=1e-9, atol=1e-9), f"{k} differs after training"
    with checking("training", "module hooks on the device: a forward hook's output and a backward hook's grad_input"):
        def hooked_model(seen):
            model = tiny_cnn()
            model[1].register_forward_hook(lambda m, args, out: out * 0.5)
            model[1].register_full_backward_hook(lambda m, gi, go: (gi[0] * 3 + go[0],))
            model[0].register_full_backward_hook(lambda m, gi, go: seen.append(go[0].numpy()))
            return model
        seen = {"cpu": [], "cuda": []}
        want, cpu_model, _ = train_steps("cpu", opts["SGD momentum"], 2, hooked_model(seen["cpu"]))
        got, model, _ = train_steps("cuda", opts["SGD momentum"], 2, hooked_model(seen["cuda"]))
        assert np.allclose(got, want, rtol=1e-12, atol=1e-12), f"losses {got} on CUDA, {want} on the CPU"
        assert len(seen["cuda"]) == len(seen["cpu"]) == 2
        for a, b in zip(seen["cuda"], seen["cpu"]):
            assert np.allclose(a, b, rtol=1e-12, atol=1e-14), "the conv's grad_output differs"
        for k, v in cpu_model.state_dict().items():
            assert np.allclose(model.state_dict()[k], v, rtol=1e-9, atol=1e-9), f"{k} differs after training"
    with checking("training", "clip_grad_norm_ on the device: the CPU's norm and scaled gradients, nothing moved"):
        from numconv.nn import utils

        rng = np.random.default_rng(5)
        grads = [rng.standard_normal(s) * 3 for s in ((3, 4), (5,), (2, 2, 2))]
        for norm_type in (2.0, "inf", 1.5):
            results = {}
            for device in ("cpu", "cuda"):
                ps = [nn.Parameter(g.copy()).to(device) for g in grads]
                for p_, g in zip(ps, grads):
                    p_.grad = nc.Tensor(g.copy()).to(device)
                total = utils.clip_grad_norm_(ps, 1.0, norm_type)
                assert total.device == device and all(p_.grad.device == device for p_ in ps)
                results[device] = (float(total.cpu().numpy()), [p_.grad.cpu().numpy() for p_ in ps])
            assert np.isclose(results["cuda"][0], results["cpu"][0], rtol=1e-12), f"{norm_type}: total norm differs"
            for a, b in zip(results["cuda"][1], results["cpu"][1]):
                assert np.allclose(a, b, rtol=1e-12, atol=1e-15), f"{norm_type}: a clipped gradient differs"
    with checking("training", "batch_norm forward and backward on the device, running stats updated there"):
        def bn_model():
            nc.manual_seed(0)
            return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                                 nn.Linear(72, 3)).double()
        make = opts["SGD momentum"]
        want, cpu_model, _ = train_steps("cpu", make, 2, bn_model())
        got, model, _ = train_steps("cuda", make, 2, bn_model())
        assert np.allclose(got, want, rtol=1e-12, atol=1e-12), f"losses {got} on CUDA, {want} on the CPU"
        bn = model[1]
        assert bn.running_mean.device == "cuda" and bn.running_var.device == "cuda"
        for k, v in cpu_model.state_dict().items():
            assert np.allclose(model.state_dict()[k], v, rtol=1e-9, atol=1e-9), f"{k} differs after training"
    with checking("training", "batch_norm of an empty batch on the device: empty output, running stats kept"):
        x, w, b = np.zeros((0, 3, 4)), RNG.standard_normal(3), RNG.standard_normal(3)
        both(lambda a, w, b: F.batch_norm(a, None, None, w, b, training=True), x, w, b)
        bn = nn.BatchNorm1d(3).double().to("cuda")
        y = bn(nc.Tensor(dev(np.zeros((0, 3, 5)))))
        assert y.shape == (0, 3, 5) and is_device(y.data), f"{y.shape} {type(y.data).__name__}"
        assert bn.running_mean.device == "cuda" and int(bn.num_batches_tracked.item()) == 1
        assert np.array_equal(bn.running_mean.numpy(), np.zeros(3)) and np.array_equal(bn.running_var.numpy(), np.ones(3))
    with checking("training", "the same gradients bit for bit on a second run"):
        grads = []
        for _ in range(2):
            model = tiny_cnn().to("cuda")
            x = nc.Tensor(np.random.default_rng(3).standard_normal((4, 1, 8, 8))).cuda()
            y = nc.Tensor(np.array([0, 2, 1, 2])).cuda()
            F.cross_entropy(model(x), y).backward()
            grads.append([bits(p.grad.data) for p in model.parameters()])
        assert grads[0] == grads[1], "gradients differ between two identical runs"
    with checking("training", "train._check accepts --device cuda where CUDA is available"):
        from numconv import train

        train._check(train.Config(device="cuda"))


def both(fn, *arrays):
    """``fn(*tensors)`` on CPU tensors and on device tensors (float inputs require grad), then backward of
    the sum of the output times a fixed random array: outputs and gradients of the two equal."""
    results = []
    for device in ("cpu", "cuda"):
        ts = [nc.Tensor(a if device == "cpu" else dev(a), requires_grad=a.dtype.kind == "f") for a in arrays]
        leaves = [t for t in ts if t.requires_grad]
        y = fn(*ts)
        w = np.random.default_rng(11).standard_normal(y.shape).astype(y.dtype)
        (y * nc.Tensor(w).to(device)).sum().backward()
        results.append((y, [t.grad for t in leaves]))
    (y_cpu, g_cpu), (y_dev, g_dev) = results
    same(y_dev.data, y_cpu.numpy(), "forward")
    for i, (gd, gc) in enumerate(zip(g_dev, g_cpu)):
        assert gd.device == "cuda", f"gradient {i} left the device"
        same(gd.data, gc.numpy(), f"gradient {i}")


def autograd_cases():
    """Tensor-level ops on device tensors with backward, against the same on the CPU."""
    r = lambda *s: RNG.standard_normal(s)  # noqa: E731
    for dtype in (np.float64, np.float32):
        tag = np.dtype(dtype).name
        a, b, c = r(2, 3, 5).astype(dtype), r(2, 1, 5).astype(dtype), r(3, 4).astype(dtype)
        with checking("autograd", f"pow, abs and std where their formulas meet 0 * inf {tag}"):
            base, expo = np.array([0., 0., 0., 2., -1.], dtype), np.array([0., -1., 2., 0., 2.], dtype)
            both(lambda x, y: x ** y, base, expo)
            both(lambda y: 0.0 ** y, np.array([1., 0., -1.], dtype))
            both(lambda x: x ** 2.0, base)
            both(lambda x: x.abs(), np.array([np.nan, -2., 0., 3.], dtype))
            both(lambda x: x.std(1), np.array([[1., 1., 1.], [1., 2., 3.]], dtype))
            p = np.array([0., 1., -0.5, 2.5, np.nan, 0.05, 0.3, 0.95], dtype)  # logit's ends, outside, NaN
            both(lambda q: q.logit() + q.logit(0.1), p)
        with checking("autograd", f"cat and stack {tag}"):
            both(lambda x, y: nc.cat([x, y, x], dim=1) * 2.0, a, b)
            both(lambda x, y: nc.stack([x, y * 3.0], dim=-1), a[:, :1], b)
        with checking("autograd", f"indexing with repeats, slices, None, masks {tag}"):
            idx = np.array([2, 0, 2, -1])
            both(lambda x: x[:, idx, 1:4], a)
            both(lambda x: x[None, 1, ::-2, idx[:2]], a)
            both(lambda x, i: x[i, :, i], a, np.array([1, 1, 0]))  # an int64 index tensor: moved with the rest
            both(lambda x, m: x[m], a, a > 0)  # a boolean mask tensor on the device
        with checking("autograd", f"flip, repeat, index_select, unbind, expand_as {tag}"):
            both(lambda x: x.flip(0, 2), a)
            both(lambda x: x.repeat(2, 1, 3), a)
            both(lambda x: x.index_select(2, nc.tensor([3, 0, 3])) * 2.0, a)
            both(lambda x: x.unbind(1)[1] * 3.0, a)
            both(lambda x, y: y.expand_as(x) * x, a, b)
        with checking("autograd", f"functional composites (logsigmoid, shrinks, glu, softmin, normalize, "
                                  f"cosine_similarity, pairwise_distance, one_hot) {tag}"):
            both(lambda x: F.logsigmoid(x * 30.0) + F.softsign(x) + F.tanhshrink(x), a)
            both(lambda x: F.hardshrink(x, 0.3) + F.softshrink(x, 0.3) + F.threshold(x, 0.1, -2.0), a)
            both(lambda x: F.glu(x, dim=1) * F.softmin(x, dim=2)[:, :1], a[:, :2])
            both(lambda x, y: F.normalize(x, dim=2) + F.cosine_similarity(x, y, dim=2)[..., None], a, b)
            both(lambda x, y: F.pairwise_distance(x, y, p=3.0), a, b)
            labels = nc.tensor([[1, 0], [3, 2]])
            same(F.one_hot(labels.to("cuda")).data, F.one_hot(labels).numpy(), "one_hot")
        with checking("autograd", f"sort, topk, cumsum, cumprod, prod, maximum, remainder, var {tag}"):
            z = a.copy()
            z.reshape(-1)[[1, 6, 7, 13]] = 0.0  # zeros for the products' gradients
            z.reshape(-1)[[2, 3, 9]] = z.reshape(-1)[4]  # ties for the sorts and maximum
            both(lambda x: x.sort(1)[0] * 2.0 + x.sort(2, descending=True).values[:, :, :1], z)
            both(lambda x: x.topk(2, dim=2)[0] + x.topk(1, dim=0, largest=False)[0][..., :2], z)
            both(lambda x: x.cumsum(1) + x.cumprod(2) + x.cumsum(-1).cumprod(0), z)
            both(lambda x: x.prod(1, keepdim=True) * x.prod(0) + x.prod(), z)
            both(lambda x, y: x.maximum(y) - x.minimum(y * 0.5) + x.max(x.flip(2)), z, b)
            both(lambda x, y: x % y + (x * 3.0) % 0.7 + (x // y) * 1.0, z, b + 1.5)
            both(lambda x: x.var(1) + x.std(False) + x.var(1, keepdim=True, correction=0.5)[:, 0], z)
            both(lambda x: x.var(2, correction=5), z)  # n - correction = 0: inf, and PyTorch's inf gradient
            same(nc.Tensor(dev(z)).argsort(1, descending=True).data, nc.Tensor(z).argsort(1, descending=True).numpy(),
                 "argsort")
            same(nc.where(nc.Tensor(dev(z)) > 0)[1].data, nc.where(nc.Tensor(z) > 0)[1].numpy(), "where(condition)")
        with checking("autograd", f"batched matmul (bmm, broadcast, vector) {tag}"):
            both(lambda x, y: x @ y, r(2, 3, 4).astype(dtype), r(2, 4, 3).astype(dtype))
            both(lambda x, y: x @ y, r(3, 1, 2, 4).astype(dtype), r(2, 4, 3).astype(dtype))
            both(lambda x, y: x @ y, r(4).astype(dtype), c.T.copy())
            both(lambda x, y: x @ y, a[:, :2], r(5).astype(dtype))
    with checking("autograd", "setitem on a device tensor with device index tensors"):
        h = r(3, 5)
        d = nc.Tensor(h).to("cuda")
        i = nc.Tensor(np.array([0, 2, 0])).to("cuda")
        d[i, 1:3] = nc.Tensor(r(3, 2)).to("cuda")[0]
        h[np.array([0, 2, 0]), 1:3] = d.numpy()[0, 1:3]
        same(d.data, h, "setitem")
    with checking("autograd", "cross_entropy on the device: in-range targets as the CPU, out-of-range a ValueError"):
        logits = r(3, 4)
        for target in (np.array([0, 3, 1]), np.array([0, -100, 3]), np.array([-100, -100, -100])):
            xs = [nc.Tensor(logits, requires_grad=True), nc.Tensor(logits).cuda().requires_grad_()]
            want = F.cross_entropy(xs[0], nc.Tensor(target))
            got = F.cross_entropy(xs[1], nc.Tensor(target).cuda())
            same(got.data, want.numpy(), "loss")  # NaN where every target is ignored, as PyTorch
            want.backward()
            got.backward()
            same(xs[1].grad.data, xs[0].grad.numpy(), "logits' gradient")  # and 0 there
        for target in (np.array([0, 5, 1]), np.array([-1, 2, -100])):
            messages = []
            for device in ("cpu", "cuda"):
                try:
                    F.cross_entropy(nc.Tensor(logits).to(device), nc.Tensor(target).to(device))
                except ValueError as e:
                    messages.append(str(e))
                else:
                    raise AssertionError(f"targets {target} on {device}: no ValueError")
            assert messages[0] == messages[1], f"the device message differs: {messages}"
            try:
                F.nll_loss(nc.Tensor(logits).cuda(), nc.Tensor(target).cuda())
            except ValueError as e:
                assert str(e) == messages[0], str(e)
            else:
                raise AssertionError("nll_loss: no ValueError")
    with checking("autograd", "a training step with dropout reads back only the target check and the loss"):
        cls = type(cuda.to_device(np.zeros(1)))
        real = cls.copy_to_host
        sizes = []

        def counting(self, *args, **kwargs):
            sizes.append(int(self.size))
            return real(self, *args, **kwargs)

        nc.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Dropout(0.5), nn.Flatten(),
                              nn.Linear(32, 3)).double().to("cuda")
        opt = nc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x = nc.Tensor(RNG.standard_normal((2, 1, 4, 4))).cuda()
        y = nc.Tensor(np.array([2, 0])).cuda()
        cls.copy_to_host = counting
        try:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step = list(sizes)
            loss.item()
        finally:
            cls.copy_to_host = real
        assert step == [2], f"a step copied arrays of sizes {step} to the host (expected only the targets' min and max)"
        assert sizes == [2, 1], f"loss.item() copied {sizes[1:]}"


def shape_method_cases():
    """More of PyTorch's Tensor methods (tests/test_tensor_shape_methods.py) on device tensors with backward,
    against the same on the CPU; device index tensors; the range checks before any kernel runs."""
    r = lambda *s: RNG.standard_normal(s)  # noqa: E731
    a, b = r(3, 4), r(2, 3, 4)
    uniq = np.array([[0, 3], [2, 1]])
    with checking("shape methods", "roll, movedim, swapaxes, narrow, select, unflatten, tile, rot90, flips"):
        both(lambda x: x.roll(1) + x.roll((1, -5), (0, 1)) * 2.0, a)
        both(lambda x: x.movedim((0, 1), (2, 0)) + x.swapaxes(0, 2).swapdims(1, 0), r(2, 2, 2))
        both(lambda x: x.narrow(1, -3, 2) * x.select(1, 0)[:, None] + x.unflatten(1, (2, -1))[:, 1], a)
        both(lambda x: x.tile((2, 1, 2)), a)
        both(lambda x: x.rot90() + x.rot90(-1, (1, 0)) * 2.0 + x.fliplr().T + x.flipud().T, r(3, 3))
    with checking("shape methods", "a write through diagonal() reaches the matrix, as on the CPU"):
        for device in ("cpu", "cuda"):
            m = nc.Tensor(np.arange(12.0).reshape(3, 4)).to(device)
            m.diagonal().add_(100.0)
            m.diagonal(1).fill_(-1.0)
            got = m.to("cpu").numpy() if device == "cuda" else None
        want = np.arange(12.0).reshape(3, 4)
        want[[0, 1, 2], [0, 1, 2]] += 100.0
        want[[0, 1, 2], [1, 2, 3]] = -1.0
        assert np.array_equal(got, want), f"device matrix after writes through diagonal(): {got}"
    with checking("shape methods", "repeat_interleave, masked_select, take, unfold"):
        both(lambda x, k: x.repeat_interleave(k, 0) + x.repeat_interleave(2, 1)[:1, ::2], a, np.array([1, 0, 3]))
        both(lambda x, m: x.masked_select(m) * 2.0, a, a > 0)
        both(lambda x, m: x.masked_select(m), a, a[0] > 0)
        both(lambda x, i: x.take(i), a, np.array([[0, -1, 5], [11, 5, -12]]))
        both(lambda x: x.unfold(1, 2, 1).sum(-1) + x.unfold(0, 2, 2)[0][:, :1], a[:, :3])
    for dtype in (np.float64, np.float32):
        x32, s32 = a.astype(dtype), r(3, 4).astype(dtype)
        tag = np.dtype(dtype).name
        with checking("shape methods", f"scatter, scatter_add, index_add, index_copy, index_fill {tag}"):
            both(lambda x, s, i: x.scatter(1, i, s) + x.scatter(1, i, 2.5), x32, s32[:2, :2], uniq)
            both(lambda x, s, i: x.scatter_add(0, i, s), x32, s32[:2], np.array([[2, 0, 2, 1], [2, 2, 0, 0]]))
            both(lambda x, s, i: x.index_add(1, i, s, alpha=2), x32, s32[:, :3], np.array([0, 3, 0]))
            both(lambda x, s, i: x.index_copy(1, i, s) + x.index_fill(0, i[:1], -1.0), x32, s32[:, :2], uniq[0])
    with checking("shape methods", "in place: scatter_, scatter_add_, index_add_ on a non-leaf"):
        both(lambda x, s, i, k, t: (x * 1.0).scatter_(1, i, s).scatter_add_(1, i, s * 2.0).index_add_(0, k, t),
             a, r(2, 2), uniq, np.array([2, 0]), r(2, 4))
    with checking("shape methods", "tril, triu, diagonal, diag, trace, diff"):
        both(lambda x: x.tril(-1) + x.triu(1) * 2.0, b)
        both(lambda x: x.diagonal(1) + x.diagonal(-1, 2, 0).sum(0), b)
        both(lambda x, v: x.diag(1).sum() + v.diag(-1)[1:, :4] + x.trace(), a, r(4))
        both(lambda x, p: x.diff() * 2.0 + x.diff(2, 0, prepend=p)[:, :3].sum(0), a, r(1, 4))
    with checking("shape methods", "dot, mv, outer, addmm"):
        v = r(4)
        both(lambda x, w: x.dot(w), v, r(4))
        both(lambda m, w: m.mv(w), a, v)
        both(lambda w, u: w.outer(u), v, r(3))
        both(lambda c, m1, m2: c.addmm(m1, m2, beta=0.5, alpha=2.0), r(4), r(3, 2), r(2, 4))
    with checking("shape methods", "integer and bool results: count_nonzero, int tensors, new_tensor, type"):
        z = np.where(a > 0.3, a, 0.0)
        d = nc.Tensor(dev(z))
        same(d.count_nonzero(0).data, nc.Tensor(z).count_nonzero(0).numpy(), "count_nonzero")
        ints = np.arange(12).reshape(3, 4)
        di, hi = nc.Tensor(dev(ints)), nc.Tensor(ints)
        for fn in (lambda t: t.roll(2, 1), lambda t: t.tril(), lambda t: t.diagonal(), lambda t: t.diff(dim=0),
                   lambda t: t.repeat_interleave(2, 0), lambda t: t.scatter(1, nc.Tensor(dev(uniq)) if t.is_cuda
                                                                           else nc.Tensor(uniq), 7)):
            same(fn(di).data, fn(hi).numpy(), "int64")
        same((d > 0).diff().data, (nc.Tensor(z) > 0).diff().numpy(), "bool diff")
        n = d.new_tensor([1.5, 2.0])
        assert n.is_cuda and n.dtype == np.float64, (n.device, n.dtype)
        assert d.type() == "torch.cuda.DoubleTensor", d.type()
        assert d.byte().is_cuda
    with checking("shape methods", "out-of-range device indices: the same errors as on the CPU, before a kernel"):
        for call in (lambda t, i: t.take(i), lambda t, i: t.index_add(1, i, t[:, :2]),
                     lambda t, i: t.scatter(1, i.reshape(1, 2), t)):
            messages = []
            for device in ("cpu", "cuda"):
                try:
                    call(nc.Tensor(a).to(device), nc.Tensor(np.array([1, 40])).to(device))
                except IndexError as e:
                    messages.append(str(e))
            assert len(messages) == 2 and messages[0] == messages[1], messages
        try:
            nc.Tensor(dev(a)).take(nc.Tensor(np.array([1])))
        except ValueError as e:
            assert "index is on cpu" in str(e), str(e)
        else:
            raise AssertionError("a host index for a device tensor: no ValueError")


def random_cases():
    """Device draws: reproducible from numconv's seed, in range, about the right moments; dropout masks."""
    like = dev(np.zeros(1))
    with checking("random", "uniform / standard_normal / integers on the device: seeded, dtypes, ranges"):
        for dtype in (np.float32, np.float64):
            nc.manual_seed(3)
            u = M.uniform(nc.random.generator(), (701,), dtype, like=like)
            n = M.standard_normal(nc.random.generator(), (3, 233), dtype, like=like)
            nc.manual_seed(3)
            u2 = M.uniform(nc.random.generator(), (701,), dtype, like=like)
            n2 = M.standard_normal(nc.random.generator(), (3, 233), dtype, like=like)
            assert is_device(u) and u.dtype == dtype and n.dtype == dtype and n.shape == (3, 233)
            assert bits(u) == bits(u2) and bits(n) == bits(n2), "the same seed gave different draws"
            hu, hn = u.copy_to_host(), n.copy_to_host()
            assert hu.min() >= 0 and hu.max() < 1 and abs(hu.mean() - 0.5) < 0.05, hu.mean()
            assert np.isfinite(hn).all() and abs(hn.mean()) < 0.15 and abs(hn.std() - 1) < 0.1, (hn.mean(), hn.std())
            assert bits(u) != bits(M.uniform(nc.random.generator(), (701,), dtype, like=like)), "a draw repeated"
        i = M.integers(nc.random.generator(), -3, 4, (500,), np.int32, like=like).copy_to_host()
        counts = np.bincount(i - i.min())
        assert i.dtype == np.int32 and i.min() == -3 and i.max() == 3 and counts.min() > 40, counts
    with checking("random", "dropout on the device: reproducible, about p dropped, the rest scaled"):
        h = np.abs(RNG.standard_normal((10, 60))) + 0.5
        x = nc.Tensor(h).cuda()
        nc.manual_seed(9)
        y = F.dropout(x, 0.3)
        nc.manual_seed(9)
        y2 = F.dropout(x, 0.3)
        assert y.device == "cuda" and bits(y.data) == bits(y2.data), "the same seed gave another mask"
        hy = y.numpy()
        dropped = hy == 0
        assert abs(dropped.mean() - 0.3) < 0.075, dropped.mean()  # 4 standard deviations
        assert np.allclose(hy[~dropped], h[~dropped] / 0.7, rtol=1e-12)
        assert bits(F.dropout(x, 0.3).data) != bits(y.data), "the next draw gave the same mask"
    with checking("random", "rrelu on the device: a slope per element from [lower, upper), the gradient that slope"):
        h = RNG.standard_normal((8, 40))
        x = nc.Tensor(h, requires_grad=True)
        y = F.rrelu(x.cuda(), 0.1, 0.4, training=True)
        y.sum().backward()
        assert y.device == "cuda"
        g, low = x.grad.numpy(), h <= 0
        assert ((g[low] >= 0.1) & (g[low] < 0.4)).all() and (g[~low] == 1).all() and g[low].std() > 0.05
        assert np.allclose(y.numpy(), h * g, rtol=1e-12)
    with checking("random", "dropout2d on the device zeroes whole channels; backward through the mask"):
        h = np.abs(RNG.standard_normal((6, 8, 2, 3))) + 0.5
        x = nc.Tensor(h, requires_grad=True)
        xd = x.cuda()
        nc.manual_seed(1)
        y = F.dropout2d(xd, 0.5)
        y.sum().backward()
        hy = y.numpy().reshape(48, 6)
        kept = (hy != 0).all(1)
        assert ((hy == 0).all(1) | kept).all(), "a channel was partly dropped"
        assert 10 < kept.sum() < 38, kept.sum()
        g = x.grad.numpy().reshape(48, 6)
        assert np.array_equal(g, np.where(kept[:, None], np.full((48, 6), 2.0), 0.0)), "the gradient is not the mask"

    with checking("random", "numconv.transforms on the device: the CPU's images for the same seed, a device Tensor back"):
        from numconv import transforms as T

        h = RNG.standard_normal((5, 2, 7, 6))
        steps = [T.RandomCrop((6, 5), padding=2, padding_mode="reflect"), T.RandomHorizontalFlip(),
                 T.RandomVerticalFlip(0.5), T.RandomAffine(40, translate=(0.2, 0.1), scale=(0.8, 1.2), shear=(5, 10),
                                                           interpolation="bilinear", fill=0.5),
                 T.RandomRotation(90, fill=-1.0), T.RandomResizedCrop((4, 7)), T.RandomErasing(p=0.9, value=(1.0, 2.0)),
                 T.Normalize((0.5, -0.5), (2.0, 3.0)), T.CenterCrop(5)]
        for t in steps:
            nc.manual_seed(4)
            want = t(nc.Tensor(h))
            nc.manual_seed(4)
            got = t(nc.Tensor(h).cuda())
            assert got.device == "cuda", f"{t!r} gave a {got.device} tensor"
            same(got.data, want.numpy(), repr(t))


def reduction_method_cases():
    """Tensor.norm, logsumexp, nansum, nanmean, nan_to_num, the value tests, equal/isclose/allclose,
    aminmax, median/nanmedian/kthvalue/mode, unique, var_mean/std_mean and cummax/cummin on device
    tensors, values, indices and gradients against the CPU's."""
    inf, nan = np.inf, np.nan
    for dtype in (np.float64, np.float32):
        tag = np.dtype(dtype).name
        a = RNG.standard_normal((3, 5)).astype(dtype)
        a[1] = 0.0  # norm 0
        a[2, 1] = a[2, 3] = 2.5  # ties
        e = a.copy()
        e[0, 1], e[0, 3], e[1, 2], e[2, 0], e[2, 4] = nan, inf, -inf, nan, inf
        with checking("reduction methods", f"norm over every p {tag}"):
            for p in (2, 1, 0, inf, -inf, 3, 0.5, 1.5, -1, "fro") if dtype == np.float64 else (2, inf, 0.5):
                both(lambda x, p=p: x.norm(p, 1) + x.norm(p), a)
            for p in (2, 1, inf, 3) if dtype == np.float64 else ():
                both(lambda x, p=p: x.norm(p, 0, keepdim=True), e)
        with checking("reduction methods", f"logsumexp, nansum, nanmean, nan_to_num with NaN and inf {tag}"):
            lse = a.copy()
            lse[0] = -inf
            lse[1, 1], lse[2, 2] = inf, nan
            both(lambda x: x.logsumexp(1), lse)
            both(lambda x: x.logsumexp((0, 1), keepdim=True), a * 50)
            both(lambda x: x.nansum(1) + x.nansum(), e)
            both(lambda x: x.nanmean(0), e)
            both(lambda x: x.nan_to_num() * 1.0 + x.nan_to_num(1.0, 2.0, -3.0), e)
        with checking("reduction methods", f"aminmax, median, nanmedian, kthvalue, mode {tag}"):
            both(lambda x: x.aminmax().min + x.aminmax(dim=1).max.sum() * 2.0, a)
            m = a.copy()
            m[0, 2] = nan
            for fn in (lambda x: x.median(1), lambda x: x.nanmedian(0, keepdim=True), lambda x: x.kthvalue(2, 1),
                       lambda x: x.kthvalue(3, 0), lambda x: x.mode(1), lambda x: x.median(-1)):
                both(lambda x, fn=fn: fn(x).values * 1.0, m)
                same(fn(nc.Tensor(dev(m))).indices.data, fn(nc.Tensor(m)).indices.numpy(), "indices")
            both(lambda x: x.median() + x.nanmedian() * 2.0, m)
            both(lambda x: x[1:].median() * 1.0, m)  # shared among ties
            # lines of one element
            both(lambda x: x.mode(1).values + x.cummax(1).values[:, 0] + x.kthvalue(1, 1).values, m[:, :1])
        if dtype == np.float32:  # the rest run once, in float64
            continue
        with checking("reduction methods", "isnan, isinf, isfinite, isposinf, isneginf, signbit"):
            s = np.array([nan, inf, -inf, 0.0, -0.0, 1.5, -2.0], dtype)
            for h in (s, np.array([-3, 0, 4]), np.array([True, False])):
                for name in ("isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit"):
                    same(getattr(nc.Tensor(dev(h)), name)().data, getattr(nc.Tensor(h), name)().numpy(), name)
        with checking("reduction methods", "equal, isclose, allclose"):
            b = e + np.array([0.0, 1e-9, 1e-3, 0.0, 1.0], dtype)
            x, y, xd, yd = nc.Tensor(e), nc.Tensor(b), nc.Tensor(dev(e)), nc.Tensor(dev(b))
            for kw in ({"equal_nan": True}, {"rtol": 1e-2, "atol": 0.0}, {"rtol": 0.0, "atol": 0.0}):
                same(xd.isclose(yd, **kw).data, x.isclose(y, **kw).numpy(), f"isclose {kw}")
                assert xd.allclose(yd, **kw) == x.allclose(y, **kw), f"allclose {kw}"
                assert xd.allclose(xd, **kw) == x.allclose(x, **kw), f"allclose self {kw}"
            assert xd.equal(nc.Tensor(dev(a)) * 1.0) is False and nc.Tensor(dev(a)).equal(nc.Tensor(dev(a.copy())))
        with checking("reduction methods", "unique, var_mean, std_mean, cummax, cummin"):
            u = np.array([[3.0, 1.0, nan, 3.0], [1.0, -inf, 2.0, 1.0]], dtype)
            for h in (u, np.array([4, 1, 4, 0, 1]), np.array([True, False, True])):
                got = nc.Tensor(dev(h)).unique(return_inverse=True, return_counts=True)
                want = nc.Tensor(h).unique(return_inverse=True, return_counts=True)
                for g, w, name in zip(got, want, ("values", "inverse", "counts")):
                    same(g.data, w.numpy(), f"unique {name}")
            both(lambda x: x.var_mean(1)[0] + x.var_mean(1)[1] + x.std_mean(0, correction=0)[0].sum(), a)
            c = RNG.integers(-2, 3, (3, 7)).astype(dtype)
            c[1, 2] = c[1, 5] = nan
            for name in ("cummax", "cummin"):
                for dim in (0, 1):
                    both(lambda x, name=name, dim=dim: getattr(x, name)(dim).values * 1.0, c)
                    same(getattr(nc.Tensor(dev(c)), name)(dim).indices.data,
                         getattr(nc.Tensor(c), name)(dim).indices.numpy(), f"{name} indices")


def edge_cases_found_by_review():
    """Device results that once differed from the CPU's: an overlapping copy, the mean of nothing,
    softmax of integers and over an empty axis, gather with out-of-range device indices."""
    with checking("edges", "copy_ between overlapping views reads the source first"):
        for dev_ in ("cpu", "cuda"):
            t = nc.Tensor(np.arange(8.0)).to(dev_)
            t[1:].copy_(t[:-1])
            assert t.numpy().tolist() == [0, 0, 1, 2, 3, 4, 5, 6], (dev_, t.numpy())
    with checking("edges", "mean over an empty axis is NaN"):
        d = nc.Tensor(np.zeros((2, 0, 3))).to("cuda")
        assert np.isnan(d.mean().item()) and np.isnan(d.mean(1).numpy()).all() and d.mean(1).shape == (2, 3)
    with checking("edges", "softmax and log_softmax of an integer tensor are float, as on the CPU"):
        a = np.array([[1, 2, 3], [0, 0, 0]])
        for fn in (lambda t: t.softmax(1), lambda t: t.log_softmax(1)):
            got, want = fn(nc.Tensor(a).to("cuda")), fn(nc.Tensor(a))
            assert got.dtype == want.dtype == np.float32
            same(got.data, want.numpy(), "softmax of integers")
    with checking("edges", "softmax over an empty axis is empty"):
        for fn in (lambda t: t.softmax(1), lambda t: t.log_softmax(1)):
            assert fn(nc.Tensor(np.zeros((2, 0, 3))).to("cuda")).shape == (2, 0, 3)
    with checking("edges", "gather with out-of-range device indices raises"):
        src = nc.Tensor(np.arange(8.0).reshape(2, 4)).to("cuda")
        for bad in ([[0, 4], [1, 0]], [[0, -1], [1, 0]]):
            try:
                src.gather(1, nc.Tensor(np.array(bad)).to("cuda"))
            except ValueError as e:
                assert "index values must be in [0, 4)" in str(e), str(e)
            else:
                raise AssertionError(f"gather with indices {bad} did not raise")


def edge_cases_found_by_review_2():
    """clamp with device tensor bounds, a gradient seed on the other device, mixed devices named, and
    recorded assignments (y[i] = v, zero_, copy_) and selecting backward passes (clamp, max())."""
    with checking("edges", "assignment into a non-leaf, recorded, and clamp/max() gradients that select"):
        def assigned(x, v):
            y = x * 1.5
            y[1] = v[0]
            y[:, 2] = 0.0
            y[np.array([0, 2])] = v  # an index array
            z = y.clone()
            z.zero_()
            z.copy_(v[:1] * 2)  # broadcast over the rows
            return y + z + (x.clamp(min=0).sqrt() * 0 + x.clamp(max=0.5)).sum(0) + x.max()

        both(assigned, RNG.standard_normal((3, 4)), RNG.standard_normal((2, 4)))
    with checking("edges", "clamp with tensor bounds on the device"):
        h = np.array([-1.0, 0.5, 4.0])
        lo, hi = nc.Tensor(np.array([0.0, 0.0, 0.0])), nc.Tensor(np.array([1.0, 1.0, 3.0]))
        got = nc.Tensor(h).to("cuda").clamp(lo.to("cuda"), hi.to("cuda"))
        assert got.numpy().tolist() == nc.Tensor(h).clamp(lo, hi).numpy().tolist() == [0.0, 0.5, 3.0]
    with checking("edges", "backward with a gradient on the other device raises, naming both"):
        x = nc.Tensor(np.ones(3), requires_grad=True).to("cuda")
        try:
            (x * 2).backward(nc.Tensor(np.ones(3)))
        except ValueError as e:
            assert "tensor on cuda, grad on cpu" in str(e), str(e)
        else:
            raise AssertionError("a host gradient for a device tensor did not raise")
    with checking("edges", "linear, cross_entropy and nll_loss name the arguments on different devices"):
        x = nc.Tensor(RNG.standard_normal((2, 3))).to("cuda")
        calls = [(lambda: F.linear(x, nc.Tensor(RNG.standard_normal((4, 3)))), "input on cuda, weight on cpu"),
                 (lambda: F.cross_entropy(x, nc.Tensor(np.array([0, 1]))), "input on cuda, target on cpu"),
                 (lambda: F.nll_loss(x, nc.Tensor(np.array([0, 1])).to("cuda"), weight=nc.Tensor(np.ones(3))),
                  "weight on cpu")]
        for call, words in calls:
            try:
                call()
            except ValueError as e:
                assert words in str(e), str(e)
            else:
                raise AssertionError(f"no error for {words}")

    with checking("edges", "min as its own reduction, PyTorch's layout of x[0, :, [1, 2]], argmax keepdim, cat promotion"):
        def picked(x, v):
            y = x * 1.0
            y[0, :, [1, 2]] = v  # v in PyTorch's layout (3, 2)
            return y[1, :, [0, 3]] + y.min(2).values[:, :2].T.sum() + y.amin((0, 2)).sum() + x.min()

        both(picked, RNG.standard_normal((2, 3, 4)), RNG.standard_normal((3, 2)))
        u = np.array([[0, 5, 3], [7, 1, 9]], np.uint8)
        got = nc.Tensor(u).to("cuda")
        assert int(got.min().item()) == 0 and got.min(1).values.numpy().tolist() == [0, 1]
        assert got.argmax(keepdim=True).shape == (1, 1) and int(got.argmax(keepdim=True).item()) == 5
        mixed = nc.cat([nc.Tensor(np.array([1, 2])).to("cuda"), nc.Tensor(np.array([0.5], np.float32)).to("cuda")])
        assert mixed.dtype == np.float32 and mixed.numpy().tolist() == [1.0, 2.0, 0.5]
        h, v = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((3, 2))
        on_host, on_dev = nc.Tensor(h.copy()), nc.Tensor(h).to("cuda")
        on_host[0, :, np.array([2, 0])] = v
        on_dev[0, :, nc.Tensor(np.array([2, 0])).to("cuda")] = nc.Tensor(v).to("cuda")  # a device index array
        same(on_dev.data, on_host.numpy(), "assignment through a device index apart from an integer")
        base, expo = np.array([0, 1, -1, 2, -2, 5, -1]), np.array([-1, -3, -3, -1, -2, 2, -2])
        got = (nc.Tensor(base).to("cuda") ** nc.Tensor(expo).to("cuda")).numpy()
        assert got.tolist() == [0, 1, -1, 0, 0, 25, 1], got


def layer_math_cases():
    """The activations, the regression and binary losses and interpolate, forward and backward on device
    tensors against the same on the CPU."""
    r = lambda *s: RNG.standard_normal(s)  # noqa: E731
    for dtype in (np.float64, np.float32):
        tag = np.dtype(dtype).name
        x = (r(2, 3, 4) * 3).astype(dtype)
        x.reshape(-1)[:3] = [0.0, -0.5, 0.75]  # the kinks
        with checking("layer math", f"activations {tag}"):
            for fn in (lambda a: F.leaky_relu(a, 0.2), lambda a: F.elu(a, 1.3), F.gelu,
                       lambda a: F.gelu(a, approximate="tanh"), F.silu, lambda a: F.hardtanh(a, -0.5, 0.75),
                       F.relu6, lambda a: F.softplus(a, 2.0, 3.0)):
                both(fn, x)
            both(F.prelu, x, RNG.uniform(size=3).astype(dtype))
        with checking("layer math", f"regression losses {tag}"):
            y = r(2, 3, 4).astype(dtype)
            for fn in (F.l1_loss, lambda a, b: F.smooth_l1_loss(a, b, reduction="sum", beta=0.5),
                       lambda a, b: F.huber_loss(a, b, reduction="none", delta=0.7)):
                both(fn, x, y)
        with checking("layer math", f"binary cross-entropy, weights on the device {tag}"):
            p, t = RNG.uniform(size=(2, 3, 4)).astype(dtype), RNG.uniform(size=(2, 3, 4)).astype(dtype)
            w, pw = RNG.uniform(0.5, 2, size=4).astype(dtype), RNG.uniform(0.5, 2, size=4).astype(dtype)
            both(lambda a, b: F.binary_cross_entropy(a, b, nc.Tensor(w).to(a.device)), p, t)
            both(lambda a, b: F.binary_cross_entropy_with_logits(a, b, nc.Tensor(w).to(a.device),
                                                                  pos_weight=nc.Tensor(pw).to(a.device)), x, t)
        with checking("layer math", f"interpolate in every mode {tag}"):
            both(lambda a: F.interpolate(a, scale_factor=1.7), x)
            both(lambda a: F.interpolate(a, size=7, mode="nearest-exact"), x)
            both(lambda a: F.interpolate(a, size=6, mode="linear", align_corners=True), x)
            img = r(1, 2, 3, 5).astype(dtype)
            both(lambda a: F.interpolate(a, scale_factor=(1.5, 0.8), mode="bilinear"), img)
            both(lambda a: F.interpolate(a, size=(4, 7), mode="bicubic", align_corners=False), img)
            both(lambda a: F.interpolate(a, scale_factor=2, mode="trilinear"), r(1, 1, 2, 3, 2).astype(dtype))
            both(lambda a: F.interpolate(a, size=3, mode="area"), x)
        with checking("layer math", f"layer, group and RMS norm, pixel shuffles, lp_pool, kl_div {tag}"):
            w, b = r(3, 4).astype(dtype), r(3, 4).astype(dtype)
            both(lambda a, w, b: F.layer_norm(a, (3, 4), w, b), x, w, b)
            img = r(2, 6, 3, 2).astype(dtype)
            both(lambda a, w, b: F.group_norm(a, 3, w, b), img, r(6).astype(dtype), r(6).astype(dtype))
            both(lambda a, w: F.rms_norm(a, (4,), w), x, r(4).astype(dtype))
            both(lambda a: F.pixel_unshuffle(F.pixel_shuffle(a, 2), 1) * 1.5, r(1, 8, 2, 3).astype(dtype))
            both(lambda a: F.pixel_unshuffle(a, 2), r(2, 4, 4).astype(dtype))
            both(lambda a: F.lp_pool2d(a, 2, 2, ceil_mode=True), r(1, 2, 3, 5).astype(dtype))
            both(lambda a, t: F.kl_div(F.log_softmax(a, 1), F.softmax(t, 1), reduction="batchmean"), x, y)
        with checking("layer math", f"multilabel_margin_loss, triplet_margin_with_distance_loss {tag}"):
            labels = np.array([[2, 0, -1, 3], [1, 1, 3, 2], [-1, 0, 0, 0]], np.int64)
            both(lambda a, t: F.multilabel_margin_loss(a, t, reduction="none"), r(3, 4).astype(dtype) * 2, labels)
            both(lambda a, p, n: F.triplet_margin_with_distance_loss(a, p, n, swap=True, reduction="none"),
                 *(r(3, 4).astype(dtype) for _ in range(3)))
        with checking("layer math", f"where, split and chunk {tag}"):
            both(lambda a, b: nc.where(a > 0.1, a, b * 2), x, r(3, 4).astype(dtype))
            both(lambda a: nc.where(a < 0, 0.5, a), x)
            both(lambda a: nc.cat([p * (i + 1) for i, p in enumerate(a.split([1, 2, 1], 2))], 2), x)
            both(lambda a: a.chunk(2, 0)[1] - a.chunk(3, 1)[0].sum(1, keepdim=True), x)
        with checking("layer math", f"embedding: padding_idx, scale_grad_by_freq, max_norm {tag}"):
            index = np.array([[1, 3, 3], [0, 4, 1]], np.int64)
            table = r(5, 3).astype(dtype)
            both(lambda t, i: F.embedding(i, t, padding_idx=1, scale_grad_by_freq=True), table, index)
            both(lambda t, i: F.embedding(i, t, max_norm=1.0), table * 3, index)
        with checking("layer math", f"ctc_loss: ragged lengths, a repeated label, zero_infinity {tag}"):
            targets = np.array([[1, 1, 2], [3, 2, 0], [2, 3, 1]], np.int64)  # sample 2 cannot fit 3 labels in 2 steps
            logits = r(5, 3, 4).astype(dtype)
            both(lambda z, tg: F.ctc_loss(z.log_softmax(2), tg, [5, 4, 2], [3, 2, 3], reduction="none",
                                          zero_infinity=True), logits, targets)
            both(lambda z, tg: F.ctc_loss(z.log_softmax(2), tg, [5, 4, 5], [3, 2, 3], blank=0), logits, targets)
            both(lambda z, tg: F.ctc_loss(z.log_softmax(2), tg, [5, 4, 2], [3, 2, 3], reduction="none"),
                 logits, targets)  # sample 2's loss inf, its gradient NaN over its 2 steps
    with checking("layer math", "a device argument beside a host one is named"):
        d = nc.Tensor(r(2, 3)).to("cuda")
        try:
            F.binary_cross_entropy_with_logits(d, nc.Tensor(RNG.uniform(size=(2, 3))))
        except ValueError as e:
            assert "input on cuda, target on cpu" in str(e), str(e)
        else:
            raise AssertionError("a host target beside a device input did not raise")


def module_cases():
    with checking("module", "Module.to('cuda') and back: same Parameter objects, same values"):
        model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))
        before = {k: v.copy() for k, v in model.state_dict().items()}
        params = list(model.parameters())
        assert model.to("cuda") is model
        assert [id(p) for p in model.parameters()] == [id(p) for p in params]
        assert all(p.device == "cuda" for p in model.parameters())
        assert model[1].running_var.device == "cuda"
        assert model.cpu() is model and all(p.device == "cpu" for p in model.parameters())
        model.cuda()
        model.load_state_dict(before)  # host arrays copied into the device parameters
        assert all(p.device == "cuda" for p in model.parameters())
        model.to("cpu")
        for k, v in model.state_dict().items():
            assert np.array_equal(v, before[k]) and v.dtype == before[k].dtype, k
    with checking("module", "a 0-d tensor keeps its shape on the device and back"):
        for value in (np.array(2.5), np.float32(-1.5)):
            d = nc.Tensor(value).to("cuda")
            assert d.shape == () and tuple(d.data.shape) == () and d.cpu().shape == (), d.shape
            assert d.item() == float(value)
    with checking("module", "Tensor.to / cuda / cpu, with the gradient moving back"):
        h = nc.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        d = h.to("cuda")
        assert d.device == "cuda" and d.is_cuda and h.to("cpu") is h and d.cuda() is d
        (d * d).sum().backward()
        assert h.grad.device == "cpu" and np.array_equal(h.grad.numpy(), 2 * np.arange(6.0).reshape(2, 3))
        back = d.cpu()
        assert back.device == "cpu" and np.array_equal(back.numpy(), h.numpy())
        assert d.to("cuda", np.float32).dtype == np.float32 and d.to("cuda", np.float32).is_cuda
        try:
            h.to("cuda:1")
        except ValueError:
            pass
        else:
            raise AssertionError("to('cuda:1') did not raise ValueError")


def inplace_cases():
    """In-place edits through slices, transposes and reshapes, and augmented assignment with autograd: on the
    device as on the CPU (a strided slice on the device is a copy that carries its changes back)."""
    from _edits import edit_through_views

    base = RNG.standard_normal((3, 4, 5))
    with checking("inplace", "edits through views reach the tensor"):
        results = []
        for device in ("cpu", "cuda"):
            t = nc.Tensor(base.copy()).to(device)
            with nc.no_grad():
                seen = edit_through_views(t, lambda a, device=device: nc.Tensor(np.asarray(a)).to(device),
                                          np.random.default_rng(5))
            assert t.device == device
            results.append((t.numpy(), seen))
        (got, got_seen), (want, want_seen) = results
        assert not np.allclose(want, base), "the edits changed nothing"
        np.testing.assert_array_equal(got, want)
        for g, w in zip(got_seen, want_seen):
            np.testing.assert_array_equal(g, w)
    with checking("inplace", "a contiguous slice is a view; a strided one a copy"):
        t = nc.Tensor(dev(base))
        assert M.may_share(t[1].data, t.data) and not M.may_share(t[:, 1].data, t.data)

    def augmented(x, w):
        y = x * 1.5
        alias = y
        alias += w
        alias *= w
        return y

    with checking("inplace", "augmented assignment with autograd"):
        both(augmented, base[0], base[1])

    with checking("inplace", "edits through views with autograd"):  # each recorded on the tensor viewed
        weights = RNG.standard_normal(base.shape)
        results = []
        for device in ("cpu", "cuda"):
            x, leaves = nc.Tensor(base.copy(), requires_grad=True).to(device), []
            x.retain_grad()

            def new(a, device=device, leaves=leaves):
                leaves.append(nc.Tensor(np.asarray(a), requires_grad=True).to(device))
                leaves[-1].retain_grad()
                return leaves[-1]

            t = x * 1.0
            seen = edit_through_views(t, new, np.random.default_rng(5))
            (t * nc.Tensor(weights).to(device)).sum().backward()
            assert x.grad.device == device
            results.append([t.detach().numpy(), *seen, x.grad.numpy(), *(leaf.grad.numpy() for leaf in leaves)])
        for i, (want, got) in enumerate(zip(*results)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=f"item {i}")

    def diagonal_and_transpose(x, w):
        y = x * 1.0
        y.diagonal().mul_(w[0])
        y.t()[1:, 0] += w[1, :2]
        return y

    with checking("inplace", "diagonal and transpose changed in place with autograd"):
        both(diagonal_and_transpose, base[0, :3, :3], base[1, :3, :3])

    def transpose_then_base_changed(x):  # the device copy standing for the transpose takes the new values
        y = x * 1.0
        v, s = y.t(), y[:, ::2]
        y.mul_(2.0)
        return v[::2] * s.t()

    with checking("inplace", "a strided view follows its base's recorded change, values and graph"):
        both(transpose_then_base_changed, base[0, :2, :4])


def double_backward_cases():
    """create_graph on device tensors: a gradient penalty through a small critic (convolution, leaky
    ReLU, max pooling, batch norm, linear, GELU) and its parameters' gradients, against the CPU's."""
    arrays = [RNG.standard_normal(s) for s in ((2, 2, 6, 6), (3, 2, 3, 3), (3,), (3,), (2, 12))]

    def penalty(device):
        ts = [nc.Tensor(a if device == "cpu" else dev(a), requires_grad=True) for a in arrays]
        x, w, b, gamma, fc = ts
        h = F.max_pool2d(F.leaky_relu(F.conv2d(x, w, b, padding=1), 0.2), 3)
        h = F.batch_norm(h, None, None, gamma, None, training=True)
        score = F.gelu(F.linear(h.flatten(1), fc)).sum()
        (gx,) = nc.autograd.grad(score, [x], create_graph=True)
        loss = ((gx.flatten(1).norm(dim=1) - 1) ** 2).mean()
        loss.backward()
        return loss, [t.grad for t in ts]

    with checking("double_backward", "gradient penalty through conv, pool, batch norm, linear"):
        (l_cpu, g_cpu), (l_dev, g_dev) = penalty("cpu"), penalty("cuda")
        same(l_dev.data, l_cpu.numpy(), "penalty", rtol=1e-10)
        for i, (gd, gc) in enumerate(zip(g_dev, g_cpu)):
            same(gd.data, gc.numpy(), f"gradient {i}", rtol=1e-9, atol=1e-11)


def composite_cases():
    """numconv/composite.py's functions (compositions of Tensor ops) on device tensors with backward,
    against the same on the CPU; the factories' ``device='cuda'`` (tests/test_composite.py)."""
    r = lambda *s: RNG.standard_normal(s)  # noqa: E731
    with checking("composite", "einsum: matmul, batched, diagonal, three operands, ellipsis, size-1 broadcast"):
        both(lambda a, b: nc.einsum("bij,bkj->bik", a, b), r(2, 3, 4), r(2, 5, 4))
        both(lambda a: nc.einsum("iij->j", a) + nc.einsum("ii", a[:, :, 0]), r(3, 3, 2))
        both(lambda a, b, c: nc.einsum("ijk,jl,kl->il", a, b, c), r(2, 3, 4), r(3, 5), r(4, 5))
        both(lambda a, b: nc.einsum("...ij,...jk->...ik", a, b), r(2, 1, 3, 4), r(5, 4, 2))
        both(lambda a, b: nc.einsum("ij,kj->ik", a, b), r(2, 1), r(4, 3))
    with checking("composite", "tensordot, cdist (differences and matmul), meshgrid"):
        both(lambda a, b: nc.tensordot(a, b, ([1, 0], [0, 1])), r(3, 4, 5), r(4, 3, 2))
        x1, x2 = r(30, 3), r(4, 3)
        x2[0] = x1[1]  # a zero distance: value and gradient 0 on both devices
        for p in (0.0, 1.0, 1.5, 2.0, np.inf):
            both(lambda a, b, p=p: nc.cdist(a, b, p), x1[:6], x2)
        both(lambda a, b: nc.cdist(a, b), x1, r(4, 3))  # more than 25 rows: the matmul form (whose rounding
        # near a zero distance differs between the devices' matmuls, as between torch's and NumPy's)
        both(lambda a, b: nc.meshgrid(a, b, indexing="xy")[0] * nc.meshgrid(a, b)[1].T, r(3), r(4))
    with checking("composite", "take_along_dim (device indices), tensor_split, stacks, broadcast_tensors"):
        both(lambda a, i: nc.take_along_dim(a, i, 1) + a.take_along_dim(i[:, :1], -1), r(3, 4),
             RNG.integers(0, 4, (3, 2)))
        both(lambda a: nc.cat([p * float(k + 1) for k, p in enumerate(a.tensor_split([1, 3], 1))], 1), r(2, 5))
        both(lambda a, b: nc.hstack([a, b]) + nc.vstack([a, b]).reshape(2, 6) + nc.dstack([a, b]).reshape(2, 6),
             r(2, 3), r(2, 3))
        both(lambda a, b: nc.broadcast_tensors(a, b)[0] * nc.atleast_3d(b)[..., 0], r(3, 1), r(2))
    with checking("composite", "the factories' device='cuda' and the *_like/new_* factories' devices"):
        on = lambda t, want: t.device == want or (_ for _ in ()).throw(  # noqa: E731
            AssertionError(f"{want} factory gave a tensor on {t.device}"))
        for name, make in (("zeros", lambda **k: nc.zeros(2, 3, **k)), ("full", lambda **k: nc.full((3,), 2.5, **k)),
                           ("eye", lambda **k: nc.eye(3, 4, **k)), ("arange", lambda **k: nc.arange(7, **k)),
                           ("linspace", lambda **k: nc.linspace(-1, 1, 5, **k)),
                           ("tensor", lambda **k: nc.tensor([[1, 2], [3, 4]], **k)),
                           ("as_tensor", lambda **k: nc.as_tensor(np.arange(3.0), **k))):
            got, want = make(device="cuda"), make()
            on(got, "cuda")
            same(got.data, want.numpy(), name)
        for make in (lambda **k: nc.rand(3, 5, **k), lambda **k: nc.randn(4, **k),
                     lambda **k: nc.randint(0, 3, (9,), **k), lambda **k: nc.randperm(5, **k)):
            on(make(device="cuda"), "cuda")
        x = nc.randn(3, requires_grad=True, device="cuda")
        on(x, "cuda")
        (x * 2.0).sum().backward()
        on(x.grad, "cuda")
        d = nc.ones(2).cuda()
        for t in (nc.zeros_like(d), nc.rand_like(d), d.new_zeros(3), d.new_tensor([1.0]), nc.tensor(d)):
            on(t, "cuda")
        for t in (nc.zeros_like(d, device="cpu"), d.new_ones(2, device="cpu"), nc.tensor(d, device="cpu")):
            on(t, "cpu")
        on(nc.ones_like(nc.ones(2), device="cuda"), "cuda")
        copy = nc.tensor(d)
        copy.data[0] = 5.0
        assert float(d[0].item()) == 1.0, "tensor() of a device tensor shares its memory"


GROUPS = [math_cases, elementwise_function_cases, unsupported_cases, autograd_cases, shape_method_cases,
          reduction_method_cases, edge_cases_found_by_review, edge_cases_found_by_review_2, layer_math_cases,
          inplace_cases, random_cases, optim_cases, module_cases, training_cases, double_backward_cases, composite_cases]


def main(argv) -> int:
    out_json = argv[argv.index("--json") + 1] if "--json" in argv else None
    import _ptx_check  # tests/_ptx_check.py: record kernel launches for test_cuda_ptx.py (simulator only)

    _ptx_check.start(argv)
    nc.cuda.require()  # the caching memory pool, as users get it, before the first array
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        import _simulator
        import numconv.kernels.cuda as kernels_cuda
        from numconv.kernels.cuda import linalg, reduce

        if not _simulator.faster_block_loop():
            print("note: the simulator's block loop is not the one _simulator.py knows: left as it is", file=sys.stderr)

        kernels_cuda.BLOCK = 32  # fewer idle Python threads per block, more block edges
        linalg.TILE = 4
        reduce.RED_THREADS = 16  # several elements a thread, and a tree of four levels
    t0 = time.perf_counter()
    times = {}
    for group in GROUPS:
        t = time.perf_counter()
        group()
        times[group.__name__] = round(time.perf_counter() - t, 2)
        print(f"{group.__name__}: {times[group.__name__]:.1f} s", file=sys.stderr)
    failed = [r for r in RESULTS if not r["ok"]]
    print(f"{len(RESULTS) - len(failed)} passed, {len(failed)} failed ({time.perf_counter() - t0:.1f} s)",
          file=sys.stderr)
    _ptx_check.finish(argv)  # signatures.json beside --json (or --signatures PATH)
    if out_json:
        with open(out_json, "w") as f:
            json.dump({"results": RESULTS, "times": times}, f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
