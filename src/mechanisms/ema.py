"""The moving-average (momentum) target update and its τ schedule, as pure functions.

BYOL (Grill et al. 2020, §3.1): ξ ← τ ξ + (1 − τ) θ after each optimisation step, with
τ = 1 − (1 − τ_base)·(cos(πk/K) + 1)/2 increasing from τ_base to 1 over the K training steps.

A constant τ is a horizon in steps, not in run lengths: its half-life and its restatement for another
run length are in src/mechanisms/tau_horizon.py.
"""

import math

import torch
from torch import nn


def cosine_tau(step: int, total_steps: int, tau_base: float, tau_final: float = 1.0) -> float:
    """BYOL's schedule, generalised to any end value: τ_base at step 0, τ_final at step ``total_steps``."""
    progress = min(max(step / max(total_steps, 1), 0.0), 1.0)
    return tau_final - (tau_final - tau_base) * (math.cos(math.pi * progress) + 1.0) / 2.0


@torch.no_grad()
def ema_update_(target: list[torch.Tensor], online: list[torch.Tensor], tau: float) -> None:
    """In place, fused over all tensors: target ← τ·target + (1 − τ)·online.

    Written as lerp(target, online, 1 − τ), which is exact at both ends: τ = 1 leaves the target
    bit-identical and τ = 0 copies the online tensors bit for bit (BYOL Table 5a's "τ = 0" row).
    """
    if target:
        # NOTE: torch's foreach ops have no public name (torch ≥ 2.0 through 2.14); this one kernel launch
        # per update replaces one per tensor, and torch.optim's own foreach paths call the same function.
        torch._foreach_lerp_(target, online, 1.0 - tau)


def floating_state(module: nn.Module, bn_buffers: str) -> list[torch.Tensor]:
    """The tensors of ``module`` that the EMA averages: its parameters, plus the BatchNorm running
    statistics when ``bn_buffers == "average"`` (BYOL averages them; "copy" takes the online ones)."""
    tensors = list(module.parameters())
    if bn_buffers == "average":
        tensors += [b for b in module.buffers() if b.is_floating_point()]
    return tensors


@torch.no_grad()
def copy_buffers_(target: nn.Module, online: nn.Module, floating: bool) -> None:
    """Copy buffers online → target: the integer ones always (``num_batches_tracked``), the floating
    ones too when ``floating`` (bn_buffers == "copy")."""
    for t, o in zip(target.buffers(), online.buffers(), strict=True):
        if floating or not t.is_floating_point():
            t.copy_(o)
