"""One process per run directory: an exclusive ``flock`` on ``<run_dir>/.lock`` for the run's lifetime.

Without it two processes started into one folder (two configs, or the same command twice) both train,
both exit 0, and the last writer's summary silently replaces the other's. The second process is refused
with one line naming the folder and the holder (pid, host, start time, as the holder wrote them).

The lock is the kernel's: it goes away with the process, so a SIGKILLed run never leaves a stale lock.
The holder removes the file when it lets go; a process that opened the file just before that removal
would lock an orphaned inode, so after locking it checks that the path still names the file it locked,
and tries again if not.
"""

import datetime
import fcntl
import os
import socket
from pathlib import Path

from src.core.errors import SuiteError
from src.runs.files import LOCK_FILE


class RunDirBusy(SuiteError):
    """Another process holds this run directory."""


class RunLock:
    """``with RunLock(run_dir):`` holds the directory's lock; raises RunDirBusy if another process does."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self._fd: int | None = None

    def __enter__(self) -> "RunLock":
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 4096).decode(errors="replace").strip() or "another process"
                os.close(fd)
                raise RunDirBusy(
                    f"{self.run_dir} is in use by another run ({holder}); wait for it to finish or use "
                    "another run directory (hydra.run.dir / hydra.sweep.dir)"
                ) from None
            try:
                same_file = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same_file = False
            if same_file:
                break
            os.close(fd)  # the holder removed the file between our open and our lock: lock the new one
        started = datetime.datetime.now().isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}, started {started}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)  # before unlocking: a waiter then retries on a fresh file
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
