"""Checkpoints that make a killed run resume exactly (bit-identical on the CPU).

``checkpoints/last.ckpt`` holds what Lightning saves (online, target and ensemble weights, optimizer and
learning-rate schedule state, loop progress, whose optimizer-step count is the EMA step and whose batch
count is the data position: training batches are a pure function of the batch index, src/data/base.py),
the callbacks' state (the random-init reference, the last loss), and the suite's own entry ``suite``:
the config hash, how many rows ``metrics.csv`` held and their digest, the global random generators' states, the wandb run
id, and under gradient accumulation, when saved inside an accumulation window (SIGTERM between two of its
batches), the gradients accumulated so far, which Lightning does not save.

It is written every ``checkpoint.every_n_steps`` steps between two steps, when SIGTERM arrives (a cluster
scheduler's warning before pre-emption: Lightning finishes the step, we save and exit with 143), and at
the end of training; always to a temporary file that then replaces the old one, so a kill at any moment
leaves a whole checkpoint, with its sha256 beside it (src/runs/integrity.py), checked before a resume. It
is read with ``weights_only=True``.
"""

import os
import random
import signal
import threading
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.utilities.exceptions import SIGTERMException

from src.core.errors import DataError
from src.runs.fault_injection import PhaseFaults
from src.runs.integrity import refused, verify, write_with_digest
from src.runs.metrics_csv import MetricsCSVLogger

SUITE_KEY = "suite"


class Interrupted(Exception):
    """The run stopped on SIGTERM or Ctrl-C after saving its checkpoint; the same command resumes it."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class CtrlCAsSigterm:
    """``with CtrlCAsSigterm() as ctrl_c:`` makes SIGINT do what SIGTERM does: Lightning finishes the
    step, the checkpoint is saved between steps, the run stops (a KeyboardInterrupt could land inside an
    optimizer step and leave half-updated weights to checkpoint). ``ctrl_c.received`` says it came."""

    def __init__(self):
        self.received = False
        self._previous = None

    def _handler(self, signum, frame) -> None:
        self.received = True
        os.kill(os.getpid(), signal.SIGTERM)  # Lightning's SIGTERM handler takes it from here

    def __enter__(self) -> "CtrlCAsSigterm":
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class AtomicCheckpointIO(TorchCheckpointIO):
    """torch.save to a temporary file in the target's folder, fsync, then os.replace over the target
    (Lightning's own writer is atomic only where fsspec's local transaction happens to be), with its
    sha256 beside it (src/runs/integrity.py). ``faults``: the test hooks (src/runs/fault_injection.py)."""

    def __init__(self, faults: PhaseFaults | None = None):
        super().__init__()
        self.faults = faults

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        step = checkpoint.get("global_step", 0)
        write_with_digest(
            Path(path),
            lambda f: torch.save(checkpoint, f),
            fault_point=(lambda phase: self.faults.at(phase, step)) if self.faults else lambda phase: None,
        )


def read_checkpoint(path: Path) -> dict:
    """A suite checkpoint whose digest matches, loaded with ``weights_only=True``; one DataError line
    naming the file if it is truncated, corrupt, without its digest or not a checkpoint of this suite."""
    verify(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise refused(path, reason) from error
    if not isinstance(checkpoint, dict) or SUITE_KEY not in checkpoint:
        raise DataError(f"{path} is not a checkpoint of this suite; set fresh=true to start this run afresh")
    return checkpoint


def rng_states() -> dict:
    """The global generators' states, in types ``weights_only`` loading accepts."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "python": random.getstate(),
    }


def set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))


def window_gradients(trainer: pl.Trainer, module) -> dict[str, torch.Tensor]:
    """The gradients accumulated so far when inside an accumulation window, else {} (between windows the
    next batch zeroes them). NOTE: under DDP these are rank 0's; a mid-window resume then hands them to
    every rank, so only a resume between windows is exact there."""
    batches = trainer.fit_loop.epoch_loop.batch_progress.total.completed
    if batches % trainer.accumulate_grad_batches == 0:
        return {}
    return {n: p.grad.detach().clone() for n, p in module.named_parameters() if p.grad is not None}


class RunCheckpoints(pl.Callback):
    """Saves ``path`` between steps, on SIGTERM and at the end (module docstring). Put it after the
    CollapseMonitor in the callback list, so the final checkpoint holds the final measurement."""

    def __init__(
        self, path: Path, every_n_steps: int, config_hash: str, csv: MetricsCSVLogger, wandb_id: str | None
    ):
        self.path, self.every_n_steps = Path(path), every_n_steps
        self.suite = {"config_hash": config_hash, "wandb_id": wandb_id}
        self.csv = csv
        self._last_saved_step = 0
        self._between_steps = False
        self._window_grads: dict[str, torch.Tensor] = {}  # restored at train start (mid-window resume)

    def _save(self, trainer: pl.Trainer, between_steps: bool) -> None:
        # The file holds every row this checkpoint accounts for; their digest lets a resume check them.
        self.suite["metrics_rows"], self.suite["metrics_sha256"] = self.csv.flush()
        self._between_steps = between_steps
        trainer.save_checkpoint(self.path, weights_only=False)

    def on_train_batch_start(self, trainer: pl.Trainer, module, batch, batch_idx: int) -> None:
        # Here the previous step is complete, its metrics logged: resuming from here repeats nothing.
        step = trainer.global_step
        if step % self.every_n_steps == 0 and step > self._last_saved_step:
            self._last_saved_step = step
            self._save(trainer, between_steps=True)

    def on_train_start(self, trainer: pl.Trainer, module) -> None:
        # NOTE: here, not on load: Lightning zeroes every gradient after restoring, before training starts.
        parameters = dict(module.named_parameters())
        for name, grad in self._window_grads.items():
            parameters[name].grad = grad.to(parameters[name].device)
        self._window_grads = {}

    def on_train_end(self, trainer: pl.Trainer, module) -> None:
        self._save(trainer, between_steps=False)

    def on_exception(self, trainer: pl.Trainer, module, exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException):
            self._save(trainer, between_steps=False)

    def on_save_checkpoint(self, trainer: pl.Trainer, module, checkpoint: dict) -> None:
        checkpoint[SUITE_KEY] = {
            **self.suite,
            "rng": rng_states(),
            "grads": window_gradients(trainer, module),
        }
        if self._between_steps:
            # NOTE: Lightning counts the next batch as "ready" before on_train_batch_start; a checkpoint
            # taken there would make it skip one logging step on restore. Saved as after the previous
            # step's end, the state Lightning resumes from without adjustment (as after SIGTERM).
            progress = checkpoint["loops"]["fit_loop"]["epoch_loop.batch_progress"]
            for counter in (progress["total"], progress["current"]):
                counter["ready"] = counter["completed"]

    def on_load_checkpoint(self, trainer: pl.Trainer, module, checkpoint: dict) -> None:
        set_rng_states(checkpoint[SUITE_KEY]["rng"])
        self._window_grads = checkpoint[SUITE_KEY].get("grads", {})
        self._last_saved_step = checkpoint["global_step"]
