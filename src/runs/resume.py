"""What a run does when its directory already holds something (the same command run again, a study
re-run with fixed run directories, a scheduler restarting a pre-empted job):

- a result (``summary.json`` with status finished or diverged) of the same config → skip it;
- a checkpoint of the same config and no result → resume from it, once its digest matches
  (src/runs/integrity.py) and metrics.csv holds the rows it recorded (src/runs/metrics_csv.py);
- nothing, or only the leftovers of a run that stopped before its first checkpoint or failed → start;
- a result or a checkpoint of a different config → refuse, with one line naming both config hashes;
- a summary, checkpoint or metrics file that cannot be read or fails its check → refuse, with one line
  naming the file and fresh=true; never resume from it. File times are never read: a clock that jumped
  changes no decision;
- ``fresh=true`` → discard the run's outputs and start afresh, whatever the directory holds.

"Same config" means the same hash of the resolved config and seed (src/runs/record.config_hash), never
the same directory name alone: a study whose YAML was edited is not mistaken for the finished one.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

from src.core.errors import ConfigError, DataError
from src.runs.checkpointing import SUITE_KEY, read_checkpoint
from src.runs.files import CHECKPOINT, CHECKPOINT_DIR, METRICS_FILE, SUMMARY_FILE, TRACEBACK_FILE, WANDB_DIR
from src.runs.record import RESULTS, Unreadable, read_summary

# What a run writes into its directory (Hydra's .hydra/ and run.log belong to the invocation, not the run).
# A start clears the files that would be read as this run's; fresh=true also discards the wandb mirror.
RUN_OUTPUTS = (SUMMARY_FILE, METRICS_FILE, TRACEBACK_FILE, CHECKPOINT_DIR)
FRESH_OUTPUTS = (*RUN_OUTPUTS, WANDB_DIR)


@dataclass(frozen=True)
class RunPlan:
    action: str  # "skip" | "resume" | "start"
    summary: dict | None = None  # the result a skipped run keeps
    checkpoint: Path | None = None  # what a resumed run restores
    metrics_rows: int = 0  # rows of metrics.csv the checkpoint accounts for
    metrics_sha256: str | None = None  # their digest (src/runs/metrics_csv.rows_digest)
    wandb_id: str | None = None  # the wandb run a resumed run continues
    resumed_from_step: int | None = None  # the checkpoint's step


def stored_summary(path: Path) -> dict | None:
    """The summary a rerun finds (record.read_summary), a damaged one refused with one line."""
    try:
        return read_summary(path)
    except Unreadable as error:
        raise DataError(
            f"{path} cannot be read ({error}); set fresh=true to start this run afresh"
        ) from error


def clear_outputs(run_dir: Path, names: tuple[str, ...] = RUN_OUTPUTS) -> None:
    for name in names:
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _refuse(run_dir: Path, what: str, theirs: str, ours: str) -> ConfigError:
    return ConfigError(
        f"{run_dir} holds {what} of a different config (config_hash {theirs}, this run's is {ours}); "
        "use another run directory (hydra.run.dir / hydra.sweep.dir) or set fresh=true to discard it"
    )


def plan_run(run_dir: Path, config_hash: str, fresh: bool) -> RunPlan:
    """Decide from what ``run_dir`` holds (module docstring); clears stale outputs when starting."""
    run_dir = Path(run_dir)
    for leftover in [*run_dir.glob(".*.tmp"), *(run_dir / CHECKPOINT_DIR).glob(".*.tmp")]:
        leftover.unlink()  # a file a killed process was writing when it died (never read: writes are atomic)
    if fresh:
        clear_outputs(run_dir, FRESH_OUTPUTS)
        return RunPlan("start")
    summary = stored_summary(run_dir / SUMMARY_FILE)
    if summary is not None and summary.get("status") in RESULTS:
        if summary.get("config_hash") != config_hash:
            raise _refuse(run_dir, f"a {summary.get('status')} run", summary.get("config_hash"), config_hash)
        return RunPlan("skip", summary=summary)
    checkpoint_path = run_dir / CHECKPOINT
    if checkpoint_path.exists():
        checkpoint = read_checkpoint(checkpoint_path)
        suite = checkpoint[SUITE_KEY]
        if suite["config_hash"] != config_hash:
            raise _refuse(run_dir, "a checkpoint", suite["config_hash"], config_hash)
        (run_dir / SUMMARY_FILE).unlink(
            missing_ok=True
        )  # a failed attempt's record; this attempt replaces it
        (run_dir / TRACEBACK_FILE).unlink(missing_ok=True)
        return RunPlan(
            "resume",
            checkpoint=checkpoint_path,
            metrics_rows=suite["metrics_rows"],
            metrics_sha256=suite.get("metrics_sha256"),  # absent from checkpoints written before it
            wandb_id=suite["wandb_id"],
            resumed_from_step=checkpoint["global_step"],
        )
    clear_outputs(run_dir)
    return RunPlan("start")
