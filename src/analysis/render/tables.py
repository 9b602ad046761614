"""The ablation table (in the spirit of BYOL Table 5(b)): one line per row of the study.

Per row: how many seeds finished, how many of them collapsed and how many are borderline, how many runs
did not finish; mean and standard deviation over seeds of the probe accuracies, the collapse metrics and
the verdict's margins (signed distance of each deciding statistic from its threshold in band units,
src/metrics/verdict.py; > 0 is the healthy side, |m| < 1 borderline); the mean random-init reference of
the probe (each run's own, calibrated, docs/design.md §5); the change of the mean linear-probe accuracy
against the baseline row; and which rows are the same experiment (identical per-seed results, e.g. by
construction). Standard deviations are sample stds over seeds (ddof=1): blank for one seed.

Written as two markdown tables, the results and the margins (one column per reading of the verdict), so
that each fits a page; ``table.csv`` holds every column of both.
"""

from pathlib import Path

import pandas as pd

from src.analysis.load.grouping import BASELINE, identical_rows
from src.metrics.verdict import (
    BORDERLINE,
    COLLAPSE_VERDICTS,
    DIMENSION,
    ENERGY,
    MARGIN_PREFIX,
    PROBE,
    REPRESENTATIONS,
)
from src.runs.atomic import write_csv_atomic, write_text_atomic

TABLE_METRICS = (
    "probe/linear_acc",
    "probe/knn_acc",
    "collapse/z_std_sqrt_d",
    "collapse/z_rank",
    "collapse/h_rank",
)
REFERENCE_METRICS = ("probe/linear_acc",)  # the random-init reference shown beside the trained value
DELTA_METRIC = "probe/linear_acc"
LABELS = {  # column titles of the markdown table
    "probe/linear_acc": "linear probe acc",
    "ref.probe/linear_acc": "random-init linear acc",
    "probe/knn_acc": "kNN acc",
    "collapse/z_std_sqrt_d": "z std·√d",
    "collapse/z_rank": "z eff. rank",
    "collapse/h_rank": "h eff. rank",
}


# The verdict's readings in words (src/metrics/verdict.py), in the order the rule decides on them.
READING_WORDS = {ENERGY: "energy", DIMENSION: "centred rank", PROBE: "probe gain"}
MARGINS_NOTE = (
    "Each cell: the margin of one reading of the collapse verdict, mean ± std over seeds: (reading − "
    "threshold) / (band · |threshold|), its signed distance from the threshold in band units; > 0 on the "
    "healthy side, < 0 on the collapsed side, within ±1 near it (a verdict decided by it is borderline). "
    "*energy*: log10 of the output's input-varying energy over its random-init value (collapsed below "
    "−energy_below_decades); *centred rank*: the centred effective rank / min(N, d) (collapsed below "
    "dimensional_below); *probe gain*: the probe on h minus its random-init reference, in standard errors "
    "(collapsed below −probe_below_se). Each run's rule and thresholds: `verdict_rule` in its summary.json; "
    "definitions: docs/verdict.md."
)


def known_reading(column: str) -> tuple[str, str] | None:
    """``margin/z_energy_decades`` → ``("z", "energy_decades")``; None for a margin of no reading of this
    rule (a record judged by another)."""
    representation, _, reading = column.removeprefix(MARGIN_PREFIX).partition("_")
    return (
        (representation, reading) if reading in READING_WORDS and representation in REPRESENTATIONS else None
    )


def margin_order(column: str) -> tuple:
    """Sort key of a margin column: by reading as the rule decides on them, then by representation (h, z,
    p); a margin of no known reading after them, by name."""
    known = known_reading(column)
    if known is None:
        return (len(READING_WORDS), 0, column)
    representation, reading = known
    return (list(READING_WORDS).index(reading), REPRESENTATIONS.index(representation), "")


def margin_label(column: str) -> str:
    """``margin/z_energy_decades`` → ``z energy`` (a column title of the margins table); a margin of no
    known reading keeps its name, with spaces for underscores."""
    known = known_reading(column)
    if known is None:
        return column.removeprefix(MARGIN_PREFIX).replace("_", " ")
    representation, reading = known
    return f"{representation} {READING_WORDS[reading]}"


def delta_column(baseline: str, metric: str = DELTA_METRIC) -> str:
    return f"Δ {metric} vs {baseline}"


def ordered(labels, baseline: str) -> list:
    """The baseline first, then the other labels sorted."""
    rest = sorted(label for label in labels if label != baseline)
    return [baseline, *rest] if baseline in set(labels) else rest


def ablation_table(
    runs: pd.DataFrame,
    *,
    baseline: str = BASELINE,
    by: str = "row",
    unfinished: pd.DataFrame | None = None,
    metrics: tuple[str, ...] = TABLE_METRICS,
) -> pd.DataFrame:
    """One line per value of ``runs[by]`` (and per row that only has unfinished runs).

    Columns: ``seeds``, ``collapsed``, ``unfinished``, ``<metric> mean`` / ``<metric> std`` for each
    metric and each reference metric (``ref.<metric>``), and ``Δ <DELTA_METRIC> vs <baseline>``.
    """
    missing = [m for m in (*metrics, *(f"ref.{m}" for m in REFERENCE_METRICS)) if m not in runs]
    if missing:
        raise KeyError(f"runs frame lacks the table's metric columns {missing}")
    not_done = (
        unfinished[by].value_counts() if unfinished is not None and len(unfinished) else pd.Series(dtype=int)
    )
    index = ordered(set(runs[by]) | set(not_done.index.dropna()), baseline)
    groups = runs.groupby(by)
    table = pd.DataFrame(index=pd.Index(index, name=by))
    table["seeds"] = groups.size().reindex(index, fill_value=0)
    table["collapsed"] = (
        groups["verdict"].agg(lambda v: int(v.isin(COLLAPSE_VERDICTS).sum())).reindex(index, fill_value=0)
    )
    table["borderline"] = (
        groups["verdict"].agg(lambda v: int((v == BORDERLINE).sum())).reindex(index, fill_value=0)
    )
    table["unfinished"] = not_done.reindex(index, fill_value=0).astype(int)
    same = {row: group for group in identical_rows(runs, by) for row in group}
    table["same as"] = [", ".join(r for r in same.get(row, ()) if r != row) for row in index]
    margins = sorted(c for c in runs.columns if c.startswith(MARGIN_PREFIX))
    for column in (*metrics, *(f"ref.{m}" for m in REFERENCE_METRICS), *margins):
        table[f"{column} mean"] = groups[column].mean().reindex(index)
        table[f"{column} std"] = groups[column].std(ddof=1).reindex(index)
    base = table[f"{DELTA_METRIC} mean"].get(baseline, float("nan"))
    table[delta_column(baseline)] = table[f"{DELTA_METRIC} mean"] - base
    return table


def mean_std(mean: float, std: float, digits: int) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.{digits}f}" if pd.isna(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def table_markdown(table: pd.DataFrame, baseline: str = BASELINE) -> str:
    """The results as markdown, ``mean ± std`` per cell (std over seeds): every column but the margins
    (``margins_markdown``)."""
    shown = pd.DataFrame(index=table.index)
    shown["seeds"] = table["seeds"]
    shown["collapsed"] = [f"{c}/{n}" for c, n in zip(table["collapsed"], table["seeds"], strict=True)]
    shown["borderline"] = table["borderline"]
    shown["unfinished"] = table["unfinished"]
    columns = ["probe/linear_acc", "ref.probe/linear_acc"]
    columns += [c for c in LABELS if c not in columns and f"{c} mean" in table]
    for column in columns:
        digits = 1 if column.endswith("_rank") else 3
        shown[LABELS[column]] = [
            mean_std(m, s, digits)
            for m, s in zip(table[f"{column} mean"], table[f"{column} std"], strict=True)
        ]
        if column == "ref.probe/linear_acc":
            delta = table[delta_column(baseline)]
            shown[f"Δ acc vs {baseline}"] = ["–" if pd.isna(d) else f"{d:+.3f}" for d in delta]
    shown["same as"] = table["same as"].replace("", "–")
    return shown.to_markdown(disable_numparse=True)


def margins_markdown(table: pd.DataFrame) -> str:
    """The verdict's margins as markdown, one column per reading (titled by ``margin_label``, in the
    rule's order), ``mean ± std`` over seeds; "" when the table has none (MARGINS_NOTE reads the cells)."""
    margins = sorted(
        (c.removesuffix(" mean") for c in table if c.startswith(MARGIN_PREFIX) and c.endswith(" mean")),
        key=margin_order,
    )
    if not margins:
        return ""
    shown = pd.DataFrame(index=table.index)
    for column in margins:
        shown[margin_label(column)] = [
            mean_std(m, s, 1) for m, s in zip(table[f"{column} mean"], table[f"{column} std"], strict=True)
        ]
    return shown.to_markdown(disable_numparse=True)


def write_table(table: pd.DataFrame, folder: Path, baseline: str = BASELINE) -> tuple[Path, Path]:
    """``table.md`` (the results, then a "Margins" section when the runs stored any) and ``table.csv``
    (every column of both, full precision) in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    md, csv = folder / "table.md", folder / "table.csv"
    margins = margins_markdown(table)
    sections = [table_markdown(table, baseline), *(["## Margins", MARGINS_NOTE, margins] if margins else [])]
    write_text_atomic(md, "\n\n".join(sections) + "\n")
    write_csv_atomic(csv, table)
    return md, csv
