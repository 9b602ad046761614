"""Claims matched on what a run computes, not on its label. A claim names rows (``byol``,
``no_stopgrad``); a run of a sweep is labelled with its row *and* the setting it ran under, the recipe and
the overrides that change what it computes (``byol+trainer.max_steps=150``, src/runs/naming.py). The runs
are grouped by setting, and within each setting a claim's rows are the runs' own rows: a claim is judged
as that row *under that setting*, each setting its own family for Holm's correction (like a condition of
the robustness study). A claim tested in no setting is listed once, with the rows it lacks."""

from dataclasses import dataclass

import pandas as pd

from src.analysis.judge.claims import CONFIDENCE, Claim, ClaimResult, evaluate_all

DEFAULTS = ""  # the setting of runs with no recipe and no override that changes what they compute


@dataclass(frozen=True)
class Judged:
    setting: str  # the overrides every run judged here ran with, recipe first; DEFAULTS for none
    runs: pd.DataFrame  # those runs, ``row`` named as the claims name rows
    results: tuple[ClaimResult, ...]  # every claim, judged on these runs alone


def claim_rows(runs: pd.DataFrame) -> pd.Series:
    """Each run's row as a claim names it: its base row, unless one base row holds runs of several configs
    in this setting (the loader then split it into labelled sub-rows, which stay apart)."""
    configs = runs.groupby("base_row")["row"].nunique()
    return runs["base_row"].where(runs["base_row"].map(configs) == 1, runs["row"])


def by_setting(runs: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The runs grouped by setting (the defaults first), rows named as the claims name them."""
    if runs.empty:
        return []
    groups = sorted(runs.groupby("setting", sort=False), key=lambda g: (g[0] != DEFAULTS, g[0]))
    return [(setting, group.assign(row=claim_rows(group))) for setting, group in groups]


def judge_settings(
    claims: tuple[Claim, ...] | list[Claim], runs: pd.DataFrame, confidence: float = CONFIDENCE
) -> list[Judged]:
    """Every claim judged in every setting the runs ran under."""
    return [
        Judged(setting, group, tuple(evaluate_all(claims, group, confidence)))
        for setting, group in by_setting(runs)
    ]


def untested(judged: list[Judged]) -> dict[str, list[str]]:
    """Claims tested in no setting, grouped by why: the rows no setting ran, or, where every row ran
    somewhere, that they ran under different settings. Reason → claim keys."""
    if not judged:
        return {}
    present = {row for j in judged for row in j.runs["row"]}
    reasons: dict[str, list[str]] = {}
    for k, result in enumerate(judged[0].results):
        if any(not j.results[k].missing_rows for j in judged):
            continue
        lacking = [r for r in result.claim.rows if r not in present]
        reason = (
            f"needs rows {', '.join(lacking)}"
            if lacking
            else f"its rows {', '.join(result.claim.rows)} ran under different settings"
        )
        reasons.setdefault(reason, []).append(result.claim.key)
    return reasons
