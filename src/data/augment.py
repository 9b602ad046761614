"""BYOL's image augmentations applied to whole batches, with independent random parameters per image.

Two pure steps, so that a view is a function of (images, parameters) and the parameters a function of a
generator:

1. ``sample_view_params(aug, n, height, width, generator)`` draws every image's own crop box, flip,
   colour-jitter factors and order, grayscale, blur sigma and solarisation into a ``ViewParams``.
2. ``apply_view(images, params, blur_kernel_size)`` applies them with batched tensor operations, in
   BYOL's order (Grill et al. 2020, Appendix B): random resized crop, horizontal flip, colour jitter
   (brightness, contrast, saturation, hue in a random order per image), grayscale, Gaussian blur,
   solarisation. ``normalize`` then standardises by the dataset's mean and std.

Every image gets its own parameters. (A known bug in a popular implementation, byol-pytorch, calls
torchvision's transforms on the whole batch tensor, which draws one crop, one jitter and one flip for the
whole batch.) Each operation equals torchvision.transforms.v2.functional's per-image op for the same
parameters; tests/test_augment.py checks that image by image.

The operations follow torchvision's (and so solo-learn's and lightly's) definitions:
- NOTE: brightness is multiplicative and contrast blends with the mean of the grayscale image, as in
  torchvision; BYOL's TensorFlow code shifts brightness additively and takes per-channel means.
- NOTE: the crop is resized bilinearly (torchvision's default); BYOL resizes bicubically. Views keep the
  stored resolution, so a crop (never larger than the image) is only ever enlarged and antialiasing never
  applies.
- Blur kernels cover about ``blur_kernel_fraction`` of the image side (BYOL: 23 px at 224 px, i.e. 10%),
  with reflect padding as in torchvision.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from src.core.errors import ConfigError
from src.data.image_ops import (
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    gaussian_blur,
    grayscale,
    solarize,
)

CROP_ATTEMPTS = 10  # torchvision's RandomResizedCrop tries 10 boxes before falling back to a centre crop


@dataclass(frozen=True)
class ViewAugmentation:
    """The distribution of one view's augmentation (one column of BYOL's Table 6). Built by Hydra from
    ``data.augment.view1`` / ``view2``; the values live in conf/data/augment/*.yaml."""

    crop_scale: tuple[float, float]  # crop area as a fraction of the image area
    crop_ratio: tuple[float, float]  # crop aspect ratio w/h, sampled log-uniformly
    flip_prob: float
    jitter_prob: float
    brightness: float  # factor in [1 - brightness, 1 + brightness]
    contrast: float  # factor in [1 - contrast, 1 + contrast]
    saturation: float  # factor in [1 - saturation, 1 + saturation]
    hue: float  # shift in [-hue, hue] of a full turn, at most 0.5
    grayscale_prob: float
    blur_prob: float
    blur_sigma: tuple[float, float]  # pixels, for images at the stored resolution
    blur_kernel_fraction: float  # kernel side as a fraction of the image side
    solarize_prob: float

    def __post_init__(self):
        for name in ("crop_scale", "crop_ratio", "blur_sigma"):  # Hydra hands over ListConfig
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_prob") and not 0.0 <= value <= 1.0:
                raise ConfigError(f"data.augment.view*.{f.name}={value}: a probability must lie in [0, 1]")
        lo, hi = self.crop_scale
        if not 0.0 < lo <= hi <= 1.0:
            raise ConfigError(f"data.augment.view*.crop_scale={self.crop_scale}: need 0 < min <= max <= 1")
        if not 0.0 < self.crop_ratio[0] <= self.crop_ratio[1]:
            raise ConfigError(f"data.augment.view*.crop_ratio={self.crop_ratio}: need 0 < min <= max")
        if not 0.0 < self.blur_sigma[0] <= self.blur_sigma[1]:
            raise ConfigError(f"data.augment.view*.blur_sigma={self.blur_sigma}: need 0 < min <= max")
        if not 0.0 < self.blur_kernel_fraction <= 1.0:
            raise ConfigError(
                f"data.augment.view*.blur_kernel_fraction={self.blur_kernel_fraction}: must lie in (0, 1]"
            )
        for name in ("brightness", "contrast", "saturation"):
            if getattr(self, name) < 0:
                raise ConfigError(f"data.augment.view*.{name}={getattr(self, name)}: must be >= 0")
        if not 0.0 <= self.hue <= 0.5:
            raise ConfigError(f"data.augment.view*.hue={self.hue}: must lie in [0, 0.5]")

    def blur_kernel_size(self, image_size: int) -> int:
        """Odd kernel side for images of side ``image_size`` (BYOL: 23 at 224)."""
        return 2 * round(self.blur_kernel_fraction * image_size / 2) + 1


@dataclass(frozen=True)
class ViewPair:
    """BYOL's two asymmetric view distributions T and T′ (``data.augment``)."""

    view1: ViewAugmentation
    view2: ViewAugmentation


@dataclass(frozen=True)
class ViewParams:
    """Every image's parameters of one view; all tensors on one device."""

    crop: torch.Tensor  # (B, 4) int64: top, left, height, width of the crop box in source pixels
    flip: torch.Tensor  # (B,) bool
    jitter: torch.Tensor  # (B,) bool: colour jitter applied
    factors: torch.Tensor  # (B, 4) float32: brightness, contrast, saturation factors, hue shift
    order: torch.Tensor  # (B, 4) int64: jitter op index (0..3 as in ``factors``) at each position
    grayscale: torch.Tensor  # (B,) bool
    blur: torch.Tensor  # (B,) bool
    sigma: torch.Tensor  # (B,) float32, blur standard deviation in pixels
    solarize: torch.Tensor  # (B,) bool

    def to(self, device: torch.device | str) -> "ViewParams":
        return ViewParams(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    def rows(self, start: int, stop: int) -> "ViewParams":
        """The parameters of images start … stop − 1 (one process's share of a global batch)."""
        return ViewParams(**{f.name: getattr(self, f.name)[start:stop] for f in fields(self)})


def sample_crop_boxes(
    n: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator,
) -> torch.Tensor:
    """torchvision's RandomResizedCrop box distribution, drawn for ``n`` images at once.

    Each image tries ``CROP_ATTEMPTS`` (area, log-aspect) pairs and keeps the first that fits, else falls
    back to the centre crop of the clamped aspect ratio. Returns (n, 4) int64: top, left, height, width.
    """

    def uniform(*shape: int) -> torch.Tensor:  # float64: rounding as torchvision's Python floats
        return torch.rand(*shape, generator=generator, device=generator.device, dtype=torch.float64)

    area = height * width * (scale[0] + (scale[1] - scale[0]) * uniform(n, CROP_ATTEMPTS))  # (n, attempts)
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * uniform(n, CROP_ATTEMPTS))  # (n, attempts)
    w = torch.round(torch.sqrt(area * aspect))
    h = torch.round(torch.sqrt(area / aspect))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)  # (n, attempts)
    first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)  # index of the first fitting attempt
    w, h = w.gather(1, first).squeeze(1), h.gather(1, first).squeeze(1)  # (n,)
    top = torch.floor(uniform(n) * (height - h + 1))  # uniform over the box's possible positions
    left = torch.floor(uniform(n) * (width - w + 1))

    in_ratio = width / height  # the fallback, as in torchvision
    if in_ratio < ratio[0]:
        fw, fh = width, round(width / ratio[0])
    elif in_ratio > ratio[1]:
        fw, fh = round(height * ratio[1]), height
    else:
        fw, fh = width, height
    fallback = torch.tensor([(height - fh) // 2, (width - fw) // 2, fh, fw], dtype=torch.float64)
    boxes = torch.stack((top, left, h, w), dim=1)  # (n, 4)
    boxes = torch.where(fits.any(dim=1, keepdim=True), boxes, fallback.to(boxes.device))
    return boxes.to(torch.int64)


def sample_view_params(
    aug: ViewAugmentation, n: int, height: int, width: int, generator: torch.Generator
) -> ViewParams:
    """Independent parameters for each of ``n`` images, on ``generator``'s device."""
    device = generator.device

    def uniform(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(*shape, generator=generator, device=device)

    def bernoulli(p: float) -> torch.Tensor:
        return torch.rand(n, generator=generator, device=device) < p

    crop = sample_crop_boxes(n, height, width, aug.crop_scale, aug.crop_ratio, generator)
    flip = bernoulli(aug.flip_prob)
    jitter = bernoulli(aug.jitter_prob)
    factors = torch.stack(
        (
            uniform(max(0.0, 1 - aug.brightness), 1 + aug.brightness, n),
            uniform(max(0.0, 1 - aug.contrast), 1 + aug.contrast, n),
            uniform(max(0.0, 1 - aug.saturation), 1 + aug.saturation, n),
            uniform(-aug.hue, aug.hue, n),
        ),
        dim=1,
    )
    order = torch.rand(n, 4, generator=generator, device=device).argsort(dim=1)  # uniform permutations
    grayscale = bernoulli(aug.grayscale_prob)
    blur = bernoulli(aug.blur_prob)
    sigma = uniform(aug.blur_sigma[0], aug.blur_sigma[1], n)
    solarize = bernoulli(aug.solarize_prob)
    return ViewParams(crop, flip, jitter, factors, order, grayscale, blur, sigma, solarize)


def resized_crop_flip(x: torch.Tensor, crop: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Crop each image to its box, resize it bilinearly back to (H, W) and flip it where ``flip``.

    One ``grid_sample`` for the batch. Sample points are clamped to the box, so pixels outside it never
    leak in: the result equals torchvision's crop-then-resize. x: (B, C, H, W) float; crop: (B, 4) int64
    (top, left, height, width); flip: (B,) bool. Returns (B, C, H, W).
    """
    _, _, height, width = x.shape
    top, left, h, w = crop.to(x.dtype).unbind(dim=1)  # (B,) each

    def source_coords(start: torch.Tensor, length: torch.Tensor, size: int) -> torch.Tensor:
        # Pixel-centre convention (align_corners=False): output pixel j samples start - 0.5 + (j + 0.5)·length/size.
        centres = (torch.arange(size, device=x.device, dtype=x.dtype) + 0.5) / size  # (size,)
        coords = start[:, None] - 0.5 + centres[None, :] * length[:, None]  # (B, size)
        coords = torch.clamp(coords, min=start[:, None], max=(start + length - 1)[:, None])
        return (2 * coords + 1) / size - 1  # grid_sample's [-1, 1] coordinates

    ys = source_coords(top, h, height)  # (B, H)
    xs = source_coords(left, w, width)  # (B, W)
    xs = torch.where(flip[:, None], xs.flip(dims=[1]), xs)
    grid = torch.stack(torch.broadcast_tensors(xs[:, None, :], ys[:, :, None]), dim=-1)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


JITTER_OPS = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)  # column order of factors


def _apply_to_selected(x: torch.Tensor, selected: torch.Tensor, op: Callable, *per_image: torch.Tensor):
    """x with ``op`` applied to the selected images only (B,) bool; may write into x. NOTE: ``nonzero``
    synchronises with the GPU once per call (about 20 per view)."""
    index = selected.nonzero().squeeze(1)
    if index.numel() == len(x):
        return op(x, *per_image)
    if index.numel() > 0:
        x.index_copy_(0, index, op(x.index_select(0, index), *(v.index_select(0, index) for v in per_image)))
    return x


def apply_view(images: torch.Tensor, params: ViewParams, blur_kernel_size: int) -> torch.Tensor:
    """One augmented view of a batch. images: (B, 3, H, W) uint8 (or float in [0, 1]); params on the
    same device. Returns (B, 3, H, W) float32 in [0, 1]."""
    x = images.float().div_(255) if images.dtype == torch.uint8 else images.float()
    x = resized_crop_flip(x, params.crop, params.flip)  # a new tensor: the steps below may write into it
    for position in range(4):  # BYOL: "the order in which these shifts are performed is randomly selected"
        for op_index, op in enumerate(JITTER_OPS):
            selected = params.jitter & (params.order[:, position] == op_index)
            x = _apply_to_selected(x, selected, op, params.factors[:, op_index])
    x = _apply_to_selected(x, params.grayscale, grayscale)
    x = _apply_to_selected(x, params.blur, lambda v, s: gaussian_blur(v, s, blur_kernel_size), params.sigma)
    return _apply_to_selected(x, params.solarize, solarize)


def normalize(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """(x − mean) / std per channel, as one x·(1/std) + (−mean/std). x: (B, C, H, W); mean, std: (C,)."""
    scale = 1 / std.view(1, -1, 1, 1)
    return torch.addcmul(-mean.view(1, -1, 1, 1) * scale, x, scale)
