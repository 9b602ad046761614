"""The per-image pixel operations of BYOL's views, on whole batches (B, 3, H, W) in [0, 1], each with its own
factor per image: colour jitter (brightness, contrast, saturation, hue), grayscale, Gaussian blur and
solarisation. Each equals torchvision.transforms.v2.functional's op for the same parameter
(tests/test_augment.py checks that image by image); src/data/augment.py draws the parameters and applies
them in BYOL's order."""

import torch
import torch.nn.functional as F

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R 601 luma, BYOL Appendix B and torchvision


def rgb_to_gray(x: torch.Tensor) -> torch.Tensor:
    """Luma of (B, 3, H, W) images, (B, 1, H, W)."""
    r, g, b = x.unbind(dim=1)
    return (GRAY_WEIGHTS[0] * r + GRAY_WEIGHTS[1] * g + GRAY_WEIGHTS[2] * b).unsqueeze(1)


def _per_image(v: torch.Tensor) -> torch.Tensor:
    return v.view(-1, 1, 1, 1)  # (B,) -> (B, 1, 1, 1), to broadcast over (B, C, H, W)


def adjust_brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """x: (B, 3, H, W) in [0, 1]; factor: (B,). Scales intensities."""
    return (x * _per_image(factor)).clamp_(0.0, 1.0)


def adjust_contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blends each image with the mean of its grayscale image."""
    mean = rgb_to_gray(x).mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    f = _per_image(factor)
    return torch.addcmul((1 - f) * mean, x, f).clamp_(0.0, 1.0)  # f·x + (1 − f)·mean in one pass


def adjust_saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blends each image with its grayscale image: f·x + (1 − f)·gray, in one pass."""
    return torch.lerp(rgb_to_gray(x).expand_as(x), x, _per_image(factor)).clamp_(0.0, 1.0)


def adjust_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotates the HSV hue of each image by ``shift`` (B,) turns, keeping saturation and value.

    Hue in sextants h6 ∈ [0, 6) from the channel that holds the maximum (ties resolved r, g, b as in
    torchvision/Pillow); back to RGB with the closed form channel_n = V − C·clamp(min(k, 4 − k), 0, 1),
    k = (n + h6) mod 6, n = 5, 3, 1 for r, g, b, where C = max − min is the chroma (= V·S).
    """
    r, g, b = x.unbind(dim=1)  # (B, H, W) each
    maxc, minc = x.amax(dim=1), x.amin(dim=1)
    chroma = maxc - minc
    divisor = torch.where(chroma == 0, 1.0, chroma)  # grey pixels: any hue, the output is maxc anyway
    h6 = torch.where(
        maxc == r, (g - b) / divisor, torch.where(maxc == g, 2.0 + (b - r) / divisor, 4.0 + (r - g) / divisor)
    )
    h6 = torch.remainder(h6 + 6 * shift.view(-1, 1, 1), 6.0)
    out = torch.empty_like(x)
    for channel, n in enumerate((5.0, 3.0, 1.0)):
        k = torch.remainder(h6 + n, 6.0)
        ramp = torch.minimum(k, 4.0 - k).clamp_(0.0, 1.0)
        torch.sub(maxc, ramp.mul_(chroma), out=out[:, channel])
    return out


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """Luma copied into all three channels."""
    return rgb_to_gray(x).expand_as(x).contiguous()


def gaussian_kernels(sigma: torch.Tensor, size: int) -> torch.Tensor:
    """One normalised 1-D Gaussian of odd ``size`` taps per sigma: (B,) -> (B, size)."""
    taps = torch.arange(size, device=sigma.device, dtype=sigma.dtype) - (size - 1) / 2
    return torch.softmax(-(taps[None, :] ** 2) / (2 * sigma[:, None] ** 2), dim=1)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Blurs each image with its own sigma: reflect padding, then a separable depthwise convolution.

    x: (B, C, H, W); sigma: (B,). The images and channels go into the channel axis of one grouped conv.
    """
    batch, channels, height, width = x.shape
    pad = kernel_size // 2
    kernels = gaussian_kernels(sigma.to(x.dtype), kernel_size).repeat_interleave(channels, dim=0)  # (B·C, K)
    y = F.pad(x, (pad, pad, pad, pad), mode="reflect").view(1, batch * channels, height + 2 * pad, -1)
    y = F.conv2d(y, kernels.view(-1, 1, kernel_size, 1), groups=batch * channels)  # vertical pass
    y = F.conv2d(y, kernels.view(-1, 1, 1, kernel_size), groups=batch * channels)  # horizontal pass
    return y.view(batch, channels, height, width)


def solarize(x: torch.Tensor) -> torch.Tensor:
    """BYOL Appendix B: x ↦ x·1{x<0.5} + (1 − x)·1{x≥0.5}."""
    return torch.where(x >= 0.5, 1.0 - x, x)
