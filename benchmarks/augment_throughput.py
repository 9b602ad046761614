"""Throughput of BYOL's two-view augmentation: batched tensor ops (src/data/augment.py) against the
per-image PIL pipeline in DataLoader workers that solo-learn and lightly use by default, with the same
operations and probabilities. Both produce two normalised float views per image; images/second counts
images (each with its two views). The two are measured side by side in one run, and the ratio is printed.

    python benchmarks/augment_throughput.py [--batch-size 256] [--num-images 2048] [--workers 2]
        [--threads 1] [--device cpu|cuda] [--settings cifar:32 byol:96]

A setting is ``augment-config:image-side`` (conf/data/augment/<config>.yaml). The images are random
pixels held in memory, so neither path reads files. The PIL pipeline's clock starts when its first batch
arrives (worker start-up is not counted: it favours the baseline, as persistent workers would).

By default the batched path gets one CPU thread against the PIL pipeline's two worker processes: a
conservative comparison, and a robust one. (On a small machine shared with other jobs, several OpenMP
threads per op lose far more to oversubscription than they gain: we measured 2 threads 6–10× slower than
1 on this 2-core CPU while other jobs ran.)
"""

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image, ImageFilter
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from src.data.augment import ViewAugmentation, ViewPair, apply_view, normalize, sample_view_params  # noqa: E402

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # CIFAR-10's; any values cost the same


class PILGaussianBlur:
    """solo-learn's and lightly's blur: Pillow's GaussianBlur with a radius drawn per image."""

    def __init__(self, sigma: tuple[float, float]):
        self.sigma = sigma

    def __call__(self, image: Image.Image) -> Image.Image:
        return image.filter(ImageFilter.GaussianBlur(radius=random.uniform(*self.sigma)))


def pil_view(aug: ViewAugmentation, side: int) -> T.Compose:
    """One view as torchvision transforms on a PIL image, in solo-learn's order (flip commutes)."""
    return T.Compose(
        [
            T.RandomResizedCrop(
                side, scale=aug.crop_scale, ratio=aug.crop_ratio, interpolation=T.InterpolationMode.BILINEAR
            ),
            T.RandomApply(
                [T.ColorJitter(aug.brightness, aug.contrast, aug.saturation, aug.hue)], p=aug.jitter_prob
            ),
            T.RandomGrayscale(p=aug.grayscale_prob),
            T.RandomApply([PILGaussianBlur(aug.blur_sigma)], p=aug.blur_prob),
            T.RandomSolarize(threshold=128, p=aug.solarize_prob),
            T.RandomHorizontalFlip(p=aug.flip_prob),
            T.ToTensor(),
            T.Normalize(MEAN, STD),
        ]
    )


class TwoViewImages(Dataset):
    def __init__(self, images: np.ndarray, pair: ViewPair, side: int):
        self.images = images  # (N, H, W, 3) uint8
        self.view1, self.view2 = pil_view(pair.view1, side), pil_view(pair.view2, side)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = Image.fromarray(self.images[i])
        return self.view1(image), self.view2(image)


def pil_throughput(images: torch.Tensor, pair: ViewPair, batch_size: int, workers: int) -> float:
    dataset = TwoViewImages(images.permute(0, 2, 3, 1).numpy(), pair, images.shape[-1])
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, drop_last=True)
    batches = iter(loader)
    next(batches)
    start = time.perf_counter()
    counted = sum(len(view1) for view1, _ in batches)
    return counted / (time.perf_counter() - start)


def batched_throughput(images: torch.Tensor, pair: ViewPair, batch_size: int, device: torch.device) -> float:
    images = images.to(device)
    mean, std = torch.tensor(MEAN, device=device), torch.tensor(STD, device=device)
    side = images.shape[-1]
    generator = torch.Generator().manual_seed(0)

    def two_views(batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        views = []
        for aug in (pair.view1, pair.view2):
            params = sample_view_params(aug, len(batch), side, side, generator).to(device)
            views.append(normalize(apply_view(batch, params, aug.blur_kernel_size(side)), mean, std))
        return views[0], views[1]

    two_views(images[:batch_size])  # warm-up, as the PIL clock starts after its first batch
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    counted = 0
    for first in range(0, len(images) - batch_size + 1, batch_size):
        view1, _ = two_views(images[first : first + batch_size])
        counted += len(view1)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return counted / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--num-images", type=int, default=2048)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of the PIL pipeline")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the batched path (CPU)")
    parser.add_argument("--device", default="cpu", help="where the batched augmentation runs")
    parser.add_argument("--settings", nargs="+", default=["cifar:32", "byol:96"], help="augment-config:side")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)  # DataLoader workers use one thread each regardless
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; batched on {device}; "
        f"PIL with {args.workers} workers; batch {args.batch_size}, {args.num_images} images per setting"
    )
    print(f"{'setting':<12}{'PIL + workers (img/s)':>24}{'batched (img/s)':>18}{'ratio':>8}")
    for setting in args.settings:
        name, side = setting.split(":")
        pair = instantiate(OmegaConf.load(ROOT / "conf" / "data" / "augment" / f"{name}.yaml"))
        images = torch.randint(
            0,
            256,
            (args.num_images, 3, int(side), int(side)),
            dtype=torch.uint8,
            generator=torch.Generator().manual_seed(0),
        )
        pil = pil_throughput(images, pair, args.batch_size, args.workers)
        batched = batched_throughput(images, pair, args.batch_size, device)
        print(f"{setting:<12}{pil:>24.0f}{batched:>18.0f}{batched / pil:>7.1f}×")


if __name__ == "__main__":
    main()
