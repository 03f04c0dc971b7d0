"""Every CUDA kernel, through ``numconv.functional`` with Numba device arrays, against the CPU kernels.

Not a test module (the leading underscore keeps pytest from collecting it): ``test_cuda_kernels.py``
runs it in a subprocess with ``NUMBA_ENABLE_CUDASIM=1``, because that flag must be set before
``numba.cuda`` is first imported and the rest of the suite must not run under the simulator.
It also runs by hand, on the simulator or (without the flag) on a real GPU::

    NUMBA_ENABLE_CUDASIM=1 python tests/_cuda_cases.py [--json results.json]
    python tests/_cuda_cases.py            # on a machine with an NVIDIA GPU and numba-cuda

Each case calls a functional op (forward, and its ``*_backward``) once with NumPy arrays, which
runs the CPU kernels, and once with the same values as ``numba.cuda.to_device`` arrays, which runs
the CUDA kernels through ``numconv.dispatch``; results must be device arrays of the same shape and
dtype, equal to the CPU ones within 1e-12 (float64) with NaN in the same places, integer outputs
(max-pool indices) exactly. Backward passes run twice and must agree bit for bit. Shapes are tiny:
the simulator runs one Python thread per GPU thread.

Exit status 0: every case passed and every CUDA kernel ran. 1: some case failed (each failure is
printed to stderr). 2: the dispatcher does not send device arrays to the CUDA kernels at all.
"""
from __future__ import annotations

import contextlib
import inspect
import json
import os
import sys
import time
import traceback

import numpy as np

# ``import numconv`` works from a checkout without installing it
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from numba import cuda  # noqa: E402

import numconv.functional as F  # noqa: E402
from numconv import dispatch  # noqa: E402
from numconv.tensor import Tensor  # noqa: E402

ATOL = 1e-12
RESULTS: list[dict] = []  # one entry per case: group, name, ok, error
CALLED: set[tuple[str, str]] = set()  # (family, kernel name) the dispatcher handed out on CUDA
RNG = np.random.default_rng(20240611)


# ----------------------------------------------------------------------------- plumbing


def rand(*shape):
    return RNG.standard_normal(shape)


def is_device(a) -> bool:
    """A Numba device array (or another CUDA array), not a host NumPy array."""
    return not isinstance(a, np.ndarray) and (
        bool(getattr(a, "__cuda_ndarray__", False)) or hasattr(a, "__cuda_array_interface__")
    )


def dev(a):
    return cuda.to_device(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a


def host(a):
    return a.copy_to_host() if is_device(a) else np.asarray(a)


def as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


def check_same(got, want, what):
    """``got`` (from the CUDA path) is a device array equal to the CPU result ``want``."""
    if want is None:
        assert got is None, f"{what}: expected None, got {type(got).__name__}"
        return
    assert is_device(got), f"{what}: the CUDA path returned {type(got).__name__}, not a device array"
    g = host(got)
    assert g.shape == want.shape, f"{what}: shape {g.shape}, CPU {want.shape}"
    assert g.dtype == want.dtype, f"{what}: dtype {g.dtype}, CPU {want.dtype}"
    if want.dtype.kind in "iu":
        bad = g != want
    else:
        # float64: the same sums in another order agree to ~1e-15; float32 to its own rounding
        finite = np.abs(want[np.isfinite(want)])
        atol = ATOL if want.dtype == np.float64 else 1e-5 * max(1.0, float(finite.max()) if finite.size else 1.0)
        nan_g, nan_w = np.isnan(g), np.isnan(want)
        same_inf = np.isinf(want) & (g == want)
        with np.errstate(invalid="ignore"):  # inf - inf where both are infinite
            bad = (nan_g != nan_w) | (~nan_w & ~same_inf & ~(np.abs(g - want) <= atol))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {bad.size} elements differ from the CPU result; "
            f"first at {where}: CUDA {g[where]!r}, CPU {want[where]!r}"
        )


def bits(a):
    a = host(a)
    return a.view(np.uint8).tobytes() if a.dtype.kind == "f" else a.tobytes()


@contextlib.contextmanager
def checking(group, name):
    """Record one case; an exception inside the block fails it (printed to stderr) and is swallowed."""
    entry = {"group": group, "name": name, "ok": True, "error": ""}
    RESULTS.append(entry)
    try:
        yield
    except Exception:  # noqa: BLE001 - every exception is a failure of this case
        entry["ok"], entry["error"] = False, traceback.format_exc()
        print(f"FAIL [{group}] {name}\n{entry['error']}", file=sys.stderr)


def case(group, name, fn, *args, backward=None, forward_only=None, **kwargs):
    """Run ``fn(*args, **kwargs, **forward_only)`` on CPU and CUDA and compare; then the same for
    ``backward(grad_output, *args, **kwargs)``, twice on CUDA with the results bit-identical.
    Returns the CPU outputs (a tuple) or None."""
    fkw = dict(kwargs, **(forward_only or {}))
    result = None
    with checking(group, name):
        want = as_tuple(fn(*args, **fkw))
        got = as_tuple(fn(*[dev(a) for a in args], **fkw))
        assert len(got) == len(want), f"forward: {len(got)} outputs, CPU {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            check_same(g, w, f"forward output {i}")
        if backward is not None:
            gy = rand(*want[0].shape).astype(want[0].dtype)
            want_b = as_tuple(backward(gy, *args, **kwargs))
            dargs = [dev(a) for a in args]
            got_b = as_tuple(backward(dev(gy), *dargs, **kwargs))
            again = as_tuple(backward(dev(gy), *dargs, **kwargs))
            assert len(got_b) == len(want_b), f"backward: {len(got_b)} gradients, CPU {len(want_b)}"
            for i, (g, w, g2) in enumerate(zip(got_b, want_b, again)):
                check_same(g, w, f"gradient {i}")
                if g is not None:
                    assert bits(g) == bits(g2), f"gradient {i}: two CUDA runs differ bit for bit"
        result = want
    return result


def record_kernels():
    """Wrap ``dispatch.kernels`` so every CUDA kernel the ops ask for is recorded."""
    real = dispatch.kernels

    class Recorder:
        def __init__(self, family, module):
            self._family, self._module = family, module

        def __getattr__(self, name):
            CALLED.add((self._family, name))
            return getattr(self._module, name)

    def kernels(family, device):
        module = real(family, device)
        return Recorder(family, module) if device == dispatch.CUDA else module

    dispatch.kernels = kernels


def guard_negative_indices() -> bool:
    """Under the simulator, make a negative index inside a kernel an IndexError.

    The simulator indexes NumPy arrays, where -1 silently reads the last element; on a GPU the
    same index reads outside the array. Returns whether the guard is installed.
    """
    try:
        from numba.cuda.simulator.cudadrv.devicearray import FakeWithinKernelCUDAArray as Within
    except ImportError:
        return False
    get, put = Within.__getitem__, Within.__setitem__

    def negative(idx):
        parts = idx if isinstance(idx, tuple) else (idx,)
        return any(isinstance(i, (int, np.integer)) and i < 0 for i in parts)

    def getitem(self, idx):
        if negative(idx):
            raise IndexError(f"negative index {idx} in a CUDA kernel (out of bounds on a GPU)")
        return get(self, idx)

    def setitem(self, idx, val):
        if negative(idx):
            raise IndexError(f"negative index {idx} in a CUDA kernel (out of bounds on a GPU)")
        return put(self, idx, val)

    Within.__getitem__, Within.__setitem__ = getitem, setitem
    return True


def spatial(nd, n):
    return (n,) * nd if isinstance(n, int) else tuple(n)


# ----------------------------------------------------------------------------- cases

CONV = [
    # (label, nd, C_in, C_out, sizes, kernel, bias, kwargs)
    ("stride padding dilation", 1, 2, 3, 9, 3, True, dict(stride=2, padding=2, dilation=2)),
    ("groups aniso", 2, 4, 4, (5, 6), (3, 2), True, dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)),
    ("depthwise x2 no bias", 2, 2, 4, (5, 4), 3, False, dict(groups=2, padding=1)),
    ("per-side padding", 2, 1, 2, (4, 5), (2, 3), True, dict(padding=((0, 2), (1, 0)), stride=(1, 2))),
    ("same stride 2", 2, 2, 2, (5, 5), (4, 3), True, dict(padding="same", stride=2)),
    ("reflect", 2, 2, 2, (4, 5), 3, True, dict(padding=1, padding_mode="reflect", stride=(1, 2))),
    ("3d", 3, 2, 2, (4, 3, 4), 2, True, dict(stride=(1, 2, 1), padding=1, dilation=(2, 1, 1))),
    ("3d depthwise", 3, 2, 2, (3, 3, 3), 2, False, dict(groups=2, padding=(1, 0, 1))),
]

TCONV = [
    ("stride output_padding", 1, 2, 3, 4, 3, True, dict(stride=2, output_padding=1, padding=1)),
    ("groups dilation", 2, 4, 2, (3, 3), (2, 3), True, dict(stride=(2, 3), output_padding=(1, 2), groups=2, dilation=(1, 2))),
    ("depthwise no bias", 2, 2, 2, (3, 4), 3, False, dict(groups=2, stride=2, padding=1, output_padding=1)),
    ("circular", 2, 2, 2, (3, 3), 3, True, dict(padding=1, padding_mode="circular", stride=2, output_padding=1)),
    ("3d", 3, 2, 2, (2, 3, 2), 2, True, dict(stride=2, output_padding=(1, 0, 1), padding=(0, 1, 0))),
]


# The CUDA input-gradient (the backward of conv, the forward of conv_transpose) is the tiled forward
# of gy with the flipped, transposed weight, once per phase of the stride: one phase at stride 1
# ("fast"), negative paddings, taps that skip (stride and dilation with a common factor), phases no
# tap reaches (a kernel shorter than the stride: zero, or the transposed convolution's bias).
CONV_INPUT_GRAD = [
    # (label, nd, C_in, C_out, sizes, kernel, bias, dtype, kwargs)
    ("fast: groups dilation", 2, 4, 6, (7, 9), (3, 2), True, np.float64, dict(groups=2, dilation=(2, 1), padding=(2, 1))),
    ("fast: dilation 3 float32", 1, 3, 2, 11, 3, True, np.float32, dict(dilation=3, padding=4)),
    ("negative padding: beyond the dilated kernel float32", 2, 4, 2, (4, 5), 2, True, np.float32, dict(padding=(1, 3), dilation=(1, 2), groups=2)),
    ("phases: stride 2 groups dilation float32", 2, 4, 2, (7, 6), 3, True, np.float32, dict(stride=2, padding=1, dilation=(2, 1), groups=2)),
]

TCONV_INPUT_GRAD = [
    ("fast: groups dilation", 2, 4, 6, (5, 7), (3, 2), True, np.float64, dict(groups=2, dilation=(1, 2), padding=(1, 0))),
    ("fast: 3d groups float32", 3, 2, 4, (2, 3, 3), 2, False, np.float32, dict(groups=2)),
    ("negative padding: beyond the kernel", 2, 2, 3, (6, 5), 2, True, np.float64, dict(padding=(2, 1))),
    ("phases: stride 3 > kernel, bias", 2, 3, 4, (3, 4), (2, 3), True, np.float64,
     dict(stride=(3, 2), dilation=(1, 2), padding=(0, 1), output_padding=(2, 1))),
    ("phases: stride 2 dilation 3, 1d float32", 1, 3, 2, 5, 3, True, np.float32, dict(stride=2, dilation=3, padding=2)),
    ("phases: 3d stride 2, some phases tapless", 3, 2, 2, (2, 3, 2), (1, 3, 2), False, np.float64,
     dict(stride=2, padding=(0, 1, 0), output_padding=1)),
    ("phases: 70 channels, 4x4 stride 2", 2, 70, 3, (2, 3), 4, True, np.float32, dict(stride=2, padding=1)),
]


@contextlib.contextmanager
def forward_variant(name):
    """Run every CUDA convolution forward (and the input-gradients built on it) with one kernel."""
    from numconv.kernels.cuda import conv as cuda_conv

    prev, cuda_conv.FORCE_VARIANT = cuda_conv.FORCE_VARIANT, name
    try:
        yield
    finally:
        cuda_conv.FORCE_VARIANT = prev


# The cases the other two forward kernels run too (the 64-channel tiles run them all)
OTHER_VARIANTS = ("stride padding dilation", "groups aniso", "3d", "fast: groups dilation", "fast: dilation 3 float32")


def conv_cases():
    both = [(label, label, nd, ci, co, n, k, bias, np.float64, kw) for label, nd, ci, co, n, k, bias, kw in CONV]
    both += [(f"input grad {label}", label, *rest) for label, *rest in CONV_INPUT_GRAD]
    for variant in ("tiled64", "tiled16", "direct"):
        for label, base, nd, ci, co, n, k, bias, dtype, kw in both:
            if variant != "tiled64" and base not in OTHER_VARIANTS:
                continue
            groups = kw.get("groups", 1)
            x = rand(2, ci, *spatial(nd, n)).astype(dtype)
            w = rand(co, ci // groups, *spatial(nd, k)).astype(dtype)
            b = rand(co).astype(dtype) if bias else None
            fn, bw = getattr(F, f"conv{nd}d"), getattr(F, f"conv{nd}d_backward")
            with forward_variant(variant):
                case("conv", f"conv{nd}d[{label}{'' if variant == 'tiled64' else ', ' + variant}]", fn, x, w, b,
                     backward=bw, **kw)
    # a 2-d convolution with more than a block of outputs, not a multiple of the block size
    x, w, b = rand(2, 3, 9, 7), rand(3, 3, 2, 2), rand(3)
    case("conv", "conv2d[378 outputs, > one block]", F.conv2d, x, w, b, backward=F.conv2d_backward, padding=1)
    # the tiled forward across all its tile edges: 65 channels (> TM = 64), 27 taps (> TQ = 16, in
    # ranges of 8) and 2 x 35 positions (> TP = 64)
    x, w, b = rand(2, 3, 5, 7), rand(65, 3, 3, 3), rand(65)
    case("conv", "conv2d[tiles: 65 channels, 27 taps, 70 positions]", F.conv2d, x, w, b, padding=1)
    # the 16-channel tiles (chosen for 8 to 47 channels per group) across their edges: 17 channels,
    # 27 taps (> TQ = 16, one range) and 2 x 156 positions (> TP = 256)
    x, w, b = rand(2, 3, 12, 13).astype(np.float32), rand(17, 3, 3, 3).astype(np.float32), rand(17).astype(np.float32)
    case("conv", "conv2d[16-channel tiles: 17 channels, 27 taps, 312 positions]", F.conv2d, x, w, b, padding=1)
    # 1 x 1 taps (every step carries into the channel) and 5 taps (ranges of 4, two of them empty)
    x, w = rand(2, 5, 5, 6).astype(np.float32), rand(3, 5, 1, 1).astype(np.float32)
    case("conv", "conv2d[1x1 stride 2 float32]", F.conv2d, x, w, None, stride=2)
    # unbatched input (C, H, W), and float32 (the result keeps the dtype)
    x, w = rand(2, 4, 5), rand(3, 2, 2, 3)
    case("conv", "conv2d[unbatched]", F.conv2d, x, w, None, backward=F.conv2d_backward, stride=(1, 2), padding=1)
    x, w, b = (a.astype(np.float32) for a in (rand(2, 2, 5, 4), rand(2, 1, 3, 3), rand(2)))
    case("conv", "conv2d[float32 groups]", F.conv2d, x, w, b, backward=F.conv2d_backward, groups=2, padding=1)
    # the weight gradient's reduction over (image, position) split in several parts, added in order;
    # 70 channels per group and 9 x 9 = 81 taps cross the 64 x 64 tiles
    # (90 positions in parts of 30: the last step of each part stops inside it)
    for min_r, shape_x, shape_w, kw in ((30, (3, 2, 6, 5), (4, 2, 3, 3), dict(padding=1)),
                                        (16, (2, 6, 5, 7), (140, 3, 2, 2), dict(stride=(2, 1), dilation=(1, 2), groups=2)),
                                        (16, (2, 9, 4, 4), (3, 9, 3, 3), dict(padding=1)),
                                        (16, (2, 3, 3, 4, 4), (5, 3, 2, 2, 3), dict(padding=(1, 0, 1)))):
        nd = len(shape_x) - 2
        with weight_grad_kernel("tiled", WG_MIN_R=min_r):
            case("conv", f"conv{nd}d[weight gradient in tiles, parts of {min_r} positions, weight {shape_w}, {kw}]",
                 getattr(F, f"conv{nd}d"), rand(*shape_x), rand(*shape_w), None,
                 backward=getattr(F, f"conv{nd}d_backward"), **kw)
    # the small-group weight gradient (a block per output channel): its threads' step of 256
    # (image, position) pairs carried across rows, planes and images, and the sum split in parts
    # (WG_REDUCE_STEPS=4: parts of 4 steps of the block's threads, the last one short)
    for shape_x, shape_w, kw in (((3, 4, 10, 11), (4, 1, 3, 3), dict(groups=4, padding=1)),
                                 ((2, 4, 5, 6, 7), (6, 2, 2, 2, 2), dict(groups=2, stride=(2, 1, 2), dilation=(1, 2, 1),
                                                                          padding=(1, 0, 1))),
                                 ((3, 1, 300), (6, 1, 5), dict(stride=2, padding=2))):
        nd = len(shape_x) - 2  # (1-d: 450 pairs, a row of 150)
        with weight_grad_kernel("reduce", WG_REDUCE_STEPS=4):
            case("conv", f"conv{nd}d[weight gradient a block per channel, weight {shape_w}, {kw}]",
                 getattr(F, f"conv{nd}d"), rand(*shape_x), rand(*shape_w), None,
                 backward=getattr(F, f"conv{nd}d_backward"), **kw)
    # every weight-gradient kernel on the same small cases (the shapes would pick "reduce")
    for label, nd, ci, co, n, k, bias, kw in CONV[:2]:
        groups = kw.get("groups", 1)
        x, w = rand(2, ci, *spatial(nd, n)), rand(co, ci // groups, *spatial(nd, k))
        for kernel in ("tiled", "elementwise"):
            with weight_grad_kernel(kernel):
                case("conv", f"conv{nd}d[{label}, weight gradient {kernel}]", getattr(F, f"conv{nd}d"), x, w, None,
                     backward=getattr(F, f"conv{nd}d_backward"), **kw)


@contextlib.contextmanager
def weight_grad_kernel(name, **settings):
    """Run every CUDA weight gradient with kernel ``name`` (``weight_grad_variant``), and the
    module's other WG_ settings given."""
    from numconv.kernels.cuda import conv as cuda_conv

    settings["WG_FORCE"] = name
    prev = {k: getattr(cuda_conv, k) for k in settings}
    for k, v in settings.items():
        setattr(cuda_conv, k, v)
    try:
        yield
    finally:
        for k, v in prev.items():
            setattr(cuda_conv, k, v)


def conv_transpose_cases():
    both = [(label, nd, ci, co, n, k, bias, np.float64, kw) for label, nd, ci, co, n, k, bias, kw in TCONV]
    both += [(f"input grad {label}", *rest) for label, *rest in TCONV_INPUT_GRAD]
    for label, nd, ci, co, n, k, bias, dtype, kw in both:
        groups = kw.get("groups", 1)
        x = rand(2, ci, *spatial(nd, n)).astype(dtype)
        w = rand(ci, co // groups, *spatial(nd, k)).astype(dtype)
        b = rand(co).astype(dtype) if bias else None
        fn, bw = getattr(F, f"conv_transpose{nd}d"), getattr(F, f"conv_transpose{nd}d_backward")
        case("conv_transpose", f"conv_transpose{nd}d[{label}]", fn, x, w, b, backward=bw, **kw)


MAX_POOL = [
    # (label, nd, sizes, kernel, kwargs)
    ("plain", 1, 7, 2, {}),
    ("ceil padding dilation", 2, (5, 6), (2, 3), dict(stride=2, padding=1, dilation=(2, 1), ceil_mode=True)),
    ("overlapping windows", 2, (4, 5), 3, dict(stride=1, padding=1)),
    ("3d ceil", 3, (3, 4, 3), 2, dict(ceil_mode=True, padding=(1, 0, 1))),
]

AVG_POOL = [
    # (label, nd, sizes, kernel, kwargs)
    ("plain", 1, 7, 3, dict(stride=2)),
    ("ceil padding, exclude pad", 2, (5, 6), 3, dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("ceil padding, include pad", 2, (5, 4), (2, 3), dict(stride=(2, 1), padding=(1, 1), ceil_mode=True)),
    ("divisor_override", 2, (4, 5), 2, dict(stride=1, divisor_override=3)),
    ("3d exclude pad", 3, (3, 4, 3), 2, dict(padding=1, count_include_pad=False)),
    ("whole plane", 2, (3, 4), (3, 4), dict(divisor_override=5)),
    ("windows of 20 taps: a warp each", 2, (5, 8), (5, 4), dict(stride=(1, 4))),
]

ADAPTIVE = [
    # (nd, sizes, output_size)
    (1, 7, 3),
    (2, (7, 5), (3, 4)),
    (2, (3, 4), (5, None)),
    (3, (4, 3, 5), (2, 3, 2)),
    (2, (3, 4), 1),
    (2, (3, 4), (0, 2)),  # an empty output, as PyTorch allows: the gradient is all zeros
    (2, (6, 7), 1),  # 42 taps: a warp per output, lanes taking two taps
    (3, (2, 5, 4), (1, 1, 2)),  # 20 taps: a warp per output
]


def pool_cases():
    for label, nd, n, k, kw in MAX_POOL:
        x = rand(2, 2, *spatial(nd, n))
        fn, bw = getattr(F, f"max_pool{nd}d"), getattr(F, f"max_pool{nd}d_backward")
        out = case("pool", f"max_pool{nd}d[{label}]", fn, x, k, backward=bw, forward_only=dict(return_indices=True), **kw)
        if out is not None:
            # the backward given the indices (scatter with accumulate) instead of recomputing them
            y, idx = out
            with checking("pool", f"max_pool{nd}d_backward[{label}, indices given]"):
                gy = rand(*y.shape)
                want = bw(gy, x, k, indices=idx, **kw)
                got = bw(dev(gy), dev(x), k, indices=dev(idx), **kw)
                check_same(got, want, "gradient")
    # indices that are in the plane but outside their own window: the GPU's gather would miss them,
    # so the window check sends them to the scatter, which routes them as the CPU does
    x = rand(2, 3, 6, 7)
    y, idx = F.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    idx[0, 1, 0, 0] = 41  # the plane's last position, far from window (0, 0)
    idx[1, 2, 2, 1] = idx[1, 2, 0, 0]  # a repeat from another window
    with checking("pool", "max_pool2d_backward[indices outside their windows]"):
        CALLED.discard(("pool", "scatter_plane"))
        gy = rand(*y.shape)
        want = F.max_pool2d_backward(gy, x, 3, stride=2, padding=1, indices=idx)
        got = F.max_pool2d_backward(dev(gy), dev(x), 3, stride=2, padding=1, indices=dev(idx))
        check_same(got, want, "gradient")
        assert ("pool", "scatter_plane") in CALLED, "out-of-window indices did not take the scatter"
    with checking("pool", "max_pool2d_backward[device indices out of the plane]"):
        bad = idx.copy()
        bad[1, 0, 1, 2] = 42
        try:
            F.max_pool2d_backward(dev(gy), dev(x), 3, stride=2, padding=1, indices=dev(bad))
        except ValueError as e:
            assert "42" in str(e) and "[0, 42)" in str(e), f"the error does not give the range and the value: {e}"
        else:
            raise AssertionError("an index past the plane did not raise ValueError")
    with checking("pool", "check_indices[several blocks, striding threads]"):
        # more indices than one block holds, so the per-block reduction and the atomics both matter
        from numconv import ops, shapes

        x = rand(3, 5, 20, 21)
        spec = shapes.pool_spec(x.shape, 2, 2, 2, 0, 1, False)
        _, idx = F.max_pool2d(x, 2, return_indices=True)
        idx = idx.copy()
        flat = idx.reshape(-1)
        flat[::7] = RNG.integers(0, 420, size=flat[::7].size)  # some now outside their windows
        flat[5] = -3
        flat[900] = 999
        want_out = 0
        oh, ow = np.meshgrid(np.arange(10), np.arange(10), indexing="ij")
        for i, (h, w) in enumerate(zip(*np.divmod(idx.reshape(15, 100), 21))):
            ok = (h // 2 == oh.reshape(-1)) & (w // 2 == ow.reshape(-1))
            inplane = (idx.reshape(15, 100)[i] >= 0) & (idx.reshape(15, 100)[i] < 420)
            want_out += int((inplane & ~ok).sum())
        got = ops.check_indices(dev(idx), (1, 20, 21), spec)
        assert got == (-3, 999, want_out), f"check_indices gave {got}, want {(-3, 999, want_out)}"
    # NaN wins the max, as on the CPU (v > best or v != v)
    x = rand(2, 2, 5, 4)
    x[0, 0, 1, 1] = np.nan
    x[1, 1, 4, 0] = np.nan
    x[1, 0, 2, :] = -np.inf
    case("pool", "max_pool2d[NaN and -inf]", F.max_pool2d, x, 2, backward=F.max_pool2d_backward,
         forward_only=dict(return_indices=True), ceil_mode=True)
    x = rand(2, 5, 5).astype(np.float32)
    case("pool", "max_pool2d[unbatched float32]", F.max_pool2d, x, 2, backward=F.max_pool2d_backward,
         forward_only=dict(return_indices=True), ceil_mode=True)
    case("pool", "max_pool2d[values only]", F.max_pool2d, x, 2, ceil_mode=True)
    # the grid kernels take several planes a thread: 9 planes leave a tail; a grid of 2 blocks along z
    # makes every thread stride on to further planes
    import numconv.kernels.cuda as kernels_cuda

    x = rand(3, 3, 6, 5)
    for max_z in (kernels_cuda.MAX_GRID_Z, 2):
        prev, kernels_cuda.MAX_GRID_Z = kernels_cuda.MAX_GRID_Z, max_z
        try:
            case("pool", f"max_pool2d[9 planes, grid z <= {max_z}]", F.max_pool2d, x, 2, backward=F.max_pool2d_backward,
                 forward_only=dict(return_indices=True), stride=1)
            case("pool", f"avg_pool2d[9 planes, grid z <= {max_z}]", F.avg_pool2d, x, 3, backward=F.avg_pool2d_backward,
                 stride=2, padding=1)
            case("conv", f"conv2d[depthwise, 9 planes, grid z <= {max_z}]", F.conv2d, x, rand(3, 1, 3, 3), rand(3),
                 padding=1, groups=3)
        finally:
            kernels_cuda.MAX_GRID_Z = prev
    # a warp per output: ties go to the first tap in row-major order, a NaN to the last NaN
    x = np.round(rand(3, 2, 6, 7) * 2) / 2
    x[0, 0] = 0.5
    x[0, 1] = -np.inf
    x[1, 0, 2, 3] = x[1, 0, 5, 6] = np.nan
    x[2, 1, 0, 0] = np.nan
    x[2, 1, 1, :] = 9.0
    case("pool", "adaptive_max_pool2d[42 taps, ties, NaN, -inf]", F.adaptive_max_pool2d, x, 1,
         backward=F.adaptive_max_pool2d_backward, forward_only=dict(return_indices=True))
    case("pool", "avg_pool2d[unbatched float32]", F.avg_pool2d, x, 3, backward=F.avg_pool2d_backward, stride=2, padding=1)
    for label, nd, n, k, kw in AVG_POOL:
        x = rand(2, 2, *spatial(nd, n))
        fn, bw = getattr(F, f"avg_pool{nd}d"), getattr(F, f"avg_pool{nd}d_backward")
        case("pool", f"avg_pool{nd}d[{label}]", fn, x, k, backward=bw, **kw)
    for nd, n, out in ADAPTIVE:
        x = rand(2, 2, *spatial(nd, n))
        aa, aa_b = getattr(F, f"adaptive_avg_pool{nd}d"), getattr(F, f"adaptive_avg_pool{nd}d_backward")
        am, am_b = getattr(F, f"adaptive_max_pool{nd}d"), getattr(F, f"adaptive_max_pool{nd}d_backward")
        case("pool", f"adaptive_avg_pool{nd}d[{n} -> {out}]", aa, x, out, backward=aa_b)
        case("pool", f"adaptive_max_pool{nd}d[{n} -> {out}]", am, x, out, backward=am_b, forward_only=dict(return_indices=True))

    fractional_pool_cases()


def fractional_pool_cases():
    """Fractional max pooling: each plane's own windows (samples given, so both sides take the same
    ones; on the device the samples are a device array), overlapping windows, a NaN; the backward
    from the samples and from indices handed in."""
    for nd, n, k, out in [(2, (7, 9), (3, 2), (5, 6)), (3, (4, 5, 4), 2, (3, 2, 3))]:
        x = rand(2, 3, *n)
        x[1, 2].flat[4] = np.nan
        u = RNG.random((2, 3, nd))
        fwd, bwd = getattr(F, f"fractional_max_pool{nd}d"), getattr(F, f"fractional_max_pool{nd}d_backward")

        def forward(x, u, k, out, fwd=fwd):
            return fwd(x, k, out, return_indices=True, _random_samples=u)

        def backward(g, x, u, k, out, bwd=bwd):
            return bwd(g, x, k, out, _random_samples=u)

        def backward_both(g, x, u, idx, k, out, bwd=bwd):  # from the samples, and from indices handed in
            return bwd(g, x, k, out, _random_samples=u), bwd(g, x, k, out, indices=idx)

        label = f"fractional_max_pool{nd}d[{n}, k={k} -> {out}]"
        case("pool", label, forward, x, u, k, out, backward=backward)
        idx = forward(x, u, k, out)[1]
        case("pool", f"{label}, indices given", lambda x, u, idx, k, out: forward(x, u, k, out)[0], x, u, idx, k, out,
             backward=backward_both)
    x32, u32 = rand(3, 11, 10).astype(np.float32), RNG.random((1, 3, 2)).astype(np.float32)
    case("pool", "fractional_max_pool2d[unbatched float32, output_ratio]",
         lambda x, u: F.fractional_max_pool2d(x, 2, output_ratio=0.6, _random_samples=u), x32, u32)

def unpool_cases():
    for nd, n, k, kw in [(1, 7, 2, dict(stride=3)), (2, (5, 6), 3, dict(stride=2, padding=1)), (3, (4, 3, 4), 2, {})]:
        x = rand(2, 2, *spatial(nd, n))
        pool = getattr(F, f"max_pool{nd}d")
        y, idx = pool(x, k, return_indices=True, **kw)
        up, up_b = getattr(F, f"max_unpool{nd}d"), getattr(F, f"max_unpool{nd}d_backward")
        ukw = dict(stride=kw.get("stride"), padding=kw.get("padding", 0), output_size=x.shape[2:])
        case("unpool", f"max_unpool{nd}d[{n}, k={k}, {kw}]", up, y, idx, k, backward=up_b, **ukw)
    # repeated indices: the last one in row-major order wins, as on the CPU
    y = rand(2, 2, 2, 2)
    idx = np.zeros(y.shape, np.int64)
    idx[:, :, 1, :] = 15
    case("unpool", "max_unpool2d[repeated and extreme indices]", F.max_unpool2d, y, idx, 2, backward=F.max_unpool2d_backward)


UNFOLD = [
    # (label, (H, W), kernel, kwargs)
    ("stride dilation padding", (5, 6), (2, 3), dict(stride=(2, 1), dilation=(2, 1), padding=(1, 2))),
    ("stride > kernel", (7, 5), 2, dict(stride=3)),
]


def unfold_cases():
    for label, hw, k, kw in UNFOLD:
        x = rand(2, 2, *hw)
        out = case("unfold", f"unfold[{label}]", F.unfold, x, k, backward=F.unfold_backward, **kw)
        if out is not None:
            cols = out[0]
            case("unfold", f"fold[{label}]", F.fold, cols, hw, k, backward=F.fold_backward, **kw)


def pad_cases():
    for mode in ("constant", "reflect", "replicate", "circular"):
        for shape in [(2, 3, 5), (2, 2, 4, 3), (1, 2, 3, 2, 4)]:
            dims = shape[2:]
            if mode == "reflect":
                pads = [(n - 1, max(n - 2, 0)) for n in dims]
            elif mode == "circular":
                pads = [(n, 1) for n in dims]
            elif mode == "replicate":
                pads = [(n + 1, 0) for n in dims]
            else:
                pads = [(2, -1) for _ in dims]  # negative constant padding crops
            flat = tuple(v for pair in reversed(pads) for v in pair)
            kw = dict(value=1.5) if mode == "constant" else {}
            case("pad", f"pad[{mode} {shape} {flat}]", F.pad, rand(*shape), flat, backward=F.pad_backward, mode=mode, **kw)
        if mode != "constant":  # a side cropped, the other padded (circular wraps what the crop leaves)
            case("pad", f"pad[{mode} crop and pad]", F.pad, rand(1, 2, 4, 5), (-1, 2, 2, -1), backward=F.pad_backward,
                 mode=mode)


def resample_cases():
    """interpolate in every mode and rank (``kernels.cuda.resample``), its backward (the transposed
    tables) twice, bit for bit; the error function's kernel through gelu."""
    for mode, shape, kw in [
        ("nearest", (2, 3, 5), dict(scale_factor=1.7)),
        ("nearest-exact", (1, 2, 3, 4), dict(size=(5, 2))),
        ("nearest", (1, 2, 2, 3, 2), dict(scale_factor=(2.0, 1.0, 1.5))),
        ("linear", (2, 2, 5), dict(size=9, align_corners=True)),
        ("bilinear", (1, 2, 4, 3), dict(scale_factor=(0.75, 2.5))),
        ("bicubic", (1, 2, 3, 5), dict(size=(6, 4))),
        ("bicubic", (1, 1, 4, 4), dict(scale_factor=1.5, align_corners=True)),
        ("trilinear", (1, 1, 2, 3, 2), dict(scale_factor=2)),
        ("bilinear", (1, 2, 7, 5), dict(size=(3, 4), antialias=True)),  # rows of varying length
        ("bicubic", (1, 1, 6, 3), dict(scale_factor=(0.4, 1.5), antialias=True)),
    ]:
        case("resample", f"interpolate[{mode} {shape} {kw}]", F.interpolate, rand(*shape), backward=F.interpolate_backward,
             mode=mode, **kw)


# the parameters p0, p1 each activation of ``numconv.kernels.scalar`` runs with here
ACTIVATION_PARAMS = {"leaky_relu": (0.2,), "elu": (1.3,), "gelu": (), "gelu_tanh": (), "silu": (),
                     "hardtanh": (-0.5, 0.75), "softplus": (2.0, 3.0), "hardswish": (), "hardsigmoid": (), "mish": (), "selu": (), "celu": (0.7,)}


def elementwise_cases():
    """The activation kernels (``kernels.cuda.elementwise``), forward and backward in both float
    dtypes, on values that visit every branch: the kinks, NaN, both infinities, and magnitudes
    where exp overflows in float32 or float64 (the simulator's Python math raises there unless
    the kernel guards it); ReLU's two kernels."""
    from numconv.ops import math as M

    edges = [0.0, -0.0, -0.5, 0.75, 1.5, -3.0, 3.0, np.nan, np.inf, -np.inf, 100.0, -100.0, 800.0, -800.0, 1e30, -1e30]
    for dtype in (np.float64, np.float32):
        x = rand(3, 5, 4) * 3
        x.reshape(-1)[: len(edges)] = edges
        x = x.astype(dtype)
        tag = np.dtype(dtype).name
        for name, params in ACTIVATION_PARAMS.items():
            case("elementwise", f"{name} {tag}", lambda a, n=name, p=params: M.activation(n, a, *p), x,
                 backward=lambda g, a, n=name, p=params: M.activation_backward(n, g, a, *p))
        case("elementwise", f"softplus past exp's range {tag}", lambda a: M.activation("softplus", a, 1.0, 1e4), x,
             backward=lambda g, a: M.activation_backward("softplus", g, a, 1.0, 1e4))
        case("elementwise", f"relu {tag}", M.relu, x, backward=lambda g, a: M.relu_backward(g, M.relu(a)))
        case("elementwise", f"erf {tag}", M.erf, x)
        case("elementwise", f"erfc {tag}", M.erfc, x)


def special_cases():
    """The special functions' kernel (``kernels.cuda.special``: lgamma, digamma and polygamma, erfinv)
    in both float dtypes, on values that visit every branch: the poles, both zeros, both infinities,
    NaN, the reflection below 0, the recurrence and the series, erfinv's centre, tail and +-1. The
    CPU compiles C's lgamma, log and erfc, the simulator runs Python's: agreement to 1e-13 relative in
    float64, and to 2 roundings in float32 (where a last-bit difference in float64 can round apart)."""
    from numconv.ops import math as M

    edges = [0.0, -0.0, -1.0, -2.0, -2.5, -7.25, 0.5, 1.4616321449683622, 1e-30, 3.0, 12.5, 1e10, 1e30,
             np.inf, -np.inf, np.nan]
    ends = [1.0, -1.0, 0.0, -0.0, 0.999999, -0.75, 0.5, 0.49, 1.5, -2.0, np.nan, np.inf]
    for dtype in (np.float64, np.float32):
        tag = np.dtype(dtype).name
        x = rand(3, 5, 4) * 6
        x.reshape(-1)[: len(edges)] = edges
        y = np.tanh(rand(3, 5, 4))
        y.reshape(-1)[: len(ends)] = ends
        if dtype == np.float64:
            x.reshape(-1)[-3:] = [1e300, -1e300, 2.6e305]  # lgamma's overflow
            y.reshape(-1)[-2:] = [1 - 2.0 ** -53, -(1 - 2.0 ** -52)]  # erfinv's far tail
        x, y = x.astype(dtype), y.astype(dtype)
        runs = [("lgamma", M.lgamma, x), ("erfinv", M.erfinv, y)] + [
            (f"polygamma n={n}", lambda a, n=n: M.polygamma(n, a), x) for n in (0, 1, 2, 5)]
        for name, fn, a in runs:
            with checking("special", f"{name} {tag}"):
                want, got = fn(a), fn(dev(a))
                assert is_device(got) and got.dtype == want.dtype, f"{type(got).__name__} {got.dtype}"
                g = host(got)
                both_nan = np.isnan(g) & np.isnan(want)
                same_inf = np.isinf(want) & (g == want)
                with np.errstate(invalid="ignore"):
                    close = np.abs(g - want) <= (1e-13 if dtype == np.float64 else 3e-7) * np.abs(want) + 1e-300
                bad = ~(both_nan | same_inf | close)
                assert not bad.any(), f"at {a[bad][:4]}: CUDA {g[bad][:4]}, CPU {want[bad][:4]}"


def norm_cases():
    """Batch normalization's kernels (``ops.norm``): statistics, output, gradients and the running
    statistics' update, on channels cut into one part and into several (``BN_CHUNK``)."""
    from numconv import ops
    from numconv.kernels.cuda import norm as cuda_norm

    def run(x, weight, bias, running, training, need_x, g):
        """Every output of a forward, backward and running update, device arrays in, as a tuple."""
        y, mean, invstd = ops.batch_norm_forward(x, weight, bias, running[0], running[1], training, 1e-5)
        m = x.size // x.shape[1]
        if training:
            ops.batch_norm_update_running(running[0], running[1], mean, invstd, m, 0.1, 1e-5)
        gx, gw, gb = ops.batch_norm_backward(g, x, mean, invstd, weight, training, need_x)
        return y, mean, invstd, gx, gw, gb, running[0], running[1]

    names = ("y", "mean", "invstd", "gx", "gweight", "gbias", "running_mean", "running_var")
    default_chunk = cuda_norm.BN_CHUNK
    for chunk in (default_chunk, 10):  # 10: two to six parts a channel here, some of uneven length
        cuda_norm.BN_CHUNK = chunk
        for shape, dtype, training, affine, need_x in [
            ((3, 2, 5), np.float64, True, True, True),
            ((2, 3, 4, 4), np.float64, True, False, True),
            ((2, 2, 2, 3, 3), np.float64, False, True, True),
            ((6, 3), np.float64, True, True, False),
            ((4, 3, 3, 5), np.float32, True, True, True),
            ((2, 2, 3, 3), np.float32, False, False, True),
        ]:
            label = f"{shape} {np.dtype(dtype).name} training={training} affine={affine} need_x={need_x} chunk={chunk}"
            with checking("norm", f"batch_norm[{label}]"):
                C = shape[1]
                x = rand(*shape).astype(dtype)
                if dtype == np.float32:  # a mean far from zero next to the spread: float64 arithmetic matters
                    x = (x * 0.01 + 1e4).astype(dtype)
                w, b = (rand(C).astype(dtype), rand(C).astype(dtype)) if affine else (None, None)
                running = (rand(C).astype(dtype), (np.abs(rand(C)) + 0.5).astype(dtype))
                g = rand(*shape).astype(dtype)
                want = run(x, w, b, tuple(r.copy() for r in running), training, need_x, g)
                dargs = [None if a is None else dev(a) for a in (x, w, b)]
                got = run(*dargs, tuple(dev(r) for r in running), training, need_x, dev(g))
                for name, gv, wv in zip(names, got, want):
                    if name in ("mean", "invstd"):
                        # float64 statistics, summed in another order: the mean to ~1e-16 relative; the
                        # variance of values 1e4 apart from their mean by 0.01 to 1e-16 * (1e4 / 0.01)
                        assert is_device(gv) and np.allclose(host(gv), wv, rtol=1e-9, atol=0), \
                            f"{name}: CUDA {host(gv)}, CPU {wv}"
                    else:
                        check_same(gv, wv, name)
                again = run(*dargs, tuple(dev(r) for r in running), training, need_x, dev(g))
                for name, gv, av in zip(names, got, again):
                    assert gv is None or bits(gv) == bits(av), f"{name}: two CUDA runs differ bit for bit"
    cuda_norm.BN_CHUNK = default_chunk

    # group normalization's kernels, and layer normalization's through them (a row a group, a channel
    # per value): more samples than GN_PARTS (so parts hold several), more channels than a block of
    # GN_CHANNELS takes
    default_parts, default_columns = cuda_norm.GN_PARTS, cuda_norm.GN_CHANNELS
    cuda_norm.GN_PARTS, cuda_norm.GN_CHANNELS = 4, 8
    for shape, kind, count, dtype, affine, need_x in [
        ((3, 4, 5), "layer", 5, np.float64, (True, True), True),
        ((11, 2, 9), "layer", 18, np.float64, (True, False), True),
        ((2, 3), "layer", 3, np.float64, (False, False), True),
        ((7, 13), "layer", 13, np.float32, (True, True), False),
        ((5, 1, 12), "layer", 12, np.float32, (False, True), True),
        ((6, 12, 2, 3), "group", 4, np.float64, (True, True), True),  # 3 channels a group, 6 values each
        ((2, 9, 5), "group", 9, np.float64, (True, False), True),  # an instance norm
        ((3, 4), "group", 2, np.float64, (False, True), True),  # no spatial dimensions
        ((5, 6, 4), "group", 1, np.float32, (True, True), False),  # a layer norm over (C, S) with channel affine
    ]:
        label = f"{kind} {shape} {count} {np.dtype(dtype).name} weight, bias={affine} need_x={need_x}"
        with checking("norm", f"{kind}_norm groups[{label}]"):
            x = rand(*shape).astype(dtype)
            if dtype == np.float32:
                x = (x * 0.01 + 1e4).astype(dtype)
            P = count if kind == "layer" else shape[1]
            w, b = (rand(P).astype(dtype) if on else None for on in affine)
            g = rand(*shape).astype(dtype)
            forward, backward = getattr(ops, f"{kind}_norm_forward"), getattr(ops, f"{kind}_norm_backward")

            def run(x, w, b, g):
                y, mean, invstd = forward(x, count, w, b, 1e-5)
                return (y, mean, invstd) + backward(g, x, count, mean, invstd, w, need_x)

            want = run(x, w, b, g)
            got = run(*(None if a is None else dev(a) for a in (x, w, b, g)))
            for name, gv, wv in zip(("y", "mean", "invstd", "gx", "gweight", "gbias"), got, want):
                if name in ("mean", "invstd"):
                    assert is_device(gv) and np.allclose(host(gv), wv, rtol=1e-9, atol=0), \
                        f"{name}: CUDA {host(gv)}, CPU {wv}"
                elif wv is None:
                    assert gv is None, f"{name}: CUDA gave one where the CPU gave None"
                else:
                    check_same(gv, wv, name)
            again = run(*(None if a is None else dev(a) for a in (x, w, b, g)))
            for name, gv, av in zip(("y", "mean", "invstd", "gx", "gweight", "gbias"), got, again):
                assert gv is None or bits(gv) == bits(av), f"{name}: two CUDA runs differ bit for bit"
    cuda_norm.GN_PARTS, cuda_norm.GN_CHANNELS = default_parts, default_columns

    # instance norm (group norm's kernels, and its running statistics from the array ops) and local
    # response norm (pad and avg_pool): composites, their outputs, gradients and running statistics
    for shape, dtype in [((2, 3, 4, 2), np.float64), ((3, 4, 5), np.float32)]:
        with checking("norm", f"instance_norm and local_response_norm {shape} {np.dtype(dtype).name}"):
            C = shape[1]
            x, w, g = rand(*shape).astype(dtype), rand(C).astype(dtype), rand(*shape).astype(dtype)
            running = (rand(C).astype(dtype), (np.abs(rand(C)) + 0.5).astype(dtype))

            def run(x, w, rm, rv, g, to):
                xt, wt = (Tensor(to(a), requires_grad=True) for a in (x, w))
                y = F.instance_norm(xt, rm, rv, wt, None, momentum=0.3)
                z = F.local_response_norm(xt, 3, 0.5, 0.75, 1.5)
                (y * Tensor(to(g)) + z * Tensor(to(g))).sum().backward()
                return y.data, z.data, xt.grad.data, wt.grad.data, rm, rv

            want = run(x, w, *(r.copy() for r in running), g, lambda a: a)
            got = run(x, w, *(dev(r) for r in running), g, dev)
            for name, gv, wv in zip(("instance_norm", "local_response_norm", "gx", "gweight", "running_mean",
                                     "running_var"), got, want):
                check_same(gv, wv, name)


def scan_cases():
    """The scans and sort of ``kernels.cuda.scan`` (``ops.scan``) along every axis, every flag, on ties,
    zeros, NaN and both infinities, float and int: the same bits as the CPU kernels (one order of
    operations on both) and, for the sort, as NumPy's stable argsort."""
    from numconv.ops import scan as S

    x = rand(3, 4, 5) * 3
    flat = x.reshape(-1)
    flat[:12] = [0.0, 0.0, 1.5, 1.5, np.nan, -np.inf, np.inf, -0.0, 2.0, np.nan, 1.5, -2.0]
    for dtype in (np.float64, np.float32, np.int64):
        a = np.nan_to_num(x, nan=1.0, posinf=7.0, neginf=-7.0).round().astype(dtype) if dtype == np.int64 \
            else x.astype(dtype)
        tag = np.dtype(dtype).name
        for axis in range(3):
            for op, name in ((S.SUM, "sum"), (S.PROD, "prod")):
                for reverse in (False, True):
                    for exclusive in (False, True):
                        case("scan", f"cumulative {name} axis={axis} reverse={reverse} exclusive={exclusive} {tag}",
                             lambda t, ax=axis, o=op, r=reverse, e=exclusive: S.cumulative(t, ax, o, r, e), a)
            for descending in (False, True):
                case("scan", f"sort axis={axis} descending={descending} {tag}",
                     lambda t, ax=axis, d=descending: S.sort(t, ax, d), a)
            if dtype != np.int64:
                case("scan", f"cumprod_backward axis={axis} {tag}",
                     lambda g, t, ax=axis: S.cumprod_backward(g, t, ax), rand(*a.shape).astype(dtype), a)
    long = np.round(rand(2, 37, 1) * 4) / 4  # many merge passes, and ties across runs
    long[0, ::5, 0] = np.nan
    for descending in (False, True):
        case("scan", f"sort of long lines descending={descending}", lambda t, d=descending: S.sort(t, 1, d), long)
    case("scan", "sort of one element and of empty lines", lambda t: S.sort(t, 1, True), rand(2, 1, 3))
    case("scan", "cumulative of empty lines", lambda t: S.cumulative(t, 1, S.PROD), rand(2, 0, 3))


def device_cases():
    """Device placement rules that are not about values."""
    with checking("device", "mixing a device and a NumPy array"):
        x, w = rand(1, 2, 4, 4), rand(3, 2, 2, 2)
        for args, names in [((dev(x), w), ("input", "weight")), ((x, dev(w)), ("input", "weight"))]:
            try:
                F.conv2d(*args)
            except ValueError as e:
                msg = str(e)
                missing = [nm for nm in names if nm not in msg]
                assert not missing, f"the error does not name {missing}: {msg}"
            else:
                raise AssertionError("conv2d with one device and one NumPy array did not raise ValueError")
        y, idx = F.max_pool2d(x, 2, return_indices=True)
        try:
            F.max_unpool2d(dev(y), idx, 2)
        except ValueError as e:
            assert "input" in str(e) and "indices" in str(e), f"the error does not name input and indices: {e}"
        else:
            raise AssertionError("max_unpool2d with device input and NumPy indices did not raise ValueError")


def mirror_problems() -> list[str]:
    """Every CPU kernel has a CUDA launcher of the same name and signature, and every one ran."""
    import importlib

    problems = []
    for family in ("conv", "pool", "pad", "unfold", "norm", "resample", "elementwise", "scan", "ctc", "special"):
        cpu = importlib.import_module(f"numconv.kernels.cpu.{family}")
        gpu = importlib.import_module(f"numconv.kernels.cuda.{family}")
        for name, obj in vars(cpu).items():  # the compiled kernels, and the plain functions that pick one
            py = getattr(obj, "py_func", None) or (obj if inspect.isfunction(obj) else None)
            if py is None or name.startswith("_") or getattr(py, "__module__", "") != cpu.__name__:
                continue
            twin = getattr(gpu, name, None)
            if twin is None:
                problems.append(f"numconv.kernels.cuda.{family}.{name} is missing")
                continue
            if inspect.signature(py) != inspect.signature(twin):
                problems.append(f"{family}.{name}: CUDA signature {inspect.signature(twin)} != CPU {inspect.signature(py)}")
            if not (twin.__doc__ or "").strip():
                problems.append(f"numconv.kernels.cuda.{family}.{name} has no docstring")
            if (family, name) not in CALLED:
                problems.append(f"numconv.kernels.cuda.{family}.{name} never ran in any case")
    return problems


def ctc_cases():
    """The CTC recursions of ``kernels.cuda.ctc`` (``ops.ctc``): ragged time steps (0 and 1 among
    them), repeated labels (no skip), empty targets, more positions than a block's threads (each
    takes several): the CPU kernels' values."""
    from numconv.kernels.cuda import ctc as cuda_ctc
    from numconv.ops import ctc as O

    T, N, L = 6, 4, 11
    em = np.log(RNG.uniform(0.05, 1.0, (T, N, L)))
    ext = RNG.integers(1, 4, (N, L))
    ext[:, ::2] = 0
    ext[3, 1:5] = [2, 0, 2, 0]  # a repeated label: position 3 may not skip from 1
    skip = np.zeros((N, L), bool)
    skip[:, 2:] = (ext[:, 2:] != 0) & (ext[:, 2:] != ext[:, :-2])
    steps = np.array([6, 0, 1, 4], np.int64)
    at_end = np.zeros((N, L), bool)
    at_end[np.arange(N), [10, 0, 4, 8]] = True
    at_end[np.arange(N), [9, 0, 3, 7]] = True
    threads = cuda_ctc.THREADS
    try:
        for cap in (threads, 4):  # 4: positions beyond the block's threads take more turns
            cuda_ctc.THREADS = cap
            case("ctc", f"alpha, {cap} threads at most", O.alpha, em, skip, steps)
            case("ctc", f"beta, {cap} threads at most", O.beta, em, skip, steps, at_end)
        case("ctc", "alpha of float32 emissions", O.alpha, em.astype(np.float32), skip, steps)
        lp = np.log(RNG.uniform(0.05, 1.0, (T, N, 5))).astype(np.float32)
        padded = ext.copy()
        padded[1, 3:] = -1  # past a shorter sample's positions: -inf
        case("ctc", "emissions, -inf past a sample's positions", O.emissions, lp, padded)
        alpha, beta = O.alpha(em, skip, steps), O.beta(em, skip, steps, at_end)
        nll, scale = RNG.uniform(0.5, 3.0, N), np.array([1.5, 0.0, -2.0, 0.25])  # a 0 scale: no gradient
        case("ctc", "gradient", lambda a, b, e, x, n, w: O.gradient(a, b, e, x, n, w, 5),
             alpha, beta, em, ext, nll, scale)
    finally:
        cuda_ctc.THREADS = threads


def grid_sample_cases():
    """grid_sample's kernels (``ops.grid_sample``) in every mode, padding and alignment: points inside,
    outside (reflected more than once) and one NaN; the gradients of the input and the grid."""
    import itertools

    from numconv.ops import grid_sample as O

    x, grid = rand(2, 2, 3, 4), RNG.uniform(-2.5, 2.5, (2, 2, 3, 2))
    grid[1, 0, 0, 0] = np.nan

    def backward(g, x, grid, mode, padding, align):
        return O.input_grad(g, x.shape, grid, mode, padding, align), O.grid_grad(g, x, grid, mode, padding, align)

    for mode, padding, align in itertools.product(("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection"),
                                                  (False, True)):
        case("grid_sample", f"{mode}, {padding}, align_corners={align}", O.forward, x, grid, mode, padding, align,
             backward=backward)
    case("grid_sample", "float32", O.forward, x.astype(np.float32), grid.astype(np.float32), "bicubic", "zeros", False)
    # float32 points at pixel edges (index k + 1/2, reflected too), whose nearest pixel depends on the
    # index's float32 rounding (``kernels.grid_sample.unnormalize``): images, then volumes
    edges = ((2 * (np.arange(-2, 6) + 0.5) + 1) / 4 - 1).astype(np.float32)
    grid_e = np.stack([edges, edges[::-1]], -1).reshape(1, 2, 4, 2)
    for padding in ("zeros", "reflection"):
        case("grid_sample", f"float32 nearest at pixel edges, {padding}", O.forward, x.astype(np.float32)[:1], grid_e,
             "nearest", padding, False)
    grid_e3 = np.stack([edges, edges[::-1], np.roll(edges, 3)], -1).reshape(1, 1, 2, 4, 3)
    case("grid_sample", "float32 volume, nearest at pixel edges, reflection", O.forward,
         rand(1, 2, 3, 3, 4).astype(np.float32), grid_e3, "nearest", "reflection", False)
    volume, grid3 = rand(1, 2, 2, 3, 3), RNG.uniform(-2.5, 2.5, (1, 2, 2, 2, 3))
    grid3[0, 1, 1, 1, 2] = np.nan
    for mode, padding in itertools.product(("bilinear", "nearest"), ("zeros", "border", "reflection")):
        case("grid_sample", f"volume, {mode}, {padding}", O.forward, volume, grid3, mode, padding, True,
             backward=backward)


GROUPS = [conv_cases, conv_transpose_cases, pool_cases, unpool_cases, unfold_cases, pad_cases, resample_cases,
          elementwise_cases, special_cases, norm_cases, scan_cases, ctc_cases, grid_sample_cases, device_cases]


def main(argv) -> int:
    out_json = argv[argv.index("--json") + 1] if "--json" in argv else None
    import _ptx_check  # tests/_ptx_check.py: record kernel launches for test_cuda_ptx.py (simulator only)

    _ptx_check.start(argv)
    import numconv

    numconv.cuda.require()  # the caching memory pool, as users get it, before this script's first array
    probe = cuda.to_device(np.zeros(1))
    if dispatch.device_of(probe) != dispatch.CUDA:
        print(
            f"numconv.dispatch.device_of({type(probe).__module__}.{type(probe).__name__}) is "
            f"{dispatch.device_of(probe)!r}, not 'cuda': device arrays would never reach the CUDA kernels",
            file=sys.stderr,
        )
        if out_json:
            with open(out_json, "w") as f:
                json.dump({"fatal": "dispatch does not recognize Numba device arrays", "results": []}, f)
        return 2
    record_kernels()
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        if not guard_negative_indices():
            print("note: could not guard against negative indices in the simulator", file=sys.stderr)
        import _simulator

        if not _simulator.faster_block_loop():
            print("note: the simulator's block loop is not the one _simulator.py knows: left as it is", file=sys.stderr)
        # The simulator starts a Python thread for every thread of a block, idle ones included:
        # smaller blocks make the tiny cases cheaper and put more of them across block edges.
        import numconv.kernels.cuda as kernels_cuda
        from numconv.kernels.cuda import conv as cuda_conv

        kernels_cuda.BLOCK = 32
        cuda_conv.WG_REDUCE_THREADS = 32
        from numconv.kernels.cuda import norm as cuda_norm

        cuda_norm.BN_THREADS = 8  # fewer than some planes' sizes and more than others
        from numconv.kernels.cuda import scan as cuda_scan

        cuda_scan.SORT_RUN = 2  # so lines of 3 to 37 elements take one to five merge passes
    t0 = time.perf_counter()
    times = {}
    for group in GROUPS:
        t = time.perf_counter()
        group()
        times[group.__name__] = round(time.perf_counter() - t, 2)
        print(f"{group.__name__}: {times[group.__name__]:.1f} s", file=sys.stderr)
    problems = mirror_problems()
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1" and os.environ.get("NUMCONV_CUDA_FAST_LAUNCH", "1") != "0":
        # on a GPU the cases above ran through the lean launch path (kernels/cuda/fastlaunch.py)
        from numconv.kernels.cuda import fastlaunch

        st = fastlaunch.status()
        print(f"fast launch: {st}", file=sys.stderr)
        if not st["enabled"] or st["fast"] == 0:
            problems.append(f"the lean launch path was not taken on this GPU: {st}")
    RESULTS.append({"group": "mirror", "name": "CPU and CUDA kernels mirror each other, all ran",
                    "ok": not problems, "error": "\n".join(problems)})
    if problems:
        print("FAIL [mirror]\n  " + "\n  ".join(problems), file=sys.stderr)
    failed = [r for r in RESULTS if not r["ok"]]
    print(f"{len(RESULTS) - len(failed)} passed, {len(failed)} failed ({time.perf_counter() - t0:.1f} s, "
          f"simulator={os.environ.get('NUMBA_ENABLE_CUDASIM') == '1'})", file=sys.stderr)
    _ptx_check.finish(argv)  # signatures.json beside --json (or --signatures PATH)
    if out_json:
        with open(out_json, "w") as f:
            json.dump({"results": RESULTS, "times": times}, f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
