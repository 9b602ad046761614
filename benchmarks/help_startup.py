"""How long `python -m src.run --help` takes, next to what it took when the help waited for src.run's full
import (torch, Lightning): each command in a fresh interpreter, alternately, the median of ``--repeats``
runs of each, and their ratio. The help is answered before those imports (src/cli/app.py); the full
import is what every training run still pays.

    python benchmarks/help_startup.py [--repeats 5]
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "--help": [sys.executable, "-m", "src.run", "--help"],
    "import src.run": [sys.executable, "-c", "import src.run"],  # the start-up --help used to wait for
}


def wall_time(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):  # alternately, so that a change in the machine's load hits both alike
        for name, command in COMMANDS.items():
            times[name].append(wall_time(command))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"{name:<16} median {median:6.2f} s over {args.repeats} runs")
    print(f"--help takes {medians['--help'] / medians['import src.run']:.2f}× the full import's time")


if __name__ == "__main__":
    main()
