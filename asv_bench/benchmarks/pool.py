"""Pooling over the suite's pool rows: max / avg / global (adaptive) average, adaptive max, max unpooling
and fractional max pooling."""
import numpy as np

import numconv.functional as F

from ._suite import MAX_POOL_ROWS, POOL, POOL_ROWS, pool_args, rand


class Pool2d:
    """The row's own op (max_pool2d, avg_pool2d, or adaptive_avg_pool2d to 1x1 for global_avg)."""

    params = [POOL_ROWS]
    param_names = ["row"]

    def setup(self, row):
        r = POOL[row]
        self.x, self.args, out = pool_args(r)
        self.gy = rand(out, 2)
        self.op = r["op"]
        if self.op == "max":
            self.fwd, self.bwd = F.max_pool2d, F.max_pool2d_backward
        elif self.op == "avg":
            self.fwd, self.bwd = F.avg_pool2d, F.avg_pool2d_backward
        else:
            self.fwd, self.bwd = F.adaptive_avg_pool2d, F.adaptive_avg_pool2d_backward
        self.fwd(self.x[:1], *self.args)

    def time_forward(self, row):
        self.fwd(self.x, *self.args)

    def time_forward_backward(self, row):
        if self.op == "max":
            _, idx = self.fwd(self.x, *self.args, return_indices=True)
            self.bwd(self.gy, self.x, *self.args, indices=idx)
        else:
            self.fwd(self.x, *self.args)
            self.bwd(self.gy, self.x, *self.args)

    def peakmem_forward(self, row):
        self.fwd(self.x, *self.args)

    def peakmem_forward_backward(self, row):
        self.time_forward_backward(row)


class AdaptivePool2d:
    """adaptive_{avg,max}_pool2d of each pool row's input to that row's pooled output size."""

    params = [POOL_ROWS, ["avg", "max"]]
    param_names = ["row", "op"]

    def setup(self, row, op):
        self.x, _, out = pool_args(POOL[row])
        self.size = out[2:]
        self.gy = rand(out, 2)
        self.fwd = F.adaptive_avg_pool2d if op == "avg" else F.adaptive_max_pool2d
        self.bwd = F.adaptive_avg_pool2d_backward if op == "avg" else F.adaptive_max_pool2d_backward
        self.fwd(self.x[:1], self.size)

    def time_forward(self, row, op):
        self.fwd(self.x, self.size)

    def time_forward_backward(self, row, op):
        if op == "max":
            _, idx = self.fwd(self.x, self.size, return_indices=True)
            self.bwd(self.gy, self.x, self.size, indices=idx)
        else:
            self.fwd(self.x, self.size)
            self.bwd(self.gy, self.x, self.size)

    def peakmem_forward_backward(self, row, op):
        self.time_forward_backward(row, op)


class MaxUnpool2d:
    """max_unpool2d of each max-pool row's pooled values back to the input size, and its gradient."""

    params = [MAX_POOL_ROWS]
    param_names = ["row"]

    def setup(self, row):
        x, self.args, _ = pool_args(POOL[row])
        self.y, self.idx = F.max_pool2d(x, *self.args, return_indices=True)
        self.size = x.shape[2:]
        self.gx = rand(x.shape, 3)

    def time_forward(self, row):
        F.max_unpool2d(self.y, self.idx, *self.args, output_size=self.size)

    def time_forward_backward(self, row):
        F.max_unpool2d(self.y, self.idx, *self.args, output_size=self.size)
        F.max_unpool2d_backward(self.gx, self.y, self.idx, *self.args, output_size=self.size)

    def peakmem_forward(self, row):
        F.max_unpool2d(self.y, self.idx, *self.args, output_size=self.size)


class FractionalMaxPool2d:
    """fractional_max_pool2d of each max-pool row's input to that row's pooled size (a ratio near
    1/2, 2x2 or 3x3 windows, fixed samples), and its gradient from the indices."""

    params = [MAX_POOL_ROWS]
    param_names = ["row"]

    def setup(self, row):
        self.x, args, out = pool_args(POOL[row])
        self.kernel, self.size = args[0], out[2:]
        self.u = np.random.default_rng(1).random(out[:2] + (2,)).astype(np.float32)
        self.gy = rand(out, 2)
        F.fractional_max_pool2d(self.x[:1], self.kernel, self.size, _random_samples=self.u[:1])

    def time_forward(self, row):
        F.fractional_max_pool2d(self.x, self.kernel, self.size, _random_samples=self.u)

    def time_forward_backward(self, row):
        _, idx = F.fractional_max_pool2d(self.x, self.kernel, self.size, return_indices=True, _random_samples=self.u)
        F.fractional_max_pool2d_backward(self.gy, self.x, self.kernel, self.size, indices=idx)

    def peakmem_forward_backward(self, row):
        self.time_forward_backward(row)
