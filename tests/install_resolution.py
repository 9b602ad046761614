"""What pip resolves this package to on the Pythons and stacks researchers work with, recorded so that an
offline test (tests/test_install_metadata.py) can check the metadata still admits it.

    python tests/install_resolution.py     # rewrites tests/install_resolutions/*.txt (`make resolutions`)

Each scenario runs ``pythonX.Y -m pip install --dry-run --ignore-installed --report`` on the package with
its dev extra, under that interpreter (so markers and wheel tags are that Python's), against the package
index this machine reaches: metadata only, nothing is installed and no wheel of torch is downloaded (PyPI
serves each wheel's metadata on its own, PEP 658). The CUDA-image scenario adds the versions such an image
ships as constraints, as if they were installed already. Needs python3.12 and python3.13 on the PATH and
the index; the test that reads the records needs neither.
"""

import datetime
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIP_CAP = Path(
    "/etc/xdg/pip/constraints.txt"
)  # where present, this machine's pip caps torch at its disk's wheels
RECORDS = Path(__file__).resolve().parent / "install_resolutions"

# name: (interpreter, constraints a pre-built environment already fixes)
SCENARIOS = {
    "python3.12": ("python3.12", []),
    "python3.13": ("python3.13", []),
    # A GPU cluster image of the kind issue 20 names: Python 3.12, torch 2.11, Lightning 2.6.
    "python3.12-torch2.11-lightning2.6": (
        "python3.12",
        ["torch==2.11.*", "torchvision==0.26.*", "pytorch-lightning==2.6.0"],
    ),
}


def parse_record(path: Path) -> tuple[str, dict[str, str]]:
    """(the Python version resolved for, {normalised name: version}) of one record."""
    python, versions = "", {}
    for line in path.read_text().splitlines():
        if line.startswith("# python "):
            python = line.removeprefix("# python ").strip()
        elif line and not line.startswith("#"):
            name, version = line.split("==")
            versions[name] = version
    return python, versions


def cap_of(path: Path) -> str:
    """The requirement lines of pip's machine-wide constraint file, or 'none'."""
    lines = path.read_text().splitlines() if path.exists() else []
    return " ".join(line for line in lines if line and not line.startswith("#")) or "none"


def resolve(interpreter: str, constraints: list[str]) -> tuple[str, dict[str, str]]:
    """(full Python version, {name: version}) that pip would install."""
    with tempfile.TemporaryDirectory() as tmp:
        report, constraint_file = Path(tmp) / "report.json", Path(tmp) / "constraints.txt"
        constraint_file.write_text("\n".join(constraints) + "\n")
        pip = [interpreter, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
        subprocess.run(
            [*pip, "--report", str(report), "-c", str(constraint_file), f"{ROOT}[dev]"],
            check=True,
            stderr=subprocess.DEVNULL,  # pip warns about index locations this machine lacks
        )
        data = json.loads(report.read_text())
    python = data["environment"]["python_full_version"]
    return python, {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in data["install"]}


def main() -> None:
    RECORDS.mkdir(exist_ok=True)
    for name, (interpreter, constraints) in SCENARIOS.items():
        if shutil.which(interpreter) is None:
            sys.exit(f"{interpreter} is not on the PATH: the {name} scenario needs it")
        python, versions = resolve(interpreter, constraints)
        lines = [
            f"# {interpreter} -m pip install --dry-run --ignore-installed --report - -c <constraints> '.[dev]'",
            f"# constraints: {' '.join(constraints) or 'none'}; resolved {datetime.date.today()} by tests/install_resolution.py",
            f"# this machine's pip cap: {cap_of(PIP_CAP)}",
            f"# python {python}",
            *(f"{n}=={v}" for n, v in sorted(versions.items())),
        ]
        (RECORDS / f"{name}.txt").write_text("\n".join(lines) + "\n")
        print(f"{name}: python {python}, torch {versions.get('torch')}, {len(versions)} packages")


if __name__ == "__main__":
    main()
