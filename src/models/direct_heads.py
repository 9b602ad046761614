"""Linear predictors set from the statistics of their inputs instead of trained: the formulas, as pure
functions, and the module that applies them (formula and module together, like src/mechanisms/ema.py).

DirectPred (Tian, Chen & Ganguli 2021, §5, Eqs. 18–19): keep a running estimate of the (uncentred)
correlation of the online projections, F̂ ← ρ·F̂ + (1 − ρ)·E_B[z zᵀ], eigendecompose F̂ = U diag(s) Uᵀ and
set W = U diag(p) Uᵀ with p_j = sqrt(s_j)/max_k sqrt(s_k) + ε.
DirectCopy (Wang et al. 2021): no eigendecomposition, W = F̂/‖F̂‖ + ε·I.

NOTE: constants as in solo-learn's port of the authors' code (luckmatters ssl/real-dataset): ρ = 0.3,
ε = 0.01 (their ``dp_eps``; the paper varies ε), W recomputed after every step, F̂'s first estimate
taken as is (no mixing with zeros), negative eigenvalues clamped to 0 and p_j clamped at 1e-4 from
below. The norm in DirectCopy is the spectral norm here (so both rules give W's top eigenvalue 1 + ε);
unverified against the DirectCopy paper, whose ε is also not checked (config keys, see
conf/model/predictor/directcopy.yaml).

The module: W and the running correlation F̂ are buffers, so the predictor has
no parameters (it can never be in the optimizer) and its whole state is in the checkpoint (exact resume).

The LightningModule drives it: ``observe(z)`` with each training step's online projections (both views,
gathered from every process under DDP, so every process holds the same F̂ and W) and ``refresh(step)``
after the optimizer step, like the EMA update; W set after step k is used from step k + 1 on.
"""

import torch
import torch.nn.functional as F
from torch import nn

from src.core.checks import require_choice, require_float, require_int

MIN_EIGENVALUE = 1e-4  # solo-learn/luckmatters: p_j is clamped here so W stays invertible


def batch_correlation(z: torch.Tensor) -> torch.Tensor:
    """E_B[z zᵀ] of a batch, uncentred. z: (N, d) → (d, d), float32."""
    z = z.float()
    return z.T @ z / len(z)


def running_correlation(
    estimate: torch.Tensor, z: torch.Tensor, rho: float, first: torch.Tensor
) -> torch.Tensor:
    """F̂ ← ρ·F̂ + (1 − ρ)·E_B[z zᵀ], or E_B[z zᵀ] itself when ``first`` (a () bool tensor, so that the
    choice needs no host sync). estimate: (d, d); z: (N, d) → (d, d)."""
    batch = batch_correlation(z)
    return torch.where(first, batch, rho * estimate + (1.0 - rho) * batch)


def directpred_weight(correlation: torch.Tensor, eps: float) -> torch.Tensor:
    """W = U diag(p) Uᵀ, p_j = sqrt(s_j)/max_k sqrt(s_k) + ε. correlation: (d, d) symmetric → (d, d)."""
    s, u = torch.linalg.eigh(correlation.double())  # (d,), (d, d); double: close eigenvalues stay apart
    s = s.clamp_min(0.0)
    p = (s.sqrt() / s.max().sqrt().clamp_min(torch.finfo(s.dtype).tiny) + eps).clamp_min(MIN_EIGENVALUE)
    return (u * p[None, :] @ u.T).to(correlation.dtype)


def directcopy_weight(correlation: torch.Tensor, eps: float) -> torch.Tensor:
    """W = F̂/‖F̂‖₂ + ε·I (spectral norm). correlation: (d, d) → (d, d)."""
    norm = torch.linalg.matrix_norm(correlation, ord=2).clamp_min(torch.finfo(correlation.dtype).tiny)
    eye = torch.eye(len(correlation), dtype=correlation.dtype, device=correlation.device)
    return correlation / norm + eps * eye


RULES = {"directpred": directpred_weight, "directcopy": directcopy_weight}

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
