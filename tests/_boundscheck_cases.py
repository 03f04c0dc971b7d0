"""Run every numconv kernel entry point on edge configurations with Numba's bounds checking on.

Not a test module (the leading underscore keeps pytest from collecting it): ``test_boundscheck.py``
runs it in a subprocess with ``NUMBA_BOUNDSCHECK=1`` and a fresh ``NUMBA_CACHE_DIR``, because the
flag must be set before Numba compiles anything and the on-disk cache (``cache=True``) does not
key on it. It can also be run by hand::

    NUMBA_BOUNDSCHECK=1 NUMBA_CACHE_DIR=$(mktemp -d) python tests/_boundscheck_cases.py

Exit status 0: bounds checking was proven active and every case ran without an exception.
Exit status 1: some case raised (each failure is printed to stderr with its traceback).
Exit status 2: bounds checking is not active, so nothing here would prove anything.
``--prove-only``: stop after proving bounds checking is active (exit 0) or not (exit 2).
Float64 (float32 where a kernel has a float32-only variant), tiny shapes: the cost is compiling every kernel once with bounds checks.
"""
from __future__ import annotations

import os
import sys
import time
import traceback

import numpy as np

FAILURES: list[str] = []
COUNT = 0
CASE_PREFIX = ""  # e.g. "[gemm] ": the convolution algorithm forced for the case


def prove_boundscheck_active() -> None:
    """An out-of-range index must raise, in a serial and in a parallel (prange) function."""
    from numba import njit, prange

    @njit
    def serial_get(a, i):
        return a[i]

    @njit(parallel=True)
    def parallel_sum(a, i):
        s = 0.0
        for t in prange(2):
            s += a[i + t]
        return s

    problems = []
    try:
        serial_get(np.zeros(3), 5)
        problems.append("serial @njit read a[5] of a 3-element array without an error")
    except IndexError:
        pass
    try:  # reads only: without bounds checks these probes must not corrupt memory
        parallel_sum(np.zeros(3), 5)
        problems.append("parallel @njit read a[5] of a 3-element array without an error")
    except (IndexError, SystemError):  # a prange body's IndexError surfaces as SystemError
        pass
    # A numconv kernel itself, compiled now (not loaded from an unchecked cache): an index past
    # the plane must raise. Same signature as the max_unpool backward uses, so nothing extra compiles.
    from numconv.kernels.cpu import pool

    try:
        pool.gather_plane(np.zeros((1, 1, 2)), np.zeros((1, 1, 3)), np.array([[[0, 7]]], np.int64))
        problems.append("numconv.kernels.cpu.pool.gather_plane read index 7 of a 3-element plane without an error")
    except (IndexError, SystemError):
        pass
    # The vector micro-kernels index raw pointers; their wrappers check every row they will read.
    from numconv.kernels.cpu import gemm

    off = np.array([0, 9], np.int64)  # the second row would end past S's 10 elements
    try:
        gemm.panels(np.zeros((1, 4)), 0, 4, np.zeros(2), 0, 2, 0, np.zeros(10), 0, off, 2, 1, 4, 0, np.zeros(1))
        problems.append("numconv.kernels.cpu.gemm.panels read past S without an error")
    except IndexError:
        pass
    try:
        gemm.dots(np.zeros((1, 2)), 0, 2, np.zeros(4), 0, 4, 1, np.zeros(10), 0, off, 2, 4)
        problems.append("numconv.kernels.cpu.gemm.dots read past S without an error")
    except IndexError:
        pass
    if problems:
        print("NUMBA_BOUNDSCHECK is not active: " + "; ".join(problems), file=sys.stderr)
        print(f"NUMBA_BOUNDSCHECK={os.environ.get('NUMBA_BOUNDSCHECK')!r}", file=sys.stderr)
        sys.exit(2)


RNG = np.random.default_rng(1234)


def rand(*shape):
    return RNG.standard_normal(shape)


def run(name, fn, *args, **kwargs):
    """Call ``fn``; record any exception, and check its outputs are finite NumPy arrays."""
    global COUNT
    COUNT += 1
    name = CASE_PREFIX + name
    try:
        out = fn(*args, **kwargs)
        outs = out if isinstance(out, tuple) else (out,)
        for o in outs:
            if o is not None and not isinstance(o, np.ndarray):
                raise AssertionError(f"returned {type(o).__name__}, not an ndarray")
            if o is not None and o.dtype.kind == "f" and not np.all(np.isfinite(o)):
                raise AssertionError("non-finite values in the output of finite inputs")
        return out
    except Exception:  # noqa: BLE001 - every exception is a failure here
        FAILURES.append(name)
        print(f"FAIL {name}\n{traceback.format_exc()}", file=sys.stderr)
        return None


def spatial(nd, n):
    """``nd`` spatial sizes: ``n`` repeated, a tuple as is, or a dict's entry for ``nd``."""
    if isinstance(n, dict):
        return tuple(n[nd])
    return (n,) * nd if isinstance(n, int) else tuple(n)


# Output planes larger than the implicit-GEMM tile (64 positions) and not a multiple of it, with
# channel counts that are not multiples of the 4x4 register block.
TILES = {1: (150,), 2: (11, 13), 3: (5, 6, 7)}
TILES_T = {1: (40,), 2: (5, 6), 3: (3, 4, 3)}  # transposed conv inputs whose outputs are that large


# ----------------------------------------------------------------------------- convolution

CONV_CASES = [
    # (label, C_in, C_out, sizes, kernel, kwargs)
    ("plain", 2, 3, 6, 3, {}),
    ("stride>kernel", 2, 3, 7, 2, dict(stride=3)),
    ("dilation+padding", 2, 2, 6, 3, dict(dilation=2, padding=2)),
    ("kernel==padded input", 1, 2, 3, 5, dict(padding=1)),
    ("kernel==input", 2, 2, 4, 4, {}),
    ("depthwise x2", 3, 6, 6, 3, dict(groups=3, padding=1, stride=2)),
    ("groups=2", 4, 6, 5, 2, dict(groups=2, dilation=2)),
    ("same stride2 even k", 2, 2, 7, 4, dict(padding="same", stride=2)),
    ("same dilated", 2, 2, 5, 3, dict(padding="same", dilation=3)),
    ("valid", 2, 2, 5, 3, dict(padding="valid")),
    ("per-side padding", 2, 2, 5, 3, dict(padding="lohi")),
    ("huge padding", 1, 1, 2, 2, dict(padding=4, stride=3)),
    ("reflect", 2, 3, 5, 3, dict(padding=2, padding_mode="reflect", stride=2)),
    ("replicate", 2, 3, 4, 3, dict(padding=3, padding_mode="replicate")),
    ("circular", 2, 3, 4, 3, dict(padding=4, padding_mode="circular", dilation=2)),
    ("reflect same", 2, 2, 5, 4, dict(padding="same", padding_mode="reflect")),
    ("tiles", 3, 5, TILES, 3, dict(padding=1)),
    ("tiles groups same", 6, 10, TILES, 2, dict(groups=2, stride=2, padding="same")),
]


def conv_kwargs(nd, kw):
    kw = dict(kw)
    if kw.get("padding") == "lohi":
        kw["padding"] = tuple(((0, 2), (2, 0), (1, 3))[:nd])
    return kw


def conv2d_cases():
    conv_cases(dims=(2,))


def conv_cases(dims=(1, 2, 3)):
    import numconv.functional as F

    for nd in dims:
        conv, conv_b = getattr(F, f"conv{nd}d"), getattr(F, f"conv{nd}d_backward")
        for label, ci, co, n, k, kw in CONV_CASES:
            if nd == 3 and label in ("groups=2", "same dilated", "valid"):
                continue  # keep the 3-d volume of work small; these index paths are the 1/2-d ones
            kw = conv_kwargs(nd, kw)
            groups = kw.get("groups", 1)
            x = rand(2, ci, *spatial(nd, n))
            w = rand(co, ci // groups, *spatial(nd, k))
            b = rand(co)
            name = f"conv{nd}d[{label}]"
            y = run(name, conv, x, w, b, **kw)
            if y is None:
                continue
            run(name + " backward", conv_b, rand(*y.shape), x, w, b, **kw)
            run(name + " backward no bias", conv_b, rand(*y.shape), x, w, None, **kw)
        # unbatched
        x = rand(2, *spatial(nd, 5))
        w = rand(3, 2, *spatial(nd, 2))
        y = run(f"conv{nd}d[unbatched]", conv, x, w, stride=2)
        if y is not None:
            run(f"conv{nd}d[unbatched] backward", conv_b, rand(*y.shape), x, w, stride=2)


TCONV_CASES = [
    # (label, C_in, C_out, sizes, kernel, kwargs)
    ("plain", 2, 3, 4, 3, {}),
    ("stride2 output_padding", 2, 3, 3, 3, dict(stride=2, output_padding=1)),
    ("stride>kernel", 2, 2, 3, 2, dict(stride=3, output_padding=2)),
    ("dilation output_padding", 2, 2, 3, 3, dict(dilation=2, output_padding=1)),
    ("padding crops", 2, 2, 3, 3, dict(stride=2, padding=2)),
    ("per-side padding", 2, 2, 4, 3, dict(padding="lohi", stride=2)),
    ("depthwise", 3, 6, 4, 3, dict(groups=3, stride=2, padding=1, output_padding=1)),
    ("groups=2 dilated", 4, 2, 3, 2, dict(groups=2, dilation=3)),
    ("kernel 1", 2, 2, 3, 1, dict(stride=2)),
    ("reflect", 2, 2, 4, 3, dict(padding=1, padding_mode="reflect", stride=2)),
    ("replicate", 2, 2, 3, 3, dict(padding=2, padding_mode="replicate")),
    ("circular", 2, 2, 3, 3, dict(padding=1, padding_mode="circular", stride=2, output_padding=1)),
    ("tiles", 5, 3, TILES_T, 3, dict(stride=2)),
    ("tiles groups", 6, 10, TILES_T, 2, dict(stride=2, groups=2, output_padding=1)),
]


def tconv_kwargs(nd, kw):
    kw = dict(kw)
    if kw.get("padding") == "lohi":
        kw["padding"] = tuple(((0, 1), (1, 0), (2, 1))[:nd])
    return kw


def conv_transpose_cases():
    import numconv.functional as F

    for nd in (1, 2, 3):
        tconv = getattr(F, f"conv_transpose{nd}d")
        tconv_b = getattr(F, f"conv_transpose{nd}d_backward")
        for label, ci, co, n, k, kw in TCONV_CASES:
            if nd == 3 and label in ("groups=2 dilated", "kernel 1", "per-side padding"):
                continue
            kw = tconv_kwargs(nd, kw)
            groups = kw.get("groups", 1)
            x = rand(2, ci, *spatial(nd, n))
            w = rand(ci, co // groups, *spatial(nd, k))
            b = rand(co)
            name = f"conv_transpose{nd}d[{label}]"
            y = run(name, tconv, x, w, b, **kw)
            if y is None:
                continue
            run(name + " backward", tconv_b, rand(*y.shape), x, w, b, **kw)
            run(name + " backward no bias", tconv_b, rand(*y.shape), x, w, None, **kw)
        x = rand(2, *spatial(nd, 3))
        w = rand(2, 3, *spatial(nd, 2))
        y = run(f"conv_transpose{nd}d[unbatched]", tconv, x, w, stride=2)
        if y is not None:
            run(f"conv_transpose{nd}d[unbatched] backward", tconv_b, rand(*y.shape), x, w, stride=2)


# ----------------------------------------------------------------------------- pooling

MAX_POOL_CASES = [
    # (label, sizes, kernel, kwargs)
    ("plain", 6, 2, {}),
    ("stride>kernel", 7, 2, dict(stride=3)),
    ("ceil_mode", 5, 2, dict(ceil_mode=True)),
    ("ceil_mode padding stride3", 6, 3, dict(stride=3, padding=1, ceil_mode=True)),
    ("dilation padding", 7, 3, dict(dilation=2, padding=2)),
    ("dilation ceil", 8, 2, dict(dilation=3, stride=2, ceil_mode=True, padding=1)),
    ("kernel==padded input", 3, 5, dict(padding=1)),
    ("kernel==input", 4, 4, {}),
    ("stride 1 overlap", 4, 3, dict(stride=1, padding=1)),
]


def pool_cases():
    import numconv.functional as F

    for nd in (1, 2, 3):
        mp, mp_b = getattr(F, f"max_pool{nd}d"), getattr(F, f"max_pool{nd}d_backward")
        ap, ap_b = getattr(F, f"avg_pool{nd}d"), getattr(F, f"avg_pool{nd}d_backward")
        for label, n, k, kw in MAX_POOL_CASES:
            x = rand(2, 2, *spatial(nd, n))
            name = f"max_pool{nd}d[{label}]"
            res = run(name, mp, x, k, return_indices=True, **kw)
            if res is not None:
                y, idx = res
                run(name + " backward", mp_b, rand(*y.shape), x, k, **kw)
                run(name + " backward indices", mp_b, rand(*y.shape), x, k, indices=idx, **kw)
            # the other forward kernels: values alone, and float32's keyed argmax
            run(name + " values only", mp, x, k, **kw)
            run(name + " float32", mp, x.astype(np.float32), k, return_indices=True, **kw)
            for cip in (True, False):
                for override in (None, 3):
                    akw = dict(kw, count_include_pad=cip, divisor_override=override)
                    aname = f"avg_pool{nd}d[{label} cip={cip} div={override}]"
                    y = run(aname, ap, x, k, **akw)
                    if y is not None:
                        run(aname + " backward", ap_b, rand(*y.shape), x, k, **akw)
        # unbatched
        x = rand(2, *spatial(nd, 5))
        res = run(f"max_pool{nd}d[unbatched]", mp, x, 2, return_indices=True, ceil_mode=True)
        if res is not None:
            run(f"max_pool{nd}d[unbatched] backward", mp_b, rand(*res[0].shape), x, 2, ceil_mode=True, indices=res[1])
        y = run(f"avg_pool{nd}d[unbatched]", ap, x, 2, ceil_mode=True)
        if y is not None:
            run(f"avg_pool{nd}d[unbatched] backward", ap_b, rand(*y.shape), x, 2, ceil_mode=True)


ADAPTIVE_CASES = [
    # (label, input sizes, output_size)
    ("divisible", 6, 3),
    ("not divisible", 7, 3),
    ("output larger than input", 3, 7),
    ("output 1", 5, 1),
    ("same size", 4, 4),
    ("mixed", (5, 2, 3), (2, 5, None)),
    ("empty output", (5, 4, 3), (2, 0, 3)),
]


def adaptive_cases():
    import numconv.functional as F

    for nd in (1, 2, 3):
        aa, aa_b = getattr(F, f"adaptive_avg_pool{nd}d"), getattr(F, f"adaptive_avg_pool{nd}d_backward")
        am, am_b = getattr(F, f"adaptive_max_pool{nd}d"), getattr(F, f"adaptive_max_pool{nd}d_backward")
        for label, n, out in ADAPTIVE_CASES:
            sizes = spatial(nd, n) if isinstance(n, int) else tuple(n[3 - nd:])
            osz = out if isinstance(out, int) else tuple(out[3 - nd:])
            x = rand(2, 2, *sizes)
            name = f"adaptive_avg_pool{nd}d[{label}]"
            y = run(name, aa, x, osz)
            if y is not None:
                run(name + " backward", aa_b, rand(*y.shape), x, osz)
            name = f"adaptive_max_pool{nd}d[{label}]"
            res = run(name, am, x, osz, return_indices=True)
            if res is not None:
                run(name + " backward", am_b, rand(*res[0].shape), x, osz)
                run(name + " backward indices", am_b, rand(*res[0].shape), x, osz, indices=res[1])
        x = rand(2, *spatial(nd, 3))
        y = run(f"adaptive_avg_pool{nd}d[unbatched]", aa, x, 5)
        if y is not None:
            run(f"adaptive_avg_pool{nd}d[unbatched] backward", aa_b, rand(*y.shape), x, 5)


UNPOOL_CASES = [
    # (label, sizes of the pooled input, kernel, pool kwargs); the unpool restores that input's size
    ("plain", 6, 2, {}),
    ("stride>kernel, output above default", 7, 2, dict(stride=3)),
    ("padding", 6, 3, dict(stride=2, padding=1)),
    ("ceil_mode, output below default", 5, 2, dict(ceil_mode=True)),
    ("overlapping windows", 5, 3, dict(stride=1)),
]


def unpool_cases():
    import numconv.functional as F

    for nd in (1, 2, 3):
        mp = getattr(F, f"max_pool{nd}d")
        up, up_b = getattr(F, f"max_unpool{nd}d"), getattr(F, f"max_unpool{nd}d_backward")
        for label, n, k, kw in UNPOOL_CASES:
            x = rand(2, 2, *spatial(nd, n))
            res = run(f"max_unpool{nd}d[{label}] pool", mp, x, k, return_indices=True, **kw)
            if res is None:
                continue
            y, idx = res
            ukw = dict(stride=kw.get("stride"), padding=kw.get("padding", 0), output_size=x.shape[2:])
            name = f"max_unpool{nd}d[{label}]"
            z = run(name, up, y, idx, k, **ukw)
            if z is not None:
                run(name + " backward", up_b, rand(*z.shape), y, idx, k, **ukw)
        # indices hitting the very first and very last element of the output plane
        y = rand(2, 2, *spatial(nd, 2))
        plane = 4**nd
        idx = np.zeros(y.shape, np.int64)
        idx.reshape(2, 2, -1)[:, :, 0] = plane - 1
        name = f"max_unpool{nd}d[extreme indices, int64]"
        z = run(name, up, y, idx, 2)
        if z is not None:
            run(name + " backward", up_b, rand(*z.shape), y, idx, 2)
        run(f"max_unpool{nd}d[int32 indices, unbatched]", up, y[0], idx[0].astype(np.int32), 2)

    fractional_cases()


def fractional_cases():
    """Fractional max pooling with windows at both ends of every dimension: out + k - 1 == n (windows
    one apart) and a single window (it ends at the input's end), samples near 0 and near 1."""
    import numconv.functional as F

    for nd, n, k, out in [(2, (6, 7), (3, 2), (4, 6)), (2, (5, 5), 2, 1), (3, (3, 4, 5), (2, 1, 3), (2, 4, 2)),
                          (2, (9, 8), 3, (5, 4))]:
        fwd, bwd = getattr(F, f"fractional_max_pool{nd}d"), getattr(F, f"fractional_max_pool{nd}d_backward")
        x = rand(2, 2, *spatial(nd, n))
        u = RNG.random((2, 2, nd))
        u[0, 0], u[1, 1] = 0.0, np.nextafter(1.0, 0.0)
        name = f"fractional_max_pool{nd}d[{n}, k={k} -> {out}]"
        res = run(name, fwd, x, k, out, return_indices=True, _random_samples=u)
        if res is not None:
            run(name + " backward", bwd, rand(*res[0].shape), x, k, out, indices=res[1])


# ----------------------------------------------------------------------------- unfold / fold / pad

UNFOLD_CASES = [
    # (label, (H, W), kernel, kwargs)
    ("plain", (5, 6), 2, {}),
    ("stride>kernel", (7, 8), 2, dict(stride=3)),
    ("dilation padding", (5, 5), 3, dict(dilation=2, padding=2)),
    ("kernel==padded input", (3, 2), (5, 4), dict(padding=1)),
    ("rectangular", (6, 4), (3, 1), dict(stride=(2, 1), dilation=(1, 3))),
]


def unfold_cases():
    import numconv.functional as F

    for label, hw, k, kw in UNFOLD_CASES:
        x = rand(2, 3, *hw)
        cols = run(f"unfold[{label}]", F.unfold, x, k, **kw)
        if cols is None:
            continue
        run(f"unfold[{label}] backward", F.unfold_backward, rand(*cols.shape), x, k, **kw)
        y = run(f"fold[{label}]", F.fold, cols, hw, k, **kw)
        if y is not None:
            run(f"fold[{label}] backward", F.fold_backward, rand(*y.shape), cols, hw, k, **kw)
    x = rand(3, 4, 4)
    cols = run("unfold[unbatched]", F.unfold, x, 3, padding=1, stride=2)
    if cols is not None:
        run("fold[unbatched]", F.fold, cols, (4, 4), 3, padding=1, stride=2)


def pad_cases():
    import numconv.functional as F

    shapes_by_npad = {1: [(2, 3, 5), (5,)], 2: [(2, 3, 4, 5), (3, 4)], 3: [(2, 2, 3, 4, 5), (3, 4, 5)]}
    for mode in ("constant", "reflect", "replicate", "circular"):
        for npad, shape_list in shapes_by_npad.items():
            for shape in shape_list:
                dims = shape[len(shape) - npad:]
                if mode == "reflect":
                    pads = [(n - 1, max(n - 2, 0)) for n in dims]  # the largest reflect pads
                elif mode == "circular":
                    pads = [(n, 1) for n in dims]  # circular may wrap a whole period
                elif mode == "replicate":
                    pads = [(n + 3, 0) for n in dims]
                else:
                    pads = [(2, -1) for _ in dims]  # negative constant padding crops
                flat = tuple(v for pair in reversed(pads) for v in pair)
                x = rand(*shape)
                name = f"pad[{mode} {shape} {flat}]"
                kw = dict(value=1.5) if mode == "constant" else {}
                y = run(name, F.pad, x, flat, mode=mode, **kw)
                if y is not None:
                    run(name + " backward", F.pad_backward, rand(*y.shape), x, flat, mode=mode)
    # pad fewer dimensions than the input has, and crop to a single element
    x = rand(2, 3, 4, 5)
    run("pad[constant crop to 1]", F.pad, x, (-2, -2, 0, -3))
    y = run("pad[replicate last only]", F.pad, x, (0, 3), mode="replicate")
    if y is not None:
        run("pad[replicate last only] backward", F.pad_backward, rand(*y.shape), x, (0, 3), mode="replicate")


def elementwise_cases():
    from numconv.ops import math as M

    for shape in ((7,), (3, 5, 2)):
        x = rand(*shape)
        y = run(f"relu{shape}", M.relu, x)
        if y is not None:
            run(f"relu{shape} backward", M.relu_backward, rand(*shape), y)
        for name, params in ACTIVATION_PARAMS.items():
            y = run(f"{name}{shape}", M.activation, name, x, *params)
            if y is not None:
                run(f"{name}{shape} backward", M.activation_backward, name, rand(*shape), x, *params)
        run(f"erf{shape}", M.erf, x)
        run(f"erfc{shape}", M.erfc, x)


def ctc_cases():
    """ctc_loss forward and backward: ragged lengths (0 among them), a repeated label, an empty target."""
    import numconv as nc
    import numconv.functional as F

    lp = np.log(np.random.default_rng(5).dirichlet(np.ones(4), (6, 3)))  # (T, N, C) log-probabilities
    targets = np.array([[1, 1, 2], [3, 0, 0], [2, 3, 1]])

    def forward_backward(x):
        t = nc.Tensor(x, requires_grad=True)
        F.ctc_loss(t, targets, [6, 0, 5], [3, 0, 3], reduction="sum", zero_infinity=True).backward()
        return t.grad.numpy()

    run("ctc_loss forward and backward", forward_backward, lp)


def grid_sample_cases():
    """grid_sample forward and backward in every mode and padding: points inside, on the edges, and
    far outside (reflected more than once), with a grid gradient."""
    import numconv as nc
    import numconv.functional as F

    x, grid = rand(2, 2, 3, 4), np.random.default_rng(6).uniform(-2.5, 2.5, (2, 3, 2, 2))
    grid[0, 0, 0] = [-1.0, 1.0]  # corners exactly
    grid[1, 2, 1] = [1.0, -1.0]
    for mode in ("bilinear", "nearest", "bicubic"):
        for padding in ("zeros", "border", "reflection"):
            for align in (False, True):
                def forward_backward(a, g, mode=mode, padding=padding, align=align):
                    t, u = nc.Tensor(a, requires_grad=True), nc.Tensor(g, requires_grad=True)
                    F.grid_sample(t, u, mode=mode, padding_mode=padding, align_corners=align).sum().backward()
                    return t.grad.numpy(), u.grad.numpy()

                run(f"grid_sample {mode} {padding} align_corners={align}", forward_backward, x, grid)
                if mode != "bicubic":  # a volume: trilinear or nearest
                    volume, grid3 = rand(1, 2, 2, 3, 3), np.random.default_rng(7).uniform(-2.5, 2.5, (1, 2, 2, 2, 3))
                    run(f"grid_sample volume {mode} {padding} align_corners={align}", forward_backward, volume, grid3)


ACTIVATION_PARAMS = {"leaky_relu": (0.2,), "elu": (1.3,), "gelu": (), "gelu_tanh": (), "silu": (),
                     "hardtanh": (-0.5, 0.75), "softplus": (2.0, 3.0), "hardswish": (), "hardsigmoid": (), "mish": (), "selu": (), "celu": (0.7,)}


def resample_cases():
    """interpolate's kernel: one, two and four taps, edge taps clamped, sizes down to one."""
    import numconv.functional as F

    for mode, shape, kw in [("nearest", (2, 3, 5), dict(size=1)), ("nearest-exact", (1, 2, 1, 4), dict(scale_factor=3)),
                            ("linear", (2, 2, 5), dict(size=9, align_corners=True)),
                            ("bilinear", (1, 2, 4, 1), dict(size=(1, 3))),
                            ("bicubic", (1, 1, 3, 5), dict(scale_factor=(2.5, 0.5))),
                            ("trilinear", (1, 1, 2, 3, 2), dict(scale_factor=2))]:
        x = rand(*shape)
        y = run(f"interpolate[{mode} {shape} {kw}]", F.interpolate, x, mode=mode, **kw)
        if y is not None:
            run(f"interpolate[{mode} {shape} {kw}] backward", F.interpolate_backward, rand(*y.shape), x, mode=mode, **kw)


def matmul_cases():
    """Linear's products: x @ W.T (``gemm.matmul_nt``) and x @ W, g.T @ x (``gemm.matmul_nn``), with
    row and column counts past one task's block and a shared index past one KB block."""
    from numconv.ops import math as M

    for m, k, n in ((1, 1, 1), (9, 3, 70), (70, 600, 5), (3, 0, 4), (66, 5, 260)):
        run(f"matmul{(m, k, n)} a @ b", M.matmul, rand(m, k), rand(k, n))
        run(f"matmul{(m, k, n)} a @ b.T", M.matmul, rand(m, k), rand(n, k).T)
        run(f"matmul{(m, k, n)} a.T @ b", M.matmul, rand(k, m).T, rand(k, n))


def norm_cases():
    from numconv import ops

    for shape in ((5, 3), (2, 3, 4, 5)):
        x = rand(*shape)
        C = shape[1]
        for training in (True, False):
            out = run(f"batch_norm{shape} training={training}", ops.batch_norm_forward, x, rand(C), rand(C),
                      rand(C), np.abs(rand(C)) + 0.5, training, 1e-5)
            if out is not None:
                _, mean, invstd = out
                run(f"batch_norm{shape} training={training} backward", lambda *a: ops.batch_norm_backward(*a)[0],
                    rand(*shape), x, mean, invstd, rand(C), training, True)
                if training:
                    running = (rand(C), np.abs(rand(C)) + 0.5)
                    run(f"batch_norm{shape} running statistics", lambda *a: ops.batch_norm_update_running(*a) or running,
                        *running, mean, invstd, x.size // C, 0.1, 1e-5)
    for kind, shape, count, P in (("layer", (5, 3), 3, 3), ("layer", (2, 3, 4, 5), 20, 20), ("layer", (70, 2), 2, 2),
                                  ("group", (4, 6, 3, 2), 3, 6), ("group", (70, 4), 2, 4), ("group", (2, 5, 7), 5, 5)):
        x = rand(*shape)  # 70 rows or samples: more than one part of them
        forward, backward = getattr(ops, f"{kind}_norm_forward"), getattr(ops, f"{kind}_norm_backward")
        out = run(f"{kind}_norm{shape} {count}", forward, x, count, rand(P), rand(P), 1e-5)
        if out is not None:
            _, mean, invstd = out
            for need_x in (True, False):
                run(f"{kind}_norm{shape} {count} backward need_x={need_x}", lambda *a, b=backward: b(*a)[1],
                    rand(*shape), x, count, mean, invstd, rand(P), need_x)


def uncalled_kernels() -> list[str]:
    """Every Numba dispatcher in numconv.kernels.cpu must have been compiled by the cases above."""
    import importlib
    import pkgutil

    from numba.core.registry import CPUDispatcher

    import numconv.kernels.cpu as cpu

    missing = []
    for info in pkgutil.iter_modules(cpu.__path__):
        mod = importlib.import_module(f"numconv.kernels.cpu.{info.name}")
        for attr, obj in vars(mod).items():
            if isinstance(obj, CPUDispatcher) and getattr(obj, "__module__", "") == mod.__name__:
                if not obj.signatures and not getattr(obj, "targetoptions", {}).get("inline") == "always":
                    missing.append(f"{mod.__name__}.{attr}")
    return missing


def conv_algorithms():
    """Every convolution algorithm ``dispatch`` can pick, forced in turn so each kernel runs
    on every configuration (``None``: the package has no algorithm switch)."""
    from numconv import dispatch

    if not hasattr(dispatch, "use_algorithm"):
        return [None]
    return list(dispatch.ALGORITHMS)


def with_algorithm(name, group):
    import contextlib

    from numconv import dispatch

    ctx = dispatch.use_algorithm(name) if name is not None else contextlib.nullcontext()

    def run_group():
        global CASE_PREFIX
        CASE_PREFIX = f"[{name}] " if name else ""
        try:
            with ctx:
                group()
        finally:
            CASE_PREFIX = ""

    run_group.__name__ = f"{group.__name__}({name})" if name else group.__name__
    return run_group


def with_lanes(group):
    """``group`` with the planes forward on blocks of images (``conv_planes.FORCE_LANES``) forced."""
    from numconv.kernels.cpu import conv_planes

    def run_group():
        conv_planes.FORCE_LANES = True
        try:
            group()
        finally:
            conv_planes.FORCE_LANES = None

    run_group.__name__ = f"{group.__name__}+lanes"
    return run_group


# Kernel modules that numconv.functional reaches: every kernel in them must have run.
FUNCTIONAL_KERNEL_MODULES = ("conv", "conv_gemm", "conv_planes", "conv_winograd", "elementwise", "gemm", "norm", "pad",
                             "pool", "unfold", "ctc", "grid_sample")


def main() -> int:
    prove_boundscheck_active()
    if "--prove-only" in sys.argv[1:]:
        return 0
    t0 = time.perf_counter()
    # Winograd takes 3x3 stride-1 2-d layers only (forced elsewhere, the usual choice runs, which
    # the other passes already cover): its pass runs the 2-d convolutions alone.
    groups = [with_algorithm(alg, g) for alg in conv_algorithms() if alg != "winograd"
              for g in (conv_cases, conv_transpose_cases)]
    if "winograd" in conv_algorithms():
        groups.append(with_algorithm("winograd", conv2d_cases))
    if "planes" in conv_algorithms():  # its stride-1 forward on blocks of images, forced at every shape
        groups += [with_lanes(with_algorithm("planes", g)) for g in (conv_cases, conv_transpose_cases)]
    groups += [pool_cases, adaptive_cases, unpool_cases, unfold_cases, pad_cases, resample_cases, elementwise_cases,
               matmul_cases, norm_cases, ctc_cases, grid_sample_cases]
    for group in groups:
        t = time.perf_counter()
        group()
        print(f"{group.__name__}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
    never = uncalled_kernels()
    missing = [k for k in never if k.split(".")[3] in FUNCTIONAL_KERNEL_MODULES]
    other = [k for k in never if k not in missing]
    if other:
        print(f"note: kernels outside numconv.functional, not run here: {other}", file=sys.stderr)
    if missing:
        FAILURES.append("kernels never run: " + ", ".join(missing))
        print(f"FAIL kernels never run by any case: {missing}", file=sys.stderr)
    print(f"{COUNT} calls, {len(FAILURES)} failed, {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if FAILURES:
        print("FAILED:\n  " + "\n  ".join(FAILURES), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
