"""Natural photographs: crops of scikit-learn's two sample images (china.jpg, flower.jpg, 427×640 RGB,
shipped inside the package: no download), a real-image testbed drawn afresh at every step.

Labels are a natural grouping, the region of the scene: each photograph is cut into a ``grid`` × ``grid``
grid of cells and a crop's label is (photo, cell), 2·grid² classes (32 by default). Some regions look
alike (sky, petals), so the probe has no perfect score to reach; what matters is the gap between a
trained representation and a random one.

A sample is a crop position inside a cell; its two views are two ``crop``-px crops of that cell at
independent, distinct integer offsets (≤ ``max_offset`` px each way) around the sample's centre, so they
overlap (≥ (crop − 2·max_offset)² px) but are never the same crop: the shared content is the scene
region. Each view then has nuisances of its own (horizontal flip, brightness, contrast about its mean,
a gain per colour channel, Gaussian pixel noise), so no brightness, colour cast or noise level is common
to the two views. NOTE: a crop's mean colour is scene content (its spread across crops is about
the pixels' own, std ≈ 1) and the views overlap, so it stays shared: with the default jitter (SimCLR-like
strength: brightness 0.8, colour gain 0.4) the views' channel means correlate ≈ 0.77, against ≈ 0.92 with
half of it. Crops are average-pooled to ``side`` px: (3, side, side) inputs for the MLP or the CNN.

Held-out split: inside every cell the bottom ``test_fraction`` of the rows is a band reserved for the
probe's test split and the evaluation pairs; training batches and the probe's train split are drawn from
the rows above it, and a sample's whole footprint (crop + 2·max_offset each way) stays inside its band,
so no training pixel is ever seen in a held-out sample (tests/test_data_photos.py paints both areas).
NOTE: the band is 0.4 of a cell by default, not 0.25: a 4 × 4 grid's cells are 106 rows high and the
held-out band must hold a 40-px footprint.

Fresh data as for the stereograms and shapes: step s's batch comes from a generator keyed by (seed, s);
the probe and evaluation sets come from their own fixed keys. Pixels are normalised once by the
photographs' per-channel mean and std (statistics of whole images, no labels involved).
"""

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from src.core.checks import require_float, require_int
from src.core.errors import ConfigError
from src.data.base import EvalSet, ProbeSplits, SSLDataModule, step_generator

_PROBE_TRAIN_KEY = -501  # step_generator keys no training step can take (stereo.py: not -1 and -2)
_PROBE_TEST_KEY = -502
_EVAL_KEY = -503
_TRAIN_KEY = 1
_MISSING = "data=photos needs scikit-learn (pip install scikit-learn); or choose data=stereo|shapes"


def load_photos() -> torch.Tensor:
    """The two sample photographs, each channel normalised to zero mean and unit variance over both.
    Returns (2, 3, 427, 640) float32. Raises ConfigError if scikit-learn (or its image reader) is absent."""
    try:
        from sklearn.datasets import load_sample_images

        return _normalised(load_sample_images)
    except ImportError as error:
        raise ConfigError(_MISSING) from error


@functools.cache
def _normalised(loader) -> torch.Tensor:
    """Decoded once per process (loader: sklearn's load_sample_images)."""
    pixels = torch.from_numpy(np.stack(loader().images)).permute(0, 3, 1, 2).float() / 255  # (2, 3, H, W)
    mean, std = pixels.mean((0, 2, 3), keepdim=True), pixels.std((0, 2, 3), keepdim=True)
    return ((pixels - mean) / std).contiguous()


def uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator)


def distinct_offsets(num: int, max_offset: int, generator: torch.Generator) -> torch.Tensor:
    """Two different (down, right) offsets per sample, each uniform over [−max_offset, max_offset]²: the
    second is drawn among the positions the first did not take. Returns (2, num, 2) int64."""
    width = 2 * max_offset + 1
    first = torch.randint(0, width * width, (num,), generator=generator)
    second = torch.randint(0, width * width - 1, (num,), generator=generator)
    second = second + (second >= first).long()  # skip the first's position
    index = torch.stack([first, second])  # (2, N)
    return torch.stack([index // width, index % width], -1) - max_offset


def pooled_phases(photos: torch.Tensor, factor: int) -> torch.Tensor:
    """The photographs average-pooled by ``factor`` at every phase (a, b) of the pooling grid, channels
    last: entry [p, a, b, i, j] is the mean of photo p's factor² block with top-left (a + factor·i,
    b + factor·j). photos: (P, C, H, W). Returns (P, factor, factor, H // factor, W // factor, C).

    Why: a crop pooled by ``factor`` is a slice of one phase, so a step gathers side² pixels per crop
    instead of crop² (4× fewer; the gather was most of a step's data time)."""
    height, width = photos.shape[-2] // factor, photos.shape[-1] // factor
    padded = F.pad(photos, (0, factor, 0, factor))  # the padding is never inside a crop
    phases = [
        [F.avg_pool2d(padded[:, :, a:, b:], factor)[:, :, :height, :width] for b in range(factor)]
        for a in range(factor)
    ]
    return torch.stack([torch.stack(row, 1) for row in phases], 1).permute(0, 1, 2, 4, 5, 3).contiguous()


def pooled_crop(
    phases: torch.Tensor, photo: torch.Tensor, top: torch.Tensor, left: torch.Tensor, side: int
) -> torch.Tensor:
    """The crops with top-left pixel (top, left) of photographs ``photo``, pooled to ``side``² (each
    side·factor px before pooling). phases: pooled_phases' (P, k, k, H/k, W/k, C); photo, top, left:
    (N,) int64. Returns (N, C, side, side)."""
    factor = phases.shape[1]
    span = torch.arange(side)
    rows = (top[:, None] // factor + span)[:, :, None]  # (N, side, 1)
    cols = (left[:, None] // factor + span)[:, None, :]  # (N, 1, side)
    phase_row, phase_col = (top % factor)[:, None, None], (left % factor)[:, None, None]
    return phases[photo[:, None, None], phase_row, phase_col, rows, cols].permute(0, 3, 1, 2)


def jitter(
    x: torch.Tensor,
    brightness: float,
    contrast: float,
    colour: float,
    noise_std: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """Per-image nuisances: a horizontal flip with probability ½, contrast c ~ U[1 − contrast, 1 + contrast]
    about the image's mean, a gain per channel ~ U[1 − colour, 1 + colour], a brightness offset
    ~ U[−brightness, brightness] and N(0, noise_std²) pixel noise. x: (N, C, H, W). Returns x's shape."""
    num, channels = x.shape[:2]
    flip = torch.rand(num, 1, 1, 1, generator=generator) < 0.5
    x = torch.where(flip, x.flip(-1), x)
    mean = x.mean((1, 2, 3), keepdim=True)
    scale = uniform((num, 1, 1, 1), 1 - contrast, 1 + contrast, generator)
    gain = uniform((num, channels, 1, 1), 1 - colour, 1 + colour, generator)
    offset = uniform((num, 1, 1, 1), -brightness, brightness, generator)
    noise = noise_std * torch.randn(x.shape, generator=generator)
    return (mean + scale * (x - mean)) * gain + offset + noise


def _require_fit(key: str, value: object, minimum: int, maximum: int, why: str) -> int:
    """require_int with the reason for the bound at the end of its one line."""
    try:
        return require_int(key, value, minimum, maximum)
    except ConfigError as error:
        raise ConfigError(f"{error} ({why})") from None


class PhotosDataModule(SSLDataModule):
    """Crops of two photographs (3, side, side); views: two overlapping crops of one cell with their own
    nuisances; labels: (photo, cell) as photo·grid² + row·grid + column."""

    generated = True

    def __init__(
        self,
        grid: int,
        crop: int,
        side: int,
        max_offset: int,
        test_fraction: float,
        brightness: float,
        contrast: float,
        colour: float,
        noise_std: float,
        num_probe_train: int,
        num_test: int,
        num_eval: int,
        batch_size: int,
        seed: int,
    ):
        super().__init__()
        self.photos = load_photos()  # before any check: a missing package is the first thing to fix
        _, _, height, width = self.photos.shape
        self.side = require_int("data.side", side, 4)
        self.max_offset = require_int("data.max_offset", max_offset, 1, 16)
        self.grid = require_int("data.grid", grid, 1, 8)
        self.cell = (height // self.grid, width // self.grid)  # (rows, columns); the remainder is unused
        # Both bands of a cell must hold a footprint (crop + 2·max_offset) whatever test_fraction is.
        room = min(self.cell[0] // 2, self.cell[1]) - 2 * self.max_offset
        self.crop = _require_fit(
            "data.crop", crop, self.side, room, "a crop and its offsets inside half a cell"
        )
        if self.crop % self.side:
            raise ConfigError(
                f"data.crop must be a multiple of data.side={self.side} (pooled by an integer factor), got {crop!r}"
            )
        self.footprint = self.crop + 2 * self.max_offset
        self.phases = pooled_phases(self.photos, self.crop // self.side)
        edge = self.footprint / self.cell[0]  # either band at least a footprint high
        self.test_fraction = require_float("data.test_fraction", test_fraction, edge, 1 - edge)
        self.test_rows = math.ceil(round(self.test_fraction * self.cell[0], 6))
        self.brightness = require_float("data.brightness", brightness, 0, math.inf, open_high=True)
        self.contrast = require_float("data.contrast", contrast, 0, 1, open_high=True)
        self.colour = require_float("data.colour", colour, 0, 1, open_high=True)
        self.noise_std = require_float("data.noise_std", noise_std, 0, math.inf, open_high=True)
        self.set_generated_sizes(num_probe_train, num_test, num_eval, batch_size, seed)
        self.input_shape = (3, self.side, self.side)
        self.num_classes = 2 * self.grid**2

    def band(self, held_out: bool) -> tuple[int, int]:
        """(first row inside a cell, number of rows) of the training rows or of the held-out band."""
        train_rows = self.cell[0] - self.test_rows
        return (train_rows, self.test_rows) if held_out else (0, train_rows)

    def locate(
        self, labels: torch.Tensor, held_out: bool, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Where each sample's footprint lies: uniform over the positions that keep it inside its cell's
        band. labels: (N,). Returns its top and left pixel in the photograph, (N,) int64 each."""
        num, cells = len(labels), self.grid**2
        row, column = (labels % cells) // self.grid, labels % self.grid
        first, rows = self.band(held_out)
        dy = torch.randint(0, rows - self.footprint + 1, (num,), generator=generator)
        dx = torch.randint(0, self.cell[1] - self.footprint + 1, (num,), generator=generator)
        return row * self.cell[0] + first + dy, column * self.cell[1] + dx

    def place(
        self, num: int, held_out: bool, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``num`` samples with balanced random classes in the training rows or the held-out band, and
        where their two views lie: labels (N,), top and left pixels of each view's crop (2, N) each."""
        labels = torch.randint(0, self.num_classes, (num,), generator=generator)
        top, left = self.locate(labels, held_out, generator)
        offsets = distinct_offsets(num, self.max_offset, generator) + self.max_offset  # (2, N, 2)
        return labels, top + offsets[..., 0], left + offsets[..., 1]

    def draw(
        self, num: int, held_out: bool, generator: torch.Generator, views: int
    ) -> tuple[torch.Tensor, ...]:
        """``num`` samples placed by ``place`` and ``views`` views of each (at most 2): (*views, labels)."""
        labels, tops, lefts = self.place(num, held_out, generator)
        photo = labels // self.grid**2
        out = []
        for top, left in zip(tops[:views], lefts[:views], strict=True):
            pooled = pooled_crop(self.phases, photo, top, left, self.side)  # (N, 3, side, side)
            out.append(jitter(pooled, self.brightness, self.contrast, self.colour, self.noise_std, generator))
        return (*out, labels)

    def setup(self, stage: str | None = None) -> None:
        if hasattr(self, "_probe"):  # Lightning may call setup once per stage
            return
        train_x, train_y = self.draw(
            self.num_probe_train, False, step_generator(self.seed, _PROBE_TRAIN_KEY), 1
        )
        test_x, test_y = self.draw(self.num_test, True, step_generator(self.seed, _PROBE_TEST_KEY), 1)
        self._probe = ProbeSplits(train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y)
        self._eval = EvalSet(*self.draw(self.num_eval, True, step_generator(self.seed, _EVAL_KEY), 2))

    def train_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.draw(self.batch_size, False, step_generator(self.seed, step, _TRAIN_KEY), 2)

    def eval_set(self) -> EvalSet:
        return self._eval

    def probe_splits(self) -> ProbeSplits:
        return self._probe
