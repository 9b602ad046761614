"""The training side of divergence (src/metrics/divergence.py): a callback that ends the run at the first
non-finite training loss."""

import math

import pytorch_lightning as pl
import torch

from src.metrics.divergence import Diverged


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
