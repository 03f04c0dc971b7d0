"""Normalization on a ResNet stage's output (32, 64, 28, 28) float32: batch norm (training), group
norm (32 groups), layer norm over (C, H, W), and layer norm over the channels of an NHWC array as
ConvNeXt uses it; forward, and forward + backward through autograd. All run batch_norm's fused
kernels (``kernels/cpu/norm.py``), the last three over the input seen as (1, runs, elements per run)
plus an elementwise affine map."""
import numpy as np

import numconv as nc
import numconv.functional as F

from ._suite import rand

C = 64
NORMS = {
    "batch_norm": lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
    "group_norm_32": lambda x, w, b: F.group_norm(x, 32, w, b),
    "layer_norm_chw": lambda x, w, b: F.layer_norm(x, x.shape[1:]),
    "layer_norm_nhwc_channels": lambda x, w, b: F.layer_norm(x, (C,), w, b),
}


class Norm:
    params = [list(NORMS)]
    param_names = ["norm"]

    def setup(self, name):
        self.fn = NORMS[name]
        shape = (32, 28, 28, C) if name.endswith("nhwc_channels") else (32, C, 28, 28)
        self.x = rand(shape, scale=2.0)
        self.w, self.b = rand((C,), 1), rand((C,), 2)
        self.gy = nc.Tensor(rand(shape, 3))

    def time_forward(self, name):
        self.fn(self.x, self.w, self.b)

    def time_forward_backward(self, name):
        x = nc.Tensor(self.x, requires_grad=True)
        w, b = nc.Tensor(np.array(self.w), requires_grad=True), nc.Tensor(np.array(self.b), requires_grad=True)
        self.fn(x, w, b).backward(self.gy)
