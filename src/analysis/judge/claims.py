"""Claims as data, and the one function that judges a claim on a study's runs (docs/design.md §9).

A claim is a statement with its source and a tuple of tests; each test names the rows it compares and
its threshold. ``evaluate`` gives each test a verdict and the claim the combination: it *fails* if any
test fails, *holds* if every test holds, and is *inconclusive* otherwise (mixed seeds, an interval that
straddles the threshold, too few seeds, or a row the study did not run). Verdicts are measured, never
assumed: a claim that fails in our data says so.

Tests:

- ``Collapses(row)`` / ``AvoidsCollapse(row)``: read the verdict each run stored (its written collapse
  rule, ``src.metrics.verdict``). Holds if every seed collapsed (resp. none did and none is borderline),
  fails if every seed is the opposite, inconclusive otherwise: seeds that disagree, or any borderline
  seed (a borderline run never makes a collapse claim hold or fail).
- ``Exceeds(row, versus, by, metric)``: the mean of ``metric`` over the seeds of ``row`` minus that of
  ``versus`` is above ``by`` (``by`` < 0 reads "no worse than |by|"). The difference is paired by
  seed: against ``REFERENCE`` each run minus its own calibrated random-init value, against another row
  each run minus the run of the same seed (rows of a study share seed, data and initialisation, so the
  seed-to-seed variation they share cancels); seeds run by only one of the two rows are left out and
  counted. A one-sample t-test of H0 "difference = by" gives a two-sided p-value, and the p-values of
  all accuracy tests evaluated together (``evaluate_all``: one report) are adjusted by Holm's step-down
  method (Holm 1979), so the family-wise error rate is at most 1 − ``confidence``. Holds if the adjusted
  p-value is at most that and the difference is above ``by``, fails if at most that and below,
  inconclusive otherwise. The report shows the unadjusted t-interval beside it. NOTE: with few seeds
  the t quantile is large and many comparisons honestly come out inconclusive; the intervals cover
  seed-to-seed variation only, not the probe's own test-set noise.

Rows that are identical by construction (``no_ema`` and ``simsiam``: a τ = 0 target is the online
network with stop-gradient) are detected from the data (``identical_rows``: every per-seed final
metric equal), tested once in the family, and every claim resting on one says so.
"""

import math
from dataclasses import dataclass

import pandas as pd
from scipy import stats

from src.analysis.load.grouping import identical_rows
from src.metrics.verdict import COLLAPSE_VERDICTS, NO_COLLAPSE

HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"
CONFIDENCE = 0.95
MIN_SEEDS = 2  # a claim "over seeds" needs at least two; an interval needs a standard deviation
REFERENCE = "random-init reference"


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
    source: str  # where the claim comes from, in words
    tests: tuple[Test, ...]
    references: tuple[
        str, ...
    ] = ()  # keys of the published numbers it rests on (src/analysis/judge/references.py)

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
    p_value: float | None = None  # accuracy tests: two-sided, unadjusted
    mean: float | None = None  # accuracy tests: the mean paired difference
    adjusted_p: float | None = None  # accuracy tests: Holm-adjusted over the report's family
    family_size: int | None = None  # accuracy tests: distinct comparisons in that family


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    verdict: str
    checks: tuple[Check, ...]
    missing_rows: tuple[str, ...]  # rows without a finished run in this study
    same_experiment: tuple[tuple[str, ...], ...] = ()  # groups of identical rows the claim rests on


def describe(test: Test, confidence: float = CONFIDENCE) -> str:
    """The test's rule in words."""
    match test:
        case Collapses(row):
            return f"{row} collapses in every seed (stored verdict complete, dimensional or partial collapse)"
        case AvoidsCollapse(row):
            return f"{row} collapses in no seed (stored verdict no_collapse, none borderline)"
        case Exceeds(row, versus, by, metric):
            pairing = "each run's own reference" if versus == REFERENCE else "runs matched by seed"
            return (
                f"mean {metric} of {row} minus {versus} > {by:+.3f} (paired: {pairing}): holds if "
                f"the Holm-adjusted p ≤ {1 - confidence:.2f} and above, fails if ≤ {1 - confidence:.2f} "
                "and below"
            )
    raise TypeError(f"unknown claim test {test!r}")


def t_interval(values: pd.Series, confidence: float) -> tuple[float, float, float]:
    """Mean and two-sided t-interval of the mean (n ≥ 2)."""
    n = len(values)
    mean, sem = float(values.mean()), float(values.std(ddof=1)) / math.sqrt(n)
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sem
    return mean, mean - half, mean + half


def t_p_value(values: pd.Series, by: float) -> float:
    """Two-sided p-value of the one-sample t-test of H0 "mean = by" (n ≥ 2); 0 or 1 without spread."""
    n, mean, sd = len(values), float(values.mean()), float(values.std(ddof=1))
    if sd == 0:
        return 1.0 if mean == by else 0.0
    return float(2 * stats.t.sf(abs(mean - by) / (sd / math.sqrt(n)), n - 1))


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: the i-th smallest of m is multiplied by
    m − i + 1 (i from 1), made non-decreasing, and capped at 1."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _verdict_counts(verdicts: pd.Series) -> str:
    return ", ".join(f"{name} ×{n}" for name, n in verdicts.value_counts().sort_index().items())


def _collapse_check(test: Collapses | AvoidsCollapse, runs: pd.DataFrame) -> Check:
    verdicts = runs.loc[runs["row"] == test.row, "verdict"]
    n, collapsed, healthy = (
        len(verdicts),
        int(verdicts.isin(COLLAPSE_VERDICTS).sum()),
        int((verdicts == NO_COLLAPSE).sum()),
    )
    numbers = f"{test.row}: {collapsed}/{n} seeds collapsed ({_verdict_counts(verdicts)})"
    if n < MIN_SEEDS:
        return Check(test, INCONCLUSIVE, f"{numbers}; needs ≥ {MIN_SEEDS} finished seeds")
    wanted, opposite = (collapsed, healthy) if isinstance(test, Collapses) else (healthy, collapsed)
    verdict = HOLDS if wanted == n else FAILS if opposite == n else INCONCLUSIVE
    return Check(test, verdict, numbers)


def paired(test: Exceeds, runs: pd.DataFrame) -> tuple[pd.Series, pd.Series, int]:
    """(row's values, versus' values) aligned by seed, and how many seeds only one of them ran."""
    mine = runs.loc[runs["row"] == test.row].set_index("seed")
    if test.versus == REFERENCE:
        return mine[test.metric], mine[f"ref.{test.metric}"], 0
    other = runs.loc[runs["row"] == test.versus].set_index("seed")
    shared = mine.index.intersection(other.index)
    unmatched = len(mine.index.symmetric_difference(other.index))
    return mine.loc[shared, test.metric], other.loc[shared, test.metric], unmatched


def _exceeds_check(test: Exceeds, runs: pd.DataFrame, confidence: float) -> Check:
    """The check before the multiple-comparison step: verdict inconclusive, p-value attached."""
    a, b, unmatched = paired(test, runs)
    n = len(a)
    diffs = a - b
    diff, lo, hi = t_interval(diffs, confidence) if n >= MIN_SEEDS else (math.nan,) * 3
    numbers = (
        f"{test.metric}: {test.row} {a.mean():.3f} ± {a.std(ddof=1):.3f} vs {test.versus} "
        f"{b.mean():.3f} ± {b.std(ddof=1):.3f} (mean ± std, n={n} paired"
        f"{f', {unmatched} unmatched seeds left out' if unmatched else ''}); difference {diff:+.3f}, "
        f"{confidence:.0%} CI [{lo:+.3f}, {hi:+.3f}] (unadjusted), threshold {test.by:+.3f}"
    )
    if n < MIN_SEEDS:
        return Check(test, INCONCLUSIVE, f"{numbers}; needs ≥ {MIN_SEEDS} paired seeds")
    return Check(test, INCONCLUSIVE, numbers, p_value=t_p_value(diffs, test.by), mean=diff)


def same_test(test: Exceeds, alias: dict[str, str]) -> tuple:
    """The comparison a test makes, with identical rows named by one representative."""
    return (alias.get(test.row, test.row), alias.get(test.versus, test.versus), test.by, test.metric)


def adjusted(checks: list[Check], alias: dict[str, str], confidence: float) -> list[Check]:
    """The accuracy checks judged after Holm's correction over the family of distinct comparisons."""
    family = list(dict.fromkeys(same_test(c.test, alias) for c in checks if c.p_value is not None))
    p_of = {key: next(c.p_value for c in checks if c.p_value is not None and same_test(c.test, alias) == key)
            for key in family}  # fmt: skip
    holm_p = dict(zip(family, holm([p_of[k] for k in family]), strict=True))
    alpha, judged = 1 - confidence, []
    for check in checks:
        if check.p_value is None:
            judged.append(check)
            continue
        p = holm_p[same_test(check.test, alias)]
        verdict = (HOLDS if check.mean > check.test.by else FAILS) if p <= alpha else INCONCLUSIVE
        note = f"; p = {check.p_value:.3g}, Holm-adjusted p = {p:.3g} (family of {len(family)} tests)"
        judged.append(
            Check(check.test, verdict, check.numbers + note, check.p_value, check.mean, p, len(family))
        )
    return judged


def combine(verdicts: list[str]) -> str:
    if FAILS in verdicts:
        return FAILS
    return HOLDS if verdicts and all(v == HOLDS for v in verdicts) else INCONCLUSIVE


def evaluate_all(
    claims: tuple[Claim, ...] | list[Claim], runs: pd.DataFrame, confidence: float = CONFIDENCE
) -> list[ClaimResult]:
    """Judge claims together on the finished runs of a study (the loader's ``runs`` frame): the
    accuracy tests of every claim whose rows were run form one family for Holm's correction."""
    present = set(runs["row"]) if len(runs) else set()
    groups = identical_rows(runs) if len(runs) else []
    alias = {row: group[0] for group in groups for row in group}
    raw: list[tuple[Claim, list[Check]] | tuple[Claim, tuple[str, ...]]] = []
    for claim in claims:
        missing = tuple(r for r in claim.rows if r not in present)
        if missing:
            raw.append((claim, missing))
            continue
        checks = []
        for test in claim.tests:
            match test:
                case Collapses() | AvoidsCollapse():
                    checks.append(_collapse_check(test, runs))
                case Exceeds():
                    checks.append(_exceeds_check(test, runs, confidence))
                case _:
                    raise TypeError(f"unknown claim test {test!r}")
        raw.append((claim, checks))
    all_checks = [c for _, checks in raw if isinstance(checks, list) for c in checks]
    judged = iter(adjusted(all_checks, alias, confidence))
    results = []
    for claim, outcome in raw:
        if isinstance(outcome, tuple):
            results.append(ClaimResult(claim, INCONCLUSIVE, (), outcome))
            continue
        checks = tuple(next(judged) for _ in outcome)
        same = tuple(g for g in groups if set(g) & set(claim.rows))
        results.append(ClaimResult(claim, combine([c.verdict for c in checks]), checks, (), same))
    return results


def evaluate(claim: Claim, runs: pd.DataFrame, confidence: float = CONFIDENCE) -> ClaimResult:
    """Judge one claim on its own (its tests are the whole family of the correction)."""
    return evaluate_all((claim,), runs, confidence)[0]
