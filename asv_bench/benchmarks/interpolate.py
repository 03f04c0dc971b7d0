"""interpolate: a decoder's 2x upsampling of a ResNet stage's output (and a bicubic resize of an
image batch), forward and forward+backward (the transposed tables through the same kernel)."""
import numconv.functional as F

from ._suite import rand

ROWS = {
    "nearest_x2": ((32, 64, 28, 28), dict(scale_factor=2, mode="nearest")),
    "bilinear_x2": ((32, 64, 28, 28), dict(scale_factor=2, mode="bilinear")),
    "bilinear_x2_corners": ((32, 64, 28, 28), dict(scale_factor=2, mode="bilinear", align_corners=True)),
    "bicubic_224_to_160": ((16, 3, 224, 224), dict(size=(160, 160), mode="bicubic")),
}


class Interpolate:
    params = [list(ROWS)]
    param_names = ["row"]

    def setup(self, row):
        shape, self.kw = ROWS[row]
        self.x = rand(shape)
        y = F.interpolate(self.x[:1], **self.kw)
        self.gy = rand((shape[0],) + y.shape[1:], 2)

    def time_forward(self, row):
        F.interpolate(self.x, **self.kw)

    def time_forward_backward(self, row):
        F.interpolate(self.x, **self.kw)
        F.interpolate_backward(self.gy, self.x, **self.kw)
