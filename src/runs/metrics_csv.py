"""``metrics.csv``: Lightning's CSV logger, made to survive a resume and never be seen half-written.

Lightning's writer deletes an existing ``metrics.csv`` when a run restarts and appends rows in place.
This one keeps every row of the run: on resume it starts from the first ``keep_rows`` rows of the file
(the rows the checkpoint accounts for; rows logged after the checkpoint by the killed process are dropped
and logged again, identically, by the resumed one), and each flush rewrites the whole file atomically.
A resumed run's file is thus the file an uninterrupted run writes.
"""

import csv
import os
from pathlib import Path

from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter

from src.config.errors import DataError
from src.runs.atomic import write_atomic
from src.runs.files import METRICS_FILE


def read_rows(path: Path, keep_rows: int) -> list[dict[str, str]]:
    """The first ``keep_rows`` rows of a metrics file, as written (strings; "" where a row has no value)."""
    if keep_rows == 0:
        return []
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as error:
        raise DataError(f"cannot resume: {path} cannot be read ({error.strerror}); set fresh=true") from error
    if len(rows) < keep_rows:
        raise DataError(
            f"cannot resume: {path} has {len(rows)} rows but the checkpoint was saved after {keep_rows}; "
            "set fresh=true to start this run afresh"
        )
    for number, row in enumerate(rows[:keep_rows], start=2):  # line 1 is the header
        for column, cell in row.items():
            if not _is_number(cell):
                raise DataError(
                    f"cannot resume: {path} line {number}, column {column!r} holds {cell!r}, not a number; "
                    "set fresh=true to start this run afresh"
                )
    return rows[:keep_rows]


def _is_number(cell: str | None) -> bool:
    """A cell Lightning's CSV writer could have written: a number, or empty (no value in that row)."""
    if cell is None or cell == "":
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
        self.rows += self.metrics
        self.metrics = []
        if not self.rows:
            return
        keys = sorted(set().union(*self.rows))  # Lightning's column order: sorted names

        def write(f) -> None:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)

        write_atomic(Path(self.metrics_file_path), write)


class MetricsCSVLogger(CSVLogger):
    """Writes ``<run_dir>/metrics.csv``; ``keep_rows`` > 0 continues the history of a resumed run."""

    def __init__(self, run_dir: Path, keep_rows: int = 0):
        super().__init__(save_dir=run_dir, name="", version="")
        self._history = read_rows(Path(run_dir) / METRICS_FILE, keep_rows)

    @property
    def experiment(self) -> _HistoryWriter:
        if self._experiment is None:
            os.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _HistoryWriter(self.log_dir, self._history)
        return self._experiment

    def flush(self) -> int:
        """Write every row logged so far; returns how many rows the file holds."""
        self.save()
        return len(self.experiment.rows)
