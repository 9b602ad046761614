"""The shortcut detectors against numpy/scipy and analytic limits: identical statistics are fully
predictable (R² → 1), independent ones not at all (R² ≈ 0); chance-level labels score at chance."""

import numpy as np
import pytest
import torch
from scipy import stats as scipy_stats

from tests.shortcuts import (
    autocorrelation,
    chance_margin,
    cross_view_r2,
    histogram,
    label_accuracy,
    moments,
    residual_given_labels,
    value_edges,
    view_statistics,
)


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_moments_match_scipy():
    x = randn(5, 300).exp()  # skewed
    ours = moments(x).numpy()
    data = x.numpy()
    np.testing.assert_allclose(ours[:, 0], data.mean(1), rtol=1e-10)
    np.testing.assert_allclose(ours[:, 1], data.var(1), rtol=1e-10)
    np.testing.assert_allclose(ours[:, 2], scipy_stats.skew(data, axis=1), rtol=1e-8)
    np.testing.assert_allclose(ours[:, 3], scipy_stats.kurtosis(data, axis=1), rtol=1e-8)


def test_autocorrelation_matches_numpy_and_its_limits():
    x = randn(3, 4, 50)
    ours = autocorrelation(x, (1, 2)).numpy()
    for n in range(3):
        c = x[n].numpy() - x[n].numpy().mean()
        expected = [(c[:, k:] * c[:, :-k]).mean() / (c**2).mean() for k in (1, 2)]
        np.testing.assert_allclose(ours[n], expected, rtol=1e-10)
    alternating = torch.tensor([[1.0, -1.0] * 20])
    assert torch.allclose(autocorrelation(alternating, (1, 2)), torch.tensor([[-1.0, 1.0]]), atol=0.03)


def test_histogram_matches_numpy_and_clips_into_the_end_bins():
    x = randn(4, 1000)
    edges = torch.linspace(-2, 2, 9, dtype=torch.float64)
    ours = histogram(x.float(), edges.float())
    for n in range(4):
        counts, _ = np.histogram(np.clip(x[n].numpy(), -2, 2 - 1e-9), bins=edges.numpy())
        np.testing.assert_allclose(ours[n].numpy(), counts / 1000, atol=1e-6)
    assert torch.allclose(ours.sum(1), torch.ones(4))


def test_view_statistics_shape_and_edges():
    views = randn(10, 2, 3, 8).float()
    edges = value_edges(views, bins=6)
    assert len(edges) == 7 and edges[0] < -2 and edges[-1] > 2
    assert view_statistics(views, edges).shape == (10, 2 * (6 + 4 + 3 + 2))


def test_cross_view_r2_is_one_for_a_shared_statistic_and_zero_for_independent_ones():
    a, b = randn(4000, 6, seed=1).float(), randn(4000, 6, seed=2).float()
    assert cross_view_r2(a, a) > 0.99
    assert abs(cross_view_r2(a, b)) < 0.01
    mixed = b.clone()
    mixed[:, 3] = a[:, 0] + 0.5 * b[:, 3]  # one shared cue among noise: R² = 1/(1 + ¼) = 0.8
    assert cross_view_r2(a, mixed) == pytest.approx(0.8, abs=0.03)


def test_label_accuracy_at_chance_and_when_the_label_is_visible():
    x = randn(4000, 5, seed=3).float()
    labels = torch.randint(0, 4, (4000,), generator=torch.Generator().manual_seed(4))
    assert abs(label_accuracy(x, labels) - 0.25) < chance_margin(2000, 4)
    x[:, 0] += labels * 3
    assert label_accuracy(x, labels) > 0.9
    assert chance_margin(2000, 4) == pytest.approx(4 * (0.25 * 0.75 / 2000) ** 0.5)


def test_residual_given_labels_removes_the_class_means():
    labels = torch.arange(6).repeat(100) % 3
    x = randn(600, 2).float() + labels[:, None].float() * 10
    residual = residual_given_labels(x, labels, 3)
    for c in range(3):
        assert residual[labels == c].mean(0).abs().max() < 1e-5
