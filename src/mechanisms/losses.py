"""The training objective as pure functions (DESIGN.md §2):

    loss = ½·[regress(p1, t2) + regress(p2, t1)] + β·½·[negatives(p1; t1, t2) + negatives(p2; t2, t1)]

``regress`` is BYOL's normalised regression 2 − 2·cos (Grill et al. 2020, Eq. 2). ``negatives`` is the
log-partition term of BYOL's generalised InfoNCE (their Appendix, Eq. 6), scaled so that

    loss(β) = regression + β·2α·mean_i log Σ_c exp(cos(p_i, c)/α)

over the candidates c = the other-view targets of every sample (the positive included) and the same-view
targets of every other sample. β = 0 is BYOL; β = 1 with no predictor and the online network as its own
target without stop-gradient is 2 + 2α·NT-Xent (SimCLR, Chen et al. 2020), i.e. NT-Xent up to a
constant and a positive factor.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from src.errors import ConfigError


def normalised_regression(p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ‖p̄ − t̄‖² = 2 − 2·cos(p, t). p, t: (B, d) → ()."""
    return (2.0 - 2.0 * F.cosine_similarity(p, t, dim=-1)).mean()


def negatives_term(
    p: torch.Tensor, t_same: torch.Tensor, t_other: torch.Tensor, temperature: float
) -> torch.Tensor:
    """2α · mean_i logsumexp over candidates of cos(p_i, c)/α, α the temperature.

    p: (B, d) predictions of one view; t_same: (B, d) targets of the same view (sample i itself
    excluded); t_other: (B, d) targets of the other view (all samples, the positive included) → ().
    """
    p, t_same, t_other = (F.normalize(x, dim=-1) for x in (p, t_same, t_other))
    same = p @ t_same.T / temperature  # (B, B)
    same = same.masked_fill(torch.eye(len(p), dtype=torch.bool, device=p.device), float("-inf"))
    other = p @ t_other.T / temperature  # (B, B)
    return 2.0 * temperature * torch.logsumexp(torch.cat([same, other], dim=1), dim=1).mean()


def symmetric_loss(
    p1: torch.Tensor,
    p2: torch.Tensor,
    t1: torch.Tensor,
    t2: torch.Tensor,
    negatives_weight: float,
    temperature: float,
    view_reduction: str = "mean",
) -> dict[str, torch.Tensor]:
    """Both view orders of the objective. p*, t*: (B, d). Returns the total ("loss") and its parts.

    ``view_reduction``: "mean" averages the two orders (the default here and in DESIGN.md §4), "sum"
    adds them as BYOL's Eq. 2 does (twice the gradient, which matters with a fixed learning rate).
    """
    scale = 0.5 if view_reduction == "mean" else 1.0
    regression = scale * (normalised_regression(p1, t2) + normalised_regression(p2, t1))
    parts = {"loss_regression": regression}
    total = regression
    if negatives_weight > 0:
        negatives = scale * (
            negatives_term(p1, t1, t2, temperature) + negatives_term(p2, t2, t1, temperature)
        )
        parts["loss_negatives"] = negatives
        total = total + negatives_weight * negatives
    return {"loss": total, **parts}


@dataclass(frozen=True)
class Objective:
    """The loss hyperparameters of one run (config group ``model/loss``), checked once when built."""

    negatives_weight: float = 0.0  # β of BYOL's Eq. 6: 0 is BYOL, 1 is SimCLR's NT-Xent
    temperature: float = 0.2  # α of BYOL's Eq. 6 (SimCLR's τ)
    view_reduction: str = "mean"

    def __post_init__(self):
        if not self.negatives_weight >= 0:
            raise ConfigError(f"model.loss.negatives_weight must be ≥ 0, got {self.negatives_weight}")
        if not self.temperature > 0:
            raise ConfigError(f"model.loss.temperature must be > 0, got {self.temperature}")
        if self.view_reduction not in ("mean", "sum"):
            raise ConfigError(
                f"model.loss.view_reduction must be one of mean, sum; got {self.view_reduction!r}"
            )

    def __call__(self, p1, p2, t1, t2) -> dict[str, torch.Tensor]:
        return symmetric_loss(p1, p2, t1, t2, self.negatives_weight, self.temperature, self.view_reduction)
