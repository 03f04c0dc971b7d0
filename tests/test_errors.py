"""Bad input: every user mistake raises ValueError or TypeError naming the argument and the
offending values, before any kernel runs, and never as a Numba typing error.

The ``no_kernels`` fixture replaces ``numconv.dispatch.kernels`` with a function that fails the
test, so an error raised only after (or by) a kernel, or a mistake that reaches a kernel
unchecked, fails here instead of corrupting memory. NaN, on the other hand, is not an error: it
propagates through convolution and pooling (tests at the end, kernels enabled).
"""
from __future__ import annotations

import os
import traceback

import numpy as np
import pytest

import numconv
import numconv.functional as F
from numconv import dispatch

PKG_DIR = os.path.dirname(os.path.abspath(numconv.__file__))
KERNEL_DIR = os.path.join(PKG_DIR, "kernels")

RNG = np.random.default_rng(7)


def a(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def ints(*shape, value=0, dtype=np.int64):
    return np.full(shape, value, dtype)


def sp(nd, n):
    """``nd`` spatial sizes of ``n``."""
    return (n,) * nd


@pytest.fixture
def no_kernels(monkeypatch):
    """No kernel may run before the argument error but ``check_indices``, the one-pass read of
    given indices whose extremes the error reports."""
    real = dispatch.kernels

    class OnlyChecks:
        def __init__(self, family, device):
            self.family, self.device = family, device

        def __getattr__(self, name):
            if name == "check_indices":
                return getattr(real(self.family, self.device), name)
            raise AssertionError(f"a {self.family!r} kernel ({name}) was requested on {self.device!r} "
                                 "before the argument error was raised")

    monkeypatch.setattr(dispatch, "kernels", OnlyChecks)


def check(exc, match, fn, *values):
    """``fn()`` raises exactly ``exc`` (not a Numba subclass) from numconv's Python layers (not a
    kernel), with ``match`` (a regex naming the argument) and every string of ``values`` in its message."""
    with pytest.raises(exc, match=match) as info:
        fn()
    err = info.value
    assert type(err) is exc, f"expected exactly {exc.__name__}, got {type(err).__module__}.{type(err).__name__}: {err}"
    msg = str(err)
    for v in values:
        assert v in msg, f"message does not name {v!r}: {msg}"
    frames = traceback.extract_tb(info.tb)
    origin = os.path.abspath(frames[-1].filename)
    assert origin.startswith(PKG_DIR) and not origin.startswith(KERNEL_DIR), f"raised from {origin}"
    return msg


NDS = [1, 2, 3]
VE, TE = ValueError, TypeError


# ----------------------------------------------------------------------------- wrong number of dimensions


@pytest.mark.parametrize("nd", NDS)
@pytest.mark.usefixtures("no_kernels")
class TestRank:
    def test_conv_input(self, nd):
        conv = getattr(F, f"conv{nd}d")
        w = a(4, 3, *sp(nd, 3))
        check(VE, rf"input must have {nd + 1} or {nd + 2} dimensions", lambda: conv(a(*sp(nd, 6)), w), str(sp(nd, 6)))
        big = (1, 2, 3) + sp(nd, 6)
        check(VE, rf"input must have {nd + 1} or {nd + 2} dimensions", lambda: conv(a(*big), w), str(big))

    def test_conv_weight(self, nd):
        conv = getattr(F, f"conv{nd}d")
        ws = (4, 3) + sp(nd - 1, 3) if nd > 1 else (4, 3)
        check(VE, rf"weight must have {nd + 2} dimensions", lambda: conv(a(2, 3, *sp(nd, 6)), a(*ws)), str(ws))
        ws = (4, 3) + sp(nd + 1, 3)
        check(VE, rf"weight must have {nd + 2} dimensions", lambda: conv(a(2, 3, *sp(nd, 6)), a(*ws)), str(ws))

    def test_conv_bias(self, nd):
        conv = getattr(F, f"conv{nd}d")
        x, w = a(2, 3, *sp(nd, 6)), a(4, 3, *sp(nd, 3))
        check(VE, r"bias must have 1 dimensions", lambda: conv(x, w, a(4, 1)), "(4, 1)")
        check(VE, r"bias must have 1 dimensions", lambda: conv(x, w, np.float64(1.0)), "()")
        check(VE, r"bias must have shape \(4,\)", lambda: conv(x, w, a(5)), "(5,)")

    def test_conv_transpose(self, nd):
        tconv = getattr(F, f"conv_transpose{nd}d")
        x, w = a(2, 3, *sp(nd, 4)), a(3, 2, *sp(nd, 3))
        check(VE, rf"input must have {nd + 1} or {nd + 2} dimensions", lambda: tconv(x[0, 0], w), str(x[0, 0].shape))
        check(VE, rf"weight must have {nd + 2} dimensions", lambda: tconv(x, w[0]), str(w[0].shape))
        check(VE, r"bias must have 1 dimensions", lambda: tconv(x, w, a(2, 1)), "(2, 1)")
        check(VE, r"bias must have shape \(2,\)", lambda: tconv(x, w, a(3)), "(3,)")

    def test_pooling_input(self, nd):
        bad = a(*sp(nd, 6))
        for fn in (lambda: F.__dict__[f"max_pool{nd}d"](bad, 2),
                   lambda: F.__dict__[f"avg_pool{nd}d"](bad, 2),
                   lambda: F.__dict__[f"adaptive_avg_pool{nd}d"](bad, 2),
                   lambda: F.__dict__[f"adaptive_max_pool{nd}d"](bad, 2),
                   lambda: F.__dict__[f"max_unpool{nd}d"](bad, ints(*bad.shape), 2)):
            check(VE, rf"input must have {nd + 1} or {nd + 2} dimensions", fn, str(bad.shape))
        big = a(1, 1, 1, *sp(nd, 4))
        check(VE, rf"input must have {nd + 1} or {nd + 2} dimensions",
              lambda: getattr(F, f"max_pool{nd}d")(big, 2), str(big.shape))


@pytest.mark.usefixtures("no_kernels")
def test_unfold_fold_rank():
    check(VE, r"input must have 3 or 4 dimensions", lambda: F.unfold(a(1, 1, 1, 4, 4), 2), "(1, 1, 1, 4, 4)")
    check(VE, r"input must have 3 or 4 dimensions", lambda: F.unfold(a(4, 4), 2), "(4, 4)")
    check(VE, r"input must have 2 or 3 dimensions", lambda: F.fold(a(1, 4, 3, 3), (4, 4), 2), "(1, 4, 3, 3)")
    check(VE, r"input must have 2 or 3 dimensions", lambda: F.fold(a(4), (4, 4), 2), "(4,)")


# ----------------------------------------------------------------------------- channels and groups


@pytest.mark.parametrize("nd", NDS)
@pytest.mark.usefixtures("no_kernels")
class TestChannels:
    def test_conv_channel_mismatch(self, nd):
        conv = getattr(F, f"conv{nd}d")
        check(VE, r"weight expects 2 input channels .*C_in=3", lambda: conv(a(2, 3, *sp(nd, 6)), a(4, 2, *sp(nd, 3))),
              "weight.shape[1]=2")

    def test_conv_groups_input(self, nd):
        conv = getattr(F, f"conv{nd}d")
        check(VE, r"groups=2 must divide the input channels", lambda: conv(a(2, 3, *sp(nd, 5)), a(4, 1, *sp(nd, 3)), groups=2),
              "C_in=3")

    def test_conv_groups_output(self, nd):
        conv = getattr(F, f"conv{nd}d")
        check(VE, r"groups=2 must divide the output channels", lambda: conv(a(2, 4, *sp(nd, 5)), a(3, 2, *sp(nd, 3)), groups=2),
              "weight.shape[0]=3")

    @pytest.mark.parametrize("groups", [0, -1, 1.0, None])
    def test_conv_groups_not_positive_int(self, nd, groups):
        conv = getattr(F, f"conv{nd}d")
        check(VE, r"groups must be a positive int", lambda: conv(a(2, 4, *sp(nd, 5)), a(4, 4, *sp(nd, 3)), groups=groups),
              repr(groups))

    def test_conv_transpose_channels(self, nd):
        tconv = getattr(F, f"conv_transpose{nd}d")
        check(VE, r"weight.shape\[0\]=2 must equal the input channels C_in=3",
              lambda: tconv(a(2, 3, *sp(nd, 4)), a(2, 4, *sp(nd, 3))))
        check(VE, r"groups=2 must divide the input channels", lambda: tconv(a(2, 3, *sp(nd, 4)), a(3, 4, *sp(nd, 3)), groups=2),
              "C_in=3")
        check(VE, r"groups must be a positive int", lambda: tconv(a(2, 4, *sp(nd, 4)), a(4, 2, *sp(nd, 3)), groups=0), "0")


# ----------------------------------------------------------------------------- stride, dilation, padding


@pytest.mark.parametrize("nd", NDS)
@pytest.mark.usefixtures("no_kernels")
class TestStrideDilationPadding:
    def test_conv(self, nd):
        conv = getattr(F, f"conv{nd}d")
        x, w = a(2, 3, *sp(nd, 6)), a(4, 3, *sp(nd, 3))
        zero_last = (1,) * (nd - 1) + (0,)
        check(VE, r"stride must be >= 1", lambda: conv(x, w, stride=0), str((0,) * nd))
        check(VE, r"stride must be >= 1", lambda: conv(x, w, stride=-2), str((-2,) * nd))
        check(VE, r"dilation must be >= 1", lambda: conv(x, w, dilation=zero_last), str(zero_last))
        check(VE, r"padding must be >= 0", lambda: conv(x, w, padding=-1), str((-1,) * nd))
        per_side = ((0, -1),) + ((1, 1),) * (nd - 1)
        check(VE, r"padding must be >= 0", lambda: conv(x, w, padding=per_side), "-1")

    def test_conv_transpose(self, nd):
        tconv = getattr(F, f"conv_transpose{nd}d")
        x, w = a(2, 3, *sp(nd, 4)), a(3, 2, *sp(nd, 3))
        check(VE, r"stride must be >= 1", lambda: tconv(x, w, stride=0), str((0,) * nd))
        check(VE, r"dilation must be >= 1", lambda: tconv(x, w, dilation=0), str((0,) * nd))
        check(VE, r"padding must be >= 0", lambda: tconv(x, w, padding=-1), str((-1,) * nd))
        check(VE, r"output_padding must be >= 0", lambda: tconv(x, w, stride=2, output_padding=-1), str((-1,) * nd))

    def test_pooling(self, nd):
        x = a(2, 3, *sp(nd, 6))
        for name in (f"max_pool{nd}d", f"avg_pool{nd}d"):
            pool = getattr(F, name)
            check(VE, r"kernel_size must be >= 1", lambda: pool(x, 0), str((0,) * nd))
            check(VE, r"stride must be >= 1", lambda: pool(x, 2, stride=0), str((0,) * nd))
            check(VE, r"padding must be >= 0", lambda: pool(x, 2, padding=-1), str((-1,) * nd))
            check(VE, r"dilation must be >= 1", lambda: pool(x, 2, dilation=0), str((0,) * nd))
        unpool = getattr(F, f"max_unpool{nd}d")
        y, idx = a(2, 3, *sp(nd, 3)), ints(2, 3, *sp(nd, 3))
        check(VE, r"kernel_size must be >= 1", lambda: unpool(y, idx, 0), str((0,) * nd))
        check(VE, r"stride must be >= 1", lambda: unpool(y, idx, 2, stride=0), str((0,) * nd))
        check(VE, r"padding must be >= 0", lambda: unpool(y, idx, 2, padding=-1), str((-1,) * nd))

    def test_pool_padding_at_most_half_the_window(self, nd):
        x = a(2, 3, *sp(nd, 8))
        check(VE, r"padding must be at most half the \(dilated\) window",
              lambda: getattr(F, f"max_pool{nd}d")(x, 3, padding=2), f"padding={(2,) * nd}", f"kernel_size={(3,) * nd}")
        check(VE, r"padding must be at most half the \(dilated\) window",
              lambda: getattr(F, f"avg_pool{nd}d")(x, 2, padding=2), f"padding={(2,) * nd}", f"kernel_size={(2,) * nd}")
        # dilation 2 makes a 3-tap window 5 wide: padding 2 is allowed, 3 is not
        check(VE, r"padding must be at most half the \(dilated\) window",
              lambda: getattr(F, f"max_pool{nd}d")(x, 3, padding=3, dilation=2), f"padding={(3,) * nd}",
              f"dilation={(2,) * nd}")
        one_big = (1,) * (nd - 1) + (2,)
        check(VE, r"padding must be at most half", lambda: getattr(F, f"max_pool{nd}d")(x, 2, padding=one_big),
              f"padding={one_big}")


@pytest.mark.usefixtures("no_kernels")
def test_unfold_fold_parameters():
    x, cols = a(1, 2, 5, 5), a(1, 8, 16)
    check(VE, r"kernel_size must be >= 1", lambda: F.unfold(x, 0), "(0, 0)")
    check(VE, r"stride must be >= 1", lambda: F.unfold(x, 2, stride=0), "(0, 0)")
    check(VE, r"dilation must be >= 1", lambda: F.unfold(x, 2, dilation=(1, 0)), "(1, 0)")
    check(VE, r"padding must be >= 0", lambda: F.unfold(x, 2, padding=-1), "(-1, -1)")
    check(VE, r"stride must be >= 1", lambda: F.fold(cols, (5, 5), 2, stride=0), "(0, 0)")
    check(VE, r"padding must be >= 0", lambda: F.fold(cols, (5, 5), 2, padding=-1), "(-1, -1)")
    check(VE, r"output_size must be >= 1", lambda: F.fold(cols, (0, 5), 2), "(0, 5)")
    check(TE, r"output_size must be an int or a tuple of 2 ints", lambda: F.fold(cols, (5, 5, 5), 2), "(5, 5, 5)")


@pytest.mark.usefixtures("no_kernels")
@pytest.mark.parametrize(
    "kw, exc, match, value",
    [
        (dict(stride=1.5), TE, r"stride must be an int or a tuple of 2 ints", "1.5"),
        (dict(stride=True), TE, r"stride must be an int or a tuple of 2 ints", "True"),
        (dict(stride=None), TE, r"stride must be an int or a tuple of 2 ints", "None"),
        (dict(stride=(1, 1, 1)), TE, r"stride must be an int or a tuple of 2 ints", "(1, 1, 1)"),
        (dict(dilation=()), TE, r"dilation must be an int or a tuple of 2 ints", "()"),
        (dict(padding=1.5), TE, r"padding must be an int or a tuple of 2 ints", "1.5"),
        (dict(padding=(1, 1, 1)), TE, r"padding must be an int or a tuple of 2 ints", "(1, 1, 1)"),
        (dict(padding=((1,), (1, 1))), TE, r"padding given per side must be 2 pairs", "((1,), (1, 1))"),
    ],
)
def test_conv_parameter_types(kw, exc, match, value):
    check(exc, match, lambda: F.conv2d(a(2, 3, 6, 6), a(4, 3, 3, 3), **kw), value)


# ----------------------------------------------------------------------------- output size < 1


@pytest.mark.parametrize("nd", NDS)
@pytest.mark.usefixtures("no_kernels")
class TestEmptyOutput:
    def test_conv(self, nd):
        conv = getattr(F, f"conv{nd}d")
        check(VE, r"output would be empty", lambda: conv(a(1, 3, *sp(nd, 2)), a(4, 3, *sp(nd, 3))),
              f"input size {sp(nd, 2)}", f"kernel {sp(nd, 3)}")
        check(VE, r"output would be empty", lambda: conv(a(1, 3, *sp(nd, 4)), a(4, 3, *sp(nd, 3)), dilation=2),
              f"dilated kernel {sp(nd, 5)}", f"dilation {sp(nd, 2)}")

    def test_conv_transpose(self, nd):
        tconv = getattr(F, f"conv_transpose{nd}d")
        check(VE, r"output would be empty", lambda: tconv(a(1, 2, *sp(nd, 1)), a(2, 2, *sp(nd, 1)), padding=1),
              f"gives {sp(nd, -1)}")

    def test_pooling(self, nd):
        x = a(1, 2, *sp(nd, 2))
        for name in (f"max_pool{nd}d", f"avg_pool{nd}d"):
            check(VE, r"output would be empty", lambda: getattr(F, name)(x, 3), f"input size {sp(nd, 2)}",
                  f"kernel_size={sp(nd, 3)}")
        check(VE, r"output would be empty", lambda: getattr(F, f"max_pool{nd}d")(a(1, 2, *sp(nd, 4)), 3, dilation=2),
              f"dilation={sp(nd, 2)}")

    @pytest.mark.parametrize("name", ["adaptive_avg_pool", "adaptive_max_pool"])
    def test_adaptive_output_size(self, nd, name):
        pool = getattr(F, f"{name}{nd}d")
        x = a(1, 2, *sp(nd, 4))
        check(VE, r"output_size must be >= 0", lambda: pool(x, -3), str(sp(nd, -3)))
        check(VE, r"output_size must be >= 0", lambda: pool(x, (2,) * (nd - 1) + (-1,)), str((2,) * (nd - 1) + (-1,)))
        check(TE, r"output_size must be an int or a tuple of", lambda: pool(x, 2.5), "2.5")
        float_entry = (3.0,) + (2,) * (nd - 1)  # a float among ints: its type is wrong, not its size (torch: TypeError)
        check(TE, r"output_size must be an int or a tuple of", lambda: pool(x, float_entry), str(float_entry))
        check(TE, r"output_size must be an int or a tuple of", lambda: pool(x, sp(nd + 1, 2)), str(sp(nd + 1, 2)))
        check(VE, r"input must have non-empty spatial dimensions", lambda: pool(a(1, 2, *sp(nd, 0)), 2), str((1, 2) + sp(nd, 0)))

    def test_unpool(self, nd):
        unpool = getattr(F, f"max_unpool{nd}d")
        y = a(1, 2, *sp(nd, 1))
        check(VE, r"unpooled output would be empty", lambda: unpool(y, ints(*y.shape), 1, padding=1), str(sp(nd, -1)))
        y = a(1, 2, *sp(nd, 3))
        check(VE, r"output_size .* must be within one stride of the default",
              lambda: unpool(y, ints(*y.shape), 2, output_size=sp(nd, 4)), str(sp(nd, 4)), f"default {sp(nd, 6)}")
        check(VE, r"output_size .* must be within one stride of the default",
              lambda: unpool(y, ints(*y.shape), 2, output_size=sp(nd, 8)), str(sp(nd, 8)))


@pytest.mark.usefixtures("no_kernels")
def test_unfold_fold_no_blocks():
    check(VE, r"input spatial size \(2, 2\).*no sliding blocks", lambda: F.unfold(a(1, 2, 2, 2), 3), "kernel_size=(3, 3)")
    check(VE, r"output_size spatial size \(2, 3\).*no sliding blocks", lambda: F.fold(a(1, 9, 1), (2, 3), 3),
          "kernel_size=(3, 3)")


# ----------------------------------------------------------------------------- output_padding


@pytest.mark.parametrize("nd", NDS)
@pytest.mark.usefixtures("no_kernels")
def test_output_padding_not_smaller_than_stride_or_dilation(nd):
    tconv = getattr(F, f"conv_transpose{nd}d")
    x, w = a(1, 2, *sp(nd, 3)), a(2, 2, *sp(nd, 3))
    check(VE, r"output_padding must be smaller than either stride or dilation", lambda: tconv(x, w, output_padding=1),
          f"output_padding={sp(nd, 1)}", f"stride={sp(nd, 1)}", f"dilation={sp(nd, 1)}")
    check(VE, r"output_padding must be smaller than either stride or dilation",
          lambda: tconv(x, w, stride=2, output_padding=2), f"output_padding={sp(nd, 2)}", f"stride={sp(nd, 2)}")
    check(VE, r"output_padding must be smaller than either stride or dilation",
          lambda: tconv(x, w, stride=2, dilation=3, output_padding=3), f"output_padding={sp(nd, 3)}", f"dilation={sp(nd, 3)}")
    last = (0,) * (nd - 1) + (2,)
    check(VE, r"output_padding must be smaller than either stride or dilation",
          lambda: tconv(x, w, stride=2, output_padding=last), f"output_padding={last}")


# ----------------------------------------------------------------------------- indices for max_unpool


@pytest.mark.parametrize("nd", NDS)
@pytest.mark.usefixtures("no_kernels")
class TestUnpoolIndices:
    def test_shape_mismatch(self, nd):
        unpool = getattr(F, f"max_unpool{nd}d")
        y = a(2, 3, *sp(nd, 3))
        bad = (2, 3) + sp(nd - 1, 3) + (2,)
        check(VE, r"indices must have shape", lambda: unpool(y, ints(*bad), 2), str(y.shape), str(bad))
        check(VE, r"indices must have shape", lambda: unpool(y, ints(3, *sp(nd, 3)), 2), str((3,) + sp(nd, 3)))
        check(TE, r"indices must be an array", lambda: unpool(y, [0, 1], 2), "got list")

    def test_out_of_range(self, nd):
        unpool = getattr(F, f"max_unpool{nd}d")
        y = a(2, 3, *sp(nd, 3))
        plane = 6 ** nd
        idx = ints(*y.shape)
        idx.flat[5] = plane
        check(VE, r"indices must lie in \[0, " + str(plane) + r"\)", lambda: unpool(y, idx, 2), str(plane), str(sp(nd, 6)))
        idx.flat[5] = -1
        check(VE, r"indices must lie in", lambda: unpool(y, idx, 2), "-1")
        idx.flat[5] = plane - 1  # in range for the default size, not for a smaller explicit output_size
        check(VE, r"indices must lie in", lambda: unpool(y, idx, 2, output_size=sp(nd, 5)), str(plane - 1), str(sp(nd, 5)))
        huge = np.abs(idx).astype(np.uint64)
        huge.flat[5] = 2 ** 63 + 5  # would wrap to a negative int64
        check(VE, r"indices must lie in", lambda: unpool(y, huge, 2), str(2 ** 63 + 5))

    @pytest.mark.parametrize("dtype", [np.float64, np.float32, np.bool_])
    def test_non_integer_dtype(self, nd, dtype):
        unpool = getattr(F, f"max_unpool{nd}d")
        y = a(2, 3, *sp(nd, 3))
        check(TE, r"indices must be an integer array", lambda: unpool(y, np.zeros(y.shape, dtype), 2), np.dtype(dtype).name)


@pytest.mark.parametrize("nd", NDS)
@pytest.mark.usefixtures("no_kernels")
def test_max_pool_backward_indices_shape_and_dtype(nd):
    x = a(2, 3, *sp(nd, 4))
    gy = a(2, 3, *sp(nd, 2))
    mpb = getattr(F, f"max_pool{nd}d_backward")
    check(VE, r"indices must have shape", lambda: mpb(gy, x, 2, indices=ints(2, 3, *sp(nd, 3))), str(gy.shape))
    check(TE, r"indices must be an integer array", lambda: mpb(gy, x, 2, indices=np.zeros(gy.shape)), "float64")
    amb = getattr(F, f"adaptive_max_pool{nd}d_backward")
    check(VE, r"indices must have shape", lambda: amb(gy, x, 2, indices=ints(2, 3, *sp(nd, 3))), str(gy.shape))


@pytest.mark.parametrize("name", ["max_pool2d_backward", "adaptive_max_pool2d_backward"])
@pytest.mark.parametrize("value", [16, -1, 10**7])
def test_max_pool_backward_indices_out_of_range(no_kernels, name, value):
    x = a(2, 3, 4, 4)
    gy = a(2, 3, 2, 2)
    idx = ints(*gy.shape)
    idx.flat[3] = value
    check(VE, r"indices must lie in \[0, 16\)", lambda: getattr(F, name)(gy, x, 2, indices=idx), str(value))


# ----------------------------------------------------------------------------- dtypes and non-arrays


def _all_forward_calls(nd, x):
    """Every forward op of dimension ``nd`` applied to ``x`` (its other arrays valid float64)."""
    return {
        f"conv{nd}d": lambda: getattr(F, f"conv{nd}d")(x, a(4, 3, *sp(nd, 3))),
        f"conv_transpose{nd}d": lambda: getattr(F, f"conv_transpose{nd}d")(x, a(3, 2, *sp(nd, 3))),
        f"max_pool{nd}d": lambda: getattr(F, f"max_pool{nd}d")(x, 2),
        f"avg_pool{nd}d": lambda: getattr(F, f"avg_pool{nd}d")(x, 2),
        f"adaptive_avg_pool{nd}d": lambda: getattr(F, f"adaptive_avg_pool{nd}d")(x, 2),
        f"adaptive_max_pool{nd}d": lambda: getattr(F, f"adaptive_max_pool{nd}d")(x, 2),
        f"max_unpool{nd}d": lambda: getattr(F, f"max_unpool{nd}d")(x, ints(2, 3, *sp(nd, 6)), 2),
    }


@pytest.mark.parametrize("nd", NDS)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_, np.float16, np.complex128])
@pytest.mark.usefixtures("no_kernels")
def test_non_float_input_dtype(nd, dtype):
    x = np.ones((2, 3) + sp(nd, 6), dtype)
    calls = _all_forward_calls(nd, x)
    if nd == 2:
        calls["unfold"] = lambda: F.unfold(x, 2)
        calls["pad"] = lambda: F.pad(x, (1, 1))
        calls["fold"] = lambda: F.fold(np.ones((1, 4, 9), dtype), (4, 4), 2)
    for name, fn in calls.items():
        msg = check(TE, r"input must be float32 or float64", fn, np.dtype(dtype).name)
        assert "float32" in msg and "astype" in msg, f"{name}: the message should say how to convert: {msg}"


@pytest.mark.usefixtures("no_kernels")
def test_non_float_weight_bias_grad_output():
    x, w = a(2, 3, 6, 6), a(4, 3, 3, 3)
    check(TE, r"weight must be float32 or float64", lambda: F.conv2d(x, w.astype(np.int64)), "int64")
    check(TE, r"bias must be float32 or float64", lambda: F.conv2d(x, w, np.ones(4, np.int32)), "int32")
    check(TE, r"weight must be float32 or float64", lambda: F.conv_transpose2d(x, np.ones((3, 2, 3, 3), np.int64)), "int64")
    check(TE, r"grad_output must be float32 or float64",
          lambda: F.conv2d_backward(np.ones((2, 4, 4, 4), np.int64), x, w), "int64")
    check(TE, r"grad_output must be float32 or float64",
          lambda: F.max_pool2d_backward(np.ones((2, 3, 3, 3), np.int64), x, 2), "int64")


@pytest.mark.parametrize("nd", NDS)
@pytest.mark.usefixtures("no_kernels")
def test_mismatched_dtypes(nd):
    x32, x64 = a(2, 3, *sp(nd, 6), dtype=np.float32), a(2, 3, *sp(nd, 6))
    w64, w32 = a(4, 3, *sp(nd, 3)), a(4, 3, *sp(nd, 3), dtype=np.float32)
    conv, tconv = getattr(F, f"conv{nd}d"), getattr(F, f"conv_transpose{nd}d")
    check(TE, r"weight has dtype float64 but input has dtype float32", lambda: conv(x32, w64))
    check(TE, r"weight has dtype float32 but input has dtype float64", lambda: conv(x64, w32))
    check(TE, r"bias has dtype float64 but input has dtype float32", lambda: conv(x32, w32, a(4)))
    check(TE, r"bias has dtype float32 but input has dtype float64", lambda: conv(x64, w64, a(4, dtype=np.float32)))
    wt64 = a(3, 2, *sp(nd, 3))
    check(TE, r"weight has dtype float64 but input has dtype float32", lambda: tconv(x32, wt64))
    check(TE, r"bias has dtype float32 but input has dtype float64",
          lambda: tconv(x64, wt64, a(2, dtype=np.float32)))
    gy32 = a(2, 4, *sp(nd, 4), dtype=np.float32)
    check(TE, r"grad_output has dtype float32 but input has dtype float64",
          lambda: getattr(F, f"conv{nd}d_backward")(gy32, x64, w64))
    check(TE, r"grad_output has dtype float32 but input has dtype float64",
          lambda: getattr(F, f"max_pool{nd}d_backward")(a(2, 3, *sp(nd, 3), dtype=np.float32), x64, 2))
    check(TE, r"grad_output has dtype float64 but input has dtype float32",
          lambda: getattr(F, f"avg_pool{nd}d_backward")(a(2, 3, *sp(nd, 3)), x32, 2))


@pytest.mark.usefixtures("no_kernels")
def test_pad_backward_dtype():
    check(TE, r"grad_output has dtype float32 but input has dtype float64",
          lambda: F.pad_backward(a(1, 1, 4, 6, dtype=np.float32), a(1, 1, 4, 4), (1, 1)))


@pytest.mark.parametrize("value", [[[[1.0, 2.0]]], ((1.0,),), 3.0, None, "x"], ids=["list", "tuple", "float", "None", "str"])
@pytest.mark.usefixtures("no_kernels")
def test_non_array_input(value):
    kind = type(value).__name__
    x, w = a(2, 3, 6, 6), a(4, 3, 3, 3)
    calls = {
        "conv2d": lambda: F.conv2d(value, w),
        "conv1d": lambda: F.conv1d(value, a(4, 3, 3)),
        "conv_transpose2d": lambda: F.conv_transpose2d(value, a(3, 2, 3, 3)),
        "max_pool2d": lambda: F.max_pool2d(value, 2),
        "avg_pool3d": lambda: F.avg_pool3d(value, 2),
        "adaptive_avg_pool2d": lambda: F.adaptive_avg_pool2d(value, 2),
        "adaptive_max_pool1d": lambda: F.adaptive_max_pool1d(value, 2),
        "max_unpool2d": lambda: F.max_unpool2d(value, ints(1, 1, 2, 2), 2),
        "unfold": lambda: F.unfold(value, 2),
        "fold": lambda: F.fold(value, (4, 4), 2),
        "pad": lambda: F.pad(value, (1, 1)),
    }
    for name, fn in calls.items():
        check(TE, r"input must be an array", fn, kind)
    check(TE, r"weight must be an array", lambda: F.conv2d(x, value), kind)
    check(TE, r"bias must be an array", lambda: F.conv2d(x, w, [0.0] * 4 if value is not None else "b"))
    check(TE, r"grad_output must be an array", lambda: F.conv2d_backward(value if value is not None else "g", x, w))
    check(TE, r"grad_output must be an array", lambda: F.pad_backward(value if value is not None else "g", x, (1, 1)))


# ----------------------------------------------------------------------------- padding strings and modes


@pytest.mark.parametrize("nd", NDS)
@pytest.mark.parametrize("bad", ["full", "SAME", "Valid", "", "causal"])
@pytest.mark.usefixtures("no_kernels")
def test_bad_padding_string(nd, bad):
    conv = getattr(F, f"conv{nd}d")
    check(VE, r"padding must be an int, a tuple, 'same' or 'valid'", lambda: conv(a(1, 3, *sp(nd, 5)), a(2, 3, *sp(nd, 3)), padding=bad),
          repr(bad))


@pytest.mark.parametrize("nd", NDS)
@pytest.mark.parametrize(
    "padding, mode",
    [("same", "zeros"), ("valid", "zeros"), ("valid", "reflect"), ("valid", "circular")]
    + [("same", m) for m in ("reflect", "replicate", "circular")],
)
@pytest.mark.usefixtures("no_kernels")
def test_string_padding_on_transposed_conv(nd, padding, mode):
    tconv = getattr(F, f"conv_transpose{nd}d")
    check(VE, rf"padding='{padding}' is not defined for a transposed convolution",
          lambda: tconv(a(1, 3, *sp(nd, 4)), a(3, 2, *sp(nd, 3)), padding=padding, padding_mode=mode))


@pytest.mark.parametrize("nd", NDS)
@pytest.mark.parametrize("mode", ["mirror", "zero", "constant", "edge", "wrap", "Reflect", None])
@pytest.mark.usefixtures("no_kernels")
def test_bad_padding_mode(nd, mode):
    conv, tconv = getattr(F, f"conv{nd}d"), getattr(F, f"conv_transpose{nd}d")
    x = a(1, 3, *sp(nd, 5))
    check(VE, r"padding_mode must be one of", lambda: conv(x, a(2, 3, *sp(nd, 3)), padding=1, padding_mode=mode), repr(mode))
    check(VE, r"padding_mode must be one of", lambda: tconv(x, a(3, 2, *sp(nd, 3)), padding=1, padding_mode=mode), repr(mode))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.usefixtures("no_kernels")
def test_conv_padding_mode_too_much_padding(mode):
    """Non-zero padding modes copy from the input, so reflect padding must stay below its size."""
    x, w = a(1, 1, 3, 3), a(1, 1, 3, 3)
    if mode == "reflect":
        check(VE, r"reflect padding must be smaller than the dimension it pads", lambda: F.conv2d(x, w, padding=3, padding_mode=mode),
              "size 3")
    elif mode == "circular":
        check(VE, r"circular padding must be at most the dimension it pads", lambda: F.conv2d(x, w, padding=4, padding_mode=mode),
              "size 3")
    else:  # replicate accepts any amount; negative is still an error
        check(VE, r"padding must be >= 0", lambda: F.conv2d(x, w, padding=-1, padding_mode=mode), "(-1, -1)")


@pytest.mark.usefixtures("no_kernels")
def test_conv_transpose_padding_mode_empty_output_names_the_padding():
    msg = check(VE, r"padding", lambda: F.conv_transpose2d(a(1, 1, 2, 2), a(1, 1, 3, 3), padding=2, padding_mode="reflect"))
    assert "padding 0" not in msg and "2" in msg, msg


# ----------------------------------------------------------------------------- grad_output shape in every *_backward


def _backward_cases():
    """(name, call(grad_output), forward output shape) for every *_backward of numconv.functional."""
    cases = []
    for nd in NDS:
        x = a(2, 3, *sp(nd, 6))
        w, wt, b = a(4, 3, *sp(nd, 3)), a(3, 2, *sp(nd, 3)), a(4)
        cases += [
            (f"conv{nd}d_backward", lambda g, nd=nd, x=x, w=w, b=b: getattr(F, f"conv{nd}d_backward")(g, x, w, b),
             (2, 4) + sp(nd, 4)),
            (f"conv{nd}d_backward reflect", lambda g, nd=nd, x=x, w=w: getattr(F, f"conv{nd}d_backward")(
                g, x, w, padding=1, padding_mode="reflect"), (2, 4) + sp(nd, 6)),
            (f"conv_transpose{nd}d_backward", lambda g, nd=nd, x=x, wt=wt: getattr(F, f"conv_transpose{nd}d_backward")(
                g, x, wt, stride=2, output_padding=1), (2, 2) + sp(nd, 14)),
            (f"conv_transpose{nd}d_backward circular", lambda g, nd=nd, x=x, wt=wt: getattr(F, f"conv_transpose{nd}d_backward")(
                g, x, wt, padding=1, padding_mode="circular"), (2, 2) + sp(nd, 6)),
            (f"max_pool{nd}d_backward", lambda g, nd=nd, x=x: getattr(F, f"max_pool{nd}d_backward")(g, x, 3, 2, 1, ceil_mode=True),
             (2, 3) + sp(nd, 4)),
            (f"avg_pool{nd}d_backward", lambda g, nd=nd, x=x: getattr(F, f"avg_pool{nd}d_backward")(g, x, 2), (2, 3) + sp(nd, 3)),
            (f"adaptive_avg_pool{nd}d_backward", lambda g, nd=nd, x=x: getattr(F, f"adaptive_avg_pool{nd}d_backward")(g, x, 4),
             (2, 3) + sp(nd, 4)),
            (f"adaptive_max_pool{nd}d_backward", lambda g, nd=nd, x=x: getattr(F, f"adaptive_max_pool{nd}d_backward")(g, x, 8),
             (2, 3) + sp(nd, 8)),
            (f"max_unpool{nd}d_backward", lambda g, nd=nd, x=x: getattr(F, f"max_unpool{nd}d_backward")(
                g, x, ints(*x.shape), 2), (2, 3) + sp(nd, 12)),
        ]
    for nd in (2, 3):
        x, u = a(2, 3, *sp(nd, 7)), np.random.default_rng(nd).random((2, 3, nd))
        cases.append((f"fractional_max_pool{nd}d_backward", lambda g, nd=nd, x=x, u=u: getattr(
            F, f"fractional_max_pool{nd}d_backward")(g, x, 2, 5, _random_samples=u), (2, 3) + sp(nd, 5)))
    x2 = a(2, 3, 5, 5)
    cases += [
        ("unfold_backward", lambda g: F.unfold_backward(g, x2, 2, stride=2, padding=1), (2, 12, 9)),
        ("fold_backward", lambda g: F.fold_backward(g, a(2, 12, 9), (5, 5), 2, stride=2, padding=1), (2, 3, 5, 5)),
        ("pad_backward", lambda g: F.pad_backward(g, x2, (1, 2, 0, 3)), (2, 3, 8, 8)),
        ("pad_backward reflect", lambda g: F.pad_backward(g, x2, (1, 2), mode="reflect"), (2, 3, 5, 8)),
        ("interpolate_backward", lambda g: F.interpolate_backward(g, x2, scale_factor=2), (2, 3, 10, 10)),
        ("interpolate_backward bicubic", lambda g: F.interpolate_backward(g, x2, size=(7, 3), mode="bicubic"),
         (2, 3, 7, 3)),
        ("interpolate_backward area", lambda g: F.interpolate_backward(g, x2, size=3, mode="area"), (2, 3, 3, 3)),
    ]
    return cases


BACKWARD_CASES = _backward_cases()


def test_every_backward_is_covered():
    names = {n for n in F.__all__ if n.endswith("_backward")}
    covered = {name.split()[0] for name, _, _ in BACKWARD_CASES}
    assert names == covered, f"untested: {sorted(names - covered)}; unknown: {sorted(covered - names)}"


@pytest.mark.parametrize("name, call, shape", BACKWARD_CASES, ids=[c[0] for c in BACKWARD_CASES])
@pytest.mark.usefixtures("no_kernels")
def test_grad_output_wrong_shape(name, call, shape):
    wrong_last = shape[:-1] + (shape[-1] + 1,)
    wrong_channels = shape[:1] + (shape[1] + 1,) + shape[2:]
    for bad in (wrong_last, wrong_channels, shape[1:], (1,) + shape, shape[::-1] if shape[::-1] != shape else shape[1:]):
        check(VE, r"grad_output must have the (forward output's|padded) shape", lambda: call(a(*bad)), str(shape), str(bad))


# ----------------------------------------------------------------------------- fold and pad


@pytest.mark.usefixtures("no_kernels")
def test_fold_wrong_blocks_or_channels():
    check(VE, r"input.shape\[[12]\]=10 must equal the number of sliding blocks 9", lambda: F.fold(a(1, 12, 10), (4, 4), 2),
          "output_size=(4, 4)", "kernel_size=(2, 2)")
    check(VE, r"input.shape\[[12]\]=16 must equal the number of sliding blocks 4",
          lambda: F.fold(a(12, 16), (4, 4), 2, stride=2), "stride=(2, 2)")
    check(VE, r"input.shape\[[01]\]=10 must be divisible by the kernel's size", lambda: F.fold(a(1, 10, 9), (4, 4), 2), "4")
    check(VE, r"input.shape\[[01]\]=7 must be divisible", lambda: F.fold(a(7, 4), (3, 3), (1, 2), dilation=(1, 1)), "2")


@pytest.mark.usefixtures("no_kernels")
@pytest.mark.parametrize(
    "shape, pad, kw, exc, match, values",
    [
        ((1, 1, 4, 4), (1, 2, 3), {}, TE, r"pad must be a tuple of an even number of ints", ["(1, 2, 3)"]),
        ((1, 1, 4, 4), (1,), {}, TE, r"pad must be a tuple of an even number of ints", ["(1,)"]),
        ((1, 1, 4, 4), (1.0, 1), {}, TE, r"pad must be a tuple of an even number of ints", ["1.0"]),
        ((1, 1, 4, 4), 1, {}, TE, r"pad must be a tuple of an even number of ints", ["got 1"]),
        ((1, 1, 4, 4), (4, 0), dict(mode="reflect"), VE, r"reflect padding must be smaller", ["pad=(4, 0)", "size 4"]),
        ((1, 1, 3, 4), (0, 0, 1, 3), dict(mode="reflect"), VE, r"reflect padding must be smaller", ["size 3"]),
        ((5,), (0, 5), dict(mode="reflect"), VE, r"reflect padding must be smaller", ["size 5"]),
        ((1, 1, 4, 4), (1, 1) * 4, {}, VE, r"pad .* pads 4 dimensions; at most 3", ["(1, 1, 4, 4)"]),
        ((4,), (1, 1, 1, 1), {}, VE, r"pad \(1, 1, 1, 1\) pads 2 dimensions", ["(4,)"]),
        ((1, 1, 4, 4), (1, 1), dict(mode="symmetric"), VE, r"mode must be one of", ["'symmetric'"]),
        ((1, 1, 4, 4), (1, 1), dict(mode="zeros"), VE, r"mode must be one of", ["'zeros'"]),
        ((1, 1, 4, 4), (5, 0), dict(mode="circular"), VE, r"circular padding must be at most", ["pad=(5, 0)", "size 4"]),
        ((1, 1, 4, 4), (-5, 2), dict(mode="replicate"), VE, r"crops more than the 4 elements", ["(-5, 2)"]),
        ((1, 1, 4, 4), (-2, -2), {}, VE, r"pad \(-2, -2\) would make a dimension of size 4 empty", []),
        ((1, 1, 4, 4), (1, 1), dict(mode="reflect", value=2.0), VE, r"value=2.0 is only used with mode='constant'",
         ["'reflect'"]),
    ],
)
def test_pad_errors(shape, pad, kw, exc, match, values):
    check(exc, match, lambda: F.pad(a(*shape), pad, **kw), *values)
    if "value" not in kw:  # the backward validates the same way
        mode = kw.get("mode", "constant")
        check(exc, match, lambda: F.pad_backward(a(*shape), a(*shape), pad, mode=mode), *values)


def test_pad_takes_a_zero_value_with_any_mode_as_torch():
    x = np.random.default_rng(4).standard_normal((1, 2, 4, 5))
    for mode in ("reflect", "replicate", "circular"):
        np.testing.assert_array_equal(F.pad(x, (1, 2, 2, 1), mode, 0.0), F.pad(x, (1, 2, 2, 1), mode))


@pytest.mark.parametrize("value", ["a", [1.0], 1j])
@pytest.mark.usefixtures("no_kernels")
def test_pad_value_not_a_number(value):
    with pytest.raises((TypeError, ValueError), match=r"value"):
        F.pad(a(1, 1, 4, 4), (1, 1), value=value)


@pytest.mark.usefixtures("no_kernels")
def test_pooling_misc_arguments():
    x = a(1, 2, 6, 6)
    for bad in (0, 1.5, "2"):
        check(VE, r"divisor_override must be a non-zero int or None", lambda: F.avg_pool2d(x, 2, divisor_override=bad), repr(bad))
    check(TE, r"kernel_size must be an int or a tuple of 2 ints", lambda: F.max_pool2d(x, (2, 2, 2)), "(2, 2, 2)")
    check(TE, r"kernel_size must be an int or a tuple of 2 ints", lambda: F.avg_pool2d(x, 2.0), "2.0")
    check(TE, r"padding must be an int or a tuple of 2 ints", lambda: F.max_pool2d(x, 2, padding=(1, 1, 1)), "(1, 1, 1)")


# ----------------------------------------------------------------------------- NaN is not an error


def _nan_windows(x_nan_mask, k, stride=1, padding=0):
    """Which 2-d outputs have a window touching a NaN (brute force over the padded input)."""
    m = np.pad(x_nan_mask, padding)
    oh = (m.shape[0] - k) // stride + 1
    ow = (m.shape[1] - k) // stride + 1
    return np.array([[m[i * stride:i * stride + k, j * stride:j * stride + k].any() for j in range(ow)] for i in range(oh)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_propagates_through_conv(dtype):
    x = a(2, 3, 7, 7, dtype=dtype)
    x[1, 2, 0, 5] = np.nan
    x[0, 0, 4, 4] = np.nan
    w, b = a(4, 3, 3, 3, dtype=dtype), a(4, dtype=dtype)
    y = F.conv2d(x, w, b, padding=1, stride=2)
    assert y.shape == (2, 4, 4, 4) and y.dtype == dtype
    for n in range(2):
        expect = _nan_windows(np.isnan(x[n]).any(axis=0), 3, stride=2, padding=1)
        for o in range(4):
            np.testing.assert_array_equal(np.isnan(y[n, o]), expect)
    assert np.isnan(y).any() and np.isfinite(y[~np.isnan(y)]).all()
    # NaN in the weight: every output of that output channel
    w2 = w.copy()
    w2[2, 1, 0, 0] = np.nan
    y2 = F.conv2d(a(1, 3, 5, 5, dtype=dtype), w2)
    assert np.isnan(y2[0, 2]).all() and np.isfinite(np.delete(y2, 2, axis=1)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_propagates_through_avg_pool(dtype):
    x = a(1, 2, 6, 6, dtype=dtype)
    x[0, 1, 3, 2] = np.nan
    y = F.avg_pool2d(x, 2)
    expect = np.zeros((2, 3, 3), bool)
    expect[1, 1, 1] = True
    np.testing.assert_array_equal(np.isnan(y[0]), expect)
    y = F.adaptive_avg_pool2d(x, 1)
    assert np.isnan(y[0, 1, 0, 0]) and np.isfinite(y[0, 0, 0, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pos", [(0, 0), (1, 1), (0, 1)], ids=["first", "last", "middle"])
def test_nan_propagates_through_max_pool(dtype, pos):
    x = a(1, 1, 4, 4, dtype=dtype)
    x[0, 0, 2:4, 0:2] = np.array([[100.0, 50.0], [75.0, 25.0]], dtype)  # larger than anything else around
    x[0, 0, 2 + pos[0], pos[1]] = np.nan
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    assert np.isnan(y[0, 0, 1, 0]), "a NaN in the window must win over 100"
    assert idx[0, 0, 1, 0] == (2 + pos[0]) * 4 + pos[1], "the index must point at the NaN"
    assert np.isfinite(np.delete(y.ravel(), 2)).all()
    y = F.adaptive_max_pool2d(x, (1, 2))
    assert np.isnan(y[0, 0, 0, 0]) and np.isfinite(y[0, 0, 0, 1])
    y = F.max_pool2d(x, 3, stride=1, padding=1, ceil_mode=True)
    expect = _nan_windows(np.isnan(x[0, 0]), 3, stride=1, padding=1)
    np.testing.assert_array_equal(np.isnan(y[0, 0]), expect)


def test_avg_pool_window_entirely_in_padding_is_not_nan():
    x = np.array([[[5.0]]])
    try:
        y = F.avg_pool1d(x, 2, 1, 1, dilation=2, count_include_pad=False)
    except ValueError as e:  # rejecting the configuration would also be right
        assert "padding" in str(e)
        return
    assert np.isfinite(y).all(), y


# ----------------------------------------------------------------------------- found by fuzzing the API (fourteenth session)

LIN = lambda: numconv.nn.Linear(2, 2).parameters()  # noqa: E731
OPTIM = numconv.optim


@pytest.mark.parametrize("call,error,words", [
    (lambda: numconv.Tensor(np.ones(2, np.float32)) + None, TypeError, "NoneType"),
    (lambda: numconv.Tensor(np.arange(3.0)).expand(-1, 3), ValueError, "expand"),
    (lambda: numconv.Tensor(np.arange(3.0)[None]).gather(1, np.array([[-1]])), ValueError, "[0, 3)"),
    (lambda: numconv.Tensor(np.arange(3.0)[None]).gather(1, np.array([[3]])), ValueError, "[0, 3)"),
    (lambda: numconv.Tensor(np.ones((2, 3))).reshape(-2, 3), ValueError, "-2"),
    (lambda: numconv.full((2,), float("nan"), dtype=np.int64), ValueError, "nan"),
    (lambda: numconv.arange(0, 5, 0), ValueError, "step"),
    (lambda: F.pad(a(1, 5), (-6, 2)), ValueError, "crops"),
    (lambda: F.conv2d(a(1, 3, 0, 5), a(4, 3, 3, 3), padding=2), ValueError, "empty spatial"),
    (lambda: F.conv_transpose2d(a(1, 3, 0, 5), a(3, 4, 3, 3)), ValueError, "empty spatial"),
    (lambda: F.unfold(a(1, 3, 0, 5), 2, padding=1), ValueError, "empty spatial"),
    (lambda: F.batch_norm(a(2, 3), a(3), a(3) ** 2, eps=-2.0), ValueError, "eps"),
    (lambda: F.batch_norm(a(2, 3), a(3), a(3) ** 2, momentum=None), TypeError, "momentum"),
    (lambda: F.batch_norm(a(2, 3), a(3), a(3) ** 2, training=True, momentum=float("nan")), ValueError, "momentum"),
    (lambda: numconv.nn.BatchNorm2d(3, momentum=float("inf")), ValueError, "momentum"),
    (lambda: numconv.nn.BatchNorm2d(3, eps="a"), TypeError, "eps"),
    (lambda: F.avg_pool2d(a(1, 1, 4, 4), 2, count_include_pad="no"), TypeError, "count_include_pad"),
    (lambda: F.max_pool2d(a(1, 1, 4, 4), 2, ceil_mode="yes"), TypeError, "ceil_mode"),
    (lambda: F.max_pool2d(a(1, 1, 4, 4), 2, return_indices="yes"), TypeError, "return_indices"),
    (lambda: F.conv2d_backward(a(1, 4, 3, 3), a(1, 3, 5, 5), a(4, 3, 3, 3), output_mask=5), ValueError, "output_mask"),
    (lambda: OPTIM.SGD(LIN(), lr=float("inf")), ValueError, "lr"),
    (lambda: OPTIM.SGD(LIN(), lr="0.1"), TypeError, "lr"),
    (lambda: OPTIM.SGD(LIN(), momentum=0.9, dampening=float("nan")), ValueError, "dampening"),
    (lambda: OPTIM.SGD(LIN(), momentum=0.9, nesterov="no"), TypeError, "nesterov"),
    (lambda: OPTIM.RMSprop(LIN(), alpha=1.5), ValueError, "alpha"),
    (lambda: OPTIM.RMSprop(LIN(), momentum=float("inf")), ValueError, "momentum"),
    (lambda: OPTIM.Adam(LIN(), betas=0.9), TypeError, "betas"),
    (lambda: OPTIM.Adam(LIN(), eps=float("inf")), ValueError, "eps"),
    (lambda: OPTIM.Adam(LIN(), amsgrad="no"), TypeError, "amsgrad"),
    (lambda: OPTIM.SGD(LIN()).load_state_dict({}), ValueError, "param_groups"),
    (lambda: OPTIM.lr_scheduler.StepLR(OPTIM.SGD(LIN(), lr=0.1), 2, gamma=float("nan")), ValueError, "gamma"),
    (lambda: F.cross_entropy(a(3, 4), np.array([0, 1, 2]), ignore_index=1.5), TypeError, "ignore_index"),
    (lambda: F.nll_loss(a(3, 4), np.array([0, 1, 2]), ignore_index=None), TypeError, "ignore_index"),
    (lambda: F.cross_entropy(a(3, 4), np.array([0, 1, 2]), label_smoothing=None), TypeError, "label_smoothing"),
    (lambda: F.cross_entropy(a(3, 0), np.array([0, 1, 2])), ValueError, "at least one class"),
    (lambda: numconv.nn.Flatten(1.0), TypeError, "start_dim"),
    (lambda: numconv.nn.Dropout(True), TypeError, "probability"),
    (lambda: F.dropout(a(3, 4), float("nan")), ValueError, "dropout probability"),
    (lambda: F.dropout(a(3, 4), 0.5, training="yes"), TypeError, "training"),
    (lambda: numconv.randint(0.5, 3.7, (2,)), TypeError, "low"),
    (lambda: numconv.randint(3, 3, (2,)), ValueError, "high"),
    (lambda: numconv.randperm(-1), ValueError, "n must be >= 0"),
    (lambda: numconv.arange(5, 0, 1), ValueError, "step"),
    (lambda: numconv.nn.ConvTranspose2d(2, 2, 3, stride=2)(a(1, 2, 4, 4), output_size=10), TypeError, "output_size"),
    (lambda: numconv.nn.ConvTranspose2d(2, 2, 3, stride=2)(a(1, 2, 4, 4), output_size=(9.0, 9.0)), TypeError,
     "output_size"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_fuzzed_mistakes_raise_named_errors(call, error, words):
    """Mistakes a review helper's fuzzing found answered with NaN, zeros, a wrapped index, an option
    silently on, or an exception from inside the package: each is now a ValueError or TypeError
    naming the argument."""
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value), str(info.value)


@pytest.mark.usefixtures("no_kernels")
@pytest.mark.parametrize("call, words", [
    (lambda L, t: L.batch_norm(t(4, 3), t(3), None, training=True), "both be None or neither be None, got only running_mean"),
    (lambda L, t: L.batch_norm(t(4, 3), None, t(3), training=True), "both be None or neither be None, got only running_var"),
    (lambda L, t: L.batch_norm(t(4, 3), t(3), None, training=False), "both be None or neither be None"),
    (lambda L, t: L.batch_norm(t(4, 3), None, None, training=False), "must be given when training=False"),
    (lambda L, t: L.batch_norm(t(1, 3), None, None, training=True), "more than 1 value per channel"),
    (lambda L, t: L.batch_norm(t(1, 3, 1, 1), t(3), t(3), training=True), "more than 1 value per channel"),
    (lambda L, t: L.batch_norm(t(1, 0), None, None, training=True), "more than 1 value per channel"),
    (lambda L, t: L.batch_norm(t(4, 3), None, None, training=True, eps=0.0), "eps (when training) must be in (0.0"),
    (lambda L, t: L.batch_norm(t(0, 3), t(3), t(3), training=True, eps=0.0), "eps (when training)"),
    (lambda L, t: L.batch_norm(t(4, 3), t(3), t(3), training=False, eps=-1e-5), "eps must be in [0.0"),
    (lambda L, t: L.group_norm(t(1, 4), 4), "more than 1 value per group"),
    (lambda L, t: L.group_norm(t(1, 2, 1, 1), 2), "more than 1 value per group"),
    (lambda L, t: L.prelu(t(2, 3), t(1, 1)), "weight must have 0 or 1 dimensions"),
    (lambda L, t: L.soft_margin_loss(t(4, 1), t(4, 5)), "target of shape (4, 5) must broadcast to input's shape (4, 1)"),
    (lambda L, t: L.cosine_similarity(t(3, 5), t(3, 5), eps=-1.0), "eps must be in [0.0"),
], ids=["bn_mean_only", "bn_var_only", "bn_eval_mean_only", "bn_eval_none", "bn_one_value", "bn_one_value_4d",
        "bn_one_sample_no_channels", "bn_train_eps_zero", "bn_empty_train_eps_zero", "bn_eval_eps_negative",
        "gn_one_value", "gn_one_value_4d", "prelu_2d_weight", "soft_margin_target_grows", "cosine_negative_eps"])
def test_refused_as_torch_before_any_kernel(call, words, torch):
    """Calls torch refuses (the first two ran here, updating only the running mean; the group norms
    gave the bias): a ValueError naming the arguments, before any kernel runs and any running statistic
    changes."""
    made = []  # (array, its values when made)

    def ours(*shape):
        array = np.abs(RNG.standard_normal(shape)) + 0.5
        made.append((array, array.copy()))
        return array

    with pytest.raises(ValueError) as info:
        call(F, ours)
    assert words in str(info.value), str(info.value)
    assert all(np.array_equal(array, values) for array, values in made)
    with pytest.raises((ValueError, RuntimeError)):
        call(torch.nn.functional, lambda *shape: torch.tensor(np.abs(RNG.standard_normal(shape)) + 0.5))


ABSURD = 10**9  # per spatial dimension: no machine holds 10**18 elements


@pytest.mark.usefixtures("no_kernels")
@pytest.mark.parametrize("call,words", [
    (lambda: F.adaptive_avg_pool2d(a(1, 1, 4, 4), ABSURD), "adaptive pooling"),
    (lambda: F.adaptive_max_pool1d(a(1, 2, 4), ABSURD**2), "adaptive pooling"),
    (lambda: F.adaptive_max_pool2d(a(1, 1, 4, 4), (ABSURD, 2)), "adaptive pooling"),  # 8 GB, its tables 64
    (lambda: F.max_pool2d(a(1, 1, 4, 4), 2, stride=1, padding=1, dilation=ABSURD), "empty"),
    (lambda: F.conv2d(a(1, 1, 4, 4), a(1, 1, 2, 2), padding=ABSURD), "convolution"),
    (lambda: F.conv_transpose2d(a(1, 1, 4, 4), a(1, 1, 2, 2), stride=ABSURD), "transposed convolution"),
    (lambda: F.interpolate(a(1, 1, 4, 4), size=ABSURD), "interpolate"),
    (lambda: F.interpolate(a(1, 1, 4, 4), scale_factor=1e9), "interpolate"),
    (lambda: F.pad(a(1, 1, 4, 4), (ABSURD * 100, 0)), "pad"),
    (lambda: F.unfold(a(1, 1, 4, 4), 1, padding=ABSURD), "unfold"),
    (lambda: F.fold(a(1, 4, 1), (ABSURD, ABSURD), 2), "fold"),
    (lambda: F.max_unpool2d(a(1, 1, 2, 2), np.zeros((1, 1, 2, 2), np.int64), 2, stride=ABSURD), "max_unpool"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_outputs_no_machine_could_hold_are_refused_at_once(call, words):
    """A size typed wrong (10**9 where 10 was meant) is a ValueError naming the op and the sizes, before
    any index table is built: these hung for minutes or were killed for memory."""
    with pytest.raises(ValueError) as info:
        call()
    assert words in str(info.value) and ("GiB" in str(info.value) or "empty" in str(info.value)), str(info.value)


def test_optimizer_state_missing_entries_is_named():
    """A state_dict whose group lacks a hyperparameter, or whose state lacks Adam's moments, is
    refused at load (it failed later, at step(), with a KeyError)."""
    m = numconv.nn.Linear(2, 2)
    opt = OPTIM.Adam(m.parameters())
    sd = opt.state_dict()
    del sd["param_groups"][0]["eps"]
    with pytest.raises(ValueError, match="eps"):
        opt.load_state_dict(sd)
    sd = opt.state_dict()
    sd["state"] = {"0": {"step": 1}}
    with pytest.raises(ValueError, match="exp_avg"):
        opt.load_state_dict(sd)


@pytest.mark.parametrize("structure", [
    b'[1, 2]', b'{"format": 1, "root": [1]}', b'{"format": 1, "root": {"dict": [1]}}',
    b'{"format": 1, "root": {"array": "nope"}}', b'{"format": 1, "root": {"value": {"a": 1}}}',
    b'{"format": 1, "root": {"intdict": {"x": {"value": 1}}}}', b'{"format": 1, "root": {"intdict": [1]}}',
    b'{"format": 1, "root": ' + b'{"list": [' * 3000 + b']}' * 3000 + b'}',
])
def test_crafted_checkpoint_structure_is_a_value_error(structure, tmp_path):
    """A valid zip whose structure entry was crafted or damaged: a ValueError, not an
    AttributeError or RecursionError from inside ``load``."""
    from numconv import checkpoint

    path = tmp_path / "x.npz"
    np.savez(path, **{checkpoint._STRUCT: np.frombuffer(structure, np.uint8)})
    with pytest.raises(ValueError, match="corrupt"):
        checkpoint.load(str(path))


# ----------------------------------------------------------------------------- empty batches

def test_empty_batches_run_forward_and_backward():
    """N=0 through conv (bias gradient), pooling, unpooling and batch norm in eval: empty results
    of the right shapes, as in PyTorch (it was a NumPy reshape error of -1 on a size-0 array)."""
    x = numconv.Tensor(np.zeros((0, 3, 6, 6), np.float32), requires_grad=True)
    conv = numconv.nn.Conv2d(3, 4, 3)
    (conv(x).sum() + F.max_pool2d(x, 2).sum() + F.adaptive_max_pool2d(x, 2).sum()).backward()
    assert x.grad.shape == (0, 3, 6, 6) and conv.bias.grad.shape == (4,)
    assert np.array_equal(conv.bias.grad.numpy(), np.zeros(4, np.float32))
    y, idx = F.max_pool2d(np.zeros((0, 3, 6, 6), np.float32), 2, return_indices=True)
    assert F.max_unpool2d(y, idx, 2).shape == (0, 3, 6, 6)
    assert numconv.nn.BatchNorm2d(3).eval()(np.zeros((0, 3, 2, 2), np.float32)).shape == (0, 3, 2, 2)


def test_randint_high_size_and_dropout_of_one_as_torch(torch):
    """``randint(high, size)``, PyTorch's usual call, raised NumPy's 'low >= high'; dropout with
    p=1 raised where PyTorch returns zeros (and a zero gradient)."""
    numconv.manual_seed(0)
    r = numconv.randint(5, (200, 3)).numpy()
    assert r.shape == (200, 3) and r.dtype == np.int64 and set(np.unique(r)) == set(range(5))
    x = numconv.Tensor(np.random.default_rng(1).standard_normal((4, 5)), requires_grad=True)
    y = F.dropout(x, 1.0)
    y.sum().backward()
    xt = torch.tensor(x.numpy(), requires_grad=True)
    yt = torch.nn.functional.dropout(xt, 1.0)
    yt.sum().backward()
    np.testing.assert_array_equal(y.numpy(), yt.detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())


def test_tensor_shape_errors_name_the_shapes():
    r = np.random.default_rng(4)
    a, b = numconv.Tensor(r.standard_normal((2, 3))), numconv.Tensor(r.standard_normal((4, 5)))
    check(VE, r"matmul: shapes \(2, 3\) and \(4, 5\) do not fit", lambda: a @ b)
    check(VE, r"matmul", lambda: numconv.Tensor(r.standard_normal((2, 3, 4))) @ numconv.Tensor(r.standard_normal((5, 4, 2))),
          "(2, 3, 4)", "(5, 4, 2)")
    check(VE, r"cat: tensors must have the same shape except along dim 0", lambda: numconv.cat([a, b]), "(2, 3)", "(4, 5)")
    check(VE, r"stack: tensors must have the same shape", lambda: numconv.stack([a, a.T]), "(3, 2)")
    for loss in (F.cross_entropy, F.nll_loss):
        check(VE, r"target must be one class index", lambda loss=loss: loss(r.standard_normal(3), np.array([0, 1])),
              "(2,)")


def test_optimizer_maximize_flag_is_checked_and_a_saved_one_loads():
    p = numconv.nn.Parameter(np.random.default_rng(5).standard_normal(3))
    check(TypeError, r"maximize", lambda: numconv.optim.SGD([p], lr=0.1, maximize="yes"), "'yes'")
    opt = numconv.optim.SGD([p], lr=0.1)
    state = opt.state_dict()
    state["param_groups"][0]["maximize"] = True  # a torch optimizer's state that ascends: it ascends here too
    opt.load_state_dict(state)
    p.grad = numconv.Tensor(np.array([1.0, -2.0, 0.5]))
    before = p.numpy().copy()
    opt.step()
    np.testing.assert_allclose(p.numpy(), before + 0.1 * np.array([1.0, -2.0, 0.5]))
    del state["param_groups"][0]["maximize"]  # a state saved before the flag existed: descent
    opt.load_state_dict(state)
    assert opt.param_groups[0]["maximize"] is False


@pytest.mark.parametrize("method, args, flag", [
    ("sum", (0,), "keepdim"), ("mean", (0,), "keepdim"), ("var", (0,), "keepdim"), ("std", (0,), "keepdim"),
    ("prod", (0,), "keepdim"), ("max", (0,), "keepdim"), ("min", (), "keepdim"), ("amax", (0,), "keepdim"),
    ("amin", (0,), "keepdim"), ("argmax", (0,), "keepdim"), ("argmin", (), "keepdim"), ("any", (0,), "keepdim"),
    ("all", (0,), "keepdim"), ("nonzero", (), "as_tuple"), ("topk", (2,), "sorted"),
])
def test_a_truthy_string_is_not_a_flag(method, args, flag):
    """keepdim="no" would keep the dimension (a string is truthy): refused, as PyTorch refuses it."""
    x = numconv.Tensor(np.random.default_rng(6).standard_normal((2, 3)))
    check(TypeError, rf"{flag} must be True or False", lambda: getattr(x, method)(*args, **{flag: "no"}), "'no'")
    getattr(x, method)(*args, **{flag: np.bool_(True)})  # NumPy's bools are bools


@pytest.mark.usefixtures("no_kernels")
def test_sizes_no_machine_holds_and_torch_tensors_where_arrays_go(torch):
    """one_hot's and affine_grid's impossible outputs are a ValueError saying how large, not a
    MemoryError; a CPU torch tensor as a target or as indices is a TypeError naming the argument."""
    with pytest.raises(ValueError, match=r"one_hot: the output would have shape \(1, 1000000000000\)"):
        F.one_hot(np.array([0]), 10**12)
    with pytest.raises(ValueError, match="affine_grid: the output would have shape"):
        F.affine_grid(RNG.standard_normal((1, 2, 3)), (1, 1, ABSURD, ABSURD), align_corners=False)
    x = RNG.standard_normal((2, 3))
    with pytest.raises(TypeError, match=r"target must be an array .* for a torch tensor pass target.numpy\(\)"):
        F.cross_entropy(x, torch.tensor([0, 1]))
    y = RNG.standard_normal((1, 1, 2, 2))
    with pytest.raises(TypeError, match=r"indices must be an array .*torch.int64"):
        F.max_unpool2d(y, torch.zeros(1, 1, 2, 2, dtype=torch.long), 2)
    with pytest.raises(TypeError, match="indices must be an array .*got list"):
        F.max_unpool2d(y, [[[[0, 1], [2, 3]]]], 2)
