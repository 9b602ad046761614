"""Divergence is a result, not a crash: a non-finite training loss, or non-finite representations of
the held-out data, end the run cleanly with status ``diverged`` and the step it happened at, so a sweep
goes on (a learning rate too large for a row is something the suite exists to report).

Steps are numbered as in ``metrics.csv``: the loss of step k is the one computed from the weights after
k optimizer steps, and a measurement at step k is taken after k optimizer steps.
"""

import math

import pytorch_lightning as pl
import torch


class Diverged(Exception):
    """The run diverged: ``what`` went non-finite at ``step`` (None until the caller knows the step)."""

    def __init__(self, what: str, step: int | None = None):
        super().__init__(what if step is None else f"{what} at step {step}")
        self.what, self.step = what, step


def require_finite(name: str, x: torch.Tensor) -> None:
    """Raise Diverged unless every entry of ``x`` is finite."""
    if not torch.isfinite(x).all():
        raise Diverged(f"the {name} representation of held-out data is not finite")


class DivergenceGuard(pl.Callback):
    """Stops the run at the first non-finite loss, before its backward pass can spread it into the
    weights, and keeps the last finite training loss (restored on resume, for the summary)."""

    def __init__(self):
        self.last_loss: float | None = None

    def on_before_backward(self, trainer: pl.Trainer, module, loss: torch.Tensor) -> None:
        # NOTE: one host-device sync per step on an accelerator; the price of knowing the exact step.
        value = float(loss.detach())
        if not math.isfinite(value):
            raise Diverged(f"the training loss is {value}", trainer.global_step)

    def on_train_batch_end(self, trainer: pl.Trainer, module, outputs, batch, batch_idx: int) -> None:
        # From the step's outputs: self.log reaches callback_metrics only every log_every_n_steps steps.
        self.last_loss = float(outputs["train/loss"])

    def state_dict(self) -> dict:
        return {"last_loss": self.last_loss}

    def load_state_dict(self, state: dict) -> None:
        self.last_loss = state["last_loss"]
