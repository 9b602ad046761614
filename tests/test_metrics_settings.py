"""The measurement settings get the bad-input treatment: a bad verdict threshold or calibration count is
refused when the run is built, before any training step (one line naming the key, exit 2, no run
written), not after the whole run as before."""

import pytest

from tests.conftest import TINY
from tests.run_cli import run_cli

CASES = {
    "band of 1.5": (
        "metrics.verdict.band=1.5",
        "metrics.verdict.band must be a finite number in (0, 1), got 1.5",
    ),
    "zero energy threshold": (
        "metrics.verdict.energy_below_decades=0",
        "metrics.verdict.energy_below_decades must be a finite number in (0, 8], got 0",
    ),
    "probe threshold as a word": (
        "metrics.verdict.probe_below_se=high",
        "metrics.verdict.probe_below_se must be a number",
    ),
    "unknown representation": (
        "metrics.verdict.complete_on=[z,q]",
        "metrics.verdict.complete_on[k] must be one of h, z, p, got 'q'",
    ),
    "negative calibration": (
        "metrics.calibration_batches=-1",
        "metrics.calibration_batches must be an integer ≥ 0, got -1",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_measurement_settings_are_refused_before_training(case, tmp_path):
    override, message = CASES[case]
    run_dir = tmp_path / "run"
    code, out, err = run_cli([*TINY, f"hydra.run.dir={run_dir}", override])
    assert code == 2, (out, err)
    assert len([line for line in err.splitlines() if message in line]) == 1, err
    assert "Traceback" not in err and "finished" not in out
    for path in ("summary.json", "checkpoints", "metrics.csv"):
        assert not (run_dir / path).exists(), path
