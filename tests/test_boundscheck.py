"""CI check that no kernel indexes outside its arrays, on the edge configurations.

Numba reads NUMBA_BOUNDSCHECK when it compiles, and kernels are cached on disk (``cache=True``)
without that flag in the cache key, so the check runs in a subprocess with the flag set and a
fresh, empty NUMBA_CACHE_DIR: every kernel is compiled anew with bounds checks (about 1-2 minutes
on 2 cores). The cases live in ``tests/_boundscheck_cases.py`` (not collected by pytest).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
SCRIPT = os.path.join(TESTS, "_boundscheck_cases.py")


def _env(cache_dir, boundscheck):
    env = dict(os.environ)
    env["NUMBA_BOUNDSCHECK"] = boundscheck
    env["NUMBA_CACHE_DIR"] = str(cache_dir)
    env.pop("NUMBA_DISABLE_JIT", None)
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def _run(args, env, timeout):
    return subprocess.run([sys.executable, SCRIPT, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_kernels_stay_in_bounds(tmp_path):
    t0 = time.perf_counter()
    proc = _run([], _env(tmp_path / "numba_cache", "1"), timeout=600)
    elapsed = time.perf_counter() - t0
    print(proc.stderr)
    assert proc.returncode == 0, (
        f"bounds-checked run failed (exit {proc.returncode}, {elapsed:.0f} s):\n{proc.stderr[-20000:]}\n{proc.stdout[-2000:]}"
    )
    assert " 0 failed" in proc.stderr, proc.stderr[-5000:]
    # the fresh cache really was used: the kernels were compiled into it, not loaded from elsewhere
    assert any(name.endswith(".nbi") for _, _, files in os.walk(tmp_path / "numba_cache") for name in files)


def test_script_detects_missing_boundscheck(tmp_path):
    """Without NUMBA_BOUNDSCHECK the script must refuse (exit 2), so the test above cannot pass vacuously."""
    proc = _run(["--prove-only"], _env(tmp_path / "numba_cache", "0"), timeout=300)
    assert proc.returncode == 2, f"exit {proc.returncode}:\n{proc.stderr[-5000:]}"
    assert "NUMBA_BOUNDSCHECK is not active" in proc.stderr
