"""Shortcut detectors: can low-level statistics of one view predict the label or the other view?

A self-supervised objective is satisfied by anything the two views share. If a cheap per-view statistic
(a value histogram, a moment, the autocorrelation, the extremes) is shared by the two views but carries
no class information, agreeing on it solves the objective without learning the class. These functions
measure that, training nothing: per-channel statistics of each view, a logistic classifier from them to
the label and a ridge regression from one view's statistics to the other's, both scored on held-out
rows. A measurement helper of the tests, not of a run: the data tests (tests/test_data_stereo_shortcut.py,
tests/test_data_shapes.py) run them on the shipped renderers, and on a deliberately leaky variant to show
they detect a shortcut when there is one; tests/test_data_shortcuts.py checks them against analytic limits.
"""

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

AUTOCORRELATION_LAGS = (1, 2, 3)


def moments(x: torch.Tensor) -> torch.Tensor:
    """Mean, variance, skewness and excess kurtosis over the last axis. x: (N, D). Returns (N, 4)."""
    mean = x.mean(-1, keepdim=True)
    centred = x - mean
    var = centred.square().mean(-1)
    std = var.clamp_min(1e-12).sqrt()
    skew = centred.pow(3).mean(-1) / std**3
    kurtosis = centred.pow(4).mean(-1) / std**4 - 3
    return torch.stack([mean[:, 0], var, skew, kurtosis], dim=1)


def autocorrelation(x: torch.Tensor, lags: tuple[int, ...] = AUTOCORRELATION_LAGS) -> torch.Tensor:
    """Normalised autocorrelation along the last (spatial) axis at each lag, averaged over the other
    spatial axes. x: (N, *spatial) with spatial[-1] > max(lags). Returns (N, len(lags))."""
    centred = x - x.flatten(1).mean(1).view(-1, *[1] * (x.dim() - 1))
    var = centred.flatten(1).square().mean(1).clamp_min(1e-12)  # (N,)
    lagged = [(centred[..., k:] * centred[..., :-k]).flatten(1).mean(1) / var for k in lags]
    return torch.stack(lagged, dim=1)


def histogram(x: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Fraction of each row's values in each bin [edges[i], edges[i+1]); values outside fall in the end
    bins. x: (N, D); edges: (B + 1,) increasing. Returns (N, B)."""
    bins = len(edges) - 1
    index = (torch.bucketize(x.contiguous(), edges[1:-1].contiguous(), right=True)).clamp(0, bins - 1)
    counts = torch.zeros(x.shape[0], bins, dtype=torch.float32).scatter_add_(1, index, torch.ones_like(x))
    return counts / x.shape[1]


def view_statistics(views: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Per-channel monocular statistics of each view: value histogram over ``edges``, the four moments,
    lag-1..3 autocorrelation, minimum and maximum. views: (N, C, *spatial). Returns (N, C·F)."""
    per_channel = []
    for c in range(views.shape[1]):
        x = views[:, c]  # (N, *spatial)
        flat = x.flatten(1)
        per_channel += [
            histogram(flat, edges),
            moments(flat),
            autocorrelation(x),
            flat.amin(1, keepdim=True),
            flat.amax(1, keepdim=True),
        ]
    return torch.cat(per_channel, dim=1)


def value_edges(views: torch.Tensor, bins: int) -> torch.Tensor:
    """``bins`` + 1 equal-width histogram edges spanning the 0.1 %–99.9 % quantiles of the pooled values."""
    sample = views.flatten()[:: max(1, views.numel() // 200_000)]
    low, high = torch.quantile(sample, torch.tensor([0.001, 0.999])).tolist()
    return torch.linspace(low, high, bins + 1)


def label_accuracy(stats: torch.Tensor, labels: torch.Tensor, train_fraction: float = 0.5) -> float:
    """Held-out accuracy of a standardised logistic regression from ``stats`` (N, F) to ``labels`` (N,)."""
    split = int(len(labels) * train_fraction)
    x, y = stats.double().numpy(), labels.numpy()
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return float(classifier.fit(x[:split], y[:split]).score(x[split:], y[split:]))


def cross_view_r2(stats1: torch.Tensor, stats2: torch.Tensor, train_fraction: float = 0.5) -> float:
    """The best held-out R² of a standardised ridge regression from one view's statistics to any one of
    the other view's (the most predictable statistic: a single shared cue is enough for a shortcut;
    constant targets drop out). 0 = no better than its mean. stats1, stats2: (N, F)."""
    split = int(len(stats1) * train_fraction)
    x, y = stats1.double().numpy(), stats2.double().numpy()
    keep = y[:split].std(0) > 1e-9  # a statistic constant on the training rows cannot be scored
    regression = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(x[:split], y[:split, keep])
    prediction = regression.predict(x[split:])
    return float(r2_score(y[split:, keep], prediction, multioutput="raw_values").max())


def residual_given_labels(stats: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``stats`` minus the mean of its class, so that what remains carries no class information (used
    where the label itself is legitimately visible in one view). stats: (N, F). Returns (N, F)."""
    means = torch.stack([stats[labels == c].mean(0) for c in range(num_classes)])  # (C, F)
    return stats - means[labels]


def chance_margin(num_test: int, num_classes: int, standard_errors: float = 4.0) -> float:
    """``standard_errors`` binomial standard errors of an accuracy at chance on ``num_test`` rows."""
    chance = 1 / num_classes
    return standard_errors * float(np.sqrt(chance * (1 - chance) / num_test))
