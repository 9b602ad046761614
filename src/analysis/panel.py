"""The verdict panel: the collapse rule judged on cases whose answer is known in advance, on every testbed,
and with thresholds fitted on the other testbeds only (conf/study/verdict_panel.yaml, docs/verdict.md).

    python -m src.analysis.panel experiments/verdict_panel [--rule conf/metrics/default.yaml]

Each run of the panel carries its label (``panel_label``, the verdict its case must get) and its testbed
(data × backbone). Every trained run's own random-init network is one more case, labelled
``no_collapse``: its reference judged against itself. The verdicts are recomputed from the stored
statistics with ``--rule`` (the rule's readings are pure functions of the final measurement and the
reference: src/metrics/verdict.py), so a rule can be judged without retraining.

Leave one testbed out: the two thresholds a label decides are fitted on the other testbeds, each at the
middle of the gap between the cases that must fall below it and those that must not (energy: in decades;
rank fraction: geometric), and the held-out testbed is judged with them. Where the labels of the fitting
testbeds overlap, the cut leaves the fewest of them on the wrong side, and the report counts those
("misjudged in the fit"). The probe threshold (2 standard errors) is a statistical convention, not fitted.
"""

import argparse
import itertools
import math
from dataclasses import replace
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from src.analysis.load.runs import StudyRuns, load_runs
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
from src.runs.atomic import write_csv_atomic, write_text_atomic

TESTBED, LABEL = "cfg.testbed", "cfg.panel_label"
RANDOM_INIT = "random_init"  # the case read from every trained run's own reference
PLANTED = "cfg.metrics.planted_output"
METRICS_DEFAULTS = (
    Path(__file__).resolve().parents[2] / "conf" / "metrics" / "default.yaml"
)  # the rule in force
OUTPUT_ENERGY, LOWEST_RANK, H_PROBE = f"output_{ENERGY}", f"lowest_{DIMENSION}", f"h_{PROBE}"
READINGS = (OUTPUT_ENERGY, LOWEST_RANK, H_PROBE)  # named so that src.metrics.verdict.decide reads them
LABELS = ("no_collapse", "dimensional_collapse", "complete_collapse")  # the answers the panel's cases know


def load_rule(path: Path = METRICS_DEFAULTS) -> VerdictRule:
    """The verdict rule of a metrics YAML (the suite's defaults unless given)."""
    return VerdictRule.from_settings(OmegaConf.to_container(OmegaConf.load(path).verdict))


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


def readings_markdown(cases: pd.DataFrame) -> str:
    """Per testbed and case: the range over seeds of each deciding reading, and the verdicts."""

    def span(values: pd.Series) -> str:
        low, high = values.min(), values.max()
        return f"{low:+.2f}" if low == high else f"{low:+.2f} … {high:+.2f}"

    table = cases.groupby(["testbed", "case"], sort=True).agg(
        label=("label", "first"),
        **{name: (name, span) for name in READINGS},
        verdicts=(
            "verdict",
            lambda v: ", ".join(f"{k} ×{n}" for k, n in v.value_counts().sort_index().items()),
        ),
    )
    return table.to_markdown()


def panel_markdown(cases: pd.DataFrame, rule: VerdictRule) -> str:
    """The panel report: the rule, whether it agrees with every label, the leave-one-testbed-out check, the
    confusion matrix per testbed and the readings behind them."""
    loto = leave_one_testbed_out(cases, rule)
    every = bool((loto["agree (rule)"] == loto["cases"]).all())
    every_loto = bool((loto["agree (fitted on the others)"] == loto["cases"]).all())
    parts = [
        "# Verdict panel: the collapse rule on cases whose answer is known\n",
        "Generated by `python -m src.analysis.panel experiments/verdict_panel` from the runs under `runs/`; "
        "definitions and reading: [docs/verdict.md](../../docs/verdict.md).\n",
        f"Rule: {rule.describe()}\n",
        f"- The rule agrees with every label on every testbed: **{'yes' if every else 'no'}** "
        f"({int(loto['agree (rule)'].sum())}/{int(loto['cases'].sum())} cases).",
        f"- With the thresholds fitted on the other testbeds: **{'yes' if every_loto else 'no'}** "
        f"({int(loto['agree (fitted on the others)'].sum())}/{int(loto['cases'].sum())} cases).\n",
        "## Leave one testbed out\n",
        loto.to_markdown(floatfmt=".3g") + "\n",
        "## Confusion matrix per testbed (label × verdict under the rule)\n",
    ]
    for testbed, group in cases.groupby("testbed"):
        parts += [f"### {testbed}\n", confusion(group, group["verdict"]).to_markdown() + "\n"]
    parts += [
        "## The readings (range over seeds)\n",
        f"`{OUTPUT_ENERGY}`: log10 of the output's input-varying energy over its random-init reference, the "
        f"highest of z and p; `{LOWEST_RANK}`: the lowest centred rank fraction of h and z; `{H_PROBE}`: the "
        "probe on h minus its random-init reference, in standard errors. `random_init`: each trained run's "
        "reference judged against itself.\n",
        readings_markdown(cases) + "\n",
    ]
    return "\n".join(parts)


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


def write_panel_report(
    study_dir: Path, rule: VerdictRule | None = None, loaded: StudyRuns | None = None
) -> list[tuple[str, Path]] | None:
    """``panel.md`` and ``panel.csv`` (one line per case) next to ``runs/`` (read unless ``loaded`` is
    given); None without finished runs."""
    study_dir = Path(study_dir)
    loaded = loaded or load_runs(study_dir / "runs")
    if loaded.runs.empty:
        return None
    cases = panel_cases(loaded.runs, rule or load_rule())
    require_a_panel(cases)
    write_text_atomic(study_dir / "panel.md", panel_markdown(cases, rule or load_rule()))
    write_csv_atomic(study_dir / "panel.csv", cases, index=False)
    return [("panel", study_dir / "panel.md"), ("cases", study_dir / "panel.csv")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The verdict panel's report from its runs.")
    parser.add_argument("study_dir", type=Path, help="the panel's folder (holds runs/)")
    parser.add_argument("--rule", type=Path, default=None, help="a metrics YAML whose verdict rule to judge")
    args = parser.parse_args(argv)
    if not (args.study_dir / "runs").is_dir():
        print(f"error: {args.study_dir / 'runs'} is not a folder: give the panel's folder (it holds runs/)")
        return 2
    loaded = load_runs(args.study_dir / "runs")
    print(loaded.found())
    try:
        written = write_panel_report(args.study_dir, load_rule(args.rule) if args.rule else None, loaded)
    except ValueError as error:
        print(f"error: {args.study_dir}: {error}")
        return 2
    if written is None:
        print(f"error: no finished run under {args.study_dir / 'runs'}")
        return 2
    print("\n".join(f"{label:<6} {path}" for label, path in written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
