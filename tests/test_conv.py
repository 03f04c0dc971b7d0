"""conv1d/2d/3d and conv_transpose1d/2d/3d, forward and backward, against the float64 reference
(tests/reference.py, gradients by central differences) and against torch.nn.functional."""
from __future__ import annotations

import contextlib
import itertools
import sys
from dataclasses import dataclass, replace

import numpy as np
import pytest

import numconv.functional as F
from numconv import dispatch, shapes
import reference as R
from conftest import (
    arrange,
    assert_close,
    assert_dtype,
    random,
    torch_forward_backward,
    torch_or_fail,
    vdot,
)

MODES = ("reflect", "replicate", "circular")
# Every convolution implementation the dispatcher can choose runs on the same reference cases.
ALGORITHMS = dispatch.ALGORITHMS


# ----------------------------------------------------------------------------- configurations


@dataclass(frozen=True)
class Conv:
    """A convolution: input (N, C, *size) (N None: unbatched (C, *size)), weight (O, C/groups, *kernel)."""

    id: str
    size: tuple
    kernel: tuple
    C: int = 2
    O: int = 2
    N: int | None = 2
    stride: object = 1
    padding: object = 0
    dilation: object = 1
    groups: int = 1
    bias: bool = True
    layout: str = "C"  # memory layout of input, weight and grad_output handed to numconv
    torch: bool = True  # torch.nn.functional can compute it (False: reference only)

    @property
    def nd(self):
        return len(self.size)

    @property
    def x_shape(self):
        return ((self.N,) if self.N is not None else ()) + (self.C,) + tuple(self.size)

    @property
    def w_shape(self):
        return (self.O, self.C // self.groups) + tuple(self.kernel)

    def args(self):
        return (self.stride, self.padding, self.dilation, self.groups)


CONV = [
    Conv("2d_basic", (4, 4), (3, 3), C=3, O=2, padding=1),
    Conv("2d_kernel_eq_padded_input", (3, 4), (5, 6), padding=1),
    Conv("2d_kernel_eq_input_valid", (3, 2), (3, 2), C=3, O=1, padding="valid"),
    Conv("2d_1x1", (3, 4), (1, 1), C=3, O=4),
    Conv("2d_1x1_stride2_pad1", (4, 3), (1, 1), stride=2, padding=1),
    Conv("2d_stride_gt_kernel", (7, 6), (2, 2), stride=(3, 4), C=1, O=2),
    Conv("2d_dilation_padding", (5, 6), (3, 2), dilation=(2, 3), padding=(2, 1), C=1, O=2),
    Conv("2d_dilation_stride_aniso", (6, 5), (2, 3), dilation=(3, 1), padding=(1, 0), stride=(2, 1), N=1),
    Conv("2d_depthwise", (4, 4), (3, 3), C=3, O=3, groups=3, padding=1),
    Conv("2d_depthwise_multiplier2", (4, 3), (3, 2), C=2, O=4, groups=2, padding=(1, 0), stride=(1, 2)),
    Conv("2d_groups2", (4, 4), (2, 3), C=4, O=2, groups=2, stride=2, padding=1, N=1),
    Conv("2d_same_even_kernel", (4, 5), (2, 4), padding="same"),
    Conv("2d_same_dilated", (4, 5), (3, 2), dilation=(2, 3), padding="same", C=1),
    Conv("2d_batch1_one_channel", (5, 4), (3, 3), C=1, O=1, N=1, padding=(0, 1)),
    Conv("2d_no_bias", (4, 4), (2, 2), bias=False, stride=(2, 1)),
    Conv("2d_unbatched", (4, 5), (3, 2), N=None, padding=1, C=2, O=3),
    Conv("2d_fortran", (4, 5), (3, 3), padding=1, layout="F"),
    Conv("2d_strided_view", (5, 4), (2, 3), padding=(1, 0), stride=(2, 1), layout="strided"),
    Conv("2d_reversed_view_groups", (4, 4), (3, 3), C=2, O=4, groups=2, padding=1, layout="reversed"),
    Conv("1d_basic", (7,), (3,), stride=2, padding=1, O=3),
    Conv("1d_dilation_groups", (8,), (3,), dilation=3, padding=2, C=2, O=4, groups=2),
    Conv("1d_same_even", (6,), (4,), padding="same", C=1, O=2),
    Conv("1d_unbatched_fortran", (6,), (2,), N=None, stride=3, padding=1, layout="F"),
    Conv("1d_kernel_eq_padded", (3,), (7,), padding=2, N=1),
    Conv("3d_basic", (3, 2, 4), (2, 2, 3), C=2, O=2, N=1, stride=(1, 2, 1), padding=(1, 0, 1)),
    Conv("3d_groups_dilation", (3, 4, 3), (2, 2, 2), C=2, O=2, groups=2, N=1, dilation=(1, 2, 1), padding=(0, 1, 1)),
    Conv("3d_unbatched_strided", (3, 3, 3), (2, 1, 2), N=None, C=1, O=2, padding=(1, 0, 0), layout="strided"),
    Conv("3d_same", (3, 2, 3), (2, 3, 2), C=1, O=2, N=1, padding="same"),
    # TensorFlow 'same' with stride > 1, and per-side padding: numconv extensions (reference only)
    Conv("2d_same_stride2_odd", (5, 4), (3, 3), stride=2, padding="same", torch=False),
    Conv("2d_same_stride2_even", (5, 6), (4, 2), stride=2, padding="same", torch=False, N=1),
    Conv("2d_same_stride_dilated", (5, 4), (2, 3), stride=(2, 3), dilation=(2, 1), padding="same", torch=False, N=1),
    Conv("1d_same_stride3", (8,), (4,), stride=3, padding="same", torch=False),
    Conv("3d_same_stride2", (3, 4, 3), (2, 3, 2), stride=2, padding="same", C=1, N=1, torch=False),
    Conv("2d_per_side", (4, 4), (3, 2), padding=((0, 2), (1, 0)), torch=False),
    Conv("2d_per_side_stride_groups", (4, 5), (2, 3), padding=((2, 1), (0, 3)), stride=2, C=2, O=4, groups=2,
         torch=False, N=1),
    Conv("1d_per_side", (5,), (3,), padding=((3, 1),), stride=2, torch=False),
    Conv("3d_per_side_unbatched", (2, 3, 3), (2, 2, 2), padding=((1, 0), (0, 1), (2, 1)), N=None, C=1, torch=False),
]


def random_conv_configs(count, seed):
    """A seeded grid of random valid convolutions (tiny; torch-compatible symmetric padding)."""
    r = np.random.default_rng(seed)
    layouts = ("C", "F", "strided", "reversed")
    out = []
    while len(out) < count:
        nd = int(r.integers(1, 4))
        groups = int(r.choice([1, 1, 2, 3]))
        C, O = groups * int(r.integers(1, 3)), groups * int(r.integers(1, 3))
        kernel = tuple(int(v) for v in r.integers(1, 4, nd))
        stride = tuple(int(v) for v in r.integers(1, 4, nd))
        dilation = tuple(int(v) for v in r.integers(1, 3, nd))
        padding = tuple(int(v) for v in r.integers(0, 3, nd))
        size = tuple(int(v) for v in r.integers(1, (7, 6, 4)[nd - 1], nd))
        if any(R.conv_out_size(n, k, s, d, p, p) < 1 for n, k, s, d, p in zip(size, kernel, stride, dilation, padding)):
            continue
        N = [None, 1, 2][int(r.integers(0, 3))]
        if nd == 3 and N == 2:
            N = 1
        cid = (f"rand{len(out):02d}_{nd}d_n{size}_k{kernel}_s{stride}_p{padding}_d{dilation}_g{groups}_C{C}_O{O}"
               .replace(" ", ""))
        out.append(Conv(cid, size, kernel, C=C, O=O, N=N, stride=stride, padding=padding, dilation=dilation,
                        groups=groups, bias=bool(r.integers(0, 2)), layout=layouts[int(r.integers(0, 4))]))
    return out


CONV += random_conv_configs(16, seed=20240611)
TORCH_CONV = [c for c in CONV if c.torch]


def ids(cfgs):
    return [c.id for c in cfgs]


def make_conv(cfg, rng, dtype=np.float64):
    x = random(rng, cfg.x_shape, dtype)
    w = random(rng, cfg.w_shape, dtype)
    b = random(rng, (cfg.O,), dtype) if cfg.bias else None
    return x, w, b


def nc_conv(cfg, x, w, b, mode="zeros"):
    """numconv's convN d, all arguments positional (checks the argument order is torch's)."""
    return getattr(F, f"conv{cfg.nd}d")(arrange(x, cfg.layout), arrange(w, cfg.layout), b, *cfg.args(), mode)


def nc_conv_backward(cfg, gy, x, w, b, mode="zeros"):
    return getattr(F, f"conv{cfg.nd}d_backward")(
        arrange(gy, cfg.layout), arrange(x, cfg.layout), arrange(w, cfg.layout), b, *cfg.args(), mode
    )


def ref_conv(cfg, x, w, b, mode="zeros"):
    batched = cfg.N is not None
    y = R.conv_nd(x if batched else x[None], w, b, *cfg.args(), padding_mode=mode)
    return y if batched else y[0]


def fd_grads(ref, gy, x, w, b):
    """Central-difference gradients of sum(ref(x, w, b) * gy) w.r.t. x, w and b."""
    gx = R.numerical_grad(lambda t: ref(t, w, b), x, gy)
    gw = R.numerical_grad(lambda t: ref(x, t, b), w, gy)
    gb = None if b is None else R.numerical_grad(lambda t: ref(x, w, t), b, gy)
    return gx, gw, gb


def check_grads(got, expected, dtype, kind, what):
    for name, g, e in zip(("grad_input", "grad_weight", "grad_bias"), got, expected):
        if e is None:
            assert g is None, f"{what}: {name} should be None without a bias, got {type(g).__name__}"
            continue
        assert_dtype(g, dtype, f"{what} {name}")
        assert_close(g, e, dtype, kind, f"{what} {name}")


# ----------------------------------------------------------------------------- convolution vs reference


@pytest.mark.parametrize("cfg", CONV, ids=ids(CONV))
def test_conv_forward_vs_reference(cfg, rng):
    x, w, b = make_conv(cfg, rng)
    expected = ref_conv(cfg, x, w, b)
    if cfg.padding == "same":  # TensorFlow's rule: out = ceil(n / stride), whatever the kernel
        stride = R.ntuple(cfg.stride, cfg.nd)
        assert expected.shape[-cfg.nd:] == tuple(-(-n // s) for n, s in zip(cfg.size, stride))
    for algorithm, dtype in itertools.product(ALGORITHMS, (np.float64, np.float32)):
        xd, wd, bd = (None if a is None else a.astype(dtype) for a in (x, w, b))
        x_before = xd.copy()
        with dispatch.use_algorithm(algorithm):
            y = nc_conv(cfg, xd, wd, bd)
        assert_dtype(y, dtype, f"conv{cfg.nd}d output")
        assert_close(y, expected, dtype, "exact", f"conv{cfg.nd}d {cfg.id} forward ({algorithm})")
        assert np.array_equal(xd, x_before), "the input was modified"


@pytest.mark.parametrize("cfg", CONV, ids=ids(CONV))
def test_conv_backward_vs_numerical(cfg, rng):
    x, w, b = make_conv(cfg, rng)
    y = ref_conv(cfg, x, w, b)
    gy = random(rng, y.shape)
    expected = fd_grads(lambda *a: ref_conv(cfg, *a), gy, x, w, b)
    for algorithm, dtype in itertools.product(ALGORITHMS, (np.float64, np.float32)):
        cast = [None if a is None else a.astype(dtype) for a in (gy, x, w, b)]
        with dispatch.use_algorithm(algorithm):
            got = nc_conv_backward(cfg, *cast)
        check_grads(got, expected, dtype, "fd", f"conv{cfg.nd}d_backward {cfg.id} ({algorithm})")


# ----------------------------------------------------------------------------- convolution vs torch


def torch_conv(torch, cfg, mode="zeros"):
    tf = torch.nn.functional
    conv = getattr(tf, f"conv{cfg.nd}d")
    if mode == "zeros":
        return lambda x, w, b: conv(x, w, b, *cfg.args())
    lo, hi = R.conv_padding(cfg.padding, cfg.nd, cfg.size, cfg.kernel, R.ntuple(cfg.stride, cfg.nd),
                            R.ntuple(cfg.dilation, cfg.nd))
    flat = sum(((a, z) for a, z in zip(lo[::-1], hi[::-1])), ())

    def f(x, w, b):  # pad-then-convolve, as nn.ConvNd(padding_mode=mode) does
        xb = x if cfg.N is not None else x[None]
        y = conv(tf.pad(xb, flat, mode=mode), w, b, cfg.stride, 0, cfg.dilation, cfg.groups)
        return y if cfg.N is not None else y[0]

    return f


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cfg", TORCH_CONV, ids=ids(TORCH_CONV))
def test_conv_vs_torch(cfg, dtype, rng):
    torch = torch_or_fail()
    x, w, b = make_conv(cfg, rng, dtype)
    (y_t, gy, (gx_t, gw_t, gb_t)) = torch_forward_backward(torch, torch_conv(torch, cfg), (x, w, b), rng=rng)
    y = nc_conv(cfg, x, w, b)
    assert_dtype(y, dtype, "output")
    assert_close(y, y_t, dtype, "exact", f"conv{cfg.nd}d {cfg.id} vs torch")
    check_grads(nc_conv_backward(cfg, gy, x, w, b), (gx_t, gw_t, gb_t), dtype, "exact", f"conv{cfg.nd}d {cfg.id} vs torch")


def test_conv_defaults_match_torch(rng):
    torch = torch_or_fail()
    x, w = random(rng, (2, 3, 5, 4)), random(rng, (4, 3, 2, 2))
    expected = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w)).numpy()
    assert_close(F.conv2d(x, w), expected, what="conv2d(x, w) with defaults")


# ----------------------------------------------------------------------------- padding modes


PAD_MODE_CONV = [
    Conv("2d_pad1", (4, 5), (3, 3), padding=1, N=1),
    Conv("2d_aniso_stride_groups", (5, 4), (3, 2), padding=(2, 1), stride=(2, 1), C=2, O=4, groups=2, N=1),
    Conv("2d_dilated_unbatched", (4, 5), (2, 3), padding=(1, 2), dilation=(2, 1), N=None),
    Conv("2d_same_even", (4, 4), (2, 3), padding="same", C=1, layout="F"),
    Conv("1d_pad_eq_size", (3,), (3,), padding=2, N=1),  # reflect needs pad < size: that row is skipped below
    Conv("1d_stride_dilation", (6,), (3,), padding=2, stride=2, dilation=2),
    Conv("3d_pad", (3, 2, 3), (2, 2, 3), padding=(1, 1, 2), C=1, O=2, N=1),
    Conv("2d_same_stride2", (5, 4), (3, 2), padding="same", stride=2, torch=False, N=1),
    Conv("2d_per_side", (4, 4), (2, 3), padding=((0, 2), (3, 0)), torch=False, N=1),
]
MODE_CASES = [(m, c) for c in PAD_MODE_CONV for m in MODES if not (m == "reflect" and c.id == "1d_pad_eq_size")]
MODE_IDS = [f"{m}-{c.id}" for m, c in MODE_CASES]


@pytest.mark.parametrize("mode,cfg", MODE_CASES, ids=MODE_IDS)
def test_conv_padding_mode_vs_reference(mode, cfg, rng):
    x, w, b = make_conv(cfg, rng)
    y_ref = ref_conv(cfg, x, w, b, mode)
    y = nc_conv(cfg, x, w, b, mode)
    assert_close(y, y_ref, what=f"conv{cfg.nd}d padding_mode={mode} {cfg.id}")
    y32 = nc_conv(cfg, *(None if a is None else a.astype(np.float32) for a in (x, w, b)), mode)
    assert_dtype(y32, np.float32, "float32 output")
    assert_close(y32, y_ref, np.float32, what=f"float32 conv{cfg.nd}d padding_mode={mode} {cfg.id}")
    gy = random(rng, y_ref.shape)
    expected = fd_grads(lambda *a: ref_conv(cfg, *a, mode), gy, x, w, b)
    check_grads(nc_conv_backward(cfg, gy, x, w, b, mode), expected, np.float64, "fd",
                f"conv{cfg.nd}d_backward padding_mode={mode} {cfg.id}")


TORCH_MODE_CASES = [(m, c) for m, c in MODE_CASES if c.torch]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("mode,cfg", TORCH_MODE_CASES, ids=[f"{m}-{c.id}" for m, c in TORCH_MODE_CASES])
def test_conv_padding_mode_vs_torch(mode, cfg, dtype, rng):
    torch = torch_or_fail()
    x, w, b = make_conv(cfg, rng, dtype)
    y_t, gy, grads_t = torch_forward_backward(torch, torch_conv(torch, cfg, mode), (x, w, b), rng=rng)
    assert_close(nc_conv(cfg, x, w, b, mode), y_t, dtype, what=f"conv{cfg.nd}d padding_mode={mode} {cfg.id} vs torch")
    check_grads(nc_conv_backward(cfg, gy, x, w, b, mode), grads_t, dtype, "exact",
                f"conv{cfg.nd}d_backward padding_mode={mode} {cfg.id} vs torch")


def test_conv2d_padding_mode_vs_torch_module(rng):
    """nn.Conv2d(padding_mode=...) itself, not only pad-then-conv."""
    torch = torch_or_fail()
    x = random(rng, (2, 2, 5, 4))
    for mode in MODES:
        m = torch.nn.Conv2d(2, 4, (3, 2), stride=(1, 2), padding=(2, 1), dilation=(1, 2), groups=2,
                            padding_mode=mode).double()
        w, b = m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()
        expected = m(torch.from_numpy(x)).detach().numpy()
        got = F.conv2d(x, w, b, (1, 2), (2, 1), (1, 2), 2, padding_mode=mode)
        assert_close(got, expected, what=f"conv2d padding_mode={mode} vs nn.Conv2d")


# ----------------------------------------------------------------------------- transposed convolution


@dataclass(frozen=True)
class ConvT:
    """A transposed convolution: input (N, C, *size), weight (C, O/groups, *kernel)."""

    id: str
    size: tuple
    kernel: tuple
    C: int = 2
    O: int = 2
    N: int | None = 2
    stride: object = 1
    padding: object = 0
    output_padding: object = 0
    groups: int = 1
    dilation: object = 1
    bias: bool = True
    layout: str = "C"
    torch: bool = True

    nd = Conv.nd
    x_shape = Conv.x_shape

    @property
    def w_shape(self):
        return (self.C, self.O // self.groups) + tuple(self.kernel)

    def args(self):
        return (self.stride, self.padding, self.output_padding, self.groups, self.dilation)


CONVT = [
    ConvT("2d_basic", (3, 4), (3, 3), C=2, O=3, stride=2, padding=1, output_padding=1),
    ConvT("2d_groups_aniso", (3, 3), (2, 3), C=4, O=2, groups=2, stride=(2, 1), padding=(0, 1), dilation=(1, 2),
          output_padding=(1, 0), N=1),
    ConvT("2d_depthwise", (3, 3), (3, 2), C=3, O=3, groups=3, stride=2, padding=1),
    ConvT("2d_depthwise_multiplier2", (3, 2), (2, 2), C=2, O=4, groups=2, stride=(1, 2)),
    ConvT("2d_1x1_stride2", (3, 3), (1, 1), C=3, O=2, stride=2, output_padding=1),
    ConvT("2d_stride_gt_kernel", (3, 2), (2, 2), stride=(3, 4), output_padding=(2, 1), C=1),
    ConvT("2d_dilation_padding", (3, 4), (3, 2), dilation=(2, 3), padding=(2, 1), C=1, O=2),
    ConvT("2d_output_padding_from_dilation", (3, 3), (2, 2), dilation=2, output_padding=1, N=1),
    ConvT("2d_padding_eats_output", (3, 3), (3, 3), stride=1, padding=2, C=2, O=1),  # out 1x1
    ConvT("2d_batch1_one_channel", (4, 3), (2, 3), C=1, O=1, N=1, stride=2),
    ConvT("2d_no_bias", (3, 3), (2, 2), bias=False, stride=2),
    ConvT("2d_unbatched", (3, 4), (2, 2), N=None, stride=2, padding=1, O=3),
    ConvT("2d_fortran", (3, 3), (3, 2), stride=2, padding=(1, 0), layout="F"),
    ConvT("2d_strided_view", (3, 3), (2, 3), stride=(1, 2), layout="strided", N=1),
    ConvT("2d_reversed_view", (2, 3), (3, 3), C=2, O=2, groups=2, stride=2, padding=1, layout="reversed"),
    ConvT("1d_basic", (4,), (3,), stride=2, padding=1, output_padding=1, O=3),
    ConvT("1d_dilation_groups", (4,), (3,), dilation=2, padding=2, C=2, O=4, groups=2, stride=3, output_padding=2),
    ConvT("1d_unbatched_fortran", (3,), (4,), N=None, stride=2, layout="F"),
    ConvT("3d_basic", (2, 2, 3), (2, 3, 2), C=2, O=1, N=1, stride=(2, 1, 2), padding=(0, 1, 1), output_padding=(1, 0, 0)),
    ConvT("3d_groups_dilation", (2, 3, 2), (2, 2, 2), C=2, O=2, groups=2, N=1, dilation=(2, 1, 1), padding=(1, 0, 0)),
    ConvT("3d_unbatched", (2, 2, 2), (2, 1, 2), N=None, C=1, O=2, stride=2, padding=(0, 0, 1)),
    # per-side padding: numconv extension (reference only)
    ConvT("2d_per_side", (3, 3), (3, 3), stride=2, padding=((0, 2), (1, 0)), output_padding=(1, 0), torch=False),
    ConvT("1d_per_side", (4,), (3,), stride=2, padding=((2, 0),), torch=False, N=1),
    ConvT("3d_per_side", (2, 2, 2), (2, 2, 2), stride=2, padding=((1, 0), (0, 1), (1, 1)), torch=False, N=1, C=1),
]


def random_conv_transpose_configs(count, seed):
    r = np.random.default_rng(seed)
    layouts = ("C", "F", "strided", "reversed")
    out = []
    while len(out) < count:
        nd = int(r.integers(1, 4))
        groups = int(r.choice([1, 1, 2, 3]))
        C, O = groups * int(r.integers(1, 3)), groups * int(r.integers(1, 3))
        kernel = tuple(int(v) for v in r.integers(1, 4, nd))
        stride = tuple(int(v) for v in r.integers(1, 4, nd))
        dilation = tuple(int(v) for v in r.integers(1, 3, nd))
        padding = tuple(int(v) for v in r.integers(0, 3, nd))
        opad = tuple(int(r.integers(0, max(s, d))) for s, d in zip(stride, dilation))
        size = tuple(int(v) for v in r.integers(1, (5, 4, 3)[nd - 1], nd))
        outs = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1
                for n, s, p, d, k, op in zip(size, stride, padding, dilation, kernel, opad)]
        if min(outs) < 1:
            continue
        N = [None, 1, 2][int(r.integers(0, 3))]
        if nd == 3 and N == 2:
            N = 1
        cid = (f"rand{len(out):02d}_{nd}d_n{size}_k{kernel}_s{stride}_p{padding}_op{opad}_d{dilation}_g{groups}"
               .replace(" ", ""))
        out.append(ConvT(cid, size, kernel, C=C, O=O, N=N, stride=stride, padding=padding, output_padding=opad,
                         groups=groups, dilation=dilation, bias=bool(r.integers(0, 2)),
                         layout=layouts[int(r.integers(0, 4))]))
    return out


CONVT += random_conv_transpose_configs(12, seed=20240612)
TORCH_CONVT = [c for c in CONVT if c.torch]


def nc_convt(cfg, x, w, b, mode="zeros"):
    fn = getattr(F, f"conv_transpose{cfg.nd}d")
    return fn(arrange(x, cfg.layout), arrange(w, cfg.layout), b, *cfg.args(), padding_mode=mode)


def nc_convt_backward(cfg, gy, x, w, b, mode="zeros"):
    fn = getattr(F, f"conv_transpose{cfg.nd}d_backward")
    return fn(arrange(gy, cfg.layout), arrange(x, cfg.layout), arrange(w, cfg.layout), b, *cfg.args(), padding_mode=mode)


def ref_convt(cfg, x, w, b, mode="zeros"):
    batched = cfg.N is not None
    y = R.conv_transpose_nd(x if batched else x[None], w, b, *cfg.args(), padding_mode=mode)
    return y if batched else y[0]


@pytest.mark.parametrize("cfg", CONVT, ids=ids(CONVT))
def test_conv_transpose_forward_vs_reference(cfg, rng):
    x, w, b = make_conv(cfg, rng)
    expected = ref_convt(cfg, x, w, b)
    for algorithm, dtype in itertools.product(ALGORITHMS, (np.float64, np.float32)):
        with dispatch.use_algorithm(algorithm):
            y = nc_convt(cfg, *(None if a is None else a.astype(dtype) for a in (x, w, b)))
        assert_dtype(y, dtype, f"conv_transpose{cfg.nd}d output")
        assert_close(y, expected, dtype, "exact", f"conv_transpose{cfg.nd}d {cfg.id} forward ({algorithm})")


@pytest.mark.parametrize("cfg", CONVT, ids=ids(CONVT))
def test_conv_transpose_backward_vs_numerical(cfg, rng):
    x, w, b = make_conv(cfg, rng)
    gy = random(rng, ref_convt(cfg, x, w, b).shape)
    expected = fd_grads(lambda *a: ref_convt(cfg, *a), gy, x, w, b)
    for algorithm, dtype in itertools.product(ALGORITHMS, (np.float64, np.float32)):
        with dispatch.use_algorithm(algorithm):
            got = nc_convt_backward(cfg, *(None if a is None else a.astype(dtype) for a in (gy, x, w, b)))
        check_grads(got, expected, dtype, "fd", f"conv_transpose{cfg.nd}d_backward {cfg.id} ({algorithm})")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cfg", TORCH_CONVT, ids=ids(TORCH_CONVT))
def test_conv_transpose_vs_torch(cfg, dtype, rng):
    torch = torch_or_fail()
    fn = getattr(torch.nn.functional, f"conv_transpose{cfg.nd}d")
    x, w, b = make_conv(cfg, rng, dtype)
    y_t, gy, grads_t = torch_forward_backward(torch, lambda x, w, b: fn(x, w, b, *cfg.args()), (x, w, b), rng=rng)
    y = nc_convt(cfg, x, w, b)
    assert_dtype(y, dtype, "output")
    assert_close(y, y_t, dtype, what=f"conv_transpose{cfg.nd}d {cfg.id} vs torch")
    check_grads(nc_convt_backward(cfg, gy, x, w, b), grads_t, dtype, "exact", f"conv_transpose{cfg.nd}d {cfg.id} vs torch")


def test_conv_transpose_defaults_match_torch(rng):
    torch = torch_or_fail()
    x, w = random(rng, (2, 3, 3, 4)), random(rng, (3, 2, 2, 3))
    expected = torch.nn.functional.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w)).numpy()
    assert_close(F.conv_transpose2d(x, w), expected, what="conv_transpose2d(x, w) with defaults")


# ----------------------------------------------------------------------------- transposed convolution with a padding mode
# conv_transpose(y; mode) is the adjoint of conv(x; mode) with the same weight:
#     <conv(x; w, mode), y> == <x, conv_transpose(y; w, mode)>
# The transposed convolution's output must have the convolution's input size, so its
# output_padding is the remainder (n + lo + hi - d*(k-1) - 1) mod s.


ADJOINT = [
    Conv("2d_pad1", (4, 5), (3, 3), padding=1, O=3),
    Conv("2d_stride2_remainder", (6, 5), (3, 2), padding=(1, 1), stride=2, C=2, O=4, groups=2, N=1),
    Conv("2d_dilated_aniso", (5, 6), (2, 3), padding=(1, 2), dilation=(2, 1), stride=(1, 3), N=1),
    Conv("2d_per_side", (4, 4), (2, 3), padding=((0, 2), (2, 1)), N=1),
    Conv("1d_stride3", (7,), (3,), padding=2, stride=3, O=1),
    Conv("1d_unbatched", (5,), (2,), padding=((1, 0),), N=None, dilation=2),
    Conv("3d_pad", (3, 2, 3), (2, 2, 2), padding=(1, 1, 2), stride=(2, 1, 1), C=1, O=2, N=1),
]


def _transpose_of(cfg):
    """The ConvT that is the adjoint of convolution ``cfg`` (same weight, output of cfg's input size)."""
    nd = cfg.nd
    stride, dilation = R.ntuple(cfg.stride, nd), R.ntuple(cfg.dilation, nd)
    lo, hi = R.conv_padding(cfg.padding, nd)
    out = [R.conv_out_size(*a) for a in zip(cfg.size, cfg.kernel, stride, dilation, lo, hi)]
    opad = tuple((n + a + z - d * (k - 1) - 1) % s for n, a, z, d, k, s in zip(cfg.size, lo, hi, dilation, cfg.kernel, stride))
    return ConvT(cfg.id, tuple(out), cfg.kernel, C=cfg.O, O=cfg.C, N=cfg.N, stride=stride, padding=tuple(zip(lo, hi)),
                 output_padding=opad, groups=cfg.groups, dilation=dilation, bias=False, layout=cfg.layout)


ADJOINT_CASES = [(m, c) for c in ADJOINT for m in ("zeros",) + MODES]


@pytest.mark.parametrize("mode,cfg", ADJOINT_CASES, ids=[f"{m}-{c.id}" for m, c in ADJOINT_CASES])
def test_conv_transpose_padding_mode_adjoint(mode, cfg, rng):
    t = _transpose_of(cfg)
    x = random(rng, cfg.x_shape)
    w = random(rng, cfg.w_shape)
    y = nc_conv(cfg, x, w, None, mode)
    gy = random(rng, y.shape)
    xt = nc_convt(t, gy, w, None, mode)
    assert xt.shape == x.shape, f"conv_transpose output shape {xt.shape} != conv input shape {x.shape}"
    lhs, rhs = vdot(y, gy), vdot(x, xt)
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs)), (
        f"<conv(x; {mode}), y> = {lhs!r} but <x, conv_transpose(y; {mode})> = {rhs!r} ({cfg.id})"
    )
    # the same, element by element, against the reference's scatter definition
    assert_close(xt, ref_convt(t, gy, w, None, mode), what=f"conv_transpose{cfg.nd}d padding_mode={mode} {cfg.id}")


CONVT_MODE = [
    ConvT("2d", (3, 4), (3, 2), stride=2, padding=(1, 1), output_padding=1, C=2, O=3),
    ConvT("2d_groups_dilation_unbatched", (3, 3), (2, 2), C=2, O=2, groups=2, dilation=(2, 1), padding=(1, 0), N=None),
    ConvT("2d_per_side", (3, 3), (2, 3), stride=(1, 2), padding=((1, 0), (0, 2)), N=1, layout="F"),
    ConvT("1d", (4,), (3,), stride=2, padding=2, output_padding=1, N=1),
    ConvT("3d", (2, 2, 2), (2, 2, 2), stride=2, padding=(1, 0, 1), N=1, C=1),
]
CONVT_MODE_CASES = [(m, c) for c in CONVT_MODE for m in MODES]


@pytest.mark.parametrize("mode,cfg", CONVT_MODE_CASES, ids=[f"{m}-{c.id}" for m, c in CONVT_MODE_CASES])
def test_conv_transpose_padding_mode_vs_reference(mode, cfg, rng):
    x, w, b = make_conv(cfg, rng)
    expected = ref_convt(cfg, x, w, b, mode)
    y = nc_convt(cfg, x, w, b, mode)
    assert_close(y, expected, what=f"conv_transpose{cfg.nd}d padding_mode={mode} {cfg.id}")
    y32 = nc_convt(cfg, *(None if a is None else a.astype(np.float32) for a in (x, w, b)), mode)
    assert_dtype(y32, np.float32, "float32 output")
    assert_close(y32, expected, np.float32, what=f"float32 conv_transpose{cfg.nd}d padding_mode={mode} {cfg.id}")
    gy = random(rng, expected.shape)
    grads = fd_grads(lambda *a: ref_convt(cfg, *a, mode), gy, x, w, b)
    check_grads(nc_convt_backward(cfg, gy, x, w, b, mode), grads, np.float64, "fd",
                f"conv_transpose{cfg.nd}d_backward padding_mode={mode} {cfg.id}")


# ----------------------------------------------------------------------------- consistency


@pytest.mark.parametrize("cfg", [c for c in CONV if c.id in ("2d_basic", "2d_same_stride2_even", "1d_per_side",
                                                              "3d_groups_dilation")],
                         ids=["2d_basic", "2d_same_stride2_even", "1d_per_side", "3d_groups_dilation"])
def test_conv_input_grad_is_transposed_conv(cfg, rng):
    """conv's input gradient equals conv_transpose of grad_output with the same weight and padding."""
    x, w, _ = make_conv(cfg, rng)
    y = nc_conv(cfg, x, w, None)
    gy = random(rng, y.shape)
    gx, gw, gb = nc_conv_backward(cfg, gy, x, w, None)
    assert gb is None
    nd = cfg.nd
    stride, dilation = R.ntuple(cfg.stride, nd), R.ntuple(cfg.dilation, nd)
    lo, hi = R.conv_padding(cfg.padding, nd, cfg.size, cfg.kernel, stride, dilation)
    t = replace(_transpose_of(replace(cfg, padding=tuple(zip(lo, hi)))), layout="C")
    assert_close(gx, nc_convt(t, gy, w, None), what=f"conv{nd}d input grad vs conv_transpose{nd}d ({cfg.id})")


# ----------------------------------------------------------------------------- the torch helper itself


def test_torch_or_fail_fails_under_ci_and_skips_elsewhere(monkeypatch):
    """Without torch: CI=true must fail (the torch comparisons are mandatory there), else skip."""
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run"):
        torch_or_fail()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        torch_or_fail()


# ----------------------------------------------------------------------------- blocked paths at size

# Shapes big enough to reach the blocking of the fast kernels, which the tiny cases above do not:
# more than one CHUNK of flat positions, output channels that are not a multiple of four, tap
# counts that are not a multiple of four, many GEMM tiles. (x shape, w shape, keyword arguments)
SIZED = [
    ((2, 5, 33, 31), (6, 5, 3, 3), dict(padding=1)),
    ((1, 6, 24, 40), (10, 3, 3, 2), dict(padding=((2, 1), (1, 0)), dilation=(2, 1), groups=2)),
    ((2, 9, 20, 30), (8, 9, 1, 1), {}),
    ((1, 2, 5, 9, 14), (5, 2, 2, 3, 3), dict(padding=1)),
    # strided: the stride phases of the planes path, odd sizes so the phases differ in length
    ((2, 3, 29, 30), (5, 3, 7, 7), dict(stride=2, padding=3)),
    ((1, 4, 17, 19), (6, 4, 3, 3), dict(stride=(2, 3), padding=1, dilation=(1, 2))),
    ((2, 5, 21, 22), (6, 5, 1, 1), dict(stride=2)),
    ((1, 2, 7, 9, 11), (3, 2, 3, 2, 3), dict(stride=(2, 1, 3), padding=(1, 0, 2))),
    # the input gradient's phases from one padded copy: padding past the kernel's reach (phases
    # that start inside gy), groups with a 4x4 stride-2 kernel (the transposed upsampling layer)
    ((1, 3, 13, 12), (4, 3, 3, 3), dict(stride=2, padding=3)),
    ((2, 4, 15, 16), (6, 2, 4, 4), dict(stride=2, padding=1, groups=2)),
    # planes' row-at-a-time forward (rows whose outputs fill whole vectors: 31-32 wide, padded
    # rows of 33-34): more taps than one KB block, strided, 3-d, no bias
    ((1, 30, 5, 32), (11, 30, 3, 3), dict(padding=1)),
    ((1, 3, 6, 63), (5, 3, 3, 3), dict(stride=2, padding=1, dilation=(1, 2))),
    ((1, 2, 3, 4, 31), (3, 2, 2, 2, 3), dict(padding=(0, 1, 1))),
    ((2, 4, 3, 32), (9, 4, 1, 3), dict(padding=(0, 1), bias=False)),
]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("xs,ws,kw", SIZED, ids=[f"{len(x) - 2}d_{x[1]}to{w[0]}_{w[2:]}" for x, w, _ in SIZED])
def test_conv_at_size_vs_reference(xs, ws, kw, algorithm, rng):
    """Forward against the float64 reference; the input and weight gradients through the adjoint
    identities <conv(x, w), gy> = <x, gx> = <w, gw>, with the reference convolution on both sides."""
    _check_at_size(xs, ws, kw, algorithm, rng)


def _check_at_size(xs, ws, kw, algorithm, rng):
    """``test_conv_at_size_vs_reference``'s checks, in both dtypes, with ``algorithm`` forced."""
    nd = len(xs) - 2
    kw = dict(kw)
    x, w, b = random(rng, xs), random(rng, ws), (random(rng, (ws[0],)) if kw.pop("bias", True) else None)
    expected = R.conv_nd(x, w, b, **kw)
    gy = random(rng, expected.shape)
    for dtype in (np.float64, np.float32):
        xd, wd, gyd = (a.astype(dtype) for a in (x, w, gy))
        bd = None if b is None else b.astype(dtype)
        with dispatch.use_algorithm(algorithm):
            y = getattr(F, f"conv{nd}d")(xd, wd, bd, **kw)
            gx, gw, gb = getattr(F, f"conv{nd}d_backward")(gyd, xd, wd, bd, **kw)
        assert_close(y, expected, dtype, "exact", f"conv{nd}d forward ({algorithm})")
        linear_in_x = vdot(R.conv_nd(x, w, None, **kw), gy)
        linear_in_w = linear_in_x  # the same bilinear form, read as a function of w
        tol = 1e-9 if dtype == np.float64 else 2e-4
        scale = np.sqrt(vdot(x, x) * vdot(gy, gy)) * np.sqrt(w.size)
        assert abs(vdot(x, gx) - linear_in_x) <= tol * scale, f"input gradient ({algorithm}, {dtype.__name__})"
        assert abs(vdot(w, gw) - linear_in_w) <= tol * scale, f"weight gradient ({algorithm}, {dtype.__name__})"
        if b is not None:
            assert_close(gb, gy.sum(axis=(0,) + tuple(range(2, gy.ndim))), dtype, "exact", "bias gradient")


@pytest.mark.parametrize("xs,ws,kw", SIZED + [
    # more images than one block of LANES, the last one part-filled; padding past the kernel
    ((19, 3, 9, 11), (5, 3, 3, 3), dict(padding=1)),
    ((33, 4, 6, 7), (6, 2, 2, 3), dict(padding=(3, 0), dilation=(1, 2), groups=2)),
], ids=lambda v: str(v) if isinstance(v, dict) else "x".join(map(str, v)))
def test_planes_forward_on_blocks_of_images_vs_reference(xs, ws, kw, rng, monkeypatch):
    """The planes forward with LANES images side by side (forced at every shape, strided too):
    the checks of ``test_conv_at_size_vs_reference``, whose input gradient at stride 1 is that
    forward of gy."""
    from numconv.kernels.cpu import conv_planes

    monkeypatch.setattr(conv_planes, "FORCE_LANES", True)
    _check_at_size(xs, ws, kw, "planes", rng)


def test_planes_chooses_blocks_of_images_for_small_planes():
    """LeNet-5's second layer (100 outputs of 160 computed per image), its first (784 of 896) and
    ResNet-18's 4x4 layers (16 of 32), strided or not, run on blocks of images; a 32-wide layer
    (32 of 32), a batch of one block and planes too large for the workspace do not."""
    from numconv.kernels.cpu.conv_planes import _by_lanes

    one = (1, 1, 1)
    assert _by_lanes((64, 16, 1, 10, 10), (16, 6, 1, 5, 5), one, one, 1, 4)
    assert _by_lanes((64, 6, 1, 28, 28), (6, 1, 1, 5, 5), one, one, 1, 4)
    assert not _by_lanes((32, 64, 1, 32, 32), (64, 3, 1, 3, 3), one, one, 1, 4)
    assert _by_lanes((32, 512, 1, 4, 4), (512, 512, 1, 3, 3), one, one, 1, 4)
    assert _by_lanes((32, 512, 1, 4, 4), (512, 256, 1, 3, 3), (1, 2, 2), one, 1, 4)
    assert not _by_lanes((32, 64, 1, 4, 4), (64, 4096, 1, 3, 3), one, one, 1, 4)
    assert not _by_lanes((16, 16, 1, 10, 10), (16, 6, 1, 5, 5), one, one, 1, 4)


# ----------------------------------------------------------------------------- Winograd F(4x4, 3x3)

from numconv.kernels.cpu import conv_winograd  # noqa: E402

# 3x3 stride-1 layers the Winograd kernel takes: sizes that are not multiples of the 4x4 tile,
# images smaller than one tile, every padding up to past the kernel's reach (the input gradient
# then pads negatively), asymmetric padding, dilation (tiles over each residue), groups, channel
# counts that are not multiples of the GEMM's blocks of four. (x shape, w shape, keyword arguments)
WINOGRAD = [
    ((2, 5, 9, 11), (6, 5, 3, 3), dict(padding=1)),
    ((1, 3, 6, 7), (5, 3, 3, 3), {}),
    ((2, 4, 3, 2), (3, 4, 3, 3), dict(padding=2)),
    ((1, 6, 10, 9), (9, 2, 3, 3), dict(padding=3, groups=3)),
    ((2, 7, 13, 12), (8, 7, 3, 3), dict(padding=((2, 0), (1, 3)), dilation=(2, 3))),
    ((1, 8, 17, 19), (4, 4, 3, 3), dict(padding=2, dilation=2, groups=2)),
    # dilation 2 along the rows (both residues split at once): residues of 2 and 1 tiles, of 1 and
    # 1, and a single residue (one output column)
    ((2, 6, 11, 9), (5, 6, 3, 3), dict(padding=(1, 2), dilation=(3, 2))),
    ((1, 4, 13, 5), (3, 4, 3, 3), dict(padding=(1, 2), dilation=(1, 2))),
    ((1, 3, 30, 5), (2, 3, 3, 3), dict(dilation=(1, 2))),
    ((3, 9, 8, 8), (13, 9, 3, 3), dict(padding=1, bias=False)),
    ((1, 130, 4, 5), (11, 130, 3, 3), dict(padding=1)),  # the weight transform's input channels in two passes
]


@pytest.fixture
def count_winograd(monkeypatch):
    """How many times the Winograd kernels ran (the input gradient runs the forward's): the 2-d
    shapes of their outputs, in call order."""
    calls = []
    for name in ("conv_forward_winograd", "conv_weight_grad_winograd"):
        kernel_fn = getattr(conv_winograd, name)

        def counted(*args, kernel_fn=kernel_fn):
            calls.append(args[0].shape[:2] + args[0].shape[3:])
            return kernel_fn(*args)

        monkeypatch.setattr(conv_winograd, name, counted)
    return calls


def _weight_grad_reference(x, gy, w_shape, padding, dilation, groups):
    """dL/dw of a stride-1 2-d convolution, float64, from its definition: the sum over images and
    output positions of gy times the input each tap read."""
    lo, hi = R.conv_padding(padding, 2)
    xp = R.pad_nd(x, lo, hi)
    O, CPG, KH, KW = w_shape
    opg = O // groups
    (dh, dw), (OH, OW) = R.ntuple(dilation, 2), gy.shape[2:]
    gw = np.zeros(w_shape)
    for g in range(groups):
        for kh in range(KH):
            for kw in range(KW):
                patch = xp[:, g * CPG:(g + 1) * CPG, kh * dh:kh * dh + OH, kw * dw:kw * dw + OW]
                gw[g * opg:(g + 1) * opg, :, kh, kw] = np.einsum("nohw,njhw->oj", gy[:, g * opg:(g + 1) * opg], patch)
    return gw


def _winograd_case(rng, xs, ws, kw):
    kw = dict(kw)
    bias = kw.pop("bias", True)
    x, w = random(rng, xs), random(rng, ws)
    b = random(rng, (ws[0],)) if bias else None
    return x, w, b, kw


@pytest.mark.parametrize("xs,ws,kw", WINOGRAD, ids=[f"{x}_{w}_{sorted(k)}" for x, w, k in WINOGRAD])
def test_winograd_vs_reference(xs, ws, kw, rng, monkeypatch, count_winograd):
    """Forward against the float64 reference convolution, the input gradient against the reference
    transposed convolution (its definition as a scatter), the weight gradient against its
    definition and through the adjoint identity; each run must reach the Winograd kernels in all
    three passes, dilated or not. Run twice: with the
    usual workspace (one chunk) and with one that holds a single row of tiles (many chunks)."""
    x, w, b, kw = _winograd_case(rng, xs, ws, kw)
    expected = R.conv_nd(x, w, b, **kw)
    gy = random(rng, expected.shape)
    exp_gx = R.conv_transpose_nd(gy, w, None, padding=kw.get("padding", 0), groups=kw.get("groups", 1),
                                 dilation=kw.get("dilation", 1))
    assert exp_gx.shape == x.shape
    linear = vdot(R.conv_nd(x, w, None, **kw), gy)
    for chunked, dtype in itertools.product((False, True), (np.float64, np.float32)):
        monkeypatch.setattr(conv_winograd, "WORKSPACE", 0 if chunked else 1 << 22)
        monkeypatch.setattr(conv_winograd, "CHUNK_TILES", 0 if chunked else 128)
        xd, wd, gyd = x.astype(dtype), w.astype(dtype), gy.astype(dtype)
        bd = None if b is None else b.astype(dtype)
        count_winograd.clear()
        with dispatch.use_algorithm("winograd"):
            y = F.conv2d(xd, wd, bd, **kw)
            gx, gw, gb = F.conv2d_backward(gyd, xd, wd, bd, **kw)
        want_calls = [y.shape, xd.shape, w.shape]
        assert count_winograd == want_calls, f"Winograd did not run every pass: {count_winograd}"
        if chunked:  # the forward's rows of tiles really are split into chunks
            O, CPG, groups = ws[0], ws[1], kw.get("groups", 1)
            TW = conv_winograd._tile_starts.py_func(y.shape[3], R.ntuple(kw.get("dilation", 1), 2)[1]).size
            TH = conv_winograd._tile_starts.py_func(y.shape[2], R.ntuple(kw.get("dilation", 1), 2)[0]).size
            size = conv_winograd.workspace_size((O, CPG), groups, y.shape[3], R.ntuple(kw.get("dilation", 1), 2)[1])
            per = conv_winograd._workspace_layout.py_func(size, size, groups, CPG, O // groups, xs[0] * TH, TW)[0]
            assert per == 1 or per < xs[0] * TH, f"one chunk of {per} rows holds all {xs[0] * TH}"
        what = f"winograd {xs} {ws} {kw} ({dtype.__name__}{', chunked' if chunked else ''})"
        assert_dtype(y, dtype, what)
        assert_close(y, expected, dtype, "exact", f"{what} forward")
        assert_close(gx, exp_gx, dtype, "exact", f"{what} input gradient")
        tol = 1e-9 if dtype == np.float64 else 2e-4
        assert abs(vdot(w, gw) - linear) <= tol * np.sqrt(vdot(x, x) * vdot(gy, gy) * w.size), f"{what} weight gradient"
        exp_gw = _weight_grad_reference(x, gy, w.shape, kw.get("padding", 0), kw.get("dilation", 1),
                                        kw.get("groups", 1))
        assert_close(gw, exp_gw, dtype, "exact", f"{what} weight gradient")



# Shapes of WINOGRAD (plain, grouped with padding past the kernel, dilated by 2 along the rows) and
# one the dispatcher sends to Winograd by itself (32 channels, 128 tiles).
# The last shape's float64 reference loops take about 19 s: it runs with NaN only (inf and -inf take
# the same path through the kernels, and run on the three forced shapes).
NONFINITE = [WINOGRAD[0], WINOGRAD[3], WINOGRAD[6], ((2, 32, 32, 32), (32, 32, 3, 3), dict(padding=1))]
NONFINITE_CASES = [(x, w, k, v) for i, (x, w, k) in enumerate(NONFINITE)
                   for v in ((np.nan,) if i == len(NONFINITE) - 1 else (np.inf, -np.inf, np.nan))]


@pytest.mark.parametrize("xs,ws,kw,value", NONFINITE_CASES, ids=[f"{x}_{w}_{sorted(k)}-{v}" for x, w, k, v in NONFINITE_CASES])
def test_winograd_nonfinite_lands_where_the_definition_puts_it(xs, ws, kw, value, rng, monkeypatch):
    """A NaN or infinity in the input (or the output gradient) makes exactly the outputs (and
    gradients) not finite whose sums hold it, as the float64 definition does: Winograd's transforms
    would spread it over whole tiles, so such a pass runs again on ``planes``. With finite inputs
    Winograd's results stand (``planes`` never runs). Both dtypes; forced and, for the last shape,
    the dispatcher's own choice.

    The weight gradient is held to ``planes``' pattern, not the definition's: where a tap of an
    output reads the padding, the definition multiplies by a zero (a NaN when the output gradient
    there is infinite, as in PyTorch), and the kernels that skip the padding (``direct``) or sum over
    whole padded rows (``planes``) differ from it and from each other there."""
    from numconv.kernels.cpu import conv_planes

    planes_calls = []
    for name in ("conv_forward_planes", "conv_input_grad_planes", "conv_weight_grad_planes"):
        kernel_fn = getattr(conv_planes, name)

        def counted(*args, kernel_fn=kernel_fn, name=name):
            planes_calls.append(name)
            return kernel_fn(*args)

        monkeypatch.setattr(conv_planes, name, counted)
    x, w, b, kw = _winograd_case(rng, xs, ws, kw)
    gy = random(rng, R.conv_nd(x, w, b, **kw).shape)
    forced = xs[1] < 32

    def algorithm():
        return dispatch.use_algorithm("winograd") if forced else contextlib.nullcontext()

    with algorithm():
        F.conv2d(x.astype(np.float32), w.astype(np.float32), None if b is None else b.astype(np.float32), **kw)
        F.conv2d_backward(gy.astype(np.float32), x.astype(np.float32), w.astype(np.float32), **kw)
    assert planes_calls == [], f"planes ran on finite inputs: {planes_calls}"
    xb, gyb = x.copy(), gy.copy()
    xb[tuple(rng.integers(0, n) for n in xb.shape)] = value
    gyb[tuple(rng.integers(0, n) for n in gyb.shape)] = value
    padding, groups, dilation = kw.get("padding", 0), kw.get("groups", 1), kw.get("dilation", 1)
    with np.errstate(invalid="ignore"):
        exp_y = R.conv_nd(xb, w, b, **kw)
        exp_gx = R.conv_transpose_nd(gyb, w, None, padding=padding, groups=groups, dilation=dilation)
        exp_gw = _weight_grad_reference(xb, gyb, w.shape, padding, dilation, groups)
    planted = 0
    for dtype in (np.float32, np.float64):
        bd = None if b is None else b.astype(dtype)
        with algorithm():
            y = F.conv2d(xb.astype(dtype), w.astype(dtype), bd, **kw)
            gx, gw, _ = F.conv2d_backward(gyb.astype(dtype), xb.astype(dtype), w.astype(dtype), bd, **kw)
        with dispatch.use_algorithm("planes"):
            gw_planes = F.conv2d_backward(gyb.astype(dtype), xb.astype(dtype), w.astype(dtype), bd, **kw)[1]
        for got, want, what in ((y, exp_y, "forward"), (gx, exp_gx, "input gradient"), (gw, exp_gw, "weight gradient")):
            what = f"{xs} {ws} {kw} {value} {dtype.__name__} {what}"
            finite = np.isfinite(want)
            planted += int(finite.size - finite.sum())
            if got is gw:  # where a product meets padding, the kernels differ (see the docstring)
                np.testing.assert_array_equal(np.isfinite(gw), np.isfinite(gw_planes), err_msg=f"{what}: not planes'")
                finite &= np.isfinite(gw_planes)
            else:
                np.testing.assert_array_equal(np.isfinite(got), finite, err_msg=f"{what}: values not finite elsewhere")
            assert_close(got[finite], want[finite], dtype, "exact", what)
    assert planted, "the planted values reach no output"
    assert planes_calls, "no Winograd pass fell back to planes"


def test_winograd_chooser():
    """The dispatcher takes Winograd for 3x3 stride-1 layers with at least 32 channels per group
    and 128 tiles, dilated by at most 2 along the rows (every pass); not for
    strided, 5x5, 16-channel (planes is faster there) or grouped layers."""
    from numconv import shapes

    def algo(xs, ws, pass_="forward", stride=1, padding=0, dilation=1, groups=1):
        spec = shapes.conv_spec(xs, ws, 2, stride, padding, dilation, groups)
        return dispatch.conv_algorithm(spec, dispatch.CPU, pass_)

    for pass_ in ("forward", "input_grad", "weight_grad"):
        assert algo((32, 128, 28, 28), (128, 128, 3, 3), pass_, padding=1) == "winograd"
        assert algo((32, 256, 8, 8), (256, 256, 3, 3), pass_, padding=1) == "winograd"  # 128 tiles
        assert algo((32, 64, 56, 56), (64, 64, 3, 3), pass_, padding=1) == "winograd"  # 64 channels
        assert algo((32, 32, 32, 32), (32, 32, 3, 3), pass_, padding=1) == "winograd"  # 32 channels
        assert algo((32, 16, 32, 32), (16, 16, 3, 3), pass_, padding=1) == "planes"  # 16 channels
    for pass_ in ("forward", "input_grad", "weight_grad"):
        assert algo((32, 512, 7, 7), (512, 512, 3, 3), pass_, padding=1) == "winograd"  # 128 tiles
    assert algo((32, 512, 4, 4), (512, 512, 3, 3), "weight_grad", padding=1) == "gemm"  # 32 tiles
    assert algo((16, 512, 7, 7), (512, 512, 3, 3), padding=1) == "planes"  # 64 tiles
    assert algo((16, 512, 7, 7), (512, 512, 3, 3), "input_grad", padding=1) == "gemm"  # planes' run of 61 < LONG_RUN
    assert algo((32, 64, 32, 32), (128, 64, 1, 1), stride=2) == "planes"  # stride above the kernel
    assert algo((32, 512, 14, 14), (512, 512, 3, 3), padding=1) == "winograd"  # 512 tiles
    assert algo((32, 128, 28, 28), (128, 16, 3, 3), "weight_grad", padding=1, groups=8) != "winograd"
    assert algo((32, 128, 56, 56), (128, 128, 3, 3), "weight_grad", padding=2, dilation=2) == "winograd"
    assert algo((32, 128, 56, 56), (128, 128, 3, 3), "weight_grad", padding=3, dilation=3) != "winograd"
    assert algo((32, 128, 56, 56), (128, 128, 3, 3), stride=2, padding=1) != "winograd"
    assert algo((32, 128, 56, 56), (128, 128, 5, 5), padding=2) != "winograd"
    assert algo((32, 3, 32, 32), (64, 3, 3, 3), padding=1) != "winograd"  # 3 input channels
    assert algo((8, 256, 8, 8), (256, 256, 3, 3), padding=1) != "winograd"  # 32 tiles: too few
    assert algo((32, 512, 4, 4), (512, 512, 3, 3), padding=1) == "planes"  # 32 tiles; on blocks of images
    assert algo((32, 128, 28, 28), (128, 16, 3, 3), padding=1, groups=8) != "winograd"  # 16 per group
    assert algo((32, 128, 56, 56), (128, 128, 3, 3), padding=2, dilation=2) == "winograd"
    assert algo((32, 128, 56, 56), (128, 128, 3, 3), "input_grad", padding=2, dilation=2) == "winograd"
    assert algo((32, 128, 56, 56), (128, 128, 3, 3), padding=(1, 2), dilation=(1, 2)) == "winograd"
    assert algo((32, 128, 56, 56), (128, 128, 3, 3), padding=3, dilation=3) != "winograd"  # columns one by one
    assert algo((32, 128, 56, 56), (128, 128, 3, 3), padding=(3, 1), dilation=(3, 1)) == "winograd"


def test_algorithm_choice_is_remembered_per_forced_algorithm():
    """``conv_algorithm`` remembers its choice per shape, but a forced algorithm still wins inside
    ``use_algorithm`` and the usual choice comes back after it."""
    from numconv import shapes

    spec = shapes.conv_spec((32, 64, 56, 56), (64, 64, 3, 3), 2, 1, 1, 1, 1)
    usual = dispatch.conv_algorithm(spec, dispatch.CPU, "forward")
    assert usual == "winograd"
    for name in ("direct", "gemm", "planes"):
        with dispatch.use_algorithm(name):
            assert dispatch.conv_algorithm(spec, dispatch.CPU, "forward") == name
        assert dispatch.conv_algorithm(spec, dispatch.CPU, "forward") == usual
    strided = shapes.conv_spec((32, 64, 56, 56), (64, 64, 3, 3), 2, 2, 1, 1, 1)
    usual_strided = dispatch.conv_algorithm(strided, dispatch.CPU, "forward")
    assert usual_strided != "winograd"
    with dispatch.use_algorithm("winograd"):  # does not apply: the usual choice
        assert dispatch.conv_algorithm(strided, dispatch.CPU, "forward") == usual_strided


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("O,CPG,groups", [(13, 130, 1), (12, 5, 2), (22, 3, 1), (1, 1, 1)])
def test_winograd_weight_transform_is_packed_g_w_gt(dtype, O, CPG, groups):
    """``_weight_transform`` writes U[g, xi, k, j] = (G w[o, j] G^T)[xi] (float64 reference) packed as
    ``gemm.pack_rows`` packs each (g, xi)'s (opg, CPG) matrix: every row block of 8, 4, 2, 1, and
    input channels past one pass of JC."""
    from numconv.kernels.cpu import gemm

    rng = np.random.default_rng(3)
    w = rng.standard_normal((O, CPG, 1, 3, 3)).astype(dtype)
    opg = O // groups
    G = conv_winograd.G
    u = np.einsum("ak,ojkl,bl->ojab", G, w[:, :, 0].astype(np.float64), G).reshape(O, CPG, 36)
    want = np.empty(36 * O * CPG, dtype)
    for g in range(groups):
        for xi in range(36):
            gemm.pack_rows(want, (g * 36 + xi) * opg * CPG, np.ascontiguousarray(u[g * opg:(g + 1) * opg, :, xi]), CPG)
    Up = np.full(36 * O * CPG + 5, np.nan, dtype)
    conv_winograd._weight_transform(Up, w, groups)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(Up[:-5], want, rtol=tol, atol=tol * np.abs(u).max())
    assert np.isnan(Up[-5:]).all()


def test_winograd_transforms_are_the_matrices():
    """The spelled-out G^T equals the matrix, and the matrices compute a correlation:
    A^T [(G g) * (B^T d)] = [sum_k d[i + k] g[k]]_i for random d, g (float64)."""
    rng = np.random.default_rng(7)
    AT, G, BT = conv_winograd.AT, conv_winograd.G, conv_winograd.BT
    for _ in range(5):
        d, g = rng.standard_normal(6), rng.standard_normal(3)
        y = AT @ ((G @ g) * (BT @ d))
        assert np.allclose(y, [d[i:i + 3] @ g for i in range(4)], rtol=0, atol=1e-12)
        # the weight gradient's G^T on six values
        u = rng.standard_normal(6)
        assert np.allclose(conv_winograd._gt6.py_func(*u), G.T @ u, rtol=0, atol=1e-12)


@pytest.mark.parametrize("algorithm", ["planes", "winograd", "gemm"])
def test_two_threads_convolving_at_once_get_their_own_results(algorithm):
    """Ops that fill a scratch array (``dispatch.workspace``) in one kernel and read it in the next
    (the planes input gradient's flipped weights, Winograd's transforms, the GEMM tiles) must not
    share it between threads: two threads running different weights, interleaved as often as the
    interpreter allows, each get their single-threaded result every time."""
    import sys
    import threading

    from numconv import dispatch

    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 32, 12, 12)).astype(np.float32)
    ws = [rng.standard_normal((32, 32, 3, 3)).astype(np.float32) for _ in range(2)]
    with dispatch.use_algorithm(algorithm):
        refs = [F.conv_transpose2d(x, w, padding=1) for w in ws]
        bad, errors = [0, 0], []
        switch = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)

        def run(i):
            try:
                for _ in range(60):
                    bad[i] += not np.array_equal(F.conv_transpose2d(x, ws[i], padding=1), refs[i])
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        try:
            threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            sys.setswitchinterval(switch)
    assert not errors and bad == [0, 0], (bad, errors)


def test_a_one_element_tuple_stands_for_every_dimension_as_in_torch(torch):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 9, 8))
    w = rng.standard_normal((4, 3, 3, 3))
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    got = F.conv2d(x, w, stride=(2,), padding=[1], dilation=(2,))
    want = torch.nn.functional.conv2d(tx, tw, stride=(2,), padding=[1], dilation=(2,)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    got = F.max_pool2d(x, (3,), stride=[2], padding=(1,))
    want = torch.nn.functional.max_pool2d(tx, (3,), stride=[2], padding=(1,)).numpy()
    np.testing.assert_array_equal(got, want)
    assert shapes.ntuple((5,), 3, "k") == (5, 5, 5) and shapes.ntuple([2, 3], 2, "k") == (2, 3)


@pytest.mark.parametrize("algorithm", [None, "direct", "gemm", "planes", "winograd"])
def test_zero_channels_sum_over_nothing(algorithm, rng):
    """No input channels: every output is its bias (a sum over no terms), whatever memory the output
    was given (a same-sized result is freed first, so reused memory holds values)."""
    b = rng.standard_normal(16)
    del_me = F.conv2d(rng.standard_normal((2, 3, 28, 28)), rng.standard_normal((16, 3, 3, 3)), padding=1)
    del del_me
    with dispatch.use_algorithm(algorithm) if algorithm else contextlib.nullcontext():
        y = F.conv2d(np.zeros((2, 0, 28, 28)), np.zeros((16, 0, 3, 3)), b, padding=1)
        t = F.conv_transpose2d(np.zeros((2, 0, 28, 28)), np.zeros((0, 16, 3, 3)), b)
        gy = rng.standard_normal((2, 16, 28, 28))
        gx, gw, gb = F.conv2d_backward(gy, np.zeros((2, 0, 28, 28)), np.zeros((16, 0, 3, 3)), b, padding=1)
    np.testing.assert_array_equal(y, np.broadcast_to(b[:, None, None], (2, 16, 28, 28)))
    np.testing.assert_array_equal(t, np.broadcast_to(b[:, None, None], (2, 16, 30, 30)))
    assert gx.shape == (2, 0, 28, 28) and gw.shape == (16, 0, 3, 3)
    np.testing.assert_allclose(gb, gy.sum(axis=(0, 2, 3)), rtol=1e-12)
