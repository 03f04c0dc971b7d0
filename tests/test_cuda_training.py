"""Training on the CUDA backend (numconv/ops/math.py and numconv/ops/optim.py on device arrays,
Tensor.to / Module.to, a few training steps) under the CUDA simulator, in a subprocess for the
reason ``test_cuda_kernels.py`` gives (a background job that starts when collection ends,
``tests/_background.py``); ``tests/_cuda_training_cases.py`` holds the cases and also runs by hand. Plus, in this (non-simulator) process: asking for CUDA where there is none is a
clear error, not a Numba traceback.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import _background

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "_cuda_training_cases.py"
TIMEOUT_S = 600
GROUPS = ["math", "unsupported", "autograd", "edges", "layer math", "inplace", "random", "optim", "module",
          "training"]


def _simulator_job():
    out = os.path.join(_background.scratch_dir("numconv-cuda-training-"), "results.json")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    return dict(args=[sys.executable, str(SCRIPT), "--json", out], env=env, cwd=HERE.parent, timeout=TIMEOUT_S)


BACKGROUND = {"cuda_training_simulator": _simulator_job}


@pytest.fixture(scope="module")
def simulated():
    if importlib.util.find_spec("numba.cuda") is None:
        msg = "numba.cuda is not importable: install numba-cuda (pip install -e .[cuda])"
        if os.environ.get("CI") == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    job = _background.result("cuda_training_simulator", _simulator_job)
    if job.timed_out:
        pytest.fail(f"{SCRIPT.name} ran past {TIMEOUT_S} s:\n{job.stderr[-4000:]}", pytrace=False)
    out = Path(job.args[-1])
    report = json.loads(out.read_text()) if out.exists() else {}
    report["returncode"], report["stderr"] = job.returncode, job.stderr
    return report


@pytest.mark.background("cuda_training_simulator")
@pytest.mark.parametrize("group", GROUPS)
def test_cuda_training_simulator(simulated, group):
    """math: every CUDA math kernel equals NumPy (broadcasting, odd sizes; concatenate, stack, split,
    NumPy indexing with host and device index arrays, index_add, indexed assign, batched matmul),
    bit-identical on a repeat. unsupported: what the device cannot do raises NotImplementedError naming
    it. autograd: cat, stack, indexing and batched matmul on device Tensors, forward and gradients as on
    the CPU; cross_entropy's target check on the device; a training step with dropout copies only two
    scalars (the targets' min and max) to the host. random: device draws and dropout masks reproducible
    from numconv's seed, in range, about the right statistics. optim: SGD/Adam/AdamW/RMSprop updates
    equal the CPU kernels'. module: Module.to / Tensor.to round trips. training: 3 steps of a tiny CNN
    with SGD momentum and with Adam give the CPU's losses (float64), BatchNorm too."""
    if "results" not in simulated:
        pytest.fail(f"{SCRIPT.name} did not run (exit {simulated['returncode']}):\n{simulated['stderr'][-6000:]}",
                    pytrace=False)
    cases = [r for r in simulated["results"] if r["group"] == group]
    assert cases, f"no {group} cases ran"
    failed = [r for r in cases if not r["ok"]]
    if failed:
        detail = "\n\n".join(f"{r['name']}:\n{r['error']}" for r in failed)
        pytest.fail(f"{len(failed)} of {len(cases)} {group} cases failed:\n\n{detail}", pytrace=False)


@pytest.mark.background("cuda_training_simulator")
def test_cuda_training_exit_status(simulated):
    assert simulated["returncode"] == 0, simulated["stderr"][-6000:]


def _no_cuda():
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        pytest.skip("the simulator counts as CUDA here")
    import numconv

    if numconv.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")


def test_asking_for_cuda_without_one_is_a_clear_error():
    _no_cuda()
    import numconv as nc
    from numconv import nn, train

    t = nc.Tensor(np.ones(3))
    for call in (lambda: t.to("cuda"), t.cuda, lambda: nn.Linear(2, 2).to("cuda"), lambda: nn.Linear(2, 2).cuda()):
        with pytest.raises(RuntimeError, match="CUDA is not available") as info:
            call()
        assert "numba" not in type(info.value).__module__
    with pytest.raises(ValueError, match="CUDA is not available"):
        train._check(train.Config(device="cuda"))
    assert nc.cuda.is_available() is False


def test_a_gpu_without_numba_cuda_is_refused_with_what_to_install(monkeypatch):
    """On a real GPU, numba >= 0.66's own CUDA target cannot compile numconv's kernels (numba#10753):
    require() says to install the cuda extra instead of a typing traceback at the first conv."""
    import numconv.cuda as ncuda

    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    monkeypatch.setattr(ncuda, "_simulated", lambda: False)
    problem = ncuda.compiler_problem("0.68.1", has_numba_cuda=False)
    assert problem and "pip install numconv[cuda]" in problem and "0.68.1" in problem
    assert ncuda.compiler_problem("0.68.1", has_numba_cuda=True) is None
    assert ncuda.compiler_problem("0.65.0", has_numba_cuda=False) is None
    monkeypatch.setattr(ncuda, "_available", [])
    monkeypatch.setattr(ncuda, "is_available", lambda: True)
    monkeypatch.setattr(ncuda, "compiler_problem", lambda: problem)
    with pytest.raises(RuntimeError, match=r"numba-cuda"):
        ncuda.require()
