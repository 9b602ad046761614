"""Linear predictors set from the statistics of their inputs instead of trained, as pure functions.

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
"""

import torch

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
