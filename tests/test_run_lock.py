"""One process per run folder: a second process started into a folder a run holds is refused with one
line naming the folder and the holder, and leaves the holder's run (its .hydra/ config included) alone;
the lock goes with its holder, even one killed without warning."""

import json
import os
import signal
import time

import pytest
import yaml

from src.runs.lock import RunDirBusy, RunLock
from tests.conftest import TINY
from tests.run_cli import Child, run_cli

LONG = [o for o in TINY if not o.startswith("trainer.max_steps")] + ["trainer.max_steps=2000"]


def test_a_second_holder_is_refused_naming_the_first_and_the_lock_goes_with_its_holder(tmp_path):
    busy = rf"{tmp_path} is in use by another run \(pid {os.getpid()} on "
    with RunLock(tmp_path):
        assert (tmp_path / ".lock").exists()
        with pytest.raises(RunDirBusy, match=busy), RunLock(tmp_path):
            pass
    assert not (tmp_path / ".lock").exists()
    with RunLock(tmp_path):  # free again
        pass


@pytest.mark.slow
def test_two_processes_into_one_folder_the_second_is_refused_and_writes_nothing(tmp_path):
    first = Child([*LONG, f"hydra.run.dir={tmp_path}"])
    while not (tmp_path / "metrics.csv").exists() and first.process.is_alive():
        time.sleep(0.05)  # the first run is training: it holds the lock and has written its .hydra/
    assert first.process.is_alive(), "the first run ended before the second started"
    config_before = (tmp_path / ".hydra" / "config.yaml").read_bytes()
    second = Child([*LONG, "optimizer.lr=0.001", f"hydra.run.dir={tmp_path}"])  # another config
    code, _, err = second.finish()
    assert first.process.is_alive(), "the first run ended before the second was refused"
    assert code == 2, err[-2000:]
    (line,) = [line for line in err.splitlines() if line.startswith("error: ")]
    assert line.startswith(f"error: {tmp_path} is in use by another run (pid {first.process.pid} on ")
    assert (tmp_path / ".hydra" / "config.yaml").read_bytes() == config_before  # the holder's, untouched
    os.kill(first.process.pid, signal.SIGKILL)  # a holder killed without warning leaves no stale lock
    assert first.finish()[0] == -signal.SIGKILL
    short = [*TINY, f"hydra.run.dir={tmp_path}", "fresh=true"]
    code, _, err = run_cli(short)
    assert code == 0, err[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    config = yaml.safe_load((tmp_path / ".hydra" / "config.yaml").read_text())
    assert summary["config"]["trainer"]["max_steps"] == config["trainer"]["max_steps"] == 4
    assert not (tmp_path / ".lock").exists()
