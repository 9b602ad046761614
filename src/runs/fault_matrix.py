"""The faults a long study meets, as one list: what is injected, what the suite does, what is kept. The
tests run every one (tests/test_faults.py and tests/test_faults_report.py parametrise over FAULTS) and
the README's reliability table is rendered from it (``python -m src.runs.fault_matrix`` rewrites it; a
test checks it is current), so the table cannot claim what the tests do not check.

Each fault's first attempt runs the tests' small config with ``overrides`` (the debug hooks of
src/runs/fault_injection.py, set in conf/config.yaml ``debug:``), then the test applies ``damage`` to the
run folder (a function of that name in tests/test_faults.py), then runs the same command again. The
second attempt either resumes to the result of a run never interrupted, bit for bit (``outcome``
"resumes"), or is refused with one line naming the file, exit 2 (``outcome`` "refused").

A fault with ``kill_in_report`` hits the report instead (``python -m src.analysis.report``, which has no
Hydra config and so no debug hook): tests/test_faults_report.py runs it on a real small study, killed
from inside the atomic writer, then checks the runs, the files left and a rerun.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- fault-table:start -->", "<!-- fault-table:end -->"

SIGKILL, SIGTERM, FAILED = -9, 143, 1  # the first attempt's exit code (−N: killed by signal N)
RESUMES = "ends bit-identical to a run never interrupted"
REFUSED = "refused: one line naming the file and fresh=true, exit 2; nothing resumed"


@dataclass(frozen=True)
class Fault:
    name: str
    injected: str  # what is done to the run (README column)
    does: str  # what the suite does about it (README column)
    kept: str  # what survives (README column)
    overrides: tuple[str, ...] = ()  # the debug hooks of both attempts (the same command, run again)
    damage: str | None = None  # what the test does to the run folder between the attempts
    patch: str | None = None  # an OS error the test makes the first attempt meet (no debug hook can)
    names: str | None = None  # the file a "failed" first attempt's one line names ({run_dir}: its folder)
    first_exit: int = SIGKILL
    outcome: str = "resumes"  # "resumes" | "refused"
    kill_in_report: int | None = None  # the report killed with its N-th file's temporary file complete


KILLED_AT_25 = ("debug.kill_at_step=25",)  # the run whose folder the damage faults damage
REPORT_KILL = 4  # of the smoke study's six report files: after a CSV, amid the figures, before claims.md
FAULTS = (
    Fault("kill at start-up", "SIGKILL with the folder locked, nothing built", f"rerun starts afresh, {RESUMES}", "nothing to keep; no summary, so nothing passes for a result", ("debug.kill_in=startup",)),
    Fault("kill before the first step", "SIGKILL as training starts, before step 0", f"rerun starts afresh, {RESUMES}", "nothing to keep; no summary", ("debug.kill_in=first_step",)),
    Fault("kill mid-run", "SIGKILL at step 15 of 30", f"resumes from the step-10 checkpoint, {RESUMES}", "checkpoint, metrics.csv rows it accounts for", ("debug.kill_at_step=15",)),
    Fault("SIGTERM during a measurement", "SIGTERM as the step-20 measurement starts", f"finishes the step, saves a checkpoint, exits 143; rerun {RESUMES}", "checkpoint saved on the signal", ("debug.term_in=measurement", "debug.fault_step=20"), first_exit=SIGTERM),
    Fault("kill during a measurement", "SIGKILL as the step-20 measurement starts", f"resumes from the step-10 checkpoint, {RESUMES}", "checkpoint, metrics.csv rows it accounts for", ("debug.kill_in=measurement", "debug.fault_step=20")),
    Fault("kill during a checkpoint write", "SIGKILL with the new checkpoint's temporary file complete, before its digest and rename", f"removes the temporary file, resumes from the step-10 checkpoint, {RESUMES}", "the previous checkpoint and its digest", ("debug.kill_in=checkpoint", "debug.fault_step=20")),
    Fault("kill between a checkpoint and its digest", "SIGKILL after the rename, before the digest file lists the new checkpoint alone", f"the digest file lists both: resumes from step 20, {RESUMES}", "the new checkpoint", ("debug.kill_in=digest", "debug.fault_step=20")),
    Fault("SIGTERM during a checkpoint write", "SIGTERM while the step-20 checkpoint is written", f"completes the write and the step, saves again, exits 143; rerun {RESUMES}", "checkpoint saved on the signal", ("debug.term_in=checkpoint", "debug.fault_step=20"), first_exit=SIGTERM),
    Fault("kill during the summary write", "SIGKILL with summary.json's temporary file complete, before the rename", f"no summary: resumes from the final checkpoint, {RESUMES}", "the final checkpoint", ("debug.kill_in=summary",)),
    Fault("disk full at a checkpoint", "OSError ENOSPC writing the step-20 checkpoint", f"one line `failed: … OSError [Errno 28] No space left on device: '…/last.ckpt'`, exit 1, status failed with that error; rerun {RESUMES}", "the step-10 checkpoint; no half-written file", ("debug.disk_full_in=checkpoint", "debug.fault_step=20"), first_exit=FAILED, names="{run_dir}/checkpoints/last.ckpt"),
    Fault("disk full at the summary", "OSError ENOSPC writing summary.json", f"one line naming summary.json, exit 1, status failed with that error; rerun {RESUMES}", "the final checkpoint", ("debug.disk_full_in=summary",), first_exit=FAILED, names="{run_dir}/summary.json"),
    Fault("read-only run folder", "PermissionError from every file the suite creates there (simulated: tests run as root, whom chmod does not stop)", f"one line naming the file, exit 1; the failure cannot be recorded there and the line says so; rerun {RESUMES}", "nothing written", first_exit=FAILED, patch="read_only_folder", names="{run_dir}/.hydra"),
    Fault("data file gone mid-run", "FileNotFoundError as the final measurement reads data", f"one line naming the file, exit 1, status failed with that error; rerun {RESUMES}", "the step-20 checkpoint", first_exit=FAILED, patch="data_file_gone", names="/data/stereo/test.npz"),
    Fault("corrupted checkpoint", "64 bytes in the middle of last.ckpt zeroed after a kill", REFUSED, "every file as it was", KILLED_AT_25, "zero_checkpoint_bytes", outcome="refused"),
    Fault("truncated checkpoint", "last.ckpt cut to half its length after a kill", REFUSED, "every file as it was", KILLED_AT_25, "truncate_checkpoint", outcome="refused"),
    Fault("checkpoint without its digest", "last.ckpt.sha256 deleted after a kill", REFUSED, "every file as it was", KILLED_AT_25, "delete_digest", outcome="refused"),
    Fault("truncated metrics.csv", "metrics.csv cut in the middle of the last row the checkpoint accounts for", REFUSED, "every file as it was", KILLED_AT_25, "truncate_metrics", outcome="refused"),
    Fault("altered metrics.csv", "one digit of a kept metrics.csv row changed (still a number)", f"{REFUSED} (the rows' sha256 in the checkpoint differs)", "every file as it was", KILLED_AT_25, "alter_metrics_digit", outcome="refused"),
    Fault("unparseable summary.json", "summary.json holding a write cut short (invalid JSON)", REFUSED, "every file as it was", KILLED_AT_25, "truncate_summary", outcome="refused"),
    Fault("clock skew", "the run folder's files dated 10 years back and ahead", f"file times are never read: {RESUMES}", "checkpoint, metrics.csv", KILLED_AT_25, "skew_clocks"),
    Fault("kill during a report", f"SIGKILL in `python -m src.analysis.report` with the temporary file of the {REPORT_KILL}th file it writes complete, before the rename", "the runs are untouched; each report file is the old one or the new one, never half of one; rerunning the command regenerates the report byte for byte", "every run file; every report file whole (old or new); a hidden `.*.tmp` file, never read", kill_in_report=REPORT_KILL),
)  # fmt: skip


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_table(faults: tuple[Fault, ...] = FAULTS) -> str:
    """The README's table: one row per fault."""
    lines = ["| fault | injected | what the suite does | what is kept |", "|---|---|---|---|"]
    lines += [f"| {cell(f.name)} | {cell(f.injected)} | {cell(f.does)} | {cell(f.kept)} |" for f in faults]
    return "\n".join(lines)


def readme_section(text: str) -> str:
    """What the README holds between the markers."""
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n")


def update_readme(path: Path = README) -> None:
    text = path.read_text()
    head, rest = text.split(START, 1)
    path.write_text(f"{head}{START}\n{render_table()}\n{END}{rest.split(END, 1)[1]}")


if __name__ == "__main__":
    update_readme(Path(sys.argv[1]) if len(sys.argv) > 1 else README)
