"""The Hydra callback a study config (conf/study/setup/parallel.yaml) installs: when the sweep ends, the
study's table, figures and claims report are written next to its runs (the sweep dir's parent,
``experiments/<study>/``), the invocation is added to the study's provenance, and the paths are printed.
Hydra calls ``on_multirun_end`` in reverse order of registration, so this runs before
``src.runs.sweep_callbacks.SweepReport`` prints its count (and exits 1 if a run failed).
``RobustnessReport`` (conf/study/robustness.yaml) does the same for a study of conditions
(``runs/<condition>/<row>/seed<s>/``): one report per condition and the robustness section;
``PanelReport`` (conf/study/verdict_panel.yaml) writes the verdict panel's report.
NOTE: Hydra builds the callbacks in every job's process too (a sweep's workers call ``on_job_start``), so
the report's modules (matplotlib, scipy, torch: seconds) are imported only when a report is written.
"""

import time
from pathlib import Path
from typing import TYPE_CHECKING

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from src.analysis.load.grouping import BASELINE
from src.analysis.load.runs import StudyRuns, load_runs
from src.analysis.provenance import LoadSampler, command_line, invocation, record_invocation
from src.runs.sweep_callbacks import every_job_refused, job_records

if TYPE_CHECKING:
    from src.analysis.robustness import ConditionStudy


class StudyReport(Callback):
    def __init__(self, baseline: str = BASELINE, note: str = ""):
        self.baseline = baseline  # the row the table's Δ column compares against
        self.note = note  # free text for PROVENANCE.md, e.g. "machine shared with other jobs"
        self.started = time.time()
        self.load_sampler = LoadSampler()

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self.started = time.time()
        self.load_sampler.start()

    def load(self, runs_dir: Path) -> StudyRuns:
        """The study's runs, loaded once (their ``runs`` and ``n_unfinished`` also go to the provenance)."""
        return load_runs(runs_dir)

    def write(self, study_dir: Path, loaded: StudyRuns) -> list[tuple[str, Path]] | None:
        """The study's report from its runs; the written paths by label (None: no finished run)."""
        from src.analysis.report import found, write_report

        if not found(loaded, study_dir):
            return None
        report = write_report(study_dir, loaded, self.baseline, provenance=True)  # written next
        return [("table", report.table_md), ("claims", report.claims_md), ("figures", study_dir / "figures")]

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        load = self.load_sampler.stop()  # the runs' load, before the report's own work
        runs_dir = Path(config.hydra.sweep.dir)
        if every_job_refused(job_records(runs_dir)):
            return  # bad input: no report, no provenance entry (the sweep's report exits 2 after this)
        study_dir = runs_dir.parent
        loaded = self.load(runs_dir)
        written = self.write(study_dir, loaded)  # None: no finished run
        launcher = {
            "launcher": OmegaConf.select(config, "hydra.runtime.choices.hydra/launcher", default="basic"),
            "n_jobs": OmegaConf.select(config, "hydra.launcher.n_jobs", default=1),
            "cpu_threads": config.get("cpu_threads"),
        }
        entry = invocation(loaded.runs, self.started, time.time(), command_line(), launcher, self.note, load)
        provenance = record_invocation(study_dir, config.get("study") or study_dir.name, entry)
        listed = "".join(f"  {label:<10} {path}\n" for label, path in written or ())
        print(
            f"study {config.get('study') or study_dir.name}: {len(loaded.runs)} runs finished, {loaded.n_unfinished} unfinished; "
            f"{entry['runs_executed_now']} executed by this invocation in {entry['wall_time_s']:.0f} s\n"
            f"{listed}  provenance {provenance}",
            flush=True,
        )


class RobustnessReport(StudyReport):
    """A study of conditions: every condition's report and the robustness section
    (src/analysis/robustness.py) instead of one report of all runs, which would mix the conditions."""

    def load(self, runs_dir: Path) -> "ConditionStudy":
        from src.analysis.robustness import load_conditions

        return load_conditions(runs_dir)

    def write(self, study_dir: Path, loaded: "ConditionStudy") -> list[tuple[str, Path]] | None:
        from src.analysis.robustness import write_robustness_report

        return write_robustness_report(study_dir, loaded, self.baseline, provenance=True)


class PanelReport(StudyReport):
    """The verdict panel (conf/study/verdict_panel.yaml): its confusion matrices and leave-one-testbed-out
    check (src/analysis/panel.py) instead of an ablation table."""

    def write(self, study_dir: Path, loaded: StudyRuns) -> list[tuple[str, Path]] | None:
        from src.analysis.panel import write_panel_report

        return write_panel_report(study_dir, loaded=loaded)
