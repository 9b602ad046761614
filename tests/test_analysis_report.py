"""`python -m src.analysis.report <study_dir>` on the folders a real study can leave: empty, only
unfinished runs, a truncated summary or a corrupt metrics.csv, runs of unlike configs under one name.
It says in one line what it found, writes what it can, and never ends with a traceback."""

import json

import pandas as pd
import pytest

from src.analysis.render.tables import TABLE_METRICS
from src.analysis.report import main

METRICS_CSV = "collapse/z_std_sqrt_d,probe/linear_acc,step,train/loss\n0.5,0.4,0,\n,,1,1.5\n0.8,0.6,2,\n"


def finished(row: str, seed: int, acc: float, max_steps: int = 2) -> dict:
    final = dict.fromkeys(TABLE_METRICS, 1.0) | {"probe/linear_acc": acc}
    return {
        "status": "finished",
        "row": row,
        "study": "s",
        "seed": seed,
        "verdict": "no_collapse",
        "final": final,
        "reference": {"probe/linear_acc": 0.4},
        "choices": {"model/target": "ema"},
        "config": {"seed": seed, "row": row, "data": {"seed": seed}, "trainer": {"max_steps": max_steps}},
        "spectra": {"final": {"z": [2.0, 1.0]}, "reference": {"z": [1.0, 1.0]}},
    }


def write_run(study_dir, name, summary=None, metrics=METRICS_CSV, overrides=()):
    run_dir = study_dir / "runs" / name
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides) or "[]\n")
    if summary is not None:
        (run_dir / "summary.json").write_text(summary if isinstance(summary, str) else json.dumps(summary))
    if metrics is not None:
        (run_dir / "metrics.csv").write_text(metrics)
    return run_dir


def report(study_dir, capsys, *args) -> tuple[int, list[str], list[str]]:
    code = main([str(study_dir), *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def written(study_dir) -> set[str]:
    return {p.relative_to(study_dir).as_posix() for p in study_dir.rglob("*") if p.is_file()} - {
        p.relative_to(study_dir).as_posix() for p in (study_dir / "runs").rglob("*") if p.is_file()
    }


def test_no_runs_folder_is_one_line_exit_2_and_nothing_written(tmp_path, capsys):
    code, out, err = report(tmp_path, capsys)
    assert (code, out, err) == (2, [], [f"no runs folder at {tmp_path / 'runs'}: no report written"])
    assert list(tmp_path.iterdir()) == []


def test_an_empty_runs_folder_says_so_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "runs").mkdir()
    code, out, _ = report(tmp_path, capsys)
    assert code == 2
    assert out == [
        f"found 0 finished, 0 unfinished, 0 unreadable in {tmp_path / 'runs'}",
        f"no finished run: no report written into {tmp_path}",
    ]
    assert written(tmp_path) == set()


def test_only_unfinished_runs_leave_the_committed_results_as_they_are(tmp_path, capsys):
    write_run(tmp_path, "byol/seed0", overrides=["+ablation=byol", "seed=0"])  # killed: no summary
    write_run(tmp_path, "byol/seed1", {**finished("byol", 1, 0.6), "status": "failed", "error": "E: x"})
    (tmp_path / "table.md").write_text("the committed table\n")
    code, out, _ = report(tmp_path, capsys)
    assert code == 2
    assert out[0] == f"found 0 finished, 2 unfinished, 0 unreadable in {tmp_path / 'runs'}"
    assert (tmp_path / "table.md").read_text() == "the committed table\n"
    assert written(tmp_path) == {"table.md"}


def test_a_truncated_summary_and_a_corrupt_metrics_csv_are_named_and_the_report_is_written(tmp_path, capsys):
    write_run(tmp_path, "byol/seed0", finished("byol", 0, 0.6))
    write_run(tmp_path, "byol/seed1", finished("byol", 1, 0.7), metrics="step,a\n0,1\n1,2,3,4,5\n")
    write_run(tmp_path, "byol/seed2", json.dumps(finished("byol", 2, 0.9))[:100], overrides=["seed=2"])
    write_run(tmp_path, "no_predictor/seed0", finished("no_predictor", 0, 0.5))
    write_run(tmp_path, "no_predictor/seed1", overrides=["+ablation=no_predictor", "seed=1"])
    code, out, err = report(tmp_path, capsys)
    assert code == 0 and err == []
    found = out[0]
    assert found.startswith(f"found 3 finished, 1 unfinished, 2 unreadable in {tmp_path / 'runs'} (")
    assert (
        "byol/seed1/metrics.csv: ParserError" in found and "byol/seed2/summary.json: JSONDecodeError" in found
    )
    assert {"table.md", "table.csv", "claims.md", "figures/dynamics.png", "figures/spectra.png"} <= written(
        tmp_path
    )
    table = pd.read_csv(tmp_path / "table.csv", index_col="row")
    assert table.loc["byol", "seeds"] == 2  # seed1's result stands without its curves
    assert table.loc["byol", "probe/linear_acc mean"] == pytest.approx(0.65)
    assert table.loc["no_predictor", "unfinished"] == 1


def test_a_row_of_unlike_runs_is_split_in_the_table_with_a_warning(tmp_path, capsys):
    write_run(tmp_path, "byol/seed0", finished("byol", 0, 0.5, max_steps=2))
    write_run(tmp_path, "byol/seed1", finished("byol", 1, 0.6, max_steps=2))
    write_run(tmp_path, "byol_long/seed0", finished("byol", 0, 0.9, max_steps=6))
    code, out, _ = report(tmp_path, capsys)
    assert code == 0
    assert out[1].startswith("warning: row byol: its runs differ in trainer.max_steps; split into")
    table = pd.read_csv(tmp_path / "table.csv", index_col="row")
    assert table["seeds"].to_dict() == {"byol[trainer.max_steps=2]": 2, "byol[trainer.max_steps=6]": 1}


def test_the_title_names_every_study_the_runs_came_from(tmp_path, capsys):
    write_run(tmp_path, "a/byol/seed0", finished("byol", 0, 0.5) | {"study": "alpha"})
    write_run(tmp_path, "b/byol/seed1", finished("byol", 1, 0.6) | {"study": "beta"})
    code, out, _ = report(tmp_path, capsys)
    assert code == 0 and "warning: runs of 2 studies in one folder: alpha, beta" in out
    assert (tmp_path / "claims.md").read_text().startswith("# Claims report: alpha + beta")
