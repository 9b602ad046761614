"""The study's figures, written as PNG files that read without the notebook.

Figures are built on ``matplotlib.figure.Figure`` directly (no pyplot): no global state, no GUI backend,
the same PNG from a test, a Hydra callback or a notebook.
"""

from pathlib import Path

import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from src.analysis.tables import ordered

DYNAMICS_METRICS = (
    "collapse/z_std_sqrt_d",
    "collapse/z_rank",
    "collapse/h_rank",
    "probe/linear_acc",
    "probe/knn_acc",
    "train/loss",
)
TAU_KEY = "cfg.model.target.tau"
SCHEDULE_KEY = "cfg.model.target.schedule"


def row_colours(rows: list[str]) -> dict[str, tuple]:
    """A stable colour per row: tab20's ten strong colours first, then their light partners (the suite
    has 17 rows; tab20 lists each strong colour next to its light one)."""
    palette = colormaps["tab20"]
    order = [*range(0, palette.N, 2), *range(1, palette.N, 2)]
    return {row: palette(order[i % palette.N]) for i, row in enumerate(rows)}


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def seed_band(steps: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per row and step: mean, min and max over seeds of one metric (steps: the loader's long frame)."""
    values = steps[steps["metric"] == metric]
    return values.groupby(["row", "step"])["value"].agg(["mean", "min", "max"]).reset_index()


def plot_dynamics(
    steps: pd.DataFrame, path: Path, baseline: str = "byol", metrics: tuple[str, ...] = DYNAMICS_METRICS
) -> Path:
    """Collapse metrics and probe accuracy against the training step: one line per row (mean over
    seeds) with a band from the lowest to the highest seed."""
    rows = ordered(steps["row"].unique(), baseline)
    colours = row_colours(rows)
    columns = 3
    fig = Figure(figsize=(5 * columns, 3.6 * -(-len(metrics) // columns)))
    axes = fig.subplots(-(-len(metrics) // columns), columns, squeeze=False).ravel()
    for ax, metric in zip(axes, metrics, strict=False):
        band = seed_band(steps, metric)
        for row in rows:
            line = band[band["row"] == row]
            if line.empty:
                continue
            ax.plot(
                line["step"], line["mean"], color=colours[row], label=row, lw=2 if row == baseline else 1.2
            )
            ax.fill_between(line["step"], line["min"], line["max"], color=colours[row], alpha=0.15, lw=0)
        ax.set(title=metric, xlabel="optimizer step")
        ax.grid(alpha=0.3)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), title="row (band: min–max over seeds)"
    )
    fig.suptitle("Collapse dynamics: mean over seeds; step 0 is each run's random-init reference")
    fig.tight_layout()
    return _save(fig, path)


def mean_spectra(spectra: pd.DataFrame, stage: str, representation: str) -> pd.DataFrame:
    """Per row: singular values normalised by the largest (σ_i / σ_1), averaged over seeds."""
    chosen = spectra[(spectra["stage"] == stage) & (spectra["representation"] == representation)].copy()
    chosen["sigma"] = chosen["sigma"] / chosen.groupby("run")["sigma"].transform("max")
    return chosen.groupby(["row", "index"])["sigma"].mean().reset_index()


def plot_spectra(
    spectra: pd.DataFrame, path: Path, baseline: str = "byol", representations: tuple[str, ...] = ("h", "z")
) -> Path:
    """Final singular spectra per row (σ_i/σ_1, log scale, mean over seeds), with the random-init
    spectrum averaged over every run as a dashed black line."""
    rows = ordered(spectra["row"].unique(), baseline)
    colours = row_colours(rows)
    fig = Figure(figsize=(6 * len(representations), 4.2))
    axes = fig.subplots(1, len(representations), squeeze=False).ravel()
    floor = 1e-7  # the effective-rank ε: below it a direction carries nothing
    for ax, rep in zip(axes, representations, strict=True):
        final = mean_spectra(spectra, "final", rep)
        for row in rows:
            line = final[final["row"] == row]
            ax.plot(line["index"] + 1, line["sigma"].clip(lower=floor), color=colours[row], label=row)
        ref = mean_spectra(spectra, "reference", rep).groupby("index")["sigma"].mean()
        ax.plot(ref.index + 1, ref.clip(lower=floor), "k--", lw=1.5, label="random init (all runs)")
        ax.set(title=f"{rep}: final singular spectrum", xlabel="index i", ylabel="σ_i / σ_1", yscale="log")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), title="row (mean over seeds)")
    fig.tight_layout()
    return _save(fig, path)


def is_tau_sweep(runs: pd.DataFrame) -> bool:
    """Every run has an EMA target at a constant τ, and τ varies: a study of τ alone."""
    if TAU_KEY not in runs or runs[TAU_KEY].nunique() < 2:
        return False
    return bool((runs["choice.model/target"] == "ema").all() and (runs[SCHEDULE_KEY] == "constant").all())


def plot_tau_sweep(runs: pd.DataFrame, path: Path) -> Path:
    """Linear-probe accuracy and effective rank of z against the EMA rate τ: one dot per seed, the mean
    as a line; the accuracy panel also shows the random-init reference (BYOL Table 5(a))."""
    taus = sorted(runs[TAU_KEY].unique())
    position = {tau: i for i, tau in enumerate(taus)}  # τ values crowd near 1: even spacing reads better
    x = runs[TAU_KEY].map(position)
    fig = Figure(figsize=(11, 4))
    acc_ax, rank_ax = fig.subplots(1, 2)
    for ax, metric, label in (
        (acc_ax, "probe/linear_acc", "linear probe acc"),
        (rank_ax, "collapse/z_rank", "z eff. rank"),
    ):
        ax.scatter(x, runs[metric], color="tab:blue", alpha=0.6, label="one seed")
        means = runs.groupby(TAU_KEY)[metric].mean()
        ax.plot(
            [position[t] for t in means.index], means.values, "o-", color="tab:blue", label="mean over seeds"
        )
        ax.set(
            xticks=range(len(taus)),
            xticklabels=[f"{t:g}" for t in taus],
            xlabel="EMA rate τ (constant)",
            title=label,
        )
        ax.grid(alpha=0.3)
    ref = runs.groupby(TAU_KEY)["ref.probe/linear_acc"].mean()
    acc_ax.plot([position[t] for t in ref.index], ref.values, "k--", label="random init")
    acc_ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def write_figures(
    runs: pd.DataFrame, steps: pd.DataFrame, spectra: pd.DataFrame, folder: Path, baseline: str
) -> dict[str, Path]:
    """Every figure that the study's data supports, in ``folder``; name → path."""
    folder = Path(folder)
    written = {}
    if len(steps):
        written["dynamics"] = plot_dynamics(steps, folder / "dynamics.png", baseline)
    if len(spectra):
        written["spectra"] = plot_spectra(spectra, folder / "spectra.png", baseline)
    if is_tau_sweep(runs):
        written["tau_sweep"] = plot_tau_sweep(runs, folder / "tau_sweep.png")
    return written
