"""wandb is a mirror of the run directory, never a reason for a run to fail. ``start_mirror`` starts the
wandb run itself (rather than letting Lightning start it lazily inside ``fit``) so that its start is
bounded and its failure handled: online without an API key, without a network, or with the server
down, it waits at most INIT_TIMEOUT_S, prints one warning line, and mirrors offline instead (``wandb
sync`` uploads it later); the CSV record in the run directory is complete either way."""

import sys
from pathlib import Path

from src.runs.files import WANDB_DIR
from src.runs.record import one_line

INIT_TIMEOUT_S = 10  # wandb's own default is 90 s, and it retries on top of that
# NOTE: x_save_requirements off: wandb would list every installed distribution into the run's
# requirements.txt at every start (importlib.metadata, ~0.07 s a run, 11 s of a 160-run study's CPU); the
# versions that decide the numbers are in the run's own record (summary.json `packages`, src/runs/record.py).
SETTINGS = {
    "silent": True,
    "console": "off",
    "x_disable_stats": True,
    "x_save_requirements": False,
    "init_timeout": INIT_TIMEOUT_S,
}
# NOTE: wandb's name for the folder of a run written offline (wandb/offline-run-<time>-<id>/), not an API.
OFFLINE_RUN = "offline-run-*"


def offline_runs(run_dir: Path) -> list[Path]:
    """The offline wandb runs under a run directory, oldest first (a resumed run adds one per attempt,
    all with the run's id): what ``wandb sync`` uploads."""
    return sorted((run_dir / WANDB_DIR).glob(OFFLINE_RUN))


def init_in_mode(wandb, mode: str, **init_kwargs):
    """``wandb.init`` in ``mode``, with the process's wandb settings in that mode too. NOTE: wandb (0.31)
    decides whether to send its own usage telemetry (OpenTelemetry, to its server) from the process-wide
    settings, not the run's: an offline run in a process without WANDB_MODE would still look up its server
    (api.forge.coreweave.com) and post to it at exit. ``wandb.setup`` puts the process in the run's mode first; offline sends nothing
    (tests/test_train.py)."""
    wandb.setup(settings=wandb.Settings(mode=mode))
    return wandb.init(mode=mode, settings=wandb.Settings(**SETTINGS), **init_kwargs)


def start_mirror(mode: str, **init_kwargs):
    """``wandb.init(mode=mode, **init_kwargs)``, falling back to offline with one warning if it fails."""
    import wandb

    try:
        return init_in_mode(wandb, mode, **init_kwargs)
    except Exception as error:
        if mode == "offline":
            raise
        print(
            f"warning: wandb could not start {mode} ({one_line(error)}); mirroring offline instead "
            f"(upload later with `wandb sync {Path(init_kwargs['dir']) / WANDB_DIR / OFFLINE_RUN}`)",
            file=sys.stderr,
            flush=True,
        )
        wandb.teardown()  # the failed run still holds its id in wandb's service process
        return init_in_mode(wandb, "offline", **init_kwargs)
