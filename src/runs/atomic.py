"""Files written atomically, so that a reader (a resumed run, the analysis, a second process) sees the
old file or the new one, never half of one. The one definition used by the run record, the checkpoints
and the metrics CSV."""

import json
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, write, binary: bool = False) -> None:
    """Write through ``write(file)`` to a temporary file in the same folder, fsync, then rename over
    ``path`` (atomic on POSIX): a reader sees the old file or the new one, never half of one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes the file private; results are meant to be read by others
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", newline="") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj) -> None:
    write_atomic(path, lambda f: json.dump(obj, f, indent=2, sort_keys=True, allow_nan=True))


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda f: f.write(text))
