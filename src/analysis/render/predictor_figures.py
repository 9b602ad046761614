"""The predictor figure of a study: per row, the trajectories of the top eigenvalues of the predictor's
symmetric part, and the alignment of its eigenvectors with F = E[zzᵀ] (src/metrics/predictor.py),
against the training step, mean over seeds (Tian, Chen & Ganguli 2021, Figs. 3–4 read the same way).
Built from the loader's long step frame, like src/analysis/render/figures.py, whose helpers it reuses."""

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from src.analysis.load.grouping import BASELINE
from src.analysis.render.facets import Line
from src.analysis.render.figures import line_colours, save_figure, seed_band
from src.analysis.render.tables import ordered
from src.metrics.predictor import ALIGNMENT, EIGENVALUE


def plot_predictor_dynamics(steps: pd.DataFrame, path: Path, baseline: str = BASELINE) -> Path | None:
    """Two panels: eigenvalues (one colour per row, one line per eigenvalue) and alignment against the
    step. None (nothing written) when no run of the study measured a predictor."""
    predictor = steps[steps["metric"].str.startswith("predictor/")]
    if predictor.empty:
        return None
    rows = ordered(predictor["row"].unique(), baseline)
    colours = line_colours([Line((row,)) for row in rows], baseline)  # the baseline black, as elsewhere
    fig = Figure(figsize=(11, 4))
    eig_ax, align_ax = fig.subplots(1, 2)
    eigenvalues = sorted({m for m in predictor["metric"] if EIGENVALUE.match(m)})
    for row in rows:
        of_row = predictor[predictor["row"] == row]
        for j, metric in enumerate(eigenvalues):
            band = seed_band(of_row, metric)
            eig_ax.plot(band["step"], band["mean"], color=colours[row], lw=1.2, label=row if j == 0 else None)
        band = seed_band(of_row, ALIGNMENT)
        align_ax.plot(band["step"], band["mean"], color=colours[row], label=row)
        align_ax.fill_between(band["step"], band["min"], band["max"], color=colours[row], alpha=0.15)
    eig_ax.set(xlabel="step", ylabel="eigenvalue", title="top eigenvalues of (W + Wᵀ)/2")
    align_ax.set(xlabel="step", ylabel="mean |cos|", title="eigenvector alignment of W with F = E[zzᵀ]")
    align_ax.set_ylim(0, 1.05)
    align_ax.legend(fontsize=7, loc="best")
    return save_figure(fig, path)
