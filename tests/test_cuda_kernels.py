"""The CUDA kernels (numconv/kernels/cuda/) against the CPU kernels, through numconv.functional.

Why a subprocess: the CUDA simulator is chosen by ``NUMBA_ENABLE_CUDASIM=1``, which Numba reads
once, when ``numba.cuda`` is first imported. Setting it in a conftest would put the whole test
session (and a developer's GPU run of it) on the simulator and depends on nothing having imported
``numba.cuda`` before; a subprocess with the flag in its environment is robust and leaves this
process alone. ``tests/_cuda_cases.py`` runs every case once and writes a JSON report; each test
here checks one group of it. The simulator run is a background job that starts when collection
ends (``tests/_background.py``). It runs by hand too: ``NUMBA_ENABLE_CUDASIM=1 python tests/_cuda_cases.py``.

Under the simulator every GPU thread is a Python thread, so the shapes are tiny (tens to a few
hundred outputs per kernel); ``test_on_a_real_gpu`` repeats the cases on a GPU where there is one.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

import _background

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "_cuda_cases.py"
TIMEOUT_S = 1200  # a hang guard: the simulator run took 345 s in CI sharing the cores with the other jobs


def _require_numba_cuda():
    if importlib.util.find_spec("numba.cuda") is None:
        msg = "numba.cuda is not importable: install numba-cuda (pip install -e .[cuda])"
        if os.environ.get("CI") == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)


def _cases_job(simulator: bool):
    """The Job arguments that run every case and write the JSON report into a scratch directory."""
    out = os.path.join(_background.scratch_dir("numconv-cuda-cases-"), "results.json")
    env = dict(os.environ)
    if simulator:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    else:
        env.pop("NUMBA_ENABLE_CUDASIM", None)
    return dict(args=[sys.executable, str(SCRIPT), "--json", out], env=env, cwd=HERE.parent, timeout=TIMEOUT_S)


def _report(job) -> dict:
    if job.timed_out:
        pytest.fail(f"{SCRIPT.name} ran past {TIMEOUT_S} s:\n{job.stderr[-4000:]}", pytrace=False)
    out = Path(job.args[-1])
    report = json.loads(out.read_text()) if out.exists() else {}
    report["returncode"] = job.returncode
    report["stderr"] = job.stderr
    return report


def _simulator_job():
    return _cases_job(simulator=True)


BACKGROUND = {"cuda_kernels_simulator": _simulator_job}


@pytest.fixture(scope="module")
def simulated():
    _require_numba_cuda()
    return _report(_background.result("cuda_kernels_simulator", _simulator_job))


def _check(report, group):
    if report.get("fatal") or "results" not in report:
        pytest.fail(
            f"{SCRIPT.name} did not run its cases (exit {report['returncode']}): "
            f"{report.get('fatal', '')}\n{report['stderr'][-6000:]}",
            pytrace=False,
        )
    cases = [r for r in report["results"] if r["group"] == group]
    assert cases, f"no {group} cases ran"
    failed = [r for r in cases if not r["ok"]]
    if failed:
        detail = "\n\n".join(f"{r['name']}:\n{r['error']}" for r in failed)
        pytest.fail(f"{len(failed)} of {len(cases)} {group} cases failed:\n\n{detail}", pytrace=False)


GROUPS = ["conv", "conv_transpose", "pool", "unpool", "unfold", "pad", "resample", "elementwise", "norm", "scan", "ctc",
          "grid_sample", "device", "mirror"]


@pytest.mark.background("cuda_kernels_simulator")
@pytest.mark.parametrize("group", GROUPS)
def test_cuda_simulator(simulated, group):
    """Forward and backward on device arrays equal the CPU kernels' (float64, atol 1e-12), stay
    device arrays, and are bit-identical from run to run. ``device``: mixing a device and a NumPy
    array is a ValueError naming both. ``mirror``: every CPU kernel has a CUDA launcher of the
    same name and signature, with a docstring, and every one of them ran."""
    _check(simulated, group)


@pytest.mark.background("cuda_kernels_simulator")
def test_cuda_cases_exit_status(simulated):
    """The script's own verdict agrees (it also fails on anything outside the groups)."""
    assert simulated["returncode"] == 0, simulated["stderr"][-6000:]


def test_on_a_real_gpu():
    """The same cases on a GPU, where this machine has one (never in CI)."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        pytest.skip("NUMBA_ENABLE_CUDASIM=1 in this process: no real GPU run")
    try:
        from numba import cuda

        available = cuda.is_available()
    except Exception:  # noqa: BLE001 - no numba.cuda, no driver: no GPU
        available = False
    if not available:
        pytest.skip("no CUDA GPU here")
    _require_numba_cuda()
    job = _background.Job("cuda_kernels_gpu", **_cases_job(simulator=False))
    job.run()
    report = _report(job)
    for group in GROUPS:
        _check(report, group)


# ----------------------------------------------------------------------------- the host half of device indexing


def _random_index(rng, shape):
    """A random NumPy index for an array of ``shape``: ints, slices of any step, None, Ellipsis, int arrays
    (negative entries, repeats, broadcasting shapes) and boolean masks, in random mixtures."""
    import numpy as np

    parts, axis = [], 0
    ellipsis = rng.random() < 0.3
    while axis < len(shape) and rng.random() < 0.85:
        n = shape[axis]
        kind = rng.choice(["int", "slice", "slice", "array", "array", "mask", "none"])
        if ellipsis and rng.random() < 0.3:
            parts.append(Ellipsis)
            ellipsis = False
            axis = len(shape) - int(rng.integers(0, len(shape) - axis + 1))
            continue
        if kind == "none":
            parts.append(None)
            continue
        if kind == "int":
            parts.append(int(rng.integers(-n, n)))
        elif kind == "slice":
            pick = lambda: None if rng.random() < 0.3 else int(rng.integers(-n - 1, n + 2))  # noqa: E731
            parts.append(slice(pick(), pick(), int(rng.choice([1, 1, 2, 3, -1, -2]))))
        elif kind == "array":
            ishape = [(2,), (1, 2), (2, 1), (3,), ()][int(rng.integers(0, 5))]
            parts.append(rng.integers(-n, n, ishape))
        else:
            m = int(rng.integers(1, min(2, len(shape) - axis) + 1))
            parts.append(rng.random(shape[axis:axis + m]) < 0.5)
            axis += m
            continue
        axis += 1
    return tuple(parts)


def test_device_index_plan_matches_numpy():
    """The plan ``numconv.ops.math`` makes on the host for NumPy indexing on the device (offsets for the
    getitem kernel, and the lattice the index_add / assign kernel inverts) gives NumPy's a[index],
    np.add.at and a[index] = v, errors included, over random index mixtures; emulated here in NumPy,
    without a GPU or the simulator (the kernels themselves run in tests/_cuda_training_cases.py)."""
    import numpy as np

    from numconv.ops import math as M

    rng = np.random.default_rng(4)
    shape = (3, 4, 5)
    a = rng.standard_normal(shape)
    checked = errors = 0
    for _ in range(600):
        index = _random_index(rng, shape)
        try:
            want = a[index]
        except IndexError:
            try:
                M._index_plan(shape, index)
            except IndexError:
                errors += 1
                continue
            raise AssertionError(f"a[{index}] raises IndexError in NumPy but not in the plan")
        plan = M._index_plan(shape, index)
        assert plan.shape == want.shape, (index, plan.shape, want.shape)
        # getitem: base + sum r_d * s_a[d] + sum_j wrap(row_j[b]) * stride_j, b = sum r_d * s_b[d]
        r = np.indices(plan.shape).reshape(len(plan.shape), -1) if plan.shape else np.zeros((0, 1), int)
        off = plan.base + (np.asarray(plan.s_a)[:, None] * r).sum(0)
        b = (np.asarray(plan.s_b)[:, None] * r).sum(0)
        for arr, n, stride, _, _ in plan.rows:
            row = np.broadcast_to(np.asarray(arr), plan.b_shape).ravel()
            off = off + (row[b] % n) * stride if row.size else off
        assert np.array_equal(a.ravel()[off].reshape(want.shape), want), index
        # the inverse: every element of a finds the values that land on it, as index_scan does
        v = rng.standard_normal(want.shape)
        added, wrote = np.zeros(shape), a.copy()
        np.add.at(added, index, v)
        wrote[index] = v
        vs = M._strides(plan.shape)
        after_b = plan.b_pos + len(plan.b_shape)
        vstride_b = int(np.prod(plan.shape[after_b:]))
        rows = [np.broadcast_to(np.asarray(arr), plan.b_shape).ravel() % n for arr, n, _, _, _ in plan.rows]
        offs = sum((row * stride for row, (_, _, stride, _, _) in zip(rows, plan.rows)), np.zeros(plan.nb, int))
        got_add, got_set = np.zeros(shape), a.copy()
        for c in np.ndindex(shape):
            voff, aoff, hit = 0, 0, True
            for k, (s0, step, count, d) in enumerate(plan.lattice):
                q = c[k] - s0
                i = q // step
                hit &= i * step == q and 0 <= i < count
                voff += i * (vs[d] if d >= 0 else 0)
            aoff = sum(c[axis] * stride for _, _, stride, axis, _ in plan.rows)
            if hit:
                for bb in range(plan.nb if plan.rows else 1):
                    if not plan.rows or offs[bb] == aoff:
                        got_add[c] += v.ravel()[voff + bb * vstride_b]
                        got_set[c] = v.ravel()[voff + bb * vstride_b]
        assert np.allclose(got_add, added, rtol=0, atol=1e-12), ("index_add", index)
        assert np.array_equal(got_set, wrote), ("assign", index)
        # unique() (each value written by its own thread) only where no position is named twice; exactly
        # then for host index arrays and a non-empty result
        hits = np.zeros(shape)
        np.add.at(hits, index, 1.0)
        assert not plan.unique() or hits.max(initial=0) <= 1, ("unique", index)
        assert plan.unique() or not want.size or hits.max(initial=0) > 1, ("not unique", index)
        checked += 1
    assert checked > 300 and errors > 20, (checked, errors)


# ----------------------------------------------------------------------------- the input gradient's phases


def test_input_gradient_phases_cover_every_tap_once():
    """``_phases`` (host arithmetic of the CUDA input gradient): over random sizes, kernels, strides,
    paddings (negative ones too) and dilations, the phases' (element, tap, output) triples are
    exactly the pairs with ``o*s + k*d - p == i``: each once, and each with the right output."""
    _require_numba_cuda()
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from numconv.kernels.cuda.conv import _phases

    @settings(max_examples=300, deadline=None)
    @given(st.integers(0, 13), st.integers(1, 7), st.integers(1, 4), st.integers(-3, 8), st.integers(1, 4))
    def check(n, k, s, p, d):
        phases = _phases(n, k, s, p, d)
        assert [ph[0] for ph in phases] == list(range(s))
        seen = []
        for r, count, taps, last, step, dil, pad in phases:
            assert count == len(range(r, n, s))
            for i_ in range(count):
                for t in range(taps):
                    i, tap, o = i_ * s + r, last - t * step, i_ + t * dil - pad
                    assert 0 <= tap < k
                    assert o * s + tap * d - p == i, (r, i_, t)
                    seen.append((i, tap))
        want = [(i, tap) for i in range(n) for tap in range(k) if (i + p - tap * d) % s == 0]
        assert sorted(seen) == want

    check()
