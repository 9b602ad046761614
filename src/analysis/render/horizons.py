"""The EMA target's rate read two ways: τ per step, and its horizon — the half-life h (τ^h = ½) in steps
and as a fraction of the run (src/mechanisms/ema.py). τ = 0.99 is 69 steps: a quarter of a 300-step run,
a twentieth of a 1,500-step one; a budget sweep that keeps τ changes the horizon."""

import math

import pandas as pd

from src.mechanisms.tau_horizon import half_life, restated_tau

TAU = "cfg.model.target.tau"
# The run length τ is stated for: the target's own key, else the study's top-level one that it follows
# (the only one in records written before the target had its own; conf/model/target/ema.yaml).
STATED_FOR = ("cfg.model.target.tau_stated_for_steps", "cfg.tau_stated_for_steps")
COLUMNS = ["row", "schedule", "τ (base)", "half-life (steps)", "half-life / run"]


def horizon_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One line per row whose target is an EMA network: its schedule, τ (the constant, or the cosine
    schedule's start), the half-life in steps and as a fraction of ``trainer.max_steps``."""
    if runs.empty or TAU not in runs or "cfg.model.target.update" not in runs:
        return pd.DataFrame(columns=COLUMNS)
    ema = runs[runs["cfg.model.target.update"] == "ema"].drop_duplicates("row")
    lines = []
    for _, run in ema.iterrows():
        steps, tau = int(run["cfg.trainer.max_steps"]), float(run[TAU])
        stated = next((run[k] for k in STATED_FOR if k in run and not pd.isna(run[k])), None)
        tau = tau if stated is None else restated_tau(tau, int(stated), steps)
        h = half_life(tau)
        lines.append([run["row"], run["cfg.model.target.schedule"], tau, h, h / steps])
    return pd.DataFrame(lines, columns=COLUMNS).sort_values("row", kind="stable")


def horizon_markdown(table: pd.DataFrame) -> list[str]:
    """The section's lines (none without an EMA target)."""
    if table.empty:
        return []

    def number(x: float, fmt: str) -> str:
        return "∞" if math.isinf(x) else format(x, fmt)

    shown = table.assign(**{
        "τ (base)": table["τ (base)"].map(lambda x: f"{x:.4g}"),
        "half-life (steps)": table["half-life (steps)"].map(lambda x: number(x, ".1f")),
        "half-life / run": table["half-life / run"].map(lambda x: number(x, ".3f")),
    })  # fmt: skip
    return [
        "## EMA horizons",
        "",
        "Each EMA target's τ read as a horizon: the half-life h with τ^h = ½, in steps and as a fraction of "
        "the run (for the cosine schedule, at its start; τ then rises to its final value).",
        "",
        shown.to_markdown(index=False, disable_numparse=True),
        "",
    ]
