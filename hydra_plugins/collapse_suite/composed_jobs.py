"""Every job of a joblib sweep composed once, by the worker pool, before the first job starts.

Hydra's basic sweeper composes each job in the main process, one after another, only to check that it
composes (``Sweeper.validate_batch_is_legal``), and the joblib launcher's worker composes it again when it
runs it (hydra_joblib_launcher/_core.py ``execute_job``): for the collapse table's 160 jobs 16.6 s in the
main process before any worker starts, then ~0.1 s at the start of every job (idle 2-core Intel Xeon). Here
the pool composes every job once, a share of them on each worker (10.4 s, the pool's start included), and
each job runs the config composed for it. A job that does not compose stops the sweep before any job
starts, with Hydra's own error: the main process composes that job again, so the exception is the one the
basic sweeper would raise (an exception pickled back from a worker can lose its fields). The composed
config is the one Hydra's launcher would compose in the worker: nothing a run computes changes (a study
re-run before and after: every metrics.csv bitwise).

The composition share is also where a worker imports what its jobs will (the launcher's ``warm_imports``):
loky measures a worker's memory after its first task and replaces a worker whose memory then grows by more
than 300 MB (joblib/externals/loky/process_executor.py, ``_MAX_MEMORY_LEAK_SIZE``), which importing torch
and Lightning does (~800 MB resident). With the composition as that first task and the imports after it,
each worker was replaced after its first job and the new one imported everything again: ~6 s before the
third job started (2-core Intel Xeon). Imported in the first task, they are in loky's reference.
"""

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, run_job, setup_globals
from hydra.types import HydraContext, TaskFunction
from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
from joblib import Parallel, delayed, effective_n_jobs
from omegaconf import DictConfig, open_dict

from hydra_plugins.collapse_suite.worker_memory import release_freed_memory, settle_imports


def joblib_settings(launcher: JoblibLauncher) -> dict[str, Any]:
    """``Parallel``'s arguments from the launcher's config, as the plugin's ``launch`` makes them (loky: the
    threading backend is incompatible with Hydra), without changing the launcher's own copy."""
    settings = {**launcher.joblib, "backend": "loky"}
    process_joblib_cfg(settings)
    return settings


def compose_share(
    hydra_context: HydraContext,
    master: DictConfig,
    shares: Sequence[Sequence[str]],
    singleton_state: dict,
    warm_imports: Sequence[str],
) -> list[DictConfig | None]:
    """In a worker: the config of each job of its share (a list of jobs' overrides), None for a job that
    does not compose (the main process then composes it again and raises Hydra's error); the modules
    ``warm_imports`` imported, as the worker's jobs will import them."""
    for module in warm_imports:
        importlib.import_module(module)
    settle_imports()
    setup_globals()
    Singleton.set_state(singleton_state)
    configs: list[DictConfig | None] = []
    for overrides in shares:
        try:
            configs.append(hydra_context.config_loader.load_sweep_config(master, list(overrides)))
        except Exception:
            configs.append(None)
    return configs


def compose_jobs(launcher: JoblibLauncher, job_overrides: Sequence[Sequence[str]]) -> list[DictConfig]:
    """Every job's config, composed side by side in the launcher's pool, one share of the jobs per worker
    (NOTE: not one task per job: each task carries Hydra's context and the primary config to its worker,
    which for the collapse table's 160 jobs cost more than composing them); raises the composition error
    of the first job that does not compose, before any job has started."""
    settings = joblib_settings(launcher)
    workers = min(effective_n_jobs(settings["n_jobs"]), len(job_overrides))
    state = Singleton.get_state()
    context, master = launcher.hydra_context, launcher.config
    shares = Parallel(**settings)(
        delayed(compose_share)(context, master, job_overrides[k::workers], state, launcher.warm_imports)
        for k in range(workers)
    )
    configs: list[DictConfig | None] = [None] * len(job_overrides)
    for k, share in enumerate(shares):
        configs[k::workers] = share
    for index, config in enumerate(configs):
        if config is None:  # raises as the basic sweeper's check would
            configs[index] = context.config_loader.load_sweep_config(master, list(job_overrides[index]))
    return configs


def execute_composed(
    idx: int,
    sweep_config: DictConfig,
    hydra_context: HydraContext,
    task_function: TaskFunction,
    singleton_state: dict,
) -> JobReturn:
    """In a worker: the plugin's ``execute_job`` for a job whose config is composed already; what the job
    freed is given back to the operating system after it (worker_memory.py)."""
    setup_globals()
    Singleton.set_state(singleton_state)
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
        sweep_config.hydra.job.num = idx
    HydraConfig.instance().set_config(sweep_config)
    try:
        return run_job(
            hydra_context=hydra_context,
            config=sweep_config,
            task_function=task_function,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
    finally:  # before loky measures the worker's memory (worker_memory.py)
        release_freed_memory()


def launch_composed(
    launcher: JoblibLauncher, configs: Sequence[DictConfig], initial_job_idx: int
) -> list[JobReturn]:
    """The plugin's ``launch`` for jobs whose configs are composed already (``compose_jobs``); the jobs
    are numbered from ``initial_job_idx``."""
    setup_globals()
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    Path(str(launcher.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    state = Singleton.get_state()
    context, task = launcher.hydra_context, launcher.task_function
    return Parallel(**joblib_settings(launcher))(
        delayed(execute_composed)(initial_job_idx + i, config, context, task, state)
        for i, config in enumerate(configs)
    )
