"""Measurements in a forked process (``metrics.background``): training goes on while the networks as they
were at a measurement step are measured, on the core a one-thread run leaves idle.

One process serves a run's measurements: ``os.fork`` at the first one (the random-init reference) gives it a
copy-on-write image of the run, its networks, BatchNorm buffers and data module; at each later one the
training thread copies the module's tensors (its ``state_dict``: every parameter and buffer) into memory
both processes share, and the process copies them into its image's own tensors before it measures. So it
measures the networks exactly as the training thread would have at the step, and no later training step
reaches it: the next copy waits until the measurement is settled. It runs the same operations on the same
single thread, so its numbers are bitwise those of the training thread; it sends them back through a pipe.
NOTE: not a fork per measurement (the first version): a fork of the ~0.9 GB process costs the training
thread ~12 ms and its next steps ~25 ms of copy-on-write page faults (2-core Intel Xeon, default run),
~0.4 s of a 600-step run's 13 measurements; copying the tensors costs well under a millisecond.
A process, not a thread: both the training loop and the measurement spend much of their time in Python,
and two threads would take turns under the GIL (measured: a thread hid a third of the measurements' cost,
a process nearly all). The process leaves with ``os._exit`` (no atexit handler, no buffered output of the
parent written twice) when the run closes it, or when the pipe's other end closes with the run's process.

Only the collapse monitor decides when (src/metrics/monitor.py): a measurement is logged, under the step
it was taken at, when the next one starts. A checkpoint saved meanwhile carries it so that a resumed run
logs it at the same point as an uninterrupted one: unlogged, after waiting for it, or, when the checkpoint
holds the very state being measured (a measurement step that is also a checkpoint step), as a step to
measure again on resume, without waiting.
"""

import functools
import mmap
import os
import signal
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection, Pipe
from typing import Any

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
    """At most one measurement at a time, in one forked process kept for the run; ``settle`` waits for the
    measurement and returns it, ``close`` ends the process."""

    def __init__(self):
        self._process: tuple[int, Connection] | None = None  # (pid, the training thread's end of the pipe)
        self._shared: dict[str, torch.Tensor] = {}  # the tensors' copies in shared memory, by name
        self._step: int | None = None  # the step of the measurement in flight

    @property
    def step(self) -> int | None:
        """The step of the measurement in flight, None when none is."""
        return self._step

    def start(
        self,
        step: int,
        tensors: dict[str, torch.Tensor],
        work: Callable[[Any], tuple[dict, dict]],
        request: Any = None,
    ) -> None:
        """Measure ``work(request)`` of the state ``tensors`` hold now. The first start forks the process:
        ``work`` and ``tensors`` are then the ones of its image for the rest of the run; a later start copies
        ``tensors`` (the same names and shapes) over them, through the shared memory, and sends ``request``."""
        if self._step is not None:
            raise RuntimeError("a measurement is still running: settle() it first")
        if self._process is None:
            self._fork(tensors, work)
        else:
            if tensors.keys() != self._shared.keys():
                raise RuntimeError("a measurement's tensors must be the ones the process was forked with")
            with torch.no_grad():
                for name, tensor in tensors.items():
                    self._shared[name].copy_(tensor)
        self._process[1].send((step, request))
        self._step = step

    def _fork(self, tensors: dict[str, torch.Tensor], work: Callable[[Any], tuple[dict, dict]]) -> None:
        shared = shared_copies(tensors)
        parent_end, child_end = Pipe()
        pid = os.fork()
        if pid == 0:  # the process: measure what each request asks, report, until the run closes it
            parent_end.close()
            try:
                serve(child_end, shared, tensors, work)
            finally:
                os._exit(0)
        child_end.close()
        self._process, self._shared = (pid, parent_end), shared

    def settle(self) -> Measured | None:
        """The measurement started last, once its process has reported (None if none runs)."""
        if self._step is None:
            return None
        step, self._step = self._step, None
        pid, pipe = self._process
        try:
            kind, value = pipe.recv()
        except EOFError:
            self.close()
            raise RuntimeError(
                f"the measurement of step {step} died in its process (pid {pid}) before reporting"
            ) from None
        if kind == "error":
            raise RuntimeError(f"the measurement of step {step} failed in its process:\n{value}")
        return value

    def close(self) -> None:
        """End the process (a measurement in flight is dropped); the next start forks a new one."""
        if self._process is None:
            return
        (pid, pipe), in_flight = self._process, self._step is not None
        self._process, self._shared, self._step = None, {}, None
        if in_flight:  # not waited for: its result would go nowhere
            os.kill(pid, signal.SIGKILL)
        pipe.close()  # the process reads the end of the pipe and leaves
        os.waitpid(pid, 0)


def shared_copies(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Copies of ``tensors`` in one anonymous shared mapping, which a forked process shares with its
    parent (NOTE: not ``Tensor.share_memory_``, which keeps a file descriptor open per tensor: a ResNet's
    state has hundreds)."""
    align = 64  # bytes: every dtype's elements stay aligned, as in torch's own CPU allocations
    sizes = {name: t.numel() * t.element_size() for name, t in tensors.items()}
    offsets, total = {}, 0
    for name, size in sizes.items():
        offsets[name], total = total, total + -(-size // align) * align
    flat = torch.frombuffer(mmap.mmap(-1, max(total, 1)), dtype=torch.uint8)  # MAP_SHARED | MAP_ANONYMOUS
    shared = {}
    for name, t in tensors.items():
        part = flat[offsets[name] : offsets[name] + sizes[name]].view(t.dtype).view(t.shape)
        shared[name] = part.copy_(t.detach())
    return shared


def serve(
    pipe: Connection,
    shared: dict[str, torch.Tensor],
    tensors: dict[str, torch.Tensor],
    work: Callable[[Any], tuple[dict, dict]],
) -> None:
    """In the forked process: for each (step, request) received, the shared tensors copied into the image's
    own, then ``work(request)`` measured and its report sent back; returns when the pipe closes."""
    while True:
        try:
            step, request = pipe.recv()
        except EOFError:
            return
        with torch.no_grad():
            for name, tensor in tensors.items():
                tensor.copy_(shared[name])
        try:
            report = ("measured", measured_at(step, functools.partial(work, request)))
        except BaseException:
            report = ("error", traceback.format_exc())
        try:
            pipe.send(report)
        except OSError:  # the run is gone
            return
