"""Every run under a folder as pandas frames (docs/design.md §6: the run directory is the source of truth).

A run directory is a folder holding a ``summary.json`` or a Hydra ``.hydra/`` folder. Only runs whose
summary says ``status: finished`` enter the analysis; every other run directory (no summary yet: killed
or still running; a summary with another status: failed, diverged; a summary that cannot be read) is
listed in ``unfinished`` with the reason, so a table can say how many runs it is missing instead of
silently averaging fewer seeds. Every file that cannot be read (a truncated ``summary.json``, a corrupt
``metrics.csv``) is also listed in ``unreadable`` with the reason; a finished run whose ``metrics.csv``
is unreadable stays in the analysis without per-step metrics.

Unlike runs are never averaged (src/analysis/load/grouping.py): ``row`` is the row name, split into labelled
sub-rows (``byol[trainer.max_steps=600]``) where the runs of one name differ in more than their seed, and
a seed run twice with one config counts once (the newest); ``warnings`` says what was split or dropped.

Column conventions of ``StudyRuns.runs`` (one row per finished run):

- ``run`` (the run directory relative to the loaded folder), ``run_dir``, ``study``, ``row`` (the grouped
  label: what tables and figures group on), ``row_name`` (the label the run recorded), ``base_row`` and
  ``setting`` (that label split into the row a claim names and the recipe and overrides it ran under:
  src/runs/naming.split_label; claims are judged per setting, src/analysis/judge/settings.py),
  ``seed``, ``status``, ``verdict``, ``steps``, ``wall_time_s``, ``config_hash``, ``identity`` (the hash
  of the config without seed and run-only keys: runs of one ``row`` share it), ``git_commit``,
  ``git_dirty``, ``finished_at`` (the summary's modification time, seconds since the epoch);
- the final metrics under their own names (``probe/linear_acc``, ``collapse/z_rank``, ``train/loss`` …);
- the random-init reference of the same run under ``ref.<metric>`` (``ref.probe/linear_acc`` …);
- Hydra's choices under ``choice.<group>`` (``choice.model/predictor``) and every leaf of the resolved
  config under ``cfg.<dotted.key>`` (``cfg.model.target.tau``), so any factor can be grouped on.
"""

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import yaml
from omegaconf import OmegaConf

from src.analysis.load.grouping import identity_hash, split_and_deduplicate
from src.runs.files import METRICS_FILE, SUMMARY_FILE
from src.runs.naming import split_label
from src.runs.record import Unreadable, one_line, read_summary

FINISHED = "finished"
UNREADABLE = "unreadable"  # the status of a run whose summary.json cannot be read
RUN_KEYS = ("study", "row", "seed", "status", "verdict", "steps", "wall_time_s", "config_hash")
STEP_COLUMNS = ["run", "row", "seed", "step", "metric", "value"]
SPECTRA_COLUMNS = ["run", "row", "seed", "stage", "representation", "index", "sigma"]
UNFINISHED_COLUMNS = ["run", "run_dir", "row", "seed", "status", "reason", "overrides"]
UNREADABLE_COLUMNS = ["run", "file", "reason"]


@dataclass(frozen=True)
class StudyRuns:
    runs: pd.DataFrame  # one row per finished run (columns: module docstring)
    unfinished: pd.DataFrame  # one row per run that did not finish (or whose summary is unreadable)
    steps: pd.DataFrame  # long per-step metrics of the finished runs: STEP_COLUMNS
    spectra: pd.DataFrame  # long singular spectra of the finished runs: SPECTRA_COLUMNS
    unreadable: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=UNREADABLE_COLUMNS))
    warnings: tuple[
        str, ...
    ] = ()  # rows split, seeds counted once, studies mixed (src/analysis/load/grouping.py)
    source: str = ""  # the folder (or wandb project) the runs were read from

    @property
    def n_unfinished(self) -> int:
        return len(self.unfinished)

    def found(self) -> str:
        """What was found, in one line: finished, unfinished (unreadable summaries apart), unreadable files."""
        unfinished = int((self.unfinished["status"] != UNREADABLE).sum())
        files = "; ".join(
            f"{f}: {r}" for f, r in zip(self.unreadable["file"], self.unreadable["reason"], strict=True)
        )
        where = f" in {self.source}" if self.source else ""
        line = f"found {len(self.runs)} finished, {unfinished} unfinished, {len(self.unreadable)} unreadable{where}"
        return f"{line} ({files})" if files else line


def find_run_dirs(folder: Path) -> list[Path]:
    """Every run directory under ``folder`` (itself included), sorted."""
    folder = Path(folder)
    marked = {p.parent for p in folder.rglob(SUMMARY_FILE)} | {p.parent for p in folder.rglob(".hydra")}
    return sorted(d for d in marked if "wandb" not in d.relative_to(folder).parts)


def flatten(tree: dict, prefix: str = "") -> dict:
    """Nested dicts as one level of dotted keys; lists become their string form (one cell each)."""
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value) if isinstance(value, list) else value
    return flat


def run_record(summary: dict, run: str, run_dir: str) -> dict:
    """One row of ``StudyRuns.runs`` from a summary (as ``src.train.train`` writes it)."""
    record = {"run": run, "run_dir": run_dir}
    record.update({key: summary.get(key) for key in RUN_KEYS})
    config = flatten(summary.get("config") or {})
    base_row, setting = split_label(str(record["row"]))
    record.update(row_name=record["row"], base_row=base_row, setting=setting, identity=identity_hash(config))
    git = summary.get("git") or {}
    record.update(git_commit=git.get("commit"), git_dirty=git.get("dirty"))
    record.update(summary.get("final", {}))
    record.update({f"ref.{k}": v for k, v in summary.get("reference", {}).items()})
    record.update({f"choice.{k}": v for k, v in summary.get("choices", {}).items()})
    record.update({f"cfg.{k}": v for k, v in config.items()})
    return record


def _hydra_overrides(run_dir: Path | None) -> list[str]:
    path = None if run_dir is None else run_dir / ".hydra" / "overrides.yaml"
    try:
        return [str(o) for o in OmegaConf.load(path)] if path is not None and path.exists() else []
    except (OSError, ValueError, yaml.YAMLError, TypeError):
        return []  # who the run was is then unknown; why it is out is still said


def unfinished_record(
    run_dir: Path | None, run: str, summary: dict | None, unreadable: str | None = None
) -> dict:
    """Who the run is (from its summary or, without one, from its Hydra overrides) and why it is out;
    ``unreadable`` is the reason its summary could not be read, if so."""
    overrides = (summary or {}).get("overrides") or _hydra_overrides(run_dir)
    if summary is None:
        given = dict(o.lstrip("+").split("=", 1) for o in overrides if "=" in o)
        row, seed = given.get("ablation"), given.get("seed")
        status, reason = "missing", "no summary.json (killed, still running, or failed before writing it)"
        if unreadable is not None:
            status, reason = UNREADABLE, f"{SUMMARY_FILE} unreadable: {unreadable}"
    else:
        row, seed, status = summary.get("row"), summary.get("seed"), summary.get("status")
        reason = summary.get("error") or f"status {status!r}"
    return {
        "run": run,
        "run_dir": str(run_dir or run),
        "row": row,
        "seed": None if seed is None else int(seed),
        "status": status,
        "reason": reason,
        "overrides": " ".join(overrides),
    }


def long_metrics(wide: pd.DataFrame, record: dict) -> pd.DataFrame:
    """A wide per-step table (a ``step`` column, one column per metric) as one row per logged value."""
    long = wide.melt(id_vars="step", var_name="metric", value_name="value").dropna(subset=["value"])
    long = long.assign(run=record["run"], row=record["row"], seed=record["seed"])
    # The last periodic measurement and the final one can share a step: same model, same numbers.
    long = long.drop_duplicates(subset=["step", "metric"], keep="last")
    return long[STEP_COLUMNS].astype({"step": int, "value": float})


def step_metrics(run_dir: Path, record: dict) -> pd.DataFrame:
    """The run's metrics.csv (Lightning's CSVLogger) as a long frame; raises Unreadable if it cannot be
    parsed (rows of the wrong width, no ``step`` column, values that are not numbers)."""
    path = run_dir / METRICS_FILE
    if not path.exists():
        return pd.DataFrame(columns=STEP_COLUMNS)
    try:
        wide = pd.read_csv(path).drop(columns=["epoch"], errors="ignore")
        if "step" not in wide:
            raise Unreadable("no step column")
        return long_metrics(wide, record)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise Unreadable(one_line(exc)) from exc


def spectra_frame(summary: dict, record: dict) -> pd.DataFrame:
    """The final and random-init singular spectra of one run, long."""
    rows = [
        (record["run"], record["row"], record["seed"], stage, rep, i, float(sigma))
        for stage, by_rep in (summary.get("spectra") or {}).items()
        if by_rep
        for rep, values in by_rep.items()
        for i, sigma in enumerate(values)
    ]
    return pd.DataFrame(rows, columns=SPECTRA_COLUMNS)


def relabel(frame: pd.DataFrame, labels: pd.Series, columns: list[str]) -> pd.DataFrame:
    """The rows of ``frame`` whose run is in ``labels`` (run → grouped row label), relabelled."""
    if frame.empty:
        return pd.DataFrame(columns=columns)
    kept = frame[frame["run"].isin(labels.index)]
    return kept.assign(row=kept["run"].map(labels))[columns].reset_index(drop=True)


def frames(
    records: list[dict],
    unfinished: list[dict],
    steps: list,
    spectra: list,
    unreadable: list[dict] = (),
    source: str = "",
) -> StudyRuns:
    """Assemble the frames (shared by the local and the wandb loaders): unlike runs split into sub-rows,
    repeated seeds counted once (src/analysis/load/grouping.py), every frame's ``row`` the grouped label."""
    runs = pd.DataFrame(records)
    if len(runs) and "finished_at" not in runs:
        runs["finished_at"] = float("nan")  # wandb runs have no summary file to date them
    runs, warnings = split_and_deduplicate(runs)
    if len(runs):
        runs = runs.sort_values(["row", "seed"], kind="stable").reset_index(drop=True)
    labels = runs.set_index("run")["row"] if len(runs) else pd.Series(dtype=object)
    steps = pd.concat(steps, ignore_index=True) if steps else pd.DataFrame(columns=STEP_COLUMNS)
    spectra = pd.concat(spectra, ignore_index=True) if spectra else pd.DataFrame(columns=SPECTRA_COLUMNS)
    return StudyRuns(
        runs=runs,
        unfinished=pd.DataFrame(unfinished, columns=UNFINISHED_COLUMNS),
        steps=relabel(steps, labels, STEP_COLUMNS),
        spectra=relabel(spectra, labels, SPECTRA_COLUMNS),
        unreadable=pd.DataFrame(list(unreadable), columns=UNREADABLE_COLUMNS),
        warnings=tuple(warnings),
        source=source,
    )


class NothingToAnalyse(Exception):
    """No finished run under the folders given; the message is one line saying what was found."""


def require_finished(loaded: StudyRuns) -> StudyRuns:
    """``loaded`` if it holds a finished run, else NothingToAnalyse (the notebooks stop on it)."""
    if loaded.runs.empty:
        raise NothingToAnalyse(f"{loaded.found()}: no finished run to analyse")
    return loaded


def runs_folder(folder: Path) -> Path:
    """Where a folder keeps its runs: a study's ``runs/``, else the folder itself (a multirun sweep's
    folder, a run's own folder, any folder with runs somewhere under it)."""
    runs = Path(folder) / "runs"
    return runs if runs.is_dir() else Path(folder)


def load_runs(folder: Path, missing_ok: bool = False) -> StudyRuns:
    """Every run directory under ``folder``: finished runs in the frames, the others in ``unfinished``,
    files that cannot be read in ``unreadable`` (nothing raises for a run's bad file). A folder that does
    not exist raises FileNotFoundError, or with ``missing_ok`` gives empty frames and a warning."""
    return load_folders([folder], missing_ok)


def load_folders(folders: list[Path], missing_ok: bool = False) -> StudyRuns:
    """``load_runs`` over several folders at once (a study folder is read from its ``runs/``:
    ``runs_folder``); each run named by its path relative to the folders' common parent, or to the one
    folder given."""
    folders = [Path(f) for f in folders]
    absent = [f for f in folders if not f.is_dir()]
    if absent and not missing_ok:
        raise FileNotFoundError(f"no run folder at {', '.join(map(str, absent))}")
    present = [f for f in folders if f.is_dir()]
    if not present:
        source = ", ".join(map(str, folders))
        return replace(frames([], [], [], [], source=source), warnings=(f"no run folder at {source}",))
    base = present[0] if len(present) == 1 else Path(os.path.commonpath([f.resolve() for f in present]))
    run_dirs = sorted({d.resolve() if len(present) > 1 else d for f in present for d in find_run_dirs(f)})
    records, unfinished, steps, spectra, unreadable = [], [], [], [], []
    for run_dir in run_dirs:
        run = str(run_dir.relative_to(base)) if run_dir != base else run_dir.name
        path = run_dir / SUMMARY_FILE
        try:
            summary = read_summary(path)
        except Unreadable as exc:
            unreadable.append({"run": run, "file": f"{run}/{SUMMARY_FILE}", "reason": str(exc)})
            unfinished.append(unfinished_record(run_dir, run, None, unreadable=str(exc)))
            continue
        if summary is None or summary.get("status") != FINISHED:
            unfinished.append(unfinished_record(run_dir, run, summary))
            continue
        record = run_record(summary, run, str(run_dir))
        record["finished_at"] = path.stat().st_mtime  # when the summary was written (a rerun rewrites it)
        records.append(record)
        try:
            steps.append(step_metrics(run_dir, record))
        except Unreadable as exc:  # the run's result stands; only its curves are missing
            unreadable.append({"run": run, "file": f"{run}/{METRICS_FILE}", "reason": str(exc)})
        spectra.append(spectra_frame(summary, record))
    return frames(records, unfinished, steps, spectra, unreadable, source=", ".join(map(str, present)))
