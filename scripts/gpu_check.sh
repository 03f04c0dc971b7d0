#!/usr/bin/env bash
# What a session that is lent an NVIDIA GPU runs, from the repository root, to record numconv's first
# real-GPU results (docs/gpu.md):
#
#     bash scripts/gpu_check.sh OUTDIR                 # every step, in order
#     bash scripts/gpu_check.sh OUTDIR bench           # only the named steps (to fit a per-command time limit)
#
# Steps: env (date, nvidia-smi, versions), gpu_tests (the tests of the two CUDA test files that need
# the GPU: every kernel case on it against the CPU kernels), tests (all of both files: gpu_tests and
# beside them the simulator runs CI also does; 300-500 s on an H100 machine; not in the default
# list), train_lenet5
# (`numconv train --device cuda --epochs 2`: LeNet-5 on the MNIST digits), train_resnet18 (ResNet-18 on
# synthetic CIFAR, 2 epochs), bench (`python -m numconv.bench --device cuda --json OUTDIR/bench_cuda.json`),
# and, not in the default list, step_profile (scripts/gpu_step_profile.py: a ResNet-18 step's phases and
# cProfile).
#
# It installs nothing: numconv runs from this checkout (put first on PYTHONPATH); numba, numba-cuda,
# pytest and a CUDA build of torch must already be importable (pip install -e ".[test,cuda]" plus a
# torch for the machine's CUDA; the lent machines' image has them). Each step's output goes to
# OUTDIR/NN_STEP.log with the command, the date and its exit code; OUTDIR/summary.tsv has one line per
# step (step, exit code, seconds, log). A failing step does not stop the others; the script exits 1 if
# any step failed, else 0. GPU_CHECK_TIMEOUT=SECONDS bounds each step (default: no bound).
#
# `numconv train` runs as `python -m numconv.cli train` (the same main()), so the checkout's code runs
# whether or not the `numconv` console script is installed or points at this checkout.
set -u

if [ $# -lt 1 ]; then
    echo "usage: bash scripts/gpu_check.sh OUTDIR [env|tests|gpu_tests|train_lenet5|train_resnet18|bench|step_profile ...]" >&2
    exit 2
fi
OUTDIR=$1
shift
STEPS=("$@")
[ ${#STEPS[@]} -eq 0 ] && STEPS=(env gpu_tests train_lenet5 train_resnet18 bench)
if [ ! -f numconv/bench.py ]; then
    echo "gpu_check.sh: run it from the repository root (no numconv/bench.py here: $(pwd))" >&2
    exit 2
fi
mkdir -p "$OUTDIR" || exit 2
OUTDIR=$(cd "$OUTDIR" && pwd)
PY=${PYTHON:-$(command -v python || command -v python3)}
TIMEOUT=${GPU_CHECK_TIMEOUT:-0}
SUMMARY="$OUTDIR/summary.tsv"
[ -f "$SUMMARY" ] || printf 'step\texit\tseconds\tlog\n' > "$SUMMARY"
# never the simulator here: these are the real-GPU runs
unset NUMBA_ENABLE_CUDASIM
export PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
FAILED=0
N=$(($(wc -l < "$SUMMARY") - 1))

# Known on the lent machines' image (seen 2026-11-22: numpy 2.5.2, numba-cuda 0.30.4): numba-cuda
# registers an overload of numpy.row_stack, which numpy 2.5 removed, so its first kernel compile
# fails with "AttributeError: module 'numpy' has no attribute 'row_stack'". Where numpy has no
# row_stack, a sitecustomize.py put first on PYTHONPATH restores it as numpy.vstack (which it was an
# alias of) in every Python process the steps start; GPU_CHECK_NO_SHIM=1 turns that off. It shadows
# any other sitecustomize module for these runs.
SHIM=""
if [ "${GPU_CHECK_NO_SHIM:-0}" != 1 ] && "$PY" -c "import numpy" > /dev/null 2>&1 \
        && ! "$PY" -c "import numpy; numpy.row_stack" > /dev/null 2>&1; then
    SHIM=$(mktemp -d)
    cat > "$SHIM/sitecustomize.py" <<'SHIM_EOF'
import numpy as np

if not hasattr(np, "row_stack"):
    np.row_stack = np.vstack  # for numba-cuda releases that still overload it (removed in numpy 2.5)
SHIM_EOF
    export PYTHONPATH="$SHIM:$PYTHONPATH"
    echo "gpu_check: numpy $("$PY" -c 'import numpy; print(numpy.__version__)') has no row_stack:" \
        "numpy.row_stack = numpy.vstack via $SHIM/sitecustomize.py (GPU_CHECK_NO_SHIM=1: without)" \
        | tee -a "$OUTDIR/shim.txt"
fi

# run STEP COMMAND...: log the command, the date, its output and exit code to OUTDIR/NN_STEP.log
run() {
    local step=$1
    shift
    N=$((N + 1))
    local log
    log=$(printf '%s/%02d_%s.log' "$OUTDIR" "$N" "$step")
    local t0 rc
    t0=$(date +%s)
    {
        echo "# step: $step"
        echo "# date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
        echo "# cwd: $(pwd)"
        echo "# command: $*"
        echo
    } > "$log"
    if [ "$TIMEOUT" -gt 0 ] 2>/dev/null && ! declare -F "$1" > /dev/null; then
        timeout -k 15 "$TIMEOUT" "$@" >> "$log" 2>&1
    else
        "$@" >> "$log" 2>&1
    fi
    rc=$?
    local secs=$(($(date +%s) - t0))
    {
        echo
        echo "# exit code: $rc$([ "$rc" -eq 124 ] && echo ' (timed out after '"$TIMEOUT"' s)')"
        echo "# seconds: $secs"
        echo "# ended: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    } >> "$log"
    printf '%s\t%s\t%s\t%s\n' "$step" "$rc" "$secs" "$(basename "$log")" >> "$SUMMARY"
    echo "gpu_check: $step: exit $rc after ${secs} s ($log)"
    [ "$rc" -eq 0 ] || FAILED=1
    return 0
}

versions() {
    "$PY" - <<'EOF'
import importlib.metadata as md, platform, sys
print("python", sys.version.split()[0], platform.platform())
for dist in ("numconv", "numba", "numba-cuda", "llvmlite", "numpy", "torch"):
    try:
        print(dist, md.version(dist))
    except md.PackageNotFoundError:
        print(dist, "not installed")
try:
    import numconv
    print("numconv imported from", numconv.__file__)
    print("numconv.cuda.is_available()", numconv.cuda.is_available())
    from numba import cuda
    cuda.detect()
except Exception as exc:
    print("numconv / numba.cuda:", type(exc).__name__, exc)
try:
    import torch
    print("torch.cuda.is_available()", torch.cuda.is_available(), "torch.version.cuda", torch.version.cuda,
          "cudnn", torch.backends.cudnn.version() if torch.cuda.is_available() else None)
    if torch.cuda.is_available():
        print("torch device", torch.cuda.get_device_name())
except Exception as exc:
    print("torch:", type(exc).__name__, exc)
EOF
}

env_step() {
    date -u '+%Y-%m-%d %H:%M:%S UTC'
    echo "git: $(git rev-parse --short HEAD 2>/dev/null)$([ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && echo '+dirty')"
    [ -n "$SHIM" ] && echo "numpy.row_stack shim: $SHIM/sitecustomize.py (see the comment in gpu_check.sh)"
    echo
    nvidia-smi
    local smi=$?
    echo
    versions
    return $smi
}

for step in "${STEPS[@]}"; do
    case $step in
        env)
            run env env_step ;;
        tests)
            run tests "$PY" -m pytest -q tests/test_cuda_kernels.py tests/test_cuda_training.py ;;
        gpu_tests)
            # the tests that need the GPU, without the simulator half (CI's): a third of the time
            run gpu_tests env NUMCONV_TEST_BACKGROUND=0 "$PY" -m pytest -q tests/test_cuda_kernels.py \
                tests/test_cuda_training.py -k "not simulator and not exit_status" ;;
        # two epochs each: the first includes compiling every kernel on a fresh machine, the second
        # is the steady state (ResNet-18's first epoch took 86 s for a slow kernel, not compiling)
        train_lenet5)
            run train_lenet5 "$PY" -m numconv.cli train --device cuda --epochs 2 --no-progress \
                --out "$OUTDIR/runs/lenet5-mnist" ;;
        train_resnet18)
            run train_resnet18 "$PY" -m numconv.cli train --device cuda --epochs 2 --model resnet18_cifar \
                --data synthetic-cifar --no-progress --out "$OUTDIR/runs/resnet18_cifar-synthetic-cifar" ;;
        step_profile)
            run step_profile "$PY" scripts/gpu_step_profile.py ;;
        bench)
            run bench "$PY" -m numconv.bench --device cuda --json "$OUTDIR/bench_cuda.json" ;;
        *)
            echo "gpu_check: unknown step '$step' (env, tests, gpu_tests, train_lenet5, train_resnet18, bench, step_profile)" >&2
            FAILED=1 ;;
    esac
done
nvidia-smi > "$OUTDIR/nvidia-smi-end.txt" 2>&1
date -u '+%Y-%m-%d %H:%M:%S UTC' >> "$OUTDIR/nvidia-smi-end.txt"
echo
cat "$SUMMARY"
exit $FAILED
