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
