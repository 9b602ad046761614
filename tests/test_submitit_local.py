"""Sweeps through hydra-submitit-launcher: for real on this machine with its `submitit_local` launcher (the
jobs run as submitit jobs, in their own processes), and the SLURM wiring of conf/hydra/launcher/slurm.yaml
rendered into the sbatch file submitit would submit (no cluster here)."""

import json
import os
import subprocess
import sys

import pytest
import submitit
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import OmegaConf

from tests.conftest import CONF, ROOT, TINY


@pytest.mark.slow
def test_a_two_job_sweep_runs_through_the_submitit_local_launcher(tmp_path):
    sweep = tmp_path / "sweep"
    run = subprocess.run(
        [sys.executable, "-m", "src.run", "-m", "hydra/launcher=submitit_local", "+ablation=byol,no_predictor",
         *TINY, "trainer.max_steps=2", "hydra.launcher.timeout_min=10", f"hydra.sweep.dir={sweep}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "WANDB_MODE": "offline"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    summaries = sorted(sweep.glob("*/summary.json"))
    assert len(summaries) == 2, sorted(p.name for p in sweep.iterdir())
    records = [json.loads(p.read_text()) for p in summaries]
    assert sorted(r["choices"]["ablation"] for r in records) == ["byol", "no_predictor"]
    assert all(r["row"].startswith(f"{r['choices']['ablation']}+") for r in records)  # labelled with TINY
    assert all(r["status"] == "finished" and r["steps"] == 2 for r in records)
    # submitit ran them: each job left its own pickled result and logs in the sweep's .submitit folder.
    assert len(list(sweep.glob(".submitit/*/*_result.pkl"))) == 2
    assert len(list(sweep.glob(".submitit/*/*_log.out"))) == 2


def test_slurm_launcher_asks_one_gpu_and_one_task_per_ddp_process(tmp_path, monkeypatch):
    overrides = [
        "hydra/launcher=slurm", "trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2",
        "hydra.launcher.partition=gpu", "hydra.launcher.timeout_min=720",
    ]  # fmt: skip
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    params = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)  # resolved against the job's trainer
    assert (params["gpus_per_node"], params["tasks_per_node"], params["nodes"]) == (4, 4, 2)
    # As hydra_submitit_launcher's SlurmLauncher.launch hands them to submitit: generic keys as they are,
    # the rest prefixed with the cluster's name. A fake srun lets submitit build its executor here.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "srun").write_text("#!/bin/sh\n")
    (fake_bin / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    generic = set(OmegaConf.structured(BaseQueueConf).keys())
    executor = submitit.AutoExecutor(folder=tmp_path / "submitit", cluster="slurm")
    executor.update_parameters(
        **{
            (k if k in generic else f"slurm_{k}"): v
            for k, v in params.items()
            if k not in ("_target_", "submitit_folder", "max_num_timeout")
        }
    )
    sbatch = executor._executor._make_submission_file_text("python -m src.run", "0")
    for line in ("--gpus-per-node=4", "--ntasks-per-node=4", "--nodes=2", "--partition=gpu", "--time=720"):
        assert f"#SBATCH {line}" in sbatch, line
