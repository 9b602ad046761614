"""Reproducible: the same config and seed, run twice on the CPU, give bit-identical per-step metrics,
summaries and weights; and every summary holds what is needed to run it again."""

from importlib import metadata

import pytest
import torch
from omegaconf import OmegaConf

from src.runs.record import config_hash
from src.train import train
from tests.conftest import TINY, compose_config

STEREO_TINY = TINY
DIGITS_TINY = [o for o in TINY if not o.startswith("data.")] + ["data=digits", "data.batch_size=64"]
# What may differ between two runs of one config: where and how long.
NOT_COMPARED = ("run_dir", "wall_time_s")

RERUNS = {
    "byol (EMA target)": [*STEREO_TINY, "+ablation=byol"],
    "ensemble of random-weighted random targets": [
        *STEREO_TINY, "+ablation=ensemble_target", "model.target.weights=random",
    ],
    "simclr (negatives) on digits (random augmentations)": [*DIGITS_TINY, "+ablation=simclr"],
}  # fmt: skip


@pytest.mark.parametrize("name", RERUNS)
def test_a_rerun_is_bit_identical(tmp_path, name):
    summaries, metrics, weights = [], [], []
    for attempt in ("first", "second"):
        run_dir = tmp_path / attempt
        summary = train(compose_config(RERUNS[name], run_dir), run_dir)
        summaries.append({k: v for k, v in summary.items() if k not in NOT_COMPARED})
        metrics.append((run_dir / "metrics.csv").read_bytes())
        weights.append(torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"])
    assert metrics[0] == metrics[1]
    assert summaries[0] == summaries[1]
    assert weights[0].keys() == weights[1].keys()
    for key in weights[0]:
        assert torch.equal(weights[0][key], weights[1][key]), key


def test_a_summary_holds_what_it_takes_to_run_it_again(tmp_path):
    overrides = [*STEREO_TINY, "+ablation=simsiam", "seed=3", "trainer.max_steps=1"]
    summary = train(compose_config(overrides, tmp_path), tmp_path)
    assert summary["seed"] == 3 and summary["config"]["seed"] == 3
    assert summary["git"].keys() == {"commit", "dirty"}
    assert summary["packages"]["torch"] == metadata.version("torch")
    assert summary["device"].startswith("cpu:")
    assert summary["choices"]["ablation"] == "simsiam"
    # The recorded overrides compose the very same config again.
    again = compose_config(summary["overrides"], tmp_path / "again")
    assert config_hash(OmegaConf.to_container(again, resolve=True)) == summary["config_hash"]
