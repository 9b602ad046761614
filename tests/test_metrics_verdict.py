"""The collapse verdict rule: boundaries, precedence, NaN, and its written form."""

import math

import pytest

from src.config.errors import ConfigError
from src.metrics.verdict import VERDICTS, collapse_verdict, describe_verdict_rule

THRESHOLDS = {"complete_below": 0.1, "dimensional_below": 0.2}


@pytest.mark.parametrize(
    ("std_sqrt_d", "rank_frac", "expected"),
    [
        (0.9, 0.9, "no_collapse"),
        (0.1, 0.2, "no_collapse"),  # equal to both thresholds: strict inequalities, not collapsed
        (0.0999, 0.9, "complete_collapse"),
        (0.0, 0.001, "complete_collapse"),  # complete collapse takes precedence over dimensional
        (0.1, 0.1999, "dimensional_collapse"),
        (0.9, 0.0, "dimensional_collapse"),
        (math.inf, 0.9, "no_collapse"),
        (math.nan, 0.9, "undefined"),
        (0.9, math.nan, "undefined"),
        (0.0, math.nan, "undefined"),
    ],
)
def test_collapse_verdict(std_sqrt_d, rank_frac, expected):
    assert collapse_verdict(std_sqrt_d, rank_frac, **THRESHOLDS) == expected


def test_verdicts_are_ordered_from_healthy_to_worst():
    assert VERDICTS == ("no_collapse", "dimensional_collapse", "complete_collapse")


def test_describe_verdict_rule():
    assert describe_verdict_rule("z", 0.1, 0.1) == (
        "complete_collapse if z_std_sqrt_d < 0.1; dimensional_collapse if z_rank_frac < 0.1; else no_collapse"
    )
    assert describe_verdict_rule("h", 0.05, 0.25).startswith("complete_collapse if h_std_sqrt_d < 0.05;")


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf])
def test_bad_thresholds_are_config_errors(bad):
    with pytest.raises(ConfigError, match="complete_below"):
        collapse_verdict(0.5, 0.5, complete_below=bad, dimensional_below=0.1)
    with pytest.raises(ConfigError, match="dimensional_below"):
        describe_verdict_rule("z", 0.1, bad)
