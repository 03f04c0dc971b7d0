"""Run by tests/test_determinism.py in fresh processes: a few optimizer steps (threaded kernels, over
32,768 elements, and serial ones) and a GEMM-path convolution forward and backward; saves the bits."""
import sys

import numpy as np

import numconv as nc
import numconv.functional as F

rng = np.random.default_rng(0)
out = {}
for name, make in [("sgd", lambda ps: nc.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)),
                   ("adam", lambda ps: nc.optim.Adam(ps, lr=1e-3, amsgrad=True)),
                   ("adamw", lambda ps: nc.optim.AdamW(ps, lr=1e-3)),
                   ("rmsprop", lambda ps: nc.optim.RMSprop(ps, lr=1e-2, momentum=0.9, centered=True))]:
    params = [nc.Tensor(rng.standard_normal(n).astype(np.float32), requires_grad=True) for n in (48000, 1000)]
    opt = make(params)
    for _ in range(3):
        for p in params:
            p.grad = nc.Tensor(rng.standard_normal(p.shape).astype(np.float32))
        opt.step()
    for i, p in enumerate(params):
        out[f"{name}{i}"] = p.data
x = rng.standard_normal((8, 16, 12, 12)).astype(np.float32)
w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
y = F.conv2d(x, w, padding=1)
out["conv"] = y
out["conv_gx"], out["conv_gw"], _ = F.conv2d_backward(rng.standard_normal(y.shape).astype(np.float32), x, w, padding=1)
np.savez(sys.argv[1], **out)
