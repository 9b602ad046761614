"""Measurements in a forked process (metrics.background, src/metrics/background.py): the same numbers as on
the training thread, of the networks as they were when the measurement started; what goes wrong in the
process reaches the training thread. Resume with a measurement still unlogged is covered by
tests/test_resume.py, whose runs measure in the background (the default) and are killed between a
measurement and its logging."""

import itertools
import json
import os
import signal
from unittest import mock

import pandas as pd
import pytest
import torch

from src.metrics.background import BackgroundMeasurement, Measured, shared_copies
from src.metrics.divergence import Diverged
from src.metrics.monitor import measure
from src.train import train
from tests.conftest import TINY
from tests.run_cli import Child, run_cli

RUN = [o for o in TINY if not o.startswith(("trainer.max_steps", "metrics.every_n_steps"))]
RUN += ["trainer.max_steps=12", "metrics.every_n_steps=3"]


def long_rows(run_dir) -> pd.DataFrame:
    """metrics.csv as (step, metric, value), sorted: the rows' order in the file set aside."""
    wide = pd.read_csv(run_dir / "metrics.csv")
    rows = wide.melt(id_vars=["step"], var_name="metric").dropna()
    return rows.sort_values(["step", "metric"]).reset_index(drop=True)


@pytest.mark.slow
def test_background_measurements_log_the_numbers_of_the_training_thread(tmp_path):
    runs = {}
    for background in ("true", "false"):
        run_dir = tmp_path / background
        code, _, err = run_cli([*RUN, f"metrics.background={background}", f"hydra.run.dir={run_dir}"])
        assert code == 0, err
        runs[background] = run_dir
    on, off = (json.loads((runs[b] / "summary.json").read_text()) for b in ("true", "false"))
    for key in ("final", "reference", "spectra", "verdict", "steps"):
        assert on[key] == off[key], key
    pd.testing.assert_frame_equal(long_rows(runs["true"]), long_rows(runs["false"]))
    # Every measurement is in the file once, under the step it was taken at: 0, 3, 6, 9 and the end.
    measured = long_rows(runs["true"]).query("metric == 'collapse/z_rank'")["step"].tolist()
    assert measured == [0, 3, 6, 9, 12]


def test_one_process_measures_the_state_at_each_start_whatever_training_does_after():
    weights = torch.zeros(3)
    background = BackgroundMeasurement()
    assert background.settle() is None

    def work(scale: float) -> tuple[dict, dict]:
        return {"sum": scale * float(weights.sum()), "pid": os.getpid()}, {"w": weights.tolist()}

    try:
        background.start(5, {"w": weights}, work, 1.0)
        weights += 1  # the next training step, in the parent: the process measures the state at the start
        with pytest.raises(RuntimeError, match="still running"):
            background.start(6, {"w": weights}, work, 1.0)
        first = background.settle()
        assert first.step == 5 and first.scalars["sum"] == 0.0 and first.spectra == {"w": [0.0, 0.0, 0.0]}
        assert first.scalars["pid"] != os.getpid()  # measured in another process
        background.start(6, {"w": weights}, work, 2.0)  # the state now, through the shared memory
        weights += 1
        second = background.settle()
        assert second.scalars == {"sum": 6.0, "pid": first.scalars["pid"]}  # the same process
        assert second.spectra == {"w": [1.0, 1.0, 1.0]}
        with pytest.raises(RuntimeError, match="tensors must be the ones"):
            background.start(7, {"v": weights}, work, 1.0)
    finally:
        background.close()
    with pytest.raises(ChildProcessError):  # closed: the process has left and been waited for
        os.waitpid(first.scalars["pid"], os.WNOHANG)


def test_the_process_hands_back_its_divergence_its_errors_and_its_death():
    background = BackgroundMeasurement()
    tensors = {"w": torch.zeros(2)}

    def work(kind: str) -> tuple[dict, dict]:
        if kind == "not finite":
            raise Diverged("z is not finite")
        if kind == "bug":
            raise ValueError("a bug in a metric")
        if kind == "killed":
            os.kill(os.getpid(), signal.SIGKILL)  # the out-of-memory killer
        return {"pid": os.getpid()}, {}

    try:
        background.start(6, tensors, work, "fine")
        first_pid = background.settle().scalars["pid"]
        background.start(7, tensors, work, "not finite")
        assert background.settle() == Measured(7, diverged="z is not finite")
        background.start(8, tensors, work, "bug")
        with pytest.raises(
            RuntimeError, match=r"(?s)step 8 failed in its process.*ValueError: a bug in a metric"
        ):
            background.settle()
        background.start(9, tensors, work, "killed")
        with pytest.raises(RuntimeError, match="step 9 died in its process"):
            background.settle()
        assert background.settle() is None
        background.start(10, tensors, work, "fine")  # a new process takes over
        assert background.settle().scalars["pid"] not in (first_pid, os.getpid())
    finally:
        background.close()


@pytest.mark.slow
@pytest.mark.parametrize("background", ["true", "false"])
def test_a_measurement_that_is_not_finite_diverges_the_run_at_the_step_it_was_taken(tmp_path, background):
    calls = itertools.count()  # in the process that measures: steps 0, 3, 6, … on either side

    def measure_or_diverge(module, *args, **kwargs):
        if next(calls) == 1:  # step 3
            raise Diverged("the z representation of held-out data is not finite")
        return measure(module, *args, **kwargs)

    with mock.patch("src.metrics.monitor.measure", side_effect=measure_or_diverge):
        code, _, err = run_cli([*RUN, f"metrics.background={background}", f"hydra.run.dir={tmp_path}"])
    assert code == 0, err  # a diverged run is a result
    result = json.loads((tmp_path / "summary.json").read_text())
    assert result["status"] == "diverged" and result["diverged_at_step"] == 3
    assert result["error"] == "the z representation of held-out data is not finite at step 3"
    assert result["reference"]["probe/linear_acc"] > 0
    # On the thread it is seen when the next measurement starts: training went on until then.
    assert result["steps"] == (6 if background == "true" else 3)


@pytest.mark.slow
def test_a_checkpoint_of_the_state_being_measured_has_it_measured_again_on_resume(tmp_path):
    """Measurements every 3 steps, checkpoints every 2: the step-6 checkpoint is saved while the step-6
    measurement runs, of that very state, so it records the step to measure again instead of waiting. A
    SIGKILL at step 7 resumes from it; the resumed run's files are the uninterrupted run's, byte for byte."""
    uninterrupted, resumed = tmp_path / "uninterrupted", tmp_path / "resumed"
    code, _, err = run_cli([*RUN, f"hydra.run.dir={uninterrupted}"])
    assert code == 0, err
    killed = Child([*RUN, "debug.kill_at_step=7", f"hydra.run.dir={resumed}"]).finish()
    assert killed[0] == -signal.SIGKILL
    checkpoint = torch.load(resumed / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 6
    [monitor] = [state for state in checkpoint["callbacks"].values() if "retake" in state]
    assert monitor["retake"] == 6 and monitor["unlogged"] is None
    code, _, err = run_cli([*RUN, "debug.kill_at_step=7", f"hydra.run.dir={resumed}"])
    assert code == 0, err
    assert (resumed / "metrics.csv").read_bytes() == (uninterrupted / "metrics.csv").read_bytes()
    done, reference = (json.loads((d / "summary.json").read_text()) for d in (resumed, uninterrupted))
    assert done["resumed_from_step"] == 6
    for key in ("final", "reference", "spectra", "verdict", "steps"):
        assert done[key] == reference[key], key


def test_shared_copies_keep_every_dtype_shape_and_value_and_are_shared_with_a_fork():
    tensors = {
        "weight": torch.randn(3, 5),
        "num_batches_tracked": torch.tensor(7),  # BatchNorm's int64 buffer
        "mask": torch.tensor([True, False, True]),
        "empty": torch.zeros(0),
        "half": torch.arange(5, dtype=torch.float16),
    }
    shared = shared_copies(tensors)
    for name, tensor in tensors.items():
        assert shared[name].dtype == tensor.dtype and torch.equal(shared[name], tensor), name
        assert shared[name].data_ptr() % 64 == 0 or tensor.numel() == 0, name
    pid = os.fork()
    if pid == 0:  # what the measuring process sees is what the run writes, and back
        shared["weight"].fill_(1.5)
        os._exit(0)
    os.waitpid(pid, 0)
    assert torch.equal(shared["weight"], torch.full((3, 5), 1.5))


def test_a_run_leaves_no_measuring_process_behind(tiny_config, tmp_path):
    real_fork, forked = os.fork, []

    def recorded_fork() -> int:
        pid = real_fork()
        forked.append(pid)
        return pid

    with mock.patch("os.fork", recorded_fork):
        train(tiny_config("metrics.background=true"), tmp_path)
    assert len(forked) == 1  # one process measured the run
    with pytest.raises(ChildProcessError):  # it has left and been waited for: neither running nor a zombie
        os.waitpid(forked[0], os.WNOHANG)
