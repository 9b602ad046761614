"""The robustness section as markdown: the conditions and their settings, each claim's verdict per
condition and its reading, and the numbers behind each verdict (src/analysis/judge/conditions.py).
"""

import pandas as pd

from src.analysis.judge.conditions import Condition


def robustness_markdown(frame: pd.DataFrame, conditions: list[Condition]) -> str:
    """The robustness section: the conditions and their settings, then one line per claim with its verdict
    in each condition and its reading, then the numbers behind each verdict."""
    if frame.empty:
        return "## Robustness across conditions\n\nNo claim was judged: no condition has a finished run.\n"
    names = [c.name for c in conditions]
    lines = [
        "## Robustness across conditions",
        "",
        "Each claim judged on each condition's runs alone (its own Holm family), then read across the "
        "conditions: *holds in every condition*, *holds only when* the setting named, *fails in every "
        "condition*, or *inconclusive*. Design: one factor at a time around the default; interactions "
        "of two factors are not measured.",
        "",
        "| condition | finished runs | setting (against the default) |",
        "|---|---|---|",
        *(f"| {c.name} | {len(c.loaded.runs)} | {frame.loc[frame['condition'] == c.name, 'setting'].iloc[0]} |"
          for c in conditions),
        "",
        f"| claim | {' | '.join(names)} | reading |",
        f"|---|{'---|' * len(names)}---|",
    ]  # fmt: skip
    for claim, group in frame.groupby("claim", sort=False):
        verdicts = group.set_index("condition")["verdict"]
        lines.append(
            f"| {claim} | {' | '.join(verdicts[n] for n in names)} | {group['reading_text'].iloc[0]} |"
        )
    lines += ["", "### The numbers behind each verdict", ""]
    for claim, group in frame.groupby("claim", sort=False):
        lines.append(f"- **{claim}**: {group['reading_text'].iloc[0]}")
        lines += [f"  - {c}: {v} — {n}" for c, v, n in group[["condition", "verdict", "numbers"]].values]
    return "\n".join(lines) + "\n"
