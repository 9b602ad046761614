"""The names of what a run writes into its directory, defined once (docs/design.md §6). Every writer and
reader of a run directory (the run itself, resume, the analysis) imports them from here."""

from pathlib import Path

SUMMARY_FILE = "summary.json"  # the run's record: status, final metrics, reference, verdict, identity
METRICS_FILE = "metrics.csv"  # per-step metrics (Lightning's CSV layout, one row per logging call)
TRACEBACK_FILE = "traceback.txt"  # beside a failed run's summary
CHECKPOINT_DIR = "checkpoints"
CHECKPOINT = Path(CHECKPOINT_DIR) / "last.ckpt"  # relative to the run directory
WANDB_DIR = "wandb"  # the offline mirror's folder
LOCK_FILE = ".lock"  # held (flock) by the process running in the directory: src/runs/lock.py
HYDRA_DIR = ".hydra"  # the job's config, Hydra config and overrides, written by the run under its lock
