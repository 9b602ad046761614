"""The study floor benchmark (benchmarks/study_floor.py, counting with src/bench/study_floor.py) counts
what a study really runs: its jobs as the sweeper makes them, its measurements as the collapse monitor
takes them, its arithmetic by hand."""

import csv
import itertools

import pytest

from src.analysis.judge.claim_catalogue import CLAIMS
from src.bench.study_floor import floor_seconds, measurements_per_run, study_runs, time_run
from src.runs.files import METRICS_FILE
from src.train import train
from tests.conftest import CONF, ROWS

pytestmark = pytest.mark.module


def measured_steps(run_dir) -> list[int]:
    """The steps at which metrics.csv holds a collapse measurement."""
    with open(run_dir / METRICS_FILE) as f:
        return sorted({int(r["step"]) for r in csv.DictReader(f) if r.get("collapse/z_std_sqrt_d")})


@pytest.mark.parametrize("max_steps, every", [(4, 2), (5, 2), (3, 5)])
def test_measurements_per_run_counts_what_the_monitor_measures(tiny_config, tmp_path, max_steps, every):
    cfg = tiny_config(f"trainer.max_steps={max_steps}", f"metrics.every_n_steps={every}")
    train(cfg, tmp_path)
    assert len(measured_steps(tmp_path)) == measurements_per_run(max_steps, every)


def test_study_runs_are_the_sweepers_jobs_without_the_seed():
    smoke = dict(study_runs("smoke"))
    assert smoke == {
        ("+ablation=byol", "+study=smoke"): 2,
        ("+ablation=no_predictor", "+study=smoke"): 2,
        ("+ablation=random_target", "+study=smoke"): 2,
    }
    # The robustness study: every row its claims read in every condition of conf/study/condition/, once each.
    robustness = study_runs("robustness")
    runs = [dict(o.split("=", 1) for o in overrides) for overrides, _ in robustness]
    claimed = {row for claim in CLAIMS for row in claim.rows} & set(ROWS)
    conditions = [p.stem for p in (CONF / "study" / "condition").glob("*.yaml")]
    assert sorted((r["+ablation"], r["study/condition@condition"]) for r in runs) == sorted(
        itertools.product(claimed, conditions)
    )
    assert {seeds for _, seeds in robustness} == {3}  # the study's design: 3 seeds of every run


def test_floor_seconds_by_hand():
    rows = [
        {"seeds": 3, "max_steps": 100, "ms_per_step": 10.0, "measurements": 2, "s_per_measurement": 0.5},
        {"seeds": 1, "max_steps": 500, "ms_per_step": 20.0, "measurements": 3, "s_per_measurement": 1.0},
    ]
    # training: (3 · 100 · 0.010 + 1 · 500 · 0.020) / 2 = (3 + 10) / 2; measuring: (3 · 2 · 0.5 + 3) / 2
    assert floor_seconds(rows, jobs=2) == pytest.approx((6.5, 3.0))


def test_a_timed_run_reports_its_real_budget_not_the_timed_steps():
    timed = time_run(("+ablation=byol", "+study=smoke"), warmup=1, steps=2)
    assert timed["max_steps"] == 6 and timed["measurements"] == measurements_per_run(6, 2)
    assert timed["ms_per_step"] > 0 and timed["s_per_measurement"] > 0
