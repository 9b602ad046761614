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
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from src.cli.app import answer_help, hydra_app  # noqa: E402  (light: Hydra and the help text, no torch)

if __name__ == "__main__":  # help exits here, before Hydra composes anything
    answer_help(sys.argv[1:])

# Light too: a sweep's main process composes, launches and reports; torch and Lightning come with the
# first job (src/job.py), in the process that runs it.
from hydra.errors import HydraException, MissingConfigException  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from omegaconf.errors import OmegaConfBaseException  # noqa: E402

import src.cli.resolvers  # noqa: E402, F401  (registers `choice`, `row_label`, `folder`)
from src.core.errors import BAD_INPUT_EXIT, SIGNAL_EXIT  # noqa: E402
from src.runs.created import forget, remove_created  # noqa: E402


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


@hydra_app
def hydra_main(cfg: DictConfig) -> dict:
    # NOTE: imported here, by the process that runs the job: a sweep's main process never imports it.
    from src.job import run_job

    return run_job(cfg, PROCESS_STARTED)


def main() -> None:
    """Hydra's entry with the suite's exit codes: Hydra's own errors (an unknown group option, a
    misspelled key, a malformed override) are bad input too, one line and exit 2; Ctrl-C outside
    training is one line and 130. HYDRA_FULL_ERROR=1 still gives Hydra's full traceback. Refused input
    leaves nothing: the folders and files this invocation created are removed (src/runs/created.py)."""
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
