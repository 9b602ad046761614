"""The collapse verdict: a written rule over a run's final metrics, stored with the run (docs/design.md §5).

Complete collapse is read from the normalised std (SimSiam's monitor, scaled by √d so 1 means spread
out); dimensional collapse from the effective rank as a fraction of min(N, d) (RankMe). Complete collapse
is checked first because it also drives the rank to 1.
"""

import math

from src.config.checks import require_float

VERDICTS = ("no_collapse", "dimensional_collapse", "complete_collapse")  # healthy → worst; used to sort
UNDEFINED = "undefined"  # a metric was NaN (e.g. the run diverged), so no verdict can be read from it


def collapse_verdict(
    std_sqrt_d: float, rank_frac: float, *, complete_below: float, dimensional_below: float
) -> str:
    """One of VERDICTS, or "undefined" if either metric is NaN.

    "complete_collapse" if std_sqrt_d < complete_below; else "dimensional_collapse" if
    rank_frac < dimensional_below; else "no_collapse". Strict inequalities: a value equal to its
    threshold does not count as collapsed.
    """
    require_float("metrics.verdict.complete_below", complete_below, 0)
    require_float("metrics.verdict.dimensional_below", dimensional_below, 0)
    if math.isnan(std_sqrt_d) or math.isnan(rank_frac):
        return UNDEFINED
    if std_sqrt_d < complete_below:
        return "complete_collapse"
    if rank_frac < dimensional_below:
        return "dimensional_collapse"
    return "no_collapse"


def describe_verdict_rule(representation: str, complete_below: float, dimensional_below: float) -> str:
    """The rule collapse_verdict applies, in words, for the metrics of `representation` ("h", "z", "p")."""
    require_float("metrics.verdict.complete_below", complete_below, 0)
    require_float("metrics.verdict.dimensional_below", dimensional_below, 0)
    return (
        f"complete_collapse if {representation}_std_sqrt_d < {complete_below}; "
        f"dimensional_collapse if {representation}_rank_frac < {dimensional_below}; else no_collapse"
    )
