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

from src.analysis.judge.claim_catalogue import CLAIMS
from src.analysis.judge.claims import Claim, ClaimResult, evaluate_all
from src.analysis.load.grouping import BASELINE
from src.analysis.load.runs import StudyRuns, load_runs
from src.analysis.render.claims_report import claims_markdown, study_name
from src.analysis.render.figures import write_figures
from src.analysis.render.predictor_figures import plot_predictor_dynamics
from src.analysis.render.tables import ablation_table, write_table
from src.runs.atomic import write_text_atomic


@dataclass(frozen=True)
class WrittenReport:
    study_dir: Path
    table_md: Path
    table_csv: Path
    claims_md: Path
    figures: dict[str, Path]
    results: tuple[ClaimResult, ...]
    loaded: StudyRuns


def regenerate_command(study_dir: Path, baseline: str) -> str:
    flag = "" if baseline == BASELINE else f" --baseline {baseline}"
    return f"python -m src.analysis.report {study_dir}{flag}"


def found(loaded: StudyRuns, study_dir: Path) -> bool:
    """Print what was found (one line, then one per warning); whether there is a finished run to report."""
    print(loaded.found(), flush=True)
    for warning in loaded.warnings:
        print(f"warning: {warning}", flush=True)
    if loaded.runs.empty:
        print(f"no finished run: no report written into {study_dir}", flush=True)
    return not loaded.runs.empty


def write_report(
    study_dir: Path,
    loaded: StudyRuns,
    baseline: str = BASELINE,
    claims: tuple[Claim, ...] = CLAIMS,
    command: str | None = None,
    results: list[ClaimResult] | None = None,
    appendix: str = "",
) -> WrittenReport:
    """Write the table, figures and claims report of ``loaded`` (``load_runs(<study_dir>/runs)``, or
    ``load_wandb_runs``) into ``study_dir``; ``command`` is the one that regenerates it, if not this
    module's; ``results`` the claims already judged on ``loaded``; ``appendix`` a section that ends
    ``claims.md`` (the robustness section of a study of conditions)."""
    study_dir = Path(study_dir)
    table = ablation_table(loaded.runs, baseline=baseline, unfinished=loaded.unfinished)
    table_md, table_csv = write_table(table, study_dir, baseline)
    figures = write_figures(loaded.runs, loaded.steps, loaded.spectra, study_dir / "figures", baseline)
    predictor = plot_predictor_dynamics(loaded.steps, study_dir / "figures" / "predictor.png", baseline)
    if predictor is not None:
        figures["predictor"] = predictor
    results = evaluate_all(claims, loaded.runs) if results is None else results
    claims_md = study_dir / "claims.md"
    text = claims_markdown(
        study_name(loaded, study_dir),
        results,
        loaded,
        table,
        baseline,
        figures,
        study_dir,
        command or regenerate_command(study_dir, baseline),
    )
    if appendix:
        text = text.rstrip("\n") + "\n\n" + appendix
    write_text_atomic(claims_md, text)
    return WrittenReport(study_dir, table_md, table_csv, claims_md, figures, tuple(results), loaded)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study_dir", type=Path, help="e.g. experiments/collapse_table (its runs under runs/)")
    parser.add_argument("--baseline", default=BASELINE, help="the row the Δ column compares against")
    args = parser.parse_args(argv)
    runs_dir = args.study_dir / "runs"
    if not runs_dir.is_dir():
        print(f"no runs folder at {runs_dir}: no report written", file=sys.stderr)
        return 2
    loaded = load_runs(runs_dir)
    if not found(loaded, args.study_dir):
        return 2
    report = write_report(args.study_dir, loaded, args.baseline)
    print(f"table  {report.table_md}\nclaims {report.claims_md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
