"""Test hooks (config ``debug.*``, null = off): make a run fail or diverge on purpose at a given step, so
the tests can check that a sweep records such runs and goes on (tests/test_sweep_faults.py). Never set
in a study."""

import pytorch_lightning as pl
import torch


class FaultInjection(pl.Callback):
    def __init__(self, fail_at_step: int | None, nan_at_step: int | None):
        self.fail_at_step, self.nan_at_step = fail_at_step, nan_at_step

    def on_train_batch_start(self, trainer: pl.Trainer, module, batch, batch_idx: int) -> None:
        step = trainer.global_step
        if step == self.fail_at_step:
            raise RuntimeError(f"debug.fail_at_step={step}: deliberate failure (test hook)")
        if step == self.nan_at_step:
            # A NaN weight makes the loss of this step NaN through the real forward pass.
            with torch.no_grad():
                next(module.encoder.parameters()).fill_(float("nan"))


def fault_injection(debug: dict) -> list[pl.Callback]:
    """The hook callback when any ``debug`` key is set, else nothing."""
    if debug["fail_at_step"] is None and debug["nan_at_step"] is None:
        return []
    return [FaultInjection(debug["fail_at_step"], debug["nan_at_step"])]
