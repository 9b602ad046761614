"""Neither eye alone carries the disparity: per-eye statistics (value histogram, moments, lag-1..3
autocorrelation, extremes) predict neither the depth label nor the other view's statistics, while the
eyes' correlation predicts depth. The same test catches the shortcut of the old renderer, which
interpolated the right eye linearly between ±1 dots (the issue's finding, reproduced here)."""

import pytest
import torch

from src.data.stereo import StereoDataModule, disparity_bins, random_dots
from tests.conftest import data_defaults
from tests.data_helpers import eye_correlations
from tests.shortcuts import chance_margin, cross_view_r2, label_accuracy, value_edges, view_statistics


def interpolating_right_eye(dots: torch.Tensor, disparity: float, width: int) -> torch.Tensor:
    """The OLD renderer, kept only as the counter-example: right[x] = linear interpolation of the ±1
    dots at x + d. dots: (..., L ≥ width + ⌊d⌋ + 1). Returns (..., width)."""
    position = torch.arange(width) + disparity
    below = position.floor().long()
    fraction = position - below
    return (1 - fraction) * dots[..., below] + fraction * dots[..., below + 1]


def old_renderer_views(num: int, width: int = 24) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two patches (own dots, one planar disparity) of ``num`` stereograms, as the old renderer drew
    them. Returns view1, view2 (num, 2, width) and the disparities (num,)."""
    g = torch.Generator().manual_seed(5)
    disparity = torch.rand(num, generator=g) * 4
    views = []
    for _ in range(2):
        dots = random_dots((num, width + 5), g)
        right = torch.stack(
            [interpolating_right_eye(dots[i], disparity[i].item(), width) for i in range(num)]
        )
        views.append(torch.stack([dots[:, :width], right], dim=1))
    return views[0], views[1], disparity


def monocular_scores(view1, view2, labels) -> tuple[float, float]:
    """(label accuracy, cross-view R²) of the per-eye statistics: histogram, moments, ACF, extremes."""
    edges = value_edges(torch.cat([view1, view2]), bins=20)
    stats1, stats2 = view_statistics(view1, edges), view_statistics(view2, edges)
    return label_accuracy(stats1, labels), cross_view_r2(stats1, stats2)


def test_the_old_interpolating_renderer_leaks_a_shared_monocular_cue():
    view1, view2, disparity = old_renderer_views(4000)
    _, r2 = monocular_scores(view1, view2, disparity_bins(disparity, 4.0, 4))
    assert r2 > 0.3  # ≈ 0.7: the right eye's interpolated values give frac(d) away to both views
    edges = value_edges(view1, bins=20)
    fraction_cue = (1 - 2 * (disparity - disparity.floor())).abs()
    assert cross_view_r2(view_statistics(view1, edges), fraction_cue[:, None]) > 0.8


@pytest.mark.parametrize("surface", ["planar", "curved"])
def test_no_monocular_statistic_predicts_depth_or_the_other_view(surface):
    module = StereoDataModule(**{**data_defaults("stereo"), "surface": surface, "batch_size": 4000})
    view1, view2, labels = module.train_batch(0)
    accuracy, r2 = monocular_scores(view1, view2, labels)
    assert abs(accuracy - 1 / 4) < chance_margin(2000, 4)  # 4 standard errors: ±0.039
    assert r2 < 0.02
    features = eye_correlations(view1, 4)
    assert label_accuracy(features, labels) > 0.85  # the binocular feature does predict depth
