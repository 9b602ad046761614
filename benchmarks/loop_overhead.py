"""The suite's training loop against a plain PyTorch loop of the same networks, for the default embedded run.

    python benchmarks/loop_overhead.py [--warmup 5] [--steps 40] [--reps 3] [--no-loop] [--no-process]
        [--foreach] [--probe-cost] [--nvml-check] [OVERRIDE ...]
    python benchmarks/loop_overhead.py --plain-process [--measured] [OVERRIDE ...]   # the plain run alone

1. In one process, side by side: steps ``warmup`` … ``warmup + steps`` of a real run (``src.train.train``:
   Lightning's loop, the run's callbacks, CSV logging, the checkpoint callback) against the same steps of
   the plain loop (``src.bench.plain_loop``), repetitions interleaved (suite, plain, suite, plain, …) so that load on the
   machine hits both alike; wall and CPU time (the process's own, less disturbed by other jobs), the
   median of each and the median of the paired ratios (target ≤ 1.10×). Both runs train
   ``warmup + steps + 1`` steps from the same seed; whether their weights then agree bitwise is printed.
   The run measures collapse only before its first step and after its last, on the training thread
   (``LOOP_ONLY``): the default's interval, ``max_steps // 12``, would put a measurement every 7 steps of
   this short run inside the clock, and the loop is what this part compares.
2. As processes, with their imports: ``python -m src.run logger=csv`` (the default run, 600 steps and its
   13 measurements, on a second thread by default: ``metrics.background``) against ``--plain-process``,
   the plain loop of the same training *without* measurements (issue 20: target ≤ 1.15×, wall time), and
   against ``--plain-process --measured``, the plain loop measuring on its training thread at the same steps
   (what the measurements cost where nothing overlaps them); wall and CPU times, interleaved. CPU time
   counts the measurements wherever they run; wall time is what a user waits.

The plain loop is what Lightning runs for this module, written out (``src/bench/plain_loop.py`` says what
it does, in which order): it logs nothing, checkpoints nothing and checks nothing.

``--probe-cost`` also times one collapse measurement with and without its linear probe (L-BFGS);
``--foreach`` also times the plain loop with AdamW's multi-tensor path (``optimizer.algorithm.foreach=true``)
against the default and says whether the weights stay bitwise the same.

Both loops run with torch's plain CUDA check (``src.job.plain_cuda_check``, as the entry point does);
``--nvml-check`` keeps the NVML-based one Lightning's import turns on, to measure what that costs.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import ROOT
from src.bench.clock import CLOCK, clocked_run
from src.bench.plain_loop import PlainLoop, same_weights
from src.cli.compose import compose_config
from src.job import plain_cuda_check
from src.metrics.monitor import measure, measurement_interval

EMBEDDED = ["logger=csv"]  # the default run (BYOL on stereograms), without wandb
LOOP_ONLY = ["metrics.background=false"]  # and metrics.every_n_steps past the clocked steps (in_process)


def compare(label: str, suite: list[tuple], plain: list[tuple], scale: float, unit: str, target: str) -> None:
    """Medians of (wall, CPU) times of each and the median of the paired ratios (each pair ran back to
    back, under about the same load). CPU time is what this process itself spent: less disturbed by
    other jobs on a busy machine than wall time, which is what a user waits."""
    for i, kind in enumerate(("wall", "CPU")):
        a, b = [t[i] for t in suite], [t[i] for t in plain]
        paired = statistics.median(x / y for x, y in zip(a, b, strict=True))
        print(
            f"{label}, {kind} time, median of {len(a)}: suite {scale * statistics.median(a):.2f} {unit}, plain "
            f"{scale * statistics.median(b):.2f} {unit}; ratio {paired:.3f}× (median of paired ratios; target {target})"
        )


def in_process(overrides: list[str], warmup: int, steps: int, reps: int) -> None:
    suite_times, plain_times, equal = [], [], []
    for rep in range(reps):
        with tempfile.TemporaryDirectory(prefix="speed-loop-") as run_dir:
            loop_only = [*LOOP_ONLY, f"metrics.every_n_steps={warmup + steps + 1}"]
            clocked_run([*EMBEDDED, *overrides, *loop_only], Path(run_dir), warmup, steps)
        suite_times.append((CLOCK.seconds_per_step, CLOCK.cpu_seconds_per_step))
        cfg = compose_config([*EMBEDDED, *overrides, f"trainer.max_steps={warmup + steps + 1}"])
        plain = PlainLoop(cfg)
        plain_times.append(plain.run(warmup, steps))
        equal.append(same_weights(CLOCK.trainer.lightning_module, plain.module))
        (sw, sc), (pw, pc) = suite_times[-1], plain_times[-1]
        print(
            f"  rep {rep}: ms/step wall suite {1e3 * sw:.2f} plain {1e3 * pw:.2f}, CPU suite {1e3 * sc:.2f} plain {1e3 * pc:.2f}"
        )
    compare(f"loop, {steps} steps after {warmup}", suite_times, plain_times, 1e3, "ms/step", "≤ 1.10×")
    print(f"weights after {warmup + steps + 1} steps bitwise equal to the plain loop's: {all(equal)}")


def foreach_effect(overrides: list[str], warmup: int, steps: int, reps: int) -> None:
    """The plain loop with AdamW's single-tensor path (the default on a CPU) against foreach=true."""
    times: dict[str, list[float]] = {"null": [], "true": []}
    modules = {}
    for _ in range(reps):
        for foreach in times:
            cfg = compose_config(
                [
                    *EMBEDDED,
                    *overrides,
                    f"trainer.max_steps={warmup + steps + 1}",
                    f"optimizer.algorithm.foreach={foreach}",
                ]
            )
            plain = PlainLoop(cfg)
            times[foreach].append(plain.run(warmup, steps)[1])  # CPU time
            modules[foreach] = plain.module
    off, on = statistics.median(times["null"]), statistics.median(times["true"])
    a, b = modules["null"].state_dict(), modules["true"].state_dict()
    largest = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    print(
        f"AdamW foreach, plain loop, CPU time, median of {reps}: single-tensor {1e3 * off:.2f} ms/step, foreach "
        f"{1e3 * on:.2f} ms/step ({on / off:.3f}×); weights after {warmup + steps + 1} steps bitwise equal: "
        f"{same_weights(modules['null'], modules['true'])} (largest difference {largest:.3g})"
    )


def measurement_cost(overrides: list[str], reps: int) -> None:
    """One collapse measurement of the default run after its first ``every_n_steps`` steps, with and
    without the linear probe (``metrics.probe_every_n_steps`` skips it), interleaved."""
    cfg = compose_config([*EMBEDDED, *overrides])
    plain = PlainLoop(cfg)
    interval = measurement_interval(cfg.metrics.every_n_steps, cfg.trainer.max_steps)
    for step in range(interval):
        plain.step(step)
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(reps):
        for linear_probe in times:
            start = time.process_time()
            measure(plain.module, plain.datamodule, cfg.metrics, linear_probe=linear_probe)
            times[linear_probe].append(time.process_time() - start)
    full, rest = statistics.median(times[True]), statistics.median(times[False])
    print(
        f"one measurement at step {interval}, CPU time, median of {reps}: {full:.2f} s, without the "
        f"linear probe {rest:.2f} s (the probe {1 - rest / full:.0%} of it); amortised over the "
        f"{interval} steps between measurements {full / interval * 1e3:.2f} ms a step"
    )


def timed(command: list[str], env: dict) -> tuple[float, float]:
    """(wall, CPU) seconds of a child process, its imports included."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(
        command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return time.perf_counter() - start, cpu


def as_processes(overrides: list[str], reps: int) -> None:
    env = {**os.environ, "WANDB_MODE": "offline"}
    suite_times, plain_times, measured_times = [], [], []
    plain = [sys.executable, __file__, "--plain-process", *overrides]
    with tempfile.TemporaryDirectory(prefix="speed-proc-") as tmp:
        for rep in range(reps):
            run_dir = f"{tmp}/run{rep}"
            suite_cmd = [sys.executable, "-m", "src.run", *EMBEDDED, f"hydra.run.dir={run_dir}", *overrides]
            suite_times.append(timed(suite_cmd, env))
            plain_times.append(timed(plain, env))
            measured_times.append(timed([*plain, "--measured"], env))
            (sw, sc), (pw, pc), (mw, mc) = suite_times[-1], plain_times[-1], measured_times[-1]
            print(
                f"  rep {rep}: s wall python -m src.run {sw:.1f}, plain {pw:.1f}, plain measured {mw:.1f}; "
                f"CPU {sc:.1f}, {pc:.1f}, {mc:.1f}"
            )
    compare(
        "process (python -m src.run) / plain loop without measurements",
        suite_times,
        plain_times,
        1.0,
        "s",
        "≤ 1.15×, wall",
    )
    compare(
        "plain loop measuring on its training thread / without",
        measured_times,
        plain_times,
        1.0,
        "s",
        "none: context",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warmup", type=int, default=5, help="steps before the clock starts")
    parser.add_argument("--steps", type=int, default=40, help="steps timed per repetition")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions of each")
    parser.add_argument("--no-loop", action="store_true", help="skip the in-process comparison")
    parser.add_argument("--no-process", action="store_true", help="skip the process comparison")
    parser.add_argument("--plain-process", action="store_true", help="run the plain default run and exit")
    parser.add_argument(
        "--measured", action="store_true", help="with --plain-process: measure as the monitor"
    )
    parser.add_argument("--nvml-check", action="store_true", help="keep Lightning's NVML-based CUDA check")
    parser.add_argument("--foreach", action="store_true", help="also AdamW foreach=true against the default")
    parser.add_argument(
        "--probe-cost", action="store_true", help="also a measurement with and without the probe"
    )
    parser.add_argument("overrides", nargs="*", help="config overrides, as for python -m src.run")
    args = parser.parse_args()
    if not args.nvml_check:
        plain_cuda_check(None)  # Lightning is imported already: its "1" is not a user setting
    if args.plain_process:
        cfg = compose_config([*EMBEDDED, *args.overrides])
        every = measurement_interval(cfg.metrics.every_n_steps, cfg.trainer.max_steps)
        PlainLoop(cfg).run(0, 0, measure_every=every if args.measured else None)
        return
    print(
        f"torch {torch.__version__}, cpu_threads={compose_config(EMBEDDED).cpu_threads}; "
        f"PYTORCH_NVML_BASED_CUDA_CHECK={os.environ.get('PYTORCH_NVML_BASED_CUDA_CHECK')}; "
        f"load {os.getloadavg()[0]:.2f} (1-min average) on {os.cpu_count()} cores"
    )
    if not args.no_loop:
        in_process(args.overrides, args.warmup, args.steps, args.reps)
    if args.probe_cost:
        measurement_cost(args.overrides, args.reps)
    if args.foreach:
        foreach_effect(args.overrides, args.warmup, args.steps, args.reps)
    if not args.no_process:
        as_processes(args.overrides, args.reps)
    print(f"load at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
