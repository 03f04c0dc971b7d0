"""``numconv.models``: classic CNNs built from ``numconv.nn``, with torchvision's module names.

    import numconv as nc
    net = nc.models.resnet18(num_classes=10)          # or nc.models.get_model("resnet18", num_classes=10)
    net.load_state_dict({k: v.numpy() for k, v in torch_net.state_dict().items()})

Parameter counts (default classes): lenet5 61,706; alexnet 61,100,840; vgg16 138,357,544;
resnet18 11,689,512; resnet50 25,557,032; googlenet 6,624,904.
"""
from __future__ import annotations

from ._common import no_weights
from .alexnet import AlexNet, alexnet
from .encoder_decoder import EncoderDecoder, encoder_decoder
from .googlenet import BasicConv2d, GoogLeNet, Inception, googlenet
from .lenet import LeNet5, lenet5
from .nin import NIN, nin
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet18_cifar, resnet34, resnet50
from .vgg import VGG, vgg, vgg11, vgg13, vgg16, vgg19

_REGISTRY = {
    "lenet5": lenet5,
    "alexnet": alexnet,
    "vgg11": vgg11,
    "vgg13": vgg13,
    "vgg16": vgg16,
    "vgg19": vgg19,
    "vgg11_bn": lambda **kw: vgg11(batch_norm=True, **kw),
    "vgg13_bn": lambda **kw: vgg13(batch_norm=True, **kw),
    "vgg16_bn": lambda **kw: vgg16(batch_norm=True, **kw),
    "vgg19_bn": lambda **kw: vgg19(batch_norm=True, **kw),
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "resnet18_cifar": resnet18_cifar,
    "googlenet": googlenet,
    "nin": nin,
    "encoder_decoder": encoder_decoder,
}


def list_models():
    """The names ``get_model`` accepts, sorted."""
    return sorted(_REGISTRY)


def get_model(name, *, weights=None, **kwargs):
    """Build the model registered as ``name`` (see ``list_models()``, any case), passing ``kwargs`` to its
    constructor. ``weights``, as torchvision's ``get_model``, must be None: numconv ships no
    pretrained weights (load torchvision's with ``load_state_dict``)."""
    if not isinstance(name, str) or name.lower() not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(list_models())}")
    no_weights(weights, name.lower())
    return _REGISTRY[name.lower()](**kwargs)


__all__ = [
    "get_model", "list_models",
    "LeNet5", "lenet5", "AlexNet", "alexnet", "VGG", "vgg", "vgg11", "vgg13", "vgg16", "vgg19",
    "ResNet", "BasicBlock", "Bottleneck", "resnet18", "resnet34", "resnet50", "resnet18_cifar",
    "GoogLeNet", "Inception", "BasicConv2d", "googlenet", "NIN", "nin", "EncoderDecoder", "encoder_decoder",
]
