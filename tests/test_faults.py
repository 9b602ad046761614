"""The fault matrix (src/runs/fault_matrix.FAULTS): each fault is injected into a small real run (killed
in a child process, as in tests/test_resume.py), then the same command is run again: it resumes to the
result of a run never interrupted, bit for bit (summary numbers and metrics.csv), or is refused with one
line naming the file and changes nothing (the report's faults: tests/test_faults_report.py). Also: a
full disk in a sweep fails that job alone, torch's wrapped ENOSPC is named, and the README's table is the
one rendered from the list."""

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from unittest import mock

import pytest
import torch

from src.cli.preflight import check_settings
from src.core.errors import ConfigError
from src.metrics.monitor import CollapseMonitor
from src.runs.atomic import write_atomic
from src.runs.fault_matrix import FAILED, FAULTS, README, SIGKILL, SIGTERM, readme_section, render_table
from src.runs.record import error_line
from tests.conftest import TINY
from tests.run_cli import Child, run_cli

# 30 steps, a checkpoint and a measurement every 10: the faults land at step 15, 20 or 25.
BASE = [o for o in TINY if not o.startswith(("trainer.max_steps", "checkpoint.", "metrics.every_n_steps"))]
BASE += ["trainer.max_steps=30", "checkpoint.every_n_steps=10", "metrics.every_n_steps=10"]
RUN_FAULTS = [f for f in FAULTS if f.kill_in_report is None]  # the report's: tests/test_faults_report.py
SAME = ("final", "reference", "spectra", "verdict", "steps", "status")  # config_hash differs: debug keys


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def files(run_dir: Path) -> dict[str, bytes]:
    """Every file of a run folder but the lock (a run that takes it removes it as it lets go)."""
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.name != ".lock"}  # fmt: skip


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    code, _, err = run_cli([*BASE, f"hydra.run.dir={run_dir}"])
    assert code == 0, err
    return run_dir


@pytest.fixture(scope="module")
def killed_at_25(tmp_path_factory) -> Path:
    """A run SIGKILLed at step 25: its checkpoint is step 20's; the damage faults damage copies of it."""
    run_dir = tmp_path_factory.mktemp("killed_at_25")
    code, _, err = Child([*BASE, "debug.kill_at_step=25", f"hydra.run.dir={run_dir}"]).finish()
    assert code == SIGKILL, err[-2000:]
    return run_dir


def zero_checkpoint_bytes(run_dir: Path) -> Path:
    path = run_dir / "checkpoints" / "last.ckpt"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    return path


def truncate_checkpoint(run_dir: Path) -> Path:
    path = run_dir / "checkpoints" / "last.ckpt"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def delete_digest(run_dir: Path) -> Path:
    (run_dir / "checkpoints" / "last.ckpt.sha256").unlink()
    return run_dir / "checkpoints" / "last.ckpt"


def truncate_metrics(run_dir: Path) -> Path:
    """The file cut in the middle of the last row the checkpoint accounts for (rows after it are
    dropped on resume anyway: cutting those is no damage)."""
    path = run_dir / "metrics.csv"
    kept = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["suite"]["metrics_rows"]
    lines = path.read_text().splitlines(keepends=True)  # the header, then one line per row
    last = lines[kept]
    path.write_text("".join(lines[:kept]) + last[: len(last) // 2])
    return path


def alter_metrics_digit(run_dir: Path) -> Path:
    path = run_dir / "metrics.csv"
    lines = path.read_text().splitlines(keepends=True)
    digit = next(i for i, c in enumerate(lines[5]) if c in "123456789")
    lines[5] = lines[5][:digit] + str(int(lines[5][digit]) % 9 + 1) + lines[5][digit + 1 :]
    path.write_text("".join(lines))
    return path


def truncate_summary(run_dir: Path) -> Path:
    path = run_dir / "summary.json"
    path.write_text('{"status": "finished", "config_hash": "0')  # a write cut short by a crash
    return path


def skew_clocks(run_dir: Path) -> None:
    ten_years = 10 * 365 * 24 * 3600
    for i, path in enumerate(sorted(p for p in run_dir.rglob("*") if p.is_file())):
        when = os.stat(path).st_mtime + (ten_years if i % 2 else -ten_years)
        os.utime(path, (when, when))


DAMAGES = {f.__name__: f for f in (zero_checkpoint_bytes, truncate_checkpoint, delete_digest, truncate_metrics, alter_metrics_digit, truncate_summary, skew_clocks)}  # fmt: skip


def read_only_folder(run_dir: Path):
    """What creating a file in a read-only folder gives (as root, chmod cannot make one)."""

    def refuse(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dir))

    return mock.patch.object(tempfile, "mkstemp", side_effect=refuse)


def data_file_gone(run_dir: Path):
    gone = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), "/data/stereo/test.npz")
    return mock.patch.object(CollapseMonitor, "on_train_end", side_effect=gone)


PATCHES = {f.__name__: f for f in (read_only_folder, data_file_gone)}


def first_attempt(fault, command: list[str], run_dir: Path) -> None:
    if fault.patch:  # in this process: the patch must reach the run (none of these kill)
        with PATCHES[fault.patch](run_dir):
            code, _, err = run_cli(command)
    else:
        code, _, err = Child(command).finish()
    assert code == fault.first_exit, err[-3000:]
    if fault.first_exit in (SIGKILL, SIGTERM):
        assert not (run_dir / "summary.json").exists()  # nothing passes for a result
        if fault.first_exit == SIGTERM:
            assert err.splitlines()[-1].startswith("interrupted: SIGTERM after step")
        return
    assert fault.first_exit == FAILED and fault.names
    named = fault.names.format(run_dir=run_dir)
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"failed: {run_dir}: ") and f": '{named}' (" in line, line
    if any(o.startswith("debug.disk_full_in") for o in fault.overrides):
        assert "OSError [Errno 28] No space left on device" in line, line
    if (run_dir / "summary.json").exists():
        recorded = summary(run_dir)
        assert recorded["status"] == "failed" and recorded["error"] in line
        assert "Traceback" in (run_dir / "traceback.txt").read_text()
    else:
        assert "not recorded: " in line  # the folder refused the record too, and the line says so


@pytest.mark.slow
@pytest.mark.parametrize("fault", RUN_FAULTS, ids=[f.name for f in RUN_FAULTS])
def test_a_fault_resumes_bit_identically_or_is_refused_with_one_line(
    fault, tmp_path, uninterrupted, killed_at_25
):
    command = [*BASE, *fault.overrides, f"hydra.run.dir={tmp_path}"]
    named = None
    if fault.damage:
        shutil.copytree(killed_at_25, tmp_path, dirs_exist_ok=True)
        named = DAMAGES[fault.damage](tmp_path)
    else:
        first_attempt(fault, command, tmp_path)
    before = files(tmp_path)
    code, _, err = run_cli(command)
    if fault.outcome == "refused":
        assert code == 2, err[-3000:]
        assert err.strip().splitlines() == [err.strip()]  # one line
        assert err.startswith("error: ") and str(named) in err and "set fresh=true" in err, err
        assert files(tmp_path) == before  # nothing resumed, nothing rewritten
        return
    assert code == 0, err[-3000:]
    resumed, reference = summary(tmp_path), summary(uninterrupted)
    assert {k: resumed[k] for k in SAME} == {k: reference[k] for k in SAME}
    assert (tmp_path / "metrics.csv").read_bytes() == (uninterrupted / "metrics.csv").read_bytes()
    assert not list(tmp_path.rglob(".*.tmp"))


@pytest.mark.slow
def test_a_full_disk_in_a_sweep_fails_that_job_alone_and_the_others_finish(tmp_path):
    sweep = ["-m", *BASE, f"hydra.sweep.dir={tmp_path}", "hydra.sweep.subdir=job${hydra.job.num}"]
    code, out, err = Child([*sweep, "debug.disk_full_in=null,checkpoint", "debug.fault_step=20"]).finish()
    assert code == 1, err[-3000:]
    assert out.splitlines()[-1].startswith("sweep: 2 runs, 1 failed")
    assert summary(tmp_path / "job0")["status"] == "finished"
    failed = summary(tmp_path / "job1")
    full = f"OSError [Errno 28] No space left on device: '{tmp_path / 'job1' / 'checkpoints' / 'last.ckpt'}'"
    assert failed["status"] == "failed" and failed["error"] == full
    assert f"failed: {tmp_path / 'job1'}: {full}" in err


class FillsTheDisk:
    """A file that takes 1,000 bytes and then reports what a full disk does (no file name)."""

    def __init__(self, f):
        self.f, self.written = f, 0

    def write(self, data) -> int:
        self.written += len(data)
        if self.written > 1000:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.f.write(data)

    def flush(self) -> None:
        self.f.flush()


def test_a_full_disk_under_torch_save_is_named_with_its_file_not_torchs_position_error(tmp_path):
    path = tmp_path / "last.ckpt"
    with pytest.raises(Exception) as caught:  # torch raises "unexpected pos …" over the OSError
        write_atomic(path, lambda f: torch.save({"w": torch.zeros(10_000)}, FillsTheDisk(f)), binary=True)
    assert error_line(caught.value) == f"OSError [Errno 28] No space left on device: '{path}'"
    assert list(tmp_path.iterdir()) == []  # no half-written file


def test_the_readme_reliability_table_is_the_one_rendered_from_the_fault_list():
    assert readme_section(README.read_text()) == render_table(), "run: python -m src.runs.fault_matrix"


def test_error_line_finds_the_os_error_under_wrapping_exceptions():
    try:
        try:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/runs/x/summary.json")
        except OSError as inner:
            raise RuntimeError("unexpected pos 347968 vs 347864") from inner
    except RuntimeError as outer:
        assert error_line(outer) == "PermissionError [Errno 13] Permission denied: '/runs/x/summary.json'"
    assert error_line(ValueError("no OS error here")) == "ValueError: no OS error here"


@pytest.mark.parametrize(
    "override", ["debug.kill_in=teardown", "debug.disk_full_in=measurement", "debug.fault_step=-1"]
)
def test_a_bad_phase_hook_is_one_line_naming_the_key(tiny_config, override):
    key = override.split("=")[0]
    with pytest.raises(ConfigError, match=rf"^{key} must be "):
        check_settings(tiny_config(override))
