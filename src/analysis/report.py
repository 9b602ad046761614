"""A study's written results, regenerated from its runs: table, figures and the claims report.

    python -m src.analysis.report experiments/collapse_table [--baseline byol]

reads ``<study_dir>/runs`` and writes ``table.md``, ``table.csv``, ``claims.md`` and ``figures/*.png``
into ``<study_dir>``. Every number in them is measured: regenerate, never edit by hand.

It first prints one line saying what it found (``found N finished, M unfinished, K unreadable in …``,
naming each file it could not read and why), then one ``warning:`` line per row it split or seed it
counted once (src/analysis/load/grouping.py). Runs that did not finish and unreadable files are left out and
the report is written from the rest. With no finished run at all (no ``runs/`` folder, an empty one, or
only unfinished or unreadable runs) it says so in one line, writes nothing, and exits with status 2: a
report of nothing would overwrite the study's committed results.
"""

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from scipy import stats

from src.analysis.judge.claim_catalogue import CLAIMS
from src.analysis.judge.claims import CONFIDENCE, MIN_SEEDS, Claim, ClaimResult, describe, evaluate_all
from src.analysis.judge.references import quote
from src.analysis.load.runs import StudyRuns, load_runs
from src.analysis.render.figures import write_figures
from src.analysis.render.horizons import horizon_markdown, horizon_table
from src.analysis.render.predictor_figures import plot_predictor_dynamics
from src.analysis.render.tables import ablation_table, table_markdown, write_table
from src.runs.atomic import write_text_atomic

FIGURE_TITLES = {
    "dynamics": "Collapse metrics and probe accuracy against the training step",
    "spectra": "Final singular spectra per row",
    "tau_sweep": "Accuracy and effective rank against the EMA rate τ",
    "predictor": "Predictor eigenvalues and eigenvector alignment with F against the training step",
}


@dataclass(frozen=True)
class WrittenReport:
    study_dir: Path
    table_md: Path
    table_csv: Path
    claims_md: Path
    figures: dict[str, Path]
    results: tuple[ClaimResult, ...]
    loaded: StudyRuns


def study_name(loaded: StudyRuns, study_dir: Path) -> str:
    """The study every run names (all of them, joined, if they differ), else the folder's name."""
    names = sorted(loaded.runs["study"].dropna().astype(str).unique()) if len(loaded.runs) else []
    return " + ".join(names) if names else Path(study_dir).name


def regenerate_command(study_dir: Path, baseline: str) -> str:
    flag = "" if baseline == "byol" else f" --baseline {baseline}"
    return f"python -m src.analysis.report {study_dir}{flag}"


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


def claim_section(
    result: ClaimResult, results: list[ClaimResult], figures: dict[str, Path], study_dir: Path
) -> str:
    claim = result.claim
    lines = [
        f"### {claim.key}: {result.verdict}",
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


def claims_markdown(
    name: str, results: list[ClaimResult], loaded: StudyRuns, table: pd.DataFrame, baseline: str,
    figures: dict[str, Path], study_dir: Path, command: str | None = None,
) -> str:  # fmt: skip
    """The claims report: verdict summary, one section per tested claim, figures, what was not tested."""
    tested = [r for r in results if not r.missing_rows]
    untested = [r for r in results if r.missing_rows]
    n_family = family_size(tested)
    lines = [
        f"# Claims report: {name}",
        "",
        f"Measured on {len(loaded.runs)} finished runs ({loaded.n_unfinished} did not "
        f"finish and are left out: listed at the end). Generated by "
        f"`{command or regenerate_command(study_dir, baseline)}`; "
        "regenerate it, never edit it by hand. Provenance: `PROVENANCE.md`.",
        "",
        "How the verdicts are read: *holds* if every test of the claim holds, *fails* if any test fails, "
        "*inconclusive* otherwise. Collapse tests read the verdict each run stored with its written rule "
        "(src/metrics/verdict.py); a *borderline* seed makes them inconclusive. Accuracy tests are paired "
        "by seed (each run against its own calibrated random-init reference, or against the run of the "
        "same seed of the other row: rows share seed, data and initialisation) and test the mean "
        f"difference against the threshold with a one-sample t-test. Multiple comparisons: the family is "
        f"the {n_family} distinct accuracy tests of this report, and their p-values are adjusted by "
        f"Holm's step-down method, so the chance of any false holds/fails among them is at most "
        f"{1 - CONFIDENCE:.0%}; the {CONFIDENCE:.0%} t-intervals shown are unadjusted. "
        f"{t_note(loaded.runs)} They cover seed-to-seed variation only. Fewer than {MIN_SEEDS} "
        "paired seeds is always inconclusive.",
        "",
        "| claim | verdict | rows |",
        "|---|---|---|",
        *(f"| {r.claim.key} | **{r.verdict}** | {', '.join(r.claim.rows)} |" for r in tested),
        "",
        "## Ablation table",
        "",
        f"Mean ± std over seeds (std: sample, ddof = 1). Δ acc: change of the mean linear-probe accuracy "
        f"against {baseline}. Also in `table.md` / `table.csv`.",
        "",
        table_markdown(table, baseline),
        "",
        *horizon_markdown(horizon_table(loaded.runs)),
        *identical_section(tested),
        "## Claims",
        "",
        *(claim_section(r, tested, figures, study_dir) + "\n" for r in tested),
    ]
    if figures:
        lines += ["## Figures", ""]
        lines += [f"![{FIGURE_TITLES[k]}]({p.relative_to(study_dir)})\n" for k, p in figures.items()]
    if untested:
        lines += ["## Not tested in this study", ""]
        lines += [f"- {r.claim.key}: needs rows {', '.join(r.missing_rows)}" for r in untested]
        lines.append("")
    if loaded.n_unfinished:
        lines += ["## Runs that did not finish", "", loaded.unfinished.to_markdown(index=False), ""]
    return "\n".join(lines)


def write_report(
    study_dir: Path,
    loaded: StudyRuns,
    baseline: str = "byol",
    claims: tuple[Claim, ...] = CLAIMS,
    command: str | None = None,
) -> WrittenReport:
    """Write the table, figures and claims report of ``loaded`` (``load_runs(<study_dir>/runs)``, or
    ``load_wandb_runs``) into ``study_dir``; ``command`` is the one that regenerates it, if not this
    module's."""
    study_dir = Path(study_dir)
    table = ablation_table(loaded.runs, baseline=baseline, unfinished=loaded.unfinished)
    table_md, table_csv = write_table(table, study_dir, baseline)
    figures = write_figures(loaded.runs, loaded.steps, loaded.spectra, study_dir / "figures", baseline)
    predictor = plot_predictor_dynamics(loaded.steps, study_dir / "figures" / "predictor.png", baseline)
    if predictor is not None:
        figures["predictor"] = predictor
    results = evaluate_all(claims, loaded.runs)
    claims_md = study_dir / "claims.md"
    text = claims_markdown(
        study_name(loaded, study_dir), results, loaded, table, baseline, figures, study_dir, command
    )
    write_text_atomic(claims_md, text)
    return WrittenReport(study_dir, table_md, table_csv, claims_md, figures, tuple(results), loaded)


def report_what_was_found(
    study_dir: Path, loaded: StudyRuns, baseline: str = "byol", command: str | None = None
) -> WrittenReport | None:
    """Print what was found (one line, then one per warning) and write the report if there is a finished
    run to report on; None (nothing written) otherwise."""
    print(loaded.found(), flush=True)
    for warning in loaded.warnings:
        print(f"warning: {warning}", flush=True)
    if loaded.runs.empty:
        print(f"no finished run: no report written into {study_dir}", flush=True)
        return None
    return write_report(study_dir, loaded, baseline, command=command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study_dir", type=Path, help="e.g. experiments/collapse_table (its runs under runs/)")
    parser.add_argument("--baseline", default="byol", help="the row the Δ column compares against")
    args = parser.parse_args(argv)
    runs_dir = args.study_dir / "runs"
    if not runs_dir.is_dir():
        print(f"no runs folder at {runs_dir}: no report written", file=sys.stderr)
        return 2
    report = report_what_was_found(args.study_dir, load_runs(runs_dir), args.baseline)
    if report is None:
        return 2
    print(f"table  {report.table_md}\nclaims {report.claims_md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
