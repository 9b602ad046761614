"""Re-judging stored runs: a committed run record judged again by the current rule gives the verdict the
rule gives its statistics, the probe's standard error by the run-time formula, an updated config whose hash
a re-run would compute, nothing trained (metrics.csv untouched, a provenance entry with no run executed),
and one line when the test size is unknown."""

import json
import shutil

import pytest

from src.analysis.rejudge import current_settings, main
from src.metrics.probes import accuracy_se
from src.metrics.verdict import VerdictRule, bare_names, collapse_verdict
from src.runs.record import config_hash
from tests.conftest import ROOT

pytestmark = pytest.mark.unit
COMMITTED_RUN = ROOT / "experiments" / "collapse_table" / "runs" / "no_stopgrad" / "seed0"


@pytest.fixture
def study(tmp_path):
    run = tmp_path / "study" / "runs" / "no_stopgrad" / "seed0"
    shutil.copytree(COMMITTED_RUN, run)
    summary = json.loads((run / "summary.json").read_text())
    for metrics in (summary["final"], summary["reference"]):  # a record from before the probe's SE
        metrics.pop("probe/linear_acc_se", None)
    summary["verdict"] = "no_collapse"
    (run / "summary.json").write_text(json.dumps(summary))
    return tmp_path / "study", run


def test_a_stored_run_is_judged_by_the_current_rule_without_training(study, capsys):
    study_dir, run = study
    csv_before = (run / "metrics.csv").read_bytes()
    assert main([str(study_dir)]) == 0
    assert "1 × no_collapse → complete_collapse" in capsys.readouterr().out
    summary = json.loads((run / "summary.json").read_text())
    settings = current_settings()
    assert summary["config"]["metrics"]["verdict"] == settings["verdict"]
    assert summary["config_hash"] == config_hash(summary["config"])
    n = summary["config"]["data"]["num_test"]
    final, reference = summary["final"], summary["reference"]
    assert final["probe/linear_acc_se"] == pytest.approx(accuracy_se(final["probe/linear_acc"], n))
    expected = collapse_verdict(
        bare_names(final), bare_names(reference), VerdictRule.from_settings(settings["verdict"])
    )
    assert summary["verdict"] == expected.verdict == "complete_collapse"
    assert final["verdict/z_energy_decades"] == pytest.approx(expected.values["z_energy_decades"])
    assert (run / "metrics.csv").read_bytes() == csv_before
    (entry,) = json.loads((study_dir / "provenance.json").read_text())
    assert entry["runs_executed_now"] == 0 and "no training" in entry["note"]


def test_a_run_without_its_test_size_is_refused_in_one_line(study, capsys):
    study_dir, run = study
    summary = json.loads((run / "summary.json").read_text())
    del summary["config"]["data"]["num_test"]
    (run / "summary.json").write_text(json.dumps(summary))
    assert main([str(study_dir)]) == 2
    out = capsys.readouterr().out.strip()
    assert "\n" not in out and "data.num_test is not set" in out and "summary.json" in out
