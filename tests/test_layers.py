"""The floors of the house (README, Layout), read from the imports: a module of ``src`` imports only from its
own unit or the units below it, never from tests/ or benchmarks/, and no chain of imports comes back to
where it started."""

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.unit

# Bottom to top. A unit is a package of src (a sub-package of analysis is one of its own) or a top-level module.
FLOORS = (
    "core",
    "data",
    "models",
    "mechanisms",
    "metrics",
    "ssl_module",
    "runs",
    "analysis.load",
    "analysis.judge",
    "analysis.render",
    "analysis",  # study running: reports, robustness, the panel, re-judging, callbacks, provenance
    "cli",
    "train",
    "bench",  # the benchmarks' clock and plain loop, shared with the tests
    "job",  # one job: checks, training, its record and summary (imported by the entry when a job starts)
    "run",
)


def unit(module: str) -> str:
    """``src.analysis.judge.claims`` → ``analysis.judge``; ``src.run`` → ``run``."""
    parts = module.split(".")[1:]
    return ".".join(parts[:2]) if parts[0] == "analysis" and len(parts) > 2 else parts[0]


def imports(path: Path) -> set[str]:
    """The modules a source file imports, as dotted names (relative imports are not used here)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def src_modules() -> dict[str, set[str]]:
    """Every module of src → the src modules it imports."""
    graph = {}
    for path in sorted((ROOT / "src").rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        graph[name] = imports(path)
    return graph


def test_every_unit_of_src_has_a_floor():
    assert {unit(m) for m in src_modules() if m != "src"} <= set(FLOORS)


def test_no_import_runs_back_up_a_floor_or_leaves_src():
    upward = []
    for module, imported in src_modules().items():
        if module == "src":
            continue
        assert not {i for i in imported if i.split(".")[0] in ("tests", "benchmarks")}, module
        for target in (i for i in imported if i.startswith("src.")):
            if FLOORS.index(unit(target)) > FLOORS.index(unit(module)):
                upward.append(f"{module} → {target}")
    assert not upward, upward


def test_no_cycle_of_imports():
    graph = src_modules()
    edges = {m: {i for i in imported if i in graph and i != m} for m, imported in graph.items()}
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in edges[node]:
            assert state.get(nxt) != "open", " → ".join([*path, node, nxt])
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = "done"

    for node in edges:
        if node not in state:
            visit(node, [])


def test_the_rule_sees_an_import_that_runs_back_up(tmp_path):
    """The check on a planted case: a training-core module importing the entry point is caught."""
    planted = tmp_path / "planted.py"
    planted.write_text("from src.run import main\nimport src.core.errors\n")
    found = imports(planted)
    assert found == {"src.run", "src.core.errors"}
    assert FLOORS.index(unit("src.run")) > FLOORS.index(unit("src.metrics.monitor"))
    assert unit("src.analysis.judge.claims") == "analysis.judge" and unit("src.analysis.report") == "analysis"
