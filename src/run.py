"""Entry point: `python -m src.run [+ablation=ROW] [overrides]`, or `-m` for a Hydra multirun sweep;
`--help` lists the groups, rows, studies and options (src/cli/help.py), answered before the heavy imports
(src/cli/app.py).

Exit codes of a single run: 0 finished, diverged or skipped (a result); 2 bad input, Hydra's own
included (one line "error: …", nothing written: what the invocation created is removed again,
src/runs/created.py; a damaged checkpoint, metrics.csv or summary.json too); 1 an exception in the run
(summary.json with status failed, traceback.txt, and the traceback; a resource fault, an OSError such as
a full disk, gets one line "failed: …" naming the file instead); 143 SIGTERM and 130 Ctrl-C (checkpoint
saved, one line, no summary; the same command resumes).
In a sweep (`-m`) each job records its outcome and returns, so one failing run never stops the others;
src/runs/sweep_callbacks.py prints the final count and exits 1 if any run failed (2 if every job was
refused as bad input).
"""

import time

PROCESS_STARTED = time.time()  # before the imports: the run summary's wall time counts the start-up

import difflib  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

from src.cli.app import answer_help, hydra_app  # noqa: E402  (light: Hydra and the help text, no torch)

if __name__ == "__main__":  # help exits here: it needs none of the imports below (torch, Lightning: seconds)
    answer_help(sys.argv[1:])

NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"
_nvml_check_given = os.environ.get(NVML_CHECK)  # the user's own, read before Lightning's import sets it

import torch  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from hydra.errors import HydraException, MissingConfigException  # noqa: E402
from hydra.types import RunMode  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from omegaconf.errors import OmegaConfBaseException  # noqa: E402

import src.cli.resolvers  # noqa: E402, F401  (registers `choice`, `row_label`, `folder`)
from src.cli.override_types import check_override_types  # noqa: E402
from src.core.errors import BAD_INPUT_EXIT, SuiteError  # noqa: E402
from src.core.paths import CONFIG_DIR  # noqa: E402
from src.metrics.verdict import READING_PREFIX, VerdictRule, decide, stored_readings  # noqa: E402
from src.runs.atomic import root_os_error  # noqa: E402
from src.runs.checkpointing import SIGNAL_EXIT, Interrupted  # noqa: E402
from src.runs.created import forget, remove_created  # noqa: E402
from src.runs.record import error_line, record_failure  # noqa: E402
from src.runs.wandb_mirror import offline_runs  # noqa: E402
from src.train import train  # noqa: E402


def plain_cuda_check(given: str | None) -> None:
    """Undo Lightning's NVML-based CUDA check where no GPU is present; ``given`` is the user's own setting,
    which always stays. lightning_fabric's import sets PYTORCH_NVML_BASED_CUDA_CHECK=1 so that
    torch.cuda.is_available() cannot poison a later fork (pytorch#83973); without a GPU there is nothing to
    poison, and that check costs ~60 µs per call, made by every optimizer step (torch.optim's graph-capture
    health check). Changes no number: only how availability is asked. Called by the entry point, not at
    import: importing src.run leaves the environment as Lightning's import set it."""
    if given is not None:
        os.environ[NVML_CHECK] = given
    elif not torch.cuda.is_available():
        os.environ.pop(NVML_CHECK, None)


def quiet_libraries() -> None:
    """Lightning's tips and device lines, and warnings that say nothing about the run. Called in every
    process that runs a job (a joblib worker never runs this module's ``__main__`` block)."""
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


def missing_option_line(exc: MissingConfigException, overrides: list[str]) -> str | None:
    """``GROUP=NAME`` where NAME is no option of GROUP: the group's options and the nearest of them; None
    when Hydra names no options (an unknown group, a primary config)."""
    group, _, name = (exc.missing_cfg_file or "").rpartition("/")
    if not exc.options or not group:
        return None
    keys = (o.split("=", 1)[0] for o in overrides)
    typed = next((k for k in keys if k.lstrip("+~") == group), group)  # `+ablation` as the user wrote it
    near = difflib.get_close_matches(name, exc.options, n=1)
    guess = f"; did you mean {near[0]}?" if near else "."
    return f"{typed}={name}: no such option of group {group}{guess} Options: {', '.join(exc.options)}"


def hydra_error_line(exc: BaseException, overrides: list[str]) -> str:
    """Hydra's multi-line composition error (and the OmegaConf error under it) as one line; the list of
    available options that follows "Could not find" is kept, comma-separated, Hydra's search path is not."""
    if isinstance(exc, MissingConfigException):
        line = missing_option_line(exc, overrides)
        if line is not None:
            return line
    text, options = [], []
    for line in str(exc).splitlines():
        if line.startswith("Config search path:"):
            break  # where Hydra looked, not what the user can choose
        (options if line.startswith("\t") else text).append(line.strip())
    message = " ".join(t for t in text if t)
    if getattr(exc, "override", None):  # OverrideParseException: its message does not name the override
        message = f"cannot parse override '{exc.override}': {message}"
    if options:
        message += " " + ", ".join(options)
    cause = exc.__cause__
    if isinstance(cause, OmegaConfBaseException) and str(cause).strip():
        message += f" ({str(cause).strip().splitlines()[0]})"
    return message


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


@hydra_app
def hydra_main(cfg: DictConfig) -> dict:
    quiet_libraries()
    plain_cuda_check(_nvml_check_given)  # before training, in every job's process, as quiet_libraries
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    sweeping = hydra_cfg.mode == RunMode.MULTIRUN
    started = time.time()
    try:
        check_override_types(cfg, list(hydra_cfg.overrides.task), CONFIG_DIR)
        summary = train(cfg, run_dir, process_started=None if sweeping else PROCESS_STARTED)
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


def main() -> None:
    """Hydra's entry with the suite's exit codes: Hydra's own errors (an unknown group option, a
    misspelled key, a malformed override) are bad input too, one line and exit 2; Ctrl-C outside
    training is one line and 130. HYDRA_FULL_ERROR=1 still gives Hydra's full traceback. Refused input
    leaves nothing: the folders and files this invocation created are removed (src/runs/created.py)."""
    # Here too: a sweep's worker processes inherit this environment, and one that imports src.run reads it
    # as the user's own.
    plain_cuda_check(_nvml_check_given)
    forget()  # an earlier invocation in this process (the tests run many) noted its own folders
    try:
        hydra_entry()
    except SystemExit as exc:
        if exc.code == BAD_INPUT_EXIT:
            remove_created()
        raise
    except (HydraException, OmegaConfBaseException):  # HYDRA_FULL_ERROR=1: the traceback, still bad input
        remove_created()
        raise


def hydra_entry() -> None:
    """Hydra's errors as one line and exit 2 (or, with HYDRA_FULL_ERROR=1, as Hydra raises them)."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        hydra_main()
        return
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra then raises its errors instead of printing and exiting 1
    try:
        hydra_main()
    except (HydraException, OmegaConfBaseException) as exc:
        print(f"error: {hydra_error_line(exc, sys.argv[1:])}", file=sys.stderr)
        sys.exit(BAD_INPUT_EXIT)
    except KeyboardInterrupt:
        print("interrupted: Ctrl-C before training started; nothing to resume", file=sys.stderr)
        sys.exit(SIGNAL_EXIT[signal.SIGINT])
    finally:
        os.environ.pop("HYDRA_FULL_ERROR", None)


if __name__ == "__main__":
    main()
