"""The thin train function: build the parts a config names, fit, measure, write the run's record.
Separate from the Hydra wrapper (`src.run`) so tests and studies call it with a composed config."""

import contextlib
import signal
import time
import uuid
from pathlib import Path

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities.exceptions import SIGTERMException
from pytorch_lightning.utilities.rank_zero import rank_zero_only

from src.cli.preflight import check_built, check_settings
from src.cli.resolvers import build
from src.core.errors import SIGNAL_EXIT
from src.data.base import SSLDataModule
from src.data.held_out_cache import set_up
from src.metrics.divergence import Diverged
from src.metrics.monitor import CollapseMonitor, measurement_interval, namespaced
from src.runs.atomic import write_json_atomic
from src.runs.checkpointing import AtomicCheckpointIO, CtrlCAsSigterm, Interrupted, RunCheckpoints
from src.runs.divergence_guard import DivergenceGuard
from src.runs.fault_injection import PhaseFaults, fault_injection
from src.runs.files import CHECKPOINT, SUMMARY_FILE
from src.runs.lock import RunLock
from src.runs.metrics_csv import MetricsCSVLogger
from src.runs.progress import progress_bar
from src.runs.record import config_hash, hydra_choices, run_identity, write_hydra_files
from src.runs.resume import plan_run
from src.runs.wandb_mirror import start_mirror
from src.ssl_module import SSLModule


def set_kernels(cfg: DictConfig) -> None:
    """Process-wide torch settings of a run's arithmetic, for a run and for the benchmarks' plain loop alike:
    ``cpu_threads`` intra-op threads (float reductions depend on the count: fixed, they rerun alike), and
    torch's fill of every new tensor switched off.
    NOTE: under deterministic algorithms (``trainer.deterministic``, Lightning's switch) torch fills each
    new tensor with NaN before a kernel writes it (``torch.utils.deterministic.fill_uninitialized_memory``),
    a check that no kernel reads memory it has not written: ~3 % of a τ-sweep run here, every intermediate
    result is such a tensor. A kernel that read one would put NaN in what it computes; without the fill
    every number is bitwise the same (tests/test_speed_invariance.py)."""
    if cfg.cpu_threads is not None:
        torch.set_num_threads(cfg.cpu_threads)
    torch.utils.deterministic.fill_uninitialized_memory = False


def step_batch(cfg: DictConfig, datamodule: SSLDataModule) -> int:
    """The samples per optimizer step, which a learning rate stated for a batch follows
    (src/mechanisms/optim.py)."""
    return datamodule.batch_size * cfg.trainer.accumulate_grad_batches


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
        optimizer=build(cfg.optimizer, step_batch=step_batch(cfg, datamodule)),
        channels_last=model.channels_last,
        compile=model.compile,
        predictor_trained=model.predictor.trained,
    )


def build_loggers(cfg: DictConfig, csv: MetricsCSVLogger, wandb_id: str | None) -> list:
    """CSV always (the run directory is the source of truth); wandb as a mirror when configured. A resumed
    run continues its wandb run (same id); offline, that is a second offline-run folder with that id."""
    if cfg.logger.wandb is None:
        return [csv]
    wb = cfg.logger.wandb
    run = start_mirror(
        wb.mode,
        project=wb.project,
        entity=wb.entity,
        dir=str(csv.save_dir),
        id=wandb_id,
        resume="allow",
        group=cfg.row,
        job_type=cfg.study or "single",
        # The ablation row as a tag too: a labelled run (`byol+model/predictor=linear`) is found by its row.
        tags=list(dict.fromkeys(t for t in (cfg.study, cfg.row, hydra_choices().get("ablation")) if t)),
        name=f"{cfg.row}-seed{cfg.seed}",
        config={"choices": hydra_choices(), **OmegaConf.to_container(cfg, resolve=True)},
    )
    # The x-axis Lightning defines when it starts the run itself.
    run.define_metric("trainer/global_step")
    run.define_metric("*", step_metric="trainer/global_step", step_sync=True)
    wandb = WandbLogger(experiment=run, save_dir=csv.save_dir)
    return [csv, wandb]


def finished_summary(cfg, module, monitor: CollapseMonitor, guard: DivergenceGuard, trainer, run_dir) -> dict:
    verdict = monitor.verdict()
    return {
        "status": "finished",
        "steps": trainer.global_step,
        "final": {
            "train/loss": guard.last_loss,
            **namespaced(monitor.final),
            **verdict.stored(),  # the readings the rule judged and their margins, in band units
        },
        "reference": namespaced(monitor.reference),
        "verdict": verdict.verdict,
        "verdict_rule": verdict.rule,
        "spectra": {"final": monitor.final_spectra, "reference": monitor.reference_spectra},
        **run_identity(cfg, run_dir, module.device),
    }


def diverged_summary(cfg, module, monitor, guard, error: Diverged, trainer, run_dir) -> dict:
    """No final metrics: the weights are no longer finite. The last finite loss is kept for the record."""
    return {
        "status": "diverged",
        "diverged_at_step": error.step,
        "error": str(error),
        "last_finite_loss": guard.last_loss,
        "steps": trainer.global_step,
        "final": {},
        "reference": namespaced(monitor.reference or {}),
        "verdict": None,
        **run_identity(cfg, run_dir, module.device),
    }


def train(cfg: DictConfig, run_dir: Path, process_started: float | None = None) -> dict:
    """Train one configuration and write ``summary.json`` into ``run_dir``; returns the summary. A run
    already done is skipped (its summary is returned with ``skipped: True``, not written again), an
    interrupted one resumed (src/runs/resume.py). Every check runs before the first training step
    (src/cli/preflight.py); the run holds its folder's lock throughout (src/runs/lock.py).
    ``process_started`` (time.time() when the command started) makes the summary count the start-up."""
    started = time.time()
    run_dir = Path(run_dir)
    check_settings(cfg)
    # Built before the run folder: its constructor checks every metrics.* key and the verdict rule.
    monitor = CollapseMonitor(OmegaConf.to_container(cfg.metrics, resolve=True))
    run_dir.mkdir(parents=True, exist_ok=True)
    # Under DDP every process runs this function; the first holds the lock for all of them.
    faults = PhaseFaults(cfg.debug, run_dir)
    with RunLock(run_dir) if rank_zero_only.rank == 0 else contextlib.nullcontext():
        summary = _train(cfg, run_dir, faults, monitor)
    if summary.get("skipped") or not summary.pop("_writes_record"):
        return summary
    # NOTE: this attempt's time; a resumed run's excludes the attempts before it.
    summary["wall_time_s"] = round(time.time() - started, 2)
    summary["startup_s"] = None if process_started is None else round(started - process_started, 2)
    write_json_atomic(
        run_dir / SUMMARY_FILE,
        summary,
        before_replace=lambda temporary: faults.at("summary", summary["steps"]),
    )
    return summary


def _train(cfg: DictConfig, run_dir: Path, faults: PhaseFaults, monitor: CollapseMonitor) -> dict:
    identity = config_hash(OmegaConf.to_container(cfg, resolve=True))
    plan = plan_run(run_dir, identity, cfg.fresh)
    if plan.action == "skip":
        return {**plan.summary, "skipped": True}
    faults.at("startup", plan.resumed_from_step or 0)
    set_kernels(cfg)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build(cfg.data)
    module = build_module(cfg, datamodule)
    # A missing or corrupt data file fails here, before anything is written; generated splits are drawn
    # once per process for the same settings (a sweep's worker runs many jobs on one data set).
    set_up(datamodule, OmegaConf.to_container(cfg.data, resolve=True))
    check_built(cfg, module, datamodule)
    # metrics.csv's kept rows are checked here, before anything is written: a refused resume changes nothing.
    csv = MetricsCSVLogger(run_dir, keep_rows=plan.metrics_rows, digest=plan.metrics_sha256)
    write_hydra_files(run_dir, cfg)
    guard = DivergenceGuard()
    wandb_id = plan.wandb_id or (uuid.uuid4().hex[:12] if cfg.logger.wandb is not None else None)
    checkpoints = RunCheckpoints(run_dir / CHECKPOINT, cfg.checkpoint.every_n_steps, identity, csv, wandb_id)
    trainer: pl.Trainer = build(
        cfg.trainer,
        logger=build_loggers(cfg, csv, wandb_id),
        # The monitor before the checkpoints: the final checkpoint then holds the final measurement.
        callbacks=[
            monitor,
            guard,
            *fault_injection(
                cfg.debug, faults, measurement_interval(cfg.metrics.every_n_steps, cfg.trainer.max_steps)
            ),
            checkpoints,
            *progress_bar(cfg.trainer),
        ],
        plugins=[AtomicCheckpointIO(faults)],
        enable_checkpointing=False,
        default_root_dir=run_dir,
    )
    try:
        with CtrlCAsSigterm() as ctrl_c:
            trainer.fit(module, datamodule=datamodule, ckpt_path=plan.checkpoint, weights_only=True)
        summary = finished_summary(cfg, module, monitor, guard, trainer, run_dir)
    except Diverged as error:
        summary = diverged_summary(cfg, module, monitor, guard, error, trainer, run_dir)
    except SIGTERMException as exc:
        sig = signal.SIGINT if ctrl_c.received else signal.SIGTERM
        raise Interrupted(
            f"{'Ctrl-C' if ctrl_c.received else 'SIGTERM'} after step {trainer.global_step}; checkpoint "
            f"{run_dir / CHECKPOINT} saved, the same command resumes the run",
            exit_code=SIGNAL_EXIT[sig],
        ) from exc
    finally:
        monitor.close()
        # A sweep runs many jobs in one process (joblib workers, the basic launcher): without this the
        # next run would log into this run's wandb run.
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.experiment.finish()
    summary["resumed_from_step"] = plan.resumed_from_step
    summary["_writes_record"] = trainer.is_global_zero  # under DDP one process writes the run's record
    return summary
