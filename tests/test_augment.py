"""Batched BYOL augmentation: every image draws its own parameters; the parameter distributions match the
config (and torchvision's RandomResizedCrop) over many draws; each op meets its analytic limits; and the
batched result equals torchvision.transforms.v2's per-image functions for the same parameters."""

import math
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torchvision import transforms
from torchvision.transforms.v2 import functional as TF

from src.core.errors import ConfigError
from src.data.augment import (
    ViewAugmentation,
    ViewPair,
    apply_view,
    normalize,
    sample_crop_boxes,
    sample_view_params,
)
from src.data.image_ops import (
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    gaussian_blur,
    gaussian_kernels,
    grayscale,
    solarize,
)

AUGMENT = Path(__file__).resolve().parents[1] / "conf" / "data" / "augment"


def config(name: str) -> ViewPair:
    return instantiate(OmegaConf.load(AUGMENT / f"{name}.yaml"))


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def every_op_half_the_time() -> ViewAugmentation:
    fields = {**OmegaConf.to_container(OmegaConf.load(AUGMENT / "byol.yaml").view1), "blur_prob": 0.5}
    fields.update(flip_prob=0.5, jitter_prob=0.5, grayscale_prob=0.5, solarize_prob=0.5)
    del fields["_target_"]
    return ViewAugmentation(**fields)


def images(n: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, height, width), dtype=torch.uint8, generator=generator(seed))


def test_byol_config_is_table_6():
    byol = config("byol")
    for view in (byol.view1, byol.view2):
        assert view.crop_scale == (0.08, 1.0) and view.flip_prob == 0.5 and view.jitter_prob == 0.8
        assert (view.brightness, view.contrast, view.saturation, view.hue) == (0.4, 0.4, 0.2, 0.1)
        assert view.grayscale_prob == 0.2
    assert (byol.view1.blur_prob, byol.view2.blur_prob) == (1.0, 0.1)
    assert (byol.view1.solarize_prob, byol.view2.solarize_prob) == (0.0, 0.2)
    assert byol.view1.blur_kernel_size(224) == 23  # BYOL Appendix B
    cifar = config("cifar")
    assert cifar.view1.blur_prob == cifar.view2.blur_prob == 0.0
    assert (cifar.view1.solarize_prob, cifar.view2.solarize_prob) == (0.0, 0.2)


def test_two_images_of_one_batch_get_different_parameters():
    aug = config("byol").view1
    params = sample_view_params(aug, 64, 32, 32, generator())
    assert len({tuple(box) for box in params.crop.tolist()}) > 32  # not one crop for the batch
    assert (params.factors[0] != params.factors[1]).all()
    assert (params.sigma[0] != params.sigma[1]).all()
    assert 0 < params.flip.sum() < 64
    same_image = images(1, 32, 32).expand(8, -1, -1, -1)
    views = apply_view(same_image, params_for(aug, 8, 32, 32), aug.blur_kernel_size(32))
    assert all(not torch.equal(views[0], views[i]) for i in range(1, 8))


def params_for(aug, n, height, width, seed=0):
    return sample_view_params(aug, n, height, width, generator(seed))


@pytest.mark.parametrize("name", ["byol", "cifar"])
def test_op_probabilities_and_ranges_match_the_config_over_many_draws(name):
    n = 20_000
    for aug in (config(name).view1, config(name).view2):
        params = params_for(aug, n, 32, 32)
        for flag, p in [
            (params.flip, aug.flip_prob),
            (params.jitter, aug.jitter_prob),
            (params.grayscale, aug.grayscale_prob),
            (params.blur, aug.blur_prob),
            (params.solarize, aug.solarize_prob),
        ]:
            tolerance = 5 * math.sqrt(p * (1 - p) / n)  # 0 when p is 0 or 1: then it must be exact
            assert abs(flag.float().mean().item() - p) <= tolerance, (name, p)
        b, c, s, h = params.factors.unbind(1)
        for factor, width in ((b, aug.brightness), (c, aug.contrast), (s, aug.saturation)):
            assert 1 - width <= factor.min() and factor.max() <= 1 + width
            assert abs(factor.mean().item() - 1) < 0.01 and factor.max() - factor.min() > 1.9 * width
        assert -aug.hue <= h.min() and h.max() <= aug.hue and h.max() - h.min() > 1.9 * aug.hue
        assert aug.blur_sigma[0] <= params.sigma.min() and params.sigma.max() <= aug.blur_sigma[1]
        assert (params.order.sort(dim=1).values == torch.arange(4)).all()  # permutations
        first_op = torch.bincount(params.order[:, 0], minlength=4).float() / n
        assert (first_op - 0.25).abs().max() < 0.02  # each op comes first a quarter of the time


def test_fixed_scale_and_ratio_give_that_area():
    boxes = sample_crop_boxes(500, 40, 40, (0.25, 0.25), (1.0, 1.0), generator())
    assert (boxes[:, 2:] == 20).all()
    top, left = boxes[:, 0], boxes[:, 1]
    assert top.min() == 0 and top.max() == 20 and left.min() == 0 and left.max() == 20  # all placements


def test_crop_falls_back_to_the_clamped_centre_crop():
    # A 16×64 image cannot hold a crop of aspect 1/2 covering ≥ 50%: every attempt fails.
    boxes = sample_crop_boxes(10, 16, 64, (0.5, 1.0), (0.5, 0.5), generator())
    assert (boxes == torch.tensor([0, 28, 16, 8])).all()  # torchvision: h = H, w = round(H·max ratio)


def test_crop_distribution_matches_torchvision_random_resized_crop():
    """Area fraction and aspect ratio: two-sample Kolmogorov–Smirnov distance against torchvision's own
    sampler (rejection makes the area non-uniform, so the comparison is to torchvision, not to U[a, b])."""
    n, height, width, scale, ratio = 3000, 24, 32, (0.08, 1.0), (3 / 4, 4 / 3)
    ours = sample_crop_boxes(n, height, width, scale, ratio, generator()).double()
    torch.manual_seed(0)
    image = torch.zeros(3, height, width)
    theirs = torch.tensor(
        [transforms.RandomResizedCrop.get_params(image, list(scale), list(ratio)) for _ in range(n)],
        dtype=torch.float64,
    )
    for stat in (lambda b: b[:, 2] * b[:, 3] / (height * width), lambda b: b[:, 3] / b[:, 2]):
        a, b = stat(ours), stat(theirs)
        grid = torch.cat([a, b]).sort().values
        ks = (
            torch.searchsorted(a.sort().values, grid, right=True)
            - torch.searchsorted(b.sort().values, grid, right=True)
        ).abs().max() / n
        assert ks < 1.95 * math.sqrt(2 / n)  # the 0.1% critical value
        assert (
            stat(ours).min() >= 0
            and (ours[:, 0] + ours[:, 2] <= height).all()
            and (ours[:, 1] + ours[:, 3] <= width).all()
        )


def per_image_reference(image: torch.Tensor, params, i: int, kernel_size: int) -> torch.Tensor:
    """torchvision.transforms.v2's per-image functions with image i's parameters, in BYOL's order."""
    top, left, h, w = params.crop[i].tolist()
    y = TF.resized_crop(image, top, left, h, w, list(image.shape[-2:]), antialias=True)
    if params.flip[i]:
        y = TF.horizontal_flip(y)
    if params.jitter[i]:
        ops = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
        for k in params.order[i].tolist():
            y = ops[k](y, params.factors[i, k].item())
    if params.grayscale[i]:
        y = TF.rgb_to_grayscale(y, num_output_channels=3)
    if params.blur[i]:
        y = TF.gaussian_blur(y, [kernel_size, kernel_size], [params.sigma[i].item()] * 2)
    if params.solarize[i]:
        y = TF.solarize(y, threshold=0.5)
    return y


@pytest.mark.parametrize(("height", "width"), [(20, 20), (18, 26)])
def test_batched_view_equals_per_image_torchvision(height, width):
    aug = every_op_half_the_time()
    batch = images(24, height, width)
    params = params_for(aug, 24, height, width)
    kernel = aug.blur_kernel_size(min(height, width))
    views = apply_view(batch, params, kernel)
    assert views.dtype == torch.float32 and views.shape == batch.shape
    for i in range(len(batch)):
        expected = per_image_reference(batch[i].float() / 255, params, i, kernel)
        torch.testing.assert_close(views[i], expected, atol=2e-5, rtol=0)


def test_each_jitter_op_equals_torchvision_per_image():
    x = images(6, 9, 11).float() / 255
    factor = torch.linspace(0.3, 1.7, 6)
    shift = torch.linspace(-0.5, 0.5, 6)
    for batched, reference, values in [
        (adjust_brightness, TF.adjust_brightness, factor),
        (adjust_contrast, TF.adjust_contrast, factor),
        (adjust_saturation, TF.adjust_saturation, factor),
        (adjust_hue, TF.adjust_hue, shift),
    ]:
        out = batched(x, values)
        for i in range(6):
            torch.testing.assert_close(out[i], reference(x[i], values[i].item()), atol=2e-6, rtol=0)


def test_ops_at_their_analytic_limits():
    x = images(4, 8, 8).float() / 255
    ones, zeros = torch.ones(4), torch.zeros(4)
    torch.testing.assert_close(adjust_brightness(x, ones), x)
    torch.testing.assert_close(adjust_contrast(x, ones), x)
    torch.testing.assert_close(adjust_saturation(x, ones), x)
    torch.testing.assert_close(adjust_hue(x, zeros), x, atol=1e-6, rtol=0)
    torch.testing.assert_close(adjust_hue(adjust_hue(x, ones / 3), -ones / 3), x, atol=1e-5, rtol=0)
    gray = grayscale(x)
    assert torch.equal(gray[:, 0], gray[:, 1]) and torch.equal(gray[:, 1], gray[:, 2])
    torch.testing.assert_close(adjust_saturation(x, zeros), gray)  # no saturation left
    luma_mean = gray.mean(dim=(1, 2, 3), keepdim=True).expand_as(x)
    torch.testing.assert_close(adjust_contrast(x, zeros), luma_mean)  # no contrast left
    red = torch.zeros(1, 3, 2, 2)
    red[:, 0] = 1.0
    torch.testing.assert_close(adjust_hue(red, torch.tensor([1 / 3])), red.roll(1, dims=1))  # red -> green
    torch.testing.assert_close(solarize(torch.tensor([0.2, 0.5, 0.9])), torch.tensor([0.2, 0.5, 0.1]))


def test_blur_keeps_constants_and_mass_and_narrows_to_identity():
    kernels = gaussian_kernels(torch.tensor([0.1, 1.0, 5.0]), 9)
    torch.testing.assert_close(kernels.sum(1), torch.ones(3))
    assert torch.equal(kernels, kernels.flip(1))  # symmetric
    flat = torch.full((2, 3, 12, 12), 0.3)
    torch.testing.assert_close(gaussian_blur(flat, torch.tensor([0.5, 2.0]), 5), flat)
    x = images(2, 12, 12).float() / 255
    torch.testing.assert_close(gaussian_blur(x, torch.tensor([0.05, 0.05]), 5), x)  # σ ≪ 1 px: identity
    blurred = gaussian_blur(x, torch.tensor([0.05, 3.0]), 7)
    assert torch.allclose(blurred[0], x[0], atol=1e-6) and blurred[1].std() < 0.5 * x[1].std()


def test_views_are_a_function_of_the_generator_seed():
    aug = config("byol").view2
    batch = images(16, 24, 24)
    first = apply_view(batch, params_for(aug, 16, 24, 24, seed=3), 5)
    again = apply_view(batch, params_for(aug, 16, 24, 24, seed=3), 5)
    other = apply_view(batch, params_for(aug, 16, 24, 24, seed=4), 5)
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert first.min() >= 0 and first.max() <= 1


def test_normalize_standardises_per_channel():
    x = torch.rand(5, 3, 4, 4)
    mean, std = torch.tensor([0.1, 0.5, 0.9]), torch.tensor([0.5, 1.0, 2.0])
    out = normalize(x, mean, std)
    torch.testing.assert_close(out[:, 2], (x[:, 2] - 0.9) / 2.0)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("blur_prob", 1.5, "blur_prob=1.5: a probability must lie in"),
        ("crop_scale", [0.5, 0.2], "crop_scale"),
        ("hue", 0.7, "hue=0.7"),
        ("blur_sigma", [0.0, 1.0], "blur_sigma"),
    ],
)
def test_bad_augmentation_values_are_refused(key, value, message):
    fields = {**OmegaConf.to_container(OmegaConf.load(AUGMENT / "byol.yaml").view1), key: value}
    del fields["_target_"]
    with pytest.raises(ConfigError, match=message):
        ViewAugmentation(**fields)
