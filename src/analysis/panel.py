"""The verdict panel: the collapse rule judged on cases whose answer is known in advance, on every testbed,
and with thresholds fitted on the other testbeds only (conf/study/verdict_panel.yaml, docs/verdict.md).

    python -m src.analysis.panel experiments/verdict_panel [--rule conf/metrics/default.yaml]

Each run of the panel carries its label (``panel_label``, the verdict its case must get) and its testbed
(data × backbone). Every trained run's own random-init network is one more case, labelled
``no_collapse``: its reference judged against itself. The verdicts are recomputed from the stored
statistics with ``--rule`` (the rule's readings are pure functions of the final measurement and the
reference: src/metrics/verdict.py), so a rule can be judged without retraining. The cases, the confusion
matrices and the leave-one-testbed-out fit: src/analysis/judge/panel_cases.py.
"""

import argparse
from pathlib import Path

from omegaconf import OmegaConf

from src.analysis.judge.panel_cases import panel_cases, require_a_panel
from src.analysis.load.runs import StudyRuns, load_runs
from src.analysis.render.panel_markdown import panel_markdown
from src.core.paths import METRICS_DEFAULTS
from src.metrics.verdict import VerdictRule
from src.runs.atomic import write_csv_atomic, write_text_atomic


def load_rule(path: Path = METRICS_DEFAULTS) -> VerdictRule:
    """The verdict rule of a metrics YAML (the suite's defaults unless given)."""
    return VerdictRule.from_settings(OmegaConf.to_container(OmegaConf.load(path).verdict))


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
