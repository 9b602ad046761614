"""Refused input leaves nothing: Hydra creates the run folder (``outputs/<label>/seed0_<time>/``) or the
sweep folder (``multirun/<time>/`` and its ``multirun.yaml``) before the suite's checks run, and refusal
removes what the invocation created (src/runs/created.py). Each case runs in an empty working folder, the
folder's whole tree listed before and after; a folder that existed before, or holds a previous run's files,
stays as it was."""

import json
from unittest import mock

import pytest
import pytorch_lightning as pl

from tests.conftest import TINY
from tests.run_cli import run_cli

OTHER_DATA = [o for o in TINY if not o.startswith("data.")]  # for the cases that switch the data set

NO_CIFAR = "data.root data has no CIFAR-10 files"
CASES = {  # the command line, and what its one line says
    "a preflight check": ([*TINY, "trainer.max_steps=0"], "trainer.max_steps must be"),
    "a constructor's check": ([*TINY, "optimizer.lr=-0.1"], "optimizer.lr must be"),
    "another constructor's check": ([*TINY, "model.target.tau=1.5"], "model.target.tau must be"),
    "an override of the wrong type": ([*TINY, "optimizer.lr=fast"], "optimizer.lr must be a number"),
    "CIFAR-10 without its files": ([*OTHER_DATA, "data=cifar10"], NO_CIFAR),
    "a recipe without its data": (["+experiment=cifar10", "logger=csv"], NO_CIFAR),
    "a misspelled group option": ([*TINY, "data=stereoo"], "did you mean stereo?"),
    "a sweep of refused jobs": (["-m", *TINY, "optimizer.lr=-0.1,-0.2"], "optimizer.lr must be"),
    "a sweep Hydra refuses after writing multirun.yaml": (
        ["-m", *TINY, "+ablation=byol,no_predicter"],
        "did you mean no_predictor?",
    ),
}


def tree(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def empty_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATA_ROOT", raising=False)  # the CIFAR configs' root: ./data, absent here
    return tmp_path


def refused(args: list[str]) -> str:
    """Run the CLI, which must refuse before any training step; its stderr."""
    with mock.patch.object(pl.Trainer, "fit", side_effect=AssertionError("a training step was taken")):
        code, _, err = run_cli(args)
    assert code == 2, err[-2000:]
    assert err.startswith("error: ") and "Traceback" not in err, err[-2000:]
    return err


@pytest.mark.parametrize("case", CASES)
def test_refused_input_leaves_no_folder_and_no_file(case, empty_cwd):
    args, message = CASES[case]
    (empty_cwd / "notes.txt").write_text("the user's own file")
    before = tree(empty_cwd)
    assert message in refused(args)
    assert tree(empty_cwd) == before


def test_a_folder_that_existed_stays_with_what_it_holds(empty_cwd):
    previous = empty_cwd / "runs" / "previous"
    previous.mkdir(parents=True)
    (previous / "summary.json").write_text("{}")
    empty = empty_cwd / "runs" / "empty"
    empty.mkdir()
    for run_dir in (previous, empty, empty / "new" / "deeper"):
        refused([*TINY, "trainer.max_steps=0", f"hydra.run.dir={run_dir}"])
    assert tree(empty_cwd) == ["runs", "runs/empty", "runs/previous", "runs/previous/summary.json"]


def test_a_sweep_keeps_its_runs_and_loses_only_its_refused_jobs_folders(empty_cwd):
    sweep = ["-m", *TINY, "hydra.sweep.dir=sweep", "hydra.sweep.subdir=steps${trainer.max_steps}"]
    code, _, err = run_cli([*sweep, "trainer.max_steps=0,2"])
    assert code == 1, err[-2000:]  # one job failed: refused as bad input
    assert "error: trainer.max_steps must be an integer ≥ 1, got 0" in err
    assert not (empty_cwd / "sweep" / "steps0").exists()
    assert json.loads((empty_cwd / "sweep" / "steps2" / "summary.json").read_text())["status"] == "finished"
    # Again with another learning rate: steps0 is refused again, steps2 holds a run of another config. Every
    # job refused: the sweep is bad input, and the folder, its record and its config stay as they were.
    kept = {p: (empty_cwd / "sweep" / p).read_bytes() for p in ("sweep.json", "multirun.yaml")}
    before = tree(empty_cwd)
    err = refused([*sweep, "trainer.max_steps=0,2", "optimizer.lr=0.001"])
    assert "different config" in err
    assert tree(empty_cwd) == before
    assert {p: (empty_cwd / "sweep" / p).read_bytes() for p in kept} == kept
