"""A generated data set's held-out splits are drawn once per process for the same settings
(src/data/held_out_cache.py): a run set up from the process's copy holds bitwise what it would have drawn,
its own copy of it, and drawing leaves the global random state alone, so a run whose splits come from the
copy trains alike."""

import pytest
import torch

from src.data import held_out_cache
from src.data.held_out_cache import set_up
from src.data.photos import PhotosDataModule
from src.data.shapes import ShapesDataModule
from src.data.stereo import StereoDataModule
from tests.conftest import data_defaults
from tests.data_helpers import SMALL_SIZES

GENERATED = {"stereo": StereoDataModule, "shapes": ShapesDataModule, "photos": PhotosDataModule}


def settings(name: str, seed: int) -> dict:
    return {**data_defaults(name), **SMALL_SIZES, "seed": seed}


def held_out(module) -> tuple[torch.Tensor, ...]:
    """Every held-out tensor: the probe's splits and the evaluation views and labels."""
    probe, evaluation = module.probe_splits(), module.eval_set()
    return (
        probe.train_x,
        probe.train_y,
        probe.test_x,
        probe.test_y,
        evaluation.view1,
        evaluation.view2,
        evaluation.labels,
    )


@pytest.fixture(autouse=True)
def empty_cache(monkeypatch):
    monkeypatch.setattr(held_out_cache, "_kept", type(held_out_cache._kept)())


@pytest.mark.parametrize("name", GENERATED)
def test_drawing_the_held_out_splits_leaves_the_global_random_state_alone(name):
    before = torch.get_rng_state()
    GENERATED[name](**settings(name, 0)).setup("fit")
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("name", GENERATED)
def test_a_second_run_of_the_same_settings_gets_its_own_copy_of_what_it_would_have_drawn(name):
    drawn = GENERATED[name](**settings(name, 1))
    drawn.setup("fit")
    first, second = GENERATED[name](**settings(name, 1)), GENERATED[name](**settings(name, 1))
    set_up(first, {"name": name, **settings(name, 1)})
    set_up(second, {"name": name, **settings(name, 1)})
    for kept, fresh, other in zip(held_out(second), held_out(drawn), held_out(first), strict=True):
        assert torch.equal(kept, fresh) and kept.dtype == fresh.dtype
        assert kept.data_ptr() != other.data_ptr()  # one run changing its data cannot change another's
    assert len(held_out_cache._kept) == 1


def test_other_settings_draw_their_own_and_the_process_keeps_the_last_few():
    modules = [StereoDataModule(**settings("stereo", seed)) for seed in range(held_out_cache.KEEP + 1)]
    for seed, module in enumerate(modules):
        set_up(module, settings("stereo", seed))
    assert not torch.equal(held_out(modules[0])[0], held_out(modules[1])[0])
    assert len(held_out_cache._kept) == held_out_cache.KEEP  # the oldest went
