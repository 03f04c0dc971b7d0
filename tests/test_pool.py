"""Max, average, adaptive and unpooling, 1/2/3-d, forward and backward, against the float64
reference (tests/reference.py, gradients by central differences) and torch.nn.functional."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import numconv as nc
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
)

DTYPES = [np.float64, np.float32]
DTYPE_IDS = ["f64", "f32"]


@dataclass(frozen=True)
class Pool:
    """A fixed-window pooling of input (N, C, *size) (N None: unbatched (C, *size))."""

    id: str
    size: tuple
    kernel: object
    stride: object = None
    padding: object = 0
    dilation: object = 1
    ceil_mode: bool = False
    count_include_pad: bool = True
    divisor_override: int | None = None
    N: int | None = 2
    C: int = 2
    layout: str = "C"
    torch: bool = True

    @property
    def nd(self):
        return len(self.size)

    @property
    def x_shape(self):
        return ((self.N,) if self.N is not None else ()) + (self.C,) + tuple(self.size)

    @property
    def batched(self):
        return self.N is not None


def ids(cfgs):
    return [c.id for c in cfgs]


def cast(dtype, *arrays):
    return [None if a is None else a.astype(dtype) for a in arrays]


# ----------------------------------------------------------------------------- max pooling


MAX = [
    Pool("2d_kernel2_default_stride", (4, 6), 2),
    Pool("2d_k3_s2_p1", (5, 6), 3, 2, 1),
    Pool("2d_ceil_last_window_overhangs", (6, 5), 3, 2, 1, ceil_mode=True),
    Pool("2d_ceil_window_starting_in_padding_dropped", (5, 5), 2, 2, 1, ceil_mode=True),
    Pool("2d_ceil_aniso", (5, 7), (2, 3), (2, 3), (1, 0), ceil_mode=True, N=1),
    Pool("2d_stride_gt_kernel", (7, 7), 2, 3),
    Pool("2d_kernel_eq_input", (3, 4), (3, 4)),
    Pool("2d_kernel_eq_padded_input", (3, 3), 5, 1, 2, N=1),
    Pool("2d_1x1_stride2", (5, 4), 1, 2),
    Pool("2d_dilation_padding", (6, 7), 3, 1, 1, dilation=2, N=1),
    Pool("2d_dilation_ceil_aniso", (7, 6), (2, 3), (2, 2), (1, 1), dilation=(3, 1), ceil_mode=True, N=1),
    Pool("2d_batch1_one_channel", (5, 5), 3, 2, 1, N=1, C=1),
    Pool("2d_unbatched", (5, 4), 2, 1, 1, N=None, C=3),
    Pool("2d_fortran", (5, 6), 3, 2, 1, layout="F"),
    Pool("2d_strided_view", (4, 5), 2, (1, 2), layout="strided"),
    Pool("2d_reversed_view", (5, 5), 3, 2, 1, ceil_mode=True, layout="reversed"),
    Pool("1d_k3_s2_p1_ceil", (9,), 3, 2, 1, ceil_mode=True),
    Pool("1d_dilation3", (8,), 2, 1, 1, dilation=3),
    Pool("1d_unbatched_fortran", (7,), 3, 3, 1, N=None, layout="F"),
    Pool("3d_basic", (3, 4, 5), (2, 2, 3), (1, 2, 2), (1, 0, 1), N=1),
    Pool("3d_ceil_dilation", (4, 3, 5), 2, 2, (1, 1, 0), dilation=(1, 1, 2), ceil_mode=True, N=1, C=1),
    Pool("3d_unbatched_strided", (3, 3, 4), (3, 1, 2), N=None, layout="strided"),
    # padding up to half the dilated window (torch allows half the kernel only): reference only
    Pool("2d_dilation_padding_half_dilated_window", (6, 7), 3, 1, 2, dilation=2, N=1, torch=False),
    Pool("1d_dilation_padding_half_dilated_window", (7,), 2, 2, 2, dilation=3, ceil_mode=True, torch=False),
] + [
    # rows long enough for the vector loops over a row's full windows and their tails
    Pool("2d_wide_k2_s2", (2, 70), 2, N=1, C=1),
    Pool("2d_k2_s2_30_wide", (3, 60), 2, N=1, C=1),
    Pool("3d_k212_s2_29_wide", (4, 2, 59), (2, 1, 2), 2, N=1, C=1),
    Pool("2d_wide_k2_s2_p1_odd", (3, 69), 2, 2, 1, N=1, C=1),
    Pool("2d_wide_k3_s2_p1", (3, 67), 3, 2, 1, N=1, C=1),
    Pool("2d_wide_k2_s2_dilation2_ceil", (3, 66), 2, 2, 1, dilation=2, ceil_mode=True, N=1, C=1),
    Pool("2d_wide_k3_s1_p1", (2, 45), 3, 1, 1, N=1, C=1),
    Pool("2d_wide_k2_s3_ceil", (2, 61), 2, 3, ceil_mode=True, N=1, C=1),
    Pool("1d_wide_k3_s2_ceil_fortran", (83,), 3, 2, 1, ceil_mode=True, N=1, layout="F"),
]


def random_pool_configs(count, seed, kind):
    """A seeded grid of random torch-compatible pools (padding <= kernel // 2; no dilation for avg)."""
    r = np.random.default_rng(seed)
    layouts = ("C", "F", "strided", "reversed")
    out = []
    while len(out) < count:
        nd = int(r.integers(1, 4))
        kernel = tuple(int(v) for v in r.integers(1, 4, nd))
        stride = tuple(int(v) for v in r.integers(1, 4, nd))
        padding = tuple(int(r.integers(0, k // 2 + 1)) for k in kernel)
        dilation = tuple(int(v) for v in r.integers(1, 3, nd)) if kind == "max" else (1,) * nd
        ceil_mode = bool(r.integers(0, 2))
        size = tuple(int(v) for v in r.integers(1, (8, 6, 4)[nd - 1], nd))
        outs = [R.pool_out_size(*a, ceil_mode) for a in zip(size, kernel, stride, padding, dilation)]
        if min(outs) < 1:
            continue
        N = [None, 1, 2][int(r.integers(0, 3))]
        extra = {}
        if kind == "avg":
            extra = dict(count_include_pad=bool(r.integers(0, 2)),
                         divisor_override=[None, None, None, int(r.integers(1, 6))][int(r.integers(0, 4))])
        cid = f"rand{len(out):02d}_{nd}d_n{size}_k{kernel}_s{stride}_p{padding}_d{dilation}" + ("_ceil" if ceil_mode else "")
        if kind == "avg":
            cid += ("_incl" if extra["count_include_pad"] else "_excl") + (
                f"_div{extra['divisor_override']}" if extra["divisor_override"] else "")
        out.append(Pool(cid.replace(" ", ""), size, kernel, stride, padding, dilation, ceil_mode, N=N,
                        layout=layouts[int(r.integers(0, 4))], **extra))
    return out


MAX += random_pool_configs(12, seed=20240613, kind="max")
TORCH_MAX = [c for c in MAX if c.torch]


def nc_max_pool(cfg, x, return_indices=True):
    fn = getattr(F, f"max_pool{cfg.nd}d")
    return fn(arrange(x, cfg.layout), cfg.kernel, cfg.stride, cfg.padding, cfg.dilation, cfg.ceil_mode, return_indices)


def nc_max_pool_backward(cfg, gy, x, indices=None):
    fn = getattr(F, f"max_pool{cfg.nd}d_backward")
    return fn(arrange(gy, cfg.layout), arrange(x, cfg.layout), cfg.kernel, cfg.stride, cfg.padding, cfg.dilation,
              cfg.ceil_mode, indices=indices)


def ref_max_pool(cfg, x):
    return unbatched_ref(R.max_pool_nd, x, cfg.batched, cfg.kernel, cfg.stride, cfg.padding, cfg.dilation, cfg.ceil_mode)


@pytest.mark.parametrize("cfg", MAX, ids=ids(MAX))
def test_max_pool_vs_reference(cfg, rng):
    x = random(rng, cfg.x_shape)
    y_ref, i_ref = ref_max_pool(cfg, x)
    gy = random(rng, y_ref.shape)
    gx_ref = R.numerical_grad(lambda t: ref_max_pool(cfg, t)[0], x, gy)
    for dtype in DTYPES:
        xd, gyd = cast(dtype, x, gy)
        y, idx = nc_max_pool(cfg, xd)
        assert_dtype(y, dtype, "max_pool output")
        assert idx.dtype == np.int64, f"indices dtype {idx.dtype}, expected int64"
        assert_close(y, y_ref.astype(dtype), dtype, what=f"max_pool{cfg.nd}d {cfg.id}")
        np.testing.assert_array_equal(idx, i_ref, err_msg=f"max_pool{cfg.nd}d {cfg.id} indices")
        y_only = nc_max_pool(cfg, xd, return_indices=False)
        assert isinstance(y_only, np.ndarray), "return_indices=False must return the values alone"
        assert_close(y_only, y, dtype, what="return_indices=False")
        for indices in (None, idx):
            gx = nc_max_pool_backward(cfg, gyd, xd, indices)
            assert_dtype(gx, dtype, "max_pool grad_input")
            assert_close(gx, gx_ref, dtype, "fd", f"max_pool{cfg.nd}d_backward {cfg.id} indices={'given' if indices is not None else None}")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("cfg", TORCH_MAX, ids=ids(TORCH_MAX))
def test_max_pool_vs_torch(cfg, dtype, rng):
    torch = torch_or_fail()
    fn = getattr(torch.nn.functional, f"max_pool{cfg.nd}d")
    x = random(rng, cfg.x_shape, dtype)
    stride = cfg.stride if cfg.stride is not None else cfg.kernel
    (y_t, i_t), gy, (gx_t,) = torch_forward_backward(
        torch, lambda t: fn(t, cfg.kernel, stride, cfg.padding, cfg.dilation, cfg.ceil_mode, True), (x,), rng=rng)
    y, idx = nc_max_pool(cfg, x)
    assert_close(y, y_t, dtype, what=f"max_pool{cfg.nd}d {cfg.id} vs torch")
    np.testing.assert_array_equal(idx, i_t, err_msg=f"max_pool{cfg.nd}d {cfg.id} indices vs torch")
    assert_close(nc_max_pool_backward(cfg, gy, x), gx_t, dtype, what=f"max_pool{cfg.nd}d_backward {cfg.id} vs torch")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("moved", [0, 1, 6])
def test_max_pool_backward_given_indices_is_the_scatter(moved, dtype, rng):
    """Through given indices the gradient is the definition's scatter-add, gx.flat[idx[p]] += gy[p],
    whether every index names a tap of its own window (the windowed kernel) or some name other
    positions of the plane (then the scatter), repeats included."""
    x = random(rng, (2, 3, 7, 40), dtype)
    _, idx = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    flat = idx.reshape(-1)
    if moved:
        flat[0] = 7 * 40 - 1  # far from window (0, 0)
        flat[rng.choice(np.arange(1, flat.size), moved - 1, replace=False)] = rng.integers(0, 7 * 40, moved - 1)
    gy = random(rng, idx.shape, dtype)
    want = np.zeros((2, 3, 7 * 40))
    for n in range(2):
        for c in range(3):
            np.add.at(want[n, c], idx[n, c].ravel(), gy[n, c].ravel().astype(np.float64))
    got = F.max_pool2d_backward(gy, x, 3, 2, 1, indices=idx)
    assert_close(got, want.reshape(x.shape), dtype, what=f"max_pool2d_backward with {moved} moved indices")


NAN_CASES = [
    # (pool, positions of NaNs in the input)
    (Pool("2d_one_nan", (4, 5), 3, 1, 1, N=1, C=1), [(0, 0, 1, 2)]),
    (Pool("2d_two_nans_one_window", (4, 4), 4, N=1, C=1), [(0, 0, 1, 1), (0, 0, 2, 3)]),
    (Pool("2d_nans_overlapping_windows", (5, 5), 3, 2, 1, ceil_mode=True), [(0, 1, 2, 2), (1, 0, 0, 4), (1, 0, 4, 0)]),
    (Pool("2d_nan_at_window_start", (4, 4), 2, N=1), [(0, 0, 0, 0), (0, 1, 3, 3)]),
    (Pool("1d_nans", (7,), 3, 2, 1), [(0, 0, 3), (1, 1, 6), (1, 1, 5)]),
    (Pool("3d_nans", (3, 3, 4), 2, 1, 1, N=1), [(0, 0, 1, 1, 1), (0, 1, 2, 0, 3), (0, 1, 2, 1, 2)]),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("cfg,nans", NAN_CASES, ids=[c.id for c, _ in NAN_CASES])
def test_max_pool_nan_propagates(cfg, nans, dtype, rng):
    """A window holding a NaN yields NaN, with the index of (the last) NaN, as PyTorch scans."""
    x = random(rng, cfg.x_shape, dtype)
    for p in nans:
        x[p] = np.nan
    y_ref, i_ref = ref_max_pool(cfg, x)
    assert np.isnan(y_ref).any()
    y, idx = nc_max_pool(cfg, x)
    assert_close(y, y_ref, dtype, what=f"max_pool{cfg.nd}d {cfg.id} with NaN", equal_nan=True)
    np.testing.assert_array_equal(idx, i_ref, err_msg=f"max_pool{cfg.nd}d {cfg.id} NaN indices vs reference")
    # adaptive max pooling scans the same way
    ya, ia = getattr(F, f"adaptive_max_pool{cfg.nd}d")(x, 2, True)
    ya_ref, ia_ref = unbatched_ref(R.adaptive_max_pool_nd, x, cfg.batched, 2)
    assert_close(ya, ya_ref, dtype, what=f"adaptive_max_pool{cfg.nd}d {cfg.id} with NaN", equal_nan=True)
    np.testing.assert_array_equal(ia, ia_ref, err_msg=f"adaptive_max_pool{cfg.nd}d {cfg.id} NaN indices vs reference")

    torch = torch_or_fail()
    fn = getattr(torch.nn.functional, f"max_pool{cfg.nd}d")
    stride = cfg.stride if cfg.stride is not None else cfg.kernel
    (y_t, i_t), gy, (gx_t,) = torch_forward_backward(
        torch, lambda t: fn(t, cfg.kernel, stride, cfg.padding, cfg.dilation, cfg.ceil_mode, True), (x,), rng=rng)
    assert_close(y, y_t, dtype, what=f"max_pool{cfg.nd}d {cfg.id} with NaN vs torch", equal_nan=True)
    np.testing.assert_array_equal(idx, i_t, err_msg=f"max_pool{cfg.nd}d {cfg.id} NaN indices vs torch")
    assert_close(nc_max_pool_backward(cfg, gy, x), gx_t, dtype, what=f"max_pool{cfg.nd}d_backward {cfg.id} NaN vs torch")
    fa = getattr(torch.nn.functional, f"adaptive_max_pool{cfg.nd}d")
    ya_t, ia_t = fa(to_torch(torch, x), 2, True)
    np.testing.assert_array_equal(ia, ia_t.numpy(), err_msg=f"adaptive_max_pool{cfg.nd}d {cfg.id} NaN indices vs torch")


TIE_CASES = [c for c in MAX if c.id in ("2d_k3_s2_p1", "2d_ceil_last_window_overhangs", "2d_dilation_ceil_aniso",
                                        "1d_k3_s2_p1_ceil", "3d_basic", "2d_unbatched")]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("cfg", TIE_CASES, ids=ids(TIE_CASES))
def test_max_pool_ties_take_first(cfg, dtype, rng):
    """With equal values in a window the first in scan order wins (values, indices and gradient as torch)."""
    x = (rng.integers(-2, 3, cfg.x_shape) + 0.25).astype(dtype)
    y_ref, i_ref = ref_max_pool(cfg, x)
    y, idx = nc_max_pool(cfg, x)
    assert_close(y, y_ref, dtype, what=f"max_pool{cfg.nd}d {cfg.id} with ties")
    np.testing.assert_array_equal(idx, i_ref, err_msg=f"max_pool{cfg.nd}d {cfg.id} tie indices vs reference")
    ya, ia = getattr(F, f"adaptive_max_pool{cfg.nd}d")(x, 2, True)
    np.testing.assert_array_equal(ia, unbatched_ref(R.adaptive_max_pool_nd, x, cfg.batched, 2)[1],
                                  err_msg=f"adaptive_max_pool{cfg.nd}d {cfg.id} tie indices vs reference")
    torch = torch_or_fail()
    fn = getattr(torch.nn.functional, f"max_pool{cfg.nd}d")
    stride = cfg.stride if cfg.stride is not None else cfg.kernel
    (y_t, i_t), gy, (gx_t,) = torch_forward_backward(
        torch, lambda t: fn(t, cfg.kernel, stride, cfg.padding, cfg.dilation, cfg.ceil_mode, True), (x,), rng=rng)
    np.testing.assert_array_equal(idx, i_t, err_msg=f"max_pool{cfg.nd}d {cfg.id} tie indices vs torch")
    assert_close(nc_max_pool_backward(cfg, gy, x), gx_t, dtype, what=f"max_pool{cfg.nd}d_backward {cfg.id} ties vs torch")


MIXED_CASES = [
    Pool("2d_k3_s2_p1_wide", (9, 13), 3, 2, 1, N=2, C=3),
    Pool("2d_k2_s1_dilation2_ceil", (8, 11), (2, 3), 1, 1, dilation=2, ceil_mode=True, N=1, C=2),
    Pool("3d_k2_s1_p1", (4, 5, 6), 2, 1, 1, N=1, C=2),
    Pool("1d_k4_s3_p2", (17,), 4, 3, 2, N=2, C=2),
    Pool("2d_k2_s2_short_rows", (6, 14), 2, N=2, C=2),  # rows under 16 outputs: both window rows in one pass
    Pool("2d_k2_s2_p1_ceil_short_rows", (7, 11), 2, 2, 1, ceil_mode=True, N=1, C=2),
    Pool("2d_k2_s2_dilated_rows_short_rows", (8, 12), 2, 2, 0, dilation=(3, 1), N=1, C=2),
    Pool("2d_k2_s2_long_rows", (2, 70), 2, N=1, C=2),
    Pool("2d_k2_s2_rows_of_30", (2, 60), 2, N=1, C=2),
    Pool("2d_k3_s2_p1_long_rows", (3, 67), 3, 2, 1, N=1, C=2),
    Pool("1d_k3_s1_p1_long_rows", (50,), 3, 1, 1, N=1, C=2),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("cfg", MIXED_CASES, ids=ids(MIXED_CASES))
def test_max_pool_ties_nan_and_inf_mixed(cfg, dtype, rng):
    """Windows full of equal values, NaNs (possibly several) and -inf at once: the kernel reduces rows
    and columns separately, and its choice must still be the row-major scan's (as torch)."""
    x = rng.choice(np.array([-np.inf, -1.0, 0.0, 0.0, 1.0, 1.0, np.nan], dtype), size=cfg.x_shape,
                   p=[0.15, 0.2, 0.2, 0.2, 0.1, 0.1, 0.05])
    y_ref, i_ref = ref_max_pool(cfg, x)
    y, idx = nc_max_pool(cfg, x)
    np.testing.assert_array_equal(y, y_ref.astype(dtype), err_msg=f"max_pool{cfg.nd}d {cfg.id} values")
    np.testing.assert_array_equal(idx, i_ref, err_msg=f"max_pool{cfg.nd}d {cfg.id} indices vs reference")
    np.testing.assert_array_equal(nc_max_pool(cfg, x, return_indices=False), y, err_msg="values-only path")
    torch = torch_or_fail()
    fn = getattr(torch.nn.functional, f"max_pool{cfg.nd}d")
    stride = cfg.stride if cfg.stride is not None else cfg.kernel
    _, i_t = fn(to_torch(torch, x), cfg.kernel, stride, cfg.padding, cfg.dilation, cfg.ceil_mode, True)
    np.testing.assert_array_equal(idx, i_t.numpy(), err_msg=f"max_pool{cfg.nd}d {cfg.id} indices vs torch")


# ----------------------------------------------------------------------------- average pooling


AVG = [
    Pool("2d_kernel2_default_stride", (4, 6), 2),
    Pool("2d_k3_s2_p1_include_pad", (5, 6), 3, 2, 1),
    Pool("2d_k3_s2_p1_exclude_pad", (5, 6), 3, 2, 1, count_include_pad=False),
    Pool("2d_ceil_include_pad", (6, 5), 3, 2, 1, ceil_mode=True),
    Pool("2d_ceil_exclude_pad", (6, 5), 3, 2, 1, ceil_mode=True, count_include_pad=False),
    Pool("2d_ceil_no_padding_overhang", (5, 7), (2, 3), (2, 2), ceil_mode=True, N=1),
    Pool("2d_ceil_window_starting_in_padding_dropped", (5, 5), 2, 2, 1, ceil_mode=True),
    Pool("2d_divisor_override", (5, 6), 3, 2, 1, ceil_mode=True, divisor_override=3),
    Pool("2d_divisor_override_negative", (4, 4), 2, 1, 1, divisor_override=-2, N=1),
    Pool("2d_stride_gt_kernel", (7, 7), 2, 3),
    Pool("2d_kernel_eq_input", (3, 4), (3, 4)),
    Pool("2d_kernel_eq_padded_input_exclude", (3, 3), 5, 1, 2, count_include_pad=False, N=1),
    Pool("2d_1x1_stride2", (5, 4), 1, 2),
    Pool("2d_batch1_one_channel", (5, 5), 3, 2, 1, N=1, C=1),
    Pool("2d_unbatched", (5, 4), 2, 1, 1, N=None, C=3, count_include_pad=False),
    Pool("2d_fortran", (5, 6), 3, 2, 1, layout="F"),
    Pool("2d_strided_view", (4, 5), 2, (1, 2), layout="strided", ceil_mode=True),
    Pool("2d_reversed_view", (5, 5), 3, 2, 1, ceil_mode=True, count_include_pad=False, layout="reversed"),
    Pool("1d_k3_s2_p1_ceil", (9,), 3, 2, 1, ceil_mode=True),
    Pool("1d_exclude_pad_override", (8,), 4, 3, 2, count_include_pad=False, divisor_override=5),
    Pool("1d_unbatched_fortran", (7,), 3, 3, 1, N=None, layout="F", ceil_mode=True),
    Pool("3d_basic", (3, 4, 5), (2, 2, 3), (1, 2, 2), (1, 0, 1), N=1),
    Pool("3d_ceil_exclude", (4, 3, 5), 2, 2, 1, ceil_mode=True, count_include_pad=False, N=1, C=1),
    Pool("3d_unbatched_override", (3, 3, 4), (3, 1, 2), N=None, divisor_override=4, layout="strided"),
    # one window covering the whole plane (the global-pooling kernels)
    Pool("2d_whole_plane_include_pad", (3, 3), 5, 1, 2, N=1),
    Pool("2d_whole_plane_override", (3, 4), (3, 4), divisor_override=5, layout="F"),
    Pool("3d_whole_plane", (2, 3, 4), (2, 3, 4), C=3),
    # dilation: a numconv extension (reference only)
    Pool("2d_dilation_padding", (6, 7), 3, 1, 2, dilation=2, N=1, torch=False),
    Pool("2d_dilation_ceil_exclude", (7, 6), (2, 3), 2, 1, dilation=(3, 1), ceil_mode=True, count_include_pad=False,
         N=1, torch=False),
    Pool("1d_dilation_override", (9,), 3, 2, 1, dilation=2, divisor_override=2, torch=False),
    Pool("3d_dilation", (5, 3, 4), 2, 1, (1, 0, 1), dilation=(2, 1, 2), N=1, C=1, torch=False),
    # rows long enough for the vector loops over a row's full windows and their tails
    Pool("2d_wide_k2_s2", (2, 70), 2, N=1, C=1),
    Pool("2d_k2_s2_30_wide", (3, 60), 2, N=1, C=1),
    Pool("2d_wide_k2_s2_p1_odd_exclude", (3, 69), 2, 2, 1, count_include_pad=False, N=1, C=1),
    Pool("2d_wide_k3_s2_p1_ceil", (3, 67), 3, 2, 1, ceil_mode=True, N=1, C=1),
    Pool("2d_wide_k3_s1_p1_override", (2, 45), 3, 1, 1, divisor_override=7, N=1, C=1),
    Pool("2d_wide_k2_s3_ceil_exclude", (2, 61), 2, 3, 1, ceil_mode=True, count_include_pad=False, N=1, C=1),
    Pool("1d_wide_k4_s2_dilation3", (90,), 4, 2, 1, dilation=3, N=1, torch=False),
]
AVG += random_pool_configs(12, seed=20240614, kind="avg")
TORCH_AVG = [c for c in AVG if c.torch]


def avg_args(cfg):
    return (cfg.kernel, cfg.stride, cfg.padding, cfg.ceil_mode, cfg.count_include_pad, cfg.divisor_override)


def nc_avg_pool(cfg, x):
    return getattr(F, f"avg_pool{cfg.nd}d")(arrange(x, cfg.layout), *avg_args(cfg), dilation=cfg.dilation)


def nc_avg_pool_backward(cfg, gy, x):
    fn = getattr(F, f"avg_pool{cfg.nd}d_backward")
    return fn(arrange(gy, cfg.layout), arrange(x, cfg.layout), *avg_args(cfg), dilation=cfg.dilation)


def ref_avg_pool(cfg, x):
    return unbatched_ref(R.avg_pool_nd, x, cfg.batched, *avg_args(cfg), dilation=cfg.dilation)


@pytest.mark.parametrize("cfg", AVG, ids=ids(AVG))
def test_avg_pool_forward_vs_reference(cfg, rng):
    x = random(rng, cfg.x_shape)
    y_ref = ref_avg_pool(cfg, x)
    for dtype in DTYPES:
        y = nc_avg_pool(cfg, x.astype(dtype))
        assert_dtype(y, dtype, "avg_pool output")
        assert_close(y, y_ref, dtype, what=f"avg_pool{cfg.nd}d {cfg.id}")


@pytest.mark.parametrize("cfg", AVG, ids=ids(AVG))
def test_avg_pool_backward_vs_numerical(cfg, rng):
    x = random(rng, cfg.x_shape)
    gy = random(rng, ref_avg_pool(cfg, x).shape)
    gx_ref = R.numerical_grad(lambda t: ref_avg_pool(cfg, t), x, gy)
    for dtype in DTYPES:
        xd, gyd = cast(dtype, x, gy)
        gx = nc_avg_pool_backward(cfg, gyd, xd)
        assert_dtype(gx, dtype, "avg_pool grad_input")
        assert_close(gx, gx_ref, dtype, "fd", f"avg_pool{cfg.nd}d_backward {cfg.id}")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("cfg", TORCH_AVG, ids=ids(TORCH_AVG))
def test_avg_pool_vs_torch(cfg, dtype, rng):
    torch = torch_or_fail()
    fn = getattr(torch.nn.functional, f"avg_pool{cfg.nd}d")
    args = list(avg_args(cfg))
    if args[1] is None:
        args[1] = cfg.kernel
    x = random(rng, cfg.x_shape, dtype)
    if cfg.nd == 1 and cfg.divisor_override is not None:
        # avg_pool1d(divisor_override=d) == avg_pool2d over a unit height with that override
        (k,), (s,), (p,) = (R.ntuple(v, 1) for v in args[:3])

        def f(t):
            t2 = t.unsqueeze(-2)
            return torch.nn.functional.avg_pool2d(t2, (1, k), (1, s), (0, p), *args[3:]).squeeze(-2)
    elif cfg.nd == 1:
        def f(t):
            return fn(t, *args[:5])
    else:
        def f(t):
            return fn(t, *args)
    y_t, gy, (gx_t,) = torch_forward_backward(torch, f, (x,), rng=rng)
    errors = []
    for got, expected, what in ((lambda: nc_avg_pool(cfg, x), y_t, "avg_pool"),
                                (lambda: nc_avg_pool_backward(cfg, gy, x), gx_t, "avg_pool_backward")):
        try:
            assert_close(got(), expected, dtype, what=f"{what.replace('pool', f'pool{cfg.nd}d')} {cfg.id} vs torch")
        except AssertionError as exc:
            errors.append(str(exc))
    assert not errors, "\n".join(errors)


def test_pool_defaults_match_torch(rng):
    """stride defaults to kernel_size; padding 0; count_include_pad True; floor mode."""
    torch = torch_or_fail()
    tf = torch.nn.functional
    x = random(rng, (2, 3, 7, 5))
    t = torch.from_numpy(x)
    assert_close(F.max_pool2d(x, 2), tf.max_pool2d(t, 2).numpy(), what="max_pool2d(x, 2)")
    assert_close(F.avg_pool2d(x, (3, 2)), tf.avg_pool2d(t, (3, 2)).numpy(), what="avg_pool2d(x, (3, 2))")
    assert_close(F.avg_pool2d(x, 3, padding=1), tf.avg_pool2d(t, 3, padding=1).numpy(), what="avg_pool2d(x, 3, padding=1)")


# ----------------------------------------------------------------------------- adaptive pooling


@dataclass(frozen=True)
class Adaptive:
    id: str
    size: tuple
    output_size: object
    N: int | None = 2
    C: int = 2
    layout: str = "C"

    nd = Pool.nd
    x_shape = Pool.x_shape
    batched = Pool.batched


ADAPTIVE = [
    Adaptive("2d_7x6_to_3x4", (7, 6), (3, 4)),
    Adaptive("2d_identity", (4, 5), (4, 5), N=1),
    Adaptive("2d_output_larger_than_input", (3, 4), (5, 6)),
    Adaptive("2d_global", (5, 4), 1),
    Adaptive("3d_global", (3, 4, 2), 1),
    Adaptive("1d_global_strided", (9,), 1, layout="strided"),
    Adaptive("2d_none_keeps_size", (5, 7), (None, 3)),
    Adaptive("2d_int_output_size_one_channel", (6, 5), 4, N=1, C=1),
    Adaptive("2d_unbatched_fortran", (5, 5), (2, 3), N=None, C=3, layout="F"),
    Adaptive("2d_reversed_view", (6, 7), (4, 3), layout="reversed"),
    Adaptive("1d_7_to_3", (7,), 3),
    Adaptive("1d_10_to_4_strided", (10,), (4,), layout="strided"),
    Adaptive("1d_unbatched_3_to_5", (3,), 5, N=None),
    Adaptive("3d", (4, 5, 3), (2, 3, 2), N=1),
    Adaptive("3d_unbatched_none", (3, 4, 5), (None, 3, 2), N=None, C=1),
]


def nc_adaptive(kind, cfg, x):
    fn = getattr(F, f"adaptive_{kind}_pool{cfg.nd}d")
    return fn(arrange(x, cfg.layout), cfg.output_size, *((True,) if kind == "max" else ()))


def nc_adaptive_backward(kind, cfg, gy, x, **kw):
    fn = getattr(F, f"adaptive_{kind}_pool{cfg.nd}d_backward")
    return fn(arrange(gy, cfg.layout), arrange(x, cfg.layout), cfg.output_size, **kw)


def ref_adaptive(kind, cfg, x):
    fn = R.adaptive_max_pool_nd if kind == "max" else R.adaptive_avg_pool_nd
    return unbatched_ref(fn, x, cfg.batched, cfg.output_size)


@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("cfg", ADAPTIVE, ids=ids(ADAPTIVE))
def test_adaptive_pool_vs_reference(cfg, kind, rng):
    x = random(rng, cfg.x_shape)
    expected = ref_adaptive(kind, cfg, x)
    y_ref = expected[0] if kind == "max" else expected
    gy = random(rng, y_ref.shape)
    values = (lambda t: ref_adaptive(kind, cfg, t)[0]) if kind == "max" else (lambda t: ref_adaptive(kind, cfg, t))
    gx_ref = R.numerical_grad(values, x, gy)
    for dtype in DTYPES:
        xd, gyd = cast(dtype, x, gy)
        out = nc_adaptive(kind, cfg, xd)
        y = out[0] if kind == "max" else out
        assert_dtype(y, dtype, f"adaptive_{kind}_pool output")
        assert_close(y, y_ref, dtype, what=f"adaptive_{kind}_pool{cfg.nd}d {cfg.id}")
        if kind == "max":
            np.testing.assert_array_equal(out[1], expected[1], err_msg=f"adaptive_max_pool{cfg.nd}d {cfg.id} indices")
            assert out[1].dtype == np.int64
            gx = nc_adaptive_backward(kind, cfg, gyd, xd, indices=out[1])
            assert_close(gx, gx_ref, dtype, "fd", f"adaptive_max_pool{cfg.nd}d_backward {cfg.id} (indices given)")
        gx = nc_adaptive_backward(kind, cfg, gyd, xd)
        assert_dtype(gx, dtype, f"adaptive_{kind}_pool grad_input")
        assert_close(gx, gx_ref, dtype, "fd", f"adaptive_{kind}_pool{cfg.nd}d_backward {cfg.id}")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("cfg", ADAPTIVE, ids=ids(ADAPTIVE))
def test_adaptive_pool_vs_torch(cfg, kind, dtype, rng):
    torch = torch_or_fail()
    fn = getattr(torch.nn.functional, f"adaptive_{kind}_pool{cfg.nd}d")
    x = random(rng, cfg.x_shape, dtype)
    if kind == "max":
        (y_t, i_t), gy, (gx_t,) = torch_forward_backward(torch, lambda t: fn(t, cfg.output_size, True), (x,), rng=rng)
        y, idx = nc_adaptive(kind, cfg, x)
        np.testing.assert_array_equal(idx, i_t, err_msg=f"adaptive_max_pool{cfg.nd}d {cfg.id} indices vs torch")
    else:
        y_t, gy, (gx_t,) = torch_forward_backward(torch, lambda t: fn(t, cfg.output_size), (x,), rng=rng)
        y = nc_adaptive(kind, cfg, x)
    assert_close(y, y_t, dtype, what=f"adaptive_{kind}_pool{cfg.nd}d {cfg.id} vs torch")
    assert_close(nc_adaptive_backward(kind, cfg, gy, x), gx_t, dtype,
                 what=f"adaptive_{kind}_pool{cfg.nd}d_backward {cfg.id} vs torch")


# ----------------------------------------------------------------------------- max unpooling


@dataclass(frozen=True)
class Unpool:
    """Unpool input (N, C, *size) with distinct random indices into the output plane."""

    id: str
    size: tuple
    kernel: object
    stride: object = None
    padding: object = 0
    output_size: object = None
    N: int | None = 2
    C: int = 2
    layout: str = "C"

    nd = Pool.nd
    x_shape = Pool.x_shape
    batched = Pool.batched

    def out_spatial(self):
        nd = self.nd
        k = R.ntuple(self.kernel, nd)
        s = k if self.stride is None else R.ntuple(self.stride, nd)
        p = R.ntuple(self.padding, nd)
        if self.output_size is not None:
            o = self.output_size
            return R.ntuple(o, nd) if isinstance(o, int) else tuple(o)[-nd:]
        return tuple((n - 1) * si - 2 * pi + ki for n, si, pi, ki in zip(self.size, s, p, k))


UNPOOL = [
    Unpool("2d_k2_default", (3, 4), 2),
    Unpool("2d_k3_s2_p1", (3, 3), 3, 2, 1),
    Unpool("2d_output_size_plus_one", (3, 2), 2, output_size=(7, 5)),
    Unpool("2d_output_size_full_nchw", (2, 3), (2, 3), (3, 2), output_size=(2, 2, 6, 7)),
    Unpool("2d_stride_gt_kernel", (2, 3), 2, 3, N=1, C=1),
    Unpool("2d_unbatched_fortran", (3, 3), 2, N=None, C=3, layout="F"),
    Unpool("2d_strided_view", (2, 4), 2, layout="strided"),
    Unpool("1d", (4,), 3, 2),
    Unpool("1d_padding_output_size", (4,), 3, 2, 1, output_size=6),
    Unpool("1d_unbatched", (5,), 2, N=None),
    Unpool("3d", (2, 2, 3), 2, N=1),
    Unpool("3d_output_size", (2, 2, 2), (2, 3, 2), (2, 2, 1), output_size=(5, 5, 3), N=1, layout="reversed"),
]


def make_unpool(cfg, rng, dtype=np.float64):
    x = random(rng, cfg.x_shape, dtype)
    plane = int(np.prod(cfg.out_spatial()))
    lead = cfg.x_shape[:-cfg.nd]
    n = int(np.prod(cfg.size))
    idx = np.stack([rng.choice(plane, n, replace=False) for _ in range(int(np.prod(lead)))])
    return x, idx.reshape(cfg.x_shape).astype(np.int64)


def nc_unpool(cfg, x, idx):
    fn = getattr(F, f"max_unpool{cfg.nd}d")
    return fn(arrange(x, cfg.layout), arrange(idx, cfg.layout), cfg.kernel, cfg.stride, cfg.padding, cfg.output_size)


def nc_unpool_backward(cfg, gy, x, idx):
    fn = getattr(F, f"max_unpool{cfg.nd}d_backward")
    return fn(arrange(gy, cfg.layout), arrange(x, cfg.layout), arrange(idx, cfg.layout), cfg.kernel, cfg.stride,
              cfg.padding, cfg.output_size)


def ref_unpool(cfg, x, idx):
    return unbatched_ref(lambda a, i: R.max_unpool_nd(a, i, cfg.out_spatial()), x, cfg.batched,
                         idx if cfg.batched else idx[None])


@pytest.mark.parametrize("cfg", UNPOOL, ids=ids(UNPOOL))
def test_max_unpool_vs_reference(cfg, rng):
    x, idx = make_unpool(cfg, rng)
    y_ref = ref_unpool(cfg, x, idx)
    gy = random(rng, y_ref.shape)
    gx_ref = R.numerical_grad(lambda t: ref_unpool(cfg, t, idx), x, gy)
    for dtype in DTYPES:
        xd, gyd = cast(dtype, x, gy)
        for index_dtype in (np.int64, np.int32):
            y = nc_unpool(cfg, xd, idx.astype(index_dtype))
            assert_dtype(y, dtype, "max_unpool output")
            assert_close(y, y_ref, dtype, what=f"max_unpool{cfg.nd}d {cfg.id} ({np.dtype(index_dtype)} indices)")
        gx = nc_unpool_backward(cfg, gyd, xd, idx)
        assert_dtype(gx, dtype, "max_unpool grad_input")
        assert_close(gx, gx_ref, dtype, "fd", f"max_unpool{cfg.nd}d_backward {cfg.id}")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("cfg", UNPOOL, ids=ids(UNPOOL))
def test_max_unpool_vs_torch(cfg, dtype, rng):
    torch = torch_or_fail()
    fn = getattr(torch.nn.functional, f"max_unpool{cfg.nd}d")
    x, idx = make_unpool(cfg, rng, dtype)
    out = (cfg.output_size,) if isinstance(cfg.output_size, int) else cfg.output_size  # torch wants a tuple
    y_t, gy, (gx_t, _) = torch_forward_backward(
        torch, lambda t, i: fn(t, i, cfg.kernel, cfg.stride, cfg.padding, out), (x, idx), rng=rng)
    assert_close(nc_unpool(cfg, x, idx), y_t, dtype, what=f"max_unpool{cfg.nd}d {cfg.id} vs torch")
    assert_close(nc_unpool_backward(cfg, gy, x, idx), gx_t, dtype, what=f"max_unpool{cfg.nd}d_backward {cfg.id} vs torch")


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_pool_then_unpool_roundtrip(nd, rng):
    """max_unpool(max_pool(x)) keeps each window's max in place and zeros elsewhere (non-overlapping windows)."""
    size = (5, 4, 6)[-nd:] if nd > 1 else (7,)
    x = random(rng, (2, 2) + size)
    y, idx = getattr(F, f"max_pool{nd}d")(x, 2, 2, 1, return_indices=True)
    u = getattr(F, f"max_unpool{nd}d")(y, idx, 2, 2, 1, output_size=size)
    expected = np.zeros_like(x)
    flat_x, flat_e = x.reshape(4, -1), expected.reshape(4, -1)
    for p, row in enumerate(idx.reshape(4, -1)):
        flat_e[p, row] = flat_x[p, row]
    assert_close(u, expected, what=f"max_unpool{nd}d(max_pool{nd}d(x))")
    assert np.count_nonzero(u) == idx.size


def test_cpu_check_indices_extremes_and_out_of_window_count(rng):
    """The CPU ``check_indices`` kernel (as the CUDA one): smallest and largest index, and how many
    in-plane indices name no tap of their own window, counted from the window definition here."""
    from numconv import shapes
    from numconv.kernels.cpu import pool as cpu_pool

    x_shape, kernel, stride, padding, dilation = (2, 3, 9, 23), (3, 2), (2, 2), (1, 1), (1, 2)
    spec = shapes.pool_spec(x_shape, 2, kernel, stride, padding, dilation, True)
    _, idx = F.max_pool2d(random(rng, x_shape), kernel, stride, padding, dilation, True, return_indices=True)
    idx = idx.copy()
    flat = idx.reshape(-1)
    moved = rng.choice(flat.size, 17, replace=False)
    flat[moved] = rng.integers(-5, 9 * 23 + 5, moved.size)
    _, _, OD, OH, OW = spec.y_shape
    want_out = 0
    for (n, c, oh, ow), k in np.ndenumerate(idx):
        if 0 <= k < 9 * 23:
            h, w = divmod(int(k), 23)
            taps_h = [oh * 2 - 1 + t for t in range(3)]
            taps_w = [ow * 2 - 1 + 2 * t for t in range(2)]
            want_out += not (h in taps_h and w in taps_w)
    assert want_out > 0
    info = np.iinfo(np.int64)
    found = np.array([info.max, info.min, 0], np.int64)
    cpu_pool.check_indices(found, idx.reshape(spec.y_shape), spec.first, spec.count, spec.step, (1, 9, 23), True)
    assert tuple(found) == (idx.min(), idx.max(), want_out)
    found = np.array([info.max, info.min, 0], np.int64)
    cpu_pool.check_indices(found, idx.reshape(spec.y_shape), spec.first, spec.count, spec.step, (1, 9, 23), False)
    assert tuple(found) == (idx.min(), idx.max(), 0)


@pytest.mark.parametrize("name", ["adaptive_avg_pool2d", "adaptive_max_pool2d"])
def test_adaptive_pooling_to_an_empty_output_as_torch(name, rng, torch):
    """output_size 0 along a dimension gives an empty output, as PyTorch's (it was refused); its
    gradient is all zeros (torch's backward refuses an empty grad_output)."""
    x = rng.standard_normal((2, 3, 5, 6))
    for size in ((0, 3), (4, 0), 0):
        t = nc.Tensor(x, requires_grad=True)
        y = getattr(F, name)(t, size)
        want = getattr(torch.nn.functional, name)(torch.from_numpy(x), size)
        assert y.shape == tuple(want.shape) and y.dtype == np.float64
        y.sum().backward()
        assert t.grad.shape == x.shape and not t.grad.numpy().any()
    out, idx = F.adaptive_max_pool2d(x, (0, 2), return_indices=True)
    assert out.shape == idx.shape == (2, 3, 0, 2) and idx.dtype == np.int64
    with pytest.raises(ValueError, match="empty output"):
        nc.receptive_field(nc.nn.Sequential(nc.nn.Conv2d(3, 2, 3), nc.nn.AdaptiveAvgPool2d((0, 2))), (3, 8, 8))
