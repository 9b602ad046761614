"""The speed work changes how a run is executed, never what it records (benchmarks/loop_overhead.py).

- ``self.log`` only on the steps Lightning writes to the loggers: ``metrics.csv`` and the summary are
  byte-identical to a run that logs every step and whose divergence guard reads ``callback_metrics``
  (the path before the change, restored here by monkeypatching).
- The final measurement is taken once (a row at step ``max_steps``, not two); the linear probe can be
  thinned out (``metrics.probe_every_n_steps``, off by default) without touching the other metrics.
- The entry point drops Lightning's NVML-based CUDA check only where no GPU is present.
- A run switches off torch's fill of new tensors under deterministic algorithms (src/train.py
  ``set_kernels``): its files are bitwise those of a run with the fill.
- The benchmarks' plain PyTorch loop (src/bench/plain_loop.py) trains the suite's networks to bitwise the
  same weights (so the ratio they print compares like with like).
"""

import csv
import json
import os

import pytest
import torch

import src.job
from src.bench.clock import CLOCK, clocked_run
from src.bench.plain_loop import PlainLoop, same_weights
from src.cli.compose import compose_config
from src.core.errors import ConfigError
from src.runs.divergence_guard import DivergenceGuard
from src.runs.files import METRICS_FILE, SUMMARY_FILE
from src.ssl_module import SSLModule
from src.train import set_kernels, train
from tests.conftest import TINY

# 8 steps written every 3rd: steps 3 and 6 logged, the other six not; measured at 0, 2, 4, 6 and 8.
SPARSE_LOGGING = ("trainer.max_steps=8", "trainer.log_every_n_steps=3")


def old_guard_batch_end(self, trainer, module, outputs, batch, batch_idx):
    """The guard before the change: the loss Lightning keeps from ``self.log``."""
    self.last_loss = float(trainer.callback_metrics["train/loss"])


def run_files(cfg, run_dir) -> tuple[bytes, dict]:
    summary = train(cfg, run_dir)
    assert summary["status"] == "finished"
    written = json.loads((run_dir / SUMMARY_FILE).read_text())
    # Differ between any two runs: the time taken and where the run lives.
    keep = {k: v for k, v in written.items() if k not in ("wall_time_s", "run_dir")}
    return (run_dir / METRICS_FILE).read_bytes(), keep


def test_logging_only_written_steps_leaves_metrics_and_summary_bitwise_unchanged(
    tiny_config, tmp_path, monkeypatch
):
    fast = run_files(tiny_config(*SPARSE_LOGGING), tmp_path / "fast")
    with monkeypatch.context() as patch:
        patch.setattr(SSLModule, "_logs_this_step", lambda self: True)
        patch.setattr(DivergenceGuard, "on_train_batch_end", old_guard_batch_end)
        reference = run_files(tiny_config(*SPARSE_LOGGING), tmp_path / "reference")
    assert fast[0] == reference[0]
    assert fast[1] == reference[1]
    rows = list(csv.DictReader((tmp_path / "fast" / METRICS_FILE).open()))
    assert sorted(int(r["step"]) for r in rows if r["train/loss"]) == [2, 5]  # Lightning's steps 3 and 6
    assert all(r["ema/tau"] for r in rows if r["train/loss"])  # the target's τ rides along on those steps


def test_self_log_is_called_only_on_the_steps_lightning_writes(tiny_config, tmp_path, monkeypatch):
    logged_steps = []
    original = SSLModule.log

    def spy(self, name, *args, **kwargs):
        logged_steps.append(self.trainer.global_step)
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(SSLModule, "log", spy)
    train(tiny_config(*SPARSE_LOGGING), tmp_path)
    # Lightning's 3rd and 6th steps (global_step 2 and 5 while they run); the other six steps log nothing.
    assert sorted(set(logged_steps)) == [2, 5]


def measured_steps(run_dir, metric: str) -> list[int]:
    return [int(r["step"]) for r in csv.DictReader((run_dir / METRICS_FILE).open()) if r.get(metric)]


def test_the_final_measurement_is_one_row(tiny_config, tmp_path):
    train(tiny_config("trainer.max_steps=4"), tmp_path)  # TINY measures every 2 steps: 0, 2 and 4 = the end
    assert measured_steps(tmp_path, "collapse/z_std") == [0, 2, 4]
    assert measured_steps(tmp_path, "probe/linear_acc") == [0, 2, 4]  # by default at every measurement


def test_the_linear_probe_every_n_steps_skips_only_it_and_never_the_reference_or_the_end(
    tiny_config, tmp_path
):
    summary = train(tiny_config("trainer.max_steps=10", "metrics.probe_every_n_steps=4"), tmp_path)
    assert measured_steps(tmp_path, "collapse/z_std") == [0, 2, 4, 6, 8, 10]
    assert measured_steps(tmp_path, "probe/knn_acc") == [0, 2, 4, 6, 8, 10]
    assert measured_steps(tmp_path, "probe/linear_acc") == [0, 4, 8, 10]
    assert "probe/linear_acc" in summary["final"] and "probe/linear_acc" in summary["reference"]


def test_a_bad_probe_interval_is_one_config_error(tiny_config, tmp_path):
    with pytest.raises(ConfigError, match=r"metrics\.probe_every_n_steps must be an integer ≥ 1"):
        train(tiny_config("metrics.probe_every_n_steps=0"), tmp_path)
    assert not (tmp_path / SUMMARY_FILE).exists()


# The MLP on strips, and the CNN on images (convolutions, on-device augmentation).
@pytest.mark.parametrize("row", [[], ["model/backbone=cnn", "data.layout=image"]])
def test_without_torchs_fill_of_new_tensors_every_number_is_bitwise_the_same(tmp_path, monkeypatch, row):
    overrides = [*(o for o in TINY if not (row and o.startswith("model.backbone."))), *row]
    fast = run_files(compose_config(overrides, tmp_path / "fast"), tmp_path / "fast")
    assert torch.utils.deterministic.fill_uninitialized_memory is False  # set by the run

    def set_kernels_with_fill(cfg) -> None:
        set_kernels(cfg)
        torch.utils.deterministic.fill_uninitialized_memory = True  # torch's default

    monkeypatch.setattr("src.train.set_kernels", set_kernels_with_fill)
    filled = run_files(compose_config(overrides, tmp_path / "filled"), tmp_path / "filled")
    assert torch.utils.deterministic.fill_uninitialized_memory is True
    assert fast[0] == filled[0]
    assert fast[1] == filled[1]


@pytest.mark.parametrize("gpu", [False, True])
def test_the_nvml_check_is_dropped_only_without_a_gpu(monkeypatch, gpu):
    monkeypatch.setenv(src.job.NVML_CHECK, "1")  # as Lightning's import leaves it
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    src.job.plain_cuda_check(None)
    assert (os.environ.get(src.job.NVML_CHECK) == "1") is gpu
    src.job.plain_cuda_check("0")  # a user's own setting always stays
    assert os.environ[src.job.NVML_CHECK] == "0"


# The default row, and rows whose step does more than the default's: MoCo's queue (read, then pushed) and
# DirectPred's predictor (F̂ observed, W refreshed every step), as the study floor benchmark times them.
@pytest.mark.parametrize(
    "row", [[], ["+ablation=moco", "model.loss.queue_size=128"], ["+ablation=directpred"]]
)
def test_the_benchmarks_plain_loop_trains_to_the_suites_weights_bitwise(tiny_config, tmp_path, row):
    clocked_run([*TINY, *row], tmp_path / "suite", warmup=1, steps=2)  # 4 steps of a real run
    plain = PlainLoop(tiny_config(*row, "trainer.max_steps=4"))
    plain.run(0, 0)
    assert same_weights(CLOCK.trainer.lightning_module, plain.module)
    plain.step(4)  # one step more: the comparison can tell weights apart
    assert not same_weights(CLOCK.trainer.lightning_module, plain.module)
