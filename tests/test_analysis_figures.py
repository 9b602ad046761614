"""Figures: the numbers they draw (bands over seeds, normalised spectra), which ones a study gets, and how
many rows stay legible (identical rows drawn once, facets by mechanism family; that nothing covers a
panel: tests/test_figure_layout.py)."""

import pandas as pd
import pytest

from src.analysis.render.facets import MAX_LINES, OTHER, Line, facets, family, lines_of
from src.analysis.render.figures import is_tau_sweep, mean_spectra, seed_band, write_figures

PNG = b"\x89PNG\r\n\x1a\n"


def steps_frame() -> pd.DataFrame:
    rows = [
        ("byol/seed0", "byol", 0, 0, 0.5),
        ("byol/seed0", "byol", 0, 10, 0.8),
        ("byol/seed1", "byol", 1, 0, 0.3),
        ("byol/seed1", "byol", 1, 10, 0.9),
        ("no_predictor/seed0", "no_predictor", 0, 0, 0.5),
        ("no_predictor/seed0", "no_predictor", 0, 10, 0.05),
    ]
    frame = pd.DataFrame(rows, columns=["run", "row", "seed", "step", "value"])
    return frame.assign(metric="collapse/z_std_sqrt_d")


def spectra_frame() -> pd.DataFrame:
    rows = []
    for run, row, sigmas in (
        ("a", "byol", [4.0, 2.0]),
        ("b", "byol", [2.0, 2.0]),
        ("c", "no_predictor", [1.0, 0.0]),
    ):
        for stage in ("final", "reference"):
            for rep in ("h", "z"):
                rows += [(run, row, 0, stage, rep, i, s) for i, s in enumerate(sigmas)]
    return pd.DataFrame(rows, columns=["run", "row", "seed", "stage", "representation", "index", "sigma"])


def runs_frame(taus, target="ema", schedule="constant") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row": [f"ema_tau_{t}" for t in taus],
            "cfg.model.target.tau": taus,
            "cfg.model.target.schedule": schedule,
            "choice.model/target": target,
            "probe/linear_acc": [0.5 + t / 10 for t in taus],
            "ref.probe/linear_acc": 0.4,
            "collapse/z_rank": [10 * t + 1 for t in taus],
        }
    )


def test_seed_band_is_mean_min_and_max_over_seeds_per_step():
    band = seed_band(steps_frame(), "collapse/z_std_sqrt_d").set_index(["row", "step"])
    assert band.loc[("byol", 10)].tolist() == pytest.approx([0.85, 0.8, 0.9])
    assert band.loc[("byol", 0)].tolist() == pytest.approx([0.4, 0.3, 0.5])
    assert band.loc[("no_predictor", 10)].tolist() == pytest.approx([0.05, 0.05, 0.05])


def test_spectra_are_normalised_per_run_then_averaged_over_seeds():
    spectra = mean_spectra(spectra_frame(), "final", "z").set_index(["row", "index"])["sigma"]
    assert spectra[("byol", 0)] == pytest.approx(1.0)
    assert spectra[("byol", 1)] == pytest.approx((0.5 + 1.0) / 2)  # 2/4 and 2/2
    assert spectra[("no_predictor", 1)] == 0.0


def test_only_a_study_of_tau_alone_is_a_tau_sweep():
    assert is_tau_sweep(runs_frame([0.0, 0.9, 1.0]))
    assert not is_tau_sweep(runs_frame([0.99, 0.99]))
    assert not is_tau_sweep(runs_frame([0.9, 0.99], schedule="cosine"))  # BYOL's baseline among the rows
    assert not is_tau_sweep(runs_frame([0.9, 1.0], target="frozen"))


def test_write_figures_writes_pngs_for_what_the_data_supports(tmp_path):
    written = write_figures(runs_frame([0.0, 0.9]), steps_frame(), spectra_frame(), tmp_path, "byol")
    assert set(written) == {"dynamics", "spectra", "tau_sweep"}
    for path in written.values():
        assert path.read_bytes()[:8] == PNG
    assert set(
        write_figures(runs_frame([0.9, 0.9]), steps_frame().iloc[:0], spectra_frame(), tmp_path / "b", "byol")
    ) == {"spectra"}


# --- 17+ rows: identical rows drawn once, one facet per mechanism family (src/analysis/render/facets.py) ----


def family_runs() -> pd.DataFrame:
    """One run per row with the config columns that decide its family (byol is the baseline)."""
    base = {
        "choice.model/target": "ema",
        "choice.model/predictor": "mlp",
        "cfg.model.loss.negatives_weight": 0.0,
        "cfg.model.target.tau": 0.99,
        "cfg.model.target.schedule": "cosine",
        "cfg.model.projector.norm": "bn",
        "cfg.model.predictor.net.norm": "bn",
        "cfg.optimizer.predictor_lr": "same",
        "cfg.seed": 0,
        "cfg.cpu_threads": 1,
    }
    changes = {
        "byol": {},
        "simclr": {
            "cfg.model.loss.negatives_weight": 1.0,
            "choice.model/target": "online",
            "choice.model/predictor": "identity",
        },
        "byol_negatives": {"cfg.model.loss.negatives_weight": 1.0},
        "simsiam": {"choice.model/target": "online", "cfg.model.target.tau": float("nan")},
        "random_target": {"choice.model/target": "frozen"},
        "no_ema": {"cfg.model.target.tau": 0.0, "cfg.model.target.schedule": "constant"},
        "ema_tau_0.9": {"cfg.model.target.tau": 0.9, "cfg.model.target.schedule": "constant"},
        "no_bn_heads": {"cfg.model.projector.norm": "none", "cfg.model.predictor.net.norm": "none"},
        "no_predictor": {"choice.model/predictor": "identity", "cfg.model.predictor.net.norm": float("nan")},
        "fixed_predictor_lr": {"cfg.optimizer.predictor_lr": "fixed"},
        "cpu_row": {"cfg.cpu_threads": 4},  # a run-only key: not a change
        "seed_row": {"cfg.seed": 3},
    }
    return pd.DataFrame([{"row": row, **base, **delta} for row, delta in changes.items()])


def test_each_row_is_filed_under_the_factor_it_changes_against_the_baseline():
    runs = family_runs()
    families = {row: family(runs, row, "byol") for row in runs["row"]}
    assert families == {
        "byol": OTHER,
        "simclr": "negatives (β > 0)",  # changes predictor and target too; β comes first
        "byol_negatives": "negatives (β > 0)",
        "simsiam": "target network",
        "random_target": "target network",
        "no_ema": "EMA rate τ",
        "ema_tau_0.9": "EMA rate τ",
        "no_bn_heads": "normalisation",
        "no_predictor": "predictor",  # its predictor's norm key changes with it: still the predictor
        "fixed_predictor_lr": "predictor",
        "cpu_row": OTHER,
        "seed_row": OTHER,
    }
    without_baseline = runs[runs["row"] != "byol"]  # the most common value of each key stands in
    assert family(without_baseline, "random_target", "byol") == "target network"


def curves(values_by_row: dict[str, list[float]], seeds=(0, 1)) -> pd.DataFrame:
    rows = [
        (f"{row}/seed{seed}", row, seed, step, "collapse/z_rank", value + seed)
        for row, values in values_by_row.items()
        for seed in seeds
        for step, value in enumerate(values)
    ]
    return pd.DataFrame(rows, columns=["run", "row", "seed", "step", "metric", "value"])


def test_rows_with_equal_per_seed_numbers_are_one_line_and_nearly_equal_ones_are_not():
    steps = curves({"byol": [1, 2], "no_ema": [1, 3], "simsiam": [1, 3], "near": [1, 3.000001]})
    lines = lines_of(steps, ["seed", "metric", "step"], "value", "byol")
    assert [line.rows for line in lines] == [("byol",), ("near",), ("no_ema", "simsiam")]
    assert lines[2].label == "no_ema = simsiam"
    one_seed_less = pd.concat([curves({"a": [1, 2]}), curves({"b": [1, 2]}, seeds=(0,))])
    assert len(lines_of(one_seed_less, ["seed", "metric", "step"], "value", "a")) == 2


def test_facets_only_above_the_line_limit_with_the_baseline_in_each_and_merged_lines_in_both():
    runs = family_runs()
    few = [Line((row,)) for row in runs["row"][:MAX_LINES]]
    assert facets(few, runs, "byol") == [("", few)]
    lines = [Line((row,)) for row in runs["row"] if row not in ("no_ema", "simsiam")]
    lines.append(Line(("no_ema", "simsiam")))  # τ = 0 and SimSiam: equal by construction
    groups = dict(facets(lines, runs, "byol"))
    assert list(groups) == [
        "negatives (β > 0)",
        "target network",
        "EMA rate τ",
        "normalisation",
        "predictor",
        OTHER,
    ]
    assert all(group[0].rows == ("byol",) for group in groups.values())
    assert [line.label for line in groups["target network"]] == ["byol", "random_target", "no_ema = simsiam"]
    assert [line.label for line in groups["EMA rate τ"]] == ["byol", "ema_tau_0.9", "no_ema = simsiam"]
    assert sum(len(group) - 1 for group in groups.values()) == len(lines)  # + the merged line twice - byol


def test_a_study_of_many_rows_gets_faceted_figures(tmp_path):
    runs = family_runs()
    steps = curves({row: [i, i + 1] for i, row in enumerate(runs["row"])})
    written = write_figures(runs, steps, study_spectra(runs["row"]), tmp_path, "byol")
    assert {"dynamics", "spectra"} <= set(written)
    for path in written.values():
        assert path.read_bytes()[:8] == PNG


def study_spectra(rows) -> pd.DataFrame:
    """One seed of every row: final and random-init spectra of h and z, 16 values, each row's its own."""
    records = [
        (f"{row}/seed0", row, 0, stage, rep, index, (i + 1) / (index + 1))
        for i, row in enumerate(rows)
        for stage in ("final", "reference")
        for rep in ("h", "z")
        for index in range(16)
    ]
    return pd.DataFrame(records, columns=["run", "row", "seed", "stage", "representation", "index", "sigma"])
