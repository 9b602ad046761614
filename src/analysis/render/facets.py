"""Which lines a study figure draws, and in which panel, so that 17+ rows can be told apart.

- Rows whose per-seed numbers are equal (every seed, step, metric and value) are one line, labelled
  ``no_ema = simsiam``: they are identical by construction (a constant τ = 0 EMA target is the online
  network with stop-gradient), and two lines on top of each other read as one with a wrong name.
- Above MAX_LINES lines a figure is faceted by mechanism family: the factor a row changes against the
  baseline (negatives, target network, EMA rate τ, normalisation, predictor; the first that applies),
  with the baseline drawn in every facet as the reference.
"""

from dataclasses import dataclass

import pandas as pd

from src.analysis.load.grouping import as_text, is_run_only
from src.analysis.render.tables import ordered

MAX_LINES = 8  # lines one panel holds legibly; above it the figure gets one facet per family
# (facet title, config columns whose change from the baseline puts a row in it), first match wins:
# SimCLR changes its predictor and target too, but what it adds is β; swapping the predictor changes
# its own norm key, so normalisation (no_bn_heads) is read from the projector and the backbone.
FAMILIES = (
    ("negatives (β > 0)", ("cfg.model.loss.negatives_weight",)),
    ("target network", ("choice.model/target", "cfg.model.target.stop_gradient")),
    ("EMA rate τ", ("cfg.model.target.tau", "cfg.model.target.schedule")),
    ("normalisation", ("cfg.model.projector.norm", "cfg.model.backbone.norm")),
    ("predictor", ("choice.model/predictor", "cfg.model.predictor", "cfg.optimizer.predictor_lr")),
)
OTHER = "other changes"


@dataclass(frozen=True)
class Line:
    rows: tuple[str, ...]  # one row, or rows with identical per-seed numbers (drawn once)

    @property
    def label(self) -> str:
        return " = ".join(self.rows)

    @property
    def row(self) -> str:
        return self.rows[0]  # the row whose numbers are drawn (all are equal)


def identical_groups(frame: pd.DataFrame, rows: list[str], keys: list[str], value: str) -> list[Line]:
    """``rows`` as lines: rows whose (``keys``…, ``value``) records are equal share one; in ``rows`` order."""
    fingerprint = {
        row: tuple(map(tuple, part[[*keys, value]].sort_values(keys).itertuples(index=False)))
        for row, part in frame[frame["row"].isin(rows)].groupby("row")
    }
    lines, seen = [], set()
    for row in rows:
        if row in seen or row not in fingerprint:
            continue
        same = tuple(r for r in rows if fingerprint.get(r) == fingerprint[row])
        seen.update(same)
        lines.append(Line(same))
    return lines


def _matches(column: str, prefixes: tuple[str, ...]) -> bool:
    return any(column == p or column.startswith(f"{p}.") for p in prefixes)


def changed_columns(runs: pd.DataFrame, row: str, baseline: str) -> list[str]:
    """The ``cfg.``/``choice.`` columns where ``row``'s first run differs from the baseline's (from each
    column's most common value over rows when the study has no baseline); run-only keys and the row's
    own name (``choice.ablation``) left out, a key both lack counts as equal."""
    columns = [
        c
        for c in runs.columns
        if (c.startswith("choice.") and c != "choice.ablation")
        or (c.startswith("cfg.") and not is_run_only(c[4:]))
    ]
    first = as_text(runs.drop_duplicates("row").set_index("row")[columns])
    reference = first.loc[baseline] if baseline in first.index else first.mode().iloc[0]
    return [c for c in columns if first.loc[row, c] != reference[c]]


def family(runs: pd.DataFrame, row: str, baseline: str) -> str:
    changed = changed_columns(runs, row, baseline)
    for title, prefixes in FAMILIES:
        if any(_matches(c, prefixes) for c in changed):
            return title
    return OTHER


def facets(lines: list[Line], runs: pd.DataFrame | None, baseline: str) -> list[tuple[str, list[Line]]]:
    """(title, lines) per panel group: one untitled group up to MAX_LINES lines (or without the runs
    frame), else one per family, in FAMILIES order, each with the baseline's line first. A merged line
    appears in the facet of each of its rows."""
    if runs is None or runs.empty or len(lines) <= MAX_LINES:
        return [("", lines)]
    base = [line for line in lines if baseline in line.rows]
    titles = [title for title, _ in FAMILIES] + [OTHER]
    groups = {title: [] for title in titles}
    for line in lines:
        if line in base:
            continue
        for title in dict.fromkeys(family(runs, row, baseline) for row in line.rows):
            groups[title].append(line)
    return [(title, base + groups[title]) for title in titles if groups[title]]


def lines_of(frame: pd.DataFrame, keys: list[str], value: str, baseline: str) -> list[Line]:
    """The frame's rows (baseline first, then sorted) as lines, identical rows merged."""
    return identical_groups(frame, ordered(frame["row"].unique(), baseline), keys, value)
