"""A resumed run continues its metrics.csv only if the rows the checkpoint accounts for are what the
writer writes: numbers or empty cells. Anything else is one DataError line naming the file, the line and
the column (a hand-edited or corrupted file is never continued silently)."""

import pytest

from src.core.errors import DataError
from src.runs.metrics_csv import read_rows


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
