"""`python -m src.analysis.report FOLDER…` on the folders a real study or sweep can leave: empty, only
unfinished runs, a truncated summary or a corrupt metrics.csv, runs of unlike configs under one name, a
multirun sweep's folder of runs labelled with their setting, several folders at once. It says in one line
what it found, writes what it can, and never ends with a traceback."""

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


def test_a_folder_without_runs_is_one_line_exit_2_and_nothing_written(tmp_path, capsys):
    code, out, err = report(tmp_path, capsys)
    line = f"found 0 finished, 0 unfinished, 0 unreadable in {tmp_path}: no finished run, no report written into {tmp_path}"
    assert (code, out, err) == (2, [line], [])
    assert list(tmp_path.iterdir()) == []
    code, out, err = report(tmp_path / "absent", capsys)
    assert (code, out) == (2, []) and err == [
        f"error: {tmp_path / 'absent'} is not a folder: give a study, sweep or run folder"
    ]


def test_an_empty_runs_folder_says_so_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "runs").mkdir()
    code, out, _ = report(tmp_path, capsys)
    assert code == 2
    assert out == [
        f"found 0 finished, 0 unfinished, 0 unreadable in {tmp_path / 'runs'}: no finished run, no report "
        f"written into {tmp_path}"
    ]
    assert written(tmp_path) == set()


def test_only_unfinished_runs_leave_the_committed_results_as_they_are(tmp_path, capsys):
    write_run(tmp_path, "byol/seed0", overrides=["+ablation=byol", "seed=0"])  # killed: no summary
    write_run(tmp_path, "byol/seed1", {**finished("byol", 1, 0.6), "status": "failed", "error": "E: x"})
    (tmp_path / "table.md").write_text("the committed table\n")
    code, out, _ = report(tmp_path, capsys)
    assert code == 2
    assert out[0].startswith(
        f"found 0 finished, 2 unfinished, 0 unreadable in {tmp_path / 'runs'}: no finished"
    )
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


def write_sweep(sweep_dir, setting: str, rows=("byol", "no_stopgrad"), seeds=(0, 1)) -> None:
    """A multirun sweep's folder as Hydra leaves it: ``<n>_<label>_seed<s>/`` per job, labels with the
    setting (src/runs/naming.py)."""
    for n, (row, seed) in enumerate((r, s) for r in rows for s in seeds):
        label = f"{row}+{setting}" if setting else row
        summary = finished(label, seed, 0.3 if row == "no_stopgrad" else 0.6 + 0.01 * seed)
        if row == "no_stopgrad":
            summary["verdict"] = "complete_collapse"
        run_dir = sweep_dir / f"{n}_{label}_seed{seed}"
        run_dir.mkdir(parents=True)
        (run_dir / "summary.json").write_text(json.dumps(summary))


def test_a_sweep_folder_is_reported_and_its_claims_are_judged_under_its_setting(tmp_path, capsys):
    sweep = tmp_path / "multirun" / "2026-12-06_10-00-00"
    write_sweep(sweep, "trainer.max_steps=150")
    code, out, _ = report(sweep, capsys)
    assert code == 0 and out[0] == f"found 4 finished, 0 unfinished, 0 unreadable in {sweep}"
    table = pd.read_csv(sweep / "table.csv", index_col="row")
    assert sorted(table.index) == ["byol+trainer.max_steps=150", "no_stopgrad+trainer.max_steps=150"]
    delta = [c for c in table.columns if c.startswith("Δ")]
    assert delta == ["Δ probe/linear_acc vs byol+trainer.max_steps=150"]  # the baseline, found by its row
    assert table.loc["no_stopgrad+trainer.max_steps=150", delta[0]] == pytest.approx(-0.305)
    claims = (sweep / "claims.md").read_text()
    # seed-1 (two networks trained only to agree collapse) rests on no_stopgrad alone: judged, under the sweep's setting
    assert "| seed-1 | **holds** | no_stopgrad | `trainer.max_steps=150` |" in claims
    assert "### seed-1: holds (under `trainer.max_steps=150`)" in claims
    assert "python -m src.analysis.report " + str(sweep) in claims
    assert "PROVENANCE" not in claims  # a sweep has none: the report links none
    not_tested = claims.split("## Not tested in this study")[1].split("##")[0].strip().splitlines()
    assert all(line.startswith("- needs rows ") for line in not_tested)  # grouped: one line per reason
    assert len(not_tested) == len({line.split(":")[0] for line in not_tested})


def test_rows_under_different_settings_are_judged_apart_and_never_compared(tmp_path, capsys):
    write_sweep(tmp_path / "a", "trainer.max_steps=150", rows=("byol_negatives",))
    write_sweep(tmp_path / "b", "", rows=("byol",))
    code, _, err = report(tmp_path / "a", capsys, "--out", str(tmp_path / "r"))
    assert code == 0, err
    assert report(tmp_path / "a", capsys)[0] == 0  # one folder: the report beside its runs
    code = main([str(tmp_path / "a"), str(tmp_path / "b")])
    assert code == 2 and "--out is needed with 2 folders" in capsys.readouterr().err
    code = main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "both")])
    capsys.readouterr()
    assert code == 0
    claims = (tmp_path / "both" / "claims.md").read_text()
    assert "`trainer.max_steps=150` (2 runs)" in claims and "the defaults (2 runs)" in claims
    # byol ran under the defaults, byol_negatives under 150 steps: the claim comparing them is judged nowhere
    assert (
        "- its rows byol_negatives, byol ran under different settings: byol-5b-negatives-unneeded" in claims
    )
    assert f"--out {tmp_path / 'both'}" in claims
