"""Hydra callbacks of every invocation (registered in conf/hydra/default.yaml).

- ``WritableOutputDir``: an output folder that cannot be written is one "error: …" line and exit 2,
  before Hydra's own attempt fails with a traceback; before creating the folder it notes what exists, so
  that refused input removes what this invocation created (src/runs/created.py).
- ``SweepReport``: a progress line as each job ends ("[done/N] status: row=… seed=… → run dir"), a
  marker as each starts and one record per job in ``<sweep dir>/.jobs/`` (written by the job's own
  process, so any launcher works; a job lost with its worker is recorded by the launcher), and at the end
  ``<sweep dir>/sweep.json`` (which then holds the records: ``.jobs/`` goes) and one line "sweep: N runs,
  F failed, D diverged, C collapsed (see …)"; exit 1 if any run failed. A refused job's folder is removed
  (src/runs/created.py). A sweep whose every job was refused as bad input trained nothing: it is bad input
  itself (each job printed its "error: …" line), exit 2, with no sweep.json. Hydra calls
  ``on_multirun_end`` in reverse order of registration, so the callbacks a study adds after this one still
  run before it exits (a study's callback writes nothing when every job was refused: ``every_job_refused``).
"""

import json
import shutil
import sys
import tempfile
from pathlib import Path

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from src.core.errors import BAD_INPUT_EXIT
from src.metrics.verdict import COLLAPSE_VERDICTS
from src.runs.atomic import write_json_atomic, write_text_atomic
from src.runs.created import note_file, note_folder, remove_folder
from src.runs.record import one_line

JOBS_DIR = ".jobs"
SWEEP_FILE = "sweep.json"
# NOTE: Hydra 1.3 has no public path to its basic sweeper (Hydra's default hydra/sweeper, the base of the
# suite's): a config names it by its internal module (hydra._internal.core_plugins.basic_sweeper), and
# ``sweep_jobs`` counts the jobs with the sweeper's own product of the overrides
# (``BasicSweeper.split_arguments``), so that the count is what it runs. This module and the suite's
# sweeper (hydra_plugins/collapse_suite/suite_sweeper.py) are the suite's only users of that private path.
BASIC_SWEEPER = f"{BasicSweeper.__module__}.{BasicSweeper.__qualname__}"
# NOTE: the file Hydra's basic sweeper writes into the sweep folder before the first job (a literal there).
SWEEP_CONFIG = "multirun.yaml"


def require_writable(folder: Path, key: str) -> None:
    note_folder(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        print(f"error: output folder {folder} ({key}) is not writable: {error.strerror}", file=sys.stderr)
        sys.exit(BAD_INPUT_EXIT)


class WritableOutputDir(Callback):
    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        self._check(config, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        folder = self._check(config, "hydra.sweep.dir")
        note_file(folder / SWEEP_CONFIG)

    def _check(self, config: DictConfig, key: str) -> Path:
        # Hydra sets its config only when the job starts; the folder's name may need it (${row}).
        HydraConfig.instance().set_config(config)
        folder = Path(OmegaConf.select(config, key))
        require_writable(folder, key)
        return folder


def sweep_jobs(config: DictConfig) -> list[list[str]] | None:
    """The jobs the basic sweeper (or a subclass, as the suite's) makes of this invocation, each as its list
    of overrides (its own product of the sweep overrides and ``hydra.sweeper.params``); None for another
    sweeper or a sweep it refuses. Needs Hydra initialised (its config loader expands ``glob``)."""
    if not basic_sweeper(OmegaConf.select(config, "hydra.sweeper._target_")):
        return None
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    arguments = [f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task)
    parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
    try:
        return BasicSweeper.split_arguments(parser.parse_overrides(arguments), None)[0]
    except Exception:  # the sweeper itself reports a bad sweep; the jobs are only for progress lines
        return None


def basic_sweeper(target: str | None) -> bool:
    """Whether a sweeper's ``_target_`` is the basic sweeper or a subclass of it. NOTE: by name, not
    ``issubclass``: Hydra's plugin discovery can import its modules a second time, and the class a subclass
    derives from is then another object than this module's ``BasicSweeper``."""
    try:
        ancestry = get_class(target).__mro__ if target else ()
    except Exception:  # a target that does not import: not a sweeper whose jobs this can count
        return False
    return any(f"{c.__module__}.{c.__qualname__}" == BASIC_SWEEPER for c in ancestry)


def count_jobs(config: DictConfig) -> int | None:
    """How many jobs the basic sweeper makes of this invocation; None when ``sweep_jobs`` cannot tell."""
    jobs = sweep_jobs(config)
    return None if jobs is None else len(jobs)


def tally(jobs: list[dict]) -> dict:
    return {
        "runs": len(jobs),
        "failed": sum(j["status"] == "failed" for j in jobs),
        "diverged": sum(j["status"] == "diverged" for j in jobs),
        "collapsed": sum(j["status"] == "finished" and j["verdict"] in COLLAPSE_VERDICTS for j in jobs),
    }


def write_record(jobs: Path, num: int, record: dict) -> None:
    jobs.mkdir(parents=True, exist_ok=True)
    write_json_atomic(jobs / f"{num}.json", {"job": num, **record})


def read_record(jobs: Path, num: int) -> dict | None:
    path = jobs / f"{num}.json"
    return json.loads(path.read_text()) if path.exists() else None


def started_run_dir(jobs: Path, num: int) -> str | None:
    """The run folder of job ``num`` if it started (its marker exists), else None."""
    path = jobs / f"{num}.started"
    return path.read_text() if path.exists() else None


def job_records(sweep_dir: Path) -> list[dict]:
    """The record of every job of this sweep that ended, in job order."""
    records = (json.loads(p.read_text()) for p in (Path(sweep_dir) / JOBS_DIR).glob("*.json"))
    return sorted(records, key=lambda j: j["job"])


def every_job_refused(jobs: list[dict]) -> bool:
    """Whether the sweep's input was refused in every job: nothing ran, so nothing may be written."""
    return bool(jobs) and all(job.get("bad_input") for job in jobs)


class SweepReport(Callback):
    def __init__(self):
        self.total: int | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        shutil.rmtree(Path(config.hydra.sweep.dir) / JOBS_DIR, ignore_errors=True)  # an earlier sweep's
        self.total = count_jobs(config)

    def on_job_start(self, config: DictConfig, **kwargs) -> None:
        if config.hydra.mode != RunMode.MULTIRUN:
            return
        # The launcher (hydra_plugins/collapse_suite/surviving_joblib.py) tells a job lost with its worker from one never started.
        jobs = Path(config.hydra.sweep.dir) / JOBS_DIR
        jobs.mkdir(parents=True, exist_ok=True)
        write_text_atomic(jobs / f"{config.hydra.job.num}.started", config.hydra.runtime.output_dir)

    def on_job_end(self, config: DictConfig, job_return, **kwargs) -> None:
        if config.hydra.mode != RunMode.MULTIRUN:
            return
        try:
            record = job_return.return_value
        except Exception as error:  # one src.run could not record (a full disk): the sweep stops after it
            record = {"status": "failed", "verdict": None, "error": one_line(error)}
            record["run_dir"] = config.hydra.runtime.output_dir
        jobs = Path(config.hydra.sweep.dir) / JOBS_DIR
        write_record(jobs, config.hydra.job.num, record)
        # Printed when the job is done, counting the jobs done (parallel jobs finish in any order).
        done = len(list(jobs.glob("*.json")))
        position = f"{done}/{self.total}" if self.total else f"{done}"
        print(
            f"[{position}] {record['status']}: row={config.row} seed={config.seed} → {record['run_dir']}",
            flush=True,
        )

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = job_records(sweep_dir)
        refused = [job for job in jobs if job.get("bad_input")]  # a launcher's record of a lost job has none
        for job in refused:
            remove_folder(job["run_dir"])
        if every_job_refused(jobs):
            shutil.rmtree(sweep_dir / JOBS_DIR)
            sys.exit(BAD_INPUT_EXIT)  # src/run.py's main then removes the rest of what this sweep created
        counts = tally(jobs)
        write_json_atomic(sweep_dir / SWEEP_FILE, {**counts, "jobs": jobs})
        shutil.rmtree(sweep_dir / JOBS_DIR)  # so a refused rerun finds none of this sweep's files to remove
        for job in jobs:
            if job["status"] == "failed":
                print(f"failed: {job['run_dir']}: {job['error']}", file=sys.stderr)
        print(
            f"sweep: {counts['runs']} runs, {counts['failed']} failed, {counts['diverged']} diverged, "
            f"{counts['collapsed']} collapsed (see {sweep_dir / SWEEP_FILE})",
            flush=True,
        )
        if counts["failed"]:
            sys.exit(1)
