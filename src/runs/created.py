"""What one invocation created, so that bad input leaves nothing behind.

Hydra creates the run folder (``hydra.run.dir``), or the sweep folder (``hydra.sweep.dir``) with its
``multirun.yaml``, before the suite can check the input: the checks need the composed config, and some
need the built model and data. So the callback that creates the output folder first notes what exists
(src/runs/sweep_callbacks.py ``WritableOutputDir``), and when the input is refused (exit 2, src/run.py
``main``) what this invocation added is removed again: a folder only if it did not exist when noted and is
empty now (``rmdir`` never removes a file), and a noted file only if it did not exist (one that did gets its
old bytes back). A folder that existed before, or that holds anything (a previous run's files), stays.

The notes live in the process that runs Hydra's callbacks; ``forget`` starts a new invocation's.
"""

import os
from pathlib import Path

_existed: set[Path] = set()  # the folders at and under each noted folder that existed when it was noted
_noted: list[Path] = []  # the noted output folders
_files: dict[Path, bytes | None] = {}  # a noted file → its bytes when noted (None: it did not exist)


def _absolute(path) -> Path:
    return Path(os.path.abspath(path))  # as Hydra names a job's folder (hydra.runtime.output_dir)


def forget() -> None:
    _existed.clear()
    _noted.clear()
    _files.clear()


def note_folder(folder) -> None:
    """Call before ``folder`` is created: what exists at, above and under it now is not this invocation's."""
    folder = _absolute(folder)
    _existed.update(p for p in folder.parents if p.is_dir())
    _existed.update(Path(root) for root, _, _ in os.walk(folder))  # nothing when it does not exist yet
    _noted.append(folder)


def note_file(path) -> None:
    """Call before ``path`` is written: its bytes now (or that it did not exist) are restored on refusal."""
    path = _absolute(path)
    _files.setdefault(path, path.read_bytes() if path.is_file() else None)


def remove_folder(folder) -> None:
    """Remove ``folder``, then each parent, while it lies in a noted folder, did not exist when noted, and
    is empty."""
    folder = _absolute(folder)
    if not any(folder.is_relative_to(noted) for noted in _noted):
        return  # not this invocation's output: nothing is known about where it came from
    for path in (folder, *folder.parents):
        if path in _existed:
            return
        try:
            path.rmdir()
        except OSError:  # not empty (or already gone): it and every parent stay
            return


def remove_created() -> None:
    """Everything noted back as it was, as far as the rules of the module docstring allow."""
    for path, before in _files.items():
        if before is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(before)
    for folder in _noted:
        remove_folder(folder)
    forget()
