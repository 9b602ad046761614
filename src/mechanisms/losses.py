"""The training objective as pure functions (docs/design.md §2):

    loss = ½·[regress(p1, t2) + regress(p2, t1)] + β·½·[negatives(p1; t1, t2) + negatives(p2; t2, t1)]

``regress`` is BYOL's normalised regression 2 − 2·cos (Grill et al. 2020, Eq. 2). ``negatives`` is the
log-partition term of BYOL's generalised InfoNCE (their Appendix, Eq. 6), scaled so that

    loss(β) = regression + β·2α·mean_i log Σ_c exp(cos(p_i, c)/α)

over the candidates c = the other-view targets of every sample (the positive included) and the same-view
targets of every other sample. β = 0 is BYOL; β = 1 with no predictor and the online network as its own
target without stop-gradient is 2 + 2α·NT-Xent (SimCLR, Chen et al. 2020), i.e. NT-Xent up to a
constant and a positive factor.

Under multi-process training the candidates are the targets of the whole global batch, gathered from
every process (src/mechanisms/distributed.py); a process's own samples sit at rows offset … offset + B of them.

``negatives: queue`` (MoCo) keeps the same formula with other candidates: sample i's own positive and the
keys of earlier steps held in a queue (src/mechanisms/queue.py), so that with β = 1 and no predictor the
loss is 2 + 2α·InfoNCE(q = p_i; k⁺ = t_i', k⁻ = the queue), MoCo v2's loss up to a constant and a factor.
NOTE: symmetrised over the two view orders (BYOL, MoCo v3); MoCo v2 uses one order.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from src.core.checks import require_choice, require_float, require_int
from src.core.errors import ConfigError
from src.mechanisms.distributed import gather_rows

Gather = Callable[[torch.Tensor], tuple[torch.Tensor, int]]  # (B, d) -> (candidates (N, d), own first row)


def own_rows(t: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The candidates of a single process: its own batch, starting at row 0."""
    return t, 0


def normalised_regression(p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ‖p̄ − t̄‖² = 2 − 2·cos(p, t). p, t: (B, d) → ()."""
    return (2.0 - 2.0 * F.cosine_similarity(p, t, dim=-1)).mean()


def negatives_term(
    p: torch.Tensor, t_same: torch.Tensor, t_other: torch.Tensor, temperature: float, offset: int = 0
) -> torch.Tensor:
    """2α · mean_i logsumexp over candidates of cos(p_i, c)/α, α the temperature.

    p: (B, d) predictions of one view; t_same: (N, d) targets of the same view (sample i itself, row
    offset + i, excluded); t_other: (N, d) targets of the other view (all samples, the positive at row
    offset + i included) → (). N = B and offset 0 in one process; N = W·B and offset = rank·B when the
    candidates are gathered from W processes.
    """
    p, t_same, t_other = (F.normalize(x, dim=-1) for x in (p, t_same, t_other))
    same = p @ t_same.T / temperature  # (B, N)
    rows = torch.arange(len(p), device=p.device)
    own = rows[:, None] + offset == torch.arange(len(t_same), device=p.device)[None, :]  # (B, N)
    same = same.masked_fill(own, float("-inf"))
    other = p @ t_other.T / temperature  # (B, N)
    return 2.0 * temperature * torch.logsumexp(torch.cat([same, other], dim=1), dim=1).mean()


def queue_negatives_term(
    p: torch.Tensor, positive: torch.Tensor, keys: torch.Tensor, valid: torch.Tensor, temperature: float
) -> torch.Tensor:
    """2α · mean_i logsumexp over {positive_i} ∪ {valid queue keys} of cos(p_i, c)/α.

    p, positive: (B, d) predictions and their other-view targets; keys: (Q, d); valid: (Q,) bool → ().
    """
    p, positive, keys = (F.normalize(x, dim=-1) for x in (p, positive, keys))
    own = (p * positive).sum(-1, keepdim=True) / temperature  # (B, 1)
    queued = (p @ keys.T / temperature).masked_fill(~valid[None, :], float("-inf"))  # (B, Q)
    return 2.0 * temperature * torch.logsumexp(torch.cat([own, queued], dim=1), dim=1).mean()


def symmetric_loss(
    p1: torch.Tensor,
    p2: torch.Tensor,
    t1: torch.Tensor,
    t2: torch.Tensor,
    negatives_weight: float,
    temperature: float,
    view_reduction: str = "mean",
    gather: Gather = own_rows,
    queue: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Both view orders of the objective. p*, t*: (B, d). Returns the total ("loss") and its parts.

    ``view_reduction``: "mean" averages the two orders (the default here and in docs/design.md §4), "sum"
    adds them as BYOL's Eq. 2 does (twice the gradient, which matters with a fixed learning rate).
    ``gather`` gives the negatives' candidates for a process's targets (only called when β > 0).
    ``queue`` (keys (Q, d), valid (Q,)): the candidates are each sample's positive and the queued keys.
    """
    scale = 0.5 if view_reduction == "mean" else 1.0
    regression = scale * (normalised_regression(p1, t2) + normalised_regression(p2, t1))
    parts = {"loss_regression": regression}
    total = regression
    if negatives_weight > 0 and queue is not None:
        negatives = scale * (
            queue_negatives_term(p1, t2, *queue, temperature)
            + queue_negatives_term(p2, t1, *queue, temperature)
        )
        parts["loss_negatives"] = negatives
        total = total + negatives_weight * negatives
    elif negatives_weight > 0:
        (c1, offset), (c2, _) = gather(t1), gather(t2)  # (N, d) each
        negatives = scale * (
            negatives_term(p1, c1, c2, temperature, offset) + negatives_term(p2, c2, c1, temperature, offset)
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
    negatives: str = "batch"  # batch (SimCLR, BYOL Eq. 6) | queue (MoCo: keys of earlier steps)
    queue_size: int = 4096  # Q, used with negatives=queue

    def __post_init__(self):
        require_float("model.loss.negatives_weight", self.negatives_weight, 0)
        require_float("model.loss.temperature", self.temperature, 0, open_low=True)
        require_choice("model.loss.view_reduction", self.view_reduction, ("mean", "sum"))
        require_choice("model.loss.negatives", self.negatives, ("batch", "queue"))
        require_int("model.loss.queue_size", self.queue_size, 1)

    def check_batch_size(self, batch_size: int) -> None:
        """A step pushes the targets of both views of the global batch; the queue must hold them all."""
        if self.negatives == "queue" and self.queue_size < 2 * batch_size:
            raise ConfigError(
                f"model.loss.queue_size must be ≥ 2 × data.batch_size = {2 * batch_size} (one step enqueues"
                f" the targets of both views of the batch), got {self.queue_size}"
            )

    def __call__(self, p1, p2, t1, t2, queue=None) -> dict[str, torch.Tensor]:
        """The objective of one process's batch; candidates gathered from every process (if several).

        NOTE: computed in float32 with autocast off, whatever the training precision: cosines divided by
        α = 0.2 and their log-sum-exp lose about two digits in bfloat16.
        """
        with torch.autocast(p1.device.type, enabled=False):
            p1, p2, t1, t2 = (x.float() for x in (p1, p2, t1, t2))
            contents = None if queue is None else queue.contents()
            return symmetric_loss(
                p1,
                p2,
                t1,
                t2,
                self.negatives_weight,
                self.temperature,
                self.view_reduction,
                gather_rows,
                contents,
            )
