"""Shared test helpers: torch availability, seeded random arrays, memory layouts, tolerances.

Test modules import the helpers directly (``from conftest import ...``); pytest puts this
directory on ``sys.path`` (rootdir-relative "prepend" import mode).
"""
from __future__ import annotations

import os
import zlib

import numpy as np
import pytest

import _background


# ----------------------------------------------------------------------------- torch


def torch_or_fail():
    """``torch`` if it imports. If it does not: fail under CI (CI=true must run the torch
    comparisons), otherwise skip the test, as ``pytest.importorskip`` would."""
    try:
        import torch
    except ImportError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"torch is not importable ({exc}); CI must run the torch.nn.functional comparisons: "
                "install the test extra, pip install -e .[test]",
                pytrace=False,
            )
        pytest.skip(f"torch is not installed ({exc}); the torch comparisons need it")
    return torch


@pytest.fixture
def torch():
    return torch_or_fail()


def to_torch(torch, a, requires_grad=False):
    t = torch.from_numpy(np.array(a, order="C"))  # a copy; 0-d stays 0-d (ascontiguousarray makes it 1-d)
    if requires_grad:
        t.requires_grad_(True)
    return t


def torch_forward_backward(torch, fn, inputs, grad_output_fn=None, rng=None):
    """Run ``fn(*tensors)`` in torch; ``inputs`` are NumPy arrays (None passes through, integer
    arrays do not require grad). Returns (outputs as NumPy, gy, grads of the float inputs) with
    ``gy = grad_output_fn(y)`` (default: a random array like y from ``rng``)."""
    ts = []
    for a in inputs:
        if a is None:
            ts.append(None)
        else:
            ts.append(to_torch(torch, a, requires_grad=np.issubdtype(np.asarray(a).dtype, np.floating)))
    y = fn(*ts)
    first = y[0] if isinstance(y, tuple) else y
    gy = grad_output_fn(first.detach().numpy()) if grad_output_fn else random_like(rng, first.detach().numpy())
    first.backward(to_torch(torch, gy))
    outs = tuple(t.detach().numpy() for t in y) if isinstance(y, tuple) else y.detach().numpy()
    grads = [None if t is None or not t.requires_grad else t.grad.numpy() for t in ts]
    return outs, gy, grads


# ----------------------------------------------------------------------------- random arrays


@pytest.fixture
def rng(request):
    """A NumPy Generator seeded from the test's id: reproducible, different per test case."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def random(rng, shape, dtype=np.float64):
    """Standard normal values (never all zeros or ones)."""
    return rng.standard_normal(shape).astype(dtype)


def random_like(rng, a):
    return random(rng, a.shape, a.dtype)


LAYOUTS = ("C", "F", "strided", "reversed")


def arrange(a, layout):
    """The same values as ``a`` in another memory layout.

    C: C-contiguous. F: Fortran-ordered. strided: a view taking every other element of a larger
    array along the last axis. reversed: a view with negative strides on every axis.
    """
    a = np.asarray(a)
    if layout == "C":
        return np.ascontiguousarray(a)
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        big = np.empty(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        big[..., 1::2] = np.nan if np.issubdtype(a.dtype, np.floating) else -(2**31)  # poison the gaps
        big[..., ::2] = a
        out = big[..., ::2]
        assert not out.flags.c_contiguous
        return out
    if layout == "reversed":
        flip = (slice(None, None, -1),) * a.ndim
        out = np.ascontiguousarray(a[flip])[flip]
        assert a.size <= 1 or not out.flags.c_contiguous
        return out
    raise ValueError(layout)


# ----------------------------------------------------------------------------- comparisons


def tolerances(dtype, kind="exact"):
    """(rtol, atol) scaled later by the expected magnitude. ``kind``: 'exact' (float64 vs an exact
    float64 computation), 'fd' (vs central differences), 'f32' (float32 results)."""
    if np.dtype(dtype) == np.float32:
        return 1e-4, 1e-5
    return {"exact": (1e-10, 1e-10), "fd": (1e-7, 1e-8)}[kind]


def assert_close(got, expected, dtype=np.float64, kind="exact", what="", equal_nan=False):
    """Same shape; |got - expected| <= atol * max(1, max|expected|) + rtol * |expected|."""
    got = np.asarray(got)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != expected {expected.shape}"
    rtol, atol = tolerances(dtype, kind)
    finite = np.abs(expected[np.isfinite(expected)])
    scale = max(1.0, float(finite.max()) if finite.size else 1.0)
    g, e = got.astype(np.float64), expected.astype(np.float64)
    if equal_nan:
        nan_e, nan_g = np.isnan(e), np.isnan(g)
        assert np.array_equal(nan_e, nan_g), (
            f"{what}: NaN positions differ: expected at {np.argwhere(nan_e).tolist()}, got at {np.argwhere(nan_g).tolist()}"
        )
        g, e = np.where(nan_e, 0.0, g), np.where(nan_e, 0.0, e)
    err = np.abs(g - e)
    bound = atol * scale + rtol * np.abs(e)
    bad = ~(err <= bound)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {bad.size} elements differ (dtype {np.dtype(dtype)}, rtol {rtol}, "
            f"atol {atol}*{scale:.3g}); max abs err {float(np.nanmax(err)):.3e}; first at {where}: "
            f"got {g[where]!r}, expected {e[where]!r}"
        )


def assert_dtype(a, dtype, what=""):
    assert isinstance(a, np.ndarray), f"{what}: expected a numpy.ndarray, got {type(a).__name__}"
    assert a.dtype == np.dtype(dtype), f"{what}: dtype {a.dtype}, expected {np.dtype(dtype)}"


def unbatched_ref(ref_fn, x, batched, *args, **kwargs):
    """Apply a batched reference to ``x`` that may be unbatched (C, *spatial)."""
    if batched:
        return ref_fn(x, *args, **kwargs)
    out = ref_fn(np.asarray(x)[None], *args, **kwargs)
    if isinstance(out, tuple):
        return tuple(o[0] for o in out)
    return out[0]


def vdot(a, b):
    """<a, b> in float64."""
    return float(np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64)))


# ----------------------------------------------------------------------------- background jobs


def pytest_configure(config):
    config.addinivalue_line("markers", "background(name): the test waits on the subprocess job ``name`` "
                                       "(tests/_background.py), started early and run beside the session")


def pytest_collection_modifyitems(session, config, items):
    """Start the background jobs of the collected tests that wait on one, and run those tests last."""
    if os.environ.get("NUMCONV_TEST_BACKGROUND", "1") == "0":
        return
    makers, waiting, rest = {}, [], []
    for item in items:
        marker = item.get_closest_marker("background")
        if marker is None:
            rest.append(item)
            continue
        name = marker.args[0]
        makers[name] = getattr(item.module, "BACKGROUND")[name]
        waiting.append(item)
    if makers:
        items[:] = rest + waiting
        _background.start(makers)


def pytest_terminal_summary(terminalreporter):
    """One line with each background job's wall time: which of them sets the suite's length."""
    jobs = _background.timings()
    if jobs:
        terminalreporter.write_line("background jobs: " + ", ".join(
            f"{name} {'not run' if secs is None else f'{secs:.0f} s'}" for name, secs in jobs))


def pytest_sessionfinish(session, exitstatus):
    _background.finish()
