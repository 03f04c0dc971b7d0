"""One training step (forward, cross_entropy, backward, SGD with momentum) of the suite's train rows."""
import numpy as np

import numconv.functional as F
from numconv import models, optim
from numconv.tensor import Tensor

from ._suite import TRAIN, TRAIN_ROWS, rand


class TrainStep:
    params = [TRAIN_ROWS]
    param_names = ["row"]
    timeout = 600

    def setup(self, row):
        r = TRAIN[row]
        self.model = getattr(models, r["model"])()
        self.model.train()
        self.opt = optim.SGD(list(self.model.parameters()), lr=0.01, momentum=0.9)
        self.x = Tensor(rand((r["N"], *r["input"])))
        self.y = Tensor(np.random.default_rng(1).integers(0, 10, r["N"]).astype(np.int64))
        self.time_step(row)  # warm: kernels loaded, momentum buffers allocated

    def time_step(self, row):
        loss = F.cross_entropy(self.model(self.x), self.y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()

    def peakmem_step(self, row):
        self.time_step(row)


class GradientPenaltyStep:
    """One WGAN-GP critic step on a DCGAN-style critic (three 4x4 stride-2 convolutions with leaky
    ReLU, then a linear score), batch 64 of 3x32x32, float32: the score, its gradient with respect to
    the images with create_graph, the penalty 10 (||grad|| - 1)^2, and backward through all of it
    (double backward through the convolutions). On a 2-core Xeon: 94 ms, torch 2.13 64 ms."""

    timeout = 600

    def setup(self):
        rng = np.random.default_rng(0)
        self.x = rand((64, 3, 32, 32))
        shapes = [(64, 3, 4, 4), (128, 64, 4, 4), (256, 128, 4, 4), (1, 256 * 4 * 4)]
        self.params = [Tensor((rng.standard_normal(s) * 0.05).astype(np.float32), requires_grad=True) for s in shapes]
        self.time_step()

    def time_step(self):
        from numconv import autograd

        images = Tensor(self.x, requires_grad=True)
        h = images
        for w in self.params[:3]:
            h = F.leaky_relu(F.conv2d(h, w, stride=2, padding=1), 0.2)
        score = F.linear(h.flatten(1), self.params[3])
        (g,) = autograd.grad(score.sum(), [images], create_graph=True)
        loss = score.mean() + 10 * ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
        for p in self.params:
            p.grad = None
        loss.backward()
