"""Projector and predictor heads. "Off" is a head of its own (``IdentityHead``), never a flag.

BYOL (Grill et al. 2020, §3.3): projector and predictor are the same MLP shape,
Linear(4096) → BN → ReLU → Linear(256); the predictor maps the projection to a prediction of the same size.
"""

from torch import nn

from src.core.checks import require_choice, require_int
from src.models.backbones import NORMS

# An MLP head serves as projector and as predictor; an error names both places its keys can be.
HEAD_KEYS = "model.projector|model.predictor.net"


class MLPHead(nn.Sequential):
    """Linear → BN → ReLU → Linear. ``out_dim=None`` keeps the input width (a predictor)."""

    def __init__(self, in_dim: int, hidden_dim: int = 512, out_dim: int | None = None, norm: str = "bn"):
        out_dim = in_dim if out_dim is None else out_dim
        require_int(f"{HEAD_KEYS}.hidden_dim", hidden_dim, 1)
        require_int(f"{HEAD_KEYS}.out_dim", out_dim, 1)
        require_choice(f"{HEAD_KEYS}.norm", norm, NORMS)
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
