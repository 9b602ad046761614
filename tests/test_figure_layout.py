"""Every study figure reads at a committed study's size (20+ rows): no legend over a panel, its title, its
axis labels or another legend, no suptitle over the panel titles, no panel title over another panel
(src/analysis/render/layout.py). Checked on the drawn figure's geometry, not on its pixels."""

import itertools

import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from src.analysis.render.figures import DYNAMICS_METRICS, dynamics_figure, spectra_figure, tau_sweep_figure
from src.analysis.render.predictor_figures import predictor_figure
from src.metrics.predictor_names import ALIGNMENT
from tests.test_analysis_figures import family_runs, runs_frame, study_spectra


def clear_of_each_other(fig) -> list[str]:
    """What covers what once ``fig`` is drawn: a legend or the suptitle over any panel, its title or its
    axis labels, or over another legend; a panel's title over another panel or its title. Empty when the
    figure reads."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    panels = {}  # panel → its parts, by name
    for i, ax in enumerate(a for a in fig.axes if a.get_visible()):
        parts = {f"panel {i}": ax.get_window_extent(renderer)}
        if ax.get_title():
            parts[f"title {ax.get_title()!r} of panel {i}"] = ax.title.get_window_extent(renderer)
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            parts[f"{name} axis of panel {i}"] = axis.get_tightbbox(renderer)
        panels[i] = {name: box for name, box in parts.items() if box is not None}
    parts = {name: box for of_panel in panels.values() for name, box in of_panel.items()}
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
    above = {f"legend {j}": legend.get_window_extent(renderer) for j, legend in enumerate(legends)}
    above |= {f"suptitle {t.get_text()!r}": t.get_window_extent(renderer) for t in fig.texts}
    found = [
        f"{a} covers {b}" for a, box in above.items() for b, other in parts.items() if box.overlaps(other)
    ]
    found += [f"{a} covers {b}" for a, b in itertools.combinations(above, 2) if above[a].overlaps(above[b])]
    for i, of_panel in panels.items():
        for name, box in of_panel.items():
            if name.startswith("title"):
                found += [
                    f"{name} covers {other_name}"
                    for j, of_other in panels.items()
                    if j != i
                    for other_name, other in of_other.items()
                    if box.overlaps(other)
                ]
    return found


def many_rows_runs() -> pd.DataFrame:
    """``family_runs`` with every row but the baseline five times over: 56 rows, 11 lines a family (the
    committed collapse table: 32 rows, 22 of them with a predictor, up to 10 lines a family)."""
    runs = family_runs()
    others = runs[runs["row"] != "byol"]
    copies = [others.assign(row=others["row"] + suffix) for suffix in ("_b", "_c", "_d", "_e")]
    return pd.concat([runs, *copies], ignore_index=True)


def study_steps(rows, metrics) -> pd.DataFrame:
    """Two seeds of every row measured at 0, 50, …, 300 on ``metrics``, each row on curves of its own."""
    records = [
        (f"{row}/seed{seed}", row, seed, step, metric, (i + 1) * (1 + step / 100) + seed + k)
        for i, row in enumerate(rows)
        for seed in (0, 1)
        for step in range(0, 301, 50)
        for k, metric in enumerate(metrics)
    ]
    return pd.DataFrame(records, columns=["run", "row", "seed", "step", "metric", "value"])


PREDICTOR_METRICS = (*(f"predictor/eig{k}" for k in range(8)), ALIGNMENT)


def figures_of_many_rows(faceted: bool) -> dict[str, Figure]:
    runs = many_rows_runs()
    rows = list(runs["row"])
    given = runs if faceted else None  # without the runs frame every row shares one facet
    return {
        "dynamics": dynamics_figure(study_steps(rows, DYNAMICS_METRICS), "byol", runs=given),
        "spectra": spectra_figure(study_spectra(rows), "byol", runs=given),
        "predictor": predictor_figure(study_steps(rows, PREDICTOR_METRICS), "byol", runs=given),
    }


@pytest.mark.parametrize("faceted", [True, False], ids=["one facet per family", "every row in one facet"])
def test_no_legend_or_title_covers_a_panel_at_a_study_of_many_rows(faceted):
    for name, fig in figures_of_many_rows(faceted).items():
        legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
        assert len(legends) == (6 if faceted else 1), name  # one per family, else one for the figure
        assert clear_of_each_other(fig) == [], name


def test_the_tau_sweep_figure_keeps_its_legend_beside_the_panels():
    fig = tau_sweep_figure(runs_frame([0.0, 0.9, 0.99, 0.999, 1.0]))
    assert [text.get_text() for text in fig.legends[0].get_texts()] == [
        "one seed",
        "mean over seeds",
        "random init",
    ]
    assert clear_of_each_other(fig) == []


def test_the_check_finds_a_legend_inside_a_panel_and_a_suptitle_over_the_titles():
    fig = Figure(figsize=(6, 3))  # what the predictor figure did: a legend in its panel; no room above
    left, right = fig.subplots(1, 2)
    for ax in (left, right):
        ax.plot([0, 1], [0, 1], label="a row")
        ax.set_title("a panel")
    right.legend(loc="upper left")
    fig.subplots_adjust(top=0.8)
    fig.suptitle("a suptitle as wide as both panels' titles", y=0.86)  # the titles: 0.83 to 0.88 high
    found = clear_of_each_other(fig)
    assert "legend 0 covers panel 1" in found
    assert any(problem.startswith("suptitle") and "covers title 'a panel'" in problem for problem in found)
