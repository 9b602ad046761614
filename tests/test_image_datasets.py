"""Loading CIFAR-10/100, STL-10 and image folders through torchvision's real classes from tiny files in
each exact on-disk format: pixel layout, labels, splits, and one clear DataError per missing or corrupt
file. Nothing downloads."""

import re

import pytest
import torch
from torchvision import datasets

from src.core.errors import ConfigError, DataError
from src.data.image_datasets import UNLABELED, load_cifar10, load_cifar100, load_image_folder, load_stl10
from tests.fake_image_files import (
    accept_files,
    write_cifar10,
    write_cifar100,
    write_image_folder,
    write_stl10,
)


def test_cifar10_pixels_labels_and_splits(tmp_path, monkeypatch):
    written = write_cifar10(tmp_path)
    accept_files(monkeypatch, tmp_path, datasets.CIFAR10)
    splits = load_cifar10(str(tmp_path), download=False, verify=True)
    assert splits.train_x.dtype == torch.uint8 and splits.train_x.shape == (20, 3, 32, 32)
    assert torch.equal(splits.train_x, torch.from_numpy(written["train"]))  # (N, C, H, W), channels in order
    assert torch.equal(splits.test_x, torch.from_numpy(written["test"]))
    assert splits.train_y.dtype == torch.int64
    assert splits.train_y.tolist() == written["train_y"].tolist()
    assert splits.test_y.tolist() == written["test_y"].tolist()
    assert splits.pretrain_x is splits.train_x  # CIFAR pre-trains on its train split, no copy
    assert splits.classes == tuple(f"class{i}" for i in range(10))


def test_cifar100_reads_fine_labels(tmp_path, monkeypatch):
    written = write_cifar100(tmp_path)
    accept_files(monkeypatch, tmp_path, datasets.CIFAR100)
    splits = load_cifar100(str(tmp_path), download=False, verify=True)
    assert torch.equal(splits.train_x, torch.from_numpy(written["train"]))
    assert splits.train_y.tolist() == written["train_y"].tolist()
    assert splits.test_y.tolist() == written["test_y"].tolist()
    assert len(splits.classes) == 100


def test_stl10_column_major_pixels_and_unlabeled_pretraining(tmp_path, monkeypatch):
    written = write_stl10(tmp_path)
    accept_files(monkeypatch, tmp_path, datasets.STL10)
    splits = load_stl10(str(tmp_path), download=False, pretrain_split="unlabeled", verify=True)
    assert torch.equal(splits.pretrain_x, torch.from_numpy(written["unlabeled"]))
    assert splits.pretrain_y.tolist() == [UNLABELED] * 4
    assert torch.equal(splits.train_x, torch.from_numpy(written["train"]))
    assert torch.equal(splits.test_x, torch.from_numpy(written["test"]))
    assert splits.train_y.tolist() == written["train_y"].tolist()  # 1-based on disk, 0-based here
    assert splits.test_y.tolist() == written["test_y"].tolist()
    both = load_stl10(str(tmp_path), download=False, pretrain_split="train+unlabeled", verify=True)
    assert both.pretrain_x.shape == (7, 3, 96, 96)
    assert both.pretrain_y.tolist() == [*written["train_y"].tolist(), *[UNLABELED] * 4]


def test_stl10_refuses_an_unknown_pretrain_split(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.loader\.pretrain_split"):
        load_stl10(str(tmp_path), download=False, pretrain_split="test", verify=True)


def test_image_folder_resizes_once_and_labels_by_folder(tmp_path):
    write_image_folder(tmp_path)
    splits = load_image_folder(
        str(tmp_path), False, image_size=16, train_dir="train", test_dir="val", num_threads=2
    )
    assert splits.train_x.shape == (6, 3, 16, 16) and splits.train_x.dtype == torch.uint8
    assert splits.classes == ("cat", "dog")
    assert splits.train_y.tolist() == [0, 0, 0, 1, 1, 1]
    # Flat colours survive resizing: red = 40·class, green = 10·index, blue marks the split.
    expected = torch.tensor([[40 * c, 10 * i, 0] for c in range(2) for i in range(3)], dtype=torch.uint8)
    assert torch.equal(splits.train_x[:, :, 5, 7], expected)
    assert (splits.test_x[:, 2] == 200).all()


def test_missing_cifar_names_the_folder_and_the_download_switch(tmp_path):
    with pytest.raises(
        DataError, match=r"no CIFAR-10 files \(cifar-10-batches-py/data_batch_1.*data\.download=true"
    ):
        load_cifar10(str(tmp_path), download=False, verify=True)


@pytest.mark.parametrize(
    ("write", "cls", "load", "broken"),
    [
        (
            write_cifar10,
            datasets.CIFAR10,
            lambda root: load_cifar10(root, False, True),
            "cifar-10-batches-py/data_batch_3",
        ),
        (
            write_cifar10,
            datasets.CIFAR10,
            lambda root: load_cifar10(root, False, True),
            "cifar-10-batches-py/batches.meta",
        ),
        (
            write_cifar100,
            datasets.CIFAR100,
            lambda root: load_cifar100(root, False, True),
            "cifar-100-python/test",
        ),
        (
            write_stl10,
            datasets.STL10,
            lambda root: load_stl10(root, False, "unlabeled", True),
            "stl10_binary/test_X.bin",
        ),
    ],
)
def test_a_corrupt_file_is_named(tmp_path, monkeypatch, write, cls, load, broken):
    write(tmp_path)
    accept_files(monkeypatch, tmp_path, cls)
    path = tmp_path / broken
    path.write_bytes(path.read_bytes()[:-7])  # truncated, as by an interrupted copy
    with pytest.raises(DataError, match=f"{re.escape(str(path))} is corrupt"):
        load(str(tmp_path))


def test_a_missing_stl10_file_is_named(tmp_path, monkeypatch):
    write_stl10(tmp_path)
    (tmp_path / "stl10_binary" / "unlabeled_X.bin").unlink()
    with pytest.raises(DataError, match=r"no STL-10 files \(stl10_binary/unlabeled_X\.bin is missing"):
        load_stl10(str(tmp_path), download=False, pretrain_split="unlabeled", verify=True)


def test_an_unreadable_image_is_named(tmp_path):
    write_image_folder(tmp_path)
    bad = tmp_path / "val" / "dog" / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=f"{re.escape(str(bad))} is not a readable image"):
        load_image_folder(
            str(tmp_path), False, image_size=8, train_dir="train", test_dir="val", num_threads=2
        )


def test_image_folder_without_its_split_folder_is_named(tmp_path):
    write_image_folder(tmp_path)
    with pytest.raises(
        DataError, match=f"{re.escape(str(tmp_path / 'test'))} is not a folder of class sub-folders"
    ):
        load_image_folder(
            str(tmp_path), False, image_size=8, train_dir="train", test_dir="test", num_threads=1
        )


def test_image_folder_splits_need_the_same_classes(tmp_path):
    write_image_folder(tmp_path)
    (tmp_path / "val" / "dog").rename(tmp_path / "val" / "wolf")
    with pytest.raises(DataError, match="need the same class sub-folders"):
        load_image_folder(
            str(tmp_path), False, image_size=8, train_dir="train", test_dir="val", num_threads=1
        )


def test_image_folder_cannot_download(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.download=true is not possible"):
        load_image_folder(str(tmp_path), True, image_size=8, train_dir="train", test_dir="val", num_threads=1)


# data.loader.verify: each loader with the switch as its argument.
LOADERS = {
    "CIFAR-10": (write_cifar10, lambda root, verify: load_cifar10(root, False, verify)),
    "CIFAR-100": (write_cifar100, lambda root, verify: load_cifar100(root, False, verify)),
    "STL-10": (write_stl10, lambda root, verify: load_stl10(root, False, "unlabeled", verify)),
}


@pytest.mark.parametrize("name", LOADERS)
def test_a_copy_that_is_not_the_published_one_is_read_only_without_verification(tmp_path, name):
    write, load = LOADERS[name]
    written = write(tmp_path)  # the real on-disk format, bytes other than the published files'
    with pytest.raises(DataError, match=r"is corrupt \(its MD5 sum .*data\.loader\.verify=false reads"):
        load(str(tmp_path), True)
    splits = load(str(tmp_path), False)
    assert torch.equal(splits.test_x, torch.from_numpy(written["test"]))
    assert splits.test_y.tolist() == written["test_y"].tolist()


@pytest.mark.parametrize(
    ("name", "broken"),
    [("CIFAR-10", "cifar-10-batches-py/data_batch_2"), ("STL-10", "stl10_binary/test_X.bin")],
)
def test_without_verification_the_format_is_still_checked(tmp_path, name, broken):
    write, load = LOADERS[name]
    write(tmp_path)
    path = tmp_path / broken
    path.write_bytes(path.read_bytes()[:-7])  # truncated, as by an interrupted copy
    with pytest.raises(
        DataError, match=f"{name}: torchvision could not read {re.escape(str(path.parent))}: "
    ):
        load(str(tmp_path), False)


def test_the_verification_switch_is_true_or_false(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.loader\.verify must be true or false, got 'no'"):
        load_cifar10(str(tmp_path), False, "no")
