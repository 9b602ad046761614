"""Outputs whose collapse verdict is known by construction: the labelled cases of the verdict panel
(experiments/verdict_panel, docs/verdict.md). ``metrics.planted_output`` replaces the output
representations (z, p) of a run's FINAL measurement by one of these, after the network computed them; the
random-init reference and the probe on h are untouched, so the planted output is judged against the run's
real reference. Never set outside the panel.

Both take the two row-aligned views of one representation, (N, d) each, and return them transformed with
one shared draw, so a positive pair stays a positive pair.
"""

import torch
from torch import Tensor

PLANTED_OUTPUTS = ("constant", "low_rank")
CONSTANT_RESIDUAL = 1e-2  # the input-dependent part's size relative to the constant: energy −4 decades
PLANTED_RANK = 2  # directions the low-rank output varies in (2 of z's 64: rank fraction ≈ 0.03)


def _draw(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def constant_plus_residual(view1: Tensor, view2: Tensor, seed: int = 0) -> tuple[Tensor, Tensor]:
    """c + CONSTANT_RESIDUAL·(x − mean): a constant as long as the outputs' RMS row, plus the real,
    input-dependent outputs shrunk 100× around their mean — complete collapse with a residual that still
    follows the input."""
    both = torch.cat([view1, view2])  # (2N, d)
    mean, rms = both.mean(0), both.pow(2).sum(1).mean().sqrt()  # (d,), ()
    c = torch.randn(both.shape[1], generator=_draw(seed))
    c = c / c.norm() * rms  # (d,)
    return tuple(c + CONSTANT_RESIDUAL * (v - mean) for v in (view1, view2))


def low_rank(view1: Tensor, view2: Tensor, seed: int = 0) -> tuple[Tensor, Tensor]:
    """mean + (x − mean)·QQᵀ·s: the real outputs' deviations projected onto a random PLANTED_RANK-dimensional
    subspace (Q, d × k orthonormal) and rescaled by s so their energy is what it was — dimensional collapse
    with no loss of energy, so only the dimension reading can catch it."""
    both = torch.cat([view1, view2])  # (2N, d)
    mean = both.mean(0)  # (d,)
    q, _ = torch.linalg.qr(torch.randn(both.shape[1], PLANTED_RANK, generator=_draw(seed)))  # (d, k)
    projected = (both - mean) @ q @ q.T  # (2N, d)
    scale = (both - mean).pow(2).sum().sqrt() / projected.pow(2).sum().sqrt().clamp_min(1e-12)
    return tuple(mean + (v - mean) @ q @ q.T * scale for v in (view1, view2))


def planted(kind: str, view1: Tensor, view2: Tensor) -> tuple[Tensor, Tensor]:
    """The two views replaced by the planted case ``kind`` (one of PLANTED_OUTPUTS)."""
    return {"constant": constant_plus_residual, "low_rank": low_rank}[kind](view1, view2)
