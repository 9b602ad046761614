"""The loader on small hand-made run folders (the real tree of a smoke study is in
test_analysis_study.py): unfinished runs are listed and counted, never mixed in; the wandb source gives
the same frames from a stand-in API; unlike runs under one row name are split, a repeated seed counts
once, and unreadable files are named while the rest is read."""

import json
import os

import pytest

from src.analysis.load.runs import FINISHED, flatten, load_runs
from src.analysis.load.wandb_source import load_wandb_runs
from src.analysis.render.tables import ablation_table

CONFIG = {
    "seed": 0,
    "model": {"target": {"tau": 0.99}, "taus": [0.9, 0.99]},
    "metrics": {
        "verdict": {
            "complete_on": ["z", "p"],
            "dimensional_on": ["h", "z"],
            "energy_below_decades": 1.0,
            "dimensional_below": 0.05,
            "probe_below_se": 2.0,
            "band": 0.5,
        }
    },
}


def summary(row: str, seed: int, status: str = FINISHED, acc: float = 0.6) -> dict:
    return {
        "status": status,
        "row": row,
        "study": "s",
        "seed": seed,
        "verdict": "no_collapse",
        "steps": 10,
        "wall_time_s": 1.0,
        "config_hash": "abc",
        "git": {"commit": "c0ffee", "dirty": False},
        "final": {"probe/linear_acc": acc, "collapse/z_rank": 5.0},
        "reference": {"probe/linear_acc": 0.4, "collapse/z_rank": 2.0},
        "choices": {"model/target": "ema"},
        "config": {**CONFIG, "seed": seed},
        "spectra": {"final": {"z": [3.0, 1.0]}, "reference": {"z": [2.0, 2.0]}},
    }


def make_run(folder, name, summary_dict=None, metrics_csv=None, overrides=None):
    run_dir = folder / name
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text("\n".join(f"- {o}" for o in overrides or []) + "\n")
    if summary_dict is not None:
        (run_dir / "summary.json").write_text(json.dumps(summary_dict))
    if metrics_csv is not None:
        (run_dir / "metrics.csv").write_text(metrics_csv)
    return run_dir


METRICS_CSV = "collapse/z_rank,epoch,probe/linear_acc,step,train/loss\n2.0,,0.4,0,\n,0,,4,1.5\n5.0,,0.6,10,\n5.0,,0.6,10,\n"


@pytest.fixture
def folder(tmp_path):
    make_run(tmp_path, "byol/seed0", summary("byol", 0), METRICS_CSV)
    make_run(tmp_path, "byol/seed1", summary("byol", 1, acc=0.7), METRICS_CSV)
    make_run(tmp_path, "byol/seed2", None, METRICS_CSV, overrides=["+ablation=byol", "seed=2"])
    failed = {**summary("no_ema", 0, status="failed"), "error": "RuntimeError: boom"}
    make_run(tmp_path, "no_ema/seed0", failed)
    return tmp_path


def test_finished_runs_are_rows_and_the_others_are_listed_with_their_reason(folder):
    loaded = load_runs(folder)
    assert list(loaded.runs["run"]) == ["byol/seed0", "byol/seed1"]
    assert loaded.n_unfinished == 2
    missing, failed = loaded.unfinished.sort_values("run").to_dict("records")
    assert (missing["row"], missing["seed"], missing["status"]) == ("byol", 2, "missing")
    assert "no summary.json" in missing["reason"]
    assert (failed["row"], failed["status"], failed["reason"]) == ("no_ema", "failed", "RuntimeError: boom")


def test_runs_frame_holds_final_reference_choices_and_flattened_config(folder):
    runs = load_runs(folder).runs.set_index("run")
    assert runs.loc["byol/seed1", "probe/linear_acc"] == 0.7
    assert runs.loc["byol/seed1", "ref.probe/linear_acc"] == 0.4
    assert runs.loc["byol/seed1", "choice.model/target"] == "ema"
    assert runs.loc["byol/seed1", "cfg.model.target.tau"] == 0.99
    assert runs.loc["byol/seed1", "cfg.seed"] == 1
    assert runs.loc["byol/seed0", "git_commit"] == "c0ffee"


def test_step_frame_is_long_and_drops_the_repeated_final_measurement(folder):
    steps = load_runs(folder).steps
    run0 = steps[steps["run"] == "byol/seed0"]
    assert set(run0["metric"]) == {"collapse/z_rank", "probe/linear_acc", "train/loss"}  # not epoch
    rank = run0[run0["metric"] == "collapse/z_rank"]
    assert list(rank["step"]) == [0, 10] and list(rank["value"]) == [2.0, 5.0]
    assert set(steps["run"]) == {"byol/seed0", "byol/seed1"}  # the unfinished run's metrics stay out


def test_spectra_frame_has_both_stages(folder):
    spectra = load_runs(folder).spectra
    run0 = spectra[spectra["run"] == "byol/seed0"].sort_values(["stage", "index"])
    assert list(zip(run0["stage"], run0["sigma"], strict=True)) == [
        ("final", 3.0),
        ("final", 1.0),
        ("reference", 2.0),
        ("reference", 2.0),
    ]


def test_flatten_keeps_lists_in_one_cell():
    assert flatten({"a": {"b": 1, "c": [1, 2]}}, "cfg.") == {"cfg.a.b": 1, "cfg.a.c": "[1, 2]"}


def test_a_folder_that_does_not_exist_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_runs(tmp_path / "nowhere")


class FakeRun:
    def __init__(self, run_id, state, seed, acc):
        self.id, self.state = run_id, state
        self.config = {
            "choices": {"model/target": "ema"},
            "row": "byol",
            "study": "s",
            **CONFIG,
            "seed": seed,
        }
        rows = [
            {
                "trainer/global_step": 0,
                "probe/linear_acc": 0.4,
                "probe/linear_acc_se": 0.02,
                "collapse/z_std_sqrt_d": 0.5,
                "collapse/z_rank_frac": 0.3,
            },
            {"trainer/global_step": 9, "train/loss": 1.2, "_runtime": 3.0},
            {
                "trainer/global_step": 20,
                "probe/linear_acc": acc,
                "probe/linear_acc_se": 0.02,
                "collapse/z_std_sqrt_d": 0.02,
                "collapse/z_rank_frac": 0.02,
            },
        ]
        self._rows = rows
        self.summary = {
            "probe/linear_acc": acc,
            "probe/linear_acc_se": 0.02,
            "collapse/z_std_sqrt_d": 0.02,
            "collapse/z_rank_frac": 0.02,
            "collapse/z_rank_frac_centred": 0.5,
            "_runtime": 7.0,
        }

    def scan_history(self):
        return iter(self._rows)


class FakeApi:
    def __init__(self, runs):
        self._runs, self.calls = runs, []

    def runs(self, path, filters=None):
        self.calls.append((path, filters))
        return self._runs


def test_wandb_source_gives_the_same_frames_and_recomputes_the_verdict():
    api = FakeApi([FakeRun("a1", "finished", 0, 0.3), FakeRun("b2", "crashed", 1, 0.5)])
    loaded = load_wandb_runs("me/collapse-suite", study="collapse_table", api=api)
    assert api.calls == [("me/collapse-suite", {"tags": {"$in": ["collapse_table"]}})]
    (run,) = loaded.runs.to_dict("records")
    assert run["run"] == "wandb:me/collapse-suite/a1" and run["row"] == "byol" and run["seed"] == 0
    assert run["probe/linear_acc"] == 0.3 and run["ref.probe/linear_acc"] == 0.4
    assert run["verdict"] == "complete_collapse"  # z spread 0.02 against 0.5 at step 0: −2.8 decades
    assert run["steps"] == 20 and run["wall_time_s"] == 7.0
    assert loaded.unfinished[["run", "status"]].to_dict("records") == [
        {"run": "wandb:me/collapse-suite/b2", "status": "crashed"}
    ]
    acc = loaded.steps[loaded.steps["metric"] == "probe/linear_acc"]
    assert list(zip(acc["step"], acc["value"], strict=True)) == [(0, 0.4), (20, 0.3)]
    assert loaded.spectra.empty


# --- unlike runs under one row name are never averaged (src/analysis/load/grouping.py) -------------------


def with_config(row: str, seed: int, max_steps: int = 300, acc: float = 0.6, **extra) -> dict:
    """A summary whose config also holds the seed-derived data.seed and run-only keys."""
    config = {
        **CONFIG,
        "seed": seed,
        "row": row,
        "fresh": seed % 2 == 0,  # run-only: must never split a row
        "cpu_threads": 1 + seed,  # run-only
        "data": {"seed": seed, "num_train": 256},  # data.seed is the run seed
        "trainer": {"max_steps": max_steps},
        **extra,
    }
    return {**summary(row, seed, acc=acc), "config": config}


def test_runs_that_differ_only_in_seed_and_run_only_keys_stay_one_row(tmp_path):
    for seed in (0, 1, 2):
        make_run(tmp_path, f"byol/seed{seed}", with_config("byol", seed), METRICS_CSV)
    loaded = load_runs(tmp_path)
    assert set(loaded.runs["row"]) == {"byol"} and loaded.runs["identity"].nunique() == 1
    assert loaded.warnings == ()


def test_a_row_of_unlike_runs_is_split_by_the_keys_that_differ_and_warned_about(tmp_path):
    make_run(tmp_path, "byol/seed0", with_config("byol", 0, 300, acc=0.5), METRICS_CSV)
    make_run(tmp_path, "byol/seed1", with_config("byol", 1, 300, acc=0.6), METRICS_CSV)
    make_run(tmp_path, "again/byol/seed0", with_config("byol", 0, 600, acc=0.9), METRICS_CSV)
    make_run(tmp_path, "no_ema/seed0", with_config("no_ema", 0, 300), METRICS_CSV)
    loaded = load_runs(tmp_path)
    short, long = "byol[trainer.max_steps=300]", "byol[trainer.max_steps=600]"
    by_run = loaded.runs.set_index("run")
    assert by_run["row"].to_dict() == {
        "byol/seed0": short,
        "byol/seed1": short,
        "again/byol/seed0": long,
        "no_ema/seed0": "no_ema",  # a row of like runs keeps its name
    }
    assert set(by_run["row_name"]) == {"byol", "no_ema"}
    (warning,) = loaded.warnings
    assert "row byol" in warning and "trainer.max_steps" in warning and long in warning
    assert "seed" not in warning.replace("seeds", "")  # not named as a difference
    # every frame carries the grouped label, so a table, a claim and a figure keep them apart
    assert set(loaded.steps["row"]) == set(loaded.spectra["row"]) == {short, long, "no_ema"}
    table = ablation_table(loaded.runs, baseline="no_ema", metrics=("probe/linear_acc",))
    assert table.loc[short, "seeds"] == 2 and table.loc[long, "seeds"] == 1
    assert table.loc[short, "probe/linear_acc mean"] == pytest.approx(0.55)  # not (0.5 + 0.6 + 0.9) / 3
    assert table.loc[long, "probe/linear_acc mean"] == pytest.approx(0.9)


def test_a_key_one_run_lacks_splits_the_row_and_is_named_absent(tmp_path):
    make_run(tmp_path, "byol/seed0", with_config("byol", 0), METRICS_CSV)
    make_run(
        tmp_path,
        "byol/seed1",
        with_config("byol", 1, model={**CONFIG["model"], "loss": {"beta": 1.0}}),
        METRICS_CSV,
    )
    rows = set(load_runs(tmp_path).runs["row"])
    assert any("model.loss.beta=absent" in r for r in rows) and any("model.loss.beta=1.0" in r for r in rows)


def test_a_seed_run_twice_with_one_config_counts_once_keeping_the_newest(tmp_path):
    old = make_run(tmp_path, "byol/seed0", with_config("byol", 0, acc=0.1), METRICS_CSV)
    new = make_run(tmp_path, "copy/byol/seed0", with_config("byol", 0, acc=0.7), METRICS_CSV)
    make_run(tmp_path, "byol/seed1", with_config("byol", 1, acc=0.5), METRICS_CSV)
    os.utime(old / "summary.json", (1_000, 1_000))
    os.utime(new / "summary.json", (2_000, 2_000))
    loaded = load_runs(tmp_path)
    assert sorted(loaded.runs["run"]) == ["byol/seed1", "copy/byol/seed0"]
    assert set(loaded.steps["run"]) == set(loaded.spectra["run"]) == {"byol/seed1", "copy/byol/seed0"}
    (warning,) = loaded.warnings
    assert "seed 0" in warning and "kept the newest, copy/byol/seed0" in warning and "byol/seed0" in warning
    assert ablation_table(loaded.runs, metrics=("probe/linear_acc",))["seeds"].to_dict() == {"byol": 2}


def test_runs_of_several_studies_in_one_folder_are_warned_about(tmp_path):
    make_run(tmp_path, "a/byol/seed0", {**with_config("byol", 0), "study": "a"})
    make_run(tmp_path, "b/byol/seed1", {**with_config("byol", 1), "study": "b"})
    assert load_runs(tmp_path).warnings == ("runs of 2 studies in one folder: a, b",)


# --- what cannot be read is named, and the rest is still read --------------------------------------


def test_a_truncated_summary_and_a_corrupt_metrics_csv_are_listed_and_the_rest_is_read(tmp_path):
    good = make_run(tmp_path, "byol/seed0", summary("byol", 0), METRICS_CSV)
    cut = make_run(tmp_path, "byol/seed1", None, overrides=["+ablation=byol", "seed=1"])
    (cut / "summary.json").write_text(json.dumps(summary("byol", 1))[:200])  # killed mid-write
    make_run(tmp_path, "byol/seed2", summary("byol", 2), "step,train/loss\n0,1.0\n1,2.0,3.0,4.0\n")
    make_run(tmp_path, "byol/seed3", summary("byol", 3), b"\xff\xfe\x00garbage".decode("latin-1"))
    make_run(tmp_path, "byol/seed4", None, overrides=["+ablation=byol", "seed=4"])  # still running
    loaded = load_runs(tmp_path)
    assert list(loaded.runs["run"]) == ["byol/seed0", "byol/seed2", "byol/seed3"]  # results stand
    assert set(loaded.steps["run"]) == {"byol/seed0"}  # curves only where metrics.csv could be read
    unreadable = loaded.unreadable.set_index("file")["reason"]
    assert set(unreadable.index) == {
        "byol/seed1/summary.json",
        "byol/seed2/metrics.csv",
        "byol/seed3/metrics.csv",
    }
    assert "JSONDecodeError" in unreadable["byol/seed1/summary.json"]
    cut_run = loaded.unfinished.set_index("run").loc["byol/seed1"]
    assert (cut_run["status"], cut_run["row"], cut_run["seed"]) == ("unreadable", "byol", 1)
    line = loaded.found()
    assert line.startswith(f"found 3 finished, 1 unfinished, 3 unreadable in {tmp_path} (")
    assert "byol/seed1/summary.json: JSONDecodeError" in line and "\n" not in line
    assert good.exists()


def test_a_finished_summary_without_its_metrics_is_unreadable_not_a_crash(tmp_path):
    broken = {k: v for k, v in summary("byol", 0).items() if k != "final"}
    make_run(tmp_path, "byol/seed0", broken, overrides=["+ablation=byol", "seed=0"])
    make_run(tmp_path, "byol/seed1", [1, 2, 3])
    loaded = load_runs(tmp_path)
    assert loaded.runs.empty and len(loaded.unreadable) == 2
    assert "without final" in loaded.unreadable["reason"].iloc[0]
    assert "not a JSON object" in loaded.unreadable["reason"].iloc[1]


def test_a_missing_folder_with_missing_ok_is_empty_and_says_so(tmp_path):
    loaded = load_runs(tmp_path / "nowhere", missing_ok=True)
    assert loaded.runs.empty and loaded.steps.empty and loaded.unfinished.empty
    assert loaded.found() == f"found 0 finished, 0 unfinished, 0 unreadable in {tmp_path / 'nowhere'}"
    assert loaded.warnings == (f"no run folder at {tmp_path / 'nowhere'}",)
