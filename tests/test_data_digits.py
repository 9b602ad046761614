"""8×8 digits: the augmentations against analytic cases (shift 0 is the identity, a shift is a roll on a
zero border, noise has its std, erasing blanks one bounded rectangle) and the data module's shapes,
ranges, stratified disjoint split and determinism."""

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from sklearn.datasets import load_digits

from src.core.errors import ConfigError
from src.data.base import epoch_batch_indices
from src.data.digits import (
    DigitsDataModule,
    augment,
    gaussian_noise,
    random_erase,
    random_translate,
    translate,
)
from tests.conftest import CONF, data_defaults
from tests.data_helpers import built, seeded


def defaults() -> dict:
    return data_defaults("digits")


def make(**overrides) -> DigitsDataModule:
    return built(DigitsDataModule, "digits", small=False, **overrides)


def bordered_images(batch: int, border: int, side: int = 8) -> torch.Tensor:
    """Random images whose outer ``border`` pixels are 0. Returns (batch, 1, side, side)."""
    x = torch.zeros(batch, 1, side, side)
    x[..., border : side - border, border : side - border] = torch.rand(
        batch, 1, side - 2 * border, side - 2 * border, generator=seeded(1)
    )
    return x


def test_yaml_instantiates_with_the_run_seed():
    config = OmegaConf.create({"seed": 7, "data": OmegaConf.load(CONF / "data" / "digits.yaml")})
    module = instantiate(config.data)
    assert isinstance(module, DigitsDataModule)
    assert module.seed == 7 and module.input_shape == (1, 8, 8) and module.num_classes == 10
    assert not hasattr(module, "train_x")  # nothing loaded before setup


def test_translate_by_zero_is_the_identity():
    x = torch.rand(6, 1, 8, 8, generator=seeded())
    assert torch.equal(translate(x, torch.zeros(6, 2, dtype=torch.long)), x)
    assert torch.equal(random_translate(x, 0, seeded()), x)


def test_translate_moves_content_like_a_roll_on_a_zero_border():
    x = bordered_images(5, border=2)
    shifts = torch.tensor([[0, 0], [1, 0], [0, -2], [-1, 2], [2, 1]])
    moved = translate(x, shifts)
    for image, shift, out in zip(x, shifts, moved, strict=True):
        assert torch.equal(out, torch.roll(image, shifts=shift.tolist(), dims=(1, 2)))
    assert torch.allclose(moved.sum((1, 2, 3)), x.sum((1, 2, 3)))  # content kept, only moved


def test_random_translate_draws_a_shift_per_image_within_the_bound():
    x = bordered_images(1, border=2).expand(64, -1, -1, -1)  # one image, 64 times
    moved = random_translate(x, 2, seeded())
    candidates = torch.stack(
        [torch.roll(x[0], shifts=(dy, dx), dims=(1, 2)) for dy in range(-2, 3) for dx in range(-2, 3)]
    )  # (25, 1, 8, 8): every allowed shift
    matches = (moved[:, None] == candidates[None]).flatten(2).all(-1)  # (64, 25)
    assert matches.any(1).all()  # each output is one allowed shift of the image
    assert matches.any(0).sum() > 15  # and the images got different shifts


def test_gaussian_noise_has_the_given_std_and_differs_per_image():
    x = torch.zeros(400, 1, 8, 8)
    noisy = gaussian_noise(x, 0.3, seeded())
    assert abs(noisy.std().item() - 0.3) < 0.01 and abs(noisy.mean().item()) < 0.01
    assert not torch.equal(noisy[0], noisy[1])
    assert torch.equal(gaussian_noise(x, 0.0, seeded()), x)


def test_random_erase_blanks_one_bounded_rectangle_per_chosen_image():
    ones = torch.ones(500, 1, 8, 8)
    erased = random_erase(ones, 1.0, seeded())
    blank = erased[:, 0] == 0  # (B, 8, 8)
    rows, cols = blank.any(2), blank.any(1)  # (B, 8) each
    heights, widths = rows.sum(1), cols.sum(1)
    assert torch.equal(blank.sum((1, 2)), heights * widths)  # a filled rectangle
    assert heights.min() >= 1 and heights.max() == 4 and widths.min() >= 1 and widths.max() == 4
    assert rows[:, 0].any() and rows[:, -1].any() and cols[:, 0].any() and cols[:, -1].any()  # reaches edges
    assert len({tuple(b.flatten().tolist()) for b in blank[:50]}) > 20  # rectangles differ per image
    chosen = (random_erase(ones, 0.3, seeded()) == 0).flatten(1).any(1).float().mean().item()
    assert 0.25 < chosen < 0.35
    assert torch.equal(random_erase(ones, 0.0, seeded()), ones)


def test_augment_gives_two_different_views_of_each_image():
    x = make().train_x[:32]
    g = seeded()
    view1, view2 = augment(x, 1, 0.1, 0.25, g), augment(x, 1, 0.1, 0.25, g)
    assert view1.shape == view2.shape == x.shape
    assert not torch.equal(view1, view2)
    assert torch.equal(augment(x, 0, 0.0, 0.0, g), x)


def test_images_are_8x8_in_the_unit_interval_and_match_load_digits():
    module = make()
    images, labels = load_digits(return_X_y=True)
    assert module.train_x.shape == (module.num_train, 1, 8, 8) and module.train_x.dtype == torch.float32
    assert module.train_x.min() == 0 and module.train_x.max() == 1 and module.test_x.max() <= 1
    row = module.test_index[0].item()
    assert torch.allclose(module.test_x[0].flatten(), torch.as_tensor(images[row], dtype=torch.float32) / 16)
    assert module.test_y[0].item() == labels[row]


def test_split_is_disjoint_complete_and_stratified():
    module = make(test_fraction=0.2)
    train, test = set(module.train_index.tolist()), set(module.test_index.tolist())
    assert not train & test and len(train | test) == 1797
    assert len(test) == 360 == module.num_test  # ceil(0.2 · 1797)
    per_class = torch.bincount(torch.cat([module.train_y, module.test_y]), minlength=10)
    test_share = torch.bincount(module.test_y, minlength=10) / per_class  # (10,)
    assert (test_share - 0.2).abs().max() < 0.01  # every class held out in the same proportion


def test_same_seed_gives_identical_tensors_and_another_seed_different_ones():
    a, b, c = make(seed=3), make(seed=3), make(seed=4)
    assert torch.equal(a.test_index, b.test_index) and not torch.equal(a.test_index, c.test_index)
    for x, y in zip(a.train_batch(2), b.train_batch(2), strict=True):
        assert torch.equal(x, y)
    assert torch.equal(a.eval_set().view1, b.eval_set().view1)
    assert not torch.equal(a.train_batch(2)[0], c.train_batch(2)[0])


def test_train_batch_is_a_pure_function_of_the_step():
    module = make()
    first, other, again = module.train_batch(5), module.train_batch(3), module.train_batch(5)
    for x, y in zip(first, again, strict=True):
        assert torch.equal(x, y)
    assert not torch.equal(first[0], other[0])
    assert first[0].shape == first[1].shape == (module.batch_size, 1, 8, 8) and first[2].dtype == torch.int64


def test_augmentation_is_drawn_afresh_at_every_step():
    module = make(max_shift=0, erase_prob=0.0)  # the view minus its clean image is the drawn noise

    def noise(step: int) -> torch.Tensor:
        index = epoch_batch_indices(module.num_train, module.batch_size, module.seed, step)
        return module.train_batch(step)[0] - module.train_x[index]

    assert not torch.allclose(noise(0), noise(1))


def test_eval_set_is_two_fixed_views_and_probe_splits_are_clean():
    module = make()
    evaluation = module.eval_set()
    assert evaluation.view1.shape == evaluation.view2.shape == module.test_x.shape
    assert not torch.equal(evaluation.view1, evaluation.view2)
    assert torch.equal(evaluation.labels, module.test_y)
    assert torch.equal(make().eval_set().view2, evaluation.view2)
    probe = module.probe_splits()
    assert torch.equal(probe.train_x, module.train_x) and torch.equal(probe.test_x, module.test_x)
    assert torch.equal(probe.train_y, module.train_y) and torch.equal(probe.test_y, module.test_y)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("test_fraction", 0.0),
        ("test_fraction", 1.0),
        ("test_fraction", 0.001),
        ("max_shift", -1),
        ("max_shift", 8),
        ("noise_std", -0.1),
        ("erase_prob", 1.5),
        ("batch_size", 0),
        ("batch_size", 1500),
        ("seed", -1),
    ],
)
def test_bad_config_values_raise_one_line_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=rf"^data\.{key} must [^\n]*, got {value!r}$"):
        DigitsDataModule(**{**defaults(), key: value})
