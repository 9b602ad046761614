"""Resume after a kill: a real run in a child process is killed (SIGKILL mid-run, or SIGTERM as a cluster
scheduler sends before pre-emption, or Ctrl-C), the same command is run again, and the result must be
the result of a run that was never interrupted, bit for bit on the CPU: every row of metrics.csv, every
number of the summary, every weight; with and without gradient accumulation (k = 2 batches per step). Also: re-running a sweep skips, resumes and starts the right runs; a different config in a
used folder is refused; a broken checkpoint is named; checkpoints are written atomically."""

import json
import os
import re
import signal
import time

import pytest
import torch

from src.runs.checkpointing import AtomicCheckpointIO
from src.runs.integrity import verify
from tests.conftest import TINY
from tests.run_cli import Child, run_cli

# Long enough that the kill lands mid-run (the first checkpoint appears after 3 of 24 steps).
LONG = [o for o in TINY if not o.startswith(("trainer.max_steps", "checkpoint.", "metrics.every_n_steps"))]
LONG += ["trainer.max_steps=24", "checkpoint.every_n_steps=3", "metrics.every_n_steps=4"]
SAME = ("final", "reference", "spectra", "verdict", "steps", "config_hash", "status")


def summary(run_dir) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


ACCUMULATE = {1: [], 2: ["trainer.accumulate_grad_batches=2"]}  # k batches per optimizer step


@pytest.fixture(scope="module", params=[1, 2], ids=["k=1", "k=2"])
def uninterrupted(request, tmp_path_factory):
    """(k, the run directory of the run never interrupted)."""
    k = request.param
    run_dir = tmp_path_factory.mktemp(f"uninterrupted_k{k}")
    code, _, err = run_cli([*LONG, *ACCUMULATE[k], f"hydra.run.dir={run_dir}"])
    assert code == 0, err
    return k, run_dir


def kill_mid_run(run_dir, sig: signal.Signals, k: int = 1, extra: tuple[str, ...] = ()) -> tuple[int, str]:
    """Run the command (``extra`` overrides appended) in a child process and send it ``sig`` as soon as
    its first checkpoint exists; returns the child's exit code and stderr."""
    child = Child([*LONG, *ACCUMULATE[k], *extra, f"hydra.run.dir={run_dir}"])
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    while not checkpoint.exists() and child.process.is_alive():
        time.sleep(0.01)
    os.kill(child.process.pid, sig)
    code, _, err = child.finish()
    return code, err


def weights(run_dir) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def assert_resumes_to_the_uninterrupted_result(run_dir, uninterrupted, extra: tuple[str, ...] = ()) -> None:
    k, reference_dir = uninterrupted
    checkpoint_step = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    assert 3 <= checkpoint_step < 24
    code, out, err = run_cli([*LONG, *ACCUMULATE[k], *extra, f"hydra.run.dir={run_dir}"])
    assert code == 0, err
    resumed_line = rf"^  resumed +from step {checkpoint_step} \({24 - checkpoint_step} steps this attempt\)$"
    assert re.search(resumed_line, out, re.MULTILINE), out
    resumed, reference = summary(run_dir), summary(reference_dir)
    assert resumed["resumed_from_step"] == checkpoint_step
    # A fault placed by a debug hook is in the config, so in its hash: everything else must be equal.
    same = [k for k in SAME if not (k == "config_hash" and any(o.startswith("debug.") for o in extra))]
    assert {k: resumed[k] for k in same} == {k: reference[k] for k in same}
    assert (run_dir / "metrics.csv").read_bytes() == (reference_dir / "metrics.csv").read_bytes()
    ours, theirs = weights(run_dir), weights(reference_dir)
    assert ours.keys() == theirs.keys()
    assert [name for name in ours if not torch.equal(ours[name], theirs[name])] == []


@pytest.mark.slow
def test_sigkill_mid_run_then_the_same_command_finishes_bit_identically(tmp_path, uninterrupted):
    code, _ = kill_mid_run(tmp_path, signal.SIGKILL, k=uninterrupted[0])
    assert code == -signal.SIGKILL, "the run finished before the kill"
    assert not (tmp_path / "summary.json").exists()
    assert_resumes_to_the_uninterrupted_result(tmp_path, uninterrupted)


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_exits_143_and_the_same_command_finishes_bit_identically(
    tmp_path, uninterrupted
):
    # Under accumulation (k = 2) the signal lands inside a window: the checkpoint holds its gradients.
    code, err = kill_mid_run(tmp_path, signal.SIGTERM, k=uninterrupted[0])
    assert code == 143, err[-2000:]
    assert "interrupted: SIGTERM after step" in err.splitlines()[-1]
    assert not (tmp_path / "summary.json").exists()
    # A different config is never resumed from this checkpoint.
    code, _, err = run_cli([*LONG, "optimizer.lr=0.001", f"hydra.run.dir={tmp_path}"])
    assert code == 2 and f"error: {tmp_path} holds a checkpoint of a different config" in err
    assert_resumes_to_the_uninterrupted_result(tmp_path, uninterrupted)


@pytest.mark.slow
def test_sigterm_inside_an_accumulation_window_resumes_bit_identically(tmp_path, uninterrupted):
    """The checkpoint then holds the window's accumulated gradients (Lightning saves none). The SIGTERM is
    sent by the run itself inside a window after the first checkpoint (``debug.term_in=mid_window``), as a
    scheduler's could land there; once per run folder, so the same command then resumes."""
    k, _ = uninterrupted
    if k == 1:
        pytest.skip("k = 1 has no accumulation window")
    fault = ("debug.term_in=mid_window", "debug.fault_step=5")
    code, _, err = run_cli([*LONG, *ACCUMULATE[k], *fault, f"hydra.run.dir={tmp_path}"])
    assert code == 143, err[-2000:]
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    batches = checkpoint["loops"]["fit_loop"]["epoch_loop.batch_progress"]["total"]["completed"]
    assert batches % k, f"{batches} batches: the signal landed between windows"
    assert checkpoint["suite"]["grads"], "a mid-window checkpoint without the window's gradients"
    assert_resumes_to_the_uninterrupted_result(tmp_path, uninterrupted, fault)


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_between_steps_exits_130_and_the_same_command_finishes(
    tmp_path, uninterrupted
):
    code, err = kill_mid_run(tmp_path, signal.SIGINT, k=uninterrupted[0])
    assert code == 130, err[-2000:]
    assert err.splitlines()[-1].startswith("interrupted: Ctrl-C after step")
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert_resumes_to_the_uninterrupted_result(tmp_path, uninterrupted)


def test_a_broken_checkpoint_is_named_and_fresh_true_starts_afresh(tmp_path, uninterrupted):
    checkpoint = tmp_path / "checkpoints" / "last.ckpt"
    checkpoint.parent.mkdir()
    whole = (uninterrupted[1] / "checkpoints" / "last.ckpt").read_bytes()
    run = [*TINY, f"hydra.run.dir={tmp_path}"]
    for damaged in (b"not a checkpoint", whole[: len(whole) // 2]):  # garbage, truncated
        checkpoint.write_bytes(damaged)
        code, _, err = run_cli(run)
        assert code == 2
        assert f"error: checkpoint {checkpoint} cannot be read (truncated or corrupt" in err
        assert err.rstrip().endswith("set fresh=true to start this run afresh")
    code, _, err = run_cli([*run, "fresh=true"])
    assert code == 0, err
    assert summary(tmp_path)["status"] == "finished"


def test_rerunning_a_sweep_skips_finished_resumes_interrupted_and_starts_missing_runs(tmp_path):
    sweep = [*TINY, f"hydra.sweep.dir={tmp_path}", "hydra.sweep.subdir=seed${seed}"]
    code, _, err = run_cli(["-m", *sweep, "seed=0,1"])
    assert code == 0, err
    first = {s: (tmp_path / f"seed{s}" / "summary.json").read_bytes() for s in (0, 1)}
    # seed 1 is killed after its final checkpoint, before its summary: the checkpoint is all it leaves.
    (tmp_path / "seed1" / "summary.json").unlink()
    code, out, err = run_cli(["-m", *sweep, "seed=0,1,2"])
    assert code == 0, err
    assert f"skip: {tmp_path / 'seed0'} already holds a finished run of this config" in out
    assert (tmp_path / "seed0" / "summary.json").read_bytes() == first[0]  # not rerun, not rewritten
    resumed, before = summary(tmp_path / "seed1"), json.loads(first[1])
    assert resumed["resumed_from_step"] == 4
    assert {k: resumed[k] for k in SAME} == {k: before[k] for k in SAME}
    assert summary(tmp_path / "seed2")["resumed_from_step"] is None
    assert "sweep: 3 runs, 0 failed, 0 diverged" in out
    # The same folders with a changed config (same names, other hash): every job refused, so the sweep is
    # bad input (exit 2): results and the sweep's record untouched.
    recorded = (tmp_path / "sweep.json").read_bytes()
    code, out, err = run_cli(["-m", *sweep, "seed=0,1,2", "optimizer.lr=0.001"])
    assert code == 2
    refusals = [
        line for line in err.splitlines() if line.startswith("error: ") and "different config" in line
    ]
    assert len(refusals) == 3 and len(err.splitlines()) == 3
    assert "sweep:" not in out and (tmp_path / "sweep.json").read_bytes() == recorded
    assert (tmp_path / "seed0" / "summary.json").read_bytes() == first[0]


class FailsWhenWritten:
    def __reduce__(self):
        raise OSError("No space left on device")


def test_checkpoints_are_replaced_atomically(tmp_path):
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": torch.tensor(1)}, path)
    with pytest.raises(OSError, match="No space left"):  # a write that fails half-way through
        io.save_checkpoint({"step": torch.tensor(2), "rest": FailsWhenWritten()}, path)
    assert torch.load(path, weights_only=True)["step"] == 1
    # The old checkpoint and its digest, nothing half-written; the digest still vouches for it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt", "last.ckpt.sha256"]
    verify(path)
