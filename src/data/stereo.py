"""Random-dot stereograms (Becker & Hinton 1992, "Self-organizing neural network that discovers surfaces
in random-dot stereograms"): the suite's default data, generated in memory.

Each stereogram is a strip of ``num_patches`` neighbouring patches. A patch holds two eyes: random ±1
dots for the left eye and, for the right eye, the same dots shifted by the surface's disparity. The two
views of a training sample are two neighbouring patches of one stereogram: they share the depth and
nothing else, so a representation that agrees across views has to find depth. Depth is not visible in
either eye alone, nor linearly in the pixels: it lives only in the correlation between the eyes.
"""

import math

import torch

from src.config.checks import require_choice, require_float, require_int
from src.data.base import EvalSet, ProbeSplits, SSLDataModule, epoch_batch_indices, step_generator

# Keys for step_generator. Training steps use (epoch,) and (step, _VIEW_KEY); the data sets use
# keys no epoch can take. NOTE: not -1 and -2: CPython hashes -1 as -2, so both would seed one stream.
_TRAIN_SET_KEY = -101
_TEST_SET_KEY = -102
_VIEW_KEY = 1


def random_dots(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Independent ±1 dots with equal probability. Returns float32 of ``shape``."""
    return torch.randint(0, 2, shape, generator=generator).float() * 2 - 1


def planar_disparity(num: int, width: int, max_disparity: float, generator: torch.Generator) -> torch.Tensor:
    """A fronto-parallel plane per stereogram: one disparity uniform in [0, max_disparity], constant
    across the strip. Returns (num, width)."""
    return (torch.rand(num, 1, generator=generator) * max_disparity).expand(num, width).contiguous()


def curved_disparity(
    num: int, width: int, max_disparity: float, max_cycles: float, generator: torch.Generator
) -> torch.Tensor:
    """A smoothly curved surface per stereogram: d(x) = c + a·sin(2π·k·x/width + φ) with centre
    c ~ U[0, max_disparity], amplitude a ~ U[0, min(c, max_disparity − c)] (so d stays in range),
    k ~ U[0, max_cycles] cycles over the strip and phase φ ~ U[0, 2π). Neighbouring pixels then differ
    by at most π·max_disparity·max_cycles/width. Returns (num, width)."""
    centre = torch.rand(num, 1, generator=generator) * max_disparity
    amplitude = torch.rand(num, 1, generator=generator) * torch.minimum(centre, max_disparity - centre)
    cycles = torch.rand(num, 1, generator=generator) * max_cycles
    phase = torch.rand(num, 1, generator=generator) * 2 * math.pi
    x = torch.arange(width, dtype=torch.float32)  # (width,)
    return centre + amplitude * torch.sin(2 * math.pi * cycles * x / width + phase)


def right_eye(dots: torch.Tensor, disparity: torch.Tensor) -> torch.Tensor:
    """The right eye's image: right[..., x] = dots(x + d(x)), with linear interpolation between dots
    for fractional disparity (Becker & Hinton used continuous disparities).

    dots: (..., L) with L > width − 1 + max(disparity) + 1; disparity: (..., width) ≥ 0, broadcastable
    to dots' leading dims. Returns (..., width). The left eye is dots[..., :width].
    """
    width = disparity.shape[-1]
    position = torch.arange(width, dtype=disparity.dtype) + disparity  # (..., width)
    below = position.floor()
    fraction = position - below
    below = below.long().expand(*dots.shape[:-1], width)
    fraction = fraction.expand(*dots.shape[:-1], width)
    left_dot = dots.gather(-1, below)
    right_dot = dots.gather(-1, below + 1)
    return (1 - fraction) * left_dot + fraction * right_dot


def stereogram_patches(
    disparity: torch.Tensor, num_patches: int, height: int, max_disparity: float, generator: torch.Generator
) -> torch.Tensor:
    """Cut each stereogram into ``num_patches`` patches and render both eyes of each.

    disparity: (N, num_patches·patch_width), the surface profile over the strip. Every row of a patch
    has its own random dots and the same disparity profile. Returns (N, num_patches, 2, height,
    patch_width): channel 0 the left eye, channel 1 the right eye.

    NOTE: each patch draws its own dots (the right eye's overhang is not the next patch's left eye), so
    neighbouring patches share the surface and no dot: agreeing across them cannot rely on shared pixels.
    """
    num, strip_width = disparity.shape
    patch_width = strip_width // num_patches
    margin = math.floor(max_disparity) + 1  # dots read past the patch's right edge by the right eye
    dots = random_dots((num, num_patches, height, patch_width + margin), generator)
    patch_disparity = disparity.reshape(num, num_patches, 1, patch_width)  # same profile on every row
    left = dots[..., :patch_width]
    right = right_eye(dots, patch_disparity)
    return torch.stack([left, right], dim=2)


def disparity_bins(disparity: torch.Tensor, max_disparity: float, num_bins: int) -> torch.Tensor:
    """Bin index of each disparity among ``num_bins`` equal bins over [0, max_disparity] (the top edge
    belongs to the last bin). Returns int64 of disparity's shape."""
    return (disparity / max_disparity * num_bins).floor().long().clamp(0, num_bins - 1)


def flip_dots(x: torch.Tensor, prob: float, generator: torch.Generator) -> torch.Tensor:
    """Flip the sign of each dot independently with probability ``prob`` (training-time noise).
    Returns x's shape."""
    flip = torch.rand(x.shape, generator=generator) < prob
    return torch.where(flip, -x, x)


class StereoDataModule(SSLDataModule):
    """Random-dot stereogram strips; views are two neighbouring patches, labels are disparity bins.

    After ``setup``: ``train_patches``/``test_patches`` (N, num_patches, *input_shape),
    ``train_patch_labels``/``test_patch_labels`` (N, num_patches) and the surface profiles
    ``train_disparity``/``test_disparity`` (N, num_patches·patch_width).
    """

    def __init__(
        self,
        surface: str,
        layout: str,
        num_patches: int,
        patch_width: int,
        height: int,
        max_disparity: float,
        num_disparity_bins: int,
        max_cycles: float,
        noise: float,
        num_train: int,
        num_test: int,
        num_eval: int,
        num_probe_train: int | None,
        batch_size: int,
        seed: int,
    ):
        super().__init__()
        self.surface = require_choice("data.surface", surface, ("planar", "curved"))
        self.layout = require_choice("data.layout", layout, ("strip", "image"))
        self.num_patches = require_int("data.num_patches", num_patches, 2)
        self.patch_width = require_int("data.patch_width", patch_width, 2)
        self.height = require_int("data.height", height, 1)
        self.max_disparity = require_float(
            "data.max_disparity", max_disparity, 0, patch_width, open_low=True, open_high=True
        )
        self.num_disparity_bins = require_int("data.num_disparity_bins", num_disparity_bins, 2)
        self.max_cycles = require_float("data.max_cycles", max_cycles, 0, math.inf, open_high=True)
        self.noise = require_float("data.noise", noise, 0, 1)
        self.num_train = require_int("data.num_train", num_train, 1)
        self.num_test = require_int("data.num_test", num_test, 1)
        self.num_eval = require_int("data.num_eval", num_eval, 1, num_test)
        self.num_probe_train = (
            num_train
            if num_probe_train is None
            else require_int("data.num_probe_train", num_probe_train, 1, num_train)
        )
        self.batch_size = require_int("data.batch_size", batch_size, 1, num_train)
        self.seed = require_int("data.seed", seed, 0)
        rows = () if layout == "strip" else (height,)
        self.input_shape = (2, *rows, patch_width)
        self.num_classes = num_disparity_bins

    def _generate(self, num: int, key: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``num`` stereograms from the stream ``key``: (patches, patch labels, disparity profiles)."""
        generator = step_generator(self.seed, key)
        width = self.num_patches * self.patch_width
        if self.surface == "planar":
            disparity = planar_disparity(num, width, self.max_disparity, generator)
        else:
            disparity = curved_disparity(num, width, self.max_disparity, self.max_cycles, generator)
        height = self.height if self.layout == "image" else 1
        patches = stereogram_patches(disparity, self.num_patches, height, self.max_disparity, generator)
        patches = patches.reshape(num, self.num_patches, *self.input_shape)
        patch_mean = disparity.reshape(num, self.num_patches, self.patch_width).mean(-1)  # (num, P)
        labels = disparity_bins(patch_mean, self.max_disparity, self.num_disparity_bins)
        return patches, labels, disparity

    def setup(self, stage: str | None = None) -> None:
        if hasattr(self, "train_patches"):  # Lightning may call setup once per stage
            return
        self.train_patches, self.train_patch_labels, self.train_disparity = self._generate(
            self.num_train, _TRAIN_SET_KEY
        )
        self.test_patches, self.test_patch_labels, self.test_disparity = self._generate(
            self.num_test, _TEST_SET_KEY
        )

    def train_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Views: an adjacent patch pair per sample, in random order; label: the first view's bin."""
        index = epoch_batch_indices(self.num_train, self.batch_size, self.seed, step)  # (B,)
        generator = step_generator(self.seed, step, _VIEW_KEY)
        pair = torch.randint(0, self.num_patches - 1, (self.batch_size,), generator=generator)
        swap = torch.randint(0, 2, (self.batch_size,), generator=generator)
        first, second = pair + swap, pair + 1 - swap
        view1 = self.train_patches[index, first]
        view2 = self.train_patches[index, second]
        if self.noise > 0:
            view1 = flip_dots(view1, self.noise, generator)
            view2 = flip_dots(view2, self.noise, generator)
        return view1, view2, self.train_patch_labels[index, first]

    def eval_set(self) -> EvalSet:
        n = self.num_eval
        return EvalSet(
            view1=self.test_patches[:n, 0],
            view2=self.test_patches[:n, 1],
            labels=self.test_patch_labels[:n, 0],
        )

    def probe_splits(self) -> ProbeSplits:
        # The stereograms are i.i.d., so the first num_probe_train are a random subset.
        n = self.num_probe_train
        return ProbeSplits(
            train_x=self.train_patches[:n, 0],
            train_y=self.train_patch_labels[:n, 0],
            test_x=self.test_patches[:, 0],
            test_y=self.test_patch_labels[:, 0],
        )
