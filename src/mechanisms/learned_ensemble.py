"""Becker & Hinton's ensemble with members that all learn (Becker & Hinton 1992; the issue's "learned
ensemble"): K networks, the online encoder being member 0 and K − 1 independently initialised encoders
the others, every one trained through the loss. Member i's prediction of one view regresses onto the
weighted combination of the *other* members' outputs for the other view,

    t_i = Σ_{j≠i} w_j · normalise(z_j) / Σ_{j≠i} w_j,

with a stop-gradient on t_i as an option. Unlike ``EnsembleTarget`` (frozen or EMA members that only
provide a target), nothing here is a fixed network: the ensemble can collapse, which is what a row with
it measures.

NOTE: Becker & Hinton maximise the mutual information between modules (IMAX); here the agreement is the
suite's normalised regression (2 − 2·cos), so only the ensemble structure is theirs. The predictor (if
any) is shared by the members and applied to each member's batch separately (BatchNorm statistics per
member, as per view). With negatives (β > 0, batch candidates) the other members' targets of the same
sample count as negatives; queue negatives are refused (src/ssl_module.py).
"""

import copy

import torch
import torch.nn.functional as F
from torch import nn

from src.core.checks import require_bool, require_int
from src.mechanisms.targets import MemberWeights
from src.models.encoder import Encoder, reinitialise_


def leave_one_out(outputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Each member's target: the weighted mean of the other members' outputs.

    outputs: (K, B, d); weights: (K,) non-negative, K ≥ 2 → (K, B, d), row block i = Σ_{j≠i} w_j·outputs_j
    / Σ_{j≠i} w_j.
    """
    k = len(weights)
    others = weights[None, :] * (1.0 - torch.eye(k, dtype=weights.dtype, device=weights.device))  # (K, K)
    others = others / others.sum(dim=1, keepdim=True)
    return torch.einsum("ij,jbd->ibd", others, outputs)


class LearnedEnsembleTarget(nn.Module):
    """K learning members (the online encoder is member 0); see the module docstring."""

    uses_online_output = False
    members_learn = True

    def __init__(
        self,
        online: Encoder,
        num_members: int = 4,
        weights: str = "uniform",
        normalise_members: bool = True,
        stop_gradient: bool = True,
    ):
        super().__init__()
        # K = 1 would leave member 0 with no other member to regress onto.
        require_int("model.target.num_members", num_members, 2)
        self.normalise_members = require_bool("model.target.normalise_members", normalise_members)
        self.stop_gradient = require_bool("model.target.stop_gradient", stop_gradient)
        # Independent inits: identical members fed identical inputs would stay identical forever.
        self.others = nn.ModuleList(reinitialise_(copy.deepcopy(online)) for _ in range(num_members - 1))
        self.member_weights = MemberWeights(num_members, weights)

    def weights(self) -> torch.Tensor:
        """(K,) non-negative, summing to 1."""
        return self.member_weights()

    def member_projections(self, x: torch.Tensor, online_z: torch.Tensor) -> torch.Tensor:
        """x: (B, *input_shape), online_z: (B, d) → (K, B, d), member 0 the online projection; with
        gradient."""
        return torch.stack([online_z, *(member(x)[1] for member in self.others)])

    def member_targets(self, projections: torch.Tensor) -> torch.Tensor:
        """(K, B, d) → (K, B, d): member i's target, the combination of the others (detached with
        stop_gradient; then learned weights get no gradient either)."""
        outputs = F.normalize(projections, dim=-1) if self.normalise_members else projections
        targets = leave_one_out(outputs, self.weights())
        return targets.detach() if self.stop_gradient else targets

    def forward(self, x: torch.Tensor, online_z: torch.Tensor) -> torch.Tensor:
        """The online member's target alone, (B, d) (what a caller without per-member outputs gets)."""
        return self.member_targets(self.member_projections(x, online_z))[0]

    def update(self, online: Encoder, step: int, total_steps: int) -> dict[str, float]:
        # Members learn by gradient, not by an update rule; only the weights are worth logging.
        return {f"ensemble/w{k}": float(w) for k, w in enumerate(self.weights().detach())}
