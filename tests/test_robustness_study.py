"""The robustness study end to end on tiny runs (2 rows × 1 seed × every condition): two real multiruns
into one study folder (the four 300-step-budget conditions at 6 steps, then budget_x5 at 5× that), the run
folders by condition, what each condition changed in the runs, the report the second sweep wrote over
all conditions, and the same report regenerated from only the records a commit keeps."""

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from src.analysis.judge.claim_catalogue import CLAIMS
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # two multiruns of 10 tiny runs and five reports: about 2 minutes on 2 cores

ROWS = ["byol", "fixed_predictor_lr"]  # a row that sets a key a condition sets too
SHORT = ["default", "predictor_lr_x10", "no_bn_heads", "second_dataset"]
CONDITIONS = ["budget_x5", *SHORT]
STEPS = 6
TINY = [  # keys both embedded data sets have, so every condition takes them
    "seed=0", "trainer.log_every_n_steps=1", "metrics.probe_steps=5", "data.batch_size=64",
    "model.backbone.hidden_dim=32", "model.projector.hidden_dim=32", "model.projector.out_dim=16",
    "logger=csv",
]  # fmt: skip
KEPT = ("summary.json", "metrics.csv", ".hydra")  # what a commit keeps of a run (experiments/README.md)


def sweep(study_dir, *overrides) -> str:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    args = ["-m", "+study=robustness", f"hydra.sweep.dir={study_dir / 'runs'}", f"+ablation={','.join(ROWS)}"]
    done = subprocess.run(
        [sys.executable, "-m", "src.run", *args, *TINY, *overrides],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    study_dir = tmp_path_factory.mktemp("robustness")
    sweep(study_dir, f"study/condition@condition={','.join(SHORT)}", f"trainer.max_steps={STEPS}")
    stdout = sweep(
        study_dir,
        "study/condition@condition=budget_x5",
        f"trainer.max_steps={5 * STEPS}",
        f"tau_stated_for_steps={STEPS}",
    )
    return study_dir, stdout


def summary(study_dir, condition: str, row: str) -> dict:
    return json.loads((study_dir / "runs" / condition / row / "seed0" / "summary.json").read_text())


def test_every_run_is_in_its_conditions_folder_under_its_own_row(study):
    study_dir, _ = study
    for condition in CONDITIONS:
        for row in ROWS:
            s = summary(study_dir, condition, row)
            assert s["status"] == "finished" and s["row"] == row and s["config"]["condition"] == condition


def test_each_condition_changed_what_it_says_and_nothing_else(study):
    study_dir, _ = study
    default = summary(study_dir, "default", "byol")["config"]
    assert (
        default["trainer"]["max_steps"] == STEPS
        and default["model"]["target"]["tau_stated_for_steps"] is None
    )
    long = summary(study_dir, "budget_x5", "byol")
    assert long["steps"] == 5 * STEPS
    assert long["config"]["model"]["target"]["tau_stated_for_steps"] == STEPS
    no_bn = summary(study_dir, "no_bn_heads", "byol")["config"]["model"]
    assert no_bn["projector"]["norm"] == no_bn["predictor"]["net"]["norm"] == "none"
    assert summary(study_dir, "predictor_lr_x10", "byol")["config"]["optimizer"]["predictor_lr_scale"] == 10
    assert summary(study_dir, "second_dataset", "byol")["config"]["data"]["_target_"].endswith(
        "ShapesDataModule"
    )
    assert summary(study_dir, "default", "byol")["config"]["data"]["_target_"].endswith("StereoDataModule")


def test_the_study_reports_every_claim_in_every_condition_and_says_where(study):
    study_dir, stdout = study
    assert f"robustness {study_dir / 'robustness.md'}" in stdout
    frame = pd.read_csv(study_dir / "robustness.csv")
    assert len(frame) == len(CLAIMS) * len(CONDITIONS)
    assert sorted(set(frame["condition"])) == sorted(CONDITIONS)
    assert frame.groupby("claim")["reading"].nunique().eq(1).all()  # one reading per claim
    assert set(frame["runs"]) == {len(ROWS)}
    # One seed decides nothing: every tested claim is inconclusive, and says why in its numbers.
    tested = frame[frame["verdict"] != "not tested"]
    assert set(tested["verdict"]) == {"inconclusive", "not read"} and set(frame["reading"]) == {
        "inconclusive"
    }
    fixed = frame.set_index(["claim", "condition"]).loc[("simsiam-fixed-predictor-lr", "predictor_lr_x10")]
    assert fixed["verdict"] == "not read" and "own optimizer.predictor_lr" in fixed["numbers"]
    claims = (study_dir / "claims.md").read_text()
    assert "## Robustness across conditions" in claims and "python -m src.analysis.robustness" in claims
    setting = frame.loc[frame["condition"] == "budget_x5", "setting"].iloc[0]
    assert f"trainer.max_steps={5 * STEPS}" in setting and "tau_stated_for_steps" in setting
    assert frame.loc[frame["condition"] == "second_dataset", "setting"].iloc[0] == "data=shapes"
    for condition in [*SHORT[1:], "budget_x5"]:
        assert (study_dir / "conditions" / condition / "claims.md").stat().st_size > 0
    assert (study_dir / "PROVENANCE.md").read_text().count("## Invocation") == 2


def test_the_report_regenerates_from_the_committed_records_alone(study, tmp_path):
    study_dir, _ = study
    clone = tmp_path / "robustness"
    for run in (study_dir / "runs").glob("*/*/seed*"):
        target = clone / run.relative_to(study_dir)
        target.mkdir(parents=True)
        for name in KEPT:
            (shutil.copytree if name == ".hydra" else shutil.copy)(run / name, target / name)
    done = subprocess.run(
        [sys.executable, "-m", "src.analysis.robustness", str(clone)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    again, first = pd.read_csv(clone / "robustness.csv"), pd.read_csv(study_dir / "robustness.csv")
    pd.testing.assert_frame_equal(again, first)
    assert (clone / "robustness.md").read_text().split("\n", 1)[1] == (
        study_dir / "robustness.md"
    ).read_text().split("\n", 1)[1]


def test_no_runs_is_exit_2_and_nothing_written(tmp_path):
    (tmp_path / "runs" / "default").mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, "-m", "src.analysis.robustness", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 2 and "no finished run in any condition" in done.stdout
    assert not (tmp_path / "robustness.md").exists() and not (tmp_path / "claims.md").exists()
