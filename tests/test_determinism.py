"""A run and its resume in a new process must agree bit for bit, whether or not Numba compiled the
kernels afresh or loaded them from its cache. With fastmath, a freshly compiled parallel function
and its cached copy can round differently (numba#10617); the optimizer kernels are built without it."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parent / "_determinism_case.py"


def test_cold_and_warm_cache_processes_give_identical_bits(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    results = []
    for label in ("cold", "warm"):
        path = tmp_path / f"{label}.npz"
        r = subprocess.run([sys.executable, str(SCRIPT), str(path)], env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
        results.append(np.load(path))
    cold, warm = results
    assert sorted(cold.files) == sorted(warm.files)
    for k in cold.files:
        differ = int((cold[k] != warm[k]).sum())
        assert differ == 0, f"{k}: {differ} of {cold[k].size} elements differ between a cold and a warm Numba cache"
