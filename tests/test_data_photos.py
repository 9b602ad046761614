"""Photographs: the pooled crops against a plain crop-then-pool, the views' offsets, the data module's
determinism, fresh per-step samples, the held-out band's pixels never in a training sample, balanced labels,
views that overlap and share more than other samples, and the one-line ConfigErrors (bad values, no
scikit-learn)."""

import re
import sys

import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import OmegaConf

from src.core.errors import ConfigError
from src.data.base import step_generator
from src.data.photos import (
    _EVAL_KEY,
    _PROBE_TEST_KEY,
    _PROBE_TRAIN_KEY,
    _TRAIN_KEY,
    PhotosDataModule,
    distinct_offsets,
    jitter,
    load_photos,
    pooled_crop,
    pooled_phases,
)
from tests.conftest import CONF, data_defaults
from tests.data_helpers import assert_fresh_and_disjoint, assert_same_batches, built, seeded


def defaults() -> dict:
    return data_defaults("photos")


def make(**overrides) -> PhotosDataModule:
    return built(PhotosDataModule, "photos", **overrides)


def plain_crop(photos: torch.Tensor, photo: int, top: int, left: int, size: int) -> torch.Tensor:
    return photos[photo, :, top : top + size, left : left + size]


def test_yaml_instantiates_with_the_run_seed():
    config = OmegaConf.create({"seed": 7, "data": OmegaConf.load(CONF / "data" / "photos.yaml")})
    module = instantiate(config.data)
    assert isinstance(module, PhotosDataModule)
    assert module.seed == 7 and module.input_shape == (3, 16, 16) and module.num_classes == 32
    assert not hasattr(module, "_probe")  # nothing drawn before setup


def test_photos_are_normalised_per_channel():
    photos = load_photos()
    assert photos.shape == (2, 3, 427, 640) and photos.dtype == torch.float32
    assert photos.mean((0, 2, 3)).abs().max() < 1e-4
    assert (photos.std((0, 2, 3)) - 1).abs().max() < 1e-4


def test_pooled_crops_equal_a_plain_crop_then_average_pooling():
    photos = load_photos()
    phases = pooled_phases(photos, 2)
    photo = torch.tensor([0, 1, 1, 0, 1])
    top, left = torch.tensor([0, 1, 394, 395, 200]), torch.tensor([0, 607, 608, 3, 333])  # every phase, edges
    ours = pooled_crop(phases, photo, top, left, 16)
    for n in range(5):
        crop = plain_crop(photos, photo[n].item(), top[n].item(), left[n].item(), 32)
        assert torch.allclose(ours[n], F.avg_pool2d(crop[None], 2)[0], atol=1e-6)


def test_the_two_offsets_of_a_sample_differ_and_cover_the_square():
    offsets = distinct_offsets(20000, 2, seeded())
    assert offsets.shape == (2, 20000, 2) and offsets.abs().max() == 2
    assert (offsets[0] != offsets[1]).any(-1).all()
    for view in offsets:
        assert len(torch.unique(view[:, 0] * 5 + view[:, 1])) == 25


def test_jitter_draws_independent_nuisances_per_view():
    x = torch.randn(1, 3, 16, 16).expand(4000, 3, 16, 16)  # one image, twice per row
    first, second = jitter(x, 0.8, 0.4, 0.4, 0.1, seeded(1)), jitter(x, 0.8, 0.4, 0.4, 0.1, seeded(2))
    means = torch.stack([first.mean((1, 2, 3)), second.mean((1, 2, 3))])
    assert abs(torch.corrcoef(means)[0, 1]) < 0.1 and means[0].std() > 0.3
    plain = jitter(x, 0.0, 0.0, 0.0, 0.0, seeded(3))  # only the flip left
    flipped = (plain - x.flip(-1)).flatten(1).abs().amax(1) < 1e-5
    assert (
        ((plain - x).flatten(1).abs().amax(1) < 1e-5) ^ flipped
    ).all() and 0.45 < flipped.float().mean() < 0.55


def test_shapes_dtypes_and_balanced_labels_in_range():
    module = make(batch_size=3200)
    view1, view2, labels = module.train_batch(0)
    assert view1.shape == view2.shape == (3200, 3, 16, 16) and view1.dtype == torch.float32
    assert labels.dtype == torch.int64 and labels.min() >= 0 and labels.max() < 32
    counts = torch.bincount(labels, minlength=32)
    assert counts.min() > 60 and counts.max() < 140  # 100 expected each
    assert abs(view1.mean()) < 0.2 and 0.8 < view1.std() < 1.5  # roughly standardised
    probe, evaluation = module.probe_splits(), module.eval_set()
    assert probe.train_x.shape == (256, 3, 16, 16) and probe.test_x.shape == (128, 3, 16, 16)
    assert evaluation.view1.shape == evaluation.view2.shape == (64, 3, 16, 16)
    assert probe is module.probe_splits() and evaluation is module.eval_set()


def test_same_seed_gives_identical_tensors_and_another_seed_different_ones():
    assert_same_batches(lambda seed: make(seed=seed))


def test_training_samples_are_fresh_and_the_fixed_sets_are_disjoint_from_them():
    assert_fresh_and_disjoint(make(batch_size=64), steps=100)


def covered(module: PhotosDataModule, labels: torch.Tensor, tops: torch.Tensor, lefts: torch.Tensor):
    """The pixels any view's crop covers, per photo: (2, 427, 640) bool; every crop inside its cell."""
    mask = torch.zeros(2, 427, 640, dtype=torch.bool)
    height, width = module.cell
    for label, top, left in zip(labels.tolist(), tops.T.tolist(), lefts.T.tolist(), strict=True):
        photo, cell = divmod(label, 16)
        for t, ll in zip(top, left, strict=True):
            assert cell // 4 * height <= t and t + 32 <= (cell // 4 + 1) * height
            assert cell % 4 * width <= ll and ll + 32 <= (cell % 4 + 1) * width
            mask[photo, t : t + 32, ll : ll + 32] = True
    return mask


def test_held_out_band_pixels_never_appear_in_a_training_or_probe_train_crop():
    module = make(num_probe_train=512, num_test=512, num_eval=256)
    seed = module.seed
    draws = {  # the placements the module draws: same generators, consumed first
        "train": [module.place(32, False, step_generator(seed, s, _TRAIN_KEY)) for s in range(50)],
        "probe_train": [module.place(512, False, step_generator(seed, _PROBE_TRAIN_KEY))],
        "probe_test": [module.place(512, True, step_generator(seed, _PROBE_TEST_KEY))],
        "eval": [module.place(256, True, step_generator(seed, _EVAL_KEY))],
    }
    assert torch.equal(draws["train"][7][0], module.train_batch(7)[2])
    assert torch.equal(draws["probe_train"][0][0], module.probe_splits().train_y)
    assert torch.equal(draws["probe_test"][0][0], module.probe_splits().test_y)
    assert torch.equal(draws["eval"][0][0], module.eval_set().labels)
    masks = {name: sum(covered(module, *d) for d in placed).bool() for name, placed in draws.items()}
    seen, held_out = masks["train"] | masks["probe_train"], masks["probe_test"] | masks["eval"]
    assert not (seen & held_out).any()
    assert held_out.sum() > 0.15 * 2 * 427 * 640 and seen.sum() > 0.3 * 2 * 427 * 640


def test_views_overlap_but_differ_and_share_more_than_other_samples():
    module = make(batch_size=2000)
    _, tops, lefts = module.place(2000, False, seeded())
    assert (tops[0] != tops[1]).logical_or(lefts[0] != lefts[1]).all()  # never the same crop
    overlap = (32 - (tops[0] - tops[1]).abs()) * (32 - (lefts[0] - lefts[1]).abs())
    assert overlap.min() >= 24 * 24
    view1, view2, _ = module.train_batch(0)
    a = view1.flatten(1) - view1.flatten(1).mean(1, keepdim=True)
    b = view2.flatten(1) - view2.flatten(1).mean(1, keepdim=True)
    pair, other = F.cosine_similarity(a, b).mean(), F.cosine_similarity(a, b.roll(1, 0)).mean()
    assert pair > 0.3 and abs(other) < 0.1  # ≈ 0.53 and 0.04 measured


def test_missing_scikit_learn_is_one_config_error_naming_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # `from sklearn.datasets import` fails
    message = "data=photos needs scikit-learn (pip install scikit-learn); or choose data=stereo|shapes"
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        PhotosDataModule(**defaults())


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("grid", 0),
        ("grid", 9),
        ("crop", 8),
        ("crop", 48),
        ("crop", 24),
        ("side", 2),
        ("max_offset", 0),
        ("test_fraction", 0.25),
        ("test_fraction", 0.7),
        ("brightness", -0.1),
        ("contrast", 1.0),
        ("colour", -1),
        ("noise_std", float("inf")),
        ("num_probe_train", 0),
        ("num_test", None),
        ("num_eval", 0),
        ("batch_size", 0),
        ("seed", -1),
    ],
)
def test_bad_config_values_raise_one_line_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=rf"^data\.{key} must be [^\n]*, got {value!r}( \([^\n]*\))?$"):
        PhotosDataModule(**{**defaults(), key: value})
