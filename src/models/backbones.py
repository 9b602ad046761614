"""Backbones for the embedded data: an MLP for strips and a small CNN for 2-D inputs.

Every backbone takes the data's ``input_shape`` as its first argument (Hydra builds it with
``_partial_: true`` and the run supplies the shape) and exposes ``out_dim``, the width of ``h``.
"""

import math

from torch import nn

from src.core.checks import require_choice, require_int
from src.core.errors import ConfigError

NORMS = ("bn", "none")  # BatchNorm or nothing, for backbones and heads alike


class MLPBackbone(nn.Sequential):
    """Flatten → [Linear → BN → ReLU] × depth. BN as in BYOL's heads, so collapse is not prevented by the
    backbone lacking normalisation (NOTE: a choice; `norm: none` removes it, cf. Richemond et al. 2020)."""

    def __init__(self, input_shape: tuple[int, ...], hidden_dim: int = 256, depth: int = 2, norm: str = "bn"):
        require_int("model.backbone.depth", depth, 1)
        require_int("model.backbone.hidden_dim", hidden_dim, 1)
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(input_shape)
        for _ in range(depth):
            layers += [nn.Linear(width, hidden_dim), _norm_1d(norm, hidden_dim), nn.ReLU(inplace=True)]
            width = hidden_dim
        super().__init__(*layers)
        self.out_dim = hidden_dim


class SmallCNN(nn.Sequential):
    """[Conv3×3 → BN → ReLU] × len(channels), a stride-2 conv between stages, then global average pool.
    Takes (C, H, W) inputs."""

    def __init__(self, input_shape: tuple[int, ...], channels: tuple[int, ...] = (32, 64), norm: str = "bn"):
        if len(input_shape) != 3:
            raise ConfigError(
                f"model/backbone=cnn needs 2-D inputs (C, H, W), but the data gives shape {tuple(input_shape)};"
                " use data.layout=image or model/backbone=mlp"
            )
        layers: list[nn.Module] = []
        in_ch = input_shape[0]
        for i, out_ch in enumerate(channels):
            stride = 1 if i == 0 else 2
            layers += [
                nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=norm == "none"),
                _norm_2d(norm, out_ch),
                nn.ReLU(inplace=True),
            ]
            in_ch = out_ch
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        super().__init__(*layers)
        self.out_dim = in_ch


def _norm_1d(norm: str, dim: int) -> nn.Module:
    return {"bn": nn.BatchNorm1d, "none": lambda d: nn.Identity()}[_check_norm(norm)](dim)


def _norm_2d(norm: str, channels: int) -> nn.Module:
    return {"bn": nn.BatchNorm2d, "none": lambda d: nn.Identity()}[_check_norm(norm)](channels)


def _check_norm(norm: str) -> str:
    return require_choice("model.backbone.norm", norm, NORMS)
