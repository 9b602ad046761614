"""A checkpoint carries its own integrity: the sha256 of ``last.ckpt`` is recorded beside it, in
``last.ckpt.sha256`` (``sha256sum``'s layout), and checked before a run resumes from it. torch's zip
reader does not verify the tensors it loads: 64 zeroed bytes inside a weight load without a word, and
the run would finish with other numbers.

The checkpoint and its digest are two files, and a process can die between any two writes. So that no
kill leaves a whole checkpoint refused, a save is: (1) the new checkpoint written to a temporary file;
(2) the digest file rewritten, atomically, to list the new digest and the ones it listed before; (3) the
temporary file renamed over ``last.ckpt``; (4) the digest file rewritten to list the new digest alone.
Whenever the process dies, ``last.ckpt`` is the old or the new file, and the digest file lists it.

A checkpoint whose digest does not match (or that has no digest file) is refused, never resumed: its
bytes changed after they were written, so the disk or a person altered them, and which other bytes of the
run folder (metrics.csv, an older checkpoint) can then be trusted is not known. Falling back to a
previous good checkpoint would hide that damage and cost a second checkpoint's disk space per run; the
refusal names the file and ``fresh=true``, and a study's other runs go on.
"""

import hashlib
from pathlib import Path

from src.core.errors import DataError
from src.runs.atomic import write_atomic, write_text_atomic

DIGEST_SUFFIX = ".sha256"


def digest_file(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + DIGEST_SUFFIX)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def listed_digests(path: Path) -> list[str]:
    """The digests the digest file beside ``path`` lists (none if it is missing)."""
    try:
        lines = digest_file(path).read_text().splitlines()
    except FileNotFoundError:
        return []
    return [line.split()[0] for line in lines if line.strip()]


def _list_digests(path: Path, digests: list[str]) -> None:
    unique = list(dict.fromkeys(digests))
    write_text_atomic(digest_file(path), "".join(f"{d}  {Path(path).name}\n" for d in unique))


def write_with_digest(path: Path, write, fault_point=lambda phase: None) -> None:
    """Write ``path`` through ``write(binary file)`` atomically, with its digest (module docstring).
    ``fault_point(phase)`` is the test hooks' way in ("checkpoint", "digest": src/runs/fault_injection.py)."""
    path = Path(path)
    before = listed_digests(path)
    written: list[str] = []

    def record(temporary: Path) -> None:
        fault_point("checkpoint")
        written.append(sha256_of(temporary))
        _list_digests(path, [*written, *before])  # the old file and the new one both pass from here on

    write_atomic(path, write, binary=True, before_replace=record)
    fault_point("digest")
    _list_digests(path, written)


def refused(path: Path, reason: str) -> DataError:
    """The one line a checkpoint that cannot be resumed from gets."""
    return DataError(
        f"checkpoint {path} cannot be read (truncated or corrupt: {reason}); "
        "set fresh=true to start this run afresh"
    )


def verify(path: Path) -> None:
    """Raise the refusal unless ``path``'s sha256 is one its digest file lists."""
    digests = listed_digests(path)
    if not digests:
        raise refused(path, f"no digest in {digest_file(path).name} beside it")
    if sha256_of(path) not in digests:
        raise refused(path, f"its sha256 differs from the one {digest_file(path).name} recorded")
