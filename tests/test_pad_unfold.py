"""pad (all four modes), unfold and fold, forward and backward, against the float64 reference
(tests/reference.py, gradients by central differences) and torch.nn.functional, plus the
adjoint identities <unfold(x), c> == <x, fold(c)> and <pad(x), y> == <x, pad_backward(y)>."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import numconv.functional as F
import reference as R
from conftest import (
    arrange,
    assert_close,
    assert_dtype,
    random,
    to_torch,
    torch_forward_backward,
    torch_or_fail,
    unbatched_ref,
    vdot,
)

DTYPES = [np.float64, np.float32]
DTYPE_IDS = ["f64", "f32"]


def cast(dtype, *arrays):
    return [a.astype(dtype) for a in arrays]


def check_adjoint(lhs, rhs, what):
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs)), f"{what}: {lhs!r} != {rhs!r}"


# ----------------------------------------------------------------------------- unfold / fold


@dataclass(frozen=True)
class Blocks:
    """unfold of (N, C, *size) (N None: unbatched), or fold back to ``size``."""

    id: str
    size: tuple
    kernel: object
    dilation: object = 1
    padding: object = 0
    stride: object = 1
    N: int | None = 2
    C: int = 2
    layout: str = "C"

    @property
    def x_shape(self):
        return ((self.N,) if self.N is not None else ()) + (self.C,) + tuple(self.size)

    @property
    def batched(self):
        return self.N is not None

    def args(self):
        return (self.kernel, self.dilation, self.padding, self.stride)

    def cols_shape(self):
        k = R.ntuple(self.kernel, 2)
        d, p, s = (R.ntuple(v, 2) for v in (self.dilation, self.padding, self.stride))
        L = 1
        for n, ki, si, di, pi in zip(self.size, k, s, d, p):
            L *= R.conv_out_size(n, ki, si, di, pi, pi)
        return ((self.N,) if self.N is not None else ()) + (self.C * k[0] * k[1], L)


BLOCKS = [
    Blocks("k2", (3, 4), 2),
    Blocks("k3_p1", (4, 4), 3, padding=1),
    Blocks("aniso_dilation_padding_stride", (5, 4), (2, 3), dilation=(2, 1), padding=(1, 2), stride=(1, 2)),
    Blocks("kernel_eq_padded_input", (3, 4), (5, 4), padding=1, N=1),
    Blocks("1x1_stride2", (5, 4), 1, stride=2),
    Blocks("stride_gt_kernel", (7, 6), 2, stride=3, C=1),
    Blocks("dilation_padding_overlap", (5, 5), 3, dilation=2, padding=2, stride=2, N=1),
    Blocks("batch1_one_channel", (4, 3), (2, 2), N=1, C=1, padding=(0, 1)),
    Blocks("unbatched", (4, 5), (3, 2), N=None, C=3, stride=(2, 1)),
    Blocks("fortran", (4, 5), (2, 3), padding=1, layout="F"),
    Blocks("strided_view", (5, 4), 2, stride=(1, 2), layout="strided"),
    Blocks("reversed_view_unbatched", (4, 4), 3, padding=1, stride=2, N=None, layout="reversed"),
]


def random_block_configs(count, seed):
    r = np.random.default_rng(seed)
    layouts = ("C", "F", "strided", "reversed")
    out = []
    while len(out) < count:
        kernel, stride, dilation, padding = (tuple(int(v) for v in r.integers(lo, hi, 2))
                                             for lo, hi in ((1, 4), (1, 4), (1, 3), (0, 3)))
        size = tuple(int(v) for v in r.integers(1, 7, 2))
        if any(R.conv_out_size(n, k, s, d, p, p) < 1 for n, k, s, d, p in zip(size, kernel, stride, dilation, padding)):
            continue
        N = [None, 1, 2][int(r.integers(0, 3))]
        cid = f"rand{len(out):02d}_n{size}_k{kernel}_d{dilation}_p{padding}_s{stride}".replace(" ", "")
        out.append(Blocks(cid, size, kernel, dilation, padding, stride, N=N, C=int(r.integers(1, 3)),
                          layout=layouts[int(r.integers(0, 4))]))
    return out


BLOCKS += random_block_configs(8, seed=20240615)


def ids(cfgs):
    return [c.id for c in cfgs]


def ref_unfold(cfg, x):
    return unbatched_ref(R.unfold, x, cfg.batched, *cfg.args())


def ref_fold(cfg, cols):
    return unbatched_ref(R.fold, cols, cfg.batched, cfg.size, *cfg.args())


@pytest.mark.parametrize("cfg", BLOCKS, ids=ids(BLOCKS))
def test_unfold_vs_reference(cfg, rng):
    x = random(rng, cfg.x_shape)
    c_ref = ref_unfold(cfg, x)
    assert c_ref.shape == cfg.cols_shape()
    gy = random(rng, c_ref.shape)
    gx_ref = R.numerical_grad(lambda t: ref_unfold(cfg, t), x, gy)
    for dtype in DTYPES:
        xd, gyd = cast(dtype, x, gy)
        c = F.unfold(arrange(xd, cfg.layout), *cfg.args())
        assert_dtype(c, dtype, "unfold output")
        assert_close(c, c_ref, dtype, what=f"unfold {cfg.id}")
        gx = F.unfold_backward(arrange(gyd, cfg.layout), arrange(xd, cfg.layout), *cfg.args())
        assert_dtype(gx, dtype, "unfold grad_input")
        assert_close(gx, gx_ref, dtype, "fd", f"unfold_backward {cfg.id}")


@pytest.mark.parametrize("cfg", BLOCKS, ids=ids(BLOCKS))
def test_fold_vs_reference(cfg, rng):
    cols = random(rng, cfg.cols_shape())
    x_ref = ref_fold(cfg, cols)
    assert x_ref.shape == cfg.x_shape
    gy = random(rng, x_ref.shape)
    gc_ref = R.numerical_grad(lambda t: ref_fold(cfg, t), cols, gy)
    for dtype in DTYPES:
        cd, gyd = cast(dtype, cols, gy)
        x = F.fold(arrange(cd, cfg.layout), cfg.size, *cfg.args())
        assert_dtype(x, dtype, "fold output")
        assert_close(x, x_ref, dtype, what=f"fold {cfg.id}")
        gc = F.fold_backward(arrange(gyd, cfg.layout), arrange(cd, cfg.layout), cfg.size, *cfg.args())
        assert_dtype(gc, dtype, "fold grad_input")
        assert_close(gc, gc_ref, dtype, "fd", f"fold_backward {cfg.id}")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("cfg", BLOCKS, ids=ids(BLOCKS))
def test_unfold_fold_vs_torch(cfg, dtype, rng):
    torch = torch_or_fail()
    tf = torch.nn.functional
    x = random(rng, cfg.x_shape, dtype)
    c_t, gy, (gx_t,) = torch_forward_backward(torch, lambda t: tf.unfold(t, *cfg.args()), (x,), rng=rng)
    assert_close(F.unfold(arrange(x, cfg.layout), *cfg.args()), c_t, dtype, what=f"unfold {cfg.id} vs torch")
    assert_close(F.unfold_backward(gy, arrange(x, cfg.layout), *cfg.args()), gx_t, dtype,
                 what=f"unfold_backward {cfg.id} vs torch")
    cols = random(rng, cfg.cols_shape(), dtype)
    x_t, gy, (gc_t,) = torch_forward_backward(torch, lambda t: tf.fold(t, cfg.size, *cfg.args()), (cols,), rng=rng)
    assert_close(F.fold(arrange(cols, cfg.layout), cfg.size, *cfg.args()), x_t, dtype, what=f"fold {cfg.id} vs torch")
    assert_close(F.fold_backward(arrange(gy, cfg.layout), cols, cfg.size, *cfg.args()), gc_t, dtype,
                 what=f"fold_backward {cfg.id} vs torch")


@pytest.mark.parametrize("cfg", BLOCKS, ids=ids(BLOCKS))
def test_unfold_fold_adjoint(cfg, rng):
    """<unfold(x), c> == <x, fold(c)>, and each backward is the other op."""
    x = random(rng, cfg.x_shape)
    c = random(rng, cfg.cols_shape())
    u, f = F.unfold(x, *cfg.args()), F.fold(c, cfg.size, *cfg.args())
    check_adjoint(vdot(u, c), vdot(x, f), f"<unfold(x), c> vs <x, fold(c)> ({cfg.id})")
    assert_close(F.unfold_backward(c, x, *cfg.args()), f, what=f"unfold_backward == fold ({cfg.id})")
    assert_close(F.fold_backward(x, c, cfg.size, *cfg.args()), u, what=f"fold_backward == unfold ({cfg.id})")


def test_fold_of_unfold_counts_overlaps(rng):
    """fold(unfold(x)) multiplies each pixel by the number of blocks covering it (torch's doc identity)."""
    x = random(rng, (2, 3, 5, 6))
    args = ((2, 3), 1, 1, 1)
    got = F.fold(F.unfold(x, *args), (5, 6), *args)
    ones = np.ones_like(x)
    divisor = R.fold(R.unfold(ones, *args), (5, 6), *args)
    assert divisor.max() > 1
    assert_close(got, x * divisor, what="fold(unfold(x)) == x * coverage")


# ----------------------------------------------------------------------------- pad


@dataclass(frozen=True)
class Pad:
    id: str
    shape: tuple
    pad: tuple
    modes: tuple = ("constant", "reflect", "replicate", "circular")
    value: float | None = None
    layout: str = "C"


PAD = [
    Pad("1dim_of_3d", (2, 3, 5), (2, 1)),
    Pad("1dim_max_sizes", (2, 2, 4), (3, 3)),  # reflect: size-1; replicate/circular below
    Pad("1dim_circular_eq_size", (1, 2, 3), (3, 1), modes=("constant", "replicate", "circular")),
    Pad("1dim_replicate_beyond_size", (2, 1, 3), (5, 4), modes=("constant", "replicate")),
    Pad("2dims_of_4d", (2, 2, 4, 5), (1, 2, 3, 0)),
    Pad("2dims_zero_sides", (1, 3, 3, 4), (0, 3, 2, 0)),
    Pad("3dims_of_5d", (1, 2, 3, 3, 4), (1, 2, 0, 2, 2, 1)),
    Pad("1dim_of_4d", (2, 2, 3, 4), (1, 3)),
    Pad("2dims_of_2d", (4, 5), (2, 1, 1, 3)),
    Pad("unbatched_2dims_of_3d", (3, 4, 4), (3, 1, 2, 2), layout="F"),
    Pad("3dims_of_4d_unbatched", (2, 3, 3, 3), (2, 0, 1, 1, 0, 2), layout="strided"),
    Pad("2dims_of_5d_reversed", (1, 2, 2, 3, 4), (2, 3, 1, 2), layout="reversed"),
    Pad("constant_value", (2, 3, 4), (2, 1, 1, 2), modes=("constant",), value=1.5),
    Pad("constant_negative_crop", (2, 2, 5, 6), (-1, 2, 1, -2), modes=("constant",)),
    Pad("constant_crop_3dims", (1, 2, 4, 5, 3), (-1, -1, 1, -2, 0, 1), modes=("constant",), value=-0.5),
    Pad("constant_1d_input", (6,), (2, -3), modes=("constant",)),
    Pad("crop_one_side_pad_the_other", (2, 2, 5, 6), (-1, 2, 3, -2)),
    Pad("crop_and_pad_3dims", (1, 2, 4, 5, 6), (2, -3, -1, 1, 0, -2)),
]
PAD_CASES = [(m, c) for c in PAD for m in c.modes]
PAD_IDS = [f"{m}-{c.id}" for m, c in PAD_CASES]


def nc_pad(cfg, mode, x):
    return F.pad(arrange(x, cfg.layout), cfg.pad, mode, cfg.value)


def ref_pad(cfg, mode, x):
    return R.pad(x, cfg.pad, mode, 0.0 if cfg.value is None else cfg.value)


@pytest.mark.parametrize("mode,cfg", PAD_CASES, ids=PAD_IDS)
def test_pad_vs_reference(mode, cfg, rng):
    x = random(rng, cfg.shape)
    y_ref = ref_pad(cfg, mode, x)
    gy = random(rng, y_ref.shape)
    gx_ref = R.numerical_grad(lambda t: ref_pad(cfg, mode, t), x, gy)
    for dtype in DTYPES:
        xd, gyd = cast(dtype, x, gy)
        y = nc_pad(cfg, mode, xd)
        assert_dtype(y, dtype, "pad output")
        assert_close(y, y_ref, dtype, what=f"pad {mode} {cfg.id}")
        gx = F.pad_backward(arrange(gyd, cfg.layout), arrange(xd, cfg.layout), cfg.pad, mode, cfg.value)
        assert_dtype(gx, dtype, "pad grad_input")
        assert_close(gx, gx_ref, dtype, "fd", f"pad_backward {mode} {cfg.id}")


def torch_pad_fn(torch, cfg, mode):
    """torch.nn.functional.pad; non-constant modes need (N, C, *padded) inputs, so the leading
    dimensions are flattened into one batch of one channel (they do not interact)."""
    tf = torch.nn.functional
    k = len(cfg.pad) // 2
    if mode == "constant":
        return lambda t: tf.pad(t, cfg.pad, mode, 0.0 if cfg.value is None else cfg.value)

    def f(t):
        lead, trail = t.shape[: t.dim() - k], t.shape[t.dim() - k:]
        y = tf.pad(t.reshape((1, -1) + tuple(trail)), cfg.pad, mode)
        return y.reshape(tuple(lead) + tuple(y.shape[2:]))

    return f


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("mode,cfg", PAD_CASES, ids=PAD_IDS)
def test_pad_vs_torch(mode, cfg, dtype, rng):
    torch = torch_or_fail()
    x = random(rng, cfg.shape, dtype)
    y_t, gy, (gx_t,) = torch_forward_backward(torch, torch_pad_fn(torch, cfg, mode), (x,), rng=rng)
    assert_close(nc_pad(cfg, mode, x), y_t, dtype, what=f"pad {mode} {cfg.id} vs torch")
    assert_close(F.pad_backward(gy, x, cfg.pad, mode, cfg.value), gx_t, dtype, what=f"pad_backward {mode} {cfg.id} vs torch")


def test_pad_direct_torch_calls(rng):
    """torch.nn.functional.pad on the shapes it takes as they are (no flattening)."""
    torch = torch_or_fail()
    tf = torch.nn.functional
    cases = [((2, 3, 5), (2, 3), "reflect"), ((2, 3, 4, 5), (1, 2, 3, 1), "reflect"), ((3, 4, 5), (2, 1, 0, 3), "circular"),
             ((1, 2, 3, 4, 5), (1, 2, 3, 0, 2, 1), "replicate"), ((2, 3, 4, 4), (1, 1, 2, 0), "replicate"),
             ((2, 2, 3, 4, 3), (1, 0, 2, 1, 1, 3), "circular"), ((2, 3, 4, 5, 2), (1, 1), "constant")]
    for shape, p, mode in cases:
        x = random(rng, shape)
        assert_close(F.pad(x, p, mode), tf.pad(to_torch(torch, x), p, mode).numpy(), what=f"pad {shape} {p} {mode}")


@pytest.mark.parametrize("mode,cfg", PAD_CASES, ids=PAD_IDS)
def test_pad_adjoint(mode, cfg, rng):
    """<pad(x), y> == <x, pad_backward(y)> (constant padding with value 0: the map is linear)."""
    x = random(rng, cfg.shape)
    y = F.pad(x, cfg.pad, mode)
    gy = random(rng, y.shape)
    gx = F.pad_backward(gy, x, cfg.pad, mode)
    assert gx.shape == x.shape
    check_adjoint(vdot(y, gy), vdot(x, gx), f"<pad(x), y> vs <x, pad_backward(y)> ({mode}, {cfg.id})")
