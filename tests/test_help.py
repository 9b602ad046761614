"""`python -m src.run --help`: every row, study and recipe is shown with the whole first sentence of its
YAML header (wrapped under itself, never cut), and the help is printed before src.run imports torch."""

import re
import subprocess
import sys

import pytest

from src.cli.help import ADDED, suite_help
from tests.conftest import CONF, ROOT
from tests.run_cli import run_cli


def header_text(name: str, group: str) -> str:
    """The header of conf/<group>/<name>.yaml as one line, without its "Row: name —" label."""
    lines = []
    for line in (CONF / group / f"{name}.yaml").read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    text = " ".join(" ".join(lines[1:]).split())  # lines[0] is the `# @package _global_` line
    return text.split(f"{name} — ", 1)[1]


def shown(help_text: str, name: str, title: str) -> str:
    """The description ``--help`` shows for ``name`` in the section ``title``: its line and the lines that
    continue it (indented to the description's column), joined."""
    section = help_text.split(f"\n{title} (", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    first = next(i for i, line in enumerate(section) if line.split()[0] == name)
    column = len(section[first]) - len(section[first][2 + len(name) :].lstrip(" "))
    parts = [section[first][column:]]
    for line in section[first + 1 :]:
        if line[:column].strip():
            break
        parts.append(line[column:])
    return " ".join(parts)


@pytest.mark.parametrize("group", ADDED)
def test_every_entry_is_the_whole_first_sentence_of_its_header(group):
    text = suite_help()
    names = sorted(p.stem for p in (CONF / group).glob("*.yaml"))
    assert names
    for name in names:
        description, header = shown(text, name, ADDED[group]), header_text(name, group)
        # Whole: it ends a sentence, and the header goes on, if at all, with the next sentence.
        assert description[-1] in ".?!", (name, description)
        assert header.startswith(description), (name, description, header)
        rest = header[len(description) :]
        assert rest == "" or re.match(r" [A-Z]", rest), (name, description, rest[:40])


@pytest.mark.slow  # a fresh interpreter, as a user runs it
def test_help_is_printed_before_torch_is_imported_and_says_what_hydra_would():
    child = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "src.run", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in child.stderr.splitlines() if "|" in line}
    assert "hydra" in imported  # the import log was read
    assert not {m for m in imported if m.split(".")[0] in ("torch", "pytorch_lightning", "lightning")}
    code, out, _ = run_cli(["--help"])  # Hydra's own --help, in this process (src.run fully imported)
    assert code == 0 and child.stdout == out
