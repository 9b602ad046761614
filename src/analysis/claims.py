"""Claims as data, and the one function that judges a claim on a study's runs (docs/design.md §9).

A claim is a statement with its source and a tuple of tests; each test names the rows it compares and
its threshold. ``evaluate`` gives each test a verdict and the claim the combination: it *fails* if any
test fails, *holds* if every test holds, and is *inconclusive* otherwise (mixed seeds, an interval that
straddles the threshold, too few seeds, or a row the study did not run). Verdicts are measured, never
assumed: a claim that fails in our data says so.

Tests:

- ``Collapses(row)`` / ``AvoidsCollapse(row)``: read the verdict each run stored (its written collapse
  rule, ``src.metrics.verdict``). Holds if every seed collapsed (resp. none did), fails if none did
  (resp. every seed did), inconclusive when the seeds disagree.
- ``Exceeds(row, versus, by, metric)``: the mean of ``metric`` over the seeds of ``row`` minus that of
  ``versus`` is above ``by`` (``by`` < 0 reads "no worse than |by|"). Judged on a two-sided t-interval
  over seeds at ``confidence``: holds if the whole interval is above ``by``, fails if it is wholly
  below, inconclusive if it contains ``by``. Against ``REFERENCE`` the difference is paired (each run
  minus its own random-init value, a one-sample t-interval); against another row it is Welch's
  two-sample interval. NOTE: with 3 seeds the t quantile is 4.30 (2 degrees of freedom): intervals are
  wide and many comparisons will honestly come out inconclusive; they cover seed-to-seed variation
  only, not the probe's own test-set noise.
"""

import math
from dataclasses import dataclass

import pandas as pd
from scipy import stats

from src.analysis.tables import COLLAPSED

HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"
CONFIDENCE = 0.95
MIN_SEEDS = 2  # a claim "over seeds" needs at least two; an interval needs a standard deviation
REFERENCE = "random-init reference"
HEALTHY = "no_collapse"


@dataclass(frozen=True)
class Collapses:
    row: str


@dataclass(frozen=True)
class AvoidsCollapse:
    row: str


@dataclass(frozen=True)
class Exceeds:
    row: str
    versus: str = REFERENCE  # another row, or each run's own random-init reference (paired)
    by: float = 0.02  # threshold on the difference of means: two points of accuracy by default
    metric: str = "probe/linear_acc"


Test = Collapses | AvoidsCollapse | Exceeds


@dataclass(frozen=True)
class Claim:
    key: str
    statement: str
    source: str
    tests: tuple[Test, ...]

    @property
    def rows(self) -> tuple[str, ...]:
        """The rows the claim compares, in order of first mention."""
        named = [r for t in self.tests for r in (t.row, getattr(t, "versus", REFERENCE)) if r != REFERENCE]
        return tuple(dict.fromkeys(named))


@dataclass(frozen=True)
class Check:
    test: Test
    verdict: str
    numbers: str  # the evidence, in words and numbers


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    verdict: str
    checks: tuple[Check, ...]
    missing_rows: tuple[str, ...]  # rows without a finished run in this study


def describe(test: Test, confidence: float = CONFIDENCE) -> str:
    """The test's rule in words."""
    match test:
        case Collapses(row):
            return f"{row} collapses in every seed (stored verdict complete or dimensional collapse)"
        case AvoidsCollapse(row):
            return f"{row} collapses in no seed (stored verdict no_collapse)"
        case Exceeds(row, versus, by, metric):
            kind = "paired t" if versus == REFERENCE else "Welch t"
            return (
                f"mean {metric} of {row} minus {versus} > {by:+.3f}: the whole {confidence:.0%} "
                f"{kind}-interval over seeds above it holds, wholly below fails"
            )
    raise TypeError(f"unknown claim test {test!r}")


def t_interval(values: pd.Series, confidence: float) -> tuple[float, float, float]:
    """Mean and two-sided t-interval of the mean (n ≥ 2)."""
    n = len(values)
    mean, sem = float(values.mean()), float(values.std(ddof=1)) / math.sqrt(n)
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sem
    return mean, mean - half, mean + half


def welch_interval(a: pd.Series, b: pd.Series, confidence: float) -> tuple[float, float, float]:
    """Difference of means a − b and its Welch two-sided t-interval (each n ≥ 2)."""
    va, vb = float(a.var(ddof=1)) / len(a), float(b.var(ddof=1)) / len(b)
    diff = float(a.mean()) - float(b.mean())
    if va + vb == 0:
        return diff, diff, diff
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stats.t.ppf(0.5 + confidence / 2, df) * math.sqrt(va + vb)
    return diff, diff - half, diff + half


def _verdict_counts(verdicts: pd.Series) -> str:
    return ", ".join(f"{name} ×{n}" for name, n in verdicts.value_counts().sort_index().items())


def _collapse_check(test: Collapses | AvoidsCollapse, runs: pd.DataFrame) -> Check:
    verdicts = runs.loc[runs["row"] == test.row, "verdict"]
    n, collapsed, healthy = (
        len(verdicts),
        int(verdicts.isin(COLLAPSED).sum()),
        int((verdicts == HEALTHY).sum()),
    )
    numbers = f"{test.row}: {collapsed}/{n} seeds collapsed ({_verdict_counts(verdicts)})"
    if n < MIN_SEEDS:
        return Check(test, INCONCLUSIVE, f"{numbers}; needs ≥ {MIN_SEEDS} finished seeds")
    wanted, opposite = (collapsed, healthy) if isinstance(test, Collapses) else (healthy, collapsed)
    verdict = HOLDS if wanted == n else FAILS if opposite == n else INCONCLUSIVE
    return Check(test, verdict, numbers)


def _exceeds_check(test: Exceeds, runs: pd.DataFrame, confidence: float) -> Check:
    mine = runs.loc[runs["row"] == test.row]
    if test.versus == REFERENCE:
        a, b = mine[test.metric], mine[f"ref.{test.metric}"]
        ns = (len(a),)
        diff, lo, hi = t_interval(a - b, confidence) if len(a) >= MIN_SEEDS else (math.nan,) * 3
    else:
        a, b = mine[test.metric], runs.loc[runs["row"] == test.versus, test.metric]
        ns = (len(a), len(b))
        diff, lo, hi = welch_interval(a, b, confidence) if min(ns) >= MIN_SEEDS else (math.nan,) * 3
    numbers = (
        f"{test.metric}: {test.row} {a.mean():.3f} ± {a.std(ddof=1):.3f} vs {test.versus} "
        f"{b.mean():.3f} ± {b.std(ddof=1):.3f} (mean ± std, n={'/'.join(map(str, ns))}); "
        f"difference {diff:+.3f}, {confidence:.0%} CI [{lo:+.3f}, {hi:+.3f}], threshold {test.by:+.3f}"
    )
    if min(ns) < MIN_SEEDS:
        return Check(test, INCONCLUSIVE, f"{numbers}; needs ≥ {MIN_SEEDS} finished seeds")
    verdict = HOLDS if lo > test.by else FAILS if hi < test.by else INCONCLUSIVE
    return Check(test, verdict, numbers)


def combine(verdicts: list[str]) -> str:
    if FAILS in verdicts:
        return FAILS
    return HOLDS if verdicts and all(v == HOLDS for v in verdicts) else INCONCLUSIVE


def evaluate(claim: Claim, runs: pd.DataFrame, confidence: float = CONFIDENCE) -> ClaimResult:
    """Judge one claim on the finished runs of a study (the loader's ``runs`` frame)."""
    present = set(runs["row"]) if len(runs) else set()
    missing = tuple(r for r in claim.rows if r not in present)
    if missing:
        return ClaimResult(claim, INCONCLUSIVE, (), missing)
    checks = []
    for test in claim.tests:
        match test:
            case Collapses() | AvoidsCollapse():
                checks.append(_collapse_check(test, runs))
            case Exceeds():
                checks.append(_exceeds_check(test, runs, confidence))
            case _:
                raise TypeError(f"unknown claim test {test!r}")
    return ClaimResult(claim, combine([c.verdict for c in checks]), tuple(checks), ())
