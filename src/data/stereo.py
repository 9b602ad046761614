"""Random-dot stereograms (Becker & Hinton 1992, "Self-organizing neural network that discovers surfaces
in random-dot stereograms"): the suite's default data, generated afresh at every step.

Each stereogram is a strip of ``num_patches`` neighbouring patches. A patch holds two eyes that look at
one random-dot texture: the left eye samples it at the pixel centres x, the right eye at x + d(x), where
d is the surface's disparity. The two views of a training sample are two neighbouring patches of one
stereogram: they share the depth and nothing else, so a representation that agrees across views has to
find depth. Depth is not visible in either eye alone, nor linearly in the pixels: it lives only in the
correlation between the eyes.

How sub-pixel disparity is rendered, and why. The texture is a sum of Gaussian blobs of width ``sigma``
with random signs, centred at dot positions drawn uniformly on the real line (``dot_density`` per
pixel); both eyes are the same continuous texture evaluated at their sample positions. Uniform positions
make the texture stationary under *every* real shift, so for a planar surface the right eye, the left eye
and each eye of any other stereogram have one and the same distribution whatever d is: a single eye
carries no trace of the disparity, not even of its fractional part. NOTE: the earlier renderer (right eye
= linear interpolation between ±1 dots) failed exactly there: its right-eye pixels took the values
±|1 − 2·frac(d)|, a monocular cue that two patches of one planar stereogram share (tests/
test_data_stereo.py keeps it as the counter-example). We preferred continuous dot positions to integer
disparities with jittered dot phases because they keep continuous disparities and curved surfaces.
NOTE: on a curved surface the right eye samples at spacing 1 + d'(x), a faint monocular trace of the
slope (|d'| ≤ 2π·max_amplitude·max_cycles/width, 0.033 px/px by default), drawn independently of depth.

Fresh data: the training batch of step s is drawn from a generator keyed by (seed, s), so a run never
sees a training stereogram twice, reruns are bitwise and resume is exact; the probe-train, probe-test
and evaluation stereograms come from their own fixed keys, which no training step can take.
"""

import math

import torch

from src.core.checks import require_choice, require_float, require_int
from src.data.base import EvalSet, ProbeSplits, SSLDataModule, step_generator

# Keys for step_generator. Training step s uses (s, _TRAIN_KEY); the fixed sets use one key each, a
# key tuple no training step can produce. NOTE: not -1 and -2: CPython hashes -1 as -2.
_PROBE_TRAIN_KEY = -101
_PROBE_TEST_KEY = -102
_EVAL_KEY = -103
_TRAIN_KEY = 1
_KERNEL_RADIUS = (
    4.0  # in units of sigma: exp(−8) ≈ 3e-4 of a blob lies beyond it, so dots further away are not drawn
)


def random_dots(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Independent ±1 signs with equal probability. Returns float32 of ``shape``."""
    return torch.randint(0, 2, shape, generator=generator).float() * 2 - 1


def planar_disparity(num: int, width: int, max_disparity: float, generator: torch.Generator) -> torch.Tensor:
    """A fronto-parallel plane per stereogram: one disparity uniform in [0, max_disparity], constant
    across the strip. Returns (num, width)."""
    return (torch.rand(num, 1, generator=generator) * max_disparity).expand(num, width).contiguous()


def curved_disparity(
    num: int,
    width: int,
    max_disparity: float,
    max_amplitude: float,
    max_cycles: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """A smoothly curved surface per stereogram: d(x) = c + a·sin(2π·k·x/width + φ) with centre
    c ~ U[0, max_disparity], amplitude a ~ U[0, max_amplitude], k ~ U[0, max_cycles] cycles over the
    strip and phase φ ~ U[0, 2π), all independent. Neighbouring pixels differ by at most
    2π·max_amplitude·max_cycles/width. Returns (num, width).

    NOTE: d may leave [0, max_disparity] by up to the amplitude. Bounding a by min(c, max − c) (as we
    did before) would tie the surface's slope to its depth, and the right eye samples the texture at
    spacing 1 + d'(x): the slope is faintly visible to one eye, so depth would be too.
    """
    centre = torch.rand(num, 1, generator=generator) * max_disparity
    amplitude = torch.rand(num, 1, generator=generator) * max_amplitude
    cycles = torch.rand(num, 1, generator=generator) * max_cycles
    phase = torch.rand(num, 1, generator=generator) * 2 * math.pi
    x = torch.arange(width, dtype=torch.float32)  # (width,)
    return centre + amplitude * torch.sin(2 * math.pi * cycles * x / width + phase)


def dot_texture(
    positions: torch.Tensor, dot_positions: torch.Tensor, signs: torch.Tensor, sigma: float
) -> torch.Tensor:
    """The texture Σ_i signs_i · exp(−(p − dot_i)²/(2σ²)) sampled at ``positions``.

    positions: (..., W); dot_positions, signs: (..., K), broadcastable against positions' leading dims.
    Returns (..., W).
    """
    offset = (positions[..., :, None] - dot_positions[..., None, :]) / sigma  # (..., W, K)
    # In place: this runs on every training step. NOTE: exponents are clamped at −80 (a blob 12.6σ away
    # then adds 2e-35 instead of 0) because exp's float32 denormal results are ~7× slower on CPUs.
    blobs = offset.square_().mul_(-0.5).clamp_(min=-80).exp_()
    return (blobs @ signs[..., :, None]).squeeze(-1)


def texture_scale(sigma: float, dot_density: float) -> float:
    """The texture's standard deviation: a Poisson-like field of ±1 blobs has variance
    density · ∫exp(−t²/σ²)dt = density · σ·√π (Campbell's theorem)."""
    return math.sqrt(dot_density * sigma * math.sqrt(math.pi))


def stereogram_patches(
    disparity: torch.Tensor,
    num_patches: int,
    height: int,
    sigma: float,
    dot_density: float,
    noise: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """Cut each stereogram into ``num_patches`` patches and render both eyes of each.

    disparity: (N, num_patches·patch_width), the surface profile over the strip, ≥ −patch_width. Every row of a patch
    has its own dots and the same disparity profile. ``noise`` is the chance that an eye sees a dot with
    the opposite sign, independently per eye and dot. Returns (N, num_patches, 2, height, patch_width)
    with unit variance per pixel: channel 0 the left eye, channel 1 the right eye.

    NOTE: each patch draws its own dots (the right eye's overhang is not the next patch's left eye), so
    neighbouring patches share the surface and no dot: agreeing across them cannot rely on shared pixels.
    """
    num, strip_width = disparity.shape
    patch_width = strip_width // num_patches
    reach = _KERNEL_RADIUS * sigma
    # Every dot either eye can see. The span depends on the batch's disparities, the density does not.
    low, high = min(0.0, disparity.min().item()) - reach, patch_width - 1 + disparity.max().item() + reach
    count = math.ceil((high - low) * dot_density)
    rows = (num, num_patches, height)
    dots = low + (high - low) * torch.rand(*rows, count, generator=generator)  # (N, P, H, K)
    signs = random_dots((*rows, count), generator)
    x = torch.arange(patch_width, dtype=torch.float32)
    right_positions = x + disparity.reshape(num, num_patches, 1, patch_width)  # (N, P, 1, W)
    eyes = []
    for positions in (x.expand(*rows, patch_width), right_positions.expand(*rows, patch_width)):
        eye_signs = flip_dots(signs, noise, generator) if noise > 0 else signs
        eyes.append(dot_texture(positions, dots, eye_signs, sigma))
    return torch.stack(eyes, dim=2) / texture_scale(sigma, dot_density)


def disparity_bins(disparity: torch.Tensor, max_disparity: float, num_bins: int) -> torch.Tensor:
    """Bin index of each disparity among ``num_bins`` equal bins over [0, max_disparity] (the top edge
    belongs to the last bin). Returns int64 of disparity's shape."""
    return (disparity / max_disparity * num_bins).floor().long().clamp(0, num_bins - 1)


def flip_dots(x: torch.Tensor, prob: float, generator: torch.Generator) -> torch.Tensor:
    """Flip the sign of each entry independently with probability ``prob``. Returns x's shape."""
    flip = torch.rand(x.shape, generator=generator) < prob
    return torch.where(flip, -x, x)


class StereoDataModule(SSLDataModule):
    """Random-dot stereogram strips; views are two neighbouring patches, labels are disparity bins.

    After ``setup``: ``probe_train``/``probe_test``/``evaluation``, each a tuple (patches (N,
    num_patches, *input_shape), patch labels (N, num_patches), surface profiles (N, num_patches·
    patch_width)), drawn once from their own keys. Training stereograms are drawn per step.
    """

    generated = True

    def __init__(
        self,
        surface: str,
        layout: str,
        num_patches: int,
        patch_width: int,
        height: int,
        max_disparity: float,
        num_disparity_bins: int,
        max_amplitude: float,
        max_cycles: float,
        sigma: float,
        dot_density: float,
        noise: float,
        num_probe_train: int,
        num_test: int,
        num_eval: int,
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
        self.max_amplitude = require_float("data.max_amplitude", max_amplitude, 0, math.inf, open_high=True)
        self.max_cycles = require_float("data.max_cycles", max_cycles, 0, math.inf, open_high=True)
        # Below 0.1 px a blob falls between the pixel centres; above a patch it is no texture.
        self.sigma = require_float("data.sigma", sigma, 0.1, patch_width)
        self.dot_density = require_float("data.dot_density", dot_density, 0, 100, open_low=True)
        self.noise = require_float("data.noise", noise, 0, 1)
        self.set_generated_sizes(num_probe_train, num_test, num_eval, batch_size, seed)
        rows = () if layout == "strip" else (height,)
        self.input_shape = (2, *rows, patch_width)
        self.num_classes = num_disparity_bins

    def surfaces(self, num: int, generator: torch.Generator) -> torch.Tensor:
        """``num`` surface profiles over a strip. Returns (num, num_patches·patch_width)."""
        width = self.num_patches * self.patch_width
        if self.surface == "planar":
            return planar_disparity(num, width, self.max_disparity, generator)
        return curved_disparity(
            num, width, self.max_disparity, self.max_amplitude, self.max_cycles, generator
        )

    def render(
        self, disparity: torch.Tensor, generator: torch.Generator, noise: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Patches and patch labels of profiles ``disparity`` (N, P·patch_width), for any P patches.
        Returns (N, P, *input_shape) and (N, P) int64."""
        num, patches_per_row = disparity.shape[0], disparity.shape[1] // self.patch_width
        height = self.height if self.layout == "image" else 1
        patches = stereogram_patches(
            disparity, patches_per_row, height, self.sigma, self.dot_density, noise, generator
        )
        patch_mean = disparity.reshape(num, patches_per_row, self.patch_width).mean(-1)  # (N, P)
        labels = disparity_bins(patch_mean, self.max_disparity, self.num_disparity_bins)
        return patches.reshape(num, patches_per_row, *self.input_shape), labels

    def generate(
        self, num: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``num`` whole stereograms from ``generator``: (patches, patch labels, disparity profiles)."""
        disparity = self.surfaces(num, generator)
        return (*self.render(disparity, generator), disparity)

    def setup(self, stage: str | None = None) -> None:
        if hasattr(self, "probe_train"):  # Lightning may call setup once per stage
            return
        for name, num, key in (
            ("probe_train", self.num_probe_train, _PROBE_TRAIN_KEY),
            ("probe_test", self.num_test, _PROBE_TEST_KEY),
            ("evaluation", self.num_eval, _EVAL_KEY),
        ):
            setattr(self, name, self.generate(num, step_generator(self.seed, key)))

    def train_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Fresh stereograms of step ``step``. Views: an adjacent patch pair per stereogram, in random
        order, with training noise; label: the first view's bin."""
        generator = step_generator(self.seed, step, _TRAIN_KEY)
        disparity = self.surfaces(self.batch_size, generator)
        pair = torch.randint(0, self.num_patches - 1, (self.batch_size,), generator=generator)
        swap = torch.randint(0, 2, (self.batch_size,), generator=generator)
        first, second = pair + swap, pair + 1 - swap  # (B,) patch indices
        # Only the two patches used are rendered (half the cost): their columns of the profile.
        columns = torch.arange(self.patch_width)
        index = torch.cat([first[:, None], second[:, None]], 1)[:, :, None] * self.patch_width + columns
        patches, labels = self.render(disparity.gather(1, index.flatten(1)), generator, self.noise)
        return patches[:, 0], patches[:, 1], labels[:, 0]

    def eval_set(self) -> EvalSet:
        patches, labels, _ = self.evaluation
        return EvalSet(view1=patches[:, 0], view2=patches[:, 1], labels=labels[:, 0])

    def probe_splits(self) -> ProbeSplits:
        (train_x, train_y, _), (test_x, test_y, _) = self.probe_train, self.probe_test
        return ProbeSplits(
            train_x=train_x[:, 0], train_y=train_y[:, 0], test_x=test_x[:, 0], test_y=test_y[:, 0]
        )
