"""The table behind docs/verdict.md: statistics per run, verdicts recomputed with the given rule, and the
nearest values on either side of each threshold."""

import pandas as pd

from src.analysis.verdict_distribution import distribution_markdown, load_rule, statistics_frame

RULE = load_rule()


def run(row: str, seed: int, spread: float, gap: float, rank: float = 0.8) -> dict:
    return {
        "row": row, "seed": seed, "verdict": "stored", "probe/linear_acc": 0.6, "ref.probe/linear_acc": 0.5,
        "collapse/h_std_sqrt_d": 0.8, "collapse/h_cos_gap_centred": 0.01, "collapse/h_rank_frac_centred": 0.6,
        "collapse/z_std_sqrt_d": spread, "collapse/z_cos_gap_centred": gap, "collapse/z_rank_frac_centred": rank,
    }  # fmt: skip


def test_verdicts_are_recomputed_and_the_nearest_values_to_each_threshold_are_named():
    runs = pd.DataFrame([run("ok", 0, 0.8, 0.5), run("dead", 0, 0.02, 0.0), run("edge", 0, 0.095, 0.01)])
    stats = statistics_frame(runs, RULE)
    z = stats[stats["representation"] == "z"].set_index("row")
    assert z["verdict"].to_dict() == {"ok": "no_collapse", "dead": "complete_collapse", "edge": "borderline"}
    assert z.loc["ok", "probe gain"] == 0.6 - 0.5 and (z["stored verdict"] == "stored").all()
    text = distribution_markdown(runs, RULE)
    assert "0.095 (edge/z/s0)" in text and "0.800 (ok/z/s0)" in text  # highest below, lowest above 0.1
