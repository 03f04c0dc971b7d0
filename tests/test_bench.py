"""``python -m numconv.bench``: the suite, FLOP and byte counts, ratios, the JSON it writes.

Fast, and no timing assertions: the timings themselves are informational.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import torch_or_fail

from numconv import bench, dispatch


def _row(kind, name):
    return {r["name"]: r for r in bench.load_suite()[kind]}[name]


# ----------------------------------------------------------------------------- the suite


def test_suite_ships_in_the_package_and_loads():
    from importlib.resources import files

    assert files("numconv").joinpath(bench.SUITE_FILE).is_file()
    suite = bench.load_suite()
    names = bench.row_names(suite)
    assert len(names) == len(set(names))
    assert {"lenet_c1", "resnet_3x3_64", "upsample_t4x4", "max_2x2", "global_avg", "lenet5_mnist", "resnet18_cifar"} <= set(names)
    for r in suite["conv"]:
        assert {"N", "C", "H", "W", "K", "k", "s", "p", "d", "g"} <= set(r)
    for r in suite["pool"]:
        assert r["op"] in ("max", "avg", "global_avg")
    for r in suite["train"]:
        assert r["model"] in ("lenet5", "resnet18_cifar") and len(r["input"]) == 3


def test_conv_flops_by_hand():
    # lenet_c1: 64 images, 6 maps of 28x28 (5x5, pad 2), 1 input channel: 2*64*6*28*28*1*25
    assert bench.conv_output_shape(_row("conv", "lenet_c1")) == (64, 6, 28, 28)
    assert bench.conv_flops(_row("conv", "lenet_c1")) == 15_052_800
    # lenet_c2: no padding, 14 -> 10: 2*64*16*10*10*6*25
    assert bench.conv_flops(_row("conv", "lenet_c2")) == 30_720_000
    # stride 2: 56 -> 28; 2*32*128*28*28*64*9
    assert bench.conv_output_shape(_row("conv", "resnet_down_s2")) == (32, 128, 28, 28)
    assert bench.conv_flops(_row("conv", "resnet_down_s2")) == 3_699_376_128
    # depthwise: C/g = 1
    assert bench.conv_flops(_row("conv", "depthwise_3x3")) == 2 * 32 * 128 * 56 * 56 * 1 * 9
    # transposed, k4 s2 p1: 28 -> 56, counted on its input: 2*N*C*H*W*(K/g)*k*k
    assert bench.conv_output_shape(_row("conv", "upsample_t4x4")) == (32, 64, 56, 56)
    assert bench.conv_flops(_row("conv", "upsample_t4x4")) == 2 * 32 * 128 * 28 * 28 * 64 * 16


def test_pool_bytes_by_hand():
    assert bench.pool_output_shape(_row("pool", "max_2x2")) == (32, 64, 56, 56)
    assert bench.pool_bytes(_row("pool", "max_2x2")) == (32 * 64 * 112 * 112 + 32 * 64 * 56 * 56) * 4
    assert bench.pool_output_shape(_row("pool", "max_3x3_s2")) == (32, 64, 56, 56)
    assert bench.pool_output_shape(_row("pool", "global_avg")) == (32, 512, 1, 1)


def test_conv_algorithms_cover_every_pass_of_every_row():
    for r in bench.load_suite()["conv"]:
        algos = bench.conv_algorithms(r)
        assert set(algos) == {"forward", "input_grad", "weight_grad"}
        assert set(algos.values()) <= set(dispatch.ALGORITHMS)


# ----------------------------------------------------------------------------- ratios and bars


def test_ratio_is_torch_over_numconv():
    assert bench._ratio(3.0, 1.0) == 3.0  # numconv 3x faster -> 3
    assert bench._ratio(1.0, 4.0) == 0.25
    assert bench._ratio(None, 1.0) is None


def test_run_suite_computes_ratio_rates_and_bars_from_timings(monkeypatch):
    """With the timings and the machine limits fixed, every derived number follows by arithmetic."""
    times = {"numconv": 0.002, "torch": 0.006}
    monkeypatch.setattr(bench, "interleaved_samples", lambda fns, **kw: {k: [times[k]] * 3 for k in fns})
    monkeypatch.setattr(bench, "sgemm_peak", lambda **kw: {"numpy_gflops": 100.0, "gflops": 100.0})
    monkeypatch.setattr(bench, "copy_bandwidth", lambda **kw: {"numpy_gbs": 10.0, "gbs": 10.0})
    report = bench.run_suite(["lenet_c1", "global_avg"], quick=True, log=lambda *a: None)
    rows = {(r["name"], r["pass"]): r for r in report["rows"]}
    assert set(rows) == {("lenet_c1", "forward"), ("lenet_c1", "forward+backward"),
                         ("global_avg", "forward"), ("global_avg", "forward+backward")}
    fwd, fb = rows["lenet_c1", "forward"], rows["lenet_c1", "forward+backward"]
    assert fwd["numconv_ms"] == pytest.approx(2.0)
    assert fwd["gflops"] == pytest.approx(15_052_800 / 0.002 / 1e9)
    assert fb["gflops"] == pytest.approx(3 * 15_052_800 / 0.002 / 1e9)
    assert fwd["pct_peak"] == pytest.approx(fwd["gflops"])  # peak 100 GFLOP/s
    pool = rows["global_avg", "forward+backward"]
    assert pool["gbs"] == pytest.approx(2 * bench.pool_bytes(_row("pool", "global_avg")) / 0.002 / 1e9)
    assert pool["pct_copy"] == pytest.approx(10.0 * pool["gbs"])
    if report["threads"]["torch"] is None:
        assert fwd["ratio"] is None
        return
    assert fwd["ratio"] == pytest.approx(3.0) and fwd["torch_ms"] == pytest.approx(6.0)
    bars = {b["bar"]: b for b in report["bars"]}
    assert bars["conv2d forward: median ratio"]["met"] and bars["conv2d forward: median ratio"]["value"] == pytest.approx(3)
    assert not bars["global_avg forward: ratio"]["met"]  # 3 < 5


def test_bars_median_and_lowest():
    rows = [{"name": f"r{i}", "kind": "conv", "op": "conv2d", "pass": "forward", "ratio": v}
            for i, v in enumerate([0.5, 1.0, 2.0])]
    rows.append({"name": "upsample_t4x4", "kind": "conv", "op": "conv_transpose2d", "pass": "forward", "ratio": 1.6})
    rows.append({"name": "lenet5_mnist", "kind": "train", "op": "train:lenet5", "pass": "step", "ratio": 0.9})
    bars = {b["bar"]: b for b in bench.evaluate_bars({"rows": rows, "compile_s": {"cold": 12.0, "warm": 3.0}})}
    assert bars["conv2d forward: median ratio"]["value"] == 1.0 and not bars["conv2d forward: median ratio"]["met"]
    assert bars["conv2d forward: lowest ratio"]["value"] == 0.5 and not bars["conv2d forward: lowest ratio"]["met"]
    assert bars["upsample_t4x4 forward: ratio"]["met"]
    assert not bars["lenet5_mnist training step: ratio"]["met"]
    assert bars["compile, cold cache"]["met"] and not bars["compile, warm cache"]["met"]


# ----------------------------------------------------------------------------- the command


def test_cli_one_row_quick_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--rows", "lenet_c1", "--quick", "--repeats", "1", "--warmup", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "lenet_c1" in printed and "load average" in printed
    report = json.loads(out.read_text())
    assert {"machine", "date", "command", "threads", "sgemm", "copy", "loadavg", "rows", "bars", "algorithms",
            "wall_s"} <= set(report)
    assert report["command"].startswith("python -m numconv.bench --rows lenet_c1")
    assert report["sgemm"]["gflops"] > 0 and report["copy"]["gbs"] > 0
    assert {"start", "end", "max_1min"} <= set(report["loadavg"])
    assert [(r["name"], r["pass"]) for r in report["rows"]] == [("lenet_c1", "forward"), ("lenet_c1", "forward+backward")]
    for r in report["rows"]:
        assert {"op", "pass", "numconv_ms", "torch_ms", "ratio", "flops", "gflops", "pct_peak", "algorithm",
                "repeats"} <= set(r)
        assert r["op"] == "conv2d" and r["numconv_ms"] > 0 and r["repeats"] == 1
        if report["threads"]["torch"] is not None:
            assert r["ratio"] == pytest.approx(r["torch_ms"] / r["numconv_ms"])
    assert report["rows"][1]["flops"] == 3 * report["rows"][0]["flops"] == 3 * 15_052_800


def test_cli_rejects_unknown_rows_and_lists_names(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--rows", "no_such_row"])
    assert "no_such_row" in capsys.readouterr().err
    assert bench.main(["--list"]) == 0
    assert "resnet_3x3_64" in capsys.readouterr().out


# ----------------------------------------------------------------------------- same work in both frameworks


def test_conv_and_pool_callables_compute_the_same_as_torch():
    torch = torch_or_fail()
    torch.set_num_threads(2)
    small = dict(_row("conv", "upsample_t4x4"), N=2)
    for row, make in ((dict(_row("conv", "lenet_c1"), N=2), bench.conv_callables), (small, bench.conv_callables),
                      (dict(_row("pool", "max_3x3_s2"), N=1, C=4), bench.pool_callables)):
        for pass_ in ("forward", "forward+backward"):
            fns = make(row, pass_, torch)
            a, b = fns["numconv"](), fns["torch"]()
            a = a if isinstance(a, tuple) else (a,)
            b = b if isinstance(b, tuple) else (b,)
            for u, v in zip([t for t in a if t is not None], b):
                np.testing.assert_allclose(u, v.detach().numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["lenet5_mnist", "resnet18_cifar"])
def test_train_twins_start_from_the_same_weights(name):
    """The torch twin gets numconv's weights, so the first step's losses agree."""
    torch = torch_or_fail()
    fns = bench.train_callables(dict(_row("train", name), N=2), torch)
    a, b = float(fns["numconv"]().item()), float(fns["torch"]().item())
    assert a == pytest.approx(b, rel=1e-4)


def test_peak_memory_is_the_call_not_the_parent_process():
    """A child spawned from a big process inherits its ru_maxrss; the measurement must not."""
    ballast = np.ones(256 << 18, np.float32)  # 256 MiB held by this (the parent) process
    row = dict(_row("conv", "lenet_c1"), N=2)
    pm = bench.peak_memory(row, use_torch=False)
    assert "numconv_error" not in pm, pm
    assert 0 <= pm["numconv_extra_mb"] < 64
    del ballast


# ----------------------------------------------------------------------------- --device cuda

# The GPU mode under the CUDA simulator, in a subprocess for the reason tests/test_cuda_kernels.py
# gives (NUMBA_ENABLE_CUDASIM=1 must be set before numba.cuda is first imported, and only there).
# The rows are tiny: the simulator runs one Python thread per GPU thread.
TINY_SUITE = {
    "conv": [
        {"name": "tiny_3x3", "N": 1, "C": 2, "H": 6, "W": 6, "K": 3, "k": 3, "s": 1, "p": 1, "d": 1, "g": 1},
        {"name": "tiny_t4x4", "N": 1, "C": 2, "H": 3, "W": 3, "K": 2, "k": 4, "s": 2, "p": 1, "d": 1, "g": 1,
         "transposed": True},
    ],
    "pool": [
        {"name": "tiny_max", "op": "max", "N": 1, "C": 2, "H": 8, "W": 8, "k": 3, "s": 2, "p": 1},
        {"name": "tiny_avg", "op": "avg", "N": 1, "C": 2, "H": 6, "W": 6, "k": 2, "s": 2, "p": 0},
        {"name": "tiny_gavg", "op": "global_avg", "N": 1, "C": 4, "H": 3, "W": 3},
    ],
    "train": [{"name": "tiny_train", "model": "lenet5", "N": 1, "input": [1, 28, 28]}],
}
CLI_ROWS = "tiny_3x3,tiny_max,tiny_train"

_CUDA_SNIPPET = r"""
import json, sys
import numpy as np
tiny, out = json.loads(sys.argv[1]), sys.argv[2]
from numba import cuda
import _simulator  # tests/_simulator.py: the simulator's block loop without its busy wait
_simulator.faster_block_loop()
from numconv import bench
bench.BURST_MIN = 2  # a simulated call takes 0.1-1 s: the shortest burst that is still one (BURST_MIN is 4)
try:
    import torch
    torch.cuda.is_available = lambda: False  # as the pinned CPU build: numconv only in the CLI run
except ImportError:
    torch = None
bench.load_suite = lambda: tiny
res = {"torch": torch is not None, "burst_min": bench.BURST_MIN}

# 1. the command, as on a GPU machine whose torch has no CUDA
res["cli_rc"] = bench.main(["--device", "cuda", "--rows", sys.argv[3], "--quick", "--repeats", "1", "--warmup", "1",
                            "--json", out + ".cli.json"])

# 2. the torch columns and the goal, torch on the CPU (the structure, not a measurement)
if torch is not None:
    torch.set_num_threads(1)
    rep = bench.run_suite_cuda(["tiny_3x3", "tiny_gavg"], quick=True, repeats=1, warmup=1, torch_device="cpu",
                               log=lambda *a: None, burst=True)
    res["with_torch"] = json.loads(json.dumps(rep))
    res["with_torch_table"] = bench.format_cuda_table(rep)

# 3. the device callables compute the op: their results, next to the CPU callables' results
def host(a):
    return None if a is None else (a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a))

res["same"] = []
for kind, make in (("conv", bench.conv_callables), ("pool", bench.pool_callables)):
    for row in tiny[kind]:
        for pass_ in ("forward", "forward+backward"):
            got = make(row, pass_, device="cuda")["numconv"]()
            cuda.synchronize()
            want = make(row, pass_)["numconv"]()
            got, want = (got if isinstance(got, tuple) else (got,)), (want if isinstance(want, tuple) else (want,))
            res["same"].append({
                "row": row["name"], "pass": pass_,
                "device_types": [type(g).__name__ for g in got if g is not None],
                "got": [None if g is None else host(g).tolist() for g in got],
                "want": [None if w is None else np.asarray(w).tolist() for w in want],
            })
with open(out, "w") as f:
    json.dump(res, f)
"""


@pytest.fixture(scope="module")
def cuda_sim(tmp_path_factory):
    """The simulator run of the snippet above: {'result': its JSON, 'cli': the command's JSON, 'stdout', ...}."""
    import importlib.util
    import os
    import subprocess
    import sys
    from pathlib import Path

    if importlib.util.find_spec("numba.cuda") is None:
        msg = "numba.cuda is not importable: install numba-cuda (pip install -e .[cuda])"
        if os.environ.get("CI") == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    out = tmp_path_factory.mktemp("bench_cuda") / "result.json"
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=os.pathsep.join(
        [str(root), str(root / "tests")] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
    proc = subprocess.run([sys.executable, "-c", _CUDA_SNIPPET, json.dumps(TINY_SUITE), str(out), CLI_ROWS],
                          env=env, cwd=root, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or not out.exists():
        pytest.fail(f"the simulator run failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}",
                    pytrace=False)
    cli = Path(str(out) + ".cli.json")
    return {"result": json.loads(out.read_text()), "cli": json.loads(cli.read_text()) if cli.exists() else None,
            "stdout": proc.stdout, "stderr": proc.stderr}


def test_cuda_cli_without_torch_cuda_runs_numconv_only(cuda_sim):
    res, report, printed = cuda_sim["result"], cuda_sim["cli"], cuda_sim["stdout"]
    assert res["cli_rc"] == 0 and report is not None
    assert report["device"] == "cuda" and report["gpu"]["simulator"] and "simulator" in report["gpu"]["name"]
    assert "device: CUDA simulator" in printed
    assert report["command"].startswith("python -m numconv.bench --device cuda")
    assert [(r["name"], r["pass"]) for r in report["rows"]] == [
        ("tiny_3x3", "forward"), ("tiny_3x3", "forward+backward"), ("tiny_max", "forward"), ("tiny_max", "forward+backward")]
    assert report["skipped_rows"] == ["tiny_train"] and "skipped on --device cuda" in printed
    if res["torch"]:
        assert "has no CUDA" in report["torch"]["reason"]
        assert sum("numconv only, torch columns shown as \"-\"" in line for line in printed.splitlines()) == 1
    for r in report["rows"]:
        assert r["numconv_ms"] > 0 and r["repeats"] == 1
        assert r["ratio"] is None and "torch_ms" not in r and "ratio_tf32" not in r
        assert "numconv_burst_ms" not in r  # --quick measures no bursts
    conv_fwd, conv_fb, pool_fwd, pool_fb = report["rows"]
    assert conv_fwd["flops"] == bench.conv_flops(TINY_SUITE["conv"][0]) and conv_fb["flops"] == 3 * conv_fwd["flops"]
    assert conv_fwd["gflops"] == pytest.approx(conv_fwd["flops"] / conv_fwd["numconv_ms"] / 1e6)
    assert pool_fb["bytes"] == 2 * pool_fwd["bytes"] == 2 * bench.pool_bytes(TINY_SUITE["pool"][0])
    assert pool_fwd["gbs"] == pytest.approx(pool_fwd["bytes"] / pool_fwd["numconv_ms"] / 1e6)
    assert report["goals"] == [] and report["goal_met"] is None and "not evaluated" in printed
    # the table: every column named, torch's four cells "-" on every row
    head = next(line for line in printed.splitlines() if line.split()[:3] == ["op", "pass", "row"])
    for col in ("op", "pass", "row", "torch ms (TF32 off)", "ratio", "torch ms (TF32 on)", "numconv rate"):
        assert col in head
    lines = [line.split() for line in printed.splitlines() if line.strip().startswith(("conv2d ", "max_pool2d "))]
    assert lines and all(cells[4:8] == ["-", "-", "-", "-"] for cells in lines)


def test_cuda_torch_columns_and_goal(cuda_sim):
    """Torch run twice per call (TF32 off, then on); ratios are torch/numconv; the goal is evaluated on
    the 3x3 conv2d forward and both pooling passes."""
    res = cuda_sim["result"]
    if not res["torch"]:
        torch_or_fail()
    rep = res["with_torch"]
    assert rep["torch"]["device"] == "cpu" and "reason" not in rep["torch"]
    assert [(r["name"], r["pass"]) for r in rep["rows"]] == [
        ("tiny_3x3", "forward"), ("tiny_3x3", "forward+backward"), ("tiny_gavg", "forward"), ("tiny_gavg", "forward+backward")]
    for r in rep["rows"]:
        assert r["torch_ms"] > 0 and r["torch_tf32_ms"] > 0
        assert r["ratio"] == pytest.approx(r["torch_ms"] / r["numconv_ms"])
        assert r["ratio_tf32"] == pytest.approx(r["torch_tf32_ms"] / r["numconv_ms"])
        # bursts (asked for with quick): at least BURST_MIN calls (2 in the subprocess), each framework timed,
        # ratios of their per-call times
        assert 2 <= res["burst_min"] <= r["burst_calls"] <= bench.BURST_MAX
        assert r["numconv_burst_ms"] > 0 and r["torch_burst_ms"] > 0 and r["torch_tf32_burst_ms"] > 0
        assert r["ratio_burst"] == pytest.approx(r["torch_burst_ms"] / r["numconv_burst_ms"])
        assert r["ratio_tf32_burst"] == pytest.approx(r["torch_tf32_burst_ms"] / r["numconv_burst_ms"])
    goals = {g["bar"]: g for g in rep["goals"]}
    assert set(goals) == {"tiny_3x3 forward vs cuDNN FP32", "conv2d 3x3 forward: lowest ratio",
                          "tiny_gavg forward vs cuDNN FP32", "tiny_gavg forward+backward vs cuDNN FP32"}
    assert goals["tiny_3x3 forward vs cuDNN FP32"]["value"] == pytest.approx(rep["rows"][0]["ratio"])
    assert goals["tiny_3x3 forward vs cuDNN FP32"]["target"] == ">= 0.3"
    assert goals["tiny_gavg forward vs cuDNN FP32"]["target"] == ">= 1.0"
    assert rep["goal_met"] == all(g["met"] for g in rep["goals"])
    assert "-" not in res["with_torch_table"].splitlines()[1].split()[3:8]


def test_cuda_callables_compute_the_op(cuda_sim):
    """numconv's callables on device arrays return device arrays equal to the CPU callables' results."""
    cases = cuda_sim["result"]["same"]
    expected = {(r["name"], p) for kind in ("conv", "pool") for r in TINY_SUITE[kind] for p in ("forward", "forward+backward")}
    assert {(c["row"], c["pass"]) for c in cases} == expected
    for c in cases:
        what = f"{c['row']} {c['pass']}"
        assert c["device_types"] and all("Array" in t for t in c["device_types"]), (what, c["device_types"])
        assert len(c["got"]) == len(c["want"]), what
        for g, w in zip(c["got"], c["want"]):
            assert (g is None) == (w is None), what
            if w is not None:
                np.testing.assert_allclose(np.array(g), np.array(w), rtol=1e-4, atol=1e-5, err_msg=what)
    fb = next(c for c in cases if c["row"] == "tiny_3x3" and c["pass"] == "forward+backward")
    assert np.shape(fb["want"][0]) == (1, 2, 6, 6) and np.shape(fb["want"][1]) == (3, 2, 3, 3)  # input and weight grads


def test_cuda_without_a_gpu_exits_2_with_one_line(monkeypatch, capsys):
    import numconv.cuda

    monkeypatch.setattr(numconv.cuda, "is_available", lambda: False)
    assert bench.main(["--device", "cuda", "--rows", "max_2x2", "--quick"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and "no CUDA GPU" in captured.err and "Traceback" not in captured.err


def test_timed_call_is_bracketed_by_the_sync():
    calls = []
    bench._timed(lambda: calls.append("call"), sync=lambda: calls.append("sync"))
    assert calls == ["sync", "call", "sync"]
    calls.clear()
    bench.interleaved_samples({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=1, warmup=1,
                              syncs={"a": lambda: calls.append("sync a")}, prepare={"b": lambda: calls.append("prep b")})
    assert calls == ["sync a", "a", "sync a", "prep b", "b"] * 2


def test_cuda_goals_and_table_from_fixed_numbers():
    rows = [
        {"name": "c3", "kind": "conv", "op": "conv2d", "k": 3, "pass": "forward", "numconv_ms": 2.0, "torch_ms": 1.0,
         "torch_tf32_ms": 0.5, "ratio": 0.5, "ratio_tf32": 0.25, "gflops": 10.0, "numconv_burst_ms": 1.25,
         "ratio_burst": 0.8},
        {"name": "c3", "kind": "conv", "op": "conv2d", "k": 3, "pass": "forward+backward", "ratio": 0.1},
        {"name": "d3", "kind": "conv", "op": "conv2d", "k": 3, "pass": "forward", "ratio": 0.2},
        {"name": "c1", "kind": "conv", "op": "conv2d", "k": 1, "pass": "forward", "ratio": 0.01},
        {"name": "t4", "kind": "conv", "op": "conv_transpose2d", "k": 4, "pass": "forward", "ratio": 0.01},
        {"name": "p", "kind": "pool", "op": "max_pool2d", "pass": "forward", "ratio": 1.5, "gbs": 100.0},
        {"name": "p", "kind": "pool", "op": "max_pool2d", "pass": "forward+backward", "ratio": 0.9},
        {"name": "q", "kind": "pool", "op": "avg_pool2d", "pass": "forward", "ratio": None},
    ]
    goals = {g["bar"]: g["met"] for g in bench.evaluate_cuda_goals({"rows": rows})}
    assert goals == {"c3 forward vs cuDNN FP32": True, "d3 forward vs cuDNN FP32": False,
                     "conv2d 3x3 forward: lowest ratio": False, "p forward vs cuDNN FP32": True,
                     "p forward+backward vs cuDNN FP32": False}
    cells = bench._cuda_cells(rows[0])
    assert cells == ["conv2d", "forward", "c3", "2.000", "1.000", "0.50", "0.500", "0.25", "10.0 GFLOP/s", "1.250",
                     "0.80"]
    assert bench._cuda_cells(rows[7])[3:] == ["-"] * 8
    assert bench.format_cuda_row(rows[0]).split()[-2:] == ["1.250", "0.80"]
    md = bench.format_cuda_table({"rows": rows[:1]}, markdown=True).splitlines()
    assert md[0].count("|") == len(bench._CUDA_COLUMNS) + 1 and "torch ms (TF32 on)" in md[0]


def test_burst_times_calls_in_a_row_between_two_synchronizes(monkeypatch):
    """A burst runs ``calls`` calls with a synchronize before the first and after the last only; its
    time per call is the burst's median over the calls; the burst's size follows the latency."""
    events, clock = [], [0.0]
    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock[0])

    def fn(name, cost):
        def run():
            events.append(name)
            clock[0] += cost
        return run

    fns = {"numconv": fn("n", 0.002), "torch": fn("t", 0.001)}
    res = bench._measure_burst(fns, 0.0025, {"warmup": 1, "repeats": 2},
                               syncs={k: (lambda k=k: events.append(f"sync {k}")) for k in fns})
    calls = 4  # ceil(10 ms / 2.5 ms)
    assert res["burst_calls"] == calls
    one_round = ["sync numconv"] + ["n"] * calls + ["sync numconv", "sync torch"] + ["t"] * calls + ["sync torch"]
    assert events == one_round * 3  # a warm-up round, then two timed ones
    assert res["numconv_burst_ms"] == pytest.approx(2.0) and res["torch_burst_ms"] == pytest.approx(1.0)
    assert res["ratio_burst"] == pytest.approx(0.5) and "ratio_tf32_burst" not in res
    assert bench._measure_burst(fns, 1.0, {"warmup": 1, "repeats": 1})["burst_calls"] == bench.BURST_MIN
    assert bench._measure_burst(fns, 1e-6, {"warmup": 1, "repeats": 1})["burst_calls"] == bench.BURST_MAX
