"""Loading the real image data sets through torchvision's dataset classes into uint8 tensors.

Every loader returns an ``ImageSplits``: images (N, 3, H, W) uint8 and labels (N,) int64 for the
pre-training split, the labelled train split (linear probe, kNN) and the test split. Files are read where
torchvision expects them under ``root`` and downloaded only when ``download`` is true. A missing or corrupt
file is one ``DataError`` line that names it and says what to do. ``verify`` (``data.loader.verify``)
false skips the published MD5 sums of CIFAR and STL-10, so that a copy in the real on-disk format that is
not the published one (a subset, a small local copy to try a recipe on) is read; torchvision's reading
still checks the format (a truncated or foreign file fails with one line).

Memory: everything is held in memory as uint8, 3·H·W bytes per image. CIFAR-10/100 take 180 MB, STL-10
about 3.2 GB (2.8 GB of it the 100k unlabeled images), ImageNet-100 (≈ 126k train + 5k val images) 1.5 GB
at 64 px, 6.2 GB at 128 px and 19 GB at 224 px: fine on a big node at 64–128 px, and on one GPU of today.
"""

import pickle
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError

import numpy as np
import torch
from PIL import Image
from torchvision import datasets, transforms
from torchvision.datasets.utils import check_integrity

from src.core.checks import require_bool, require_choice, require_int
from src.core.errors import ConfigError, DataError

UNLABELED = -1  # torchvision's label for STL-10's unlabeled images


@dataclass(frozen=True)
class ImageSplits:
    pretrain_x: torch.Tensor  # (N_pre, 3, H, W) uint8: the images self-supervised training draws from
    pretrain_y: torch.Tensor  # (N_pre,) int64, UNLABELED where the split has no labels
    train_x: torch.Tensor  # (N_train, 3, H, W) uint8: labelled train split (probe)
    train_y: torch.Tensor  # (N_train,) int64
    test_x: torch.Tensor  # (N_test, 3, H, W) uint8
    test_y: torch.Tensor  # (N_test,) int64
    classes: tuple[str, ...]


Loader = Callable[[str, bool], ImageSplits]  # (root, download) -> splits; Hydra binds the other arguments


def _as_tensors(images: np.ndarray, labels, channels_last: bool) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(np.ascontiguousarray(images))
    if channels_last:  # (N, H, W, C) -> (N, C, H, W)
        x = x.permute(0, 3, 1, 2)
    return x.contiguous(), torch.as_tensor(np.asarray(labels), dtype=torch.int64)


def _unverified(cls: type) -> type:
    """``cls`` without its published MD5 sums: torchvision's ``check_integrity(path, None)`` then checks only
    that each file exists, and the files are read exactly as the published ones are."""
    attrs = {
        "train_list": [[name, None] for name, _ in cls.train_list],
        "test_list": [[name, None] for name, _ in cls.test_list],
    }
    if hasattr(cls, "meta"):  # CIFAR's label names, checked when they are read
        attrs["meta"] = {**cls.meta, "md5": None}
    return type(f"Unverified{cls.__name__}", (cls,), attrs)


def _construct(cls: type, root: Path, download: bool, verify: bool, name: str, **kwargs):
    """``cls(root, download=download, **kwargs)`` with torchvision's errors turned into one DataError
    line that names the missing or corrupt file; without the published MD5 sums unless ``verify``."""
    if not require_bool("data.loader.verify", verify):
        cls = _unverified(cls)
    folder = root / cls.base_folder
    files = [f for f, _ in cls.train_list + cls.test_list]
    missing = [f for f in files if not (folder / f).is_file()]
    if missing and not download:
        raise DataError(
            f"data.root {root} has no {name} files ({cls.base_folder}/{missing[0]} is missing); "
            f"set data.download=true when online, or point data.root at the folder that holds {cls.base_folder}/"
        )
    try:
        return cls(str(root), download=download, **kwargs)
    except (URLError, TimeoutError, ConnectionError) as error:
        raise DataError(f"could not download {name} into data.root {root}: {error}") from error
    except (RuntimeError, pickle.UnpicklingError, EOFError, KeyError, ValueError, OSError) as error:
        raise _diagnose(cls, folder, name, error) from error


def _diagnose(cls: type, folder: Path, name: str, error: Exception) -> DataError:
    """Which of the data set's files is missing or fails its published MD5 sum."""
    listed = (
        cls.train_list
        + cls.test_list
        + ([[cls.meta["filename"], cls.meta["md5"]]] if hasattr(cls, "meta") else [])
    )
    for filename, md5 in listed:
        path = folder / filename
        if not path.is_file():
            return DataError(
                f"{name}: {path} is missing; set data.download=true when online, or copy it there"
            )
        if not check_integrity(str(path), md5):
            return DataError(
                f"{name}: {path} is corrupt (its MD5 sum is not the published one); delete it and set "
                "data.download=true, or copy it again (data.loader.verify=false reads a copy in the real "
                "format that is not the published one, e.g. a subset)"
            )
    return DataError(f"{name}: torchvision could not read {folder}: {error}")


def _load_cifar(cls: type, name: str, root: str, download: bool, verify: bool) -> ImageSplits:
    train = _construct(cls, Path(root), download, verify, name, train=True)
    test = _construct(cls, Path(root), False, verify, name, train=False)
    train_x, train_y = _as_tensors(train.data, train.targets, channels_last=True)
    test_x, test_y = _as_tensors(test.data, test.targets, channels_last=True)
    return ImageSplits(train_x, train_y, train_x, train_y, test_x, test_y, tuple(train.classes))


def load_cifar10(root: str, download: bool, verify: bool) -> ImageSplits:
    """CIFAR-10 (Krizhevsky 2009) from torchvision's python pickles under ``root/cifar-10-batches-py``;
    pre-training and the probe on the 50k train images, 10k test images. 32×32 px."""
    return _load_cifar(datasets.CIFAR10, "CIFAR-10", root, download, verify)


def load_cifar100(root: str, download: bool, verify: bool) -> ImageSplits:
    """CIFAR-100 (fine labels) from ``root/cifar-100-python``; splits as CIFAR-10."""
    return _load_cifar(datasets.CIFAR100, "CIFAR-100", root, download, verify)


def load_stl10(root: str, download: bool, pretrain_split: str, verify: bool) -> ImageSplits:
    """STL-10 from torchvision's binaries under ``root/stl10_binary``: pre-training on ``unlabeled``
    (100k images, Coates et al. 2011's intended use) or ``train+unlabeled`` (solo-learn's choice); the
    probe on the 5k labelled train and 8k test images. 96×96 px."""
    require_choice("data.loader.pretrain_split", pretrain_split, ("unlabeled", "train+unlabeled"))
    root_path = Path(root)
    pretrain = _construct(datasets.STL10, root_path, download, verify, "STL-10", split=pretrain_split)
    train = _construct(datasets.STL10, root_path, False, verify, "STL-10", split="train")
    test = _construct(datasets.STL10, root_path, False, verify, "STL-10", split="test")
    pretrain_x, pretrain_y = _as_tensors(pretrain.data, pretrain.labels, channels_last=False)
    train_x, train_y = _as_tensors(train.data, train.labels, channels_last=False)
    test_x, test_y = _as_tensors(test.data, test.labels, channels_last=False)
    return ImageSplits(pretrain_x, pretrain_y, train_x, train_y, test_x, test_y, tuple(train.classes))


def _rgb_image(path: str) -> Image.Image:
    """ImageFolder's loader, naming the file when it is not a readable image."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, SyntaxError, ValueError) as error:  # PIL's UnidentifiedImageError is an OSError
        raise DataError(f"{path} is not a readable image ({error}); delete or replace it") from error


def _image_folder(folder: Path, image_size: int) -> datasets.ImageFolder:
    resize = transforms.Compose(
        [transforms.Resize(image_size), transforms.CenterCrop(image_size), transforms.PILToTensor()]
    )
    try:
        return datasets.ImageFolder(str(folder), transform=resize, loader=_rgb_image)
    except FileNotFoundError as error:  # no folder, no class folders, or class folders without images
        raise DataError(
            f"{folder} is not a folder of class sub-folders of images ({folder}/<class>/<image>): {error}"
        ) from error


def _stack_images(dataset: datasets.ImageFolder, image_size: int, num_threads: int) -> torch.Tensor:
    """Decode every image into one preallocated (N, 3, S, S) uint8 tensor. Threads, not processes: Pillow
    releases the GIL while decoding and resizing, and an error keeps its type and message."""
    out = torch.empty(len(dataset), 3, image_size, image_size, dtype=torch.uint8)

    def decode(index: int) -> None:
        out[index] = dataset[index][0]

    with ThreadPoolExecutor(max_workers=num_threads) as pool:
        list(pool.map(decode, range(len(dataset))))
    return out


def load_image_folder(
    root: str, download: bool, image_size: int, train_dir: str, test_dir: str, num_threads: int
) -> ImageSplits:
    """Any folder of class sub-folders, e.g. ImageNet-100: ``root/train_dir/<class>/*`` for pre-training
    and the probe, ``root/test_dir/<class>/*`` for the test split, read by torchvision's ImageFolder.

    Each image is decoded once at setup, its shorter side resized to ``image_size`` (bilinear, antialiased)
    and centre-cropped to a square, then kept in memory as uint8 (see the module docstring for the cost).
    """
    if download:
        raise ConfigError(
            "data.download=true is not possible for data=imagefolder: copy the folders to data.root"
        )
    require_int("data.loader.image_size", image_size, 1)
    require_int("data.loader.num_threads", num_threads, 1)
    root_path = Path(root)
    train = _image_folder(root_path / train_dir, image_size)
    test = _image_folder(root_path / test_dir, image_size)
    if test.classes != train.classes:
        raise DataError(
            f"{root_path / test_dir} has classes {test.classes[:5]}… but {root_path / train_dir} has "
            f"{train.classes[:5]}…; both need the same class sub-folders"
        )
    train_x = _stack_images(train, image_size, num_threads)
    test_x = _stack_images(test, image_size, num_threads)
    train_y = torch.as_tensor(train.targets, dtype=torch.int64)
    test_y = torch.as_tensor(test.targets, dtype=torch.int64)
    return ImageSplits(train_x, train_y, train_x, train_y, test_x, test_y, tuple(train.classes))
