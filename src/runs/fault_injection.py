"""Test hooks (config ``debug.*``, null = off): make a run fail, diverge or die on purpose, so the tests
can check that a run resumes exactly or is refused with one line, and that a sweep records such runs and
goes on (tests/test_sweep_faults.py, tests/test_faults.py). Never set in a study.

Step hooks act at the start of a training step. Phase hooks act at a named point of a run (PHASES), the
first time it is reached at or after step ``debug.fault_step``: ``kill_in`` sends SIGKILL (the
out-of-memory killer), ``term_in`` SIGTERM (a scheduler's pre-emption warning), ``disk_full_in`` raises
the OSError a full disk gives (ENOSPC, no file name: the kernel names none). A phase hook acts once per
run folder: it leaves ``.fault-<key>`` there first, so the same command run again meets no fault, as a
rerun after a transient fault would not.
"""

import errno
import os
import signal
from pathlib import Path

import pytorch_lightning as pl
import torch

HOOKS = ("fail_at_step", "nan_at_step", "kill_at_step")
# Where a phase hook can act: start-up (lock held, nothing built), the first step (weights restored,
# before it runs), a checkpoint write (the temporary file complete, before its digest and rename), its
# digest (renamed, before the digest file is final), a measurement (as it starts), the summary write
# (the temporary file complete, before the rename), inside an accumulation window (a batch done whose
# optimizer step is still to come: its gradients are held, not yet applied).
PHASES = ("startup", "first_step", "checkpoint", "digest", "measurement", "summary", "mid_window")
PHASE_HOOKS = {"kill_in": PHASES, "term_in": PHASES, "disk_full_in": ("checkpoint", "summary")}
MARKER = ".fault-{key}"


class PhaseFaults:
    """The phase hooks of one run; ``at(phase, step)`` is called where each phase happens."""

    def __init__(self, debug, run_dir: Path):
        self.hooks = {key: debug[key] for key in PHASE_HOOKS if debug[key] is not None}
        self.after_step = debug.fault_step or 0
        self.run_dir = Path(run_dir)

    def at(self, phase: str, step: int) -> None:
        for key, where in self.hooks.items():
            marker = self.run_dir / MARKER.format(key=key)
            if where != phase or step < self.after_step or marker.exists():
                continue
            marker.touch()
            if key == "disk_full_in":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.kill(os.getpid(), signal.SIGKILL if key == "kill_in" else signal.SIGTERM)


class FaultInjection(pl.Callback):
    def __init__(self, debug, phases: PhaseFaults, measure_every: int):
        self.fail_at_step, self.nan_at_step, self.kill_at_step = (debug[hook] for hook in HOOKS)
        self.phases, self.measure_every = phases, measure_every
        self._resumed = False

    def on_train_start(self, trainer: pl.Trainer, module) -> None:
        self._resumed = trainer.global_step > 0
        self.phases.at("first_step", trainer.global_step)

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

    def on_train_batch_end(self, trainer: pl.Trainer, module, outputs, batch, batch_idx: int) -> None:
        # Placed before the CollapseMonitor: this runs as a measurement (the monitor's, same condition)
        # starts; the last step's is in on_train_end.
        step = trainer.global_step
        if step % self.measure_every == 0 and step < trainer.max_steps:
            self.phases.at("measurement", step)
        if (batch_idx + 1) % trainer.accumulate_grad_batches:  # the window's step is still to come
            self.phases.at("mid_window", step)


def fault_injection(debug, phases: PhaseFaults, measure_every: int) -> list[pl.Callback]:
    """The hook callback when any ``debug`` key is set, else nothing."""
    if all(debug[hook] is None for hook in HOOKS) and not phases.hooks:
        return []
    return [FaultInjection(debug, phases, measure_every)]
