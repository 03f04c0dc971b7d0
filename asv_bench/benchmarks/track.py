"""Tracked numbers: numconv's GFLOP/s (conv), GB/s (pooling), and the ratio torch_time / numconv_time
(> 1: numconv faster) measured side by side in one process, interleaved, both on 2 threads.

The ratio benchmarks are named track_ratio_vs_torch (unit "ratio": torch_time / numconv_time).
These use ``numconv.bench`` (the ``python -m numconv.bench`` runner); for commits without it, and
for the ratios when torch is not importable, they are skipped.
"""
import numpy as np

from ._suite import ALL_CONV_ROWS, POOL_ROWS, TRAIN_ROWS

PASSES = ["forward", "forward+backward"]
_TIMING = dict(warmup=1, repeats=5)


def _bench():
    try:
        from numconv import bench
    except ImportError as exc:
        raise NotImplementedError(f"numconv.bench is not available: {exc}")
    if not hasattr(bench, "conv_callables"):
        raise NotImplementedError("numconv.bench has no suite runner at this commit")
    return bench


def _torch(bench):
    torch = bench._torch_or_none(bench.TORCH_THREADS)
    if torch is None:
        raise NotImplementedError("torch is not importable")
    return torch


def _medians(fns):
    from numconv import bench

    return {k: float(np.median(v)) for k, v in bench.interleaved_samples(fns, **_TIMING).items()}


class TrackConv:
    params = [ALL_CONV_ROWS, PASSES]
    param_names = ["row", "pass"]
    timeout = 600

    def setup(self, row, pass_):
        self.bench = _bench()
        self.row = {r["name"]: r for r in self.bench.load_suite()["conv"]}[row]
        self.flops = self.bench.conv_flops(self.row) * (1 if pass_ == "forward" else 3)

    def track_gflops(self, row, pass_):
        t = _medians(self.bench.conv_callables(self.row, pass_))["numconv"]
        return self.flops / t / 1e9

    track_gflops.unit = "GFLOP/s"

    def track_ratio_vs_torch(self, row, pass_):
        m = _medians(self.bench.conv_callables(self.row, pass_, _torch(self.bench)))
        return m["torch"] / m["numconv"]

    track_ratio_vs_torch.unit = "ratio"


class TrackPool:
    params = [POOL_ROWS, PASSES]
    param_names = ["row", "pass"]

    def setup(self, row, pass_):
        self.bench = _bench()
        self.row = {r["name"]: r for r in self.bench.load_suite()["pool"]}[row]
        self.bytes = self.bench.pool_bytes(self.row) * (1 if pass_ == "forward" else 2)

    def track_gbs(self, row, pass_):
        t = _medians(self.bench.pool_callables(self.row, pass_))["numconv"]
        return self.bytes / t / 1e9

    track_gbs.unit = "GB/s"

    def track_ratio_vs_torch(self, row, pass_):
        m = _medians(self.bench.pool_callables(self.row, pass_, _torch(self.bench)))
        return m["torch"] / m["numconv"]

    track_ratio_vs_torch.unit = "ratio"


class TrackTrain:
    params = [TRAIN_ROWS]
    param_names = ["row"]
    timeout = 600

    def setup(self, row):
        self.bench = _bench()
        self.row = {r["name"]: r for r in self.bench.load_suite()["train"]}[row]

    def track_ratio_vs_torch(self, row):
        m = _medians(self.bench.train_callables(self.row, _torch(self.bench)))
        return m["torch"] / m["numconv"]

    track_ratio_vs_torch.unit = "ratio"
