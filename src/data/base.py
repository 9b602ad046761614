"""What every dataset of the suite hands the training loop and the collapse monitor.

A data module is a LightningDataModule whose training batches are ``(view1, view2, label)`` and which
also exposes two fixed, held-out pieces used for measurement (docs/design.md §5):

- ``eval_set()``: two fixed views of each held-out sample, for alignment, positive cosine and the
  collapse statistics. Fixed once at ``setup`` so every measurement of a run (and every run with the
  same data seed) sees the same tensors.
- ``probe_splits()``: clean (un-augmented) inputs with labels for the linear probe and kNN.

Training batches are a pure function of ``(data seed, global step)``. The generated data sets
(stereograms, shapes, photos) draw fresh samples at every step from ``step_generator(seed, step, key)``, so a run
never sees a training sample twice, and draw their probe and evaluation sets once from keys of their own
that no step can take; stored data sets (digits, images) draw the sample indices from a generator seeded
by the epoch (``epoch_batch_indices``) and the augmentation from one seeded by the step. That makes runs
bit-reproducible and makes resume exact: after a restart the loader simply starts at the restored global
step (no sampler state to save, no worker RNG to restore).

``data.batch_size`` is the global batch. Under multi-process training (conf/trainer/ddp.yaml) every process
builds the same global batch of the step and keeps its own rows, rank·B/W … (rank+1)·B/W
(``local_rows``): each process sees different samples with their own augmentation draws, and W processes
together train on exactly the batch one process would (tests/test_ddp.py). A module that augments on the
device after transfer must likewise draw the parameters of the whole global batch and keep the same rows
(``self.trainer.global_rank`` and ``world_size`` tell it which).

Tensors are returned on the CPU in their stored dtype; ``to_model_input`` turns a stored batch that has
been moved to the model's device into the float tensor the backbone takes (identity for the embedded
data, uint8 → normalised float for image datasets).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytorch_lightning as pl
import torch

from src.core.checks import require_int
from src.core.errors import ConfigError


@dataclass(frozen=True)
class EvalSet:
    view1: torch.Tensor  # (N, *input_shape)
    view2: torch.Tensor  # (N, *input_shape), the positive partner of view1 row by row
    labels: torch.Tensor  # (N,) int64


@dataclass(frozen=True)
class ProbeSplits:
    train_x: torch.Tensor  # (N_train, *input_shape)
    train_y: torch.Tensor  # (N_train,) int64
    test_x: torch.Tensor  # (N_test, *input_shape)
    test_y: torch.Tensor  # (N_test,) int64


def step_generator(seed: int, *keys: int) -> torch.Generator:
    """A CPU generator seeded by ``seed`` and integer keys (epoch, step, ...), independent per key."""
    g = torch.Generator()
    g.manual_seed(hash((seed, *keys)) & 0x7FFF_FFFF_FFFF_FFFF)  # int tuples hash deterministically
    return g


def epoch_batch_indices(num_samples: int, batch_size: int, seed: int, step: int) -> torch.Tensor:
    """Indices of the batch at ``step``: a fresh permutation per epoch, the last partial batch dropped.

    Returns (batch_size,) int64.
    """
    steps_per_epoch = num_samples // batch_size
    epoch, position = divmod(step, steps_per_epoch)
    permutation = torch.randperm(num_samples, generator=step_generator(seed, epoch))
    return permutation[position * batch_size : (position + 1) * batch_size]


def local_rows(batch: tuple, rank: int, world_size: int) -> tuple:
    """One process's share of a global batch: rows rank·n/W … (rank+1)·n/W of every tensor in it (n rows);
    anything else (the step an image batch carries along) passes through."""
    n = next(len(x) for x in batch if isinstance(x, torch.Tensor))
    if n % world_size:
        raise ConfigError(
            f"data.batch_size={n} must be divisible by the number of processes ({world_size}): it is the "
            "global batch, split evenly across them"
        )
    share = n // world_size
    return tuple(x[rank * share : (rank + 1) * share] if isinstance(x, torch.Tensor) else x for x in batch)


class StepBatches:
    """An endless iterable of training batches, starting at ``start_step``; Lightning stops it at
    ``trainer.max_steps``. With ``world_size`` > 1 it yields process ``rank``'s rows of each batch."""

    def __init__(
        self, make_batch: Callable[[int], tuple], start_step: int = 0, rank: int = 0, world_size: int = 1
    ):
        self.make_batch = make_batch
        self.start_step = start_step
        self.rank, self.world_size = rank, world_size

    def __iter__(self) -> Iterator[tuple]:
        step = self.start_step
        while True:
            batch = self.make_batch(step)
            yield batch if self.world_size == 1 else local_rows(batch, self.rank, self.world_size)
            step += 1


class SSLDataModule(pl.LightningDataModule):
    """Base class: subclasses set ``input_shape`` and ``num_classes`` in ``__init__`` and implement
    ``setup``, ``train_batch``, ``eval_set`` and ``probe_splits``."""

    input_shape: tuple[int, ...]
    num_classes: int
    # Drawn from generators keyed by the seed (stereo, shapes, photos), not read from files: what ``setup``
    # adds is then a pure function of the settings, which a process may keep (src/data/held_out_cache.py).
    generated: bool = False

    def train_batch(self, step: int) -> tuple:
        """The batch of global step ``step``: ``(view1, view2, label)`` on the CPU (or, for data
        augmented on the device, what ``on_after_batch_transfer`` turns into that triple)."""
        raise NotImplementedError

    def train_dataloader(self) -> StepBatches:
        # Called by Lightning after a checkpoint is restored, so a resumed run continues where it stopped:
        # at the number of batches consumed, which under gradient accumulation (k batches per optimizer
        # step) is global_step·k plus the batches of an unfinished window, not the global step.
        if self.trainer is None:
            return StepBatches(self.train_batch)
        return StepBatches(
            self.train_batch,
            start_step=self.trainer.fit_loop.epoch_loop.batch_progress.total.completed,
            rank=self.trainer.global_rank,
            world_size=self.trainer.world_size,
        )

    def set_generated_sizes(
        self, num_probe_train: int, num_test: int, num_eval: int, batch_size: int, seed: int
    ) -> None:
        """The sizes and seed of a data set drawn from generators (stereo, shapes, photos), checked: every split
        holds at least one sample, the seed is a non-negative integer."""
        self.num_probe_train = require_int("data.num_probe_train", num_probe_train, 1)
        self.num_test = require_int("data.num_test", num_test, 1)
        self.num_eval = require_int("data.num_eval", num_eval, 1)
        self.batch_size = require_int("data.batch_size", batch_size, 1)
        self.seed = require_int("data.seed", seed, 0)

    def eval_set(self) -> EvalSet:
        raise NotImplementedError

    def probe_splits(self) -> ProbeSplits:
        raise NotImplementedError

    def to_model_input(self, x: torch.Tensor) -> torch.Tensor:
        return x
