"""scikit-learn's bundled 8×8 handwritten digits (1,797 images, shipped inside the package: no download),
a small real-image data set whose two views come from simple batched augmentations.

Each augmentation is a pure function ``(x: (B, 1, H, W), generator) -> (B, 1, H, W)`` that draws its own
parameters independently per image, so the two views of a sample differ in every parameter.

NOTE: kept for the tests and as a real-image example, but it cannot rank the ablation rows: a random
network's linear probe already scores 0.975 and every row lands in 0.981–0.992, and its 1,437 training
images repeat every ~6 steps (only the augmentation is fresh). The second embedded data set that does
discriminate is ``data=shapes`` (src/data/shapes.py).
"""

import math

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from src.core.checks import require_float, require_int
from src.core.errors import ConfigError, DataError
from src.data.base import EvalSet, ProbeSplits, SSLDataModule, epoch_batch_indices, step_generator

_NUM_IMAGES = 1797  # load_digits' size, known before loading so batch_size can be checked in __init__
_SIDE = 8
_MAX_PIXEL = 16.0  # load_digits' grey levels are 0..16
# step_generator keys that no training epoch or step can take (see stereo.py about -1 and -2).
_EVAL_KEY = -201
_VIEW_KEY = 1


def translate(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Move each image's content by its integer (down, right) shift, filling with 0 (the background):
    zero-pad then crop. x: (B, C, H, W); shifts: (B, 2) int64. Returns (B, C, H, W)."""
    _, _, height, width = x.shape
    pad = int(shifts.abs().max()) if shifts.numel() else 0
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))  # (B, C, H + 2·pad, W + 2·pad)
    rows = torch.arange(height) + pad - shifts[:, 0, None]  # (B, H): source row of each output row
    cols = torch.arange(width) + pad - shifts[:, 1, None]  # (B, W)
    batch = torch.arange(x.shape[0])[:, None, None]
    # Advanced indexing moves the broadcast (B, H, W) index dims first: (B, H, W, C) → (B, C, H, W).
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def random_translate(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by its own (down, right) offsets, each uniform in [−max_shift, max_shift]."""
    shifts = torch.randint(-max_shift, max_shift + 1, (x.shape[0], 2), generator=generator)
    return translate(x, shifts)


def gaussian_noise(x: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
    """Add independent N(0, std²) noise to every pixel."""
    return x + std * torch.randn(x.shape, generator=generator)


def random_erase(x: torch.Tensor, prob: float, generator: torch.Generator) -> torch.Tensor:
    """With probability ``prob`` per image, set one rectangle to 0 (Zhong et al. 2020, random erasing).
    Its height and width are uniform in [1, side/2] and its position uniform within the image."""
    batch, _, height, width = x.shape
    erase = torch.rand(batch, generator=generator) < prob  # (B,)
    box_h = torch.randint(1, height // 2 + 1, (batch, 1), generator=generator)
    box_w = torch.randint(1, width // 2 + 1, (batch, 1), generator=generator)
    top = (torch.rand(batch, 1, generator=generator) * (height - box_h + 1)).long()  # (B, 1)
    left = (torch.rand(batch, 1, generator=generator) * (width - box_w + 1)).long()
    row, col = torch.arange(height), torch.arange(width)
    in_rows = (row >= top) & (row < top + box_h)  # (B, H)
    in_cols = (col >= left) & (col < left + box_w)  # (B, W)
    mask = erase[:, None, None] & in_rows[:, :, None] & in_cols[:, None, :]  # (B, H, W)
    return x.masked_fill(mask[:, None], 0.0)


def augment(
    x: torch.Tensor, max_shift: int, noise_std: float, erase_prob: float, generator: torch.Generator
) -> torch.Tensor:
    """One view: translate, add noise, erase. x: (B, 1, H, W). Returns (B, 1, H, W)."""
    x = random_translate(x, max_shift, generator)
    x = gaussian_noise(x, noise_std, generator)
    return random_erase(x, erase_prob, generator)


class DigitsDataModule(SSLDataModule):
    """8×8 digits scaled to [0, 1], shape (1, 8, 8), a stratified seeded held-out split, 10 classes.

    After ``setup``: ``train_x``/``test_x`` (N, 1, 8, 8) float32, ``train_y``/``test_y`` (N,) int64 and
    ``train_index``/``test_index``, the rows of ``load_digits`` in each split.
    """

    def __init__(
        self,
        test_fraction: float,
        max_shift: int,
        noise_std: float,
        erase_prob: float,
        batch_size: int,
        seed: int,
    ):
        super().__init__()
        self.input_shape = (1, _SIDE, _SIDE)
        self.num_classes = 10
        self.test_fraction = require_float(
            "data.test_fraction", test_fraction, 0, 1, open_low=True, open_high=True
        )
        self.max_shift = require_int("data.max_shift", max_shift, 0, _SIDE - 1)
        self.noise_std = require_float("data.noise_std", noise_std, 0, float("inf"), open_high=True)
        self.erase_prob = require_float("data.erase_prob", erase_prob, 0, 1)
        self.seed = require_int("data.seed", seed, 0, 2**32 - 1)  # scikit-learn's random_state range
        self.num_test = math.ceil(self.test_fraction * _NUM_IMAGES)  # rounded as scikit-learn rounds
        self.num_train = _NUM_IMAGES - self.num_test
        if min(self.num_test, self.num_train) < self.num_classes:  # stratification needs one per class
            raise ConfigError(
                f"data.test_fraction must leave ≥ 10 images on each side of the split, got {test_fraction!r}"
            )
        self.batch_size = require_int("data.batch_size", batch_size, 1, self.num_train)

    def setup(self, stage: str | None = None) -> None:
        if hasattr(self, "train_x"):  # Lightning may call setup once per stage
            return
        images, labels = load_digits(return_X_y=True)
        if images.shape != (_NUM_IMAGES, _SIDE * _SIDE):
            raise DataError(f"sklearn load_digits returned shape {images.shape}, expected (1797, 64)")
        x = torch.as_tensor(images, dtype=torch.float32).reshape(-1, *self.input_shape) / _MAX_PIXEL
        y = torch.as_tensor(labels, dtype=torch.int64)
        train_index, test_index = train_test_split(
            np.arange(_NUM_IMAGES), test_size=self.num_test, stratify=labels, random_state=self.seed
        )
        self.train_index, self.test_index = torch.as_tensor(train_index), torch.as_tensor(test_index)
        self.train_x, self.train_y = x[self.train_index], y[self.train_index]
        self.test_x, self.test_y = x[self.test_index], y[self.test_index]
        eval_generator = step_generator(self.seed, _EVAL_KEY)
        self._eval = EvalSet(
            view1=self._augment(self.test_x, eval_generator),
            view2=self._augment(self.test_x, eval_generator),
            labels=self.test_y,
        )

    def _augment(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return augment(x, self.max_shift, self.noise_std, self.erase_prob, generator)

    def train_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        index = epoch_batch_indices(self.num_train, self.batch_size, self.seed, step)  # (B,)
        generator = step_generator(self.seed, step, _VIEW_KEY)
        x = self.train_x[index]
        return self._augment(x, generator), self._augment(x, generator), self.train_y[index]

    def eval_set(self) -> EvalSet:
        return self._eval

    def probe_splits(self) -> ProbeSplits:
        return ProbeSplits(train_x=self.train_x, train_y=self.train_y, test_x=self.test_x, test_y=self.test_y)
