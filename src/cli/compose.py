"""A job's config composed in process, as `python -m src.run` composes it: for the tests and the benchmarks,
which build runs without Hydra's entry point."""

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

import src.cli.resolvers  # noqa: F401  (the `choice`, `row_label` and `folder` resolvers the configs use)
from src.cli.app import HYDRA_VERSION_BASE
from src.core.paths import CONFIG_DIR


def compose_config(overrides: list[str], run_dir: Path | None = None) -> DictConfig:
    """The composed config, with Hydra's runtime info set (choices, output dir) as inside a real job."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=HYDRA_VERSION_BASE):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    if run_dir is not None:
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(run_dir)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]  # a job's own config never holds Hydra's node
    return cfg
