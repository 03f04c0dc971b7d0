"""CI check that no kernel indexes outside its arrays, on the edge configurations.

Numba reads NUMBA_BOUNDSCHECK when it compiles, and kernels are cached on disk (``cache=True``)
without that flag in the cache key, so the check runs in a subprocess with the flag set and a
fresh, empty NUMBA_CACHE_DIR: every kernel is compiled anew with bounds checks (about 2 minutes
on 2 cores, at LLVM optimization level 0), as a background job that starts when collection ends (``tests/_background.py``).
The cases live in ``tests/_boundscheck_cases.py`` (not collected by pytest).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

import _background

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
SCRIPT = os.path.join(TESTS, "_boundscheck_cases.py")


def _env(cache_dir, boundscheck):
    env = dict(os.environ)
    env["NUMBA_BOUNDSCHECK"] = boundscheck
    # LLVM's optimizations can only drop a check they prove in range; at level 0 every check stays,
    # and the compile of every kernel takes about 30% less time (169 -> 120 s on the 2-core host)
    env["NUMBA_OPT"] = "0"
    env["NUMBA_CACHE_DIR"] = str(cache_dir)
    env.pop("NUMBA_DISABLE_JIT", None)
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def _run(args, env, timeout):
    return subprocess.run([sys.executable, SCRIPT, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _bounds_checked_job():
    cache = _background.scratch_dir("numconv-boundscheck-")
    return dict(args=[sys.executable, SCRIPT], env=_env(cache, "1"), cwd=ROOT, timeout=600)


BACKGROUND = {"boundscheck": _bounds_checked_job}


@pytest.mark.background("boundscheck")
def test_kernels_stay_in_bounds():
    t0 = time.perf_counter()
    job = _background.result("boundscheck", _bounds_checked_job)
    waited = time.perf_counter() - t0
    print(job.stderr)
    assert job.returncode == 0 and not job.timed_out, (
        f"bounds-checked run failed (exit {job.returncode}{', timed out' if job.timed_out else ''}; waited {waited:.0f} s):\n"
        f"{job.stderr[-20000:]}\n{job.stdout[-2000:]}"
    )
    assert " 0 failed" in job.stderr, job.stderr[-5000:]
    # the fresh cache really was used: the kernels were compiled into it, not loaded from elsewhere
    cache = job.env["NUMBA_CACHE_DIR"]
    assert any(name.endswith(".nbi") for _, _, files in os.walk(cache) for name in files)


def test_script_detects_missing_boundscheck(tmp_path):
    """Without NUMBA_BOUNDSCHECK the script must refuse (exit 2), so the test above cannot pass vacuously."""
    proc = _run(["--prove-only"], _env(tmp_path / "numba_cache", "0"), timeout=300)
    assert proc.returncode == 2, f"exit {proc.returncode}:\n{proc.stderr[-5000:]}"
    assert "NUMBA_BOUNDSCHECK is not active" in proc.stderr
