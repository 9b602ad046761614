"""Where things go on a study figure so that nothing covers anything else, at any number of rows.

Every figure uses constrained layout: it reserves room for the suptitle above the panel titles and for
legends placed outside the axes (``fig.legend(loc="outside …")``, or an axes legend anchored beside its
panel), where ``tight_layout`` left the suptitle over the first row's titles. Legends never sit inside a
panel: with 20+ rows one covers the curves and the titles. The figure grows by each legend's measured
size, so the panels keep theirs (constrained layout would shrink them, and titles wider than a panel,
which it does not count, would run into the next panel or the legend).
"""

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend

from src.analysis.render.facets import Line
from src.runs.atomic import write_atomic

LEGEND_ROWS = 12  # entries one legend column holds beside the panels; more go below them, in columns
LEGEND_COLUMN_IN = 2.6  # inches a column of a figure legend takes: a 26-letter row name at 10 pt and its line
FACET_FONTSIZE = 8  # a facet's legend is beside one panel row (~3 in), not beside the whole figure


def constrained_figure(width: float, height: float) -> Figure:
    """An empty figure of ``width`` × ``height`` inches laid out by constrained layout."""
    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig: Figure, path: Path) -> Path:
    """``fig`` as a PNG at ``path``, atomically: a report killed mid-write leaves the old figure, never a
    truncated one (the bytes are those ``savefig(path)`` writes: PNG is named, as no suffix tells it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"), binary=True)
    return path


def facet_grid(n_facets: int, n_panels: int, columns: int, width: float, height: float):
    """(figure, axes as (facet, panel) → ax): one facet in a grid of ``columns`` panels of ``width`` ×
    ``height`` inches, several as one row of panels each (smaller, so that six rows fit a page)."""
    if n_facets == 1:
        rows = -(-n_panels // columns)
        fig = constrained_figure(width * columns, height * rows)
        axes = fig.subplots(rows, columns, squeeze=False).ravel()
        for ax in axes[n_panels:]:
            ax.set_visible(False)
        return fig, axes[:n_panels].reshape(1, n_panels)
    fig = constrained_figure(0.75 * width * n_panels, 0.75 * height * n_facets)
    return fig, fig.subplots(n_facets, n_panels, squeeze=False)


def legend_handles(facet_axes) -> tuple[list, list]:
    """Every labelled line of one facet's panels, once per label (a panel may lack a metric)."""
    found = {}
    for ax in facet_axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            found.setdefault(label, handle)
    return list(found.values()), list(found)


def legend_title(title: str, lines: list[Line], what: str) -> str:
    """The facet's title, what the lines show, and a note when identical rows were drawn once."""
    merged = [line.label for line in lines if len(line.rows) > 1]
    note = ["a = b: identical per-seed numbers, drawn once"] if merged else []
    return "\n".join([*([title] if title else []), what, *note])


def grow_for(fig: Figure, legends: list[Legend], below: bool = False) -> None:
    """Grow ``fig`` by the widest of ``legends`` (beside the panels) or by the tallest (below them), as
    measured by the renderer that will draw it, so that the panels keep their size."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    boxes = [legend.get_window_extent(renderer) for legend in legends]
    width, height = fig.get_size_inches()
    if below:
        fig.set_size_inches(width, height + max(box.height for box in boxes) / fig.dpi)
    else:
        fig.set_size_inches(width + max(box.width for box in boxes) / fig.dpi, height)


def figure_legend(fig: Figure, axes, title: str) -> None:
    """One legend for the whole figure: right of every panel in one column, or, above LEGEND_ROWS
    entries, below them in as many columns as the figure's width holds."""
    handles, labels = legend_handles(axes)
    below = len(labels) > LEGEND_ROWS
    columns = max(1, int(fig.get_size_inches()[0] // LEGEND_COLUMN_IN)) if below else 1
    where = "outside lower center" if below else "outside right center"
    grow_for(fig, [fig.legend(handles, labels, loc=where, title=title, ncols=columns)], below)


def facet_legends(fig: Figure, axes, groups: list[tuple[str, list[Line]]], what: str) -> None:
    """One figure legend for a single facet, else one right of each facet's last panel, level with it (a
    column per LEGEND_ROWS entries, so that it stays within its row's height)."""
    if len(groups) == 1:
        figure_legend(fig, axes[0], legend_title("", groups[0][1], what))
        return
    legends = []
    for (title, lines), facet_axes in zip(groups, axes, strict=True):
        handles, labels = legend_handles(facet_axes)
        legends.append(facet_axes[-1].legend(handles, labels, loc="center left", bbox_to_anchor=(1.02, 0.5),
                       fontsize=FACET_FONTSIZE, title=legend_title(title, lines, what),
                       title_fontsize=FACET_FONTSIZE, ncols=-(-len(labels) // LEGEND_ROWS)))  # fmt: skip
    grow_for(fig, legends)
