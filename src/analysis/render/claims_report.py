"""The claims report as markdown: the verdict summary, the ablation table, the EMA horizons, one section
per tested claim with its numbers and published references, the figures, and what was not tested.
"""

from pathlib import Path

import pandas as pd
from scipy import stats

from src.analysis.judge.claims import CONFIDENCE, MIN_SEEDS, ClaimResult, describe
from src.analysis.judge.references import quote
from src.analysis.judge.settings import DEFAULTS, Judged, untested
from src.analysis.load.runs import StudyRuns
from src.analysis.render.horizons import horizon_markdown, horizon_table
from src.analysis.render.tables import table_markdown

FIGURE_TITLES = {
    "dynamics": "Collapse metrics and probe accuracy against the training step",
    "spectra": "Final singular spectra per row",
    "tau_sweep": "Accuracy and effective rank against the EMA rate τ",
    "predictor": "Predictor eigenvalues and eigenvector alignment with F against the training step",
}


def study_name(loaded: StudyRuns, study_dir: Path) -> str:
    """The study every run names (all of them, joined, if they differ), else the folder's name."""
    names = sorted(loaded.runs["study"].dropna().astype(str).unique()) if len(loaded.runs) else []
    return " + ".join(names) if names else Path(study_dir).name


def t_note(runs: pd.DataFrame) -> str:
    """How wide a t-interval over this study's seeds is (the most common number of seeds per row)."""
    if runs.empty:
        return ""
    n = int(runs.groupby("row").size().mode().iloc[0])
    if n < MIN_SEEDS:
        return f"With {n} seed per row no interval can be formed."
    quantile = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)
    return f"With {n} seeds per row the t quantile is {quantile:.2f} (1.96 for a normal interval)."


def same_experiment_note(result: ClaimResult, results: list[ClaimResult]) -> list[str]:
    """For each group of identical rows the claim rests on: which other claims rest on it too."""
    lines = []
    for group in result.same_experiment:
        others = [r.claim.key for r in results if r is not result and set(group) & set(r.claim.rows)]
        also = f"; also behind {', '.join(others)}" if others else ""
        lines.append(f"- Same experiment: {' ≡ '.join(group)} (identical per-seed results){also}")
    return lines


def under(setting: str) -> str:
    """A setting as the report names it."""
    return "the defaults" if setting == DEFAULTS else f"`{setting}`"


def claim_section(
    result: ClaimResult,
    results: list[ClaimResult],
    figures: dict[str, Path],
    study_dir: Path,
    setting: str | None = None,
) -> str:
    """One tested claim; ``setting`` named in its title when the report judged claims under several."""
    claim = result.claim
    lines = [
        f"### {claim.key}: {result.verdict}" + ("" if setting is None else f" (under {under(setting)})"),
        "",
        f"{claim.statement}",
        "",
        f"- Source: {claim.source}",
        *(f"- Published: {quote(key)}" for key in claim.references),
        f"- Rows compared: {', '.join(claim.rows)}",
        *same_experiment_note(result, results),
    ]
    for check in result.checks:
        lines += [f"- Test: {describe(check.test)} → **{check.verdict}**", f"  - {check.numbers}"]
    links = ", ".join(f"[{name}]({p.relative_to(study_dir)})" for name, p in figures.items())
    if links:
        lines.append(f"- Figures: {links}")
    return "\n".join(lines)


def family_size(results: list[ClaimResult]) -> int:
    """How many distinct accuracy comparisons Holm's correction was taken over."""
    return max((c.family_size or 0 for r in results for c in r.checks), default=0)


def identical_section(results: list[ClaimResult]) -> list[str]:
    groups = sorted({g for r in results for g in r.same_experiment})
    if not groups:
        return []
    lines = ["## Identical experiments", ""]
    lines += [
        f"- {' ≡ '.join(g)}: every per-seed final metric is equal, so these rows are one experiment; "
        "their accuracy comparisons count once in the correction, and claims resting on them say so."
        for g in groups
    ]
    return [*lines, ""]


def tested_in(judged: Judged) -> list[ClaimResult]:
    return [r for r in judged.results if not r.missing_rows]


def family_text(judged: list[Judged]) -> str:
    """Which accuracy tests Holm's correction was taken over: this report's, or each setting's."""
    sizes = [(j.setting, family_size(tested_in(j))) for j in judged]
    if len(sizes) <= 1:
        return f"the {sizes[0][1] if sizes else 0} distinct accuracy tests of this report"
    each = ", ".join(f"{n} under {under(s)}" for s, n in sizes)
    return f"the distinct accuracy tests of each setting, judged apart ({each})"


def settings_note(judged: list[Judged]) -> list[str]:
    """Under which setting the claims were judged, when it is not the defaults alone."""
    if [j.setting for j in judged] in ([], [DEFAULTS]):
        return []
    names = "; ".join(f"{under(j.setting)} ({len(j.runs)} runs)" for j in judged)
    return [
        "Claims are matched on what a run computes: its row under the setting it ran with (the recipe and "
        "the overrides that change what it computes, from its label). Each claim is judged per setting, "
        f"on that setting's runs alone: {names}.",
        "",
    ]


def claims_markdown(
    name: str, judged: list[Judged], loaded: StudyRuns, table: pd.DataFrame, baseline: str,
    figures: dict[str, Path], study_dir: Path, command: str, provenance: bool = True,
) -> str:  # fmt: skip
    """The claims report: verdict summary, one section per tested claim (and setting), figures, what was
    not tested. ``provenance``: whether the study keeps a PROVENANCE.md to link."""
    shown = [j.setting for j in judged] not in ([], [DEFAULTS])  # name the setting of each verdict
    tested = [(j, r) for j in judged for r in j.results if not r.missing_rows]
    not_tested = untested(judged)
    lines = [
        f"# Claims report: {name}",
        "",
        f"Measured on {len(loaded.runs)} finished runs ({loaded.n_unfinished} did not "
        f"finish and are left out: listed at the end). Generated by "
        f"`{command}`; regenerate it, never edit it by hand."
        + (" Provenance: `PROVENANCE.md`." if provenance else ""),
        "",
        "How the verdicts are read: *holds* if every test of the claim holds, *fails* if any test fails, "
        "*inconclusive* otherwise. Collapse tests read the verdict each run stored with its written rule "
        "(src/metrics/verdict.py); a *borderline* seed makes them inconclusive. Accuracy tests are paired "
        "by seed (each run against its own calibrated random-init reference, or against the run of the "
        "same seed of the other row: rows share seed, data and initialisation) and test the mean "
        f"difference against the threshold with a one-sample t-test. Multiple comparisons: the family is "
        f"{family_text(judged)}, and their p-values are adjusted by "
        f"Holm's step-down method, so the chance of any false holds/fails among them is at most "
        f"{1 - CONFIDENCE:.0%}; the {CONFIDENCE:.0%} t-intervals shown are unadjusted. "
        f"{t_note(loaded.runs)} They cover seed-to-seed variation only. Fewer than {MIN_SEEDS} "
        "paired seeds is always inconclusive.",
        "",
        *settings_note(judged),
        "| claim | verdict | rows |" + (" judged under |" if shown else ""),
        "|---|---|---|" + ("---|" if shown else ""),
        *(
            f"| {r.claim.key} | **{r.verdict}** | {', '.join(r.claim.rows)} |"
            + (f" {under(j.setting)} |" if shown else "")
            for j, r in tested
        ),
        "",
        "## Ablation table",
        "",
        f"Mean ± std over seeds (std: sample, ddof = 1). Δ acc: change of the mean linear-probe accuracy "
        f"against {baseline}. Also in `table.md` (with the verdict's margins) / `table.csv`.",
        "",
        table_markdown(table, baseline),
        "",
        *horizon_markdown(horizon_table(loaded.runs)),
        *identical_section([r for _, r in tested]),
        "## Claims",
        "",
        *(
            claim_section(r, tested_in(j), figures, study_dir, j.setting if shown else None) + "\n"
            for j, r in tested
        ),
    ]
    if figures:
        lines += ["## Figures", ""]
        lines += [f"![{FIGURE_TITLES[k]}]({p.relative_to(study_dir)})\n" for k, p in figures.items()]
    if not_tested:
        lines += ["## Not tested in this study", ""]
        lines += [f"- {reason}: {', '.join(keys)}" for reason, keys in not_tested.items()]
        lines.append("")
    if loaded.n_unfinished:
        lines += ["## Runs that did not finish", "", loaded.unfinished.to_markdown(index=False), ""]
    return "\n".join(lines)
