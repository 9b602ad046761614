"""Module tests: every ablation row trains a few steps on the embedded data and writes its record."""

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from src.job import format_summary
from src.mechanisms.ema import cosine_tau
from src.metrics.verdict import VERDICTS
from src.train import train
from tests.conftest import ROOT, ROWS, TINY

SUMMARY_KEYS = {
    "status", "row", "seed", "config_hash", "final", "reference", "verdict", "verdict_rule", "spectra", "git",
    "packages", "device", "wall_time_s", "config", "choices", "steps",
}  # fmt: skip
METRICS = {"train/loss", "collapse/z_std", "collapse/z_rank", "collapse/h_std_sqrt_d", "probe/linear_acc"}


@pytest.mark.parametrize("row", ROWS)
def test_every_row_trains_and_writes_its_summary(tiny_config, tmp_path, row):
    cfg = tiny_config(f"+ablation={row}")
    summary = train(cfg, tmp_path)
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["config_hash"] == summary["config_hash"]
    assert on_disk.keys() >= SUMMARY_KEYS
    # TINY's overrides change what is computed, so the label is the row and them (src/runs/naming.py).
    assert on_disk["row"].startswith(f"{row}+data.batch_size=64,") and on_disk["choices"]["ablation"] == row
    assert on_disk["status"] == "finished" and on_disk["steps"] == 4
    assert on_disk["final"].keys() >= METRICS
    assert METRICS - {"train/loss"} <= on_disk["reference"].keys()
    assert math.isfinite(on_disk["final"]["train/loss"])
    assert on_disk["verdict"] in VERDICTS
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()
    with open(tmp_path / "metrics.csv") as f:
        columns = next(csv.reader(f))
    assert {"train/loss", "collapse/z_rank", "probe/linear_acc", "step"} <= set(columns)


@pytest.mark.parametrize("accumulate", [1, 2])
def test_tau_is_logged_and_follows_the_schedule(tiny_config, tmp_path, accumulate):
    # Under gradient accumulation the target still moves once per optimizer step, with that step's τ.
    train(tiny_config(f"trainer.accumulate_grad_batches={accumulate}"), tmp_path)
    with open(tmp_path / "metrics.csv") as f:
        taus = [float(r["ema/tau"]) for r in csv.DictReader(f) if r.get("ema/tau")]
    # The update after optimizer step k (k = 0 … K−1) uses τ(k), BYOL's k/K with K the trainer's max_steps.
    assert taus == pytest.approx([cosine_tau(k, 4, 0.99) for k in range(4)])


def test_frozen_target_is_bit_identical_after_training(tiny_config, tmp_path):
    import torch

    from src.cli.resolvers import build
    from src.train import build_module

    cfg = tiny_config("+ablation=random_target")
    torch.manual_seed(cfg.seed)
    before = {k: v.clone() for k, v in build_module(cfg, build(cfg.data)).target.named_parameters()}
    train(cfg, tmp_path)
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    for name, value in before.items():
        assert torch.equal(state[f"target.{name}"], value), name


def test_the_summary_says_how_to_upload_an_offline_wandb_run_and_nothing_without_one(tiny_config, tmp_path):
    summary = train(tiny_config(), tmp_path)  # logger=csv: no wandb folder
    assert "wandb" not in format_summary(summary)
    offline = tmp_path / "wandb" / "offline-run-20260101_000000-abc123"  # the folder wandb writes offline
    offline.mkdir(parents=True)
    assert f"offline; upload with: wandb sync {offline}\n" in format_summary(summary)


# The entry point as `python -m src.run` runs it, printing at exit, after every other exit handler (wandb's
# telemetry flush included), each network address the process looked up or connected to.
NETWORK_WATCH = """
import atexit, json, runpy, socket, sys
seen = []
atexit.register(lambda: print("network: " + json.dumps(seen)))
lookup, connect = socket.getaddrinfo, socket.socket.connect
def watched_lookup(host, *args, **kwargs):
    seen.append(str(host))
    return lookup(host, *args, **kwargs)
def watched_connect(sock, address):
    if sock.family != socket.AF_UNIX:
        seen.append(str(address))
    return connect(sock, address)
socket.getaddrinfo, socket.socket.connect = watched_lookup, watched_connect
sys.argv = ["src/run.py", *{args}]
runpy.run_module("src.run", run_name="__main__", alter_sys=True)
"""


@pytest.mark.slow  # a fresh interpreter (about 10 s of imports) and the wandb CLI
def test_wandb_offline_run_holds_the_same_metrics_and_touches_no_network(tmp_path):
    # No WANDB_MODE: offline is the logger config's default, as for `make run`.
    cfg_overrides = [o for o in TINY if o != "logger=csv"] + ["logger=wandb", f"hydra.run.dir={tmp_path}"]
    env = {"WANDB_SILENT": "true", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-c", NETWORK_WATCH.format(args=["+ablation=no_predictor", *cfg_overrides])],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert (
        run.stdout.splitlines()[-1] == "network: []"
    )  # before the fix: wandb's telemetry looked up its server
    (run_file,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    assert f"wandb sync {run_file.parent}\n" in run.stdout  # the summary says how to upload it
    wandb_cli = Path(sys.executable).parent / "wandb"  # the environment running the tests, wherever it is
    out = subprocess.run(
        [str(wandb_cli), "leet", "inspect", "--summary", "--json", str(run_file)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert record["state"] == "finished"
    assert record["config"]["choices"]["ablation"] == "no_predictor"
    assert "no_predictor" in record["tags"]
    for key in ("collapse/z_rank", "collapse/z_std", "probe/linear_acc", "probe/knn_acc"):
        assert record["summary"][key] == pytest.approx(summary["final"][key], rel=1e-6), key


@pytest.mark.slow
def test_wandb_online_without_a_key_or_a_network_warns_once_and_the_run_finishes(tmp_path):
    # No API key, and a server address nothing listens on (loopback only): wandb must not fail the run.
    overrides = [o for o in TINY if o != "logger=csv"] + ["logger=wandb", f"hydra.run.dir={tmp_path / 'run'}"]
    env = {
        "WANDB_MODE": "online", "WANDB_BASE_URL": "http://127.0.0.1:9", "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-m", "src.run", *overrides],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning: wandb")]
    assert len(warnings) == 1 and "mirroring offline instead" in warnings[0], run.stderr[-2000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "finished" and (tmp_path / "run" / "metrics.csv").exists()
    (run_file,) = (tmp_path / "run").glob("wandb/offline-run-*/run-*.wandb")  # the mirror, to sync later
    assert f"wandb sync {run_file.parent}\n" in run.stdout
