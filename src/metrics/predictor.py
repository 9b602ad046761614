"""What the predictor has become, as pure functions of one matrix W (d, d): the linear predictor's weight
(trained linear, DirectPred, DirectCopy) or, for an MLP predictor, its Jacobian at the mean held-out
projection (exactly W for a linear map, so one code path serves every predictor).

Tian, Chen & Ganguli (2021, §4–5) predict that a trained linear predictor becomes symmetric and shares
its eigenvectors with F = E[z zᵀ] (their Fig. 3: eigenvector alignment near 1 after training, near
chance at initialisation); these are the measurements of that claim:

- the eigenvalues of W's symmetric part (W + Wᵀ)/2, descending;
- the asymmetry ‖W − Wᵀ‖_F / ‖W‖_F (0 for a symmetric W);
- the alignment: mean over j < k of |cos(u_j, v_j)|, u_j and v_j the j-th eigenvectors (by descending
  eigenvalue) of (W + Wᵀ)/2 and of F: 1 when W = F, about sqrt(2/(π d)) ~ 1/√d for a random W;
- the effective rank of W (RankMe's, src/metrics/collapse.py).

NOTE: pairing the j-th eigenvectors by rank order is ill-defined when eigenvalues are nearly equal; the
alignment then reads low even if the eigenspaces agree. Tian et al. plot the same per-eigenvector cosine.
"""

import torch
from torch import Tensor, nn
from torch.func import jacrev

from src.metrics.collapse import effective_rank
from src.metrics.predictor_names import ALIGNMENT


def symmetric_part(w: Tensor) -> Tensor:
    """(d, d) → (d, d)."""
    return 0.5 * (w + w.T)


def symmetric_eigenvalues(w: Tensor) -> Tensor:
    """Eigenvalues of (W + Wᵀ)/2, descending. (d, d) → (d,)."""
    return torch.linalg.eigvalsh(symmetric_part(w)).flip(0)


def asymmetry(w: Tensor) -> Tensor:
    """‖W − Wᵀ‖_F / ‖W‖_F. (d, d) → ()."""
    return torch.linalg.matrix_norm(w - w.T) / torch.linalg.matrix_norm(w).clamp_min(
        torch.finfo(w.dtype).tiny
    )


def top_eigenvectors(m: Tensor, k: int) -> Tensor:
    """The k eigenvectors of the symmetric m with the largest eigenvalues, as columns. (d, d) → (d, k)."""
    _, vectors = torch.linalg.eigh(m)  # ascending eigenvalues
    return vectors.flip(1)[:, :k]


def eigenvector_alignment(w: Tensor, correlation: Tensor, k: int) -> Tensor:
    """Mean over j < k of |⟨u_j, v_j⟩|, u from (W + Wᵀ)/2 and v from F. w, correlation: (d, d) → ()."""
    u, v = top_eigenvectors(symmetric_part(w), k), top_eigenvectors(correlation, k)  # (d, k) each
    return (u * v).sum(0).abs().mean()


def predictor_matrix(predictor: nn.Module, z_mean: Tensor) -> Tensor:
    """The predictor's Jacobian at z_mean: (d,) → (d, d) (its weight, for a linear predictor). Call it in
    eval mode: BatchNorm then uses its running statistics, a function of one input."""
    return jacrev(lambda z: predictor(z[None])[0])(z_mean)


def predictor_metrics(predictor: nn.Module, z: Tensor, k: int) -> dict[str, float]:
    """The measurements of the module docstring for the held-out projections z: (N, d), float32 on the
    predictor's device. Keys ``predictor/…``: eig0 … eig{k−1} (the top k eigenvalues), eig_min,
    asymmetry, alignment (top k), rank."""
    with torch.enable_grad():  # jacrev needs autograd even where the caller measures under no_grad
        w = predictor_matrix(predictor, z.mean(0)).detach().float()  # (d, d)
    correlation = z.T @ z / len(z)  # (d, d), uncentred as DirectPred's F
    k = min(k, len(w))
    eigenvalues = symmetric_eigenvalues(w)
    out = {f"predictor/eig{j}": float(eigenvalues[j]) for j in range(k)}
    out["predictor/eig_min"] = float(eigenvalues[-1])
    out["predictor/asymmetry"] = float(asymmetry(w))
    out[ALIGNMENT] = float(eigenvector_alignment(w, correlation, k))
    out["predictor/rank"] = float(effective_rank(w))
    return out
