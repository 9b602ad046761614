"""The `smoke` study end to end, as a user runs it: one real multirun in a subprocess (once per module),
then the loader on the tree of runs it made, its report, the notebooks, and a re-run that skips the
finished runs and redoes an unfinished one."""

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import papermill
import pytest

from src.analysis.loader import load_runs
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
