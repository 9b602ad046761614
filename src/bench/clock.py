"""A clock around a real run's steps, for the benchmarks and the tests that check what they time: the run is
``src.train.train`` on a composed config, exactly as ``python -m src.run`` trains it, with Lightning's
Trainer built with one more callback.

- ``clocked_trainer`` is a ``trainer._target_``: Lightning's Trainer with ``CLOCK`` added, which times
  steps ``warmup`` … ``warmup + steps`` and records the peak memory in that window, then (on a GPU, if
  asked) lists the host-device synchronisations of the next ``sync_steps`` steps. After ``train`` returns,
  ``CLOCK.trainer`` still holds the trainer, its module, data and optimizer.
- ``clocked_run`` composes a config with that trainer and trains it.
"""

import collections
import re
import resource
import time
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch

from src.cli.compose import compose_config
from src.train import train


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_reset(device: torch.device) -> None:
    """Start a new peak: the CUDA allocator's, or the process's resident set (Linux clear_refs)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        Path("/proc/self/clear_refs").write_text("5")


def memory_bytes(device: torch.device) -> int:
    """In use now: CUDA tensors allocated, or the process's resident set (VmRSS)."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device)
    return _status_bytes("VmRSS")


def _status_bytes(field: str) -> int:
    match = re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(match.group(1)) * 1024 if match else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_memory_bytes(device: torch.device) -> int:
    """Peak since the last reset: CUDA tensors allocated, or the process's resident set (VmHWM)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return _status_bytes("VmHWM")


class StepClock(pl.Callback):
    """Wall time of steps warmup … warmup + steps (everything between their starts: data, step, hooks,
    logging), and the process's CPU time over them (less disturbed by other jobs on a busy machine),
    the memory in use when they start and the peak over them. The device is synchronised only
    at the two ends."""

    def __init__(self):
        self.configure(warmup=1, steps=1)

    def configure(self, warmup: int, steps: int, sync_steps: int = 0) -> None:
        self.warmup, self.steps, self.sync_steps = warmup, steps, sync_steps
        self.seconds_per_step = self.cpu_seconds_per_step = self.start_bytes = self.peak_bytes = None
        self.syncs: collections.Counter | None = None  # "file:line" of the Python caller -> count
        self.trainer: pl.Trainer | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        step = trainer.global_step
        if step == self.warmup:
            synchronize(pl_module.device)
            peak_memory_reset(pl_module.device)
            self.start_bytes = memory_bytes(pl_module.device)
            self._start, self._cpu_start = time.perf_counter(), time.process_time()
        elif step == self.warmup + self.steps:
            synchronize(pl_module.device)
            self.seconds_per_step = (time.perf_counter() - self._start) / self.steps
            self.cpu_seconds_per_step = (time.process_time() - self._cpu_start) / self.steps
            self.peak_bytes = peak_memory_bytes(pl_module.device)
            if self.sync_steps and pl_module.device.type == "cuda":
                self._caught = warnings.catch_warnings(record=True)
                self._warnings = self._caught.__enter__()
                warnings.simplefilter("always")
                torch.cuda.set_sync_debug_mode("warn")  # a UserWarning at every synchronising call
        elif step == self.warmup + self.steps + self.sync_steps and self.sync_steps:
            self._stop_sync_census()

    def _stop_sync_census(self) -> None:
        if self.syncs is None and hasattr(self, "_caught"):
            torch.cuda.set_sync_debug_mode("default")
            self._caught.__exit__(None, None, None)
            found = [w for w in self._warnings if "synchronizing" in str(w.message)]
            self.syncs = collections.Counter(f"{Path(w.filename).name}:{w.lineno}" for w in found)

    def on_fit_end(self, trainer, pl_module) -> None:
        self._stop_sync_census()
        self.trainer = trainer


CLOCK = StepClock()


def clocked_trainer(**kwargs) -> pl.Trainer:
    """``pytorch_lightning.Trainer`` with ``CLOCK`` added to the run's own callbacks."""
    return pl.Trainer(**{**kwargs, "callbacks": [*kwargs.get("callbacks", []), CLOCK]})


def clocked_run(overrides: list[str], run_dir: Path, warmup: int, steps: int, sync_steps: int = 0):
    """Train the composed config for warmup + steps (+ sync_steps) + 1 steps with the clock on; returns
    the config."""
    total = warmup + steps + sync_steps + 1
    cfg = compose_config(
        [*overrides, f"trainer.max_steps={total}", "trainer._target_=src.bench.clock.clocked_trainer"],
        run_dir,
    )
    CLOCK.configure(warmup, steps, sync_steps)
    train(cfg, run_dir)
    return cfg
