"""Claims: each verdict follows the data (it flips when the data says the opposite), intervals match an
independent computation, and the catalogue names only rows that exist."""

import math

import pandas as pd
import pytest
from omegaconf import OmegaConf
from scipy import stats

from src.analysis.claim_catalogue import CLAIMS
from src.analysis.claims import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    REFERENCE,
    AvoidsCollapse,
    Claim,
    Collapses,
    Exceeds,
    evaluate,
    welch_interval,
)
from tests.conftest import CONF, ROWS

T_975_DF2 = 4.302652729911275  # Student t quantile 0.975 with 2 degrees of freedom (printed tables)


def frame(rows: dict[str, list[tuple[float, float, str]]]) -> pd.DataFrame:
    """Synthetic runs: row → [(linear acc, its random-init reference, verdict) per seed]."""
    return pd.DataFrame(
        [
            {
                "row": row,
                "seed": seed,
                "probe/linear_acc": acc,
                "ref.probe/linear_acc": ref,
                "verdict": verdict,
            }
            for row, seeds in rows.items()
            for seed, (acc, ref, verdict) in enumerate(seeds)
        ]
    )


def one(test, runs) -> str:
    return evaluate(Claim("c", "statement", "source", (test,)), runs).verdict


COLLAPSED = [(0.3, 0.3, "complete_collapse")] * 3
HEALTHY = [(0.7, 0.4, "no_collapse")] * 3


def test_collapse_verdict_flips_with_the_data():
    assert one(Collapses("x"), frame({"x": COLLAPSED})) == HOLDS
    assert one(Collapses("x"), frame({"x": HEALTHY})) == FAILS
    assert one(AvoidsCollapse("x"), frame({"x": HEALTHY})) == HOLDS
    assert one(AvoidsCollapse("x"), frame({"x": COLLAPSED})) == FAILS


def test_dimensional_collapse_counts_as_collapse_and_mixed_seeds_are_inconclusive():
    dimensional = [(0.3, 0.3, "dimensional_collapse")] * 3
    assert one(Collapses("x"), frame({"x": dimensional})) == HOLDS
    mixed = [*COLLAPSED[:2], HEALTHY[0]]
    assert one(Collapses("x"), frame({"x": mixed})) == INCONCLUSIVE
    assert one(AvoidsCollapse("x"), frame({"x": mixed})) == INCONCLUSIVE


def test_one_seed_is_never_enough():
    assert one(Collapses("x"), frame({"x": COLLAPSED[:1]})) == INCONCLUSIVE
    assert one(Exceeds("x"), frame({"x": HEALTHY[:1]})) == INCONCLUSIVE


def test_paired_interval_against_the_reference_matches_a_hand_computation():
    seeds = [(0.60, 0.50, "no_collapse"), (0.64, 0.51, "no_collapse"), (0.70, 0.52, "no_collapse")]
    result = evaluate(Claim("c", "s", "src", (Exceeds("x", REFERENCE, 0.02),)), frame({"x": seeds}))
    diffs = [a - r for a, r, _ in seeds]
    mean = sum(diffs) / 3
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 2)
    half = T_975_DF2 * sd / math.sqrt(3)
    assert f"difference {mean:+.3f}" in result.checks[0].numbers
    assert f"[{mean - half:+.3f}, {mean + half:+.3f}]" in result.checks[0].numbers
    assert mean - half > 0.02 and result.verdict == HOLDS


def test_exceeds_flips_from_holds_to_fails_when_the_accuracy_falls_below_the_reference():
    above = [(0.70, 0.40, "no_collapse"), (0.72, 0.41, "no_collapse"), (0.69, 0.40, "no_collapse")]
    below = [(0.30, 0.40, "no_collapse"), (0.31, 0.41, "no_collapse"), (0.29, 0.40, "no_collapse")]
    assert one(Exceeds("x"), frame({"x": above})) == HOLDS
    assert one(Exceeds("x"), frame({"x": below})) == FAILS


def test_an_interval_that_contains_the_threshold_is_inconclusive():
    noisy = [(0.45, 0.40, "no_collapse"), (0.35, 0.40, "no_collapse"), (0.50, 0.40, "no_collapse")]
    assert one(Exceeds("x"), frame({"x": noisy})) == INCONCLUSIVE


def test_welch_interval_matches_a_hand_computation_and_a_negative_threshold_reads_no_worse():
    a, b = pd.Series([0.60, 0.62, 0.64]), pd.Series([0.50, 0.55, 0.60])
    diff, lo, hi = welch_interval(a, b, 0.95)
    va, vb = 0.02**2 / 3, 0.05**2 / 3  # sample variances / n
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 2)
    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert (diff, lo, hi) == pytest.approx((0.07, 0.07 - half, 0.07 + half))
    runs = frame({"lin": [(x, 0.4, "no_collapse") for x in b], "mlp": [(x, 0.4, "no_collapse") for x in a]})
    assert one(Exceeds("lin", "mlp", -0.30), runs) == HOLDS  # "no worse than 30 points": clearly
    assert one(Exceeds("lin", "mlp", 0.0), runs) == INCONCLUSIVE
    assert one(Exceeds("mlp", "lin", 0.30), runs) == FAILS  # "better by 30 points": clearly not


def test_a_claim_fails_if_any_test_fails_and_holds_only_if_all_hold():
    runs = frame({"a": HEALTHY, "b": COLLAPSED})
    both = Claim("c", "s", "src", (AvoidsCollapse("a"), Collapses("b")))
    assert evaluate(both, runs).verdict == HOLDS
    one_wrong = Claim("c", "s", "src", (AvoidsCollapse("a"), AvoidsCollapse("b")))
    assert evaluate(one_wrong, runs).verdict == FAILS


def test_rows_the_study_did_not_run_make_the_claim_inconclusive_and_are_named():
    claim = Claim("c", "s", "src", (Exceeds("a", "absent", 0.0),))
    result = evaluate(claim, frame({"a": HEALTHY}))
    assert result.verdict == INCONCLUSIVE and result.missing_rows == ("absent",) and result.checks == ()


def test_every_claim_names_existing_rows():
    tau_params = OmegaConf.load(CONF / "study" / "tau_sweep.yaml").hydra.sweeper.params["model.target.tau"]
    tau_rows = {f"ema_tau_{float(t)}" for t in str(tau_params).split(",")}
    for claim in CLAIMS:
        unknown = set(claim.rows) - set(ROWS) - tau_rows
        assert not unknown, (claim.key, unknown)
    assert len({c.key for c in CLAIMS}) == len(CLAIMS)
