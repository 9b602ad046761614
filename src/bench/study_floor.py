"""The compute floor of a study: what its runs' training steps and measurements alone cost. The study floor
benchmark (benchmarks/study_floor.py) times each distinct run of a study in the plain loop and packs the
times onto the study's workers; this is what it counts with, each piece checked against what a study really
runs (tests/test_study_floor.py)."""

import time
from collections import Counter

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import open_dict

from src.bench.plain_loop import PlainLoop
from src.cli.compose import compose_config
from src.core.paths import CONFIG_DIR
from src.metrics.monitor import measure, measurement_interval
from src.runs.sweep_callbacks import sweep_jobs

EXTRA = ["logger=csv"]  # what the floor's runs log does not matter: nothing is logged


def study_runs(study: str) -> list[tuple[tuple[str, ...], int]]:
    """The study's distinct runs, as (overrides without the seed, number of seeds), in sweep order: the seed
    does not change what a run costs."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"+study={study}"], return_hydra_config=True)
        jobs = sweep_jobs(cfg)  # inside: the sweeper's parser needs Hydra initialised (glob)
    if jobs is None:
        raise SystemExit(f"study {study}: its sweep could not be expanded (hydra.sweeper.params)")
    seeds = Counter(tuple(o for o in job if not o.startswith("seed=")) for job in jobs)
    return list(seeds.items())


def measurements_per_run(max_steps: int, every: int) -> int:
    """As the collapse monitor: before the first step, every ``every`` steps, and once at the end."""
    return 1 + max_steps // every + (1 if max_steps % every else 0)


def time_run(overrides: tuple[str, ...], warmup: int, steps: int) -> dict:
    """One run of a study in the plain loop: its real budget (steps, measurements) and the cost of one
    step (wall time, clocked after ``warmup`` steps over ``steps``) and of one measurement."""
    cfg = compose_config([*EXTRA, *overrides, "seed=0"])  # the job's overrides name the study
    max_steps = int(cfg.trainer.max_steps)
    every = measurement_interval(cfg.metrics.every_n_steps, max_steps)
    with open_dict(cfg):
        # The cost of a step does not depend on the run's length; the clock stops as the last step starts.
        cfg.trainer.max_steps = warmup + steps + 1
    plain = PlainLoop(cfg)
    wall, _ = plain.run(warmup, steps)
    start = time.perf_counter()
    measure(plain.module, plain.datamodule, cfg.metrics)
    return {
        "overrides": list(overrides),
        "max_steps": max_steps,
        "measurements": measurements_per_run(max_steps, every),
        "ms_per_step": 1e3 * wall,
        "s_per_measurement": time.perf_counter() - start,
    }


def floor_seconds(rows: list[dict], jobs: int) -> tuple[float, float]:
    """(training, measurements) seconds of ``rows`` (``time_run``'s, with their ``seeds``) perfectly packed
    on ``jobs`` workers."""
    train = sum(r["seeds"] * r["max_steps"] * r["ms_per_step"] / 1e3 for r in rows) / jobs
    meas = sum(r["seeds"] * r["measurements"] * r["s_per_measurement"] for r in rows) / jobs
    return train, meas
