"""A study's written results, regenerated from its runs: table, figures and the claims report.

    python -m src.analysis.report FOLDER [FOLDER ...] [--out DIR] [--baseline ROW]

reads every run under the folders (a study folder's ``runs/``, a multirun sweep's folder, run folders)
and writes ``table.md``, ``table.csv``, ``claims.md`` and ``figures/*.png`` into ``--out`` (default: the
one folder given). Every number in them is measured: regenerate, never edit by hand.

It first prints one line saying what it found (``found N finished, M unfinished, K unreadable in …``,
naming each file it could not read and why), then one ``warning:`` line per row it split or seed it
counted once (src/analysis/load/grouping.py). Runs that did not finish and unreadable files are left out and
the report is written from the rest. Claims are judged per setting the runs ran under
(src/analysis/judge/settings.py); the baseline is found the same way (``byol`` is the sweep's
``byol+trainer.max_steps=150`` when that is the only run of it). With no finished run at all it says so in
one line, writes nothing, and exits with status 2: a report of nothing would overwrite the study's
committed results.
"""

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from src.analysis.judge.claim_catalogue import CLAIMS
from src.analysis.judge.claims import Claim
from src.analysis.judge.settings import Judged, judge_settings
from src.analysis.load.grouping import BASELINE, resolve_baseline
from src.analysis.load.runs import StudyRuns, load_folders, runs_folder
from src.analysis.provenance import PROVENANCE_FILE
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
    judged: tuple[Judged, ...]  # the claims, per setting the runs ran under
    loaded: StudyRuns


def regenerate_command(folders: list[Path], out: Path, baseline: str) -> str:
    flags = ("" if [out] == folders else f" --out {out}") + (
        "" if baseline == BASELINE else f" --baseline {baseline}"
    )
    return f"python -m src.analysis.report {' '.join(map(str, folders))}{flags}"


def found(loaded: StudyRuns, out: Path) -> bool:
    """Print what was found (one line, then one per warning); whether there is a finished run to report.
    Without one, the one line says so and that nothing was written."""
    if loaded.runs.empty:
        print(f"{loaded.found()}: no finished run, no report written into {out}", flush=True)
        return False
    print(loaded.found(), flush=True)
    for warning in loaded.warnings:
        print(f"warning: {warning}", flush=True)
    return True


def write_report(
    study_dir: Path,
    loaded: StudyRuns,
    baseline: str = BASELINE,
    claims: tuple[Claim, ...] = CLAIMS,
    command: str | None = None,
    judged: list[Judged] | None = None,
    appendix: str = "",
    provenance: bool | None = None,
) -> WrittenReport:
    """Write the table, figures and claims report of ``loaded`` (``load_runs(<study_dir>/runs)``, or
    ``load_wandb_runs``) into ``study_dir``; ``command`` is the one that regenerates it, if not this
    module's; ``judged`` the claims already judged on ``loaded``, per setting; ``appendix`` a section that ends
    ``claims.md`` (the robustness section of a study of conditions); ``provenance`` whether the study keeps
    a PROVENANCE.md (a study run writes one; None: whether ``study_dir`` holds one already)."""
    study_dir = Path(study_dir)
    table = ablation_table(loaded.runs, baseline=baseline, unfinished=loaded.unfinished)
    table_md, table_csv = write_table(table, study_dir, baseline)
    figures = write_figures(loaded.runs, loaded.steps, loaded.spectra, study_dir / "figures", baseline)
    predictor = plot_predictor_dynamics(
        loaded.steps, study_dir / "figures" / "predictor.png", baseline, runs=loaded.runs
    )
    if predictor is not None:
        figures["predictor"] = predictor
    judged = judge_settings(claims, loaded.runs) if judged is None else judged
    claims_md = study_dir / "claims.md"
    text = claims_markdown(
        study_name(loaded, study_dir),
        judged,
        loaded,
        table,
        baseline,
        figures,
        study_dir,
        command or regenerate_command([study_dir], study_dir, baseline),
        (study_dir / PROVENANCE_FILE).exists() if provenance is None else provenance,
    )
    if appendix:
        text = text.rstrip("\n") + "\n\n" + appendix
    write_text_atomic(claims_md, text)
    return WrittenReport(study_dir, table_md, table_csv, claims_md, figures, tuple(judged), loaded)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "folders", type=Path, nargs="+", metavar="FOLDER",
        help="a study folder (its runs under runs/), a multirun sweep's folder, run folders: every run under them",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, help="where the report goes (default: the one folder given)")
    parser.add_argument("--baseline", default=BASELINE, help="the row the Δ column compares against")
    args = parser.parse_args(argv)
    absent = next((f for f in args.folders if not f.is_dir()), None)
    if absent is not None:
        print(f"error: {absent} is not a folder: give a study, sweep or run folder", file=sys.stderr)
        return 2
    if args.out is None and len(args.folders) > 1:
        print(
            f"error: --out is needed with {len(args.folders)} folders: where should the report go?",
            file=sys.stderr,
        )
        return 2
    out = args.out or args.folders[0]
    loaded = load_folders([runs_folder(f) for f in args.folders])
    if not found(loaded, out):
        return 2
    baseline = resolve_baseline(loaded.runs, args.baseline)
    command = regenerate_command(args.folders, out, args.baseline)
    report = write_report(out, loaded, baseline, command=command)
    print(f"table  {report.table_md}\nclaims {report.claims_md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
