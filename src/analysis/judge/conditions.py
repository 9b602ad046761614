"""A claim judged per condition, then read across the conditions (src/analysis/robustness.py runs it).

Each condition is judged on its own runs only (``evaluate_all``, Holm over that condition's family), so
rows are never averaged across conditions. A claim's verdicts across the conditions are then read
(``reading``, a pure function):

- *holds in every condition* / *fails in every condition*: the same verdict wherever it was judged;
- *holds only when F=v*: it holds in some conditions and fails in others; F=v names the setting under
  which it holds (the default's value of each factor that breaks it, or the value of each condition
  that rescues it), read from the runs' own configs (``condition_settings``);
- *inconclusive*: anything else (no condition failed it and not all held, or none held and not all
  failed): a condition that cannot decide never makes a reading.

A condition in which a claim is *not read* is left out of its reading: the condition changed a key one of the
claim's rows sets itself (``predictor_lr_x10`` replaces ``fixed_predictor_lr``'s own policy, since a study's
condition is merged after the row), or made two of its rows one experiment (``overridden``).
"""

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from src.analysis.judge.claims import FAILS, HOLDS, INCONCLUSIVE, ClaimResult, Collapses, Exceeds
from src.analysis.judge.settings import Judged
from src.analysis.load.grouping import ABSENT, BASELINE, as_text, differing_keys
from src.analysis.load.runs import StudyRuns
from src.metrics.verdict import COLLAPSE_VERDICTS

DEFAULT = "default"  # the condition every other one changes one factor of


CONDITION_KEY = "condition"  # the config key naming a run's condition (conf/study/robustness.yaml)


EVERY, ONLY_WHEN, NEVER = "holds in every condition", "holds only when", "fails in every condition"


NOT_FACTORS = (CONDITION_KEY, "metrics.every_n_steps")  # a name, and the measurement interval


@dataclass(frozen=True)
class Reading:
    kind: str  # EVERY, ONLY_WHEN, NEVER or INCONCLUSIVE
    text: str  # the kind, with the factors and conditions named


def _listed(conditions: list[str]) -> str:
    return ", ".join(conditions) or "none"


def reading(
    verdicts: Mapping[str, str], settings: Mapping[str, tuple[str, str]], default: str = DEFAULT
) -> Reading:
    """One claim's reading from its verdict per condition (holds | fails | inconclusive).

    ``settings[c]`` is (the default's setting of condition c's factor, c's own setting), e.g.
    ("trainer.max_steps=300", "trainer.max_steps=1500"); the default condition needs none."""
    held = [c for c, v in verdicts.items() if v == HOLDS]
    failed = [c for c, v in verdicts.items() if v == FAILS]
    undecided = [c for c, v in verdicts.items() if v not in (HOLDS, FAILS)]
    if verdicts and len(held) == len(verdicts):
        return Reading(EVERY, EVERY)
    if verdicts and len(failed) == len(verdicts):
        return Reading(NEVER, NEVER)
    if held and failed:
        if default in held:  # a factor breaks it: it needs the default's value of that factor
            when = " and ".join(settings[c][0] for c in failed)
        else:  # a condition rescues it: it needs that condition's value
            when = " or ".join(settings[c][1] for c in held if c != default)
        text = f"{ONLY_WHEN} {when} (holds in {_listed(held)}; fails in {_listed(failed)}"
        return Reading(ONLY_WHEN, text + (f"; inconclusive in {_listed(undecided)})" if undecided else ")"))
    text = f"holds in {_listed(held)}; fails in {_listed(failed)}; inconclusive in {_listed(undecided)}"
    return Reading(
        INCONCLUSIVE, f"{INCONCLUSIVE} ({text})" if verdicts else f"{INCONCLUSIVE} (judged nowhere)"
    )


def _setting(values: pd.Series, keys: list[str]) -> str:
    shown = [f"{k}={values[k]}" for k in keys if values[k] != ABSENT]
    return ", ".join(shown)


def condition_settings(
    default: pd.DataFrame, other: pd.DataFrame, name: str, baseline: str = BASELINE
) -> tuple[str, str]:
    """(the default's setting, condition ``name``'s setting) of the factor the condition changes, read from
    the runs of the baseline row (else the first row both ran): a changed Hydra choice by its choice
    (``data=digits``) and every other differing config key, the keys under a changed group, the condition's
    name and the measurement interval left out. Falls back to ``not <name>`` / ``<name>``."""
    shared = sorted(set(default["row"]) & set(other["row"]))
    if not shared:
        return f"not {name}", name
    row = baseline if baseline in shared else shared[0]
    pair = pd.concat([default[default["row"] == row].iloc[:1], other[other["row"] == row].iloc[:1]])
    choices = [  # the study's own groups (its condition, its setup) are how, not what
        c for c in pair
        if c.startswith("choice.") and not c.startswith("choice.study") and as_text(pair[[c]])[c].nunique() > 1
    ]  # fmt: skip
    groups = [c.removeprefix("choice.").replace("/", ".") for c in choices]
    keys = [
        k for k in differing_keys(pair)
        if k not in NOT_FACTORS and not any(k == g or k.startswith(f"{g}.") for g in groups)
    ]  # fmt: skip
    columns = choices + [f"cfg.{k}" for k in keys]
    values = as_text(pair[columns]).rename(columns=lambda c: c.removeprefix("choice.").removeprefix("cfg."))
    names = [c.removeprefix("choice.").removeprefix("cfg.") for c in columns]
    mine, theirs = _setting(values.iloc[0], names), _setting(values.iloc[1], names)
    return mine or f"not {name}", theirs or name


def check_numbers(result: ClaimResult, runs: pd.DataFrame) -> str:
    """A claim's evidence in one condition, short: per test the collapsed seeds or the paired difference
    with its Holm-adjusted p; the rows it lacks if it could not be tested."""
    if result.missing_rows:
        return f"not tested: no runs of {', '.join(result.missing_rows)}"
    parts = []
    for check in result.checks:
        test = check.test
        if isinstance(test, Exceeds):
            diff = "–" if check.mean is None else f"{check.mean:+.3f}"
            p = "–" if check.adjusted_p is None else f"{check.adjusted_p:.2g}"
            parts.append(f"{test.row} − {test.versus}: {diff} (> {test.by:+.2f}? Holm p {p})")
        else:
            verdicts = runs.loc[runs["row"] == test.row, "verdict"]
            word = "collapsed" if isinstance(test, Collapses) else "collapsed (want 0)"
            parts.append(f"{test.row}: {int(verdicts.isin(COLLAPSE_VERDICTS).sum())}/{len(verdicts)} {word}")
    return "; ".join(parts)


def overridden(
    default: pd.DataFrame, other: pd.DataFrame, result: ClaimResult, baseline: str = BASELINE
) -> str:
    """Why a claim cannot be read in a condition, or "": the condition changed a key one of its rows sets
    itself (a row's own keys: where its default runs differ from the baseline's), so the row is not
    itself there; or two of its rows are one experiment there (identical results) but not by default."""
    base = default[default["row"] == baseline].iloc[:1]
    for row in result.claim.rows:
        mine, theirs = default[default["row"] == row].iloc[:1], other[other["row"] == row].iloc[:1]
        if base.empty or mine.empty or theirs.empty or row == baseline:
            continue
        own = [k for k in differing_keys(pd.concat([base, mine])) if k not in NOT_FACTORS]
        changed = [k for k in own if k in differing_keys(pd.concat([mine, theirs]))]
        if changed:
            return f"the condition sets {row}'s own {', '.join(changed)}"
    for group in result.same_experiment:
        if len(set(group) & set(result.claim.rows)) > 1:
            return f"{' ≡ '.join(group)} are one experiment here"
    return ""


@dataclass(frozen=True)
class Condition:
    name: str
    loaded: StudyRuns
    judged: Judged  # every claim, judged on this condition's runs alone (rows as the claims name them)

    @property
    def results(self) -> tuple[ClaimResult, ...]:
        return self.judged.results

    @property
    def runs(self) -> pd.DataFrame:
        return self.judged.runs


def robustness_frame(conditions: list[Condition], baseline: str = BASELINE) -> pd.DataFrame:
    """One line per claim and condition: verdict, numbers, and the claim's reading across conditions."""
    default = next((c for c in conditions if c.name == DEFAULT), None)
    settings = {
        c.name: condition_settings(default.runs, c.runs, c.name, baseline)
        if default is not None and len(default.runs) and len(c.runs)
        else (f"not {c.name}", c.name)
        for c in conditions
    }
    lines = []
    for k, claim in enumerate(conditions[0].results if conditions else ()):
        per = {c.name: c.results[k] for c in conditions}
        why_not = {
            c.name: overridden(default.runs, c.runs, per[c.name], baseline)
            if default is not None and c is not default and not per[c.name].missing_rows
            else ""
            for c in conditions
        }
        shown = {
            name: "not tested" if r.missing_rows else "not read" if why_not[name] else r.verdict
            for name, r in per.items()
        }
        read = reading({n: v for n, v in shown.items() if v not in ("not tested", "not read")}, settings)
        for c in conditions:
            numbers = check_numbers(per[c.name], c.runs)
            lines.append({
                "claim": claim.claim.key, "condition": c.name, "setting": settings[c.name][1],
                "verdict": shown[c.name], "runs": len(c.runs),
                "numbers": f"not read: {why_not[c.name]} ({numbers})" if why_not[c.name] else numbers,
                "reading": read.kind, "reading_text": read.text,
            })  # fmt: skip
    return pd.DataFrame(lines)
