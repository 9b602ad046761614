"""The ablation table's arithmetic, checked against numbers computed here by hand."""

import math
import statistics

import pandas as pd
import pytest

from src.analysis.load.grouping import identical_rows
from src.analysis.render.tables import (
    TABLE_METRICS,
    ablation_table,
    delta_column,
    margins_markdown,
    table_markdown,
    write_table,
)

ACC = {"byol": [0.60, 0.64, 0.65], "no_predictor": [0.50, 0.52], "simclr": [0.80, 0.90, 0.85]}
VERDICTS = {
    "byol": ["no_collapse"] * 3,
    "no_predictor": ["complete_collapse", "dimensional_collapse"],
    "simclr": ["no_collapse", "complete_collapse", "no_collapse"],
}


def runs_frame() -> pd.DataFrame:
    rows = []
    for row, accs in ACC.items():
        for seed, (acc, verdict) in enumerate(zip(accs, VERDICTS[row], strict=True)):
            metrics = {m: acc + i for i, m in enumerate(TABLE_METRICS)}  # distinct values per metric
            rows.append(
                {
                    "row": row,
                    "seed": seed,
                    "verdict": verdict,
                    **metrics,
                    "ref.probe/linear_acc": 0.4 + seed / 100,
                }
            )
    return pd.DataFrame(rows)


def test_mean_std_and_counts_match_a_hand_computation():
    table = ablation_table(runs_frame())
    for row, accs in ACC.items():
        assert table.loc[row, "seeds"] == len(accs)
        assert table.loc[row, "probe/linear_acc mean"] == pytest.approx(statistics.fmean(accs))
        assert table.loc[row, "probe/linear_acc std"] == pytest.approx(statistics.stdev(accs))  # sample std
        assert table.loc[row, "collapse/z_rank mean"] == pytest.approx(statistics.fmean(accs) + 3)
    assert table["collapsed"].to_dict() == {"byol": 0, "no_predictor": 2, "simclr": 1}
    assert table.loc["no_predictor", "ref.probe/linear_acc mean"] == pytest.approx(0.405)


def test_delta_is_the_difference_of_means_against_the_baseline():
    table = ablation_table(runs_frame(), baseline="byol")
    delta = table[delta_column("byol")]
    assert delta["byol"] == 0
    assert delta["simclr"] == pytest.approx(0.85 - statistics.fmean(ACC["byol"]))
    assert delta["no_predictor"] == pytest.approx(0.51 - statistics.fmean(ACC["byol"]))


def test_baseline_comes_first_and_a_missing_baseline_leaves_delta_blank():
    assert list(ablation_table(runs_frame(), baseline="simclr").index) == ["simclr", "byol", "no_predictor"]
    table = ablation_table(runs_frame(), baseline="absent")
    assert table[delta_column("absent")].isna().all()


def test_unfinished_runs_are_counted_per_row_and_rows_with_only_unfinished_runs_appear():
    unfinished = pd.DataFrame(
        {"row": ["byol", "no_ema", "no_ema"], "status": ["failed", "missing", "diverged"]}
    )
    table = ablation_table(runs_frame(), unfinished=unfinished)
    assert table["unfinished"].to_dict() == {"byol": 1, "no_ema": 2, "no_predictor": 0, "simclr": 0}
    assert table.loc["no_ema", "seeds"] == 0 and math.isnan(table.loc["no_ema", "probe/linear_acc mean"])
    assert table.loc["byol", "seeds"] == 3  # unfinished runs never enter the means


def test_one_seed_has_no_std_and_the_markdown_shows_mean_only():
    frame = runs_frame()
    table = ablation_table(frame[(frame["row"] != "simclr") | (frame["seed"] == 0)])
    assert math.isnan(table.loc["simclr", "probe/linear_acc std"])
    md = table_markdown(table)
    assert "| 0.800 " in md.replace("|  ", "| ")
    assert f"{statistics.fmean(ACC['byol']):.3f} ± {statistics.stdev(ACC['byol']):.3f}" in md
    assert "0/1" in md and "2/2" in md  # collapsed / seeds
    assert "+0.170" in md  # Δ of simclr seed 0 (0.80) against byol's mean (0.63)


def test_missing_metric_columns_are_named():
    with pytest.raises(KeyError, match="probe/knn_acc"):
        ablation_table(runs_frame().drop(columns=["probe/knn_acc"]))


def test_written_csv_holds_the_full_precision_numbers(tmp_path):
    table = ablation_table(runs_frame())
    md, csv = write_table(table, tmp_path)
    back = pd.read_csv(csv, index_col="row")
    assert back.loc["byol", "probe/linear_acc mean"] == pytest.approx(
        table.loc["byol", "probe/linear_acc mean"]
    )
    assert md.read_text().startswith("| row")


def test_borderline_runs_are_counted_and_not_as_collapsed():
    frame = runs_frame()
    frame.loc[(frame["row"] == "byol") & (frame["seed"] == 1), "verdict"] = "borderline"
    table = ablation_table(frame)
    assert table.loc["byol", "borderline"] == 1 and table.loc["byol", "collapsed"] == 0
    assert "| borderline " in table_markdown(table)


def test_identical_rows_are_found_from_the_data_and_named_in_the_table():
    frame = runs_frame()
    twin = frame[frame["row"] == "byol"].assign(row="byol_twin")
    near_twin = twin.assign(row="byol_near")
    near_twin.loc[near_twin.index[0], "probe/knn_acc"] += 1e-9  # one number differs: not the same
    frame = pd.concat([frame, twin, near_twin], ignore_index=True)
    assert identical_rows(frame) == [("byol", "byol_twin")]
    table = ablation_table(frame)
    assert table.loc["byol", "same as"] == "byol_twin" and table.loc["byol_twin", "same as"] == "byol"
    assert table.loc["byol_near", "same as"] == ""
    assert "byol_twin" in table_markdown(table)


def test_margins_are_averaged_over_seeds_and_shown_in_their_own_table_named_by_reading():
    margins = {  # 8 runs: byol's 3 seeds first
        "margin/z_energy_decades": [2.0, 4.0, 6.0, -3.0, -1.0, 1.0, 1.0, 1.0],
        "margin/h_probe_gain_se": [1.0] * 8,
        "margin/p_energy_decades": [0.5] * 8,
        "margin/z_cos_gap_centred": [0.0] * 8,  # a reading of an earlier rule: kept under its own name
    }
    table = ablation_table(runs_frame().assign(**margins))
    assert table.loc["byol", "margin/z_energy_decades mean"] == pytest.approx(4.0)
    assert table.loc["byol", "margin/z_energy_decades std"] == pytest.approx(2.0)
    results, shown = table_markdown(table), margins_markdown(table)
    assert "margin" not in results and "energy" not in results and "4.0 ± 2.0" not in results
    header = [cell.strip() for cell in shown.splitlines()[0].strip("|").split("|")]
    assert header == ["row", "z energy", "p energy", "h probe gain", "z cos gap centred"]  # the rule's order
    assert "| byol " in shown and "4.0 ± 2.0" in shown
    assert margins_markdown(ablation_table(runs_frame())) == ""  # runs that stored no margins


def test_table_md_holds_the_results_then_the_margins_and_the_csv_every_column(tmp_path):
    table = ablation_table(runs_frame().assign(**{"margin/z_energy_decades": 1.0}))
    md, csv = write_table(table, tmp_path)
    results, margins = md.read_text().split("\n## Margins\n")
    assert results.strip() == table_markdown(table)
    assert margins.strip().endswith(margins_markdown(table))
    assert list(pd.read_csv(csv, index_col="row").columns) == list(table.columns)
    write_table(ablation_table(runs_frame()), tmp_path)
    assert "Margins" not in md.read_text()  # no margins stored, no section
