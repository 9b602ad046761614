"""Tiny data sets written in each format's exact on-disk layout, for loading through torchvision's real
classes without a download. torchvision checks each file's published MD5 sum; ``accept_files`` points
those sums at the fake files (the loading code stays torchvision's own), as a test of the verified path;
a user's small copy is read with ``data.loader.verify=false`` instead."""

import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torchvision.datasets.utils import calculate_md5


def random_images(n: int, side: int, seed: int) -> np.ndarray:
    """(n, 3, side, side) uint8."""
    return np.random.default_rng(seed).integers(0, 256, size=(n, 3, side, side), dtype=np.uint8)


def _pickle(path: Path, obj: dict) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)  # the archives are Python-2 pickles, read with encoding="latin1"


def write_cifar10(root: Path, per_batch: int = 4, num_test: int = 6) -> dict[str, np.ndarray]:
    """cifar-10-batches-py/: data_batch_1..5 and test_batch hold {"data": (n, 3072) uint8 rows laid out
    R plane, G plane, B plane, each 32×32 row-major; "labels": list of int}; batches.meta the names."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    images = random_images(5 * per_batch + num_test, 32, seed=10)
    labels = np.arange(len(images)) % 10
    for i in range(5):
        part = slice(i * per_batch, (i + 1) * per_batch)
        _pickle(
            folder / f"data_batch_{i + 1}",
            {"data": images[part].reshape(per_batch, -1), "labels": labels[part].tolist()},
        )
    test = slice(5 * per_batch, None)
    _pickle(
        folder / "test_batch", {"data": images[test].reshape(num_test, -1), "labels": labels[test].tolist()}
    )
    _pickle(
        folder / "batches.meta",
        {"label_names": [f"class{i}" for i in range(10)], "num_cases_per_batch": per_batch},
    )
    return {
        "train": images[: 5 * per_batch],
        "train_y": labels[: 5 * per_batch],
        "test": images[test],
        "test_y": labels[test],
    }


def write_cifar100(root: Path, num_train: int = 8, num_test: int = 4) -> dict[str, np.ndarray]:
    """cifar-100-python/: train and test hold "data" as CIFAR-10 plus "fine_labels" and "coarse_labels";
    meta the fine and coarse names."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    images = random_images(num_train + num_test, 32, seed=11)
    fine = (np.arange(len(images)) * 7) % 100
    for name, part in (("train", slice(0, num_train)), ("test", slice(num_train, None))):
        n = len(images[part])
        entry = {
            "data": images[part].reshape(n, -1),
            "fine_labels": fine[part].tolist(),
            "coarse_labels": (fine[part] // 5).tolist(),
        }
        _pickle(folder / name, entry)
    _pickle(
        folder / "meta",
        {
            "fine_label_names": [f"f{i}" for i in range(100)],
            "coarse_label_names": [f"c{i}" for i in range(20)],
        },
    )
    return {
        "train": images[:num_train],
        "train_y": fine[:num_train],
        "test": images[num_train:],
        "test_y": fine[num_train:],
    }


def _stl_images(path: Path, images: np.ndarray) -> None:
    # STL-10's binaries store each channel column-major (Fortran order): (n, 3, width, height) in C order.
    path.write_bytes(np.ascontiguousarray(images.transpose(0, 1, 3, 2)).tobytes())


def write_stl10(
    root: Path, num_train: int = 3, num_test: int = 2, num_unlabeled: int = 4
) -> dict[str, np.ndarray]:
    """stl10_binary/: {train,test,unlabeled}_X.bin raw uint8 96×96 images; {train,test}_y.bin one byte per
    image, labels 1..10; class_names.txt one name per line."""
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    images = random_images(num_train + num_test + num_unlabeled, 96, seed=12)
    train, test, unlabeled = np.split(images, [num_train, num_train + num_test])
    train_y, test_y = np.arange(num_train) % 10, (np.arange(num_test) + 3) % 10  # 0-based
    _stl_images(folder / "train_X.bin", train)
    _stl_images(folder / "test_X.bin", test)
    _stl_images(folder / "unlabeled_X.bin", unlabeled)
    (folder / "train_y.bin").write_bytes((train_y + 1).astype(np.uint8).tobytes())
    (folder / "test_y.bin").write_bytes((test_y + 1).astype(np.uint8).tobytes())
    (folder / "class_names.txt").write_text("\n".join(f"class{i}" for i in range(10)) + "\n")
    return {"train": train, "train_y": train_y, "test": test, "test_y": test_y, "unlabeled": unlabeled}


def write_image_folder(root: Path, classes=("cat", "dog"), per_class: int = 3, size=(40, 30)) -> None:
    """root/{train,val}/<class>/<i>.png: RGB PNGs of ``size`` (width, height), one flat colour each, so
    resizing keeps the colour: red channel = 40·class index, green = 10·i, blue = 200 for val."""
    for split, blue in (("train", 0), ("val", 200)):
        for c, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                Image.new("RGB", size, color=(40 * c, 10 * i, blue)).save(folder / f"{i}.png")


def accept_files(monkeypatch: pytest.MonkeyPatch, root: Path, cls: type) -> None:
    """Point ``cls``'s published MD5 sums at the files under ``root`` (missing files keep theirs)."""
    folder = root / cls.base_folder

    def md5s(listed):
        return [
            [name, calculate_md5(folder / name) if (folder / name).is_file() else md5] for name, md5 in listed
        ]

    monkeypatch.setattr(cls, "train_list", md5s(cls.train_list))
    monkeypatch.setattr(cls, "test_list", md5s(cls.test_list))
    if hasattr(cls, "meta"):
        meta = {**cls.meta, "md5": md5s([[cls.meta["filename"], cls.meta["md5"]]])[0][1]}
        monkeypatch.setattr(cls, "meta", meta)
