"""Unit tests of numconv/shapes.py as a pure module: no kernel runs here.

Formulas are checked against brute-force counting, against NumPy (``numpy.pad``) and, where
torch is installed, against the output shapes (and a few values) of ``torch.nn.functional``.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numconv import shapes

SETTINGS = settings(max_examples=150, deadline=None)
FEW = settings(max_examples=60, deadline=None)  # examples that run a (tiny) torch op


def _torch():
    try:
        from conftest import torch_or_fail  # the shared helper: skip locally, fail under CI without torch
    except ImportError:
        torch = pytest.importorskip("torch")
    else:
        torch = torch_or_fail()
    return torch, torch.nn.functional


# ----------------------------------------------------------------------------- ntuple & co


class TestNtuple:
    def test_int_is_repeated(self):
        assert shapes.ntuple(3, 2, "stride") == (3, 3)
        assert shapes.ntuple(0, 3, "padding") == (0, 0, 0)

    def test_one_element_sequence_is_repeated_as_in_torch(self):
        assert shapes.ntuple((3,), 2, "stride") == (3, 3) and shapes.ntuple([np.int64(2)], 3, "stride") == (2, 2, 2)

    def test_numpy_integer_becomes_python_int(self):
        out = shapes.ntuple(np.int64(2), 2, "stride")
        assert out == (2, 2) and all(type(v) is int for v in out)

    @pytest.mark.parametrize("value", [(1, 2), [1, 2], (np.int32(1), np.int64(2))])
    def test_sequence_of_ints(self, value):
        out = shapes.ntuple(value, 2, "stride")
        assert out == (1, 2) and isinstance(out, tuple) and all(type(v) is int for v in out)

    @pytest.mark.parametrize(
        "value", [(1, 2, 3), (1.0,), [], 1.0, 2.5, "2", None, True, (1, True), (1.0, 2), ((1, 1), (1, 1)), (True,)]
    )
    def test_rejects_with_name_and_value(self, value):
        with pytest.raises(TypeError, match=r"kernel_size must be an int or a tuple of 2 ints, got") as info:
            shapes.ntuple(value, 2, "kernel_size")
        assert repr(value) in str(info.value)

    def test_positive_and_non_negative(self):
        assert shapes.positive((1, 5), "stride") == (1, 5)
        assert shapes.non_negative((0, 5), "padding") == (0, 5)
        with pytest.raises(ValueError, match=r"stride must be >= 1 .*\(1, 0\)"):
            shapes.positive((1, 0), "stride")
        with pytest.raises(ValueError, match=r"padding must be >= 0 .*\(-1, 2\)"):
            shapes.non_negative((-1, 2), "padding")

    def test_to3(self):
        assert shapes.to3((5,), 1) == (1, 1, 5)
        assert shapes.to3((4, 5), 0) == (0, 4, 5)
        assert shapes.to3((3, 4, 5), 1) == (3, 4, 5)

    def test_prod(self):
        assert shapes.prod((2, 3, 4)) == 24 and shapes.prod(()) == 1
        assert type(shapes.prod((np.int64(2), 3))) is int


# ----------------------------------------------------------------------------- array checks


class TestArrayInfo:
    def test_accepts_float_arrays(self):
        for dt in (np.float32, np.float64):
            shape, dtype = shapes.array_info(np.zeros((2, 3), dt), "input", ndims=(2,))
            assert shape == (2, 3) and dtype == np.dtype(dt)

    @pytest.mark.parametrize("dt", [np.int32, np.int64, np.float16, np.complex64, np.bool_, np.uint8])
    def test_rejects_other_dtypes(self, dt):
        with pytest.raises(TypeError, match=r"weight must be float32 or float64, got dtype"):
            shapes.array_info(np.zeros(3, dt), "weight")

    @pytest.mark.parametrize("value", [[1.0, 2.0], 3.0, None, "x"])
    def test_rejects_non_arrays(self, value):
        with pytest.raises(TypeError, match=r"input must be an array"):
            shapes.array_info(value, "input")

    def test_rank(self):
        with pytest.raises(ValueError, match=r"bias must have 1 dimensions, got shape \(2, 3\)"):
            shapes.array_info(np.zeros((2, 3)), "bias", ndims=(1,))

    def test_batched(self):
        assert shapes.batched((2, 3, 4, 5), 2, "input") == ((2, 3, 4, 5), True)
        assert shapes.batched((3, 4, 5), 2, "input") == ((1, 3, 4, 5), False)
        with pytest.raises(ValueError, match=r"input must have shape \(N, C, H, W\) or \(C, H, W\).*\(4, 5\)"):
            shapes.batched((4, 5), 2, "input")

    def test_same_dtype(self):
        shapes.same_dtype([("input", np.float32), ("weight", np.float32), ("bias", None)])
        with pytest.raises(TypeError, match=r"bias has dtype float64 but input has dtype float32"):
            shapes.same_dtype([("input", np.float32), ("weight", np.float32), ("bias", np.float64)])


# ----------------------------------------------------------------------------- conv padding


class TestConvPadding:
    def test_forms(self):
        assert shapes.conv_padding(1, 2) == ((1, 1), (1, 1))
        assert shapes.conv_padding((1, 2), 2) == ((1, 2), (1, 2))
        assert shapes.conv_padding(((0, 1), (2, 3)), 2) == ((0, 2), (1, 3))
        assert shapes.conv_padding([[0, 1], [2, 3]], 2) == ((0, 2), (1, 3))
        assert shapes.conv_padding("valid", 3) == ((0, 0, 0), (0, 0, 0))
        assert shapes.conv_padding("same", 1) == "same"
        assert shapes.conv_padding(((4, 0),), 1) == ((4,), (0,))

    @pytest.mark.parametrize("bad", ["full", "SAME", "", "causal"])
    def test_bad_string(self, bad):
        with pytest.raises(ValueError, match=r"padding must be an int, a tuple, 'same' or 'valid', got " + repr(bad)):
            shapes.conv_padding(bad, 2)

    @pytest.mark.parametrize("bad", [((1,), (1, 1)), ((1, 2, 3), (1, 1)), ((1.0, 1), (1, 1))])
    def test_bad_pairs(self, bad):
        with pytest.raises(TypeError, match=r"padding given per side must be 2 pairs"):
            shapes.conv_padding(bad, 2)

    @pytest.mark.parametrize("bad", [-1, (0, -2), ((0, 1), (-1, 0))])
    def test_negative(self, bad):
        with pytest.raises(ValueError, match=r"padding must be >= 0"):
            shapes.conv_padding(bad, 2)

    def test_wrong_length(self):
        with pytest.raises(TypeError, match=r"padding must be an int or a tuple of 2 ints"):
            shapes.conv_padding((1, 1, 1), 2)


def _brute_count(n, k, s, d, lo, hi):
    """Number of window positions o*s (in padded coordinates) whose taps all lie in the padded input."""
    padded = n + lo + hi
    count, o = 0, 0
    while o * s + d * (k - 1) < padded:
        count += 1
        o += 1
    return count


@SETTINGS
@given(
    n=st.integers(1, 30), k=st.integers(1, 7), s=st.integers(1, 6), d=st.integers(1, 4),
    lo=st.integers(0, 6), hi=st.integers(0, 6),
)
def test_out_size_matches_brute_force(n, k, s, d, lo, hi):
    assert max(shapes.out_size(n, k, s, d, lo, hi), 0) == _brute_count(n, k, s, d, lo, hi)


@SETTINGS
@given(n=st.integers(1, 40), k=st.integers(1, 8), s=st.integers(1, 6), d=st.integers(1, 4))
def test_same_padding_gives_ceil_n_over_s(n, k, s, d):
    (lo,), (hi,) = shapes._same_padding((n,), (k,), (s,), (d,))
    assert lo >= 0 and hi >= 0
    assert 0 <= hi - lo <= 1  # the odd pixel goes on the high side
    assert shapes.out_size(n, k, s, d, lo, hi) == math.ceil(n / s)
    # minimal: one pixel less padding loses the last output (unless there was none to lose)
    if lo + hi > 0:
        assert shapes.out_size(n, k, s, d, lo, hi - 1) < math.ceil(n / s) or hi == 0
    if s == 1:  # PyTorch's 'same' split for stride 1: total = d*(k-1), lo = total // 2
        total = d * (k - 1)
        assert (lo, hi) == (total // 2, total - total // 2)


def test_same_padding_in_conv_spec_grid():
    for n in range(1, 13):
        for k in range(1, 6):
            for s in range(1, 5):
                for d in range(1, 4):
                    spec = shapes.conv_spec((1, 1, n), (1, 1, k), 1, s, "same", d, 1)
                    assert spec.y_nd == (1, 1, -(-n // s)), (n, k, s, d)
                    assert spec.x_nd == (1, 1, n)


@FEW
@given(n=st.integers(1, 12), k=st.integers(1, 6), d=st.integers(1, 3))
def test_same_padding_split_matches_torch(n, k, d):
    torch, F = _torch()
    spec = shapes.conv_spec((1, 1, n), (1, 1, k), 1, 1, "same", d, 1)
    lo, hi = spec.pad_lo[2], spec.pad_hi[2]
    g = torch.Generator().manual_seed(n * 100 + k * 10 + d)
    x = torch.randn(1, 1, n, generator=g, dtype=torch.float64)
    w = torch.randn(1, 1, k, generator=g, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: even kernels need a padded copy
        ref = F.conv1d(x, w, padding="same", dilation=d)
    ours = F.conv1d(F.pad(x, (lo, hi)), w, dilation=d)
    assert ours.shape == ref.shape
    assert torch.allclose(ours, ref)


# ----------------------------------------------------------------------------- conv_spec


class TestConvSpec:
    def test_2d_layout(self):
        spec = shapes.conv_spec((2, 4, 9, 8), (6, 2, 3, 2), 2, (2, 1), ((1, 0), (0, 2)), (1, 3), 2, (6,))
        assert spec.x_shape == (2, 4, 1, 9, 8)
        assert spec.w_shape == (6, 2, 1, 3, 2)
        assert spec.y_shape == (2, 6, 1, (9 + 1 - 2 - 1) // 2 + 1, (8 + 2 - 3 - 1) // 1 + 1)
        assert spec.stride == (1, 2, 1) and spec.dilation == (1, 1, 3)
        assert spec.pad_lo == (0, 1, 0) and spec.pad_hi == (0, 0, 2)
        assert spec.groups == 2 and spec.nd == 2
        assert spec.x_nd == (2, 4, 9, 8) and spec.y_nd == spec.y_shape[:2] + spec.y_shape[3:]

    def test_1d_and_3d_layout(self):
        s1 = shapes.conv_spec((1, 2, 7), (3, 2, 3), 1, 1, 0, 1, 1)
        assert s1.x_shape == (1, 2, 1, 1, 7) and s1.y_shape == (1, 3, 1, 1, 5) and s1.y_nd == (1, 3, 5)
        s3 = shapes.conv_spec((1, 2, 4, 5, 6), (4, 1, 2, 2, 2), 3, 1, 1, 1, 2)
        assert s3.y_nd == (1, 4, 5, 6, 7) and s3.pad_lo == (1, 1, 1) and s3.groups == 2

    @pytest.mark.parametrize(
        "x, w, kw, exc, match",
        [
            ((1, 3, 8), (4, 2, 3), {}, ValueError, r"weight expects 2 input channels .* C_in=3"),
            ((1, 3, 8), (4, 1, 3), dict(groups=2), ValueError, r"groups=2 must divide the input channels, got C_in=3"),
            ((1, 4, 8), (3, 2, 3), dict(groups=2), ValueError, r"groups=2 must divide the output channels .*=3"),
            ((1, 4, 8), (4, 4, 3), dict(groups=0), ValueError, r"groups must be a positive int, got 0"),
            ((1, 4, 8), (4, 4, 3), dict(stride=0), ValueError, r"stride must be >= 1 .*\(0,\)"),
            ((1, 4, 8), (4, 4, 3), dict(dilation=0), ValueError, r"dilation must be >= 1 .*\(0,\)"),
            ((1, 4, 8), (4, 4, 3), dict(padding=-1), ValueError, r"padding must be >= 0 .*\(-1,\)"),
            ((1, 4, 2), (4, 4, 3), {}, ValueError, r"output would be empty: input size \(2,\)"),
            ((1, 4, 5), (4, 4, 3), dict(dilation=3), ValueError, r"empty.*dilated kernel \(7,\)"),
            ((1, 4, 5), (4, 4, 0), {}, ValueError, r"weight must have non-empty dimensions"),
            ((1, 4, 5), (4, 4, 3, 3), {}, ValueError, r"weight must have shape \(C_out, C_in/groups, W\)"),
            ((1, 4, 5), (4, 4, 3), dict(bias=(5,)), ValueError, r"bias must have shape \(4,\).*got \(5,\)"),
        ],
    )
    def test_errors(self, x, w, kw, exc, match):
        kw = dict(kw)
        args = dict(stride=kw.pop("stride", 1), padding=kw.pop("padding", 0), dilation=kw.pop("dilation", 1),
                    groups=kw.pop("groups", 1), bias_shape=kw.pop("bias", None))
        with pytest.raises(exc, match=match):
            shapes.conv_spec(x, w, 1, **args)


# ----------------------------------------------------------------------------- conv_transpose_spec


def _tconv_out(n, k, s, d, lo, hi, op):
    return (n - 1) * s - lo - hi + d * (k - 1) + 1 + op


@SETTINGS
@given(
    n=st.integers(1, 10), k=st.integers(1, 5), s=st.integers(1, 4), d=st.integers(1, 3),
    lo=st.integers(0, 4), hi=st.integers(0, 4), op=st.integers(0, 3), groups=st.sampled_from([1, 2]),
)
def test_conv_transpose_spec_formula_and_adjointness(n, k, s, d, lo, hi, op, groups):
    out = _tconv_out(n, k, s, d, lo, hi, op)
    args = ((2, 2 * groups, n), (2 * groups, 3, k), 1, s, ((lo, hi),), op, groups, d)
    if op >= s and op >= d:
        with pytest.raises(ValueError, match="output_padding must be smaller than either stride or dilation"):
            shapes.conv_transpose_spec(*args)
        return
    if out < 1:
        with pytest.raises(ValueError, match="output would be empty"):
            shapes.conv_transpose_spec(*args)
        return
    spec = shapes.conv_transpose_spec(*args)
    assert spec.x_nd == (2, 3 * groups, out)
    assert spec.y_nd == (2, 2 * groups, n)
    assert spec.pad_lo[2] == lo and spec.pad_hi[2] == hi - op
    # It is the transpose of a convolution of x (size out) whose output has exactly size n.
    assert shapes.out_size(out, k, s, d, spec.pad_lo[2], spec.pad_hi[2]) == n


@FEW
@given(
    n=st.integers(1, 6), k=st.integers(1, 4), s=st.integers(1, 3), d=st.integers(1, 3),
    p=st.integers(0, 3), op=st.integers(0, 2),
)
def test_conv_transpose_spec_matches_torch(n, k, s, d, p, op):
    torch, F = _torch()
    x = torch.zeros(1, 2, n, dtype=torch.float64)
    w = torch.zeros(2, 3, k, dtype=torch.float64)
    try:
        ref = F.conv_transpose1d(x, w, stride=s, padding=p, output_padding=op, dilation=d).shape
    except RuntimeError:
        ref = None
    try:
        ours = shapes.conv_transpose_spec((1, 2, n), (2, 3, k), 1, s, p, op, 1, d).x_nd
    except ValueError:
        ours = None
    assert ours == (tuple(ref) if ref is not None else None)


def test_conv_transpose_spec_2d_matches_torch():
    torch, F = _torch()
    x = torch.zeros(1, 4, 3, 5)
    w = torch.zeros(4, 3, 2, 3)
    kw = dict(stride=(2, 3), padding=(1, 2), output_padding=(1, 0), groups=2, dilation=(1, 2))
    ref = F.conv_transpose2d(x, w, **kw).shape
    spec = shapes.conv_transpose_spec((1, 4, 3, 5), (4, 3, 2, 3), 2, kw["stride"], kw["padding"],
                                      kw["output_padding"], 2, kw["dilation"])
    assert spec.x_nd == tuple(ref)


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_conv_transpose_spec_rejects_string_padding(padding):
    with pytest.raises(ValueError, match=f"padding='{padding}' is not defined for a transposed convolution"):
        shapes.conv_transpose_spec((1, 2, 4), (2, 3, 3), 1, 1, padding, 0, 1, 1)


def test_conv_transpose_spec_errors():
    with pytest.raises(ValueError, match=r"weight.shape\[0\]=3 must equal the input channels C_in=2"):
        shapes.conv_transpose_spec((1, 2, 4), (3, 3, 3), 1, 1, 0, 0, 1, 1)
    with pytest.raises(ValueError, match=r"groups=2 must divide the input channels, got C_in=3"):
        shapes.conv_transpose_spec((1, 3, 4), (3, 3, 3), 1, 1, 0, 0, 2, 1)
    with pytest.raises(ValueError, match=r"output_padding must be >= 0"):
        shapes.conv_transpose_spec((1, 2, 4), (2, 3, 3), 1, 2, 0, -1, 1, 1)
    with pytest.raises(ValueError, match=r"bias must have shape \(6,\) \(weight.shape\[1\] x groups\), got \(3,\)"):
        shapes.conv_transpose_spec((1, 2, 4), (2, 3, 3), 1, 1, 0, 0, 2, 1, bias_shape=(3,))


def test_conv_padding_mode():
    assert shapes.conv_padding_mode("zeros") == "constant"
    for m in ("reflect", "replicate", "circular"):
        assert shapes.conv_padding_mode(m) == m
    for bad in ("constant", "Zeros", "wrap", "edge"):
        with pytest.raises(ValueError, match=r"padding_mode must be one of .* got " + repr(bad)):
            shapes.conv_padding_mode(bad)


# ----------------------------------------------------------------------------- pooling


def _pool_case():
    return st.tuples(st.integers(1, 20), st.integers(1, 5), st.integers(1, 5), st.integers(1, 3)).flatmap(
        lambda t: st.tuples(st.just(t[0]), st.just(t[1]), st.just(t[2]), st.integers(0, t[1] // 2), st.just(t[3]),
                            st.booleans())
    )


@SETTINGS
@given(case=_pool_case())
def test_pool_out_size_rule(case):
    """Windows start inside the input or its left padding; ceil_mode adds at most one partial window."""
    n, k, s, p, d, ceil = case
    out = shapes.pool_out_size(n, k, s, p, d, ceil)
    floor_out = shapes.out_size(n, k, s, d, p, p)
    if not ceil:
        assert out == floor_out
        return
    assert floor_out <= out <= floor_out + 1
    if out >= 1:
        assert (out - 1) * s < n + p  # the last window starts before the right padding
        # and every window before it has at least one tap in the left padding + input
        assert (out - 1) * s - p <= n - 1


@FEW
@given(case=_pool_case())
def test_pool_out_size_matches_torch_max_pool1d(case):
    torch, F = _torch()
    n, k, s, p, d, ceil = case
    try:
        ref = F.max_pool1d(torch.zeros(1, 1, n), k, s, p, d, ceil_mode=ceil).shape[-1]
    except RuntimeError:
        ref = 0
    assert max(shapes.pool_out_size(n, k, s, p, d, ceil), 0) == ref


@FEW
@given(case=_pool_case(), cip=st.booleans())
def test_pool_spec_divisor_matches_torch_avg_pool1d(case, cip):
    """Average of ones = (valid taps) / divisor: checks first/count/div tables against torch."""
    torch, F = _torch()
    n, k, s, p, _, ceil = case
    try:
        ref = F.avg_pool1d(torch.ones(1, 1, n, dtype=torch.float64), k, s, p, ceil_mode=ceil,
                           count_include_pad=cip)[0, 0].numpy()
    except RuntimeError:
        with pytest.raises(ValueError, match="output would be empty"):
            shapes.pool_spec((1, 1, n), 1, k, s, p, 1, ceil, cip)
        return
    spec = shapes.pool_spec((1, 1, n), 1, k, s, p, 1, ceil, cip)
    out = spec.y_shape[-1]
    assert out == len(ref)
    np.testing.assert_allclose(spec.count[2, :out] / spec.div[2, :out], ref, rtol=1e-12)


@SETTINGS
@given(case=_pool_case(), nd=st.integers(1, 3))
def test_pool_spec_tables_match_brute_force(case, nd):
    n, k, s, p, d, ceil = case
    if p > (d * (k - 1) + 1) // 2:
        return
    x_shape = (2, 3) + (n,) * nd
    out = shapes.pool_out_size(n, k, s, p, d, ceil)
    if out < 1:
        with pytest.raises(ValueError, match=r"output would be empty"):
            shapes.pool_spec(x_shape, nd, k, s, p, d, ceil)
        return
    if any(not any(0 <= o * s - p + t * d < n for t in range(k)) for o in range(out)):
        # with dilation a window can hold only padding: rejected rather than giving -inf or 0/0
        with pytest.raises(ValueError, match=r"lies entirely in the padding"):
            shapes.pool_spec(x_shape, nd, k, s, p, d, ceil)
        return
    spec = shapes.pool_spec(x_shape, nd, k, s, p, d, ceil)
    assert spec.x_shape == (2, 3) + (1,) * (3 - nd) + (n,) * nd
    assert spec.y_nd == (2, 3) + (out,) * nd
    assert spec.step == (1,) * (3 - nd) + (d,) * nd
    assert spec.first.dtype == np.int64 and spec.count.dtype == np.int64
    for i in range(3 - nd):  # unit dimensions: one tap at 0
        assert spec.first[i, 0] == 0 and spec.count[i, 0] == 1
    for o in range(out):
        taps = [o * s - p + t * d for t in range(k)]
        valid = [i for i in taps if 0 <= i < n]
        assert spec.count[2, o] == len(valid)
        if d == 1:  # padding <= k//2: every window sees at least one element of the input
            assert spec.count[2, o] >= 1
        got = [spec.first[2, o] + t * d for t in range(spec.count[2, o])]
        assert got == valid
        assert all(0 <= i < n for i in got)


def test_pool_params():
    assert shapes.pool_params(2, 3, None, 1, 1) == ((3, 3), (3, 3), (1, 1), (1, 1))
    assert shapes.pool_params(1, 3, (), 0, 1)[1] == (3,)  # empty stride means kernel_size, as torch
    assert shapes.pool_params(1, 3, 1, 2, 2)[2] == (2,)  # half the dilated window (5) is 2
    with pytest.raises(ValueError, match=r"padding must be at most half the \(dilated\) window.*padding=\(3,\)"):
        shapes.pool_params(1, 3, 1, 3, 2)
    with pytest.raises(ValueError, match=r"padding must be at most half.*padding=\(2,\).*kernel_size=\(3,\)"):
        shapes.pool_params(1, 3, 1, 2, 1)
    with pytest.raises(ValueError, match=r"kernel_size must be >= 1"):
        shapes.pool_params(2, (2, 0), None, 0, 1)
    with pytest.raises(ValueError, match=r"stride must be >= 1"):
        shapes.pool_params(2, 2, 0, 0, 1)
    with pytest.raises(ValueError, match=r"padding must be >= 0"):
        shapes.pool_params(2, 2, 1, -1, 1)
    with pytest.raises(ValueError, match=r"dilation must be >= 1"):
        shapes.pool_params(2, 2, 1, 0, 0)


# ----------------------------------------------------------------------------- adaptive pooling


@SETTINGS
@given(n=st.integers(1, 25), out=st.integers(1, 30))
def test_adaptive_windows_cover_the_input(n, out):
    spec = shapes.adaptive_pool_spec((1, 1, n), 1, out)
    first, count = spec.first[2, :out], spec.count[2, :out]
    ends = first + count
    assert spec.y_nd == (1, 1, out)
    assert np.all(count >= 1)
    assert first[0] == 0 and ends[-1] == n
    assert np.all(np.diff(first) >= 0) and np.all(np.diff(ends) >= 0)
    assert np.all(first[1:] <= ends[:-1])  # no gaps between consecutive windows
    covered = np.zeros(n, bool)
    for f, c in zip(first, count):
        covered[f:f + c] = True
    assert covered.all()
    assert np.array_equal(spec.div[2, :out], count.astype(np.float64))
    assert spec.step == (1, 1, 1)


@FEW
@given(n=st.integers(1, 12), out=st.integers(1, 15))
def test_adaptive_windows_match_torch(n, out):
    torch, F = _torch()
    x = np.random.default_rng(n * 31 + out).standard_normal(n)
    spec = shapes.adaptive_pool_spec((1, 1, n), 1, out)
    ours_avg = [x[f:f + c].mean() for f, c in zip(spec.first[2, :out], spec.count[2, :out])]
    ours_max = [x[f:f + c].max() for f, c in zip(spec.first[2, :out], spec.count[2, :out])]
    t = torch.from_numpy(x).reshape(1, 1, n)
    np.testing.assert_allclose(ours_avg, F.adaptive_avg_pool1d(t, out)[0, 0].numpy(), rtol=1e-12)
    np.testing.assert_array_equal(ours_max, F.adaptive_max_pool1d(t, out)[0, 0].numpy())


def test_adaptive_output_size():
    assert shapes.adaptive_output_size(3, (5, 6), 2) == (3, 3)
    assert shapes.adaptive_output_size((None, 2), (5, 6), 2) == (5, 2)
    assert shapes.adaptive_output_size(None, (5, 6), 2) == (5, 6)
    assert shapes.adaptive_output_size([np.int64(2), 4], (5, 6), 2) == (2, 4)
    assert shapes.adaptive_output_size((0, 2), (5, 6), 2) == (0, 2)  # empty, as PyTorch's
    with pytest.raises(ValueError, match=r"output_size must be >= 0 in every dimension, got \(-1, 2\)"):
        shapes.adaptive_output_size((-1, 2), (5, 6), 2)
    with pytest.raises(TypeError, match=r"output_size must be an int or a tuple of 2 ints"):
        shapes.adaptive_output_size((2, 2, 2), (5, 6), 2)
    with pytest.raises(ValueError, match=r"input must have non-empty spatial dimensions.*\(1, 1, 0, 3\)"):
        shapes.adaptive_pool_spec((1, 1, 0, 3), 2, 2)


def test_adaptive_pool_spec_2d_layout():
    spec = shapes.adaptive_pool_spec((2, 3, 5, 7), 2, (2, 3))
    assert spec.x_shape == (2, 3, 1, 5, 7) and spec.y_shape == (2, 3, 1, 2, 3) and spec.y_nd == (2, 3, 2, 3)
    assert spec.first[0, 0] == 0 and spec.count[0, 0] == 1  # the unit D dimension
    assert list(spec.first[1, :2]) == [0, 2] and list(spec.count[1, :2]) == [3, 3]
    assert list(spec.first[2, :3]) == [0, 2, 4] and list(spec.count[2, :3]) == [3, 3, 3]


def test_divisor():
    assert shapes.divisor(None) == 0.0
    assert shapes.divisor(3) == 3.0 and shapes.divisor(-2) == -2.0
    for bad in (0, 1.5, "2", True):
        with pytest.raises(ValueError, match=r"divisor_override must be a non-zero int or None, got"):
            shapes.divisor(bad)


# ----------------------------------------------------------------------------- unpool


class TestUnpoolOutputSize:
    def test_default(self):
        assert shapes.unpool_output_size((1, 1, 3, 4), 2, 2, None, 0, None) == (6, 8)
        assert shapes.unpool_output_size((1, 1, 3), 1, 3, 2, 1, None) == ((3 - 1) * 2 - 2 + 3,)

    @SETTINGS
    @given(n=st.integers(1, 8), k=st.integers(1, 4), s=st.integers(1, 4), delta=st.integers(-5, 5))
    def test_explicit_within_a_stride(self, n, k, s, delta):
        default = (n - 1) * s + k
        target = default + delta
        if abs(delta) < s and target >= 1:
            assert shapes.unpool_output_size((1, 1, n), 1, k, s, 0, (target,)) == (target,)
            assert shapes.unpool_output_size((1, 1, n), 1, k, s, 0, (1, 1, target)) == (target,)  # full shape
        else:
            with pytest.raises(ValueError, match=r"output_size|empty"):
                shapes.unpool_output_size((1, 1, n), 1, k, s, 0, (target,))

    def test_empty(self):
        with pytest.raises(ValueError, match=r"unpooled output would be empty: \(-1,\)"):
            shapes.unpool_output_size((1, 1, 1), 1, 1, 1, 1, None)

    def test_torch_agrees(self):
        torch, F = _torch()
        x = torch.randn(1, 1, 5, 7)
        y, idx = F.max_pool2d(x, 3, 2, 1, return_indices=True)
        ref = F.max_unpool2d(y, idx, 3, 2, 1).shape
        assert shapes.unpool_output_size(tuple(y.shape), 2, 3, 2, 1, None) == tuple(ref[2:])


# ----------------------------------------------------------------------------- pad tables

NP_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _apply_tables(x, tables, value):
    """Gather ``x`` through per-dimension source tables (-1: the constant) for its trailing dims."""
    npad = len(tables)
    lead = x.shape[: x.ndim - npad]
    out = x
    for j, t in enumerate(tables):
        axis = len(lead) + j
        safe = np.where(t < 0, 0, t)
        out = np.take(out, safe, axis=axis)
        mask_shape = [1] * out.ndim
        mask_shape[axis] = len(t)
        out = np.where((t < 0).reshape(mask_shape), value, out)
    return out


@st.composite
def _pad_case(draw):
    mode = draw(st.sampled_from(sorted(NP_MODE)))
    ndim = draw(st.integers(1, 4))
    sizes = tuple(draw(st.lists(st.integers(1, 6), min_size=ndim, max_size=ndim)))
    npad = draw(st.integers(1, min(3, ndim)))
    dims = sizes[ndim - npad:]
    pairs = []
    for n in dims:
        if mode == "reflect":
            lo, hi = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        elif mode == "circular":
            lo, hi = draw(st.integers(0, n)), draw(st.integers(0, n))
        elif mode == "replicate":
            lo, hi = draw(st.integers(0, 8)), draw(st.integers(0, 8))
        else:
            lo = draw(st.integers(-(n - 1), 5))
            hi = draw(st.integers(-(n - 1 + min(lo, 0)), 5))
        pairs.append((lo, hi))
    flat = tuple(v for pair in reversed(pairs) for v in pair)  # torch order: last dimension first
    return mode, sizes, pairs, flat


@SETTINGS
@given(case=_pad_case())
def test_pad_tables_match_numpy_pad(case):
    mode, sizes, pairs, flat = case
    x = np.arange(1, math.prod(sizes) + 1, dtype=np.float64).reshape(sizes)
    tables, outs = shapes.pad_tables(sizes, flat, mode)
    assert len(tables) == len(pairs)
    assert outs == tuple(n + lo + hi for n, (lo, hi) in zip(sizes[len(sizes) - len(pairs):], pairs))
    for t, o, n in zip(tables, outs, sizes[len(sizes) - len(pairs):]):
        assert t.dtype == np.int64 and t.shape == (o,)
        assert t.min() >= (-1 if mode == "constant" else 0) and t.max() < n
    got = _apply_tables(x, tables, -7.0)
    lead = [(0, 0)] * (len(sizes) - len(pairs))
    grow = lead + [(max(lo, 0), max(hi, 0)) for lo, hi in pairs]
    kw = dict(constant_values=-7.0) if mode == "constant" else {}
    ref = np.pad(x, grow, mode=NP_MODE[mode], **kw)
    crop = tuple([slice(None)] * len(lead) + [slice(max(-lo, 0), ref.shape[len(lead) + j] - max(-hi, 0))
                                              for j, (lo, hi) in enumerate(pairs)])
    np.testing.assert_array_equal(got, ref[crop])


def test_pad_tables_torch_circular_and_reflect():
    torch, F = _torch()
    x = torch.arange(1.0, 1 + 2 * 3 * 4 * 5).reshape(1, 2, 3, 4, 5)
    for mode, pad in [("circular", (5, 2, 4, 0, 1, 3)), ("reflect", (4, 3, 0, 3, 2, 1)), ("replicate", (7, 0, 1, 5, 0, 2))]:
        tables, _ = shapes.pad_tables((1, 2, 3, 4, 5), pad, mode)
        np.testing.assert_array_equal(_apply_tables(x.numpy(), tables, 0.0), F.pad(x, pad, mode=mode).numpy())


@pytest.mark.parametrize(
    "sizes, pad, mode, exc, match",
    [
        ((4, 4), (1, 2, 3), "constant", TypeError, r"pad must be a tuple of an even number of ints, got \(1, 2, 3\)"),
        ((4, 4), (1.0, 1), "constant", TypeError, r"pad must be a tuple of an even number of ints"),
        ((4, 4), 1, "constant", TypeError, r"pad must be a tuple"),
        ((4, 4), (1, 1), "wrap", ValueError, r"mode must be one of .* got 'wrap'"),
        ((1, 4, 4, 4, 4), (1,) * 8, "constant", ValueError, r"pads 4 dimensions; at most 3 trailing dimensions"),
        ((4,), (1, 1, 1, 1), "constant", ValueError, r"pad \(1, 1, 1, 1\) pads 2 dimensions.*\(4,\)"),
        ((3, 4), (4, 0), "reflect", ValueError, r"reflect padding must be smaller.*pad=\(4, 0\), size 4"),
        ((3, 4), (0, 0, 0, 3), "reflect", ValueError, r"reflect padding must be smaller.*size 3"),
        ((3, 4), (5, 0), "circular", ValueError, r"circular padding must be at most.*pad=\(5, 0\), size 4"),
        ((3, 4), (2, -3), "circular", ValueError, r"circular padding must be at most.*size 4 \(1 after cropping\)"),
        ((3, 4), (-2, -2), "constant", ValueError, r"pad \(-2, -2\) would make a dimension of size 4 empty"),
    ],
)
def test_pad_tables_errors(sizes, pad, mode, exc, match):
    with pytest.raises(exc, match=match):
        shapes.pad_tables(sizes, pad, mode)


# ----------------------------------------------------------------------------- unfold / fold


def test_unfold_params_and_block_counts():
    assert shapes.unfold_params(3, 1, 0, 1) == ((3, 3), (1, 1), (0, 0), (1, 1))
    assert shapes.unfold_params((2, 3), (1, 2), (0, 1), (2, 1)) == ((2, 3), (1, 2), (0, 1), (2, 1))
    assert shapes.block_counts((5, 6), (2, 3), (1, 2), (0, 1), (2, 1)) == ((5 - 2) // 2 + 1, (6 + 2 - 5) // 1 + 1)
    with pytest.raises(ValueError, match=r"input spatial size \(2, 2\) .* no sliding blocks"):
        shapes.block_counts((2, 2), (3, 3), (1, 1), (0, 0), (1, 1))
    with pytest.raises(ValueError, match=r"output_size spatial size"):
        shapes.block_counts((2, 2), (3, 3), (1, 1), (0, 0), (1, 1), name="output_size")
    with pytest.raises(ValueError, match=r"kernel_size must be >= 1"):
        shapes.unfold_params(0, 1, 0, 1)


def test_remembered_specs_do_not_hide_errors():
    """Specs are cached per argument values; 1.0 and True equal 1 in Python but must still be rejected
    after a valid call with 1, and a list argument (unhashable) still works."""
    x, w = (1, 2, 5, 5), (3, 2, 3, 3)
    good = shapes.conv_spec(x, w, 2, 1, 1, 1, 1)
    assert shapes.conv_spec(x, w, 2, 1, 1, 1, 1) is good
    for bad in (1.0, (True, True), (1, 1.0)):
        with pytest.raises((TypeError, ValueError), match="stride"):
            shapes.conv_spec(x, w, 2, bad, 1, 1, 1)
    assert shapes.conv_spec(x, w, 2, [1, 1], 1, 1, 1) == good
    p = shapes.pool_spec(x, 2, 2, None, 0, 1, False)
    with pytest.raises((TypeError, ValueError), match="kernel_size"):
        shapes.pool_spec(x, 2, 2.0, None, 0, 1, False)
    assert shapes.pool_spec(x, 2, 2, None, 0, 1, False) is p
