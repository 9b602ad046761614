"""The verdict panel's cases judged (src/analysis/panel.py writes the report): every run of the panel and
every trained run's own random-init network is one case with its label and testbed; the rule's verdict on
each, the thresholds fitted on the other testbeds, and the confusion of verdict against label.

Leave one testbed out: the two thresholds a label decides are fitted on the other testbeds, each at the
middle of the gap between the cases that must fall below it and those that must not (energy: in decades;
rank fraction: geometric), and the held-out testbed is judged with them. Where the labels of the fitting
testbeds overlap, the cut leaves the fewest of them on the wrong side, and the report counts those
("misjudged in the fit"). The probe threshold (2 standard errors) is a statistical convention, not fitted.
"""

import itertools
import math
from dataclasses import replace

import pandas as pd

from src.metrics.verdict import (
    DIMENSION,
    ENERGY,
    PROBE,
    VERDICTS,
    VerdictRule,
    bare_names,
    collapse_verdict,
    decide,
)

TESTBED, LABEL = "cfg.testbed", "cfg.panel_label"


RANDOM_INIT = "random_init"  # the case read from every trained run's own reference


PLANTED = "cfg.metrics.planted_output"


OUTPUT_ENERGY, LOWEST_RANK, H_PROBE = f"output_{ENERGY}", f"lowest_{DIMENSION}", f"h_{PROBE}"


READINGS = (OUTPUT_ENERGY, LOWEST_RANK, H_PROBE)  # named so that src.metrics.verdict.decide reads them


LABELS = ("no_collapse", "dimensional_collapse", "complete_collapse")  # the answers the panel's cases know


def _metrics(run: pd.Series, prefix: str = "") -> dict[str, float]:
    """A loaded run's final (or, with prefix ``ref.``, reference) metrics under their stored names."""
    return {
        k.removeprefix(prefix): v
        for k, v in run.items()
        if k.startswith(f"{prefix}collapse/") or k.startswith(f"{prefix}probe/")
        if pd.notna(v)
    }


def judged_case(final: dict, reference: dict, rule: VerdictRule) -> dict:
    """The verdict and the three readings that decide it: the output's energy (the highest of z, p: all must
    collapse), the lowest rank fraction of h, z, and the probe's gain in standard errors."""
    result = collapse_verdict(bare_names(final), bare_names(reference), rule)
    values = result.values
    return {
        "verdict": result.verdict,
        OUTPUT_ENERGY: max((v for k, v in values.items() if k.endswith(ENERGY)), default=math.nan),
        LOWEST_RANK: min((v for k, v in values.items() if k.endswith(DIMENSION)), default=math.nan),
        H_PROBE: values.get(H_PROBE, math.nan),
    }


def panel_cases(runs: pd.DataFrame, rule: VerdictRule) -> pd.DataFrame:
    """One line per labelled case: testbed, case, seed, label, the deciding readings and the verdict."""
    lines = []
    for _, run in runs.iterrows():
        final, reference = _metrics(run), _metrics(run, "ref.")
        base = {"testbed": run[TESTBED], "seed": run["seed"]}
        lines.append(
            base | {"case": run["row_name"], "label": run[LABEL]} | judged_case(final, reference, rule)
        )
        if pd.isna(run.get(PLANTED)):  # a planted run's reference is the same network as another case's
            lines.append(
                base | {"case": RANDOM_INIT, "label": "no_collapse"} | judged_case(reference, reference, rule)
            )
    return pd.DataFrame(lines)


def separating_threshold(below: pd.Series, above: pd.Series, geometric: bool = False) -> float:
    """The cut between two labelled groups of readings (``below`` should fall under it, ``above`` not): the
    middle (arithmetic, or geometric) of the widest gap between neighbouring values among the cuts that
    leave the fewest cases on the wrong side. Where the groups do not overlap that is the middle of the gap
    between them; where they do, the best a single threshold can do (a decision stump). NaN if a group is empty."""
    if below.empty or above.empty:
        return math.nan
    values = sorted(set(below) | set(above))
    best = (math.inf, -math.inf, math.nan)  # (wrong side, −gap, cut): the smallest tuple wins
    for low, high in itertools.pairwise(values):
        cut = math.sqrt(low * high) if geometric else (low + high) / 2
        gap = math.log(high / low) if geometric else high - low
        wrong = int((below >= cut).sum() + (above < cut).sum())
        best = min(best, (wrong, -gap, cut))
    return best[2]


def fitted_rule(cases: pd.DataFrame, rule: VerdictRule) -> VerdictRule:
    """``rule`` with the energy and rank thresholds fitted on ``cases``' labels (separating_threshold):
    the energy between complete collapse and every other label (in decades), the rank fraction between
    dimensional collapse and no collapse (geometric)."""
    complete = cases["label"] == "complete_collapse"
    energy = separating_threshold(cases.loc[complete, OUTPUT_ENERGY], cases.loc[~complete, OUTPUT_ENERGY])
    dimensional, healthy = cases["label"] == "dimensional_collapse", cases["label"] == "no_collapse"
    rank = separating_threshold(
        cases.loc[dimensional, LOWEST_RANK], cases.loc[healthy, LOWEST_RANK], geometric=True
    )
    return replace(rule, energy_below_decades=-energy, dimensional_below=rank)


def rejudged(cases: pd.DataFrame, rule: VerdictRule) -> pd.Series:
    """The verdicts of ``cases`` under ``rule``, from their extreme readings (exact: in three-valued
    logic "every output collapsed" is "the highest collapsed", "some rank collapsed" the lowest)."""
    if math.isnan(rule.energy_below_decades) or math.isnan(rule.dimensional_below):
        return pd.Series("no threshold", index=cases.index)
    return cases.apply(lambda c: decide({k: c[k] for k in READINGS}, rule).verdict, axis=1)


def confusion(cases: pd.DataFrame, verdicts: pd.Series) -> pd.DataFrame:
    """Counts of label (rows) against verdict (columns), every verdict that occurs or is expected."""
    table = pd.crosstab(cases["label"], verdicts.rename("verdict"))
    columns = [v for v in (*VERDICTS, "undefined", "no threshold") if v in table.columns or v in table.index]
    return table.reindex(columns=columns, fill_value=0)


def leave_one_testbed_out(cases: pd.DataFrame, rule: VerdictRule) -> pd.DataFrame:
    """Per testbed: agreement under ``rule``, and under thresholds fitted on the other testbeds."""
    lines = []
    for testbed, held_out in cases.groupby("testbed"):
        others = cases[cases["testbed"] != testbed]
        fitted = fitted_rule(others, rule)
        agree = (held_out["verdict"] == held_out["label"]).sum()
        loto = (rejudged(held_out, fitted) == held_out["label"]).sum()
        lines.append({
            "testbed": testbed, "cases": len(held_out), "agree (rule)": int(agree),
            "fitted energy_below_decades": fitted.energy_below_decades,
            "fitted dimensional_below": fitted.dimensional_below,
            "misjudged in the fit": int((rejudged(others, fitted) != others["label"]).sum()),
            "agree (fitted on the others)": int(loto),
        })  # fmt: skip
    return pd.DataFrame(lines).set_index("testbed")


def require_a_panel(cases: pd.DataFrame) -> None:
    """A panel can be read only with every label and at least two testbeds (one to hold out, one to fit on);
    ValueError in one line otherwise."""
    missing = sorted(set(LABELS) - set(cases["label"]))
    if missing:
        raise ValueError(
            f"the panel has no case labelled {', '.join(missing)}: it needs one of each of {', '.join(LABELS)}"
        )
    if cases["testbed"].nunique() < 2:
        raise ValueError(
            f"the panel needs at least two testbeds to leave one out, found {', '.join(cases['testbed'].unique())}"
        )
