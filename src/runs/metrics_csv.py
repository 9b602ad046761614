"""``metrics.csv``: Lightning's CSV logger, made to survive a resume and never be seen half-written.

Lightning's writer deletes an existing ``metrics.csv`` when a run restarts and appends rows in place.
This one keeps every row of the run: on resume it starts from the first ``keep_rows`` rows of the file
(the rows the checkpoint accounts for; rows logged after the checkpoint by the killed process are dropped
and logged again, identically, by the resumed one), and each write replaces the whole file atomically.
A resumed run's file is thus the file an uninterrupted run writes.

The file is written at every checkpoint (which records how many rows it holds) and when the run ends,
whichever way it ends (Lightning finalizes its loggers when fitting finishes, fails, diverges or is
interrupted), not after every logging call. NOTE: Lightning saves its loggers after every logging call
(its CSV writer appends the new rows); rewriting the whole file there cost time quadratic in the run's
length: ~9 µs a row per rewrite, so the CIFAR-10 recipe (195 000 steps, a row every 10 steps) would
rewrite its file 19 500 times, ~30 min of the training thread. A run killed outright (SIGKILL, power)
leaves the rows of its last checkpoint, exactly the ones a resumed run keeps.
"""

import csv
import hashlib
import json
import os
from pathlib import Path

from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.utilities.rank_zero import rank_zero_only

from src.core.errors import DataError
from src.runs.atomic import write_atomic
from src.runs.files import METRICS_FILE


def read_rows(path: Path, keep_rows: int, digest: str | None = None) -> list[dict[str, str]]:
    """The first ``keep_rows`` rows of a metrics file, as written (strings; "" where a row has no value),
    checked against ``digest`` (rows_digest of them when the checkpoint was saved; None in checkpoints
    older than it)."""
    if keep_rows == 0:
        return []

    def refuse(what: str) -> DataError:
        return DataError(f"cannot resume: {path} {what}; set fresh=true to start this run afresh")

    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as error:
        raise DataError(f"cannot resume: {path} cannot be read ({error.strerror}); set fresh=true") from error
    except csv.Error as error:  # a NUL byte, an unterminated quote
        raise refuse(f"is not a CSV file ({error})") from error
    if len(rows) < keep_rows:
        raise refuse(f"has {len(rows)} rows but the checkpoint was saved after {keep_rows}")
    for number, row in enumerate(rows[:keep_rows], start=2):  # line 1 is the header
        # DictReader fills a short row's missing cells with None and gathers a long row's extra ones
        # under the key None: a line cut short (a truncated file) or two lines run together.
        if None in row or None in row.values():
            raise refuse(
                f"line {number} has {'fewer' if None in row.values() else 'more'} cells than its header"
            )
        for column, cell in row.items():
            if not _is_number(cell):
                raise refuse(f"line {number}, column {column!r} holds {cell!r}, not a number")
    if digest is not None and rows_digest(rows[:keep_rows]) != digest:
        raise refuse(f"differs in its first {keep_rows} rows from what the checkpoint recorded (sha256)")
    return rows[:keep_rows]


def rows_digest(rows: list[dict[str, str]]) -> str:
    """sha256 of rows as written, blind to the columns' order and to empty cells: rows logged after a
    checkpoint can add columns, which changes the header, not the rows it accounts for."""
    canonical = [sorted((k, v) for k, v in row.items() if v != "") for row in rows]
    return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()


def _is_number(cell: str) -> bool:
    """A cell Lightning's CSV writer could have written: a number, or empty (no value in that row)."""
    if cell == "":
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return True


class _HistoryWriter(ExperimentWriter):
    def __init__(self, log_dir: str, history: list[dict]):
        self.rows: list[dict] = list(history)  # every row so far, flushed or not
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        """NOTE: Lightning deletes an existing metrics.csv here; its rows are this run's history."""

    def save(self) -> None:
        """Lightning's, after every logging call: the rows are kept, the file is written by ``write``."""
        self.rows += self.metrics
        self.metrics = []

    def write(self) -> None:
        """Every row so far into the file, atomically."""
        self.save()
        if not self.rows:
            return
        keys = sorted(set().union(*self.rows))  # Lightning's column order: sorted names

        def rows_into(f) -> None:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)

        write_atomic(Path(self.metrics_file_path), rows_into)


class MetricsCSVLogger(CSVLogger):
    """Writes ``<run_dir>/metrics.csv``; ``keep_rows`` > 0 continues the history of a resumed run."""

    def __init__(self, run_dir: Path, keep_rows: int = 0, digest: str | None = None):
        super().__init__(save_dir=run_dir, name="", version="")
        self._history = read_rows(Path(run_dir) / METRICS_FILE, keep_rows, digest)

    @property
    def experiment(self) -> _HistoryWriter:
        if self._experiment is None:
            os.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _HistoryWriter(self.log_dir, self._history)
        return self._experiment

    @rank_zero_only
    def write(self) -> None:
        """Every row so far into the file (by the process of rank zero, the one that writes the record)."""
        self.experiment.write()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """Lightning's, when fitting ends, whichever way: every row into the file."""
        if self._experiment is not None:  # None: nothing was logged, no file (as Lightning's writer)
            self.write()

    def flush(self) -> tuple[int, str]:
        """Write every row logged so far; returns how many rows the file holds and their rows_digest, of
        the file read back (the cells exactly as a resumed run will read them)."""
        self.write()
        rows = len(self.experiment.rows)
        if rows == 0:
            return 0, rows_digest([])
        with open(self.experiment.metrics_file_path, newline="") as f:
            return rows, rows_digest(list(csv.DictReader(f)))
