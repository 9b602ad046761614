"""Every run under a folder as pandas frames (DESIGN.md §6: the run directory is the source of truth).

A run directory is a folder holding a ``summary.json`` or a Hydra ``.hydra/`` folder. Only runs whose
summary says ``status: finished`` enter the analysis; every other run directory (no summary yet: killed
or still running; a summary with another status: failed, diverged) is listed in ``unfinished`` with the
reason, so a table can say how many runs it is missing instead of silently averaging fewer seeds.

Column conventions of ``StudyRuns.runs`` (one row per finished run):

- ``run`` (the run directory relative to the loaded folder), ``run_dir``, ``study``, ``row``, ``seed``,
  ``status``, ``verdict``, ``steps``, ``wall_time_s``, ``config_hash``, ``git_commit``, ``git_dirty``,
  ``finished_at`` (the summary's modification time, seconds since the epoch);
- the final metrics under their own names (``probe/linear_acc``, ``collapse/z_rank``, ``train/loss`` …);
- the random-init reference of the same run under ``ref.<metric>`` (``ref.probe/linear_acc`` …);
- Hydra's choices under ``choice.<group>`` (``choice.model/predictor``) and every leaf of the resolved
  config under ``cfg.<dotted.key>`` (``cfg.model.target.tau``), so any factor can be grouped on.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from src.runs.files import METRICS_FILE, SUMMARY_FILE

FINISHED = "finished"
RUN_KEYS = ("study", "row", "seed", "status", "verdict", "steps", "wall_time_s", "config_hash")
STEP_COLUMNS = ["run", "row", "seed", "step", "metric", "value"]
SPECTRA_COLUMNS = ["run", "row", "seed", "stage", "representation", "index", "sigma"]
UNFINISHED_COLUMNS = ["run", "run_dir", "row", "seed", "status", "reason", "overrides"]


@dataclass(frozen=True)
class StudyRuns:
    runs: pd.DataFrame  # one row per finished run (columns: module docstring)
    unfinished: pd.DataFrame  # one row per run that did not finish: UNFINISHED_COLUMNS
    steps: pd.DataFrame  # long per-step metrics of the finished runs: STEP_COLUMNS
    spectra: pd.DataFrame  # long singular spectra of the finished runs: SPECTRA_COLUMNS

    @property
    def n_unfinished(self) -> int:
        return len(self.unfinished)


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
    git = summary.get("git") or {}
    record.update(git_commit=git.get("commit"), git_dirty=git.get("dirty"))
    record.update(summary.get("final", {}))
    record.update({f"ref.{k}": v for k, v in summary.get("reference", {}).items()})
    record.update({f"choice.{k}": v for k, v in summary.get("choices", {}).items()})
    record.update(flatten(summary.get("config", {}), "cfg."))
    return record


def _hydra_overrides(run_dir: Path | None) -> list[str]:
    path = None if run_dir is None else run_dir / ".hydra" / "overrides.yaml"
    return list(OmegaConf.load(path)) if path is not None and path.exists() else []


def unfinished_record(run_dir: Path | None, run: str, summary: dict | None) -> dict:
    """Who the run is (from its summary or, without one, from its Hydra overrides) and why it is out."""
    overrides = (summary or {}).get("overrides") or _hydra_overrides(run_dir)
    if summary is None:
        given = dict(o.lstrip("+").split("=", 1) for o in overrides if "=" in o)
        row, seed = given.get("ablation"), given.get("seed")
        status, reason = "missing", "no summary.json (killed, still running, or failed before writing it)"
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
    """The run's metrics.csv (Lightning's CSVLogger) as a long frame."""
    path = run_dir / METRICS_FILE
    if not path.exists():
        return pd.DataFrame(columns=STEP_COLUMNS)
    return long_metrics(pd.read_csv(path).drop(columns=["epoch"], errors="ignore"), record)


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


def frames(records: list[dict], unfinished: list[dict], steps: list, spectra: list) -> StudyRuns:
    """Assemble the four frames (shared by the local and the wandb loaders)."""
    runs = pd.DataFrame(records)
    if len(runs):
        runs = runs.sort_values(["row", "seed"], kind="stable").reset_index(drop=True)
    return StudyRuns(
        runs=runs,
        unfinished=pd.DataFrame(unfinished, columns=UNFINISHED_COLUMNS),
        steps=pd.concat(steps, ignore_index=True) if steps else pd.DataFrame(columns=STEP_COLUMNS),
        spectra=pd.concat(spectra, ignore_index=True) if spectra else pd.DataFrame(columns=SPECTRA_COLUMNS),
    )


def load_runs(folder: Path) -> StudyRuns:
    """Every run directory under ``folder``: finished runs in the frames, the others in ``unfinished``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no run folder at {folder}")
    records, unfinished, steps, spectra = [], [], [], []
    for run_dir in find_run_dirs(folder):
        run = str(run_dir.relative_to(folder)) if run_dir != folder else run_dir.name
        path = run_dir / SUMMARY_FILE
        summary = json.loads(path.read_text()) if path.exists() else None
        if summary is None or summary.get("status") != FINISHED:
            unfinished.append(unfinished_record(run_dir, run, summary))
            continue
        record = run_record(summary, run, str(run_dir))
        record["finished_at"] = path.stat().st_mtime  # when the summary was written (a rerun rewrites it)
        records.append(record)
        steps.append(step_metrics(run_dir, record))
        spectra.append(spectra_frame(summary, record))
    return frames(records, unfinished, steps, spectra)
