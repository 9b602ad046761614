"""The verdict panel: the planted outputs are what they claim (against hand-computed readings), the panel's
cases and confusion matrix from a runs frame, thresholds fitted in the middle of the labels' gaps, the
extreme-reading shortcut equal to the full rule, the leave-one-testbed-out check catching a testbed the
other testbeds do not generalise to, and the report's bad input."""

import math

import pandas as pd
import pytest
import torch

from src.analysis.judge.panel_cases import (
    H_PROBE,
    LOWEST_RANK,
    OUTPUT_ENERGY,
    confusion,
    fitted_rule,
    leave_one_testbed_out,
    panel_cases,
    rejudged,
    require_a_panel,
    separating_threshold,
)
from src.analysis.panel import load_rule, main
from src.metrics.collapse import centred_effective_rank, normalised_std
from src.metrics.planted import CONSTANT_RESIDUAL, PLANTED_RANK, constant_plus_residual, low_rank
from src.metrics.verdict import collapse_verdict, decide

pytestmark = pytest.mark.unit
RULE = load_rule()


def views(n: int = 512, d: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return x, x + 0.3 * torch.randn(n, d, generator=g)


def test_the_planted_constant_keeps_a_residual_100_times_smaller_that_follows_the_input():
    x, y = views()
    px, py = constant_plus_residual(x, y)
    centre = torch.cat([px, py]).mean(0)
    # the residual is the real output, shrunk: the views still pair up row by row
    assert torch.allclose((px - centre) / CONSTANT_RESIDUAL, x - torch.cat([x, y]).mean(0), atol=1e-3)
    energy = 2 * math.log10(normalised_std(px).item() / normalised_std(x).item())
    assert energy == pytest.approx(-4, abs=0.1)


def test_the_planted_low_rank_output_keeps_its_energy_in_a_subspace():
    x, y = views(seed=1)
    px, py = low_rank(x, y)
    centred = torch.cat([px, py]) - torch.cat([px, py]).mean(0)
    assert torch.linalg.matrix_rank(centred).item() == PLANTED_RANK
    before = (torch.cat([x, y]) - torch.cat([x, y]).mean(0)).pow(2).sum().item()
    assert centred.pow(2).sum().item() == pytest.approx(before, rel=1e-4)
    assert centred_effective_rank(px).item() < PLANTED_RANK + 0.5


def run(
    testbed: str, case: str, label: str, seed: int, std: float, rank: float, acc: float = 0.6, **extra
) -> dict:
    """A loaded run as the loader gives it: final and reference metrics, the panel's config keys."""
    shared = {"collapse/h_std_sqrt_d": 0.8, "collapse/h_rank_frac_centred": 0.6, "probe/linear_acc_se": 0.02}
    return {
        "row_name": case, "seed": seed, "cfg.testbed": testbed, "cfg.panel_label": label,
        **{f"ref.{k}": v for k, v in shared.items()},
        "ref.collapse/z_std_sqrt_d": 0.8, "ref.collapse/z_rank_frac_centred": 0.6, "ref.probe/linear_acc": 0.6,
        **shared, "collapse/z_std_sqrt_d": std, "collapse/z_rank_frac_centred": rank, "probe/linear_acc": acc,
        "cfg.metrics.planted_output": None, **extra,
    }  # fmt: skip


def runs_frame(no_stopgrad_std: dict[str, float]) -> pd.DataFrame:
    lines = []
    for testbed, std in no_stopgrad_std.items():
        for seed in (0, 1):
            lines += [
                run(testbed, "byol", "no_collapse", seed, 0.85, 0.6),
                run(testbed, "no_stopgrad", "complete_collapse", seed, std, 0.7),
                run(testbed, "planted_low_rank", "dimensional_collapse", seed, 0.8, 0.03,
                    **{"cfg.metrics.planted_output": "low_rank"}),
            ]  # fmt: skip
    return pd.DataFrame(lines)


def test_panel_cases_add_each_trained_runs_random_init_and_judge_every_case():
    cases = panel_cases(runs_frame({"a": 0.02, "b": 0.03}), RULE)
    assert len(cases) == 2 * 2 * (3 + 2)  # 3 cases and 2 random-init networks (planted ones add none)
    assert set(cases.loc[cases["case"] == "random_init", OUTPUT_ENERGY]) == {0.0}
    assert (cases["verdict"] == cases["label"]).all()
    table = confusion(cases, cases["verdict"])
    assert (
        table.loc["no_collapse", "no_collapse"] == 12
        and table.loc["complete_collapse", "complete_collapse"] == 4
    )


def test_fitted_thresholds_sit_in_the_middle_of_the_gaps():
    cases = panel_cases(runs_frame({"a": 0.08}), RULE)
    fitted = fitted_rule(cases, RULE)
    highest_collapsed = 2 * math.log10(0.08 / 0.8)  # −2 decades
    lowest_other = min(2 * math.log10(0.85 / 0.8), 0.0, 2 * math.log10(0.8 / 0.8))
    assert fitted.energy_below_decades == pytest.approx(-(highest_collapsed + lowest_other) / 2)
    assert fitted.dimensional_below == pytest.approx(math.sqrt(0.03 * 0.6))


def test_the_extreme_readings_give_the_full_rules_verdict():
    generator = torch.Generator().manual_seed(0)
    for _ in range(200):
        z, p, h_rank, z_rank, gain = (torch.rand(5, generator=generator) * torch.tensor([3, 3, 0.2, 0.2, 6])
                                      - torch.tensor([2.5, 2.5, 0, 0, 4])).tolist()  # fmt: skip
        values = {"z_energy_decades": z, "p_energy_decades": p, "h_rank_frac_centred": h_rank,
                  "z_rank_frac_centred": z_rank, "h_probe_gain_se": gain}  # fmt: skip
        extremes = pd.DataFrame([{OUTPUT_ENERGY: max(z, p), LOWEST_RANK: min(h_rank, z_rank), H_PROBE: gain}])
        assert rejudged(extremes, RULE).iloc[0] == decide(values, RULE).verdict


def test_leave_one_testbed_out_catches_a_testbed_the_others_do_not_generalise_to():
    # On c, no_stopgrad keeps more energy than anywhere else: thresholds fitted on a and b miss it.
    cases = panel_cases(runs_frame({"a": 0.01, "b": 0.012, "c": 0.5}), RULE)
    loto = leave_one_testbed_out(cases, RULE)
    assert loto.loc["a", "agree (fitted on the others)"] == loto.loc["a", "cases"]
    assert loto.loc["c", "agree (fitted on the others)"] < loto.loc["c", "cases"]
    # with c in the fit the gap narrows to (−0.41, 0] decades but still exists
    assert fitted_rule(cases, RULE).energy_below_decades == pytest.approx(0.41 / 2, abs=0.01)


def test_overlapping_labels_get_the_cut_with_the_fewest_cases_on_the_wrong_side():
    # independent: scan every cut by hand and count the errors
    below, above = pd.Series([-3.0, -2.9, -0.5]), pd.Series([-1.0, 0.0, 0.1, 0.2])
    cut = separating_threshold(below, above)
    errors = {
        c: int((below >= c).sum() + (above < c).sum()) for c in (-2.95, -1.95, -0.75, -0.25, 0.05, 0.15)
    }
    assert min(errors.values()) == 1 and errors[cut] == 1
    assert cut == pytest.approx(-1.95)  # of the cuts with one error, the one in the widest gap (−2.9 … −1.0)
    assert separating_threshold(pd.Series([0.04]), pd.Series([0.16]), geometric=True) == pytest.approx(0.08)
    assert math.isnan(separating_threshold(pd.Series([], dtype=float), above))


def test_a_panel_run_is_judged_like_the_run_itself():
    one = runs_frame({"a": 0.05}).iloc[1]
    final = {k: v for k, v in one.items() if k.startswith(("collapse/", "probe/"))}
    reference = {k[4:]: v for k, v in one.items() if k.startswith("ref.")}
    bare = {k.split("/", 1)[1]: v for k, v in final.items()}
    bare_ref = {k.split("/", 1)[1]: v for k, v in reference.items()}
    case = panel_cases(pd.DataFrame([one]), RULE).iloc[0]
    assert case["verdict"] == collapse_verdict(bare, bare_ref, RULE).verdict == "complete_collapse"


def test_the_report_refuses_a_folder_without_runs_in_one_line(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    out = capsys.readouterr().out.strip()
    assert "\n" not in out and str(tmp_path / "runs") in out
    (tmp_path / "runs").mkdir()
    assert main([str(tmp_path)]) == 2
    assert "no finished run" in capsys.readouterr().out


def test_a_panel_without_every_label_or_with_one_testbed_is_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="no case labelled complete_collapse"):
        require_a_panel(
            panel_cases(runs_frame({"a": 0.02, "b": 0.02}).query("row_name != 'no_stopgrad'"), RULE)
        )
    with pytest.raises(ValueError, match="at least two testbeds to leave one out, found a"):
        require_a_panel(panel_cases(runs_frame({"a": 0.02}), RULE))
