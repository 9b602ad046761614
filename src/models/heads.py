"""Projector and predictor heads. "Off" is a head of its own (``IdentityHead``), never a flag.

BYOL (Grill et al. 2020, §3.3): projector and predictor are the same MLP shape,
Linear(4096) → BN → ReLU → Linear(256); the predictor maps the projection to a prediction of the same size.
"""

from torch import nn

from src.errors import ConfigError


class MLPHead(nn.Sequential):
    """Linear → BN → ReLU → Linear. ``out_dim=None`` keeps the input width (a predictor)."""

    def __init__(self, in_dim: int, hidden_dim: int = 512, out_dim: int | None = None, norm: str = "bn"):
        out_dim = in_dim if out_dim is None else out_dim
        if hidden_dim < 1 or out_dim < 1:
            raise ConfigError(f"head hidden_dim and out_dim must be ≥ 1, got {hidden_dim}, {out_dim}")
        if norm not in ("bn", "none"):
            raise ConfigError(f"head norm must be one of bn, none; got {norm!r}")
        super().__init__(
            nn.Linear(in_dim, hidden_dim, bias=norm == "none"),
            nn.BatchNorm1d(hidden_dim) if norm == "bn" else nn.Identity(),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, out_dim),
        )
        self.out_dim = out_dim


class LinearHead(nn.Linear):
    """One linear map: each output a weighted sum of the inputs — the seed's reading of the predictor as a
    Becker–Hinton ensemble (claim 5: a weighted sum should suffice)."""

    def __init__(self, in_dim: int, out_dim: int | None = None, bias: bool = True):
        out_dim = in_dim if out_dim is None else out_dim
        super().__init__(in_dim, out_dim, bias=bias)
        self.out_dim = out_dim


class IdentityHead(nn.Identity):
    """No head: the output is the input."""

    def __init__(self, in_dim: int):
        super().__init__()
        self.out_dim = in_dim
