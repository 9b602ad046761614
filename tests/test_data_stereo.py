"""Random-dot stereograms: generator maths against analytic cases and an independent numpy
interpolation; the data module's determinism, views, splits and shapes; depth is invisible to a linear
classifier on the pixels and plain to one on the eyes' correlation (Becker & Hinton 1992)."""

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from sklearn.linear_model import LogisticRegression

from src.config.errors import ConfigError
from src.data.base import epoch_batch_indices
from src.data.stereo import (
    StereoDataModule,
    curved_disparity,
    disparity_bins,
    flip_dots,
    planar_disparity,
    random_dots,
    right_eye,
    stereogram_patches,
)
from tests.conftest import CONF, data_defaults


def defaults() -> dict:
    return data_defaults("stereo")


def make(**overrides) -> StereoDataModule:
    """The YAML defaults, shrunk so a setup takes milliseconds."""
    small = {"num_train": 256, "num_test": 128, "num_eval": 64, "batch_size": 32}
    module = StereoDataModule(**{**defaults(), **small, **overrides})
    module.setup()
    return module


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_yaml_instantiates_with_the_run_seed():
    config = OmegaConf.create({"seed": 7, "data": OmegaConf.load(CONF / "data" / "stereo.yaml")})
    module = instantiate(config.data)
    assert isinstance(module, StereoDataModule)
    assert module.seed == 7
    assert module.input_shape == (2, config.data.patch_width)
    assert module.num_classes == config.data.num_disparity_bins
    assert not hasattr(module, "train_patches")  # nothing generated before setup


def test_random_dots_are_balanced_signs():
    dots = random_dots((100_000,), generator())
    assert set(dots.unique().tolist()) == {-1.0, 1.0}
    assert abs(dots.mean().item()) < 0.02


@pytest.mark.parametrize("shift", [0, 1, 3])
def test_right_eye_is_left_eye_shifted_by_an_integer_disparity(shift):
    width = 10
    dots = random_dots((5, width + 4), generator())
    right = right_eye(dots, torch.full((5, width), float(shift)))
    assert torch.equal(right, dots[:, shift : shift + width])
    assert torch.equal(right[:, : width - shift], dots[:, :width][:, shift:])  # inside the left eye's view


def test_right_eye_interpolates_linearly_like_numpy():
    dots = random_dots((3, 20), generator(1))
    disparity = torch.rand(3, 12, generator=generator(2)) * 4  # fractional and varying along the row
    ours = right_eye(dots, disparity)
    for row in range(3):
        position = np.arange(12) + disparity[row].double().numpy()
        reference = np.interp(position, np.arange(20), dots[row].numpy())
        np.testing.assert_allclose(ours[row].numpy(), reference, atol=1e-6)
    halfway = right_eye(dots, torch.full((3, 12), 1.5))
    assert torch.allclose(halfway, (dots[:, 1:13] + dots[:, 2:14]) / 2)


def test_planar_disparity_is_constant_per_stereogram_and_fills_the_range():
    disparity = planar_disparity(2000, 16, 4.0, generator())
    assert torch.equal(disparity, disparity[:, :1].expand(-1, 16))
    assert disparity.min() >= 0 and disparity.max() <= 4.0
    assert torch.bincount(disparity_bins(disparity[:, 0], 4.0, 4)).min() > 400  # uniform: ~500 per bin


def test_curved_disparity_is_smooth_varying_and_in_range():
    width, max_disparity, max_cycles = 96, 4.0, 0.5
    disparity = curved_disparity(500, width, max_disparity, max_cycles, generator())
    assert disparity.min() >= 0 and disparity.max() <= max_disparity + 1e-6
    slope_bound = torch.pi * max_disparity * max_cycles / width  # |d'| ≤ 2π·a·k/width, a ≤ max/2
    assert disparity.diff(dim=1).abs().max() <= slope_bound + 1e-6
    assert (disparity.amax(1) - disparity.amin(1)).median() > 0.1  # curved, not planar


def test_disparity_bins_edges():
    disparity = torch.tensor([0.0, 0.999, 1.0, 2.5, 3.999, 4.0])
    assert disparity_bins(disparity, 4.0, 4).tolist() == [0, 0, 1, 2, 3, 3]
    assert disparity_bins(disparity, 4.0, 2).tolist() == [0, 0, 0, 1, 1, 1]


def test_patches_share_the_surface_but_no_dots_and_rows_have_their_own_dots():
    num_patches, width, height, shift = 3, 8, 4, 2
    disparity = torch.full((10, num_patches * width), float(shift))
    patches = stereogram_patches(disparity, num_patches, height, 3.0, generator())
    assert patches.shape == (10, num_patches, 2, height, width)
    left, right = patches[:, :, 0], patches[:, :, 1]
    assert torch.equal(right[..., : width - shift], left[..., shift:])  # every row, same disparity
    # The right eye's overhang is not the next patch's left eye, and rows are not copies of each other.
    assert not torch.equal(right[:, 0, :, width - shift :], left[:, 1, :, :shift])
    assert not torch.equal(left[:, :, 0], left[:, :, 1])


def test_flip_dots_flips_the_given_fraction():
    ones = torch.ones(200_000)
    flipped = flip_dots(ones, 0.3, generator())
    assert set(flipped.unique().tolist()) == {-1.0, 1.0}
    assert abs((flipped < 0).float().mean().item() - 0.3) < 0.01
    assert torch.equal(flip_dots(ones, 0.0, generator()), ones)


def test_same_seed_gives_identical_tensors_and_another_seed_different_ones():
    a, b, c = make(seed=3), make(seed=3), make(seed=4)
    for name in ("train_patches", "test_patches", "train_patch_labels", "train_disparity"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not torch.equal(a.train_patches, c.train_patches)
    for x, y in zip(a.train_batch(2), b.train_batch(2), strict=True):
        assert torch.equal(x, y)
    assert torch.equal(a.eval_set().view1, b.eval_set().view1)
    assert torch.equal(a.probe_splits().test_x, b.probe_splits().test_x)
    assert not torch.equal(a.train_batch(2)[0], c.train_batch(2)[0])


def test_train_batch_is_a_pure_function_of_the_step():
    module = make(noise=0.1)
    first, other, again = module.train_batch(5), module.train_batch(3), module.train_batch(5)
    for x, y in zip(first, again, strict=True):
        assert torch.equal(x, y)
    assert not torch.equal(first[0], other[0])


def patch_positions(module: StereoDataModule, index: torch.Tensor, views: torch.Tensor) -> torch.Tensor:
    """Which patch of stereogram index[i] each views[i] is. Returns (B,) int64."""
    candidates = module.train_patches[index]  # (B, P, *input_shape)
    matches = (candidates == views[:, None]).flatten(2).all(-1)  # (B, P)
    assert torch.equal(matches.sum(1), torch.ones(len(index), dtype=torch.long))
    return matches.long().argmax(1)


def view_positions(module: StereoDataModule, step: int) -> tuple[torch.Tensor, ...]:
    """(stereogram index, patch of view1, patch of view2, label) of each sample of the step's batch."""
    view1, view2, labels = module.train_batch(step)
    index = epoch_batch_indices(module.num_train, module.batch_size, module.seed, step)
    return index, patch_positions(module, index, view1), patch_positions(module, index, view2), labels


def test_views_are_neighbouring_patches_of_one_stereogram_sharing_the_label():
    module = make(batch_size=128)
    index, first, second, labels = view_positions(module, 1)
    assert torch.equal((first - second).abs(), torch.ones_like(first))
    assert (first < second).any() and (first > second).any()  # both orders drawn
    assert set(torch.minimum(first, second).tolist()) == set(range(module.num_patches - 1))  # every pair
    assert torch.equal(labels, module.train_patch_labels[index, first])
    assert labels.dtype == torch.int64 and module.train_batch(1)[0].dtype == torch.float32
    assert torch.equal(labels, module.train_patch_labels[index, second])  # planar: one depth per strip
    assert not torch.equal(first, view_positions(module, 2)[1])  # a fresh choice at every step


def test_curved_labels_are_bins_of_each_patch_mean_disparity():
    module = make(surface="curved")
    width = module.patch_width
    for patch in range(module.num_patches):
        mean = module.train_disparity[:, patch * width : (patch + 1) * width].mean(1)
        expected = (mean / module.max_disparity * module.num_disparity_bins).long()  # d ≥ 0: long() floors
        expected = expected.clamp(max=module.num_disparity_bins - 1)
        assert torch.equal(module.train_patch_labels[:, patch], expected)
    assert not torch.equal(module.train_patch_labels[:, 0], module.train_patch_labels[:, -1])


def test_training_noise_flips_dots_of_the_views_only():
    clean, noisy = make(), make(noise=0.2)
    index, first, second, _ = view_positions(clean, 0)
    view1, view2, _ = noisy.train_batch(0)
    for view, position in ((view1, first), (view2, second)):
        changed = (view != noisy.train_patches[index, position]).float().mean().item()
        assert 0.15 < changed < 0.25
    assert torch.equal(noisy.train_patches, clean.train_patches)
    assert torch.equal(noisy.eval_set().view1, clean.eval_set().view1)


def test_held_out_stereograms_are_not_training_stereograms():
    module = make()
    train = module.train_patches[:, 0].flatten(1)  # (N_train, D)
    test = module.test_patches[:, 0].flatten(1)
    assert torch.cdist(test, train).min() > 0


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
    assert torch.equal(evaluation.view1, module.test_patches[: module.num_eval, 0])
    assert torch.equal(evaluation.view2, module.test_patches[: module.num_eval, 1])
    probe = module.probe_splits()
    assert probe.train_x.shape == (100, *shape) and probe.train_y.shape == (100,)
    assert probe.test_x.shape == (module.num_test, *shape) and probe.test_y.dtype == torch.int64


def eye_correlations(x: torch.Tensor, max_shift: int) -> torch.Tensor:
    """The hand-made quadratic feature: mean of left[x + k] · right[x] for k = 0..max_shift.
    x: (N, 2, [H,] W). Returns (N, max_shift + 1)."""
    left, right = x[:, 0], x[:, 1]
    width = left.shape[-1]
    products = [(left[..., k:] * right[..., : width - k]).flatten(1).mean(1) for k in range(max_shift + 1)]
    return torch.stack(products, dim=1)


def probe_accuracy(features_train, y_train, features_test, y_test) -> float:
    classifier = LogisticRegression(max_iter=500).fit(features_train.numpy(), y_train.numpy())
    return classifier.score(features_test.numpy(), y_test.numpy())


def test_depth_is_in_the_correlation_between_eyes_not_in_the_pixels():
    module = make(num_train=2048, num_test=2048)
    probe = module.probe_splits()
    chance = 1 / module.num_classes
    # Every pixel is a ±1 dot or an interpolation of two, so each class's mean image is 0: a linear
    # classifier only gets the weak cue that a class changes the variance of some projections.
    pixels = probe_accuracy(probe.train_x.flatten(1), probe.train_y, probe.test_x.flatten(1), probe.test_y)
    shifts = int(module.max_disparity)
    correlation = probe_accuracy(
        eye_correlations(probe.train_x, shifts),
        probe.train_y,
        eye_correlations(probe.test_x, shifts),
        probe.test_y,
    )
    assert abs(pixels - chance) < 0.08  # ≈ 0.28 here; ≈ 0.31 with unlimited data
    assert correlation > 0.85
    x, y = torch.cat([probe.train_x, probe.test_x]), torch.cat([probe.train_y, probe.test_y])
    class_means = torch.stack([x[y == c].mean(0) for c in range(module.num_classes)])  # (C, 2, W)
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
        ("noise", 1.5),
        ("num_train", 0),
        ("num_eval", 2000),
        ("num_probe_train", 5000),
        ("batch_size", 5000),
        ("seed", "zero"),
        ("seed", -1),
        ("batch_size", True),
    ],
)
def test_bad_config_values_raise_one_line_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=rf"^data\.{key} must be [^\n]*, got {value!r}$"):
        StereoDataModule(**{**defaults(), key: value})
