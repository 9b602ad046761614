"""The thin train function: build the parts a config names, fit, measure, write the run's record.
Separate from the Hydra wrapper (`src.run`) so tests and studies call it with a composed config."""

import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger

from src.config import build, hydra_choices
from src.data.base import SSLDataModule
from src.metrics.verdict import describe_verdict_rule
from src.monitor import CollapseMonitor, namespaced
from src.run_record import config_hash, device_description, git_state, package_versions, write_json_atomic
from src.ssl_module import SSLModule


def build_module(cfg: DictConfig, datamodule: SSLDataModule) -> SSLModule:
    model = cfg.model
    return SSLModule(
        input_shape=datamodule.input_shape,
        num_classes=datamodule.num_classes,
        backbone=build(model.backbone),
        projector=build(model.projector),
        predictor=build(model.predictor.net),
        predictor_side=model.predictor.side,
        target=build(model.target),
        objective=build(model.loss),
        optimizer=build(cfg.optimizer),
    )


def build_loggers(cfg: DictConfig, run_dir: Path) -> list:
    """CSV always (the run directory is the source of truth); wandb as a mirror when configured."""
    loggers = [CSVLogger(save_dir=run_dir, name="", version="")]
    if cfg.logger.wandb is not None:
        from pytorch_lightning.loggers import WandbLogger

        wb = cfg.logger.wandb
        loggers.append(
            WandbLogger(
                project=wb.project,
                entity=wb.entity,
                mode=wb.mode,
                save_dir=str(run_dir),
                group=cfg.row,
                job_type=cfg.study or "single",
                tags=[t for t in (cfg.study, cfg.row) if t],
                name=f"{cfg.row}-seed{cfg.seed}",
                config={"choices": hydra_choices(), **OmegaConf.to_container(cfg, resolve=True)},
                settings={"silent": True, "console": "off", "x_disable_stats": True},
            )
        )
    return loggers


def train(cfg: DictConfig, run_dir: Path) -> dict:
    """Train one configuration and write ``summary.json`` into ``run_dir``; returns the summary."""
    started = time.time()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.cpu_threads:
        torch.set_num_threads(cfg.cpu_threads)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build(cfg.data)
    module = build_module(cfg, datamodule)
    monitor = CollapseMonitor(OmegaConf.to_container(cfg.metrics, resolve=True))
    checkpoint = ModelCheckpoint(
        dirpath=run_dir / "checkpoints",
        save_last=True,
        save_top_k=0,
        every_n_train_steps=cfg.checkpoint.every_n_steps,
    )
    trainer: pl.Trainer = build(
        cfg.trainer,
        logger=build_loggers(cfg, run_dir),
        callbacks=[monitor, checkpoint],
        default_root_dir=run_dir,
    )
    trainer.fit(module, datamodule=datamodule)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    summary = {
        "status": "finished",
        "row": cfg.row,
        "study": cfg.study,
        "seed": cfg.seed,
        "config_hash": config_hash(resolved),
        "choices": hydra_choices(),
        "steps": trainer.global_step,
        "final": {"train/loss": float(trainer.callback_metrics["train/loss"]), **namespaced(monitor.final)},
        "reference": namespaced(monitor.reference),
        "verdict": monitor.verdict(),
        "verdict_rule": describe_verdict_rule(
            cfg.metrics.verdict.representation,
            cfg.metrics.verdict.complete_below,
            cfg.metrics.verdict.dimensional_below,
        ),
        "spectra": {"final": monitor.final_spectra, "reference": monitor.reference_spectra},
        "git": git_state(),
        "packages": package_versions(),
        "device": device_description(module.device),
        "wall_time_s": round(time.time() - started, 2),
        "run_dir": str(run_dir),
        "config": resolved,
    }
    write_json_atomic(run_dir / "summary.json", summary)
    return summary
