"""Is a verdict a property of the mechanism or of the budget? A study of conditions, reported.

A condition study (conf/study/robustness.yaml) runs every row under each condition of
conf/study/condition/ (one factor changed around the default) into ``runs/<condition>/<row>/seed<s>/``.
Each condition is loaded and judged on its own runs alone, then each claim is read across the conditions
(src/analysis/judge/conditions.py).

    python -m src.analysis.robustness experiments/robustness [--baseline byol]

writes, from the run records alone: the default condition's table, figures and claims report (ending with
the robustness section) into the study folder, every other condition's under ``conditions/<condition>/``,
and ``robustness.md`` / ``robustness.csv`` (one line per claim and condition).
"""

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from src.analysis.judge.claim_catalogue import CLAIMS
from src.analysis.judge.conditions import DEFAULT, Condition, robustness_frame
from src.analysis.judge.settings import judge_settings
from src.analysis.load.grouping import BASELINE
from src.analysis.load.runs import StudyRuns, load_runs
from src.analysis.render.robustness_markdown import robustness_markdown
from src.analysis.report import found, write_report
from src.runs.atomic import write_csv_atomic, write_text_atomic


def condition_folders(runs_dir: Path) -> list[Path]:
    """The condition folders of a condition study's runs folder (hidden scratch folders left out)."""
    return sorted(p for p in Path(runs_dir).iterdir() if p.is_dir() and not p.name.startswith("."))


@dataclass(frozen=True)
class ConditionStudy:
    """Every condition's runs, each loaded on its own (rows are never grouped across conditions)."""

    conditions: dict[str, StudyRuns]

    @property
    def runs(self) -> pd.DataFrame:  # every finished run, for the study's provenance
        return pd.concat([c.runs for c in self.conditions.values()], ignore_index=True)

    @property
    def n_unfinished(self) -> int:
        return sum(c.n_unfinished for c in self.conditions.values())


def load_conditions(runs_dir: Path) -> ConditionStudy:
    return ConditionStudy({folder.name: load_runs(folder) for folder in condition_folders(runs_dir)})


def judge_conditions(study: ConditionStudy, study_dir: Path) -> list[Condition]:
    """Every condition with a finished run and its claims, judged on its runs alone (default first); what
    was found in each is printed, a condition without a finished run is left out."""
    conditions = []
    for name, loaded in study.conditions.items():
        print(f"condition {name}:", end=" ", flush=True)
        if found(loaded, study_dir if name == DEFAULT else study_dir / "conditions" / name):
            judged = judge_settings(CLAIMS, loaded.runs)
            if len(judged) > 1:
                print(f"warning: condition {name}'s runs ran under {len(judged)} settings; read under "
                      f"{judged[0].setting or 'the defaults'} only", flush=True)  # fmt: skip
            conditions.append(Condition(name, loaded, judged[0]))
    return sorted(conditions, key=lambda c: (c.name != DEFAULT, c.name))


def write_robustness_report(
    study_dir: Path, study: ConditionStudy, baseline: str = BASELINE, provenance: bool | None = None
) -> list[tuple[str, Path]] | None:
    """All of it (module docstring); the written paths by label, None when no condition has a finished run.
    ``provenance``: whether the study folder keeps a PROVENANCE.md (None: whether it holds one already);
    the conditions' folders keep none."""
    study_dir = Path(study_dir)
    conditions = judge_conditions(study, study_dir)
    if not conditions:
        print(f"no finished run in any condition: no robustness report written into {study_dir}", flush=True)
        return None
    frame = robustness_frame(conditions, baseline)
    section = robustness_markdown(frame, conditions)
    command = f"python -m src.analysis.robustness {study_dir}"
    written = []
    for c in conditions:
        out = study_dir if c.name == DEFAULT else study_dir / "conditions" / c.name
        out.mkdir(parents=True, exist_ok=True)
        appendix = section if c.name == DEFAULT else ""  # the default's claims report ends with it
        report = write_report(
            out, c.loaded, baseline, command=command, judged=[c.judged], appendix=appendix,
            provenance=provenance if c.name == DEFAULT else False,
        )  # fmt: skip
        if c.name == DEFAULT:
            written.append(("claims", report.claims_md))
    md, csv = study_dir / "robustness.md", study_dir / "robustness.csv"
    write_text_atomic(md, f"# Robustness: {study_dir.name}\n\n{section}")
    write_csv_atomic(csv, frame, index=False)
    return [("robustness", md), ("csv", csv), *written]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "study_dir", type=Path, help="e.g. experiments/robustness (runs under runs/<condition>/)"
    )
    parser.add_argument("--baseline", default=BASELINE, help="the row the Δ column compares against")
    args = parser.parse_args(argv)
    if not (args.study_dir / "runs").is_dir():
        print(f"no runs folder at {args.study_dir / 'runs'}: no report written", file=sys.stderr)
        return 2
    written = write_robustness_report(args.study_dir, load_conditions(args.study_dir / "runs"), args.baseline)
    if written is None:
        return 2
    print("\n".join(f"{label:<10} {path}" for label, path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
