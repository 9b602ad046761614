"""ImageDataModule on tiny fake CIFAR-10 / STL-10 / image-folder files, built from the real configs:
uint8 batches, views built after transfer, reproducible by (seed, step), fixed eval set and probe split,
normalisation, and config mismatches caught at setup."""

from types import SimpleNamespace

import pytest
import torch
from hydra.utils import instantiate
from torchvision import datasets

from src.core.errors import ConfigError
from src.data.base import epoch_batch_indices, local_rows
from src.data.image_module import ImageDataModule
from tests.conftest import compose_config
from tests.fake_image_files import accept_files, write_cifar10, write_image_folder, write_stl10

SMALL = ["data.batch_size=8", "data.num_eval=4"]


def cifar_module(tmp_path, monkeypatch, *overrides: str) -> ImageDataModule:
    written = write_cifar10(tmp_path)
    accept_files(monkeypatch, tmp_path, datasets.CIFAR10)
    cfg = compose_config(["data=cifar10", f"data.root={tmp_path}", *SMALL, *overrides])
    module = instantiate(cfg.data)
    module.written = written
    return module


def test_shape_and_classes_are_known_before_any_file_is_read(tmp_path):
    cfg = compose_config(["data=stl10", f"data.root={tmp_path / 'nowhere'}"])
    module = instantiate(cfg.data)
    assert module.input_shape == (3, 96, 96) and module.num_classes == 10
    cfg = compose_config(["data=imagefolder", f"data.root={tmp_path}", "data.loader.image_size=48"])
    assert instantiate(cfg.data).input_shape == (3, 48, 48)


def test_train_batches_are_stored_images_and_views_are_built_after_transfer(tmp_path, monkeypatch):
    module = cifar_module(tmp_path, monkeypatch)
    module.setup("fit")
    images, labels, step = module.train_batch(3)
    index = epoch_batch_indices(20, 8, module.seed, 3)
    assert images.dtype == torch.uint8 and torch.equal(
        images, torch.from_numpy(module.written["train"])[index]
    )
    assert labels.tolist() == module.written["train_y"][index.numpy()].tolist() and step == 3
    view1, view2, view_labels = module.on_after_batch_transfer((images, labels, step), 0)
    assert view1.dtype == torch.float32 and view1.shape == (8, 3, 32, 32)
    assert not torch.equal(view1, view2) and torch.equal(view_labels, labels)
    assert view1.mean().abs() < 1.5 and view1.min() < -1  # normalised, not in [0, 1]


def test_views_are_a_function_of_seed_and_step(tmp_path, monkeypatch):
    module = cifar_module(tmp_path, monkeypatch)
    module.setup()
    first = module.on_after_batch_transfer(module.train_batch(5), 0)
    again = module.on_after_batch_transfer(module.train_batch(5), 0)  # as after a resume at step 5
    other = module.on_after_batch_transfer(module.train_batch(6), 0)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], other[0])


def test_each_process_gets_its_rows_of_the_single_process_views(tmp_path, monkeypatch):
    """Under DDP (base.local_rows) process r holds rows r·B/W … of the global batch; its views must be
    exactly those rows of the views one process makes of the whole batch."""
    module = cifar_module(tmp_path, monkeypatch)
    module.setup()
    whole = module.on_after_batch_transfer(module.train_batch(2), 0)
    for rank in range(2):
        module.trainer = SimpleNamespace(global_rank=rank, world_size=2)
        share = module.on_after_batch_transfer(local_rows(module.train_batch(2), rank, 2), 0)
        for full, part in zip(whole, share, strict=True):
            assert torch.equal(part, full[rank * 4 : (rank + 1) * 4])


def test_eval_set_is_fixed_uint8_views_of_test_images(tmp_path, monkeypatch):
    module = cifar_module(tmp_path, monkeypatch)
    module.setup()
    eval_set = module.eval_set()
    assert eval_set.view1.dtype == torch.uint8 and eval_set.view1.shape == (4, 3, 32, 32)
    assert not torch.equal(eval_set.view1, eval_set.view2)
    assert set(eval_set.labels.tolist()) <= set(module.written["test_y"].tolist())
    rebuilt = instantiate(compose_config(["data=cifar10", f"data.root={tmp_path}", *SMALL]).data)
    rebuilt.setup()
    assert torch.equal(rebuilt.eval_set().view1, eval_set.view1)  # the same for every run of a seed


def test_probe_sees_clean_images_and_an_optional_fixed_subset(tmp_path, monkeypatch):
    module = cifar_module(tmp_path, monkeypatch, "data.num_probe_train=5")
    module.setup()
    probe = module.probe_splits()
    train = torch.from_numpy(module.written["train"])
    assert probe.train_x.shape == (5, 3, 32, 32)
    assert all(any(torch.equal(x, t) for t in train) for x in probe.train_x)  # un-augmented stored images
    assert torch.equal(probe.test_x, torch.from_numpy(module.written["test"]))


def test_to_model_input_normalises_stored_images_and_passes_views(tmp_path, monkeypatch):
    module = cifar_module(tmp_path, monkeypatch)
    x = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    expected = (1 - module.mean) / module.std
    torch.testing.assert_close(module.to_model_input(x)[0, :, 0, 0], expected)
    view = torch.randn(2, 3, 4, 4)
    assert module.to_model_input(view) is view


def test_stl10_pretrains_on_unlabeled_images(tmp_path, monkeypatch):
    written = write_stl10(tmp_path, num_unlabeled=8)
    accept_files(monkeypatch, tmp_path, datasets.STL10)
    cfg = compose_config(["data=stl10", f"data.root={tmp_path}", "data.batch_size=4", "data.num_eval=2"])
    module = instantiate(cfg.data)
    module.setup()
    images, labels, _ = module.train_batch(0)
    assert (labels == -1).all() and all(
        any(torch.equal(x, torch.from_numpy(u)) for u in written["unlabeled"]) for x in images
    )
    view1, _, _ = module.on_after_batch_transfer((images, labels, 0), 0)
    assert view1.shape == (4, 3, 96, 96)
    assert module.probe_splits().train_x.shape == (3, 3, 96, 96)


def test_image_folder_module(tmp_path):
    write_image_folder(tmp_path)
    overrides = [
        "data=imagefolder",
        f"data.root={tmp_path}",
        "data.loader.image_size=16",
        "data.num_classes=2",
    ]
    cfg = compose_config([*overrides, "data.batch_size=4", "data.num_eval=2", "data.num_probe_train=null"])
    module = instantiate(cfg.data)
    module.setup()
    view1, _, _ = module.on_after_batch_transfer(module.train_batch(0), 0)
    assert view1.shape == (4, 3, 16, 16)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.num_classes=100", "data.num_classes is 100 but .* has 10 classes"),
        (
            "data.input_shape=[3,64,64]",
            r"data.input_shape is \[3, 64, 64\] but the stored images are \[3, 32, 32\]",
        ),
        ("data.batch_size=64", "data.batch_size=64 exceeds the 20 pre-training images"),
        ("data.num_eval=50", "data.num_eval=50 exceeds the 6 test images"),
    ],
)
def test_config_that_does_not_fit_the_files_is_refused_at_setup(tmp_path, monkeypatch, override, message):
    module = cifar_module(tmp_path, monkeypatch, override)
    with pytest.raises(ConfigError, match=message):
        module.setup()
