"""Shared helpers of numconv's asv benchmarks: the suite's rows and their arrays.

The suite is ``numconv/bench_suite.json`` in the working tree (asv imports benchmarks from the
working tree, whichever commit it installed), else the copy inside the installed package. The
time_ and peakmem_ benchmarks use only ``numconv.functional``, ``models`` and ``optim``, so
``asv continuous`` can compare against commits older than ``numconv.bench``'s suite runner.
"""
from __future__ import annotations

import json
import math
import os

import numpy as np


def _load():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "numconv", "bench_suite.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    from importlib.resources import files

    return json.loads(files("numconv").joinpath("bench_suite.json").read_text(encoding="utf-8"))


SUITE = _load()
CONV = {r["name"]: r for r in SUITE["conv"]}
POOL = {r["name"]: r for r in SUITE["pool"]}
TRAIN = {r["name"]: r for r in SUITE["train"]}
CONV_ROWS = [n for n, r in CONV.items() if not r.get("transposed")]
TRANSPOSED_ROWS = [n for n, r in CONV.items() if r.get("transposed")]
ALL_CONV_ROWS = list(CONV)
POOL_ROWS = list(POOL)
MAX_POOL_ROWS = [n for n, r in POOL.items() if r["op"] == "max"]
TRAIN_ROWS = list(TRAIN)


def rand(shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def conv_out(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def conv_args(row):
    """(x, w, gy, kwargs) of a conv row (conv2d; conv_transpose2d when ``transposed``)."""
    N, C, H, W, K, k, s, p, d, g = (row[key] for key in ("N", "C", "H", "W", "K", "k", "s", "p", "d", "g"))
    x = rand((N, C, H, W), 0)
    if row.get("transposed"):
        w = rand((C, K // g, k, k), 1, 1.0 / math.sqrt(K // g * k * k))
        out = (N, K, (H - 1) * s - 2 * p + d * (k - 1) + 1, (W - 1) * s - 2 * p + d * (k - 1) + 1)
    else:
        w = rand((K, C // g, k, k), 1, 1.0 / math.sqrt(C // g * k * k))
        out = (N, K, conv_out(H, k, s, p, d), conv_out(W, k, s, p, d))
    return x, w, rand(out, 2), dict(stride=s, padding=p, dilation=d, groups=g)


def adjoint_transpose_args(row):
    """(x, w, gy, kwargs) of the conv_transpose2d that is the adjoint of a conv2d row: input of the
    conv's output shape, output of the conv's input shape (output_padding recovers odd sizes)."""
    N, C, H, W, K, k, s, p, d, g = (row[key] for key in ("N", "C", "H", "W", "K", "k", "s", "p", "d", "g"))
    OH, OW = conv_out(H, k, s, p, d), conv_out(W, k, s, p, d)
    op = tuple(n - ((o - 1) * s - 2 * p + d * (k - 1) + 1) for n, o in ((H, OH), (W, OW)))
    x = rand((N, K, OH, OW), 0)
    w = rand((K, C // g, k, k), 1, 1.0 / math.sqrt(C // g * k * k))
    return x, w, rand((N, C, H, W), 2), dict(stride=s, padding=p, output_padding=op, groups=g, dilation=d)


def pool_args(row):
    """(x, args, pooled output shape) of a pool row; args are (kernel, stride, padding) or (1,) for global."""
    N, C, H, W = (row[key] for key in ("N", "C", "H", "W"))
    x = rand((N, C, H, W), 0)
    if row["op"] == "global_avg":
        return x, (1,), (N, C, 1, 1)
    k, s, p = row["k"], row.get("s", row["k"]), row.get("p", 0)
    return x, (k, s, p), (N, C, (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1)


def conv_flops(row):
    """2*N*K*OH*OW*(C/g)*k*k per forward (transposed: 2*N*C*H*W*(K/g)*k*k)."""
    N, C, H, W, K, k, s, p, d, g = (row[key] for key in ("N", "C", "H", "W", "K", "k", "s", "p", "d", "g"))
    if row.get("transposed"):
        return 2 * N * C * H * W * (K // g) * k * k
    return 2 * N * K * conv_out(H, k, s, p, d) * conv_out(W, k, s, p, d) * (C // g) * k * k
