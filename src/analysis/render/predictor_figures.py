"""The predictor figure of a study: per row, the trajectories of the top eigenvalues of the predictor's
symmetric part, and the alignment of its eigenvectors with F = E[zzᵀ] (src/metrics/predictor.py),
against the training step, mean over seeds (Tian, Chen & Ganguli 2021, Figs. 3–4 read the same way).
Built from the loader's long step frame, like src/analysis/render/figures.py, whose helpers it reuses;
faceted by mechanism family above MAX_LINES rows, as the dynamics figure is."""

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from src.analysis.load.grouping import BASELINE
from src.analysis.render.facets import facets, lines_of
from src.analysis.render.figures import line_colours, seed_band
from src.analysis.render.layout import facet_grid, facet_legends, save_figure
from src.metrics.predictor_names import ALIGNMENT, EIGENVALUE


def predictor_figure(
    steps: pd.DataFrame, baseline: str = BASELINE, runs: pd.DataFrame | None = None
) -> Figure | None:
    """Two panels per facet: eigenvalues (one colour per row, one line per eigenvalue) and alignment
    against the step; rows with identical per-seed numbers drawn once; one facet per mechanism family when ``runs`` (the loader's frame) is given and there
    are more than MAX_LINES rows. None when no run of the study measured a predictor."""
    predictor = steps[steps["metric"].str.startswith("predictor/")]
    if predictor.empty:
        return None
    lines = lines_of(predictor, ["seed", "metric", "step"], "value", baseline)  # no_ema = simsiam: one line
    groups = facets(lines, runs, baseline)
    fig, axes = facet_grid(len(groups), 2, 2, 5.5, 4)
    eigenvalues = sorted({m for m in predictor["metric"] if EIGENVALUE.match(m)})
    for (_, group), (eig_ax, align_ax) in zip(groups, axes, strict=True):
        colours = line_colours(group, baseline)  # the baseline black, as elsewhere
        for line in group:
            of_row, colour = predictor[predictor["row"] == line.row], colours[line.label]
            for j, metric in enumerate(eigenvalues):
                band = seed_band(of_row, metric)
                eig_ax.plot(
                    band["step"], band["mean"], color=colour, lw=1.2, label=line.label if j == 0 else None
                )
            band = seed_band(of_row, ALIGNMENT)
            align_ax.plot(band["step"], band["mean"], color=colour, label=line.label)
            align_ax.fill_between(band["step"], band["min"], band["max"], color=colour, alpha=0.15)
        # Two-line titles: constrained layout leaves a title's width to the panel, and one line is wider.
        eig_ax.set(xlabel="step", ylabel="eigenvalue", title="top eigenvalues\nof (W + Wᵀ)/2")
        align_ax.set(
            xlabel="step", ylabel="mean |cos|", title="alignment of W's eigenvectors\nwith F = E[zzᵀ]'s"
        )
        align_ax.set_ylim(0, 1.05)
    facet_legends(fig, axes, groups, "row (mean over seeds; band: min–max)")
    return fig


def plot_predictor_dynamics(
    steps: pd.DataFrame, path: Path, baseline: str = BASELINE, runs: pd.DataFrame | None = None
) -> Path | None:
    """``predictor_figure`` as a PNG at ``path``; None (nothing written) when there is no predictor."""
    fig = predictor_figure(steps, baseline, runs)
    return None if fig is None else save_figure(fig, path)
