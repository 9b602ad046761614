"""Where a study's committed results came from: the command, the commit, the machine and the time.

Each invocation of a study appends one entry to ``<study_dir>/provenance.json``; ``PROVENANCE.md``
renders them all. A second invocation that only skips finished runs is recorded as such (how many runs
it executed), so the wall time of the one that did the work stays on record.
"""

import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from src.runs.atomic import write_json_atomic, write_text_atomic
from src.runs.record import git_state

PROVENANCE_FILE = "PROVENANCE.md"  # beside a study's runs: every invocation that ran them


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    """What `nproc` prints: the cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def command_line(argv: list[str] | None = None) -> str:
    """The command as typed: ``python -m src.run …`` rather than the path Python saw."""
    argv = list(sys.argv if argv is None else argv)
    script = Path(argv[0]) if argv else None
    if script is not None and script.suffix == ".py" and "src" in script.parts:  # a module of this package
        parts = script.with_suffix("").parts
        argv = ["python", "-m", ".".join(parts[len(parts) - 1 - parts[::-1].index("src") :]), *argv[1:]]
    return shlex.join(argv)


def changed_paths(cwd: Path | None = None) -> int | None:
    """How many paths differ from the commit, untracked files included (git_state's dirty flag counts
    tracked files only): results made from uncommitted code should say so."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain"],
            cwd=cwd or Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return len(out.stdout.splitlines()) if out.returncode == 0 else None


def one_minute_load() -> float:
    return os.getloadavg()[0]


class LoadSampler:
    """The machine's 1-min load average, sampled every ``every_s`` seconds on a daemon thread from
    ``start`` to ``stop``: how busy the machine was while a study ran, for its provenance. A study's own
    workers account for about ``n_jobs`` of it; more means other jobs shared the cores. Picklable (the
    launcher ships the study's callbacks to its workers): the thread stays with the process that started it.
    """

    def __init__(self, every_s: float = 15.0, read: Callable[[], float] = one_minute_load):
        self.every_s, self.read = every_s, read
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __getstate__(self) -> dict:
        return {"every_s": self.every_s, "read": self.read, "samples": list(self.samples)}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["every_s"], state["read"])
        self.samples = state["samples"]

    def _sample(self) -> None:
        while not self._stop.wait(self.every_s):
            self.samples.append(self.read())

    def start(self) -> None:
        self.samples = [self.read()]
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, name="load-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> dict:
        """The load at the start and the end, its mean and maximum over the samples, their count."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        self.samples.append(self.read())
        return {
            "start": round(self.samples[0], 2),
            "end": round(self.samples[-1], 2),
            "mean": round(statistics.fmean(self.samples), 2),
            "max": round(max(self.samples), 2),
            "samples": len(self.samples),
            "every_s": self.every_s,
        }


def run_commits(runs: pd.DataFrame) -> list[str]:
    """The distinct commits (and dirty flags) the runs recorded."""
    if runs.empty:
        return []
    pairs = runs[["git_commit", "git_dirty"]].drop_duplicates().itertuples(index=False)
    return sorted(f"{commit} (dirty: {dirty})" for commit, dirty in pairs)


def invocation(
    runs: pd.DataFrame,
    started: float,
    ended: float,
    command: str,
    launcher: dict,
    note: str = "",
    load: dict | None = None,
) -> dict:
    """One entry: who ran what, where, how long, how busy the machine was (``LoadSampler.stop``), and how
    many runs this invocation itself executed."""
    executed = runs[runs["finished_at"] >= started] if len(runs) else runs
    return {
        "command": command,
        "started": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "wall_time_s": round(ended - started, 1),
        "git": {**git_state(), "changed_paths": changed_paths()},
        "run_commits": run_commits(runs),
        "machine": {"nproc": usable_cores(), "cpu": cpu_model(), "platform": platform.platform()},
        "launcher": launcher,
        "load": load,
        "runs_finished": len(runs),
        "runs_executed_now": len(executed),
        "run_time_sum_s": round(float(executed["wall_time_s"].sum()), 1) if len(executed) else 0.0,
        "note": note,
    }


def render(study: str, entries: list[dict]) -> str:
    lines = [
        f"# Provenance: {study}",
        "",
        "Written by the study's Hydra callback (`src.analysis.study_callback.StudyReport`) at the end of "
        "each invocation; newest last. Wall time is the whole invocation (start-up, every run, the report) "
        "on the machine named; `run time sum` adds up the runs' own wall times.",
    ]
    for i, e in enumerate(entries, 1):
        git = e["git"]
        lines += [
            "",
            f"## Invocation {i}: {e['started']}",
            "",
            f"- Command: `{e['command']}`",
            f"- Commit: `{git['commit']}` (tracked files modified: {git['dirty']}; paths differing from the "
            f"commit, untracked included: {git.get('changed_paths')}); runs recorded "
            f"{', '.join(f'`{c}`' for c in e['run_commits']) or 'none'}",
            f"- Machine: {e['machine']['nproc']} cores (nproc), {e['machine']['cpu']}, {e['machine']['platform']}",
            f"- Launcher: {', '.join(f'{k}={v}' for k, v in e['launcher'].items())}",
            f"- Runs: {e['runs_executed_now']} executed by this invocation, {e['runs_finished']} finished in all",
            f"- Wall time: {e['wall_time_s']:.0f} s ({e['wall_time_s'] / 60:.1f} min); run time sum "
            f"{e['run_time_sum_s']:.0f} s",
        ]
        if e.get("load"):  # entries before the sampler have none: their load is in the note
            load, jobs = e["load"], e["launcher"].get("n_jobs", 1)
            lines.append(
                f"- Load (1-min average; the study's own {jobs} worker(s) account for about {jobs}): at the start "
                f"{load['start']:.2f}, mean {load['mean']:.2f}, max {load['max']:.2f}, at the end {load['end']:.2f} "
                f"({load['samples']} samples, every {load['every_s']:.0f} s)"
            )
        if e["note"]:
            lines.append(f"- Note: {e['note']}")
    return "\n".join(lines) + "\n"


def record_invocation(study_dir: Path, study: str, entry: dict) -> Path:
    """Append ``entry`` to provenance.json and rewrite PROVENANCE.md; returns the markdown's path."""
    study_dir = Path(study_dir)
    log = study_dir / "provenance.json"
    entries = json.loads(log.read_text()) if log.exists() else []
    entries.append(entry)
    write_json_atomic(log, entries)
    path = study_dir / PROVENANCE_FILE
    write_text_atomic(path, render(study, entries))
    return path
