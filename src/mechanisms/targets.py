"""Where the regression target comes from (docs/design.md §2). One class per kind of target:

- ``NetworkTarget``: a separate copy of the online encoder, either EMA-updated (BYOL) or frozen
  (BYOL's random-target experiment, §3.2 / their 18.8% vs 1.4%);
- ``EnsembleTarget``: K such networks whose normalised outputs are combined with weights
  (Becker & Hinton 1992);
- ``OnlineTarget``: no separate network, the online projection of the other view, with or without
  stop-gradient (SimSiam; SimCLR when gradients flow through both branches).

Every target maps (x, online_z) → t and has ``update(online, step, total_steps)``, called once per
optimizer step, after the step, by the LightningModule; it returns what should be logged. A target whose
``members_learn`` is true (Becker & Hinton's learned ensemble, src/mechanisms/learned_ensemble.py) also
gives the module one prediction and one target per member.
"""

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from src.core.checks import require_choice, require_float, require_int
from src.core.errors import ConfigError
from src.mechanisms.ema import copy_buffers_, cosine_tau, ema_update_, floating_state
from src.mechanisms.tau_horizon import restated_tau
from src.models.encoder import Encoder, reinitialise_

INITS = ("copy", "independent")
UPDATES = ("ema", "frozen")
WEIGHTINGS = ("uniform", "random", "learned")


class MemberWeights(nn.Module):
    """The (K,) combination weights of an ensemble's members, non-negative and summing to 1: uniform, one
    fixed Dirichlet(1) draw ("random"), or learned through the loss as a softmax over logits (the only
    trainable part of a frozen ensemble)."""

    def __init__(self, num_members: int, weighting: str):
        super().__init__()
        self.weighting = require_choice("model.target.weights", weighting, WEIGHTINGS)
        if weighting == "learned":
            self.logits = nn.Parameter(torch.zeros(num_members))
        elif weighting == "random":
            self.register_buffer("fixed", torch.distributions.Dirichlet(torch.ones(num_members)).sample())
        else:
            self.register_buffer("fixed", torch.full((num_members,), 1.0 / num_members))

    def forward(self) -> torch.Tensor:
        return torch.softmax(self.logits, dim=0) if self.weighting == "learned" else self.fixed


class NetworkTarget(nn.Module):
    """A target network with its own weights, never in the optimizer and never given a gradient."""

    uses_online_output = False
    members_learn = False

    def __init__(
        self,
        online: Encoder,
        init: str = "copy",
        update: str = "ema",
        tau: float = 0.99,
        tau_final: float = 1.0,
        schedule: str = "cosine",
        bn_buffers: str = "average",
        bn_stats: str = "batch",
        tau_stated_for_steps: int | None = None,
    ):
        super().__init__()
        require_choice("model.target.init", init, INITS)
        require_choice("model.target.update", update, UPDATES)
        require_choice("model.target.schedule", schedule, ("cosine", "constant"))
        require_choice("model.target.bn_buffers", bn_buffers, ("average", "copy"))
        require_choice("model.target.bn_stats", bn_stats, ("batch", "running"))
        require_float("model.target.tau", tau, 0.0, 1.0)
        require_float("model.target.tau_final", tau_final, 0.0, 1.0)
        if tau_stated_for_steps is not None:
            require_int("model.target.tau_stated_for_steps", tau_stated_for_steps, 1)
        self.stated_for_steps = tau_stated_for_steps
        self.init, self.update_rule, self.schedule, self.bn_buffers = init, update, schedule, bn_buffers
        self.bn_stats = bn_stats
        self.tau_base, self.tau_final = tau, tau_final
        self.network = copy.deepcopy(online)
        if init == "independent":
            reinitialise_(self.network)
        self.network.requires_grad_(False)

    def tau(self, step: int, total_steps: int) -> float:
        base = self.tau_base
        if self.stated_for_steps is not None:  # the same horizon as a fraction of this run
            base = restated_tau(base, self.stated_for_steps, total_steps)
        if self.schedule == "constant":
            return base
        return cosine_tau(step, total_steps, base, self.tau_final)

    def forward(self, x: torch.Tensor, online_z: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.network(x)[1]  # (B, d) target projection

    def update(self, online: Encoder, step: int, total_steps: int) -> dict[str, float]:
        if self.update_rule == "frozen":
            return {}
        tau = self.tau(step, total_steps)
        ema_update_(
            floating_state(self.network, self.bn_buffers), floating_state(online, self.bn_buffers), tau
        )
        copy_buffers_(self.network, online, floating=self.bn_buffers == "copy")
        return {"ema/tau": tau}

    def train(self, mode: bool = True) -> "NetworkTarget":
        # bn_stats=batch (default) normalises the target's activations with the batch statistics, as
        # BYOL's reference code does; bn_stats=running uses the averaged or copied running statistics,
        # so a target output does not depend on the rest of its batch.
        super().train(mode)
        if self.bn_stats == "running":
            self.network.eval()
        return self


class EnsembleTarget(nn.Module):
    """Becker & Hinton's ensemble: t = Σ_k w_k · normalise(member_k(x)), with Σ_k w_k = 1.

    Members are built from one member config (``member``: a partial ``NetworkTarget``, independent or
    copied init, frozen or EMA), member k with its own τ_k from ``taus``. Weights are uniform, fixed
    random (a Dirichlet(1) draw), or learned through the loss as a softmax over logits (the only trainable
    part of this target, logged as ``ensemble/w{k}``). With K = 1 and ``normalise_members: false`` this is
    exactly the member's own target. (Members that learn: src/mechanisms/learned_ensemble.py.)
    """

    uses_online_output = False
    members_learn = False

    def __init__(
        self,
        online: Encoder,
        member: Callable[..., NetworkTarget],
        num_members: int = 4,
        taus: list[float] | None = None,
        weights: str = "uniform",
        normalise_members: bool = True,
    ):
        super().__init__()
        require_int("model.target.num_members", num_members, 1)
        taus = [0.99] * num_members if taus is None else list(taus)
        if len(taus) != num_members:
            raise ConfigError(
                f"model.target.taus must list one τ per member (num_members={num_members}), got {len(taus)}"
            )
        for tau in taus:
            require_float("model.target.taus[k]", tau, 0.0, 1.0)
        self.members = nn.ModuleList(member(online, tau=tau) for tau in taus)
        self.member_weights = MemberWeights(num_members, weights)
        self.normalise_members = normalise_members

    def weights(self) -> torch.Tensor:
        """(K,) non-negative, summing to 1."""
        return self.member_weights()

    def forward(self, x: torch.Tensor, online_z: torch.Tensor) -> torch.Tensor:
        outputs = torch.stack([m(x, online_z) for m in self.members])  # (K, B, d), no gradient
        if self.normalise_members:
            outputs = F.normalize(outputs, dim=-1)
        return torch.einsum("k,kbd->bd", self.weights(), outputs)  # (B, d); gradient reaches learned w

    def update(self, online: Encoder, step: int, total_steps: int) -> dict[str, float]:
        logs: dict[str, float] = {}
        for k, member in enumerate(self.members):
            logs.update({f"{name}{k}": v for name, v in member.update(online, step, total_steps).items()})
        logs.update({f"ensemble/w{k}": float(w) for k, w in enumerate(self.weights().detach())})
        return logs


class OnlineTarget(nn.Module):
    """No target network: the online projection of the other view (SimSiam, SimCLR).

    With ``stop_gradient`` the same forward pass is detached (no second online pass), so the online
    network learns only through the prediction branch; without it gradients flow through both.
    """

    uses_online_output = True
    members_learn = False

    def __init__(self, online: Encoder, stop_gradient: bool = True):
        super().__init__()  # `online` is not copied: the target is the online network itself
        self.stop_gradient = stop_gradient

    def forward(self, x: torch.Tensor, online_z: torch.Tensor) -> torch.Tensor:
        return online_z.detach() if self.stop_gradient else online_z

    def update(self, online: Encoder, step: int, total_steps: int) -> dict[str, float]:
        return {}
