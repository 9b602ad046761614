"""The compute floor of a study: what its runs' training steps and measurements alone cost, measured here,
against the study's time goal and the wall time its provenance records.

    python benchmarks/study_floor.py [--study collapse_table robustness] [--warmup 5] [--steps 20] [--jobs 2]
                                     [--invoke]

For every distinct run of a study (its sweep's jobs without the seed, which does not change the cost) the
plain loop of ``src/bench/plain_loop.py`` (the same networks, optimizer, batches and loss, bitwise the
suite's weights; no Lightning, logging, checkpoint or check) trains ``warmup + steps`` steps, and one
collapse measurement (``measure``, the linear probe included) is timed after them. ``--jobs`` worker
processes share the runs and time them side by side, as the study's ``n_jobs`` joblib workers run, so both
cores' contention is in the numbers: a worker done with its share keeps training (a filler run, untimed)
until every worker is done, since in a study both workers stay busy to its end. NOTE: without that, the
runs a worker times after the other has finished run alone, faster (idle AMD 2-core, 60 timed steps a run:
the τ sweep's floor 106 s without the filler against 113 s with it, the collapse table's 785 against 810 s).
The floor moves by several percent between invocations, and with the timed steps (the same machine: the
collapse table 837–875 s with 20 steps, 810 s with 60): state the range, not one figure.

The floor of a study is Σ over its runs of (max_steps × ms/step + measurements × s/measurement), over
``jobs``: the time a perfectly packed engine with no start-up, no logging and no files would take. It is
a lower bound: the real study adds process start-up, Hydra's composition, Lightning's loop, the reports.
``--invoke`` runs each study itself too, as a user does, into a scratch folder, between two measurements of
its floor, and prints its wall time against both: the ratio side by side in one run; and its runs' own
time (the sum of their ``wall_time_s``) over the workers, which tells what the runs spend over their floor
from what is spent around them (start-up, composition, between jobs, the last run alone, the report).
NOTE: a shared machine's speed drifts; on the 2-core Intel VM the collapse table's floor measured 666 s
just before an invocation and 587 s just after it, so an invocation is read against the floors around it,
not one from another hour.
Printed: the floor against the goal (issue 10: collapse table ≤ 5 min, robustness ≤ 20 min on an idle
2-core machine) and the study's last full invocation (``experiments/<study>/provenance.json``) against it.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import ROOT
from src.bench.plain_loop import PlainLoop
from src.bench.study_floor import EXTRA, floor_seconds, study_runs, time_run
from src.cli.compose import compose_config
from src.job import plain_cuda_check

GOALS_S = {"collapse_table": 5 * 60, "robustness": 20 * 60}  # issue 10, idle 2-core machine


ENV = {**os.environ, "WANDB_MODE": "offline"}
DONE = "done"  # what a worker prints when its share is timed; it then trains a filler until stopped


def worker(studies: list[str], index: int, count: int, warmup: int, steps: int, stop: Path) -> None:
    """Time every ``count``-th run from ``index``: one JSON line each; then train the first of them, untimed,
    until ``stop`` exists (the other workers' runs are then timed beside a busy core, as in a study)."""
    plain_cuda_check(None)
    items = [(s, o, n) for s in studies for o, n in study_runs(s)]
    mine = items[index::count]
    for study, overrides, seeds in mine:
        print(json.dumps({"study": study, "seeds": seeds, **time_run(overrides, warmup, steps)}), flush=True)
    print(DONE, flush=True)
    if not mine:
        return
    filler = PlainLoop(compose_config([*EXTRA, *mine[0][1], "seed=0", f"trainer.max_steps={10**9}"]))
    step = 0
    while not stop.exists():
        filler.step(step)
        step += 1


def last_full_invocation(study: str, runs: int) -> dict | None:
    """The newest provenance entry that executed every one of the study's ``runs`` runs itself (an entry
    from before a row or condition joined the study ran fewer and is not its cost)."""
    path = ROOT / "experiments" / study / "provenance.json"
    entries = json.loads(path.read_text()) if path.exists() else []
    full = [e for e in entries if e["runs_executed_now"] == e["runs_finished"] == runs]
    return full[-1] if full else None


def condition_of(row: dict) -> str | None:
    """A robustness run's condition (its ``study/condition@condition`` override), None in other studies."""
    found = [o.split("=", 1)[1] for o in row["overrides"] if o.startswith("study/condition@condition=")]
    return found[0] if found else None


def report(study: str, rows: list[dict], jobs: int) -> None:
    runs = sum(r["seeds"] for r in rows)
    steps = sum(r["seeds"] * r["max_steps"] for r in rows)
    train, meas = floor_seconds(rows, jobs)
    floor = train + meas
    print(
        f"\n{study}: {runs} runs ({len(rows)} distinct × seeds), {steps:,} training steps, "
        f"{sum(r['seeds'] * r['measurements'] for r in rows)} measurements; mean {1e3 * train * jobs / steps:.1f} ms/step"
    )
    print(
        f"  floor on {jobs} workers: training {train:.0f} s + measurements {meas:.0f} s = {floor:.0f} s ({floor / 60:.1f} min)"
    )
    for condition in sorted({c for c in map(condition_of, rows) if c}):
        part = sum(floor_seconds([r for r in rows if condition_of(r) == condition], jobs))
        print(f"    condition {condition}: {part:.0f} s ({part / 60:.1f} min)")
    if study in GOALS_S:
        goal, seeds = GOALS_S[study], max(r["seeds"] for r in rows)
        verdict = (
            "the goal is BELOW the floor: no engine meets it"
            if floor > goal
            else "the goal is above the floor"
        )
        print(f"  goal {goal / 60:.0f} min: floor / goal = {floor / goal:.2f} ({verdict})")
        print(
            f"  the training steps alone / goal = {train / goal:.2f}; at this floor the goal affords {seeds * goal / floor:.1f} of its {seeds} seeds per row"
        )
    entry = last_full_invocation(study, runs)
    if entry:
        wall, load = entry["wall_time_s"], entry.get("load")
        busy = (
            f"1-min load mean {load['mean']:.2f}, max {load['max']:.2f}"
            if load
            else entry["note"] or "not noted"
        )
        print(
            f"  last full invocation ({entry['started']}, {entry['runs_executed_now']} runs): {wall:.0f} s = "
            f"{wall / floor:.2f}× this floor (engine overhead; its load: {busy})"
        )
    else:
        print(f"  no invocation in experiments/{study}/provenance.json ran all {runs} runs itself")
    slow = sorted(rows, key=lambda r: -r["seeds"] * r["max_steps"] * r["ms_per_step"])[:3]
    for r in slow:
        print(
            f"    costliest: {' '.join(r['overrides'])}: {r['ms_per_step']:.1f} ms/step × {r['max_steps']} steps × {r['seeds']} seeds"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--study", nargs="+", default=list(GOALS_S), help="studies (conf/study/)")
    parser.add_argument("--warmup", type=int, default=5, help="steps before the clock starts")
    parser.add_argument("--steps", type=int, default=20, help="steps timed per run")
    parser.add_argument(
        "--jobs", type=int, default=2, help="worker processes side by side (the study's n_jobs)"
    )
    parser.add_argument(
        "--invoke",
        action="store_true",
        help="also run each study itself, into a scratch folder, between two measurements of its floor",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # K/N: time every N-th run from K
    parser.add_argument("--stop", help=argparse.SUPPRESS)  # the file whose existence stops a worker's filler
    args = parser.parse_args()
    if args.worker:
        index, count = map(int, args.worker.split("/"))
        worker(args.study, index, count, args.warmup, args.steps, Path(args.stop))
        return
    print(f"load {os.getloadavg()[0]:.2f} (1-min average) on {os.cpu_count()} cores; {args.jobs} workers")
    if args.invoke:
        for study in args.study:
            invoke_between_floors(study, args)
    else:
        rows = measure(args.study, args)
        for study in args.study:
            report(study, [r for r in rows if r["study"] == study], args.jobs)
    print(f"\nload at the end {os.getloadavg()[0]:.2f}")


def invoke_between_floors(study: str, args: argparse.Namespace) -> None:
    """The study's floor, the study itself, its floor again: the invocation's ratio to both floors."""
    before = measure([study], args)
    report(study, before, args.jobs)
    wall, load, in_runs = invoke(study)
    floors = (sum(floor_seconds(before, args.jobs)), sum(floor_seconds(measure([study], args), args.jobs)))
    mean = sum(floors) / 2
    print(
        f"  invoked between the two: {wall:.0f} s (1-min load at its start {load:.2f}) = "
        f"{wall / floors[0]:.2f}× the floor before ({floors[0]:.0f} s), {wall / floors[1]:.2f}× the floor "
        f"after ({floors[1]:.0f} s), {wall / mean:.2f}× their mean"
    )
    # Where the rest goes: inside the runs (each run's own wall time, summary.json) or around them.
    packed = in_runs / args.jobs
    print(
        f"  its runs' own time: {in_runs:.0f} s, over {args.jobs} workers {packed:.0f} s = {packed / mean:.2f}× "
        f"the floors' mean; around the runs (start-up, composition, between jobs, the last run alone, the "
        f"report): {wall - packed:.0f} s"
    )


def measure(studies: list[str], args: argparse.Namespace) -> list[dict]:
    """Every run of ``studies`` timed by ``args.jobs`` worker processes side by side (``worker``)."""
    command = [
        sys.executable,
        __file__,
        "--study",
        *studies,
        "--warmup",
        str(args.warmup),
        "--steps",
        str(args.steps),
    ]
    with tempfile.TemporaryDirectory() as scratch:
        stop = Path(scratch) / "stop"
        workers = [
            subprocess.Popen(
                [*command, "--worker", f"{k}/{args.jobs}", "--stop", str(stop)],
                cwd=ROOT,
                env=ENV,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            for k in range(args.jobs)
        ]
        rows = []
        for w in workers:  # each worker's timed runs, up to its DONE line (or its end, if it failed)
            for line in w.stdout:
                if line.strip() == DONE:
                    break
                if line.startswith("{"):
                    rows.append(json.loads(line))
        stop.touch()
        for w in workers:
            w.wait()
            if w.returncode:
                raise SystemExit(
                    f"a worker failed (exit {w.returncode}); run it alone: {' '.join(command)} "
                    "--worker 0/1 --stop /dev/null"
                )
    return rows


def invoke(study: str) -> tuple[float, float, float]:
    """The study run as a user runs it (``python -m src.run -m +study=…``), into a scratch sweep folder: its
    wall time in seconds, the 1-min load at its start and the sum of its runs' own wall times (its
    provenance's ``run_time_sum_s``)."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as scratch:
        command = [
            sys.executable,
            "-m",
            "src.run",
            "-m",
            f"+study={study}",
            f"hydra.sweep.dir={scratch}/runs",
        ]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode:
            raise SystemExit(f"the study failed (exit {done.returncode}): {done.stderr[-2000:]}")
        provenance = json.loads((Path(scratch) / "provenance.json").read_text())[-1]
    return wall, load, provenance["run_time_sum_s"]


if __name__ == "__main__":
    main()
