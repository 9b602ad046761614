"""A sweep's start: its main process composes, launches and reports, and never trains: it imports neither
torch nor Lightning (seconds of start-up before the first job could start), whose import comes with the
first job, in the worker that runs it (src/job.py). The joblib launcher composes every job once, in its
pool, before the first starts (hydra_plugins/collapse_suite/composed_jobs.py)."""

import json
import os
import subprocess
import sys
from types import SimpleNamespace
from unittest import mock

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from hydra_plugins.collapse_suite.suite_sweeper import SuiteSweeper
from hydra_plugins.collapse_suite.surviving_joblib import SurvivingJoblibLauncher
from src.cli.app import HYDRA_VERSION_BASE
from src.core.paths import CONFIG_DIR
from tests.conftest import ROOT, TINY

HEAVY = ("torch", "pytorch_lightning", "lightning_fabric")
# The entry point as `python -m src.run` runs it, reporting at exit which heavy packages this process
# (the sweep's main process; the workers are processes of their own) imported; with multiprocessing's log
# on stderr at INFO, which loky's workers inherit (they log there when they shut down).
MAIN = """
import atexit, json, logging, multiprocessing.util, runpy, sys
multiprocessing.util.log_to_stderr(logging.INFO)
atexit.register(lambda: print(json.dumps(sorted(m for m in {heavy} if m in sys.modules))))
sys.argv = ["src/run.py", *{args}]
runpy.run_module("src.run", run_name="__main__", alter_sys=True)
"""


@pytest.mark.slow  # two worker processes, each importing torch and Lightning
def test_a_sweeps_main_process_imports_neither_torch_nor_lightning_and_its_workers_last(tmp_path):
    """Nor is a worker replaced after its first job: loky takes a worker's memory after its first task as
    its reference and replaces one that grows by 300 MB, as importing torch does; the workers import the
    job's modules in their first task (warm_imports, composed_jobs.py). Before: "Memory leak detected"
    from both workers, each started again and imported everything again (~6 s)."""
    args = [
        "-m", "hydra/launcher=surviving_joblib", "hydra.launcher.n_jobs=2", *TINY, "trainer.max_steps=1",
        "seed=0,1,2,3", f"hydra.sweep.dir={tmp_path}",
    ]  # fmt: skip
    code = MAIN.format(heavy=HEAVY, args=args)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "WANDB_MODE": "offline"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-2].startswith("sweep: 4 runs, 0 failed")
    assert json.loads(done.stdout.splitlines()[-1]) == []
    jobs = json.loads((tmp_path / "sweep.json").read_text())["jobs"]
    assert [j["status"] for j in jobs] == ["finished"] * 4  # the workers did train
    assert "LokyProcess" in done.stderr  # the workers' log reached stderr
    assert "Memory leak detected" not in done.stderr


def test_the_suites_sweeper_leaves_the_composition_check_to_a_launcher_that_composes_every_job():
    """Hydra's basic sweeper composes every job in the main process to check it: the suite's skips that
    only for a launcher that composes them all itself before the first starts."""
    for launcher, checks in ((SurvivingJoblibLauncher(n_jobs=2), False), (object(), True)):
        # The sweeper's state as Hydra sets it up (an instance is not made: in a process where Hydra's
        # plugin discovery has imported the plugins again, the base's __init__ refuses a stale class).
        sweeper = SimpleNamespace(config=OmegaConf.create({}), launcher=launcher, hydra_context=mock.Mock())
        SuiteSweeper.validate_batch_is_legal(sweeper, [["seed=0"], ["seed=1"]])
        assert sweeper.hydra_context.config_loader.load_sweep_config.call_count == (2 if checks else 0)


def test_every_invocation_sweeps_with_the_suites_sweeper():
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=HYDRA_VERSION_BASE):
        cfg = compose("config", overrides=["+study=tau_sweep"], return_hydra_config=True)
    assert cfg.hydra.sweeper._target_ == f"{SuiteSweeper.__module__}.{SuiteSweeper.__qualname__}"


def refused_joblib_sweep(tmp_path, *args: str) -> str:
    """A joblib sweep of ``args`` that must be refused before any job starts: exit 2, one ``error:`` line,
    no traceback, no sweep folder. Returns that line."""
    sweep = tmp_path / "sweep"
    command = ["-m", "hydra/launcher=surviving_joblib", *TINY, *args, f"hydra.sweep.dir={sweep}"]
    done = subprocess.run(
        [sys.executable, "-m", "src.run", *command], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "WANDB_MODE": "offline"},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-3000:]
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("error: "), done.stderr[-3000:]
    assert not sweep.exists()
    return done.stderr


@pytest.mark.slow  # a worker pool starts
def test_a_joblib_sweep_whose_last_job_does_not_compose_is_refused_before_any_job_starts(tmp_path):
    """The pool composes every job first; the one that does not compose is refused with Hydra's own error
    (composed again in the main process), exit 2, before any job started: no run folder, no sweep folder."""
    line = refused_joblib_sweep(
        tmp_path, "hydra.launcher.n_jobs=2", "trainer.max_steps=1", "+ablation=byol,no_stopgrad,no_predicter"
    )
    assert "did you mean no_predictor?" in line


def test_a_warm_import_that_does_not_exist_is_refused_before_any_job_starts(tmp_path):
    line = refused_joblib_sweep(tmp_path, "seed=0,1", "hydra.launcher.warm_imports=[src.job,src.nope]")
    assert "hydra.launcher.warm_imports: no module named 'src.nope'" in line
