"""The online network up to the projection: x → backbone → h → projector → z. The target networks are
copies of this module."""

import torch
from torch import nn


class Encoder(nn.Module):
    def __init__(self, backbone: nn.Module, projector: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.projector = projector

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.backbone(x)  # (B, backbone.out_dim)
        return h, self.projector(h)  # (B, projector.out_dim)


def reinitialise_(module: nn.Module) -> nn.Module:
    """Fresh random weights for every submodule that defines ``reset_parameters`` (an independent init,
    e.g. BYOL's fixed random target); BatchNorm's reset also clears its running statistics."""
    for m in module.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    return module
