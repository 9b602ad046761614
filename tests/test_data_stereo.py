"""Random-dot stereograms: the texture against analytic cases and an independent numpy sum; the data
module's determinism, fresh per-step samples, fixed disjoint splits and shapes; depth is invisible to a
linear classifier on the pixels and plain to one on the eyes' correlation (Becker & Hinton 1992). The
monocular shortcut is tested in test_data_stereo_shortcut.py."""

import math

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from sklearn.linear_model import LogisticRegression

from src.core.errors import ConfigError
from src.data.stereo import (
    StereoDataModule,
    curved_disparity,
    disparity_bins,
    dot_texture,
    flip_dots,
    planar_disparity,
    random_dots,
    stereogram_patches,
    texture_scale,
)
from tests.conftest import CONF, data_defaults
from tests.data_helpers import assert_fresh_and_disjoint, assert_same_batches, built, eye_correlations, seeded

SIGMA, DENSITY = 0.5, 1.0


def defaults() -> dict:
    return data_defaults("stereo")


def make(**overrides) -> StereoDataModule:
    return built(StereoDataModule, "stereo", **overrides)


def patches(
    disparity: torch.Tensor, num_patches: int = 2, height: int = 1, noise: float = 0.0
) -> torch.Tensor:
    return stereogram_patches(disparity, num_patches, height, SIGMA, DENSITY, noise, seeded())


def test_yaml_instantiates_with_the_run_seed():
    config = OmegaConf.create({"seed": 7, "data": OmegaConf.load(CONF / "data" / "stereo.yaml")})
    module = instantiate(config.data)
    assert isinstance(module, StereoDataModule)
    assert module.seed == 7
    assert module.input_shape == (2, config.data.patch_width)
    assert module.num_classes == config.data.num_disparity_bins
    assert not hasattr(module, "probe_train")  # nothing generated before setup


def test_random_dots_are_balanced_signs():
    dots = random_dots((100_000,), seeded())
    assert set(dots.unique().tolist()) == {-1.0, 1.0}
    assert abs(dots.mean().item()) < 0.02


def test_dot_texture_is_a_sum_of_gaussian_blobs_like_numpy():
    positions = torch.rand(3, 7, generator=seeded(1)) * 10
    dots, signs = torch.rand(3, 5, generator=seeded(2)) * 10, random_dots((3, 5), seeded(3))
    ours = dot_texture(positions, dots, signs, 0.7)
    for row in range(3):
        p, u, s = positions[row].double().numpy(), dots[row].double().numpy(), signs[row].double().numpy()
        reference = [sum(s[i] * math.exp(-((q - u[i]) ** 2) / (2 * 0.7**2)) for i in range(5)) for q in p]
        np.testing.assert_allclose(ours[row].numpy(), reference, atol=1e-5)
    one = dot_texture(torch.arange(5.0), torch.tensor([2.0]), torch.tensor([1.0]), 1.0)  # one dot at 2
    assert torch.allclose(one, torch.exp(-0.5 * (torch.arange(5.0) - 2) ** 2))


def test_rendered_pixels_have_unit_variance_and_zero_mean():
    x = patches(torch.zeros(4000, 48))
    assert abs(x.mean().item()) < 0.02 and abs(x.var().item() - 1) < 0.03
    assert texture_scale(0.5, 1.0) == pytest.approx(math.sqrt(0.5 * math.sqrt(math.pi)))


@pytest.mark.parametrize("shift", [0, 1, 3])
def test_right_eye_is_left_eye_shifted_by_an_integer_disparity(shift):
    x = patches(torch.full((6, 48), float(shift)), height=3)  # (6, 2, 2, 3, 24)
    assert x.shape == (6, 2, 2, 3, 24)
    left, right = x[:, :, 0], x[:, :, 1]
    assert torch.allclose(right[..., : 24 - shift], left[..., shift:], atol=1e-5)  # every row


def test_right_eye_samples_the_same_texture_between_pixels():
    # Half a pixel of disparity: the right eye is no left pixel but correlates with its neighbours as
    # the texture's autocorrelation exp(−Δ²/4σ²) says at Δ = ½.
    x = patches(torch.full((200, 48), 0.5))
    left, right = x[:, :, 0], x[:, :, 1]
    assert not torch.allclose(right[..., :-1], left[..., 1:], atol=1e-3)
    lag_half = (left[..., :-1] * right[..., :-1]).mean() / (left.var() * right.var()).sqrt()
    assert lag_half.item() == pytest.approx(math.exp(-(0.5**2) / (4 * SIGMA**2)), abs=0.03)  # texture's ACF


def test_patches_share_the_surface_but_no_dots_and_rows_have_their_own_dots():
    x = patches(torch.full((2000, 72), 2.0), num_patches=3, height=2)
    left = x[:, :, 0]  # (N, P, H, W)
    assert abs(torch.corrcoef(torch.stack([left[:, 0, 0, 0], left[:, 1, 0, 0]]))[0, 1].item()) < 0.08
    assert abs(torch.corrcoef(torch.stack([left[:, 0, 0, 5], left[:, 0, 1, 5]]))[0, 1].item()) < 0.08


def test_training_noise_decorrelates_the_eyes_by_one_minus_twice_the_flip_rate_squared():
    clean, noisy = patches(torch.zeros(3000, 48)), patches(torch.zeros(3000, 48), noise=0.2)
    assert torch.allclose(clean[:, :, 0], clean[:, :, 1])
    correlation = (noisy[:, :, 0] * noisy[:, :, 1]).mean() / noisy.var()
    assert correlation.item() == pytest.approx((1 - 2 * 0.2) ** 2, abs=0.03)  # each eye flips alone


def test_flip_dots_flips_the_given_fraction():
    ones = torch.ones(200_000)
    flipped = flip_dots(ones, 0.3, seeded())
    assert abs((flipped < 0).float().mean().item() - 0.3) < 0.01
    assert torch.equal(flip_dots(ones, 0.0, seeded()), ones)


def test_planar_disparity_is_constant_per_stereogram_and_fills_the_range():
    disparity = planar_disparity(2000, 16, 4.0, seeded())
    assert torch.equal(disparity, disparity[:, :1].expand(-1, 16))
    assert disparity.min() >= 0 and disparity.max() <= 4.0
    assert torch.bincount(disparity_bins(disparity[:, 0], 4.0, 4)).min() > 400  # uniform: ~500 per bin


def test_curved_disparity_is_smooth_varying_and_its_shape_independent_of_depth():
    width, max_disparity, max_amplitude, max_cycles = 96, 4.0, 1.0, 0.5
    disparity = curved_disparity(4000, width, max_disparity, max_amplitude, max_cycles, seeded())
    mean = disparity.mean(1, keepdim=True)
    assert disparity.min() >= -max_amplitude and disparity.max() <= max_disparity + max_amplitude + 1e-6
    slope_bound = 2 * torch.pi * max_amplitude * max_cycles / width  # |d'| ≤ 2π·a·k/width
    assert disparity.diff(dim=1).abs().max() <= slope_bound + 1e-6
    relief = disparity.amax(1) - disparity.amin(1)
    assert relief.median() > 0.1  # curved, not planar
    deep, shallow = mean[:, 0] > 2, mean[:, 0] <= 2
    assert abs(relief[deep].mean() - relief[shallow].mean()) < 0.05  # the same shapes at every depth


def test_disparity_bins_edges():
    disparity = torch.tensor([0.0, 0.999, 1.0, 2.5, 3.999, 4.0])
    assert disparity_bins(disparity, 4.0, 4).tolist() == [0, 0, 1, 2, 3, 3]
    assert disparity_bins(disparity, 4.0, 2).tolist() == [0, 0, 0, 1, 1, 1]


def test_same_seed_gives_identical_tensors_and_another_seed_different_ones():
    assert_same_batches(lambda seed: make(seed=seed, noise=0.1))


def test_training_samples_are_fresh_and_the_fixed_sets_are_disjoint_from_them():
    assert_fresh_and_disjoint(make(batch_size=64), steps=300)


def test_views_are_neighbouring_patches_of_one_stereogram_sharing_the_label():
    module = make(batch_size=2000)
    view1, view2, labels = module.train_batch(1)
    assert labels.dtype == torch.int64 and view1.dtype == torch.float32
    # Their own dots: the left eyes of the two views are uncorrelated pixel by pixel …
    assert abs(torch.corrcoef(torch.stack([view1[:, 0, 3], view2[:, 0, 3]]))[0, 1].item()) < 0.08
    # … but each view's eyes agree at the shared depth: the eye correlation at the label's lag.
    shift = labels.clamp(max=3)
    lagged = torch.stack([(v[:, 0, 1:] * v[:, 1, :-1]).mean(1) for v in (view1, view2)])  # lag 1
    assert lagged[:, shift == 1].mean() > lagged[:, shift == 3].mean() + 0.3


def test_curved_patches_are_labelled_by_their_own_mean_disparity():
    module = make(surface="curved")
    _, patch_labels, disparity = module.probe_train
    width = module.patch_width
    for patch in range(module.num_patches):
        mean = disparity[:, patch * width : (patch + 1) * width].mean(1)
        expected = (mean / module.max_disparity * module.num_disparity_bins).long()  # d ≥ 0: long() floors
        assert torch.equal(patch_labels[:, patch], expected.clamp(max=module.num_disparity_bins - 1))
    assert not torch.equal(patch_labels[:, 0], patch_labels[:, -1])


@pytest.mark.parametrize("layout", ["strip", "image"])
def test_shapes_of_both_layouts(layout):
    module = make(layout=layout, num_probe_train=100)
    shape = (2, module.patch_width) if layout == "strip" else (2, module.height, module.patch_width)
    assert module.input_shape == shape
    view1, view2, labels = module.train_batch(0)
    assert view1.shape == view2.shape == (module.batch_size, *shape)
    assert labels.shape == (module.batch_size,)
    evaluation = module.eval_set()
    assert evaluation.view1.shape == evaluation.view2.shape == (module.num_eval, *shape)
    probe = module.probe_splits()
    assert probe.train_x.shape == (100, *shape) and probe.train_y.shape == (100,)
    assert probe.test_x.shape == (module.num_test, *shape) and probe.test_y.dtype == torch.int64


def probe_accuracy(features_train, y_train, features_test, y_test) -> float:
    classifier = LogisticRegression(max_iter=1000).fit(features_train.numpy(), y_train.numpy())
    return classifier.score(features_test.numpy(), y_test.numpy())


def test_depth_is_in_the_correlation_between_eyes_not_in_the_pixels():
    probe = make(num_probe_train=2048, num_test=2048).probe_splits()
    chance = 1 / 4
    pixels = probe_accuracy(probe.train_x.flatten(1), probe.train_y, probe.test_x.flatten(1), probe.test_y)
    correlation = probe_accuracy(
        eye_correlations(probe.train_x, 4), probe.train_y, eye_correlations(probe.test_x, 4), probe.test_y
    )
    assert abs(pixels - chance) < 0.06
    assert correlation > 0.85  # ≈ 0.95 measured
    x, y = torch.cat([probe.train_x, probe.test_x]), torch.cat([probe.train_y, probe.test_y])
    class_means = torch.stack([x[y == c].mean(0) for c in range(4)])  # (C, 2, W)
    assert class_means.abs().max() < 0.16  # 0 up to sampling: ≤ 5 standard errors of 1/√(1024 per class)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("surface", "wavy"),
        ("layout", "cube"),
        ("num_patches", 1),
        ("num_patches", 2.0),
        ("patch_width", 1),
        ("height", 0),
        ("max_disparity", 0),
        ("max_disparity", 24),
        ("num_disparity_bins", 1),
        ("max_cycles", -0.1),
        ("max_amplitude", -1),
        ("sigma", 0.05),
        ("sigma", "wide"),
        ("dot_density", 0),
        ("dot_density", 1000.0),
        ("noise", 1.5),
        ("num_probe_train", 0),
        ("num_probe_train", None),
        ("num_test", 0),
        ("num_eval", 0),
        ("batch_size", 0),
        ("seed", "zero"),
        ("seed", -1),
        ("batch_size", True),
    ],
)
def test_bad_config_values_raise_one_line_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=rf"^data\.{key} must be [^\n]*, got {value!r}$"):
        StereoDataModule(**{**defaults(), key: value})
