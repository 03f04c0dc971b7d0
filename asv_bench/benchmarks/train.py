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
