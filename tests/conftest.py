"""Shared test helpers: compose the real configs (shrunk) exactly as `python -m src.run` would."""

import os
from pathlib import Path

import pytest
from omegaconf import DictConfig, OmegaConf

from src.cli.compose import compose_config
from src.core.paths import CONFIG_DIR

ROOT = Path(__file__).resolve().parent.parent
CONF = CONFIG_DIR
ROWS = sorted(p.stem for p in (CONF / "ablation").glob("*.yaml"))

# Small enough that a run takes a couple of seconds on a 2-core CPU, large enough for BN and negatives.
TINY = [
    "trainer.max_steps=4",
    "trainer.enable_progress_bar=false",
    "trainer.log_every_n_steps=1",
    "data.num_probe_train=256",
    "data.num_test=128",
    "data.num_eval=64",
    "data.batch_size=64",
    "metrics.every_n_steps=2",
    "metrics.probe_steps=5",
    "checkpoint.every_n_steps=2",
    "model.backbone.hidden_dim=32",
    "model.projector.hidden_dim=32",
    "model.projector.out_dim=16",
    "logger=csv",
]

# The three speeds of docs/design.md §7, one marker each (`pytest -m unit` runs the pure-function tests
# alone). `slow` is marked by hand on end-to-end tests; a test is `module` if it builds a run from the
# composed configs (the `tiny_config` fixture) or lives in one of these files, whose tests train or run
# the CLI in process; every other test is `unit`.
MODULE_FILES = {
    "test_bad_inputs.py", "test_config.py", "test_ddp.py", "test_experiments.py", "test_module.py",
    "test_optimizer_and_target_state.py", "test_refused_input_leaves_nothing.py", "test_reproducible.py",
    "test_resume.py", "test_sweep_faults.py", "test_train.py",
}  # fmt: skip


@pytest.hookimpl(tryfirst=True)  # before -m selects on the markers
def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if item.get_closest_marker("slow"):
            continue
        module = "tiny_config" in item.fixturenames or item.path.name in MODULE_FILES
        item.add_marker(pytest.mark.module if module else pytest.mark.unit)


os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


def data_defaults(name: str) -> dict:
    """The keyword arguments of ``conf/data/<name>.yaml`` (seed 0: the YAML interpolates the run seed)."""
    config = OmegaConf.load(CONF / "data" / f"{name}.yaml")
    config.seed = 0
    kwargs = OmegaConf.to_container(config)
    del kwargs["_target_"]
    return kwargs


@pytest.fixture
def tiny_config(tmp_path):
    def make(*overrides: str) -> DictConfig:
        return compose_config([*TINY, *overrides], tmp_path)

    return make
