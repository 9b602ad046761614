"""Procedural glyphs: the suite's second embedded data set, generated afresh at every step, no download.

A sample is an *instance* of one of ten stroke glyphs (+, ×, T, L, square, triangle, circle, H, Z, V):
the class template under a random affine distortion of its own (rotation, shear, stretch), so no two
instances are alike. A view draws the instance with nuisances of its own: position, scale, stroke width,
contrast, background level and pixel noise, plus a few clutter strokes. The two views of a sample
therefore share the glyph (class and instance shape) and nothing else: no brightness, contrast, position
or noise level is common to them, so agreeing on a cheap pixel statistic cannot satisfy the objective
(tests/test_data_shapes.py measures it with tests/shortcuts.py). Varying position and scale makes the
class hard for a linear read-out of a random network, so a trained representation has room to show.

Fresh data as for the stereograms: step s's batch comes from a generator keyed by (seed, s); the probe
and evaluation sets come from their own fixed keys.
"""

import itertools
import math

import torch

from src.core.checks import require_float, require_int
from src.data.base import EvalSet, ProbeSplits, SSLDataModule, step_generator

_PROBE_TRAIN_KEY = -401  # step_generator keys no training step can take (stereo.py: not -1 and -2)
_PROBE_TEST_KEY = -402
_EVAL_KEY = -403
_TRAIN_KEY = 1

# Stroke end points ((x0, y0), (x1, y1)) in a [-1, 1]² frame, y down.
_GLYPHS = {
    "plus": [((-1, 0), (1, 0)), ((0, -1), (0, 1))],
    "cross": [((-1, -1), (1, 1)), ((-1, 1), (1, -1))],
    "tee": [((-1, -1), (1, -1)), ((0, -1), (0, 1))],
    "ell": [((-1, -1), (-1, 1)), ((-1, 1), (1, 1))],
    "square": [((-1, -1), (1, -1)), ((1, -1), (1, 1)), ((1, 1), (-1, 1)), ((-1, 1), (-1, -1))],
    "triangle": [((0, -1), (1, 1)), ((1, 1), (-1, 1)), ((-1, 1), (0, -1))],
    "circle": [],  # filled in below: a regular polygon fine enough to read as a ring
    "aitch": [((-1, -1), (-1, 1)), ((1, -1), (1, 1)), ((-1, 0), (1, 0))],
    "zed": [((-1, -1), (1, -1)), ((1, -1), (-1, 1)), ((-1, 1), (1, 1))],
    "vee": [((-1, -1), (0, 1)), ((0, 1), (1, -1))],
}
CLASS_NAMES = tuple(_GLYPHS)


def _templates() -> torch.Tensor:
    """The glyphs as strokes. Returns (num_classes, max strokes, 2 ends, 2 coordinates) float32; glyphs
    with fewer strokes repeat their first (a repeated stroke draws nothing new)."""
    corners = [(math.cos(2 * math.pi * i / 8), math.sin(2 * math.pi * i / 8)) for i in range(9)]
    glyphs = {**_GLYPHS, "circle": list(itertools.pairwise(corners))}
    longest = max(len(strokes) for strokes in glyphs.values())
    padded = [strokes + [strokes[0]] * (longest - len(strokes)) for strokes in glyphs.values()]
    return torch.tensor(padded, dtype=torch.float32)


TEMPLATES = _templates()


def uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator)


def instance_strokes(labels: torch.Tensor, distortion: float, generator: torch.Generator) -> torch.Tensor:
    """Each instance's strokes: its class template under a random affine map R(θ)·(I + E), θ ~
    U[−π·distortion, π·distortion], E's entries ~ U[−distortion, distortion]. labels: (N,).
    Returns (N, S, 2, 2)."""
    num = len(labels)
    theta = uniform((num,), -math.pi * distortion, math.pi * distortion, generator)
    rotation = torch.stack([theta.cos(), -theta.sin(), theta.sin(), theta.cos()], 1).view(num, 2, 2)
    stretch = torch.eye(2) + uniform((num, 2, 2), -distortion, distortion, generator)
    affine = rotation @ stretch  # (N, 2, 2)
    return torch.einsum("nij,nsej->nsei", affine, TEMPLATES[labels])


def segment_distance(points: torch.Tensor, strokes: torch.Tensor) -> torch.Tensor:
    """Distance from each point to the nearest of each image's strokes.

    points: (P, 2); strokes: (N, S, 2, 2). Returns (N, P)."""
    # x and y kept apart (not a trailing dim of 2) and one square root after the minimum: this runs on
    # every training step.
    start_x, start_y = strokes[:, :, 0, 0, None], strokes[:, :, 0, 1, None]  # (N, S, 1)
    dir_x, dir_y = strokes[:, :, 1, 0, None] - start_x, strokes[:, :, 1, 1, None] - start_y
    length2 = (dir_x.square() + dir_y.square()).clamp_min(1e-12)
    rel_x, rel_y = points[:, 0] - start_x, points[:, 1] - start_y  # (N, S, P)
    along = ((rel_x * dir_x + rel_y * dir_y) / length2).clamp_(0, 1)  # nearest point's place on the stroke
    off_x, off_y = rel_x - along * dir_x, rel_y - along * dir_y
    return (off_x.square() + off_y.square()).amin(1).sqrt()


def render_strokes(strokes: torch.Tensor, half_width: torch.Tensor, side: int) -> torch.Tensor:
    """Anti-aliased strokes on a ``side``² pixel grid: coverage clamp(w + ½ − distance, 0, 1) with the
    strokes in pixel units. strokes: (N, S, 2, 2); half_width: (N,). Returns (N, side, side) in [0, 1]."""
    grid = torch.arange(side, dtype=torch.float32)
    points = torch.stack(torch.meshgrid(grid, grid, indexing="xy"), -1).reshape(-1, 2)  # (side², 2) as (x, y)
    distance = segment_distance(points, strokes)
    return (half_width[:, None] + 0.5 - distance).clamp(0, 1).view(-1, side, side)


class ShapesDataModule(SSLDataModule):
    """Glyph images (1, side, side); views: the same instance drawn twice with independent nuisances;
    labels: the glyph class (10)."""

    generated = True

    def __init__(
        self,
        side: int,
        distortion: float,
        min_scale: float,
        max_scale: float,
        max_half_width: float,
        max_background: float,
        min_contrast: float,
        noise_std: float,
        clutter: int,
        num_probe_train: int,
        num_test: int,
        num_eval: int,
        batch_size: int,
        seed: int,
    ):
        super().__init__()
        self.side = require_int("data.side", side, 8)
        self.distortion = require_float("data.distortion", distortion, 0, 0.5)
        self.max_scale = require_float("data.max_scale", max_scale, 0, 1, open_low=True)
        self.min_scale = require_float("data.min_scale", min_scale, 0, self.max_scale, open_low=True)
        self.max_half_width = require_float("data.max_half_width", max_half_width, 0.25, side / 4 - 0.5)
        self.max_background = require_float(
            "data.max_background", max_background, 0, math.inf, open_high=True
        )
        self.min_contrast = require_float("data.min_contrast", min_contrast, 0, 1, open_low=True)
        self.noise_std = require_float("data.noise_std", noise_std, 0, math.inf, open_high=True)
        self.clutter = require_int("data.clutter", clutter, 0, 8)
        self.set_generated_sizes(num_probe_train, num_test, num_eval, batch_size, seed)
        self.input_shape = (1, side, side)
        self.num_classes = len(CLASS_NAMES)

    def draw_view(self, strokes: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One view of each instance: placement, stroke width, clutter, background, contrast and noise,
        each drawn per image. strokes: (N, S, 2, 2) in the glyph frame. Returns (N, 1, side, side)."""
        num, middle = len(strokes), (self.side - 1) / 2  # the canvas centre, in pixel coordinates
        free = middle - self.max_half_width - 0.5  # no ink on the edge pixels (coverage reaches w + ½)
        scale = uniform((num, 1, 1, 1), self.min_scale, self.max_scale, generator) * free
        extent = strokes.abs().amax((1, 2, 3)).view(num, 1, 1, 1).clamp_min(1)  # the glyph's half-size
        room = free - scale  # how far the centre may move with the glyph inside
        centre = middle + uniform((num, 1, 1, 2), -1, 1, generator) * room
        placed = centre + strokes / extent * scale  # (N, S, 2, 2) in pixels
        if self.clutter:  # short strokes anywhere, drawn per view: they belong to no glyph
            start = uniform((num, self.clutter, 1, 2), 0, self.side - 1, generator)
            end = start + uniform((num, self.clutter, 1, 2), -0.3, 0.3, generator) * self.side
            placed = torch.cat([placed, torch.cat([start, end], 2)], 1)
        half_width = uniform((num,), 0.25, self.max_half_width, generator)
        ink = render_strokes(placed, half_width, self.side)
        background = uniform((num, 1, 1), -self.max_background, self.max_background, generator)
        contrast = uniform((num, 1, 1), self.min_contrast, 1, generator)
        noise = self.noise_std * torch.randn(ink.shape, generator=generator)
        return (background + contrast * ink + noise)[:, None]

    def draw(self, num: int, generator: torch.Generator, views: int) -> tuple[torch.Tensor, ...]:
        """``num`` instances with balanced random classes and ``views`` views each: (*views, labels)."""
        labels = torch.randint(0, self.num_classes, (num,), generator=generator)
        strokes = instance_strokes(labels, self.distortion, generator)
        return (*(self.draw_view(strokes, generator) for _ in range(views)), labels)

    def setup(self, stage: str | None = None) -> None:
        if hasattr(self, "_probe"):  # Lightning may call setup once per stage
            return
        train_x, train_y = self.draw(self.num_probe_train, step_generator(self.seed, _PROBE_TRAIN_KEY), 1)
        test_x, test_y = self.draw(self.num_test, step_generator(self.seed, _PROBE_TEST_KEY), 1)
        self._probe = ProbeSplits(train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y)
        self._eval = EvalSet(*self.draw(self.num_eval, step_generator(self.seed, _EVAL_KEY), 2))

    def train_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.draw(self.batch_size, step_generator(self.seed, step, _TRAIN_KEY), 2)

    def eval_set(self) -> EvalSet:
        return self._eval

    def probe_splits(self) -> ProbeSplits:
        return self._probe
