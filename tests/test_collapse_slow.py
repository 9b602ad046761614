"""End to end, for real: the baseline does not collapse and removing stop-gradient makes it collapse,
by the suite's own verdict (200 steps on a smaller stereogram set, measured: z std×√d ≈ 0.8 vs 0.04); and
on every embedded data set, at the small budget the tests can afford, two networks trained only to agree
(no_stopgrad) are called completely collapsed and SimCLR is called not collapsed."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SHRUNK = [
    "trainer.max_steps=200",
    "trainer.enable_progress_bar=false",
    "data.num_probe_train=2048",
    "data.num_test=512",
    "data.num_eval=256",
    "metrics.probe_steps=30",
    "metrics.every_n_steps=100",
    "logger=csv",
]


def run_row(row: str, run_dir) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "src.run", f"+ablation={row}", *SHRUNK, f"hydra.run.dir={run_dir}"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "verdict" in out.stdout and str(run_dir) in out.stdout  # the printed summary
    return json.loads((run_dir / "summary.json").read_text())


@pytest.mark.slow
def test_baseline_does_not_collapse_and_no_stopgrad_does(tmp_path):
    byol = run_row("byol", tmp_path / "byol")
    no_stopgrad = run_row("no_stopgrad", tmp_path / "no_stopgrad")
    assert byol["verdict"] == "no_collapse"
    assert byol["final"]["probe/linear_acc"] > byol["reference"]["probe/linear_acc"]
    assert no_stopgrad["verdict"] == "complete_collapse"
    assert no_stopgrad["final"]["collapse/z_std_sqrt_d"] < 0.1 < byol["final"]["collapse/z_std_sqrt_d"]


SMALL_SIZES = ["data.num_probe_train=1024", "data.num_test=512", "data.num_eval=256"]
EVERY_DATA_SET = {  # the embedded data sets, with held-out sizes the tests can afford
    "stereo": SMALL_SIZES,
    "shapes": SMALL_SIZES,
    "digits": [],  # its own fixed 20 % test split
    "photos": SMALL_SIZES,
}


@pytest.mark.slow
@pytest.mark.parametrize("data", sorted(EVERY_DATA_SET))
def test_no_stopgrad_collapses_and_simclr_does_not_on_every_embedded_data_set(tmp_path, data):
    budget = ["trainer.max_steps=100", "trainer.enable_progress_bar=false", "metrics.probe_steps=30",
              "metrics.every_n_steps=100", "logger=csv", f"data={data}", *EVERY_DATA_SET[data]]  # fmt: skip
    verdicts = {}
    for row in ("no_stopgrad", "simclr"):
        out = subprocess.run(
            [sys.executable, "-m", "src.run", f"+ablation={row}", *budget, f"hydra.run.dir={tmp_path / row}"],
            cwd=ROOT, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-3000:]
        verdicts[row] = json.loads((tmp_path / row / "summary.json").read_text())["verdict"]
    assert verdicts == {"no_stopgrad": "complete_collapse", "simclr": "no_collapse"}
