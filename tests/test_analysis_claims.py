"""Claims: each verdict follows the data (it flips when the data says the opposite), paired intervals,
p-values and Holm's correction match independent computations, identical rows are found and counted
once, and the catalogue names only rows and published numbers that exist."""

import math

import pandas as pd
import pytest
from omegaconf import OmegaConf
from scipy import stats

from src.analysis.judge.claim_catalogue import CLAIMS
from src.analysis.judge.claims import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    REFERENCE,
    AvoidsCollapse,
    Claim,
    Collapses,
    Exceeds,
    evaluate,
    evaluate_all,
    holm,
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


@pytest.mark.parametrize("kind", ["dimensional_collapse", "partial_collapse"])
def test_every_kind_of_collapse_counts_and_mixed_seeds_are_inconclusive(kind):
    assert one(Collapses("x"), frame({"x": [(0.3, 0.3, kind)] * 3})) == HOLDS
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


def test_rows_are_paired_by_seed_and_a_negative_threshold_reads_no_worse():
    a, b = [0.60, 0.62, 0.64], [0.50, 0.55, 0.60]
    runs = frame({"lin": [(x, 0.4, "no_collapse") for x in b], "mlp": [(x, 0.4, "no_collapse") for x in a]})
    result = evaluate(Claim("c", "s", "src", (Exceeds("mlp", "lin", 0.0),)), runs)
    diffs = [x - y for x, y in zip(a, b, strict=True)]  # seed by seed: 0.10, 0.07, 0.04
    mean, sd = sum(diffs) / 3, 0.03
    half = T_975_DF2 * sd / math.sqrt(3)
    assert f"[{mean - half:+.3f}, {mean + half:+.3f}]" in result.checks[0].numbers and "n=3 paired" in (
        result.checks[0].numbers
    )
    assert result.checks[0].p_value == pytest.approx(stats.ttest_1samp(diffs, 0.0).pvalue)
    assert one(Exceeds("lin", "mlp", -0.30), runs) == HOLDS  # "no worse than 30 points": clearly
    assert one(Exceeds("lin", "mlp", 0.0), runs) == INCONCLUSIVE
    assert one(Exceeds("mlp", "lin", 0.30), runs) == FAILS  # "better by 30 points": clearly not


def test_pairing_removes_the_variation_rows_share_through_their_seed():
    # Seeds differ a lot, the rows differ by a steady 3 points: unpaired this would be inconclusive.
    base = [0.40, 0.60, 0.80, 0.50, 0.70]
    runs = frame(
        {"x": [(v + 0.03, 0.3, "no_collapse") for v in base], "y": [(v, 0.3, "no_collapse") for v in base]}
    )
    welch = stats.ttest_ind([v + 0.03 for v in base], base, equal_var=False).pvalue
    assert welch > 0.5 and one(Exceeds("x", "y", 0.0), runs) == HOLDS


def test_seeds_run_by_only_one_row_are_left_out_and_counted():
    runs = frame({"x": HEALTHY, "y": HEALTHY[:2]})
    check = evaluate(Claim("c", "s", "src", (Exceeds("x", "y", -0.1),)), runs).checks[0]
    assert "n=2 paired, 1 unmatched seeds left out" in check.numbers


def test_holm_against_a_hand_computation():
    # m = 4: sorted p 0.01, 0.02, 0.03, 0.5 → ×4, ×3, ×2, ×1 → 0.04, 0.06, 0.06 (monotone), 0.5.
    assert holm([0.03, 0.5, 0.01, 0.02]) == pytest.approx([0.06, 0.5, 0.04, 0.06])
    assert holm([0.4, 0.4]) == pytest.approx([0.8, 0.8]) and holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])


def test_holm_makes_a_test_inconclusive_in_a_family_that_it_would_pass_alone():
    # One difference whose p is just under 0.05 alone: among 10 tests with p ≈ 0.5 it is no longer enough.
    marginal = [(0.50 + d, 0.40, "no_collapse") for d in (0.06, 0.10, 0.14, 0.05, 0.12)]

    def noise(k: int) -> list:  # differences averaging exactly the threshold k/1000: p = 1
        return [(0.40 + k / 1000 + d, 0.40, "no_collapse") for d in (0.05, -0.06, 0.02, -0.01, 0.00)]

    runs = frame({"m": marginal, **{f"n{k}": noise(k) for k in range(9)}})
    claim = Claim("c", "s", "src", (Exceeds("m", REFERENCE, 0.14),))
    alone = evaluate(claim, runs)
    assert 0.01 < alone.checks[0].p_value < 0.05 and alone.verdict == HOLDS
    others = [Claim(f"c{k}", "s", "src", (Exceeds(f"n{k}", REFERENCE, k / 1000),)) for k in range(9)]
    together = evaluate_all([claim, *others], runs)
    assert together[0].verdict == INCONCLUSIVE and together[0].checks[0].family_size == 10
    assert together[0].checks[0].adjusted_p == pytest.approx(holm([r.checks[0].p_value for r in together])[0])


def test_identical_rows_are_one_experiment_tested_once_and_named():
    runs = frame({"a": HEALTHY, "b": HEALTHY, "c": [(0.5, 0.4, "no_collapse")] * 3})
    results = evaluate_all(
        [
            Claim("x", "s", "src", (Exceeds("a", "c", 0.0),)),
            Claim("y", "s", "src", (Exceeds("b", "c", 0.0),)),  # the same comparison under another name
            Claim("z", "s", "src", (AvoidsCollapse("c"),)),
        ],
        runs,
    )
    assert results[0].same_experiment == (("a", "b"),) and results[2].same_experiment == ()
    assert results[0].checks[0].family_size == 1  # counted once, not twice


def test_a_borderline_seed_makes_collapse_tests_inconclusive():
    borderline = [*COLLAPSED[:2], (0.3, 0.3, "borderline")]
    assert one(Collapses("x"), frame({"x": borderline})) == INCONCLUSIVE
    assert one(AvoidsCollapse("x"), frame({"x": [*HEALTHY[:2], (0.7, 0.4, "borderline")]})) == INCONCLUSIVE
    assert one(Collapses("x"), frame({"x": [(0.3, 0.3, "borderline")] * 3})) == INCONCLUSIVE


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


def test_every_claim_cites_published_numbers_that_exist():
    from src.analysis.judge.references import REFERENCES

    for claim in CLAIMS:
        assert set(claim.references) <= set(REFERENCES), (claim.key, set(claim.references) - set(REFERENCES))
        assert "%" not in claim.source and "%" not in claim.statement, claim.key  # numbers come from the file
