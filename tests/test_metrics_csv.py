"""A resumed run continues its metrics.csv only if the rows the checkpoint accounts for are what the
writer writes: numbers or empty cells. Anything else is one DataError line naming the file, the line and
the column (a hand-edited or corrupted file is never continued silently). The file is written at each
checkpoint and when the run ends, not at every logging call."""

import pytest

from src.core.errors import DataError
from src.runs.metrics_csv import MetricsCSVLogger, read_rows, rows_digest


def write(path, body: str):
    path.write_text("collapse/z_std,epoch,step,train/loss\n" + body)
    return path


def test_numeric_and_empty_cells_are_read_back_as_written(tmp_path):
    path = write(tmp_path / "metrics.csv", "0.5,0,0,\n,0,1,0.87\n,0,2,nan\n")
    rows = read_rows(path, keep_rows=3)
    assert [r["train/loss"] for r in rows] == ["", "0.87", "nan"]


def test_a_non_numeric_cell_is_refused_naming_the_file_line_and_column(tmp_path):
    path = write(tmp_path / "metrics.csv", "0.5,0,0,\n,0,1,oops\n")
    with pytest.raises(
        DataError, match=r"metrics\.csv line 3, column 'train/loss' holds 'oops', not a number"
    ):
        read_rows(path, keep_rows=2)
    assert read_rows(path, keep_rows=1)  # rows after the checkpoint's are dropped, not judged


def test_rows_reach_the_file_at_a_checkpoint_and_at_the_end_not_at_every_logging_call(tmp_path):
    """Lightning saves its loggers after every logging call: rewriting the file there costs time quadratic
    in the run's length. A checkpoint's flush writes every row so far; so does Lightning's finalize, which
    it calls however fitting ends (finished, failed, diverged, interrupted)."""
    logger = MetricsCSVLogger(tmp_path)
    path = tmp_path / "metrics.csv"

    def log(step: int) -> None:  # as Lightning's logger connector does
        logger.log_metrics({"train/loss": 1.0 / (step + 1)}, step=step)
        logger.save()

    for step in range(3):
        log(step)
    assert not path.exists()
    rows, digest = logger.flush()
    assert rows == 3 and digest == rows_digest(read_rows(path, keep_rows=3))
    log(3)
    assert len(path.read_text().splitlines()) == 1 + 3  # the header and the checkpoint's rows
    logger.finalize("failed")
    assert len(path.read_text().splitlines()) == 1 + 4
    assert [r["step"] for r in read_rows(path, keep_rows=4)] == ["0", "1", "2", "3"]
