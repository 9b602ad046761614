"""Collapse statistics against analytic limits and against independent loop / numpy implementations."""

import itertools
import math

import numpy as np
import pytest
import torch

from src.metrics.collapse import (
    alignment,
    centred_effective_rank,
    centred_normalised_std,
    centred_singular_values,
    cosine_gap,
    effective_rank,
    l2_normalise,
    negative_cosine,
    normalised_std,
    positive_cosine,
    representation_metrics,
    singular_values,
    uniformity,
)
from tests.float_tolerance import reduction_order_tolerance


def _gaussian(n: int, d: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def _unit_rows(x: torch.Tensor) -> list[np.ndarray]:
    rows = x.double().numpy()
    return [row / np.linalg.norm(row) for row in rows]


def test_l2_normalise_gives_unit_rows_and_keeps_zero_rows_zero():
    x = torch.cat([_gaussian(5, 3), torch.zeros(1, 3)])
    norms = l2_normalise(x).norm(dim=1)
    assert torch.allclose(norms, torch.tensor([1.0] * 5 + [0.0]), atol=1e-6)


def test_constant_batch_is_completely_collapsed():
    x = torch.tensor([[3.0, -1.0, 2.0, 0.5]]).repeat(64, 1)  # (64, 4)
    assert normalised_std(x).item() == pytest.approx(0.0, abs=1e-6)
    assert effective_rank(x).item() == pytest.approx(1.0, abs=1e-3)
    sigma = singular_values(x)
    assert sigma[0] > 0 and torch.all(sigma[1:] < 1e-5 * sigma[0])  # not centred: one non-zero value


def test_all_zero_batch_reads_as_collapsed_not_nan():
    x = torch.zeros(16, 8)
    assert normalised_std(x).item() == 0.0
    assert effective_rank(x).item() == pytest.approx(1.0, abs=1e-3)


def test_isotropic_gaussian_is_spread_out():
    n, d = 4096, 64
    x = _gaussian(n, d)
    assert normalised_std(x).item() * math.sqrt(d) == pytest.approx(1.0, rel=0.03)
    assert effective_rank(x).item() > 0.9 * d


@pytest.mark.parametrize("k", [1, 3, 7])
def test_k_equal_singular_values_give_rank_k(k):
    n, d = 40, 16
    left, _ = torch.linalg.qr(_gaussian(n, k, seed=1))  # (n, k) orthonormal columns
    right, _ = torch.linalg.qr(_gaussian(d, k, seed=2))  # (d, k) orthonormal columns
    x = 2.5 * left @ right.T  # singular values: k times 2.5, then zeros
    assert effective_rank(x).item() == pytest.approx(k, rel=1e-3)


def test_effective_rank_against_formula_on_known_spectrum():
    # Two singular values 3 and 1: p = (3/4, 1/4), rank = exp(H(p)).
    x = torch.diag(torch.tensor([3.0, 1.0]))
    p = np.array([0.75, 0.25]) + 1e-7
    assert effective_rank(x).item() == pytest.approx(math.exp(-(p * np.log(p)).sum()), rel=1e-5)


def test_singular_values_sorted_descending_float32_and_shape():
    x = _gaussian(10, 6).to(torch.bfloat16)
    sigma = singular_values(x)
    assert sigma.shape == (6,) and sigma.dtype == torch.float32
    assert torch.all(sigma[:-1] >= sigma[1:])


def test_effective_rank_invariant_to_scaling_the_whole_matrix():
    x = _gaussian(50, 12) @ torch.diag(torch.linspace(0.1, 3.0, 12))
    base = effective_rank(x).item()
    for scale in (1e-3, 7.0, 1e3):
        assert effective_rank(scale * x).item() == pytest.approx(base, rel=1e-4)


def test_normalised_std_against_numpy():
    x = _gaussian(37, 9, seed=3) + 0.5
    rows = x.double().numpy()
    unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    expected = unit.std(axis=0).mean()  # numpy's default ddof=0: population std
    assert normalised_std(x).item() == pytest.approx(expected, rel=1e-5)


def test_bf16_inputs_are_measured_in_float32():
    x = _gaussian(32, 8)
    result = normalised_std(x.to(torch.bfloat16))
    assert result.dtype == torch.float32 and result.dim() == 0
    assert result.item() == pytest.approx(normalised_std(x.to(torch.bfloat16).float()).item(), rel=1e-6)


def test_alignment_of_identical_and_antipodal_views():
    x = _gaussian(20, 5)
    assert alignment(x, 3.0 * x).item() == pytest.approx(0.0, abs=1e-6)
    assert alignment(x, -x).item() == pytest.approx(4.0, rel=1e-6)


def test_uniformity_of_collapsed_set_is_zero_and_of_antipodal_pair_is_minus_2t():
    assert uniformity(torch.ones(10, 4)).item() == pytest.approx(0.0, abs=1e-6)
    pair = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])  # squared distance 4
    assert uniformity(pair, t=2.0).item() == pytest.approx(-8.0, rel=1e-6)


@pytest.mark.parametrize("t", [1.0, 2.0])
def test_uniformity_against_double_loop(t):
    x = _gaussian(12, 5, seed=4)
    unit = _unit_rows(x)
    terms = [math.exp(-t * np.sum((unit[i] - unit[j]) ** 2)) for i, j in itertools.combinations(range(12), 2)]
    assert uniformity(x, t=t).item() == pytest.approx(math.log(sum(terms) / len(terms)), rel=1e-5)


def test_positive_and_negative_cosine_against_loops():
    x, y = _gaussian(9, 4, seed=5), _gaussian(9, 4, seed=6)
    ux, uy = _unit_rows(x), _unit_rows(y)
    pos = [ux[i] @ uy[i] for i in range(9)]
    neg = [ux[i] @ uy[j] for i in range(9) for j in range(9) if i != j]
    assert positive_cosine(x, y).item() == pytest.approx(np.mean(pos), abs=1e-6)
    assert negative_cosine(x, y).item() == pytest.approx(np.mean(neg), abs=1e-6)


def test_shape_mismatch_is_one_clear_error():
    with pytest.raises(ValueError, match="same"):
        alignment(torch.zeros(4, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="2-D"):
        normalised_std(torch.zeros(4))


def test_representation_metrics_keys_and_values():
    view1, view2 = _gaussian(30, 6, seed=7), _gaussian(30, 6, seed=8)
    metrics = representation_metrics(view1, view2, "z")
    assert list(metrics) == [
        "z_std",
        "z_std_sqrt_d",
        "z_rank",
        "z_rank_frac",
        "z_align",
        "z_uniform",
        "z_cos_pos",
        "z_cos_neg",
        "z_cos_gap",
        "z_cos_gap_centred",
        "z_std_sqrt_d_centred",
        "z_rank_centred",
        "z_rank_frac_centred",
    ]
    assert all(type(value) is float for value in metrics.values())
    assert metrics["z_std"] == pytest.approx(normalised_std(view1).item())
    assert metrics["z_std_sqrt_d"] == pytest.approx(metrics["z_std"] * math.sqrt(6))
    assert metrics["z_rank_frac"] == pytest.approx(effective_rank(view1).item() / 6)
    assert metrics["z_uniform"] == pytest.approx(uniformity(view1).item())
    assert metrics["z_align"] == pytest.approx(alignment(view1, view2).item())
    assert metrics["z_cos_pos"] == pytest.approx(positive_cosine(view1, view2).item())
    assert metrics["z_cos_neg"] == pytest.approx(negative_cosine(view1, view2).item())


def test_rank_frac_divides_by_min_n_d_when_samples_are_fewer_than_dimensions():
    view1 = _gaussian(4, 10, seed=11)
    metrics = representation_metrics(view1, view1, "h")
    assert metrics["h_rank_frac"] == pytest.approx(effective_rank(view1).item() / 4)
    assert metrics["h_std_sqrt_d"] == pytest.approx(metrics["h_std"] * math.sqrt(10))


def test_representation_metrics_single_view_statistics_ignore_view2():
    view1 = _gaussian(30, 6, seed=9)
    a = representation_metrics(view1, _gaussian(30, 6, seed=10), "h")
    b = representation_metrics(view1, torch.ones(30, 6), "h")
    for key in ("h_std", "h_rank", "h_uniform"):
        assert a[key] == b[key]
    assert a["h_cos_pos"] != b["h_cos_pos"]


def test_representation_metrics_of_collapsed_output():
    constant = torch.full((20, 8), 0.3)
    metrics = representation_metrics(constant, constant, "p")
    assert metrics["p_std_sqrt_d"] == pytest.approx(0.0, abs=1e-5)
    assert metrics["p_rank_frac"] == pytest.approx(1 / 8, rel=1e-3)
    assert metrics["p_align"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["p_cos_pos"] == pytest.approx(1.0) and metrics["p_cos_neg"] == pytest.approx(1.0)


# ---- centred statistics and the cosine gap ----------------------------------------------------------


def _np_centred(x: torch.Tensor, mean: np.ndarray | None = None) -> np.ndarray:
    """Independent centring: unit rows in float64 minus their (or the given) mean."""
    unit = np.array(_unit_rows(x))
    return unit - (unit.mean(axis=0) if mean is None else mean)


def _np_gap(x: np.ndarray, y: np.ndarray) -> float:
    def unit(a):
        norms = np.linalg.norm(a, axis=1, keepdims=True)
        return np.divide(a, norms, out=np.zeros_like(a), where=norms > 1e-12)

    cos = unit(x) @ unit(y).T
    n = len(x)
    return float(np.trace(cos) / n - (cos.sum() - np.trace(cos)) / (n * (n - 1)))


def _shared_mean_pair(n: int = 512, d: int = 32, mean_norm: float = 50.0):
    """A large mean shared by every output plus isotropic per-input noise; view 2 = view 1 + a little
    view noise. Informative (each input has its own direction) but nearly parallel rows."""
    g = torch.Generator().manual_seed(21)
    mean = torch.zeros(d)
    mean[0] = mean_norm
    signal = torch.randn(n, d, generator=g)
    return mean + signal, mean + signal + 0.3 * torch.randn(n, d, generator=g)


def _constant_pair(n: int = 512, d: int = 32, noise: float = 1e-4):
    """A constant plus tiny noise drawn independently per view: the output ignores its input."""
    g = torch.Generator().manual_seed(22)
    constant = torch.randn(d, generator=g)
    return (
        constant + noise * torch.randn(n, d, generator=g),
        constant + noise * torch.randn(n, d, generator=g),
    )


def test_centred_statistics_against_numpy():
    x, y = _gaussian(40, 7, seed=12) + 1.5, _gaussian(40, 7, seed=13) + 1.5
    c = _np_centred(x)
    renormalised = c / np.linalg.norm(c, axis=1, keepdims=True)
    assert centred_normalised_std(x).item() == pytest.approx(renormalised.std(axis=0).mean(), rel=1e-5)
    sigma = np.linalg.svd(c, compute_uv=False)
    assert centred_singular_values(x).numpy() == pytest.approx(sigma, rel=1e-4, abs=1e-6)
    p = sigma / sigma.sum() + 1e-7
    assert centred_effective_rank(x).item() == pytest.approx(math.exp(-(p * np.log(p)).sum()), rel=1e-4)
    # The gap is a difference of two means of cosines, |c| ≤ 1, each cosine a d-term dot product of rows
    # normalised by a d-term norm. The negatives' mean adds all N² cosines, then divides by N(N − 1): at most
    # N² + 2d additions deep, over terms of mean magnitude ≤ N/(N − 1); the positives' mean, N + 2d deep.
    # An absolute bound, not one relative to the gap, a small difference of two means near 1: with
    # ATEN_CPU_CAPABILITY=default they came out 6.6e-8 off, 1.4e-6 of the gap (against 2e-4 allowed).
    n, d = x.shape
    negatives = reduction_order_tolerance(n * n + 2 * d, n / (n - 1))
    positives = reduction_order_tolerance(n + 2 * d, 1.0)
    numpy_gap = _np_gap(np.array(_unit_rows(x)), np.array(_unit_rows(y)))
    assert cosine_gap(x, y).item() == pytest.approx(numpy_gap, abs=negatives + positives)
    pooled = np.concatenate([_unit_rows(x), _unit_rows(y)]).mean(axis=0)
    expected = _np_gap(_np_centred(x, pooled), _np_centred(y, pooled))
    assert cosine_gap(x, y, centred=True).item() == pytest.approx(expected, abs=1e-5)


def test_a_large_shared_mean_hides_information_from_the_uncentred_statistics_only():
    x, y = _shared_mean_pair()
    d = x.shape[1]
    assert normalised_std(x).item() * math.sqrt(d) < 0.2  # SimSiam's monitor reads it as collapsing
    assert cosine_gap(x, y).item() < 0.1  # raw cosines all ≈ 1: positives barely closer than negatives
    assert cosine_gap(x, y, centred=True).item() > 0.8  # around the mean, views of one input agree
    assert centred_normalised_std(x).item() * math.sqrt(d) == pytest.approx(1.0, rel=0.05)
    assert centred_effective_rank(x).item() > 0.8 * d


def test_a_constant_plus_tiny_noise_carries_no_information():
    x, y = _constant_pair()
    assert normalised_std(x).item() < 1e-3
    assert abs(cosine_gap(x, y).item()) < 1e-3
    assert abs(cosine_gap(x, y, centred=True).item()) < 0.02  # the views' noise is independent


def test_an_exact_constant_has_zero_gap_and_rank_one_when_centred():
    x = torch.tensor([[1.0, -2.0, 0.5]]).repeat(16, 1)
    assert cosine_gap(x, x, centred=True).item() == 0.0
    assert centred_effective_rank(x).item() == pytest.approx(1.0, abs=1e-3)
    assert centred_normalised_std(x).item() == 0.0


@pytest.mark.parametrize("k", [1, 2, 5])
def test_a_rank_k_subspace_has_centred_rank_k_around_any_mean(k):
    n, d = 2000, 32
    basis, _ = torch.linalg.qr(_gaussian(d, k, seed=14))  # (d, k) orthonormal
    offset = torch.zeros(d)
    offset[-1] = 0.0 if k == 1 else 3.0  # an offset outside the subspace: only the centred rank ignores it
    x = _gaussian(n, k, seed=15) @ basis.T + offset  # (n, d), varying in k directions
    # Unit rows bend the subspace slightly (‖x‖ varies), hence the tolerance: rank ≈ k, far below d.
    assert k * 0.8 <= centred_effective_rank(x).item() <= k * 1.5 + 0.5


def test_centred_std_of_deviations_along_k_axes_is_sqrt_k_over_d():
    n, d, k = 4000, 16, 4
    x = torch.zeros(n, d)
    x[:, :k] = torch.sign(_gaussian(n, k, seed=18))  # ±1 on k axes: unit rows, mean 0, each coord std 1/√k
    expected = math.sqrt(k) / d  # k coordinates of std 1/√k, d − k of std 0, averaged over d
    assert centred_normalised_std(x).item() == pytest.approx(expected, rel=0.02)


def test_representation_metrics_holds_the_centred_statistics():
    view1, view2 = _gaussian(30, 6, seed=16) + 2.0, _gaussian(30, 6, seed=17) + 2.0
    metrics = representation_metrics(view1, view2, "h")
    assert metrics["h_cos_gap"] == pytest.approx(metrics["h_cos_pos"] - metrics["h_cos_neg"], abs=1e-6)
    assert metrics["h_cos_gap_centred"] == pytest.approx(cosine_gap(view1, view2, centred=True).item())
    assert metrics["h_rank_centred"] == pytest.approx(centred_effective_rank(view1).item())
    assert metrics["h_rank_frac_centred"] == pytest.approx(metrics["h_rank_centred"] / 6)
    assert metrics["h_std_sqrt_d_centred"] == pytest.approx(
        centred_normalised_std(view1).item() * math.sqrt(6)
    )
