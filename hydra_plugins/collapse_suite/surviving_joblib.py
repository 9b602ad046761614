"""Hydra's joblib launcher, made to survive a worker process that dies (SIGKILL, the out-of-memory
killer, a segfault): joblib then breaks its whole pool, loses the job that was running beside the dead
one and never starts the rest, and the sweep ends without ``sweep.json`` or its report.

Here the pool is restarted until every job has run: a job that had started (SweepReport's marker in
``<sweep dir>/.jobs/``) and left no record is recorded as failed, naming the lost worker, and the jobs
that never started are launched again in a fresh pool, with their own job numbers (their folders do not
move). A rerun of the sweep then resumes the lost jobs from their checkpoints.
``hydra/launcher=surviving_joblib`` (conf/hydra/launcher/) selects it; the studies do. It composes every
job before the first starts, in its pool (composed_jobs.py), and tells the suite's sweeper so, which then
skips its own one-by-one check (suite_sweeper.py).
NOTE: here, not in src/runs/, because Hydra instantiates launchers only from the ``hydra_plugins``
namespace package; the record helpers it shares with SweepReport stay in src/runs/sweep_callbacks.py.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
from joblib.externals.loky.process_executor import TerminatedWorkerError

from hydra_plugins.collapse_suite.composed_jobs import compose_jobs, launch_composed
from src.core.errors import ConfigError
from src.runs.record import one_line
from src.runs.sweep_callbacks import JOBS_DIR, read_record, started_run_dir, write_record


def importable(name: str) -> bool:
    """Whether the module ``name`` exists (found, not imported; its parent packages are imported)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package that does not exist
        return False


class SurvivingJoblibLauncher(JoblibLauncher):
    # Every job is composed before the first starts: the sweeper's own check would repeat it (suite_sweeper.py).
    composes_every_job = True

    def __init__(self, warm_imports: Sequence[str] = (), **joblib: Any) -> None:
        # NOTE: the base class by name, not super(): Hydra's plugin discovery can import this module twice.
        JoblibLauncher.__init__(self, **joblib)  # every other key is Parallel's
        for name in warm_imports:  # a module that does not exist is bad input, refused before any job
            if not importable(name):
                raise ConfigError(f"hydra.launcher.warm_imports: no module named {name!r}")
        # Imported by each worker in its first task (composed_jobs.py).
        self.warm_imports = tuple(warm_imports)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        jobs = Path(str(self.config.hydra.sweep.dir)) / JOBS_DIR
        configs = compose_jobs(self, job_overrides)
        returns: list[JobReturn] = []
        start = 0
        while start < len(job_overrides):
            try:
                return returns + launch_composed(self, configs[start:], initial_job_idx + start)
            except TerminatedWorkerError as error:
                lost = f"its worker process died ({one_line(error)[:160]}); the rerun resumes it"
                while start < len(job_overrides):
                    num = initial_job_idx + start
                    record = read_record(jobs, num)
                    if record is None:
                        run_dir = started_run_dir(jobs, num)
                        if run_dir is None:
                            break  # never started: the next pool runs it
                        record = {"status": "failed", "verdict": None, "error": lost, "run_dir": run_dir}
                        write_record(jobs, num, record)
                    done = JobReturn(overrides=list(job_overrides[start]), status=JobStatus.COMPLETED)
                    done.return_value = record
                    returns.append(done)
                    start += 1
        return returns
