"""Which runs may be averaged together: runs of one row name whose configs agree up to their seed.

A row name is only a folder or a wandb group: a study folder can hold runs of one name made with
different data, budgets, predictors or β (a study re-run after its settings changed, a slice with extra
overrides). Averaging them would report a mean of unlike things. So each run gets an *identity*, the
hash of its resolved config without the seed and the keys that say how to run rather than what
(RUN_ONLY), and

- a row name whose runs have more than one identity is split into labelled sub-rows named by the keys
  that differ (``byol[trainer.max_steps=600]``), with a warning naming those keys;
- a seed present twice with one identity counts once: the newest run is kept (by the summary's time,
  then by run path), with a warning naming the runs left out.

``split_and_deduplicate`` works on the loader's runs frame (``row_name``, ``identity``, ``cfg.*``); the
loader then relabels every frame's ``row`` with the result, so tables, claims and figures need not know.
"""

import hashlib
import json

import numpy as np
import pandas as pd

# Dotted config keys (and every key below them) that do not change what a run computes. NOTE: `seed`
# and `data.seed` (= the run seed) are what a row averages over; `row` and `study` are names.
RUN_ONLY = (
    "seed",
    "data.seed",
    "row",
    "study",
    "fresh",  # start over instead of resuming
    "debug",  # test hooks; a run they touched did not finish
    "logger",  # where metrics are mirrored
    "cpu_threads",  # speed only
    "checkpoint",  # resume granularity
    "data.root",  # where the images lie
    "data.download",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
)
ABSENT = "absent"  # a key one run has and another lacks
TO_TEXT = np.frompyfunc(str, 1, 1)
BASELINE = "byol"  # the row a run without `+ablation=` records (conf/config.yaml: row); Δ compares with it


def is_run_only(key: str) -> bool:
    """``key`` (dotted, without the ``cfg.`` prefix) is in RUN_ONLY or below one of its entries."""
    return any(key == k or key.startswith(f"{k}.") for k in RUN_ONLY)


def identity_hash(flat_config: dict) -> str:
    """A short hash of a flattened config (dotted keys) without its run-only keys."""
    kept = {k: v for k, v in flat_config.items() if not is_run_only(k)}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:12]


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Config cells as comparable text (``str`` of each value), a key a run lacks (NaN) as ABSENT: a value
    of its own. NOTE: on the array at once, not column by column: the robustness report asks this of a few
    runs and hundreds of config columns over a thousand times."""
    values = frame.to_numpy(dtype=object)
    text = TO_TEXT(np.where(pd.isna(values), ABSENT, values))
    return pd.DataFrame(text, index=frame.index, columns=frame.columns, dtype=object)


def differing_keys(runs: pd.DataFrame) -> list[str]:
    """The config keys (dotted, no ``cfg.``) on which the runs disagree, run-only keys left out."""
    columns = [c for c in runs.columns if c.startswith("cfg.") and not is_run_only(c[4:])]
    values = as_text(runs[columns])
    return [c[4:] for c in columns if values[c].nunique() > 1]


def sub_row_labels(runs: pd.DataFrame) -> tuple[dict[str, str], str | None]:
    """For the runs of one row name: run → label, and a warning if the row had to be split."""
    name = runs["row_name"].iloc[0]
    if runs["identity"].nunique() == 1:
        return dict.fromkeys(runs["run"], name), None
    keys = differing_keys(runs)
    labels = {}
    for identity, sub in runs.groupby("identity", sort=True):
        values = as_text(sub[[f"cfg.{k}" for k in keys]]).iloc[0] if keys else []
        given = ",".join(f"{k}={v}" for k, v in zip(keys, values, strict=True)) or f"config {identity}"
        labels.update(dict.fromkeys(sub["run"], f"{name}[{given}]"))
    warning = (
        f"row {name}: its runs differ in {', '.join(keys) or 'their config'}; split into "
        f"{', '.join(sorted(set(labels.values())))} instead of averaging them"
    )
    return labels, warning


def split_and_deduplicate(runs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``runs`` with ``row`` set to each run's label and one run per (label, seed); the warnings."""
    if runs.empty:
        return runs, []
    warnings, labels = [], {}
    for _, group in runs.groupby("row_name", sort=True, dropna=False):
        mapping, warning = sub_row_labels(group)
        labels.update(mapping)
        warnings += [warning] if warning else []
    runs = runs.assign(row=runs["run"].map(labels))
    newest_first = runs.sort_values(["finished_at", "run"], ascending=False, kind="stable")
    duplicate = newest_first.duplicated(subset=["row", "seed"], keep="first")
    for (row, seed), dropped in newest_first[duplicate].groupby(["row", "seed"], sort=True):
        kept = newest_first[~duplicate & (newest_first["row"] == row) & (newest_first["seed"] == seed)]
        warnings.append(
            f"row {row} seed {seed}: {len(dropped) + 1} finished runs of one config; counted once "
            f"(kept the newest, {kept['run'].iloc[0]}; left out {', '.join(sorted(dropped['run']))})"
        )
    studies = sorted(runs["study"].dropna().astype(str).unique()) if "study" in runs else []
    if len(studies) > 1:
        warnings.append(f"runs of {len(studies)} studies in one folder: {', '.join(studies)}")
    return runs.loc[~runs.index.isin(newest_first[duplicate].index)], warnings


RESULT_PREFIXES = ("probe/", "collapse/", "train/")  # the final metrics that identify an experiment


def identical_rows(runs: pd.DataFrame, by: str = "row") -> list[tuple[str, ...]]:
    """Groups (sorted, size ≥ 2) of rows whose runs have the same seeds and, seed by seed, equal final
    metrics: the same experiment under two names (``no_ema`` ≡ ``simsiam`` by construction)."""
    columns = sorted(c for c in runs.columns if c.startswith(RESULT_PREFIXES))
    fingerprints: dict[tuple, list[str]] = {}
    for row, group in runs.groupby(by):
        values = group.sort_values("seed")[["seed", *columns]]
        key = tuple(
            tuple("nan" if pd.isna(v) else v for v in line) for line in values.itertuples(index=False)
        )
        fingerprints.setdefault(key, []).append(row)
    return sorted(tuple(sorted(rows)) for rows in fingerprints.values() if len(rows) > 1)


def resolve_baseline(runs: pd.DataFrame, baseline: str) -> str:
    """The row the Δ column compares against, found as claims find rows: ``baseline`` itself if it is a
    row; else its only row under the setting most runs ran with (``byol+trainer.max_steps=150`` in a sweep
    of that budget); else ``baseline`` unchanged (no row: no Δ)."""
    if runs.empty or baseline in set(runs["row"]):
        return baseline
    setting = runs["setting"].mode().iloc[0]
    rows = sorted(set(runs.loc[(runs["base_row"] == baseline) & (runs["setting"] == setting), "row"]))
    return rows[0] if len(rows) == 1 else baseline
