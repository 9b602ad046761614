"""Collapse statistics of an embedding matrix (docs/design.md §5), as small pure functions.

Every function takes rows = samples, columns = dimensions, detaches its inputs and computes in float32
(bf16 activations would otherwise lose the small singular values and the 1/√d scale of the std).
Results are 0-dim float32 tensors on the input's device unless stated.

Conventions pinned here and used everywhere in the suite:

- The embedding matrix is NOT centred before the SVD (RankMe, Garrido et al. 2023, takes the singular
  values of the raw embeddings). A constant matrix then has exactly one non-zero singular value, so its
  effective rank is 1: complete collapse reads as rank 1, not as an undefined 0/0.
- Standard deviations are population stds (correction=0): they describe the held-out set itself, and
  they make a constant set exactly 0.
- Zero rows stay zero after ℓ2 normalisation (F.normalize's eps), so a network that outputs all zeros
  reads as completely collapsed rather than as NaN.
- The *centred* statistics (``centred_*``, ``cosine_gap``) first ℓ2-normalise the rows and subtract
  their mean direction, so a large mean shared by every output (which drives the uncentred std and the
  raw cosines towards "collapsed") is not mistaken for collapse; they describe how the outputs vary
  around that mean. The uncentred ones are kept for continuity with SimSiam's monitor and RankMe.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def _as_matrix(x: Tensor, name: str, min_rows: int = 1) -> Tensor:
    """Detached float32 copy of a 2-D (N, d) tensor; one clear error line otherwise."""
    if x.dim() != 2 or x.shape[0] < min_rows or x.shape[1] < 1:
        raise ValueError(
            f"{name} must be a 2-D (N, d) tensor with N >= {min_rows}, got shape {tuple(x.shape)}"
        )
    return x.detach().to(torch.float32)


def _as_pair(x: Tensor, y: Tensor, min_rows: int = 1) -> tuple[Tensor, Tensor]:
    """Two row-aligned (N, d) matrices: row i of x and row i of y are a positive pair."""
    x, y = _as_matrix(x, "x", min_rows), _as_matrix(y, "y", min_rows)
    if x.shape != y.shape:
        raise ValueError(
            f"x and y must have the same (N, d) shape, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    return x, y


def l2_normalise(x: Tensor) -> Tensor:
    """Rows scaled to unit ℓ2 length; zero rows stay zero (F.normalize's eps)."""
    return F.normalize(x.detach().to(torch.float32), dim=1)  # (N, d)


def normalised_std(x: Tensor) -> Tensor:
    """SimSiam's collapse monitor (Chen & He 2021, §4.1): "the std of the ℓ2-normalized output".

    Rows are ℓ2-normalised, the std over samples is taken per dimension (population std,
    correction=0), and averaged over dimensions. 0 under complete collapse; ≈ 1/√d when the outputs
    are isotropic (each coordinate of a uniform unit vector has variance 1/d).
    """
    x = _as_matrix(x, "x")
    return l2_normalise(x).std(dim=0, correction=0).mean()  # (N, d) -> (d,) -> ()


def singular_values(x: Tensor) -> Tensor:
    """Singular values of the NOT centred (N, d) matrix, (min(N, d),) float32, sorted descending.

    Not centred, as in RankMe: a constant matrix has exactly one non-zero singular value, so complete
    collapse has rank 1. The same convention is used everywhere in the suite.
    """
    return torch.linalg.svdvals(_as_matrix(x, "x"))  # (min(N, d),), descending by definition


def effective_rank(x: Tensor, eps: float = 1e-7) -> Tensor:
    """Effective rank (Roy & Vetterli 2007; RankMe, Garrido et al. 2023, Eq. 1).

    p_k = σ_k / ‖σ‖₁ + ε, rank = exp(−Σ_k p_k log p_k), on the NOT centred matrix. 1 under collapse, up
    to min(N, d) for a flat spectrum; invariant to scaling the whole matrix.
    NOTE: ‖σ‖₁ is clamped away from 0 so an all-zero matrix gives rank ≈ 1 (collapsed) instead of NaN.
    """
    sigma = singular_values(x)  # (m,)
    p = sigma / sigma.sum().clamp_min(torch.finfo(sigma.dtype).tiny) + eps  # (m,)
    return torch.exp(-(p * torch.log(p)).sum())


def alignment(x: Tensor, y: Tensor) -> Tensor:
    """Wang & Isola (2020) alignment with α = 2: mean over positive pairs of ‖x̂_i − ŷ_i‖², x̂ = x/‖x‖.

    0 when the two views map to the same point, 4 when they are antipodal.
    """
    x, y = _as_pair(x, y)
    return (l2_normalise(x) - l2_normalise(y)).pow(2).sum(dim=1).mean()  # (N,) -> ()


def uniformity(x: Tensor, t: float = 2.0) -> Tensor:
    """Wang & Isola (2020) uniformity: log mean_{i<j} exp(−t‖x̂_i − x̂_j‖²) on ℓ2-normalised rows.

    0 for a collapsed set (all distances 0), more negative the more spread out. Uses all N(N−1)/2
    distinct pairs (O(N²) memory), evaluated as a logsumexp so it cannot underflow to log 0.
    """
    x = _as_matrix(x, "x", min_rows=2)
    sq_dist = torch.pdist(l2_normalise(x), p=2).pow(2)  # (N(N−1)/2,)
    return torch.logsumexp(-t * sq_dist, dim=0) - math.log(sq_dist.numel())


def positive_cosine(x: Tensor, y: Tensor) -> Tensor:
    """Mean cosine similarity of the positive pairs (x_i, y_i)."""
    x, y = _as_pair(x, y)
    return (l2_normalise(x) * l2_normalise(y)).sum(dim=1).mean()  # (N,) -> ()


def negative_cosine(x: Tensor, y: Tensor) -> Tensor:
    """Mean cosine similarity of the non-matching pairs (x_i, y_j), i ≠ j.

    NOTE: docs/design.md speaks of "random non-matching pairs"; we average over ALL N(N−1) of them instead of
    a random sample, so the number is deterministic and needs no generator.
    """
    x, y = _as_pair(x, y, min_rows=2)
    n = x.shape[0]
    cos = l2_normalise(x) @ l2_normalise(y).T  # (N, N)
    return (cos.sum() - cos.diagonal().sum()) / (n * (n - 1))


def centred_directions(x: Tensor, mean: Tensor | None = None) -> Tensor:
    """ℓ2-normalised rows minus their mean direction: (N, d) → (N, d).

    ``mean`` (d,) is the mean direction to subtract (default: that of x itself); a pair of views is
    centred with the mean of both, so their cosines are comparable. An exactly constant x gives zeros.
    """
    unit = l2_normalise(_as_matrix(x, "x"))  # (N, d)
    return unit - (unit.mean(dim=0) if mean is None else mean)  # (N, d)


def centred_normalised_std(x: Tensor) -> Tensor:
    """normalised_std of the centred directions, each re-normalised to unit length.

    How evenly the deviations from the mean direction spread over the coordinates, whatever their size:
    ≈ 1/√d for isotropic deviations (also around a large shared mean), √k/d for deviations confined to
    k coordinate axes. NOTE: like normalised_std it is not rotation invariant (a random k-dimensional
    subspace spreads over all coordinates): centred_effective_rank is the measure of dimension. And it
    is scale-free by design, so a constant plus tiny noise reads as spread out; whether the outputs
    carry information is what the cosine gap measures.
    """
    return normalised_std(centred_directions(x))  # (N, d) -> ()


def centred_singular_values(x: Tensor) -> Tensor:
    """Singular values of the centred directions (the PCA spectrum of x's ℓ2-normalised rows),
    (min(N, d),) float32, descending. All zero for a constant x."""
    return torch.linalg.svdvals(centred_directions(x))  # (min(N, d),)


def centred_effective_rank(x: Tensor, eps: float = 1e-7) -> Tensor:
    """effective_rank's entropy formula on centred_singular_values: how many directions the outputs
    vary in around their mean. k for a rank-k subspace around any mean; ≈ 1 for an exactly constant x
    (all singular values 0: p_k = ε for all k)."""
    sigma = centred_singular_values(x)  # (m,)
    p = sigma / sigma.sum().clamp_min(torch.finfo(sigma.dtype).tiny) + eps  # (m,)
    return torch.exp(-(p * torch.log(p)).sum())


def cosine_gap(x: Tensor, y: Tensor, centred: bool = False) -> Tensor:
    """Mean cosine of positive pairs minus that of non-matching pairs: how much closer the two views of
    one input are than two different inputs, i.e. whether the output carries information about its
    input. 0 when the output does not depend on the input (collapse), up to ≈ 1.

    With ``centred`` both views are first centred with their common mean direction
    (centred_directions), so a large shared mean neither shrinks the gap nor hides collapse. An exactly
    constant output then has zero rows, cosines 0 and a gap of 0.
    """
    x, y = _as_pair(x, y, min_rows=2)
    if centred:
        mean = torch.cat([l2_normalise(x), l2_normalise(y)]).mean(dim=0)  # (d,)
        x, y = centred_directions(x, mean), centred_directions(y, mean)  # (N, d) each
    return positive_cosine(x, y) - negative_cosine(x, y)


def representation_metrics(view1: Tensor, view2: Tensor, name: str) -> dict[str, float]:
    """All collapse statistics of one representation (e.g. "h", "z", "p") as a flat dict of floats.

    view1 and view2 are (N, d) and row-aligned (row i of each comes from the same input). std, rank and
    uniformity describe view1 alone; alignment and the cosines describe the pairs.
    """
    view1, view2 = _as_pair(view1, view2, min_rows=2)
    n, d = view1.shape
    std = normalised_std(view1).item()
    rank = effective_rank(view1).item()
    crank = centred_effective_rank(view1).item()
    return {
        f"{name}_std": std,
        f"{name}_std_sqrt_d": std * math.sqrt(d),  # 1 means as spread out as an isotropic Gaussian
        f"{name}_rank": rank,
        f"{name}_rank_frac": rank / min(n, d),
        f"{name}_align": alignment(view1, view2).item(),
        f"{name}_uniform": uniformity(view1).item(),
        f"{name}_cos_pos": positive_cosine(view1, view2).item(),
        f"{name}_cos_neg": negative_cosine(view1, view2).item(),
        f"{name}_cos_gap": cosine_gap(view1, view2).item(),
        f"{name}_cos_gap_centred": cosine_gap(view1, view2, centred=True).item(),
        f"{name}_std_sqrt_d_centred": centred_normalised_std(view1).item() * math.sqrt(d),
        f"{name}_rank_centred": crank,
        f"{name}_rank_frac_centred": crank / min(n, d),
    }
