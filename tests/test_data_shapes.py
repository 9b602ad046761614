"""Procedural glyphs: stroke geometry against analytic distances and an independent loop; the data
module's determinism, fresh per-step samples, fixed disjoint splits and shapes; views share the instance
and no low-level statistic beyond what the class explains (and the test does catch a shared brightness)."""

import math

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from src.core.errors import ConfigError
from src.data.shapes import (
    CLASS_NAMES,
    TEMPLATES,
    ShapesDataModule,
    instance_strokes,
    render_strokes,
    segment_distance,
)
from tests.conftest import CONF, data_defaults
from tests.data_helpers import assert_fresh_and_disjoint, assert_same_batches, built, seeded
from tests.shortcuts import cross_view_r2, residual_given_labels, value_edges, view_statistics


def defaults() -> dict:
    return data_defaults("shapes")


def make(**overrides) -> ShapesDataModule:
    return built(ShapesDataModule, "shapes", **overrides)


def test_yaml_instantiates_with_the_run_seed():
    config = OmegaConf.create({"seed": 7, "data": OmegaConf.load(CONF / "data" / "shapes.yaml")})
    module = instantiate(config.data)
    assert isinstance(module, ShapesDataModule)
    assert module.seed == 7 and module.input_shape == (1, 16, 16) and module.num_classes == 10
    assert not hasattr(module, "_probe")  # nothing generated before setup


def test_templates_are_ten_distinct_glyphs_in_the_unit_frame():
    assert TEMPLATES.shape[0] == len(CLASS_NAMES) == 10
    assert TEMPLATES.abs().max() <= 1 + 1e-6
    images = render_strokes(TEMPLATES * 6 + 7.5, torch.full((10,), 0.5), 16).flatten(1)  # (10, 256)
    assert torch.cdist(images, images).add(torch.eye(10) * 100).min() > 2  # no two glyphs alike


def test_segment_distance_against_analytic_cases_and_a_loop():
    stroke = torch.tensor([[[[0.0, 0.0], [4.0, 0.0]]]])  # one horizontal stroke from (0, 0) to (4, 0)
    points = torch.tensor([[2.0, 3.0], [-3.0, 4.0], [6.0, 0.0], [1.0, 0.0]])
    assert torch.allclose(segment_distance(points, stroke)[0], torch.tensor([3.0, 5.0, 2.0, 0.0]))
    strokes = torch.rand(3, 4, 2, 2, generator=seeded(1)) * 10
    points = torch.rand(20, 2, generator=seeded(2)) * 10
    ours = segment_distance(points, strokes)
    for n in range(3):
        for p in range(20):
            best = math.inf
            for s in range(4):
                a, b, q = strokes[n, s, 0].tolist(), strokes[n, s, 1].tolist(), points[p].tolist()
                for t in [i / 2000 for i in range(2001)]:  # brute force along the stroke
                    x, y = a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
                    best = min(best, math.hypot(q[0] - x, q[1] - y))
            assert ours[n, p].item() == pytest.approx(best, abs=0.01)


def test_render_strokes_covers_the_stroke_and_nothing_far_from_it():
    stroke = torch.tensor([[[[3.0, 8.0], [12.0, 8.0]]]])  # row 8, columns 3..12
    ink = render_strokes(stroke, torch.tensor([0.5]), 16)[0]
    assert torch.equal(ink[8, 3:13], torch.ones(10))
    assert ink[:7].abs().max() == 0 and ink[10:].abs().max() == 0 and ink[8, :2].max() == 0
    assert ink.min() >= 0 and ink.max() <= 1


def test_instances_are_distorted_copies_of_their_template():
    labels = torch.arange(10).repeat(50)
    strokes = instance_strokes(labels, 0.15, seeded())
    assert strokes.shape == (500, *TEMPLATES.shape[1:])
    assert torch.equal(instance_strokes(labels, 0.0, seeded()), TEMPLATES[labels])
    error = (strokes - TEMPLATES[labels]).abs().amax((1, 2, 3))
    assert error.min() > 0 and error.max() < 1.2  # every instance its own, none far from its class


def test_views_stay_inside_the_canvas_and_differ_in_every_nuisance():
    module = make(noise_std=0.0, clutter=0, batch_size=500)
    view1, view2, labels = module.train_batch(0)
    assert view1.shape == view2.shape == (500, 1, 16, 16) and labels.dtype == torch.int64
    border = torch.cat([view1[..., 0, :], view1[..., -1, :], view1[..., :, 0], view1[..., :, -1]], -1)
    background = view1.flatten(1).amin(1)  # noise-free: the smallest pixel is the background
    assert (border - background[:, None, None]).abs().max() < 0.02  # no stroke touches the edge
    other = view2.flatten(1).amin(1)
    assert abs(torch.corrcoef(torch.stack([background, other]))[0, 1]) < 0.15  # brightness not shared
    assert torch.bincount(labels, minlength=10).min() > 25  # every class drawn


def test_same_seed_gives_identical_tensors_and_another_seed_different_ones():
    assert_same_batches(lambda seed: make(seed=seed))


def test_training_samples_are_fresh_and_the_fixed_sets_are_disjoint_from_them():
    assert_fresh_and_disjoint(make(batch_size=64), steps=300)


def test_probe_and_eval_sets_are_fixed_and_shaped():
    module = make()
    probe, evaluation = module.probe_splits(), module.eval_set()
    assert probe.train_x.shape == (256, 1, 16, 16) and probe.test_x.shape == (128, 1, 16, 16)
    assert evaluation.view1.shape == evaluation.view2.shape == (64, 1, 16, 16)
    assert not torch.equal(evaluation.view1, evaluation.view2)
    assert probe is module.probe_splits() and evaluation is module.eval_set()


def shared_residual_r2(view1: torch.Tensor, view2: torch.Tensor, labels: torch.Tensor) -> float:
    """How well one view's low-level statistics predict the other's once the class is accounted for."""
    edges = value_edges(torch.cat([view1, view2]), bins=20)
    stats1, stats2 = view_statistics(view1, edges), view_statistics(view2, edges)
    return cross_view_r2(residual_given_labels(stats1, labels, 10), residual_given_labels(stats2, labels, 10))


def test_no_low_level_statistic_is_shared_by_the_views_beyond_the_class():
    module = make(batch_size=6000)
    view1, view2, labels = module.train_batch(0)
    assert shared_residual_r2(view1, view2, labels) < 0.05  # ≈ 0.03 measured: the instance's own shape
    # The counter-example: the same views with one brightness offset per instance shared by both, as
    # spread as the per-view background. A linear read-out then has R² ≈ corr² ≈ ¼ on the mean.
    offset = torch.rand(len(labels), 1, 1, 1, generator=seeded()) - 0.5
    assert shared_residual_r2(view1 + offset, view2 + offset, labels) > 0.15


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("side", 4),
        ("distortion", 0.6),
        ("min_scale", 0),
        ("min_scale", 1.5),
        ("max_scale", 1.2),
        ("max_half_width", 0.1),
        ("max_background", -1),
        ("min_contrast", 0),
        ("noise_std", -0.1),
        ("clutter", 9),
        ("clutter", 1.0),
        ("num_probe_train", 0),
        ("num_test", None),
        ("num_eval", 0),
        ("batch_size", 0),
        ("seed", -1),
    ],
)
def test_bad_config_values_raise_one_line_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=rf"^data\.{key} must be [^\n]*, got {value!r}$"):
        ShapesDataModule(**{**defaults(), key: value})
