"""Shared test helpers: compose the real configs (shrunk) exactly as `python -m src.run` would."""

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

import src.config.resolvers  # noqa: F401  (the `choice` resolver)

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"
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

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


def data_defaults(name: str) -> dict:
    """The keyword arguments of ``conf/data/<name>.yaml`` (seed 0: the YAML interpolates the run seed)."""
    config = OmegaConf.load(CONF / "data" / f"{name}.yaml")
    config.seed = 0
    kwargs = OmegaConf.to_container(config)
    del kwargs["_target_"]
    return kwargs


def compose_config(overrides: list[str], run_dir: Path | None = None) -> DictConfig:
    """The composed config, with Hydra's runtime info set (choices, output dir) as inside a real job."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    if run_dir is not None:
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(run_dir)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]  # a job's own config never holds Hydra's node
    return cfg


@pytest.fixture
def tiny_config(tmp_path):
    def make(*overrides: str) -> DictConfig:
        return compose_config([*TINY, *overrides], tmp_path)

    return make
