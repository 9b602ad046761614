"""One job of an invocation, a single run or one of a sweep's: the checks, the training, the record of its
outcome and the summary it prints. The entry point (src/run.py) imports this module when a job starts, so
that a sweep's main process, which composes, launches and reports but never trains, does not spend
seconds importing torch and Lightning before its workers can start.
"""

import logging
import os
import sys
import time
import traceback
import warnings
from pathlib import Path

NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"
_nvml_check_given = os.environ.get(NVML_CHECK)  # the user's own, read before Lightning's import sets it

import torch  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from hydra.types import RunMode  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from src.cli.override_types import check_override_types  # noqa: E402
from src.core.errors import BAD_INPUT_EXIT, SuiteError  # noqa: E402
from src.core.paths import CONFIG_DIR  # noqa: E402
from src.metrics.verdict import READING_PREFIX, VerdictRule, decide, stored_readings  # noqa: E402
from src.runs.atomic import root_os_error  # noqa: E402
from src.runs.checkpointing import Interrupted  # noqa: E402
from src.runs.record import error_line, record_failure  # noqa: E402
from src.runs.wandb_mirror import offline_runs  # noqa: E402
from src.train import train  # noqa: E402


def plain_cuda_check(given: str | None) -> None:
    """Undo Lightning's NVML-based CUDA check where no GPU is present; ``given`` is the user's own setting,
    which always stays. lightning_fabric's import sets PYTORCH_NVML_BASED_CUDA_CHECK=1 so that
    torch.cuda.is_available() cannot poison a later fork (pytorch#83973); without a GPU there is nothing to
    poison, and that check costs ~60 µs per call, made by every optimizer step (torch.optim's graph-capture
    health check). Changes no number: only how availability is asked. Called by every job (``run_job``), not
    at import: importing this module leaves the environment as Lightning's import set it."""
    if given is not None:
        os.environ[NVML_CHECK] = given
    elif not torch.cuda.is_available():
        os.environ.pop(NVML_CHECK, None)


def quiet_libraries() -> None:
    """Lightning's tips and device lines, and warnings that say nothing about the run. Called in every
    process that runs a job (a joblib worker never runs src.run's ``__main__`` block)."""
    for name in (
        "pytorch_lightning.utilities.rank_zero",
        "pytorch_lightning.trainer.connectors.signal_connector",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)  # the "interrupted: …" line says it once
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated")


def user_error(exc: BaseException) -> SuiteError | None:
    """The SuiteError behind an exception (Hydra wraps constructor errors in InstantiationException)."""
    while exc is not None:
        if isinstance(exc, SuiteError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def format_summary(summary: dict) -> str:
    """The run in a few aligned lines: loss, probes against the random-init reference, the verdict and
    every statistic its rule read, with its threshold and margin (band units, > 0 healthy side)."""
    if summary["status"] == "diverged":
        return "\n".join(
            [
                f"run {summary['row']} (seed {summary['seed']}) diverged: {summary['error']}",
                *sync_lines(summary, 0),
                f"  run dir {summary['run_dir']}",
            ]
        )
    final, ref = summary["final"], summary["reference"]
    rule = VerdictRule.from_settings(summary["config"]["metrics"]["verdict"])
    judged = decide(stored_readings(final), rule)  # the stored readings, with their thresholds and margins
    width = max(len(name) for name in ("collapse/z_std_sqrt_d", *(READING_PREFIX + k for k in judged.values)))
    lines = [
        f"run {summary['row']} (seed {summary['seed']}) finished in {summary['wall_time_s']:.0f}s "
        f"after {summary['steps']} steps",
        f"  {'final loss':<{width}} {final['train/loss']:.4f}",
    ]
    for name in ("probe/linear_acc", "probe/knn_acc", "collapse/z_std_sqrt_d"):
        lines.append(f"  {name:<{width}} {final[name]:.3f}   (random init: {ref[name]:.3f})")
    lines.append(f"  {'verdict':<{width}} {summary['verdict']}")
    for reading, value in judged.values.items():
        threshold, m = judged.thresholds[reading], judged.margins[reading]
        lines.append(
            f"  {READING_PREFIX + reading:<{width}} {value:+7.2f}   threshold {threshold:+g}, margin {m:+.1f}"
        )
    lines += [
        f"  {'rule':<{width}} {summary['verdict_rule']}",
        *attempt_lines(summary, width),
        *sync_lines(summary, width),
        f"  run dir {summary['run_dir']}",
    ]
    return "\n".join(lines)


def sync_lines(summary: dict, width: int) -> list[str]:
    """How to upload the wandb mirror when wandb wrote it offline (nothing with logger=csv or online)."""
    folders = offline_runs(Path(summary["run_dir"]))
    if not folders:
        return []
    return [f"  {'wandb':<{width}} offline; upload with: wandb sync {' '.join(map(str, folders))}"]


def attempt_lines(summary: dict, width: int) -> list[str]:
    """Whether this attempt resumed, and its wall time with the start-up (imports, config, data)."""
    lines = []
    resumed = summary.get("resumed_from_step")
    if resumed is not None:
        lines.append(
            f"  {'resumed':<{width}} from step {resumed} ({summary['steps'] - resumed} steps this attempt)"
        )
    startup = summary.get("startup_s")
    if startup is not None:
        total = summary["wall_time_s"] + startup
        lines.append(
            f"  {'wall time':<{width}} {total:.0f}s (start-up {startup:.0f}s, training {summary['wall_time_s']:.0f}s)"
        )
    return lines


def outcome(
    status: str, run_dir: Path, verdict: str | None = None, error: str | None = None, bad_input: bool = False
) -> dict:
    """What a job returns to the sweep callbacks (``bad_input``: refused before its first step)."""
    return {
        "status": status,
        "verdict": verdict,
        "error": error,
        "run_dir": str(run_dir),
        "bad_input": bad_input,
    }


def run_job(cfg: DictConfig, process_started: float) -> dict:
    """Run the job Hydra composed: what it returns goes to the sweep callbacks (``outcome``); a single run
    exits with the suite's codes instead. ``process_started``: when the process started (a single run's
    wall time counts its start-up; a sweep's job does not)."""
    quiet_libraries()
    plain_cuda_check(_nvml_check_given)  # before training, in every job's process, as quiet_libraries
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    sweeping = hydra_cfg.mode == RunMode.MULTIRUN
    started = time.time()
    try:
        check_override_types(cfg, list(hydra_cfg.overrides.task), CONFIG_DIR)
        summary = train(cfg, run_dir, process_started=None if sweeping else process_started)
    except Interrupted as exc:
        print(f"interrupted: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except Exception as exc:
        err = user_error(exc)
        if err is not None:  # bad input: one line, nothing written
            print(f"error: {err}", file=sys.stderr)
            if not sweeping:
                sys.exit(BAD_INPUT_EXIT)
            return outcome("failed", run_dir, error=str(err), bad_input=True)
        resource_fault = root_os_error(exc) is not None
        where = f"traceback in {run_dir}/traceback.txt"
        try:
            record_failure(cfg, run_dir, exc, time.time() - started)
        except OSError as unrecorded:  # the same full disk or read-only folder: the line still says why
            if not resource_fault:
                raise
            where = f"not recorded: {error_line(unrecorded)}"
        if not sweeping and not resource_fault:
            traceback.print_exception(exc)  # a bug: the whole traceback (Hydra would trim it)
            sys.exit(1)
        # A resource fault (the OS's error: no space, no permission, a missing file) is one line: its
        # cause and file say what to fix; the traceback would only hide them.
        print(f"failed: {run_dir}: {error_line(exc)} ({where})", file=sys.stderr)
        if not sweeping:
            sys.exit(1)
        return outcome("failed", run_dir, error=error_line(exc))
    if summary.get("skipped"):
        print(
            f"skip: {run_dir} already holds a {summary['status']} run of this config ({summary['config_hash']})"
        )
    else:
        print(format_summary(summary))
    return outcome(summary["status"], run_dir, verdict=summary.get("verdict"))
