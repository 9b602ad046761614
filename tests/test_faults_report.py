"""The report's fault of the fault matrix (src/runs/fault_matrix.FAULTS, ``kill_in_report``): a real smoke
study, then ``python -m src.analysis.report`` on it killed as it writes. The runs are untouched, each
report file is the old one or the new one, never half of one, and a rerun regenerates the report byte for
byte. The run faults are in tests/test_faults.py."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from src.runs.fault_matrix import FAULTS, SIGKILL
from tests.conftest import ROOT
from tests.test_analysis_study import run_smoke
from tests.test_faults import files

REPORT_FAULTS = [f for f in FAULTS if f.kill_in_report is not None]

# The report's CLI, SIGKILLed from inside src/runs/atomic.write_atomic as it renames the N-th temporary
# file (complete and fsynced by then): the worst moment, one file's new bytes written but not in place.
KILLED_REPORT = """
import os, signal, sys
from pathlib import Path
from src.analysis.report import main
nth, renamed, rename = int(sys.argv.pop(1)), [], os.replace
def rename_or_die(source, target):
    if Path(source).name.startswith(".") and str(source).endswith(".tmp"):  # write_atomic's, no other
        renamed.append(target)
        if len(renamed) == nth:
            os.kill(os.getpid(), signal.SIGKILL)
    rename(source, target)
os.replace = rename_or_die
sys.exit(main(sys.argv[1:]))
"""


def report(study_dir: Path, kill_at: int | None = None) -> subprocess.CompletedProcess:
    code = ["-c", KILLED_REPORT, str(kill_at)] if kill_at else ["-m", "src.analysis.report"]
    return subprocess.run([sys.executable, *code, str(study_dir)], cwd=ROOT, capture_output=True, timeout=300)


def written(study_dir: Path) -> dict[str, bytes]:
    """The report's files: the study folder's but the runs, the study's provenance and temporary files."""
    return {
        name: data
        for name, data in files(study_dir).items()
        if not name.startswith("runs/") and name not in ("PROVENANCE.md", "provenance.json")
        and not (Path(name).name.startswith(".") and name.endswith(".tmp"))
    }  # fmt: skip


@pytest.fixture(scope="module")
def smoke_study(tmp_path_factory) -> Path:
    study_dir = tmp_path_factory.mktemp("smoke")
    run_smoke(study_dir / "runs")
    return study_dir


@pytest.mark.slow
@pytest.mark.parametrize("fault", REPORT_FAULTS, ids=[f.name for f in REPORT_FAULTS])
def test_a_report_killed_while_it_writes_leaves_each_file_old_or_new_and_reruns_byte_for_byte(
    fault, smoke_study, tmp_path
):
    study = tmp_path / "smoke"  # one path for both reports: claims.md names the folder it was made in
    shutil.copytree(smoke_study, study)
    done = report(study)
    assert done.returncode == 0, done.stderr[-3000:]
    new = written(study)  # the report of an uninterrupted command
    assert len(new) > fault.kill_in_report  # the kill lands mid-report, not after it
    shutil.rmtree(study)
    shutil.copytree(smoke_study, study)
    old = {name: b"the previous report's " + name.encode() for name in new}  # unlike any new file
    for name, data in old.items():
        (study / name).write_bytes(data)
    runs = files(study / "runs")
    done = report(study, fault.kill_in_report)
    assert done.returncode == SIGKILL, done.stderr[-3000:]
    assert files(study / "runs") == runs  # the runs are only read
    left = written(study)
    assert left.keys() == new.keys()
    renamed = [name for name in new if left[name] == new[name]]
    assert len(renamed) == fault.kill_in_report - 1, renamed
    assert all(left[name] == old[name] for name in new if name not in renamed)  # never half of one
    (temporary,) = study.rglob(".*.tmp")  # the N-th file's (.NAME.RANDOM.tmp): complete, not in place
    target = str(temporary.relative_to(study).with_name(temporary.name[1:].rsplit(".", 2)[0]))
    assert temporary.read_bytes() == new[target] != left[target]
    done = report(study)
    assert done.returncode == 0, done.stderr[-3000:]
    assert written(study) == new and files(study / "runs") == runs
    assert list(study.rglob(".*.tmp")) == [temporary]  # left as it was: hidden, .tmp, never read
