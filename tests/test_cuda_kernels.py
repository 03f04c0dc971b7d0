"""The CUDA kernels (numconv/kernels/cuda/) against the CPU kernels, through numconv.functional.

Why a subprocess: the CUDA simulator is chosen by ``NUMBA_ENABLE_CUDASIM=1``, which Numba reads
once, when ``numba.cuda`` is first imported. Setting it in a conftest would put the whole test
session (and a developer's GPU run of it) on the simulator and depends on nothing having imported
``numba.cuda`` before; a subprocess with the flag in its environment is robust and leaves this
process alone. ``tests/_cuda_cases.py`` runs every case once and writes a JSON report; each test
here checks one group of it. It runs by hand too: ``NUMBA_ENABLE_CUDASIM=1 python tests/_cuda_cases.py``.

Under the simulator every GPU thread is a Python thread, so the shapes are tiny (tens to a few
hundred outputs per kernel); ``test_on_a_real_gpu`` repeats the cases on a GPU where there is one.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "_cuda_cases.py"
TIMEOUT_S = 600


def _run_cases(tmp_path_factory, simulator: bool) -> dict:
    if importlib.util.find_spec("numba.cuda") is None:
        msg = "numba.cuda is not importable: install numba-cuda (pip install -e .[cuda])"
        if os.environ.get("CI") == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    out = tmp_path_factory.mktemp("cuda") / "results.json"
    env = dict(os.environ)
    if simulator:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    else:
        env.pop("NUMBA_ENABLE_CUDASIM", None)
    try:
        proc = subprocess.run(
            [sys.executable, str(SCRIPT), "--json", str(out)],
            env=env, cwd=HERE.parent, capture_output=True, text=True, timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{SCRIPT.name} ran past {TIMEOUT_S} s:\n{(exc.stderr or '')[-4000:]}", pytrace=False)
    report = json.loads(out.read_text()) if out.exists() else {}
    report["returncode"] = proc.returncode
    report["stderr"] = proc.stderr
    return report


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    return _run_cases(tmp_path_factory, simulator=True)


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


GROUPS = ["conv", "conv_transpose", "pool", "unpool", "unfold", "pad", "device", "mirror"]


@pytest.mark.parametrize("group", GROUPS)
def test_cuda_simulator(simulated, group):
    """Forward and backward on device arrays equal the CPU kernels' (float64, atol 1e-12), stay
    device arrays, and are bit-identical from run to run. ``device``: mixing a device and a NumPy
    array is a ValueError naming both. ``mirror``: every CPU kernel has a CUDA launcher of the
    same name and signature, with a docstring, and every one of them ran."""
    _check(simulated, group)


def test_cuda_cases_exit_status(simulated):
    """The script's own verdict agrees (it also fails on anything outside the groups)."""
    assert simulated["returncode"] == 0, simulated["stderr"][-6000:]


def test_on_a_real_gpu(tmp_path_factory):
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
    report = _run_cases(tmp_path_factory, simulator=False)
    for group in GROUPS:
        _check(report, group)
