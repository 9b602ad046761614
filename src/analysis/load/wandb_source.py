"""A study's runs read back from the wandb API, for users whose runs live there rather than on disk.

An option of the analysis, never a requirement: the local loader (``src.analysis.load.runs.load_runs``)
needs nothing but the run directories. The frames are the same; what wandb does not hold is rebuilt the
way the run itself computed it: the random-init reference is the first measurement (logged at global
step 0), the verdict is recomputed with the rule stored in the run's config, and there are no spectra.
"""

import pandas as pd

from src.analysis.load.runs import FINISHED, StudyRuns, frames, long_metrics, run_record, unfinished_record
from src.metrics.verdict import VerdictRule, bare_names, collapse_verdict
from src.runs.record import config_hash

MEASURED = ("collapse/", "probe/")  # the monitor's namespaces: logged before the first step too
LOGGED = (*MEASURED, "train/", "ema/", "ensemble/")


def history_frame(run) -> pd.DataFrame:
    """All logged rows of a wandb run, with Lightning's ``trainer/global_step`` as the ``step`` column."""
    history = pd.DataFrame(list(run.scan_history()))
    if history.empty or "trainer/global_step" not in history:
        return pd.DataFrame(columns=["step"])
    metrics = [c for c in history.columns if c.startswith(LOGGED)]
    return history[["trainer/global_step", *metrics]].rename(columns={"trainer/global_step": "step"})


def first_measurement(history: pd.DataFrame) -> dict[str, float]:
    """The monitor's metrics at step 0: the run's own random-init reference."""
    at_zero = history[history["step"] == 0]
    columns = [c for c in at_zero.columns if c.startswith(MEASURED)]
    return {c: float(at_zero[c].dropna().iloc[0]) for c in columns if at_zero[c].notna().any()}


def summary_from_wandb(run, history: pd.DataFrame) -> dict:
    """A summary shaped like the one ``src.train.train`` writes, from what wandb stores."""
    config = {k: v for k, v in dict(run.config).items() if k != "choices"}
    final = {k: float(v) for k, v in dict(run.summary).items() if k.startswith(LOGGED)}
    reference = first_measurement(history)
    rule = VerdictRule.from_settings(config["metrics"]["verdict"])
    verdict = collapse_verdict(bare_names(final), bare_names(reference), rule).verdict
    return {
        "status": FINISHED if run.state == "finished" else run.state,
        "row": config.get("row"),
        "study": config.get("study"),
        "seed": config.get("seed"),
        "steps": int(history["step"].max()) if len(history) else 0,
        "wall_time_s": dict(run.summary).get("_runtime"),
        "config_hash": config_hash(config),
        "choices": dict(run.config).get("choices", {}),
        "config": config,
        "final": final,
        "reference": reference,
        "verdict": verdict,
    }


def load_wandb_runs(project: str, study: str | None = None, api=None) -> StudyRuns:
    """The runs of a wandb project (``"entity/project"``), only those tagged with ``study`` if given.

    ``api`` defaults to ``wandb.Api()`` (needs network and a login); tests pass a stand-in.
    """
    if api is None:
        import wandb

        api = wandb.Api()
    filters = {"tags": {"$in": [study]}} if study else None
    records, unfinished, steps = [], [], []
    for run in api.runs(project, filters=filters):
        history = history_frame(run)
        summary = summary_from_wandb(run, history)
        name = f"wandb:{project}/{run.id}"
        if summary["status"] != FINISHED:
            unfinished.append(unfinished_record(None, name, summary))
            continue
        record = run_record(summary, name, name)
        records.append(record)
        steps.append(long_metrics(history, record))
    return frames(records, unfinished, steps, spectra=[], source=f"wandb:{project}")
