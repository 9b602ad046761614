"""Measurements in a forked process (``metrics.background``): training goes on while the networks as they
were at a measurement step are measured, on the core a one-thread run leaves idle.

``os.fork`` gives the child a copy-on-write image of the process at the step: the networks, their
BatchNorm buffers and the data module exactly as the training thread would have measured them, and no
later training step reaches it. The child runs the same operations on the same single thread, so its
numbers are bitwise those of the training thread; it sends them back through a pipe and leaves with
``os._exit`` (no atexit handler, no buffered output of the parent written twice). A process, not a thread:
both the training loop and the measurement spend much of their time in Python, and two threads would take
turns under the GIL (measured: a thread hid a third of the measurements' cost, a process nearly all).

Only the collapse monitor decides when (src/metrics/monitor.py): a measurement is logged, under the step
it was taken at, when the next one starts. A checkpoint saved meanwhile carries it so that a resumed run
logs it at the same point as an uninterrupted one: unlogged, after waiting for it, or, when the checkpoint
holds the very state being measured (a measurement step that is also a checkpoint step), as a step to
measure again on resume, without waiting.
"""

import os
import pickle
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from src.metrics.divergence import Diverged


@dataclass
class Measured:
    """One measurement, taken at ``step``: its scalars and spectra, or what was not finite (``diverged``)."""

    step: int
    scalars: dict[str, float] | None = None
    spectra: dict[str, list] | None = None
    diverged: str | None = None

    def as_state(self) -> dict:
        return asdict(self)


def measured_at(step: int, work: Callable[[], tuple[dict, dict]]) -> Measured:
    """``work()``'s (scalars, spectra) as a Measured of ``step``; a Diverged is kept, not raised."""
    try:
        scalars, spectra = work()
    except Diverged as error:
        return Measured(step, diverged=error.what)
    return Measured(step, scalars, spectra)


def can_fork(device: torch.device) -> bool:
    """Whether a measurement on ``device`` can run in a forked child: on the CPU only (a CUDA context does
    not survive a fork), with one intra-op thread (an OpenMP pool used before a fork can hang the child;
    more threads would also change the reduction order), where the OS forks at all."""
    return device.type == "cpu" and torch.get_num_threads() == 1 and hasattr(os, "fork")


class BackgroundMeasurement:
    """At most one measurement at a time, in a forked child; ``settle`` waits for it and returns it."""

    def __init__(self):
        self._child: tuple[int, int, int] | None = None  # (pid, read end of its pipe, step)

    @property
    def step(self) -> int | None:
        """The step of the measurement in flight, None when none is."""
        return None if self._child is None else self._child[2]

    def start(self, step: int, work: Callable[[], tuple[dict, dict]]) -> None:
        if self._child is not None:
            raise RuntimeError("a measurement is still running: settle() it first")
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: measure, report, leave
            os.close(read)
            try:
                report = ("measured", measured_at(step, work))
            except BaseException:
                report = ("error", traceback.format_exc())
            try:
                with os.fdopen(write, "wb") as pipe:
                    pickle.dump(report, pipe)
            finally:
                os._exit(0)
        os.close(write)
        self._child = (pid, read, step)

    def settle(self) -> Measured | None:
        """The measurement started last, once its child has reported (None if none runs)."""
        if self._child is None:
            return None
        (pid, read, step), self._child = self._child, None
        with os.fdopen(read, "rb") as pipe:
            data = pipe.read()  # to the end: the child has written everything and exited
        os.waitpid(pid, 0)
        if not data:
            raise RuntimeError(
                f"the measurement of step {step} died in its process (pid {pid}) before reporting"
            )
        kind, value = pickle.loads(data)
        if kind == "error":
            raise RuntimeError(f"the measurement of step {step} failed in its process:\n{value}")
        return value
