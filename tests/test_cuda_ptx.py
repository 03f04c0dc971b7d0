"""Every CUDA kernel the simulator runs compiles for a real GPU: to PTX by Numba's CUDA compiler
(NVVM), for every argument-type signature the simulator cases launched it with, without a GPU.

The CUDA simulator runs kernels as Python and never type-checks them, so a kernel Numba's CUDA
compiler rejects (a typing error, an unsupported function, types that do not unify) passes
``test_cuda_kernels.py`` and ``test_cuda_training.py`` and fails on a GPU. Their background jobs
record each launch (``tests/_ptx_check.py``: the kernel and its argument types, as the real CUDA
target types them) into ``signatures.json`` beside their ``--json`` reports; this test compiles
each recorded (kernel, signature) in a subprocess without the simulator, and assembles the PTX with
``ptxas`` where the toolkit has it. Needs NVVM (the CUDA toolkit's libnvvm), not a GPU: skipped
where there is none (this project's machines have one in /usr/local/cuda). By hand::

    NUMBA_ENABLE_CUDASIM=1 python tests/_cuda_cases.py --json /tmp/c/results.json
    python tests/_ptx_check.py /tmp/c/signatures.json
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path

import pytest

import _background
import test_cuda_kernels
import test_cuda_training

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "_ptx_check.py"
TIMEOUT_S = 900  # a hang guard: the check took about a minute on a 2-core machine
JOBS = int(os.environ.get("NUMCONV_PTX_JOBS", "2"))  # compiling processes: the simulator jobs are done by then

# the simulator jobs whose launches this test compiles (the same jobs, by name, as their own tests')
BACKGROUND = {
    "cuda_kernels_simulator": test_cuda_kernels.BACKGROUND["cuda_kernels_simulator"],
    "cuda_training_simulator": test_cuda_training.BACKGROUND["cuda_training_simulator"],
}


def _env():
    env = dict(os.environ, NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING="1")
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    return env


def _run(args, timeout=TIMEOUT_S):
    job = _background.Job("cuda_ptx_check", [sys.executable, str(SCRIPT), *args], _env(), HERE.parent, timeout)
    job.run()
    if job.timed_out:
        pytest.fail(f"{SCRIPT.name} ran past {timeout} s:\n{job.stderr[-4000:]}", pytrace=False)
    return job


def _require_nvvm():
    """Skip where kernels cannot be compiled to PTX here (no NVVM); fail if the probe itself breaks."""
    job = _run(["--probe"], timeout=300)
    if job.returncode == 0:
        return
    msg = f"cannot compile CUDA kernels to PTX here: {(job.stderr.strip().splitlines() or ['?'])[-1]}"
    if job.returncode == 3:
        msg += (" (needs NVVM, the CUDA toolkit's libnvvm, e.g. from pip install nvidia-cuda-nvcc-cu12, or "
                "CUDA_HOME pointing at a toolkit; no GPU needed)")
        pytest.skip(msg)  # an optional toolkit, as a GPU is for test_on_a_real_gpu; the simulator cases still ran
    pytest.fail(f"{msg}\n{job.stderr[-4000:]}", pytrace=False)


def _signatures(name):
    """The signatures.json the simulator job ``name`` wrote beside its --json report."""
    job = _background.result(name, BACKGROUND[name])
    out = Path(job.args[job.args.index("--json") + 1])
    path = out.with_name("signatures.json")
    if not path.exists():
        pytest.fail(f"the simulator job {name} (exit {job.returncode}, timed out: {job.timed_out}) wrote no "
                    f"{path.name}: is the _ptx_check hook in its script's main()?\n{job.stderr[-3000:]}",
                    pytrace=False)
    return path


@pytest.mark.background("cuda_kernels_simulator")  # its twin job is started by test_cuda_training's tests
def test_cuda_kernels_compile_to_ptx():
    """Every kernel launched by tests/_cuda_cases.py and tests/_cuda_training_cases.py compiles to PTX
    (cc 9.0) for each argument-type signature it was launched with, and ptxas accepts the PTX."""
    if importlib.util.find_spec("numba") is None or importlib.util.find_spec("numba.cuda") is None:
        pytest.skip("numba.cuda is not importable")  # test_cuda_kernels.py says what to install
    _require_nvvm()
    paths = [str(_signatures(name)) for name in BACKGROUND]
    out = os.path.join(_background.scratch_dir("numconv-cuda-ptx-"), "ptx.json")
    job = _run([*paths, "--jobs", str(JOBS), "--json", out])
    summary = json.loads(Path(out).read_text()) if os.path.exists(out) else {}
    if job.returncode == 3:  # NVVM went away between the probe and the check
        pytest.skip(job.stderr.strip()[-500:])
    if "results" not in summary:
        pytest.fail(f"{SCRIPT.name} did not run (exit {job.returncode}):\n{job.stderr[-6000:]}", pytrace=False)
    assert summary["signatures"] > 0, "no kernel launches were recorded"
    if summary["never_launched"]:
        warnings.warn("CUDA kernels no simulator case launched, so not compiled here: "
                      + ", ".join(summary["never_launched"]), stacklevel=1)
    if summary["failed"]:
        detail = "\n".join(f"{r['kernel']}{r['signature']}\n    [{r['stage']}] {r['short']}" for r in summary["failed"])
        pytest.fail(f"{len(summary['failed'])} of {summary['signatures']} kernel signatures do not compile for a "
                    f"GPU ({summary['compiler']}). The full errors: run the simulator scripts and "
                    f"`python tests/_ptx_check.py SIGNATURES.json ... -v` by hand (module docstring).\n{detail}",
                    pytrace=False)
    assert job.returncode == 0, job.stderr[-4000:]



def test_integer_elementwise_kernels_never_go_through_float():
    """The integer twins of the elementwise kernels (add, multiply, power, shifts, ~, ...) compile with
    no integer-to-float conversion for any integer or bool dtype: the one kernel for every dtype they
    replaced typed int64 arithmetic as float64 (its true-division branch returns a float), so on a
    GPU int64 sums above 2**53 lost their low bits."""
    if importlib.util.find_spec("numba") is None or importlib.util.find_spec("numba.cuda") is None:
        pytest.skip("numba.cuda is not importable")
    _require_nvvm()
    job = _run(["--integer-exact"], timeout=600)
    assert job.returncode in (0, 1), job.stderr[-4000:]
    counts = json.loads(job.stdout.strip().splitlines()[-1])
    assert len(counts) == 18, counts
    assert not {k: n for k, n in counts.items() if n}, f"int-to-float conversions in integer kernels: {counts}"
