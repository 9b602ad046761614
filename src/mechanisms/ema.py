"""The moving-average (momentum) target update and its τ schedule, as pure functions.

BYOL (Grill et al. 2020, §3.1): ξ ← τ ξ + (1 − τ) θ after each optimisation step, with
τ = 1 − (1 − τ_base)·(cos(πk/K) + 1)/2 increasing from τ_base to 1 over the K training steps.

A constant τ is a horizon in steps, not in run lengths: after h steps the target keeps τ^h of its
weights, so its half-life is h = ln ½ / ln τ (τ = 0.99: 69 steps, a quarter of a 300-step run but a
twentieth of a 1,500-step one). ``tau_for_half_life`` and ``half_life_steps`` state τ by its half-life
as a fraction of the run instead, so a budget sweep compares like with like.
"""

import math

import torch
from torch import nn


def cosine_tau(step: int, total_steps: int, tau_base: float, tau_final: float = 1.0) -> float:
    """BYOL's schedule, generalised to any end value: τ_base at step 0, τ_final at step ``total_steps``."""
    progress = min(max(step / max(total_steps, 1), 0.0), 1.0)
    return tau_final - (tau_final - tau_base) * (math.cos(math.pi * progress) + 1.0) / 2.0


def half_life(tau: float) -> float:
    """The half-life h in steps of a constant rate τ ∈ [0, 1]: τ^h = ½ (0 for τ = 0, ∞ for τ = 1)."""
    if tau == 0.0:
        return 0.0
    return math.inf if tau == 1.0 else math.log(0.5) / math.log(tau)


def tau_for_half_life(h: float) -> float:
    """The constant τ whose half-life is h ≥ 0 steps: τ = 2^(−1/h), so τ^h = ½ (0 for h = 0, 1 for ∞)."""
    if h == 0.0:
        return 0.0
    return 1.0 if math.isinf(h) else 2.0 ** (-1.0 / h)


def half_life_steps(fraction: float, total_steps: int) -> float:
    """The half-life h = f·T in steps of a horizon stated as a fraction f of a run of T steps."""
    return fraction * total_steps


def half_life_fraction(tau: float, total_steps: int) -> float | None:
    """f = h(τ)/T: τ's half-life as a fraction of a run of T steps; None for τ ∈ {0, 1}, whose horizon
    (0 or ∞) is the same fraction of any run, so τ needs no restating."""
    h = half_life(tau)
    return None if h == 0.0 or math.isinf(h) else h / total_steps


@torch.no_grad()
def ema_update_(target: list[torch.Tensor], online: list[torch.Tensor], tau: float) -> None:
    """In place, fused over all tensors: target ← τ·target + (1 − τ)·online.

    Written as lerp(target, online, 1 − τ), which is exact at both ends: τ = 1 leaves the target
    bit-identical and τ = 0 copies the online tensors bit for bit (BYOL Table 5a's "τ = 0" row).
    """
    if target:
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
