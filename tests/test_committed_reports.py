"""Every committed study's tables and reports regenerate byte for byte from its committed run records
alone, in a clone without checkpoints, with the README's command."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def committed_studies() -> list[str]:
    """Studies whose run records are committed (git ls-files): what a clone can regenerate."""
    done = subprocess.run(
        ["git", "ls-files", "experiments/*/runs/*"], cwd=ROOT, capture_output=True, text=True
    )
    return sorted({line.split("/")[1] for line in done.stdout.splitlines()})


@pytest.mark.parametrize("study", committed_studies() or [pytest.param(None, marks=pytest.mark.skip(
    reason="no study has committed run records yet"))])  # fmt: skip
def test_a_committed_study_regenerates_its_committed_report_byte_for_byte(study, tmp_path):
    """Every table and report a committed study keeps (``*.md``, ``*.csv`` beside its runs) is rewritten from
    its run records alone, in a clone without checkpoints, and comes out byte for byte the same."""
    archive = subprocess.run(
        ["git", "archive", "HEAD", f"experiments/{study}"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive, check=True)
    clone = tmp_path / "experiments" / study
    assert not list(clone.rglob("*.ckpt")) and not list(clone.rglob("wandb"))
    config = OmegaConf.load(ROOT / "conf" / "study" / f"{study}.yaml")
    baseline = OmegaConf.select(config, "hydra.callbacks.study_report.baseline", default="byol")
    callback = str(OmegaConf.select(config, "hydra.callbacks.study_report._target_"))
    per_condition = callback.endswith("RobustnessReport")  # judged per condition, never all runs together
    panel = callback.endswith("PanelReport")  # the verdict panel: its cases, not an ablation table
    written = ["panel.md", "panel.csv"] if panel else ["table.md", "table.csv", "claims.md"]
    written += ["robustness.md", "robustness.csv"] if per_condition else []
    # Hand-written or appended by the study run itself, not by the report command:
    kept = {
        path: path.read_bytes() for path in reports(clone) if path.name not in ("PROVENANCE.md", "CHANGES.md")
    }
    for path in kept:
        path.unlink()  # so that each must be written again
    module = (
        "src.analysis.panel"
        if panel
        else "src.analysis.robustness"
        if per_condition
        else "src.analysis.report"
    )
    done = subprocess.run(
        [sys.executable, "-m", module, f"experiments/{study}", *([] if panel else ["--baseline", baseline])],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert ", 0 unreadable" in done.stdout.splitlines()[0]
    assert {clone / name for name in written} <= set(kept)
    for path, committed in kept.items():
        assert path.exists() and path.read_bytes() == committed, path.relative_to(clone)


def reports(study_dir: Path) -> list[Path]:
    """The markdown and CSV files of a study folder outside its run records."""
    return sorted(
        p
        for p in study_dir.rglob("*")
        if p.suffix in (".md", ".csv") and "runs" not in p.relative_to(study_dir).parts
    )
