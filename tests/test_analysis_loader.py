"""The loader on small hand-made run folders (the real tree of a smoke study is in
test_analysis_study.py): unfinished runs are listed and counted, never mixed in; the wandb source gives
the same frames from a stand-in API."""

import json

import pytest

from src.analysis.loader import FINISHED, flatten, load_runs
from src.analysis.wandb_source import load_wandb_runs

CONFIG = {
    "seed": 0,
    "model": {"target": {"tau": 0.99}, "taus": [0.9, 0.99]},
    "metrics": {
        "verdict": {
            "complete_on": ["z", "p"],
            "dimensional_on": ["h", "z"],
            "spread_below": 0.1,
            "information_below": 0.05,
            "dimensional_below": 0.05,
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
                "collapse/z_std_sqrt_d": 0.5,
                "collapse/z_rank_frac": 0.3,
            },
            {"trainer/global_step": 9, "train/loss": 1.2, "_runtime": 3.0},
            {
                "trainer/global_step": 20,
                "probe/linear_acc": acc,
                "collapse/z_std_sqrt_d": 0.02,
                "collapse/z_rank_frac": 0.02,
            },
        ]
        self._rows = rows
        self.summary = {
            "probe/linear_acc": acc,
            "collapse/z_std_sqrt_d": 0.02,
            "collapse/z_rank_frac": 0.02,
            "collapse/z_cos_gap_centred": 0.001,
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
    assert run["verdict"] == "complete_collapse"  # z spread 0.02 < 0.1 and gap 0.001 < 0.05
    assert run["steps"] == 20 and run["wall_time_s"] == 7.0
    assert loaded.unfinished[["run", "status"]].to_dict("records") == [
        {"run": "wandb:me/collapse-suite/b2", "status": "crashed"}
    ]
    acc = loaded.steps[loaded.steps["metric"] == "probe/linear_acc"]
    assert list(zip(acc["step"], acc["value"], strict=True)) == [(0, 0.4), (20, 0.3)]
    assert loaded.spectra.empty
