"""The `smoke` study end to end, as a user runs it: one real multirun in a subprocess (once per module),
then the loader on the tree of runs it made, its report, the notebooks, a re-run that skips the
finished runs and redoes an unfinished one, the report regenerated from only the records a commit keeps
and the report and notebooks on a half-written study (every committed study: tests/test_committed_reports.py)."""

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import papermill
import pytest

from src.analysis.load.runs import load_runs
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # two real multiruns and two notebook kernels: about a minute on 2 idle cores

ROWS, SEEDS = ["byol", "no_predictor", "random_target"], [0, 1]  # conf/study/smoke.yaml
NOTEBOOKS = ["ablation_table_and_claims.ipynb", "collapse_dynamics.ipynb"]


def run_smoke(runs_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    done = subprocess.run(
        [sys.executable, "-m", "src.run", "-m", "+study=smoke", f"hydra.sweep.dir={runs_dir}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """The study folder (runs under runs/, report beside them) and the first invocation's stdout."""
    study_dir = tmp_path_factory.mktemp("smoke")
    return study_dir, run_smoke(study_dir / "runs").stdout


def test_loader_reads_every_run_the_study_made(smoke):
    study_dir, _ = smoke
    loaded = load_runs(study_dir / "runs")
    assert loaded.n_unfinished == 0
    assert sorted(zip(loaded.runs["row"], loaded.runs["seed"], strict=True)) == [
        (r, s) for r in ROWS for s in SEEDS
    ]
    assert set(loaded.runs["study"]) == {"smoke"} and set(loaded.runs["status"]) == {"finished"}
    assert loaded.runs["cfg.trainer.max_steps"].eq(6).all()
    first = loaded.steps.groupby("run")["step"].min()
    last = loaded.steps[loaded.steps["metric"] == "collapse/z_rank"].groupby("run")["step"].max()
    assert first.eq(0).all() and last.eq(6).all()  # the random-init reference at step 0 … the final at 6
    reference = loaded.steps[(loaded.steps["step"] == 0) & (loaded.steps["metric"] == "probe/linear_acc")]
    by_run = loaded.runs.set_index("run")["ref.probe/linear_acc"]
    assert dict(zip(reference["run"], reference["value"], strict=True)) == pytest.approx(by_run.to_dict())
    dims = loaded.spectra[loaded.spectra["stage"] == "final"].groupby(["run", "representation"]).size()
    assert dims.xs("z", level="representation").eq(16).all()  # smoke's projector out_dim


def test_the_study_writes_its_table_claims_figures_and_provenance_and_says_where(smoke):
    study_dir, stdout = smoke
    for name in (
        "table.md",
        "table.csv",
        "claims.md",
        "PROVENANCE.md",
        "figures/dynamics.png",
        "figures/spectra.png",
    ):
        assert (study_dir / name).stat().st_size > 0, name
    assert f"claims     {study_dir / 'claims.md'}" in stdout
    assert "[6/6]" in stdout  # per-job progress (src.runs.sweep_callbacks)
    table = pd.read_csv(study_dir / "table.csv", index_col="row")
    assert list(table.index) == ROWS and table["seeds"].eq(2).all()
    claims = (study_dir / "claims.md").read_text()
    assert "byol-5b-no-predictor" in claims and "## Not tested in this study" in claims
    assert "![Collapse metrics" in claims
    (entry,) = json.loads((study_dir / "provenance.json").read_text())
    assert entry["runs_executed_now"] == 6 and entry["machine"]["nproc"] >= 1
    assert entry["load"]["samples"] >= 2 and entry["load"]["max"] >= entry["load"]["mean"] > 0
    assert "- Load (1-min average" in (study_dir / "PROVENANCE.md").read_text()


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebooks_execute_on_the_smoke_study(smoke, tmp_path, notebook):
    study_dir, _ = smoke
    out = tmp_path / notebook
    papermill.execute_notebook(
        str(ROOT / "analysis" / notebook), str(out), parameters={"study_dir": str(study_dir)},
        kernel_name="python3", cwd=str(ROOT), progress_bar=False,
    )  # fmt: skip
    executed = json.loads(out.read_text())
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert any(o.get("data", {}).get("image/png") for c in executed["cells"] for o in c.get("outputs", []))


def test_committed_notebooks_hold_no_outputs():
    for notebook in NOTEBOOKS:
        cells = json.loads((ROOT / "analysis" / notebook).read_text())["cells"]
        assert all(
            not c.get("outputs") and c.get("execution_count") is None
            for c in cells
            if c["cell_type"] == "code"
        )
        assert any("parameters" in c["metadata"].get("tags", []) for c in cells), notebook


def test_rerun_skips_finished_runs_and_redoes_an_unfinished_one(smoke, tmp_path):
    study_dir, _ = smoke
    copy = tmp_path / "smoke"
    shutil.copytree(study_dir, copy)  # copy2 keeps the modification times
    summaries = {
        p.parent.relative_to(copy / "runs").as_posix(): p for p in (copy / "runs").glob("*/*/summary.json")
    }
    before = {run: p.stat().st_mtime_ns for run, p in summaries.items()}
    summaries["no_predictor/seed1"].unlink()  # as if killed after its last checkpoint
    stdout = run_smoke(copy / "runs").stdout
    after = {run: p.stat().st_mtime_ns for run, p in summaries.items()}
    changed = {run for run in before if after[run] != before[run]}
    assert changed == {"no_predictor/seed1"}
    assert stdout.count("skip: ") == 5
    assert load_runs(copy / "runs").n_unfinished == 0
    entries = json.loads((copy / "provenance.json").read_text())
    assert [e["runs_executed_now"] for e in entries] == [6, 1]


# --- a study regenerates from its committed records alone, as on a fresh clone ----------------------


def committed_records(runs_dir, study_dir_in_repo: str = "experiments/collapse_table") -> list:
    """The files under ``runs_dir`` that .gitignore would let a commit keep, were the folder a
    committed study's ``runs/`` (the smoke study itself is ignored as a whole)."""
    files = sorted(p for p in runs_dir.rglob("*") if p.is_file())
    as_committed = [f"{study_dir_in_repo}/runs/{p.relative_to(runs_dir).as_posix()}" for p in files]
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        cwd=ROOT, input="\n".join(as_committed), capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr  # 1: nothing ignored
    ignored = set(done.stdout.splitlines())
    return [p for p, name in zip(files, as_committed, strict=True) if name not in ignored]


def regenerate(study_dir, *args: str, module: str = "src.analysis.report") -> subprocess.CompletedProcess:
    """The README's command, in a fresh interpreter (``src.analysis.robustness`` for the robustness study,
    whose runs are judged per condition)."""
    return subprocess.run(
        [sys.executable, "-m", module, str(study_dir), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_report_regenerates_from_the_records_a_commit_keeps(smoke, tmp_path):
    study_dir, _ = smoke
    clone = tmp_path / "clone"
    kept = committed_records(study_dir / "runs")
    names = {p.name for p in kept}
    assert {"summary.json", "metrics.csv", "overrides.yaml", "config.yaml"} <= names
    assert not [
        p for p in kept if {"checkpoints", "wandb", ".jobs"} & set(p.parts) or p.suffix in (".ckpt", ".log")
    ]
    for path in kept:
        target = clone / "runs" / path.relative_to(study_dir / "runs")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    assert not list(clone.rglob("*.ckpt")) and list((study_dir / "runs").rglob("*.ckpt"))
    done = regenerate(clone)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == f"found 6 finished, 0 unfinished, 0 unreadable in {clone / 'runs'}"
    pd.testing.assert_frame_equal(
        pd.read_csv(clone / "table.csv", index_col="row"),
        pd.read_csv(study_dir / "table.csv", index_col="row"),
    )
    assert (clone / "figures" / "dynamics.png").stat().st_size > 0


# --- the notebooks and the report on a study left half-written ---------------------------------------


@pytest.fixture(scope="module")
def broken(smoke, tmp_path_factory):
    """The smoke study with one summary cut short, one metrics.csv corrupt, one run killed."""
    study_dir, _ = smoke
    copy = tmp_path_factory.mktemp("broken") / "smoke"
    shutil.copytree(study_dir, copy)
    cut = copy / "runs" / "byol" / "seed1" / "summary.json"
    cut.write_text(cut.read_text()[:500])
    (copy / "runs" / "no_predictor" / "seed0" / "metrics.csv").write_text("step,a\n0,1\n1,2,3,4\n")
    (copy / "runs" / "random_target" / "seed1" / "summary.json").unlink()
    return copy


def test_the_report_on_a_half_written_study_names_what_it_could_not_read(broken):
    done = regenerate(broken)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"found 4 finished, 1 unfinished, 2 unreadable in {broken / 'runs'} (")
    assert "byol/seed1/summary.json: JSONDecodeError" in first and "no_predictor/seed0/metrics.csv" in first
    table = pd.read_csv(broken / "table.csv", index_col="row")
    assert table["seeds"].to_dict() == {"byol": 1, "no_predictor": 2, "random_target": 1}
    assert table["unfinished"].to_dict() == {"byol": 1, "no_predictor": 0, "random_target": 1}


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebooks_say_what_they_found_on_a_broken_study(broken, tmp_path, notebook):
    out = tmp_path / notebook
    papermill.execute_notebook(
        str(ROOT / "analysis" / notebook), str(out), parameters={"study_dir": str(broken)},
        kernel_name="python3", cwd=str(ROOT), progress_bar=False,
    )  # fmt: skip
    outputs = [o for c in json.loads(out.read_text())["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    printed = "".join("".join(o.get("text", "")) for o in outputs if o.get("name") == "stdout")
    assert "found 4 finished, 1 unfinished, 2 unreadable" in printed


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_a_notebook_on_a_folder_without_a_finished_run_stops_with_one_line(tmp_path, notebook):
    (tmp_path / "empty").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "papermill", str(ROOT / "analysis" / notebook), str(tmp_path / notebook),
         "-p", "study_dir", str(tmp_path / "empty"), "--cwd", str(ROOT), "--no-progress-bar"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode != 0
    line = f"NothingToAnalyse: found 0 finished, 0 unfinished, 0 unreadable in {tmp_path / 'empty'}: no finished run to analyse"
    assert line in done.stderr
