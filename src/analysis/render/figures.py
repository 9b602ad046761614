"""The study's figures, written as PNG files that read without the notebook.

Figures are built on ``matplotlib.figure.Figure`` directly (no pyplot): no global state, no GUI backend,
the same PNG from a test, a Hydra callback or a notebook. Each ``*_figure`` builds one (laid out by
src/analysis/render/layout.py, where tests read its geometry); each ``plot_*`` saves it.
"""

from pathlib import Path

import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from src.analysis.load.grouping import BASELINE
from src.analysis.render.facets import Line, facets, lines_of
from src.analysis.render.layout import (
    constrained_figure,
    facet_grid,
    facet_legends,
    figure_legend,
    save_figure,
)

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


def line_colours(lines: list[Line], baseline: str) -> dict[str, tuple]:
    """A colour per line of one panel: black for the baseline, tab10 for up to nine others, else tab20's
    ten strong colours then their light partners (tab20 lists each strong colour beside its light one)."""
    others = [line for line in lines if baseline not in line.rows]
    palette = colormaps["tab10" if len(others) <= 9 else "tab20"]
    order = [*range(0, palette.N, 2), *range(1, palette.N, 2)] if palette.N == 20 else list(range(10))
    colours = {line.label: palette(order[i % palette.N]) for i, line in enumerate(others)}
    return {**colours, **{line.label: (0.0, 0.0, 0.0, 1.0) for line in lines if baseline in line.rows}}


def seed_band(steps: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per row and step: mean, min and max over seeds of one metric (steps: the loader's long frame)."""
    values = steps[steps["metric"] == metric]
    return values.groupby(["row", "step"])["value"].agg(["mean", "min", "max"]).reset_index()


def dynamics_figure(
    steps: pd.DataFrame,
    baseline: str = BASELINE,
    metrics: tuple[str, ...] = DYNAMICS_METRICS,
    runs: pd.DataFrame | None = None,
) -> Figure:
    """Collapse metrics and probe accuracy against the training step: one line per row (mean over
    seeds) with a band from the lowest to the highest seed; rows with identical per-seed numbers drawn
    once; one row of panels per mechanism family when there are more than MAX_LINES lines (needs
    ``runs``, the loader's frame, to tell families apart)."""
    drawn = steps[steps["metric"].isin(metrics)]  # rows are "identical" if what is drawn is equal
    lines = lines_of(drawn, ["seed", "metric", "step"], "value", baseline)
    groups = facets(lines, runs, baseline)
    fig, axes = facet_grid(len(groups), len(metrics), 3, 5, 3.6)
    bands = {metric: seed_band(steps, metric) for metric in metrics}
    for (_, group), facet_axes in zip(groups, axes, strict=True):
        colours = line_colours(group, baseline)
        for ax, metric in zip(facet_axes, metrics, strict=True):
            for line in group:
                band = bands[metric][bands[metric]["row"] == line.row]
                if band.empty:
                    continue
                colour, bold = colours[line.label], baseline in line.rows
                ax.plot(band["step"], band["mean"], color=colour, label=line.label, lw=2 if bold else 1.2,
                        zorder=3 if bold else 2)  # fmt: skip
                ax.fill_between(band["step"], band["min"], band["max"], color=colour, alpha=0.15, lw=0)
            ax.set(title=metric, xlabel="optimizer step")
            ax.grid(alpha=0.3)
    facet_legends(fig, axes, groups, "row (band: min–max over seeds)")
    fig.suptitle("Collapse dynamics: mean over seeds; step 0 is each run's random-init reference")
    return fig


def plot_dynamics(
    steps: pd.DataFrame,
    path: Path,
    baseline: str = BASELINE,
    metrics: tuple[str, ...] = DYNAMICS_METRICS,
    runs: pd.DataFrame | None = None,
) -> Path:
    """``dynamics_figure`` as a PNG at ``path``."""
    return save_figure(dynamics_figure(steps, baseline, metrics, runs), path)


def mean_spectra(spectra: pd.DataFrame, stage: str, representation: str) -> pd.DataFrame:
    """Per row: singular values normalised by the largest (σ_i / σ_1), averaged over seeds."""
    chosen = spectra[(spectra["stage"] == stage) & (spectra["representation"] == representation)].copy()
    chosen["sigma"] = chosen["sigma"] / chosen.groupby("run")["sigma"].transform("max")
    return chosen.groupby(["row", "index"])["sigma"].mean().reset_index()


def spectra_figure(
    spectra: pd.DataFrame,
    baseline: str = BASELINE,
    representations: tuple[str, ...] = ("h", "z"),
    runs: pd.DataFrame | None = None,
) -> Figure:
    """Final singular spectra per row (σ_i/σ_1, log scale, mean over seeds), with the random-init
    spectrum averaged over every run as a dashed black line; identical rows and facets as in
    ``dynamics_figure``."""
    final = spectra[(spectra["stage"] == "final") & spectra["representation"].isin(representations)]
    lines = lines_of(final, ["seed", "representation", "index"], "sigma", baseline)
    groups = facets(lines, runs, baseline)
    fig, axes = facet_grid(len(groups), len(representations), len(representations), 6, 4.2)
    floor = 1e-7  # the effective-rank ε: below it a direction carries nothing
    for (_, group), facet_axes in zip(groups, axes, strict=True):
        colours = line_colours(group, baseline)
        for ax, rep in zip(facet_axes, representations, strict=True):
            means = mean_spectra(spectra, "final", rep)
            for line in group:
                mean = means[means["row"] == line.row]
                ax.plot(mean["index"] + 1, mean["sigma"].clip(lower=floor), color=colours[line.label],
                        label=line.label, lw=2 if baseline in line.rows else 1.2)  # fmt: skip
            ref = mean_spectra(spectra, "reference", rep).groupby("index")["sigma"].mean()
            ax.plot(ref.index + 1, ref.clip(lower=floor), "k--", lw=1, label="random init (all runs)")
            ax.set(
                title=f"{rep}: final singular spectrum", xlabel="index i", ylabel="σ_i / σ_1", yscale="log"
            )
            ax.grid(alpha=0.3)
    facet_legends(fig, axes, groups, "row (mean over seeds)")
    return fig


def plot_spectra(
    spectra: pd.DataFrame,
    path: Path,
    baseline: str = BASELINE,
    representations: tuple[str, ...] = ("h", "z"),
    runs: pd.DataFrame | None = None,
) -> Path:
    """``spectra_figure`` as a PNG at ``path``."""
    return save_figure(spectra_figure(spectra, baseline, representations, runs), path)


def is_tau_sweep(runs: pd.DataFrame) -> bool:
    """Every run has an EMA target at a constant τ, and τ varies: a study of τ alone."""
    if TAU_KEY not in runs or runs[TAU_KEY].nunique() < 2:
        return False
    return bool((runs["choice.model/target"] == "ema").all() and (runs[SCHEDULE_KEY] == "constant").all())


def tau_sweep_figure(runs: pd.DataFrame) -> Figure:
    """Linear-probe accuracy and effective rank of z against the EMA rate τ: one dot per seed, the mean
    as a line; the accuracy panel also shows the random-init reference (BYOL Table 5(a))."""
    taus = sorted(runs[TAU_KEY].unique())
    position = {tau: i for i, tau in enumerate(taus)}  # τ values crowd near 1: even spacing reads better
    x = runs[TAU_KEY].map(position)
    fig = constrained_figure(11, 4)
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
    figure_legend(fig, (acc_ax, rank_ax), "")
    return fig


def plot_tau_sweep(runs: pd.DataFrame, path: Path) -> Path:
    """``tau_sweep_figure`` as a PNG at ``path``."""
    return save_figure(tau_sweep_figure(runs), path)


def write_figures(
    runs: pd.DataFrame, steps: pd.DataFrame, spectra: pd.DataFrame, folder: Path, baseline: str
) -> dict[str, Path]:
    """Every figure that the study's data supports, in ``folder``; name → path."""
    folder = Path(folder)
    written = {}
    if len(steps):
        written["dynamics"] = plot_dynamics(steps, folder / "dynamics.png", baseline, runs=runs)
    if len(spectra):
        written["spectra"] = plot_spectra(spectra, folder / "spectra.png", baseline, runs=runs)
    if is_tau_sweep(runs):
        written["tau_sweep"] = plot_tau_sweep(runs, folder / "tau_sweep.png")
    return written
