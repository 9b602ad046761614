"""Checks shared by the embedded data sets that draw fresh samples every step (stereo, shapes, photos)."""

from collections.abc import Callable

import torch

from src.data.base import SSLDataModule
from tests.conftest import data_defaults

SMALL_SIZES = {"num_probe_train": 256, "num_test": 128, "num_eval": 64, "batch_size": 32}


def built(module_class: type[SSLDataModule], name: str, small: bool = True, **overrides) -> SSLDataModule:
    """``module_class`` from the keyword arguments of conf/data/<name>.yaml, its held-out sets shrunk (the
    generated data sets) so a setup takes milliseconds, with ``overrides``, set up."""
    module = module_class(**{**data_defaults(name), **(SMALL_SIZES if small else {}), **overrides})
    module.setup()
    return module


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def row_keys(x: torch.Tensor) -> set[bytes]:
    """The exact bytes of each row: equal keys ⇔ bitwise equal samples. x: (N, ...)."""
    return {row.numpy().tobytes() for row in x.contiguous()}


def assert_same_batches(make: Callable[[int], SSLDataModule], steps: tuple[int, ...] = (0, 2, 7)) -> None:
    """The same seed gives bitwise identical batches, eval views and probe splits; another seed, other ones;
    a batch is a pure function of its step."""
    a, b, c = make(3), make(3), make(4)
    for step in steps:
        for x, y in zip(a.train_batch(step), b.train_batch(step), strict=True):
            assert torch.equal(x, y)
        assert not torch.equal(a.train_batch(step)[0], c.train_batch(step)[0])
    for x, y in zip(a.train_batch(steps[1]), a.train_batch(steps[1]), strict=True):  # recomputed: same
        assert torch.equal(x, y)
    assert not torch.equal(a.train_batch(steps[0])[0], a.train_batch(steps[1])[0])
    for name in ("view1", "view2", "labels"):
        assert torch.equal(getattr(a.eval_set(), name), getattr(b.eval_set(), name))
    for name in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(getattr(a.probe_splits(), name), getattr(b.probe_splits(), name))
    assert not torch.equal(a.probe_splits().test_x, c.probe_splits().test_x)


def assert_fresh_and_disjoint(module: SSLDataModule, steps: int) -> None:
    """Over ``steps`` training steps no training view repeats, and no probe or eval sample is a training
    view, nor are the fixed sets shared among themselves."""
    seen: set[bytes] = set()
    total = 0
    for step in range(steps):
        view1, view2, _ = module.train_batch(step)
        for view in (view1, view2):
            seen |= row_keys(view)
            total += len(view)
    assert len(seen) == total  # every training view of every step is new
    probe, evaluation = module.probe_splits(), module.eval_set()
    fixed = [row_keys(x) for x in (probe.train_x, probe.test_x, evaluation.view1, evaluation.view2)]
    for keys, x in zip(fixed, (probe.train_x, probe.test_x, evaluation.view1, evaluation.view2), strict=True):
        assert len(keys) == len(x)  # no repeat inside a set
        assert not keys & seen  # no training view among them
    for i in range(len(fixed)):
        for j in range(i + 1, len(fixed)):
            assert not fixed[i] & fixed[j]


def eye_correlations(x: torch.Tensor, max_shift: int) -> torch.Tensor:
    """The hand-made quadratic feature: mean of left[x + k] · right[x] for k = 0..max_shift.
    x: (N, 2, [H,] W). Returns (N, max_shift + 1)."""
    left, right = x[:, 0], x[:, 1]
    width = left.shape[-1]
    products = [(left[..., k:] * right[..., : width - k]).flatten(1).mean(1) for k in range(max_shift + 1)]
    return torch.stack(products, dim=1)
