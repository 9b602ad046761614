"""Files written atomically, so that a reader (a resumed run, the analysis, a second process) sees the
old file or the new one, never half of one. The one definition used by the run record, the checkpoints,
the metrics CSV and a study's report (a report killed mid-write must not leave a file that passes for a
finished one)."""

import json
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, write, binary: bool = False, before_replace=None) -> None:
    """Write through ``write(file)`` to a temporary file in the same folder, fsync, then rename over
    ``path`` (atomic on POSIX): a reader sees the old file or the new one, never half of one.
    ``before_replace(temporary_path)``, if given, runs on the complete file just before the rename (the
    checkpoint's digest is recorded there: src/runs/integrity.py)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes the file private; results are meant to be read by others
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", newline="") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if before_replace is not None:
            before_replace(Path(tmp))
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        cause = root_os_error(error)
        if cause is not None and cause.filename is None:
            # A full disk or a failed fsync names no file (and torch.save wraps it in its own error):
            # the run's record and its one line must say which file could not be written.
            raise type(cause)(cause.errno, cause.strerror, str(path)) from error
        raise


def root_os_error(error: BaseException | None) -> OSError | None:
    """The OSError behind an exception, following __cause__ / __context__ (torch and Lightning wrap the
    OS's error in their own), or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError) and error.errno is not None:
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def write_json_atomic(path: Path, obj, before_replace=None) -> None:
    write_atomic(
        path,
        lambda f: json.dump(obj, f, indent=2, sort_keys=True, allow_nan=True),
        before_replace=before_replace,
    )


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda f: f.write(text))


def write_csv_atomic(path: Path, frame, **to_csv) -> None:
    """``frame.to_csv(path, **to_csv)``, atomically and with the same bytes: through a binary file, which
    pandas encodes as UTF-8 as it does a path, whatever the locale (a text file would take the locale's)."""
    write_atomic(path, lambda f: frame.to_csv(f, **to_csv), binary=True)
