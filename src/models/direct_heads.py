"""A linear predictor that is set, not trained: DirectPred and DirectCopy (the formulas are in
src/mechanisms/direct_predictor.py). W and the running correlation F̂ are buffers, so the predictor has
no parameters (it can never be in the optimizer) and its whole state is in the checkpoint (exact resume).

The LightningModule drives it: ``observe(z)`` with each training step's online projections (both views,
gathered from every process under DDP, so every process holds the same F̂ and W) and ``refresh(step)``
after the optimizer step, like the EMA update; W set after step k is used from step k + 1 on.
"""

import torch
import torch.nn.functional as F
from torch import nn

from src.config.checks import require_choice, require_float, require_int
from src.mechanisms.direct_predictor import RULES, running_correlation

KEY = "model.predictor.net"


class DirectHead(nn.Module):
    """p = W z with W = rule(F̂), recomputed every ``update_every`` steps.

    NOTE: W starts as the identity (solo-learn starts from nn.Linear's random init); it is replaced after
    the first step.
    """

    tracks_projections = True  # the LightningModule feeds it the projections and asks it to refresh

    def __init__(
        self,
        in_dim: int,
        rule: str = "directpred",
        rho: float = 0.3,
        eps: float = 0.01,
        update_every: int = 1,
    ):
        super().__init__()
        self.rule = require_choice(f"{KEY}.rule", rule, tuple(RULES))
        self.rho = require_float(f"{KEY}.rho", rho, 0.0, 1.0, open_low=True)
        self.eps = require_float(f"{KEY}.eps", eps, 0.0)
        self.update_every = require_int(f"{KEY}.update_every", update_every, 1)
        self.register_buffer("weight", torch.eye(in_dim))  # (d, d)
        self.register_buffer("correlation", torch.zeros(in_dim, in_dim))  # F̂, (d, d)
        self.register_buffer("observed", torch.zeros((), dtype=torch.long))  # batches seen
        self.out_dim = in_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.linear(z, self.weight.to(z.dtype))  # (B, d)

    @torch.no_grad()
    def observe(self, z: torch.Tensor) -> None:
        """Fold one step's projections z: (N, d) into F̂."""
        self.correlation.copy_(running_correlation(self.correlation, z, self.rho, self.observed == 0))
        self.observed += 1

    @torch.no_grad()
    def refresh(self, step: int) -> None:
        """Set W from F̂ after optimizer step ``step`` (from 0) when it is due."""
        if step % self.update_every == 0:
            self.weight.copy_(RULES[self.rule](self.correlation, self.eps))
