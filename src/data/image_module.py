"""Real image data sets (CIFAR-10/100, STL-10, any image folder) for self-supervised training.

The images stay uint8 from disk to accelerator: ``train_batch(step)`` only selects a batch (no float work
on the CPU); the whole pre-training split moves to the accelerator once, at the first batch; and
``on_after_batch_transfer`` builds BYOL's two views there, as batched tensor operations with independent
parameters per image (src/data/augment.py). The parameters of step ``s`` come from CPU generators seeded by
(data seed, s, view), so a run is reproducible, resumes exactly, and draws the same crops on any device.
"""

import torch

from src.core.checks import require_int
from src.core.errors import ConfigError
from src.data.augment import ViewAugmentation, ViewPair, apply_view, normalize, sample_view_params
from src.data.base import EvalSet, ProbeSplits, SSLDataModule, epoch_batch_indices, step_generator
from src.data.image_datasets import ImageSplits, Loader

# step_generator keys no epoch or step can take (stereo.py: not -1 and -2, which CPython hashes alike).
_EVAL_INDEX_KEY = -301
_EVAL_VIEW_KEY = -302
_PROBE_INDEX_KEY = -303
_VIEW_KEYS = (1, 2)  # (step, 1) seeds view 1, (step, 2) view 2: either view can be rebuilt alone


class ImageDataModule(SSLDataModule):
    """Stored images (N, 3, H, W) uint8; training views float32, normalised by the data set's mean/std.

    ``eval_set()`` and ``probe_splits()`` hold uint8 tensors on the CPU; ``to_model_input`` normalises
    them on the model's device. The eval views are BYOL's two augmentations of ``num_eval`` test images,
    drawn once with a fixed generator and rounded to uint8 (≤ 0.5/255 per pixel; NOTE: the training views
    are not rounded). The probe sees the clean stored images.
    """

    def __init__(
        self,
        loader: Loader,
        root: str,
        download: bool,
        input_shape: tuple[int, int, int],
        num_classes: int,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        augment: ViewPair,
        batch_size: int,
        num_eval: int,
        num_probe_train: int | None,
        seed: int,
    ):
        super().__init__()
        self.input_shape = tuple(require_int("data.input_shape", v, 1) for v in input_shape)
        if len(self.input_shape) != 3 or self.input_shape[0] != 3:
            raise ConfigError(f"data.input_shape must be [3, height, width] (RGB), got {list(input_shape)}")
        self.num_classes = require_int("data.num_classes", num_classes, 2)
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ConfigError(
                f"data.mean and data.std need 3 entries each, std > 0; got {list(mean)}, {list(std)}"
            )
        self.mean = torch.tensor([float(v) for v in mean])
        self.std = torch.tensor([float(v) for v in std])
        self.loader, self.root, self.download = loader, str(root), bool(download)
        self.augment = augment
        self.batch_size = require_int("data.batch_size", batch_size, 1)
        self.num_eval = require_int("data.num_eval", num_eval, 2)
        self.num_probe_train = (
            None if num_probe_train is None else require_int("data.num_probe_train", num_probe_train, 1)
        )
        self.seed = require_int("data.seed", seed, 0)
        self._probe: ProbeSplits | None = None  # set by setup

    # ---- setup -------------------------------------------------------------------------------------

    def setup(self, stage: str | None = None) -> None:
        if self._probe is not None:  # Lightning may call setup once per stage
            return
        splits = self.loader(self.root, self.download)
        self._check(splits)
        # Only these references to the pre-training split are kept, so the host copy of a split used for
        # pre-training only (STL-10's unlabeled images) is freed once it moves to the device.
        self._pretrain_x, self._pretrain_y = splits.pretrain_x, splits.pretrain_y
        eval_index = _fixed_subset(len(splits.test_y), self.num_eval, self.seed, _EVAL_INDEX_KEY)
        eval_images = splits.test_x[eval_index]
        views = [
            self._view(eval_images, self.augment.view1, step_generator(self.seed, _EVAL_VIEW_KEY, 1)),
            self._view(eval_images, self.augment.view2, step_generator(self.seed, _EVAL_VIEW_KEY, 2)),
        ]
        to_uint8 = [v.mul(255).round_().to(torch.uint8) for v in views]
        self._eval = EvalSet(view1=to_uint8[0], view2=to_uint8[1], labels=splits.test_y[eval_index])
        train_x, train_y = splits.train_x, splits.train_y
        if self.num_probe_train is not None:
            probe_index = _fixed_subset(len(train_y), self.num_probe_train, self.seed, _PROBE_INDEX_KEY)
            train_x, train_y = train_x[probe_index], train_y[probe_index]
        self._probe = ProbeSplits(
            train_x=train_x, train_y=train_y, test_x=splits.test_x, test_y=splits.test_y
        )

    def _check(self, splits: ImageSplits) -> None:
        shape = tuple(splits.pretrain_x.shape[1:])
        if shape != self.input_shape:
            raise ConfigError(
                f"data.input_shape is {list(self.input_shape)} but the stored images are {list(shape)}"
            )
        if len(splits.classes) != self.num_classes:
            raise ConfigError(
                f"data.num_classes is {self.num_classes} but {self.root} has {len(splits.classes)} classes"
            )
        if self.batch_size > len(splits.pretrain_y):
            raise ConfigError(
                f"data.batch_size={self.batch_size} exceeds the {len(splits.pretrain_y)} pre-training images"
            )
        if self.num_eval > len(splits.test_y):
            raise ConfigError(f"data.num_eval={self.num_eval} exceeds the {len(splits.test_y)} test images")
        if self.num_probe_train is not None and self.num_probe_train > len(splits.train_y):
            raise ConfigError(
                f"data.num_probe_train={self.num_probe_train} exceeds the {len(splits.train_y)} train images"
            )

    # ---- training batches --------------------------------------------------------------------------

    def train_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        """The stored images and labels of step ``step``, on whichever device holds the split, and the
        step itself; ``on_after_batch_transfer`` turns them into ``(view1, view2, label)``."""
        index = epoch_batch_indices(len(self._pretrain_y), self.batch_size, self.seed, step)  # (B,)
        index = index.to(self._pretrain_x.device)
        return self._pretrain_x[index], self._pretrain_y[index], step

    def on_after_batch_transfer(self, batch: tuple, dataloader_idx: int) -> tuple[torch.Tensor, ...]:
        # This process's rows of the global batch (base.local_rows): (B/W, 3, H, W) uint8 on the model's
        # device, (B/W,) int64, and the step.
        images, labels, step = batch
        if self._pretrain_x.device != images.device:  # once: later batches are selected on the device
            self._pretrain_x = self._pretrain_x.to(images.device)
            self._pretrain_y = self._pretrain_y.to(images.device)
        rank, world_size = (
            (0, 1) if self.trainer is None else (self.trainer.global_rank, self.trainer.world_size)
        )
        views = []
        for aug, key in zip((self.augment.view1, self.augment.view2), _VIEW_KEYS, strict=True):
            generator = step_generator(self.seed, step, key)
            views.append(self._normalize(self._view(images, aug, generator, rank, world_size)))
        return views[0], views[1], labels

    def _view(
        self,
        images: torch.Tensor,
        aug: ViewAugmentation,
        generator: torch.Generator,
        rank: int = 0,
        world_size: int = 1,
    ) -> torch.Tensor:
        """One view in [0, 1] of process ``rank``'s share of a global batch: the parameters of the whole
        global batch are drawn (on the CPU generator), so W processes draw exactly what one would, and
        this share's rows are applied on the images' device."""
        share, _, height, width = images.shape
        params = sample_view_params(aug, share * world_size, height, width, generator)
        params = params.rows(rank * share, (rank + 1) * share).to(images.device)
        return apply_view(images, params, aug.blur_kernel_size(min(height, width)))

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        return normalize(x, self.mean.to(x.device), self.std.to(x.device))

    # ---- measurement -------------------------------------------------------------------------------

    def eval_set(self) -> EvalSet:
        return self._eval

    def probe_splits(self) -> ProbeSplits:
        return self._probe

    def to_model_input(self, x: torch.Tensor) -> torch.Tensor:
        """Stored uint8 images -> normalised float32; float tensors are model inputs already (the training
        views) and pass through unchanged."""
        return self._normalize(x.float() / 255) if x.dtype == torch.uint8 else x


def _fixed_subset(n: int, size: int, seed: int, key: int) -> torch.Tensor:
    """``size`` of ``range(n)`` drawn once by a fixed generator, in increasing order."""
    return torch.randperm(n, generator=step_generator(seed, key))[:size].sort().values
