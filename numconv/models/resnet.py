"""ResNet (He et al., 2015) in torchvision's layout, so state_dict keys match torchvision's.

resnet18: 11,689,512 parameters; resnet34: 21,797,672; resnet50: 25,557,032.
resnet18_cifar: 3x3 stride-1 stem without max pool (the ``maxpool`` slot is an Identity), 10 classes.
"""
from __future__ import annotations

from .. import nn
from ._common import flatten, no_weights, positive_int

__all__ = ["ResNet", "BasicBlock", "Bottleneck", "resnet18", "resnet34", "resnet50", "resnet18_cifar"]


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, groups=groups, bias=False,
                     dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm; out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1, norm_layer=None):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("dilation > 1 is not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 (reduce) -> 3x3 (stride here, as torchvision's v1.5) -> 1x1 (expand x4), each with BatchNorm."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1, norm_layer=None):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """``ResNet(block, layers, num_classes=1000, ...)``: stem, four stages of ``block``, global average pool, fc.

    Arguments as torchvision's (zero_init_residual, groups, width_per_group,
    replace_stride_with_dilation, norm_layer), plus ``small_input=True`` for 32x32 images:
    conv1 becomes 3x3 stride 1 and the max pool an Identity (keys unchanged).
    Init as torchvision: conv kaiming_normal_(fan_out, relu); BatchNorm weight 1, bias 0; fc PyTorch's default.
    """

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, groups=1, width_per_group=64,
                 replace_stride_with_dilation=None, norm_layer=None, small_input=False, in_channels=3):
        # The model's own arguments first, so an error names them (not an inner layer's out_channels).
        num_classes = positive_int(num_classes, "num_classes", "ResNet")
        in_channels = positive_int(in_channels, "in_channels", "ResNet")
        groups = positive_int(groups, "groups", "ResNet")
        width_per_group = positive_int(width_per_group, "width_per_group", "ResNet")
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__") or len(layers) != 4:
            raise ValueError(f"ResNet: layers must give the number of blocks of the 4 stages, got {layers!r}")
        # torchvision builds one block for a count of 0 or less; a count below 1 is refused here.
        layers = [positive_int(n, f"layers[{i}] (blocks in stage {i + 1})", "ResNet") for i, n in enumerate(layers)]
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError(f"replace_stride_with_dilation should be None or a 3-element tuple, got {replace_stride_with_dilation}")
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        self._norm_layer = norm_layer
        self.inplanes = 64
        self.dilation = 1
        self.groups = groups
        self.base_width = width_per_group
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if small_input else nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2, dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2, dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2, dilate=replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d) and m.affine:
                nn.init.ones_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        if zero_init_residual:  # each residual branch's last norm starts at 0 (one without weights stays as it is)
            for m in self.modules():
                last = m.bn3 if isinstance(m, Bottleneck) else m.bn2 if isinstance(m, BasicBlock) else None
                if getattr(last, "weight", None) is not None:
                    nn.init.zeros_(last.weight)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width, previous_dilation,
                        norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                                dilation=self.dilation, norm_layer=norm_layer))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(flatten(self.avgpool(x)))


def resnet18(num_classes=1000, *, weights=None, **kwargs):
    """ResNet-18; ``weights`` must be None (torchvision's argument: numconv ships no pretrained weights)."""
    no_weights(weights, "resnet18")
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, **kwargs)


def resnet34(num_classes=1000, *, weights=None, **kwargs):
    """ResNet-34; ``weights`` must be None (torchvision's argument: numconv ships no pretrained weights)."""
    no_weights(weights, "resnet34")
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes=num_classes, **kwargs)


def resnet50(num_classes=1000, *, weights=None, **kwargs):
    """ResNet-50; ``weights`` must be None (torchvision's argument: numconv ships no pretrained weights)."""
    no_weights(weights, "resnet50")
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes, **kwargs)


def resnet18_cifar(num_classes=10, *, weights=None, **kwargs):
    """ResNet-18 for 32x32 inputs: 3x3 stride-1 stem, no max pool; 11,173,962 parameters with 10 classes.
    ``weights`` must be None (numconv ships no pretrained weights)."""
    no_weights(weights, "resnet18_cifar")
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, small_input=True, **kwargs)
