"""Experiment recipes (conf/experiment/): each cites its source, composes with every ablation row in either
order, and the CIFAR-10 recipe trains for real (tiny, with channels_last) on a small copy of CIFAR-10 in
its real format, as a user tries a recipe (data.loader.verify=false; refused without it). Each recipe's
learning rate follows the batch. The recipes' execution options leave the maths unchanged: the loss is
float32 under bf16 autocast, and channels_last computes what the default layout computes."""

import functools
import inspect
import json

import pytest
import torch
from hydra.utils import get_method
from omegaconf import OmegaConf

from src.cli.resolvers import build
from src.core.errors import DataError
from src.mechanisms.losses import Objective
from src.train import build_module, train
from tests.conftest import CONF, ROWS, TINY, compose_config
from tests.fake_image_files import write_cifar10
from tests.test_config import declared_prefixes, flat

EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
ROOT_OVERRIDE = ["data.root=/nowhere"]  # imagefolder's root is required (???); nothing is read here


def test_the_four_recipes_exist_and_cite_their_source():
    assert set(EXPERIMENTS) == {"cifar10", "cifar100", "stl10", "imagenet100"}
    for name in EXPERIMENTS:
        text = (CONF / "experiment" / f"{name}.yaml").read_text()
        assert text.startswith("# @package _global_"), name
        for word in ("Run:", "Recipe:", "Composes:"):
            assert word in text, (name, word)


def unknown_constructor_arguments(node, path: str = "") -> list[str]:
    """Keys handed to a `_target_` that its signature does not take (a recipe value landing on a part a
    row swapped in would be one)."""
    problems = []
    if OmegaConf.is_dict(node):
        if "_target_" in node:
            params = inspect.signature(get_method(node._target_)).parameters
            takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
            for key in node:
                if not key.startswith("_") and key not in params and not takes_any:
                    problems.append(f"{path}{key}")
        for key in node:
            problems += unknown_constructor_arguments(node[key], f"{path}{key}.")
    return problems


@functools.cache
def row_alone(row: str) -> dict:
    return flat(compose_config([f"+ablation={row}"]))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_row_composes_with_the_recipe_and_wins_its_keys(experiment):
    recipe = compose_config([f"+experiment={experiment}", *ROOT_OVERRIDE])
    base = flat(recipe)
    for row in ROWS:
        cfg = compose_config([f"+experiment={experiment}", f"+ablation={row}", *ROOT_OVERRIDE])
        # The recipe names the label's front (src/runs/naming.py); read now: the label resolves against the
        # Hydra config of the last composition.
        assert cfg.row == f"{experiment}/{row}"
        variant = flat(cfg)
        changed = {
            k for k in base.keys() | variant.keys() if base.get(k, "<absent>") != variant.get(k, "<absent>")
        }
        changed.discard("row")
        prefixes = declared_prefixes(row)
        undeclared = {k for k in changed if not any(k == p or k.startswith(p + ".") for p in prefixes)}
        assert not undeclared, (
            f"{experiment} + {row} changes keys the row does not declare: {sorted(undeclared)}"
        )
        alone = row_alone(row)
        for key in prefixes:  # the row's own values survive the recipe (its leaves, not group choices)
            if key in alone:
                assert variant[key] == alone[key], (experiment, row, key)
        assert not unknown_constructor_arguments(cfg.model), (experiment, row)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_the_order_of_experiment_and_row_does_not_matter(experiment):
    for row in ("simclr", "ema_tau_0.9"):  # predictor, target and loss swapped; target values changed
        first = compose_config([f"+experiment={experiment}", f"+ablation={row}", *ROOT_OVERRIDE])
        second = compose_config([f"+ablation={row}", f"+experiment={experiment}", *ROOT_OVERRIDE])
        assert flat(first) == flat(second), (experiment, row)


# The CIFAR-10 recipe, shrunk to seconds on a CPU. NOTE: in fp32: this CPU has no bf16 units and runs the
# ResNet 10-20× slower in bf16; test_loss_is_float32_under_bf16_autocast covers what bf16 changes.
CIFAR_SMOKE = [
    "trainer.precision=32-true",
    "trainer.max_steps=2",
    "trainer.log_every_n_steps=1",
    "data.batch_size=4",
    "data.num_eval=4",
    "model.projector.hidden_dim=32",
    "model.projector.out_dim=16",
    "metrics.every_n_steps=2",
    "metrics.probe_steps=2",
    "metrics.knn_k=3",
    "checkpoint.every_n_steps=2",
    "logger=csv",
]


@pytest.mark.slow
def test_cifar10_recipe_trains_on_a_small_copy_only_with_verification_off(tmp_path):
    write_cifar10(tmp_path / "data", per_batch=2, num_test=4)  # 10 train and 4 test images, not the published
    recipe = ["+experiment=cifar10", f"data.root={tmp_path / 'data'}", *CIFAR_SMOKE]
    with pytest.raises(DataError, match="is corrupt"):
        train(compose_config(recipe, tmp_path), tmp_path / "refused")
    assert not (tmp_path / "refused" / "summary.json").exists()
    cfg = compose_config([*recipe, "data.loader.verify=false"], tmp_path)
    assert cfg.model.channels_last and cfg.model.backbone.cifar_stem and cfg.optimizer.lr == 1.0
    summary = train(cfg, tmp_path / "run")
    on_disk = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert on_disk["status"] == summary["status"] == "finished" and on_disk["steps"] == 2
    assert on_disk["choices"]["experiment"] == "cifar10" and on_disk["verdict"] is not None


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_each_recipe_scales_its_learning_rate_with_the_batch(experiment):
    # The rate is stated for the recipe's own batch; at 16 samples × 2 accumulated steps it is scaled by 32/B.
    small = [f"+experiment={experiment}", *ROOT_OVERRIDE, "model.projector.hidden_dim=32"]
    recipe = compose_config(small)
    stated, batch = recipe.optimizer.lr, recipe.optimizer.lr_reference_batch
    assert batch == recipe.data.batch_size  # the recipe's own run keeps its published rate
    cfg = compose_config([*small, "data.batch_size=16", "trainer.accumulate_grad_batches=2"])
    optimizer, _ = build_module(cfg, build(cfg.data)).make_optimizer(
        parts={"x": torch.nn.Linear(2, 2)}, total_steps=4
    )
    assert {g["initial_lr"] for g in optimizer.param_groups} == {stated * 32 / batch}  # before warm-up


def test_loss_is_float32_under_bf16_autocast():
    g = torch.Generator().manual_seed(0)
    p1, p2, t1, t2 = (torch.randn(6, 8, generator=g) for _ in range(4))
    objective = Objective(negatives_weight=1.0, temperature=0.2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = objective(p1, p2, t1, t2)
    exact = objective(p1, p2, t1, t2)
    for key, value in exact.items():
        assert mixed[key].dtype == torch.float32 and torch.equal(mixed[key], value), key


def test_channels_last_changes_the_layout_not_the_outputs():
    small = [o for o in TINY if not o.startswith("model.backbone")]
    cfg = compose_config([*small, "data.layout=image", "model/backbone=cnn"])
    modules = []
    for channels_last in (False, True):
        cfg.model.channels_last = channels_last
        datamodule = build(cfg.data)
        torch.manual_seed(0)
        modules.append(build_module(cfg, datamodule))
    datamodule.setup("fit")
    x1, _, _ = datamodule.train_batch(0)
    conv = modules[1].encoder.backbone[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    plain, nhwc = (m.forward_view(x1, with_target=False) for m in modules)
    for name in plain:
        torch.testing.assert_close(nhwc[name], plain[name], rtol=1e-4, atol=1e-5, msg=name)
