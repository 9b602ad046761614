"""The robustness reading on synthetic per-condition verdicts (every combination against a set-based
restatement of the rule, and the issue's budget flip by name), the factor a condition changes read from
run configs, the per-claim frame and section on synthetic runs, and the condition configs themselves."""

import itertools
import json

import pandas as pd
from omegaconf import OmegaConf

from src.analysis.judge.claims import FAILS, HOLDS, INCONCLUSIVE, AvoidsCollapse, Claim, Exceeds, evaluate_all
from src.analysis.judge.conditions import (
    EVERY,
    NEVER,
    ONLY_WHEN,
    Condition,
    condition_settings,
    reading,
    robustness_frame,
)
from src.analysis.judge.settings import DEFAULTS, Judged
from src.analysis.load.runs import StudyRuns
from src.analysis.render.robustness_markdown import robustness_markdown
from tests.conftest import CONF, ROOT, ROWS, compose_config

SETTINGS = {
    "budget_x5": ("trainer.max_steps=300", "trainer.max_steps=1500"),
    "predictor_lr_x10": ("optimizer.predictor_lr=same", "optimizer.predictor_lr=scaled"),
}


def test_the_issue_budget_flip_reads_holds_only_when_the_longer_budget():
    # byol_negatives vs byol: "fails" at 300 steps, matches BYOL Table 5(b) at 1,500.
    read = reading({"default": FAILS, "budget_x5": HOLDS, "predictor_lr_x10": FAILS}, SETTINGS)
    assert read.kind == ONLY_WHEN
    assert read.text.startswith("holds only when trainer.max_steps=1500 (holds in budget_x5; fails in ")


def test_a_factor_that_breaks_a_claim_is_named_by_the_defaults_value():
    read = reading({"default": HOLDS, "budget_x5": HOLDS, "predictor_lr_x10": FAILS}, SETTINGS)
    assert read.kind == ONLY_WHEN and read.text.startswith("holds only when optimizer.predictor_lr=same (")
    both = reading({"default": HOLDS, "budget_x5": FAILS, "predictor_lr_x10": FAILS}, SETTINGS)
    assert "trainer.max_steps=300 and optimizer.predictor_lr=same" in both.text


def test_every_combination_of_verdicts_against_the_rule_restated_on_sets():
    names = ["default", *SETTINGS]
    for verdicts in itertools.product((HOLDS, FAILS, INCONCLUSIVE), repeat=len(names)):
        given = dict(zip(names, verdicts, strict=True))
        kinds = set(verdicts)
        expected = (
            EVERY if kinds == {HOLDS}
            else NEVER if kinds == {FAILS}
            else ONLY_WHEN if {HOLDS, FAILS} <= kinds
            else INCONCLUSIVE
        )  # fmt: skip
        read = reading(given, SETTINGS)
        assert read.kind == expected, given
        for name in names:  # every condition is named in a mixed reading
            assert read.kind in (EVERY, NEVER) or name in read.text, (given, read.text)


def test_no_judged_condition_is_inconclusive():
    assert reading({}, SETTINGS).kind == INCONCLUSIVE


def runs(
    condition: str, steps: int, rows: dict[str, list[tuple[float, str]]], data: str = "stereo"
) -> pd.DataFrame:
    """Synthetic finished runs: row → [(linear acc, verdict) per seed], reference 0.5, with configs."""
    return pd.DataFrame(
        [
            {
                "row": row, "seed": seed, "probe/linear_acc": acc, "ref.probe/linear_acc": 0.5,
                "verdict": verdict, "choice.data": data, "cfg.condition": condition,
                "cfg.trainer.max_steps": steps, "cfg.metrics.every_n_steps": steps,
                f"cfg.data.{'num_test' if data == 'stereo' else 'test_fraction'}": 1,
            }
            for row, seeds in rows.items()
            for seed, (acc, verdict) in enumerate(seeds)
        ]
    )  # fmt: skip


def test_the_setting_is_read_from_the_configs_a_choice_by_its_name():
    default = runs("default", 300, {"byol": [(0.7, "no_collapse")]})
    budget = runs("budget_x5", 1500, {"byol": [(0.7, "no_collapse")]})
    assert condition_settings(default, budget, "budget_x5") == (
        "trainer.max_steps=300",
        "trainer.max_steps=1500",
    )
    digits = runs("second_dataset", 300, {"byol": [(0.7, "no_collapse")]}, data="digits")
    assert condition_settings(default, digits, "second_dataset") == ("data=stereo", "data=digits")
    assert condition_settings(default, default, "default") == ("not default", "default")


def condition(name: str, steps: int, rows: dict, claims: tuple[Claim, ...]) -> Condition:
    frame = runs(name, steps, rows)
    empty = pd.DataFrame()
    return Condition(
        name,
        StudyRuns(frame, empty, empty, empty),
        Judged(DEFAULTS, frame, tuple(evaluate_all(claims, frame))),
    )


def test_frame_and_section_carry_each_verdict_its_numbers_and_the_reading():
    claims = (
        Claim("learns", "x beats its reference", "s", (Exceeds("x", by=0.02),)),
        Claim("healthy", "x avoids collapse", "s", (AvoidsCollapse("x"),)),
        Claim("absent", "y avoids collapse", "s", (AvoidsCollapse("y"),)),
    )
    slow = [(0.500, "no_collapse"), (0.501, "no_collapse"), (0.499, "no_collapse")]  # no gain at 300 steps
    fast = [(0.80, "no_collapse"), (0.81, "no_collapse"), (0.82, "no_collapse")]
    conditions = [
        condition("default", 300, {"x": slow, "byol": fast}, claims),
        condition("budget_x5", 1500, {"x": fast, "byol": slow}, claims),
    ]
    frame = robustness_frame(conditions, baseline="byol")
    by = frame.set_index(["claim", "condition"])
    assert (
        by.loc[("learns", "default"), "verdict"] == FAILS
        and by.loc[("learns", "budget_x5"), "verdict"] == HOLDS
    )
    assert by.loc[("learns", "default"), "reading_text"].startswith("holds only when trainer.max_steps=1500")
    assert "x − random-init reference: +0.310" in by.loc[("learns", "budget_x5"), "numbers"]
    assert by.loc[("healthy", "default"), "reading"] == EVERY
    assert "x: 0/3 collapsed" in by.loc[("healthy", "default"), "numbers"]
    assert by.loc[("absent", "default"), "verdict"] == "not tested"
    assert by.loc[("absent", "default"), "reading"] == INCONCLUSIVE  # judged nowhere
    text = robustness_markdown(frame, conditions)
    assert "| learns | fails | holds | holds only when trainer.max_steps=1500" in text
    assert "| budget_x5 | 6 | trainer.max_steps=1500 |" in text


def one_row_per_kind() -> list[str]:
    """A row for each distinct set of group overrides the rows make (target, predictor, … kinds): the
    parts a condition's keys could fail to fit. New rows of a new kind join automatically."""
    kinds = {}
    for row in ROWS:
        defaults = OmegaConf.load(CONF / "ablation" / f"{row}.yaml").get("defaults", [])
        kinds.setdefault(tuple(sorted(str(d) for d in defaults)), row)
    return sorted(kinds.values())


def test_every_condition_composes_with_every_kind_of_row():
    conditions = sorted(p.stem for p in (CONF / "study" / "condition").glob("*.yaml"))
    assert {"default", "budget_x5", "predictor_lr_x10", "no_bn_heads", "second_dataset"} <= set(conditions)
    rows = one_row_per_kind()
    assert "byol" in rows and len(rows) >= 6  # today: ema, frozen, ensemble, online targets; 3 predictors
    for name in conditions:
        for row in rows:
            cfg = compose_config(
                ["+study=robustness", f"study/condition@condition={name}", f"+ablation={row}"]
            )
            OmegaConf.resolve(cfg)  # every interpolation (τ horizon, head norm) resolves
            assert cfg.condition == name and cfg.row == row
            assert cfg.metrics.every_n_steps == cfg.trainer.max_steps


def test_budget_x5_is_five_times_the_committed_budget_and_restates_tau_for_it():
    committed = OmegaConf.load(CONF / "study" / "setup" / "embedded_short.yaml").trainer.max_steps
    cfg = compose_config(["+study=robustness", "study/condition@condition=budget_x5"])
    assert cfg.trainer.max_steps == 5 * committed and cfg.tau_stated_for_steps == committed
    default = compose_config(["+study=robustness", "study/condition@condition=default"])
    assert default.trainer.max_steps == committed and default.model.target.tau_stated_for_steps is None


def test_no_bn_heads_removes_batchnorm_from_every_mlp_head_and_only_there():
    for row in ("byol", "linear_predictor", "predictor_on_target"):
        cfg = compose_config(
            ["+study=robustness", "study/condition@condition=no_bn_heads", f"+ablation={row}"]
        )
        assert cfg.model.projector.norm == "none" and cfg.model.backbone.norm == "bn"
        assert cfg.model.predictor.net.get("norm", "none") == "none"
    assert compose_config(["+study=robustness"]).model.projector.norm == "bn"


def test_a_condition_that_sets_a_rows_own_key_is_not_read_for_its_claims():
    # A study's condition is merged after the row (the sweep puts +ablation before +study), so
    # predictor_lr_x10 replaces fixed_predictor_lr's own policy: the row is byol there, not itself.
    cfg = compose_config(
        ["study/condition@condition=predictor_lr_x10", "+ablation=fixed_predictor_lr", "+study=robustness"]
    )
    assert cfg.optimizer.predictor_lr == "scaled"
    claims = (
        Claim("fixed", "fixed lr no worse", "s", (Exceeds("fixed_predictor_lr", "byol", -0.02),)),
        Claim("byol", "byol learns", "s", (Exceeds("byol", by=0.02),)),
    )
    seeds = [(0.70, "no_collapse"), (0.71, "no_collapse"), (0.72, "no_collapse")]

    def lr(name: str, policies: dict[str, str]) -> Condition:
        frame = runs(name, 300, {"byol": seeds, "fixed_predictor_lr": [(a + 0.01, v) for a, v in seeds]})
        frame["cfg.optimizer.predictor_lr"] = frame["row"].map(policies)
        empty = pd.DataFrame()
        return Condition(
            name,
            StudyRuns(frame, empty, empty, empty),
            Judged(DEFAULTS, frame, tuple(evaluate_all(claims, frame))),
        )

    conditions = [
        lr("default", {"byol": "same", "fixed_predictor_lr": "fixed"}),
        lr("predictor_lr_x10", {"byol": "scaled", "fixed_predictor_lr": "scaled"}),
    ]
    by = robustness_frame(conditions).set_index(["claim", "condition"])
    assert by.loc[("fixed", "predictor_lr_x10"), "verdict"] == "not read"
    assert (
        "sets fixed_predictor_lr's own optimizer.predictor_lr"
        in by.loc[("fixed", "predictor_lr_x10"), "numbers"]
    )
    assert by.loc[("fixed", "default"), "reading"] == EVERY  # read on the default alone
    assert by.loc[("byol", "predictor_lr_x10"), "verdict"] == HOLDS  # the baseline is changed, not replaced


def test_a_committed_run_recomposes_the_held_out_sets_it_was_measured_on():
    """The first stored run of each committed study (of each condition or testbed): its recorded overrides
    compose today to the data set and held-out sizes it ran with, so a re-run measures on the same sets."""
    held_out = ("_target_", "num_test", "num_eval", "num_probe_train")
    experiments = ROOT / "experiments"
    first = {}  # runs/<row>/seed0 or runs/<condition>/<row>/seed0: one per folder above the rows
    for path in sorted(experiments.glob("*/runs/**/seed0/summary.json")):
        first.setdefault(path.parents[2], path)
    studies = {p.name for p in experiments.iterdir() if (p / "runs").is_dir()}
    assert {p.relative_to(experiments).parts[0] for p in first.values()} == studies != set()
    for path in first.values():
        record = json.loads(path.read_text())
        data = compose_config(record["overrides"]).data
        recorded = {k: record["config"]["data"].get(k) for k in held_out}
        assert {k: OmegaConf.select(data, k) for k in held_out} == recorded, path


def test_the_robustness_study_runs_exactly_the_rows_the_claims_read():
    from omegaconf import OmegaConf

    from src.analysis.judge.claim_catalogue import CLAIMS
    from tests.conftest import CONF, ROWS

    study = OmegaConf.load(CONF / "study" / "robustness.yaml")
    swept = set(study.hydra.sweeper.params["+ablation"].replace(" ", "").split(","))
    assert swept == {row for claim in CLAIMS for row in claim.rows} & set(ROWS)
