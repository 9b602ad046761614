"""ResNet-18 and ResNet-50 backbones from torchvision (He et al. 2016), randomly initialised.

``cifar_stem`` swaps the ImageNet stem (7×7 stride-2 conv, then 3×3 stride-2 max-pool) for a 3×3
stride-1 conv without max-pool, the usual choice for 32×32 inputs (SimCLR Appendix B.9; solo-learn,
lightly): the ImageNet stem would shrink a CIFAR image to 8×8 before the first residual stage.
"""

import torch
from torch import nn
from torchvision.models import resnet18, resnet50

from src.core.checks import require_choice
from src.core.errors import ConfigError

_CONSTRUCTORS = {18: (resnet18, 512), 50: (resnet50, 2048)}  # depth -> (torchvision builder, width of h)


class ResNetBackbone(nn.Module):
    """(B, C, H, W) images -> (B, out_dim) globally average-pooled features h; the classifier is removed.

    Takes the data's ``input_shape`` first, like every backbone of the suite (Hydra builds it with
    ``_partial_: true``); the number of input channels comes from it.
    """

    def __init__(self, input_shape: tuple[int, ...], depth: int, cifar_stem: bool):
        super().__init__()
        require_choice("model.backbone.depth", depth, tuple(_CONSTRUCTORS))
        if len(input_shape) != 3:
            raise ConfigError(
                f"model/backbone=resnet needs images (C, H, W), but the data gives {tuple(input_shape)}"
            )
        build, self.out_dim = _CONSTRUCTORS[depth]
        net = build(weights=None)
        in_channels = input_shape[0]
        if cifar_stem:
            net.conv1 = _stem_conv(in_channels, kernel_size=3, stride=1)
            net.maxpool = nn.Identity()
        elif in_channels != 3:
            net.conv1 = _stem_conv(in_channels, kernel_size=7, stride=2)
        net.fc = nn.Identity()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _stem_conv(in_channels: int, kernel_size: int, stride: int) -> nn.Conv2d:
    conv = nn.Conv2d(in_channels, 64, kernel_size, stride=stride, padding=kernel_size // 2, bias=False)
    nn.init.kaiming_normal_(
        conv.weight, mode="fan_out", nonlinearity="relu"
    )  # as torchvision inits its convs
    return conv
