"""Entry point: `python -m src.run [+ablation=ROW] [overrides]`, or `-m` for a Hydra multirun sweep.

Exit codes of a single run: 0 finished, diverged or skipped (a result); 2 bad input (one line "error: …",
no summary written); 1 an exception in the run (summary.json with status failed, traceback.txt, and the
traceback); 143 SIGTERM (checkpoint saved, no summary; the same command resumes).
In a sweep (`-m`) each job records its outcome and returns, so one failing run never stops the others;
src/runs/sweep_callbacks.py prints the final count and exits 1 if any run failed.
"""

import logging
import os
import sys
import time
import warnings
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

import src.config.resolvers  # noqa: F401  (registers the `choice` resolver before Hydra composes)
from src.config.errors import SuiteError
from src.config.override_types import check_override_types
from src.runs.checkpointing import Interrupted
from src.runs.record import one_line, record_failure
from src.train import train

CONFIG_DIR = Path(__file__).resolve().parent.parent / "conf"
SIGTERM_EXIT = 143  # 128 + SIGTERM, what a shell reports for a process the signal ended
NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"


def plain_cuda_check() -> None:
    """Undo the NVML-based CUDA check where no GPU is present. lightning_fabric's import sets
    PYTORCH_NVML_BASED_CUDA_CHECK=1 so that torch.cuda.is_available() cannot poison a later fork
    (pytorch#83973); without a GPU there is nothing to poison, and that check then costs ~60 µs per call,
    made by every optimizer step (torch.optim's graph-capture health check asks for the accelerator).
    Changes no number: only how availability is asked."""
    if os.environ.get(NVML_CHECK) == "1" and not torch.cuda.is_available():
        del os.environ[NVML_CHECK]


def user_error(exc: BaseException) -> SuiteError | None:
    """The SuiteError behind an exception (Hydra wraps constructor errors in InstantiationException)."""
    while exc is not None:
        if isinstance(exc, SuiteError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def format_summary(summary: dict) -> str:
    if summary["status"] == "diverged":
        return f"run {summary['row']} (seed {summary['seed']}) diverged: {summary['error']}\n  run dir {summary['run_dir']}"
    final, ref = summary["final"], summary["reference"]
    width = len("collapse/z_std_sqrt_d")
    lines = [
        f"run {summary['row']} (seed {summary['seed']}) finished in {summary['wall_time_s']:.0f}s "
        f"after {summary['steps']} steps",
        f"  {'final loss':<{width}} {final['train/loss']:.4f}",
    ]
    for name in (
        "probe/linear_acc",
        "probe/knn_acc",
        *(f"collapse/{k}" for k in ("z_std_sqrt_d", "z_rank", "h_std_sqrt_d", "h_rank")),
    ):
        lines.append(f"  {name:<{width}} {final[name]:.3f}   (random init: {ref[name]:.3f})")
    lines += [
        f"  {'verdict':<{width}} {summary['verdict']}   [{summary['verdict_rule']}]",
        f"  run dir {summary['run_dir']}",
    ]
    return "\n".join(lines)


def outcome(status: str, run_dir: Path, verdict: str | None = None, error: str | None = None) -> dict:
    """What a job returns to the sweep callbacks."""
    return {"status": status, "verdict": verdict, "error": error, "run_dir": str(run_dir)}


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def main(cfg: DictConfig) -> dict:
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    sweeping = hydra_cfg.mode == RunMode.MULTIRUN
    started = time.time()
    plain_cuda_check()
    try:
        check_override_types(cfg, list(hydra_cfg.overrides.task), CONFIG_DIR)
        summary = train(cfg, run_dir)
    except Interrupted as exc:
        print(f"interrupted: {exc}", file=sys.stderr)
        sys.exit(SIGTERM_EXIT)
    except Exception as exc:
        err = user_error(exc)
        if err is not None:  # bad input: one line, nothing written
            print(f"error: {err}", file=sys.stderr)
            if not sweeping:
                sys.exit(2)
            return outcome("failed", run_dir, error=str(err))
        record_failure(cfg, run_dir, exc, time.time() - started)
        if not sweeping:
            raise
        print(f"failed: {run_dir}: {one_line(exc)} (traceback in {run_dir}/traceback.txt)", file=sys.stderr)
        return outcome("failed", run_dir, error=one_line(exc))
    if summary.get("skipped"):
        print(
            f"skip: {run_dir} already holds a {summary['status']} run of this config ({summary['config_hash']})"
        )
    else:
        print(format_summary(summary))
    return outcome(summary["status"], run_dir, verdict=summary.get("verdict"))


if __name__ == "__main__":
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
    main()
