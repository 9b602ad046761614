"""Sweeps that survive: collapse and divergence are results, an exception in one run is recorded as a
failure and the other runs still run; the sweep's exit code and last line say how many failed. The sweep
runs in a child process, as from the command line (`python -m src.run -m …`)."""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch
from hydra import initialize_config_dir
from omegaconf import OmegaConf

from src.metrics.divergence import Diverged
from src.metrics.monitor import CollapseMonitor, encode
from src.runs.sweep_callbacks import BASIC_SWEEPER, count_jobs
from src.train import train
from tests.conftest import CONF, ROOT, TINY
from tests.run_cli import Child, run_cli

# A row that collapses within a few steps: two networks trained only to agree (no stop-gradient, no
# predictor) at a large constant rate. NOTE: with the MLP predictor left in, p keeps a small but
# informative variation (centred cosine gap above its threshold) and the verdict is honestly borderline.
COLLAPSING = [
    "+ablation=no_stopgrad", "model/predictor=identity", "optimizer.lr=0.1", "optimizer.warmup_fraction=0", "optimizer.schedule=constant",
    "trainer.max_steps=10",  # 6 left z's spread inside the verdict's band (borderline); 10 collapses clearly
]  # fmt: skip


def summary(run_dir) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


@pytest.mark.slow
def test_a_sweep_with_a_collapsing_a_diverging_and_failing_runs_records_every_run(tmp_path):
    # 4 jobs: no hook (collapses), NaN loss at step 3, an exception at step 2 (twice: with and without NaN).
    sweep = ["debug.fail_at_step=null,2", "debug.nan_at_step=null,3"]
    code, out, err = Child(["-m", *TINY, *COLLAPSING, *sweep, f"hydra.sweep.dir={tmp_path}"]).finish()
    assert code == 1, err[-3000:]
    final_line = f"sweep: 4 runs, 2 failed, 1 diverged, 1 collapsed (see {tmp_path / 'sweep.json'})"
    assert out.splitlines()[-1] == final_line
    # One line as each job ends; the label names the row and the overrides that change what is run.
    progress = re.findall(r"^\[(\d)/4\] (\w+): row=no_stopgrad\+\S+ seed=0 → (.+)$", out, re.MULTILINE)
    assert [(int(i), status) for i, status, _ in progress] == [
        (1, "finished"), (2, "diverged"), (3, "failed"), (4, "failed"),
    ]  # fmt: skip
    runs = [summary(Path(run_dir)) for _, _, run_dir in progress]
    assert [Path(r["run_dir"]).name.split("_")[0] for r in runs] == ["0", "1", "2", "3"]
    collapsed, diverged, *failed = runs
    assert collapsed["status"] == "finished" and collapsed["verdict"] == "complete_collapse"
    assert collapsed["final"]["train/loss"] < 0.1  # the loss went (almost) to zero, and the run finished
    assert diverged["status"] == "diverged" and diverged["diverged_at_step"] == 3 and diverged["steps"] == 3
    assert diverged["error"] == "the training loss is nan at step 3"
    for run in failed:
        assert run["status"] == "failed"
        assert run["error"] == "RuntimeError: debug.fail_at_step=2: deliberate failure (test hook)"
        assert "Traceback" in (tmp_path / run["run_dir"] / run["traceback_file"]).read_text()
    # Their rows reach metrics.csv however they end (written when fitting ends, src/runs/metrics_csv.py).
    assert loss_steps(tmp_path / diverged["run_dir"]) == ["0", "1", "2"]
    for run in failed:
        assert loss_steps(tmp_path / run["run_dir"]) == ["0", "1"]
    recorded = json.loads((tmp_path / "sweep.json").read_text())
    assert [j["status"] for j in recorded["jobs"]] == ["finished", "diverged", "failed", "failed"]


def loss_steps(run_dir: Path) -> list[str]:
    """The steps of a run's metrics.csv rows that hold a training loss."""
    with open(run_dir / "metrics.csv", newline="") as f:
        return [row["step"] for row in csv.DictReader(f) if row["train/loss"]]


def test_a_learning_rate_too_large_diverges_cleanly(tiny_config, tmp_path):
    cfg = tiny_config("optimizer=sgd", "optimizer.lr=1e30")
    result = train(cfg, tmp_path)
    assert result["status"] == "diverged" and result["diverged_at_step"] == 1
    assert result["error"] == "the training loss is nan at step 1"
    assert summary(tmp_path)["status"] == "diverged"
    assert result["reference"]["probe/linear_acc"] > 0  # the random-init reference is still recorded


def test_non_finite_representations_are_a_divergence_not_a_crash():
    class NonFinite:
        device = torch.device("cpu")
        measured = ("h", "z")

        def forward_view(self, x, with_target=True):
            return {"h": x, "z": x / 0, "p": x / 0}  # z: inf

    datamodule = mock.Mock(to_model_input=lambda x: x)
    with pytest.raises(Diverged, match="the z representation of held-out data is not finite"):
        encode(NonFinite(), datamodule, torch.ones(4, 2), batch_size=2)


def test_a_failed_run_is_recorded_exits_1_and_the_same_command_resumes_it(tmp_path):
    run = [*TINY, f"hydra.run.dir={tmp_path}"]
    with mock.patch.object(CollapseMonitor, "on_train_end", side_effect=MemoryError("out of memory")):
        code, _, err = run_cli(run)
    assert code == 1 and "MemoryError: out of memory" in err
    failed = summary(tmp_path)
    assert failed["status"] == "failed" and failed["error"] == "MemoryError: out of memory"
    assert "MemoryError" in (tmp_path / "traceback.txt").read_text()
    code, _, err = run_cli(run)  # the failure was transient: the rerun resumes, it does not skip
    assert code == 0, err
    assert summary(tmp_path)["status"] == "finished" and summary(tmp_path)["resumed_from_step"] == 2
    assert not (tmp_path / "traceback.txt").exists()


@pytest.mark.parametrize(
    "sweeper", [BASIC_SWEEPER, "hydra_plugins.collapse_suite.suite_sweeper.SuiteSweeper"]
)
def test_the_job_count_of_the_progress_lines_includes_the_sweepers_params(sweeper):
    config = OmegaConf.create(
        {
            "hydra": {
                "sweeper": {"_target_": sweeper, "params": {"+ablation": "glob(no_*)"}},
                "overrides": {"task": ["seed=0,1", "trainer.max_steps=4"]},
            }
        }
    )
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        no_rows = len(list((CONF / "ablation").glob("no_*.yaml")))
        assert count_jobs(config) == no_rows * 2


def cli(args: list[str]) -> tuple[int, str, str]:
    """A fresh interpreter, as from the shell: joblib's worker pool must not be one inherited by a fork."""
    env = {**os.environ, "WANDB_MODE": "offline"}
    done = subprocess.run(
        [sys.executable, "-m", "src.run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.slow
def test_a_killed_joblib_worker_is_recorded_as_failed_the_other_jobs_run_and_the_rerun_resumes(tmp_path):
    # Job 1 SIGKILLs its worker at step 3 (after its checkpoint at step 2), like the out-of-memory killer.
    sweep = [
        "-m", "hydra/launcher=surviving_joblib", "hydra.launcher.n_jobs=2", *TINY,
        "trainer.max_steps=6", f"hydra.sweep.dir={tmp_path}", "hydra.sweep.subdir=job${hydra.job.num}",
    ]  # fmt: skip
    code, out, err = cli([*sweep, "debug.kill_at_step=null,3,null,null"])
    assert code == 1, err[-3000:]
    recorded = json.loads((tmp_path / "sweep.json").read_text())
    statuses = [j["status"] for j in recorded["jobs"]]
    assert len(statuses) == 4 and statuses[1] == "failed"
    assert recorded["jobs"][1]["error"].startswith("its worker process died")
    # The job beside the dead one may be lost with the pool; the jobs not yet started ran in a fresh one.
    # Which jobs those are depends on the order the two workers took them in (under load, one worker can
    # run jobs 0, 2 and 3 before the other reaches job 1's step 3), so every job is asserted to be a
    # result or recorded as lost, none missing.
    for job in recorded["jobs"]:
        assert job["status"] == "finished" or "worker process died" in job["error"], job
    assert out.splitlines()[-1].startswith(f"sweep: 4 runs, {statuses.count('failed')} failed")
    assert not (tmp_path / "job1" / "summary.json").exists()
    # The same command again: the finished jobs are skipped, the lost ones resume and finish.
    code, out, err = cli([*sweep, "debug.kill_at_step=null,3,null,null"])
    assert code == 0, err[-3000:]
    assert out.splitlines()[-1].startswith("sweep: 4 runs, 0 failed")
    assert summary(tmp_path / "job1")["resumed_from_step"] == 2
