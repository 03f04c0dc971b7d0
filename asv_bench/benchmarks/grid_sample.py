"""grid_sample: a spatial transformer's warp of a small image batch and of a feature map, by a random
affine grid (``affine_grid``), forward and forward+backward through autograd (the image's gradient
a gather per plane, the grid's per point)."""
import numpy as np

import numconv as nc
import numconv.functional as F

from ._suite import rand

ROWS = {
    "bilinear_images": ((32, 3, 64, 64), "bilinear"),
    "bilinear_features": ((32, 32, 32, 32), "bilinear"),
    "bicubic_features": ((32, 32, 32, 32), "bicubic"),
    "nearest_features": ((32, 32, 32, 32), "nearest"),
}


class GridSample:
    params = [list(ROWS)]
    param_names = ["row"]

    def setup(self, row):
        shape, self.mode = ROWS[row]
        self.x = rand(shape)
        theta = np.tile(np.array([[0.9, 0.2, 0.1], [-0.2, 0.9, -0.1]], np.float32), (shape[0], 1, 1))
        self.grid = F.affine_grid(theta + rand(theta.shape, 1, 0.05), shape)

    def time_forward(self, row):
        F.grid_sample(self.x, self.grid, mode=self.mode)

    def time_forward_backward(self, row):
        x, grid = nc.Tensor(self.x, requires_grad=True), nc.Tensor(self.grid, requires_grad=True)
        F.grid_sample(x, grid, mode=self.mode).sum().backward()
