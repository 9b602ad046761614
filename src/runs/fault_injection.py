"""Test hooks (config ``debug.*``, null = off): make a run fail, diverge or die on purpose at a given step,
so the tests can check that a sweep records such runs and goes on (tests/test_sweep_faults.py). Never set
in a study."""

import os
import signal

import pytorch_lightning as pl
import torch

HOOKS = ("fail_at_step", "nan_at_step", "kill_at_step")


class FaultInjection(pl.Callback):
    def __init__(self, fail_at_step: int | None, nan_at_step: int | None, kill_at_step: int | None):
        self.fail_at_step, self.nan_at_step, self.kill_at_step = fail_at_step, nan_at_step, kill_at_step
        self._resumed = False

    def on_train_start(self, trainer: pl.Trainer, module) -> None:
        self._resumed = trainer.global_step > 0

    def on_train_batch_start(self, trainer: pl.Trainer, module, batch, batch_idx: int) -> None:
        step = trainer.global_step
        if step == self.fail_at_step:
            raise RuntimeError(f"debug.fail_at_step={step}: deliberate failure (test hook)")
        if step == self.nan_at_step:
            # A NaN weight makes the loss of this step NaN through the real forward pass.
            with torch.no_grad():
                next(module.encoder.parameters()).fill_(float("nan"))
        if step == self.kill_at_step and not self._resumed:
            # What the out-of-memory killer or a crashed worker does: no handler, no clean-up. Once: the
            # resumed attempt runs on, as a rerun after a transient kill would.
            os.kill(os.getpid(), signal.SIGKILL)


def fault_injection(debug: dict) -> list[pl.Callback]:
    """The hook callback when any ``debug`` key is set, else nothing."""
    if all(debug[hook] is None for hook in HOOKS):
        return []
    return [FaultInjection(*(debug[hook] for hook in HOOKS))]
